// SPDX-License-Identifier: GPL-2.0
/*
 * The live side of 'live' and 'record': load the BPF programs of bpf/,
 * attach them to the tracepoints, and pass every ring-buffer record, put
 * back in sequence order, to the same engine 'check' replays files
 * through, and to the trace-file writer.
 *
 * Order of work as in libbpf-tools: options -> libbpf print callback ->
 * signals -> open -> load -> attach -> ring buffer -> poll loop -> one
 * cleanup.
 *
 * Only the programs of the events the kernel has (o->observed, decided by
 * builtin-record.c from the kernel's BTF) are loaded; the others are left
 * out of the load, and the file header and the verdict say which events
 * were observed. Once attached, and before tracing, what predates the trace
 * is looked for (a bound TDI, VFIO's DMABUFs and device files, KVM VMs):
 * with none, the state at start is known. The lab's VM suite
 * tests/vm/suite-tsmtrace.sh runs it.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "builtin.h"
#include "live.h"
#include "reorder.h"
#include "tracefile.h"
#include "stock.h"
#include "util.h"
#include "tsmtrace.skel.h"
#include "stock.skel.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

struct live {
	const struct live_opts *o;
	struct tsm_engine *e;
	struct tsm_writer *w;
	struct tsm_reorder *ro;
	__u64 lost_seen;
	__u64 next_seq;		/* after the last kernel event released */
	unsigned int printed;	/* violations printed so far */
	unsigned int waited;	/* records since the oldest unprinted one */
	bool violated;
	char *out;		/* a batch's text lines, built in place */
	size_t out_len;
};

#define LINE_MAX_LEN	512	/* more than any record's line */
#define OUT_SIZE	(1 << 20)

/* the lines built so far go to stdout: before anything else is printed */
static void out_flush(struct live *l)
{
	if (l->out_len)
		fwrite(l->out, 1, l->out_len, stdout);
	l->out_len = 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

/* does a record belong to what the user asked to see? */
static bool shown(const struct live_opts *o, const struct tsm_rec_hdr *rec)
{
	if (o->quiet)
		return false;
	if (o->has_pid && rec->pid != o->pid)
		return false;
	if (o->has_dev) {
		switch (rec->type) {
		case TSM_REC_PCI_TSM_BIND_BEGIN:
		case TSM_REC_PCI_TSM_BIND_END:
		case TSM_REC_PCI_TSM_UNBIND_BEGIN:
		case TSM_REC_PCI_TSM_UNBIND_END:
			return ((const struct tsm_ev_pci_tsm_op *)rec)->dev == o->dev;
		case TSM_REC_PCI_TSM_TDI_STATE:
			return ((const struct tsm_ev_pci_tsm_tdi_state *)rec)->dev == o->dev;
		case TSM_REC_PCI_TSM_RANGE:
			return ((const struct tsm_ev_pci_tsm_range *)rec)->dev == o->dev;
		case TSM_REC_VFIO_DMABUF_EXPORT_RANGE:
			return ((const struct tsm_ev_vfio_dmabuf_range *)rec)->dev == o->dev;
		case TSM_REC_VFIO_DMABUF_EXPORT:
		case TSM_REC_VFIO_DMABUF_REVOKE:
		case TSM_REC_VFIO_DMABUF_RELEASE:
		case TSM_REC_VFIO_DMABUF_RESTORE:
			return ((const struct tsm_ev_vfio_dmabuf_obj *)rec)->dev == o->dev;
		default:
			return false;	/* mappings carry no device */
		}
	}
	if (o->has_vm) {
		switch (rec->type) {
		case TSM_REC_KVM_DMABUF_SLOT_BIND:
		case TSM_REC_KVM_DMABUF_SLOT_UNBIND:
			return ((const struct tsm_ev_kvm_dmabuf_slot *)rec)->vm == o->vm;
		case TSM_REC_PCI_TSM_BIND_BEGIN:
		case TSM_REC_PCI_TSM_BIND_END:
		case TSM_REC_PCI_TSM_UNBIND_BEGIN:
		case TSM_REC_PCI_TSM_UNBIND_END:
			return ((const struct tsm_ev_pci_tsm_op *)rec)->vm == o->vm;
		default:
			return false;
		}
	}
	return true;
}

static void on_violation(void *arg, const struct tsm_violation *v)
{
	struct live *l = arg;

	(void)v;
	l->violated = true;
	if (l->o->fail_on_violation)
		exiting = 1;
}

/*
 * Print the violations found so far, in order. One whose event the kernel
 * flagged waits for its stack record (which follows the event) so that it
 * prints as 'check' of the recorded file prints it; it waits at most a few
 * records, and not at all when @all.
 */
static void print_violations(struct live *l, bool all)
{
	const struct tsm_violation *v;

	while ((v = tsm_engine_violation(l->e, l->printed + 1))) {
		if (!all && (v->ev.hdr.flags & TSM_REC_F_FLAGGED) && !v->nr_stack &&
		    l->waited++ < 64)
			return;
		out_flush(l);
		if (json_output)
			print_violation_json(stdout, NULL, v);
		else
			print_violation(stdout, v, "VIOLATION ");
		l->printed++;
		l->waited = 0;
	}
}

/*
 * A record the engine refuses (a range past 2^64) is skipped, and the
 * engine told that one event was lost there: the verdict cannot be a PASS.
 */
static int skip_malformed(struct live *l, const struct tsm_rec_hdr *rec)
{
	struct tsm_rec_lost lost = {
		.hdr = { .type = TSM_REC_LOST, .size = sizeof(lost), .ts = rec->ts },
		.nr = 1,
		.source = TSM_LOST_READER,
	};

	p_warn(l->o->cmd, "malformed record from the kernel (type %u, size %u): %s; skipped, counted as lost",
	       rec->type, rec->size, tsm_rec_malformed(rec, rec->size, NULL) ? : "refused");
	if (rec->type >= TSM_REC_LOST)
		return 0;
	lost.hdr.seq = rec->seq + 1;
	return tsm_engine_feed(l->e, &lost.hdr, sizeof(lost));
}

/* a record in sequence order: to the file, to the engine, to the screen */
static int ordered(void *ctx, const struct tsm_rec_hdr *rec)
{
	struct live *l = ctx;
	int ret;

	if (l->w) {
		ret = tsm_writer_add(l->w, rec);
		if (ret)
			return ret;
	}
	if (rec->type < TSM_REC_LOST)
		l->next_seq = rec->seq + 1;
	if (shown(l->o, rec) && rec->type != TSM_REC_STACK) {
		if (json_output) {
			print_record_json(stdout, rec, NULL, 0);
		} else {
			/* straight into the batch's buffer: no copy, no stdio call */
			char *line;
			size_t n;

			if (OUT_SIZE - l->out_len < LINE_MAX_LEN)
				out_flush(l);
			line = l->out + l->out_len;
			n = fmt_record(line, LINE_MAX_LEN - 1, rec);
			line[n] = '\n';
			l->out_len += n + 1;
		}
	}
	ret = tsm_engine_feed(l->e, rec, rec->size);
	if (ret == -EINVAL)
		return skip_malformed(l, rec);
	print_violations(l, false);
	return ret;
}

/*
 * A record, in the ring: the kernel wrote it before it submitted it and the
 * ring keeps it until this returns, so it is used in place; the window
 * copies only a record it must hold back.
 */
#define SAMPLE_MAX	512	/* more than any record the programs write */

static int on_sample(struct live *l, const void *data, size_t size)
{
	const struct tsm_rec_hdr *rec = data;

	if (size < sizeof(*rec) || size > SAMPLE_MAX || rec->size > size) {
		p_warn(l->o->cmd, "ring-buffer sample of %zu bytes skipped", size);
		return 0;
	}
	return tsm_reorder_add(l->ro, rec);
}

/*
 * The ring buffer, read here rather than through libbpf's ring_buffer__*(),
 * for two reasons of cost to the traced task, whose CPU writes the records
 * while this one reads them:
 *
 *  - libbpf tells the kernel how far it has read after every record, and
 *    the program reads that position at every reserve: a cache line that
 *    moves between the two CPUs at every event. Here it is stored once a
 *    batch, and once every RB_RELEASE bytes within a long one;
 *  - its poll is level-triggered: a reader that keeps up finds a record
 *    waiting each time it looks, and reads the lines the other CPU is
 *    writing as it writes them. Here the wait is edge-triggered: the
 *    reader sleeps until the programs wake it (every WAKE_EVERY events,
 *    bpf/record.bpf.h, or a flagged event at once) or 100 ms pass, and
 *    then reads a batch well behind the writer.
 *
 * The layout is the kernel's (kernel/bpf/ringbuf.c): the consumer position
 * on the first page, which the reader writes; the producer position on the
 * next; then the data, mapped twice in a row so that a record that wraps
 * reads as one piece. Each record has an 8-byte header (its length, with
 * the busy and discard bits) and takes a multiple of 8 bytes.
 */
#define RB_RELEASE	(256u << 10)

struct rb_reader {
	unsigned long *cons;		/* the consumer position (written) */
	const unsigned long *prod;	/* the producer position */
	const char *data;
	size_t mask;			/* the data's size - 1 */
	size_t prod_len;		/* of the producer page and the data */
	int epfd;
};

static void rb_close(struct rb_reader *r)
{
	size_t page = sysconf(_SC_PAGESIZE);

	if (r->cons && r->cons != MAP_FAILED)
		munmap(r->cons, page);
	if (r->prod && r->prod != MAP_FAILED)
		munmap((void *)r->prod, r->prod_len);
	if (r->epfd >= 0)
		close(r->epfd);
	memset(r, 0, sizeof(*r));
	r->epfd = -1;
}

static int rb_open(struct rb_reader *r, int map_fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	size_t page = sysconf(_SC_PAGESIZE);
	int err;

	memset(r, 0, sizeof(*r));
	r->epfd = -1;
	if (map_fd < 0)
		return -EINVAL;
	err = bpf_obj_get_info_by_fd(map_fd, &info, &len);
	if (err)
		return err;
	if (info.type != BPF_MAP_TYPE_RINGBUF || !info.max_entries ||
	    info.max_entries & (info.max_entries - 1))
		return -EINVAL;
	r->mask = info.max_entries - 1;
	r->prod_len = page + 2 * (size_t)info.max_entries;
	r->cons = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (r->cons == MAP_FAILED)
		goto err_errno;
	r->prod = mmap(NULL, r->prod_len, PROT_READ, MAP_SHARED, map_fd, page);
	if (r->prod == MAP_FAILED)
		goto err_errno;
	r->data = (const char *)r->prod + page;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0 || epoll_ctl(r->epfd, EPOLL_CTL_ADD, map_fd, &ev))
		goto err_errno;
	return 0;

err_errno:
	err = -errno;
	rb_close(r);
	return err;
}

/*
 * The records written when it was called, to on_sample(): how many, or the
 * first error (the records before it are consumed). What comes meanwhile
 * is left to the next call: a reader that chased the writer would be back
 * on the lines it is writing, and would not return to its loop (signals,
 * the deadline) while the writer kept ahead.
 */
static int rb_consume(struct rb_reader *r, struct live *l)
{
	unsigned long cons = __atomic_load_n(r->cons, __ATOMIC_RELAXED), released = cons;
	unsigned long prod = __atomic_load_n(r->prod, __ATOMIC_ACQUIRE);
	int n = 0, err = 0;

	while (cons < prod) {
		const __u32 *hdr = (const void *)(r->data + (cons & r->mask));
		__u32 len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
		__u32 size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);

		if (len & BPF_RINGBUF_BUSY_BIT)
			break;		/* reserved, not yet submitted */
		if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
			err = on_sample(l, hdr + 2, size);
			if (err)
				break;
			n++;
		}
		cons += (size + BPF_RINGBUF_HDR_SZ + 7) & ~7ul;
		if (cons - released >= RB_RELEASE) {
			__atomic_store_n(r->cons, cons, __ATOMIC_RELEASE);
			released = cons;
		}
	}
	if (cons != released)
		__atomic_store_n(r->cons, cons, __ATOMIC_RELEASE);
	return err ? err : n;
}

/* until the programs wake the reader, or @ms pass: 0, or -errno (-EINTR) */
static int rb_wait(struct rb_reader *r, int ms)
{
	struct epoll_event ev;

	return epoll_wait(r->epfd, &ev, 1, ms) < 0 ? -errno : 0;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ring-buffer reserve failures since the last look become a LOST record */
static int check_lost(struct live *l, int lost_fd)
{
	struct tsm_rec_lost rec = { 0 };
	__u32 key = TSM_LOST_RINGBUF;
	__u64 n = 0;

	if (bpf_map_lookup_elem(lost_fd, &key, &n) || n <= l->lost_seen)
		return 0;
	rec.hdr.type = TSM_REC_LOST;
	rec.hdr.size = sizeof(rec);
	rec.hdr.ts = mono_ns();
	rec.hdr.seq = l->next_seq;
	rec.nr = n - l->lost_seen;
	rec.source = TSM_LOST_RINGBUF;
	l->lost_seen = n;
	if (l->w) {
		/* counted in the end marker; the engine sees it below */
		int ret = tsm_writer_lost(l->w, rec.nr, rec.source, rec.hdr.seq, rec.hdr.ts);

		if (ret)
			return ret;
	}
	return tsm_engine_feed(l->e, &rec.hdr, sizeof(rec));
}

/*
 * -v: what loading the programs cost, as the kernel counts it (the
 * instructions its verifier processed, a line a program) and the time it
 * took: a program whose checking blows up shows here before a kernel
 * refuses it for the million-instruction limit.
 */
static void say_loaded(const char *cmd, struct bpf_object *obj, __u64 ns)
{
	struct bpf_program *p;
	unsigned long long total = 0;
	int n = 0;

	bpf_object__for_each_program(p, obj) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = bpf_program__fd(p);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		fprintf(stderr, "%s: program %s: the verifier processed %u instructions\n",
			cmd, bpf_program__name(p), info.verified_insns);
		total += info.verified_insns;
		n++;
	}
	fprintf(stderr, "%s: %d programs loaded in %.2f s; the verifier processed %llu instructions\n",
		cmd, n, ns / 1e9, total);
}

/* run the iterator @prog once: 0, or -1 after saying why not */
static int run_iter(const struct live_opts *o, struct bpf_program *prog)
{
	struct bpf_link *link;
	char buf[256];
	ssize_t n;
	int fd;

	link = bpf_program__attach_iter(prog, NULL);
	fd = link ? bpf_iter_create(bpf_link__fd(link)) : -1;
	if (fd < 0) {
		p_err(o->cmd, "cannot run the DMABUF iterator: %s", strerror(errno));
		bpf_link__destroy(link);
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	close(fd);
	bpf_link__destroy(link);
	if (n < 0) {
		p_err(o->cmd, "reading the DMABUF iterator: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* what processes hold now, made before the trace could see it */
struct held {
	int vms;		/* file descriptors of KVM VMs */
	int vfio;		/* files of VFIO devices, open or only mapped */
	int vm_pid, vfio_pid;	/* a process that holds one */
	int unreadable;		/* processes whose files could not be read */
};

/* a VFIO device's file: from its group (anon inode) or its cdev */
static bool vfio_device_path(const char *path)
{
	return strstr(path, "anon_inode:[vfio-device]") || strstr(path, "/vfio/devices/vfio");
}

/*
 * The KVM VMs and the files of VFIO devices every process holds: its file
 * descriptors and, with @maps, for a process without a VFIO device's
 * descriptor, its mappings (a mapping of a BAR keeps the file after its
 * close). 0, or -errno if /proc cannot be read.
 */
static int scan_held(struct held *h, bool maps)
{
	char path[PATH_MAX], link[PATH_MAX], *line = NULL;
	struct dirent *p, *fd;
	DIR *proc = opendir("/proc"), *fds;
	size_t cap = 0;

	memset(h, 0, sizeof(*h));
	if (!proc)
		return -errno;
	while ((p = readdir(proc))) {
		int vfio = 0;
		FILE *f;

		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds) {
			if (errno != ENOENT)
				h->unreadable++;
			continue;	/* ENOENT: gone meanwhile */
		}
		while ((fd = readdir(fds))) {
			ssize_t len;

			if (fd->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name, fd->d_name);
			len = readlink(path, link, sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = 0;
			if (!strcmp(link, "anon_inode:kvm-vm")) {
				h->vms++;
				h->vm_pid = atoi(p->d_name);
			} else if (vfio_device_path(link)) {
				vfio++;
			}
		}
		closedir(fds);
		if (maps && !vfio) {
			snprintf(path, sizeof(path), "/proc/%s/maps", p->d_name);
			f = fopen(path, "r");
			while (f && getline(&line, &cap, f) > 0)
				if (vfio_device_path(line)) {
					vfio = 1;
					break;
				}
			if (f)
				fclose(f);
		}
		if (vfio) {
			h->vfio += vfio;
			h->vfio_pid = atoi(p->d_name);
		}
	}
	free(line);
	closedir(proc);
	return 0;
}

/*
 * The stock source on a kernel with the DMABUF iterator: the DMABUFs of
 * VFIO open now go into the maps and the ring buffer as if exported now
 * (@vms: KVM VMs found running, whose past is unknown too).
 * Says what was found. Returns 0, or -1 after saying why not.
 */
static int seed_start(const struct live_opts *o, struct stock_bpf *stock, int vms)
{
	if (run_iter(o, stock->progs.stock_seed))
		return -1;
	if (stock->bss->nr_seeded)
		fprintf(stderr, "%s: %llu DMABUF(s) of VFIO were already open: followed from now on, their past is unknown (the verdict is INCOMPLETE at best)\n",
			o->cmd, (unsigned long long)stock->bss->nr_seeded);
	else if (!o->state_known && vms <= 0)
		fprintf(stderr, "%s: no DMABUF of VFIO is open%s: the state at start is known\n",
			o->cmd, stock_has_kvm(o->stock_progs) ? " and no KVM VM runs" : "");
	return 0;
}

/*
 * The DMABUFs of VFIO open now, counted by the iterator of
 * bpf/stock.bpf.c loaded on its own (its records go nowhere): how many,
 * or -1 if they cannot be counted (said why).
 */
static long open_vfio_dmabufs(const struct live_opts *o)
{
	struct stock_bpf *st;
	long n = -1;

	if (!o->stock_progs) {
		fprintf(stderr, "%s: cannot tell which DMABUFs of VFIO are open: the kernel has no %s (the DMABUF iterator of Linux 6.16 and later)\n",
			o->cmd, o->seed_missing);
		return -1;
	}
	st = stock_bpf__open();
	if (!st) {
		p_err(o->cmd, "cannot open the BPF programs of the DMABUF iterator: %s",
		      strerror(errno));
		return -1;
	}
	stock_set_autoload(st->obj, o->stock_progs);
	/* nobody reads its records: the smallest ring buffer will do */
	bpf_map__set_max_entries(st->maps.events, getpagesize());
	if (stock_bpf__load(st))
		p_err(o->cmd, "cannot load the DMABUF iterator: %s (-v shows the verifier's log)",
		      strerror(errno));
	else if (!run_iter(o, st->progs.stock_seed))
		n = st->bss->nr_seeded;
	stock_bpf__destroy(st);
	return n;
}

/* PCI devices whose tsm/bound names a TSM: their TDI is bound */
static int bound_tdis(const struct live_opts *o, bool say)
{
	char path[PATH_MAX], tsm[64];
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/sys/bus/pci/devices");

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/tsm/bound", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(tsm, sizeof(tsm), f) && tsm[0] != '\n' && tsm[0]) {
			tsm[strcspn(tsm, "\n")] = 0;
			if (say)
				fprintf(stderr, "%s: %s is bound (tsm/bound: %s): which of its pages are private and who mapped them before now is not seen\n",
					o->cmd, de->d_name, tsm);
			n++;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

/*
 * The series' source, attached: does anything the invariants are about
 * predate the trace? A bound TDI (sysfs tsm/bound), a DMABUF of VFIO (open,
 * or held by an IOAS or a KVM slot: the DMABUF iterator), a file of a VFIO
 * device, open or only mapped (the host CPU may map its BARs), a KVM VM (its
 * slots). Each found is said. None, and no event since the attach (the
 * kernel did not move while we looked): the state at start is known.
 * Returns true if it is.
 */
static bool series_start_known(const struct live_opts *o, struct tsmtrace_bpf *skel)
{
	bool said = !o->state_known;
	long dmabufs = open_vfio_dmabufs(o);
	int tdis = bound_tdis(o, said);
	struct held h;
	int err = scan_held(&h, true);
	bool found, known;

	if (err)
		fprintf(stderr, "%s: cannot read /proc: %s: what processes hold is not known\n",
			o->cmd, strerror(-err));
	if (dmabufs > 0 && said)
		fprintf(stderr, "%s: %ld DMABUF(s) of VFIO were already open: their exports and mappings before now are not seen\n",
			o->cmd, dmabufs);
	if (h.vfio && said)
		fprintf(stderr, "%s: %d file(s) of VFIO devices were already open or mapped (PID %d among them): host CPU mappings of their BARs made before now are not seen\n",
			o->cmd, h.vfio, h.vfio_pid);
	if (h.vms && said)
		fprintf(stderr, "%s: %d KVM VM(s) were already running (PID %d among them): their slots made before now are not seen\n",
			o->cmd, h.vms, h.vm_pid);
	if (h.unreadable && said)
		fprintf(stderr, "%s: the files of %d process(es) could not be read: what they hold is not known\n",
			o->cmd, h.unreadable);
	found = dmabufs > 0 || tdis || h.vfio || h.vms;
	known = !found && dmabufs == 0 && !err && !h.unreadable;
	if (known && skel->bss->seq) {
		if (said)
			fprintf(stderr, "%s: %llu event(s) came while tsmtrace looked at the kernel: what was there before them is not known\n",
				o->cmd, (unsigned long long)skel->bss->seq);
		known = false;
	}
	if (o->state_known) {
		if (found)
			p_warn(o->cmd, "--state-known says that nothing predates the trace, but a bound TDI, a DMABUF or a file of VFIO, or a KVM VM was already there (run without --state-known to see which): verdicts about them may be wrong");
	} else if (known) {
		fprintf(stderr, "%s: no TDI is bound, no DMABUF or file of a VFIO device is open and no KVM VM runs: the state at start is known\n",
			o->cmd);
	} else {
		fprintf(stderr, "%s: the state at start is unknown: the verdict is INCOMPLETE at best (start tsmtrace before the VMM opens its devices)\n",
			o->cmd);
	}
	return known;
}

int run_live(const struct live_opts *o)
{
	struct tsm_engine_opts eo = {
		.state_known = o->state_known,
		.observed = o->observed,
		.max_violations = o->max_violations,
	};
	struct tsmtrace_bpf *skel = NULL;
	struct stock_bpf *stock = NULL;
	struct bpf_object *obj;
	struct rb_reader rb = { .epfd = -1 };
	struct live l = { .o = o, .next_seq = 1 };
	struct tsm_meta meta = {
		.flags = o->state_known ? TSM_FILE_F_STATE_KNOWN : 0,
		.events_observed = o->observed,
		.compress = o->compress,
		.symbolize = ksym_symbolize,
	};
	__u8 build_id[24];
	int id_len;
	struct tsm_summary s;
	struct tsm_rec_state_unknown unknown = {
		.hdr = { .type = TSM_REC_STATE_UNKNOWN, .size = sizeof(unknown) },
	};
	__u64 deadline = o->duration ? mono_ns() + o->duration * 1000000000ULL : 0, t0;
	__u64 idle_since = 0;
	char err[512];
	int ret = EXIT_UNUSABLE, lost_fd, rb_err;
	__u32 key = TSM_LOST_MAP_FULL, t;
	__u64 map_full = 0;
	int vms = 0;

	if (o->verbose)
		libbpf_set_print(libbpf_print);
	else
		libbpf_set_print(NULL);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/*
	 * A batch's lines are built in one buffer and go out in one write
	 * when it is done (below): an fwrite() a line cost more than the
	 * line's copy, and the default buffer of a pipe or a file (4 KiB)
	 * would cost a write for every few dozen lines of a storm.
	 */
	if (!o->quiet) {
		setvbuf(stdout, NULL, _IOFBF, 1 << 20);
		l.out = malloc(OUT_SIZE);
		if (!l.out) {
			p_err(o->cmd, "out of memory");
			return EXIT_UNUSABLE;
		}
	}

	if (o->stock) {
		stock = stock_bpf__open();
		obj = stock ? stock->obj : NULL;
	} else {
		skel = tsmtrace_bpf__open();
		obj = skel ? skel->obj : NULL;
	}
	if (!obj) {
		p_err(o->cmd, "cannot open the BPF programs: %s", strerror(errno));
		goto cleanup;
	}
	/* the programs of events or functions the kernel does not have would not load */
	if (stock) {
		stock_set_autoload(obj, o->stock_progs);
		/* the iterator runs once, below, not as an attachment */
		bpf_program__set_autoattach(stock->progs.stock_seed, false);
	}
	for (t = 1; !o->stock && t < TSM_REC_NR_EVENTS; t++) {
		struct bpf_program *p;

		if (o->observed & TSM_EV_BIT(t))
			continue;
		p = bpf_object__find_program_by_name(obj, tsm_rec_name(t));
		if (p)
			bpf_program__set_autoload(p, false);
	}
	t0 = mono_ns();
	if (stock ? stock_bpf__load(stock) : tsmtrace_bpf__load(skel)) {
		int err = errno;

		if ((err == EPERM || err == EACCES) && need_privileges(o->cmd))
			goto cleanup;
		p_err(o->cmd, "cannot load the BPF programs: %s (-v shows libbpf's messages and the verifier's log; without CAP_BPF and CAP_PERFMON run it as root)",
		      strerror(err));
		goto cleanup;
	}
	if (o->verbose)
		say_loaded(o->cmd, obj, mono_ns() - t0);
	if (stock && stock_has_kvm(o->stock_progs)) {
		struct bpf_map *bars = stock->maps.bars;
		int n = stock_fill_bars(bpf_map__fd(bars), bpf_map__max_entries(bars),
					&stock->data->bar_lo, &stock->bss->bar_hi);

		if (n < 0) {
			p_err(o->cmd, "cannot name the BARs of vfio-pci's devices (%s): %s",
			      "/sys/bus/pci/drivers/vfio-pci",
			      n == -ENOSPC ? "more memory BARs than tsmtrace follows" : strerror(-n));
			goto cleanup;
		}
	}
	if (stock ? stock_bpf__attach(stock) : tsmtrace_bpf__attach(skel)) {
		p_err(o->cmd, "cannot attach to the %s: %s",
		      stock ? "kernel's functions" : "tracepoints", strerror(errno));
		goto cleanup;
	}
	if (stock && stock_has_kvm(o->stock_progs)) {
		struct held h;

		/* the stock source follows no host CPU mapping: the VMs alone */
		vms = scan_held(&h, false) ? -1 : h.vms;
		if (vms > 0)
			fprintf(stderr, "%s: %d KVM VM(s) were already running: their mappings of BAR pages made before now are not seen (the verdict is INCOMPLETE at best)\n",
				o->cmd, vms);
	}
	if (stock && stock_has_seed(o->stock_progs) && seed_start(o, stock, vms))
		goto cleanup;
	if (stock && (stock_has_seed(o->stock_progs) || vms > 0)) {
		if (stock->bss->nr_seeded || vms > 0) {
			/* after the records of what was open: their past is unknown */
			eo.state_known = false;
			meta.flags &= ~TSM_FILE_F_STATE_KNOWN;
			unknown.hdr.seq = stock->bss->seq + 1;
			unknown.hdr.ts = mono_ns();
		} else {
			/* nothing of VFIO or KVM is open: nothing can predate the trace */
			eo.state_known = true;
			meta.flags |= TSM_FILE_F_STATE_KNOWN;
		}
	}
	if (!stock && series_start_known(o, skel)) {
		eo.state_known = true;
		meta.flags |= TSM_FILE_F_STATE_KNOWN;
	}
	eo.on_violation = on_violation;
	eo.arg = &l;
	eo.kernel_checked = true;
	l.e = tsm_engine_new(&eo);
	l.ro = tsm_reorder_new(65536, 1, ordered, &l);
	if (!l.e || !l.ro) {
		p_err(o->cmd, "out of memory");
		goto cleanup;
	}
	/* what a reader elsewhere needs to tell the kernel, and its symbols */
	id_len = kernel_build_id(build_id, sizeof(build_id));
	if (id_len > 0) {
		meta.build_id = build_id;
		meta.build_id_size = id_len;
	}
	if (o->output) {
		l.w = tsm_writer_open(o->output, &meta, err, sizeof(err));
		if (!l.w) {
			p_err(o->cmd, "%s", err);
			goto cleanup;
		}
	}
	if (unknown.hdr.seq && tsm_reorder_add(l.ro, &unknown.hdr))
		goto cleanup;
	rb_err = rb_open(&rb, bpf_object__find_map_fd_by_name(obj, "events"));
	if (rb_err) {
		p_err(o->cmd, "cannot map the ring buffer: %s", strerror(-rb_err));
		goto cleanup;
	}
	lost_fd = bpf_object__find_map_fd_by_name(obj, "lost");
	/* after the load, so that the programs' own frames have names too */
	ksyms_load("/proc/kallsyms");
	/* on stderr, also with --json: scripts wait for it before they start work */
	fprintf(stderr, "%s: tracing%s; Ctrl-C to stop\n", o->cmd,
		o->output ? " into the file" : "");

	while (!exiting) {
		int n = rb_consume(&rb, &l);

		if (n < 0) {
			p_err(o->cmd, "reading the ring buffer: %s", strerror(-n));
			goto cleanup;
		}
		if (check_lost(&l, lost_fd))
			goto cleanup;
		/* idle for 200 ms: a missing number will not come any more */
		if (n == 0 && tsm_reorder_held(l.ro)) {
			if (!idle_since)
				idle_since = mono_ns();
			else if (mono_ns() - idle_since > 200000000ULL) {
				if (tsm_reorder_flush(l.ro))
					goto cleanup;
				print_violations(&l, true);
			}
		} else {
			idle_since = 0;
		}
		/* what this batch printed goes out now, in one write */
		out_flush(&l);
		fflush(stdout);
		/* exiting: a signal, or --fail-on-violation's first violation */
		if (exiting || (deadline && mono_ns() >= deadline))
			break;
		/* what came while this batch was read waits for the next wakeup */
		n = rb_wait(&rb, 100);
		if (n && n != -EINTR) {
			p_err(o->cmd, "waiting for the ring buffer: %s", strerror(-n));
			goto cleanup;
		}
	}
	rb_err = rb_consume(&rb, &l);
	if (rb_err < 0) {
		p_err(o->cmd, "reading the ring buffer: %s", strerror(-rb_err));
		goto cleanup;
	}
	if (tsm_reorder_flush(l.ro) || check_lost(&l, lost_fd))
		goto cleanup;
	if (!bpf_map_lookup_elem(lost_fd, &key, &map_full) && map_full)
		p_warn(o->cmd, "%" PRIu64 " events did not fit the in-kernel state; they are recorded and checked here, but the kernel could not flag them",
		       (uint64_t)map_full);
	if (l.w) {
		struct tsm_writer *w = l.w;

		l.w = NULL;
		if (tsm_writer_close(w, err, sizeof(err))) {
			p_err(o->cmd, "%s", err);
			goto cleanup;
		}
	}
	out_flush(&l);
	print_violations(&l, true);
	tsm_engine_summary(l.e, &s);
	if (json_output) {
		print_verdict_json(stdout, NULL, NULL, l.e, &s);
	} else {
		printf("%s: %s: %u violation(s), %" PRIu64 " events, %" PRIu64 " lost\n", o->cmd,
		       tsm_verdict_name(s.verdict), s.nr_violations, (uint64_t)s.nr_events,
		       (uint64_t)s.nr_lost);
		print_not_kept(stdout, &s, "  ");
		print_coverage(stdout, s.observed, "  ");
		print_kernel_check(stdout, &s, "  ");
	}
	ret = o->fail_on_violation && l.violated ? EXIT_VIOLATION : EXIT_PASS;

cleanup:
	out_flush(&l);
	free(l.out);
	if (l.w) {
		tsm_writer_abandon(l.w, err, sizeof(err));
		p_warn(o->cmd, "%s was not written; what was recorded is in %s (it reads as truncated)",
		       o->output, err);
	}
	rb_close(&rb);
	tsm_reorder_free(l.ro);
	tsm_engine_free(l.e);
	tsmtrace_bpf__destroy(skel);
	stock_bpf__destroy(stock);
	return ret;
}
