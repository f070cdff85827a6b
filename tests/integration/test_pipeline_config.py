"""test_pipeline_config.py -- the frozen config and model-name resolution
through the real llmuxd (issue 10, breaks 1-4; issue 9, --check's words):
the router's bounded cache of derived deployments, the model-name limit,
metrics labels from configured names only, and a provider key that goes
only to the provider it was configured with."""

import os
import subprocess

from harness import LLMUXD, Daemon, Fake, user

MOCK_ONLY = 'model_list: []\n'


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError('no VmRSS for pid %d' % pid)


def chat_all(c, names, first_id=1):
    """Pipelines one request per name, then collects every terminal frame:
    {id: frame}."""
    for i, name in enumerate(names, first_id):
        c.request(i, {'model': name, 'messages': user('hi')})
    ends = {}
    while len(ends) < len(names):
        m = c.recv(60)
        assert m is not None, 'llmuxd closed the connection'
        if m['type'] in ('done', 'error'):
            ends[m['id']] = m
    return ends


def test_many_distinct_names_never_exhaust_resolution():
    # Break 2: with model_list: [], 1 029 names used to fill a table in the
    # config, and every later new name failed for everyone until a reload.
    with Daemon(MOCK_ONLY) as d:
        c = d.client()
        for start in range(1, 1101, 100):
            names = ['mock/a%d' % i for i in range(start, start + 100)]
            ends = chat_all(c, names, start)
            bad = [m for m in ends.values() if m['type'] != 'done']
            assert not bad, bad[:3]
        # Another caller, a name nobody used yet.
        c2 = d.client()
        fr = c2.chat(1, {'model': 'mock/echo', 'messages': user('still here')})
        assert fr[-1]['type'] == 'done', fr[-1]
        assert fr[0]['body']['choices'][0]['message']['content'] == 'still here'
        # Metrics (break 4): answers, bounded, and no caller's name in it.
        p = d.llmux('metrics', timeout=30)
        assert p.returncode == 0, p.stderr
        out = p.stdout.decode()
        assert 'llmux_requests_total{group="_implicit",deployment="_implicit",' \
               'provider="mock"} 1101' in out, out[-2000:]
        assert 'mock/a' not in out
        assert len(p.stdout) < 64 * 1024, len(p.stdout)


def test_long_model_names_are_refused_and_not_kept():
    # Break 3: every long name used to be copied about 8 times and kept
    # forever. Now: bad_request before anything is copied, nothing kept.
    # Under ASan (make test SANITIZE=1) freed memory waits in a quarantine
    # that would count as growth; without it RSS measures what llmuxd keeps.
    asan = os.environ.get('ASAN_OPTIONS', '')
    env = {'ASAN_OPTIONS': (asan + ':' if asan else '') + 'quarantine_size_mb=0'}
    with Daemon(MOCK_ONLY, env=env) as d:
        c = d.client()
        fr = c.chat(1, {'model': 'mock/' + 'b' * 251, 'messages': user('x')})
        assert fr[-1]['type'] == 'done', fr[-1]    # 256 bytes: allowed
        fr = c.chat(2, {'model': 'mock/' + 'b' * 252, 'messages': user('x')})
        assert fr[-1]['type'] == 'error' and fr[-1]['error']['type'] == 'bad_request', fr
        assert 'longer than 256 bytes' in fr[-1]['error']['message']
        before = rss_kib(d.proc.pid)
        for i in range(100):
            name = 'mock/%03d' % i + 'x' * (1024 * 1024)
            fr = c.chat(10 + i, {'model': name, 'messages': user('x')})
            assert fr[-1]['type'] == 'error', fr[-1]['type']
            assert fr[-1]['error']['type'] == 'bad_request', fr[-1]['error']
        grown = rss_kib(d.proc.pid) - before
        assert grown < 20 * 1024, 'RSS grew by %d KiB' % grown
        p = d.llmux('metrics', timeout=30)
        assert p.returncode == 0 and len(p.stdout) < 64 * 1024, (p.returncode, len(p.stdout))


def test_wildcard_deployments_count_under_their_template():
    # Break 4: labels come from the configuration; a wildcard-derived
    # deployment counts under its template's model_name and id.
    cfg = ('model_list:\n'
           '  - model_name: "mock/*"\n'
           '    litellm_params: {model: "mock/*"}\n'
           '    model_info: {id: mock-template}\n')
    with Daemon(cfg) as d:
        c = d.client()
        ends = chat_all(c, ['mock/w%d' % i for i in range(300)])
        assert all(m['type'] == 'done' for m in ends.values())
        out = d.llmux('metrics').stdout.decode()
        assert 'llmux_requests_total{group="mock/*",deployment="mock-template",' \
               'provider="mock"} 300' in out, out[-2000:]
        assert 'mock/w' not in out


README_PATTERN = '''model_list:
  - model_name: "*"
    litellm_params:
      model: "*"
      api_key: os.environ/OPENAI_API_KEY
'''

KEY = 'sk-wild-0123456789abcdefSECRET'


def test_bare_star_template_with_a_key_is_refused_and_keys_stay_home():
    # Break 1: with the README's pattern, a caller asking for lm_studio/x or
    # ollama/x made llmuxd send the OpenAI key to that preset's base URL.
    with Fake() as f:
        env = {'OPENAI_API_KEY': KEY, 'LM_STUDIO_API_BASE': f.url + '/v1',
               'OLLAMA_API_BASE': f.url, 'OPENAI_API_BASE': f.url + '/v1'}
        d = Daemon(README_PATTERN, env=env, start=False)
        d.start(wait=False)
        try:
            d.proc.wait(30)
        except subprocess.TimeoutExpired:
            d.stop()
            raise AssertionError('llmuxd started with a key on a bare "*" template')
        d.logf.close()
        assert d.proc.returncode != 0
        log = d.log()
        assert 'model: openai/*' in log and 'lm_studio' in log, log
        assert KEY not in log and KEY[:12] not in log
        assert f.requests() == []
        # What the message says to write: the key goes to OpenAI only.
        fixed = ('model_list:\n'
                 '  - model_name: "openai/*"\n'
                 '    litellm_params:\n'
                 '      model: "openai/*"\n'
                 '      api_key: os.environ/OPENAI_API_KEY\n'
                 '  - model_name: "*"\n'
                 '    litellm_params: {model: "*"}\n')
        with Daemon(fixed, env=env) as d2:
            c = d2.client()
            for i, m in enumerate(['lm_studio/noauth', 'ollama/x', 'openai/gpt-4o'], 1):
                fr = c.chat(i, {'model': m, 'messages': user('hi')})
                assert fr[-1]['type'] == 'done', (m, fr[-1])
        reqs = f.requests()
        assert len(reqs) == 3, [r['path'] for r in reqs]
        by_path = {r['path']: r for r in reqs}
        assert set(by_path) == {'/v1/chat/completions', '/api/chat'}, list(by_path)
        for r in reqs:
            sent = repr(r['headers'])
            if r['model'] == 'gpt-4o':
                assert r['headers'].get('Authorization') == 'Bearer ' + KEY
            else:
                assert KEY not in sent and KEY[:12] not in sent, (r['path'], r['model'])
                assert 'Authorization' not in r['headers'], r['headers']


def check(text, env=None):
    d = Daemon(text, start=False)
    e = dict(d.env)
    e.update(env or {})
    return subprocess.run([LLMUXD, '--check', '-c', d.config_path], capture_output=True,
                          timeout=30, env=e, text=True)


def test_check_words_the_summary_right():
    # Issue 9: "1 warning" in the singular, wildcard deployments counted.
    p = check('model_list:\n  - model_name: g\n    litellm_params: {model: mock/x, bogus: 1}\n'
              '  - model_name: "openai/*"\n    litellm_params: {model: "openai/*"}\n')
    assert p.returncode == 0, p.stderr
    assert p.stdout.endswith(': ok, 2 deployments (1 wildcard), 1 warning\n'), p.stdout
    p = check('model_list:\n  - model_name: g\n    litellm_params: {model: mock/x}\n')
    assert p.stdout.endswith(': ok, 1 deployment (0 wildcard), 0 warnings\n'), p.stdout


def test_check_reports_a_missing_key_once():
    env = {k: v for k, v in os.environ.items() if k != 'LLMUX_CHECK_UNSET'}
    p = check('model_list:\n  - model_name: g\n    litellm_params:\n'
              '      model: openai/gpt-4o\n      api_key: os.environ/LLMUX_CHECK_UNSET\n',
              env=env)
    assert p.returncode == 0, p.stderr
    warnings = [l for l in p.stderr.splitlines() if 'LLMUX_CHECK_UNSET' in l or 'API key' in l]
    assert len(warnings) == 1, p.stderr
    assert p.stdout.endswith(': ok, 1 deployment (0 wildcard), 1 warning\n'), p.stdout
