# tsmtrace: top-level build and test entry points.
#
#   make deps          install the Debian packages everything needs (root)
#   make kernel        the patched kernel: Linux 7.3 (the exact version
#                      kernel/BASE names) + kernel/patches, bzImage in
#                      build/kbuild, incremental
#   make kernel-stock  the same base as Debian ships it, without the series
#                      (build/kbuild-stock): the kernel the stock suites run
#                      mainline's ABI on
#   make test-progs    programs the tests run: VM test programs, mainline's
#                      iommufd selftests, the tsmtrace tool
#   make test          all of the above, then host and VM test suites
#   make lab           the demo: boot the lab VM, watch a correct TSM flow and
#                      a broken revoke with tsmtrace live (scripts/demo.sh)
#   make install       tsmtrace, its man page and bash completion under
#                      $(DESTDIR)$(PREFIX) (PREFIX=/usr/local); builds the tool
#                      only (no kernel, no package install)
#   make uninstall     remove them
#   make bench         benchmarks (figures, not pass/fail), the lab ones on
#                      the kernel of make kernel-bench
#   make kernel-bench  the series without lockdep, for benchmarks (build/kbuild-bench)
#   make kernel-kasan  the series with KASAN and kmemleak (build/kbuild-kasan)
#   make test-kasan    the VM suites on that kernel: any KASAN report or
#                      leak fails
#   make kernel-gcov   the series with gcov's counters (build/kbuild-gcov)
#   make coverage      the VM suites on that kernel, then the line coverage
#                      of the series' lines per file (scripts/coverage.sh)
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
KSTOCK		:= $(BUILD_DIR)/kbuild-stock
export BUILD_DIR

.PHONY: all deps kernel kernel-check-newest kernel-stock stock-progs kernel-bench kernel-kasan \
	kernel-gcov coverage \
	test-kasan test-stress test-stress-kasan kernel-configs test-full kernel-export \
	kernel-reset kernel-status test-progs vm-progs tools \
	test test-host test-vm lab bench install uninstall clean

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
	@KERNEL_STOCK=1 scripts/kernel.sh build

kernel-bench: kernel
	@KERNEL_OBJ=$(BUILD_DIR)/kbuild-bench \
	 KERNEL_FRAGMENT="$(ROOT)/kernel/lab.config $(ROOT)/kernel/series.config $(ROOT)/kernel/bench.config" \
	 scripts/kernel.sh build

kernel-gcov: kernel
	@KERNEL_OBJ=$(BUILD_DIR)/kbuild-gcov \
	 KERNEL_FRAGMENT="$(ROOT)/kernel/lab.config $(ROOT)/kernel/series.config $(ROOT)/kernel/gcov.config" \
	 scripts/kernel.sh build

# every VM suite on the gcov kernel, then the line coverage of the series'
# lines per file (build/coverage/report.txt); COVERAGE_SUITES=PATTERN runs
# only the suites whose name contains it
coverage: kernel-gcov test-progs
	@scripts/coverage.sh $(COVERAGE_SUITES)

kernel-kasan: kernel
	@KERNEL_OBJ=$(BUILD_DIR)/kbuild-kasan \
	 KERNEL_FRAGMENT="$(ROOT)/kernel/lab.config $(ROOT)/kernel/series.config $(ROOT)/kernel/kasan.config" \
	 scripts/kernel.sh build

# KASAN runs the guest several times slower: the stress suite's pairings get
# the time to make their steps, every suite an hour
test-kasan: kernel-kasan test-progs
	@LAB_KERNEL=$(BUILD_DIR)/kbuild-kasan/arch/x86/boot/bzImage VM_TIMEOUT=3600 \
	 STRESS_SECONDS=600 tests/run.sh --vm-only

# the stress suite at full length: 10,000 steps a pairing, 500 a thread
STRESS_FULL := STRESS_ITERS=10000 STRESS_MIN=500 STRESS_SECONDS=600 VM_TIMEOUT=10800
test-stress: test-progs
	@$(STRESS_FULL) tests/run.sh --vm-only stress

test-stress-kasan: kernel-kasan test-progs
	@LAB_KERNEL=$(BUILD_DIR)/kbuild-kasan/arch/x86/boot/bzImage $(STRESS_FULL) \
	 tests/run.sh --vm-only stress

# the series with each optional dependency off in turn (7 to 40 min a row
# on 2 cores; not in make test)
kernel-configs: kernel
	@scripts/kernel-configs.sh

# everything: the suites on the lab kernel and on KASAN, the full stress
# run on both, and the matrix
test-full: test test-kasan test-stress test-stress-kasan kernel-configs

vm-progs: kernel
	@$(MAKE) --no-print-directory -C tests/vm KHDR=$(KHDR) OUT=$(BUILD_DIR)/tests/vm \
		EXTRA_CFLAGS=-I$(BUILD_DIR)/linux/drivers/iommu/iommufd

# programs of the stock suites, built against the stock kernel's headers
stock-progs: kernel-stock
	@$(MAKE) --no-print-directory -C tests/vm SRCDIR=$(ROOT)/tests/stock \
		KHDR=$(KSTOCK)/usr/include OUT=$(BUILD_DIR)/tests/stock \
		EXTRA_CFLAGS=-I$(BUILD_DIR)/linux-stock/drivers/iommu/iommufd
	@SELFTEST_SRC=$(BUILD_DIR)/linux-stock SELFTEST_KHDR=$(KSTOCK)/usr/include \
		scripts/selftests.sh $(BUILD_DIR)/tests/stock/selftests-iommu

tools: deps
	@if [ -f tools/tsmtrace/Makefile ]; then \
		$(MAKE) --no-print-directory -C tools/tsmtrace all test-progs; fi

test-progs: vm-progs stock-progs tools

test: test-progs
	@tests/run.sh

test-host: deps tools
	@tests/run.sh --host-only

test-vm: test-progs
	@tests/run.sh --vm-only

lab: vm-progs tools
	@scripts/demo.sh

# the lab figures come from the series without lockdep (kernel/bench.config)
bench: test-progs kernel-bench
	@export LAB_KERNEL=$(BUILD_DIR)/kbuild-bench/arch/x86/boot/bzImage; \
	$(MAKE) --no-print-directory -C tools/tsmtrace bench; \
	$(MAKE) --no-print-directory -C tests/vm KHDR=$(KHDR) OUT=$(BUILD_DIR)/tests/vm \
		VM_ARGS="--append tsm_sw.devices=1234:11e8,1af4:1110" bench

install uninstall:
	@$(MAKE) --no-print-directory -C tools/tsmtrace $@

clean:
	rm -rf $(BUILD_DIR)/tests $(BUILD_DIR)/tsmtrace $(BUILD_DIR)/vm-runs $(BUILD_DIR)/test-logs
