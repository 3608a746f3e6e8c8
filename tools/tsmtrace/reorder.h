/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Putting live records back in sequence order.
 *
 * The BPF programs number every event from one counter, but two CPUs can
 * reserve their ring-buffer slots in the other order than they took their
 * numbers. Like perf's ordered events, records wait in a window keyed by
 * sequence number and leave in order; a number still missing when the
 * window is full or the source goes idle is given up (the engine then sees
 * the gap: a loss). Recorder records ride with a kernel event: a LOST or
 * STATE_UNKNOWN record leaves just before the event with its hdr.seq, a
 * STACK record right after the event with its event_seq.
 */
#ifndef __TSMTRACE_REORDER_H
#define __TSMTRACE_REORDER_H

#include <stddef.h>
#include <tsmtrace/events.h>

typedef int (*tsm_out_t)(void *ctx, const struct tsm_rec_hdr *rec);

struct tsm_reorder;

/* window: how many sequence numbers may be pending, a power of two */
struct tsm_reorder *tsm_reorder_new(size_t window, __u64 first_seq, tsm_out_t out, void *ctx);
/* copy in one record; releases what is in order; the first out() error */
int tsm_reorder_add(struct tsm_reorder *r, const struct tsm_rec_hdr *rec);
/* give up on missing numbers: release everything held, in order */
int tsm_reorder_flush(struct tsm_reorder *r);
size_t tsm_reorder_held(const struct tsm_reorder *r);
void tsm_reorder_free(struct tsm_reorder *r);

#endif
