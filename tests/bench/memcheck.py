#!/usr/bin/python3
"""memcheck.py -- the integration suite with every llmuxd under valgrind
(`make memcheck`).

usage: tests/bench/memcheck.py [--build DIR] [--only SUBSTRING]

tests/integration/harness.py runs llmuxd as
    valgrind -q --error-exitcode=99 --leak-check=full ... llmuxd
when LLMUX_VALGRIND is set, so a test whose daemon had a finding fails
(Daemon.__exit__ raises on exit code 99). That alone would miss daemons a
test stops itself or kills, so this script also gives valgrind a log file
per process (VALGRIND_OPTS=--log-file=DIR/vg.%p.log) and reads every one
afterwards: with -q valgrind writes only findings, so any text in them --
an invalid read or write, a use of uninitialised memory, a definite or
indirect leak, a bad free -- fails the check.

Exits 0 when no valgrind log has a finding. Tests that fail for another
reason (llmuxd runs 20-50 times slower under valgrind, so a test with a
tight deadline may time out) are listed, but are not memcheck findings;
they run without valgrind in `make test`.
"""

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--only')
    a = ap.parse_args()
    logs = tempfile.mkdtemp(prefix='llmux-memcheck-')
    env = dict(os.environ)
    env['LLMUX_VALGRIND'] = '1'
    env['VALGRIND_OPTS'] = ('--log-file=%s/vg.%%p.log --num-callers=30 '
                            '--track-origins=yes' % logs)
    cmd = [sys.executable, os.path.join(ROOT, 'tests', 'run.py'), '--build', a.build,
           '--skip-unit', '--skip-fuzz']
    if a.only:
        cmd += ['--only', a.only]
    print('memcheck: %s (valgrind logs in %s)' % (' '.join(cmd), logs))
    sys.stdout.flush()
    p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True,
                       errors='replace', timeout=4 * 3600)
    failed_tests = re.findall(r'^FAIL (\S+)', p.stdout, re.M)
    summary = re.findall(r'^(\d+) passed, (\d+) failed(?:, \d+ skipped)?$', p.stdout, re.M)
    rc99 = [t for t in failed_tests
            if re.search(r'FAIL %s .*?exited with 99' % re.escape(t), p.stdout, re.S)]
    findings = []
    files = sorted(glob.glob(os.path.join(logs, 'vg.*.log')))
    for path in files:
        with open(path, errors='replace') as f:
            text = f.read().strip()
        if text:
            findings.append((path, text))
    print('memcheck: %d llmuxd processes ran under valgrind' % len(files))
    if summary:
        print('memcheck: integration suite under valgrind: %s passed, %s failed' % summary[-1])
    for path, text in findings:
        print('\n==== valgrind finding: %s\n%s' % (path, text[:12000]))
    others = [t for t in failed_tests if t not in rc99]
    if others:
        print('\nmemcheck: tests that failed without a valgrind finding (slow under valgrind?):')
        for t in others:
            m = re.search(r'^FAIL %s .*?(?=^(?:ok|FAIL) |^\d+ passed)' % re.escape(t),
                          p.stdout, re.S | re.M)
            print('  ' + t)
            if m:
                print('    ' + m.group(0).strip()[-1500:].replace('\n', '\n    '))
    if not files:
        print('memcheck: FAIL: no llmuxd ran under valgrind (is valgrind installed?)')
        return 1
    if findings or rc99:
        print('\nmemcheck: FAIL: %d valgrind logs with findings, %d tests saw exit code 99'
              % (len(findings), len(rc99)))
        return 1
    print('memcheck: ok: no invalid accesses, no definite or indirect leaks')
    return 0


if __name__ == '__main__':
    sys.exit(main())
