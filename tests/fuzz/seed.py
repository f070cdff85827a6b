#!/usr/bin/python3
"""seed.py -- (re)builds the seed corpora in tests/fuzz/corpus/<target>/.

Seeds come from ../shared/conformance (recorded provider bodies and
streams, event-stream vectors, SigV4 requests), from what
tests/mockup/fakeprov.py puts on the wire for each dialect (so stream
seeds are byte-exact wire bodies, Bedrock's event-stream frames included),
and from a few hand-made frames, requests and configs. Each seed carries
the prefix bytes its target reads first (see the target's header comment).
Files named regress-* are crash regressions: seed.py never touches them.

usage: tests/fuzz/seed.py [--conformance DIR]
Run it by hand when a target's input format or the samples change; the
result is committed. Files over MAX_SEED bytes are skipped.
"""

import argparse
import glob
import hashlib
import json
import os
import shutil
import struct
import sys
import urllib.request

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, 'corpus')
MAX_SEED = 32 * 1024

sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))


class Seeds:
    """Seed files of one target, named by content hash."""

    def __init__(self, target):
        self.dir = os.path.join(CORPUS, target)
        os.makedirs(self.dir, exist_ok=True)
        for f in os.listdir(self.dir):
            if not f.startswith('regress-'):
                os.unlink(os.path.join(self.dir, f))
        self.n = 0

    def add(self, data, hint='seed'):
        if isinstance(data, str):
            data = data.encode()
        if len(data) > MAX_SEED:
            return
        name = '%s-%s' % (hint, hashlib.sha1(data).hexdigest()[:12])
        with open(os.path.join(self.dir, name), 'wb') as f:
            f.write(data)
        self.n += 1


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def frame(obj):
    b = msgpack.packb(obj, use_bin_type=True)
    return struct.pack('>I', len(b)) + b


REQUESTS = [
    {'model': 'gpt', 'messages': [{'role': 'user', 'content': 'hi'}]},
    {'model': 'openai/gpt-4o-mini', 'stream': True, 'stream_options': {'include_usage': True},
     'messages': [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Why?'}],
     'temperature': 0.2, 'max_tokens': 20},
    {'model': 'anthropic/claude', 'messages': [
        {'role': 'user', 'content': [{'type': 'text', 'text': 'what is this?'},
                                     {'type': 'image_url', 'image_url': {'url': 'data:image/png;base64,iVBORw0KGgo='}}]},
        {'role': 'assistant', 'content': None, 'tool_calls': [
            {'id': 'call_1', 'type': 'function', 'function': {'name': 'get_weather', 'arguments': '{"city":"Paris"}'}}]},
        {'role': 'tool', 'tool_call_id': 'call_1', 'content': '{"temp":20}'}],
     'tools': [{'type': 'function', 'function': {'name': 'get_weather', 'description': 'weather',
                'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}}}}}],
     'tool_choice': 'auto', 'n': 1, 'stop': ['\n'], 'response_format': {'type': 'json_object'}},
    {'model': 'gemini/gemini-2.5-flash', 'messages': [{'role': 'developer', 'content': 'x'},
                                                     {'role': 'user', 'content': 'y'}],
     'reasoning_effort': 'low', 'top_p': 0.5, 'seed': 7, 'user': 'u1', 'drop_params': True},
    {'model': 'mock/echo', 'messages': [{'role': 'user', 'content': 'a\u00e9\u4e2d\U0001f600'}],
     'stream': False, 'metadata': {'k': [1, 2.5, -3, None, True, 18446744073709551615]}},
]


def seed_protocol():
    fr = Seeds('frame')
    rq = Seeds('request')
    hello = {'type': 'hello', 'version': 1, 'client': 'libllmux/0.1.0'}
    stream = frame(hello)
    for i, body in enumerate(REQUESTS, 1):
        req = {'type': 'request', 'id': i, 'op': 'chat', 'body': body}
        rq.add(msgpack.packb(req, use_bin_type=True), 'request')
        fr.add(frame(hello) + frame(req), 'request')
        stream += frame(req)
    for op in ('models', 'status', 'metrics', 'reload'):
        fr.add(frame({'type': 'request', 'id': 9, 'op': op}), 'op')
    fr.add(stream + frame({'type': 'cancel', 'id': 2}), 'stream')
    fr.add(frame({'type': 'chunk', 'id': 3, 'body': {'choices': [{'index': 0, 'delta': {'content': 'x'}}]}}), 'chunk')
    fr.add(frame({'type': 'done', 'id': 3, 'usage': {'prompt_tokens': 1, 'completion_tokens': 2, 'total_tokens': 3},
                  'timing': {'total_us': 10, 'upstream_us': 5, 'overhead_us': 5}}), 'done')
    fr.add(frame({'type': 'error', 'id': 3, 'error': {'type': 'rate_limit', 'code': -1009, 'status': 429,
                                                      'message': 'slow down', 'retry_after': 1.5}}), 'error')
    fr.add(frame({'type': 'hello', 'version': 1, 'x': b'\x00\xff', 'f': 1.5, 'n': -1,
                  'deep': [[[[{'a': [1]}]]]]}), 'types')
    rq.add(msgpack.packb({'type': 'request', 'id': 1, 'op': 'chat',
                          'body': {'model': 'x', 'bin': b'\x01\x02\x03', 'neg': -5, 'f': 0.1}},
                         use_bin_type=True), 'types')
    return fr.n + rq.n


def seed_json(conf):
    s = Seeds('json')
    for path in sorted(glob.glob(os.path.join(conf, 'providers', '*', '*.json'))):
        data = read(path)
        s.add(b'\x00' + data, 'json')
        try:
            s.add(b'\x01' + msgpack.packb(json.loads(data), use_bin_type=True), 'msgpack')
        except ValueError:
            pass
    for r in REQUESTS:
        s.add(b'\x00' + json.dumps(r).encode(), 'json')
    for t in ('1e400', '-0', '18446744073709551616', '[1.5e-324, 0.1, -9223372036854775808]',
              '"\\ud83d\\ude00\\u0000"', '{"a":{"b":[true,false,null]}}'):
        s.add(b'\x00' + t.encode(), 'edge')
    return s.n


def seed_framing(conf):
    sse, nd, es = Seeds('sse'), Seeds('ndjson'), Seeds('eventstream')
    for path in sorted(glob.glob(os.path.join(conf, 'providers', '*', '*.sse'))):
        data = read(path)
        sse.add(b'\xff\xff' + data, 'whole')
        sse.add(b'\x00\xff' + data, 'bytes')
    sse.add(b'\x03\xff\xef\xbb\xbfretry: 100\r\nid: 7\revent: x\n:comment\ndata\ndata: a\r\n\r\n', 'edge')
    sse.add(b'\x03\x05event: stop\ndata: 123456789\n\n', 'cap')
    for path in sorted(glob.glob(os.path.join(conf, 'providers', '*', '*.ndjson')) +
                       glob.glob(os.path.join(conf, 'providers', '*', '*.jsonl'))):
        data = read(path)
        nd.add(b'\xff\xff' + data, 'whole')
        nd.add(b'\x02\xff' + data.replace(b'\n', b'\r\n'), 'crlf')
    nd.add(b'\x01\x04 \t\r\n{}\nstop\n12345678\n', 'edge')
    for path in sorted(glob.glob(os.path.join(conf, 'eventstream', '**', '*'), recursive=True)):
        if os.path.isfile(path) and (path.endswith('.bin') or '/encoded/' in path):
            data = read(path)
            es.add(b'\xff' + data, 'whole')
            es.add(b'\x05' + data + data, 'twice')
    return sse.n + nd.n + es.n


def seed_sigv4(conf):
    s = Seeds('sigv4')
    for path in sorted(glob.glob(os.path.join(conf, 'sigv4', '**', 'request.txt'), recursive=True) +
                       glob.glob(os.path.join(conf, 'sigv4', '**', '*.req'), recursive=True)):
        data = read(path)
        norm = b'\x01' if 'unnormalized' not in path else b'\x00'
        s.add(norm + data, 'req')
        if 'sts' in path or 'token' in path:
            s.add(bytes([norm[0] | 2]) + data, 'token')
    return s.n


def seed_config():
    s = Seeds('config')
    s.add(read(os.path.join(ROOT, 'etc', 'llmux.yaml')), 'example')
    s.add('''model_list:
  - model_name: gpt
    litellm_params: {model: openai/gpt-4o, api_base: "http://127.0.0.1:1/v1", api_key: sk-x}
    model_info: {id: a}
  - model_name: gpt
    litellm_params: {model: groq/llama3, api_key: "os.environ/GROQ_API_KEY", timeout: 5}
  - model_name: fast
    litellm_params: {model: mock/fast, mock_response: quick}
litellm_settings: {drop_params: true, request_timeout: 30}
llmux_settings:
  socket: /tmp/x.sock
  log_level: debug
  grace_period: 1.5
  allow_users: [root, 0]
  allow_groups: [adm]
''', 'lists')
    s.add('a: &x [*x]\nb: &y {k: *y}\n', 'alias')
    s.add('model_list:\n  - model_name: x\n    litellm_params:\n      model: anthropic/c\n'
          '      api_key: credential/k\n      bogus: 1\nunknown_top: 2\n', 'warn')
    return s.n


def seed_httpadmin():
    """Method byte, path, '\\n', query, '\\n', body (fuzz-httpadmin.c)."""
    s = Seeds('httpadmin')
    for method, path, query, body in (
            (0, '/key/generate', '', '{"key_alias": "app", "models": ["gpt"], "max_budget": 0.5}'),
            (0, '/key/delete', '', '{"keys": ["sk-abc"], "key_aliases": ["app"]}'),
            (0, '/key/sk-abc%2Bdef/regenerate', '', ''),
            (0, '/key/regenerate', '', '{"key": "app"}'),
            (1, '/key/info', 'key=sk-abc%20x', ''),
            (1, '/key/list', 'page=1&size=10&return_full_object=true', ''),
            (1, '/spend/logs', 'api_key=app&user_id=0&request_id=r-1&start_date=2026-01-01'
                '&end_date=2026-12-31', ''),
            (1, '/team/info', 'team_id=ml&&x&=y#frag', ''),
            (1, '/team/list', '', ''), (0, '/team/new', '', '{"team_alias": "ml"}'),
            (1, '/key/generate', '', ''), (0, '/key/update', '', '{"key": '),
            (1, '/key/list', 'size=%zz', ''), (0, '/chat/completions', '', '{}')):
        s.add(bytes([method]) + ('%s\n%s\n%s' % (path, query, body)).encode(), 'req')
    return s.n


def wire_seeds(fake_url):
    """(corpus, mode byte, arg byte, bytes) from fakeprov's wire output."""
    K = 'sk-fake'
    dialects = {
        'openai': ('/v1/chat/completions', {'Authorization': 'Bearer ' + K}, 'body'),
        'azure': ('/openai/deployments/{m}/chat/completions?api-version=2024-10-21', {'api-key': K}, 'body'),
        'anthropic': ('/v1/messages', {'x-api-key': K, 'anthropic-version': '2023-06-01'}, 'body'),
        'gemini': ('/v1beta/models/{m}:generateContent', {'x-goog-api-key': K}, 'path'),
        'cohere': ('/v2/chat', {'Authorization': 'Bearer ' + K}, 'body'),
        'bedrock': ('/model/{m}/converse', {'Authorization': 'Bearer ' + K}, 'path'),
        'ollama': ('/api/chat', {}, 'body'),
    }
    scenarios = ['text', 'tool', 'parallel', 'thinking', 'echo', 'usage-none', 'filtered',
                 'instream-error', 'malformed', 'err-400', 'err-401', 'err-404', 'err-429:2',
                 'err-500', 'err-503', 'err-context', 'err-policy', 'err-toolname', 'via-groq',
                 'via-mistral', 'via-deepseek+thinking', 'n3', 'gemini3', 'basic', 'refusal',
                 'text-tool']
    out = []
    for name, (path, headers, where) in dialects.items():
        for scn in scenarios:
            for stream in (False, True):
                p = path.replace('{m}', scn)
                if stream and name == 'gemini':
                    p = p.replace(':generateContent', ':streamGenerateContent?alt=sse')
                if stream and name == 'bedrock':
                    p = p.replace('/converse', '/converse-stream')
                body = {'model': scn, 'messages': [{'role': 'user', 'content': 'one two'}],
                        'max_tokens': 50}
                if name in ('openai', 'azure', 'anthropic', 'cohere', 'ollama'):
                    body['stream'] = stream
                if stream and name in ('openai', 'azure'):
                    body['stream_options'] = {'include_usage': True}
                h = {'Content-Type': 'application/json'}
                h.update(headers)
                req = urllib.request.Request(fake_url + p, data=json.dumps(body).encode(), headers=h)
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        status, data = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, data = e.code, e.read()
                except Exception:
                    continue
                if 200 <= status < 300:
                    out.append((name, 1 if stream else 0, 0xff if stream else 0, data))
                    if stream:
                        out.append((name, 1, 0x03, data))
                else:
                    for code_i, code in enumerate((400, 401, 403, 404, 408, 413, 422, 429, 500, 502,
                                                   503, 504, 529, 599)):
                        if code == status:
                            out.append((name, 2, code_i, data))
                            break
                    else:
                        out.append((name, 2, 8, data))
    return out


# Embeddings answers (fuzz-provider mode 4) and requests (mode 5), in each
# dialect's documented shape, for the three inputs the target sends.
V = [[0.25, -0.5, 0.125], [1e-3, 2.5e-7, -0.75], [0.0, 1.0, -1.0]]
EMBED_BODIES = {
    'openai': [{'object': 'list', 'model': 'm', 'usage': {'prompt_tokens': 3, 'total_tokens': 3},
                'data': [{'object': 'embedding', 'index': i, 'embedding': v} for i, v in enumerate(V)]}],
    'azure': [{'object': 'list', 'data': [{'object': 'embedding', 'index': 2 - i, 'embedding': v}
                                          for i, v in enumerate(V)]}],
    'cohere': [{'id': 'x', 'embeddings': {'float': V}, 'meta': {'billed_units': {'input_tokens': 3}}},
               {'embeddings': V}],
    'gemini': [{'embeddings': [{'values': v} for v in V]}],
    'ollama': [{'model': 'm', 'embeddings': V, 'prompt_eval_count': 3}],
    'bedrock': [{'embeddings': {'float': V}, 'response_type': 'embeddings_by_type'},
                {'embedding': V[0], 'inputTextTokenCount': 1, 'embeddingsByType': {'float': V[0]}}],
    'vertex_ai': [{'predictions': [{'embeddings': {'values': v, 'statistics': {'token_count': 1.0,
                                                                                'truncated': False}}}
                                   for v in V]},
                  {'predictions': [{'embeddings': {'values': V[0], 'statistics': {'token_count': 2}}}]}],
}
EMBED_REQUESTS = [
    {'model': 'fuzz', 'input': 'one text'},
    {'model': 'fuzz', 'input': ['a', 'b', 'c'], 'dimensions': 256, 'encoding_format': 'base64'},
    {'model': 'fuzz', 'input': [[1, 2, 3]], 'input_type': 'search_query'},
    {'model': 'fuzz', 'input': ['x'], 'task_type': 'CLUSTERING', 'normalize': False,
     'auto_truncate': True, 'title': 't'},
]


def seed_embeddings(seeds):
    for name, bodies in EMBED_BODIES.items():
        if name not in seeds:
            seeds[name] = Seeds('provider-' + name)
        for body in bodies:
            for arg in (0, 1):
                seeds[name].add(bytes([4, arg]) + json.dumps(body).encode(), 'embed')
    for s in seeds.values():
        for r in EMBED_REQUESTS:
            s.add(bytes([5, 0]) + json.dumps(r).encode(), 'embed-build')


def seed_providers():
    from harness import Fake
    seeds = {}
    with Fake('-q') as f:
        for name, mode, arg, data in wire_seeds(f.url):
            if name not in seeds:
                seeds[name] = Seeds('provider-' + name)
            seeds[name].add(bytes([mode, arg]) + data, ('parse', 'stream', 'error')[mode])
    for s in seeds.values():
        for r in REQUESTS:
            s.add(bytes([3, 0]) + json.dumps(r).encode(), 'build')
            s.add(bytes([3, 1]) + json.dumps(r).encode(), 'build')
    seed_embeddings(seeds)
    return sum(s.n for s in seeds.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--conformance', default=os.path.join(os.path.dirname(ROOT), 'shared', 'conformance'))
    a = ap.parse_args()
    n = seed_protocol() + seed_json(a.conformance) + seed_framing(a.conformance)
    n += seed_sigv4(a.conformance) + seed_config() + seed_httpadmin() + seed_providers()
    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(CORPUS, '*', '*')))
    print('seed.py: %d seeds, %d KiB in %s' % (n, total // 1024, CORPUS))


if __name__ == '__main__':
    main()
