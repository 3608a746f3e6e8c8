// SPDX-License-Identifier: GPL-2.0
/* Putting live records back in sequence order (see reorder.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "reorder.h"

struct item {
	struct item *next;
	int when;			/* 0 before the event, 1 the event, 2 after */
	struct tsm_rec_hdr rec[];	/* copy, rec->size bytes */
};

struct tsm_reorder {
	struct item **slot;		/* by seq & mask: records of that seq, in release order */
	size_t mask;
	__u64 next;			/* next sequence number to release */
	size_t held;
	tsm_out_t out;
	void *ctx;
	int err;
};

struct tsm_reorder *tsm_reorder_new(size_t window, __u64 first_seq, tsm_out_t out, void *ctx)
{
	struct tsm_reorder *r = calloc(1, sizeof(*r));
	size_t w = 16;

	while (w < window)
		w <<= 1;
	if (!r || !(r->slot = calloc(w, sizeof(*r->slot)))) {
		free(r);
		return NULL;
	}
	r->mask = w - 1;
	r->next = first_seq;
	r->out = out;
	r->ctx = ctx;
	return r;
}

static int emit(struct tsm_reorder *r, const struct tsm_rec_hdr *rec)
{
	int ret = r->out(r->ctx, rec);

	if (ret && !r->err)
		r->err = ret;
	return ret;
}

/* release the records of r->next, advance */
static void release_one(struct tsm_reorder *r)
{
	struct item **s = &r->slot[r->next & r->mask], *it, *n;

	for (it = *s; it; it = n) {
		n = it->next;
		emit(r, it->rec);
		free(it);
		r->held--;
	}
	*s = NULL;
	r->next++;
}

static bool has_event(struct item *it)
{
	for (; it; it = it->next)
		if (it->when == 1)
			return true;
	return false;
}

static void release_ready(struct tsm_reorder *r)
{
	while (has_event(r->slot[r->next & r->mask]))
		release_one(r);
}

int tsm_reorder_add(struct tsm_reorder *r, const struct tsm_rec_hdr *rec)
{
	struct item *it, **p;
	__u64 seq = rec->seq;
	int when = 1;

	if (rec->type >= TSM_REC_LOST) {
		if (rec->type == TSM_REC_STACK && rec->size >= sizeof(struct tsm_rec_stack)) {
			seq = ((const struct tsm_rec_stack *)rec)->event_seq;
			when = 2;
		} else {
			when = 0;
		}
	}
	if (seq < r->next) {
		/* late: its place is gone; the engine judges the order */
		emit(r, rec);
		return r->err;
	}
	if (seq == r->next && when == 1 && !r->slot[seq & r->mask]) {
		/* the next event, nothing to put before it: no copy */
		emit(r, rec);
		r->next++;
		release_ready(r);
		return r->err;
	}
	while (seq - r->next > r->mask)
		release_one(r);		/* the window is full: give up the oldest */
	it = malloc(sizeof(*it) + rec->size);
	if (!it)
		return -ENOMEM;
	memcpy(it->rec, rec, rec->size);
	it->when = when;
	for (p = &r->slot[seq & r->mask]; *p && (*p)->when <= when; p = &(*p)->next)
		;
	it->next = *p;
	*p = it;
	r->held++;
	release_ready(r);
	return r->err;
}

int tsm_reorder_flush(struct tsm_reorder *r)
{
	while (r->held)
		release_one(r);
	/* a stack waits for nothing; neither does the next number once idle */
	return r->err;
}

size_t tsm_reorder_held(const struct tsm_reorder *r)
{
	return r->held;
}

void tsm_reorder_free(struct tsm_reorder *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i <= r->mask; i++) {
		struct item *it = r->slot[i], *n;

		for (; it; it = n) {
			n = it->next;
			free(it);
		}
	}
	free(r->slot);
	free(r);
}
