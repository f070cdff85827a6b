"""test_client.py -- the real libllmux (through tests/integration/client-test.c)
against the real llmuxd: predict, streaming with usage, many streams in
flight on one connection, cancel from the callback."""

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
    with Fake() as f, Daemon(openai_config(f)) as d:
        p = run(d, 'stream', 'gpt', 'hi')
        assert p.returncode == 0, p.stderr
        out = p.stdout.decode()
        assert out.startswith('Hello! How can I assist you today?') or len(out) > 20, out
        assert 'usage=14+30 finish=stop provider=openai' in out, out


def test_fifty_streams_one_connection_through_the_library():
    with Fake() as f, Daemon(openai_config(f, model='openai/text+slow:5')) as d:
        p = run(d, 'concurrent', '50', 'gpt')
        assert p.returncode == 0, p.stderr
        assert b'done=50 bytes=' in p.stdout
        assert int(p.stdout.split(b'bytes=')[1]) > 50


def test_cancel_from_callback():
    with Fake() as f, Daemon(openai_config(f, model='openai/text+slow:200')) as d:
        p = run(d, 'cancel', 'gpt')
        assert p.returncode == 0, p.stderr
        assert p.stdout.splitlines() == [b'ECANCELLED after 1 pieces', b'still alive'], p.stdout
