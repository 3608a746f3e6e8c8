/* SPDX-License-Identifier: GPL-2.0 */
/* Reading and writing trace files (docs/trace-format.md). */
#ifndef __TSMTRACE_TRACEFILE_H
#define __TSMTRACE_TRACEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <tsmtrace/events.h>
#include <tsmtrace/trace-file.h>
#include <tsmtrace/engine.h>

#define TSMTRACE_VERSION	"0.1"

/* ---- writer: the library side of 'record' ---- */

enum tsm_compress_alg {
	TSM_COMPRESS_NONE = 0,	/* RECORDS blocks: a 1.1 file */
	TSM_COMPRESS_ZSTD,	/* RECORDS_ZSTD_DELTA blocks: a 1.4 file */
};

struct tsm_compress {
	enum tsm_compress_alg alg;
	int level;		/* zstd: TSM_ZSTD_LEVEL_MIN..tsm_zstd_level_max() */
};

#define TSM_ZSTD_LEVEL_MIN	1
#define TSM_ZSTD_LEVEL_DEFAULT	1
/* what record and live write unless told otherwise */
#define TSM_COMPRESS_DEFAULT	((struct tsm_compress){ TSM_COMPRESS_ZSTD, TSM_ZSTD_LEVEL_DEFAULT })

/* the highest zstd level this libzstd has */
int tsm_zstd_level_max(void);
/* "none", "zstd" (level 1) or "zstd:LEVEL" into @c; 0 or -EINVAL */
int tsm_compress_parse(const char *s, struct tsm_compress *c);

struct tsm_meta {
	const char *kernel_release;	/* NULL: uname -r of this host */
	const char *hostname;		/* NULL: this host */
	__u32 flags;			/* TSM_FILE_F_* */
	__u64 start_realtime_ns;	/* 0: now */
	__u64 start_monotonic_ns;	/* 0: now */
	__u32 events_observed;		/* TSM_EV_* mask; 0: every event */
	struct tsm_compress compress;	/* zeroed: none */
	const __u8 *build_id;		/* the traced kernel's, build_id_size bytes */
	__u32 build_id_size;		/* 0: not known */
	/*
	 * The recorder's names for stack frames: the symbol that holds @ip,
	 * its start in *@start and its name in @name; 0, or -1 if none. NULL:
	 * the file names no symbols.
	 */
	int (*symbolize)(__u64 ip, __u64 *start, char *name, size_t len);
};

struct tsm_writer;

/* errors: NULL, with a message naming the file in err */
struct tsm_writer *tsm_writer_open(const char *path, const struct tsm_meta *m,
				   char *err, size_t errlen);
/* copy one record into the file; -errno */
int tsm_writer_add(struct tsm_writer *w, const struct tsm_rec_hdr *rec);
/*
 * nr kernel events were lost before the event with sequence next_seq: a
 * TSM_REC_LOST record at time ts, counted in the end marker
 */
int tsm_writer_lost(struct tsm_writer *w, __u64 nr, __u32 source, __u64 next_seq,
		    __u64 ts);
int tsm_writer_flush(struct tsm_writer *w);
/* flush, write the end marker, close; frees w even on error; -errno */
int tsm_writer_close(struct tsm_writer *w, char *err, size_t errlen);
/*
 * Close without an end marker (a recorder that failed). The records so far
 * stay in the temporary file, never under the name given to open: its name
 * is copied to @kept, or the file is removed when @kept is NULL.
 */
void tsm_writer_abandon(struct tsm_writer *w, char *kept, size_t len);

/* ---- reader ---- */

enum tsm_read_status {
	TSM_READ_OK = 0,	/* complete, end marker checked */
	TSM_READ_TRUNCATED,	/* valid prefix replayed, no end marker */
	TSM_READ_UNUSABLE,	/* foreign, corrupt, unsupported: refused */
	TSM_READ_HANDLER,	/* a handler failed (out of memory) */
};

/*
 * A trace being read. The reader reads (never maps) block by block, in
 * order, so a file that shrinks or is rewritten under it cannot crash it,
 * and pipes, FIFOs and standard input ("-") read like files.
 */
struct tsm_file {
	const char *path;	/* as named in messages */
	int fd;
	bool stream;		/* not a regular file: read once, in order */
	__u64 size0;		/* a regular file's size when opened */
	struct timespec mtime0;	/* ... and its modification time */
	__u64 off;		/* bytes read so far */
	unsigned char *buf;	/* the payload of the block being replayed */
	size_t cap;
	unsigned char *raw;	/* the records of a compressed block */
	size_t raw_cap;
	void *zstd;		/* its decompression context (ZSTD_DCtx) */
	__u64 nr_zstd_blocks;	/* compressed blocks read */
	struct tsm_file_header hdr;
	struct tsm_file_end end;
	bool has_end;
	__u64 nr_records;
	__u64 nr_blocks;
	__u64 bad_offset;	/* where the problem is */
	char msg[512];		/* why it is truncated or unusable, and what to do */
	/* called for each symbol of a SYMBOLS block, before the records after it */
	void (*on_symbol)(void *arg, __u64 addr, const char *name);
	void *sym_arg;
	__u64 nr_symbols;	/* read so far */
	/* a trace-cmd trace.dat read in its place (tracedat.c), or NULL */
	struct tracedat *td;
	char warn[512];		/* what to say of a file replayed whole, or "" */
};

/* is @f a trace-cmd trace.dat? Its header is made up from what it holds */
static inline bool tsm_file_tracedat(const struct tsm_file *f)
{
	return f->td;
}

/*
 * open @path ("-": standard input) and validate the header; a trace-cmd
 * trace.dat (its magic) is read by tracedat.c in its place
 */
enum tsm_read_status tsm_file_open(struct tsm_file *f, const char *path);
/* the same on an open descriptor, which the file then owns */
enum tsm_read_status tsm_file_open_fd(struct tsm_file *f, int fd, const char *path);
/*
 * Has a regular file changed since it was opened? Then say so in @why: a
 * reader that meets the end too early or bytes that do not fit, in a file
 * whose writer is still at work, should not call it damaged.
 */
bool tsm_file_changed(const struct tsm_file *f, char *why, size_t len);
#define TSM_FILE_CHANGED_REMEDY	"check it again once its writer is done with it"
/* replay every record through ops; returns a tsm_read_status */
enum tsm_read_status tsm_file_replay(struct tsm_file *f, const struct tsm_ops *ops, void *ctx);
void tsm_file_close(struct tsm_file *f);

#endif
