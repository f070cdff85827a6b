"""test_http_sdk.py -- the official openai Node SDK (pinned in
tests/sdk/package-lock.json, installed by `make test` with npm ci) against
llmuxd's HTTP front end and the fake providers: plain and streamed chat,
tool calls through the Anthropic and Gemini dialects, models.list(),
errors as the SDK's own classes, and an AbortController cutting a stream
all the way to the upstream. tests/sdk/openai-sdk.mjs runs one case per
call and prints JSON; the assertions are here."""

import json
import os
import re
import shutil
import subprocess

from harness import ROOT, Daemon, Fake, Skip, wait_for
import test_http as H

SDK_DIR = os.path.join(ROOT, 'tests', 'sdk')
SCRIPT = os.path.join(SDK_DIR, 'openai-sdk.mjs')
MASTER = H.MASTER


def need_sdk():
    if shutil.which('node') is None:
        raise Skip('node is not installed')
    if not os.path.exists(os.path.join(SDK_DIR, 'node_modules', 'openai', 'package.json')):
        if shutil.which('npm') is None:
            raise Skip('npm is not installed: the openai SDK cannot be set up')
        raise AssertionError('tests/sdk/node_modules/openai is missing: `make test` runs '
                             '`npm ci` there (did it fail?)')
    with open(os.path.join(SDK_DIR, 'node_modules', 'openai', 'package.json')) as f:
        v = json.load(f)['version']
    with open(os.path.join(SDK_DIR, 'package.json')) as f:
        want = json.load(f)['dependencies']['openai']
    assert v == want, 'tests/sdk has openai %s installed, the lockfile pins %s' % (v, want)


def config(f):
    return '''model_list:
  - model_name: gpt
    litellm_params: {model: openai/echo, api_base: "%(u)s/v1", api_key: sk-test-key}
  - model_name: claude
    litellm_params: {model: anthropic/tool, api_base: "%(u)s", api_key: sk-ant-test}
  - model_name: gemini
    litellm_params: {model: gemini/tool, api_base: "%(u)s", api_key: gm-test-key}
  - model_name: slow
    litellm_params: {model: "openai/drip:100", api_base: "%(u)s/v1", api_key: sk-test-key}
general_settings:
  master_key: os.environ/LLMUX_MK
''' % {'u': f.url}


def daemon(f):
    d = Daemon(config(f), env={'LLMUX_MK': MASTER}, args=['--http', '127.0.0.1:0'])
    d.port = H.http_port(d)
    return d


def sdk(d, case, model='gpt', key=MASTER):
    env = dict(os.environ, OPENAI_BASE_URL='http://127.0.0.1:%d/v1' % d.port, OPENAI_API_KEY=key)
    p = subprocess.run(['node', SCRIPT, case, model], capture_output=True, timeout=60,
                       env=env, cwd=SDK_DIR)
    assert p.returncode == 0, (case, model, p.stderr.decode())
    return json.loads(p.stdout)


def check_tool_call(calls, want):
    """want: the function the dialect's recording calls."""
    assert len(calls) >= 1, calls
    for c in calls:
        name = c['function']['name'] if 'function' in c else c['name']
        args = c['function']['arguments'] if 'function' in c else c['arguments']
        assert c['id'] and name == want, c
        assert isinstance(json.loads(args), dict), c


def posts(f):
    return [q for q in f.requests() if q['method'] == 'POST']


def test_openai_node_sdk_chat_stream_tools_models():
    need_sdk()
    with Fake() as f:
        with daemon(f) as d:
            r = sdk(d, 'plain')
            c = r['completion']
            assert c['object'] == 'chat.completion', c
            assert c['choices'][0]['message']['content'] == 'hello from node', c
            assert c['choices'][0]['finish_reason'] == 'stop' and c['usage']['total_tokens'] > 0, c
            assert re.fullmatch(r'llmux-\d+-\d+-\d+', r['callId']) and r['group'] == 'gpt', r
            r = sdk(d, 'stream')
            assert r['text'] == 'streamed from node', r
            assert r['objects'] == ['chat.completion.chunk'] and r['finish'] == ['stop'], r
            assert r['usage']['total_tokens'] > 0, r
            for group, prov, fn in (('claude', 'anthropic', 'get_weather'),
                                    ('gemini', 'gemini', 'getTemperature')):
                r = sdk(d, 'tools', group)
                assert r['finish'] == 'tool_calls', (group, r)
                assert r['message']['role'] == 'assistant', r
                check_tool_call(r['message']['tool_calls'], fn)
                assert all(tc['type'] == 'function' for tc in r['message']['tool_calls']), r
                r = sdk(d, 'toolsStream', group)
                assert r['finish'] == ['tool_calls'], (group, r)
                check_tool_call(r['toolCalls'], fn)
                assert posts(f)[-1]['dialect'] == prov, posts(f)[-1]
            r = sdk(d, 'models')
            assert r['models'][:4] == [{'id': g, 'object': 'model'}
                                       for g in ('gpt', 'claude', 'gemini', 'slow')], r
            # every request came with the master key, none reached a provider with it
            for q in posts(f):
                assert MASTER not in json.dumps(q['headers']), q['headers']
            assert f.violations() == [], f.violations()
        assert MASTER not in d.log()


def test_openai_node_sdk_errors_and_abort():
    need_sdk()
    with Fake() as f:
        with daemon(f) as d:
            # llmux's own master key check
            for key in ('sk-wrong', ''):
                e = sdk(d, 'error', key=key or 'x')['error']
                assert e['class'] == 'AuthenticationError' and e['isAuthentication'], e
                assert (e['status'], e['type']) == (401, 'authentication_error'), e
            assert posts(f) == []
            # the upstream's 401 (the deployment's key refused), plain and streamed
            for case in ('error', 'errorStream'):
                f.queue('err-401')
                e = sdk(d, case)['error']
                assert e['class'] == 'AuthenticationError' and e['isAuthentication'], (case, e)
                assert (e['status'], e['code']) == (401, 'authentication'), e
                assert 'sk-test-key' not in e['message'], e
            # 429 as RateLimitError with Retry-After, through three dialects
            for group in ('gpt', 'claude', 'gemini'):
                for case in ('error', 'errorStream'):
                    f.queue('err-429:2')
                    e = sdk(d, case, group)['error']
                    assert e['class'] == 'RateLimitError' and e['isRateLimit'], (group, case, e)
                    assert (e['status'], e['type'], e['code']) == (429, 'rate_limit_error',
                                                                   'rate_limit'), e
                    assert e['retryAfter'] == '2', (group, case, e)
            n = len(posts(f))
            # AbortController: the stream stops at once and so does the upstream
            # (the SDK ends a stream's for-await quietly when its signal aborts)
            r = sdk(d, 'abort', 'slow')
            assert r == {'chunks': 1, 'aborted': True, 'error': None}, r
            wait_for(lambda: len(posts(f)) == n + 1 and posts(f)[-1]['aborted'],
                     what='the fake provider to record the aborted stream')
            # and the next request is served
            r = sdk(d, 'plain')
            assert r['completion']['choices'][0]['message']['content'] == 'hello from node', r
            assert not posts(f)[-1]['aborted']
