/* test-bedrock.c -- unit tests of the Bedrock Converse adapter
 * (daemon/providers/bedrock.c): golden requests (URL, SigV4 headers,
 * bodies compared as JSON), the recorded Converse bodies through parse, the
 * recorded ConverseStream events encoded as real event-stream frames and
 * fed whole, split at every byte and byte by byte, in-stream exceptions,
 * and error bodies through map_error. */
#include "test.h"
#include "adapter-harness.h"

#include "eventstream.h"
#include "secret.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <time.h>

extern const struct provider provider_bedrock;
void bedrock_test_set_time(time_t t);

#define CLAUDE  "anthropic.claude-3-5-sonnet-20240620-v1:0"
#define AK      "AKIDEXAMPLE"
#define SK      "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

/* ---- fixtures ----------------------------------------------------------- */

static int refuse(void *ud, json_t *chunk)
{
    (void)ud;
    json_decref(chunk);
    return -1;
}

static void aws_env(const char *token)
{
    setenv("AWS_ACCESS_KEY_ID", AK, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SK, 1);
    if (token)
        setenv("AWS_SESSION_TOKEN", token, 1);
    else
        unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
}

static void aws_env_clear(void)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
}

static struct secret *env_secret(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? secret_new(v, strlen(v)) : NULL;
}

/* Region us-west-2, and as config.c does at load: the AWS_* variables
 * become the deployment's keys. */
static void bedrock_setup(struct ah *f)
{
    f->dep.params = json_pack("{s:s}", "aws_region_name", "us-west-2");
    f->dep.aws_region = (char *)"us-west-2";   /* config.c: from params */
    f->dep.aws_access_key = env_secret("AWS_ACCESS_KEY_ID");
    f->dep.aws_secret_key = env_secret("AWS_SECRET_ACCESS_KEY");
    f->dep.aws_session_token = env_secret("AWS_SESSION_TOKEN");
}

static void bedrock_teardown(struct ah *f)
{
    json_decref(f->dep.params);
    secret_free(f->dep.aws_access_key);
    secret_free(f->dep.aws_secret_key);
    secret_free(f->dep.aws_session_token);
}

/* The harness's target (adapter-harness.h); tests vary the model. */
static const struct ah_target bedrock = {
    .prov = &provider_bedrock, .preset = "bedrock", .model = CLAUDE,
    .seq = 7, .setup = bedrock_setup, .teardown = bedrock_teardown,
};

/* A deployment of model, and a request (JSON text, NULL: {}). */
static void fx_init(struct ah *f, const char *model, const char *req,
                    int stream)
{
    if (!ah_init(f, &bedrock, req, stream))
        abort();
    f->dep.upstream_model = (char *)model;
}

/* The value of header name in h, or NULL. */
static const char *header(const struct http_req *h, const char *name)
{
    const char *line = ah_header(h, name);
    size_t n = strlen(name);

    return line ? line + n + 1 + (line[n + 1] == ' ') : NULL;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256(p, n, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- golden requests ---------------------------------------------------- */

TEST(bedrock_build_text_signed)
{
    struct ah f;
    char hash[65], cred[256], date[9];
    const char *a;

    aws_env(NULL);
    fx_init(&f, CLAUDE,
        "{\"model\":\"x\",\"messages\":["
        "{\"role\":\"system\",\"content\":\"Be brief.\"},"
        "{\"role\":\"developer\",\"content\":[{\"type\":\"text\","
        "\"text\":\"Answer in French.\"}]},"
        "{\"role\":\"user\",\"content\":\"Hi\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"there\"}]},"
        "{\"role\":\"assistant\",\"content\":\"Bonjour\"},"
        "{\"role\":\"assistant\",\"content\":\"!\"},"
        "{\"role\":\"user\",\"content\":\"Again\"}],"
        "\"max_tokens\":300,\"temperature\":0.5,\"top_p\":0.9,"
        "\"stop\":\"END\",\"user\":\"u1\",\"n\":1}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT_STR_EQ(f.h.url.p, "https://bedrock-runtime.us-west-2.amazonaws"
                  ".com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0"
                  "/converse");
    ASSERT(ah_body_is(&f,
        "{\"messages\":["
        "{\"role\":\"user\",\"content\":[{\"text\":\"Hi\"},"
        "{\"text\":\"there\"}]},"
        "{\"role\":\"assistant\",\"content\":[{\"text\":\"Bonjour\"},"
        "{\"text\":\"!\"}]},"
        "{\"role\":\"user\",\"content\":[{\"text\":\"Again\"}]}],"
        "\"system\":[{\"text\":\"Be brief.\"},"
        "{\"text\":\"Answer in French.\"}],"
        "\"inferenceConfig\":{\"maxTokens\":300,\"temperature\":0.5,"
        "\"topP\":0.9,\"stopSequences\":[\"END\"]}}"));
    ASSERT_STR_EQ(header(&f.h, "Content-Type"), "application/json");
    ASSERT_STR_EQ(header(&f.h, "Accept"), "application/json");
    ASSERT_STR_EQ(header(&f.h, "Host"),
                  "bedrock-runtime.us-west-2.amazonaws.com");
    ASSERT(header(&f.h, "X-Amz-Date") != NULL);
    ASSERT_EQ(strlen(header(&f.h, "X-Amz-Date")), 16);
    ASSERT(header(&f.h, "X-Amz-Security-Token") == NULL);
    sha256_hex(f.h.body.p, f.h.body.len, hash);
    ASSERT_STR_EQ(header(&f.h, "X-Amz-Content-Sha256"), hash);
    a = header(&f.h, "Authorization");
    ASSERT(a != NULL);
    memcpy(date, header(&f.h, "X-Amz-Date"), 8);
    date[8] = '\0';
    snprintf(cred, sizeof(cred), "AWS4-HMAC-SHA256 Credential=" AK
             "/%s/us-west-2/bedrock/aws4_request, SignedHeaders=accept;"
             "content-type;host;x-amz-content-sha256;x-amz-date, "
             "Signature=", date);
    ASSERT(strncmp(a, cred, strlen(cred)) == 0);
    ASSERT_EQ(strlen(a), strlen(cred) + 64);
    ASSERT_EQ(ah_nheaders(&f.h), 6);
    /* The secret key never shows up anywhere. */
    for (struct curl_slist *s = f.h.headers; s; s = s->next)
        ASSERT(strstr(s->data, SK) == NULL);
    ASSERT(strstr(f.h.url.p, AK) == NULL);
    ah_free(&f);
    aws_env_clear();
}

TEST(bedrock_build_stream_session_token)
{
    struct ah f;
    const char *a;

    aws_env("FQoGZXIvYXdzEXAMPLETOKEN");
    fx_init(&f, CLAUDE, "{\"messages\":[{\"role\":\"user\","
            "\"content\":\"Hi\"}],\"stream\":true,"
            "\"stream_options\":{\"include_usage\":true}}", 1);
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT_STR_EQ(f.h.url.p, "https://bedrock-runtime.us-west-2.amazonaws"
                  ".com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0"
                  "/converse-stream");
    ASSERT(ah_body_is(&f, "{\"messages\":[{\"role\":\"user\",\"content\":"
                   "[{\"text\":\"Hi\"}]}]}"));
    ASSERT_STR_EQ(header(&f.h, "Accept"),
                  "application/vnd.amazon.eventstream");
    ASSERT_STR_EQ(header(&f.h, "X-Amz-Security-Token"),
                  "FQoGZXIvYXdzEXAMPLETOKEN");
    ASSERT_EQ(ah_nheaders(&f.h), 7);
    a = header(&f.h, "Authorization");
    ASSERT(a && strstr(a, "SignedHeaders=accept;content-type;host;"
                       "x-amz-content-sha256;x-amz-date;"
                       "x-amz-security-token, Signature=") != NULL);
    ah_free(&f);
    aws_env_clear();
}

/* The Authorization header at a fixed time, against botocore 1.43.11
 * (an implementation independent of sigv4.c), computed with:
 *   r = AWSRequest('POST', URL, data=BODY, headers={'Host': HOST,
 *       'Content-Type': 'application/json', 'Accept': 'application/json',
 *       'X-Amz-Content-SHA256': sha256(BODY).hexdigest()})
 *   with mock.patch.object(botocore.auth, 'get_current_datetime',
 *                          return_value=datetime(2015, 8, 30, 12, 36)):
 *       SigV4Auth(Credentials(AK, SK), 'bedrock', 'us-east-1').add_auth(r)
 * botocore, too, signs the path with the id encoded twice (%253A). */
#define BOTOCORE_PAYLOAD_HASH \
    "a70104911e71b59bfbdea1cc07d6b598b7013d3a263546af5dc9e53f8f57c8f1"
#define BOTOCORE_AUTHORIZATION \
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/" \
    "aws4_request, SignedHeaders=accept;content-type;host;" \
    "x-amz-content-sha256;x-amz-date, Signature=" \
    "ef29388de4dc49d43c89006f8c08f17a9025ef90aa53834301009be2ba05b86b"
TEST(bedrock_sign_fixed_time_matches_botocore)
{
    static const char body[] = "{\"messages\":[{\"role\":\"user\","
        "\"content\":[{\"text\":\"Hello\"}]}],\"inferenceConfig\":"
        "{\"maxTokens\":100}}";
    struct ah f;

    aws_env(NULL);
    fx_init(&f, CLAUDE, "{\"model\":\"c\",\"messages\":[{\"role\":\"user\","
            "\"content\":\"Hello\"}],\"max_tokens\":100}", 0);
    f.dep.aws_region = (char *)"us-east-1";
    bedrock_test_set_time(1440938160);      /* 2015-08-30T12:36:00Z */
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    bedrock_test_set_time(0);
    ASSERT_STR_EQ(f.h.body.p, body);
    ASSERT_STR_EQ(f.h.url.p, "https://bedrock-runtime.us-east-1.amazonaws"
                  ".com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0"
                  "/converse");
    ASSERT_STR_EQ(header(&f.h, "X-Amz-Date"), "20150830T123600Z");
    ASSERT_STR_EQ(header(&f.h, "X-Amz-Content-Sha256"),
                  BOTOCORE_PAYLOAD_HASH);
    ASSERT_STR_EQ(header(&f.h, "Authorization"), BOTOCORE_AUTHORIZATION);
    ah_free(&f);
    aws_env_clear();
}

TEST(bedrock_build_images)
{
    struct ah f;

    aws_env(NULL);
    fx_init(&f, CLAUDE, "{\"messages\":[{\"role\":\"user\",\"content\":["
            "{\"type\":\"text\",\"text\":\"What is this?\"},"
            "{\"type\":\"image_url\",\"image_url\":{\"url\":"
            "\"data:image/png;base64,iVBORw0KGgo=\"}},"
            "{\"type\":\"image_url\",\"image_url\":"
            "\"data:image/jpg;base64,/9j/4AAQ\"}]}]}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT(ah_body_is(&f, "{\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"text\":\"What is this?\"},"
        "{\"image\":{\"format\":\"png\",\"source\":{\"bytes\":"
        "\"iVBORw0KGgo=\"}}},"
        "{\"image\":{\"format\":\"jpeg\",\"source\":{\"bytes\":"
        "\"/9j/4AAQ\"}}}]}]}"));
    ah_free(&f);

    /* http(s) URLs: Converse has no URL source. */
    fx_init(&f, CLAUDE, "{\"messages\":[{\"role\":\"user\",\"content\":["
            "{\"type\":\"image_url\",\"image_url\":{\"url\":"
            "\"https://example.com/cat.png\"}}]}]}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ASSERT_EQ(f.pc.err.code, LLMUX_EBADREQ);
    ASSERT(strstr(f.pc.err.message, "bedrock") != NULL);
    ASSERT(strstr(f.pc.err.message, "data: URL") != NULL);
    ah_free(&f);

    /* An image type Converse does not take. */
    fx_init(&f, CLAUDE, "{\"messages\":[{\"role\":\"user\",\"content\":["
            "{\"type\":\"image_url\",\"image_url\":{\"url\":"
            "\"data:image/bmp;base64,Qk0=\"}}]}]}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ASSERT(strstr(f.pc.err.message, "image/bmp") != NULL);
    ah_free(&f);

    /* Audio parts have no Converse block. */
    fx_init(&f, CLAUDE, "{\"messages\":[{\"role\":\"user\",\"content\":["
            "{\"type\":\"input_audio\",\"input_audio\":{}}]}]}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ASSERT(strstr(f.pc.err.message, "input_audio") != NULL);
    ah_free(&f);
    aws_env_clear();
}

#define TOOLS_JSON \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"weather\"," \
    "\"description\":\"Weather at a place\",\"parameters\":{\"type\":" \
    "\"object\",\"properties\":{\"location\":{\"type\":\"string\"}}," \
    "\"required\":[\"location\"]}}},{\"type\":\"function\",\"function\":" \
    "{\"name\":\"now\"}}]"
#define TOOLS_WANT \
    "\"tools\":[{\"toolSpec\":{\"name\":\"weather\",\"description\":" \
    "\"Weather at a place\",\"inputSchema\":{\"json\":{\"type\":\"object\"," \
    "\"properties\":{\"location\":{\"type\":\"string\"}},\"required\":" \
    "[\"location\"]}}}},{\"toolSpec\":{\"name\":\"now\",\"inputSchema\":" \
    "{\"json\":{\"type\":\"object\",\"properties\":{}}}}}]"
#define HI  "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]"
#define HI_WANT "\"messages\":[{\"role\":\"user\",\"content\":" \
    "[{\"text\":\"Hi\"}]}]"

TEST(bedrock_build_tools_and_choice)
{
    static const char *const cases[][2] = {
        { "", "" },
        { ",\"tool_choice\":\"auto\"", ",\"toolChoice\":{\"auto\":{}}" },
        { ",\"tool_choice\":\"required\"", ",\"toolChoice\":{\"any\":{}}" },
        { ",\"tool_choice\":{\"type\":\"function\",\"function\":"
          "{\"name\":\"now\"}}", ",\"toolChoice\":{\"tool\":"
          "{\"name\":\"now\"}}" },
    };
    char req[2048], want[2048];
    struct ah f;

    aws_env(NULL);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(req, sizeof(req), "{" HI "," TOOLS_JSON "%s}", cases[i][0]);
        snprintf(want, sizeof(want), "{" HI_WANT ",\"toolConfig\":{"
                 TOOLS_WANT "%s}}", cases[i][1]);
        fx_init(&f, CLAUDE, req, 0);
        ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
        ASSERT(ah_body_is(&f, want));
        ah_free(&f);
    }
    /* "none" with no tool blocks in the history: no tools at all. */
    fx_init(&f, CLAUDE, "{" HI "," TOOLS_JSON ",\"tool_choice\":\"none\"}",
            0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT(ah_body_is(&f, "{" HI_WANT "}"));
    ah_free(&f);
    /* Bad tools. */
    fx_init(&f, CLAUDE, "{" HI ",\"tools\":[{\"type\":\"code_interpreter\"}]}",
            0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ah_free(&f);
    aws_env_clear();
}

#define HISTORY \
    "\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Paris " \
    "and Rome?\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[" \
    "{\"id\":\"tooluse_1\",\"type\":\"function\",\"function\":{\"name\":" \
    "\"weather\",\"arguments\":\"{\\\"location\\\":\\\"Paris\\\"}\"}}," \
    "{\"id\":\"tooluse_2\",\"type\":\"function\",\"function\":{\"name\":" \
    "\"weather\",\"arguments\":\"{\\\"location\\\":\\\"Rome\\\"}\"}}]}," \
    "{\"role\":\"tool\",\"tool_call_id\":\"tooluse_1\",\"content\":" \
    "\"18C sunny\"},{\"role\":\"tool\",\"tool_call_id\":\"tooluse_2\"," \
    "\"content\":[{\"type\":\"text\",\"text\":\"21C cloudy\"}]}," \
    "{\"role\":\"user\",\"content\":\"Which is warmer?\"}]"
#define HISTORY_WANT \
    "\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"Weather in " \
    "Paris and Rome?\"}]},{\"role\":\"assistant\",\"content\":[" \
    "{\"toolUse\":{\"toolUseId\":\"tooluse_1\",\"name\":\"weather\"," \
    "\"input\":{\"location\":\"Paris\"}}},{\"toolUse\":{\"toolUseId\":" \
    "\"tooluse_2\",\"name\":\"weather\",\"input\":{\"location\":" \
    "\"Rome\"}}}]}," \
    "{\"role\":\"user\",\"content\":[{\"toolResult\":{\"toolUseId\":" \
    "\"tooluse_1\",\"content\":[{\"text\":\"18C sunny\"}]}},{\"toolResult\":" \
    "{\"toolUseId\":\"tooluse_2\",\"content\":[{\"text\":\"21C cloudy\"}]}}," \
    "{\"text\":\"Which is warmer?\"}]}]"

TEST(bedrock_build_tool_results)
{
    struct ah f;

    aws_env(NULL);
    fx_init(&f, CLAUDE, "{" HISTORY "," TOOLS_JSON "}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT(ah_body_is(&f, "{" HISTORY_WANT ",\"toolConfig\":{" TOOLS_WANT
                   "}}"));
    ah_free(&f);

    /* tool_choice "none" with tool blocks in the history: Converse needs
     * the toolConfig and cannot say "none". */
    fx_init(&f, CLAUDE, "{" HISTORY "," TOOLS_JSON ",\"tool_choice\":"
            "\"none\"}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ASSERT(strstr(f.pc.err.message, "tool_choice") != NULL);
    ASSERT(strstr(f.pc.err.message, "drop_params") != NULL);
    ah_free(&f);
    fx_init(&f, CLAUDE, "{" HISTORY "," TOOLS_JSON ",\"tool_choice\":"
            "\"none\"}", 0);
    f.pc.drop_params = 1;
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT(ah_body_is(&f, "{" HISTORY_WANT ",\"toolConfig\":{" TOOLS_WANT
                   "}}"));
    ah_free(&f);

    /* Arguments that are not JSON; a tool message without its id. */
    fx_init(&f, CLAUDE, "{\"messages\":[{\"role\":\"assistant\","
            "\"tool_calls\":[{\"id\":\"t\",\"type\":\"function\","
            "\"function\":{\"name\":\"f\",\"arguments\":\"{oops\"}}]}]}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ASSERT(strstr(f.pc.err.message, "tool_calls[0].function.arguments") !=
           NULL);
    ah_free(&f);
    fx_init(&f, CLAUDE, "{\"messages\":[{\"role\":\"tool\","
            "\"content\":\"x\"}]}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ASSERT(strstr(f.pc.err.message, "tool_call_id") != NULL);
    ah_free(&f);
    aws_env_clear();
}

TEST(bedrock_build_json_mode)
{
    struct ah f;

    aws_env(NULL);
    fx_init(&f, CLAUDE, "{" HI ",\"response_format\":{\"type\":"
            "\"json_object\"}}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT(ah_body_is(&f, "{" HI_WANT ",\"toolConfig\":{\"tools\":[{"
        "\"toolSpec\":{\"name\":\"json_tool_call\",\"inputSchema\":{\"json\":"
        "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":"
        "true}}}}],\"toolChoice\":{\"tool\":{\"name\":\"json_tool_call\"}}}}"));
    ah_free(&f);

    fx_init(&f, CLAUDE, "{" HI ",\"response_format\":{\"type\":"
            "\"json_schema\",\"json_schema\":{\"name\":\"person\","
            "\"description\":\"A person\",\"schema\":{\"type\":\"object\","
            "\"properties\":{\"name\":{\"type\":\"string\"}}}}}}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT(ah_body_is(&f, "{" HI_WANT ",\"toolConfig\":{\"tools\":[{"
        "\"toolSpec\":{\"name\":\"json_tool_call\",\"description\":"
        "\"A person\",\"inputSchema\":{\"json\":{\"type\":\"object\","
        "\"properties\":{\"name\":{\"type\":\"string\"}}}}}}],"
        "\"toolChoice\":{\"tool\":{\"name\":\"json_tool_call\"}}}}"));
    ah_free(&f);

    /* "text" is the default: nothing to send. */
    fx_init(&f, CLAUDE, "{" HI ",\"response_format\":{\"type\":\"text\"}}",
            0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT(ah_body_is(&f, "{" HI_WANT "}"));
    ah_free(&f);
    aws_env_clear();
}

TEST(bedrock_build_reasoning)
{
    struct ah f;

    aws_env(NULL);
    /* No max_tokens: budget + 4096, as LiteLLM does. */
    fx_init(&f, CLAUDE, "{" HI ",\"reasoning_effort\":\"high\"}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT(ah_body_is(&f, "{" HI_WANT ",\"inferenceConfig\":{\"maxTokens\":"
        "8192},\"additionalModelRequestFields\":{\"thinking\":{\"type\":"
        "\"enabled\",\"budget_tokens\":4096}}}"));
    ah_free(&f);

    /* With json mode: the JSON tool is offered but not forced. */
    fx_init(&f, "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "{" HI ",\"reasoning_effort\":\"low\",\"max_tokens\":3000,"
            "\"response_format\":{\"type\":\"json_object\"}}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT(ah_body_is(&f, "{" HI_WANT ",\"inferenceConfig\":{\"maxTokens\":"
        "3000},\"additionalModelRequestFields\":{\"thinking\":{\"type\":"
        "\"enabled\",\"budget_tokens\":1024}},\"toolConfig\":{\"tools\":[{"
        "\"toolSpec\":{\"name\":\"json_tool_call\",\"inputSchema\":{\"json\":"
        "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":"
        "true}}}}]}}"));
    ASSERT_STR_EQ(f.h.url.p, "https://bedrock-runtime.us-west-2.amazonaws"
                  ".com/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0"
                  "/converse");
    ah_free(&f);

    /* "none" means no thinking. */
    fx_init(&f, CLAUDE, "{" HI ",\"reasoning_effort\":\"none\"}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT(ah_body_is(&f, "{" HI_WANT "}"));
    ah_free(&f);

    /* Not an Anthropic model: unsupported, unless dropped. */
    fx_init(&f, "amazon.nova-pro-v1:0", "{" HI ",\"reasoning_effort\":"
            "\"medium\"}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ASSERT(strstr(f.pc.err.message, "reasoning_effort") != NULL);
    ah_free(&f);
    fx_init(&f, "amazon.nova-pro-v1:0", "{" HI ",\"reasoning_effort\":"
            "\"medium\"}", 0);
    f.pc.drop_params = 1;
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT(ah_body_is(&f, "{" HI_WANT "}"));
    ah_free(&f);

    fx_init(&f, CLAUDE, "{" HI ",\"reasoning_effort\":\"extreme\"}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ah_free(&f);
    aws_env_clear();
}

TEST(bedrock_build_unsupported_params)
{
    struct ah f;

    aws_env(NULL);
    fx_init(&f, CLAUDE, "{" HI ",\"frequency_penalty\":0.5,"
            "\"max_completion_tokens\":50}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ASSERT(strstr(f.pc.err.message, "\"frequency_penalty\"") != NULL);
    ASSERT(strstr(f.pc.err.message, "bedrock") != NULL);
    ASSERT_EQ(f.h.body.len, 0);
    ah_free(&f);

    fx_init(&f, CLAUDE, "{" HI ",\"frequency_penalty\":0.5,\"seed\":3,"
            "\"max_completion_tokens\":50}", 0);
    f.pc.drop_params = 1;
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT(ah_body_is(&f, "{" HI_WANT ",\"inferenceConfig\":{\"maxTokens\":"
                   "50}}"));
    ah_free(&f);

    fx_init(&f, CLAUDE, "{" HI ",\"n\":2}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ah_free(&f);

    fx_init(&f, CLAUDE, "{" HI ",\"parallel_tool_calls\":false}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ASSERT(strstr(f.pc.err.message, "parallel_tool_calls") != NULL);
    ah_free(&f);

    fx_init(&f, CLAUDE, "{" HI ",\"max_tokens\":\"many\"}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ah_free(&f);

    fx_init(&f, CLAUDE, "{\"messages\":[{\"role\":\"function\","
            "\"content\":\"x\"}]}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ah_free(&f);
    aws_env_clear();
}

TEST(bedrock_build_credentials_and_endpoints)
{
    struct ah f;

    /* No credentials at all. */
    aws_env_clear();
    fx_init(&f, CLAUDE, "{" HI "}", 0);
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EAUTH);
    ASSERT_STR_EQ(f.pc.err.message, "no AWS credentials for bedrock: set "
                  "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or aws_* in "
                  "model_list");
    ah_free(&f);

    /* api_base (the fake provider), with and without a path prefix; the
     * region config.c resolved (test-config: $AWS_REGION at load). */
    aws_env(NULL);
    fx_init(&f, "converse/arn:aws:bedrock:eu-central-1:123456789012:"
            "inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0",
            "{" HI "}", 1);
    json_object_clear(f.dep.params);
    f.dep.aws_region = (char *)"eu-central-1";
    f.dep.api_base = (char *)"http://127.0.0.1:8080";
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT_STR_EQ(f.h.url.p, "http://127.0.0.1:8080/model/arn%3Aaws%3A"
                  "bedrock%3Aeu-central-1%3A123456789012%3Ainference-profile"
                  "%2Feu.anthropic.claude-3-haiku-20240307-v1%3A0"
                  "/converse-stream");
    ASSERT_STR_EQ(header(&f.h, "Host"), "127.0.0.1:8080");
    ASSERT(strstr(header(&f.h, "Authorization"),
                  "/eu-central-1/bedrock/aws4_request") != NULL);
    ah_free(&f);

    fx_init(&f, CLAUDE, "{" HI "}", 0);
    f.dep.api_base = (char *)"https://proxy.example.com:8443/aws";
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT_STR_EQ(f.h.url.p, "https://proxy.example.com:8443/aws/model/"
                  "anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
    ASSERT_STR_EQ(header(&f.h, "Host"), "proxy.example.com:8443");
    ah_free(&f);

    /* Credentials in api_base, and odd regions, are refused. */
    fx_init(&f, CLAUDE, "{" HI "}", 0);
    f.dep.api_base = (char *)"https://user:pw@example.com";
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ah_free(&f);
    fx_init(&f, CLAUDE, "{" HI "}", 0);
    f.dep.aws_region = (char *)"evil.com/x";
    ASSERT_EQ(provider_build(&f.pc, &f.h), LLMUX_EBADREQ);
    ah_free(&f);

    /* A Bedrock API key is sent as a bearer token, without SigV4. */
    aws_env_clear();
    fx_init(&f, CLAUDE, "{" HI "}", 0);
    f.dep.api_key = secret_new("test-key", 8);
    ASSERT_EQ(provider_build(&f.pc, &f.h), 0);
    ASSERT_STR_EQ(header(&f.h, "Authorization"), "Bearer test-key");
    ASSERT(header(&f.h, "X-Amz-Date") == NULL);
    ASSERT_EQ(ah_nheaders(&f.h), 3);
    ah_free(&f);
}

/* ---- non-streamed answers ----------------------------------------------- */

TEST(bedrock_parse_text)
{
    struct ah f;
    json_t *c, *u, *m;

    fx_init(&f, CLAUDE, NULL, 0);
    ah_parse_sample(&f, "providers/bedrock/converse_text.json", &c);
    ASSERT(c != NULL);
    m = ah_get(c, "choices.0.message");
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "object")),
                  "chat.completion");
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "model")), CLAUDE);
    ASSERT_STR_EQ(json_string_value(json_object_get(m, "role")),
                  "assistant");
    ASSERT_STR_EQ(json_string_value(json_object_get(m, "content")),
                  "Let me count the \"r\"s in \"strawberry\":\n\ns-t-**r**-"
                  "a-w-b-e-**r**-**r**-y\n\nThere are **3** \"r\"s in "
                  "\"strawberry.\"");
    ASSERT(json_object_get(m, "tool_calls") == NULL);
    ASSERT(json_object_get(m, "reasoning_content") == NULL);
    ASSERT_STR_EQ(ah_str(c, "choices.0.finish_reason"), "stop");
    u = json_object_get(c, "usage");
    ASSERT_EQ(ah_int(u, "prompt_tokens"), 22);
    ASSERT_EQ(ah_int(u, "completion_tokens"), 57);
    ASSERT_EQ(ah_int(u, "total_tokens"), 79);
    ASSERT_EQ(ah_int(json_object_get(u, "prompt_tokens_details"),
                        "cached_tokens"), 0);
    ASSERT(json_equal(u, f.pc.usage));
    json_decref(c);
    ah_free(&f);
}

TEST(bedrock_parse_tool_use)
{
    struct ah f;
    json_t *c, *m, *tc, *args;

    fx_init(&f, CLAUDE, NULL, 0);
    ah_parse_sample(&f, "providers/bedrock/converse_tool_use.json", &c);
    ASSERT(c != NULL);
    m = ah_get(c, "choices.0.message");
    ASSERT(json_is_null(json_object_get(m, "content")));
    tc = json_object_get(m, "tool_calls");
    ASSERT_EQ(json_array_size(tc), 1);
    tc = json_array_get(tc, 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(tc, "id")),
                  "tooluse_rTk04lpyTTTvtXcoOyVT6p");
    ASSERT_STR_EQ(json_string_value(json_object_get(tc, "type")),
                  "function");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(tc,
                  "function"), "name")), "weather");
    args = json_loads(json_string_value(json_object_get(json_object_get(tc,
                      "function"), "arguments")), 0, NULL);
    ASSERT(args != NULL);
    ASSERT_STR_EQ(json_string_value(json_object_get(args, "location")),
                  "Seattle");
    ASSERT_EQ(json_object_size(args), 1);
    json_decref(args);
    ASSERT_STR_EQ(ah_str(c, "choices.0.finish_reason"), "tool_calls");
    ASSERT_EQ(ah_int(f.pc.usage, "prompt_tokens"), 407);
    ASSERT_EQ(ah_int(f.pc.usage, "completion_tokens"), 33);
    ASSERT_EQ(ah_int(f.pc.usage, "total_tokens"), 440);
    json_decref(c);
    ah_free(&f);
}

TEST(bedrock_parse_reasoning)
{
    struct ah f;
    json_t *c, *m;

    fx_init(&f, CLAUDE, NULL, 0);
    ah_parse_sample(&f, "providers/bedrock/converse_reasoning.json", &c);
    ASSERT(c != NULL);
    m = ah_get(c, "choices.0.message");
    ASSERT_STR_EQ(json_string_value(json_object_get(m, "reasoning_content")),
                  "Let me count the r's in \"strawberry\":\n\ns-t-r-a-w-b-e-"
                  "r-r-y\n\nThere are 3 r's.");
    ASSERT_STR_EQ(json_string_value(json_object_get(m, "content")),
                  "There are **3** r's in \"strawberry\":\n\n1. st**r**awbe"
                  "**r****r**y");
    ASSERT_STR_EQ(ah_str(c, "choices.0.finish_reason"), "stop");
    ASSERT_EQ(ah_int(f.pc.usage, "prompt_tokens"), 51);
    ASSERT_EQ(ah_int(f.pc.usage, "completion_tokens"), 78);
    ASSERT_EQ(ah_int(f.pc.usage, "total_tokens"), 129);
    json_decref(c);
    ah_free(&f);
}

TEST(bedrock_parse_json_mode_cache_and_errors)
{
    static const char body[] = "{\"output\":{\"message\":{\"role\":"
        "\"assistant\",\"content\":[{\"toolUse\":{\"toolUseId\":\"t1\","
        "\"name\":\"json_tool_call\",\"input\":{\"name\":\"Ada\"}}}]}},"
        "\"stopReason\":\"tool_use\",\"usage\":{\"inputTokens\":10,"
        "\"outputTokens\":5,\"totalTokens\":65,\"cacheReadInputTokens\":40,"
        "\"cacheWriteInputTokens\":10}}";
    static const char *const stops[][2] = {
        { "max_tokens", "length" }, { "stop_sequence", "stop" },
        { "guardrail_intervened", "content_filter" },
        { "content_filtered", "content_filter" },
        { "model_context_window_exceeded", "length" },
        { "something_new", "stop" },
    };
    struct ah f;
    json_t *c, *u;
    char b[512];

    /* The forced JSON tool comes back as the content. */
    fx_init(&f, CLAUDE, "{" HI ",\"response_format\":{\"type\":"
            "\"json_object\"}}", 0);
    ASSERT_EQ(ah_parse(&f, body, strlen(body), &c), 0);
    ASSERT_STR_EQ(ah_str(c, "choices.0.message.content"),
                  "{\"name\":\"Ada\"}");
    ASSERT(ah_get(c, "choices.0.message.tool_calls") == NULL);
    ASSERT_STR_EQ(ah_str(c, "choices.0.finish_reason"), "stop");
    /* Cache reads and writes count as prompt tokens. */
    u = json_object_get(c, "usage");
    ASSERT_EQ(ah_int(u, "prompt_tokens"), 60);
    ASSERT_EQ(ah_int(u, "completion_tokens"), 5);
    ASSERT_EQ(ah_int(u, "total_tokens"), 65);
    ASSERT_EQ(ah_int(json_object_get(u, "prompt_tokens_details"),
                        "cached_tokens"), 40);
    /* Writes are priced apart (cost.h), under LiteLLM's name. */
    ASSERT_EQ(ah_int(u, "cache_creation_input_tokens"), 10);
    json_decref(c);
    ah_free(&f);

    for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
        snprintf(b, sizeof(b), "{\"output\":{\"message\":{\"content\":"
                 "[{\"text\":\"x\"}]}},\"stopReason\":\"%s\"}", stops[i][0]);
        fx_init(&f, CLAUDE, NULL, 0);
        ASSERT_EQ(ah_parse(&f, b, strlen(b), &c), 0);
        ASSERT_STR_EQ(ah_str(c, "choices.0.finish_reason"), stops[i][1]);
        ASSERT(f.pc.usage == NULL);
        json_decref(c);
        ah_free(&f);
    }

    /* Malformed bodies. */
    fx_init(&f, CLAUDE, NULL, 0);
    c = (json_t *)1;
    ASSERT_EQ(ah_parse(&f, "{\"output\":", 10, &c), LLMUX_EUNAVAIL);
    ASSERT(c == NULL);
    ASSERT(strstr(f.pc.err.message, "malformed") != NULL);
    ah_free(&f);
    fx_init(&f, CLAUDE, NULL, 0);
    ASSERT_EQ(ah_parse(&f, "{\"output\":{}}", 13, &c), LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "malformed") != NULL);
    ah_free(&f);
    fx_init(&f, CLAUDE, NULL, 0);
    ASSERT_EQ(ah_parse(&f, "[1]", 3, &c), LLMUX_EUNAVAIL);
    ah_free(&f);
}

/* ---- streams ------------------------------------------------------------ */

/* Real Bedrock payloads carry a "p" padding member; so do ours. */
#define PAD "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"

static void encode_event(struct buf *out, const char *type,
                         const json_t *payload)
{
    struct es_header h[3] = {
        es_header_string(":event-type", type),
        es_header_string(":content-type", "application/json"),
        es_header_string(":message-type", "event"),
    };
    json_t *o = json_copy((json_t *)payload);
    char *text;

    json_object_set_new(o, "p", json_string(PAD));
    text = json_dumps(o, JSON_COMPACT);
    if (text == NULL || es_encode(out, h, 3, text, strlen(text)) < 0)
        abort();
    free(text);
    json_decref(o);
}

static void encode_exception(struct buf *out, const char *type,
                             const char *payload)
{
    struct es_header h[3] = {
        es_header_string(":exception-type", type),
        es_header_string(":content-type", "application/json"),
        es_header_string(":message-type", "exception"),
    };

    if (es_encode(out, h, 3, payload, strlen(payload)) < 0)
        abort();
}

/* One event per line, {"<event type>": payload}, into frames. */
static void encode_jsonl(struct buf *out, const char *text)
{
    const char *p = text;

    while (*p) {
        const char *e = p + strcspn(p, "\n");
        json_t *j = json_loadb(p, (size_t)(e - p), 0, NULL), *v;
        const char *k;

        if (e > p) {
            if (!json_is_object(j) || json_object_size(j) != 1)
                abort();
            json_object_foreach(j, k, v)
                encode_event(out, k, v);
        }
        json_decref(j);
        p = *e ? e + 1 : e;
    }
}

static void encode_sample(struct buf *out, const char *rel)
{
    char *t = test_read_file(conformance_path(rel), NULL);

    if (t == NULL)
        abort();
    encode_jsonl(out, t);
    free(t);
}

/* A stream against model: fed whole (replay), or also split in two at
 * every byte and byte by byte, which must agree (replay_all; NULL if
 * not). */
static json_t *replay(const char *model, const char *req, const char *p,
                      size_t n)
{
    struct ah_target t = bedrock;

    t.model = model;
    return ah_replay_whole(&t, req, p, n);
}

static json_t *replay_all(const char *model, const char *req,
                          const struct buf *b)
{
    struct ah_target t = bedrock;

    t.model = model;
    return ah_replay_all(&t, req, b->p, b->len, 1);
}

TEST(bedrock_stream_text_sample)
{
    struct buf b;
    json_t *r;

    buf_init(&b, 1 << 20);
    encode_sample(&b, "providers/bedrock/converse_stream_text.events.jsonl");
    r = replay_all(CLAUDE, NULL, &b);
    buf_free(&b);
    ASSERT(ah_expect(r, "{'feed':0,'end':0,'bad':0,'role':'assistant',"
        "'tools.#':0,'finish':'stop','nfinish':1}"));
    ASSERT_STR_EQ(ah_str(r, "content"), "Let me count the \"r\"s in "
                  "\"strawberry\":\n\ns-t-**r**-a-w-b-e-**r**-**r**-y\n\n"
                  "There are **3** r's in \"strawberry.\"");
    ASSERT(json_is_null(ah_get(r, "reasoning")));
    ASSERT_EQ(ah_int(json_object_get(r, "usage"), "prompt_tokens"), 22);
    ASSERT_EQ(ah_int(json_object_get(r, "usage"), "completion_tokens"), 55);
    ASSERT_EQ(ah_int(json_object_get(r, "usage"), "total_tokens"), 77);
    json_decref(r);
}

TEST(bedrock_stream_reasoning_sample)
{
    struct buf b;
    json_t *r;

    buf_init(&b, 1 << 20);
    encode_sample(&b,
                  "providers/bedrock/converse_stream_reasoning.events.jsonl");
    r = replay_all(CLAUDE, "{" HI ",\"reasoning_effort\":\"low\"}", &b);
    buf_free(&b);
    ASSERT(ah_expect(r, "{'feed':0,'end':0,'bad':0,'finish':'stop',"
        "'nfinish':1}"));
    ASSERT_STR_EQ(ah_str(r, "reasoning"), "Let me count the r's in "
                  "\"strawberry\":\n\ns-t-r-a-w-b-e-r-r-y\n\nr appears at "
                  "positions 3, 8, and 9.\n\nSo there are 3 r's.");
    ASSERT_STR_EQ(ah_str(r, "content"), "There are **3** r's in "
                  "\"strawberry\":\n\n1. st**r**awbe**r****r**y");
    ASSERT_EQ(ah_int(json_object_get(r, "usage"), "prompt_tokens"), 51);
    ASSERT_EQ(ah_int(json_object_get(r, "usage"), "completion_tokens"), 94);
    ASSERT_EQ(ah_int(json_object_get(r, "usage"), "total_tokens"), 145);
    json_decref(r);
}

/* No recorded ConverseStream tool-use stream exists; this one follows the
 * documented event shapes and converse_tool_use.json's ids. */
static const char tool_stream[] =
    "{\"messageStart\":{\"role\":\"assistant\"}}\n"
    "{\"contentBlockDelta\":{\"contentBlockIndex\":0,\"delta\":{\"text\":"
    "\"Checking both.\"}}}\n"
    "{\"contentBlockStop\":{\"contentBlockIndex\":0}}\n"
    "{\"contentBlockStart\":{\"contentBlockIndex\":1,\"start\":{\"toolUse\":"
    "{\"toolUseId\":\"tooluse_rTk04lpyTTTvtXcoOyVT6p\",\"name\":"
    "\"weather\"}}}}\n"
    "{\"contentBlockDelta\":{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":"
    "{\"input\":\"\"}}}}\n"
    "{\"contentBlockDelta\":{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":"
    "{\"input\":\"{\\\"locat\"}}}}\n"
    "{\"contentBlockDelta\":{\"contentBlockIndex\":1,\"delta\":{\"toolUse\":"
    "{\"input\":\"ion\\\": \\\"Seattle\\\"}\"}}}}\n"
    "{\"contentBlockStop\":{\"contentBlockIndex\":1}}\n"
    "{\"contentBlockStart\":{\"contentBlockIndex\":2,\"start\":{\"toolUse\":"
    "{\"toolUseId\":\"tooluse_second\",\"name\":\"now\"}}}}\n"
    "{\"contentBlockDelta\":{\"contentBlockIndex\":2,\"delta\":{\"toolUse\":"
    "{\"input\":\"{}\"}}}}\n"
    "{\"contentBlockStop\":{\"contentBlockIndex\":2}}\n"
    "{\"someFutureEvent\":{\"x\":1}}\n"
    "{\"messageStop\":{\"stopReason\":\"tool_use\"}}\n"
    "{\"metadata\":{\"usage\":{\"inputTokens\":407,\"outputTokens\":33,"
    "\"totalTokens\":440},\"metrics\":{\"latencyMs\":900}}}\n";

TEST(bedrock_stream_tool_use)
{
    struct buf b;
    json_t *r, *t, *args;

    buf_init(&b, 1 << 20);
    encode_jsonl(&b, tool_stream);
    r = replay_all(CLAUDE, NULL, &b);
    buf_free(&b);
    ASSERT(ah_expect(r, "{'feed':0,'end':0,'bad':0,"
        "'content':'Checking both.','tools.#':2}"));
    t = json_array_get(json_object_get(r, "tools"), 0);
    ASSERT_STR_EQ(ah_str(t, "id"), "tooluse_rTk04lpyTTTvtXcoOyVT6p");
    ASSERT_STR_EQ(ah_str(t, "name"), "weather");
    args = json_loads(ah_str(t, "arguments"), 0, NULL);
    ASSERT(args != NULL);
    ASSERT_STR_EQ(ah_str(args, "location"), "Seattle");
    json_decref(args);
    t = json_array_get(json_object_get(r, "tools"), 1);
    ASSERT_STR_EQ(ah_str(t, "id"), "tooluse_second");
    ASSERT_STR_EQ(ah_str(t, "name"), "now");
    ASSERT_STR_EQ(ah_str(t, "arguments"), "{}");
    ASSERT(ah_expect(r, "{'finish':'tool_calls','nfinish':1}"));
    ASSERT_EQ(ah_int(json_object_get(r, "usage"), "prompt_tokens"), 407);
    ASSERT_EQ(ah_int(json_object_get(r, "usage"), "completion_tokens"), 33);
    json_decref(r);
}

TEST(bedrock_stream_json_mode)
{
    static const char s[] =
        "{\"messageStart\":{\"role\":\"assistant\"}}\n"
        "{\"contentBlockStart\":{\"contentBlockIndex\":0,\"start\":{"
        "\"toolUse\":{\"toolUseId\":\"t1\",\"name\":\"json_tool_call\"}}}}\n"
        "{\"contentBlockDelta\":{\"contentBlockIndex\":0,\"delta\":{"
        "\"toolUse\":{\"input\":\"{\\\"name\\\":\"}}}}\n"
        "{\"contentBlockDelta\":{\"contentBlockIndex\":0,\"delta\":{"
        "\"toolUse\":{\"input\":\"\\\"Ada\\\"}\"}}}}\n"
        "{\"contentBlockStop\":{\"contentBlockIndex\":0}}\n"
        "{\"messageStop\":{\"stopReason\":\"tool_use\"}}\n";
    struct buf b;
    json_t *r;

    buf_init(&b, 1 << 20);
    encode_jsonl(&b, s);
    r = replay_all(CLAUDE, "{" HI ",\"response_format\":{\"type\":"
                     "\"json_object\"}}", &b);
    buf_free(&b);
    ASSERT(ah_expect(r, "{'bad':0,'tools.#':0,'finish':'stop',"
        "'usage':null,'end':0}"));
    ASSERT_STR_EQ(ah_str(r, "content"), "{\"name\":\"Ada\"}");
    json_decref(r);
}

/* The base64 of a file, decoded (malloc'd). */
static char *b64_file(const char *rel, size_t *ret_len)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "abcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n, o = 0;
    char *t = test_read_file(conformance_path(rel), &n), *out;
    unsigned acc = 0;
    int bits = 0;

    if (t == NULL || (out = malloc(n)) == NULL) {
        free(t);
        return NULL;
    }
    for (size_t i = 0; i < n && t[i] != '='; i++) {
        const char *c = t[i] ? strchr(al, t[i]) : NULL;

        if (c == NULL)
            continue;           /* newlines */
        acc = (acc << 6) | (unsigned)(c - al);
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[o++] = (char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    free(t);
    *ret_len = o;
    return out;
}

TEST(bedrock_stream_model_stream_error)
{
    struct buf b;
    size_t n;
    char *raw = b64_file("eventstream/vercel-ai-synthetic/"
                         "model-stream-error-exception.eventstream.base64.txt",
                         &n);
    json_t *r;

    ASSERT(raw != NULL);
    ASSERT_EQ(n, 221);
    buf_init(&b, 1 << 20);
    encode_jsonl(&b, "{\"messageStart\":{\"role\":\"assistant\"}}\n"
                 "{\"contentBlockDelta\":{\"contentBlockIndex\":0,\"delta\":"
                 "{\"text\":\"Hello\"}}}\n"
                 "{\"contentBlockDelta\":{\"contentBlockIndex\":0,\"delta\":"
                 "{\"text\":\", wor\"}}}\n");
    ASSERT_EQ(buf_add(&b, raw, n), 0);
    free(raw);
    r = replay_all(CLAUDE, NULL, &b);
    buf_free(&b);
    ASSERT(ah_expect(r, "{'bad':0,'content':'Hello, wor',"
        "'message':'bedrock: modelStreamErrorException: Model Stream Error (u"
        "pstream 500: The model stream failed.)',"
        "'nfinish':0}"));
    ASSERT_EQ(ah_int(r, "feed"), LLMUX_EUNAVAIL);
    ASSERT_EQ(ah_int(r, "code"), LLMUX_EUNAVAIL);
    json_decref(r);
}

TEST(bedrock_stream_exceptions)
{
    static const struct {
        const char *type, *payload;
        int code;
        const char *words;
    } cases[] = {
        { "throttlingException", "{\"message\":\"Too many requests, please "
          "wait before trying again.\"}", LLMUX_ERATELIMIT, "Too many" },
        { "validationException", "{\"message\":\"Input is too long for "
          "requested model.\"}", LLMUX_ECONTEXT, "Input is too long" },
        { "validationException", "{\"message\":\"messages: roles must "
          "alternate\"}", LLMUX_EBADREQ, "alternate" },
        { "internalServerException", "{\"message\":\"boom\"}",
          LLMUX_EUNAVAIL, "internalServerException: boom" },
        { "serviceUnavailableException", "{\"message\":\"busy\"}",
          LLMUX_EUNAVAIL, "busy" },
        { "modelStreamErrorException", "{\"message\":\"x\","
          "\"originalStatusCode\":429,\"originalMessage\":\"slow down\"}",
          LLMUX_ERATELIMIT, "slow down" },
        { "brandNewException", "not json", LLMUX_EUNAVAIL, "(no message)" },
    };
    struct buf b;
    json_t *r;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf_init(&b, 1 << 16);
        encode_jsonl(&b, "{\"messageStart\":{\"role\":\"assistant\"}}\n");
        encode_exception(&b, cases[i].type, cases[i].payload);
        r = replay(CLAUDE, NULL, b.p, b.len);
        buf_free(&b);
        ASSERT_EQ(ah_int(r, "feed"), cases[i].code);
        ASSERT_EQ(ah_int(r, "code"), cases[i].code);
        ASSERT(strncmp(ah_str(r, "message"), "bedrock: ", 9) == 0);
        ASSERT(strstr(ah_str(r, "message"), cases[i].words) != NULL);
        json_decref(r);
    }
}

TEST(bedrock_stream_malformed)
{
    struct es_header h[3] = {
        es_header_string(":event-type", "contentBlockDelta"),
        es_header_string(":content-type", "application/json"),
        es_header_string(":message-type", "event"),
    };
    struct es_header odd[2] = {
        es_header_string(":event-type", "contentBlockDelta"),
        es_header_string(":message-type", "initial-response"),
    };
    struct buf b;
    struct ah f;
    json_t *r;

    /* A known event whose payload is not JSON. */
    buf_init(&b, 1 << 16);
    ASSERT_EQ(es_encode(&b, h, 3, "{\"delta\":", 9), 0);
    r = replay(CLAUDE, NULL, b.p, b.len);
    ASSERT_EQ(ah_int(r, "feed"), LLMUX_EUNAVAIL);
    ASSERT(strstr(ah_str(r, "message"), "malformed") != NULL);
    json_decref(r);
    buf_free(&b);

    /* A corrupted frame (bad message CRC). */
    buf_init(&b, 1 << 16);
    encode_jsonl(&b, tool_stream);
    b.p[b.len - 1] ^= 0x5a;
    r = replay(CLAUDE, NULL, b.p, b.len);
    ASSERT_EQ(ah_int(r, "feed"), LLMUX_EUNAVAIL);
    ASSERT(strstr(ah_str(r, "message"), "checksum") != NULL);
    json_decref(r);

    /* Cut in the middle of the last frame, and cut after a whole frame
     * but before messageStop: both fail at the end. */
    b.p[b.len - 1] ^= 0x5a;
    r = replay(CLAUDE, NULL, b.p, b.len - 3);
    ASSERT_EQ(ah_int(r, "feed"), 0);
    ASSERT_EQ(ah_int(r, "end"), LLMUX_EUNAVAIL);
    ASSERT(strstr(ah_str(r, "message"), "middle of a message") != NULL);
    json_decref(r);
    buf_reset(&b);
    encode_jsonl(&b, "{\"messageStart\":{\"role\":\"assistant\"}}\n");
    r = replay(CLAUDE, NULL, b.p, b.len);
    ASSERT_EQ(ah_int(r, "end"), LLMUX_EUNAVAIL);
    ASSERT(strstr(ah_str(r, "message"), "before messageStop") != NULL);
    json_decref(r);
    r = replay(CLAUDE, NULL, "", 0);
    ASSERT_EQ(ah_int(r, "end"), LLMUX_EUNAVAIL);
    json_decref(r);

    /* toolUse input for a block never started. */
    buf_reset(&b);
    encode_jsonl(&b, "{\"contentBlockDelta\":{\"contentBlockIndex\":3,"
                 "\"delta\":{\"toolUse\":{\"input\":\"{}\"}}}}\n");
    r = replay(CLAUDE, NULL, b.p, b.len);
    ASSERT_EQ(ah_int(r, "feed"), LLMUX_EUNAVAIL);
    json_decref(r);

    /* Unknown message types, events without :event-type, odd payload
     * shapes: ignored. */
    buf_reset(&b);
    ASSERT_EQ(es_encode(&b, odd, 2, "{}", 2), 0);
    ASSERT_EQ(es_encode(&b, h + 1, 2, "{}", 2), 0);
    encode_jsonl(&b, "{\"contentBlockDelta\":{\"delta\":{\"text\":5}}}\n"
                 "{\"contentBlockDelta\":{\"delta\":[]}}\n"
                 "{\"contentBlockStart\":{\"start\":{\"toolUse\":7}}}\n"
                 "{\"metadata\":{\"usage\":{\"inputTokens\":\"x\"}}}\n"
                 "{\"messageStop\":{}}\n");
    r = replay(CLAUDE, NULL, b.p, b.len);
    ASSERT(ah_expect(r, "{'feed':0,'end':0,'finish':'stop','usage':null}"));
    ASSERT(json_is_null(ah_get(r, "content")));
    json_decref(r);

    /* The caller went away: emit refuses, the feed stops. */
    buf_reset(&b);
    encode_jsonl(&b, tool_stream);
    fx_init(&f, CLAUDE, NULL, 1);
    f.pc.emit = refuse;
    ASSERT_EQ(provider_bedrock.stream_feed(&f.pc, b.p, b.len),
              LLMUX_ECLOSED);
    ASSERT_EQ(provider_bedrock.stream_feed(&f.pc, b.p, b.len),
              LLMUX_ECLOSED);
    ah_free(&f);
    buf_free(&b);
}

/* Every event of the tool stream, its JSON payload cut at every length,
 * in a valid frame: a typed "malformed" error each time, never a crash
 * (and never a leak, under valgrind). */
TEST(bedrock_stream_truncated_payloads)
{
    const char *p = tool_stream;
    struct buf b;

    buf_init(&b, 1 << 16);
    while (*p) {
        const char *e = p + strcspn(p, "\n");
        json_t *j = json_loadb(p, (size_t)(e - p), 0, NULL), *v;
        const char *k = NULL;
        char *text = NULL;

        json_object_foreach(j, k, v) {
            text = json_dumps(v, JSON_COMPACT);
            break;
        }
        ASSERT(text != NULL);
        for (size_t n = 0; n < strlen(text); n++) {
            struct es_header h[3] = {
                es_header_string(":event-type", k),
                es_header_string(":content-type", "application/json"),
                es_header_string(":message-type", "event"),
            };
            json_t *r;
            int known = strcmp(k, "someFutureEvent") != 0;

            buf_reset(&b);
            encode_jsonl(&b, "{\"messageStart\":{\"role\":\"assistant\"}}\n");
            if (es_encode(&b, h, 3, text, n) < 0)
                abort();
            r = replay(CLAUDE, NULL, b.p, b.len);
            if (ah_int(r, "feed") != (known ? LLMUX_EUNAVAIL : 0) ||
                (known && strstr(ah_str(r, "message"), "malformed") == NULL)) {
                fprintf(stderr, "  %s cut at %zu: %s\n", k, n,
                        ah_str(r, "message"));
                json_decref(r);
                ASSERT(0);
            }
            json_decref(r);
        }
        free(text);
        json_decref(j);
        p = *e ? e + 1 : e;
    }
    buf_free(&b);
}

/* ---- errors ------------------------------------------------------------- */

static int map(const char *body, long status, double retry_after,
               struct perr *ret)
{
    return ah_try_map(&bedrock, status, body, retry_after, ret);
}

TEST(bedrock_errors_recorded)
{
    json_t *rec = json_load_file(conformance_path(
        "providers/bedrock/error_400_validation_exception.recorded.json"), 0,
        NULL);
    char *body, *tool;
    struct perr e;

    ASSERT(rec != NULL);
    body = json_dumps(json_object_get(rec, "body"), JSON_COMPACT);
    ASSERT_EQ(map(body, json_integer_value(json_object_get(rec, "status")),
                  -1, &e), LLMUX_EBADREQ);
    free(body);
    json_decref(rec);
    ASSERT_EQ(e.code, LLMUX_EBADREQ);
    ASSERT_EQ(e.status, 400);
    ASSERT(e.retry_after < 0);
    ASSERT_STR_EQ(e.message, "bedrock: The content field in the Message "
                  "object at messages.1 is empty. Add a ContentBlock object "
                  "to the content field and try again.");

    tool = test_read_file(conformance_path("providers/bedrock/"
                          "error_400_validation_exception_tool_name.json"),
                          NULL);
    ASSERT(tool != NULL);
    ASSERT_EQ(map(tool, 400, -1, &e), LLMUX_EBADREQ);
    free(tool);
    ASSERT(strstr(e.message, "bedrock: 1 validation error detected: Value "
                  "at 'messages.2.member.content.1.member.toolUse.name'")
           == e.message);
}

TEST(bedrock_errors_taxonomy)
{
    static const struct {
        long status;
        const char *body;
        int code;
    } cases[] = {
        { 429, "{\"message\":\"Too many requests, please wait before trying "
          "again.\"}", LLMUX_ERATELIMIT },
        { 400, "{\"__type\":\"com.amazon.coral.availability#Throttling"
          "Exception\",\"message\":\"Rate exceeded\"}", LLMUX_ERATELIMIT },
        { 403, "{\"message\":\"The security token included in the request "
          "is invalid.\"}", LLMUX_EAUTH },
        { 403, "{\"message\":\"The request signature we calculated does not "
          "match the signature you provided.\"}", LLMUX_EAUTH },
        { 403, "{\"Message\":\"x\",\"__type\":\"com.amazon.coral.service#"
          "UnrecognizedClientException\"}", LLMUX_EAUTH },
        { 403, "{\"message\":\"The security token included in the request "
          "is expired\"}", LLMUX_EAUTH },
        { 403, "{\"message\":\"You don't have access to the model with the "
          "specified model ID.\"}", LLMUX_EPERMISSION },
        { 400, "{\"message\":\"Input is too long for requested model.\"}",
          LLMUX_ECONTEXT },
        { 400, "{\"message\":\"The model returned the following errors: too "
          "many input tokens\"}", LLMUX_ECONTEXT },
        { 400, "{\"message\":\"The model returned the following errors: "
          "input length and `max_tokens` exceed context limit: 198000 + "
          "8192 > 200000\"}", LLMUX_ECONTEXT },
        { 400, "{\"message\":\"prompt is too long: 210000 tokens > 200000 "
          "maximum\"}", LLMUX_ECONTEXT },
        { 404, "{\"message\":\"Could not resolve the foundation model from "
          "the provided model identifier.\"}", LLMUX_ENOTFOUND },
        { 408, "{\"message\":\"Model has timed out in processing the "
          "request.\"}", LLMUX_ETIMEOUT },
        { 424, "{\"message\":\"The model returned an error.\"}",
          LLMUX_EUNAVAIL },
        { 429, "{\"__type\":\"ModelNotReadyException\",\"message\":\"Model "
          "is not ready\"}", LLMUX_EUNAVAIL },
        { 500, "{\"message\":\"The system encountered an unexpected error "
          "during processing. Try your request again.\"}", LLMUX_EUNAVAIL },
        { 503, "{\"message\":\"Bedrock is unable to process your "
          "request.\"}", LLMUX_EUNAVAIL },
        { 502, "<html>Bad\ngateway</html>", LLMUX_EUNAVAIL },
        { 500, "", LLMUX_EUNAVAIL },
        { 401, "{\"error\":{\"message\":\"bad key\",\"type\":"
          "\"invalid_request_error\"}}", LLMUX_EAUTH },
    };
    struct perr e;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (map(cases[i].body, cases[i].status, -1, &e) != cases[i].code) {
            fprintf(stderr, "  case %zu: %s -> %d\n", i, cases[i].body,
                    e.code);
            ASSERT(0);
        }
        ASSERT_EQ(e.status, cases[i].status);
        ASSERT(strncmp(e.message, "bedrock: ", 9) == 0);
    }
    ASSERT_EQ(map(cases[0].body, 429, 7, &e), LLMUX_ERATELIMIT);
    ASSERT(e.retry_after == 7);
    ASSERT_STR_EQ(e.message, "bedrock: Too many requests, please wait "
                  "before trying again.");
    map(cases[1].body, 400, -1, &e);
    ASSERT_STR_EQ(e.message, "bedrock: ThrottlingException: Rate exceeded");
    map("<html>Bad\ngateway</html>", 502, -1, &e);
    ASSERT_STR_EQ(e.message, "bedrock: <html>Bad gateway</html>");
    map("", 500, -1, &e);
    ASSERT_STR_EQ(e.message, "bedrock: HTTP 500 with an empty body");
}
