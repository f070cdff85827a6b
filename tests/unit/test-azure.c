/* test-azure.c -- unit tests of the Azure OpenAI adapter
 * (daemon/providers/azure.c): golden deployment URLs, api-version choice,
 * the api-key header and OpenAI bodies; every recorded OpenAI answer
 * replayed through azure's parse and stream hooks, which must give exactly
 * what provider_openai gives (streams also fed byte by byte and split in
 * two at every byte, or every few bytes for the larger recordings, which
 * valgrind would otherwise take minutes over); Azure's own content-filter
 * and rate-limit errors. */
#include "test.h"
#include "adapter-harness.h"
#include "secret.h"

#include <jansson.h>

extern const struct provider provider_azure;

#define BASE "https://myres.openai.azure.com"

/* Azure, and OpenAI itself to compare with (the harness is
 * adapter-harness.h). */
/* The key in api-key, no Authorization. */
static const char *const headers[] = {
    "Content-Type: application/json", "api-key: test-key", NULL,
};
static const char *const stream_headers[] = {
    "Content-Type: application/json", "api-key: test-key",
    "Accept: text/event-stream", NULL,
};

static const struct ah_target azure = {
    .prov = &provider_azure, .preset = "azure", .model = "gpt-4o-prod",
    .api_base = BASE, .key = "test-key", .headers = headers,
    .stream_headers = stream_headers, .seq = 3,
};

static const struct ah_target openai = {
    .prov = &provider_openai, .preset = "openai", .model = "gpt-4o",
    .api_base = "https://api.openai.com/v1", .key = "test-key", .seq = 3,
};

/* ------------------------------------------------------------------------
 * Requests
 */

/* Builds req with the given api_version (NULL: none on the deployment)
 * and checks the URL, the headers and the body. */
static int golden(const char *req, int stream, const char *version,
                  const char *want_url, const char *want_body)
{
    struct ah f;
    int ok = ah_init(&f, &azure, req, stream);

    f.dep.api_version = (char *)version;
    ok = ok && ah_request_is(&f, want_url, want_body);
    ah_free(&f);
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

    /* The OpenAI body passes (llmux's control keys, an api_base or an
     * api_key that must not redirect the key, are stripped before any
     * adapter: the pipeline's tests hold that). */
    env_set(NULL);
    ok = golden(
        "{\"model\":\"azure/gpt-4o-prod\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"user\",\"content\":\"Hi\"}],\"temperature\":0.2,"
        "\"max_tokens\":64,\"tools\":[{\"type\":\"function\",\"function\":"
        "{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}],"
        "\"tool_choice\":\"required\",\"response_format\":{\"type\":"
        "\"json_object\"}}", 0, NULL,
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
    /* $AZURE_API_VERSION is the deployment's api_version, set at load
     * (test-config.c: config_settings_typed_at_load). */
}

TEST(azure_request_o_series)
{
    /* A deployment named for an o-series model gets that model's rules
     * (openai.c): developer messages, max_completion_tokens, temperature
     * 1 only. */
    struct ah_target t = azure;
    int ok;

    t.model = "o3-mini";
    env_set(NULL);
    ok = ah_golden(&t, "{\"messages\":[{\"role\":\"system\",\"content\":"
        "\"S\"},{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":"
        "50,\"reasoning_effort\":\"low\"}", 0, 0,
        BASE "/openai/deployments/o3-mini/chat/completions"
        "?api-version=2024-10-21", "{\"model\":\"o3-mini\",\"messages\":[{\"role\":"
        "\"developer\",\"content\":\"S\"},{\"role\":\"user\","
        "\"content\":\"Hi\"}],\"max_completion_tokens\":50,"
        "\"reasoning_effort\":\"low\"}");
    env_restore();
    ASSERT(ok);
    ASSERT(ah_unsupported(&t, "{\"messages\":[],\"temperature\":0.5}",
                          "temperature"));
}

static int build_code(const char *model, const char *version, int key,
                      char *msg, size_t len)
{
    struct ah f;
    int r = 0;

    if (ah_init(&f, &azure, "{\"messages\":[{\"role\":\"user\","
                "\"content\":\"x\"}]}", 0)) {
        f.dep.upstream_model = (char *)model;
        f.dep.api_version = (char *)version;
        if (!key) {
            secret_free(f.dep.api_key);
            f.dep.api_key = NULL;
        }
        r = ah_build(&f);
    }
    snprintf(msg, len, "%s", f.pc.err.message);
    ah_free(&f);
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
        struct ah f;

        ASSERT(ah_init(&f, &azure, "{\"messages\":[]}", 0));
        f.dep.api_base = NULL;
        ASSERT(ah_build_fails(&f, LLMUX_EBADREQ, "AZURE_API_BASE"));
        ah_free(&f);
    }
}

/* ------------------------------------------------------------------------
 * The OpenAI samples: azure must read them exactly as openai does.
 */

/* body through t's parse: the completion and the usage recorded. */
static int parse_with(const struct ah_target *t, const char *body, size_t n,
                      json_t **ret, json_t **ret_usage)
{
    struct ah f;
    int rc;

    ah_init(&f, t, NULL, 0);
    rc = ah_parse(&f, body, n, ret);
    *ret_usage = json_incref(f.pc.usage);
    ah_free(&f);
    return rc;
}

/* A recorded OpenAI body: azure reads it exactly as openai does, and
 * records the usage it carries. *ret azure's completion. */
static int parse_same(const char *rel, json_t **ret)
{
    size_t n;
    char *p = ah_sample(rel, &n);
    json_t *a = NULL, *b = NULL, *ua = NULL, *ub = NULL;
    int ok;

    if (p == NULL)
        return 0;
    ok = parse_with(&azure, p, n, &a, &ua) == 0 &&
         parse_with(&openai, p, n, &b, &ub) == 0 &&
         ah_same(a, b) && ah_same(ua, ub) &&
         ah_same(ua, json_object_get(a, "usage"));
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
    ASSERT_STR_EQ(ah_str(ch, "message.content"), "I'm unable to provide "
                  "real-time weather updates. To get the current weather in "
                  "San Francisco, I recommend checking a reliable weather "
                  "website or app like the Weather Channel or a local news "
                  "station.");
    ASSERT_STR_EQ(ah_str(ch, "finish_reason"), "stop");
    ASSERT_EQ(ah_int(c, "usage.prompt_tokens"), 14);
    ASSERT_EQ(ah_int(c, "usage.completion_tokens"), 37);
    ASSERT_EQ(ah_int(c, "usage.total_tokens"), 51);
    json_decref(c);
    c = NULL;
    ASSERT(parse_same("providers/openai/nonstream_tool_call.json", &c));
    ch = json_array_get(json_object_get(c, "choices"), 0);
    ASSERT_STR_EQ(ah_str(ch, "finish_reason"), "tool_calls");
    tc = json_array_get(json_object_get(json_object_get(ch, "message"),
                                        "tool_calls"), 0);
    ASSERT_STR_EQ(ah_str(tc, "id"), "call_Y6qJ7ofLgOrBnMD5WbVAeiRV");
    ASSERT_STR_EQ(ah_str(tc, "function.name"), "GetWeatherArgs");
    ASSERT_STR_EQ(ah_str(tc, "function.arguments"),
                  "{\"city\":\"Edinburgh\",\"country\":\"UK\","
                  "\"units\":\"c\"}");
    ASSERT_EQ(ah_int(c, "usage.total_tokens"), 100);
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

    ASSERT_EQ(parse_with(&azure, s, strlen(s), &c, &u), 0);
    ASSERT_STR_EQ(ah_str(json_array_get(json_object_get(c, "choices"), 0),
                       "finish_reason"), "content_filter");
    ASSERT_EQ(ah_int(u, "total_tokens"), 5);
    json_decref(c);
    json_decref(u);
}

/* Azure and OpenAI agree on the whole stream, chunk for chunk, and Azure
 * agrees with itself split in two at every stride-th byte (1: every
 * byte) and fed byte by byte (ah_replay_all). Returns Azure's replay, or
 * NULL. */
static json_t *stream_same(const char *p, size_t n, size_t stride)
{
    json_t *a = ah_replay_all(&azure, NULL, p, n, stride);
    json_t *b = ah_replay_whole(&openai, NULL, p, n);
    int ok = a && b && ah_int(a, "rc") == 0 && ah_int(b, "rc") == 0 &&
             ah_same(ah_get(a, "chunks"), ah_get(b, "chunks")) &&
             ah_same(ah_get(a, "usage"), ah_get(b, "usage"));

    json_decref(b);
    if (!ok) {
        json_decref(a);
        return NULL;
    }
    return a;
}

TEST(azure_stream_openai_text)
{
    size_t n;
    char *p = ah_sample("providers/openai/stream_text.sse", &n);
    json_t *w;

    ASSERT(p != NULL);
    ASSERT((w = stream_same(p, n, 7)) != NULL);
    ASSERT_STR_EQ(ah_str(w, "content"), "I'm unable to provide real-time "
                  "weather updates. To get the current weather in San "
                  "Francisco, I recommend checking a reliable weather "
                  "website or a weather app.");
    ASSERT_STR_EQ(ah_str(w, "finish"), "stop");
    /* The usage-only chunk is taken, not passed on. */
    for (size_t i = 0; i < json_array_size(ah_get(w, "chunks")); i++)
        ASSERT(json_array_size(json_object_get(json_array_get(ah_get(w,
               "chunks"), i), "choices")) > 0);
    ASSERT_EQ(ah_int(w, "usage.prompt_tokens"), 14);
    ASSERT_EQ(ah_int(w, "usage.completion_tokens"), 30);
    ASSERT_EQ(ah_int(w, "usage.total_tokens"), 44);
    json_decref(w);
    free(p);
}

TEST(azure_stream_openai_tool_calls)
{
    size_t n;
    char *p = ah_sample("providers/openai/stream_tool_call.sse", &n);
    json_t *w, *a;

    ASSERT(p != NULL);
    ASSERT((w = stream_same(p, n, 1)) != NULL);
    a = ah_tool_args(w, 0);
    ASSERT_STR_EQ(ah_str(a, "city"), "New York City");
    json_decref(a);
    ASSERT_STR_EQ(ah_str(w, "finish"), "tool_calls");
    ASSERT_EQ(ah_int(w, "usage.total_tokens"), 60);
    json_decref(w);
    free(p);

    p = ah_sample("providers/openai/stream_parallel_tool_calls.sse", &n);
    ASSERT(p != NULL);
    ASSERT((w = stream_same(p, n, 5)) != NULL);
    a = ah_tool_args(w, 1);
    ASSERT_STR_EQ(ah_str(a, "ticker"), "AAPL");
    json_decref(a);
    ASSERT_STR_EQ(ah_str(w, "finish"), "tool_calls");
    ASSERT_EQ(ah_int(w, "usage.total_tokens"), 209);
    json_decref(w);
    free(p);
}

TEST(azure_stream_openai_n3)
{
    size_t n;
    char *p = ah_sample("providers/openai/stream_n3_multiple_choices.sse",
                        &n);
    json_t *w;

    ASSERT(p != NULL);
    ASSERT((w = stream_same(p, n, 11)) != NULL);
    ASSERT_EQ(ah_int(w, "usage.total_tokens"), 121);
    json_decref(w);
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
    json_t *w;

    ASSERT((w = stream_same(s, strlen(s), 1)) != NULL);
    ASSERT_EQ(json_array_size(ah_get(w, "chunks")), 3);
    ASSERT_STR_EQ(ah_str(w, "content"), "Hello");
    ASSERT_STR_EQ(ah_str(w, "finish"), "stop");
    ASSERT_EQ(ah_int(w, "usage.total_tokens"), 10);
    json_decref(w);
}

/* ------------------------------------------------------------------------
 * Errors: the OpenAI samples, then Azure's own bodies (content filter
 * from the Azure OpenAI docs' error shape; 429 wording as Azure sends).
 */

/* A recorded error body through azure's map_error. */
static int map_file(long status, const char *rel, double retry_after,
                    struct perr *ret)
{
    size_t n;
    char *p = ah_sample(rel, &n);
    int code;

    if (p == NULL)
        return 0;
    code = ah_try_map(&azure, status, p, retry_after, ret);
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
    ASSERT_EQ(ah_try_map(&azure, 429, "{\"error\":{\"code\":\"429\","
                  "\"message\":\"Requests to the ChatCompletions_Create "
                  "Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of "
                  "your current OpenAI S0 pricing tier. Please retry after 6 "
                  "seconds.\"}}", -1, &e), LLMUX_ERATELIMIT);
    ASSERT(e.retry_after == 6);
    ASSERT_EQ(ah_try_map(&azure, 400, "{\"error\":{\"message\":\"The "
                  "response was filtered due to the prompt triggering Azure "
                  "OpenAI's content management policy. Please modify your prompt and retry."
                  "\",\"type\":null,\"param\":\"prompt\",\"code\":"
                  "\"content_filter\",\"status\":400,\"innererror\":{\"code\":"
                  "\"ResponsibleAIPolicyViolation\",\"content_filter_result\":"
                  "{\"hate\":{\"filtered\":true,\"severity\":\"high\"}}}}}", -1,
                  &e), LLMUX_EPOLICY);
    ASSERT(strstr(e.message, "content_filter") != NULL);
    ASSERT_EQ(ah_try_map(&azure, 404, "{\"error\":{\"code\":"
                  "\"DeploymentNotFound\","
                  "\"message\":\"The API deployment for this resource does not"
                  " "
                  "exist.\"}}", -1, &e), LLMUX_ENOTFOUND);
    ASSERT_EQ(ah_try_map(&azure, 500, "not json", -1, &e), LLMUX_EUNAVAIL);
}
