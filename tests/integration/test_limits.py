"""test_limits.py -- deployment rpm/tpm in the same sliding one-minute
windows as keys, teams and callers (daemon/window.c), end to end against
the fake provider: routing skips a deployment that used its minute, a
group whose deployments all did answers rate_limit with the seconds until
the first window frees, and a reload keeps the windows of the deployments
that stay."""

import signal

from harness import Daemon, Fake, user, wait_for


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
            c.close()
