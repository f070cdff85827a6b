/* test-ollama.c -- unit tests of the Ollama adapter
 * (daemon/providers/ollama.c): golden /api/chat requests written from
 * Ollama's API docs, the documented answers (pretty-printed bodies through
 * parse; stream objects compacted one a line, as /api/chat sends them, fed
 * whole, split at every byte and byte by byte), the mid-stream error line,
 * and error mapping. */
#include "test.h"
#include "adapter-harness.h"

#include <jansson.h>

extern const struct provider provider_ollama;

/* ------------------------------------------------------------------------
 * Targets (the harness is adapter-harness.h): Ollama as it comes (no
 * key), and behind a proxy that wants one.
 */

static const char *const headers[] = {
    "Content-Type: application/json", NULL,
};
/* A key means a proxy in front: it goes as a bearer token. */
static const char *const keyed_headers[] = {
    "Content-Type: application/json", "Authorization: Bearer test-key",
    NULL,
};

static const struct ah_target ollama = {
    .prov = &provider_ollama, .preset = "ollama", .model = "llama3.2",
    .api_base = "http://localhost:11434", .headers = headers, .seq = 9,
    .samples = "providers/ollama",
};

static const struct ah_target ollama_keyed = {
    .prov = &provider_ollama, .preset = "ollama", .model = "llama3.2",
    .api_base = "http://localhost:11434", .key = "test-key",
    .headers = keyed_headers, .seq = 9, .samples = "providers/ollama",
};

/* Builds req (no key: Ollama's default): /api/chat, Content-Type only,
 * and want. */
static int golden_ex(const char *req, int stream, int drop, const char *want)
{
    return ah_golden(&ollama, req, stream, drop,
                     "http://localhost:11434/api/chat", want);
}

static int golden(const char *req, int stream, const char *want)
{
    return golden_ex(req, stream, 0, want);
}

/* ------------------------------------------------------------------------
 * Requests
 */

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
    ASSERT(ah_golden(&ollama_keyed, "{\"messages\":[{\"role\":\"user\","
                     "\"content\":\"x\"}]}", 0, 0,
                     "http://localhost:11434/api/chat",
                     "{\"model\":\"llama3.2\",\"stream\":false,"
                     "\"messages\":[{\"role\":\"user\",\"content\":"
                     "\"x\"}]}"));
}

TEST(ollama_request_images)
{
    struct perr e;

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
    ASSERT_EQ(ah_try_build(&ollama,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"https://example.com/cat.png\"}}]}]}", 0, &e),
        LLMUX_EBADREQ);
    ASSERT(strstr(e.message, "data:") != NULL);
    ASSERT_EQ(ah_try_build(&ollama,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"data:image/png,rawbytes\"}}]}]}", 0, &e),
        LLMUX_EBADREQ);
}

#define TOOLS_JSON                                                         \
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"            \
    "\"get_weather\",\"description\":\"Get the weather in a city\","        \
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":"         \
    "{\"type\":\"string\"}},\"required\":[\"city\"]}}}]"

TEST(ollama_request_tools)
{
    struct perr e;

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
    ASSERT_EQ(ah_try_build(&ollama,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}]," TOOLS_JSON ",\"tool_choice\":\"required\"}", 0, &e),
        LLMUX_EBADREQ);
    ASSERT(strstr(e.message, "tool_choice") != NULL);
    ASSERT(golden_ex(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}]," TOOLS_JSON ",\"tool_choice\":{\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\"}}}", 0, 1,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"x\"}]," TOOLS_JSON "}"));
}

TEST(ollama_request_tool_results)
{
    struct perr e;

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
    ASSERT_EQ(ah_try_build(&ollama,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\","
        "\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\",\"function\":"
        "{\"name\":\"f\",\"arguments\":\"not json\"}}]}]}", 0, &e),
        LLMUX_EBADREQ);
    ASSERT(strstr(e.message, "arguments") != NULL);
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
    struct perr e;

    ASSERT(ah_unsupported(&ollama,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}],\"logprobs\":true}", "logprobs"));
    ASSERT(golden_ex(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
        "\"x\"}],\"logprobs\":true}", 0, 1,
        "{\"model\":\"llama3.2\",\"stream\":false,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"x\"}]}"));
    ASSERT_EQ(ah_try_build(&ollama,
        "{\"model\":\"m\",\"messages\":[{\"role\":\"function\",\"content\":"
        "\"x\"}]}", 0, &e), LLMUX_EBADREQ);
    ASSERT_EQ(ah_try_build(&ollama, "{\"model\":\"m\",\"messages\":{}}", 0,
                           &e), LLMUX_EBADREQ);
}

/* ------------------------------------------------------------------------
 * Bodies
 */

TEST(ollama_parse_text)
{
    struct ah f;
    json_t *c = NULL, *ch;

    ASSERT(ah_init(&f, &ollama, NULL, 0));
    ASSERT_EQ(ah_parse_sample(&f, "providers/ollama/chat_nonstream.docs.json",
                         &c), 0);
    ASSERT_STR_EQ(ah_str(c, "object"), "chat.completion");
    ASSERT_STR_EQ(ah_str(c, "model"), "llama3.2");
    ASSERT(strncmp(ah_str(c, "id"), "chatcmpl-", 9) == 0);
    ch = json_array_get(json_object_get(c, "choices"), 0);
    ASSERT_STR_EQ(ah_str(ch, "message.role"), "assistant");
    ASSERT_STR_EQ(ah_str(ch, "message.content"), "Hello! How are you today?");
    ASSERT_STR_EQ(ah_str(ch, "finish_reason"), "stop");
    ASSERT_EQ(ah_int(c, "usage.prompt_tokens"), 26);
    ASSERT_EQ(ah_int(c, "usage.completion_tokens"), 298);
    ASSERT_EQ(ah_int(c, "usage.total_tokens"), 324);
    ASSERT(json_equal(f.pc.usage, json_object_get(c, "usage")));
    json_decref(c);
    ah_free(&f);
}

TEST(ollama_parse_tools)
{
    struct ah f;
    json_t *c = NULL, *ch, *tc, *args;

    ASSERT(ah_init(&f, &ollama, NULL, 0));
    ASSERT_EQ(ah_parse_sample(&f, "chat_nonstream_tools.docs.json", &c), 0);
    ch = json_array_get(json_object_get(c, "choices"), 0);
    /* done_reason stop with calls is OpenAI's tool_calls. */
    ASSERT_STR_EQ(ah_str(ch, "finish_reason"), "tool_calls");
    ASSERT(json_is_null(json_object_get(json_object_get(ch, "message"),
                                        "content")));
    tc = json_object_get(json_object_get(ch, "message"), "tool_calls");
    ASSERT_EQ(json_array_size(tc), 1);
    ASSERT_STR_EQ(ah_str(json_array_get(tc, 0), "id"), "call_0");
    ASSERT_STR_EQ(ah_str(json_array_get(tc, 0), "type"), "function");
    ASSERT_STR_EQ(ah_str(json_array_get(tc, 0), "function.name"),
                  "get_weather");
    /* The object arguments come back as a JSON string. */
    args = json_loads(ah_str(json_array_get(tc, 0), "function.arguments"), 0,
                      NULL);
    ASSERT(json_is_object(args));
    ASSERT_STR_EQ(ah_str(args, "city"), "Tokyo");
    json_decref(args);
    ASSERT_EQ(ah_int(c, "usage.prompt_tokens"), 169);
    ASSERT_EQ(ah_int(c, "usage.completion_tokens"), 18);
    json_decref(c);
    ah_free(&f);
}

TEST(ollama_parse_edge_cases)
{
    struct ah f;
    json_t *c = NULL;
    const char *s;

    ASSERT(ah_init(&f, &ollama, NULL, 0));
    s = "{\"model\":\"x\",\"message\":";
    ASSERT_EQ(ah_parse_text(&f, s, &c), LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "malformed") != NULL);
    s = "{\"model\":\"x\",\"done\":true}";
    ASSERT_EQ(ah_parse_text(&f, s, &c), LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "malformed") != NULL);
    s = "{\"error\":\"an error was encountered while running the model\"}";
    ASSERT_EQ(ah_parse_text(&f, s, &c), LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "running the model") != NULL);
    ASSERT(c == NULL);
    /* length, thinking */
    s = "{\"model\":\"qwen3\",\"message\":{\"role\":\"assistant\",\"content\":"
        "\"abc\",\"thinking\":\"hmm\"},\"done\":true,\"done_reason\":"
        "\"length\",\"prompt_eval_count\":3,\"eval_count\":4}";
    ASSERT_EQ(ah_parse_text(&f, s, &c), 0);
    ASSERT_STR_EQ(ah_str(json_array_get(json_object_get(c, "choices"), 0),
                       "finish_reason"), "length");
    ASSERT_STR_EQ(ah_str(json_array_get(json_object_get(c, "choices"), 0),
                       "message.reasoning_content"), "hmm");
    ASSERT_EQ(ah_int(c, "usage.total_tokens"), 7);
    json_decref(c);
    c = NULL;
    /* Wrong types never crash. */
    s = "{\"model\":5,\"message\":{\"content\":7,\"tool_calls\":[1,"
        "{\"function\":{\"name\":3,\"arguments\":[1]}}]},\"done_reason\":2}";
    ASSERT_EQ(ah_parse_text(&f, s, &c), 0);
    json_decref(c);
    ah_free(&f);
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

TEST(ollama_stream_text)
{
    static const char *const rels[] = {
        "providers/ollama/chat_stream_chunk.docs.json",
        "providers/ollama/chat_stream_final.docs.json", NULL,
    };
    size_t n;
    char *p = ndjson_of(rels, &n);
    json_t *r;

    ASSERT(p != NULL);
    r = ah_replay_all(&ollama, NULL, p, n, 1);
    ASSERT(ah_expect(r, "{'feed':0,'end':0,'bad':0,'content':'The',"
        "'finish':'stop','nfinish':1,'roles':1,'chunks.0.model':'llama3.2',"
        "'usage.prompt_tokens':26,'usage.completion_tokens':282,"
        "'usage.total_tokens':308}"));
    ASSERT_EQ(json_array_size(ah_get(r, "tools")), 0);
    json_decref(r);
    free(p);
}

static int check_tools_stream(const char *p, size_t n)
{
    /* Whole, split at every byte and byte by byte agree... */
    json_t *r = ah_replay_all(&ollama, NULL, p, n, 1), *calls, *args;
    int ok;

    if (r == NULL)
        return 0;
    /* ...on this. */
    calls = ah_get(r, "tools");
    args = json_loads(ah_str(calls, "0.arguments") ?
                      ah_str(calls, "0.arguments") : "", 0, NULL);
    ok = ah_int(r, "feed") == 0 && ah_int(r, "end") == 0 &&
         ah_int(r, "bad") == 0 && json_array_size(calls) == 1 &&
         strcmp(ah_str(calls, "0.id"), "call_0") == 0 &&
         strcmp(ah_str(calls, "0.name"), "get_weather") == 0 &&
         json_is_object(args) && ah_str(args, "city") &&
         strcmp(ah_str(args, "city"), "Tokyo") == 0 &&
         ah_str(r, "finish") &&
         strcmp(ah_str(r, "finish"), "tool_calls") == 0 &&
         ah_int(r, "usage.prompt_tokens") == 169 &&
         ah_int(r, "usage.completion_tokens") == 15 &&
         json_is_null(json_object_get(r, "content"));
    json_decref(args);
    if (!ok) {
        char *s = json_dumps(r, JSON_COMPACT);

        fprintf(stderr, "  tools stream: %s\n", s);
        free(s);
    }
    json_decref(r);
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
    json_t *r;

    ASSERT(p != NULL);
    r = ah_replay_all(&ollama, NULL, p, n, 1);
    ASSERT(ah_expect(r, "{'feed':0,'end':0,'finish':'stop'}"));
    ASSERT_STR_EQ(ah_str(r, "content"), "That's a fantastic question!");
    /* The docs sample has no counts. */
    ASSERT(json_is_null(ah_get(r, "usage")));
    json_decref(r);
    free(p);
}

TEST(ollama_stream_midstream_error)
{
    size_t n;
    char *p = chat_of_generate(
        "providers/ollama/generate_stream_midstream_error.docs.ndjson", &n);
    char *raw;
    json_t *r;

    /* Text first, then {"error": …} with the status long sent. */
    ASSERT(p != NULL);
    r = ah_replay_all(&ollama, NULL, p, n, 1);
    ASSERT(r != NULL);
    ASSERT(ah_int(r, "feed") < 0);
    ASSERT_EQ(ah_int(r, "code"), LLMUX_EUNAVAIL);
    ASSERT(ah_expect(r, "{'message':'ollama: an error was encountered "
        "while running the model','content':' Yes.Ican'}"));
    ASSERT(ah_str(r, "finish") == NULL);
    json_decref(r);
    free(p);
    /* The raw /api/generate lines: no message to read, the error still
     * stops the stream. */
    raw = test_read_file(conformance_path(
        "providers/ollama/generate_stream_midstream_error.docs.ndjson"), &n);
    ASSERT(raw != NULL);
    r = ah_replay_whole(&ollama, NULL, raw, n);
    ASSERT_EQ(ah_int(r, "code"), LLMUX_EUNAVAIL);
    ASSERT_EQ(ah_int(r, "nchunks"), 0);
    json_decref(r);
    free(raw);
}

TEST(ollama_stream_edge_cases)
{
    json_t *r;
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
    r = ah_replay_all(&ollama, NULL, s, strlen(s), 1);
    ASSERT(ah_expect(r, "{'feed':0,'end':0,'reasoning':'Let me think',"
        "'content':'ok','finish':'length','usage.total_tokens':3}"));
    ASSERT_EQ(json_array_size(ah_get(r, "tools")), 2);
    ASSERT_STR_EQ(ah_str(json_array_get(ah_get(r, "tools"), 0),
                       "id"), "call_0");
    ASSERT_STR_EQ(ah_str(json_array_get(ah_get(r, "tools"), 0),
                       "arguments"), "{\"x\":1}");
    ASSERT_STR_EQ(ah_str(json_array_get(ah_get(r, "tools"), 1),
                       "id"), "own");
    json_decref(r);
    /* Malformed line. */
    s = "{\"model\":\"x\",\"message\":{\"content\":\"a\"}\n";
    r = ah_replay_whole(&ollama, NULL, s, strlen(s));
    ASSERT(ah_int(r, "feed") < 0);
    ASSERT_EQ(ah_int(r, "code"), LLMUX_EUNAVAIL);
    ASSERT(strstr(ah_str(r, "message"), "malformed") != NULL);
    json_decref(r);
    /* Cut before done:true. */
    s = "{\"model\":\"x\",\"message\":{\"content\":\"a\"},\"done\":false}\n";
    r = ah_replay_whole(&ollama, NULL, s, strlen(s));
    ASSERT_EQ(ah_int(r, "end"), LLMUX_EUNAVAIL);
    ASSERT(strstr(ah_str(r, "message"), "truncated") != NULL);
    ASSERT_STR_EQ(ah_str(r, "content"), "a");
    json_decref(r);
    /* An error that speaks of the context window. */
    s = "{\"error\":\"the input is too long for the model's context "
        "window\"}\n";
    r = ah_replay_whole(&ollama, NULL, s, strlen(s));
    ASSERT_EQ(ah_int(r, "code"), LLMUX_ECONTEXT);
    json_decref(r);
    /* Wrong types never crash. */
    s = "{\"message\":[1],\"done\":\"yes\"}\n{\"message\":{\"tool_calls\":"
        "[7,{\"function\":[]}]}}\n[]\n";
    r = ah_replay_whole(&ollama, NULL, s, strlen(s));
    /* The last line is no object. */
    ASSERT_EQ(ah_int(r, "code"), LLMUX_EUNAVAIL);
    json_decref(r);
}

/* ------------------------------------------------------------------------
 * Errors: Ollama's {"error": "…"} bodies (docs/api/errors.mdx shape).
 */

TEST(ollama_map_errors)
{
    struct perr e;

    ASSERT_EQ(ah_try_map(&ollama_keyed, 404, "{\"error\":\"model "
                         "\\\"llama3\\\" not found, try pulling it first\"}",
                         -1, &e), LLMUX_ENOTFOUND);
    ASSERT_STR_EQ(e.message, "ollama: model \"llama3\" not found, try "
                  "pulling it first");
    ASSERT_EQ(e.status, 404);
    ASSERT_EQ(ah_try_map(&ollama_keyed, 400, "{\"error\":\"invalid format: "
                                             "expected \\\"json\\\" "
                  "or a JSON schema\"}", -1, &e), LLMUX_EBADREQ);
    ASSERT_EQ(ah_try_map(&ollama_keyed, 500, "{\"error\":\"an error was "
                                             "encountered while running "
                  "the model\"}", -1, &e), LLMUX_EUNAVAIL);
    ASSERT_EQ(ah_try_map(&ollama_keyed, 429, "{\"error\":\"too many requests\""
                                             "}", 2.5, &e),
              LLMUX_ERATELIMIT);
    ASSERT(e.retry_after == 2.5);
    ASSERT_EQ(ah_try_map(&ollama_keyed, 401, "{\"error\":\"bad token "
                                             "test-key\"}", -1, &e),
              LLMUX_EAUTH);
    ASSERT(strstr(e.message, "test-key") == NULL);
    /* A proxy's HTML page. */
    ASSERT_EQ(ah_try_map(&ollama_keyed, 502, "<html>Bad Gateway</html>", -1,
                         &e), LLMUX_EUNAVAIL);
    ASSERT(strstr(e.message, "Bad Gateway") != NULL);
}
