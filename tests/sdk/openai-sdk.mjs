// openai-sdk.mjs -- the official openai Node SDK against llmuxd's HTTP
// front end, one case per run (tests/integration/test_http_sdk.py drives
// it and asserts on what it prints): node openai-sdk.mjs CASE [MODEL].
// OPENAI_BASE_URL and OPENAI_API_KEY come from the environment, as the
// SDK reads them. Prints one JSON object on stdout; exit 0 unless the
// case itself broke.
import OpenAI from 'openai';

const [, , kase, model = 'gpt'] = process.argv;
// No retries: a test asserts the first answer, not the SDK's patience.
const client = new OpenAI({ maxRetries: 0, timeout: 30000 });
const messages = [{ role: 'user', content: 'weather in Paris?' }];
const tools = [{
  type: 'function',
  function: {
    name: 'get_weather', description: 'weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}];

function header(h, name) {
  if (!h) return null;
  return typeof h.get === 'function' ? h.get(name) : (h[name] ?? null);
}

// What a caught error is, as the SDK classified it.
function describe(err) {
  return {
    class: err.constructor.name,
    isRateLimit: err instanceof OpenAI.RateLimitError,
    isAuthentication: err instanceof OpenAI.AuthenticationError,
    isAbort: err instanceof OpenAI.APIUserAbortError,
    isAPIError: err instanceof OpenAI.APIError,
    status: err.status ?? null,
    type: err.type ?? null,
    code: err.code ?? null,
    message: err.message,
    retryAfter: header(err.headers, 'retry-after'),
    requestID: err.requestID ?? null,
  };
}

// Tool calls of a stream, put together by index as a client does.
function addToolDeltas(calls, deltas) {
  for (const tc of deltas ?? []) {
    const c = (calls[tc.index] ??= { id: null, name: null, arguments: '' });
    if (tc.id) c.id = tc.id;
    if (tc.function?.name) c.name = tc.function.name;
    c.arguments += tc.function?.arguments ?? '';
  }
}

async function streamed(params) {
  const stream = await client.chat.completions.create({ ...params, stream: true });
  const out = { text: '', chunks: 0, objects: [], finish: [], toolCalls: [], usage: null };
  for await (const chunk of stream) {
    out.chunks++;
    if (!out.objects.includes(chunk.object)) out.objects.push(chunk.object);
    if (chunk.usage) out.usage = chunk.usage;
    for (const ch of chunk.choices) {
      out.text += ch.delta?.content ?? '';
      addToolDeltas(out.toolCalls, ch.delta?.tool_calls);
      if (ch.finish_reason) out.finish.push(ch.finish_reason);
    }
  }
  return out;
}

const cases = {
  async plain() {
    const { data, response } = await client.chat.completions
      .create({ model, messages: [{ role: 'user', content: 'hello from node' }] })
      .withResponse();
    return { completion: data, callId: response.headers.get('x-litellm-call-id'),
             group: response.headers.get('x-litellm-model-group') };
  },
  async stream() {
    return streamed({ model, messages: [{ role: 'user', content: 'streamed from node' }],
                      stream_options: { include_usage: true } });
  },
  async tools() {
    const c = await client.chat.completions.create({ model, messages, tools });
    return { message: c.choices[0].message, finish: c.choices[0].finish_reason };
  },
  async toolsStream() {
    return streamed({ model, messages, tools });
  },
  async models() {
    const ids = [];
    for await (const m of client.models.list()) ids.push({ id: m.id, object: m.object });
    return { models: ids };
  },
  async error() {
    try {
      await client.chat.completions.create({ model, messages });
      return { error: null };
    } catch (err) {
      return { error: describe(err) };
    }
  },
  async errorStream() {
    try {
      await streamed({ model, messages });
      return { error: null };
    } catch (err) {
      return { error: describe(err) };
    }
  },
  async abort() {
    const ac = new AbortController();
    const stream = await client.chat.completions.create(
      { model, messages, stream: true }, { signal: ac.signal });
    let chunks = 0;
    try {
      for await (const chunk of stream) {
        void chunk;
        if (++chunks === 1) ac.abort();
      }
      return { chunks, aborted: ac.signal.aborted, error: null };
    } catch (err) {
      return { chunks, aborted: ac.signal.aborted, error: describe(err) };
    }
  },
};

if (!cases[kase]) {
  console.error(`unknown case ${kase}; one of ${Object.keys(cases).join(', ')}`);
  process.exit(2);
}
console.log(JSON.stringify(await cases[kase]()));
