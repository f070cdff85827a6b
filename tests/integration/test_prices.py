"""test_prices.py -- costs from LiteLLM's price table (issue 12, "Cost"),
through the real llmuxd and the fake provider: a table model's done.cost
is the table's price times the tokens the fake reported, base_model picks
an Azure-style entry, a deployment's own price fields win over the table,
an unknown model costs 0 with one warning however many requests it gets,
embeddings cost from the same table, a reload that names another file uses
it, an unreadable prices_file refuses the config, and etc/prices.json is
what etc/gen-prices.py makes of its source, byte for byte."""

import json
import os
import re
import signal
import subprocess

from harness import LLMUXD, PYTHON, ROOT, Daemon, Fake, Skip, user, wait_for

PRICES = os.path.join(ROOT, 'etc', 'prices.json')
# The verbatim mirror of BerriAI/litellm's file that etc/prices.json and
# daemon/modeltab.inc were made from (etc/prices.json's _source says which
# commit); only this machine's copy of it, when there is one.
MIRROR = os.environ.get('LLMUX_PRICES_MIRROR', '/work/.mirror/RoCry+llm-api-price/repo')


def table_of(d):
    """The price table the daemon says it loaded (its path from the log)."""
    m = wait_for(lambda: re.search(r'prices: (\d+) models from (\S+)', d.log()),
                 what='the price table line')
    with open(m.group(2)) as f:
        t = json.load(f)
    assert int(m.group(1)) == len([k for k in t if not k.startswith('_')]), m.group(0)
    return t


def done_of(c, id, model, text='hi'):
    fr = c.chat(id, {'model': model, 'messages': user(text)})
    assert fr[-1]['type'] == 'done', fr
    return fr[-1]


def expect(row, usage):
    return (usage['prompt_tokens'] * row['input_cost_per_token'] +
            usage['completion_tokens'] * row['output_cost_per_token'])


def close(a, b):
    return abs(a - b) <= 1e-12 + 1e-9 * abs(b)


def dep(name, model, url, extra=''):
    return '''  - model_name: %s
    litellm_params:
      model: %s
      api_base: %s
      api_key: sk-test-key
%s''' % (name, model, url, extra)


def test_table_model_costs_its_table_price():
    with Fake() as f:
        cfg = ('model_list:\n' + dep('gpt', 'openai/gpt-4o', f.url + '/v1') +
               dep('"openai/*"', 'openai/*', f.url + '/v1'))
        with Daemon(cfg) as d:
            t = table_of(d)
            c = d.client()
            dn = done_of(c, 1, 'gpt')
            u = dn['usage']
            assert u['prompt_tokens'] > 0 and u['completion_tokens'] > 0, u
            assert dn['cost'] > 0 and close(dn['cost'], expect(t['gpt-4o'], u)), (dn, t['gpt-4o'])
            # A name derived from a wildcard: priced from the same table.
            dn = done_of(c, 2, 'openai/gpt-4o-mini')
            assert close(dn['cost'], expect(t['gpt-4o-mini'], dn['usage'])), dn
            c.close()
            assert 'no price for model' not in d.log(), d.log()
            # llmux models -v shows the price a group is charged at.
            p = d.llmux('models', '-v')
            line = [l for l in p.stdout.decode().splitlines() if l.split()[:1] == ['gpt']]
            assert line and 'input_cost_per_token=%g' % t['gpt-4o']['input_cost_per_token'] in line[0] \
                and 'output_cost_per_token=%g' % t['gpt-4o']['output_cost_per_token'] in line[0], p.stdout


def test_base_model_picks_the_azure_entry():
    with Fake() as f:
        cfg = 'model_list:\n' + dep('az', 'azure/my-deployment', f.url,
                                    '      api_version: "2024-10-21"\n'
                                    '    model_info:\n      base_model: azure/gpt-4o-mini\n')
        with Daemon(cfg) as d:
            t = table_of(d)
            # The Azure row is not OpenAI's: the test tells them apart.
            assert t['azure/gpt-4o-mini']['input_cost_per_token'] != \
                t['gpt-4o-mini']['input_cost_per_token']
            c = d.client()
            dn = done_of(c, 1, 'az')
            assert close(dn['cost'], expect(t['azure/gpt-4o-mini'], dn['usage'])), dn
            c.close()
            assert 'no price for model' not in d.log(), d.log()


def test_own_price_fields_win_over_the_table():
    with Fake() as f:
        cfg = ('model_list:\n' +
               dep('info', 'openai/gpt-4o', f.url + '/v1',
                   '    model_info:\n      input_cost_per_token: 0.001\n') +
               dep('params', 'openai/gpt-4o', f.url + '/v1',
                   '      output_cost_per_token: 0.002\n'
                   '    model_info:\n      output_cost_per_token: 0.5\n'))
        with Daemon(cfg) as d:
            row = table_of(d)['gpt-4o']
            c = d.client()
            # model_info's input price over the table's; output from the table.
            dn = done_of(c, 1, 'info')
            u = dn['usage']
            want = u['prompt_tokens'] * 0.001 + u['completion_tokens'] * row['output_cost_per_token']
            assert close(dn['cost'], want), dn
            # litellm_params wins over model_info, field by field.
            dn = done_of(c, 2, 'params')
            u = dn['usage']
            want = u['prompt_tokens'] * row['input_cost_per_token'] + u['completion_tokens'] * 0.002
            assert close(dn['cost'], want), dn
            c.close()


def test_unknown_model_costs_zero_with_one_warning():
    with Fake() as f:
        cfg = ('model_list:\n' + dep('odd', 'openai/no-such-model-llmux', f.url + '/v1') +
               dep('odd2', 'openai/no-such-model-llmux', f.url + '/v1') +
               dep('"openai/*"', 'openai/*', f.url + '/v1') +
               '  - model_name: m\n    litellm_params:\n      model: mock/echo\n')
        with Daemon(cfg) as d:
            c = d.client()
            for i in range(12):
                assert done_of(c, 2 * i + 1, 'odd')['cost'] == 0
                # Derived from the wildcard: warned once too.
                assert done_of(c, 2 * i + 2, 'openai/also-unknown-llmux')['cost'] == 0
                assert done_of(c, 100 + i, 'm')['cost'] == 0
            c.close()
            log = d.log()
            assert log.count('no price for model "openai/no-such-model-llmux"') == 1, log
            assert log.count('no price for model "openai/also-unknown-llmux"') == 1, log
            assert 'input_cost_per_token' in log
            assert 'no price for model "mock/' not in log, log


def test_embeddings_cost_from_the_table():
    with Fake() as f:
        cfg = 'model_list:\n' + dep('emb', 'openai/text-embedding-3-small', f.url + '/v1')
        with Daemon(cfg) as d:
            row = table_of(d)['text-embedding-3-small']
            c = d.client()
            c.request(1, {'model': 'emb', 'input': ['the cat sat', 'on the mat']}, op='embeddings')
            fr = c.until_end(1)
            assert fr[-1]['type'] == 'done', fr
            u = fr[-1]['usage']
            assert u['prompt_tokens'] > 0, u
            assert close(fr[-1]['cost'], u['prompt_tokens'] * row['input_cost_per_token']), fr[-1]
            c.close()


def test_reload_reads_a_new_prices_file():
    with Fake() as f:
        cfg = 'model_list:\n' + dep('gpt', 'openai/gpt-4o', f.url + '/v1')
        with Daemon(cfg) as d:
            t = table_of(d)
            c = d.client()
            dn = done_of(c, 1, 'gpt')
            assert close(dn['cost'], expect(t['gpt-4o'], dn['usage'])), dn
            # A reload with the same file keeps the table: it is not read again.
            d.signal(signal.SIGHUP)
            wait_for(lambda: d.log().count('reloaded') == 1, what='the first reload')
            assert d.log().count('prices: ') == 1, d.log()
            own = os.path.join(d.dir, 'prices.json')
            with open(own, 'w') as out:
                json.dump({'_source': {'what': 'a test table'},
                           'gpt-4o': {'input_cost_per_token': 0.25,
                                      'output_cost_per_token': 0.5}}, out)
            d.write_config('llmux_settings:\n  prices_file: %s\n' % own + cfg)
            d.signal(signal.SIGHUP)
            wait_for(lambda: 'prices: 1 models from ' + own in d.log(), what='the new table')
            wait_for(lambda: d.log().count('reloaded') == 2, what='the second reload')
            dn = done_of(c, 2, 'gpt')
            u = dn['usage']
            assert close(dn['cost'], u['prompt_tokens'] * 0.25 + u['completion_tokens'] * 0.5), dn
            c.close()


def test_unreadable_prices_file_refuses_the_config():
    d = Daemon('llmux_settings:\n  prices_file: /nonexistent/llmux-prices.json\n'
               'model_list:\n  - model_name: m\n    litellm_params: {model: mock/echo}\n',
               start=False)
    p = subprocess.run([LLMUXD, '-c', d.config_path, '--check'], capture_output=True, timeout=30)
    err = p.stderr.decode()
    assert p.returncode != 0 and '/nonexistent/llmux-prices.json' in err, (p.returncode, err)
    assert 'prices_file' in err, err
    # Corrupt JSON: refused too, naming the file.
    bad = os.path.join(d.dir, 'bad.json')
    with open(bad, 'w') as out:
        out.write('{"gpt-4o": {')
    d.write_config('llmux_settings:\n  prices_file: %s\n' % bad)
    p = subprocess.run([LLMUXD, '-c', d.config_path, '--check'], capture_output=True, timeout=30)
    assert p.returncode != 0 and bad in p.stderr.decode(), p


def git_show(commit, path):
    return subprocess.run(['git', '-C', MIRROR, 'show', '%s:%s' % (commit, path)],
                          capture_output=True, check=True).stdout


def test_generators_reproduce_the_committed_files():
    with open(PRICES, 'rb') as f:
        committed = f.read()
    snapshot = json.loads(committed.split(b'\n', 1)[0][:-1] + b'}')['_source']['snapshot']
    commit = re.search(r'commit ([0-9a-f]{7,40})', snapshot).group(1)
    if not os.path.isdir(MIRROR):
        raise Skip('the source snapshot (%s) is not on this machine' % MIRROR)
    src = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'llmux-prices-src-%d.json' % os.getpid())
    with open(src, 'wb') as f:
        f.write(git_show(commit, 'model_prices_and_context_window.json'))
    try:
        p = subprocess.run([PYTHON, os.path.join(ROOT, 'etc', 'gen-prices.py'), src, snapshot],
                           capture_output=True, check=True)
        assert p.stdout == committed, 'etc/prices.json differs from its generator\'s output'
        # daemon/modeltab.inc comes from the same snapshot.
        with open(os.path.join(ROOT, 'daemon', 'modeltab.inc'), 'rb') as f:
            inc = f.read()
        assert snapshot.encode() in inc
        p = subprocess.run([PYTHON, os.path.join(ROOT, 'etc', 'gen-modeltab.py'), src, snapshot],
                           capture_output=True, check=True)
        assert p.stdout == inc
    finally:
        os.unlink(src)
