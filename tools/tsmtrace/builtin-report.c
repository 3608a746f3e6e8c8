// SPDX-License-Identifier: GPL-2.0
/*
 * tsmtrace report FILE [--device DEV | --pfn PFN | --violation N]
 *
 * Replays the file through the engine and, through a second table of
 * callbacks wrapped around it, prints every record that touched the chosen
 * object, in order, with the violations found at each and the stack at
 * them. Without a selector it prints every record.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "builtin.h"
#include "tracefile.h"
#include "util.h"

#define MAX_BUFS	1024

struct report {
	struct tsm_engine *e;
	bool all;
	bool has_dev;
	__u32 dev;
	bool has_range;
	__u64 pfn, npfns;		/* [pfn, pfn + npfns) */
	bool learn_dev;			/* --pfn: learn the owning device */
	__u64 bufs[MAX_BUFS];		/* DMABUFs that belong to the story */
	unsigned int nr_bufs;
	unsigned int only_violation;	/* --violation N */
	unsigned int shown_violations;	/* violations already printed */
	__u64 printed;
};

static bool has_buf(const struct report *r, __u64 buf)
{
	unsigned int i;

	for (i = 0; i < r->nr_bufs; i++)
		if (r->bufs[i] == buf)
			return true;
	return false;
}

static void add_buf(struct report *r, __u64 buf)
{
	if (!has_buf(r, buf) && r->nr_bufs < MAX_BUFS)
		r->bufs[r->nr_bufs++] = buf;
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
	case TSM_REC_KVM_DMABUF_SLOT_BIND:
	case TSM_REC_KVM_DMABUF_SLOT_UNBIND: {
		const struct tsm_ev_kvm_dmabuf_slot *ev = (const void *)rec;

		return has_buf(r, ev->buf) || in_range(r, ev->pfn, ev->npfns);
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

static int usage_err(const char *why)
{
	p_err("report", "%s (usage: %s report FILE [--device DEV | --pfn PFN | --violation N])",
	      why, tsm_prog);
	return EXIT_UNUSABLE;
}

/* the objects of violation N, from a first pass */
static int find_violation(struct report *r, const char *path, unsigned int n)
{
	struct tsm_engine_opts opts = { 0 };
	const struct tsm_violation *v;
	struct tsm_engine *e;
	struct tsm_file f;
	unsigned int nr;
	int ret = 0;

	if (tsm_file_open(&f, path) != TSM_READ_OK) {
		p_err("report", "%s", f.msg);
		tsm_file_close(&f);
		return EXIT_UNUSABLE;
	}
	opts.state_known = f.hdr.flags & TSM_FILE_F_STATE_KNOWN;
	opts.observed = f.hdr.events_observed;
	ksyms_auto(f.hdr.kernel_release);
	e = tsm_engine_new(&opts);
	if (!e) {
		tsm_file_close(&f);
		return EXIT_UNUSABLE;
	}
	if (tsm_file_replay(&f, &tsm_engine_ops, e) >= TSM_READ_UNUSABLE) {
		p_err("report", "%s", f.msg);
		ret = EXIT_UNUSABLE;
		goto out;
	}
	nr = tsm_engine_nr_violations(e);
	v = tsm_engine_violation(e, n);
	if (!v) {
		p_err("report", "%s: no violation #%u: the trace has %u (list them with '%s check %s')",
		      path, n, nr, tsm_prog, path);
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

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "pfn", required_argument, NULL, 'p' },
		{ "violation", required_argument, NULL, 'v' },
		{ "symbols", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct tsm_engine_opts opts = { 0 };
	struct report r = { 0 };
	enum tsm_read_status st;
	struct tsm_summary s;
	const char *path, *dev = NULL, *pfn = NULL, *vio = NULL;
	struct tsm_file f;
	char *end;
	int c, nsel, ret = 0;
	unsigned int i;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:p:v:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': dev = optarg; break;
		case 'p': pfn = optarg; break;
		case 'v': vio = optarg; break;
		case 's':
			if (ksyms_load(optarg))
				return usage_err("--symbols takes a System.map or kallsyms file with addresses");
			break;
		case 'j': json_output = true; break;
		case 'h':
			printf("usage: %s report FILE [--device DEV | --pfn PFN | --violation N]\n"
			       "              [--symbols System.map]\n", tsm_prog);
			return 0;
		default:
			return usage_err("bad option");
		}
	}
	if (optind != argc - 1)
		return usage_err("give exactly one trace file");
	path = argv[optind];
	nsel = !!dev + !!pfn + !!vio;
	if (nsel > 1)
		return usage_err("give at most one of --device, --pfn, --violation");
	if (dev && parse_dev(dev, &r.dev))
		return usage_err("--device takes SSSS:BB:DD.F, BB:DD.F or a number");
	if (dev)
		r.has_dev = true;
	if (pfn) {
		errno = 0;
		r.pfn = strtoull(pfn, &end, 0);
		if (errno || *end || !*pfn)
			return usage_err("--pfn takes a page frame number (0x... or decimal)");
		r.has_range = true;
		r.npfns = 1;
		r.learn_dev = true;
	}
	if (vio) {
		unsigned long n = strtoul(vio, &end, 10);

		if (*end || !*vio || n == 0 || n > 1000000)
			return usage_err("--violation takes a violation number from 1 (as 'check' lists them)");
		r.only_violation = n;
		ret = find_violation(&r, path, n);
		if (ret)
			return ret;
	}
	r.all = nsel == 0;

	if (tsm_file_open(&f, path) != TSM_READ_OK) {
		p_err("report", "%s", f.msg);
		tsm_file_close(&f);
		return EXIT_UNUSABLE;
	}
	opts.state_known = f.hdr.flags & TSM_FILE_F_STATE_KNOWN;
	opts.observed = f.hdr.events_observed;
	ksyms_auto(f.hdr.kernel_release);
	r.e = tsm_engine_new(&opts);
	if (!r.e) {
		tsm_file_close(&f);
		return EXIT_UNUSABLE;
	}
	init_ops();
	if (!json_output) {
		char d[16];

		printf("%s: recorded on %s, kernel %s\n", path, f.hdr.hostname, f.hdr.kernel_release);
		if (r.only_violation)
			printf("story of violation #%u:", r.only_violation);
		else if (pfn)
			printf("story of pfn 0x%" PRIx64 ":", (uint64_t)r.pfn);
		else if (dev)
			printf("story of device %s:", (fmt_dev(d, sizeof(d), r.dev), d));
		else
			printf("every record:");
		printf(" every transition that touched it, in order\n");
	}
	st = tsm_file_replay(&f, &report_ops, &r);
	if (st == TSM_READ_UNUSABLE || st == TSM_READ_HANDLER) {
		p_err("report", "%s", f.msg);
		ret = EXIT_UNUSABLE;
		goto out;
	}
	if (st == TSM_READ_TRUNCATED) {
		p_warn("report", "%s", f.msg);
		tsm_engine_truncated(r.e);
	} else {
		tsm_engine_lost_total(r.e, f.end.nr_lost);
	}
	tsm_engine_summary(r.e, &s);
	for (i = 1; i <= s.nr_violations; i++) {
		const struct tsm_violation *v = tsm_engine_violation(r.e, i);

		if (r.only_violation && r.only_violation != i)
			continue;
		if (!r.only_violation && !r.all) {
			/* only violations about the chosen object */
			bool mine = (r.has_dev && (((v->obj.valid & TSM_OBJ_DEV) && v->obj.dev == r.dev) ||
						   ((v->other.valid & TSM_OBJ_DEV) && v->other.dev == r.dev))) ||
				    ((v->obj.valid & TSM_OBJ_RANGE) && in_range(&r, v->obj.pfn, v->obj.npfns)) ||
				    ((v->obj.valid & TSM_OBJ_BUF) && has_buf(&r, v->obj.buf));
			if (!mine)
				continue;
		}
		if (json_output) {
			print_violation_json(stdout, path, v);
		} else {
			printf("\n");
			print_violation(stdout, v, "");
		}
	}
	if (!json_output) {
		printf("\n%" PRIu64 " of %" PRIu64 " records shown; trace verdict %s\n",
		       (uint64_t)r.printed, (uint64_t)s.nr_records, tsm_verdict_name(s.verdict));
		if (!r.printed && !r.all)
			printf("nothing in the trace touched it\n");
	}
out:
	tsm_engine_free(r.e);
	tsm_file_close(&f);
	return ret;
}
