#!/usr/bin/env bash
# Run a command in the lab VM and return its exit status and output.
#
#   scripts/vm.sh [options] -- COMMAND [ARG...]
#
# The guest boots the patched kernel under QEMU TCG (q35, -cpu max, intel-iommu
# with interrupt remapping), sees the host's root file system read-only over 9p
# (so host-built binaries run unchanged), binds the lab's PCI devices to
# vfio-pci and runs COMMAND as root in the current directory's host path.
# COMMAND's stdout and stderr are printed on the host; the exit status is
# COMMAND's, or:
#   124  the guest did not finish within the timeout
#   125  the guest panicked, or never reached the command (see the console log)
#   126  bad usage or a missing kernel/QEMU
#
# Options:
#   --timeout SEC   hard limit for the whole run (default 600)
#   --mem SIZE      guest memory (default 2G)
#   --smp N         guest vCPUs (default 2)
#   --bar SIZE      ivshmem BAR size, a power of two (default 4G)
#   --no-vfio       leave the lab devices on their default drivers
#   --pcie          also two PCI Express endpoints, each below its own root
#                   port: a virtio-rng (1af4:1044; MSI-X, power management,
#                   FLR) and an e1000e (8086:10d3; MSI-X in a BAR of its
#                   own, power management, reset by its root port's
#                   secondary bus reset), bound to vfio-pci like edu and
#                   ivshmem
#   --no-iommu      no vIOMMU (implies --no-vfio): the iommufd selftests' mock
#                   IOMMU is only probed when no hardware IOMMU claims the
#                   bus first
#   --keep          keep the run directory (console log, output) and print it
#   --kernel PATH   bzImage to boot (default $LAB_KERNEL, or
#                   build/kbuild/arch/x86/boot/bzImage)
#   --stock         boot the stock kernel instead: the base without the
#                   series (make kernel-stock; $LAB_STOCK_KERNEL overrides)
#   --append ARGS   extra kernel command line
#   --tcg-threads single|multi
#                   one host thread for all vCPUs (the default;
#                   $VM_TCG_THREADS), or one each. Multi-threaded TCG has
#                   lost guest interrupts here (a timer vector left in
#                   service for good, virtio completions that never came),
#                   most often while a guest toggles the memory decode of
#                   ivshmem's 4 GiB BAR thousands of times (docs/lab.md)
#   --icount SHIFT  the guest's clock counts instructions, not time: each
#                   takes 2^SHIFT ns (one host thread). A guest's timings
#                   then measure the instructions executed, the same from
#                   run to run whatever else the host does (make bench)
#
# Environment: KEEP_VM_RUNS=1 acts like --keep; VM_RUNS_DIR (default
# build/vm-runs) holds the run directories; VM_GCOV_OUT receives, from a
# kernel built with gcov (make kernel-gcov), the counters of the files that
# scripts/coverage.sh lists, a directory a run. Variables named STRESS_* and
# TSM_ABUSE_* (the knobs of the stress and uapi-abuse programs) are passed
# to the guest's command.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
KERNEL=${LAB_KERNEL:-$BUILD_DIR/kbuild/arch/x86/boot/bzImage}
TIMEOUT=600
MEM=2G
SMP=2
BAR=4G
VFIO=1
IOMMU=1
PCIE=()
KEEP=${KEEP_VM_RUNS:-0}
APPEND=
TCG_THREADS=${VM_TCG_THREADS:-single}
ICOUNT=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; exit 126; }
die() { echo "vm: error: $*" >&2; exit 126; }

while [ $# -gt 0 ]; do
	case "$1" in
	--timeout) TIMEOUT=${2:?}; shift 2 ;;
	--mem) MEM=${2:?}; shift 2 ;;
	--smp) SMP=${2:?}; shift 2 ;;
	--bar) BAR=${2:?}; shift 2 ;;
	--no-vfio) VFIO=0; shift ;;
	--pcie)
		# 5 GT/s root ports: after a secondary bus reset the kernel
		# waits for Data Link Layer Link Active on faster links, which
		# QEMU 7.2's root port does not report again (the reset fails
		# with ENOTTY); at 5 GT/s it waits for the device itself
		PCIE=(-device pcie-root-port,id=rp1,chassis=1,slot=1,x-speed=5
		      -device virtio-rng-pci,bus=rp1
		      -device pcie-root-port,id=rp2,chassis=2,slot=2,x-speed=5
		      -device e1000e,bus=rp2)
		shift ;;
	--no-iommu) IOMMU=0; VFIO=0; shift ;;
	--keep) KEEP=1; shift ;;
	--kernel) KERNEL=${2:?}; shift 2 ;;
	--stock) KERNEL=${LAB_STOCK_KERNEL:-$BUILD_DIR/kbuild-stock/arch/x86/boot/bzImage}; shift ;;
	--append) APPEND=${2:?}; shift 2 ;;
	--tcg-threads) TCG_THREADS=${2:?}; shift 2 ;;
	--icount)
		case "${2:-}" in
		[0-9]|10) ;;
		*) die "--icount takes a shift from 0 to 10, not '${2:-}'" ;;
		esac
		# sleep=off: an idle guest's clock jumps to its next timer
		ICOUNT=(-icount shift="$2",sleep=off)
		shift 2 ;;
	--) shift; break ;;
	-h|--help) usage ;;
	*) echo "vm: unknown option '$1'" >&2; usage ;;
	esac
done
[ $# -gt 0 ] || { echo "vm: no command given" >&2; usage; }
case "$TCG_THREADS" in
single|multi) ;;
*) die "--tcg-threads takes single or multi, not '$TCG_THREADS'" ;;
esac
if [ ${#ICOUNT[@]} -gt 0 ]; then
	[ "$TCG_THREADS" = single ] || die "--icount counts on one host thread: not with --tcg-threads multi"
fi
[ -f "$KERNEL" ] || die "no kernel at $KERNEL: run 'make kernel' (or 'make kernel-stock' for --stock) first"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found: run 'make deps'"
case "$TIMEOUT" in ''|*[!0-9]*) die "--timeout takes whole seconds, not '$TIMEOUT'" ;; esac

RUNS=${VM_RUNS_DIR:-$BUILD_DIR/vm-runs}
case "$(realpath -m "$RUNS")/" in
/proc/*|/sys/*|/dev/*)
	die "the run directory $RUNS is under a path the guest mounts over; use a directory below the project" ;;
esac
mkdir -p "$RUNS"
RUN=$(mktemp -d "$RUNS/run.XXXXXX")
cleanup() {
	# a kernel built with gcov (make coverage): the guest left the series'
	# counters in gcov/; they go to VM_GCOV_OUT, one directory a run
	if [ -n "${VM_GCOV_OUT:-}" ] && [ -d "$RUN/gcov" ]; then
		mkdir -p "$VM_GCOV_OUT" && mv "$RUN/gcov" "$VM_GCOV_OUT/${RUN##*/}"
	fi
	if [ "$KEEP" = 1 ]; then
		echo "vm: run directory kept: $RUN" >&2
	else
		rm -rf "$RUN"
	fi
}
trap cleanup EXIT

# The command, quoted for the guest's shell, run from the caller's directory.
{
	printf 'cd %q || exit 127\n' "$PWD"
	while IFS='=' read -r var _; do
		printf 'export %s=%q\n' "$var" "${!var}"
	done < <(env | grep -E '^(STRESS|TSM_ABUSE)_[A-Z_]*=' || true)
	printf 'exec'
	printf ' %q' "$@"
	printf '\n'
} >"$RUN/cmd"

CMDLINE="console=ttyS0 root=/dev/root rootfstype=9p"
CMDLINE+=" rootflags=trans=virtio,version=9p2000.L,msize=512000 ro"
CMDLINE+=" init=$ROOT/tests/vm/guest-init.sh panic=-1 oops=panic"
# the boot's check that the timer ticks through the IO-APIC counts on ticks
# a loaded host's TCG does not deliver in time ("timer doesn't work through
# Interrupt-remapped IO-APIC", a panic); virtual machines skip it
CMDLINE+=" no_timer_check"
# four-level paging: -cpu max offers LA57, and on a KASAN kernel with five
# levels an interrupt that comes while the boot CPU is identified again
# (its feature bits cleared for a moment, LA57's among them) is reported as
# a wild access to its own descriptor in the direct map, KASAN then sizing
# the kernel's addresses for four levels; nothing in the lab needs five
CMDLINE+=" no5lvl"
if [ "$IOMMU" = 1 ]; then
	CMDLINE+=" intel_iommu=on iommu=nopt loglevel=4"
	VIOMMU=(-device intel-iommu,intremap=on)
else
	CMDLINE+=" intel_iommu=off loglevel=4"
	VIOMMU=()
fi
CMDLINE+=" tsmroot=$ROOT tsmrun=$RUN tsmvfio=$VFIO $APPEND"

# intel-iommu first: devices created before it would bypass the vIOMMU.
set +e
timeout --signal=KILL "$TIMEOUT" qemu-system-x86_64 \
	-accel tcg,thread="$TCG_THREADS" "${ICOUNT[@]}" -machine q35 -cpu max -smp "$SMP" -m "$MEM" \
	-nographic -no-reboot -nodefaults -serial "file:$RUN/console.log" -monitor none \
	"${VIOMMU[@]}" \
	-kernel "$KERNEL" -append "$CMDLINE" \
	-fsdev local,id=rootfs,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=rootfs,mount_tag=/dev/root \
	-fsdev local,id=runfs,path="$RUN",security_model=none,multidevs=remap \
	-device virtio-9p-pci,fsdev=runfs,mount_tag=tsmrun \
	-device edu \
	-object memory-backend-ram,id=ivmem,size="$BAR",share=on \
	-device ivshmem-plain,memdev=ivmem \
	"${PCIE[@]}" \
	</dev/null >"$RUN/qemu.log" 2>&1
qrc=$?
set -e

[ -f "$RUN/out" ] && cat "$RUN/out"

show_console() {
	echo "vm: last lines of the guest console ($RUN/console.log):" >&2
	tail -n 30 "$RUN/console.log" 2>/dev/null | sed 's/^/vm: | /' >&2
	# what a suite's flow printed so far (tests/vm/lib-tsmtrace.sh)
	for p in "$RUN"/progress.*; do
		[ -s "$p" ] || continue
		echo "vm: last lines of ${p##*/} (the flow's output so far):" >&2
		tail -n 40 "$p" | sed 's/^/vm: | /' >&2
	done
	[ -s "$RUN/qemu.log" ] && head -n 3 "$RUN/qemu.log" | sed 's/^/vm: qemu| /' >&2
	KEEP=1
}

if [ -f "$RUN/status" ]; then
	status=$(cat "$RUN/status")
	# a kernel warning, lockdep splat, BUG or KASAN report during the run
	# fails it, and so does an object kmemleak (when the kernel has it)
	# found unreferenced after the command
	pat='BUG:|WARNING:|possible recursive locking|possible circular locking|inconsistent lock state|INFO: task .* blocked|UBSAN:|KASAN:'
	if grep -qE "$pat" "$RUN/dmesg" 2>/dev/null; then
		echo "vm: the kernel reported a problem during the run:" >&2
		grep -E -A14 "$pat" "$RUN/dmesg" | head -n 80 | sed 's/^/vm: | /' >&2
		KEEP=1
		[ "$status" = 0 ] && status=125
	fi
	if grep -q '^unreferenced object' "$RUN/kmemleak" 2>/dev/null; then
		echo "vm: kmemleak found objects leaked during the run:" >&2
		head -n 60 "$RUN/kmemleak" | sed 's/^/vm: | /' >&2
		KEEP=1
		[ "$status" = 0 ] && status=125
	fi
	exit "$status"
fi
if [ $qrc -eq 137 ] || [ $qrc -eq 124 ]; then
	echo "vm: error: the guest did not finish within ${TIMEOUT}s" >&2
	show_console
	exit 124
fi
if grep -q 'Kernel panic' "$RUN/console.log" 2>/dev/null; then
	echo "vm: error: the guest kernel panicked" >&2
else
	echo "vm: error: the guest stopped (qemu exit $qrc) without running the command" >&2
fi
show_console
exit 125
