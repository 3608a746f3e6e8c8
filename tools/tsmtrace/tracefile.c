// SPDX-License-Identifier: GPL-2.0
/*
 * Trace files: a header, checksummed blocks of records, an end marker
 * (docs/trace-format.md). The writer is what 'record' calls with the
 * records it copies out of the ring buffer; the reader replays a file
 * through a struct tsm_ops, the same table the live side uses.
 *
 * Blocks of records are compressed with zstd when the writer is asked to
 * (record's default): one frame per block of up to WBUF_SIZE bytes of
 * records, so the reader still holds one block at a time. Before they are
 * compressed, each record's time and sequence number are made differences
 * to the previous record's (RECORDS_ZSTD_DELTA), as they are added.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>
#include "tracedat.h"
#include "tracefile.h"
#include "util.h"

#define WBUF_SIZE	(256u << 10)
/* records a block holds at most: the time deltas that follow them */
#define WBUF_RECS	(WBUF_SIZE / sizeof(struct tsm_rec_hdr))

struct tsm_writer {
	int fd;
	char *path;		/* the name the file gets when it is complete */
	char *tmp;		/* where it is written until then; NULL: at path */
	unsigned char *buf;
	size_t len;
	__u32 nr_in_block;
	__u64 nr_records;
	__u64 nr_lost;
	__u64 nr_blocks;
	__u64 last_ts;
	__u64 start_ts;
	int err;
	struct tsm_compress comp;
	ZSTD_CCtx *zc;		/* with comp.alg ZSTD */
	unsigned char *zbuf;	/* a compressed block's payload */
	size_t zcap;
	__s32 *dts;		/* ZSTD: the block's time deltas, a record each */
	__u64 prev_ts;		/* ZSTD: the block's last record's time, as recorded */
	__u64 prev_seq;		/* ... and sequence number */
	int (*symbolize)(__u64 ip, __u64 *start, char *name, size_t len);
	struct hash named;	/* frames (ip) and symbols (start) already named */
	unsigned char *sbuf;	/* the SYMBOLS block being built */
	size_t slen, scap;
};

int tsm_zstd_level_max(void)
{
	return ZSTD_maxCLevel();
}

int tsm_compress_parse(const char *s, struct tsm_compress *c)
{
	unsigned long long v;
	char *end;

	if (!strcmp(s, "none")) {
		c->alg = TSM_COMPRESS_NONE;
		c->level = 0;
		return 0;
	}
	if (strncmp(s, "zstd", 4) || (s[4] && s[4] != ':'))
		return -EINVAL;
	c->alg = TSM_COMPRESS_ZSTD;
	c->level = TSM_ZSTD_LEVEL_DEFAULT;
	if (!s[4])
		return 0;
	s += 5;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < TSM_ZSTD_LEVEL_MIN || v > (unsigned long long)ZSTD_maxCLevel())
		return -EINVAL;
	c->level = v;
	return 0;
}

static __u64 clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int write_block(struct tsm_writer *w, __u32 type, const void *payload,
		       __u32 len, __u32 nr)
{
	struct tsm_block_header bh = {
		.magic = TSM_BLOCK_MAGIC,
		.type = type,
		.payload_size = len,
		.nr_records = nr,
		.index = (__u32)w->nr_blocks,
	};
	struct iovec iov[2] = {
		{ &bh, sizeof(bh) },
		{ (void *)payload, len },
	};

	bh.crc = crc32c(0, payload, len);
	bh.header_crc = crc32c(0, &bh, sizeof(bh));
	w->nr_blocks++;
	return write_all(w->fd, iov, 2);
}

/* NUL-terminated, cut to fit */
static void set_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/*
 * A trace is written under a temporary name in the directory of @path and
 * renamed to @path once complete: a recorder that dies leaves no half file
 * under the name a user or a script waits for. A @path that exists and is
 * not a regular file (a FIFO, /dev/null) is written in place.
 */
static int create_file(struct tsm_writer *w, const char *path)
{
	const char *base = strrchr(path, '/');
	struct stat st;
	mode_t um;
	int n;

	if (!stat(path, &st) && !S_ISREG(st.st_mode))
		return open(path, O_WRONLY | O_CLOEXEC);
	base = base ? base + 1 : path;
	n = (int)(base - path);
	if (asprintf(&w->tmp, "%.*s.%s.XXXXXX", n, path, base) < 0) {
		w->tmp = NULL;
		errno = ENOMEM;
		return -1;
	}
	w->fd = mkostemp(w->tmp, O_CLOEXEC);
	if (w->fd < 0)
		return -1;
	um = umask(0);
	umask(um);
	fchmod(w->fd, 0644 & ~um);
	return w->fd;
}

static void writer_free(struct tsm_writer *w)
{
	if (w->symbolize)
		hash_fini(&w->named);
	free(w->sbuf);
	free(w->dts);
	ZSTD_freeCCtx(w->zc);
	free(w->zbuf);
	free(w->buf);
	free(w->path);
	free(w->tmp);
	free(w);
}

struct tsm_writer *tsm_writer_open(const char *path, const struct tsm_meta *m,
				   char *err, size_t errlen)
{
	struct tsm_file_header h = { 0 };
	struct tsm_writer *w;
	struct utsname u;
	struct iovec iov;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(path))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto err_free;
	}
	if (m) {
		w->comp = m->compress;
		w->symbolize = m->symbolize;
	}
	if (w->symbolize && hash_init(&w->named, 256)) {
		w->symbolize = NULL;
		snprintf(err, errlen, "%s: out of memory", path);
		goto err_free;
	}
	if (w->comp.alg == TSM_COMPRESS_ZSTD) {
		if (w->comp.level < TSM_ZSTD_LEVEL_MIN || w->comp.level > ZSTD_maxCLevel()) {
			snprintf(err, errlen, "%s: zstd level %d: this libzstd compresses at levels %d to %d",
				 path, w->comp.level, TSM_ZSTD_LEVEL_MIN, ZSTD_maxCLevel());
			goto err_free;
		}
		w->zcap = sizeof(struct tsm_zstd_block) +
			  ZSTD_compressBound(WBUF_SIZE + WBUF_RECS * sizeof(__s32)) + 8;
		w->zbuf = malloc(w->zcap);
		w->zc = ZSTD_createCCtx();
		/* the deltas go after the records to be compressed with them */
		w->dts = malloc(WBUF_RECS * sizeof(__s32));
		w->buf = malloc(WBUF_SIZE + WBUF_RECS * sizeof(__s32));
		if (!w->zbuf || !w->zc || !w->dts || !w->buf ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, w->comp.level))) {
			snprintf(err, errlen, "%s: out of memory for the zstd compressor", path);
			goto err_free;
		}
	} else if (w->comp.alg != TSM_COMPRESS_NONE) {
		snprintf(err, errlen, "%s: unknown compression %d", path, w->comp.alg);
		goto err_free;
	} else if (!(w->buf = malloc(WBUF_SIZE))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto err_free;
	}
	w->fd = create_file(w, path);
	if (w->fd < 0) {
		snprintf(err, errlen, "%s: cannot create: %s (check the directory exists and is writable)",
			 path, strerror(errno));
		goto err_free;
	}
	uname(&u);
	h.magic = TSM_FILE_MAGIC;
	h.header_size = sizeof(h);
	h.version_major = TSM_FILE_VERSION_MAJOR;
	/* without compressed or symbols blocks the file is a 1.1 file: older readers read it */
	h.version_minor = w->comp.alg == TSM_COMPRESS_NONE && !w->symbolize ?
			  TSM_FILE_VERSION_MINOR_PLAIN : TSM_FILE_VERSION_MINOR;
	h.schema_major = TSM_SCHEMA_MAJOR;
	h.schema_minor = TSM_SCHEMA_MINOR;
	h.flags = m ? m->flags : 0;
	h.events_observed = m && m->events_observed ? m->events_observed : TSM_EV_ALL;
	h.start_realtime_ns = m && m->start_realtime_ns ? m->start_realtime_ns :
			      clock_ns(CLOCK_REALTIME);
	h.start_monotonic_ns = m && m->start_monotonic_ns ? m->start_monotonic_ns :
			       clock_ns(CLOCK_MONOTONIC);
	set_str(h.kernel_release, sizeof(h.kernel_release),
		m && m->kernel_release ? m->kernel_release : u.release);
	snprintf(h.tool_version, sizeof(h.tool_version), "tsmtrace %s", TSMTRACE_VERSION);
	set_str(h.hostname, sizeof(h.hostname),
		m && m->hostname ? m->hostname : u.nodename);
	if (m && m->build_id && m->build_id_size <= sizeof(h.build_id)) {
		memcpy(h.build_id, m->build_id, m->build_id_size);
		h.build_id_size = m->build_id_size;
	}
	h.header_crc = crc32c(0, &h, sizeof(h));
	w->start_ts = h.start_monotonic_ns;
	iov.iov_base = &h;
	iov.iov_len = sizeof(h);
	ret = write_all(w->fd, &iov, 1);
	if (ret) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-ret));
		close(w->fd);
		if (w->tmp)
			unlink(w->tmp);
		goto err_free;
	}
	return w;

err_free:
	if (w)
		writer_free(w);
	return NULL;
}

/*
 * A record just copied into the block, made relative to the one before it
 * (the deltas of RECORDS_ZSTD_DELTA, trace-file.h): a storm's records then
 * differ from earlier ones in a few bytes zstd can match.
 */
static void delta_encode(struct tsm_writer *w, struct tsm_rec_hdr *r)
{
	__s64 d = (__s64)(r->ts - w->prev_ts);
	__u64 seq = r->seq;

	w->prev_ts = r->ts;
	if (d > INT32_MIN && d <= INT32_MAX) {
		w->dts[w->nr_in_block] = d;
		r->ts = 0;
	} else {
		w->dts[w->nr_in_block] = TSM_DELTA_TS_ABS;
	}
	r->seq = seq - w->prev_seq;
	w->prev_seq = seq;
}

/*
 * The records of @buf (@len bytes) back from the deltas of @dts (@nr), in
 * place: the number of records restored. It stops at a record whose size
 * does not fit (the caller's walk refuses it there), and fails, -EINVAL,
 * at a record with no delta left or with both a time and a delta.
 */
static ssize_t delta_decode(unsigned char *buf, size_t len, const __s32 *dts, size_t nr)
{
	__u64 ts = 0, seq = 0;
	size_t pos = 0, i = 0;

	while (len - pos >= sizeof(struct tsm_rec_hdr)) {
		struct tsm_rec_hdr *r = (void *)(buf + pos);

		if (r->size < sizeof(*r) || r->size & 7 || r->size > len - pos)
			break;
		if (i == nr || (dts[i] != TSM_DELTA_TS_ABS && r->ts))
			return -EINVAL;
		ts = r->ts = dts[i] == TSM_DELTA_TS_ABS ? r->ts : ts + (__s64)dts[i];
		seq = r->seq += seq;
		pos += r->size;
		i++;
	}
	return i;
}

/*
 * The records in w->buf, their deltas after them, as a RECORDS_ZSTD_DELTA
 * payload in w->zbuf: its length, 0 when compressing does not make the
 * block smaller (its records are then restored and written as they are), or
 * -ENOMEM. The output buffer holds the worst case, so ZSTD_compress2()
 * fails only when it cannot allocate its tables.
 */
static ssize_t compress_block(struct tsm_writer *w)
{
	struct tsm_zstd_block zh = { .raw_size = w->len };
	size_t n, len, dlen = w->nr_in_block * sizeof(__s32);

	memcpy(w->buf + w->len, w->dts, dlen);
	n = ZSTD_compress2(w->zc, w->zbuf + sizeof(zh), w->zcap - sizeof(zh) - 8,
			   w->buf, w->len + dlen);
	if (ZSTD_isError(n))
		return -ENOMEM;
	len = sizeof(zh) + ((n + 7) & ~(size_t)7);
	if (len >= w->len) {
		delta_decode(w->buf, w->len, w->dts, w->nr_in_block);
		return 0;
	}
	zh.frame_size = n;
	memcpy(w->zbuf, &zh, sizeof(zh));
	memset(w->zbuf + sizeof(zh) + n, 0, len - sizeof(zh) - n);
	return len;
}

/* a name for the symbol that holds @ip into the SYMBOLS block, once */
static int name_frame(struct tsm_writer *w, __u64 ip)
{
	struct hkey k = { { ip, 1, 0 } };
	char name[TSM_SYM_NAME_MAX + 1];
	struct tsm_sym e = { 0 };
	size_t len, need;
	__u64 start;

	if (hash_find(&w->named, &k))
		return 0;
	if (hash_add(&w->named, &k, (void *)1))
		return -ENOMEM;
	if (w->symbolize(ip, &start, name, sizeof(name)))
		return 0;	/* no symbol holds it: a reader prints the address */
	k.k[0] = start;
	k.k[1] = 2;
	if (hash_find(&w->named, &k))
		return 0;
	if (hash_add(&w->named, &k, (void *)1))
		return -ENOMEM;
	len = strnlen(name, TSM_SYM_NAME_MAX);
	if (!len)
		return 0;
	need = sizeof(e) + ((len + 7) & ~(size_t)7);
	if (w->slen + need > w->scap) {
		size_t cap = w->scap ? w->scap * 2 : 4096;
		unsigned char *n;

		while (cap < w->slen + need)
			cap *= 2;
		n = realloc(w->sbuf, cap);
		if (!n)
			return -ENOMEM;
		w->sbuf = n;
		w->scap = cap;
	}
	e.addr = start;
	e.name_len = len;
	memcpy(w->sbuf + w->slen, &e, sizeof(e));
	memcpy(w->sbuf + w->slen + sizeof(e), name, len);
	memset(w->sbuf + w->slen + sizeof(e) + len, 0, need - sizeof(e) - len);
	w->slen += need;
	return 0;
}

/*
 * The names of a stack record's frames, into the SYMBOLS block that goes
 * before the block of records holding it: a reader on another machine, or
 * after the kernel changed, still names them.
 */
static int name_stack(struct tsm_writer *w, const struct tsm_rec_hdr *rec)
{
	const struct tsm_rec_stack *st = (const void *)rec;
	__u32 i;
	int ret = 0;

	if (rec->size < sizeof(*st))
		return 0;
	for (i = 0; i < st->nr && i < TSM_STACK_MAX && !ret &&
		    sizeof(*st) + (i + 1) * sizeof(__u64) <= rec->size; i++)
		ret = name_frame(w, st->ip[i]);
	return ret;
}

int tsm_writer_flush(struct tsm_writer *w)
{
	ssize_t zlen = 0;
	int ret;

	if (w->err)
		return w->err;
	if (!w->len)
		return 0;
	if (w->slen) {
		ret = write_block(w, TSM_BLOCK_SYMBOLS, w->sbuf, w->slen, 0);
		w->slen = 0;
		if (ret) {
			w->err = ret;
			return ret;
		}
	}
	if (w->comp.alg == TSM_COMPRESS_ZSTD)
		zlen = compress_block(w);
	if (zlen < 0)
		ret = zlen;
	else if (zlen)
		ret = write_block(w, TSM_BLOCK_RECORDS_ZSTD_DELTA, w->zbuf, zlen, w->nr_in_block);
	else
		ret = write_block(w, TSM_BLOCK_RECORDS, w->buf, w->len, w->nr_in_block);
	w->len = 0;
	w->nr_in_block = 0;
	w->prev_ts = 0;
	w->prev_seq = 0;
	if (ret)
		w->err = ret;
	return ret;
}

int tsm_writer_add(struct tsm_writer *w, const struct tsm_rec_hdr *rec)
{
	if (w->err)
		return w->err;
	if (rec->size < sizeof(*rec) || rec->size & 7)
		return -EINVAL;
	if (w->len + rec->size > WBUF_SIZE && tsm_writer_flush(w))
		return w->err;
	if (w->symbolize && rec->type == TSM_REC_STACK && name_stack(w, rec))
		return w->err = -ENOMEM;
	memcpy(w->buf + w->len, rec, rec->size);
	if (w->zc)
		delta_encode(w, (struct tsm_rec_hdr *)(w->buf + w->len));
	if (rec->ts > w->last_ts)
		w->last_ts = rec->ts;
	w->len += rec->size;
	w->nr_in_block++;
	w->nr_records++;
	return 0;
}

int tsm_writer_lost(struct tsm_writer *w, __u64 nr, __u32 source, __u64 next_seq,
		    __u64 ts)
{
	struct tsm_rec_lost l = {
		.hdr = {
			.type = TSM_REC_LOST,
			.size = sizeof(l),
			.ts = ts,
			.seq = next_seq,
		},
		.nr = nr,
		.source = source,
	};

	w->nr_lost += nr;
	return tsm_writer_add(w, &l.hdr);
}

int tsm_writer_close(struct tsm_writer *w, char *err, size_t errlen)
{
	struct tsm_file_end end;
	int ret = tsm_writer_flush(w);

	if (!ret) {
		end.nr_records = w->nr_records;
		end.nr_lost = w->nr_lost;
		end.nr_blocks = w->nr_blocks;
		end.end_monotonic_ns = w->last_ts ? w->last_ts : w->start_ts;
		ret = write_block(w, TSM_BLOCK_END, &end, sizeof(end), 0);
	}
	if (!ret && fsync(w->fd) && errno != EINVAL && errno != EROFS)
		ret = -errno;
	if (close(w->fd) && !ret)
		ret = -errno;
	if (!ret && w->tmp && rename(w->tmp, w->path))
		ret = -errno;
	if (ret && w->tmp)
		snprintf(err, errlen, "%s: cannot write: %s (what was recorded is in %s; it reads as truncated)",
			 w->path, strerror(-ret), w->tmp);
	else if (ret)
		snprintf(err, errlen, "%s: cannot write: %s (the file is incomplete; it will read as truncated)",
			 w->path, strerror(-ret));
	writer_free(w);
	return ret;
}

void tsm_writer_abandon(struct tsm_writer *w, char *kept, size_t len)
{
	tsm_writer_flush(w);
	close(w->fd);
	if (kept && len)
		snprintf(kept, len, "%s", w->tmp ? w->tmp : w->path);
	else if (w->tmp)
		unlink(w->tmp);
	writer_free(w);
}

/* ---- reader ---- */

/* read up to @len bytes: fewer only at the end of the input; -errno */
static ssize_t read_full(struct tsm_file *f, void *p, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(f->fd, (char *)p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += n;
	}
	f->off += got;
	return got;
}

bool tsm_file_changed(const struct tsm_file *f, char *why, size_t len)
{
	struct stat st;

	if (f->stream || fstat(f->fd, &st))
		return false;
	if ((__u64)st.st_size < f->size0) {
		snprintf(why, len, "the file changed while it was read: it shrank from %" PRIu64 " to %" PRIu64 " bytes",
			 (uint64_t)f->size0, (uint64_t)st.st_size);
		return true;
	}
	if (st.st_mtim.tv_sec != f->mtime0.tv_sec || st.st_mtim.tv_nsec != f->mtime0.tv_nsec) {
		snprintf(why, len, "the file changed while it was read (it was written to after it was opened)");
		return true;
	}
	return false;
}

__attribute__((format(printf, 3, 4)))
static enum tsm_read_status bad(struct tsm_file *f, __u64 off, const char *fmt, ...)
{
	char why[160];
	va_list ap;
	int n;

	f->bad_offset = off;
	n = snprintf(f->msg, sizeof(f->msg), "%s: offset %" PRIu64 ": ", f->path, (uint64_t)off);
	if (tsm_file_changed(f, why, sizeof(why))) {
		snprintf(f->msg + n, sizeof(f->msg) - n, "%s; " TSM_FILE_CHANGED_REMEDY, why);
		return TSM_READ_UNUSABLE;
	}
	va_start(ap, fmt);
	vsnprintf(f->msg + n, sizeof(f->msg) - n, fmt, ap);
	va_end(ap);
	return TSM_READ_UNUSABLE;
}

static enum tsm_read_status read_error(struct tsm_file *f, ssize_t err)
{
	return bad(f, f->off, "cannot read: %s", strerror(-err));
}

#define DAMAGED "the file is damaged: re-record it, or restore it from where it was recorded"

static enum tsm_read_status open_fail(struct tsm_file *f, const char *fmt, const char *arg)
{
	snprintf(f->msg, sizeof(f->msg), fmt, f->path, arg);
	return TSM_READ_UNUSABLE;
}

enum tsm_read_status tsm_file_open(struct tsm_file *f, const char *path)
{
	bool in = !strcmp(path, "-");
	int fd = in ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		memset(f, 0, sizeof(*f));
		f->fd = -1;
		f->path = in ? "(standard input)" : path;
		return open_fail(f, "%s: cannot open: %s", strerror(errno));
	}
	return tsm_file_open_fd(f, fd, in ? "(standard input)" : path);
}

/* the header, from its first TSM_FILE_HEADER_SIZE_1_0 bytes in @h */
static enum tsm_read_status check_header(struct tsm_file *f, const struct tsm_file_header *h)
{
	unsigned char *all;
	size_t known;
	__u32 c, crc;
	ssize_t n;

	if (h->version_major != TSM_FILE_VERSION_MAJOR)
		return bad(f, offsetof(struct tsm_file_header, version_major),
			   "trace format version %u.%u; this tsmtrace reads version %u.x: use a tsmtrace that reads it",
			   h->version_major, h->version_minor, TSM_FILE_VERSION_MAJOR);
	if (h->header_size < TSM_FILE_HEADER_SIZE_1_0 || h->header_size & 7 ||
	    h->header_size > (1u << 20))
		return bad(f, offsetof(struct tsm_file_header, header_size),
			   "impossible header size %u; " DAMAGED, h->header_size);
	all = malloc(h->header_size);
	if (!all)
		return bad(f, 0, "out of memory");
	memcpy(all, h, TSM_FILE_HEADER_SIZE_1_0);
	n = read_full(f, all + TSM_FILE_HEADER_SIZE_1_0, h->header_size - TSM_FILE_HEADER_SIZE_1_0);
	if (n < 0) {
		free(all);
		return read_error(f, n);
	}
	if (f->off < h->header_size) {
		free(all);
		return bad(f, f->off, "truncated inside the file header (%" PRIu64 " of %u bytes): nothing to replay; re-record it",
			   (uint64_t)f->off, h->header_size);
	}
	h = (const void *)all;
	crc = h->header_crc;
	((struct tsm_file_header *)all)->header_crc = 0;
	c = crc32c(0, all, h->header_size);
	/* a 1.0 header ends before the fields of 1.1: copy what there is */
	known = h->header_size < sizeof(f->hdr) ? h->header_size : sizeof(f->hdr);
	memset(&f->hdr, 0, sizeof(f->hdr));
	memcpy(&f->hdr, all, known);
	free(all);
	f->hdr.header_crc = crc;
	if (c != crc)
		return bad(f, offsetof(struct tsm_file_header, header_crc),
			   "file header checksum mismatch (0x%08x, computed 0x%08x); " DAMAGED, crc, c);
	if (f->hdr.schema_major != TSM_SCHEMA_MAJOR)
		return bad(f, offsetof(struct tsm_file_header, schema_major),
			   "event schema %u.%u; this tsmtrace knows schema %u (docs/tracepoints.md): use a tsmtrace built for that schema",
			   f->hdr.schema_major, f->hdr.schema_minor, TSM_SCHEMA_MAJOR);
	/* 1.0 files say nothing of it: they were recorded with every event */
	if (known <= offsetof(struct tsm_file_header, events_observed))
		f->hdr.events_observed = TSM_EV_ALL;
	f->hdr.kernel_release[sizeof(f->hdr.kernel_release) - 1] = 0;
	f->hdr.tool_version[sizeof(f->hdr.tool_version) - 1] = 0;
	f->hdr.hostname[sizeof(f->hdr.hostname) - 1] = 0;
	return TSM_READ_OK;
}

enum tsm_read_status tsm_file_open_fd(struct tsm_file *f, int fd, const char *path)
{
	struct tsm_file_header h;
	unsigned char *p = (unsigned char *)&h;
	struct stat st;
	__u64 magic;
	ssize_t n;

	memset(f, 0, sizeof(*f));
	f->path = path;
	f->fd = fd;
	if (fstat(fd, &st))
		return open_fail(f, "%s: cannot open: %s", strerror(errno));
	if (S_ISDIR(st.st_mode))
		return open_fail(f, "%s: %s (give the path of a trace file written by 'tsmtrace record' or 'trace-cmd record')",
				 "is a directory");
	f->stream = !S_ISREG(st.st_mode);
	if (!f->stream) {
		f->size0 = st.st_size;
		f->mtime0 = st.st_mtim;
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	n = read_full(f, p, sizeof(magic));
	if (n < 0)
		return read_error(f, n);
	if ((size_t)n < sizeof(magic))
		return bad(f, 0, "not a tsmtrace trace file (only %zd bytes); give a file written by 'tsmtrace record' or a trace-cmd trace.dat",
			   n);
	if (tracedat_magic(p, n))
		return tracedat_open(f, p, n);
	memcpy(&magic, p, sizeof(magic));
	if (magic == TSM_FILE_MAGIC_SWAPPED)
		return bad(f, 0, "trace written in the other byte order (big-endian); this tsmtrace reads little-endian traces only: check it on a little-endian host");
	if (magic != TSM_FILE_MAGIC)
		return bad(f, 0, "not a tsmtrace trace file (magic 0x%016" PRIx64 ", expected 0x%016llx \"TSMTRACE\"), nor a trace-cmd trace.dat; give a file written by 'tsmtrace record' or 'trace-cmd record'",
			   (uint64_t)magic, TSM_FILE_MAGIC);
	n = read_full(f, p + sizeof(magic), TSM_FILE_HEADER_SIZE_1_0 - sizeof(magic));
	if (n < 0)
		return read_error(f, n);
	if (f->off < TSM_FILE_HEADER_SIZE_1_0)
		return bad(f, f->off, "truncated inside the file header (%" PRIu64 " of %u bytes): nothing to replay; re-record it",
			   (uint64_t)f->off, TSM_FILE_HEADER_SIZE_1_0);
	return check_header(f, &h);
}

static enum tsm_read_status truncated(struct tsm_file *f, __u64 off, const char *what)
{
	char why[160];

	f->bad_offset = off;
	if (tsm_file_changed(f, why, sizeof(why))) {
		snprintf(f->msg, sizeof(f->msg),
			 "%s: offset %" PRIu64 ": %s; replayed the %" PRIu64 " records before it; " TSM_FILE_CHANGED_REMEDY,
			 f->path, (uint64_t)off, why, (uint64_t)f->nr_records);
		return TSM_READ_TRUNCATED;
	}
	snprintf(f->msg, sizeof(f->msg),
		 "%s: offset %" PRIu64 ": %s; replayed the %" PRIu64 " records before it (the recorder probably stopped before closing the file)",
		 f->path, (uint64_t)off, what, (uint64_t)f->nr_records);
	return TSM_READ_TRUNCATED;
}

static int grow(struct tsm_file *f, size_t len)
{
	unsigned char *b;

	if (len <= f->cap)
		return 0;
	b = realloc(f->buf, len);
	if (!b)
		return -ENOMEM;
	f->buf = b;
	f->cap = len;
	return 0;
}

/* the END block's payload in f->buf: the counts must agree, nothing may follow */
static enum tsm_read_status check_end(struct tsm_file *f, const struct tsm_block_header *bh,
				      __u64 off)
{
	unsigned char extra;
	ssize_t n;

	if (bh->payload_size < sizeof(f->end))
		return bad(f, off, "end marker too short; " DAMAGED);
	memcpy(&f->end, f->buf, sizeof(f->end));
	if (f->end.nr_records != f->nr_records || f->end.nr_blocks != f->nr_blocks)
		return bad(f, off, "end marker counts %" PRIu64 " records in %" PRIu64 " blocks, the file holds %" PRIu64 " in %" PRIu64 "; " DAMAGED,
			   (uint64_t)f->end.nr_records, (uint64_t)f->end.nr_blocks,
			   (uint64_t)f->nr_records, (uint64_t)f->nr_blocks);
	n = read_full(f, &extra, 1);
	if (n < 0)
		return read_error(f, n);
	if (n)
		return bad(f, off + sizeof(*bh) + bh->payload_size, "data after the end marker; " DAMAGED);
	f->has_end = true;
	return TSM_READ_OK;
}

/* @zpos: the record's place among a compressed block's records, or SIZE_MAX */
static enum tsm_read_status malformed(struct tsm_file *f, __u64 off, size_t zpos,
				      const struct tsm_rec_hdr *rec, size_t avail)
{
	bool impossible;
	char where[80] = "";
	const char *why;

	why = tsm_rec_malformed(rec, avail, &impossible);
	if (zpos != SIZE_MAX)
		snprintf(where, sizeof(where), " at byte %zu of the records of the compressed block here",
			 zpos);
	if (impossible)
		return bad(f, off, "malformed input: %s record (seq %" PRIu64 ")%s: %s; no kernel emits such an event: the recorder or the program that wrote the file is broken",
			   tsm_rec_name(rec->type), (uint64_t)rec->seq, where, why);
	return bad(f, off, "malformed record (type %u, size %u)%s: %s; " DAMAGED,
		   avail >= 4 ? rec->type : 0, avail >= 4 ? rec->size : 0, where, why ? : "refused");
}

/*
 * Every record of @pl (@len bytes: a RECORDS payload, or the records of a
 * compressed block), through ops. A record is named by its offset in the
 * file, or in a compressed block by the block's offset and its place
 * among the block's records.
 */
static enum tsm_read_status replay_records(struct tsm_file *f, const struct tsm_block_header *bh,
					   __u64 off, const unsigned char *pl, size_t len,
					   const struct tsm_ops *ops, void *ctx)
{
	bool zstd = bh->type != TSM_BLOCK_RECORDS;
	size_t pos;
	__u32 nr = 0;

	for (pos = 0; pos < len; nr++) {
		const struct tsm_rec_hdr *rec = (const void *)(pl + pos);
		size_t avail = len - pos;
		__u64 roff = zstd ? off : off + sizeof(*bh) + pos;
		int ret;

		ret = tsm_dispatch(ops, ctx, rec, avail);
		if (ret == -EINVAL)
			return malformed(f, roff, zstd ? pos : SIZE_MAX, rec, avail);
		if (ret) {
			f->bad_offset = roff;
			snprintf(f->msg, sizeof(f->msg), "%s: offset %" PRIu64 ": %s",
				 f->path, (uint64_t)f->bad_offset, strerror(-ret));
			return TSM_READ_HANDLER;
		}
		pos += rec->size;
		f->nr_records++;
	}
	if (nr != bh->nr_records)
		return bad(f, off, "block %u holds %u records, its header says %u; " DAMAGED,
			   bh->index, nr, bh->nr_records);
	return TSM_READ_OK;
}

#define MALFORMED_ZSTD	"malformed compressed block %u: "

/*
 * Decompress the RECORDS_ZSTD or RECORDS_ZSTD_DELTA payload in f->buf into
 * f->raw: its records' length in @len, their times and sequence numbers
 * restored. Everything a hostile or broken writer could put there is
 * refused before it is used: sizes that do not fit the block or pass the
 * cap, anything but exactly one complete zstd frame, a frame that
 * decompresses to more or less than the block declares, deltas that do not
 * match the records. Decompression writes into a buffer of the declared
 * size, never more, so a frame that would inflate past it stops there:
 * memory and time stay bounded by TSM_BLOCK_MAX_PAYLOAD (and a delta for
 * each record it can hold) whatever the file holds.
 */
static enum tsm_read_status inflate_block(struct tsm_file *f, const struct tsm_block_header *bh,
					  __u64 off, size_t *len)
{
	const unsigned char *frame = f->buf + sizeof(struct tsm_zstd_block);
	bool delta = bh->type == TSM_BLOCK_RECORDS_ZSTD_DELTA;
	size_t n, padded, i, dlen = 0, want;
	struct tsm_zstd_block zh;
	unsigned long long fcs;
	ssize_t nr;

	if (bh->payload_size < sizeof(zh))
		return bad(f, off, MALFORMED_ZSTD "%u bytes, shorter than its %zu-byte header; " DAMAGED,
			   bh->index, bh->payload_size, sizeof(zh));
	memcpy(&zh, f->buf, sizeof(zh));
	if (!zh.raw_size || zh.raw_size > TSM_BLOCK_MAX_PAYLOAD || zh.raw_size & 7)
		return bad(f, off, MALFORMED_ZSTD "it declares %u bytes of records (a multiple of 8 from 8 to %u); " DAMAGED,
			   bh->index, zh.raw_size, TSM_BLOCK_MAX_PAYLOAD);
	if (delta) {
		if (bh->nr_records > zh.raw_size / sizeof(struct tsm_rec_hdr))
			return bad(f, off, MALFORMED_ZSTD "it declares %u records in %u bytes, less than a record header each; " DAMAGED,
				   bh->index, bh->nr_records, zh.raw_size);
		dlen = (size_t)bh->nr_records * sizeof(__s32);
	}
	want = zh.raw_size + dlen;
	padded = ((size_t)zh.frame_size + 7) & ~(size_t)7;
	if (!zh.frame_size || sizeof(zh) + padded != bh->payload_size)
		return bad(f, off, MALFORMED_ZSTD "it declares a zstd frame of %u bytes in a payload of %u (its %zu-byte header and the frame padded to 8 bytes fill it exactly); " DAMAGED,
			   bh->index, zh.frame_size, bh->payload_size, sizeof(zh));
	for (i = zh.frame_size; i < padded; i++)
		if (frame[i])
			return bad(f, off, MALFORMED_ZSTD "bytes that are not zero after its zstd frame; " DAMAGED,
				   bh->index);
	n = ZSTD_findFrameCompressedSize(frame, zh.frame_size);
	if (ZSTD_isError(n))
		return bad(f, off, MALFORMED_ZSTD "not a complete zstd frame (zstd: %s); " DAMAGED,
			   bh->index, ZSTD_getErrorName(n));
	if (n != zh.frame_size)
		return bad(f, off, MALFORMED_ZSTD "its zstd frame ends after %zu of its %u bytes; " DAMAGED,
			   bh->index, n, zh.frame_size);
	fcs = ZSTD_getFrameContentSize(frame, zh.frame_size);
	if (fcs == ZSTD_CONTENTSIZE_ERROR)
		return bad(f, off, MALFORMED_ZSTD "not a zstd frame; " DAMAGED, bh->index);
	if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != want)
		return bad(f, off, MALFORMED_ZSTD "its zstd frame holds %llu bytes, the block declares %zu; " DAMAGED,
			   bh->index, fcs, want);
	if (!f->zstd) {
		/* one-shot: it decompresses into f->raw, no window of its own */
		f->zstd = ZSTD_createDCtx();
		if (!f->zstd)
			return bad(f, off, "out of memory for the zstd decompressor");
	}
	if (want > f->raw_cap) {
		unsigned char *b = realloc(f->raw, want);

		if (!b)
			return bad(f, off, "out of memory for a block of %zu bytes of records", want);
		f->raw = b;
		f->raw_cap = want;
	}
	n = ZSTD_decompressDCtx(f->zstd, f->raw, want, frame, zh.frame_size);
	if (ZSTD_isError(n) && ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall)
		return bad(f, off, MALFORMED_ZSTD "its zstd frame decompresses to more than the %zu bytes it declares; " DAMAGED,
			   bh->index, want);
	if (ZSTD_isError(n))
		return bad(f, off, MALFORMED_ZSTD "its zstd frame does not decompress (zstd: %s); " DAMAGED,
			   bh->index, ZSTD_getErrorName(n));
	if (n != want)
		return bad(f, off, MALFORMED_ZSTD "its zstd frame decompresses to only %zu bytes, the block declares %zu; " DAMAGED,
			   bh->index, n, want);
	if (delta) {
		/* the deltas are 4-byte aligned: raw_size is a multiple of 8 */
		nr = delta_decode(f->raw, zh.raw_size, (const __s32 *)(f->raw + zh.raw_size),
				  bh->nr_records);
		if (nr < 0)
			return bad(f, off, MALFORMED_ZSTD "its time deltas do not match its records (more records than deltas, or a record with both a time and a delta); " DAMAGED,
				   bh->index);
	}
	f->nr_zstd_blocks++;
	*len = zh.raw_size;
	return TSM_READ_OK;
}

/* read and check the block header at @off: OK, TRUNCATED or UNUSABLE */
static enum tsm_read_status read_block_header(struct tsm_file *f, struct tsm_block_header *bh,
					      __u64 off)
{
	struct tsm_block_header copy;
	ssize_t n = read_full(f, bh, sizeof(*bh));
	__u32 c;

	if (n < 0)
		return read_error(f, n);
	if (n == 0)
		return truncated(f, off, "the file ends without its end marker");
	if ((size_t)n < sizeof(*bh))
		return truncated(f, off, "the file ends inside a block header");
	if (bh->magic != TSM_BLOCK_MAGIC)
		return bad(f, off, "no block starts here (0x%08x); " DAMAGED, bh->magic);
	copy = *bh;
	copy.header_crc = 0;
	c = crc32c(0, &copy, sizeof(copy));
	if (c != bh->header_crc)
		return bad(f, off, "block header checksum mismatch (0x%08x, computed 0x%08x); " DAMAGED,
			   bh->header_crc, c);
	if (bh->payload_size > TSM_BLOCK_MAX_PAYLOAD || bh->payload_size & 7)
		return bad(f, off, "impossible block size %u; " DAMAGED, bh->payload_size);
	if (bh->index != f->nr_blocks)
		return bad(f, off, "block %u where block %" PRIu64 " belongs; " DAMAGED,
			   bh->index, (uint64_t)f->nr_blocks);
	return TSM_READ_OK;
}

/* a symbol's name: what a kernel names a function with, nothing else */
static bool sym_name_ok(const char *n, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!(n[i] == '_' || n[i] == '.' || n[i] == '$' ||
		      (n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'z') ||
		      (n[i] >= 'A' && n[i] <= 'Z')))
			return false;
	return true;
}

/* the entries of a SYMBOLS block in f->buf, to f->on_symbol */
static enum tsm_read_status read_symbols(struct tsm_file *f, __u64 off, size_t len)
{
	char name[TSM_SYM_NAME_MAX + 1];
	size_t pos = 0;

	while (pos < len) {
		struct tsm_sym e;
		size_t need;

		if (len - pos < sizeof(e))
			return bad(f, off, "malformed symbols block (an entry cut at byte %zu); " DAMAGED,
				   pos);
		memcpy(&e, f->buf + pos, sizeof(e));
		need = sizeof(e) + (((size_t)e.name_len + 7) & ~(size_t)7);
		if (!e.name_len || e.name_len > TSM_SYM_NAME_MAX || need > len - pos)
			return bad(f, off, "malformed symbols block (a name of %u bytes at byte %zu); " DAMAGED,
				   e.name_len, pos);
		memcpy(name, f->buf + pos + sizeof(e), e.name_len);
		name[e.name_len] = 0;
		if (!sym_name_ok(name, e.name_len))
			return bad(f, off, "malformed symbols block (a name that is no symbol's at byte %zu); " DAMAGED,
				   pos);
		if (f->on_symbol)
			f->on_symbol(f->sym_arg, e.addr, name);
		f->nr_symbols++;
		pos += need;
	}
	return TSM_READ_OK;
}

enum tsm_read_status tsm_file_replay(struct tsm_file *f, const struct tsm_ops *ops, void *ctx)
{
	if (f->td)
		return tracedat_replay(f, ops, ctx);
	for (;;) {
		struct tsm_block_header bh;
		enum tsm_read_status st;
		__u64 off = f->off;
		ssize_t n;
		__u32 c;

		st = read_block_header(f, &bh, off);
		if (st != TSM_READ_OK)
			return st;
		if (grow(f, bh.payload_size))
			return bad(f, off, "out of memory for a block of %u bytes", bh.payload_size);
		n = read_full(f, f->buf, bh.payload_size);
		if (n < 0)
			return read_error(f, n);
		if ((size_t)n < bh.payload_size)
			return truncated(f, off, "the file ends inside a block");
		c = crc32c(0, f->buf, bh.payload_size);
		if (c != bh.crc)
			return bad(f, off, "block %u checksum mismatch (0x%08x, computed 0x%08x); " DAMAGED,
				   bh.index, bh.crc, c);
		if (bh.type == TSM_BLOCK_END)
			return check_end(f, &bh, off);
		f->nr_blocks++;
		if (bh.type == TSM_BLOCK_RECORDS) {
			st = replay_records(f, &bh, off, f->buf, bh.payload_size, ops, ctx);
		} else if (bh.type == TSM_BLOCK_RECORDS_ZSTD ||
			   bh.type == TSM_BLOCK_RECORDS_ZSTD_DELTA) {
			size_t len = 0;

			st = inflate_block(f, &bh, off, &len);
			if (st == TSM_READ_OK)
				st = replay_records(f, &bh, off, f->raw, len, ops, ctx);
		} else if (bh.type == TSM_BLOCK_SYMBOLS) {
			st = read_symbols(f, off, bh.payload_size);
		} else {
			/* a block type from a later minor version is skipped */
			continue;
		}
		if (st != TSM_READ_OK)
			return st;
	}
}

void tsm_file_close(struct tsm_file *f)
{
	tracedat_close(f);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->buf);
	f->buf = NULL;
	f->cap = 0;
	free(f->raw);
	f->raw = NULL;
	f->raw_cap = 0;
	ZSTD_freeDCtx(f->zstd);
	f->zstd = NULL;
}
