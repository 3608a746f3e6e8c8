#!/bin/sh
# VM suite: the kernel's own iommufd selftests (tools/testing/selftests/iommu
# of the same 6.12 tree, built on the host by 'make test-progs'). Every
# kselftest case becomes one PASS/FAIL/SKIP line; the kselftest totals follow.
# They test iommufd's core through its mock IOMMU, which 6.12 can only probe
# when no hardware IOMMU is registered (see scripts/vm.sh --no-iommu).
# vm-options: --no-iommu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TSM_SELFTEST_BIN:-$ROOT/build/tests/selftests-iommu}
rc=0

# some variants map huge pages
echo 128 >/proc/sys/vm/nr_hugepages

for t in iommufd iommufd_fail_nth; do
	if [ ! -x "$BIN/$t" ]; then
		echo "FAIL: selftest-$t (not built: $BIN/$t)"
		rc=1
		continue
	fi
	"$BIN/$t" >"${TMPDIR:-/tmp}/$t.tap" 2>&1
	trc=$?
	# kselftest TAP: "ok N name", "not ok N name", "ok N name # SKIP why"
	awk -v t="$t" '
		/^ok [0-9]+ .*# SKIP/ { sub(/^ok [0-9]+ /, ""); n=index($0, " # SKIP");
			print "SKIP: " t "." substr($0, 1, n-1) " (" substr($0, n+8) ")"; next }
		/^ok [0-9]+ / { sub(/^ok [0-9]+ /, ""); print "PASS: " t "." $0; next }
		/^not ok [0-9]+ / { sub(/^not ok [0-9]+ /, ""); print "FAIL: " t "." $0; next }
	' "${TMPDIR:-/tmp}/$t.tap"
	grep -E '^# Totals:' "${TMPDIR:-/tmp}/$t.tap" | sed "s/^# /$t: /"
	if [ $trc -ne 0 ]; then
		grep -B30 '^not ok' "${TMPDIR:-/tmp}/$t.tap" | grep '^#' | tail -n 40
		rc=1
	fi
done
exit $rc
