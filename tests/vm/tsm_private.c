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
 * docs/uapi.md. After UNBIND everything is reachable again and holds
 * what the host wrote before the bind. A thread reading private pages
 * while another binds and unbinds never succeeds while bound.
 */
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

static int setup_bar(void)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = BAR };

	if (ioctl(iv.fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	bar_off = ri.offset;
	bar_size = ri.size;
	map_before = vfio_region_mmap(iv.fd, BAR, bar_size, NULL);
	return map_before ? 0 : -errno;
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
		lab_skip("tsm-private-reset-ebusy", "ivshmem has no function reset in the lab");
	lab_expect(low_power(), EBUSY, "tsm-private-low-power-ebusy");
	lab_expect(bar_rw(0x1000, &v, 4, 0), 0, "tsm-private-low-power-refused-still-decodes");
	ret = hot_reset();
	if (ret == -ENODEV)	/* the kernel says no before it looks at the TSM */
		lab_skip("tsm-private-hot-reset-ebusy",
			 "ivshmem sits on the root bus in the lab: no slot or bus reset");
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
}

/* ---- a reader against BIND/UNBIND ------------------------------------------ */

#define RACE_ROUNDS	100

/*
 * pread() and a CPU load of a private page in a loop. A success that began
 * and ended while the interface was bound is a host access to private MMIO.
 */
static void *race_reader(void *arg)
{
	volatile uint8_t *map = vfio_region_mmap(iv.fd, BAR, 8 * MiB, NULL);
	long *bad = arg;

	bad[2] = 0;
	while (map && !tsm_race_stop) {
		unsigned long g1 = tsm_gen_now();
		uint32_t v;
		int r, m;

		r = bar_rw(PRIV, &v, 4, 0);
		m = touch(map, PRIV, &v);
		if (tsm_bound_throughout(g1) && (!r || !m))
			bad[0]++;
		if (r && r != -EPERM)
			bad[1]++;
		bad[2]++;
	}
	if (map)
		munmap((void *)map, 8 * MiB);
	return NULL;
}

static void test_race(void)
{
	long bad[3] = { 0 };

	tsm_race("tsm-private-race", race_reader, bad, RACE_ROUNDS, 1000);
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
