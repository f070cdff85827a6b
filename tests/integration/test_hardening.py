"""test_hardening.py -- llmuxd under clients that misbehave or hold on:
stalled hellos and frames, the global memory budget, running out of file
descriptors (on the socket and on the HTTP front end alike), one client's
slow requests, SIGTERM with a client that never
reads, reload with a blocking NSS lookup, and what may sit at the socket
path. Every wait is bounded; nothing sleeps to synchronise."""

import errno
import json
import os
import re
import resource
import signal
import socket
import stat
import struct
import subprocess
import tempfile

import msgpack

from harness import LLMUX, Daemon, Fake, Raw, free_port, openai_config, text_of, user, wait_for

ETIMEOUT = -1008
EUNAVAIL = -1009
ERATELIMIT = -1007
SANITIZED = os.environ.get('LLMUX_BUILD', '').rstrip('/').endswith('build-san')
MiB = 1024 * 1024


def status_kb(pid, key):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise AssertionError('no %s in /proc/%d/status' % (key, pid))


def code(m):
    return m['error']['code']


def message(m):
    return m['error']['message']


def start_limited(d, nofile, hard=None):
    """Starts d's llmuxd with RLIMIT_NOFILE nofile (soft, and hard unless
    given, so llmuxd cannot raise it)."""
    d.logf = open(d.logpath, 'ab')
    d.proc = subprocess.Popen(
        d.command(), env=d.env, stdout=d.logf, stderr=subprocess.STDOUT,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard or nofile)))
    wait_for(d.ready, timeout=30, what='llmuxd to listen')


def first_frame(path):
    """Connects, says hello, returns (socket wrapper, first frame)."""
    c = Raw(path, hello=False)
    try:
        c.send({'type': 'hello', 'version': 1, 'client': 'harness'})
    except OSError:
        pass    # refused at once: the error frame is still there to read
    try:
        return c, c.recv(10)
    except ConnectionResetError:
        return c, None


def closed(c, timeout=30):
    """True when llmuxd closed c (EOF; or a reset, as a Unix socket closed
    with our unread bytes in it reports) and sent nothing more."""
    try:
        return c.recv(timeout) is None
    except ConnectionResetError:
        return True


def echo_served(d):
    c = d.client()
    try:
        return text_of(c.chat(1, {'model': 'mock/echo', 'messages': user('hi')}, timeout=10)) == 'hi'
    finally:
        c.close()


# ---- the socket path ---------------------------------------------------------------

def test_regular_file_at_socket_path_is_refused_and_kept():
    d = Daemon(start=False)
    with open(d.sock, 'w') as f:
        f.write('precious\n')
    p = subprocess.run(d.command(), env=d.env, capture_output=True, timeout=30)
    assert p.returncode != 0
    assert b'not a socket' in p.stderr, p.stderr
    assert open(d.sock).read() == 'precious\n', 'llmuxd removed a regular file at its socket path'
    # a folder, or a link to a file, is refused just as well
    os.unlink(d.sock)
    os.symlink(d.config_path, d.sock)
    p = subprocess.run(d.command(), env=d.env, capture_output=True, timeout=30)
    assert p.returncode != 0 and b'not a socket' in p.stderr, p.stderr
    assert os.path.islink(d.sock) and os.path.exists(d.config_path)


def test_dead_socket_at_path_is_replaced():
    d = Daemon(start=False)
    s = socket.socket(socket.AF_UNIX)
    s.bind(d.sock)
    s.close()                       # a socket file nobody listens on
    assert stat.S_ISSOCK(os.lstat(d.sock).st_mode)
    d.start()
    with d:
        assert echo_served(d)


# ---- deadlines -----------------------------------------------------------------------

def test_hello_timeout_closes_silent_connection():
    with Daemon('llmux_settings:\n  hello_timeout: 0.3\n') as d:
        c = Raw(d.sock, hello=False)
        m = c.recv(10)
        assert m is not None and m['type'] == 'error' and code(m) == ETIMEOUT, m
        assert 'hello_timeout' in message(m)
        assert closed(c, 10), 'the connection stays open after its hello timed out'
        assert echo_served(d)
        assert d.log().count('hello_timeout') == 1, 'logged once'


def test_idle_greeted_connection_stays_open():
    # A client library keeps its connection open between requests: only a
    # frame that started has a deadline.
    with Daemon('llmux_settings:\n  hello_timeout: 0.2\n  frame_timeout: 0.2\n') as d:
        c = d.client()
        c.s.settimeout(1.0)
        try:
            c.s.recv(1)
            raise AssertionError('llmuxd sent something to an idle greeted connection')
        except socket.timeout:
            pass
        assert text_of(c.chat(1, {'model': 'mock/echo', 'messages': user('still')})) == 'still'


def send_half_frame(c, size):
    """Announces a frame of size bytes and sends half of it; False when
    llmuxd closed the connection on the way."""
    try:
        c.send_bytes(struct.pack('>I', size) + b'\x80' * (size // 2))
        return True
    except OSError:
        return False


def test_stalled_half_frames_are_bounded_and_time_out():
    cfg = 'llmux_settings:\n  frame_timeout: 1\n  max_memory: 64\n'
    with Daemon(cfg) as d:
        conns = [d.client() for _ in range(20)]
        for c in conns:
            send_half_frame(c, 16 * MiB)
        codes = []
        for c in conns:
            m = c.recv(30)
            assert m is not None and m['type'] == 'error' and m['id'] == 0, m
            codes.append(code(m))
            assert closed(c), 'still open after its error'
            c.close()
        # 64 MiB hold three 16 MiB frames: those time out, the others are
        # refused as soon as their header announced 16 MiB.
        assert codes.count(ETIMEOUT) == 3, codes
        assert codes.count(EUNAVAIL) == 17, codes
        hwm = status_kb(d.proc.pid, 'VmHWM')
        if not SANITIZED:   # ASan's quarantine keeps freed memory resident
            assert hwm < 110 * 1024, 'llmuxd peaked at %d MiB for 20 stalled frames' % (hwm // 1024)
        assert echo_served(d), 'the budget is given back when they close'


def http_answer(s, timeout=30):
    """(status, bytes) of the answer read on s; status None when it closed
    without one."""
    s.settimeout(timeout)
    data = b''
    try:
        while b'\r\n\r\n' not in data:
            got = s.recv(65536)
            if not got:
                break
            data += got
        m = re.search(rb'Content-Length: (\d+)', data)
        head = data.find(b'\r\n\r\n')
        while m and head >= 0 and len(data) < head + 4 + int(m.group(1)):
            got = s.recv(65536)
            if not got:
                break
            data += got
    except (ConnectionResetError, socket.timeout):
        pass
    m = re.match(rb'HTTP/1\.1 (\d+) ', data)
    return (int(m.group(1)) if m else None), data


def http_served(port):
    s = socket.create_connection(('127.0.0.1', port), timeout=30)
    try:
        body = b'{"model": "mock/echo", "messages": [{"role": "user", "content": "hi"}]}'
        s.sendall(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                  b'Content-Length: %d\r\n\r\n%s' % (len(body), body))
        status, data = http_answer(s)
        return status == 200 and b'"hi"' in data
    finally:
        s.close()


def test_http_bodies_announced_are_charged_to_the_memory_budget():
    """As the socket charges a frame once its header says how large, the
    HTTP front end charges a body once Content-Length says: under 64 MiB,
    three 16 MiB bodies are waited for (and time out), the other
    seventeen are refused with a 503 before a byte of them arrives."""
    port = free_port()
    cfg = 'llmux_settings:\n  http_body_timeout: 1\n  max_memory: 64\n'
    with Daemon(cfg, args=['--http', '127.0.0.1:%d' % port]) as d:
        conns = []
        for _ in range(20):
            s = socket.create_connection(('127.0.0.1', port), timeout=30)
            s.sendall(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'
                      b'Content-Type: application/json\r\nContent-Length: %d\r\n\r\n' % (16 * MiB))
            conns.append(s)
        answers = [http_answer(s) for s in conns]
        statuses = [a[0] for a in answers]
        assert statuses.count(408) == 3, statuses
        assert statuses.count(503) == 17, statuses
        refused = next(a[1] for a in answers if a[0] == 503)
        assert b'overloaded' in refused and b'max_memory' in refused, refused
        for s in conns:
            s.close()
        assert http_served(port), 'the budget is given back when they close'
        assert echo_served(d)


def test_frame_of_tiny_values_is_refused_before_it_is_built():
    with Daemon() as d:
        n = 16 * MiB - 200
        body = {'type': 'request', 'id': 1, 'op': 'chat',
                'body': {'model': 'mock/echo', 'messages': user('hi'), 'x': [0] * n}}
        b = msgpack.packb(body)
        assert len(b) <= 16 * MiB
        c = d.client()
        try:
            c.send_bytes(struct.pack('>I', len(b)) + b)
        except OSError:
            pass
        del body, b
        m = c.recv(30)
        assert m is not None and m['type'] == 'error' and code(m) == EUNAVAIL, m
        assert 'overloaded' in message(m), m
        hwm = status_kb(d.proc.pid, 'VmHWM')
        if not SANITIZED:
            assert hwm < 120 * 1024, 'llmuxd peaked at %d MiB for one frame' % (hwm // 1024)
        assert echo_served(d)


def test_big_frame_of_few_values_is_still_served():
    # The budget counts values, not bytes alone: a 12 MiB string is fine.
    with Daemon() as d:
        c = d.client()
        msgs = [{'role': 'user', 'content': 'a' * (12 * MiB)},
                {'role': 'assistant', 'content': 'ok'},
                {'role': 'user', 'content': 'hi'}]
        assert text_of(c.chat(1, {'model': 'mock/echo', 'messages': msgs}, timeout=60)) == 'hi'


def test_bodies_in_flight_stay_charged_until_their_request_ends():
    """A chat request's body stays charged to max_memory while it is in
    flight (the limits stage takes it, its end gives it back): four 2 MiB
    bodies waiting on a hanging upstream leave no room for a fifth under
    11 MiB, and once they ended the same body is served again."""
    body = 'a' * (2 * MiB - 1024)    # a frame just under c->in's 2 MiB cap
    with Fake() as f:
        cfg = openai_config(f, name='slow', model='openai/hang') + \
            'llmux_settings:\n  max_memory: 11\n  grace_period: 0.5\n'
        with Daemon(cfg) as d:
            a = d.client()
            for i in range(1, 5):
                a.request(i, {'model': 'slow', 'messages': user(body)})
                # one at a time: each frame in alone, so only trees add up
                wait_for(lambda: len(f.requests()) == i, timeout=20,
                         what='request %d at the fake' % i)
            b = d.client()
            b.request(1, {'model': 'mock/echo', 'messages': user(body)})
            m = b.recv(20)
            # (a served body would be 2 MiB of text: name only its type)
            assert m is not None and m['type'] == 'error', m and m['type']
            assert code(m) == EUNAVAIL and 'overloaded' in message(m), m
            assert closed(b)
            a.close()
            wait_for(lambda: daemon_status(d)['inflight'] == 0, timeout=20,
                     what='the hanging requests to end')
            c = d.client()
            fr = c.chat(1, {'model': 'mock/echo', 'messages': user(body)}, timeout=60)
            assert fr[-1]['type'] == 'done', fr[-1]['type']
            assert text_of(fr) == body
            c.close()


# ---- file descriptors ----------------------------------------------------------------

def test_soft_fd_limit_is_raised_and_unit_sets_it():
    d = Daemon(start=False)
    start_limited(d, 256, 4096)
    with d:
        with open('/proc/%d/limits' % d.proc.pid) as f:
            line = [l for l in f if l.startswith('Max open files')][0]
        assert line.split()[3:5] == ['4096', '4096'], line
    unit = open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'systemd', 'llmux.service')).read()
    limits = [l for l in unit.splitlines() if l.startswith('LimitNOFILE=')]
    assert limits and int(limits[0].split('=')[1].split(':')[-1]) >= 16384, limits


def test_out_of_fds_new_client_gets_error_frame_and_recovers():
    d = Daemon(start=False)
    start_limited(d, 64)
    with d:
        held, refusal = [], None
        for _ in range(100):
            c, m = first_frame(d.sock)
            if m is not None and m['type'] == 'hello':
                held.append(c)
                continue
            refusal = m
            c.close()
            break
        assert refusal is not None, 'a client was dropped without an error frame (or none refused)'
        assert refusal['type'] == 'error' and code(refusal) == EUNAVAIL, refusal
        assert 'file descriptors' in message(refusal)
        assert len(held) >= 10, len(held)
        # a second refusal works the same way (the spare fd came back)
        c, m = first_frame(d.sock)
        assert m is not None and m['type'] == 'error' and code(m) == EUNAVAIL, m
        c.close()
        for c in held[:5]:
            c.close()
        wait_for(lambda: first_frame(d.sock)[1]['type'] == 'hello', timeout=10,
                 what='a new client to be served once fds are free')
        assert echo_served(d)
        for c in held[5:]:
            c.close()


def test_out_of_fds_new_http_client_gets_a_503_and_recovers():
    """The socket's fd reserve holds on the HTTP listener too: a client
    past it reads a 503 in OpenAI's error JSON, not a dropped connection."""
    port = free_port()
    d = Daemon('llmux_settings:\n  http_idle_timeout: 600\n', args=['--http', '127.0.0.1:%d' % port],
               start=False)
    start_limited(d, 64)
    probe = b'GET /health/liveliness HTTP/1.1\r\nHost: x\r\n\r\n'

    def connect():
        s = socket.create_connection(('127.0.0.1', port), timeout=30)
        try:
            s.sendall(probe)
        except OSError:
            pass    # refused at once: the answer is still there to read
        return s, http_answer(s, 10)

    with d:
        wait_for(lambda: 'serving the OpenAI API' in d.log(), what='the http listener')
        held, refusal = [], None
        for _ in range(100):
            s, (status, data) = connect()
            if status == 200:
                held.append(s)
                continue
            refusal = (status, data)
            s.close()
            break
        assert refusal is not None, 'no client was refused'
        assert refusal[0] == 503, ('dropped without an answer' if refusal[0] is None else refusal)
        body = json.loads(refusal[1].split(b'\r\n\r\n', 1)[1])
        assert body['error']['type'] == 'api_error' and 'file descriptors' in body['error']['message'], body
        assert len(held) >= 10, len(held)
        # a second refusal works the same way, on the socket too
        s, (status, _) = connect()
        s.close()
        assert status == 503, status
        c, m = first_frame(d.sock)
        assert m is not None and m['type'] == 'error' and code(m) == EUNAVAIL, m
        c.close()
        for s in held[:5]:
            s.close()
        wait_for(lambda: http_served(port), timeout=10, what='an HTTP client to be served once fds are free')
        for s in held[5:]:
            s.close()


def test_one_clients_slow_requests_leave_fds_for_others():
    with Fake() as f:
        cfg = (openai_config(f, name='slow', model='openai/hang') +
               '''  - model_name: fast
    litellm_params:
      model: openai/text
      api_base: %s/v1
      api_key: sk-test-key
llmux_settings:
  grace_period: 0.5
''' % f.url)
        d = Daemon(cfg, start=False)
        start_limited(d, 64)
        with d:
            a = d.client()
            for i in range(1, 101):
                a.request(i, {'model': 'slow', 'messages': user('x')})
            refused = []
            while len(refused) < 96:
                m = a.recv(10)
                assert m is not None, 'connection closed'
                if m['type'] == 'error':
                    refused.append(m)
            assert refused and all(code(m) == ERATELIMIT for m in refused), refused[:3]
            assert 'in flight' in message(refused[0])
            # the other client is served, upstream included
            b = d.client()
            fr = b.chat(1, {'model': 'fast', 'messages': user('hi')}, timeout=20)
            assert fr[-1]['type'] == 'done', fr
            b.close()
            a.close()


# ---- lifetimes -----------------------------------------------------------------------

def daemon_status(d):
    c = d.client()
    try:
        c.request(1, None, op='status')
        return c.until_end(1, timeout=10)[0]['body']
    finally:
        c.close()


def test_sigterm_exits_although_a_client_never_reads():
    d = Daemon('llmux_settings:\n  grace_period: 1\n')
    c = d.client()
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # An 8 MiB answer that the client never reads: it stays queued.
    c.request(1, {'model': 'mock/echo', 'messages': user('a' * (8 * MiB))})
    wait_for(lambda: (lambda st: st['requests'] >= 1 and st['inflight'] == 0)(daemon_status(d)),
             timeout=20, what='the answer to be queued')
    d.signal(signal.SIGTERM)
    try:
        # grace_period 1 s + CONN_LINGER_MS 2 s + margin
        rc = d.proc.wait(10)
    except subprocess.TimeoutExpired:
        d.proc.kill()
        d.proc.wait()
        raise AssertionError('llmuxd did not exit after SIGTERM: a client that never '
                             'reads kept it alive')
    finally:
        c.close()
        d.logf.close()
    assert rc == 0, d.log()[-2000:]


def test_sigterm_exits_with_a_stream_to_a_client_that_never_reads():
    with Fake() as f:
        cfg = openai_config(f, model='openai/drip:200000') + \
            'llmux_settings:\n  grace_period: 1\n'
        d = Daemon(cfg)
        c = d.client()
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.request(1, {'model': 'gpt', 'messages': user('x'), 'stream': True})
        wait_for(lambda: len(f.requests()) >= 1, timeout=10, what='the stream to start')
        d.signal(signal.SIGTERM)
        try:
            rc = d.proc.wait(10)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait()
            raise AssertionError('llmuxd did not exit after SIGTERM with a stream in flight')
        finally:
            c.close()
            d.logf.close()
        assert rc == 0, d.log()[-2000:]


NSS_SHIM = r'''
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* getpwnam that blocks on a FIFO for one name, as a slow NSS would. */
struct passwd *getpwnam(const char *name)
{
    struct passwd *(*real)(const char *) =
        (struct passwd *(*)(const char *))dlsym(RTLD_NEXT, "getpwnam");
    const char *gate = getenv("NSS_GATE");
    char ch;

    if (gate && strcmp(name, "nss-slow") == 0) {
        int fd = open(gate, O_RDONLY);

        if (fd >= 0) {
            if (read(fd, &ch, 1) < 0)
                ch = 0;
            close(fd);
        }
        return real("root");
    }
    return real(name);
}
'''


def nss_daemon():
    """llmuxd with getpwnam("nss-slow") blocking on a FIFO, and a function
    that opens the FIFO's writing end once a lookup waits on it (None
    before). Holding it open without writing keeps the lookup blocked;
    a byte or closing it lets the lookup go on."""
    tmp = tempfile.mkdtemp(prefix='llmux-nss-')
    src, so, gate = (os.path.join(tmp, n) for n in ('shim.c', 'shim.so', 'gate'))
    with open(src, 'w') as fh:
        fh.write(NSS_SHIM)
    subprocess.run(['cc', '-shared', '-fPIC', '-o', so, src, '-ldl'], check=True, timeout=60)
    os.mkfifo(gate)
    env = {'NSS_GATE': gate, 'LD_PRELOAD': so}
    if SANITIZED:       # ASan wants its runtime first; the shim may precede it
        env['ASAN_OPTIONS'] = ':'.join(filter(None, [os.environ.get('ASAN_OPTIONS'),
                                                     'verify_asan_link_order=0']))

    def writer():
        try:
            return os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno == errno.ENXIO:
                return None         # no lookup waits yet
            raise
    return Daemon('', env=env), writer


def test_reload_with_blocking_nss_keeps_serving():
    d, writer = nss_daemon()
    with d:
        d.write_config('llmux_settings:\n  allow_users: [nss-slow]\n')
        reload = subprocess.Popen([LLMUX, 'reload'], env=dict(d.env, LLMUX_SOCKET=d.sock),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        fd = None
        try:
            # Holding the FIFO open without writing keeps the lookup blocked.
            fd = wait_for(writer, timeout=10, what='the reload to reach getpwnam')
            assert echo_served(d), 'no answer while a reload waits for NSS'
            assert reload.poll() is None, 'reload answered before its lookup ended'
            os.write(fd, b'x')
            out, _ = reload.communicate(timeout=20)
            assert reload.returncode == 0, out
        finally:
            if fd is not None:
                os.close(fd)        # EOF lets a blocked lookup go on
            if reload.poll() is None:
                reload.kill()
                reload.wait()
        st = d.client()
        st.request(1, None, op='status')
        frames = st.until_end(1, timeout=10)
        assert frames[0]['type'] == 'response' and frames[0]['body']['reloads'] == 1, frames
        assert echo_served(d)


def test_reload_asker_gone_before_the_load_ends_is_not_answered():
    """The session that asked for a reload closes while the load waits for
    NSS: the answer must go nowhere, not to a freed session nor to a new
    connection that took its memory (its own request 1 must get only its
    own answer)."""
    d, writer = nss_daemon()
    with d:
        d.write_config('llmux_settings:\n  allow_users: [nss-slow]\n')
        a = d.client()
        a.request(1, None, op='reload')
        fd = None
        try:
            fd = wait_for(writer, timeout=10, what='the reload to reach getpwnam')
            a.close()
            wait_for(lambda: daemon_status(d)['connections'] == 1, timeout=10,
                     what='llmuxd to see the asker close')
            b = d.client()
            os.write(fd, b'x')
            wait_for(lambda: daemon_status(d)['reloads'] == 1, timeout=20,
                     what='the reload to end')
            b.request(1, {'model': 'mock/echo', 'messages': user('mine')})
            m = b.recv(10)
            assert m is not None and m['id'] == 1 and m['type'] == 'response', m
            assert text_of([m]) == 'mine', m
            assert b.recv(10)['type'] == 'done'
            b.close()
        finally:
            if fd is not None:
                os.close(fd)
        assert echo_served(d)


def test_sigterm_exits_while_a_reload_waits_for_nss():
    d, writer = nss_daemon()
    fd = None
    try:
        d.write_config('llmux_settings:\n  allow_users: [nss-slow]\n  grace_period: 1\n')
        d.signal(signal.SIGHUP)
        fd = wait_for(writer, timeout=10, what='the reload to reach getpwnam')
        d.signal(signal.SIGTERM)
        try:
            rc = d.proc.wait(10)    # linger 2 s + 0.5 s, and a margin
        except subprocess.TimeoutExpired:
            raise AssertionError('llmuxd did not exit while a reload waited for NSS')
        assert rc == 0, d.log()[-2000:]
        assert 'still waits for user and group lookups' in d.log()
    finally:
        if fd is not None:
            os.close(fd)
        if d.proc.poll() is None:
            d.proc.kill()
        d.proc.wait()
        d.logf.close()


# ---- environment_variables and threads ------------------------------------------------

SETENV_SHIM = r'''
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* setenv that records every call made off the main thread: there it can
 * move environ while the loop's getenv (or curl's) walks it. */
int setenv(const char *name, const char *value, int overwrite)
{
    int (*real)(const char *, const char *, int) =
        (int (*)(const char *, const char *, int))dlsym(RTLD_NEXT, "setenv");
    const char *log = getenv("SETENV_LOG");
    char line[256];

    if (log && syscall(SYS_gettid) != getpid()) {
        int fd = open(log, O_WRONLY | O_APPEND | O_CREAT, 0600);

        if (fd >= 0) {
            int n = snprintf(line, sizeof(line), "worker setenv %s\n", name);
            if (write(fd, line, (size_t)n) < 0)
                n = 0;
            close(fd);
        }
    }
    return real(name, value, overwrite);
}
'''

ENV_CONFIG = '''environment_variables:
  ENVRACE_KEY: %s
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/text
      api_base: %s/v1
      api_key: os.environ/ENVRACE_KEY
'''


def test_reload_sets_environment_variables_on_the_loop_thread_only():
    """A reload loads the file in a worker; its environment_variables must
    still reach the file's os.environ/ lookups and the process environment
    afterwards, but setenv must not run in the worker (regression: it did,
    racing every getenv of the loop and of curl)."""
    tmp = tempfile.mkdtemp(prefix='llmux-setenv-')
    src, so, log = (os.path.join(tmp, n) for n in ('shim.c', 'shim.so', 'setenv.log'))
    with open(src, 'w') as fh:
        fh.write(SETENV_SHIM)
    subprocess.run(['cc', '-shared', '-fPIC', '-o', so, src, '-ldl'], check=True, timeout=60)
    env = {'SETENV_LOG': log, 'LD_PRELOAD': so}
    if SANITIZED:
        env['ASAN_OPTIONS'] = ':'.join(filter(None, [os.environ.get('ASAN_OPTIONS'),
                                                     'verify_asan_link_order=0']))
    with Fake() as f:
        with Daemon(ENV_CONFIG % ('sk-env-one', f.url), env=env) as d:
            c = d.client()
            assert text_of(c.chat(1, {'model': 'gpt', 'messages': user('a')}))
            d.write_config(ENV_CONFIG % ('sk-env-two', f.url))
            p = d.llmux('reload')
            assert p.returncode == 0, p
            assert text_of(c.chat(2, {'model': 'gpt', 'messages': user('b')}))
            auth = [{k.lower(): v for k, v in r['headers'].items()}['authorization']
                    for r in f.requests()]
            assert auth == ['Bearer sk-env-one', 'Bearer sk-env-two'], auth
            # the same file again: nothing changes, nothing is set
            assert d.llmux('reload').returncode == 0
    written = open(log).read() if os.path.exists(log) else ''
    assert written == '', written
