// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the engine, its containers and the trace file, on
 * hand-built event sequences. One line per case: PASS: name / FAIL: name.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tsmtrace/engine.h>
#include <tracefile.h>
#include <util.h>
#include <reorder.h>
#include "hostile-zstd.h"
#include "scenario.h"

size_t fmt_record(char *buf, size_t len, const struct tsm_rec_hdr *rec);

static int failures;
static char why[512];

#define CHECK(cond, ...) do { \
	if (!(cond)) { snprintf(why, sizeof(why), __VA_ARGS__); return -1; } \
} while (0)

static void run(const char *name, int (*fn)(void))
{
	why[0] = 0;
	if (fn() == 0) {
		printf("PASS: %s\n", name);
	} else {
		printf("FAIL: %s (%s)\n", name, why);
		failures++;
	}
}

/* ---- an engine fed directly, as the live side feeds it ---- */

static int emit_engine(void *ctx, const struct tsm_rec_hdr *rec)
{
	return tsm_engine_feed(ctx, rec, rec->size);
}



struct t {
	struct tsm_engine *e;
	struct gen g;
	struct flow f;
};

static void t_init(struct t *t, bool known)
{
	struct tsm_engine_opts o = { .state_known = known };

	t->e = tsm_engine_new(&o);
	gen_init(&t->g, emit_engine, t->e);
	flow_default(&t->f, 0);
}

/* the rules found, as "I1_RANGE_MAPPED_SHARED ..." -> compare by invariant + state */
static void rules(struct t *t, char *buf, size_t len)
{
	unsigned int i, n = tsm_engine_nr_violations(t->e);
	size_t o = 0;

	buf[0] = 0;
	for (i = 1; i <= n && o < len; i++) {
		const struct tsm_violation *v = tsm_engine_violation(t->e, i);

		o += snprintf(buf + o, len - o, "%s%s/%s", i > 1 ? " " : "",
			      tsm_inv_id(tsm_rules[v->rule].inv), tsm_rules[v->rule].state);
	}
}

static int expect(struct t *t, enum tsm_verdict verdict, const char *want)
{
	struct tsm_summary s;
	char got[512];

	if (t->g.err) {
		snprintf(why, sizeof(why), "feed failed: %s", strerror(-t->g.err));
		tsm_engine_free(t->e);
		return -1;
	}
	tsm_engine_summary(t->e, &s);
	rules(t, got, sizeof(got));
	if (s.verdict != verdict || strcmp(got, want)) {
		snprintf(why, sizeof(why), "verdict %s [%.200s], expected %s [%.200s]",
			 tsm_verdict_name(s.verdict), got, tsm_verdict_name(verdict), want);
		tsm_engine_free(t->e);
		return -1;
	}
	tsm_engine_free(t->e);
	return 0;
}

#define D	0x0100u
#define BAR	2u
#define VM	0x1000ULL
#define CTX	0x2000ULL
#define BASE	0x100000ULL
#define N	0x1000ULL		/* 16 MiB BAR */
#define PRIV	(BASE + 0x400)
#define NPRIV	0x400ULL

/* bind dev D making [PRIV, PRIV+NPRIV) private, correctly */
static void bind(struct gen *g)
{
	g_op(g, TSM_REC_PCI_TSM_BIND_BEGIN, D, 1, VM, 0, 0);
	g_range(g, D, BAR, PRIV, NPRIV, TSM_ATTR_SHARED, TSM_ATTR_PRIVATE);
	g_op(g, TSM_REC_PCI_TSM_BIND_END, D, 1, VM, 0, 0);
}

static void export1(struct gen *g, __u64 buf, __u32 kind, __u64 pfn, __u64 n)
{
	g_export_range(g, buf, D, BAR, kind, pfn, n);
	g_buf(g, TSM_REC_VFIO_DMABUF_EXPORT, buf, D, BAR, kind, 1);
}

static void ioas_map(struct gen *g, __u64 buf, __u64 iova, __u64 pfn, __u64 n, __u32 kind)
{
	g_ioas(g, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, CTX, 1, iova, buf, pfn, n, kind);
}

static void ioas_unmap(struct gen *g, __u64 buf, __u64 iova, __u64 pfn, __u64 n)
{
	g_ioas(g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, CTX, 1, iova, buf, pfn, n, TSM_UNMAP_USER);
}

/* ---- the flow, and each injected fault ---- */

static int t_flow_good(void)
{
	struct t t;

	t_init(&t, true);
	flow_run(&t.g, &t.f);
	return expect(&t, TSM_PASS, "");
}

static int t_flow_faults(void)
{
	static const struct {
		__u32 faults;
		enum tsm_verdict v;
		const char *rules;
	} c[] = {
		{ F_IOAS_LEFT_AT_BIND, TSM_VIOLATION, "TSM-I1/pfn_mapped_shared TSM-I2/shared_dmabuf_live" },
		{ F_REVOKE_NO_UNMAP, TSM_VIOLATION, "TSM-I5/dmabuf_mapped" },
		{ F_PRIVATE_IN_IOAS, TSM_VIOLATION, "TSM-I3/dmabuf_private" },
		{ F_MAPPING_OUTLIVES, TSM_VIOLATION, "TSM-I7/dmabuf_mapped" },
		{ F_UNBIND_LEAVES_PRIVATE, TSM_VIOLATION,
		  "TSM-I6/private_dmabuf_live TSM-I6/private_slot_mapped TSM-I6/pfn_private" },
		{ F_WRONG_VM, TSM_VIOLATION, "TSM-I4/tdi_bound_to_other_vm" },
		{ F_BIND_FAILS, TSM_PASS, "" },
		{ F_BIND_FAILS_DIRTY, TSM_VIOLATION, "TSM-I8/pfn_private" },
		{ F_CPU_LEFT_AT_BIND, TSM_VIOLATION, "TSM-I9/pfn_cpu_mapped" },
		{ F_LOST_UNMAP, TSM_INCOMPLETE, "" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct t t;

		t_init(&t, true);
		t.f.faults = c[i].faults;
		flow_run(&t.g, &t.f);
		if (expect(&t, c[i].v, c[i].rules)) {
			char w[512];

			snprintf(w, sizeof(w), "faults 0x%x: %.480s", c[i].faults, why);
			strcpy(why, w);
			return -1;
		}
	}
	return 0;
}

/* ---- TSM-I1 ---- */

static int t_i1_range_over_ioas(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	ioas_map(&t.g, 10, 0x10000000, BASE, N, TSM_DMABUF_SHARED);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 10, D, BAR, TSM_DMABUF_SHARED, TSM_REVOKE_BIND);
	bind(&t.g);
	/* the revoke left the mapping (I5); the range finds it (I1) */
	return expect(&t, TSM_VIOLATION, "TSM-I5/dmabuf_mapped TSM-I1/pfn_mapped_shared");
}

static int t_i1_range_over_shared_slot(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_BIND, VM, 1, 0x100, 10, PRIV, NPRIV, 0);
	bind(&t.g);
	return expect(&t, TSM_VIOLATION, "TSM-I1/pfn_mapped_shared TSM-I2/shared_dmabuf_live");
}

static int t_i1_map_over_private(void)
{
	struct t t;

	t_init(&t, true);
	bind(&t.g);
	export1(&t.g, 11, TSM_DMABUF_SHARED, PRIV + 8, 1);
	ioas_map(&t.g, 11, 0x10000000, PRIV + 8, 1, TSM_DMABUF_SHARED);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_BIND, VM, 1, 0x100, 11, PRIV + 8, 1, 0);
	return expect(&t, TSM_VIOLATION,
		      "TSM-I2/pfn_private TSM-I1/pfn_private TSM-I1/pfn_private");
}

static int t_i1_ok(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	ioas_map(&t.g, 10, 0x10000000, BASE, N, TSM_DMABUF_SHARED);
	ioas_unmap(&t.g, 10, 0x10000000, BASE, N);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 10, D, BAR, TSM_DMABUF_SHARED, TSM_REVOKE_BIND);
	bind(&t.g);
	/* the shared fragment right below the private range */
	export1(&t.g, 11, TSM_DMABUF_SHARED, BASE, PRIV - BASE);
	ioas_map(&t.g, 11, 0x10000000, BASE, PRIV - BASE, TSM_DMABUF_SHARED);
	return expect(&t, TSM_PASS, "");
}

/* ---- TSM-I2 ---- */

static int t_i2_private_unbound(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 12, TSM_DMABUF_PRIVATE, PRIV, NPRIV);
	return expect(&t, TSM_VIOLATION, "TSM-I2/tdi_unbound");
}

static int t_i2_private_over_shared(void)
{
	struct t t;

	t_init(&t, true);
	bind(&t.g);
	export1(&t.g, 12, TSM_DMABUF_PRIVATE, PRIV, NPRIV + 1);
	return expect(&t, TSM_VIOLATION, "TSM-I2/pfn_shared");
}

static int t_i2_range_under_private_buf(void)
{
	struct t t;

	t_init(&t, true);
	bind(&t.g);
	export1(&t.g, 12, TSM_DMABUF_PRIVATE, PRIV, NPRIV);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_BEGIN, D, 1, VM, 0, 0);
	g_range(&t.g, D, BAR, PRIV, NPRIV, TSM_ATTR_PRIVATE, TSM_ATTR_SHARED);
	return expect(&t, TSM_VIOLATION, "TSM-I2/private_dmabuf_live");
}

static int t_i2_ok(void)
{
	struct t t;

	t_init(&t, true);
	bind(&t.g);
	export1(&t.g, 12, TSM_DMABUF_PRIVATE, PRIV, NPRIV);
	export1(&t.g, 13, TSM_DMABUF_SHARED, PRIV + NPRIV, N - (PRIV + NPRIV - BASE));
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_BEGIN, D, 1, VM, 0, 0);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 12, D, BAR, TSM_DMABUF_PRIVATE, TSM_REVOKE_UNBIND);
	g_range(&t.g, D, BAR, PRIV, NPRIV, TSM_ATTR_PRIVATE, TSM_ATTR_SHARED);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_END, D, 1, VM, 0, 0);
	return expect(&t, TSM_PASS, "");
}

/* ---- TSM-I3 ---- */

static int t_i3_private_in_ioas(void)
{
	struct t t;

	t_init(&t, true);
	bind(&t.g);
	export1(&t.g, 12, TSM_DMABUF_PRIVATE, PRIV, NPRIV);
	ioas_map(&t.g, 12, 0x10000000, PRIV, NPRIV, TSM_DMABUF_PRIVATE);
	return expect(&t, TSM_VIOLATION, "TSM-I3/dmabuf_private");
}

/* ---- TSM-I4 ---- */

static int t_i4_cases(void)
{
	static const struct {
		__u64 vm;
		__u32 buf, priv;
		__u64 pfn, n;
		const char *rules;
	} c[] = {
		{ VM, 12, 1, PRIV, NPRIV, "" },				/* correct */
		{ VM + 1, 12, 1, PRIV, NPRIV, "TSM-I4/tdi_bound_to_other_vm" },
		{ VM, 13, 1, BASE, 0x10, "TSM-I4/dmabuf_shared" },	/* shared buf, private slot */
		{ VM, 12, 1, PRIV, NPRIV + 1, "TSM-I4/pfn_shared" },	/* slot beyond private */
		{ VM, 12, 0, PRIV, NPRIV, "TSM-I4/dmabuf_private" },	/* private buf, shared slot */
	};
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct t t;

		t_init(&t, true);
		bind(&t.g);
		export1(&t.g, 12, TSM_DMABUF_PRIVATE, PRIV, NPRIV);
		export1(&t.g, 13, TSM_DMABUF_SHARED, BASE, 0x10);
		g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_BIND, c[i].vm, 5, 0x100, c[i].buf,
		       c[i].pfn, c[i].n, c[i].priv);
		if (expect(&t, c[i].rules[0] ? TSM_VIOLATION : TSM_PASS, c[i].rules)) {
			char w[512];

			snprintf(w, sizeof(w), "case %u: %.480s", i, why);
			strcpy(why, w);
			return -1;
		}
	}
	return 0;
}

static int t_i4_range_under_private_slot(void)
{
	struct t t;

	t_init(&t, true);
	bind(&t.g);
	export1(&t.g, 12, TSM_DMABUF_PRIVATE, PRIV, NPRIV);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_BIND, VM, 5, 0x100, 12, PRIV, NPRIV, 1);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_BEGIN, D, 1, VM, 0, 0);
	g_range(&t.g, D, BAR, PRIV, NPRIV, TSM_ATTR_PRIVATE, TSM_ATTR_SHARED);
	return expect(&t, TSM_VIOLATION, "TSM-I2/private_dmabuf_live TSM-I4/private_slot_mapped");
}

/* ---- TSM-I5 ---- */

/*
 * The in-kernel check's verdict travels in each record (TSM_REC_F_FLAGGED):
 * the engine judges every event again and must agree with it. @flag_type:
 * the records to flag, as the kernel would have; 0 none.
 */
struct flagging {
	struct tsm_engine *e;
	__u32 flag_type;
};

static int emit_flagged(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct flagging *fl = ctx;
	unsigned char buf[1024];
	struct tsm_rec_hdr *h = (void *)buf;

	if (rec->size > sizeof(buf))
		return -E2BIG;
	memcpy(buf, rec, rec->size);
	if (rec->type == fl->flag_type)
		h->flags |= TSM_REC_F_FLAGGED;
	return tsm_engine_feed(fl->e, h, h->size);
}

static int t_kernel_agreement(void)
{
	static const struct {
		const char *name;
		bool checked, violation;
		__u32 flag_type;
		enum tsm_verdict v;
		__u64 flagged, disagree;
		bool disagree_incomplete;
	} c[] = {
		/* the revoke leaves a slot mapped: both see it */
		{ "both-flag-the-revoke", true, true, TSM_REC_VFIO_DMABUF_REVOKE,
		  TSM_VIOLATION, 1, 0, false },
		/* the engine sees what the kernel let through */
		{ "engine-alone", true, true, 0, TSM_VIOLATION, 0, 1, false },
		/* the kernel flagged a correct event: one of the two is wrong */
		{ "kernel-alone", true, false, TSM_REC_VFIO_DMABUF_EXPORT,
		  TSM_INCOMPLETE, 1, 1, true },
		{ "both-clean", true, false, 0, TSM_PASS, 0, 0, false },
		/* a generator's file carries no kernel verdict */
		{ "synthetic-not-compared", false, false, TSM_REC_VFIO_DMABUF_EXPORT,
		  TSM_PASS, 0, 0, false },
	};
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct tsm_engine_opts o = { .state_known = true, .kernel_checked = c[i].checked };
		struct flagging fl = { .flag_type = c[i].flag_type };
		struct tsm_summary s;
		struct gen g;

		fl.e = tsm_engine_new(&o);
		gen_init(&g, emit_flagged, &fl);
		export1(&g, 10, TSM_DMABUF_SHARED, BASE, N);
		g_slot(&g, TSM_REC_KVM_DMABUF_SLOT_BIND, VM, 1, 0x100, 10, BASE, N, 0);
		if (!c[i].violation)
			g_slot(&g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, VM, 1, 0x100, 10, BASE, N,
			       TSM_UNMAP_USER);
		g_buf(&g, TSM_REC_VFIO_DMABUF_REVOKE, 10, D, BAR, TSM_DMABUF_SHARED,
		      TSM_REVOKE_RESET);
		tsm_engine_summary(fl.e, &s);
		tsm_engine_free(fl.e);
		if (g.err || s.verdict != c[i].v || s.nr_flagged != c[i].flagged ||
		    s.nr_disagree != c[i].disagree || s.kernel_checked != c[i].checked ||
		    !!(s.incomplete & TSM_INC_DISAGREE) != c[i].disagree_incomplete) {
			snprintf(why, sizeof(why),
				 "%s: err %d, verdict %s, flagged %llu, disagree %llu, incomplete 0x%x",
				 c[i].name, g.err, tsm_verdict_name(s.verdict),
				 (unsigned long long)s.nr_flagged, (unsigned long long)s.nr_disagree,
				 s.incomplete);
			return -1;
		}
	}
	return 0;
}

static int t_i5_revoke_mapped(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_BIND, VM, 1, 0x100, 10, BASE, N, 0);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 10, D, BAR, TSM_DMABUF_SHARED, TSM_REVOKE_RESET);
	return expect(&t, TSM_VIOLATION, "TSM-I5/dmabuf_mapped");
}

/*
 * The stock-kernel source: the IOMMU's own mappings of DMABUF pages, on
 * their own (no IOAS, no layout events), as a kernel without the series'
 * tracepoints gives them.
 */
#define DOMAIN	0xffff888001234000ULL

static struct t stock_t(void)
{
	struct tsm_engine_opts o = {
		.state_known = true,
		.observed = TSM_EV_VFIO_DMABUF | TSM_EV_IOMMU,
	};
	struct t t;

	t.e = tsm_engine_new(&o);
	gen_init(&t.g, emit_engine, t.e);
	return t;
}

static int t_stock_iommu(void)
{
	static const struct {
		const char *name;
		int unmap;	/* 0: none, 1: before the revoke, 2: after the release */
		bool release;
		enum tsm_verdict v;
		const char *rules;
	} c[] = {
		{ "revoke-unmapped-first", 1, true, TSM_PASS, "" },
		{ "revoke-while-mapped", 0, false, TSM_VIOLATION, "TSM-I5/dmabuf_mapped" },
		{ "release-while-mapped", 2, true, TSM_VIOLATION,
		  "TSM-I5/dmabuf_mapped TSM-I7/dmabuf_mapped" },
	};
	const struct tsm_violation *v;
	struct tsm_coverage cov;
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct t t = stock_t();

		export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
		g_iommu(&t.g, TSM_REC_IOMMU_MAP_DMABUF, DOMAIN, D, 0x400000, 10, BASE, N,
			TSM_DMABUF_SHARED);
		if (c[i].unmap == 1)
			g_iommu(&t.g, TSM_REC_IOMMU_UNMAP_DMABUF, DOMAIN, D, 0x400000, 10, BASE, N,
				TSM_UNMAP_REVOKE);
		g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 10, D, BAR, TSM_DMABUF_SHARED,
		      TSM_REVOKE_MEM_DISABLE);
		v = tsm_engine_violation(t.e, 1);
		if (v) {
			CHECK(v->other.valid & TSM_OBJ_DOMAIN && v->other.ctx == DOMAIN &&
			      v->other.iova == 0x400000 && v->other.pfn == BASE &&
			      v->other.npfns == N && v->other.dev == D,
			      "%s: the conflict does not name the domain, IOVA, PFNs and device",
			      c[i].name);
		}
		if (c[i].release)
			g_buf(&t.g, TSM_REC_VFIO_DMABUF_RELEASE, 10, D, BAR, TSM_DMABUF_SHARED, 0);
		if (c[i].unmap == 2)
			g_iommu(&t.g, TSM_REC_IOMMU_UNMAP_DMABUF, DOMAIN, D, 0x400000, 10, BASE, N,
				TSM_UNMAP_USER);
		if (expect(&t, c[i].v, c[i].rules)) {
			char w[512];

			snprintf(w, sizeof(w), "%s: %.480s", c[i].name, why);
			memcpy(why, w, sizeof(why));
			return -1;
		}
	}
	/* what the stock source decides: TSM-I5 and TSM-I7 over the IOMMU only */
	tsm_coverage(TSM_EV_VFIO_DMABUF | TSM_EV_IOMMU, &cov);
	CHECK(!cov.full && cov.inv[TSM_I5] == TSM_COV_PARTIAL &&
	      cov.inv[TSM_I7] == TSM_COV_PARTIAL && cov.inv[TSM_I1] == TSM_COV_NONE &&
	      cov.inv[TSM_I3] == TSM_COV_NONE && cov.nr_observed == 4,
	      "coverage of the stock source: I5 %d I7 %d I1 %d I3 %d, %u observed",
	      cov.inv[TSM_I5], cov.inv[TSM_I7], cov.inv[TSM_I1], cov.inv[TSM_I3],
	      cov.nr_observed);
	/* both views of the IOMMU at once cover it no more than one */
	tsm_coverage(TSM_EV_ALL | TSM_EV_IOMMU, &cov);
	CHECK(cov.full && cov.inv[TSM_I5] == TSM_COV_FULL, "series + IOMMU: not full");
	return 0;
}

/*
 * KVM's entries of BAR pages (the stock-kernel source): not derived from a
 * DMABUF, yet a revoke of a DMABUF over their pages must find them gone,
 * and none may appear over a revoked DMABUF's pages. A release does not
 * care (the VMM's mmap of the BAR outlives its DMABUFs).
 */
static int t_stock_kvm(void)
{
	static const struct {
		const char *name;
		__u64 pfn;	/* of the entry */
		__u32 level;
		int zap;	/* 0: never, 1: before the revoke, 2: after it */
		bool map_after;	/* the entry appears after the revoke */
		enum tsm_verdict v;
		const char *rules;
	} c[] = {
		{ "zapped-before-revoke", BASE, 1, 1, false, TSM_PASS, "" },
		{ "survives-revoke", BASE + 1, 1, 2, false, TSM_VIOLATION, "TSM-I5/dmabuf_mapped" },
		{ "huge-survives-revoke", BASE & ~0x1ffULL, 2, 0, false, TSM_VIOLATION,
		  "TSM-I5/dmabuf_mapped" },
		{ "other-pages-survive", BASE + N, 1, 0, false, TSM_PASS, "" },
		{ "maps-revoked-pages", BASE, 1, 0, true, TSM_VIOLATION, "TSM-I5/dmabuf_revoked" },
	};
	const __u64 gfn = 0x40000;
	const struct tsm_violation *v;
	struct tsm_engine_opts o = {
		.state_known = true,
		.observed = TSM_EV_VFIO_DMABUF | TSM_EV_IOMMU | TSM_EV_KVM_SPTE,
	};
	struct tsm_coverage cov;
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct t t;

		t.e = tsm_engine_new(&o);
		gen_init(&t.g, emit_engine, t.e);
		export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
		if (!c[i].map_after)
			g_spte(&t.g, TSM_REC_KVM_SPTE_MAP, gfn, c[i].pfn, c[i].level, D);
		if (c[i].zap == 1)
			g_spte(&t.g, TSM_REC_KVM_SPTE_UNMAP, gfn, c[i].pfn, c[i].level, D);
		g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 10, D, BAR, TSM_DMABUF_SHARED,
		      TSM_REVOKE_UNSPEC);
		v = tsm_engine_violation(t.e, 1);
		if (v && !c[i].map_after) {
			CHECK(v->other.valid & TSM_OBJ_SPTE && v->other.gfn == gfn &&
			      v->other.pfn == c[i].pfn && v->other.level == c[i].level &&
			      v->other.dev == D,
			      "%s: the conflict does not name the GFN, PFN, level and device",
			      c[i].name);
		}
		if (c[i].map_after) {
			g_spte(&t.g, TSM_REC_KVM_SPTE_MAP, gfn, c[i].pfn, c[i].level, D);
			v = tsm_engine_violation(t.e, 1);
			CHECK(v && v->other.buf == 10 && v->obj.valid & TSM_OBJ_SPTE,
			      "%s: the violation does not name the revoked DMABUF", c[i].name);
		}
		/* the VMM's mmap outlives the DMABUF: no TSM-I7 */
		g_buf(&t.g, TSM_REC_VFIO_DMABUF_RELEASE, 10, D, BAR, TSM_DMABUF_SHARED, 0);
		if (c[i].zap == 2 || c[i].map_after)
			g_spte(&t.g, TSM_REC_KVM_SPTE_UNMAP, gfn, c[i].pfn, c[i].level, D);
		if (expect(&t, c[i].v, c[i].rules)) {
			char w[512];

			snprintf(w, sizeof(w), "%s: %.480s", c[i].name, why);
			memcpy(why, w, sizeof(why));
			return -1;
		}
	}
	/* with KVM's entries too, revocation is decided everywhere a mapping lives */
	tsm_coverage(o.observed, &cov);
	CHECK(cov.inv[TSM_I5] == TSM_COV_FULL && cov.inv[TSM_I7] == TSM_COV_PARTIAL &&
	      cov.inv[TSM_I1] == TSM_COV_NONE,
	      "coverage with KVM's entries: I5 %d I7 %d I1 %d", cov.inv[TSM_I5],
	      cov.inv[TSM_I7], cov.inv[TSM_I1]);
	return 0;
}

static int t_i5_map_revoked(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 10, D, BAR, TSM_DMABUF_SHARED, TSM_REVOKE_RESET);
	ioas_map(&t.g, 10, 0x10000000, BASE, N, TSM_DMABUF_SHARED);
	return expect(&t, TSM_VIOLATION, "TSM-I5/dmabuf_revoked");
}

static int t_i5_ok(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_BIND, VM, 1, 0x100, 10, BASE, N, 0);
	ioas_map(&t.g, 10, 0x10000000, BASE, N, TSM_DMABUF_SHARED);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, VM, 1, 0x100, 10, BASE, N, TSM_UNMAP_REVOKE);
	g_ioas(&t.g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, CTX, 1, 0x10000000, 10, BASE, N,
	       TSM_UNMAP_REVOKE);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 10, D, BAR, TSM_DMABUF_SHARED, TSM_REVOKE_RESET);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_RELEASE, 10, D, BAR, TSM_DMABUF_SHARED, 0);
	return expect(&t, TSM_PASS, "");
}

/*
 * A slot over a slice across two ranges of a DMABUF: one event per range,
 * each range a mapping of its own until its own unbind.
 */
static int t_i5_slot_two_ranges(bool unbind_both)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_BIND, VM, 1, 0x100, 10, BASE, N / 2, 0);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_BIND, VM, 1, 0x100 + N / 2, 10, BASE + N / 2, N / 2,
	       0);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, VM, 1, 0x100, 10, BASE, N / 2,
	       TSM_UNMAP_USER);
	if (unbind_both)
		g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, VM, 1, 0x100 + N / 2, 10,
		       BASE + N / 2, N / 2, TSM_UNMAP_USER);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 10, D, BAR, TSM_DMABUF_SHARED, TSM_REVOKE_RESET);
	return unbind_both ? expect(&t, TSM_PASS, "") :
			     expect(&t, TSM_VIOLATION, "TSM-I5/dmabuf_mapped");
}

static int t_i5_slot_two_ranges_ok(void)
{
	return t_i5_slot_two_ranges(true);
}

static int t_i5_slot_two_ranges_one_left(void)
{
	return t_i5_slot_two_ranges(false);
}

/* mainline un-revokes (memory decode back on): the DMABUF maps again */
static int t_i5_restore_then_map(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	ioas_map(&t.g, 10, 0x10000000, BASE, N, TSM_DMABUF_SHARED);
	g_ioas(&t.g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, CTX, 1, 0x10000000, 10, BASE, N,
	       TSM_UNMAP_REVOKE);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 10, D, BAR, TSM_DMABUF_SHARED,
	      TSM_REVOKE_MEM_DISABLE);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_RESTORE, 10, D, BAR, TSM_DMABUF_SHARED,
	      TSM_REVOKE_MEM_DISABLE);
	ioas_map(&t.g, 10, 0x20000000, BASE, N, TSM_DMABUF_SHARED);
	ioas_unmap(&t.g, 10, 0x20000000, BASE, N);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_RELEASE, 10, D, BAR, TSM_DMABUF_SHARED, 0);
	return expect(&t, TSM_PASS, "");
}

/* a restore is checked as an export: a shared DMABUF over private pages */
static int t_i2_restore_over_private(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, PRIV, NPRIV);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 10, D, BAR, TSM_DMABUF_SHARED,
	      TSM_REVOKE_MEM_DISABLE);
	bind(&t.g);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_RESTORE, 10, D, BAR, TSM_DMABUF_SHARED,
	      TSM_REVOKE_MEM_DISABLE);
	return expect(&t, TSM_VIOLATION, "TSM-I2/pfn_private");
}

/* ---- TSM-I6 ---- */

static int t_i6_pages_left_private(void)
{
	struct t t;

	t_init(&t, true);
	bind(&t.g);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_BEGIN, D, 1, VM, 0, 0);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_END, D, 1, VM, 0, 0);
	return expect(&t, TSM_VIOLATION, "TSM-I6/pfn_private");
}

static int t_i6_private_buf_left(void)
{
	struct t t;

	t_init(&t, true);
	bind(&t.g);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_BEGIN, D, 1, VM, 0, 0);
	g_range(&t.g, D, BAR, PRIV, NPRIV, TSM_ATTR_PRIVATE, TSM_ATTR_SHARED);
	/* exported in the middle of unbind, after the conversion: live at the end */
	g_export_range(&t.g, 12, D, BAR, TSM_DMABUF_PRIVATE, PRIV, NPRIV);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_EXPORT, 12, D, BAR, TSM_DMABUF_PRIVATE, 1);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_END, D, 1, VM, 0, 0);
	return expect(&t, TSM_VIOLATION, "TSM-I2/pfn_shared TSM-I6/private_dmabuf_live");
}

/*
 * The owner of the mappings hears of an unbind after its begin event: a
 * private DMABUF exported in between is revoked with the rest. PASS; the
 * same one left unrevoked when its pages turn shared is not.
 */
static int t_i2_export_early_in_unbind(bool revoked)
{
	struct t t;

	t_init(&t, true);
	bind(&t.g);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_BEGIN, D, 1, VM, 0, 0);
	export1(&t.g, 12, TSM_DMABUF_PRIVATE, PRIV, NPRIV);
	if (revoked)
		g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 12, D, BAR, TSM_DMABUF_PRIVATE,
		      TSM_REVOKE_UNBIND);
	g_range(&t.g, D, BAR, PRIV, NPRIV, TSM_ATTR_PRIVATE, TSM_ATTR_SHARED);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_END, D, 1, VM, 0, 0);
	return revoked ? expect(&t, TSM_PASS, "") :
			 expect(&t, TSM_VIOLATION,
				"TSM-I2/private_dmabuf_live TSM-I6/private_dmabuf_live");
}

/* a private slot made early in an unbind is zapped by its revoke: PASS */
static int t_i4_slot_early_in_unbind(void)
{
	struct t t;

	t_init(&t, true);
	bind(&t.g);
	export1(&t.g, 12, TSM_DMABUF_PRIVATE, PRIV, NPRIV);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_BEGIN, D, 1, VM, 0, 0);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_BIND, VM, 5, 0x100, 12, PRIV, NPRIV, 1);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, VM, 5, 0x100, 12, PRIV, NPRIV,
	       TSM_UNMAP_REVOKE);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 12, D, BAR, TSM_DMABUF_PRIVATE, TSM_REVOKE_UNBIND);
	g_range(&t.g, D, BAR, PRIV, NPRIV, TSM_ATTR_PRIVATE, TSM_ATTR_SHARED);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_END, D, 1, VM, 0, 0);
	return expect(&t, TSM_PASS, "");
}

static int t_i2_export_early_in_unbind_revoked(void)
{
	return t_i2_export_early_in_unbind(true);
}

static int t_i2_export_early_in_unbind_left(void)
{
	return t_i2_export_early_in_unbind(false);
}

/* ---- TSM-I7 ---- */

static int t_i7_release_mapped(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	ioas_map(&t.g, 10, 0x10000000, BASE, N / 2, TSM_DMABUF_SHARED);
	ioas_map(&t.g, 10, 0x20000000, BASE + N / 2, N / 2, TSM_DMABUF_SHARED);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_RELEASE, 10, D, BAR, TSM_DMABUF_SHARED, 0);
	/* the mappings stay in the state, owned by no DMABUF, and go away later */
	ioas_unmap(&t.g, 10, 0x10000000, BASE, N / 2);
	ioas_unmap(&t.g, 10, 0x20000000, BASE + N / 2, N / 2);
	if (tsm_engine_nr_violations(t.e) == 1 &&
	    tsm_engine_violation(t.e, 1)->nr_other != 2) {
		snprintf(why, sizeof(why), "expected 2 objects in conflict, got %u",
			 tsm_engine_violation(t.e, 1)->nr_other);
		tsm_engine_free(t.e);
		return -1;
	}
	return expect(&t, TSM_VIOLATION, "TSM-I7/dmabuf_mapped");
}

/* ---- TSM-I8 ---- */

static int t_i8_busy_bind_is_not_a_failure(void)
{
	struct t t;

	t_init(&t, true);
	bind(&t.g);
	/* binding a bound TDI fails with -EBUSY and changes nothing */
	g_op(&t.g, TSM_REC_PCI_TSM_BIND_BEGIN, D, 1, VM, 0, 0);
	g_op(&t.g, TSM_REC_PCI_TSM_BIND_END, D, 1, VM, 0, -EBUSY);
	export1(&t.g, 12, TSM_DMABUF_PRIVATE, PRIV, NPRIV);
	return expect(&t, TSM_PASS, "");
}

/* ---- TSM-I9 ---- */

static void cpu(struct gen *g, __u32 type, __u64 pfn, __u64 n)
{
	g_cpu(g, type, D, BAR, pfn, n);
}

/* a mapping made before bind, zapped by it; shared pages mapped again */
static int t_i9_ok(void)
{
	struct t t;

	t_init(&t, true);
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_MAP, BASE, 512);
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_MAP, PRIV, 1);
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_ZAP, BASE, N);
	bind(&t.g);
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_MAP, BASE, 1);
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_MAP, PRIV + NPRIV, 1);
	return expect(&t, TSM_PASS, "");
}

/* bind made a mapped page private: no zap came between */
static int t_i9_range_over_cpu_mapping(void)
{
	struct t t;
	const struct tsm_violation *v;

	t_init(&t, true);
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_MAP, PRIV + 0x10, 1);
	bind(&t.g);
	v = tsm_engine_violation(t.e, 1);
	if (!v || !(v->other.valid & TSM_OBJ_CPU) || v->other.ov_pfn != PRIV + 0x10 ||
	    v->other.ov_npfns != 1 || v->other.dev != D) {
		snprintf(why, sizeof(why), "the host CPU mapping is not named with its PFN");
		tsm_engine_free(t.e);
		return -1;
	}
	return expect(&t, TSM_VIOLATION, "TSM-I9/pfn_cpu_mapped");
}

/* a zap of another BAR does not take this one's mapping away */
static int t_i9_other_bar_zapped(void)
{
	struct t t;

	t_init(&t, true);
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_MAP, PRIV, 1);
	g_cpu(&t.g, TSM_REC_VFIO_PCI_BAR_ZAP, D, 0, BASE - 0x100, 0x100);
	g_cpu(&t.g, TSM_REC_VFIO_PCI_BAR_ZAP, D + 1, BAR, BASE, N);
	bind(&t.g);
	return expect(&t, TSM_VIOLATION, "TSM-I9/pfn_cpu_mapped");
}

/* a host CPU mapping made of a private page */
static int t_i9_map_of_private(void)
{
	struct t t;

	t_init(&t, true);
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_ZAP, BASE, N);
	bind(&t.g);
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_MAP, PRIV - 1, 2);
	return expect(&t, TSM_VIOLATION, "TSM-I9/pfn_private");
}

/*
 * Tracing began late: a mapping may predate it, so a bind without a zap
 * decides nothing; a zap seen makes the BAR known, and a mapping seen after
 * it is certain.
 */
static int t_i9_unknown_start(void)
{
	struct t t;
	struct tsm_summary s;

	t_init(&t, false);
	bind(&t.g);
	tsm_engine_summary(t.e, &s);
	if (!s.nr_doubts) {
		snprintf(why, sizeof(why), "a bind over a BAR never zapped raised no doubt");
		tsm_engine_free(t.e);
		return -1;
	}
	if (expect(&t, TSM_INCOMPLETE, ""))
		return -1;
	t_init(&t, false);
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_ZAP, BASE, N);
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_MAP, PRIV, 1);
	bind(&t.g);
	return expect(&t, TSM_VIOLATION, "TSM-I9/pfn_cpu_mapped");
}

/* a loss may hide the zap: the mapping seen before it is only a doubt */
static int t_i9_lost_zap(void)
{
	struct t t;

	t_init(&t, true);
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_MAP, PRIV, 1);
	t.g.drop = 1;
	cpu(&t.g, TSM_REC_VFIO_PCI_BAR_ZAP, BASE, N);
	g_lost(&t.g, 1);
	bind(&t.g);
	return expect(&t, TSM_INCOMPLETE, "");
}

/* ---- knowledge: no false VIOLATION, no false PASS ---- */

static int t_lost_never_pass(void)
{
	struct t t;

	t_init(&t, true);
	flow_start(&t.g, &t.f);
	flow_bind(&t.g, &t.f);
	t.g.drop = 1;		/* a harmless event, lost, seen only as a gap */
	g_tdi(&t.g, D, 1, TSM_TDI_RUN, TSM_TDI_RUN);
	flow_bound(&t.g, &t.f);
	flow_unbind(&t.g, &t.f);
	return expect(&t, TSM_INCOMPLETE, "");
}

static int t_lost_no_false_violation(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	ioas_map(&t.g, 10, 0x10000000, BASE, N, TSM_DMABUF_SHARED);
	t.g.drop = 1;		/* the unmap */
	ioas_unmap(&t.g, 10, 0x10000000, BASE, N);
	g_lost(&t.g, 1);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 10, D, BAR, TSM_DMABUF_SHARED, TSM_REVOKE_BIND);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_RELEASE, 10, D, BAR, TSM_DMABUF_SHARED, 0);
	bind(&t.g);
	return expect(&t, TSM_INCOMPLETE, "");
}

static int t_lost_then_relearn(void)
{
	struct t t;

	/* after a loss, a DMABUF exported later is fully known: I7 is certain */
	t_init(&t, true);
	g_lost(&t.g, 3);
	export1(&t.g, 20, TSM_DMABUF_SHARED, BASE, N);
	ioas_map(&t.g, 20, 0x10000000, BASE, N, TSM_DMABUF_SHARED);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_RELEASE, 20, D, BAR, TSM_DMABUF_SHARED, 0);
	return expect(&t, TSM_VIOLATION, "TSM-I7/dmabuf_mapped");
}

static int t_unknown_start_no_false_violation(void)
{
	struct t t;

	/*
	 * The device was bound before tracing: its layout and its DMABUFs
	 * are unknown. A shared mapping over what may be private PFNs, the
	 * private slot's removal, the revoke and the unbind can be judged
	 * neither way.
	 */
	t_init(&t, false);
	ioas_map(&t.g, 11, 0x10000000, PRIV, 1, TSM_DMABUF_SHARED);
	ioas_unmap(&t.g, 11, 0x10000000, PRIV, 1);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, VM, 5, 0x100, 12, PRIV, NPRIV, TSM_UNMAP_USER);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_REVOKE, 12, D, BAR, TSM_DMABUF_PRIVATE, TSM_REVOKE_UNBIND);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_BEGIN, D, 1, VM, 0, 0);
	g_range(&t.g, D, BAR, PRIV, NPRIV, TSM_ATTR_PRIVATE, TSM_ATTR_SHARED);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_END, D, 1, VM, 0, 0);
	return expect(&t, TSM_INCOMPLETE, "");
}

static int t_unknown_start_certain_violation(void)
{
	struct t t;

	/* a private DMABUF exported in the trace, unrevoked at the conversion */
	t_init(&t, false);
	g_export_range(&t.g, 30, D, BAR, TSM_DMABUF_PRIVATE, PRIV, NPRIV);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_EXPORT, 30, D, BAR, TSM_DMABUF_PRIVATE, 1);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_BEGIN, D, 1, VM, 0, 0);
	g_range(&t.g, D, BAR, PRIV, NPRIV, TSM_ATTR_PRIVATE, TSM_ATTR_SHARED);
	return expect(&t, TSM_VIOLATION, "TSM-I2/private_dmabuf_live");
}

static int t_unknown_start_relearn_by_unbind(void)
{
	struct t t;

	/* unbind_end makes the layout known (all shared): a later I1 is certain */
	t_init(&t, false);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_BEGIN, D, 1, VM, 0, 0);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_END, D, 1, VM, 0, 0);
	bind(&t.g);
	export1(&t.g, 40, TSM_DMABUF_SHARED, PRIV, 1);
	return expect(&t, TSM_VIOLATION, "TSM-I2/pfn_private");
}

static int t_stale_layout_forgotten_at_bind(void)
{
	struct t t;

	/*
	 * Range A is made private, its conversion back is lost; a later bind
	 * makes range B private. A must not count as private any more: a
	 * shared DMABUF over A is fine.
	 */
	t_init(&t, true);
	bind(&t.g);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_BEGIN, D, 1, VM, 0, 0);
	t.g.drop = 1;
	g_range(&t.g, D, BAR, PRIV, NPRIV, TSM_ATTR_PRIVATE, TSM_ATTR_SHARED);
	g_op(&t.g, TSM_REC_PCI_TSM_UNBIND_END, D, 1, VM, 0, 0);
	/* unbind_end re-established the device: all shared */
	g_op(&t.g, TSM_REC_PCI_TSM_BIND_BEGIN, D, 1, VM, 0, 0);
	g_range(&t.g, D, BAR, BASE, 0x10, TSM_ATTR_SHARED, TSM_ATTR_PRIVATE);
	g_op(&t.g, TSM_REC_PCI_TSM_BIND_END, D, 1, VM, 0, 0);
	export1(&t.g, 40, TSM_DMABUF_SHARED, PRIV, NPRIV);
	export1(&t.g, 41, TSM_DMABUF_SHARED, BASE + 8, 1);	/* over B: certain */
	return expect(&t, TSM_VIOLATION, "TSM-I2/pfn_private");
}

static int t_stale_layout_reset_by_bind(void)
{
	struct t t;

	/* the same, but the device is unknown from the start and only a bind teaches it */
	t_init(&t, false);
	g_range(&t.g, D, BAR, PRIV, NPRIV, TSM_ATTR_SHARED, TSM_ATTR_PRIVATE);
	g_lost(&t.g, 1);
	g_op(&t.g, TSM_REC_PCI_TSM_BIND_BEGIN, D, 1, VM, 0, 0);
	g_range(&t.g, D, BAR, BASE, 0x10, TSM_ATTR_SHARED, TSM_ATTR_PRIVATE);
	g_op(&t.g, TSM_REC_PCI_TSM_BIND_END, D, 1, VM, 0, 0);
	export1(&t.g, 40, TSM_DMABUF_SHARED, PRIV, NPRIV);
	export1(&t.g, 41, TSM_DMABUF_SHARED, BASE + 8, 1);
	return expect(&t, TSM_VIOLATION, "TSM-I2/pfn_private");
}

static int t_state_unknown_record(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	ioas_map(&t.g, 10, 0x10000000, BASE, N, TSM_DMABUF_SHARED);
	g_state_unknown(&t.g);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_RELEASE, 10, D, BAR, TSM_DMABUF_SHARED, 0);
	return expect(&t, TSM_INCOMPLETE, "");
}

static int t_order(void)
{
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	t.g.seq -= 2;	/* a sequence number seen again */
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_RELEASE, 10, D, BAR, TSM_DMABUF_SHARED, 0);
	return expect(&t, TSM_INCOMPLETE, "");
}

static int t_inconsistent(void)
{
	struct t t;

	t_init(&t, true);
	ioas_unmap(&t.g, 10, 0x10000000, BASE, N);	/* never mapped */
	return expect(&t, TSM_INCOMPLETE, "");
}

/* ---- records ---- */

static int t_stack_attached(void)
{
	const struct tsm_violation *v;
	struct t t;

	t_init(&t, true);
	export1(&t.g, 12, TSM_DMABUF_PRIVATE, PRIV, NPRIV);
	g_stack(&t.g, 5);
	v = tsm_engine_violation(t.e, 1);
	CHECK(v && v->nr_stack == 5 && v->stack[0] == 0xffffffff81000000ULL + 2 * 0x1000,
	      "stack not attached to violation 1");
	tsm_engine_free(t.e);
	return 0;
}

/*
 * A record of an unknown type may have changed anything: the verdict is at
 * best INCOMPLETE, with the count; a violation it could have cleared (an
 * unmap of a newer kind) is not reported; one found before it stands.
 */
static int t_unknown_type(void)
{
	struct tsm_summary s;
	struct t t;

	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	g_unknown(&t.g, 40);
	g_buf(&t.g, TSM_REC_VFIO_DMABUF_RELEASE, 10, D, BAR, TSM_DMABUF_SHARED, 0);
	g_state_unknown(&t.g);
	tsm_engine_summary(t.e, &s);
	CHECK(s.nr_unknown_type == 1 && s.verdict == TSM_INCOMPLETE &&
	      (s.incomplete & TSM_INC_UNKNOWN), "unknown=%" PRIu64 " verdict %s",
	      (uint64_t)s.nr_unknown_type, tsm_verdict_name(s.verdict));
	tsm_engine_free(t.e);

	/* without the unknown record this is TSM-I1 (t_i1_range_over_ioas) */
	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_SHARED, BASE, N);
	ioas_map(&t.g, 10, 0x10000000, BASE, N, TSM_DMABUF_SHARED);
	g_unknown(&t.g, 41);
	bind(&t.g);
	if (expect(&t, TSM_INCOMPLETE, ""))
		return -1;

	/* a violation before it stands; a newer recorder record counts too */
	t_init(&t, true);
	export1(&t.g, 10, TSM_DMABUF_PRIVATE, BASE, N);
	g_unknown(&t.g, 70);
	g_unknown(&t.g, 40);
	tsm_engine_summary(t.e, &s);
	CHECK(s.nr_unknown_type == 2, "unknown=%" PRIu64, (uint64_t)s.nr_unknown_type);
	return expect(&t, TSM_VIOLATION, "TSM-I2/tdi_unbound");
}

/* a range past 2^64 is malformed input: refused, with the reason */
static int t_wrapped_range_refused(void)
{
	static const struct {
		__u32 type;
		__u64 addr, pfn, npfns;
		const char *what;
	} c[] = {
		{ TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, 0xfffffffffff00000ULL, 0x1000, 0x200, "IOVA" },
		{ TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, 0, 0x1000, 1ULL << 53, "IOVA" },
		{ TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, 0, ~0ULL - 4, 8, "PFN" },
		{ TSM_REC_KVM_DMABUF_SLOT_BIND, ~0ULL - 0x10, 0x1000, 0x20, "GFN" },
		{ TSM_REC_KVM_DMABUF_SLOT_UNBIND, 0, ~0ULL, 1, "PFN" },
		{ TSM_REC_PCI_TSM_RANGE, 0, 1ULL << 63, 1ULL << 63, "PFN" },
		{ TSM_REC_VFIO_DMABUF_EXPORT_RANGE, 0, ~0ULL - 1, 2, "PFN" },
		/* laid out as the IOAS records */
		{ TSM_REC_IOMMU_MAP_DMABUF, 0xfffffffffff00000ULL, 0x1000, 0x200, "IOVA" },
		{ TSM_REC_IOMMU_UNMAP_DMABUF, 0, ~0ULL - 4, 8, "PFN" },
	};
	union {
		struct tsm_ev_iommufd_ioas_dmabuf io;
		struct tsm_ev_kvm_dmabuf_slot sl;
		struct tsm_ev_pci_tsm_range r;
		struct tsm_ev_vfio_dmabuf_range br;
	} u;
	struct tsm_engine *e = tsm_engine_new(NULL);
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		const char *reason;
		bool imp;
		int ret;

		memset(&u, 0, sizeof(u));
		u.io.hdr.type = c[i].type;
		u.io.hdr.size = tsm_rec_min_size(c[i].type);
		u.io.hdr.seq = i + 1;
		switch (c[i].type) {
		case TSM_REC_PCI_TSM_RANGE:
			u.r.pfn = c[i].pfn, u.r.npfns = c[i].npfns, u.r.new_attr = 1;
			break;
		case TSM_REC_VFIO_DMABUF_EXPORT_RANGE:
			u.br.pfn = c[i].pfn, u.br.npfns = c[i].npfns;
			break;
		case TSM_REC_KVM_DMABUF_SLOT_BIND:
		case TSM_REC_KVM_DMABUF_SLOT_UNBIND:
			u.sl.gfn = c[i].addr, u.sl.pfn = c[i].pfn, u.sl.npfns = c[i].npfns;
			break;
		default:
			u.io.iova = c[i].addr, u.io.pfn = c[i].pfn, u.io.npfns = c[i].npfns;
		}
		ret = tsm_engine_feed(e, &u.io.hdr, sizeof(u));
		reason = tsm_rec_malformed(&u.io.hdr, sizeof(u), &imp);
		CHECK(ret == -EINVAL && imp && reason && strstr(reason, c[i].what) &&
		      strstr(reason, "wraps"), "case %u: %d '%s'", i, ret, reason ? reason : "");
	}
	/* up to the last page exactly is not a wrap */
	memset(&u, 0, sizeof(u));
	u.io.hdr.type = TSM_REC_IOMMUFD_IOAS_MAP_DMABUF;
	u.io.hdr.size = sizeof(u.io);
	u.io.iova = 0xfffffffffff00000ULL;
	u.io.npfns = 0x100;
	u.io.pfn = 0x1000;
	CHECK(!tsm_rec_malformed(&u.io.hdr, sizeof(u), NULL), "the last 1 MiB refused");
	tsm_engine_free(e);
	return 0;
}

static int t_short_record_refused(void)
{
	struct tsm_ev_pci_tsm_range r = { .hdr = { .type = TSM_REC_PCI_TSM_RANGE, .size = 40 } };
	struct tsm_engine *e = tsm_engine_new(NULL);
	int a, b, c;

	a = tsm_engine_feed(e, &r.hdr, sizeof(r));		/* shorter than its layout */
	r.hdr.size = sizeof(r) + 8;
	b = tsm_engine_feed(e, &r.hdr, sizeof(r));		/* longer than the buffer */
	r.hdr.size = sizeof(r) - 4;
	c = tsm_engine_feed(e, &r.hdr, sizeof(r));		/* not a multiple of 8 */
	tsm_engine_free(e);
	CHECK(a == -EINVAL && b == -EINVAL && c == -EINVAL, "%d %d %d", a, b, c);
	return 0;
}

/* ---- containers ---- */

static int t_rset(void)
{
	static unsigned char ref[4096];
	struct rset s;
	unsigned int i, j;
	unsigned long long x = 88172645463325252ULL;

	rset_init(&s);
	memset(ref, 0, sizeof(ref));
	for (i = 0; i < 20000; i++) {
		__u64 a, b;

		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		a = x % 4000;
		b = a + 1 + (x >> 20) % 90;
		if ((x >> 40) & 1) {
			CHECK(!rset_add(&s, a, b), "add");
			memset(ref + a, 1, b - a);
		} else {
			CHECK(!rset_remove(&s, a, b), "remove");
			memset(ref + a, 0, b - a);
		}
		/* compare: sorted, disjoint, non-adjacent, same members */
		for (j = 0; j + 1 < s.nr; j++)
			CHECK(s.seg[j].end < s.seg[j + 1].start, "segments touch at step %u", i);
		if (i % 97 == 0) {
			for (j = 0; j < 4096; j++) {
				bool in = rset_overlaps(&s, j, j + 1);

				CHECK(in == !!ref[j], "pfn %u: set %d ref %d at step %u", j, in, ref[j], i);
			}
			CHECK(rset_covers(&s, a, b) == (memchr(ref + a, 0, b - a) == NULL), "covers");
			{
				__u64 c = 0;

				for (j = a; j < b; j++)
					c += ref[j];
				CHECK(rset_count(&s, a, b) == c, "count");
			}
		}
	}
	rset_fini(&s);
	return 0;
}

static int t_hash(void)
{
	struct hash h;
	static bool live[5000];
	unsigned long long x = 2463534242ULL;
	unsigned int i, k;

	CHECK(!hash_init(&h, 4), "init");
	for (i = 0; i < 200000; i++) {
		struct hkey key;

		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		k = x % 5000;
		key = (struct hkey){ { k, k * 7, 1 } };
		if (live[k]) {
			CHECK(hash_find(&h, &key) == &live[k], "lost key %u", k);
			if (x & (1 << 20)) {
				CHECK(hash_del(&h, &key) == &live[k], "del %u", k);
				live[k] = false;
			}
		} else {
			CHECK(!hash_find(&h, &key), "ghost key %u", k);
			CHECK(!hash_add(&h, &key, &live[k]), "add");
			live[k] = true;
		}
	}
	for (k = 0; k < 5000; k++) {
		struct hkey key = { { k, k * 7, 1 } };

		CHECK(!!hash_find(&h, &key) == live[k], "final %u", k);
	}
	hash_fini(&h);
	return 0;
}

static int t_crc32c(void)
{
	/* the check value of CRC-32C, and the iSCSI test vector of 32 zero bytes */
	static const unsigned char zeros[32];
	__u32 a = crc32c(0, "123456789", 9), b = crc32c(0, zeros, 32);
	__u32 c = crc32c(crc32c(0, "1234", 4), "56789", 5);

	CHECK(a == 0xe3069283 && b == 0x8a9136aa && c == a, "0x%08x 0x%08x 0x%08x", a, b, c);
	return 0;
}

/* a range spanning a 256 GiB BAR is one range, like a page */
static int t_huge_bar(void)
{
	const __u64 huge = 256ULL << 18;	/* 256 GiB in 4 KiB pages */
	struct t t;

	t_init(&t, true);
	g_op(&t.g, TSM_REC_PCI_TSM_BIND_BEGIN, D, 1, VM, 0, 0);
	g_range(&t.g, D, BAR, 1ULL << 40, huge, TSM_ATTR_SHARED, TSM_ATTR_PRIVATE);
	g_op(&t.g, TSM_REC_PCI_TSM_BIND_END, D, 1, VM, 0, 0);
	export1(&t.g, 12, TSM_DMABUF_PRIVATE, 1ULL << 40, huge);
	g_slot(&t.g, TSM_REC_KVM_DMABUF_SLOT_BIND, VM, 5, 0, 12, 1ULL << 40, huge, 1);
	ioas_map(&t.g, 12, 0, (1ULL << 40) + huge - 1, 1, TSM_DMABUF_SHARED);
	CHECK(tsm_engine_live_objects(t.e) < 10, "%zu live objects", tsm_engine_live_objects(t.e));
	return expect(&t, TSM_VIOLATION, "TSM-I1/pfn_private");
}

static char tmpdir[] = "/tmp/tsm-unit.XXXXXX";
static enum tsm_verdict replay(const char *path, struct tsm_file *f, unsigned int *nv);

/* ---- live order: the reorder window ---- */

struct seen {
	__u64 seq[256];
	__u32 type[256];
	unsigned int n;
};

static int collect(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct seen *s = ctx;

	if (s->n < 256) {
		s->seq[s->n] = rec->type == TSM_REC_STACK ?
			       ((const struct tsm_rec_stack *)rec)->event_seq : rec->seq;
		s->type[s->n++] = rec->type;
	}
	return 0;
}

static void rec_of(struct tsm_rec_hdr *h, __u32 type, __u64 seq)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->size = sizeof(*h);
	h->seq = seq;
}

static int t_reorder(void)
{
	static const __u64 order[] = { 2, 1, 4, 3, 5, 8, 7, 6 };
	struct {
		struct tsm_rec_stack s;
	} st;
	struct tsm_rec_hdr h;
	struct tsm_reorder *r;
	struct seen s = { .n = 0 };
	unsigned int i;

	r = tsm_reorder_new(16, 1, collect, &s);
	for (i = 0; i < 8; i++) {
		rec_of(&h, TSM_REC_PCI_TSM_TDI_STATE, order[i]);
		tsm_reorder_add(r, &h);
		if (order[i] == 5) {
			memset(&st, 0, sizeof(st));
			st.s.hdr.type = TSM_REC_STACK;
			st.s.hdr.size = sizeof(st.s);
			st.s.event_seq = 7;	/* the stack of 7 arrives before 7 */
			tsm_reorder_add(r, &st.s.hdr);
		}
	}
	CHECK(tsm_reorder_held(r) == 0, "%zu held", tsm_reorder_held(r));
	/* 1..8 in order, the stack of 7 right after 7 */
	CHECK(s.n == 9, "%u records out", s.n);
	for (i = 0; i < 7; i++)
		CHECK(s.seq[i] == i + 1 && s.type[i] != TSM_REC_STACK, "position %u: seq %llu", i,
		      (unsigned long long)s.seq[i]);
	CHECK(s.type[7] == TSM_REC_STACK && s.seq[7] == 7 && s.seq[8] == 8, "stack misplaced");

	/* a number that never comes: held until flush, then the gap stays */
	s.n = 0;
	rec_of(&h, TSM_REC_LOST, 10);	/* lost before 10: goes before it */
	tsm_reorder_add(r, &h);
	rec_of(&h, TSM_REC_PCI_TSM_TDI_STATE, 11);
	tsm_reorder_add(r, &h);
	CHECK(s.n == 0 && tsm_reorder_held(r) == 2, "released before 9 or 10 came");
	rec_of(&h, TSM_REC_PCI_TSM_TDI_STATE, 9);
	tsm_reorder_add(r, &h);
	CHECK(s.n == 1 && s.seq[0] == 9, "9 not released at once");
	tsm_reorder_flush(r);
	CHECK(s.n == 3 && s.type[1] == TSM_REC_LOST && s.seq[2] == 11, "flush order wrong");

	/* the window full: the oldest is given up */
	s.n = 0;
	rec_of(&h, TSM_REC_PCI_TSM_TDI_STATE, 14);
	tsm_reorder_add(r, &h);
	rec_of(&h, TSM_REC_PCI_TSM_TDI_STATE, 14 + 16);
	tsm_reorder_add(r, &h);
	CHECK(s.n == 1 && s.seq[0] == 14, "window overflow did not release 14");
	/* late: passes through, the engine judges it */
	rec_of(&h, TSM_REC_PCI_TSM_TDI_STATE, 12);
	tsm_reorder_add(r, &h);
	CHECK(s.n == 2 && s.seq[1] == 12, "late record held");
	tsm_reorder_free(r);
	return 0;
}

/* live, with records arriving out of order, gives the verdicts of the file */
struct shuffle {
	unsigned char buf[64][128];
	size_t n;
	struct tsm_reorder *r;
};

static int shuffle_in(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct shuffle *sh = ctx;
	size_t i;

	memcpy(sh->buf[sh->n++], rec, rec->size);
	if (sh->n < 4)
		return 0;
	/* release four at a time, in reverse */
	for (i = sh->n; i-- > 0;)
		tsm_reorder_add(sh->r, (void *)sh->buf[i]);
	sh->n = 0;
	return 0;
}

static int t_live_out_of_order_same_verdicts(void)
{
	static const __u32 faults[] = { 0, F_IOAS_LEFT_AT_BIND, F_REVOKE_NO_UNMAP,
		F_PRIVATE_IN_IOAS, F_MAPPING_OUTLIVES, F_UNBIND_LEAVES_PRIVATE, F_WRONG_VM,
		F_BIND_FAILS_DIRTY };
	unsigned int i;

	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		struct tsm_engine_opts o = { .state_known = true };
		struct tsm_summary a, b;
		struct shuffle sh = { .n = 0 };
		struct tsm_engine *e;
		struct t t;
		struct gen g;
		size_t j;

		t_init(&t, true);
		t.f.faults = faults[i];
		flow_run(&t.g, &t.f);
		tsm_engine_summary(t.e, &a);
		e = tsm_engine_new(&o);
		sh.r = tsm_reorder_new(64, 1, emit_engine, e);
		gen_init(&g, shuffle_in, &sh);
		g.seq = 1;
		flow_run(&g, &t.f);
		for (j = sh.n; j-- > 0;)
			tsm_reorder_add(sh.r, (void *)sh.buf[j]);
		tsm_reorder_flush(sh.r);
		tsm_engine_summary(e, &b);
		CHECK(a.verdict == b.verdict && a.nr_violations == b.nr_violations &&
		      !b.incomplete, "faults 0x%x: in order %s/%u, shuffled %s/%u (incomplete 0x%x)",
		      faults[i], tsm_verdict_name(a.verdict), a.nr_violations,
		      tsm_verdict_name(b.verdict), b.nr_violations, b.incomplete);
		tsm_reorder_free(sh.r);
		tsm_engine_free(e);
		tsm_engine_free(t.e);
	}
	return 0;
}

/* ---- bad input never crashes ---- */

static unsigned long long rnd_state = 0x9e3779b97f4a7c15ULL;

static __u64 rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* a random record: known or unknown type, fields from small domains so objects collide */
static size_t random_record(unsigned char *buf, size_t cap)
{
	static const __u32 types[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 64, 65, 66,
				       0, 15, 40, 63, 67, 200 };
	struct tsm_rec_hdr *h = (void *)buf;
	__u32 type = types[rnd() % (sizeof(types) / sizeof(types[0]))];
	size_t size = tsm_rec_min_size(type), i;

	if (size < sizeof(*h))
		size = sizeof(*h);
	size = (size + 7) & ~7UL;
	size += 8 * (rnd() % 3);
	if (rnd() % 50 == 0)
		size -= 8;			/* sometimes too short */
	if (size > cap)
		size = cap;
	for (i = sizeof(*h); i + 4 <= size; i += 4) {
		__u32 v = rnd() % 8 == 0 ? (__u32)rnd() : (__u32)(rnd() % 4);

		memcpy(buf + i, &v, 4);
	}
	h->type = type;
	h->size = size;
	h->cpu = rnd() % 2;
	h->pid = 1;
	h->flags = 0;
	h->ts = rnd();
	h->seq = rnd() % 16 == 0 ? rnd() % 100 : 0;	/* sometimes jumps */
	return size;
}

static int t_fuzz_engine(void)
{
	unsigned char buf[256];
	struct tsm_summary s;
	struct tsm_engine *e;
	unsigned int round, i, rejected = 0;
	__u64 seq = 1;

	for (round = 0; round < 20; round++) {
		struct tsm_engine_opts o = { .state_known = round & 1 };

		e = tsm_engine_new(&o);
		for (i = 0; i < 50000; i++) {
			size_t n = random_record(buf, sizeof(buf));
			struct tsm_rec_hdr *h = (void *)buf;
			int ret;

			if (!h->seq)
				h->seq = seq++;
			ret = tsm_engine_feed(e, h, n);
			if (ret == -EINVAL)
				rejected++;
			else
				CHECK(ret == 0, "feed returned %d", ret);
		}
		tsm_engine_summary(e, &s);
		CHECK(s.verdict != TSM_PASS || (!s.incomplete && !s.nr_doubts),
		      "PASS with incomplete 0x%x", s.incomplete);
		for (i = 1; i <= s.nr_violations_kept; i++)
			CHECK(tsm_engine_violation(e, i)->rule < TSM_R_NR, "bad rule");
		tsm_engine_free(e);
	}
	CHECK(rejected > 0, "no malformed record was produced");
	return 0;
}

/* a file whose checksums are right but whose records are garbage */
static int t_fuzz_file(void)
{
	char path[256], err[512];
	unsigned char buf[256];
	unsigned int round, i;

	snprintf(path, sizeof(path), "%s/fuzz.tsm", tmpdir);
	for (round = 0; round < 10; round++) {
		/* every other file compressed: garbage reads the same in both */
		struct tsm_meta m = { .compress = round & 1 ? TSM_COMPRESS_DEFAULT :
					  (struct tsm_compress){ TSM_COMPRESS_NONE, 0 } };
		struct tsm_writer *w = tsm_writer_open(path, &m, err, sizeof(err));
		struct tsm_file f;
		enum tsm_verdict v;

		CHECK(w, "%s", err);
		for (i = 0; i < 20000; i++) {
			size_t n = random_record(buf, sizeof(buf));

			if (tsm_writer_add(w, (void *)buf) && n)
				continue;	/* the writer refuses sizes that are not multiples of 8 */
		}
		CHECK(!tsm_writer_close(w, err, sizeof(err)), "%s", err);
		v = replay(path, &f, NULL);
		CHECK(v == TSM_UNUSABLE || v == TSM_INCOMPLETE || v == TSM_VIOLATION,
		      "garbage replayed as %s", tsm_verdict_name(v));
	}
	return 0;
}

/* ---- the file ---- */

static int write_flow_as(const char *path, __u32 faults, bool close_it, struct tsm_compress c)
{
	struct tsm_meta m = { .flags = TSM_FILE_F_STATE_KNOWN, .hostname = "unit", .compress = c };
	struct tsm_writer *w;
	char err[512];
	struct flow f;
	struct gen g;

	unlink(path);
	w = tsm_writer_open(path, &m, err, sizeof(err));
	CHECK(w, "%s", err);
	gen_init(&g, (gen_emit_t)tsm_writer_add, w);
	flow_default(&f, 0);
	f.faults = faults;
	flow_run(&g, &f);
	if (!close_it) {
		/* what a recorder that died leaves: nothing at path, its records beside it */
		tsm_writer_abandon(w, err, sizeof(err));
		CHECK(access(path, F_OK) && !rename(err, path), "abandoned: %.300s", err);
		return 0;
	}
	CHECK(!tsm_writer_close(w, err, sizeof(err)), "%s", err);
	return 0;
}

static int write_flow(const char *path, __u32 faults, bool close_it)
{
	return write_flow_as(path, faults, close_it, (struct tsm_compress){ TSM_COMPRESS_NONE, 0 });
}

/* replay a file; verdict or TSM_UNUSABLE */
static enum tsm_verdict replay(const char *path, struct tsm_file *f, unsigned int *nv)
{
	struct tsm_engine_opts o = { 0 };
	enum tsm_read_status st;
	struct tsm_summary s;
	struct tsm_engine *e;

	if (tsm_file_open(f, path) != TSM_READ_OK) {
		tsm_file_close(f);
		return TSM_UNUSABLE;
	}
	o.state_known = f->hdr.flags & TSM_FILE_F_STATE_KNOWN;
	e = tsm_engine_new(&o);
	st = tsm_file_replay(f, &tsm_engine_ops, e);
	tsm_file_close(f);
	if (st == TSM_READ_UNUSABLE || st == TSM_READ_HANDLER) {
		tsm_engine_free(e);
		return TSM_UNUSABLE;
	}
	if (st == TSM_READ_TRUNCATED)
		tsm_engine_truncated(e);
	else
		tsm_engine_lost_total(e, f->end.nr_lost);
	tsm_engine_summary(e, &s);
	if (nv)
		*nv = s.nr_violations;
	tsm_engine_free(e);
	return s.verdict;
}

/* live (fed directly) and offline (written, read back) give the same verdicts */
static int t_file_round_trip(void)
{
	static const __u32 faults[] = { 0, F_IOAS_LEFT_AT_BIND, F_REVOKE_NO_UNMAP,
		F_PRIVATE_IN_IOAS, F_MAPPING_OUTLIVES, F_UNBIND_LEAVES_PRIVATE, F_WRONG_VM,
		F_BIND_FAILS_DIRTY, F_LOST_UNMAP };
	char path[256];
	unsigned int i;

	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		struct tsm_summary live;
		struct tsm_file f;
		unsigned int nv = 0;
		enum tsm_verdict off;
		struct t t;

		t_init(&t, true);
		t.f.faults = faults[i];
		flow_run(&t.g, &t.f);
		tsm_engine_summary(t.e, &live);
		tsm_engine_free(t.e);
		snprintf(path, sizeof(path), "%s/rt.tsm", tmpdir);
		if (write_flow(path, faults[i], true))
			return -1;
		off = replay(path, &f, &nv);
		CHECK(off == live.verdict && nv == live.nr_violations,
		      "faults 0x%x: live %s/%u, file %s/%u", faults[i],
		      tsm_verdict_name(live.verdict), live.nr_violations, tsm_verdict_name(off), nv);
		CHECK(f.has_end && !strcmp(f.hdr.hostname, "unit") &&
		      f.hdr.schema_major == TSM_SCHEMA_MAJOR, "metadata lost");
	}
	return 0;
}

static int t_file_abandoned_is_truncated(void)
{
	char path[256];
	struct tsm_file f;

	snprintf(path, sizeof(path), "%s/ab.tsm", tmpdir);
	if (write_flow(path, 0, false))
		return -1;
	CHECK(replay(path, &f, NULL) == TSM_INCOMPLETE, "a file without end marker is not INCOMPLETE");
	if (write_flow(path, F_MAPPING_OUTLIVES, false))
		return -1;
	CHECK(replay(path, &f, NULL) == TSM_VIOLATION,
	      "a violation in the valid prefix of a truncated file is lost");
	return 0;
}

/* a file of several blocks: flows until @min bytes */
static int write_blocks(const char *path, size_t min)
{
	struct tsm_meta m = { .flags = TSM_FILE_F_STATE_KNOWN };
	struct tsm_writer *w;
	char err[512];
	struct stat st;
	struct gen g;
	unsigned int i;

	w = tsm_writer_open(path, &m, err, sizeof(err));
	CHECK(w, "%.300s", err);
	gen_init(&g, (gen_emit_t)tsm_writer_add, w);
	for (i = 0; g.seq < min / 64; i++) {
		struct flow f;

		flow_default(&f, i % 4);
		f.buf0 = 1000 + 10ULL * i;
		flow_run(&g, &f);
	}
	CHECK(!tsm_writer_close(w, err, sizeof(err)), "%.300s", err);
	CHECK(!stat(path, &st) && (size_t)st.st_size >= min, "file of %zu bytes", (size_t)st.st_size);
	return 0;
}

/* what a writer does to the file at the first record the reader replays */
struct under_reader {
	const char *path;
	bool rewrite;		/* false: shrink it */
	bool done;
};

static int change_file(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct under_reader *u = ctx;
	struct timespec later[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
	int fd;

	(void)rec;
	if (u->done)
		return 0;
	u->done = true;
	if (!u->rewrite)
		return truncate(u->path, 300000) ? -errno : 0;
	/* garbage over a later block, written a second after the reader opened it */
	fd = open(u->path, O_WRONLY);
	if (fd < 0 || pwrite(fd, "garbage!", 8, 600000) != 8)
		return -EIO;
	clock_gettime(CLOCK_REALTIME, &later[1]);
	later[1].tv_sec++;
	futimens(fd, later);
	close(fd);
	return 0;
}

/* a file that shrinks or is rewritten while it is read: said so, never a crash */
static int t_file_changed_while_read(void)
{
	struct tsm_ops ops = { .post = change_file };
	struct under_reader u = { 0 };
	enum tsm_read_status st[2];
	char path[256];
	struct tsm_file f;
	int i;

	snprintf(path, sizeof(path), "%s/changing.tsm", tmpdir);
	u.path = path;
	for (i = 0; i < 2; i++) {
		if (write_blocks(path, 1 << 20))
			return -1;
		u.rewrite = i;
		u.done = false;
		CHECK(tsm_file_open(&f, path) == TSM_READ_OK, "%.300s", f.msg);
		st[i] = tsm_file_replay(&f, &ops, &u);
		tsm_file_close(&f);
		CHECK(strstr(f.msg, "the file changed while it was read") &&
		      strstr(f.msg, "check it again once its writer is done"),
		      "%s: '%.300s'", i ? "rewritten" : "shrunk", f.msg);
	}
	CHECK(st[0] == TSM_READ_TRUNCATED && strstr(f.msg, "written to after it was opened") &&
	      st[1] == TSM_READ_UNUSABLE, "statuses %d %d", st[0], st[1]);
	return 0;
}

/* a target that is not a regular file is written in place, never replaced */
static int t_file_writer_special_target(void)
{
	struct tsm_writer *w = tsm_writer_open("/dev/null", NULL, why, sizeof(why));
	struct stat st;

	CHECK(w, "cannot open /dev/null");
	CHECK(!tsm_writer_close(w, why, sizeof(why)), "close");
	CHECK(!stat("/dev/null", &st) && S_ISCHR(st.st_mode), "/dev/null was replaced");
	return 0;
}

/* patch a header field, fix the header checksum: a well-formed but foreign file */
static int t_file_refusals(void)
{
	static const struct {
		size_t off;
		unsigned int len;
		__u64 val;
		bool fix_crc;
		const char *msg;
	} c[] = {
		{ 0, 8, TSM_FILE_MAGIC_SWAPPED, false, "other byte order" },
		{ 0, 8, 0x464c457fULL, false, "not a tsmtrace trace file" },
		{ offsetof(struct tsm_file_header, version_major), 2, 2, false, "format version 2" },
		{ offsetof(struct tsm_file_header, schema_major), 2, 9, true, "event schema 9" },
		{ offsetof(struct tsm_file_header, flags), 4, 0, false, "checksum mismatch" },
	};
	char path[256], bad[300];
	unsigned int i;

	snprintf(path, sizeof(path), "%s/ok.tsm", tmpdir);
	snprintf(bad, sizeof(bad), "%s/bad.tsm", tmpdir);
	if (write_flow(path, 0, true))
		return -1;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct tsm_file_header h;
		struct tsm_file f;
		FILE *in = fopen(path, "rb"), *out = fopen(bad, "wb");
		char buf[65536];
		size_t n;

		CHECK(in && out, "tmp files");
		n = fread(buf, 1, sizeof(buf), in);
		fclose(in);
		memcpy((char *)buf + c[i].off, &c[i].val, c[i].len);
		if (c[i].fix_crc) {
			memcpy(&h, buf, sizeof(h));
			h.header_crc = 0;
			h.header_crc = crc32c(0, &h, sizeof(h));
			memcpy(buf, &h, sizeof(h));
		}
		fwrite(buf, 1, n, out);
		fclose(out);
		CHECK(tsm_file_open(&f, bad) == TSM_READ_UNUSABLE, "case %u accepted", i);
		tsm_file_close(&f);
		CHECK(strstr(f.msg, c[i].msg) && strstr(f.msg, bad) && strstr(f.msg, "offset"),
		      "case %u: message '%.300s' lacks '%s', the file or the offset", i, f.msg, c[i].msg);
	}
	return 0;
}


/* ---- compressed blocks ---- */

/*
 * The recorder names the frames of its stacks in SYMBOLS blocks before
 * them, each symbol once, with the kernel's build ID in the header: a
 * reader elsewhere names them as the recording host did. A name that is
 * no symbol's is a damaged file.
 */
#define SYM_A	0xffffffff81000000ULL
#define SYM_B	0xffffffff81002000ULL

static int fake_symbolize(__u64 ip, __u64 *start, char *name, size_t len)
{
	if (ip >= SYM_A && ip < SYM_A + 0x1000) {
		*start = SYM_A;
		snprintf(name, len, "vfio_pci_dma_buf_move");
	} else if (ip >= SYM_B && ip < SYM_B + 0x1000) {
		*start = SYM_B;
		snprintf(name, len, "iommu_unmap");
	} else {
		return -1;
	}
	return 0;
}

struct syms_seen {
	unsigned int nr;
	__u64 addr[8];
	char name[8][64];
};

static void on_sym(void *arg, __u64 addr, const char *name)
{
	struct syms_seen *s = arg;

	if (s->nr < 8) {
		s->addr[s->nr] = addr;
		snprintf(s->name[s->nr], sizeof(s->name[0]), "%s", name);
	}
	s->nr++;
}

static int count_rec(void *ctx, const struct tsm_rec_hdr *rec)
{
	(void)rec;
	(*(unsigned int *)ctx)++;
	return 0;
}

static int t_file_symbols(void)
{
	static const __u8 id[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
				     18, 19, 20 };
	struct tsm_meta m = { .build_id = id, .build_id_size = sizeof(id),
			      .symbolize = fake_symbolize };
	struct {
		struct tsm_rec_stack st;
		__u64 ip[4];
	} r = { .st = { .hdr = { .type = TSM_REC_STACK, .size = sizeof(r), .seq = 1 },
			.event_seq = 1, .nr = 4 },
		.ip = { SYM_A + 0x10, SYM_A + 0x20, SYM_B + 0x8, 0xffffffffc0001234ULL } };
	struct tsm_block_header bh;
	struct tsm_ops ops = { 0 };
	struct syms_seen seen = { 0 };
	struct tsm_writer *w;
	struct tsm_file f;
	enum tsm_read_status st;
	unsigned char *all;
	char path[256], err[256];
	unsigned int nrec = 0, i;
	size_t hs = sizeof(struct tsm_file_header);
	FILE *io;
	long len;

	for (i = 0; i < TSM_REC_MAX; i++)
		ops.handler[i] = count_rec;
	ops.unknown = count_rec;
	snprintf(path, sizeof(path), "%s/syms.tsm", tmpdir);
	w = tsm_writer_open(path, &m, err, sizeof(err));
	CHECK(w, "%s", err);
	/* the same frames twice: named once */
	CHECK(!tsm_writer_add(w, &r.st.hdr) && !tsm_writer_flush(w) && !tsm_writer_add(w, &r.st.hdr) &&
	      !tsm_writer_close(w, err, sizeof(err)), "writing: %s", err);
	CHECK(tsm_file_open(&f, path) == TSM_READ_OK, "%s", f.msg);
	f.on_symbol = on_sym;
	f.sym_arg = &seen;
	st = tsm_file_replay(&f, &ops, &nrec);
	tsm_file_close(&f);
	CHECK(st == TSM_READ_OK && nrec == 2, "replay: status %d, %u records: %.300s", st, nrec, f.msg);
	CHECK(f.hdr.version_minor == TSM_FILE_VERSION_MINOR && f.hdr.build_id_size == sizeof(id) &&
	      !memcmp(f.hdr.build_id, id, sizeof(id)), "header: version 1.%u, build ID of %u bytes",
	      f.hdr.version_minor, f.hdr.build_id_size);
	CHECK(seen.nr == 2 && seen.addr[0] == SYM_A && !strcmp(seen.name[0], "vfio_pci_dma_buf_move") &&
	      seen.addr[1] == SYM_B && !strcmp(seen.name[1], "iommu_unmap"),
	      "%u symbols: %s@%llx %s@%llx", seen.nr, seen.name[0],
	      (unsigned long long)seen.addr[0], seen.name[1], (unsigned long long)seen.addr[1]);

	/* a name that is no symbol's, with every checksum right: damaged */
	io = fopen(path, "r+b");
	CHECK(io, "%s: %s", path, strerror(errno));
	fseek(io, 0, SEEK_END);
	len = ftell(io);
	all = malloc(len);
	CHECK(all, "out of memory");
	fseek(io, 0, SEEK_SET);
	CHECK(fread(all, 1, len, io) == (size_t)len, "short read");
	memcpy(&bh, all + hs, sizeof(bh));
	CHECK(bh.type == TSM_BLOCK_SYMBOLS, "the first block is of type %u, not SYMBOLS", bh.type);
	all[hs + sizeof(bh) + sizeof(struct tsm_sym)] = '/';
	bh.crc = crc32c(0, all + hs + sizeof(bh), bh.payload_size);
	bh.header_crc = 0;
	bh.header_crc = crc32c(0, &bh, sizeof(bh));
	memcpy(all + hs, &bh, sizeof(bh));
	fseek(io, 0, SEEK_SET);
	fwrite(all, 1, len, io);
	fclose(io);
	free(all);
	CHECK(tsm_file_open(&f, path) == TSM_READ_OK, "%s", f.msg);
	st = tsm_file_replay(&f, &ops, &nrec);
	tsm_file_close(&f);
	CHECK(st == TSM_READ_UNUSABLE && strstr(f.msg, "malformed symbols block"),
	      "a symbol named '/...': status %d: %.300s", st, f.msg);
	return 0;
}

/* the same flows, compressed and not: the same verdicts, 1.2 against 1.1 */
static int t_file_zstd_round_trip(void)
{
	static const __u32 faults[] = { 0, F_IOAS_LEFT_AT_BIND, F_PRIVATE_IN_IOAS,
		F_UNBIND_LEAVES_PRIVATE, F_WRONG_VM, F_LOST_UNMAP };
	static const struct tsm_compress c[] = {
		{ TSM_COMPRESS_NONE, 0 }, { TSM_COMPRESS_ZSTD, 1 }, { TSM_COMPRESS_ZSTD, 3 },
		{ TSM_COMPRESS_ZSTD, 19 },
	};
	char path[256];
	unsigned int i, j;

	snprintf(path, sizeof(path), "%s/z.tsm", tmpdir);
	for (i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		enum tsm_verdict want = TSM_UNUSABLE;
		unsigned int want_nv = 0;

		for (j = 0; j < sizeof(c) / sizeof(c[0]); j++) {
			bool z = c[j].alg == TSM_COMPRESS_ZSTD;
			enum tsm_verdict v;
			struct tsm_file f;
			unsigned int nv = 0;

			if (write_flow_as(path, faults[i], true, c[j]))
				return -1;
			v = replay(path, &f, &nv);
			if (!j) {
				want = v;
				want_nv = nv;
			}
			CHECK(v == want && nv == want_nv, "faults 0x%x, level %d: %s/%u, uncompressed %s/%u",
			      faults[i], c[j].level, tsm_verdict_name(v), nv, tsm_verdict_name(want), want_nv);
			CHECK(f.hdr.version_minor == (z ? TSM_FILE_VERSION_MINOR : 1) && f.nr_zstd_blocks == (z ? 1 : 0),
			      "level %d: version 1.%u, %llu compressed blocks", c[j].level,
			      f.hdr.version_minor, (unsigned long long)f.nr_zstd_blocks);
		}
	}
	return 0;
}

/* many blocks, compressed: every record read, in order, each block smaller */
static int t_file_zstd_many_blocks(void)
{
	struct tsm_meta m = { .flags = TSM_FILE_F_STATE_KNOWN, .compress = TSM_COMPRESS_DEFAULT };
	char path[256], err[512];
	struct tsm_writer *w;
	struct stat st;
	struct tsm_file f;
	struct gen g;
	unsigned int i;
	__u64 raw = 0;

	snprintf(path, sizeof(path), "%s/zmany.tsm", tmpdir);
	w = tsm_writer_open(path, &m, err, sizeof(err));
	CHECK(w, "%.300s", err);
	gen_init(&g, (gen_emit_t)tsm_writer_add, w);
	for (i = 0; i < 3000; i++) {
		struct flow fl;

		flow_default(&fl, i % 4);
		fl.buf0 = 1000 + 10ULL * i;
		flow_run(&g, &fl);
	}
	CHECK(!tsm_writer_close(w, err, sizeof(err)), "%.300s", err);
	CHECK(replay(path, &f, NULL) == TSM_PASS, "a compressed file of many blocks does not PASS");
	CHECK(f.nr_blocks > 3 && f.nr_zstd_blocks == f.nr_blocks && f.nr_records == g.seq - 1,
	      "%llu blocks, %llu compressed, %llu records of %llu",
	      (unsigned long long)f.nr_blocks, (unsigned long long)f.nr_zstd_blocks,
	      (unsigned long long)f.nr_records, (unsigned long long)(g.seq - 1));
	/* the flows' records are at least 64 bytes each */
	raw = f.nr_records * 64;
	CHECK(!stat(path, &st) && (__u64)st.st_size * 4 < raw, "%lld bytes for %llu records",
	      (long long)st.st_size, (unsigned long long)f.nr_records);
	return 0;
}

/* records read back, for byte-for-byte comparisons */
static unsigned char *back;
static size_t back_len, back_cap;

static int collect_back(void *ctx, const struct tsm_rec_hdr *rec)
{
	(void)ctx;
	if (back_len + rec->size > back_cap)
		return -ENOSPC;
	memcpy(back + back_len, rec, rec->size);
	back_len += rec->size;
	return 0;
}

/*
 * Times and sequence numbers stored as deltas come back exact, whatever
 * they are: a jump past what a delta holds, a time that goes back (another
 * CPU's event), a delta of exactly the escape value, a sequence number
 * that wraps, recorder records that repeat the next event's; in blocks
 * zstd shrinks (deltas) and in blocks it does not (written as they are).
 */
static int t_file_zstd_delta_exact(void)
{
	static const __s64 steps[] = { 1000, -7, 0, (__s64)INT32_MAX, (__s64)INT32_MIN,
		(__s64)INT32_MIN + 1, (__s64)INT32_MAX + 1, -(1LL << 40), 1LL << 40, 3 };
	struct tsm_meta m = { .compress = TSM_COMPRESS_DEFAULT };
	static unsigned char rec[4096] __attribute__((aligned(8)));
	struct tsm_rec_hdr *h = (void *)rec;
	struct tsm_ops ops = { .unknown = collect_back };
	char path[256], err[512];
	unsigned char *want;
	size_t want_len = 0;
	unsigned int pass, i, k;
	__u64 ts = 5, seq = ~0ULL - 20;

	for (i = 0; i < TSM_REC_MAX; i++)
		ops.handler[i] = collect_back;
	back_cap = 8u << 20;	/* more than either pass writes */
	back = malloc(back_cap);
	want = malloc(back_cap);
	CHECK(back && want, "out of memory");
	snprintf(path, sizeof(path), "%s/delta.tsm", tmpdir);
	for (pass = 0; pass < 2; pass++) {
		struct tsm_writer *w = tsm_writer_open(path, &m, err, sizeof(err));
		struct tsm_file f;

		CHECK(w, "%.300s", err);
		want_len = 0;
		for (i = 0; i < (pass ? 1000 : 20000); i++) {
			memset(rec, 0, sizeof(rec));
			/* a recorder record (type 200, unknown here) every 7th */
			h->type = i % 7 ? 100 + i % 3 : 200;
			/* the second pass: records of noise zstd cannot shrink */
			h->size = pass ? sizeof(rec) : 64 + 8 * (i % 3);
			h->cpu = i % 2;
			h->pid = 42;
			ts += steps[i % (sizeof(steps) / sizeof(steps[0]))];
			h->ts = ts;
			h->seq = i % 7 ? seq++ : seq;
			for (k = sizeof(*h); k < h->size; k += 8) {
				__u64 v = pass ? rnd() : i / 50 + k;

				memcpy(rec + k, &v, 8);
			}
			memcpy(want + want_len, rec, h->size);
			want_len += h->size;
			CHECK(!tsm_writer_add(w, h), "add");
		}
		CHECK(!tsm_writer_close(w, err, sizeof(err)), "%.300s", err);
		CHECK(tsm_file_open(&f, path) == TSM_READ_OK, "%.300s", f.msg);
		back_len = 0;
		CHECK(tsm_file_replay(&f, &ops, NULL) == TSM_READ_OK, "%.300s", f.msg);
		tsm_file_close(&f);
		CHECK(pass ? !f.nr_zstd_blocks : f.nr_zstd_blocks == f.nr_blocks && f.nr_blocks > 3,
		      "pass %u: %llu of %llu blocks compressed", pass,
		      (unsigned long long)f.nr_zstd_blocks, (unsigned long long)f.nr_blocks);
		CHECK(back_len == want_len && !memcmp(back, want, want_len),
		      "pass %u: %zu bytes of records read back, %zu written, or they differ", pass,
		      back_len, want_len);
	}
	free(want);
	free(back);
	back = NULL;
	return 0;
}

/* a block zstd cannot shrink is written as it is, in the same file */
static int t_file_zstd_incompressible_stays_raw(void)
{
	struct tsm_meta m = { .compress = TSM_COMPRESS_DEFAULT };
	unsigned char buf[4096] __attribute__((aligned(8)));
	struct tsm_rec_hdr *h = (void *)buf;
	char path[256], err[512];
	struct tsm_writer *w;
	struct tsm_file f;
	unsigned int i, k;

	snprintf(path, sizeof(path), "%s/noise.tsm", tmpdir);
	w = tsm_writer_open(path, &m, err, sizeof(err));
	CHECK(w, "%.300s", err);
	for (i = 0; i < 200; i++) {
		memset(h, 0, sizeof(*h));
		h->type = 200;		/* a recorder record this reader does not know */
		h->size = sizeof(buf);
		h->ts = 1000 + i;
		for (k = sizeof(*h); k + 8 <= sizeof(buf); k += 8) {
			__u64 v = rnd();

			memcpy(buf + k, &v, 8);
		}
		CHECK(!tsm_writer_add(w, h), "add");
	}
	CHECK(!tsm_writer_close(w, err, sizeof(err)), "%.300s", err);
	CHECK(replay(path, &f, NULL) == TSM_INCOMPLETE, "noise records not read as unknown");
	CHECK(f.has_end && f.nr_records == 200 && f.nr_blocks == 4 && f.nr_zstd_blocks == 0,
	      "%llu records, %llu blocks, %llu compressed", (unsigned long long)f.nr_records,
	      (unsigned long long)f.nr_blocks, (unsigned long long)f.nr_zstd_blocks);
	return 0;
}

/* hostile compressed blocks: each refused with what is wrong; the control reads */
static int t_file_zstd_hostile(void)
{
	char path[256], err[512];
	unsigned int i;

	snprintf(path, sizeof(path), "%s/hostile.tsm", tmpdir);
	for (i = 0; hostile_zstd_kinds[i]; i++) {
		const char *kind = hostile_zstd_kinds[i], *want = hostile_zstd_expect(kind);
		enum tsm_read_status st;
		struct tsm_summary s;
		struct tsm_engine *e;
		struct tsm_engine_opts o = { .state_known = true };
		struct tsm_file f;

		char offset[32];

		/* the first block starts where the header ends */
		snprintf(offset, sizeof(offset), "offset %zu: ", sizeof(struct tsm_file_header));
		CHECK(!write_hostile_zstd(path, kind, err, sizeof(err)), "%s", err);
		CHECK(tsm_file_open(&f, path) == TSM_READ_OK, "%s: header refused: %.300s", kind, f.msg);
		e = tsm_engine_new(&o);
		st = tsm_file_replay(&f, &tsm_engine_ops, e);
		tsm_file_close(&f);
		tsm_engine_summary(e, &s);
		tsm_engine_free(e);
		if (!want) {
			CHECK(st == TSM_READ_OK && s.verdict == TSM_PASS && f.nr_zstd_blocks == 1,
			      "%s: status %d, verdict %s: %.300s", kind, st, tsm_verdict_name(s.verdict), f.msg);
			continue;
		}
		CHECK(st == TSM_READ_UNUSABLE, "%s: status %d (verdict %s), not refused", kind, st,
		      tsm_verdict_name(s.verdict));
		CHECK(strstr(f.msg, want) && strstr(f.msg, path) && strstr(f.msg, offset) &&
		      strstr(f.msg, "re-record it"), "%s: message '%.300s' lacks '%s'", kind, f.msg, want);
		CHECK(!strcmp(kind, "count-mismatch") || strstr(f.msg, "malformed"),
		      "%s: message '%.300s' does not say malformed", kind, f.msg);
	}
	return 0;
}

static int t_compress_parse(void)
{
	static const struct {
		const char *s;
		int ret, alg, level;
	} c[] = {
		{ "none", 0, TSM_COMPRESS_NONE, 0 }, { "zstd", 0, TSM_COMPRESS_ZSTD, TSM_ZSTD_LEVEL_DEFAULT },
		{ "zstd:1", 0, TSM_COMPRESS_ZSTD, 1 }, { "zstd:19", 0, TSM_COMPRESS_ZSTD, 19 },
		{ "zstd:0", -EINVAL, 0, 0 }, { "zstd:-1", -EINVAL, 0, 0 }, { "zstd:", -EINVAL, 0, 0 },
		{ "zstd:3x", -EINVAL, 0, 0 }, { "zstd3", -EINVAL, 0, 0 }, { "gzip", -EINVAL, 0, 0 },
		{ "", -EINVAL, 0, 0 }, { "zstd:99", -EINVAL, 0, 0 }, { "zstd:+3", -EINVAL, 0, 0 },
		{ "None", -EINVAL, 0, 0 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct tsm_compress z = { 0 };
		int ret = tsm_compress_parse(c[i].s, &z);

		CHECK(ret == c[i].ret && (ret || (z.alg == (enum tsm_compress_alg)c[i].alg &&
						  z.level == c[i].level)),
		      "'%s': %d alg %d level %d", c[i].s, ret, z.alg, z.level);
	}
	return 0;
}


/* ---- coverage: what a kernel without some events lets us check ---- */

static int t_coverage_table(void)
{
	struct tsm_coverage c;
	unsigned int i;

	tsm_coverage(TSM_EV_ALL, &c);
	CHECK(c.full && c.nr_observed == 16 && c.nr_events == 16, "all events: not full");
	for (i = TSM_I1; i < TSM_I_NR; i++)
		CHECK(c.inv[i] == TSM_COV_FULL, "all events: %s not fully checked", tsm_inv_id(i));
	tsm_coverage(TSM_EV_ALL & ~TSM_EV_KVM, &c);
	CHECK(!c.full && c.nr_observed == 14, "no kvm: %u observed", c.nr_observed);
	CHECK(c.inv[TSM_I4] == TSM_COV_NONE, "no kvm: TSM-I4 counted as checked");
	CHECK(c.inv[TSM_I1] == TSM_COV_PARTIAL && c.inv[TSM_I5] == TSM_COV_PARTIAL &&
	      c.inv[TSM_I6] == TSM_COV_PARTIAL && c.inv[TSM_I7] == TSM_COV_PARTIAL,
	      "no kvm: I1/I5/I6/I7 not partial");
	CHECK(c.inv[TSM_I2] == TSM_COV_FULL && c.inv[TSM_I3] == TSM_COV_FULL &&
	      c.inv[TSM_I8] == TSM_COV_FULL, "no kvm: I2/I3/I8 not full");
	tsm_coverage(TSM_EV_ALL & ~TSM_EV_VFIO_PCI, &c);
	CHECK(!c.full && c.inv[TSM_I9] == TSM_COV_NONE && c.inv[TSM_I1] == TSM_COV_FULL,
	      "no host CPU events: TSM-I9 counted as checked, or TSM-I1 not");
	tsm_coverage(TSM_EV_PCI_TSM, &c);
	CHECK(c.inv[TSM_I1] == TSM_COV_NONE && c.inv[TSM_I2] == TSM_COV_NONE &&
	      c.inv[TSM_I5] == TSM_COV_NONE && c.inv[TSM_I6] == TSM_COV_PARTIAL &&
	      c.inv[TSM_I8] == TSM_COV_FULL, "layout only: wrong coverage");
	return 0;
}

static void t_init_observed(struct t *t, __u32 observed, __u32 unobserved_fed)
{
	struct tsm_engine_opts o = { .state_known = true, .observed = observed };

	t->e = tsm_engine_new(&o);
	gen_init(&t->g, emit_engine, t->e);
	t->g.unobserved = unobserved_fed;
	flow_default(&t->f, 0);
}

/* a kernel without the KVM events: the flow passes, the summary says so */
static int t_coverage_no_kvm_pass(void)
{
	struct tsm_summary s;
	struct t t;

	t_init_observed(&t, TSM_EV_ALL & ~TSM_EV_KVM, TSM_EV_KVM);
	flow_run(&t.g, &t.f);
	tsm_engine_summary(t.e, &s);
	CHECK(s.observed == (TSM_EV_ALL & ~TSM_EV_KVM), "summary lost the coverage");
	return expect(&t, TSM_PASS, "");
}

/* the IOAS violation is still found without the KVM events */
static int t_coverage_no_kvm_violation(void)
{
	struct t t;

	t_init_observed(&t, TSM_EV_ALL & ~TSM_EV_KVM, TSM_EV_KVM);
	t.f.faults = F_IOAS_LEFT_AT_BIND;
	flow_run(&t.g, &t.f);
	return expect(&t, TSM_VIOLATION, "TSM-I1/pfn_mapped_shared TSM-I2/shared_dmabuf_live");
}

/* an event the source says it did not observe: the state is not trusted */
static int t_coverage_contradiction(void)
{
	struct t t;

	t_init_observed(&t, TSM_EV_ALL & ~TSM_EV_KVM, 0);
	flow_run(&t.g, &t.f);
	return expect(&t, TSM_INCOMPLETE, "");
}

/* a 1.0 file (272-byte header, no events_observed) observed every event */
static int t_file_1_0_header(void)
{
	char path[256], old[300], buf[65536];
	struct tsm_file_header h;
	struct tsm_file f;
	FILE *in, *out;
	size_t n;

	snprintf(path, sizeof(path), "%s/new.tsm", tmpdir);
	snprintf(old, sizeof(old), "%s/old.tsm", tmpdir);
	if (write_flow(path, 0, true))
		return -1;
	in = fopen(path, "rb");
	out = fopen(old, "wb");
	CHECK(in && out, "tmp files");
	n = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	memcpy(&h, buf, sizeof(h));
	CHECK(h.header_size == sizeof(h) && h.version_minor == 1 &&
	      h.events_observed == TSM_EV_ALL, "writer: header %u bytes, 1.%u, events 0x%x",
	      h.header_size, h.version_minor, h.events_observed);
	h.header_size = TSM_FILE_HEADER_SIZE_1_0;
	h.version_minor = 0;
	h.header_crc = 0;
	h.header_crc = crc32c(0, &h, TSM_FILE_HEADER_SIZE_1_0);
	fwrite(&h, 1, TSM_FILE_HEADER_SIZE_1_0, out);
	fwrite(buf + sizeof(h), 1, n - sizeof(h), out);
	fclose(out);
	CHECK(tsm_file_open(&f, old) == TSM_READ_OK, "1.0 file refused: %.300s", f.msg);
	CHECK(f.hdr.events_observed == TSM_EV_ALL, "1.0 file: events 0x%x", f.hdr.events_observed);
	tsm_file_close(&f);
	CHECK(replay(old, &f, NULL) == TSM_PASS, "1.0 file does not pass");
	return 0;
}

/* ---- the human-readable line of a record (live, report) ---- */

static int t_fmt_record(void)
{
	struct tsm_ev_pci_tsm_tdi_state st = {
		.hdr = { .type = TSM_REC_PCI_TSM_TDI_STATE, .size = sizeof(st), .cpu = 1,
			 .pid = 4242, .ts = 12000000042ULL, .seq = 7 },
		.dev = 0x20, .tdi_id = 66, .old_state = 2, .new_state = 3,
	};
	struct tsm_ev_pci_tsm_op op = {
		.hdr = { .type = TSM_REC_PCI_TSM_BIND_END, .size = sizeof(op), .cpu = 13,
			 .pid = 1234567, .ts = 3, .seq = 12345678 },
		.dev = 0x12345, .tdi_id = 0xffffffff, .vm = 0xffff888000001000ULL, .ret = -16,
	};
	struct tsm_ev_pci_tsm_op un = {
		.hdr = { .type = TSM_REC_PCI_TSM_UNBIND_BEGIN, .size = sizeof(un), .seq = 1 },
		.reason = 9,
	};
	struct tsm_ev_kvm_dmabuf_slot sl = {
		.hdr = { .type = TSM_REC_KVM_DMABUF_SLOT_BIND, .size = sizeof(sl), .cpu = 1,
			 .pid = 77, .ts = 5000000001ULL, .seq = 99 },
		.vm = 0xabc, .slot = 0x10001, .gfn = 0x100, .buf = 77, .pfn = 0x100200,
		.npfns = 0xffe00, .arg = 1,
	};
	struct tsm_rec_lost lo = {
		.hdr = { .type = TSM_REC_LOST, .size = sizeof(lo), .pid = 1,
			 .ts = 99999000000000ULL, .seq = 100 },
		.nr = 5, .source = 1,
	};
	static const char *const want[] = {
		"seq 7         12.000000042 cpu 1  pid 4242   pci_tsm_tdi_state dev=0000:00:04.0 tdi_id=66 RUN->ERROR",
		"seq 12345678     0.000000003 cpu 13 pid 1234567 pci_tsm_bind_end dev=0001:23:08.5 tdi_id=4294967295 vm=0xffff888000001000 reason=0 ret=-16",
		"seq 1          0.000000000 cpu 0  pid 0      pci_tsm_unbind_begin dev=0000:00:00.0 tdi_id=0 vm=0x0 reason=? ret=0",
		"seq 99         5.000000001 cpu 1  pid 77     kvm_dmabuf_slot_bind vm=0xabc slot=0x10001 gfn=0x100 buf=77 pfn=0x100200 npfns=0xffe00 private=1",
		"seq 100    99999.000000000 cpu 0  pid 1      lost nr=5 source=MAP_FULL",
	};
	const struct tsm_rec_hdr *recs[] = { &st.hdr, &op.hdr, &un.hdr, &sl.hdr, &lo.hdr };
	char line[512];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(recs); i++) {
		size_t n = fmt_record(line, sizeof(line), recs[i]);

		CHECK(!strcmp(line, want[i]), "record %u: '%.200s', want '%.200s'", i, line, want[i]);
		CHECK(n == strlen(want[i]), "record %u: length %zu, want %zu", i, n, strlen(want[i]));
	}
	/* a short buffer gets the start of the line, terminated */
	for (i = 1; i < 40; i++) {
		memset(line, 'x', sizeof(line));
		fmt_record(line, i, recs[1]);
		CHECK(strlen(line) == i - 1 && !strncmp(line, want[1], i - 1),
		      "%u bytes: '%.60s'", i, line);
	}
	return 0;
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		printf("FAIL: unit-setup (mkdtemp: %s)\n", strerror(errno));
		return 1;
	}
	run("engine-flow-correct-passes", t_flow_good);
	run("engine-flow-each-fault-names-its-invariant", t_flow_faults);
	run("engine-i1-range-over-ioas-mapping", t_i1_range_over_ioas);
	run("engine-i1-range-over-shared-slot", t_i1_range_over_shared_slot);
	run("engine-i5-slot-two-ranges-ok", t_i5_slot_two_ranges_ok);
	run("engine-i5-slot-two-ranges-one-left", t_i5_slot_two_ranges_one_left);
	run("engine-i1-shared-map-over-private", t_i1_map_over_private);
	run("engine-i1-shared-fragment-ok", t_i1_ok);
	run("engine-i2-private-export-unbound", t_i2_private_unbound);
	run("engine-i2-export-early-in-unbind-revoked", t_i2_export_early_in_unbind_revoked);
	run("engine-i2-export-early-in-unbind-left", t_i2_export_early_in_unbind_left);
	run("engine-i4-slot-early-in-unbind", t_i4_slot_early_in_unbind);
	run("engine-i2-private-export-over-shared", t_i2_private_over_shared);
	run("engine-i2-range-under-live-private-buf", t_i2_range_under_private_buf);
	run("engine-i2-correct-unbind-ok", t_i2_ok);
	run("engine-i3-private-buf-in-ioas", t_i3_private_in_ioas);
	run("engine-i4-private-slots", t_i4_cases);
	run("engine-i4-range-under-private-slot", t_i4_range_under_private_slot);
	run("engine-i5-revoke-while-mapped", t_i5_revoke_mapped);
	run("engine-i5-map-revoked-buf", t_i5_map_revoked);
	run("engine-agrees-with-in-kernel-check", t_kernel_agreement);
	run("engine-stock-iommu-mappings-i5-i7", t_stock_iommu);
	run("engine-stock-kvm-entries-i5", t_stock_kvm);
	run("engine-i5-importers-unmap-ok", t_i5_ok);
	run("engine-i5-restored-buf-maps-again", t_i5_restore_then_map);
	run("engine-i2-restore-over-private", t_i2_restore_over_private);
	run("engine-i6-pages-left-private", t_i6_pages_left_private);
	run("engine-i6-private-buf-left", t_i6_private_buf_left);
	run("engine-i7-release-while-mapped", t_i7_release_mapped);
	run("engine-i8-busy-bind-changes-nothing", t_i8_busy_bind_is_not_a_failure);
	run("engine-i9-cpu-mapping-zapped-at-bind-ok", t_i9_ok);
	run("engine-i9-bind-over-cpu-mapping", t_i9_range_over_cpu_mapping);
	run("engine-i9-zap-of-other-bar-or-device-keeps-mapping", t_i9_other_bar_zapped);
	run("engine-i9-cpu-map-of-private-page", t_i9_map_of_private);
	run("engine-i9-unknown-start-doubt-then-zap-decides", t_i9_unknown_start);
	run("engine-i9-lost-zap-no-false-violation", t_i9_lost_zap);
	run("engine-lost-event-never-pass", t_lost_never_pass);
	run("engine-lost-event-no-false-violation", t_lost_no_false_violation);
	run("engine-after-loss-new-objects-known", t_lost_then_relearn);
	run("engine-unknown-start-no-false-violation", t_unknown_start_no_false_violation);
	run("engine-unknown-start-certain-violation-found", t_unknown_start_certain_violation);
	run("engine-unknown-start-relearned-at-unbind", t_unknown_start_relearn_by_unbind);
	run("engine-stale-layout-forgotten-at-unbind", t_stale_layout_forgotten_at_bind);
	run("engine-stale-layout-reset-by-bind", t_stale_layout_reset_by_bind);
	run("engine-state-unknown-record", t_state_unknown_record);
	run("engine-sequence-backwards-incomplete", t_order);
	run("engine-inconsistent-event-incomplete", t_inconsistent);
	run("engine-stack-attached-to-violation", t_stack_attached);
	run("engine-unknown-record-type-incomplete", t_unknown_type);
	run("engine-wrapped-range-malformed", t_wrapped_range_refused);
	run("engine-malformed-record-refused", t_short_record_refused);
	run("engine-range-256gib-bar-is-one-range", t_huge_bar);
	run("rset-matches-reference", t_rset);
	run("hash-matches-reference", t_hash);
	run("crc32c-known-values", t_crc32c);
	run("file-round-trip-same-verdict-as-live", t_file_round_trip);
	run("file-without-end-marker-incomplete", t_file_abandoned_is_truncated);
	run("file-refusals-name-file-offset-cause", t_file_refusals);
	run("file-changed-while-read-said-so", t_file_changed_while_read);
	run("file-writer-special-target-in-place", t_file_writer_special_target);
	run("file-version-1.0-header-observed-everything", t_file_1_0_header);
	run("file-zstd-round-trip-same-verdicts", t_file_zstd_round_trip);
	run("file-symbols-and-build-id-travel", t_file_symbols);
	run("file-zstd-many-blocks-all-records-smaller", t_file_zstd_many_blocks);
	run("file-zstd-incompressible-block-stays-raw", t_file_zstd_incompressible_stays_raw);
	run("file-zstd-delta-times-and-seqs-exact", t_file_zstd_delta_exact);
	run("file-zstd-hostile-blocks-refused-malformed", t_file_zstd_hostile);
	run("file-compress-option-parse", t_compress_parse);
	run("coverage-per-invariant", t_coverage_table);
	run("coverage-no-kvm-events-flow-passes", t_coverage_no_kvm_pass);
	run("coverage-no-kvm-events-ioas-violation-found", t_coverage_no_kvm_violation);
	run("coverage-unobserved-event-seen-incomplete", t_coverage_contradiction);
	run("reorder-releases-in-sequence-order", t_reorder);
	run("print-record-line", t_fmt_record);
	run("live-out-of-order-records-same-verdicts", t_live_out_of_order_same_verdicts);
	run("fuzz-random-records-never-crash-never-false-pass", t_fuzz_engine);
	run("fuzz-checksummed-garbage-file", t_fuzz_file);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	return failures ? 1 : 0;
}
