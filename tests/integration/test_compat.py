"""test_compat.py -- LiteLLM's config.yaml as people really write it
(issue 13), table-driven: each feature in a small config of its own, with
the messages `llmuxd --check` must print and, where it applies, the
request the fake provider must receive."""

import json
import os
import subprocess

import yaml

from harness import LLMUXD, Daemon, Fake, user


def check(text, env=None, strict=False):
    """(exit code, [stderr lines]) of llmuxd --check on text."""
    d = Daemon(text, env=env, start=False)
    cmd = [LLMUXD, '-c', d.config_path, '--check'] + (['--strict'] if strict else [])
    p = subprocess.run(cmd, capture_output=True, timeout=20, env=d.env)
    lines = [l.replace(d.config_path, 'F') for l in p.stderr.decode().splitlines()]
    return p.returncode, lines


def has(lines, want):
    return any(want in l for l in lines)


# ---- every problem in one run, in line order -------------------------------

MANY_ERRORS = '''model_list:
  - model_name: a
    litellm_params:
      model: mock/echo
      tpm: lots
  - model_name: b
    litellm_params:
      model: mock/echo
      rpm: [1]
llmux_settings:
  log_level: loud
router_settings:
  num_retries: -2
'''


def test_every_error_of_a_file_in_one_run_in_line_order():
    rc, lines = check(MANY_ERRORS)
    assert rc == 1, lines
    want = ['F:5: tpm must be a number', 'F:9: rpm must be a single value',
            'F:11: log_level must be', 'F:13: num_retries']
    got = [next((i for i, l in enumerate(lines) if w in l), None) for w in want]
    assert None not in got, (want, lines)
    assert got == sorted(got), lines


def bad_tpms(n):
    """A config whose n deployments each have a tpm that is not a number:
    n errors, at lines 5, 9, 13, …"""
    return 'model_list:\n' + ''.join(
        '  - model_name: m%d\n    litellm_params:\n      model: mock/echo\n      tpm: lots\n' % i
        for i in range(n))


def test_reload_refused_for_forty_problems_names_all_forty():
    good = 'model_list:\n  - model_name: ok\n    litellm_params: {model: mock/echo}\n'
    with Daemon(good) as d:
        d.write_config(bad_tpms(40))
        p = d.llmux('reload')
        assert p.returncode != 0, p
        err = p.stderr.decode()
        lines = [l for l in err.splitlines() if 'tpm must be a number' in l]
        assert len(lines) == 40, err
        assert [int(l.split(d.config_path + ':')[1].split(':')[0]) for l in lines] == \
            list(range(5, 5 + 4 * 40, 4)), err
        assert 'more' not in err, err
        # llmux status keeps the whole of it too
        st = json.loads(d.llmux('status').stdout)
        assert st['last_reload_error'].count('tpm must be a number') == 40, st
        # too many to show: capped, with the count of the rest
        d.write_config(bad_tpms(1500))
        p = d.llmux('reload')
        err = p.stderr.decode()
        shown = err.count('tpm must be a number')
        assert 40 < shown < 1500 and len(err) <= 64 * 1024 + 200, (shown, len(err))
        assert '… and %d more' % (1500 - shown) in err, err[-300:]
        # the old configuration still serves
        assert d.client().chat(1, {'model': 'ok', 'messages': user('x')})[-1]['type'] == 'done'


KNOWN_KEYS = [
    # (yaml, expected line)
    ('files_settings:\n  - custom_llm_provider: azure\n',
     'F:1: files_settings: not supported by llmux — ignored: llmux serves chat completions only'),
    ('finetune_settings:\n  - custom_llm_provider: azure\n',
     'F:1: finetune_settings: not supported by llmux'),
    ('guardrails:\n  - guardrail_name: g\n', 'F:1: guardrails: not supported by llmux'),
    ('pass_through_endpoints: []\n', 'F:1: pass_through_endpoints: not supported by llmux'),
    ('telemetry: false\n', 'F:1: telemetry: not supported by llmux'),
    ('litellm_settings:\n  callbacks: [prometheus]\n',
     'F:2: litellm_settings.callbacks: not supported by llmux — ignored: llmux logs to the '
     'journal and answers `llmux metrics` itself (prometheus included)'),
    ('litellm_settings:\n  success_callback: [langfuse]\n',
     'F:2: litellm_settings.success_callback: not supported by llmux'),
    ('general_settings:\n  database_url: postgres://x\n',
     'F:2: general_settings.database_url: not supported by llmux — not used: llmux keeps keys '
     'and spend in its embedded database'),
    ('router_settings:\n  redis_host: localhost\n',
     'F:2: router_settings.redis_host: not supported by llmux — not used'),
    # Not LiteLLM's either: unknown, with a did-you-mean when one is close.
    ('model_list:\n  - model_nmae: a\n    model_name: a\n    litellm_params: {model: mock/x}\n',
     'F:2: unknown key "model_nmae" in model_list entry (ignored), LiteLLM does not define it '
     'either; did you mean "model_name"?'),
    ('router_settings:\n  num_retires: 2\n',
     'F:2: unknown key "num_retires" in router_settings (ignored), LiteLLM does not define it '
     'either; did you mean "num_retries"?'),
    ('litelm_settings: {}\n', 'F:1: unknown top-level key "litelm_settings" (ignored), LiteLLM '
     'does not define it either; did you mean "litellm_settings"?'),
    ('colour: red\n', 'F:1: unknown top-level key "colour" (ignored), LiteLLM does not define '
     'it either'),
]


def test_litellm_keys_are_known_and_others_unknown():
    for text, want in KNOWN_KEYS:
        rc, lines = check(text)
        assert rc == 0, (text, lines)
        assert has(lines, want), (text, want, lines)
        if 'unknown' not in want:
            assert not has(lines, 'unknown'), (text, lines)
    rc, lines = check('colour: red\n')
    assert not has(lines, 'did you mean'), lines


MISSING_VARS = '''environment_variables:
  EMPTY_KEY: ""
model_list:
  - model_name: a
    litellm_params:
      model: openai/x
      api_key: os.environ/NO_SUCH_KEY_1
      api_base: os.environ/NO_SUCH_BASE_1
  - model_name: b
    litellm_params:
      model: os.environ/NO_SUCH_MODEL_1
      api_key: os.environ/NO_SUCH_KEY_1
  - model_name: c
    litellm_params:
      model: openai/y
      api_key: os.environ/EMPTY_KEY
  - model_name: d
    litellm_params:
      model: openai/z
      api_key: os.environ/EMPTY_KEY
'''


def test_missing_variables_once_each_in_every_position():
    rc, lines = check(MISSING_VARS)
    assert rc == 0, lines
    for var, line in (('NO_SUCH_KEY_1', 7), ('NO_SUCH_BASE_1', 8), ('NO_SUCH_MODEL_1', 11)):
        said = [l for l in lines if var in l]
        assert len(said) == 1, (var, lines)
        # A warning: logged at syslog level 4 (the journal's prefix).
        assert said[0].startswith('<4>F:%d: ' % line) and 'is not set' in said[0], said
    empty = [l for l in lines if 'EMPTY_KEY' in l]
    assert len(empty) == 1 and 'F:16: ' in empty[0] and 'set but empty' in empty[0], lines
    # --strict: the same variables, now errors, and the check fails.
    rc, lines = check(MISSING_VARS, strict=True)
    assert rc == 1, lines
    for var in ('NO_SUCH_KEY_1', 'NO_SUCH_BASE_1', 'NO_SUCH_MODEL_1', 'EMPTY_KEY'):
        said = [l for l in lines if var in l]
        assert len(said) == 1 and not said[0].startswith('<4>'), (var, lines)
        assert 'warning' not in said[0], said


# ---- models written the way LiteLLM accepts them ---------------------------

def entry(name, model, fake=None, key='sk-test-key', extra=()):
    lines = ['  - model_name: %s' % name, '    litellm_params:', '      model: %s' % model]
    if fake is not None:
        lines += ['      api_base: %s/v1' % fake.url, '      api_key: %s' % key]
    lines += ['      %s' % x for x in extra]
    return '\n'.join(lines) + '\n'


def body_of(req):
    return json.loads(req['body'])


INFERRED = [
    # (model as written, extra params, provider llmuxd picks, upstream path, upstream model)
    ('gpt-3.5-turbo', (), 'openai', '/v1/chat/completions', 'gpt-3.5-turbo'),
    ('claude-3-5-sonnet-20240620', (), 'anthropic', '/v1/messages', 'claude-3-5-sonnet-20240620'),
    ('command-r', (), 'cohere_chat', '/v1/v2/chat', 'command-r'),
    ('my-own-model', ('custom_llm_provider: groq',), 'groq', '/v1/chat/completions', 'my-own-model'),
    ('openai/gpt-4o', (), 'openai', '/v1/chat/completions', 'gpt-4o'),
]


def test_provider_inferred_as_litellm_does():
    with Fake() as f:
        cfg = 'model_list:\n' + ''.join(entry('m%d' % i, m, f, extra=x)
                                        for i, (m, x, _, _, _) in enumerate(INFERRED))
        rc, lines = check(cfg)
        assert rc == 0 and not has(lines, 'not served'), lines
        with Daemon(cfg) as d:
            c = d.client()
            for i, (model, _, prov, path, upstream) in enumerate(INFERRED):
                f.reset()
                fr = c.chat(i + 1, {'model': 'm%d' % i, 'messages': user('hello there')})
                assert fr[-1]['type'] == 'done', (model, fr[-1])
                assert fr[-1]['provider'] == prov, (model, fr[-1])
                req = f.requests()[-1]
                assert req['path'].split('?')[0] == path, (model, req['path'])
                assert body_of(req)['model'] == upstream, (model, req['body'])


UNSERVABLE = '''model_list:
  - model_name: smart
    litellm_params:
      model: sagemaker/jumpstart-llama
  - model_name: smart
    litellm_params:
      model: mock/echo
  - model_name: old
    litellm_params:
      model: text-completion-openai/gpt-3.5-turbo-instruct
  - model_name: pic
    litellm_params:
      model: dall-e-3
  - model_name: emb
    litellm_params:
      model: text-embedding-3-small
  - model_name: voy
    litellm_params:
      model: voyage/voyage-3
  - model_name: warped
    litellm_params:
      model: warp/x
  - model_name: nameless
    litellm_params:
      model: my-private-model
'''


def test_deployments_llmux_cannot_serve_never_refuse_the_file():
    rc, lines = check(UNSERVABLE)
    assert rc == 0, lines
    want = [
        'F:4: model "sagemaker/jumpstart-llama": provider "sagemaker" is not supported by llmux',
        'F:10: model "text-completion-openai/gpt-3.5-turbo-instruct": provider '
        '"text-completion-openai" is not supported by llmux',
        'F:13: model "dall-e-3" is an image generation model: not supported by llmux',
        # An embedding model is served now (for embeddings): only its key is missing.
        'F:16: no API key for "emb" (text-embedding-3-small): set api_key or $OPENAI_API_KEY',
        'F:19: model "voyage/voyage-3": provider "voyage" is not supported by llmux',
        'F:22: unknown provider "warp" in model "warp/x": not a provider LiteLLM knows either',
        'F:25: model "my-private-model" has no provider prefix and LiteLLM\'s model table '
        'does not name it, so LiteLLM would refuse it too',
    ]
    for w in want:
        assert sum(w in l for l in lines) == 1, (w, lines)   # once each
    with Daemon(UNSERVABLE) as d:
        log = d.log()
        for w in want:      # at start, too, once each
            assert log.count(w[3:]) == 1, (w, log[-3000:])
        c = d.client()
        # The group serves its other deployment, every time.
        for i in range(5):
            fr = c.chat(i + 1, {'model': 'smart', 'messages': user('still here')})
            assert fr[-1]['type'] == 'done' and fr[-1]['provider'] == 'mock', fr[-1]
        # A group with nothing usable: a typed error naming the provider.
        for i, (group, prov) in enumerate((('old', 'text-completion-openai'), ('pic', 'openai'),
                                            ('voy', 'voyage'), ('warped', 'warp'))):
            fr = c.chat(10 + i, {'model': group, 'messages': user('x')})
            assert fr[-1]['type'] == 'error', fr[-1]
            assert fr[-1]['error']['type'] == 'not_found', fr[-1]
            assert 'provider "%s"' % prov in fr[-1]['error']['message'], fr[-1]


# ---- default call parameters in litellm_params ------------------------------

DEFAULTS = ['temperature: 0.2', 'max_tokens: 77', 'top_p: 0.9', 'stop: ["END"]', 'seed: 42',
            'response_format: {type: json_object}', 'presence_penalty: 0.1',
            'extra_body: {top_k: 5, repetition_penalty: 1.1}',
            'extra_headers: {X-Team: blue, X-Num: 7}', 'organization: org-123',
            'timeout: 30', 'stream_timeout: 20', 'max_retries: 1']


def test_default_call_parameters_reach_the_upstream_request_winning():
    with Fake() as f:
        cfg = 'model_list:\n' + entry('m', 'openai/text', f, extra=DEFAULTS)
        rc, lines = check(cfg)
        assert rc == 0 and not has(lines, 'unknown') and not has(lines, 'not supported'), lines
        with Daemon(cfg) as d:
            c = d.client()
            for stream in (False, True):
                f.reset()
                fr = c.chat(1, {'model': 'm', 'messages': user('hi'), 'temperature': 0.7,
                                'stream': stream})
                assert fr[-1]['type'] == 'done', fr[-1]
                req = f.requests()[-1]
                b = body_of(req)
                assert b['temperature'] == 0.7, b          # the request's own wins
                assert b['max_tokens'] == 77 and b['top_p'] == 0.9 and b['seed'] == 42, b
                assert b['stop'] == ['END'] and b['response_format'] == {'type': 'json_object'}, b
                assert b['presence_penalty'] == 0.1, b
                assert b['top_k'] == 5 and b['repetition_penalty'] == 1.1, b   # extra_body merged
                for k in ('extra_body', 'extra_headers', 'organization', 'timeout',
                          'stream_timeout', 'max_retries'):
                    assert k not in b, (k, b)
                h = {k.lower(): v for k, v in req['headers'].items()}
                assert h['x-team'] == 'blue' and h['x-num'] == '7', h
                assert h['openai-organization'] == 'org-123', h
            # A request without temperature gets the deployment's.
            f.reset()
            fr = c.chat(2, {'model': 'm', 'messages': user('hi')})
            assert body_of(f.requests()[-1])['temperature'] == 0.2


def test_a_default_the_provider_cannot_take_follows_drop_params():
    with Fake() as f:
        base = 'model_list:\n' + entry('m', 'anthropic/claude-echo', f,
                                       extra=['presence_penalty: 0.5', 'max_tokens: 64'])
        with Daemon(base) as d:
            fr = d.client().chat(1, {'model': 'm', 'messages': user('hi')})
            assert fr[-1]['type'] == 'error', fr[-1]
            assert fr[-1]['error']['type'] == 'bad_request', fr[-1]
            assert 'presence_penalty' in fr[-1]['error']['message'], fr[-1]
            assert f.requests() == [], 'sent upstream anyway'
        with Daemon(base + 'litellm_settings:\n  drop_params: true\n') as d:
            fr = d.client().chat(1, {'model': 'm', 'messages': user('hi')})
            assert fr[-1]['type'] == 'done', fr[-1]
            b = body_of(f.requests()[-1])
            assert 'presence_penalty' not in b and b['max_tokens'] == 64, b


# Plain scalars, as PyYAML (what LiteLLM loads configs with) reads them.
YAML11 = ['20_000', 'yes', 'No', 'ON', 'off', 'y', '0o17', '017', '0x1F', '0b101', '1e3',
          '1.5e+3', '1.0e3', '1_000.5', '.5', '1:30', '-0x10', '+12', '~', 'null', '1.', '0',
          '00', '08', '0.1', '1__0', '190:20:30', 'TRUE', 'tRUE', '"yes"', "'12'", '-1.5']


def test_yaml_scalars_reach_the_upstream_as_pyyaml_reads_them():
    with Fake() as f:
        body = '{%s}' % ', '.join('v%d: %s' % (i, s) for i, s in enumerate(YAML11))
        cfg = 'model_list:\n' + entry('m', 'openai/text', f, extra=['extra_body: ' + body])
        want = yaml.safe_load(cfg)['model_list'][0]['litellm_params']['extra_body']
        with Daemon(cfg) as d:
            fr = d.client().chat(1, {'model': 'm', 'messages': user('hi')})
            assert fr[-1]['type'] == 'done', fr[-1]
            got = body_of(f.requests()[-1])
        for i, s in enumerate(YAML11):
            k = 'v%d' % i
            if want[k] is None:
                assert k not in got or got[k] is None, (s, got.get(k))
                continue
            assert type(got[k]) is type(want[k]) and got[k] == want[k], (s, got[k], want[k])


# ---- providers by config ----------------------------------------------------

PROVIDERS_CFG = '''llmux_settings:
  providers:
    - name: acme
      dialect: openai
      api_base: %(url)s/v1
      api_key_env: ACME_KEY
      auth: header:X-Acme-Key
      param_renames: {max_tokens: max_output_tokens}
      drop: [seed]
    - name: beta
      dialect: anthropic
      api_base: %(url)s
      api_key_env: BETA_KEY
model_list:
  - model_name: configured
    litellm_params:
      model: acme/big-model
      max_tokens: 99
'''


def test_a_provider_added_by_config_works_like_a_preset():
    with Fake() as f:
        cfg = PROVIDERS_CFG % {'url': f.url}
        env = {'ACME_KEY': 'acme-secret-123', 'BETA_KEY': 'beta-secret-456'}
        rc, lines = check(cfg, env=env)
        assert rc == 0 and not has(lines, 'unknown') and not has(lines, 'not supported'), lines
        with Daemon(cfg, env=env) as d:
            c = d.client()
            # A model_list entry, and a bare acme/… name nobody configured.
            for i, (model, want_max) in enumerate((('configured', 99), ('acme/other', 5))):
                f.reset()
                fr = c.chat(i + 1, {'model': model, 'messages': user('hello acme'),
                                    'seed': 7, 'max_tokens': 5 if want_max == 5 else None})
                assert fr[-1]['type'] == 'done', fr[-1]
                assert fr[-1]['provider'] == 'acme', fr[-1]
                req = f.requests()[-1]
                assert req['path'] == '/v1/chat/completions', req['path']
                h = {k.lower(): v for k, v in req['headers'].items()}
                assert h.get('x-acme-key') == 'acme-secret-123', h
                assert 'authorization' not in h, h
                b = body_of(req)
                assert b['max_output_tokens'] == want_max and 'max_tokens' not in b, b
                assert 'seed' not in b, b
            # The anthropic dialect, bearer-less: the dialect's own header.
            f.reset()
            fr = c.chat(9, {'model': 'beta/claude-echo', 'messages': user('hello beta')})
            assert fr[-1]['type'] == 'done' and fr[-1]['provider'] == 'beta', fr[-1]
            req = f.requests()[-1]
            assert req['path'] == '/v1/messages', req['path']
            assert {k.lower(): v for k, v in req['headers'].items()}['x-api-key'] == 'beta-secret-456'
            assert 'acme-secret' not in d.log() and 'beta-secret' not in d.log()


def test_provider_config_problems_are_reported_together():
    rc, lines = check('''llmux_settings:
  providers:
    - name: openai
      dialect: openai
    - name: x
      dialect: smoke-signals
    - name: y
      dialect: openai
      auth: cookie
''')
    assert rc == 1, lines
    assert has(lines, 'F:3: provider "openai" is already defined'), lines
    assert has(lines, 'F:6: provider "x" needs a dialect llmux speaks'), lines
    assert has(lines, 'F:9: auth must be bearer or header:NAME, not "cookie"'), lines


# ---- model_info and routing by it -----------------------------------------

def test_pre_call_checks_skip_a_deployment_the_request_does_not_fit():
    with Fake() as f:
        small = entry('g', 'openai/small', f) + '    model_info:\n      max_input_tokens: 30\n'
        big = entry('g', 'openai/big', f) + '    model_info:\n      max_input_tokens: 100000\n'
        tiny = entry('t', 'openai/tiny', f) + '    model_info:\n      max_input_tokens: 10\n'
        cfg = 'model_list:\n' + small + big + tiny + \
              'router_settings:\n  enable_pre_call_checks: true\n'
        rc, lines = check(cfg)
        assert rc == 0 and not has(lines, 'enable_pre_call_checks'), lines
        long_text = 'word ' * 100          # about 128 tokens by the estimate
        with Daemon(cfg) as d:
            c = d.client()
            for i in range(8):
                fr = c.chat(i + 1, {'model': 'g', 'messages': user(long_text)})
                assert fr[-1]['type'] == 'done', fr[-1]
            models = [body_of(r)['model'] for r in f.requests()]
            assert models == ['big'] * 8, models
            # A short request may go to either.
            f.reset()
            for i in range(20):
                assert c.chat(20 + i, {'model': 'g', 'messages': user('hi')})[-1]['type'] == 'done'
            assert {body_of(r)['model'] for r in f.requests()} == {'small', 'big'}
            # Nothing fits: context_window_exceeded before any upstream call.
            f.reset()
            fr = c.chat(50, {'model': 't', 'messages': user(long_text)})
            assert fr[-1]['type'] == 'error', fr[-1]
            assert fr[-1]['error']['type'] == 'context_window_exceeded', fr[-1]
            assert 'takes 10' in fr[-1]['error']['message'], fr[-1]
            assert f.requests() == []


def test_a_failed_pre_call_check_takes_the_context_window_fallbacks():
    # LiteLLM's pre-call check raises ContextWindowExceededError, which its
    # router sends to context_window_fallbacks (to the general fallbacks
    # only when no context_window_fallbacks are set at all).
    with Fake() as f:
        def sized(name, model, n):
            return entry(name, model, f) + '    model_info:\n      max_input_tokens: %d\n' % n
        models = (sized('small', 'openai/small', 10) + sized('wide', 'openai/wide', 100000) +
                  sized('other', 'openai/other', 100000) + sized('lone', 'openai/lone', 10))
        long_text = 'word ' * 100          # about 128 tokens by the estimate
        cfg = ('model_list:\n' + models + 'router_settings:\n  enable_pre_call_checks: true\n'
               '  context_window_fallbacks: [{small: [lone, wide]}]\n'
               '  fallbacks: [{small: [other]}, {lone: [other]}]\n')
        with Daemon(cfg) as d:
            c = d.client()
            fr = c.chat(1, {'model': 'small', 'messages': user(long_text)})
            x = fr[-1]
            assert x['type'] == 'done' and x['fallbacks'] == 1, x
            # lone is too small as well: skipped, never called; wide serves
            assert [body_of(r)['model'] for r in f.requests()] == ['wide']
            # context_window_fallbacks being set, a group without a rule
            # there gets the typed error, not its general fallbacks
            f.reset()
            e = c.chat(2, {'model': 'lone', 'messages': user(long_text)})[-1]
            assert e['type'] == 'error', e
            assert e['error']['type'] == 'context_window_exceeded', e
            assert 'takes 10' in e['error']['message'], e
            assert f.requests() == []
            # per request: context_window_fallbacks of its own
            fr = c.chat(3, {'model': 'lone', 'messages': user(long_text),
                            'context_window_fallbacks': ['wide']})
            assert fr[-1]['type'] == 'done', fr[-1]
            assert [body_of(r)['model'] for r in f.requests()] == ['wide']
        # No context_window_fallbacks at all: the general fallbacks, as
        # LiteLLM's router "defaults to fallbacks".
        f.reset()
        cfg = ('model_list:\n' + models + 'router_settings:\n  enable_pre_call_checks: true\n'
               '  fallbacks: [{small: [other]}]\n')
        with Daemon(cfg) as d:
            fr = d.client().chat(1, {'model': 'small', 'messages': user(long_text)})
            assert fr[-1]['type'] == 'done', fr[-1]
            assert [body_of(r)['model'] for r in f.requests()] == ['other']


TAGS = '''model_list:
  - model_name: g
    litellm_params: {model: mock/a, mock_response: paid-one, tags: [paid]}
  - model_name: g
    litellm_params: {model: mock/b, mock_response: free-one, tags: [free, fast]}
  - model_name: g
    litellm_params: {model: mock/c, mock_response: default-one, tags: [default]}
  - model_name: h
    litellm_params: {model: mock/d, mock_response: only-paid, tags: [paid]}
router_settings:
  enable_tag_filtering: true
'''


def test_tag_routing_as_litellm_does():
    with Daemon(TAGS) as d:
        c = d.client()
        for i in range(6):
            assert d.client().chat(i + 1, {'model': 'g', 'messages': user('x'), 'tags': ['free']})[0] \
                ['body']['choices'][0]['message']['content'] == 'free-one'
        for i, tags in enumerate((['paid'], ['paid', 'other'])):
            fr = c.chat(10 + i, {'model': 'g', 'messages': user('x'), 'tags': tags})
            assert fr[0]['body']['choices'][0]['message']['content'] == 'paid-one', fr
        for i, tags in enumerate((['nobody'], None)):       # the default deployment
            body = {'model': 'g', 'messages': user('x')}
            if tags:
                body['tags'] = tags
            fr = c.chat(20 + i, body)
            assert fr[0]['body']['choices'][0]['message']['content'] == 'default-one', fr
        fr = c.chat(30, {'model': 'h', 'messages': user('x'), 'tags': ['free']})
        assert fr[-1]['type'] == 'error' and fr[-1]['error']['type'] == 'not_found', fr[-1]
        assert "has the request's tags" in fr[-1]['error']['message'], fr[-1]


def test_models_verbose_shows_model_info():
    cfg = '''model_list:
  - model_name: seeing
    litellm_params: {model: mock/echo}
    model_info:
      id: dep-seeing-1
      mode: chat
      base_model: gpt-4o
      max_input_tokens: 128000
      supports_vision: true
      supports_function_calling: true
      supports_audio_input: false
'''
    with Daemon(cfg) as d:
        p = d.llmux('models', '-v')
        assert p.returncode == 0, p.stderr
        line = [l for l in p.stdout.decode().splitlines() if l.startswith('seeing')]
        assert line, p.stdout
        assert 'mode=chat' in line[0] and 'max_input_tokens=128000' in line[0], line
        assert 'supports_vision' in line[0] and 'supports_function_calling' in line[0], line
        assert 'supports_audio_input' not in line[0], line
        p = d.llmux('models')
        assert b'seeing\n' in p.stdout and b'mode=' not in p.stdout, p.stdout
        st = d.llmux('raw', 'status')
        assert b'dep-seeing-1' in st.stdout, st.stdout[:500]
