#!/usr/bin/python3
"""fuzzrun.py -- runs the libFuzzer targets of tests/fuzz for a bounded time.

usage: tests/fuzz/fuzzrun.py [--build build-fuzz] [--seconds N] [--jobs J]
                             [--only SUBSTRING]

One run per target (build-fuzz/fuzz-NAME, seeds in tests/fuzz/corpus/NAME)
and one per provider corpus (tests/fuzz/corpus/provider-P, run with
LLMUX_FUZZ_PROVIDER=P): a provider whose adapter is not registered yet is
reported as skipped. Each run first replays the regress-* files (earlier
crashes and leaks: regression tests), then starts from every seed and
mutates for N seconds.
New inputs go to build-fuzz/corpus/NAME, crashes to build-fuzz/artifacts/.
Prints one line per run with its exec count; exits 1 if any run failed.
tests/run.py imports this module for the fuzz-smoke step of `make test`.
"""

import argparse
import concurrent.futures
import glob
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, 'corpus')
SKIP_EXIT = 2            # fuzz-provider: no adapter of that name


def runs(build):
    """[(name, binary, seed dir, extra env)] for every target found."""
    out = []
    for binary in sorted(glob.glob(os.path.join(build, 'fuzz-*'))):
        if not os.access(binary, os.X_OK) or binary.endswith('.d'):
            continue
        target = os.path.basename(binary)[len('fuzz-'):]
        if target == 'provider':
            for d in sorted(glob.glob(os.path.join(CORPUS, 'provider-*'))):
                prov = os.path.basename(d)[len('provider-'):]
                out.append(('provider-' + prov, binary, d, {'LLMUX_FUZZ_PROVIDER': prov}))
        else:
            out.append((target, binary, os.path.join(CORPUS, target), {}))
    return out


def run_one(build, name, binary, seeds, env, seconds):
    """Returns (name, status, execs, detail) with status ok/FAIL/skip."""
    work = os.path.join(build, 'corpus', name)
    arts = os.path.join(build, 'artifacts', name)
    os.makedirs(work, exist_ok=True)
    os.makedirs(arts, exist_ok=True)
    os.makedirs(seeds, exist_ok=True)
    e = dict(os.environ)
    e.update(env)
    # A leak or a UBSan report fails the run like a crash does.
    e.setdefault('UBSAN_OPTIONS', 'print_stacktrace=1:halt_on_error=1')
    cmd = [binary, '-max_total_time=%d' % seconds, '-print_final_stats=1',
           '-timeout=20', '-rss_limit_mb=2560', '-max_len=65536',
           '-artifact_prefix=%s/' % arts, work, seeds]
    t0 = time.monotonic()
    # Earlier crashes first, each run once as a plain input: libFuzzer does
    # not look for leaks while it loads a corpus, but LeakSanitizer does at
    # the exit of such a run.
    regress = sorted(glob.glob(os.path.join(seeds, 'regress-*')))
    if regress:
        try:
            p = subprocess.run([binary] + regress, env=e, capture_output=True,
                               text=True, errors='replace', timeout=300)
            rc, log = p.returncode, p.stderr
        except subprocess.TimeoutExpired:
            rc, log = -1, '(timed out)'
        if rc == SKIP_EXIT and 'no provider called' in log:
            return name, 'skip', 0, 'no adapter registered under that name yet'
        if rc != 0:
            m = re.findall(r'^Running: (\S+)', log, re.M)
            i = max(log.rfind('==ERROR'), log.rfind('fuzz assertion failed'),
                    log.rfind('runtime error'))
            return name, 'FAIL', len(m), 'regression input %s fails again ' \
                '(exit %d)\n%s' % (m[-1] if m else '?', rc,
                                   log[max(0, i - 200):][:6000])
    try:
        p = subprocess.run(cmd, env=e, capture_output=True, text=True,
                           errors='replace', timeout=seconds + 300)
        rc, log = p.returncode, p.stderr
    except subprocess.TimeoutExpired as x:
        rc, log = -1, (x.stderr or b'').decode('utf-8', 'replace') + '\n(timed out)'
    m = re.search(r'stat::number_of_executed_units:\s*(\d+)', log)
    execs = int(m.group(1)) if m else 0
    dt = time.monotonic() - t0
    if rc == SKIP_EXIT and 'no provider called' in log:
        return name, 'skip', 0, 'no adapter registered under that name yet'
    if rc != 0:
        # The report: from the sanitizer's or the assertion's first line.
        i = max(log.rfind('==ERROR'), log.rfind('fuzz assertion failed'),
                log.rfind('runtime error'))
        detail = log[max(0, i - 200):][:6000] if i >= 0 else log[-6000:]
        return name, 'FAIL', execs, 'exit %d after %.1fs\n%s' % (rc, dt, detail)
    return name, 'ok', execs, '%.1fs' % dt


def run_all(build, seconds, jobs=2, only=None, prefix=''):
    """Runs every target whose prefix + name holds 'only' (all when None)."""
    todo = [r for r in runs(build) if not only or only in prefix + r[0]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        futs = [ex.submit(run_one, build, n, b, s, e, seconds) for n, b, s, e in todo]
        return [f.result() for f in futs]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.path.join(ROOT, 'build-fuzz'))
    ap.add_argument('--seconds', type=int, default=60)
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 1)
    ap.add_argument('--only')
    a = ap.parse_args()
    res = run_all(a.build, a.seconds, a.jobs, a.only)
    if not res:
        print('fuzzrun: no targets in %s (make fuzz-build)' % a.build)
        return 1
    failed = 0
    print('%-22s %-5s %14s' % ('target', 'state', 'executions'))
    for name, status, execs, detail in res:
        print('%-22s %-5s %14d  %s' % (name, status, execs, detail.splitlines()[0] if detail else ''))
        if status == 'FAIL':
            failed += 1
            print(detail)
    total = sum(r[2] for r in res)
    skipped = sum(1 for r in res if r[1] == 'skip')
    print('fuzzrun: %d runs of %ds, %d executions in all, %d failed, %d skipped'
          % (len(res) - skipped, a.seconds, total, failed, skipped))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
