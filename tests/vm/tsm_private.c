// SPDX-License-Identifier: GPL-2.0
/*
 * tsm_private - the host keeps off the private pages of a bound interface,
 * on the series' kernel. ivshmem's 4 GiB BAR2 (RAM behind it, so
 * every write that reaches it can be read back) is bound with two shared
 * holes: its first 2 MiB and the page at 4 MiB. While the interface binds
 * and is bound, every host path to a private page is refused: a CPU mapping
 * made before the bind and one made after (SIGBUS, with 2 MiB and 1 GiB
 * faults falling back so the shared holes inside them stay mappable),
 * read()/write() of the region (EPERM), new ioeventfds (EPERM) and the
 * writes of one registered before the bind (dropped). What would pull the
 * MMIO from under the VM is EBUSY while bound: memory decode off, a reset,
 * low power; and works again after UNBIND.
 * VFIO_DEVICE_FEATURE_TSM_LAYOUT reports the layout, and every errno of
 * docs/uapi.md. The paths around VFIO are refused the same way: mappings of
 * the PCI resource files in sysfs (resource2 and resource2_wc) and procfs
 * (/proc/bus/pci), made before the bind or while bound, SIGBUS on private
 * pages and read the shared ones, and /proc/PID/mem reads nothing private
 * through them; /dev/mem keeps off the BARs of a function with TDISP
 * altogether, bound or not, and still reaches other devices. After UNBIND everything is reachable again and holds what
 * the host wrote before the bind. A thread reading private pages through
 * VFIO and the resource file while another binds and unbinds never
 * succeeds while bound.
 */
#include <dirent.h>
#include <linux/pci.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "tsm_vmm.h"

#define BAR		2
#define MiB		0x100000ULL
#define GiB		(1024 * MiB)
#define PRIV		(3 * MiB)		/* a private page */
#define HOLE_PAGE	(4 * MiB)		/* the shared page between private ones */
#define HOLES		"2:0x0+0x200000 2:0x400000+0x1000"
#define MAGIC		0x7ea5c0deU

static uint64_t bar_off, bar_size;
static volatile uint8_t *map_before;
static volatile uint8_t *sysfs_before;	/* resource2, mapped before the bind */

static int layout(struct vfio_tsm_range *r, uint32_t room, uint32_t *nr, uint32_t *out_flags,
		  uint32_t index, uint32_t flags, uint32_t argsz_cut)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_tsm_layout l;
		struct vfio_tsm_range r[8];
	} req = {
		.hdr = { .argsz = sizeof(req.hdr) + sizeof(req.l) +
				  room * sizeof(struct vfio_tsm_range) - argsz_cut,
			 .flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_TSM_LAYOUT },
		.l = { .region_index = index, .flags = flags, .nr_ranges = room },
	};

	int ret = ioctl(iv.fd, VFIO_DEVICE_FEATURE, &req) ? -errno : 0;

	/* ENOSPC still says how many ranges there are */
	*nr = req.l.nr_ranges;
	*out_flags = req.l.out_flags;
	if (r)
		memcpy(r, req.r, sizeof(req.r[0]) * (room < 8 ? room : 8));
	return ret;
}

/* Does BAR2's layout read as @want (offset, length, attr triples)? */
static int layout_is(uint32_t want_flags, const uint64_t *want, uint32_t n, char *why,
		     size_t len)
{
	struct vfio_tsm_range r[8];
	uint32_t nr, fl;
	int ret = layout(r, 8, &nr, &fl, BAR, 0, 0);

	if (ret) {
		snprintf(why, len, "TSM_LAYOUT: %s", lab_errname(-ret));
		return 0;
	}
	if (nr != n || fl != want_flags) {
		snprintf(why, len, "%u ranges, out_flags %#x; want %u, %#x", nr, fl, n,
			 want_flags);
		return 0;
	}
	for (uint32_t i = 0; i < n; i++)
		if (r[i].offset != want[3 * i] || r[i].length != want[3 * i + 1] ||
		    r[i].attr != want[3 * i + 2]) {
			snprintf(why, len, "range %u is %#llx+%#llx attr %u", i,
				 (unsigned long long)r[i].offset,
				 (unsigned long long)r[i].length, r[i].attr);
			return 0;
		}
	return 1;
}

static int bar_rw(uint64_t off, void *buf, size_t len, int write)
{
	ssize_t n = write ? pwrite(iv.fd, buf, len, bar_off + off) :
			    pread(iv.fd, buf, len, bar_off + off);

	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

static int ioeventfd_n(uint64_t off, int fd, uint32_t size_flag)
{
	struct vfio_device_ioeventfd e = {
		.argsz = sizeof(e), .flags = size_flag, .offset = bar_off + off,
		.data = MAGIC, .fd = fd,
	};

	return ioctl(iv.fd, VFIO_DEVICE_IOEVENTFD, &e) ? -errno : 0;
}

static int ioeventfd(uint64_t off, int fd)
{
	return ioeventfd_n(off, fd, VFIO_DEVICE_IOEVENTFD_32);
}

static int touch(volatile uint8_t *map, uint64_t off, uint32_t *v)
{
	return lab_probe32(map + off, v, 0);
}

/* Does a load at @off of @map raise SIGBUS (@bus) or not? */
static void expect_bus(volatile uint8_t *map, uint64_t off, int bus, const char *name)
{
	uint32_t v;
	int got = touch(map, off, &v) < 0;

	LAB_CHECK(got == bus, name, "the load at %#llx %s", (unsigned long long)off,
		  got ? "raised SIGBUS" : "read the page");
}

/* Map @len bytes of ivshmem's resource file @name ("resource2", ...): NULL on error */
static volatile uint8_t *map_resource(const char *name, uint64_t len)
{
	char path[400];
	void *p;
	int fd;

	snprintf(path, sizeof(path), SYS "%s/%s", iv.bdf, name);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * The physical address of BAR @bar of the function @bdf, if it is a memory
 * BAR (IORESOURCE_MEM): 0 otherwise
 */
static uint64_t mem_bar_start(const char *bdf, int bar)
{
	unsigned long long start = 0, end, flags;
	char path[400], line[200];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), SYS "%s/resource", bdf);
	f = fopen(path, "re");
	for (i = 0; f && i <= bar && fgets(line, sizeof(line), f); i++)
		if (i == bar && (sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3 ||
				 !(flags & 0x200)))
			start = 0;
	if (f)
		fclose(f);
	return start;
}

/*
 * Map @len bytes of BAR2 through /proc/bus/pci/BB/DD.F, whose offsets are
 * the BAR's bus address: NULL on error
 */
static volatile uint8_t *map_procfs(uint64_t len)
{
	uint64_t start = mem_bar_start(iv.bdf, BAR);
	unsigned int dom, bus, dev, fn;
	void *p = MAP_FAILED;
	char path[400];
	int fd;

	if (sscanf(iv.bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4 || !start)
		return NULL;
	snprintf(path, sizeof(path), "/proc/bus/pci/%02x/%02x.%x", bus, dev, fn);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (!ioctl(fd, PCIIOC_MMAP_IS_MEM))
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, start);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* mmap() a page of /dev/mem at @phys and read a word of it: 0 or -errno */
static int devmem_map_read(uint64_t phys, uint32_t *v)
{
	int fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	void *p = fd < 0 ? MAP_FAILED :
			   mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, phys);
	int ret = p == MAP_FAILED ? -errno : 0;

	if (!ret) {
		ret = touch(p, 0, v) ? -EFAULT : 0;
		munmap(p, 0x1000);
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* read() or write() 4 bytes of /dev/mem at @phys: 0 or -errno */
static int devmem_rw(uint64_t phys, uint32_t *v, int write)
{
	int fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : write ? pwrite(fd, v, 4, phys) : pread(fd, v, 4, phys);
	int ret = n == 4 ? 0 : n < 0 ? -errno : -EIO;

	if (fd >= 0)
		close(fd);
	return ret;
}

/* A memory BAR of a lab function without TDISP (a virtio device): 0 if none */
static uint64_t other_mem_bar(void)
{
	DIR *d = opendir(SYS);
	struct dirent *e;
	uint64_t start = 0;

	while (d && !start && (e = readdir(d))) {
		char path[400], id[32] = "";

		if (e->d_name[0] == '.' || !strcmp(e->d_name, iv.bdf))
			continue;
		snprintf(path, sizeof(path), SYS "%s/vendor", e->d_name);
		if (lab_read_str(path, id, sizeof(id)) < 0 || strncmp(id, "0x1af4", 6))
			continue;
		snprintf(path, sizeof(path), SYS "%s/device", e->d_name);
		if (lab_read_str(path, id, sizeof(id)) < 0 || !strncmp(id, "0x1110", 6))
			continue;
		for (int bar = 0; bar < 6 && !start; bar++)
			start = mem_bar_start(e->d_name, bar);
	}
	if (d)
		closedir(d);
	return start;
}

/*
 * /dev/mem keeps off every BAR of a function with TDISP, bound or not,
 * and still reaches other devices' BARs. @when names the state.
 */
static void test_devmem(const char *when)
{
	uint64_t bar2 = mem_bar_start(iv.bdf, BAR), bar0 = mem_bar_start(iv.bdf, 0);
	uint64_t other = other_mem_bar();
	uint32_t v = 0;
	char name[120];

	if (access("/dev/mem", F_OK)) {
		lab_skip("tsm-private-devmem", "no /dev/mem: the kernel has no DEVMEM");
		return;
	}
	/*
	 * read() and write() of /dev/mem reach only addresses below the top
	 * of RAM (x86's valid_phys_addr_range()): the tsm-private suite gives
	 * the VM RAM above 4 GiB, so that BAR0 in the 32-bit hole is below it,
	 * and says so with TSM_DEVMEM_RW=1; elsewhere those cases SKIP
	 */
	if (!LAB_CHECK(bar2 && bar0, "tsm-private-devmem-bars", "BAR2 at %#llx, BAR0 at %#llx",
		       (unsigned long long)bar2, (unsigned long long)bar0))
		return;
	snprintf(name, sizeof(name), "tsm-private-devmem-mmap-private-%s-eperm", when);
	lab_expect(devmem_map_read(bar2 + PRIV, &v), EPERM, name);
	snprintf(name, sizeof(name), "tsm-private-devmem-mmap-shared-%s-eperm", when);
	lab_expect(devmem_map_read(bar2, &v), EPERM, name);
	if (!LAB_CHECK(other, "tsm-private-devmem-other-device", "no virtio device with a memory BAR"))
		return;
	snprintf(name, sizeof(name), "tsm-private-devmem-mmap-other-device-%s-ok", when);
	lab_expect(devmem_map_read(other, &v), 0, name);
	/* TSM_DEVMEM_RW=1 (the tsm-private suite, 5 GiB): read() must reach it */
	if (devmem_rw(other, &v, 0) == -EFAULT && !getenv("TSM_DEVMEM_RW")) {
		lab_skip("tsm-private-devmem-rw",
			 "read() and write() of /dev/mem stop at the top of RAM, below the BARs: a VM with RAM above 4 GiB reaches them");
		return;
	}
	snprintf(name, sizeof(name), "tsm-private-devmem-read-other-device-%s-ok", when);
	lab_expect(devmem_rw(other, &v, 0), 0, name);
	snprintf(name, sizeof(name), "tsm-private-devmem-read-%s-eperm", when);
	lab_expect(devmem_rw(bar0, &v, 0), EPERM, name);
	snprintf(name, sizeof(name), "tsm-private-devmem-write-%s-eperm", when);
	lab_expect(devmem_rw(bar0, &v, 1), EPERM, name);
	/* a range that only starts before the BAR */
	snprintf(name, sizeof(name), "tsm-private-devmem-read-into-bar-%s-eperm", when);
	{
		uint8_t buf[8];
		int fd = open("/dev/mem", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf), bar0 - 4);

		lab_expect(n < 0 ? -errno : 0, EPERM, name);
		if (fd >= 0)
			close(fd);
	}
}

/* Read 4 bytes at @addr of this process through /proc/self/mem: 0 or -errno */
static int proc_mem_read(volatile uint8_t *addr, uint32_t *v)
{
	int fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : pread(fd, v, 4, (off_t)(uintptr_t)addr);
	int ret = n == 4 ? 0 : n < 0 ? -errno : -EIO;

	if (fd >= 0)
		close(fd);
	return ret;
}

static int setup_bar(void)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = BAR };

	if (ioctl(iv.fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	bar_off = ri.offset;
	bar_size = ri.size;
	map_before = vfio_region_mmap(iv.fd, BAR, bar_size, NULL);
	if (!map_before)
		return -errno;
	sysfs_before = map_resource("resource2", bar_size);
	return sysfs_before ? 0 : -errno;
}

/* ---- before the bind ------------------------------------------------------ */

static int evfd = -1;

static void test_unbound(void)
{
	uint64_t all_shared[] = { 0, bar_size, VFIO_TSM_ATTR_SHARED };
	uint32_t v = MAGIC;
	char why[160];

	LAB_CHECK(layout_is(0, all_shared, 1, why, sizeof(why)), "tsm-private-layout-unbound",
		  "%s", why);
	lab_expect(lab_probe32(map_before + PRIV, &v, 1), 0, "tsm-private-host-writes-before-bind");
	v = 0;
	lab_expect(bar_rw(PRIV + 4, &v, 4, 1), 0, "tsm-private-pwrite-before-bind");
	/* an ioeventfd on a page about to turn private */
	evfd = eventfd(0, EFD_CLOEXEC);
	lab_expect(ioeventfd(PRIV + 8, evfd), 0, "tsm-private-ioeventfd-before-bind");
	/* the resource file reaches the same MMIO while unbound */
	v = 0;
	LAB_CHECK(touch(sysfs_before, PRIV, &v) == 0 && v == MAGIC,
		  "tsm-private-sysfs-reads-before-bind", "read %#x, want %#x", v, MAGIC);
	test_devmem("unbound");
}

/* ---- bound ----------------------------------------------------------------- */

static void test_layout(void)
{
	uint64_t want[] = {
		0, 2 * MiB, VFIO_TSM_ATTR_SHARED,
		2 * MiB, 2 * MiB, VFIO_TSM_ATTR_PRIVATE,
		HOLE_PAGE, 0x1000, VFIO_TSM_ATTR_SHARED,
		HOLE_PAGE + 0x1000, bar_size - HOLE_PAGE - 0x1000, VFIO_TSM_ATTR_PRIVATE,
	};
	struct vfio_tsm_range r[8];
	uint32_t nr, fl;
	char why[160];

	LAB_CHECK(layout_is(VFIO_TSM_LAYOUT_BOUND, want, 4, why, sizeof(why)),
		  "tsm-private-layout-bound", "%s", why);
	lab_expect(layout(r, 2, &nr, &fl, BAR, 0, 0), ENOSPC, "tsm-private-layout-small-enospc");
	LAB_CHECK(nr == 4, "tsm-private-layout-enospc-says-how-many", "nr_ranges %u", nr);
	lab_expect(layout(r, 4, &nr, &fl, BAR, 0, 8), EINVAL,
		   "tsm-private-layout-argsz-below-room-einval");
	lab_expect(layout(r, 8, &nr, &fl, BAR, 1, 0), EINVAL, "tsm-private-layout-flags-einval");
	lab_expect(layout(r, 8, &nr, &fl, 0, 0, 0), EINVAL,
		   "tsm-private-layout-bar-below-page-einval");
	lab_expect(layout(r, 8, &nr, &fl, 6, 0, 0), EINVAL, "tsm-private-layout-bar6-einval");
	lab_expect(layout(r, 8, &nr, &fl, 1u << 31, 0, 0), EINVAL,
		   "tsm-private-layout-huge-index-einval");
	{
		struct vfio_device_feature f = {
			.argsz = sizeof(f),
			.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_TSM_LAYOUT,
		};

		lab_expect(ioctl(iv.fd, VFIO_DEVICE_FEATURE, &f) ? -errno : 0, EINVAL,
			   "tsm-private-layout-set-einval");
		f.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET |
			  VFIO_DEVICE_FEATURE_TSM_LAYOUT;
		lab_expect(ioctl(iv.fd, VFIO_DEVICE_FEATURE, &f) ? -errno : 0, 0,
			   "tsm-private-layout-probe");
	}
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/layout"), "2:0x200000+0x200000 2:0x401000+0xffbff000"),
		  "tsm-private-layout-matches-tsm", "tsm_sw/layout is '%s'",
		  attr(&iv, "tsm_sw/layout"));
}

static void test_cpu_mappings(void)
{
	volatile uint8_t *after = vfio_region_mmap(iv.fd, BAR, bar_size, NULL);
	uint32_t v = 1;

	/* the mapping made before the bind was zapped; it faults anew */
	expect_bus(map_before, PRIV, 1, "tsm-private-old-map-sigbus");
	expect_bus(map_before, 0, 0, "tsm-private-old-map-shared-ok");
	expect_bus(map_before, HOLE_PAGE, 0, "tsm-private-old-map-hole-page-ok");
	expect_bus(map_before, HOLE_PAGE + 0x1000, 1, "tsm-private-old-map-after-hole-sigbus");
	expect_bus(map_before, 3 * GiB, 1, "tsm-private-old-map-far-sigbus");
	LAB_CHECK(lab_probe32(map_before + PRIV, &v, 1) < 0, "tsm-private-old-map-write-sigbus",
		  "a store to a private page went through");

	if (!LAB_CHECK(after, "tsm-private-mmap-while-bound", "%s", strerror(errno)))
		return;
	/* first touches: a 1 GiB and a 2 MiB fault over private pages fall back */
	expect_bus(after, HOLE_PAGE, 0, "tsm-private-new-map-hole-page-ok");
	expect_bus(after, 0x1000, 0, "tsm-private-new-map-shared-ok");
	expect_bus(after, PRIV, 1, "tsm-private-new-map-sigbus");
	expect_bus(after, bar_size - 4, 1, "tsm-private-new-map-last-word-sigbus");
	munmap((void *)after, bar_size);
}

/* A resource file's mapping, made before the bind or now: private pages SIGBUS */
static void expect_private_refused(volatile uint8_t *map, const char *what)
{
	char name[120];

	snprintf(name, sizeof(name), "tsm-private-%s-sigbus", what);
	expect_bus(map, PRIV, 1, name);
	snprintf(name, sizeof(name), "tsm-private-%s-shared-ok", what);
	expect_bus(map, 0x1000, 0, name);
	snprintf(name, sizeof(name), "tsm-private-%s-hole-page-ok", what);
	expect_bus(map, HOLE_PAGE, 0, name);
	snprintf(name, sizeof(name), "tsm-private-%s-after-hole-sigbus", what);
	expect_bus(map, HOLE_PAGE + 0x1000, 1, name);
	snprintf(name, sizeof(name), "tsm-private-%s-last-word-sigbus", what);
	expect_bus(map, bar_size - 4, 1, name);
}

/* The PCI resource files of sysfs and procfs, which bypass VFIO */
static void test_resource_files(void)
{
	volatile uint8_t *sysfs = map_resource("resource2", bar_size);
	int sysfs_err = errno;
	volatile uint8_t *wc = map_resource("resource2_wc", bar_size);
	int wc_err = errno;
	volatile uint8_t *procfs = map_procfs(bar_size);
	int procfs_err = errno;
	uint32_t v = 1;

	/* the mapping made before the bind lost its private pages */
	expect_private_refused(sysfs_before, "sysfs-old-map");
	LAB_CHECK(lab_probe32(sysfs_before + PRIV, &v, 1) < 0, "tsm-private-sysfs-old-map-write-sigbus",
		  "a store to a private page went through");
	/* ptrace's path: a private page was never mapped, a shared one is */
	lab_expect(proc_mem_read(sysfs_before + PRIV, &v), EIO, "tsm-private-proc-mem-private-eio");
	lab_expect(proc_mem_read(sysfs_before + 0x1000, &v), 0, "tsm-private-proc-mem-shared-ok");

	if (LAB_CHECK(sysfs, "tsm-private-sysfs-mmap-while-bound", "%s", strerror(sysfs_err))) {
		expect_private_refused(sysfs, "sysfs-new-map");
		munmap((void *)sysfs, bar_size);
	}
	/* the _wc files exist only where the CPU maps write-combined (PAT) */
	if (!wc && wc_err == ENOENT)
		lab_skip("tsm-private-sysfs-wc-map", "no resource2_wc: the kernel has no PAT");
	else if (LAB_CHECK(wc, "tsm-private-sysfs-wc-mmap-while-bound", "%s", strerror(wc_err))) {
		expect_private_refused(wc, "sysfs-wc-map");
		munmap((void *)wc, bar_size);
	}
	if (LAB_CHECK(procfs, "tsm-private-procfs-mmap-while-bound", "%s", strerror(procfs_err))) {
		expect_private_refused(procfs, "procfs-map");
		munmap((void *)procfs, bar_size);
	}
	test_devmem("bound");
}

static void test_rw(void)
{
	uint8_t buf[0x2000] = { 0 };
	uint32_t v = 0;

	lab_expect(bar_rw(PRIV, &v, 4, 0), EPERM, "tsm-private-pread-eperm");
	lab_expect(bar_rw(PRIV, &v, 4, 1), EPERM, "tsm-private-pwrite-eperm");
	lab_expect(bar_rw(PRIV + 1, &v, 1, 0), EPERM, "tsm-private-pread-byte-eperm");
	lab_expect(bar_rw(bar_size - 8, &v, 4, 0), EPERM, "tsm-private-pread-end-eperm");
	lab_expect(bar_rw(2 * MiB - 0x1000, buf, sizeof(buf), 0), EPERM,
		   "tsm-private-pread-across-eperm");
	lab_expect(bar_rw(0x1000, &v, 4, 0), 0, "tsm-private-pread-shared-ok");
	lab_expect(bar_rw(HOLE_PAGE + 0xffc, &v, 4, 1), 0, "tsm-private-pwrite-hole-page-ok");
	lab_expect(bar_rw(HOLE_PAGE + 0xffc, &v, 8, 0), EPERM,
		   "tsm-private-pread-hole-page-into-private-eperm");
}

static void test_ioeventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	uint64_t one = 1;

	lab_expect(ioeventfd(PRIV + 16, fd), EPERM, "tsm-private-ioeventfd-eperm");
	lab_expect(ioeventfd_n(HOLE_PAGE + 0xffc, fd, VFIO_DEVICE_IOEVENTFD_64), EPERM,
		   "tsm-private-ioeventfd-straddle-eperm");
	lab_expect(ioeventfd(0x100, fd), 0, "tsm-private-ioeventfd-shared-ok");
	lab_expect(ioeventfd(0x100, -1), 0, "tsm-private-ioeventfd-shared-removed");
	close(fd);
	/* the one registered before the bind fires: its write must be dropped */
	lab_expect(write(evfd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno, 0,
		   "tsm-private-ioeventfd-signal");
	usleep(100000);
}

/* ---- what would take the MMIO away from the VM --------------------------- */

#define CMD_MEM_ON	(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

static int low_power(void)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
	};

	return ioctl(iv.fd, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;
}

static int low_power_exit(void)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_EXIT,
	};

	return ioctl(iv.fd, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;
}

static int hot_reset(void)
{
	struct vfio_pci_hot_reset r = { .argsz = sizeof(r) };

	return ioctl(iv.fd, VFIO_DEVICE_PCI_HOT_RESET, &r) ? -errno : 0;
}

static int device_flags(void)
{
	struct vfio_device_info i = { .argsz = sizeof(i) };

	return ioctl(iv.fd, VFIO_DEVICE_GET_INFO, &i) ? -errno : (int)i.flags;
}

/* while bound: each is EBUSY and changes nothing */
static void test_busy(void)
{
	int fl = device_flags(), ret;
	uint32_t v;

	lab_expect(vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER), EBUSY,
		   "tsm-private-mem-off-ebusy");
	lab_expect(bar_rw(0x1000, &v, 4, 0), 0, "tsm-private-mem-off-refused-still-decodes");
	if (fl >= 0 && (fl & VFIO_DEVICE_FLAGS_RESET))
		lab_expect(ioctl(iv.fd, VFIO_DEVICE_RESET) ? -errno : 0, EBUSY,
			   "tsm-private-reset-ebusy");
	else
		lab_skip("tsm-private-reset-ebusy",
			 "ivshmem has no function reset in the lab; suite tsm-pcie tries it");
	lab_expect(low_power(), EBUSY, "tsm-private-low-power-ebusy");
	lab_expect(bar_rw(0x1000, &v, 4, 0), 0, "tsm-private-low-power-refused-still-decodes");
	ret = hot_reset();
	if (ret == -ENODEV)	/* the kernel says no before it looks at the TSM */
		lab_skip("tsm-private-hot-reset-ebusy",
			 "ivshmem sits on the root bus in the lab: no slot or bus reset; "
			 "suite tsm-pcie tries it");
	else
		lab_expect(ret, EBUSY, "tsm-private-hot-reset-ebusy");
}

/* unbound: the same work */
static void test_not_busy(void)
{
	lab_expect(vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER), 0, "tsm-private-mem-off-unbound");
	lab_expect(vfio_config_cmd(iv.fd, CMD_MEM_ON), 0, "tsm-private-mem-on-unbound");
	if (lab_expect(low_power(), 0, "tsm-private-low-power-unbound"))
		lab_expect(low_power_exit(), 0, "tsm-private-low-power-exit-unbound");
}

/* ---- unbound again ------------------------------------------------------- */

static void test_after_unbind(void)
{
	uint64_t all_shared[] = { 0, bar_size, VFIO_TSM_ATTR_SHARED };
	uint32_t v = 0, w = 1, e = 1;
	char why[160];

	LAB_CHECK(layout_is(0, all_shared, 1, why, sizeof(why)),
		  "tsm-private-layout-after-unbind", "%s", why);
	LAB_CHECK(touch(map_before, PRIV, &v) == 0 && v == MAGIC, "tsm-private-old-map-after-unbind",
		  "read %#x, want %#x (what the host wrote before the bind)", v, MAGIC);
	LAB_CHECK(bar_rw(PRIV + 4, &w, 4, 0) == 0 && w == 0, "tsm-private-pread-after-unbind",
		  "word %#x", w);
	LAB_CHECK(bar_rw(PRIV + 8, &e, 4, 0) == 0 && e != MAGIC,
		  "tsm-private-ioeventfd-write-dropped", "the ioeventfd wrote %#x while bound", e);
	lab_expect(ioeventfd(PRIV + 8, -1), 0, "tsm-private-ioeventfd-remove-after-unbind");
	close(evfd);
	v = 0;
	LAB_CHECK(touch(sysfs_before, PRIV, &v) == 0 && v == MAGIC,
		  "tsm-private-sysfs-old-map-after-unbind", "read %#x, want %#x", v, MAGIC);
}

/* ---- a reader against BIND/UNBIND ------------------------------------------ */

#define RACE_ROUNDS	100

/*
 * pread(), a CPU load through VFIO's mapping and one through the sysfs
 * resource file of a private page in a loop. A success that began and ended
 * while the interface was bound is a host access to private MMIO.
 */
static void *race_reader(void *arg)
{
	volatile uint8_t *map = vfio_region_mmap(iv.fd, BAR, 8 * MiB, NULL);
	volatile uint8_t *sysfs = map_resource("resource2", 8 * MiB);
	long *bad = arg;

	bad[2] = 0;
	while (map && sysfs && !tsm_race_stop) {
		unsigned long g1 = tsm_gen_now();
		uint32_t v;
		int r, m, f;

		r = bar_rw(PRIV, &v, 4, 0);
		m = touch(map, PRIV, &v);
		f = touch(sysfs, PRIV, &v);
		if (tsm_bound_throughout(g1) && (!r || !m || !f))
			bad[0]++;
		if (r && r != -EPERM)
			bad[1]++;
		bad[2]++;
	}
	if (!map || !sysfs)
		bad[3] = 1;
	if (map)
		munmap((void *)map, 8 * MiB);
	if (sysfs)
		munmap((void *)sysfs, 8 * MiB);
	return NULL;
}

static void test_race(void)
{
	long bad[4] = { 0 };

	tsm_race("tsm-private-race", race_reader, bad, RACE_ROUNDS, 1000);
	LAB_CHECK(!bad[3], "tsm-private-race-maps", "the reader could not map the BAR");
	printf("# %d bind/unbind rounds against %ld reads\n", RACE_ROUNDS, bad[2]);
	LAB_CHECK(!bad[0], "tsm-private-race-no-read-while-bound",
		  "%ld reads of a private page succeeded while bound", bad[0]);
	LAB_CHECK(!bad[1], "tsm-private-race-errnos", "%ld reads failed with another errno",
		  bad[1]);
}

int main(void)
{
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	lab_catch_sigbus();
	ret = tsm_setup_bindable(HOLES);
	if (!ret)
		ret = setup_bar();
	if (ret) {
		printf("FAIL: tsm-private-setup (%s)\n", lab_errname(-ret));
		return 1;
	}
	test_unbound();
	if (lab_expect(bind(iv.vdev), 0, "tsm-private-bind")) {
		test_layout();
		test_cpu_mappings();
		test_resource_files();
		test_rw();
		test_ioeventfd();
		test_busy();
		lab_expect(unbind(iv.vdev), 0, "tsm-private-unbind");
		test_after_unbind();
		test_not_busy();
	}
	test_race();
	set_attr(&iv, "tsm_sw/shared", "default");
	lab_expect(set_attr(&iv, "tsm/disconnect", "tsm0"), 0, "tsm-private-disconnect");
	return lab_failed;
}
