"""test_provider_breaks.py -- breaks found when the daemon was attacked, at
the adapters, end to end through llmuxd and the fake provider: a key echoed
in a 401 leaking into the error frame, whole, cut or in lower case
(break 8)."""

from harness import Daemon, Fake, openai_config, user

# No "sk-" (llmux masks those whatever their owner, which would hide a leak
# of the deployment's own key) and no 'A' (the fake's filler).
KEY = 'Zq7xK2mP9vL4nR8tW3yB6cF1hJ5gD0sEuV'


def leaks(text, secret, run=4):
    """Whether text holds run bytes in a row of secret, in any case."""
    t, s = text.lower(), secret.lower()
    return any(s[i:i + run] in t for i in range(len(s) - run + 1))


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
