#!/usr/bin/python3
"""run.py -- llmux's test runner: the C unit tests, then every integration
test, then the closing line "N passed, N failed, N skipped" that CI reads.

usage: tests/run.py [--build DIR] [--only SUBSTRING] [--skip-unit]
                    [--skip-integration] [--skip-fuzz]
An integration test is a function test_* in tests/integration/test_*.py;
each runs under a time limit and fails on any exception but harness.Skip,
which counts it as skipped (never as passed). Then each libFuzzer target
of build-fuzz/ runs for a few seconds (run_fuzz). Exit status 1 when
anything failed; skips alone leave it 0.
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
    passed = failed = skipped = 0
    args = [binary] + ([only] if only else [])
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    for line in p.stdout.splitlines():
        if line.startswith('ok'):
            passed += 1
            print(line)
        elif line.startswith('FAIL'):
            failed += 1
            print(line)
        elif line.startswith('skip'):
            skipped += 1
            print(line)
    if p.returncode != 0 and failed == 0:
        failed += 1
        print('FAIL unit-tests exited with %d' % p.returncode)
    if failed:
        sys.stdout.write(p.stderr[-20000:])
    return passed, failed, skipped


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return name, mod


def run_integration(only):
    sys.path.insert(0, os.path.join(HERE, 'integration'))
    import harness          # the module the tests import: its Skip class
    passed = failed = skipped = 0
    signal.signal(signal.SIGALRM, on_alarm)
    for path in sorted(glob.glob(os.path.join(HERE, 'integration', 'test_*.py'))):
        name, mod = load(path)
        for fname in sorted(n for n in dir(mod) if n.startswith('test_')):
            full = 'integration/%s.%s' % (name, fname)
            if only and only not in full:
                continue
            t0 = time.monotonic()
            signal.alarm(TEST_TIMEOUT)
            why = None
            try:
                getattr(mod, fname)()
                ok = True
            except harness.Skip as e:
                ok, why = True, str(e) or 'no reason given'
            except BaseException as e:  # a test's failure is never ours
                if isinstance(e, KeyboardInterrupt):
                    raise
                ok = False
                err = traceback.format_exc()
            finally:
                signal.alarm(0)
            dt = time.monotonic() - t0
            if why is not None:
                skipped += 1
                print('skip %s: %s' % (full, why))
            elif ok:
                passed += 1
                print('ok   %s (%.2fs)' % (full, dt))
            else:
                failed += 1
                print('FAIL %s (%.2fs)\n%s' % (full, dt, err))
            sys.stdout.flush()
    return passed, failed, skipped


def run_fuzz(only):
    """The fuzz-smoke step: every libFuzzer target in build-fuzz/ (`make test`
    builds them) runs for $LLMUX_FUZZ_SECONDS (default 3) seconds, seeds and
    regression inputs first; each run counts as one test. Nothing built:
    one skip (the step did not run). See tests/fuzz/fuzzrun.py."""
    build = os.environ.get('LLMUX_FUZZ_BUILD', os.path.join(ROOT, 'build-fuzz'))
    seconds = int(os.environ.get('LLMUX_FUZZ_SECONDS', '3'))
    sys.path.insert(0, os.path.join(HERE, 'fuzz'))
    import fuzzrun
    results = fuzzrun.run_all(build, seconds, jobs=os.cpu_count() or 1,
                              only=only, prefix='fuzz/')
    passed = failed = skipped = 0
    if not results and not only:
        skipped += 1
        print('skip fuzz: no targets in %s (make fuzz-build)' % build)
    for name, status, execs, detail in results:
        if status == 'ok':
            passed += 1
            print('ok   fuzz/%s (%d runs in %ds)' % (name, execs, seconds))
        elif status == 'skip':
            skipped += 1
            print('skip fuzz/%s: %s' % (name, detail))
        else:
            failed += 1
            print('FAIL fuzz/%s (%d runs)\n%s' % (name, execs, detail))
        sys.stdout.flush()
    return passed, failed, skipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.environ.get('LLMUX_BUILD', os.path.join(ROOT, 'build')))
    ap.add_argument('--only')
    ap.add_argument('--skip-unit', action='store_true')
    ap.add_argument('--skip-integration', action='store_true')
    ap.add_argument('--skip-fuzz', action='store_true')
    a = ap.parse_args()
    os.environ['LLMUX_BUILD'] = os.path.abspath(a.build)
    total = [0, 0, 0]          # passed, failed, skipped
    steps = [(a.skip_unit, lambda: run_unit(a.build, a.only)),
             (a.skip_integration, lambda: run_integration(a.only)),
             (a.skip_fuzz, lambda: run_fuzz(a.only))]
    for off, step in steps:
        if not off:
            total = [t + n for t, n in zip(total, step())]
    print('%d passed, %d failed, %d skipped' % tuple(total))
    return 1 if total[1] else 0


if __name__ == '__main__':
    sys.exit(main())
