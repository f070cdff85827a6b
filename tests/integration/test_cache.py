"""test_cache.py -- the response cache (issue 14) through the real llmuxd:
a hit never reaches the fake upstream, each per-request control, TTL
expiry, LRU eviction under max_bytes, a streaming replay equal in text to
the stream it came from, a cut stream never stored, one entry for every
deployment of a group, the cache op, and Redis end to end against a real
redis-server (two llmuxd share an entry; Redis killed mid-run, and back)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from harness import LLMUX, Daemon, Fake, Skip, free_port, text_of, user, wait_for

NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']


def dep(fake, name='gpt', model='openai/echo', id='only'):
    return '''  - model_name: %s
    litellm_params:
      model: %s
      api_base: %s/v1
      api_key: sk-test-key
    model_info:
      id: %s
''' % (name, model, fake.url, id)


def config(fake, params='', deps=None, extra=''):
    return ('model_list:\n' + (deps or dep(fake)) +
            'litellm_settings:\n  cache: true\n  cache_params:\n    type: local\n' +
            params + extra)


def done(frames):
    assert frames[-1]['type'] == 'done', frames[-1]
    return frames[-1]


def upstream_count(fake):
    return len(fake.requests())


def ask(c, id, text, **kw):
    body = {'model': kw.pop('model', 'gpt'), 'messages': user(text)}
    body.update(kw)
    return c.chat(id, body)


def metric(d, name):
    r = d.llmux('metrics')
    assert r.returncode == 0, r.stderr
    for line in r.stdout.decode().splitlines():
        if line.startswith(name + ' '):
            return int(line.split()[1])
    raise AssertionError('%s not in metrics' % name)


def test_hit_never_reaches_upstream():
    with Fake() as f, Daemon(config(f)) as d:
        c = d.client()
        a = ask(c, 1, 'hello there')
        assert upstream_count(f) == 1
        assert 'cache_hit' not in done(a), done(a)
        b = ask(c, 2, 'hello there')
        assert upstream_count(f) == 1, 'the second identical call reached the upstream'
        assert text_of(b) == text_of(a) == 'hello there'
        dn = done(b)
        assert dn['cache_hit'] is True and dn['cost'] == 0, dn
        assert dn['provider'] == 'cache', dn
        # the key order, stream_options and user do not change the key
        c.request(3, {'user': 'someone', 'messages': user('hello there'), 'model': 'gpt'})
        assert done(c.until_end(3)).get('cache_hit') is True
        assert upstream_count(f) == 1
        # a different body is a miss
        ask(c, 4, 'hello there', temperature=0.5)
        assert upstream_count(f) == 2
        assert metric(d, 'llmux_cache_hits_total') == 2
        assert metric(d, 'llmux_cache_misses_total') == 2
        assert metric(d, 'llmux_cache_stores_total') == 2
        # the request log lines say which were hits; a hit has no upstream
        wait_for(lambda: d.log().count('LLMUX_CACHE=hit') == 2, what='the log lines of hits')
        assert d.log().count('LLMUX_CACHE=miss') == 2, d.log()


def test_per_request_controls():
    with Fake() as f, Daemon(config(f)) as d:
        c = d.client()
        # no-store: answered, not written
        ask(c, 1, 'a', cache={'no-store': True})
        ask(c, 2, 'a')
        assert upstream_count(f) == 2
        # now stored (by 2): no-cache skips the lookup, and stores again
        ask(c, 3, 'a', cache={'no-cache': True})
        assert upstream_count(f) == 3
        assert done(ask(c, 4, 'a')).get('cache_hit') is True
        assert upstream_count(f) == 3
        # namespace: its own entries
        ask(c, 5, 'a', cache={'namespace': 'other'})
        assert upstream_count(f) == 4
        assert done(ask(c, 6, 'a', cache={'namespace': 'other'})).get('cache_hit') is True
        assert upstream_count(f) == 4
        # s-maxage: an entry older than that is not used (wait until it is)
        ask(c, 7, 'old', cache={'ttl': 600})
        n = upstream_count(f)
        stored = time.time()
        wait_for(lambda: time.time() - stored >= 1.1, timeout=5,
                 what='the entry to be more than a second old')
        ask(c, 8, 'old', cache={'s-maxage': 1})
        assert upstream_count(f) == n + 1, 's-maxage let an entry older than it answer'
        assert done(ask(c, 9, 'old', cache={'s-maxage': 60})).get('cache_hit') is True
        # a bad control is refused, as the other controls are
        e = ask(c, 10, 'a', cache={'ttl': -1})
        assert e[-1]['type'] == 'error' and e[-1]['error']['type'] == 'bad_request', e[-1]
        e = ask(c, 11, 'a', cache='yes')
        assert e[-1]['type'] == 'error', e[-1]


def test_ttl_expiry():
    with Fake() as f, Daemon(config(f)) as d:
        c = d.client()
        ask(c, 1, 'short', cache={'ttl': 0.3})
        assert done(ask(c, 2, 'short')).get('cache_hit') is True
        n = upstream_count(f)
        # wait for the entry to expire: each try that still hits adds no
        # upstream request; the first miss does
        i = [100]

        def expired():
            i[0] += 1
            ask(c, i[0], 'short', cache={'no-store': True})
            return upstream_count(f) > n
        wait_for(expired, timeout=10, step=0.05, what='the entry to expire')


def test_lru_eviction_under_max_bytes():
    # each entry is a few hundred bytes: 4 KiB holds a handful, not 40
    with Fake() as f, Daemon(config(f, '    max_bytes: 4096\n')) as d:
        c = d.client()
        for i in range(40):
            ask(c, i + 1, 'message number %d' % i)
        assert metric(d, 'llmux_cache_evictions_total') > 0
        assert metric(d, 'llmux_cache_bytes') <= 4096
        n = upstream_count(f)
        ask(c, 100, 'message number 39')          # the newest: still there
        assert upstream_count(f) == n
        ask(c, 101, 'message number 0')           # the oldest: evicted
        assert upstream_count(f) == n + 1
        # a hit refreshes: 38 is used, then 8 new entries; 38 survives where
        # untouched neighbours go
        ask(c, 102, 'message number 38')
        for i in range(3):
            ask(c, 200 + i, 'filler %d' % i)
        n = upstream_count(f)
        ask(c, 300, 'message number 38')
        assert upstream_count(f) == n, 'a recently used entry was evicted first'


def test_stream_replay_equals_original():
    with Fake() as f, Daemon(config(f)) as d:
        c = d.client()
        a = ask(c, 1, 'one two three four', stream=True)
        chunks = [x for x in a if x['type'] == 'chunk']
        assert len(chunks) > 2
        b = ask(c, 2, 'one two three four', stream=True,
                stream_options={'include_usage': True})
        assert upstream_count(f) == 1
        assert text_of(b) == text_of(a) == 'one two three four'
        got = [x['body'] for x in b if x['type'] == 'chunk']
        assert got[-2]['choices'][0]['finish_reason'] == 'stop', got
        assert got[-1]['usage']['total_tokens'] > 0, got[-1]
        assert done(b)['cache_hit'] is True
        # a stream's entry answers a plain call, and a plain one a stream
        p = ask(c, 3, 'one two three four')
        assert text_of(p) == 'one two three four' and upstream_count(f) == 1
        ask(c, 4, 'plain first')
        s = ask(c, 5, 'plain first', stream=True)
        assert text_of(s) == 'plain first' and upstream_count(f) == 2
        assert all(x['type'] in ('chunk', 'done') for x in s), s


def test_cut_stream_not_stored():
    with Fake() as f, Daemon(config(f)) as d:
        c = d.client()
        f.queue('echo+reset-mid')
        a = ask(c, 1, 'this stream will be cut in the middle', stream=True)
        assert a[-1]['type'] == 'error', a[-1]
        b = ask(c, 2, 'this stream will be cut in the middle', stream=True)
        assert upstream_count(f) == 2, 'a cut stream was stored'
        assert done(b).get('cache_hit') is None
        assert done(ask(c, 3, 'this stream will be cut in the middle', stream=True))['cache_hit']
        # an errored (non-stream) answer is never stored either
        f.queue('err-500', 'err-500', 'err-500')
        e = ask(c, 4, 'fails', num_retries=0)
        assert e[-1]['type'] == 'error'
        ask(c, 5, 'fails')
        assert upstream_count(f) == 4


def test_group_shares_entries_across_deployments():
    with Fake() as f:
        deps = dep(f, id='first') + dep(f, id='second')
        with Daemon(config(f, deps=deps)) as d:
            c = d.client()
            # misses spread over both deployments; each answer is stored
            # under the group, so a text asked once is never asked again
            for i in range(12):
                ask(c, 1 + i, 'shared %d' % (i % 4))
            assert upstream_count(f) == 4, [r['path'] for r in f.requests()]
    # one deployment per fake: the entry one stored, the other answers
    with Fake() as f1, Fake() as f2:
        deps = dep(f1, id='first') + dep(f2, id='second')
        with Daemon(config(f1, deps=deps)) as d:
            c = d.client()
            # new texts until the shuffle used both deployments (64 tries:
            # all on one would be a 2^-63 chance)
            n = 0
            while n < 64 and not (upstream_count(f1) and upstream_count(f2)):
                n += 1
                ask(c, n, 'spread %d' % n)
            assert upstream_count(f1) > 0 and upstream_count(f2) > 0
            for i in range(1, n + 1):
                assert done(ask(c, 100 + i, 'spread %d' % i))['cache_hit'] is True
            assert upstream_count(f1) + upstream_count(f2) == n
    # and an alias of the group uses the group's entries
    with Fake() as f:
        extra = 'router_settings:\n  model_group_alias:\n    smart: gpt\n'
        with Daemon(config(f, extra=extra)) as d:
            c = d.client()
            ask(c, 1, 'aliased')
            assert done(ask(c, 2, 'aliased', model='smart'))['cache_hit'] is True
            assert upstream_count(f) == 1


def test_cache_per_caller_and_default_off():
    with Fake() as f:
        cfg = config(f, '    mode: default_off\n')
        with Daemon(cfg) as d:
            c = d.client()
            ask(c, 1, 'x')
            ask(c, 2, 'x')
            assert upstream_count(f) == 2, 'default_off cached without use-cache'
            ask(c, 3, 'x', cache={'use-cache': True})
            assert done(ask(c, 4, 'x', cache={'use-cache': True}))['cache_hit'] is True
            assert upstream_count(f) == 3
    with Fake() as f:
        cfg = config(f, extra='llmux_settings:\n  cache_per_caller: true\n')
        with Daemon(cfg) as d:
            c = d.client()
            ask(c, 1, 'mine')
            assert done(ask(c, 2, 'mine'))['cache_hit'] is True
            if os.getuid() != 0:
                raise Skip('switching to another uid needs root')
            # another uid does not see it, and gets its own entry
            os.chmod(d.dir, 0o755)
            os.chmod(d.sock, 0o666)
            for want in (2, 2):
                r = subprocess.run(NOBODY + [LLMUX, '-S', d.sock, 'chat', '-m', 'gpt', 'mine'],
                                   capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
                assert r.returncode == 0, r.stderr
                assert r.stdout.strip() == b'mine', r.stdout
                assert upstream_count(f) == want, 'a cached answer crossed callers'


def test_unsupported_type_warns_and_stays_off():
    with Fake() as f:
        cfg = ('model_list:\n' + dep(f) + 'litellm_settings:\n  cache: true\n'
               '  cache_params:\n    type: redis-semantic\n')
        with Daemon(cfg) as d:
            c = d.client()
            ask(c, 1, 'x')
            ask(c, 2, 'x')
            assert upstream_count(f) == 2
            assert 'not supported by llmux' in d.log()
            r = d.llmux('cache', 'stats')
            assert r.returncode == 0, r.stderr
            assert json.loads(r.stdout)['type'] == 'off', r.stdout


def test_cache_stats_and_flush():
    with Fake() as f, Daemon(config(f)) as d:
        c = d.client()
        ask(c, 1, 'keep')
        ask(c, 2, 'mine', cache={'namespace': 'team'})
        r = d.llmux('cache', 'stats')
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st['type'] == 'local' and st['entries'] == 2 and st['stores'] == 2, st
        assert st['misses'] == 2 and st['hits'] == 0 and st['bytes'] > 0, st
        r = d.llmux('cache', 'flush', '--namespace', 'team')
        assert r.returncode == 0, r.stderr
        ask(c, 3, 'keep')
        assert upstream_count(f) == 2, 'flushing one namespace dropped another'
        ask(c, 4, 'mine', cache={'namespace': 'team'})
        assert upstream_count(f) == 3
        r = d.llmux('cache', 'flush')
        assert r.returncode == 0, r.stderr
        ask(c, 5, 'keep')
        assert upstream_count(f) == 4
        if os.getuid() != 0:
            return      # switching to another uid needs root
        os.chmod(d.dir, 0o755)
        os.chmod(d.sock, 0o666)
        p = subprocess.run(NOBODY + [LLMUX, '-S', d.sock, 'cache', 'flush'],
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
        assert p.returncode == 5 and b'admin' in p.stderr, p
        ask(c, 6, 'keep')
        assert upstream_count(f) == 4, 'a caller who is not an admin flushed the cache'
        p = subprocess.run(NOBODY + [LLMUX, '-S', d.sock, 'cache', 'stats'],
                           capture_output=True, stdin=subprocess.DEVNULL, timeout=30)
        assert p.returncode == 0 and json.loads(p.stdout)['entries'] == 2, p


# ---- Redis ------------------------------------------------------------------------



class Redis:
    """A real redis-server on a loopback port, stopped by its PID."""

    def __init__(self, port=None, password=None):
        self.password = password
        self.exe = shutil.which('redis-server') or '/usr/bin/redis-server'
        if not os.path.exists(self.exe):
            raise AssertionError('redis-server is not installed (make deps)')
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix='llmux-redis-')
        self.start()

    def start(self):
        self.log = open(os.path.join(self.dir, 'redis.log'), 'ab')
        self.proc = subprocess.Popen(
            [self.exe, '--port', str(self.port), '--bind', '127.0.0.1', '--save', '',
             '--appendonly', 'no', '--dir', self.dir, '--protected-mode', 'no'] +
            (['--requirepass', self.password] if self.password else []),
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self.up, what='redis-server to listen')

    def up(self):
        if self.proc.poll() is not None:
            raise AssertionError('redis-server exited')
        try:
            socket.create_connection(('127.0.0.1', self.port), 0.2).close()
            return True
        except OSError:
            return False

    def cmd(self, *args):
        s = socket.create_connection(('127.0.0.1', self.port), 5)
        cmds = ([('AUTH', self.password)] if self.password else []) + [args]
        out = ''.join('*%d\r\n' % len(c) + ''.join('$%d\r\n%s\r\n' % (len(a), a) for a in c)
                      for c in cmds)
        s.sendall(out.encode())
        data = b''
        s.settimeout(5)
        while data.count(b'\r\n') < len(cmds) or not data.endswith(b'\r\n'):
            data += s.recv(65536)
        s.close()
        return data.split(b'\r\n', 1)[1] if self.password else data

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


def redis_config(fake, redis, extra=''):
    return config(fake, '    type: redis\n    host: 127.0.0.1\n    port: %d\n'
                  '    namespace: t\n    lookup_timeout_ms: 2000\n' % redis.port
                  ).replace('    type: local\n', '') + extra


def test_redis_two_daemons_share_an_entry():
    with Fake() as f, Redis() as r:
        cfg = redis_config(f, r)
        with Daemon(cfg) as d1, Daemon(cfg) as d2:
            c1, c2 = d1.client(), d2.client()
            wait_for(lambda: metric(d1, 'llmux_cache_backend_up') == 1, what='d1 on Redis')
            wait_for(lambda: metric(d2, 'llmux_cache_backend_up') == 1, what='d2 on Redis')
            a = ask(c1, 1, 'shared through redis')
            assert upstream_count(f) == 1
            # the SET is not waited for: wait until Redis has the key
            wait_for(lambda: b':1\r\n' in r.cmd('DBSIZE'), what='the entry in Redis')
            b = ask(c2, 1, 'shared through redis')
            assert upstream_count(f) == 1, 'the second llmuxd did not use the entry'
            assert done(b)['cache_hit'] is True and text_of(b) == text_of(a)
            # the entry has the TTL it was stored with
            key = [k for k in r.cmd('KEYS', 't:*').split(b'\r\n') if k.startswith(b't:')][0]
            ttl = int(r.cmd('PTTL', key.decode()).strip(b':\r\n'))
            assert 0 < ttl <= 600000, ttl
            # a stream through Redis too
            ask(c1, 2, 'streamed via redis', stream=True)
            wait_for(lambda: b':2\r\n' in r.cmd('DBSIZE'), what='the stream entry in Redis')
            s = ask(c2, 2, 'streamed via redis', stream=True)
            assert text_of(s) == 'streamed via redis' and done(s)['cache_hit'] is True
            assert upstream_count(f) == 2
            # flush deletes the namespace's keys in Redis
            assert d1.llmux('cache', 'flush').returncode == 0
            wait_for(lambda: b':0\r\n' in r.cmd('DBSIZE'), what='the flush to empty Redis')


def test_redis_down_is_a_miss_and_comes_back():
    with Fake() as f:
        r = Redis()
        try:
            with Daemon(redis_config(f, r)) as d:
                c = d.client()
                wait_for(lambda: metric(d, 'llmux_cache_backend_up') == 1, what='Redis up')
                ask(c, 1, 'before')
                wait_for(lambda: b':1\r\n' in r.cmd('DBSIZE'), what='the entry in Redis')
                assert done(ask(c, 2, 'before'))['cache_hit'] is True
                r.proc.kill()           # killed, not shut down
                r.proc.wait()
                r.log.close()
                wait_for(lambda: metric(d, 'llmux_cache_backend_up') == 0, what='Redis seen down')
                # answered, from the upstream, while Redis is down
                for i in range(3):
                    a = ask(c, 10 + i, 'before')
                    assert done(a).get('cache_hit') is None and text_of(a) == 'before'
                assert upstream_count(f) == 4
                assert d.log().count('is unavailable') == 1, d.log()
                assert metric(d, 'llmux_cache_misses_total') >= 3
                r.start()
                wait_for(lambda: metric(d, 'llmux_cache_backend_up') == 1, timeout=20,
                         what='the connection back')
                assert 'is back' in d.log()
                ask(c, 20, 'after')
                wait_for(lambda: b':1\r\n' in r.cmd('DBSIZE'), what='a new entry in Redis')
                assert done(ask(c, 21, 'after'))['cache_hit'] is True
        finally:
            r.stop()


def test_redis_slow_is_a_miss():
    with Fake() as f, Redis() as r:
        cfg = redis_config(f, r).replace('lookup_timeout_ms: 2000', 'lookup_timeout_ms: 50')
        with Daemon(cfg) as d:
            c = d.client()
            wait_for(lambda: metric(d, 'llmux_cache_backend_up') == 1, what='Redis up')
            r.proc.send_signal(signal.SIGSTOP)
            try:
                a = ask(c, 1, 'redis is stopped')
                assert text_of(a) == 'redis is stopped'
                assert metric(d, 'llmux_cache_lookup_timeouts_total') == 1
            finally:
                r.proc.send_signal(signal.SIGCONT)


def test_http_answers_carry_the_cache_key():
    # The same request twice over HTTP: the second is a hit (the upstream
    # saw one request), and both name their entry in x-litellm-cache-key.
    import http.client
    port = free_port()
    with Fake() as f, Daemon(config(f), args=['--http', '127.0.0.1:%d' % port]) as d:
        wait_for(lambda: 'serving the OpenAI API' in d.log(), timeout=10,
                 what='the HTTP listener')
        body = json.dumps({'model': 'gpt', 'messages': user('cache me')})
        answers = []
        for _ in range(2):
            h = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
            h.request('POST', '/v1/chat/completions', body,
                      {'Content-Type': 'application/json'})
            r = h.getresponse()
            answers.append((r.status, r.getheader('x-litellm-cache-key'),
                            json.loads(r.read())))
            h.close()
        (s1, k1, a1), (s2, k2, a2) = answers
        assert s1 == s2 == 200, answers
        assert k1 and k1 == k2 and k1.startswith('llmux:') and len(k1) == len('llmux:') + 64, answers
        assert a1['choices'][0]['message']['content'] == a2['choices'][0]['message']['content'] == 'cache me'
        assert upstream_count(f) == 1, f.requests()


def request_lines(d, word):
    return [ln for ln in d.log().splitlines() if 'LLMUX_REQUEST=' in ln and word in ln]


def test_hit_log_line_names_group_and_call():
    with Fake() as f:
        cfg = config(f, deps=dep(f, name='gpt') + '''  - model_name: emb
    litellm_params:
      model: openai/text-embedding-3-small
      api_base: %s/v1
      api_key: sk-test-key
''' % f.url, extra='router_settings:\n  model_group_alias: {"g-alias": "gpt"}\n')
        with Daemon(cfg) as d:
            c = d.client()
            ask(c, 1, 'log me', model='g-alias')
            assert done(ask(c, 2, 'log me', model='g-alias')).get('cache_hit') is True
            for i in (3, 4):
                c.request(i, {'model': 'emb', 'input': ['x y']}, op='embeddings')
                fr = c.until_end(i)
            assert fr[-1].get('cache_hit') is True, fr[-1]
            wait_for(lambda: len(request_lines(d, 'LLMUX_CACHE=hit')) == 2, what='the hits logged')
            hit_chat, hit_emb = request_lines(d, 'LLMUX_CACHE=hit')
            # the group the request resolved to, never empty, and the call type
            assert 'LLMUX_GROUP=gpt ' in hit_chat + ' ', hit_chat
            assert 'LLMUX_CALL=completion' in hit_chat, hit_chat
            assert 'LLMUX_GROUP=emb ' in hit_emb + ' ', hit_emb
            assert 'LLMUX_CALL=embedding' in hit_emb, hit_emb
            miss_emb = [ln for ln in request_lines(d, 'LLMUX_CACHE=miss') if 'LLMUX_CALL=embedding' in ln]
            assert len(miss_emb) == 1 and 'LLMUX_GROUP=emb' in miss_emb[0], miss_emb
            # metrics count each hit under its group's configured label
            m = d.llmux('metrics').stdout.decode()
            for g in ('gpt', 'emb'):
                line = 'llmux_requests_total{group="%s",deployment="local",provider="cache"} 1' % g
                assert line in m, m
            assert 'g-alias' not in m, m


REDIS_PW = 'rd-pw-Zq81xKmT4'


def test_redis_auth_password_from_the_environment():
    with Fake() as f, Redis(password=REDIS_PW) as r:
        cfg = redis_config(f, r).replace('    namespace: t\n',
                                         '    namespace: t\n    password: os.environ/TEST_REDIS_PW\n')
        with Daemon(cfg, env={'TEST_REDIS_PW': REDIS_PW}) as d:
            c = d.client()
            wait_for(lambda: metric(d, 'llmux_cache_backend_up') == 1, what='llmuxd on Redis')
            a = ask(c, 1, 'behind a password')
            wait_for(lambda: b':1\r\n' in r.cmd('DBSIZE'), what='the entry in Redis')
            b = ask(c, 2, 'behind a password')
            assert done(b)['cache_hit'] is True and text_of(b) == text_of(a)
            assert upstream_count(f) == 1
            assert 'refused the password' not in d.log()
            assert REDIS_PW not in d.log() and REDIS_PW[:8] not in d.log()
        # a wrong password: Redis refuses every command, llmuxd says so
        # and answers as if uncached
        with Daemon(cfg, env={'TEST_REDIS_PW': 'not-the-password'}) as d:
            c = d.client()
            wait_for(lambda: 'refused the password' in d.log(), what='the AUTH refusal logged')
            for i in (1, 2):
                assert text_of(ask(c, i, 'never cached')) == 'never cached'
            assert upstream_count(f) == 3
            assert b':1\r\n' in r.cmd('DBSIZE')
            assert 'not-the-password' not in d.log()
