/* test-vertex.c -- the Vertex AI dialect (daemon/providers/vertex.c):
 * golden requests for Gemini and Anthropic models on regional and global
 * endpoints (URL, exact headers with the Bearer token, body), answers
 * read by the publisher's own translation, and unusable credentials
 * refused with EAUTH before anything is built. */
#include "test.h"
#include "adapter-harness.h"
#include "providers/vertex.h"
#include "secret.h"

#include <jansson.h>

static struct vertex_dep regional = {
    .project = (char *)"proj-1", .location = (char *)"europe-west4" };
static struct vertex_dep global = {
    .project = (char *)"proj-1", .location = (char *)"global" };
static struct vertex_dep broken = {
    .project = (char *)"proj-1", .location = (char *)"us-central1",
    .error = (char *)"vertex_credentials of \"m\": cannot open the "
             "service-account file /nope.json: No such file or directory" };

static struct secret *token;

static void setup(struct ah *f, struct vertex_dep *v)
{
    token = secret_new("ya29.test-token", 15);
    f->dep.vertex = v;
    f->pc.bearer = token;
}
static void setup_regional(struct ah *f) { setup(f, &regional); }
static void setup_global(struct ah *f) { setup(f, &global); }
static void setup_broken(struct ah *f) { setup(f, &broken); }
static void teardown(struct ah *f)
{
    (void)f;
    token = secret_free(token);
}

static const char *const headers[] = {
    "Content-Type: application/json",
    "Authorization: Bearer ya29.test-token", NULL,
};
static const char *const claude_stream_headers[] = {
    "Content-Type: application/json", "Accept: text/event-stream",
    "Authorization: Bearer ya29.test-token", NULL,
};

static const struct ah_target gemini_eu = {
    .prov = &provider_vertex, .preset = "vertex_ai",
    .model = "gemini-2.5-flash", .headers = headers,
    .setup = setup_regional, .teardown = teardown,
};
static const struct ah_target gemini_global = {
    .prov = &provider_vertex, .preset = "vertex_ai",
    .model = "gemini-2.5-pro", .headers = headers,
    .setup = setup_global, .teardown = teardown,
};
static const struct ah_target claude = {
    .prov = &provider_vertex_anthropic, .preset = "vertex_ai",
    .model = "claude-sonnet-4-5@20250929", .headers = headers,
    .stream_headers = claude_stream_headers,
    .setup = setup_regional, .teardown = teardown,
};
static const struct ah_target claude_broken = {
    .prov = &provider_vertex_anthropic, .preset = "vertex_ai",
    .model = "claude-sonnet-4-5", .headers = headers,
    .setup = setup_broken, .teardown = teardown,
};

#define EU "https://europe-west4-aiplatform.googleapis.com/v1/projects/" \
           "proj-1/locations/europe-west4/publishers/"
#define GLOBAL "https://aiplatform.googleapis.com/v1/projects/proj-1/" \
               "locations/global/publishers/google/models/"
#define HI "'messages':[{'role':'user','content':'Hi'}]"

TEST(vertex_gemini_regional_and_stream)
{
    ASSERT(ah_golden(&gemini_eu, "{'temperature':0.5," HI "}", 0, 0,
        EU "google/models/gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}],"
        "'generationConfig':{'temperature':0.5}}"));
    ASSERT(ah_golden(&gemini_eu, "{'stream':true," HI "}", 1, 0,
        EU "google/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
}

TEST(vertex_gemini_global_endpoint)
{
    /* global has no region in the host. */
    ASSERT(ah_golden(&gemini_global, "{" HI "}", 0, 0,
        GLOBAL "gemini-2.5-pro:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
}

TEST(vertex_claude_raw_predict_body)
{
    /* The model is in the URL (its @version too), the API version in
     * the body. */
    ASSERT(ah_golden(&claude, "{'max_tokens':50," HI "}", 0, 0,
        EU "anthropic/models/claude-sonnet-4-5@20250929:rawPredict",
        "{'anthropic_version':'vertex-2023-10-16','max_tokens':50,"
        "'messages':[{'role':'user','content':[{'type':'text','text':"
        "'Hi'}]}]}"));
    ASSERT(ah_golden(&claude, "{'stream':true," HI "}", 1, 0,
        EU "anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict",
        "{'anthropic_version':'vertex-2023-10-16','max_tokens':4096,"
        "'stream':true,'messages':[{'role':'user','content':[{'type':"
        "'text','text':'Hi'}]}]}"));
}

TEST(vertex_api_base_overrides_the_host)
{
    struct ah f;

    ASSERT(ah_init(&f, &gemini_global, "{" HI "}", 0));
    f.dep.api_base = (char *)"http://127.0.0.1:9";
    ASSERT(ah_request_is(&f, "http://127.0.0.1:9/v1/projects/proj-1/"
        "locations/global/publishers/google/models/gemini-2.5-pro:"
        "generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
    ah_free(&f);
}

TEST(vertex_answers_read_by_the_publisher)
{
    struct ah f;
    json_t *c = NULL;

    ASSERT(ah_init(&f, &claude, "{" HI "}", 0));
    ASSERT_EQ(ah_parse_text(&f, "{\"id\":\"msg_1\",\"type\":\"message\","
        "\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\","
        "\"content\":[{\"type\":\"text\",\"text\":\"Hello\"}],"
        "\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":3,"
        "\"output_tokens\":1}}", &c), 0);
    ASSERT_STR_EQ(ah_str(c, "choices.0.message.content"), "Hello");
    json_decref(c);
    c = NULL;
    ah_free(&f);
    ASSERT(ah_init(&f, &gemini_eu, "{" HI "}", 0));
    ASSERT_EQ(ah_parse_text(&f, "{\"candidates\":[{\"content\":{\"role\":"
        "\"model\",\"parts\":[{\"text\":\"Hallo\"}]},\"finishReason\":"
        "\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":2,"
        "\"candidatesTokenCount\":1,\"totalTokenCount\":3}}", &c), 0);
    ASSERT_STR_EQ(ah_str(c, "choices.0.message.content"), "Hallo");
    json_decref(c);
    ASSERT_EQ(ah_map_error(&f, 401, "{\"error\":{\"code\":401,\"message\":"
        "\"Request had invalid authentication credentials.\",\"status\":"
        "\"UNAUTHENTICATED\"}}", -1), LLMUX_EAUTH);
    ah_free(&f);
}

TEST(vertex_unusable_credentials_are_eauth)
{
    struct ah f;

    ASSERT(ah_init(&f, &claude_broken, "{" HI "}", 0));
    ASSERT(ah_build_fails(&f, LLMUX_EAUTH, "/nope.json"));
    ah_free(&f);
}

TEST(vertex_without_a_token_builds_nothing)
{
    /* PROV_AUTH_TOKEN: the builder never sends a call without its
     * Bearer (nor falls back to an api_key). */
    struct ah f;

    ASSERT(ah_init(&f, &gemini_eu, "{" HI "}", 0));
    f.pc.bearer = NULL;
    f.dep.api_key = secret_new("sk-unused", 9);   /* freed by ah_free */
    ASSERT(ah_build_fails(&f, LLMUX_EINTERNAL, "no access token"));
    ah_free(&f);
}
