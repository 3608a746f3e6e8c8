// SPDX-License-Identifier: GPL-2.0
/*
 * KVM in the lab guest (nested SVM under TCG): for the default VM type and
 * KVM_X86_SW_PROTECTED_VM, run a real-mode vCPU through an OUT to HLT. On the
 * software-protected VM, back a second slot with guest_memfd, mark it private
 * with KVM_SET_MEMORY_ATTRIBUTES and let the guest write and read it back
 * (served from guest_memfd), then convert it to shared and see the guest read
 * what the host wrote into the slot's shared memory.
 */
#include <stdint.h>

#include "lab.h"
#include "kvm_vm.h"

#define MEM_SIZE	0x10000UL	/* slot 0: code at 0x1000 */
#define PRIV_GPA	0x100000UL	/* slot 1: guest_memfd-backed */
#define PRIV_SIZE	0x10000UL
#define PORT		0x10

/* mov al, 0x42; out 0x10, al; hlt */
static const uint8_t code_out_hlt[] = { 0xb0, 0x42, 0xe6, PORT, 0xf4 };
/* mov byte [0], 0x99; mov al, [0]; out 0x10, al; hlt   (ds.base = PRIV_GPA) */
static const uint8_t code_priv_rw[] = {
	0xc6, 0x06, 0x00, 0x00, 0x99, 0xa0, 0x00, 0x00, 0xe6, PORT, 0xf4
};
/* mov al, [0]; out 0x10, al; hlt */
static const uint8_t code_read[] = { 0xa0, 0x00, 0x00, 0xe6, PORT, 0xf4 };

struct vm {
	struct vmm_vm vmm;
	uint8_t *shared;
};

static int kvm_fd;

static int vcpu_start(struct vm *vm, const uint8_t *code, size_t len)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 0x2 };

	memcpy(vm->vmm.mem + 0x1000, code, len);
	if (ioctl(vm->vmm.vcpu, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	sregs.ds.base = PRIV_GPA;
	sregs.ds.selector = 0;
	if (ioctl(vm->vmm.vcpu, KVM_SET_SREGS, &sregs) || ioctl(vm->vmm.vcpu, KVM_SET_REGS, &regs))
		return -errno;
	return 0;
}

/* run until the OUT; return the byte written, or -errno / -EPROTO */
static int run_to_out(struct vm *vm)
{
	if (ioctl(vm->vmm.vcpu, KVM_RUN, 0))
		return -errno;
	if (vm->vmm.run->exit_reason != KVM_EXIT_IO || vm->vmm.run->io.port != PORT ||
	    vm->vmm.run->io.direction != KVM_EXIT_IO_OUT)
		return -EPROTO;
	return *((uint8_t *)vm->vmm.run + vm->vmm.run->io.data_offset);
}

static int run_to_hlt(struct vm *vm)
{
	if (ioctl(vm->vmm.vcpu, KVM_RUN, 0))
		return -errno;
	return vm->vmm.run->exit_reason == KVM_EXIT_HLT ? 0 : -EPROTO;
}

static void test_type(const char *tag, unsigned long type)
{
	char name[64];
	struct vm vm = { 0 };
	int ret;

	snprintf(name, sizeof(name), "kvm-%s-run-to-hlt", tag);
	ret = vmm_vm_create(&vm.vmm, kvm_fd, type, MEM_SIZE);
	if (!ret)
		ret = vcpu_start(&vm, code_out_hlt, sizeof(code_out_hlt));
	if (!ret)
		ret = run_to_out(&vm);
	if (ret == 0x42)
		ret = run_to_hlt(&vm);
	LAB_CHECK(ret == 0, name, "vCPU did not run OUT 0x42 then HLT: %s", strerror(-ret));

	if (type != KVM_X86_SW_PROTECTED_VM)
		goto out;

	/* a guest_memfd slot, private, written and read by the guest */
	struct kvm_create_guest_memfd gmem = { .size = PRIV_SIZE };
	struct kvm_userspace_memory_region2 r = {
		.slot = 1, .flags = KVM_MEM_GUEST_MEMFD, .guest_phys_addr = PRIV_GPA,
		.memory_size = PRIV_SIZE,
	};
	struct kvm_memory_attributes attr = {
		.address = PRIV_GPA, .size = PRIV_SIZE,
		.attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
	};
	int gfd;

	ret = ioctl(vm.vmm.fd, KVM_CHECK_EXTENSION, KVM_CAP_MEMORY_ATTRIBUTES);
	LAB_CHECK(ret & KVM_MEMORY_ATTRIBUTE_PRIVATE, "kvm-sw-protected-private-attr-supported",
		  "KVM_CAP_MEMORY_ATTRIBUTES = %d", ret);

	gfd = ioctl(vm.vmm.fd, KVM_CREATE_GUEST_MEMFD, &gmem);
	if (!LAB_CHECK(gfd >= 0, "kvm-guest-memfd", "KVM_CREATE_GUEST_MEMFD: %s", strerror(errno)))
		goto out;
	vm.shared = mmap(NULL, PRIV_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	r.userspace_addr = (uintptr_t)vm.shared;
	r.guest_memfd = gfd;
	ret = ioctl(vm.vmm.fd, KVM_SET_USER_MEMORY_REGION2, &r);
	if (!LAB_CHECK(ret == 0, "kvm-guest-memfd-slot", "KVM_SET_USER_MEMORY_REGION2: %s",
		       strerror(errno)))
		goto out;
	ret = ioctl(vm.vmm.fd, KVM_SET_MEMORY_ATTRIBUTES, &attr);
	if (!LAB_CHECK(ret == 0, "kvm-set-private-attribute", "KVM_SET_MEMORY_ATTRIBUTES: %s",
		       strerror(errno)))
		goto out;

	vm.shared[0] = 0x11;
	ret = vcpu_start(&vm, code_priv_rw, sizeof(code_priv_rw));
	if (!ret)
		ret = run_to_out(&vm);
	LAB_CHECK(ret == 0x99 && vm.shared[0] == 0x11, "kvm-guest-private-access",
		  "guest read %#x from private memory, shared copy %#x", ret, vm.shared[0]);

	/* back to shared: the guest now sees the host's page */
	attr.attributes = 0;
	ret = ioctl(vm.vmm.fd, KVM_SET_MEMORY_ATTRIBUTES, &attr);
	vm.shared[0] = 0x77;
	if (!ret)
		ret = vcpu_start(&vm, code_read, sizeof(code_read));
	if (!ret)
		ret = run_to_out(&vm);
	LAB_CHECK(ret == 0x77, "kvm-guest-shared-after-conversion",
		  "guest read %#x after converting to shared, expected 0x77", ret);
	close(gfd);
out:
	close(vm.vmm.vcpu);
	close(vm.vmm.fd);
}

int main(void)
{
	int types;

	kvm_fd = open("/dev/kvm", O_RDWR);
	if (!LAB_CHECK(kvm_fd >= 0, "kvm-open", "/dev/kvm: %s", strerror(errno)))
		return 1;
	LAB_CHECK(ioctl(kvm_fd, KVM_GET_API_VERSION, 0) == KVM_API_VERSION, "kvm-api-version",
		  "unexpected API version");
	types = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_VM_TYPES);
	LAB_CHECK(types & (1 << KVM_X86_SW_PROTECTED_VM), "kvm-sw-protected-vm-type",
		  "KVM_CAP_VM_TYPES = %#x lacks KVM_X86_SW_PROTECTED_VM", types);

	test_type("default", KVM_X86_DEFAULT_VM);
	test_type("sw-protected", KVM_X86_SW_PROTECTED_VM);
	return lab_failed;
}
