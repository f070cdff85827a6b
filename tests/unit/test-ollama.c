/* test-ollama.c -- unit tests of the Ollama adapter
 * (daemon/providers/ollama.c): golden /api/chat requests written from
 * Ollama's API docs, the documented answers (pretty-printed bodies through
 * parse; stream objects compacted one a line, as /api/chat sends them, fed
 * whole, split at every byte and byte by byte), the mid-stream error line,
 * and error mapping. */
#include "test.h"
#include "config.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"

#include <jansson.h>
#include <strings.h>

extern const struct provider provider_ollama;

/* ------------------------------------------------------------------------
 * Fixture
 */

struct fix {
    struct deployment d;
    struct pcall      pc;
    json_t           *req;
    json_t           *chunks;
};

static int collect(void *ud, json_t *chunk)
{
    return json_array_append_new((json_t *)ud, chunk);
}

static int fix_init(struct fix *f, const char *req, int stream, int key)
{
    memset(f, 0, sizeof(*f));
    f->d.preset = preset_find("ollama", 6);
    f->d.prov = &provider_ollama;
    f->d.upstream_model = (char *)"llama3.2";
    f->d.api_base = (char *)"http://localhost:11434";
    f->d.api_key = key ? secret_new("test-key", 8) : NULL;
    f->req = req ? json_loads(req, 0, NULL) : json_object();
    f->chunks = json_array();
    f->pc.prov = &provider_ollama;
    f->pc.dep = &f->d;
    f->pc.req = f->req;
    f->pc.stream = stream;
    f->pc.seq = 9;
    f->pc.emit = collect;
    f->pc.emit_ud = f->chunks;
    f->pc.err.retry_after = -1;
    if (f->req == NULL)
        fprintf(stderr, "  bad request literal: %s\n", req);
    return f->req != NULL && f->d.preset != NULL;
}

static void fix_free(struct fix *f)
{
    provider_ollama.stream_free(&f->pc);
    json_decref(f->pc.usage);
    json_decref(f->req);
    json_decref(f->chunks);
    secret_free(f->d.api_key);
}

static const char *sget(const json_t *o, const char *path)
{
    char key[64];
    const char *dot;

    while ((dot = strchr(path, '.')) != NULL) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
        o = json_object_get(o, key);
        path = dot + 1;
    }
    return json_string_value(json_object_get(o, path));
}

static json_int_t iget(const json_t *o, const char *path)
{
    char key[64];
    const char *dot;

    while ((dot = strchr(path, '.')) != NULL) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
        o = json_object_get(o, key);
        path = dot + 1;
    }
    return json_integer_value(json_object_get(o, path));
}

/* ------------------------------------------------------------------------
 * Requests
 */

static const char *header(const struct http_req *h, const char *name)
{
    size_t n = strlen(name);

    for (const struct curl_slist *s = h->headers; s; s = s->next)
        if (strncasecmp(s->data, name, n) == 0 && s->data[n] == ':')
            return s->data;
    return NULL;
}

static int nheaders(const struct http_req *h)
{
    int n = 0;

    for (const struct curl_slist *s = h->headers; s; s = s->next)
        n++;
    return n;
}

static int body_is(const struct http_req *h, const char *want)
{
    json_t *g = json_loadb(h->body.p ? h->body.p : "", h->body.len, 0, NULL);
    json_t *w = json_loads(want, 0, NULL);
    int ok = g && w && json_equal(g, w);

    if (!ok) {
        char *ws = w ? json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        char *gs = g ? json_dumps(g, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

        fprintf(stderr, "  body mismatch:\n    got  %s\n    want %s\n",
                gs ? gs : h->body.p, ws ? ws : "(bad literal)");
        free(ws);
        free(gs);
    }
    json_decref(g);
    json_decref(w);
    return ok;
}

/* Builds req (no key: Ollama's default) and checks URL, headers, body. */
static int golden_ex(const char *req, int stream, int drop, const char *want)
{
    struct fix f;
    struct http_req h;
    int ok, r;

    if (!fix_init(&f, req, stream, 0))
        return 0;
    f.pc.drop_params = drop;
    http_req_init(&h);
    r = provider_ollama.build(&f.pc, &h);
    ok = r == 0;
    if (!ok)
        fprintf(stderr, "  build failed: %s\n", f.pc.err.message);
    ok = ok && strcmp(h.url.p, "http://localhost:11434/api/chat") == 0;
    ok = ok && header(&h, "Content-Type") &&
         strcmp(header(&h, "Content-Type"),
                "Content-Type: application/json") == 0;
    ok = ok && nheaders(&h) == 1 && header(&h, "Authorization") == NULL;
    ok = ok && body_is(&h, want);
    http_req_free(&h);
    fix_free(&f);
    return ok;
}

static int golden(const char *req, int stream, const char *want)
{
    return golden_ex(req, stream, 0, want);
}

static int build_fails(const char *req, char *msg, size_t len)
{
    struct fix f;
    struct http_req h;
    int r;

    if (!fix_init(&f, req, 0, 0))
        return 0;
    http_req_init(&h);
    r = provider_ollama.build(&f.pc, &h);
    snprintf(msg, len, "%s", f.pc.err.message);
    http_req_free(&h);
    fix_free(&f);
    return r;
}

TEST(ollama_request_basic)
{
    /* Sampling parameters go under options; max_tokens is num_predict;
     * stream is always explicit (Ollama streams by default). */
    ASSERT(golden(
        "{\"model\":\"ollama/llama3.2\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":\"why is the sky blue?\"},"
        "{\"role\":\"assistant\",\"content\":\"due to rayleigh scattering.\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"how is that different than mie scattering?\"}]}],"
        "\"temperature\":0,\"top_p\":0.9,\"max_tokens\":100,\"seed\":101,"
        "\"stop\":[\"\\n\",\"user:\"],\"presence_penalty\":1.5,"
        "\"frequency_penalty\":1.0}", 0,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":["
        "{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":\"why is the sky blue?\"},"
        "{\"role\":\"assistant\",\"content\":\"due to rayleigh scattering.\"},"
        "{\"role\":\"user\",\"content\":"
        "\"how is that different than mie scattering?\"}],"
        "\"options\":{\"temperature\":0,\"top_p\":0.9,\"num_predict\":100,"
        "\"seed\":101,\"stop\":[\"\\n\",\"user:\"],\"presence_penalty\":1.5,"
        "\"frequency_penalty\":1.0}}"));
    ASSERT(golden(
        "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":"
        "\"developer\",\"content\":\"Rules\"},{\"role\":\"user\",\"content\":"
        "\"Hello!\"}],\"max_completion_tokens\":5}", 1,
        "{\"model\":\"llama3.2\",\"stream\":true,\"messages\":["
        "{\"role\":\"system\",\"content\":\"Rules\"},"
        "{\"role\":\"user\",\"content\":\"Hello!\"}],"
        "\"options\":{\"num_predict\":5}}"));
}

TEST(ollama_request_key_behind_proxy)
{
    struct fix f;
    struct http_req h;

    ASSERT(fix_init(&f, "{\"messages\":[{\"role\":\"user\",\"content\":"
                    "\"x\"}]}", 0, 1));
    http_req_init(&h);
    ASSERT_EQ(provider_ollama.build(&f.pc, &h), 0);
    ASSERT_STR_EQ(header(&h, "Authorization"),
                  "Authorization: Bearer test-key");
    ASSERT(strstr(h.url.p, "test-key") == NULL);
    ASSERT(strstr(h.body.p, "test-key") == NULL);
    http_req_free(&h);
    fix_free(&f);
}

TEST(ollama_request_images)
{
    char msg[512];

    /* Raw base64 in images, without the data: prefix. */
    ASSERT(golden(
        "{\"model\":\"llava\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"what is in this image?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAG0AAABm\"}},"
        "{\"type\":\"image_url\",\"image_url\":"
        "\"data:image/jpeg;base64,/9j/4AAQ\"}]}]}", 0,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":["
        "{\"role\":\"user\",\"content\":\"what is in this image?\","
        "\"images\":[\"iVBORw0KGgoAAAANSUhEUgAAAG0AAABm\",\"/9j/4AAQ\"]}]}"));
    /* Ollama cannot fetch URLs. */
    ASSERT_EQ(build_fails(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"https://example.com/cat.png\"}}]}]}", msg, sizeof(msg)),
        LLMUX_EBADREQ);
    ASSERT(strstr(msg, "data:") != NULL);
    ASSERT_EQ(build_fails(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"data:image/png,rawbytes\"}}]}]}", msg, sizeof(msg)),
        LLMUX_EBADREQ);
}

#define TOOLS_JSON                                                         \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"            \
    "\"get_weather\",\"description\":\"Get the weather in a city\","        \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":"         \
    "{\"type\":\"string\"}},\"required\":[\"city\"]}}}]"

TEST(ollama_request_tools)
{
    char msg[512];

    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"Weather in Tokyo?\"}]," TOOLS_JSON ",\"tool_choice\":\"auto\"}",
        0,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"Weather in Tokyo?\"}]," TOOLS_JSON "}"));
    /* none: the tools stay home. */
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}]," TOOLS_JSON ",\"tool_choice\":\"none\"}", 0,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"x\"}]}"));
    /* Forcing a call is not something Ollama can do. */
    ASSERT_EQ(build_fails(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}]," TOOLS_JSON ",\"tool_choice\":\"required\"}", msg,
        sizeof(msg)), LLMUX_EBADREQ);
    ASSERT(strstr(msg, "tool_choice") != NULL);
    ASSERT(golden_ex(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}]," TOOLS_JSON ",\"tool_choice\":{\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\"}}}", 0, 1,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"x\"}]," TOOLS_JSON "}"));
}

TEST(ollama_request_tool_results)
{
    char msg[512];

    /* Arguments go as an object; the result names its tool. */
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":["
        "{\"role\":\"user\",\"content\":\"Weather in Tokyo?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"call_0\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Tokyo\\\"}\"}},"
        "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
        "\"get_time\",\"arguments\":\"\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_0\",\"content\":"
        "\"11 degrees celsius\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":"
        "\"noon\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"unknown\",\"content\":"
        "\"?\"}]}", 0,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":["
        "{\"role\":\"user\",\"content\":\"Weather in Tokyo?\"},"
        "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":["
        "{\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":"
        "\"Tokyo\"}}},{\"function\":{\"name\":\"get_time\",\"arguments\":"
        "{}}}]},"
        "{\"role\":\"tool\",\"content\":\"11 degrees celsius\","
        "\"tool_name\":\"get_weather\"},"
        "{\"role\":\"tool\",\"content\":\"noon\",\"tool_name\":"
        "\"get_time\"},"
        "{\"role\":\"tool\",\"content\":\"?\"}]}"));
    ASSERT_EQ(build_fails(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\","
        "\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":"
        "{\"name\":\"f\",\"arguments\":\"not json\"}}]}]}", msg,
        sizeof(msg)), LLMUX_EBADREQ);
    ASSERT(strstr(msg, "arguments") != NULL);
}

TEST(ollama_request_format_and_think)
{
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"JSON\"}],\"response_format\":{\"type\":\"json_object\"}}", 0,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"JSON\"}],\"format\":\"json\"}"));
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"Age\"}],\"response_format\":{\"type\":\"json_schema\","
        "\"json_schema\":{\"name\":\"a\",\"schema\":{\"type\":\"object\","
        "\"properties\":{\"age\":{\"type\":\"integer\"}},\"required\":"
        "[\"age\"]}}}}", 0,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"Age\"}],\"format\":{\"type\":\"object\","
        "\"properties\":{\"age\":{\"type\":\"integer\"}},\"required\":"
        "[\"age\"]}}"));
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"r\"}],\"reasoning_effort\":\"low\"}", 0,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"r\"}],\"think\":\"low\"}"));
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"r\"}],\"reasoning_effort\":\"high\"}", 0,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"r\"}],\"think\":\"high\"}"));
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"r\"}],\"reasoning_effort\":\"none\"}", 0,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"r\"}],\"think\":false}"));
    /* Reasoning in the history goes back as thinking. */
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":"
        "\"4\",\"reasoning_content\":\"2+2\"}]}", 0,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
        "\"assistant\",\"content\":\"4\",\"thinking\":\"2+2\"}]}"));
}

TEST(ollama_request_unsupported_param)
{
    char msg[512];

    ASSERT_EQ(build_fails(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}],\"logprobs\":true}", msg, sizeof(msg)), LLMUX_EBADREQ);
    ASSERT(strstr(msg, "logprobs") != NULL);
    ASSERT(strstr(msg, "ollama") != NULL);
    ASSERT(golden_ex(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}],\"logprobs\":true}", 0, 1,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"x\"}]}"));
    ASSERT_EQ(build_fails(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"content\":"
        "\"x\"}]}", msg, sizeof(msg)), LLMUX_EBADREQ);
    ASSERT_EQ(build_fails("{\"model\":\"m\",\"messages\":{}}", msg,
                          sizeof(msg)), LLMUX_EBADREQ);
}

/* ------------------------------------------------------------------------
 * Bodies
 */

static int parse_body(struct fix *f, const char *body, size_t n,
                      json_t **ret)
{
    struct http_resp r = { 200, body, n, -1 };

    return provider_ollama.parse(&f->pc, &r, ret);
}

static int parse_file(struct fix *f, const char *rel, json_t **ret)
{
    size_t n;
    char *p = test_read_file(conformance_path(rel), &n);
    int rc;

    if (p == NULL) {
        fprintf(stderr, "  cannot read %s\n", rel);
        return -1;
    }
    rc = parse_body(f, p, n, ret);
    free(p);
    return rc;
}

TEST(ollama_parse_text)
{
    struct fix f;
    json_t *c = NULL, *ch;

    ASSERT(fix_init(&f, NULL, 0, 0));
    ASSERT_EQ(parse_file(&f, "providers/ollama/chat_nonstream.docs.json",
                         &c), 0);
    ASSERT_STR_EQ(sget(c, "object"), "chat.completion");
    ASSERT_STR_EQ(sget(c, "model"), "llama3.2");
    ASSERT(strncmp(sget(c, "id"), "chatcmpl-", 9) == 0);
    ch = json_array_get(json_object_get(c, "choices"), 0);
    ASSERT_STR_EQ(sget(ch, "message.role"), "assistant");
    ASSERT_STR_EQ(sget(ch, "message.content"), "Hello! How are you today?");
    ASSERT_STR_EQ(sget(ch, "finish_reason"), "stop");
    ASSERT_EQ(iget(c, "usage.prompt_tokens"), 26);
    ASSERT_EQ(iget(c, "usage.completion_tokens"), 298);
    ASSERT_EQ(iget(c, "usage.total_tokens"), 324);
    ASSERT(json_equal(f.pc.usage, json_object_get(c, "usage")));
    json_decref(c);
    fix_free(&f);
}

TEST(ollama_parse_tools)
{
    struct fix f;
    json_t *c = NULL, *ch, *tc, *args;

    ASSERT(fix_init(&f, NULL, 0, 0));
    ASSERT_EQ(parse_file(&f,
                         "providers/ollama/chat_nonstream_tools.docs.json",
                         &c), 0);
    ch = json_array_get(json_object_get(c, "choices"), 0);
    /* done_reason stop with calls is OpenAI's tool_calls. */
    ASSERT_STR_EQ(sget(ch, "finish_reason"), "tool_calls");
    ASSERT(json_is_null(json_object_get(json_object_get(ch, "message"),
                                        "content")));
    tc = json_object_get(json_object_get(ch, "message"), "tool_calls");
    ASSERT_EQ(json_array_size(tc), 1);
    ASSERT_STR_EQ(sget(json_array_get(tc, 0), "id"), "call_0");
    ASSERT_STR_EQ(sget(json_array_get(tc, 0), "type"), "function");
    ASSERT_STR_EQ(sget(json_array_get(tc, 0), "function.name"),
                  "get_weather");
    /* The object arguments come back as a JSON string. */
    args = json_loads(sget(json_array_get(tc, 0), "function.arguments"), 0,
                      NULL);
    ASSERT(json_is_object(args));
    ASSERT_STR_EQ(sget(args, "city"), "Tokyo");
    json_decref(args);
    ASSERT_EQ(iget(c, "usage.prompt_tokens"), 169);
    ASSERT_EQ(iget(c, "usage.completion_tokens"), 18);
    json_decref(c);
    fix_free(&f);
}

TEST(ollama_parse_edge_cases)
{
    struct fix f;
    json_t *c = NULL;
    const char *s;

    ASSERT(fix_init(&f, NULL, 0, 0));
    s = "{\"model\":\"x\",\"message\":";
    ASSERT_EQ(parse_body(&f, s, strlen(s), &c), LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "malformed") != NULL);
    s = "{\"model\":\"x\",\"done\":true}";
    ASSERT_EQ(parse_body(&f, s, strlen(s), &c), LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "malformed") != NULL);
    s = "{\"error\":\"an error was encountered while running the model\"}";
    ASSERT_EQ(parse_body(&f, s, strlen(s), &c), LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "running the model") != NULL);
    ASSERT(c == NULL);
    /* length, thinking */
    s = "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":"
        "\"abc\",\"thinking\":\"hmm\"},\"done\":true,\"done_reason\":"
        "\"length\",\"prompt_eval_count\":3,\"eval_count\":4}";
    ASSERT_EQ(parse_body(&f, s, strlen(s), &c), 0);
    ASSERT_STR_EQ(sget(json_array_get(json_object_get(c, "choices"), 0),
                       "finish_reason"), "length");
    ASSERT_STR_EQ(sget(json_array_get(json_object_get(c, "choices"), 0),
                       "message.reasoning_content"), "hmm");
    ASSERT_EQ(iget(c, "usage.total_tokens"), 7);
    json_decref(c);
    c = NULL;
    /* Wrong types never crash. */
    s = "{\"model\":5,\"message\":{\"content\":7,\"tool_calls\":[1,"
        "{\"function\":{\"name\":3,\"arguments\":[1]}}]},\"done_reason\":2}";
    ASSERT_EQ(parse_body(&f, s, strlen(s), &c), 0);
    json_decref(c);
    fix_free(&f);
}

/* ------------------------------------------------------------------------
 * Streams
 */

/* Pretty-printed documented objects, compacted one a line (Go's
 * encoding/json, as /api/chat writes them). Caller frees. */
static char *ndjson_of(const char *const *rels, size_t *ret_len)
{
    struct buf b;

    buf_init(&b, 1u << 20);
    for (; *rels; rels++) {
        json_t *j = json_load_file(conformance_path(*rels), 0, NULL);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) :
                  NULL;

        if (s == NULL) {
            json_decref(j);
            buf_free(&b);
            return NULL;
        }
        buf_addf(&b, "%s\n", s);
        free(s);
        json_decref(j);
    }
    return buf_steal(&b, ret_len);
}

/* An /api/generate stream with each "response" moved to message.content,
 * so it reads as /api/chat lines. Caller frees. */
static char *chat_of_generate(const char *rel, size_t *ret_len)
{
    size_t n;
    char *p = test_read_file(conformance_path(rel), &n), *line, *save;
    struct buf b;

    if (p == NULL)
        return NULL;
    buf_init(&b, 1u << 20);
    for (line = strtok_r(p, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL), *resp;
        char *s;

        if ((resp = json_object_get(j, "response")) != NULL) {
            json_object_set_new(j, "message", json_pack("{s:s, s:O}", "role",
                                "assistant", "content", resp));
            json_object_del(j, "response");
        }
        s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        buf_addf(&b, "%s\n", s);
        free(s);
        json_decref(j);
    }
    free(p);
    return buf_steal(&b, ret_len);
}

static json_t *summarise(const json_t *chunks)
{
    json_t *calls = json_array(), *ch;
    struct buf text, reasoning;
    const char *finish = NULL, *id = NULL;
    int roles = 0, nfinish = 0, bad = 0;
    size_t i;
    json_t *sum;

    buf_init(&text, 1u << 20);
    buf_init(&reasoning, 1u << 20);
    json_array_foreach(chunks, i, ch) {
        json_t *choice = json_array_get(json_object_get(ch, "choices"), 0);
        json_t *d = json_object_get(choice, "delta"), *tcs, *tc;
        const char *s;
        size_t k;

        if (sget(ch, "object") == NULL ||
            strcmp(sget(ch, "object"), "chat.completion.chunk") != 0 ||
            !json_is_object(d) || sget(ch, "id") == NULL ||
            (id && strcmp(id, sget(ch, "id")) != 0))
            bad++;
        id = sget(ch, "id");
        if (sget(d, "role"))
            roles++;
        if ((s = sget(d, "content")) != NULL)
            buf_adds(&text, s);
        if ((s = sget(d, "reasoning_content")) != NULL)
            buf_adds(&reasoning, s);
        tcs = json_object_get(d, "tool_calls");
        json_array_foreach(tcs, k, tc) {
            json_t *ix = json_object_get(tc, "index"), *e;
            size_t x = (size_t)json_integer_value(ix);
            json_t *fn = json_object_get(tc, "function");

            if (!json_is_integer(ix) || x > json_array_size(calls)) {
                bad++;
                continue;
            }
            if (x == json_array_size(calls))
                json_array_append_new(calls, json_pack("{s:s, s:s, s:s}",
                                      "id", "", "name", "", "args", ""));
            e = json_array_get(calls, x);
            if (sget(tc, "id"))
                json_object_set_new(e, "id", json_string(sget(tc, "id")));
            if (sget(fn, "name") && *sget(fn, "name"))
                json_object_set_new(e, "name",
                                    json_string(sget(fn, "name")));
            if (sget(fn, "arguments")) {
                struct buf a;
                char *joined;

                buf_init(&a, 1u << 20);
                buf_adds(&a, sget(e, "args"));
                buf_adds(&a, sget(fn, "arguments"));
                joined = buf_steal(&a, NULL);
                json_object_set_new(e, "args", json_string(joined ? joined :
                                                           ""));
                free(joined);
            }
        }
        if ((s = sget(choice, "finish_reason")) != NULL) {
            finish = s;
            nfinish++;
        }
    }
    sum = json_pack("{s:s%, s:s%, s:o, s:s?, s:i, s:i, s:i, s:i}",
                    "text", text.p ? text.p : "", text.len,
                    "reasoning", reasoning.p ? reasoning.p : "",
                    reasoning.len, "calls", calls, "finish", finish,
                    "nfinish", nfinish, "roles", roles, "bad", bad,
                    "nchunks", (int)json_array_size(chunks));
    buf_free(&text);
    buf_free(&reasoning);
    return sum;
}

struct run {
    json_t *sum;
    json_t *usage;
    json_t *chunks;
    int     feed_rc;
    int     end_rc;
    int     code;
    char    message[512];
};

static void run_free(struct run *r)
{
    json_decref(r->sum);
    json_decref(r->usage);
    json_decref(r->chunks);
}

static void run_stream(const char *p, size_t n, size_t split, size_t step,
                       struct run *out)
{
    struct fix f;
    size_t i = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    fix_init(&f, NULL, 1, 0);
    if (split) {
        rc = provider_ollama.stream_feed(&f.pc, p, split);
        i = split;
    }
    while (rc == 0 && i < n) {
        size_t len = step ? (n - i < step ? n - i : step) : n - i;

        rc = provider_ollama.stream_feed(&f.pc, p + i, len);
        i += len;
    }
    out->feed_rc = rc;
    if (rc == 0)
        out->end_rc = provider_ollama.stream_end(&f.pc);
    out->code = f.pc.err.code;
    snprintf(out->message, sizeof(out->message), "%s", f.pc.err.message);
    out->sum = summarise(f.chunks);
    out->usage = json_incref(f.pc.usage);
    out->chunks = json_incref(f.chunks);
    fix_free(&f);
}

/* json_equal, with two NULLs equal. */
static int same(const json_t *a, const json_t *b)
{
    return (a == NULL && b == NULL) || json_equal(a, b);
}

static int same_everywhere(const char *p, size_t n, const struct run *whole)
{
    for (size_t k = 1; k < n; k++) {
        struct run r;
        int ok;

        run_stream(p, n, k, 0, &r);
        ok = json_equal(r.sum, whole->sum) &&
             same(r.usage, whole->usage) &&
             r.feed_rc == whole->feed_rc && r.end_rc == whole->end_rc &&
             r.code == whole->code;
        if (!ok) {
            char *a = json_dumps(r.sum, JSON_COMPACT);
            char *b = json_dumps(whole->sum, JSON_COMPACT);

            fprintf(stderr, "  split at %zu differs (rc %d/%d %d/%d):\n"
                    "    %s\n    %s\n", k, r.feed_rc, whole->feed_rc,
                    r.end_rc, whole->end_rc, a, b);
            free(a);
            free(b);
        }
        run_free(&r);
        if (!ok)
            return 0;
    }
    {
        struct run r;
        int ok;

        run_stream(p, n, 0, 1, &r);
        ok = json_equal(r.sum, whole->sum) &&
             same(r.usage, whole->usage) && r.code == whole->code;
        run_free(&r);
        if (!ok) {
            fprintf(stderr, "  byte-at-a-time differs\n");
            return 0;
        }
    }
    return 1;
}

TEST(ollama_stream_text)
{
    static const char *const rels[] = {
        "providers/ollama/chat_stream_chunk.docs.json",
        "providers/ollama/chat_stream_final.docs.json", NULL,
    };
    size_t n;
    char *p = ndjson_of(rels, &n);
    struct run r;

    ASSERT(p != NULL);
    run_stream(p, n, 0, 0, &r);
    ASSERT_EQ(r.feed_rc, 0);
    ASSERT_EQ(r.end_rc, 0);
    ASSERT_EQ(iget(r.sum, "bad"), 0);
    ASSERT_STR_EQ(sget(r.sum, "text"), "The");
    ASSERT_STR_EQ(sget(r.sum, "finish"), "stop");
    ASSERT_EQ(iget(r.sum, "nfinish"), 1);
    ASSERT_EQ(iget(r.sum, "roles"), 1);
    ASSERT_EQ(json_array_size(json_object_get(r.sum, "calls")), 0);
    ASSERT_STR_EQ(sget(json_array_get(r.chunks, 0), "model"), "llama3.2");
    ASSERT_EQ(iget(r.usage, "prompt_tokens"), 26);
    ASSERT_EQ(iget(r.usage, "completion_tokens"), 282);
    ASSERT_EQ(iget(r.usage, "total_tokens"), 308);
    ASSERT(same_everywhere(p, n, &r));
    run_free(&r);
    free(p);
}

static int check_tools_stream(const char *p, size_t n)
{
    struct run r;
    json_t *calls, *args;
    int ok;

    run_stream(p, n, 0, 0, &r);
    calls = json_object_get(r.sum, "calls");
    args = json_loads(sget(json_array_get(calls, 0), "args") ?
                      sget(json_array_get(calls, 0), "args") : "", 0, NULL);
    ok = r.feed_rc == 0 && r.end_rc == 0 && iget(r.sum, "bad") == 0 &&
         json_array_size(calls) == 1 &&
         strcmp(sget(json_array_get(calls, 0), "id"), "call_0") == 0 &&
         strcmp(sget(json_array_get(calls, 0), "name"), "get_weather") == 0 &&
         json_is_object(args) && sget(args, "city") &&
         strcmp(sget(args, "city"), "Tokyo") == 0 &&
         sget(r.sum, "finish") &&
         strcmp(sget(r.sum, "finish"), "tool_calls") == 0 &&
         iget(r.usage, "prompt_tokens") == 169 &&
         iget(r.usage, "completion_tokens") == 15 &&
         strcmp(sget(r.sum, "text"), "") == 0;
    json_decref(args);
    if (!ok) {
        char *s = json_dumps(r.sum, JSON_COMPACT);

        fprintf(stderr, "  tools stream: %s\n", s);
        free(s);
    }
    ok = ok && same_everywhere(p, n, &r);
    run_free(&r);
    return ok;
}

TEST(ollama_stream_tools_docs)
{
    static const char *const rels[] = {
        "providers/ollama/chat_stream_tools_chunk.docs.json",
        "providers/ollama/chat_stream_tools_final.docs.json", NULL,
    };
    size_t n;
    char *p = ndjson_of(rels, &n);

    ASSERT(p != NULL);
    ASSERT(check_tools_stream(p, n));
    free(p);
}

TEST(ollama_stream_tools_derived)
{
    size_t n;
    char *p = test_read_file(conformance_path(
        "providers/ollama/chat_stream_tools.derived.ndjson"), &n);

    ASSERT(p != NULL);
    ASSERT(check_tools_stream(p, n));
    free(p);
}

TEST(ollama_stream_generate_as_chat)
{
    size_t n;
    char *p = chat_of_generate("providers/ollama/generate_stream.docs.ndjson",
                               &n);
    struct run r;

    ASSERT(p != NULL);
    run_stream(p, n, 0, 0, &r);
    ASSERT_EQ(r.feed_rc, 0);
    ASSERT_EQ(r.end_rc, 0);
    ASSERT_STR_EQ(sget(r.sum, "text"), "That's a fantastic question!");
    ASSERT_STR_EQ(sget(r.sum, "finish"), "stop");
    ASSERT(r.usage == NULL);      /* the docs sample has no counts */
    ASSERT(same_everywhere(p, n, &r));
    run_free(&r);
    free(p);
}

TEST(ollama_stream_midstream_error)
{
    size_t n;
    char *p = chat_of_generate(
        "providers/ollama/generate_stream_midstream_error.docs.ndjson", &n);
    char *raw;
    struct run r;

    /* Text first, then {"error": …} with the status long sent. */
    ASSERT(p != NULL);
    run_stream(p, n, 0, 0, &r);
    ASSERT(r.feed_rc < 0);
    ASSERT_EQ(r.code, LLMUX_EUNAVAIL);
    ASSERT_STR_EQ(r.message, "ollama: an error was encountered while "
                  "running the model");
    ASSERT_STR_EQ(sget(r.sum, "text"), " Yes.Ican");
    ASSERT(sget(r.sum, "finish") == NULL);
    ASSERT(same_everywhere(p, n, &r));
    run_free(&r);
    free(p);
    /* The raw /api/generate lines: no message to read, the error still
     * stops the stream. */
    raw = test_read_file(conformance_path(
        "providers/ollama/generate_stream_midstream_error.docs.ndjson"), &n);
    ASSERT(raw != NULL);
    run_stream(raw, n, 0, 0, &r);
    ASSERT_EQ(r.code, LLMUX_EUNAVAIL);
    ASSERT_EQ(iget(r.sum, "nchunks"), 0);
    run_free(&r);
    free(raw);
}

TEST(ollama_stream_edge_cases)
{
    struct run r;
    const char *s;

    /* Thinking, two lines of calls (indexes go on), CRLF, blank lines. */
    s = "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":"
        "\"\",\"thinking\":\"Let me\"},\"done\":false}\r\n\r\n"
        "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":"
        "\"\",\"thinking\":\" think\"},\"done\":false}\n"
        "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":"
        "\"\",\"tool_calls\":[{\"function\":{\"name\":\"a\",\"arguments\":"
        "{\"x\":1}}}]},\"done\":false}\n"
        "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":"
        "\"\",\"tool_calls\":[{\"id\":\"own\",\"function\":{\"name\":\"b\","
        "\"arguments\":{}}}]},\"done\":false}\n"
        "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":"
        "\"ok\"},\"done\":true,\"done_reason\":\"length\","
        "\"prompt_eval_count\":1,\"eval_count\":2}";  /* no final newline */
    run_stream(s, strlen(s), 0, 0, &r);
    ASSERT_EQ(r.feed_rc, 0);
    ASSERT_EQ(r.end_rc, 0);
    ASSERT_STR_EQ(sget(r.sum, "reasoning"), "Let me think");
    ASSERT_STR_EQ(sget(r.sum, "text"), "ok");
    ASSERT_EQ(json_array_size(json_object_get(r.sum, "calls")), 2);
    ASSERT_STR_EQ(sget(json_array_get(json_object_get(r.sum, "calls"), 0),
                       "id"), "call_0");
    ASSERT_STR_EQ(sget(json_array_get(json_object_get(r.sum, "calls"), 0),
                       "args"), "{\"x\":1}");
    ASSERT_STR_EQ(sget(json_array_get(json_object_get(r.sum, "calls"), 1),
                       "id"), "own");
    ASSERT_STR_EQ(sget(r.sum, "finish"), "length");
    ASSERT_EQ(iget(r.usage, "total_tokens"), 3);
    ASSERT(same_everywhere(s, strlen(s), &r));
    run_free(&r);
    /* Malformed line. */
    s = "{\"model\":\"x\",\"message\":{\"content\":\"a\"}\n";
    run_stream(s, strlen(s), 0, 0, &r);
    ASSERT(r.feed_rc < 0);
    ASSERT_EQ(r.code, LLMUX_EUNAVAIL);
    ASSERT(strstr(r.message, "malformed") != NULL);
    run_free(&r);
    /* Cut before done:true. */
    s = "{\"model\":\"x\",\"message\":{\"content\":\"a\"},\"done\":false}\n";
    run_stream(s, strlen(s), 0, 0, &r);
    ASSERT_EQ(r.end_rc, LLMUX_EUNAVAIL);
    ASSERT(strstr(r.message, "truncated") != NULL);
    ASSERT_STR_EQ(sget(r.sum, "text"), "a");
    run_free(&r);
    /* An error that speaks of the context window. */
    s = "{\"error\":\"the input is too long for the model's context "
        "window\"}\n";
    run_stream(s, strlen(s), 0, 0, &r);
    ASSERT_EQ(r.code, LLMUX_ECONTEXT);
    run_free(&r);
    /* Wrong types never crash. */
    s = "{\"message\":[1],\"done\":\"yes\"}\n{\"message\":{\"tool_calls\":"
        "[7,{\"function\":[]}]}}\n[]\n";
    run_stream(s, strlen(s), 0, 0, &r);
    ASSERT_EQ(r.code, LLMUX_EUNAVAIL);   /* the last line is no object */
    run_free(&r);
}

/* ------------------------------------------------------------------------
 * Errors: Ollama's {"error": "…"} bodies (docs/api/errors.mdx shape).
 */

static int map(long status, const char *body, double retry_after,
               struct perr *ret)
{
    struct fix f;
    struct http_resp r = { status, body, strlen(body), retry_after };
    int code;

    fix_init(&f, NULL, 0, 1);
    code = provider_ollama.map_error(&f.pc, &r);
    *ret = f.pc.err;
    fix_free(&f);
    return code;
}

TEST(ollama_map_errors)
{
    struct perr e;

    ASSERT_EQ(map(404, "{\"error\":\"model \\\"llama3\\\" not found, try "
                  "pulling it first\"}", -1, &e), LLMUX_ENOTFOUND);
    ASSERT_STR_EQ(e.message, "ollama: model \"llama3\" not found, try "
                  "pulling it first");
    ASSERT_EQ(e.status, 404);
    ASSERT_EQ(map(400, "{\"error\":\"invalid format: expected \\\"json\\\" "
                  "or a JSON schema\"}", -1, &e), LLMUX_EBADREQ);
    ASSERT_EQ(map(500, "{\"error\":\"an error was encountered while running "
                  "the model\"}", -1, &e), LLMUX_EUNAVAIL);
    ASSERT_EQ(map(429, "{\"error\":\"too many requests\"}", 2.5, &e),
              LLMUX_ERATELIMIT);
    ASSERT(e.retry_after == 2.5);
    ASSERT_EQ(map(401, "{\"error\":\"bad token test-key\"}", -1, &e),
              LLMUX_EAUTH);
    ASSERT(strstr(e.message, "test-key") == NULL);
    /* A proxy's HTML page. */
    ASSERT_EQ(map(502, "<html>Bad Gateway</html>", -1, &e), LLMUX_EUNAVAIL);
    ASSERT(strstr(e.message, "Bad Gateway") != NULL);
}
