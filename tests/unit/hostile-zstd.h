/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Trace files with one compressed block that is well-formed on the outside
 * (every checksum and count right) and broken or hostile inside, written
 * without the tool's writer: what a reader must refuse, and one it must
 * read ("ok", the control).
 */
#ifndef __TSM_HOSTILE_ZSTD_H
#define __TSM_HOSTILE_ZSTD_H

#include <stddef.h>

/* the kinds, NULL-terminated; the first is "ok" */
extern const char *const hostile_zstd_kinds[];
/* what the reader's message must say about @kind (NULL: it must read it) */
const char *hostile_zstd_expect(const char *kind);
/* write the trace of @kind to @path: 0, or -1 with a message in @err */
int write_hostile_zstd(const char *path, const char *kind, char *err, size_t errlen);

#endif
