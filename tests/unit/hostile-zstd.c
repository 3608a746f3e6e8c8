// SPDX-License-Identifier: GPL-2.0
/*
 * Trace files with a hostile compressed block (hostile-zstd.h). They are
 * written here, byte by byte, not by tsm_writer_*(): the header, one
 * RECORDS_ZSTD block (RECORDS_ZSTD_DELTA for the kinds named "delta-...",
 * its deltas computed here from the layout of docs/trace-format.md)
 * holding the records of the correct flow, the END
 * block, every checksum and count right, so that the reader meets the
 * damage inside the block and nowhere else. The control ("ok") is the
 * same file without damage: it must PASS, which also checks that the
 * layout of docs/trace-format.md is enough to write a file tsmtrace reads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <tsmtrace/trace-file.h>
#include <util.h>
#include "hostile-zstd.h"
#include "scenario.h"

static const struct {
	const char *name;
	const char *expect;
} kinds[] = {
	{ "ok", NULL },
	{ "short-payload", "shorter than its 8-byte header" },
	{ "raw-over-cap", "declares 4294967288 bytes of records" },
	{ "raw-not-multiple-of-8", "declares 1004 bytes of records" },
	{ "frame-past-payload", "declares a zstd frame of" },
	{ "nonzero-padding", "not zero after its zstd frame" },
	{ "bad-frame", "not a complete zstd frame" },
	{ "truncated-frame", "not a complete zstd frame" },
	{ "trailing-garbage", "its zstd frame ends after" },
	{ "two-frames", "its zstd frame ends after" },
	{ "skippable-frame", "its zstd frame holds 0 bytes, the block declares" },
	{ "larger-than-declared", "its zstd frame holds 2536 bytes, the block declares 2528" },
	{ "larger-unsized", "decompresses to more than the" },
	{ "smaller-unsized", "decompresses to only" },
	{ "bomb", "decompresses to more than the 16777216 bytes it declares" },
	{ "corrupt-data", "does not decompress" },
	{ "malformed-record", "of the records of the compressed block here" },
	{ "count-mismatch", "records, its header says" },
	{ "delta-ok", NULL },
	{ "delta-time-and-delta", "its time deltas do not match its records" },
	{ "delta-more-records-than-deltas", "its time deltas do not match its records" },
	{ "delta-records-past-size", "declares 80 records in 2536 bytes" },
	{ "delta-malformed-record", "of the records of the compressed block here" },
};

const char *const hostile_zstd_kinds[] = {
	"ok", "short-payload", "raw-over-cap", "raw-not-multiple-of-8", "frame-past-payload",
	"nonzero-padding", "bad-frame", "truncated-frame", "trailing-garbage", "two-frames",
	"skippable-frame", "larger-than-declared", "larger-unsized", "smaller-unsized", "bomb",
	"corrupt-data", "malformed-record", "count-mismatch", "delta-ok", "delta-time-and-delta",
	"delta-more-records-than-deltas", "delta-records-past-size", "delta-malformed-record", NULL,
};

const char *hostile_zstd_expect(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, kind))
			return kinds[i].expect;
	return NULL;
}

static bool known(const char *kind)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, kind))
			return true;
	return false;
}

struct mem {
	unsigned char *buf;
	size_t len, cap;
	__u32 nr;
	__u64 last_ts;
};

static int emit_mem(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct mem *m = ctx;

	if (m->len + rec->size > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 4096;
		unsigned char *b = realloc(m->buf, cap);

		if (!b)
			return -ENOMEM;
		m->buf = b;
		m->cap = cap;
	}
	memcpy(m->buf + m->len, rec, rec->size);
	m->len += rec->size;
	m->nr++;
	m->last_ts = rec->ts;
	return 0;
}

/* a zstd frame of @src at @level, with or without its content size; 0 on error */
static size_t frame_of(void *dst, size_t cap, const void *src, size_t len, int level, bool sized)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t n;

	if (!c)
		return 0;
	n = ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(n))
		n = ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, sized);
	if (!ZSTD_isError(n))
		n = ZSTD_compress2(c, dst, cap, src, len);
	ZSTD_freeCCtx(c);
	return ZSTD_isError(n) ? 0 : n;
}

/*
 * Damage inside a well-formed frame: its first block's literals are said to
 * reuse the Huffman table of a block before it ("treeless"), and there is
 * none. Every block boundary stays where it was, so the frame still looks
 * complete; only decompressing it finds the damage. 0, or -1 when the
 * first block is not a compressed one.
 */
static int corrupt_literals(unsigned char *frame, size_t fsz)
{
	static const unsigned char did[4] = { 0, 1, 2, 4 }, fcs[4] = { 0, 2, 4, 8 };
	unsigned char fhd = frame[4];	/* RFC 8878, 3.1.1.1: after the magic */
	bool single = fhd & 0x20;
	size_t hs;

	/* magic, descriptor, window descriptor, dictionary id, content size */
	hs = 4 + 1 + !single + did[fhd & 3] + (fhd >> 6 ? fcs[fhd >> 6] : single);
	/* the block header: bit 0 last block, bits 1-2 its type (2: compressed) */
	if (hs + 4 > fsz || ((frame[hs] >> 1) & 3) != 2)
		return -1;
	frame[hs + 3] |= 3;	/* Literals_Block_Type: Treeless_Literals_Block */
	return 0;
}

/*
 * The records of @m as the frame's content of a RECORDS_ZSTD_DELTA block:
 * times and sequence numbers made differences to the previous record's, the
 * time deltas after the records (@nr_deltas of them: fewer than the
 * records to damage the block). NULL when out of memory.
 */
static unsigned char *delta_content(const struct mem *m, __u32 nr_deltas, size_t *len)
{
	unsigned char *c = malloc(m->len + (size_t)m->nr * sizeof(__s32));
	__s32 *dt = (__s32 *)(c + m->len);
	__u64 ts = 0, seq = 0;
	size_t pos = 0;
	__u32 i;

	if (!c)
		return NULL;
	memcpy(c, m->buf, m->len);
	for (i = 0; i < m->nr; i++) {
		struct tsm_rec_hdr *r = (void *)(c + pos);
		__s64 d = (__s64)(r->ts - ts);
		__u64 s = r->seq;

		ts = r->ts;
		if (d > INT32_MIN && d <= INT32_MAX) {
			dt[i] = d;
			r->ts = 0;
		} else {
			dt[i] = TSM_DELTA_TS_ABS;
		}
		r->seq = s - seq;
		seq = s;
		pos += r->size;
	}
	*len = m->len + (size_t)nr_deltas * sizeof(__s32);
	return c;
}

static int put(FILE *out, const void *p, size_t len)
{
	return fwrite(p, 1, len, out) == len ? 0 : -1;
}

static int put_block(FILE *out, __u32 type, __u32 index, __u32 nr, const void *payload,
		     __u32 len)
{
	struct tsm_block_header bh = {
		.magic = TSM_BLOCK_MAGIC,
		.type = type,
		.payload_size = len,
		.nr_records = nr,
		.index = index,
		.crc = crc32c(0, payload, len),
	};

	bh.header_crc = crc32c(0, &bh, sizeof(bh));
	return put(out, &bh, sizeof(bh)) || put(out, payload, len);
}

int write_hostile_zstd(const char *path, const char *kind, char *err, size_t errlen)
{
	const size_t bomb = 64u << 20;
	struct tsm_file_header h = { 0 };
	struct tsm_zstd_block zh;
	struct tsm_file_end end = { 0 };
	struct mem m = { 0 };
	unsigned char *pl = NULL, *frame, *src = NULL;
	bool delta = !strncmp(kind, "delta-", 6);
	struct tsm_rec_hdr *second;
	size_t cap, fsz = 0, plen, slen;
	__u32 nr;
	struct flow f;
	struct gen g;
	FILE *out = NULL;
	int ret = -1;

	if (!known(kind)) {
		snprintf(err, errlen, "no hostile-zstd kind '%s'", kind);
		return -1;
	}
	gen_init(&g, emit_mem, &m);
	flow_default(&f, 0);
	flow_run(&g, &f);
	if (g.err) {
		snprintf(err, errlen, "%s: %s", path, strerror(-g.err));
		goto out;
	}
	nr = m.nr;
	cap = sizeof(zh) + ZSTD_compressBound(bomb) + 64;
	pl = calloc(1, cap);
	if (!pl)
		goto nomem;
	frame = pl + sizeof(zh);
	zh.raw_size = m.len;
	if (!strcmp(kind, "delta-more-records-than-deltas"))
		nr--;
	else if (!strcmp(kind, "delta-records-past-size"))
		nr = m.len / sizeof(struct tsm_rec_hdr) + 1;
	if (delta) {
		src = delta_content(&m, nr < m.nr ? nr : m.nr, &slen);
		if (!src)
			goto nomem;
	}
	/* the second record: a size no record has, or a time beside its delta */
	second = (struct tsm_rec_hdr *)((delta ? src : m.buf) + ((struct tsm_rec_hdr *)m.buf)->size);
	if (!strcmp(kind, "malformed-record") || !strcmp(kind, "delta-malformed-record"))
		second->size = 12;
	else if (!strcmp(kind, "delta-time-and-delta"))
		second->ts = 1;
	if (!strcmp(kind, "bomb")) {
		src = calloc(1, bomb);
		if (!src)
			goto nomem;
		fsz = frame_of(frame, cap - sizeof(zh), src, bomb, 3, false);
		zh.raw_size = TSM_BLOCK_MAX_PAYLOAD;
	} else if (!strcmp(kind, "skippable-frame")) {
		static const __u32 skip[2] = { 0x184D2A50, 0 };	/* magic, no content */

		memcpy(frame, skip, sizeof(skip));
		fsz = sizeof(skip);
	} else {
		bool sized = strcmp(kind, "larger-unsized") && strcmp(kind, "smaller-unsized");
		int level = 3;

		/* padding to damage needs a frame whose length is not a multiple of 8 */
		do
			fsz = frame_of(frame, cap - sizeof(zh) - 64, delta ? src : m.buf,
				       delta ? slen : m.len, level++, sized);
		while (fsz && fsz % 8 == 0 && !strcmp(kind, "nonzero-padding") && level < 20);
	}
	if (!fsz) {
		snprintf(err, errlen, "%s: zstd could not compress the records", path);
		goto out;
	}
	if (!strcmp(kind, "raw-over-cap"))
		zh.raw_size = 0xfffffff8u;
	else if (!strcmp(kind, "raw-not-multiple-of-8"))
		zh.raw_size = 1004;
	else if (!strcmp(kind, "larger-than-declared") || !strcmp(kind, "larger-unsized"))
		zh.raw_size = m.len - 8;
	else if (!strcmp(kind, "smaller-unsized"))
		zh.raw_size = m.len + 8;
	else if (!strcmp(kind, "count-mismatch"))
		nr++;
	else if (!strcmp(kind, "bad-frame"))
		memset(frame, 0x5a, 8);
	else if (!strcmp(kind, "truncated-frame"))
		fsz -= 5, memset(frame + fsz, 0, 5);
	else if (!strcmp(kind, "trailing-garbage"))
		memset(frame + fsz, 0xa5, 8), fsz += 8;
	else if (!strcmp(kind, "two-frames"))
		memcpy(frame + fsz, frame, fsz), fsz *= 2;
	else if (!strcmp(kind, "corrupt-data") && corrupt_literals(frame, fsz)) {
		snprintf(err, errlen, "%s: the frame's first block is not a compressed block", path);
		goto out;
	}
	zh.frame_size = fsz;
	plen = sizeof(zh) + ((fsz + 7) & ~(size_t)7);
	if (!strcmp(kind, "frame-past-payload"))
		zh.frame_size += 16;
	else if (!strcmp(kind, "nonzero-padding"))
		pl[plen - 1] = 0x01;
	else if (!strcmp(kind, "short-payload"))
		plen = 0;
	memcpy(pl, &zh, sizeof(zh));

	out = fopen(path, "wb");
	if (!out) {
		snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
		goto out;
	}
	h.magic = TSM_FILE_MAGIC;
	h.header_size = sizeof(h);
	h.version_major = TSM_FILE_VERSION_MAJOR;
	h.version_minor = TSM_FILE_VERSION_MINOR;
	h.schema_major = TSM_SCHEMA_MAJOR;
	h.schema_minor = TSM_SCHEMA_MINOR;
	h.flags = TSM_FILE_F_STATE_KNOWN | TSM_FILE_F_SYNTHETIC;
	h.start_realtime_ns = 1767225600000000000ULL;
	h.start_monotonic_ns = 1000000000ULL;
	snprintf(h.kernel_release, sizeof(h.kernel_release), "hostile-zstd-%s", kind);
	snprintf(h.tool_version, sizeof(h.tool_version), "tsmgen");
	snprintf(h.hostname, sizeof(h.hostname), "tsmgen");
	h.events_observed = TSM_EV_ALL;
	h.header_crc = crc32c(0, &h, sizeof(h));
	end.nr_records = m.nr;
	end.nr_blocks = 1;
	end.end_monotonic_ns = m.last_ts;
	if (put(out, &h, sizeof(h)) ||
	    put_block(out, delta ? TSM_BLOCK_RECORDS_ZSTD_DELTA : TSM_BLOCK_RECORDS_ZSTD, 0, nr,
		      pl, plen) ||
	    put_block(out, TSM_BLOCK_END, 1, 0, &end, sizeof(end))) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
	goto out;
nomem:
	snprintf(err, errlen, "%s: out of memory", path);
out:
	if (out && fclose(out) && !ret) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
		ret = -1;
	}
	free(src);
	free(pl);
	free(m.buf);
	return ret;
}
