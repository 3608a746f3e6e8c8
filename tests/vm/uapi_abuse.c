// SPDX-License-Identifier: GPL-2.0
/*
 * uapi_abuse - the series' requests attacked as the iommufd selftests and
 * syzkaller do, on the lab's ivshmem (BAR2: 4 GiB), in the lab guest.
 *
 *  - IOMMU_VDEVICE_TSM_OP: every size from 0 to the struct + 8 with zero and
 *    non-zero trailing bytes, every flag bit, type values around the two
 *    valid ones, the ids of every other object type, a freed vDEVICE id, an
 *    unreadable argument;
 *  - VFIO_DEVICE_FEATURE_DMA_BUF: every bit of its flags (VFIO_DMA_BUF_PRIVATE
 *    is the series'; the others must stay refused), every argsz up to the
 *    request + 8;
 *  - VFIO_DEVICE_FEATURE_TSM_LAYOUT: every argsz, every flag bit, every
 *    feature flag combination, a result that cannot be written back;
 *  - KVM_SET_USER_MEMORY_REGION2 with KVM_MEM_VFIO_DMABUF: every other flag
 *    bit beside it, fds of every other kind (iommufd, the VFIO device, a VM,
 *    an eventfd, a memfd, a udmabuf, a closed fd);
 *  - fail-nth sweeps of a shared export, a private export (bound), the IOAS
 *    import of a DMABUF, the KVM slot over one and the layout's GET (bound):
 *    each failure point must unwind, leaving no DMABUF, attachment, IOAS
 *    area or memslot behind;
 *  - a random-argument loop over all of these and BIND/UNBIND, seeded and
 *    bounded (TSM_ABUSE_SEED, TSM_ABUSE_ITERS; the seed is printed), which
 *    asserts only that every answer is success or an errno docs/uapi.md
 *    lists for the request, and that nothing is left behind at the end.
 *    A failure names the request, the seed, the iteration and the arguments,
 *    so it can be replayed: uapi_abuse's first argument overrides the seed.
 *
 * The kernel's own checks run too: scripts/vm.sh fails the run on a kernel
 * warning, a lockdep report or (on the KASAN kernel) a KASAN report or a
 * leak. One PASS:/FAIL: line per case.
 */
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>

#include "tsm_vmm.h"

#define BAR		2
#define PAGE		0x1000UL
#define MiB		0x100000UL
#define BAR_SIZE	(4096 * MiB)
#define HOLES		"2:0x0+0x200000"
#define IOVA		0x4000000UL
#define GPA		0x10000000UL
#define SLOT		5
#define MEM_ON		(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

static int dmabufs_before;

/* ---- helpers ---------------------------------------------------------------- */

/* the sum of "Total N devices attached" of dma_buf/bufinfo, or -1 */
static int attachments(void)
{
	char line[512];
	FILE *f = fopen(LAB_DEBUGFS "/dma_buf/bufinfo", "r");
	int n = 0, k;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Total %d devices attached", &k) == 1)
			n += k;
	fclose(f);
	return n;
}

/* VFIO_DEVICE_FEATURE_DMA_BUF with one range, argsz and flags as given */
static int export_raw(uint32_t argsz, uint32_t feature_flags, uint32_t region, uint32_t flags,
		      uint32_t open_flags, uint32_t nr, uint64_t off, uint64_t len)
{
	struct {
		struct vfio_device_feature f;
		struct vfio_device_feature_dma_buf d;
		struct vfio_region_dma_range r[4];
		uint8_t slack[64];
	} req;

	memset(&req, 0, sizeof(req));
	req.f.argsz = argsz;
	req.f.flags = feature_flags | VFIO_DEVICE_FEATURE_DMA_BUF;
	req.d.region_index = region;
	req.d.open_flags = open_flags;
	req.d.flags = flags;
	req.d.nr_ranges = nr;
	for (int i = 0; i < 4; i++) {
		req.r[i].offset = off + i * len;
		req.r[i].length = len;
	}
	return ioctl(iv.fd, VFIO_DEVICE_FEATURE, &req);
}

static int export(uint64_t off, uint64_t len, uint32_t flags)
{
	return vfio_dmabuf_export(iv.fd, BAR, off, len, flags);
}

/* the argsz of a TSM_LAYOUT request with room for @n ranges */
#define LAYOUT_ARGSZ(n)	(uint32_t)(sizeof(struct vfio_device_feature) +			\
				   sizeof(struct vfio_device_feature_tsm_layout) +	\
				   (n) * sizeof(struct vfio_tsm_range))

/* VFIO_DEVICE_FEATURE_TSM_LAYOUT of BAR2 with room for @room ranges */
static int layout_raw(uint32_t argsz, uint32_t feature_flags, uint32_t region,
		      uint32_t flags, uint32_t room)
{
	struct {
		struct vfio_device_feature f;
		struct vfio_device_feature_tsm_layout l;
		struct vfio_tsm_range r[8];
	} req;

	memset(&req, 0, sizeof(req));
	req.f.argsz = argsz;
	req.f.flags = feature_flags | VFIO_DEVICE_FEATURE_TSM_LAYOUT;
	req.l.region_index = region;
	req.l.flags = flags;
	req.l.nr_ranges = room;
	return ioctl(iv.fd, VFIO_DEVICE_FEATURE, &req) ? -errno : 0;
}

static int slot_set(uint32_t slot, uint32_t flags, int fd, uint64_t off, uint64_t uaddr,
		    uint64_t gpa, uint64_t size)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = uaddr, .guest_memfd_offset = off, .guest_memfd = fd,
	};

	return ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &r) ? -errno : 0;
}

static int slot_dmabuf(int fd, uint64_t off, uint64_t size)
{
	return slot_set(SLOT, KVM_MEM_VFIO_DMABUF, fd, off, 0, GPA, size);
}

static int slot_delete(uint32_t slot)
{
	return slot_set(slot, 0, 0, 0, 0, 0, 0);
}

/* "ERRNO at what" of the first of @n answers that is not @want, in @buf */
struct tally {
	char first[160];
	int bad;
};

static void tally(struct tally *t, int got, int want, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (got == want)
		return;
	if (!t->bad++) {
		n = snprintf(t->first, sizeof(t->first), "%s, want %s at ",
			     lab_errname(got), lab_errname(want));
		va_start(ap, fmt);
		vsnprintf(t->first + n, sizeof(t->first) - n, fmt, ap);
		va_end(ap);
	}
}

static void tally_report(struct tally *t, const char *name)
{
	LAB_CHECK(!t->bad, name, "%d wrong answers, the first %s", t->bad, t->first);
}

/* ---- IOMMU_VDEVICE_TSM_OP -------------------------------------------------- */

/*
 * IOMMU_VDEVICE_TSM_OP of @size bytes from a buffer with room to spare: the
 * errno (0 on success); @trail, when non-zero, is the value of the last byte
 * of @size.
 */
static int tsm_op_errno(uint32_t size, uint32_t type, uint32_t flags, uint32_t id,
			uint8_t trail)
{
	union {
		struct iommu_vdevice_tsm_op op;
		uint8_t b[64];
	} req;

	memset(&req, 0, sizeof(req));
	req.op.size = size;
	req.op.type = type;
	req.op.flags = flags;
	req.op.vdevice_id = id;
	if (trail && size > sizeof(req.op) && size <= sizeof(req))
		req.b[size - 1] = trail;
	return ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &req) ? errno : 0;
}

static void test_tsm_op(void)
{
	const uint32_t sz = sizeof(struct iommu_vdevice_tsm_op);
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	uint32_t ids[] = { ioas, iv.hwpt, iv.viommu, iv.id, 0, 0xffffffff };
	struct tally t = { 0 };
	uint32_t freed;

	/* UNBIND of an unbound vDEVICE: success that changes nothing */
	for (uint32_t size = 0; size <= sz + 8; size++) {
		int want = size < sz ? EINVAL : 0;

		tally(&t, tsm_op_errno(size, IOMMU_VDEVICE_TSM_UNBIND, 0, iv.vdev, 0), want,
		      "size %u", size);
		if (size > sz)
			tally(&t, tsm_op_errno(size, IOMMU_VDEVICE_TSM_UNBIND, 0, iv.vdev, 0x5a),
			      E2BIG, "size %u, its last byte set", size);
	}
	tally_report(&t, "abuse-tsm-op-size-sweep");

	memset(&t, 0, sizeof(t));
	for (int bit = 0; bit < 32; bit++) {
		tally(&t, tsm_op_errno(sz, IOMMU_VDEVICE_TSM_BIND, 1u << bit, iv.vdev, 0),
		      EOPNOTSUPP, "flag bit %d, BIND", bit);
		tally(&t, tsm_op_errno(sz, IOMMU_VDEVICE_TSM_UNBIND, 1u << bit, iv.vdev, 0),
		      EOPNOTSUPP, "flag bit %d, UNBIND", bit);
	}
	tally_report(&t, "abuse-tsm-op-every-flag-eopnotsupp");

	memset(&t, 0, sizeof(t));
	for (uint32_t type = 0; type < 64; type++)
		if (type != IOMMU_VDEVICE_TSM_BIND && type != IOMMU_VDEVICE_TSM_UNBIND)
			tally(&t, tsm_op_errno(sz, type, 0, iv.vdev, 0), EINVAL, "type %u", type);
	for (int bit = 6; bit < 32; bit++)
		tally(&t, tsm_op_errno(sz, 1u << bit, 0, iv.vdev, 0), EINVAL, "type 1 << %d", bit);
	tally_report(&t, "abuse-tsm-op-every-type-einval");

	memset(&t, 0, sizeof(t));
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		tally(&t, tsm_op_errno(sz, IOMMU_VDEVICE_TSM_BIND, 0, ids[i], 0), ENOENT,
		      "BIND of id %#x", ids[i]);
		tally(&t, tsm_op_errno(sz, IOMMU_VDEVICE_TSM_UNBIND, 0, ids[i], 0), ENOENT,
		      "UNBIND of id %#x", ids[i]);
	}
	tally_report(&t, "abuse-tsm-op-other-object-ids-enoent");

	/* an id freed: an IOAS destroyed, then the vDEVICE itself */
	if (lab_expect(ioctl(iommufd, IOMMU_IOAS_ALLOC, &a) ? -errno : 0, 0,
		       "abuse-tsm-op-ioas-alloc")) {
		destroy(a.out_ioas_id);
		lab_expect(tsm_op(sz, IOMMU_VDEVICE_TSM_BIND, 0, a.out_ioas_id, 0), ENOENT,
			   "abuse-tsm-op-freed-ioas-id-enoent");
	}
	freed = iv.vdev;
	if (lab_expect(destroy(iv.vdev), 0, "abuse-tsm-op-destroy-vdevice")) {
		lab_expect(bind(freed), ENOENT, "abuse-tsm-op-freed-vdevice-bind-enoent");
		lab_expect(unbind(freed), ENOENT, "abuse-tsm-op-freed-vdevice-unbind-enoent");
	}
	lab_expect(vdevice_alloc(&iv, 0x77), 0, "abuse-tsm-op-vdevice-again");

	errno = 0;
	LAB_CHECK(ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, (void *)8) && errno == EFAULT,
		  "abuse-tsm-op-unreadable-efault", "got %s", lab_errname(errno));
}

/* ---- VFIO_DEVICE_FEATURE_DMA_BUF ------------------------------------------- */

static void test_export(void)
{
	const uint32_t full = sizeof(struct vfio_device_feature) +
			      sizeof(struct vfio_device_feature_dma_buf) +
			      sizeof(struct vfio_region_dma_range);
	struct tally t = { 0 };
	int fd;

	for (int bit = 1; bit < 32; bit++) {
		fd = export_raw(full, VFIO_DEVICE_FEATURE_GET, BAR, 1u << bit, O_CLOEXEC, 1,
				0, 2 * MiB);
		tally(&t, fd < 0 ? errno : 0, EINVAL, "flag bit %d", bit);
		if (fd >= 0)
			close(fd);
	}
	tally_report(&t, "abuse-export-unknown-flags-einval");

	/* private while unbound: no page is private */
	fd = export_raw(full, VFIO_DEVICE_FEATURE_GET, BAR, VFIO_DMA_BUF_PRIVATE, O_CLOEXEC, 1,
			0, 2 * MiB);
	lab_expect(fd < 0 ? -errno : (close(fd), 0), EPERM, "abuse-export-private-unbound-eperm");

	/*
	 * Every argsz: below the header and the request, EINVAL; the ranges
	 * are read from what follows the request whatever argsz says
	 * (mainline's rule), so every argsz from the request on exports.
	 */
	memset(&t, 0, sizeof(t));
	for (uint32_t argsz = 0; argsz <= full + 8; argsz++) {
		int want = argsz < full - sizeof(struct vfio_region_dma_range) ? EINVAL : 0;

		fd = export_raw(argsz, VFIO_DEVICE_FEATURE_GET, BAR, 0, O_CLOEXEC, 1, 0, 2 * MiB);
		tally(&t, fd < 0 ? errno : 0, want, "argsz %u", argsz);
		if (fd >= 0)
			close(fd);
	}
	tally_report(&t, "abuse-export-argsz-sweep");

	memset(&t, 0, sizeof(t));
	for (int bit = 0; bit < 32; bit++) {
		uint32_t ff = 1u << bit;
		int want;

		if (ff == VFIO_DEVICE_FEATURE_GET || ff == VFIO_DEVICE_FEATURE_PROBE)
			continue;
		/* the bits of the feature number, and SET: mainline's answers */
		if (ff & VFIO_DEVICE_FEATURE_MASK)
			continue;
		want = EINVAL;
		fd = export_raw(full, ff, BAR, VFIO_DMA_BUF_PRIVATE, O_CLOEXEC, 1, 0, 2 * MiB);
		tally(&t, fd < 0 ? errno : 0, want, "feature flag bit %d", bit);
		if (fd >= 0)
			close(fd);
	}
	tally_report(&t, "abuse-export-private-feature-flags-einval");
	lab_expect(dmabufs_before == lab_dmabuf_count() ? 0 : -EEXIST, 0,
		   "abuse-export-nothing-left");
}

/* ---- VFIO_DEVICE_FEATURE_TSM_LAYOUT ---------------------------------------- */

/*
 * A request that ends a page before read-only ranges[], then one whose
 * header is in a read-only page and ranges[] in the next: the result
 * cannot be written back (EFAULT), the ranges are written in the second.
 */
static void test_layout_efault(void)
{
	const size_t pg = 4096, hdr = LAYOUT_ARGSZ(0);
	uint8_t *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	struct vfio_device_feature *f = (void *)(m + pg - hdr);
	struct vfio_device_feature_tsm_layout *l = (void *)f->data;
	struct vfio_tsm_range *r = (void *)(m + pg);

	if (!LAB_CHECK(m != MAP_FAILED, "abuse-layout-efault-mmap", "%s", strerror(errno)))
		return;
	f->argsz = LAYOUT_ARGSZ(2);
	f->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_TSM_LAYOUT;
	l->region_index = BAR;
	l->nr_ranges = 2;
	mprotect(m + pg, pg, PROT_READ);
	lab_expect(ioctl(iv.fd, VFIO_DEVICE_FEATURE, f) ? -errno : 0, EFAULT,
		   "abuse-layout-ranges-unwritable-efault");
	mprotect(m + pg, pg, PROT_READ | PROT_WRITE);
	mprotect(m, pg, PROT_READ);
	lab_expect(ioctl(iv.fd, VFIO_DEVICE_FEATURE, f) ? -errno : 0, EFAULT,
		   "abuse-layout-header-unwritable-efault");
	LAB_CHECK(r[0].length && r[1].length, "abuse-layout-header-unwritable-ranges-written",
		  "ranges %#llx+%#llx %#llx+%#llx", (unsigned long long)r[0].offset,
		  (unsigned long long)r[0].length, (unsigned long long)r[1].offset,
		  (unsigned long long)r[1].length);
	munmap(m, 2 * pg);
}

static void test_layout(void)
{
	const uint32_t hdr = sizeof(struct vfio_device_feature) +
			     sizeof(struct vfio_device_feature_tsm_layout);
	const uint32_t one = sizeof(struct vfio_tsm_range);
	struct tally t = { 0 };

	/*
	 * While bound with HOLES, BAR2 is two ranges. Room for @room ranges
	 * but an argsz below it is EINVAL; room for fewer is ENOSPC.
	 */
	for (uint32_t argsz = 0; argsz <= hdr + 3 * one + 8; argsz++) {
		for (uint32_t room = 0; room <= 3; room++) {
			int want;

			if (argsz < hdr || argsz < hdr + room * one)
				want = EINVAL;
			else
				want = room < 2 ? ENOSPC : 0;
			tally(&t, -layout_raw(argsz, VFIO_DEVICE_FEATURE_GET, BAR, 0, room), want,
			      "argsz %u, room %u", argsz, room);
		}
	}
	tally_report(&t, "abuse-layout-argsz-sweep");

	memset(&t, 0, sizeof(t));
	for (int bit = 0; bit < 32; bit++)
		tally(&t, -layout_raw(hdr + 2 * one, VFIO_DEVICE_FEATURE_GET, BAR, 1u << bit, 2),
		      EINVAL, "flag bit %d", bit);
	tally_report(&t, "abuse-layout-every-flag-einval");

	memset(&t, 0, sizeof(t));
	tally(&t, -layout_raw(hdr + 2 * one, VFIO_DEVICE_FEATURE_SET, BAR, 0, 2), EINVAL, "SET");
	tally(&t, -layout_raw(hdr + 2 * one, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET,
			      BAR, 0, 2), EINVAL, "GET|SET");
	tally(&t, -layout_raw(hdr + 2 * one, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET,
			      BAR, 0, 2), 0, "PROBE|GET");
	tally(&t, -layout_raw(hdr + 2 * one, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET,
			      BAR, 0, 2), EINVAL, "PROBE|SET");
	/* ivshmem-plain: BAR0 is 256 bytes of registers, BAR2 the memory */
	for (uint32_t region = 0; region < 64; region++)
		if (region != BAR && region != 1)
			tally(&t, -layout_raw(hdr + 2 * one, VFIO_DEVICE_FEATURE_GET, region, 0, 8),
			      EINVAL, "region %u", region);
	tally_report(&t, "abuse-layout-ops-and-regions");
	test_layout_efault();
}

/* ---- KVM_MEM_VFIO_DMABUF -------------------------------------------------- */

static void test_slot(void)
{
	int fd = export(0, 2 * MiB, 0), efd, memfd, ubuf, closed, kvm, vm2;
	struct tally t = { 0 };

	if (!lab_expect(fd < 0 ? fd : 0, 0, "abuse-slot-export"))
		return;
	for (int bit = 0; bit < 32; bit++) {
		uint32_t flags = KVM_MEM_VFIO_DMABUF | (1u << bit);

		if (flags == KVM_MEM_VFIO_DMABUF)
			continue;
		tally(&t, -slot_set(SLOT, flags, fd, 0, 0, GPA, 2 * MiB), EINVAL,
		      "flags %#x", flags);
	}
	tally_report(&t, "abuse-slot-other-flag-einval");

	efd = eventfd(0, EFD_CLOEXEC);
	memfd = memfd_create("abuse", MFD_CLOEXEC);
	if (memfd >= 0 && ftruncate(memfd, 2 * MiB))
		memfd = -1;
	ubuf = vmm_udmabuf(2 * MiB);
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	vm2 = ioctl(kvm, KVM_CREATE_VM, 0);
	/* last: no open() may take the number of the closed fd */
	closed = dup(fd);
	close(closed);
	memset(&t, 0, sizeof(t));
	tally(&t, -slot_dmabuf(iommufd, 0, 2 * MiB), EINVAL, "an iommufd");
	tally(&t, -slot_dmabuf(iv.fd, 0, 2 * MiB), EINVAL, "the VFIO device");
	tally(&t, -slot_dmabuf(vm_fd, 0, 2 * MiB), EINVAL, "the VM itself");
	tally(&t, -slot_dmabuf(vm2, 0, 2 * MiB), EINVAL, "another VM");
	tally(&t, -slot_dmabuf(efd, 0, 2 * MiB), EINVAL, "an eventfd");
	tally(&t, -slot_dmabuf(memfd, 0, 2 * MiB), EINVAL, "a memfd");
	tally(&t, -slot_dmabuf(ubuf, 0, 2 * MiB), EOPNOTSUPP, "a udmabuf");
	tally(&t, -slot_dmabuf(closed, 0, 2 * MiB), EBADF, "a closed fd");
	tally(&t, -slot_dmabuf(-1, 0, 2 * MiB), EBADF, "fd -1");
	tally(&t, -slot_dmabuf(fd, 2 * MiB, 2 * MiB), EINVAL, "a slice beyond the DMABUF");
	tally(&t, -slot_dmabuf(fd, 0, 0), EINVAL, "an empty slice");
	tally_report(&t, "abuse-slot-other-fds");
	if (lab_expect(slot_dmabuf(fd, 0, 2 * MiB), 0, "abuse-slot-after-refusals"))
		lab_expect(slot_delete(SLOT), 0, "abuse-slot-delete");
	close(fd);
	close(efd);
	close(memfd);
	close(ubuf);
	close(vm2);
	close(kvm);
}

/* ---- fail-nth sweeps -------------------------------------------------------- */

/*
 * Fail each fault point @call() reaches in turn (it returns >= 0 or -errno;
 * @undo(ret) undoes a success); after each failure @check() says what was
 * left behind ("" for nothing).
 */
static void sweep(const char *name, int (*call)(void), void (*undo)(int),
		  const char *(*check)(void), int min_points)
{
	char errs[256] = "", bad[256] = "", n[96];
	int nth, points = 0, ended = 0, ret;
	struct lab_fail_nth fail;
	unsigned long left;
	const char *why;

	snprintf(n, sizeof(n), "%s-open", name);
	if (!lab_expect(lab_fail_nth_begin(&fail), 0, n))
		return;
	for (nth = 1; nth <= 400 && !ended; nth++) {
		if (lab_fail_nth_set(&fail, nth))
			break;
		ret = call();
		left = lab_fail_nth_clear(&fail);
		if (ret >= 0) {
			/* left == 0: the failed point had a fallback */
			ended = left != 0;
			undo(ret);
			continue;
		}
		points++;
		if (strlen(errs) < sizeof(errs) - 12)
			snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs), " %s",
				 lab_errname(-ret));
		if (-ret != ENOMEM && -ret != ENOENT && !bad[0])
			snprintf(bad, sizeof(bad), "nth %d: failed with %s", nth,
				 lab_errname(-ret));
		why = check();
		if (why[0] && !bad[0])
			snprintf(bad, sizeof(bad), "nth %d (%s): %s", nth, lab_errname(-ret), why);
	}
	lab_fail_nth_end(&fail);
	printf("# fail-nth sweep of %s: %d failure points:%s\n", name, points, errs);
	snprintf(n, sizeof(n), "%s-ends", name);
	LAB_CHECK(ended, n, "still failing at nth %d", nth - 1);
	snprintf(n, sizeof(n), "%s-points", name);
	LAB_CHECK(points >= min_points, n, "%d failure points, want at least %d", points,
		  min_points);
	snprintf(n, sizeof(n), "%s-unwound", name);
	LAB_CHECK(!bad[0], n, "%s", bad);
}

static int sweep_fd = -1, sweep_base;

static int sweep_export_shared(void)
{
	return export(0, 2 * MiB, 0);
}

static int sweep_export_private(void)
{
	return export(2 * MiB, 2 * MiB, VFIO_DMA_BUF_PRIVATE);
}

static void sweep_close(int fd)
{
	close(fd);
}

static const char *sweep_export_check(void)
{
	return lab_dmabuf_count() == sweep_base ? "" : "a DMABUF was left behind";
}

static int sweep_map(void)
{
	return iommufd_map_file(iommufd, ioas, sweep_fd, 2 * MiB, IOVA);
}

static void sweep_unmap(int ret)
{
	iommufd_ioas_unmap(iommufd, ioas, IOVA, 2 * MiB);
}

static const char *sweep_map_check(void)
{
	if (attachments() != sweep_base)
		return "an attachment was left behind";
	if (iommufd_ioas_unmap(iommufd, ioas, IOVA, 2 * MiB) != -ENOENT)
		return "an area was left at the IOVA";
	return "";
}

static int sweep_slot(void)
{
	return slot_dmabuf(sweep_fd, 0, 2 * MiB);
}

static void sweep_slot_delete(int ret)
{
	slot_delete(SLOT);
}

static const char *sweep_slot_check(void)
{
	if (attachments() != sweep_base)
		return "an attachment was left behind";
	if (slot_delete(SLOT) != -EINVAL)
		return "a memslot was left behind";
	return "";
}

static int sweep_layout(void)
{
	return layout_raw(LAYOUT_ARGSZ(8), VFIO_DEVICE_FEATURE_GET, BAR, 0, 8);
}

static void sweep_nothing(int ret)
{
}

static const char *sweep_layout_check(void)
{
	return sweep_layout() ? "the next GET failed" : "";
}

static void test_fail_nth_unbound(void)
{
	sweep_base = lab_dmabuf_count();
	sweep("abuse-fail-nth-export-shared", sweep_export_shared, sweep_close,
	      sweep_export_check, 2);

	sweep_fd = export(0, 2 * MiB, 0);
	if (!lab_expect(sweep_fd < 0 ? sweep_fd : 0, 0, "abuse-fail-nth-export"))
		return;
	sweep_base = attachments();
	sweep("abuse-fail-nth-ioas-map", sweep_map, sweep_unmap, sweep_map_check, 2);
	sweep("abuse-fail-nth-kvm-slot", sweep_slot, sweep_slot_delete, sweep_slot_check, 2);
	lab_expect(iommufd_map_file(iommufd, ioas, sweep_fd, 2 * MiB, IOVA), 0,
		   "abuse-fail-nth-map-after");
	lab_expect(slot_dmabuf(sweep_fd, 0, 2 * MiB), 0, "abuse-fail-nth-slot-after");
	slot_delete(SLOT);
	iommufd_ioas_unmap(iommufd, ioas, IOVA, 2 * MiB);
	close(sweep_fd);
}

static void test_fail_nth_bound(void)
{
	sweep_base = lab_dmabuf_count();
	sweep("abuse-fail-nth-export-private", sweep_export_private, sweep_close,
	      sweep_export_check, 2);
	/* bound, BAR2 has ranges to allocate: one failure point */
	sweep("abuse-fail-nth-layout", sweep_layout, sweep_nothing, sweep_layout_check, 1);
}

/* ---- the random loop --------------------------------------------------------- */

static uint64_t rng;

static uint64_t rnd(void)
{
	/* xorshift64*: the same seed gives the same run */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t pick(const uint64_t *v, size_t n)
{
	return v[rnd() % n];
}

#define PICK(...) pick((const uint64_t[]){ __VA_ARGS__ },			\
		       sizeof((const uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t))

/* is @err in the list of @n errnos? */
static int documented(int err, const int *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == err)
			return 1;
	return 0;
}

#define DOC(err, ...) documented(err, (const int[]){ __VA_ARGS__ },		\
				 sizeof((const int[]){ __VA_ARGS__ }) / sizeof(int))

/* errnos docs/uapi.md lists, per request (0: success) */
#define DOC_TSM_OP(e)	DOC(e, 0, EINVAL, E2BIG, EOPNOTSUPP, ENOENT, ENODEV, EBUSY, ENOMEM, \
			    EIO, ENXIO)
#define DOC_EXPORT(e)	DOC(e, 0, EINVAL, ENODEV, EPERM, EOVERFLOW, EFAULT, ENOMEM, ENOTTY, \
			    EOPNOTSUPP)
#define DOC_LAYOUT(e)	DOC(e, 0, EINVAL, ENOSPC, EFAULT, ENOMEM, ENOTTY)
#define DOC_SLOT(e)	DOC(e, 0, EINVAL, EEXIST, EBADF, EOPNOTSUPP, EPERM, ENODEV, EFAULT, \
			    ENOMEM)
#define DOC_MAP(e)	DOC(e, 0, EINVAL, EOVERFLOW, EEXIST, EPERM, ENODEV, ENOENT, EBADF, \
			    EOPNOTSUPP, ENOSPC, ENOMEM)

struct rstate {
	int fds[8];		/* DMABUFs held */
	int mapped[8];		/* fds[i] is mapped at IOVA + i * 8 MiB */
	int slot[8];		/* fds[i] backs slot SLOT + i */
	unsigned long calls[5], ok[5];
};

static const char *const rnames[] = { "tsm-op", "export", "layout", "slot", "map" };

static int random_step(struct rstate *s, char *args, size_t len)
{
	int kind = rnd() % 5, i = rnd() % 8, ret, err;
	uint64_t a, b, c, d;

	switch (kind) {
	case 0:
		a = PICK(sizeof(struct iommu_vdevice_tsm_op), sizeof(struct iommu_vdevice_tsm_op),
			 sizeof(struct iommu_vdevice_tsm_op) + 4, rnd() % 40);
		b = PICK(IOMMU_VDEVICE_TSM_BIND, IOMMU_VDEVICE_TSM_UNBIND,
			 IOMMU_VDEVICE_TSM_UNBIND, rnd() % 5, rnd());
		c = PICK(0, 0, 0, 1u << (rnd() % 32));
		d = PICK(iv.vdev, iv.vdev, iv.vdev, ioas, iv.viommu, rnd() % 16);
		snprintf(args, len, "size %llu type %#llx flags %#llx id %llu",
			 (unsigned long long)a, (unsigned long long)b, (unsigned long long)c,
			 (unsigned long long)d);
		err = tsm_op_errno(a, b, c, d, PICK(0, 0, rnd()));
		ret = DOC_TSM_OP(err);
		break;
	case 1:
		a = PICK(BAR, BAR, BAR, 0, rnd() % 12);
		b = PICK(0, 0, VFIO_DMA_BUF_PRIVATE, rnd());
		c = PICK(1, 1, 2, rnd() % 5, rnd());
		d = PICK(0, 2 * MiB, 4 * MiB, BAR_SIZE - 2 * MiB, (rnd() % 2048) * 2 * MiB,
			 rnd());
		snprintf(args, len, "region %llu flags %#llx nr %llu off %#llx",
			 (unsigned long long)a, (unsigned long long)b, (unsigned long long)c,
			 (unsigned long long)d);
		ret = export_raw(PICK(64, 64, 80, rnd() % 100), VFIO_DEVICE_FEATURE_GET, a, b,
				 PICK(O_CLOEXEC, 0, O_RDWR | O_CLOEXEC, rnd()),
				 c > 4 && c < 1000 ? 4 : c, d,
				 PICK(2 * MiB, PAGE, 2 * MiB, rnd() % (8 * MiB), rnd()));
		err = ret < 0 ? errno : 0;
		if (ret >= 0) {
			if (s->fds[i] >= 0) {
				close(ret);
			} else {
				s->fds[i] = ret;
				s->mapped[i] = s->slot[i] = 0;
			}
		}
		ret = DOC_EXPORT(err);
		break;
	case 2:
		a = rnd() % 120;
		b = PICK(VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_GET,
			 VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET, rnd() & 0xf0000);
		snprintf(args, len, "argsz %llu feature flags %#llx", (unsigned long long)a,
			 (unsigned long long)b);
		err = -layout_raw(a, b, PICK(BAR, BAR, rnd() % 10), PICK(0, 0, rnd()), rnd() % 9);
		ret = DOC_LAYOUT(err);
		break;
	case 3:
		if (s->fds[i] < 0 || s->slot[i]) {
			if (s->slot[i] && slot_delete(SLOT + i) == 0)
				s->slot[i] = 0;
			return 1;
		}
		a = PICK(0, 0, PAGE, rnd() % (4 * MiB), rnd());
		b = PICK(2 * MiB, PAGE, 4 * MiB, rnd() % (8 * MiB));
		snprintf(args, len, "slot %d offset %#llx size %#llx", SLOT + i,
			 (unsigned long long)a, (unsigned long long)b);
		err = -slot_set(SLOT + i, PICK(KVM_MEM_VFIO_DMABUF, KVM_MEM_VFIO_DMABUF, rnd() & 0xf),
				s->fds[i], a, PICK(0, 0, 0x1000), GPA + i * 0x1000000UL, b);
		if (!err)
			s->slot[i] = 1;
		ret = DOC_SLOT(err);
		break;
	default:
		if (s->fds[i] < 0 || s->mapped[i]) {
			if (s->mapped[i])
				iommufd_ioas_unmap(iommufd, ioas, IOVA + i * 8 * MiB, 8 * MiB);
			s->mapped[i] = 0;
			return 1;
		}
		a = PICK(2 * MiB, PAGE, rnd() % (8 * MiB), rnd());
		snprintf(args, len, "length %#llx at iova %#lx", (unsigned long long)a,
			 IOVA + i * 8 * MiB);
		err = -iommufd_map_file(iommufd, ioas, s->fds[i], a, IOVA + i * 8 * MiB);
		if (!err)
			s->mapped[i] = 1;
		ret = DOC_MAP(err);
		break;
	}
	s->calls[kind]++;
	s->ok[kind] += !err;
	if (!ret)
		snprintf(args + strlen(args), len - strlen(args), ": %s", lab_errname(err));
	return ret ? 1 : -kind - 1;
}

static void test_random(uint64_t seed, unsigned long iters)
{
	struct rstate s;
	char args[200], first[400] = "";
	unsigned long it, bad = 0;
	int ret, slots_left = 0;

	memset(&s, 0, sizeof(s));
	for (int i = 0; i < 8; i++)
		s.fds[i] = -1;
	rng = seed ? seed : 1;
	for (it = 0; it < iters; it++) {
		args[0] = 0;
		ret = random_step(&s, args, sizeof(args));
		if (ret < 0 && !bad++)
			snprintf(first, sizeof(first), "%s with seed %llu, iteration %lu: %s",
				 rnames[-ret - 1], (unsigned long long)seed, it, args);
		/* now and then drop a DMABUF, mapped or not */
		if (rnd() % 16 == 0) {
			int i = rnd() % 8;

			if (s.fds[i] >= 0) {
				if (s.slot[i])
					slots_left += slot_delete(SLOT + i) != 0;
				if (s.mapped[i])
					iommufd_ioas_unmap(iommufd, ioas, IOVA + i * 8 * MiB,
							   8 * MiB);
				close(s.fds[i]);
				s.fds[i] = -1;
				s.mapped[i] = s.slot[i] = 0;
			}
		}
	}
	printf("# random loop, seed %llu, %lu iterations: calls (successes)", (unsigned long long)seed,
	       iters);
	for (int k = 0; k < 5; k++)
		printf(" %s %lu (%lu)", rnames[k], s.calls[k], s.ok[k]);
	printf("\n");
	LAB_CHECK(!bad, "abuse-random-documented-errnos", "%lu undocumented answers, the first: %s",
		  bad, first);
	LAB_CHECK(s.calls[0] && s.calls[1] && s.calls[2] && s.calls[3] && s.calls[4],
		  "abuse-random-every-request", "a request was never made");
	for (int i = 0; i < 8; i++) {
		if (s.slot[i])
			slots_left += slot_delete(SLOT + i) != 0;
		if (s.mapped[i])
			iommufd_ioas_unmap(iommufd, ioas, IOVA + i * 8 * MiB, 8 * MiB);
		if (s.fds[i] >= 0)
			close(s.fds[i]);
	}
	unbind(iv.vdev);
	LAB_CHECK(!slots_left, "abuse-random-slots-deleted", "%d slots could not be deleted",
		  slots_left);
	LAB_CHECK(lab_dmabuf_count() == dmabufs_before, "abuse-random-nothing-left",
		  "%d DMABUFs, %d before", lab_dmabuf_count(), dmabufs_before);
	LAB_CHECK(iommufd_ioas_unmap(iommufd, ioas, IOVA, 64 * MiB) == -ENOENT,
		  "abuse-random-ioas-empty", "an area is left in the IOAS");
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "CONFIG_UNLOCKED"),
		  "abuse-random-unbound", "state %s", attr(&iv, "tsm_sw/state"));
}

int main(int argc, char **argv)
{
	const char *env_seed = getenv("TSM_ABUSE_SEED"), *env_iters = getenv("TSM_ABUSE_ITERS");
	unsigned long iters = env_iters ? strtoul(env_iters, NULL, 0) : 20000;
	uint64_t seed;
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		seed = strtoull(argv[1], NULL, 0);
	else if (env_seed)
		seed = strtoull(env_seed, NULL, 0);
	else
		seed = (uint64_t)time(NULL) * 2654435761u ^ getpid();
	ret = tsm_setup_bindable(HOLES);
	if (!ret)
		ret = vfio_config_cmd(iv.fd, MEM_ON);
	if (ret) {
		printf("FAIL: abuse-setup (%s)\n", lab_errname(-ret));
		return 1;
	}
	dmabufs_before = lab_dmabuf_count();
	printf("# ivshmem %s; random seed %llu (replay: %s %llu)\n", iv.bdf,
	       (unsigned long long)seed, argv[0], (unsigned long long)seed);

	test_tsm_op();
	test_export();
	test_slot();
	test_fail_nth_unbound();
	if (lab_expect(bind(iv.vdev), 0, "abuse-bind")) {
		test_layout();
		test_fail_nth_bound();
		lab_expect(unbind(iv.vdev), 0, "abuse-unbind");
	}
	test_random(seed, iters);
	set_attr(&iv, "tsm_sw/shared", "default");
	lab_expect(set_attr(&iv, "tsm/disconnect", "tsm0"), 0, "abuse-disconnect");
	return lab_failed;
}
