// SPDX-License-Identifier: GPL-2.0
/* Event sequences for tests, synthetic traces and the benchmark. */
#include <errno.h>
#include <string.h>
#include "scenario.h"

void gen_init(struct gen *g, gen_emit_t emit, void *ctx)
{
	memset(g, 0, sizeof(*g));
	g->emit = emit;
	g->ctx = ctx;
	g->seq = 1;
	g->ts = 1000000000ULL;
	g->pid = 4242;
}

static void hdr(struct gen *g, struct tsm_rec_hdr *h, __u32 type, __u32 size)
{
	h->type = type;
	h->size = size;
	h->cpu = g->cpu;
	h->pid = g->pid;
	h->flags = 0;
	h->ts = g->ts;
	h->seq = g->seq;
}

/* a kernel event: takes a sequence number, may be lost */
static void ev(struct gen *g, struct tsm_rec_hdr *h)
{
	if (h->type < TSM_REC_NR_EVENTS && (g->unobserved & TSM_EV_BIT(h->type)))
		return;		/* not captured: takes no sequence number */
	g->ts += 1000;
	h->ts = g->ts;
	g->seq++;
	if (g->drop) {
		g->drop--;
		return;
	}
	if (!g->err)
		g->err = g->emit(g->ctx, h);
}

void g_unknown(struct gen *g, __u32 type)
{
	__u64 rec[6] = { 0 };
	struct tsm_rec_hdr *h = (void *)rec;

	hdr(g, h, type, sizeof(rec));
	ev(g, h);
}

void g_op(struct gen *g, __u32 type, __u32 dev, __u32 tdi, __u64 vm, __u32 reason, __s32 ret)
{
	struct tsm_ev_pci_tsm_op e = { 0 };

	hdr(g, &e.hdr, type, sizeof(e));
	e.dev = dev;
	e.tdi_id = tdi;
	e.vm = vm;
	e.reason = reason;
	e.ret = ret;
	ev(g, &e.hdr);
}

void g_tdi(struct gen *g, __u32 dev, __u32 tdi, __u32 old, __u32 new)
{
	struct tsm_ev_pci_tsm_tdi_state e = { 0 };

	hdr(g, &e.hdr, TSM_REC_PCI_TSM_TDI_STATE, sizeof(e));
	e.dev = dev;
	e.tdi_id = tdi;
	e.old_state = old;
	e.new_state = new;
	ev(g, &e.hdr);
}

void g_range(struct gen *g, __u32 dev, __u32 bar, __u64 pfn, __u64 npfns, __u32 old, __u32 new)
{
	struct tsm_ev_pci_tsm_range e = { 0 };

	hdr(g, &e.hdr, TSM_REC_PCI_TSM_RANGE, sizeof(e));
	e.dev = dev;
	e.bar = bar;
	e.pfn = pfn;
	e.npfns = npfns;
	e.old_attr = old;
	e.new_attr = new;
	ev(g, &e.hdr);
}

void g_export_range(struct gen *g, __u64 buf, __u32 dev, __u32 bar, __u32 kind,
		    __u64 pfn, __u64 npfns)
{
	struct tsm_ev_vfio_dmabuf_range e = { 0 };

	hdr(g, &e.hdr, TSM_REC_VFIO_DMABUF_EXPORT_RANGE, sizeof(e));
	e.buf = buf;
	e.dev = dev;
	e.bar = bar;
	e.kind = kind;
	e.pfn = pfn;
	e.npfns = npfns;
	ev(g, &e.hdr);
}

void g_buf(struct gen *g, __u32 type, __u64 buf, __u32 dev, __u32 bar, __u32 kind, __u32 arg)
{
	struct tsm_ev_vfio_dmabuf_obj e = { 0 };

	hdr(g, &e.hdr, type, sizeof(e));
	e.buf = buf;
	e.dev = dev;
	e.bar = bar;
	e.kind = kind;
	e.arg = arg;
	ev(g, &e.hdr);
}

void g_ioas(struct gen *g, __u32 type, __u64 ctx, __u32 ioas, __u64 iova, __u64 buf,
	    __u64 pfn, __u64 npfns, __u32 arg)
{
	struct tsm_ev_iommufd_ioas_dmabuf e = { 0 };

	hdr(g, &e.hdr, type, sizeof(e));
	e.ctx = ctx;
	e.ioas = ioas;
	e.iova = iova;
	e.buf = buf;
	e.pfn = pfn;
	e.npfns = npfns;
	e.arg = arg;
	ev(g, &e.hdr);
}

/* laid out as the IOAS record: the domain and the device in its place */
void g_iommu(struct gen *g, __u32 type, __u64 domain, __u32 dev, __u64 iova, __u64 buf,
	     __u64 pfn, __u64 npfns, __u32 arg)
{
	g_ioas(g, type, domain, dev, iova, buf, pfn, npfns, arg);
}

void g_spte(struct gen *g, __u32 type, __u64 gfn, __u64 pfn, __u32 level, __u32 dev)
{
	struct tsm_ev_kvm_spte e = { 0 };

	hdr(g, &e.hdr, type, sizeof(e));
	e.gfn = gfn;
	e.pfn = pfn;
	e.npfns = level == 3 ? 1ULL << 18 : level == 2 ? 1ULL << 9 : 1;
	e.level = level;
	e.dev = dev;
	ev(g, &e.hdr);
}

void g_cpu(struct gen *g, __u32 type, __u64 dev, __u32 bar, __u64 pfn, __u64 npfns)
{
	struct tsm_ev_vfio_pci_bar e = { 0 };

	hdr(g, &e.hdr, type, sizeof(e));
	e.dev = dev;
	e.bar = bar;
	e.pfn = pfn;
	e.npfns = npfns;
	ev(g, &e.hdr);
}

void g_slot(struct gen *g, __u32 type, __u64 vm, __u32 slot, __u64 gfn, __u64 buf,
	    __u64 pfn, __u64 npfns, __u32 arg)
{
	struct tsm_ev_kvm_dmabuf_slot e = { 0 };

	hdr(g, &e.hdr, type, sizeof(e));
	e.vm = vm;
	e.slot = slot;
	e.gfn = gfn;
	e.buf = buf;
	e.pfn = pfn;
	e.npfns = npfns;
	e.arg = arg;
	ev(g, &e.hdr);
}

void g_lost(struct gen *g, __u64 nr)
{
	struct tsm_rec_lost e = { 0 };

	hdr(g, &e.hdr, TSM_REC_LOST, sizeof(e));
	e.nr = nr;
	e.source = TSM_LOST_RINGBUF;
	if (!g->err)
		g->err = g->emit(g->ctx, &e.hdr);
}

void g_stack(struct gen *g, unsigned int nr)
{
	struct {
		struct tsm_rec_stack s;
		__u64 ip[TSM_STACK_MAX];
	} e;
	unsigned int i;

	memset(&e, 0, sizeof(e));
	if (nr > TSM_STACK_MAX)
		nr = TSM_STACK_MAX;
	hdr(g, &e.s.hdr, TSM_REC_STACK, sizeof(e.s) + nr * sizeof(__u64));
	e.s.event_seq = g->seq - 1;
	e.s.nr = nr;
	/* made-up kernel text addresses, deterministic */
	for (i = 0; i < nr; i++)
		e.ip[i] = 0xffffffff81000000ULL + (g->seq - 1) * 0x1000 + i * 0x40;
	if (!g->err)
		g->err = g->emit(g->ctx, &e.s.hdr);
}

void g_state_unknown(struct gen *g)
{
	struct tsm_rec_state_unknown e = { 0 };

	hdr(g, &e.hdr, TSM_REC_STATE_UNKNOWN, sizeof(e));
	if (!g->err)
		g->err = g->emit(g->ctx, &e.hdr);
}

/* ---- the flow of ARCHITECTURE.md ---- */

void flow_default(struct flow *f, unsigned int i)
{
	memset(f, 0, sizeof(*f));
	f->dev = 0x0100 + (i << 8);		/* 0000:01:00.0, 0000:02:00.0, ... */
	f->tdi = 7 + i;
	f->bar = 2;
	f->vm = 0xffff888100000000ULL + ((__u64)i << 20);
	f->ctx = 0xffff888200000000ULL + ((__u64)i << 20);
	f->ioas = 2;
	f->base = 0x4000000ULL + ((__u64)i << 28);	/* 4 KiB pages */
	f->npfns = 0x40000;				/* 1 GiB BAR */
	f->priv = f->base + 0x10000;
	f->npriv = 0x20000;				/* 512 MiB private */
	f->buf0 = 1000 + 10 * i;
}

#define S0(f)	((f)->buf0)		/* shared DMABUF at VM start */
#define S1(f)	((f)->buf0 + 1)		/* shared DMABUF after bind */
#define P1(f)	((f)->buf0 + 2)		/* private DMABUF after bind */
#define IOVA	0x100000000ULL
#define IOVA0	0x80000000ULL
#define GFN	0x800000ULL
#define SLOT_SHARED	1
#define SLOT_SHARED2	2
#define SLOT_PRIVATE	3

static void stack_if(struct gen *g, const struct flow *f)
{
	if (f->faults & F_STACKS)
		g_stack(g, 6);
}

/*
 * step 1: shared DMABUF of the whole BAR into the IOAS and a shared slot;
 * the VMM maps the BAR too (one fault of a 1 GiB page)
 */
static void step1(struct gen *g, const struct flow *f)
{
	g_cpu(g, TSM_REC_VFIO_PCI_BAR_MAP, f->dev, f->bar, f->base, f->npfns);
	g_export_range(g, S0(f), f->dev, f->bar, TSM_DMABUF_SHARED, f->base, f->npfns);
	g_buf(g, TSM_REC_VFIO_DMABUF_EXPORT, S0(f), f->dev, f->bar, TSM_DMABUF_SHARED, 1);
	g_ioas(g, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, f->ctx, f->ioas, IOVA0, S0(f), f->base,
	       f->npfns, TSM_DMABUF_SHARED);
	g_slot(g, TSM_REC_KVM_DMABUF_SLOT_BIND, f->vm, SLOT_SHARED, GFN, S0(f), f->base,
	       f->npfns, 0);
}

void flow_start(struct gen *g, const struct flow *f)
{
	if (!(f->faults & F_START_LATE))
		step1(g, f);
	/* step 2: the VMM unmaps the shared DMABUF and closes it */
	if (!(f->faults & F_IOAS_LEFT_AT_BIND)) {
		if (f->faults & F_LOST_UNMAP)
			g->drop = 1;
		g_ioas(g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, f->ctx, f->ioas, IOVA0, S0(f),
		       f->base, f->npfns, TSM_UNMAP_USER);
		if (f->faults & F_LOST_UNMAP)
			g_lost(g, 1);
	}
	g_slot(g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, f->vm, SLOT_SHARED, GFN, S0(f), f->base,
	       f->npfns, TSM_UNMAP_USER);
	if (!(f->faults & F_IOAS_LEFT_AT_BIND))
		g_buf(g, TSM_REC_VFIO_DMABUF_RELEASE, S0(f), f->dev, f->bar, TSM_DMABUF_SHARED, 0);
}

/* step 3: bind */
void flow_bind(struct gen *g, const struct flow *f)
{
	g_op(g, TSM_REC_PCI_TSM_BIND_BEGIN, f->dev, f->tdi, f->vm, 0, 0);
	/* VFIO zaps the host's mappings of the BAR before pages turn private */
	if (!(f->faults & F_CPU_LEFT_AT_BIND))
		g_cpu(g, TSM_REC_VFIO_PCI_BAR_ZAP, f->dev, f->bar, f->base, f->npfns);
	g_tdi(g, f->dev, f->tdi, TSM_TDI_CONFIG_UNLOCKED, TSM_TDI_CONFIG_LOCKED);
	g_range(g, f->dev, f->bar, f->priv, f->npriv, TSM_ATTR_SHARED, TSM_ATTR_PRIVATE);
	if (f->faults & (F_IOAS_LEFT_AT_BIND | F_CPU_LEFT_AT_BIND))
		stack_if(g, f);
	if (f->faults & (F_BIND_FAILS | F_BIND_FAILS_DIRTY)) {
		g_tdi(g, f->dev, f->tdi, TSM_TDI_CONFIG_LOCKED, TSM_TDI_ERROR);
		if (f->faults & F_BIND_FAILS)
			g_range(g, f->dev, f->bar, f->priv, f->npriv, TSM_ATTR_PRIVATE,
				TSM_ATTR_SHARED);
		g_tdi(g, f->dev, f->tdi, TSM_TDI_ERROR, TSM_TDI_CONFIG_UNLOCKED);
		g_op(g, TSM_REC_PCI_TSM_BIND_END, f->dev, f->tdi, f->vm, 0, -5);
		if (f->faults & F_BIND_FAILS_DIRTY)
			stack_if(g, f);
		return;
	}
	g_tdi(g, f->dev, f->tdi, TSM_TDI_CONFIG_LOCKED, TSM_TDI_RUN);
	g_op(g, TSM_REC_PCI_TSM_BIND_END, f->dev, f->tdi, f->vm, 0, 0);
}

/* steps 4-6 */
void flow_bound(struct gen *g, const struct flow *f)
{
	__u64 lo = f->priv - f->base, hi = f->base + f->npfns - (f->priv + f->npriv);
	__u64 vm = f->faults & F_WRONG_VM ? f->vm + 0x1000 : f->vm;

	/* 4: a shared DMABUF of the shared fragments, a private one of the rest */
	g_export_range(g, S1(f), f->dev, f->bar, TSM_DMABUF_SHARED, f->base, lo);
	g_export_range(g, S1(f), f->dev, f->bar, TSM_DMABUF_SHARED, f->priv + f->npriv, hi);
	g_buf(g, TSM_REC_VFIO_DMABUF_EXPORT, S1(f), f->dev, f->bar, TSM_DMABUF_SHARED, 2);
	g_export_range(g, P1(f), f->dev, f->bar, TSM_DMABUF_PRIVATE, f->priv, f->npriv);
	g_buf(g, TSM_REC_VFIO_DMABUF_EXPORT, P1(f), f->dev, f->bar, TSM_DMABUF_PRIVATE, 1);
	/* 5: shared fragments into the IOAS and shared slots */
	g_ioas(g, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, f->ctx, f->ioas, IOVA, S1(f), f->base, lo,
	       TSM_DMABUF_SHARED);
	g_ioas(g, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, f->ctx, f->ioas, IOVA + ((lo + f->npriv) << 12),
	       S1(f), f->priv + f->npriv, hi, TSM_DMABUF_SHARED);
	g_slot(g, TSM_REC_KVM_DMABUF_SLOT_BIND, f->vm, SLOT_SHARED, GFN, S1(f), f->base, lo, 0);
	g_slot(g, TSM_REC_KVM_DMABUF_SLOT_BIND, f->vm, SLOT_SHARED2, GFN + lo + f->npriv, S1(f),
	       f->priv + f->npriv, hi, 0);
	/* 6: private fragment into a private slot */
	g_slot(g, TSM_REC_KVM_DMABUF_SLOT_BIND, vm, SLOT_PRIVATE, GFN + lo, P1(f), f->priv,
	       f->npriv, 1);
	if (f->faults & F_WRONG_VM)
		stack_if(g, f);
	if (f->faults & F_PRIVATE_IN_IOAS) {
		g_ioas(g, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, f->ctx, f->ioas, IOVA + (lo << 12),
		       P1(f), f->priv, f->npriv, TSM_DMABUF_PRIVATE);
		stack_if(g, f);
	}
	if (f->faults & F_REVOKE_NO_UNMAP) {
		/* FLR: slots are zapped, the IOAS importer misses the notification */
		g_slot(g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, f->vm, SLOT_SHARED, GFN, S1(f), f->base,
		       lo, TSM_UNMAP_REVOKE);
		g_slot(g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, f->vm, SLOT_SHARED2, GFN + lo + f->npriv,
		       S1(f), f->priv + f->npriv, hi, TSM_UNMAP_REVOKE);
		g_buf(g, TSM_REC_VFIO_DMABUF_REVOKE, S1(f), f->dev, f->bar, TSM_DMABUF_SHARED,
		      TSM_REVOKE_RESET);
		stack_if(g, f);
	}
}

/* step 7 */
void flow_unbind(struct gen *g, const struct flow *f)
{
	__u64 lo = f->priv - f->base, hi = f->base + f->npfns - (f->priv + f->npriv);
	__u64 vm = f->faults & F_WRONG_VM ? f->vm + 0x1000 : f->vm;
	bool leave = f->faults & F_UNBIND_LEAVES_PRIVATE;

	if (!(f->faults & F_MAPPING_OUTLIVES)) {
		g_ioas(g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, f->ctx, f->ioas, IOVA, S1(f), f->base,
		       lo, TSM_UNMAP_USER);
		g_ioas(g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, f->ctx, f->ioas,
		       IOVA + ((lo + f->npriv) << 12), S1(f), f->priv + f->npriv, hi,
		       TSM_UNMAP_USER);
	}
	if (f->faults & F_PRIVATE_IN_IOAS)
		g_ioas(g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, f->ctx, f->ioas, IOVA + (lo << 12),
		       P1(f), f->priv, f->npriv, TSM_UNMAP_USER);
	if (!(f->faults & F_REVOKE_NO_UNMAP)) {
		g_slot(g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, f->vm, SLOT_SHARED, GFN, S1(f), f->base,
		       lo, TSM_UNMAP_USER);
		g_slot(g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, f->vm, SLOT_SHARED2, GFN + lo + f->npriv,
		       S1(f), f->priv + f->npriv, hi, TSM_UNMAP_USER);
	}
	if (!leave)
		g_slot(g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, vm, SLOT_PRIVATE, GFN + lo, P1(f),
		       f->priv, f->npriv, TSM_UNMAP_USER);
	g_buf(g, TSM_REC_VFIO_DMABUF_RELEASE, S1(f), f->dev, f->bar, TSM_DMABUF_SHARED, 0);
	if (f->faults & F_MAPPING_OUTLIVES) {
		stack_if(g, f);
		g_ioas(g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, f->ctx, f->ioas, IOVA, S1(f), f->base,
		       lo, TSM_UNMAP_DESTROY);
		g_ioas(g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, f->ctx, f->ioas,
		       IOVA + ((lo + f->npriv) << 12), S1(f), f->priv + f->npriv, hi,
		       TSM_UNMAP_DESTROY);
	}
	/* the kernel's unbind */
	g_op(g, TSM_REC_PCI_TSM_UNBIND_BEGIN, f->dev, f->tdi, f->vm, TSM_UNBIND_USER, 0);
	if (!leave) {
		g_buf(g, TSM_REC_VFIO_DMABUF_REVOKE, P1(f), f->dev, f->bar, TSM_DMABUF_PRIVATE,
		      TSM_REVOKE_UNBIND);
		g_range(g, f->dev, f->bar, f->priv, f->npriv, TSM_ATTR_PRIVATE, TSM_ATTR_SHARED);
	}
	g_tdi(g, f->dev, f->tdi, TSM_TDI_RUN, TSM_TDI_CONFIG_UNLOCKED);
	g_op(g, TSM_REC_PCI_TSM_UNBIND_END, f->dev, f->tdi, f->vm, TSM_UNBIND_USER, 0);
	if (leave) {
		stack_if(g, f);
		/* the VM is torn down afterwards */
		g_slot(g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, vm, SLOT_PRIVATE, GFN + lo, P1(f),
		       f->priv, f->npriv, TSM_UNMAP_DESTROY);
	}
	g_buf(g, TSM_REC_VFIO_DMABUF_RELEASE, P1(f), f->dev, f->bar, TSM_DMABUF_PRIVATE, 0);
	if (f->faults & F_IOAS_LEFT_AT_BIND) {
		/* the VM is torn down: the forgotten mapping and DMABUF go last */
		g_ioas(g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, f->ctx, f->ioas, IOVA0, S0(f), f->base,
		       f->npfns, TSM_UNMAP_DESTROY);
		g_buf(g, TSM_REC_VFIO_DMABUF_RELEASE, S0(f), f->dev, f->bar, TSM_DMABUF_SHARED, 0);
	}
}

void flow_run(struct gen *g, const struct flow *f)
{
	flow_start(g, f);
	flow_bind(g, f);
	if (f->faults & (F_BIND_FAILS | F_BIND_FAILS_DIRTY)) {
		if (f->faults & F_IOAS_LEFT_AT_BIND) {
			g_ioas(g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, f->ctx, f->ioas, IOVA0, S0(f),
			       f->base, f->npfns, TSM_UNMAP_DESTROY);
			g_buf(g, TSM_REC_VFIO_DMABUF_RELEASE, S0(f), f->dev, f->bar,
			      TSM_DMABUF_SHARED, 0);
		}
		return;
	}
	flow_bound(g, f);
	flow_unbind(g, f);
}
