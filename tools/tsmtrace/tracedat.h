/* SPDX-License-Identifier: GPL-2.0 */
/*
 * trace-cmd's trace.dat as a trace to check and report (tracedat.c): the
 * events of the series' tracepoints, converted to the records of
 * include/tsmtrace/events.h and replayed through a struct tsm_ops like the
 * records of a trace file.
 */
#ifndef __TSMTRACE_TRACEDAT_H
#define __TSMTRACE_TRACEDAT_H

#include <stdbool.h>
#include <stddef.h>
#include "tracefile.h"

/* a trace.dat starts with these bytes, then its version ("6", "7") and a NUL */
#define TRACEDAT_MAGIC		"\x17\x08\x44tracing"
#define TRACEDAT_MAGIC_LEN	10

/* do the first @len bytes of a file (at least 8) start like a trace.dat? */
bool tracedat_magic(const void *head, size_t len);

/*
 * Read the trace.dat open on f->fd, whose first @len bytes (@head) were
 * read already: f->hdr says what it holds as a trace file's header would
 * (events_observed: the tracepoints whose format it has). UNUSABLE, with
 * f->msg, when it cannot be read or holds none of the series' events.
 */
enum tsm_read_status tracedat_open(struct tsm_file *f, const void *head, size_t len);
/* every event through @ops, in timestamp order over the CPUs: OK, UNUSABLE or HANDLER */
enum tsm_read_status tracedat_replay(struct tsm_file *f, const struct tsm_ops *ops, void *ctx);
void tracedat_close(struct tsm_file *f);
/* the trace.dat's file version (6, 7) */
unsigned int tracedat_version(const struct tsm_file *f);

#endif
