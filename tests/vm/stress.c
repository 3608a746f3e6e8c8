// SPDX-License-Identifier: GPL-2.0
/*
 * stress - two threads at once on the same device, IOAS and VM, in every
 * pairing of the operations that share an object, on the lab's ivshmem
 * (BAR2: 4 GiB, its first 2 MiB kept shared when bound).
 *
 * The operations, each one step of a loop:
 *   bind     IOMMU_VDEVICE_TSM_OP BIND, then UNBIND
 *   export   a shared or private DMABUF of 2 MiB of BAR2, closed again
 *   map      export + IOMMU_IOAS_MAP_FILE at one of four IOVAs that the
 *            other thread may use too, IOMMU_IOAS_UNMAP, close
 *   unmap    IOMMU_IOAS_UNMAP of one of those IOVAs or of all of them
 *   slot     export + a KVM_MEM_VFIO_DMABUF slot (shared, or private while
 *            bound), delete, close
 *   mmap     mmap of 4 KiB or of an aligned 2 MiB of BAR2, a load and a
 *            store (SIGBUS on a private page), munmap
 *   rw       pread and pwrite of the BAR region
 *   decode   memory decode off and on again
 *   vdevice  IOMMU_DESTROY of the vDEVICE and IOMMU_VDEVICE_ALLOC of a new
 *            one
 *   close    (pairings of its own) a whole VMM built and torn down: an
 *            iommufd with an IOAS, a VM, ivshmem's cdev added to the VM and
 *            bound, a vIOMMU, sometimes a vDEVICE, a shared DMABUF; the
 *            other thread works on them by id and through dup()s of the
 *            fds while they are closed in a random order
 *
 * Every answer must be success or an errno the race explains (listed with
 * each operation below, all in docs/uapi.md). After each pairing the
 * kernel's own state is checked: no DMABUF left (dma_buf/bufinfo), no area
 * left in the IOAS, no memslot left over the slots' GPAs, and the
 * interface unbound after a last UNBIND. scripts/vm.sh fails the run on a
 * kernel warning, a lockdep report and (on the KASAN kernel) a KASAN report
 * or a leak; the suite runs this under tsmtrace live.
 *
 *   stress [-n ITERATIONS] [-m MIN] [-t SECONDS] [-s SEED] [PAIRING...]
 *
 * Each pairing runs until its two threads have made ITERATIONS steps
 * together (default 1000) and each at least MIN (default 50), or SECONDS
 * passed (default 120; then it fails). PAIRING is "a+b" (e.g. map+unmap); default: all. A failure
 * prints the pairing, the seed, the thread, the iteration and the call;
 * "stress -s SEED PAIRING" replays it. One PASS:/FAIL: line per pairing
 * and per check.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>

#include "tsm_vmm.h"

#define BAR		2
#define PAGE		0x1000UL
#define MiB		0x100000UL
#define WINDOW		(8 * MiB)	/* the part of BAR2 the threads use */
#define HOLES		"2:0x0+0x200000"
#define IOVA		0x40000000UL	/* four 2 MiB IOVAs from here */
#define GPA		0x10000000UL	/* four 2 MiB GPAs from here */
#define SLOT0		10		/* slots SLOT0.. SLOT0 + 3 */

enum op {
	OP_BIND, OP_EXPORT, OP_MAP, OP_UNMAP, OP_SLOT, OP_MMAP, OP_RW, OP_DECODE, OP_VDEVICE,
	OP_CLOSE, NR_OPS
};

static const char *const op_names[NR_OPS] = {
	"bind", "export", "map", "unmap", "slot", "mmap", "rw", "decode", "vdevice", "close",
};

/* what an operation works on: the long-lived VMM, or a dup()ed snapshot of a closing one */
struct ctx {
	int iommufd, vm, devfd, dmabuf;
	uint32_t ioas, dev_id, viommu, vdev;
	int dups;	/* the fds are dup()s to close after the step */
};

struct worker {
	enum op op;
	int index;		/* 0 or 1: the two threads of a pairing */
	uint64_t rng;
	unsigned long iters;
	char failure[256];	/* the first unexplained answer */
	double slowest;		/* the longest step, in seconds */
	_Atomic double step_start;	/* CLOCK_MONOTONIC at the start of the step */
	_Atomic pid_t tid;		/* for its kernel stack in /proc */
	pthread_t thread;
};

static unsigned long want_iters = 1000, want_min = 50;
static unsigned int max_seconds = 120;
static unsigned int stall_seconds = 10;	/* a longer step is a stall */
static unsigned int stuck_seconds = 60;	/* a stalled thread not back by then is stuck */
static uint64_t seed;
static atomic_int stop;
static atomic_uint cur_vdev;	/* the long-lived VMM's vDEVICE, replaced by OP_VDEVICE */
static unsigned int pairing_no;
static const char *pairing_name;

/* the VMM OP_CLOSE builds and tears down: published under close_lock */
#define NO_CTX { .iommufd = -1, .vm = -1, .devfd = -1, .dmabuf = -1 }
static pthread_mutex_t close_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ctx closing = NO_CTX;
static int close_mode;

static uint64_t next_rand(struct worker *w)
{
	/* xorshift64*: the same seed gives the same choices */
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545f4914f6cdd1dULL;
}

static unsigned int pick(struct worker *w, unsigned int n)
{
	return next_rand(w) % n;
}

/* Is -@ret one of the errnos (0-terminated) @ok? Otherwise note it. */
static int explained(struct worker *w, int ret, const char *call, const int *ok)
{
	if (ret >= 0)
		return 1;
	for (; *ok; ok++)
		if (-ret == *ok)
			return 1;
	if (!w->failure[0])
		snprintf(w->failure, sizeof(w->failure),
			 "%s: %s (thread %d, %s, iteration %lu, seed %llu)", call,
			 lab_errname(-ret), w->index, op_names[w->op], w->iters,
			 (unsigned long long)seed);
	return 0;
}

#define ERRS(...) ((const int[]){ __VA_ARGS__, 0 })
#define CHECK(w, ret, call, ...) explained(w, ret, call, ERRS(__VA_ARGS__))

/*
 * The context of one step of @op. In the close pairings a step holds dup()s
 * of only the fds it works through: an operation by id (BIND, vDEVICE,
 * UNMAP) or on the published DMABUF (MAP, SLOT) holds no device fd, so the
 * device's last close can come in the middle of it.
 */
static int ctx_get(struct ctx *c, enum op op)
{
	int dev = op == OP_EXPORT || op == OP_MMAP || op == OP_RW || op == OP_DECODE;
	int buf = op == OP_MAP || op == OP_SLOT;
	int vm = op == OP_SLOT;

	if (!close_mode) {
		*c = (struct ctx){
			.iommufd = iommufd, .vm = vm_fd, .devfd = iv.fd, .dmabuf = -1,
			.ioas = ioas, .dev_id = iv.id, .viommu = iv.viommu,
			.vdev = atomic_load(&cur_vdev),
		};
		return 0;
	}
	pthread_mutex_lock(&close_lock);
	*c = closing;
	c->dups = 1;
	c->iommufd = closing.iommufd >= 0 ? dup(closing.iommufd) : -1;
	c->vm = vm && closing.vm >= 0 ? dup(closing.vm) : -1;
	c->devfd = dev && closing.devfd >= 0 ? dup(closing.devfd) : -1;
	c->dmabuf = buf && closing.dmabuf >= 0 ? dup(closing.dmabuf) : -1;
	pthread_mutex_unlock(&close_lock);
	if (c->iommufd < 0 || (dev && c->devfd < 0) || (buf && c->dmabuf < 0) ||
	    (vm && c->vm < 0))
		return -1;
	return 0;
}

static void ctx_put(struct ctx *c)
{
	if (!c->dups)
		return;
	for (int *fd = &c->iommufd; fd <= &c->dmabuf; fd++)
		if (*fd >= 0)
			close(*fd);
}

static int tsm_op_on(int fd, uint32_t type, uint32_t vdev)
{
	struct iommu_vdevice_tsm_op op = {
		.size = sizeof(op), .type = type, .vdevice_id = vdev,
	};

	return ioctl(fd, IOMMU_VDEVICE_TSM_OP, &op) ? -errno : 0;
}

/* a 2 MiB DMABUF: shared anywhere in the window (EPERM over private pages) or private */
static int export_some(struct worker *w, struct ctx *c, int *private)
{
	uint64_t off = pick(w, WINDOW / (2 * MiB)) * 2 * MiB;

	*private = pick(w, 4) == 0;
	if (*private && off == 0)
		off = 2 * MiB;
	if (c->devfd < 0)
		return -EBADF;
	return vfio_dmabuf_export(c->devfd, BAR, off, 2 * MiB, *private ? VFIO_DMA_BUF_PRIVATE : 0);
}

static int slot_set(int vm, uint32_t slot, uint32_t flags, int fd, uint64_t gpa, uint64_t size)
{
	struct kvm_userspace_memory_region2 r = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
		.guest_memfd = fd,
	};

	return ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &r) ? -errno : 0;
}

/* ---- the operations ------------------------------------------------------ */

static void step_bind(struct worker *w, struct ctx *c)
{
	int ret = tsm_op_on(c->iommufd, IOMMU_VDEVICE_TSM_BIND, c->vdev);

	/* ENOENT: the vDEVICE or its device went; EBUSY: bound to a VM that is closing */
	CHECK(w, ret, "BIND", ENOENT, EBUSY);
	if (pick(w, 2))
		usleep(pick(w, 200));
	ret = tsm_op_on(c->iommufd, IOMMU_VDEVICE_TSM_UNBIND, c->vdev);
	CHECK(w, ret, "UNBIND", ENOENT);
}

static void step_export(struct worker *w, struct ctx *c)
{
	int private, fd = export_some(w, c, &private);

	/* EPERM: across the layout; ENODEV: the device is going */
	if (CHECK(w, fd, private ? "export private" : "export shared", EPERM, ENODEV) && fd >= 0)
		close(fd);
}

static void step_map(struct worker *w, struct ctx *c)
{
	uint64_t iova = IOVA + pick(w, 4) * 2 * MiB;
	int private, fd = c->dmabuf, ret;

	if (!close_mode) {
		fd = export_some(w, c, &private);
		if (!CHECK(w, fd, "export", EPERM, ENODEV) || fd < 0)
			return;
	}
	ret = iommufd_map_file(c->iommufd, c->ioas, fd, 2 * MiB, iova);
	/* EPERM: private; ENODEV: revoked; EEXIST: the other thread's IOVA; ENOENT: no IOAS */
	CHECK(w, ret, "IOMMU_IOAS_MAP_FILE", EPERM, ENODEV, EEXIST, ENOENT);
	ret = iommufd_ioas_unmap(c->iommufd, c->ioas, iova, 2 * MiB);
	/* ENOENT: the other thread unmapped it; EBUSY: it is mapping there right now */
	CHECK(w, ret, "IOMMU_IOAS_UNMAP", ENOENT, EBUSY);
	if (fd != c->dmabuf)
		close(fd);
}

static void step_unmap(struct worker *w, struct ctx *c)
{
	unsigned int n = pick(w, 5);
	long ret = n < 4 ? iommufd_ioas_unmap(c->iommufd, c->ioas, IOVA + n * 2 * MiB, 2 * MiB) :
			   iommufd_ioas_unmap(c->iommufd, c->ioas, IOVA, 8 * MiB);

	CHECK(w, (int)(ret < 0 ? ret : 0), "IOMMU_IOAS_UNMAP", ENOENT, EBUSY);
}

static void step_slot(struct worker *w, struct ctx *c)
{
	uint32_t slot = SLOT0 + pick(w, 4);
	int private, fd = c->dmabuf, ret;

	if (!close_mode) {
		fd = export_some(w, c, &private);
		if (!CHECK(w, fd, "export", EPERM, ENODEV) || fd < 0)
			return;
	}
	ret = slot_set(c->vm, slot, KVM_MEM_VFIO_DMABUF, fd, GPA + (slot - SLOT0) * 2 * MiB,
		       2 * MiB);
	/*
	 * ENODEV: revoked; EEXIST: the other thread has the slot; EINVAL: it
	 * has the slot with another DMABUF; EPERM: private and the VM is not
	 * the one bound
	 */
	if (CHECK(w, ret, "KVM_MEM_VFIO_DMABUF", ENODEV, EEXIST, EINVAL, EPERM) && !ret)
		CHECK(w, slot_set(c->vm, slot, 0, 0, 0, 0), "slot delete", EINVAL);
	if (fd != c->dmabuf)
		close(fd);
}

static void step_mmap(struct worker *w, struct ctx *c)
{
	size_t len = pick(w, 2) ? 2 * MiB : PAGE;
	uint64_t off = pick(w, WINDOW / len) * len;
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = BAR };
	volatile uint8_t *p;
	uint32_t v = 0x5a5a5a5a;
	void *m;

	if (ioctl(c->devfd, VFIO_DEVICE_GET_REGION_INFO, &ri)) {
		CHECK(w, -errno, "VFIO_DEVICE_GET_REGION_INFO", ENODEV);
		return;
	}
	/* 2 MiB at a 2 MiB-aligned address: a huge fault where the pages allow it */
	m = mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return;
	munmap(m, 2 * len);
	m = (void *)(((uintptr_t)m + len - 1) & ~(len - 1));
	m = mmap(m, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, c->devfd,
		 ri.offset + off);
	if (m == MAP_FAILED) {
		/* EEXIST: the other thread took the address meanwhile */
		CHECK(w, -errno, "mmap", ENODEV, EEXIST);
		return;
	}
	p = m;
	/* SIGBUS is the answer for a private page and with memory decode off */
	lab_probe32(p + pick(w, len / PAGE) * PAGE, &v, 0);
	lab_probe32(p + pick(w, len / PAGE) * PAGE + 8, &v, 1);
	munmap(m, len);
}

static void step_rw(struct worker *w, struct ctx *c)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = BAR };
	uint64_t off = pick(w, WINDOW / PAGE) * PAGE + 16;
	uint32_t v = 0xa5a5a5a5;
	ssize_t n;

	if (ioctl(c->devfd, VFIO_DEVICE_GET_REGION_INFO, &ri)) {
		CHECK(w, -errno, "VFIO_DEVICE_GET_REGION_INFO", ENODEV);
		return;
	}
	/* EPERM: a private page; EIO: memory decode is off */
	n = pread(c->devfd, &v, sizeof(v), ri.offset + off);
	CHECK(w, n < 0 ? -errno : 0, "pread", EPERM, EIO);
	n = pwrite(c->devfd, &v, sizeof(v), ri.offset + off);
	CHECK(w, n < 0 ? -errno : 0, "pwrite", EPERM, EIO);
}

static void step_decode(struct worker *w, struct ctx *c)
{
	/* EBUSY: the interface is bound */
	CHECK(w, vfio_config_cmd(c->devfd, 0x0), "memory decode off", EBUSY);
	if (pick(w, 2))
		usleep(pick(w, 100));
	CHECK(w, vfio_config_cmd(c->devfd, PCI_COMMAND_MEMORY), "memory decode on", EBUSY);
}

static void step_vdevice(struct worker *w, struct ctx *c)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = c->vdev };
	struct iommu_vdevice_alloc a = {
		.size = sizeof(a), .viommu_id = c->viommu, .dev_id = c->dev_id, .virt_id = 0x77,
	};
	int ret;

	if (!close_mode || pick(w, 2)) {
		ret = ioctl(c->iommufd, IOMMU_DESTROY, &d) ? -errno : 0;
		/* EBUSY: a TSM_OP holds it; ENOENT: gone with its device */
		CHECK(w, ret, "IOMMU_DESTROY of the vDEVICE", EBUSY, ENOENT);
	}
	ret = ioctl(c->iommufd, IOMMU_VDEVICE_ALLOC, &a) ? -errno : 0;
	/* EEXIST: the old one is still there; ENOENT: the device or vIOMMU is closing */
	if (CHECK(w, ret, "IOMMU_VDEVICE_ALLOC", EEXIST, ENOENT) && !ret && !close_mode)
		atomic_store(&cur_vdev, a.out_vdevice_id);
}

/* Build a VMM around ivshmem, publish it, tear it down in a random order. */
static void step_close(struct worker *w, struct ctx *unused)
{
	struct kvm_create_device kd = { .type = KVM_DEV_TYPE_VFIO };
	struct kvm_device_attr fa = { .group = KVM_DEV_VFIO_FILE, .attr = KVM_DEV_VFIO_FILE_ADD };
	struct ctx c = NO_CTX;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), kvfio = -1, ret, ok, bound = 0;
	struct iommu_ioas_alloc ia = { .size = sizeof(ia) };
	char cdev[300], bdf[300];

	c.iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	c.vm = ioctl(kvm, KVM_CREATE_VM, KVM_X86_SW_PROTECTED_VM);
	close(kvm);
	ok = CHECK(w, c.iommufd < 0 || c.vm < 0 ? -errno : 0, "open", 0) &&
	     CHECK(w, ioctl(c.iommufd, IOMMU_IOAS_ALLOC, &ia) ? -errno : 0, "IOAS alloc", 0) &&
	     CHECK(w, ioctl(c.vm, KVM_CREATE_DEVICE, &kd) ? -errno : 0, "KVM VFIO device", 0) &&
	     CHECK(w, lab_find_vfio_dev(IV_VENDOR, IV_DEVICE, bdf, sizeof(bdf), cdev, sizeof(cdev)),
		   "find ivshmem", 0);
	kvfio = ok ? (int)kd.fd : -1;
	c.ioas = ia.out_ioas_id;
	if (ok) {
		struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = c.iommufd };
		struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };
		struct iommu_hwpt_alloc h = { .size = sizeof(h), .pt_id = c.ioas };

		c.devfd = open(cdev, O_RDWR | O_CLOEXEC);
		fa.addr = (uintptr_t)&c.devfd;
		ok = CHECK(w, c.devfd < 0 ? -errno : 0, "open the cdev", 0) &&
		     CHECK(w, ioctl(kvfio, KVM_SET_DEVICE_ATTR, &fa) ? -errno : 0, "KVM file add", 0);
		ret = ok && ioctl(c.devfd, VFIO_DEVICE_BIND_IOMMUFD, &b) ? -errno : 0;
		/*
		 * EINVAL: the previous VMM's device file is still open through
		 * the other thread's dup(), and a cdev opens a device once;
		 * this VMM then has no device and goes straight to its close
		 */
		ok = ok && CHECK(w, ret, "VFIO_DEVICE_BIND_IOMMUFD", EINVAL) && !ret;
		bound = ok;
		h.dev_id = c.dev_id = b.out_devid;
		ok = ok && CHECK(w, ioctl(c.iommufd, IOMMU_HWPT_ALLOC, &h) ? -errno : 0,
				 "HWPT alloc", 0);
		at.pt_id = h.out_hwpt_id;
		ok = ok && CHECK(w, ioctl(c.devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) ? -errno : 0,
				 "attach", 0);
		if (ok) {
			struct iommu_viommu_alloc v = {
				.size = sizeof(v), .type = IOMMU_VIOMMU_TYPE_DEFAULT,
				.dev_id = c.dev_id, .hwpt_id = h.out_hwpt_id,
			};
			struct iommu_vdevice_alloc vd = {
				.size = sizeof(vd), .dev_id = c.dev_id, .virt_id = 0x77,
			};

			ok = CHECK(w, ioctl(c.iommufd, IOMMU_VIOMMU_ALLOC, &v) ? -errno : 0,
				   "vIOMMU alloc", 0);
			c.viommu = vd.viommu_id = v.out_viommu_id;
			/* half the time the other thread makes the vDEVICE */
			if (ok && pick(w, 2) &&
			    CHECK(w, ioctl(c.iommufd, IOMMU_VDEVICE_ALLOC, &vd) ? -errno : 0,
				  "vDEVICE alloc", 0))
				c.vdev = vd.out_vdevice_id;
			c.dmabuf = vfio_dmabuf_export(c.devfd, BAR, 0, 2 * MiB, 0);
			ok = ok && CHECK(w, c.dmabuf, "export", 0);
		}
	}
	pthread_mutex_lock(&close_lock);
	closing = c;
	/*
	 * A device file that is not bound to the iommufd answers every call
	 * with EINVAL: not a device the other thread can work on
	 */
	if (!bound)
		closing.devfd = -1;
	pthread_mutex_unlock(&close_lock);
	usleep(pick(w, 300));
	pthread_mutex_lock(&close_lock);
	closing = (struct ctx)NO_CTX;
	pthread_mutex_unlock(&close_lock);

	/* the fds go in a random order; the device leaves the VM before its last close */
	for (int left = 4; left; left--) {
		int which = pick(w, 4);

		for (int i = 0; i < 4; i++) {
			int *fd = (&c.iommufd)[(which + i) % 4] >= 0 ? &(&c.iommufd)[(which + i) % 4] :
								       NULL;

			if (!fd)
				continue;
			if (fd == &c.devfd && kvfio >= 0) {
				struct kvm_device_attr fd_del = {
					.group = KVM_DEV_VFIO_FILE, .attr = KVM_DEV_VFIO_FILE_DEL,
					.addr = (uintptr_t)&c.devfd,
				};

				ret = ioctl(kvfio, KVM_SET_DEVICE_ATTR, &fd_del) ? -errno : 0;
				/* ENOENT: the add failed */
				CHECK(w, ret, "KVM file del", ENOENT);
			}
			close(*fd);
			*fd = -1;
			break;
		}
	}
	if (kvfio >= 0)
		close(kvfio);
}

typedef void (*step_fn)(struct worker *w, struct ctx *c);

static const step_fn steps[NR_OPS] = {
	step_bind, step_export, step_map, step_unmap, step_slot, step_mmap, step_rw,
	step_decode, step_vdevice, step_close,
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ctx c;

	atomic_store(&w->tid, gettid());
	while (!atomic_load(&stop) && !w->failure[0]) {
		struct timespec t0, t1;
		double d;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		atomic_store(&w->step_start, t0.tv_sec + t0.tv_nsec / 1e9);
		if (w->op == OP_CLOSE) {
			step_close(w, NULL);
		} else if (!ctx_get(&c, w->op)) {
			steps[w->op](w, &c);
			ctx_put(&c);
		} else {
			ctx_put(&c);
			usleep(10);	/* between two VMMs */
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		d = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (d > w->slowest)
			w->slowest = d;
		w->iters++;
	}
	return NULL;
}

/* The kernel stack of a worker, as NOTE lines: where a stalled step waits. */
static void print_stack(struct worker *w)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stack", (int)atomic_load(&w->tid));
	printf("NOTE: thread %d (%s), task %d, kernel stack:\n", w->index, op_names[w->op],
	       (int)atomic_load(&w->tid));
	f = fopen(path, "r");
	if (!f) {
		printf("NOTE:   (%s: %s)\n", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f))
		printf("NOTE:   %s", line);
	fclose(f);
	fflush(stdout);
}

/*
 * Join the workers; one still in the kernel stuck_seconds after the stop is
 * stuck for good (a deadlock): name it with its stack and end the program,
 * since a join would wait for ever and the suite would learn nothing.
 */
static void join_workers(struct worker *w, const char *name)
{
	struct timespec until;
	int stuck = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += stuck_seconds;
	for (int i = 0; i < 2; i++) {
		if (!pthread_timedjoin_np(w[i].thread, NULL, &until))
			continue;
		print_stack(&w[i]);
		stuck = 1;
	}
	if (!stuck)
		return;
	lab_write_str("/proc/sysrq-trigger", "w");
	printf("FAIL: stress-%s (a thread did not come back from the kernel in %u s after "
	       "the stop: stuck, its stack above; seed %llu)\n", name, stuck_seconds,
	       (unsigned long long)seed);
	fflush(stdout);
	_exit(1);
}

/* ---- checks of the kernel's state ------------------------------------------ */

static void check_state(const char *name)
{
	char n[128];
	long ret;
	int left = 0;

	/* a last UNBIND: the interface must come back */
	if (!close_mode) {
		unbind(atomic_load(&cur_vdev));
		vfio_config_cmd(iv.fd, PCI_COMMAND_MEMORY);
		ret = iommufd_ioas_unmap(iommufd, ioas, IOVA, 8 * MiB);
		snprintf(n, sizeof(n), "stress-%s-ioas-empty", name);
		LAB_CHECK(ret == -ENOENT, n, "%ld bytes still mapped in the IOAS", ret);
		for (int i = 0; i < 4; i++) {
			/* a plain slot over the GPA: EEXIST if a DMABUF slot is left */
			struct kvm_userspace_memory_region2 r = {
				.slot = SLOT0 + 4, .guest_phys_addr = GPA + i * 2 * MiB,
				.memory_size = 2 * MiB, .userspace_addr = (uintptr_t)vmm_ram,
			};

			if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &r)) {
				left++;
				continue;
			}
			r.memory_size = 0;
			ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION2, &r);
		}
		snprintf(n, sizeof(n), "stress-%s-no-slot-left", name);
		LAB_CHECK(!left, n, "%d GPA ranges still have a slot", left);
	}
	snprintf(n, sizeof(n), "stress-%s-no-dmabuf-left", name);
	LAB_CHECK(lab_dmabuf_count() == 0, n, "dma_buf/bufinfo: %d DMABUFs", lab_dmabuf_count());
	snprintf(n, sizeof(n), "stress-%s-unbound", name);
	LAB_CHECK(!strcmp(attr(&iv, "tsm_sw/state"), "CONFIG_UNLOCKED"), n, "tsm_sw/state %s",
		  attr(&iv, "tsm_sw/state"));
}

static int pairing(enum op a, enum op b)
{
	struct worker w[2] = { { .op = a, .index = 0 }, { .op = b, .index = 1 } };
	struct timespec t0, t1;
	char name[64];
	int ok, stalled = 0;
	double secs;

	snprintf(name, sizeof(name), "%s+%s", op_names[a], op_names[b]);
	pairing_name = name;
	close_mode = a == OP_CLOSE || b == OP_CLOSE;
	atomic_store(&stop, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 2; i++) {
		atomic_store(&w[i].step_start, t0.tv_sec + t0.tv_nsec / 1e9);
		w[i].rng = (seed ^ (pairing_no * 0x9e3779b97f4a7c15ULL) ^ (i + 1) * 0xbf58476d1ce4e5b9ULL)
			   | 1;
		pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
	}
	for (;;) {
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		for (int i = 0; i < 2 && !stalled; i++) {
			double now = t1.tv_sec + t1.tv_nsec / 1e9;

			if (now - atomic_load(&w[i].step_start) < stall_seconds)
				continue;
			/* where it waits, while it waits: its stack and the blocked tasks' */
			stalled = 1 + i;
			print_stack(&w[i]);
			lab_write_str("/proc/sysrq-trigger", "w");
		}
		if ((w[0].iters + w[1].iters >= want_iters && w[0].iters >= want_min &&
		     w[1].iters >= want_min) ||
		    w[0].failure[0] || w[1].failure[0] || stalled || secs > max_seconds)
			break;
	}
	atomic_store(&stop, 1);
	join_workers(w, name);
	ok = !w[0].failure[0] && !w[1].failure[0] && !stalled;
	snprintf(name, sizeof(name), "stress-%s+%s", op_names[a], op_names[b]);
	if (stalled)
		lab_result(0, name, "a step of thread %d (%s) ran for more than %u s: stalled "
			   "(seed %llu; its stack above, the blocked tasks' in the kernel's log)",
			   stalled - 1, op_names[w[stalled - 1].op], stall_seconds,
			   (unsigned long long)seed);
	else if (!ok)
		lab_result(0, name, "%s", w[0].failure[0] ? w[0].failure : w[1].failure);
	else
		LAB_CHECK(w[0].iters + w[1].iters >= want_iters && w[0].iters >= want_min &&
			  w[1].iters >= want_min, name,
			  "%lu and %lu iterations in %.1f s, %lu together and %lu each wanted",
			  w[0].iters, w[1].iters, secs, want_iters, want_min);
	printf("# %s+%s: %lu + %lu iterations in %.2f s (slowest steps %.1f and %.1f ms)\n",
	       op_names[a], op_names[b], w[0].iters, w[1].iters, secs, w[0].slowest * 1e3,
	       w[1].slowest * 1e3);
	fflush(stdout);
	pairing_no++;
	check_state(name + 7);
	return ok;
}

/* Do a and b share an object? Every operation shares the device, so yes. */
static int selected(enum op a, enum op b, int argc, char **argv)
{
	char n[64];

	if (argc == 0)
		return 1;
	snprintf(n, sizeof(n), "%s+%s", op_names[a], op_names[b]);
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], n))
			return 1;
	return 0;
}

/* Close the long-lived VMM: ivshmem is free for the close pairings. */
static void teardown(void)
{
	struct kvm_device_attr del = {
		.group = KVM_DEV_VFIO_FILE, .attr = KVM_DEV_VFIO_FILE_DEL, .addr = (uintptr_t)&iv.fd,
	};

	ioctl(vmm_kvm_vfio, KVM_SET_DEVICE_ATTR, &del);
	close(iv.fd);
	close(vmm_kvm_vfio);
	close(vm_fd);
	close(iommufd);
	iv.fd = -1;
}

int main(int argc, char **argv)
{
	int opt, failed = 0;

	seed = time(NULL);
	while ((opt = getopt(argc, argv, "n:m:t:s:")) != -1) {
		switch (opt) {
		case 'n': want_iters = strtoul(optarg, NULL, 0); break;
		case 'm': want_min = strtoul(optarg, NULL, 0); break;
		case 't': max_seconds = strtoul(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: stress [-n ITERATIONS] [-m MIN] [-t SECONDS] [-s SEED] [a+b...]\n");
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	printf("# stress: seed %llu, %lu iterations a pairing and %lu a thread, at most %u s a pairing\n",
	       (unsigned long long)seed, want_iters, want_min, max_seconds);
	lab_catch_sigbus();
	vmm_vm_type = KVM_X86_SW_PROTECTED_VM;
	if (!lab_expect(tsm_setup_bindable(HOLES), 0, "stress-setup"))
		return 1;
	atomic_store(&cur_vdev, iv.vdev);
	vfio_config_cmd(iv.fd, PCI_COMMAND_MEMORY);
	for (enum op a = 0; a < OP_CLOSE; a++)
		for (enum op b = a; b < OP_CLOSE; b++)
			if (selected(a, b, argc, argv))
				failed += !pairing(a, b);
	teardown();
	for (enum op b = 0; b < OP_CLOSE; b++)
		if (selected(b, OP_CLOSE, argc, argv))
			failed += !pairing(b, OP_CLOSE);
	/* as found: the next program connects ivshmem again */
	lab_expect(set_attr(&iv, "tsm/disconnect", "tsm0"), 0, "stress-disconnect");
	if (failed)
		printf("# replay: stress -s %llu -n %lu -m %lu PAIRING\n",
		       (unsigned long long)seed, want_iters, want_min);
	return lab_failed ? 1 : 0;
}
