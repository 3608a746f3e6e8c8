// SPDX-License-Identifier: GPL-2.0
/*
 * KVM memslots backed by VFIO DMABUFs (KVM_MEM_VFIO_DMABUF), in the lab
 * guest (nested SVM): a real-mode vCPU reads and writes the ivshmem BAR
 * through a shared DMABUF slot, and through a private one while the device
 * interface is bound to the VM; revoking the DMABUF (memory decode off, TSM
 * unbind) takes the mapping away from the running VM; every refusal of the
 * uAPI; and the kvm_dmabuf_slot_* tracepoints with their fields.
 */
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "lab.h"
#include "vmm.h"

#define MEM_SIZE	0x10000UL	/* slot 0: code at 0x1000 */
#define BUF_GPA		0x100000UL	/* slot 1: the DMABUF */
#define BUF_SIZE	0x10000UL
#define PRIV_OFF	0x200000UL	/* BAR2 offset of the private range */
#define PORT		0x10

/* mov byte [1], 0x99; mov al, [0]; out 0x10, al; hlt   (ds.base = BUF_GPA) */
static const uint8_t code_rw[] = {
	0xc6, 0x06, 0x01, 0x00, 0x99, 0xa0, 0x00, 0x00, 0xe6, PORT, 0xf4
};
/* mov byte [0], 0x77; mov al, [0]; out 0x10, al; hlt */
static const uint8_t code_wr_rd[] = {
	0xc6, 0x06, 0x00, 0x00, 0x77, 0xa0, 0x00, 0x00, 0xe6, PORT, 0xf4
};

static int kvm_fd, iommufd, devfd;
static uint32_t dev_id, vdev_id;
static char bdf[300];
static volatile uint8_t *bar2;
static uint64_t bar2_start;

/* Run @code from 0x1000 with ds.base = BUF_GPA to its OUT: the byte, or
 * -errno of KVM_RUN (with the exit reason in *exit). */
static int vm_run(struct vmm_vm *vm, const uint8_t *code, size_t len, uint32_t *exit)
{
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 0x2 };
	struct kvm_sregs sregs;

	memcpy(vm->mem + 0x1000, code, len);
	if (ioctl(vm->vcpu, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds.base = BUF_GPA;
	sregs.ds.selector = 0;
	if (ioctl(vm->vcpu, KVM_SET_SREGS, &sregs) || ioctl(vm->vcpu, KVM_SET_REGS, &regs))
		return -errno;
	if (ioctl(vm->vcpu, KVM_RUN, 0)) {
		*exit = vm->run->exit_reason;
		return -errno;
	}
	*exit = vm->run->exit_reason;
	if (vm->run->exit_reason != KVM_EXIT_IO || vm->run->io.port != PORT)
		return -EPROTO;
	return *((uint8_t *)vm->run + vm->run->io.data_offset);
}

static int slot_dmabuf(struct vmm_vm *vm, uint32_t flags, int fd, uint64_t offset,
		       uint64_t uaddr, uint64_t size)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = 1, .flags = flags, .guest_phys_addr = BUF_GPA,
		.memory_size = size, .userspace_addr = uaddr,
		.guest_memfd_offset = offset, .guest_memfd = fd,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &r) ? -errno : 0;
}

static int slot_delete(struct vmm_vm *vm)
{
	struct kvm_userspace_memory_region2 r = { .slot = 1 };

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &r) ? -errno : 0;
}

/* ivshmem on iommufd, BAR2 mmap()ed for the host's view */
static int dev_open(void)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = 2 };
	char cdev[300];
	int ret;

	ret = lab_find_vfio_dev(0x1af4, 0x1110, bdf, sizeof(bdf), cdev, sizeof(cdev));
	if (ret)
		return ret;
	devfd = open(cdev, O_RDWR);
	iommufd = open("/dev/iommu", O_RDWR);
	if (devfd < 0 || iommufd < 0)
		return -errno;
	bind.iommufd = iommufd;
	if (ioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return -errno;
	dev_id = bind.out_devid;
	if (ioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	bar2 = mmap(NULL, 4 * BUF_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, devfd, ri.offset);
	if (bar2 == MAP_FAILED)
		return -errno;
	bar2_start = lab_bar_start(bdf, 2);
	return bar2_start ? 0 : -EIO;
}

/* a vIOMMU with @vm and a vDEVICE of ivshmem on it, for TSM bind */
static int dev_tsm_setup(struct vmm_vm *vm)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return -errno;
	return vmm_tsm_attach(iommufd, devfd, dev_id, alloc.out_ioas_id, vm->fd, 0x42,
			      &vdev_id);
}

static void trace_reset(void)
{
	lab_trace_event("kvm/kvm_dmabuf_slot_bind", 1);
	lab_trace_event("kvm/kvm_dmabuf_slot_unbind", 1);
	lab_trace_clear();
}

static void test_shared(void)
{
	struct vmm_vm vm = { 0 };
	char match[160];
	struct stat st;
	uint32_t exit;
	int fd, ret;

	if (!LAB_CHECK(vmm_vm_create(&vm, kvm_fd, KVM_X86_DEFAULT_VM, MEM_SIZE) == 0,
		       "kvm-dmabuf-vm", "%s", strerror(errno)))
		return;
	fd = vfio_dmabuf_export(devfd, 2, 0, BUF_SIZE, 0);
	if (!LAB_CHECK(fd >= 0, "kvm-dmabuf-export-shared", "%s", strerror(-fd)))
		return;
	fstat(fd, &st);
	trace_reset();

	ret = slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF, fd, 0, 0, BUF_SIZE);
	LAB_CHECK(ret == 0, "kvm-dmabuf-slot-shared", "KVM_SET_USER_MEMORY_REGION2: %s",
		  strerror(-ret));
	snprintf(match, sizeof(match), "slot=0:1 gfn=%#lx buf=%llu pfn=%#llx npfns=16 arg=0",
		 BUF_GPA >> 12, (unsigned long long)st.st_ino,
		 (unsigned long long)bar2_start >> 12);
	LAB_CHECK(lab_trace_count("kvm_dmabuf_slot_bind", match) == 1, "kvm-dmabuf-trace-bind",
		  "no kvm_dmabuf_slot_bind with '%s'", match);

	/* the guest reads what the host wrote, the host sees what it wrote */
	bar2[0] = 0x5a;
	bar2[1] = 0;
	ret = vm_run(&vm, code_rw, sizeof(code_rw), &exit);
	LAB_CHECK(ret == 0x5a && bar2[1] == 0x99, "kvm-dmabuf-guest-access-shared",
		  "guest read %d (want 0x5a, exit %u), BAR byte 1 = %#x (want 0x99)", ret,
		  exit, bar2[1]);

	/* memory decode off revokes the DMABUF: the VM loses the mapping */
	ret = vfio_config_cmd(devfd, 0);
	LAB_CHECK(ret == 0, "kvm-dmabuf-mem-disable", "config write: %s", strerror(-ret));
	snprintf(match, sizeof(match), "buf=%llu pfn=%#llx npfns=16 arg=1",
		 (unsigned long long)st.st_ino, (unsigned long long)bar2_start >> 12);
	LAB_CHECK(lab_trace_count("kvm_dmabuf_slot_unbind", match) == 1,
		  "kvm-dmabuf-trace-unbind-revoke", "no kvm_dmabuf_slot_unbind with '%s'", match);
	ret = vm_run(&vm, code_rw, sizeof(code_rw), &exit);
	LAB_CHECK(ret == -EFAULT && exit == KVM_EXIT_MEMORY_FAULT,
		  "kvm-dmabuf-guest-access-after-revoke",
		  "KVM_RUN gave %d exit %u, want -EFAULT and KVM_EXIT_MEMORY_FAULT", ret, exit);
	vfio_config_cmd(devfd, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);

	/* a revoked DMABUF cannot back a new slot */
	LAB_CHECK(slot_delete(&vm) == 0, "kvm-dmabuf-slot-delete", "%s", strerror(errno));
	ret = slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF, fd, 0, 0, BUF_SIZE);
	LAB_CHECK(ret == -ENODEV, "kvm-dmabuf-slot-revoked-enodev", "got %s", strerror(-ret));
	close(fd);

	/* deleting a live slot, and destroying the VM, unbind it */
	fd = vfio_dmabuf_export(devfd, 2, 0, BUF_SIZE, 0);
	ret = slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF, fd, 0, 0, BUF_SIZE);
	fstat(fd, &st);
	lab_trace_clear();
	slot_delete(&vm);
	snprintf(match, sizeof(match), "buf=%llu pfn=%#llx npfns=16 arg=0",
		 (unsigned long long)st.st_ino, (unsigned long long)bar2_start >> 12);
	LAB_CHECK(ret == 0 && lab_trace_count("kvm_dmabuf_slot_unbind", match) == 1,
		  "kvm-dmabuf-trace-unbind-delete", "no kvm_dmabuf_slot_unbind with '%s'", match);
	ret = slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF, fd, 0, 0, BUF_SIZE);
	vmm_vm_destroy(&vm);
	snprintf(match, sizeof(match), "buf=%llu pfn=%#llx npfns=16 arg=2",
		 (unsigned long long)st.st_ino, (unsigned long long)bar2_start >> 12);
	LAB_CHECK(ret == 0 && lab_trace_count("kvm_dmabuf_slot_unbind", match) == 1,
		  "kvm-dmabuf-trace-unbind-destroy", "no kvm_dmabuf_slot_unbind with '%s'", match);
	/* revoking after the VM is gone touches nothing of it */
	vfio_config_cmd(devfd, 0);
	vfio_config_cmd(devfd, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	close(fd);
}

static void test_refusals(void)
{
	struct vmm_vm vm = { 0 };
	int fd, mfd, ubuf, ret;

	if (vmm_vm_create(&vm, kvm_fd, KVM_X86_DEFAULT_VM, MEM_SIZE))
		return;
	fd = vfio_dmabuf_export(devfd, 2, 0, BUF_SIZE, 0);
	mfd = syscall(SYS_memfd_create, "not-a-dmabuf", 0);
	if (ftruncate(mfd, BUF_SIZE))
		mfd = -1;

	ret = slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF | KVM_MEM_LOG_DIRTY_PAGES, fd, 0, 0, BUF_SIZE);
	LAB_CHECK(ret == -EINVAL, "kvm-dmabuf-flags-einval", "got %s", strerror(-ret));
	ret = slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF, fd, 0, (uintptr_t)vm.mem, BUF_SIZE);
	LAB_CHECK(ret == -EINVAL, "kvm-dmabuf-uaddr-einval", "got %s", strerror(-ret));
	ret = slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF, mfd, 0, 0, BUF_SIZE);
	LAB_CHECK(ret == -EINVAL, "kvm-dmabuf-not-dmabuf-einval", "got %s", strerror(-ret));
	ubuf = vmm_udmabuf(BUF_SIZE);
	ret = ubuf < 0 ? ubuf : slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF, ubuf, 0, 0, BUF_SIZE);
	LAB_CHECK(ret == -EOPNOTSUPP, "kvm-dmabuf-no-phys-eopnotsupp", "got %s", strerror(-ret));
	if (ubuf >= 0)
		close(ubuf);
	ret = slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF, 1000, 0, 0, BUF_SIZE);
	LAB_CHECK(ret == -EBADF, "kvm-dmabuf-bad-fd-ebadf", "got %s", strerror(-ret));
	ret = slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF, fd, 0x800, 0, BUF_SIZE);
	LAB_CHECK(ret == -EINVAL, "kvm-dmabuf-offset-unaligned-einval", "got %s", strerror(-ret));
	ret = slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF, fd, 0x1000, 0, BUF_SIZE);
	LAB_CHECK(ret == -EINVAL, "kvm-dmabuf-beyond-einval", "got %s", strerror(-ret));

	ret = slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF, fd, 0, 0, BUF_SIZE);
	if (LAB_CHECK(ret == 0, "kvm-dmabuf-slot-again", "got %s", strerror(-ret))) {
		struct kvm_userspace_memory_region2 move = {
			.slot = 1, .flags = KVM_MEM_VFIO_DMABUF,
			.guest_phys_addr = BUF_GPA + BUF_SIZE, .memory_size = BUF_SIZE,
			.guest_memfd = fd,
		};

		ret = ioctl(vm.fd, KVM_SET_USER_MEMORY_REGION2, &move) ? -errno : 0;
		LAB_CHECK(ret == -EINVAL, "kvm-dmabuf-move-einval", "got %s", strerror(-ret));
	}
	close(mfd);
	close(fd);
	vmm_vm_destroy(&vm);
}

static void test_private(void)
{
	struct kvm_memory_attributes attr = {
		.address = BUF_GPA, .size = BUF_SIZE,
		.attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
	};
	struct vmm_vm vm = { 0 }, plain = { 0 };
	char holes[400], match[160];
	struct stat st;
	uint32_t exit;
	int fd, ret;

	if (!LAB_CHECK(vmm_vm_create(&vm, kvm_fd, KVM_X86_SW_PROTECTED_VM, MEM_SIZE) == 0,
		       "kvm-dmabuf-protected-vm", "%s", strerror(errno)))
		return;
	ret = dev_tsm_setup(&vm);
	if (!LAB_CHECK(ret == 0, "kvm-dmabuf-tsm-setup", "%s", strerror(-ret)))
		return;
	snprintf(holes, sizeof(holes), "/sys/bus/pci/devices/%s/tsm_sw/shared", bdf);
	lab_write_str(holes, "2:0x0+0x200000");
	ret = vmm_tsm_op(iommufd, vdev_id, IOMMU_VDEVICE_TSM_BIND);
	if (!LAB_CHECK(ret == 0, "kvm-dmabuf-tsm-bind", "%s", strerror(-ret)))
		goto out;

	fd = vfio_dmabuf_export(devfd, 2, PRIV_OFF, BUF_SIZE, VFIO_DEVICE_DMA_BUF_PRIVATE);
	if (!LAB_CHECK(fd >= 0, "kvm-dmabuf-export-private", "%s", strerror(-fd)))
		goto out_unbind;
	fstat(fd, &st);

	/* KVM asks the DMABUF: private memory needs a VM with private memory */
	vmm_vm_create(&plain, kvm_fd, KVM_X86_DEFAULT_VM, MEM_SIZE);
	ret = slot_dmabuf(&plain, KVM_MEM_VFIO_DMABUF, fd, 0, 0, BUF_SIZE);
	LAB_CHECK(ret == -EINVAL, "kvm-dmabuf-private-in-plain-vm-einval", "got %s",
		  strerror(-ret));
	vmm_vm_destroy(&plain);

	trace_reset();
	ret = slot_dmabuf(&vm, KVM_MEM_VFIO_DMABUF, fd, 0, 0, BUF_SIZE);
	LAB_CHECK(ret == 0, "kvm-dmabuf-slot-private", "%s", strerror(-ret));
	snprintf(match, sizeof(match), "buf=%llu pfn=%#llx npfns=16 arg=1",
		 (unsigned long long)st.st_ino,
		 (unsigned long long)(bar2_start + PRIV_OFF) >> 12);
	LAB_CHECK(lab_trace_count("kvm_dmabuf_slot_bind", match) == 1,
		  "kvm-dmabuf-trace-bind-private", "no kvm_dmabuf_slot_bind with '%s'", match);

	/* a shared access to a private slot is refused */
	ret = vm_run(&vm, code_wr_rd, sizeof(code_wr_rd), &exit);
	LAB_CHECK(ret == -EFAULT && exit == KVM_EXIT_MEMORY_FAULT,
		  "kvm-dmabuf-private-shared-access-refused", "KVM_RUN gave %d exit %u", ret,
		  exit);

	ret = ioctl(vm.fd, KVM_SET_MEMORY_ATTRIBUTES, &attr) ? -errno : 0;
	if (!ret)
		ret = vm_run(&vm, code_wr_rd, sizeof(code_wr_rd), &exit);
	LAB_CHECK(ret == 0x77, "kvm-dmabuf-guest-access-private",
		  "guest wrote and read %d (want 0x77), exit %u", ret, exit);

	/* unbind revokes the private DMABUF: the VM loses the mapping */
	lab_trace_clear();
	ret = vmm_tsm_op(iommufd, vdev_id, IOMMU_VDEVICE_TSM_UNBIND);
	LAB_CHECK(ret == 0, "kvm-dmabuf-tsm-unbind", "%s", strerror(-ret));
	LAB_CHECK(lab_trace_count("kvm_dmabuf_slot_unbind", match) == 1,
		  "kvm-dmabuf-trace-unbind-private-revoke", "no kvm_dmabuf_slot_unbind with '%s'",
		  match);
	ret = vm_run(&vm, code_wr_rd, sizeof(code_wr_rd), &exit);
	LAB_CHECK(ret == -EFAULT && exit == KVM_EXIT_MEMORY_FAULT,
		  "kvm-dmabuf-private-access-after-unbind",
		  "KVM_RUN gave %d exit %u, want -EFAULT and KVM_EXIT_MEMORY_FAULT", ret, exit);
	slot_delete(&vm);
	close(fd);
	goto out;
out_unbind:
	vmm_tsm_op(iommufd, vdev_id, IOMMU_VDEVICE_TSM_UNBIND);
out:
	lab_write_str(holes, "default");
	vmm_vm_destroy(&vm);
}

int main(void)
{
	int ret;

	kvm_fd = open("/dev/kvm", O_RDWR);
	if (!LAB_CHECK(kvm_fd >= 0, "kvm-dmabuf-open-kvm", "%s", strerror(errno)))
		return 1;
	ret = dev_open();
	if (!LAB_CHECK(ret == 0, "kvm-dmabuf-ivshmem", "%s", strerror(-ret)))
		return 1;
	test_shared();
	test_refusals();
	test_private();
	return lab_failed;
}
