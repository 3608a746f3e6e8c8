// SPDX-License-Identifier: GPL-2.0
/*
 * tsm_flow - what a VMM does with a TSM-capable device on the series'
 * Linux 7.3 kernel, as one scenario, for tsmtrace to watch
 * (tests/vm/suite-tsmtrace.sh, scripts/demo.sh). It runs on the lab's
 * ivshmem in a software-protected VM; BAR2's first 2 MiB stay shared at
 * bind, the rest becomes private.
 *
 *   tsm_flow good           shared DMABUF of BAR2 -> IOAS map -> unmap, close
 *                           -> bind -> layout -> shared and private DMABUFs
 *                           -> the shared one in the IOAS and a shared KVM
 *                           slot, the private one in a private slot ->
 *                           unbind (the private slot is zapped) -> cleanup
 *   tsm_flow broken-revoke  a shared DMABUF over pages that become private
 *                           stays mapped in the IOAS while bind revokes it,
 *                           with vfio_pci_dmabuf_skip_notify armed: the
 *                           kernel forgets to tell iommufd, the mapping
 *                           survives (a kernel bug, on purpose)
 *   tsm_flow tdi-error      bound, DMABUFs mapped and in slots;
 *                           fail_pci_tsm_sw_tdi_error puts the TDI into
 *                           ERROR, the kernel unbinds it
 *   tsm_flow cpu-map        the VMM maps 4 MiB of BAR2 with the host CPU and
 *                           touches a page in each half; bind zaps it, the
 *                           shared page is touched again -> unbind
 *   tsm_flow broken-zap     a page of BAR2 that becomes private is mapped by
 *                           the host CPU; vfio_pci_bar_skip_zap armed: bind
 *                           forgets to zap it, the host still reads it (a
 *                           kernel bug, on purpose)
 *   tsm_flow hold           bound, DMABUFs mapped and in slots, as in good;
 *                           prints "held" and waits for SIGUSR1, then
 *                           unbinds and cleans up (tsmtrace started late)
 *   tsm_flow hold-mmap      a page of BAR2 mapped by the host CPU, every
 *                           file closed but the mapping; prints "held",
 *                           waits for SIGUSR1, unmaps it
 *   tsm_flow storm [SEC]    for SEC seconds (default 10), as fast as it can:
 *                           export, map, unmap and close a shared DMABUF,
 *                           bind, unbind (14 events); prints the rate, the
 *                           benchmark of tsmtrace's live cost (make bench)
 *
 * Exits 0 when the scenario ran as described, 1 otherwise; whether the
 * kernel kept the invariants is for tsmtrace to say.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "tsm_vmm.h"

#define BAR		2
#define MiB		(1ULL << 20)
#define SHARED_LEN	(2 * MiB)	/* BAR2 [0, 2 MiB) stays shared */
#define HOLES		"2:0x0+0x200000"
#define IOVA		(1ULL << 32)
#define SLOT_GPA	(1ULL << 32)	/* the shared slot; the private one after it */

static void die(const char *what, int err)
{
	fprintf(stderr, "tsm_flow: %s: %s\n", what, strerror(err));
	exit(1);
}

static void step(const char *what)
{
	printf("tsm_flow: %s\n", what);
	fflush(stdout);
}

/* a DMABUF of BAR2 [off, off + len) */
static int export(uint64_t off, uint64_t len, uint32_t flags)
{
	int fd = vfio_dmabuf_export(iv.fd, BAR, off, len, flags);

	if (fd < 0)
		die(flags ? "export a private DMABUF" : "export a shared DMABUF", -fd);
	return fd;
}

static void map(int fd, uint64_t len)
{
	int ret = iommufd_map_file(iommufd, ioas, fd, len, IOVA);

	if (ret)
		die("IOMMU_IOAS_MAP_FILE", -ret);
}

/* unmap what is at IOVA; 0 when nothing was left to unmap */
static uint64_t unmap(uint64_t len)
{
	long ret = iommufd_ioas_unmap(iommufd, ioas, IOVA, len);

	return ret < 0 ? 0 : ret;
}

static void op(uint32_t type)
{
	int ret = type == IOMMU_VDEVICE_TSM_BIND ? bind(iv.vdev) : unbind(iv.vdev);

	if (ret)
		die(type == IOMMU_VDEVICE_TSM_BIND ? "TSM bind" : "TSM unbind", -ret);
}

/* a KVM_MEM_VFIO_DMABUF slot @id of @len bytes of @fd at @gpa, or delete it */
static void slot(uint32_t id, int fd, uint64_t gpa, uint64_t len)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = id, .flags = len ? KVM_MEM_VFIO_DMABUF : 0, .guest_phys_addr = gpa,
		.memory_size = len, .guest_memfd = fd,
	};

	if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &r))
		die(len ? "KVM slot of a DMABUF" : "KVM slot deletion", errno);
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
		.l = { .region_index = BAR, .nr_ranges = 8 },
	};
	uint32_t i;

	if (ioctl(iv.fd, VFIO_DEVICE_FEATURE, &req))
		die("VFIO_DEVICE_FEATURE_TSM_LAYOUT", errno);
	printf("tsm_flow: %s BAR2 %s:", iv.bdf,
	       req.l.out_flags & VFIO_TSM_LAYOUT_BOUND ? "bound" : "not bound");
	for (i = 0; i < req.l.nr_ranges && i < 8; i++)
		printf(" %s[%#llx+%#llx]", req.r[i].attr ? "private" : "shared",
		       (unsigned long long)req.r[i].offset, (unsigned long long)req.r[i].length);
	printf("\n");
	return req.l.out_flags;
}

static void fault(const char *name)
{
	int ret = lab_fault_arm(name, 1, 1);

	if (ret)
		die(name, -ret);
}

/*
 * While bound: a shared DMABUF of the shared 2 MiB in the IOAS and in a
 * shared slot, a private one of the next 2 MiB in a private slot.
 */
static void share_and_slots(int *shared, int *priv)
{
	*shared = export(0, SHARED_LEN, 0);
	*priv = export(SHARED_LEN, SHARED_LEN, VFIO_DMA_BUF_PRIVATE);
	map(*shared, SHARED_LEN);
	slot(1, *shared, SLOT_GPA, SHARED_LEN);
	slot(2, *priv, SLOT_GPA + SHARED_LEN, SHARED_LEN);
}

/* after the unbind: the slots, the IOAS area and the DMABUFs go */
static void cleanup(int shared, int priv)
{
	slot(2, -1, 0, 0);
	slot(1, -1, 0, 0);
	unmap(SHARED_LEN);
	close(shared);
	close(priv);
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
	op(IOMMU_VDEVICE_TSM_BIND);
	layout();
	step("shared DMABUF of the shared 2 MiB in the IOAS and a shared slot, private DMABUF of the next 2 MiB in a private slot");
	share_and_slots(&shared, &priv);
	step("unbind");
	op(IOMMU_VDEVICE_TSM_UNBIND);
	layout();
	cleanup(shared, priv);
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
	op(IOMMU_VDEVICE_TSM_BIND);
	layout();
	left = unmap(2 * SHARED_LEN);
	printf("tsm_flow: after bind the IOAS still mapped %#llx bytes of the revoked DMABUF\n",
	       (unsigned long long)left);
	op(IOMMU_VDEVICE_TSM_UNBIND);
	close(fd);
	return left ? 0 : 1;
}

/* BAR2 [0, 4 MiB) mapped by the host CPU */
static volatile uint8_t *bar_map(void)
{
	volatile uint8_t *p = vfio_region_mmap(iv.fd, BAR, 2 * SHARED_LEN, NULL);

	if (!p)
		die("mmap of BAR2", errno);
	return p;
}

static int cpu_map(void)
{
	volatile uint8_t *p = bar_map();

	step("BAR2 [0, 4 MiB) mapped by the host CPU, a page of each half touched");
	(void)p[0];
	(void)p[SHARED_LEN + 0x1000];
	step("bind (the BAR's mappings are zapped)");
	op(IOMMU_VDEVICE_TSM_BIND);
	step("the shared page touched again");
	(void)p[0];
	step("unbind");
	op(IOMMU_VDEVICE_TSM_UNBIND);
	munmap((void *)p, 2 * SHARED_LEN);
	return 0;
}

static int broken_zap(void)
{
	volatile uint8_t *p = bar_map();
	uint8_t v;

	step("a page of BAR2 that becomes private mapped by the host CPU and touched");
	p[SHARED_LEN + 0x1000] = 0x5a;
	step("vfio_pci_bar_skip_zap armed; bind");
	fault("vfio_pci_bar_skip_zap");
	op(IOMMU_VDEVICE_TSM_BIND);
	lab_fault_arm("vfio_pci_bar_skip_zap", 0, 1);
	v = p[SHARED_LEN + 0x1000];
	printf("tsm_flow: after bind the host still read the private page: 0x%02x\n", v);
	op(IOMMU_VDEVICE_TSM_UNBIND);
	munmap((void *)p, 2 * SHARED_LEN);
	return v == 0x5a ? 0 : 1;
}

static int tdi_error(void)
{
	int shared, priv, i;

	step("bind; shared and private DMABUFs, the shared one mapped, both in slots");
	op(IOMMU_VDEVICE_TSM_BIND);
	share_and_slots(&shared, &priv);
	step("fail_pci_tsm_sw_tdi_error armed: the TDI fails");
	fault("fail_pci_tsm_sw_tdi_error");
	for (i = 0; i < 200 && (layout() & VFIO_TSM_LAYOUT_BOUND); i++)
		usleep(10000);
	lab_fault_arm("fail_pci_tsm_sw_tdi_error", 0, 1);
	if (i == 200) {
		fprintf(stderr, "tsm_flow: the kernel did not unbind the failed TDI in 2 s\n");
		return 1;
	}
	step("the kernel unbound it; UNBIND changes nothing more");
	op(IOMMU_VDEVICE_TSM_UNBIND);
	cleanup(shared, priv);
	return 0;
}

/* "held", then wait for SIGUSR1 (blocked since main) */
static void held(void)
{
	sigset_t none;

	sigemptyset(&none);
	step("held");
	sigsuspend(&none);
}

static void on_usr1(int sig)
{
	(void)sig;
}

static int hold(void)
{
	int shared, priv;

	step("bind; shared and private DMABUFs, the shared one mapped, both in slots");
	op(IOMMU_VDEVICE_TSM_BIND);
	share_and_slots(&shared, &priv);
	held();
	step("unbind");
	op(IOMMU_VDEVICE_TSM_UNBIND);
	cleanup(shared, priv);
	return 0;
}

static int hold_mmap(void)
{
	volatile uint8_t *p = vfio_region_mmap(iv.fd, BAR, 4096, NULL);

	if (!p)
		die("mmap of BAR2", errno);
	(void)p[0];
	step("a page of BAR2 mapped; every file closed but the mapping");
	close(iv.fd);
	iv.fd = -1;
	close(vmm_kvm_vfio);
	close(vm_fd);
	vm_fd = -1;
	close(iommufd);
	iommufd = -1;
	held();
	munmap((void *)p, 4096);
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
		op(IOMMU_VDEVICE_TSM_BIND);
		op(IOMMU_VDEVICE_TSM_UNBIND);
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
		{ "storm", storm }, { "hold", hold }, { "hold-mmap", hold_mmap },
		{ "cpu-map", cpu_map }, { "broken-zap", broken_zap },
	};
	unsigned int i;
	sigset_t usr1;
	int ret;

	/* for a hold: SIGUSR1 is taken when it waits, never before */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	signal(SIGUSR1, on_usr1);

	if (argc == 3 && !strcmp(argv[1], "storm"))
		storm_seconds = atoi(argv[2]);
	for (i = 0; (argc == 2 || argc == 3) && i < sizeof(flows) / sizeof(flows[0]); i++) {
		if (strcmp(argv[1], flows[i].name))
			continue;
		vmm_vm_type = KVM_X86_SW_PROTECTED_VM;
		ret = tsm_setup_bindable(HOLES);
		if (ret)
			die("ivshmem on vfio-pci, connected to the TSM, with a vDEVICE", -ret);
		ret = flows[i].run();
		/* closing the device and iommufd tears the rest down */
		set_attr(&iv, "tsm/disconnect", "tsm0");
		if (iv.fd >= 0) {
			close(iv.fd);
			close(iommufd);
			close(vm_fd);
		}
		step(ret ? "failed" : "done");
		return ret;
	}
	fprintf(stderr, "usage: tsm_flow good|broken-revoke|tdi-error|cpu-map|broken-zap|hold|hold-mmap|storm [SECONDS]\n");
	return 2;
}
