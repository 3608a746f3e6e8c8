/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __TSMTRACE_STOCK_H
#define __TSMTRACE_STOCK_H

#include <stdbool.h>
#include <linux/types.h>

struct bpf_object;
struct btf;
struct live_opts;

/*
 * The kernel's BTF, read with libbpf: vmlinux (or the file TSMTRACE_BTF
 * names) and, when that is /sys/kernel/btf/vmlinux, every module's beside
 * it (KVM, iommufd and vfio-pci are modules on distribution kernels).
 */
#define MAX_BTFS	512

struct kbtf {
	struct btf *vmlinux;
	struct btf *mod[MAX_BTFS];
	unsigned int nr;
};

/* 0, or -errno (not BTF: -EINVAL and the like, from libbpf) */
int kbtf_load(struct kbtf *k, const char *path);
void kbtf_free(struct kbtf *k);
/* the BTF (vmlinux or a module's) that has @name of @kind, and its id there */
struct btf *kbtf_find(const struct kbtf *k, const char *name, __u32 kind, __s32 *id);

/*
 * Decide which programs of bpf/stock.bpf.c the kernel whose BTF is at
 * @btf_path can take: o->stock_progs, o->observed. Says what is seen, what
 * is not and why, and what that leaves undecided (unless @quiet). Returns
 * 0, or EXIT_UNUSABLE after saying why.
 */
int stock_probe(struct live_opts *o, const char *btf_path, bool quiet);
void stock_set_autoload(struct bpf_object *obj, __u64 progs);
/* does @progs hold the iterator of the DMABUFs open at start? */
bool stock_has_seed(__u64 progs);
/* does @progs follow KVM's page-table entries? */
bool stock_has_kvm(__u64 progs);
/*
 * Put the memory BARs of vfio-pci's devices into the BPF map @map_fd
 * (struct sbar, at most @max), widening [*lo, *hi) to their PFNs: KVM's
 * entries of their pages are followed. Returns how many, or -errno.
 */
int stock_fill_bars(int map_fd, unsigned int max, __u64 *lo, __u64 *hi);
/*
 * For the series' source: the programs of bpf/stock.bpf.c that count the
 * DMABUFs of VFIO open now (the DMABUF iterator of 6.16+), if the kernel
 * whose BTF @k is can take them; 0 if not, @why saying what it lacks.
 */
__u64 stock_seed_progs(const struct kbtf *k, char *why, size_t len);

#endif
