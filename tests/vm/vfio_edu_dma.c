// SPDX-License-Identifier: GPL-2.0
/*
 * The edu device really DMAs through the vIOMMU into memory mapped with
 * IOMMU_IOAS_MAP: open the VFIO cdev, bind it to an iommufd, attach it to an
 * IOAS, map two user pages and let the device's DMA engine copy one page into
 * its buffer and back into the other. Then unmap the IOVA and show that the
 * same DMA no longer reaches the memory (the IOMMU translates; nothing
 * bypasses it).
 *
 * The device and its DMA engine: edu.h.
 */
#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include "edu.h"
#include "lab.h"

#define PAGE		4096UL
#define IOVA		0x100000UL	/* below edu's 28-bit DMA mask */
#define XFER		EDU_XFER

static volatile uint8_t *bar0;

static uint32_t rd32(unsigned int off)
{
	return edu_rd32(bar0, off);
}

static int config_rw(int devfd, int write, unsigned int off, void *buf, size_t len)
{
	struct vfio_region_info ri = {
		.argsz = sizeof(ri),
		.index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	ssize_t n;

	if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	n = write ? pwrite(devfd, buf, len, ri.offset + off) :
		    pread(devfd, buf, len, ri.offset + off);
	return n == (ssize_t)len ? 0 : -EIO;
}

int main(void)
{
	char bdf[300], cdev[300];
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_ioas_map map = { .size = sizeof(map) };
	struct iommu_ioas_unmap unmap = { .size = sizeof(unmap) };
	struct vfio_region_info bar = { .argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX };
	uint16_t cmd;
	uint8_t *mem;
	int devfd, iommufd, ret, i, same;

	ret = lab_find_vfio_dev(EDU_VENDOR, EDU_DEVICE, bdf, sizeof(bdf), cdev, sizeof(cdev));
	if (!LAB_CHECK(ret == 0, "edu-vfio-cdev", "edu device or its vfio cdev not found: %s",
		       strerror(-ret)))
		return 1;

	devfd = open(cdev, O_RDWR);
	iommufd = open("/dev/iommu", O_RDWR);
	if (!LAB_CHECK(devfd >= 0 && iommufd >= 0, "edu-open", "open %s / /dev/iommu: %s",
		       cdev, strerror(errno)))
		return 1;

	bind.iommufd = iommufd;
	ret = ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind);
	if (!LAB_CHECK(ret == 0, "edu-bind-iommufd", "VFIO_DEVICE_BIND_IOMMUFD: %s",
		       strerror(errno)))
		return 1;

	ret = ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc);
	if (!LAB_CHECK(ret == 0, "edu-ioas-alloc", "IOMMU_IOAS_ALLOC: %s", strerror(errno)))
		return 1;

	attach.pt_id = alloc.out_ioas_id;
	ret = ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach);
	if (!LAB_CHECK(ret == 0, "edu-attach-ioas", "VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s",
		       strerror(errno)))
		return 1;

	mem = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	for (i = 0; i < (int)PAGE; i++) {
		mem[i] = (uint8_t)(i * 7 + 3);
		mem[PAGE + i] = 0;
	}

	map.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
		    IOMMU_IOAS_MAP_WRITEABLE;
	map.ioas_id = alloc.out_ioas_id;
	map.user_va = (uintptr_t)mem;
	map.length = 2 * PAGE;
	map.iova = IOVA;
	ret = ioctl(iommufd, IOMMU_IOAS_MAP, &map);
	if (!LAB_CHECK(ret == 0, "edu-ioas-map", "IOMMU_IOAS_MAP: %s", strerror(errno)))
		return 1;

	ret = ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &bar);
	if (ret || !(bar.flags & VFIO_REGION_INFO_FLAG_MMAP))
		return LAB_CHECK(0, "edu-bar0-mmap", "BAR0 not mmap-able"), 1;
	bar0 = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, devfd, bar.offset);
	if (!LAB_CHECK(bar0 != MAP_FAILED, "edu-bar0-mmap", "mmap BAR0: %s", strerror(errno)))
		return 1;

	LAB_CHECK(rd32(EDU_REG_ID) == 0x010000ed, "edu-id", "id register reads %#x", rd32(EDU_REG_ID));
	edu_wr32(bar0, EDU_REG_LIVENESS, 0x12345678);
	LAB_CHECK(rd32(EDU_REG_LIVENESS) == ~0x12345678u, "edu-liveness", "liveness reads %#x",
		  rd32(EDU_REG_LIVENESS));

	/* bus mastering, so the device may DMA at all */
	if (config_rw(devfd, 0, PCI_COMMAND, &cmd, sizeof(cmd)) == 0) {
		cmd |= PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY;
		config_rw(devfd, 1, PCI_COMMAND, &cmd, sizeof(cmd));
	}

	ret = edu_dma(bar0, IOVA, EDU_BUF, XFER, 0);
	if (!ret)
		ret = edu_dma(bar0, EDU_BUF, IOVA + PAGE, XFER, 1);
	LAB_CHECK(ret == 0, "edu-dma-complete", "DMA engine did not finish");
	LAB_CHECK(memcmp(mem, mem + PAGE, XFER) == 0, "edu-dma-through-viommu",
		  "the page written by the device differs from the page it read");

	/* unmap, and the device can no longer reach the page */
	unmap.ioas_id = alloc.out_ioas_id;
	unmap.iova = IOVA;
	unmap.length = 2 * PAGE;
	ret = ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap);
	LAB_CHECK(ret == 0 && unmap.length == 2 * PAGE, "edu-ioas-unmap", "IOMMU_IOAS_UNMAP: %s",
		  strerror(errno));
	memset(mem + PAGE, 0x5a, PAGE);
	edu_dma(bar0, EDU_BUF, IOVA + PAGE, XFER, 1);
	for (same = 1, i = 0; i < (int)PAGE; i++)
		if (mem[PAGE + i] != 0x5a)
			same = 0;
	LAB_CHECK(same, "edu-dma-blocked-after-unmap",
		  "a DMA to an unmapped IOVA changed memory: the IOMMU did not translate");

	munmap((void *)bar0, bar.size);
	close(devfd);
	close(iommufd);
	return lab_failed;
}
