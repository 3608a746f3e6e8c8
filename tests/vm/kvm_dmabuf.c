// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_dmabuf - KVM memslots backed by slices of VFIO DMABUFs
 * (KVM_MEM_VFIO_DMABUF) on the series' kernel, in the lab guest
 * (nested SVM): real-mode vCPUs read and write ivshmem's 4 GiB BAR2 through
 * the slots.
 *
 * Shared: a slot maps a slice of a DMABUF, also a slice across two ranges
 * of one DMABUF; memory decode off revokes it and the running VM loses the
 * mapping for good (the slot stays dead after decode comes back, a new
 * slot works); deleting a slot and destroying the VM say so in events.
 * Huge: a 2 MiB-aligned slice is mapped with 2 MiB pages, 1 GiB of the
 * BAR with one 1 GiB page, a slice whose block crosses two ranges with
 * 4 KiB pages, and each page lands where it should; a revoke zaps them. Refusals: every errno of the uAPI. No HVA: a kvmclock write of
 * KVM's to a GPA of a DMABUF slot never reaches the VMM's memory at the
 * slot's would-be host address, and KVM's instruction emulator (string I/O)
 * reading or writing a GPA of a DMABUF slot, shared or private, exits to
 * the VMM as MMIO instead of touching the device. Private: a private DMABUF goes only into
 * the software-protected VM its interface is bound to (EPERM for another
 * VM, with private memory or without), only private accesses map it,
 * UNBIND takes it away. Race: slots created, run and deleted against
 * memory decode toggling; no guest access succeeds while decode was off
 * throughout.
 */
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "kvm_vm.h"
#include "tsm_vmm.h"

#define BAR		2
#define KiB		0x400UL
#define MiB		0x100000UL
#define GiB		0x40000000UL
#define MEM_SIZE	0x10000UL	/* slot 0: code at 0x1000 */
#define GPA		0x40000000UL	/* DMABUF slots from here, 1 GiB aligned */
#define PORT		0x10
#define SLOT		1
#define MEM_ON		(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)
#define HOLES		"2:0x0+0x200000"	/* the first 2 MiB stay shared */
#define PRIV_OFF	0x200000UL

/* mov al, [0]; out PORT, al; hlt */
static const uint8_t code_rd[] = { 0xa0, 0x00, 0x00, 0xe6, PORT, 0xf4 };
/* mov byte [0], 0x77; mov al, [0]; out PORT, al; hlt */
static const uint8_t code_wr_rd[] = {
	0xc6, 0x06, 0x00, 0x00, 0x77, 0xa0, 0x00, 0x00, 0xe6, PORT, 0xf4
};

static int kvm_fd;
static volatile uint8_t *bar;	/* the host's view of BAR2's first 8 MiB */
static uint64_t bar_start;

static int tvm_create(struct vmm_vm *vm, unsigned long type)
{
	return vmm_vm_create(vm, kvm_fd, type, MEM_SIZE);
}

static int tvm_run(struct vmm_vm *vm, const uint8_t *code, size_t len, uint64_t gpa,
		   uint32_t *exit)
{
	return vmm_vm_run(vm, code, len, gpa, PORT, exit);
}

static int tvm_read(struct vmm_vm *vm, uint64_t gpa, uint32_t *exit)
{
	return tvm_run(vm, code_rd, sizeof(code_rd), gpa, exit);
}

static int slot_add(struct vmm_vm *vm, uint32_t slot, uint32_t flags, int fd, uint64_t off,
		    uint64_t uaddr, uint64_t gpa, uint64_t size)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = uaddr,
		.guest_memfd_offset = off, .guest_memfd = fd,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &r) ? -errno : 0;
}

static int slot_dmabuf(struct vmm_vm *vm, int fd, uint64_t off, uint64_t size)
{
	return slot_add(vm, SLOT, KVM_MEM_VFIO_DMABUF, fd, off, 0, GPA, size);
}

static int slot_delete(struct vmm_vm *vm, uint32_t slot)
{
	struct kvm_userspace_memory_region2 r = { .slot = slot };

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION2, &r) ? -errno : 0;
}

/* A DMABUF of two ranges of BAR2: [@o1, +@l1) then [@o2, +@l2). */
static int export2(uint64_t o1, uint64_t l1, uint64_t o2, uint64_t l2)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_dma_buf get;
		struct vfio_region_dma_range range[2];
	} req = {
		.hdr = { .argsz = sizeof(req),
			 .flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF },
		.get = { .region_index = BAR, .open_flags = O_RDWR | O_CLOEXEC, .nr_ranges = 2 },
		.range = { { .offset = o1, .length = l1 }, { .offset = o2, .length = l2 } },
	};
	int fd = ioctl(iv.fd, VFIO_DEVICE_FEATURE, &req);

	return fd < 0 ? -errno : fd;
}

/* Does /proc/cpuinfo list the flag @flag? */
static int cpu_has(const char *flag)
{
	char line[4096], word[64];
	FILE *f = fopen("/proc/cpuinfo", "r");
	int found = 0;

	snprintf(word, sizeof(word), " %s ", flag);
	while (f && !found && fgets(line, sizeof(line) - 1, f)) {
		line[strcspn(line, "\n")] = 0;
		strcat(line, " ");
		found = !strncmp(line, "flags", 5) && strstr(line, word);
	}
	if (f)
		fclose(f);
	return found;
}

static unsigned long long ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (unsigned long long)st.st_ino;
}

static unsigned long long pfn(uint64_t bar_off)
{
	return (bar_start + bar_off) >> 12;
}

static void trace_reset(void)
{
	lab_trace_event("kvm/kvm_dmabuf_slot_bind", 1);
	lab_trace_event("kvm/kvm_dmabuf_slot_unbind", 1);
	lab_trace_clear();
}

/* Is there exactly one @event with "buf=@buf pfn=@pfn npfns=@n arg=@arg"? */
static int traced(const char *event, int fd, uint64_t bar_off, uint64_t n, unsigned int arg)
{
	char match[160];

	snprintf(match, sizeof(match), "buf=%llu pfn=%#llx npfns=%llu arg=%u", ino(fd),
		 pfn(bar_off), (unsigned long long)n, arg);
	return lab_trace_count(event, match) == 1;
}

/* the VM's binary stat @name (KVM_GET_STATS_FD), or -1 */
static long long vm_stat(struct vmm_vm *vm, const char *name)
{
	struct kvm_stats_header h;
	long long val = -1;
	char *descs = NULL;
	int fd = ioctl(vm->fd, KVM_GET_STATS_FD, NULL);
	size_t dsz;

	if (fd < 0 || pread(fd, &h, sizeof(h), 0) != sizeof(h))
		goto out;
	dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	descs = calloc(h.num_desc, dsz);
	if (!descs || pread(fd, descs, h.num_desc * dsz, h.desc_offset) != (ssize_t)(h.num_desc * dsz))
		goto out;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(descs + i * dsz);
		uint64_t v;

		if (strcmp(d->name, name))
			continue;
		if (pread(fd, &v, sizeof(v), h.data_offset + d->offset) == sizeof(v))
			val = v;
		break;
	}
out:
	free(descs);
	if (fd >= 0)
		close(fd);
	return val;
}

static void test_shared(void)
{
	struct vmm_vm vm;
	uint32_t exit;
	int fd, ret;

	if (!LAB_CHECK(tvm_create(&vm, KVM_X86_DEFAULT_VM) == 0, "kvm-dmabuf-vm", "%s",
		       strerror(errno)))
		return;
	fd = vfio_dmabuf_export(iv.fd, BAR, 0, 256 * KiB, 0);
	if (!LAB_CHECK(fd >= 0, "kvm-dmabuf-export-shared", "%s", strerror(-fd)))
		return;
	trace_reset();

	/* a slice of 64 KiB at 128 KiB into the DMABUF */
	ret = slot_dmabuf(&vm, fd, 128 * KiB, 64 * KiB);
	lab_expect(ret, 0, "kvm-dmabuf-slot-shared-slice");
	LAB_CHECK(traced("kvm_dmabuf_slot_bind", fd, 128 * KiB, 16, 0), "kvm-dmabuf-trace-bind",
		  "no kvm_dmabuf_slot_bind for buf %llu pfn %#llx npfns 16 arg 0", ino(fd),
		  pfn(128 * KiB));

	/* the guest reads what the host wrote and writes what the host sees */
	bar[128 * KiB] = 0x5a;
	bar[128 * KiB + 0x3000] = 0x6b;
	ret = tvm_read(&vm, GPA, &exit);
	LAB_CHECK(ret == 0x5a, "kvm-dmabuf-guest-reads-slice", "read %d (want 0x5a), exit %u",
		  ret, exit);
	ret = tvm_read(&vm, GPA + 0x3000, &exit);
	LAB_CHECK(ret == 0x6b, "kvm-dmabuf-guest-reads-slice-page-3",
		  "read %d (want 0x6b), exit %u", ret, exit);
	ret = tvm_run(&vm, code_wr_rd, sizeof(code_wr_rd), GPA + 0x1000, &exit);
	LAB_CHECK(ret == 0x77 && bar[128 * KiB + 0x1000] == 0x77, "kvm-dmabuf-guest-writes-slice",
		  "guest read back %d, BAR has %#x (want 0x77)", ret, bar[128 * KiB + 0x1000]);

	/* memory decode off revokes the DMABUF: the VM loses the mapping */
	lab_expect(vfio_config_cmd(iv.fd, 0), 0, "kvm-dmabuf-mem-off");
	LAB_CHECK(traced("kvm_dmabuf_slot_unbind", fd, 128 * KiB, 16, 1),
		  "kvm-dmabuf-trace-unbind-revoke", "no kvm_dmabuf_slot_unbind arg 1");
	ret = tvm_read(&vm, GPA, &exit);
	LAB_CHECK(ret == -EFAULT && exit == KVM_EXIT_MEMORY_FAULT, "kvm-dmabuf-revoked-faults",
		  "KVM_RUN gave %d exit %u, want EFAULT and KVM_EXIT_MEMORY_FAULT", ret, exit);
	/* decode on restores the DMABUF, not the dead slot; a new slot works */
	vfio_config_cmd(iv.fd, MEM_ON);
	ret = tvm_read(&vm, GPA, &exit);
	LAB_CHECK(ret == -EFAULT, "kvm-dmabuf-slot-stays-dead-after-restore",
		  "KVM_RUN gave %d exit %u, want EFAULT", ret, exit);
	lab_expect(slot_delete(&vm, SLOT), 0, "kvm-dmabuf-slot-delete-dead");
	lab_expect(slot_dmabuf(&vm, fd, 128 * KiB, 64 * KiB), 0, "kvm-dmabuf-slot-after-restore");
	ret = tvm_read(&vm, GPA, &exit);
	LAB_CHECK(ret == 0x5a, "kvm-dmabuf-guest-reads-after-restore", "read %d exit %u", ret,
		  exit);

	lab_trace_clear();
	slot_delete(&vm, SLOT);
	LAB_CHECK(traced("kvm_dmabuf_slot_unbind", fd, 128 * KiB, 16, 0),
		  "kvm-dmabuf-trace-unbind-delete", "no kvm_dmabuf_slot_unbind arg 0");
	ret = tvm_read(&vm, GPA, &exit);
	LAB_CHECK(ret == -EFAULT || ret == -EPROTO, "kvm-dmabuf-deleted-slot-unmapped",
		  "read %d exit %u after the slot was deleted", ret, exit);

	ret = slot_dmabuf(&vm, fd, 0, 64 * KiB);
	lab_trace_clear();
	vmm_vm_destroy(&vm);
	LAB_CHECK(ret == 0 && traced("kvm_dmabuf_slot_unbind", fd, 0, 16, 2),
		  "kvm-dmabuf-trace-unbind-destroy", "slot %d; no kvm_dmabuf_slot_unbind arg 2",
		  ret);
	/* a revoke once the VM is gone touches nothing of it */
	vfio_config_cmd(iv.fd, 0);
	vfio_config_cmd(iv.fd, MEM_ON);
	close(fd);
}

/* A slice across two ranges of one DMABUF; huge pages where they fit. */
static void test_ranges_and_huge(void)
{
	struct vmm_vm vm;
	uint32_t exit;
	long long before, after;
	int fd, ret;

	if (tvm_create(&vm, KVM_X86_DEFAULT_VM))
		return;
	/* DMABUF: BAR [0, 1 MiB) then [3 MiB, 4 MiB); slice [512 KiB, 1.5 MiB) */
	fd = export2(0, MiB, 3 * MiB, MiB);
	if (!LAB_CHECK(fd >= 0, "kvm-dmabuf-export-two-ranges", "%s", strerror(-fd)))
		goto out;
	trace_reset();
	ret = slot_dmabuf(&vm, fd, 512 * KiB, MiB);
	lab_expect(ret, 0, "kvm-dmabuf-slot-across-ranges");
	LAB_CHECK(traced("kvm_dmabuf_slot_bind", fd, 512 * KiB, 128, 0) &&
		  traced("kvm_dmabuf_slot_bind", fd, 3 * MiB, 128, 0),
		  "kvm-dmabuf-trace-bind-per-range", "want one event per range");
	bar[512 * KiB] = 0x11;
	bar[3 * MiB + 0x2000] = 0x22;
	bar[MiB - 0x1000] = 0x33;
	ret = tvm_read(&vm, GPA, &exit);
	LAB_CHECK(ret == 0x11, "kvm-dmabuf-range-1-first-page", "read %d (want 0x11)", ret);
	ret = tvm_read(&vm, GPA + 512 * KiB - 0x1000, &exit);
	LAB_CHECK(ret == 0x33, "kvm-dmabuf-range-1-last-page", "read %d (want 0x33)", ret);
	ret = tvm_read(&vm, GPA + 512 * KiB + 0x2000, &exit);
	LAB_CHECK(ret == 0x22, "kvm-dmabuf-range-2-page-2", "read %d (want 0x22)", ret);
	slot_delete(&vm, SLOT);

	/* [0, 2 MiB) of the same DMABUF crosses the ranges: 4 KiB pages */
	before = vm_stat(&vm, "pages_2m");
	ret = slot_dmabuf(&vm, fd, 0, 2 * MiB);
	bar[0] = 0x44;
	bar[3 * MiB + MiB - 0x1000] = 0x55;
	if (!ret)
		ret = tvm_read(&vm, GPA, &exit);
	LAB_CHECK(ret == 0x44 && tvm_read(&vm, GPA + 2 * MiB - 0x1000, &exit) == 0x55,
		  "kvm-dmabuf-block-across-ranges-maps-each-page", "read %d", ret);
	after = vm_stat(&vm, "pages_2m");
	LAB_CHECK(before >= 0 && after == before, "kvm-dmabuf-block-across-ranges-4k",
		  "pages_2m went from %lld to %lld", before, after);
	slot_delete(&vm, SLOT);
	close(fd);

	/* 4 MiB of BAR2 in one range at a 1 GiB-aligned GPA: 2 MiB pages */
	fd = vfio_dmabuf_export(iv.fd, BAR, 0, 4 * MiB, 0);
	before = vm_stat(&vm, "pages_2m");
	ret = fd < 0 ? fd : slot_dmabuf(&vm, fd, 0, 4 * MiB);
	bar[2 * MiB + 0x5000] = 0x66;
	if (!ret)
		ret = tvm_read(&vm, GPA + 2 * MiB + 0x5000, &exit);
	LAB_CHECK(ret == 0x66, "kvm-dmabuf-huge-read", "read %d (want 0x66) exit %u", ret, exit);
	tvm_read(&vm, GPA, &exit);
	after = vm_stat(&vm, "pages_2m");
	LAB_CHECK(before >= 0 && after >= before + 2, "kvm-dmabuf-huge-2m-pages",
		  "pages_2m went from %lld to %lld, want 2 more", before, after);
	/* the revoke takes the huge mappings down too */
	vfio_config_cmd(iv.fd, 0);
	ret = tvm_read(&vm, GPA + 2 * MiB + 0x5000, &exit);
	LAB_CHECK(ret == -EFAULT && exit == KVM_EXIT_MEMORY_FAULT, "kvm-dmabuf-huge-revoked",
		  "KVM_RUN gave %d exit %u", ret, exit);
	LAB_CHECK(vm_stat(&vm, "pages_2m") == before, "kvm-dmabuf-huge-revoked-zapped",
		  "pages_2m %lld after the revoke, want %lld", vm_stat(&vm, "pages_2m"), before);
	vfio_config_cmd(iv.fd, MEM_ON);
	slot_delete(&vm, SLOT);
	if (fd >= 0)
		close(fd);

	/* 1 GiB of BAR2 at a 1 GiB-aligned GPA: one 1 GiB page */
	if (!cpu_has("pdpe1gb")) {
		lab_skip("kvm-dmabuf-huge-1g-page", "the lab's CPU has no 1 GiB pages");
		goto out;
	}
	fd = vfio_dmabuf_export(iv.fd, BAR, GiB, GiB, 0);
	before = vm_stat(&vm, "pages_1g");
	ret = fd < 0 ? fd : slot_dmabuf(&vm, fd, 0, GiB);
	if (!ret)
		ret = tvm_read(&vm, GPA + 0x3000, &exit);
	after = vm_stat(&vm, "pages_1g");
	LAB_CHECK(ret >= 0 && before >= 0 && after == before + 1, "kvm-dmabuf-huge-1g-page",
		  "read %d exit %u; pages_1g went from %lld to %lld, want 1 more", ret, exit,
		  before, after);
	slot_delete(&vm, SLOT);
	if (fd >= 0)
		close(fd);
out:
	vmm_vm_destroy(&vm);
}

static void test_refusals(void)
{
	struct vmm_vm vm;
	int fd, mfd, ubuf, ret;

	if (tvm_create(&vm, KVM_X86_DEFAULT_VM))
		return;
	fd = vfio_dmabuf_export(iv.fd, BAR, 0, 64 * KiB, 0);
	mfd = syscall(SYS_memfd_create, "not-a-dmabuf", 0);
	if (ftruncate(mfd, 64 * KiB))
		mfd = -1;

	lab_expect(slot_add(&vm, SLOT, KVM_MEM_VFIO_DMABUF | KVM_MEM_LOG_DIRTY_PAGES, fd, 0, 0,
			    GPA, 64 * KiB), EINVAL, "kvm-dmabuf-with-dirty-log-einval");
	lab_expect(slot_add(&vm, SLOT, KVM_MEM_VFIO_DMABUF | KVM_MEM_READONLY, fd, 0, 0, GPA,
			    64 * KiB), EINVAL, "kvm-dmabuf-readonly-einval");
	lab_expect(slot_add(&vm, SLOT, KVM_MEM_VFIO_DMABUF, fd, 0, (uintptr_t)vm.mem, GPA,
			    64 * KiB), EINVAL, "kvm-dmabuf-uaddr-einval");
	lab_expect(slot_dmabuf(&vm, mfd, 0, 64 * KiB), EINVAL, "kvm-dmabuf-not-dmabuf-einval");
	ubuf = vmm_udmabuf(64 * KiB);
	ret = ubuf < 0 ? ubuf : slot_dmabuf(&vm, ubuf, 0, 64 * KiB);
	lab_expect(ret, EOPNOTSUPP, "kvm-dmabuf-not-vfio-eopnotsupp");
	if (ubuf >= 0)
		close(ubuf);
	lab_expect(slot_dmabuf(&vm, 1000, 0, 64 * KiB), EBADF, "kvm-dmabuf-bad-fd-ebadf");
	lab_expect(slot_dmabuf(&vm, fd, 0x800, 32 * KiB), EINVAL,
		   "kvm-dmabuf-offset-unaligned-einval");
	lab_expect(slot_dmabuf(&vm, fd, 0x1000, 64 * KiB), EINVAL, "kvm-dmabuf-beyond-einval");
	lab_expect(slot_dmabuf(&vm, fd, -0x1000UL, 64 * KiB), EINVAL,
		   "kvm-dmabuf-offset-wraps-einval");
	lab_expect(slot_add(&vm, SLOT, KVM_MEM_VFIO_DMABUF, fd, 0, 0, 0x8000, 64 * KiB), EEXIST,
		   "kvm-dmabuf-overlap-eexist");

	if (lab_expect(slot_dmabuf(&vm, fd, 0, 64 * KiB), 0, "kvm-dmabuf-slot-again")) {
		lab_expect(slot_add(&vm, SLOT, KVM_MEM_VFIO_DMABUF, fd, 0, 0, GPA + 64 * KiB,
				    64 * KiB), EINVAL, "kvm-dmabuf-move-einval");
		lab_expect(slot_add(&vm, SLOT, 0, -1, 0, (uintptr_t)vm.mem, GPA, 64 * KiB),
			   EINVAL, "kvm-dmabuf-to-plain-einval");
		lab_expect(slot_add(&vm, SLOT, KVM_MEM_LOG_DIRTY_PAGES, -1, 0, 0, GPA, 64 * KiB),
			   EINVAL, "kvm-dmabuf-flags-change-einval");
	}
	close(mfd);
	close(fd);
	vmm_vm_destroy(&vm);
}

/*
 * KVM writes the wall clock to a GPA the VMM (or a guest, through its MSR)
 * chooses. On a DMABUF slot that GPA has no host address: KVM must not
 * write to the VMM's memory at userspace_addr (0) + its offset in the slot.
 */
static void test_no_hva(void)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} msrs = { .hdr = { .nmsrs = 1 }, .e = { .index = 0x4b564d00 /* WALL_CLOCK_NEW */ } };
	const uint64_t off = 0x10000;	/* a would-be HVA above mmap_min_addr */
	volatile uint8_t *low;
	struct vmm_vm vm;
	int fd, ret;

	low = mmap((void *)off, 0x1000, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (low == MAP_FAILED || low != (void *)off) {
		lab_skip("kvm-dmabuf-no-hva-kvmclock", "cannot map a page at 0x10000");
		return;
	}
	memset((void *)low, 0xee, 0x1000);
	if (tvm_create(&vm, KVM_X86_DEFAULT_VM))
		return;
	fd = vfio_dmabuf_export(iv.fd, BAR, 0, 128 * KiB, 0);
	ret = fd < 0 ? fd : slot_dmabuf(&vm, fd, 0, 128 * KiB);
	if (!lab_expect(ret, 0, "kvm-dmabuf-no-hva-slot"))
		goto out;
	memset((void *)(bar + off), 0xcc, 16);
	msrs.e.data = GPA + off;
	ret = ioctl(vm.vcpu, KVM_SET_MSRS, &msrs);
	LAB_CHECK(ret == 1, "kvm-dmabuf-no-hva-msr-set", "KVM_SET_MSRS gave %d", ret);
	LAB_CHECK(low[0] == 0xee && low[4] == 0xee && low[8] == 0xee,
		  "kvm-dmabuf-no-hva-kvmclock",
		  "KVM wrote the wall clock into the VMM's page at %#lx (%02x %02x %02x)",
		  (unsigned long)off, low[0], low[4], low[8]);
	slot_delete(&vm, SLOT);
out:
	if (fd >= 0)
		close(fd);
	vmm_vm_destroy(&vm);
	munmap((void *)low, 0x1000);
}

/* mov si, 0x10; mov dx, PORT; outsb; hlt: the emulator reads [ds:0x10] */
static const uint8_t code_outsb[] = { 0xbe, 0x10, 0x00, 0xba, PORT, 0x00, 0x6e, 0xf4 };
/* mov di, 0x20; mov dx, PORT; insb; hlt: the emulator writes [es:0x20] */
static const uint8_t code_insb[] = { 0xbf, 0x20, 0x00, 0xba, PORT, 0x00, 0x6c, 0xf4 };

/*
 * Run @code from 0x1000 with ds.base = es.base = @base up to its first exit,
 * answering an IN from PORT with @in: 0 or -errno of KVM_RUN.
 */
static int tvm_run_string(struct vmm_vm *vm, const uint8_t *code, size_t len, uint64_t base,
			  uint8_t in)
{
	struct kvm_run *run = vm->run;
	int ret = vmm_vm_enter(vm, code, len, base);

	if (ret)
		return ret;
	if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_IN &&
	    run->io.port == PORT) {
		*((uint8_t *)run + run->io.data_offset) = in;
		if (ioctl(vm->vcpu, KVM_RUN, 0))
			return -errno;
	}
	return 0;
}

/* What the last exit of @vm was, for a failure's message */
static const char *exit_str(struct vmm_vm *vm)
{
	static char buf[160];
	struct kvm_run *run = vm->run;

	if (run->exit_reason == KVM_EXIT_MMIO)
		snprintf(buf, sizeof(buf), "MMIO %s %#llx len %u data %#x",
			 run->mmio.is_write ? "write" : "read", (unsigned long long)run->mmio.phys_addr,
			 run->mmio.len, run->mmio.data[0]);
	else if (run->exit_reason == KVM_EXIT_IO)
		snprintf(buf, sizeof(buf), "IO %s port %#x data %#x",
			 run->io.direction == KVM_EXIT_IO_IN ? "in" : "out", run->io.port,
			 *((uint8_t *)run + run->io.data_offset));
	else
		snprintf(buf, sizeof(buf), "exit %u", run->exit_reason);
	return buf;
}

/*
 * KVM's instruction emulator reaches guest memory through the same helpers
 * (kvm_vcpu_read_guest(), kvm_vcpu_write_guest()). String I/O is emulated:
 * OUTSB reads the byte at a GPA of a DMABUF slot, INSB writes one there.
 * Neither may touch the MMIO through a host address: the access goes to the
 * VMM as an MMIO exit, which the VMM serves through its own mapping or not.
 */
static void emulated_access(struct vmm_vm *vm, uint64_t gpa, volatile uint8_t *mmio,
			    const char *what)
{
	struct kvm_run *run = vm->run;
	uint8_t before = mmio ? mmio[0x20] : 0;
	char name[120];
	int ret;

	ret = tvm_run_string(vm, code_outsb, sizeof(code_outsb), gpa, 0);
	snprintf(name, sizeof(name), "kvm-dmabuf-emulator-read-%s-exits-mmio", what);
	LAB_CHECK(!ret && run->exit_reason == KVM_EXIT_MMIO && !run->mmio.is_write &&
		  run->mmio.phys_addr == gpa + 0x10 && run->mmio.len == 1, name,
		  "KVM_RUN gave %d, %s", ret, exit_str(vm));
	/* the VMM answers the read: the guest's OUTSB puts that byte out */
	if (!ret && run->exit_reason == KVM_EXIT_MMIO) {
		run->mmio.data[0] = 0x5e;
		ret = ioctl(vm->vcpu, KVM_RUN, 0) ? -errno : 0;
		snprintf(name, sizeof(name), "kvm-dmabuf-emulator-read-%s-served-by-vmm", what);
		LAB_CHECK(!ret && run->exit_reason == KVM_EXIT_IO &&
			  run->io.direction == KVM_EXIT_IO_OUT &&
			  *((uint8_t *)run + run->io.data_offset) == 0x5e, name,
			  "KVM_RUN gave %d, %s", ret, exit_str(vm));
	}

	ret = tvm_run_string(vm, code_insb, sizeof(code_insb), gpa, 0xa5);
	snprintf(name, sizeof(name), "kvm-dmabuf-emulator-write-%s-exits-mmio", what);
	LAB_CHECK(!ret && run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write &&
		  run->mmio.phys_addr == gpa + 0x20 && run->mmio.data[0] == 0xa5, name,
		  "KVM_RUN gave %d, %s", ret, exit_str(vm));
	if (mmio) {
		snprintf(name, sizeof(name), "kvm-dmabuf-emulator-write-%s-not-in-mmio", what);
		LAB_CHECK(mmio[0x20] == before, name, "the MMIO byte went from %#x to %#x",
			  before, mmio[0x20]);
	}
}

static void test_emulator(void)
{
	const uint64_t off = 0x10000;	/* a would-be HVA above mmap_min_addr, as above */
	volatile uint8_t *low;
	struct vmm_vm vm;
	int fd, ret;

	low = mmap((void *)off, 0x1000, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (low == MAP_FAILED || low != (void *)off)
		low = NULL;
	else
		memset((void *)low, 0xee, 0x1000);
	if (!lab_expect(tvm_create(&vm, KVM_X86_DEFAULT_VM), 0, "kvm-dmabuf-emulator-vm"))
		goto out_low;
	fd = vfio_dmabuf_export(iv.fd, BAR, 0, 128 * KiB, 0);
	ret = fd < 0 ? fd : slot_dmabuf(&vm, fd, 0, 128 * KiB);
	if (lab_expect(ret, 0, "kvm-dmabuf-emulator-slot")) {
		bar[off + 0x10] = 0xcc;
		bar[off + 0x20] = 0xcc;
		emulated_access(&vm, GPA + off, bar + off, "shared");
		/* nor through the VMM's memory at the slot's would-be HVA */
		if (low)
			LAB_CHECK(low[0x10] == 0xee && low[0x20] == 0xee,
				  "kvm-dmabuf-emulator-not-in-vmm-memory",
				  "the VMM's page at %#lx reads %#x %#x", (unsigned long)off,
				  low[0x10], low[0x20]);
		else
			lab_skip("kvm-dmabuf-emulator-not-in-vmm-memory",
				 "cannot map a page at 0x10000");
		/* the guest's own loads still reach the MMIO */
		vmm_vm_destroy(&vm);
		tvm_create(&vm, KVM_X86_DEFAULT_VM);
		ret = slot_dmabuf(&vm, fd, 0, 128 * KiB);
		if (!ret) {
			uint32_t exit;

			ret = tvm_read(&vm, GPA + off + 0x10, &exit);
		}
		LAB_CHECK(ret == 0xcc, "kvm-dmabuf-emulator-guest-load-still-maps",
			  "the guest read %d", ret);
	}
	if (fd >= 0)
		close(fd);
	vmm_vm_destroy(&vm);
out_low:
	if (low)
		munmap((void *)low, 0x1000);
}

static void test_private(struct vmm_vm *bvm)
{
	struct kvm_memory_attributes attr = {
		.address = GPA, .size = 64 * KiB, .attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
	};
	struct vmm_vm plain, other;
	uint32_t exit;
	int fd, sfd, ret;

	if (!lab_expect(bind(iv.vdev), 0, "kvm-dmabuf-tsm-bind"))
		return;
	fd = vfio_dmabuf_export(iv.fd, BAR, PRIV_OFF, 64 * KiB, VFIO_DMA_BUF_PRIVATE);
	if (!LAB_CHECK(fd >= 0, "kvm-dmabuf-export-private", "%s", strerror(-fd)))
		goto out_unbind;

	/* private MMIO goes only to the VM the interface is bound to */
	tvm_create(&plain, KVM_X86_DEFAULT_VM);
	lab_expect(slot_dmabuf(&plain, fd, 0, 64 * KiB), EPERM,
		   "kvm-dmabuf-private-in-plain-vm-eperm");
	vmm_vm_destroy(&plain);
	tvm_create(&other, KVM_X86_SW_PROTECTED_VM);
	lab_expect(slot_dmabuf(&other, fd, 0, 64 * KiB), EPERM,
		   "kvm-dmabuf-private-in-other-vm-eperm");
	vmm_vm_destroy(&other);

	trace_reset();
	lab_expect(slot_dmabuf(bvm, fd, 0, 64 * KiB), 0, "kvm-dmabuf-slot-private");
	LAB_CHECK(traced("kvm_dmabuf_slot_bind", fd, PRIV_OFF, 16, 1),
		  "kvm-dmabuf-trace-bind-private", "no kvm_dmabuf_slot_bind arg 1");

	/* a shared access to a private slot is refused; a private one maps it */
	ret = tvm_run(bvm, code_wr_rd, sizeof(code_wr_rd), GPA, &exit);
	LAB_CHECK(ret == -EFAULT && exit == KVM_EXIT_MEMORY_FAULT,
		  "kvm-dmabuf-private-shared-access-refused", "KVM_RUN gave %d exit %u", ret,
		  exit);
	ret = ioctl(bvm->fd, KVM_SET_MEMORY_ATTRIBUTES, &attr) ? -errno : 0;
	if (!ret)
		ret = tvm_run(bvm, code_wr_rd, sizeof(code_wr_rd), GPA, &exit);
	LAB_CHECK(ret == 0x77, "kvm-dmabuf-guest-access-private",
		  "guest wrote and read %d (want 0x77), exit %u", ret, exit);
	/*
	 * KVM's emulator on a private page: no host read or write of the
	 * MMIO; the guest itself put 0x77 where INSB would write
	 */
	ret = tvm_run(bvm, code_wr_rd, sizeof(code_wr_rd), GPA + 0x20, &exit);
	emulated_access(bvm, GPA, NULL, "private");
	ret = ret == 0x77 ? tvm_read(bvm, GPA + 0x20, &exit) : ret;
	LAB_CHECK(ret == 0x77, "kvm-dmabuf-emulator-private-mmio-unchanged",
		  "the guest read %d (want 0x77), exit %u", ret, exit);

	/* a shared DMABUF of the shared hole: shared accesses only */
	sfd = vfio_dmabuf_export(iv.fd, BAR, 0, 64 * KiB, 0);
	ret = sfd < 0 ? sfd : slot_add(bvm, SLOT + 1, KVM_MEM_VFIO_DMABUF, sfd, 0, 0,
				       GPA + MiB, 64 * KiB);
	lab_expect(ret, 0, "kvm-dmabuf-shared-slot-in-bound-vm");
	bar[0] = 0x3c;
	ret = tvm_read(bvm, GPA + MiB, &exit);
	LAB_CHECK(ret == 0x3c, "kvm-dmabuf-shared-hole-read-while-bound", "read %d exit %u",
		  ret, exit);
	attr.address = GPA + MiB;
	ret = ioctl(bvm->fd, KVM_SET_MEMORY_ATTRIBUTES, &attr) ? -errno : 0;
	if (!ret)
		ret = tvm_read(bvm, GPA + MiB, &exit);
	LAB_CHECK(ret == -EFAULT && exit == KVM_EXIT_MEMORY_FAULT,
		  "kvm-dmabuf-shared-slot-private-access-refused", "KVM_RUN gave %d exit %u", ret,
		  exit);

	/* UNBIND revokes the private DMABUF: the VM loses the mapping */
	lab_trace_clear();
	lab_expect(unbind(iv.vdev), 0, "kvm-dmabuf-tsm-unbind");
	LAB_CHECK(traced("kvm_dmabuf_slot_unbind", fd, PRIV_OFF, 16, 1),
		  "kvm-dmabuf-trace-unbind-private-revoke", "no kvm_dmabuf_slot_unbind arg 1");
	ret = tvm_run(bvm, code_wr_rd, sizeof(code_wr_rd), GPA, &exit);
	LAB_CHECK(ret == -EFAULT && exit == KVM_EXIT_MEMORY_FAULT,
		  "kvm-dmabuf-private-access-after-unbind",
		  "KVM_RUN gave %d exit %u, want EFAULT and KVM_EXIT_MEMORY_FAULT", ret, exit);
	slot_delete(bvm, SLOT);
	lab_expect(slot_dmabuf(bvm, fd, 0, 64 * KiB), ENODEV, "kvm-dmabuf-private-after-unbind-enodev");
	slot_delete(bvm, SLOT + 1);
	if (sfd >= 0)
		close(sfd);
	close(fd);
	return;
out_unbind:
	unbind(iv.vdev);
}

/* slots created, run and deleted against memory decode off and on */
static volatile unsigned long decode_gen;	/* odd while decode is off */
static volatile int race_stop;

static void *race_slots(void *arg)
{
	long bad = 0, runs = 0;
	struct vmm_vm *vm = arg;
	uint32_t exit;
	int fd;

	fd = vfio_dmabuf_export(iv.fd, BAR, 0, 64 * KiB, 0);
	while (!race_stop && fd >= 0) {
		unsigned long g1 = decode_gen;
		int ret;

		if (slot_dmabuf(vm, fd, 0, 64 * KiB)) {
			/* revoked at export time: a fresh DMABUF once decode is back */
			close(fd);
			do
				fd = vfio_dmabuf_export(iv.fd, BAR, 0, 64 * KiB, 0);
			while (fd < 0 && !race_stop);
			continue;
		}
		ret = tvm_read(vm, GPA, &exit);
		runs++;
		if (ret >= 0 && (g1 & 1) && decode_gen == g1)
			bad++;
		slot_delete(vm, SLOT);
	}
	if (fd >= 0)
		close(fd);
	return (void *)(bad ? -bad : runs);
}

static void test_race(void)
{
	pthread_t t;
	struct vmm_vm vm;
	void *res;
	long r;

	if (tvm_create(&vm, KVM_X86_DEFAULT_VM))
		return;
	race_stop = 0;
	if (pthread_create(&t, NULL, race_slots, &vm))
		return;
	/* decode_gen is odd only while decode is off for sure: bumped after off, before on */
	for (int i = 0; i < 200; i++) {
		vfio_config_cmd(iv.fd, 0);
		__atomic_add_fetch(&decode_gen, 1, __ATOMIC_SEQ_CST);
		usleep(500);
		__atomic_add_fetch(&decode_gen, 1, __ATOMIC_SEQ_CST);
		vfio_config_cmd(iv.fd, MEM_ON);
		usleep(500);
	}
	race_stop = 1;
	pthread_join(t, &res);
	r = (long)res;
	LAB_CHECK(r > 0, "kvm-dmabuf-race-revoke-vs-slots",
		  r < 0 ? "%ld guest reads succeeded while decode was off" : "no run (%ld)",
		  r < 0 ? -r : r);
	vmm_vm_destroy(&vm);
}

/*
 * The device reports a TDI error (fail_pci_tsm_sw_tdi_error): the kernel
 * unbinds the interface, revokes its private DMABUF (reason TDI_ERROR) and
 * zaps the private slot over it; the VMM's UNBIND afterwards is harmless.
 */
static void test_tdi_error(struct vmm_vm *bvm)
{
	struct kvm_memory_attributes pa = {
		.address = GPA, .size = 64 * KiB, .attributes = KVM_MEMORY_ATTRIBUTE_PRIVATE,
	};
	char match[160];
	uint32_t exit = 0;
	int fd, ret, i;

	if (!lab_expect(bind(iv.vdev), 0, "kvm-dmabuf-error-bind"))
		return;
	fd = vfio_dmabuf_export(iv.fd, BAR, PRIV_OFF, 64 * KiB, VFIO_DMA_BUF_PRIVATE);
	ret = fd < 0 ? fd : slot_dmabuf(bvm, fd, 0, 64 * KiB);
	if (!ret)
		ret = ioctl(bvm->fd, KVM_SET_MEMORY_ATTRIBUTES, &pa) ? -errno : 0;
	if (!ret)
		ret = tvm_run(bvm, code_wr_rd, sizeof(code_wr_rd), GPA, &exit);
	if (!LAB_CHECK(ret == 0x77, "kvm-dmabuf-error-private-slot-runs", "got %d exit %u", ret,
		       exit))
		goto out;

	trace_reset();
	lab_trace_event("pci_tsm/pci_tsm_tdi_state", 1);
	lab_trace_event("pci_tsm/pci_tsm_unbind_begin", 1);
	lab_trace_event("vfio_dmabuf/vfio_dmabuf_revoke", 1);
	lab_trace_clear();
	ret = lab_fault_arm("fail_pci_tsm_sw_tdi_error", 1, 1);
	if (!lab_expect(ret, 0, "kvm-dmabuf-error-inject"))
		goto out;
	for (i = 0; i < 500 && strcmp(attr(&iv, "tsm_sw/state"), "CONFIG_UNLOCKED"); i++)
		usleep(10000);
	lab_fault_arm("fail_pci_tsm_sw_tdi_error", 0, 1);
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "CONFIG_UNLOCKED"),
		  "kvm-dmabuf-error-unbinds", "tsm_sw/state %s after 5 s", attr(&iv, "tsm_sw/state"));
	LAB_CHECK(lab_trace_count("pci_tsm_tdi_state", "RUN -> ERROR") == 1 &&
		  lab_trace_count("pci_tsm_tdi_state", "ERROR -> CONFIG_UNLOCKED") == 1,
		  "kvm-dmabuf-error-trace-state", "want RUN -> ERROR -> CONFIG_UNLOCKED");
	LAB_CHECK(lab_trace_count("pci_tsm_unbind_begin", "reason=ERROR") == 1,
		  "kvm-dmabuf-error-trace-unbind-error", "no pci_tsm_unbind_begin reason=ERROR");
	snprintf(match, sizeof(match), "buf=%llu", ino(fd));
	LAB_CHECK(lab_trace_count("vfio_dmabuf_revoke", match) == 1 &&
		  lab_trace_count("vfio_dmabuf_revoke", "kind=PRIVATE arg=2") == 1,
		  "kvm-dmabuf-error-trace-revoke-tdi-error", "no revoke of %s with arg=2 (TDI_ERROR)",
		  match);
	LAB_CHECK(traced("kvm_dmabuf_slot_unbind", fd, PRIV_OFF, 16, 1),
		  "kvm-dmabuf-error-trace-slot-revoke", "no kvm_dmabuf_slot_unbind arg 1");
	ret = tvm_run(bvm, code_wr_rd, sizeof(code_wr_rd), GPA, &exit);
	LAB_CHECK(ret == -EFAULT && exit == KVM_EXIT_MEMORY_FAULT,
		  "kvm-dmabuf-error-private-access-refused", "KVM_RUN gave %d exit %u", ret, exit);
	lab_expect(unbind(iv.vdev), 0, "kvm-dmabuf-error-unbind-after");
	lab_expect(bind(iv.vdev), 0, "kvm-dmabuf-error-bind-again");
	lab_expect(unbind(iv.vdev), 0, "kvm-dmabuf-error-unbind-again");
out:
	slot_delete(bvm, SLOT);
	if (fd >= 0)
		close(fd);
	unbind(iv.vdev);
}

/*
 * A private DMABUF exported while bound must not outlive the unbind that
 * ends that binding, however close to it: once that UNBIND has returned, a
 * slot over it is ENODEV. (An export that slipped in between the unbind's
 * revoke and the layout's end once survived.) The export holds
 * tsm_bind_lock for reading, so no BIND runs during it and the binding it
 * was made in is known: the one of tsm_gen before it (odd: bound, its
 * UNBIND has returned at +2; even: an UNBIND is running, it has returned
 * at +1). UNBINDs race the export freely.
 */
static long survivors, checked;
/* writer-preferring: the export loop must not starve the BINDs */
static pthread_rwlock_t bind_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

static void *export_private_loop(void *arg)
{
	struct vmm_vm *bvm = arg;

	while (!tsm_race_stop) {
		unsigned long g1, end;
		int fd;

		pthread_rwlock_rdlock(&bind_lock);
		g1 = tsm_gen_now();
		fd = vfio_dmabuf_export(iv.fd, BAR, PRIV_OFF, 64 * KiB, VFIO_DMA_BUF_PRIVATE);
		pthread_rwlock_unlock(&bind_lock);
		if (fd < 0)
			continue;
		end = g1 % 2 ? g1 + 2 : g1 + 1;
		while (tsm_gen_now() < end && !tsm_race_stop)
			usleep(100);
		/* at the stop, every UNBIND has returned */
		if (tsm_gen_now() >= end || tsm_race_stop) {
			checked++;
			if (!slot_dmabuf(bvm, fd, 0, 64 * KiB)) {
				survivors++;
				slot_delete(bvm, SLOT);
			}
		}
		close(fd);
	}
	return NULL;
}

static void test_private_survivors(struct vmm_vm *bvm)
{
	survivors = checked = 0;
	tsm_bind_lock = &bind_lock;
	tsm_race("kvm-dmabuf-private-export-vs-unbind", export_private_loop, bvm, 100, 2000);
	tsm_bind_lock = NULL;
	LAB_CHECK(checked > 0 && !survivors, "kvm-dmabuf-private-export-never-outlives-unbind",
		  "%ld of %ld private DMABUFs exported while bound still mapped after the UNBIND",
		  survivors, checked);
}

/* TDI errors fired at random against BIND/UNBIND and private slots */
static void *error_race_slots(void *arg)
{
	long runs = 0, bad = 0;
	struct vmm_vm *bvm = arg;
	uint32_t exit;

	while (!tsm_race_stop) {
		int fd = vfio_dmabuf_export(iv.fd, BAR, PRIV_OFF, 64 * KiB, VFIO_DMA_BUF_PRIVATE);
		int ret;

		if (fd < 0) {
			bad += fd != -EPERM;
			continue;
		}
		ret = slot_dmabuf(bvm, fd, 0, 64 * KiB);
		if (!ret) {
			ret = tvm_run(bvm, code_wr_rd, sizeof(code_wr_rd), GPA, &exit);
			bad += ret != 0x77 && ret != -EFAULT;
			runs++;
			slot_delete(bvm, SLOT);
		} else {
			bad += ret != -ENODEV;
		}
		close(fd);
	}
	return (void *)(bad ? -bad : runs);
}

static void test_tdi_error_race(struct vmm_vm *bvm)
{
	pthread_t t;
	void *res;
	long r;

	lab_fault_arm("fail_pci_tsm_sw_tdi_error", 10000, 1);
	lab_fault_write("fail_pci_tsm_sw_tdi_error", "probability", "40");
	lab_trace_clear();
	tsm_race_stop = 0;
	if (pthread_create(&t, NULL, error_race_slots, bvm))
		return;
	r = tsm_bind_rounds(60, 30000);
	tsm_race_stop = 1;
	pthread_join(t, &res);
	lab_fault_arm("fail_pci_tsm_sw_tdi_error", 0, 1);
	LAB_CHECK(!r, "kvm-dmabuf-error-race-binds", "%ld BIND/UNBIND calls failed", r);
	LAB_CHECK((long)res > 0, "kvm-dmabuf-error-race-slots",
		  (long)res < 0 ? "%ld unexpected results" : "no run (%ld)",
		  (long)res < 0 ? -(long)res : (long)res);
	LAB_CHECK(lab_trace_count("pci_tsm_unbind_begin", "reason=ERROR") > 0,
		  "kvm-dmabuf-error-race-errors-happened", "no TDI error fired in 60 rounds");
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "CONFIG_UNLOCKED"),
		  "kvm-dmabuf-error-race-unbound", "tsm_sw/state %s", attr(&iv, "tsm_sw/state"));
}

int main(void)
{
	struct vmm_vm bvm;

	int ret;

	kvm_fd = open("/dev/kvm", O_RDWR);
	if (!LAB_CHECK(kvm_fd >= 0, "kvm-dmabuf-open-kvm", "%s", strerror(errno)))
		return 1;
	vmm_vm_type = KVM_X86_SW_PROTECTED_VM;
	ret = tsm_setup_bindable(HOLES);
	if (!lab_expect(ret, 0, "kvm-dmabuf-setup"))
		return 1;
	bar = vfio_region_mmap(iv.fd, BAR, 8 * MiB, NULL);
	bar_start = lab_bar_start(iv.bdf, BAR);
	if (!LAB_CHECK(bar && bar_start, "kvm-dmabuf-bar", "BAR2 %p at %#llx", (void *)bar,
		       (unsigned long long)bar_start))
		return 1;
	vfio_config_cmd(iv.fd, MEM_ON);
	test_shared();
	test_ranges_and_huge();
	test_refusals();
	test_no_hva();
	test_emulator();
	test_race();
	/* setup() made vm_fd a software-protected VM; the TSM binds to it */
	if (!lab_expect(vmm_vm_init(&bvm, kvm_fd, vm_fd, MEM_SIZE), 0, "kvm-dmabuf-protected-vm"))
		return 1;
	test_private(&bvm);
	test_private_survivors(&bvm);
	test_tdi_error(&bvm);
	test_tdi_error_race(&bvm);
	lab_expect(set_attr(&iv, "tsm/disconnect", "tsm0"), 0, "kvm-dmabuf-disconnect");
	return lab_failed;
}
