/* test-azure.c -- unit tests of the Azure OpenAI adapter
 * (daemon/providers/azure.c): golden deployment URLs, api-version choice,
 * the api-key header and OpenAI bodies; every recorded OpenAI answer
 * replayed through azure's parse and stream hooks, which must give exactly
 * what provider_openai gives (streams also fed byte by byte and split in
 * two at every byte, or every few bytes for the larger recordings, which
 * valgrind would otherwise take minutes over); Azure's own content-filter
 * and rate-limit errors. */
#include "test.h"
#include "config.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"

#include <jansson.h>
#include <strings.h>

extern const struct provider provider_azure;

#define BASE "https://myres.openai.azure.com"

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

/* prov: &provider_azure, or &provider_openai to compare with. */
static int fix_init(struct fix *f, const struct provider *prov,
                    const char *req, int stream)
{
    int az = prov == &provider_azure;

    memset(f, 0, sizeof(*f));
    f->d.preset = az ? preset_find("azure", 5) : preset_find("openai", 6);
    f->d.prov = prov;
    f->d.upstream_model = (char *)(az ? "gpt-4o-prod" : "gpt-4o");
    f->d.api_base = (char *)(az ? BASE : "https://api.openai.com/v1");
    f->d.api_key = secret_new("test-key", 8);
    f->req = req ? json_loads(req, 0, NULL) : json_object();
    f->chunks = json_array();
    f->pc.prov = prov;
    f->pc.dep = &f->d;
    f->pc.req = f->req;
    f->pc.stream = stream;
    f->pc.seq = 3;
    f->pc.emit = collect;
    f->pc.emit_ud = f->chunks;
    f->pc.err.retry_after = -1;
    if (f->req == NULL)
        fprintf(stderr, "  bad request literal: %s\n", req);
    return f->req != NULL && f->d.preset != NULL && f->d.api_key != NULL;
}

static void fix_free(struct fix *f)
{
    f->pc.prov->stream_free(&f->pc);
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

/* json_equal, with two NULLs equal. */
static int same(const json_t *a, const json_t *b)
{
    return (a == NULL && b == NULL) || json_equal(a, b);
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

/* Builds req with the given api_version (NULL: none on the deployment)
 * and checks the URL, the headers and the body. */
static int golden(const char *req, int stream, const char *version,
                  const char *want_url, const char *want_body)
{
    struct fix f;
    struct http_req h;
    int ok, r;

    if (!fix_init(&f, &provider_azure, req, stream))
        return 0;
    f.d.api_version = (char *)version;
    http_req_init(&h);
    r = provider_azure.build(&f.pc, &h);
    ok = r == 0;
    if (!ok)
        fprintf(stderr, "  build failed: %s\n", f.pc.err.message);
    if (ok && strcmp(h.url.p, want_url) != 0) {
        fprintf(stderr, "  url %s\n  want %s\n", h.url.p, want_url);
        ok = 0;
    }
    ok = ok && header(&h, "api-key") &&
         strcmp(header(&h, "api-key"), "api-key: test-key") == 0;
    ok = ok && header(&h, "Authorization") == NULL;
    ok = ok && header(&h, "Content-Type") &&
         strcmp(header(&h, "Content-Type"),
                "Content-Type: application/json") == 0;
    ok = ok && (stream ? header(&h, "Accept") &&
                strcmp(header(&h, "Accept"),
                       "Accept: text/event-stream") == 0 :
                header(&h, "Accept") == NULL);
    ok = ok && nheaders(&h) == (stream ? 3 : 2);
    ok = ok && strstr(h.url.p, "test-key") == NULL &&
         strstr(h.body.p, "test-key") == NULL;
    ok = ok && body_is(&h, want_body);
    http_req_free(&h);
    fix_free(&f);
    return ok;
}

/* Runs fn with $AZURE_API_VERSION set to v (NULL: unset), then puts the
 * variable back as it was. */
static char *saved_env;

static void env_set(const char *v)
{
    const char *old = getenv("AZURE_API_VERSION");

    free(saved_env);
    saved_env = old ? strdup(old) : NULL;
    if (v)
        setenv("AZURE_API_VERSION", v, 1);
    else
        unsetenv("AZURE_API_VERSION");
}

static void env_restore(void)
{
    if (saved_env)
        setenv("AZURE_API_VERSION", saved_env, 1);
    else
        unsetenv("AZURE_API_VERSION");
    free(saved_env);
    saved_env = NULL;
}

TEST(azure_request_basic)
{
    int ok;

    /* The OpenAI body passes; llmux's control keys never reach Azure (an
     * api_base or api_key in a request must not redirect the key). */
    env_set(NULL);
    ok = golden(
        "{\"model\":\"azure/gpt-4o-prod\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":\"Hi\"}],\"temperature\":0.2,"
        "\"max_tokens\":64,\"tools\":[{\"type\":\"function\",\"function\":"
        "{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}],"
        "\"tool_choice\":\"required\",\"response_format\":{\"type\":"
        "\"json_object\"},\"num_retries\":3,\"api_base\":\"https://evil\","
        "\"api_key\":\"other\",\"fallbacks\":[\"x\"]}", 0, NULL,
        BASE "/openai/deployments/gpt-4o-prod/chat/completions"
        "?api-version=2024-10-21",
        "{\"model\":\"gpt-4o-prod\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":\"Hi\"}],\"temperature\":0.2,"
        "\"max_tokens\":64,\"tools\":[{\"type\":\"function\",\"function\":"
        "{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}],"
        "\"tool_choice\":\"required\",\"response_format\":{\"type\":"
        "\"json_object\"}}");
    env_restore();
    ASSERT(ok);
}

TEST(azure_request_versions)
{
    int ok;

    /* The deployment's version wins; streams ask for usage... */
    ok = golden(
        "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\","
        "\"content\":\"Hi\"}]}", 1, "2025-01-01-preview",
        BASE "/openai/deployments/gpt-4o-prod/chat/completions"
        "?api-version=2025-01-01-preview",
        "{\"model\":\"gpt-4o-prod\",\"stream\":true,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"Hi\"}],\"stream_options\":{\"include_usage\""
        ":true}}");
    ASSERT(ok);
    /* ...except from versions older than stream_options. */
    ok = golden(
        "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\","
        "\"content\":\"Hi\"}]}", 1, "2024-06-01",
        BASE "/openai/deployments/gpt-4o-prod/chat/completions"
        "?api-version=2024-06-01",
        "{\"model\":\"gpt-4o-prod\",\"stream\":true,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"Hi\"}]}");
    ASSERT(ok);
    /* $AZURE_API_VERSION when the deployment names none. */
    env_set("2024-08-01-preview");
    ok = golden(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"Hi\"}]}", 0, NULL,
        BASE "/openai/deployments/gpt-4o-prod/chat/completions"
        "?api-version=2024-08-01-preview",
        "{\"model\":\"gpt-4o-prod\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"Hi\"}]}");
    env_restore();
    ASSERT(ok);
}

static int build_code(const char *model, const char *version, int key,
                      char *msg, size_t len)
{
    struct fix f;
    struct http_req h;
    int r;

    if (!fix_init(&f, &provider_azure, "{\"messages\":[{\"role\":\"user\","
                  "\"content\":\"x\"}]}", 0))
        return 0;
    f.d.upstream_model = (char *)model;
    f.d.api_version = (char *)version;
    if (!key) {
        secret_free(f.d.api_key);
        f.d.api_key = NULL;
    }
    http_req_init(&h);
    r = provider_azure.build(&f.pc, &h);
    snprintf(msg, len, "%s", f.pc.err.message);
    http_req_free(&h);
    fix_free(&f);
    return r;
}

TEST(azure_request_refusals)
{
    char msg[512];

    ASSERT_EQ(build_code("gpt-4o-prod", NULL, 0, msg, sizeof(msg)),
              LLMUX_EAUTH);
    ASSERT(strstr(msg, "AZURE_API_KEY") != NULL);
    ASSERT_EQ(build_code("../../x?y=1", NULL, 1, msg, sizeof(msg)),
              LLMUX_EBADREQ);
    ASSERT(strstr(msg, "deployment") != NULL);
    ASSERT_EQ(build_code("gpt 4o", NULL, 1, msg, sizeof(msg)),
              LLMUX_EBADREQ);
    ASSERT_EQ(build_code("gpt-4o", "2024-10-21&x=1", 1, msg, sizeof(msg)),
              LLMUX_EBADREQ);
    ASSERT_EQ(build_code("gpt-4o.v2_prod", "2024-10-21", 1, msg,
                         sizeof(msg)), 0);
    {
        struct fix f;
        struct http_req h;

        ASSERT(fix_init(&f, &provider_azure, "{\"messages\":[]}", 0));
        f.d.api_base = NULL;
        http_req_init(&h);
        ASSERT_EQ(provider_azure.build(&f.pc, &h), LLMUX_EBADREQ);
        ASSERT(strstr(f.pc.err.message, "AZURE_API_BASE") != NULL);
        http_req_free(&h);
        fix_free(&f);
    }
}

/* ------------------------------------------------------------------------
 * The OpenAI samples: azure must read them exactly as openai does.
 */

static int parse_with(const struct provider *prov, const char *body,
                      size_t n, json_t **ret, json_t **ret_usage)
{
    struct fix f;
    struct http_resp r = { 200, body, n, -1 };
    int rc;

    fix_init(&f, prov, NULL, 0);
    rc = prov->parse(&f.pc, &r, ret);
    *ret_usage = json_incref(f.pc.usage);
    fix_free(&f);
    return rc;
}

static int parse_same(const char *rel, json_t **ret)
{
    size_t n;
    char *p = test_read_file(conformance_path(rel), &n);
    json_t *a = NULL, *b = NULL, *ua = NULL, *ub = NULL;
    int ok;

    if (p == NULL)
        return 0;
    ok = parse_with(&provider_azure, p, n, &a, &ua) == 0 &&
         parse_with(&provider_openai, p, n, &b, &ub) == 0 &&
         json_equal(a, b) && same(ua, ub) &&
         json_equal(ua, json_object_get(a, "usage"));
    free(p);
    json_decref(b);
    json_decref(ua);
    json_decref(ub);
    *ret = a;
    return ok;
}

TEST(azure_parse_openai_samples)
{
    json_t *c = NULL, *ch, *tc;

    ASSERT(parse_same("providers/openai/nonstream_text.json", &c));
    ch = json_array_get(json_object_get(c, "choices"), 0);
    ASSERT_STR_EQ(sget(ch, "message.content"), "I'm unable to provide "
                  "real-time weather updates. To get the current weather in "
                  "San Francisco, I recommend checking a reliable weather "
                  "website or app like the Weather Channel or a local news "
                  "station.");
    ASSERT_STR_EQ(sget(ch, "finish_reason"), "stop");
    ASSERT_EQ(iget(c, "usage.prompt_tokens"), 14);
    ASSERT_EQ(iget(c, "usage.completion_tokens"), 37);
    ASSERT_EQ(iget(c, "usage.total_tokens"), 51);
    json_decref(c);
    c = NULL;
    ASSERT(parse_same("providers/openai/nonstream_tool_call.json", &c));
    ch = json_array_get(json_object_get(c, "choices"), 0);
    ASSERT_STR_EQ(sget(ch, "finish_reason"), "tool_calls");
    tc = json_array_get(json_object_get(json_object_get(ch, "message"),
                                        "tool_calls"), 0);
    ASSERT_STR_EQ(sget(tc, "id"), "call_Y6qJ7ofLgOrBnMD5WbVAeiRV");
    ASSERT_STR_EQ(sget(tc, "function.name"), "GetWeatherArgs");
    ASSERT_STR_EQ(sget(tc, "function.arguments"),
                  "{\"city\":\"Edinburgh\",\"country\":\"UK\","
                  "\"units\":\"c\"}");
    ASSERT_EQ(iget(c, "usage.total_tokens"), 100);
    json_decref(c);
}

TEST(azure_parse_content_filter_finish)
{
    /* A 200 whose answer the filter cut: the finish reason passes. */
    const char *s = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\","
        "\"created\":1,\"model\":\"gpt-4o\",\"prompt_filter_results\":[{"
        "\"prompt_index\":0,\"content_filter_results\":{}}],\"choices\":[{"
        "\"index\":0,\"finish_reason\":\"content_filter\",\"message\":{"
        "\"role\":\"assistant\",\"content\":null},\"content_filter_results\":"
        "{\"violence\":{\"filtered\":true,\"severity\":\"high\"}}}],"
        "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":0,"
        "\"total_tokens\":5}}";
    json_t *c = NULL, *u = NULL;

    ASSERT_EQ(parse_with(&provider_azure, s, strlen(s), &c, &u), 0);
    ASSERT_STR_EQ(sget(json_array_get(json_object_get(c, "choices"), 0),
                       "finish_reason"), "content_filter");
    ASSERT_EQ(iget(u, "total_tokens"), 5);
    json_decref(c);
    json_decref(u);
}

struct run {
    json_t *chunks;
    json_t *usage;
    int     rc;
};

static void run_free(struct run *r)
{
    json_decref(r->chunks);
    json_decref(r->usage);
}

/* Feeds p split at split, then in steps of step (0: the rest at once). */
static void run_stream(const struct provider *prov, const char *p, size_t n,
                       size_t split, size_t step, struct run *out)
{
    struct fix f;
    size_t i = 0;
    int rc = 0;

    fix_init(&f, prov, NULL, 1);
    if (split) {
        rc = prov->stream_feed(&f.pc, p, split);
        i = split;
    }
    while (rc == 0 && i < n) {
        size_t len = step ? (n - i < step ? n - i : step) : n - i;

        rc = prov->stream_feed(&f.pc, p + i, len);
        i += len;
    }
    if (rc == 0)
        rc = prov->stream_end(&f.pc);
    out->rc = rc;
    out->chunks = json_incref(f.chunks);
    out->usage = json_incref(f.pc.usage);
    fix_free(&f);
}

/* The text of choice 0, and the arguments of tool call ix joined. */
static void joined(const json_t *chunks, struct buf *text, int ix,
                   struct buf *args, const char **ret_finish)
{
    json_t *ch;
    size_t i;

    *ret_finish = NULL;
    json_array_foreach(chunks, i, ch) {
        json_t *c = json_array_get(json_object_get(ch, "choices"), 0), *tc;
        json_t *d = json_object_get(c, "delta");
        size_t k;

        if (json_integer_value(json_object_get(c, "index")) != 0)
            continue;
        if (sget(d, "content"))
            buf_adds(text, sget(d, "content"));
        json_array_foreach(json_object_get(d, "tool_calls"), k, tc)
            if (json_integer_value(json_object_get(tc, "index")) == ix &&
                sget(tc, "function.arguments"))
                buf_adds(args, sget(tc, "function.arguments"));
        if (sget(c, "finish_reason"))
            *ret_finish = sget(c, "finish_reason");
    }
}

/* Azure and OpenAI agree on the whole stream, and Azure agrees with itself
 * split in two at every stride-th byte (1: every byte) and fed byte by
 * byte. */
static int stream_same(const char *p, size_t n, size_t stride,
                       struct run *ret)
{
    struct run a, b;
    int ok;

    run_stream(&provider_azure, p, n, 0, 0, &a);
    run_stream(&provider_openai, p, n, 0, 0, &b);
    ok = a.rc == 0 && b.rc == 0 && json_equal(a.chunks, b.chunks) &&
         same(a.usage, b.usage);
    run_free(&b);
    for (size_t k = 1; ok && k < n; k += stride) {
        run_stream(&provider_azure, p, n, k, 0, &b);
        ok = b.rc == 0 && json_equal(a.chunks, b.chunks) &&
             same(a.usage, b.usage);
        if (!ok)
            fprintf(stderr, "  split at %zu differs\n", k);
        run_free(&b);
    }
    if (ok) {
        run_stream(&provider_azure, p, n, 0, 1, &b);
        ok = b.rc == 0 && json_equal(a.chunks, b.chunks) &&
             same(a.usage, b.usage);
        run_free(&b);
    }
    *ret = a;
    return ok;
}

static char *load(const char *rel, size_t *n)
{
    return test_read_file(conformance_path(rel), n);
}

TEST(azure_stream_openai_text)
{
    size_t n;
    char *p = load("providers/openai/stream_text.sse", &n);
    struct buf text, args;
    const char *finish;
    struct run r;

    ASSERT(p != NULL);
    ASSERT(stream_same(p, n, 7, &r));
    buf_init(&text, 1 << 20);
    buf_init(&args, 1 << 20);
    joined(r.chunks, &text, 0, &args, &finish);
    ASSERT_STR_EQ(text.p, "I'm unable to provide real-time weather updates. "
                  "To get the current weather in San Francisco, I recommend "
                  "checking a reliable weather website or a weather app.");
    ASSERT_STR_EQ(finish, "stop");
    /* The usage-only chunk is taken, not passed on. */
    for (size_t i = 0; i < json_array_size(r.chunks); i++)
        ASSERT(json_array_size(json_object_get(json_array_get(r.chunks, i),
                                               "choices")) > 0);
    ASSERT_EQ(iget(r.usage, "prompt_tokens"), 14);
    ASSERT_EQ(iget(r.usage, "completion_tokens"), 30);
    ASSERT_EQ(iget(r.usage, "total_tokens"), 44);
    buf_free(&text);
    buf_free(&args);
    run_free(&r);
    free(p);
}

TEST(azure_stream_openai_tool_calls)
{
    size_t n;
    char *p = load("providers/openai/stream_tool_call.sse", &n);
    struct buf text, args;
    const char *finish;
    struct run r;
    json_t *a;

    ASSERT(p != NULL);
    ASSERT(stream_same(p, n, 1, &r));
    buf_init(&text, 1 << 20);
    buf_init(&args, 1 << 20);
    joined(r.chunks, &text, 0, &args, &finish);
    a = json_loads(args.p, 0, NULL);
    ASSERT_STR_EQ(sget(a, "city"), "New York City");
    json_decref(a);
    ASSERT_STR_EQ(finish, "tool_calls");
    ASSERT_EQ(iget(r.usage, "total_tokens"), 60);
    buf_free(&text);
    buf_free(&args);
    run_free(&r);
    free(p);

    p = load("providers/openai/stream_parallel_tool_calls.sse", &n);
    ASSERT(p != NULL);
    ASSERT(stream_same(p, n, 5, &r));
    buf_init(&text, 1 << 20);
    buf_init(&args, 1 << 20);
    joined(r.chunks, &text, 1, &args, &finish);
    a = json_loads(args.p, 0, NULL);
    ASSERT_STR_EQ(sget(a, "ticker"), "AAPL");
    json_decref(a);
    ASSERT_STR_EQ(finish, "tool_calls");
    ASSERT_EQ(iget(r.usage, "total_tokens"), 209);
    buf_free(&text);
    buf_free(&args);
    run_free(&r);
    free(p);
}

TEST(azure_stream_openai_n3)
{
    size_t n;
    char *p = load("providers/openai/stream_n3_multiple_choices.sse", &n);
    struct run r;

    ASSERT(p != NULL);
    ASSERT(stream_same(p, n, 11, &r));
    ASSERT_EQ(iget(r.usage, "total_tokens"), 121);
    run_free(&r);
    free(p);
}

TEST(azure_stream_prompt_filter_results)
{
    /* Azure opens with a chunk of prompt_filter_results and no choices,
     * and annotates the rest with content_filter_results. */
    const char *s =
        "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\","
        "\"object\":\"\",\"prompt_filter_results\":[{\"prompt_index\":0,"
        "\"content_filter_results\":{\"hate\":{\"filtered\":false,"
        "\"severity\":\"safe\"}}}]}\n\n"
        "data: {\"choices\":[{\"content_filter_results\":{},\"delta\":"
        "{\"content\":\"\",\"role\":\"assistant\"},\"finish_reason\":null,"
        "\"index\":0}],\"created\":1,\"id\":\"chatcmpl-9\",\"model\":"
        "\"gpt-4o\",\"object\":\"chat.completion.chunk\"}\n\n"
        "data: {\"choices\":[{\"content_filter_results\":{\"hate\":"
        "{\"filtered\":false,\"severity\":\"safe\"}},\"delta\":{\"content\":"
        "\"Hello\"},\"finish_reason\":null,\"index\":0}],\"created\":1,"
        "\"id\":\"chatcmpl-9\",\"model\":\"gpt-4o\",\"object\":"
        "\"chat.completion.chunk\"}\n\n"
        "data: {\"choices\":[{\"content_filter_results\":{},\"delta\":{},"
        "\"finish_reason\":\"stop\",\"index\":0}],\"created\":1,\"id\":"
        "\"chatcmpl-9\",\"model\":\"gpt-4o\",\"object\":"
        "\"chat.completion.chunk\"}\n\n"
        "data: {\"choices\":[],\"created\":1,\"id\":\"chatcmpl-9\",\"model\":"
        "\"gpt-4o\",\"object\":\"chat.completion.chunk\",\"usage\":{"
        "\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}"
        "\n\ndata: [DONE]\n\n";
    struct buf text, args;
    const char *finish;
    struct run r;

    ASSERT(stream_same(s, strlen(s), 1, &r));
    ASSERT_EQ(json_array_size(r.chunks), 3);
    buf_init(&text, 1 << 20);
    buf_init(&args, 1 << 20);
    joined(r.chunks, &text, 0, &args, &finish);
    ASSERT_STR_EQ(text.p, "Hello");
    ASSERT_STR_EQ(finish, "stop");
    ASSERT_EQ(iget(r.usage, "total_tokens"), 10);
    buf_free(&text);
    buf_free(&args);
    run_free(&r);
}

/* ------------------------------------------------------------------------
 * Errors: the OpenAI samples, then Azure's own bodies (content filter
 * from the Azure OpenAI docs' error shape; 429 wording as Azure sends).
 */

static int map(long status, const char *body, double retry_after,
               struct perr *ret)
{
    struct fix f;
    struct http_resp r = { status, body, strlen(body), retry_after };
    int code;

    fix_init(&f, &provider_azure, NULL, 0);
    code = provider_azure.map_error(&f.pc, &r);
    *ret = f.pc.err;
    fix_free(&f);
    return code;
}

static int map_file(long status, const char *rel, double retry_after,
                    struct perr *ret)
{
    size_t n;
    char *p = test_read_file(conformance_path(rel), &n);
    int code;

    if (p == NULL)
        return 0;
    code = map(status, p, retry_after, ret);
    free(p);
    return code;
}

TEST(azure_map_errors)
{
    struct perr e;

    ASSERT_EQ(map_file(401, "providers/openai/error_401_invalid_api_key.json",
                       -1, &e), LLMUX_EAUTH);
    ASSERT(strncmp(e.message, "azure: Incorrect API key", 24) == 0);
    ASSERT(strstr(e.message, "sk-svcac") == NULL);
    ASSERT_EQ(map_file(400,
                       "providers/openai/error_400_context_length_exceeded"
                       ".json", -1, &e), LLMUX_ECONTEXT);
    ASSERT_EQ(map_file(429,
                       "providers/openai/error_429_rate_limit_exceeded.json",
                       7, &e), LLMUX_ERATELIMIT);
    ASSERT(e.retry_after == 7);
    /* Without a header, the wait in the words. */
    ASSERT_EQ(map_file(429,
                       "providers/openai/error_429_rate_limit_exceeded.json",
                       -1, &e), LLMUX_ERATELIMIT);
    ASSERT(e.retry_after > 26.6 && e.retry_after < 26.61);
    ASSERT_EQ(map(429, "{\"error\":{\"code\":\"429\",\"message\":\"Requests "
                  "to the ChatCompletions_Create Operation under Azure OpenAI "
                  "API version 2024-10-21 have exceeded token rate limit of "
                  "your current OpenAI S0 pricing tier. Please retry after 6 "
                  "seconds.\"}}", -1, &e), LLMUX_ERATELIMIT);
    ASSERT(e.retry_after == 6);
    ASSERT_EQ(map(400, "{\"error\":{\"message\":\"The response was filtered "
                  "due to the prompt triggering Azure OpenAI's content "
                  "management policy. Please modify your prompt and retry."
                  "\",\"type\":null,\"param\":\"prompt\",\"code\":"
                  "\"content_filter\",\"status\":400,\"innererror\":{\"code\":"
                  "\"ResponsibleAIPolicyViolation\",\"content_filter_result\":"
                  "{\"hate\":{\"filtered\":true,\"severity\":\"high\"}}}}}", -1,
                  &e), LLMUX_EPOLICY);
    ASSERT(strstr(e.message, "content_filter") != NULL);
    ASSERT_EQ(map(404, "{\"error\":{\"code\":\"DeploymentNotFound\","
                  "\"message\":\"The API deployment for this resource does not "
                  "exist.\"}}", -1, &e), LLMUX_ENOTFOUND);
    ASSERT_EQ(map(500, "not json", -1, &e), LLMUX_EUNAVAIL);
}
