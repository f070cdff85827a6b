"""test_providers.py -- every native dialect end to end: the real llmuxd,
the llmux shell helper and raw frames against the fake provider speaking
that provider's wire format (tests/mockup/fakeprov.py), streaming and not,
with tool calls, usage and an error of each kind."""

import json

from harness import Daemon, Fake, text_of, user

AWS = {'AWS_ACCESS_KEY_ID': 'AKIDEXAMPLE',
       'AWS_SECRET_ACCESS_KEY': 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
       'AWS_REGION': 'us-east-1'}

# prefix, key line for the config, extra params, environment
PROVIDERS = {
    'anthropic': ('api_key: sk-ant-test', '', {}),
    'gemini': ('api_key: gm-test-key', '', {}),
    'cohere': ('api_key: co-test-key', '', {}),
    'bedrock': ('', '', AWS),
    'azure': ('api_key: az-test-key', 'api_version: "2024-10-21"', {}),
    'ollama': ('', '', {}),
}


def config(fake, prov, scenario):
    key, extra, _ = PROVIDERS[prov]
    lines = ['model_list:', '  - model_name: m', '    litellm_params:',
             '      model: %s/%s' % (prov, scenario), '      api_base: %s' % fake.url]
    for x in (key, extra):
        if x:
            lines.append('      ' + x)
    return '\n'.join(lines) + '\n'


def daemon(fake, prov, scenario='echo'):
    return Daemon(config(fake, prov, scenario), env=PROVIDERS[prov][2])


def tool_calls(frames):
    calls = {}
    for x in frames:
        if x['type'] == 'response':
            for tc in x['body']['choices'][0]['message'].get('tool_calls') or []:
                calls[len(calls)] = {'id': tc['id'], 'name': tc['function']['name'],
                                     'args': tc['function']['arguments']}
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
    return calls


def finish_reasons(frames):
    out = []
    for x in frames:
        if x['type'] == 'response':
            out.append(x['body']['choices'][0]['finish_reason'])
        elif x['type'] == 'chunk':
            out += [c['finish_reason'] for c in x['body']['choices'] if c.get('finish_reason')]
    return out


def check_text_both_ways(prov):
    with Fake() as f, daemon(f, prov) as d:
        for stream in (False, True):
            fr = d.client().chat(1, {'model': 'm', 'messages': user('the quick brown fox'),
                                     'stream': stream})
            assert fr[-1]['type'] == 'done', (prov, stream, fr[-1])
            assert text_of(fr).strip() == 'the quick brown fox', (prov, stream, text_of(fr))
            assert finish_reasons(fr)[-1] == 'stop', (prov, stream, finish_reasons(fr))
            assert fr[-1]['usage']['total_tokens'] > 0, (prov, fr[-1])
            assert fr[-1]['provider'] == prov
        p = d.llmux('chat', '-m', 'm', 'hello from the shell')
        assert p.returncode == 0, (prov, p.stderr)
        assert p.stdout.strip() == b'hello from the shell', (prov, p.stdout)
        assert f.violations() == [], (prov, f.violations())
        return f.requests()


def check_tools(prov):
    tools = [{'type': 'function', 'function': {
        'name': 'get_weather', 'description': 'weather for a city',
        'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}},
                       'required': ['city']}}}]
    with Fake() as f, daemon(f, prov, 'tool') as d:
        for stream in (False, True):
            fr = d.client().chat(1, {'model': 'm', 'messages': user('weather in Paris?'),
                                     'tools': tools, 'stream': stream})
            assert fr[-1]['type'] == 'done', (prov, stream, fr[-1])
            calls = tool_calls(fr)
            assert calls, (prov, stream, fr)
            for c in calls.values():
                assert c.get('id') and c.get('name'), (prov, c)
                assert isinstance(json.loads(c['args']), dict), (prov, c)
            assert 'tool_calls' in finish_reasons(fr), (prov, stream, finish_reasons(fr))


def check_errors(prov):
    cases = [('err-401', 'authentication', 4), ('err-429:3', 'rate_limit', 9),
             ('err-context', 'context_window_exceeded', 7), ('err-500', 'upstream_unavailable', 11)]
    with Fake() as f, daemon(f, prov) as d:
        c = d.client()
        for i, (scn, typ, rc) in enumerate(cases, 1):
            f.queue(scn)
            fr = c.chat(i, {'model': 'm', 'messages': user('x')})
            e = fr[-1]
            assert e['type'] == 'error' and e['error']['type'] == typ, (prov, scn, e)
            assert e['error']['message'], (prov, scn)
            # Bedrock's ThrottlingException carries no retry hint.
            if typ == 'rate_limit' and prov != 'bedrock':
                assert abs(e['error'].get('retry_after', -1) - 3) < 0.01, (prov, e)
            f.queue(scn)
            p = d.llmux('chat', '-m', 'm', 'x')
            assert p.returncode == rc, (prov, scn, p.returncode, p.stderr)


def headers_of(req):
    return {k.lower(): v for k, v in req['headers'].items()}


def test_anthropic():
    reqs = check_text_both_ways('anthropic')
    h = headers_of(reqs[-1])
    assert h['x-api-key'] == 'sk-ant-test' and h['anthropic-version']
    assert reqs[-1]['path'] == '/v1/messages'
    check_tools('anthropic')
    check_errors('anthropic')


def test_gemini():
    reqs = check_text_both_ways('gemini')
    for r in reqs:
        assert headers_of(r)['x-goog-api-key'] == 'gm-test-key'
        assert 'key=' not in r['path'], r['path']
    assert any(':streamGenerateContent' in r['path'] and 'alt=sse' in r['path'] for r in reqs)
    check_tools('gemini')
    check_errors('gemini')


def test_cohere():
    reqs = check_text_both_ways('cohere')
    assert headers_of(reqs[-1])['authorization'] == 'Bearer co-test-key'
    assert reqs[-1]['path'] == '/v2/chat'
    check_tools('cohere')
    check_errors('cohere')


def test_bedrock_sigv4():
    reqs = check_text_both_ways('bedrock')
    for r in reqs:
        assert headers_of(r)['authorization'].startswith('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/')
    assert any(r['path'].endswith('/converse-stream') for r in reqs)
    check_tools('bedrock')
    check_errors('bedrock')


def test_bedrock_model_id_with_colon_is_signed_right():
    with Fake() as f:
        cfg = config(f, 'bedrock', 'anthropic.claude-3-5-sonnet-20240620-v1:0')
        with Daemon(cfg, env=AWS) as d:
            fr = d.client().chat(1, {'model': 'm', 'messages': user('hi')})
            assert fr[-1]['type'] == 'done', fr[-1]
            path = f.requests()[-1]['path']
            assert path == '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse', path


def test_bedrock_credentials_from_config():
    # aws_* in litellm_params (here through os.environ/ under other names)
    # win over the AWS_* variables, which are wrong on purpose.
    env = {'BR_AK': AWS['AWS_ACCESS_KEY_ID'], 'BR_SK': AWS['AWS_SECRET_ACCESS_KEY'],
           'AWS_ACCESS_KEY_ID': 'AKIDWRONG', 'AWS_SECRET_ACCESS_KEY': 'wrong'}
    with Fake() as f:
        cfg = config(f, 'bedrock', 'echo') + (
            '      aws_access_key_id: os.environ/BR_AK\n'
            '      aws_secret_access_key: os.environ/BR_SK\n'
            '      aws_region_name: eu-west-3\n')
        with Daemon(cfg, env=env) as d:
            fr = d.client().chat(1, {'model': 'm', 'messages': user('signed')})
            assert text_of(fr) == 'signed', fr
            auth = headers_of(f.requests()[-1])['authorization']
            assert '/eu-west-3/bedrock/aws4_request' in auth, auth
            assert 'wJalr' not in d.log()


def test_azure():
    reqs = check_text_both_ways('azure')
    h = headers_of(reqs[-1])
    assert h['api-key'] == 'az-test-key' and 'authorization' not in h
    assert reqs[-1]['path'].startswith('/openai/deployments/echo/chat/completions?api-version=2024-10-21')
    check_tools('azure')
    check_errors('azure')


def test_ollama():
    reqs = check_text_both_ways('ollama')
    assert reqs[-1]['path'] == '/api/chat'
    check_tools('ollama')
