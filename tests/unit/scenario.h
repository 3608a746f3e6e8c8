/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Building event sequences for the tests, the synthetic traces and the
 * benchmark: one call per tracepoint, and the flow of ARCHITECTURE.md
 * (steps 1-7) with faults that can be injected into it.
 */
#ifndef __TSM_SCENARIO_H
#define __TSM_SCENARIO_H

#include <stdbool.h>
#include <tsmtrace/events.h>

typedef int (*gen_emit_t)(void *ctx, const struct tsm_rec_hdr *rec);

struct gen {
	gen_emit_t emit;
	void *ctx;
	__u64 seq;		/* next kernel event's sequence number */
	__u64 ts;		/* ns, advances 1 us per event */
	__u32 cpu, pid;
	unsigned int drop;	/* drop the next N kernel events (lost) */
	__u32 unobserved;	/* TSM_EV_* never captured (no program attached) */
	int err;
};

void gen_init(struct gen *g, gen_emit_t emit, void *ctx);

void g_op(struct gen *g, __u32 type, __u32 dev, __u32 tdi, __u64 vm, __u32 reason, __s32 ret);
void g_tdi(struct gen *g, __u32 dev, __u32 tdi, __u32 old, __u32 new);
void g_range(struct gen *g, __u32 dev, __u32 bar, __u64 pfn, __u64 npfns, __u32 old, __u32 new);
void g_export_range(struct gen *g, __u64 buf, __u32 dev, __u32 bar, __u32 kind,
		    __u64 pfn, __u64 npfns);
void g_buf(struct gen *g, __u32 type, __u64 buf, __u32 dev, __u32 bar, __u32 kind, __u32 arg);
void g_ioas(struct gen *g, __u32 type, __u64 ctx, __u32 ioas, __u64 iova, __u64 buf,
	    __u64 pfn, __u64 npfns, __u32 arg);
/* the stock-kernel source's KVM entry of BAR pages: @level 1 4 KiB, 2 2 MiB, 3 1 GiB */
void g_spte(struct gen *g, __u32 type, __u64 gfn, __u64 pfn, __u32 level, __u32 dev);
/* the stock-kernel source's IOMMU mapping of DMABUF pages */
void g_iommu(struct gen *g, __u32 type, __u64 domain, __u32 dev, __u64 iova, __u64 buf,
	     __u64 pfn, __u64 npfns, __u32 arg);
void g_slot(struct gen *g, __u32 type, __u64 vm, __u32 slot, __u64 gfn, __u64 buf,
	    __u64 pfn, __u64 npfns, __u32 arg);
/* a host CPU mapping of BAR pages (map), or the zap of the whole BAR (zap) */
void g_cpu(struct gen *g, __u32 type, __u64 dev, __u32 bar, __u64 pfn, __u64 npfns);
/* the recorder's records */
void g_lost(struct gen *g, __u64 nr);
void g_stack(struct gen *g, unsigned int nr);	/* stack of the last kernel event */
void g_state_unknown(struct gen *g);
/* a kernel event of a type newer than this reader (takes a seq, may be lost) */
void g_unknown(struct gen *g, __u32 type);

/* the flow, with faults */
#define F_IOAS_LEFT_AT_BIND	(1u << 0)  /* VMM keeps the shared IOAS mapping, bind does not revoke */
#define F_REVOKE_NO_UNMAP	(1u << 1)  /* a reset revokes the shared DMABUF, iommufd does not unmap */
#define F_PRIVATE_IN_IOAS	(1u << 2)  /* the private DMABUF is mapped into the IOAS */
#define F_MAPPING_OUTLIVES	(1u << 3)  /* the shared DMABUF is released while mapped */
#define F_UNBIND_LEAVES_PRIVATE	(1u << 4)  /* unbind revokes nothing, converts nothing */
#define F_LOST_UNMAP		(1u << 5)  /* the IOAS unmap before bind is lost */
#define F_START_LATE		(1u << 6)  /* tracing begins after step 1 */
#define F_WRONG_VM		(1u << 7)  /* private slot in a VM the TDI is not bound to */
#define F_BIND_FAILS		(1u << 8)  /* bind fails and unwinds correctly */
#define F_BIND_FAILS_DIRTY	(1u << 9)  /* bind fails and leaves a range private */
#define F_STACKS		(1u << 10) /* emit a stack after each faulty event */
#define F_CPU_LEFT_AT_BIND	(1u << 11) /* bind does not zap the VMM's mapping of the BAR */

struct flow {
	__u32 dev, tdi, bar;
	__u64 vm, ctx;
	__u32 ioas;
	__u64 base, npfns;	/* the BAR */
	__u64 priv, npriv;	/* the part that becomes private */
	__u64 buf0;		/* DMABUF ids buf0, buf0+1, buf0+2 */
	__u32 faults;
};

void flow_default(struct flow *f, unsigned int i);
/* steps 1-7; with F_START_LATE step 1 is not emitted */
void flow_run(struct gen *g, const struct flow *f);
/* steps 1 and 2, the ones before bind */
void flow_start(struct gen *g, const struct flow *f);
void flow_bind(struct gen *g, const struct flow *f);
void flow_bound(struct gen *g, const struct flow *f);	/* steps 4-6 */
void flow_unbind(struct gen *g, const struct flow *f);	/* step 7 */

#endif
