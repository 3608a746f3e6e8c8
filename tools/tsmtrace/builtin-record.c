// SPDX-License-Identifier: GPL-2.0
/*
 * tsmtrace record / live.
 *
 * Both attach BPF programs to the tracepoints of docs/tracepoints.md. The
 * writer they feed is the library in tracefile.c (tsm_writer_*); the
 * checker is the engine every other command uses (tsm_engine_feed()).
 *
 * They look for the events in the kernel's BTF first: without the device
 * layout (pci_tsm) nothing can be checked and they refuse; a system whose
 * events are missing (a kernel without DMABUF-backed KVM memslots has no
 * kvm_dmabuf_slot_* events) is left out, said once, recorded in the trace
 * file's header, and the verdict's coverage names what was not checked.
 * Filters (--device, --vm, --pid) choose what 'live' prints, never
 * what it checks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <linux/capability.h>
#include <unistd.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "builtin.h"
#include "live.h"
#include "stock.h"
#include "tracefile.h"

/*
 * The events, by record type, as BTF knows a tracepoint: btf_trace_<name>.
 * The device layout (pci_tsm) is needed for any check; the other systems
 * are used when the kernel has all of their events (an IOAS map without
 * its unmap, say, would be worse than neither), and what is missing is
 * reported as not observed, never as checked.
 */
static const __u32 systems[] = {
	TSM_EV_PCI_TSM, TSM_EV_VFIO_DMABUF, TSM_EV_IOMMUFD, TSM_EV_KVM, TSM_EV_VFIO_PCI,
};

/*
 * Which btf_trace_<name> types are in the kernel's BTF: vmlinux's and, on
 * a kernel whose KVM, iommufd and vfio-pci are modules, theirs, read with
 * libbpf's BTF API. A file that is not BTF is read as a list of
 * NUL-terminated names (the tests pretend to be kernels with it).
 * From the same BTF, o->stock_progs: what finds the DMABUFs of VFIO open at
 * start (live.c). Returns a TSM_EV_* mask, or -errno.
 */
static long btf_events(struct live_opts *o, const char *btf_path)
{
	size_t cap = 1 << 20, len = 0;
	char *buf, *nb, buf_err[128];
	struct kbtf *k;
	__u32 mask = 0, t;
	ssize_t n;
	int fd, err;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	err = kbtf_load(k, btf_path);
	if (!err) {
		for (t = 1; t < TSM_REC_NR_EVENTS; t++) {
			char name[64];
			__s32 id;

			snprintf(name, sizeof(name), "btf_trace_%s", tsm_rec_name(t));
			if (kbtf_find(k, name, BTF_KIND_TYPEDEF, &id))
				mask |= TSM_EV_BIT(t);
		}
		o->stock_progs = stock_seed_progs(k, o->seed_missing, sizeof(o->seed_missing));
		kbtf_free(k);
		free(k);
		return mask;
	}
	free(k);
	o->stock_progs = 0;
	libbpf_strerror(err, buf_err, sizeof(buf_err));
	snprintf(o->seed_missing, sizeof(o->seed_missing), "readable BTF (%s)", buf_err);
	fd = open(btf_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	/* sysfs may report a size of 0: read until EOF */
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += n;
		if (len < cap)
			continue;
		nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			close(fd);
			return -ENOMEM;
		}
		buf = nb;
		cap *= 2;
	}
	close(fd);
	for (t = 1; t < TSM_REC_NR_EVENTS; t++) {
		char name[64];
		size_t nl = snprintf(name, sizeof(name), "btf_trace_%s", tsm_rec_name(t)) + 1;

		if (memmem(buf, len, name, nl))
			mask |= TSM_EV_BIT(t);
	}
	free(buf);
	return mask;
}

static void list_events(char *b, size_t len, __u32 mask)
{
	size_t n = 0;
	__u32 t;

	b[0] = 0;
	for (t = 1; t < TSM_REC_NR_EVENTS && n < len; t++)
		if (mask & TSM_EV_BIT(t))
			n += snprintf(b + n, len - n, "%s%s", n ? ", " : "", tsm_rec_name(t));
}

/*
 * Decide what to attach to: o->observed. Returns 0, or EXIT_UNUSABLE after
 * saying why. Says once which events are missing and what that leaves
 * unknown; the verdict repeats it as its coverage.
 */
static int need_events(struct live_opts *o)
{
	const char *btf = getenv("TSMTRACE_BTF") ? : "/sys/kernel/btf/vmlinux";
	char missing[512];
	struct utsname u;
	unsigned int i;
	__u32 use = 0;
	long present;

	uname(&u);
	if (o->source == SRC_STOCK)
		return stock_probe(o, btf, false);
	present = btf_events(o, btf);
	if (present < 0) {
		p_err(o->cmd, "cannot read the kernel's BTF (%s): %s; tsmtrace needs a kernel built with CONFIG_DEBUG_INFO_BTF (every distribution kernel of 6.19 and later is)",
		      btf, strerror(-present));
		return EXIT_UNUSABLE;
	}
	for (i = 0; i < sizeof(systems) / sizeof(systems[0]); i++)
		if ((present & systems[i]) == systems[i])
			use |= systems[i];
	if (!(use & TSM_EV_PCI_TSM) && o->source == SRC_AUTO) {
		fprintf(stderr, "%s: kernel %s does not have the tsmtrace tracepoints: using its own functions instead (--source=stock)\n",
			o->cmd, u.release);
		return stock_probe(o, btf, false);
	}
	if (!(use & TSM_EV_PCI_TSM)) {
		list_events(missing, sizeof(missing), TSM_EV_PCI_TSM & ~present);
		p_err(o->cmd, "kernel %s does not have the tsmtrace tracepoints (no %s in %s, %d of %d events present): --source=series needs a kernel with the series of kernel/patches; --source=stock (the default falls back to it) reads the functions of any kernel of 6.19 and later",
		      u.release, missing, btf, __builtin_popcount(present),
		      __builtin_popcount(TSM_EV_ALL));
		return EXIT_UNUSABLE;
	}
	if (use != TSM_EV_ALL) {
		char what[256] = "";
		size_t n = 0;

		list_events(missing, sizeof(missing), TSM_EV_ALL & ~use);
		for (i = 0; i < sizeof(systems) / sizeof(systems[0]); i++)
			if (!(use & systems[i]))
				n += snprintf(what + n, sizeof(what) - n, "%s%s", n ? " and " : "",
					      tsm_unobserved_what(systems[i]));
		p_warn(o->cmd, "kernel %s lacks %d of %d events (%s): %s cannot be observed; the verdict covers the rest and says what it does not cover",
		       u.release, __builtin_popcount(TSM_EV_ALL & ~use),
		       __builtin_popcount(TSM_EV_ALL), missing, what);
	}
	/* optional events: attached when the kernel has them */
	o->observed = use | (present & TSM_EV_OPTIONAL);
	return 0;
}

static void usage(FILE *f, const char *cmd)
{
	bool rec = !strcmp(cmd, "record");

	if (rec)
		fprintf(f, "usage: %s record -o FILE [OPTIONS]\n"
			"  -o, --output FILE          the trace file (written as .FILE.XXXXXX, renamed when complete)\n",
			tsm_prog);
	else
		fprintf(f, "usage: %s live [OPTIONS]\n"
			"  -o, --output FILE          also record into FILE\n"
			"      --device DEV           print only the transitions of this PCI device\n"
			"      --vm VM                print only those of this VM (the event's vm id)\n"
			"      --pid PID              print only those of this thread\n"
			"  -q, --quiet                print no transitions: the violations and the verdict\n"
			"                             alone (as record, without a file unless -o)\n",
			tsm_prog);
	fprintf(f, "      --source=SRC           what to attach to: series (the tracepoints of the kernel\n"
		"                             series), stock (the functions of a kernel without them:\n"
		"                             mainline 6.19 and later) or auto (the default: series\n"
		"                             when the kernel has its tracepoints, else stock)\n");
	fprintf(f, "      --compress=ALG         the file's blocks of records: none, zstd or zstd:LEVEL\n"
		"                             (LEVEL %d to %d; default zstd:%d)\n",
		TSM_ZSTD_LEVEL_MIN, tsm_zstd_level_max(), TSM_ZSTD_LEVEL_DEFAULT);
	fprintf(f, "      --fail-on-violation    stop at the first violation, exit 1\n"
		"      --state-known          promise that nothing predates the trace (it is looked for\n                             without it: see STATE AT START in tsmtrace(8))\n"
		"      --duration SEC         stop after SEC seconds (default: at Ctrl-C)\n"
		"      --max-violations N     keep the first N violations in full (default %u)\n"
		"  -j, --json                 JSON Lines output\n"
		"  -v, --verbose              libbpf's messages and the verifier's log\n"
		"  -h, --help                 this text\n"
		"needs CAP_BPF and CAP_PERFMON (root); exit status: 0 stopped, 1 a violation with\n"
		"--fail-on-violation, 3 cannot run\n", TSM_MAX_VIOLATIONS);
}

/* live's options; record takes those from the marker on */
#define LIVE_ONLY	4
static const struct option live_opts[] = {
	{ "device", required_argument, NULL, 'd' },
	{ "vm", required_argument, NULL, 'm' },
	{ "pid", required_argument, NULL, 'p' },
	{ "quiet", no_argument, NULL, 'q' },
	/* record: */
	{ "output", required_argument, NULL, 'o' },
	{ "compress", required_argument, NULL, 'z' },
	{ "source", required_argument, NULL, 'S' },
	{ "fail-on-violation", no_argument, NULL, 'f' },
	{ "state-known", no_argument, NULL, 's' },
	{ "duration", required_argument, NULL, 't' },
	{ "max-violations", required_argument, NULL, 'M' },
	{ "json", no_argument, NULL, 'j' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

/* one option with a value: false when the value is bad */
static bool live_value(struct live_opts *o, int c, const char *arg)
{
	unsigned long long v;

	switch (c) {
	case 'd':
		o->has_dev = !parse_dev(arg, &o->dev);
		return o->has_dev;
	case 'm':
		o->has_vm = !parse_num(arg, 0, ~0ULL, &v);
		o->vm = v;
		return o->has_vm;
	case 'p':
		o->has_pid = !parse_num(arg, 0, 0xffffffffULL, &v);
		o->pid = v;
		return o->has_pid;
	case 't':
		if (parse_num(arg, 0, 86400 * 365, &v))
			return false;
		o->duration = v;
		return true;
	case 'M':
		if (parse_num(arg, 1, 10000000, &v))
			return false;
		o->max_violations = v;
		return true;
	default:
		return false;
	}
}

static int parse_live(int argc, char **argv, struct live_opts *o)
{
	bool rec = !strcmp(o->cmd, "record");
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, rec ? "o:jvh" : "o:qjvh", live_opts + (rec ? LIVE_ONLY : 0),
				NULL)) != -1) {
		switch (c) {
		case 'q':
			o->quiet = true;
			continue;
		case 'o':
			o->output = optarg;
			continue;
		case 'z':
			if (!tsm_compress_parse(optarg, &o->compress))
				continue;
			p_err(o->cmd, "--compress=%s: give none, zstd or zstd:LEVEL with a LEVEL from %d to %d (see '%s %s --help')",
			      optarg, TSM_ZSTD_LEVEL_MIN, tsm_zstd_level_max(), tsm_prog, o->cmd);
			return EXIT_UNUSABLE;
		case 'f':
			o->fail_on_violation = true;
			continue;
		case 's':
			o->state_known = true;
			continue;
		case 'S':
			if (!strcmp(optarg, "auto"))
				o->source = SRC_AUTO;
			else if (!strcmp(optarg, "series"))
				o->source = SRC_SERIES;
			else if (!strcmp(optarg, "stock"))
				o->source = SRC_STOCK;
			else
				return p_usage(o->cmd, "--source takes auto, series or stock");
			continue;
		case 'j':
			json_output = true;
			continue;
		case 'v':
			o->verbose = true;
			continue;
		case 'h':
			usage(stdout, o->cmd);
			exit(0);
		case '?':
			break;
		default:
			if (live_value(o, c, optarg))
				continue;
			break;
		}
		return p_usage(o->cmd, "bad option or value");
	}
	if (optind != argc) {
		p_err(o->cmd, "unexpected argument '%s' (see '%s %s --help')", argv[optind],
		      tsm_prog, o->cmd);
		return EXIT_UNUSABLE;
	}
	if (rec && !o->output)
		return p_usage(o->cmd, "no output file (-o FILE)");
	if (!rec && o->quiet && (o->has_dev || o->has_vm || o->has_pid))
		return p_usage(o->cmd, "--quiet prints no transitions for --device, --vm or --pid to choose from");
	return 0;
}

#ifndef CAP_PERFMON
#define CAP_PERFMON	38
#endif
#ifndef CAP_BPF
#define CAP_BPF		39
#endif

static bool has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

/*
 * Loading the programs and reading their ring buffer need CAP_BPF and
 * CAP_PERFMON (CAP_SYS_ADMIN before Linux 5.8): say so, and what to do,
 * before the load fails with a bare EPERM. Returns 0 or EXIT_UNUSABLE.
 */
int need_privileges(const char *cmd)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { { 0 } };
	char self[4096];
	ssize_t n;

	if (syscall(SYS_capget, &h, d))
		return 0;	/* cannot tell: let the load say it */
	if ((has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON)) || has_cap(d, CAP_SYS_ADMIN))
		return 0;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = 0;
	p_err(cmd, "not permitted to load the BPF programs: tsmtrace needs CAP_BPF and CAP_PERFMON (CAP_SYS_ADMIN on kernels before 5.8), and this process has %s%s%s; run it as root (sudo %s %s ...), or give the program those capabilities: setcap cap_bpf,cap_perfmon+ep %s",
	      has_cap(d, CAP_BPF) ? "" : "no CAP_BPF",
	      !has_cap(d, CAP_BPF) && !has_cap(d, CAP_PERFMON) ? " and " : "",
	      has_cap(d, CAP_PERFMON) ? "" : "no CAP_PERFMON",
	      tsm_prog, cmd, n > 0 ? self : tsm_prog);
	return EXIT_UNUSABLE;
}

int cmd_record(int argc, char **argv)
{
	struct live_opts o = { .cmd = "record", .quiet = true, .compress = TSM_COMPRESS_DEFAULT };
	int ret = parse_live(argc, argv, &o);

	if (ret)
		return ret;
	ret = need_privileges(o.cmd);
	if (!ret)
		ret = need_events(&o);
	if (ret)
		return ret;
	return run_live(&o);
}

int cmd_live(int argc, char **argv)
{
	struct live_opts o = { .cmd = "live", .compress = TSM_COMPRESS_DEFAULT };
	int ret = parse_live(argc, argv, &o);

	if (ret)
		return ret;
	ret = need_privileges(o.cmd);
	if (!ret)
		ret = need_events(&o);
	if (ret)
		return ret;
	return run_live(&o);
}
