/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every tsmtrace BPF object shares: the ring buffer of records
 * (include/tsmtrace/events.h) with its global sequence number, the counts
 * of lost events, the stack record of a flagged event, and the table of
 * live DMABUFs the in-kernel checks look up.
 *
 * Included once per object (bpf/tsmtrace.bpf.c: the series' tracepoints;
 * bpf/stock.bpf.c: the stock kernel's functions): each has its own maps,
 * and the loader reads the same names from whichever it loaded.
 */
#ifndef __TSMTRACE_RECORD_BPF_H
#define __TSMTRACE_RECORD_BPF_H

#define MAX_BUFS	8192	/* a power of two */
#define BUF_PROBES	4

struct buf_state {
	__u64 buf;		/* the DMABUF's id; 0: the slot is free */
	__u32 dev;
	__u32 kind;
	__u32 revoked;
	__u32 nr_maps;		/* IOAS areas and slots derived from it */
	__u32 __pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

/*
 * The live DMABUFs, open-addressed by id: an array lookup takes no lock,
 * where a hash update and delete take a bucket lock at every export and
 * release. A DMABUF goes into one of BUF_PROBES slots from its id on.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_BUFS);
	__type(key, __u32);
	__type(value, struct buf_state);
} bufs SEC(".maps");

/* [0] events lost to a full ring buffer, [1] to a full state map */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* struct tsm_rec_stack with its frames, laid out the same */
struct stack_rec {
	struct tsm_rec_hdr hdr;
	__u64 event_seq;
	__u32 nr;
	__u32 __reserved;
	__u64 ip[TSM_STACK_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack_rec);
} stack_scratch SEC(".maps");

__u64 seq;			/* next sequence number - 1 */

static __always_inline void count_lost(__u32 why)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &why);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* reserve a record of @size and fill its header; NULL (counted) if full */
static __always_inline void *rec_reserve(__u32 type, __u32 size, __u64 *seqp)
{
	struct tsm_rec_hdr *h;
	__u64 s = __sync_fetch_and_add(&seq, 1) + 1;

	*seqp = s;
	h = bpf_ringbuf_reserve(&events, size, 0);
	if (!h) {
		count_lost(TSM_LOST_RINGBUF);	/* the gap in seq shows where */
		return NULL;
	}
	h->type = type;
	h->size = size;
	h->cpu = bpf_get_smp_processor_id();
	h->pid = (__u32)bpf_get_current_pid_tgid();
	h->flags = 0;
	h->ts = bpf_ktime_get_ns();
	h->seq = s;
	return h;
}

static __always_inline void emit_stack(void *ctx, __u64 event_seq)
{
	__u32 zero = 0;
	struct stack_rec *st = bpf_map_lookup_elem(&stack_scratch, &zero);
	long n;

	if (!st)
		return;
	n = bpf_get_stack(ctx, st->ip, sizeof(st->ip), 0);
	if (n < 0)
		n = 0;
	st->hdr.type = TSM_REC_STACK;
	st->hdr.size = sizeof(*st);
	st->hdr.cpu = bpf_get_smp_processor_id();
	st->hdr.pid = (__u32)bpf_get_current_pid_tgid();
	st->hdr.flags = 0;
	st->hdr.ts = bpf_ktime_get_ns();
	st->hdr.seq = event_seq + 1;
	st->event_seq = event_seq;
	st->nr = n / sizeof(__u64);
	if (bpf_ringbuf_output(&events, st, sizeof(*st), BPF_RB_FORCE_WAKEUP))
		count_lost(TSM_LOST_RINGBUF);
}

/*
 * Waking the reader at every event costs more than the rest of the program:
 * wake it when a flagged event comes or every WAKE_EVERY events (at most
 * 8192 * 80 bytes since the last wakeup, a sixth of the ring: counted from
 * the sequence number, with no helper call at every event); it also looks
 * on its own every 100 ms.
 */
#define WAKE_EVERY	8192	/* a power of two */

static __always_inline __u64 wakeup(__u32 rules, __u64 seq)
{
	if (rules || !(seq & (WAKE_EVERY - 1)))
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* submit, with the flag and a stack record when the check found something */
static __always_inline void rec_submit(void *ctx, struct tsm_rec_hdr *h, __u32 rules)
{
	__u64 s = h->seq;

	if (rules)
		h->flags |= TSM_REC_F_FLAGGED;
	bpf_ringbuf_submit(h, wakeup(rules, s));
	if (rules)
		emit_stack(ctx, s);
}

/*
 * The slot of the live DMABUF @buf, or NULL; with @claim, a free slot is
 * taken for it if it has none (NULL, counted, when none is free). A stale
 * entry of the same id (its release unseen) is reused.
 */
static __always_inline struct buf_state *buf_slot(__u64 buf, bool claim)
{
	struct buf_state *b;
	__u32 i, k;

	for (i = 0; i < BUF_PROBES; i++) {
		k = (buf + i) & (MAX_BUFS - 1);
		b = bpf_map_lookup_elem(&bufs, &k);
		if (!b)
			break;
		if (b->buf == buf || (claim && __sync_val_compare_and_swap(&b->buf, 0, buf) == 0))
			return b;
	}
	if (claim)
		count_lost(TSM_LOST_MAP_FULL);
	return NULL;
}


/* a pci_tsm_{bind,unbind}_{begin,end} record */
static __always_inline void emit_tsm_op(void *ctx, __u32 type, __u32 dev, __u32 tdi_id, __u64 vm,
					__u32 reason, __s32 ret, __u32 rules)
{
	struct tsm_ev_pci_tsm_op *e;
	__u64 s;

	e = rec_reserve(type, sizeof(*e), &s);
	if (!e)
		return;
	e->dev = dev;
	e->tdi_id = tdi_id;
	e->vm = vm;
	e->reason = reason;
	e->ret = ret;
	rec_submit(ctx, &e->hdr, rules);
}

/* a vfio_dmabuf_{export,revoke,restore,release} record */
static __always_inline void emit_dmabuf_obj(void *ctx, __u32 type, __u64 buf, __u32 dev,
					    __u32 bar, __u32 kind, __u32 arg, __u32 rules)
{
	struct tsm_ev_vfio_dmabuf_obj *e;
	__u64 s;

	e = rec_reserve(type, sizeof(*e), &s);
	if (!e)
		return;
	e->buf = buf;
	e->dev = dev;
	e->bar = bar;
	e->kind = kind;
	e->arg = arg;
	rec_submit(ctx, &e->hdr, rules);
}

#endif /* __TSMTRACE_RECORD_BPF_H */
