"""test_client.py -- the real libllmux (through tests/integration/client-test.c)
against the real llmuxd: predict, streaming with usage, many streams in
flight on one connection, cancel from the callback, the error message of
llmux_predict_err."""

import os
import subprocess

from harness import BUILD, Daemon, Fake, openai_config

CLIENT = os.path.join(BUILD, 'llmux-client-test')


def run(d, *args):
    env = dict(d.env, LLMUX_SOCKET=d.sock)
    return subprocess.run([CLIENT] + list(args), capture_output=True, timeout=60, env=env)


def test_predict_one_liner():
    with Daemon() as d:
        p = run(d, 'predict', 'mock/echo', 'what is 2+2')
        assert p.returncode == 0, p.stderr
        assert p.stdout == b'what is 2+2\n'


def test_stream_callback_and_usage():
    # openai/echo: the fake streams the prompt back a word at a time and
    # counts one token per word, so the whole output is known exactly.
    with Fake() as f, Daemon(openai_config(f, model='openai/echo')) as d:
        p = run(d, 'stream', 'gpt', 'one two three four')
        assert p.returncode == 0, p.stderr
        assert p.stdout == b'one two three four\nusage=4+4 finish=stop provider=openai\n', p.stdout


def test_predict_err_gives_the_daemons_message():
    # The code alone says "authentication with the provider failed"; the
    # message says what to do about it.
    cfg = """model_list:
  - model_name: nokey
    litellm_params: {model: openai/gpt-4o-mini}
  - model_name: limited
    litellm_params: {model: mock/x, mock_response: "error:rate_limit"}
"""
    with Daemon(cfg) as d:
        p = run(d, 'predict-err', 'nokey', 'hi')
        assert p.returncode == 1 and p.stdout == b'', p
        assert p.stderr == (b'predict-err: EAUTH (authentication with the provider failed) '
                            b'no API key for openai: set $OPENAI_API_KEY or api_key in model_list\n'), p.stderr
        p = run(d, 'predict-err', 'limited', 'hi')
        assert p.stderr == (b'predict-err: ERATELIMIT (rate limited) '
                            b'mock: rate_limit (mock_response asked for it)\n'), p.stderr
        p = run(d, 'predict-err', 'mock/echo', 'fine')
        assert p.returncode == 0 and p.stdout == b'fine\n', p
    # No daemon: the message names the socket that was tried.
    p = subprocess.run([CLIENT, 'predict-err', 'mock/echo', 'hi'], capture_output=True, timeout=60,
                       env=dict(os.environ, LLMUX_SOCKET='/nonexistent/llmux.sock'))
    assert p.stderr == (b'predict-err: ENOENT (No such file or directory) cannot connect to '
                        b'/nonexistent/llmux.sock (is llmuxd running?)\n'), p.stderr


def test_fifty_streams_one_connection_through_the_library():
    # Each stream echoes "hi"; client-test checks that all 50 got the same.
    with Fake() as f, Daemon(openai_config(f, model='openai/echo+slow:5')) as d:
        p = run(d, 'concurrent', '50', 'gpt')
        assert p.returncode == 0, p.stderr
        assert p.stdout == b'done=50 bytes=2\n', p.stdout


def test_cancel_from_callback():
    with Fake() as f, Daemon(openai_config(f, model='openai/text+slow:200')) as d:
        p = run(d, 'cancel', 'gpt')
        assert p.returncode == 0, p.stderr
        assert p.stdout.splitlines() == [b'ECANCELLED after 1 pieces', b'still alive'], p.stdout
