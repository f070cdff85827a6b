"""test_keys.py -- virtual keys, teams, budgets, limits, cost and the spend
ledger (issue 12), end to end through `llmux`, libllmux (the llmux helper
links it) and the protocol by hand: keys restricted to a group with a
custom per-token price, spent down to budget_exceeded, budget windows that
reset, rpm and parallel limits that hit and recover, dead keys refused, a
team budget over two keys, the overspend bound with 100 requests, kill -9
durability, schema migration, and no plaintext key on disk or in logs."""

import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time

from harness import LLMUX, Daemon, Fake, Raw, user, wait_for

NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']

IN, OUT = 0.001, 0.002          # USD per token on the 'cheap' group
PER_REQ = 1 * IN + 3 * OUT      # "hi" -> "one two three": 1 + 3 tokens

CONFIG = '''model_list:
  - model_name: cheap
    litellm_params:
      model: mock/demo
      mock_response: "one two three"
      input_cost_per_token: %g
      output_cost_per_token: %g
  - model_name: other
    litellm_params:
      model: mock/demo
''' % (IN, OUT)


def fake_config(fake, extra=''):
    return CONFIG + '''  - model_name: slow
    litellm_params:
      model: openai/delay:300
      api_base: %s/v1
      api_key: sk-test-key
      input_cost_per_token: %g
      output_cost_per_token: %g
%s''' % (fake.url, IN, OUT, extra)


def generate(d, *args):
    p = d.llmux('key', 'generate', *args)
    assert p.returncode == 0, p
    key = p.stdout.decode().strip()
    assert key.startswith('sk-') and len(key) >= 3 + 22, key   # >= 128 bits
    return key


def chat(d, key, model='cheap'):
    return d.llmux('chat', '-m', model, 'hi', env={'LLMUX_API_KEY': key})


def info(d, name):
    p = d.llmux('key', 'info', name)
    assert p.returncode == 0, p
    return json.loads(p.stdout)['info']


class Keyed(Raw):
    """The protocol by hand, with a key in the hello (protocol 2)."""

    def __init__(self, path, key):
        Raw.__init__(self, path, hello=False)
        self.send({'type': 'hello', 'version': 2, 'client': 'test', 'api_key': key})
        self.hello = self.recv()


def test_key_spends_down_to_budget_exceeded_at_its_price():
    with Daemon(CONFIG) as d:
        key = generate(d, '--alias', 'app', '--models', 'cheap', '--max-budget', '0.02')
        ok = 0
        while True:
            p = chat(d, key)
            if p.returncode != 0:
                break
            assert p.stdout.decode().strip() == 'one two three', p
            ok += 1
            assert ok < 10, 'the budget never ran out'
        # 0.007 a request: the third crosses 0.02, the fourth is refused.
        assert ok == 3, ok
        assert p.returncode == 13, p                       # budget_exceeded
        err = p.stderr.decode()
        assert "key 'app'" in err and '0.020000' in err and 'does not reset' in err, err
        i = info(d, 'app')
        assert abs(i['spend'] - 3 * PER_REQ) < 1e-9, i
        # Prometheus: spend by group, by key alias, and what is left.
        m = d.llmux('metrics').stdout.decode()
        assert 'llmux_spend_usd_total{group="cheap",deployment="deployment#1",' \
               'provider="mock"} 0.021000000' in m, m
        assert 'llmux_key_spend_usd{key_alias="app"} 0.021000000' in m, m
        assert 'llmux_key_budget_remaining_usd{key_alias="app"} -0.001000000' in m, m
        assert key not in m and key[3:] not in m
        # Its cost is in every done frame, at the deployment's prices.
        c = Keyed(d.sock, key)
        m = c.chat(1, {'model': 'cheap', 'messages': user('hi')})[-1]
        assert m['type'] == 'error' and m['error']['type'] == 'budget_exceeded', m
        c.close()


def test_done_carries_cost_and_other_models_are_denied():
    with Daemon(CONFIG) as d:
        key = generate(d, '--models', 'cheap')
        c = Keyed(d.sock, key)
        assert c.hello['type'] == 'hello' and c.hello['version'] == 2, c.hello
        done = c.chat(1, {'model': 'cheap', 'messages': user('hi')})[-1]
        assert done['type'] == 'done', done
        u = done['usage']
        assert abs(done['cost'] - (u['prompt_tokens'] * IN + u['completion_tokens'] * OUT)) < 1e-12, done
        assert done['cost'] > 0
        m = c.chat(2, {'model': 'other', 'messages': user('hi')})[-1]
        assert m['error']['type'] == 'permission_denied' and "'other'" in m['error']['message'], m
        c.close()
        p = chat(d, key, 'other')
        assert p.returncode == 5 and b"'other'" in p.stderr, p
        # No key: the peer's own policy (everything, here); a version 1
        # hello still works.
        r = Raw(d.sock)
        assert r.chat(1, {'model': 'other', 'messages': user('hi')})[-1]['type'] == 'done'
        r.close()


def test_wildcard_models():
    with Daemon(CONFIG) as d:
        key = generate(d, '--models', 'ch*')
        assert chat(d, key, 'cheap').returncode == 0
        assert chat(d, key, 'other').returncode == 5


def test_budget_window_resets():
    with Daemon(CONFIG) as d:
        key = generate(d, '--alias', 'win', '--max-budget', '0.001', '--budget-duration', '2s')
        assert chat(d, key).returncode == 0          # 0.007 > 0.001: spent
        p = chat(d, key)
        assert p.returncode == 13 and b'resets at' in p.stderr, p
        before = info(d, 'win')['budget_reset_at']
        assert before is not None
        # The window ends; the next request passes and the spend starts over.
        wait_for(lambda: chat(d, key).returncode == 0, timeout=15, step=0.2,
                 what='the budget window to reset')
        i = info(d, 'win')
        assert i['budget_reset_at'] > before, (before, i)
        assert abs(i['spend'] - PER_REQ) < 1e-9, i


def test_team_budget_caps_two_keys():
    with Daemon(CONFIG) as d:
        p = d.llmux('team', 'new', '--alias', 'ml', '--max-budget', '0.02')
        assert p.returncode == 0, p
        team = json.loads(p.stdout)['team_id']
        a = generate(d, '--alias', 'a', '--team', 'ml')
        b = generate(d, '--alias', 'b', '--team', team)
        ok = 0
        for i in range(8):
            p = chat(d, a if i % 2 == 0 else b)
            if p.returncode == 0:
                ok += 1
            else:
                assert p.returncode == 13 and b"team 'ml'" in p.stderr, p
        assert ok == 3, ok
        t = json.loads(d.llmux('team', 'info', 'ml').stdout)['team_info']
        assert sorted(t['keys']) == sorted([info(d, 'a')['token'], info(d, 'b')['token']]), t
        assert abs(t['spend'] - 3 * PER_REQ) < 1e-9, t
        # Deleting the team deletes its keys, now and after a restart (a
        # key must not outlive the team that bound it).
        assert d.llmux('team', 'delete', 'ml').returncode == 0
        assert chat(d, a).returncode == 4
        assert d.stop() == 0
        d.start()
        assert chat(d, b).returncode == 4
        assert d.llmux('key', 'info', 'a').returncode == 6        # not_found


def test_expired_blocked_and_deleted_keys_are_refused():
    with Daemon(CONFIG) as d:
        key = generate(d, '--alias', 'k')
        assert chat(d, key).returncode == 0
        assert d.llmux('key', 'block', 'k').returncode == 0
        p = chat(d, key)
        assert p.returncode == 4 and b'blocked' in p.stderr, p
        assert d.llmux('key', 'unblock', 'k').returncode == 0
        assert chat(d, key).returncode == 0
        # A connection open while the key is deleted: refused per request.
        c = Keyed(d.sock, key)
        assert d.llmux('key', 'delete', 'k').returncode == 0
        m = c.chat(1, {'model': 'cheap', 'messages': user('hi')})[-1]
        assert m['error']['type'] == 'authentication' and 'deleted' in m['error']['message'], m
        c.close()
        # A new connection with it: refused at the hello.
        p = chat(d, key)
        assert p.returncode == 4, p
        c = Keyed(d.sock, 'sk-not-a-key')
        assert c.hello['type'] == 'error' and c.hello['error']['type'] == 'authentication', c.hello
        c.close()
        short = generate(d, '--duration', '1s')
        wait_for(lambda: chat(d, short).returncode == 4, timeout=10, step=0.2,
                 what='the key to expire')
        assert b'expired' in chat(d, short).stderr


def test_regenerate_keeps_settings_and_kills_the_old_key():
    with Daemon(CONFIG) as d:
        old = generate(d, '--alias', 'r', '--models', 'cheap')
        assert chat(d, old).returncode == 0
        p = d.llmux('key', 'regenerate', 'r')
        assert p.returncode == 0, p
        new = p.stdout.decode().strip()
        assert new.startswith('sk-') and new != old
        assert chat(d, old).returncode == 4
        assert chat(d, new).returncode == 0
        assert chat(d, new, 'other').returncode == 5
        assert abs(info(d, 'r')['spend'] - 2 * PER_REQ) < 1e-9


def test_rpm_limit_hits_and_recovers():
    with Daemon(CONFIG) as d:
        key = generate(d, '--rpm', '1')
        c = Keyed(d.sock, key)
        assert c.chat(1, {'model': 'cheap', 'messages': user('hi')})[-1]['type'] == 'done'
        m = c.chat(2, {'model': 'cheap', 'messages': user('hi')})[-1]
        assert m['error']['type'] == 'rate_limit', m
        assert 0 < m['error']['retry_after'] <= 60, m
        n = [3]

        def passes():
            n[0] += 1
            return c.chat(n[0], {'model': 'cheap', 'messages': user('hi')})[-1]['type'] == 'done'
        wait_for(passes, timeout=75, step=1, what='the rpm window to free')
        c.close()


def test_parallel_limit_hits_and_recovers():
    with Fake() as fake, Daemon(fake_config(fake)) as d:
        key = generate(d, '--parallel', '1')
        c = Keyed(d.sock, key)
        c.request(1, {'model': 'slow', 'messages': user('hi')})
        c.request(2, {'model': 'slow', 'messages': user('hi')})
        ends = {}
        while len(ends) < 2:
            m = c.recv()
            if m['type'] in ('done', 'error'):
                ends[m['id']] = m
        assert ends[1]['type'] == 'done', ends
        assert ends[2]['error']['type'] == 'rate_limit' and 'max_parallel_requests' in \
            ends[2]['error']['message'], ends
        assert c.chat(3, {'model': 'slow', 'messages': user('hi')})[-1]['type'] == 'done'
        c.close()


def test_overspend_bound_with_100_racing_requests():
    """Budget for 5 requests, 100 requests with 10 in flight at a time: once
    the budget is crossed no request is admitted, so at most the ones in
    flight then complete."""
    with Fake() as fake, Daemon(fake_config(fake)) as d:
        key = generate(d, '--alias', 'race')
        c = Keyed(d.sock, key)
        first = c.chat(1, {'model': 'slow', 'messages': user('hi')})[-1]
        cost = first['cost']
        assert first['type'] == 'done' and cost > 0, first
        # Room for 5 more requests, then the budget is crossed.
        assert d.llmux('key', 'update', 'race', '--max-budget', repr(cost * 5.5)).returncode == 0
        sent, ends, inflight, N, WIDTH = 0, {}, 0, 100, 10
        while len(ends) < N:
            while inflight < WIDTH and sent < N:
                sent += 1
                c.request(100 + sent, {'model': 'slow', 'messages': user('hi')})
                inflight += 1
            m = c.recv(60)
            assert m is not None
            if m['type'] in ('done', 'error'):
                ends[m['id']] = m
                inflight -= 1
        ok = [m for m in ends.values() if m['type'] == 'done']
        refused = [m for m in ends.values() if m['type'] == 'error']
        assert all(m['error']['type'] == 'budget_exceeded' for m in refused), refused[:3]
        # 5 fit (5.5 x cost after the first); the 6th crosses; at most the
        # other 9 in flight with it complete.
        assert 6 <= len(ok) <= 6 + WIDTH - 1, len(ok)
        assert len(ok) + len(refused) == N
        i = info(d, 'race')
        assert abs(i['spend'] - cost * (1 + len(ok))) < 1e-9, (i, len(ok))
        c.close()


def db_path(d):
    return os.path.join(d.dir, 'state', 'llmux', 'llmux.db')


def test_sigkill_loses_nothing_that_ended_a_second_before():
    with Daemon(CONFIG) as d:
        key = generate(d, '--alias', 'dur')
        c = Keyed(d.sock, key)
        ended, i = [], 0
        start = time.monotonic()
        # Requests keep ending right up to the kill; only those that ended
        # more than 1 s before it must be on disk.
        while time.monotonic() - start < 2.5:
            i += 1
            assert c.chat(i, {'model': 'cheap', 'messages': user('hi')})[-1]['type'] == 'done'
            ended.append(time.time())
        killed = time.time()
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        must = sum(1 for t in ended if t < killed - 1.0)
        assert must > 0
        db = sqlite3.connect(db_path(d))
        n = db.execute("SELECT COUNT(*) FROM spend WHERE key_alias = 'dur' AND status = 'ok'").fetchone()[0]
        db.close()
        assert n >= must, (n, must, len(ended))
        # And the daemon starts again on it, with the key and its spend.
        # It starts again on it, with the key; the key's running spend is
        # written with the same batches, so it covers the rows on disk.
        d.start()
        assert info(d, 'dur')['spend'] >= n * PER_REQ - 1e-6


def test_sigterm_flushes_and_spend_survives_restart():
    with Daemon(CONFIG) as d:
        key = generate(d, '--alias', 's')
        for _ in range(3):
            assert chat(d, key).returncode == 0
        assert d.stop() == 0
        db = sqlite3.connect(db_path(d))
        assert db.execute("SELECT COUNT(*) FROM spend WHERE key_alias = 's'").fetchone()[0] == 3
        db.close()
        d.start()
        assert abs(info(d, 's')['spend'] - 3 * PER_REQ) < 1e-9
        p = d.llmux('spend', '--by', 'key', '--json')
        rows = json.loads(p.stdout)['data']
        assert [r['requests'] for r in rows if r['key'] == 's'] == [3], rows
        p = d.llmux('spend', '--by', 'model')
        assert p.returncode == 0 and b'cheap' in p.stdout and b'0.021000' in p.stdout, p
        assert chat(d, key).returncode == 0     # the key survived too


def test_migration_from_empty_and_refusals():
    d = Daemon(CONFIG, start=False)
    path = os.path.join(d.dir, 'given.db')
    open(path, 'wb').close()                     # an empty file
    d.write_config(CONFIG + 'llmux_settings:\n  database: %s\n' % path)
    d.start()
    try:
        assert 'keys and spend in %s' % path in d.log()
        db = sqlite3.connect(path)
        assert db.execute('PRAGMA user_version').fetchone()[0] == 1
        assert db.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {'keys', 'teams', 'budgets', 'spend'} <= tables, tables
        db.close()
    finally:
        assert d.stop() == 0
    # A newer schema than ours: refused with the reason.
    db = sqlite3.connect(path)
    db.execute('PRAGMA user_version = 99')
    db.commit()
    db.close()
    p = subprocess.run(d.command(), env=d.env, capture_output=True, timeout=30)
    assert p.returncode != 0 and b'schema version 99' in p.stderr, p
    # Not a database at all: refused.
    with open(path, 'wb') as f:
        f.write(b'x' * 8192)
    for suffix in ('-wal', '-shm'):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    p = subprocess.run(d.command(), env=d.env, capture_output=True, timeout=30)
    assert p.returncode != 0 and path.encode() in p.stderr, p


def test_database_url_is_reported_as_not_used():
    d = Daemon(CONFIG + 'general_settings:\n  database_url: postgresql://x\n')
    try:
        assert 'general_settings.database_url is not used: llmux keeps keys and spend in its ' \
               'embedded database at %s' % db_path(d) in d.log(), d.log()
    finally:
        d.stop()


def test_no_plaintext_key_on_disk_or_in_logs():
    with Daemon(CONFIG) as d:
        key = generate(d, '--alias', 'secret')
        assert chat(d, key).returncode == 0
        assert chat(d, key, 'nope').returncode != 0
        c = Keyed(d.sock, key[:-1] + ('A' if key[-1] != 'A' else 'B'))   # a near miss
        c.close()
        assert d.stop() == 0
        folder = os.path.dirname(db_path(d))
        files = [os.path.join(folder, f) for f in os.listdir(folder)] + [d.logpath]
        assert any(f.endswith('llmux.db') for f in files)
        for f in files:
            data = open(f, 'rb').read()
            assert key.encode() not in data and key[3:].encode() not in data, f
        assert 'secret' in open(d.logpath).read()     # named by its alias


def test_admin_ops_are_for_admins_and_a_holder_reads_its_own_info():
    if os.getuid() != 0:
        return      # another uid needs root to switch to
    with Daemon(CONFIG) as d:
        os.chmod(d.dir, 0o755)
        os.chmod(d.sock, 0o666)
        key = generate(d, '--alias', 'mine')
        env = dict(d.env, LLMUX_SOCKET=d.sock)
        p = subprocess.run(NOBODY + [LLMUX, 'key', 'generate'], env=env, capture_output=True,
                           timeout=30)
        assert p.returncode == 5 and b'admin' in p.stderr, p
        env['LLMUX_API_KEY'] = key
        p = subprocess.run(NOBODY + [LLMUX, 'key', 'info', 'mine'], env=env,
                           capture_output=True, timeout=30)
        assert p.returncode == 0 and json.loads(p.stdout)['info']['key_alias'] == 'mine', p
        p = subprocess.run(NOBODY + [LLMUX, 'key', 'list'], env=env, capture_output=True, timeout=30)
        assert p.returncode == 5, p
        other = generate(d, '--alias', 'theirs')
        assert other
        p = subprocess.run(NOBODY + [LLMUX, 'key', 'info', 'theirs'], env=env,
                           capture_output=True, timeout=30)
        assert p.returncode == 5, p


def test_caller_policy_by_uid_and_group():
    if os.getuid() != 0:
        return      # other uids need root to switch to
    cfg = CONFIG + '''llmux_settings:
  callers:
    - user: 65534
      models: [cheap]
      max_budget: 0.01
    - group: 23456
      models: [other]
      rpm_limit: 1
    - default: true
      models: [other]
'''
    with Daemon(cfg) as d:
        os.chmod(d.dir, 0o755)
        os.chmod(d.sock, 0o666)
        env = dict(d.env, LLMUX_SOCKET=d.sock)

        def run(who, model):
            return subprocess.run(who + [LLMUX, 'chat', '-m', model, 'hi'], env=env,
                                  capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        nobody = NOBODY
        grp = ['setpriv', '--reuid=23457', '--regid=23456', '--clear-groups']
        assert run(nobody, 'other').returncode == 5
        assert run(nobody, 'cheap').returncode == 0
        assert run(nobody, 'cheap').returncode == 0       # 0.014 > 0.01 now
        p = run(nobody, 'cheap')
        assert p.returncode == 13 and b'uid 65534' in p.stderr, p
        assert run(grp, 'cheap').returncode == 5          # its group's entry
        assert run(grp, 'other').returncode == 0
        p = run(grp, 'other')
        assert p.returncode == 9 and b'rpm_limit' in p.stderr, p    # rate_limit
        # Root has no entry of its own: the default one.
        p = d.llmux('chat', '-m', 'cheap', 'hi')
        assert p.returncode == 5 and b'llmux_settings.callers' in p.stderr, p
        assert d.llmux('chat', '-m', 'other', 'hi').returncode == 0
        # Spend is recorded per uid, and survives a restart.
        rows = json.loads(d.llmux('spend', '--by', 'user', '--json').stdout)['data']
        assert [r['requests'] for r in rows if r['user'] == '65534'] == [4], rows
        assert d.stop() == 0
        d.start()
        os.chmod(d.sock, 0o666)
        p = run(nobody, 'cheap')
        assert p.returncode == 13, p
    cfg_nodefault = CONFIG + 'llmux_settings:\n  callers:\n    - user: 65534\n'
    with Daemon(cfg_nodefault) as d:
        p = d.llmux('chat', '-m', 'cheap', 'hi')
        assert p.returncode == 5 and b'matches no llmux_settings.callers entry' in p.stderr, p


MK = 'sk-master-0a1b2c3d4e5f6071'


def http_chat(port, key, model='cheap'):
    """POST /v1/chat/completions with key as the bearer token: status,
    headers (lower-case names) and the JSON answer."""
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    body = {'model': model, 'messages': [{'role': 'user', 'content': 'hi'}]}
    c.request('POST', '/v1/chat/completions', json.dumps(body),
              {'Content-Type': 'application/json', 'Authorization': 'Bearer ' + key})
    r = c.getresponse()
    data = json.loads(r.read() or b'null')
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def http_daemon():
    """llmuxd on CONFIG with the master key MK and an HTTP listener on a
    free port: the daemon and the port."""
    d = Daemon(CONFIG + 'general_settings:\n  master_key: os.environ/LLMUX_MK\n',
               env={'LLMUX_MK': MK}, args=['--http', '127.0.0.1:0'])
    m = wait_for(lambda: re.search(r'serving the OpenAI API on http://127\.0\.0\.1:(\d+)',
                                   d.log()), what='the http listener line')
    return d, int(m.group(1))


def test_virtual_key_as_http_bearer():
    d, port = http_daemon()
    try:
        key = generate(d, '--alias', 'web', '--models', 'cheap',
                       '--max-budget', '%g' % (PER_REQ * 1.5))
        st, h, ans = http_chat(port, key)
        assert st == 200, (st, ans)
        assert ans['choices'][0]['message']['content'] == 'one two three', ans
        assert abs(float(h['x-litellm-response-cost']) - PER_REQ) < 1e-9, h
        assert abs(float(h['x-litellm-key-spend']) - PER_REQ) < 1e-9, h
        # the key's own models: another group is the key's refusal
        st, h, ans = http_chat(port, key, model='other')
        assert st == 403 and "key 'web' may not use model 'other'" in ans['error']['message'], ans
        st, h, ans = http_chat(port, key)          # spends past the budget
        assert st == 200 and abs(float(h['x-litellm-key-spend']) - 2 * PER_REQ) < 1e-9, h
        st, h, ans = http_chat(port, key)
        assert st == 400 and ans['error']['code'] == 'budget_exceeded', ans
        assert "key 'web'" in ans['error']['message'], ans
        # a key this llmuxd did not issue is a 401, the master key still serves
        st, h, ans = http_chat(port, key[:-1] + ('x' if key[-1] != 'x' else 'y'))
        assert st == 401 and ans['error']['type'] == 'authentication_error', ans
        st, h, ans = http_chat(port, MK)
        assert st == 200 and 'x-litellm-key-spend' not in h, (st, h)
        assert abs(info(d, 'web')['spend'] - 2 * PER_REQ) < 1e-9
        log = d.log()
        assert key not in log and key[3:15] not in log and MK not in log
    finally:
        d.stop()


def read_chunked(sock):
    """A chunked HTTP/1.1 response read off a raw socket: the head's
    headers, the body, and the trailer fields after the last chunk (names
    lower-case)."""
    f = sock.makefile('rb')
    status = f.readline()
    head = {}
    for line in iter(f.readline, b'\r\n'):
        k, _, v = line.decode().partition(':')
        head[k.strip().lower()] = v.strip()
    body = b''
    while True:
        n = int(f.readline().split(b';')[0], 16)
        if n == 0:
            break
        body += f.read(n)
        assert f.read(2) == b'\r\n'
    trailers = {}
    for line in iter(f.readline, b'\r\n'):
        k, _, v = line.decode().partition(':')
        trailers[k.strip().lower()] = v.strip()
    return status, head, body, trailers


def test_streamed_http_answer_carries_cost_as_trailers():
    """A stream's cost is known at its end only: it follows the last chunk
    as trailer fields, announced in the head."""
    d, port = http_daemon()
    try:
        key = generate(d, '--alias', 'streamer', '--models', 'cheap')
        body = json.dumps({'model': 'cheap', 'stream': True,
                           'messages': [{'role': 'user', 'content': 'hi'}]}).encode()
        for spent in (1, 2):
            s = socket.create_connection(('127.0.0.1', port), timeout=30)
            s.sendall(b'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'
                      b'Content-Type: application/json\r\nConnection: close\r\n'
                      b'Authorization: Bearer ' + key.encode() + b'\r\n'
                      b'Content-Length: %d\r\n\r\n' % len(body) + body)
            status, head, text, trailers = read_chunked(s)
            s.close()
            assert b' 200 ' in status, status
            assert head['trailer'] == 'x-litellm-response-cost, x-litellm-key-spend', head
            assert 'x-litellm-response-cost' not in head, head
            assert text.endswith(b'data: [DONE]\n\n'), text
            assert abs(float(trailers['x-litellm-response-cost']) - PER_REQ) < 1e-9, trailers
            assert abs(float(trailers['x-litellm-key-spend']) - spent * PER_REQ) < 1e-9, trailers
    finally:
        d.stop()
