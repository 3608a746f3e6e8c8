// SPDX-License-Identifier: GPL-2.0
/*
 * Trace files: a header, checksummed blocks of records, an end marker
 * (docs/trace-format.md). The writer is what 'record' calls with the
 * records it copies out of the ring buffer; the reader replays a file
 * through a struct tsm_ops, the same table the live side uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "tracefile.h"
#include "util.h"

#define WBUF_SIZE	(256u << 10)

struct tsm_writer {
	int fd;
	char *path;
	unsigned char *buf;
	size_t len;
	__u32 nr_in_block;
	__u64 nr_records;
	__u64 nr_lost;
	__u64 nr_blocks;
	__u64 last_ts;
	__u64 start_ts;
	int err;
};

static __u64 clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int write_all(int fd, const struct iovec *iov, int n)
{
	struct iovec v[4];
	int i;

	memcpy(v, iov, n * sizeof(*v));
	i = 0;
	while (i < n) {
		ssize_t r = writev(fd, &v[i], n - i);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (i < n && (size_t)r >= v[i].iov_len) {
			r -= v[i].iov_len;
			i++;
		}
		if (i < n) {
			v[i].iov_base = (char *)v[i].iov_base + r;
			v[i].iov_len -= r;
		}
	}
	return 0;
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

struct tsm_writer *tsm_writer_open(const char *path, const struct tsm_meta *m,
				   char *err, size_t errlen)
{
	struct tsm_file_header h = { 0 };
	struct tsm_writer *w;
	struct utsname u;
	struct iovec iov;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w || !(w->buf = malloc(WBUF_SIZE)) || !(w->path = strdup(path))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto err_free;
	}
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		snprintf(err, errlen, "%s: cannot create: %s (check the directory exists and is writable)",
			 path, strerror(errno));
		goto err_free;
	}
	uname(&u);
	h.magic = TSM_FILE_MAGIC;
	h.header_size = sizeof(h);
	h.version_major = TSM_FILE_VERSION_MAJOR;
	h.version_minor = TSM_FILE_VERSION_MINOR;
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
	h.header_crc = crc32c(0, &h, sizeof(h));
	w->start_ts = h.start_monotonic_ns;
	iov.iov_base = &h;
	iov.iov_len = sizeof(h);
	ret = write_all(w->fd, &iov, 1);
	if (ret) {
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-ret));
		close(w->fd);
		goto err_free;
	}
	return w;

err_free:
	if (w) {
		free(w->buf);
		free(w->path);
		free(w);
	}
	return NULL;
}

int tsm_writer_flush(struct tsm_writer *w)
{
	int ret;

	if (w->err)
		return w->err;
	if (!w->len)
		return 0;
	ret = write_block(w, TSM_BLOCK_RECORDS, w->buf, w->len, w->nr_in_block);
	w->len = 0;
	w->nr_in_block = 0;
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
	memcpy(w->buf + w->len, rec, rec->size);
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

static void writer_free(struct tsm_writer *w)
{
	free(w->buf);
	free(w->path);
	free(w);
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
	if (ret)
		snprintf(err, errlen, "%s: cannot write: %s (the file is incomplete; it will read as truncated)",
			 w->path, strerror(-ret));
	writer_free(w);
	return ret;
}

void tsm_writer_abandon(struct tsm_writer *w)
{
	tsm_writer_flush(w);
	close(w->fd);
	writer_free(w);
}

/* ---- reader ---- */

__attribute__((format(printf, 3, 4)))
static enum tsm_read_status bad(struct tsm_file *f, __u64 off, const char *fmt, ...)
{
	va_list ap;
	int n;

	f->bad_offset = off;
	n = snprintf(f->msg, sizeof(f->msg), "%s: offset %" PRIu64 ": ", f->path, (uint64_t)off);
	va_start(ap, fmt);
	vsnprintf(f->msg + n, sizeof(f->msg) - n, fmt, ap);
	va_end(ap);
	return TSM_READ_UNUSABLE;
}

#define DAMAGED "the file is damaged: re-record it, or restore it from where it was recorded"

enum tsm_read_status tsm_file_open(struct tsm_file *f, const char *path)
{
	const struct tsm_file_header *h;
	struct tsm_file_header copy;
	size_t known;
	struct stat st;
	__u64 magic;
	void *p;
	int fd;

	memset(f, 0, sizeof(*f));
	f->path = path;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(f->msg, sizeof(f->msg), "%s: cannot open: %s", path, strerror(errno));
		return TSM_READ_UNUSABLE;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(f->msg, sizeof(f->msg), "%s: not a regular file (give the path of a trace file written by 'tsmtrace record')",
			 path);
		return TSM_READ_UNUSABLE;
	}
	f->size = st.st_size;
	if (f->size) {
		p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			close(fd);
			snprintf(f->msg, sizeof(f->msg), "%s: cannot map: %s", path, strerror(errno));
			return TSM_READ_UNUSABLE;
		}
		madvise(p, f->size, MADV_SEQUENTIAL);
		f->data = p;
	}
	close(fd);

	if (f->size < sizeof(magic))
		return bad(f, 0, "not a tsmtrace trace file (only %zu bytes); give a file written by 'tsmtrace record'",
			   f->size);
	memcpy(&magic, f->data, sizeof(magic));
	if (magic == TSM_FILE_MAGIC_SWAPPED)
		return bad(f, 0, "trace written in the other byte order (big-endian); this tsmtrace reads little-endian traces only: check it on a little-endian host");
	if (magic != TSM_FILE_MAGIC)
		return bad(f, 0, "not a tsmtrace trace file (magic 0x%016" PRIx64 ", expected 0x%016llx \"TSMTRACE\"); give a file written by 'tsmtrace record'",
			   (uint64_t)magic, TSM_FILE_MAGIC);
	if (f->size < TSM_FILE_HEADER_SIZE_1_0)
		return bad(f, f->size, "truncated inside the file header (%zu of %zu bytes): nothing to replay; re-record it",
			   f->size, (size_t)TSM_FILE_HEADER_SIZE_1_0);
	h = (const void *)f->data;
	if (h->version_major != TSM_FILE_VERSION_MAJOR)
		return bad(f, offsetof(struct tsm_file_header, version_major),
			   "trace format version %u.%u; this tsmtrace reads version %u.x: use a tsmtrace that reads it",
			   h->version_major, h->version_minor, TSM_FILE_VERSION_MAJOR);
	if (h->header_size < TSM_FILE_HEADER_SIZE_1_0 || h->header_size & 7 ||
	    h->header_size > (1u << 20))
		return bad(f, offsetof(struct tsm_file_header, header_size),
			   "impossible header size %u; " DAMAGED, h->header_size);
	if (h->header_size > f->size)
		return bad(f, f->size, "truncated inside the file header (%zu of %u bytes): nothing to replay; re-record it",
			   f->size, h->header_size);
	/* a 1.0 header ends before the fields of 1.1: copy what there is */
	known = h->header_size < sizeof(copy) ? h->header_size : sizeof(copy);
	memset(&copy, 0, sizeof(copy));
	memcpy(&copy, h, known);
	copy.header_crc = 0;
	{
		__u32 c = crc32c(0, &copy, known);

		c = crc32c(c, f->data + known, h->header_size - known);
		if (c != h->header_crc)
			return bad(f, offsetof(struct tsm_file_header, header_crc),
				   "file header checksum mismatch (0x%08x, computed 0x%08x); " DAMAGED,
				   h->header_crc, c);
	}
	if (h->schema_major != TSM_SCHEMA_MAJOR)
		return bad(f, offsetof(struct tsm_file_header, schema_major),
			   "event schema %u.%u; this tsmtrace knows schema %u (docs/tracepoints.md): use a tsmtrace built for that schema",
			   h->schema_major, h->schema_minor, TSM_SCHEMA_MAJOR);
	copy.header_crc = h->header_crc;
	f->hdr = copy;
	/* 1.0 files say nothing of it: they were recorded with every event */
	if (known <= offsetof(struct tsm_file_header, events_observed))
		f->hdr.events_observed = TSM_EV_ALL;
	f->hdr.kernel_release[sizeof(f->hdr.kernel_release) - 1] = 0;
	f->hdr.tool_version[sizeof(f->hdr.tool_version) - 1] = 0;
	f->hdr.hostname[sizeof(f->hdr.hostname) - 1] = 0;
	return TSM_READ_OK;
}

static enum tsm_read_status truncated(struct tsm_file *f, __u64 off, const char *what)
{
	f->bad_offset = off;
	snprintf(f->msg, sizeof(f->msg),
		 "%s: offset %" PRIu64 ": %s; replayed the %" PRIu64 " records before it (the recorder probably stopped before closing the file)",
		 f->path, (uint64_t)off, what, (uint64_t)f->nr_records);
	return TSM_READ_TRUNCATED;
}

/*
 * Pages already replayed are not needed again: drop them from this
 * mapping, so the reader's memory follows the engine's live state and not
 * the size of the file (the page cache keeps them).
 */
static void drop_behind(struct tsm_file *f, __u64 off)
{
	const __u64 step = 16ULL << 20;
	__u64 end = off & ~(step - 1);

	if (end > f->dropped) {
		madvise((void *)(f->data + f->dropped), end - f->dropped, MADV_DONTNEED);
		f->dropped = end;
	}
}

enum tsm_read_status tsm_file_replay(struct tsm_file *f, const struct tsm_ops *ops, void *ctx)
{
	__u64 off = f->hdr.header_size;

	for (;;) {
		const struct tsm_block_header *bh;
		struct tsm_block_header copy;
		const unsigned char *pl;
		__u32 c, nr = 0;
		size_t pos;

		if (off == f->size)
			return truncated(f, off, "the file ends without its end marker");
		if (f->size - off < sizeof(*bh))
			return truncated(f, off, "the file ends inside a block header");
		bh = (const void *)(f->data + off);
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
		if (f->size - off - sizeof(*bh) < bh->payload_size)
			return truncated(f, off, "the file ends inside a block");
		pl = (const unsigned char *)(bh + 1);
		c = crc32c(0, pl, bh->payload_size);
		if (c != bh->crc)
			return bad(f, off, "block %u checksum mismatch (0x%08x, computed 0x%08x); " DAMAGED,
				   bh->index, bh->crc, c);
		if (bh->type == TSM_BLOCK_END) {
			if (bh->payload_size < sizeof(f->end))
				return bad(f, off, "end marker too short; " DAMAGED);
			memcpy(&f->end, pl, sizeof(f->end));
			if (f->end.nr_records != f->nr_records || f->end.nr_blocks != f->nr_blocks)
				return bad(f, off, "end marker counts %" PRIu64 " records in %" PRIu64 " blocks, the file holds %" PRIu64 " in %" PRIu64 "; " DAMAGED,
					   (uint64_t)f->end.nr_records, (uint64_t)f->end.nr_blocks,
					   (uint64_t)f->nr_records, (uint64_t)f->nr_blocks);
			if (off + sizeof(*bh) + bh->payload_size != f->size)
				return bad(f, off + sizeof(*bh) + bh->payload_size,
					   "data after the end marker; " DAMAGED);
			f->has_end = true;
			return TSM_READ_OK;
		}
		f->nr_blocks++;
		if (bh->type != TSM_BLOCK_RECORDS) {
			/* a block type from a later minor version: skip it */
			off += sizeof(*bh) + bh->payload_size;
			continue;
		}
		for (pos = 0; pos < bh->payload_size; nr++) {
			const struct tsm_rec_hdr *rec = (const void *)(pl + pos);
			size_t avail = bh->payload_size - pos;
			int ret;

			ret = tsm_dispatch(ops, ctx, rec, avail);
			if (ret == -EINVAL)
				return bad(f, off + sizeof(*bh) + pos,
					   "malformed record (type %u, size %u); " DAMAGED,
					   avail >= 4 ? rec->type : 0, avail >= 4 ? rec->size : 0);
			if (ret) {
				f->bad_offset = off + sizeof(*bh) + pos;
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
		off += sizeof(*bh) + bh->payload_size;
		drop_behind(f, off);
	}
}

void tsm_file_close(struct tsm_file *f)
{
	if (f->data)
		munmap((void *)f->data, f->size);
	f->data = NULL;
}
