"""test_core.py -- the core path end to end: the real llmuxd, the llmux
shell helper and raw frames, against the mock provider and the fake
OpenAI-compatible provider replaying recorded OpenAI traffic."""

import json
import os
import signal
import socket
import struct
import subprocess
import time

import msgpack

from harness import (CONFORMANCE, LLMUXD, Daemon, Fake, Raw, openai_config, text_of,
                     user, wait_for)


def sse_texts(rel):
    """Concatenated delta content per choice index of a recorded stream."""
    out = {}
    with open(os.path.join(CONFORMANCE, rel)) as f:
        for line in f:
            if line.startswith('data: ') and '[DONE]' not in line:
                for c in json.loads(line[6:]).get('choices', []):
                    out[c['index']] = out.get(c['index'], '') + (c['delta'].get('content') or '')
    return out


def sample(rel):
    with open(os.path.join(CONFORMANCE, rel)) as f:
        return json.load(f)


# ---- mock provider, shell helper -----------------------------------------

def test_mock_echo_from_shell():
    with Daemon() as d:
        p = d.llmux('chat', '-m', 'mock/echo', 'hi there')
        assert p.returncode == 0, p.stderr
        assert p.stdout == b'hi there\n', p.stdout
        p = d.llmux('chat', '-m', 'mock/echo', input=b'from stdin\n')
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == b'from stdin', p.stdout


def test_mock_stream_frames():
    with Daemon() as d:
        c = d.client()
        fr = c.chat(1, {'model': 'mock/echo', 'messages': user('one two three'), 'stream': True,
                        'stream_options': {'include_usage': True}})
        chunks = [f for f in fr if f['type'] == 'chunk']
        assert len(chunks) >= 4, fr
        assert text_of(fr) == 'one two three'
        assert chunks[-1]['body']['usage']['completion_tokens'] == 3
        assert chunks[-2]['body']['choices'][0]['finish_reason'] == 'stop'
        assert fr[-1]['type'] == 'done' and fr[-1]['usage']['total_tokens'] == 6
        assert fr[-1]['chunks'] == len(chunks)


def test_models_and_raw_from_shell():
    cfg = '''model_list:
  - model_name: fast
    litellm_params: {model: mock/fast, mock_response: "quick"}
'''
    with Daemon(cfg) as d:
        p = d.llmux('models')
        assert p.returncode == 0, p.stderr
        assert b'fast' in p.stdout.split() and b'mock/echo' in p.stdout.split()
        req = json.dumps({'model': 'fast', 'messages': user('x')}).encode()
        p = d.llmux('raw', 'chat', input=req)
        assert p.returncode == 0, p.stderr
        body = json.loads(p.stdout)
        assert body['object'] == 'chat.completion'
        assert body['choices'][0]['message']['content'] == 'quick'


# ---- OpenAI-compatible upstream ---------------------------------------------

def test_openai_nonstream_passthrough():
    want = sample('providers/openai/nonstream_text.json')
    with Fake() as f, Daemon(openai_config(f)) as d:
        fr = d.client().chat(1, {'model': 'gpt', 'messages': user('weather?'), 'temperature': 0.5})
        assert [x['type'] for x in fr] == ['response', 'done'], fr
        body = fr[0]['body']
        assert body['choices'][0]['message']['content'] == want['choices'][0]['message']['content']
        assert body['id'] == want['id']
        assert fr[1]['usage'] == want['usage']
        assert fr[1]['provider'] == 'openai'
        got = f.requests()[-1]
        assert got['path'] == '/v1/chat/completions'
        hdr = {k.lower(): v for k, v in got['headers'].items()}
        assert hdr['authorization'] == 'Bearer sk-test-key'
        sent = json.loads(got['body'])
        assert sent['model'] == 'text' and sent['temperature'] == 0.5
        assert isinstance(sent['temperature'], float)
        assert sent['messages'] == user('weather?')


def test_openai_stream_every_delta_and_usage():
    want = sse_texts('providers/openai/stream_text.sse')[0]
    with Fake() as f, Daemon(openai_config(f)) as d:
        c = d.client()
        fr = c.chat(1, {'model': 'gpt', 'messages': user('hi'), 'stream': True})
        assert text_of(fr) == want
        assert fr[-1]['type'] == 'done'
        # llmux asks for usage upstream even when the caller did not...
        assert fr[-1]['usage']['total_tokens'] == 44
        sent = json.loads(f.requests()[-1]['body'])
        assert sent['stream_options'] == {'include_usage': True}
        # ...but the caller only gets the usage chunk when it asked.
        assert all(x['body'].get('usage') is None for x in fr if x['type'] == 'chunk')
        fr = c.chat(2, {'model': 'gpt', 'messages': user('hi'), 'stream': True,
                        'stream_options': {'include_usage': True}})
        last = [x for x in fr if x['type'] == 'chunk'][-1]['body']
        assert last['choices'] == [] and last['usage']['completion_tokens'] == 30


def test_openai_stream_split_at_odd_boundaries():
    want = sse_texts('providers/openai/stream_text.sse')[0]
    with Fake() as f, Daemon(openai_config(f, model='openai/text+split:7')) as d:
        fr = d.client().chat(1, {'model': 'gpt', 'messages': user('hi'), 'stream': True})
        assert text_of(fr) == want and fr[-1]['type'] == 'done'
        f.queue('text+split:1')
        fr = d.client().chat(2, {'model': 'gpt', 'messages': user('hi'), 'stream': True})
        assert text_of(fr) == want and fr[-1]['type'] == 'done'


def test_openai_stream_tool_call_fragments():
    with Fake() as f, Daemon(openai_config(f, model='openai/parallel')) as d:
        fr = d.client().chat(1, {'model': 'gpt', 'messages': user('weather in two cities'),
                                 'stream': True})
        calls = {}
        for x in fr:
            if x['type'] != 'chunk':
                continue
            for ch in x['body']['choices']:
                for tc in ch['delta'].get('tool_calls') or []:
                    c = calls.setdefault(tc['index'], {'args': ''})
                    if tc.get('id'):
                        c['id'] = tc['id']
                    fn = tc.get('function') or {}
                    if fn.get('name'):
                        c['name'] = fn['name']
                    c['args'] += fn.get('arguments') or ''
        assert len(calls) >= 2, calls
        for c in calls.values():
            assert c['id'] and c['name'], c
            json.loads(c['args'])
        finish = [ch['finish_reason'] for x in fr if x['type'] == 'chunk'
                  for ch in x['body']['choices'] if ch.get('finish_reason')]
        assert finish == ['tool_calls'], finish


def test_upstream_connections_are_reused():
    # Keep-alive: sequential requests to one upstream ride one connection.
    with Fake() as f, Daemon(openai_config(f)) as d:
        c = d.client()
        for i in range(1, 11):
            fr = c.chat(i, {'model': 'gpt', 'messages': user('x'), 'stream': i % 2 == 0})
            assert fr[-1]['type'] == 'done', fr[-1]
        peers = {r['peer'] for r in f.requests()}
        assert len(peers) == 1, peers


def test_presets_route_to_their_base_url():
    # groq/ is a preset of the OpenAI adapter: base URL and key variable
    # are data. Point its base at the fake and check what was sent.
    env = {'GROQ_API_KEY': 'gsk-preset-key', 'GROQ_API_BASE': None}
    with Fake() as f:
        env['GROQ_API_BASE'] = f.url + '/openai/v1'
        with Daemon('', env=env) as d:
            fr = d.client().chat(1, {'model': 'groq/via-groq', 'messages': user('hi'), 'stream': True})
            assert fr[-1]['type'] == 'done', fr[-1]
            assert fr[-1]['provider'] == 'groq'
            assert fr[-1]['usage']['total_tokens'] > 0
            got = f.requests()[-1]
            assert got['path'] == '/openai/v1/chat/completions'
            hdr = {k.lower(): v for k, v in got['headers'].items()}
            assert hdr['authorization'] == 'Bearer gsk-preset-key'


# ---- errors ------------------------------------------------------------------

def test_upstream_errors_are_typed():
    cases = [('err-401', 'authentication', 4, 'EAUTH'), ('err-429:2.5', 'rate_limit', 9, 'ERATELIMIT'),
             ('err-context', 'context_window_exceeded', 7, 'ECONTEXT'),
             ('err-500', 'upstream_unavailable', 11, 'EUNAVAIL'),
             ('err-404', 'not_found', 6, 'ENOTFOUND'), ('malformed', 'upstream_unavailable', 11, 'EUNAVAIL')]
    with Fake() as f, Daemon(openai_config(f)) as d:
        c = d.client()
        for i, (scn, typ, rc, name) in enumerate(cases, 1):
            f.queue(scn)
            fr = c.chat(i, {'model': 'gpt', 'messages': user('x')})
            assert fr[-1]['type'] == 'error', (scn, fr)
            e = fr[-1]['error']
            assert e['type'] == typ, (scn, e)
            assert e['provider'] == 'openai' and e['message'], e
            if scn.startswith('err-429'):
                assert abs(e['retry_after'] - 2.5) < 0.01, e
            f.queue(scn)
            p = d.llmux('chat', '-m', 'gpt', 'x')
            assert p.returncode == rc, (scn, p.returncode, p.stderr)
            # one line naming the error, its type and the provider
            assert p.stderr.startswith(('llmux: %s: ' % name).encode()), (scn, p.stderr)
            assert ('(%s, provider openai' % typ).encode() in p.stderr, (scn, p.stderr)
            assert p.stderr.count(b'\n') == 1, (scn, p.stderr)


def test_upstream_unreachable_and_reset():
    with Fake() as f:
        cfg = openai_config(f)
    # the fake is gone: connection refused
    with Daemon(cfg) as d:
        fr = d.client().chat(1, {'model': 'gpt', 'messages': user('x')})
        assert fr[-1]['type'] == 'error' and fr[-1]['error']['type'] == 'api_connection', fr
    with Fake() as f, Daemon(openai_config(f)) as d:
        f.queue('reset')
        fr = d.client().chat(1, {'model': 'gpt', 'messages': user('x'), 'stream': True})
        assert fr[-1]['type'] == 'error', fr
        e = fr[-1]['error']
        assert e['type'] == 'upstream_unavailable' and e['provider'] == 'openai', e
        assert not [x for x in fr if x['type'] == 'chunk'], fr


def test_unknown_model_and_missing_fields():
    with Daemon() as d:
        c = d.client()
        fr = c.chat(1, {'model': 'no-such-model', 'messages': user('x')})
        assert fr[-1]['error']['type'] == 'not_found' and 'no-such-model' in fr[-1]['error']['message']
        fr = c.chat(2, {'messages': user('x')})
        assert fr[-1]['error']['type'] == 'bad_request' and 'model' in fr[-1]['error']['message']
        fr = c.chat(3, {'model': 'mock/echo'})
        assert fr[-1]['error']['type'] == 'bad_request' and 'messages' in fr[-1]['error']['message']
        fr = c.chat(4, {'model': 'nope/x', 'messages': user('x')})
        assert fr[-1]['error']['type'] == 'not_found' and 'provider' in fr[-1]['error']['message']
        c.request(5, None, op='frobnicate')
        fr = c.until_end(5)
        assert fr[-1]['error']['type'] == 'bad_request' and 'frobnicate' in fr[-1]['error']['message']
        # the connection is still good
        assert text_of(c.chat(6, {'model': 'mock/echo', 'messages': user('still here')})) == 'still here'


def test_malformed_frames_get_typed_errors_and_others_are_served():
    with Daemon() as d:
        bystander = d.client()
        bystander.request(1, {'model': 'mock/echo', 'messages': user('a')})

        def expect_close(c, code):
            m = c.recv()
            assert m is not None and m['type'] == 'error' and m['id'] == 0, m
            assert m['error']['code'] == code, m
            assert c.recv() is None, 'connection should be closed'

        c = Raw(d.sock, hello=False)               # oversized frame header
        c.send_bytes(struct.pack('>I', 64 << 20))
        expect_close(c, -1016)
        c = Raw(d.sock, hello=False)               # not msgpack
        c.send_bytes(struct.pack('>I', 3) + b'\xc1\xc1\xc1')
        expect_close(c, -1014)
        c = Raw(d.sock, hello=False)               # not a map
        c.send_bytes(struct.pack('>I', 1) + b'\x01')
        expect_close(c, -1014)
        c = Raw(d.sock, hello=False)               # no hello
        c.request(1, {'model': 'mock/echo', 'messages': user('x')})
        expect_close(c, -1014)
        c = Raw(d.sock, hello=False)               # wrong version
        c.send({'type': 'hello', 'version': 99})
        m = c.recv()
        assert m['error']['code'] == -1015 and '99' in m['error']['message'], m
        assert c.recv() is None
        c = d.client()                             # an id of the wrong type
        c.send({'type': 'request', 'id': -5, 'op': 'chat'})
        expect_close(c, -1014)
        c = d.client()                             # a frame only llmuxd sends
        c.send({'type': 'chunk', 'id': 3, 'body': {}})
        assert c.recv()['error']['code'] == -1014
        assert text_of(c.chat(9, {'model': 'mock/echo', 'messages': user('ok')})) == 'ok'
        assert text_of(bystander.until_end(1)) == 'a'


# ---- cancel, disconnect, concurrency -------------------------------------------

def test_cancel_aborts_upstream_at_once():
    # 1000 events 300 ms apart: five minutes of stream. The cancel is
    # answered with the stream far from its end (a count, not a clock).
    with Fake() as f, Daemon(openai_config(f, model='openai/drip:1000+slow:300')) as d:
        c = d.client()
        c.request(1, {'model': 'gpt', 'messages': user('x'), 'stream': True})
        first = c.recv(10)
        assert first['type'] == 'chunk', first
        c.send({'type': 'cancel', 'id': 1})
        fr = c.until_end(1, timeout=30)
        assert fr[-1]['type'] == 'error' and fr[-1]['error']['type'] == 'cancelled', fr
        assert 1 + sum(m['type'] == 'chunk' for m in fr) < 1000, len(fr)
        # the daemon closed the upstream connection: the fake sees its
        # writes fail within a couple of its 300 ms events.
        wait_for(lambda: any(r.get('aborted') for r in f.requests()), timeout=5,
                 what='the fake to see the abort')
        assert text_of(c.chat(2, {'model': 'mock/echo', 'messages': user('next')})) == 'next'


def test_client_disconnect_mid_stream():
    with Fake() as f, Daemon(openai_config(f, model='openai/text+slow:200')) as d:
        c = d.client()
        c.request(1, {'model': 'gpt', 'messages': user('x'), 'stream': True})
        assert c.recv(10)['type'] == 'chunk'
        c.close()
        wait_for(lambda: any(r.get('aborted') for r in f.requests()), timeout=5,
                 what='the fake to see the abort')
        assert 'cancelled/disconnect' in d.log()
        assert text_of(d.client().chat(1, {'model': 'mock/echo', 'messages': user('fine')})) == 'fine'


def test_fifty_streams_on_one_connection():
    want = sse_texts('providers/openai/stream_text.sse')[0]
    with Fake() as f, Daemon(openai_config(f, model='openai/text+slow:5')) as d:
        c = d.client()
        for i in range(1, 51):
            c.request(i, {'model': 'gpt', 'messages': user('x'), 'stream': True})
        text, ended = {}, {}
        while len(ended) < 50:
            m = c.recv(30)
            assert m is not None
            if m['type'] == 'chunk':
                text[m['id']] = text.get(m['id'], '') + ''.join(
                    ch['delta'].get('content') or '' for ch in m['body']['choices'])
            elif m['type'] in ('done', 'error'):
                ended[m['id']] = m
        assert all(e['type'] == 'done' for e in ended.values()), [e for e in ended.values() if e['type'] != 'done'][:1]
        assert all(text[i] == want for i in range(1, 51))


def test_duplicate_request_id_is_refused():
    with Fake() as f, Daemon(openai_config(f, model='openai/text+slow:100')) as d:
        c = d.client()
        c.request(7, {'model': 'gpt', 'messages': user('x'), 'stream': True})
        c.request(7, {'model': 'gpt', 'messages': user('x'), 'stream': True})
        seen = []
        while True:
            m = c.recv(10)
            seen.append(m)
            if m['type'] == 'error' and m['id'] == 0:
                assert '7' in m['error']['message']
            if m['id'] == 7 and m['type'] in ('done', 'error'):
                break
        assert seen[-1]['type'] == 'done'
        assert any(m['type'] == 'error' and m['id'] == 0 for m in seen)


# ---- backpressure --------------------------------------------------------------

def rss_kb(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def unread_from(port):
    """Bytes the kernel holds, unread, on connections to 127.0.0.1:port
    (rx_queue in /proc/net/tcp): here, what llmuxd has not read of the
    fake's answer. It only piles up while llmuxd does not read."""
    total = 0
    with open('/proc/net/tcp') as f:
        next(f)
        for line in f:
            x = line.split()
            if int(x[2].split(':')[1], 16) == port:
                total += int(x[4].split(':')[1], 16)
    return total


def test_slow_reader_pauses_upstream():
    # 200 000 events of ~200 bytes: ~40 MB that a client never reads. The
    # daemon must stop reading upstream instead of buffering it all.
    with Fake() as f, Daemon(openai_config(f, model='openai/drip:200000+slow:0.001') +
                             'llmux_settings:\n  log_level: debug\n') as d:
        c = d.client()
        c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        base = rss_kb(d.proc.pid)
        c.request(1, {'model': 'gpt', 'messages': user('x'), 'stream': True})
        # The daemon says it paused the transfer (its output backlog is
        # full), and the kernel shows it: the fake's bytes pile up unread.
        wait_for(lambda: 'paused, client output backlog' in d.log(), timeout=60,
                 what='llmuxd to pause the upstream of a client that does not read')
        # 32 KiB: a paused transfer's socket fills up to its receive
        # window, which the kernel does not grow for a reader that stopped
        # (128 KiB at most by default, less the kernel's own overhead).
        wait_for(lambda: unread_from(f.port) >= 32 * 1024, timeout=60,
                 what='32 KiB of the upstream answer to wait unread')
        assert 'resumed' not in d.log(), d.log()[-2000:]
        grown = rss_kb(d.proc.pid) - base
        # Under ASan freed memory sits in quarantine, so RSS says nothing
        # about buffering there; the pause above is checked in every build.
        if not os.environ.get('LLMUX_BUILD', '').rstrip('/').endswith('build-san'):
            assert grown < 4 * 1024, 'llmuxd grew by %d KiB for a client that does not read' % grown
        # another client is still served while the first one is stuck
        assert text_of(d.client().chat(1, {'model': 'mock/echo', 'messages': user('hi')})) == 'hi'
        # reading resumes the stream: it ends properly
        n = 0
        while True:
            m = c.recv(60)
            n += 1
            if m['type'] in ('done', 'error'):
                break
        assert m['type'] == 'done', m
        assert n > 1000


# ---- secrets, signals, config ----------------------------------------------------

CANARY = 'sk-canary-7f3a9c2e1b5d4f60a8e9'


def test_canary_key_never_leaks():
    with Fake() as f:
        cfg = openai_config(f, key='os.environ/OPENAI_API_KEY')
        with Daemon(cfg, env={'OPENAI_API_KEY': CANARY}) as d:
            frames = []
            c = Raw(d.sock)
            raw = []
            orig = c.recv

            def rec(timeout=30):
                m = orig(timeout)
                raw.append(msgpack.packb(m))
                return m
            c.recv = rec
            for i, scn in enumerate(['text', 'err-401', 'err-400', 'err-429', 'err-500', 'malformed',
                                     'instream-error', 'reset'], 1):
                f.queue(scn)
                frames += c.chat(i, {'model': 'gpt', 'messages': user('x'), 'stream': i % 2 == 0})
            f.queue('err-401')
            p = d.llmux('chat', '-m', 'gpt', 'x')
            p2 = d.llmux('status')
            p3 = d.llmux('metrics')
            # the key did reach the provider...
            assert any(CANARY in json.dumps(r['headers']) for r in f.requests())
            # ...and nothing else
            assert len(raw) >= 8, raw
            for b in raw:
                assert CANARY.encode() not in b
            for out in (p.stdout, p.stderr, p2.stdout, p2.stderr, p3.stdout, p3.stderr):
                assert CANARY.encode() not in out
            assert CANARY not in d.log()
            assert CANARY[:12] not in json.dumps(frames)


def test_sigterm_drains_in_flight_streams():
    want = sse_texts('providers/openai/stream_text.sse')[0]
    with Fake() as f:
        d = Daemon(openai_config(f, model='openai/text+slow:50'))
        try:
            c = d.client()
            c.request(1, {'model': 'gpt', 'messages': user('x'), 'stream': True})
            assert c.recv(10)['type'] == 'chunk'
            d.signal(signal.SIGTERM)

            # no new connections once stopping, while the stream still runs
            def refused():
                assert d.proc.poll() is None, 'llmuxd exited before refusing connections'
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect(d.sock)
                    return False
                except OSError:
                    return True
                finally:
                    s.close()
            wait_for(refused, timeout=10, what='llmuxd to refuse new connections')
            fr = c.until_end(1, timeout=30)
            assert fr[-1]['type'] == 'done', fr[-1]
            assert want.endswith(text_of(fr))
            assert d.proc.wait(10) == 0
        finally:
            d.stop()


def test_sigterm_grace_period_cancels_stragglers():
    with Fake() as f:
        cfg = openai_config(f, model='openai/hang') + 'llmux_settings:\n  grace_period: 0.5\n'
        d = Daemon(cfg)
        try:
            c = d.client()
            c.request(1, {'model': 'gpt', 'messages': user('x'), 'stream': True})
            wait_for(lambda: f.requests(), what='the request to reach the fake')
            d.signal(signal.SIGTERM)
            fr = c.until_end(1, timeout=10)
            assert fr[-1]['type'] == 'error' and fr[-1]['error']['type'] == 'upstream_unavailable'
            assert 'shutting down' in fr[-1]['error']['message']
            assert d.proc.wait(10) == 0
        finally:
            d.stop()


def test_config_errors_name_file_and_line():
    cases = [
        ('model_list:\n  - model_name: a\n    litellm_params:\n      model: mock/x\n      timeout: soon\n',
         ':5: timeout must be a number'),
        ('model_list:\n  - model_name: a\n', ':2: model_list entry "a" has no litellm_params'),
        ('model_list:\n  - model_name: a\n    litellm_params:\n      model: mock/x\n      weight: -1\n',
         ':5: weight must be a number >= 0'),
        ('model_list: [\n', ':'),
        ('llmux_settings:\n  log_level: loud\n', ':2: log_level must be'),
    ]
    for text, want in cases:
        d = Daemon(text, start=False)
        p = subprocess.run([LLMUXD, '-c', d.config_path, '--check'], capture_output=True, timeout=10)
        assert p.returncode == 1, (text, p)
        assert (d.config_path + want).encode() in p.stderr, (want, p.stderr)
    # unknown keys are reported, not fatal
    d = Daemon('model_list:\n  - model_name: a\n    litellm_params: {model: mock/x, colour: red}\nfoo: 1\n',
               start=False)
    p = subprocess.run([LLMUXD, '-c', d.config_path, '--check'], capture_output=True, timeout=10)
    assert p.returncode == 0, p
    assert b':3: unknown key "colour" in litellm_params' in p.stderr, p.stderr
    assert b':4: unknown top-level key "foo"' in p.stderr, p.stderr


def test_starts_without_keys_and_says_which_is_missing():
    cfg = 'model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: os.environ/OPENAI_API_KEY\n'
    with Daemon(cfg) as d:
        fr = d.client().chat(1, {'model': 'g', 'messages': user('x')})
        assert fr[-1]['error']['type'] == 'authentication', fr
        assert 'OPENAI_API_KEY' in fr[-1]['error']['message']
        assert text_of(d.client().chat(2, {'model': 'mock/echo', 'messages': user('y')})) == 'y'
