/* SPDX-License-Identifier: GPL-2.0 */
/*
 * VFIO and iommufd helpers that use mainline's uAPI only, so that the programs
 * of the patched kernel (tests/vm) and of the stock kernel (tests/stock)
 * share them. Each returns 0 (or a pointer) on success, -errno (or NULL)
 * on failure.
 */
#ifndef TSM_VFIO_DEV_H
#define TSM_VFIO_DEV_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/udmabuf.h>
#include <linux/vfio.h>

#include "lab.h"

/* Write the PCI command register through the VFIO config region. */
static inline int vfio_config_cmd(int devfd, uint16_t cmd)
{
	struct vfio_region_info ri = {
		.argsz = sizeof(ri), .index = VFIO_PCI_CONFIG_REGION_INDEX,
	};

	if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	return pwrite(devfd, &cmd, sizeof(cmd), ri.offset + PCI_COMMAND) == sizeof(cmd) ?
		0 : -errno;
}

/* Map the first @len bytes of region @index; its size in @size if not NULL. */
static inline volatile uint8_t *vfio_region_mmap(int devfd, uint32_t index, size_t len,
						 uint64_t *size)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };
	void *p;

	if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return NULL;
	if (size)
		*size = ri.size;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, devfd, ri.offset);
	return p == MAP_FAILED ? NULL : p;
}

/* A DMABUF of [off, off + len) of @bar (VFIO_DEVICE_FEATURE_DMA_BUF): its fd. */
static inline int vfio_dmabuf_export(int devfd, uint32_t bar, uint64_t off, uint64_t len,
				     uint32_t flags)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_dma_buf get;
		struct vfio_region_dma_range range;
	} req = {
		.hdr = { .argsz = sizeof(req),
			 .flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF },
		.get = { .region_index = bar, .open_flags = O_RDWR | O_CLOEXEC,
			 .flags = flags, .nr_ranges = 1 },
		.range = { .offset = off, .length = len },
	};
	int fd = ioctl(devfd, VFIO_DEVICE_FEATURE, &req);

	return fd < 0 ? -errno : fd;
}

/*
 * A new IOAS of @iommufd in @ioas with @npages pages of fresh anonymous
 * memory (in @ram) mapped read-write at @iova.
 */
static inline int iommufd_ioas_with_ram(int iommufd, uint64_t iova, size_t npages,
					uint32_t *ioas, uint8_t **ram)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.length = npages * 4096, .iova = iova,
	};
	void *p;

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return -errno;
	*ioas = alloc.out_ioas_id;
	p = mmap(NULL, map.length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	*ram = p;
	map.ioas_id = *ioas;
	map.user_va = (uintptr_t)p;
	return ioctl(iommufd, IOMMU_IOAS_MAP, &map) ? -errno : 0;
}

/* Map [0, @len) of the DMABUF @fd read-write at @iova of @ioas. */
static inline int iommufd_map_file(int iommufd, uint32_t ioas, int fd, uint64_t len,
				   uint64_t iova)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas, .fd = fd, .start = 0, .length = len, .iova = iova,
	};

	return ioctl(iommufd, IOMMU_IOAS_MAP_FILE, &m) ? -errno : 0;
}

/* Unmap [@iova, @iova + @len) of @ioas: the length unmapped, or -errno. */
static inline long iommufd_ioas_unmap(int iommufd, uint32_t ioas, uint64_t iova, uint64_t len)
{
	struct iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = len,
	};

	return ioctl(iommufd, IOMMU_IOAS_UNMAP, &u) ? -errno : (long)u.length;
}

/* DMABUFs the kernel still has: "Total N objects" of dma_buf/bufinfo, or -1 */
static inline int lab_dmabuf_count(void)
{
	char line[512];
	FILE *f = fopen(LAB_DEBUGFS "/dma_buf/bufinfo", "r");
	int n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Total %d objects", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * Open the VFIO cdev of the lab device @vendor:@device (its BDF in @bdf)
 * and bind it to @iommufd: the device fd in @fd, its iommufd id in @id.
 */
static inline int vfio_cdev_bind(unsigned int vendor, unsigned int device, int iommufd,
				 char *bdf, size_t bdf_len, int *fd, uint32_t *id)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };
	char cdev[300];
	int ret;

	ret = lab_find_vfio_dev(vendor, device, bdf, bdf_len, cdev, sizeof(cdev));
	if (ret)
		return ret;
	*fd = open(cdev, O_RDWR);
	if (*fd < 0)
		return -errno;
	if (ioctl(*fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return -errno;
	*id = bind.out_devid;
	return 0;
}

/*
 * A udmabuf of @size bytes over a sealed memfd: a DMABUF whose exporter
 * cannot tell physical ranges (importers that need them refuse it).
 */
static inline int vmm_udmabuf(size_t size)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = size };
	int memfd = memfd_create("udmabuf", MFD_ALLOW_SEALING), dev, buf;

	if (memfd < 0)
		return -errno;
	if (ftruncate(memfd, size) || fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		buf = -errno;
		close(memfd);
		return buf;
	}
	c.memfd = memfd;
	dev = open("/dev/udmabuf", O_RDWR);
	buf = dev < 0 ? -errno : ioctl(dev, UDMABUF_CREATE, &c);
	if (dev >= 0 && buf < 0)
		buf = -errno;
	if (dev >= 0)
		close(dev);
	close(memfd);
	return buf;
}

#endif /* TSM_VFIO_DEV_H */
