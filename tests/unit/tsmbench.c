// SPDX-License-Identifier: GPL-2.0
/*
 * tsmbench - figures for 'make bench' (not a test: it prints, it does not
 * judge).
 *
 *   1. 'tsmtrace check' throughput on one CPU over a large generated trace,
 *      and its peak memory for two trace sizes (memory follows live
 *      ranges, not events); the same events written with zstd-compressed
 *      blocks (record's default): bytes per event, the writer's time and
 *      check's throughput against the uncompressed file;
 *   2. the engine alone, records from memory;
 *   3. the cost of an event on a range spanning a 256 GiB BAR against one
 *      on a single 4 KiB page;
 *   4. 'tsmtrace check' of 80,000 devices bound at once (the device
 *      lookup: a hash, not a walk);
 *   5. the cost of an event against the number of devices bound at once,
 *      from 1 to 100,000: the same work an event, each looking its device
 *      up among all of them (the engine, records in memory).
 *
 *   tsmbench --tool PATH --dir DIR [--events N]
 *
 * With --reader-parts FILE, instead: what each part of the reader of
 * 'tsmtrace live' costs an event, on the records of FILE (a recording of
 * the lab's storm, in memory): putting records in order, writing the file
 * (uncompressed, zstd:1 and zstd:3, into DIR), the engine, building the
 * text line, and building the lines in a 1 MiB buffer written to
 * /dev/null when full, as live does. A file's close (its last block, the
 * sync, the rename) is given on its own: it comes after the recording.
 * bench-live.sh runs it in the lab guest too, where it says where live's
 * time goes under TCG. --part NAME runs only that part (to
 * profile it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <tsmtrace/engine.h>
#include "builtin.h"
#include "reorder.h"
#include "scenario.h"
#include "tracefile.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* run argv, pinned to CPU 0; wall seconds, peak RSS in KiB, exit status */
static int run(char *const argv[], double *secs, long *maxrss_kb)
{
	struct rusage ru;
	double t0 = now();
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		pin_cpu0();
		dup2(fd, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) < 0)
		return -1;
	*secs = now() - t0;
	*maxrss_kb = ru.ru_maxrss;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static const char *dirname_of(const char *path)
{
	static char d[4096];
	char *s;

	snprintf(d, sizeof(d), "%s", path);
	s = strrchr(d, '/');
	if (s)
		*s = 0;
	else
		strcpy(d, ".");
	return d;
}

/* tsmgen MODE N PATH: the events it wrote, or -1 */
static long long gen_trace(const char *gen, const char *mode, const char *path, long long n)
{
	char cmd[4096];
	long long got = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s %s %lld %s", gen, mode, n, path);
	p = popen(cmd, "r");
	if (!p || fscanf(p, "%lld", &got) != 1)
		got = -1;
	if (p && pclose(p))
		got = -1;
	return got;
}

/* best of three runs of 'tool check path', which must PASS: seconds, or < 0 */
static double best_check(const char *tool, char *path, long *rss)
{
	char *argv[] = { (char *)tool, "check", path, NULL };
	double secs, best = 1e9;
	int i, r;

	for (i = 0; i < 3; i++) {	/* the first run also warms the page cache */
		r = run(argv, &secs, rss);
		if (r != 0) {
			fprintf(stderr, "tsmbench: '%s check %s' exited %d, expected 0 (PASS)\n",
				tool, path, r);
			return -1;
		}
		if (secs < best)
			best = secs;
	}
	return best;
}

static int bench_check(const char *tool, const char *dir, long long n)
{
	char gen[4096], big[4096], bigz[4096], half[4096];
	char *argv[] = { (char *)tool, "check", half, NULL };
	long long nb, nz, nh;
	double t0, tgen, tgenz, best, bestz, secs;
	long rss, rssz, rss_half;
	struct stat st, stz;

	snprintf(gen, sizeof(gen), "%s/tsmgen", dirname_of(tool));
	snprintf(big, sizeof(big), "%s/big.tsm", dir);
	snprintf(bigz, sizeof(bigz), "%s/big-zstd.tsm", dir);
	snprintf(half, sizeof(half), "%s/half.tsm", dir);
	printf("generating %lld events (uncompressed, then zstd, record's default) and %lld in %s ...\n",
	       n, n / 2, dir);
	t0 = now();
	nb = gen_trace(gen, "--compress=none --big", big, n);
	tgen = now() - t0;
	t0 = now();
	nz = gen_trace(gen, "--compress=zstd --big", bigz, n);
	tgenz = now() - t0;
	nh = gen_trace(gen, "--big", half, n / 2);
	if (nb < 0 || nz != nb || nh < 0) {
		fprintf(stderr, "tsmbench: generating the traces failed (%s)\n", gen);
		return 1;
	}
	stat(big, &st);
	stat(bigz, &stz);
	best = best_check(tool, big, &rss);
	bestz = best < 0 ? -1 : best_check(tool, bigz, &rssz);
	if (best < 0 || bestz < 0)
		return 1;
	run(argv, &secs, &rss_half);
	unlink(big);		/* ~1 GiB of disk: regenerated at every run */
	unlink(bigz);
	unlink(half);
	printf("\n1. tsmtrace check, one CPU, file in page cache\n");
	printf("   %lld events, %.1f MiB file: %.3f s = %.1f million events/s (%.0f MiB/s)\n",
	       nb, st.st_size / 1048576.0, best, nb / best / 1e6, st.st_size / 1048576.0 / best);
	printf("   peak RSS: %ld KiB for %lld events, %ld KiB for %lld events\n",
	       rss, nb, rss_half, nh);
	printf("   the same events compressed (zstd, record's default):\n");
	printf("     bytes/event: %.1f uncompressed, %.2f zstd (%.1f MiB, %.0fx smaller)\n",
	       (double)st.st_size / nb, (double)stz.st_size / nz, stz.st_size / 1048576.0,
	       (double)st.st_size / stz.st_size);
	printf("     check: %.1f million events/s uncompressed, %.1f zstd (%.2fx the time); peak RSS %ld KiB\n",
	       nb / best / 1e6, nz / bestz / 1e6, bestz / best, rssz);
	printf("     writing (tsmgen, its generator included): %.1f million events/s uncompressed, %.1f zstd\n",
	       nb / tgen / 1e6, nz / tgenz / 1e6);
	return 0;
}

static int bench_devices(const char *tool, const char *dir, long long ndev)
{
	char gen[4096], path[4096];
	char *argv[] = { (char *)tool, "check", path, NULL };
	double secs;
	long long nev;
	long rss;
	int r;

	snprintf(gen, sizeof(gen), "%s/tsmgen", dirname_of(tool));
	snprintf(path, sizeof(path), "%s/devices.tsm", dir);
	nev = gen_trace(gen, "--devices", path, ndev);
	if (nev < 0) {
		fprintf(stderr, "tsmbench: generating %lld devices failed (%s)\n", ndev, gen);
		return 1;
	}
	r = run(argv, &secs, &rss);
	unlink(path);
	if (r != 0) {
		fprintf(stderr, "tsmbench: '%s check %s' exited %d, expected 0 (PASS)\n", tool, path, r);
		return 1;
	}
	printf("\n4. tsmtrace check of %lld devices bound at once\n", ndev);
	printf("   %lld events: %.3f s = %.1f million events/s, peak RSS %ld KiB\n",
	       nev, secs, nev / secs / 1e6, rss);
	return 0;
}

/* ---- in-process ---- */

struct mem {
	unsigned char *buf;
	size_t len, cap;
};

static int emit_mem(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct mem *m = ctx;

	if (m->len + rec->size > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 1 << 20;
		unsigned char *b = realloc(m->buf, cap);

		if (!b)
			return -ENOMEM;
		m->buf = b;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, rec, rec->size);
	m->len += rec->size;
	return 0;
}

/* feed every record in m to a fresh engine; events/s; live objects at the end */
static double feed(const struct mem *m, unsigned long long *nev, size_t *live, int *verdict)
{
	struct tsm_engine_opts o = { .state_known = true };
	struct tsm_engine *e = tsm_engine_new(&o);
	struct tsm_summary s;
	size_t pos = 0;
	double t0, t;

	t0 = now();
	while (pos < m->len) {
		const struct tsm_rec_hdr *rec = (const void *)(m->buf + pos);

		if (tsm_engine_feed(e, rec, m->len - pos))
			break;
		pos += rec->size;
	}
	t = now() - t0;
	tsm_engine_summary(e, &s);
	*nev = s.nr_events;
	*live = tsm_engine_live_objects(e);
	*verdict = s.verdict;
	tsm_engine_free(e);
	return t;
}

static void bench_engine(long long n)
{
	struct mem m = { 0 };
	unsigned long long nev;
	unsigned int cycle = 0;
	size_t live;
	struct gen g;
	double t;
	int v;

	gen_init(&g, emit_mem, &m);
	while ((long long)g.seq <= n && !g.err) {
		struct flow f;
		__u64 i;

		flow_default(&f, cycle % 4);
		f.buf0 = 1000 + 10ULL * cycle;
		flow_start(&g, &f);
		flow_bind(&g, &f);
		flow_bound(&g, &f);
		/* the same storm as 'tsmgen --big': shared fragments remapped */
		for (i = 0; i < 4096; i++) {
			__u64 iova = 0x200000000ULL + ((i & 63) << 21);
			__u64 pfn = f.base + (i & 63) * 512;

			g_ioas(&g, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, f.ctx, f.ioas, iova, f.buf0 + 1,
			       pfn, 512, TSM_DMABUF_SHARED);
			g_ioas(&g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, f.ctx, f.ioas, iova, f.buf0 + 1,
			       pfn, 512, TSM_UNMAP_USER);
		}
		flow_unbind(&g, &f);
		cycle++;
	}
	t = feed(&m, &nev, &live, &v);
	printf("\n2. the engine alone (records in memory, no file, no CRC)\n");
	printf("   %llu events: %.3f s = %.1f million events/s; %zu live objects at the end; verdict %s\n",
	       nev, t, nev / t / 1e6, live, tsm_verdict_name(v));
	free(m.buf);
}

/*
 * One device, one BAR of @npfns pages; every cycle converts, exports, maps
 * into a slot and the IOAS, and undoes it all: each event touches a range
 * of the whole BAR.
 */
static double scale_cycle(__u64 npfns, unsigned int cycles, unsigned long long *nev)
{
	const __u64 base = 1ULL << 30;
	struct mem m = { 0 };
	unsigned int c;
	size_t live;
	struct gen g;
	double t;
	int v;

	gen_init(&g, emit_mem, &m);
	for (c = 0; c < cycles; c++) {
		__u64 buf = 100 + 2 * c;

		g_op(&g, TSM_REC_PCI_TSM_BIND_BEGIN, 0x100, 1, 0x1000, 0, 0);
		g_range(&g, 0x100, 0, base, npfns, TSM_ATTR_SHARED, TSM_ATTR_PRIVATE);
		g_op(&g, TSM_REC_PCI_TSM_BIND_END, 0x100, 1, 0x1000, 0, 0);
		g_export_range(&g, buf, 0x100, 0, TSM_DMABUF_PRIVATE, base, npfns);
		g_buf(&g, TSM_REC_VFIO_DMABUF_EXPORT, buf, 0x100, 0, TSM_DMABUF_PRIVATE, 1);
		g_slot(&g, TSM_REC_KVM_DMABUF_SLOT_BIND, 0x1000, 3, 0, buf, base, npfns, 1);
		g_slot(&g, TSM_REC_KVM_DMABUF_SLOT_UNBIND, 0x1000, 3, 0, buf, base, npfns, 0);
		g_op(&g, TSM_REC_PCI_TSM_UNBIND_BEGIN, 0x100, 1, 0x1000, 0, 0);
		g_buf(&g, TSM_REC_VFIO_DMABUF_REVOKE, buf, 0x100, 0, TSM_DMABUF_PRIVATE, 1);
		g_range(&g, 0x100, 0, base, npfns, TSM_ATTR_PRIVATE, TSM_ATTR_SHARED);
		g_op(&g, TSM_REC_PCI_TSM_UNBIND_END, 0x100, 1, 0x1000, 0, 0);
		g_buf(&g, TSM_REC_VFIO_DMABUF_RELEASE, buf, 0x100, 0, TSM_DMABUF_PRIVATE, 0);
		g_export_range(&g, buf + 1, 0x100, 0, TSM_DMABUF_SHARED, base, npfns);
		g_buf(&g, TSM_REC_VFIO_DMABUF_EXPORT, buf + 1, 0x100, 0, TSM_DMABUF_SHARED, 1);
		g_ioas(&g, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, 1, 1, 0, buf + 1, base, npfns, 0);
		g_ioas(&g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, 1, 1, 0, buf + 1, base, npfns, 0);
		g_buf(&g, TSM_REC_VFIO_DMABUF_RELEASE, buf + 1, 0x100, 0, TSM_DMABUF_SHARED, 0);
	}
	t = feed(&m, nev, &live, &v);
	if (v != TSM_PASS)
		printf("   (unexpected verdict %s)\n", tsm_verdict_name(v));
	free(m.buf);
	return t;
}

/*
 * @ndev devices bound at once, the upper half of a 2 MiB BAR of each
 * private; then, round after round, each device in turn exports a shared
 * DMABUF of the lower half, maps it into the IOAS, unmaps and closes it,
 * until about @target events: every event looks up its device among
 * @ndev (and the last one looked up is never the one wanted, but with one
 * device).
 */
static double devices_cycle(unsigned int ndev, unsigned long long target,
			    unsigned long long *nev, int *verdict)
{
	const __u64 half = 256;		/* 1 MiB in 4 KiB pages */
	struct mem m = { 0 };
	unsigned int d;
	__u64 buf = 1;
	size_t live;
	struct gen g;
	double t;

	gen_init(&g, emit_mem, &m);
	for (d = 0; d < ndev && !g.err; d++) {
		__u64 base = (1ULL << 30) + 2 * half * d;

		g_op(&g, TSM_REC_PCI_TSM_BIND_BEGIN, d, d + 1, 0x1000 + 0x1000ULL * d, 0, 0);
		g_range(&g, d, 2, base + half, half, TSM_ATTR_SHARED, TSM_ATTR_PRIVATE);
		g_op(&g, TSM_REC_PCI_TSM_BIND_END, d, d + 1, 0x1000 + 0x1000ULL * d, 0, 0);
	}
	while (g.seq <= target && !g.err) {
		for (d = 0; d < ndev && !g.err; d++, buf++) {
			__u64 base = (1ULL << 30) + 2 * half * d;
			__u64 iova = 0x100000000ULL + (2 * half * d << 12);

			g_export_range(&g, buf, d, 2, TSM_DMABUF_SHARED, base, half);
			g_buf(&g, TSM_REC_VFIO_DMABUF_EXPORT, buf, d, 2, TSM_DMABUF_SHARED, 1);
			g_ioas(&g, TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, 0x10, 1, iova, buf, base, half,
			       TSM_DMABUF_SHARED);
			g_ioas(&g, TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, 0x10, 1, iova, buf, base, half,
			       TSM_UNMAP_USER);
			g_buf(&g, TSM_REC_VFIO_DMABUF_RELEASE, buf, d, 2, TSM_DMABUF_SHARED, 0);
		}
	}
	t = g.err ? -1 : feed(&m, nev, &live, verdict);
	free(m.buf);
	return t;
}

static int bench_device_curve(void)
{
	static const unsigned int ndevs[] = { 1, 10, 100, 1000, 10000, 100000 };
	const unsigned long long target = 2000000;
	double ns[sizeof(ndevs) / sizeof(ndevs[0])], lo = 0, hi = 0;
	unsigned int i, k;

	printf("\n5. the same work an event, among 1 to 100,000 devices bound at once (engine, in memory)\n");
	for (i = 0; i < sizeof(ndevs) / sizeof(ndevs[0]); i++) {
		unsigned long long nev = 0;
		double best = -1;
		int v = TSM_PASS;

		for (k = 0; k < 3; k++) {
			double t = devices_cycle(ndevs[i], target, &nev, &v);

			if (t < 0 || v != TSM_PASS) {
				fprintf(stderr, "tsmbench: %u devices: %s\n", ndevs[i],
					t < 0 ? "out of memory" : tsm_verdict_name(v));
				return 1;
			}
			if (best < 0 || t < best)
				best = t;
		}
		ns[i] = best / nev * 1e9;
		if (!i || ns[i] < lo)
			lo = ns[i];
		if (!i || ns[i] > hi)
			hi = ns[i];
		printf("   %6u devices: %5.1f ns an event (%llu events)\n", ndevs[i], ns[i], nev);
	}
	printf("   slowest / fastest %.2f (goal: flat, within 2x)\n", hi / lo);
	return 0;
}

static void bench_scale(void)
{
	const __u64 big = 256ULL << 18;	/* 256 GiB in 4 KiB pages */
	unsigned long long n1, n2;
	double best1 = 1e9, best2 = 1e9;
	int i;

	for (i = 0; i < 5; i++) {
		double t1 = scale_cycle(1, 200000, &n1);
		double t2 = scale_cycle(big, 200000, &n2);

		if (t1 < best1)
			best1 = t1;
		if (t2 < best2)
			best2 = t2;
	}
	printf("\n3. scale: the same %llu events on one 4 KiB page and on a 256 GiB BAR\n", n1);
	printf("   4 KiB page:  %.1f ns/event\n", best1 / n1 * 1e9);
	printf("   256 GiB BAR: %.1f ns/event (%llu PFNs per range)\n", best2 / n2 * 1e9,
	       (unsigned long long)big);
	printf("   ratio %.2f (goal: within 2x)\n", best2 / best1);
}

/* ---- the parts of live's reader ---- */

static unsigned char *parts_recs;
static size_t parts_len, parts_cap, parts_nr;

static int parts_collect(void *ctx, const struct tsm_rec_hdr *rec)
{
	(void)ctx;
	if (parts_len + rec->size > parts_cap) {
		size_t cap = parts_cap ? 2 * parts_cap : 1 << 20;
		unsigned char *p;

		while (cap < parts_len + rec->size)
			cap *= 2;
		p = realloc(parts_recs, cap);
		if (!p)
			return -ENOMEM;
		parts_recs = p;
		parts_cap = cap;
	}
	memcpy(parts_recs + parts_len, rec, rec->size);
	parts_len += rec->size;
	parts_nr++;
	return 0;
}

static int parts_nothing(void *ctx, const struct tsm_rec_hdr *rec)
{
	(void)ctx;
	(void)rec;
	return 0;
}

#define EACH_REC(r) \
	for (size_t o_ = 0; o_ < parts_len && ((r) = (const void *)(parts_recs + o_)); \
	     o_ += (r)->size)

enum part { P_ORDER, P_FILE_NONE, P_FILE_ZSTD1, P_FILE_ZSTD3, P_ENGINE, P_LINE, P_LINE_WRITE,
	    P_NR };
static const char *const part_names[P_NR] = {
	"order", "file-none", "file-zstd1", "file-zstd3", "engine", "line", "line-write",
};

/* a file part's close: when it began, how long it took; the file's size */
static double parts_close_t0, parts_close;
static long long parts_file_size;

/* one pass of @part over the records: seconds, or < 0 (a file's close not counted) */
static double part_pass(enum part part, const char *dir, FILE *null)
{
	static char out[1 << 20];
	size_t out_len = 0;
	const struct tsm_rec_hdr *r;
	char err[256], path[4096], line[512];
	struct tsm_meta m = { 0 };
	struct tsm_writer *w = NULL;
	struct tsm_reorder *ro = NULL;
	struct tsm_engine *e = NULL;
	struct tsm_engine_opts eo = { .state_known = true };
	struct stat st;
	double t0;

	snprintf(path, sizeof(path), "%s/parts.tsm", dir);
	if (part >= P_FILE_NONE && part <= P_FILE_ZSTD3) {
		if (part != P_FILE_NONE) {
			m.compress.alg = TSM_COMPRESS_ZSTD;
			m.compress.level = part == P_FILE_ZSTD1 ? 1 : 3;
		}
		w = tsm_writer_open(path, &m, err, sizeof(err));
		if (!w) {
			fprintf(stderr, "tsmbench: %s\n", err);
			return -1;
		}
	}
	if (part == P_ORDER)
		ro = tsm_reorder_new(65536, 1, parts_nothing, NULL);
	if (part == P_ENGINE)
		e = tsm_engine_new(&eo);
	t0 = now();
	switch (part) {
	case P_ORDER:
		EACH_REC(r)
			tsm_reorder_add(ro, r);
		tsm_reorder_flush(ro);
		break;
	case P_FILE_NONE:
	case P_FILE_ZSTD1:
	case P_FILE_ZSTD3:
		EACH_REC(r)
			tsm_writer_add(w, r);
		/* what closing costs (the last block, the sync): after the recording */
		parts_close_t0 = now();
		tsm_writer_close(w, err, sizeof(err));
		parts_close = now() - parts_close_t0;
		parts_file_size = stat(path, &st) ? -1 : st.st_size;
		return parts_close_t0 - t0;
	case P_ENGINE:
		EACH_REC(r)
			tsm_engine_feed(e, r, r->size);
		break;
	case P_LINE:
		EACH_REC(r) {
			size_t n = fmt_record(line, sizeof(line) - 1, r);

			line[n] = '\n';
		}
		break;
	case P_LINE_WRITE:
		/* as live: built in place in a 1 MiB buffer, written when full */
		EACH_REC(r) {
			size_t n;

			if (sizeof(out) - out_len < sizeof(line)) {
				fwrite(out, 1, out_len, null);
				out_len = 0;
			}
			n = fmt_record(out + out_len, sizeof(line) - 1, r);
			out[out_len + n] = '\n';
			out_len += n + 1;
		}
		fwrite(out, 1, out_len, null);
		fflush(null);
		break;
	default:
		break;
	}
	t0 = now() - t0;
	tsm_reorder_free(ro);
	tsm_engine_free(e);
	unlink(path);
	return t0;
}

static int bench_reader_parts(const char *file, const char *dir, const char *only)
{
	struct tsm_ops ops = { .unknown = parts_collect };
	struct tsm_file f;
	FILE *null;
	unsigned int i, k;

	for (i = 0; i < TSM_REC_MAX; i++)
		ops.handler[i] = parts_collect;
	if (tsm_file_open(&f, file) != TSM_READ_OK) {
		fprintf(stderr, "tsmbench: %s: %s\n", file, f.msg);
		return 1;
	}
	if (tsm_file_replay(&f, &ops, NULL) != TSM_READ_OK || !parts_nr) {
		fprintf(stderr, "tsmbench: %s: %s\n", file, f.msg[0] ? f.msg : "no records");
		tsm_file_close(&f);
		return 1;
	}
	tsm_file_close(&f);
	null = fopen("/dev/null", "w");
	if (!null || setvbuf(null, NULL, _IOFBF, 1 << 20)) {
		perror("tsmbench: /dev/null");
		return 1;
	}
	/* best of three passes each, after one that warms the caches up */
	for (i = 0; i < P_NR; i++) {
		double best = -1, close_best = -1;

		if (only && strcmp(only, part_names[i]))
			continue;
		for (k = 0; k < 4; k++) {
			double t = part_pass(i, dir, null);

			if (t < 0)
				return 1;
			if (k && (best < 0 || t < best))
				best = t;
			if (k && (close_best < 0 || parts_close < close_best))
				close_best = parts_close;
		}
		printf("bench: reader-part-%s %.0f ns an event (%zu records of %s, %.1f bytes each)\n",
		       part_names[i], best / parts_nr * 1e9, parts_nr, file,
		       (double)parts_len / parts_nr);
		if (i >= P_FILE_NONE && i <= P_FILE_ZSTD3)
			printf("bench: reader-part-%s-at-close %.0f ns an event (after the recording; the file %.2f bytes an event)\n",
			       part_names[i], close_best / parts_nr * 1e9,
			       (double)parts_file_size / parts_nr);
	}
	fclose(null);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tool", required_argument, NULL, 't' },
		{ "dir", required_argument, NULL, 'd' },
		{ "events", required_argument, NULL, 'n' },
		{ "reader-parts", required_argument, NULL, 'r' },
		{ "part", required_argument, NULL, 'p' },
		{ 0 }
	};
	const char *tool = NULL, *dir = NULL, *parts = NULL, *only = NULL;
	long long n = 10000000;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': tool = optarg; break;
		case 'd': dir = optarg; break;
		case 'n': n = atoll(optarg); break;
		case 'r': parts = optarg; break;
		case 'p': only = optarg; break;
		default:
			fprintf(stderr, "usage: tsmbench --tool PATH --dir DIR [--events N]\n"
					"       tsmbench --reader-parts FILE --dir DIR [--part NAME]\n");
			return 2;
		}
	}
	if (parts && dir) {
		for (c = 0; only && c < P_NR && strcmp(only, part_names[c]); c++)
			;
		if (c == P_NR) {
			fprintf(stderr, "tsmbench: no part %s\n", only);
			return 2;
		}
		mkdir(dir, 0755);
		return bench_reader_parts(parts, dir, only);
	}
	if (!tool || !dir) {
		fprintf(stderr, "usage: tsmbench --tool PATH --dir DIR [--events N]\n");
		return 2;
	}
	mkdir(dir, 0755);
	pin_cpu0();
	printf("tsmtrace benchmark (figures, not a test); CPU: one core (CPU 0)\n");
	if (bench_check(tool, dir, n))
		return 1;
	bench_engine(n / 4);
	bench_scale();
	if (bench_devices(tool, dir, 80000) || bench_device_curve())
		return 1;
	printf("\nnext, in the lab VM and against trace-cmd: tools/tsmtrace/bench-live.sh\n");
	return 0;
}
