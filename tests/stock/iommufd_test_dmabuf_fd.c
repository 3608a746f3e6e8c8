// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd_test_dmabuf_fd - does IOMMU_TEST_OP_DMABUF_GET (CONFIG_IOMMUFD_TEST)
 * return the new DMABUF's fd, as the iommufd selftests expect?
 *
 * Linux 7.3.4's iommufd_test_dmabuf_get() installs the fd and returns 0, so
 * the selftests' dmabuf_simple and dmabuf_revoke cases map whatever file is
 * fd 0 and fail. The selftest suites ask this program before they count
 * those cases: exit 0 and "fd" when the request returns a DMABUF fd, exit 1
 * and "returns N" when it does not, 2 when it cannot tell.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/iommufd.h>

#include "iommufd_test.h"

int main(void)
{
	struct iommu_test_cmd cmd = {
		.size = sizeof(cmd), .op = IOMMU_TEST_OP_DMABUF_GET,
		.dmabuf_get = { .length = 4096, .open_flags = O_CLOEXEC },
	};
	char link[64], target[128] = "";
	int fd = open("/dev/iommu", O_RDWR), ret;

	if (fd < 0) {
		printf("cannot open /dev/iommu: %s\n", strerror(errno));
		return 2;
	}
	ret = ioctl(fd, IOMMU_TEST_CMD, &cmd);
	if (ret < 0) {
		printf("IOMMU_TEST_OP_DMABUF_GET: %s\n", strerror(errno));
		return 2;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", ret);
	if (ret > 2 && readlink(link, target, sizeof(target) - 1) > 0 &&
	    strstr(target, "dmabuf")) {
		printf("fd\n");
		return 0;
	}
	printf("returns %d\n", ret);
	return 1;
}
