// SPDX-License-Identifier: GPL-2.0
/*
 * tsm_pcie - the software TSM and vfio-pci on PCI Express endpoints
 * (scripts/vm.sh --pcie), acting as the VMM: a virtio-rng (1af4:1044: its
 * MSI-X table and PBA share a page of BAR1, a BAR of their own; power
 * management; FLR) and an e1000e (8086:10d3: the table and the PBA on two
 * pages of BAR3 between private ones, three memory BARs and an I/O BAR;
 * power management; reset through its root port).
 *
 * A bind keeps the pages of the MSI-X table and PBA shared and makes every
 * other page of every memory BAR private: VFIO_DEVICE_FEATURE_TSM_LAYOUT of
 * each BAR and tsm_sw/layout say so, and through an mmap of each BAR the
 * shared pages read and the private ones raise SIGBUS. While bound,
 * VFIO_DEVICE_RESET, VFIO_DEVICE_PCI_HOT_RESET, an FLR and D3 through the
 * config region fail with EBUSY, revoke nothing and leave the device in D0
 * and bound. Unbound,
 * each works, revokes the device's DMABUFs (RESET, D3) and restores them
 * when done, and a restored DMABUF maps into the IOAS again. Last, vfio-pci
 * lets go of each device and takes it back. One PASS:/FAIL: line per case;
 * exits 1 when one failed.
 */
#include <sys/stat.h>

#include "tsm_vmm.h"

#define RANGES_MAX	16
#define IOVA		0x40000000UL
#define MEM_ON		(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

struct pdev {
	const char *name;
	unsigned int vendor, device;
	uint32_t virt_id;
	struct dev d;
	uint64_t cfg;			/* the config region's offset in the fd */
	uint8_t pm, exp, msix;		/* capability offsets, 0 when absent */
	uint64_t size[PCI_STD_NUM_BARS];	/* memory BARs of a page or more, else 0 */
	struct pci_hole {
		uint32_t bar;
		uint64_t off, len;
	} holes[2];
	unsigned int nr_holes;
};

static struct pdev devs[] = {
	{ .name = "virtio", .vendor = 0x1af4, .device = 0x1044, .virt_id = 0x21,
	  .d = { .fd = -1, .kvm_dev = -1 } },
	{ .name = "e1000e", .vendor = 0x8086, .device = 0x10d3, .virt_id = 0x22,
	  .d = { .fd = -1, .kvm_dev = -1 } },
};

#define for_each_pdev(p) for (struct pdev *p = devs; p < devs + 2; p++)

static char name_buf[160];

static const char *cname(struct pdev *p, const char *what)
{
	snprintf(name_buf, sizeof(name_buf), "tsm-pcie-%s-%s", p->name, what);
	return name_buf;
}

static int cfg_read(struct pdev *p, unsigned int off, void *v, size_t n)
{
	ssize_t r = pread(p->d.fd, v, n, p->cfg + off);

	return r == (ssize_t)n ? 0 : r < 0 ? -errno : -EIO;
}

static int cfg_write(struct pdev *p, unsigned int off, const void *v, size_t n)
{
	ssize_t r = pwrite(p->d.fd, v, n, p->cfg + off);

	return r == (ssize_t)n ? 0 : r < 0 ? -errno : -EIO;
}

static uint16_t cfg16(struct pdev *p, unsigned int off)
{
	uint16_t v = 0xffff;

	cfg_read(p, off, &v, sizeof(v));
	return v;
}

static uint32_t cfg32(struct pdev *p, unsigned int off)
{
	uint32_t v = 0xffffffff;

	cfg_read(p, off, &v, sizeof(v));
	return v;
}

static unsigned long long ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : (unsigned long long)st.st_ino;
}

/* Add the page-rounded [off, off + len) of @bar to the holes, merging. */
static void add_hole(struct pdev *p, uint32_t bar, uint64_t off, uint64_t len)
{
	uint64_t s = off & ~0xfffULL, e = (off + len + 0xfff) & ~0xfffULL;

	for (unsigned int i = 0; i < p->nr_holes; i++) {
		struct pci_hole *h = &p->holes[i];

		if (h->bar == bar && s <= h->off + h->len && h->off <= e) {
			uint64_t end = h->off + h->len > e ? h->off + h->len : e;

			h->off = h->off < s ? h->off : s;
			h->len = end - h->off;
			return;
		}
	}
	p->holes[p->nr_holes++] = (struct pci_hole){ bar, s, e - s };
	if (p->nr_holes == 2 && (p->holes[0].bar > p->holes[1].bar ||
				 (p->holes[0].bar == p->holes[1].bar &&
				  p->holes[0].off > p->holes[1].off))) {
		struct pci_hole t = p->holes[0];

		p->holes[0] = p->holes[1];
		p->holes[1] = t;
	}
}

/* The config region, the capabilities, the memory BARs, the MSI-X pages. */
static int probe(struct pdev *p)
{
	struct vfio_region_info ri = {
		.argsz = sizeof(ri), .index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	unsigned long long start, end, flags;
	char path[400];
	uint8_t pos;
	FILE *f;
	int i;

	if (ioctl(p->d.fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return -errno;
	p->cfg = ri.offset;
	for (pos = cfg16(p, PCI_CAPABILITY_LIST) & 0xfc, i = 0; pos && i < 48; i++) {
		uint16_t id_next = cfg16(p, pos);

		switch (id_next & 0xff) {
		case PCI_CAP_ID_PM: p->pm = pos; break;
		case PCI_CAP_ID_EXP: p->exp = pos; break;
		case PCI_CAP_ID_MSIX: p->msix = pos; break;
		}
		pos = (id_next >> 8) & 0xfc;
	}
	snprintf(path, sizeof(path), SYS "%s/resource", p->d.bdf);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	for (i = 0; i < PCI_STD_NUM_BARS &&
		    fscanf(f, "%llx %llx %llx", &start, &end, &flags) == 3; i++)
		if ((flags & 0x200) && start && end - start + 1 >= 4096)
			p->size[i] = end - start + 1;
	fclose(f);
	if (p->msix) {
		uint32_t nr = (cfg16(p, p->msix + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE) + 1;
		uint32_t table = cfg32(p, p->msix + PCI_MSIX_TABLE);
		uint32_t pba = cfg32(p, p->msix + PCI_MSIX_PBA);

		add_hole(p, table & PCI_MSIX_TABLE_BIR, table & PCI_MSIX_TABLE_OFFSET,
			 nr * PCI_MSIX_ENTRY_SIZE);
		add_hole(p, pba & PCI_MSIX_PBA_BIR, pba & PCI_MSIX_PBA_OFFSET,
			 (nr + 63) / 64 * 8);
	}
	return 0;
}

/* ---- the layout -------------------------------------------------------- */

static struct vfio_tsm_range range(uint64_t offset, uint64_t length, uint32_t attr)
{
	return (struct vfio_tsm_range){ .offset = offset, .length = length, .attr = attr };
}

/* What a bind must make of @bar: maximal ranges, in order. */
static uint32_t want_layout(struct pdev *p, uint32_t bar, struct vfio_tsm_range *r)
{
	uint64_t pos = 0;
	uint32_t nr = 0;

	for (unsigned int i = 0; i < p->nr_holes; i++) {
		const struct pci_hole *h = &p->holes[i];

		if (h->bar != bar)
			continue;
		if (h->off > pos)
			r[nr++] = range(pos, h->off - pos, VFIO_TSM_ATTR_PRIVATE);
		r[nr++] = range(h->off, h->len, VFIO_TSM_ATTR_SHARED);
		pos = h->off + h->len;
	}
	if (pos < p->size[bar])
		r[nr++] = range(pos, p->size[bar] - pos, VFIO_TSM_ATTR_PRIVATE);
	return nr;
}

static int layout_get(struct pdev *p, uint32_t bar, struct vfio_tsm_range *r, uint32_t *nr,
		      uint32_t *out_flags)
{
	struct {
		struct vfio_device_feature f;
		struct vfio_device_feature_tsm_layout l;
		struct vfio_tsm_range r[RANGES_MAX];
	} req = {
		.f = { .argsz = sizeof(req),
		       .flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_TSM_LAYOUT },
		.l = { .region_index = bar, .nr_ranges = RANGES_MAX },
	};

	if (ioctl(p->d.fd, VFIO_DEVICE_FEATURE, &req))
		return -errno;
	*nr = req.l.nr_ranges;
	*out_flags = req.l.out_flags;
	memcpy(r, req.r, sizeof(req.r));
	return 0;
}

static void fmt_ranges(char *buf, size_t len, const struct vfio_tsm_range *r, uint32_t nr)
{
	buf[0] = 0;
	for (uint32_t i = 0; i < nr && strlen(buf) < len - 64; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s:0x%llx+0x%llx",
			 i ? " " : "", r[i].attr == VFIO_TSM_ATTR_PRIVATE ? "P" : "S",
			 (unsigned long long)r[i].offset, (unsigned long long)r[i].length);
}

static void test_layout(struct pdev *p)
{
	struct vfio_tsm_range got[RANGES_MAX], want[RANGES_MAX];
	char g[512], w[512], sysfs[512] = "", n[64];
	uint32_t nr = 0, flags = 0;

	for (uint32_t bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		uint32_t wn;
		int ret;

		snprintf(n, sizeof(n), "layout-bar%u", bar);
		ret = layout_get(p, bar, got, &nr, &flags);
		if (!p->size[bar]) {
			lab_expect(ret, EINVAL, cname(p, n));
			continue;
		}
		if (!lab_expect(ret, 0, cname(p, n)))
			continue;
		wn = want_layout(p, bar, want);
		fmt_ranges(g, sizeof(g), got, nr);
		fmt_ranges(w, sizeof(w), want, wn);
		LAB_CHECK(nr == wn && !strcmp(g, w) && flags == VFIO_TSM_LAYOUT_BOUND,
			  cname(p, strcat(n, "-ranges")), "got '%s' flags %u, want '%s'", g, flags,
			  w);
		for (uint32_t i = 0; i < wn; i++)
			if (want[i].attr == VFIO_TSM_ATTR_PRIVATE)
				snprintf(sysfs + strlen(sysfs), sizeof(sysfs) - strlen(sysfs),
					 "%s%u:0x%llx+0x%llx", sysfs[0] ? " " : "", bar,
					 (unsigned long long)want[i].offset,
					 (unsigned long long)want[i].length);
	}
	LAB_CHECK(!strcmp(attr(&p->d, "tsm_sw/layout"), sysfs), cname(p, "layout-sysfs"),
		  "tsm_sw/layout is '%s', want '%s'", attr(&p->d, "tsm_sw/layout"), sysfs);
}

/* ---- what would take the MMIO away from the VM ---------------------------- */

static int dev_reset(struct pdev *p)
{
	return ioctl(p->d.fd, VFIO_DEVICE_RESET) ? -errno : 0;
}

static int hot_reset(struct pdev *p)
{
	/* no group fds: every device of the set is this iommufd's */
	struct vfio_pci_hot_reset h = { .argsz = sizeof(h), .count = 0 };

	return ioctl(p->d.fd, VFIO_DEVICE_PCI_HOT_RESET, &h) ? -errno : 0;
}

static int flr(struct pdev *p)
{
	uint16_t ctl = cfg16(p, p->exp + PCI_EXP_DEVCTL) | PCI_EXP_DEVCTL_BCR_FLR;

	return cfg_write(p, p->exp + PCI_EXP_DEVCTL, &ctl, sizeof(ctl));
}

static int power_state(struct pdev *p)
{
	return cfg16(p, p->pm + PCI_PM_CTRL) & PCI_PM_CTRL_STATE_MASK;
}

static int set_power_state(struct pdev *p, unsigned int state)
{
	uint16_t ctl = (cfg16(p, p->pm + PCI_PM_CTRL) & ~PCI_PM_CTRL_STATE_MASK) | state;

	return cfg_write(p, p->pm + PCI_PM_CTRL, &ctl, sizeof(ctl));
}

static int has_flr(struct pdev *p)
{
	return p->exp && (cfg32(p, p->exp + PCI_EXP_DEVCAP) & PCI_EXP_DEVCAP_FLR);
}

static void trace_start(void)
{
	lab_trace_event("vfio_dmabuf/vfio_dmabuf_revoke", 1);
	lab_trace_event("vfio_dmabuf/vfio_dmabuf_restore", 1);
	lab_trace_clear();
}

static int traced(const char *event, int fd, int reason)
{
	char m[80];

	snprintf(m, sizeof(m), "buf=%llu ", ino(fd));
	if (lab_trace_count(event, m) != 1)
		return 0;
	snprintf(m, sizeof(m), "arg=%d", reason);
	return lab_trace_count(event, m) == 1;
}

static void test_bound(struct pdev *p)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	volatile uint8_t *hole;
	uint32_t v;
	int fd;

	LAB_CHECK(!ioctl(p->d.fd, VFIO_DEVICE_GET_INFO, &info) &&
		  (info.flags & VFIO_DEVICE_FLAGS_RESET), cname(p, "reset-works"),
		  "VFIO_DEVICE_GET_INFO flags %#x", info.flags);
	/* a private DMABUF of the first private page: nothing may revoke it */
	fd = -1;
	for (uint32_t bar = 0; bar < PCI_STD_NUM_BARS && fd < 0; bar++) {
		struct vfio_tsm_range want[RANGES_MAX];
		uint32_t wn = p->size[bar] ? want_layout(p, bar, want) : 0;

		for (uint32_t i = 0; i < wn && fd < 0; i++)
			if (want[i].attr == VFIO_TSM_ATTR_PRIVATE)
				fd = vfio_dmabuf_export(p->d.fd, bar, want[i].offset, 4096,
							VFIO_DMA_BUF_PRIVATE);
	}
	lab_expect(fd < 0 ? fd : 0, 0, cname(p, "bound-private-export"));
	/* the VMM's mapping of a shared page, made before the refusals */
	hole = p->nr_holes ? vfio_region_mmap(p->d.fd, p->holes[0].bar,
					      p->size[p->holes[0].bar], NULL) : NULL;
	lab_catch_sigbus();
	if (hole && lab_probe32(hole + p->holes[0].off, &v, 0))
		hole = NULL;
	trace_start();
	lab_expect(dev_reset(p), EBUSY, cname(p, "bound-reset-ebusy"));
	lab_expect(hot_reset(p), EBUSY, cname(p, "bound-hot-reset-ebusy"));
	if (has_flr(p))
		lab_expect(flr(p), EBUSY, cname(p, "bound-flr-ebusy"));
	lab_expect(set_power_state(p, 3), EBUSY, cname(p, "bound-d3-ebusy"));
	LAB_CHECK(power_state(p) == 0, cname(p, "bound-stays-d0"), "power state D%d",
		  power_state(p));
	LAB_CHECK(lab_trace_count("vfio_dmabuf_revoke", NULL) == 0,
		  cname(p, "bound-refusals-revoke-nothing"), "%d revokes",
		  lab_trace_count("vfio_dmabuf_revoke", NULL));
	LAB_CHECK(!strcmp(attr(&p->d, "tsm_sw/state"), "RUN"), cname(p, "bound-still-run"),
		  "tsm_sw/state is '%s'", attr(&p->d, "tsm_sw/state"));
	/* what the refusals zapped faults in again */
	LAB_CHECK(hole && !lab_probe32(hole + p->holes[0].off, &v, 0),
		  cname(p, "bound-shared-mapping-survives-refusals"), "%s",
		  hole ? "SIGBUS" : "no mapping of the shared page");
	if (hole)
		munmap((void *)hole, p->size[p->holes[0].bar]);
	if (fd >= 0)
		close(fd);
}

/*
 * Bound: through an mmap of each whole memory BAR, every shared page reads
 * and every private page raises SIGBUS (the fault checks the page against
 * the ranges of every BAR).
 */
static void test_bound_mmap(struct pdev *p)
{
	char bad[160] = "";
	int pages = 0;

	lab_catch_sigbus();
	for (uint32_t bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		struct vfio_tsm_range want[RANGES_MAX];
		volatile uint8_t *m;
		uint32_t wn;

		if (!p->size[bar])
			continue;
		m = vfio_region_mmap(p->d.fd, bar, p->size[bar], NULL);
		if (!m) {
			snprintf(bad, sizeof(bad), "mmap of BAR%u: %s", bar, strerror(errno));
			break;
		}
		wn = want_layout(p, bar, want);
		for (uint32_t i = 0; i < wn; i++) {
			for (uint64_t off = want[i].offset; off < want[i].offset + want[i].length;
			     off += 4096) {
				int priv = want[i].attr == VFIO_TSM_ATTR_PRIVATE;
				uint32_t v;

				pages++;
				if ((lab_probe32(m + off, &v, 0) < 0) != priv && !bad[0])
					snprintf(bad, sizeof(bad), "BAR%u+%#llx, a %s page, %s", bar,
						 (unsigned long long)off, priv ? "private" : "shared",
						 priv ? "read" : "raised SIGBUS");
			}
		}
		munmap((void *)m, p->size[bar]);
	}
	LAB_CHECK(!bad[0] && pages, cname(p, "bound-mmap-shared-pages-only"), "%s",
		  bad[0] ? bad : "no page tried");
}

/*
 * Unbound: @what (named @name) revokes the device's shared DMABUF @fd with
 * @reason and restores it when done.
 */
static void revokes_and_restores(struct pdev *p, const char *name, int (*what)(struct pdev *),
				 int fd, int reason)
{
	char n[64];

	trace_start();
	snprintf(n, sizeof(n), "unbound-%s", name);
	if (!lab_expect(what(p), 0, cname(p, n)))
		return;
	snprintf(n, sizeof(n), "unbound-%s-revokes-and-restores", name);
	LAB_CHECK(traced("vfio_dmabuf_revoke", fd, reason) &&
		  traced("vfio_dmabuf_restore", fd, reason), cname(p, n),
		  "want one revoke and one restore of buf=%llu with arg=%d", ino(fd), reason);
}

static int go_d3(struct pdev *p)
{
	return set_power_state(p, 3);
}

static void test_unbound(struct pdev *p)
{
	uint32_t bar = 0;
	char n[64];
	int fd, ret;

	while (bar < PCI_STD_NUM_BARS - 1 && !p->size[bar])
		bar++;
	fd = vfio_dmabuf_export(p->d.fd, bar, 0, 4096, 0);
	if (!lab_expect(fd < 0 ? fd : 0, 0, cname(p, "unbound-shared-export")))
		return;
	lab_expect(iommufd_map_file(iommufd, ioas, fd, 4096, IOVA), 0, cname(p, "unbound-map"));

	revokes_and_restores(p, "reset", dev_reset, fd, 3);
	revokes_and_restores(p, "hot-reset", hot_reset, fd, 3);
	if (has_flr(p))
		revokes_and_restores(p, "flr", flr, fd, 3);
	/* D3 revokes; D0 restores */
	trace_start();
	if (lab_expect(go_d3(p), 0, cname(p, "unbound-d3"))) {
		LAB_CHECK(power_state(p) == 3, cname(p, "unbound-in-d3"), "power state D%d",
			  power_state(p));
		LAB_CHECK(traced("vfio_dmabuf_revoke", fd, 6) &&
			  lab_trace_count("vfio_dmabuf_restore", NULL) == 0,
			  cname(p, "unbound-d3-revokes"), "want one revoke with arg=6, no restore");
		lab_expect(set_power_state(p, 0), 0, cname(p, "unbound-d0"));
		LAB_CHECK(traced("vfio_dmabuf_restore", fd, 6), cname(p, "unbound-d0-restores"),
			  "want one restore with arg=6");
	}
	/* the area of the revoked mapping goes; the restored DMABUF maps anew */
	iommufd_ioas_unmap(iommufd, ioas, IOVA, 4096);
	ret = iommufd_map_file(iommufd, ioas, fd, 4096, IOVA);
	snprintf(n, sizeof(n), "unbound-maps-after-restore");
	lab_expect(ret, 0, cname(p, n));
	iommufd_ioas_unmap(iommufd, ioas, IOVA, 4096);
	close(fd);
}

/* ---- vfio-pci lets go of the device and takes it back -------------------- */

static void test_driver_rebind(struct pdev *p)
{
	char path[400], cdev[300], bdf[300];
	int ret;

	ret = lab_write_str("/sys/bus/pci/drivers/vfio-pci/unbind", p->d.bdf);
	lab_expect(ret, 0, cname(p, "vfio-pci-unbind"));
	snprintf(path, sizeof(path), SYS "%s/driver", p->d.bdf);
	LAB_CHECK(access(path, F_OK), cname(p, "vfio-pci-unbound"), "%s still there", path);
	lab_expect(lab_write_str("/sys/bus/pci/drivers_probe", p->d.bdf), 0,
		   cname(p, "vfio-pci-probe"));
	ret = lab_find_vfio_dev(p->vendor, p->device, bdf, sizeof(bdf), cdev, sizeof(cdev));
	lab_expect(ret, 0, cname(p, "vfio-pci-cdev-back"));
	LAB_CHECK(!strcmp(attr(&p->d, "tsm/connect"), "tsm0"), cname(p, "still-connected"),
		  "tsm/connect is '%s'", attr(&p->d, "tsm/connect"));
}

int main(void)
{
	int kvm_fd = open("/dev/kvm", O_RDWR), ret = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	iommufd = open("/dev/iommu", O_RDWR);
	if (kvm_fd < 0 || iommufd < 0) {
		printf("FAIL: tsm-pcie-setup (/dev/kvm or /dev/iommu: %s)\n", strerror(errno));
		return 1;
	}
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm_fd < 0)
		ret = -errno;
	if (!ret)
		ret = iommufd_ioas_with_ram(iommufd, VMM_RAM_IOVA, 1, &ioas, &vmm_ram);
	if (ret) {
		printf("FAIL: tsm-pcie-setup (%s)\n", lab_errname(-ret));
		return 1;
	}
	for_each_pdev(p) {
		ret = dev_open(&p->d, p->vendor, p->device, 1);
		if (!ret)
			ret = probe(p);
		if (!ret)
			ret = vfio_config_cmd(p->d.fd, MEM_ON);
		if (!ret)
			ret = set_attr(&p->d, "tsm/connect", "tsm0");
		if (!ret)
			ret = viommu_alloc(&p->d);
		if (!ret)
			ret = vdevice_alloc(&p->d, p->virt_id);
		if (!lab_expect(ret, 0, cname(p, "setup")))
			return 1;
	}
	/* what the cases count on: the devices are as the comment above says */
	LAB_CHECK(devs[0].nr_holes == 1 && devs[0].holes[0].off == 0 &&
		  devs[0].holes[0].len == devs[0].size[devs[0].holes[0].bar] && devs[0].pm &&
		  has_flr(&devs[0]), "tsm-pcie-virtio-is-as-expected",
		  "%u MSI-X holes, pm %#x, FLR %d", devs[0].nr_holes, devs[0].pm, has_flr(&devs[0]));
	LAB_CHECK(devs[1].nr_holes == 2 && devs[1].holes[0].bar == devs[1].holes[1].bar &&
		  devs[1].holes[1].off > devs[1].holes[0].off + devs[1].holes[0].len &&
		  devs[1].pm && !has_flr(&devs[1]), "tsm-pcie-e1000e-is-as-expected",
		  "%u MSI-X holes, pm %#x, FLR %d", devs[1].nr_holes, devs[1].pm,
		  has_flr(&devs[1]));

	for_each_pdev(p) {
		if (!lab_expect(bind(p->d.vdev), 0, cname(p, "bind")))
			continue;
		test_layout(p);
		test_bound_mmap(p);
		test_bound(p);
		lab_expect(unbind(p->d.vdev), 0, cname(p, "unbind"));
		test_unbound(p);
	}
	lab_trace_event("vfio_dmabuf", 0);

	/* the VMM goes; vfio-pci releases each device and probes it again */
	for_each_pdev(p) {
		destroy(p->d.vdev);
		destroy(p->d.viommu);
		close(p->d.fd);
	}
	close(vmm_kvm_vfio);
	close(vm_fd);
	close(iommufd);
	for_each_pdev(p)
		test_driver_rebind(p);
	for_each_pdev(p)
		lab_expect(set_attr(&p->d, "tsm/disconnect", "tsm0"), 0, cname(p, "disconnect"));
	return lab_failed;
}
