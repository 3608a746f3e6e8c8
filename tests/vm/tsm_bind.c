// SPDX-License-Identifier: GPL-2.0
/*
 * tsm_bind - the TSM bind uAPI (docs/uapi.md) on the lab's edu device, as a
 * VMM uses it, and every refusal it documents.
 *
 * The scenario: a KVM VM with a KVM VFIO device holding the edu cdev, the
 * cdev bound to iommufd and attached to a paging HWPT on an IOAS, a vIOMMU
 * with the VM, a vDEVICE; tsm_sw/shared set to two holes; BIND; the layout
 * (VFIO_DEVICE_FEATURE_TSM_LAYOUT and sysfs) is exactly the holes shared and
 * the rest of BAR0 private; the CPU mapping of BAR0 reads the shared pages
 * and raises SIGBUS on the private ones; UNBIND; everything shared again.
 *
 * Around it: the errnos of IOMMU_VIOMMU_ALLOC, IOMMU_VDEVICE_ALLOC,
 * IOMMU_VDEVICE_TSM_OP, the layout feature and tsm_sw/shared; a second VM
 * (EBUSY); destroying a bound vDEVICE and closing a bound device (both
 * unbind); the pci_tsm events of bind, unbind and failed binds, field by
 * field; the fault attributes (EAGAIN, EIO at each TSM step); a fail-nth
 * sweep over the whole bind path; a TDI error the kernel unbinds.
 *
 * edu (1234:11e8) has one memory BAR (BAR0, 1 MiB) and no MSI-X, so the
 * software TSM's "default" makes all of it private. One PASS:/FAIL:/SKIP:
 * line per case; exits 1 when a case failed. TSM_BIND_VERBOSE=1 prints the
 * events each trace case saw.
 */
#include <linux/iommufd.h>
#include <linux/kvm.h>
#include <linux/vfio.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>

#include "lab.h"

#define PAGE		0x1000ULL
#define EDU_ID		0x010000edU	/* edu's register 0x00 */
#define VIRT_ID1	0x500000042ULL	/* TDI id 0x42: the low 32 bits */
#define TDI1		0x42U
#define VIRT_ID2	0x43ULL
#define TDI2		0x43U
#define HOLES		"0:0x2000+0x1000 0:0x10000+0x4000"
#define MAXR		16
#define MAXEV		64
#define TRACING		"/sys/kernel/tracing"

struct range {
	uint64_t off, len;
	uint32_t attr;		/* VFIO_TSM_ATTR_* */
};

/* the shared holes of HOLES, in BAR0 */
static const struct range holes[] = {
	{ 0x2000, 0x1000, VFIO_TSM_ATTR_SHARED },
	{ 0x10000, 0x4000, VFIO_TSM_ATTR_SHARED },
};
#define NHOLES	((int)(sizeof(holes) / sizeof(holes[0])))

struct vm {
	int fd;		/* the KVM VM */
	int vfio_dev;	/* its KVM_DEV_TYPE_VFIO device */
};

static int iommufd = -1, kvmfd = -1, devfd = -1;
static struct vm vm1 = { -1, -1 }, vm2 = { -1, -1 };
static uint32_t ioas_id, dev_id, hwpt_id, viommu1, vdev1;
static char bdf[300], cdev[300], sysdev[340], devstr[32];
static uint64_t bar0_start, bar0_size, bar0_offset;
static uint32_t pci_id;		/* domain << 16 | bus << 8 | devfn */
static char why[512];		/* the first difference a check found */

/* ---- iommufd, KVM and sysfs calls ------------------------------------- */

static int xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

static const char *devattr(const char *attr)
{
	static char path[400];

	snprintf(path, sizeof(path), "%s/%s", sysdev, attr);
	return path;
}

static int shared_set(const char *s)
{
	return lab_write_str(devattr("tsm_sw/shared"), s);
}

static void fail_why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail_why(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
}

static int destroy(uint32_t id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };

	return xioctl(iommufd, IOMMU_DESTROY, &d);
}

/* a vIOMMU on the device and HWPT; with the VM @kvm_fd unless it is < 0 */
static int viommu_alloc(int kvm_fd, uint32_t *out)
{
	struct iommu_viommu_alloc c = {
		.size = sizeof(c), .type = IOMMU_VIOMMU_TYPE_DEFAULT,
		.dev_id = dev_id, .hwpt_id = hwpt_id,
	};
	int ret;

	if (kvm_fd >= 0) {
		c.flags = IOMMU_VIOMMU_ALLOC_FLAG_KVM;
		c.kvm_fd = kvm_fd;
	}
	ret = xioctl(iommufd, IOMMU_VIOMMU_ALLOC, &c);
	*out = c.out_viommu_id;
	return ret;
}

static int vdevice_alloc(uint32_t viommu, uint64_t virt_id, uint32_t *out)
{
	struct iommu_vdevice_alloc c = {
		.size = sizeof(c), .viommu_id = viommu, .dev_id = dev_id, .virt_id = virt_id,
	};
	int ret = xioctl(iommufd, IOMMU_VDEVICE_ALLOC, &c);

	*out = c.out_vdevice_id;
	return ret;
}

static int tsm_op(uint32_t vdev, uint32_t type)
{
	struct iommu_vdevice_tsm_op op = { .size = sizeof(op), .type = type, .vdevice_id = vdev };

	return xioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op);
}

/* a KVM VM (KVM_X86_SW_PROTECTED_VM where KVM has it) and its VFIO device */
static int vm_create(struct vm *vm)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };

	vm->fd = ioctl(kvmfd, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	if (vm->fd < 0 && errno == EINVAL)
		vm->fd = ioctl(kvmfd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return -errno;
	if (ioctl(vm->fd, KVM_CREATE_DEVICE, &cd))
		return -errno;
	vm->vfio_dev = cd.fd;
	return 0;
}

/* KVM_DEV_VFIO_FILE_ADD or _DEL of a VFIO cdev */
static int kvm_vfio_file(struct vm *vm, int fd, uint64_t op)
{
	int32_t f = fd;
	struct kvm_device_attr a = {
		.group = KVM_DEV_VFIO_FILE, .attr = op, .addr = (uintptr_t)&f,
	};

	return xioctl(vm->vfio_dev, KVM_SET_DEVICE_ATTR, &a);
}

/*
 * Open the edu cdev as a VMM does: give it to vm1's KVM VFIO device, bind it
 * to iommufd, attach it to a new paging HWPT on the IOAS. With @report, one
 * result line per step. 0 or -errno.
 */
static int device_open(int report)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_hwpt_alloc hwpt = { .size = sizeof(hwpt) };
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = VFIO_PCI_BAR0_REGION_INDEX };
	const char *step = "open";
	int ret;

	devfd = open(cdev, O_RDWR);
	ret = devfd < 0 ? -errno : 0;
	if (!ret) {
		step = "KVM_DEV_VFIO_FILE_ADD";
		ret = kvm_vfio_file(&vm1, devfd, KVM_DEV_VFIO_FILE_ADD);
		if (report)
			lab_expect(ret, 0, "tsm-kvm-vfio-file-add");
	}
	if (!ret) {
		step = "VFIO_DEVICE_BIND_IOMMUFD";
		ret = xioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind);
		if (report)
			lab_expect(ret, 0, "tsm-vfio-bind-iommufd");
		dev_id = bind.out_devid;
	}
	if (!ret) {
		step = "IOMMU_HWPT_ALLOC";
		hwpt.dev_id = dev_id;
		hwpt.pt_id = ioas_id;
		ret = xioctl(iommufd, IOMMU_HWPT_ALLOC, &hwpt);
		if (report)
			lab_expect(ret, 0, "tsm-hwpt-alloc");
		hwpt_id = hwpt.out_hwpt_id;
	}
	if (!ret) {
		step = "VFIO_DEVICE_ATTACH_IOMMUFD_PT";
		attach.pt_id = hwpt_id;
		ret = xioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach);
		if (report)
			lab_expect(ret, 0, "tsm-attach-hwpt");
	}
	if (!ret) {
		step = "VFIO_DEVICE_GET_REGION_INFO";
		ret = xioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &ri);
		bar0_size = ri.size;
		bar0_offset = ri.offset;
	}
	if (ret)
		fprintf(stderr, "tsm_bind: opening %s: %s: %s\n", cdev, step, strerror(-ret));
	return ret;
}

/* close the device as a VMM does: out of the KVM VFIO device, then close */
static void device_close(void)
{
	kvm_vfio_file(&vm1, devfd, KVM_DEV_VFIO_FILE_DEL);
	close(devfd);
	devfd = -1;
}

/* ---- the layout: VFIO_DEVICE_FEATURE_TSM_LAYOUT and sysfs ------------- */

struct layout_req {
	struct vfio_device_feature hdr;
	struct vfio_device_feature_tsm_layout l;
	struct vfio_tsm_range r[MAXR];
};

/* fill a GET request for @bar with room for @nr ranges (argsz to match) */
static void layout_req_init(struct layout_req *q, uint32_t bar, uint32_t nr)
{
	memset(q, 0, sizeof(*q));
	q->hdr.argsz = sizeof(q->hdr) + sizeof(q->l) + nr * sizeof(q->r[0]);
	q->hdr.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_TSM_LAYOUT;
	q->l.region_index = bar;
	q->l.nr_ranges = nr;
}

static int layout_get(struct layout_req *q, uint32_t bar, uint32_t nr)
{
	layout_req_init(q, bar, nr);
	return xioctl(devfd, VFIO_DEVICE_FEATURE, q);
}

/* BAR0 with @n shared @h holes while bound: alternating maximal ranges */
static int layout_of(const struct range *h, int n, struct range *out)
{
	uint64_t pos = 0;
	int nr = 0, i;

	for (i = 0; i < n; i++) {
		if (h[i].off > pos)
			out[nr++] = (struct range){ pos, h[i].off - pos, VFIO_TSM_ATTR_PRIVATE };
		out[nr++] = (struct range){ h[i].off, h[i].len, VFIO_TSM_ATTR_SHARED };
		pos = h[i].off + h[i].len;
	}
	if (pos < bar0_size)
		out[nr++] = (struct range){ pos, bar0_size - pos, VFIO_TSM_ATTR_PRIVATE };
	return nr;
}

static const char *attr_name(uint32_t attr)
{
	return attr == VFIO_TSM_ATTR_SHARED ? "shared" :
	       attr == VFIO_TSM_ATTR_PRIVATE ? "private" : "?";
}

/* do the @n ranges @got equal @want? (the difference in why) */
static int ranges_equal(const char *what, const struct range *got, int ngot,
			const struct range *want, int n)
{
	int i;

	if (ngot != n) {
		fail_why("%s: %d ranges, want %d", what, ngot, n);
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (got[i].off != want[i].off || got[i].len != want[i].len ||
		    got[i].attr != want[i].attr) {
			fail_why("%s: range %d is %#llx+%#llx %s, want %#llx+%#llx %s", what, i,
				 (unsigned long long)got[i].off, (unsigned long long)got[i].len,
				 attr_name(got[i].attr), (unsigned long long)want[i].off,
				 (unsigned long long)want[i].len, attr_name(want[i].attr));
			return 0;
		}
	}
	return 1;
}

/*
 * Read tsm/layout (edu has BAR0 only). @hex is cleared when a number lacks
 * the 0x of the documented format "BAR 0xOFFSET 0xLENGTH attr".
 */
static int sysfs_layout(struct range *out, int max, int *hex)
{
	char buf[4096], *line, *save = NULL, off[32], len[32], attr[16];
	unsigned int bar;
	int n = 0, ret;

	ret = lab_read_str(devattr("tsm/layout"), buf, sizeof(buf));
	if (ret < 0)
		return ret;
	if (hex)
		*hex = 1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (n == max || sscanf(line, "%u %31s %31s %15s", &bar, off, len, attr) != 4 ||
		    bar != 0)
			return -EPROTO;
		if (hex && (strncmp(off, "0x", 2) || strncmp(len, "0x", 2)))
			*hex = 0;
		out[n].off = strtoull(off, NULL, 0);
		out[n].len = strtoull(len, NULL, 0);
		if (!strcmp(attr, "shared"))
			out[n].attr = VFIO_TSM_ATTR_SHARED;
		else if (!strcmp(attr, "private"))
			out[n].attr = VFIO_TSM_ATTR_PRIVATE;
		else
			return -EPROTO;
		n++;
	}
	return n;
}

static const char *state_names[] = { "CONFIG_UNLOCKED", "CONFIG_LOCKED", "RUN", "ERROR" };

/*
 * Is the device bound with BAR0 laid out as @want (@n ranges) and TDI @tdi,
 * or, with @want NULL, unbound and all shared? Both the feature and sysfs.
 */
static int layout_is(const struct range *want, int n, uint32_t tdi)
{
	struct range unbound = { 0, bar0_size, VFIO_TSM_ATTR_SHARED }, got[MAXR];
	uint32_t state = want ? VFIO_TSM_STATE_RUN : VFIO_TSM_STATE_CONFIG_UNLOCKED;
	struct layout_req q;
	char sstate[32];
	int ret, i, ns;

	if (!want) {
		want = &unbound;
		n = 1;
	}
	ret = layout_get(&q, 0, MAXR);
	if (ret) {
		fail_why("VFIO_DEVICE_FEATURE_TSM_LAYOUT: %s", lab_errname(-ret));
		return 0;
	}
	if (q.l.state != state) {
		fail_why("the feature's state is %u, want %s", q.l.state, state_names[state]);
		return 0;
	}
	if ((q.l.out_flags & VFIO_TSM_LAYOUT_BOUND) != (state == VFIO_TSM_STATE_RUN ?
							 VFIO_TSM_LAYOUT_BOUND : 0)) {
		fail_why("the feature's out_flags are %#x", q.l.out_flags);
		return 0;
	}
	if (state == VFIO_TSM_STATE_RUN && q.l.tdi_id != tdi) {
		fail_why("the feature's tdi_id is %#x, want %#x", q.l.tdi_id, tdi);
		return 0;
	}
	for (i = 0; i < (int)q.l.nr_ranges && i < MAXR; i++)
		got[i] = (struct range){ q.r[i].offset, q.r[i].length, q.r[i].attr };
	if (!ranges_equal("the feature", got, q.l.nr_ranges, want, n))
		return 0;

	ns = sysfs_layout(got, MAXR, NULL);
	if (ns < 0) {
		fail_why("reading tsm/layout: %s", lab_errname(-ns));
		return 0;
	}
	if (!ranges_equal("tsm/layout", got, ns, want, n))
		return 0;
	lab_read_str(devattr("tsm/state"), sstate, sizeof(sstate));
	sstate[strcspn(sstate, "\n")] = 0;
	if (strcmp(sstate, state_names[state])) {
		fail_why("tsm/state is '%s', want %s", sstate, state_names[state]);
		return 0;
	}
	return 1;
}

static int unbound(void)
{
	return layout_is(NULL, 0, 0);
}

/* ---- the CPU mapping of BAR0 ------------------------------------------- */

static volatile uint8_t *bar0_map(void)
{
	void *p = mmap(NULL, bar0_size, PROT_READ, MAP_SHARED, devfd, bar0_offset);

	return p == MAP_FAILED ? NULL : p;
}

/* do the first and last page of each range of @want fault exactly where private? */
static int mapping_follows(volatile uint8_t *map, const struct range *want, int n)
{
	uint64_t page[2];
	uint32_t v;
	int i, j, bus;

	for (i = 0; i < n; i++) {
		page[0] = want[i].off;
		page[1] = want[i].off + want[i].len - PAGE;
		for (j = 0; j < 2; j++) {
			bus = lab_probe32(map + page[j], &v, 0) < 0;
			if (bus != (want[i].attr == VFIO_TSM_ATTR_PRIVATE)) {
				fail_why("BAR0 page %#llx (%s) %s", (unsigned long long)page[j],
					 attr_name(want[i].attr),
					 bus ? "raised SIGBUS" : "was readable");
				return 0;
			}
		}
	}
	return 1;
}

/* ---- tracefs: the pci_tsm events --------------------------------------- */

static char got_ev[MAXEV][192], want_ev[MAXEV][192];
static int ngot, nwant;

/* trace the pci_tsm events of this device only (the filter checks `dev`) */
static int trace_start(void)
{
	char filter[32];
	int fd, ret;

	lab_write_str(TRACING "/events/pci_tsm/enable", "0");
	snprintf(filter, sizeof(filter), "dev == %u", pci_id);
	ret = lab_write_str(TRACING "/events/pci_tsm/filter", filter);
	fd = open(TRACING "/trace", O_WRONLY | O_TRUNC);
	if (fd >= 0)
		close(fd);
	if (!ret)
		ret = lab_write_str(TRACING "/events/pci_tsm/enable", "1");
	nwant = 0;
	return ret;
}

/* stop, and keep each event's "name: fields" in got_ev */
static void trace_stop(void)
{
	char line[512], *ev, *nl;
	FILE *f;

	lab_write_str(TRACING "/events/pci_tsm/enable", "0");
	ngot = 0;
	f = fopen(TRACING "/trace", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && ngot < MAXEV) {
		if (line[0] == '#' || !(ev = strstr(line, ": pci_tsm_")))
			continue;
		ev += 2;
		if ((nl = strchr(ev, '\n')))
			*nl = 0;
		snprintf(got_ev[ngot++], sizeof(got_ev[0]), "%s", ev);
	}
	fclose(f);
	lab_write_str(TRACING "/events/pci_tsm/filter", "0");
}

/* the vm= of the traced event @i, 0 when it has none */
static uint64_t ev_vm(int i)
{
	const char *p = i < ngot ? strstr(got_ev[i], " vm=") : NULL;

	return p ? strtoull(p + 4, NULL, 16) : 0;
}

/* the vm= of the first operation event traced, 0 when there is none */
static uint64_t trace_vm(void)
{
	int i;

	for (i = 0; i < ngot; i++)
		if (ev_vm(i))
			return ev_vm(i);
	return 0;
}

static void want_op(const char *ev, uint32_t tdi, uint64_t vm, const char *reason, int ret)
{
	snprintf(want_ev[nwant++], sizeof(want_ev[0]),
		 "pci_tsm_%s: dev=%s tdi_id=0x%x vm=0x%llx reason=%s ret=%d", ev, devstr, tdi,
		 (unsigned long long)vm, reason, ret);
}

static void want_state(uint32_t tdi, const char *from, const char *to)
{
	snprintf(want_ev[nwant++], sizeof(want_ev[0]), "pci_tsm_tdi_state: dev=%s tdi_id=0x%x %s -> %s",
		 devstr, tdi, from, to);
}

/* one pci_tsm_range per private range of @l */
static void want_ranges(const struct range *l, int n, const char *from, const char *to)
{
	int i;

	for (i = 0; i < n; i++)
		if (l[i].attr == VFIO_TSM_ATTR_PRIVATE)
			snprintf(want_ev[nwant++], sizeof(want_ev[0]),
				 "pci_tsm_range: dev=%s bar=0 pfn=0x%llx npfns=%llu %s -> %s", devstr,
				 (unsigned long long)((bar0_start + l[i].off) >> 12),
				 (unsigned long long)(l[i].len >> 12), from, to);
}

/* the events of a successful bind of @l */
static void want_bind(uint32_t tdi, uint64_t vm, const struct range *l, int n)
{
	want_op("bind_begin", tdi, vm, "USER", 0);
	want_state(tdi, "CONFIG_UNLOCKED", "CONFIG_LOCKED");
	want_ranges(l, n, "SHARED", "PRIVATE");
	want_state(tdi, "CONFIG_LOCKED", "RUN");
	want_op("bind_end", tdi, vm, "USER", 0);
}

/* the events of an unbind of @l, from the TDI state @from */
static void want_unbind(uint32_t tdi, uint64_t vm, const char *reason, const char *from,
			const struct range *l, int n)
{
	want_op("unbind_begin", tdi, vm, reason, 0);
	want_state(tdi, from, "CONFIG_UNLOCKED");
	want_ranges(l, n, "PRIVATE", "SHARED");
	want_op("unbind_end", tdi, vm, reason, 0);
}

/* one result line: the events traced are exactly want_ev */
static int trace_check(const char *name)
{
	int i;

	for (i = 0; getenv("TSM_BIND_VERBOSE") && i < ngot; i++)
		printf("tsm_bind: %s: %s\n", name, got_ev[i]);
	for (i = 0; i < ngot && i < nwant; i++)
		if (strcmp(got_ev[i], want_ev[i]))
			break;
	if (i == ngot && i == nwant)
		return LAB_CHECK(1, name, "");
	return LAB_CHECK(0, name, "%d events, want %d; event %d is '%s', want '%s'", ngot, nwant,
			 i, i < ngot ? got_ev[i] : "(none)", i < nwant ? want_ev[i] : "(none)");
}

/* ---- the cases --------------------------------------------------------- */

/*
 * IOMMU_VIOMMU_ALLOC: every refusal, the minimum size, a trailing zero.
 * Each case changes one field of a valid request (@base).
 */
static void case_viommu_alloc(void)
{
	struct {
		struct iommu_viommu_alloc c;
		uint64_t extra;
	} base = {
		.c = { .size = sizeof(base.c), .flags = IOMMU_VIOMMU_ALLOC_FLAG_KVM,
		       .type = IOMMU_VIOMMU_TYPE_DEFAULT, .dev_id = dev_id, .hwpt_id = hwpt_id,
		       .kvm_fd = vm1.fd },
	}, a;
	uint32_t id;
	int ret, notvm, stdin_fd;

#define TRY(name, want, change) do {						\
		a = base;							\
		change;								\
		ret = xioctl(iommufd, IOMMU_VIOMMU_ALLOC, &a);			\
		if (lab_expect(ret, want, name) && !ret)				\
			destroy(a.c.out_viommu_id);				\
	} while (0)

	TRY("tsm-viommu-size-short", EINVAL, (a.c.size = 20, a.c.flags = 0));
	TRY("tsm-viommu-size-min", 0, (a.c.size = 24, a.c.flags = 0));
	/*
	 * FLAG_KVM with a struct that ends before kvm_fd: the kernel reads
	 * kvm_fd as 0, so make fd 0 a VM: only the size check refuses it.
	 */
	stdin_fd = dup(0);
	dup2(vm1.fd, 0);
	TRY("tsm-viommu-kvm-size-short", EINVAL, a.c.size = 40);
	TRY("tsm-viommu-kvm-size-44", EINVAL, a.c.size = 44);
	dup2(stdin_fd, 0);
	close(stdin_fd);
	TRY("tsm-viommu-trailing-byte", E2BIG, (a.c.size = sizeof(a), a.extra = 1));
	TRY("tsm-viommu-trailing-zero", 0, a.c.size = sizeof(a));
	TRY("tsm-viommu-unknown-flag", EOPNOTSUPP, a.c.flags |= 2);
	TRY("tsm-viommu-unknown-type", EOPNOTSUPP, a.c.type = 1);
	TRY("tsm-viommu-data-len", EINVAL, a.c.data_len = 8);
	TRY("tsm-viommu-reserved", EINVAL, a.c.__reserved = 1);
	TRY("tsm-viommu-data-uptr", EINVAL, a.c.data_uptr = (uintptr_t)&a);
	TRY("tsm-viommu-reserved2", EINVAL, a.c.__reserved2 = 1);
	TRY("tsm-viommu-reserved2-no-kvm", EINVAL, (a.c.flags = 0, a.c.__reserved2 = 1));
	TRY("tsm-viommu-kvm-fd-negative", EBADF, a.c.kvm_fd = -1);
	TRY("tsm-viommu-kvm-fd-closed", EBADF, a.c.kvm_fd = 1000);
	TRY("tsm-viommu-kvm-fd-iommufd", EINVAL, a.c.kvm_fd = iommufd);
	TRY("tsm-viommu-kvm-fd-dev-kvm", EINVAL, a.c.kvm_fd = kvmfd);
	TRY("tsm-viommu-no-kvm-fd-ignored", 0, (a.c.flags = 0, a.c.kvm_fd = -1));
	TRY("tsm-viommu-dev-id-ioas", ENOENT, a.c.dev_id = ioas_id);
	TRY("tsm-viommu-dev-id-unknown", ENOENT, a.c.dev_id = 9999);
	TRY("tsm-viommu-hwpt-id-ioas", ENOENT, a.c.hwpt_id = ioas_id);
	TRY("tsm-viommu-hwpt-id-device", ENOENT, a.c.hwpt_id = dev_id);
	TRY("tsm-viommu-hwpt-id-unknown", ENOENT, a.c.hwpt_id = 9999);
#undef TRY

	/* a regular file is no KVM VM either */
	notvm = open("/proc/self/stat", O_RDONLY);
	a = base;
	a.c.kvm_fd = notvm;
	ret = xioctl(iommufd, IOMMU_VIOMMU_ALLOC, &a);
	if (lab_expect(ret, EINVAL, "tsm-viommu-kvm-fd-file") && !ret)
		destroy(a.c.out_viommu_id);
	close(notvm);

	/* a vIOMMU with vDEVICEs cannot be destroyed; without, it can */
	ret = viommu_alloc(vm1.fd, &id);
	if (!ret) {
		uint32_t v;

		ret = vdevice_alloc(id, 1, &v);
		if (!ret) {
			lab_expect(destroy(id), EBUSY, "tsm-viommu-destroy-with-vdevice");
			destroy(v);
		}
		lab_expect(destroy(id), 0, "tsm-viommu-destroy-empty");
	} else {
		lab_expect(ret, 0, "tsm-viommu-destroy-with-vdevice");
	}
}

/* the KVM debugfs directories of this process's VMs ("PID-FD") */
static int kvm_debugfs_count(void)
{
	char prefix[32];
	struct dirent *de;
	DIR *d = opendir(LAB_DEBUGFS "/kvm");
	int n = 0;

	if (!d)
		return -1;
	snprintf(prefix, sizeof(prefix), "%d-", getpid());
	while ((de = readdir(d)))
		n += !strncmp(de->d_name, prefix, strlen(prefix));
	closedir(d);
	return n;
}

/* The vIOMMU holds its VM: a VM whose fd is closed lives on and binds. */
static void case_viommu_holds_kvm(void)
{
	struct vm vm3;
	uint32_t viommu, vdev;
	int before, ret, i;

	before = kvm_debugfs_count();
	ret = vm_create(&vm3);
	if (!ret)
		ret = viommu_alloc(vm3.fd, &viommu);
	if (!lab_expect(ret, 0, "tsm-viommu-kvm-third-vm"))
		return;
	close(vm3.vfio_dev);
	close(vm3.fd);
	ret = vdevice_alloc(viommu, 0x44, &vdev);
	if (!ret) {
		shared_set(HOLES);
		ret = tsm_op(vdev, IOMMU_VDEVICE_TSM_BIND);
		if (!ret)
			ret = tsm_op(vdev, IOMMU_VDEVICE_TSM_UNBIND);
		destroy(vdev);
	}
	lab_expect(ret, 0, "tsm-viommu-kvm-closed-fd-binds");

	if (before < 0) {
		lab_skip("tsm-viommu-kvm-reference", "no " LAB_DEBUGFS "/kvm");
		destroy(viommu);
		return;
	}
	LAB_CHECK(kvm_debugfs_count() == before + 1, "tsm-viommu-kvm-reference",
		  "the VM's debugfs directory is gone while its vIOMMU lives");
	destroy(viommu);
	/* the last fput of the VM runs as the ioctl returns; allow a little */
	for (i = 0; i < 100 && kvm_debugfs_count() != before; i++)
		usleep(10000);
	LAB_CHECK(kvm_debugfs_count() == before, "tsm-viommu-kvm-released",
		  "the VM outlived its vIOMMU (%d VMs of this process, %d before)",
		  kvm_debugfs_count(), before);
}

static void case_vdevice_alloc(void)
{
	struct {
		struct iommu_vdevice_alloc c;
		uint64_t extra;
	} base = {
		.c = { .size = sizeof(base.c), .viommu_id = viommu1, .dev_id = dev_id,
		       .virt_id = 0x77 },
	}, a;
	uint32_t id;
	int ret;

#define TRY(name, want, change) do {						\
		a = base;							\
		change;								\
		ret = xioctl(iommufd, IOMMU_VDEVICE_ALLOC, &a);			\
		if (lab_expect(ret, want, name) && !ret)				\
			destroy(a.c.out_vdevice_id);				\
	} while (0)

	TRY("tsm-vdevice-size-short", EINVAL, a.c.size = 16);
	TRY("tsm-vdevice-trailing-byte", E2BIG, (a.c.size = sizeof(a), a.extra = 1));
	TRY("tsm-vdevice-trailing-zero", 0, a.c.size = sizeof(a));
	TRY("tsm-vdevice-viommu-id-ioas", ENOENT, a.c.viommu_id = ioas_id);
	TRY("tsm-vdevice-viommu-id-hwpt", ENOENT, a.c.viommu_id = hwpt_id);
	TRY("tsm-vdevice-viommu-id-unknown", ENOENT, a.c.viommu_id = 9999);
	TRY("tsm-vdevice-dev-id-ioas", ENOENT, a.c.dev_id = ioas_id);
	TRY("tsm-vdevice-dev-id-viommu", ENOENT, a.c.dev_id = viommu1);
	TRY("tsm-vdevice-dev-id-unknown", ENOENT, a.c.dev_id = 9999);
	TRY("tsm-vdevice-virt-id-taken", EEXIST, a.c.virt_id = VIRT_ID1);
#undef TRY

	/* the same device, the same virt_id, in another vIOMMU: fine */
	ret = viommu_alloc(vm1.fd, &id);
	if (!ret) {
		uint32_t v;

		ret = vdevice_alloc(id, VIRT_ID1, &v);
		if (!ret)
			destroy(v);
		destroy(id);
	}
	lab_expect(ret, 0, "tsm-vdevice-virt-id-other-viommu");
}

static void case_tsm_op_errnos(void)
{
	struct {
		struct iommu_vdevice_tsm_op c;
		uint64_t extra;
	} base = {
		.c = { .size = sizeof(base.c), .type = IOMMU_VDEVICE_TSM_UNBIND,
		       .vdevice_id = vdev1 },
	}, a;
	uint32_t viommu, vdev;
	int ret;

#define TRY(name, want, change) do {						\
		a = base;							\
		change;								\
		ret = xioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &a);		\
		lab_expect(ret, want, name);					\
	} while (0)

	TRY("tsm-op-size-short", EINVAL, a.c.size = 12);
	TRY("tsm-op-trailing-byte", E2BIG, (a.c.size = sizeof(a), a.extra = 1));
	/* a trailing zero is accepted: the UNBIND itself fails, not bound */
	TRY("tsm-op-trailing-zero", EINVAL, a.c.size = sizeof(a));
	TRY("tsm-op-unknown-flag", EOPNOTSUPP, a.c.flags = 1);
	TRY("tsm-op-type-0", EOPNOTSUPP, a.c.type = 0);
	TRY("tsm-op-type-3", EOPNOTSUPP, a.c.type = 3);
	TRY("tsm-op-vdevice-id-ioas", ENOENT, (a.c.type = IOMMU_VDEVICE_TSM_BIND,
					       a.c.vdevice_id = ioas_id));
	TRY("tsm-op-vdevice-id-viommu", ENOENT, (a.c.type = IOMMU_VDEVICE_TSM_BIND,
						 a.c.vdevice_id = viommu1));
	TRY("tsm-op-vdevice-id-device", ENOENT, (a.c.type = IOMMU_VDEVICE_TSM_BIND,
						 a.c.vdevice_id = dev_id));
	TRY("tsm-op-vdevice-id-zero", ENOENT, (a.c.type = IOMMU_VDEVICE_TSM_BIND,
					       a.c.vdevice_id = 0));
	TRY("tsm-unbind-not-bound", EINVAL, );
#undef TRY

	/* BIND through a vIOMMU without a VM */
	ret = viommu_alloc(-1, &viommu);
	if (!ret && !(ret = vdevice_alloc(viommu, 0x45, &vdev))) {
		lab_expect(tsm_op(vdev, IOMMU_VDEVICE_TSM_BIND), EINVAL, "tsm-bind-viommu-without-kvm");
		destroy(vdev);
	} else {
		LAB_CHECK(0, "tsm-bind-viommu-without-kvm", "a vIOMMU and vDEVICE without a VM: %s",
			  lab_errname(-ret));
	}
	destroy(viommu);
	LAB_CHECK(unbound(), "tsm-op-refusals-leave-unbound", "%s", why);
	lab_skip("tsm-bind-enodev-unclaimed",
		 "every VFIO device of the lab is a PCI device the software TSM claims");
}

static void case_layout_feature_errnos(void)
{
	struct layout_req q;
	struct range got;
	int ret;

	ret = layout_get(&q, 0, MAXR);
	got = (struct range){ q.r[0].offset, q.r[0].length, q.r[0].attr };
	LAB_CHECK(ret == 0 && q.l.state == VFIO_TSM_STATE_CONFIG_UNLOCKED && q.l.out_flags == 0 &&
		  q.l.nr_ranges == 1 && got.off == 0 && got.len == bar0_size &&
		  got.attr == VFIO_TSM_ATTR_SHARED && q.l.tdi_id == 0, "tsm-layout-unbound",
		  "%s, state %u, out_flags %#x, tdi_id %#x, %u ranges, first %#llx+%#llx %s",
		  lab_errname(-ret), q.l.state, q.l.out_flags, q.l.tdi_id, q.l.nr_ranges,
		  (unsigned long long)got.off, (unsigned long long)got.len, attr_name(got.attr));

	layout_req_init(&q, 0, MAXR);
	q.hdr.flags |= VFIO_DEVICE_FEATURE_PROBE;
	lab_expect(xioctl(devfd, VFIO_DEVICE_FEATURE, &q), 0, "tsm-layout-probe");
	layout_req_init(&q, 0, MAXR);
	q.hdr.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_TSM_LAYOUT;
	lab_expect(xioctl(devfd, VFIO_DEVICE_FEATURE, &q), EINVAL, "tsm-layout-set");
	layout_req_init(&q, 0, MAXR);
	q.hdr.flags = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
		      VFIO_DEVICE_FEATURE_TSM_LAYOUT;
	lab_expect(xioctl(devfd, VFIO_DEVICE_FEATURE, &q), EINVAL, "tsm-layout-probe-set");

	lab_expect(layout_get(&q, 6, MAXR), EINVAL, "tsm-layout-region-6");
	lab_expect(layout_get(&q, 1, MAXR), EINVAL, "tsm-layout-region-not-a-bar");
	lab_expect(layout_get(&q, VFIO_PCI_CONFIG_REGION_INDEX, MAXR), EINVAL,
	       "tsm-layout-region-config");
	layout_req_init(&q, 0, MAXR);
	q.l.flags = 1;
	lab_expect(xioctl(devfd, VFIO_DEVICE_FEATURE, &q), EINVAL, "tsm-layout-flags");
	layout_req_init(&q, 0, 0);
	q.hdr.argsz -= 1;
	lab_expect(xioctl(devfd, VFIO_DEVICE_FEATURE, &q), EINVAL, "tsm-layout-argsz-header");
	layout_req_init(&q, 0, 3);
	q.l.nr_ranges = 4;
	lab_expect(xioctl(devfd, VFIO_DEVICE_FEATURE, &q), EINVAL, "tsm-layout-argsz-ranges");

	layout_req_init(&q, 0, 0);
	memset(q.r, 0xa5, sizeof(q.r));
	ret = xioctl(devfd, VFIO_DEVICE_FEATURE, &q);
	LAB_CHECK(ret == -ENOSPC && q.l.nr_ranges == 1 && q.r[0].offset == 0xa5a5a5a5a5a5a5a5ULL,
		  "tsm-layout-enospc-unbound", "%s, nr_ranges %u, ranges[0].offset %#llx",
		  lab_errname(-ret), q.l.nr_ranges, (unsigned long long)q.r[0].offset);
}

/* ivshmem's BAR0 is a memory BAR smaller than a page: no layout for it */
static void case_layout_small_bar(void)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };
	char ibdf[300], icdev[300];
	struct layout_req q;
	int fd, saved = devfd, ret;

	if (lab_find_vfio_dev(0x1af4, 0x1110, ibdf, sizeof(ibdf), icdev, sizeof(icdev))) {
		lab_skip("tsm-layout-region-below-page", "no ivshmem on vfio-pci");
		return;
	}
	fd = open(icdev, O_RDWR);
	ret = fd < 0 ? -errno : xioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind);
	if (!lab_expect(ret, 0, "tsm-layout-ivshmem-open"))
		goto out;
	devfd = fd;
	lab_expect(layout_get(&q, 0, MAXR), EINVAL, "tsm-layout-region-below-page");
	ret = layout_get(&q, 2, MAXR);
	LAB_CHECK(ret == 0 && q.l.nr_ranges == 1 && q.r[0].offset == 0 && q.r[0].length >= (1ULL << 30) &&
		  q.r[0].attr == VFIO_TSM_ATTR_SHARED, "tsm-layout-ivshmem-bar2-unbound",
		  "%s, %u ranges, first %#llx+%#llx", lab_errname(-ret), q.l.nr_ranges,
		  (unsigned long long)q.r[0].offset, (unsigned long long)q.r[0].length);
	devfd = saved;
out:
	if (fd >= 0)
		close(fd);
}

/* the set of holes tsm_sw/shared reads back, as (bar, off, len) triples */
static int shared_get(uint64_t *v, int max)
{
	char buf[1024], *tok, *save = NULL, *p;
	int n = 0;

	if (lab_read_str(devattr("tsm_sw/shared"), buf, sizeof(buf)) < 0)
		return -1;
	for (tok = strtok_r(buf, " \n", &save); tok && n + 3 <= max;
	     tok = strtok_r(NULL, " \n", &save)) {
		v[n++] = strtoull(tok, &p, 0);
		if (*p != ':')
			return -1;
		v[n++] = strtoull(p + 1, &p, 0);
		if (*p != '+')
			return -1;
		v[n++] = strtoull(p + 1, &p, 0);
		if (*p)
			return -1;
	}
	return n / 3;
}

static int shared_reads(const char *want)
{
	char buf[1024];

	lab_read_str(devattr("tsm_sw/shared"), buf, sizeof(buf));
	buf[strcspn(buf, "\n")] = 0;
	if (strcmp(buf, want))
		fail_why("tsm_sw/shared reads '%s', want '%s'", buf, want);
	return !strcmp(buf, want);
}

static void case_sysfs_shared(void)
{
	static const struct {
		const char *name, *val;
	} bad[] = {
		{ "tsm-sw-shared-syntax", "garbage" },
		{ "tsm-sw-shared-no-length", "0:0x2000" },
		{ "tsm-sw-shared-no-offset", "0+0x1000" },
		{ "tsm-sw-shared-trailing-junk", "0:0x2000+0x1000x" },
		{ "tsm-sw-shared-unaligned-offset", "0:0x2001+0x1000" },
		{ "tsm-sw-shared-unaligned-length", "0:0x2000+0x800" },
		{ "tsm-sw-shared-zero-length", "0:0x2000+0" },
		{ "tsm-sw-shared-past-bar", "0:0xff000+0x2000" },
		{ "tsm-sw-shared-wraps", "0:0xfffffffffffff000+0x2000" },
		{ "tsm-sw-shared-not-a-bar", "1:0+0x1000" },
		{ "tsm-sw-shared-bar-6", "6:0+0x1000" },
		{ "tsm-sw-shared-overlap", "0:0x1000+0x2000 0:0x2000+0x1000" },
		{ "tsm-sw-shared-duplicate", "0:0x1000+0x1000 0:0x1000+0x1000" },
	};
	uint64_t v[12];
	size_t i;
	int n;

	lab_expect(shared_set(HOLES), 0, "tsm-sw-shared-write");
	n = shared_get(v, 12);
	LAB_CHECK(n == 2 && v[0] == 0 && v[1] == 0x2000 && v[2] == 0x1000 && v[3] == 0 &&
		  v[4] == 0x10000 && v[5] == 0x4000, "tsm-sw-shared-read",
		  "tsm_sw/shared does not read back the holes written (%d holes)", n);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		lab_expect(shared_set(bad[i].val), EINVAL, bad[i].name);
	n = shared_get(v, 12);
	LAB_CHECK(n == 2 && v[1] == 0x2000 && v[4] == 0x10000, "tsm-sw-shared-unchanged-by-errors",
		  "a refused write changed the setting (%d holes)", n);

	/* unsorted and decimal: the same holes */
	lab_expect(shared_set("0:65536+16384 0:8192+4096"), 0, "tsm-sw-shared-decimal-unsorted");
	n = shared_get(v, 12);
	LAB_CHECK(n == 2 && v[1] == 0x2000 && v[2] == 0x1000 && v[4] == 0x10000 && v[5] == 0x4000,
		  "tsm-sw-shared-decimal-read", "%d holes read back", n);
	/* adjacent holes do not overlap */
	lab_expect(shared_set("0:0x1000+0x1000 0:0x2000+0x1000"), 0, "tsm-sw-shared-adjacent");

	n = shared_set("none");
	LAB_CHECK(n == 0 && shared_reads("none"), "tsm-sw-shared-none", "write %s; %s",
		  lab_errname(-n), why);
	n = shared_set("default");
	LAB_CHECK(n == 0 && shared_reads("default"), "tsm-sw-shared-default", "write %s; %s",
		  lab_errname(-n), why);
	shared_set(HOLES);
}

/*
 * The scenario: bind with two shared holes, the layout through the feature
 * and sysfs, the CPU mapping, the refusals while bound, unbind.
 */
static void case_bind(void)
{
	struct range want[MAXR];
	struct layout_req q;
	volatile uint8_t *before, *after = NULL;
	uint32_t v = 0;
	int n = layout_of(holes, NHOLES, want), ret, hex = 0;

	shared_set(HOLES);
	before = bar0_map();
	LAB_CHECK(before && lab_probe32(before, &v, 0) == 0 && v == EDU_ID, "tsm-mmap-unbound",
		  "BAR0 mapping: %s, id register %#x", before ? "SIGBUS" : strerror(errno), v);

	ret = tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND);
	if (!lab_expect(ret, 0, "tsm-bind"))
		return;
	LAB_CHECK(layout_is(want, n, TDI1), "tsm-bind-layout", "%s", why);
	{
		struct range got[MAXR];
		int ns = sysfs_layout(got, MAXR, &hex);

		LAB_CHECK(ns > 0 && hex, "tsm-sysfs-layout-hex",
			  "tsm/layout numbers lack the 0x of 'BAR 0xOFFSET 0xLENGTH attr'");
	}

	LAB_CHECK(before && mapping_follows(before, want, n), "tsm-mmap-zapped-at-bind", "%s", why);
	after = bar0_map();
	LAB_CHECK(after && mapping_follows(after, want, n), "tsm-mmap-while-bound", "%s",
		  after ? why : strerror(errno));

	lab_expect(tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND), EALREADY, "tsm-bind-twice");
	lab_expect(shared_set("none"), EBUSY, "tsm-sw-shared-busy");
	lab_expect(shared_set(HOLES), EBUSY, "tsm-sw-shared-busy-same");

	layout_req_init(&q, 0, 2);
	memset(q.r, 0xa5, sizeof(q.r));
	ret = xioctl(devfd, VFIO_DEVICE_FEATURE, &q);
	LAB_CHECK(ret == -ENOSPC && (int)q.l.nr_ranges == n && q.r[0].offset == 0xa5a5a5a5a5a5a5a5ULL &&
		  q.r[1].length == 0xa5a5a5a5a5a5a5a5ULL, "tsm-layout-enospc-bound",
		  "%s, nr_ranges %u (want %d), ranges touched: %s", lab_errname(-ret), q.l.nr_ranges,
		  n, q.r[0].offset == 0xa5a5a5a5a5a5a5a5ULL ? "no" : "yes");
	ret = layout_get(&q, 0, n);
	LAB_CHECK(ret == 0 && (int)q.l.nr_ranges == n, "tsm-layout-exact-room",
		  "%s, nr_ranges %u", lab_errname(-ret), q.l.nr_ranges);

	lab_expect(tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND), 0, "tsm-unbind");
	LAB_CHECK(unbound(), "tsm-unbind-layout", "%s", why);
	v = 0;
	LAB_CHECK(before && lab_probe32(before, &v, 0) == 0 && v == EDU_ID, "tsm-mmap-after-unbind",
		  "the mapping from before the bind: %s, id %#x", v ? "read" : "SIGBUS", v);
	lab_expect(tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND), EINVAL, "tsm-unbind-twice");
	if (before)
		munmap((void *)before, bar0_size);
	if (after)
		munmap((void *)after, bar0_size);
}

/* "default" (edu has no MSI-X) and "none": the whole BAR private */
static void case_all_private(void)
{
	struct range all = { 0, bar0_size, VFIO_TSM_ATTR_PRIVATE };
	const char *cfg[] = { "default", "none" };
	char name[64];
	int i, ret;

	for (i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "tsm-bind-%s-all-private", cfg[i]);
		ret = shared_set(cfg[i]);
		if (!ret)
			ret = tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND);
		if (!lab_expect(ret, 0, name))
			continue;
		strcat(name, "-layout");
		LAB_CHECK(layout_is(&all, 1, TDI1), name, "%s", why);
		tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND);
	}
	shared_set(HOLES);
}

/* The events of one bind and one unbind, field by field. */
static void case_trace(void)
{
	struct range want[MAXR];
	int n = layout_of(holes, NHOLES, want), ret;
	uint64_t vm;

	shared_set(HOLES);
	if (!lab_expect(trace_start(), 0, "tsm-trace-enable"))
		return;
	ret = tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND);
	if (!ret)
		ret = tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND);
	trace_stop();
	if (!lab_expect(ret, 0, "tsm-trace-bind-unbind"))
		return;
	vm = trace_vm();
	LAB_CHECK(vm != 0, "tsm-trace-vm", "no non-zero vm= in the trace");
	want_bind(TDI1, vm, want, n);
	want_unbind(TDI1, vm, "USER", "RUN", want, n);
	trace_check("tsm-trace-bind-unbind-sequence");
}

/*
 * A second VM sees the device through its own vIOMMU and vDEVICE: it cannot
 * bind while the first has it bound, can once it is unbound.
 */
static void case_second_vm(void)
{
	struct range want[MAXR];
	int n = layout_of(holes, NHOLES, want), ret;
	uint32_t viommu2, vdev2, other;
	uint64_t vma, vmb;

	ret = viommu_alloc(vm2.fd, &viommu2);
	if (!ret)
		ret = vdevice_alloc(viommu2, VIRT_ID2, &vdev2);
	if (!lab_expect(ret, 0, "tsm-second-vm-vdevice"))
		return;
	shared_set(HOLES);
	if (!lab_expect(tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND), 0, "tsm-second-vm-first-binds"))
		goto out;

	trace_start();
	ret = tsm_op(vdev2, IOMMU_VDEVICE_TSM_BIND);
	lab_expect(ret, EBUSY, "tsm-bind-other-vm-busy");
	ret = tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND);
	lab_expect(ret, EALREADY, "tsm-bind-same-vm-already");
	trace_stop();
	vmb = trace_vm();
	vma = ev_vm(2);
	LAB_CHECK(vma && vmb && vma != vmb, "tsm-trace-vm-per-vm",
		  "the two VMs' binds carry vm=%#llx and vm=%#llx", (unsigned long long)vmb,
		  (unsigned long long)vma);
	want_op("bind_begin", TDI2, vmb, "USER", 0);
	want_op("bind_end", TDI2, vmb, "USER", -EBUSY);
	want_op("bind_begin", TDI1, vma, "USER", 0);
	want_op("bind_end", TDI1, vma, "USER", -EALREADY);
	trace_check("tsm-trace-refused-binds");

	/* another vDEVICE in the same vIOMMU is another binder too */
	ret = vdevice_alloc(viommu1, 0x46, &other);
	if (!ret) {
		ret = tsm_op(other, IOMMU_VDEVICE_TSM_BIND);
		destroy(other);
	}
	lab_expect(ret, EBUSY, "tsm-bind-other-vdevice-busy");
	lab_expect(tsm_op(vdev2, IOMMU_VDEVICE_TSM_UNBIND), EINVAL, "tsm-unbind-other-vm");
	LAB_CHECK(layout_is(want, n, TDI1), "tsm-second-vm-leaves-first-bound", "%s", why);

	lab_expect(tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND), 0, "tsm-second-vm-first-unbinds");
	ret = tsm_op(vdev2, IOMMU_VDEVICE_TSM_BIND);
	if (lab_expect(ret, 0, "tsm-bind-second-vm")) {
		LAB_CHECK(layout_is(want, n, TDI2), "tsm-bind-second-vm-tdi-id", "%s", why);
		lab_expect(tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND), EINVAL, "tsm-unbind-first-vm-not-bound");
		lab_expect(tsm_op(vdev2, IOMMU_VDEVICE_TSM_UNBIND), 0, "tsm-unbind-second-vm");
	}
out:
	lab_expect(destroy(viommu2), EBUSY, "tsm-destroy-viommu-with-vdevice");
	lab_expect(destroy(vdev2), 0, "tsm-destroy-vdevice");
	lab_expect(destroy(viommu2), 0, "tsm-destroy-viommu");
}

/* Destroying a bound vDEVICE unbinds it (reason DESTROY). */
static void case_destroy_bound(void)
{
	struct range want[MAXR];
	int n = layout_of(holes, NHOLES, want), ret;
	uint32_t vdev;

	shared_set(HOLES);
	ret = vdevice_alloc(viommu1, 0x47, &vdev);
	if (!ret)
		ret = tsm_op(vdev, IOMMU_VDEVICE_TSM_BIND);
	if (!lab_expect(ret, 0, "tsm-destroy-bound-setup"))
		return;
	trace_start();
	ret = destroy(vdev);
	trace_stop();
	lab_expect(ret, 0, "tsm-destroy-bound-vdevice");
	LAB_CHECK(unbound(), "tsm-destroy-bound-unbinds", "%s", why);
	want_unbind(0x47, trace_vm(), "DESTROY", "RUN", want, n);
	trace_check("tsm-trace-destroy-unbind");
	lab_expect(tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND), 0, "tsm-destroy-bound-rebind");
	tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND);
}

/* the fault attributes, one at a time, with their events */
static void case_fault_attrs(void)
{
	struct range want[MAXR];
	int n = layout_of(holes, NHOLES, want), ret;
	uint64_t vm;

	shared_set(HOLES);
	/* VFIO cannot revoke its mappings: EAGAIN, after the lock */
	if (!lab_expect(lab_fault_arm("fail_vfio_pci_tsm", 1, 0), 0, "tsm-fault-vfio-arm"))
		return;
	trace_start();
	ret = tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND);
	trace_stop();
	lab_fault_arm("fail_vfio_pci_tsm", 0, 0);
	lab_expect(ret, EAGAIN, "tsm-bind-revoke-fails-eagain");
	LAB_CHECK(unbound(), "tsm-bind-eagain-unwound", "%s", why);
	vm = trace_vm();
	want_op("bind_begin", TDI1, vm, "USER", 0);
	want_state(TDI1, "CONFIG_UNLOCKED", "CONFIG_LOCKED");
	want_state(TDI1, "CONFIG_LOCKED", "CONFIG_UNLOCKED");
	want_op("bind_end", TDI1, vm, "USER", -EAGAIN);
	trace_check("tsm-trace-bind-eagain");

	/* the TSM fails to lock the interface: EIO, nothing changed */
	lab_fault_arm("fail_pci_tsm_sw", 1, 0);
	trace_start();
	ret = tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND);
	trace_stop();
	lab_fault_arm("fail_pci_tsm_sw", 0, 0);
	lab_expect(ret, EIO, "tsm-bind-lock-fails-eio");
	LAB_CHECK(unbound(), "tsm-bind-lock-eio-unwound", "%s", why);
	want_op("bind_begin", TDI1, vm, "USER", 0);
	want_op("bind_end", TDI1, vm, "USER", -EIO);
	trace_check("tsm-trace-bind-lock-eio");

	/* the interface report fails (the second check) */
	lab_fault_arm("fail_pci_tsm_sw", 1, 2);
	ret = tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND);
	lab_fault_arm("fail_pci_tsm_sw", 0, 0);
	lab_expect(ret, EIO, "tsm-bind-report-fails-eio");
	LAB_CHECK(unbound(), "tsm-bind-report-eio-unwound", "%s", why);

	/* the start fails (the third check): the private ranges are reverted */
	lab_fault_arm("fail_pci_tsm_sw", 1, 3);
	trace_start();
	ret = tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND);
	trace_stop();
	lab_fault_arm("fail_pci_tsm_sw", 0, 0);
	lab_expect(ret, EIO, "tsm-bind-start-fails-eio");
	LAB_CHECK(unbound(), "tsm-bind-start-eio-unwound", "%s", why);
	want_op("bind_begin", TDI1, vm, "USER", 0);
	want_state(TDI1, "CONFIG_UNLOCKED", "CONFIG_LOCKED");
	want_ranges(want, n, "SHARED", "PRIVATE");
	want_ranges(want, n, "PRIVATE", "SHARED");
	want_state(TDI1, "CONFIG_LOCKED", "CONFIG_UNLOCKED");
	want_op("bind_end", TDI1, vm, "USER", -EIO);
	trace_check("tsm-trace-bind-start-eio");

	ret = tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND);
	if (lab_expect(ret, 0, "tsm-bind-after-faults"))
		LAB_CHECK(layout_is(want, n, TDI1), "tsm-bind-after-faults-layout", "%s", why);
	tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND);
}

/*
 * fail-nth over the BIND ioctl: every should_fail() point of the bind path
 * fails once, in turn: iommufd's lookup of the vDEVICE (fail_iommufd, with
 * CONFIG_IOMMUFD_TEST: ENOENT), the software TSM's steps (EIO), VFIO's
 * revocation (EAGAIN), slab allocations (ENOMEM, or the TSM's EIO). After
 * each failed bind the device must be unbound and all shared, and a bind
 * must work again.
 */
static void case_fail_nth(void)
{
	struct iommu_vdevice_tsm_op bind = {
		.size = sizeof(bind), .type = IOMMU_VDEVICE_TSM_BIND, .vdevice_id = vdev1,
	};
	char errs[256] = "", order[512] = "", bad[1024] = "";
	int counts[160] = { 0 }, nth, points = 0, tolerated = 0, ended = 0, ret, err, i;
	struct lab_fail_nth fail;
	struct range want[MAXR];
	int n = layout_of(holes, NHOLES, want);
	unsigned long left;

	shared_set(HOLES);
	ret = lab_fail_nth_begin(&fail);
	if (!LAB_CHECK(ret == 0, "tsm-fail-nth-open", "/proc/thread-self/fail-nth: %s",
		       strerror(-ret)))
		return;

	for (nth = 1; nth <= 500 && !ended; nth++) {
		if (lab_fail_nth_set(&fail, nth))
			break;
		ret = ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &bind);
		err = errno;
		left = lab_fail_nth_clear(&fail);

		if (!ret) {
			/* not reached: the whole bind ran with nothing failed */
			ended = left != 0;
			tolerated += !ended;
			if (!ended && !layout_is(want, n, TDI1) && !bad[0])
				snprintf(bad, sizeof(bad), "nth %d: bound after a tolerated failure: %s",
					 nth, why);
			tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND);
			continue;
		}
		points++;
		counts[err < 160 ? err : 0]++;
		snprintf(order + strlen(order), sizeof(order) - strlen(order), " %s",
			 lab_errname(err));
		if (err != ENOENT && err != EIO && err != ENOMEM && err != EAGAIN && !bad[0])
			snprintf(bad, sizeof(bad), "nth %d: BIND failed with %s", nth,
				 lab_errname(err));
		if (!unbound() && !bad[0])
			snprintf(bad, sizeof(bad), "nth %d (%s): not unwound: %s", nth,
				 lab_errname(err), why);
		ret = tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND);
		if (ret && !bad[0])
			snprintf(bad, sizeof(bad), "nth %d (%s): the next bind failed: %s", nth,
				 lab_errname(err), lab_errname(-ret));
		tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND);
	}
	lab_fail_nth_end(&fail);

	for (i = 0; i < 160; i++)
		if (counts[i])
			snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs), "%s%s x%d",
				 errs[0] ? ", " : "", i ? lab_errname(i) : "other", counts[i]);
	printf("tsm_bind: fail-nth sweep of BIND: %d failure points (%s; in order:%s), "
	       "%d tolerated, ended at nth %d\n", points, errs[0] ? errs : "none", order,
	       tolerated, nth - 1);
	LAB_CHECK(ended, "tsm-fail-nth-sweep-ends", "BIND still reached fail-nth %d", nth - 1);
	LAB_CHECK(points >= 4 && counts[EIO] >= 3 && counts[EAGAIN] >= 1, "tsm-fail-nth-points",
		  "%d failure points (%s): want at least the three TSM steps and VFIO's revocation",
		  points, errs);
	LAB_CHECK(!bad[0], "tsm-fail-nth-unwound", "%s", bad);
	LAB_CHECK(unbound(), "tsm-fail-nth-ends-unbound", "%s", why);
}

/* A TDI error while bound: the kernel unbinds it (reason ERROR). */
static void case_tdi_error(void)
{
	struct range want[MAXR];
	int n = layout_of(holes, NHOLES, want), ret, i;
	struct layout_req q = { 0 };
	uint64_t vm;

	shared_set(HOLES);
	if (!lab_expect(tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND), 0, "tsm-tdi-error-bind"))
		return;
	trace_start();
	if (!lab_expect(lab_fault_arm("fail_pci_tsm_sw_tdi_error", 1, 0), 0, "tsm-tdi-error-arm")) {
		trace_stop();
		tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND);
		return;
	}
	/* polled every 10 ms; TCG is slow: up to 10 s */
	for (i = 0; i < 500; i++) {
		if (layout_get(&q, 0, MAXR) == 0 && !(q.l.out_flags & VFIO_TSM_LAYOUT_BOUND))
			break;
		usleep(20000);
	}
	lab_fault_arm("fail_pci_tsm_sw_tdi_error", 0, 0);
	trace_stop();
	if (!LAB_CHECK(i < 500, "tsm-tdi-error-unbinds", "still bound 10 s after the TDI error")) {
		tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND);
		return;
	}
	LAB_CHECK(q.l.out_flags == VFIO_TSM_LAYOUT_ERROR_UNBOUND, "tsm-tdi-error-out-flags",
		  "out_flags %#x, want ERROR_UNBOUND only", q.l.out_flags);
	LAB_CHECK(unbound(), "tsm-tdi-error-layout", "%s", why);
	lab_expect(tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND), EINVAL, "tsm-tdi-error-unbind-einval");
	vm = trace_vm();
	want_state(TDI1, "RUN", "ERROR");
	want_unbind(TDI1, vm, "ERROR", "ERROR", want, n);
	trace_check("tsm-trace-tdi-error");

	ret = tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND);
	if (lab_expect(ret, 0, "tsm-tdi-error-rebind")) {
		layout_get(&q, 0, MAXR);
		LAB_CHECK(q.l.out_flags == VFIO_TSM_LAYOUT_BOUND, "tsm-tdi-error-flag-cleared",
			  "out_flags %#x after the next bind", q.l.out_flags);
		tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND);
	}
}

/* Closing the bound VFIO device unbinds it (reason RELEASE). Last case. */
static void case_close_bound(void)
{
	struct range want[MAXR];
	int n = layout_of(holes, NHOLES, want), ret;
	char state[32];

	shared_set(HOLES);
	if (!lab_expect(tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND), 0, "tsm-close-bound-bind"))
		return;
	trace_start();
	device_close();
	trace_stop();
	lab_read_str(devattr("tsm/state"), state, sizeof(state));
	state[strcspn(state, "\n")] = 0;
	LAB_CHECK(!strcmp(state, "CONFIG_UNLOCKED"), "tsm-close-bound-unbinds",
		  "tsm/state is %s after the device was closed", state);
	want_unbind(TDI1, trace_vm(), "RELEASE", "RUN", want, n);
	trace_check("tsm-trace-close-unbind");
	lab_expect(tsm_op(vdev1, IOMMU_VDEVICE_TSM_BIND), ENODEV, "tsm-bind-closed-device-enodev");
	lab_expect(tsm_op(vdev1, IOMMU_VDEVICE_TSM_UNBIND), ENODEV, "tsm-unbind-closed-device-enodev");
	lab_expect(destroy(vdev1), 0, "tsm-destroy-vdevice-of-closed-device");

	ret = device_open(0);
	if (lab_expect(ret, 0, "tsm-reopen")) {
		LAB_CHECK(unbound(), "tsm-reopen-unbound", "%s", why);
		device_close();
	}
}

/* ---- main --------------------------------------------------------------- */

/* the device, its sysfs directory, BAR0's address and its trace id */
static int find_device(void)
{
	unsigned int dom, bus, slot, fn;
	char res[256];
	int ret;

	ret = lab_find_vfio_dev(0x1234, 0x11e8, bdf, sizeof(bdf), cdev, sizeof(cdev));
	if (!LAB_CHECK(ret == 0, "tsm-edu-vfio-cdev", "edu device or its vfio cdev: %s",
		       strerror(-ret)))
		return -1;
	snprintf(sysdev, sizeof(sysdev), "/sys/bus/pci/devices/%s", bdf);
	if (sscanf(bdf, "%x:%x:%x.%u", &dom, &bus, &slot, &fn) != 4)
		return -1;
	pci_id = dom << 16 | bus << 8 | slot << 3 | fn;
	snprintf(devstr, sizeof(devstr), "%04x:%02x:%02x.%u", dom, bus, slot, fn);
	lab_read_str(devattr("resource"), res, sizeof(res));
	bar0_start = strtoull(res, NULL, 0);
	if (!LAB_CHECK(access(devattr("tsm/state"), R_OK) == 0 &&
		       access(devattr("tsm_sw/shared"), W_OK) == 0, "tsm-sysfs",
		       "%s has no tsm/state or tsm_sw/shared", sysdev))
		return -1;
	return 0;
}

int main(void)
{
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	lab_catch_sigbus();
	if (find_device())
		return 1;

	iommufd = open("/dev/iommu", O_RDWR);
	kvmfd = open("/dev/kvm", O_RDWR);
	if (!LAB_CHECK(iommufd >= 0 && kvmfd >= 0, "tsm-open", "/dev/iommu, /dev/kvm: %s",
		       strerror(errno)))
		return 1;
	ret = vm_create(&vm1);
	if (!ret)
		ret = vm_create(&vm2);
	if (!lab_expect(ret, 0, "tsm-kvm-vms"))
		return 1;
	ret = xioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas);
	ioas_id = ioas.out_ioas_id;
	if (!lab_expect(ret, 0, "tsm-ioas-alloc") || device_open(1))
		return 1;
	ret = viommu_alloc(vm1.fd, &viommu1);
	if (!lab_expect(ret, 0, "tsm-viommu-alloc-kvm"))
		return 1;
	ret = vdevice_alloc(viommu1, VIRT_ID1, &vdev1);
	if (!lab_expect(ret, 0, "tsm-vdevice-alloc"))
		return 1;
	/* a device left bound by an earlier run would fail everything below */
	if (!LAB_CHECK(unbound(), "tsm-starts-unbound", "%s", why))
		return 1;

	case_viommu_alloc();
	case_viommu_holds_kvm();
	case_vdevice_alloc();
	case_tsm_op_errnos();
	case_layout_feature_errnos();
	case_layout_small_bar();
	case_sysfs_shared();
	case_bind();
	case_all_private();
	case_trace();
	case_second_vm();
	case_destroy_bound();
	case_fault_attrs();
	case_fail_nth();
	case_tdi_error();
	case_close_bound();

	shared_set("default");
	close(iommufd);
	close(vm1.vfio_dev);
	close(vm1.fd);
	close(vm2.vfio_dev);
	close(vm2.fd);
	close(kvmfd);
	return lab_failed;
}
