// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmarks of the kernel series, run in the lab VM (make bench):
 *
 *  - TSM bind + unbind latency of a device whose private layout spans a
 *    4 GiB BAR (ivshmem) against one whose BAR is 1 MiB (edu), and of the
 *    4 GiB BAR cut into many ranges: the kernel's own cost must follow the
 *    number of ranges, not the BAR size;
 *  - DMABUF export + IOAS map + revoke of the whole 4 GiB BAR against a
 *    2 MiB piece of it.
 *
 * Under TCG absolute times mean little; the ratios measured in one run do.
 * Prints one "bench: name value unit" line per figure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "lab.h"
#include "vmm.h"

#define ITERS		40

struct bench_dev {
	const char *name;
	char bdf[300];
	int devfd;
	uint32_t dev_id;
	uint32_t vdev_id;
};

static int iommufd, kvmfd, vmfd;
static uint32_t ioas_id;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void die(const char *what)
{
	fprintf(stderr, "tsm_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		die(path);
	close(fd);
}

static void set_holes(struct bench_dev *d, const char *holes)
{
	char path[400];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/tsm_sw/shared", d->bdf);
	write_file(path, holes);
}

/* Open the device's cdev, bind it to iommufd, attach it to a HWPT of the
 * IOAS and give it a vDEVICE on a vIOMMU of the VM. */
static void dev_setup(struct bench_dev *d, unsigned int vendor, unsigned int device,
		      uint64_t virt_id)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .flags = 0 };
	char cdev[300];

	if (lab_find_vfio_dev(vendor, device, d->bdf, sizeof(d->bdf), cdev, sizeof(cdev)))
		die(d->name);
	d->devfd = open(cdev, O_RDWR);
	if (d->devfd < 0)
		die(cdev);
	bind.iommufd = iommufd;
	if (ioctl(d->devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		die("VFIO_DEVICE_BIND_IOMMUFD");
	d->dev_id = bind.out_devid;
	if (vmm_tsm_attach(iommufd, d->devfd, d->dev_id, ioas_id, vmfd, virt_id, &d->vdev_id))
		die("attach, vIOMMU and vDEVICE");
}

static void tsm_op(struct bench_dev *d, uint32_t type)
{
	if (vmm_tsm_op(iommufd, d->vdev_id, type))
		die(type == IOMMU_VDEVICE_TSM_BIND ? "TSM bind" : "TSM unbind");
}

static double bench_bind(struct bench_dev *d, const char *holes)
{
	double t[ITERS];
	int i;

	set_holes(d, holes);
	for (i = 0; i < ITERS; i++) {
		double t0 = now_us();

		tsm_op(d, IOMMU_VDEVICE_TSM_BIND);
		tsm_op(d, IOMMU_VDEVICE_TSM_UNBIND);
		t[i] = now_us() - t0;
	}
	set_holes(d, "default");
	return median(t, ITERS);
}

/* 31 one-page shared holes spread over the 4 GiB BAR: 32 private ranges */
static void many_holes(char *buf, size_t len)
{
	size_t off = 0;
	int i;

	for (i = 1; i < 32; i++)
		off += snprintf(buf + off, len - off, "%s2:%#llx+0x1000", i > 1 ? " " : "",
				(unsigned long long)i << 27);
}

static int export_shared(struct bench_dev *d, uint64_t length)
{
	int fd = vfio_dmabuf_export(d->devfd, 2, 0, length, 0);

	if (fd < 0)
		die("VFIO_DEVICE_FEATURE_DMA_BUF");
	return fd;
}

static void config_cmd(struct bench_dev *d, uint16_t cmd)
{
	if (vfio_config_cmd(d->devfd, cmd))
		die("config write");
}

/* export + IOAS map + revoke (memory decode off), cleanup not timed */
static double bench_dmabuf(struct bench_dev *d, uint64_t length)
{
	struct iommu_ioas_map_file map = {
		.size = sizeof(map), .ioas_id = ioas_id,
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.iova = 1ULL << 32,
	};
	struct iommu_ioas_unmap unmap = { .size = sizeof(unmap), .ioas_id = ioas_id };
	double t[ITERS];
	int i;

	for (i = 0; i < ITERS; i++) {
		double t0 = now_us();
		int fd = export_shared(d, length);

		map.fd = fd;
		map.length = length;
		if (ioctl(iommufd, IOMMU_IOAS_MAP_FILE, &map))
			die("IOMMU_IOAS_MAP_FILE");
		config_cmd(d, PCI_COMMAND_MASTER);	/* memory decode off: revoke */
		t[i] = now_us() - t0;

		config_cmd(d, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY);
		unmap.iova = map.iova;
		unmap.length = length;
		if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap))
			die("IOMMU_IOAS_UNMAP");
		close(fd);
	}
	return median(t, ITERS);
}

int main(void)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct bench_dev edu = { .name = "edu" }, ivs = { .name = "ivshmem" };
	double small, big, ranges, d2m, d4g;
	char holes[4096];

	iommufd = open("/dev/iommu", O_RDWR);
	kvmfd = open("/dev/kvm", O_RDWR);
	if (iommufd < 0 || kvmfd < 0)
		die("open /dev/iommu, /dev/kvm");
	vmfd = ioctl(kvmfd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (vmfd < 0)
		vmfd = ioctl(kvmfd, KVM_CREATE_VM, 0);
	if (vmfd < 0)
		die("KVM_CREATE_VM");
	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc))
		die("IOMMU_IOAS_ALLOC");
	ioas_id = alloc.out_ioas_id;
	dev_setup(&edu, 0x1234, 0x11e8, 1);
	dev_setup(&ivs, 0x1af4, 0x1110, 2);

	small = bench_bind(&edu, "default");
	big = bench_bind(&ivs, "default");
	many_holes(holes, sizeof(holes));
	ranges = bench_bind(&ivs, holes);
	printf("bench: tsm-bind-unbind-1MiB-bar %.0f us (median of %d)\n", small, ITERS);
	printf("bench: tsm-bind-unbind-4GiB-bar %.0f us (median of %d)\n", big, ITERS);
	printf("bench: tsm-bind-unbind-4GiB-bar-32-ranges %.0f us (median of %d)\n", ranges, ITERS);
	printf("bench: tsm-bind-ratio-4GiB-vs-1MiB %.2f\n", big / small);
	printf("bench: tsm-bind-ratio-32-ranges-vs-1 %.2f\n", ranges / big);

	d2m = bench_dmabuf(&ivs, 2ULL << 20);
	d4g = bench_dmabuf(&ivs, 4ULL << 30);
	printf("bench: dmabuf-export-map-revoke-2MiB %.0f us (median of %d)\n", d2m, ITERS);
	printf("bench: dmabuf-export-map-revoke-4GiB %.0f us (median of %d)\n", d4g, ITERS);
	printf("bench: dmabuf-ratio-4GiB-vs-2MiB %.2f\n", d4g / d2m);
	return 0;
}
