#!/bin/sh
# VM suite: mainline's own iommufd selftests (tools/testing/selftests/iommu
# of the 7.3 base, the same tools/ the series leaves alone; built from the
# stock tree against its headers by 'make stock-progs') on the series'
# kernel: the series must keep every case of mainline's suite passing. Every
# kselftest case becomes one PASS/FAIL/SKIP line; the kselftest totals follow.
# They test iommufd's core through its mock IOMMU, which the lab probes
# without the emulated VT-d (scripts/vm.sh --no-iommu).
# vm-options: --no-iommu
# TSM_SELFTEST_BIN and TSM_SELFTEST_PREFIX name another build and a prefix
# of the case names (the stock kernel's: suite-stock-iommufd-selftests.sh).
# TSM_SELFTEST_DMABUF_PROBE (default tests/stock/iommufd_test_dmabuf_fd):
# when it finds the kernel's test request returning 0 instead of the
# DMABUF's fd (Linux 7.3.4 as shipped; the series carries the fix), the
# dmabuf_simple and dmabuf_revoke cases cannot work and a failure of theirs
# is a SKIP that says so; on a kernel without the bug they count as usual.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TSM_SELFTEST_BIN:-$ROOT/build/tests/stock/selftests-iommu}
TSM_SELFTEST_DMABUF_PROBE=${TSM_SELFTEST_DMABUF_PROBE-$ROOT/build/tests/stock/iommufd_test_dmabuf_fd}
PFX=${TSM_SELFTEST_PREFIX:-}
KNOWN=
rc=0
if [ -n "${TSM_SELFTEST_DMABUF_PROBE:-}" ]; then
	probe=$("$TSM_SELFTEST_DMABUF_PROBE" 2>&1)
	case $? in
	0) ;;
	1) KNOWN="the kernel's IOMMU_TEST_OP_DMABUF_GET $probe, not the DMABUF fd" ;;
	*) echo "FAIL: ${PFX}selftest-dmabuf-probe ($probe)"; rc=1 ;;
	esac
fi

# some variants map huge pages
echo 128 >/proc/sys/vm/nr_hugepages

for t in iommufd iommufd_fail_nth; do
	if [ ! -x "$BIN/$t" ]; then
		echo "FAIL: ${PFX}selftest-$t (not built: $BIN/$t)"
		rc=1
		continue
	fi
	"$BIN/$t" >"${TMPDIR:-/tmp}/$t.tap" 2>&1
	trc=$?
	# kselftest TAP: "ok N name", "not ok N name", "ok N name # SKIP why"
	awk -v t="$PFX$t" -v known="$KNOWN" '
		/^ok [0-9]+ .*# SKIP/ { sub(/^ok [0-9]+ /, ""); n=index($0, " # SKIP");
			print "SKIP: " t "." substr($0, 1, n-1) " (" substr($0, n+8) ")"; next }
		/^ok [0-9]+ / { sub(/^ok [0-9]+ /, ""); print "PASS: " t "." $0; next }
		/^not ok [0-9]+ / { sub(/^not ok [0-9]+ /, "");
			if (known != "" && $0 ~ /\.dmabuf_(simple|revoke)$/)
				print "SKIP: " t "." $0 " (" known ")";
			else
				print "FAIL: " t "." $0;
			next }
	' "${TMPDIR:-/tmp}/$t.tap" | tee "${TMPDIR:-/tmp}/$t.lines"
	grep -E '^# Totals:' "${TMPDIR:-/tmp}/$t.tap" | sed "s/^# /$t: /"
	# a failure is a FAIL line, or a non-zero exit with none to explain it
	if grep -q '^FAIL: ' "${TMPDIR:-/tmp}/$t.lines" ||
	   { [ $trc -ne 0 ] && ! grep -q '^SKIP: .*dmabuf_' "${TMPDIR:-/tmp}/$t.lines"; }; then
		grep -B30 '^not ok' "${TMPDIR:-/tmp}/$t.tap" | grep '^#' | tail -n 40
		rc=1
	fi
done
exit $rc
