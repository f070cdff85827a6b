"""test_embeddings.py -- the embeddings op (issue 14) through the real
llmuxd: the mock provider's deterministic vectors, OpenAI and Azure
against the fake upstream (the request it saw, the normalised answer, a
batch, base64), float32 vectors on the socket, POST /v1/embeddings on
HTTP, the cache, retries, and the typed error of a provider without
embeddings."""

import base64
import hashlib
import json
import re
import struct
import urllib.request

from harness import Daemon, Fake, Raw, wait_for

import msgpack

MOCK = '''model_list:
  - model_name: emb
    litellm_params:
      model: mock/embed
'''


def oa_config(fake, extra='', model='openai/text-embedding-3-small', name='emb'):
    return '''model_list:
  - model_name: %s
    litellm_params:
      model: %s
      api_base: %s/v1
      api_key: sk-test-key
%s''' % (name, model, fake.url, extra)


def fake_vector(text, dims):
    """What tests/mockup/fakeprov.py answers for one input (its contract)."""
    out = []
    for j in range(dims):
        h = hashlib.sha256(('%s|%d' % (text, j)).encode()).digest()
        out.append(round(int.from_bytes(h[:4], 'big') / 2.0 ** 31 - 1.0, 9))
    return out


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def embed(c, id, body):
    c.request(id, body, op='embeddings')
    return c.until_end(id)


def answer(frames):
    assert [f['type'] for f in frames] == ['response', 'done'], frames
    return frames[0]['body'], frames[1]


def raw_frame(c):
    """The next frame's msgpack bytes (to see how the vectors travel)."""
    assert c._fill(4, 30)
    n = struct.unpack('>I', c.buf[:4])[0]
    assert c._fill(4 + n, 30)
    body, c.buf = c.buf[4:4 + n], c.buf[4 + n:]
    return body


def embed_requests(fake):
    return [r for r in fake.requests() if r['path'].endswith('/embeddings')]


def test_mock_deterministic_batch():
    with Daemon(MOCK) as d:
        c = Raw(d.sock)
        inputs = ['the cat sat', 'on the mat', 'the cat sat']
        body, done = answer(embed(c, 1, {'model': 'emb', 'input': inputs}))
        assert body['object'] == 'list'
        assert [e['index'] for e in body['data']] == [0, 1, 2]
        vecs = [e['embedding'] for e in body['data']]
        assert all(len(v) == 8 for v in vecs)
        assert vecs[0] == vecs[2] and vecs[0] != vecs[1]
        assert all(f32(x) == x and -1 <= x < 1 for v in vecs for x in v)
        assert done['usage'] == {'prompt_tokens': 9, 'total_tokens': 9}
        assert done['provider'] == 'mock'
        again, _ = answer(embed(c, 2, {'model': 'emb', 'input': 'on the mat', 'dimensions': 8}))
        assert again['data'][0]['embedding'] == vecs[1]
        tok, _ = answer(embed(c, 3, {'model': 'emb', 'input': [[1, 2, 3], [4]], 'dimensions': 3}))
        assert [len(e['embedding']) for e in tok['data']] == [3, 3]
        assert tok['data'][0]['embedding'] != tok['data'][1]['embedding']


def test_vectors_travel_as_float32():
    with Daemon(MOCK) as d:
        c = Raw(d.sock)
        c.request(1, {'model': 'emb', 'input': ['a', 'b', 'c'], 'dimensions': 64}, op='embeddings')
        raw = raw_frame(c)
        frame = msgpack.unpackb(raw, raw=False)
        assert frame['type'] == 'response'
        # 192 values: float32 is 5 bytes each (0xca + 4), float64 would be 9.
        assert raw.count(b'\xca') >= 192
        assert len(raw) < 192 * 5 + 400, len(raw)
        assert c.until_end(1)[-1]['type'] == 'done'


def test_base64_is_little_endian_float32():
    with Daemon(MOCK) as d:
        c = Raw(d.sock)
        flt, _ = answer(embed(c, 1, {'model': 'emb', 'input': ['x y', 'z']}))
        b64, _ = answer(embed(c, 2, {'model': 'emb', 'input': ['x y', 'z'],
                                     'encoding_format': 'base64'}))
        for a, b in zip(flt['data'], b64['data']):
            raw = base64.b64decode(b['embedding'])
            assert list(struct.unpack('<%df' % (len(raw) // 4), raw)) == a['embedding']


def test_bad_requests_are_refused():
    with Daemon(MOCK) as d:
        c = Raw(d.sock)
        for i, (body, words) in enumerate([
                ({'model': 'emb'}, '"input"'),
                ({'model': 'emb', 'input': []}, '"input"'),
                ({'model': 'emb', 'input': ['ok', 3]}, 'input[1]'),
                ({'model': 'emb', 'input': 'x', 'encoding_format': 'int8'}, 'encoding_format'),
                ({'model': 'emb', 'input': 'x', 'dimensions': 0}, 'dimensions'),
                ({'input': 'x'}, '"model"')], 1):
            f = embed(c, i, body)[-1]
            assert f['type'] == 'error' and f['error']['type'] == 'bad_request', f
            assert words in f['error']['message'], f


def test_openai_request_and_answer():
    with Fake() as fake, Daemon(oa_config(fake)) as d:
        c = Raw(d.sock)
        inputs = ['first text', 'second one here', 'third']
        body, done = answer(embed(c, 1, {'model': 'emb', 'input': inputs, 'dimensions': 5,
                                         'user': 'u-42'}))
        (up,) = embed_requests(fake)
        assert up['path'] == '/v1/embeddings'
        assert up['headers']['Authorization'] == 'Bearer sk-test-key'
        sent = json.loads(up['body'])
        assert sent == {'model': 'text-embedding-3-small', 'input': inputs, 'dimensions': 5,
                        'user': 'u-42', 'encoding_format': 'float'}
        for i, e in enumerate(body['data']):
            assert e['embedding'] == [f32(x) for x in fake_vector(inputs[i], 5)]
        assert body['model'] == 'text-embedding-3-small'
        assert done['usage'] == {'prompt_tokens': 6, 'total_tokens': 6}
        assert done['deployment'] and done['provider'] == 'openai'
        assert fake.violations() == []
