// SPDX-License-Identifier: GPL-2.0
/*
 * dmabuf - DMABUFs of BARs (VFIO_DEVICE_FEATURE_DMA_BUF), their import into
 * an IOAS (IOMMU_IOAS_MAP_FILE) and their revocation, as docs/uapi.md
 * documents them, on the lab's devices.
 *
 * ivshmem (BAR2: 4 GiB of RAM-backed MMIO) exports; edu, attached to the
 * same IOAS, is the DMA master: its DMA engine reads and writes ivshmem's
 * BAR through the IOAS mapping of a DMABUF (peer to peer), and no longer
 * reaches it once the mapping is unmapped or the DMABUF revoked. ivshmem
 * has a vDEVICE on a vIOMMU with a KVM VM, so it can be bound through
 * IOMMU_VDEVICE_TSM_OP with BAR2's first 2 MiB shared.
 *
 * The cases: every refusal of both requests; the peer-to-peer DMA; user
 * unmap, close while mapped; revocation by memory decode off, low power,
 * reset (where the device can reset), TSM bind (only the shared DMABUFs
 * over pages turning private), unbind and TDI error (the private ones) and
 * device close, each with the importer's unmap before the revoke completes;
 * EBUSY for what would pull private MMIO from under a bound device; a
 * revoked DMABUF stays revoked; fail-nth sweeps of export and import that
 * must leave no DMABUF, attachment or IOAS area behind. One PASS:/FAIL:/
 * SKIP: line per case; exits 1 when one failed.
 */
#include <stddef.h>
#include <sys/stat.h>

#include "edu.h"
#include "lab.h"
#include "vmm.h"

#define IV_VENDOR	0x1af4
#define IV_DEVICE	0x1110
#define PAGE		0x1000UL
#define SZ_2M		0x200000UL
#define HOLE		"2:0x0+0x200000"	/* BAR2's first 2 MiB stay shared */
#define IOVA_RAM	0x100000UL		/* two pages of RAM */
#define IOVA_A		0x400000UL		/* DMABUF areas, below edu's mask */
#define IOVA_B		0x800000UL
#define IOVA_C		0xc00000UL
#define BAR2_VIEW	(2 * SZ_2M)		/* how much of BAR2 the host maps */

#define MAP_RW		(IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)
#define MEM_ON		(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

struct dev {
	int fd;
	uint32_t id;		/* iommufd device id */
	char bdf[300];
	volatile uint8_t *bar;	/* edu: BAR0; ivshmem: BAR2's first BAR2_VIEW */
	uint64_t bar_start;	/* ivshmem: BAR2's physical address */
	int can_reset;
};

static struct dev edu = { .fd = -1 }, iv = { .fd = -1 };
static int iommufd = -1, kvm_fd = -1, vm_fd = -1;
static uint32_t ioas, vdev_id;
static uint8_t *ram;		/* IOVA_RAM: source page, destination page */
static char shared_path[400];

/* ---- requests ----------------------------------------------------------- */

static unsigned long dmabuf_id(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

static int export(uint64_t off, uint64_t len, uint32_t flags)
{
	return vfio_dmabuf_export(iv.fd, 2, off, len, flags);
}

/* IOMMU_IOAS_MAP_FILE at @iova (fixed): 0 or -errno */
static int map_file(int fd, uint64_t start, uint64_t len, uint64_t iova)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m), .flags = IOMMU_IOAS_MAP_FIXED_IOVA | MAP_RW,
		.ioas_id = ioas, .fd = fd, .start = start, .length = len, .iova = iova,
	};

	return ioctl(iommufd, IOMMU_IOAS_MAP_FILE, &m) ? -errno : 0;
}

/* IOMMU_IOAS_UNMAP: the bytes unmapped, or -errno */
static long unmap(uint64_t iova, uint64_t len)
{
	struct iommu_ioas_unmap u = {
		.size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = len,
	};

	return ioctl(iommufd, IOMMU_IOAS_UNMAP, &u) ? -errno : (long)u.length;
}

static int feature(int fd, uint32_t flags)
{
	struct vfio_device_feature f = { .argsz = sizeof(f), .flags = flags };

	return ioctl(fd, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;
}

static int low_power(int on)
{
	return feature(iv.fd, VFIO_DEVICE_FEATURE_SET |
		       (on ? VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY :
			     VFIO_DEVICE_FEATURE_LOW_POWER_EXIT));
}

static int reset(void)
{
	return ioctl(iv.fd, VFIO_DEVICE_RESET) ? -errno : 0;
}

/* mmap() of a DMABUF: 0 if it mapped (and is unmapped again), or -errno */
static int dmabuf_mmap(int fd)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	munmap(p, PAGE);
	return 0;
}

/*
 * From /sys/kernel/debug/dma_buf/bufinfo: the number of DMABUFs in the
 * system, and in *@attached the importers of the one with inode @ino (-1
 * when it does not exist).
 */
static int bufinfo(unsigned long ino, int *attached)
{
	FILE *f = fopen(LAB_DEBUGFS "/dma_buf/bufinfo", "r");
	unsigned long cur = 0, i;
	char line[512];
	int n, total = -1;

	*attached = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* sscanf counts conversions: tell the lines apart by their words */
		if (strstr(line, " devices attached")) {
			if (sscanf(line, "Total %d", &n) == 1 && cur == ino)
				*attached = n;
		} else if (strstr(line, " objects, ")) {
			if (sscanf(line, "Total %d", &n) == 1)
				total = n;
		} else if (sscanf(line, "%*x %*x %*x %*d %*s %lu", &i) == 1) {
			cur = i;
		}
	}
	fclose(f);
	return total;
}

static int attached(int fd)
{
	int n;

	bufinfo(dmabuf_id(fd), &n);
	return n;
}

/* ---- DMA: edu moves EDU_XFER bytes ----------------------------------------- */

/* RAM page 0 -> edu -> @iova: 0 or -errno */
static int dma_to(uint64_t iova)
{
	return edu_copy(edu.bar, IOVA_RAM, iova);
}

/* @iova -> edu -> RAM page 1 */
static int dma_from(uint64_t iova)
{
	return edu_copy(edu.bar, iova, IOVA_RAM + PAGE);
}

/*
 * Does a DMA to @iova land at @bar_off of ivshmem's BAR2? Writes a fresh
 * pattern through RAM and compares; @bar_off must be inside BAR2_VIEW and
 * host-accessible (shared) when this is called.
 */
static int dma_lands(uint64_t iova, uint64_t bar_off, uint8_t seed)
{
	memset((void *)(iv.bar + bar_off), 0xa5, EDU_XFER);
	edu_pattern(ram, seed);
	if (dma_to(iova))
		return 0;
	return edu_same(iv.bar + bar_off, ram);
}

/* ---- the trace ----------------------------------------------------------- */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	static char bufs[4][256];
	static int next;
	char *b = bufs[next++ & 3];
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, sizeof(bufs[0]), f, ap);
	va_end(ap);
	return b;
}

/* "buf=N dev=... bar=2 kind=K arg=A" of a vfio_dmabuf object event */
static char *obj_match(int fd, const char *kind, unsigned int arg)
{
	return fmt("buf=%lu dev=%s bar=2 kind=%s arg=%u", dmabuf_id(fd), iv.bdf, kind, arg);
}

/* "ioas=I iova=V buf=N pfn=P npfns=M arg=A" of an iommufd event */
static char *area_match(int fd, uint64_t iova, uint64_t bar_off, uint64_t len, unsigned int arg)
{
	return fmt("ioas=%u iova=%#llx buf=%lu pfn=%#llx npfns=%llu arg=%u", ioas,
		   (unsigned long long)iova, dmabuf_id(fd),
		   (unsigned long long)(iv.bar_start + bar_off) / PAGE,
		   (unsigned long long)len / PAGE, arg);
}

/*
 * The DMABUF @fd, mapped at @iova from BAR offset @bar_off, was revoked
 * with @reason, and the IOAS unmapped the area (REVOKE) before that.
 */
static void want_revoked(const char *name, int fd, uint64_t iova, uint64_t bar_off,
			 uint32_t reason)
{
	int u = lab_trace_find("iommufd_ioas_unmap_dmabuf",
			       area_match(fd, iova, bar_off, SZ_2M, 1), 0);
	int r = lab_trace_find("vfio_dmabuf_revoke", obj_match(fd, "SHARED", reason), 0);
	char n[128];

	snprintf(n, sizeof(n), "%s-unmaps-then-revokes", name);
	LAB_CHECK(u >= 0 && r > u, n, "iommufd unmap at trace line %d, revoke (reason %u) at %d",
		  u, reason, r);
}

/* ---- setup ---------------------------------------------------------------- */

static int dev_open(struct dev *d, unsigned int vendor, unsigned int device)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int ret;

	ret = vfio_cdev_bind(vendor, device, iommufd, d->bdf, sizeof(d->bdf), &d->fd, &d->id);
	if (ret)
		return ret;
	if (ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info))
		return -errno;
	d->can_reset = !!(info.flags & VFIO_DEVICE_FLAGS_RESET);
	return 0;
}

/*
 * One IOAS with two pages of RAM; edu attached to it (its DMA engine on,
 * BAR0 mapped); ivshmem on a HWPT of the same IOAS with a vDEVICE on a
 * vIOMMU of a KVM VM, BAR2 mapped. DMABUF areas go into both domains.
 */
static int setup(void)
{
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	int ret;

	iommufd = open("/dev/iommu", O_RDWR);
	kvm_fd = open("/dev/kvm", O_RDWR);
	if (iommufd < 0 || kvm_fd < 0)
		return -errno;
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (vm_fd < 0)
		return -errno;
	ret = iommufd_ioas_with_ram(iommufd, IOVA_RAM, 2, &ioas, &ram);
	if (ret)
		return ret;

	ret = dev_open(&edu, EDU_VENDOR, EDU_DEVICE);
	if (ret)
		return ret;
	attach.pt_id = ioas;
	if (ioctl(edu.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return -errno;
	edu.bar = vfio_region_mmap(edu.fd, VFIO_PCI_BAR0_REGION_INDEX, 0x1000, NULL);
	if (!edu.bar)
		return -errno;
	ret = vfio_config_cmd(edu.fd, MEM_ON);
	if (ret)
		return ret;

	ret = dev_open(&iv, IV_VENDOR, IV_DEVICE);
	if (ret)
		return ret;
	ret = vmm_tsm_attach(iommufd, iv.fd, iv.id, ioas, vm_fd, 0x77, &vdev_id);
	if (ret)
		return ret;
	iv.bar = vfio_region_mmap(iv.fd, VFIO_PCI_BAR2_REGION_INDEX, BAR2_VIEW, NULL);
	iv.bar_start = lab_bar_start(iv.bdf, 2);
	if (!iv.bar || !iv.bar_start)
		return -EIO;
	snprintf(shared_path, sizeof(shared_path), "/sys/bus/pci/devices/%s/tsm_sw/shared",
		 iv.bdf);
	lab_trace_event("vfio_dmabuf", 1);
	lab_trace_event("iommufd", 1);
	lab_trace_event("pci_tsm", 1);
	return 0;
}

/* ---- VFIO_DEVICE_FEATURE_DMA_BUF ------------------------------------------ */

struct export_req {
	struct vfio_device_feature hdr;
	struct vfio_device_feature_dma_buf get;
	struct vfio_region_dma_range range[2];
};

/* a valid request: BAR2 [0, 2 MiB), shared */
static void export_base(struct export_req *r)
{
	memset(r, 0, sizeof(*r));
	r->hdr.argsz = sizeof(r->hdr) + sizeof(r->get) + sizeof(r->range[0]);
	r->hdr.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	r->get.region_index = 2;
	r->get.open_flags = O_RDWR | O_CLOEXEC;
	r->get.nr_ranges = 1;
	r->range[0].length = SZ_2M;
}

static int export_req(void *r)
{
	int fd = ioctl(iv.fd, VFIO_DEVICE_FEATURE, r);

	if (fd < 0)
		return -errno;
	close(fd);
	return fd;
}

static void test_export_refusals(void)
{
	static const struct {
		const char *name;
		int field;	/* what to change */
		uint64_t val;
	} cases[] = {
		{ "dmabuf-export-set-einval", 0, VFIO_DEVICE_FEATURE_SET },
		{ "dmabuf-export-argsz-short-einval", 1, 8 },
		{ "dmabuf-export-flags-unknown-einval", 2, 1 << 1 },
		{ "dmabuf-export-open-flags-einval", 3, O_RDWR | O_APPEND },
		{ "dmabuf-export-no-ranges-einval", 4, 0 },
		{ "dmabuf-export-too-many-ranges-einval", 4, 257 },
		{ "dmabuf-export-ranges-beyond-argsz-einval", 4, 2 },
		{ "dmabuf-export-bar-out-of-range-einval", 5, 6 },
		{ "dmabuf-export-bar-absent-einval", 5, 1 },
		{ "dmabuf-export-bar-below-page-einval", 5, 0 },
		{ "dmabuf-export-length-zero-einval", 6, 0 },
		{ "dmabuf-export-length-unaligned-einval", 6, PAGE + 8 },
		{ "dmabuf-export-offset-unaligned-einval", 7, 8 },
		{ "dmabuf-export-beyond-bar-einval", 7, 1ULL << 40 },
		{ "dmabuf-export-offset-overflow-einval", 7, ~0ULL - PAGE + 1 },
	};
	struct export_req r;
	uint8_t *pages;
	int ret;

	export_base(&r);
	ret = ioctl(iv.fd, VFIO_DEVICE_FEATURE, &(struct vfio_device_feature){
		.argsz = sizeof(struct vfio_device_feature),
		.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
			 VFIO_DEVICE_FEATURE_DMA_BUF }) ? -errno : 0;
	lab_expect(ret, 0, "dmabuf-export-probe");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		export_base(&r);
		switch (cases[i].field) {
		case 0: r.hdr.flags = cases[i].val | VFIO_DEVICE_FEATURE_DMA_BUF; break;
		case 1: r.hdr.argsz = sizeof(r.hdr) + cases[i].val; break;
		case 2: r.get.flags = cases[i].val; break;
		case 3: r.get.open_flags = cases[i].val; break;
		case 4: r.get.nr_ranges = cases[i].val; break;
		case 5: r.get.region_index = cases[i].val; break;
		case 6: r.range[0].length = cases[i].val; break;
		case 7: r.range[0].offset = cases[i].val; r.range[0].length = 2 * PAGE; break;
		}
		lab_expect(export_req(&r), EINVAL, cases[i].name);
	}

	/* ranges that are not readable: the request ends on an inaccessible page */
	pages = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages != MAP_FAILED && !mprotect(pages + PAGE, PAGE, PROT_NONE)) {
		size_t head = sizeof(r.hdr) + sizeof(r.get);

		export_base(&r);
		memcpy(pages + PAGE - head, &r, head);
		lab_expect(export_req(pages + PAGE - head), EFAULT, "dmabuf-export-ranges-unreadable-efault");
		munmap(pages, 2 * PAGE);
	}

	/* a private DMABUF of a device that is not bound */
	export_base(&r);
	r.get.flags = VFIO_DEVICE_DMA_BUF_PRIVATE;
	lab_expect(export_req(&r), EPERM, "dmabuf-export-private-unbound-eperm");
}

static void test_export(void)
{
	struct export_req r;
	int fd, total, n, flags;
	unsigned long id;

	total = bufinfo(0, &n);
	lab_trace_clear();
	export_base(&r);
	r.get.nr_ranges = 2;
	r.hdr.argsz = sizeof(r);
	r.range[0] = (struct vfio_region_dma_range){ .offset = 0x10000, .length = 0x10000 };
	r.range[1] = (struct vfio_region_dma_range){ .offset = SZ_2M, .length = PAGE };
	fd = ioctl(iv.fd, VFIO_DEVICE_FEATURE, &r);
	if (!lab_expect(fd < 0 ? -errno : fd, 0, "dmabuf-export-two-ranges"))
		return;

	flags = fcntl(fd, F_GETFD);
	LAB_CHECK(flags >= 0 && (flags & FD_CLOEXEC), "dmabuf-export-cloexec", "fd flags %#x",
		  flags);
	LAB_CHECK(lseek(fd, 0, SEEK_END) == 0x11000, "dmabuf-export-size",
		  "the DMABUF is %lld bytes, want 0x11000", (long long)lseek(fd, 0, SEEK_END));
	LAB_CHECK(bufinfo(0, &n) == total + 1, "dmabuf-export-bufinfo", "%d DMABUFs, want %d",
		  bufinfo(0, &n), total + 1);
	lab_expect(dmabuf_mmap(fd), EINVAL, "dmabuf-mmap-shared-einval");

	LAB_CHECK(lab_trace_find("vfio_dmabuf_export_range",
				 fmt("buf=%lu dev=%s bar=2 kind=SHARED pfn=%#llx npfns=16",
				     dmabuf_id(fd), iv.bdf,
				     (unsigned long long)(iv.bar_start + 0x10000) / PAGE), 0) >= 0 &&
		  lab_trace_find("vfio_dmabuf_export_range",
				 fmt("buf=%lu dev=%s bar=2 kind=SHARED pfn=%#llx npfns=1",
				     dmabuf_id(fd), iv.bdf,
				     (unsigned long long)(iv.bar_start + SZ_2M) / PAGE), 0) >= 0 &&
		  lab_trace_count("vfio_dmabuf_export", obj_match(fd, "SHARED", 2)) == 1,
		  "dmabuf-trace-export", "no vfio_dmabuf_export_range per range and export arg=2");

	id = dmabuf_id(fd);
	close(fd);
	LAB_CHECK(lab_trace_count("vfio_dmabuf_release",
				  fmt("buf=%lu dev=%s bar=2 kind=SHARED arg=0", id, iv.bdf)) == 1 &&
		  bufinfo(0, &n) == total, "dmabuf-close-releases",
		  "no vfio_dmabuf_release, or %d DMABUFs left (want %d)", bufinfo(0, &n), total);
}

/* ---- IOMMU_IOAS_MAP_FILE ---------------------------------------------------- */

static void test_map_refusals(void)
{
	struct {
		struct iommu_ioas_map_file m;
		uint64_t trailing;
	} r;
	struct iommu_ioas_map_file *m = &r.m, base = {
		.size = sizeof(*m), .flags = IOMMU_IOAS_MAP_FIXED_IOVA | MAP_RW,
		.length = SZ_2M, .iova = IOVA_A,
	};
	int fd = export(0, SZ_2M, 0), mfd, ubuf, ret;

	if (!lab_expect(fd, 0, "dmabuf-map-refusals-export"))
		return;
	base.ioas_id = ioas;
	base.fd = fd;
#define TRY(change, want, name) do {					\
		memset(&r, 0, sizeof(r));				\
		*m = base;						\
		change;							\
		ret = ioctl(iommufd, IOMMU_IOAS_MAP_FILE, m) ? -errno : 0; \
		if (!ret)						\
			unmap(m->iova, m->length);			\
		lab_expect(ret, want, name);				\
	} while (0)

	TRY(m->size = offsetof(struct iommu_ioas_map_file, iova), EINVAL,
	    "dmabuf-map-size-short-einval");
	TRY((m->size = sizeof(r), r.trailing = 1), E2BIG, "dmabuf-map-trailing-e2big");
	TRY(m->size = sizeof(r), 0, "dmabuf-map-trailing-zero");
	TRY(m->flags |= 1 << 3, EOPNOTSUPP, "dmabuf-map-flags-unknown-eopnotsupp");
	TRY(m->flags = IOMMU_IOAS_MAP_FIXED_IOVA, EINVAL, "dmabuf-map-no-access-einval");
	TRY(m->iova = ~0ULL, EOVERFLOW, "dmabuf-map-iova-overflow");
	TRY(m->start = ~0ULL, EOVERFLOW, "dmabuf-map-start-overflow");
	TRY(m->length = ~0ULL, EOVERFLOW, "dmabuf-map-length-overflow");
	TRY(m->ioas_id = 9999, ENOENT, "dmabuf-map-ioas-unknown-enoent");
	TRY(m->ioas_id = edu.id, ENOENT, "dmabuf-map-ioas-not-ioas-enoent");
	TRY(m->fd = -1, EBADF, "dmabuf-map-fd-bad-ebadf");
	TRY(m->length = 0, EINVAL, "dmabuf-map-length-zero-einval");
	TRY(m->length = PAGE + 8, EINVAL, "dmabuf-map-length-unaligned-einval");
	TRY(m->start = 8, EINVAL, "dmabuf-map-start-unaligned-einval");
	TRY(m->start = PAGE, EINVAL, "dmabuf-map-beyond-dmabuf-einval");
	TRY(m->iova = IOVA_A + 8, EINVAL, "dmabuf-map-iova-unaligned-einval");
	TRY(m->iova = IOVA_RAM, EEXIST, "dmabuf-map-iova-in-use-eexist");

	mfd = memfd_create("not-a-dmabuf", 0);
	if (mfd >= 0 && !ftruncate(mfd, SZ_2M)) {
		TRY(m->fd = mfd, EINVAL, "dmabuf-map-not-dmabuf-einval");
		close(mfd);
	}
	ubuf = vmm_udmabuf(SZ_2M);
	if (lab_expect(ubuf, 0, "dmabuf-udmabuf-create")) {
		TRY(m->fd = ubuf, EOPNOTSUPP, "dmabuf-map-no-phys-eopnotsupp");
		close(ubuf);
	}

	/* IOVA allocated by the kernel: page aligned, in the IOAS */
	TRY(m->flags = MAP_RW, 0, "dmabuf-map-alloc-iova");
	LAB_CHECK(m->iova && !(m->iova % PAGE), "dmabuf-map-alloc-iova-aligned", "iova %#llx",
		  (unsigned long long)m->iova);
#undef TRY
	LAB_CHECK(attached(fd) == 0, "dmabuf-map-refusals-leave-no-attachment",
		  "%d importers attached after the refusals", attached(fd));
	close(fd);
}

/* ---- peer to peer through the IOAS, unmap, close --------------------------- */

static void test_p2p(void)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_ioas_copy copy = {
		.size = sizeof(copy), .flags = IOMMU_IOAS_MAP_FIXED_IOVA | MAP_RW,
		.src_ioas_id = ioas, .length = SZ_2M, .dst_iova = IOVA_A, .src_iova = IOVA_A,
	};
	int fd = export(0, SZ_2M, 0), ret;
	unsigned long id;
	char *m;

	if (!lab_expect(fd, 0, "dmabuf-p2p-export"))
		return;
	lab_trace_clear();
	if (!lab_expect(map_file(fd, 0, SZ_2M, IOVA_A), 0, "dmabuf-map-file"))
		return;
	m = area_match(fd, IOVA_A, 0, SZ_2M, 0);
	LAB_CHECK(lab_trace_count("iommufd_ioas_map_dmabuf", m) == 1, "dmabuf-trace-map",
		  "no iommufd_ioas_map_dmabuf with '%s'", m);
	LAB_CHECK(attached(fd) == 1, "dmabuf-map-attaches", "%d importers", attached(fd));

	/* edu writes ivshmem's BAR, and reads it, through the IOAS */
	LAB_CHECK(dma_lands(IOVA_A + 0x1000, 0x1000, 1), "dmabuf-p2p-dma-to-bar",
		  "the BAR does not hold what edu wrote to IOVA %#lx", IOVA_A + 0x1000);
	edu_pattern(iv.bar + 0x3000, 7);
	memset(ram + PAGE, 0, EDU_XFER);
	ret = dma_from(IOVA_A + 0x3000);
	LAB_CHECK(!ret && edu_same(ram + PAGE, iv.bar + 0x3000), "dmabuf-p2p-dma-from-bar",
		  "edu did not read the BAR through IOVA %#lx", IOVA_A + 0x3000);

	/* not copied to another IOAS, not split */
	if (!ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc)) {
		copy.dst_ioas_id = alloc.out_ioas_id;
		ret = ioctl(iommufd, IOMMU_IOAS_COPY, &copy) ? -errno : 0;
		lab_expect(ret, EOPNOTSUPP, "dmabuf-ioas-copy-eopnotsupp");
		vmm_destroy(iommufd, alloc.out_ioas_id);
	}
	lab_expect(unmap(IOVA_A, PAGE), ENOENT, "dmabuf-unmap-part-enoent");
	LAB_CHECK(dma_lands(IOVA_A, 0, 2), "dmabuf-p2p-after-refusals", "the area lost its mapping");

	/* IOMMU_IOAS_UNMAP: the device no longer reaches the BAR */
	lab_trace_clear();
	LAB_CHECK(unmap(IOVA_A, SZ_2M) == (long)SZ_2M, "dmabuf-unmap", "IOMMU_IOAS_UNMAP: %s",
		  strerror(errno));
	m = area_match(fd, IOVA_A, 0, SZ_2M, 0);
	LAB_CHECK(lab_trace_count("iommufd_ioas_unmap_dmabuf", m) == 1, "dmabuf-trace-unmap-user",
		  "no iommufd_ioas_unmap_dmabuf with '%s'", m);
	LAB_CHECK(attached(fd) == 0, "dmabuf-unmap-detaches", "%d importers", attached(fd));
	LAB_CHECK(!dma_lands(IOVA_A + 0x1000, 0x1000, 3), "dmabuf-p2p-blocked-after-unmap",
		  "edu still reaches the BAR after IOMMU_IOAS_UNMAP");

	/* closing the fd while mapped: the area keeps the DMABUF until unmapped */
	lab_expect(map_file(fd, 0, SZ_2M, IOVA_A), 0, "dmabuf-map-again");
	id = dmabuf_id(fd);
	lab_trace_clear();
	close(fd);
	LAB_CHECK(dma_lands(IOVA_A, 0, 4), "dmabuf-p2p-after-close", "closing the fd unmapped");
	LAB_CHECK(lab_trace_count("vfio_dmabuf_release", fmt("buf=%lu ", id)) == 0,
		  "dmabuf-mapped-not-released", "released while the IOAS maps it");
	unmap(IOVA_A, SZ_2M);
	LAB_CHECK(lab_trace_count("vfio_dmabuf_release", fmt("buf=%lu ", id)) == 1,
		  "dmabuf-released-at-unmap", "no vfio_dmabuf_release after the last unmap");
}

/* ---- revocation of an unbound device's DMABUFs ------------------------------ */

static int mem_off(void)
{
	return vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER);
}

static int mem_on(void)
{
	return vfio_config_cmd(iv.fd, MEM_ON);
}

static int low_power_on(void)
{
	return low_power(1);
}

static int low_power_off(void)
{
	return low_power(0);
}

static void test_revoke(void)
{
	static const struct {
		const char *name;
		uint32_t reason;	/* enum dmabuf_revoke_reason */
		int (*revoke)(void), (*restore)(void);
	} ways[] = {
		{ "dmabuf-revoke-mem-disable", 4, mem_off, mem_on },
		{ "dmabuf-revoke-low-power", 6, low_power_on, low_power_off },
		{ "dmabuf-revoke-reset", 3, reset, NULL },
	};
	char n[128];

	for (size_t i = 0; i < sizeof(ways) / sizeof(ways[0]); i++) {
		const char *name = ways[i].name;
		int fd, ret;

		if (ways[i].revoke == reset && !iv.can_reset) {
			/* the lab's devices sit on the root bus with no reset method */
			lab_expect(reset(), EINVAL, "dmabuf-reset-unsupported-einval");
			continue;
		}
		snprintf(n, sizeof(n), "%s-export", name);
		fd = export(0, SZ_2M, 0);
		if (!lab_expect(fd, 0, n))
			continue;
		snprintf(n, sizeof(n), "%s-map", name);
		if (!lab_expect(map_file(fd, 0, SZ_2M, IOVA_A), 0, n)) {
			close(fd);
			continue;
		}
		lab_trace_clear();
		ret = ways[i].revoke();
		snprintf(n, sizeof(n), "%s-request", name);
		lab_expect(ret, 0, n);
		want_revoked(name, fd, IOVA_A, 0, ways[i].reason);
		if (ways[i].restore)
			ways[i].restore();

		snprintf(n, sizeof(n), "%s-blocks-dma", name);
		LAB_CHECK(!dma_lands(IOVA_A + 0x1000, 0x1000, 10 + i), n,
			  "edu reaches the BAR through a revoked DMABUF");
		snprintf(n, sizeof(n), "%s-remap-enodev", name);
		lab_expect(map_file(fd, 0, SZ_2M, IOVA_B), ENODEV, n);
		snprintf(n, sizeof(n), "%s-area-unmaps", name);
		LAB_CHECK(unmap(IOVA_A, SZ_2M) == (long)SZ_2M, n, "the revoked area: %s",
			  strerror(errno));
		close(fd);
	}

	/* exported while memory decode is off: born revoked */
	mem_off();
	lab_trace_clear();
	{
		int fd = export(0, SZ_2M, 0);

		mem_on();
		if (lab_expect(fd, 0, "dmabuf-export-mem-off")) {
			LAB_CHECK(lab_trace_find("vfio_dmabuf_revoke", obj_match(fd, "SHARED", 4), 0) >
				  lab_trace_find("vfio_dmabuf_export", obj_match(fd, "SHARED", 1), 0),
				  "dmabuf-export-mem-off-born-revoked", "no revoke after the export");
			lab_expect(map_file(fd, 0, SZ_2M, IOVA_A), ENODEV,
			       "dmabuf-export-mem-off-map-enodev");
			close(fd);
		}
	}
}

/* ---- TSM bind: the shared/private split ------------------------------------- */

static int tsm(uint32_t type)
{
	return vmm_tsm_op(iommufd, vdev_id, type);
}

/* an export that must fail with @want; closes what succeeds */
static void export_refused(uint64_t off, uint64_t len, uint32_t flags, int want,
			   const char *name)
{
	int fd = export(off, len, flags);

	if (fd >= 0)
		close(fd);
	lab_expect(fd, want, name);
}

static void test_bind(void)
{
	int s1, s2, s3, p1, p2, ret, i, first_range;
	char *m;

	lab_write_str(shared_path, HOLE);
	s1 = export(0, SZ_2M, 0);			/* stays shared */
	s2 = export(SZ_2M, SZ_2M, 0);			/* turns private */
	if (!lab_expect(s1, 0, "dmabuf-bind-export-shared") ||
	    !lab_expect(s2, 0, "dmabuf-bind-export-over-private") ||
	    !lab_expect(map_file(s1, 0, SZ_2M, IOVA_A), 0, "dmabuf-bind-map-shared") ||
	    !lab_expect(map_file(s2, 0, SZ_2M, IOVA_B), 0, "dmabuf-bind-map-over-private"))
		return;
	LAB_CHECK(dma_lands(IOVA_B + 0x1000, SZ_2M + 0x1000, 20), "dmabuf-bind-p2p-before",
		  "edu does not reach the BAR through the second DMABUF before bind");
	memset((void *)(iv.bar + SZ_2M + 0x1000), 0x3c, EDU_XFER);

	/* bind revokes the shared DMABUF over the private pages, and only it */
	lab_trace_clear();
	if (!lab_expect(tsm(IOMMU_VDEVICE_TSM_BIND), 0, "dmabuf-bind"))
		goto out;
	want_revoked("dmabuf-bind-revokes-overlapping", s2, IOVA_B, SZ_2M, 0);
	first_range = lab_trace_find("pci_tsm_range", NULL, 0);
	LAB_CHECK(lab_trace_find("iommufd_ioas_unmap_dmabuf", area_match(s2, IOVA_B, SZ_2M, SZ_2M, 1),
				 0) < first_range, "dmabuf-bind-unmaps-before-private",
		  "the IOAS unmapped the area after a range turned private (line %d)", first_range);
	LAB_CHECK(lab_trace_count("vfio_dmabuf_revoke", fmt("buf=%lu ", dmabuf_id(s1))) == 0,
		  "dmabuf-bind-keeps-shared-hole", "the DMABUF of the shared hole was revoked");
	lab_expect(map_file(s2, 0, SZ_2M, IOVA_C), ENODEV, "dmabuf-bind-revoked-remap-enodev");
	LAB_CHECK(dma_lands(IOVA_A + 0x1000, 0x1000, 21), "dmabuf-bind-p2p-shared-hole",
		  "edu no longer reaches the shared hole");
	edu_pattern(ram, 22);
	dma_to(IOVA_B + 0x1000);	/* must not reach the private page: checked below */

	/* what may be exported while bound */
	export_refused(SZ_2M, 0x10000, 0, EPERM, "dmabuf-export-shared-over-private-eperm");
	export_refused(SZ_2M - PAGE, 2 * PAGE, 0, EPERM, "dmabuf-export-shared-across-eperm");
	export_refused(0, PAGE, VFIO_DEVICE_DMA_BUF_PRIVATE, EPERM,
		       "dmabuf-export-private-over-shared-eperm");
	export_refused(SZ_2M - PAGE, 2 * PAGE, VFIO_DEVICE_DMA_BUF_PRIVATE, EPERM,
		       "dmabuf-export-private-across-eperm");
	/* the shared parts: a DMABUF of the hole, exported and mapped while bound */
	s3 = export(0, 0x10000, 0);
	if (lab_expect(s3, 0, "dmabuf-bound-export-shared-hole")) {
		if (lab_expect(map_file(s3, 0, 0x10000, IOVA_C), 0, "dmabuf-bound-map-shared-hole"))
			LAB_CHECK(dma_lands(IOVA_C + 0x2000, 0x2000, 24),
				  "dmabuf-bound-p2p-shared-hole", "edu does not reach the hole");
		unmap(IOVA_C, 0x10000);
		close(s3);
	}
	p1 = export(SZ_2M, SZ_2M, VFIO_DEVICE_DMA_BUF_PRIVATE);
	if (lab_expect(p1, 0, "dmabuf-export-private")) {
		lab_expect(map_file(p1, 0, SZ_2M, IOVA_C), EPERM, "dmabuf-map-private-eperm");
		lab_expect(dmabuf_mmap(p1), EINVAL, "dmabuf-mmap-private-einval");
		LAB_CHECK(attached(p1) == 0, "dmabuf-map-private-no-attachment", "%d importers",
			  attached(p1));
	}

	/* nothing pulls the MMIO from under the bound device */
	lab_expect(mem_off(), EBUSY, "dmabuf-bound-mem-disable-ebusy");
	lab_expect(low_power(1), EBUSY, "dmabuf-bound-low-power-ebusy");
	if (iv.can_reset)
		lab_expect(reset(), EBUSY, "dmabuf-bound-reset-ebusy");
	LAB_CHECK(dma_lands(IOVA_A + 0x1000, 0x1000, 23), "dmabuf-bound-refusals-keep-mappings",
		  "a refused request took the shared mapping away");

	/* unbind revokes the private DMABUFs, not the shared ones */
	lab_trace_clear();
	lab_expect(tsm(IOMMU_VDEVICE_TSM_UNBIND), 0, "dmabuf-unbind");
	if (p1 >= 0)
		LAB_CHECK(lab_trace_count("vfio_dmabuf_revoke", obj_match(p1, "PRIVATE", 1)) == 1,
			  "dmabuf-unbind-revokes-private", "no revoke of the private DMABUF");
	LAB_CHECK(lab_trace_count("vfio_dmabuf_revoke", fmt("buf=%lu ", dmabuf_id(s1))) == 0,
		  "dmabuf-unbind-keeps-shared", "the shared DMABUF was revoked");
	LAB_CHECK(iv.bar[SZ_2M + 0x1000] == 0x3c && iv.bar[SZ_2M + 0x1000 + EDU_XFER - 1] == 0x3c,
		  "dmabuf-bind-revoked-dma-blocked",
		  "a DMA through the revoked DMABUF reached a private page");

	/* a TDI error: the kernel unbinds and revokes the private DMABUFs */
	if (lab_expect(tsm(IOMMU_VDEVICE_TSM_BIND), 0, "dmabuf-tdi-error-bind")) {
		p2 = export(SZ_2M, SZ_2M, VFIO_DEVICE_DMA_BUF_PRIVATE);
		lab_expect(p2, 0, "dmabuf-tdi-error-export-private");
		lab_trace_clear();
		ret = lab_fault_arm("fail_pci_tsm_sw_tdi_error", 1, 0);
		m = obj_match(p2, "PRIVATE", 2);
		/* polled every 10 ms; TCG is slow: up to 10 s */
		for (i = 0; !ret && i < 500 && lab_trace_count("vfio_dmabuf_revoke", m) < 1; i++)
			usleep(20000);
		lab_fault_arm("fail_pci_tsm_sw_tdi_error", 0, 0);
		LAB_CHECK(!ret && i < 500, "dmabuf-tdi-error-revokes-private",
			  "no vfio_dmabuf_revoke '%s' within 10 s (arm: %s)", m, lab_errname(-ret));
		lab_expect(tsm(IOMMU_VDEVICE_TSM_UNBIND), EINVAL, "dmabuf-tdi-error-unbound");
		if (p2 >= 0)
			close(p2);
	}
	if (p1 >= 0)
		close(p1);
out:
	tsm(IOMMU_VDEVICE_TSM_UNBIND);
	unmap(IOVA_A, SZ_2M);
	unmap(IOVA_B, SZ_2M);
	close(s1);
	close(s2);
	lab_write_str(shared_path, "default");
}

/* ---- fail-nth sweeps ------------------------------------------------------- */

/*
 * Fail each fault point of @call in turn (call() returns >= 0 or -errno;
 * undo(ret) undoes a success); after each failure @check() says what it
 * left behind ("" for nothing). Returns the number of points failed.
 */
static int sweep(const char *name, int (*call)(void), void (*undo)(int),
		 const char *(*check)(void))
{
	char errs[256] = "", bad[512] = "", n[128];
	int nth, points = 0, tolerated = 0, ended = 0, ret, err;
	unsigned long left;
	struct lab_fail_nth fail;
	const char *why;

	ret = lab_fail_nth_begin(&fail);
	snprintf(n, sizeof(n), "%s-open", name);
	if (!lab_expect(ret, 0, n))
		return 0;
	for (nth = 1; nth <= 300 && !ended; nth++) {
		if (lab_fail_nth_set(&fail, nth))
			break;
		ret = call();
		err = -ret;
		left = lab_fail_nth_clear(&fail);
		if (ret >= 0) {
			/* with left == 0 the failed point had a fallback */
			ended = left != 0;
			tolerated += !ended;
			undo(ret);
			continue;
		}
		points++;
		snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs), " %s", lab_errname(err));
		if (err != ENOMEM && err != ENOENT && !bad[0])
			snprintf(bad, sizeof(bad), "nth %d: failed with %s", nth, lab_errname(err));
		why = check();
		if (why[0] && !bad[0])
			snprintf(bad, sizeof(bad), "nth %d (%s): %s", nth, lab_errname(err), why);
	}
	lab_fail_nth_end(&fail);
	printf("dmabuf: fail-nth sweep of %s: %d failure points:%s; %d tolerated\n", name,
	       points, errs, tolerated);
	snprintf(n, sizeof(n), "%s-ends", name);
	LAB_CHECK(ended, n, "still failing at nth %d", nth - 1);
	snprintf(n, sizeof(n), "%s-points", name);
	LAB_CHECK(points >= 3, n, "%d failure points, want at least 3", points);
	snprintf(n, sizeof(n), "%s-unwound", name);
	LAB_CHECK(!bad[0], n, "%s", bad);
	return points;
}

static int sweep_total, sweep_fd = -1;

static int sweep_export(void)
{
	return export(0, SZ_2M, 0);
}

static void sweep_close(int fd)
{
	close(fd);
}

static const char *sweep_export_check(void)
{
	int n;

	return bufinfo(0, &n) == sweep_total ? "" : "a DMABUF was left behind";
}

static int sweep_map(void)
{
	return map_file(sweep_fd, 0, SZ_2M, IOVA_A);
}

static void sweep_unmap(int ret)
{
	unmap(IOVA_A, SZ_2M);
}

static const char *sweep_map_check(void)
{
	if (attached(sweep_fd) != 0)
		return "an attachment was left behind";
	if (unmap(IOVA_A, SZ_2M) != -ENOENT)
		return "an area was left at the IOVA";
	return "";
}

static void test_fail_nth(void)
{
	int n;

	sweep_total = bufinfo(0, &n);
	sweep("dmabuf-fail-nth-export", sweep_export, sweep_close, sweep_export_check);

	sweep_fd = export(0, SZ_2M, 0);
	if (!lab_expect(sweep_fd, 0, "dmabuf-fail-nth-map-export"))
		return;
	sweep("dmabuf-fail-nth-map", sweep_map, sweep_unmap, sweep_map_check);
	if (lab_expect(map_file(sweep_fd, 0, SZ_2M, IOVA_A), 0, "dmabuf-fail-nth-map-after"))
		LAB_CHECK(dma_lands(IOVA_A, 0, 30), "dmabuf-fail-nth-map-after-dma",
			  "edu does not reach the BAR after the sweep");
	unmap(IOVA_A, SZ_2M);
	close(sweep_fd);
}

/* ---- close: last, it ends ivshmem's use ------------------------------------ */

static void test_close(void)
{
	int fd = export(0, SZ_2M, 0);

	if (!lab_expect(fd, 0, "dmabuf-close-export") ||
	    !lab_expect(map_file(fd, 0, SZ_2M, IOVA_A), 0, "dmabuf-close-map"))
		return;
	lab_trace_clear();
	/* the BAR mapping holds the device file too */
	munmap((void *)iv.bar, BAR2_VIEW);
	close(iv.fd);
	iv.fd = -1;
	want_revoked("dmabuf-device-close", fd, IOVA_A, 0, 5);
	lab_expect(map_file(fd, 0, SZ_2M, IOVA_B), ENODEV, "dmabuf-device-closed-remap-enodev");
	LAB_CHECK(unmap(IOVA_A, SZ_2M) == (long)SZ_2M, "dmabuf-device-closed-unmap", "%s",
		  strerror(errno));
	close(fd);
}

int main(void)
{
	int ret = setup();

	if (!LAB_CHECK(ret == 0, "dmabuf-setup", "%s", lab_errname(-ret)))
		return 1;
	printf("dmabuf: ivshmem %s (BAR2 at %#llx, reset %s), edu %s\n", iv.bdf,
	       (unsigned long long)iv.bar_start, iv.can_reset ? "yes" : "no", edu.bdf);
	test_export_refusals();
	test_export();
	test_map_refusals();
	test_p2p();
	test_revoke();
	test_bind();
	test_fail_nth();
	test_close();
	return lab_failed;
}
