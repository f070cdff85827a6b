#!/usr/bin/python3
"""run.py -- llmux's test runner: the C unit tests, then every integration
test, then the closing line "N passed, N failed" that CI reads.

usage: tests/run.py [--build DIR] [--only SUBSTRING] [--skip-unit]
                    [--skip-integration] [--skip-fuzz]
An integration test is a function test_* in tests/integration/test_*.py;
each runs under a time limit and fails on any exception. Then each
libFuzzer target of build-fuzz/ runs for a few seconds (run_fuzz).
"""

import argparse
import glob
import importlib.util
import os
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TEST_TIMEOUT = 180


class Timeout(Exception):
    pass


def on_alarm(signum, frame):
    raise Timeout('test took longer than %ds' % TEST_TIMEOUT)


def run_unit(build, only):
    binary = os.path.join(build, 'unit-tests')
    passed = failed = 0
    args = [binary] + ([only] if only else [])
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    for line in p.stdout.splitlines():
        if line.startswith('ok'):
            passed += 1
            print(line)
        elif line.startswith('FAIL'):
            failed += 1
            print(line)
    if p.returncode != 0 and failed == 0:
        failed += 1
        print('FAIL unit-tests exited with %d' % p.returncode)
    if failed:
        sys.stdout.write(p.stderr[-20000:])
    return passed, failed


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return name, mod


def run_integration(only):
    sys.path.insert(0, os.path.join(HERE, 'integration'))
    passed = failed = 0
    signal.signal(signal.SIGALRM, on_alarm)
    for path in sorted(glob.glob(os.path.join(HERE, 'integration', 'test_*.py'))):
        name, mod = load(path)
        for fname in sorted(n for n in dir(mod) if n.startswith('test_')):
            full = 'integration/%s.%s' % (name, fname)
            if only and only not in full:
                continue
            t0 = time.monotonic()
            signal.alarm(TEST_TIMEOUT)
            try:
                getattr(mod, fname)()
                ok = True
            except BaseException as e:  # a test's failure is never ours
                if isinstance(e, KeyboardInterrupt):
                    raise
                ok = False
                err = traceback.format_exc()
            finally:
                signal.alarm(0)
            dt = time.monotonic() - t0
            if ok:
                passed += 1
                print('ok   %s (%.2fs)' % (full, dt))
            else:
                failed += 1
                print('FAIL %s (%.2fs)\n%s' % (full, dt, err))
            sys.stdout.flush()
    return passed, failed


def run_fuzz(only):
    """The fuzz-smoke step: every libFuzzer target in build-fuzz/ (`make test`
    builds them) runs for $LLMUX_FUZZ_SECONDS (default 3) seconds, seeds and
    regression inputs first; each run counts as one test. Nothing built: a
    note, no count. See tests/fuzz/fuzzrun.py."""
    build = os.environ.get('LLMUX_FUZZ_BUILD', os.path.join(ROOT, 'build-fuzz'))
    seconds = int(os.environ.get('LLMUX_FUZZ_SECONDS', '3'))
    sys.path.insert(0, os.path.join(HERE, 'fuzz'))
    import fuzzrun
    results = fuzzrun.run_all(build, seconds, jobs=os.cpu_count() or 1,
                              only=only, prefix='fuzz/')
    if not results and not only:
        print('note fuzz: no targets in %s (make fuzz-build); fuzz step skipped' % build)
    passed = failed = 0
    for name, status, execs, detail in results:
        if status == 'ok':
            passed += 1
            print('ok   fuzz/%s (%d runs in %ds)' % (name, execs, seconds))
        elif status == 'skip':
            print('skip fuzz/%s (%s)' % (name, detail))
        else:
            failed += 1
            print('FAIL fuzz/%s (%d runs)\n%s' % (name, execs, detail))
        sys.stdout.flush()
    return passed, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.environ.get('LLMUX_BUILD', os.path.join(ROOT, 'build')))
    ap.add_argument('--only')
    ap.add_argument('--skip-unit', action='store_true')
    ap.add_argument('--skip-integration', action='store_true')
    ap.add_argument('--skip-fuzz', action='store_true')
    a = ap.parse_args()
    os.environ['LLMUX_BUILD'] = os.path.abspath(a.build)
    passed = failed = 0
    if not a.skip_unit:
        p, f = run_unit(a.build, a.only)
        passed += p
        failed += f
    if not a.skip_integration:
        p, f = run_integration(a.only)
        passed += p
        failed += f
    if not a.skip_fuzz:
        p, f = run_fuzz(a.only)
        passed += p
        failed += f
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
