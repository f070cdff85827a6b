"""test_vertex.py -- Vertex AI end to end: the real llmuxd against the fake
provider's OAuth2 token endpoint (which verifies each RS256 JWT assertion
with the test's public key) and its Gemini and Anthropic publisher models.
The service-account key is made fresh by openssl for each test; it and the
access tokens must never show in a frame, an error or the daemon's log."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

from harness import LLMUXD, Daemon, Fake, embed_answer, f32, fake_vector, text_of, user, wait_for

SA_EMAIL = 'llmux-test@proj-key.iam.gserviceaccount.com'


class Account:
    """A service account: an RSA key made by openssl and its JSON file."""

    def __init__(self, fake, name='sa.json'):
        self.dir = tempfile.mkdtemp(prefix='llmux-vertex-')
        key = os.path.join(self.dir, 'key.pem')
        subprocess.run(['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt',
                        'rsa_keygen_bits:2048', '-out', key], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pem = open(key).read()
        self.public = subprocess.run(['openssl', 'pkey', '-in', key, '-pubout'], check=True,
                                     capture_output=True, text=True).stdout
        self.path = os.path.join(self.dir, name)
        with open(self.path, 'w') as f:
            json.dump({'type': 'service_account', 'project_id': 'proj-key',
                       'private_key_id': 'k1', 'private_key': self.pem,
                       'client_email': SA_EMAIL, 'client_id': '1',
                       'token_uri': fake.url + '/vertex/token'}, f)
        os.unlink(key)

    def key_pieces(self):
        """Lines of the private key's base64: none may leak anywhere."""
        return [ln for ln in self.pem.splitlines() if ln and not ln.startswith('-----')]

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def vertex(fake, **cfg):
    req = urllib.request.Request(fake.url + '/_vertex', data=json.dumps(cfg).encode(),
                                 method='POST' if cfg else 'GET')
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def exchanges(fake):
    return vertex(fake)['exchanges']


def deployment(name, model, fake, extra):
    return ('  - model_name: %s\n    litellm_params:\n      model: vertex_ai/%s\n'
            '      api_base: %s\n%s' % (name, model, fake.url,
                                       ''.join('      %s\n' % x for x in extra)))


def assert_no_secrets(acct, fake, texts):
    tokens = [t for t in vertex(fake)['tokens']]
    for text in texts:
        for piece in acct.key_pieces():
            assert piece not in text, 'a piece of the private key leaked'
        for tok in tokens:
            assert tok not in text and tok[-32:] not in text, 'an access token leaked'


def test_vertex_gemini_and_claude_plain_and_streams():
    with Fake() as f:
        acct = Account(f)
        vertex(f, public_key=acct.public, ttl=3600)
        cfg = 'model_list:\n' + \
            deployment('gem', 'gemini-2.5-flash+echo', f,
                       ['vertex_project: proj-1', 'vertex_location: global',
                        'vertex_credentials: %s' % acct.path]) + \
            deployment('claude', 'claude-sonnet-4-5@20250929+echo', f,
                       ['vertex_location: us-east5']) + \
            deployment('gem2', 'gemini-2.0-flash+echo', f,
                       ['vertex_project: os.environ/TEST_VERTEX_PROJECT',
                        'vertex_location: europe-west4',
                        'vertex_credentials: os.environ/TEST_SA_PATH']) + \
            deployment('gem3', 'gemini-2.5-flash-lite+echo', f,
                       ['vertex_project: proj-3', 'vertex_credentials: credential/vertex-sa']) + \
            deployment('"vx/*"', '*', f, ['vertex_project: proj-4',
                                            'vertex_credentials: %s' % acct.path])
        # A systemd credential holds the JSON itself.
        creds = os.path.join(acct.dir, 'creds')
        os.mkdir(creds)
        shutil.copy(acct.path, os.path.join(creds, 'vertex-sa'))
        env = {'GOOGLE_APPLICATION_CREDENTIALS': acct.path, 'TEST_SA_PATH': acct.path,
               'TEST_VERTEX_PROJECT': 'proj-2', 'CREDENTIALS_DIRECTORY': creds}
        with Daemon(cfg, env=env) as d:
            c = d.client()
            # Five requests before any token: they share one exchange.
            for i, m in enumerate(('gem', 'claude', 'gem2', 'gem', 'gem3'), 1):
                c.request(i, {'model': m, 'messages': user('hello vertex %d' % i)})
            frames = {i: [] for i in range(1, 6)}
            while not all(fr and fr[-1]['type'] in ('done', 'error') for fr in frames.values()):
                m = c.recv(30)
                assert m is not None, 'llmuxd closed the connection'
                frames[m['id']].append(m)
            for i, fr in frames.items():
                assert fr[-1]['type'] == 'done', (i, fr[-1])
                assert text_of(fr).strip() == 'hello vertex %d' % i, (i, text_of(fr))
            assert len(exchanges(f)) == 1, exchanges(f)
            ex = exchanges(f)[0]
            assert ex['ok'] and ex['ctype'] == 'application/x-www-form-urlencoded', ex
            for i, m in enumerate(('gem', 'claude', 'gem2'), 10):
                fr = c.chat(i, {'model': m, 'messages': user('stream me %d' % i), 'stream': True})
                assert fr[-1]['type'] == 'done', (m, fr[-1])
                assert sum(1 for x in fr if x['type'] == 'chunk') >= 2, (m, fr)
                assert text_of(fr).strip() == 'stream me %d' % i, (m, text_of(fr))
            # A wildcard template: the deployments made from it share its
            # settings, key and token.
            fr = c.chat(20, {'model': 'vx/claude-haiku-4-5+echo', 'messages': user('wild')})
            assert fr[-1]['type'] == 'done' and text_of(fr).strip() == 'wild', fr[-1]
            frames_text = json.dumps(frames)
        paths = [r['path'] for r in f.requests()]
        g = '/v1/projects/proj-1/locations/global/publishers/google/models/gemini-2.5-flash%2Becho'
        a = ('/v1/projects/proj-key/locations/us-east5/publishers/anthropic/models/'
             'claude-sonnet-4-5@20250929%2Becho')
        g2 = '/v1/projects/proj-2/locations/europe-west4/publishers/google/models/gemini-2.0-flash%2Becho'
        g3 = ('/v1/projects/proj-3/locations/us-central1/publishers/google/models/'
              'gemini-2.5-flash-lite%2Becho')
        wild = ('/v1/projects/proj-4/locations/us-central1/publishers/anthropic/models/'
                'claude-haiku-4-5%2Becho:rawPredict')
        assert sorted(set(paths)) == sorted({g + ':generateContent', a + ':rawPredict',
                                             g2 + ':generateContent', g3 + ':generateContent',
                                             g + ':streamGenerateContent?alt=sse',
                                             a + ':streamRawPredict', wild,
                                             g2 + ':streamGenerateContent?alt=sse'}), paths
        tok = ex['token']
        assert all(r['headers'].get('Authorization') == 'Bearer ' + tok for r in f.requests())
        assert f.violations() == [], f.violations()
        assert_no_secrets(acct, f, [d.log(), frames_text])
        acct.remove()


def test_vertex_key_in_a_variable_leaves_the_process_environment():
    """vertex_credentials: os.environ/NAME holding the JSON itself: the
    key works, and /proc/PID/environ no longer shows it."""
    with Fake() as f:
        acct = Account(f)
        vertex(f, public_key=acct.public, ttl=3600)
        cfg = 'model_list:\n' + deployment('gem', 'gemini-2.5-flash+echo', f, [
            'vertex_project: proj-1', 'vertex_credentials: os.environ/TEST_SA_JSON'])
        with Daemon(cfg, env={'TEST_SA_JSON': open(acct.path).read()}) as d:
            fr = d.client().chat(1, {'model': 'gem', 'messages': user('from the env')})
            assert fr[-1]['type'] == 'done' and text_of(fr).strip() == 'from the env', fr[-1]
            with open('/proc/%d/environ' % d.proc.pid, 'rb') as e:
                environ = e.read().decode('utf-8', 'replace')
            assert 'TEST_SA_JSON=' in environ
            log = d.log()
        # Under valgrind /proc/PID/environ is valgrind's own copy of the
        # starting environment, which the program (working on the copy
        # valgrind gave it) cannot reach: only the log is checked there.
        under_valgrind = bool(os.environ.get('LLMUX_VALGRIND'))
        assert_no_secrets(acct, f, [log] if under_valgrind else [environ, log])
        acct.remove()


def test_vertex_token_refreshed_ahead_of_expiry():
    """Tokens of 3 s: the refresh starts before the first expires (the
    token was in use), so a request after that expiry goes out at once
    with the new token, which came before it was sent."""
    with Fake() as f:
        acct = Account(f)
        vertex(f, public_key=acct.public, ttl=3)
        cfg = 'model_list:\n' + deployment('gem', 'gemini-2.5-flash+echo', f, [
            'vertex_project: proj-1', 'vertex_credentials: %s' % acct.path])
        with Daemon(cfg) as d:
            c = d.client()
            fr = c.chat(1, {'model': 'gem', 'messages': user('first')})
            assert fr[-1]['type'] == 'done', fr[-1]
            first = exchanges(f)
            assert len(first) == 1 and first[0]['ok'], first
            tok_a = first[0]['token']
            wait_for(lambda: len(exchanges(f)) >= 2, timeout=10, what='the refresh ahead of expiry')
            second = exchanges(f)[1]
            assert second['ok'], second
            exp_a = vertex(f)['tokens'][tok_a]['exp']
            assert second['time'] < exp_a, 'the refresh came only after the token expired'
            wait_for(lambda: time.time() > exp_a, timeout=10, what='the first token to expire')
            sent = time.time()
            fr = c.chat(2, {'model': 'gem', 'messages': user('second')})
            assert fr[-1]['type'] == 'done', fr[-1]
            reqs = [r for r in f.requests() if r['path'].endswith(':generateContent')]
            assert reqs[0]['bearer'] == tok_a
            assert reqs[1]['bearer'] == second['token'], (reqs[1]['bearer'], second)
            assert second['time'] < sent, 'the second request waited for an exchange'
            assert all(e['ok'] for e in exchanges(f)), exchanges(f)
            log = d.log()
        assert f.violations() == [], f.violations()
        assert_no_secrets(acct, f, [log])
        acct.remove()


def test_vertex_bad_credentials_are_typed_errors():
    with Fake() as f:
        acct = Account(f)
        other = Account(f, 'other.json')
        # The fake knows only acct's public key: other's signature fails.
        vertex(f, public_key=acct.public, ttl=3600)
        notjson = os.path.join(acct.dir, 'notjson.json')
        with open(notjson, 'w') as fp:
            fp.write(acct.pem)   # a PEM where the JSON should be
        missing = os.path.join(acct.dir, 'missing.json')
        cfg = 'model_list:\n' + \
            deployment('missing', 'gemini-2.5-flash', f,
                       ['vertex_project: p', 'vertex_credentials: %s' % missing]) + \
            deployment('notjson', 'gemini-2.5-flash', f,
                       ['vertex_project: p', 'vertex_credentials: %s' % notjson]) + \
            deployment('wrongkey', 'claude-haiku-4-5', f,
                       ['vertex_project: p', 'vertex_credentials: %s' % other.path]) + \
            deployment('none', 'gemini-2.5-flash', f, ['vertex_project: p']) + \
            deployment('unset', 'gemini-2.5-flash', f,
                       ['vertex_project: p', 'vertex_credentials: os.environ/LLMUX_TEST_UNSET_SA'])
        d = Daemon(cfg, start=False)
        env = {k: v for k, v in d.env.items() if k not in ('LLMUX_TEST_UNSET_SA',
                                                            'GOOGLE_APPLICATION_CREDENTIALS')}
        p = subprocess.run([LLMUXD, '--check', '-c', d.config_path], capture_output=True,
                           text=True, timeout=30, env=env)
        assert p.returncode == 0, p.stderr
        # Each at the model line of its entry; the key that does not sign
        # for this account is found out only by the token endpoint.
        lines = sorted(p.stderr.splitlines(), key=lambda ln: int(ln.split(':')[1]))
        assert len(lines) == 5, p.stderr
        assert 'llmux.yaml:4: ' in lines[0] and missing in lines[0], p.stderr
        assert 'llmux.yaml:10: ' in lines[1] and 'is not JSON' in lines[1], p.stderr
        assert 'llmux.yaml:22: ' in lines[2] and 'has no credentials' in lines[2], p.stderr
        assert 'GOOGLE_APPLICATION_CREDENTIALS' in lines[2], p.stderr
        assert 'llmux.yaml:27: ' in lines[3] and 'not set' in lines[3], p.stderr
        assert 'llmux.yaml:30: ' in lines[4] and 'LLMUX_TEST_UNSET_SA' in lines[4], p.stderr
        # A vertex_credentials whose variable is missing never falls back
        # to another key, even when $GOOGLE_APPLICATION_CREDENTIALS has one
        # (that would fill "none" too; it is tested without it above).
        d.env = env
        with d:
            d.start()
            c = d.client()
            errs = {}
            for i, m in enumerate(('missing', 'notjson', 'wrongkey', 'none', 'unset'), 1):
                fr = c.chat(i, {'model': m, 'messages': user('x')})
                assert fr[-1]['type'] == 'error', (m, fr[-1])
                errs[m] = fr[-1]['error']
                assert errs[m]['type'] == 'authentication', (m, errs[m])
            assert missing in errs['missing']['message'], errs
            assert 'is not JSON' in errs['notjson']['message'], errs
            assert 'Invalid JWT Signature' in errs['wrongkey']['message'], errs
            assert SA_EMAIL in errs['wrongkey']['message'], errs
            assert 'has no credentials' in errs['none']['message'], errs
            assert 'not set' in errs['unset']['message'], errs
            log = d.log()
        d2 = Daemon(cfg, env={'GOOGLE_APPLICATION_CREDENTIALS': acct.path})
        with d2:
            fr = d2.client().chat(1, {'model': 'unset', 'messages': user('x')})
            assert fr[-1]['type'] == 'error' and 'not set' in fr[-1]['error']['message'], fr[-1]
            log += d2.log()
        # Nothing reached a model: each failed before its request was sent.
        assert [r for r in f.requests() if '/publishers/' in r['path']] == []
        texts = [log, p.stderr, p.stdout, json.dumps(errs)]
        assert_no_secrets(acct, f, texts)
        assert_no_secrets(other, f, texts)
        acct.remove()
        other.remove()


def one_deployment(acct, f, model='gemini-2.5-flash+echo'):
    return 'model_list:\n' + deployment('gem', model, f, [
        'vertex_project: proj-1', 'vertex_credentials: %s' % acct.path])


def test_vertex_token_wait_ends_at_the_request_deadline():
    """A request waiting for a token fails at its own deadline with a
    timeout; the exchange goes on and serves the next request."""
    with Fake() as f:
        acct = Account(f)
        vertex(f, public_key=acct.public, ttl=3600, fault='hang')
        with Daemon(one_deployment(acct, f)) as d:
            c = d.client()
            # The daemon's deadline (1 s) is well inside the exchange's own
            # (30 s): the error can only be the request's.
            e = c.chat(1, {'model': 'gem', 'messages': user('x'), 'timeout': 1}, timeout=25)[-1]
            assert e['type'] == 'error', e
            assert e['error']['type'] == 'timeout', e
            assert "within the request's timeout" in e['error']['message'], e
            # The exchange was not abandoned with it: once the endpoint
            # answers, its token serves the next request, without another.
            c.request(2, {'model': 'gem', 'messages': user('after the wait')})
            vertex(f, fault=None)
            fr = c.until_end(2)
            assert fr[-1]['type'] == 'done' and text_of(fr).strip() == 'after the wait', fr[-1]
            ex = exchanges(f)
            assert len(ex) == 1 and ex[0]['ok'] and ex[0].get('hung'), ex
            assert [r['bearer'] for r in f.requests() if '/publishers/' in r['path']] == \
                [ex[0]['token']]
            log = d.log()
        assert_no_secrets(acct, f, [log, json.dumps(e)])
        acct.remove()


def test_vertex_failed_exchange_backs_off_with_the_typed_error():
    """A token endpoint that fails: the waiting request gets the typed
    error of the failure; the requests during the backoff get it at once,
    without another exchange; once it works again, tokens come."""
    with Fake() as f:
        acct = Account(f)
        vertex(f, public_key=acct.public, ttl=3600, fault='status:503')
        with Daemon(one_deployment(acct, f)) as d:
            c = d.client()
            e = c.chat(1, {'model': 'gem', 'messages': user('x')})[-1]
            assert e['type'] == 'error', e
            assert e['error']['type'] == 'upstream_unavailable', e
            assert 'HTTP 503' in e['error']['message'] and SA_EMAIL in e['error']['message'], e
            assert len(exchanges(f)) == 1
            backed_off = 0
            for i in range(2, 8):
                before = len(exchanges(f))
                e = c.chat(i, {'model': 'gem', 'messages': user('x')})[-1]
                assert e['type'] == 'error', e
                assert e['error']['type'] == 'upstream_unavailable', e
                assert 'HTTP 503' in e['error']['message'], e
                if 'the next is tried in' in e['error']['message']:
                    # The daemon says it is backing off: then it did not ask.
                    backed_off += 1
                    assert len(exchanges(f)) == before, (e, exchanges(f))
            assert backed_off > 0, 'no request was answered from the backoff'
            # 429: rate_limit, the same way.
            vertex(f, fault='status:429')
            e = wait_for(lambda: (lambda x: x if 'HTTP 429' in json.dumps(x) else None)(
                c.chat(20, {'model': 'gem', 'messages': user('x')})[-1]),
                timeout=150, step=0.1, what='an exchange answered 429')
            assert e['error']['type'] == 'rate_limit', e
            vertex(f, fault=None)
            fr = wait_for(lambda: (lambda x: x if x[-1]['type'] == 'done' else None)(
                c.chat(30, {'model': 'gem', 'messages': user('back')})),
                timeout=150, step=0.1, what='a token once the endpoint works again')
            assert text_of(fr).strip() == 'back', fr
            assert exchanges(f)[-1]['ok'], exchanges(f)
            # A failure streak, then the backoff starts over.
            log = d.log()
            assert 'failed 1 time in a row' in log and 'failed 2 times in a row' in log, log
        assert_no_secrets(acct, f, [log])
        acct.remove()


def test_vertex_access_token_echoed_by_the_upstream_is_masked():
    with Fake() as f:
        acct = Account(f)
        vertex(f, public_key=acct.public, ttl=3600)
        with Daemon(one_deployment(acct, f, 'gemini-2.5-flash+echo-key:20')) as d:
            e = d.client().chat(1, {'model': 'gem', 'messages': user('x')})[-1]
            assert e['type'] == 'error' and e['error']['type'] == 'authentication', e
            assert 'AAAAAAAAAAAAAAAAAAAA' in e['error']['message'], e
            tok = exchanges(f)[0]['token']
            sent = [r['bearer'] for r in f.requests() if '/publishers/' in r['path']]
            assert sent == [tok], sent     # it was sent, and so echoed back
            log = d.log()
        assert_no_secrets(acct, f, [log, json.dumps(e)])


def test_vertex_embeddings_predict():
    with Fake() as f:
        acct = Account(f)
        vertex(f, public_key=acct.public, ttl=3600)
        where = ['vertex_project: proj-1', 'vertex_location: europe-west4',
                 'vertex_credentials: %s' % acct.path]
        cfg = 'model_list:\n' + deployment('te', 'text-embedding-005', f, where) + \
            deployment('ml', 'text-multilingual-embedding-002', f, where) + \
            deployment('ge', 'gemini-embedding-001', f, where)
        base = '/v1/projects/proj-1/locations/europe-west4/publishers/google/models/'
        with Daemon(cfg) as d:
            c = d.client()
            inputs = ['what is a cat', 'a small animal', 'dogs']
            out, done = embed_answer(c, 1, {'model': 'te', 'input': inputs, 'dimensions': 16,
                                          'input_type': 'search_query'})
            (up,) = f.requests()[-1:]
            assert up['path'] == base + 'text-embedding-005:predict', up['path']
            assert json.loads(up['body']) == {
                'instances': [{'content': t, 'task_type': 'RETRIEVAL_QUERY'} for t in inputs],
                'parameters': {'outputDimensionality': 16}}
            assert [e['index'] for e in out['data']] == [0, 1, 2]
            assert [e['embedding'] for e in out['data']] == [[f32(x) for x in fake_vector(t, 16)]
                                                             for t in inputs]
            assert done['usage'] == {'prompt_tokens': 4 + 3 + 1, 'total_tokens': 8}
            assert out['model'] == 'text-embedding-005'
            # no dimensions, no task: nothing but the instances
            embed_answer(c, 2, {'model': 'ml', 'input': 'bonjour'})
            up = f.requests()[-1]
            assert up['path'] == base + 'text-multilingual-embedding-002:predict'
            assert json.loads(up['body']) == {'instances': [{'content': 'bonjour'}]}
            # gemini-embedding-001 takes one instance a request: one call each, in order
            n = len(f.requests())
            out, done = embed_answer(c, 3, {'model': 'ge', 'input': inputs, 'dimensions': 8,
                                          'task_type': 'SEMANTIC_SIMILARITY',
                                          'encoding_format': 'base64'})
            ups = f.requests()[n:]
            assert [r['path'] for r in ups] == [base + 'gemini-embedding-001:predict'] * 3
            assert [json.loads(r['body']) for r in ups] == [
                {'instances': [{'content': t, 'task_type': 'SEMANTIC_SIMILARITY'}],
                 'parameters': {'outputDimensionality': 8}} for t in inputs]
            import base64
            import struct
            for i, t in enumerate(inputs):
                raw = base64.b64decode(out['data'][i]['embedding'])
                assert list(struct.unpack('<8f', raw)) == [f32(x) for x in fake_vector(t, 8)]
            assert done['usage']['prompt_tokens'] == 8
            log = d.log()
        tok = exchanges(f)[0]['token']
        assert len(exchanges(f)) == 1
        assert all(r['headers'].get('Authorization') == 'Bearer ' + tok for r in f.requests()
                   if ':predict' in r['path'])
        assert f.violations() == [], f.violations()
        assert_no_secrets(acct, f, [log, json.dumps(out)])
        acct.remove()


def test_vertex_embeddings_batches_of_250():
    with Fake() as f:
        acct = Account(f)
        vertex(f, public_key=acct.public, ttl=3600)
        cfg = 'model_list:\n' + deployment('te', 'text-embedding-004', f, [
            'vertex_project: proj-1', 'vertex_credentials: %s' % acct.path])
        with Daemon(cfg) as d:
            inputs = ['text %d' % i for i in range(600)]
            out, done = embed_answer(d.client(), 1, {'model': 'te', 'input': inputs, 'dimensions': 2})
        ups = [json.loads(r['body']) for r in f.requests() if r['path'].endswith(':predict')]
        assert [len(u['instances']) for u in ups] == [250, 250, 100]
        assert [i['content'] for u in ups for i in u['instances']] == inputs
        assert [e['embedding'] for e in out['data']] == [[f32(x) for x in fake_vector(t, 2)]
                                                         for t in inputs]
        assert done['usage']['prompt_tokens'] == 1200
        assert f.violations() == [], f.violations()
        acct.remove()
