/* test-cohere.c -- unit tests of the Cohere v2 adapter
 * (daemon/providers/cohere.c): golden requests written from Cohere's v2
 * chat reference, every recorded Cohere answer (bodies through parse,
 * event streams re-wrapped in Cohere's "event: <type>" SSE envelope and fed
 * whole, split at every byte and byte by byte), and error mapping. */
#include "test.h"
#include "config.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"

#include <jansson.h>
#include <strings.h>

extern const struct provider provider_cohere;

/* ------------------------------------------------------------------------
 * Fixture: a hand-made deployment and one pcall that collects chunks.
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

/* req: a JSON literal (NULL: {}). */
static int fix_init(struct fix *f, const char *req, int stream)
{
    memset(f, 0, sizeof(*f));
    f->d.preset = preset_find("cohere", 6);
    f->d.prov = &provider_cohere;
    f->d.upstream_model = (char *)"command-a-03-2025";
    f->d.api_base = (char *)"https://api.cohere.com";
    f->d.api_key = secret_new("test-key", 8);
    f->req = req ? json_loads(req, 0, NULL) : json_object();
    f->chunks = json_array();
    f->pc.prov = &provider_cohere;
    f->pc.dep = &f->d;
    f->pc.req = f->req;
    f->pc.stream = stream;
    f->pc.seq = 7;
    f->pc.emit = collect;
    f->pc.emit_ud = f->chunks;
    f->pc.err.retry_after = -1;
    if (f->req == NULL)
        fprintf(stderr, "  bad request literal: %s\n", req);
    return f->req != NULL && f->d.preset != NULL && f->d.api_key != NULL;
}

static void fix_free(struct fix *f)
{
    if (f->pc.prov->stream_free)
        f->pc.prov->stream_free(&f->pc);
    json_decref(f->pc.usage);
    json_decref(f->req);
    json_decref(f->chunks);
    secret_free(f->d.api_key);
}

/* ------------------------------------------------------------------------
 * Requests
 */

struct built {
    struct http_req h;
    int             r;
};

static void build(struct fix *f, struct built *b)
{
    http_req_init(&b->h);
    b->r = provider_cohere.build(&f->pc, &b->h);
}

/* The header line starting with name (case-insensitive), or NULL. */
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

/* 1 when the built body equals the JSON literal want (semantically). */
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

/* Builds req and compares URL, the three headers and the body. */
static int golden(const char *req, int stream, const char *want_body)
{
    struct fix f;
    struct built b;
    int ok;

    if (!fix_init(&f, req, stream))
        return 0;
    build(&f, &b);
    ok = b.r == 0;
    if (!ok)
        fprintf(stderr, "  build failed: %s\n", f.pc.err.message);
    ok = ok && strcmp(b.h.url.p, "https://api.cohere.com/v2/chat") == 0;
    ok = ok && header(&b.h, "Authorization") &&
         strcmp(header(&b.h, "Authorization"),
                "Authorization: Bearer test-key") == 0;
    ok = ok && header(&b.h, "Content-Type") &&
         strcmp(header(&b.h, "Content-Type"),
                "Content-Type: application/json") == 0;
    ok = ok && header(&b.h, "Accept") &&
         strcmp(header(&b.h, "Accept"), stream ?
                "Accept: text/event-stream" : "Accept: application/json") == 0;
    ok = ok && nheaders(&b.h) == 3;
    ok = ok && body_is(&b.h, want_body);
    http_req_free(&b.h);
    fix_free(&f);
    return ok;
}

/* Builds req expecting a failure; returns the code, message in msg. */
static int build_fails(const char *req, char *msg, size_t len)
{
    struct fix f;
    struct built b;
    int r;

    if (!fix_init(&f, req, 0))
        return 0;
    build(&f, &b);
    r = b.r;
    snprintf(msg, len, "%s", f.pc.err.message);
    http_req_free(&b.h);
    fix_free(&f);
    return r;
}

TEST(cohere_request_basic)
{
    /* The system message stays a message in v2; top_p is "p", stop is
     * stop_sequences; the stream flag is always sent. */
    ASSERT(golden(
        "{\"model\":\"cohere/command-a-03-2025\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":\"Hi\"},"
        "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"Capital\"},"
        "{\"type\":\"text\",\"text\":\" of France?\"}]}],"
        "\"temperature\":0.3,\"top_p\":0.9,\"max_tokens\":100,"
        "\"stop\":\"END\",\"seed\":42,\"frequency_penalty\":0.1,"
        "\"presence_penalty\":0.2,\"user\":\"u1\",\"n\":1}", 0,
        "{\"model\":\"command-a-03-2025\",\"stream\":false,\"messages\":["
        "{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":\"Hi\"},"
        "{\"role\":\"assistant\",\"content\":\"Hello!\"},"
        "{\"role\":\"user\",\"content\":\"Capital of France?\"}],"
        "\"temperature\":0.3,\"p\":0.9,\"max_tokens\":100,"
        "\"stop_sequences\":[\"END\"],\"seed\":42,"
        "\"frequency_penalty\":0.1,\"presence_penalty\":0.2}"));
}

TEST(cohere_request_stream_and_developer)
{
    /* developer is OpenAI's newer name for system; max_completion_tokens
     * is max_tokens; no max_tokens default (Cohere does not need one). */
    ASSERT(golden(
        "{\"model\":\"m\",\"stream\":true,\"stream_options\":"
        "{\"include_usage\":true},\"messages\":["
        "{\"role\":\"developer\",\"content\":\"Rules.\"},"
        "{\"role\":\"user\",\"content\":\"Go\"}],"
        "\"max_completion_tokens\":50,\"stop\":[\"a\",\"b\"]}", 1,
        "{\"model\":\"command-a-03-2025\",\"stream\":true,\"messages\":["
        "{\"role\":\"system\",\"content\":\"Rules.\"},"
        "{\"role\":\"user\",\"content\":\"Go\"}],\"max_tokens\":50,"
        "\"stop_sequences\":[\"a\",\"b\"]}"));
}

TEST(cohere_request_images)
{
    /* Cohere takes both base64 data: URLs and http(s) URLs as image_url
     * content blocks; detail passes through. */
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"What is this?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"data:image/png;base64,iVBORw0KGgo=\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"https://example.com/cat.jpg\",\"detail\":\"low\"}}]}]}", 0,
        "{\"model\":\"command-a-03-2025\",\"stream\":false,\"messages\":["
        "{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"What is this?\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"data:image/png;base64,iVBORw0KGgo=\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"https://example.com/cat.jpg\",\"detail\":\"low\"}}]}]}"));
}

TEST(cohere_request_bad_image)
{
    char msg[512];

    ASSERT_EQ(build_fails(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"ftp://example.com/x.png\"}}]}]}", msg, sizeof(msg)),
        LLMUX_EBADREQ);
    ASSERT(strstr(msg, "image_url") != NULL);
    ASSERT_EQ(build_fails(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"input_audio\",\"input_audio\":{}}]}]}", msg,
        sizeof(msg)), LLMUX_EBADREQ);
    ASSERT(strstr(msg, "input_audio") != NULL);
}

#define TOOLS_JSON                                                         \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"weather\","  \
    "\"description\":\"Weather in a city\",\"parameters\":{\"type\":"       \
    "\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"           \
    "\"required\":[\"city\"]}}},{\"type\":\"function\",\"function\":"       \
    "{\"name\":\"time\",\"parameters\":{\"type\":\"object\","              \
    "\"properties\":{}}}}]"

#define TOOLS_COHERE TOOLS_JSON  /* the same shape in v2 */

TEST(cohere_request_tools)
{
    const char *msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]";
    char req[2048], want[2048];

    /* auto: Cohere's default, so no tool_choice. */
    snprintf(req, sizeof(req), "{\"model\":\"m\",%s,%s,\"tool_choice\":"
             "\"auto\"}", msgs, TOOLS_JSON);
    snprintf(want, sizeof(want), "{\"model\":\"command-a-03-2025\","
             "\"stream\":false,%s,%s}", msgs, TOOLS_COHERE);
    ASSERT(golden(req, 0, want));
    /* required -> REQUIRED, none -> NONE */
    snprintf(req, sizeof(req), "{\"model\":\"m\",%s,%s,\"tool_choice\":"
             "\"required\"}", msgs, TOOLS_JSON);
    snprintf(want, sizeof(want), "{\"model\":\"command-a-03-2025\","
             "\"stream\":false,%s,%s,\"tool_choice\":\"REQUIRED\"}", msgs,
             TOOLS_COHERE);
    ASSERT(golden(req, 0, want));
    snprintf(req, sizeof(req), "{\"model\":\"m\",%s,%s,\"tool_choice\":"
             "\"none\"}", msgs, TOOLS_JSON);
    snprintf(want, sizeof(want), "{\"model\":\"command-a-03-2025\","
             "\"stream\":false,%s,%s,\"tool_choice\":\"NONE\"}", msgs,
             TOOLS_COHERE);
    ASSERT(golden(req, 0, want));
    /* A named function: only that tool, and REQUIRED. */
    snprintf(req, sizeof(req), "{\"model\":\"m\",%s,%s,\"tool_choice\":"
             "{\"type\":\"function\",\"function\":{\"name\":\"time\"}}}",
             msgs, TOOLS_JSON);
    snprintf(want, sizeof(want), "{\"model\":\"command-a-03-2025\","
             "\"stream\":false,%s,\"tools\":[{\"type\":\"function\","
             "\"function\":{\"name\":\"time\",\"parameters\":{\"type\":"
             "\"object\",\"properties\":{}}}}],\"tool_choice\":"
             "\"REQUIRED\"}", msgs);
    ASSERT(golden(req, 0, want));
}

TEST(cohere_request_tool_results)
{
    /* The assistant's text next to its calls becomes tool_plan; results
     * go back as role tool with tool_call_id. */
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":["
        "{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
        "{\"role\":\"assistant\",\"content\":\"I will look it up.\","
        "\"tool_calls\":[{\"id\":\"weather_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"weather\",\"arguments\":"
        "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"weather_1\",\"content\":"
        "\"{\\\"temp\\\":21}\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"t2\",\"type\":\"function\",\"function\":{\"name\":"
        "\"time\",\"arguments\":\"\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"t2\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"noon\"}]}]}", 0,
        "{\"model\":\"command-a-03-2025\",\"stream\":false,\"messages\":["
        "{\"role\":\"user\",\"content\":\"Weather in Paris?\"},"
        "{\"role\":\"assistant\",\"tool_plan\":\"I will look it up.\","
        "\"tool_calls\":[{\"id\":\"weather_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"weather\",\"arguments\":"
        "\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"weather_1\",\"content\":"
        "\"{\\\"temp\\\":21}\"},"
        "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"t2\",\"type\":"
        "\"function\",\"function\":{\"name\":\"time\",\"arguments\":"
        "\"\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"t2\",\"content\":\"noon\"}]}"));
}

TEST(cohere_request_json_mode)
{
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"JSON please\"}],\"response_format\":{\"type\":\"json_object\"}}",
        0,
        "{\"model\":\"command-a-03-2025\",\"stream\":false,\"messages\":["
        "{\"role\":\"user\",\"content\":\"JSON please\"}],"
        "\"response_format\":{\"type\":\"json_object\"}}"));
    /* json_schema: Cohere's json_object with a schema. */
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"A book\"}],\"response_format\":{\"type\":\"json_schema\","
        "\"json_schema\":{\"name\":\"book\",\"strict\":true,\"schema\":"
        "{\"type\":\"object\",\"properties\":{\"title\":{\"type\":"
        "\"string\"}},\"required\":[\"title\"]}}}}", 0,
        "{\"model\":\"command-a-03-2025\",\"stream\":false,\"messages\":["
        "{\"role\":\"user\",\"content\":\"A book\"}],"
        "\"response_format\":{\"type\":\"json_object\",\"schema\":"
        "{\"type\":\"object\",\"properties\":{\"title\":{\"type\":"
        "\"string\"}},\"required\":[\"title\"]}}}"));
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}],\"response_format\":{\"type\":\"text\"}}", 0,
        "{\"model\":\"command-a-03-2025\",\"stream\":false,\"messages\":["
        "{\"role\":\"user\",\"content\":\"x\"}]}"));
}

TEST(cohere_request_reasoning)
{
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"2+2?\"}],\"reasoning_effort\":\"medium\"}", 0,
        "{\"model\":\"command-a-03-2025\",\"stream\":false,\"messages\":["
        "{\"role\":\"user\",\"content\":\"2+2?\"}],\"thinking\":"
        "{\"type\":\"enabled\",\"token_budget\":2048}}"));
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"2+2?\"}],\"reasoning_effort\":\"high\"}", 0,
        "{\"model\":\"command-a-03-2025\",\"stream\":false,\"messages\":["
        "{\"role\":\"user\",\"content\":\"2+2?\"}],\"thinking\":"
        "{\"type\":\"enabled\",\"token_budget\":4096}}"));
    ASSERT(golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"2+2?\"}],\"reasoning_effort\":\"none\"}", 0,
        "{\"model\":\"command-a-03-2025\",\"stream\":false,\"messages\":["
        "{\"role\":\"user\",\"content\":\"2+2?\"}],\"thinking\":"
        "{\"type\":\"disabled\"}}"));
}

TEST(cohere_request_unsupported_param)
{
    char msg[512];
    struct fix f;
    struct built b;

    ASSERT_EQ(build_fails(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}],\"logit_bias\":{\"50256\":-100}}", msg, sizeof(msg)),
        LLMUX_EBADREQ);
    ASSERT(strstr(msg, "logit_bias") != NULL);
    ASSERT(strstr(msg, "cohere") != NULL);
    ASSERT_EQ(build_fails(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}],\"n\":2}", msg, sizeof(msg)), LLMUX_EBADREQ);
    ASSERT_EQ(build_fails(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}],\"reasoning_effort\":\"extreme\"}", msg, sizeof(msg)),
        LLMUX_EBADREQ);
    /* drop_params: the parameter silently goes. */
    ASSERT(fix_init(&f, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
                    "\"content\":\"x\"}],\"logit_bias\":{\"1\":2},"
                    "\"parallel_tool_calls\":false}", 0));
    f.pc.drop_params = 1;
    build(&f, &b);
    ASSERT_EQ(b.r, 0);
    ASSERT(body_is(&b.h, "{\"model\":\"command-a-03-2025\",\"stream\":"
                   "false,\"messages\":[{\"role\":\"user\",\"content\":"
                   "\"x\"}]}"));
    ASSERT(strstr(b.h.body.p, "test-key") == NULL);
    ASSERT(strstr(b.h.url.p, "test-key") == NULL);
    http_req_free(&b.h);
    fix_free(&f);
}

TEST(cohere_request_no_key)
{
    struct fix f;
    struct built b;

    ASSERT(fix_init(&f, "{\"messages\":[{\"role\":\"user\",\"content\":"
                    "\"x\"}]}", 0));
    secret_free(f.d.api_key);
    f.d.api_key = NULL;
    build(&f, &b);
    ASSERT_EQ(b.r, LLMUX_EAUTH);
    ASSERT(strstr(f.pc.err.message, "COHERE_API_KEY") != NULL);
    http_req_free(&b.h);
    fix_free(&f);
}

/* ------------------------------------------------------------------------
 * Bodies
 */

/* Runs a recorded body through parse; *ret the completion (caller frees). */
static int parse_file(const char *rel, struct fix *f, json_t **ret)
{
    struct http_resp r;
    size_t n;
    char *p = test_read_file(conformance_path(rel), &n);
    int rc;

    if (p == NULL) {
        fprintf(stderr, "  cannot read %s\n", rel);
        return -1;
    }
    r.status = 200;
    r.body = p;
    r.len = n;
    r.retry_after = -1;
    rc = provider_cohere.parse(&f->pc, &r, ret);
    free(p);
    return rc;
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

TEST(cohere_parse_text)
{
    struct fix f;
    json_t *c = NULL, *m;

    ASSERT(fix_init(&f, NULL, 0));
    ASSERT_EQ(parse_file("providers/cohere/chat_v2_text.json", &f, &c), 0);
    ASSERT_STR_EQ(sget(c, "object"), "chat.completion");
    ASSERT_STR_EQ(sget(c, "id"), "e7592632-1e3d-424f-b129-bd5f9f980f7b");
    ASSERT_STR_EQ(sget(c, "model"), "command-a-03-2025");
    m = json_array_get(json_object_get(c, "choices"), 0);
    ASSERT_STR_EQ(sget(m, "message.role"), "assistant");
    ASSERT_STR_EQ(sget(m, "message.content"),
                  "The capital of France is Paris.");
    ASSERT_STR_EQ(sget(m, "finish_reason"), "stop");
    ASSERT(json_object_get(json_object_get(m, "message"),
                           "tool_calls") == NULL);
    /* usage.tokens wins over billed_units; cached_tokens is kept. */
    ASSERT_EQ(iget(c, "usage.prompt_tokens"), 507);
    ASSERT_EQ(iget(c, "usage.completion_tokens"), 10);
    ASSERT_EQ(iget(c, "usage.total_tokens"), 517);
    ASSERT_EQ(iget(c, "usage.prompt_tokens_details.cached_tokens"), 448);
    ASSERT(json_equal(f.pc.usage, json_object_get(c, "usage")));
    json_decref(c);
    fix_free(&f);
}

TEST(cohere_parse_tool_call)
{
    struct fix f;
    json_t *c = NULL, *m, *tc, *args;

    ASSERT(fix_init(&f, NULL, 0));
    ASSERT_EQ(parse_file("providers/cohere/chat_v2_tool_call.json", &f, &c),
              0);
    m = json_array_get(json_object_get(c, "choices"), 0);
    ASSERT_STR_EQ(sget(m, "finish_reason"), "tool_calls");
    /* The tool plan is the text the model said before its calls. */
    ASSERT_STR_EQ(sget(m, "message.content"), "I will use the weather tool "
                  "to find out the weather in San Francisco. I will also use "
                  "the cityAttractions tool to find out what attractions are "
                  "in San Francisco.");
    tc = json_object_get(json_object_get(m, "message"), "tool_calls");
    ASSERT_EQ(json_array_size(tc), 2);
    ASSERT_STR_EQ(sget(json_array_get(tc, 0), "id"), "weather_dqgshstja6p9");
    ASSERT_STR_EQ(sget(json_array_get(tc, 0), "type"), "function");
    ASSERT_STR_EQ(sget(json_array_get(tc, 0), "function.name"), "weather");
    args = json_loads(sget(json_array_get(tc, 0), "function.arguments"), 0,
                      NULL);
    ASSERT_STR_EQ(sget(args, "location"), "San Francisco");
    json_decref(args);
    ASSERT_STR_EQ(sget(json_array_get(tc, 1), "id"),
                  "cityAttractions_dcxfx4myvx68");
    ASSERT_STR_EQ(sget(json_array_get(tc, 1), "function.name"),
                  "cityAttractions");
    args = json_loads(sget(json_array_get(tc, 1), "function.arguments"), 0,
                      NULL);
    ASSERT_STR_EQ(sget(args, "city"), "San Francisco");
    json_decref(args);
    ASSERT_EQ(iget(c, "usage.prompt_tokens"), 1549);
    ASSERT_EQ(iget(c, "usage.completion_tokens"), 103);
    ASSERT_EQ(iget(c, "usage.prompt_tokens_details.cached_tokens"), 992);
    json_decref(c);
    fix_free(&f);
}

TEST(cohere_parse_reasoning)
{
    struct fix f;
    json_t *c = NULL, *m;

    ASSERT(fix_init(&f, NULL, 0));
    ASSERT_EQ(parse_file("providers/cohere/chat_v2_reasoning.json", &f, &c),
              0);
    m = json_array_get(json_object_get(c, "choices"), 0);
    ASSERT_STR_EQ(sget(m, "message.content"), "2 + 2 = 4");
    ASSERT_STR_EQ(sget(m, "message.reasoning_content"),
                  "Okay, so I need to figure out what 2 + 2 is. Let me start "
                  "by recalling what addition means.");
    ASSERT_STR_EQ(sget(m, "finish_reason"), "stop");
    ASSERT_EQ(iget(c, "usage.prompt_tokens"), 1394);
    ASSERT_EQ(iget(c, "usage.completion_tokens"), 582);
    ASSERT_EQ(iget(c, "usage.total_tokens"), 1976);
    ASSERT_EQ(iget(c, "usage.prompt_tokens_details.cached_tokens"), 1344);
    json_decref(c);
    fix_free(&f);
}

/* A body given inline through parse; returns the code. */
static int parse_text(const char *body, json_t **ret, struct fix *f)
{
    struct http_resp r = { 200, body, strlen(body), -1 };

    return provider_cohere.parse(&f->pc, &r, ret);
}

TEST(cohere_parse_edge_cases)
{
    struct fix f;
    json_t *c = NULL;

    ASSERT(fix_init(&f, NULL, 0));
    ASSERT_EQ(parse_text("{\"message\":", &c, &f), LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "malformed") != NULL);
    ASSERT(c == NULL);
    ASSERT_EQ(parse_text("[1,2]", &c, &f), LLMUX_EUNAVAIL);
    ASSERT_EQ(parse_text("{\"id\":\"x\"}", &c, &f), LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "malformed") != NULL);
    /* Only billed_units: used as the fallback; MAX_TOKENS is length. */
    ASSERT_EQ(parse_text("{\"id\":\"a\",\"finish_reason\":\"MAX_TOKENS\","
                         "\"message\":{\"role\":\"assistant\",\"content\":"
                         "[{\"type\":\"text\",\"text\":\"abc\"}]},\"usage\":"
                         "{\"billed_units\":{\"input_tokens\":3,"
                         "\"output_tokens\":4}}}", &c, &f), 0);
    ASSERT_STR_EQ(sget(json_array_get(json_object_get(c, "choices"), 0),
                       "finish_reason"), "length");
    ASSERT_EQ(iget(c, "usage.prompt_tokens"), 3);
    ASSERT_EQ(iget(c, "usage.completion_tokens"), 4);
    json_decref(c);
    c = NULL;
    /* An ERROR finish is a failed answer. */
    ASSERT_EQ(parse_text("{\"id\":\"a\",\"finish_reason\":\"ERROR\","
                         "\"message\":{\"role\":\"assistant\"}}", &c, &f),
              LLMUX_EUNAVAIL);
    ASSERT(c == NULL);
    ASSERT_EQ(parse_text("{\"finish_reason\":\"TIMEOUT\",\"message\":{}}",
                         &c, &f), LLMUX_ETIMEOUT);
    /* Wrong types inside a well-formed object never crash. */
    ASSERT_EQ(parse_text("{\"finish_reason\":7,\"message\":{\"content\":"
                         "[1,{\"type\":\"text\",\"text\":5},null],"
                         "\"tool_calls\":[3,{\"function\":7}]},"
                         "\"usage\":{\"tokens\":[]}}", &c, &f), 0);
    json_decref(c);
    fix_free(&f);
}

/* ------------------------------------------------------------------------
 * Streams
 */

/* The recorded payloads, one a line, in Cohere's real envelope:
 * "event: <type>\ndata: <payload>\n\n". Caller frees. */
static char *wrap_events(const char *rel, size_t *ret_len)
{
    size_t n;
    char *p = test_read_file(conformance_path(rel), &n), *line, *save;
    struct buf b;

    if (p == NULL)
        return NULL;
    buf_init(&b, 16u << 20);
    for (line = strtok_r(p, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);
        const char *type = json_string_value(json_object_get(j, "type"));

        buf_addf(&b, "event: %s\ndata: %s\n\n", type ? type : "?", line);
        json_decref(j);
    }
    free(p);
    return buf_steal(&b, ret_len);
}

/* What a client would rebuild from the chunks: text, reasoning, tool
 * calls by index (fragments joined), finish reasons, and checks on every
 * chunk's shape. */
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

/* Feeds p split at the offsets in cuts (sorted, ending with n), ends the
 * stream, and returns the summary (plus usage and the code). */
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
    fix_init(&f, NULL, 1);
    if (split) {
        rc = provider_cohere.stream_feed(&f.pc, p, split);
        i = split;
    }
    while (rc == 0 && i < n) {
        size_t len = step ? (n - i < step ? n - i : step) : n - i;

        rc = provider_cohere.stream_feed(&f.pc, p + i, len);
        i += len;
    }
    out->feed_rc = rc;
    if (rc == 0)
        out->end_rc = provider_cohere.stream_end(&f.pc);
    out->code = f.pc.err.code;
    snprintf(out->message, sizeof(out->message), "%s", f.pc.err.message);
    out->sum = summarise(f.chunks);
    out->usage = json_incref(f.pc.usage);
    out->chunks = json_incref(f.chunks);
    fix_free(&f);
}

/* Whole, split in two at every byte, and byte by byte must agree. */
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
             r.feed_rc == whole->feed_rc && r.end_rc == whole->end_rc;
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
             same(r.usage, whole->usage);
        run_free(&r);
        if (!ok) {
            fprintf(stderr, "  byte-at-a-time differs\n");
            return 0;
        }
    }
    return 1;
}

TEST(cohere_stream_text)
{
    size_t n;
    char *p = wrap_events("providers/cohere/chat_v2_stream_text.events.jsonl",
                          &n);
    struct run r;
    json_t *c0;

    ASSERT(p != NULL);
    run_stream(p, n, 0, 0, &r);
    ASSERT_EQ(r.feed_rc, 0);
    ASSERT_EQ(r.end_rc, 0);
    ASSERT_STR_EQ(sget(r.sum, "text"), "The capital of France is Paris.");
    ASSERT_STR_EQ(sget(r.sum, "reasoning"), "");
    ASSERT_EQ(json_array_size(json_object_get(r.sum, "calls")), 0);
    ASSERT_STR_EQ(sget(r.sum, "finish"), "stop");
    ASSERT_EQ(iget(r.sum, "nfinish"), 1);
    ASSERT_EQ(iget(r.sum, "roles"), 1);
    ASSERT_EQ(iget(r.sum, "bad"), 0);
    /* The upstream id names the stream; the model is the deployment's. */
    c0 = json_array_get(r.chunks, 0);
    ASSERT_STR_EQ(sget(c0, "id"), "321d178c-2c12-44d3-ae42-2f5510f6b1cc");
    ASSERT_STR_EQ(sget(c0, "model"), "command-a-03-2025");
    ASSERT_EQ(iget(r.usage, "prompt_tokens"), 507);
    ASSERT_EQ(iget(r.usage, "completion_tokens"), 10);
    ASSERT_EQ(iget(r.usage, "total_tokens"), 517);
    ASSERT_EQ(iget(r.usage, "prompt_tokens_details.cached_tokens"), 448);
    /* No usage-only chunk: request.c makes that one. */
    ASSERT(json_object_get(json_array_get(r.chunks,
                           json_array_size(r.chunks) - 1), "usage") == NULL);
    ASSERT(same_everywhere(p, n, &r));
    run_free(&r);
    free(p);
}

TEST(cohere_stream_tool_call)
{
    size_t n;
    char *p = wrap_events(
        "providers/cohere/chat_v2_stream_tool_call.events.jsonl", &n);
    struct run r;
    json_t *calls, *args;

    ASSERT(p != NULL);
    run_stream(p, n, 0, 0, &r);
    ASSERT_EQ(r.feed_rc, 0);
    ASSERT_EQ(r.end_rc, 0);
    ASSERT_EQ(iget(r.sum, "bad"), 0);
    ASSERT_STR_EQ(sget(r.sum, "text"), "I will use the weather tool to find "
                  "the weather in San Francisco and the cityAttractions tool "
                  "to find attractions in San Francisco.");
    calls = json_object_get(r.sum, "calls");
    ASSERT_EQ(json_array_size(calls), 2);
    ASSERT_STR_EQ(sget(json_array_get(calls, 0), "id"),
                  "weather_e8p4pn45zt0t");
    ASSERT_STR_EQ(sget(json_array_get(calls, 0), "name"), "weather");
    args = json_loads(sget(json_array_get(calls, 0), "args"), 0, NULL);
    ASSERT(args != NULL);
    ASSERT_STR_EQ(sget(args, "location"), "San Francisco");
    json_decref(args);
    ASSERT_STR_EQ(sget(json_array_get(calls, 1), "id"),
                  "cityAttractions_pyxssbwnq9fq");
    ASSERT_STR_EQ(sget(json_array_get(calls, 1), "name"), "cityAttractions");
    args = json_loads(sget(json_array_get(calls, 1), "args"), 0, NULL);
    ASSERT(args != NULL);
    ASSERT_STR_EQ(sget(args, "city"), "San Francisco");
    json_decref(args);
    ASSERT_STR_EQ(sget(r.sum, "finish"), "tool_calls");
    ASSERT_EQ(iget(r.usage, "prompt_tokens"), 1549);
    ASSERT_EQ(iget(r.usage, "completion_tokens"), 95);
    ASSERT_EQ(iget(r.usage, "prompt_tokens_details.cached_tokens"), 1504);
    ASSERT(same_everywhere(p, n, &r));
    run_free(&r);
    free(p);
}

TEST(cohere_stream_reasoning)
{
    size_t n;
    char *p = wrap_events(
        "providers/cohere/chat_v2_stream_reasoning.events.jsonl", &n);
    struct run r;

    ASSERT(p != NULL);
    run_stream(p, n, 0, 0, &r);
    ASSERT_EQ(r.feed_rc, 0);
    ASSERT_EQ(r.end_rc, 0);
    ASSERT_EQ(iget(r.sum, "bad"), 0);
    ASSERT_STR_EQ(sget(r.sum, "reasoning"), "The user is asking for the sum "
                  "of 2 and 2. Since this is a straightforward arithmetic "
                  "problem, I don't need to use any tools. I can calculate "
                  "the answer directly.");
    ASSERT_STR_EQ(sget(r.sum, "text"), "The answer to 2 + 2 is 4.");
    ASSERT_STR_EQ(sget(r.sum, "finish"), "stop");
    ASSERT_EQ(iget(r.usage, "prompt_tokens"), 1394);
    ASSERT_EQ(iget(r.usage, "completion_tokens"), 54);
    ASSERT_EQ(iget(r.usage, "prompt_tokens_details.cached_tokens"), 1360);
    ASSERT(same_everywhere(p, n, &r));
    run_free(&r);
    free(p);
}

TEST(cohere_stream_without_event_lines)
{
    /* Payloads carry their type, so data-only framing reads the same. */
    const char *s =
        "data: {\"id\":\"s1\",\"type\":\"message-start\",\"delta\":{}}\n\n"
        "data: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\""
        ":{\"content\":{\"text\":\"Hi\"}}}}\n\n"
        "data: {\"type\":\"citation-start\",\"index\":0,\"delta\":{}}\n\n"
        "data: {\"type\":\"debug\",\"prompt\":\"x\"}\n\n"
        "data: {\"type\":\"some-new-event\",\"delta\":[1,2]}\n\n"
        "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":"
        "\"STOP_SEQUENCE\"}}\n\n";
    struct run r;

    run_stream(s, strlen(s), 0, 0, &r);
    ASSERT_EQ(r.feed_rc, 0);
    ASSERT_EQ(r.end_rc, 0);
    ASSERT_STR_EQ(sget(r.sum, "text"), "Hi");
    ASSERT_STR_EQ(sget(r.sum, "finish"), "stop");
    ASSERT(r.usage == NULL);
    run_free(&r);
}

TEST(cohere_stream_errors)
{
    struct run r;
    const char *s;

    /* finish_reason ERROR in message-end: the stream fails. */
    s = "event: message-start\ndata: {\"id\":\"e\",\"type\":\"message-start\""
        "}\n\nevent: content-delta\ndata: {\"type\":\"content-delta\","
        "\"delta\":{\"message\":{\"content\":{\"text\":\"par\"}}}}\n\n"
        "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":"
        "{\"finish_reason\":\"ERROR\",\"error\":\"internal failure\"}}\n\n";
    run_stream(s, strlen(s), 0, 0, &r);
    ASSERT(r.feed_rc < 0);
    ASSERT_EQ(r.code, LLMUX_EUNAVAIL);
    ASSERT(strstr(r.message, "internal failure") != NULL);
    ASSERT_STR_EQ(sget(r.sum, "text"), "par");
    run_free(&r);
    /* An error event. */
    s = "event: error\ndata: {\"type\":\"error\",\"message\":\"rate limit "
        "exceeded\"}\n\n";
    run_stream(s, strlen(s), 0, 0, &r);
    ASSERT(r.feed_rc < 0);
    ASSERT_EQ(r.code, LLMUX_ERATELIMIT);
    run_free(&r);
    /* Malformed JSON in an event. */
    s = "event: content-delta\ndata: {\"type\":\"content-delta\",\n\n";
    run_stream(s, strlen(s), 0, 0, &r);
    ASSERT(r.feed_rc < 0);
    ASSERT_EQ(r.code, LLMUX_EUNAVAIL);
    ASSERT(strstr(r.message, "malformed") != NULL);
    run_free(&r);
    /* Cut before message-end: stream_end says so. */
    s = "event: message-start\ndata: {\"id\":\"e\",\"type\":\"message-start\""
        "}\n\n";
    run_stream(s, strlen(s), 0, 0, &r);
    ASSERT_EQ(r.feed_rc, 0);
    ASSERT_EQ(r.end_rc, LLMUX_EUNAVAIL);
    ASSERT(strstr(r.message, "truncated") != NULL);
    run_free(&r);
    /* A delta for a call that never started. */
    s = "data: {\"type\":\"tool-call-delta\",\"index\":3,\"delta\":{\"message"
        "\":{\"tool_calls\":{\"function\":{\"arguments\":\"{\"}}}}}\n\n";
    run_stream(s, strlen(s), 0, 0, &r);
    ASSERT_EQ(r.code, LLMUX_EUNAVAIL);
    run_free(&r);
    /* Events without the fields they should have never crash. */
    s = "data: {\"type\":\"tool-call-start\"}\n\n"
        "data: {\"type\":\"tool-call-delta\",\"delta\":7}\n\n"
        "data: {\"type\":\"content-delta\",\"delta\":{\"message\":null}}\n\n"
        "data: {\"type\":\"message-end\",\"delta\":{\"usage\":[]}}\n\n";
    run_stream(s, strlen(s), 0, 0, &r);
    ASSERT_EQ(r.feed_rc, 0);
    ASSERT_EQ(r.end_rc, 0);
    run_free(&r);
}

/* ------------------------------------------------------------------------
 * Errors. No recorded Cohere error body exists (see SOURCES.md); these
 * follow the documented shape {"id": …, "message": …} and status list.
 */

static int map(long status, const char *body, double retry_after,
               struct perr *ret)
{
    struct fix f;
    struct http_resp r = { status, body, strlen(body), retry_after };
    int code;

    fix_init(&f, NULL, 0);
    code = provider_cohere.map_error(&f.pc, &r);
    *ret = f.pc.err;
    fix_free(&f);
    return code;
}

TEST(cohere_map_errors)
{
    struct perr e;

    ASSERT_EQ(map(400, "{\"id\":\"1\",\"message\":\"too many tokens: total "
                  "number of tokens in the prompt cannot exceed 128000 - "
                  "received 140000\"}", -1, &e), LLMUX_ECONTEXT);
    ASSERT(strncmp(e.message, "cohere: too many tokens", 23) == 0);
    ASSERT_EQ(e.status, 400);
    ASSERT_EQ(map(400, "{\"id\":\"1\",\"message\":\"invalid request: "
                  "message must be at least 1 token long\"}", -1, &e),
              LLMUX_EBADREQ);
    ASSERT_EQ(map(401, "{\"id\":\"1\",\"message\":\"invalid api token\"}", -1,
                  &e), LLMUX_EAUTH);
    ASSERT_EQ(map(402, "{\"message\":\"billing limit reached\"}", -1, &e),
              LLMUX_EPERMISSION);
    ASSERT_EQ(map(404, "{\"message\":\"model 'x' not found\"}", -1, &e),
              LLMUX_ENOTFOUND);
    ASSERT_EQ(map(429, "{\"id\":\"1\",\"message\":\"You are using a Trial "
                  "key, which is limited to 20 API calls / minute.\"}", 12,
                  &e), LLMUX_ERATELIMIT);
    ASSERT(e.retry_after == 12);
    ASSERT_EQ(map(429, "{\"message\":\"slow down, retry after 3 seconds\"}",
                  -1, &e), LLMUX_ERATELIMIT);
    ASSERT(e.retry_after == 3);
    ASSERT_EQ(map(429, "{\"message\":\"slow down\"}", -1, &e),
              LLMUX_ERATELIMIT);
    ASSERT(e.retry_after < 0);
    ASSERT_EQ(map(498, "{\"message\":\"blocked by the usage policy\"}", -1,
                  &e), LLMUX_EPOLICY);
    ASSERT_EQ(map(499, "{\"message\":\"request cancelled\"}", -1, &e),
              LLMUX_ECANCELLED);
    ASSERT_EQ(map(500, "{\"message\":\"internal server error\"}", -1, &e),
              LLMUX_EUNAVAIL);
    ASSERT_EQ(map(503, "<html>busy</html>", -1, &e), LLMUX_EUNAVAIL);
    ASSERT(strstr(e.message, "busy") != NULL);
    ASSERT_EQ(map(504, "", -1, &e), LLMUX_ETIMEOUT);
    ASSERT(strstr(e.message, "empty body") != NULL);
    /* The key never survives into a message. */
    ASSERT_EQ(map(401, "{\"message\":\"invalid api token test-key\"}", -1,
                  &e), LLMUX_EAUTH);
    ASSERT(strstr(e.message, "test-key") == NULL);
}
