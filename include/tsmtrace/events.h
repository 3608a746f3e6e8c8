/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tsmtrace event records: one record type per tracepoint of the event
 * contract (docs/tracepoints.md, schema 1), plus a few records the recorder
 * itself produces (lost events, stacks, start state).
 *
 * The stock-kernel source (bpf/stock.bpf.c) has no tracepoints of ours to
 * read: it builds the same records from mainline's functions, plus the
 * IOMMU's own mappings of DMABUF pages (iommu_map, schema 1.2) and KVM's
 * page-table entries of BAR pages (kvm_spte, schema 1.3). Schema 1.4 adds the
 * host CPU mappings of BAR pages (vfio_pci_bar_*).
 *
 * Shared by the BPF programs (bpf/), the tool (tools/tsmtrace/) and the
 * tests. Plain fixed-width types only: no vmlinux.h, no libc.
 *
 * Every record starts with struct tsm_rec_hdr; hdr.size is the whole record
 * in bytes, a multiple of 8. A reader accepts records longer than the layout
 * it knows (fields appended later) and refuses shorter ones.
 */
#ifndef __TSMTRACE_EVENTS_H
#define __TSMTRACE_EVENTS_H

#include <linux/types.h>

#define TSM_SCHEMA_MAJOR	1
#define TSM_SCHEMA_MINOR	4

enum tsm_rec_type {
	TSM_REC_NONE = 0,
	/* pci_tsm */
	TSM_REC_PCI_TSM_BIND_BEGIN = 1,		/* struct tsm_ev_pci_tsm_op */
	TSM_REC_PCI_TSM_BIND_END,
	TSM_REC_PCI_TSM_UNBIND_BEGIN,
	TSM_REC_PCI_TSM_UNBIND_END,
	TSM_REC_PCI_TSM_TDI_STATE,		/* struct tsm_ev_pci_tsm_tdi_state */
	TSM_REC_PCI_TSM_RANGE,			/* struct tsm_ev_pci_tsm_range */
	/* vfio_dmabuf */
	TSM_REC_VFIO_DMABUF_EXPORT_RANGE,	/* struct tsm_ev_vfio_dmabuf_range */
	TSM_REC_VFIO_DMABUF_EXPORT,		/* struct tsm_ev_vfio_dmabuf_obj */
	TSM_REC_VFIO_DMABUF_REVOKE,
	TSM_REC_VFIO_DMABUF_RELEASE,
	/* iommufd */
	TSM_REC_IOMMUFD_IOAS_MAP_DMABUF,	/* struct tsm_ev_iommufd_ioas_dmabuf */
	TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF,
	/* kvm */
	TSM_REC_KVM_DMABUF_SLOT_BIND,		/* struct tsm_ev_kvm_dmabuf_slot */
	TSM_REC_KVM_DMABUF_SLOT_UNBIND,
	/* vfio_dmabuf, schema 1.1 */
	TSM_REC_VFIO_DMABUF_RESTORE,		/* struct tsm_ev_vfio_dmabuf_obj */
	/* iommu, schema 1.2: the stock-kernel source */
	TSM_REC_IOMMU_MAP_DMABUF,		/* struct tsm_ev_iommu_dmabuf */
	TSM_REC_IOMMU_UNMAP_DMABUF,
	/* kvm, schema 1.3: the stock-kernel source */
	TSM_REC_KVM_SPTE_MAP,			/* struct tsm_ev_kvm_spte */
	TSM_REC_KVM_SPTE_UNMAP,
	/* vfio_pci, schema 1.4: host CPU mappings of BAR pages */
	TSM_REC_VFIO_PCI_BAR_MAP,		/* struct tsm_ev_vfio_pci_bar */
	TSM_REC_VFIO_PCI_BAR_ZAP,
	TSM_REC_NR_EVENTS,			/* records above are kernel events */

	/* records of the recorder */
	TSM_REC_LOST = 64,			/* struct tsm_rec_lost */
	TSM_REC_STACK,				/* struct tsm_rec_stack */
	TSM_REC_STATE_UNKNOWN,			/* struct tsm_rec_state_unknown */
	TSM_REC_MAX,
};

/* masks of kernel event types (bit n: record type n), by tracepoint system */
#define TSM_EV_BIT(type)	(1u << (type))
#define TSM_EV_PCI_TSM		(0x3fu << TSM_REC_PCI_TSM_BIND_BEGIN)
#define TSM_EV_VFIO_DMABUF	(0xfu << TSM_REC_VFIO_DMABUF_EXPORT_RANGE)
#define TSM_EV_IOMMUFD		(0x3u << TSM_REC_IOMMUFD_IOAS_MAP_DMABUF)
#define TSM_EV_KVM		(0x3u << TSM_REC_KVM_DMABUF_SLOT_BIND)
/*
 * The IOMMU's mappings of DMABUF pages, seen at the IOMMU API (the
 * stock-kernel source): the same place as the IOAS events, one level down.
 */
#define TSM_EV_IOMMU		(0x3u << TSM_REC_IOMMU_MAP_DMABUF)
/*
 * KVM's page-table entries (TDP MMU) of BAR pages, seen at KVM's own
 * tracepoint (the stock-kernel source): the pages a VM can reach, whatever
 * made the mapping (a slot over the VMM's mmap of the BAR, or a DMABUF).
 */
#define TSM_EV_KVM_SPTE		(0x3u << TSM_REC_KVM_SPTE_MAP)
/* the host CPU's mappings of BAR pages (a VMM's mmap of a VFIO region) */
#define TSM_EV_VFIO_PCI		(0x3u << TSM_REC_VFIO_PCI_BAR_MAP)
#define TSM_EV_ALL		(TSM_EV_PCI_TSM | TSM_EV_VFIO_DMABUF | TSM_EV_IOMMUFD | TSM_EV_KVM | \
				 TSM_EV_VFIO_PCI)
/*
 * Events a kernel has only if it needs them: used when present, never counted
 * as missing. vfio_dmabuf_restore: the kernel un-revokes DMABUFs (mainline
 * does when memory decode comes back on); a kernel that never does has no
 * such event.
 */
#define TSM_EV_OPTIONAL		TSM_EV_BIT(TSM_REC_VFIO_DMABUF_RESTORE)
#define TSM_EV_KNOWN		(TSM_EV_ALL | TSM_EV_OPTIONAL | TSM_EV_IOMMU | TSM_EV_KVM_SPTE)
/* every kind a source may observe: the mappings seen one level down too */
#define TSM_EV_VIEWS		(TSM_EV_ALL | TSM_EV_IOMMU | TSM_EV_KVM_SPTE)

/**
 * struct tsm_rec_hdr - first 32 bytes of every record
 * @type: enum tsm_rec_type
 * @size: size of the whole record in bytes, multiple of 8
 * @cpu: CPU the event fired on
 * @pid: thread id (kernel pid) of the current task
 * @flags: TSM_REC_F_*
 * @ts: CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns())
 * @seq: sequence number, +1 per kernel event; a gap means lost events.
 *	 Recorder records (type >= TSM_REC_LOST) carry the seq of the next
 *	 kernel event and do not advance it.
 */
struct tsm_rec_hdr {
	__u16 type;
	__u16 size;
	__u32 cpu;
	__u32 pid;
	__u32 flags;
	__u64 ts;
	__u64 seq;
};

/* the in-kernel check flagged this event; a TSM_REC_STACK record follows */
#define TSM_REC_F_FLAGGED	(1u << 0)

/* enum tsm_attr */
#define TSM_ATTR_SHARED		0
#define TSM_ATTR_PRIVATE	1
/* enum tsm_tdi_state */
#define TSM_TDI_CONFIG_UNLOCKED	0
#define TSM_TDI_CONFIG_LOCKED	1
#define TSM_TDI_RUN		2
#define TSM_TDI_ERROR		3
/* enum tsm_unbind_reason */
#define TSM_UNBIND_USER		0
#define TSM_UNBIND_DESTROY	1
#define TSM_UNBIND_ERROR	2
#define TSM_UNBIND_RELEASE	3
/* enum dmabuf_kind */
#define TSM_DMABUF_SHARED	0
#define TSM_DMABUF_PRIVATE	1
/* enum dmabuf_revoke_reason */
#define TSM_REVOKE_BIND		0
#define TSM_REVOKE_UNBIND	1
#define TSM_REVOKE_TDI_ERROR	2
#define TSM_REVOKE_RESET	3
#define TSM_REVOKE_MEM_DISABLE	4
#define TSM_REVOKE_CLOSE	5
#define TSM_REVOKE_D3		6
#define TSM_REVOKE_UNSPEC	7	/* schema 1.2: the stock-kernel source cannot tell */
/* enum map_unmap_reason */
#define TSM_UNMAP_USER		0
#define TSM_UNMAP_REVOKE	1
#define TSM_UNMAP_DESTROY	2

/* class pci_tsm_op: pci_tsm_{bind,unbind}_{begin,end} */
struct tsm_ev_pci_tsm_op {
	struct tsm_rec_hdr hdr;
	__u32 dev;
	__u32 tdi_id;
	__u64 vm;
	__u32 reason;
	__s32 ret;
};

/* class pci_tsm_tdi_state */
struct tsm_ev_pci_tsm_tdi_state {
	struct tsm_rec_hdr hdr;
	__u32 dev;
	__u32 tdi_id;
	__u32 old_state;
	__u32 new_state;
};

/* class pci_tsm_range */
struct tsm_ev_pci_tsm_range {
	struct tsm_rec_hdr hdr;
	__u32 dev;
	__u32 bar;
	__u64 pfn;
	__u64 npfns;
	__u32 old_attr;
	__u32 new_attr;
};

/* class vfio_dmabuf_range: vfio_dmabuf_export_range */
struct tsm_ev_vfio_dmabuf_range {
	struct tsm_rec_hdr hdr;
	__u64 buf;
	__u32 dev;
	__u32 bar;
	__u32 kind;
	__u32 __reserved;
	__u64 pfn;
	__u64 npfns;
};

/* class vfio_dmabuf_obj: vfio_dmabuf_{export,revoke,release} */
struct tsm_ev_vfio_dmabuf_obj {
	struct tsm_rec_hdr hdr;
	__u64 buf;
	__u32 dev;
	__u32 bar;
	__u32 kind;
	__u32 arg;
};

/* class iommufd_ioas_dmabuf: iommufd_ioas_{map,unmap}_dmabuf */
struct tsm_ev_iommufd_ioas_dmabuf {
	struct tsm_rec_hdr hdr;
	__u64 ctx;
	__u32 ioas;
	__u32 __reserved;
	__u64 iova;
	__u64 buf;
	__u64 pfn;
	__u64 npfns;
	__u32 arg;	/* map: dmabuf_kind, unmap: map_unmap_reason */
	__u32 __reserved2;
};

/*
 * iommu_{map,unmap}_dmabuf (schema 1.2): an IOMMU domain maps, or stopped
 * mapping, [iova, +npfns pages) to PFNs of a DMABUF. Laid out as
 * tsm_ev_iommufd_ioas_dmabuf, with the domain in place of the iommufd
 * context and the device in place of the IOAS.
 */
struct tsm_ev_iommu_dmabuf {
	struct tsm_rec_hdr hdr;
	__u64 domain;
	__u32 dev;
	__u32 __reserved;
	__u64 iova;
	__u64 buf;
	__u64 pfn;
	__u64 npfns;
	__u32 arg;	/* map: dmabuf_kind, unmap: map_unmap_reason */
	__u32 __reserved2;
};

/*
 * kvm_spte_{map,unmap} (schema 1.3): a leaf entry of KVM's TDP MMU maps, or
 * stopped mapping, guest frames [gfn, +npfns) to PFNs of a BAR. The
 * kernel's event does not name the VM: the entry is known by its GFN and
 * PFN. @level: 1 for 4 KiB, 2 for 2 MiB, 3 for 1 GiB; @dev: the device
 * whose BAR holds the PFNs (segment << 16 | bus << 8 | devfn), 0 if unknown.
 */
struct tsm_ev_kvm_spte {
	struct tsm_rec_hdr hdr;
	__u64 gfn;
	__u64 pfn;
	__u64 npfns;
	__u32 dev;
	__u16 as_id;
	__u16 level;
};

/*
 * class vfio_pci_bar: vfio_pci_bar_{map,zap} (schema 1.4). map: a fault of a
 * VFIO region mmap put [pfn, +npfns) of BAR @bar into a process; zap: every
 * host CPU mapping of the BAR, [pfn, +npfns), is gone from every process.
 * @dev is the kernel's 64-bit name, segment << 16 | bus << 8 | devfn; the
 * other events' 32-bit @dev is its low half.
 */
struct tsm_ev_vfio_pci_bar {
	struct tsm_rec_hdr hdr;
	__u64 dev;
	__u32 bar;
	__u32 __reserved;
	__u64 pfn;
	__u64 npfns;
};

/* class kvm_dmabuf_slot: kvm_dmabuf_slot_{bind,unbind} */
struct tsm_ev_kvm_dmabuf_slot {
	struct tsm_rec_hdr hdr;
	__u64 vm;
	__u32 slot;
	__u32 __reserved;
	__u64 gfn;
	__u64 buf;
	__u64 pfn;
	__u64 npfns;
	__u32 arg;	/* bind: private (0/1), unbind: map_unmap_reason */
	__u32 __reserved2;
};

/* TSM_REC_LOST: @nr kernel events were lost before hdr.seq */
#define TSM_LOST_RINGBUF	0	/* bpf_ringbuf_reserve() failed */
#define TSM_LOST_MAP_FULL	1	/* a state map was full */
#define TSM_LOST_READER		2	/* the reader fell behind / dropped */
struct tsm_rec_lost {
	struct tsm_rec_hdr hdr;
	__u64 nr;
	__u32 source;
	__u32 __reserved;
};

/* TSM_REC_STACK: the kernel stack at the event with sequence @event_seq */
#define TSM_STACK_MAX		32
struct tsm_rec_stack {
	struct tsm_rec_hdr hdr;
	__u64 event_seq;
	__u32 nr;
	__u32 __reserved;
	__u64 ip[];	/* @nr entries, at most TSM_STACK_MAX */
};

/*
 * TSM_REC_STATE_UNKNOWN: objects may have existed before this record that
 * the trace does not show (tracing began after devices were bound or BARs
 * mapped). The reader treats every object it first meets later as unknown.
 */
struct tsm_rec_state_unknown {
	struct tsm_rec_hdr hdr;
	__u32 why;
	__u32 __reserved;
};

#define TSM_REC_MIN_SIZE(type) tsm_rec_min_size(type)

static inline __u32 tsm_rec_min_size(__u32 type)
{
	switch (type) {
	case TSM_REC_PCI_TSM_BIND_BEGIN:
	case TSM_REC_PCI_TSM_BIND_END:
	case TSM_REC_PCI_TSM_UNBIND_BEGIN:
	case TSM_REC_PCI_TSM_UNBIND_END:
		return sizeof(struct tsm_ev_pci_tsm_op);
	case TSM_REC_PCI_TSM_TDI_STATE:
		return sizeof(struct tsm_ev_pci_tsm_tdi_state);
	case TSM_REC_PCI_TSM_RANGE:
		return sizeof(struct tsm_ev_pci_tsm_range);
	case TSM_REC_VFIO_DMABUF_EXPORT_RANGE:
		return sizeof(struct tsm_ev_vfio_dmabuf_range);
	case TSM_REC_VFIO_DMABUF_EXPORT:
	case TSM_REC_VFIO_DMABUF_REVOKE:
	case TSM_REC_VFIO_DMABUF_RELEASE:
	case TSM_REC_VFIO_DMABUF_RESTORE:
		return sizeof(struct tsm_ev_vfio_dmabuf_obj);
	case TSM_REC_IOMMUFD_IOAS_MAP_DMABUF:
	case TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF:
		return sizeof(struct tsm_ev_iommufd_ioas_dmabuf);
	case TSM_REC_IOMMU_MAP_DMABUF:
	case TSM_REC_IOMMU_UNMAP_DMABUF:
		return sizeof(struct tsm_ev_iommu_dmabuf);
	case TSM_REC_KVM_SPTE_MAP:
	case TSM_REC_KVM_SPTE_UNMAP:
		return sizeof(struct tsm_ev_kvm_spte);
	case TSM_REC_KVM_DMABUF_SLOT_BIND:
	case TSM_REC_KVM_DMABUF_SLOT_UNBIND:
		return sizeof(struct tsm_ev_kvm_dmabuf_slot);
	case TSM_REC_VFIO_PCI_BAR_MAP:
	case TSM_REC_VFIO_PCI_BAR_ZAP:
		return sizeof(struct tsm_ev_vfio_pci_bar);
	case TSM_REC_LOST:
		return sizeof(struct tsm_rec_lost);
	case TSM_REC_STACK:
		return sizeof(struct tsm_rec_stack);
	case TSM_REC_STATE_UNKNOWN:
		return sizeof(struct tsm_rec_state_unknown);
	default:
		return 0;	/* unknown type */
	}
}

#endif /* __TSMTRACE_EVENTS_H */
