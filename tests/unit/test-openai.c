/* test-openai.c -- unit tests of the OpenAI adapter
 * (daemon/providers/openai.c): the rules of OpenAI's reasoning models
 * (o1, o3, o4-mini; o1-mini and o1-preview; gpt-5) as golden requests,
 * and DeepSeek's answers (reasoning_content in OpenAI's shape) replayed
 * through provider_openai with the deepseek preset, bodies and streams,
 * which must come out as they went in; and streams cut before their
 * terminator, which must fail. */
#include "test.h"
#include "adapter-harness.h"

#include <jansson.h>

#define OPENAI_URL "https://api.openai.com/v1/chat/completions"

static const char *const headers[] = {
    "Content-Type: application/json", "Authorization: Bearer test-key",
    NULL,
};

static const struct ah_target openai = {
    .prov = &provider_openai, .preset = "openai", .model = "o3-mini",
    .api_base = "https://api.openai.com/v1", .key = "test-key",
    .headers = headers, .seq = 5,
};

static const struct ah_target deepseek = {
    .prov = &provider_openai, .preset = "deepseek",
    .model = "deepseek-reasoner", .api_base = "https://api.deepseek.com",
    .key = "test-key", .headers = headers, .seq = 5,
    .samples = "providers/deepseek", .eol = "\n",
};

/* req built for model (of the openai preset), drop_params as given:
 * the chat/completions URL, the two headers, and want. */
static int golden(const char *model, const char *req, int drop,
                  const char *want)
{
    struct ah_target t = openai;

    t.model = model;
    return ah_golden(&t, req, 0, drop, OPENAI_URL, want);
}

/* req for model refused for param: a bad_request naming it. */
static int refused(const char *model, const char *req, const char *param)
{
    struct ah_target t = openai;

    t.model = model;
    return ah_unsupported(&t, req, param);
}

/* ------------------------------------------------------------------------
 * o-series
 */

TEST(openai_o_series_developer_and_max_completion_tokens)
{
    /* system becomes developer (o1 and later take it; system is only
     * mapped to it); max_tokens is max_completion_tokens; temperature 1
     * (the only value) and reasoning_effort pass. */
    ASSERT(golden("o3-mini", "{'model':'x','messages':["
        "{'role':'system','content':'Be brief.'},"
        "{'role':'user','content':'Hi'}],"
        "'max_tokens':300,'temperature':1,'reasoning_effort':'high'}", 0,
        "{'model':'o3-mini','messages':["
        "{'role':'developer','content':'Be brief.'},"
        "{'role':'user','content':'Hi'}],"
        "'max_completion_tokens':300,'temperature':1,"
        "'reasoning_effort':'high'}"));
    /* o1 and o4-mini alike, developer messages as they are; an explicit
     * max_completion_tokens wins over max_tokens. */
    ASSERT(golden("o1", "{'messages':[{'role':'developer','content':'R'},"
        "{'role':'user','content':'Hi'}],'max_tokens':10,"
        "'max_completion_tokens':20}", 0,
        "{'model':'o1','messages':[{'role':'developer','content':'R'},"
        "{'role':'user','content':'Hi'}],'max_completion_tokens':20}"));
    ASSERT(golden("o4-mini-2025-04-16", "{'messages':[{'role':'system',"
        "'content':[{'type':'text','text':'S'}]}]}", 0,
        "{'model':'o4-mini-2025-04-16','messages':[{'role':'developer',"
        "'content':[{'type':'text','text':'S'}]}]}"));
}

TEST(openai_o_series_legacy_o1_mini_user)
{
    /* The September 2024 o1-mini and o1-preview take neither system nor
     * developer messages: they go as user messages, as LiteLLM sends
     * them. */
    ASSERT(golden("o1-mini", "{'messages':[{'role':'system','content':'S'},"
        "{'role':'developer','content':'D'},{'role':'user','content':'U'}],"
        "'max_tokens':5}", 0,
        "{'model':'o1-mini','messages':[{'role':'user','content':'S'},"
        "{'role':'user','content':'D'},{'role':'user','content':'U'}],"
        "'max_completion_tokens':5}"));
    ASSERT(golden("o1-preview-2024-09-12", "{'messages':[{'role':'system',"
        "'content':'S'}]}", 0, "{'model':'o1-preview-2024-09-12',"
        "'messages':[{'role':'user','content':'S'}]}"));
}

TEST(openai_o_series_sampling_refused)
{
    static const char *const params[] = {
        "top_p", "presence_penalty", "frequency_penalty", "logprobs",
        "top_logprobs",
    };
    char req[256];

    /* temperature other than 1: a bad_request naming it... */
    ASSERT(refused("o3", "{'messages':[{'role':'user','content':'Hi'}],"
                   "'temperature':0.2}", "temperature"));
    ASSERT(refused("o1-mini", "{'messages':[{'role':'user','content':'Hi'}],"
                   "'temperature':0}", "temperature"));
    /* ...dropped with drop_params, with the sampling parameters the
     * o-series refuses. */
    ASSERT(golden("o3", "{'messages':[{'role':'user','content':'Hi'}],"
        "'temperature':0.2,'top_p':0.9,'presence_penalty':0.1,"
        "'frequency_penalty':0.2,'logprobs':true,'top_logprobs':2,"
        "'seed':7}", 1,
        "{'model':'o3','messages':[{'role':'user','content':'Hi'}],"
        "'seed':7}"));
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        snprintf(req, sizeof(req), "{'messages':[{'role':'user','content':"
                 "'Hi'}],'%s':%s}", params[i],
                 strcmp(params[i], "logprobs") == 0 ? "true" : "1");
        ASSERT(refused("o4-mini", req, params[i]));
    }
    /* null is no value: nothing to refuse. */
    ASSERT(golden("o3", "{'messages':[{'role':'user','content':'Hi'}],"
        "'temperature':null}", 0, "{'model':'o3','messages':[{'role':"
        "'user','content':'Hi'}],'temperature':null}"));
}

TEST(openai_reasoning_rules_scope)
{
    /* gpt-5 refuses max_tokens; its sampling depends on the version and
     * reasoning_effort (gpt-5.1 takes temperature with "none"), so it is
     * left to the upstream, and system stays system. */
    ASSERT(golden("gpt-5", "{'messages':[{'role':'system','content':'S'}],"
        "'max_tokens':9,'temperature':0.5}", 0,
        "{'model':'gpt-5','messages':[{'role':'system','content':'S'}],"
        "'max_completion_tokens':9,'temperature':0.5}"));
    /* gpt-5-chat is a chat model, gpt-4o and o-less names untouched. */
    ASSERT(golden("gpt-5-chat-latest", "{'messages':[],'max_tokens':9}", 0,
        "{'model':'gpt-5-chat-latest','messages':[],'max_tokens':9}"));
    ASSERT(golden("gpt-4o", "{'messages':[{'role':'system','content':'S'}],"
        "'max_tokens':9,'temperature':0.2}", 0,
        "{'model':'gpt-4o','messages':[{'role':'system','content':'S'}],"
        "'max_tokens':9,'temperature':0.2}"));
    ASSERT(golden("o10x", "{'messages':[],'temperature':0.2}", 0,
        "{'model':'o10x','messages':[],'temperature':0.2}"));
}

TEST(openai_reasoning_rules_only_openai_and_azure)
{
    /* A model named o3 behind another preset is that provider's. */
    struct ah_target t = deepseek;

    t.model = "o3";
    ASSERT(ah_golden(&t, "{'messages':[{'role':'system','content':'S'}],"
        "'max_tokens':3,'temperature':0.2}", 0, 0,
        "https://api.deepseek.com/chat/completions",
        "{'model':'o3','messages':[{'role':'system','content':'S'}],"
        "'max_tokens':3,'temperature':0.2}"));
}

/* ------------------------------------------------------------------------
 * DeepSeek: reasoning_content arrives in OpenAI's shape and must pass.
 */

/* name's body through parse: the completion is the body, and the usage
 * recorded is its usage (reasoning tokens included). */
static int body_passes(const char *name)
{
    char rel[128];
    size_t n;
    char *p;
    json_t *want, *c = NULL;
    struct ah f;
    int ok;

    snprintf(rel, sizeof(rel), "providers/deepseek/%s", name);
    if ((p = ah_sample(rel, &n)) == NULL)
        return 0;
    want = json_loadb(p, n, 0, NULL);
    ah_init(&f, &deepseek, NULL, 0);
    ok = ah_parse(&f, p, n, &c) == 0 && ah_same(c, want) &&
         ah_same(f.pc.usage, json_object_get(want, "usage"));
    json_decref(c);
    json_decref(want);
    ah_free(&f);
    free(p);
    return ok;
}

TEST(openai_deepseek_bodies_pass)
{
    json_t *c = NULL;
    struct ah f;

    ASSERT(body_passes("nonstream_reasoning.json"));
    ASSERT(body_passes("nonstream_tool_call.json"));
    ASSERT(body_passes("nonstream_text.json"));
    ah_init(&f, &deepseek, NULL, 0);
    ASSERT_EQ(ah_parse_sample(&f, "nonstream_reasoning.json", &c), 0);
    ASSERT(strncmp(ah_str(c, "choices.0.message.reasoning_content"),
                   "We are asked: \"How many 'r's are in the word", 44) == 0);
    ASSERT(ah_expect(c, "{'usage.completion_tokens_details':"
                     "{'reasoning_tokens':315}}"));
    json_decref(c);
    ah_free(&f);
}

/* name's chunks (one a line) through the stream hooks, whole, split at
 * every stride-th byte and byte by byte: chunk for chunk what was sent
 * but usage, which is recorded (the last one's) instead. *ret the
 * whole replay. */
static int stream_passes(const char *name, size_t stride, json_t **ret)
{
    char rel[128], *raw, *line, *save = NULL;
    json_t *w, *want = json_array(), *usage = NULL, *j;
    size_t n;
    char *p = ah_stream_sample(&deepseek, name, &n);
    int ok;

    snprintf(rel, sizeof(rel), "providers/deepseek/%s", name);
    raw = ah_sample(rel, NULL);
    for (line = raw ? strtok_r(raw, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        j = json_loads(line, 0, NULL);
        if (json_is_object(json_object_get(j, "usage"))) {
            json_decref(usage);
            usage = json_incref(json_object_get(j, "usage"));
        }
        json_object_del(j, "usage");
        json_array_append_new(want, j);
    }
    w = p ? ah_replay_all(&deepseek, NULL, p, n, stride) : NULL;
    ok = w && json_array_size(want) > 0 && ah_int(w, "rc") == 0 &&
         ah_same(ah_get(w, "chunks"), want) &&
         ah_same(ah_get(w, "usage"), usage);
    json_decref(want);
    json_decref(usage);
    free(raw);
    free(p);
    *ret = w;
    return ok;
}

TEST(openai_deepseek_reasoning_stream_passes)
{
    json_t *w;
    const char *r;

    ASSERT(stream_passes("stream_reasoning.chunks.jsonl", 1009, &w));
    ASSERT(ah_expect(w, "{'bad':0,'finish':'stop','nfinish':1,"
        "'usage.completion_tokens_details':{'reasoning_tokens':205}}"));
    ASSERT_STR_EQ(ah_str(w, "content"),
                  "The word \"strawberry\" contains three \"r\"s.");
    /* The reasoning, joined: all of it, from its first words to its
     * last. */
    r = ah_str(w, "reasoning");
    ASSERT(r != NULL);
    ASSERT_EQ(strlen(r), 606);
    ASSERT(strncmp(r, "We need to count the number of the letter \"r\"",
                   45) == 0);
    ASSERT_STR_EQ(r + strlen(r) - 22, "Thus, the answer is 3.");
    json_decref(w);
}

TEST(openai_deepseek_tool_call_stream_passes)
{
    json_t *w;

    ASSERT(stream_passes("stream_tool_call.chunks.jsonl", 97, &w));
    ASSERT(ah_expect(w, "{'bad':0,'finish':'tool_calls','content':'',"
        "'tools.#':1,'tools.0.id':'call_00_ioIn7yN9p1ZOMNpDLwd4MgAF',"
        "'tools.0.name':'weather',"
        "'tools.0.arguments':{'location':'San Francisco'},"
        "'usage.prompt_tokens_details':{'cached_tokens':320},"
        "'usage.completion_tokens_details':{'reasoning_tokens':39}}"));
    ASSERT_EQ(strlen(ah_str(w, "reasoning")), 191);
    json_decref(w);
}

TEST(openai_deepseek_text_stream_passes)
{
    json_t *w;

    ASSERT(stream_passes("stream_text.chunks.jsonl", 1499, &w));
    ASSERT(ah_expect(w, "{'bad':0,'finish':'length','reasoning':null,"
        "'usage.completion_tokens':400}"));
    ASSERT_EQ(strlen(ah_str(w, "content")), 1859);
    json_decref(w);
}

/* ------------------------------------------------------------------------
 * Framing failures are told apart (they were all "over 4 MiB").
 */

static int refuse(void *ud, json_t *chunk)
{
    (void)ud;
    json_decref(chunk);
    return -1;
}

TEST(openai_stream_failures_named)
{
    static const char one[] = "data: {\"id\":\"c\",\"object\":"
        "\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
        "{\"content\":\"x\"},\"finish_reason\":null}]}\n\n";
    struct ah f;
    char *big;

    /* The caller went away: emit refused the chunk. */
    ah_init(&f, &deepseek, NULL, 1);
    f.pc.emit = refuse;
    ASSERT_EQ(f.pc.prov->stream_feed(&f.pc, one, sizeof(one) - 1),
              LLMUX_ECLOSED);
    ASSERT_EQ(f.pc.err.code, LLMUX_ECLOSED);
    ASSERT_STR_EQ(f.pc.err.message, "the caller went away");
    ah_free(&f);
    /* An event over the cap: the upstream's fault. */
    big = malloc(5u << 20);
    ASSERT(big != NULL);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'a', (5u << 20) - 6);
    ah_init(&f, &deepseek, NULL, 1);
    ASSERT_EQ(f.pc.prov->stream_feed(&f.pc, big, 5u << 20), LLMUX_ETOOBIG);
    ASSERT_EQ(f.pc.err.code, LLMUX_EUNAVAIL);
    ASSERT_STR_EQ(f.pc.err.message, "deepseek sent a stream event over "
                  "4 MiB");
    ah_free(&f);
    free(big);
}

/* ------------------------------------------------------------------------
 * The recorded OpenAI streams: every delta, every tool-call fragment and
 * the usage come out. What to expect is read from the recording itself,
 * event by event, independently of the adapter.
 */

static const struct ah_target recorded = {
    .prov = &provider_openai, .preset = "openai", .model = "gpt-4o",
    .api_base = "https://api.openai.com/v1", .key = "test-key",
    .headers = headers, .seq = 5, .samples = "providers/openai",
    .eol = "\n",
};

/* From the raw SSE file: choice 0's joined content, each tool call's
 * joined arguments (by index) and the last usage. */
static void expected_of(const char *rel, struct buf *text, json_t *args,
                        json_t **usage)
{
    size_t n;
    char *p = ah_sample(rel, &n), *line, *save = NULL;

    for (line = strtok_r(p, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j, *c, *tc;
        size_t i;

        if (strncmp(line, "data: {", 7) != 0)
            continue;
        j = json_loads(line + 6, 0, NULL);
        if (json_object_get(j, "usage") && !json_is_null(
                json_object_get(j, "usage"))) {
            json_decref(*usage);
            *usage = json_incref(json_object_get(j, "usage"));
        }
        c = json_array_get(json_object_get(j, "choices"), 0);
        if (c && json_integer_value(json_object_get(c, "index")) == 0) {
            json_t *d = json_object_get(c, "delta");
            const char *s = json_string_value(json_object_get(d,
                                                              "content"));

            if (s)
                buf_adds(text, s);
            json_array_foreach(json_object_get(d, "tool_calls"), i, tc) {
                json_int_t k = json_integer_value(json_object_get(tc,
                                                                  "index"));
                const char *a = json_string_value(json_object_get(
                    json_object_get(tc, "function"), "arguments"));

                while ((json_int_t)json_array_size(args) <= k)
                    json_array_append_new(args, json_string(""));
                if (a) {
                    char *joined;

                    if (asprintf(&joined, "%s%s", json_string_value(
                            json_array_get(args, (size_t)k)), a) >= 0) {
                        json_array_set_new(args, (size_t)k,
                                           json_string(joined));
                        free(joined);
                    }
                }
            }
        }
        json_decref(j);
    }
    free(p);
}

static int recorded_stream_ok(const char *name, size_t stride)
{
    char rel[128];
    struct buf text;
    json_t *args = json_array(), *usage = NULL, *w, *tools, *t;
    size_t i;
    int ok;

    snprintf(rel, sizeof(rel), "providers/openai/%s", name);
    buf_init(&text, 1 << 20);
    expected_of(rel, &text, args, &usage);
    w = ah_replay_sample(&recorded, NULL, name, stride);
    ok = w && ah_int(w, "rc") == 0 && ah_int(w, "bad") == 0 &&
         usage && ah_same(ah_get(w, "usage"), usage);
    if (ok && text.len)
        ok = ah_str(w, "content") && strcmp(ah_str(w, "content"),
                                            text.p) == 0;
    tools = w ? ah_get(w, "tools") : NULL;
    ok = ok && json_array_size(tools) == json_array_size(args);
    json_array_foreach(tools, i, t) {
        const char *a = json_string_value(json_object_get(t, "arguments"));
        json_t *parsed = a ? json_loads(a, 0, NULL) : NULL;

        ok = ok && a && strcmp(a, json_string_value(json_array_get(args,
                                                                   i))) == 0
             && json_is_object(parsed) && json_object_get(t, "name");
        json_decref(parsed);
    }
    if (!ok)
        fprintf(stderr, "  %s: the replay does not match the recording\n",
                name);
    json_decref(w);
    json_decref(args);
    json_decref(usage);
    buf_free(&text);
    return ok;
}

TEST(openai_recorded_streams_every_delta_and_usage)
{
    ASSERT(recorded_stream_ok("stream_text.sse", 1));
    ASSERT(recorded_stream_ok("stream_tool_call.sse", 1));
    ASSERT(recorded_stream_ok("stream_parallel_tool_calls.sse", 3));
}

/* ------------------------------------------------------------------------
 * The fast path (pc->emit_json: chunks packed from their JSON text) gives
 * the caller exactly what the tree path gives, for every OpenAI-compatible
 * recording, including DeepSeek's "usage":null chunks and Groq's x_groq.
 */

static int collect_json(void *ud, const char *json, size_t len)
{
    json_t *j = json_loadb(json, len, 0, NULL);

    return j ? json_array_append_new(ud, j) : -1;
}

static json_t *replay_fast(const struct ah_target *t, const char *p,
                           size_t n, int fast)
{
    struct ah f;
    json_t *w;

    if (!ah_init(&f, t, NULL, 1))
        return NULL;
    if (fast)
        f.pc.emit_json = collect_json;
    w = ah_replay(&f, p, n, NULL, 0);
    ah_free(&f);
    return w;
}

static int same_both_ways(const char *samples, const char *name)
{
    struct ah_target t = recorded;
    json_t *slow, *fast;
    size_t n;
    char *p;
    int ok;

    t.samples = samples;
    p = ah_stream_sample(&t, name, &n);
    slow = p ? replay_fast(&t, p, n, 0) : NULL;
    fast = p ? replay_fast(&t, p, n, 1) : NULL;
    ok = slow && fast && ah_int(slow, "rc") == 0 &&
         json_array_size(ah_get(slow, "chunks")) > 0 &&
         ah_same(ah_get(fast, "chunks"), ah_get(slow, "chunks")) &&
         ah_same(ah_get(fast, "usage"), ah_get(slow, "usage"));
    if (!ok)
        fprintf(stderr, "  %s/%s: fast and tree paths differ\n", samples,
                name);
    json_decref(slow);
    json_decref(fast);
    free(p);
    return ok;
}

TEST(openai_fast_path_matches_tree_path)
{
    static const char *const cases[][2] = {
        { "providers/openai", "stream_text.sse" },
        { "providers/openai", "stream_tool_call.sse" },
        { "providers/openai", "stream_parallel_tool_calls.sse" },
        { "providers/openai", "stream_n3_multiple_choices.sse" },
        { "providers/deepseek", "stream_text.chunks.jsonl" },
        { "providers/deepseek", "stream_reasoning.chunks.jsonl" },
        { "providers/deepseek", "stream_tool_call.chunks.jsonl" },
        { "providers/groq", "stream_text.chunks.jsonl" },
        { "providers/groq", "stream_tool_call.chunks.jsonl" },
        { "providers/mistral", "stream_text.chunks.jsonl" },
        { "providers/mistral", "stream_tool_call.chunks.jsonl" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ASSERT(same_both_ways(cases[i][0], cases[i][1]));
}

/* ------------------------------------------------------------------------
 * Break 6: a stream that ends without its terminator ([DONE], or a
 * finish_reason for each of the n choices) was cut, and says so, on the
 * tree path and on the fast path alike.
 */

#define CHUNK(i, content, fin)                                              \
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1," \
    "\"model\":\"gpt-4o\",\"choices\":[{\"index\":" #i ",\"delta\":"       \
    "{\"content\":\"" content "\"},\"finish_reason\":" fin "}]}\n\n"

static json_t *replay_req(const char *req, const char *p, int fast)
{
    struct ah f;
    json_t *w;

    if (!ah_init(&f, &recorded, req, 1))
        return NULL;
    if (fast)
        f.pc.emit_json = collect_json;
    w = ah_replay(&f, p, strlen(p), NULL, 0);
    ah_free(&f);
    return w;
}

/* p (with request req) ends the way it must, both ways: complete (want
 * NULL), or cut with want in the message after nchunks chunks. */
static int ends_as(const char *req, const char *p, const char *want,
                   size_t nchunks)
{
    for (int fast = 0; fast < 2; fast++) {
        json_t *w = replay_req(req, p, fast);
        const char *m = w ? ah_str(w, "message") : NULL;
        int ok = w && (want ? ah_int(w, "code") == LLMUX_EUNAVAIL &&
                       m && strstr(m, want) != NULL :
                       ah_int(w, "rc") == 0 && ah_int(w, "code") == 0) &&
                 json_array_size(ah_get(w, "chunks")) == nchunks;

        if (!ok) {
            char *d = w ? json_dumps(w, JSON_COMPACT) : NULL;

            fprintf(stderr, "  %s path: %s\n", fast ? "fast" : "tree",
                    d ? d : "(none)");
            free(d);
        }
        json_decref(w);
        if (!ok)
            return 0;
    }
    return 1;
}

TEST(openai_stream_cut_without_terminator)
{
    /* The report's case: two content chunks, then the end of the body. */
    ASSERT(ends_as(NULL, CHUNK(0, "Hel", "null") CHUNK(0, "lo", "null"),
                   "openai: the stream was cut: it ended without [DONE] "
                   "or a finish_reason", 2));
    /* A finish_reason spelled inside the content is text, not a key. */
    ASSERT(ends_as(NULL, CHUNK(0, "\\\"finish_reason\\\":\\\"stop\\\"",
                               "null"), "the stream was cut", 1));
    /* Only a role chunk. */
    ASSERT(ends_as(NULL, CHUNK(0, "", "null"), "the stream was cut", 1));
}

TEST(openai_stream_html_body_is_cut)
{
    ASSERT(ends_as(NULL, "<!DOCTYPE html>\n<html><body>Sign in to the "
                   "network</body></html>\n", "without a single stream "
                   "event", 0));
    ASSERT(ends_as(NULL, "", "without a single stream event", 0));
}

TEST(openai_stream_terminators)
{
    /* OpenAI's: [DONE] (here even without a finish_reason). */
    ASSERT(ends_as(NULL, CHUNK(0, "a", "null") "data: [DONE]\n\n", NULL, 1));
    /* Compatible servers that close after the finish chunk, with or
     * without a usage chunk after it, and spaced JSON. */
    ASSERT(ends_as(NULL, CHUNK(0, "a", "null") CHUNK(0, "", "\"stop\""),
                   NULL, 2));
    ASSERT(ends_as(NULL, CHUNK(0, "a", "null") CHUNK(0, "", "\"length\"")
                   "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\","
                   "\"choices\":[],\"usage\":{\"prompt_tokens\":1,"
                   "\"completion_tokens\":1,\"total_tokens\":2}}\n\n",
                   NULL, 2));
    ASSERT(ends_as(NULL, "data: {\"id\": \"c\", \"object\": "
                   "\"chat.completion.chunk\", \"created\": 1, \"model\": "
                   "\"m\", \"choices\": [{\"index\": 0, \"delta\": "
                   "{\"content\": \"a\"}, \"finish_reason\": \"stop\"}]}\n\n",
                   NULL, 1));
}

/* n = 1: the finish must be in the last chunk with choices; content
 * after it and then the end of the body is a cut. A chunk too large to
 * keep is looked at as it passes. */
TEST(openai_stream_finish_must_be_last)
{
    char *big;
    size_t k = 0;

    ASSERT(ends_as(NULL, CHUNK(0, "a", "\"stop\"") CHUNK(0, "b", "null"),
                   "the stream was cut", 2));
    big = malloc(6000 + 1024);
    ASSERT(big != NULL);
    k += (size_t)snprintf(big, 512, "%sdata: {\"id\":\"c\",\"object\":"
                          "\"chat.completion.chunk\",\"created\":1,"
                          "\"model\":\"m\",\"choices\":[{\"index\":0,"
                          "\"delta\":{\"content\":\"",
                          CHUNK(0, "a", "null"));
    memset(big + k, 'x', 6000);
    k += 6000;
    snprintf(big + k, 512, "\"},\"finish_reason\":\"stop\"}]}\n\n");
    ASSERT(ends_as(NULL, big, NULL, 2));
    free(big);
}

TEST(openai_stream_every_choice_must_finish)
{
    /* n = 2: one finished choice is not the end. */
    ASSERT(ends_as("{'n': 2}", CHUNK(0, "a", "null") CHUNK(1, "b", "null")
                   CHUNK(0, "", "\"stop\""), "the stream was cut", 3));
    /* The same choice finishing twice counts once. */
    ASSERT(ends_as("{'n': 2}", CHUNK(0, "", "\"stop\"")
                   CHUNK(0, "", "\"stop\""), "the stream was cut", 2));
    ASSERT(ends_as("{'n': 2}", CHUNK(0, "a", "null") CHUNK(1, "b", "null")
                   CHUNK(0, "", "\"stop\"") CHUNK(1, "", "\"stop\""), NULL,
                   4));
}
