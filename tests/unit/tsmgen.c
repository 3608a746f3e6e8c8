// SPDX-License-Identifier: GPL-2.0
/*
 * tsmgen - write deterministic synthetic traces.
 *
 *   tsmgen DIR              every scenario as DIR/<name>.tsm
 *   tsmgen --big N FILE     N events of a steady workload (benchmark)
 *   tsmgen --devices N FILE N devices bound at once, each through the
 *                           whole flow (scale of the device lookup)
 *   tsmgen --case NAME FILE one of the test-only traces of cases[]
 *   tsmgen --hostile-zstd KIND FILE
 *                           a trace whose compressed block is well-formed
 *                           on the outside (checksums right) and hostile
 *                           inside (tests/unit/hostile-zstd.c)
 *   tsmgen --list-hostile-zstd
 *                           the KINDs, one a line
 *
 * --compress=ALG first writes any of them with compressed blocks (none,
 * zstd, zstd:LEVEL; default none, which tests/traces/ are written with).
 *
 * The same inputs give the same bytes: the suite regenerates the traces in
 * tests/traces/ and compares. Their expected verdicts are written by hand
 * in tests/traces/expected.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tracefile.h>
#include "hostile-zstd.h"
#include "scenario.h"

static int emit_file(void *ctx, const struct tsm_rec_hdr *rec)
{
	return tsm_writer_add(ctx, rec);
}

/* the host the header names (a case may give bytes that are not UTF-8) */
static const char *gen_hostname = "tsmgen";
static struct tsm_compress gen_compress;

static struct tsm_writer *open_trace(const char *path, bool state_known, __u32 unobserved)
{
	struct tsm_meta m = {
		.kernel_release = "6.12.0-synthetic",
		.hostname = gen_hostname,
		.flags = TSM_FILE_F_SYNTHETIC | (state_known ? TSM_FILE_F_STATE_KNOWN : 0),
		.start_realtime_ns = 1767225600000000000ULL,	/* 2026-01-01 */
		.start_monotonic_ns = 1000000000ULL,
		.events_observed = TSM_EV_ALL & ~unobserved,
		.compress = gen_compress,
	};
	char err[512];
	struct tsm_writer *w = tsm_writer_open(path, &m, err, sizeof(err));

	if (!w)
		fprintf(stderr, "tsmgen: %s\n", err);
	return w;
}

static void two_devices(struct gen *g)
{
	struct flow a, b;

	flow_default(&a, 0);
	flow_default(&b, 1);
	flow_start(g, &a);
	flow_start(g, &b);
	flow_bind(g, &a);
	flow_bind(g, &b);
	g->cpu = 1;
	flow_bound(g, &b);
	g->cpu = 0;
	flow_bound(g, &a);
	flow_unbind(g, &b);
	flow_unbind(g, &a);
}

/* the range event of bind is lost: the layout cannot be known */
static void lost_in_bind(struct gen *g)
{
	struct flow f;

	flow_default(&f, 0);
	flow_start(g, &f);
	g_op(g, TSM_REC_PCI_TSM_BIND_BEGIN, f.dev, f.tdi, f.vm, 0, 0);
	g_cpu(g, TSM_REC_VFIO_PCI_BAR_ZAP, f.dev, f.bar, f.base, f.npfns);
	g_tdi(g, f.dev, f.tdi, TSM_TDI_CONFIG_UNLOCKED, TSM_TDI_CONFIG_LOCKED);
	g->drop = 1;
	g_range(g, f.dev, f.bar, f.priv, f.npriv, TSM_ATTR_SHARED, TSM_ATTR_PRIVATE);
	g_lost(g, 1);
	g_tdi(g, f.dev, f.tdi, TSM_TDI_CONFIG_LOCKED, TSM_TDI_RUN);
	g_op(g, TSM_REC_PCI_TSM_BIND_END, f.dev, f.tdi, f.vm, 0, 0);
	flow_bound(g, &f);
	flow_unbind(g, &f);
}

/*
 * A shared mapping is left in the IOAS, and its unmap event is lost before
 * bind: the stale belief must not become a violation.
 */
static void lost_hides_mapping(struct gen *g)
{
	struct flow f;

	flow_default(&f, 0);
	f.faults = F_LOST_UNMAP;
	flow_run(g, &f);
}

static const struct scenario {
	const char *name;
	__u32 faults;
	void (*fn)(struct gen *g);
	__u32 unobserved;	/* a kernel without these events */
} scenarios[] = {
	{ "good-flow", 0, NULL, 0 },
	{ "good-two-devices", 0, two_devices, 0 },
	{ "good-failed-bind", F_BIND_FAILS, NULL, 0 },
	{ "bind-ioas-left-mapped", F_IOAS_LEFT_AT_BIND | F_STACKS, NULL, 0 },
	{ "revoke-without-unmap", F_REVOKE_NO_UNMAP | F_STACKS, NULL, 0 },
	{ "private-in-ioas", F_PRIVATE_IN_IOAS | F_STACKS, NULL, 0 },
	{ "mapping-outlives-dmabuf", F_MAPPING_OUTLIVES | F_STACKS, NULL, 0 },
	{ "unbind-leaves-private", F_UNBIND_LEAVES_PRIVATE | F_STACKS, NULL, 0 },
	{ "private-slot-wrong-vm", F_WRONG_VM | F_STACKS, NULL, 0 },
	{ "bind-cpu-left-mapped", F_CPU_LEFT_AT_BIND | F_STACKS, NULL, 0 },
	{ "failed-bind-left-private", F_BIND_FAILS_DIRTY | F_STACKS, NULL, 0 },
	{ "lost-unmap-before-bind", 0, lost_hides_mapping, 0 },
	{ "lost-range-in-bind", 0, lost_in_bind, 0 },
	{ "start-state-unknown", F_START_LATE, NULL, 0 },
	/* a kernel without the KVM slot events: PASS over what it can check */
	{ "good-flow-no-kvm", 0, NULL, TSM_EV_KVM },
};

/* close what the generator wrote: 0, or 1 after saying why */
static int finish(const char *path, struct tsm_writer *w, const struct gen *g)
{
	char err[512];

	if (g->err) {
		fprintf(stderr, "tsmgen: %s: %s\n", path, strerror(-g->err));
		tsm_writer_abandon(w, NULL, 0);
		return 1;
	}
	if (tsm_writer_close(w, err, sizeof(err))) {
		fprintf(stderr, "tsmgen: %s\n", err);
		return 1;
	}
	return 0;
}

static int write_scenario(const char *dir, const struct scenario *s)
{
	char path[4096];
	struct tsm_writer *w;
	struct flow f;
	struct gen g;

	snprintf(path, sizeof(path), "%s/%s.tsm", dir, s->name);
	w = open_trace(path, !(s->faults & F_START_LATE), s->unobserved);
	if (!w)
		return 1;
	gen_init(&g, emit_file, w);
	g.unobserved = s->unobserved;
	if (s->fn) {
		s->fn(&g);
	} else {
		flow_default(&f, 0);
		f.faults = s->faults;
		flow_run(&g, &f);
	}
	return finish(path, w, &g);
}

/* write one trace to @path with @fn; state known at start */
static int write_one(const char *path, void (*fn)(struct gen *g, unsigned long long n),
		     unsigned long long n)
{
	struct tsm_writer *w = open_trace(path, true, 0);
	struct gen g;

	if (!w)
		return 1;
	gen_init(&g, emit_file, w);
	fn(&g, n);
	if (finish(path, w, &g))
		return 1;
	printf("%llu\n", (unsigned long long)(g.seq - 1));
	return 0;
}

/*
 * A steady workload: NDEV devices cycle through bind, map/unmap storms of
 * shared fragments, and unbind; live state stays bounded whatever N is.
 */
static void big(struct gen *g, unsigned long long n)
{
	unsigned int cycle = 0;

	while (g->seq <= n && !g->err) {
		struct flow f;
		__u64 i;

		flow_default(&f, cycle % 4);
		f.buf0 = 1000 + 10ULL * cycle;
		f.vm += (__u64)(cycle / 4) << 32;
		flow_start(g, &f);
		flow_bind(g, &f);
		flow_bound(g, &f);
		/* the guest remaps shared pages: an IOAS map/unmap storm */
		for (i = 0; i < 4096 && g->seq <= n; i++) {
			__u64 iova = 0x200000000ULL + ((i & 63) << 21);
			__u64 pfn = f.base + (i & 63) * 512;

			g_ioas(g, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, f.ctx, f.ioas, iova,
			       f.buf0 + 1, pfn, 512, TSM_DMABUF_SHARED);
			g_ioas(g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, f.ctx, f.ioas, iova,
			       f.buf0 + 1, pfn, 512, TSM_UNMAP_USER);
		}
		flow_unbind(g, &f);
		cycle++;
	}
}

/* n devices, all bound at once: every step of the flow for each in turn */
static void devices(struct gen *g, unsigned long long n)
{
	void (*const step[])(struct gen *, const struct flow *) = {
		flow_start, flow_bind, flow_bound, flow_unbind,
	};
	unsigned long long i;
	unsigned int s;

	for (s = 0; s < sizeof(step) / sizeof(step[0]); s++) {
		for (i = 0; i < n && !g->err; i++) {
			struct flow f;

			flow_default(&f, i);
			step[s](g, &f);
		}
	}
}

/* a VMM that maps the private DMABUF into the IOAS n times: n violations */
static void many_violations(struct gen *g, unsigned long long n)
{
	unsigned long long i;
	struct flow f;

	flow_default(&f, 0);
	flow_start(g, &f);
	flow_bind(g, &f);
	flow_bound(g, &f);
	for (i = 0; i < n && !g->err; i++) {
		__u64 iova = 0x400000000ULL + (i << 32);

		g_ioas(g, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, f.ctx, f.ioas, iova, f.buf0 + 2,
		       f.priv, f.npriv, TSM_DMABUF_PRIVATE);
		g_ioas(g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, f.ctx, f.ioas, iova, f.buf0 + 2,
		       f.priv, f.npriv, TSM_UNMAP_USER);
	}
	flow_unbind(g, &f);
}

/* the correct flow with a kernel event of a newer type after bind */
static void unknown_record(struct gen *g, unsigned long long type)
{
	struct flow f;

	flow_default(&f, 0);
	flow_start(g, &f);
	flow_bind(g, &f);
	g_unknown(g, type);
	g_unknown(g, type);
	flow_bound(g, &f);
	flow_unbind(g, &f);
}

/*
 * An IOAS mapping left at bind (TSM-I1), but an event of a newer type
 * comes before the bind: it may have been the unmap, the violation cannot
 * be claimed.
 */
static void unknown_before_violation(struct gen *g, unsigned long long type)
{
	struct flow f;

	flow_default(&f, 0);
	f.faults = F_IOAS_LEFT_AT_BIND;
	flow_start(g, &f);
	g_unknown(g, type);
	flow_bind(g, &f);
	flow_bound(g, &f);
	flow_unbind(g, &f);
}

/* a correct flow, then an IOAS mapping (n = 0) or a slot (n = 1) past 2^64 */
static void wrapped_range(struct gen *g, unsigned long long slot)
{
	struct flow f;

	flow_default(&f, 0);
	flow_run(g, &f);
	if (slot)
		g_slot(g, TSM_REC_KVM_DMABUF_SLOT_BIND, f.vm, 9, ~0ULL - 0xff, f.buf0 + 1,
		       f.base, 0x200, 0);
	else
		g_ioas(g, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, f.ctx, f.ioas, 0xffffffffffff0000ULL,
		       f.buf0 + 1, f.base, 0x200, TSM_DMABUF_SHARED);
}

/* the correct flow (for a case that changes only the header) */
static void good_flow(struct gen *g, unsigned long long n)
{
	struct flow f;

	(void)n;
	flow_default(&f, 0);
	flow_run(g, &f);
}

/*
 * A bind that leaves @n mappings of the shared DMABUF over the range that
 * turns private, half in IOAS areas and half in shared slots: TSM-I1 in
 * conflict with every one of them.
 */
static void many_mappings(struct gen *g, unsigned long long n)
{
	unsigned long long i;
	struct flow f;

	flow_default(&f, 0);
	f.faults = F_IOAS_LEFT_AT_BIND;
	flow_start(g, &f);
	for (i = 1; i < n; i++) {
		if (i & 1)
			g_slot(g, TSM_REC_KVM_DMABUF_SLOT_BIND, f.vm, 16 + i, i << 24, f.buf0,
			       f.base, f.npfns, 0);
		else
			g_ioas(g, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, f.ctx, f.ioas, i << 36, f.buf0,
			       f.base, f.npfns, TSM_DMABUF_SHARED);
	}
	flow_bind(g, &f);
	flow_bound(g, &f);
	for (i = 1; i < n; i++) {
		if (i & 1)
			g_slot(g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, f.vm, 16 + i, i << 24, f.buf0,
			       f.base, f.npfns, TSM_UNMAP_DESTROY);
		else
			g_ioas(g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, f.ctx, f.ioas, i << 36, f.buf0,
			       f.base, f.npfns, TSM_UNMAP_DESTROY);
	}
	flow_unbind(g, &f);
}

/* traces the host suite makes for its own cases, not kept in tests/traces */
static const struct gen_case {
	const char *name;
	void (*fn)(struct gen *g, unsigned long long n);
	unsigned long long n;
	const char *hostname;	/* NULL: "tsmgen" */
} cases[] = {
	{ "many-violations", many_violations, 5000, NULL },
	{ "unknown-record", unknown_record, 40, NULL },
	{ "unknown-before-violation", unknown_before_violation, 40, NULL },
	{ "ioas-wrap", wrapped_range, 0, NULL },
	{ "slot-wrap", wrapped_range, 1, NULL },
	{ "many-mappings", many_mappings, 12, NULL },
	/* a recorder that wrote bytes that are not UTF-8 (Latin-1, a cut sequence) */
	{ "non-utf8-host", good_flow, 0, "h\xf6st-\xe2\x82\"q\\\x01\xc3" },
};

static int write_case(const char *name, const char *path)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(cases[i].name, name))
			continue;
		if (cases[i].hostname)
			gen_hostname = cases[i].hostname;
		return write_one(path, cases[i].fn, cases[i].n);
	}
	fprintf(stderr, "tsmgen: no case '%s'\n", name);
	return 2;
}

static void usage(void)
{
	size_t i;

	fprintf(stderr, "usage: tsmgen [--compress=none|zstd[:LEVEL]] DIR | --big N FILE |\n"
		"       --devices N FILE | --case NAME FILE\n"
		"       tsmgen --list | --list-hostile-zstd | --hostile-zstd KIND FILE\ncases:");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		fprintf(stderr, " %s", cases[i].name);
	fputs("\nhostile-zstd kinds:", stderr);
	for (i = 0; hostile_zstd_kinds[i]; i++)
		fprintf(stderr, " %s", hostile_zstd_kinds[i]);
	fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	size_t i;
	int ret = 0;

	if (argc > 1 && !strncmp(argv[1], "--compress=", 11)) {
		if (tsm_compress_parse(argv[1] + 11, &gen_compress)) {
			fprintf(stderr, "tsmgen: %s: give none, zstd or zstd:LEVEL\n", argv[1]);
			return 2;
		}
		argc--;
		argv++;
	}
	if (argc == 2 && !strcmp(argv[1], "--list-hostile-zstd")) {
		for (i = 0; hostile_zstd_kinds[i]; i++)
			printf("%s\n", hostile_zstd_kinds[i]);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "--hostile-zstd")) {
		char err[512];

		if (write_hostile_zstd(argv[3], argv[2], err, sizeof(err))) {
			fprintf(stderr, "tsmgen: %s\n", err);
			return 2;
		}
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "--big"))
		return write_one(argv[3], big, strtoull(argv[2], NULL, 0));
	if (argc == 4 && !strcmp(argv[1], "--devices"))
		return write_one(argv[3], devices, strtoull(argv[2], NULL, 0));
	if (argc == 4 && !strcmp(argv[1], "--case"))
		return write_case(argv[2], argv[3]);
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
			printf("%s\n", scenarios[i].name);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		usage();
		return 2;
	}
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		ret |= write_scenario(argv[1], &scenarios[i]);
	return ret;
}
