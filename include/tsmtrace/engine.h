/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tsmtrace invariant engine (userspace).
 *
 * One engine serves live (ring-buffer records) and offline (trace-file
 * records) checking: both feed records, in order, to tsm_dispatch() with the
 * engine's callback table tsm_engine_ops, the way perf report replays a file
 * through a perf_tool. The decision which rule an event breaks is
 * tsm_check() in invariants.h, shared with the BPF programs.
 *
 * State is kept as ranges: per device the private PFN ranges, per DMABUF
 * its ranges, per IOAS area / KVM slot one mapped range. The cost of an
 * event depends on the number of ranges it touches, never on their size.
 */
#ifndef __TSMTRACE_ENGINE_H
#define __TSMTRACE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "events.h"
#include "invariants.h"

struct tsm_engine;

/* a tool's handlers, one per record type; NULL entries are skipped */
typedef int (*tsm_handler_t)(void *ctx, const struct tsm_rec_hdr *rec);
struct tsm_ops {
	tsm_handler_t handler[TSM_REC_MAX];
	tsm_handler_t unknown;	/* a type this reader does not know */
	tsm_handler_t post;	/* after every record's handler (may be NULL) */
};

/*
 * tsm_dispatch - validate one record and hand it to its handler, then to
 * ops->post. Returns the first non-zero handler result, or -EINVAL for a
 * record that does not fit @avail or is shorter than its type's layout.
 */
int tsm_dispatch(const struct tsm_ops *ops, void *ctx,
		 const struct tsm_rec_hdr *rec, size_t avail);

/*
 * Why tsm_dispatch() refuses a record, or NULL when it does not.
 * *@impossible (may be NULL): the record is whole, but no kernel emits such
 * an event (a range that wraps past 2^64).
 */
const char *tsm_rec_malformed(const struct tsm_rec_hdr *rec, size_t avail, bool *impossible);

extern const struct tsm_ops tsm_engine_ops;	/* ctx: struct tsm_engine * */

enum tsm_verdict {
	TSM_PASS = 0,
	TSM_VIOLATION = 1,
	TSM_INCOMPLETE = 2,
	TSM_UNUSABLE = 3,
};

/* why a verdict is INCOMPLETE */
#define TSM_INC_LOST		(1u << 0)  /* kernel events were lost */
#define TSM_INC_TRUNCATED	(1u << 1)  /* the trace ends without its end marker */
#define TSM_INC_START_UNKNOWN	(1u << 2)  /* state unknown when tracing began */
#define TSM_INC_INCONSISTENT	(1u << 3)  /* an event contradicts the known state */
#define TSM_INC_ORDER		(1u << 4)  /* sequence numbers went backwards */
#define TSM_INC_UNKNOWN		(1u << 5)  /* records of a type this reader does not know */
/* set by check's requirements (--min-events, --require-coverage), not the engine */
#define TSM_INC_MIN_EVENTS	(1u << 6)  /* fewer events than required */
#define TSM_INC_COVERAGE	(1u << 7)  /* some invariant not checked over everything */
#define TSM_INC_DISAGREE	(1u << 8)  /* the in-kernel check flagged an event the engine did not */

/* the objects a violation is about; a field is valid when its bit is set */
#define TSM_OBJ_DEV	(1u << 0)
#define TSM_OBJ_BUF	(1u << 1)
#define TSM_OBJ_IOAS	(1u << 2)
#define TSM_OBJ_SLOT	(1u << 3)
#define TSM_OBJ_RANGE	(1u << 4)
#define TSM_OBJ_VM	(1u << 5)
#define TSM_OBJ_BAR	(1u << 6)
#define TSM_OBJ_OVERLAP	(1u << 7)  /* ov_pfn, ov_npfns: where it meets the event's range */
#define TSM_OBJ_OV_IOVA	(1u << 8)  /* ov_addr: the IOVA that maps ov_pfn */
#define TSM_OBJ_OV_GPA	(1u << 9)  /* ov_addr: the guest physical address that maps ov_pfn */
#define TSM_OBJ_DOMAIN	(1u << 10) /* with TSM_OBJ_IOAS: ctx is an IOMMU domain, no IOAS */
#define TSM_OBJ_SPTE	(1u << 11) /* KVM's page-table entry: gfn, level (no VM, slot or DMABUF) */
#define TSM_OBJ_CPU	(1u << 12) /* host CPU mappings of the device's BAR pages (no address known) */

struct tsm_objects {
	__u32 valid;
	__u32 dev;
	__u64 buf;
	__u64 ctx;
	__u32 ioas;
	__u32 slot;
	__u64 iova;
	__u64 vm;
	__u64 gfn;		/* with TSM_OBJ_SLOT or TSM_OBJ_SPTE */
	__u64 pfn;
	__u64 npfns;
	__u32 bar;
	__u32 level;		/* with TSM_OBJ_SPTE: 1 4 KiB, 2 2 MiB, 3 1 GiB */
	__u64 ov_pfn, ov_npfns, ov_addr;
};

/* the phase of a TDI, as a violation saw it */
enum tsm_tdi_phase {
	TSM_TDI_UNKNOWN,	/* no device, or its state is not known */
	TSM_TDI_UNBOUND,
	TSM_TDI_BINDING,
	TSM_TDI_BOUND,
	TSM_TDI_UNBINDING,
};

/* objects in conflict kept per violation (all are counted) */
#define TSM_MAX_CONFLICTS	4096

struct tsm_violation {
	unsigned int n;		/* 1-based, in detection order */
	enum tsm_rule rule;
	union {			/* copy of the event (known layout prefix) */
		struct tsm_rec_hdr hdr;
		unsigned char raw[96];
	} ev;
	struct tsm_objects obj;	/* the event's objects (with the device and BAR when known) */
	struct tsm_objects other;	/* the first object in conflict */
	unsigned int nr_other;	/* objects in conflict */
	/*
	 * Every object in conflict (the first TSM_MAX_CONFLICTS): mappings,
	 * DMABUFs, or, when still_private, the device's ranges that are still
	 * private (TSM-I6, TSM-I8). NULL in a violation that is not kept.
	 */
	struct tsm_objects *conflicts;
	unsigned int nr_conflicts;
	bool still_private;
	enum tsm_tdi_phase tdi;	/* the TDI of the event's device ... */
	__u64 tdi_vm;		/* ... and the VM it is (being) bound to */
	unsigned int nr_stack;
	__u64 stack[TSM_STACK_MAX];
};

struct tsm_summary {
	enum tsm_verdict verdict;
	__u32 incomplete;	/* TSM_INC_* */
	__u64 nr_records;	/* records fed */
	__u64 nr_events;	/* kernel events among them */
	__u64 nr_lost;
	__u64 nr_unknown_type;
	unsigned int nr_violations;
	unsigned int nr_violations_kept;	/* the first ones, in full */
	unsigned int nr_doubts;	/* checks that met an object of unknown state */
	bool kernel_checked;	/* the records carry the in-kernel check's verdict */
	__u64 nr_flagged;	/* events the in-kernel check flagged (TSM_REC_F_FLAGGED) */
	__u64 nr_disagree;	/* events it and the engine judged differently */
	__u32 observed;		/* TSM_EV_* the source was attached to */
};

/*
 * Coverage: which invariants the events a source observed can check. A
 * rule needs some systems' events (the device layout, the DMABUFs, the
 * mappings); with a system unobserved its objects are unknown, and the
 * rules that need them are not checked: a verdict says so, it never counts
 * them as passed.
 */
enum tsm_cov {
	TSM_COV_FULL,		/* every rule of the invariant is checked */
	TSM_COV_PARTIAL,	/* checked, but not over what was not observed */
	TSM_COV_NONE,		/* not checked at all */
};

struct tsm_coverage {
	__u32 observed;		/* TSM_EV_* */
	unsigned int nr_observed;
	unsigned int nr_events;	/* kernel event types of the schema */
	bool full;		/* every event observed */
	enum tsm_cov inv[TSM_I_NR];
};

void tsm_coverage(__u32 observed, struct tsm_coverage *c);
/* what is unknown when the events of @mask (one TSM_EV_ system) are missing */
const char *tsm_unobserved_what(__u32 mask);

/* violations kept in full unless told otherwise; the rest are counted */
#define TSM_MAX_VIOLATIONS	1000

struct tsm_engine_opts {
	bool state_known;	/* TSM_FILE_F_STATE_KNOWN */
	/*
	 * The records carry the in-kernel check's verdict (recorded or live,
	 * not TSM_FILE_F_SYNTHETIC): the engine judges every event again and
	 * counts where the two differ
	 */
	bool kernel_checked;
	__u32 observed;		/* TSM_EV_* events the source saw; 0: all */
	unsigned int max_violations;	/* kept in full; 0: TSM_MAX_VIOLATIONS */
	/* called at each violation as it is found (live output); may be NULL */
	void (*on_violation)(void *arg, const struct tsm_violation *v);
	void *arg;
};

struct tsm_engine *tsm_engine_new(const struct tsm_engine_opts *opts);
void tsm_engine_free(struct tsm_engine *e);
/* feed one record: tsm_dispatch(&tsm_engine_ops, e, rec, avail) */
int tsm_engine_feed(struct tsm_engine *e, const struct tsm_rec_hdr *rec, size_t avail);
/* the source ended without its end marker */
void tsm_engine_truncated(struct tsm_engine *e);
/* the source's own count of lost events (end marker) */
void tsm_engine_lost_total(struct tsm_engine *e, __u64 nr);
void tsm_engine_summary(const struct tsm_engine *e, struct tsm_summary *s);
/* violations kept (the first ones): tsm_engine_violation(e, 1..n) */
unsigned int tsm_engine_nr_violations(const struct tsm_engine *e);
const struct tsm_violation *tsm_engine_violation(const struct tsm_engine *e, unsigned int n);
/* notes on incompleteness, in order; NULL past the end */
const char *tsm_engine_note(const struct tsm_engine *e, unsigned int i);
/* live state size, for the memory figures of the benchmark */
size_t tsm_engine_live_objects(const struct tsm_engine *e);

/* rules and invariants */
struct tsm_rule_desc {
	enum tsm_inv inv;
	const char *state;
	const char *what;
};
extern const struct tsm_rule_desc tsm_rules[TSM_R_NR];
const char *tsm_inv_id(enum tsm_inv inv);	/* "TSM-I1" */
const char *tsm_inv_title(enum tsm_inv inv);
const char *tsm_rec_name(__u32 type);		/* "pci_tsm_range" */
const char *tsm_verdict_name(enum tsm_verdict v);

#endif /* __TSMTRACE_ENGINE_H */
