/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the stock-kernel source's BPF programs (bpf/stock.bpf.c) and their
 * loader (tools/tsmtrace/stock.c) share beyond the records: the table of
 * BARs whose pages KVM's page-table entries are followed for. The loader
 * fills it from sysfs before attaching; an export adds its DMABUF's BAR.
 * Plain fixed-width types only.
 */
#ifndef __TSMTRACE_STOCK_BARS_H
#define __TSMTRACE_STOCK_BARS_H

#include <linux/types.h>

/* an entry's @state: free, being filled, in use */
#define TSM_BAR_FREE	0
#define TSM_BAR_FILLING	1
#define TSM_BAR_USED	2

struct tsm_stock_bar {
	__u64 state;		/* 64 bits: the atomics of BPF's first ISA */
	__u32 dev;		/* segment << 16 | bus << 8 | devfn */
	__u32 __pad;
	__u64 pfn;
	__u64 npfns;
};

#endif /* __TSMTRACE_STOCK_BARS_H */
