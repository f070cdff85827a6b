"""test_limits.py -- deployment rpm/tpm in the same sliding one-minute
windows as keys, teams and callers (daemon/window.c), end to end against
the fake provider: routing skips a deployment that used its minute, a
group whose deployments all did answers rate_limit with the seconds until
the first window frees, and a reload keeps the windows of the deployments
that stay."""

import json
import os
import pwd
import re
import signal

from harness import Daemon, Fake, user, wait_for


def status_health(d):
    """Each deployment's health as `llmux status` shows it."""
    p = d.llmux('status')
    assert p.returncode == 0, p
    return {x['id']: x['health'] for x in json.loads(p.stdout)['deployments']}


def dep(fake, id, extra):
    return '''  - model_name: g
    litellm_params:
      model: openai/text
      api_base: %s/v1
      api_key: sk-test-key
%s    model_info:
      id: %s
''' % (fake.url, extra, id)


def test_deployment_rpm_splits_then_rate_limits_and_survives_reload():
    with Fake() as f:
        cfg = ('model_list:\n' + dep(f, 'a', '      rpm: 2\n') +
               dep(f, 'b', '      rpm: 2\n'))
        with Daemon(cfg) as d:
            c = d.client()
            served = []
            for i in range(1, 5):
                x = c.chat(i, {'model': 'g', 'messages': user('hi')})[-1]
                assert x['type'] == 'done', x
                served.append(x['deployment'])
            # four requests, two per deployment: each used its rpm
            assert sorted(served) == ['a', 'a', 'b', 'b'], served
            e = c.chat(5, {'model': 'g', 'messages': user('hi')})[-1]
            assert e['type'] == 'error', e
            assert e['error']['type'] == 'rate_limit', e
            assert 1 <= e['error']['retry_after'] <= 60, e
            assert 'rpm/tpm' in e['error']['message'], e
            assert len(f.requests()) == 4, f.requests()
            # status shows each window at its limit
            h = status_health(d)
            assert [(h[x]['rpm_used'], h[x]['rpm_limit']) for x in 'ab'] == [(2, 2), (2, 2)], h
            assert 'tpm_used' not in h['a'], h
            # a reload that keeps both deployments keeps their windows
            d.signal(signal.SIGHUP)
            wait_for(lambda: 'reloaded' in d.log(), timeout=5, what='the reload')
            e = c.chat(6, {'model': 'g', 'messages': user('hi')})[-1]
            assert e['type'] == 'error' and e['error']['type'] == 'rate_limit', e
            assert len(f.requests()) == 4, f.requests()
            c.close()


def test_tpm_limited_deployment_is_skipped_after_its_tokens():
    # Each answer of the fake's 'text' scenario uses 51 tokens: a (the
    # first order tier) has used its 100 after two requests, then b serves.
    with Fake() as f:
        cfg = ('model_list:\n' + dep(f, 'a', '      tpm: 100\n      order: 1\n') +
               dep(f, 'b', '      order: 2\n'))
        with Daemon(cfg) as d:
            c = d.client()
            served = []
            for i in range(1, 6):
                x = c.chat(i, {'model': 'g', 'messages': user('hi')})[-1]
                assert x['type'] == 'done', x
                served.append(x['deployment'])
            assert served == ['a', 'a', 'b', 'b', 'b'], served
            h = status_health(d)
            assert h['a']['tpm_used'] == 102 and h['a']['tpm_limit'] == 100, h
            assert 'rpm_used' not in h['a'] and 'tpm_used' not in h['b'], h
            c.close()


# ---- who paid, in Prometheus -----------------------------------------------

IN, OUT = 0.001, 0.002          # USD per token on 'cheap'
PER_REQ = 1 * IN + 3 * OUT      # "hi" -> "one two three": 1 + 3 tokens


def metric(text, name, **labels):
    """The value of the one sample of name with exactly these labels."""
    want = ','.join('%s="%s"' % kv for kv in labels.items())
    line = '%s{%s} ' % (name, want) if labels else name + ' '
    vals = [float(l[len(line):]) for l in text.splitlines() if l.startswith(line)]
    assert len(vals) == 1, (name, labels, vals, text)
    return vals[0]


def test_spend_and_tokens_by_key_alias_and_caller():
    me = pwd.getpwuid(os.getuid()).pw_name
    cfg = '''model_list:
  - model_name: cheap
    litellm_params:
      model: mock/demo
      mock_response: "one two three"
      input_cost_per_token: %g
      output_cost_per_token: %g
llmux_settings:
  callers:
    - user: %s
      models: [cheap]
      max_budget: 1
''' % (IN, OUT, me)
    with Daemon(cfg) as d:
        p = d.llmux('team', 'new', '--alias', 'ml', '--max-budget', '0.5')
        assert p.returncode == 0, p
        keys = []
        for args in (['--alias', 'app', '--team', 'ml'], []):
            p = d.llmux('key', 'generate', *args)
            assert p.returncode == 0, p
            keys.append(p.stdout.decode().strip())
        app, bare = keys
        for key, n in ((app, 2), (bare, 1), (None, 3)):
            env = {'LLMUX_API_KEY': key} if key else None
            for _ in range(n):
                p = d.llmux('chat', '-m', 'cheap', 'hi', env=env)
                assert p.returncode == 0, p
        m = d.llmux('metrics').stdout.decode()
        hint = 'sk-...' + bare[-4:]
        for labels, n in (({'key_alias': 'app'}, 2), ({'key_alias': hint}, 1),
                          ({'caller': me}, 3)):
            assert abs(metric(m, 'llmux_spend_usd_total', **labels) - n * PER_REQ) < 1e-9
            assert metric(m, 'llmux_tokens_total', **labels, kind='prompt') == n
            assert metric(m, 'llmux_tokens_total', **labels, kind='completion') == 3 * n
        # the group's own series still counts everything, once
        assert abs(metric(m, 'llmux_spend_usd_total', group='cheap',
                          deployment='deployment#1', provider='mock') - 6 * PER_REQ) < 1e-9
        assert abs(metric(m, 'llmux_caller_budget_remaining_usd', caller=me,
                          uid=str(os.getuid())) - (1 - 3 * PER_REQ)) < 1e-9
        assert abs(metric(m, 'llmux_caller_spend_usd', caller=me,
                          uid=str(os.getuid())) - 3 * PER_REQ) < 1e-9
        assert abs(metric(m, 'llmux_team_budget_remaining_usd', team='ml') -
                   (0.5 - 2 * PER_REQ)) < 1e-9
        for k in keys:                      # no piece of a key beyond its hint
            assert k not in m and k[3:] not in m and k[3:-4] not in m
        # the request log line (fields built by hand, not by printf)
        lines = [l for l in d.log().splitlines() if 'LLMUX_KEY=app' in l]
        assert len(lines) == 2, d.log()
        assert ' LLMUX_TOKENS=1+3 ' in lines[0] and ' LLMUX_STATUS=ok ' in lines[0], lines
        assert ' LLMUX_COST_USD=0.00700000 ' in lines[0], lines
        assert re.search(r'^<6>request LLMUX_REQUEST=\d+ LLMUX_UID=%d LLMUX_PID=\d+ '
                         r'LLMUX_FRONTEND=socket LLMUX_MODEL=cheap ' % os.getuid(), lines[0]), lines
