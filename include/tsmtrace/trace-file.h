/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tsmtrace trace file (docs/trace-format.md).
 *
 *   struct tsm_file_header      header_size bytes (grows; readers skip the rest)
 *   block*                      struct tsm_block_header + payload of records,
 *                               as they are or compressed with zstd (1.2)
 *   end block                   a block of type TSM_BLOCK_END, payload
 *                               struct tsm_file_end
 *
 * All integers in the writer's byte order; the magic reveals it. Every
 * checksum is CRC32C (Castagnoli), initial value ~0, final xor ~0.
 */
#ifndef __TSMTRACE_TRACE_FILE_H
#define __TSMTRACE_TRACE_FILE_H

#include <linux/types.h>

/* "TSMTRACE" read as a little-endian u64 */
#define TSM_FILE_MAGIC		0x45434152544d5354ULL
#define TSM_FILE_MAGIC_SWAPPED	0x54534d5452414345ULL
#define TSM_FILE_VERSION_MAJOR	1
/*
 * 1.2 adds TSM_BLOCK_RECORDS_ZSTD, 1.3 the kernel's build ID in the header
 * and TSM_BLOCK_SYMBOLS, 1.4 TSM_BLOCK_RECORDS_ZSTD_DELTA. A writer that compresses nothing and names no
 * symbols writes TSM_FILE_VERSION_MINOR_PLAIN: its file is a 1.1 file,
 * which tsmtrace versions that read 1.1 read whole.
 */
#define TSM_FILE_VERSION_MINOR	4
#define TSM_FILE_VERSION_MINOR_PLAIN	1
/* the header of a version 1.0 file ends at header_crc + __reserved */
#define TSM_FILE_HEADER_SIZE_1_0	272

#define TSM_FILE_F_STATE_KNOWN	(1u << 0)  /* no device bound, no DMABUF open when tracing began */
#define TSM_FILE_F_SYNTHETIC	(1u << 1)  /* written by a generator, not recorded */

/**
 * struct tsm_file_header - at offset 0
 * @magic: TSM_FILE_MAGIC in the writer's byte order
 * @header_size: bytes from offset 0 to the first block; >= the size of the
 *	version-1.0 header; fields added later go at the end
 * @version_major: a reader refuses a major it does not know
 * @version_minor: fields added within a major
 * @schema_major: event schema (docs/tracepoints.md) the records follow
 * @schema_minor: events added within the schema major
 * @flags: TSM_FILE_F_*
 * @start_realtime_ns: CLOCK_REALTIME when recording began
 * @start_monotonic_ns: CLOCK_MONOTONIC at the same moment (records' clock)
 * @kernel_release: uname -r of the traced kernel, NUL terminated
 * @tool_version: version of the writer, NUL terminated
 * @hostname: NUL terminated
 * @header_crc: CRC32C of the first header_size bytes with this field 0
 * @events_observed: (1.1) bit n set: the recorder was attached to the
 *	kernel event of record type n (enum tsm_rec_type, 1..14). A file
 *	whose header ends before this field (1.0) observed every event.
 * @build_id: (1.3) the GNU build ID of the traced kernel (its
 *	/sys/kernel/notes), @build_id_size bytes of it; 0: not known
 */
struct tsm_file_header {
	__u64 magic;
	__u32 header_size;
	__u16 version_major;
	__u16 version_minor;
	__u16 schema_major;
	__u16 schema_minor;
	__u32 flags;
	__u64 start_realtime_ns;
	__u64 start_monotonic_ns;
	char kernel_release[128];
	char tool_version[32];
	char hostname[64];
	__u32 header_crc;
	__u32 __reserved;
	/* 1.1 */
	__u32 events_observed;
	__u32 __reserved2;
	/* 1.3 */
	__u8 build_id[24];
	__u32 build_id_size;
	__u32 __reserved3;
};

#define TSM_BLOCK_MAGIC		0x4b4c4254u	/* "TBLK" */
#define TSM_BLOCK_RECORDS	1
#define TSM_BLOCK_END		2
#define TSM_BLOCK_RECORDS_ZSTD	3	/* 1.2: struct tsm_zstd_block + a zstd frame */
#define TSM_BLOCK_SYMBOLS	4	/* 1.3: struct tsm_sym entries */
/* 1.4: as RECORDS_ZSTD, of records whose times and sequence numbers are deltas */
#define TSM_BLOCK_RECORDS_ZSTD_DELTA	5
/* a block's payload, and a compressed block's records once decompressed */
#define TSM_BLOCK_MAX_PAYLOAD	(1u << 24)

/**
 * struct tsm_block_header - starts every block, 8-byte aligned
 * @magic: TSM_BLOCK_MAGIC
 * @type: TSM_BLOCK_*
 * @payload_size: bytes of payload following this header (multiple of 8)
 * @nr_records: records in the payload (RECORDS blocks)
 * @index: block number, from 0
 * @crc: CRC32C of the payload
 * @header_crc: CRC32C of this header with @header_crc = 0; a damaged size
 *	is told apart from a file cut short by it
 * @__reserved: 0
 */
struct tsm_block_header {
	__u32 magic;
	__u32 type;
	__u32 payload_size;
	__u32 nr_records;
	__u32 index;
	__u32 crc;
	__u32 header_crc;
	__u32 __reserved;
};

/**
 * struct tsm_zstd_block - starts the payload of a TSM_BLOCK_RECORDS_ZSTD block
 * @raw_size: bytes of records the frame decompresses to: a multiple of 8,
 *	from 8 to TSM_BLOCK_MAX_PAYLOAD; what a RECORDS block of the same
 *	records would hold as its payload
 * @frame_size: bytes of the one zstd frame that follows; zero bytes pad it
 *	to a multiple of 8, so that payload_size is
 *	sizeof(struct tsm_zstd_block) + frame_size rounded up to 8
 *
 * The block header's @nr_records counts the records, its @crc covers the
 * payload as stored (compressed).
 */
struct tsm_zstd_block {
	__u32 raw_size;
	__u32 frame_size;
};

/*
 * A TSM_BLOCK_RECORDS_ZSTD_DELTA block is laid out as a RECORDS_ZSTD block,
 * but its frame decompresses to raw_size bytes of records followed by
 * nr_records __s32 time deltas, one a record, in order. In the records,
 * from the block's first with 0 before it: hdr.seq holds the difference to
 * the previous record's (modulo 2^64); hdr.ts holds 0 and the record's
 * delta the difference to the previous record's time, or, where the
 * difference does not fit or the delta is TSM_DELTA_TS_ABS, hdr.ts holds
 * the time itself. Records of a storm then differ in a few bytes, which
 * zstd matches, rather than in the low bytes of two counters.
 */
#define TSM_DELTA_TS_ABS	((__s32)0x80000000)

/**
 * struct tsm_sym - an entry of a TSM_BLOCK_SYMBOLS block: a kernel symbol
 * that a stack frame of a later record falls in, named by the recorder
 * @addr: where the symbol starts
 * @name_len: bytes of its name (1..TSM_SYM_NAME_MAX), without a NUL
 * @__reserved: 0
 *
 * The name follows, padded with NULs to a multiple of 8; the next entry
 * after it.
 */
struct tsm_sym {
	__u64 addr;
	__u32 name_len;
	__u32 __reserved;
};

#define TSM_SYM_NAME_MAX	255

/* payload of the TSM_BLOCK_END block */
struct tsm_file_end {
	__u64 nr_records;	/* records in all RECORDS blocks */
	__u64 nr_lost;		/* kernel events lost while recording */
	__u64 nr_blocks;	/* RECORDS blocks before this one */
	__u64 end_monotonic_ns;
};

#endif /* __TSMTRACE_TRACE_FILE_H */
