#!/usr/bin/env bash
# Host suite: the kernel pipeline's round trip and its refusals, on a small
# synthetic source tarball (scripts/kernel.sh only needs 'make kernelversion'
# and files to patch), and the lab VM runner's exit statuses on the real lab
# kernel (skipped when it is not built).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/tsm-pipeline.XXXXXX)
trap 'rm -rf "$T"' EXIT
rc=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1 ($2)"; rc=1; }

# a source tarball of version $1 in $2
make_tarball() {
	local d=$T/src/linux-source-6.12
	rm -rf "$T/src"; mkdir -p "$d/drivers"
	printf 'kernelversion:\n\t@echo %s\n' "$1" >"$d/Makefile"
	printf 'int answer = 42;\n' >"$d/drivers/answer.c"
	printf '*.o\n\n#\n# Debian packaging: ignore everything at the top level, since it isn'"'"'t\n# included in our repository\n#\n/*\n!/debian/\n' >"$d/.gitignore"
	tar -C "$T/src" -cJf "$2" linux-source-6.12
}

export KERNEL_BASE_FILE=$T/BASE KERNEL_PATCHES=$T/patches
printf 'BASE_PACKAGE=linux-source-6.12\nBASE_VERSION=6.12.117-1~deb12u1\nBASE_KERNEL=6.12.117\n' >"$T/BASE"
mkdir -p "$T/patches"
K=$ROOT/scripts/kernel.sh

# --- round trip: prepare, commit in the tree, export, re-apply from patches
make_tarball 6.12.117 "$T/good.tar.xz"
export KERNEL_TARBALL=$T/good.tar.xz BUILD_DIR=$T/b1
if out=$("$K" prepare 2>&1) && [ -d "$T/b1/linux/.git" ]; then
	pass pipeline-prepare-unpacks-and-records-base
else
	fail pipeline-prepare-unpacks-and-records-base "$out"
fi
g() { git -C "$T/b1/linux" -c user.name=t -c user.email=t@t "$@"; }
sed -i 's/42/43/' "$T/b1/linux/drivers/answer.c"
printf 'int new_file;\n' >"$T/b1/linux/drivers/new.c"
if [ -n "$(g status --porcelain -- drivers/new.c)" ]; then
	pass pipeline-new-files-visible-to-git
else
	fail pipeline-new-files-visible-to-git "Debian's top-level ignore still hides new files"
fi
g add drivers/new.c drivers/answer.c && g commit -qm "drivers: Change the answer"
out=$("$K" export 2>&1)
n=$(ls "$T/patches"/*.patch 2>/dev/null | wc -l)
if [ "$n" = 1 ] && grep -q 'Subject: \[PATCH\] drivers: Change the answer' "$T/patches"/*.patch; then
	pass pipeline-export-writes-one-patch-per-commit
else
	fail pipeline-export-writes-one-patch-per-commit "$n patches; $out"
fi
export BUILD_DIR=$T/b2
if out=$("$K" prepare 2>&1) && grep -q 43 "$T/b2/linux/drivers/answer.c" &&
   [ -f "$T/b2/linux/drivers/new.c" ] && [ "$(git -C "$T/b2/linux" rev-list --count tsm-base..HEAD)" = 1 ]; then
	pass pipeline-series-applies-as-commits
else
	fail pipeline-series-applies-as-commits "$out"
fi
cp -r "$T/patches" "$T/patches.before"
export BUILD_DIR=$T/b1
"$K" export >/dev/null 2>&1
if diff -r "$T/patches.before" "$T/patches" >/dev/null; then
	pass pipeline-export-round-trip-is-stable
else
	fail pipeline-export-round-trip-is-stable "a second export changed the patches"
fi

# --- unexported work is never discarded when the series changes
echo 'int more;' >>"$T/b1/linux/drivers/answer.c"
g commit -qam "drivers: More"
touch "$T/patches/0001-"*.patch && sed -i 's/Change the answer/Change the answer!/' "$T/patches"/0001-*.patch
out=$("$K" prepare 2>&1); prc=$?
if [ $prc -ne 0 ] && grep -q "not in kernel/patches\|make kernel-export" <<<"$out" &&
   grep -q 'int more' "$T/b1/linux/drivers/answer.c"; then
	pass pipeline-refuses-to-discard-unexported-work
else
	fail pipeline-refuses-to-discard-unexported-work "exit $prc: $out"
fi
# keeping the work: export it (the series now has both commits)
"$K" export >/dev/null 2>&1
echo 'dirty' >>"$T/b1/linux/drivers/answer.c"
out=$("$K" export 2>&1); prc=$?
if [ $prc -ne 0 ] && grep -q "uncommitted changes" <<<"$out" && [ "$(ls "$T/patches" | wc -l)" = 2 ]; then
	pass pipeline-export-refuses-dirty-tree
else
	fail pipeline-export-refuses-dirty-tree "exit $prc: $out"
fi

# --- a patch that does not apply
export BUILD_DIR=$T/b3
mkdir -p "$T/badp"
cat >"$T/badp/0001-bad.patch" <<'PATCH'
From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: t <t@t>
Date: Thu, 1 Jan 2026 00:00:00 +0000
Subject: [PATCH] drivers: Does not apply

---
 drivers/answer.c | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/drivers/answer.c b/drivers/answer.c
--- a/drivers/answer.c
+++ b/drivers/answer.c
@@ -1 +1 @@
-int answer = 41;
+int answer = 40;
PATCH
out=$(KERNEL_PATCHES=$T/badp "$K" prepare 2>&1); prc=$?
if [ $prc -ne 0 ] && grep -q "0001-bad.patch does not apply" <<<"$out" &&
   [ -z "$(git -C "$T/b3/linux" status --porcelain --untracked-files=no)" ]; then
	pass pipeline-bad-patch-named-and-tree-clean
else
	fail pipeline-bad-patch-named-and-tree-clean "exit $prc: $out"
fi

# --- a source of another kernel version: refused, even another sublevel,
# unless asked for; then it warns and tries
make_tarball 6.13.2 "$T/wrong.tar.xz"
out=$(KERNEL_TARBALL=$T/wrong.tar.xz BUILD_DIR=$T/b4 "$K" prepare 2>&1); prc=$?
if [ $prc -ne 0 ] && grep -q "Linux 6.13.2 but the series .* is made for 6.12.117" <<<"$out" &&
   grep -q "KERNEL_ALLOW_OTHER_BASE=1" <<<"$out" && [ ! -d "$T/b4/linux" ]; then
	pass pipeline-wrong-base-refused
else
	fail pipeline-wrong-base-refused "exit $prc: $out"
fi
make_tarball 6.12.118 "$T/newer.tar.xz"
out=$(KERNEL_TARBALL=$T/newer.tar.xz BUILD_DIR=$T/b4 "$K" prepare 2>&1); prc=$?
if [ $prc -ne 0 ] && grep -q "Linux 6.12.118 but the series .* is made for 6.12.117 (linux-source-6.12 6.12.117-1~deb12u1" <<<"$out"; then
	pass pipeline-other-sublevel-refused
else
	fail pipeline-other-sublevel-refused "exit $prc: $out"
fi
out=$(KERNEL_ALLOW_OTHER_BASE=1 KERNEL_TARBALL=$T/newer.tar.xz BUILD_DIR=$T/b4 "$K" prepare 2>&1); prc=$?
if [ $prc -eq 0 ] && grep -q "warning: the source is Linux 6.12.118, the series is made for 6.12.117" <<<"$out" &&
   grep -q "applied $(ls "$T/patches" | wc -l) patch(es) on 6.12.118" <<<"$out"; then
	pass pipeline-other-base-when-asked-warns-and-tries
else
	fail pipeline-other-base-when-asked-warns-and-tries "exit $prc: $out"
fi
# the base moves (a new tarball): the tree is made anew from it ...
out=$(KERNEL_TARBALL=$T/good.tar.xz BUILD_DIR=$T/b4 "$K" prepare 2>&1); prc=$?
if [ $prc -eq 0 ] && grep -q "the base changed: unpacking it anew" <<<"$out" &&
   [ "$(make -s -C "$T/b4/linux" kernelversion)" = 6.12.117 ] &&
   [ "$(git -C "$T/b4/linux" rev-list --count tsm-base..HEAD)" = "$(ls "$T/patches" | wc -l)" ]; then
	pass pipeline-new-base-unpacked-anew
else
	fail pipeline-new-base-unpacked-anew "exit $prc: $out"
fi
# ... but never over work that is not exported
echo 'int local;' >>"$T/b4/linux/drivers/answer.c"
git -C "$T/b4/linux" -c user.name=t -c user.email=t@t commit -qam "drivers: Local"
out=$(KERNEL_ALLOW_OTHER_BASE=1 KERNEL_TARBALL=$T/newer.tar.xz BUILD_DIR=$T/b4 "$K" prepare 2>&1); prc=$?
if [ $prc -ne 0 ] && grep -q "names another source" <<<"$out" &&
   grep -q 'int local' "$T/b4/linux/drivers/answer.c"; then
	pass pipeline-new-base-keeps-unexported-work
else
	fail pipeline-new-base-keeps-unexported-work "exit $prc: $out"
fi
out=$(KERNEL_TARBALL=$T/missing.tar.xz BUILD_DIR=$T/b5 "$K" prepare 2>&1); prc=$?
if [ $prc -ne 0 ] && grep -q "missing.tar.xz not found" <<<"$out"; then
	pass pipeline-missing-source-named
else
	fail pipeline-missing-source-named "exit $prc: $out"
fi
unset KERNEL_TARBALL KERNEL_BASE_FILE KERNEL_PATCHES BUILD_DIR

# --- the VM runner's statuses (needs the lab kernel)
V=$ROOT/scripts/vm.sh
mkdir -p "$ROOT/build/vm-runs"
VM_RUNS_DIR=$(mktemp -d "$ROOT/build/vm-runs/pipeline.XXXXXX")
export VM_RUNS_DIR
trap 'rm -rf "$T" "$VM_RUNS_DIR"' EXIT
if [ ! -f "$ROOT/build/kbuild/arch/x86/boot/bzImage" ]; then
	echo "SKIP: vm-runner-* (no lab kernel built: make kernel)"
	exit $rc
fi
out=$("$V" --timeout 120 -- sh -c 'echo out-line; echo err-line >&2; exit 7' 2>&1); vrc=$?
if [ $vrc = 7 ] && grep -q out-line <<<"$out" && grep -q err-line <<<"$out"; then
	pass vm-runner-returns-status-and-output
else
	fail vm-runner-returns-status-and-output "exit $vrc: $out"
fi
out=$("$V" --timeout 120 -- sh -c 'echo c >/proc/sysrq-trigger' 2>&1); vrc=$?
if [ $vrc = 125 ] && grep -q "panicked" <<<"$out"; then
	pass vm-runner-reports-panic
else
	fail vm-runner-reports-panic "exit $vrc: $(tail -3 <<<"$out")"
fi
out=$("$V" --timeout 25 -- sleep 600 2>&1); vrc=$?
if [ $vrc = 124 ] && grep -q "did not finish within 25s" <<<"$out"; then
	pass vm-runner-hard-timeout
else
	fail vm-runner-hard-timeout "exit $vrc: $(tail -3 <<<"$out")"
fi
out=$("$V" --kernel /nonexistent -- true 2>&1); vrc=$?
if [ $vrc = 126 ] && grep -q "no kernel at /nonexistent" <<<"$out"; then
	pass vm-runner-missing-kernel
else
	fail vm-runner-missing-kernel "exit $vrc: $out"
fi
# the instruction clock (make bench): a bad shift and a second host
# thread are refused before anything boots; a run on it works as any other
out=$("$V" --icount 11 -- true 2>&1); vrc=$?
out2=$("$V" --icount 0 --tcg-threads multi -- true 2>&1); vrc2=$?
if [ $vrc = 126 ] && grep -q "shift from 0 to 10, not '11'" <<<"$out" &&
   [ $vrc2 = 126 ] && grep -q "not with --tcg-threads multi" <<<"$out2"; then
	pass vm-runner-icount-refuses-bad-use
else
	fail vm-runner-icount-refuses-bad-use "exit $vrc: $out; exit $vrc2: $out2"
fi
out=$("$V" --smp 1 --icount 0 --timeout 120 -- sh -c 'nproc; exit 5' 2>&1); vrc=$?
if [ $vrc = 5 ] && grep -qx 1 <<<"$out"; then
	pass vm-runner-icount-runs
else
	fail vm-runner-icount-runs "exit $vrc: $(tail -3 <<<"$out")"
fi
# The coverage report of make coverage (scripts/coverage-report.py) on a
# tree of one file: of the lines the series wrote, those gcov counts, and
# which of them ran in any run
C=$(mktemp -d)
mkdir -p "$C/src" "$C/obj" "$C/runs/r1" "$C/runs/r2"
printf '%s\n' 'int g(int x)' '{' '	return x + 1;' '}' 'int main(int argc, char **argv)' '{' \
	'	(void)argv;' '	return g(argc) == 99;' '}' >"$C/src/a.c"
git -C "$C/src" init -q && git -C "$C/src" add a.c &&
	git -C "$C/src" -c user.name=t -c user.email=t@t commit -qm base && git -C "$C/src" tag tsm-base
printf '%s\n' 'int g(int x)' '{' '	return x + 1;' '}' 'int f(int x)' '{' '	if (x == 1)' \
	'		return g(x);' '	if (x == 2)' '		return 7;' '	return 0;' '}' \
	'int main(int argc, char **argv)' '{' '	(void)argv;' '	return f(argc) == 99;' '}' >"$C/src/a.c"
git -C "$C/src" -c user.name=t -c user.email=t@t commit -qam series
if (cd "$C/obj" && gcc -O0 --coverage -c "$C/src/a.c" -o a.o && gcc --coverage a.o -o a) &&
   "$C/obj/a" && mv "$C/obj/a.gcda" "$C/runs/r1/" && "$C/obj/a" x y && mv "$C/obj/a.gcda" "$C/runs/r2/"; then
	one=$(mkdir -p "$C/one/r1" && cp "$C/runs/r1/a.gcda" "$C/one/r1/" &&
	      python3 "$ROOT/scripts/coverage-report.py" "$C/src" "$C/obj" "$C/one" a.c 2>&1)
	both=$(python3 "$ROOT/scripts/coverage-report.py" "$C/src" "$C/obj" "$C/runs" a.c 2>&1)
	# run 1 (f(1)) leaves lines 9-11 of f, run 2 (f(3)) line 10: the
	# base's line 3 never counts, though it ran
	if grep -qx '  a.c: 9-11' <<<"$one" && grep -qx '  a.c: 10' <<<"$both" &&
	   grep -q 'over 2 boot' <<<"$both" && ! grep -q ': 3' <<<"$one"; then
		pass coverage-report-counts-the-series-lines
	else
		fail coverage-report-counts-the-series-lines "one run: $one; two runs: $both"
	fi
else
	fail coverage-report-counts-the-series-lines "could not build or run the program with gcov"
fi
rm -rf "$C"

exit $rc
