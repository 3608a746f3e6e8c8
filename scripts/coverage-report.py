#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The line coverage of the series' lines (scripts/coverage.sh).

    coverage-report.py SRC OBJTREE RUNS FILE...

SRC is the kernel source (a git tree with the tag tsm-base under the
series), OBJTREE the object tree built with gcov (its .gcno files), RUNS a
directory of run directories, each holding PATH.gcda counters of the files.
For each FILE (a C file of the series, relative to SRC): the lines the
series adds or changes ('git diff -U0 tsm-base HEAD'), those of them gcov
counts (the lines that can run), how many ran in any run, and the numbers
of those that did not. Exit status 0, or 2 when gcov fails.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HUNK = re.compile(r'^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@', re.M)


def series_lines(src, path):
    """the line numbers, in the file as it is, that the series wrote"""
    out = subprocess.run(['git', '-C', src, 'diff', '-U0', 'tsm-base', 'HEAD', '--', path],
                         check=True, capture_output=True, text=True).stdout
    lines = set()
    for m in HUNK.finditer(out):
        start, n = int(m.group(1)), int(m.group(2) or 1)
        lines.update(range(start, start + n))
    return lines


def gcov_counts(src, objtree, path, gcda, scratch):
    """{line: count} of @path from @gcda (None: the lines gcov counts, all 0)"""
    rel = path[:-2]
    d = os.path.join(scratch, os.path.dirname(rel))
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(d)
    base = os.path.join(scratch, rel)
    os.symlink(os.path.join(objtree, rel + '.gcno'), base + '.gcno')
    if gcda:
        shutil.copyfile(gcda, base + '.gcda')
    r = subprocess.run(['gcov', '--json-format', '--stdout', '-o', d, os.path.join(src, path)],
                       capture_output=True, text=True, cwd=scratch)
    if r.returncode != 0 or not r.stdout.strip():
        sys.stderr.write('coverage: gcov failed on %s: %s\n' % (path, r.stderr.strip()))
        sys.exit(2)
    counts = {}
    for doc in r.stdout.splitlines():
        if not doc.strip():
            continue
        for f in json.loads(doc)['files']:
            if not os.path.normpath(f['file']).endswith(path):
                continue   # a header's inline functions
            for ln in f['lines']:
                n = ln['line_number']
                counts[n] = counts.get(n, 0) + ln['count']
    return counts


def ranges(nums):
    out, nums = [], sorted(nums)
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else '%d-%d' % (nums[i], nums[j]))
        i = j + 1
    return ', '.join(out)


def main():
    if len(sys.argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    src, objtree, runs = (os.path.abspath(a) for a in sys.argv[1:4])
    files = sys.argv[4:]
    run_dirs = sorted(os.path.join(runs, r) for r in os.listdir(runs))
    scratch = tempfile.mkdtemp(prefix='tsm-coverage.')
    total_can = total_ran = 0
    rows, missed = [], []
    try:
        for path in files:
            rel = path[:-2]
            if not os.path.exists(os.path.join(objtree, rel + '.gcno')):
                rows.append((path, None, None))
                continue
            counts = gcov_counts(src, objtree, path, None, scratch)
            for run in run_dirs:
                gcda = os.path.join(run, rel + '.gcda')
                if os.path.exists(gcda):
                    for n, c in gcov_counts(src, objtree, path, gcda, scratch).items():
                        counts[n] = counts.get(n, 0) + c
            mine = series_lines(src, path)
            can = sorted(n for n in counts if n in mine)
            ran = [n for n in can if counts[n] > 0]
            total_can += len(can)
            total_ran += len(ran)
            rows.append((path, len(can), len(ran)))
            if len(ran) < len(can):
                missed.append((path, ranges(set(can) - set(ran))))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print('line coverage of the series: the lines it adds or changes that can run, '
          'over %d boot(s) of the lab VM' % len(run_dirs))
    print('%-45s %8s %8s %7s' % ('file', 'lines', 'ran', '%'))
    for path, can, ran in rows:
        if can is None:
            print('%-45s %8s %8s %7s' % (path, '-', '-', 'not built'))
        elif can:
            print('%-45s %8d %8d %6.1f%%' % (path, can, ran, 100.0 * ran / can))
        else:
            print('%-45s %8d %8d %7s' % (path, 0, 0, '-'))
    pct = 100.0 * total_ran / total_can if total_can else 0.0
    print('%-45s %8d %8d %6.1f%%' % ('total', total_can, total_ran, pct))
    if missed:
        print('\nlines of the series that did not run:')
        for path, r in missed:
            print('  %s: %s' % (path, r))
    return 0


if __name__ == '__main__':
    sys.exit(main())
