#!/bin/sh
# The demo behind 'make lab': boot the lab VM on the series' kernel
# and, in it, watch a VMM's TSM flow (tests/vm/tsm_flow: DMABUFs
# in the IOAS and in KVM slots) with 'tsmtrace live': first the correct
# flow (PASS), then the same
# device with a kernel that forgets to tell iommufd about a revoke (the
# fault vfio_pci_dmabuf_skip_notify): the VIOLATION as it happens, then
# the story of the recorded file with 'tsmtrace report --violation 1'.
#
#   scripts/demo.sh            on the host: boots the lab (scripts/vm.sh)
#   scripts/demo.sh --guest    in the lab guest: the demo itself
#
# Needs the kernel, the tool and the VM programs built ('make lab' builds
# them). The guest output appears when the guest has finished (about two
# minutes under TCG, most of it loading the BPF programs).
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build/tsmtrace/tsmtrace
FLOW=$ROOT/build/tests/vm/tsm_flow

if [ "${1:-}" != --guest ]; then
	for f in "$B" "$FLOW" "$ROOT/build/kbuild/arch/x86/boot/bzImage"; do
		[ -e "$f" ] || { echo "demo: $f is missing: run 'make lab'" >&2; exit 1; }
	done
	echo "demo: booting the lab VM; its output follows when it has run"
	exec "$ROOT/scripts/vm.sh" --append tsm_sw.devices=1234:11e8,1af4:1110 \
		--timeout 600 -- "$ROOT/scripts/demo.sh" --guest
fi

say() { printf '\n==== %s\n' "$*"; }

# live [ARGS...]: start 'tsmtrace live' in the background, wait until it traces
live() {
	"$B" live --state-known "$@" 2>"$TMPDIR/live.err" &
	tracer=$!
	while ! grep -q tracing "$TMPDIR/live.err"; do
		kill -0 $tracer 2>/dev/null || { cat "$TMPDIR/live.err"; exit 1; }
		sleep 0.2
	done
}

stop() {
	sleep 0.5
	kill -INT $tracer
	wait $tracer
}

TMPDIR=${TMPDIR:-/tmp}
say "the lab"
"$ROOT/scripts/lab-status.sh"

say "tsmtrace live, while tsm_flow runs the correct flow on ivshmem"
live
"$FLOW" good
stop

say "tsmtrace live -o $TMPDIR/broken.tsm, while bind revokes a DMABUF the IOAS still maps, and the kernel forgets to tell iommufd"
live -o "$TMPDIR/broken.tsm"
"$FLOW" broken-revoke
stop

say "tsmtrace check $TMPDIR/broken.tsm"
"$B" check "$TMPDIR/broken.tsm"
say "tsmtrace report $TMPDIR/broken.tsm --violation 1"
"$B" report "$TMPDIR/broken.tsm" --violation 1
exit 0
