#!/usr/bin/python3
# -*- coding: utf-8 -*-
"""fakeprov.py -- a fake LLM provider server for llmux's tests.

It listens on 127.0.0.1 and speaks the real wire format of each provider llmuxd
talks to (OpenAI and OpenAI-compatible, Azure OpenAI, Anthropic, Gemini,
Cohere v2, Bedrock Converse/ConverseStream, Ollama, Vertex AI with its OAuth2
token endpoint). It replays the recorded
responses under shared/conformance/providers/ and injects faults on demand.
The request path picks the dialect; the model name (words joined by '+') or
the control queue picks the scenario. See README.md next to this file.

Python 3 standard library only.
"""

import argparse
import base64
import collections
import copy
import datetime
import email.utils
import hashlib
import hmac
import http.server
import json
import math
import os
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import zlib

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CONF = os.path.normpath(os.path.join(SCRIPT_DIR, '..', '..', '..', 'shared', 'conformance'))
DEFAULT_AK = 'AKIDEXAMPLE'
DEFAULT_SK = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'


# ----------------------------------------------------------------------------
# global state


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.queue = collections.deque()
        self.log = []
        self.violations = []
        self.seq = 0
        self.stop = threading.Event()
        self.conf = DEFAULT_CONF
        self.aws_ak = DEFAULT_AK
        self.aws_sk = DEFAULT_SK
        self.aws_max_skew = 300.0
        self.quiet = False
        # Vertex AI (POST /_vertex configures): the PEM public key that
        # JWT assertions must verify with, the lifetime of the tokens
        # issued, and what was issued.
        self.vertex_pub = None
        self.vertex_ttl = 3600
        # None, 'hang' (the token endpoint answers only once the fault is
        # cleared, or the client went away) or 'status:NNN' (it fails so)
        self.vertex_fault = None
        self.vertex_tokens = {}       # token -> {'issued', 'exp', 'n'}
        self.vertex_exchanges = []    # one dict per token request


S = State()


def note(msg):
    if not S.quiet:
        sys.stderr.write('fakeprov: %s\n' % msg)
        sys.stderr.flush()


def sleep(seconds):
    """Sleep, but wake up early when the server is stopping."""
    if seconds > 0:
        S.stop.wait(seconds)


# ----------------------------------------------------------------------------
# JSON serialisation styles


def dumps_compact(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(',', ':'))


def dumps_gemini_sse(obj):
    # What the real alt=sse endpoint sends: ": " after keys, "," without space.
    return json.dumps(obj, ensure_ascii=False, separators=(',', ': '))


def dumps_pretty2(obj):
    return json.dumps(obj, ensure_ascii=False, indent=2) + '\n'


def dumps_go(obj):
    # Go's encoding/json: compact, HTML-escaped <, >, & and U+2028/9.
    s = json.dumps(obj, ensure_ascii=False, separators=(',', ':'))
    return (s.replace('<', '\\u003c').replace('>', '\\u003e').replace('&', '\\u0026')
             .replace('\u2028', '\\u2028').replace('\u2029', '\\u2029'))


def b(s):
    return s.encode('utf-8') if isinstance(s, str) else s


# ----------------------------------------------------------------------------
# samples


class SampleError(Exception):
    pass


_cache = {}
_cache_lock = threading.Lock()


def sample_path(rel):
    return os.path.join(S.conf, 'providers', rel)


def sample_bytes(rel):
    with _cache_lock:
        data = _cache.get(rel)
    if data is None:
        try:
            with open(sample_path(rel), 'rb') as f:
                data = f.read()
        except OSError as e:
            raise SampleError('cannot read sample %s: %s' % (rel, e))
        with _cache_lock:
            _cache[rel] = data
    return data


def sample_json(rel):
    """A fresh parsed copy (key order kept)."""
    return json.loads(sample_bytes(rel).decode('utf-8'))


def is_stream_file(rel):
    return rel.endswith(('.sse', '.jsonl', '.ndjson'))


def find_sample(default_dir, name):
    d, n = (name.split('/', 1) if '/' in name else (default_dir, name))
    try:
        files = sorted(os.listdir(sample_path(d)))
    except OSError:
        raise SampleError('no sample directory %r' % d)
    for f in files:
        if f == n:
            return d + '/' + f
    same = [f for f in files if f.split('.')[0] == n]
    if same:
        return d + '/' + min(same, key=len)
    for f in files:
        if f.startswith(n):
            return d + '/' + f
    raise SampleError('no sample %r in %s (have: %s)' % (n, d, ', '.join(files)))


# sample:NAME naming an error file answers with that error (same as the err-* word)
SAMPLE_ERRORS = {
    'error_400_invalid_request_error.json': '400',           # anthropic
    'error_429_rate_limit_error.json': '429',                # anthropic (+ .headers.json)
    'error_400_context_length_exceeded.json': 'context',     # openai
    'error_401_invalid_api_key.json': '401',                 # openai
    'error_429_rate_limit_exceeded.json': '429',             # openai
    'error_400_api_key_invalid.json': '401',                 # gemini
    'error_404_model_not_found.json': '404',                 # gemini
    'error_429_resource_exhausted.json': '429',              # gemini
    'error_400_validation_exception.recorded.json': '400',   # bedrock
    'error_400_validation_exception_tool_name.json': 'toolname',  # bedrock
}
NOT_RESPONSES = ('recorded_request_tools.json', 'error_429_rate_limit_error.headers.json')


class Ev:
    """One stream event. raw: exact wire bytes (envelope included) when the event
    is replayed unchanged; text: exact JSON payload text; obj: parsed payload."""
    __slots__ = ('raw', 'text', 'obj', 'etype', 'done')

    def __init__(self, raw=None, text=None, obj=None, etype=None, done=False):
        self.raw, self.text, self.obj, self.etype, self.done = raw, text, obj, etype, done

    @property
    def data(self):
        if self.obj is None and self.text is not None:
            try:
                self.obj = json.loads(self.text)
            except ValueError:
                return None
        return self.obj

    def set(self, obj):
        self.obj, self.text, self.raw = obj, None, None

    def clone_obj(self):
        return copy.deepcopy(self.data)


def parse_sse(data, sep):
    """Split an SSE byte stream into events, keeping each event's exact bytes so
    that b''.join(ev.raw) reproduces the input."""
    evs = []
    pos = 0
    n = len(data)
    while pos < n:
        i = data.find(sep, pos)
        if i < 0:
            block, raw, pos = data[pos:], data[pos:], n
        else:
            block, raw, pos = data[pos:i], data[pos:i + len(sep)], i + len(sep)
        if not block.strip():
            if evs:
                evs[-1].raw += raw
            else:
                evs.append(Ev(raw=raw, done=True))  # degenerate
            continue
        etype = None
        lines = []
        for line in block.decode('utf-8').splitlines():
            if line.startswith('event:'):
                etype = line[6:].strip()
            elif line.startswith('data:'):
                d = line[5:]
                lines.append(d[1:] if d.startswith(' ') else d)
        text = '\n'.join(lines)
        if text.strip() == '[DONE]':
            evs.append(Ev(raw=raw, done=True))
        else:
            evs.append(Ev(raw=raw, text=text, etype=etype))
    return evs


def parse_jsonl(data):
    return [ln.rstrip('\r') for ln in data.decode('utf-8').split('\n') if ln.strip()]


def pieces_of(text):
    """Split into words, each keeping its trailing whitespace; join == text."""
    ps = re.findall(r'\S+\s*', text)
    lead = re.match(r'\s*', text).group(0)
    if ps and lead:
        ps[0] = lead + ps[0]
    elif not ps and text:
        ps = [text]
    return ps


def last_user_text(req):
    if not isinstance(req, dict):
        return ''
    msgs = req.get('messages')
    if not isinstance(msgs, list):
        msgs = req.get('contents')
    if not isinstance(msgs, list):
        if isinstance(req.get('prompt'), str):
            return req['prompt']
        return ''
    for m in reversed(msgs):
        if not isinstance(m, dict):
            continue
        if m.get('role', 'user') != 'user':
            continue
        c = m.get('content', m.get('parts'))
        if isinstance(c, str):
            return c
        if isinstance(c, dict):
            c = [c]
        if isinstance(c, list):
            out = []
            for p in c:
                if isinstance(p, str):
                    out.append(p)
                elif isinstance(p, dict) and isinstance(p.get('text'), str):
                    if p.get('type', 'text') in ('text', 'input_text'):
                        out.append(p['text'])
            return ''.join(out)
        return ''
    return ''


def fix_usage(obj, pt, ct):
    """Set OpenAI-style token counts wherever a usage object appears."""
    if isinstance(obj, dict):
        if 'prompt_tokens' in obj and 'completion_tokens' in obj:
            obj['prompt_tokens'] = pt
            obj['completion_tokens'] = ct
            if 'total_tokens' in obj:
                obj['total_tokens'] = pt + ct
        for v in obj.values():
            fix_usage(v, pt, ct)
    elif isinstance(obj, list):
        for v in obj:
            fix_usage(v, pt, ct)


def rand_id(n=24, alphabet='0123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'):
    raw = uuid.uuid4().bytes + uuid.uuid4().bytes
    return ''.join(alphabet[x % len(alphabet)] for x in raw[:n])


def secs_fmt(x):
    return str(int(x)) if float(x) == int(x) else ('%g' % x)


# ----------------------------------------------------------------------------
# AWS event-stream framing


def es_header(name, value):
    nb, vb = name.encode(), value.encode()
    return bytes([len(nb)]) + nb + b'\x07' + struct.pack('>H', len(vb)) + vb


def es_frame(headers, payload):
    hb = b''.join(es_header(k, v) for k, v in headers)
    total = 12 + len(hb) + len(payload) + 4
    prelude = struct.pack('>II', total, len(hb))
    msg = prelude + struct.pack('>I', zlib.crc32(prelude)) + hb + payload
    return msg + struct.pack('>I', zlib.crc32(msg))


PAD_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'


# ----------------------------------------------------------------------------
# SigV4 verification


def remove_dot_segments(path):
    # RFC 3986 5.2.4, plus AWS's collapsing of consecutive slashes (as botocore).
    if not path:
        return '/'
    out = []
    for seg in path.split('/'):
        if seg and seg != '.':
            if seg == '..':
                if out:
                    out.pop()
            else:
                out.append(seg)
    first = '/' if path.startswith('/') else ''
    last = '/' if path.endswith('/') and out else ''
    return first + '/'.join(out) + last


def _path_bytes(p):
    # http.server decodes the request line as latin-1; get the raw bytes back.
    try:
        return p.encode('latin-1')
    except UnicodeEncodeError:
        return p.encode('utf-8')


def sigv4_canonical_uri(raw_path):
    # Non-S3 services: normalise, then URI-encode every segment *again*
    # (so an on-the-wire "%3A" becomes "%253A"), as botocore/aws-c-auth do.
    return urllib.parse.quote(_path_bytes(remove_dot_segments(raw_path or '/')), safe=b'/~')


def sigv4_canonical_query(raw_query):
    pairs = []
    for part in (raw_query or '').split('&'):
        if not part:
            continue
        k, _, v = part.partition('=')
        k = urllib.parse.quote(urllib.parse.unquote_to_bytes(k), safe=b'-_.~')
        v = urllib.parse.quote(urllib.parse.unquote_to_bytes(v), safe=b'-_.~')
        pairs.append((k, v))
    pairs.sort()
    return '&'.join('%s=%s' % kv for kv in pairs)


def sigv4_canonical_request(method, raw_path, raw_query, header_items, signed, payload_hash):
    hdrs = {}
    for k, v in header_items:
        hdrs.setdefault(k.lower(), []).append(v)
    ch = ''
    for h in signed:
        vals = hdrs.get(h, [])
        ch += '%s:%s\n' % (h, ','.join(' '.join(v.split()) for v in vals))
    return '\n'.join([method, sigv4_canonical_uri(raw_path), sigv4_canonical_query(raw_query),
                      ch, ';'.join(signed), payload_hash])


def sigv4_signing_key(secret, date, region, service):
    k = hmac.new(('AWS4' + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, 'aws4_request'):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def sigv4_string_to_sign(amz_date, scope, creq):
    return '\n'.join(['AWS4-HMAC-SHA256', amz_date, scope,
                      hashlib.sha256(creq.encode('utf-8')).hexdigest()])


def sigv4_signature(secret, date, region, service, sts):
    return hmac.new(sigv4_signing_key(secret, date, region, service), sts.encode(),
                    hashlib.sha256).hexdigest()


SIG_MISMATCH = ('The request signature we calculated does not match the signature you provided. '
                'Check your AWS Secret Access Key and signing method. Consult the service '
                'documentation for details.')


def sigv4_verify(method, raw_path, raw_query, header_items, body, access_key, secret_key,
                 now=None, max_skew=300.0):
    """Verify a SigV4-signed request the way AWS does (service-agnostic: region and
    service come from the credential scope). Returns None when valid, otherwise
    (http_status, aws_error_type, message)."""
    hdrs = {}
    for k, v in header_items:
        hdrs.setdefault(k.lower(), []).append(v)
    authz = (hdrs.get('authorization') or [''])[0].strip()
    if not authz:
        return (403, 'MissingAuthenticationTokenException', 'Missing Authentication Token')
    algo, _, rest = authz.partition(' ')
    if algo != 'AWS4-HMAC-SHA256':
        return (400, 'IncompleteSignatureException',
                'Unsupported AWS authorization algorithm %r' % algo)
    kv = {}
    for part in rest.split(','):
        k, eq, v = part.strip().partition('=')
        if eq:
            kv[k.strip()] = v.strip()
    for need in ('Credential', 'SignedHeaders', 'Signature'):
        if need not in kv:
            return (400, 'IncompleteSignatureException',
                    "Authorization header requires '%s' parameter. Authorization=%s" % (need, authz))
    cred = kv['Credential'].split('/')
    if len(cred) != 5 or cred[4] != 'aws4_request':
        return (400, 'IncompleteSignatureException',
                "Credential should be scoped to a valid region, not '%s'." % kv['Credential'])
    ak, date, region, service, _ = cred
    if ak != access_key:
        return (403, 'UnrecognizedClientException',
                'The security token included in the request is invalid.')
    signed = kv['SignedHeaders'].split(';')
    if 'host' not in signed and ':authority' not in signed:
        return (403, 'InvalidSignatureException',
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    amz_date = (hdrs.get('x-amz-date') or [''])[0].strip()
    if not amz_date and hdrs.get('date'):
        try:
            dt = email.utils.parsedate_to_datetime(hdrs['date'][0])
            amz_date = dt.astimezone(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
        except (TypeError, ValueError):
            amz_date = ''
    if not amz_date:
        return (400, 'IncompleteSignatureException',
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
                "Authorization=%s" % authz)
    try:
        t = datetime.datetime.strptime(amz_date, '%Y%m%dT%H%M%SZ').replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return (400, 'IncompleteSignatureException', "Invalid X-Amz-Date '%s'" % amz_date)
    if date != amz_date[:8]:
        return (403, 'InvalidSignatureException',
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                "HTTP: '%s' != '%s', from '%s'." % (date, amz_date[:8], amz_date))
    if max_skew and max_skew > 0:
        now = now or datetime.datetime.now(datetime.timezone.utc)
        skew = (now - t).total_seconds()
        fmt = '%Y%m%dT%H%M%SZ'
        if skew > max_skew:
            return (403, 'InvalidSignatureException',
                    'Signature expired: %s is now earlier than %s (%s - 5 min.)' % (
                        amz_date, (now - datetime.timedelta(seconds=max_skew)).strftime(fmt),
                        now.strftime(fmt)))
        if -skew > max_skew:
            return (403, 'InvalidSignatureException',
                    'Signature not yet current: %s is still later than %s (%s + 5 min.)' % (
                        amz_date, (now + datetime.timedelta(seconds=max_skew)).strftime(fmt),
                        now.strftime(fmt)))
    ph = (hdrs.get('x-amz-content-sha256') or [''])[0].strip()
    payload_hash = ph or hashlib.sha256(body).hexdigest()
    creq = sigv4_canonical_request(method, raw_path, raw_query, header_items, signed, payload_hash)
    scope = '/'.join([date, region, service, 'aws4_request'])
    sts = sigv4_string_to_sign(amz_date, scope, creq)
    want = sigv4_signature(secret_key, date, region, service, sts)
    if not hmac.compare_digest(want, kv['Signature']):
        return (403, 'InvalidSignatureException',
                SIG_MISMATCH + "\n\nThe Canonical String for this request should have been\n'%s'\n\n"
                "The String-to-Sign should have been\n'%s'\n" % (creq, sts))
    return None


# ----------------------------------------------------------------------------
# scenarios


class Scn:
    """Words separated by '+' (or whitespace); 'name:arg' carries an argument."""

    def __init__(self, spec):
        self.spec = spec or ''
        self.words = collections.OrderedDict()
        for w in re.split(r'[+\s]+', self.spec.strip()):
            if not w:
                continue
            name, colon, arg = w.partition(':')
            self.words.setdefault(name.lower(), arg if colon else None)

    def has(self, name):
        return name in self.words

    def arg(self, name, default=None):
        v = self.words.get(name)
        return default if v is None or v == '' else v

    def num(self, name, default=0.0):
        try:
            return float(self.arg(name, default))
        except (TypeError, ValueError):
            return default

    def err(self):
        """The first err-* word: (kind, arg) or None."""
        for w, a in self.words.items():
            if w.startswith('err-'):
                return w[4:], a
        return None


# ----------------------------------------------------------------------------
# responses


class Resp:
    """A complete (non-stream) HTTP response."""

    def __init__(self, status, body, ctype='application/json', headers=()):
        self.status, self.body, self.ctype, self.headers = status, b(body), ctype, list(headers)


class Ctx:
    pass


# ----------------------------------------------------------------------------
# dialects


class Dialect:
    name = '?'
    dir = ''
    stream_ctype = 'text/event-stream'
    json_ctype = 'application/json'
    # word -> (stream sample, non-stream sample); None = convert from the other one
    table = {}
    order = ('tool', 'parallel', 'thinking', 'reasoning', 'n3')
    raw_asis = False          # serve pretty-printed non-stream samples as they are

    # --- serialisation
    def dumps(self, obj):
        return dumps_compact(obj)

    def body_dumps(self, obj, ctx):
        return self.dumps(obj)

    def envelope(self, ev, ctx):
        raise NotImplementedError

    def wire(self, ev, ctx):
        if ev.raw is not None:
            return ev.raw
        return self.envelope(ev, ctx)

    def payload_text(self, ev):
        return ev.text if ev.text is not None else self.dumps(ev.obj)

    # --- request-level things
    def model_of(self, ctx):
        r = ctx.req if isinstance(ctx.req, dict) else {}
        m = r.get('model')
        return m if isinstance(m, str) else ''

    def wants_stream(self, ctx):
        r = ctx.req if isinstance(ctx.req, dict) else {}
        return r.get('stream') is True

    def auth_error(self, ctx):
        return None

    def headers(self, ctx):
        return []

    # --- sample selection
    def sample_dir(self, ctx):
        return self.dir

    def tables(self, ctx):
        return [self.table]

    def pick(self, ctx):
        scn = ctx.scn
        if scn.has('sample'):
            rel = find_sample(self.sample_dir(ctx), scn.arg('sample', ''))
            return (rel, None) if is_stream_file(rel) else (None, rel)
        for w in self.order:
            if scn.has(w):
                for t in self.tables(ctx):
                    if w in t:
                        return t[w]
        for t in self.tables(ctx):
            if 'text' in t:
                return t['text']
        raise SampleError('no text sample')

    def load_events(self, src, ctx):
        if callable(src):
            return src(ctx)
        data = sample_bytes(src)
        if src.endswith('.sse'):
            sep = b'\r\n\r\n' if b'\r\n\r\n' in data else b'\n\n'
            return parse_sse(data, sep)
        return self.events_from_lines(parse_jsonl(data))

    def events_from_lines(self, lines):
        return [Ev(text=ln) for ln in lines]

    def text_events_template(self, ctx):
        src = self.tables(ctx)[0]['text'][0]
        return self.load_events(src, ctx)

    # --- content
    def echo_pieces(self, ctx):
        scn = ctx.scn
        if scn.has('drip'):
            n = max(0, int(scn.num('drip', 10)))
            return ['tok%d ' % i for i in range(n - 1)] + (['tok%d' % (n - 1)] if n else [])
        return pieces_of(last_user_text(ctx.req))

    def token_counts(self, ctx, pieces):
        return max(1, len(last_user_text(ctx.req).split())), len(pieces)

    def stream_events(self, ctx):
        scn = ctx.scn
        if scn.has('echo') or scn.has('drip'):
            return self.synth_text_events(self.echo_pieces(ctx), ctx)
        srel, brel = self.pick(ctx)
        if srel is not None:
            return self.load_events(srel, ctx)
        try:
            return self.body_to_events(self.load_body_obj(brel), ctx)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
            raise SampleError('cannot turn %s into a stream (%s: %s)' % (brel, type(e).__name__, e))

    def load_body_obj(self, rel):
        return sample_json(rel)

    def body(self, ctx):
        """-> (obj or None, raw bytes or None)"""
        scn = ctx.scn
        if scn.has('echo') or scn.has('drip'):
            pieces = self.echo_pieces(ctx)
            return self.synth_text_body(''.join(pieces), pieces, ctx), None
        srel, brel = self.pick(ctx)
        if brel is not None:
            return None, sample_bytes(brel)
        try:
            return self.events_to_body(self.load_events(srel, ctx), ctx), None
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as e:
            raise SampleError('cannot turn %s into a non-stream body (%s: %s)'
                              % (getattr(srel, '__name__', srel), type(e).__name__, e))

    def serve_raw(self, raw, ctx):
        if self.raw_asis or b'\n' not in raw.rstrip(b'\n'):
            return raw
        return b(self.body_dumps(json.loads(raw.decode('utf-8')), ctx))

    def post_stream(self, evs, ctx):
        if ctx.scn.has('usage-none'):
            evs = self.strip_usage_events(evs, ctx)
        return evs

    def post_body(self, obj, ctx):
        if ctx.scn.has('usage-none'):
            obj = self.strip_usage_body(obj, ctx)
        return obj

    def body_needs_obj(self, ctx):
        return ctx.scn.has('usage-none')

    def strip_usage_body(self, obj, ctx):
        if isinstance(obj, dict):
            obj.pop('usage', None)
        return obj

    def strip_usage_events(self, evs, ctx):
        return evs

    # --- faults
    def garbage_event(self, ctx):
        return Ev(raw=b'data: {"this is": not json at all\n\n')

    def instream_error_events(self, ctx):
        return []

    # --- errors: kind -> Resp (or None to fall through to content)
    def error(self, kind, arg, ctx):
        raise NotImplementedError

    def generic_error(self, status, ctx):
        return self.error_body(status, 'fakeprov: injected HTTP %d' % status, ctx)


# ---------------------------------------------------------------- OpenAI


OA_MISSING_KEY = {"error": {"message": "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.", "type": "invalid_request_error", "param": None, "code": None}}

AZURE_FILTER_OK = {"hate": {"filtered": False, "severity": "safe"},
                   "self_harm": {"filtered": False, "severity": "safe"},
                   "sexual": {"filtered": False, "severity": "safe"},
                   "violence": {"filtered": False, "severity": "safe"}}


def is_bad_key(k):
    return k.strip().lower().startswith(('bad', 'invalid', 'wrong'))


def oa_pretty(obj):
    # OpenAI's non-stream bodies are 2-space pretty-printed JSON.
    return json.dumps(obj, ensure_ascii=False, indent=2)


class OpenAI(Dialect):
    name = 'openai'
    dir = 'openai'
    stream_ctype = 'text/event-stream; charset=utf-8'
    VIA = {'via-groq': 'groq', 'via-mistral': 'mistral', 'via-deepseek': 'deepseek'}
    TABLES = {
        'openai': {
            'text': ('openai/stream_text.sse', 'openai/nonstream_text.json'),
            'tool': ('openai/stream_tool_call.sse', 'openai/nonstream_tool_call.json'),
            'parallel': ('openai/stream_parallel_tool_calls.sse', None),
            'n3': ('openai/stream_n3_multiple_choices.sse', None),
        },
        'groq': {
            'text': ('groq/stream_text.chunks.jsonl', 'groq/nonstream_text.json'),
            'tool': ('groq/stream_tool_call.chunks.jsonl', 'groq/nonstream_tool_call.json'),
        },
        'mistral': {
            'text': ('mistral/stream_text.chunks.jsonl', 'mistral/nonstream_text.json'),
            'tool': ('mistral/stream_tool_call.chunks.jsonl', 'mistral/nonstream_tool_call.json'),
        },
        'deepseek': {
            'text': ('deepseek/stream_text.chunks.jsonl', 'deepseek/nonstream_text.json'),
            'tool': ('deepseek/stream_tool_call.chunks.jsonl', 'deepseek/nonstream_tool_call.json'),
            'thinking': ('deepseek/stream_reasoning.chunks.jsonl', 'deepseek/nonstream_reasoning.json'),
            'reasoning': ('deepseek/stream_reasoning.chunks.jsonl', 'deepseek/nonstream_reasoning.json'),
        },
    }

    def __init__(self, azure=False):
        self.azure = azure
        if azure:
            self.name = 'azure'

    def via(self, ctx):
        for w, d in self.VIA.items():
            if ctx.scn.has(w):
                return d
        return None

    def sample_dir(self, ctx):
        return self.via(ctx) or 'openai'

    def tables(self, ctx):
        v = self.via(ctx)
        return [self.TABLES[v], self.TABLES['openai']] if v else [self.TABLES['openai']]

    def pick(self, ctx):
        r = ctx.req if isinstance(ctx.req, dict) else {}
        n = r.get('n')
        if isinstance(n, int) and n > 1 and not any(ctx.scn.has(w) for w in self.order + ('sample',)):
            return self.TABLES['openai']['n3']
        return Dialect.pick(self, ctx)

    def model_of(self, ctx):
        if self.azure and ctx.route_model is not None:
            return ctx.route_model
        return Dialect.model_of(self, ctx)

    def auth_error(self, ctx):
        h = ctx.hdr
        authz = h.get('authorization', '')
        key = authz[7:].strip() if authz[:7].lower() == 'bearer ' else ''
        # A provider added by config with auth: header:X-Acme-Key (test_compat).
        key = key or h.get('x-acme-key', '').strip()
        if self.azure:
            key = h.get('api-key', '').strip() or key
            if not key or is_bad_key(key):
                return self.azure_401()
            if ctx.path.startswith('/openai/deployments/') and 'api-version' not in ctx.query:
                return Resp(404, '{"error":{"code":"404","message": "Resource not found"}}')
            return None
        if not key:
            return Resp(401, oa_pretty(OA_MISSING_KEY) + '\n')
        if is_bad_key(key):
            return Resp(401, sample_bytes('openai/error_401_invalid_api_key.json'))
        return None

    def azure_401(self):
        return Resp(401, '{"error":{"code":"401","message":"Access denied due to invalid subscription key '
                         'or wrong API endpoint. Make sure to provide a valid key for an active subscription '
                         'and use a correct regional API endpoint for your resource."}}')

    def headers(self, ctx):
        if self.azure:
            return [('apim-request-id', str(uuid.uuid4())), ('x-ms-region', 'East US'),
                    ('x-request-id', str(uuid.uuid4()))]
        hdrs = [('x-request-id', 'req_' + uuid.uuid4().hex), ('openai-processing-ms', '117'),
                ('openai-version', '2020-10-01')]
        if ctx.scn is not None and ctx.scn.err() is None:
            # what api.openai.com sends on every answer (the 429 has its own)
            hdrs += [('x-ratelimit-limit-requests', '10000'), ('x-ratelimit-limit-tokens', '30000000'),
                     ('x-ratelimit-remaining-requests', '9999'),
                     ('x-ratelimit-remaining-tokens', '29999990'),
                     ('x-ratelimit-reset-requests', '6ms'), ('x-ratelimit-reset-tokens', '0s')]
        return hdrs

    def body_dumps(self, obj, ctx):
        # api.openai.com pretty-prints non-stream bodies; the OpenAI-compatible
        # providers (groq, mistral, deepseek) answer compact JSON.
        return dumps_compact(obj) if self.via(ctx) else oa_pretty(obj)

    def envelope(self, ev, ctx):
        if ev.done:
            return b'data: [DONE]\n\n'
        return b('data: ' + self.payload_text(ev) + '\n\n')

    def events_from_lines(self, lines):
        return [Ev(text=ln) for ln in lines] + [Ev(done=True)]

    def serve_raw(self, raw, ctx):
        if raw.startswith(b'{"id": "chatcmpl-'):
            return raw                  # openai/*.json: recorded values, served as stored
        return Dialect.serve_raw(self, raw, ctx)

    # -- synthesis
    def synth_text_events(self, pieces, ctx):
        tpl = [e for e in self.text_events_template(ctx) if not e.done]
        first = tpl[0]

        def content_of(e):
            ch = (e.data or {}).get('choices') or []
            return ch and isinstance((ch[0].get('delta') or {}).get('content'), str) and ch[0]['delta']['content']

        content_tpl = next((e for e in tpl[1:] if content_of(e)), first)
        finish_tpl = next((e for e in tpl if ((e.data or {}).get('choices') or [{}])[0].get('finish_reason')), None)
        usage_tpl = next((e for e in tpl if (e.data or {}).get('choices') == [] and e.data.get('usage')), None)
        pt, ct = self.token_counts(ctx, pieces)
        out = [Ev(raw=first.raw, text=first.text)]
        for p in pieces:
            o = content_tpl.clone_obj()
            o['choices'][0]['delta'] = {'content': p}
            out.append(Ev(obj=o))
        if finish_tpl is not None:
            o = finish_tpl.clone_obj()
            ch = o['choices'][0]
            ch['finish_reason'] = 'stop'
            if (ch.get('delta') or {}).get('content') is not None:
                ch['delta']['content'] = ''
            fix_usage(o, pt, ct)
            out.append(Ev(obj=o))
        if usage_tpl is not None:
            o = usage_tpl.clone_obj()
            fix_usage(o, pt, ct)
            out.append(Ev(obj=o))
        out.append(Ev(done=True))
        return out

    def synth_text_body(self, text, pieces, ctx):
        obj = sample_json(self.tables(ctx)[0]['text'][1])
        ch = obj['choices'][0]
        obj['choices'] = [ch]
        m = ch['message']
        m['content'] = text
        for k in ('tool_calls', 'reasoning_content'):
            m.pop(k, None)
        ch['finish_reason'] = 'stop'
        fix_usage(obj, *self.token_counts(ctx, pieces))
        return obj

    def events_to_body(self, evs, ctx):
        chunks = [e.data for e in evs if not e.done and isinstance(e.data, dict)]
        first = chunks[0]
        choices = {}
        usage = None
        for c in chunks:
            if c.get('usage'):
                usage = c['usage']
            for ch in c.get('choices') or []:
                i = ch.get('index', 0)
                st = choices.setdefault(i, {'index': i, 'message': {'role': 'assistant', 'content': None},
                                            'logprobs': None, 'finish_reason': None})
                d = ch.get('delta') or {}
                m = st['message']
                if d.get('role'):
                    m['role'] = d['role']
                if isinstance(d.get('content'), str):
                    m['content'] = (m['content'] or '') + d['content']
                if isinstance(d.get('reasoning_content'), str):
                    m['reasoning_content'] = m.get('reasoning_content', '') + d['reasoning_content']
                for tc in d.get('tool_calls') or []:
                    tcs = m.setdefault('tool_calls', [])
                    idx = tc.get('index', len(tcs))
                    ent = next((x for x in tcs if x['_i'] == idx), None)
                    if ent is None:
                        ent = {'_i': idx, 'id': tc.get('id'), 'type': tc.get('type', 'function'),
                               'function': {'name': '', 'arguments': ''}}
                        tcs.append(ent)
                    if tc.get('id'):
                        ent['id'] = tc['id']
                    f = tc.get('function') or {}
                    if f.get('name'):
                        ent['function']['name'] = f['name']
                    if isinstance(f.get('arguments'), str):
                        ent['function']['arguments'] += f['arguments']
                if 'refusal' in d and 'refusal' not in m:
                    m['refusal'] = d['refusal']
                if ch.get('finish_reason'):
                    st['finish_reason'] = ch['finish_reason']
        for st in choices.values():
            for tc in st['message'].get('tool_calls', []):
                tc.pop('_i', None)
        out = collections.OrderedDict()
        out['id'] = first.get('id')
        out['object'] = 'chat.completion'
        out['created'] = first.get('created')
        out['model'] = first.get('model')
        out['choices'] = [choices[i] for i in sorted(choices)]
        if usage is not None:
            out['usage'] = usage
        if 'system_fingerprint' in first:
            out['system_fingerprint'] = first['system_fingerprint']
        return out

    def body_to_events(self, obj, ctx):
        base = collections.OrderedDict([('id', obj.get('id')), ('object', 'chat.completion.chunk'),
                                        ('created', obj.get('created')), ('model', obj.get('model'))])
        if 'system_fingerprint' in obj:
            base['system_fingerprint'] = obj['system_fingerprint']
        out = []
        for ch in obj.get('choices', []):
            i, m = ch.get('index', 0), ch.get('message') or {}

            def mk(delta, fr=None):
                o = collections.OrderedDict(base)
                o['choices'] = [{'index': i, 'delta': delta, 'logprobs': None, 'finish_reason': fr}]
                return o
            out.append(mk({'role': 'assistant', 'content': '' if m.get('content') is not None else None}))
            if m.get('reasoning_content'):
                for p in pieces_of(m['reasoning_content']):
                    out.append(mk({'content': None, 'reasoning_content': p}))
            if m.get('content'):
                for p in pieces_of(m['content']):
                    out.append(mk({'content': p}))
            for j, tc in enumerate(m.get('tool_calls') or []):
                f = tc.get('function') or {}
                out.append(mk({'tool_calls': [{'index': j, 'id': tc.get('id'), 'type': 'function',
                                               'function': {'name': f.get('name'), 'arguments': ''}}]}))
                out.append(mk({'tool_calls': [{'index': j, 'function': {'arguments': f.get('arguments', '')}}]}))
            out.append(mk({}, ch.get('finish_reason') or 'stop'))
        if obj.get('usage'):
            o = collections.OrderedDict(base)
            o['choices'] = []
            o['usage'] = obj['usage']
            out.append(o)
        return [Ev(obj=o) for o in out] + [Ev(done=True)]

    # -- post-processing
    def post_stream(self, evs, ctx):
        scn = ctx.scn
        r = ctx.req if isinstance(ctx.req, dict) else {}
        so = r.get('stream_options') if isinstance(r.get('stream_options'), dict) else {}
        include = so.get('include_usage') is True

        def usage_only(e):
            d = e.data if not e.done else None
            return isinstance(d, dict) and d.get('choices') == [] and d.get('usage')

        if scn.has('usage-none'):
            out = []
            for e in evs:
                if usage_only(e):
                    continue
                d = e.data if not e.done else None
                if isinstance(d, dict) and (d.get('usage') or (d.get('x_groq') or {}).get('usage')):
                    o = e.clone_obj()
                    o.pop('usage', None)
                    if isinstance(o.get('x_groq'), dict):
                        o['x_groq'].pop('usage', None)
                    e = Ev(obj=o)
                out.append(e)
            evs = out
        elif not include:
            evs = [e for e in evs if not usage_only(e)]
        elif not any(isinstance(e.data if not e.done else None, dict) and e.data.get('usage') for e in evs):
            first = next(e.data for e in evs if not e.done and isinstance(e.data, dict))
            o = collections.OrderedDict()
            for k in ('id', 'object', 'created', 'model', 'system_fingerprint'):
                if k in first:
                    o[k] = first[k]
            o['choices'] = []
            ct = sum(1 for e in evs if not e.done and isinstance(e.data, dict)
                     and ((e.data.get('choices') or [{}])[0].get('delta') or {}).get('content'))
            pt = max(1, len(last_user_text(ctx.req).split()))
            o['usage'] = {'prompt_tokens': pt, 'completion_tokens': ct, 'total_tokens': pt + ct,
                          'completion_tokens_details': {'reasoning_tokens': 0}}
            idx = next((i for i, e in enumerate(evs) if e.done), len(evs))
            evs = evs[:idx] + [Ev(obj=o)] + evs[idx:]
        if scn.has('filtered'):
            out = []
            for e in evs:
                d = e.data if not e.done else None
                if isinstance(d, dict) and any(c.get('finish_reason') for c in d.get('choices') or []):
                    o = e.clone_obj()
                    for c in o['choices']:
                        if c.get('finish_reason'):
                            c['finish_reason'] = 'content_filter'
                    e = Ev(obj=o)
                out.append(e)
            evs = out
        if self.azure and not scn.has('no-filter-results'):
            pf = collections.OrderedDict([('choices', []), ('created', 0), ('id', ''), ('model', ''),
                                          ('object', ''), ('prompt_filter_results', [
                                              {'prompt_index': 0, 'content_filter_results': AZURE_FILTER_OK}])])
            evs = [Ev(obj=pf)] + evs
        return evs

    def body_needs_obj(self, ctx):
        return ctx.scn.has('usage-none') or ctx.scn.has('filtered') or (
            self.azure and not ctx.scn.has('no-filter-results'))

    def post_body(self, obj, ctx):
        if ctx.scn.has('usage-none'):
            obj.pop('usage', None)
            if isinstance(obj.get('x_groq'), dict):
                obj['x_groq'].pop('usage', None)
        if ctx.scn.has('filtered'):
            for c in obj.get('choices', []):
                c['finish_reason'] = 'content_filter'
        if self.azure and not ctx.scn.has('no-filter-results'):
            obj['prompt_filter_results'] = [{'prompt_index': 0, 'content_filter_results': AZURE_FILTER_OK}]
            for c in obj.get('choices', []):
                c['content_filter_results'] = AZURE_FILTER_OK
        return obj

    # -- faults
    def instream_error_events(self, ctx):
        return [Ev(raw=b'data: {"error":{"message":"The server had an error while processing your request. '
                       b'Sorry about that!","type":"server_error","param":null,"code":null}}\n\n')]

    # -- errors
    def error_body(self, status, message, ctx, etype=None, code=None, param=None):
        if etype is None:
            etype = 'server_error' if status >= 500 else 'invalid_request_error'
        return Resp(status, oa_pretty({'error': {'message': message, 'type': etype, 'param': param,
                                                 'code': code}}) + '\n')

    def error(self, kind, arg, ctx):
        model = self.model_of(ctx)
        if kind == '401':
            return self.azure_401() if self.azure else Resp(401, sample_bytes('openai/error_401_invalid_api_key.json'))
        if kind == '403':
            return Resp(403, oa_pretty({'error': {'code': 'unsupported_country_region_territory',
                                                  'message': 'Country, region, or territory not supported',
                                                  'param': None, 'type': 'request_forbidden'}}) + '\n')
        if kind == '404':
            if self.azure:
                return Resp(404, '{"error":{"code":"DeploymentNotFound","message":"The API deployment for '
                                 'this resource does not exist. If you created the deployment within the last '
                                 '5 minutes, please wait a moment and try again."}}')
            return self.error_body(404, 'The model `%s` does not exist or you do not have access to it.' % model,
                                   ctx, code='model_not_found')
        if kind == '400':
            return self.error_body(400, "Invalid 'messages': empty array. Expected an array with minimum "
                                        "length 1, but got an empty array instead.", ctx,
                                   code='empty_array', param='messages')
        if kind == 'context':
            return Resp(400, sample_bytes('openai/error_400_context_length_exceeded.json'))
        if kind == '429':
            secs = float(arg) if arg else 1.0
            hdrs = [('Retry-After', str(int(math.ceil(secs)))), ('retry-after-ms', str(int(round(secs * 1000)))),
                    ('x-ratelimit-limit-requests', '500'), ('x-ratelimit-remaining-requests', '0'),
                    ('x-ratelimit-reset-requests', secs_fmt(secs) + 's')]
            if self.azure:
                return Resp(429, '{"error":{"code":"429","message": "Requests to the ChatCompletions_Create '
                                 'Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate '
                                 'limit of your current OpenAI S0 pricing tier. Please retry after %s seconds. '
                                 'Please go here: https://aka.ms/oai/quotaincrease if you would like to further '
                                 'increase the default rate limit."}}' % int(math.ceil(secs)), headers=hdrs)
            return Resp(429, sample_bytes('openai/error_429_rate_limit_exceeded.json'), headers=hdrs)
        if kind == '500':
            return self.error_body(500, 'The server had an error while processing your request. Sorry about that!', ctx)
        if kind == '503':
            return self.error_body(503, 'The engine is currently overloaded, please try again later', ctx,
                                   etype='server_error')
        if kind == 'policy':
            if self.azure:
                filt = copy.deepcopy(AZURE_FILTER_OK)
                filt['violence'] = {'filtered': True, 'severity': 'high'}
                return Resp(400, dumps_compact({'error': {
                    'message': "The response was filtered due to the prompt triggering Azure OpenAI's content "
                               "management policy. Please modify your prompt and retry. To learn more about our "
                               "content filtering policies please read our documentation: "
                               "https://go.microsoft.com/fwlink/?linkid=2198766",
                    'type': None, 'param': 'prompt', 'code': 'content_filter', 'status': 400,
                    'innererror': {'code': 'ResponsibleAIPolicyViolation', 'content_filter_result': filt}}}))
            return self.error_body(400, 'Your request was rejected as a result of our safety system. Your prompt '
                                        'may contain text that is not allowed by our safety system.', ctx,
                                   code='content_policy_violation')
        if re.fullmatch(r'\d{3}', kind):
            return self.generic_error(int(kind), ctx)
        return None


# ---------------------------------------------------------------- Anthropic


class Anthropic(Dialect):
    name = 'anthropic'
    dir = 'anthropic'
    stream_ctype = 'text/event-stream; charset=utf-8'
    order = ('tool', 'thinking', 'reasoning', 'text-tool', 'basic', 'refusal', 'parallel')
    table = {
        'text': ('anthropic/stream_text.sse', 'anthropic/nonstream_text.json'),
        'tool': ('anthropic/stream_tool_use.sse', 'anthropic/nonstream_tool_use.json'),
        'thinking': ('anthropic/stream_thinking.chunks.jsonl', 'anthropic/nonstream_thinking.json'),
        'reasoning': ('anthropic/stream_thinking.chunks.jsonl', 'anthropic/nonstream_thinking.json'),
        'text-tool': (None, 'anthropic/nonstream_text_and_tool_use.json'),
        'parallel': ('anthropic/stream_tool_use.sse', 'anthropic/nonstream_tool_use.json'),
        'basic': ('anthropic/stream_basic_sdk_fixture.sse', None),
        'refusal': ('anthropic/stream_thinking_sdk_fixture.sse', None),
    }

    def request_id(self):
        return 'req_011C' + rand_id(20)

    def headers(self, ctx):
        return [('request-id', self.request_id()), ('anthropic-organization-id', str(uuid.uuid4()))]

    def auth_error(self, ctx):
        key = ctx.hdr.get('x-api-key', '').strip()
        if not key:
            return self.error_body(401, 'x-api-key header is required', ctx, 'authentication_error')
        if is_bad_key(key):
            return self.error_body(401, 'invalid x-api-key', ctx, 'authentication_error')
        if not ctx.hdr.get('anthropic-version', '').strip():
            return self.error_body(400, 'anthropic-version: header is required', ctx, 'invalid_request_error')
        return None

    def events_from_lines(self, lines):
        out = []
        for ln in lines:
            ev = Ev(text=ln)
            ev.etype = (ev.data or {}).get('type', 'message')
            out.append(ev)
        return out

    def envelope(self, ev, ctx):
        etype = ev.etype or (ev.data or {}).get('type', 'message')
        return b('event: %s\ndata: %s\n\n' % (etype, self.payload_text(ev)))

    def synth_text_events(self, pieces, ctx):
        tpl = self.load_events('anthropic/stream_text.sse', ctx)
        by = {}
        for e in tpl:
            by.setdefault(e.etype, e)
        pt, ct = self.token_counts(ctx, pieces)
        out = [by['message_start'], by['content_block_start'], by['ping']]
        for p in pieces:
            out.append(Ev(obj=collections.OrderedDict([
                ('type', 'content_block_delta'), ('index', 0),
                ('delta', collections.OrderedDict([('type', 'text_delta'), ('text', p)]))]),
                etype='content_block_delta'))
        md = by['message_delta'].clone_obj()
        md['usage']['output_tokens'] = ct
        out += [by['content_block_stop'], Ev(obj=md, etype='message_delta'), by['message_stop']]
        return out

    def synth_text_body(self, text, pieces, ctx):
        obj = sample_json('anthropic/nonstream_text.json')
        obj['content'] = [{'type': 'text', 'text': text}]
        obj['usage']['output_tokens'] = len(pieces)
        return obj

    def events_to_body(self, evs, ctx):
        msg = None
        blocks = {}
        partial = {}
        for e in evs:
            d = e.data
            if not isinstance(d, dict):
                continue
            t = d.get('type')
            if t == 'message_start':
                msg = copy.deepcopy(d['message'])
            elif t == 'content_block_start':
                blocks[d['index']] = copy.deepcopy(d['content_block'])
            elif t == 'content_block_delta':
                blk, dl = blocks[d['index']], d['delta']
                dt = dl.get('type')
                if dt == 'text_delta':
                    blk['text'] = blk.get('text', '') + dl['text']
                elif dt == 'thinking_delta':
                    blk['thinking'] = blk.get('thinking', '') + dl['thinking']
                elif dt == 'signature_delta':
                    blk['signature'] = dl['signature']
                elif dt == 'input_json_delta':
                    partial[d['index']] = partial.get(d['index'], '') + dl['partial_json']
            elif t == 'content_block_stop':
                i = d['index']
                if i in partial:
                    blocks[i]['input'] = json.loads(partial.pop(i) or '{}')
            elif t == 'message_delta':
                for k, v in (d.get('delta') or {}).items():
                    msg[k] = v
                if d.get('usage'):
                    msg.setdefault('usage', {}).update(d['usage'])
        msg['content'] = [blocks[i] for i in sorted(blocks)]
        return msg

    def body_to_events(self, msg, ctx):
        start = copy.deepcopy(msg)
        start['content'] = []
        start['stop_reason'] = None
        start['stop_sequence'] = None
        usage = msg.get('usage') or {}
        if 'usage' in start:
            start['usage'] = dict(usage)
            start['usage']['output_tokens'] = 1
        out = [Ev(obj={'type': 'message_start', 'message': start}, etype='message_start')]

        def ev(o):
            out.append(Ev(obj=o, etype=o['type']))
        for i, blk in enumerate(msg.get('content', [])):
            t = blk.get('type')
            cb = copy.deepcopy(blk)
            if t == 'text':
                cb['text'] = ''
            elif t == 'thinking':
                cb['thinking'], cb['signature'] = '', ''
            elif t == 'tool_use':
                cb['input'] = {}
            ev({'type': 'content_block_start', 'index': i, 'content_block': cb})
            if i == 0:
                out.append(Ev(raw=b'event: ping\ndata: {"type": "ping"}\n\n'))
            if t == 'text':
                for p in pieces_of(blk.get('text', '')):
                    ev({'type': 'content_block_delta', 'index': i, 'delta': {'type': 'text_delta', 'text': p}})
            elif t == 'thinking':
                for p in pieces_of(blk.get('thinking', '')):
                    ev({'type': 'content_block_delta', 'index': i, 'delta': {'type': 'thinking_delta', 'thinking': p}})
                ev({'type': 'content_block_delta', 'index': i,
                    'delta': {'type': 'signature_delta', 'signature': blk.get('signature', '')}})
            elif t == 'tool_use':
                js = dumps_compact(blk.get('input', {}))
                h = len(js) // 2
                for part in ('', js[:h], js[h:]):
                    ev({'type': 'content_block_delta', 'index': i,
                        'delta': {'type': 'input_json_delta', 'partial_json': part}})
            ev({'type': 'content_block_stop', 'index': i})
        md = {'type': 'message_delta', 'delta': {'stop_reason': msg.get('stop_reason'),
                                                 'stop_sequence': msg.get('stop_sequence')}}
        if 'usage' in msg:
            md['usage'] = {'output_tokens': usage.get('output_tokens', 0)}
        ev(md)
        ev({'type': 'message_stop'})
        return out

    def strip_usage_events(self, evs, ctx):
        out = []
        for e in evs:
            d = e.data
            if isinstance(d, dict) and d.get('type') == 'message_start' and 'usage' in (d.get('message') or {}):
                o = e.clone_obj()
                o['message'].pop('usage', None)
                e = Ev(obj=o, etype='message_start')
            elif isinstance(d, dict) and d.get('type') == 'message_delta' and 'usage' in d:
                o = e.clone_obj()
                o.pop('usage', None)
                e = Ev(obj=o, etype='message_delta')
            out.append(e)
        return out

    def garbage_event(self, ctx):
        return Ev(raw=b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_del\n\n')

    def instream_error_events(self, ctx):
        return [Ev(raw=sample_bytes('anthropic/stream_error_overloaded_event.sse'))]

    def error_body(self, status, message, ctx, etype=None, headers=()):
        if etype is None:
            etype = {400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error',
                     404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error',
                     529: 'overloaded_error'}.get(status, 'api_error')
        body = dumps_compact(collections.OrderedDict([
            ('type', 'error'), ('error', collections.OrderedDict([('type', etype), ('message', message)])),
            ('request_id', self.request_id())]))
        hdrs = list(headers)
        if status == 429 or status >= 500:
            hdrs.append(('x-should-retry', 'true'))
        return Resp(status, body, headers=hdrs)

    def error(self, kind, arg, ctx):
        if kind == '400':
            return Resp(400, sample_bytes('anthropic/error_400_invalid_request_error.json'))
        if kind == '401':
            return self.error_body(401, 'invalid x-api-key', ctx)
        if kind == '403':
            return self.error_body(403, 'Your API key does not have permission to use the specified resource.', ctx)
        if kind == '404':
            return self.error_body(404, 'model: %s' % self.model_of(ctx), ctx)
        if kind == 'context':
            return self.error_body(400, 'prompt is too long: 208342 tokens > 200000 maximum', ctx)
        if kind == '429':
            secs = float(arg) if arg else 1.0
            rec = sample_json('anthropic/error_429_rate_limit_error.headers.json')['headers']
            hdrs = [(k, v) for k, v in rec.items() if k not in ('content-type', 'content-length', 'connection')]
            hdrs.append(('retry-after', str(int(math.ceil(secs)))))
            return Resp(429, sample_bytes('anthropic/error_429_rate_limit_error.json'), headers=hdrs)
        if kind == '500':
            return self.error_body(500, 'Internal server error', ctx)
        if kind == '503':
            return self.error_body(503, 'Service unavailable', ctx)
        if kind == '529':
            return self.error_body(529, 'Overloaded', ctx)
        if kind == 'policy':
            return self.error_body(400, 'Output blocked by content filtering policy', ctx)
        if re.fullmatch(r'\d{3}', kind):
            return self.generic_error(int(kind), ctx)
        return None


# ---------------------------------------------------------------- Gemini


GEMINI_SAFETY_BLOCKED = [
    {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True},
]


class Gemini(Dialect):
    name = 'gemini'
    dir = 'gemini'
    json_ctype = 'application/json; charset=UTF-8'
    stream_ctype = 'text/event-stream'
    raw_asis = True
    order = ('tool', 'parallel', 'thinking', 'reasoning', 'gemini3')
    table = {
        'text': ('gemini/stream_text.sse', 'gemini/nonstream_text.json'),
        'tool': ('gemini/stream_function_call.sse', None),
        'parallel': (None, 'gemini/nonstream_parallel_function_calls.vertexai.json'),
        'thinking': ('gemini/stream_thinking_function_call.sse', 'gemini/nonstream_thinking_function_call.json'),
        'reasoning': ('gemini/stream_thinking_function_call.sse', 'gemini/nonstream_thinking_function_call.json'),
        'gemini3': ('gemini/stream_function_call_gemini3.chunks.jsonl', None),
    }

    def model_of(self, ctx):
        return ctx.route_model or ''

    def wants_stream(self, ctx):
        return ctx.route_method == 'streamGenerateContent'

    def dumps(self, obj):
        return dumps_gemini_sse(obj)

    def body_dumps(self, obj, ctx):
        return dumps_pretty2(obj)

    def auth_error(self, ctx):
        key = ctx.hdr.get('x-goog-api-key', '').strip()
        if not key:
            return self.error_body(403, "Method doesn't allow unregistered callers (callers without established "
                                        "identity). Please use API Key or other form of API consumer identity to "
                                        "call this API.", ctx, 'PERMISSION_DENIED')
        if is_bad_key(key):
            return Resp(400, sample_bytes('gemini/error_400_api_key_invalid.json'), self.json_ctype)
        return None

    def envelope(self, ev, ctx):
        return b('data: ' + self.payload_text(ev) + '\r\n\r\n')

    def synth_text_events(self, pieces, ctx):
        tpl = self.load_events('gemini/stream_text.sse', ctx)
        first, last = tpl[0], tpl[-1]
        out = []
        for i, p in enumerate(pieces or ['']):
            o = (last if i == max(0, len(pieces) - 1) else first).clone_obj()
            o['candidates'][0]['content']['parts'] = [{'text': p}]
            out.append(Ev(obj=o))
        return out

    def synth_text_body(self, text, pieces, ctx):
        obj = sample_json('gemini/nonstream_text.json')
        obj['candidates'][0]['content']['parts'] = [{'text': text}]
        return obj

    def events_to_body(self, evs, ctx):
        out = collections.OrderedDict()
        parts = []
        cand = collections.OrderedDict()
        for e in evs:
            d = e.data
            if not isinstance(d, dict):
                continue
            for c in d.get('candidates') or []:
                for p in (c.get('content') or {}).get('parts') or []:
                    prev = parts[-1] if parts else None
                    if (prev is not None and set(p) <= {'text', 'thought'} and set(prev) <= {'text', 'thought'}
                            and p.get('thought') == prev.get('thought')):
                        prev['text'] += p.get('text', '')
                    else:
                        parts.append(copy.deepcopy(p))
                for k, v in c.items():
                    if k != 'content':
                        cand[k] = v
            for k, v in d.items():
                if k != 'candidates':
                    out[k] = v
        c = collections.OrderedDict([('content', {'parts': parts, 'role': 'model'})])
        c.update(cand)
        res = collections.OrderedDict([('candidates', [c])])
        res.update(out)
        return res

    def body_to_events(self, obj, ctx):
        return [Ev(obj=obj)]

    def strip_usage_events(self, evs, ctx):
        out = []
        for e in evs:
            if isinstance(e.data, dict) and 'usageMetadata' in e.data:
                o = e.clone_obj()
                o.pop('usageMetadata')
                e = Ev(obj=o)
            out.append(e)
        return out

    def strip_usage_body(self, obj, ctx):
        obj.pop('usageMetadata', None)
        return obj

    def blocked_prompt(self):
        return collections.OrderedDict([
            ('promptFeedback', {'blockReason': 'SAFETY', 'safetyRatings': GEMINI_SAFETY_BLOCKED}),
            ('usageMetadata', {'promptTokenCount': 7, 'totalTokenCount': 7,
                               'promptTokensDetails': [{'modality': 'TEXT', 'tokenCount': 7}]}),
            ('modelVersion', 'gemini-2.0-flash')])

    def safety_candidate(self):
        return collections.OrderedDict([
            ('candidates', [{'finishReason': 'SAFETY', 'index': 0, 'safetyRatings': GEMINI_SAFETY_BLOCKED}]),
            ('usageMetadata', {'promptTokenCount': 7, 'candidatesTokenCount': 3, 'totalTokenCount': 10}),
            ('modelVersion', 'gemini-2.0-flash')])

    def stream_events(self, ctx):
        if ctx.scn.has('err-policy'):
            return [Ev(obj=self.blocked_prompt())]
        evs = Dialect.stream_events(self, ctx)
        if ctx.scn.has('filtered'):
            evs = evs[:-1] + [Ev(obj=self.safety_candidate())]
        return evs

    def body(self, ctx):
        if ctx.scn.has('err-policy'):
            return self.blocked_prompt(), None
        if ctx.scn.has('filtered'):
            return self.safety_candidate(), None
        return Dialect.body(self, ctx)

    def garbage_event(self, ctx):
        return Ev(raw=b'data: {"candidates": [{"content": {"parts": [{"text": "trunc\r\n\r\n')

    def instream_error_events(self, ctx):
        return [Ev(obj={'error': {'code': 500, 'message': 'An internal error has occurred. Please retry or '
                                  'report in https://developers.generativeai.google/guide/troubleshooting',
                                  'status': 'INTERNAL'}})]

    def error_body(self, status, message, ctx, gstatus=None, details=None, headers=()):
        if gstatus is None:
            gstatus = {400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED',
                       404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE',
                       504: 'DEADLINE_EXCEEDED'}.get(status, 'UNKNOWN')
        err = collections.OrderedDict([('code', status), ('message', message), ('status', gstatus)])
        if details:
            err['details'] = details
        return Resp(status, dumps_pretty2({'error': err}), self.json_ctype, headers)

    def error(self, kind, arg, ctx):
        if kind == '400':
            return self.error_body(400, 'Request contains an invalid argument.', ctx)
        if kind == '401':
            # Gemini answers a bad API key with 400 API_KEY_INVALID, not 401.
            return Resp(400, sample_bytes('gemini/error_400_api_key_invalid.json'), self.json_ctype)
        if kind == '403':
            return self.error_body(403, 'The caller does not have permission', ctx)
        if kind == '404':
            return Resp(404, sample_bytes('gemini/error_404_model_not_found.json'), self.json_ctype)
        if kind == 'context':
            return self.error_body(400, 'The input token count (1234567) exceeds the maximum number of tokens '
                                        'allowed (1048576).', ctx)
        if kind == '429':
            raw = sample_bytes('gemini/error_429_resource_exhausted.json')
            if arg:
                raw = raw.replace(b'"retryDelay": "34.4s"', b('"retryDelay": "%ss"' % secs_fmt(float(arg))))
            return Resp(429, raw, self.json_ctype)
        if kind == '500':
            return self.error_body(500, 'An internal error has occurred. Please retry or report in '
                                        'https://developers.generativeai.google/guide/troubleshooting', ctx)
        if kind == '503':
            return self.error_body(503, 'The model is overloaded. Please try again later.', ctx)
        if kind == 'policy':
            return None     # served as content (promptFeedback.blockReason)
        if re.fullmatch(r'\d{3}', kind):
            return self.generic_error(int(kind), ctx)
        return None


# ---------------------------------------------------------------- Cohere v2


class Cohere(Dialect):
    name = 'cohere'
    dir = 'cohere'
    table = {
        'text': ('cohere/chat_v2_stream_text.events.jsonl', 'cohere/chat_v2_text.json'),
        'tool': ('cohere/chat_v2_stream_tool_call.events.jsonl', 'cohere/chat_v2_tool_call.json'),
        'parallel': ('cohere/chat_v2_stream_tool_call.events.jsonl', 'cohere/chat_v2_tool_call.json'),
        'thinking': ('cohere/chat_v2_stream_reasoning.events.jsonl', 'cohere/chat_v2_reasoning.json'),
        'reasoning': ('cohere/chat_v2_stream_reasoning.events.jsonl', 'cohere/chat_v2_reasoning.json'),
    }

    def headers(self, ctx):
        return [('x-debug-trace-id', uuid.uuid4().hex)]

    def auth_error(self, ctx):
        authz = ctx.hdr.get('authorization', '')
        key = authz[7:].strip() if authz[:7].lower() == 'bearer ' else ''
        if not key:
            return self.error_body(401, 'no api key supplied', ctx)
        if is_bad_key(key):
            return self.error_body(401, 'invalid api token', ctx)
        return None

    def events_from_lines(self, lines):
        out = []
        for ln in lines:
            ev = Ev(text=ln)
            ev.etype = (ev.data or {}).get('type', 'message')
            out.append(ev)
        return out

    def envelope(self, ev, ctx):
        etype = ev.etype or (ev.data or {}).get('type', 'message')
        return b('event: %s\ndata: %s\n\n' % (etype, self.payload_text(ev)))

    def synth_text_events(self, pieces, ctx):
        tpl = self.load_events('cohere/chat_v2_stream_text.events.jsonl', ctx)
        by = {}
        for e in tpl:
            by.setdefault(e.etype, e)
        out = [by['message-start'], by['content-start']]
        for p in pieces:
            out.append(Ev(obj={'type': 'content-delta', 'index': 0,
                               'delta': {'message': {'content': {'text': p}}}}, etype='content-delta'))
        me = by['message-end'].clone_obj()
        pt, ct = self.token_counts(ctx, pieces)
        u = me['delta'].get('usage') or {}
        for k in ('billed_units', 'tokens'):
            if k in u:
                u[k]['output_tokens'] = ct
        out += [by['content-end'], Ev(obj=me, etype='message-end')]
        return out

    def synth_text_body(self, text, pieces, ctx):
        obj = sample_json('cohere/chat_v2_text.json')
        obj['message']['content'] = [{'type': 'text', 'text': text}]
        return obj

    def events_to_body(self, evs, ctx):
        res = collections.OrderedDict([('id', None), ('message', collections.OrderedDict([('role', 'assistant')]))])
        content, calls, plan = {}, {}, None
        for e in evs:
            d = e.data
            if not isinstance(d, dict):
                continue
            t = d.get('type')
            m = ((d.get('delta') or {}).get('message')) or {}
            if t == 'message-start':
                res['id'] = d.get('id')
            elif t == 'content-start':
                content[d['index']] = copy.deepcopy(m.get('content') or {})
            elif t == 'content-delta':
                blk = content[d['index']]
                for k, v in (m.get('content') or {}).items():
                    blk[k] = blk.get(k, '') + v
            elif t == 'tool-plan-delta':
                plan = (plan or '') + m.get('tool_plan', '')
            elif t == 'tool-call-start':
                calls[d['index']] = copy.deepcopy(m.get('tool_calls') or {})
            elif t == 'tool-call-delta':
                f = calls[d['index']].setdefault('function', {})
                f['arguments'] = f.get('arguments', '') + ((m.get('tool_calls') or {}).get('function') or {}).get('arguments', '')
            elif t == 'message-end':
                res['finish_reason'] = (d.get('delta') or {}).get('finish_reason')
                if (d.get('delta') or {}).get('usage') is not None:
                    res['usage'] = d['delta']['usage']
        if plan is not None:
            res['message']['tool_plan'] = plan
        if calls:
            res['message']['tool_calls'] = [calls[i] for i in sorted(calls)]
        if content:
            res['message']['content'] = [content[i] for i in sorted(content)]
        return res

    def body_to_events(self, obj, ctx):
        msg = obj.get('message') or {}
        out = [{'id': obj.get('id'), 'type': 'message-start', 'delta': {'message': {
            'role': 'assistant', 'content': [], 'tool_plan': '', 'tool_calls': [], 'citations': []}}}]
        for p in pieces_of(msg.get('tool_plan') or ''):
            out.append({'type': 'tool-plan-delta', 'delta': {'message': {'tool_plan': p}}})
        for i, tc in enumerate(msg.get('tool_calls') or []):
            f = tc.get('function') or {}
            out.append({'type': 'tool-call-start', 'index': i, 'delta': {'message': {'tool_calls': {
                'id': tc.get('id'), 'type': 'function', 'function': {'name': f.get('name'), 'arguments': ''}}}}})
            out.append({'type': 'tool-call-delta', 'index': i, 'delta': {'message': {'tool_calls': {
                'function': {'arguments': f.get('arguments', '')}}}}})
            out.append({'type': 'tool-call-end', 'index': i})
        for i, blk in enumerate(msg.get('content') or []):
            t = blk.get('type', 'text')
            out.append({'type': 'content-start', 'index': i, 'delta': {'message': {'content': {'type': t, t: ''}}}})
            for p in pieces_of(blk.get(t, '')):
                out.append({'type': 'content-delta', 'index': i, 'delta': {'message': {'content': {t: p}}}})
            out.append({'type': 'content-end', 'index': i})
        end = {'type': 'message-end', 'delta': {'finish_reason': obj.get('finish_reason', 'COMPLETE')}}
        if 'usage' in obj:
            end['delta']['usage'] = obj['usage']
        out.append(end)
        return [Ev(obj=o, etype=o['type']) for o in out]

    def strip_usage_events(self, evs, ctx):
        out = []
        for e in evs:
            d = e.data
            if isinstance(d, dict) and d.get('type') == 'message-end' and 'usage' in (d.get('delta') or {}):
                o = e.clone_obj()
                o['delta'].pop('usage')
                e = Ev(obj=o, etype='message-end')
            out.append(e)
        return out

    def garbage_event(self, ctx):
        return Ev(raw=b'event: content-delta\ndata: {"type":"content-delta","index":0,"delta":{"mess\n\n')

    def instream_error_events(self, ctx):
        return [Ev(obj={'type': 'message-end', 'delta': {'finish_reason': 'ERROR'}}, etype='message-end')]

    def error_body(self, status, message, ctx, headers=()):
        return Resp(status, dumps_compact({'id': str(uuid.uuid4()), 'message': message}), headers=headers)

    def error(self, kind, arg, ctx):
        model = self.model_of(ctx)
        if kind == '400':
            return self.error_body(400, "invalid request: message must be at least 1 token long or tool results "
                                        "must be specified.", ctx)
        if kind == '401':
            return self.error_body(401, 'invalid api token', ctx)
        if kind == '403':
            return self.error_body(403, 'Forbidden', ctx)
        if kind == '404':
            return self.error_body(404, "model '%s' not found, make sure the correct model ID was used and that "
                                        "you have access to the model." % model, ctx)
        if kind == 'context':
            return self.error_body(400, 'too many tokens: size limit exceeded by 2345 tokens. Try using shorter '
                                        'or fewer inputs, or setting prompt_truncation=\'AUTO\'.', ctx)
        if kind == '429':
            secs = float(arg) if arg else 1.0
            return self.error_body(429, "You are using a Trial key, which is limited to 10 API calls / minute. "
                                        "You can continue to use the Trial key for free or upgrade to a "
                                        "Production key with higher rate limits at "
                                        "'https://dashboard.cohere.com/api-keys'. Contact us on "
                                        "'https://discord.gg/XW44jPfYJu' or email us at support@cohere.com with "
                                        "any questions", ctx, headers=[('Retry-After', str(int(math.ceil(secs))))])
        if kind == '500':
            return self.error_body(500, 'internal server error, this has been reported to our developers', ctx)
        if kind == '503':
            return self.error_body(503, 'service unavailable', ctx)
        if kind == 'policy':
            return self.error_body(400, 'blocked output: please adjust your prompt and try again, as this '
                                        'generation may be a potential violation of our Usage Policy', ctx)
        if re.fullmatch(r'\d{3}', kind):
            return self.generic_error(int(kind), ctx)
        return None


# ---------------------------------------------------------------- Bedrock


BEDROCK_ERR_NS = ':http://internal.amazon.com/coral/com.amazon.bedrock/'
GUARDRAIL_TEXT = 'Sorry, the model cannot answer this question.'


class Bedrock(Dialect):
    name = 'bedrock'
    dir = 'bedrock'
    stream_ctype = 'application/vnd.amazon.eventstream'
    table = {
        'text': ('bedrock/converse_stream_text.events.jsonl', 'bedrock/converse_text.json'),
        'thinking': ('bedrock/converse_stream_reasoning.events.jsonl', 'bedrock/converse_reasoning.json'),
        'reasoning': ('bedrock/converse_stream_reasoning.events.jsonl', 'bedrock/converse_reasoning.json'),
        'tool': (None, 'bedrock/converse_tool_use.json'),
        'parallel': (None, 'bedrock/converse_tool_use.json'),
    }

    def model_of(self, ctx):
        return ctx.route_model or ''

    def wants_stream(self, ctx):
        return ctx.route_method == 'converse-stream'

    def headers(self, ctx):
        return [('x-amzn-RequestId', str(uuid.uuid4()))]

    def auth_error(self, ctx):
        authz = ctx.hdr.get('authorization', '')
        if authz[:7].lower() == 'bearer ':
            # Bedrock API keys (bearer tokens) are accepted as they are.
            if is_bad_key(authz[7:]):
                return self.aws_error(403, 'UnrecognizedClientException',
                                      'The security token included in the request is invalid.', ns=False)
            return None
        r = sigv4_verify(ctx.method, ctx.raw_path, ctx.raw_query, ctx.header_items, ctx.body,
                         S.aws_ak, S.aws_sk, max_skew=S.aws_max_skew)
        if r is not None:
            ctx.entry['auth_error'] = r[2]
            return self.aws_error(r[0], r[1], r[2], ns=False)
        ph = ctx.hdr.get('x-amz-content-sha256', '').strip()
        if ph and ph not in ('UNSIGNED-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') \
                and ph != hashlib.sha256(ctx.body).hexdigest():
            ctx.violation('x-amz-content-sha256 does not match the SHA-256 of the body')
            return self.aws_error(400, 'ValidationException', "The provided 'x-amz-content-sha256' header "
                                  "does not match what was computed.")
        return None

    def aws_error(self, status, etype, message, ns=True, headers=()):
        et = etype + (BEDROCK_ERR_NS if ns else ':http://internal.amazon.com/coral/com.amazon.coral.service/')
        return Resp(status, dumps_compact({'message': message}),
                    headers=[('x-amzn-ErrorType', et)] + list(headers))

    def events_from_lines(self, lines):
        out = []
        for ln in lines:
            d = json.loads(ln)
            (k, v), = d.items()
            out.append(Ev(obj=v, etype=k))
        return out

    def envelope(self, ev, ctx):
        obj = ev.obj if ev.obj is not None else json.loads(ev.text)
        payload = dumps_compact(obj)
        if not ctx.scn.has('nopad') and isinstance(obj, dict):
            n = 1 + zlib.crc32(b(payload)) % 60
            o = collections.OrderedDict(obj)
            o['p'] = PAD_ALPHABET[:n] if n <= len(PAD_ALPHABET) else (PAD_ALPHABET * 2)[:n]
            payload = dumps_compact(o)
        return es_frame([(':event-type', ev.etype), (':content-type', 'application/json'),
                         (':message-type', 'event')], b(payload))

    def synth_text_events(self, pieces, ctx):
        tpl = self.load_events('bedrock/converse_stream_text.events.jsonl', ctx)
        by = {}
        for e in tpl:
            by.setdefault(e.etype, e)
        pt, ct = self.token_counts(ctx, pieces)
        out = [by['messageStart']]
        for p in pieces:
            out.append(Ev(obj=collections.OrderedDict([('contentBlockIndex', 0), ('delta', {'text': p})]),
                          etype='contentBlockDelta'))
        md = by['metadata'].clone_obj()
        md['usage'].update({'inputTokens': pt, 'outputTokens': ct, 'totalTokens': pt + ct})
        out += [by['contentBlockStop'], by['messageStop'], Ev(obj=md, etype='metadata')]
        return out

    def synth_text_body(self, text, pieces, ctx):
        obj = sample_json('bedrock/converse_text.json')
        obj['output']['message']['content'] = [{'text': text}]
        pt, ct = self.token_counts(ctx, pieces)
        obj['usage'].update({'inputTokens': pt, 'outputTokens': ct, 'totalTokens': pt + ct})
        return obj

    def body_to_events(self, obj, ctx):
        out = [('messageStart', {'role': 'assistant'})]
        for i, blk in enumerate(((obj.get('output') or {}).get('message') or {}).get('content') or []):
            if 'text' in blk:
                for p in pieces_of(blk['text']):
                    out.append(('contentBlockDelta', {'contentBlockIndex': i, 'delta': {'text': p}}))
            elif 'toolUse' in blk:
                tu = blk['toolUse']
                out.append(('contentBlockStart', {'contentBlockIndex': i, 'start': {'toolUse': {
                    'toolUseId': tu.get('toolUseId'), 'name': tu.get('name')}}}))
                js = dumps_compact(tu.get('input', {}))
                h = len(js) // 2
                for part in (js[:h], js[h:]):
                    out.append(('contentBlockDelta', {'contentBlockIndex': i, 'delta': {'toolUse': {'input': part}}}))
            elif 'reasoningContent' in blk:
                rt = blk['reasoningContent'].get('reasoningText') or {}
                for p in pieces_of(rt.get('text', '')):
                    out.append(('contentBlockDelta', {'contentBlockIndex': i,
                                                      'delta': {'reasoningContent': {'text': p}}}))
                if rt.get('signature'):
                    out.append(('contentBlockDelta', {'contentBlockIndex': i,
                                                      'delta': {'reasoningContent': {'signature': rt['signature']}}}))
            out.append(('contentBlockStop', {'contentBlockIndex': i}))
        ms = collections.OrderedDict()
        if 'additionalModelResponseFields' in obj:
            ms['additionalModelResponseFields'] = obj['additionalModelResponseFields']
        ms['stopReason'] = obj.get('stopReason', 'end_turn')
        out.append(('messageStop', ms))
        md = collections.OrderedDict([('metrics', obj.get('metrics', {'latencyMs': 100}))])
        if 'usage' in obj:
            u = obj['usage']
            md['usage'] = {k: u[k] for k in ('inputTokens', 'outputTokens', 'serverToolUsage', 'totalTokens') if k in u}
        out.append(('metadata', md))
        return [Ev(obj=v, etype=k) for k, v in out]

    def events_to_body(self, evs, ctx):
        blocks, stop, usage, metrics, extra = {}, 'end_turn', None, {'latencyMs': 100}, None
        tool_json = {}
        for e in evs:
            d, t = e.data, e.etype
            if t == 'contentBlockStart':
                tu = d['start'].get('toolUse')
                if tu:
                    blocks[d['contentBlockIndex']] = {'toolUse': dict(tu, input={})}
            elif t == 'contentBlockDelta':
                i, dl = d['contentBlockIndex'], d['delta']
                if 'text' in dl:
                    blk = blocks.setdefault(i, {'text': ''})
                    blk['text'] += dl['text']
                elif 'reasoningContent' in dl:
                    rt = blocks.setdefault(i, {'reasoningContent': {'reasoningText': {'text': ''}}})
                    rt = rt['reasoningContent']['reasoningText']
                    if 'text' in dl['reasoningContent']:
                        rt['text'] += dl['reasoningContent']['text']
                    if 'signature' in dl['reasoningContent']:
                        rt['signature'] = dl['reasoningContent']['signature']
                elif 'toolUse' in dl:
                    tool_json[i] = tool_json.get(i, '') + dl['toolUse'].get('input', '')
            elif t == 'contentBlockStop':
                i = d['contentBlockIndex']
                if i in tool_json:
                    blocks[i]['toolUse']['input'] = json.loads(tool_json.pop(i) or '{}')
            elif t == 'messageStop':
                stop = d.get('stopReason', stop)
                extra = d.get('additionalModelResponseFields')
            elif t == 'metadata':
                usage, metrics = d.get('usage'), d.get('metrics', metrics)
        res = collections.OrderedDict()
        if extra is not None:
            res['additionalModelResponseFields'] = extra
        res['metrics'] = metrics
        res['output'] = {'message': {'content': [blocks[i] for i in sorted(blocks)], 'role': 'assistant'}}
        res['stopReason'] = stop
        if usage is not None:
            res['usage'] = usage
        return res

    def guardrail_body(self, ctx):
        obj = sample_json('bedrock/converse_text.json')
        obj['output']['message']['content'] = [{'text': GUARDRAIL_TEXT}]
        obj['stopReason'] = 'guardrail_intervened'
        return obj

    def stream_events(self, ctx):
        if ctx.scn.has('err-policy') or ctx.scn.has('filtered'):
            return self.body_to_events(self.guardrail_body(ctx), ctx)
        return Dialect.stream_events(self, ctx)

    def body(self, ctx):
        if ctx.scn.has('err-policy') or ctx.scn.has('filtered'):
            return self.guardrail_body(ctx), None
        return Dialect.body(self, ctx)

    def strip_usage_events(self, evs, ctx):
        out = []
        for e in evs:
            if e.etype == 'metadata' and isinstance(e.data, dict) and 'usage' in e.data:
                o = e.clone_obj()
                o.pop('usage')
                e = Ev(obj=o, etype='metadata')
            out.append(e)
        return out

    def garbage_event(self, ctx):
        fr = bytearray(es_frame([(':event-type', 'contentBlockDelta'), (':content-type', 'application/json'),
                                 (':message-type', 'event')],
                                b'{"contentBlockIndex":0,"delta":{"text":"corrupted"}}'))
        fr[-1] ^= 0xFF      # bad message CRC
        return Ev(raw=bytes(fr))

    def instream_error_events(self, ctx):
        arg = ctx.scn.arg('instream-error')
        if arg:
            return [Ev(raw=es_frame([(':exception-type', arg), (':content-type', 'application/json'),
                                     (':message-type', 'exception')],
                                    b(dumps_compact({'message': 'fakeprov: injected %s' % arg}))))]
        with open(os.path.join(S.conf, 'eventstream', 'vercel-ai-synthetic',
                               'model-stream-error-exception.eventstream.base64.txt'), 'rb') as f:
            b64 = f.read()
        return [Ev(raw=base64.b64decode(b64.strip()))]

    def error_body(self, status, message, ctx):
        et = {400: 'ValidationException', 403: 'AccessDeniedException', 404: 'ResourceNotFoundException',
              408: 'ModelTimeoutException', 424: 'ModelErrorException', 429: 'ThrottlingException',
              500: 'InternalServerException', 503: 'ServiceUnavailableException'}.get(status, 'InternalServerException')
        return self.aws_error(status, et, message)

    def error(self, kind, arg, ctx):
        if kind == '400':
            rec = sample_json('bedrock/error_400_validation_exception.recorded.json')
            hdrs = [('x-amzn-ErrorType' if k.lower() == 'x-amzn-errortype' else k, v)
                    for k, v in rec['headers'].items() if k != 'content-type']
            return Resp(rec['status'], dumps_compact(rec['body']), headers=hdrs)
        if kind == 'toolname':
            return Resp(400, dumps_compact(sample_json('bedrock/error_400_validation_exception_tool_name.json')),
                        headers=[('x-amzn-ErrorType', 'ValidationException' + BEDROCK_ERR_NS)])
        if kind == '401':
            return self.aws_error(403, 'UnrecognizedClientException',
                                  'The security token included in the request is invalid.', ns=False)
        if kind == '403':
            return self.aws_error(403, 'AccessDeniedException',
                                  "You don't have access to the model with the specified model ID.")
        if kind == '404':
            return self.aws_error(404, 'ResourceNotFoundException',
                                  'Could not resolve the foundation model from the provided model identifier.')
        if kind == 'context':
            return self.aws_error(400, 'ValidationException', 'Input is too long for requested model.')
        if kind == '429':
            return self.aws_error(429, 'ThrottlingException', 'Too many requests, please wait before trying again.')
        if kind == '500':
            return self.aws_error(500, 'InternalServerException', 'The system encountered an unexpected error '
                                  'during processing. Try your request again.')
        if kind == '503':
            return self.aws_error(503, 'ServiceUnavailableException', 'Bedrock is unable to process your request.')
        if kind == 'policy':
            return None     # content: stopReason guardrail_intervened
        if re.fullmatch(r'\d{3}', kind):
            return self.generic_error(int(kind), ctx)
        return None


# ---------------------------------------------------------------- Ollama


class Ollama(Dialect):
    name = 'ollama'
    dir = 'ollama'
    stream_ctype = 'application/x-ndjson'
    json_ctype = 'application/json; charset=utf-8'

    def _text_stream(ctx):
        return [Ev(text=dumps_go(sample_json('ollama/chat_stream_chunk.docs.json'))),
                Ev(text=dumps_go(sample_json('ollama/chat_stream_final.docs.json')))]

    table = {
        'text': (_text_stream, 'ollama/chat_nonstream.docs.json'),
        'tool': ('ollama/chat_stream_tools.derived.ndjson', 'ollama/chat_nonstream_tools.docs.json'),
        'parallel': ('ollama/chat_stream_tools.derived.ndjson', 'ollama/chat_nonstream_tools.docs.json'),
    }

    def wants_stream(self, ctx):
        r = ctx.req if isinstance(ctx.req, dict) else {}
        return r.get('stream', True) is not False

    def pick(self, ctx):
        srel, brel = Dialect.pick(self, ctx)
        if brel and brel.endswith(('_chunk.docs.json', '_final.docs.json')):
            # the docs' separate stream objects: replay chunk + final as one stream
            pre = brel.rsplit('_', 1)[0]

            def src(ctx, pre=pre):
                return [Ev(text=dumps_go(sample_json(pre + '_chunk.docs.json'))),
                        Ev(text=dumps_go(sample_json(pre + '_final.docs.json')))]
            return src, None
        return srel, brel

    def dumps(self, obj):
        return dumps_go(obj)

    def serve_raw(self, raw, ctx):
        if raw.lstrip().startswith(b'{') and b'\n' in raw.strip():
            return b(dumps_go(json.loads(raw.decode('utf-8'))))
        return raw

    def envelope(self, ev, ctx):
        return b(self.payload_text(ev) + '\n')

    def synth_text_events(self, pieces, ctx):
        chunk = sample_json('ollama/chat_stream_chunk.docs.json')
        out = []
        for p in pieces:
            o = copy.deepcopy(chunk)
            o['message']['content'] = p
            out.append(Ev(obj=o))
        fin = sample_json('ollama/chat_stream_final.docs.json')
        fin['eval_count'] = len(pieces)
        out.append(Ev(obj=fin))
        return out

    def synth_text_body(self, text, pieces, ctx):
        obj = sample_json('ollama/chat_nonstream.docs.json')
        obj['message']['content'] = text
        obj['eval_count'] = len(pieces)
        return obj

    def events_to_body(self, evs, ctx):
        content, calls, final = '', [], {}
        for e in evs:
            d = e.data
            if not isinstance(d, dict) or 'error' in d:
                continue
            m = d.get('message') or {}
            content += m.get('content') or ''
            calls += m.get('tool_calls') or []
            if d.get('done'):
                final = d
        res = copy.deepcopy(final)
        res['message'] = collections.OrderedDict([('role', 'assistant'), ('content', content)])
        if calls:
            res['message']['tool_calls'] = calls
        return res

    def body_to_events(self, obj, ctx):
        m = obj.get('message') or {}
        out = []
        for p in pieces_of(m.get('content') or ''):
            out.append({'model': obj.get('model'), 'created_at': obj.get('created_at'),
                        'message': {'role': 'assistant', 'content': p}, 'done': False})
        if m.get('tool_calls'):
            out.append({'model': obj.get('model'), 'created_at': obj.get('created_at'),
                        'message': {'role': 'assistant', 'content': '', 'tool_calls': m['tool_calls']}, 'done': False})
        fin = copy.deepcopy(obj)
        fin['message'] = {'role': 'assistant', 'content': ''}
        out.append(fin)
        return [Ev(obj=o) for o in out]

    USAGE_KEYS = ('total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration',
                  'eval_count', 'eval_duration')

    def strip_usage_body(self, obj, ctx):
        for k in self.USAGE_KEYS:
            obj.pop(k, None)
        return obj

    def strip_usage_events(self, evs, ctx):
        out = []
        for e in evs:
            d = e.data
            if isinstance(d, dict) and any(k in d for k in self.USAGE_KEYS):
                e = Ev(obj=self.strip_usage_body(e.clone_obj(), ctx))
            out.append(e)
        return out

    def garbage_event(self, ctx):
        return Ev(raw=b'{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"rol\n')

    def instream_error_events(self, ctx):
        lines = parse_jsonl(sample_bytes('ollama/generate_stream_midstream_error.docs.ndjson'))
        return [Ev(text=lines[-1])]

    def error_body(self, status, message, ctx, headers=()):
        return Resp(status, dumps_go({'error': message}), self.json_ctype, headers)

    def error(self, kind, arg, ctx):
        model = self.model_of(ctx)
        if kind == '400':
            return self.error_body(400, 'invalid message format', ctx)
        if kind == '401':
            return self.error_body(401, 'unauthorized', ctx)
        if kind == '403':
            return self.error_body(403, 'forbidden', ctx)
        if kind == '404':
            return self.error_body(404, 'model "%s" not found, try pulling it first' % model, ctx)
        if kind == 'context':
            return self.error_body(400, 'the input length exceeds the context length', ctx)
        if kind == '429':
            secs = float(arg) if arg else 1.0
            return self.error_body(429, 'too many requests', ctx, [('Retry-After', str(int(math.ceil(secs))))])
        if kind == '500':
            return self.error_body(500, 'an error was encountered while running the model', ctx)
        if kind == '503':
            return self.error_body(503, 'server busy, please try again.  maximum pending requests exceeded', ctx)
        if kind == 'policy':
            return self.error_body(400, 'content blocked by policy', ctx)
        if re.fullmatch(r'\d{3}', kind):
            return self.generic_error(int(kind), ctx)
        return None


# ----------------------------------------------------------------------------
# embeddings (issue 14): each dialect's embedding answer, from its docs


def fake_vector(text, dims):
    """A deterministic vector for one input: values as OpenAI prints them
    (about 9 significant digits), from a hash of the input."""
    out = []
    for j in range(dims):
        h = hashlib.sha256(('%s|%d' % (text, j)).encode()).digest()
        out.append(round(int.from_bytes(h[:4], 'big') / 2.0 ** 31 - 1.0, 9))
    return out


def embed_text_of(item):
    return item if isinstance(item, str) else json.dumps(item, separators=(',', ':'))


class OpenAIEmbed(OpenAI):
    """POST /v1/embeddings (and Azure's /openai/deployments/{d}/embeddings):
    {"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
    "model", "usage": {"prompt_tokens", "total_tokens"}}; base64 is the
    little-endian float32 bytes, as the OpenAI API reference says."""

    def __init__(self, azure=False):
        OpenAI.__init__(self, azure)
        self.name = 'azure-embed' if azure else 'openai-embed'

    def wants_stream(self, ctx):
        return False

    def body_needs_obj(self, ctx):
        return False

    def post_body(self, obj, ctx):
        return obj

    def body(self, ctx):
        r = ctx.req if isinstance(ctx.req, dict) else {}
        inp = r.get('input')
        items = [inp] if isinstance(inp, str) or (isinstance(inp, list) and inp and
                                                   isinstance(inp[0], int)) else (inp or [])
        dims = r.get('dimensions') if isinstance(r.get('dimensions'), int) else 4
        data, tokens = [], 0
        for i, it in enumerate(items):
            v = fake_vector(embed_text_of(it), dims)
            if r.get('encoding_format') == 'base64':
                v = base64.b64encode(struct.pack('<%df' % len(v), *v)).decode()
            data.append({'object': 'embedding', 'index': i, 'embedding': v})
            tokens += len(it.split()) if isinstance(it, str) else len(it)
        return {'object': 'list', 'data': data, 'model': r.get('model') or ctx.route_model or '',
                'usage': {'prompt_tokens': tokens, 'total_tokens': tokens}}, None


class EmbedMixin:
    """What every fake embeddings endpoint shares: never a stream, the
    answer built by embed_obj from the request."""

    def wants_stream(self, ctx):
        return False

    def body_needs_obj(self, ctx):
        return False

    def post_body(self, obj, ctx):
        return obj

    def body_dumps(self, obj, ctx):
        return dumps_compact(obj)

    def body(self, ctx):
        r = ctx.req if isinstance(ctx.req, dict) else {}
        return self.embed_obj(r, ctx), None


class OllamaEmbed(EmbedMixin, Ollama):
    """POST /api/embed: {"model", "input": str | [str], "dimensions"?} ->
    {"model", "embeddings": [[...]], "total_duration", "load_duration",
    "prompt_eval_count"} (Ollama's API reference)."""
    name = 'ollama-embed'

    def embed_obj(self, r, ctx):
        inp = r.get('input')
        items = [inp] if isinstance(inp, str) else (inp or [])
        dims = r.get('dimensions') if isinstance(r.get('dimensions'), int) else 4
        return {'model': r.get('model', ''), 'embeddings': [fake_vector(t, dims) for t in items],
                'total_duration': 14143917, 'load_duration': 1019500,
                'prompt_eval_count': sum(len(t.split()) for t in items)}


class CohereEmbed(EmbedMixin, Cohere):
    """POST /v2/embed: {"model", "texts", "input_type", "embedding_types",
    "output_dimension"?} -> {"id", "embeddings": {"float": [[...]]}, "texts",
    "meta": {"api_version", "billed_units": {"input_tokens"}},
    "response_type": "embeddings_by_type"} (Cohere's v2 reference)."""
    name = 'cohere-embed'

    def embed_obj(self, r, ctx):
        texts = r.get('texts') or []
        if not r.get('input_type'):
            ctx.violation('v2/embed without input_type (required for v3+ models)')
        dims = r.get('output_dimension') if isinstance(r.get('output_dimension'), int) else 4
        return {'id': str(uuid.uuid4()), 'texts': texts, 'response_type': 'embeddings_by_type',
                'embeddings': {'float': [fake_vector(t, dims) for t in texts]},
                'meta': {'api_version': {'version': '2'},
                         'billed_units': {'input_tokens': sum(len(t.split()) for t in texts)}}}


class GeminiEmbed(EmbedMixin, Gemini):
    """POST /v1beta/models/{m}:batchEmbedContents: {"requests": [{"model":
    "models/{m}", "content": {"parts": [{"text"}]}, "taskType"?,
    "outputDimensionality"?}]} -> {"embeddings": [{"values": [...]}]}."""
    name = 'gemini-embed'

    def embed_obj(self, r, ctx):
        out = []
        for q in r.get('requests') or []:
            if q.get('model') != 'models/' + (ctx.route_model or ''):
                ctx.violation('batchEmbedContents request model %r is not models/%s'
                              % (q.get('model'), ctx.route_model))
            text = ''.join(p.get('text', '') for p in q.get('content', {}).get('parts', []))
            dims = q.get('outputDimensionality') if isinstance(q.get('outputDimensionality'), int) else 4
            out.append({'values': fake_vector(text, dims)})
        return {'embeddings': out}


class BedrockEmbed(EmbedMixin, Bedrock):
    """InvokeModel of cohere.embed-*: {"texts", "input_type",
    "embedding_types"} -> {"id", "texts", "embeddings": {"float": [[...]]},
    "response_type": "embeddings_by_type"} (Bedrock's Cohere Embed page)."""
    name = 'bedrock-embed'

    def embed_obj(self, r, ctx):
        texts = r.get('texts') or []
        if 'model' in r:
            ctx.violation('InvokeModel body names the model (the URL does)')
        return {'id': str(uuid.uuid4()), 'texts': texts, 'response_type': 'embeddings_by_type',
                'embeddings': {'float': [fake_vector(t, 4) for t in texts]}}


class TitanEmbed(EmbedMixin, Bedrock):
    """InvokeModel of amazon.titan-embed-text-*: one input a call. V2
    {"inputText", "dimensions"? (1024, 512, 256), "normalize"?,
    "embeddingTypes"?} -> {"embedding", "inputTextTokenCount",
    "embeddingsByType": {"float"}}; G1 (v1) takes inputText alone and
    answers {"embedding", "inputTextTokenCount"} (Bedrock's Titan
    Embeddings page)."""
    name = 'bedrock-titan-embed'

    def embed_obj(self, r, ctx):
        v1 = 'titan-embed-text-v1' in (ctx.route_model or '')
        allowed = {'inputText'} if v1 else {'inputText', 'dimensions', 'normalize', 'embeddingTypes'}
        extra = sorted(set(r) - allowed)
        if extra:
            ctx.violation('Titan body has keys it does not take: %s' % ', '.join(extra))
        text = r.get('inputText')
        if not isinstance(text, str) or not text:
            ctx.violation('Titan body without a non-empty inputText string')
            text = ''
        dims = r.get('dimensions', 1536 if v1 else 1024)
        if dims not in ((1536,) if v1 else (1024, 512, 256)):
            ctx.violation('Titan dimensions %r is not 1024, 512 or 256' % (dims,))
            dims = 4
        if 'normalize' in r and not isinstance(r['normalize'], bool):
            ctx.violation('Titan normalize is not a boolean')
        v = fake_vector(text, dims)
        out = {'embedding': v, 'inputTextTokenCount': len(text.split())}
        if not v1:
            out['embeddingsByType'] = {'float': v}
        return out


# Vertex AI text embeddings: instances per :predict call (the API's limit)
VERTEX_EMBED_MAX = 250
VERTEX_TASKS = ('RETRIEVAL_QUERY', 'RETRIEVAL_DOCUMENT', 'SEMANTIC_SIMILARITY', 'CLASSIFICATION',
                'CLUSTERING', 'QUESTION_ANSWERING', 'FACT_VERIFICATION', 'CODE_RETRIEVAL_QUERY')


# ----------------------------------------------------------------------------
# routing


GEMINI_RE = re.compile(r'^/(?:v1|v1beta|v1alpha)/(?:models|tunedModels)/(.+):(generateContent|streamGenerateContent)$')
BEDROCK_RE = re.compile(r'^/model/([^/]+)/(converse|converse-stream)$')


# ----------------------------------------------------------------------------
# Vertex AI: the OAuth2 JWT-bearer token endpoint and the publisher models


VERTEX_RE = re.compile(r'^/v1/projects/([^/]+)/locations/([^/]+)/publishers/(google|anthropic)/models/'
                       r'([^/:]+):(generateContent|streamGenerateContent|rawPredict|streamRawPredict|predict)$')
JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
VERTEX_SCOPE = 'https://www.googleapis.com/auth/cloud-platform'


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))


def rs256_verify(pub_pem, signed, sig):
    """RS256 with the openssl command (the fake stays stdlib-only)."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory(prefix='fakeprov-jwt-') as d:
        paths = [os.path.join(d, n) for n in ('pub.pem', 'data', 'sig')]
        for path, data in zip(paths, (pub_pem.encode(), signed, sig)):
            with open(path, 'wb') as f:
                f.write(data)
        r = subprocess.run(['openssl', 'dgst', '-sha256', '-verify', paths[0], '-signature', paths[2],
                            paths[1]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return r.returncode == 0


def vertex_check_jwt(assertion, aud_suffix):
    """-> None, or why the assertion is refused (Google's words where it has them)."""
    parts = assertion.split('.')
    if len(parts) != 3:
        return 'Invalid JWT: not three parts'
    try:
        hdr = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        return 'Invalid JWT: not base64url JSON'
    if hdr.get('alg') != 'RS256' or hdr.get('typ') not in (None, 'JWT'):
        return 'Invalid JWT: alg must be RS256'
    if S.vertex_pub is None or not rs256_verify(S.vertex_pub, (parts[0] + '.' + parts[1]).encode(), sig):
        return 'Invalid JWT Signature.'
    now = time.time()
    for k in ('iss', 'scope', 'aud', 'iat', 'exp'):
        if k not in claims:
            return 'Invalid JWT: claim %s missing' % k
    if claims['scope'] != VERTEX_SCOPE:
        return 'Invalid JWT: scope %r' % claims['scope']
    if not str(claims['aud']).endswith(aud_suffix):
        return 'Invalid JWT: aud %r is not this token endpoint' % claims['aud']
    if abs(claims['iat'] - now) > 300 or claims['exp'] - claims['iat'] > 3600 or claims['exp'] < now:
        return 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.'
    return None


def vertex_bearer_error(ctx):
    """-> None when the Bearer token is one we issued and it is still valid."""
    h = ctx.hdr.get('authorization', '')
    tok = h[7:] if h.startswith('Bearer ') else ''
    ctx.entry['bearer'] = tok
    with S.lock:
        t = S.vertex_tokens.get(tok)
    if t is None:
        return 'Request had invalid authentication credentials. Expected OAuth 2 access token.'
    if time.time() >= t['exp']:
        return 'Request had invalid authentication credentials (the access token expired).'
    return None


class VertexGemini(Gemini):
    name = 'vertex_gemini'

    def auth_error(self, ctx):
        if ctx.hdr.get('x-goog-api-key'):
            ctx.violation('x-goog-api-key sent to Vertex AI')
        why = vertex_bearer_error(ctx)
        return None if why is None else self.error_body(401, why, ctx, 'UNAUTHENTICATED')


class VertexAnthropic(Anthropic):
    name = 'vertex_anthropic'

    def model_of(self, ctx):
        return ctx.route_model or ''

    def wants_stream(self, ctx):
        return ctx.route_method == 'streamRawPredict'

    def auth_error(self, ctx):
        r = ctx.req if isinstance(ctx.req, dict) else {}
        if r.get('anthropic_version') != 'vertex-2023-10-16':
            ctx.violation('Anthropic on Vertex AI without anthropic_version vertex-2023-10-16 in the body')
        if 'model' in r:
            ctx.violation('Anthropic on Vertex AI with "model" in the body (it belongs in the URL)')
        if (r.get('stream') is True) != (ctx.route_method == 'streamRawPredict'):
            ctx.violation('"stream" in the body does not match the method %s' % ctx.route_method)
        why = vertex_bearer_error(ctx)
        return None if why is None else self.error_body(401, why, ctx, 'authentication_error')


class VertexEmbed(EmbedMixin, VertexGemini):
    """POST .../publishers/google/models/{m}:predict: {"instances":
    [{"content", "task_type"?, "title"?}], "parameters":
    {"outputDimensionality"?, "autoTruncate"?}} -> {"predictions":
    [{"embeddings": {"values", "statistics": {"token_count", "truncated"}}}],
    "metadata": {"billableCharacterCount"}} (the Text Embeddings API
    reference; gemini-embedding-001 takes one instance a request)."""
    name = 'vertex-embed'

    def embed_obj(self, r, ctx):
        insts = r.get('instances')
        model = ctx.route_model or ''
        if not isinstance(insts, list) or not insts:
            ctx.violation(':predict without instances')
            insts = []
        if model.startswith('gemini-embedding') and len(insts) > 1:
            ctx.violation('%s takes one instance a request, got %d' % (model, len(insts)))
        if len(insts) > VERTEX_EMBED_MAX:
            ctx.violation(':predict with %d instances (at most %d)' % (len(insts), VERTEX_EMBED_MAX))
        extra = sorted(set(r) - {'instances', 'parameters'})
        if extra:
            ctx.violation(':predict body has keys it does not take: %s' % ', '.join(extra))
        params = r.get('parameters') or {}
        dims = params.get('outputDimensionality', 3072 if model.startswith('gemini-embedding') else 768)
        preds, chars = [], 0
        for q in insts:
            text = q.get('content') if isinstance(q, dict) else None
            if not isinstance(text, str):
                ctx.violation('instance without a content string')
                text = ''
            if isinstance(q, dict) and q.get('task_type') not in (None,) + VERTEX_TASKS:
                ctx.violation('task_type %r is not a Vertex AI task type' % q.get('task_type'))
            chars += len(text.replace(' ', ''))
            preds.append({'embeddings': {'values': fake_vector(text, dims),
                                         'statistics': {'token_count': len(text.split()), 'truncated': False}}})
        return {'predictions': preds, 'metadata': {'billableCharacterCount': chars}}


def route(method, path):
    """-> (dialect, route_model, route_method) or None"""
    if method != 'POST':
        return None
    m = VERTEX_RE.match(path)
    if m:
        if m.group(5) == 'predict':
            d = VertexEmbed() if m.group(3) == 'google' else None
            return (d, urllib.parse.unquote(m.group(4)), 'predict') if d else None
        d = VertexAnthropic() if m.group(3) == 'anthropic' else VertexGemini()
        return d, urllib.parse.unquote(m.group(4)), m.group(5)
    if path == '/api/embed':
        return OllamaEmbed(), None, None
    if path.endswith('/v2/embed'):
        return CohereEmbed(), None, None
    m = re.match(r'^/(?:v1|v1beta)/models/(.+):batchEmbedContents$', path)
    if m:
        return GeminiEmbed(), urllib.parse.unquote(m.group(1)), 'batchEmbedContents'
    m = re.match(r'^/model/([^/]+)/invoke$', path)
    if m:
        model = urllib.parse.unquote(m.group(1))
        d = TitanEmbed() if 'amazon.titan-embed-text' in model else BedrockEmbed()
        return d, model, 'invoke'
    if path.endswith('/embeddings'):
        if path.startswith('/openai/'):
            m = re.match(r'^/openai/deployments/([^/]+)/embeddings$', path)
            return OpenAIEmbed(azure=True), (urllib.parse.unquote(m.group(1)) if m else None), None
        return OpenAIEmbed(), None, None
    if path.endswith('/chat/completions'):
        if path.startswith('/openai/'):
            m = re.match(r'^/openai/deployments/([^/]+)/chat/completions$', path)
            return OpenAI(azure=True), (urllib.parse.unquote(m.group(1)) if m else None), None
        return OpenAI(), None, None
    if path.endswith('/v1/messages'):
        return Anthropic(), None, None
    m = GEMINI_RE.match(path)
    if m:
        return Gemini(), urllib.parse.unquote(m.group(1)), m.group(2)
    if path.endswith('/v2/chat'):
        return Cohere(), None, None
    m = BEDROCK_RE.match(path)
    if m:
        return Bedrock(), urllib.parse.unquote(m.group(1)), m.group(2)
    if path == '/api/chat':
        return Ollama(), None, None
    return None


KEY_PARAMS = ('key', 'api_key', 'apikey', 'api-key', 'access_token', 'x-api-key')


class HeaderView:
    """Case-insensitive first-value lookup over the received header list."""

    def __init__(self, items):
        self.d = {}
        for k, v in items:
            self.d.setdefault(k.lower(), v)

    def get(self, k, default=''):
        return self.d.get(k.lower(), default)


# ----------------------------------------------------------------------------
# HTTP handler


class ClientGone(Exception):
    pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fakeprov/1.0'

    def version_string(self):
        return self.server_version

    def setup(self):
        http.server.BaseHTTPRequestHandler.setup(self)
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    # --- low-level I/O
    def _write(self, data):
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, OSError) as e:
            raise ClientGone(str(e))

    def write_chunk(self, data):
        if data:
            self._write(b'%X\r\n' % len(data) + data + b'\r\n')

    def read_body(self):
        te = (self.headers.get('Transfer-Encoding') or '').lower()
        if 'chunked' in te:
            parts = []
            while True:
                line = self.rfile.readline(65537)
                if not line:
                    break
                size = int(line.split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while True:
                        t = self.rfile.readline(65537)
                        if t in (b'\r\n', b'\n', b''):
                            break
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b''.join(parts)
        try:
            n = int(self.headers.get('Content-Length') or 0)
        except ValueError:
            n = 0
        return self.rfile.read(n) if n > 0 else b''

    def rst(self):
        """Abort the connection with a TCP RST (SO_LINGER 0) without any FIN."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            fd = self.connection.detach()
            os.close(fd)
        except OSError:
            pass

    def hang(self):
        """Send nothing until the client goes away (or the server stops)."""
        self.close_connection = True
        sock = self.connection
        while not S.stop.is_set():
            try:
                r, _, _ = select.select([sock], [], [], 0.25)
                if r:
                    if not sock.recv(1, socket.MSG_PEEK):
                        if getattr(self, '_entry', None) is not None:
                            self._entry['aborted'] = True
                        return
                    sleep(0.25)
            except (OSError, ValueError):
                return

    def send_simple(self, status, body, ctype='application/json', headers=()):
        body = b(body)
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self._write(body)

    def send_json(self, status, obj):
        self.send_simple(status, json.dumps(obj, ensure_ascii=False, indent=1) + '\n')

    # --- faulted writers
    def send_body(self, ctx, resp):
        scn = ctx.scn
        body = resp.body
        if scn is not None and scn.has('malformed') and resp.status == 200:
            body = body[:max(1, len(body) // 2)]
        self.send_response(resp.status)
        self.send_header('Content-Type', resp.ctype)
        self.send_header('Content-Length', str(len(body)))
        for k, v in list(ctx.extra_headers) + list(resp.headers):
            self.send_header(k, v)
        self.end_headers()
        ctx.entry['status'] = resp.status
        if scn is not None and scn.has('reset-mid'):
            self._write(body[:len(body) // 2])
            return self.rst()
        slow = scn.num('slow', 0) / 1000.0 if scn is not None else 0
        if slow:
            sleep(slow)
        if scn is not None and scn.has('split'):
            n, gap = self.split_args(scn)
            for i in range(0, len(body), n):
                self._write(body[i:i + n])
                sleep(gap)
        else:
            self._write(body)

    @staticmethod
    def split_args(scn):
        a = (scn.arg('split', '1') or '1').split(':')
        try:
            n = max(1, int(a[0]))
        except ValueError:
            n = 1
        try:
            gap = float(a[1]) / 1000.0 if len(a) > 1 else 0.001
        except ValueError:
            gap = 0.001
        return n, gap

    @staticmethod
    def echo_key(ctx):
        """A 401 whose message is PAD 'A's and then the key the request
        carried (any of the dialects' key headers), as upstreams echo it."""
        scn, h = ctx.scn, ctx.hdr
        key = ''
        authz = h.get('authorization', '')
        if authz[:7].lower() == 'bearer ':
            key = authz[7:].strip()
        for name in ('x-api-key', 'api-key', 'x-goog-api-key'):
            key = key or h.get(name, '').strip()
        pad = int(scn.num('echo-key', scn.num('echo-key-lower', 380)))
        if scn.has('echo-key-lower'):
            key = key.lower()
        msg = 'A' * pad + key
        return Resp(401, oa_pretty({'error': {'message': msg, 'type': 'invalid_request_error',
                                              'param': None, 'code': 'invalid_api_key'}}) + '\n')

    def send_stream(self, ctx, evs, ctype):
        scn, d = ctx.scn, ctx.dialect
        if scn.has('truncate'):
            # The first N events, then a clean end of the body: a stream
            # cut without its terminator.
            evs = evs[:int(scn.num('truncate', 1))]
        if scn.has('no-done'):
            evs = [e for e in evs if not e.done]    # OpenAI's [DONE]
        n = len(evs)
        if scn.has('instream-error'):
            evs = evs[:max(1, n // 2)] + d.instream_error_events(ctx)
        if scn.has('malformed'):
            h = max(1, n // 2)
            evs = evs[:h] + [d.garbage_event(ctx)] + evs[h:]
        datas = [d.wire(e, ctx) for e in evs]
        if ctx.gemini_array:
            datas = self.gemini_array(evs, ctx)
        cut = max(1, len(datas) // 2) if scn.has('reset-mid') else None
        self.send_response(200)
        self.send_header('Content-Type', ctype)
        self.send_header('Transfer-Encoding', 'chunked')
        for k, v in ctx.extra_headers:
            self.send_header(k, v)
        self.end_headers()
        ctx.entry['status'] = 200
        slow = scn.num('slow', 0) / 1000.0
        if not slow and scn.has('drip'):
            slow = 0.1
        if cut is not None:
            datas = datas[:cut]
        if scn.has('split'):
            size, gap = self.split_args(scn)
            buf = b''.join(datas)
            for i in range(0, len(buf), size):
                if slow:
                    sleep(slow)
                self.write_chunk(buf[i:i + size])
                sleep(gap)
        else:
            for data in datas:
                if slow:
                    sleep(slow)
                if S.stop.is_set():
                    raise ClientGone('server stopping')
                self.write_chunk(data)
        if cut is not None:
            self.rst()
            return
        self._write(b'0\r\n\r\n')

    def gemini_array(self, evs, ctx):
        """streamGenerateContent without alt=sse: one JSON array, streamed."""
        out = []
        for i, e in enumerate(evs):
            if e.raw is not None and e.obj is None and e.text is None:
                out.append(e.raw)          # garbage / injected bytes
                continue
            body = dumps_pretty2(e.data).rstrip('\n')
            out.append(b(('[' if i == 0 else '\n,\r\n') + body))
        out.append(b'\n]')
        return out

    # --- dispatch
    def end_headers(self):
        self._headers_sent = True
        http.server.BaseHTTPRequestHandler.end_headers(self)

    def dispatch(self):
        self._headers_sent = False
        self._entry = None
        try:
            self._dispatch()
        except ClientGone:
            # The client went away before the answer was complete: tests
            # use this to check that llmuxd aborts upstream transfers.
            if self._entry is not None:
                self._entry['aborted'] = True
            self.close_connection = True
        except Exception as e:     # a fakeprov bug: say so loudly, keep serving
            traceback.print_exc()
            if self._headers_sent:
                return self.rst()
            try:
                self.send_json(500, {'fakeprov_error': '%s: %s' % (type(e).__name__, e)})
            except Exception:
                self.close_connection = True

    def _dispatch(self):
        raw_path, _, raw_query = self.path.partition('?')
        body = self.read_body()
        method = self.command
        if raw_path == '/_control':
            return self.control(method, body)
        if raw_path == '/_requests' and method == 'GET':
            with S.lock:
                return self.send_json(200, list(S.log))
        if raw_path == '/_violations' and method == 'GET':
            with S.lock:
                return self.send_json(200, list(S.violations))
        if raw_path == '/_health':
            return self.send_simple(200, 'ok\n', 'text/plain')
        if raw_path == '/_vertex':
            return self.vertex_control(method, body)
        if raw_path == '/vertex/token' and method == 'POST':
            return self.vertex_token(body)

        header_items = list(self.headers.items())
        hdict = {}
        for k, v in header_items:
            hdict[k] = hdict[k] + ', ' + v if k in hdict else v
        with S.lock:
            S.seq += 1
            entry = {'seq': S.seq, 'time': time.time(), 'method': method, 'path': self.path,
                     'headers': hdict, 'header_list': [[k, v] for k, v in header_items],
                     'body': body.decode('utf-8', errors='replace'), 'violations': [],
                     'dialect': None, 'model': None, 'scenario': None, 'status': None, 'auth_error': None,
                     'aborted': False, 'peer': '%s:%d' % tuple(self.client_address[:2])}
            S.log.append(entry)
        self._entry = entry

        ctx = Ctx()
        ctx.handler, ctx.entry, ctx.method, ctx.body = self, entry, method, body
        ctx.raw_path, ctx.raw_query, ctx.header_items = raw_path, raw_query, header_items
        ctx.path = urllib.parse.unquote(raw_path)
        ctx.query = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
        ctx.hdr = HeaderView(header_items)
        ctx.scn = None
        ctx.extra_headers = []
        ctx.gemini_array = False

        def violation(msg):
            entry['violations'].append(msg)
            with S.lock:
                S.violations.append({'seq': entry['seq'], 'path': self.path, 'violation': msg})
            note('VIOLATION: %s (%s %s)' % (msg, method, self.path))
        ctx.violation = violation

        if method == 'GET':
            return self.get_lists(ctx, raw_path)

        r = route(method, raw_path)
        if r is None:
            entry['status'] = 404
            return self.send_json(404, {'error': {'message': 'fakeprov: no provider endpoint for %s %s'
                                                  % (method, raw_path), 'type': 'invalid_request_error'}})
        d, ctx.route_model, ctx.route_method = r
        ctx.dialect = d
        entry['dialect'] = d.name

        # violations that do not depend on the scenario
        for k in ctx.query:
            if k.lower() in KEY_PARAMS:
                violation('API key sent in the URL query (%s=)' % k)
                if isinstance(d, Gemini):
                    resp = d.error_body(400, 'fakeprov: the API key must not be sent in the URL (key= query '
                                             'parameter); use the x-goog-api-key header', ctx)
                    entry['status'] = 400
                    return self.send_simple(resp.status, resp.body, resp.ctype)
        try:
            ctx.req = json.loads(body.decode('utf-8')) if body.strip() else None
        except (UnicodeDecodeError, ValueError) as e:
            violation('request body is not valid JSON: %s' % e)
            resp = d.error_body(400, 'We could not parse the JSON body of your request. (fakeprov: %s)' % e, ctx)
            entry['status'] = resp.status
            return self.send_simple(resp.status, resp.body, resp.ctype, resp.headers)
        if isinstance(d, Gemini) and d.wants_stream(ctx) and 'sse' not in ctx.query.get('alt', []):
            violation('streamGenerateContent without alt=sse (the response is a JSON array, not SSE)')
            ctx.gemini_array = True

        auth = d.auth_error(ctx)
        model = d.model_of(ctx)
        entry['model'] = model
        with S.lock:
            src = S.queue[0] if S.queue else None
            scn = Scn(src if src is not None else model)
            if auth is not None and not scn.has('noauth'):
                scn = None
            elif src is not None:
                S.queue.popleft()
        if scn is None:
            entry['status'] = auth.status
            note('%s %s -> %d (auth)' % (method, self.path, auth.status))
            return self.send_simple(auth.status, auth.body, auth.ctype, d.headers(ctx) + auth.headers)
        ctx.scn = scn
        entry['scenario'] = scn.spec
        ctx.stream = d.wants_stream(ctx)
        ctx.extra_headers = d.headers(ctx)
        note('%s %s [%s] scenario=%r stream=%s' % (method, self.path, d.name, scn.spec, ctx.stream))
        self.serve(ctx)

    def serve(self, ctx):
        scn, d = ctx.scn, ctx.dialect
        if scn.has('delay'):
            sleep(scn.num('delay', 0) / 1000.0)
        if scn.has('hang'):
            ctx.entry['status'] = None
            return self.hang()
        if scn.has('reset'):
            ctx.entry['status'] = None
            return self.rst()
        if scn.has('bare'):
            # bare:NNN[:S]: status NNN, Content-Length: 0, Retry-After: S
            st, _, ra = scn.arg('bare', '500').partition(':')
            ctx.entry['status'] = int(st)
            return self.send_simple(int(st), b'', 'application/json',
                                    [('Retry-After', ra)] if ra else [])
        if scn.has('echo-key') or scn.has('echo-key-lower'):
            return self.send_body(ctx, self.echo_key(ctx))
        if scn.has('html'):
            return self.send_body(ctx, Resp(200, '<!DOCTYPE html>\n<html><head><title>Sign in'
                                             '</title></head><body>captive portal</body></html>\n',
                                             'text/html; charset=utf-8'))
        try:
            e = scn.err()
            if e is None and scn.has('sample'):
                base = os.path.basename(find_sample(d.sample_dir(ctx), scn.arg('sample', '')))
                if base in NOT_RESPONSES:
                    raise SampleError('%s is not a response sample' % base)
                if base in SAMPLE_ERRORS:
                    e = (SAMPLE_ERRORS[base], None)
            if e is not None:
                try:
                    resp = d.error(e[0], e[1], ctx)
                except (ValueError, TypeError):
                    resp = None
                if resp is not None:
                    return self.send_body(ctx, resp)
            if ctx.stream:
                evs = d.post_stream(d.stream_events(ctx), ctx)
                ctype = 'application/json; charset=UTF-8' if ctx.gemini_array else d.stream_ctype
                return self.send_stream(ctx, evs, ctype)
            obj, raw = d.body(ctx)
            if raw is not None and d.body_needs_obj(ctx):
                obj, raw = json.loads(raw.decode('utf-8')), None
            if obj is not None:
                obj = d.post_body(obj, ctx)
                raw = b(d.body_dumps(obj, ctx))
            else:
                raw = d.serve_raw(raw, ctx)
            return self.send_body(ctx, Resp(200, raw, d.json_ctype))
        except SampleError as ex:
            ctx.entry['status'] = 500
            return self.send_json(500, {'fakeprov_error': str(ex)})

    # --- GET endpoints
    def get_lists(self, ctx, path):
        ctx.entry['status'] = 200
        if path in ('/', ''):
            return self.send_simple(200, 'Ollama is running', 'text/plain; charset=utf-8')
        if path == '/api/version':
            return self.send_simple(200, '{"version":"0.12.6"}', 'application/json; charset=utf-8')
        if path == '/api/tags':
            return self.send_simple(200, dumps_go({'models': [{
                'name': 'llama3.2:latest', 'model': 'llama3.2:latest', 'modified_at': '2025-07-07T20:00:00Z',
                'size': 2019393189, 'digest': 'a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72',
                'details': {'parent_model': '', 'format': 'gguf', 'family': 'llama', 'families': ['llama'],
                            'parameter_size': '3.2B', 'quantization_level': 'Q4_K_M'}}]}),
                'application/json; charset=utf-8')
        if path.endswith('/models'):
            if path.startswith(('/v1beta/', '/v1alpha/')):
                return self.send_simple(200, dumps_pretty2({'models': [
                    {'name': 'models/gemini-2.0-flash', 'version': '2.0', 'displayName': 'Gemini 2.0 Flash',
                     'inputTokenLimit': 1048576, 'outputTokenLimit': 8192,
                     'supportedGenerationMethods': ['generateContent', 'countTokens']}]}),
                    'application/json; charset=UTF-8')
            if ctx.hdr.get('anthropic-version'):
                return self.send_simple(200, dumps_compact({'data': [
                    {'type': 'model', 'id': 'claude-haiku-4-5-20251001', 'display_name': 'Claude Haiku 4.5',
                     'created_at': '2025-10-15T00:00:00Z'}], 'has_more': False,
                    'first_id': 'claude-haiku-4-5-20251001', 'last_id': 'claude-haiku-4-5-20251001'}))
            return self.send_simple(200, oa_pretty({'object': 'list', 'data': [
                {'id': 'gpt-4o', 'object': 'model', 'created': 1715367049, 'owned_by': 'system'},
                {'id': 'gpt-4o-mini', 'object': 'model', 'created': 1721172741, 'owned_by': 'system'},
                {'id': 'gpt-4o-2024-08-06', 'object': 'model', 'created': 1722814719, 'owned_by': 'system'}]}) + '\n')
        ctx.entry['status'] = 404
        return self.send_json(404, {'error': {'message': 'fakeprov: no GET endpoint %s' % path}})

    # --- Vertex AI
    def vertex_control(self, method, body):
        """GET: the exchanges and tokens; POST {public_key, ttl}: configure."""
        with S.lock:
            if method == 'POST':
                req = json.loads(body.decode('utf-8') or '{}')
                S.vertex_pub = req.get('public_key', S.vertex_pub)
                S.vertex_ttl = req.get('ttl', S.vertex_ttl)
                S.vertex_fault = req.get('fault', S.vertex_fault)
            return self.send_json(200, {'exchanges': list(S.vertex_exchanges),
                                        'tokens': dict(S.vertex_tokens)})

    def vertex_token_fault(self, ex):
        """Acts out S.vertex_fault: True when the exchange was answered
        (or abandoned) here."""
        with S.lock:
            fault = S.vertex_fault
        if fault == 'hang':
            ex['hung'] = True
            sock = self.connection
            while not S.stop.is_set():
                with S.lock:
                    if S.vertex_fault != 'hang':
                        return False        # released: answer as usual
                r, _, _ = select.select([sock], [], [], 0.05)
                if r and not sock.recv(1, socket.MSG_PEEK):
                    ex['aborted'] = True
                    with S.lock:
                        S.vertex_exchanges.append(ex)
                    self.close_connection = True
                    return True
            return True
        if fault and fault.startswith('status:'):
            st = int(fault[7:])
            with S.lock:
                ex['error'] = 'fault %d' % st
                S.vertex_exchanges.append(ex)
            note('vertex token endpoint fails with %d (fault)' % st)
            # Google's token endpoint answers errors as {error, error_description}.
            self.send_json(st, {'error': 'internal_failure' if st >= 500 else 'rate_limit_exceeded',
                                'error_description': 'fakeprov: the token endpoint fails (%d)' % st})
            return True
        return False

    def vertex_token(self, body):
        form = urllib.parse.parse_qs(body.decode('utf-8', errors='replace'))
        ex = {'time': time.time(), 'ok': False, 'error': None,
              'ctype': self.headers.get('Content-Type', '')}
        if self.vertex_token_fault(ex):
            return None
        grant = form.get('grant_type', [''])[0]
        assertion = form.get('assertion', [''])[0]
        if grant != JWT_BEARER:
            why = 'unsupported_grant_type', 'Invalid grant_type: %s' % grant
        else:
            why = vertex_check_jwt(assertion, '/vertex/token')
            why = None if why is None else ('invalid_grant', why)
        with S.lock:
            S.vertex_exchanges.append(ex)
            if why is not None:
                ex['error'] = why[1]
                note('vertex token refused: %s' % why[1])
                return self.send_json(400, {'error': why[0], 'error_description': why[1]})
            n = len(S.vertex_tokens) + 1
            tok = 'ya29.fake-%d-%s' % (n, rand_id(32))
            ttl = S.vertex_ttl
            S.vertex_tokens[tok] = {'issued': time.time(), 'exp': time.time() + ttl, 'n': n}
            ex['ok'], ex['token'] = True, tok
        note('vertex token %d issued for %gs' % (n, ttl))
        return self.send_json(200, {'access_token': tok, 'expires_in': ttl, 'token_type': 'Bearer'})

    # --- control
    def control(self, method, body):
        if method == 'GET':
            with S.lock:
                return self.send_json(200, {'queue': list(S.queue), 'requests': len(S.log),
                                            'violations': len(S.violations)})
        try:
            req = json.loads(body.decode('utf-8') or '{}')
            if not isinstance(req, dict):
                raise ValueError('body must be a JSON object')
            items = req.get('queue', [])
            if not isinstance(items, list):
                raise ValueError('"queue" must be a list')
            specs = []
            for it in items:
                if isinstance(it, list):
                    it = '+'.join(str(x) for x in it)
                if not isinstance(it, str):
                    raise ValueError('queue entries are strings like "tool+slow:50"')
                specs.append(it)
        except (ValueError, UnicodeDecodeError) as e:
            return self.send_json(400, {'error': str(e)})
        with S.lock:
            if req.get('reset'):
                S.queue.clear()
                del S.log[:]
                del S.violations[:]
            S.queue.extend(specs)
            n = len(S.queue)
        return self.send_json(200, {'ok': True, 'queued': n})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128


# ----------------------------------------------------------------------------
# main


def main(argv=None):
    ap = argparse.ArgumentParser(description='Fake LLM provider server for llmux tests.')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--port-file')
    ap.add_argument('--max-seconds', type=float, default=600.0)
    ap.add_argument('--aws-access-key', default=DEFAULT_AK)
    ap.add_argument('--aws-secret-key', default=DEFAULT_SK)
    ap.add_argument('--aws-max-skew', type=float, default=300.0,
                    help='reject SigV4 dates further than this from now (seconds, 0 = no check)')
    ap.add_argument('--conformance', default=DEFAULT_CONF)
    ap.add_argument('-q', '--quiet', action='store_true')
    a = ap.parse_args(argv)

    S.conf = os.path.abspath(a.conformance)
    S.aws_ak, S.aws_sk, S.aws_max_skew, S.quiet = a.aws_access_key, a.aws_secret_key, a.aws_max_skew, a.quiet
    if not os.path.isdir(os.path.join(S.conf, 'providers')):
        sys.stderr.write('fakeprov: no providers/ under conformance dir %s\n' % S.conf)
        return 2

    srv = Server((a.host, a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        tmp = '%s.tmp.%d' % (a.port_file, os.getpid())
        with open(tmp, 'w') as f:
            f.write('%d\n' % port)
        os.replace(tmp, a.port_file)
    note('listening on %s:%d (max %gs, conformance %s)' % (a.host, port, a.max_seconds, S.conf))

    def on_signal(signum, frame):
        S.stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t = threading.Thread(target=srv.serve_forever, kwargs={'poll_interval': 0.1}, daemon=True)
    t.start()
    deadline = time.monotonic() + a.max_seconds
    while not S.stop.is_set() and time.monotonic() < deadline:
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
    why = 'signal' if S.stop.is_set() else 'max-seconds reached'
    S.stop.set()
    srv.shutdown()
    srv.server_close()
    note('stopping (%s)' % why)
    return 0


if __name__ == '__main__':
    sys.exit(main())
