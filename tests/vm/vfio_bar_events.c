// SPDX-License-Identifier: GPL-2.0
/*
 * vfio_bar_events - the vfio_pci events of the series: every
 * host CPU mapping of BAR pages through the VFIO region mmap is announced
 * (vfio_pci_bar_map, from the fault that inserts it: one page, a PMD or a
 * PUD) and every zap of a device's BAR mappings (vfio_pci_bar_zap, one per
 * mmap-able BAR), so a checker can tell which host mappings may exist.
 *
 * On ivshmem's 4 GiB BAR2: a one-page mapping faults one page; a mapping of
 * the whole BAR, aligned, faults a huge page that covers the touched
 * offset; memory decode off zaps the BARs (both mmap-able ones, BAR0 of 256
 * bytes and BAR2, announced with their whole range) and the next touch
 * after decode on faults again.
 * One PASS:/FAIL: line per case; exits 1 when one failed.
 */
#include <stdint.h>
#include <sys/mman.h>

#include <linux/iommufd.h>

#include "lab.h"
#include "vfio_dev.h"

#define IV_VENDOR	0x1af4
#define IV_DEVICE	0x1110
#define PAGE		0x1000UL
#define SZ_2M		0x200000UL
#define SZ_1G		0x40000000UL
#define MEM_ON		(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

static int devfd = -1;
static char bdf[300];
static unsigned long long bar_start, dev_id;
static uint64_t bar_size;

/* "dev=D bar=2 pfn=P npfns=N" of a vfio_pci event */
static const char *m_bar(unsigned int bar, unsigned long long pfn, unsigned long long npfns)
{
	static char m[160];

	snprintf(m, sizeof(m), "dev=%04llx:%02llx:%02llx.%llx bar=%u pfn=%#llx npfns=%llu",
		 dev_id >> 16, (dev_id >> 8) & 0xff, (dev_id >> 3) & 0x1f, dev_id & 7,
		 bar, pfn, npfns);
	return m;
}

/* the npfns of the vfio_pci_bar_map event that covers BAR2 offset @off, 0 if none */
static unsigned long long mapped_npfns(uint64_t off)
{
	static const unsigned long long sizes[] = { 1, 512, 262144 };
	unsigned long long pfn = (bar_start + off) / PAGE;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned long long first = pfn & ~(sizes[i] - 1);

		if (lab_trace_count("vfio_pci_bar_map", m_bar(2, first, sizes[i])) == 1)
			return sizes[i];
	}
	return 0;
}

/* an mmap of @len bytes of BAR2 from @off, at an address aligned to @align */
static volatile uint8_t *map_bar2(uint64_t off, size_t len, size_t align)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = VFIO_PCI_BAR2_REGION_INDEX };
	uint8_t *hole, *at;
	void *p;

	if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return NULL;
	/* reserve len + align, map at the first aligned address inside */
	hole = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		    -1, 0);
	if (hole == MAP_FAILED)
		return NULL;
	at = (uint8_t *)(((uintptr_t)hole + align - 1) & ~(uintptr_t)(align - 1));
	p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, devfd,
		 ri.offset + off);
	return p == MAP_FAILED ? NULL : p;
}

static int setup(void)
{
	int iommufd = open("/dev/iommu", O_RDWR), ret;
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	uint32_t id, ioas = 0;
	uint8_t *ram;

	if (iommufd < 0)
		return -errno;
	ret = iommufd_ioas_with_ram(iommufd, 0x100000, 1, &ioas, &ram);
	if (!ret)
		ret = vfio_cdev_bind(IV_VENDOR, IV_DEVICE, iommufd, bdf, sizeof(bdf), &devfd, &id);
	if (ret)
		return ret;
	attach.pt_id = ioas;
	if (ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return -errno;
	ret = vfio_config_cmd(devfd, MEM_ON);
	if (ret)
		return ret;
	bar_start = lab_bar_start(bdf, 2);
	if (!vfio_region_mmap(devfd, VFIO_PCI_BAR2_REGION_INDEX, PAGE, &bar_size) ||
	    !bar_start)
		return -EIO;
	{
		unsigned int dom, bus, slot, fn;

		if (sscanf(bdf, "%x:%x:%x.%x", &dom, &bus, &slot, &fn) != 4)
			return -EINVAL;
		dev_id = (unsigned long long)dom << 16 | bus << 8 | slot << 3 | fn;
	}
	return lab_trace_event("vfio_pci", 1);
}

int main(void)
{
	volatile uint8_t *small, *whole;
	unsigned long long n;
	int ret = setup(), z;

	if (ret) {
		printf("FAIL: vfio-bar-events-setup (%s)\n", lab_errname(-ret));
		return 1;
	}

	/* one page, mapped at offset 1 MiB + 4 KiB */
	lab_trace_clear();
	small = map_bar2(SZ_2M / 2 + PAGE, PAGE, PAGE);
	if (LAB_CHECK(small, "vfio-bar-map-small", "mmap: %s", strerror(errno))) {
		(void)small[0];
		LAB_CHECK(lab_trace_count("vfio_pci_bar_map", NULL) == 1 &&
			  mapped_npfns(SZ_2M / 2 + PAGE) == 1, "vfio-bar-map-event-page",
			  "want one vfio_pci_bar_map of one page at pfn %#llx",
			  (bar_start + SZ_2M / 2 + PAGE) / PAGE);
		(void)small[8];
		LAB_CHECK(lab_trace_count("vfio_pci_bar_map", NULL) == 1,
			  "vfio-bar-map-once-per-fault", "a second touch of the page faulted again");
	}

	/* the whole 4 GiB BAR, 1 GiB aligned: a huge page covers what is touched */
	lab_trace_clear();
	whole = map_bar2(0, bar_size, SZ_1G);
	if (LAB_CHECK(whole, "vfio-bar-map-whole", "mmap of %llu bytes: %s",
		      (unsigned long long)bar_size, strerror(errno))) {
		(void)whole[3 * SZ_2M + PAGE];
		n = mapped_npfns(3 * SZ_2M + PAGE);
		LAB_CHECK(n == 512 || n == 262144, "vfio-bar-map-event-huge",
			  "the fault at BAR2 + 6 MiB mapped %llu page(s), want a PMD or a PUD", n);
		printf("# the fault at BAR2 + 6 MiB mapped %llu pages\n", n);
	}

	/* memory decode off zaps every mmap-able BAR; on again, a touch faults again */
	lab_trace_clear();
	lab_expect(vfio_config_cmd(devfd, PCI_COMMAND_MASTER), 0, "vfio-bar-mem-off");
	z = lab_trace_count("vfio_pci_bar_zap", m_bar(2, bar_start / PAGE, bar_size / PAGE));
	LAB_CHECK(z == 1, "vfio-bar-zap-event-bar2", "%d vfio_pci_bar_zap with '%s'", z,
		  m_bar(2, bar_start / PAGE, bar_size / PAGE));
	/* ivshmem's BAR0 (256 bytes) is mmap-able too: VFIO reserves the rest of its page */
	z = lab_trace_count("vfio_pci_bar_zap", m_bar(0, lab_bar_start(bdf, 0) / PAGE, 1));
	LAB_CHECK(z == 1, "vfio-bar-zap-event-bar0", "%d vfio_pci_bar_zap with '%s'", z,
		  m_bar(0, lab_bar_start(bdf, 0) / PAGE, 1));
	LAB_CHECK(lab_trace_count("vfio_pci_bar_zap", NULL) == 2, "vfio-bar-zap-two-bars",
		  "%d vfio_pci_bar_zap events, want BAR0 and BAR2",
		  lab_trace_count("vfio_pci_bar_zap", NULL));
	lab_expect(vfio_config_cmd(devfd, MEM_ON), 0, "vfio-bar-mem-on");
	lab_trace_clear();
	if (whole) {
		(void)whole[3 * SZ_2M + PAGE];
		n = mapped_npfns(3 * SZ_2M + PAGE);
		LAB_CHECK(n >= 1, "vfio-bar-map-after-zap", "no vfio_pci_bar_map after the zap");
	}
	return lab_failed;
}
