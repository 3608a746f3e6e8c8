// SPDX-License-Identifier: GPL-2.0
/*
 * tsmtrace report FILE [--device DEV | --pfn PFN | --violation N]
 *
 * Replays the file through the engine and, through a second table of
 * callbacks wrapped around it, prints every record that touched the chosen
 * object, in order, with the violations found at each and the stack at
 * them. Without a selector it prints every record.
 *
 * --violation replays the trace twice (find the violation, then tell its
 * story): a stream (standard input, a pipe, a FIFO) is first copied to an
 * unlinked temporary file in $TMPDIR, so it is read once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "builtin.h"
#include "timeline.h"
#include "tracedat.h"
#include "tracefile.h"
#include "util.h"

struct report {
	struct tsm_engine *e;
	bool all;
	bool has_dev;
	__u32 dev;
	bool has_range;
	__u64 pfn, npfns;		/* [pfn, pfn + npfns) */
	bool learn_dev;			/* --pfn: learn the owning device */
	struct hash bufs;		/* DMABUFs that belong to the story */
	unsigned int only_violation;	/* --violation N */
	unsigned int shown_violations;	/* violations already printed */
	__u64 printed;
};

static bool has_buf(const struct report *r, __u64 buf)
{
	struct hkey k = { { buf, 0, 0 } };

	return hash_find(&r->bufs, &k);
}

/* a set of ids: the value only says "present" */
static void add_buf(struct report *r, __u64 buf)
{
	struct hkey k = { { buf, 0, 0 } };

	if (!has_buf(r, buf))
		hash_add(&r->bufs, &k, r);
}

static bool in_range(const struct report *r, __u64 pfn, __u64 npfns)
{
	return r->has_range && tsm_range_overlap(pfn, npfns, r->pfn, r->npfns);
}

static bool dev_match(const struct report *r, __u32 dev)
{
	return r->has_dev && r->dev == dev;
}

/* does the record belong to the story? learns the objects it brings in */
static bool touches(struct report *r, const struct tsm_rec_hdr *rec)
{
	if (r->all)
		return true;
	switch (rec->type) {
	case TSM_REC_PCI_TSM_BIND_BEGIN:
	case TSM_REC_PCI_TSM_BIND_END:
	case TSM_REC_PCI_TSM_UNBIND_BEGIN:
	case TSM_REC_PCI_TSM_UNBIND_END:
		return dev_match(r, ((const struct tsm_ev_pci_tsm_op *)rec)->dev);
	case TSM_REC_PCI_TSM_TDI_STATE:
		return dev_match(r, ((const struct tsm_ev_pci_tsm_tdi_state *)rec)->dev);
	case TSM_REC_PCI_TSM_RANGE: {
		const struct tsm_ev_pci_tsm_range *ev = (const void *)rec;

		if (r->learn_dev && in_range(r, ev->pfn, ev->npfns)) {
			r->has_dev = true;
			r->dev = ev->dev;
		}
		return in_range(r, ev->pfn, ev->npfns) ||
		       (dev_match(r, ev->dev) && !r->has_range);
	}
	case TSM_REC_VFIO_DMABUF_EXPORT_RANGE: {
		const struct tsm_ev_vfio_dmabuf_range *ev = (const void *)rec;

		if (r->learn_dev && in_range(r, ev->pfn, ev->npfns)) {
			r->has_dev = true;
			r->dev = ev->dev;
		}
		if (in_range(r, ev->pfn, ev->npfns) || (dev_match(r, ev->dev) && !r->has_range))
			add_buf(r, ev->buf);
		return has_buf(r, ev->buf);
	}
	case TSM_REC_VFIO_DMABUF_EXPORT:
	case TSM_REC_VFIO_DMABUF_REVOKE:
	case TSM_REC_VFIO_DMABUF_RELEASE:
	case TSM_REC_VFIO_DMABUF_RESTORE: {
		const struct tsm_ev_vfio_dmabuf_obj *ev = (const void *)rec;

		if (dev_match(r, ev->dev) && !r->has_range)
			add_buf(r, ev->buf);
		return has_buf(r, ev->buf);
	}
	case TSM_REC_IOMMUFD_IOAS_MAP_DMABUF:
	case TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF: {
		const struct tsm_ev_iommufd_ioas_dmabuf *ev = (const void *)rec;

		return has_buf(r, ev->buf) || in_range(r, ev->pfn, ev->npfns);
	}
	case TSM_REC_IOMMU_MAP_DMABUF:
	case TSM_REC_IOMMU_UNMAP_DMABUF: {
		const struct tsm_ev_iommu_dmabuf *ev = (const void *)rec;

		return has_buf(r, ev->buf) || in_range(r, ev->pfn, ev->npfns);
	}
	case TSM_REC_KVM_DMABUF_SLOT_BIND:
	case TSM_REC_KVM_DMABUF_SLOT_UNBIND: {
		const struct tsm_ev_kvm_dmabuf_slot *ev = (const void *)rec;

		return has_buf(r, ev->buf) || in_range(r, ev->pfn, ev->npfns);
	}
	case TSM_REC_KVM_SPTE_MAP:
	case TSM_REC_KVM_SPTE_UNMAP: {
		const struct tsm_ev_kvm_spte *ev = (const void *)rec;

		/* no DMABUF is named: the pages, or the device whose BAR they are */
		return in_range(r, ev->pfn, ev->npfns) ||
		       (ev->dev && dev_match(r, ev->dev) && !r->has_range);
	}
	case TSM_REC_VFIO_PCI_BAR_MAP:
	case TSM_REC_VFIO_PCI_BAR_ZAP: {
		const struct tsm_ev_vfio_pci_bar *ev = (const void *)rec;

		/* the pages, or (a zap covers the whole BAR) the device */
		return in_range(r, ev->pfn, ev->npfns) || (dev_match(r, (__u32)ev->dev) && !r->has_range);
	}
	case TSM_REC_LOST:
	case TSM_REC_STATE_UNKNOWN:
		return true;	/* a gap is part of every story */
	default:
		return false;
	}
}

static int report_record(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct report *r = ctx;
	unsigned int before = tsm_engine_nr_violations(r->e), after, i, nr_vn = 0;
	unsigned int vn[16];
	bool show;
	char line[512];
	int ret;

	/* the engine first: the same handlers as check and live */
	ret = tsm_engine_feed(r->e, rec, rec->size);
	if (ret)
		return ret;
	after = tsm_engine_nr_violations(r->e);
	show = touches(r, rec);
	for (i = before + 1; i <= after && nr_vn < 16; i++)
		if (!r->only_violation || r->only_violation == i)
			vn[nr_vn++] = i;
	if (r->only_violation && nr_vn)
		show = true;
	if (rec->type == TSM_REC_STACK)
		return 0;	/* printed with its violation */
	if (!show)
		return 0;
	r->printed++;
	if (json_output) {
		print_record_json(stdout, rec, vn, nr_vn);
		return 0;
	}
	fmt_record(line, sizeof(line), rec);
	printf("%s %s\n", nr_vn ? "!!" : "  ", line);
	for (i = 0; i < nr_vn; i++) {
		const struct tsm_violation *v = tsm_engine_violation(r->e, vn[i]);
		const struct tsm_rule_desc *d = &tsm_rules[v->rule];

		printf("     -> violation #%u %s: event %s not expected in state %s\n", v->n,
		       tsm_inv_id(d->inv), tsm_rec_name(rec->type), d->state);
	}
	return 0;
}

static struct tsm_ops report_ops;

static void init_ops(void)
{
	unsigned int i;

	for (i = 0; i < TSM_REC_MAX; i++)
		report_ops.handler[i] = report_record;
	report_ops.unknown = report_record;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: %s report [OPTIONS] FILE   (FILE - : standard input)\n"
		"FILE: a trace file of 'tsmtrace record', or a trace.dat of 'trace-cmd record'\n"
		"  -d, --device DEV           the story of a PCI device (SSSS:BB:DD.F, BB:DD.F or its id)\n"
		"  -p, --pfn PFN              the story of one host page frame\n"
		"  -v, --violation N          the story of violation N, as 'check' numbers them\n"
		"      --symbols FILE         name stack frames from a System.map or kallsyms copy\n"
		"      --max-violations N     keep the first N violations in full (default %u)\n"
		"  -j, --json                 JSON Lines output (the same as --format=json)\n"
		"      --format FORMAT        text (default), json, perfetto (a timeline for\n"
		"                             Perfetto UI and chrome://tracing) or svg (a\n"
		"                             timeline drawn as SVG); the timelines show the\n"
		"                             whole trace, without a selector\n"
		"      --state-known          promise that no TDI was bound and no DMABUF open when\n"
		"                             a trace-cmd trace.dat began (a tsmtrace file says it)\n"
		"  -h, --help                 this text\n"
		"at most one of --device, --pfn, --violation; without one, every record\n"
		"exit status: 0 the story was printed, 3 otherwise\n",
		tsm_prog, TSM_MAX_VIOLATIONS);
}

/* is @path a stream (not a regular file, not a directory)? */
static bool is_stream(const char *path)
{
	struct stat st;
	int ret = strcmp(path, "-") ? stat(path, &st) : fstat(0, &st);

	return !ret && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

/* copy a stream to an unlinked temporary file: its descriptor, or -1 */
static int spool(const char *path)
{
	const char *dir = getenv("TMPDIR") ? : "/tmp";
	char tmp[4096], buf[1 << 16];
	int in, out;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s/tsmtrace-report.XXXXXX", dir);
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0) {
		p_err_file("report", path, "%s: cannot keep a copy of the stream in %s: %s (set TMPDIR)",
		      path, dir, strerror(errno));
		return -1;
	}
	unlink(tmp);
	in = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(0);
	while (in >= 0 && (n = read(in, buf, sizeof(buf))) != 0) {
		if ((n < 0 && errno == EINTR) || (n > 0 && write(out, buf, n) == n))
			continue;
		p_err_file("report", path, "%s: cannot copy the stream to %s: %s", path, dir, strerror(errno));
		close(in);
		close(out);
		return -1;
	}
	if (in < 0) {
		p_err_file("report", path, "%s: cannot open: %s", path, strerror(errno));
		close(out);
		return -1;
	}
	close(in);
	return out;
}

/*
 * Open the trace (from the start of @copy when it is a spooled stream) and
 * an engine for it; EXIT_UNUSABLE after saying why.
 */
static int open_trace(struct tsm_file *f, const char *path, int copy, unsigned int max_v,
		      bool state_known, struct tsm_engine **e)
{
	struct tsm_engine_opts opts = { .max_violations = max_v };
	enum tsm_read_status st;

	*e = NULL;
	if (copy >= 0 && lseek(copy, 0, SEEK_SET) == 0)
		st = tsm_file_open_fd(f, dup(copy), path);
	else
		st = tsm_file_open(f, path);
	if (st != TSM_READ_OK) {
		p_err_file("report", path, "%s", f->msg);
		tsm_file_close(f);
		return EXIT_UNUSABLE;
	}
	engine_opts_of_file(f, state_known, &opts);
	ksyms_auto(&f->hdr);
	f->on_symbol = ksyms_trace_symbol;
	*e = tsm_engine_new(&opts);
	if (!*e) {
		p_err_file("report", path, "out of memory");
		tsm_file_close(f);
		return EXIT_UNUSABLE;
	}
	return 0;
}

/* the objects of violation N, from a first pass */
static int find_violation(struct report *r, const char *path, int copy, unsigned int n,
			  unsigned int max_v, bool state_known)
{
	const struct tsm_violation *v;
	struct tsm_summary s;
	struct tsm_engine *e;
	struct tsm_file f;
	int ret = open_trace(&f, path, copy, max_v, state_known, &e);

	if (ret)
		return ret;
	if (tsm_file_replay(&f, &tsm_engine_ops, e) >= TSM_READ_UNUSABLE) {
		p_err_file("report", path, "%s", f.msg);
		ret = EXIT_UNUSABLE;
		goto out;
	}
	tsm_engine_summary(e, &s);
	v = tsm_engine_violation(e, n);
	if (!v && n <= s.nr_violations) {
		p_err_file("report", path, "%s: violation #%u was counted but not kept: only the first %u are kept in full (raise --max-violations)",
		      path, n, s.nr_violations_kept);
		ret = EXIT_UNUSABLE;
		goto out;
	}
	if (!v) {
		p_err_file("report", path, "%s: no violation #%u: the trace has %u (list them with '%s check %s')",
		      path, n, s.nr_violations, tsm_prog, path);
		ret = EXIT_UNUSABLE;
		goto out;
	}
	if (v->obj.valid & TSM_OBJ_DEV) {
		r->has_dev = true;
		r->dev = v->obj.dev;
	} else if (v->other.valid & TSM_OBJ_DEV) {
		r->has_dev = true;
		r->dev = v->other.dev;
	}
	if (v->obj.valid & TSM_OBJ_BUF)
		add_buf(r, v->obj.buf);
	if (v->other.valid & TSM_OBJ_BUF)
		add_buf(r, v->other.buf);
	if (v->obj.valid & TSM_OBJ_RANGE) {
		r->has_range = true;
		r->pfn = v->obj.pfn;
		r->npfns = v->obj.npfns;
	}
out:
	tsm_engine_free(e);
	tsm_file_close(&f);
	return ret;
}

/* is violation @v about the chosen object? */
static bool violation_mine(const struct report *r, const struct tsm_violation *v)
{
	if (r->has_dev && (((v->obj.valid & TSM_OBJ_DEV) && v->obj.dev == r->dev) ||
			   ((v->other.valid & TSM_OBJ_DEV) && v->other.dev == r->dev)))
		return true;
	if ((v->obj.valid & TSM_OBJ_RANGE) && in_range(r, v->obj.pfn, v->obj.npfns))
		return true;
	return (v->obj.valid & TSM_OBJ_BUF) && has_buf(r, v->obj.buf);
}

static void print_story_head(const struct report *r, const struct tsm_file *f,
			     const char *path, bool pfn, bool dev)
{
	char d[16];

	if (tsm_file_tracedat(f))
		printf("%s: trace-cmd trace.dat (file version %u)\n", path, tracedat_version(f));
	else
		printf("%s: recorded on %s, kernel %s\n", path, f->hdr.hostname, f->hdr.kernel_release);
	if (r->only_violation)
		printf("story of violation #%u:", r->only_violation);
	else if (pfn)
		printf("story of pfn 0x%" PRIx64 ":", (uint64_t)r->pfn);
	else if (dev)
		printf("story of device %s:", (fmt_dev(d, sizeof(d), r->dev), d));
	else
		printf("every record:");
	printf(" every transition that touched it, in order\n");
}

static void print_story_tail(const struct report *r, const char *path,
			     const struct tsm_file *f, const struct tsm_summary *s)
{
	unsigned int i;

	for (i = 1; i <= s->nr_violations_kept; i++) {
		const struct tsm_violation *v = tsm_engine_violation(r->e, i);

		if (r->only_violation && r->only_violation != i)
			continue;
		/* only violations about the chosen object */
		if (!r->only_violation && !r->all && !violation_mine(r, v))
			continue;
		if (json_output) {
			print_violation_json(stdout, path, v);
		} else {
			printf("\n");
			print_violation(stdout, v, "");
		}
	}
	if (json_output) {
		print_verdict_json(stdout, path, &f->hdr, r->e, s);
		return;
	}
	if (r->all)
		print_not_kept(stdout, s, "");
	printf("\n%" PRIu64 " of %" PRIu64 " records shown; trace verdict %s\n",
	       (uint64_t)r->printed, (uint64_t)s->nr_records, tsm_verdict_name(s->verdict));
	if (!r->printed && !r->all)
		printf("nothing in the trace touched it\n");
}

struct report_args {
	const char *dev, *pfn, *vio;
	unsigned int max_v;
	int timeline;			/* enum timeline_format, or -1 */
	bool state_known;		/* --state-known: of a trace.dat */
};

static int parse_report(int argc, char **argv, struct report_args *a)
{
	static const struct option report_opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "pfn", required_argument, NULL, 'p' },
		{ "violation", required_argument, NULL, 'v' },
		{ "symbols", required_argument, NULL, 's' },
		{ "max-violations", required_argument, NULL, 'M' },
		{ "json", no_argument, NULL, 'j' },
		{ "format", required_argument, NULL, 'F' },
		{ "state-known", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned long long n;
	int c;

	a->timeline = -1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:p:v:jh", report_opts, NULL)) != -1) {
		switch (c) {
		case 'd': a->dev = optarg; break;
		case 'p': a->pfn = optarg; break;
		case 'v': a->vio = optarg; break;
		case 's':
			if (ksyms_load(optarg))
				return p_usage("report", "--symbols takes a System.map or kallsyms file with addresses");
			break;
		case 'M':
			if (parse_num(optarg, 1, 10000000, &n))
				return p_usage("report", "--max-violations takes a number from 1 to 10000000");
			a->max_v = n;
			break;
		case 'j': json_output = true; break;
		case 'k': a->state_known = true; break;
		case 'F':
			if (!strcmp(optarg, "perfetto"))
				a->timeline = TIMELINE_PERFETTO;
			else if (!strcmp(optarg, "svg"))
				a->timeline = TIMELINE_SVG;
			else if (!strcmp(optarg, "json"))
				json_output = true;
			else if (strcmp(optarg, "text"))
				return p_usage("report", "--format takes text, json, perfetto or svg");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return p_usage("report", "bad option");
		}
	}
	if (optind != argc - 1)
		return p_usage("report", "give exactly one trace file");
	if (!!a->dev + !!a->pfn + !!a->vio > 1)
		return p_usage("report", "give at most one of --device, --pfn, --violation");
	if (a->timeline >= 0 && (a->dev || a->pfn || a->vio))
		return p_usage("report", "a timeline (--format perfetto or svg) shows the whole trace: no --device, --pfn or --violation");
	if (a->timeline >= 0 && json_output)
		return p_usage("report", "--format perfetto or svg writes its own format: not with -j");
	return 0;
}

/* the selector of the story: EXIT_UNUSABLE after saying why */
static int choose(struct report *r, const struct report_args *a)
{
	unsigned long long n;

	if (a->dev && parse_dev(a->dev, &r->dev))
		return p_usage("report", "--device takes SSSS:BB:DD.F, BB:DD.F or a number");
	r->has_dev = a->dev;
	if (a->pfn) {
		if (parse_num(a->pfn, 0, ~0ULL, &n))
			return p_usage("report", "--pfn takes a page frame number (0x... or decimal)");
		r->pfn = n;
		r->has_range = true;
		r->npfns = 1;
		r->learn_dev = true;
	}
	if (a->vio) {
		if (parse_num(a->vio, 1, 10000000, &n) || strspn(a->vio, "0123456789") != strlen(a->vio))
			return p_usage("report", "--violation takes a violation number from 1 (as 'check' lists them)");
		r->only_violation = n;
	}
	r->all = !a->dev && !a->pfn && !a->vio;
	return 0;
}

int cmd_report(int argc, char **argv)
{
	struct report_args a = { 0 };
	struct report r = { 0 };
	enum tsm_read_status st;
	struct tsm_summary s;
	struct tsm_file f;
	const char *path;
	int ret, copy = -1;

	ret = parse_report(argc, argv, &a);
	if (ret)
		return ret;
	path = argv[optind];
	if (hash_init(&r.bufs, 64)) {
		p_err_file("report", path, "out of memory");
		return EXIT_UNUSABLE;
	}
	ret = choose(&r, &a);
	if (!ret && r.only_violation && is_stream(path)) {
		copy = spool(path);
		ret = copy < 0 ? EXIT_UNUSABLE : 0;
	}
	if (!ret && r.only_violation)
		ret = find_violation(&r, path, copy, r.only_violation, a.max_v, a.state_known);
	if (!ret)
		ret = open_trace(&f, path, copy, a.max_v, a.state_known, &r.e);
	if (ret)
		goto out_bufs;
	if (a.timeline >= 0) {
		ret = timeline_write(stdout, &f, path, r.e, a.timeline);
		goto out;
	}
	init_ops();
	if (!json_output)
		print_story_head(&r, &f, path, a.pfn, a.dev);
	st = tsm_file_replay(&f, &report_ops, &r);
	if (st == TSM_READ_UNUSABLE || st == TSM_READ_HANDLER) {
		p_err_file("report", path, "%s", f.msg);
		ret = EXIT_UNUSABLE;
		goto out;
	}
	engine_end_of_file(r.e, &f, st, "report");
	tsm_engine_summary(r.e, &s);
	print_story_tail(&r, path, &f, &s);
	if (!json_output)
		explain_symbols("report", &f.hdr);
out:
	tsm_engine_free(r.e);
	tsm_file_close(&f);
out_bufs:
	if (copy >= 0)
		close(copy);
	hash_fini(&r.bufs);
	return ret;
}
