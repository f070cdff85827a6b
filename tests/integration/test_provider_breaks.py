"""test_provider_breaks.py -- breaks found when the daemon was attacked, at
the adapters, end to end through llmuxd and the fake provider: OpenAI-dialect
streams cut without their terminator reported as success (break 6), and a
key echoed in a 401 leaking into the error frame, whole, cut or in lower
case (break 8)."""

from harness import Daemon, Fake, openai_config, text_of, user

# No "sk-" (llmux masks those whatever their owner, which would hide a leak
# of the deployment's own key) and no 'A' (the fake's filler).
KEY = 'Zq7xK2mP9vL4nR8tW3yB6cF1hJ5gD0sEuV'


def leaks(text, secret, run=4):
    """Whether text holds run bytes in a row of secret, in any case."""
    t, s = text.lower(), secret.lower()
    return any(s[i:i + run] in t for i in range(len(s) - run + 1))


def stream(c, i, scn_model='m'):
    return c.chat(i, {'model': scn_model, 'messages': user('the quick brown fox'),
                      'stream': True})


def test_openai_stream_cut_without_terminator_is_an_error():
    # One attempt, so the cut is seen on the first try.
    with Fake() as f, Daemon(openai_config(f, model='openai/echo') +
                             'router_settings:\n  num_retries: 0\n') as d:
        c = d.client()
        # The role chunk and two content chunks, then the end of the body.
        f.queue('echo+truncate:3')
        fr = stream(c, 1, 'gpt')
        assert fr[-1]['type'] == 'error', fr[-1]
        e = fr[-1]['error']
        assert e['type'] == 'upstream_unavailable', e
        assert 'the stream was cut' in e['message'], e
        assert sum(1 for x in fr if x['type'] == 'chunk') >= 2, fr
        # A 200 HTML page on stream: true: no chunk, and an error.
        f.queue('html')
        fr = stream(c, 2, 'gpt')
        assert fr[-1]['type'] == 'error', fr[-1]
        assert fr[-1]['error']['type'] == 'upstream_unavailable', fr[-1]
        assert 'not an event stream' in fr[-1]['error']['message'], fr[-1]
        assert not any(x['type'] == 'chunk' for x in fr), fr
        # The whole stream still ends with done.
        f.queue('echo')
        fr = stream(c, 3, 'gpt')
        assert fr[-1]['type'] == 'done', fr[-1]
        assert text_of(fr).strip() == 'the quick brown fox'


def test_openai_stream_finish_then_eof_is_complete():
    # Compatible servers that close after the finish (and usage) chunk.
    with Fake() as f, Daemon(openai_config(f, model='openai/echo')) as d:
        f.queue('echo+no-done')
        fr = stream(d.client(), 1, 'gpt')
        assert fr[-1]['type'] == 'done', fr[-1]
        assert text_of(fr).strip() == 'the quick brown fox'


def test_azure_stream_cut_is_an_error():
    cfg = '''model_list:
  - model_name: az
    litellm_params:
      model: azure/echo
      api_base: %s
      api_key: az-test-key
      api_version: "2024-10-21"
router_settings:
  num_retries: 0
'''
    with Fake() as f:
        with Daemon(cfg % f.url) as d:
            f.queue('echo+truncate:3')
            fr = stream(d.client(), 1, 'az')
            assert fr[-1]['type'] == 'error', fr[-1]
            assert 'the stream was cut' in fr[-1]['error']['message'], fr[-1]


def test_key_echoed_in_a_401_never_reaches_the_error_frame():
    with Fake() as f, Daemon(openai_config(f, key=KEY)) as d:
        c = d.client()
        i = 0
        # The report's 380, and every cut point around the 400-byte text.
        for word in ('echo-key', 'echo-key-lower'):
            for pad in [380] + list(range(355, 401, 3)):
                i += 1
                f.queue('%s:%d' % (word, pad))
                fr = c.chat(i, {'model': 'gpt', 'messages': user('x')})
                e = fr[-1]
                assert e['type'] == 'error', e
                assert e['error']['type'] == 'authentication', e
                assert 'AAAA' in e['error']['message'], e
                assert not leaks(e['error']['message'], KEY), (word, pad, e)
        assert not leaks(d.log(), KEY)
