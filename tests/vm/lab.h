/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the lab VM test programs: result lines in the format
 * tests/run.sh counts, reading and writing small files (sysfs, debugfs),
 * errno names, finding the lab devices, and touching memory that may raise
 * SIGBUS.
 */
#ifndef TSM_LAB_H
#define TSM_LAB_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int lab_failed;

/* per thread: the fault handler runs in the thread that faulted */
static __thread sigjmp_buf lab_probe_env __attribute__((unused));

static inline void lab_on_sigbus(int sig)
{
	siglongjmp(lab_probe_env, 1);
}

/* Once per program: SIGBUS ends a lab_probe32() instead of the program. */
static inline void lab_catch_sigbus(void)
{
	struct sigaction sa = { .sa_handler = lab_on_sigbus };

	sigaction(SIGBUS, &sa, NULL);
}

/*
 * Read the 32-bit word at @p into *@val, or write *@val there when @write:
 * 0, or -1 when the access raised SIGBUS.
 */
static inline int lab_probe32(volatile uint8_t *p, uint32_t *val, int write)
{
	if (sigsetjmp(lab_probe_env, 1))
		return -1;
	if (write)
		*(volatile uint32_t *)p = *val;
	else
		*val = *(volatile uint32_t *)p;
	return 0;
}

static inline void lab_result(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s: %s", ok ? "PASS" : "FAIL", name);
	if (fmt && *fmt) {
		printf(" (");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf(")");
	}
	printf("\n");
	fflush(stdout);
	if (!ok)
		lab_failed = 1;
}

static inline void lab_skip(const char *name, const char *why)
{
	printf("SKIP: %s (%s)\n", name, why);
	fflush(stdout);
}

#define LAB_CHECK(cond, name, ...) ({					\
	int __ok = !!(cond);						\
	lab_result(__ok, name, __ok ? "" : __VA_ARGS__);		\
	__ok;								\
})

static inline const char *lab_errname(int err);

/*
 * One result line for a call that returns >= 0 (0, an fd) or -errno: it
 * must fail with @want, or succeed when @want is 0.
 */
static inline int lab_expect(int ret, int want, const char *name)
{
	if (!want)
		return LAB_CHECK(ret >= 0, name, "got %s, want success", lab_errname(-ret));
	return LAB_CHECK(ret == -want, name, "got %s, want %s",
			 ret >= 0 ? "success" : lab_errname(-ret), lab_errname(want));
}

/* Write @s to the file @path (sysfs, debugfs, procfs): 0 or -errno. */
static inline int lab_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Read the file @path into @buf, NUL-terminated: its length, or -errno. */
static inline int lab_read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	buf[0] = 0;
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = 0;
	close(fd);
	return n;
}

/* ---- the trace buffer (tracefs) ----------------------------------------- */

#define LAB_TRACING	"/sys/kernel/tracing"

/* Enable or disable "system/event" (or a whole "system"): 0 or -errno. */
static inline int lab_trace_event(const char *event, int on)
{
	char path[200];

	snprintf(path, sizeof(path), LAB_TRACING "/events/%s/enable", event);
	return lab_write_str(path, on ? "1" : "0");
}

static inline void lab_trace_clear(void)
{
	close(open(LAB_TRACING "/trace", O_WRONLY | O_TRUNC));
}

/*
 * The index of the first line of the trace from line @from on that names
 * @event (as "event:") and contains @match (unless NULL), or -1.
 */
static inline int lab_trace_find(const char *event, const char *match, int from)
{
	char line[1024], name[80];
	FILE *f = fopen(LAB_TRACING "/trace", "r");
	int i = 0, found = -1;

	if (!f)
		return -1;
	snprintf(name, sizeof(name), " %s:", event);
	for (; found < 0 && fgets(line, sizeof(line), f); i++)
		if (i >= from && strstr(line, name) && (!match || strstr(line, match)))
			found = i;
	fclose(f);
	return found;
}

/* The number of lines of the trace that name @event and contain @match. */
static inline int lab_trace_count(const char *event, const char *match)
{
	int n = 0, i = -1;

	while ((i = lab_trace_find(event, match, i + 1)) >= 0)
		n++;
	return n;
}

/* ---- fault injection: debugfs fault attributes and fail-nth ------------ */

#define LAB_DEBUGFS	"/sys/kernel/debug"

/* Write @val to the attribute file @attr of the fault attribute @name. */
static inline int lab_fault_write(const char *name, const char *attr, const char *val)
{
	char path[160];

	snprintf(path, sizeof(path), LAB_DEBUGFS "/%s/%s", name, attr);
	return lab_write_str(path, val);
}

/*
 * Arm the fault attribute @name: let @space - 1 checks pass, then fail
 * @times of them. Disarm it with times 0. 0 or -errno.
 */
static inline int lab_fault_arm(const char *name, int times, int space)
{
	char t[16], s[16];
	int ret;

	snprintf(t, sizeof(t), "%d", times);
	snprintf(s, sizeof(s), "%d", space);
	ret = lab_fault_write(name, "verbose", "0");
	if (!ret)
		ret = lab_fault_write(name, "interval", "1");
	if (!ret)
		ret = lab_fault_write(name, "space", s);
	if (!ret)
		ret = lab_fault_write(name, "times", t);
	if (!ret)
		ret = lab_fault_write(name, "probability", times ? "100" : "0");
	return ret;
}

/*
 * A fail-nth sweep (Documentation/fault-injection): the nth fault point the
 * calling thread reaches fails. lab_fail_nth_begin() lets sleeping
 * allocations fail too and silences every attribute's report.
 */
struct lab_fail_nth {
	int fd;
	char saved[2][8];	/* ignore-gfp-wait of failslab, fail_page_alloc */
};

static const char *const lab_fail_gfp[] = { "failslab", "fail_page_alloc" };

static inline int lab_fail_nth_begin(struct lab_fail_nth *f)
{
	static const char *const quiet[] = {
		"failslab", "fail_page_alloc", "fail_pci_tsm_sw", "fail_vfio_pci_tsm",
		"fail_iommufd",
	};
	char path[128];
	size_t i;

	f->fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (f->fd < 0)
		return -errno;
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), LAB_DEBUGFS "/%s/ignore-gfp-wait", lab_fail_gfp[i]);
		lab_read_str(path, f->saved[i], sizeof(f->saved[i]));
		lab_write_str(path, "N");
	}
	for (i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++)
		lab_fault_write(quiet[i], "verbose", "0");
	return 0;
}

/* Fail the @nth fault point from now on: 0 or -errno. */
static inline int lab_fail_nth_set(struct lab_fail_nth *f, int nth)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", nth);
	return pwrite(f->fd, buf, strlen(buf), 0) < 0 ? -errno : 0;
}

/* Disarm: the number of fault points still to go (0: one was failed). */
static inline unsigned long lab_fail_nth_clear(struct lab_fail_nth *f)
{
	char buf[16] = "";

	if (pread(f->fd, buf, sizeof(buf) - 1, 0) < 0)
		buf[0] = 0;
	if (pwrite(f->fd, "0", 1, 0) < 0)
		return 0;
	return strtoul(buf, NULL, 10);
}

static inline void lab_fail_nth_end(struct lab_fail_nth *f)
{
	char path[128];
	size_t i;

	close(f->fd);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), LAB_DEBUGFS "/%s/ignore-gfp-wait", lab_fail_gfp[i]);
		if (f->saved[i][0])
			lab_write_str(path, f->saved[i]);
	}
}

/* The symbolic name of a positive errno value, "0" for 0. */
static inline const char *lab_errname(int err)
{
	static const struct { int err; const char *name; } names[] = {
		{ 0, "0" }, { EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EINTR, "EINTR" },
		{ EIO, "EIO" }, { ENXIO, "ENXIO" }, { E2BIG, "E2BIG" }, { EBADF, "EBADF" },
		{ EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" }, { EFAULT, "EFAULT" },
		{ EBUSY, "EBUSY" }, { EEXIST, "EEXIST" }, { ENODEV, "ENODEV" },
		{ EINVAL, "EINVAL" }, { ENOTTY, "ENOTTY" }, { ENOSPC, "ENOSPC" },
		{ EOPNOTSUPP, "EOPNOTSUPP" }, { EALREADY, "EALREADY" },
		{ EOVERFLOW, "EOVERFLOW" }, { EPROTO, "EPROTO" },
	};
	static char other[24];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err)
			return names[i].name;
	snprintf(other, sizeof(other), "errno %d", err);
	return other;
}

static inline unsigned long lab_read_hex(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return 0;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return strtoul(buf, NULL, 0);
}

/*
 * Find the PCI device vendor:device; fill its BDF and the path of its VFIO
 * cdev (/dev/vfio/devices/vfioN). Returns 0, or -ENODEV / -ENOENT.
 */
static inline int lab_find_vfio_dev(unsigned int vendor, unsigned int device,
				    char *bdf, size_t bdf_len,
				    char *cdev, size_t cdev_len)
{
	char path[512];
	struct dirent *de;
	DIR *d, *v;
	int ret = -ENODEV;

	d = opendir("/sys/bus/pci/devices");
	if (!d)
		return -ENODEV;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", de->d_name);
		if (lab_read_hex(path) != vendor)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", de->d_name);
		if (lab_read_hex(path) != device)
			continue;
		snprintf(bdf, bdf_len, "%s", de->d_name);
		ret = -ENOENT;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", de->d_name);
		v = opendir(path);
		if (!v)
			break;
		while ((de = readdir(v))) {
			if (!strncmp(de->d_name, "vfio", 4)) {
				snprintf(cdev, cdev_len, "/dev/vfio/devices/%s", de->d_name);
				ret = 0;
				break;
			}
		}
		closedir(v);
		break;
	}
	closedir(d);
	return ret;
}

/* The physical start of BAR @bar of the PCI device @bdf, 0 if unknown. */
static inline unsigned long long lab_bar_start(const char *bdf, int bar)
{
	unsigned long long start = 0, s;
	char path[400];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i <= bar && fscanf(f, "%llx %*x %*x", &s) == 1; i++)
		if (i == bar)
			start = s;
	fclose(f);
	return start;
}

#endif /* TSM_LAB_H */
