# tsmtrace: top-level build and test entry points.
#
#   make deps          install the Debian packages everything needs (root)
#   make kernel        patched kernel bzImage (build/kbuild), incremental; the
#                      base is the exact version kernel/BASE names
#   make test-progs    programs the tests run: VM test programs, iommufd
#                      selftests, the tsmtrace tool
#   make test          all of the above, then host and VM test suites
#   make lab           the demo: boot the lab VM, watch a correct TSM flow and
#                      a broken revoke with tsmtrace live (scripts/demo.sh)
#   make install       tsmtrace, its man page and bash completion under
#                      $(DESTDIR)$(PREFIX) (PREFIX=/usr/local); builds the tool
#                      only (no kernel, no package install)
#   make uninstall     remove them
#   make bench         benchmarks (figures, not pass/fail), the lab ones on
#                      the kernel of make kernel-bench
#   make kernel-stock  Linux 7.3 as Debian ships it, without the series
#                      (build/kbuild-7.3-stock): the kernel the stock suite
#                      runs mainline's ABI on
#   make kernel-next   the series moving to Linux 7.3 (kernel/7.3/patches) on
#                      that base (build/kbuild-7.3)
#   make kernel-bench  the same series without lockdep, for benchmarks (build/kbuild-bench)
#   make kernel-next-bench  the 7.3 series without lockdep (build/kbuild-7.3-bench)
#   make kernel-kasan  the same series with KASAN and kmemleak (build/kbuild-kasan)
#   make kernel-next-kasan  the 7.3 series with KASAN and kmemleak
#                      (build/kbuild-7.3-kasan)
#   make test-kasan    the VM suites on those kernels: any KASAN report or
#                      leak fails
#   make kernel-export write the kernel tree's commits to kernel/patches/
#   make kernel-reset  drop local commits in the kernel tree, re-apply the series
#   make kernel-status what is applied and what is unexported
#   make kernel-check-newest  apply the series to the newest base version the
#                      archive offers and name the patches that do not apply
#
# Quiet unless V=1. BUILD_DIR (default ./build) holds everything generated.

ROOT		:= $(CURDIR)
BUILD_DIR	?= $(ROOT)/build
KB		:= $(BUILD_DIR)/kbuild
KHDR		:= $(KB)/usr/include
# the stock kernel: the 7.3 base without any patch
STOCK_SERIES	:= $(ROOT)/kernel/7.3
# the series being moved to 7.3, on that base
NEXT_SERIES	:= $(ROOT)/kernel/7.3
KSTOCK		:= $(BUILD_DIR)/kbuild-7.3-stock
export BUILD_DIR

.PHONY: all deps kernel kernel-check-newest kernel-stock kernel-next stock-progs next-progs kernel-bench kernel-next-bench kernel-kasan kernel-next-kasan test-kasan kernel-export kernel-reset kernel-status test-progs \
	vm-progs selftests tools test test-host test-vm lab bench install uninstall clean

all: kernel test-progs

deps:
	@scripts/deps.sh

kernel: deps
	@scripts/kernel.sh build

kernel-export:
	@scripts/kernel.sh export

kernel-reset:
	@scripts/kernel.sh reset

kernel-status:
	@scripts/kernel.sh status

kernel-check-newest: deps
	@scripts/kernel.sh check-newest

kernel-stock: deps
	@KERNEL_SERIES=$(STOCK_SERIES) KERNEL_STOCK=1 scripts/kernel.sh build

kernel-next: deps
	@KERNEL_SERIES=$(NEXT_SERIES) scripts/kernel.sh build

kernel-bench: kernel
	@KERNEL_OBJ=$(BUILD_DIR)/kbuild-bench \
	 KERNEL_FRAGMENT="$(ROOT)/kernel/lab.config $(ROOT)/kernel/bench.config" \
	 scripts/kernel.sh build

kernel-next-bench: kernel-next
	@KERNEL_SERIES=$(NEXT_SERIES) KERNEL_OBJ=$(BUILD_DIR)/kbuild-7.3-bench \
	 KERNEL_FRAGMENT="$(NEXT_SERIES)/lab.config $(NEXT_SERIES)/series.config $(ROOT)/kernel/bench.config" \
	 scripts/kernel.sh build

kernel-kasan: kernel
	@KERNEL_OBJ=$(BUILD_DIR)/kbuild-kasan \
	 KERNEL_FRAGMENT="$(ROOT)/kernel/lab.config $(ROOT)/kernel/kasan.config" \
	 scripts/kernel.sh build

kernel-next-kasan: kernel-next
	@KERNEL_SERIES=$(NEXT_SERIES) KERNEL_OBJ=$(BUILD_DIR)/kbuild-7.3-kasan \
	 KERNEL_FRAGMENT="$(NEXT_SERIES)/lab.config $(NEXT_SERIES)/series.config $(ROOT)/kernel/kasan.config" \
	 scripts/kernel.sh build

test-kasan: kernel-kasan kernel-next-kasan test-progs
	@LAB_KERNEL=$(BUILD_DIR)/kbuild-kasan/arch/x86/boot/bzImage VM_TIMEOUT=2400 \
	 LAB_NEXT_KERNEL=$(BUILD_DIR)/kbuild-7.3-kasan/arch/x86/boot/bzImage \
	 tests/run.sh --vm-only

vm-progs: kernel
	@$(MAKE) --no-print-directory -C tests/vm KHDR=$(KHDR) OUT=$(BUILD_DIR)/tests/vm

stock-progs: kernel-stock
	@$(MAKE) --no-print-directory -C tests/vm SRCDIR=$(ROOT)/tests/stock \
		KHDR=$(KSTOCK)/usr/include OUT=$(BUILD_DIR)/tests/stock \
		EXTRA_CFLAGS=-I$(BUILD_DIR)/linux-7.3-stock/drivers/iommu/iommufd
	@SELFTEST_SRC=$(BUILD_DIR)/linux-7.3-stock SELFTEST_KHDR=$(KSTOCK)/usr/include \
	 SELFTEST_PATCHES=/nonexistent scripts/selftests.sh $(BUILD_DIR)/tests/stock/selftests-iommu

# programs of the 7.3 series' suites, built against its headers
next-progs: kernel-next
	@$(MAKE) --no-print-directory -C tests/vm SRCDIR=$(ROOT)/tests/next \
		KHDR=$(BUILD_DIR)/kbuild-7.3/usr/include OUT=$(BUILD_DIR)/tests/next

selftests: kernel
	@scripts/selftests.sh $(BUILD_DIR)/tests/selftests-iommu

tools: deps
	@if [ -f tools/tsmtrace/Makefile ]; then \
		$(MAKE) --no-print-directory -C tools/tsmtrace all test-progs; fi

test-progs: vm-progs stock-progs next-progs selftests tools

test: test-progs
	@tests/run.sh

test-host: deps tools
	@tests/run.sh --host-only

test-vm: test-progs
	@tests/run.sh --vm-only

lab: next-progs tools
	@scripts/demo.sh

# the lab figures come from the 7.3 series without lockdep (kernel/bench.config)
bench: test-progs kernel-next-bench
	@export LAB_NEXT_KERNEL=$(BUILD_DIR)/kbuild-7.3-bench/arch/x86/boot/bzImage; \
	$(MAKE) --no-print-directory -C tools/tsmtrace bench; \
	$(MAKE) --no-print-directory -C tests/vm SRCDIR=$(ROOT)/tests/next \
		KHDR=$(BUILD_DIR)/kbuild-7.3/usr/include OUT=$(BUILD_DIR)/tests/next \
		VM_ARGS="--next --append tsm_sw.devices=1234:11e8,1af4:1110" bench

install uninstall:
	@$(MAKE) --no-print-directory -C tools/tsmtrace $@

clean:
	rm -rf $(BUILD_DIR)/tests $(BUILD_DIR)/tsmtrace $(BUILD_DIR)/vm-runs $(BUILD_DIR)/test-logs
