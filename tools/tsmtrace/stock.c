// SPDX-License-Identifier: GPL-2.0
/*
 * The stock-kernel source: which programs of bpf/stock.bpf.c the running
 * kernel can take, decided from its BTF (vmlinux and every module) with
 * libbpf's BTF API before anything is loaded.
 *
 * A program is loaded when the kernel has the function it attaches to and
 * every structure member it reads; a group of programs gives its events
 * only when all of its programs load (a map seen without its unmaps would
 * be worse than neither). What is left out is said once, with what it
 * costs, and the verdict's coverage repeats it.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <tsmtrace/stock.h>
#include "builtin.h"
#include "live.h"
#include "stock.h"

enum group {
	G_DMABUF,	/* exports, revokes, restores, releases */
	G_IOMMU,	/* the IOMMU's mappings of DMABUF pages */
	G_KVM,		/* KVM's page-table entries of BAR pages */
	G_CLOSE,	/* hint: a revoke is a close's */
	G_ATTRIB,	/* hint: which DMABUF iommufd maps into a domain */
	G_REVOKE,	/* hint: an unmap is a revoke's */
	G_SEED,		/* the DMABUFs open at start */
	G_TSM,		/* TDI binds and unbinds */
	G_NR,
};

static const struct {
	const char *what;	/* what the group gives */
	__u32 events;		/* TSM_EV_* it gives */
	const char *without;	/* what its absence costs */
} groups[G_NR] = {
	[G_DMABUF] = { "DMABUF exports, revokes and releases",
		       TSM_EV_VFIO_DMABUF | TSM_EV_BIT(TSM_REC_VFIO_DMABUF_RESTORE),
		       "DMABUFs are not seen: nothing can be checked" },
	[G_IOMMU] = { "the IOMMU's mappings of DMABUF pages", TSM_EV_IOMMU,
		      "IOMMU mappings are not seen: TSM-I5 and TSM-I7 cannot be decided" },
	[G_KVM] = { "KVM's page-table entries of BAR pages (TDP MMU)", TSM_EV_KVM_SPTE,
		    "KVM's mappings are not seen: TSM-I5 is decided over the IOMMU's mappings only" },
	[G_CLOSE] = { "revokes of a closing device named CLOSE", 0,
		      "a close's revokes are named UNSPECIFIED" },
	[G_ATTRIB] = { "the DMABUF iommufd maps, from iommufd itself", 0,
		       "a mapping of pages two live DMABUFs share cannot be told to one (counted lost)" },
	[G_REVOKE] = { "unmaps of a revoke named as such", 0,
		       "the IOMMU unmaps of a revoke are named USER" },
	[G_SEED] = { "the DMABUFs already open at the start (the DMABUF iterator)", 0,
		     "DMABUFs already open at the start are not seen: without --state-known the verdict is at best INCOMPLETE" },
	[G_TSM] = { "TDI binds and unbinds (the PCI TSM core)",
		    TSM_EV_BIT(TSM_REC_PCI_TSM_BIND_BEGIN) | TSM_EV_BIT(TSM_REC_PCI_TSM_BIND_END) |
		    TSM_EV_BIT(TSM_REC_PCI_TSM_UNBIND_BEGIN) | TSM_EV_BIT(TSM_REC_PCI_TSM_UNBIND_END),
		    "which TDI is bound to which VM is not seen (no invariant depends on it without the series' private layout)" },
};

/* a hook on a tracepoint (tp_btf) is found by the typedef of its probe */
#define TP_PREFIX	"btf_trace_"

static const struct stock_hook {
	const char *prog;
	const char *func;
	const char *fields;	/* "struct.member ...": what the program reads */
	enum group group;
} hooks[] = {
	{ "stock_dmabuf_export", "dma_buf_fd",
	  "dma_buf.file dma_buf.exp_name dma_buf.priv file.f_inode inode.i_ino "
	  "vfio_pci_dma_buf.dmabuf vfio_pci_dma_buf.vdev vfio_pci_dma_buf.phys_vec "
	  "vfio_pci_dma_buf.nr_ranges vfio_pci_dma_buf.revoked phys_vec.paddr phys_vec.len "
	  "vfio_pci_core_device.pdev pci_dev.bus pci_dev.devfn pci_dev.resource "
	  "resource.start resource.end pci_bus.number", G_DMABUF },
	{ "stock_dmabuf_move", "vfio_pci_dma_buf_move",
	  "vfio_pci_core_device.dmabufs vfio_pci_dma_buf.dmabufs_elm vfio_pci_dma_buf.revoked",
	  G_DMABUF },
	{ "stock_dmabuf_release", "vfio_pci_dma_buf_release", "", G_DMABUF },
	{ "stock_iommu_map", "iommu_map_nosync", "", G_IOMMU },
	{ "stock_iommu_unmap", "iommu_unmap", "", G_IOMMU },
	{ "stock_iommu_unmap_fast", "iommu_unmap_fast", "", G_IOMMU },
	{ "stock_iommu_domain_free", "iommu_domain_free", "", G_IOMMU },
	{ "stock_kvm_spte", TP_PREFIX "kvm_tdp_mmu_spte_changed", "", G_KVM },
	{ "stock_dmabuf_cleanup_enter", "vfio_pci_dma_buf_cleanup", "", G_CLOSE },
	{ "stock_dmabuf_cleanup_exit", "vfio_pci_dma_buf_cleanup", "", G_CLOSE },
	{ "stock_iopt_track", "iopt_dmabuf_track_domain",
	  "iopt_pages.dmabuf iopt_pages_dmabuf.attach dma_buf_attachment.dmabuf", G_ATTRIB },
	{ "stock_iopt_revoke_enter", "iopt_revoke_notify", "", G_REVOKE },
	{ "stock_iopt_revoke_exit", "iopt_revoke_notify", "", G_REVOKE },
	{ "stock_seed", "bpf_iter_dmabuf", "bpf_iter__dmabuf.dmabuf", G_SEED },
	{ "stock_tsm_bind_enter", "pci_tsm_bind", "", G_TSM },
	{ "stock_tsm_bind_exit", "pci_tsm_bind", "", G_TSM },
	{ "stock_tsm_unbind_user_enter", "pci_tsm_unbind", "", G_TSM },
	{ "stock_tsm_unbind_user_exit", "pci_tsm_unbind", "", G_TSM },
	{ "stock_tsm_unbind_enter", "__pci_tsm_unbind",
	  "pci_dev.tsm pci_tsm.tdi pci_tdi.kvm pci_tdi.tdi_id", G_TSM },
	{ "stock_tsm_unbind_exit", "__pci_tsm_unbind", "", G_TSM },
};

#define NR_HOOKS	(sizeof(hooks) / sizeof(hooks[0]))
void kbtf_free(struct kbtf *k)
{
	unsigned int i;

	for (i = 0; i < k->nr; i++)
		btf__free(k->mod[i]);
	btf__free(k->vmlinux);
}

/* the kernel's BTF: vmlinux (or TSMTRACE_BTF) and every module beside it */
int kbtf_load(struct kbtf *k, const char *path)
{
	char dir[4096], *slash, mpath[4096 + 256];
	struct dirent *de;
	DIR *d;

	memset(k, 0, sizeof(*k));
	k->vmlinux = btf__parse(path, NULL);
	if (!k->vmlinux)
		return -errno;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = 0;
	if (strcmp(dir, "/sys/kernel/btf") || strcmp(slash + 1, "vmlinux"))
		return 0;	/* a file of its own: no modules beside it */
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) && k->nr < MAX_BTFS) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "vmlinux"))
			continue;
		snprintf(mpath, sizeof(mpath), "%s/%s", dir, de->d_name);
		k->mod[k->nr] = btf__parse_split(mpath, k->vmlinux);
		if (k->mod[k->nr])
			k->nr++;
	}
	closedir(d);
	return 0;
}

/* the BTF (vmlinux or a module) that has @name of @kind, and its id there */
struct btf *kbtf_find(const struct kbtf *k, const char *name, __u32 kind, __s32 *id)
{
	unsigned int i;

	*id = btf__find_by_name_kind(k->vmlinux, name, kind);
	if (*id > 0)
		return k->vmlinux;
	for (i = 0; i < k->nr; i++) {
		*id = btf__find_by_name_kind(k->mod[i], name, kind);
		if (*id > 0)
			return k->mod[i];
	}
	return NULL;
}

/* does struct @s have member @m, directly or in an anonymous struct or union? */
static bool btf_has_member(const struct btf *btf, __u32 id, const char *m, int depth)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	const struct btf_member *mb;
	__u16 i;

	while (t && (btf_is_typedef(t) || btf_is_mod(t)))
		t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_composite(t) || depth > 4)
		return false;
	mb = btf_members(t);
	for (i = 0; i < btf_vlen(t); i++, mb++) {
		const char *n = btf__name_by_offset(btf, mb->name_off);

		if (n && *n && !strcmp(n, m))
			return true;
		if ((!n || !*n) && btf_has_member(btf, mb->type, m, depth + 1))
			return true;
	}
	return false;
}

/* NULL if the kernel has the function and every field, else what it lacks */
static const char *hook_missing(const struct kbtf *k, const struct stock_hook *h, char *buf,
				size_t len)
{
	const char *p = h->fields;
	__s32 id;

	if (!strncmp(h->func, TP_PREFIX, strlen(TP_PREFIX))) {
		if (!kbtf_find(k, h->func, BTF_KIND_TYPEDEF, &id)) {
			snprintf(buf, len, "tracepoint %s", h->func + strlen(TP_PREFIX));
			return buf;
		}
	} else if (!kbtf_find(k, h->func, BTF_KIND_FUNC, &id)) {
		snprintf(buf, len, "function %s()", h->func);
		return buf;
	}
	while (*p) {
		char s[64], m[64];
		const struct btf *btf;
		int n = 0;

		if (sscanf(p, "%63[^.].%63s%n", s, m, &n) != 2 || !n)
			break;
		p += n;
		while (*p == ' ')
			p++;
		btf = kbtf_find(k, s, BTF_KIND_STRUCT, &id);
		if (!btf) {
			snprintf(buf, len, "struct %s", s);
			return buf;
		}
		if (!btf_has_member(btf, id, m, 0)) {
			snprintf(buf, len, "struct %s member %s", s, m);
			return buf;
		}
	}
	return NULL;
}

int stock_probe(struct live_opts *o, const char *btf_path, bool quiet)
{
	char why[G_NR][160], miss[160];
	bool ok[G_NR];
	struct kbtf k;
	unsigned int i, g;
	int err;

	err = kbtf_load(&k, btf_path);
	if (err) {
		p_err(o->cmd, "cannot read the kernel's BTF (%s): %s; tsmtrace needs a kernel built with CONFIG_DEBUG_INFO_BTF (every distribution kernel of 6.19 and later is)",
		      btf_path, strerror(-err));
		return EXIT_UNUSABLE;
	}
	for (g = 0; g < G_NR; g++) {
		ok[g] = true;
		why[g][0] = 0;
	}
	for (i = 0; i < NR_HOOKS; i++) {
		g = hooks[i].group;
		if (!ok[g] || !hook_missing(&k, &hooks[i], miss, sizeof(miss)))
			continue;
		ok[g] = false;
		snprintf(why[g], sizeof(why[g]), "%s", miss);
	}
	kbtf_free(&k);

	o->stock = true;
	o->observed = 0;
	o->stock_progs = 0;
	for (i = 0; i < NR_HOOKS; i++)
		if (ok[hooks[i].group])
			o->stock_progs |= 1ULL << i;
	for (g = 0; g < G_NR; g++)
		if (ok[g])
			o->observed |= groups[g].events;
	if (!ok[G_DMABUF]) {
		p_err(o->cmd, "the kernel's BTF (%s) has no %s: %s; tsmtrace's stock-kernel source needs mainline's VFIO DMABUF export (Linux 6.19 or later, CONFIG_VFIO_PCI_DMABUF)",
		      btf_path, why[G_DMABUF], groups[G_DMABUF].without);
		return EXIT_UNUSABLE;
	}
	if (quiet)
		return 0;
	fprintf(stderr, "%s: source: the kernel's own functions (fentry/fexit, CO-RE), not tsmtrace tracepoints\n",
		o->cmd);
	for (g = 0; g < G_NR; g++) {
		if (ok[g])
			fprintf(stderr, "  seen: %s\n", groups[g].what);
		else
			fprintf(stderr, "  not seen: %s: the kernel has no %s; %s\n", groups[g].what,
				why[g], groups[g].without);
	}
	print_coverage(stderr, o->observed, "  ");
	return 0;
}

__u64 stock_seed_progs(const struct kbtf *k, char *why, size_t len)
{
	__u64 progs = 0;
	unsigned int i;

	for (i = 0; i < NR_HOOKS; i++) {
		/* the iterator reads what an export's program reads */
		if (hooks[i].group != G_SEED && strcmp(hooks[i].prog, "stock_dmabuf_export"))
			continue;
		if (hook_missing(k, &hooks[i], why, len))
			return 0;
		if (hooks[i].group == G_SEED)
			progs |= 1ULL << i;
	}
	return progs;
}

static bool has_group(__u64 progs, enum group g)
{
	unsigned int i;

	for (i = 0; i < NR_HOOKS; i++)
		if (hooks[i].group == g)
			return progs & (1ULL << i);
	return false;
}

bool stock_has_seed(__u64 progs)
{
	return has_group(progs, G_SEED);
}

bool stock_has_kvm(__u64 progs)
{
	return has_group(progs, G_KVM);
}

/* load only the programs stock_probe() chose */
void stock_set_autoload(struct bpf_object *obj, __u64 progs)
{
	unsigned int i;

	for (i = 0; i < NR_HOOKS; i++) {
		struct bpf_program *p = bpf_object__find_program_by_name(obj, hooks[i].prog);

		if (p)
			bpf_program__set_autoload(p, !!(progs & (1ULL << i)));
	}
}

#define IORESOURCE_MEM	0x00000200
#define VFIO_PCI_DIR	"/sys/bus/pci/drivers/vfio-pci"

int stock_fill_bars(int map_fd, unsigned int max, __u64 *lo, __u64 *hi)
{
	char path[PATH_MAX];
	struct dirent *de;
	unsigned int n = 0;
	DIR *d = opendir(VFIO_PCI_DIR);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		unsigned int seg, bus, dv, fn, bar;
		unsigned long long start, end, flags;
		FILE *f;

		if (sscanf(de->d_name, "%x:%x:%x.%x", &seg, &bus, &dv, &fn) != 4)
			continue;
		snprintf(path, sizeof(path), "%s/%s/resource", VFIO_PCI_DIR, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		for (bar = 0; bar < 6 && fscanf(f, "%llx %llx %llx", &start, &end, &flags) == 3;
		     bar++) {
			struct tsm_stock_bar b = {
				.state = TSM_BAR_USED,
				.dev = seg << 16 | bus << 8 | dv << 3 | fn,
				.pfn = start >> 12,
				.npfns = (end - start + 1) >> 12,
			};

			if (!(flags & IORESOURCE_MEM) || !start || end < start || !b.npfns)
				continue;
			if (n >= max) {
				fclose(f);
				closedir(d);
				return -ENOSPC;
			}
			if (bpf_map_update_elem(map_fd, &n, &b, BPF_ANY)) {
				fclose(f);
				closedir(d);
				return -errno;
			}
			n++;
			if (b.pfn < *lo)
				*lo = b.pfn;
			if (b.pfn + b.npfns > *hi)
				*hi = b.pfn + b.npfns;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}
