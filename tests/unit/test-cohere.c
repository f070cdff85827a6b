/* test-cohere.c -- unit tests of the Cohere v2 adapter
 * (daemon/providers/cohere.c): golden requests written from Cohere's v2
 * chat reference, every recorded Cohere answer (bodies through parse,
 * event streams re-wrapped in Cohere's "event: <type>" SSE envelope and fed
 * whole, split at every byte and byte by byte), and error mapping. */
#include "test.h"
#include "adapter-harness.h"
#include "secret.h"

#include <jansson.h>

extern const struct provider provider_cohere;

/* ------------------------------------------------------------------------
 * Target (the harness is adapter-harness.h)
 */

static const char *const headers[] = {
    "Content-Type: application/json", "Accept: application/json",
    "Authorization: Bearer test-key", NULL,
};
static const char *const stream_headers[] = {
    "Content-Type: application/json", "Accept: text/event-stream",
    "Authorization: Bearer test-key", NULL,
};

static const struct ah_target cohere = {
    .prov = &provider_cohere, .preset = "cohere",
    .model = "command-a-03-2025", .api_base = "https://api.cohere.com",
    .key = "test-key", .headers = headers, .stream_headers = stream_headers,
    .seq = 7, .samples = "providers/cohere", .event_key = "type",
    .eol = "\n",
};

/* Builds req: the v2 chat URL, the three headers, and want_body. */
static int golden(const char *req, int stream, const char *want_body)
{
    return ah_golden(&cohere, req, stream, 0,
                     "https://api.cohere.com/v2/chat", want_body);
}

/* ------------------------------------------------------------------------
 * Requests
 */

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
    struct perr e;

    ASSERT_EQ(ah_try_build(&cohere,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"ftp://example.com/x.png\"}}]}]}", 0, &e),
        LLMUX_EBADREQ);
    ASSERT(strstr(e.message, "image_url") != NULL);
    ASSERT_EQ(ah_try_build(&cohere,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"input_audio\",\"input_audio\":{}}]}]}", 0, &e),
        LLMUX_EBADREQ);
    ASSERT(strstr(e.message, "input_audio") != NULL);
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
    struct perr e;
    struct ah f;

    ASSERT(ah_unsupported(&cohere,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}],\"logit_bias\":{\"50256\":-100}}", "logit_bias"));
    ASSERT_EQ(ah_try_build(&cohere,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}],\"n\":2}", 0, &e), LLMUX_EBADREQ);
    ASSERT_EQ(ah_try_build(&cohere,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}],\"reasoning_effort\":\"extreme\"}", 0, &e),
        LLMUX_EBADREQ);
    /* drop_params: the parameter silently goes. */
    ASSERT(ah_init(&f, &cohere, "{\"model\":\"m\",\"messages\":[{\"role\":"
                   "\"user\",\"content\":\"x\"}],\"logit_bias\":{\"1\":2},"
                    "\"parallel_tool_calls\":false}", 0));
    f.pc.drop_params = 1;
    ASSERT_EQ(ah_build(&f), 0);
    ASSERT(ah_body_is(&f, "{\"model\":\"command-a-03-2025\",\"stream\":"
                   "false,\"messages\":[{\"role\":\"user\",\"content\":"
                   "\"x\"}]}"));
    ASSERT(strstr(f.h.body.p, "test-key") == NULL);
    ASSERT(strstr(f.h.url.p, "test-key") == NULL);
    ah_free(&f);
}

TEST(cohere_request_no_key)
{
    struct ah f;

    ASSERT(ah_init(&f, &cohere, "{\"messages\":[{\"role\":\"user\",\"content\""
                                ":"
                    "\"x\"}]}", 0));
    secret_free(f.dep.api_key);
    f.dep.api_key = NULL;
    ASSERT_EQ(ah_build(&f), LLMUX_EAUTH);
    ASSERT(strstr(f.pc.err.message, "COHERE_API_KEY") != NULL);
    ah_free(&f);
}

/* ------------------------------------------------------------------------
 * Bodies
 */

TEST(cohere_parse_text)
{
    struct ah f;
    json_t *c = NULL, *m;

    ASSERT(ah_init(&f, &cohere, NULL, 0));
    ASSERT_EQ(ah_parse_sample(&f, "chat_v2_text.json", &c), 0);
    ASSERT_STR_EQ(ah_str(c, "object"), "chat.completion");
    ASSERT_STR_EQ(ah_str(c, "id"), "e7592632-1e3d-424f-b129-bd5f9f980f7b");
    ASSERT_STR_EQ(ah_str(c, "model"), "command-a-03-2025");
    m = json_array_get(json_object_get(c, "choices"), 0);
    ASSERT_STR_EQ(ah_str(m, "message.role"), "assistant");
    ASSERT_STR_EQ(ah_str(m, "message.content"),
                  "The capital of France is Paris.");
    ASSERT_STR_EQ(ah_str(m, "finish_reason"), "stop");
    ASSERT(json_object_get(json_object_get(m, "message"),
                           "tool_calls") == NULL);
    /* usage.tokens wins over billed_units; cached_tokens is kept. */
    ASSERT_EQ(ah_int(c, "usage.prompt_tokens"), 507);
    ASSERT_EQ(ah_int(c, "usage.completion_tokens"), 10);
    ASSERT_EQ(ah_int(c, "usage.total_tokens"), 517);
    ASSERT_EQ(ah_int(c, "usage.prompt_tokens_details.cached_tokens"), 448);
    ASSERT(json_equal(f.pc.usage, json_object_get(c, "usage")));
    json_decref(c);
    ah_free(&f);
}

TEST(cohere_parse_tool_call)
{
    struct ah f;
    json_t *c = NULL, *m, *tc, *args;

    ASSERT(ah_init(&f, &cohere, NULL, 0));
    ASSERT_EQ(ah_parse_sample(&f, "chat_v2_tool_call.json", &c),
              0);
    m = json_array_get(json_object_get(c, "choices"), 0);
    ASSERT_STR_EQ(ah_str(m, "finish_reason"), "tool_calls");
    /* The tool plan is the text the model said before its calls. */
    ASSERT_STR_EQ(ah_str(m, "message.content"), "I will use the weather tool "
                  "to find out the weather in San Francisco. I will also use "
                  "the cityAttractions tool to find out what attractions are "
                  "in San Francisco.");
    tc = json_object_get(json_object_get(m, "message"), "tool_calls");
    ASSERT_EQ(json_array_size(tc), 2);
    ASSERT_STR_EQ(ah_str(json_array_get(tc, 0), "id"), "weather_dqgshstja6p9");
    ASSERT_STR_EQ(ah_str(json_array_get(tc, 0), "type"), "function");
    ASSERT_STR_EQ(ah_str(json_array_get(tc, 0), "function.name"), "weather");
    args = json_loads(ah_str(json_array_get(tc, 0), "function.arguments"), 0,
                      NULL);
    ASSERT_STR_EQ(ah_str(args, "location"), "San Francisco");
    json_decref(args);
    ASSERT_STR_EQ(ah_str(json_array_get(tc, 1), "id"),
                  "cityAttractions_dcxfx4myvx68");
    ASSERT_STR_EQ(ah_str(json_array_get(tc, 1), "function.name"),
                  "cityAttractions");
    args = json_loads(ah_str(json_array_get(tc, 1), "function.arguments"), 0,
                      NULL);
    ASSERT_STR_EQ(ah_str(args, "city"), "San Francisco");
    json_decref(args);
    ASSERT_EQ(ah_int(c, "usage.prompt_tokens"), 1549);
    ASSERT_EQ(ah_int(c, "usage.completion_tokens"), 103);
    ASSERT_EQ(ah_int(c, "usage.prompt_tokens_details.cached_tokens"), 992);
    json_decref(c);
    ah_free(&f);
}

TEST(cohere_parse_reasoning)
{
    struct ah f;
    json_t *c = NULL, *m;

    ASSERT(ah_init(&f, &cohere, NULL, 0));
    ASSERT_EQ(ah_parse_sample(&f, "chat_v2_reasoning.json", &c),
              0);
    m = json_array_get(json_object_get(c, "choices"), 0);
    ASSERT_STR_EQ(ah_str(m, "message.content"), "2 + 2 = 4");
    ASSERT_STR_EQ(ah_str(m, "message.reasoning_content"),
                  "Okay, so I need to figure out what 2 + 2 is. Let me start "
                  "by recalling what addition means.");
    ASSERT_STR_EQ(ah_str(m, "finish_reason"), "stop");
    ASSERT_EQ(ah_int(c, "usage.prompt_tokens"), 1394);
    ASSERT_EQ(ah_int(c, "usage.completion_tokens"), 582);
    ASSERT_EQ(ah_int(c, "usage.total_tokens"), 1976);
    ASSERT_EQ(ah_int(c, "usage.prompt_tokens_details.cached_tokens"), 1344);
    json_decref(c);
    ah_free(&f);
}

TEST(cohere_parse_edge_cases)
{
    struct ah f;
    json_t *c = NULL;

    ASSERT(ah_init(&f, &cohere, NULL, 0));
    ASSERT_EQ(ah_parse_text(&f, "{\"message\":", &c), LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "malformed") != NULL);
    ASSERT(c == NULL);
    ASSERT_EQ(ah_parse_text(&f, "[1,2]", &c), LLMUX_EUNAVAIL);
    ASSERT_EQ(ah_parse_text(&f, "{\"id\":\"x\"}", &c), LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "malformed") != NULL);
    /* Only billed_units: used as the fallback; MAX_TOKENS is length. */
    ASSERT_EQ(ah_parse_text(&f, "{\"id\":\"a\",\"finish_reason\":"
                            "\"MAX_TOKENS\","
                            "\"message\":{\"role\":\"assistant\",\"content\":"
                         "[{\"type\":\"text\",\"text\":\"abc\"}]},\"usage\":"
                         "{\"billed_units\":{\"input_tokens\":3,"
                         "\"output_tokens\":4}}}", &c), 0);
    ASSERT_STR_EQ(ah_str(json_array_get(json_object_get(c, "choices"), 0),
                       "finish_reason"), "length");
    ASSERT_EQ(ah_int(c, "usage.prompt_tokens"), 3);
    ASSERT_EQ(ah_int(c, "usage.completion_tokens"), 4);
    json_decref(c);
    c = NULL;
    /* An ERROR finish is a failed answer. */
    ASSERT_EQ(ah_parse_text(&f, "{\"id\":\"a\",\"finish_reason\":\"ERROR\","
                         "\"message\":{\"role\":\"assistant\"}}", &c),
              LLMUX_EUNAVAIL);
    ASSERT(c == NULL);
    ASSERT_EQ(ah_parse_text(&f, "{\"finish_reason\":\"TIMEOUT\","
                            "\"message\":{}}", &c), LLMUX_ETIMEOUT);
    /* Wrong types inside a well-formed object never crash. */
    ASSERT_EQ(ah_parse_text(&f, "{\"finish_reason\":7,\"message\":{\"content\""
                                ":"
                         "[1,{\"type\":\"text\",\"text\":5},null],"
                         "\"tool_calls\":[3,{\"function\":7}]},"
                         "\"usage\":{\"tokens\":[]}}", &c), 0);
    json_decref(c);
    ah_free(&f);
}

/* ------------------------------------------------------------------------
 * Streams
 */

TEST(cohere_stream_text)
{
    size_t n;
    char *p = ah_stream_sample(&cohere, "chat_v2_stream_text.events.jsonl",
                               &n);
    json_t *r;
    json_t *c0;

    ASSERT(p != NULL);
    r = ah_replay_all(&cohere, NULL, p, n, 1);
    ASSERT(ah_expect(r, "{'feed':0,'end':0,"
        "'content':'The capital of France is Paris.','finish':'stop',"
        "'nfinish':1,'roles':1,'bad':0}"));
    ASSERT(json_is_null(ah_get(r, "reasoning")));
    ASSERT_EQ(json_array_size(ah_get(r, "tools")), 0);
    /* The upstream id names the stream; the model is the deployment's. */
    c0 = json_array_get(ah_get(r, "chunks"), 0);
    ASSERT_STR_EQ(ah_str(c0, "id"), "321d178c-2c12-44d3-ae42-2f5510f6b1cc");
    ASSERT_STR_EQ(ah_str(c0, "model"), "command-a-03-2025");
    ASSERT(ah_expect(r, "{'usage.prompt_tokens':507,"
        "'usage.completion_tokens':10,'usage.total_tokens':517,"
        "'usage.prompt_tokens_details.cached_tokens':448}"));
    /* No usage-only chunk: request.c makes that one. */
    ASSERT(json_object_get(json_array_get(ah_get(r, "chunks"),
                           json_array_size(ah_get(r, "chunks")) - 1),
                           "usage") == NULL);
    json_decref(r);
    free(p);
}

TEST(cohere_stream_tool_call)
{
    size_t n;
    char *p = ah_stream_sample(&cohere,
                               "chat_v2_stream_tool_call.events.jsonl", &n);
    json_t *r;
    json_t *calls, *args;

    ASSERT(p != NULL);
    r = ah_replay_all(&cohere, NULL, p, n, 1);
    ASSERT(ah_expect(r, "{'feed':0,'end':0,'bad':0,"
        "'content':'I will use the weather tool to find the weather in San Fr"
        "ancisco and the cityAttractions tool to find attractions in San Fran"
        "cisco.'}"));
    calls = ah_get(r, "tools");
    ASSERT_EQ(json_array_size(calls), 2);
    ASSERT_STR_EQ(ah_str(json_array_get(calls, 0), "id"),
                  "weather_e8p4pn45zt0t");
    ASSERT_STR_EQ(ah_str(json_array_get(calls, 0), "name"), "weather");
    args = json_loads(ah_str(json_array_get(calls, 0), "arguments"), 0, NULL);
    ASSERT(args != NULL);
    ASSERT_STR_EQ(ah_str(args, "location"), "San Francisco");
    json_decref(args);
    ASSERT_STR_EQ(ah_str(json_array_get(calls, 1), "id"),
                  "cityAttractions_pyxssbwnq9fq");
    ASSERT_STR_EQ(ah_str(json_array_get(calls, 1), "name"), "cityAttractions");
    args = json_loads(ah_str(json_array_get(calls, 1), "arguments"), 0, NULL);
    ASSERT(args != NULL);
    ASSERT_STR_EQ(ah_str(args, "city"), "San Francisco");
    json_decref(args);
    ASSERT(ah_expect(r, "{'finish':'tool_calls',"
        "'usage.prompt_tokens':1549,'usage.completion_tokens':95,"
        "'usage.prompt_tokens_details.cached_tokens':1504}"));
    json_decref(r);
    free(p);
}

TEST(cohere_stream_reasoning)
{
    size_t n;
    char *p = ah_stream_sample(&cohere,
                               "chat_v2_stream_reasoning.events.jsonl", &n);
    json_t *r;

    ASSERT(p != NULL);
    r = ah_replay_all(&cohere, NULL, p, n, 1);
    ASSERT(ah_expect(r, "{'feed':0,'end':0,'bad':0,"
        "'content':'The answer to 2 + 2 is 4.','finish':'stop',"
        "'usage.prompt_tokens':1394,'usage.completion_tokens':54,"
        "'usage.prompt_tokens_details.cached_tokens':1360}"));
    ASSERT_STR_EQ(ah_str(r, "reasoning"), "The user is asking for the sum "
                  "of 2 and 2. Since this is a straightforward arithmetic "
                  "problem, I don't need to use any tools. I can calculate "
                  "the answer directly.");
    json_decref(r);
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
    json_t *r;

    r = ah_replay_whole(&cohere, NULL, s, strlen(s));
    ASSERT(ah_expect(r, "{'feed':0,'end':0,'content':'Hi',"
        "'finish':'stop'}"));
    ASSERT(json_is_null(ah_get(r, "usage")));
    json_decref(r);
}

TEST(cohere_stream_errors)
{
    json_t *r;
    const char *s;

    /* finish_reason ERROR in message-end: the stream fails. */
    s = "event: message-start\ndata: {\"id\":\"e\",\"type\":\"message-start\""
        "}\n\nevent: content-delta\ndata: {\"type\":\"content-delta\","
        "\"delta\":{\"message\":{\"content\":{\"text\":\"par\"}}}}\n\n"
        "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":"
        "{\"finish_reason\":\"ERROR\",\"error\":\"internal failure\"}}\n\n";
    r = ah_replay_whole(&cohere, NULL, s, strlen(s));
    ASSERT(ah_int(r, "feed") < 0);
    ASSERT_EQ(ah_int(r, "code"), LLMUX_EUNAVAIL);
    ASSERT(strstr(ah_str(r, "message"), "internal failure") != NULL);
    ASSERT_STR_EQ(ah_str(r, "content"), "par");
    json_decref(r);
    /* An error event. */
    s = "event: error\ndata: {\"type\":\"error\",\"message\":\"rate limit "
        "exceeded\"}\n\n";
    r = ah_replay_whole(&cohere, NULL, s, strlen(s));
    ASSERT(ah_int(r, "feed") < 0);
    ASSERT_EQ(ah_int(r, "code"), LLMUX_ERATELIMIT);
    json_decref(r);
    /* Malformed JSON in an event. */
    s = "event: content-delta\ndata: {\"type\":\"content-delta\",\n\n";
    r = ah_replay_whole(&cohere, NULL, s, strlen(s));
    ASSERT(ah_int(r, "feed") < 0);
    ASSERT_EQ(ah_int(r, "code"), LLMUX_EUNAVAIL);
    ASSERT(strstr(ah_str(r, "message"), "malformed") != NULL);
    json_decref(r);
    /* Cut before message-end: stream_end says so. */
    s = "event: message-start\ndata: {\"id\":\"e\",\"type\":\"message-start\""
        "}\n\n";
    r = ah_replay_whole(&cohere, NULL, s, strlen(s));
    ASSERT_EQ(ah_int(r, "feed"), 0);
    ASSERT_EQ(ah_int(r, "end"), LLMUX_EUNAVAIL);
    ASSERT(strstr(ah_str(r, "message"), "truncated") != NULL);
    json_decref(r);
    /* A delta for a call that never started. */
    s = "data: {\"type\":\"tool-call-delta\",\"index\":3,\"delta\":{\"message"
        "\":{\"tool_calls\":{\"function\":{\"arguments\":\"{\"}}}}}\n\n";
    r = ah_replay_whole(&cohere, NULL, s, strlen(s));
    ASSERT_EQ(ah_int(r, "code"), LLMUX_EUNAVAIL);
    json_decref(r);
    /* Events without the fields they should have never crash. */
    s = "data: {\"type\":\"tool-call-start\"}\n\n"
        "data: {\"type\":\"tool-call-delta\",\"delta\":7}\n\n"
        "data: {\"type\":\"content-delta\",\"delta\":{\"message\":null}}\n\n"
        "data: {\"type\":\"message-end\",\"delta\":{\"usage\":[]}}\n\n";
    r = ah_replay_whole(&cohere, NULL, s, strlen(s));
    ASSERT(ah_expect(r, "{'feed':0,'end':0}"));
    json_decref(r);
}

/* ------------------------------------------------------------------------
 * Errors. No recorded Cohere error body exists (see SOURCES.md); these
 * follow the documented shape {"id": …, "message": …} and status list.
 */

TEST(cohere_map_errors)
{
    struct perr e;

    ASSERT_EQ(ah_try_map(&cohere, 400, "{\"id\":\"1\",\"message\":\"too many "
                                       "tokens: total "
                  "number of tokens in the prompt cannot exceed 128000 - "
                  "received 140000\"}", -1, &e), LLMUX_ECONTEXT);
    ASSERT(strncmp(e.message, "cohere: too many tokens", 23) == 0);
    ASSERT_EQ(e.status, 400);
    ASSERT_EQ(ah_try_map(&cohere, 400, "{\"id\":\"1\",\"message\":\"invalid "
                                       "request: "
                  "message must be at least 1 token long\"}", -1, &e),
              LLMUX_EBADREQ);
    ASSERT_EQ(ah_try_map(&cohere, 401, "{\"id\":\"1\",\"message\":\"invalid "
                                       "api token\"}", -1,
                  &e), LLMUX_EAUTH);
    ASSERT_EQ(ah_try_map(&cohere, 402, "{\"message\":\"billing limit reached\""
                                       "}", -1, &e),
              LLMUX_EPERMISSION);
    ASSERT_EQ(ah_try_map(&cohere, 404, "{\"message\":\"model 'x' not "
                         "found\"}", -1, &e),
              LLMUX_ENOTFOUND);
    ASSERT_EQ(ah_try_map(&cohere, 429, "{\"id\":\"1\",\"message\":\"You are "
                                       "using a Trial "
                  "key, which is limited to 20 API calls / minute.\"}", 12,
                  &e), LLMUX_ERATELIMIT);
    ASSERT(e.retry_after == 12);
    ASSERT_EQ(ah_try_map(&cohere, 429, "{\"message\":\"slow down, retry after "
                                       "3 seconds\"}",
                  -1, &e), LLMUX_ERATELIMIT);
    ASSERT(e.retry_after == 3);
    ASSERT_EQ(ah_try_map(&cohere, 429, "{\"message\":\"slow down\"}", -1, &e),
              LLMUX_ERATELIMIT);
    ASSERT(e.retry_after < 0);
    ASSERT_EQ(ah_try_map(&cohere, 498, "{\"message\":\"blocked by the usage "
                                       "policy\"}", -1,
                  &e), LLMUX_EPOLICY);
    ASSERT_EQ(ah_try_map(&cohere, 499, "{\"message\":\"request cancelled\"}",
                         -1, &e),
              LLMUX_ECANCELLED);
    ASSERT_EQ(ah_try_map(&cohere, 500, "{\"message\":\"internal server error\""
                                       "}", -1, &e),
              LLMUX_EUNAVAIL);
    ASSERT_EQ(ah_try_map(&cohere, 503, "<html>busy</html>", -1, &e),
              LLMUX_EUNAVAIL);
    ASSERT(strstr(e.message, "busy") != NULL);
    ASSERT_EQ(ah_try_map(&cohere, 504, "", -1, &e), LLMUX_ETIMEOUT);
    ASSERT(strstr(e.message, "empty body") != NULL);
    /* The key never survives into a message. */
    ASSERT_EQ(ah_try_map(&cohere, 401, "{\"message\":\"invalid api token "
                                       "test-key\"}", -1,
                  &e), LLMUX_EAUTH);
    ASSERT(strstr(e.message, "test-key") == NULL);
}
