"""harness.py -- what the integration tests share: the real llmuxd on a
temporary socket, the fake providers of tests/mockup on 127.0.0.1, a raw
protocol client, and the llmux shell helper.

Every process started here is stopped by its PID (never pkill), and every
wait is bounded. Set LLMUX_BUILD to test another build folder (build-san
for the sanitized build) and LLMUX_VALGRIND=1 to run llmuxd under valgrind.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

import msgpack

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get('LLMUX_BUILD', os.path.join(ROOT, 'build'))
LLMUXD = os.path.join(BUILD, 'llmuxd')
LLMUX = os.path.join(BUILD, 'llmux')
FAKEPROV = os.path.join(ROOT, 'tests', 'mockup', 'fakeprov.py')
CONFORMANCE = os.environ.get('LLMUX_CONFORMANCE',
                             os.path.join(os.path.dirname(ROOT), 'shared', 'conformance'))
PYTHON = sys.executable


class Skip(Exception):
    """Raised by a test that cannot run here (no unshare, valgrind's /proc,
    ...): tests/run.py counts it as skipped with the reason, never as
    passed."""


def free_port():
    """A loopback TCP port nobody listens on now (for --http, redis…)."""
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=10.0, step=0.01, what='condition'):
    """Polls pred until it returns something true (returned) or timeout
    seconds pass (AssertionError naming what). The one way a test waits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError('timed out after %.1fs waiting for %s' % (timeout, what))


class Fake:
    """tests/mockup/fakeprov.py on an ephemeral port."""

    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix='llmux-fake-')
        portfile = os.path.join(self.dir, 'port')
        self.log = open(os.path.join(self.dir, 'fake.log'), 'wb')
        self.proc = subprocess.Popen(
            [PYTHON, FAKEPROV, '--port', '0', '--port-file', portfile,
             '--max-seconds', '600', '--conformance', CONFORMANCE] + list(extra),
            stdout=self.log, stderr=subprocess.STDOUT)
        self.port = int(wait_for(lambda: os.path.exists(portfile) and open(portfile).read().strip(),
                                 what='the fake provider to listen'))
        self.url = 'http://127.0.0.1:%d' % self.port

    def _post(self, path, obj):
        req = urllib.request.Request(self.url + path, data=json.dumps(obj).encode(),
                                     headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b'null')

    def queue(self, *scenarios):
        """The next requests get these scenarios, in order, whatever their model."""
        return self._post('/_control', {'queue': list(scenarios)})

    def reset(self):
        return self._post('/_control', {'reset': True})

    def requests(self):
        with urllib.request.urlopen(self.url + '/_requests', timeout=10) as r:
            return json.loads(r.read())

    def violations(self):
        """Wire-format rules llmuxd broke (a key in a URL, a body that is
        not JSON, a bad x-amz-content-sha256…), as the fake saw them."""
        with urllib.request.urlopen(self.url + '/_violations', timeout=10) as r:
            return json.loads(r.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Daemon:
    """The real llmuxd on a config given as text, on a private socket."""

    def __init__(self, config='', env=None, args=(), start=True):
        self.dir = tempfile.mkdtemp(prefix='llmux-d-')
        self.sock = os.path.join(self.dir, 'llmux.sock')
        self.config_path = os.path.join(self.dir, 'llmux.yaml')
        self.write_config(config)
        self.logpath = os.path.join(self.dir, 'llmuxd.log')
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.endswith('_API_KEY') or k.startswith('AWS_') or k in ('NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID',
                                                                         'STATE_DIRECTORY'):
                del self.env[k]
        # Each daemon its own database (keys and spend), in its folder.
        self.env['XDG_STATE_HOME'] = os.path.join(self.dir, 'state')
        self.env.update(env or {})
        self.args = list(args)
        self.proc = None
        if start:
            self.start()

    def write_config(self, text):
        with open(self.config_path, 'w') as f:
            f.write(text)

    def command(self):
        cmd = [LLMUXD, '-c', self.config_path, '-s', self.sock] + self.args
        if os.environ.get('LLMUX_VALGRIND'):
            cmd = ['valgrind', '-q', '--error-exitcode=99', '--leak-check=full',
                   '--show-leak-kinds=definite,indirect', '--errors-for-leak-kinds=definite,indirect',
                   '--track-fds=no'] + cmd
        return cmd

    def start(self, wait=True):
        self.logf = open(self.logpath, 'ab')
        self.proc = subprocess.Popen(self.command(), env=self.env, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        if wait:
            wait_for(self.ready, timeout=30, what='llmuxd to listen')
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError('llmuxd exited with %s:\n%s' % (self.proc.returncode, self.log()))
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(self.sock)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def log(self):
        try:
            with open(self.logpath, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30):
        """SIGTERM, wait, return the exit code (kill after timeout)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError('llmuxd did not stop within %ds' % timeout)
        self.logf.close()
        return self.proc.returncode

    def client(self):
        return Raw(self.sock)

    def llmux(self, *args, input=None, timeout=60, env=None):
        e = dict(self.env)
        e['LLMUX_SOCKET'] = self.sock
        e.update(env or {})
        # llmux chat appends a stdin that is not a terminal to its prompt:
        # the test runner's own stdin must not leak in.
        return subprocess.run([LLMUX] + list(args), input=input, capture_output=True,
                              stdin=subprocess.DEVNULL if input is None else None,
                              timeout=timeout, env=e)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        rc = self.stop()
        if exc_type is None and rc not in (0, None):
            raise AssertionError('llmuxd exited with %s:\n%s' % (rc, self.log()[-4000:]))


class Raw:
    """The protocol by hand: frames in, frames out."""

    def __init__(self, path, hello=True):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(30)
        self.s.connect(path)
        self.buf = b''
        if hello:
            self.send({'type': 'hello', 'version': 1, 'client': 'harness'})
            h = self.recv()
            assert h['type'] == 'hello', h

    def send_bytes(self, b):
        self.s.sendall(b)

    def send(self, m):
        b = msgpack.packb(m, use_bin_type=True)
        self.s.sendall(struct.pack('>I', len(b)) + b)

    def _fill(self, n, timeout):
        self.s.settimeout(timeout)
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                return False
            self.buf += d
        return True

    def recv(self, timeout=30):
        """The next frame as a dict, or None when the daemon closed."""
        if not self._fill(4, timeout):
            return None
        n = struct.unpack('>I', self.buf[:4])[0]
        if not self._fill(4 + n, timeout):
            return None
        body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        return msgpack.unpackb(body, raw=False)

    def request(self, id, body, op='chat'):
        m = {'type': 'request', 'id': id, 'op': op}
        if body is not None:
            m['body'] = body
        self.send(m)

    def until_end(self, id, timeout=30):
        """Frames of request id up to and including its terminal frame."""
        out = []
        while True:
            m = self.recv(timeout)
            assert m is not None, 'connection closed before request %d ended' % id
            if m.get('id') != id:
                continue
            out.append(m)
            if m['type'] in ('done', 'error'):
                return out

    def chat(self, id, body, timeout=30):
        self.request(id, body)
        return self.until_end(id, timeout)

    def close(self):
        self.s.close()


def text_of(frames):
    """The assistant text of a response or of a stream's chunks."""
    out = []
    for f in frames:
        if f['type'] == 'response':
            return f['body']['choices'][0]['message'].get('content') or ''
        if f['type'] == 'chunk':
            for c in f['body'].get('choices', []):
                out.append(c.get('delta', {}).get('content') or '')
    return ''.join(out)


def openai_config(fake, name='gpt', model='openai/text', key='sk-test-key', extra=''):
    return '''model_list:
  - model_name: %s
    litellm_params:
      model: %s
      api_base: %s/v1
      api_key: %s
%s''' % (name, model, fake.url, key, extra)


def fake_vector(text, dims):
    """What tests/mockup/fakeprov.py answers as the embedding of one input
    (its contract), before the float32 a frame carries."""
    import hashlib
    out = []
    for j in range(dims):
        h = hashlib.sha256(('%s|%d' % (text, j)).encode()).digest()
        out.append(round(int.from_bytes(h[:4], 'big') / 2.0 ** 31 - 1.0, 9))
    return out


def f32(x):
    """x as the float32 an embeddings frame carries it."""
    return struct.unpack('<f', struct.pack('<f', x))[0]


def embed_answer(c, id, body):
    """An embeddings op on Raw connection c that must succeed: the
    response body and the done frame."""
    c.request(id, body, op='embeddings')
    fr = c.until_end(id)
    assert [f['type'] for f in fr] == ['response', 'done'], fr
    return fr[0]['body'], fr[1]


def user(text):
    return [{'role': 'user', 'content': text}]
