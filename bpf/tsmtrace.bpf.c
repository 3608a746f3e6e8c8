// SPDX-License-Identifier: GPL-2.0
/*
 * tsmtrace BPF side: one tp_btf program per tracepoint of
 * docs/tracepoints.md (schema 1). Each copies its event into the ring buffer
 * as the record of include/tsmtrace/events.h, with a global sequence number
 * (a gap is a loss), keeps a compact live state in maps, and runs the
 * in-kernel check: the facts it can establish from the maps go through
 * tsm_check() of include/tsmtrace/invariants.h — the same function the
 * userspace engine calls — and a flagged event is followed by a record with
 * the kernel stack at that moment.
 *
 * Every event is recorded: filters (device, VM, PID) apply to what the
 * tool prints, never to what it checks.
 *
 * The in-kernel state is bounded (TSM_SMALL_RANGES private ranges and
 * mappings per device, fixed-size maps of devices and DMABUFs; nothing per
 * mapping); what does not fit is counted as lost, and the
 * userspace engine, which replays every record with unbounded state, stays
 * the judge of the verdict.
 *
 * CO-RE: the programs read only the tracepoints' scalar arguments, spelled
 * out below as in the prototypes; nothing depends on the build host's
 * kernel. The loader (tools/tsmtrace/live.c) loads only the programs of the
 * events the running kernel has.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <tsmtrace/events.h>
#include <tsmtrace/invariants.h>
#include "record.bpf.h"

/*
 * The devices' state, open-addressed by a hash of the device's id: a lookup
 * is an array access, where a hash map's lookup is a call that hashes the
 * key and walks a bucket, and its insert takes the bucket's lock (in the
 * lab a hash lookup was a third of the run time of the programs that make
 * one). A device takes the first free slot of the DEV_PROBES from its
 * hash on, and keeps it: nothing is freed, so a lookup ends at the first
 * free slot.
 */
#define MAX_DEVS	1024	/* a power of two */
#define DEV_HASH_SHIFT	22	/* 32 - log2(MAX_DEVS) */
#define DEV_PROBES	8
#define DEV_USED	(1ull << 32)

/* an IOAS area or a slot of one of the device's DMABUFs */
struct dev_map {
	__u64 pfn;
	__u64 npfns;
	__u32 shared;		/* an IOAS area or a shared slot */
	__u32 __pad;
};

struct dev_state {
	__u64 key;		/* the device's id | DEV_USED; 0: the slot is free */
	__u32 nr;		/* private ranges in r[] */
	__u32 overflow;		/* more private ranges than fit: facts unknown */
	__u64 vm;
	struct tsm_range r[TSM_SMALL_RANGES];
	/*
	 * The device's mappings, so that a range event looks at a handful of
	 * entries, not at every mapping there is; nr_total counts those that
	 * did not fit in m[] too (then the facts are unknown).
	 */
	__u32 nr_m;
	__u32 nr_total;
	struct dev_map m[TSM_SMALL_RANGES];
	/*
	 * Host CPU mappings since their BAR's last zap, merged where they
	 * touch; cpu_lost has a bit for each BAR with more than fit (its
	 * facts unknown until its next zap).
	 */
	__u32 nr_cpu;
	__u32 cpu_lost;
	struct tsm_range cpu[TSM_SMALL_RANGES];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_DEVS);
	__type(key, __u32);
	__type(value, struct dev_state);
} devs SEC(".maps");

/*
 * The state of device @dev, or NULL; with @claim, a free slot is taken for
 * it if it has none (NULL, counted, when none of its slots is free). Two
 * CPUs that claim for the same device probe the same slots in the same
 * order, and a claimed slot never changes hands: they end in the same one.
 */
static __always_inline struct dev_state *dev_slot(__u32 dev, bool claim)
{
	__u64 key = dev | DEV_USED, cur;
	__u32 h = (dev * 0x9e3779b1u) >> DEV_HASH_SHIFT, i, k;
	struct dev_state *d;

	for (i = 0; i < DEV_PROBES; i++) {
		k = (h + i) & (MAX_DEVS - 1);
		d = bpf_map_lookup_elem(&devs, &k);
		if (!d)
			return NULL;
		cur = d->key;
		if (!cur) {
			if (!claim)
				return NULL;
			cur = __sync_val_compare_and_swap(&d->key, 0, key);
			if (!cur)
				return d;
		}
		if (cur == key)
			return d;
	}
	if (claim)
		count_lost(TSM_LOST_MAP_FULL);
	return NULL;
}

static __always_inline struct dev_state *dev_get(__u32 dev)
{
	return dev_slot(dev, true);
}

/*
 * The walks of a device's lists of ranges go through bpf_loop(): the
 * verifier checks a callback once, where a walk unrolled over
 * TSM_SMALL_RANGES entries multiplied its states (vfio_pci_bar_zap's
 * program took 614,389 of the verifier's million instructions to check, and
 * minutes to load on an emulated CPU).
 */
struct small_walk {
	struct tsm_range *r;	/* the list, @n long */
	__u32 n;
	__u32 overlaps;		/* does an entry overlap the range? */
	__u64 pfn, npfns;	/* the range */
	__u64 covered;		/* its PFNs the entries cover (they are disjoint) */
};

static long small_walk_cb(__u64 i, void *c)
{
	struct small_walk *w = c;

	if (i >= w->n || i >= TSM_SMALL_RANGES)
		return 1;
	/* the helpers of invariants.h on one entry, as the engine calls them */
	w->overlaps |= tsm_small_overlaps(&w->r[i], 1, w->pfn, w->npfns);
	w->covered += tsm_small_covered(&w->r[i], 1, w->pfn, w->npfns);
	return 0;
}

/* r[0..n) against [pfn, +npfns): whether one overlaps it, how much they cover */
static __always_inline void small_walk(struct small_walk *w, struct tsm_range *r, __u32 n,
				       __u64 pfn, __u64 npfns)
{
	w->r = r;
	w->n = n;
	w->overlaps = 0;
	w->pfn = pfn;
	w->npfns = npfns;
	w->covered = 0;
	bpf_loop(TSM_SMALL_RANGES, small_walk_cb, w, 0);
}

/* facts about [pfn, +npfns) against the device's private ranges */
static __always_inline __u32 private_facts(struct dev_state *d, __u64 pfn, __u64 npfns)
{
	struct small_walk w;
	__u32 f = 0;

	if (!d || d->overflow)
		return TSM_F_ALL_PRIVATE;	/* unknown: the non-violating values */
	small_walk(&w, d->r, d->nr, pfn, npfns);
	if (w.overlaps)
		f |= TSM_F_OVERLAPS_PRIVATE;
	if (w.covered == npfns)
		f |= TSM_F_ALL_PRIVATE;
	return f;
}

/* ---- pci_tsm ---- */

static __always_inline int op_event(void *ctx, __u32 type, __u32 dev, __u32 tdi_id, __u64 vm,
				    __u32 reason, __s32 ret)
{
	struct dev_state *d = NULL;
	__u32 rules = 0;

	/* what begins an operation changes and checks nothing */
	if (type == TSM_REC_PCI_TSM_BIND_END || type == TSM_REC_PCI_TSM_UNBIND_END)
		d = dev_get(dev);
	if (d && type == TSM_REC_PCI_TSM_BIND_END && ret == 0)
		d->vm = vm;
	if (d && type == TSM_REC_PCI_TSM_BIND_END && ret < 0)
		rules = tsm_check(type, 1, d->nr ? TSM_F_PFN_PRIVATE : 0);
	if (d && type == TSM_REC_PCI_TSM_UNBIND_END) {
		rules = tsm_check(type, 0, d->nr ? TSM_F_PFN_PRIVATE : 0);
		d->vm = 0;
	}
	emit_tsm_op(ctx, type, dev, tdi_id, vm, reason, ret, rules);
	return 0;
}

SEC("tp_btf/pci_tsm_bind_begin")
int BPF_PROG(pci_tsm_bind_begin, __u32 dev, __u32 tdi_id, __u64 vm, __u32 reason, __s32 ret)
{
	return op_event(ctx, TSM_REC_PCI_TSM_BIND_BEGIN, dev, tdi_id, vm, reason, ret);
}

SEC("tp_btf/pci_tsm_bind_end")
int BPF_PROG(pci_tsm_bind_end, __u32 dev, __u32 tdi_id, __u64 vm, __u32 reason, __s32 ret)
{
	return op_event(ctx, TSM_REC_PCI_TSM_BIND_END, dev, tdi_id, vm, reason, ret);
}

SEC("tp_btf/pci_tsm_unbind_begin")
int BPF_PROG(pci_tsm_unbind_begin, __u32 dev, __u32 tdi_id, __u64 vm, __u32 reason, __s32 ret)
{
	return op_event(ctx, TSM_REC_PCI_TSM_UNBIND_BEGIN, dev, tdi_id, vm, reason, ret);
}

SEC("tp_btf/pci_tsm_unbind_end")
int BPF_PROG(pci_tsm_unbind_end, __u32 dev, __u32 tdi_id, __u64 vm, __u32 reason, __s32 ret)
{
	return op_event(ctx, TSM_REC_PCI_TSM_UNBIND_END, dev, tdi_id, vm, reason, ret);
}

SEC("tp_btf/pci_tsm_tdi_state")
int BPF_PROG(pci_tsm_tdi_state, __u32 dev, __u32 tdi_id, __u32 old_state, __u32 new_state)
{
	struct tsm_ev_pci_tsm_tdi_state *e;
	__u64 s;

	e = rec_reserve(TSM_REC_PCI_TSM_TDI_STATE, sizeof(*e), &s);
	if (!e)
		return 0;
	e->dev = dev;
	e->tdi_id = tdi_id;
	e->old_state = old_state;
	e->new_state = new_state;
	rec_submit(ctx, &e->hdr, 0);
	return 0;
}

/* a mapping of the device (shared, or private slots) overlapping the range? */
static __always_inline __u32 dev_mapped(struct dev_state *d, __u32 want_shared, __u64 pfn,
					__u64 npfns)
{
	__u32 i;

	if (!d || d->nr_total > d->nr_m)
		return 0;	/* unknown: the non-violating value */
	for (i = 0; i < TSM_SMALL_RANGES; i++) {
		if (i >= d->nr_m)
			break;
		if (d->m[i].shared == want_shared &&
		    tsm_range_overlap(d->m[i].pfn, d->m[i].npfns, pfn, npfns))
			return 1;
	}
	return 0;
}

/* a host CPU mapping of the device overlapping the range? (0: unknown too) */
static __always_inline __u32 dev_cpu_mapped(struct dev_state *d, __u32 bar, __u64 pfn,
					    __u64 npfns)
{
	struct small_walk w;

	if (!d || bar >= 32 || (d->cpu_lost & (1u << bar)))
		return 0;
	small_walk(&w, d->cpu, d->nr_cpu, pfn, npfns);
	return w.overlaps;
}

SEC("tp_btf/pci_tsm_range")
int BPF_PROG(pci_tsm_range, __u32 dev, __u32 bar, __u64 pfn, __u64 npfns, __u32 old_attr,
	     __u32 new_attr)
{
	struct tsm_ev_pci_tsm_range *e;
	struct dev_state *d;
	__u32 rules, facts = 0, i;
	__u64 s;

	d = dev_get(dev);
	if (dev_mapped(d, new_attr == TSM_ATTR_PRIVATE, pfn, npfns))
		facts |= new_attr == TSM_ATTR_PRIVATE ? TSM_F_MAPPED_SHARED : TSM_F_PRIVATE_SLOT;
	if (new_attr == TSM_ATTR_PRIVATE && dev_cpu_mapped(d, bar, pfn, npfns))
		facts |= TSM_F_CPU_MAPPED;
	rules = tsm_check(TSM_REC_PCI_TSM_RANGE, new_attr, facts);

	if (d && new_attr == TSM_ATTR_PRIVATE) {
		i = d->nr;
		if (i < TSM_SMALL_RANGES) {
			d->r[i].pfn = pfn;
			d->r[i].npfns = npfns;
			d->nr = i + 1;
		} else {
			d->overflow = 1;
		}
	} else if (d) {
		/* unbind converts the ranges it made private: drop exact matches */
		for (i = 0; i < TSM_SMALL_RANGES; i++) {
			if (i >= d->nr)
				break;
			if (d->r[i].pfn == pfn && d->r[i].npfns == npfns) {
				__u32 last = d->nr - 1;

				if (last < TSM_SMALL_RANGES)
					d->r[i] = d->r[last];
				d->nr = last;
				break;
			}
		}
		if (!d->nr)
			d->overflow = 0;
	}

	e = rec_reserve(TSM_REC_PCI_TSM_RANGE, sizeof(*e), &s);
	if (!e)
		return 0;
	e->dev = dev;
	e->bar = bar;
	e->pfn = pfn;
	e->npfns = npfns;
	e->old_attr = old_attr;
	e->new_attr = new_attr;
	rec_submit(ctx, &e->hdr, rules);
	return 0;
}

/* ---- vfio_dmabuf ---- */

SEC("tp_btf/vfio_dmabuf_export_range")
int BPF_PROG(vfio_dmabuf_export_range, __u64 buf, __u32 dev, __u32 bar, __u32 kind, __u64 pfn,
	     __u64 npfns)
{
	struct tsm_ev_vfio_dmabuf_range *e;
	__u64 s;

	e = rec_reserve(TSM_REC_VFIO_DMABUF_EXPORT_RANGE, sizeof(*e), &s);
	if (!e)
		return 0;
	e->buf = buf;
	e->dev = dev;
	e->bar = bar;
	e->kind = kind;
	e->__reserved = 0;
	e->pfn = pfn;
	e->npfns = npfns;
	rec_submit(ctx, &e->hdr, 0);
	return 0;
}

static __always_inline int buf_event(void *ctx, __u32 type, __u64 buf, __u32 dev, __u32 bar,
				     __u32 kind, __u32 arg)
{
	struct buf_state *b;
	__u32 rules = 0;

	switch (type) {
	case TSM_REC_VFIO_DMABUF_EXPORT:
		b = buf_slot(buf, true);
		if (b) {
			b->dev = dev;
			b->kind = kind;
			b->revoked = 0;
			b->nr_maps = 0;
		}
		break;
	case TSM_REC_VFIO_DMABUF_REVOKE:
		b = buf_slot(buf, false);
		if (b) {
			rules = tsm_check(type, 0, b->nr_maps ? TSM_F_BUF_MAPPED : 0);
			b->revoked = 1;
		}
		break;
	case TSM_REC_VFIO_DMABUF_RESTORE:
		b = buf_slot(buf, false);
		if (b)
			b->revoked = 0;
		break;
	case TSM_REC_VFIO_DMABUF_RELEASE:
		b = buf_slot(buf, false);
		if (b) {
			rules = tsm_check(type, 0, b->nr_maps ? TSM_F_BUF_MAPPED : 0);
			/* free the slot last */
			__sync_lock_test_and_set(&b->buf, 0);
		}
		break;
	}
	emit_dmabuf_obj(ctx, type, buf, dev, bar, kind, arg, rules);
	return 0;
}

SEC("tp_btf/vfio_dmabuf_export")
int BPF_PROG(vfio_dmabuf_export, __u64 buf, __u32 dev, __u32 bar, __u32 kind, __u32 arg)
{
	return buf_event(ctx, TSM_REC_VFIO_DMABUF_EXPORT, buf, dev, bar, kind, arg);
}

SEC("tp_btf/vfio_dmabuf_revoke")
int BPF_PROG(vfio_dmabuf_revoke, __u64 buf, __u32 dev, __u32 bar, __u32 kind, __u32 arg)
{
	return buf_event(ctx, TSM_REC_VFIO_DMABUF_REVOKE, buf, dev, bar, kind, arg);
}

SEC("tp_btf/vfio_dmabuf_release")
int BPF_PROG(vfio_dmabuf_release, __u64 buf, __u32 dev, __u32 bar, __u32 kind, __u32 arg)
{
	return buf_event(ctx, TSM_REC_VFIO_DMABUF_RELEASE, buf, dev, bar, kind, arg);
}

SEC("tp_btf/vfio_dmabuf_restore")
int BPF_PROG(vfio_dmabuf_restore, __u64 buf, __u32 dev, __u32 bar, __u32 kind, __u32 arg)
{
	return buf_event(ctx, TSM_REC_VFIO_DMABUF_RESTORE, buf, dev, bar, kind, arg);
}

/* ---- mappings: iommufd areas and KVM slots ---- */

/*
 * A mapping of [pfn, +npfns) of @buf: an IOAS area, or a KVM slot (@vm).
 * Only the counts and the device's small list change: the unmap event
 * repeats the map event's DMABUF and PFNs, so nothing is kept per mapping.
 */
static __always_inline __u32 map_added(__u64 vm, __u64 buf, __u64 pfn, __u64 npfns,
				       __u32 type, __u32 arg, bool shared, __u32 ioas_kind)
{
	struct buf_state *b = buf_slot(buf, false);
	struct dev_state *d = NULL;
	__u32 facts = 0;

	if (b) {
		d = dev_get(b->dev);
		if (b->kind == TSM_DMABUF_PRIVATE)
			facts |= TSM_F_BUF_PRIVATE;
		if (b->revoked)
			facts |= TSM_F_BUF_REVOKED;
		__sync_fetch_and_add(&b->nr_maps, 1);
	} else {
		/* DMABUF unknown: take the kind the event gives, assume the rest */
		if (type == TSM_REC_IOMMUFD_IOAS_MAP_DMABUF ? ioas_kind : arg)
			facts |= TSM_F_BUF_PRIVATE;
	}
	if (type == TSM_REC_IOMMUFD_IOAS_MAP_DMABUF && ioas_kind == TSM_DMABUF_PRIVATE)
		facts |= TSM_F_BUF_PRIVATE;
	facts |= private_facts(d, pfn, npfns);
	if (!d || !d->vm || (type == TSM_REC_KVM_DMABUF_SLOT_BIND && d->vm == vm))
		facts |= TSM_F_VM_BOUND;
	if (d) {
		__u32 i = d->nr_m;

		if (i < TSM_SMALL_RANGES) {
			d->m[i].pfn = pfn;
			d->m[i].npfns = npfns;
			d->m[i].shared = shared;
			d->nr_m = i + 1;
		}
		d->nr_total++;
	}
	return tsm_check(type, arg, facts);
}

/*
 * The mapping of [pfn, +npfns) of @buf went away. A DMABUF outlives its
 * mappings and a device's state is never dropped, so the lookups find what
 * map_added() found: a mapping counted nowhere then is counted nowhere now.
 */
static __always_inline void map_removed(__u64 buf, __u64 pfn, __u64 npfns, bool ioas)
{
	struct buf_state *b = buf_slot(buf, false);
	struct dev_state *d;
	__u32 i, shared;

	if (!b)
		return;
	if (b->nr_maps)
		__sync_fetch_and_add(&b->nr_maps, (__u32)-1);
	/* an IOAS area is shared; a slot as its DMABUF */
	shared = ioas || b->kind != TSM_DMABUF_PRIVATE;
	d = dev_slot(b->dev, false);
	if (d && d->nr_total) {
		/* drop one entry of that range (identical ones are alike) */
		for (i = 0; i < TSM_SMALL_RANGES; i++) {
			if (i >= d->nr_m)
				break;
			if (d->m[i].pfn == pfn && d->m[i].npfns == npfns &&
			    d->m[i].shared == shared) {
				__u32 last = d->nr_m - 1;

				if (last < TSM_SMALL_RANGES)
					d->m[i] = d->m[last];
				d->nr_m = last;
				break;
			}
		}
		d->nr_total--;
	}
}

static __always_inline int ioas_event(void *ctx, __u32 type, __u64 ictx, __u32 ioas, __u64 iova,
				      __u64 buf, __u64 pfn, __u64 npfns, __u32 arg)
{
	struct tsm_ev_iommufd_ioas_dmabuf *e;
	__u32 rules = 0;
	__u64 s;

	if (type == TSM_REC_IOMMUFD_IOAS_MAP_DMABUF)
		rules = map_added(0, buf, pfn, npfns, type, 0, true, arg);
	else
		map_removed(buf, pfn, npfns, true);
	e = rec_reserve(type, sizeof(*e), &s);
	if (!e)
		return 0;
	e->ctx = ictx;
	e->ioas = ioas;
	e->__reserved = 0;
	e->iova = iova;
	e->buf = buf;
	e->pfn = pfn;
	e->npfns = npfns;
	e->arg = arg;
	e->__reserved2 = 0;
	rec_submit(ctx, &e->hdr, rules);
	return 0;
}

SEC("tp_btf/iommufd_ioas_map_dmabuf")
int BPF_PROG(iommufd_ioas_map_dmabuf, __u64 ictx, __u32 ioas, __u64 iova, __u64 buf, __u64 pfn,
	     __u64 npfns, __u32 kind)
{
	return ioas_event(ctx, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, ictx, ioas, iova, buf, pfn, npfns,
			  kind);
}

SEC("tp_btf/iommufd_ioas_unmap_dmabuf")
int BPF_PROG(iommufd_ioas_unmap_dmabuf, __u64 ictx, __u32 ioas, __u64 iova, __u64 buf,
	     __u64 pfn, __u64 npfns, __u32 reason)
{
	return ioas_event(ctx, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, ictx, ioas, iova, buf, pfn,
			  npfns, reason);
}

static __always_inline int slot_event(void *ctx, __u32 type, __u64 vm, __u32 slot, __u64 gfn,
				      __u64 buf, __u64 pfn, __u64 npfns, __u32 arg)
{
	struct tsm_ev_kvm_dmabuf_slot *e;
	__u32 rules = 0;
	__u64 s;

	if (type == TSM_REC_KVM_DMABUF_SLOT_BIND)
		rules = map_added(vm, buf, pfn, npfns, type, arg, !arg, 0);
	else
		map_removed(buf, pfn, npfns, false);
	e = rec_reserve(type, sizeof(*e), &s);
	if (!e)
		return 0;
	e->vm = vm;
	e->slot = slot;
	e->__reserved = 0;
	e->gfn = gfn;
	e->buf = buf;
	e->pfn = pfn;
	e->npfns = npfns;
	e->arg = arg;
	e->__reserved2 = 0;
	rec_submit(ctx, &e->hdr, rules);
	return 0;
}

SEC("tp_btf/kvm_dmabuf_slot_bind")
int BPF_PROG(kvm_dmabuf_slot_bind, __u64 vm, __u32 slot, __u64 gfn, __u64 buf, __u64 pfn,
	     __u64 npfns, __u32 private)
{
	return slot_event(ctx, TSM_REC_KVM_DMABUF_SLOT_BIND, vm, slot, gfn, buf, pfn, npfns,
			  private);
}

SEC("tp_btf/kvm_dmabuf_slot_unbind")
int BPF_PROG(kvm_dmabuf_slot_unbind, __u64 vm, __u32 slot, __u64 gfn, __u64 buf, __u64 pfn,
	     __u64 npfns, __u32 reason)
{
	return slot_event(ctx, TSM_REC_KVM_DMABUF_SLOT_UNBIND, vm, slot, gfn, buf, pfn, npfns,
			  reason);
}

/* ---- vfio_pci: host CPU mappings of BAR pages ---- */

/* [pfn, +npfns) of @bar is mapped: into a range it touches, or a new one */
static __always_inline void cpu_add(struct dev_state *d, __u32 bar, __u64 pfn, __u64 npfns)
{
	__u64 end = pfn + npfns, rend;
	__u32 i, n = d->nr_cpu;

	for (i = 0; i < TSM_SMALL_RANGES; i++) {
		if (i >= n)
			break;
		rend = d->cpu[i].pfn + d->cpu[i].npfns;
		if (pfn > rend || end < d->cpu[i].pfn)
			continue;
		if (pfn < d->cpu[i].pfn)
			d->cpu[i].pfn = pfn;
		if (end > rend)
			rend = end;
		d->cpu[i].npfns = rend - d->cpu[i].pfn;
		return;
	}
	if (n < TSM_SMALL_RANGES) {
		d->cpu[n].pfn = pfn;
		d->cpu[n].npfns = npfns;
		d->nr_cpu = n + 1;
	} else if (bar < 32) {
		d->cpu_lost |= 1u << bar;
	} else {
		d->cpu_lost = ~0u;
	}
}

/* what is left of the host CPU mappings when [pfn, end) is zapped */
struct zap_walk {
	struct dev_state *d;
	__u64 pfn, end;
	__u32 n;		/* entries before the zap */
	__u32 k;		/* entries kept so far, at the front */
	__u64 right_pfn;	/* what is left to the right of a range that */
	__u64 right_npfns;	/* spans the zapped one (at most one does) */
};

static long zap_cb(__u64 i, void *c)
{
	struct zap_walk *w = c;
	struct dev_state *d = w->d;
	struct tsm_range r;
	__u64 rend;
	__u32 k = w->k;

	if (i >= w->n || i >= TSM_SMALL_RANGES)
		return 1;
	r = d->cpu[i];
	rend = r.pfn + r.npfns;
	if (tsm_range_overlap(r.pfn, r.npfns, w->pfn, w->end - w->pfn)) {
		if (r.pfn < w->pfn && rend > w->end) {
			/* it spans the zapped range: what is left on either side */
			w->right_pfn = w->end;
			w->right_npfns = rend - w->end;
			r.npfns = w->pfn - r.pfn;
		} else if (r.pfn < w->pfn) {
			r.npfns = w->pfn - r.pfn;
		} else if (rend > w->end) {
			r.pfn = w->end;
			r.npfns = rend - w->end;
		} else {
			r.npfns = 0;
		}
	}
	/* keep it, closing the holes of the dropped ones (k <= i) */
	if (r.npfns && k < TSM_SMALL_RANGES) {
		d->cpu[k] = r;
		w->k = k + 1;
	}
	return 0;
}

/* every mapping of [pfn, +npfns) (a BAR) is gone */
static __always_inline void cpu_zap(struct dev_state *d, __u32 bar, __u64 pfn, __u64 npfns)
{
	struct zap_walk w = {
		.d = d, .pfn = pfn, .end = pfn + npfns, .n = d->nr_cpu,
	};
	__u32 k;

	bpf_loop(TSM_SMALL_RANGES, zap_cb, &w, 0);
	k = w.k;
	if (w.right_npfns) {
		if (k < TSM_SMALL_RANGES) {
			d->cpu[k].pfn = w.right_pfn;
			d->cpu[k].npfns = w.right_npfns;
			k++;
		} else {
			d->cpu_lost = ~0u;
		}
	}
	d->nr_cpu = k;
	if (bar < 32 && d->cpu_lost != ~0u)
		d->cpu_lost &= ~(1u << bar);
}

static __always_inline int cpu_event(void *ctx, __u32 type, __u64 dev, __u32 bar, __u64 pfn,
				     __u64 npfns)
{
	struct tsm_ev_vfio_pci_bar *e;
	struct dev_state *d;
	__u32 rules = 0;
	__u64 s;

	/* the other events' device: the low half of the kernel's 64-bit name */
	d = dev_get((__u32)dev);
	if (d && type == TSM_REC_VFIO_PCI_BAR_MAP) {
		rules = tsm_check(type, 0, private_facts(d, pfn, npfns) & TSM_F_OVERLAPS_PRIVATE);
		cpu_add(d, bar, pfn, npfns);
	} else if (d) {
		cpu_zap(d, bar, pfn, npfns);
	}
	e = rec_reserve(type, sizeof(*e), &s);
	if (!e)
		return 0;
	e->dev = dev;
	e->bar = bar;
	e->__reserved = 0;
	e->pfn = pfn;
	e->npfns = npfns;
	rec_submit(ctx, &e->hdr, rules);
	return 0;
}

SEC("tp_btf/vfio_pci_bar_map")
int BPF_PROG(vfio_pci_bar_map, __u64 dev, __u32 bar, __u64 pfn, __u64 npfns)
{
	return cpu_event(ctx, TSM_REC_VFIO_PCI_BAR_MAP, dev, bar, pfn, npfns);
}

SEC("tp_btf/vfio_pci_bar_zap")
int BPF_PROG(vfio_pci_bar_zap, __u64 dev, __u32 bar, __u64 pfn, __u64 npfns)
{
	return cpu_event(ctx, TSM_REC_VFIO_PCI_BAR_ZAP, dev, bar, pfn, npfns);
}

char LICENSE[] SEC("license") = "GPL";
