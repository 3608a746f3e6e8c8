// SPDX-License-Identifier: GPL-2.0
/*
 * The invariant engine: rebuilds, from the events alone, which PFNs are
 * private and which are mapped where, and asks tsm_check() (invariants.h)
 * at every event which rules it breaks.
 *
 * Knowledge. The engine trusts an object's state only while the trace shows
 * its whole history: objects created by an event seen after the last loss,
 * or every object when the trace began with a known (empty) state. A loss,
 * a TSM_REC_STATE_UNKNOWN record or an unknown start marks objects
 * uncertain. A fact that rests on an uncertain object takes its
 * non-violating value and counts as a doubt: such a check can give neither
 * a VIOLATION nor a PASS, the verdict is at best INCOMPLETE.
 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <tsmtrace/engine.h>
#include "util.h"

#define MAX_NOTES	32

enum dev_phase { DEV_UNBOUND, DEV_BINDING, DEV_BOUND, DEV_UNBINDING };

struct dev {
	struct list_head node;		/* engine.devs */
	struct list_head priv_node;	/* engine.priv_devs, while priv is not empty */
	__u32 id;
	__u32 tdi_id;
	__u64 vm;			/* VM the TDI is (being) bound to */
	enum dev_phase phase;
	enum dev_phase prev_phase;	/* before the bind in progress */
	bool certain;
	bool bind_seen;			/* bind_begin seen since the last loss */
	__u64 bind_epoch;
	struct rset priv;		/* private PFNs */
	/*
	 * Host CPU mappings of BAR pages: one lives from its fault to its
	 * BAR's next zap (a munmap is not announced). cpu: seen since the
	 * last loss; cpu_maybe: seen before it (a zap may have been lost);
	 * cpu_known: where no mapping can predate what was seen (zapped since
	 * the device became uncertain; everywhere while it is certain).
	 */
	struct rset cpu, cpu_maybe, cpu_known;
	struct list_head bufs;		/* buf.dev_node */
	struct list_head maps;		/* map.dev_node */
};

struct buf {
	__u64 id;
	struct dev *d;			/* NULL: device unknown */
	__u32 bar, kind;
	bool exported;			/* export seen: ranges complete */
	bool revoked;
	bool certain;
	struct tsm_range *r;
	__u32 nr, cap;
	struct list_head maps;		/* map.buf_node */
	struct list_head dev_node;	/* dev.bufs */
};

enum map_kind { MAP_IOAS, MAP_SLOT_SHARED, MAP_SLOT_PRIVATE, MAP_IOMMU, MAP_KVM_SPTE };

struct map {
	enum map_kind kind;
	struct hkey key;
	__u64 buf_id, pfn, npfns, addr;	/* addr: iova or gfn */
	__u32 level, dev_id;		/* MAP_KVM_SPTE: 1 4 KiB, 2 2 MiB, 3 1 GiB; device */
	bool certain;
	struct buf *b;			/* NULL: DMABUF unknown or released */
	struct dev *d;			/* NULL: on engine.orphans */
	struct list_head buf_node;	/* buf.maps; MAP_KVM_SPTE: engine.sptes */
	struct list_head dev_node;
};

struct tsm_engine {
	struct tsm_engine_opts opts;
	bool all_seen;			/* no object can predate what we saw */
	__u64 epoch;			/* +1 at every loss of knowledge */
	bool seq_started;
	__u64 next_seq;
	/* the kernel event being handled: the violations before it */
	bool in_event;
	unsigned int ev_violations;
	__u64 lost_gap, lost_rec, lost_end;
	struct list_head devs;
	struct list_head priv_devs;	/* devices with private PFNs */
	struct list_head orphans;	/* maps whose device is unknown */
	struct list_head sptes;		/* MAP_KVM_SPTE maps: of pages, not of a DMABUF */
	struct hash dev_ids;		/* dev id -> struct dev */
	struct dev *last_dev;		/* the last one looked up (never freed before the engine) */
	struct hash bufs;
	struct hash maps;
	struct list_head free_maps;	/* dropped maps (by buf_node), for the next ones */
	unsigned int nr_free_maps;
	size_t nr_devs;
	struct tsm_summary sum;
	struct tsm_violation *v;	/* the first max_v violations, in full */
	unsigned int nr_v, cap_v, max_v;
	/* the objects behind each fact (TSM_F_* bit) of the event being checked */
	struct tsm_objects *found[16];
	unsigned int found_cap[16];
	char *notes[MAX_NOTES + 1];
	unsigned int nr_notes, notes_dropped;
	int err;			/* -ENOMEM seen */
};

/* ---- names ---- */

static const char *const inv_ids[TSM_I_NR] = {
	[TSM_I_NONE] = "TSM-I0",
	[TSM_I1] = "TSM-I1", [TSM_I2] = "TSM-I2", [TSM_I3] = "TSM-I3",
	[TSM_I4] = "TSM-I4", [TSM_I5] = "TSM-I5", [TSM_I6] = "TSM-I6",
	[TSM_I7] = "TSM-I7", [TSM_I8] = "TSM-I8", [TSM_I9] = "TSM-I9",
};

static const char *const inv_titles[TSM_I_NR] = {
	[TSM_I_NONE] = "none",
	[TSM_I1] = "no shared mapping of a private PFN",
	[TSM_I2] = "a DMABUF's kind matches the layout of its PFNs",
	[TSM_I3] = "a private DMABUF is never imported into an IOAS",
	[TSM_I4] = "private PFNs only in private slots of the bound VM",
	[TSM_I5] = "revocation is complete",
	[TSM_I6] = "unbind leaves nothing private behind",
	[TSM_I7] = "no mapping outlives its DMABUF",
	[TSM_I8] = "a failed bind leaves every page shared",
	[TSM_I9] = "no host CPU mapping of a private PFN",
};

const struct tsm_rule_desc tsm_rules[TSM_R_NR] = {
	[TSM_R_I1_RANGE_MAPPED_SHARED] = { TSM_I1, "pfn_mapped_shared",
		"a PFN became private while an IOAS or shared-slot mapping of it remains" },
	[TSM_R_I1_MAP_PFN_PRIVATE] = { TSM_I1, "pfn_private",
		"a shared mapping (IOAS or shared slot) was created over a private PFN" },
	[TSM_R_I2_RANGE_SHARED_BUF_LIVE] = { TSM_I2, "shared_dmabuf_live",
		"a PFN became private while an unrevoked shared DMABUF covers it" },
	[TSM_R_I2_RANGE_PRIVATE_BUF_LIVE] = { TSM_I2, "private_dmabuf_live",
		"a PFN became shared while an unrevoked private DMABUF covers it" },
	[TSM_R_I2_EXPORT_SHARED_OVER_PRIVATE] = { TSM_I2, "pfn_private",
		"a shared DMABUF was exported over a private PFN" },
	[TSM_R_I2_EXPORT_PRIVATE_OVER_SHARED] = { TSM_I2, "pfn_shared",
		"a private DMABUF was exported over a shared PFN" },
	[TSM_R_I2_EXPORT_TDI_UNBOUND] = { TSM_I2, "tdi_unbound",
		"a private DMABUF was exported while the TDI is not bound" },
	[TSM_R_I3_IOAS_PRIVATE_BUF] = { TSM_I3, "dmabuf_private",
		"a private DMABUF was imported into an IOAS" },
	[TSM_R_I4_SLOT_PFN_SHARED] = { TSM_I4, "pfn_shared",
		"a private slot was created over a shared PFN" },
	[TSM_R_I4_SLOT_BUF_SHARED] = { TSM_I4, "dmabuf_shared",
		"a private slot was created from a shared DMABUF" },
	[TSM_R_I4_SLOT_WRONG_VM] = { TSM_I4, "tdi_bound_to_other_vm",
		"a private slot was created in a VM the TDI is not bound to" },
	[TSM_R_I4_SHARED_SLOT_PRIVATE_BUF] = { TSM_I4, "dmabuf_private",
		"a shared slot was created from a private DMABUF" },
	[TSM_R_I4_RANGE_PRIVATE_SLOT] = { TSM_I4, "private_slot_mapped",
		"a PFN became shared while a private slot maps it" },
	[TSM_R_I5_REVOKE_MAPPED] = { TSM_I5, "dmabuf_mapped",
		"a DMABUF was revoked while a mapping derived from it (or KVM's of its pages) remains" },
	[TSM_R_I5_MAP_REVOKED] = { TSM_I5, "dmabuf_revoked",
		"a mapping was created from a revoked DMABUF (or by KVM of its pages)" },
	[TSM_R_I6_PRIVATE_BUF_LIVE] = { TSM_I6, "private_dmabuf_live",
		"unbind completed while a private DMABUF of the device is unrevoked" },
	[TSM_R_I6_PRIVATE_SLOT] = { TSM_I6, "private_slot_mapped",
		"unbind completed while a private slot maps the device's PFNs" },
	[TSM_R_I6_PFN_PRIVATE] = { TSM_I6, "pfn_private",
		"unbind completed while PFNs of the device are still private" },
	[TSM_R_I7_RELEASE_MAPPED] = { TSM_I7, "dmabuf_mapped",
		"a DMABUF was released while a mapping derived from it remains" },
	[TSM_R_I8_PFN_PRIVATE] = { TSM_I8, "pfn_private",
		"a bind failed and left PFNs private" },
	[TSM_R_I9_RANGE_CPU_MAPPED] = { TSM_I9, "pfn_cpu_mapped",
		"a PFN became private while a host CPU mapping of it remains (no zap of its BAR since it was mapped)" },
	[TSM_R_I9_CPU_MAP_PRIVATE] = { TSM_I9, "pfn_private",
		"a host CPU mapping was made of a private PFN" },
};

/*
 * The events a rule needs: every system of @all, and at least one of @any
 * (the places a mapping can live). Checked fully when @any is observed too.
 */
static const struct { __u32 all, any; } rule_needs[TSM_R_NR] = {
#define MAPS	(TSM_EV_IOMMUFD | TSM_EV_KVM | TSM_EV_IOMMU)
#define MAPS_I5	(MAPS | TSM_EV_KVM_SPTE)
	[TSM_R_I1_RANGE_MAPPED_SHARED] = { TSM_EV_PCI_TSM, MAPS },
	[TSM_R_I1_MAP_PFN_PRIVATE] = { TSM_EV_PCI_TSM, MAPS },
	[TSM_R_I2_RANGE_SHARED_BUF_LIVE] = { TSM_EV_PCI_TSM | TSM_EV_VFIO_DMABUF, 0 },
	[TSM_R_I2_RANGE_PRIVATE_BUF_LIVE] = { TSM_EV_PCI_TSM | TSM_EV_VFIO_DMABUF, 0 },
	[TSM_R_I2_EXPORT_SHARED_OVER_PRIVATE] = { TSM_EV_PCI_TSM | TSM_EV_VFIO_DMABUF, 0 },
	[TSM_R_I2_EXPORT_PRIVATE_OVER_SHARED] = { TSM_EV_PCI_TSM | TSM_EV_VFIO_DMABUF, 0 },
	[TSM_R_I2_EXPORT_TDI_UNBOUND] = { TSM_EV_PCI_TSM | TSM_EV_VFIO_DMABUF, 0 },
	[TSM_R_I3_IOAS_PRIVATE_BUF] = { TSM_EV_IOMMUFD, 0 },
	[TSM_R_I4_SLOT_PFN_SHARED] = { TSM_EV_PCI_TSM | TSM_EV_VFIO_DMABUF | TSM_EV_KVM, 0 },
	[TSM_R_I4_SLOT_BUF_SHARED] = { TSM_EV_VFIO_DMABUF | TSM_EV_KVM, 0 },
	[TSM_R_I4_SLOT_WRONG_VM] = { TSM_EV_PCI_TSM | TSM_EV_KVM, 0 },
	[TSM_R_I4_SHARED_SLOT_PRIVATE_BUF] = { TSM_EV_VFIO_DMABUF | TSM_EV_KVM, 0 },
	[TSM_R_I4_RANGE_PRIVATE_SLOT] = { TSM_EV_PCI_TSM | TSM_EV_KVM, 0 },
	[TSM_R_I5_REVOKE_MAPPED] = { TSM_EV_VFIO_DMABUF, MAPS_I5 },
	[TSM_R_I5_MAP_REVOKED] = { TSM_EV_VFIO_DMABUF, MAPS_I5 },
	[TSM_R_I6_PRIVATE_BUF_LIVE] = { TSM_EV_PCI_TSM | TSM_EV_VFIO_DMABUF, 0 },
	[TSM_R_I6_PRIVATE_SLOT] = { TSM_EV_PCI_TSM | TSM_EV_KVM, 0 },
	[TSM_R_I6_PFN_PRIVATE] = { TSM_EV_PCI_TSM, 0 },
	[TSM_R_I7_RELEASE_MAPPED] = { TSM_EV_VFIO_DMABUF, MAPS },
	[TSM_R_I8_PFN_PRIVATE] = { TSM_EV_PCI_TSM, 0 },
	[TSM_R_I9_RANGE_CPU_MAPPED] = { TSM_EV_PCI_TSM | TSM_EV_VFIO_PCI, 0 },
	[TSM_R_I9_CPU_MAP_PRIVATE] = { TSM_EV_PCI_TSM | TSM_EV_VFIO_PCI, 0 },
#undef MAPS_I5
#undef MAPS
};

void tsm_coverage(__u32 observed, struct tsm_coverage *c)
{
	bool some[TSM_I_NR] = { false }, all[TSM_I_NR];
	unsigned int r, i;

	__u32 places;

	memset(c, 0, sizeof(*c));
	c->observed = observed & TSM_EV_VIEWS;
	c->nr_events = __builtin_popcount(TSM_EV_ALL);
	c->nr_observed = __builtin_popcount(c->observed & TSM_EV_ALL);
	c->full = (c->observed & TSM_EV_ALL) == TSM_EV_ALL;
	/*
	 * An IOAS area and the IOMMU's mapping of it are one place a mapping
	 * lives, seen at two levels: either view covers it.
	 */
	places = c->observed;
	if ((places & TSM_EV_IOMMU) == TSM_EV_IOMMU)
		places |= TSM_EV_IOMMUFD;
	if ((places & TSM_EV_IOMMUFD) == TSM_EV_IOMMUFD)
		places |= TSM_EV_IOMMU;
	for (i = 0; i < TSM_I_NR; i++)
		all[i] = true;
	for (r = 0; r < TSM_R_NR; r++) {
		__u32 a = rule_needs[r].all, y = rule_needs[r].any, p = places;
		enum tsm_inv inv = tsm_rules[r].inv;
		bool checked;

		/*
		 * KVM's page-table entries are where every KVM mapping of a
		 * page ends up: for revocation (TSM-I5) they cover the slots.
		 * They say nothing of which DMABUF a mapping came from, so
		 * they cover nothing else.
		 */
		if (inv == TSM_I5 && (p & TSM_EV_KVM_SPTE) == TSM_EV_KVM_SPTE)
			p |= TSM_EV_KVM;
		if (inv == TSM_I5 && (p & TSM_EV_KVM) == TSM_EV_KVM)
			p |= TSM_EV_KVM_SPTE;
		checked = (c->observed & a) == a && (!y || (p & y));

		if (checked)
			some[inv] = true;
		if (!checked || (p & y) != y)
			all[inv] = false;
	}
	for (i = TSM_I1; i < TSM_I_NR; i++)
		c->inv[i] = all[i] ? TSM_COV_FULL : some[i] ? TSM_COV_PARTIAL : TSM_COV_NONE;
}

const char *tsm_unobserved_what(__u32 mask)
{
	switch (mask) {
	case TSM_EV_PCI_TSM: return "the private layout of devices";
	case TSM_EV_VFIO_DMABUF: return "DMABUFs";
	case TSM_EV_IOMMUFD: return "IOAS mappings";
	case TSM_EV_KVM: return "KVM memslot mappings";
	case TSM_EV_VFIO_PCI: return "host CPU mappings of BARs";
	default: return "objects";
	}
}

const char *tsm_inv_id(enum tsm_inv inv)
{
	return inv < TSM_I_NR ? inv_ids[inv] : "TSM-I?";
}

const char *tsm_inv_title(enum tsm_inv inv)
{
	return inv < TSM_I_NR ? inv_titles[inv] : "unknown";
}

const char *tsm_rec_name(__u32 type)
{
	static const char *const names[TSM_REC_MAX] = {
		[TSM_REC_PCI_TSM_BIND_BEGIN] = "pci_tsm_bind_begin",
		[TSM_REC_PCI_TSM_BIND_END] = "pci_tsm_bind_end",
		[TSM_REC_PCI_TSM_UNBIND_BEGIN] = "pci_tsm_unbind_begin",
		[TSM_REC_PCI_TSM_UNBIND_END] = "pci_tsm_unbind_end",
		[TSM_REC_PCI_TSM_TDI_STATE] = "pci_tsm_tdi_state",
		[TSM_REC_PCI_TSM_RANGE] = "pci_tsm_range",
		[TSM_REC_VFIO_DMABUF_EXPORT_RANGE] = "vfio_dmabuf_export_range",
		[TSM_REC_VFIO_DMABUF_EXPORT] = "vfio_dmabuf_export",
		[TSM_REC_VFIO_DMABUF_REVOKE] = "vfio_dmabuf_revoke",
		[TSM_REC_VFIO_DMABUF_RELEASE] = "vfio_dmabuf_release",
		[TSM_REC_VFIO_DMABUF_RESTORE] = "vfio_dmabuf_restore",
		[TSM_REC_IOMMUFD_IOAS_MAP_DMABUF] = "iommufd_ioas_map_dmabuf",
		[TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF] = "iommufd_ioas_unmap_dmabuf",
		[TSM_REC_KVM_DMABUF_SLOT_BIND] = "kvm_dmabuf_slot_bind",
		[TSM_REC_KVM_DMABUF_SLOT_UNBIND] = "kvm_dmabuf_slot_unbind",
		[TSM_REC_IOMMU_MAP_DMABUF] = "iommu_map_dmabuf",
		[TSM_REC_IOMMU_UNMAP_DMABUF] = "iommu_unmap_dmabuf",
		[TSM_REC_KVM_SPTE_MAP] = "kvm_spte_map",
		[TSM_REC_VFIO_PCI_BAR_MAP] = "vfio_pci_bar_map",
		[TSM_REC_VFIO_PCI_BAR_ZAP] = "vfio_pci_bar_zap",
		[TSM_REC_KVM_SPTE_UNMAP] = "kvm_spte_unmap",
		[TSM_REC_LOST] = "lost",
		[TSM_REC_STACK] = "stack",
		[TSM_REC_STATE_UNKNOWN] = "state_unknown",
	};

	if (type < TSM_REC_MAX && names[type])
		return names[type];
	return "unknown_record";
}

const char *tsm_verdict_name(enum tsm_verdict v)
{
	switch (v) {
	case TSM_PASS: return "PASS";
	case TSM_VIOLATION: return "VIOLATION";
	case TSM_INCOMPLETE: return "INCOMPLETE";
	default: return "UNUSABLE";
	}
}

/* ---- notes ---- */

__attribute__((format(printf, 3, 4)))
static void note(struct tsm_engine *e, const struct tsm_rec_hdr *rec, const char *fmt, ...)
{
	char buf[256];
	int n = 0;
	va_list ap;

	if (e->nr_notes >= MAX_NOTES) {
		e->notes_dropped++;
		return;
	}
	if (rec)
		n = snprintf(buf, sizeof(buf), "seq %" PRIu64 " %s: ",
			     (uint64_t)rec->seq, tsm_rec_name(rec->type));
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	e->notes[e->nr_notes] = strdup(buf);
	if (e->notes[e->nr_notes])
		e->nr_notes++;
}

static void forget(struct tsm_engine *e);

static void inconsistent(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
			 const char *what)
{
	e->sum.incomplete |= TSM_INC_INCONSISTENT;
	note(e, rec, "%s; state after this event is uncertain", what);
	/* our state disagrees with the kernel's: nothing in it is evidence any more */
	forget(e);
}

static void doubt(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
		  const char *what)
{
	e->sum.nr_doubts++;
	if (e->sum.nr_doubts <= 8)
		note(e, rec, "check inconclusive: %s", what);
}

/* ---- objects ---- */

/*
 * Events come in runs on one device (a bind's range, state and zap
 * events; a DMABUF's export, maps and release): its lookup is hashed
 * once a run, not once an event.
 */
static struct dev *dev_find(struct tsm_engine *e, __u32 id)
{
	struct hkey k = { { id, 0, 0 } };
	struct dev *d = e->last_dev;

	if (d && d->id == id)
		return d;
	d = hash_find(&e->dev_ids, &k);
	if (d)
		e->last_dev = d;
	return d;
}

/* keep engine.priv_devs to the devices that have private PFNs */
static void dev_priv_changed(struct tsm_engine *e, struct dev *d)
{
	bool listed = !list_empty(&d->priv_node);

	if (d->priv.nr && !listed)
		list_add_tail(&d->priv_node, &e->priv_devs);
	else if (!d->priv.nr && listed)
		list_del_init(&d->priv_node);
}

static struct dev *dev_get(struct tsm_engine *e, __u32 id)
{
	struct hkey k = { { id, 0, 0 } };
	struct dev *d = dev_find(e, id);

	if (d)
		return d;
	d = calloc(1, sizeof(*d));
	if (!d || hash_add(&e->dev_ids, &k, d)) {
		free(d);
		e->err = -ENOMEM;
		return NULL;
	}
	d->id = id;
	d->phase = DEV_UNBOUND;
	d->certain = e->all_seen;
	rset_init(&d->priv);
	rset_init(&d->cpu);
	rset_init(&d->cpu_maybe);
	rset_init(&d->cpu_known);
	list_init(&d->bufs);
	list_init(&d->maps);
	list_init(&d->priv_node);
	list_add_tail(&d->node, &e->devs);
	e->nr_devs++;
	e->last_dev = d;
	return d;
}

static struct buf *buf_find(struct tsm_engine *e, __u64 id)
{
	struct hkey k = { { id, 0, 0 } };

	return hash_find(&e->bufs, &k);
}

static struct buf *buf_new(struct tsm_engine *e, __u64 id, struct dev *d,
			   __u32 bar, __u32 kind, bool certain)
{
	struct hkey k = { { id, 0, 0 } };
	struct buf *b = calloc(1, sizeof(*b));

	if (!b || hash_add(&e->bufs, &k, b)) {
		free(b);
		e->err = -ENOMEM;
		return NULL;
	}
	b->id = id;
	b->d = d;
	b->bar = bar;
	b->kind = kind;
	b->certain = certain;
	list_init(&b->maps);
	list_init(&b->dev_node);
	if (d)
		list_add_tail(&b->dev_node, &d->bufs);
	return b;
}

static void map_unlink(struct map *m)
{
	list_del_init(&m->buf_node);
	list_del_init(&m->dev_node);
}

/*
 * A map is made and dropped at every IOAS map and unmap: the dropped ones
 * are kept for the next (up to a bound, so that memory still follows the
 * mappings alive), which saves a malloc() and a free() an event.
 */
#define FREE_MAPS_MAX	1024

static struct map *map_alloc(struct tsm_engine *e)
{
	struct map *m;

	if (list_empty(&e->free_maps))
		return calloc(1, sizeof(*m));
	m = container_of(e->free_maps.next, struct map, buf_node);
	list_del_init(&m->buf_node);
	e->nr_free_maps--;
	memset(m, 0, sizeof(*m));
	return m;
}

/* @m, unlinked and out of the hash, is no longer used */
static void map_drop(struct tsm_engine *e, struct map *m)
{
	if (e->nr_free_maps >= FREE_MAPS_MAX) {
		free(m);
		return;
	}
	list_add_tail(&m->buf_node, &e->free_maps);
	e->nr_free_maps++;
}

static void buf_free(struct tsm_engine *e, struct buf *b)
{
	struct hkey k = { { b->id, 0, 0 } };
	struct list_head *p, *t;

	hash_del(&e->bufs, &k);
	list_for_each_safe(p, t, &b->maps) {
		struct map *m = container_of(p, struct map, buf_node);

		list_del_init(&m->buf_node);
		m->b = NULL;
	}
	list_del_init(&b->dev_node);
	free(b->r);
	free(b);
}

static int buf_add_range(struct tsm_engine *e, struct buf *b, __u64 pfn, __u64 npfns)
{
	if (b->nr == b->cap) {
		__u32 cap = b->cap ? b->cap * 2 : 4;
		struct tsm_range *r = realloc(b->r, cap * sizeof(*r));

		if (!r) {
			e->err = -ENOMEM;
			return -ENOMEM;
		}
		b->r = r;
		b->cap = cap;
	}
	b->r[b->nr].pfn = pfn;
	b->r[b->nr].npfns = npfns;
	b->nr++;
	return 0;
}

static bool buf_overlaps(const struct buf *b, __u64 pfn, __u64 npfns)
{
	__u32 i;

	for (i = 0; i < b->nr; i++)
		if (tsm_range_overlap(b->r[i].pfn, b->r[i].npfns, pfn, npfns))
			return true;
	return false;
}

/* a loss of knowledge: nothing we hold is known to be complete any more */
static void forget(struct tsm_engine *e)
{
	struct list_head *p, *t;
	size_t i;

	e->all_seen = false;
	e->epoch++;
	list_for_each_safe(p, t, &e->devs) {
		struct dev *d = container_of(p, struct dev, node);

		d->certain = false;
		d->bind_seen = false;
		/* a zap may be among what was lost, a mapping too */
		for (i = 0; i < d->cpu.nr; i++)
			if (rset_add(&d->cpu_maybe, d->cpu.seg[i].start, d->cpu.seg[i].end))
				e->err = -ENOMEM;
		rset_clear(&d->cpu);
		rset_clear(&d->cpu_known);
	}
	for (i = 0; i <= e->bufs.mask; i++)
		if (e->bufs.ent[i].val)
			((struct buf *)e->bufs.ent[i].val)->certain = false;
	for (i = 0; i <= e->maps.mask; i++)
		if (e->maps.ent[i].val)
			((struct map *)e->maps.ent[i].val)->certain = false;
}

/* ---- violations ---- */

static void obj_dev(struct tsm_objects *o, __u32 dev)
{
	o->valid |= TSM_OBJ_DEV;
	o->dev = dev;
}

static void obj_range(struct tsm_objects *o, __u64 pfn, __u64 npfns)
{
	o->valid |= TSM_OBJ_RANGE;
	o->pfn = pfn;
	o->npfns = npfns;
}

static void obj_bar(struct tsm_objects *o, __u32 bar)
{
	o->valid |= TSM_OBJ_BAR;
	o->bar = bar;
}

/* a DMABUF, by its range that meets [pfn, +npfns) (npfns 0: its first) */
static void obj_buf(struct tsm_objects *o, const struct buf *b, __u64 pfn, __u64 npfns)
{
	__u32 i;

	o->valid |= TSM_OBJ_BUF;
	o->buf = b->id;
	if (b->d)
		obj_dev(o, b->d->id);
	obj_bar(o, b->bar);
	for (i = 0; npfns && i < b->nr; i++)
		if (tsm_range_overlap(b->r[i].pfn, b->r[i].npfns, pfn, npfns))
			break;
	if (i < b->nr)
		obj_range(o, b->r[i].pfn, b->r[i].npfns);
	else if (b->nr)
		obj_range(o, b->r[0].pfn, b->r[0].npfns);
}

static void obj_map(struct tsm_objects *o, const struct map *m)
{
	o->valid |= TSM_OBJ_BUF;
	o->buf = m->buf_id;
	if (m->kind == MAP_IOAS || m->kind == MAP_IOMMU) {
		o->valid |= TSM_OBJ_IOAS | (m->kind == MAP_IOMMU ? TSM_OBJ_DOMAIN : 0);
		o->ctx = m->key.k[0];
		o->ioas = (__u32)m->key.k[1];
		o->iova = m->addr;
	} else if (m->kind == MAP_KVM_SPTE) {
		/* a page-table entry: no DMABUF, no slot, no VM named */
		o->valid = TSM_OBJ_SPTE;
		o->gfn = m->addr;
		o->level = m->level;
		if (m->dev_id)
			obj_dev(o, m->dev_id);
	} else {
		o->valid |= TSM_OBJ_SLOT | TSM_OBJ_VM;
		o->vm = m->key.k[0];
		o->slot = (__u32)m->key.k[1];
		o->gfn = m->addr;
	}
	if (m->d)
		obj_dev(o, m->d->id);
	if (m->b)
		obj_bar(o, m->b->bar);
	obj_range(o, m->pfn, m->npfns);
}

/* the address mapping @m (an IOAS area or a slot) gives to o->ov_pfn */
static void overlap_addr(struct tsm_objects *o, const struct tsm_objects *m)
{
	if (m->valid & TSM_OBJ_IOAS) {
		o->valid |= TSM_OBJ_OV_IOVA;
		o->ov_addr = m->iova + ((o->ov_pfn - m->pfn) << 12);
	} else if (m->valid & (TSM_OBJ_SLOT | TSM_OBJ_SPTE)) {
		o->valid |= TSM_OBJ_OV_GPA;
		o->ov_addr = (m->gfn + (o->ov_pfn - m->pfn)) << 12;
	}
}

/*
 * Where an object in conflict meets the event's range @ev, and the IOVA or
 * guest address that maps those PFNs: the object's own when it is a
 * mapping, else the event's when the event is one.
 */
static void overlap(struct tsm_objects *o, const struct tsm_objects *ev)
{
	__u64 s, end;

	if (!(o->valid & TSM_OBJ_OVERLAP)) {
		if (!(o->valid & ev->valid & TSM_OBJ_RANGE))
			return;
		s = o->pfn > ev->pfn ? o->pfn : ev->pfn;
		end = o->pfn + o->npfns < ev->pfn + ev->npfns ? o->pfn + o->npfns :
								 ev->pfn + ev->npfns;
		if (s >= end)
			return;
		o->valid |= TSM_OBJ_OVERLAP;
		o->ov_pfn = s;
		o->ov_npfns = end - s;
	}
	overlap_addr(o, o->valid & (TSM_OBJ_IOAS | TSM_OBJ_SLOT | TSM_OBJ_SPTE) ? o : ev);
}

/* the objects of the event itself */
static void obj_event(struct tsm_objects *o, const struct tsm_rec_hdr *rec)
{
	memset(o, 0, sizeof(*o));
	switch (rec->type) {
	case TSM_REC_PCI_TSM_BIND_BEGIN:
	case TSM_REC_PCI_TSM_BIND_END:
	case TSM_REC_PCI_TSM_UNBIND_BEGIN:
	case TSM_REC_PCI_TSM_UNBIND_END: {
		const struct tsm_ev_pci_tsm_op *ev = (const void *)rec;

		obj_dev(o, ev->dev);
		if (ev->vm) {
			o->valid |= TSM_OBJ_VM;
			o->vm = ev->vm;
		}
		break;
	}
	case TSM_REC_PCI_TSM_RANGE: {
		const struct tsm_ev_pci_tsm_range *ev = (const void *)rec;

		obj_dev(o, ev->dev);
		obj_bar(o, ev->bar);
		obj_range(o, ev->pfn, ev->npfns);
		break;
	}
	case TSM_REC_VFIO_DMABUF_EXPORT:
	case TSM_REC_VFIO_DMABUF_REVOKE:
	case TSM_REC_VFIO_DMABUF_RELEASE:
	case TSM_REC_VFIO_DMABUF_RESTORE: {
		const struct tsm_ev_vfio_dmabuf_obj *ev = (const void *)rec;

		obj_dev(o, ev->dev);
		obj_bar(o, ev->bar);
		o->valid |= TSM_OBJ_BUF;
		o->buf = ev->buf;
		break;
	}
	case TSM_REC_IOMMUFD_IOAS_MAP_DMABUF:
	case TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF: {
		const struct tsm_ev_iommufd_ioas_dmabuf *ev = (const void *)rec;

		o->valid |= TSM_OBJ_IOAS | TSM_OBJ_BUF;
		o->ctx = ev->ctx;
		o->ioas = ev->ioas;
		o->iova = ev->iova;
		o->buf = ev->buf;
		obj_range(o, ev->pfn, ev->npfns);
		break;
	}
	case TSM_REC_IOMMU_MAP_DMABUF:
	case TSM_REC_IOMMU_UNMAP_DMABUF: {
		const struct tsm_ev_iommu_dmabuf *ev = (const void *)rec;

		o->valid |= TSM_OBJ_IOAS | TSM_OBJ_DOMAIN | TSM_OBJ_BUF;
		o->ctx = ev->domain;
		o->iova = ev->iova;
		o->buf = ev->buf;
		if (ev->dev)
			obj_dev(o, ev->dev);
		obj_range(o, ev->pfn, ev->npfns);
		break;
	}
	case TSM_REC_KVM_SPTE_MAP:
	case TSM_REC_KVM_SPTE_UNMAP: {
		const struct tsm_ev_kvm_spte *ev = (const void *)rec;

		o->valid |= TSM_OBJ_SPTE;
		o->gfn = ev->gfn;
		o->level = ev->level;
		if (ev->dev)
			obj_dev(o, ev->dev);
		obj_range(o, ev->pfn, ev->npfns);
		break;
	}
	case TSM_REC_VFIO_PCI_BAR_MAP:
	case TSM_REC_VFIO_PCI_BAR_ZAP: {
		const struct tsm_ev_vfio_pci_bar *ev = (const void *)rec;

		o->valid |= TSM_OBJ_CPU;
		obj_dev(o, (__u32)ev->dev);
		obj_bar(o, ev->bar);
		obj_range(o, ev->pfn, ev->npfns);
		break;
	}
	case TSM_REC_KVM_DMABUF_SLOT_BIND:
	case TSM_REC_KVM_DMABUF_SLOT_UNBIND: {
		const struct tsm_ev_kvm_dmabuf_slot *ev = (const void *)rec;

		o->valid |= TSM_OBJ_SLOT | TSM_OBJ_VM | TSM_OBJ_BUF;
		o->vm = ev->vm;
		o->slot = ev->slot;
		o->gfn = ev->gfn;
		o->buf = ev->buf;
		obj_range(o, ev->pfn, ev->npfns);
		break;
	}
	default:
		break;
	}
}

/*
 * What a check found: facts, and for each fact how many objects are behind
 * it (the first TSM_MAX_CONFLICTS in engine.found[fact bit]); the event's
 * device and DMABUF when they are known.
 */
struct findings {
	__u32 facts;
	unsigned int nr[16];		/* indexed by fact bit */
	struct tsm_engine *e;
	const struct dev *d;
	const struct buf *b;
};

static int fact_bit(__u32 fact)
{
	return __builtin_ctz(fact);
}

static void found(struct findings *f, __u32 fact, const struct tsm_objects *o)
{
	struct tsm_engine *e = f->e;
	int i = fact_bit(fact);

	f->facts |= fact;
	if (f->nr[i] < TSM_MAX_CONFLICTS && f->nr[i] == e->found_cap[i]) {
		unsigned int cap = e->found_cap[i] ? e->found_cap[i] * 2 : 8;
		struct tsm_objects *n = realloc(e->found[i], cap * sizeof(*n));

		if (!n) {
			e->err = -ENOMEM;
			return;
		}
		e->found[i] = n;
		e->found_cap[i] = cap;
	}
	if (f->nr[i] < TSM_MAX_CONFLICTS)
		e->found[i][f->nr[i]] = *o;
	f->nr[i]++;
}

/* the ranges of @set (@d's, objects of @valid) within [start, end), each behind @fact */
static void found_ranges(struct findings *f, __u32 fact, const struct dev *d,
			 const struct rset *set, __u32 valid, __u64 start, __u64 end)
{
	size_t i;

	for (i = rset_lower(set, start); i < set->nr && set->seg[i].start < end; i++) {
		const struct rseg *g = &set->seg[i];
		struct tsm_objects o = { .valid = valid };

		obj_dev(&o, d->id);
		obj_range(&o, g->start, g->end - g->start);
		o.valid |= TSM_OBJ_OVERLAP;
		o.ov_pfn = g->start > start ? g->start : start;
		o.ov_npfns = (g->end < end ? g->end : end) - o.ov_pfn;
		found(f, fact, &o);
	}
}

/* the private ranges of @d within [start, end), each behind @fact */
static void found_private(struct findings *f, __u32 fact, const struct dev *d,
			  __u64 start, __u64 end)
{
	found_ranges(f, fact, d, &d->priv, 0, start, end);
}

/* the fact whose presence or absence makes a rule fire */
static __u32 rule_fact(enum tsm_rule r)
{
	switch (r) {
	case TSM_R_I1_RANGE_MAPPED_SHARED: return TSM_F_MAPPED_SHARED;
	case TSM_R_I2_RANGE_SHARED_BUF_LIVE: return TSM_F_SHARED_BUF_LIVE;
	case TSM_R_I2_RANGE_PRIVATE_BUF_LIVE: return TSM_F_PRIVATE_BUF_LIVE;
	case TSM_R_I4_RANGE_PRIVATE_SLOT: return TSM_F_PRIVATE_SLOT;
	case TSM_R_I5_REVOKE_MAPPED: return TSM_F_BUF_MAPPED;
	case TSM_R_I5_MAP_REVOKED: return TSM_F_BUF_REVOKED;	/* KVM's: the DMABUF */
	case TSM_R_I6_PRIVATE_BUF_LIVE: return TSM_F_PRIVATE_BUF_LIVE;
	case TSM_R_I6_PRIVATE_SLOT: return TSM_F_PRIVATE_SLOT;
	case TSM_R_I7_RELEASE_MAPPED: return TSM_F_BUF_MAPPED;
	case TSM_R_I1_MAP_PFN_PRIVATE:
	case TSM_R_I2_EXPORT_SHARED_OVER_PRIVATE:
		return TSM_F_OVERLAPS_PRIVATE;
	case TSM_R_I6_PFN_PRIVATE:
	case TSM_R_I8_PFN_PRIVATE:
		return TSM_F_PFN_PRIVATE;
	case TSM_R_I9_RANGE_CPU_MAPPED:
		return TSM_F_CPU_MAPPED;
	case TSM_R_I9_CPU_MAP_PRIVATE:
		return TSM_F_OVERLAPS_PRIVATE;
	default:
		return 0;
	}
}

/* room for one more kept violation, or NULL */
static struct tsm_violation *violation_slot(struct tsm_engine *e)
{
	if (e->nr_v == e->max_v)
		return NULL;
	if (e->nr_v == e->cap_v) {
		unsigned int cap = e->cap_v ? e->cap_v * 2 : 8;
		struct tsm_violation *nv;

		if (cap > e->max_v)
			cap = e->max_v;
		nv = realloc(e->v, cap * sizeof(*nv));
		if (!nv) {
			e->err = -ENOMEM;
			return NULL;
		}
		e->v = nv;
		e->cap_v = cap;
	}
	return &e->v[e->nr_v];
}

/* the event's device and BAR, and the VM its TDI is bound to */
static void violation_context(struct tsm_violation *v, const struct findings *f)
{
	const struct dev *d = f->d ? f->d : f->b ? f->b->d : NULL;

	if (f->b) {
		if (f->b->d && !(v->obj.valid & TSM_OBJ_DEV))
			obj_dev(&v->obj, f->b->d->id);
		if (!(v->obj.valid & TSM_OBJ_BAR))
			obj_bar(&v->obj, f->b->bar);
	}
	if (!d || !d->certain)
		return;
	if (!(v->obj.valid & TSM_OBJ_DEV))
		obj_dev(&v->obj, d->id);
	v->tdi = d->phase == DEV_UNBOUND ? TSM_TDI_UNBOUND : d->phase == DEV_BINDING ?
		 TSM_TDI_BINDING : d->phase == DEV_BOUND ? TSM_TDI_BOUND : TSM_TDI_UNBINDING;
	if (d->phase != DEV_UNBOUND)
		v->tdi_vm = d->vm;
}

/* the objects behind @fact: the first, the count, and (@keep) all of them */
static void violation_conflicts(struct tsm_engine *e, struct tsm_violation *v, bool keep,
				__u32 fact, unsigned int nr)
{
	const struct tsm_objects *all = e->found[fact_bit(fact)];
	unsigned int i, kept = nr < TSM_MAX_CONFLICTS ? nr : TSM_MAX_CONFLICTS;

	v->other = all[0];
	overlap(&v->other, &v->obj);
	v->nr_other = nr;
	v->still_private = fact == TSM_F_PFN_PRIVATE;
	if (!keep)
		return;
	v->conflicts = malloc(kept * sizeof(*v->conflicts));
	if (!v->conflicts) {
		e->err = -ENOMEM;
		return;
	}
	for (i = 0; i < kept; i++) {
		v->conflicts[i] = all[i];
		overlap(&v->conflicts[i], &v->obj);
	}
	v->nr_conflicts = kept;
}

/*
 * Every violation is counted; the first max_v are kept in full (for the
 * output, the stacks, report --violation), the others only passed to
 * on_violation as they are found: memory stays bounded however broken
 * the trace.
 */
static void raise_violations(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
			     __u32 mask, const struct findings *f)
{
	struct tsm_violation scratch;
	__u32 r;

	for (r = 0; r < TSM_R_NR; r++) {
		struct tsm_violation *v;
		__u32 fact;
		size_t len;

		if (!(mask & TSM_RULE(r)))
			continue;
		v = violation_slot(e);
		if (e->err)
			return;
		if (v)
			e->nr_v++;
		else
			v = &scratch;
		memset(v, 0, sizeof(*v));
		v->n = ++e->sum.nr_violations;
		v->rule = r;
		len = rec->size < sizeof(v->ev.raw) ? rec->size : sizeof(v->ev.raw);
		memcpy(v->ev.raw, rec, len);
		obj_event(&v->obj, rec);
		violation_context(v, f);
		fact = rule_fact(r);
		if (fact && f->nr[fact_bit(fact)])
			violation_conflicts(e, v, v != &scratch, fact, f->nr[fact_bit(fact)]);
		if (e->opts.on_violation)
			e->opts.on_violation(e->opts.arg, v);
	}
}

static void check(struct tsm_engine *e, const struct tsm_rec_hdr *rec, __u32 arg,
		  const struct findings *f)
{
	__u32 mask = tsm_check(rec->type, arg, f->facts);

	if (mask)
		raise_violations(e, rec, mask, f);
}

/* ---- facts from the state ---- */

static bool map_is_shared(const struct map *m)
{
	return m->kind != MAP_SLOT_PRIVATE;
}

/*
 * Mappings of dev d (and of unknown devices) overlapping [pfn, +npfns):
 * certain ones give the fact, uncertain ones a doubt.
 */
static void find_maps(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
		      struct findings *f, struct dev *d, __u64 pfn, __u64 npfns,
		      bool shared, __u32 fact)
{
	struct list_head *heads[2] = { d ? &d->maps : NULL, &e->orphans };
	bool doubted = false;
	unsigned int h;

	for (h = 0; h < 2; h++) {
		struct list_head *p, *t;

		if (!heads[h])
			continue;
		list_for_each_safe(p, t, heads[h]) {
			struct map *m = container_of(p, struct map, dev_node);
			struct tsm_objects o = { 0 };

			if (map_is_shared(m) != shared ||
			    !tsm_range_overlap(m->pfn, m->npfns, pfn, npfns))
				continue;
			if (!m->certain) {
				doubted = true;
				continue;
			}
			obj_map(&o, m);
			found(f, fact, &o);
		}
	}
	if (doubted && !(f->facts & fact))
		doubt(e, rec, "a mapping that may already be gone overlaps the range");
}

/* DMABUFs of d of @kind, unrevoked, overlapping the range (npfns 0: any) */
static void find_bufs(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
		      struct findings *f, struct dev *d, __u32 kind,
		      __u64 pfn, __u64 npfns, __u32 fact)
{
	struct list_head *p, *t;
	bool doubted = false;

	list_for_each_safe(p, t, &d->bufs) {
		struct buf *b = container_of(p, struct buf, dev_node);
		struct tsm_objects o = { 0 };

		if (b->kind != kind || b->revoked)
			continue;
		if (npfns && b->exported && !buf_overlaps(b, pfn, npfns))
			continue;
		if (!b->certain || !b->exported) {
			doubted = true;
			continue;
		}
		obj_buf(&o, b, pfn, npfns);
		found(f, fact, &o);
	}
	if (doubted && !(f->facts & fact))
		doubt(e, rec, "a DMABUF whose revocation may have been lost covers the range");
}

/* a certain device with a private PFN in the range, else NULL (+doubt) */
static void find_private(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
			 struct findings *f, struct dev *hint, __u64 pfn, __u64 npfns)
{
	struct list_head *p, *t;
	bool doubted = false;

	if (hint && hint->certain) {
		found_private(f, TSM_F_OVERLAPS_PRIVATE, hint, pfn, pfn + npfns);
		return;
	}
	/* only the devices with private PFNs: not every device there is */
	list_for_each_safe(p, t, &e->priv_devs) {
		struct dev *d = container_of(p, struct dev, priv_node);

		if (!rset_overlaps(&d->priv, pfn, pfn + npfns))
			continue;
		if (!d->certain) {
			doubted = true;
			continue;
		}
		if (!f->d)
			f->d = d;
		found_private(f, TSM_F_OVERLAPS_PRIVATE, d, pfn, pfn + npfns);
		return;
	}
	if (doubted)
		doubt(e, rec, "the range overlaps PFNs of a device whose layout is unknown");
}

/*
 * Host CPU mappings of d's pages in [pfn, +npfns): those seen since the
 * last loss give the fact; those seen before it, and the pages where a
 * mapping may predate the trace (no zap of their BAR seen since the device
 * became uncertain), a doubt.
 */
static void find_cpu(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
		     struct findings *f, struct dev *d, __u64 pfn, __u64 npfns)
{
	__u64 end = pfn + npfns;

	found_ranges(f, TSM_F_CPU_MAPPED, d, &d->cpu, TSM_OBJ_CPU, pfn, end);
	if (f->facts & TSM_F_CPU_MAPPED)
		return;
	if (rset_overlaps(&d->cpu_maybe, pfn, end))
		doubt(e, rec, "a host CPU mapping whose zap may have been lost overlaps the range");
	else if (!d->certain && !rset_covers(&d->cpu_known, pfn, end))
		doubt(e, rec, "host CPU mappings of the range may predate what the trace shows (no zap of its BAR seen since)");
}

/* ---- sequence and loss ---- */

static void lost(struct tsm_engine *e, const struct tsm_rec_hdr *rec, __u64 nr,
		 const char *how)
{
	e->sum.incomplete |= TSM_INC_LOST;
	note(e, rec, "%" PRIu64 " event(s) lost (%s); objects seen before are now of unknown state",
	     (uint64_t)nr, how);
	forget(e);
}

static void ev_begin(struct tsm_engine *e, const struct tsm_rec_hdr *rec)
{
	e->sum.nr_events++;
	e->in_event = true;
	e->ev_violations = e->sum.nr_violations;
	if (!e->seq_started) {
		e->seq_started = true;
	} else if (rec->seq > e->next_seq) {
		e->lost_gap += rec->seq - e->next_seq;
		lost(e, rec, rec->seq - e->next_seq, "sequence gap");
	} else if (rec->seq < e->next_seq) {
		e->sum.incomplete |= TSM_INC_ORDER;
		note(e, rec, "sequence number went back from %" PRIu64 "; order unknown",
		     (uint64_t)e->next_seq - 1);
		forget(e);
	}
	e->next_seq = rec->seq + 1;
	if (rec->type < TSM_REC_NR_EVENTS && !(e->opts.observed & TSM_EV_BIT(rec->type)))
		inconsistent(e, rec, "event of a kind the source says it did not observe");
}

/* ---- handlers ---- */

static int on_bind_begin(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_pci_tsm_op *ev = (const void *)rec;
	struct dev *d;

	ev_begin(e, rec);
	d = dev_get(e, ev->dev);
	if (!d)
		return -ENOMEM;
	if (d->certain && d->phase != DEV_UNBOUND && d->phase != DEV_BOUND)
		inconsistent(e, rec, "bind began while a bind or unbind is in progress");
	if (!d->certain) {
		/*
		 * What we hold may be stale. If this bind succeeds, the TDI was
		 * unbound and all shared: start its layout from nothing.
		 */
		rset_clear(&d->priv);
		dev_priv_changed(e, d);
	}
	d->prev_phase = d->phase;
	d->phase = DEV_BINDING;
	d->tdi_id = ev->tdi_id;
	d->vm = ev->vm;
	d->bind_seen = true;
	d->bind_epoch = e->epoch;
	return 0;
}

static int on_bind_end(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_pci_tsm_op *ev = (const void *)rec;
	struct findings f = { .e = e };
	bool failed = ev->ret < 0;
	struct dev *d;

	ev_begin(e, rec);
	d = dev_get(e, ev->dev);
	if (!d)
		return -ENOMEM;
	f.d = d;
	if (failed && d->certain && d->prev_phase == DEV_BOUND) {
		/* binding a bound TDI fails and changes nothing */
		d->phase = DEV_BOUND;
		return 0;
	}
	if (failed) {
		if (d->certain && d->priv.nr) {
			found_private(&f, TSM_F_PFN_PRIVATE, d, 0, ~0ULL);
		} else if (!d->certain) {
			doubt(e, rec, "failed bind on a device whose layout is unknown");
		}
		check(e, rec, 1, &f);
		d->phase = DEV_UNBOUND;
		return 0;
	}
	if (!d->certain && d->bind_seen && d->bind_epoch == e->epoch) {
		/*
		 * A bind only succeeds on an unbound TDI, whose pages were all
		 * shared: the ranges made private since bind_begin are the
		 * whole private layout.
		 */
		d->certain = true;
	}
	if (d->certain && d->phase != DEV_BINDING)
		inconsistent(e, rec, "bind ended without bind_begin");
	d->phase = DEV_BOUND;
	d->vm = ev->vm;
	d->tdi_id = ev->tdi_id;
	check(e, rec, 0, &f);
	return 0;
}

static int on_unbind_begin(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_pci_tsm_op *ev = (const void *)rec;
	struct dev *d;

	ev_begin(e, rec);
	d = dev_get(e, ev->dev);
	if (!d)
		return -ENOMEM;
	if (d->certain && d->phase != DEV_BOUND)
		inconsistent(e, rec, "unbind of a TDI that is not bound");
	d->phase = DEV_UNBINDING;
	return 0;
}

static int on_unbind_end(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_pci_tsm_op *ev = (const void *)rec;
	struct findings f = { .e = e };
	struct list_head *p, *t;
	bool doubted = false;
	struct dev *d;

	ev_begin(e, rec);
	d = dev_get(e, ev->dev);
	if (!d)
		return -ENOMEM;
	f.d = d;
	find_bufs(e, rec, &f, d, TSM_DMABUF_PRIVATE, 0, 0, TSM_F_PRIVATE_BUF_LIVE);
	list_for_each_safe(p, t, &d->maps) {
		struct map *m = container_of(p, struct map, dev_node);
		struct tsm_objects o = { 0 };

		if (m->kind != MAP_SLOT_PRIVATE)
			continue;
		if (!m->certain) {
			doubted = true;
			continue;
		}
		obj_map(&o, m);
		found(&f, TSM_F_PRIVATE_SLOT, &o);
	}
	if (doubted && !(f.facts & TSM_F_PRIVATE_SLOT))
		doubt(e, rec, "a private slot that may already be gone maps the device");
	if (d->certain && d->priv.nr)
		found_private(&f, TSM_F_PFN_PRIVATE, d, 0, ~0ULL);
	check(e, rec, 0, &f);
	d->phase = DEV_UNBOUND;
	d->vm = 0;
	if (!d->certain) {
		/* the contract: after unbind_end every page is shared */
		rset_clear(&d->priv);
		dev_priv_changed(e, d);
		d->certain = true;
	}
	return 0;
}

static int on_tdi_state(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_pci_tsm_tdi_state *ev = (const void *)rec;

	ev_begin(e, rec);
	if (ev->new_state > TSM_TDI_ERROR)
		note(e, rec, "unknown TDI state %u", ev->new_state);
	return dev_get(e, ev->dev) ? 0 : -ENOMEM;
}

static int on_range(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_pci_tsm_range *ev = (const void *)rec;
	struct findings f = { .e = e };
	__u64 end = ev->pfn + ev->npfns;
	struct dev *d;

	ev_begin(e, rec);
	d = dev_get(e, ev->dev);
	if (!d)
		return -ENOMEM;
	f.d = d;
	if (ev->npfns == 0 || ev->new_attr > TSM_ATTR_PRIVATE ||
	    ev->old_attr == ev->new_attr) {
		inconsistent(e, rec, "malformed range event");
		return 0;
	}
	if (d->certain && d->phase != DEV_BINDING && d->phase != DEV_UNBINDING)
		note(e, rec, "layout changed outside a bind or unbind");
	if (ev->new_attr == TSM_ATTR_PRIVATE) {
		if (d->certain && rset_overlaps(&d->priv, ev->pfn, end))
			inconsistent(e, rec, "PFNs made private were already private");
		find_maps(e, rec, &f, d, ev->pfn, ev->npfns, true, TSM_F_MAPPED_SHARED);
		find_bufs(e, rec, &f, d, TSM_DMABUF_SHARED, ev->pfn, ev->npfns,
			  TSM_F_SHARED_BUF_LIVE);
		if (e->opts.observed & TSM_EV_VFIO_PCI)
			find_cpu(e, rec, &f, d, ev->pfn, ev->npfns);
		check(e, rec, TSM_ATTR_PRIVATE, &f);
		if (rset_add(&d->priv, ev->pfn, end))
			return e->err = -ENOMEM;
		dev_priv_changed(e, d);
	} else {
		if (d->certain && !rset_covers(&d->priv, ev->pfn, end))
			inconsistent(e, rec, "PFNs made shared were not all private");
		find_bufs(e, rec, &f, d, TSM_DMABUF_PRIVATE, ev->pfn, ev->npfns,
			  TSM_F_PRIVATE_BUF_LIVE);
		find_maps(e, rec, &f, d, ev->pfn, ev->npfns, false, TSM_F_PRIVATE_SLOT);
		check(e, rec, TSM_ATTR_SHARED, &f);
		if (rset_remove(&d->priv, ev->pfn, end))
			return e->err = -ENOMEM;
		dev_priv_changed(e, d);
	}
	return 0;
}

static int on_export_range(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_vfio_dmabuf_range *ev = (const void *)rec;
	struct buf *b;
	struct dev *d;

	ev_begin(e, rec);
	d = dev_get(e, ev->dev);
	if (!d)
		return -ENOMEM;
	b = buf_find(e, ev->buf);
	if (b && (b->exported || b->d != d)) {
		inconsistent(e, rec, "range of a DMABUF that already exists");
		return 0;
	}
	if (!b) {
		/* a new DMABUF: its whole life is ahead of us */
		b = buf_new(e, ev->buf, d, ev->bar, ev->kind, true);
		if (!b)
			return -ENOMEM;
	}
	if (ev->npfns == 0) {
		inconsistent(e, rec, "malformed DMABUF range");
		return 0;
	}
	return buf_add_range(e, b, ev->pfn, ev->npfns);
}

static void check_layout(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
			 struct buf *b, struct dev *d);

static int on_export(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_vfio_dmabuf_obj *ev = (const void *)rec;
	struct buf *b;
	struct dev *d;

	ev_begin(e, rec);
	d = dev_get(e, ev->dev);
	if (!d)
		return -ENOMEM;
	b = buf_find(e, ev->buf);
	if (!b) {
		b = buf_new(e, ev->buf, d, ev->bar, ev->kind, true);
		if (!b)
			return -ENOMEM;
	} else if (b->exported) {
		inconsistent(e, rec, "export of a DMABUF that already exists");
		return 0;
	}
	b->exported = true;
	b->kind = ev->kind;
	if (ev->arg != b->nr) {
		if (b->certain)
			inconsistent(e, rec, "export's range count differs from its range events");
		b->certain = false;
	}
	check_layout(e, rec, b, d);
	return 0;
}

/* export and restore: a usable DMABUF's kind must match the layout */
static void check_layout(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
			 struct buf *b, struct dev *d)
{
	struct findings f = { .e = e };

	f.d = d;
	f.b = b;
	__u32 i;

	if (b->kind == TSM_DMABUF_PRIVATE)
		f.facts |= TSM_F_BUF_PRIVATE;
	if (!d->certain) {
		/* unknown layout: assume the export matches it */
		doubt(e, rec, "export from a device whose layout is unknown");
		f.facts |= TSM_F_TDI_BOUND | TSM_F_ALL_PRIVATE;
	} else {
		bool all = true;

		/*
		 * Until unbind_end the TDI is bound: the owner of the mappings
		 * hears of the unbind after its begin event and revokes an
		 * export made meanwhile with the rest; one it misses is
		 * private_dmabuf_live when its pages turn shared.
		 */
		if (d->phase == DEV_BOUND || d->phase == DEV_UNBINDING)
			f.facts |= TSM_F_TDI_BOUND;
		for (i = 0; i < b->nr; i++) {
			__u64 s = b->r[i].pfn, n = b->r[i].npfns;

			if (!rset_covers(&d->priv, s, s + n))
				all = false;
			found_private(&f, TSM_F_OVERLAPS_PRIVATE, d, s, s + n);
		}
		if (all)
			f.facts |= TSM_F_ALL_PRIVATE;
	}
	check(e, rec, 0, &f);
}

/* revoke and release: no mapping derived from the DMABUF may remain */
static void check_buf_unmapped(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
			       struct buf *b)
{
	struct findings f = { .e = e };
	struct list_head *p, *t;
	bool doubted = !b->certain;

	f.b = b;
	list_for_each_safe(p, t, &b->maps) {
		struct map *m = container_of(p, struct map, buf_node);
		struct tsm_objects o = { 0 };

		if (!m->certain) {
			doubted = true;
			continue;
		}
		obj_map(&o, m);
		found(&f, TSM_F_BUF_MAPPED, &o);
	}
	/*
	 * KVM's entries of the DMABUF's pages: whatever made them (a slot
	 * over the VMM's mmap of the BAR), a revoke takes the pages away from
	 * every mapping. A release does not: KVM's were not derived from it.
	 */
	if (rec->type == TSM_REC_VFIO_DMABUF_REVOKE) {
		list_for_each_safe(p, t, &e->sptes) {
			struct map *m = container_of(p, struct map, buf_node);
			struct tsm_objects o = { 0 };

			if (!buf_overlaps(b, m->pfn, m->npfns))
				continue;
			if (!m->certain) {
				doubted = true;
				continue;
			}
			obj_map(&o, m);
			found(&f, TSM_F_BUF_MAPPED, &o);
		}
	}
	if (doubted && !(f.facts & TSM_F_BUF_MAPPED))
		doubt(e, rec, "mappings of the DMABUF may have been missed");
	check(e, rec, 0, &f);
}

static struct buf *buf_lookup(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
			      __u64 id, __u32 dev, __u32 bar, __u32 kind)
{
	struct buf *b = buf_find(e, id);
	struct dev *d;

	if (b)
		return b;
	if (e->all_seen && (e->opts.observed & TSM_EV_VFIO_DMABUF))
		inconsistent(e, rec, "DMABUF never exported");
	d = dev_get(e, dev);
	if (!d)
		return NULL;
	return buf_new(e, id, d, bar, kind, false);
}

/* revoke, or restore (the kernel un-revoked it: mappings may come again) */
static int on_revocation(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_vfio_dmabuf_obj *ev = (const void *)rec;
	bool revoke = rec->type == TSM_REC_VFIO_DMABUF_REVOKE;
	struct buf *b;

	ev_begin(e, rec);
	b = buf_lookup(e, rec, ev->buf, ev->dev, ev->bar, ev->kind);
	if (!b)
		return -ENOMEM;
	if (b->revoked == revoke && b->certain)
		note(e, rec, revoke ? "DMABUF revoked twice" : "DMABUF restored without a revoke");
	b->revoked = revoke;
	if (revoke)
		check_buf_unmapped(e, rec, b);
	else
		check_layout(e, rec, b, b->d);
	return 0;
}

static int on_release(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_vfio_dmabuf_obj *ev = (const void *)rec;
	struct buf *b;

	ev_begin(e, rec);
	b = buf_lookup(e, rec, ev->buf, ev->dev, ev->bar, ev->kind);
	if (!b)
		return -ENOMEM;
	check_buf_unmapped(e, rec, b);
	buf_free(e, b);
	return 0;
}

/* facts of a new mapping (IOAS area or slot) of @b over [pfn, +npfns) */
static void map_facts(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
		      struct findings *f, struct buf *b, __u32 ev_kind, bool slot,
		      bool priv_slot, __u64 vm, __u64 pfn, __u64 npfns)
{
	struct dev *d = b ? b->d : NULL;
	__u32 kind;

	if (!slot)
		kind = ev_kind;			/* the event says it */
	else if (b && b->exported)
		kind = b->kind;
	else
		kind = priv_slot ? TSM_DMABUF_PRIVATE : TSM_DMABUF_SHARED;
	if (kind == TSM_DMABUF_PRIVATE)
		f->facts |= TSM_F_BUF_PRIVATE;
	if (b && b->revoked)
		f->facts |= TSM_F_BUF_REVOKED;	/* a seen revoke is final */
	find_private(e, rec, f, d, pfn, npfns);
	if (!priv_slot)
		return;
	if (d && d->certain) {
		if (rset_covers(&d->priv, pfn, pfn + npfns))
			f->facts |= TSM_F_ALL_PRIVATE;
		/* as for exports, the TDI is bound until unbind_end */
		if (d->phase != DEV_UNBOUND && d->vm == vm)
			f->facts |= TSM_F_VM_BOUND;
	} else {
		doubt(e, rec, "private slot of a device whose layout is unknown");
		f->facts |= TSM_F_ALL_PRIVATE | TSM_F_VM_BOUND;
	}
}

static struct map *map_new(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
			   enum map_kind kind, const struct hkey *k, __u64 buf_id,
			   __u64 pfn, __u64 npfns, __u64 addr, struct buf *b)
{
	struct map *m = hash_find(&e->maps, k);

	if (m) {
		if (m->certain)
			inconsistent(e, rec, "mapping replaces one never unmapped");
		hash_del(&e->maps, k);
		map_unlink(m);
		map_drop(e, m);
	}
	m = map_alloc(e);
	if (!m || hash_add(&e->maps, k, m)) {
		free(m);
		e->err = -ENOMEM;
		return NULL;
	}
	m->kind = kind;
	m->key = *k;
	m->buf_id = buf_id;
	m->pfn = pfn;
	m->npfns = npfns;
	m->addr = addr;
	m->certain = true;
	m->b = b;
	m->d = b ? b->d : NULL;
	list_init(&m->buf_node);
	if (kind == MAP_KVM_SPTE)
		list_add_tail(&m->buf_node, &e->sptes);
	else if (b)
		list_add_tail(&m->buf_node, &b->maps);
	list_add_tail(&m->dev_node, m->d ? &m->d->maps : &e->orphans);
	return m;
}

static void map_gone(struct tsm_engine *e, const struct tsm_rec_hdr *rec,
		     const struct hkey *k, __u64 buf_id)
{
	struct map *m = hash_del(&e->maps, k);

	if (!m) {
		if (e->all_seen)
			inconsistent(e, rec, "unmap of a mapping never created");
		return;
	}
	if (m->buf_id != buf_id && m->certain)
		inconsistent(e, rec, "unmap names another DMABUF than the map");
	map_unlink(m);
	map_drop(e, m);
}

static struct buf *map_buf(struct tsm_engine *e, const struct tsm_rec_hdr *rec, __u64 id)
{
	struct buf *b = buf_find(e, id);

	if (!b && e->all_seen && (e->opts.observed & TSM_EV_VFIO_DMABUF))
		inconsistent(e, rec, "mapping of a DMABUF never exported");
	return b;
}

/*
 * An IOAS area, or the IOMMU's own mapping of DMABUF pages (the stock-kernel
 * source, laid out alike: the domain and the device in place of the
 * context and the IOAS): a shared mapping, keyed by where it lives.
 */
_Static_assert(offsetof(struct tsm_ev_iommu_dmabuf, iova) ==
	       offsetof(struct tsm_ev_iommufd_ioas_dmabuf, iova) &&
	       offsetof(struct tsm_ev_iommu_dmabuf, arg) ==
	       offsetof(struct tsm_ev_iommufd_ioas_dmabuf, arg) &&
	       sizeof(struct tsm_ev_iommu_dmabuf) == sizeof(struct tsm_ev_iommufd_ioas_dmabuf),
	       "an IOMMU record is laid out as an IOAS one");

static bool is_iommu(const struct tsm_rec_hdr *rec)
{
	return rec->type == TSM_REC_IOMMU_MAP_DMABUF || rec->type == TSM_REC_IOMMU_UNMAP_DMABUF;
}

static void ioas_key(const struct tsm_rec_hdr *rec, struct hkey *k)
{
	const struct tsm_ev_iommufd_ioas_dmabuf *ev = (const void *)rec;

	k->k[0] = ev->ctx;
	k->k[1] = is_iommu(rec) ? 3ULL << 32 : (1ULL << 32) | ev->ioas;
	k->k[2] = ev->iova;
}

static int on_ioas_map(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_iommufd_ioas_dmabuf *ev = (const void *)rec;
	struct findings f = { .e = e };
	struct hkey k;
	struct buf *b;

	ev_begin(e, rec);
	ioas_key(rec, &k);
	b = map_buf(e, rec, ev->buf);
	f.b = b;
	map_facts(e, rec, &f, b, ev->arg, false, false, 0, ev->pfn, ev->npfns);
	check(e, rec, 0, &f);
	return map_new(e, rec, is_iommu(rec) ? MAP_IOMMU : MAP_IOAS, &k, ev->buf, ev->pfn,
		       ev->npfns, ev->iova, b) ? 0 : -ENOMEM;
}

static int on_ioas_unmap(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_iommufd_ioas_dmabuf *ev = (const void *)rec;
	struct hkey k;

	ev_begin(e, rec);
	ioas_key(rec, &k);
	map_gone(e, rec, &k, ev->buf);
	return 0;
}

static int on_slot_bind(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_kvm_dmabuf_slot *ev = (const void *)rec;
	struct hkey k = { { ev->vm, (2ULL << 32) | ev->slot, ev->gfn } };
	struct findings f = { .e = e };
	bool priv = ev->arg != 0;
	struct buf *b;

	ev_begin(e, rec);
	b = map_buf(e, rec, ev->buf);
	f.b = b;
	map_facts(e, rec, &f, b, 0, true, priv, ev->vm, ev->pfn, ev->npfns);
	check(e, rec, priv, &f);
	return map_new(e, rec, priv ? MAP_SLOT_PRIVATE : MAP_SLOT_SHARED, &k, ev->buf,
		       ev->pfn, ev->npfns, ev->gfn, b) ? 0 : -ENOMEM;
}

static int on_slot_unbind(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_kvm_dmabuf_slot *ev = (const void *)rec;
	struct hkey k = { { ev->vm, (2ULL << 32) | ev->slot, ev->gfn } };

	ev_begin(e, rec);
	map_gone(e, rec, &k, ev->buf);
	return 0;
}

/*
 * KVM's entry of BAR pages (the stock-kernel source): known by its GFN and
 * PFN, since the kernel's event names no VM. It comes from no DMABUF; a
 * DMABUF that covers its pages and is revoked means the pages are gone.
 */
static void spte_key(const struct tsm_ev_kvm_spte *ev, struct hkey *k)
{
	k->k[0] = ev->pfn;
	k->k[1] = (4ULL << 32) | ev->as_id;
	k->k[2] = ev->gfn;
}

static int on_spte_map(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_kvm_spte *ev = (const void *)rec;
	struct findings f = { .e = e };
	bool doubted = false;
	struct map *m;
	struct hkey k;
	size_t i;

	ev_begin(e, rec);
	for (i = 0; i <= e->bufs.mask; i++) {
		struct buf *b = e->bufs.ent[i].val;
		struct tsm_objects o = { 0 };

		if (!b || !b->revoked || !buf_overlaps(b, ev->pfn, ev->npfns))
			continue;
		if (!b->certain) {
			doubted = true;
			continue;
		}
		if (!f.b)
			f.b = b;
		obj_buf(&o, b, ev->pfn, ev->npfns);
		found(&f, TSM_F_BUF_REVOKED, &o);
	}
	if (doubted && !(f.facts & TSM_F_BUF_REVOKED))
		doubt(e, rec, "a DMABUF whose restore may have been lost covers the pages");
	if (!f.d && ev->dev)
		f.d = dev_find(e, ev->dev);
	check(e, rec, 0, &f);
	spte_key(ev, &k);
	m = map_new(e, rec, MAP_KVM_SPTE, &k, 0, ev->pfn, ev->npfns, ev->gfn, NULL);
	if (!m)
		return -ENOMEM;
	m->level = ev->level;
	m->dev_id = ev->dev;
	return 0;
}

static int on_spte_unmap(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	struct hkey k;

	ev_begin(e, rec);
	spte_key((const void *)rec, &k);
	map_gone(e, rec, &k, 0);
	return 0;
}

/*
 * A host CPU mapping of BAR pages (a fault of a VFIO region mmap), and the
 * zap that takes every mapping of a BAR away again.
 */
static int on_cpu_map(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_vfio_pci_bar *ev = (const void *)rec;
	struct findings f = { .e = e };
	struct dev *d;

	ev_begin(e, rec);
	d = dev_get(e, (__u32)ev->dev);
	if (!d)
		return -ENOMEM;
	f.d = d;
	if (ev->npfns == 0) {
		inconsistent(e, rec, "malformed host CPU mapping event");
		return 0;
	}
	find_private(e, rec, &f, d, ev->pfn, ev->npfns);
	check(e, rec, 0, &f);
	if (rset_add(&d->cpu, ev->pfn, ev->pfn + ev->npfns))
		return e->err = -ENOMEM;
	return 0;
}

static int on_cpu_zap(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_ev_vfio_pci_bar *ev = (const void *)rec;
	__u64 end = ev->pfn + ev->npfns;
	struct dev *d;

	ev_begin(e, rec);
	d = dev_get(e, (__u32)ev->dev);
	if (!d)
		return -ENOMEM;
	if (rset_remove(&d->cpu, ev->pfn, end) || rset_remove(&d->cpu_maybe, ev->pfn, end) ||
	    rset_add(&d->cpu_known, ev->pfn, end))
		return e->err = -ENOMEM;
	return 0;
}

static int on_lost(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_rec_lost *ev = (const void *)rec;

	e->lost_rec += ev->nr;
	/* the events it counts are the gap before rec->seq: do not count twice */
	if (e->seq_started && rec->seq > e->next_seq)
		e->next_seq = rec->seq;
	lost(e, rec, ev->nr, ev->source == TSM_LOST_MAP_FULL ? "a BPF map was full" :
			     ev->source == TSM_LOST_READER ? "the reader fell behind" :
			     "the ring buffer was full");
	return 0;
}

static int on_stack(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;
	const struct tsm_rec_stack *ev = (const void *)rec;
	__u32 nr = ev->nr;
	unsigned int i;

	if (nr > TSM_STACK_MAX)
		nr = TSM_STACK_MAX;
	if (sizeof(*ev) + nr * sizeof(__u64) > rec->size) {
		note(e, rec, "stack record shorter than its frame count");
		return 0;
	}
	for (i = e->nr_v; i-- > 0;) {
		struct tsm_violation *v = &e->v[i];

		if (v->ev.hdr.seq < ev->event_seq)
			break;
		if (v->ev.hdr.seq == ev->event_seq) {
			memcpy(v->stack, ev->ip, nr * sizeof(__u64));
			v->nr_stack = nr;
		}
	}
	return 0;
}

static int on_state_unknown(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;

	e->sum.incomplete |= TSM_INC_START_UNKNOWN;
	note(e, rec, "objects may exist that the trace does not show");
	forget(e);
	return 0;
}

/*
 * A record of a type this reader does not know: a newer kernel event (it
 * keeps its seq) or a newer recorder record. What it changed is unknown -
 * it may have been the unmap that clears a later check - so it is a loss
 * of knowledge: every object is uncertain from here on, and the verdict
 * is at best INCOMPLETE, with the count.
 */
static int on_unknown(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;

	if (rec->type < TSM_REC_LOST)
		ev_begin(e, rec);
	/* an event this engine cannot judge is not one it judged differently */
	e->in_event = false;
	if (!e->sum.nr_unknown_type++)
		note(e, rec, "record of a type this tsmtrace does not know (type %u): what it changed is unknown, objects seen before it are of unknown state (a newer tsmtrace reads it)",
		     rec->type);
	e->sum.incomplete |= TSM_INC_UNKNOWN;
	forget(e);
	return 0;
}

/*
 * Both checks judge every event with tsm_check() over their own state: an
 * event the kernel flagged and the engine did not means one of them holds
 * a wrong state, and the trace cannot vouch for a PASS; one the engine
 * flagged alone is a VIOLATION already, noted.
 */
static void kernel_agrees(struct tsm_engine *e, const struct tsm_rec_hdr *rec)
{
	bool kernel = rec->flags & TSM_REC_F_FLAGGED;
	bool engine = e->sum.nr_violations != e->ev_violations;

	e->sum.nr_flagged += kernel;
	if (kernel == engine)
		return;
	e->sum.nr_disagree++;
	if (kernel)
		e->sum.incomplete |= TSM_INC_DISAGREE;
	if (e->sum.nr_disagree <= 8)
		note(e, rec, kernel ? "the in-kernel check flagged this event and the engine found no violation in it: the two disagree" :
		     "the engine found a violation in this event that the in-kernel check did not flag: the two disagree");
}

static int on_post(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct tsm_engine *e = ctx;

	e->sum.nr_records++;
	if (e->in_event && e->opts.kernel_checked)
		kernel_agrees(e, rec);
	e->in_event = false;
	return e->err;
}

const struct tsm_ops tsm_engine_ops = {
	.handler = {
		[TSM_REC_PCI_TSM_BIND_BEGIN] = on_bind_begin,
		[TSM_REC_PCI_TSM_BIND_END] = on_bind_end,
		[TSM_REC_PCI_TSM_UNBIND_BEGIN] = on_unbind_begin,
		[TSM_REC_PCI_TSM_UNBIND_END] = on_unbind_end,
		[TSM_REC_PCI_TSM_TDI_STATE] = on_tdi_state,
		[TSM_REC_PCI_TSM_RANGE] = on_range,
		[TSM_REC_VFIO_DMABUF_EXPORT_RANGE] = on_export_range,
		[TSM_REC_VFIO_DMABUF_EXPORT] = on_export,
		[TSM_REC_VFIO_DMABUF_REVOKE] = on_revocation,
		[TSM_REC_VFIO_DMABUF_RELEASE] = on_release,
		[TSM_REC_VFIO_DMABUF_RESTORE] = on_revocation,
		[TSM_REC_IOMMUFD_IOAS_MAP_DMABUF] = on_ioas_map,
		[TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF] = on_ioas_unmap,
		[TSM_REC_KVM_DMABUF_SLOT_BIND] = on_slot_bind,
		[TSM_REC_KVM_DMABUF_SLOT_UNBIND] = on_slot_unbind,
		[TSM_REC_IOMMU_MAP_DMABUF] = on_ioas_map,
		[TSM_REC_IOMMU_UNMAP_DMABUF] = on_ioas_unmap,
		[TSM_REC_KVM_SPTE_MAP] = on_spte_map,
		[TSM_REC_VFIO_PCI_BAR_MAP] = on_cpu_map,
		[TSM_REC_VFIO_PCI_BAR_ZAP] = on_cpu_zap,
		[TSM_REC_KVM_SPTE_UNMAP] = on_spte_unmap,
		[TSM_REC_LOST] = on_lost,
		[TSM_REC_STACK] = on_stack,
		[TSM_REC_STATE_UNKNOWN] = on_state_unknown,
	},
	.unknown = on_unknown,
	.post = on_post,
};

/* does [start, start + n) or, for bytes, [start, start + n pages) pass 2^64? */
static bool wraps(__u64 start, __u64 n)
{
	return n > ~0ULL - start;
}

static bool wraps_pages(__u64 addr, __u64 npages)
{
	return npages && (npages - 1 > (~0ULL >> 12) || wraps(addr, ((npages - 1) << 12) + 4095));
}

/*
 * A range no kernel can emit: one that passes 2^64. The engine's ranges
 * would wrap around and overlap what they do not cover, so such a record is
 * malformed input, never a PASS.
 */
static const char *range_wraps(const struct tsm_rec_hdr *rec)
{
	const struct tsm_ev_iommufd_ioas_dmabuf *io = (const void *)rec;
	const struct tsm_ev_iommu_dmabuf *mmu = (const void *)rec;
	const struct tsm_ev_kvm_dmabuf_slot *sl = (const void *)rec;
	const struct tsm_ev_vfio_dmabuf_range *br = (const void *)rec;
	const struct tsm_ev_kvm_spte *sp = (const void *)rec;
	const struct tsm_ev_vfio_pci_bar *cpu = (const void *)rec;
	const struct tsm_ev_pci_tsm_range *r = (const void *)rec;

	switch (rec->type) {
	case TSM_REC_PCI_TSM_RANGE:
		return wraps(r->pfn, r->npfns) ? "its PFN range wraps past 2^64" : NULL;
	case TSM_REC_VFIO_DMABUF_EXPORT_RANGE:
		return wraps(br->pfn, br->npfns) ? "its PFN range wraps past 2^64" : NULL;
	case TSM_REC_IOMMUFD_IOAS_MAP_DMABUF:
	case TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF:
		if (wraps(io->pfn, io->npfns))
			return "its PFN range wraps past 2^64";
		return wraps_pages(io->iova, io->npfns) ? "its IOVA range wraps past 2^64" : NULL;
	case TSM_REC_IOMMU_MAP_DMABUF:
	case TSM_REC_IOMMU_UNMAP_DMABUF:
		if (wraps(mmu->pfn, mmu->npfns))
			return "its PFN range wraps past 2^64";
		return wraps_pages(mmu->iova, mmu->npfns) ? "its IOVA range wraps past 2^64" : NULL;
	case TSM_REC_KVM_SPTE_MAP:
	case TSM_REC_KVM_SPTE_UNMAP:
		if (wraps(sp->pfn, sp->npfns))
			return "its PFN range wraps past 2^64";
		return wraps(sp->gfn, sp->npfns) ? "its GFN range wraps past 2^64" : NULL;
	case TSM_REC_VFIO_PCI_BAR_MAP:
	case TSM_REC_VFIO_PCI_BAR_ZAP:
		return wraps(cpu->pfn, cpu->npfns) ? "its PFN range wraps past 2^64" : NULL;
	case TSM_REC_KVM_DMABUF_SLOT_BIND:
	case TSM_REC_KVM_DMABUF_SLOT_UNBIND:
		if (wraps(sl->pfn, sl->npfns))
			return "its PFN range wraps past 2^64";
		return wraps(sl->gfn, sl->npfns) ? "its GFN range wraps past 2^64" : NULL;
	default:
		return NULL;
	}
}

const char *tsm_rec_malformed(const struct tsm_rec_hdr *rec, size_t avail, bool *impossible)
{
	__u32 min;

	if (impossible)
		*impossible = false;
	if (avail < sizeof(*rec))
		return "shorter than a record header";
	if (rec->size < sizeof(*rec) || rec->size & 7)
		return "impossible record size";
	if (rec->size > avail)
		return "longer than what holds it";
	min = tsm_rec_min_size(rec->type);
	if (min && rec->size < min)
		return "shorter than the layout of its type";
	if (!min || !range_wraps(rec))
		return NULL;
	if (impossible)
		*impossible = true;
	return range_wraps(rec);
}

int tsm_dispatch(const struct tsm_ops *ops, void *ctx,
		 const struct tsm_rec_hdr *rec, size_t avail)
{
	tsm_handler_t h;
	int ret;

	if (tsm_rec_malformed(rec, avail, NULL))
		return -EINVAL;
	h = tsm_rec_min_size(rec->type) ? ops->handler[rec->type] : ops->unknown;
	ret = h ? h(ctx, rec) : 0;
	if (!ret && ops->post)
		ret = ops->post(ctx, rec);
	return ret;
}

/* ---- engine ---- */

struct tsm_engine *tsm_engine_new(const struct tsm_engine_opts *opts)
{
	struct tsm_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	if (opts)
		e->opts = *opts;
	if (hash_init(&e->bufs, 64) || hash_init(&e->maps, 256) ||
	    hash_init(&e->dev_ids, 64)) {
		hash_fini(&e->bufs);
		hash_fini(&e->maps);
		free(e);
		return NULL;
	}
	list_init(&e->devs);
	list_init(&e->priv_devs);
	list_init(&e->orphans);
	list_init(&e->sptes);
	list_init(&e->free_maps);
	e->max_v = e->opts.max_violations ? : TSM_MAX_VIOLATIONS;
	if (!e->opts.observed)
		e->opts.observed = TSM_EV_KNOWN;
	e->sum.observed = e->opts.observed & TSM_EV_VIEWS;
	e->sum.kernel_checked = e->opts.kernel_checked;
	e->all_seen = e->opts.state_known;
	if (!e->all_seen) {
		e->sum.incomplete |= TSM_INC_START_UNKNOWN;
		note(e, NULL, "the trace does not say that no device was bound and no DMABUF open when it began");
	}
	return e;
}

void tsm_engine_free(struct tsm_engine *e)
{
	struct list_head *p, *t;
	size_t i;

	if (!e)
		return;
	for (i = 0; i <= e->maps.mask; i++)
		free(e->maps.ent[i].val);
	list_for_each_safe(p, t, &e->free_maps)
		free(container_of(p, struct map, buf_node));
	for (i = 0; i <= e->bufs.mask; i++) {
		struct buf *b = e->bufs.ent[i].val;

		if (b) {
			free(b->r);
			free(b);
		}
	}
	list_for_each_safe(p, t, &e->devs) {
		struct dev *d = container_of(p, struct dev, node);

		rset_fini(&d->priv);
		rset_fini(&d->cpu);
		rset_fini(&d->cpu_maybe);
		rset_fini(&d->cpu_known);
		free(d);
	}
	hash_fini(&e->maps);
	hash_fini(&e->bufs);
	hash_fini(&e->dev_ids);
	for (i = 0; i < e->nr_notes; i++)
		free(e->notes[i]);
	for (i = 0; i < e->nr_v; i++)
		free(e->v[i].conflicts);
	for (i = 0; i < ARRAY_SIZE(e->found); i++)
		free(e->found[i]);
	free(e->v);
	free(e);
}

int tsm_engine_feed(struct tsm_engine *e, const struct tsm_rec_hdr *rec, size_t avail)
{
	return tsm_dispatch(&tsm_engine_ops, e, rec, avail);
}

void tsm_engine_truncated(struct tsm_engine *e)
{
	e->sum.incomplete |= TSM_INC_TRUNCATED;
	note(e, NULL, "the trace ends without its end marker (truncated): only its valid prefix was checked");
}

void tsm_engine_lost_total(struct tsm_engine *e, __u64 nr)
{
	__u64 seen = e->lost_gap > e->lost_rec ? e->lost_gap : e->lost_rec;

	e->lost_end = nr;
	if (nr > seen && !(e->sum.incomplete & TSM_INC_LOST)) {
		e->sum.incomplete |= TSM_INC_LOST;
		note(e, NULL, "the end marker counts %" PRIu64 " lost event(s)", (uint64_t)nr);
	}
}

void tsm_engine_summary(const struct tsm_engine *e, struct tsm_summary *s)
{
	__u64 l = e->lost_gap > e->lost_rec ? e->lost_gap : e->lost_rec;

	*s = e->sum;
	s->nr_violations_kept = e->nr_v;
	s->nr_lost = l > e->lost_end ? l : e->lost_end;
	if (s->nr_violations)
		s->verdict = TSM_VIOLATION;
	else if (s->incomplete || s->nr_doubts || s->nr_lost)
		s->verdict = TSM_INCOMPLETE;
	else
		s->verdict = TSM_PASS;
}

unsigned int tsm_engine_nr_violations(const struct tsm_engine *e)
{
	return e->nr_v;
}

const struct tsm_violation *tsm_engine_violation(const struct tsm_engine *e, unsigned int n)
{
	return n >= 1 && n <= e->nr_v ? &e->v[n - 1] : NULL;
}

const char *tsm_engine_note(const struct tsm_engine *e, unsigned int i)
{
	static char dropped[64];

	if (i < e->nr_notes)
		return e->notes[i];
	if (i == e->nr_notes && e->notes_dropped) {
		snprintf(dropped, sizeof(dropped), "(%u more notes)", e->notes_dropped);
		return dropped;
	}
	return NULL;
}

size_t tsm_engine_live_objects(const struct tsm_engine *e)
{
	struct list_head *p, *t;
	size_t n = e->bufs.nr + e->maps.nr;

	list_for_each_safe(p, t, &e->devs)
		n += 1 + container_of(p, struct dev, node)->priv.nr;
	return n;
}
