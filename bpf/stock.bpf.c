// SPDX-License-Identifier: GPL-2.0
/*
 * tsmtrace's stock-kernel source: the records of include/tsmtrace/events.h
 * built from a kernel that has none of the series' tracepoints — mainline
 * 6.19 and later, as distributions ship it — through fentry/fexit on the
 * functions of its DMABUF flow, reading its structures with CO-RE:
 *
 *   export            fexit dma_buf_fd: a DMABUF of VFIO's exporter got
 *                     its fd; its ranges are the priv's phys_vec
 *   revoke, restore   fexit vfio_pci_dma_buf_move: each DMABUF of the
 *                     device whose revoked bit changed (the importers have
 *                     been told by then); reason CLOSE or UNSPECIFIED
 *   release           fentry vfio_pci_dma_buf_release
 *   IOMMU map         fexit iommu_map_nosync of pages of a live DMABUF
 *   IOMMU unmap       fexit iommu_unmap / iommu_unmap_fast, fentry
 *                     iommu_domain_free
 *   KVM               tp_btf kvm_tdp_mmu_spte_changed: a leaf entry of
 *                     KVM's TDP MMU maps, or stops mapping, pages of a
 *                     BAR of a VFIO device (the loader names the BARs of
 *                     vfio-pci's devices at start; exports add theirs)
 *   start (optional)  iter/dmabuf (6.16+): the VFIO DMABUFs open when
 *                     tracing begins, exported as if now, so that their
 *                     pages are followed (their past is unknown: the loader
 *                     marks the state unknown after them)
 *   TSM binds         fentry/fexit pci_tsm_bind (mainline's PCI TSM core,
 *   (optional)        6.19+): a device's TDI bound to a VM, or the bind
 *                     refused; fentry/fexit __pci_tsm_unbind, which every
 *                     unbind goes through (pci_tsm_unbind(): reason USER;
 *                     the core's own, at a TSM's disconnect or the device's
 *                     removal: RELEASE)
 *   hints (optional)  fentry iopt_dmabuf_track_domain: which DMABUF
 *                     iommufd is about to map into which domain;
 *                     iopt_revoke_notify: the unmaps are a revoke's;
 *                     vfio_pci_dma_buf_cleanup: the revoke is a close's
 *
 * The in-kernel check is the series source's: tsm_check() of
 * include/tsmtrace/invariants.h on the facts the maps give (a revoke or a
 * release while the IOMMU still maps the DMABUF's pages, a revoke while
 * KVM maps them, a mapping of a revoked DMABUF's pages), with the kernel
 * stack of a flagged event.
 *
 * The loader (tools/tsmtrace/live.c) loads only the programs whose
 * functions and fields the running kernel's BTF has, and says what the
 * others would have decided.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <tsmtrace/events.h>
#include <tsmtrace/invariants.h>
#include <tsmtrace/stock.h>
#include "record.bpf.h"

#define MAX_RANGES	64	/* ranges of live DMABUFs, looked up by PFN */
#define MAX_DOMS	1024	/* IOMMU domains that map DMABUF pages */
#define DOM_MAPS	16	/* their mappings of DMABUF pages, each */
#define MAX_WALK	256	/* DMABUFs of one device looked at by a move */
#define MAX_BARS	64	/* BARs whose pages KVM's entries are followed for */
#define MAX_SPTES	16384	/* KVM's entries of those pages */
#define PAGE_SHIFT	12

/*
 * KVM's SPTE encoding on x86 (arch/x86/kvm/mmu/spte.h; not in BTF): bit 11
 * marks a present entry (MMIO and frozen entries lack it), bit 7 a huge
 * leaf above level 1, bits 12-51 the address.
 */
#define SPTE_PRESENT	(1ULL << 11)
#define SPTE_HUGE	(1ULL << 7)
#define SPTE_ADDR	(((1ULL << 52) - 1) & ~0xfffULL)

/* ---- the kernel's structures, as far as they are read (CO-RE) ---- */

struct list_head___tsm {
	struct list_head___tsm *next;
} __attribute__((preserve_access_index));

struct inode___tsm {
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file___tsm {
	struct inode___tsm *f_inode;
} __attribute__((preserve_access_index));

struct dma_buf___tsm {
	struct file___tsm *file;
	const char *exp_name;
	void *priv;
} __attribute__((preserve_access_index));

struct dma_buf_attachment___tsm {
	struct dma_buf___tsm *dmabuf;
} __attribute__((preserve_access_index));

struct phys_vec___tsm {
	__u64 paddr;
	__u64 len;
} __attribute__((preserve_access_index));

struct resource___tsm {
	__u64 start;
	__u64 end;
} __attribute__((preserve_access_index));

struct pci_sysdata___tsm {
	int domain;
} __attribute__((preserve_access_index));

struct pci_bus___tsm {
	void *sysdata;
	unsigned char number;
	int domain_nr;
} __attribute__((preserve_access_index));

struct pci_tdi___tsm {
	void *kvm;
	__u32 tdi_id;
} __attribute__((preserve_access_index));

struct pci_tsm___tsm {
	struct pci_tdi___tsm *tdi;
} __attribute__((preserve_access_index));

struct pci_dev___tsm {
	struct pci_bus___tsm *bus;
	unsigned int devfn;
	struct resource___tsm resource[6];
	struct pci_tsm___tsm *tsm;	/* CONFIG_PCI_TSM */
} __attribute__((preserve_access_index));

struct vfio_pci_core_device___tsm {
	struct pci_dev___tsm *pdev;
	struct list_head___tsm dmabufs;
} __attribute__((preserve_access_index));

struct vfio_pci_dma_buf___tsm {
	struct dma_buf___tsm *dmabuf;
	struct vfio_pci_core_device___tsm *vdev;
	struct list_head___tsm dmabufs_elm;
	struct phys_vec___tsm *phys_vec;
	__u32 nr_ranges;
	__u8 revoked : 1;
} __attribute__((preserve_access_index));

struct iopt_pages_dmabuf___tsm {
	struct dma_buf_attachment___tsm *attach;
} __attribute__((preserve_access_index));

struct iopt_pages___tsm {
	struct iopt_pages_dmabuf___tsm dmabuf;
} __attribute__((preserve_access_index));

/* ---- state ---- */

/* a live VFIO DMABUF, by its struct dma_buf */
struct sbuf {
	__u64 id;
	__u32 dev;
	__u32 bar;
	__u32 revoked;
	__u32 reason;		/* of the revoke in force */
	__u32 nr;		/* its ranges, the first TSM_SMALL_RANGES */
	__u32 __pad;
	struct tsm_range r[TSM_SMALL_RANGES];
};

/* where export_buf() builds one: too large for the stack */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sbuf);
} sbuf_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_BUFS);
	__type(key, __u64);
	__type(value, struct sbuf);
} sbufs SEC(".maps");

/* one range of a live DMABUF; state: 0 free, 1 being filled, 2 in use */
struct srange {
	__u64 state;		/* 64 bits: the atomics of BPF's first ISA */
	__u32 dev;
	__u32 __pad;
	__u64 buf;
	__u64 dmabuf;
	__u64 pfn;
	__u64 npfns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_RANGES);
	__type(key, __u32);
	__type(value, struct srange);
} ranges SEC(".maps");

/* the PFNs the ranges ever covered: most IOMMU maps are of RAM, far away */
__u64 pfn_lo = ~0ULL, pfn_hi;

/* a domain's mapping of DMABUF pages; state as srange's */
struct smap {
	__u64 state;
	__u32 dev;
	__u32 __pad;
	__u64 iova;
	__u64 buf;
	__u64 pfn;
	__u64 npfns;
};

struct sdom {
	struct smap m[DOM_MAPS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_DOMS);
	__type(key, __u64);
	__type(value, struct sdom);
} doms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sdom);
} dom_zero SEC(".maps");

/* the BARs whose pages KVM's entries are followed for (tsmtrace/stock.h) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_BARS);
	__type(key, __u32);
	__type(value, struct tsm_stock_bar);
} bars SEC(".maps");

/* the PFNs the BARs cover, as pfn_lo/pfn_hi: most KVM entries map RAM */
__u64 bar_lo = ~0ULL, bar_hi;

/* a leaf entry of KVM's TDP MMU over BAR pages, by where it maps what */
struct spte_key {
	__u64 gfn;
	__u64 pfn;
	__u32 as_id;
	__u32 __pad;
};

struct spte_val {
	__u64 npfns;
	__u32 dev;
	__u32 level;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_SPTES);
	__type(key, struct spte_key);
	__type(value, struct spte_val);
} sptes SEC(".maps");

/* what the current task is doing: hints from iommufd and VFIO */
#define HINT_REVOKE	(1ULL << 0)	/* in iommufd's revoke callback */
#define HINT_CLOSE	(1ULL << 1)	/* in VFIO's cleanup of a closing device */
#define HINT_UNBIND_USER (1ULL << 2)	/* in pci_tsm_unbind() */
#define HINT_UNBINDING	(1ULL << 3)	/* a bound TDI is being unbound: unbind_* */
struct hint {
	__u64 domain;		/* iommufd is mapping a DMABUF into it ... */
	__u64 dmabuf;		/* ... this one */
	__u64 flags;
	__u64 unbind_vm;	/* the TDI being unbound (HINT_UNBINDING) */
	__u32 unbind_dev;
	__u32 unbind_tdi_id;
	__u32 unbind_reason;
	__u32 __pad;
};

/* by thread; the least recently used go when it is full */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct hint);
} hints SEC(".maps");

static __always_inline struct hint *hint_get(bool create)
{
	__u64 k = bpf_get_current_pid_tgid();
	struct hint *h = bpf_map_lookup_elem(&hints, &k), z = {};

	if (h || !create)
		return h;
	bpf_map_update_elem(&hints, &k, &z, BPF_NOEXIST);
	return bpf_map_lookup_elem(&hints, &k);
}

static __always_inline void hint_flag(__u64 flag, bool on)
{
	struct hint *h = hint_get(on);

	if (!h)
		return;
	if (on)
		__sync_fetch_and_or(&h->flags, flag);
	else
		__sync_fetch_and_and(&h->flags, ~flag);
}

/* ---- the device ---- */

/* segment << 16 | bus << 8 | devfn, as the series' events name it */
static __always_inline __u32 pci_dev_name(struct pci_dev___tsm *pdev)
{
	struct pci_bus___tsm *bus = BPF_CORE_READ(pdev, bus);
	__u32 seg = 0;

	if (bpf_core_field_exists(bus->domain_nr)) {
		seg = BPF_CORE_READ(bus, domain_nr);
	} else if (bpf_core_type_exists(struct pci_sysdata___tsm)) {
		struct pci_sysdata___tsm *sd = BPF_CORE_READ(bus, sysdata);

		seg = BPF_CORE_READ(sd, domain);
	}
	return (seg & 0xffff) << 16 | (__u32)BPF_CORE_READ(bus, number) << 8 |
	       (BPF_CORE_READ(pdev, devfn) & 0xff);
}

/*
 * The BAR that holds @paddr, or 255. The array is walked with the kernel's
 * element size: CO-RE relocates a member's offset, not a variable index.
 */
static __always_inline __u32 pci_bar_of(struct pci_dev___tsm *pdev, __u64 paddr)
{
	void *res = (void *)pdev + bpf_core_field_offset(struct pci_dev___tsm, resource);
	__u32 size = bpf_core_type_size(struct resource___tsm), i;

	for (i = 0; i < 6; i++) {
		struct resource___tsm *r = res + i * size;
		__u64 s = BPF_CORE_READ(r, start), e = BPF_CORE_READ(r, end);

		if (s && paddr >= s && paddr <= e)
			return i;
	}
	return 255;
}

/*
 * Why the device's DMABUFs are revoked now: a close, when VFIO's cleanup is
 * on the stack; else the kernel does not say (memory decode off, D3 and a
 * reset all revoke before the device changes, through the same function).
 */
static __always_inline __u32 revoke_reason(void)
{
	struct hint *h = hint_get(false);

	return h && (h->flags & HINT_CLOSE) ? TSM_REVOKE_CLOSE : TSM_REVOKE_UNSPEC;
}

/* ---- DMABUFs ---- */

/*
 * The loops over tables go through bpf_loop(): the verifier checks a
 * callback once, where an unrolled walk of every entry multiplies its states.
 */
struct range_walk {
	struct srange want;	/* add: the range; drop and find: dmabuf, pfn */
	struct srange out;	/* find: the match */
	__u32 found;		/* add: claimed; find: matches */
	__u32 exact;		/* find: the match is the hinted DMABUF's */
};

static long range_add_cb(__u64 i, void *c)
{
	struct range_walk *w = c;
	__u32 k = i;
	struct srange *r = bpf_map_lookup_elem(&ranges, &k);

	if (!r || __sync_val_compare_and_swap(&r->state, 0, 1) != 0)
		return 0;
	r->dev = w->want.dev;
	r->buf = w->want.buf;
	r->dmabuf = w->want.dmabuf;
	r->pfn = w->want.pfn;
	r->npfns = w->want.npfns;
	__sync_lock_test_and_set(&r->state, 2);
	w->found = 1;
	return 1;
}

/* lower *@b to @v (@down) or raise it, against concurrent exports */
static __always_inline void bound_grow(__u64 *b, __u64 v, bool down)
{
	__u64 old;
	int i;

	for (i = 0; i < 16; i++) {
		old = *(volatile __u64 *)b;
		if (down ? v >= old : v <= old)
			return;
		if (__sync_val_compare_and_swap(b, old, v) == old)
			return;
	}
}

static __always_inline void range_add(__u64 dmabuf, __u64 buf, __u32 dev, __u64 pfn,
				      __u64 npfns)
{
	struct range_walk w = {
		.want = { .dev = dev, .buf = buf, .dmabuf = dmabuf, .pfn = pfn, .npfns = npfns },
	};

	bpf_loop(MAX_RANGES, range_add_cb, &w, 0);
	if (!w.found) {
		count_lost(TSM_LOST_MAP_FULL);
		return;
	}
	bound_grow(&pfn_lo, pfn, true);
	bound_grow(&pfn_hi, pfn + npfns, false);
}

static long range_drop_cb(__u64 i, void *c)
{
	struct range_walk *w = c;
	__u32 k = i;
	struct srange *r = bpf_map_lookup_elem(&ranges, &k);

	if (r && r->state == 2 && r->dmabuf == w->want.dmabuf)
		__sync_val_compare_and_swap(&r->state, 2, 0);
	return 0;
}

static __always_inline void ranges_drop(__u64 dmabuf)
{
	struct range_walk w = { .want = { .dmabuf = dmabuf } };

	bpf_loop(MAX_RANGES, range_drop_cb, &w, 0);
}

struct bar_find {
	__u64 pfn;
	__u32 dev;
	__u32 found;
};

static long bar_find_cb(__u64 i, void *c)
{
	struct bar_find *w = c;
	__u32 k = i;
	struct tsm_stock_bar *b = bpf_map_lookup_elem(&bars, &k);

	if (!b)
		return 1;
	if (b->state == TSM_BAR_USED && w->pfn >= b->pfn && w->pfn < b->pfn + b->npfns) {
		w->dev = b->dev;
		w->found = 1;
		return 1;
	}
	return 0;
}

struct bar_walk {
	struct tsm_stock_bar want;
	__u32 found;
};

static long bar_claim_cb(__u64 i, void *c)
{
	struct bar_walk *w = c;
	__u32 k = i;
	struct tsm_stock_bar *b = bpf_map_lookup_elem(&bars, &k);

	if (!b || __sync_val_compare_and_swap(&b->state, TSM_BAR_FREE, TSM_BAR_FILLING) !=
		  TSM_BAR_FREE)
		return 0;
	b->dev = w->want.dev;
	b->pfn = w->want.pfn;
	b->npfns = w->want.npfns;
	__sync_lock_test_and_set(&b->state, TSM_BAR_USED);
	w->found = 1;
	return 1;
}

/* BAR @bar of @pdev, if not followed yet: KVM's entries of it are */
static __always_inline void bar_add(struct pci_dev___tsm *pdev, __u32 bar, __u32 dev)
{
	void *res = (void *)pdev + bpf_core_field_offset(struct pci_dev___tsm, resource);
	__u32 size = bpf_core_type_size(struct resource___tsm);
	struct resource___tsm *r;
	struct bar_find bf = {};
	struct bar_walk w = {};
	__u64 start, end;

	if (bar >= 6)
		return;
	r = res + bar * size;
	start = BPF_CORE_READ(r, start);
	end = BPF_CORE_READ(r, end);
	if (!start || end < start)
		return;
	w.want.dev = dev;
	w.want.pfn = start >> PAGE_SHIFT;
	w.want.npfns = (end - start + 1) >> PAGE_SHIFT;
	/* followed already: from sysfs at start, or an earlier export */
	bf.pfn = w.want.pfn;
	bpf_loop(MAX_BARS, bar_find_cb, &bf, 0);
	if (bf.found)
		return;
	bpf_loop(MAX_BARS, bar_claim_cb, &w, 0);
	if (!w.found)
		return;		/* not followed: KVM's entries of it go unseen */
	bound_grow(&bar_lo, w.want.pfn, true);
	bound_grow(&bar_hi, w.want.pfn + w.want.npfns, false);
}

/* DMABUFs found open by the iterator at start */
__u64 nr_seeded;

/* the ranges of a DMABUF being exported, each into the maps and out as a record */
struct export_walk {
	void *ctx;
	struct sbuf *sbp;
	struct phys_vec___tsm *pv;
	__u64 key;
	__u32 nr, bar;
};

static long export_range_cb(__u64 i, void *c)
{
	struct export_walk *w = c;
	struct sbuf *sbp = w->sbp;
	struct phys_vec___tsm *pv = w->pv, v;
	struct tsm_ev_vfio_dmabuf_range *er;
	__u64 s;

	/* pv[i], not w->pv[i]: the relocation is of the kernel's type, not ours */
	if (i >= w->nr || i >= TSM_SMALL_RANGES || bpf_core_read(&v, sizeof(v), &pv[i]))
		return 1;
	range_add(w->key, sbp->id, sbp->dev, v.paddr >> PAGE_SHIFT, v.len >> PAGE_SHIFT);
	sbp->r[i].pfn = v.paddr >> PAGE_SHIFT;
	sbp->r[i].npfns = v.len >> PAGE_SHIFT;
	sbp->nr = i + 1;
	er = rec_reserve(TSM_REC_VFIO_DMABUF_EXPORT_RANGE, sizeof(*er), &s);
	if (!er)
		return 0;
	er->buf = sbp->id;
	er->dev = sbp->dev;
	er->bar = w->bar;
	er->kind = TSM_DMABUF_SHARED;
	er->__reserved = 0;
	er->pfn = v.paddr >> PAGE_SHIFT;
	er->npfns = v.len >> PAGE_SHIFT;
	rec_submit(w->ctx, &er->hdr, 0);
	return 0;
}

/*
 * A DMABUF of VFIO's exporter is exported (@seed: was found open at start):
 * its ranges and its state go into the maps, its records out.
 */
static __always_inline int export_buf(void *ctx, struct dma_buf___tsm *dmabuf, bool seed)
{
	static const char vfio[] = "vfio_pci_core";
	struct vfio_pci_dma_buf___tsm *priv;
	struct pci_dev___tsm *pdev;
	struct export_walk w = { .ctx = ctx, .key = (__u64)dmabuf, .bar = 255 };
	struct phys_vec___tsm *pv, v0;
	struct sbuf *sbp;
	char name[sizeof(vfio)] = {};
	__u32 nr, i, zero = 0;
	struct buf_state *b;

	bpf_probe_read_kernel_str(name, sizeof(name), BPF_CORE_READ(dmabuf, exp_name));
	for (i = 0; i < sizeof(vfio); i++)
		if (name[i] != vfio[i])
			return 0;
	priv = BPF_CORE_READ(dmabuf, priv);
	pdev = BPF_CORE_READ(priv, vdev, pdev);
	/* found open at start, its device already closed: not followed */
	if (!pdev) {
		if (seed)
			__sync_fetch_and_add(&nr_seeded, 1);
		return 0;
	}
	sbp = bpf_map_lookup_elem(&sbuf_scratch, &zero);
	if (!sbp)
		return 0;
	__builtin_memset(sbp, 0, sizeof(*sbp));
	sbp->id = BPF_CORE_READ(dmabuf, file, f_inode, i_ino);
	sbp->dev = pci_dev_name(pdev);
	sbp->revoked = BPF_CORE_READ_BITFIELD_PROBED(priv, revoked);
	sbp->reason = TSM_REVOKE_UNSPEC;	/* born revoked: decode off, or D3 */
	nr = BPF_CORE_READ(priv, nr_ranges);
	pv = BPF_CORE_READ(priv, phys_vec);
	w.pv = pv;
	/* the BAR, from the first range; then every range (bpf_loop(): see range_walk) */
	if (nr && !bpf_core_read(&v0, sizeof(v0), &pv[0])) {
		sbp->bar = w.bar = pci_bar_of(pdev, v0.paddr);
		bar_add(pdev, w.bar, sbp->dev);
		w.sbp = sbp;
		w.nr = nr;
		bpf_loop(TSM_SMALL_RANGES, export_range_cb, &w, 0);
	}
	if (nr > TSM_SMALL_RANGES)
		count_lost(TSM_LOST_MAP_FULL);	/* ranges not followed */
	if (bpf_map_update_elem(&sbufs, &w.key, sbp, BPF_ANY))
		count_lost(TSM_LOST_MAP_FULL);
	b = buf_slot(sbp->id, true);
	if (b) {
		b->dev = sbp->dev;
		b->kind = TSM_DMABUF_SHARED;
		b->revoked = sbp->revoked;
		b->nr_maps = 0;
	}
	if (seed)
		__sync_fetch_and_add(&nr_seeded, 1);
	emit_dmabuf_obj(ctx, TSM_REC_VFIO_DMABUF_EXPORT, sbp->id, sbp->dev, w.bar,
			TSM_DMABUF_SHARED, nr, 0);
	if (sbp->revoked)
		emit_dmabuf_obj(ctx, TSM_REC_VFIO_DMABUF_REVOKE, sbp->id, sbp->dev, w.bar,
				TSM_DMABUF_SHARED, sbp->reason, 0);
	return 0;
}

SEC("fexit/dma_buf_fd")
int BPF_PROG(stock_dmabuf_export, struct dma_buf___tsm *dmabuf, int flags, int ret)
{
	if (ret < 0)
		return 0;
	return export_buf(ctx, dmabuf, false);
}

struct bpf_iter__dmabuf___tsm {
	void *meta;
	struct dma_buf___tsm *dmabuf;
} __attribute__((preserve_access_index));

SEC("iter/dmabuf")
int stock_seed(struct bpf_iter__dmabuf___tsm *ctx)
{
	struct dma_buf___tsm *dmabuf = ctx->dmabuf;

	if (!dmabuf)
		return 0;
	return export_buf(ctx, dmabuf, true);
}

SEC("fentry/vfio_pci_dma_buf_cleanup")
int BPF_PROG(stock_dmabuf_cleanup_enter)
{
	hint_flag(HINT_CLOSE, true);
	return 0;
}

SEC("fexit/vfio_pci_dma_buf_cleanup")
int BPF_PROG(stock_dmabuf_cleanup_exit)
{
	hint_flag(HINT_CLOSE, false);
	return 0;
}

/* ---- TSM binds: mainline's PCI TSM core ---- */

/* the kernel's first three arguments, whatever follows them */
SEC("fentry/pci_tsm_bind")
int BPF_PROG(stock_tsm_bind_enter, struct pci_dev___tsm *pdev, void *kvm, __u32 tdi_id)
{
	emit_tsm_op(ctx, TSM_REC_PCI_TSM_BIND_BEGIN, pci_dev_name(pdev), tdi_id, (__u64)kvm, 0, 0,
		    0);
	return 0;
}

/* 0 also when the TDI was bound to that VM already: nothing changed then */
SEC("fexit/pci_tsm_bind")
int BPF_PROG(stock_tsm_bind_exit, struct pci_dev___tsm *pdev, void *kvm, __u32 tdi_id)
{
	__u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);
	emit_tsm_op(ctx, TSM_REC_PCI_TSM_BIND_END, pci_dev_name(pdev), tdi_id, (__u64)kvm, 0,
		    (__s32)ret, 0);
	return 0;
}

SEC("fentry/pci_tsm_unbind")
int BPF_PROG(stock_tsm_unbind_user_enter)
{
	hint_flag(HINT_UNBIND_USER, true);
	return 0;
}

SEC("fexit/pci_tsm_unbind")
int BPF_PROG(stock_tsm_unbind_user_exit)
{
	hint_flag(HINT_UNBIND_USER, false);
	return 0;
}

/*
 * Every unbind: pci_tsm_unbind()'s, and the core's own for each function
 * of a device whose TSM goes away. Only a bound TDI is unbound; what it
 * was bound to is read on the way in, for the end record.
 */
SEC("fentry/__pci_tsm_unbind")
int BPF_PROG(stock_tsm_unbind_enter, struct pci_dev___tsm *pdev)
{
	struct pci_tsm___tsm *tsm = BPF_CORE_READ(pdev, tsm);
	struct pci_tdi___tsm *tdi;
	struct hint *h;

	if (!tsm)
		return 0;
	tdi = BPF_CORE_READ(tsm, tdi);
	if (!tdi)
		return 0;
	h = hint_get(true);
	if (!h)
		return 0;
	h->unbind_dev = pci_dev_name(pdev);
	h->unbind_tdi_id = BPF_CORE_READ(tdi, tdi_id);
	h->unbind_vm = (__u64)BPF_CORE_READ(tdi, kvm);
	h->unbind_reason = h->flags & HINT_UNBIND_USER ? TSM_UNBIND_USER : TSM_UNBIND_RELEASE;
	__sync_fetch_and_or(&h->flags, HINT_UNBINDING);
	emit_tsm_op(ctx, TSM_REC_PCI_TSM_UNBIND_BEGIN, h->unbind_dev, h->unbind_tdi_id,
		    h->unbind_vm, h->unbind_reason, 0, 0);
	return 0;
}

SEC("fexit/__pci_tsm_unbind")
int BPF_PROG(stock_tsm_unbind_exit)
{
	struct hint *h = hint_get(false);

	if (!h || !(h->flags & HINT_UNBINDING))
		return 0;
	__sync_fetch_and_and(&h->flags, ~HINT_UNBINDING);
	emit_tsm_op(ctx, TSM_REC_PCI_TSM_UNBIND_END, h->unbind_dev, h->unbind_tdi_id,
		    h->unbind_vm, h->unbind_reason, 0, 0);
	return 0;
}

struct kvm_walk {
	struct sbuf *sb;
	__u32 hit;
};

static long kvm_maps_cb(void *map, struct spte_key *k, struct spte_val *v, void *c)
{
	struct kvm_walk *w = c;
	struct sbuf *sb = w->sb;

	if (!sb)
		return 1;
	if (tsm_small_overlaps(sb->r, sb->nr, k->pfn, v->npfns)) {
		w->hit = 1;
		return 1;
	}
	return 0;
}

/* does KVM map a page of the DMABUF @sb? */
static __always_inline bool kvm_maps(struct sbuf *sb)
{
	struct kvm_walk w = { .sb = sb };

	bpf_for_each_map_elem(&sptes, kvm_maps_cb, &w, 0);
	return w.hit;
}

/* DMABUFs whose revoke a move flagged: their stacks follow the walk */
#define MOVE_STACKS	4

struct move_walk {
	struct list_head___tsm *head, *pos;
	__u32 reason;
	__u32 nr_flagged;
	__u64 flagged[MOVE_STACKS];
};

static long move_cb(__u64 i, void *c)
{
	struct move_walk *w = c;
	struct list_head___tsm *pos;
	struct vfio_pci_dma_buf___tsm *priv;
	struct tsm_ev_vfio_dmabuf_obj *e;
	struct buf_state *b;
	struct sbuf *sb;
	__u32 now, rules = 0, type;
	__u64 key, seq;

	if (!w->pos || w->pos == w->head)
		return 1;
	pos = w->pos;
	priv = (void *)pos - bpf_core_field_offset(struct vfio_pci_dma_buf___tsm, dmabufs_elm);
	w->pos = BPF_CORE_READ(pos, next);
	key = (__u64)BPF_CORE_READ(priv, dmabuf);
	sb = bpf_map_lookup_elem(&sbufs, &key);
	now = BPF_CORE_READ_BITFIELD_PROBED(priv, revoked);
	/* exported before we started: its history is not ours to tell */
	if (!sb || sb->revoked == now)
		return 0;
	sb->revoked = now;
	b = buf_slot(sb->id, false);
	if (now) {
		type = TSM_REC_VFIO_DMABUF_REVOKE;
		sb->reason = w->reason;
		if (b) {
			rules = tsm_check(type, 0, b->nr_maps || kvm_maps(sb) ?
						   TSM_F_BUF_MAPPED : 0);
			b->revoked = 1;
		}
	} else {
		type = TSM_REC_VFIO_DMABUF_RESTORE;
		if (b)
			b->revoked = 0;
	}
	e = rec_reserve(type, sizeof(*e), &seq);
	if (!e)
		return 0;
	e->buf = sb->id;
	e->dev = sb->dev;
	e->bar = sb->bar;
	e->kind = TSM_DMABUF_SHARED;
	e->arg = sb->reason;
	if (rules)
		e->hdr.flags |= TSM_REC_F_FLAGGED;
	bpf_ringbuf_submit(e, wakeup(rules, seq));
	if (rules && w->nr_flagged < MOVE_STACKS)
		w->flagged[w->nr_flagged++] = seq;
	return 0;
}

/*
 * The move is over: every importer of a DMABUF it revoked has unmapped
 * (the move waits for them). A DMABUF whose revoked bit differs from what
 * we saw is revoked or restored now.
 */
SEC("fexit/vfio_pci_dma_buf_move")
int BPF_PROG(stock_dmabuf_move, struct vfio_pci_core_device___tsm *vdev, bool revoked)
{
	struct move_walk w = {
		.head = &vdev->dmabufs,
		.pos = BPF_CORE_READ(vdev, dmabufs.next),
	};
	__u32 i;

	if (revoked)
		w.reason = revoke_reason();
	bpf_loop(MAX_WALK, move_cb, &w, 0);
#pragma unroll
	for (i = 0; i < MOVE_STACKS; i++)
		if (i < w.nr_flagged)
			emit_stack(ctx, w.flagged[i]);
	return 0;
}

SEC("fentry/vfio_pci_dma_buf_release")
int BPF_PROG(stock_dmabuf_release, struct dma_buf___tsm *dmabuf)
{
	__u64 key = (__u64)dmabuf;
	struct sbuf *sb = bpf_map_lookup_elem(&sbufs, &key);
	struct buf_state *b;
	__u32 rules = 0;
	struct sbuf copy;

	if (!sb)
		return 0;
	copy = *sb;
	bpf_map_delete_elem(&sbufs, &key);
	ranges_drop(key);
	b = buf_slot(copy.id, false);
	if (b) {
		rules = tsm_check(TSM_REC_VFIO_DMABUF_RELEASE, 0, b->nr_maps ? TSM_F_BUF_MAPPED : 0);
		__sync_lock_test_and_set(&b->buf, 0);
	}
	emit_dmabuf_obj(ctx, TSM_REC_VFIO_DMABUF_RELEASE, copy.id, copy.dev, copy.bar,
			TSM_DMABUF_SHARED, 0, rules);
	return 0;
}

/* ---- the IOMMU ---- */

SEC("fentry/iopt_dmabuf_track_domain")
int BPF_PROG(stock_iopt_track, struct iopt_pages___tsm *pages, void *area, void *domain)
{
	struct hint *h = hint_get(true);

	if (!h)
		return 0;
	h->domain = (__u64)domain;
	h->dmabuf = (__u64)BPF_CORE_READ(pages, dmabuf.attach, dmabuf);
	return 0;
}

SEC("fentry/iopt_revoke_notify")
int BPF_PROG(stock_iopt_revoke_enter)
{
	hint_flag(HINT_REVOKE, true);
	return 0;
}

SEC("fexit/iopt_revoke_notify")
int BPF_PROG(stock_iopt_revoke_exit)
{
	hint_flag(HINT_REVOKE, false);
	return 0;
}

static __always_inline int mmu_event(void *ctx, __u32 type, __u64 domain, const struct smap *m,
				     __u32 arg, __u32 rules)
{
	struct tsm_ev_iommu_dmabuf *e;
	__u64 s;

	e = rec_reserve(type, sizeof(*e), &s);
	if (!e)
		return 0;
	e->domain = domain;
	e->dev = m->dev;
	e->__reserved = 0;
	e->iova = m->iova;
	e->buf = m->buf;
	e->pfn = m->pfn;
	e->npfns = m->npfns;
	e->arg = arg;
	e->__reserved2 = 0;
	rec_submit(ctx, &e->hdr, rules);
	return 0;
}

static long range_find_cb(__u64 i, void *c)
{
	struct range_walk *w = c;
	__u32 k = i;
	struct srange *r = bpf_map_lookup_elem(&ranges, &k);

	if (!r || r->state != 2 || w->want.pfn < r->pfn || w->want.pfn >= r->pfn + r->npfns)
		return 0;
	if (w->want.dmabuf && r->dmabuf == w->want.dmabuf) {
		w->out = *r;
		w->exact = 1;
		return 1;
	}
	if (!w->found)
		w->out = *r;
	w->found++;
	return 0;
}

/*
 * The live DMABUF whose range holds @pfn: the one iommufd said it maps into
 * @domain when that one holds it, else the only one that does. Two
 * DMABUFs over the same pages and no word from iommufd: the mapping cannot
 * be told to one of them (counted lost, so the verdict cannot pass).
 */
static __always_inline int range_find(__u64 domain, __u64 pfn, struct srange *out)
{
	struct hint *h = hint_get(false);
	struct range_walk w = { .want = { .pfn = pfn } };

	if (h && h->domain == domain)
		w.want.dmabuf = h->dmabuf;
	bpf_loop(MAX_RANGES, range_find_cb, &w, 0);
	if (!w.exact && w.found > 1) {
		count_lost(TSM_LOST_MAP_FULL);
		return 0;
	}
	*out = w.out;
	return w.exact || w.found;
}

SEC("fexit/iommu_map_nosync")
int BPF_PROG(stock_iommu_map, void *domain, unsigned long iova, __u64 paddr, __u64 size,
	     int prot, unsigned int gfp, int ret)
{
	__u64 pfn = paddr >> PAGE_SHIFT, key = (__u64)domain;
	struct sdom *d, *z;
	struct buf_state *b;
	struct srange r;
	struct smap m;
	__u32 facts = 0, zero = 0, i;

	if (ret || pfn < pfn_lo || pfn >= pfn_hi || !range_find(key, pfn, &r))
		return 0;
	m.state = 2;
	m.dev = r.dev;
	m.iova = iova;
	m.buf = r.buf;
	m.pfn = pfn;
	m.npfns = (size + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT;
	d = bpf_map_lookup_elem(&doms, &key);
	if (!d) {
		z = bpf_map_lookup_elem(&dom_zero, &zero);
		if (z)
			bpf_map_update_elem(&doms, &key, z, BPF_NOEXIST);
		d = bpf_map_lookup_elem(&doms, &key);
	}
	if (!d) {
		count_lost(TSM_LOST_MAP_FULL);
		return 0;
	}
	for (i = 0; i < DOM_MAPS; i++)
		if (!__sync_val_compare_and_swap(&d->m[i].state, 0, 1))
			break;
	if (i >= DOM_MAPS) {
		count_lost(TSM_LOST_MAP_FULL);
		return 0;
	}
	d->m[i].dev = m.dev;
	d->m[i].iova = m.iova;
	d->m[i].buf = m.buf;
	d->m[i].pfn = m.pfn;
	d->m[i].npfns = m.npfns;
	__sync_lock_test_and_set(&d->m[i].state, 2);
	b = buf_slot(r.buf, false);
	if (b) {
		if (b->revoked)
			facts |= TSM_F_BUF_REVOKED;
		__sync_fetch_and_add(&b->nr_maps, 1);
	}
	return mmu_event(ctx, TSM_REC_IOMMU_MAP_DMABUF, key, &m, TSM_DMABUF_SHARED,
			 tsm_check(TSM_REC_IOMMU_MAP_DMABUF, 0, facts));
}

struct unmap_walk {
	struct sdom *d;
	__u64 domain;
	__u64 page;		/* first page of the range */
	__u64 npages;
	__u32 reason;
	__u32 all;
};

static long unmap_cb(__u64 i, void *c)
{
	struct unmap_walk *w = c;
	struct buf_state *b;
	struct smap m;

	if (i >= DOM_MAPS)
		return 1;
	m = w->d->m[i];
	if (m.state != 2 ||
	    (!w->all && !tsm_range_overlap(m.iova >> PAGE_SHIFT, m.npfns, w->page, w->npages)))
		return 0;
	/* whoever frees the entry tells */
	if (__sync_val_compare_and_swap(&w->d->m[i].state, 2, 0) != 2)
		return 0;
	b = buf_slot(m.buf, false);
	if (b && b->nr_maps)
		__sync_fetch_and_add(&b->nr_maps, (__u32)-1);
	mmu_event(NULL, TSM_REC_IOMMU_UNMAP_DMABUF, w->domain, &m, w->reason, 0);
	return 0;
}

/* the domain's mappings of DMABUF pages in [iova, +size) (all: every one): gone */
static __always_inline void mmu_unmapped(__u64 domain, __u64 iova, __u64 size, __u32 reason,
					 bool all)
{
	struct unmap_walk w = {
		.d = bpf_map_lookup_elem(&doms, &domain),
		.domain = domain,
		.page = iova >> PAGE_SHIFT,
		.npages = (size >> PAGE_SHIFT) + !!(size & ((1 << PAGE_SHIFT) - 1)),
		.reason = reason,
		.all = all,
	};

	if (!w.d || (!size && !all))
		return;
	bpf_loop(DOM_MAPS, unmap_cb, &w, 0);
}

static __always_inline __u32 unmap_reason(void)
{
	struct hint *h = hint_get(false);

	return h && (h->flags & HINT_REVOKE) ? TSM_UNMAP_REVOKE : TSM_UNMAP_USER;
}

SEC("fexit/iommu_unmap")
int BPF_PROG(stock_iommu_unmap, void *domain, unsigned long iova, __u64 size, __u64 ret)
{
	mmu_unmapped((__u64)domain, iova, ret, unmap_reason(), false);
	return 0;
}

SEC("fexit/iommu_unmap_fast")
int BPF_PROG(stock_iommu_unmap_fast, void *domain, unsigned long iova, __u64 size,
	     void *gather, __u64 ret)
{
	mmu_unmapped((__u64)domain, iova, ret, unmap_reason(), false);
	return 0;
}

SEC("fentry/iommu_domain_free")
int BPF_PROG(stock_iommu_domain_free, void *domain)
{
	__u64 key = (__u64)domain;

	mmu_unmapped(key, 0, 0, TSM_UNMAP_DESTROY, true);
	bpf_map_delete_elem(&doms, &key);
	return 0;
}

/* ---- KVM ---- */

struct revoked_find {
	__u64 pfn;
	__u64 npfns;
	__u32 hit;
};

static long revoked_find_cb(__u64 i, void *c)
{
	struct revoked_find *w = c;
	__u32 k = i;
	struct srange *r = bpf_map_lookup_elem(&ranges, &k);
	struct sbuf *sb;
	__u64 key;

	if (!r || r->state != 2 || !tsm_range_overlap(r->pfn, r->npfns, w->pfn, w->npfns))
		return 0;
	key = r->dmabuf;
	sb = bpf_map_lookup_elem(&sbufs, &key);
	if (sb && sb->revoked) {
		w->hit = 1;
		return 1;
	}
	return 0;
}

/* entries that a huge one split into: their stacks follow the split */
#define SPLIT_STACKS	4

struct spte_walk {
	__u64 gfn;
	__u64 pfn;
	__u32 as_id;
	__u32 level;		/* of the children */
	__u32 nr_flagged;
	__u32 __pad;
	__u64 flagged[SPLIT_STACKS];
};

static __always_inline __u64 level_pages(__u32 level)
{
	return level == 3 ? 1ULL << 18 : level == 2 ? 1ULL << 9 : 1;
}

/*
 * A leaf entry now maps [pfn, +pages of @level) at @gfn: followed if the
 * pages are a BAR's. Returns the sequence number of its record when the
 * check flagged it, else 0.
 */
static __always_inline __u64 spte_made(__u32 as_id, __u64 gfn, __u64 pfn, __u32 level)
{
	struct spte_key k = { .gfn = gfn, .pfn = pfn, .as_id = as_id };
	struct spte_val v = { .npfns = level_pages(level), .level = level };
	struct bar_find bf = { .pfn = pfn };
	struct revoked_find rf = { .pfn = pfn, .npfns = v.npfns };
	struct tsm_ev_kvm_spte *e;
	__u32 rules;
	__u64 s;

	if (pfn + v.npfns <= bar_lo || pfn >= bar_hi)
		return 0;
	bpf_loop(MAX_BARS, bar_find_cb, &bf, 0);
	if (!bf.found)
		return 0;
	v.dev = bf.dev;
	if (bpf_map_update_elem(&sptes, &k, &v, BPF_NOEXIST)) {
		/* full, or an entry whose zap we did not see: not followed */
		count_lost(TSM_LOST_MAP_FULL);
		return 0;
	}
	bpf_loop(MAX_RANGES, revoked_find_cb, &rf, 0);
	rules = tsm_check(TSM_REC_KVM_SPTE_MAP, 0, rf.hit ? TSM_F_BUF_REVOKED : 0);
	e = rec_reserve(TSM_REC_KVM_SPTE_MAP, sizeof(*e), &s);
	if (!e)
		return 0;
	e->gfn = gfn;
	e->pfn = pfn;
	e->npfns = v.npfns;
	e->dev = v.dev;
	e->as_id = as_id;
	e->level = level;
	if (rules)
		e->hdr.flags |= TSM_REC_F_FLAGGED;
	bpf_ringbuf_submit(e, wakeup(rules, s));
	return rules ? s : 0;
}

/* the leaf entry that mapped @pfn at @gfn is gone, if it was followed */
static __always_inline void spte_gone(__u32 as_id, __u64 gfn, __u64 pfn)
{
	struct spte_key k = { .gfn = gfn, .pfn = pfn, .as_id = as_id };
	struct tsm_ev_kvm_spte *e;
	struct spte_val *vp, v;
	__u64 s;

	vp = bpf_map_lookup_elem(&sptes, &k);
	if (!vp)
		return;
	v = *vp;
	/* whoever deletes it tells */
	if (bpf_map_delete_elem(&sptes, &k))
		return;
	e = rec_reserve(TSM_REC_KVM_SPTE_UNMAP, sizeof(*e), &s);
	if (!e)
		return;
	e->gfn = gfn;
	e->pfn = pfn;
	e->npfns = v.npfns;
	e->dev = v.dev;
	e->as_id = as_id;
	e->level = v.level;
	bpf_ringbuf_submit(e, wakeup(0, s));
}

static long split_cb(__u64 i, void *c)
{
	struct spte_walk *w = c;
	__u64 n = level_pages(w->level), s;

	s = spte_made(w->as_id, w->gfn + i * n, w->pfn + i * n, w->level);
	if (s && w->nr_flagged < SPLIT_STACKS)
		w->flagged[w->nr_flagged++] = s;
	return 0;
}

static __always_inline bool spte_leaf(__u64 spte, int level)
{
	return (spte & SPTE_PRESENT) && (level == 1 || (spte & SPTE_HUGE));
}

/*
 * Every change of an entry of KVM's TDP MMU: a fault maps, a zap (an MMU
 * notifier's invalidation when VFIO zaps the BAR's VMAs, a memslot's
 * deletion, the VM's end) unmaps. A change of the accessed or dirty bits
 * keeps the mapping. A huge entry split into a table keeps its pages
 * mapped through its children, which KVM fills without an event each:
 * they are followed from the split on.
 */
SEC("tp_btf/kvm_tdp_mmu_spte_changed")
int BPF_PROG(stock_kvm_spte, int as_id, __u64 gfn, int level, __u64 old_spte,
	     __u64 new_spte)
{
	bool was = spte_leaf(old_spte, level), is = spte_leaf(new_spte, level);
	__u64 old_pfn = (old_spte & SPTE_ADDR) >> PAGE_SHIFT;
	__u64 new_pfn = (new_spte & SPTE_ADDR) >> PAGE_SHIFT;
	struct spte_walk w = {};
	__u64 s;
	__u32 i;

	if (level < 1 || level > 3 || (was && is && old_pfn == new_pfn))
		return 0;
	if (was)
		spte_gone(as_id, gfn, old_pfn);
	if (is) {
		s = spte_made(as_id, gfn, new_pfn, level);
		if (s)
			emit_stack(ctx, s);
		return 0;
	}
	if (!was || !(new_spte & SPTE_PRESENT) || level == 1)
		return 0;
	/* split: the same pages, now through 512 entries of the level below */
	if (old_pfn + level_pages(level) <= bar_lo || old_pfn >= bar_hi)
		return 0;
	w.gfn = gfn;
	w.pfn = old_pfn;
	w.as_id = as_id;
	w.level = level - 1;
	bpf_loop(512, split_cb, &w, 0);
#pragma unroll
	for (i = 0; i < SPLIT_STACKS; i++)
		if (i < w.nr_flagged)
			emit_stack(ctx, w.flagged[i]);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
