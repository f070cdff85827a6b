"""test_http_keys.py -- LiteLLM's key, team and spend endpoints on llmuxd's
HTTP front end (daemon/http_admin.c onto daemon/keyops.c), with
http.client against `llmuxd --http 127.0.0.1:PORT` and the fake provider:
a key made over HTTP restricted to one group with a budget, used on
/v1/chat/completions until its budget runs out, read as its holder and as
the master, listed, updated, blocked and unblocked, regenerated, deleted;
a team's cap over two keys; /spend/logs rows and their filters; who may
call what (the master key on TCP, none without one; the peer on a Unix
listener); malformed requests; and no plaintext key in the log or the
database."""

import datetime
import http.client
import json
import os
import re
import subprocess
import tempfile

from harness import Daemon, Fake, Skip, wait_for

MASTER = 'sk-master-0c9e2b7a51d84f36'
IN, OUT = 0.001, 0.002          # USD per token on group "gpt"


def config(fake):
    return '''model_list:
  - model_name: gpt
    litellm_params:
      model: openai/echo
      api_base: %s/v1
      api_key: sk-test-key
      input_cost_per_token: %g
      output_cost_per_token: %g
  - model_name: other
    litellm_params:
      model: openai/echo
      api_base: %s/v1
      api_key: sk-test-key
general_settings:
  master_key: os.environ/LLMUX_MK
''' % (fake.url, IN, OUT, fake.url)


class Api:
    """One keep-alive connection to llmuxd's HTTP listener."""

    def __init__(self, port):
        self.c = http.client.HTTPConnection('127.0.0.1', port, timeout=30)

    def call(self, method, path, body=None, key=MASTER, raw=None, ctype='application/json'):
        headers = {}
        if key:
            headers['Authorization'] = 'Bearer ' + key
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None and ctype:
            headers['Content-Type'] = ctype
        self.c.request(method, path, body=data, headers=headers)
        r = self.c.getresponse()
        text = r.read()
        r.body = json.loads(text) if text else None
        return r

    def ok(self, method, path, body=None, key=MASTER):
        r = self.call(method, path, body, key)
        assert r.status == 200, (method, path, r.status, r.body)
        return r.body

    def chat(self, key, model='gpt', text='hi'):
        return self.call('POST', '/v1/chat/completions',
                         {'model': model, 'messages': [{'role': 'user', 'content': text}]}, key)

    def close(self):
        self.c.close()


def start(fake):
    d = Daemon(config(fake), env={'LLMUX_MK': MASTER}, args=['--http', '127.0.0.1:0'])
    m = wait_for(lambda: re.search(r'serving the OpenAI API on http://127\.0\.0\.1:(\d+)', d.log()),
                 what='the http listener line')
    d.port = int(m.group(1))
    return d


def error(r, status, etype, code=None):
    """OpenAI's error JSON, as the rest of the HTTP front end answers."""
    assert r.status == status, (r.status, r.body)
    assert r.getheader('content-type') == 'application/json'
    e = r.body['error']
    assert set(e) >= {'message', 'type', 'param', 'code'} and e['message'], e
    assert e['type'] == etype, e
    if code:
        assert e['code'] == code, e
    return e['message']


def db_file(d):
    return os.path.join(d.dir, 'state', 'llmux', 'llmux.db')


def no_plaintext(d, keys):
    """The log and every database file (WAL included) lack each key."""
    folder = os.path.dirname(db_file(d))
    files = [os.path.join(folder, f) for f in os.listdir(folder)] + [d.logpath]
    assert any(f.endswith('llmux.db') for f in files), files
    for f in files:
        data = open(f, 'rb').read()
        for k in keys:
            assert k.encode() not in data and k[3:].encode() not in data, (f, k)


def test_http_key_generate_use_info_list_update():
    with Fake() as f, start(f) as d:
        a = Api(d.port)
        g = a.ok('POST', '/key/generate', {'key_alias': 'app', 'models': ['gpt'],
                                            'max_budget': 0.5, 'metadata': {'team': 'x'}})
        key = g['key']
        assert key.startswith('sk-') and len(key) >= 3 + 22, g
        assert re.fullmatch('[0-9a-f]{64}', g['token']) and g['key_alias'] == 'app', g
        assert g['expires'] is None and g['models'] == ['gpt'] and g['max_budget'] == 0.5, g
        # The key works on its group, and only there.
        r = a.chat(key)
        assert r.status == 200 and r.body['choices'][0]['message']['content'] == 'hi', r.body
        spend = float(r.getheader('x-litellm-key-spend'))
        assert spend > 0 and float(r.getheader('x-litellm-response-cost')) == spend, r.getheaders()
        assert 'other' in error(a.chat(key, 'other'), 403, 'permission_error', 'permission_denied')
        # Its holder reads its own info: with no key, or naming itself.
        for path in ('/key/info', '/key/info?key=' + key, '/v1/key/info?key=app'):
            i = a.ok('GET', path, key=key)
            assert i['key'] == g['token'] and i['info']['key_alias'] == 'app', i
            assert abs(i['info']['spend'] - spend) < 1e-12 and i['info']['max_budget'] == 0.5, i
            assert key not in json.dumps(i)
        # The master reads it by key, token or alias.
        for name in (key, g['token'], 'app'):
            i = a.ok('GET', '/key/info?key=' + name)
            assert i['key'] == g['token'] and i['info']['metadata'] == {'team': 'x'}, i
        error(a.call('GET', '/key/info?key=nosuch'), 404, 'not_found_error', 'not_found')
        other = a.ok('POST', '/key/generate', {'key_alias': 'theirs'})
        # A holder reads no other key, and nothing else.
        error(a.call('GET', '/key/info?key=theirs', key=key), 403, 'permission_error')
        for m, p, b in (('POST', '/key/generate', {}), ('GET', '/key/list', None),
                        ('POST', '/key/update', {'key': key, 'max_budget': 100}),
                        ('POST', '/key/unblock', {'key': key}), ('POST', '/key/delete', {'keys': [other['key']]}),
                        ('POST', '/key/%s/regenerate' % key, None), ('GET', '/spend/logs', None),
                        ('POST', '/team/new', {}), ('GET', '/team/list', None)):
            msg = error(a.call(m, p, b, key=key), 403, 'permission_error')
            assert 'master key' in msg, msg
        # Without a key, or with a wrong one: 401.
        error(a.call('GET', '/key/list', key=None), 401, 'authentication_error')
        error(a.call('POST', '/key/generate', {}, key=MASTER + 'x'), 401, 'authentication_error')
        # The list, in LiteLLM's shape.
        lst = a.ok('GET', '/key/list')
        assert sorted(lst['keys']) == sorted([g['token'], other['token']]), lst
        assert lst['total_count'] == 2 and lst['current_page'] == 1 and lst['total_pages'] == 1, lst
        full = a.ok('GET', '/key/list?return_full_object=true&page=1&size=10')
        assert {k['key_alias'] for k in full['keys']} == {'app', 'theirs'}, full
        # Pages of one: each key once, in two pages; past the last, none.
        p1, p2, p3 = (a.ok('GET', '/key/list?size=1&page=%d' % n) for n in (1, 2, 3))
        assert p1['total_pages'] == 2 and p2['current_page'] == 2, (p1, p2)
        assert sorted(p1['keys'] + p2['keys']) == sorted(lst['keys']) and p3['keys'] == [], (p1, p2, p3)
        error(a.call('GET', '/key/list?size=ten'), 400, 'invalid_request_error')
        error(a.call('GET', '/key/list?x=%zz'), 400, 'invalid_request_error')
        # An update narrows the budget; the key runs out and is refused.
        u = a.ok('POST', '/key/update', {'key': 'app', 'max_budget': spend * 2.5, 'rpm_limit': 100})
        assert u['rpm_limit'] == 100 and abs(u['max_budget'] - spend * 2.5) < 1e-12, u
        codes = [a.chat(key).status for _ in range(4)]
        assert codes[:2] == [200, 200] and codes[2:] == [400, 400], codes
        error(a.chat(key), 400, 'invalid_request_error', 'budget_exceeded')
        a.ok('POST', '/key/update', {'key': 'app', 'max_budget': None})
        assert a.chat(key).status == 200
        a.close()
        assert d.stop() == 0
        no_plaintext(d, [key, other['key'], MASTER])


def test_http_key_block_regenerate_delete():
    with Fake() as f, start(f) as d:
        a = Api(d.port)
        key = a.ok('POST', '/key/generate', {'key_alias': 'b'})['key']
        assert a.chat(key).status == 200
        b = a.ok('POST', '/key/block', {'key': key})
        assert b['blocked'] is True, b
        assert 'blocked' in error(a.chat(key), 401, 'authentication_error')
        assert a.ok('POST', '/key/unblock', {'key': 'b'})['blocked'] is False
        assert a.chat(key).status == 200
        # Regenerate, with the key in the path: the old one stops at once.
        n = a.ok('POST', '/key/%s/regenerate' % key)
        new = n['key']
        assert new != key and new.startswith('sk-') and n['key_alias'] == 'b', n
        error(a.chat(key), 401, 'authentication_error')
        assert a.chat(new).status == 200
        # And with the key in the body (by alias).
        newer = a.ok('POST', '/key/regenerate', {'key': 'b'})['key']
        error(a.chat(new), 401, 'authentication_error')
        assert a.chat(newer).status == 200
        error(a.call('POST', '/key/sk-nosuch/regenerate'), 404, 'not_found_error')
        # Delete by key, and by alias.
        tok = a.ok('GET', '/key/info?key=b')['key']
        dl = a.ok('POST', '/key/delete', {'keys': [newer]})
        assert dl == {'deleted_keys': [tok]}, dl
        error(a.chat(newer), 401, 'authentication_error')
        error(a.call('GET', '/key/info?key=b'), 404, 'not_found_error')
        k2 = a.ok('POST', '/key/generate', {'key_alias': 'c'})
        assert a.ok('POST', '/key/delete', {'key_aliases': ['c']}) == {'deleted_keys': [k2['token']]}
        error(a.chat(k2['key']), 401, 'authentication_error')
        assert a.ok('GET', '/key/list')['keys'] == []
        a.close()
        assert d.stop() == 0
        no_plaintext(d, [key, new, newer, k2['key']])


def test_http_team_caps_two_keys():
    with Fake() as f, start(f) as d:
        a = Api(d.port)
        t = a.ok('POST', '/team/new', {'team_alias': 'ml', 'models': ['gpt'], 'max_budget': 1e-9})
        tid = t['team_id']
        assert t['team_alias'] == 'ml' and t['max_budget'] == 1e-9, t
        k1 = a.ok('POST', '/key/generate', {'team_id': tid})['key']
        k2 = a.ok('POST', '/key/generate', {'team_id': 'ml'})['key']
        assert a.chat(k1).status == 200          # the first crosses the team's budget
        for k in (k1, k2):
            assert 'team' in error(a.chat(k), 400, 'invalid_request_error', 'budget_exceeded')
        i = a.ok('GET', '/team/info?team_id=' + tid)
        assert i['team_id'] == tid and i['team_info']['spend'] > 0, i
        assert len(i['team_info']['keys']) == 2, i
        lst = a.ok('GET', '/team/list')
        assert isinstance(lst, list) and [x['team_id'] for x in lst] == [tid], lst
        error(a.call('GET', '/team/info?team_id=nosuch'), 404, 'not_found_error')
        # The team's models bind its keys too.
        error(a.chat(k2, 'other'), 403, 'permission_error', 'permission_denied')
        dl = a.ok('POST', '/team/delete', {'team_ids': [tid]})
        assert dl['deleted_teams'] == [tid], dl
        assert a.ok('GET', '/team/list') == []
        error(a.chat(k1), 401, 'authentication_error')   # its keys went with it
        a.close()


def test_http_spend_logs_rows_and_filters():
    with Fake() as f, start(f) as d:
        a = Api(d.port)
        g = a.ok('POST', '/key/generate', {'key_alias': 'logged', 'models': ['gpt']})
        key, tok = g['key'], g['token']
        ids = []
        for text in ('one', 'two three'):
            r = a.chat(key, text=text)
            assert r.status == 200
            ids.append(r.getheader('x-litellm-call-id'))
        assert a.chat(MASTER, 'other').status == 200         # a row of no key
        rows = a.ok('GET', '/spend/logs?api_key=' + tok)
        assert isinstance(rows, list) and len(rows) == 2, rows
        for row in rows:
            assert row['api_key'] == tok and row['key_alias'] == 'logged', row
            assert row['model_group'] == 'gpt' and row['model'] and row['status'] == 'success', row
            assert row['llmux_status'] == 'ok', row
            assert row['prompt_tokens'] > 0 and row['completion_tokens'] > 0, row
            assert row['total_tokens'] == row['prompt_tokens'] + row['completion_tokens'], row
            want = row['prompt_tokens'] * IN + row['completion_tokens'] * OUT
            assert abs(row['spend'] - want) < 1e-12, row
            iso = r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$'
            assert re.match(iso, row['startTime']) and re.match(iso, row['endTime']), row
            assert row['startTime'] <= row['endTime'], row
            assert row['request_id'], row
        # The same rows by the key's plaintext or alias; all rows without.
        assert a.ok('GET', '/spend/logs?api_key=logged') == rows
        assert a.ok('GET', '/spend/logs?api_key=' + key) == rows
        every = a.ok('GET', '/spend/logs')
        assert len(every) == 3 and every[-1]['api_key'] is None and every[-1]['model_group'] == 'other', every
        one = a.ok('GET', '/spend/logs?request_id=' + rows[1]['request_id'])
        assert one == [rows[1]], one
        assert a.ok('GET', '/spend/logs?request_id=nosuch') == []
        # Dates: days, both ends included.
        today = datetime.datetime.utcnow().date()
        day = datetime.timedelta(days=1)
        q = '/spend/logs?api_key=%s&start_date=%s&end_date=%s&summarize=false'
        assert a.ok('GET', q % (tok, today, today)) == rows
        assert a.ok('GET', q % (tok, today - 2 * day, today - day)) == []
        assert a.ok('GET', q % (tok, today + day, today + 2 * day)) == []
        error(a.call('GET', q % (tok, 'yesterday', today)), 400, 'invalid_request_error')
        # Both dates without summarize=false: LiteLLM's summary, a day each.
        q = '/spend/logs?start_date=%s&end_date=%s'
        summary = a.ok('GET', q % (today - day, today + day))
        assert len(summary) == 1 and summary[0]['startTime'] == str(today), summary
        total = sum(r['spend'] for r in every)
        assert abs(summary[0]['spend'] - total) < 1e-12, (summary, every)
        assert abs(summary[0][tok] - sum(r['spend'] for r in rows)) < 1e-12, summary
        assert set(summary[0]['models']) == {r['model'] for r in every}, summary
        assert abs(sum(summary[0]['users'].values()) - total) < 1e-12, summary
        mine = a.ok('GET', (q + '&api_key=%s') % (today, today, tok))
        assert abs(mine[0]['spend'] - sum(r['spend'] for r in rows)) < 1e-12, mine
        assert a.ok('GET', q % (today + day, today + 2 * day)) == []
        # user_id is the row's "user": the caller's uid; a TCP caller has
        # none (null), so no uid finds its rows.
        assert all(r['user'] is None for r in every), every
        assert a.ok('GET', '/spend/logs?user_id=%d' % os.getuid()) == []
        assert a.ok('GET', '/spend/logs?user_id=12345') == []
        a.close()


def test_http_admin_malformed_requests_keep_the_connection():
    with Fake() as f, start(f) as d:
        a = Api(d.port)
        for raw, what in ((b'{"key_alias": ', 'not valid JSON'), (b'[1, 2]', 'must be a JSON object'),
                          (b'{"a": 1, "a": 2}', 'duplicate')):
            msg = error(a.call('POST', '/key/generate', raw=raw), 400, 'invalid_request_error')
            assert what in msg, msg
        msg = error(a.call('POST', '/key/generate', raw=b'{}', ctype='text/plain'), 415,
                    'invalid_request_error')
        assert 'Content-Type' in msg
        assert 'use POST' in error(a.call('GET', '/key/generate'), 405, 'invalid_request_error')
        assert 'use GET' in error(a.call('POST', '/key/info', {}), 405, 'invalid_request_error')
        msg = error(a.call('POST', '/key/generate', {'max_budget': 'lots'}), 400,
                    'invalid_request_error', 'bad_request')
        assert 'max_budget' in msg, msg
        assert 'which key' in error(a.call('POST', '/key/update', {}), 400, 'invalid_request_error')
        # The same connection still serves a normal request, and an admin one.
        assert a.chat(MASTER).status == 200
        assert a.ok('POST', '/key/generate')['key'].startswith('sk-')
        a.close()


NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']


def curl_unix(path, method, url, body=None, key=None, as_nobody=False):
    cmd = (NOBODY if as_nobody else []) + [
        'curl', '-sS', '--unix-socket', path, '-X', method, 'http://localhost' + url,
        '-w', '\n%{http_code}']
    if key:
        cmd += ['-H', 'Authorization: Bearer ' + key]
    if body is not None:
        cmd += ['-H', 'Content-Type: application/json', '-d', json.dumps(body)]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out, code = p.stdout.rsplit(b'\n', 1)
    return int(code), json.loads(out)


def test_http_admin_on_a_unix_listener_follows_the_peer():
    """On a Unix-socket listener the admin check is the socket's: root (and
    admin_group) may manage keys without a master key; another uid may not,
    but reads its own key's info."""
    if os.geteuid() != 0:
        raise Skip('switching to another uid needs root')
    with Fake() as f:
        t = tempfile.mkdtemp(prefix='llmux-hk-')
        os.chmod(t, 0o755)
        path = os.path.join(t, 'http.sock')
        cfg = config(f).replace('general_settings:\n  master_key: os.environ/LLMUX_MK\n', '')
        with Daemon(cfg, args=['--http', path]) as d:
            wait_for(lambda: os.path.exists(path), what='the http socket')
            os.chmod(path, 0o666)
            code, g = curl_unix(path, 'POST', '/key/generate', {'key_alias': 'unix', 'models': ['gpt']})
            assert code == 200 and g['key'].startswith('sk-'), (code, g)
            code, e = curl_unix(path, 'POST', '/key/generate', {}, as_nobody=True)
            assert code == 403 and e['error']['type'] == 'permission_error', (code, e)
            code, e = curl_unix(path, 'GET', '/key/list', key=g['key'], as_nobody=True)
            assert code == 403, (code, e)
            code, i = curl_unix(path, 'GET', '/key/info', key=g['key'], as_nobody=True)
            assert code == 200 and i['info']['key_alias'] == 'unix', (code, i)
            code, lst = curl_unix(path, 'GET', '/key/list')
            assert code == 200 and lst['keys'] == [g['token']], (code, lst)
            assert d.stop() == 0
            no_plaintext(d, [g['key']])


def test_http_admin_without_a_master_key_is_refused_on_tcp():
    """An open loopback listener (no master key) lets local processes chat,
    but nobody there may manage keys: it would hand anyone a budget."""
    with Fake() as f:
        cfg = config(f).replace('general_settings:\n  master_key: os.environ/LLMUX_MK\n', '')
        d = Daemon(cfg, args=['--http', '127.0.0.1:0'])
        with d:
            m = wait_for(lambda: re.search(r'serving the OpenAI API on http://127\.0\.0\.1:(\d+)', d.log()),
                         what='the http listener line')
            a = Api(int(m.group(1)))
            assert a.chat('anything').status == 200
            for key in (None, 'sk-anything', MASTER):
                msg = error(a.call('POST', '/key/generate', {}, key=key), 403, 'permission_error')
                assert 'none is configured' in msg, msg
            assert 'refused http key/generate' in d.log()
            a.close()
