/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal real-mode KVM VM for the lab programs: guest memory in slot 0
 * and one vCPU. Helpers return 0 on success and -errno on failure, with
 * errno left as the kernel set it.
 */
#ifndef TSM_KVM_VM_H
#define TSM_KVM_VM_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

/* A VM with @mem_size bytes of memory in slot 0 and one vCPU. */
struct vmm_vm {
	int fd, vcpu, run_size;
	struct kvm_run *run;
	uint8_t *mem;
	size_t mem_size;
};

/* Give the VM @fd (or a failed KVM_CREATE_VM's -1) its memory and vCPU. */
static inline int vmm_vm_init(struct vmm_vm *vm, int kvm_fd, int fd, size_t mem_size)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = mem_size,
	};

	vm->fd = fd;
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

static inline int vmm_vm_create(struct vmm_vm *vm, int kvm_fd, unsigned long type,
				size_t mem_size)
{
	return vmm_vm_init(vm, kvm_fd, ioctl(kvm_fd, KVM_CREATE_VM, type), mem_size);
}

/* Drop every reference to the VM: it is destroyed now. */
static inline void vmm_vm_destroy(struct vmm_vm *vm)
{
	munmap(vm->run, vm->run_size);
	munmap(vm->mem, vm->mem_size);
	close(vm->vcpu);
	close(vm->fd);
}

/*
 * Start @code (real mode) from 0x1000 of slot 0 with ds.base and es.base =
 * @base and run it to its first exit: 0, or -errno of an ioctl.
 */
static inline int vmm_vm_enter(struct vmm_vm *vm, const uint8_t *code, size_t len,
			       uint64_t base)
{
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 0x2 };
	struct kvm_sregs sregs;

	memcpy(vm->mem + 0x1000, code, len);
	if (ioctl(vm->vcpu, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds.base = sregs.es.base = base;
	sregs.ds.selector = sregs.es.selector = 0;
	if (ioctl(vm->vcpu, KVM_SET_SREGS, &sregs) || ioctl(vm->vcpu, KVM_SET_REGS, &regs))
		return -errno;
	return ioctl(vm->vcpu, KVM_RUN, 0) ? -errno : 0;
}

/*
 * Run @code (real mode) from 0x1000 of slot 0 with ds.base = @ds_base up to
 * its OUT to @port: the byte it wrote there, or -errno of KVM_RUN (or
 * -EPROTO for another exit) with the exit reason in *@exit.
 */
static inline int vmm_vm_run(struct vmm_vm *vm, const uint8_t *code, size_t len,
			     uint64_t ds_base, uint16_t port, uint32_t *exit)
{
	int ret = vmm_vm_enter(vm, code, len, ds_base);

	*exit = vm->run->exit_reason;
	if (ret)
		return ret;
	if (vm->run->exit_reason != KVM_EXIT_IO || vm->run->io.port != port)
		return -EPROTO;
	return *((uint8_t *)vm->run + vm->run->io.data_offset);
}

#endif /* TSM_KVM_VM_H */
