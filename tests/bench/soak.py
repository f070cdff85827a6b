#!/usr/bin/python3
"""soak.py -- a bounded soak of llmuxd: mixed traffic for N seconds, then
checks that llmuxd's memory and descriptors came back and that no request
was lost.

usage: tests/bench/soak.py [--build DIR] [--seconds N] [--workers W]
                           [--rss-slack-kb K] [--seed S]

Traffic (each worker thread picks at random, with a fixed seed):
  plain and streamed requests through the OpenAI adapter to
  tests/mockup/fakeprov.py; upstream faults from its scenario words (429,
  500, 503, reset before and in the middle of a stream, malformed bodies,
  in-stream errors, a hung upstream cut by the request's timeout); cancels
  after the first chunk; clients that disconnect in the middle of a
  stream; unknown models; malformed frames; mock/echo answered in-process.

Checks, after a warm-up of a quarter of the time (at least 3 s):
  * every request that was not deliberately abandoned got exactly one
    terminal frame (done or error), of the kind its scenario calls for;
  * llmuxd's RSS once the traffic stopped is at most --rss-slack-kb above
    its RSS at the end of the warm-up (both idle, after the same traffic
    mix, so allocator arenas and curl's pools are already grown);
  * its descriptors other than upstream TCP connections are back to the
    warm-up count exactly, and the upstream connections are no more than
    curl's connection cache holds (they are a pool, not a leak);
  * llmuxd exits 0 on SIGTERM.
Exits 0 when every check holds, 1 otherwise. Every wait is bounded, and
llmuxd and the fake are stopped by their PIDs.
"""

import argparse
import os
import random
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))

CURL_MAXCONNECTS = 256           # upstream.c: CURLMOPT_MAXCONNECTS

# name: (weight, model, stream, extra body, expected terminal frames)
ACTIONS = {
    'plain':          (20, 'openai/text', False, {}, ('done',)),
    'stream':         (20, 'openai/text', True, {}, ('done',)),
    'stream-usage':   (5, 'openai/tool', True, {'stream_options': {'include_usage': True}}, ('done',)),
    'echo-local':     (5, 'mock/echo', True, {}, ('done',)),
    'err-429':        (4, 'openai/err-429:0.01', False, {'num_retries': 0}, ('error',)),
    'err-500':        (4, 'openai/err-500', False, {'num_retries': 0}, ('error',)),
    'err-503-stream': (3, 'openai/err-503', True, {'num_retries': 0}, ('error',)),
    'reset':          (3, 'openai/reset', False, {'num_retries': 0}, ('error',)),
    'reset-mid':      (4, 'openai/text+reset-mid', True, {'num_retries': 0}, ('error',)),
    'malformed':      (3, 'openai/malformed', False, {'num_retries': 0}, ('error',)),
    'malformed-sse':  (3, 'openai/malformed', True, {'num_retries': 0}, ('error', 'done')),
    'instream-error': (3, 'openai/instream-error', True, {'num_retries': 0}, ('error',)),
    'hang-timeout':   (2, 'openai/hang', False, {'timeout': 0.3, 'num_retries': 0}, ('error',)),
    'unknown-model':  (2, 'nope/none', False, {}, ('error',)),
    'cancel':         (6, 'openai/drip:40+slow:20', True, {}, ('error', 'done')),
    'disconnect':     (6, 'openai/drip:40+slow:20', True, {}, ()),
    'bad-frame':      (1, None, False, {}, ()),
}


def proc_rss_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return -1


def tcp_inodes():
    """Inodes of every TCP socket on the machine (this network namespace)."""
    out = set()
    for name in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    out.add(line.split()[9])
        except OSError:
            pass
    return out


def fd_census(pid):
    """(non-TCP descriptors, TCP sockets) of pid."""
    tcp = tcp_inodes()
    other = upstream = 0
    d = '/proc/%d/fd' % pid
    for fd in os.listdir(d):
        try:
            link = os.readlink(os.path.join(d, fd))
        except OSError:
            continue
        if link.startswith('socket:[') and link[8:-1] in tcp:
            upstream += 1
        else:
            other += 1
    return other, upstream


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.count = {}
        self.failures = []

    def ok(self, kind):
        with self.lock:
            self.count[kind] = self.count.get(kind, 0) + 1

    def fail(self, kind, what):
        with self.lock:
            self.failures.append('%s: %s' % (kind, what))


def body(model, stream, extra, n):
    b = {'model': model, 'messages': [{'role': 'user', 'content': 'soak %d' % n}]}
    if stream:
        b['stream'] = True
    b.update(extra)
    return b


def one(d, conn, rng, kind, n, stats):
    """Runs one action; returns the connection to keep using (or None)."""
    from harness import Raw
    _, model, stream, extra, want = ACTIONS[kind]
    if kind == 'bad-frame':
        # A length of zero is a protocol error: llmuxd answers and closes.
        r = Raw(d.sock)
        r.send_bytes(b'\x00\x00\x00\x00')
        m = r.recv(10)
        if m is None or m.get('type') != 'error':
            stats.fail(kind, 'no error frame before the close: %r' % (m,))
        else:
            stats.ok(kind)
        r.close()
        return conn
    if kind == 'disconnect':
        r = Raw(d.sock)
        r.request(1, body(model, True, extra, n))
        m = r.recv(10)
        if m is None or m.get('type') != 'chunk':
            stats.fail(kind, 'expected a chunk first, got %r' % (m,))
        else:
            stats.ok(kind)
        r.close()            # mid-stream: llmuxd must abort the upstream
        return conn
    if conn is None:
        conn = Raw(d.sock)
    conn.request(n, body(model, stream, extra, n))
    frames = []
    try:
        if kind == 'cancel':
            first = conn.recv(10)
            if first is None:
                stats.fail(kind, 'connection closed')
                return None
            frames.append(first)
            if first.get('id') == n and first['type'] in ('done', 'error'):
                pass
            else:
                conn.send({'type': 'cancel', 'id': n})
                frames += conn.until_end(n, timeout=20)
        else:
            frames = conn.until_end(n, timeout=20)
    except (AssertionError, socket.timeout, OSError) as e:
        stats.fail(kind, 'request %d lost: %s' % (n, e))
        return None
    ends = [f for f in frames if f.get('id') == n and f['type'] in ('done', 'error')]
    if len(ends) != 1:
        stats.fail(kind, 'request %d: %d terminal frames' % (n, len(ends)))
    elif ends[0]['type'] not in want:
        stats.fail(kind, 'request %d ended with %s, expected %s: %r' %
                   (n, ends[0]['type'], '/'.join(want), ends[0]))
    elif kind == 'cancel' and ends[0]['type'] == 'error' and \
            ends[0]['error']['type'] != 'cancelled':
        stats.fail(kind, 'request %d: %r' % (n, ends[0]))
    else:
        stats.ok(kind)
    return conn


def worker(d, seed, deadline, stats, counter):
    rng = random.Random(seed)
    kinds = list(ACTIONS)
    weights = [ACTIONS[k][0] for k in kinds]
    conn = None
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        with counter['lock']:
            counter['n'] += 1
            n = counter['n']
        try:
            conn = one(d, conn, rng, kind, n, stats)
        except Exception as e:          # a worker's error is a finding
            stats.fail(kind, 'exception: %r' % (e,))
            conn = None
        if conn is not None and rng.random() < 0.05:
            conn.close()                # some clients come and go
            conn = None
    if conn is not None:
        conn.close()


def traffic(d, seconds, workers, seed, stats):
    deadline = time.monotonic() + seconds
    counter = {'lock': threading.Lock(), 'n': 0}
    ts = [threading.Thread(target=worker, args=(d, seed * 1000 + i, deadline, stats, counter),
                           daemon=True) for i in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(seconds + 120)
    if any(t.is_alive() for t in ts):
        stats.fail('soak', 'a worker did not finish within 120 s of the deadline')
    return counter['n']


def settle(pid, seconds=3.0):
    """Idle time for aborted transfers and closes to finish, then a sample."""
    time.sleep(seconds)
    return proc_rss_kb(pid), fd_census(pid)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.environ.get('LLMUX_BUILD', os.path.join(ROOT, 'build')))
    ap.add_argument('--seconds', type=float, default=60)
    ap.add_argument('--workers', type=int, default=8)
    ap.add_argument('--rss-slack-kb', type=int, default=3072)
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    os.environ['LLMUX_BUILD'] = os.path.abspath(a.build)
    from harness import Daemon, Fake

    warm = max(3.0, a.seconds / 4)
    stats = Stats()
    with Fake('-q') as f:
        env = {'OPENAI_API_KEY': 'sk-soak-key', 'OPENAI_API_BASE': f.url + '/v1'}
        with Daemon('llmux_settings:\n  log_level: warning\n', env=env) as d:
            pid = d.proc.pid
            t0 = time.monotonic()
            n1 = traffic(d, warm, a.workers, a.seed, stats)
            rss0, (other0, tcp0) = settle(pid)
            samples = [(time.monotonic() - t0, rss0)]
            print('soak: warm-up %.0f s, %d requests; llmuxd RSS %d KiB, %d fds + %d upstream '
                  'connections' % (warm, n1, rss0, other0, tcp0))
            sys.stdout.flush()
            rest = max(0.0, a.seconds - warm)
            step = max(5.0, rest / 6)
            done = 0.0
            n2 = 0
            while done < rest:
                chunk = min(step, rest - done)
                n2 += traffic(d, chunk, a.workers, a.seed + 1 + int(done), stats)
                done += chunk
                samples.append((time.monotonic() - t0, proc_rss_kb(pid)))
            rss1, (other1, tcp1) = settle(pid)
            samples.append((time.monotonic() - t0, rss1))
            print('soak: then %.0f s more, %d requests; llmuxd RSS %d KiB, %d fds + %d upstream '
                  'connections' % (rest, n2, rss1, other1, tcp1))
            print('soak: RSS over time (s, KiB): %s' %
                  ', '.join('%.0f:%d' % s for s in samples))
            if rss1 - rss0 > a.rss_slack_kb:
                stats.fail('rss', 'grew by %d KiB after the warm-up (bound %d KiB)' %
                           (rss1 - rss0, a.rss_slack_kb))
            if other1 != other0:
                stats.fail('fds', '%d descriptors other than upstream connections at the end, '
                           '%d after the warm-up' % (other1, other0))
            if tcp1 > CURL_MAXCONNECTS:
                stats.fail('fds', '%d upstream connections: more than curl\'s cache of %d' %
                           (tcp1, CURL_MAXCONNECTS))
            rc = d.stop()
            if rc != 0:
                stats.fail('exit', 'llmuxd exited with %s:\n%s' % (rc, d.log()[-3000:]))
    print('soak: per kind: %s' % ', '.join('%s %d' % kv for kv in sorted(stats.count.items())))
    for line in stats.failures[:50]:
        print('FAIL ' + line)
    total = sum(stats.count.values())
    print('soak: %d requests checked, %d failures' % (total, len(stats.failures)))
    return 1 if stats.failures or total == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
