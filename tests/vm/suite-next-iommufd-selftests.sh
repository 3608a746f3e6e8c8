#!/bin/sh
# VM suite: mainline 7.3's iommufd selftests (built from the stock tree, the
# same tools/ the series leaves alone) on the series' 7.3 kernel: the series
# must keep every case of mainline's own suite passing, and it carries the
# fix that lets the dmabuf cases run (the probe then says "fd"). Cases are
# named next-iommufd.*.
# vm-options: --next --no-iommu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TSM_SELFTEST_BIN=$ROOT/build/tests/stock/selftests-iommu TSM_SELFTEST_PREFIX=next- \
TSM_SELFTEST_DMABUF_PROBE=$ROOT/build/tests/stock/iommufd_test_dmabuf_fd \
	exec "$ROOT/tests/vm/suite-iommufd-selftests.sh"
