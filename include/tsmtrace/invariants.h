/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The invariants of docs/invariants.md as one definition for every checker.
 *
 * A checker (the userspace engine in tools/tsmtrace/engine.c, the BPF
 * programs in bpf/) keeps the state of devices, DMABUFs and mappings as
 * ranges in whatever structure suits it, and at each event computes a small
 * set of facts (TSM_F_*) about the objects the event touches. tsm_check()
 * maps (event, argument, facts) to the set of broken rules (TSM_R_*); every
 * rule belongs to one invariant (TSM-I1 .. TSM-I9) and names the state the
 * event was not expected in. The decision lives here only, so the live and
 * the offline checks cannot disagree on it.
 *
 * A fact the checker cannot establish (an object of unknown state) must be
 * given its non-violating value, and the checker must mark the verdict
 * INCOMPLETE: no false VIOLATION and no false PASS.
 *
 * Pure C, no libc, bounded loops only: compiles for BPF as well.
 */
#ifndef __TSMTRACE_INVARIANTS_H
#define __TSMTRACE_INVARIANTS_H

#include <linux/types.h>
#include "events.h"

#ifndef __tsm_inline
#ifdef __bpf__
#define __tsm_inline static __always_inline
#else
#define __tsm_inline static inline
#endif
#endif

enum tsm_inv {
	TSM_I_NONE = 0,
	TSM_I1,	/* no shared mapping of a private PFN */
	TSM_I2,	/* a DMABUF's kind matches the layout of the PFNs it covers */
	TSM_I3,	/* a private DMABUF is never imported into an IOAS */
	TSM_I4,	/* private PFNs only in private slots of the bound VM */
	TSM_I5,	/* revocation is complete */
	TSM_I6,	/* unbind leaves nothing private behind */
	TSM_I7,	/* no mapping outlives its DMABUF */
	TSM_I8,	/* a failed bind leaves every page shared */
	TSM_I9,	/* no host CPU mapping of a private PFN */
	TSM_I_NR,
};

/* facts about the objects an event touches, computed by the checker */
#define TSM_F_OVERLAPS_PRIVATE	(1u << 0)  /* some PFN of the event's range is private */
#define TSM_F_ALL_PRIVATE	(1u << 1)  /* every PFN of the event's range is private */
#define TSM_F_BUF_PRIVATE	(1u << 2)  /* the source DMABUF is of kind PRIVATE */
#define TSM_F_BUF_REVOKED	(1u << 3)  /* the source DMABUF (KVM entry: one of its pages') was revoked */
#define TSM_F_VM_BOUND		(1u << 5)  /* the slot's VM is the VM the TDI is bound to */
#define TSM_F_TDI_BOUND		(1u << 6)  /* the device's TDI is bound (bind_end ok, no unbind_end) */
#define TSM_F_MAPPED_SHARED	(1u << 7)  /* an IOAS mapping or a shared slot overlaps the range */
#define TSM_F_SHARED_BUF_LIVE	(1u << 8)  /* a shared, unrevoked DMABUF overlaps the range */
#define TSM_F_PRIVATE_BUF_LIVE	(1u << 9)  /* a private, unrevoked DMABUF overlaps / exists */
#define TSM_F_PRIVATE_SLOT	(1u << 10) /* a private slot overlaps the range / maps the device */
#define TSM_F_BUF_MAPPED	(1u << 11) /* a mapping derived from the DMABUF (revoke: or KVM's of its pages) remains */
#define TSM_F_PFN_PRIVATE	(1u << 12) /* the device still has private PFNs */
#define TSM_F_CPU_MAPPED	(1u << 13) /* a host CPU mapping (since its BAR's last zap) overlaps the range */

/* rules: one bit each, each belongs to one invariant */
enum tsm_rule {
	TSM_R_I1_RANGE_MAPPED_SHARED,
	TSM_R_I1_MAP_PFN_PRIVATE,
	TSM_R_I2_RANGE_SHARED_BUF_LIVE,
	TSM_R_I2_RANGE_PRIVATE_BUF_LIVE,
	TSM_R_I2_EXPORT_SHARED_OVER_PRIVATE,
	TSM_R_I2_EXPORT_PRIVATE_OVER_SHARED,
	TSM_R_I2_EXPORT_TDI_UNBOUND,
	TSM_R_I3_IOAS_PRIVATE_BUF,
	TSM_R_I4_SLOT_PFN_SHARED,
	TSM_R_I4_SLOT_BUF_SHARED,
	TSM_R_I4_SLOT_WRONG_VM,
	TSM_R_I4_SHARED_SLOT_PRIVATE_BUF,
	TSM_R_I4_RANGE_PRIVATE_SLOT,
	TSM_R_I5_REVOKE_MAPPED,
	TSM_R_I5_MAP_REVOKED,
	TSM_R_I6_PRIVATE_BUF_LIVE,
	TSM_R_I6_PRIVATE_SLOT,
	TSM_R_I6_PFN_PRIVATE,
	TSM_R_I7_RELEASE_MAPPED,
	TSM_R_I8_PFN_PRIVATE,
	TSM_R_I9_RANGE_CPU_MAPPED,
	TSM_R_I9_CPU_MAP_PRIVATE,
	TSM_R_NR,
};

#define TSM_RULE(r)	(1u << (r))

/*
 * tsm_check - the rules an event breaks
 * @type: enum tsm_rec_type of the event
 * @arg: range: new_attr; bind_end: 1 if ret < 0; slot bind: private;
 *	 otherwise 0
 * @f: TSM_F_* facts the checker established for this event
 *
 * Returns a mask of TSM_RULE(TSM_R_*); 0 when the event is expected.
 */
__tsm_inline __u32 tsm_check(__u32 type, __u32 arg, __u32 f)
{
	__u32 r = 0;

	switch (type) {
	case TSM_REC_PCI_TSM_RANGE:
		if (arg == TSM_ATTR_PRIVATE) {
			if (f & TSM_F_MAPPED_SHARED)
				r |= TSM_RULE(TSM_R_I1_RANGE_MAPPED_SHARED);
			if (f & TSM_F_SHARED_BUF_LIVE)
				r |= TSM_RULE(TSM_R_I2_RANGE_SHARED_BUF_LIVE);
			if (f & TSM_F_CPU_MAPPED)
				r |= TSM_RULE(TSM_R_I9_RANGE_CPU_MAPPED);
		} else {
			if (f & TSM_F_PRIVATE_BUF_LIVE)
				r |= TSM_RULE(TSM_R_I2_RANGE_PRIVATE_BUF_LIVE);
			if (f & TSM_F_PRIVATE_SLOT)
				r |= TSM_RULE(TSM_R_I4_RANGE_PRIVATE_SLOT);
		}
		break;
	case TSM_REC_PCI_TSM_BIND_END:
		if (arg && (f & TSM_F_PFN_PRIVATE))
			r |= TSM_RULE(TSM_R_I8_PFN_PRIVATE);
		break;
	case TSM_REC_PCI_TSM_UNBIND_END:
		if (f & TSM_F_PRIVATE_BUF_LIVE)
			r |= TSM_RULE(TSM_R_I6_PRIVATE_BUF_LIVE);
		if (f & TSM_F_PRIVATE_SLOT)
			r |= TSM_RULE(TSM_R_I6_PRIVATE_SLOT);
		if (f & TSM_F_PFN_PRIVATE)
			r |= TSM_RULE(TSM_R_I6_PFN_PRIVATE);
		break;
	case TSM_REC_VFIO_DMABUF_EXPORT:
	case TSM_REC_VFIO_DMABUF_RESTORE:	/* usable again: as if exported */
		if (f & TSM_F_BUF_PRIVATE) {
			if (!(f & TSM_F_TDI_BOUND))
				r |= TSM_RULE(TSM_R_I2_EXPORT_TDI_UNBOUND);
			else if (!(f & TSM_F_ALL_PRIVATE))
				r |= TSM_RULE(TSM_R_I2_EXPORT_PRIVATE_OVER_SHARED);
		} else if (f & TSM_F_OVERLAPS_PRIVATE) {
			r |= TSM_RULE(TSM_R_I2_EXPORT_SHARED_OVER_PRIVATE);
		}
		break;
	case TSM_REC_VFIO_DMABUF_REVOKE:
		if (f & TSM_F_BUF_MAPPED)
			r |= TSM_RULE(TSM_R_I5_REVOKE_MAPPED);
		break;
	case TSM_REC_VFIO_DMABUF_RELEASE:
		if (f & TSM_F_BUF_MAPPED)
			r |= TSM_RULE(TSM_R_I7_RELEASE_MAPPED);
		break;
	case TSM_REC_IOMMUFD_IOAS_MAP_DMABUF:
	case TSM_REC_IOMMU_MAP_DMABUF:
		if (f & TSM_F_BUF_PRIVATE)
			r |= TSM_RULE(TSM_R_I3_IOAS_PRIVATE_BUF);
		else if (f & TSM_F_OVERLAPS_PRIVATE)
			r |= TSM_RULE(TSM_R_I1_MAP_PFN_PRIVATE);
		goto buf_state;
	case TSM_REC_KVM_DMABUF_SLOT_BIND:
		if (arg) {
			if (!(f & TSM_F_BUF_PRIVATE))
				r |= TSM_RULE(TSM_R_I4_SLOT_BUF_SHARED);
			else if (!(f & TSM_F_ALL_PRIVATE))
				r |= TSM_RULE(TSM_R_I4_SLOT_PFN_SHARED);
			if (!(f & TSM_F_VM_BOUND))
				r |= TSM_RULE(TSM_R_I4_SLOT_WRONG_VM);
		} else if (f & TSM_F_BUF_PRIVATE) {
			r |= TSM_RULE(TSM_R_I4_SHARED_SLOT_PRIVATE_BUF);
		} else if (f & TSM_F_OVERLAPS_PRIVATE) {
			r |= TSM_RULE(TSM_R_I1_MAP_PFN_PRIVATE);
		}
		goto buf_state;
	case TSM_REC_VFIO_PCI_BAR_MAP:
		if (f & TSM_F_OVERLAPS_PRIVATE)
			r |= TSM_RULE(TSM_R_I9_CPU_MAP_PRIVATE);
		break;
	case TSM_REC_KVM_SPTE_MAP:	/* pages of a BAR, whatever made the mapping */
buf_state:
		if (f & TSM_F_BUF_REVOKED)
			r |= TSM_RULE(TSM_R_I5_MAP_REVOKED);
		break;
	default:
		break;
	}
	return r;
}

/* the facts tsm_check() reads for an event type: a checker computes these */
__tsm_inline __u32 tsm_check_needs(__u32 type, __u32 arg)
{
	switch (type) {
	case TSM_REC_PCI_TSM_RANGE:
		return arg == TSM_ATTR_PRIVATE ?
			TSM_F_MAPPED_SHARED | TSM_F_SHARED_BUF_LIVE | TSM_F_CPU_MAPPED :
			TSM_F_PRIVATE_BUF_LIVE | TSM_F_PRIVATE_SLOT;
	case TSM_REC_PCI_TSM_BIND_END:
		return arg ? TSM_F_PFN_PRIVATE : 0;
	case TSM_REC_PCI_TSM_UNBIND_END:
		return TSM_F_PRIVATE_BUF_LIVE | TSM_F_PRIVATE_SLOT | TSM_F_PFN_PRIVATE;
	case TSM_REC_VFIO_DMABUF_EXPORT:
	case TSM_REC_VFIO_DMABUF_RESTORE:
		return TSM_F_BUF_PRIVATE | TSM_F_TDI_BOUND | TSM_F_ALL_PRIVATE |
		       TSM_F_OVERLAPS_PRIVATE;
	case TSM_REC_VFIO_DMABUF_REVOKE:
	case TSM_REC_VFIO_DMABUF_RELEASE:
		return TSM_F_BUF_MAPPED;
	case TSM_REC_IOMMUFD_IOAS_MAP_DMABUF:
	case TSM_REC_IOMMU_MAP_DMABUF:
	case TSM_REC_KVM_DMABUF_SLOT_BIND:
		return TSM_F_BUF_PRIVATE | TSM_F_OVERLAPS_PRIVATE | TSM_F_ALL_PRIVATE |
		       TSM_F_VM_BOUND | TSM_F_BUF_REVOKED;
	case TSM_REC_KVM_SPTE_MAP:
		return TSM_F_BUF_REVOKED;
	case TSM_REC_VFIO_PCI_BAR_MAP:
		return TSM_F_OVERLAPS_PRIVATE;
	default:
		return 0;
	}
}

/*
 * Range helpers for checkers that keep a handful of ranges in an array
 * (the BPF side): bounded loops, n <= TSM_SMALL_RANGES.
 */
#define TSM_SMALL_RANGES	16

struct tsm_range {
	__u64 pfn;
	__u64 npfns;
};

__tsm_inline int tsm_range_overlap(__u64 a, __u64 an, __u64 b, __u64 bn)
{
	return an && bn && a < b + bn && b < a + an;
}

/* does any of r[0..n) overlap [pfn, pfn + npfns)? */
__tsm_inline int tsm_small_overlaps(const struct tsm_range *r, __u32 n,
				    __u64 pfn, __u64 npfns)
{
	__u32 i;

	for (i = 0; i < TSM_SMALL_RANGES; i++) {
		if (i >= n)
			break;
		if (tsm_range_overlap(r[i].pfn, r[i].npfns, pfn, npfns))
			return 1;
	}
	return 0;
}

/* how many PFNs of [pfn, pfn + npfns) do r[0..n) (disjoint) cover? */
__tsm_inline __u64 tsm_small_covered(const struct tsm_range *r, __u32 n,
				     __u64 pfn, __u64 npfns)
{
	__u64 c = 0, lo, hi;
	__u32 i;

	for (i = 0; i < TSM_SMALL_RANGES; i++) {
		if (i >= n)
			break;
		lo = r[i].pfn > pfn ? r[i].pfn : pfn;
		hi = r[i].pfn + r[i].npfns < pfn + npfns ?
		     r[i].pfn + r[i].npfns : pfn + npfns;
		if (hi > lo)
			c += hi - lo;
	}
	return c;
}

#endif /* __TSMTRACE_INVARIANTS_H */
