"""test_pipeline.py -- the request pipeline end to end (issue 10): sessions,
stages, request options, the upstream stage, and the breaks found under
attack that live there (7 and parts of 9): body-less answers keep their
status, connection errors name the URL and the group, a retry never comes
before Retry-After, timeout 1e300, every request gets exactly one terminal
frame, NUL in keys, status details for admins only."""

import json
import os
import socket
import struct
import subprocess

import msgpack

from harness import LLMUX, Daemon, Fake, user, wait_for

NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']


def dep(fake, name, model='openai/text', id='only', key='sk-test-key'):
    return '''  - model_name: %s
    litellm_params:
      model: %s
      api_base: %s/v1
      api_key: %s
    model_info:
      id: %s
''' % (name, model, fake.url, key, id)


def last(frames, kind):
    assert frames[-1]['type'] == kind, frames[-1]
    return frames[-1]


def error(frames):
    return last(frames, 'error')['error']


# ---- break 7: answers without a body keep their status --------------------------

def test_bodyless_answers_keep_their_status():
    with Fake() as f:
        cfg = 'model_list:\n' + dep(f, 'gpt') + 'router_settings:\n  num_retries: 2\n'
        with Daemon(cfg) as d:
            c = d.client()
            # 401: authentication, and not retried like a 5xx
            f.queue('bare:401', 'text', 'text')
            e = error(c.chat(1, {'model': 'gpt', 'messages': user('x')}))
            assert e['type'] == 'authentication' and e['status'] == 401, e
            assert 'HTTP 0' not in e['message'], e
            assert [r['status'] for r in f.requests()] == [401], f.requests()
            # 404: not_found
            f.reset()
            f.queue('bare:404')
            e = error(c.chat(2, {'model': 'gpt', 'messages': user('x'), 'num_retries': 0}))
            assert e['type'] == 'not_found', e
            # 429 with Retry-After: 7 and no body: a rate limit that says when
            f.reset()
            f.queue('bare:429:7')
            e = error(c.chat(3, {'model': 'gpt', 'messages': user('x'), 'num_retries': 0}))
            assert e['type'] == 'rate_limit' and e['retry_after'] == 7, e
            # 503: upstream_unavailable, retried (and the retry answers)
            f.reset()
            f.queue('bare:503', 'bare:503')
            e = error(c.chat(4, {'model': 'gpt', 'messages': user('x'), 'num_retries': 1}))
            assert e['type'] == 'upstream_unavailable' and 'HTTP 503' in e['message'], e
            assert [r['status'] for r in f.requests()] == [503, 503], f.requests()


# ---- issue 9: connection errors name the URL and the group ------------------------

def closed_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connection_error_names_url_group_and_deployment():
    url = 'http://127.0.0.1:%d/v1' % closed_port()
    cfg = ('model_list:\n  - model_name: gpt4o\n    litellm_params:\n'
           '      model: openai/gpt-4o\n      api_base: %s\n      api_key: sk-x\n'
           '    model_info:\n      id: east-1\n' % url)
    with Daemon(cfg) as d:
        e = error(d.client().chat(1, {'model': 'gpt4o', 'messages': user('x')}))
        assert e['type'] == 'api_connection', e
        assert 'cannot reach openai at %s (group gpt4o, deployment east-1)' % url \
            in e['message'], e


# ---- issue 9: a retry never starts before the provider's Retry-After -----------

def test_retry_never_before_retry_after():
    with Fake() as f:
        cfg = 'model_list:\n' + dep(f, 'gpt') + 'router_settings:\n  num_retries: 1\n'
        with Daemon(cfg) as d:
            c = d.client()
            for i, secs in enumerate((0.25, 0.12, 0.05)):
                f.reset()
                f.queue('err-429:%g' % secs, 'text')
                x = last(c.chat(i + 1, {'model': 'gpt', 'messages': user('x')}), 'done')
                a, b = f.requests()
                # retry-after-ms was sent: lower bounds that always hold,
                # seen by the provider and by llmuxd's own clock (libuv's
                # cached loop time once let the wait end early)
                assert b['time'] - a['time'] >= secs, (secs, a['time'], b['time'])
                assert x['timing']['wait_us'] >= round(secs * 1e6), (secs, x['timing'])


# ---- request options --------------------------------------------------------------

def test_huge_timeout_is_the_configs_not_an_immediate_timeout():
    with Daemon('') as d:
        c = d.client()
        for i, t in enumerate((1e300, 1e10, 1.7976931348623157e308)):
            fr = c.chat(i + 1, {'model': 'mock/echo', 'messages': user('hi'), 'timeout': t})
            assert last(fr, 'done')['attempts'] == 1, fr


def test_control_keys_never_reach_the_upstream():
    with Fake() as f:
        with Daemon('model_list:\n' + dep(f, 'gpt')) as d:
            body = {'model': 'gpt', 'messages': user('x'), 'num_retries': 0, 'timeout': 30,
                    'fallbacks': ['gpt'], 'context_window_fallbacks': [], 'mock_response': 'no',
                    'disable_fallbacks': True, 'drop_params': True, 'api_base': 'http://x',
                    'api_key': 'sk-caller', 'caching': False, 'cache': {}, 'temperature': 0.5}
            last(d.client().chat(1, body), 'done')
            sent = json.loads(f.requests()[-1]['body'])
            for k in body:
                if k not in ('model', 'messages', 'temperature'):
                    assert k not in sent, (k, sent)
            assert sent['temperature'] == 0.5
            assert 'sk-caller' not in f.requests()[-1]['body']


def test_mock_response_from_the_request_still_answers():
    with Daemon('') as d:
        fr = d.client().chat(1, {'model': 'mock/x', 'messages': user('hi'),
                                 'mock_response': 'from the request'})
        assert fr[0]['body']['choices'][0]['message']['content'] == 'from the request', fr


# ---- break 9: exactly one terminal frame, always -----------------------------------

def test_done_too_large_for_a_frame_ends_with_an_error():
    # the implicit deployment's model and id both carry the 9 MiB name: the
    # done frame would be 18 MiB
    name = 'mock/' + 'a' * (9 << 20)
    with Daemon('') as d:
        c = d.client()
        for i, stream in ((1, False), (2, True)):
            c.request(i, {'model': name, 'messages': user('hi'), 'stream': stream})
            frames = c.until_end(i, timeout=60)
            assert frames[-1]['type'] == 'error', [f['type'] for f in frames]
            assert [f['type'] for f in frames if f['type'] in ('done', 'error')] == ['error']
        # the connection still serves
        last(c.chat(3, {'model': 'mock/echo', 'messages': user('hi')}), 'done')


def test_nul_in_a_key_is_a_bad_request():
    with Fake() as f:
        with Daemon('model_list:\n' + dep(f, 'gpt')) as d:
            c = d.client()
            e = error(c.chat(1, {'model': 'gpt', 'messages': user('x'), 'stream\u0000': True}))
            assert e['type'] == 'bad_request' and 'NUL' in e['message'], e
            assert f.requests() == []
            # bad UTF-8 is still called what it is
            m = msgpack.packb({'type': 'request', 'id': 2, 'op': 'chat', 'body': {
                'model': 'gpt', 'messages': [{'role': 'user', 'content': 'QQQQ'}]}})
            m = m.replace(b'QQQQ', b'\xff\xfe\xfd\xfc')
            c.send_bytes(struct.pack('>I', len(m)) + m)
            e = error(c.until_end(2))
            assert e['type'] == 'bad_request' and 'UTF-8' in e['message'], e
            assert f.requests() == []


# ---- break 9: status details for admins only, no fingerprint ever ------------------

def test_status_details_for_admins_only_and_no_fingerprint():
    cfg = ('model_list:\n  - model_name: g\n    litellm_params:\n'
           '      model: openai/x\n      api_key: sk-guessable-key\n')
    d = Daemon(cfg)
    try:
        os.chmod(d.dir, 0o755)
        os.chmod(d.sock, 0o666)
        c = d.client()
        last(c.chat(1, {'model': 'mock/secret-project-name', 'messages': user('x')}), 'done')
        root = json.loads(d.llmux('status').stdout)
        assert root['details'] is True and root['deployments'], root
        assert any(x['id'] == 'mock/secret-project-name' for x in root['deployments'])
        assert all('key_fingerprint' not in x for x in root['deployments']), root
        if os.getuid() != 0:
            return      # switching to another uid needs root
        p = subprocess.run(NOBODY + [LLMUX, '-S', d.sock, 'status'], capture_output=True,
                           timeout=30)
        assert p.returncode == 0, p
        other = json.loads(p.stdout)
        assert other['details'] is False, other
        assert 'deployments' not in other and 'groups' not in other, other
        assert b'secret-project' not in p.stdout and b'fingerprint' not in p.stdout, p.stdout
    finally:
        d.stop()


# ---- the log line and metrics name the front end -----------------------------------

def test_log_and_metrics_name_the_front_end():
    with Daemon('llmux_settings:\n  log_level: info\n') as d:
        last(d.client().chat(1, {'model': 'mock/echo', 'messages': user('hi')}), 'done')
        # the ledger writes after the terminal frame went out
        wait_for(lambda: 'LLMUX_FRONTEND=socket' in d.log(), what='the log line')
        m = d.llmux('metrics').stdout.decode()
        assert 'llmux_frontend_requests_total{frontend="socket"} 1' in m, m
