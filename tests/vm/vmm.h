/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the lab VM programs do as a VMM: DMABUFs of a BAR, PCI command
 * writes, the vIOMMU/vDEVICE a TSM bind needs, TSM operations, and a
 * minimal real-mode KVM VM. Every helper returns 0 (or an fd) on success
 * and -errno on failure, with errno left as the kernel set it.
 */
#ifndef TSM_VMM_H
#define TSM_VMM_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/kvm.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "vfio_dev.h"

/*
 * Attach device @dev_id (bound to @iommufd, cdev @devfd) to a paging HWPT of
 * @ioas_id and give it a vDEVICE with @virt_id on a vIOMMU of the VM @vmfd.
 */
static inline int vmm_tsm_attach(int iommufd, int devfd, uint32_t dev_id, uint32_t ioas_id,
				 int vmfd, uint64_t virt_id, uint32_t *vdev_id)
{
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_hwpt_alloc hwpt = { .size = sizeof(hwpt), .dev_id = dev_id,
					 .pt_id = ioas_id };
	struct iommu_viommu_alloc viommu = {
		.size = sizeof(viommu), .flags = IOMMU_VIOMMU_ALLOC_FLAG_KVM,
		.type = IOMMU_VIOMMU_TYPE_DEFAULT, .dev_id = dev_id, .kvm_fd = vmfd,
	};
	struct iommu_vdevice_alloc vdev = { .size = sizeof(vdev), .dev_id = dev_id,
					    .virt_id = virt_id };

	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &hwpt))
		return -errno;
	attach.pt_id = hwpt.out_hwpt_id;
	if (ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return -errno;
	viommu.hwpt_id = hwpt.out_hwpt_id;
	if (ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &viommu))
		return -errno;
	vdev.viommu_id = viommu.out_viommu_id;
	if (ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &vdev))
		return -errno;
	*vdev_id = vdev.out_vdevice_id;
	return 0;
}

/* IOMMU_DESTROY of the iommufd object @id */
static inline int vmm_destroy(int iommufd, uint32_t id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };

	return ioctl(iommufd, IOMMU_DESTROY, &d) ? -errno : 0;
}

/* IOMMU_VDEVICE_TSM_BIND or IOMMU_VDEVICE_TSM_UNBIND */
static inline int vmm_tsm_op(int iommufd, uint32_t vdev_id, uint32_t type)
{
	struct iommu_vdevice_tsm_op op = {
		.size = sizeof(op), .type = type, .vdevice_id = vdev_id,
	};

	return ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op) ? -errno : 0;
}

/* A VM with @mem_size bytes of memory in slot 0 and one vCPU. */
struct vmm_vm {
	int fd, vcpu, run_size;
	struct kvm_run *run;
	uint8_t *mem;
	size_t mem_size;
};

static inline int vmm_vm_create(struct vmm_vm *vm, int kvm_fd, unsigned long type,
				size_t mem_size)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = mem_size,
	};

	vm->fd = ioctl(kvm_fd, KVM_CREATE_VM, type);
	if (vm->fd < 0)
		return -errno;
	vm->mem_size = mem_size;
	vm->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (vm->mem == MAP_FAILED)
		return -ENOMEM;
	r.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &r))
		return -errno;
	vm->vcpu = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu < 0)
		return -errno;
	vm->run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu, 0);
	return vm->run == MAP_FAILED ? -ENOMEM : 0;
}

/* Drop every reference to the VM: it is destroyed now. */
static inline void vmm_vm_destroy(struct vmm_vm *vm)
{
	munmap(vm->run, vm->run_size);
	munmap(vm->mem, vm->mem_size);
	close(vm->vcpu);
	close(vm->fd);
}

#endif /* TSM_VMM_H */
