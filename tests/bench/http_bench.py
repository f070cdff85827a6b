#!/usr/bin/python3
"""http_bench.py -- the HTTP front end's part of `make bench`.

Runs wrk (Debian's standard HTTP load generator) against bench-upstream
called directly and through llmuxd's OpenAI-compatible HTTP listener, for
the same body: a plain chat completion and a 20-chunk stream. Prints one
table: requests/s, p50/p99 latency, the latency llmuxd adds at one
connection, and llmuxd's CPU microseconds per request (utime+stime from
/proc over the run, divided by the requests wrk completed). It reports; it
never passes or fails on a figure.

usage: tests/bench/http_bench.py [--build DIR] [--seconds S] [--conns N]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

LUA = r'''
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BENCH_BODY")
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %d\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout))
end
'''


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_ticks(pid):
    with open('/proc/%d/stat' % pid) as f:
        x = f.read().rsplit(')', 1)[1].split()
    return int(x[11]) + int(x[12])     # utime + stime


def wait_port(port, deadline):
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit('http_bench: nothing listens on %d' % port)


def wrk(url, body, seconds, conns, lua):
    env = dict(os.environ, BENCH_BODY=body)
    p = subprocess.run(['wrk', '-t1', '-c%d' % conns, '-d%ds' % seconds,
                        '-s', lua, url], capture_output=True, text=True,
                       env=env, timeout=seconds + 60)
    for line in p.stdout.splitlines():
        if line.startswith('RESULT '):
            n, dur_us, p50, p99, errs = map(int, line.split()[1:])
            return {'n': n, 'rps': n / (dur_us / 1e6), 'p50': p50,
                    'p99': p99, 'errors': errs}
    raise SystemExit('http_bench: wrk said nothing usable:\n' + p.stdout + p.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.path.join(ROOT, 'build'))
    ap.add_argument('--seconds', type=int, default=5)
    ap.add_argument('--conns', type=int, default=16)
    a = ap.parse_args()
    if shutil.which('wrk') is None:
        raise SystemExit('http_bench: wrk is not installed (apt-get install wrk; make deps does)')
    tck = os.sysconf('SC_CLK_TCK')
    d = tempfile.mkdtemp(prefix='llmux-httpbench-')
    procs = []
    try:
        lua = os.path.join(d, 'post.lua')
        with open(lua, 'w') as f:
            f.write(LUA)
        up = subprocess.Popen([os.path.join(a.build, 'bench-upstream'), '--port-file',
                               os.path.join(d, 'port'), '--max-seconds', '3600'],
                              stdout=subprocess.PIPE, text=True)
        procs.append(up)
        uport = int(up.stdout.readline())
        hport = free_port()
        with open(os.path.join(d, 'llmux.yaml'), 'w') as f:
            f.write('model_list:\n'
                    '  - model_name: bench\n'
                    '    litellm_params:\n'
                    '      model: openai/bench\n'
                    '      api_base: http://127.0.0.1:%d/v1\n'
                    '      api_key: sk-bench\n'
                    'llmux_settings:\n  log_level: warning\n' % uport)
        ld = subprocess.Popen([os.path.join(a.build, 'llmuxd'), '-c', os.path.join(d, 'llmux.yaml'),
                               '-s', os.path.join(d, 'llmux.sock'),
                               '--http', '127.0.0.1:%d' % hport],
                              stderr=subprocess.DEVNULL)
        procs.append(ld)
        wait_port(hport, time.monotonic() + 10)
        msgs = [{'role': 'user', 'content': 'Say something about benchmarks.'}]
        bodies = {'plain': json.dumps({'model': 'bench', 'messages': msgs}),
                  'stream': json.dumps({'model': 'bench', 'messages': msgs,
                                        'stream': True}, separators=(',', ':'))}
        rows = []
        for kind, body in bodies.items():
            for conns in (1, a.conns):
                for path, url in (('upstream', 'http://127.0.0.1:%d/v1/chat/completions' % uport),
                                  ('llmuxd', 'http://127.0.0.1:%d/v1/chat/completions' % hport)):
                    wrk(url, body, 1, conns, lua)          # warm up
                    t0 = cpu_ticks(ld.pid)
                    r = wrk(url, body, a.seconds, conns, lua)
                    cpu = (cpu_ticks(ld.pid) - t0) * 1e6 / tck
                    r['cpu_us'] = cpu / r['n'] if path == 'llmuxd' and r['n'] else None
                    rows.append((kind, conns, path, r))
        print('| scenario | conns | path | req/s | p50 µs | p99 µs | errors | llmuxd CPU µs/req |')
        print('|---|---|---|---|---|---|---|---|')
        for kind, conns, path, r in rows:
            print('| %s | %d | %s | %.0f | %d | %d | %d | %s |' % (
                kind, conns, path, r['rps'], r['p50'], r['p99'], r['errors'],
                '%.1f' % r['cpu_us'] if r['cpu_us'] is not None else '—'))
        for kind in bodies:
            one = {p: r for k, c, p, r in rows if k == kind and c == 1}
            many = {p: r for k, c, p, r in rows if k == kind and c == a.conns}
            print('%s: llmuxd adds %d µs at p50 on one connection (%.2fx the upstream\'s '
                  'latency); at %d connections it serves %.2fx the upstream\'s req/s' % (
                      kind, one['llmuxd']['p50'] - one['upstream']['p50'],
                      one['llmuxd']['p50'] / max(one['upstream']['p50'], 1), a.conns,
                      many['llmuxd']['rps'] / max(many['upstream']['rps'], 1)))
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
