"""test_embeddings.py -- the embeddings op (issue 14) through the real
llmuxd: the mock provider's deterministic vectors, OpenAI and Azure
against the fake upstream (the request it saw, the normalised answer, a
batch, base64), float32 vectors on the socket, POST /v1/embeddings on
HTTP, the cache, retries, and the typed error of a provider without
embeddings."""

import base64
import json
import re
import struct
import urllib.request

from harness import Daemon, Fake, Raw, f32, fake_vector, wait_for

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
    return [r for r in fake.requests() if r['path'].split('?')[0].endswith('/embeddings')]


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


def test_openai_base64_batch():
    with Fake() as fake, Daemon(oa_config(fake)) as d:
        c = Raw(d.sock)
        inputs = ['one', 'two words', 'three little words', 'four']
        body, _ = answer(embed(c, 1, {'model': 'emb', 'input': inputs,
                                      'encoding_format': 'base64'}))
        (up,) = embed_requests(fake)
        # llmux asks for floats and encodes base64 itself, for every dialect
        assert json.loads(up['body'])['encoding_format'] == 'float'
        assert len(body['data']) == 4
        for i, e in enumerate(body['data']):
            raw = base64.b64decode(e['embedding'])
            assert list(struct.unpack('<4f', raw)) == [f32(x) for x in fake_vector(inputs[i], 4)]


def test_azure_embeddings_path():
    with Fake() as fake:
        cfg = '''model_list:
  - model_name: emb
    litellm_params:
      model: azure/my-embedder
      api_base: %s
      api_key: azure-test-key
      api_version: "2024-10-21"
''' % fake.url
        with Daemon(cfg) as d:
            body, done = answer(embed(Raw(d.sock), 1, {'model': 'emb', 'input': 'hello'}))
            (up,) = embed_requests(fake)
            assert up['path'] == '/openai/deployments/my-embedder/embeddings?api-version=2024-10-21'
            assert up['headers']['api-key'] == 'azure-test-key'
            assert body['data'][0]['embedding'] == [f32(x) for x in fake_vector('hello', 4)]
            assert done['provider'] == 'azure'


def test_http_v1_embeddings():
    with Fake() as fake, Daemon(oa_config(fake), args=['--http', '127.0.0.1:0']) as d:
        port = int(wait_for(lambda: re.search(r'serving the OpenAI API on http://127\.0\.0\.1:(\d+)',
                                              d.log()), what='the http listener').group(1))
        for path in ('/v1/embeddings', '/embeddings'):
            req = urllib.request.Request('http://127.0.0.1:%d%s' % (port, path), data=json.dumps(
                {'model': 'emb', 'input': ['a b', 'c']}).encode(),
                headers={'Content-Type': 'application/json'})
            with urllib.request.urlopen(req, timeout=30) as r:
                assert r.status == 200
                assert r.headers['x-litellm-model-group'] == 'emb'
                j = json.loads(r.read())
            assert j['object'] == 'list' and [e['index'] for e in j['data']] == [0, 1]
            assert j['data'][1]['embedding'] == [f32(x) for x in fake_vector('c', 4)]
            assert j['usage'] == {'prompt_tokens': 3, 'total_tokens': 3}
        req = urllib.request.Request('http://127.0.0.1:%d/v1/embeddings' % port, data=json.dumps(
            {'model': 'emb'}).encode(), headers={'Content-Type': 'application/json'})
        try:
            urllib.request.urlopen(req, timeout=30)
            raise AssertionError('an embeddings body without input was answered')
        except urllib.error.HTTPError as e:
            assert e.code == 400
            assert '"input"' in json.loads(e.read())['error']['message']


def test_cache_answers_the_second_call():
    extra = 'litellm_settings:\n  cache: true\n  cache_params:\n    type: local\n'
    with Fake() as fake, Daemon(oa_config(fake, extra)) as d:
        c = Raw(d.sock)
        first, d1 = answer(embed(c, 1, {'model': 'emb', 'input': ['p', 'q r']}))
        second, d2 = answer(embed(c, 2, {'model': 'emb', 'input': ['p', 'q r']}))
        assert len(embed_requests(fake)) == 1
        assert 'cache_hit' not in d1 and d2['cache_hit'] is True and d2['cost'] == 0
        assert second['data'] == first['data']
        # base64 is another answer: another entry
        third, _ = answer(embed(c, 3, {'model': 'emb', 'input': ['p', 'q r'],
                                       'encoding_format': 'base64'}))
        assert len(embed_requests(fake)) == 2
        assert isinstance(third['data'][0]['embedding'], str)
        # no-cache skips the lookup: the upstream is asked again
        assert embed(c, 4, {'model': 'emb', 'input': ['p', 'q r'],
                            'cache': {'no-cache': True}})[-1]['type'] == 'done'
        assert len(embed_requests(fake)) == 3


def test_cache_call_types_exclude_embeddings():
    extra = ('litellm_settings:\n  cache: true\n  cache_params:\n    type: local\n'
             '    supported_call_types: ["completion"]\n')
    with Fake() as fake, Daemon(oa_config(fake, extra)) as d:
        c = Raw(d.sock)
        for i in (1, 2):
            assert answer(embed(c, i, {'model': 'emb', 'input': 'same'}))[1].get('cache_hit') is None
        assert len(embed_requests(fake)) == 2


def test_retry_then_answer():
    with Fake() as fake, Daemon(oa_config(fake, 'router_settings:\n  num_retries: 2\n'
                                          '  retry_after: 0\n')) as d:
        fake.queue('err-500')
        body, done = answer(embed(Raw(d.sock), 1, {'model': 'emb', 'input': 'again'}))
        assert len(embed_requests(fake)) == 2
        assert done['attempts'] == 2
        assert body['data'][0]['embedding'] == [f32(x) for x in fake_vector('again', 4)]


def test_fallback_to_another_group():
    with Fake() as fake:
        cfg = oa_config(fake, name='first') + '''  - model_name: second
    litellm_params:
      model: mock/embed
router_settings:
  num_retries: 0
  fallbacks: [{"first": ["second"]}]
'''
        with Daemon(cfg) as d:
            fake.queue('err-500')
            body, done = answer(embed(Raw(d.sock), 1, {'model': 'first', 'input': 'x'}))
            assert done['provider'] == 'mock' and done['fallbacks'] == 1
            assert len(body['data'][0]['embedding']) == 8


def test_provider_without_embeddings_is_named():
    with Fake() as fake:
        cfg = '''model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-haiku-4-5
      api_base: %s
      api_key: sk-ant-test
  - model_name: fast
    litellm_params:
      model: groq/llama-3.1-8b-instant
      api_base: %s/openai/v1
      api_key: gsk-test
''' % (fake.url, fake.url)
        with Daemon(cfg) as d:
            c = Raw(d.sock)
            e = embed(c, 1, {'model': 'claude', 'input': 'x'})[-1]
            assert e['type'] == 'error' and e['error']['type'] == 'bad_request', e
            assert 'anthropic does not offer embeddings' in e['error']['message'], e
            e = embed(c, 2, {'model': 'fast', 'input': 'x'})[-1]
            assert e['type'] == 'error' and 'groq offers no embeddings API' in e['error']['message'], e
            assert embed_requests(fake) == []


def test_presets_whose_docs_offer_embeddings():
    # Each of these presets documents POST {base}/embeddings in OpenAI's
    # shape (presets.c says where that was checked).
    rows = [('nvidia_nim', 'nvidia/nv-embedqa-e5-v5'), ('cloudflare', '@cf/baai/bge-small-en-v1.5'),
            ('github', 'openai/text-embedding-3-small'), ('xinference', 'bge-base-en'),
            ('openrouter', 'qwen/qwen3-embedding-0.6b'), ('dashscope', 'text-embedding-v3'),
            ('litellm_proxy', 'text-embedding-3-small')]
    with Fake() as fake:
        cfg = 'model_list:\n' + ''.join(
            '  - model_name: %s\n    litellm_params:\n      model: %s/%s\n'
            '      api_base: %s/v1\n      api_key: sk-preset-%d\n' % (p, p, m, fake.url, i)
            for i, (p, m) in enumerate(rows))
        with Daemon(cfg) as d:
            c = Raw(d.sock)
            for i, (p, m) in enumerate(rows):
                body, done = answer(embed(c, i + 1, {'model': p, 'input': ['a b', 'c'],
                                                     'input_type': 'query'}))
                up = embed_requests(fake)[-1]
                assert up['path'] == '/v1/embeddings', (p, up['path'])
                assert up['headers']['Authorization'] == 'Bearer sk-preset-%d' % i
                sent = json.loads(up['body'])
                # the model without its prefix; input_type passes through (NIM wants it)
                assert sent == {'model': m, 'input': ['a b', 'c'], 'input_type': 'query',
                                'encoding_format': 'float'}, (p, sent)
                assert [e['embedding'] for e in body['data']] == [
                    [f32(x) for x in fake_vector(t, 4)] for t in ('a b', 'c')]
                assert done['provider'] == p and done['usage']['prompt_tokens'] == 3


def test_cli_embed_lines_and_raw():
    with Fake() as fake, Daemon(oa_config(fake)) as d:
        r = d.llmux('embed', '-m', 'emb', 'hello world', 'second', input=b'')
        assert r.returncode == 0, r.stderr
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        assert [x['index'] for x in lines] == [0, 1]
        # 9 digits: the float32 comes back exactly
        assert [f32(x) for x in lines[1]['embedding']] == [f32(x) for x in fake_vector('second', 4)]
        r = d.llmux('embed', '-m', 'emb', '--dimensions', '3', '-', input=b'one\ntwo\nthree\n')
        assert r.returncode == 0, r.stderr
        lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
        assert len(lines) == 3 and all(len(x['embedding']) == 3 for x in lines)
        assert json.loads(embed_requests(fake)[-1]['body'])['input'] == ['one', 'two', 'three']
        r = d.llmux('embed', '-m', 'emb', '--raw', '--base64', 'x', input=b'')
        assert r.returncode == 0, r.stderr
        j = json.loads(r.stdout)
        assert j['object'] == 'list' and isinstance(j['data'][0]['embedding'], str)
        assert j['usage']['prompt_tokens'] == 1
        r = d.llmux('embed', '-m', 'nope', 'x', input=b'')
        assert r.returncode != 0 and b'nope' in r.stderr, (r.returncode, r.stderr)
        r = d.llmux('embed', 'x', input=b'')
        assert r.returncode == 2 and b'-m MODEL' in r.stderr


AWS = {'AWS_ACCESS_KEY_ID': 'AKIDEXAMPLE',
       'AWS_SECRET_ACCESS_KEY': 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
       'AWS_REGION': 'us-east-1'}


def native(fake, model, key=''):
    return '''model_list:
  - model_name: emb
    litellm_params:
      model: %s
      api_base: %s
%s''' % (model, fake.url, ('      api_key: %s\n' % key) if key else '')


def check_native(fake, d, body, inputs, dims=4):
    """The normalised answer: one float32 vector per input, in order."""
    out, done = answer(embed(Raw(d.sock), 1, body))
    assert [e['index'] for e in out['data']] == list(range(len(inputs)))
    for i, e in enumerate(out['data']):
        assert e['embedding'] == [f32(x) for x in fake_vector(inputs[i], dims)], (i, e)
    assert fake.violations() == []
    return out, done, fake.requests()[-1]


def test_ollama_api_embed():
    with Fake() as fake, Daemon(native(fake, 'ollama/all-minilm')) as d:
        inputs = ['why is the sky blue', 'why is the grass green']
        out, done, up = check_native(fake, d, {'model': 'emb', 'input': inputs, 'dimensions': 3}, inputs, 3)
        assert up['path'] == '/api/embed'
        assert json.loads(up['body']) == {'model': 'all-minilm', 'input': inputs, 'dimensions': 3}
        assert done['usage']['prompt_tokens'] == 10


def test_cohere_v2_embed():
    with Fake() as fake, Daemon(native(fake, 'cohere/embed-english-v3.0', 'co-test-key')) as d:
        inputs = ['hello there', 'general kenobi', 'third']
        out, done, up = check_native(fake, d, {'model': 'emb', 'input': inputs,
                                               'input_type': 'search_query'}, inputs)
        assert up['path'] == '/v2/embed'
        assert up['headers']['Authorization'] == 'Bearer co-test-key'
        assert json.loads(up['body']) == {'model': 'embed-english-v3.0', 'texts': inputs,
                                          'input_type': 'search_query', 'embedding_types': ['float']}
        assert done['usage']['prompt_tokens'] == 5
        # LiteLLM's default input_type when the caller gives none
        answer(embed(Raw(d.sock), 2, {'model': 'emb', 'input': 'x', 'dimensions': 4}))
        sent = json.loads(fake.requests()[-1]['body'])
        assert sent['input_type'] == 'search_document' and sent['output_dimension'] == 4


def test_gemini_batch_embed_contents():
    with Fake() as fake, Daemon(native(fake, 'gemini/text-embedding-004', 'gm-test-key')) as d:
        inputs = ['What is the meaning of life?', 'How much wood?']
        out, done, up = check_native(fake, d, {'model': 'emb', 'input': inputs, 'dimensions': 6,
                                               'input_type': 'search_document'}, inputs, 6)
        assert up['path'] == '/v1beta/models/text-embedding-004:batchEmbedContents'
        assert up['headers']['x-goog-api-key'] == 'gm-test-key'
        sent = json.loads(up['body'])
        assert sent == {'requests': [
            {'model': 'models/text-embedding-004', 'content': {'parts': [{'text': t}]},
             'taskType': 'RETRIEVAL_DOCUMENT', 'outputDimensionality': 6} for t in inputs]}
        answer(embed(Raw(d.sock), 2, {'model': 'emb', 'input': 'q', 'task_type': 'SEMANTIC_SIMILARITY'}))
        assert json.loads(fake.requests()[-1]['body'])['requests'][0]['taskType'] == 'SEMANTIC_SIMILARITY'


def test_bedrock_cohere_embed_signed():
    with Fake() as fake, Daemon(native(fake, 'bedrock/cohere.embed-english-v3'), env=AWS) as d:
        inputs = ['doc one', 'doc two', 'doc three']
        out, done, up = check_native(fake, d, {'model': 'emb', 'input': inputs,
                                               'encoding_format': 'float'}, inputs)
        assert up['path'] == '/model/cohere.embed-english-v3/invoke'
        assert up['headers']['Authorization'].startswith('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/')
        assert json.loads(up['body']) == {'texts': inputs, 'input_type': 'search_document',
                                          'embedding_types': ['float']}
        assert 'wJalr' not in d.log()


def test_bedrock_other_models_are_refused_by_name():
    with Fake() as fake, Daemon(native(fake, 'bedrock/amazon.titan-embed-image-v1'), env=AWS) as d:
        e = embed(Raw(d.sock), 1, {'model': 'emb', 'input': 'x'})[-1]
        assert e['type'] == 'error' and e['error']['type'] == 'bad_request', e
        assert 'Titan Text Embeddings' in e['error']['message'], e
        assert 'amazon.titan-embed-image-v1' in e['error']['message'], e
        assert fake.requests() == []


TITAN = 'bedrock/amazon.titan-embed-text-v2:0'
TITAN_PATH = '/model/amazon.titan-embed-text-v2%3A0/invoke'


def invokes(fake):
    return [r for r in fake.requests() if r['path'].endswith('/invoke')]


def test_bedrock_titan_one_signed_call_per_input_in_order():
    with Fake() as fake, Daemon(native(fake, TITAN), env=AWS) as d:
        inputs = ['first doc here', 'second', 'the third one', 'four']
        out, done, _ = check_native(fake, d, {'model': 'emb', 'input': inputs, 'dimensions': 256},
                                    inputs, 256)
        ups = invokes(fake)
        assert [r['path'] for r in ups] == [TITAN_PATH] * 4
        assert [json.loads(r['body']) for r in ups] == [
            {'inputText': t, 'dimensions': 256, 'normalize': True} for t in inputs]
        for r in ups:   # each call signed on its own (the fake verified it)
            assert r['status'] == 200 and r.get('auth_error') is None, r
            assert r['headers']['Authorization'].startswith('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/')
        assert len({r['headers']['Authorization'] for r in ups}) == 4
        assert done['usage'] == {'prompt_tokens': 3 + 1 + 3 + 1, 'total_tokens': 8}
        assert done['attempts'] == 1
        assert out['model'] == 'amazon.titan-embed-text-v2:0'
        # normalize as the caller says; one input is one call
        answer(embed(Raw(d.sock), 2, {'model': 'emb', 'input': 'solo', 'dimensions': 512,
                                      'normalize': False}))
        assert json.loads(invokes(fake)[-1]['body']) == {'inputText': 'solo', 'dimensions': 512,
                                                         'normalize': False}
        assert len(invokes(fake)) == 5 and fake.violations() == []
        assert 'wJalr' not in d.log()


def test_bedrock_titan_base64():
    with Fake() as fake, Daemon(native(fake, TITAN), env=AWS) as d:
        out, _ = answer(embed(Raw(d.sock), 1, {'model': 'emb', 'input': ['x y', 'z'], 'dimensions': 256,
                                               'encoding_format': 'base64'}))
        for i, t in enumerate(['x y', 'z']):
            raw = base64.b64decode(out['data'][i]['embedding'])
            assert list(struct.unpack('<256f', raw)) == [f32(x) for x in fake_vector(t, 256)]
        # upstream always speaks float; llmux makes the base64
        assert all('encoding_format' not in json.loads(r['body']) for r in invokes(fake))


def test_bedrock_titan_one_failing_call_fails_the_attempt():
    with Fake() as fake, Daemon(native(fake, TITAN) + 'router_settings:\n  num_retries: 0\n',
                                env=AWS) as d:
        fake.queue('ok', 'err-429')
        e = embed(Raw(d.sock), 1, {'model': 'emb', 'input': ['a', 'b', 'c']})[-1]
        assert e['type'] == 'error' and e['error']['type'] == 'rate_limit', e
        assert 'Too many requests' in e['error']['message'], e
        assert len(invokes(fake)) == 2      # the third input was never sent
    with Fake() as fake, Daemon(native(fake, TITAN) + 'router_settings:\n  num_retries: 1\n'
                                '  retry_after: 0\n', env=AWS) as d:
        fake.queue('ok', 'err-500')
        inputs = ['a', 'b', 'c']
        out, done = answer(embed(Raw(d.sock), 1, {'model': 'emb', 'input': inputs, 'dimensions': 256}))
        # the retry is the whole request again: 2 calls, then 3
        assert [json.loads(r['body'])['inputText'] for r in invokes(fake)] == ['a', 'b', 'a', 'b', 'c']
        assert done['attempts'] == 2
        assert [e['embedding'] for e in out['data']] == [[f32(x) for x in fake_vector(t, 256)]
                                                         for t in inputs]
        assert done['usage']['prompt_tokens'] == 3


def test_embeddings_spend_is_priced_from_prompt_tokens():
    # cost_of() prices usage.prompt_tokens: a deployment's own price works
    # now, the price table's embedding prices will the same way.
    with Fake() as fake, Daemon(native(fake, TITAN) + '      input_cost_per_token: 0.25\n',
                                env=AWS) as d:
        _, done = answer(embed(Raw(d.sock), 1, {'model': 'emb', 'input': ['one two', 'three'],
                                                'dimensions': 256}))
        assert done['usage']['prompt_tokens'] == 3
        assert abs(done['cost'] - 0.75) < 1e-9, done


def test_bedrock_titan_v1_takes_text_only():
    with Fake() as fake, Daemon(native(fake, 'bedrock/amazon.titan-embed-text-v1'), env=AWS) as d:
        c = Raw(d.sock)
        out, done = answer(embed(c, 1, {'model': 'emb', 'input': ['hello world', 'again']}))
        assert [json.loads(r['body']) for r in invokes(fake)] == [{'inputText': 'hello world'},
                                                                  {'inputText': 'again'}]
        assert [len(e['embedding']) for e in out['data']] == [1536, 1536]
        assert done['usage']['prompt_tokens'] == 3 and fake.violations() == []
        e = embed(c, 2, {'model': 'emb', 'input': 'x', 'dimensions': 256})[-1]
        assert e['type'] == 'error' and e['error']['type'] == 'bad_request', e
        assert 'takes no dimensions' in e['error']['message'], e
        e = embed(c, 3, {'model': 'emb', 'input': [[1, 2]]})[-1]
        assert e['type'] == 'error' and 'not token arrays' in e['error']['message'], e
        assert len(invokes(fake)) == 2


def test_token_arrays_to_a_text_only_dialect():
    with Fake() as fake, Daemon(native(fake, 'cohere/embed-english-v3.0', 'co-test-key')) as d:
        e = embed(Raw(d.sock), 1, {'model': 'emb', 'input': [[1, 2, 3]]})[-1]
        assert e['type'] == 'error' and 'not token arrays' in e['error']['message'], e
        assert fake.requests() == []


def test_deployment_tpm_counts_input_tokens_and_rpm_counts_calls():
    cfg = '''model_list:
  - model_name: emb
    litellm_params:
      model: mock/embed
      tpm: %d
      rpm: %d
router_settings:
  routing_strategy: usage-based-routing-v2
'''
    with Daemon(cfg % (6, 100)) as d:
        c = Raw(d.sock)
        answer(embed(c, 1, {'model': 'emb', 'input': 'one two three four five six seven eight'}))
        e = embed(c, 2, {'model': 'emb', 'input': 'x'})[-1]
        assert e['type'] == 'error' and e['error']['type'] == 'rate_limit', e
    with Daemon(cfg % (1000, 1)) as d:
        c = Raw(d.sock)
        answer(embed(c, 1, {'model': 'emb', 'input': 'x'}))
        e = embed(c, 2, {'model': 'emb', 'input': 'y'})[-1]
        assert e['type'] == 'error' and e['error']['type'] == 'rate_limit', e
    with Daemon(cfg % (1000, 100)) as d:     # under both: no refusal
        c = Raw(d.sock)
        for i in range(1, 4):
            answer(embed(c, i, {'model': 'emb', 'input': 'x %d' % i}))
