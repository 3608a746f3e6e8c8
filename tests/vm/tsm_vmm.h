/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VMM side of a TSM bind on the series' kernel, shared by the
 * lab programs: a KVM VM, an IOAS with RAM, ivshmem added to the VM's
 * KVM VFIO device, bound to iommufd, attached to a paging HWPT and connected
 * to the software TSM; vIOMMU, vDEVICE and IOMMU_VDEVICE_TSM_OP helpers.
 */
#ifndef TSM_VMM_H
#define TSM_VMM_H
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include <linux/iommufd.h>
#include <linux/kvm.h>

#include "lab.h"
#include "vfio_dev.h"

#define IV_VENDOR	0x1af4
#define IV_DEVICE	0x1110
#define EDU_VENDOR	0x1234
#define EDU_DEVICE	0x11e8
#define SYS		"/sys/bus/pci/devices/"
#define VMM_RAM_IOVA	0x100000UL

struct dev {
	int fd, kvm_dev;	/* the cdev; the VM's KVM VFIO device it was added to */
	uint32_t id, hwpt, viommu, vdev;
	char bdf[300];
};

static int iommufd __attribute__((unused)) = -1, vm_fd __attribute__((unused)) = -1;
static uint32_t ioas __attribute__((unused));
static uint8_t *vmm_ram __attribute__((unused));	/* a page at IOVA VMM_RAM_IOVA */
static struct dev iv __attribute__((unused)) = { .fd = -1, .kvm_dev = -1 };
static struct dev edu __attribute__((unused)) = { .fd = -1, .kvm_dev = -1 };
/* the VM's KVM VFIO device, once a device was added to it */
static int vmm_kvm_vfio __attribute__((unused)) = -1;
/* the type of the VM setup() creates (KVM_CREATE_VM's argument) */
static unsigned long vmm_vm_type __attribute__((unused));

static inline const char *attr(struct dev *d, const char *name)
{
	static char buf[512];
	char path[400];

	snprintf(path, sizeof(path), SYS "%s/%s", d->bdf, name);
	if (lab_read_str(path, buf, sizeof(buf)) < 0)
		snprintf(buf, sizeof(buf), "(unreadable)");
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

static inline int set_attr(struct dev *d, const char *name, const char *val)
{
	char path[400];

	snprintf(path, sizeof(path), SYS "%s/%s", d->bdf, name);
	return lab_write_str(path, val);
}

static inline int tsm_op(uint32_t size, uint32_t type, uint32_t flags, uint32_t vdev_id,
		  uint32_t trailing)
{
	struct {
		struct iommu_vdevice_tsm_op op;
		uint32_t trailing;
	} req = {
		.op = { .size = size, .type = type, .flags = flags, .vdevice_id = vdev_id },
		.trailing = trailing,
	};

	return ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &req) ? -errno : 0;
}

static inline int bind(uint32_t vdev_id)
{
	return tsm_op(sizeof(struct iommu_vdevice_tsm_op), IOMMU_VDEVICE_TSM_BIND, 0, vdev_id, 0);
}

static inline int unbind(uint32_t vdev_id)
{
	return tsm_op(sizeof(struct iommu_vdevice_tsm_op), IOMMU_VDEVICE_TSM_UNBIND, 0, vdev_id,
		      0);
}

static inline int destroy(uint32_t id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };

	return ioctl(iommufd, IOMMU_DESTROY, &d) ? -errno : 0;
}

static inline int viommu_alloc(struct dev *d)
{
	struct iommu_viommu_alloc v = {
		.size = sizeof(v), .type = IOMMU_VIOMMU_TYPE_DEFAULT, .dev_id = d->id,
		.hwpt_id = d->hwpt,
	};

	if (ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &v))
		return -errno;
	d->viommu = v.out_viommu_id;
	return 0;
}

static inline int vdevice_alloc(struct dev *d, uint64_t virt_id)
{
	struct iommu_vdevice_alloc v = {
		.size = sizeof(v), .viommu_id = d->viommu, .dev_id = d->id, .virt_id = virt_id,
	};

	if (ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &v))
		return -errno;
	d->vdev = v.out_vdevice_id;
	return 0;
}

/*
 * Open the device (added to the VM's KVM VFIO device first when @with_vm),
 * bind it to iommufd, attach it to a paging HWPT of the IOAS.
 */
static inline int dev_open(struct dev *d, unsigned int vendor, unsigned int device, int with_vm)
{
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = iommufd };
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
	struct kvm_create_device kd = { .type = KVM_DEV_TYPE_VFIO };
	char cdev[300];
	int ret;

	ret = lab_find_vfio_dev(vendor, device, d->bdf, sizeof(d->bdf), cdev, sizeof(cdev));
	if (ret)
		return ret;
	d->fd = open(cdev, O_RDWR);
	if (d->fd < 0)
		return -errno;
	if (with_vm) {
		struct kvm_device_attr a = {
			.group = KVM_DEV_VFIO_FILE, .attr = KVM_DEV_VFIO_FILE_ADD,
			.addr = (uintptr_t)&d->fd,
		};

		/* a VM has one KVM VFIO device: the devices share it */
		if (vmm_kvm_vfio < 0) {
			if (ioctl(vm_fd, KVM_CREATE_DEVICE, &kd))
				return -errno;
			vmm_kvm_vfio = kd.fd;
		}
		if (ioctl(vmm_kvm_vfio, KVM_SET_DEVICE_ATTR, &a))
			return -errno;
		d->kvm_dev = vmm_kvm_vfio;
	}
	if (ioctl(d->fd, VFIO_DEVICE_BIND_IOMMUFD, &b))
		return -errno;
	d->id = b.out_devid;
	{
		struct iommu_hwpt_alloc h = { .size = sizeof(h), .dev_id = d->id, .pt_id = ioas };

		if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &h))
			return -errno;
		d->hwpt = h.out_hwpt_id;
	}
	at.pt_id = d->hwpt;
	return ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) ? -errno : 0;
}

static inline int setup(void)
{
	int kvm_fd = open("/dev/kvm", O_RDWR), ret;

	iommufd = open("/dev/iommu", O_RDWR);
	if (kvm_fd < 0 || iommufd < 0)
		return -errno;
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, vmm_vm_type);
	if (vm_fd < 0)
		return -errno;
	ret = iommufd_ioas_with_ram(iommufd, VMM_RAM_IOVA, 1, &ioas, &vmm_ram);
	if (ret)
		return ret;
	ret = dev_open(&iv, IV_VENDOR, IV_DEVICE, 1);
	if (ret)
		return ret;
	lab_find_vfio_dev(EDU_VENDOR, EDU_DEVICE, edu.bdf, sizeof(edu.bdf), (char[300]){ 0 }, 300);
	return set_attr(&iv, "tsm/connect", "tsm0");
}

/*
 * BIND/UNBIND @rounds times, @us microseconds bound each, counting in
 * tsm_gen: odd while bound (from BIND's return to UNBIND's call), bumped at
 * every change. An operation that read the same odd tsm_gen before and after
 * ran while bound throughout. Returns the number of failed calls.
 */
static volatile unsigned long tsm_gen __attribute__((unused));
/*
 * When set, held for writing across each BIND and its tsm_gen bump: a
 * thread that holds it for reading across a call knows that no binding
 * began during the call (UNBINDs still race it).
 */
static pthread_rwlock_t *tsm_bind_lock __attribute__((unused));

static inline int tsm_bind_rounds(int rounds, unsigned int us)
{
	int errs = 0;

	for (int i = 0; i < rounds; i++) {
		if (tsm_bind_lock)
			pthread_rwlock_wrlock(tsm_bind_lock);
		errs += bind(iv.vdev) != 0;
		__atomic_add_fetch(&tsm_gen, 1, __ATOMIC_SEQ_CST);
		if (tsm_bind_lock)
			pthread_rwlock_unlock(tsm_bind_lock);
		usleep(us);
		__atomic_add_fetch(&tsm_gen, 1, __ATOMIC_SEQ_CST);
		errs += unbind(iv.vdev) != 0;
	}
	return errs;
}

static inline unsigned long tsm_gen_now(void)
{
	return __atomic_load_n(&tsm_gen, __ATOMIC_SEQ_CST);
}

/* Was the interface bound from @g1 (tsm_gen_now() before) until now? */
static inline int tsm_bound_throughout(unsigned long g1)
{
	return (g1 & 1) && tsm_gen_now() == g1;
}

/* set when tsm_race() is done: the thread it started returns */
static volatile int tsm_race_stop __attribute__((unused));

/*
 * Run @fn(@arg) in a thread, until tsm_race_stop, against @rounds of
 * tsm_bind_rounds(); the case NAME-binds says whether every call worked.
 */
static inline void tsm_race(const char *name, void *(*fn)(void *), void *arg, int rounds,
			    unsigned int us)
{
	pthread_t t;
	char n[96];
	int errs;

	tsm_race_stop = 0;
	if (pthread_create(&t, NULL, fn, arg)) {
		lab_result(0, name, "pthread_create");
		return;
	}
	errs = tsm_bind_rounds(rounds, us);
	tsm_race_stop = 1;
	pthread_join(t, NULL);
	snprintf(n, sizeof(n), "%s-binds", name);
	LAB_CHECK(!errs, n, "%d binds or unbinds failed", errs);
}

/*
 * setup(), then a vIOMMU and a vDEVICE (TDI id 0x77) for ivshmem, whose
 * next bind keeps the shared holes @holes (tsm_sw/shared syntax).
 */
static inline int tsm_setup_bindable(const char *holes)
{
	int ret = setup();

	if (!ret)
		ret = viommu_alloc(&iv);
	if (!ret)
		ret = vdevice_alloc(&iv, 0x77);
	if (!ret)
		ret = set_attr(&iv, "tsm_sw/shared", holes);
	return ret;
}

#endif
