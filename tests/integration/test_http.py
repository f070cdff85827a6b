"""test_http.py -- the OpenAI-compatible HTTP front end (daemon/http.c,
daemon/http_api.c) from the outside: curl as the README shows it, raw
bytes for what a library would never send (malformed, oversized, trickled,
pipelined requests), who may call (peer credentials on a Unix socket, the
master key on TCP), the response headers, errors before and after the
first chunk, aborts reaching the upstream, socket activation of both
sockets, and the front end's name in the log and the metrics."""

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading

from harness import (LLMUXD, Daemon, Fake, Skip, free_port, openai_config, wait_for)

NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
MASTER = 'sk-master-6f3a9c1e7b2d4058'
BIG = 16 * 1024 * 1024          # the body limit (the frame limit)


# ---- a daemon with an HTTP listener -------------------------------------------------

def http_port(d):
    """The port llmuxd printed for its --http 127.0.0.1:0 listener."""
    m = wait_for(lambda: re.search(r'serving the OpenAI API on http://127\.0\.0\.1:(\d+)', d.log()),
                 what='the http listener line')
    return int(m.group(1))


def start(fake, extra='', env=None, http='127.0.0.1:0', model='openai/echo'):
    """llmuxd with model group "gpt" on the fake and one HTTP listener."""
    d = Daemon(openai_config(fake, model=model, extra=extra), env=env, args=['--http', http])
    d.port = http_port(d) if not http.startswith('/') else None
    return d


# ---- raw HTTP/1.1 ---------------------------------------------------------------------

class Resp:
    def __init__(self, status, reason, hlist, body, chunks):
        self.status, self.reason, self.hlist = status, reason, hlist
        self.headers = {k: v for k, v in hlist}
        self.body, self.chunks = body, chunks

    def json(self):
        return json.loads(self.body)

    def events(self):
        """The SSE data: payloads, in order."""
        out = []
        for ev in self.body.decode().split('\n\n'):
            if ev:
                assert ev.startswith('data: ') and '\n' not in ev, repr(ev)
                out.append(ev[6:])
        assert self.body.endswith(b'\n\n'), self.body[-40:]
        return out


class Conn:
    """One client connection, bytes in, whole responses out."""

    def __init__(self, port=None, path=None, timeout=30):
        if path:
            self.s = socket.socket(socket.AF_UNIX)
            self.s.settimeout(timeout)
            self.s.connect(path)
        else:
            self.s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.buf = b''

    def send(self, b):
        self.s.sendall(b)

    def _more(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError('connection closed; have %r' % self.buf[:200])
        self.buf += d

    def _take_line(self):
        while b'\r\n' not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._more()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        while b'\r\n\r\n' not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        ver, status, reason = (lines[0].split(' ', 2) + [''])[:3]
        assert ver == 'HTTP/1.1', lines[0]
        hl = []
        for l in lines[1:]:
            k, v = l.split(':', 1)
            hl.append((k.strip().lower(), v.strip()))
        return int(status), reason, hl

    def response(self, method='POST', on_chunk=None, head=None):
        """The next response; head: its (status, reason, headers) when
        head() has read them already."""
        status, reason, hl = head or self.head()
        h = dict(hl)
        chunks = []
        if status == 100 or method == 'HEAD':
            body = b''
        elif h.get('transfer-encoding') == 'chunked':
            while True:
                n = int(self._take_line().split(b';')[0], 16)
                if n == 0:
                    assert self._take_line() == b''
                    break
                chunks.append(self._take(n))
                assert self._take(2) == b'\r\n'
                if on_chunk:
                    on_chunk(chunks[-1])
            body = b''.join(chunks)
        elif 'content-length' in h:
            body = self._take(int(h['content-length']))
        else:
            raise AssertionError('neither a length nor chunked: %r' % hl)
        return Resp(status, reason, hl, body, chunks)

    def closed(self):
        """True once the server closed its side (EOF or RST), having sent
        nothing more."""
        try:
            d = self.s.recv(65536)
        except ConnectionResetError:
            return True
        self.buf += d
        return not d

    def close(self):
        self.s.close()


def request(method, path, body=None, headers=(), ctype='application/json'):
    h = ['%s %s HTTP/1.1' % (method, path), 'Host: llmux.test']
    if body is not None:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if ctype:
            h.append('Content-Type: ' + ctype)
        h.append('Content-Length: %d' % len(body))
    h += list(headers)
    return ('\r\n'.join(h) + '\r\n\r\n').encode() + (body or b'')


def chat_body(text, stream=False, **kw):
    b = {'model': 'gpt', 'messages': [{'role': 'user', 'content': text}]}
    if stream:
        b['stream'] = True
    b.update(kw)
    return b


def check_chat(c, text, headers=()):
    """A normal request on connection c: the echo of text, 200."""
    c.send(request('POST', '/v1/chat/completions', chat_body(text), headers))
    r = c.response()
    assert r.status == 200, (r.status, r.body)
    j = r.json()
    assert j['object'] == 'chat.completion', j
    assert j['choices'][0]['message']['content'] == text, j
    return r


def check_served(d, text='served afterwards'):
    c = Conn(d.port)
    try:
        return check_chat(c, text)
    finally:
        c.close()


def check_error(r, status, etype, keep=True):
    """OpenAI's error JSON with status; Connection: close unless keep."""
    assert r.status == status, (r.status, r.body)
    assert r.headers['content-type'] == 'application/json', r.hlist
    e = r.json()
    assert set(e) == {'error'} and set(e['error']) >= {'message', 'type', 'param', 'code'}, e
    assert e['error']['type'] == etype and e['error']['message'], e
    assert ('connection' in r.headers) == (not keep), r.hlist
    if not keep:
        assert r.headers['connection'] == 'close', r.hlist
    return e['error']


def sse_text(events):
    out = []
    for e in events:
        if e == '[DONE]':
            continue
        for ch in json.loads(e).get('choices', []):
            out.append(ch['delta'].get('content') or '')
    return ''.join(out)


# ---- curl, as the README shows it ---------------------------------------------------------

CURL_PLAIN = '''curl -sS "$OPENAI_BASE_URL/chat/completions" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"model": "gpt", "messages": [{"role": "user", "content": "Say hello"}]}'
'''
CURL_STREAM = '''curl -sS -N "$OPENAI_BASE_URL/chat/completions" \\
  -H "Authorization: Bearer $OPENAI_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"model": "gpt", "stream": true, "messages": [{"role": "user", "content": "Say hello"}]}'
'''
CURL_MODELS = '''curl -sS "$OPENAI_BASE_URL/models" -H "Authorization: Bearer $OPENAI_API_KEY"
'''


def sh(cmd, env):
    return subprocess.run(['bash', '-c', cmd], capture_output=True, timeout=60, env=env)


def test_curl_readme_examples():
    for key in (None, MASTER):
        extra = 'general_settings:\n  master_key: os.environ/LLMUX_MK\n' if key else ''
        with Fake() as f, start(f, extra, env={'LLMUX_MK': MASTER} if key else None) as d:
            env = dict(os.environ, OPENAI_BASE_URL='http://127.0.0.1:%d/v1' % d.port,
                       OPENAI_API_KEY=key or 'anything')
            p = sh(CURL_PLAIN, env)
            assert p.returncode == 0, p.stderr
            j = json.loads(p.stdout)
            assert j['object'] == 'chat.completion', j
            m = j['choices'][0]['message']
            assert (m['role'], m['content']) == ('assistant', 'Say hello'), j
            assert j['choices'][0]['finish_reason'] == 'stop' and j['usage']['total_tokens'] > 0, j
            p = sh(CURL_STREAM, env)
            assert p.returncode == 0, p.stderr
            r = Resp(200, '', [], p.stdout, [])
            ev = r.events()
            assert ev[-1] == '[DONE]' and len(ev) > 3, ev
            assert all(json.loads(e)['object'] == 'chat.completion.chunk' for e in ev[:-1]), ev
            assert sse_text(ev) == 'Say hello', ev
            p = sh(CURL_MODELS, env)
            j = json.loads(p.stdout)
            assert j['object'] == 'list' and j['data'][0]['id'] == 'gpt', j
            assert all(m['object'] == 'model' for m in j['data']), j
            if key:
                # the same curl with another key: OpenAI's 401, exit 0 (no -f)
                p = sh(CURL_PLAIN, dict(env, OPENAI_API_KEY='sk-wrong'))
                e = json.loads(p.stdout)['error']
                assert e['type'] == 'authentication_error', e
            assert f.violations() == [], f.violations()


# ---- keep-alive, pipelining, chunked bodies, 100-continue ---------------------------------

def test_keepalive_pipelining_chunked_and_expect_continue():
    with Fake() as f, start(f) as d:
        c = Conn(d.port)
        # keep-alive: several requests, one connection
        for i in range(3):
            check_chat(c, 'keep alive %d' % i)
        c.send(request('GET', '/v1/models'))
        r = c.response()
        assert r.status == 200 and r.json()['data'][0]['id'] == 'gpt', r.body
        # pipelined: two requests in one write, answered in order
        c.send(request('POST', '/v1/chat/completions', chat_body('first')) +
               request('POST', '/chat/completions', chat_body('second', stream=True)) +
               request('GET', '/health/liveliness'))
        r1, r2, r3 = c.response(), c.response(), c.response('GET')
        assert r1.json()['choices'][0]['message']['content'] == 'first', r1.body
        assert r2.headers['content-type'] == 'text/event-stream', r2.hlist
        assert sse_text(r2.events()) == 'second', r2.body
        assert r3.status == 200 and r3.json() == "I'm alive!", r3.body
        # a chunked request body, in several chunks
        body = json.dumps(chat_body('chunked body')).encode()
        parts = [body[:7], body[7:30], body[30:]]
        c.send(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
               b'Transfer-Encoding: chunked\r\n\r\n' +
               b''.join(b'%x\r\n%s\r\n' % (len(p), p) for p in parts) + b'0\r\n\r\n')
        r = c.response()
        assert r.status == 200 and r.json()['choices'][0]['message']['content'] == 'chunked body', r.body
        # Expect: 100-continue: the interim answer, then the body, then 200
        body = json.dumps(chat_body('expected')).encode()
        c.send(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
               b'Expect: 100-continue\r\nContent-Length: %d\r\n\r\n' % len(body))
        r = c.response()
        assert (r.status, r.hlist, r.body) == (100, [], b''), (r.status, r.hlist)
        c.send(body)
        r = c.response()
        assert r.status == 200 and r.json()['choices'][0]['message']['content'] == 'expected', r.body
        check_chat(c, 'still the same connection')
        # HEAD on a GET endpoint: the head alone
        c.send(request('HEAD', '/v1/models'))
        r = c.response('HEAD')
        assert r.status == 200 and int(r.headers['content-length']) > 0 and r.body == b'', r.hlist
        check_chat(c, 'after HEAD')
        # Connection: close is honoured: answered, then closed
        c.send(request('POST', '/v1/chat/completions', chat_body('last one'), ['Connection: close']))
        r = c.response()
        assert r.json()['choices'][0]['message']['content'] == 'last one'
        assert r.headers['connection'] == 'close', r.hlist
        assert wait_for(c.closed, what='the connection to close')
        c.close()
        # so is HTTP/1.0 without keep-alive
        c = Conn(d.port)
        c.send(request('GET', '/v1/models').replace(b'HTTP/1.1', b'HTTP/1.0', 1))
        r = c.response()
        assert r.status == 200 and r.headers['connection'] == 'close', r.hlist
        assert wait_for(c.closed, what='the connection to close')
        c.close()
        # each chat request reached the upstream exactly once
        assert len([q for q in f.requests() if q['method'] == 'POST']) == 10


# ---- malformed input ---------------------------------------------------------------------

def test_malformed_request_line_and_oversized_headers():
    with Fake() as f, start(f) as d:
        for raw in (b'GARBAGE\r\n\r\n', b'GET /v1/models HTTP/9.x\r\n\r\n',
                    b'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: x\r\n\r\n'):
            c = Conn(d.port)
            c.send(raw)
            check_error(c.response(), 400, 'invalid_request_error', keep=False)
            assert wait_for(c.closed, what='the connection to close')
            c.close()
            check_served(d)
        # headers over 64 KiB: 431, whether one header or many
        for extra in ([b'X-Big: ' + b'a' * (70 * 1024)],
                      [b'X-H%d: %s' % (i, b'b' * 100) for i in range(700)]):
            c = Conn(d.port)
            c.send(b'\r\n'.join([b'GET /v1/models HTTP/1.1', b'Host: x'] + extra) + b'\r\n\r\n')
            check_error(c.response(), 431, 'invalid_request_error', keep=False)
            c.close()
            check_served(d)
        # a URL over its own limit (8 KiB) is 414, not "headers too large"
        for n, status in ((9 * 1024, 414), (70 * 1024, 414)):
            c = Conn(d.port)
            c.send(b'GET /v1/models?' + b'q' * n + b' HTTP/1.1\r\nHost: x\r\n\r\n')
            e = check_error(c.response(), status, 'invalid_request_error', keep=False)
            assert '8 KiB' in e['message'], e
            c.close()
        c = Conn(d.port)
        c.send(b'GET /v1/models?' + b'q' * (8000) + b' HTTP/1.1\r\nHost: x\r\n\r\n')
        assert c.response().status == 200
        c.close()
        # just under the limit is served
        c = Conn(d.port)
        c.send(request('GET', '/v1/models', headers=['X-Pad: ' + 'p' * (60 * 1024)]))
        assert c.response().status == 200
        c.close()
        check_served(d)


def test_body_over_the_limit():
    with Fake() as f, start(f) as d:
        # a declared length over the limit: 413 before any body byte
        c = Conn(d.port)
        c.send(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
               b'Content-Length: %d\r\n\r\n' % (BIG + 1))
        e = check_error(c.response(), 413, 'invalid_request_error', keep=False)
        assert '16 MiB' in e['message'], e
        assert wait_for(c.closed, what='the connection to close')
        c.close()
        check_served(d)
        # with Expect: 100-continue: 413 instead of 100, so the client never sends it
        c = Conn(d.port)
        c.send(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
               b'Expect: 100-continue\r\nContent-Length: %d\r\n\r\n' % (BIG + 1))
        check_error(c.response(), 413, 'invalid_request_error', keep=False)
        assert wait_for(c.closed, what='the connection to close')
        c.close()
        check_served(d)
        # a chunked body that grows past the limit: 413 once it does
        c = Conn(d.port)
        c.send(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
               b'Transfer-Encoding: chunked\r\n\r\n')
        piece = b'x' * (1024 * 1024)
        errs = []

        def feed():
            try:
                for _ in range(17):
                    c.send(b'%x\r\n%s\r\n' % (len(piece), piece))
            except OSError as ex:      # the server closed: expected
                errs.append(ex)
        t = threading.Thread(target=feed)
        t.start()
        check_error(c.response(), 413, 'invalid_request_error', keep=False)
        t.join(60)
        assert not t.is_alive()
        c.close()
        check_served(d)
        # exactly at the limit is read (and then refused as not JSON: 400)
        c = Conn(d.port)
        c.send(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
               b'Content-Length: %d\r\n\r\n' % BIG + b' ' * (BIG - 1) + b'x')
        check_error(c.response(), 400, 'invalid_request_error')
        check_chat(c, 'after a 16 MiB body')
        c.close()


def test_bad_json_content_type_path_and_method_keep_the_connection():
    with Fake() as f, start(f) as d:
        c = Conn(d.port)
        cases = [
            (request('POST', '/v1/chat/completions', '{"model": "gpt", "messages": ['), 400,
             'invalid_request_error'),
            (request('POST', '/v1/chat/completions', '[1, 2]'), 400, 'invalid_request_error'),
            (request('POST', '/v1/chat/completions', '{"a": 1, "a": 2}'), 400, 'invalid_request_error'),
            (request('POST', '/v1/chat/completions', chat_body('x'), ctype='text/plain'), 415,
             'invalid_request_error'),
            (request('POST', '/v1/chat/completions', chat_body('x'), ctype='application/jsonx'), 415,
             'invalid_request_error'),
            (request('GET', '/v1/nothing/here'), 404, 'not_found_error'),
            (request('POST', '/v2/chat/completions', chat_body('x')), 404, 'not_found_error'),
            (request('GET', '/v1/chat/completions'), 405, 'invalid_request_error'),
            (request('DELETE', '/v1/models'), 405, 'invalid_request_error'),
            (request('POST', '/health/readiness', '{}'), 405, 'invalid_request_error'),
            # the pipeline's own refusal: an unknown model group
            (request('POST', '/v1/chat/completions', dict(chat_body('x'), model='nope')), 404,
             'not_found_error'),
            (request('POST', '/v1/chat/completions', {'model': 'gpt'}), 400, 'invalid_request_error'),
        ]
        for raw, status, etype in cases:
            c.send(raw)
            e = check_error(c.response(), status, etype)
            assert e['param'] is None, e
            check_chat(c, 'after %d' % status)
        c.send(request('GET', '/v1/nothing/here'))
        assert 'no such endpoint: /nothing/here' in c.response().json()['error']['message']
        c.close()
        assert len([q for q in f.requests() if q['method'] == 'POST']) == len(cases)


# ---- timeouts: slowloris, slow bodies, idle connections ------------------------------------

TIMEOUTS = 'llmux_settings:\n  http_header_timeout: 1\n  http_body_timeout: 1\n  http_idle_timeout: 1\n'


def test_slowloris_and_slow_bodies_are_cut_off_while_others_are_served():
    with Fake() as f, start(f, TIMEOUTS) as d:
        stop = threading.Event()
        slow = [Conn(d.port) for _ in range(4)]
        # two trickle their headers a byte at a time, forever
        head = b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ' + b'z' * 10000

        def trickle(c):
            for i in range(len(head)):
                if stop.is_set():
                    return
                try:
                    c.send(head[i:i + 1])
                except OSError:
                    return
                stop.wait(0.05)
        ts = [threading.Thread(target=trickle, args=(c,)) for c in slow[:2]]
        for t in ts:
            t.start()
        # one sent half a request line, one all headers and half its body
        slow[2].send(b'GET /v1/mod')
        body = json.dumps(chat_body('never finished')).encode()
        slow[3].send(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
                     b'Content-Length: %d\r\n\r\n' % len(body) + body[:10])
        try:
            # meanwhile, others are served
            for i in range(5):
                check_served(d, 'served beside slowloris %d' % i)
            for c in slow:
                check_error(c.response(), 408, 'timeout_error', keep=False)
                assert wait_for(c.closed, what='a slow client to be cut off')
        finally:
            stop.set()
            for t in ts:
                t.join(10)
        check_served(d)
        # an idle keep-alive connection is closed, without an answer
        c = Conn(d.port)
        check_chat(c, 'then idle')
        assert wait_for(c.closed, what='the idle connection to close')
        assert c.buf == b'', c.buf
        c.close()
        # a connection that never sends a byte is closed too
        c = Conn(d.port)
        assert wait_for(c.closed, what='the silent connection to close')
        assert c.buf == b''
        c.close()
        check_served(d)
        assert not [q for q in f.requests() if 'never finished' in q['body']]


# ---- who may call ------------------------------------------------------------------------

MK_CFG = 'general_settings:\n  master_key: os.environ/LLMUX_MK\n'


def test_master_key_on_tcp():
    with Fake() as f, start(f, MK_CFG, env={'LLMUX_MK': MASTER}) as d:
        assert 'serving the OpenAI API on http://127.0.0.1:%d (master key required)' % d.port in d.log()
        c = Conn(d.port)
        for hdrs, why in (([], 'missing'), (['Authorization: Bearer sk-wrong'], 'invalid'),
                          (['Authorization: Bearer ' + MASTER[:-1]], 'invalid'),
                          (['Authorization: Bearer ' + MASTER + 'x'], 'invalid'),
                          (['Authorization: ' + MASTER + ' '], 'invalid'),
                          (['Authorization: Basic ' + MASTER], 'invalid')):
            for raw in (request('POST', '/v1/chat/completions', chat_body('x'), hdrs),
                        request('GET', '/v1/models', headers=hdrs)):
                c.send(raw)
                r = c.response()
                e = check_error(r, 401, 'authentication_error')
                assert e['message'].startswith(why), e
                assert MASTER not in str(r.hlist) + r.body.decode()
        for h in ('Authorization: Bearer ' + MASTER, 'authorization: bearer ' + MASTER,
                  'x-litellm-api-key: ' + MASTER, 'api-key: ' + MASTER):
            r = check_chat(c, 'with the key', [h])
            assert MASTER not in str(r.hlist)
        # health and metrics are open, as LiteLLM's are
        c.send(request('GET', '/health/liveliness'))
        assert c.response().status == 200
        c.send(request('GET', '/metrics'))
        assert c.response().status == 200
        c.close()
        # no upstream request was made for a refused one
        assert len([q for q in f.requests() if q['method'] == 'POST']) == 4
    log = d.log()
    assert MASTER not in log and MASTER[3:15] not in log, log


def test_master_key_configured_but_unset_refuses_everything():
    # os.environ/LLMUX_MK names a variable that is not set: the listener
    # must not fall open (regression: authenticate() let it through).
    with Fake() as f, start(f, MK_CFG) as d:
        assert 'master_key' in d.log() and 'master key required' in d.log(), d.log()
        c = Conn(d.port)
        for hdrs in ([], ['Authorization: Bearer '], ['Authorization: Bearer anything']):
            c.send(request('POST', '/v1/chat/completions', chat_body('x'), hdrs))
            e = check_error(c.response(), 401, 'authentication_error')
            assert 'could not be read' in e['message'], e
        c.close()
        assert f.requests() == []


def test_non_loopback_address_needs_a_master_key():
    t = tempfile.mkdtemp(prefix='llmux-nl-')
    cfg = os.path.join(t, 'llmux.yaml')
    with open(cfg, 'w') as fh:
        fh.write('model_list:\n  - model_name: m\n    litellm_params: {model: mock/m}\n')
    for addr in ('0.0.0.0:0', '[::]:0'):
        p = subprocess.run([LLMUXD, '-c', cfg, '-s', os.path.join(t, 's.sock'), '--http', addr],
                           capture_output=True, timeout=30, env={'PATH': os.environ['PATH']})
        assert p.returncode != 0, p
        assert (b'http: %s is not a loopback address; serving it needs general_settings.master_key'
                % addr.encode()) in p.stderr, p.stderr
    # from the config file too, and when the key's variable is unset
    with open(cfg, 'a') as fh:
        fh.write('llmux_settings:\n  http: ["0.0.0.0:0"]\n' + MK_CFG)
    p = subprocess.run([LLMUXD, '-c', cfg, '-s', os.path.join(t, 's.sock')],
                       capture_output=True, timeout=30, env={'PATH': os.environ['PATH']})
    assert p.returncode != 0 and b'not a loopback address' in p.stderr, p.stderr
    shutil.rmtree(t)


def curl_unix(path, text, as_nobody):
    cmd = (NOBODY if as_nobody else []) + [
        'curl', '-sS', '--unix-socket', path, 'http://localhost/v1/chat/completions',
        '-H', 'Content-Type: application/json', '-w', '\\n%{http_code}',
        '-d', json.dumps(chat_body(text))]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    body, code = p.stdout.rsplit(b'\n', 1)
    return int(code), json.loads(body)


def curl_unix_get(path, url, as_nobody):
    cmd = (NOBODY if as_nobody else []) + [
        'curl', '-sS', '--unix-socket', path, 'http://localhost' + url, '-w', '\n%{http_code}']
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    body, code = p.stdout.rsplit(b'\n', 1)
    return int(code), body.decode()


def test_unix_socket_listener_uses_peer_credentials():
    if os.geteuid() != 0:
        raise Skip('switching to another uid needs root')
    for users, nobody_ok in (('[root]', False), ('[root, 65534]', True)):
        with Fake() as f:
            t = tempfile.mkdtemp(prefix='llmux-hu-')
            os.chmod(t, 0o755)
            path = os.path.join(t, 'http.sock')
            d = start(f, 'llmux_settings:\n  allow_users: %s\n' % users, http=path)
            with d:
                assert 'serving the OpenAI API on %s (callers are their peer credentials)' % path in d.log()
                # llmuxd makes it 0660; open it so that only allow_users decides
                assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
                os.chmod(path, 0o666)
                code, j = curl_unix(path, 'from root', False)
                assert code == 200 and j['choices'][0]['message']['content'] == 'from root', j
                code, j = curl_unix(path, 'from nobody', True)
                if nobody_ok:
                    assert code == 200 and j['choices'][0]['message']['content'] == 'from nobody', j
                else:
                    assert code == 403 and j['error']['type'] == 'permission_error', j
                    assert 'allow_users' in j['error']['message'], j
                    assert 'refused http request from pid' in d.log() and 'uid 65534' in d.log()
                # metrics too (regression: /metrics skipped the peer check);
                # the health probes are open
                code, text = curl_unix_get(path, '/metrics', True)
                if nobody_ok:
                    assert code == 200 and 'llmux_frontend_requests_total{frontend="http"}' in text, text
                else:
                    assert code == 403 and json.loads(text)['error']['type'] == 'permission_error', text
                code, text = curl_unix_get(path, '/health/liveliness', True)
                assert code == 200 and json.loads(text) == "I'm alive!", text
                code, j = curl_unix(path, 'root again', False)
                assert code == 200, j
                # no master key is asked on a Unix socket
                n = len([q for q in f.requests() if q['method'] == 'POST'])
                assert n == (3 if nobody_ok else 2), n
            assert not os.path.exists(path)
            shutil.rmtree(t)


# ---- response headers ----------------------------------------------------------------------

RATELIMIT = [('x-ratelimit-limit-requests', '10000'), ('x-ratelimit-limit-tokens', '30000000'),
             ('x-ratelimit-remaining-requests', '9999'), ('x-ratelimit-remaining-tokens', '29999990'),
             ('x-ratelimit-reset-requests', '6ms'), ('x-ratelimit-reset-tokens', '0s')]


def no_secret_in_headers(r, fake):
    text = '\n'.join('%s: %s' % kv for kv in r.hlist).lower()
    for bad in ('sk-test-key', str(fake.port), '127.0.0.1', 'api_base', 'authorization'):
        assert bad not in text, (bad, r.hlist)


def test_litellm_and_ratelimit_headers():
    with Fake() as f, start(f, 'router_settings:\n  num_retries: 2\n') as d:
        c = Conn(d.port)
        r = check_chat(c, 'headers please')
        h = r.headers
        assert re.fullmatch(r'llmux-\d+-\d+-\d+', h['x-litellm-call-id']), h
        assert h['x-litellm-model-group'] == 'gpt'
        assert re.fullmatch(r'\d+', h['x-litellm-response-duration-ms']), h
        assert re.fullmatch(r'\d+\.\d{3}', h['x-litellm-overhead-duration-ms']), h
        assert (h['x-litellm-attempted-retries'], h['x-litellm-attempted-fallbacks']) == ('0', '0'), h
        assert [kv for kv in r.hlist if kv[0].startswith('x-ratelimit-')] == RATELIMIT, r.hlist
        # the upstream's other headers stay behind
        assert not [k for k, _ in r.hlist if k in ('x-request-id', 'openai-processing-ms', 'openai-version')]
        no_secret_in_headers(r, f)
        first = h['x-litellm-call-id']
        # a retry is counted
        f.queue('err-500', 'echo')
        r = check_chat(c, 'after a retry')
        assert (r.headers['x-litellm-attempted-retries'],
                r.headers['x-litellm-attempted-fallbacks']) == ('1', '0'), r.hlist
        assert r.headers['x-litellm-call-id'] != first
        # a stream carries the call id and group (its head goes before any usage)
        c.send(request('POST', '/v1/chat/completions', chat_body('streamed', stream=True)))
        r = c.response()
        assert r.headers['content-type'] == 'text/event-stream', r.hlist
        assert r.headers['transfer-encoding'] == 'chunked' and r.headers['cache-control'] == 'no-cache'
        assert r.headers['x-litellm-model-group'] == 'gpt' and 'x-litellm-call-id' in r.headers
        no_secret_in_headers(r, f)
        # every event was its own HTTP chunk, flushed as it came
        assert len(r.chunks) == len(r.events()), (r.chunks, r.events())
        # include_usage: the usage chunk before [DONE]
        c.send(request('POST', '/v1/chat/completions',
                       chat_body('with usage', stream=True, stream_options={'include_usage': True})))
        ev = c.response().events()
        u = json.loads(ev[-2])
        assert ev[-1] == '[DONE]' and u['choices'] == [] and u['usage']['total_tokens'] > 0, ev
        c.send(request('POST', '/v1/chat/completions', chat_body('without usage', stream=True)))
        ev = c.response().events()
        assert all(json.loads(e).get('usage') is None for e in ev[:-1]), ev
        c.close()


def test_429_carries_retry_after_and_errors_have_openai_shape():
    with Fake() as f, start(f) as d:
        c = Conn(d.port)
        for scn, status, etype, code in (('err-429:3', 429, 'rate_limit_error', 'rate_limit'),
                                         ('err-401', 401, 'authentication_error', 'authentication'),
                                         ('err-context', 400, 'invalid_request_error',
                                          'context_window_exceeded'),
                                         ('err-500', 503, 'api_error', 'upstream_unavailable')):
            for stream in (False, True):
                f.queue(scn)
                c.send(request('POST', '/v1/chat/completions', chat_body('x', stream=stream)))
                r = c.response()
                e = check_error(r, status, etype)
                assert e['code'] == code, (scn, e)
                assert ('retry-after' in r.headers) == (status == 429), (scn, r.hlist)
                if status == 429:
                    assert r.headers['retry-after'] == '3', r.hlist
                assert r.headers['x-litellm-model-group'] == 'gpt'
                no_secret_in_headers(r, f)
                assert 'sk-test-key' not in r.body.decode()
        check_chat(c, 'after the errors')
        # the model name comes back in a header: a CR LF in it must not
        # write headers of the client's choosing (regression)
        for model in ('nope\r\nx-injected: 1', 'nope\nx-injected: 1', 'caf\u00e9'):
            c.send(request('POST', '/v1/chat/completions', dict(chat_body('x'), model=model)))
            r = c.response()
            check_error(r, 404, 'not_found_error')
            assert 'x-injected' not in r.headers and 'x-litellm-model-group' not in r.headers, r.hlist
            assert all('\n' not in k + v and '\r' not in k + v for k, v in r.hlist), r.hlist
        check_chat(c, 'after the odd names')
        c.close()


# ---- errors after the first chunk, aborts --------------------------------------------------

def test_error_after_first_chunk_is_an_sse_error_event():
    with Fake() as f, start(f, model='openai/text') as d:
        c = Conn(d.port)
        # reset-mid: slow, so that the first events are read before the RST
        # (it would otherwise overtake them and the error is answered as
        # a 503 before any chunk, as it should then be)
        for scn in ('instream-error', 'reset-mid+slow:30'):
            f.queue(scn)
            c.send(request('POST', '/v1/chat/completions', chat_body('x', stream=True)))
            r = c.response()
            assert r.status == 200 and r.headers['content-type'] == 'text/event-stream', (scn, r.hlist, r.body)
            ev = r.events()
            assert len(ev) >= 2 and '[DONE]' not in ev, (scn, ev)
            for e in ev[:-1]:
                assert json.loads(e)['object'] == 'chat.completion.chunk', (scn, ev)
            err = json.loads(ev[-1])
            assert set(err) == {'error'} and err['error']['message'] and err['error']['type'], (scn, err)
            assert set(err['error']) >= {'message', 'type', 'param', 'code'}, err
            # the stream ended cleanly (last chunk) and the connection goes on
            c.send(request('POST', '/v1/chat/completions', chat_body('y', stream=True)))
            ev = c.response().events()
            assert ev[-1] == '[DONE]', (scn, ev)
        c.close()


def wait_aborted(f, n):
    return wait_for(lambda: len(f.requests()) >= n and f.requests()[n - 1]['aborted'],
                    what='the fake provider to record the aborted transfer')


def test_client_leaving_aborts_the_upstream_transfer():
    with Fake() as f, start(f) as d:
        # mid-stream
        f.queue('drip:200')
        c = Conn(d.port)
        c.send(request('POST', '/v1/chat/completions', chat_body('x', stream=True)))
        status, _, hl = c.head()
        assert status == 200
        while b'data: ' not in c.buf:
            c._more()
        c.close()
        wait_aborted(f, 1)
        # before the answer: a non-stream request on a hanging upstream
        f.queue('hang')
        c = Conn(d.port)
        c.send(request('POST', '/v1/chat/completions', chat_body('x')))
        wait_for(lambda: len(f.requests()) == 2, what='the upstream request')
        c.close()
        wait_aborted(f, 2)
        # half-closing (shutdown of the write side) while streaming is the same
        f.queue('drip:200')
        c = Conn(d.port)
        c.send(request('POST', '/v1/chat/completions', chat_body('x', stream=True)))
        c.head()
        c.s.shutdown(socket.SHUT_WR)
        wait_aborted(f, 3)
        c.close()
        check_served(d)
        assert not f.requests()[-1]['aborted']


# ---- which front end -----------------------------------------------------------------------

def test_log_and_metrics_name_the_front_end():
    with Fake() as f, start(f) as d:
        c = Conn(d.port)
        for i in range(3):
            check_chat(c, 'count me %d' % i)
        fr = d.client().chat(1, {'model': 'gpt', 'messages': [{'role': 'user', 'content': 'socket'}]})
        assert fr[-1]['type'] == 'done'
        c.send(request('GET', '/metrics'))
        r = c.response('GET')
        assert r.headers['content-type'] == 'text/plain; version=0.0.4; charset=utf-8', r.hlist
        m = r.body.decode()
        assert 'llmux_frontend_requests_total{frontend="http"} 3\n' in m, m
        assert 'llmux_frontend_requests_total{frontend="socket"} 1\n' in m, m
        # the same text `llmux metrics` prints
        p = d.llmux('metrics')
        assert p.returncode == 0
        assert 'llmux_frontend_requests_total{frontend="http"} 3\n' in p.stdout.decode()
        c.close()
        log = wait_for(lambda: d.log().count('LLMUX_FRONTEND=http') == 3 and d.log(),
                       what='three request lines from http')
        assert log.count('LLMUX_FRONTEND=socket') == 1, log


# ---- socket activation --------------------------------------------------------------------


def test_socket_activation_of_both_sockets():
    from harness import Raw, text_of
    with Fake() as f:
        t = tempfile.mkdtemp(prefix='llmux-sah-')
        sock = os.path.join(t, 'llmux.sock')
        cfg = os.path.join(t, 'llmux.yaml')
        with open(cfg, 'w') as fh:
            fh.write(openai_config(f, model='openai/echo'))
        port = free_port()
        log = open(os.path.join(t, 'log'), 'wb')
        env = {k: v for k, v in os.environ.items() if not k.startswith(('LISTEN_', 'NOTIFY_'))}
        p = subprocess.Popen(['systemd-socket-activate', '-l', sock, '--fdname=llmux',
                              '-l', '127.0.0.1:%d' % port, '--fdname=http', LLMUXD, '-c', cfg],
                             stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for(lambda: os.path.exists(sock), what='systemd-socket-activate to listen')
            assert os.readlink('/proc/%d/exe' % p.pid).endswith('systemd-socket-activate')
            # the first connection is an HTTP one: the launcher execs llmuxd
            c = Conn(port)
            check_chat(c, 'activated over http')
            assert os.readlink('/proc/%d/exe' % p.pid) == os.path.realpath(LLMUXD)
            fr = Raw(sock).chat(1, {'model': 'gpt', 'messages': [{'role': 'user', 'content': 'and msgpack'}]})
            assert text_of(fr) == 'and msgpack', fr
            check_chat(c, 'http again')
            c2 = Conn(port)
            check_chat(c2, 'a second http connection')
            c.close()
            c2.close()
            out = open(os.path.join(t, 'log'), 'rb').read().decode()
            assert ('serving the OpenAI API on http://127.0.0.1:%d, from systemd (no master_key' % port) in out, out
            p.send_signal(signal.SIGTERM)
            assert p.wait(10) == 0
            # systemd owns both: the path is left in place
            assert stat.S_ISSOCK(os.stat(sock).st_mode)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            log.close()
        shutil.rmtree(t)


# ---- shutdown --------------------------------------------------------------------------------

def test_sigterm_lets_an_http_stream_finish_then_closes():
    with Fake() as f, start(f) as d:
        f.queue('drip:8')
        c = Conn(d.port)
        c.send(request('POST', '/v1/chat/completions', chat_body('x', stream=True)))
        head = c.head()
        assert head[0] == 200
        while b'data: ' not in c.buf:
            c._more()
        d.signal(signal.SIGTERM)
        # the listener goes at once...
        wait_for(lambda: 'connection refused' if refused(d.port) else None,
                 what='the http listener to close')
        # ...the stream in flight finishes, then its connection closes
        ev = c.response(head=head).events()
        assert ev[-1] == '[DONE]' and sse_text(ev) == ' '.join('tok%d' % i for i in range(8)), ev
        assert wait_for(c.closed, what='the connection to close after the drain')
        assert d.proc.wait(30) == 0
        assert not f.requests()[-1]['aborted']


def refused(port):
    s = socket.socket()
    try:
        s.connect(('127.0.0.1', port))
        return False
    except ConnectionRefusedError:
        return True
    finally:
        s.close()
