/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the lab VM test programs: result lines in the format
 * tests/run.sh counts, reading and writing small files (sysfs, debugfs),
 * errno names, and finding the lab devices.
 */
#ifndef TSM_LAB_H
#define TSM_LAB_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int lab_failed;

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

#endif /* TSM_LAB_H */
