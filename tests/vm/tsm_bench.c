// SPDX-License-Identifier: GPL-2.0
/*
 * tsm_bench - benchmarks of the series, run in the lab VM
 * (make bench):
 *
 *  - TSM bind + unbind latency of a device whose private layout spans a
 *    4 GiB BAR (ivshmem) against one whose BAR is 1 MiB (edu), and of the
 *    4 GiB BAR cut into many ranges: the kernel's own cost must follow the
 *    number of ranges, not the BAR size;
 *  - DMABUF export + IOAS map + revoke of the whole 4 GiB BAR against a
 *    2 MiB piece of it;
 *  - KVM slot over a DMABUF: create + revoke + delete of a 1 GiB slice
 *    against a 2 MiB one.
 *
 * Under TCG absolute times mean little; the ratios measured in one run do.
 * Prints one "bench: name value unit" line per figure.
 */
#include <stdlib.h>
#include <time.h>

#include "tsm_vmm.h"

#define ITERS		40
#define BAR		2
#define MiB		(1ULL << 20)
#define GiB		(1ULL << 30)
#define IOVA		(1ULL << 32)
#define MEM_ON		(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

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

static void check(int ret, const char *what)
{
	if (ret < 0) {
		fprintf(stderr, "tsm_bench: %s: %s\n", what, strerror(-ret));
		exit(1);
	}
}

static double bench_bind(struct dev *d, const char *holes)
{
	double t[ITERS];

	check(set_attr(d, "tsm_sw/shared", holes), "tsm_sw/shared");
	for (int i = 0; i < ITERS; i++) {
		double t0 = now_us();

		check(bind(d->vdev), "TSM bind");
		check(unbind(d->vdev), "TSM unbind");
		t[i] = now_us() - t0;
	}
	check(set_attr(d, "tsm_sw/shared", "default"), "tsm_sw/shared");
	return median(t, ITERS);
}

/* 31 one-page shared holes spread over the 4 GiB BAR: 32 private ranges */
static void many_holes(char *buf, size_t len)
{
	size_t off = 0;

	for (int i = 1; i < 32; i++)
		off += snprintf(buf + off, len - off, "%s2:%#llx+0x1000", i > 1 ? " " : "",
				(unsigned long long)i << 27);
}

/* export + IOAS map + revoke (memory decode off); the cleanup is not timed */
static double bench_dmabuf(uint64_t length)
{
	double t[ITERS];

	for (int i = 0; i < ITERS; i++) {
		double t0 = now_us();
		int fd = vfio_dmabuf_export(iv.fd, BAR, 0, length, 0);

		check(fd, "VFIO_DEVICE_FEATURE_DMA_BUF");
		check(iommufd_map_file(iommufd, ioas, fd, length, IOVA), "IOMMU_IOAS_MAP_FILE");
		check(vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER), "memory decode off");
		t[i] = now_us() - t0;

		check(vfio_config_cmd(iv.fd, MEM_ON), "memory decode on");
		check(iommufd_ioas_unmap(iommufd, ioas, IOVA, length), "IOMMU_IOAS_UNMAP");
		close(fd);
	}
	return median(t, ITERS);
}

static int slot_set(uint32_t flags, int fd, uint64_t len)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = 1, .flags = flags, .guest_phys_addr = 4 * GiB, .memory_size = len,
		.guest_memfd = fd,
	};

	return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &r) ? -errno : 0;
}

/* KVM slot over a DMABUF slice: create + revoke + delete */
static double bench_slot(uint64_t length)
{
	double t[ITERS];

	for (int i = 0; i < ITERS; i++) {
		int fd = vfio_dmabuf_export(iv.fd, BAR, 0, length, 0);
		double t0;

		check(fd, "VFIO_DEVICE_FEATURE_DMA_BUF");
		t0 = now_us();
		check(slot_set(KVM_MEM_VFIO_DMABUF, fd, length), "KVM slot of a DMABUF");
		check(vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER), "memory decode off");
		check(slot_set(0, -1, 0), "KVM slot deletion");
		t[i] = now_us() - t0;
		check(vfio_config_cmd(iv.fd, MEM_ON), "memory decode on");
		close(fd);
	}
	return median(t, ITERS);
}

int main(void)
{
	double small, big, ranges, d2m, d4g, s2m, s1g;
	char holes[4096];

	check(tsm_setup_bindable("default"), "ivshmem with a vDEVICE");
	check(dev_open(&edu, EDU_VENDOR, EDU_DEVICE, 1), "edu on iommufd");
	check(set_attr(&edu, "tsm/connect", "tsm0"), "edu: tsm/connect");
	check(viommu_alloc(&edu), "edu: vIOMMU");
	check(vdevice_alloc(&edu, 0x78), "edu: vDEVICE");
	check(vfio_config_cmd(iv.fd, MEM_ON), "memory decode on");

	small = bench_bind(&edu, "default");
	big = bench_bind(&iv, "default");
	many_holes(holes, sizeof(holes));
	ranges = bench_bind(&iv, holes);
	printf("bench: tsm-bind-unbind-1MiB-bar %.0f us (median of %d)\n", small, ITERS);
	printf("bench: tsm-bind-unbind-4GiB-bar %.0f us (median of %d)\n", big, ITERS);
	printf("bench: tsm-bind-unbind-4GiB-bar-32-ranges %.0f us (median of %d)\n", ranges, ITERS);
	printf("bench: tsm-bind-ratio-4GiB-vs-1MiB %.2f\n", big / small);
	printf("bench: tsm-bind-ratio-32-ranges-vs-1 %.2f\n", ranges / big);

	d2m = bench_dmabuf(2 * MiB);
	d4g = bench_dmabuf(4 * GiB);
	printf("bench: dmabuf-export-map-revoke-2MiB %.0f us (median of %d)\n", d2m, ITERS);
	printf("bench: dmabuf-export-map-revoke-4GiB %.0f us (median of %d)\n", d4g, ITERS);
	printf("bench: dmabuf-ratio-4GiB-vs-2MiB %.2f\n", d4g / d2m);

	s2m = bench_slot(2 * MiB);
	s1g = bench_slot(GiB);
	printf("bench: kvm-slot-create-revoke-delete-2MiB %.0f us (median of %d)\n", s2m, ITERS);
	printf("bench: kvm-slot-create-revoke-delete-1GiB %.0f us (median of %d)\n", s1g, ITERS);
	printf("bench: kvm-slot-ratio-1GiB-vs-2MiB %.2f\n", s1g / s2m);

	set_attr(&iv, "tsm/disconnect", "tsm0");
	set_attr(&edu, "tsm/disconnect", "tsm0");
	return 0;
}
