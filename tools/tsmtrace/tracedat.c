// SPDX-License-Identifier: GPL-2.0
/*
 * trace-cmd's trace.dat as a trace for check and report.
 *
 * 'trace-cmd record -e pci_tsm -e vfio_dmabuf -e iommufd -e kvm' keeps the
 * events of the series' tracepoints (docs/tracepoints.md) as the kernel's
 * ring buffer wrote them, one stream per CPU, with the format of every
 * event it recorded. libtracecmd reads the file and merges the CPUs in
 * timestamp order; each event of a tracepoint of the contract becomes the
 * record the BPF side writes for it (include/tsmtrace/events.h), its
 * fields read by name through libtraceevent, and goes through the caller's
 * struct tsm_ops, as a record of a trace file does. What a trace file's
 * recorder says, the trace.dat says its own way:
 *
 *  - the events observed are the tracepoints whose format the file holds
 *    (trace-cmd keeps the formats of the events it enabled);
 *  - a page of the ring buffer that lost events before it (its missed
 *    events) is a TSM_REC_LOST record at the page's first event. The
 *    events the other CPUs recorded meanwhile may have come before or
 *    after the lost ones: they are set aside and counted with the loss,
 *    never judged over a state that may lack the lost events. Where the
 *    losses are is found by a first pass over the file;
 *  - the stack ftrace writes after an event ('trace-cmd record -T', an
 *    ftrace:kernel_stack event on the same CPU) is a TSM_REC_STACK record
 *    of that event, its frames named from the file's kallsyms;
 *  - sequence numbers are given here, one per event converted: the
 *    losses are the LOST records, never a gap.
 *
 * libtracecmd maps the file it reads: the trace.dat is copied into an
 * unlinked temporary file first, so that a file that changes while it is
 * read, or a stream, cannot take the mapping away. libtracecmd says what
 * is wrong with a file on standard output or error: what it says is kept
 * off ours and goes into the message. It is tried in a child process
 * first, as libtracecmd 1.3 crashes on some files it cannot read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event-parse.h>
#include <event-utils.h>
#include <trace-cmd.h>
#include "tracedat.h"
#include "util.h"

#define MAX_FIELDS	7

/*
 * A field of the contract: its name in the event's format, which is the
 * name of the record's member it goes to, and where that is
 */
struct td_field {
	const char *name;
	unsigned short off, size;
};

#define FIELD(rec, m)	{ #m, offsetof(struct rec, m), sizeof(((struct rec *)0)->m) }

/* an event class of the contract: its record and fields */
struct td_class {
	__u16 size;
	struct td_field field[MAX_FIELDS + 1];
};

static const struct td_class op_class = { sizeof(struct tsm_ev_pci_tsm_op), {
	FIELD(tsm_ev_pci_tsm_op, dev), FIELD(tsm_ev_pci_tsm_op, tdi_id),
	FIELD(tsm_ev_pci_tsm_op, vm), FIELD(tsm_ev_pci_tsm_op, reason),
	FIELD(tsm_ev_pci_tsm_op, ret) } };
static const struct td_class tdi_state_class = { sizeof(struct tsm_ev_pci_tsm_tdi_state), {
	FIELD(tsm_ev_pci_tsm_tdi_state, dev), FIELD(tsm_ev_pci_tsm_tdi_state, tdi_id),
	FIELD(tsm_ev_pci_tsm_tdi_state, old_state), FIELD(tsm_ev_pci_tsm_tdi_state, new_state) } };
static const struct td_class range_class = { sizeof(struct tsm_ev_pci_tsm_range), {
	FIELD(tsm_ev_pci_tsm_range, dev), FIELD(tsm_ev_pci_tsm_range, bar),
	FIELD(tsm_ev_pci_tsm_range, pfn), FIELD(tsm_ev_pci_tsm_range, npfns),
	FIELD(tsm_ev_pci_tsm_range, old_attr), FIELD(tsm_ev_pci_tsm_range, new_attr) } };
static const struct td_class buf_range_class = { sizeof(struct tsm_ev_vfio_dmabuf_range), {
	FIELD(tsm_ev_vfio_dmabuf_range, buf), FIELD(tsm_ev_vfio_dmabuf_range, dev),
	FIELD(tsm_ev_vfio_dmabuf_range, bar), FIELD(tsm_ev_vfio_dmabuf_range, kind),
	FIELD(tsm_ev_vfio_dmabuf_range, pfn), FIELD(tsm_ev_vfio_dmabuf_range, npfns) } };
static const struct td_class buf_obj_class = { sizeof(struct tsm_ev_vfio_dmabuf_obj), {
	FIELD(tsm_ev_vfio_dmabuf_obj, buf), FIELD(tsm_ev_vfio_dmabuf_obj, dev),
	FIELD(tsm_ev_vfio_dmabuf_obj, bar), FIELD(tsm_ev_vfio_dmabuf_obj, kind),
	FIELD(tsm_ev_vfio_dmabuf_obj, arg) } };
static const struct td_class ioas_class = { sizeof(struct tsm_ev_iommufd_ioas_dmabuf), {
	FIELD(tsm_ev_iommufd_ioas_dmabuf, ctx), FIELD(tsm_ev_iommufd_ioas_dmabuf, ioas),
	FIELD(tsm_ev_iommufd_ioas_dmabuf, iova), FIELD(tsm_ev_iommufd_ioas_dmabuf, buf),
	FIELD(tsm_ev_iommufd_ioas_dmabuf, pfn), FIELD(tsm_ev_iommufd_ioas_dmabuf, npfns),
	FIELD(tsm_ev_iommufd_ioas_dmabuf, arg) } };
static const struct td_class slot_class = { sizeof(struct tsm_ev_kvm_dmabuf_slot), {
	FIELD(tsm_ev_kvm_dmabuf_slot, vm), FIELD(tsm_ev_kvm_dmabuf_slot, slot),
	FIELD(tsm_ev_kvm_dmabuf_slot, gfn), FIELD(tsm_ev_kvm_dmabuf_slot, buf),
	FIELD(tsm_ev_kvm_dmabuf_slot, pfn), FIELD(tsm_ev_kvm_dmabuf_slot, npfns),
	FIELD(tsm_ev_kvm_dmabuf_slot, arg) } };

static const struct td_class cpu_class = { sizeof(struct tsm_ev_vfio_pci_bar), {
	FIELD(tsm_ev_vfio_pci_bar, dev), FIELD(tsm_ev_vfio_pci_bar, bar),
	FIELD(tsm_ev_vfio_pci_bar, pfn), FIELD(tsm_ev_vfio_pci_bar, npfns) } };

/* the tracepoints of the contract (docs/tracepoints.md), schema 1.4 */
static const struct td_event {
	const char *sys, *name;
	__u16 type;
	const struct td_class *class;
} td_events[] = {
	{ "pci_tsm", "pci_tsm_bind_begin", TSM_REC_PCI_TSM_BIND_BEGIN, &op_class },
	{ "pci_tsm", "pci_tsm_bind_end", TSM_REC_PCI_TSM_BIND_END, &op_class },
	{ "pci_tsm", "pci_tsm_unbind_begin", TSM_REC_PCI_TSM_UNBIND_BEGIN, &op_class },
	{ "pci_tsm", "pci_tsm_unbind_end", TSM_REC_PCI_TSM_UNBIND_END, &op_class },
	{ "pci_tsm", "pci_tsm_tdi_state", TSM_REC_PCI_TSM_TDI_STATE, &tdi_state_class },
	{ "pci_tsm", "pci_tsm_range", TSM_REC_PCI_TSM_RANGE, &range_class },
	{ "vfio_dmabuf", "vfio_dmabuf_export_range", TSM_REC_VFIO_DMABUF_EXPORT_RANGE, &buf_range_class },
	{ "vfio_dmabuf", "vfio_dmabuf_export", TSM_REC_VFIO_DMABUF_EXPORT, &buf_obj_class },
	{ "vfio_dmabuf", "vfio_dmabuf_revoke", TSM_REC_VFIO_DMABUF_REVOKE, &buf_obj_class },
	{ "vfio_dmabuf", "vfio_dmabuf_release", TSM_REC_VFIO_DMABUF_RELEASE, &buf_obj_class },
	{ "vfio_dmabuf", "vfio_dmabuf_restore", TSM_REC_VFIO_DMABUF_RESTORE, &buf_obj_class },
	{ "iommufd", "iommufd_ioas_map_dmabuf", TSM_REC_IOMMUFD_IOAS_MAP_DMABUF, &ioas_class },
	{ "iommufd", "iommufd_ioas_unmap_dmabuf", TSM_REC_IOMMUFD_IOAS_UNMAP_DMABUF, &ioas_class },
	{ "kvm", "kvm_dmabuf_slot_bind", TSM_REC_KVM_DMABUF_SLOT_BIND, &slot_class },
	{ "kvm", "kvm_dmabuf_slot_unbind", TSM_REC_KVM_DMABUF_SLOT_UNBIND, &slot_class },
	{ "vfio_pci", "vfio_pci_bar_map", TSM_REC_VFIO_PCI_BAR_MAP, &cpu_class },
	{ "vfio_pci", "vfio_pci_bar_zap", TSM_REC_VFIO_PCI_BAR_ZAP, &cpu_class },
};

#define NR_EVENTS	ARRAY_SIZE(td_events)

/* an event of the contract whose format the file holds */
struct td_known {
	int id;				/* its id in the file */
	const struct td_event *ev;
	struct tep_format_field *field[MAX_FIELDS];
};

/* room for any record an event of a trace.dat becomes, a stack the largest */
union td_rec {
	struct tsm_rec_hdr hdr;
	struct tsm_ev_kvm_dmabuf_slot slot;
	struct tsm_rec_lost lost;
	struct {
		struct tsm_rec_stack st;
		__u64 ip[TSM_STACK_MAX];
	} stack;
};

/* per CPU, as its events go by */
struct td_cpu {
	__u64 seq;			/* its last event's, when of the contract; else 0 */
	__u64 ts;			/* its last event's timestamp */
	bool seen;			/* any event yet */
	long first_loss, loss;		/* its first and next loss in td->loss, or -1 */
};

/*
 * Events a CPU's ring buffer lost: after its event at @after (0: before
 * its first), before its event at @until, the first of the page that says
 * so. When the other CPUs' events of that time came, before or after
 * them, is not known.
 */
struct td_loss {
	__u64 after, until;
	__s64 nr;			/* -1: the page does not say how many */
	int cpu;
	long next;			/* the CPU's next loss, or -1 */
};

struct tracedat {
	struct tracecmd_input *in;
	struct tep_handle *tep;
	unsigned int version;
	struct td_known known[NR_EVENTS];
	unsigned int nr_known;
	int stack_id;			/* ftrace:kernel_stack, or -1 */
	struct tep_format_field *stack_size, *stack_caller;

	/* the replay */
	struct tsm_file *f;
	const struct tsm_ops *ops;
	void *ctx;
	enum tsm_read_status st;
	__u64 seq;			/* of the last event converted */
	struct td_cpu *cpu;
	int nr_cpus;
	struct hash named;		/* symbols given to f->on_symbol */
	__u64 nr_lost, nr_lost_uncounted;
	/* the losses, found by a first pass over the file, in its order */
	struct td_loss *loss;
	size_t nr_loss;
	int *loss_cpus;			/* the CPUs that lost events */
	unsigned int nr_loss_cpus;
	__u64 set_aside;		/* events of the contract in the dark, not yet counted */
	__u64 nr_set_aside;		/* all of them */
};

bool tracedat_magic(const void *head, size_t len)
{
	size_t n = len < TRACEDAT_MAGIC_LEN ? len : TRACEDAT_MAGIC_LEN;

	return len >= 8 && !memcmp(head, TRACEDAT_MAGIC, n);
}

unsigned int tracedat_version(const struct tsm_file *f)
{
	return f->td ? f->td->version : 0;
}

#define UNREADABLE "trace-cmd trace.dat version %u that libtracecmd cannot read%s%s%s: the file is damaged or cut short (re-record it), or of a version this libtracecmd does not know"
#define SAYS(w)	(w)[0] ? " (libtracecmd: " : "", (w), (w)[0] ? ")" : ""
#define DAMAGED "libtracecmd could not read all of its events%s%s%s: the file is damaged; re-record it"

__attribute__((format(printf, 2, 3)))
static enum tsm_read_status td_fail(struct tsm_file *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(f->msg, sizeof(f->msg), "%s: ", f->path);
	va_start(ap, fmt);
	vsnprintf(f->msg + n, sizeof(f->msg) - n, fmt, ap);
	va_end(ap);
	return TSM_READ_UNUSABLE;
}

/*
 * What libtracecmd and libtraceevent say while a trace.dat is read: their
 * messages go through tep_vprint(), which libtraceevent lets a program
 * override; the first one is kept for our message, the others dropped.
 * Outside of a read they are printed as the library prints them.
 */
static struct {
	bool on;
	char msg[256];
} said;

int tep_vprint(const char *name, enum tep_loglevel level, bool print_err, const char *fmt,
	       va_list ap)
{
	size_t n;

	if (!said.on)
		return __tep_vprint(name, level, print_err, fmt, ap);
	if (said.msg[0])
		return 0;
	vsnprintf(said.msg, sizeof(said.msg), fmt, ap);
	for (n = strlen(said.msg); n && (said.msg[n - 1] == '\n' || said.msg[n - 1] == ' '); n--)
		said.msg[n - 1] = 0;
	return 0;
}

static void listen_begin(void)
{
	said.on = true;
	said.msg[0] = 0;
	tracecmd_set_loglevel(TEP_LOG_WARNING);
	tep_set_loglevel(TEP_LOG_WARNING);
}

static void listen_end(void)
{
	said.on = false;
}

/*
 * A few of libtracecmd's words when it opens a file are printf()s (a file
 * cut short, an empty CPU): while it opens one, standard output and error
 * go to a memory file instead.
 */
struct td_quiet {
	int mem, out, err;
};

static int quiet_begin(struct td_quiet *q)
{
	fflush(stdout);
	fflush(stderr);
	q->mem = memfd_create("tracecmd", MFD_CLOEXEC);
	q->out = dup(STDOUT_FILENO);
	q->err = dup(STDERR_FILENO);
	if (q->mem < 0 || q->out < 0 || q->err < 0 ||
	    dup2(q->mem, STDOUT_FILENO) < 0 || dup2(q->mem, STDERR_FILENO) < 0) {
		if (q->out >= 0)
			dup2(q->out, STDOUT_FILENO);
		if (q->err >= 0)
			dup2(q->err, STDERR_FILENO);
		close(q->mem);
		close(q->out);
		close(q->err);
		return -1;
	}
	return 0;
}

/* back to our own output; the last line printed into @line ("" if none) */
static void quiet_end(struct td_quiet *q, char *line, size_t len)
{
	char buf[512], *p, *last = buf;
	off_t size;
	ssize_t n = 0;

	fflush(stdout);
	fflush(stderr);
	dup2(q->out, STDOUT_FILENO);
	dup2(q->err, STDERR_FILENO);
	close(q->out);
	close(q->err);
	size = lseek(q->mem, 0, SEEK_END);
	if (size > 0)
		n = pread(q->mem, buf, sizeof(buf) - 1,
			  size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0);
	close(q->mem);
	buf[n > 0 ? n : 0] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	p = strrchr(buf, '\n');
	if (p)
		last = p + 1;
	for (p = last; *p; p++)
		if ((unsigned char)*p < ' ')
			*p = ' ';
	snprintf(line, len, "%s", last);
}

/*
 * The file, @head and what f->fd still has to give, into an unlinked
 * temporary file in $TMPDIR that becomes f->fd: nobody else can change it
 * under libtracecmd's mapping.
 */
static enum tsm_read_status copy_in(struct tsm_file *f, const void *head, size_t len)
{
	const char *dir = getenv("TMPDIR") ? : "/tmp";
	char tmp[4096], buf[1 << 16], why[160];
	struct iovec v = { (void *)head, len };
	int fd, ret;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s/tsmtrace-tracedat.XXXXXX", dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return td_fail(f, "cannot make a copy of the trace.dat to read in %s: %s (set TMPDIR)",
			       dir, strerror(errno));
	unlink(tmp);
	ret = write_all(fd, &v, 1);
	while (!ret) {
		n = read(f->fd, buf, sizeof(buf));
		if (!n)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = errno;
			close(fd);
			return td_fail(f, "cannot read: %s", strerror(ret));
		}
		v.iov_base = buf;
		v.iov_len = n;
		ret = write_all(fd, &v, 1);
	}
	if (ret) {
		close(fd);
		return td_fail(f, "cannot make a copy of the trace.dat to read in %s: %s (set TMPDIR)",
			       dir, strerror(-ret));
	}
	/* the copy is whole when the file did not change while it was copied */
	if (tsm_file_changed(f, why, sizeof(why))) {
		close(fd);
		return td_fail(f, "%s; " TSM_FILE_CHANGED_REMEDY, why);
	}
	close(f->fd);
	f->fd = fd;
	f->stream = false;
	return TSM_READ_OK;
}

/* a field of @ev the record is read from: a number, 1 to 8 bytes */
static struct tep_format_field *number_field(struct tsm_file *f, struct tep_event *ev,
					     const char *name, enum tsm_read_status *st)
{
	struct tep_format_field *fl = tep_find_field(ev, name);

	if (!fl) {
		*st = td_fail(f, "event %s:%s of the trace.dat has no field '%s': its format is not the one of docs/tracepoints.md (a kernel of another version of the series?)",
			      ev->system, ev->name, name);
		return NULL;
	}
	if ((fl->flags & (TEP_FIELD_IS_ARRAY | TEP_FIELD_IS_STRING | TEP_FIELD_IS_DYNAMIC)) ||
	    (fl->size != 1 && fl->size != 2 && fl->size != 4 && fl->size != 8)) {
		*st = td_fail(f, "field '%s' of event %s:%s of the trace.dat is not a number of 1, 2, 4 or 8 bytes (%s, %d bytes): its format is not the one of docs/tracepoints.md",
			      name, ev->system, ev->name, fl->type, fl->size);
		return NULL;
	}
	return fl;
}

/* the events of the contract the file has the format of, and their fields */
static enum tsm_read_status find_events(struct tsm_file *f, struct tracedat *td, __u32 *observed)
{
	enum tsm_read_status st = TSM_READ_OK;
	struct tep_event *ev;
	unsigned int i, j;

	*observed = 0;
	for (i = 0; i < NR_EVENTS; i++) {
		const struct td_event *te = &td_events[i];
		struct td_known *k = &td->known[td->nr_known];

		ev = tep_find_event_by_name(td->tep, te->sys, te->name);
		if (!ev)
			continue;
		for (j = 0; te->class->field[j].name; j++) {
			k->field[j] = number_field(f, ev, te->class->field[j].name, &st);
			if (!k->field[j])
				return st;
		}
		k->id = ev->id;
		k->ev = te;
		td->nr_known++;
		*observed |= TSM_EV_BIT(te->type);
	}
	if ((*observed & TSM_EV_PCI_TSM) != TSM_EV_PCI_TSM)
		return td_fail(f, "the trace.dat holds %s the device layout events of docs/tracepoints.md (system pci_tsm), without which nothing can be checked: record them with 'trace-cmd record -e pci_tsm -e vfio_dmabuf -e iommufd -e vfio_pci -e kvm:kvm_dmabuf_slot_bind -e kvm:kvm_dmabuf_slot_unbind' on a kernel of the series",
			       *observed & TSM_EV_PCI_TSM ? "only some of" : "none of");
	/* -T: ftrace's kernel_stack after each event; without it, no stacks */
	td->stack_id = -1;
	ev = tep_find_event_by_name(td->tep, "ftrace", "kernel_stack");
	if (ev) {
		td->stack_size = tep_find_field(ev, "size");
		td->stack_caller = tep_find_field(ev, "caller");
		if (td->stack_size && td->stack_caller && td->stack_caller->elementsize > 0 &&
		    td->stack_caller->elementsize <= 8 && td->stack_size->size <= 8)
			td->stack_id = ev->id;
	}
	return TSM_READ_OK;
}

/* "6" or "7" and a NUL after the magic: the file version */
static enum tsm_read_status read_version(struct tsm_file *f, struct tracedat *td)
{
	char buf[TRACEDAT_MAGIC_LEN + 16];
	unsigned long v;
	char *end = NULL;
	ssize_t n;

	n = pread(f->fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return td_fail(f, "cannot read: %s", strerror(errno));
	buf[n > 0 ? n : 0] = 0;
	if (memcmp(buf, TRACEDAT_MAGIC, n < TRACEDAT_MAGIC_LEN ? n : TRACEDAT_MAGIC_LEN))
		return td_fail(f, "starts like a trace-cmd trace.dat, but is not one: give a file written by 'tsmtrace record' or 'trace-cmd record'");
	errno = 0;
	v = n > TRACEDAT_MAGIC_LEN ? strtoul(buf + TRACEDAT_MAGIC_LEN, &end, 10) : 0;
	if (n <= TRACEDAT_MAGIC_LEN || end - buf >= n)
		return td_fail(f, "a trace-cmd trace.dat cut short (%zd bytes): nothing to replay; re-record it", n);
	if (errno || end == buf + TRACEDAT_MAGIC_LEN || *end || v > 1000)
		return td_fail(f, "a trace-cmd trace.dat without a file version after its magic: the file is damaged; re-record it");
	td->version = v;
	return TSM_READ_OK;
}

/* a trace file's header for what the trace.dat holds */
static void make_header(struct tsm_file *f, const struct tracedat *td, __u32 observed)
{
	struct tsm_file_header *h = &f->hdr;

	memset(h, 0, sizeof(*h));
	h->header_size = sizeof(*h);
	h->schema_major = TSM_SCHEMA_MAJOR;
	h->schema_minor = TSM_SCHEMA_MINOR;
	h->start_monotonic_ns = tracecmd_get_first_ts(td->in);
	h->events_observed = observed;
	snprintf(h->kernel_release, sizeof(h->kernel_release), "unknown");
	snprintf(h->tool_version, sizeof(h->tool_version), "trace-cmd");
	snprintf(h->hostname, sizeof(h->hostname), "unknown");
}

/* libtracecmd's handle of the copy, on a descriptor of its own; NULL if it cannot read it */
static struct tracecmd_input *input_of(int fd)
{
	struct tracecmd_input *in;
	int dfd = dup(fd);

	if (dfd < 0)
		return NULL;
	if (lseek(dfd, 0, SEEK_SET) < 0) {
		close(dfd);
		return NULL;
	}
	listen_begin();
	in = tracecmd_open_fd(dfd, TRACECMD_FL_LOAD_NO_PLUGINS);
	listen_end();
	/* it closes the descriptor once it took it, not before */
	if (!in && fcntl(dfd, F_GETFD) >= 0)
		close(dfd);
	return in;
}

/*
 * Can libtracecmd read the copy? Tried in a child first: libtracecmd 1.3
 * crashes when it closes a file it failed to read (one cut short in its
 * CPU data), and a damaged file must be refused, not crash the reader. 0,
 * or -1 with what libtracecmd said (or how the child ended) in @why.
 */
static int try_input(int fd, char *why, size_t len)
{
	struct td_quiet q;
	int status = 0;
	pid_t pid;

	why[0] = 0;
	if (quiet_begin(&q)) {
		snprintf(why, len, "%s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (!pid) {
		struct tracecmd_input *in;

		/* what it prints before it crashes is what went wrong */
		setvbuf(stdout, NULL, _IONBF, 0);
		in = input_of(fd);

		if (!in && said.msg[0])
			fprintf(stderr, "%s\n", said.msg);
		fflush(NULL);
		_exit(in ? 0 : 1);
	}
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	quiet_end(&q, why, len);
	if (pid < 0) {
		snprintf(why, len, "cannot fork: %s", strerror(errno));
		return -1;
	}
	if (WIFSIGNALED(status) && !why[0])
		snprintf(why, len, "it crashed on it: %s", strsignal(WTERMSIG(status)));
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : -1;
}


static enum tsm_read_status scan_losses(struct tsm_file *f, struct tracedat *td);

enum tsm_read_status tracedat_open(struct tsm_file *f, const void *head, size_t len)
{
	enum tsm_read_status st;
	struct tracedat *td;
	struct td_quiet q;
	char why[256];
	__u32 observed;

	td = calloc(1, sizeof(*td));
	if (!td || hash_init(&td->named, 64)) {
		free(td);
		return td_fail(f, "out of memory");
	}
	f->td = td;
	st = copy_in(f, head, len);
	if (st == TSM_READ_OK)
		st = read_version(f, td);
	if (st != TSM_READ_OK)
		return st;
	if (try_input(f->fd, why, sizeof(why)))
		return td_fail(f, UNREADABLE, td->version, SAYS(why));
	/* the same bytes again, here: what libtracecmd says of them is dropped */
	if (quiet_begin(&q))
		return td_fail(f, "cannot read: %s", strerror(errno));
	td->in = input_of(f->fd);
	quiet_end(&q, why, sizeof(why));
	if (!td->in)
		return td_fail(f, UNREADABLE, td->version, SAYS(why));
	td->tep = tracecmd_get_tep(td->in);
	/* the events of 'trace-cmd record -B' are in buffers of their own */
	if (tracecmd_buffer_instances(td->in) > 0)
		return td_fail(f, "the trace.dat holds buffer instances (trace-cmd record -B %s...): tsmtrace reads the top buffer only, and cannot say that the series' events are not in another; record without -B",
			       tracecmd_buffer_instance_name(td->in, 0));
	st = find_events(f, td, &observed);
	if (st == TSM_READ_OK)
		st = scan_losses(f, td);
	if (st != TSM_READ_OK)
		return st;
	make_header(f, td, observed);
	return TSM_READ_OK;
}

/* hand one record to the caller's handlers */
static int feed(struct tracedat *td, const struct tsm_rec_hdr *rec)
{
	struct tsm_file *f = td->f;
	bool impossible;
	const char *why;
	int ret;

	ret = tsm_dispatch(td->ops, td->ctx, rec, rec->size);
	if (ret == -EINVAL) {
		why = tsm_rec_malformed(rec, rec->size, &impossible);
		td->st = impossible ?
			td_fail(f, "malformed input: %s event (seq %" PRIu64 "): %s; no kernel emits such an event",
				tsm_rec_name(rec->type), (uint64_t)rec->seq, why) :
			td_fail(f, "malformed %s event (seq %" PRIu64 "): %s", tsm_rec_name(rec->type),
				(uint64_t)rec->seq, why ? : "refused");
		return -1;
	}
	if (ret) {
		snprintf(f->msg, sizeof(f->msg), "%s: %s", f->path, strerror(-ret));
		td->st = TSM_READ_HANDLER;
		return -1;
	}
	f->nr_records++;
	return 0;
}

static void init_hdr(struct tsm_rec_hdr *h, __u16 type, __u16 size, const struct tep_record *r,
		     int pid, __u64 seq)
{
	h->type = type;
	h->size = size;
	h->cpu = r->cpu;
	h->pid = pid;
	h->flags = 0;
	h->ts = r->ts;
	h->seq = seq;
}

/*
 * Loss @l, at @r, the first event after it on its CPU: the events lost and
 * those of the contract set aside while they were
 */
static int lost(struct tracedat *td, const struct td_loss *l, const struct tep_record *r)
{
	union td_rec rec = { 0 };

	init_hdr(&rec.hdr, TSM_REC_LOST, sizeof(rec.lost), r, 0, td->seq + 1);
	rec.lost.nr = (l->nr > 0 ? (__u64)l->nr : 1) + td->set_aside;
	rec.lost.source = TSM_LOST_RINGBUF;
	td->nr_lost += rec.lost.nr;
	td->nr_lost_uncounted += l->nr < 0;
	td->set_aside = 0;
	return feed(td, &rec.hdr);
}

/*
 * Did @r come while another CPU was losing events? Then whether it came
 * before or after them is not known, and neither is the state it would be
 * judged over: it is set aside, and counted with the loss.
 */
static bool in_the_dark(const struct tracedat *td, const struct tep_record *r)
{
	unsigned int i;

	for (i = 0; i < td->nr_loss_cpus; i++) {
		const struct td_cpu *c = &td->cpu[td->loss_cpus[i]];
		const struct td_loss *l = c->loss >= 0 ? &td->loss[c->loss] : NULL;

		if (l && l->cpu != r->cpu && l->after <= r->ts && r->ts <= l->until)
			return true;
	}
	return false;
}

/* @v into the record's member of field @fl (4 or 8 bytes: the contract's) */
static void put(struct tsm_rec_hdr *rec, const struct td_field *fl, __u64 v)
{
	__u32 v32 = v;

	if (fl->size == sizeof(v32))
		memcpy((char *)rec + fl->off, &v32, sizeof(v32));
	else
		memcpy((char *)rec + fl->off, &v, sizeof(v));
}

/* an event of the contract: its record, the fields read by name */
static int convert(struct tracedat *td, const struct td_known *k, const struct tep_record *r)
{
	const struct td_class *c = k->ev->class;
	union td_rec rec = { 0 };
	unsigned long long v;
	unsigned int i;

	for (i = 0; c->field[i].name; i++) {
		struct tep_format_field *fl = k->field[i];

		if (r->size < 0 || fl->offset < 0 || fl->offset + fl->size > r->size) {
			td->st = td_fail(td->f, "a %s event of %d bytes, shorter than its format (field '%s' at %d, %d bytes): the file is damaged; re-record it",
					 k->ev->name, r->size, fl->name, fl->offset, fl->size);
			return -1;
		}
		if (tep_read_number_field(fl, r->data, &v)) {
			td->st = td_fail(td->f, "cannot read field '%s' of a %s event", fl->name,
					 k->ev->name);
			return -1;
		}
		put(&rec.hdr, &c->field[i], v);
	}
	init_hdr(&rec.hdr, k->ev->type, c->size, r, tep_data_pid(td->tep, (struct tep_record *)r),
		 ++td->seq);
	return feed(td, &rec.hdr);
}

/* the symbol that holds @ip, from the file's kallsyms, to f->on_symbol once */
static void name_frame(struct tracedat *td, __u64 ip)
{
	struct tsm_file *f = td->f;
	unsigned long long start;
	const char *name;
	struct hkey k = { { 0 } };

	if (!f->on_symbol)
		return;
	name = tep_find_function(td->tep, ip);
	start = tep_find_function_address(td->tep, ip);
	if (!name || !start)
		return;
	k.k[0] = start;
	if (hash_find(&td->named, &k) || hash_add(&td->named, &k, td))
		return;
	f->on_symbol(f->sym_arg, start, name);
	f->nr_symbols++;
}

/* ftrace's kernel_stack: the stack of the event just before it on its CPU */
static int stack(struct tracedat *td, const struct tep_record *r, __u64 event_seq)
{
	const struct tep_format_field *c = td->stack_caller;
	union td_rec rec = { 0 };
	unsigned long long n, ip;
	unsigned int i, nr = 0;

	if (td->stack_size->offset + td->stack_size->size > r->size || c->offset > r->size ||
	    tep_read_number_field(td->stack_size, r->data, &n))
		return 0;
	/* as many frames as it says, and as its record holds */
	if (n > (unsigned long long)(r->size - c->offset) / c->elementsize)
		n = (r->size - c->offset) / c->elementsize;
	for (i = 0; i < n && nr < TSM_STACK_MAX; i++) {
		ip = tep_read_number(td->tep, (char *)r->data + c->offset + i * c->elementsize,
				     c->elementsize);
		if (!ip || ip == ~0ULL || (c->elementsize == 4 && ip == 0xffffffffULL))
			continue;
		rec.stack.ip[nr++] = ip;
		name_frame(td, ip);
	}
	init_hdr(&rec.hdr, TSM_REC_STACK, sizeof(rec.stack.st) + nr * sizeof(__u64), r,
		 tep_data_pid(td->tep, (struct tep_record *)r), event_seq + 1);
	rec.stack.st.event_seq = event_seq;
	rec.stack.st.nr = nr;
	return feed(td, &rec.hdr);
}

/* what is known of CPU @cpu; the array grows with the CPUs met */
static struct td_cpu *cpu_of(struct tracedat *td, int cpu)
{
	if (cpu < 0 || cpu >= 1 << 16) {
		td->st = td_fail(td->f, "an event of CPU %d: no such CPU; the file is damaged", cpu);
		return NULL;
	}
	if (cpu >= td->nr_cpus) {
		int nr = cpu + 16;
		struct td_cpu *c = realloc(td->cpu, nr * sizeof(*c));

		if (!c) {
			td->st = td_fail(td->f, "out of memory");
			return NULL;
		}
		memset(c + td->nr_cpus, 0, (nr - td->nr_cpus) * sizeof(*c));
		for (; td->nr_cpus < nr; td->nr_cpus++)
			c[td->nr_cpus].first_loss = c[td->nr_cpus].loss = -1;
		td->cpu = c;
	}
	return &td->cpu[cpu];
}

/* the first pass: where each CPU lost events */
static int on_scan(struct tracecmd_input *in, struct tep_record *r, int cpu, void *arg)
{
	struct tracedat *td = arg;
	struct td_cpu *c = cpu_of(td, r->cpu);
	struct td_loss *l;

	(void)in;
	(void)cpu;
	if (!c)
		return -1;
	if (r->missed_events) {
		l = realloc(td->loss, (td->nr_loss + 1) * sizeof(*l));
		if (!l) {
			td->st = td_fail(td->f, "out of memory");
			return -1;
		}
		td->loss = l;
		l += td->nr_loss++;
		l->after = c->seen ? c->ts : 0;
		l->until = r->ts;
		l->nr = r->missed_events;
		l->cpu = r->cpu;
		l->next = -1;
	}
	c->ts = r->ts;
	c->seen = true;
	return 0;
}

/* each CPU's first loss, and the next of each, in the order they came */
static int chain_losses(struct tracedat *td)
{
	long *last;
	size_t i;
	int cpu;

	if (!td->nr_loss)
		return 0;
	last = malloc(td->nr_cpus * sizeof(*last));
	td->loss_cpus = malloc(td->nr_cpus * sizeof(*td->loss_cpus));
	if (!last || !td->loss_cpus) {
		free(last);
		return -ENOMEM;
	}
	for (cpu = 0; cpu < td->nr_cpus; cpu++)
		last[cpu] = -1;
	for (i = 0; i < td->nr_loss; i++) {
		cpu = td->loss[i].cpu;
		if (last[cpu] < 0) {
			td->loss_cpus[td->nr_loss_cpus++] = cpu;
			td->cpu[cpu].first_loss = i;
		} else
			td->loss[last[cpu]].next = i;
		last[cpu] = i;
	}
	free(last);
	return 0;
}

/*
 * The first pass, on a handle of its own: the losses, in time. It reads
 * every page, so a page libtracecmd cannot read refuses the file here.
 */
static enum tsm_read_status scan_losses(struct tsm_file *f, struct tracedat *td)
{
	struct tracecmd_input *in;
	struct td_quiet q;
	char why[256];
	int ret;

	if (quiet_begin(&q))
		return td_fail(f, "cannot read: %s", strerror(errno));
	in = input_of(f->fd);
	quiet_end(&q, why, sizeof(why));
	if (!in)
		return td_fail(f, UNREADABLE, td->version, SAYS(why));
	td->f = f;
	td->st = TSM_READ_OK;
	listen_begin();
	ret = tracecmd_iterate_events(in, NULL, 0, on_scan, td);
	if (td->st == TSM_READ_OK && (ret < 0 || said.msg[0]))
		td->st = td_fail(f, DAMAGED, SAYS(said.msg));
	tracecmd_close(in);
	listen_end();
	if (td->st == TSM_READ_OK && chain_losses(td))
		td->st = td_fail(f, "out of memory");
	return td->st;
}

static int on_record(struct tracecmd_input *in, struct tep_record *r, int cpu, void *arg)
{
	struct tracedat *td = arg;
	struct td_cpu *c = cpu_of(td, r->cpu);
	unsigned int i;
	__u64 seq;
	int id;

	(void)in;
	(void)cpu;
	if (!c)
		return -1;
	seq = c->seq;
	c->seq = 0;
	if (r->missed_events && c->loss >= 0) {
		/* the first event after its CPU's loss: the loss, here */
		if (lost(td, &td->loss[c->loss], r))
			return -1;
		c->loss = td->loss[c->loss].next;
		seq = 0;	/* a stack now may be of an event lost */
	}
	id = tep_data_type(td->tep, r);
	if (id == td->stack_id)
		return seq ? stack(td, r, seq) : 0;
	for (i = 0; i < td->nr_known; i++)
		if (td->known[i].id == id)
			break;
	if (i == td->nr_known)
		return 0;	/* another event: the stack after it is not ours */
	if (td->nr_loss_cpus && in_the_dark(td, r)) {
		td->set_aside++;
		td->nr_set_aside++;
		return 0;
	}
	if (convert(td, &td->known[i], r))
		return -1;
	c->seq = td->seq;
	return 0;
}

enum tsm_read_status tracedat_replay(struct tsm_file *f, const struct tsm_ops *ops, void *ctx)
{
	struct tracedat *td = f->td;
	int ret, i, n;

	td->f = f;
	td->ops = ops;
	td->ctx = ctx;
	td->st = TSM_READ_OK;
	td->seq = 0;
	td->nr_lost = td->nr_lost_uncounted = td->set_aside = td->nr_set_aside = 0;
	for (i = 0; i < td->nr_cpus; i++) {
		td->cpu[i].seq = 0;
		td->cpu[i].loss = td->cpu[i].first_loss;
	}
	f->nr_records = 0;
	/* the handlers print (report): only the libraries' messages are taken */
	listen_begin();
	ret = tracecmd_iterate_events(td->in, NULL, 0, on_record, td);
	listen_end();
	if (td->st != TSM_READ_OK)
		return td->st;
	/* libtracecmd speaks while it reads only of pages it cannot read */
	if (ret < 0 || said.msg[0])
		return td_fail(f, DAMAGED, SAYS(said.msg));
	f->end.nr_records = f->nr_records;
	f->end.nr_lost = td->nr_lost;
	f->has_end = true;
	n = snprintf(f->warn, sizeof(f->warn), "%s: ", f->path);
	if (td->nr_lost_uncounted)
		n += snprintf(f->warn + n, sizeof(f->warn) - n,
			      "%" PRIu64 " page(s) of the ring buffer lost events without saying how many: each is counted as 1 lost event%s",
			      (uint64_t)td->nr_lost_uncounted, td->nr_set_aside ? "; " : "");
	if (td->nr_set_aside && n < (int)sizeof(f->warn))
		snprintf(f->warn + n, sizeof(f->warn) - n,
			 "%" PRIu64 " event(s) that other CPUs recorded while one lost events are set aside and counted as lost: whether they came before or after the lost ones is not known",
			 (uint64_t)td->nr_set_aside);
	if (!td->nr_lost_uncounted && !td->nr_set_aside)
		f->warn[0] = 0;
	return TSM_READ_OK;
}

void tracedat_close(struct tsm_file *f)
{
	struct tracedat *td = f->td;

	if (!td)
		return;
	tracecmd_close(td->in);
	hash_fini(&td->named);
	free(td->cpu);
	free(td->loss);
	free(td->loss_cpus);
	free(td);
	f->td = NULL;
}
