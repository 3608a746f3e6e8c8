// SPDX-License-Identifier: GPL-2.0
/*
 * tsmtrace - verify the TDISP shared/private invariants of PCIe devices
 * assigned to confidential VMs, live or from a trace file.
 *
 *   tsmtrace [-j|--json] COMMAND [ARGS]
 *
 * Commands are dispatched from one table and may be abbreviated to any
 * unique prefix (bpftool style).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "builtin.h"
#include "tracefile.h"

bool json_output;
const char *tsm_prog = "tsmtrace";

static int cmd_help(int argc, char **argv);

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{ "check", cmd_check, "check FILE...             replay trace files, print verdicts" },
	{ "report", cmd_report, "report FILE [--device DEV | --pfn PFN | --violation N]\n"
	  "                                  the story of a device, a PFN or a violation" },
	{ "record", cmd_record, "record -o FILE            record and check the kernel's events (needs them)" },
	{ "live", cmd_live, "live [-o FILE] [--device DEV|--vm VM|--pid PID] [--fail-on-violation]\n"
	  "                                  print transitions and violations as they happen" },
	{ "help", cmd_help, "help [COMMAND]            this text, or the options of COMMAND" },
};

/*
 * An error: on standard error, and with --json also as the "error" object
 * that ends the JSON output (of the run, or of @file's check when a file is
 * named: its verdict is UNUSABLE).
 */
static void p_fail(const char *cmd, const char *file, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fprintf(stderr, "%s: %s%serror: %s\n", tsm_prog, cmd ? cmd : "", cmd ? ": " : "", msg);
	if (!json_output)
		return;
	fputs("{\"type\":\"error\"", stdout);
	if (cmd)
		printf(",\"command\":\"%s\"", cmd);
	if (file) {
		fputs(",\"file\":", stdout);
		json_str(stdout, file);
		fputs(",\"verdict\":\"UNUSABLE\"", stdout);
	}
	fputs(",\"message\":", stdout);
	json_str(stdout, msg);
	fputs("}\n", stdout);
	fflush(stdout);
}

void p_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	p_fail(cmd, NULL, fmt, ap);
	va_end(ap);
}

void p_err_file(const char *cmd, const char *file, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	p_fail(cmd, file, fmt, ap);
	va_end(ap);
}

int p_usage(const char *cmd, const char *why)
{
	p_err(cmd, "%s (see '%s %s --help')", why, tsm_prog, cmd);
	return EXIT_UNUSABLE;
}

void p_warn(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s%swarning: ", tsm_prog, cmd ? cmd : "", cmd ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void engine_end_of_file(struct tsm_engine *e, const struct tsm_file *f, int st, const char *cmd)
{
	if (st == TSM_READ_TRUNCATED) {
		p_warn(cmd, "%s", f->msg);
		tsm_engine_truncated(e);
	} else {
		tsm_engine_lost_total(e, f->end.nr_lost);
	}
	if (f->warn[0])
		p_warn(cmd, "%s", f->warn);
}

void explain_symbols(const char *cmd, const struct tsm_file_header *h)
{
	char msg[512];

	/* a generator's stacks are of no kernel */
	if (h->flags & TSM_FILE_F_SYNTHETIC)
		return;
	if (ksyms_explain(h, msg, sizeof(msg)))
		p_warn(cmd, "%s", msg);
}

int parse_num(const char *s, unsigned long long min, unsigned long long max,
	      unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (errno || *end || !*s || *s == '-' || *v < min || *v > max)
		return -EINVAL;
	return 0;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s [-j|--json] [-V|--version] COMMAND [ARGS]\n\ncommands:\n", tsm_prog);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s\n", cmds[i].help);
	fprintf(f, "\n'%s COMMAND --help' lists the options of a command\n"
		   "exit status of check: 0 PASS, 1 VIOLATION, 2 INCOMPLETE, 3 unusable input\n"
		   "see tsmtrace(8) (docs/tsmtrace.8)\n", tsm_prog);
}

/* the command @name names (a unique prefix), or NULL after saying why */
static const struct cmd *find_cmd(const char *name)
{
	const struct cmd *match = NULL;
	size_t i, len = strlen(name);
	int nr = 0;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
		if (len && !strncmp(cmds[i].name, name, len)) {
			match = &cmds[i];
			nr++;
		}
	}
	if (nr == 1)
		return match;
	p_err(NULL, "%s command '%s' (see '%s help')", nr ? "ambiguous" : "unknown",
	      name, tsm_prog);
	return NULL;
}

static int cmd_help(int argc, char **argv)
{
	const struct cmd *c;
	char *args[3];

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	c = find_cmd(argv[1]);
	if (!c)
		return EXIT_UNUSABLE;
	if (c->fn == cmd_help) {
		usage(stdout);
		return 0;
	}
	args[0] = (char *)c->name;
	args[1] = "--help";
	args[2] = NULL;
	return c->fn(2, args);
}

int main(int argc, char **argv)
{
	const struct cmd *match;
	int i;

	while (argc > 1 && argv[1][0] == '-') {
		if (!strcmp(argv[1], "-j") || !strcmp(argv[1], "--json")) {
			json_output = true;
		} else if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
			printf("tsmtrace %s (trace format %u.%u, event schema %u.%u)\n", TSMTRACE_VERSION,
			       TSM_FILE_VERSION_MAJOR, TSM_FILE_VERSION_MINOR, TSM_SCHEMA_MAJOR, TSM_SCHEMA_MINOR);
			return 0;
		} else if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
			usage(stdout);
			return 0;
		} else {
			p_err(NULL, "unknown option '%s' (see '%s help')", argv[1], tsm_prog);
			return EXIT_UNUSABLE;
		}
		argc--;
		argv++;
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_UNUSABLE;
	}
	/* a usage error before the command's own -j is parsed still ends in JSON */
	for (i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json_output = true;
	match = find_cmd(argv[1]);
	if (!match)
		return EXIT_UNUSABLE;
	return match->fn(argc - 1, argv + 1);
}
