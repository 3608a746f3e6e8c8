#!/bin/sh
# VM suite: mainline's own iommufd selftests of the stock kernel's tree (the
# 7.3 base without the series), built against its headers by
# 'make stock-progs', on the stock kernel. Cases are named stock-iommufd.*.
# vm-options: --stock --no-iommu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TSM_SELFTEST_BIN=$ROOT/build/tests/stock/selftests-iommu TSM_SELFTEST_PREFIX=stock- \
TSM_SELFTEST_DMABUF_PROBE=$ROOT/build/tests/stock/iommufd_test_dmabuf_fd \
	exec "$ROOT/tests/vm/suite-iommufd-selftests.sh"
