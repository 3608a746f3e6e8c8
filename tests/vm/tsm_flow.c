// SPDX-License-Identifier: GPL-2.0
/*
 * tsm_flow - what a VMM does with a TSM-capable device, as one scenario, for
 * tsmtrace to watch (tests/vm/suite-tsmtrace.sh, scripts/demo.sh). It runs
 * on the ivshmem device of the lab; BAR2's first 2 MiB stay shared at bind,
 * the rest becomes private.
 *
 *   tsm_flow good           shared DMABUF of BAR2 -> IOAS map -> unmap, close
 *                           -> bind -> layout -> shared and private DMABUFs
 *                           -> map the shared one -> unbind -> cleanup
 *   tsm_flow broken-revoke  a shared DMABUF over pages that become private
 *                           stays mapped in the IOAS while bind revokes it,
 *                           with vfio_pci_dmabuf_skip_notify armed: the
 *                           kernel forgets to tell iommufd, the mapping
 *                           survives (a kernel bug, on purpose)
 *   tsm_flow tdi-error      bound, DMABUFs mapped; fail_pci_tsm_sw_tdi_error
 *                           puts the TDI into ERROR, the kernel unbinds it
 *   tsm_flow storm [SEC]    for SEC seconds (default 10), as fast as it can:
 *                           export, map, unmap and close a shared DMABUF,
 *                           bind, unbind (14 events); prints the rate, the
 *                           benchmark of tsmtrace's live cost (make bench)
 *
 * Exits 0 when the scenario ran as described, 1 otherwise; whether the
 * kernel kept the invariants is for tsmtrace to say.
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

#define MiB		(1ULL << 20)
#define SHARED_LEN	(2 * MiB)	/* BAR2 [0, 2 MiB) stays shared */
#define IOVA		(1ULL << 32)

static int iommufd, vmfd, devfd;
static uint32_t ioas_id, vdev_id;
static char bdf[300];

static void die(const char *what)
{
	fprintf(stderr, "tsm_flow: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, val, strlen(val)) < 0)
		die(path);
	close(fd);
}

static void ioc(int fd, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fd, req, arg))
		die(what);
}

/* iommufd, a KVM VM, an IOAS, and ivshmem attached to it with a vDEVICE */
static void setup(void)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	char cdev[300], path[400];
	int kvmfd;

	iommufd = open("/dev/iommu", O_RDWR);
	kvmfd = open("/dev/kvm", O_RDWR);
	if (iommufd < 0 || kvmfd < 0)
		die("open /dev/iommu, /dev/kvm");
	vmfd = ioctl(kvmfd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (vmfd < 0)
		die("KVM_CREATE_VM");
	ioc(iommufd, IOMMU_IOAS_ALLOC, &ioas, "IOMMU_IOAS_ALLOC");
	ioas_id = ioas.out_ioas_id;
	if (lab_find_vfio_dev(0x1af4, 0x1110, bdf, sizeof(bdf), cdev, sizeof(cdev)))
		die("ivshmem on vfio-pci");
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/tsm_sw/shared", bdf);
	write_file(path, "2:0x0+0x200000");
	devfd = open(cdev, O_RDWR);
	if (devfd < 0)
		die(cdev);
	bind.iommufd = iommufd;
	ioc(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind, "VFIO_DEVICE_BIND_IOMMUFD");
	if (vmm_tsm_attach(iommufd, devfd, bind.out_devid, ioas_id, vmfd, 7, &vdev_id))
		die("attach, vIOMMU and vDEVICE");
}

static int tsm_op(uint32_t type)
{
	return vmm_tsm_op(iommufd, vdev_id, type);
}

/* a DMABUF of BAR2 [off, off + len) */
static int export(uint64_t off, uint64_t len, uint32_t flags)
{
	int fd = vfio_dmabuf_export(devfd, 2, off, len, flags);

	if (fd < 0)
		die(flags ? "export a private DMABUF" : "export a shared DMABUF");
	return fd;
}

static void map(int fd, uint64_t len)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m), .ioas_id = ioas_id, .fd = fd, .length = len, .iova = IOVA,
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
	};

	ioc(iommufd, IOMMU_IOAS_MAP_FILE, &m, "IOMMU_IOAS_MAP_FILE");
}

/* unmap what is at IOVA; 0 when nothing was left to unmap */
static uint64_t unmap(uint64_t len)
{
	struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas_id, .iova = IOVA,
				      .length = len };

	if (ioctl(iommufd, IOMMU_IOAS_UNMAP, &u))
		return 0;
	return u.length;
}

/* BAR2's layout: prints it, returns VFIO_TSM_LAYOUT_* flags */
static uint32_t layout(void)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_tsm_layout l;
		struct vfio_tsm_range r[8];
	} req = {
		.hdr = { .argsz = sizeof(req),
			 .flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_TSM_LAYOUT },
		.l = { .region_index = 2, .nr_ranges = 8 },
	};
	uint32_t i;

	ioc(devfd, VFIO_DEVICE_FEATURE, &req, "VFIO_DEVICE_FEATURE_TSM_LAYOUT");
	printf("tsm_flow: %s BAR2 state %u flags %#x:", bdf, req.l.state, req.l.out_flags);
	for (i = 0; i < req.l.nr_ranges; i++)
		printf(" %s[%#llx+%#llx]", req.r[i].attr ? "private" : "shared",
		       (unsigned long long)req.r[i].offset, (unsigned long long)req.r[i].length);
	printf("\n");
	return req.l.out_flags;
}

static void fault(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/debug/%s/probability", name);
	write_file(path, "100");
	snprintf(path, sizeof(path), "/sys/kernel/debug/%s/times", name);
	write_file(path, "1");
}

static void step(const char *what)
{
	printf("tsm_flow: %s\n", what);
	fflush(stdout);
}

static int good(void)
{
	int fd, shared, priv;

	step("shared DMABUF of BAR2 [0, 4 MiB), mapped in the IOAS, unmapped, closed");
	fd = export(0, 2 * SHARED_LEN, 0);
	map(fd, 2 * SHARED_LEN);
	unmap(2 * SHARED_LEN);
	close(fd);
	step("bind");
	if (tsm_op(IOMMU_VDEVICE_TSM_BIND))
		die("TSM bind");
	layout();
	step("shared DMABUF of the shared 2 MiB, private DMABUF of the next 2 MiB");
	shared = export(0, SHARED_LEN, 0);
	priv = export(SHARED_LEN, SHARED_LEN, VFIO_DEVICE_DMA_BUF_PRIVATE);
	map(shared, SHARED_LEN);
	step("unbind");
	if (tsm_op(IOMMU_VDEVICE_TSM_UNBIND))
		die("TSM unbind");
	layout();
	unmap(SHARED_LEN);
	close(shared);
	close(priv);
	return 0;
}

static int broken_revoke(void)
{
	uint64_t left;
	int fd;

	step("shared DMABUF of BAR2 [0, 4 MiB) mapped in the IOAS, kept mapped");
	fd = export(0, 2 * SHARED_LEN, 0);
	map(fd, 2 * SHARED_LEN);
	step("vfio_pci_dmabuf_skip_notify armed; bind");
	fault("vfio_pci_dmabuf_skip_notify");
	if (tsm_op(IOMMU_VDEVICE_TSM_BIND))
		die("TSM bind");
	layout();
	left = unmap(2 * SHARED_LEN);
	printf("tsm_flow: after bind the IOAS still mapped %#llx bytes of the revoked DMABUF\n",
	       (unsigned long long)left);
	if (tsm_op(IOMMU_VDEVICE_TSM_UNBIND))
		die("TSM unbind");
	close(fd);
	return left ? 0 : 1;
}

static int tdi_error(void)
{
	int shared, priv, i;

	step("bind; shared and private DMABUFs, the shared one mapped");
	if (tsm_op(IOMMU_VDEVICE_TSM_BIND))
		die("TSM bind");
	shared = export(0, SHARED_LEN, 0);
	priv = export(SHARED_LEN, SHARED_LEN, VFIO_DEVICE_DMA_BUF_PRIVATE);
	map(shared, SHARED_LEN);
	step("fail_pci_tsm_sw_tdi_error armed: the TDI fails");
	fault("fail_pci_tsm_sw_tdi_error");
	for (i = 0; i < 200 && !(layout() & VFIO_TSM_LAYOUT_ERROR_UNBOUND); i++)
		usleep(10000);
	if (i == 200) {
		fprintf(stderr, "tsm_flow: the kernel did not unbind the failed TDI in 2 s\n");
		return 1;
	}
	if (!tsm_op(IOMMU_VDEVICE_TSM_UNBIND) || errno != EINVAL) {
		fprintf(stderr, "tsm_flow: unbind after the error did not fail with EINVAL\n");
		return 1;
	}
	unmap(SHARED_LEN);
	close(shared);
	close(priv);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned int storm_seconds = 10;

static int storm(void)
{
	double t0 = now(), t;
	unsigned long n = 0;
	int fd;

	do {
		fd = export(0, SHARED_LEN, 0);
		map(fd, SHARED_LEN);
		unmap(SHARED_LEN);
		close(fd);
		if (tsm_op(IOMMU_VDEVICE_TSM_BIND) || tsm_op(IOMMU_VDEVICE_TSM_UNBIND))
			die("TSM bind/unbind");
		n++;
		t = now() - t0;
	} while (t < storm_seconds);
	printf("storm: %lu iterations (%lu transitions) in %.2f s: %.0f transitions/s\n",
	       n, n * 14, t, n * 14 / t);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(void);
	} flows[] = {
		{ "good", good }, { "broken-revoke", broken_revoke }, { "tdi-error", tdi_error },
		{ "storm", storm },
	};
	unsigned int i;
	int ret;

	if (argc == 3 && !strcmp(argv[1], "storm"))
		storm_seconds = atoi(argv[2]);
	for (i = 0; (argc == 2 || argc == 3) && i < sizeof(flows) / sizeof(flows[0]); i++) {
		if (strcmp(argv[1], flows[i].name))
			continue;
		setup();
		ret = flows[i].run();
		/* closing the device and iommufd tears the rest down */
		close(devfd);
		close(iommufd);
		close(vmfd);
		step(ret ? "failed" : "done");
		return ret;
	}
	fprintf(stderr, "usage: tsm_flow good|broken-revoke|tdi-error|storm [SECONDS]\n");
	return 2;
}
