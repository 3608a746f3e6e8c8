/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __TSMTRACE_LIVE_H
#define __TSMTRACE_LIVE_H

#include <stdbool.h>
#include <linux/types.h>
#include "tracefile.h"

/* what 'live' and 'record' attach to (--source) */
enum { SRC_AUTO, SRC_SERIES, SRC_STOCK };

struct live_opts {
	const char *cmd;		/* "live" or "record" */
	const char *output;		/* trace file, or NULL */
	struct tsm_compress compress;	/* of its blocks of records */
	bool quiet;			/* print no transitions (record, live -q) */
	bool state_known;		/* no TDI bound, no DMABUF open now */
	bool fail_on_violation;
	bool verbose;
	__u32 observed;			/* TSM_EV_* events to attach to */
	int source;			/* SRC_*: asked for */
	bool stock;			/* the stock-kernel source (bpf/stock.bpf.c) */
	__u64 stock_progs;		/* its programs to load (stock.c); for the
					 * series' source, the DMABUF iterator */
	char seed_missing[160];		/* the series' source without it: why */
	unsigned int max_violations;	/* kept in full; 0: the default */
	unsigned int duration;		/* seconds, 0: until a signal */
	bool has_dev, has_vm, has_pid;	/* what to print, not what to check */
	__u32 dev;
	__u64 vm;
	__u32 pid;
};

int run_live(const struct live_opts *o);
/* the capabilities the BPF programs need: 0, or EXIT_UNUSABLE after saying so */
int need_privileges(const char *cmd);

#endif
