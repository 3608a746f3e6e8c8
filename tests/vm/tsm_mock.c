// SPDX-License-Identifier: GPL-2.0
/*
 * tsm_mock - the series' vIOMMU and TSM requests on a device that is not a
 * PCI device: the mock device of iommufd's selftest (CONFIG_IOMMUFD_TEST,
 * probed when no hardware IOMMU claims the bus: scripts/vm.sh --no-iommu).
 * The core's vIOMMU (IOMMU_VIOMMU_TYPE_DEFAULT) is refused for it; on the
 * mock driver's own vIOMMU, whose init fails on bad driver data as it
 * should, a vDEVICE of it cannot BIND (EOPNOTSUPP) and UNBIND has nothing
 * to do. One PASS:/FAIL: line per case; exits 1 when one failed.
 */
#include <stdio.h>
#include <sys/ioctl.h>

#include <linux/iommufd.h>

#include "lab.h"
#include "iommufd_test.h"

static int iommufd = -1;

static int viommu_alloc(uint32_t type, uint32_t dev, uint32_t hwpt, uint32_t data_len,
			uint64_t data_uptr, uint32_t *out)
{
	struct iommu_viommu_alloc v = {
		.size = sizeof(v), .type = type, .dev_id = dev, .hwpt_id = hwpt,
		.data_len = data_len, .data_uptr = data_uptr,
	};

	if (ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &v))
		return -errno;
	if (out)
		*out = v.out_viommu_id;
	return 0;
}

static int tsm_op(uint32_t type, uint32_t vdev)
{
	struct iommu_vdevice_tsm_op op = { .size = sizeof(op), .type = type, .vdevice_id = vdev };

	return ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op) ? -errno : 0;
}

int main(void)
{
	struct iommu_ioas_alloc ia = { .size = sizeof(ia) };
	struct iommu_test_cmd md = { .size = sizeof(md), .op = IOMMU_TEST_OP_MOCK_DOMAIN };
	struct iommu_hwpt_alloc h = { .size = sizeof(h), .flags = IOMMU_HWPT_ALLOC_NEST_PARENT };
	struct iommu_vdevice_alloc vd = { .size = sizeof(vd), .virt_id = 0x11 };
	struct iommu_viommu_selftest short_data = { 0 };
	uint32_t dev, viommu;

	setvbuf(stdout, NULL, _IOLBF, 0);
	iommufd = open("/dev/iommu", O_RDWR);
	if (iommufd < 0 || ioctl(iommufd, IOMMU_IOAS_ALLOC, &ia)) {
		printf("FAIL: tsm-mock-setup (/dev/iommu: %s)\n", strerror(errno));
		return 1;
	}
	md.id = ia.out_ioas_id;
	if (ioctl(iommufd, IOMMU_TEST_CMD, &md)) {
		printf("FAIL: tsm-mock-device (IOMMU_TEST_OP_MOCK_DOMAIN: %s; a kernel with "
		       "CONFIG_IOMMUFD_TEST booted without an IOMMU?)\n", strerror(errno));
		return 1;
	}
	dev = md.mock_domain.out_idev_id;
	h.dev_id = dev;
	h.pt_id = ia.out_ioas_id;
	if (!lab_expect(ioctl(iommufd, IOMMU_HWPT_ALLOC, &h) ? -errno : 0, 0,
			"tsm-mock-nest-parent-hwpt"))
		return 1;

	lab_expect(viommu_alloc(IOMMU_VIOMMU_TYPE_DEFAULT, dev, h.out_hwpt_id, 0, 0, NULL),
		   EOPNOTSUPP, "tsm-mock-viommu-default-eopnotsupp");
	/* the driver's init refuses its data: the vIOMMU is undone (mainline) */
	lab_expect(viommu_alloc(IOMMU_VIOMMU_TYPE_SELFTEST, dev, h.out_hwpt_id,
				sizeof(short_data), 8, NULL), EFAULT,
		   "tsm-mock-viommu-driver-init-fails-efault");
	if (!lab_expect(viommu_alloc(IOMMU_VIOMMU_TYPE_SELFTEST, dev, h.out_hwpt_id, 0, 0,
				     &viommu), 0, "tsm-mock-viommu-selftest"))
		return 1;
	vd.viommu_id = viommu;
	vd.dev_id = dev;
	if (!lab_expect(ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &vd) ? -errno : 0, 0,
			"tsm-mock-vdevice"))
		return 1;
	lab_expect(tsm_op(IOMMU_VDEVICE_TSM_BIND, vd.out_vdevice_id), EOPNOTSUPP,
		   "tsm-mock-bind-not-pci-eopnotsupp");
	lab_expect(tsm_op(IOMMU_VDEVICE_TSM_UNBIND, vd.out_vdevice_id), 0,
		   "tsm-mock-unbind-nothing-bound");
	close(iommufd);
	return lab_failed;
}
