// SPDX-License-Identifier: GPL-2.0
/*
 * tsm_op - IOMMU_VDEVICE_TSM_OP on the series' kernel, acting as
 * the VMM: ivshmem, connected to the software TSM, is added to a KVM VM's
 * KVM VFIO device, bound to iommufd, attached to a paging HWPT, and gets a
 * vDEVICE on the core's vIOMMU (IOMMU_VIOMMU_TYPE_DEFAULT, VT-d having no
 * vIOMMU of its own). BIND walks the emulated TDI to RUN with the layout of
 * the shared holes; UNBIND brings it back; each is idempotent; every errno
 * of docs/uapi.md; the software TSM's fault points unwind; destroying
 * the vDEVICE and closing the device unbind. One PASS:/FAIL: line per case;
 * exits 1 when one failed.
 */
#include <pthread.h>

#include "tsm_vmm.h"

/* ---- the cases ------------------------------------------------------------ */

static void test_viommu(void)
{
	struct dev not_connected = edu;
	int ret;

	/* edu is not connected to the TSM: the core's vIOMMU is not for it */
	ret = dev_open(&not_connected, EDU_VENDOR, EDU_DEVICE, 0);
	if (lab_expect(ret, 0, "tsm-op-open-edu"))
		lab_expect(viommu_alloc(&not_connected), EOPNOTSUPP,
			   "tsm-op-viommu-default-needs-tsm-eopnotsupp");
	close(not_connected.fd);

	/* a type of another IOMMU's driver: VT-d implements none (mainline) */
	{
		struct iommu_viommu_alloc v = {
			.size = sizeof(v), .type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
			.dev_id = iv.id, .hwpt_id = iv.hwpt,
		};

		lab_expect(ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &v) ? -errno : 0, EOPNOTSUPP,
			   "tsm-op-viommu-driver-type-eopnotsupp");
	}
	lab_expect(viommu_alloc(&iv), 0, "tsm-op-viommu-default");
	lab_expect(vdevice_alloc(&iv, 0x123456789ULL), 0, "tsm-op-vdevice-wide-virt-id");
	lab_expect(bind(iv.vdev), EINVAL, "tsm-op-bind-virt-id-beyond-32-bits-einval");
	lab_expect(destroy(iv.vdev), 0, "tsm-op-destroy-wide-vdevice");
	lab_expect(vdevice_alloc(&iv, 0x77), 0, "tsm-op-vdevice");
}

static void test_bind(void)
{
	lab_expect(bind(iv.vdev), 0, "tsm-op-bind");
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "RUN"), "tsm-op-bound-run",
		  "tsm_sw/state is '%s'", attr(&iv, "tsm_sw/state"));
	LAB_CHECK(!strcmp(attr(&iv, "tsm/bound"), "tsm0"), "tsm-op-bound-sysfs",
		  "tsm/bound is '%s'", attr(&iv, "tsm/bound"));
	/* ivshmem has no MSI-X: BAR2 (BAR0 is smaller than a page) is all private */
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/layout"), "2:0x0+0x100000000"), "tsm-op-layout-default",
		  "tsm_sw/layout is '%s'", attr(&iv, "tsm_sw/layout"));
	lab_expect(set_attr(&iv, "tsm_sw/shared", "none"), EBUSY, "tsm-op-shared-while-bound-ebusy");
	lab_expect(bind(iv.vdev), 0, "tsm-op-bind-again");
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "RUN"), "tsm-op-bind-again-still-run",
		  "tsm_sw/state is '%s'", attr(&iv, "tsm_sw/state"));

	lab_expect(unbind(iv.vdev), 0, "tsm-op-unbind");
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "CONFIG_UNLOCKED"), "tsm-op-unbound-state",
		  "tsm_sw/state is '%s'", attr(&iv, "tsm_sw/state"));
	LAB_CHECK(!*attr(&iv, "tsm_sw/layout") && !*attr(&iv, "tsm/bound"),
		  "tsm-op-unbound-no-layout", "layout '%s'", attr(&iv, "tsm_sw/layout"));
	lab_expect(unbind(iv.vdev), 0, "tsm-op-unbind-again");

	/* a shared hole: the first 2 MiB stay shared */
	lab_expect(set_attr(&iv, "tsm_sw/shared", "2:0x0+0x200000"), 0, "tsm-op-set-hole");
	lab_expect(bind(iv.vdev), 0, "tsm-op-bind-with-hole");
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/layout"), "2:0x200000+0xffe00000"),
		  "tsm-op-layout-with-hole", "tsm_sw/layout is '%s'", attr(&iv, "tsm_sw/layout"));
	lab_expect(unbind(iv.vdev), 0, "tsm-op-unbind-with-hole");
	set_attr(&iv, "tsm_sw/shared", "default");
}

static void test_errnos(void)
{
	uint32_t sz = sizeof(struct iommu_vdevice_tsm_op);

	lab_expect(tsm_op(sz, IOMMU_VDEVICE_TSM_BIND, 1, iv.vdev, 0), EOPNOTSUPP,
		   "tsm-op-flags-eopnotsupp");
	lab_expect(tsm_op(sz, 0, 0, iv.vdev, 0), EINVAL, "tsm-op-type-0-einval");
	lab_expect(tsm_op(sz, 3, 0, iv.vdev, 0), EINVAL, "tsm-op-type-3-einval");
	lab_expect(tsm_op(sz, IOMMU_VDEVICE_TSM_BIND, 0, iv.viommu, 0), ENOENT,
		   "tsm-op-not-a-vdevice-enoent");
	lab_expect(tsm_op(sz, IOMMU_VDEVICE_TSM_BIND, 0, 9999, 0), ENOENT,
		   "tsm-op-unknown-id-enoent");
	lab_expect(tsm_op(sz - 4, IOMMU_VDEVICE_TSM_BIND, 0, iv.vdev, 0), EINVAL,
		   "tsm-op-short-size-einval");
	lab_expect(tsm_op(sz + 4, IOMMU_VDEVICE_TSM_BIND, 0, iv.vdev, 1), E2BIG,
		   "tsm-op-trailing-byte-e2big");
	lab_expect(tsm_op(sz + 4, IOMMU_VDEVICE_TSM_BIND, 0, iv.vdev, 0), 0,
		   "tsm-op-zero-trailing-bytes");
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "RUN"), "tsm-op-zero-trailing-binds",
		  "tsm_sw/state is '%s'", attr(&iv, "tsm_sw/state"));
	unbind(iv.vdev);
}

/* fail_pci_tsm_sw fails the lock, report and start steps in turn */
static void test_faults(void)
{
	static const char *const step[] = { "lock", "report", "start" };
	char name[64];

	for (int i = 0; i < 3; i++) {
		lab_fault_arm("fail_pci_tsm_sw", 1, i + 1);
		snprintf(name, sizeof(name), "tsm-op-fail-%s-eio", step[i]);
		lab_expect(bind(iv.vdev), EIO, name);
		lab_fault_arm("fail_pci_tsm_sw", 0, 1);
		snprintf(name, sizeof(name), "tsm-op-fail-%s-unwound", step[i]);
		LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "CONFIG_UNLOCKED") &&
			  !*attr(&iv, "tsm/bound"), name, "state '%s', bound '%s'",
			  attr(&iv, "tsm_sw/state"), attr(&iv, "tsm/bound"));
	}
	lab_expect(bind(iv.vdev), 0, "tsm-op-bind-after-faults");
	unbind(iv.vdev);
}

/*
 * A fail-nth sweep of BIND: every fault point the call reaches (allocations,
 * the software TSM's steps) fails in turn; each failure must leave the
 * interface unbound, and the sweep ends with a BIND that reached no point.
 */
static void test_fail_nth(void)
{
	int nth, points = 0, ended = 0, ret;
	struct lab_fail_nth fail;
	char errs[256] = "", bad[256] = "";

	if (!lab_expect(lab_fail_nth_begin(&fail), 0, "tsm-op-fail-nth-open"))
		return;
	for (nth = 1; nth <= 100 && !ended; nth++) {
		unsigned long left;

		if (lab_fail_nth_set(&fail, nth))
			break;
		ret = bind(iv.vdev);
		left = lab_fail_nth_clear(&fail);
		if (!ret) {
			/* left == 0: the failed point had a fallback */
			ended = left != 0;
			unbind(iv.vdev);
			continue;
		}
		points++;
		snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs), " %s",
			 lab_errname(-ret));
		if (!bad[0] && (strcmp(attr(&iv, "tsm_sw/state"), "CONFIG_UNLOCKED") ||
				*attr(&iv, "tsm/bound")))
			snprintf(bad, sizeof(bad), "nth %d (%s): state '%s'", nth,
				 lab_errname(-ret), attr(&iv, "tsm_sw/state"));
	}
	lab_fail_nth_end(&fail);
	printf("# fail-nth sweep of BIND: %d failure points:%s\n", points, errs);
	LAB_CHECK(ended, "tsm-op-fail-nth-ends", "still failing at nth %d", nth - 1);
	LAB_CHECK(points >= 3, "tsm-op-fail-nth-points", "%d failure points, want at least 3",
		  points);
	LAB_CHECK(!bad[0], "tsm-op-fail-nth-unwound", "%s", bad);
}

/* the administrator disconnects the device from the TSM while it is bound */
static void test_disconnect(void)
{
	lab_expect(bind(iv.vdev), 0, "tsm-op-bind-before-disconnect");
	lab_expect(set_attr(&iv, "tsm/disconnect", "tsm0"), 0, "tsm-op-disconnect-while-bound");
	lab_expect(bind(iv.vdev), EINVAL, "tsm-op-bind-disconnected-einval");
	lab_expect(unbind(iv.vdev), 0, "tsm-op-unbind-disconnected");
	lab_expect(set_attr(&iv, "tsm/connect", "tsm0"), 0, "tsm-op-reconnect");
	lab_expect(bind(iv.vdev), 0, "tsm-op-bind-after-reconnect");
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "RUN"), "tsm-op-bind-after-reconnect-runs",
		  "BIND succeeded but tsm_sw/state is '%s'", attr(&iv, "tsm_sw/state"));
	unbind(iv.vdev);
}

/* ---- two threads on the same vDEVICE -------------------------------------- */

#define RACE_ROUNDS	200

static volatile int race_stop;

/* BIND and UNBIND whatever vDEVICE is current, counting the outcomes */
static void *race_binder(void *arg)
{
	int *ok = arg;

	for (int i = 0; i < RACE_ROUNDS && !race_stop; i++) {
		uint32_t id = __atomic_load_n(&iv.vdev, __ATOMIC_RELAXED);
		int b = bind(id), u = unbind(id);

		/* the vDEVICE may be gone between the load and the call */
		if ((b && b != -ENOENT && b != -EINVAL) || (u && u != -ENOENT)) {
			printf("# bind: %s, unbind: %s\n", lab_errname(-b), lab_errname(-u));
			__atomic_store_n(ok, 0, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static void race(const char *name, void (*other)(int i, int *ok))
{
	pthread_t t;
	int ok = 1, ok2 = 1;
	char n[96];

	race_stop = 0;
	if (pthread_create(&t, NULL, race_binder, &ok)) {
		printf("FAIL: %s (pthread_create)\n", name);
		lab_failed = 1;
		return;
	}
	for (int i = 0; i < RACE_ROUNDS; i++)
		other(i, &ok2);
	race_stop = 1;
	pthread_join(t, NULL);
	snprintf(n, sizeof(n), "%s-errnos", name);
	LAB_CHECK(ok && ok2, n, "an operation failed with an errno the race does not explain");
	unbind(iv.vdev);
	snprintf(n, sizeof(n), "%s-ends-unbound", name);
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "CONFIG_UNLOCKED") && !*attr(&iv, "tsm/bound"),
		  n, "state '%s', bound '%s'", attr(&iv, "tsm_sw/state"), attr(&iv, "tsm/bound"));
}

/*
 * Destroy the vDEVICE (bound or not) and allocate a new one. IOMMU_DESTROY
 * is EBUSY while the binder's call holds the object: then it stays.
 */
static void race_destroy(int i, int *ok)
{
	int ret = destroy(iv.vdev);

	if (ret == -EBUSY)
		return;
	if (ret || vdevice_alloc(&iv, 0x100 + i)) {
		printf("# destroy: %s, then alloc failed\n", lab_errname(-ret));
		*ok = 0;
	}
}

/* disconnect and connect the device behind the binder's back */
static void race_connect(int i, int *ok)
{
	if (set_attr(&iv, "tsm/disconnect", "tsm0") || set_attr(&iv, "tsm/connect", "tsm0"))
		*ok = 0;
}

static void test_races(void)
{
	race("tsm-op-race-bind-vs-destroy", race_destroy);
	race("tsm-op-race-bind-vs-disconnect", race_connect);
	lab_expect(bind(iv.vdev), 0, "tsm-op-bind-after-races");
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "RUN"), "tsm-op-bind-after-races-runs",
		  "tsm_sw/state is '%s'", attr(&iv, "tsm_sw/state"));
	unbind(iv.vdev);
}

/* destroying the vDEVICE, and closing the device, unbind */
static void test_teardown(void)
{
	lab_expect(bind(iv.vdev), 0, "tsm-op-bind-before-destroy");
	lab_expect(destroy(iv.vdev), 0, "tsm-op-destroy-bound-vdevice");
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "CONFIG_UNLOCKED"),
		  "tsm-op-destroy-unbinds", "tsm_sw/state is '%s'", attr(&iv, "tsm_sw/state"));
	lab_expect(bind(iv.vdev), ENOENT, "tsm-op-bind-destroyed-enoent");

	lab_expect(vdevice_alloc(&iv, 0x78), 0, "tsm-op-vdevice-again");
	lab_expect(bind(iv.vdev), 0, "tsm-op-bind-before-close");
	/*
	 * The KVM VFIO device holds the cdev's file too: the device is closed,
	 * and unbound, when the last reference goes, not at the VMM's close;
	 * closing the KVM VFIO device's fd releases it.
	 */
	close(iv.fd);
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "RUN"), "tsm-op-close-not-last-stays-bound",
		  "tsm_sw/state is '%s'", attr(&iv, "tsm_sw/state"));
	close(iv.kvm_dev);
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "CONFIG_UNLOCKED"),
		  "tsm-op-last-close-unbinds", "tsm_sw/state is '%s'", attr(&iv, "tsm_sw/state"));
	lab_expect(bind(iv.vdev), ENOENT, "tsm-op-bind-after-close-enoent");
}

/* a device bound to iommufd without a VM cannot be bound to one */
static void test_no_vm(void)
{
	struct dev d = { .fd = -1, .kvm_dev = -1 };
	int ret = dev_open(&d, EDU_VENDOR, EDU_DEVICE, 0);

	if (!lab_expect(ret, 0, "tsm-op-no-vm-open"))
		return;
	lab_expect(set_attr(&d, "tsm/connect", "tsm0"), 0, "tsm-op-no-vm-connect");
	if (lab_expect(viommu_alloc(&d), 0, "tsm-op-no-vm-viommu") &&
	    lab_expect(vdevice_alloc(&d, 1), 0, "tsm-op-no-vm-vdevice"))
		lab_expect(bind(d.vdev), ENODEV, "tsm-op-no-vm-enodev");
	close(d.fd);
	set_attr(&d, "tsm/disconnect", "tsm0");
}

int main(void)
{
	int ret = setup();

	if (ret) {
		printf("FAIL: tsm-op-setup (%s)\n", lab_errname(-ret));
		return 1;
	}
	test_viommu();
	test_bind();
	test_errnos();
	test_faults();
	test_fail_nth();
	test_disconnect();
	test_races();
	test_teardown();
	test_no_vm();
	lab_expect(set_attr(&iv, "tsm/disconnect", "tsm0"), 0, "tsm-op-disconnect");
	return lab_failed;
}
