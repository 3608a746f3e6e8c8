// SPDX-License-Identifier: GPL-2.0
/*
 * tsmtrace record / live.
 *
 * Both attach BPF programs to the tracepoints of docs/tracepoints.md. The
 * writer they feed is the library in tracefile.c (tsm_writer_*); the
 * checker is the engine every other command uses (tsm_engine_feed()).
 *
 * The kernel series does not emit the events yet (docs/tracepoints.md marks
 * them reserved), so these commands look for the events in the kernel's BTF
 * first and say plainly when they are missing; they never pretend to
 * record. Filters (--device, --vm, --pid) choose what 'live' prints, never
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
#include <sys/utsname.h>
#include <unistd.h>
#include "builtin.h"
#include "live.h"
#include "tracefile.h"

/* the events every checker needs, as BTF knows a tracepoint: btf_trace_<name> */
static const char *const needed[] = {
	"pci_tsm_bind_begin", "pci_tsm_bind_end", "pci_tsm_unbind_begin",
	"pci_tsm_unbind_end", "pci_tsm_tdi_state", "pci_tsm_range",
	"vfio_dmabuf_export_range", "vfio_dmabuf_export", "vfio_dmabuf_revoke",
	"vfio_dmabuf_release", "iommufd_ioas_map_dmabuf", "iommufd_ioas_unmap_dmabuf",
	"kvm_dmabuf_slot_bind", "kvm_dmabuf_slot_unbind",
};

/*
 * Is there a btf_trace_<name> type in the kernel's BTF? A search of the
 * BTF string section for the exact NUL-terminated name is enough to tell.
 */
static int btf_has(const char *btf_path, const char **missing)
{
	size_t cap = 1 << 20, len = 0, i;
	int fd, found = 0;
	char *buf, *nb;
	ssize_t n;

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
	for (i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		char name[64];
		size_t nl = snprintf(name, sizeof(name), "btf_trace_%s", needed[i]) + 1;

		if (memmem(buf, len, name, nl))
			found++;
		else if (!*missing)
			*missing = needed[i];
	}
	free(buf);
	return found;
}

/* 0 if every event exists, else prints why not and returns EXIT_UNUSABLE */
static int need_events(const char *cmd)
{
	const char *btf = getenv("TSMTRACE_BTF") ? : "/sys/kernel/btf/vmlinux";
	const char *missing = NULL;
	struct utsname u;
	int found;

	uname(&u);
	found = btf_has(btf, &missing);
	if (found < 0) {
		p_err(cmd, "cannot read the kernel's BTF (%s): %s; tsmtrace needs a kernel built with CONFIG_DEBUG_INFO_BTF, like the lab kernel of 'make kernel'",
		      btf, strerror(-found));
		return EXIT_UNUSABLE;
	}
	if (missing) {
		p_err(cmd, "kernel %s does not have the tsmtrace tracepoints (no %s in %s, %d of %zu events present): run it in the lab VM on a kernel whose series emits the events of docs/tracepoints.md",
		      u.release, missing, btf, found, sizeof(needed) / sizeof(needed[0]));
		return EXIT_UNUSABLE;
	}
	return 0;
}

static void usage(FILE *f, const char *cmd)
{
	if (!strcmp(cmd, "record"))
		fprintf(f, "usage: %s record -o FILE [--state-known] [--duration SEC] [-v]\n", tsm_prog);
	else
		fprintf(f, "usage: %s live [-o FILE] [--device DEV] [--vm VM] [--pid PID]\n"
			"              [--fail-on-violation] [--state-known] [--duration SEC] [-v]\n",
			tsm_prog);
}

static int parse_live(int argc, char **argv, struct live_opts *o)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "device", required_argument, NULL, 'd' },
		{ "vm", required_argument, NULL, 'm' },
		{ "pid", required_argument, NULL, 'p' },
		{ "fail-on-violation", no_argument, NULL, 'f' },
		{ "state-known", no_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool rec = !strcmp(o->cmd, "record");
	unsigned long long v;
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:jvh", longopts, NULL)) != -1) {
		errno = 0;
		switch (c) {
		case 'o':
			o->output = optarg;
			continue;
		case 'f':
			o->fail_on_violation = true;
			continue;
		case 's':
			o->state_known = true;
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
		case 'd':
			if (rec || parse_dev(optarg, &o->dev))
				break;
			o->has_dev = true;
			continue;
		case 'm':
		case 'p':
		case 't':
			v = strtoull(optarg, &end, 0);
			if (errno || *end || !*optarg || (rec && c != 't'))
				break;
			if (c == 'm') {
				o->has_vm = true;
				o->vm = v;
			} else if (c == 'p' && v <= 0xffffffffULL) {
				o->has_pid = true;
				o->pid = v;
			} else if (c == 't' && v <= 86400 * 365) {
				o->duration = v;
			} else {
				break;
			}
			continue;
		default:
			break;
		}
		p_err(o->cmd, "bad option or value");
		usage(stderr, o->cmd);
		return EXIT_UNUSABLE;
	}
	if (optind != argc) {
		p_err(o->cmd, "unexpected argument '%s'", argv[optind]);
		usage(stderr, o->cmd);
		return EXIT_UNUSABLE;
	}
	if (rec && !o->output) {
		p_err(o->cmd, "no output file");
		usage(stderr, o->cmd);
		return EXIT_UNUSABLE;
	}
	return 0;
}

int cmd_record(int argc, char **argv)
{
	struct live_opts o = { .cmd = "record", .quiet = true };
	int ret = parse_live(argc, argv, &o);

	if (ret)
		return ret;
	ret = need_events(o.cmd);
	if (ret)
		return ret;
	return run_live(&o);
}

int cmd_live(int argc, char **argv)
{
	struct live_opts o = { .cmd = "live" };
	int ret = parse_live(argc, argv, &o);

	if (ret)
		return ret;
	ret = need_events(o.cmd);
	if (ret)
		return ret;
	return run_live(&o);
}
