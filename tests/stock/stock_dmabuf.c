// SPDX-License-Identifier: GPL-2.0
/*
 * stock_dmabuf - a VMM's DMABUF flow with mainline's ABI alone, on the stock
 * kernel (the base without the series): what a platform engineer's host
 * does today, and what tsmtrace's stock-kernel sources have to see.
 *
 * ivshmem (BAR2: 4 GiB of RAM-backed MMIO) exports a DMABUF of a BAR range
 * (VFIO_DEVICE_FEATURE_DMA_BUF); the DMABUF is mapped into an IOAS
 * (IOMMU_IOAS_MAP_FILE) to which edu, the DMA master, is attached: edu's
 * DMA engine reads and writes ivshmem's BAR through it (peer to peer).
 * Turning memory decode off through the config region revokes the DMABUF:
 * iommufd unmaps the area from the IOMMU (iommu:unmap), the DMA no longer
 * lands, a new map is ENODEV, IOMMU_IOAS_UNMAP still removes the area.
 * Memory decode back on un-revokes: the same DMABUF maps again. The whole
 * 4 GiB BAR exports and maps as one DMABUF. Every fd closed, nothing is
 * left in dma_buf/bufinfo. The cases also pin what mainline's events say
 * (dma_buf:*, iommu:map/unmap), since tsmtrace reads them on such hosts.
 *
 * KVM (nested SVM in the lab): a VM whose memslot is the VMM's mmap of the
 * BAR, as QEMU gives a guest a device's BAR, beside a DMABUF of the same
 * pages in the IOAS. A real-mode vCPU reads the BAR through the slot (KVM
 * maps the pages: kvmmmu:kvm_tdp_mmu_spte_changed); memory decode off zaps
 * the VMM's mapping, KVM's with it, and revokes the DMABUF; the guest's
 * read then fails; decode on, it reads again; deleting the slot unmaps.
 * The same with the BAR's first GiB in a 1 GiB slot over a 1 GiB-aligned
 * mmap: KVM maps it with a 1 GiB entry (2 MiB where the CPU has no 1 GiB
 * pages), which dirty logging then splits: with the bitmap initially set,
 * clearing the bits of the slot's first 64 pages makes KVM split the
 * entries that hold them down to 4 KiB (the 1 GiB one into 2 MiB ones, the
 * first of those into 4 KiB ones), whose pages stay mapped through the
 * new entries until decode off zaps them all.
 * One PASS:/FAIL:/SKIP: line per case; exits 1 when one failed.
 *
 * stock_dmabuf broken-revoke plays, on the series' kernel, the kernel that
 * forgets to tell iommufd about a revoke (vfio_pci_dmabuf_skip_notify
 * armed): the same flow with mainline's ABI, whose IOMMU mapping survives
 * the revoke at memory decode off. It prints the device, the IOVA and the
 * first PFN, and exits 0; the verdict is tsmtrace's stock-kernel source's
 * to give.
 *
 * stock_dmabuf broken-zap plays, on the series' kernel, the kernel that
 * forgets to zap the VMM's mappings of the BAR at memory decode off
 * (vfio_pci_bar_skip_zap armed): a guest reads the BAR through a slot over
 * the VMM's mmap, and KVM's entry of the page survives the revoke of the
 * DMABUF of the same pages. It prints the device, the GFN and the PFN, and
 * exits 0; the verdict is tsmtrace's. stock_dmabuf broken-zap huge: the
 * same with the 1 GiB slot and KVM's 1 GiB entry.
 *
 * stock_dmabuf storm SEC makes, for SEC seconds and as fast as it can,
 * what the stock-kernel source follows: export a DMABUF of 2 MiB of the
 * BAR, map it into the IOAS (the IOMMU maps it for edu), unmap, close; 5
 * events an iteration on either source (export_range, export, map, unmap,
 * release). One "storm: ..." line with the rate (make bench).
 *
 * stock_dmabuf hold exports and maps a DMABUF, says "held", waits for
 * SIGUSR1 (a tracer starts meanwhile: it finds the DMABUF open; at most 10
 * minutes), then revokes it (memory decode off and on), unmaps and closes
 * it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include <linux/iommufd.h>

#include "edu.h"
#include "kvm_vm.h"
#include "lab.h"
#include "vfio_dev.h"

#define IV_VENDOR	0x1af4
#define IV_DEVICE	0x1110
#define PAGE		0x1000UL
#define SZ_2M		0x200000UL
#define IOVA_RAM	0x100000UL	/* two pages of RAM */
#define IOVA_A		0x400000UL	/* DMABUF areas, below edu's 28-bit mask */
#define IOVA_B		0x800000UL
#define IOVA_BIG	0x100000000UL	/* the whole BAR (edu cannot reach it) */
#define MEM_ON		(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

struct dev {
	int fd;
	uint32_t id;
	char bdf[300];
	volatile uint8_t *bar;
	uint64_t bar_start, bar_size;
};

static struct dev edu = { .fd = -1 }, iv = { .fd = -1 };
static int iommufd = -1;
static uint32_t ioas;
static uint8_t *ram;

/* ---- requests ------------------------------------------------------------- */

static int export(uint64_t off, uint64_t len)
{
	return vfio_dmabuf_export(iv.fd, VFIO_PCI_BAR2_REGION_INDEX, off, len, 0);
}

static int map_file(int fd, uint64_t len, uint64_t iova)
{
	return iommufd_map_file(iommufd, ioas, fd, len, iova);
}

static long unmap(uint64_t iova, uint64_t len)
{
	return iommufd_ioas_unmap(iommufd, ioas, iova, len);
}

static unsigned long ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* ---- DMA: edu moves EDU_XFER bytes ---------------------------------------- */

/* Does a DMA to @iova (RAM -> edu -> @iova) land at @bar_off of BAR2? */
static int dma_lands(uint64_t iova, uint64_t bar_off, uint8_t seed)
{
	memset((void *)(iv.bar + bar_off), 0xa5, EDU_XFER);
	edu_pattern(ram, seed);
	if (edu_copy(edu.bar, IOVA_RAM, iova))
		return 0;
	return edu_same(iv.bar + bar_off, ram);
}

/* ---- setup ------------------------------------------------------------------ */

static int dev_open(struct dev *d, unsigned int vendor, unsigned int device)
{
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	int ret;

	ret = vfio_cdev_bind(vendor, device, iommufd, d->bdf, sizeof(d->bdf), &d->fd, &d->id);
	if (ret)
		return ret;
	attach.pt_id = ioas;
	if (ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return -errno;
	return vfio_config_cmd(d->fd, MEM_ON);
}

/* One IOAS with two pages of RAM; edu and ivshmem attached to it. */
static int setup(void)
{
	int ret;

	iommufd = open("/dev/iommu", O_RDWR);
	if (iommufd < 0)
		return -errno;
	ret = iommufd_ioas_with_ram(iommufd, IOVA_RAM, 2, &ioas, &ram);
	if (ret)
		return ret;

	ret = dev_open(&edu, EDU_VENDOR, EDU_DEVICE);
	if (ret)
		return ret;
	edu.bar = vfio_region_mmap(edu.fd, VFIO_PCI_BAR0_REGION_INDEX, PAGE, NULL);
	ret = dev_open(&iv, IV_VENDOR, IV_DEVICE);
	if (ret)
		return ret;
	iv.bar = vfio_region_mmap(iv.fd, VFIO_PCI_BAR2_REGION_INDEX, 2 * SZ_2M, &iv.bar_size);
	iv.bar_start = lab_bar_start(iv.bdf, 2);
	if (!edu.bar || !iv.bar || !iv.bar_start)
		return -EIO;
	lab_trace_event("dma_buf", 1);
	lab_trace_event("iommu/map", 1);
	lab_trace_event("iommu/unmap", 1);
	return 0;
}

/* ---- the cases -------------------------------------------------------------- */

static char match[256];

static const char *m_map(uint64_t iova, uint64_t paddr)
{
	snprintf(match, sizeof(match), "iova=0x%016llx - 0x%016llx paddr=0x%016llx size=%lu",
		 (unsigned long long)iova, (unsigned long long)(iova + SZ_2M),
		 (unsigned long long)paddr, SZ_2M);
	return match;
}

static const char *m_unmap(uint64_t iova)
{
	snprintf(match, sizeof(match), "iova=0x%016llx - 0x%016llx size=%lu unmapped_size=%lu",
		 (unsigned long long)iova, (unsigned long long)(iova + SZ_2M), SZ_2M, SZ_2M);
	return match;
}

static const char *m_buf(int fd)
{
	snprintf(match, sizeof(match), "size=%lu ino=%lu", SZ_2M, ino(fd));
	return match;
}

/* export, map, DMA both ways, user unmap */
static void test_map(void)
{
	int fd, ret;

	lab_trace_clear();
	fd = export(0, SZ_2M);
	if (!lab_expect(fd, 0, "stock-export"))
		return;
	LAB_CHECK(lseek(fd, 0, SEEK_END) == (off_t)SZ_2M, "stock-export-size",
		  "the DMABUF is %lld bytes", (long long)lseek(fd, 0, SEEK_END));
	LAB_CHECK(lab_trace_count("dma_buf_export", m_buf(fd)) == 1, "stock-trace-export",
		  "no dma_buf_export with '%s'", m_buf(fd));
	if (!lab_expect(map_file(fd, SZ_2M, IOVA_A), 0, "stock-map-file")) {
		close(fd);
		return;
	}
	LAB_CHECK(lab_trace_count("dma_buf_dynamic_attach", m_buf(fd)) == 1,
		  "stock-trace-dynamic-attach", "no dma_buf_dynamic_attach with '%s'", m_buf(fd));
	LAB_CHECK(lab_trace_count("map", m_map(IOVA_A, iv.bar_start)) >= 1, "stock-trace-iommu-map",
		  "no iommu:map with '%s'", m_map(IOVA_A, iv.bar_start));

	LAB_CHECK(dma_lands(IOVA_A + PAGE, PAGE, 1), "stock-p2p-dma-to-bar",
		  "the BAR does not hold what edu wrote to IOVA %#lx", IOVA_A + PAGE);
	edu_pattern(iv.bar + 3 * PAGE, 7);
	memset(ram + PAGE, 0, EDU_XFER);
	ret = edu_copy(edu.bar, IOVA_A + 3 * PAGE, IOVA_RAM + PAGE);
	LAB_CHECK(!ret && edu_same(ram + PAGE, iv.bar + 3 * PAGE), "stock-p2p-dma-from-bar",
		  "edu did not read the BAR through IOVA %#lx", IOVA_A + 3 * PAGE);

	lab_trace_clear();
	LAB_CHECK(unmap(IOVA_A, SZ_2M) == (long)SZ_2M, "stock-unmap", "IOMMU_IOAS_UNMAP: %s",
		  strerror(errno));
	LAB_CHECK(lab_trace_count("unmap", m_unmap(IOVA_A)) >= 1, "stock-trace-iommu-unmap",
		  "no iommu:unmap with '%s'", m_unmap(IOVA_A));
	LAB_CHECK(lab_trace_count("dma_buf_detach", m_buf(fd)) == 1, "stock-trace-detach",
		  "no dma_buf_detach with '%s'", m_buf(fd));
	LAB_CHECK(!dma_lands(IOVA_A + PAGE, PAGE, 2), "stock-p2p-blocked-after-unmap",
		  "edu still reaches the BAR after IOMMU_IOAS_UNMAP");
	close(fd);
}

/* memory decode off revokes; on again un-revokes */
static void test_revoke(void)
{
	int fd, u, ret;

	fd = export(0, SZ_2M);
	if (!lab_expect(fd, 0, "stock-revoke-export"))
		return;
	if (!lab_expect(map_file(fd, SZ_2M, IOVA_A), 0, "stock-revoke-map")) {
		close(fd);
		return;
	}
	LAB_CHECK(dma_lands(IOVA_A, 0, 3), "stock-revoke-dma-before", "edu does not reach the BAR");
	lab_trace_clear();
	ret = vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER);
	lab_expect(ret, 0, "stock-revoke-mem-off");
	u = lab_trace_find("unmap", m_unmap(IOVA_A), 0);
	LAB_CHECK(u >= 0, "stock-revoke-iommu-unmaps", "no iommu:unmap with '%s' at the revoke",
		  m_unmap(IOVA_A));
	lab_expect(map_file(fd, SZ_2M, IOVA_B), ENODEV, "stock-revoked-remap-enodev");
	vfio_config_cmd(iv.fd, MEM_ON);
	LAB_CHECK(!dma_lands(IOVA_A + PAGE, PAGE, 4), "stock-revoked-blocks-dma",
		  "edu reaches the BAR through a revoked DMABUF's area");
	LAB_CHECK(unmap(IOVA_A, SZ_2M) == (long)SZ_2M, "stock-revoked-area-unmaps",
		  "the revoked area: %s", strerror(errno));

	/* memory decode is back: the same DMABUF maps again */
	if (lab_expect(map_file(fd, SZ_2M, IOVA_B), 0, "stock-unrevoked-maps-again")) {
		LAB_CHECK(dma_lands(IOVA_B + PAGE, PAGE, 5), "stock-unrevoked-dma",
			  "edu does not reach the BAR through the new area");
		unmap(IOVA_B, SZ_2M);
	}
	close(fd);

	/* exported while memory decode is off: born revoked */
	vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER);
	fd = export(0, SZ_2M);
	if (lab_expect(fd, 0, "stock-export-mem-off")) {
		lab_expect(map_file(fd, SZ_2M, IOVA_A), ENODEV, "stock-export-mem-off-map-enodev");
		close(fd);
	}
	vfio_config_cmd(iv.fd, MEM_ON);
}

/* the whole BAR as one DMABUF, mapped (huge IOMMU pages where aligned) */
static void test_whole_bar(void)
{
	int fd = export(0, iv.bar_size);

	if (!lab_expect(fd, 0, "stock-whole-bar-export"))
		return;
	LAB_CHECK(iv.bar_size >= (4ULL << 30), "stock-whole-bar-size", "BAR2 is %llu bytes",
		  (unsigned long long)iv.bar_size);
	lab_trace_clear();
	if (lab_expect(map_file(fd, iv.bar_size, IOVA_BIG), 0, "stock-whole-bar-map")) {
		LAB_CHECK(lab_trace_count("map", NULL) >= 1, "stock-whole-bar-iommu-map",
			  "no iommu:map for the whole BAR");
		LAB_CHECK(unmap(IOVA_BIG, iv.bar_size) == (long)iv.bar_size, "stock-whole-bar-unmap",
			  "IOMMU_IOAS_UNMAP: %s", strerror(errno));
	}
	close(fd);
}

#define KVM_GPA		0x40000000UL
#define KVM_PORT	0x10
#define KVM_SLOT	1

/* mov al, [0x1000]; out KVM_PORT, al; hlt (ds.base = KVM_GPA) */
static const uint8_t code_rd[] = { 0xa0, 0x00, 0x10, 0xe6, KVM_PORT, 0xf4 };

static int kvm_slot(struct vmm_vm *vm, uint64_t uaddr, uint64_t size)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = KVM_SLOT, .guest_phys_addr = KVM_GPA, .memory_size = size,
		.userspace_addr = uaddr,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &r) ? -errno : 0;
}

/*
 * A VMM as QEMU is one: its guest has 2 MiB of the BAR in a slot over the
 * VMM's mmap, its IOAS the same pages through a DMABUF (*@fd); the guest
 * has read the BAR once (KVM maps the page). Returns 0 or -errno.
 */
static int kvm_vmm(int kvm, struct vmm_vm *vm, int *fd)
{
	uint32_t exit;
	int ret;

	ret = vmm_vm_create(vm, kvm, 0, 0x10000);
	if (ret)
		return ret;
	*fd = export(0, SZ_2M);
	if (*fd < 0)
		return *fd;
	ret = map_file(*fd, SZ_2M, IOVA_A);
	if (!ret)
		ret = kvm_slot(vm, (uintptr_t)iv.bar, SZ_2M);
	if (ret)
		return ret;
	iv.bar[PAGE] = 0x5a;
	ret = vmm_vm_run(vm, code_rd, sizeof(code_rd), KVM_GPA, KVM_PORT, &exit);
	return ret == 0x5a ? 0 : ret < 0 ? ret : -EIO;
}

/* a guest reaches the BAR through a slot over the VMM's mmap; decode off takes it */
static void test_kvm(void)
{
	struct vmm_vm vm;
	uint32_t exit;
	int kvm, fd = -1, ret;

	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0) {
		printf("SKIP: stock-kvm (/dev/kvm: %s)\n", strerror(errno));
		return;
	}
	ret = kvm_vmm(kvm, &vm, &fd);
	if (!lab_expect(ret, 0, "stock-kvm-guest-reads-bar-through-slot-over-mmap")) {
		close(fd);
		close(kvm);
		return;
	}

	/* decode off: VFIO zaps the VMM's mapping (KVM's goes) and revokes the DMABUF */
	lab_expect(vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER), 0, "stock-kvm-mem-off");
	ret = vmm_vm_run(&vm, code_rd, sizeof(code_rd), KVM_GPA, KVM_PORT, &exit);
	LAB_CHECK(ret == -EFAULT, "stock-kvm-guest-refused-mem-off",
		  "the guest's read with decode off gave %d (exit %u), want -EFAULT", ret, exit);
	lab_expect(map_file(fd, SZ_2M, IOVA_B), ENODEV, "stock-kvm-revoked-remap-enodev");

	lab_expect(vfio_config_cmd(iv.fd, MEM_ON), 0, "stock-kvm-mem-on");
	iv.bar[PAGE] = 0xa7;
	ret = vmm_vm_run(&vm, code_rd, sizeof(code_rd), KVM_GPA, KVM_PORT, &exit);
	LAB_CHECK(ret == 0xa7, "stock-kvm-guest-reads-again", "the guest read %d (exit %u), want 0xa7",
		  ret, exit);

	lab_expect(kvm_slot(&vm, 0, 0), 0, "stock-kvm-slot-delete");
	unmap(IOVA_A, SZ_2M);
	close(fd);
	vmm_vm_destroy(&vm);
	close(kvm);
}

#define SZ_1G		0x40000000UL

/* a VMM whose guest has the BAR's first GiB in one slot, mapped huge */
struct huge_vmm {
	struct vmm_vm vm;
	uint8_t *area;		/* 2 GiB of address space around the mapping */
	volatile uint8_t *big;	/* 1 GiB-aligned, the BAR's first GiB */
};

/*
 * The BAR's first GiB in a 1 GiB slot over a 1 GiB-aligned mmap of it,
 * which VFIO maps with one PUD, so that KVM maps the guest's read of
 * @val at PAGE with one 1 GiB entry (2 MiB ones where the CPU has no
 * 1 GiB pages). Returns 0 or -errno; huge_vmm_end() undoes it either way.
 */
static int huge_vmm(int kvm, struct huge_vmm *h, uint8_t val)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = VFIO_PCI_BAR2_REGION_INDEX };
	uint32_t exit;
	int ret;

	h->vm.fd = -1;
	h->big = MAP_FAILED;
	/* 2 GiB of address space, for a 1 GiB-aligned GiB inside */
	h->area = mmap(NULL, 2 * SZ_1G, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (h->area == MAP_FAILED || ioctl(iv.fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	h->big = mmap((void *)(((uintptr_t)h->area + SZ_1G - 1) & ~(SZ_1G - 1)), SZ_1G,
		      PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, iv.fd, ri.offset);
	if (h->big == MAP_FAILED)
		return -errno;
	ret = vmm_vm_create(&h->vm, kvm, 0, 0x10000);
	if (!ret)
		ret = kvm_slot(&h->vm, (uintptr_t)h->big, SZ_1G);
	if (ret)
		return ret;
	h->big[PAGE] = val;
	ret = vmm_vm_run(&h->vm, code_rd, sizeof(code_rd), KVM_GPA, KVM_PORT, &exit);
	return ret == val ? 0 : ret < 0 ? ret : -EIO;
}

/*
 * Split the huge entry as dirty logging does (KVM's eager page splitting):
 * manual dirty-log protection with the bitmap initially set, the slot
 * logged, then the bits of its first 64 pages cleared. 0 or -errno.
 */
static int huge_split(struct huge_vmm *h)
{
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
		.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET,
	};
	struct kvm_userspace_memory_region2 r = {
		.slot = KVM_SLOT, .flags = KVM_MEM_LOG_DIRTY_PAGES, .guest_phys_addr = KVM_GPA,
		.memory_size = SZ_1G, .userspace_addr = (uintptr_t)h->big,
	};
	uint64_t bits = ~0ULL;
	struct kvm_clear_dirty_log c = {
		.slot = KVM_SLOT, .num_pages = 64, .first_page = 0, .dirty_bitmap = &bits,
	};

	if (ioctl(h->vm.fd, KVM_ENABLE_CAP, &cap) ||
	    ioctl(h->vm.fd, KVM_SET_USER_MEMORY_REGION2, &r) ||
	    ioctl(h->vm.fd, KVM_CLEAR_DIRTY_LOG, &c))
		return -errno;
	return 0;
}

static void huge_vmm_end(struct huge_vmm *h)
{
	if (h->vm.fd >= 0) {
		kvm_slot(&h->vm, 0, 0);
		vmm_vm_destroy(&h->vm);
	}
	if (h->area != MAP_FAILED)
		munmap(h->area, 2 * SZ_1G);
}

/*
 * The same with huge pages (huge_vmm()): dirty logging splits the 1 GiB
 * entry (huge_split()) and the guest still reads through the smaller ones;
 * decode off zaps them, decode on maps again, deleting the slot unmaps.
 * The page sizes are what tsmtrace records (its suite checks).
 */
static void test_kvm_huge(void)
{
	struct huge_vmm h;
	uint32_t exit;
	int kvm, ret;

	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0) {
		printf("SKIP: stock-kvm-huge (/dev/kvm: %s)\n", strerror(errno));
		return;
	}
	if (lab_expect(huge_vmm(kvm, &h, 0x6b), 0, "stock-kvm-huge-guest-reads-bar")) {
		lab_expect(huge_split(&h), 0, "stock-kvm-huge-split-by-dirty-logging");
		h.big[PAGE] = 0x6a;
		ret = vmm_vm_run(&h.vm, code_rd, sizeof(code_rd), KVM_GPA, KVM_PORT, &exit);
		LAB_CHECK(ret == 0x6a, "stock-kvm-huge-guest-reads-after-split",
			  "the guest read %d (exit %u)", ret, exit);
		lab_expect(vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER), 0, "stock-kvm-huge-mem-off");
		ret = vmm_vm_run(&h.vm, code_rd, sizeof(code_rd), KVM_GPA, KVM_PORT, &exit);
		LAB_CHECK(ret == -EFAULT, "stock-kvm-huge-guest-refused-mem-off",
			  "the guest's read with decode off gave %d (exit %u), want -EFAULT", ret,
			  exit);
		lab_expect(vfio_config_cmd(iv.fd, MEM_ON), 0, "stock-kvm-huge-mem-on");
		h.big[PAGE] = 0x6c;
		ret = vmm_vm_run(&h.vm, code_rd, sizeof(code_rd), KVM_GPA, KVM_PORT, &exit);
		LAB_CHECK(ret == 0x6c, "stock-kvm-huge-guest-reads-again",
			  "the guest read %d (exit %u)", ret, exit);
		lab_expect(kvm_slot(&h.vm, 0, 0), 0, "stock-kvm-huge-slot-delete");
	}
	huge_vmm_end(&h);
	close(kvm);
}

/* memory decode off and on with vfio_pci_bar_skip_zap armed: 0 or -errno */
static int mem_off_skipping_zap(void)
{
	int ret = lab_fault_arm("vfio_pci_bar_skip_zap", -1, 0);

	if (ret)
		return ret;
	ret = vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER);
	lab_fault_arm("vfio_pci_bar_skip_zap", 0, 0);
	vfio_config_cmd(iv.fd, MEM_ON);
	return ret;
}

/*
 * The zap VFIO forgets with a huge entry: KVM's 1 GiB entry of the BAR's
 * first GiB survives the revoke of a DMABUF of 2 MiB of it
 */
static int broken_zap_huge(int kvm)
{
	struct huge_vmm h;
	int fd, ret;

	fd = export(0, SZ_2M);
	ret = fd < 0 ? fd : huge_vmm(kvm, &h, 0x6d);
	if (!ret)
		ret = mem_off_skipping_zap();
	if (fd >= 0) {
		huge_vmm_end(&h);
		close(fd);
	}
	close(kvm);
	printf("dev %s\ngfn 0x%lx\npfn 0x%llx\n", iv.bdf, KVM_GPA >> 12,
	       (unsigned long long)(iv.bar_start >> 12));
	return ret;
}

/*
 * The zap VFIO forgets: KVM's entry of the BAR page survives the revoke
 * (@huge: a 1 GiB entry, broken_zap_huge())
 */
static int broken_zap(bool huge)
{
	struct vmm_vm vm;
	int kvm, fd = -1, ret;

	kvm = open("/dev/kvm", O_RDWR);
	if (kvm < 0)
		return -errno;
	if (huge)
		return broken_zap_huge(kvm);
	ret = kvm_vmm(kvm, &vm, &fd);
	if (!ret)
		ret = mem_off_skipping_zap();
	kvm_slot(&vm, 0, 0);
	unmap(IOVA_A, SZ_2M);
	close(fd);
	vmm_vm_destroy(&vm);
	close(kvm);
	printf("dev %s\ngfn 0x%lx\npfn 0x%llx\n", iv.bdf, (KVM_GPA + PAGE) >> 12,
	       (unsigned long long)((iv.bar_start + PAGE) >> 12));
	return ret;
}

/* the revoke iommufd never hears of: its IOMMU mapping of the BAR survives */
static int broken_revoke(void)
{
	int fd, ret;

	fd = export(0, SZ_2M);
	if (fd < 0)
		return fd;
	ret = map_file(fd, SZ_2M, IOVA_A);
	if (!ret)
		ret = lab_fault_arm("vfio_pci_dmabuf_skip_notify", -1, 0);
	if (!ret) {
		ret = vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER);
		lab_fault_arm("vfio_pci_dmabuf_skip_notify", 0, 0);
		vfio_config_cmd(iv.fd, MEM_ON);
	}
	unmap(IOVA_A, SZ_2M);
	close(fd);
	printf("dev %s\niova 0x%lx\npfn 0x%llx\n", iv.bdf, IOVA_A,
	       (unsigned long long)(iv.bar_start >> 12));
	return ret;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int storm(unsigned int seconds)
{
	double t0 = now(), t;
	unsigned long n = 0;
	int fd, ret;

	do {
		fd = export(0, SZ_2M);
		if (fd < 0)
			return fd;
		ret = map_file(fd, SZ_2M, IOVA_A);
		if (!ret && unmap(IOVA_A, SZ_2M) != (long)SZ_2M)
			ret = -errno;
		close(fd);
		if (ret)
			return ret;
		n++;
		t = now() - t0;
	} while (t < seconds);
	printf("storm: %lu iterations (%lu transitions) in %.2f s: %.0f transitions/s\n",
	       n, n * 5, t, n * 5 / t);
	return 0;
}

static int hold(void)
{
	struct timespec limit = { .tv_sec = 600 };
	sigset_t usr1;
	int fd, ret;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	fd = export(0, SZ_2M);
	if (fd < 0)
		return fd;
	ret = map_file(fd, SZ_2M, IOVA_A);
	if (!ret) {
		printf("held\n");
		fflush(stdout);
		if (sigtimedwait(&usr1, NULL, &limit) != SIGUSR1)
			ret = -ETIMEDOUT;
		if (!ret)
			ret = vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER);
		if (!ret)
			ret = vfio_config_cmd(iv.fd, MEM_ON);
		if (unmap(IOVA_A, SZ_2M) != (long)SZ_2M && !ret)
			ret = -errno;
	}
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	int ret = setup();

	if (argc == 2 && !strcmp(argv[1], "hold")) {
		if (!ret)
			ret = hold();
		if (ret)
			fprintf(stderr, "stock_dmabuf: hold: %s\n", lab_errname(-ret));
		return ret ? 1 : 0;
	}

	if (argc == 3 && !strcmp(argv[1], "storm")) {
		if (!ret)
			ret = storm(atoi(argv[2]));
		if (ret)
			fprintf(stderr, "stock_dmabuf: storm: %s\n", lab_errname(-ret));
		return ret ? 1 : 0;
	}
	if (argc > 1 && !strcmp(argv[1], "broken-revoke")) {
		if (!ret)
			ret = broken_revoke();
		if (ret)
			fprintf(stderr, "stock_dmabuf: broken-revoke: %s\n", lab_errname(-ret));
		return ret ? 1 : 0;
	}
	if (argc > 1 && !strcmp(argv[1], "broken-zap")) {
		if (!ret)
			ret = broken_zap(argc > 2 && !strcmp(argv[2], "huge"));
		if (ret)
			fprintf(stderr, "stock_dmabuf: broken-zap: %s\n", lab_errname(-ret));
		return ret ? 1 : 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: stock_dmabuf [broken-revoke | broken-zap [huge] | storm SECONDS | hold]\n");
		return 2;
	}
	if (ret) {
		printf("FAIL: stock-setup (%s)\n", lab_errname(-ret));
		return 1;
	}
	test_map();
	test_revoke();
	test_whole_bar();
	test_kvm();
	test_kvm_huge();
	close(iv.fd);
	close(edu.fd);
	close(iommufd);
	ret = lab_dmabuf_count();
	LAB_CHECK(ret == 0, "stock-nothing-left", "dma_buf/bufinfo lists %d DMABUFs", ret);
	return lab_failed;
}
