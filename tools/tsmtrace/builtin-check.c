// SPDX-License-Identifier: GPL-2.0
/*
 * tsmtrace check FILE... - replay trace files through the engine, the CI
 * gate. Exit status: 3 if any file is unusable, else 1 if any has a
 * violation, else 2 if any is incomplete, else 0. A FILE of "-" is standard
 * input; pipes and FIFOs are read as streams.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "builtin.h"
#include "tracefile.h"

static void print_meta(const struct tsm_file *f)
{
	printf("  recorded on %s, kernel %s, by %s; event schema %u.%u; %s\n",
	       f->hdr.hostname, f->hdr.kernel_release, f->hdr.tool_version,
	       f->hdr.schema_major, f->hdr.schema_minor,
	       f->hdr.flags & TSM_FILE_F_STATE_KNOWN ? "state known at start" :
						      "state unknown at start");
}

static void json_error(const char *path, const char *msg)
{
	fputs("{\"type\":\"error\",\"file\":", stdout);
	json_str(stdout, path);
	fputs(",\"verdict\":\"UNUSABLE\",\"message\":", stdout);
	json_str(stdout, msg);
	fputs("}\n", stdout);
}

struct check_opts {
	unsigned int max_violations;
};

/* check one file; returns its exit status */
static int check_file(const char *path, const struct check_opts *co)
{
	struct tsm_engine_opts opts = { .max_violations = co->max_violations };
	struct tsm_summary s;
	struct tsm_engine *e;
	struct tsm_file f;
	enum tsm_read_status st;
	unsigned int i;
	const char *note;

	if (tsm_file_open(&f, path) != TSM_READ_OK) {
		p_err("check", "%s", f.msg);
		if (json_output)
			json_error(path, f.msg);
		tsm_file_close(&f);
		return EXIT_UNUSABLE;
	}
	opts.state_known = f.hdr.flags & TSM_FILE_F_STATE_KNOWN;
	opts.observed = f.hdr.events_observed;
	ksyms_auto(f.hdr.kernel_release);
	e = tsm_engine_new(&opts);
	if (!e) {
		p_err("check", "%s: out of memory", path);
		tsm_file_close(&f);
		return EXIT_UNUSABLE;
	}
	st = tsm_file_replay(&f, &tsm_engine_ops, e);
	if (st == TSM_READ_UNUSABLE || st == TSM_READ_HANDLER) {
		p_err("check", "%s", f.msg);
		if (json_output)
			json_error(path, f.msg);
		tsm_engine_free(e);
		tsm_file_close(&f);
		return EXIT_UNUSABLE;
	}
	if (st == TSM_READ_TRUNCATED) {
		p_warn("check", "%s", f.msg);
		tsm_engine_truncated(e);
	} else {
		tsm_engine_lost_total(e, f.end.nr_lost);
	}
	tsm_engine_summary(e, &s);
	if (json_output) {
		for (i = 1; i <= s.nr_violations_kept; i++)
			print_violation_json(stdout, path, tsm_engine_violation(e, i));
		print_verdict_json(stdout, path, &f.hdr, e, &s);
	} else {
		printf("%s: %s: %u violation(s), %" PRIu64 " records, %" PRIu64 " events, %" PRIu64 " lost\n",
		       path, tsm_verdict_name(s.verdict), s.nr_violations,
		       (uint64_t)s.nr_records, (uint64_t)s.nr_events, (uint64_t)s.nr_lost);
		print_meta(&f);
		print_coverage(stdout, s.observed, "  ");
		for (i = 1; i <= s.nr_violations_kept; i++)
			print_violation(stdout, tsm_engine_violation(e, i), "  ");
		print_not_kept(stdout, &s, "  ");
		if (s.verdict != TSM_PASS)
			for (i = 0; (note = tsm_engine_note(e, i)); i++)
				printf("  note: %s\n", note);
		if (s.verdict == TSM_INCOMPLETE)
			printf("  no violation found, but the trace does not show everything: not a PASS\n");
	}
	tsm_engine_free(e);
	tsm_file_close(&f);
	return s.verdict == TSM_PASS ? EXIT_PASS :
	       s.verdict == TSM_VIOLATION ? EXIT_VIOLATION : EXIT_INCOMPLETE;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: %s check [OPTIONS] FILE...   (FILE - : standard input)\n"
		"  -j, --json                 JSON Lines output\n"
		"      --symbols FILE         name stack frames from a System.map or kallsyms copy\n"
		"      --max-violations N     keep the first N violations in full (default %u);\n"
		"                             the others are counted\n"
		"  -h, --help                 this text\n"
		"exit status: 0 PASS, 1 VIOLATION, 2 INCOMPLETE, 3 unusable input (the worst of all files)\n",
		tsm_prog, TSM_MAX_VIOLATIONS);
}

int cmd_check(int argc, char **argv)
{
	static const struct option check_opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "symbols", required_argument, NULL, 's' },
		{ "max-violations", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct check_opts co = { 0 };
	bool any[4] = { false };
	unsigned long long n;
	int c, i;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", check_opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (ksyms_load(optarg)) {
				p_err("check", "--symbols %s: no kernel symbols with addresses in it", optarg);
				return EXIT_UNUSABLE;
			}
			break;
		case 'M':
			if (parse_num(optarg, 1, 10000000, &n))
				return p_usage("check", "--max-violations takes a number from 1 to 10000000");
			co.max_violations = n;
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return p_usage("check", "bad option");
		}
	}
	if (optind >= argc)
		return p_usage("check", "no trace file given");
	for (i = optind; i < argc; i++) {
		any[check_file(argv[i], &co)] = true;
		fflush(stdout);
	}
	if (any[EXIT_UNUSABLE])
		return EXIT_UNUSABLE;
	if (any[EXIT_VIOLATION])
		return EXIT_VIOLATION;
	if (any[EXIT_INCOMPLETE])
		return EXIT_INCOMPLETE;
	return EXIT_PASS;
}
