// SPDX-License-Identifier: GPL-2.0
/*
 * tsmtrace check FILE... - replay trace files (or trace-cmd's trace.dat
 * files, tracedat.c) through the engine, the CI gate. Exit status: 3 if
 * any file is unusable, else 1 if any has a violation, else 2 if any is
 * incomplete, else 0. A FILE of "-" is standard input; pipes and FIFOs are
 * read as streams.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "builtin.h"
#include "tracedat.h"
#include "tracefile.h"

static void print_meta(const struct tsm_file *f, bool state_known)
{
	if (tsm_file_tracedat(f)) {
		printf("  trace-cmd trace.dat (file version %u), read as event schema %u.%u; %s\n",
		       tracedat_version(f), f->hdr.schema_major, f->hdr.schema_minor,
		       state_known ? "state known at start (--state-known)" :
				     "state unknown at start (--state-known promises it)");
		return;
	}
	printf("  recorded on %s, kernel %s, by %s; event schema %u.%u; %s\n",
	       f->hdr.hostname, f->hdr.kernel_release, f->hdr.tool_version,
	       f->hdr.schema_major, f->hdr.schema_minor,
	       f->hdr.flags & TSM_FILE_F_STATE_KNOWN ? "state known at start" :
						      "state unknown at start");
}

struct check_opts {
	unsigned int max_violations;
	unsigned long long min_events;	/* --min-events */
	bool require_coverage;		/* --require-coverage */
	bool state_known;		/* --state-known: of a trace.dat */
	const char *summary;		/* --summary FILE ("-": standard output) */
};

/* what --summary says of one file */
struct result {
	const char *path;
	int exit;
	struct tsm_summary s;		/* verdict TSM_UNUSABLE: not read */
};

/*
 * The requirements a CI job puts on a trace: too few events, or an
 * invariant not checked over everything, and the trace cannot vouch for a
 * PASS: its verdict is INCOMPLETE, with the reason (a VIOLATION stays one).
 */
static void require(const struct check_opts *co, struct tsm_summary *s)
{
	struct tsm_coverage c;

	if (co->min_events && s->nr_events < co->min_events)
		s->incomplete |= TSM_INC_MIN_EVENTS;
	tsm_coverage(s->observed, &c);
	if (co->require_coverage && !c.full)
		s->incomplete |= TSM_INC_COVERAGE;
	if (s->verdict == TSM_PASS && (s->incomplete & (TSM_INC_MIN_EVENTS | TSM_INC_COVERAGE)))
		s->verdict = TSM_INCOMPLETE;
}

static void print_required(const struct check_opts *co, const struct tsm_summary *s)
{
	if (s->incomplete & TSM_INC_MIN_EVENTS)
		printf("  not accepted: %" PRIu64 " events, --min-events asks for %llu\n",
		       (uint64_t)s->nr_events, co->min_events);
	if (s->incomplete & TSM_INC_COVERAGE)
		printf("  not accepted: some invariants were not checked over everything (--require-coverage)\n");
}

static void print_text(const char *path, const struct tsm_file *f, const struct tsm_engine *e,
		       const struct tsm_summary *s, const struct check_opts *co)
{
	__u32 gate = TSM_INC_MIN_EVENTS | TSM_INC_COVERAGE;
	const char *note;
	unsigned int i;

	printf("%s: %s: %u violation(s), %" PRIu64 " records, %" PRIu64 " events, %" PRIu64 " lost",
	       path, tsm_verdict_name(s->verdict), s->nr_violations,
	       (uint64_t)s->nr_records, (uint64_t)s->nr_events, (uint64_t)s->nr_lost);
	if (s->nr_unknown_type)
		printf(", %" PRIu64 " of unknown type", (uint64_t)s->nr_unknown_type);
	putchar('\n');
	print_meta(f, co->state_known);
	print_coverage(stdout, s->observed, "  ");
	print_kernel_check(stdout, s, "  ");
	for (i = 1; i <= s->nr_violations_kept; i++)
		print_violation(stdout, tsm_engine_violation(e, i), "  ");
	print_not_kept(stdout, s, "  ");
	print_required(co, s);
	if (s->verdict != TSM_PASS)
		for (i = 0; (note = tsm_engine_note(e, i)); i++)
			printf("  note: %s\n", note);
	if (s->verdict == TSM_INCOMPLETE && ((s->incomplete & ~gate) || s->nr_doubts || s->nr_lost))
		printf("  no violation found, but the trace does not show everything: not a PASS\n");
}

static int unusable(struct result *r, const char *msg)
{
	p_err_file("check", r->path, "%s", msg);
	r->s.verdict = TSM_UNUSABLE;
	return r->exit = EXIT_UNUSABLE;
}

/* check one file; returns its exit status */
static int check_file(struct result *r, const struct check_opts *co)
{
	struct tsm_engine_opts opts = { .max_violations = co->max_violations };
	struct tsm_summary *s = &r->s;
	enum tsm_read_status st;
	struct tsm_engine *e;
	struct tsm_file f;
	unsigned int i;

	if (tsm_file_open(&f, r->path) != TSM_READ_OK) {
		tsm_file_close(&f);
		return unusable(r, f.msg);
	}
	engine_opts_of_file(&f, co->state_known, &opts);
	ksyms_auto(&f.hdr);
	f.on_symbol = ksyms_trace_symbol;
	e = tsm_engine_new(&opts);
	st = e ? tsm_file_replay(&f, &tsm_engine_ops, e) : TSM_READ_HANDLER;
	if (st == TSM_READ_UNUSABLE || st == TSM_READ_HANDLER) {
		tsm_engine_free(e);
		tsm_file_close(&f);
		return unusable(r, e ? f.msg : "out of memory");
	}
	engine_end_of_file(e, &f, st, "check");
	tsm_engine_summary(e, s);
	require(co, s);
	if (json_output) {
		for (i = 1; i <= s->nr_violations_kept; i++)
			print_violation_json(stdout, r->path, tsm_engine_violation(e, i));
		print_verdict_json(stdout, r->path, &f.hdr, e, s);
	} else {
		print_text(r->path, &f, e, s, co);
		explain_symbols("check", &f.hdr);
	}
	tsm_engine_free(e);
	tsm_file_close(&f);
	r->exit = s->verdict == TSM_PASS ? EXIT_PASS :
		  s->verdict == TSM_VIOLATION ? EXIT_VIOLATION : EXIT_INCOMPLETE;
	return r->exit;
}

/*
 * --summary: one JSON object for the whole run, for a CI job to keep as an
 * artifact: the exit status, the count of each verdict, and each file's.
 */
static void write_summary(FILE *f, const struct result *r, int nr, int exit)
{
	unsigned int nv[4] = { 0 };
	__u64 events = 0, violations = 0;
	int i;

	for (i = 0; i < nr; i++) {
		nv[r[i].exit]++;
		events += r[i].s.nr_events;
		violations += r[i].s.nr_violations;
	}
	fprintf(f, "{\"type\":\"summary\",\"exit\":%d,\"files\":%d,\"pass\":%u,\"violation\":%u,"
		"\"incomplete\":%u,\"unusable\":%u,\"events\":%" PRIu64 ",\"violations\":%" PRIu64
		",\"results\":[", exit, nr, nv[EXIT_PASS], nv[EXIT_VIOLATION], nv[EXIT_INCOMPLETE],
		nv[EXIT_UNUSABLE], (uint64_t)events, (uint64_t)violations);
	for (i = 0; i < nr; i++) {
		fputs(i ? ",{\"file\":" : "{\"file\":", f);
		json_str(f, r[i].path);
		fprintf(f, ",\"verdict\":\"%s\",\"exit\":%d,\"events\":%" PRIu64 ",\"violations\":%u,",
			tsm_verdict_name(r[i].s.verdict), r[i].exit, (uint64_t)r[i].s.nr_events,
			r[i].s.nr_violations);
		json_incomplete(f, r[i].s.incomplete);
		fputc('}', f);
	}
	fputs("]}\n", f);
}

static int summary_to(const char *path, const struct result *r, int nr, int exit)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;

	if (!f) {
		p_err("check", "--summary %s: cannot create: %s", path, strerror(errno));
		return EXIT_UNUSABLE;
	}
	write_summary(f, r, nr, exit);
	if (f == stdout ? fflush(f) : fclose(f)) {
		p_err("check", "--summary %s: cannot write: %s", path, strerror(errno));
		return EXIT_UNUSABLE;
	}
	return exit;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: %s check [OPTIONS] FILE...   (FILE - : standard input)\n"
		"FILE: a trace file of 'tsmtrace record', or a trace.dat of 'trace-cmd record'\n"
		"  -j, --json                 JSON Lines output\n"
		"      --symbols FILE         name stack frames from a System.map or kallsyms copy\n"
		"      --max-violations N     keep the first N violations in full (default %u);\n"
		"                             the others are counted\n"
		"      --min-events N         a trace of fewer than N kernel events is not a PASS\n"
		"      --require-coverage     a trace that could not check every invariant over\n"
		"                             everything (events not observed) is not a PASS\n"
		"      --summary FILE         write one JSON summary of all files to FILE (- : stdout)\n"
		"      --state-known          promise that no TDI was bound and no DMABUF open when\n"
		"                             a trace-cmd trace.dat began (a tsmtrace file says it)\n"
		"  -h, --help                 this text\n"
		"exit status: 0 PASS, 1 VIOLATION, 2 INCOMPLETE (also a requirement not met),\n"
		"             3 unusable input; the worst of all files\n",
		tsm_prog, TSM_MAX_VIOLATIONS);
}

static int parse_check(int argc, char **argv, struct check_opts *co)
{
	static const struct option check_opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "symbols", required_argument, NULL, 's' },
		{ "max-violations", required_argument, NULL, 'M' },
		{ "min-events", required_argument, NULL, 'm' },
		{ "require-coverage", no_argument, NULL, 'c' },
		{ "summary", required_argument, NULL, 'S' },
		{ "state-known", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned long long n;
	int c;

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
			co->max_violations = n;
			break;
		case 'm':
			if (parse_num(optarg, 0, ~0ULL, &co->min_events))
				return p_usage("check", "--min-events takes a number of events");
			break;
		case 'c':
			co->require_coverage = true;
			break;
		case 'S':
			co->summary = optarg;
			break;
		case 'k':
			co->state_known = true;
			break;
		case 'j':
			json_output = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return p_usage("check", "bad option");
		}
	}
	if (optind >= argc)
		return p_usage("check", "no trace file given");
	return 0;
}

int cmd_check(int argc, char **argv)
{
	struct check_opts co = { 0 };
	struct result *r;
	bool any[4] = { false };
	int i, nr, ret;

	ret = parse_check(argc, argv, &co);
	if (ret)
		return ret;
	nr = argc - optind;
	r = calloc(nr, sizeof(*r));
	if (!r) {
		p_err("check", "out of memory");
		return EXIT_UNUSABLE;
	}
	for (i = 0; i < nr; i++) {
		r[i].path = argv[optind + i];
		any[check_file(&r[i], &co)] = true;
		fflush(stdout);
	}
	ret = any[EXIT_UNUSABLE] ? EXIT_UNUSABLE : any[EXIT_VIOLATION] ? EXIT_VIOLATION :
	      any[EXIT_INCOMPLETE] ? EXIT_INCOMPLETE : EXIT_PASS;
	if (co.summary)
		ret = summary_to(co.summary, r, nr, ret);
	free(r);
	return ret;
}
