// SPDX-License-Identifier: GPL-2.0
/*
 * report --format=perfetto|svg: the trace as a timeline.
 *
 * The records are replayed through the engine (for the violations) and
 * turned into slices on lanes of tracks: a track per device (its TDI's
 * bind, bound and unbind, a lane per DMABUF from export to release), per
 * IOAS (a lane per IOVA, an area from map to unmap) and per VM (the TDIs
 * bound to it, a lane per memslot). Violations are instant markers on
 * their device's track (or the IOAS or VM of the event), named by their
 * invariant and number.
 *
 * perfetto: the Chrome trace-event JSON that Perfetto UI and
 * chrome://tracing open: a process per track, a thread per lane ("M"
 * metadata names them), "X" slices, "i" markers; times in microseconds
 * from the first record. svg: one SVG drawn here, a row per lane grouped
 * by track, the violations as red lines across their track.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "builtin.h"
#include "timeline.h"
#include "util.h"

enum track_kind { TRACK_DEV, TRACK_IOAS, TRACK_VM, TRACK_DOMAIN, TRACK_KVM };

struct lane {
	unsigned int track, tid;
	char name[48];
	int open;			/* index of the open slice, or -1 */
};

struct track {
	enum track_kind kind;
	char name[64];
	unsigned int nr_lanes;
	unsigned int first_row;		/* svg */
};

struct slice {
	unsigned int lane;
	__u64 start, end;
	char name[80];
	char args[160];			/* JSON members, without braces */
	bool violation;			/* a rule broke at its start (svg colour) */
};

struct mark {
	unsigned int track, lane;
	__u64 ts;
	bool violation;
	char name[48];
	char args[160];
};

struct timeline {
	struct tsm_engine *e;
	struct hash track_ids, lane_ids;	/* values: index + 1 */
	struct track *tracks;
	struct lane *lanes;
	struct slice *slices;
	struct mark *marks;
	unsigned int nr_tracks, nr_lanes, nr_slices, nr_marks;
	unsigned int cap_tracks, cap_lanes, cap_slices, cap_marks;
	__u64 t0, t1;
	bool started;
	int err;
};

/* one more element of @arr (of @size bytes): its index, or -1 */
static int grow(struct timeline *t, void **arr, unsigned int *nr, unsigned int *cap, size_t size)
{
	if (*nr == *cap) {
		unsigned int n = *cap ? *cap * 2 : 64;
		void *p = realloc(*arr, n * size);

		if (!p) {
			t->err = -ENOMEM;
			return -1;
		}
		*arr = p;
		*cap = n;
	}
	memset((char *)*arr + *nr * size, 0, size);
	return (*nr)++;
}

#define GROW(t, what) grow(t, (void **)&(t)->what, &(t)->nr_##what, &(t)->cap_##what, \
			   sizeof(*(t)->what))

static int track_get(struct timeline *t, enum track_kind kind, __u64 a, __u64 b)
{
	struct hkey k = { { kind, a, b } };
	void *v = hash_find(&t->track_ids, &k);
	struct track *tr;
	char dev[16];
	int i;

	if (v)
		return (int)(uintptr_t)v - 1;
	i = GROW(t, tracks);
	if (i < 0 || hash_add(&t->track_ids, &k, (void *)(uintptr_t)(i + 1))) {
		t->err = -ENOMEM;
		return -1;
	}
	tr = &t->tracks[i];
	tr->kind = kind;
	if (kind == TRACK_DEV) {
		fmt_dev(dev, sizeof(dev), (__u32)a);
		snprintf(tr->name, sizeof(tr->name), "device %s", dev);
	} else if (kind == TRACK_IOAS) {
		snprintf(tr->name, sizeof(tr->name), "IOAS %u (ctx 0x%" PRIx64 ")", (__u32)b,
			 (uint64_t)a);
	} else if (kind == TRACK_DOMAIN) {
		snprintf(tr->name, sizeof(tr->name), "IOMMU domain 0x%" PRIx64, (uint64_t)a);
	} else if (kind == TRACK_KVM) {
		snprintf(tr->name, sizeof(tr->name), "KVM page tables (address space %u)",
			 (unsigned int)a);
	} else {
		snprintf(tr->name, sizeof(tr->name), "VM 0x%" PRIx64, (uint64_t)a);
	}
	return i;
}

/* the lane @key of track @track, named @name when it is new */
static int lane_get(struct timeline *t, int track, __u64 key, const char *name)
{
	struct hkey k = { { (__u64)track, key, 1 } };
	void *v;
	int i;

	if (track < 0)
		return -1;
	v = hash_find(&t->lane_ids, &k);
	if (v)
		return (int)(uintptr_t)v - 1;
	i = GROW(t, lanes);
	if (i < 0 || hash_add(&t->lane_ids, &k, (void *)(uintptr_t)(i + 1))) {
		t->err = -ENOMEM;
		return -1;
	}
	t->lanes[i].track = track;
	t->lanes[i].tid = ++t->tracks[track].nr_lanes;
	t->lanes[i].open = -1;
	snprintf(t->lanes[i].name, sizeof(t->lanes[i].name), "%s", name);
	return i;
}

static void slice_close(struct timeline *t, int lane, __u64 ts)
{
	if (lane < 0 || t->lanes[lane].open < 0)
		return;
	t->slices[t->lanes[lane].open].end = ts;
	t->lanes[lane].open = -1;
}

/* a slice from @ts on @lane, closing the one open there */
__attribute__((format(printf, 4, 5)))
static struct slice *slice_open(struct timeline *t, int lane, __u64 ts, const char *fmt, ...)
{
	struct slice *s;
	va_list ap;
	int i;

	if (lane < 0)
		return NULL;
	slice_close(t, lane, ts);
	i = GROW(t, slices);
	if (i < 0)
		return NULL;
	s = &t->slices[i];
	s->lane = lane;
	s->start = s->end = ts;
	va_start(ap, fmt);
	vsnprintf(s->name, sizeof(s->name), fmt, ap);
	va_end(ap);
	t->lanes[lane].open = i;
	return s;
}

__attribute__((format(printf, 5, 6)))
static struct mark *mark(struct timeline *t, int track, int lane, __u64 ts, const char *fmt, ...)
{
	struct mark *m;
	va_list ap;
	int i;

	if (track < 0)
		return NULL;
	i = GROW(t, marks);
	if (i < 0)
		return NULL;
	m = &t->marks[i];
	m->track = track;
	m->lane = lane < 0 ? 0 : lane;
	m->ts = ts;
	va_start(ap, fmt);
	vsnprintf(m->name, sizeof(m->name), fmt, ap);
	va_end(ap);
	return m;
}

static int dev_lane(struct timeline *t, __u32 dev)
{
	return lane_get(t, track_get(t, TRACK_DEV, dev, 0), 0, "TDI");
}

static int vm_tdi_lane(struct timeline *t, __u64 vm, __u32 dev)
{
	char name[48], d[16];

	fmt_dev(d, sizeof(d), dev);
	snprintf(name, sizeof(name), "TDI %s", d);
	return lane_get(t, track_get(t, TRACK_VM, vm, 0), (1ULL << 32) | dev, name);
}

static int buf_lane(struct timeline *t, __u32 dev, __u64 buf)
{
	char name[48];

	snprintf(name, sizeof(name), "DMABUF %" PRIu64, (uint64_t)buf);
	return lane_get(t, track_get(t, TRACK_DEV, dev, 0), buf + 1, name);
}

/* "binding" or "bound": on the device's TDI lane and on the VM's */
static void tdi_slices(struct timeline *t, int l, int vl, const struct tsm_rec_hdr *rec,
		       const char *what)
{
	const struct tsm_ev_pci_tsm_op *ev = (const void *)rec;
	struct slice *s = slice_open(t, l, rec->ts, "%s VM 0x%" PRIx64,
				     strcmp(what, "bound") ? "binding to" : "bound to",
				     (uint64_t)ev->vm);

	if (s)
		snprintf(s->args, sizeof(s->args), "\"tdi_id\":%u,\"vm\":\"0x%" PRIx64 "\"",
			 ev->tdi_id, (uint64_t)ev->vm);
	slice_open(t, vl, rec->ts, "%s", what);
}

static void on_op(struct timeline *t, const struct tsm_rec_hdr *rec)
{
	const struct tsm_ev_pci_tsm_op *ev = (const void *)rec;
	int l = dev_lane(t, ev->dev), vl = ev->vm ? vm_tdi_lane(t, ev->vm, ev->dev) : -1;

	switch (rec->type) {
	case TSM_REC_PCI_TSM_BIND_BEGIN:
		tdi_slices(t, l, vl, rec, "binding");
		break;
	case TSM_REC_PCI_TSM_BIND_END:
		if (ev->ret < 0) {
			if (l >= 0 && t->lanes[l].open >= 0)
				snprintf(t->slices[t->lanes[l].open].name, sizeof(t->slices[0].name),
					 "bind failed (%d)", ev->ret);
			slice_close(t, l, rec->ts);
			slice_close(t, vl, rec->ts);
			break;
		}
		tdi_slices(t, l, vl, rec, "bound");
		break;
	case TSM_REC_PCI_TSM_UNBIND_BEGIN:
		slice_open(t, l, rec->ts, "unbinding");
		slice_open(t, vl, rec->ts, "unbinding");
		break;
	default:
		slice_close(t, l, rec->ts);
		slice_close(t, vl, rec->ts);
		break;
	}
}

/* the slice of a mapping: an IOAS area on its IOAS, a slot on its VM */
static void on_map(struct timeline *t, const struct tsm_rec_hdr *rec)
{
	/* an IOMMU record is laid out as an IOAS one: domain, dev for ctx, ioas */
	const struct tsm_ev_iommufd_ioas_dmabuf *io = (const void *)rec;
	const struct tsm_ev_kvm_dmabuf_slot *sl = (const void *)rec;
	bool mmu = rec->type == TSM_REC_IOMMU_MAP_DMABUF ||
		   rec->type == TSM_REC_IOMMU_UNMAP_DMABUF;
	bool ioas = mmu || rec->type == TSM_REC_IOMMUFD_IOAS_MAP_DMABUF ||
		    rec->type == TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF;
	__u64 buf = ioas ? io->buf : sl->buf, pfn = ioas ? io->pfn : sl->pfn;
	__u64 npfns = ioas ? io->npfns : sl->npfns, addr = ioas ? io->iova : sl->gfn;
	bool priv = ioas ? io->arg == TSM_DMABUF_PRIVATE : sl->arg;
	char name[48];
	struct slice *s;
	int l;

	snprintf(name, sizeof(name), "%s 0x%" PRIx64, ioas ? "IOVA" : "slot",
		 ioas ? (uint64_t)io->iova : (uint64_t)sl->slot);
	l = mmu ? lane_get(t, track_get(t, TRACK_DOMAIN, io->ctx, 0), io->iova, name) :
	    ioas ? lane_get(t, track_get(t, TRACK_IOAS, io->ctx, io->ioas), io->iova, name) :
		   lane_get(t, track_get(t, TRACK_VM, sl->vm, 0), sl->slot, name);
	if (rec->type == TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF ||
	    rec->type == TSM_REC_IOMMU_UNMAP_DMABUF ||
	    rec->type == TSM_REC_KVM_DMABUF_SLOT_UNBIND) {
		slice_close(t, l, rec->ts);
		return;
	}
	s = slice_open(t, l, rec->ts, "DMABUF %" PRIu64 " %s%s", (uint64_t)buf,
		       priv ? "private" : "shared", ioas ? "" : " slot");
	if (s)
		snprintf(s->args, sizeof(s->args), "\"buf\":%" PRIu64 ",\"%s\":\"0x%" PRIx64
			 "\",\"pfn\":\"0x%" PRIx64 "\",\"npfns\":\"0x%" PRIx64 "\"",
			 (uint64_t)buf, ioas ? "iova" : "gfn", (uint64_t)addr, (uint64_t)pfn,
			 (uint64_t)npfns);
}

/* KVM's entry of BAR pages: a slice on the lane of its GFN (no VM is named) */
static void on_spte(struct timeline *t, const struct tsm_rec_hdr *rec)
{
	const struct tsm_ev_kvm_spte *ev = (const void *)rec;
	static const char *const sizes[] = { "?", "4K", "2M", "1G" };
	char name[48];
	struct slice *s;
	int l;

	snprintf(name, sizeof(name), "GFN 0x%" PRIx64, (uint64_t)ev->gfn);
	l = lane_get(t, track_get(t, TRACK_KVM, ev->as_id, 0), ev->gfn, name);
	if (rec->type == TSM_REC_KVM_SPTE_UNMAP) {
		slice_close(t, l, rec->ts);
		return;
	}
	s = slice_open(t, l, rec->ts, "%s page of BAR", sizes[ev->level < 4 ? ev->level : 0]);
	if (s)
		snprintf(s->args, sizeof(s->args), "\"gfn\":\"0x%" PRIx64 "\",\"pfn\":\"0x%" PRIx64
			 "\",\"npfns\":\"0x%" PRIx64 "\",\"level\":%u", (uint64_t)ev->gfn,
			 (uint64_t)ev->pfn, (uint64_t)ev->npfns, ev->level);
}

/*
 * Host CPU mappings of a BAR, a lane of its device: mapped from the first
 * fault after a zap until the next zap.
 */
static void on_cpu(struct timeline *t, const struct tsm_rec_hdr *rec)
{
	const struct tsm_ev_vfio_pci_bar *ev = (const void *)rec;
	char name[48];
	struct slice *s;
	int l;

	snprintf(name, sizeof(name), "host CPU, BAR %u", ev->bar);
	l = lane_get(t, track_get(t, TRACK_DEV, (__u32)ev->dev, 0), (2ULL << 32) | ev->bar, name);
	if (l < 0)
		return;
	if (rec->type == TSM_REC_VFIO_PCI_BAR_ZAP) {
		slice_close(t, l, rec->ts);
		return;
	}
	if (t->lanes[l].open >= 0)
		return;
	s = slice_open(t, l, rec->ts, "mapped by the host CPU");
	if (s)
		snprintf(s->args, sizeof(s->args), "\"bar\":%u,\"pfn\":\"0x%" PRIx64
			 "\",\"npfns\":\"0x%" PRIx64 "\"", ev->bar, (uint64_t)ev->pfn,
			 (uint64_t)ev->npfns);
}

static void on_dmabuf(struct timeline *t, const struct tsm_rec_hdr *rec)
{
	const struct tsm_ev_vfio_dmabuf_range *r = (const void *)rec;
	const struct tsm_ev_vfio_dmabuf_obj *o = (const void *)rec;
	bool range = rec->type == TSM_REC_VFIO_DMABUF_EXPORT_RANGE;
	int l = buf_lane(t, range ? r->dev : o->dev, range ? r->buf : o->buf);
	__u32 kind = range ? r->kind : o->kind;
	struct slice *s;

	if (l < 0)
		return;
	switch (rec->type) {
	case TSM_REC_VFIO_DMABUF_EXPORT_RANGE:
	case TSM_REC_VFIO_DMABUF_EXPORT:
		if (t->lanes[l].open >= 0)
			return;
		s = slice_open(t, l, rec->ts, "%s DMABUF %" PRIu64,
			       kind ? "private" : "shared", (uint64_t)(range ? r->buf : o->buf));
		if (s)
			snprintf(s->args, sizeof(s->args), "\"buf\":%" PRIu64 ",\"bar\":%u",
				 (uint64_t)(range ? r->buf : o->buf), range ? r->bar : o->bar);
		break;
	case TSM_REC_VFIO_DMABUF_RELEASE:
		slice_close(t, l, rec->ts);
		break;
	default:
		mark(t, t->lanes[l].track, l, rec->ts, "%s",
		     rec->type == TSM_REC_VFIO_DMABUF_REVOKE ? "revoked" : "restored");
		break;
	}
}

/* where a violation is marked: its device, else its IOAS or VM */
static void on_violation(struct timeline *t, const struct tsm_violation *v)
{
	const struct tsm_objects *o = &v->obj;
	const struct tsm_rule_desc *r = &tsm_rules[v->rule];
	int tr = -1, lane = -1;
	struct mark *m;

	if (o->valid & TSM_OBJ_DEV) {
		tr = track_get(t, TRACK_DEV, o->dev, 0);
		lane = dev_lane(t, o->dev);
	} else if (o->valid & TSM_OBJ_DOMAIN) {
		tr = track_get(t, TRACK_DOMAIN, o->ctx, 0);
	} else if (o->valid & TSM_OBJ_IOAS) {
		tr = track_get(t, TRACK_IOAS, o->ctx, o->ioas);
	} else if (o->valid & TSM_OBJ_VM) {
		tr = track_get(t, TRACK_VM, o->vm, 0);
	} else if (o->valid & TSM_OBJ_SPTE) {
		tr = track_get(t, TRACK_KVM, 0, 0);
	}
	m = mark(t, tr, lane, v->ev.hdr.ts, "%s #%u", tsm_inv_id(r->inv), v->n);
	if (!m)
		return;
	m->violation = true;
	snprintf(m->args, sizeof(m->args), "\"n\":%u,\"invariant\":\"%s\",\"state\":\"%s\","
		 "\"event\":\"%s\",\"seq\":%" PRIu64, v->n, tsm_inv_id(r->inv), r->state,
		 tsm_rec_name(v->ev.hdr.type), (uint64_t)v->ev.hdr.seq);
}

static int timeline_record(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct timeline *t = ctx;
	unsigned int before = tsm_engine_nr_violations(t->e), i;
	int ret = tsm_engine_feed(t->e, rec, rec->size);

	if (ret)
		return ret;
	if (!t->started) {
		t->t0 = rec->ts;
		t->started = true;
	}
	if (rec->ts > t->t1)
		t->t1 = rec->ts;
	switch (rec->type) {
	case TSM_REC_PCI_TSM_BIND_BEGIN:
	case TSM_REC_PCI_TSM_BIND_END:
	case TSM_REC_PCI_TSM_UNBIND_BEGIN:
	case TSM_REC_PCI_TSM_UNBIND_END:
		on_op(t, rec);
		break;
	case TSM_REC_PCI_TSM_RANGE: {
		const struct tsm_ev_pci_tsm_range *ev = (const void *)rec;
		int l = dev_lane(t, ev->dev);

		if (l >= 0)
			mark(t, t->lanes[l].track, l, rec->ts, "BAR %u 0x%" PRIx64 "+0x%" PRIx64 " %s",
			     ev->bar, (uint64_t)ev->pfn, (uint64_t)ev->npfns,
			     ev->new_attr ? "private" : "shared");
		break;
	}
	case TSM_REC_VFIO_DMABUF_EXPORT_RANGE:
	case TSM_REC_VFIO_DMABUF_EXPORT:
	case TSM_REC_VFIO_DMABUF_REVOKE:
	case TSM_REC_VFIO_DMABUF_RELEASE:
	case TSM_REC_VFIO_DMABUF_RESTORE:
		on_dmabuf(t, rec);
		break;
	case TSM_REC_IOMMUFD_IOAS_MAP_DMABUF:
	case TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF:
	case TSM_REC_IOMMU_MAP_DMABUF:
	case TSM_REC_IOMMU_UNMAP_DMABUF:
	case TSM_REC_KVM_DMABUF_SLOT_BIND:
	case TSM_REC_KVM_DMABUF_SLOT_UNBIND:
		on_map(t, rec);
		break;
	case TSM_REC_KVM_SPTE_MAP:
	case TSM_REC_KVM_SPTE_UNMAP:
		on_spte(t, rec);
		break;
	case TSM_REC_VFIO_PCI_BAR_MAP:
	case TSM_REC_VFIO_PCI_BAR_ZAP:
		on_cpu(t, rec);
		break;
	default:
		break;
	}
	for (i = before + 1; i <= tsm_engine_nr_violations(t->e); i++)
		on_violation(t, tsm_engine_violation(t->e, i));
	return t->err;
}

static const struct tsm_ops *timeline_ops(void)
{
	static struct tsm_ops ops;
	unsigned int i;

	for (i = 0; i < TSM_REC_MAX; i++)
		ops.handler[i] = timeline_record;
	ops.unknown = timeline_record;
	return &ops;
}

/* ns from the first record as microseconds, "S.NNN" */
static void put_us(FILE *f, __u64 ts, __u64 t0)
{
	__u64 d = ts - t0;

	fprintf(f, "%" PRIu64 ".%03" PRIu64, (uint64_t)(d / 1000), (uint64_t)(d % 1000));
}

static void write_perfetto(FILE *f, const struct timeline *t, const char *path,
			   const struct tsm_summary *s)
{
	unsigned int i;

	fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"file\":", f);
	json_str(f, path);
	fprintf(f, ",\"verdict\":\"%s\",\"violations\":%u},\"traceEvents\":[\n",
		tsm_verdict_name(s->verdict), s->nr_violations);
	for (i = 0; i < t->nr_tracks; i++) {
		fprintf(f, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%u,\"tid\":0,\"args\":{\"name\":",
			i + 1);
		json_str(f, t->tracks[i].name);
		fprintf(f, "}},\n{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%u,\"tid\":0,"
			"\"args\":{\"sort_index\":%u}},\n", i + 1, i);
	}
	for (i = 0; i < t->nr_lanes; i++) {
		fprintf(f, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":",
			t->lanes[i].track + 1, t->lanes[i].tid);
		json_str(f, t->lanes[i].name);
		fputs("}},\n", f);
	}
	for (i = 0; i < t->nr_slices; i++) {
		const struct slice *sl = &t->slices[i];
		const struct lane *l = &t->lanes[sl->lane];
		__u64 end = t->lanes[sl->lane].open == (int)i ? t->t1 : sl->end;

		fprintf(f, "{\"ph\":\"X\",\"pid\":%u,\"tid\":%u,\"ts\":", l->track + 1, l->tid);
		put_us(f, sl->start, t->t0);
		fputs(",\"dur\":", f);
		put_us(f, end, sl->start);
		fputs(",\"name\":", f);
		json_str(f, sl->name);
		fprintf(f, ",\"args\":{%s}},\n", sl->args);
	}
	for (i = 0; i < t->nr_marks; i++) {
		const struct mark *m = &t->marks[i];

		fprintf(f, "{\"ph\":\"i\",\"s\":\"%s\",\"pid\":%u,\"tid\":%u,\"ts\":",
			m->violation ? "p" : "t", m->track + 1,
			m->violation ? 0 : t->lanes[m->lane].tid);
		put_us(f, m->ts, t->t0);
		fputs(",\"name\":", f);
		json_str(f, m->name);
		fprintf(f, ",\"cat\":\"%s\",\"args\":{%s}},\n", m->violation ? "violation" : "event",
			m->args);
	}
	/* the end of the trace: every track's last moment, and no trailing comma */
	fputs("{\"ph\":\"i\",\"s\":\"g\",\"pid\":0,\"tid\":0,\"ts\":", f);
	put_us(f, t->t1, t->t0);
	fprintf(f, ",\"name\":\"end of trace: %s\",\"cat\":\"verdict\",\"args\":{}}\n]}\n",
		tsm_verdict_name(s->verdict));
}

/* text for SVG: &, <, >, " escaped */
static void svg_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f); break;
		}
	}
}

#define SVG_LABEL	210	/* the lane names */
#define SVG_PLOT	900	/* the time axis */
#define SVG_ROW		22
#define SVG_TOP		40

static double svg_x(const struct timeline *t, __u64 ts)
{
	__u64 span = t->t1 > t->t0 ? t->t1 - t->t0 : 1;

	return SVG_LABEL + (double)(ts - t->t0) * SVG_PLOT / span;
}

static void write_svg(FILE *f, struct timeline *t, const char *path, const struct tsm_summary *s)
{
	unsigned int i, row = 0, *lane_row;
	double h;

	lane_row = calloc(t->nr_lanes + 1, sizeof(*lane_row));
	if (!lane_row) {
		t->err = -ENOMEM;
		return;
	}
	/* rows: each track's title, then its lanes in the order they came */
	for (i = 0; i < t->nr_tracks; i++) {
		unsigned int j;

		t->tracks[i].first_row = row++;
		for (j = 0; j < t->nr_lanes; j++)
			if (t->lanes[j].track == i)
				lane_row[j] = row++;
	}
	h = SVG_TOP + row * SVG_ROW + 30;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
		"viewBox=\"0 0 %d %.0f\" font-family=\"monospace\" font-size=\"11\">\n",
		SVG_LABEL + SVG_PLOT + 20, h, SVG_LABEL + SVG_PLOT + 20, h);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n<text x=\"8\" y=\"18\" font-size=\"13\">");
	svg_text(f, path);
	fprintf(f, ": %s, %u violation(s), %.3f ms</text>\n", tsm_verdict_name(s->verdict),
		s->nr_violations, (double)(t->t1 - t->t0) / 1e6);
	for (i = 0; i < t->nr_tracks; i++) {
		double y = SVG_TOP + t->tracks[i].first_row * SVG_ROW;

		fprintf(f, "<g class=\"track\" id=\"track-%u\">\n<rect x=\"0\" y=\"%.0f\" width=\"%d\" height=\"%d\" fill=\"#e8eef6\"/>\n"
			"<text x=\"4\" y=\"%.0f\" font-weight=\"bold\">", i + 1, y,
			SVG_LABEL + SVG_PLOT + 20, SVG_ROW, y + 15);
		svg_text(f, t->tracks[i].name);
		fputs("</text>\n</g>\n", f);
	}
	for (i = 0; i < t->nr_lanes; i++) {
		double y = SVG_TOP + lane_row[i] * SVG_ROW;

		fprintf(f, "<text class=\"lane\" x=\"16\" y=\"%.0f\">", y + 15);
		svg_text(f, t->lanes[i].name);
		fprintf(f, "</text>\n<line x1=\"%d\" y1=\"%.0f\" x2=\"%d\" y2=\"%.0f\" stroke=\"#dddddd\"/>\n",
			SVG_LABEL, y + SVG_ROW - 1, SVG_LABEL + SVG_PLOT, y + SVG_ROW - 1);
	}
	for (i = 0; i < t->nr_slices; i++) {
		const struct slice *sl = &t->slices[i];
		__u64 end = t->lanes[sl->lane].open == (int)i ? t->t1 : sl->end;
		double x = svg_x(t, sl->start), w = svg_x(t, end) - x;
		double y = SVG_TOP + lane_row[sl->lane] * SVG_ROW;
		const char *fill = strstr(sl->name, "private") || strstr(sl->name, "PRIVATE") ?
				   "#c9a0dc" : strstr(sl->name, "bound") ? "#8fc98f" :
				   strstr(sl->name, "fail") ? "#e0a060" : "#9cc3e6";

		fprintf(f, "<g class=\"slice\"><title>");
		svg_text(f, sl->name);
		fprintf(f, "</title><rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%d\" fill=\"%s\" stroke=\"#555555\" stroke-width=\"0.5\"/>",
			x, y + 3, w < 1 ? 1 : w, SVG_ROW - 6, fill);
		/* a label that does not fit is left to the tooltip */
		if (w >= strlen(sl->name) * 5.5 + 4) {
			fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"9\">", x + 2, y + 15);
			svg_text(f, sl->name);
			fputs("</text>", f);
		}
		fputs("</g>\n", f);
	}
	for (i = 0; i < t->nr_marks; i++) {
		const struct mark *m = &t->marks[i];
		double x = svg_x(t, m->ts);
		double y0 = SVG_TOP + t->tracks[m->track].first_row * SVG_ROW;

		if (!m->violation) {
			double y = SVG_TOP + lane_row[m->lane] * SVG_ROW;

			fprintf(f, "<g class=\"event\"><title>");
			svg_text(f, m->name);
			fprintf(f, "</title><circle cx=\"%.1f\" cy=\"%.0f\" r=\"2.5\" fill=\"#333333\"/></g>\n",
				x, y + SVG_ROW / 2);
			continue;
		}
		fprintf(f, "<g class=\"violation\"><title>");
		svg_text(f, m->name);
		fprintf(f, "</title><line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#d00000\" stroke-width=\"2\"/>"
			"<text x=\"%.1f\" y=\"%.0f\" fill=\"#d00000\" font-weight=\"bold\">", x, y0,
			x, y0 + (t->tracks[m->track].nr_lanes + 1) * SVG_ROW, x + 3, y0 + 15);
		svg_text(f, m->name);
		fputs("</text></g>\n", f);
	}
	fprintf(f, "<text x=\"%d\" y=\"%.0f\">0</text><text x=\"%d\" y=\"%.0f\" text-anchor=\"end\">+%.3f ms</text>\n</svg>\n",
		SVG_LABEL, h - 10, SVG_LABEL + SVG_PLOT, h - 10, (double)(t->t1 - t->t0) / 1e6);
	free(lane_row);
}

int timeline_write(FILE *out, struct tsm_file *f, const char *path, struct tsm_engine *e,
		   enum timeline_format fmt)
{
	struct timeline t = { .e = e };
	enum tsm_read_status st;
	struct tsm_summary s;
	int ret = 0;

	if (hash_init(&t.track_ids, 64) || hash_init(&t.lane_ids, 256)) {
		p_err_file("report", path, "out of memory");
		ret = EXIT_UNUSABLE;
		goto out;
	}
	st = tsm_file_replay(f, timeline_ops(), &t);
	if (st == TSM_READ_UNUSABLE || st == TSM_READ_HANDLER) {
		p_err_file("report", path, "%s", t.err ? "out of memory" : f->msg);
		ret = EXIT_UNUSABLE;
		goto out;
	}
	engine_end_of_file(e, f, st, "report");
	tsm_engine_summary(e, &s);
	if (fmt == TIMELINE_PERFETTO)
		write_perfetto(out, &t, path, &s);
	else
		write_svg(out, &t, path, &s);
	if (t.err) {
		p_err_file("report", path, "out of memory");
		ret = EXIT_UNUSABLE;
	}
out:
	hash_fini(&t.track_ids);
	hash_fini(&t.lane_ids);
	free(t.tracks);
	free(t.lanes);
	free(t.slices);
	free(t.marks);
	return ret;
}
