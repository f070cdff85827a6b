/* test-anthropic.c -- unit tests of the Anthropic Messages adapter
 * (daemon/providers/anthropic.c).
 * Golden requests (hub request in -> exact URL, headers and a body compared
 * semantically with what the Messages API reference describes), every
 * recorded sample of conformance/providers/anthropic/ replayed through parse
 * and stream_feed (whole, split at every byte, byte by byte), error bodies
 * through map_error, and malformed or truncated upstream input. */
#include "test.h"
#include "config.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"

#include <jansson.h>

extern const struct provider provider_anthropic;

/* ------------------------------------------------------------------------
 * Helpers
 */

struct fx {
    struct deployment dep;
    struct pcall      pc;
    json_t           *chunks;    /* every chunk emitted */
};

static int collect(void *ud, json_t *chunk)
{
    return json_array_append_new(ud, chunk);
}

/* JSON written with ' for " (none of these texts holds an apostrophe). */
static json_t *J(const char *text)
{
    char *s = strdup(text);
    json_error_t e;
    json_t *j;

    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    j = json_loads(s, 0, &e);
    if (j == NULL)
        fprintf(stderr, "  bad test JSON (%s): %s\n", e.text, s);
    free(s);
    return j;
}

static void fx_init(struct fx *f, const char *req, int stream)
{
    memset(f, 0, sizeof(*f));
    f->dep.model_name = (char *)"claude";
    f->dep.preset = preset_find("anthropic", 9);
    f->dep.prov = &provider_anthropic;
    f->dep.upstream_model = (char *)"claude-sonnet-4-5";
    f->dep.api_base = (char *)"https://api.anthropic.com";
    f->dep.api_key = secret_new("test-key", 8);
    f->pc.prov = &provider_anthropic;
    f->pc.dep = &f->dep;
    f->pc.req = req ? J(req) : json_object();
    f->pc.stream = stream;
    f->pc.seq = 42;
    f->chunks = json_array();
    f->pc.emit = collect;
    f->pc.emit_ud = f->chunks;
    f->pc.err.retry_after = -1;
}

static void fx_free(struct fx *f)
{
    if (f->pc.state)
        provider_anthropic.stream_free(&f->pc);
    json_decref((json_t *)f->pc.req);
    json_decref(f->pc.usage);
    json_decref(f->chunks);
    secret_free(f->dep.api_key);
}

/* got == want (a J() text), or both are printed. */
static int same(const json_t *got, const char *want_text)
{
    json_t *want = J(want_text);
    int ok = want && got && json_equal(got, want);

    if (!ok) {
        char *g = got ? json_dumps(got, JSON_INDENT(1) | JSON_SORT_KEYS) :
                  NULL, *w = want ? json_dumps(want, JSON_INDENT(1) |
                                               JSON_SORT_KEYS) : NULL;

        fprintf(stderr, "  got:  %s\n  want: %s\n", g ? g : "(null)",
                w ? w : "(null)");
        free(g);
        free(w);
    }
    json_decref(want);
    return ok;
}

static int has_header(const struct http_req *h, const char *line)
{
    for (const struct curl_slist *s = h->headers; s; s = s->next)
        if (strcmp(s->data, line) == 0)
            return 1;
    fprintf(stderr, "  missing header \"%s\"\n", line);
    return 0;
}

static int nheaders(const struct http_req *h)
{
    int n = 0;

    for (const struct curl_slist *s = h->headers; s; s = s->next)
        n++;
    return n;
}

/* Builds f's request; checks URL, the three fixed headers and the body. */
static int build_is(struct fx *f, const char *url, const char *body)
{
    struct http_req h;
    json_t *got;
    int ok;

    http_req_init(&h);
    if (provider_anthropic.build(&f->pc, &h) != 0) {
        fprintf(stderr, "  build failed: %s\n", f->pc.err.message);
        http_req_free(&h);
        return 0;
    }
    ok = strcmp(h.url.p, url) == 0;
    if (!ok)
        fprintf(stderr, "  url %s\n", h.url.p);
    ok = has_header(&h, "Content-Type: application/json") && ok;
    ok = has_header(&h, "anthropic-version: 2023-06-01") && ok;
    ok = has_header(&h, "x-api-key: test-key") && ok;
    if (f->pc.stream)
        ok = has_header(&h, "Accept: text/event-stream") && ok;
    ok = nheaders(&h) == (f->pc.stream ? 4 : 3) && ok;
    /* The key lives in its header only. */
    ok = strstr(h.url.p, "test-key") == NULL && ok;
    ok = strstr(h.body.p, "test-key") == NULL && ok;
    got = json_loadb(h.body.p, h.body.len, 0, NULL);
    ok = same(got, body) && ok;
    json_decref(got);
    http_req_free(&h);
    return ok;
}

/* Builds f's request and expects code, with want in the message. */
static int build_fails(struct fx *f, int code, const char *want)
{
    struct http_req h;
    int r;

    http_req_init(&h);
    r = provider_anthropic.build(&f->pc, &h);
    http_req_free(&h);
    if (r != code || f->pc.err.code != code ||
        (want && strstr(f->pc.err.message, want) == NULL)) {
        fprintf(stderr, "  build gave %d: %s\n", r, f->pc.err.message);
        return 0;
    }
    return 1;
}

/* Folds emitted chunks into what a caller assembles from them:
 * {content, reasoning, tools:[{id,name,arguments}], finish, nfinish,
 *  nthinking_blocks, signature, bad} where bad counts shape errors (a
 * chunk that is not a one-choice chat.completion.chunk, ids that change,
 * tool indexes that skip, deltas after the finish, no role first). */
static json_t *fold(const json_t *chunks)
{
    json_t *tools = json_array(), *c, *ch, *d, *tc;
    struct buf content, reason;
    const char *id0 = NULL, *finish = NULL, *sig = NULL;
    int bad = 0, nfinish = 0, ntb = 0, has_content = 0, has_reason = 0;
    size_t i, k;
    json_t *out;

    buf_init(&content, 1 << 24);
    buf_init(&reason, 1 << 24);
    json_array_foreach(chunks, i, c) {
        const char *cid = json_string_value(json_object_get(c, "id"));

        if (strcmp(json_string_value(json_object_get(c, "object")) ?
                   json_string_value(json_object_get(c, "object")) : "",
                   "chat.completion.chunk") != 0 || cid == NULL ||
            json_array_size(json_object_get(c, "choices")) != 1)
            bad++;
        if (id0 == NULL)
            id0 = cid;
        else if (cid == NULL || strcmp(id0, cid) != 0)
            bad++;
        ch = json_array_get(json_object_get(c, "choices"), 0);
        d = json_object_get(ch, "delta");
        if (!json_is_object(d))
            bad++;
        if (i == 0 && !json_is_string(json_object_get(d, "role")))
            bad++;
        if (nfinish && json_object_size(d))
            bad++;
        if (json_is_string(json_object_get(d, "content"))) {
            has_content = 1;
            buf_add(&content, json_string_value(json_object_get(d,
                    "content")), json_string_length(json_object_get(d,
                    "content")));
        }
        if (json_is_string(json_object_get(d, "reasoning_content"))) {
            has_reason = 1;
            buf_add(&reason, json_string_value(json_object_get(d,
                    "reasoning_content")), json_string_length(
                    json_object_get(d, "reasoning_content")));
        }
        json_array_foreach(json_object_get(d, "thinking_blocks"), k, tc) {
            ntb++;
            sig = json_string_value(json_object_get(tc, "signature"));
        }
        json_array_foreach(json_object_get(d, "tool_calls"), k, tc) {
            json_int_t idx = json_integer_value(json_object_get(tc,
                                                                "index"));
            json_t *fn = json_object_get(tc, "function"), *t;
            const char *a = json_string_value(json_object_get(fn,
                                                              "arguments"));

            if (idx == (json_int_t)json_array_size(tools)) {
                json_array_append_new(tools, json_pack("{s:s?, s:s?, s:s}",
                    "id", json_string_value(json_object_get(tc, "id")),
                    "name", json_string_value(json_object_get(fn, "name")),
                    "arguments", ""));
                if (!json_is_string(json_object_get(tc, "id")) ||
                    strcmp(json_string_value(json_object_get(tc, "type")) ?
                           json_string_value(json_object_get(tc, "type")) :
                           "", "function") != 0)
                    bad++;
            } else if (idx < 0 || idx > (json_int_t)json_array_size(tools)) {
                bad++;
                continue;
            } else if (json_object_get(tc, "id")) {
                bad++;          /* a second start for the same index */
            }
            t = json_array_get(tools, (size_t)idx);
            if (a) {
                char *s = NULL;

                if (asprintf(&s, "%s%s", json_string_value(json_object_get(
                             t, "arguments")), a) > 0)
                    json_object_set_new(t, "arguments", json_string(s));
                free(s);
            }
        }
        if (json_is_string(json_object_get(ch, "finish_reason"))) {
            nfinish++;
            finish = json_string_value(json_object_get(ch,
                                                       "finish_reason"));
        }
    }
    out = json_pack("{s:o, s:o, s:o, s:s?, s:i, s:i, s:s?, s:i}",
                    "content", has_content ?
                    json_stringn(content.p ? content.p : "", content.len) :
                    json_null(),
                    "reasoning", has_reason ?
                    json_stringn(reason.p ? reason.p : "", reason.len) :
                    json_null(),
                    "tools", tools, "finish", finish, "nfinish", nfinish,
                    "nthinking_blocks", ntb, "signature", sig, "bad", bad);
    buf_free(&content);
    buf_free(&reason);
    return out;
}

/* The arguments of folded tool i, parsed. */
static json_t *tool_args(const json_t *folded, size_t i)
{
    const char *a = json_string_value(json_object_get(json_array_get(
                    json_object_get(folded, "tools"), i), "arguments"));

    return a ? json_loads(a, 0, NULL) : NULL;
}

/* A sample's bytes; *.chunks.jsonl wrapped in Anthropic's SSE envelope
 * (event: <payload type>, data: <payload>, blank line). */
static char *sample(const char *name, size_t *ret_len)
{
    char rel[256], *raw, *line, *save = NULL;
    struct buf b;
    size_t n;

    snprintf(rel, sizeof(rel), "providers/anthropic/%s", name);
    raw = test_read_file(conformance_path(rel), &n);
    if (raw == NULL || strstr(name, ".jsonl") == NULL) {
        if (ret_len)
            *ret_len = n;
        return raw;
    }
    buf_init(&b, 1 << 24);
    for (line = strtok_r(raw, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);

        buf_addf(&b, "event: %s\ndata: %s\n\n",
                 json_string_value(json_object_get(j, "type")), line);
        json_decref(j);
    }
    free(raw);
    return buf_steal(&b, ret_len);
}

/* One replay of a stream: the bytes cut at each of cuts[] (sorted), then
 * stream_end. Returns {rc, code, fold, usage}. */
static json_t *replay(const char *req, const char *p, size_t n,
                      const size_t *cuts, size_t ncuts)
{
    struct fx f;
    size_t at = 0;
    int rc = 0;
    json_t *out;

    fx_init(&f, req, 1);
    for (size_t i = 0; i <= ncuts && rc == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : n;

        rc = provider_anthropic.stream_feed(&f.pc, p + at, to - at);
        at = to;
    }
    if (rc == 0)
        rc = provider_anthropic.stream_end(&f.pc);
    out = json_pack("{s:i, s:i, s:o, s:O?}", "rc", rc < 0 ? -1 : rc, "code",
                    f.pc.err.code, "fold", fold(f.chunks), "usage",
                    f.pc.usage);
    fx_free(&f);
    return out;
}

/* The stream fed whole, then split in two at every byte, then one byte at
 * a time: every run must give the same result. Returns the whole run. */
static json_t *replay_all(const char *req, const char *name, int *ret_ok)
{
    size_t n, cut;
    char *p = sample(name, &n);
    json_t *whole, *r;

    *ret_ok = 0;
    if (p == NULL) {
        fprintf(stderr, "  cannot read %s\n", name);
        return NULL;
    }
    whole = replay(req, p, n, NULL, 0);
    *ret_ok = 1;
    for (cut = 0; cut <= n && *ret_ok; cut++) {
        r = replay(req, p, n, &cut, 1);
        if (!json_equal(r, whole)) {
            fprintf(stderr, "  %s split at %zu differs\n", name, cut);
            *ret_ok = 0;
        }
        json_decref(r);
    }
    if (*ret_ok) {
        size_t *cuts = malloc(n * sizeof(*cuts));

        for (size_t i = 0; i < n; i++)
            cuts[i] = i;
        r = replay(req, p, n, cuts, n);
        if (!json_equal(r, whole)) {
            fprintf(stderr, "  %s byte by byte differs\n", name);
            *ret_ok = 0;
        }
        json_decref(r);
        free(cuts);
    }
    free(p);
    return whole;
}

static json_t *parse_sample(struct fx *f, const char *name, int *ret_rc)
{
    char rel[256], *body;
    struct http_resp r = { .status = 200, .retry_after = -1 };
    json_t *c = NULL;
    size_t n;

    snprintf(rel, sizeof(rel), "providers/anthropic/%s", name);
    if ((body = test_read_file(conformance_path(rel), &n)) == NULL) {
        *ret_rc = -1;
        return NULL;
    }
    r.body = body;
    r.len = n;
    *ret_rc = provider_anthropic.parse(&f->pc, &r, &c);
    free(body);
    return c;
}

static int map_error(struct fx *f, long status, const char *body,
                     double retry_after)
{
    struct http_resp r = { .status = status, .body = body,
                           .len = strlen(body),
                           .retry_after = retry_after };

    return provider_anthropic.map_error(&f->pc, &r);
}

#define URL "https://api.anthropic.com/v1/messages"

/* ------------------------------------------------------------------------
 * Golden requests
 */

TEST(anthropic_build_system_roles_merge_stop)
{
    struct fx f;

    fx_init(&f, "{'model':'claude','temperature':0.5,'top_p':0.9,"
            "'stop':'END','user':'u1','n':1,"
            "'messages':["
            "{'role':'system','content':'Be brief.'},"
            "{'role':'developer','content':[{'type':'text','text':'Use SI.'}]},"
            "{'role':'user','content':'Hi'},"
            "{'role':'user','content':[{'type':'text','text':'there'}]},"
            "{'role':'assistant','content':'Hello.'},"
            "{'role':'assistant','content':'More?'},"
            "{'role':'user','content':'Yes'}]}", 0);
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'temperature':0.5,'top_p':0.9,'stop_sequences':['END'],"
        "'system':[{'type':'text','text':'Be brief.'},"
        "          {'type':'text','text':'Use SI.'}],"
        "'messages':["
        " {'role':'user','content':[{'type':'text','text':'Hi'},"
        "                           {'type':'text','text':'there'}]},"
        " {'role':'assistant','content':[{'type':'text','text':'Hello.'},"
        "                                {'type':'text','text':'More?'}]},"
        " {'role':'user','content':[{'type':'text','text':'Yes'}]}]}"));
    fx_free(&f);
}

TEST(anthropic_build_max_tokens_and_stream)
{
    struct fx f;

    fx_init(&f, "{'model':'claude','max_tokens':100,"
            "'max_completion_tokens':300,'stop':['a','b'],"
            "'stream':true,'stream_options':{'include_usage':true},"
            "'messages':[{'role':'user','content':'Hi'}]}", 1);
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':300,'stream':true,"
        "'stop_sequences':['a','b'],"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
    fx_free(&f);
}

TEST(anthropic_build_api_base_forms)
{
    struct fx f;

    fx_init(&f, "{'messages':[{'role':'user','content':'Hi'}]}", 0);
    f.dep.api_base = (char *)"http://127.0.0.1:9/proxy/v1";
    f.dep.preset = NULL;
    ASSERT(build_is(&f, "http://127.0.0.1:9/proxy/v1/messages",
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
    fx_free(&f);
}

TEST(anthropic_build_images)
{
    struct fx f;

    fx_init(&f, "{'messages':[{'role':'user','content':["
            "{'type':'text','text':'What is this?'},"
            "{'type':'image_url','image_url':{'url':"
            "'data:image/png;base64,iVBORw0KGgo='}},"
            "{'type':'image_url','image_url':{'url':"
            "'https://example.com/cat.jpg'},"
            " 'cache_control':{'type':'ephemeral'}},"
            "{'type':'image_url','image_url':"
            "'data:application/pdf;base64,JVBERi0='}]}]}",
            0);
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'messages':[{'role':'user','content':["
        " {'type':'text','text':'What is this?'},"
        " {'type':'image','source':{'type':'base64','media_type':'image/png',"
        "                           'data':'iVBORw0KGgo='}},"
        " {'type':'image','source':{'type':'url',"
        "                           'url':'https://example.com/cat.jpg'},"
        "  'cache_control':{'type':'ephemeral'}},"
        " {'type':'document','source':{'type':'base64',"
        "  'media_type':'application/pdf','data':'JVBERi0='}}]}]}"));
    fx_free(&f);
}

TEST(anthropic_build_bad_image_url)
{
    struct fx f;

    fx_init(&f, "{'messages':[{'role':'user','content':["
            "{'type':'image_url','image_url':{'url':'ftp://x/y.png'}}]}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "image_url"));
    fx_free(&f);
    fx_init(&f, "{'messages':[{'role':'user','content':["
            "{'type':'input_audio','input_audio':{'data':'AA==','format':'wav"
            "'}}]}]}",
            0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "input_audio"));
    fx_free(&f);
}

TEST(anthropic_build_tools_and_results)
{
    struct fx f;

    fx_init(&f, "{'tool_choice':'required','parallel_tool_calls':false,"
            "'tools':[{'type':'function','function':{'name':'get_weather',"
            "  'description':'Weather for a city',"
            "  'parameters':{'type':'object','properties':{'city':{'type':"
            "'string'}},"
            "                'required':['city']}}},"
            " {'type':'function','function':{'name':'now'}}],"
            "'messages':["
            "{'role':'user','content':'Weather in Paris and Rome?'},"
            "{'role':'assistant','content':'Checking.','tool_calls':["
            "  {'id':'toolu_1','type':'function','function':{'name':"
            "'get_weather',"
            "   'arguments':'{\\'city\\':\\'Paris\\'}'}},"
            "  {'id':'toolu_2','type':'function','function':{'name':"
            "'get_weather',"
            "   'arguments':'{\\'city\\':\\'Rome\\'}'}}]},"
            "{'role':'tool','tool_call_id':'toolu_1','content':'18C'},"
            "{'role':'tool','tool_call_id':'toolu_2','content':[{'type':'text',"
            "'text':'21C'}]},"
            "{'role':'user','content':'And now?'}]}", 0);
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'tools':[{'name':'get_weather','description':'Weather for a city',"
        "          'input_schema':{'type':'object',"
        "             'properties':{'city':{'type':'string'}},'required':['city"
        "']}},"
        "         {'name':'now','input_schema':{'type':'object','properties':"
        "{}}}],"
        "'tool_choice':{'type':'any','disable_parallel_tool_use':true},"
        "'messages':["
        " {'role':'user','content':[{'type':'text','text':'Weather in Paris and"
        " Rome?'}]},"
        " {'role':'assistant','content':[{'type':'text','text':'Checking.'},"
        "   {'type':'tool_use','id':'toolu_1','name':'get_weather','input':{"
        "'city':'Paris'}},"
        "   {'type':'tool_use','id':'toolu_2','name':'get_weather','input':{"
        "'city':'Rome'}}]},"
        " {'role':'user','content':["
        "   {'type':'tool_result','tool_use_id':'toolu_1','content':'18C'},"
        "   {'type':'tool_result','tool_use_id':'toolu_2','content':'21C'},"
        "   {'type':'text','text':'And now?'}]}]}"));
    fx_free(&f);
}

TEST(anthropic_build_tool_choice_forms)
{
    static const char *const in[] = {
        "'auto'", "'none'",
        "{'type':'function','function':{'name':'now'}}",
    };
    static const char *const out[] = {
        "{'type':'auto'}", "{'type':'none'}", "{'type':'tool','name':'now'}",
    };
    char req[512], body[512];
    struct fx f;

    for (size_t i = 0; i < 3; i++) {
        snprintf(req, sizeof(req), "{'tool_choice':%s,'tools':[{'type':"
                 "'function','function':{'name':'now'}}],'messages':[{'role'"
                 ":'user','content':'t?'}]}", in[i]);
        snprintf(body, sizeof(body), "{'model':'claude-sonnet-4-5',"
                 "'max_tokens':4096,'tool_choice':%s,'tools':[{'name':'now',"
                 "'input_schema':{'type':'object','properties':{}}}],"
                 "'messages':[{'role':'user','content':[{'type':'text',"
                 "'text':'t?'}]}]}", out[i]);
        fx_init(&f, req, 0);
        ASSERT(build_is(&f, URL, body));
        fx_free(&f);
    }
}

TEST(anthropic_build_recorded_request_tools)
{
    /* The request the official SDK sent (recorded_request_tools.json),
     * from the hub request a caller would have written for it. */
    char *rec = test_read_file(conformance_path(
        "providers/anthropic/recorded_request_tools.json"), NULL);
    json_t *want = rec ? json_loads(rec, 0, NULL) : NULL, *got, *tool;
    struct http_req h;
    struct fx f;

    ASSERT(want != NULL);
    free(rec);
    fx_init(&f, "{'max_tokens':1024,'messages':[{'role':'user',"
            "'content':'What is the weather in SF?'}]}", 0);
    f.dep.upstream_model = (char *)"claude-haiku-4-5";
    tool = json_pack("{s:s, s:{s:O, s:O, s:O}}", "type", "function",
                     "function", "name", json_object_get(json_array_get(
                     json_object_get(want, "tools"), 0), "name"),
                     "description", json_object_get(json_array_get(
                     json_object_get(want, "tools"), 0), "description"),
                     "parameters", json_object_get(json_array_get(
                     json_object_get(want, "tools"), 0), "input_schema"));
    json_object_set_new((json_t *)f.pc.req, "tools", json_pack("[o]", tool));
    http_req_init(&h);
    ASSERT_EQ(provider_anthropic.build(&f.pc, &h), 0);
    got = json_loadb(h.body.p, h.body.len, 0, NULL);
    /* The SDK sent the one user text as a string; the adapter always
     * sends blocks, which the API takes as the same thing. */
    json_object_set_new(json_array_get(json_object_get(want, "messages"), 0),
                        "content", json_pack("[{s:s, s:s}]", "type", "text",
                                             "text",
                                             "What is the weather in SF?"));
    ASSERT(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    http_req_free(&h);
    fx_free(&f);
}

TEST(anthropic_build_thinking_budget)
{
    struct fx f;

    /* max_tokens must exceed the budget: 1000 <= 2048 is raised. */
    fx_init(&f, "{'reasoning_effort':'medium','max_tokens':1000,"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':3048,"
        "'thinking':{'type':'enabled','budget_tokens':2048},"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'reasoning_effort':'high',"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':8192,"
        "'thinking':{'type':'enabled','budget_tokens':4096},"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'reasoning_effort':'low','max_tokens':20000,"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':20000,"
        "'thinking':{'type':'enabled','budget_tokens':1024},"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'reasoning_effort':'none',"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'reasoning_effort':'extreme',"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "reasoning_effort"));
    fx_free(&f);
}

TEST(anthropic_build_thinking_blocks_given_back)
{
    struct fx f;

    fx_init(&f, "{'reasoning_effort':'low','tools':[{'type':'function',"
            "'function':{'name':'now'}}],'messages':["
            "{'role':'user','content':'Time?'},"
            "{'role':'assistant','content':null,"
            " 'thinking_blocks':[{'type':'thinking','thinking':'Call now.',"
            "'signature':'c2ln'}],"
            " 'tool_calls':[{'id':'toolu_9','type':'function',"
            "   'function':{'name':'now','arguments':''}}]},"
            "{'role':'tool','tool_call_id':'toolu_9','content':''}]}", 0);
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'thinking':{'type':'enabled','budget_tokens':1024},"
        "'tools':[{'name':'now','input_schema':{'type':'object','properties':"
        "{}}}],"
        "'messages':["
        " {'role':'user','content':[{'type':'text','text':'Time?'}]},"
        " {'role':'assistant','content':["
        "   {'type':'thinking','thinking':'Call now.','signature':'c2ln'},"
        "   {'type':'tool_use','id':'toolu_9','name':'now','input':{}}]},"
        " {'role':'user','content':[{'type':'tool_result','tool_use_id':"
        "'toolu_9'}]}]}"));
    fx_free(&f);
}

TEST(anthropic_build_json_mode)
{
    struct fx f;

    fx_init(&f, "{'response_format':{'type':'json_schema','json_schema':{"
            "'name':'city','schema':{'type':'object','properties':{"
            "'name':{'type':'string'}},'required':['name']}}},"
            "'messages':[{'role':'user','content':'A city?'}]}", 0);
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'tools':[{'name':'json_tool_call','input_schema':{'type':'object',"
        "  'properties':{'name':{'type':'string'}},'required':['name']}}],"
        "'tool_choice':{'type':'tool','name':'json_tool_call'},"
        "'messages':[{'role':'user','content':[{'type':'text','text':'A city?"
        "'}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'response_format':{'type':'json_object'},"
            "'messages':[{'role':'user','content':'JSON please'}]}", 0);
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'tools':[{'name':'json_tool_call','input_schema':{'type':'object',"
        "  'additionalProperties':true,'properties':{}}}],"
        "'tool_choice':{'type':'tool','name':'json_tool_call'},"
        "'messages':[{'role':'user','content':[{'type':'text','text':'JSON"
        " please'}]}]}"));
    fx_free(&f);
    /* Thinking forbids a forced tool: the tool is offered, not forced. */
    fx_init(&f, "{'reasoning_effort':'low','max_tokens':5000,"
            "'response_format':{'type':'json_object'},"
            "'messages':[{'role':'user','content':'JSON please'}]}", 0);
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':5000,"
        "'thinking':{'type':'enabled','budget_tokens':1024},"
        "'tools':[{'name':'json_tool_call','input_schema':{'type':'object',"
        "  'additionalProperties':true,'properties':{}}}],"
        "'messages':[{'role':'user','content':[{'type':'text','text':'JSON"
        " please'}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'response_format':{'type':'json_schema','json_schema':{}},"
            "'messages':[{'role':'user','content':'x'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "json_schema.schema"));
    fx_free(&f);
}

TEST(anthropic_build_unsupported_param)
{
    struct fx f;

    fx_init(&f, "{'presence_penalty':0.5,"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "\"presence_penalty\""));
    ASSERT(strstr(f.pc.err.message, "anthropic") != NULL);
    fx_free(&f);
    fx_init(&f, "{'presence_penalty':0.5,'logit_bias':{'1':2},"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    f.pc.drop_params = 1;
    ASSERT(build_is(&f, URL,
        "{'model':'claude-sonnet-4-5','max_tokens':4096,"
        "'messages':[{'role':'user','content':[{'type':'text','text':'Hi"
        "'}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'n':3,'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "\"n\""));
    fx_free(&f);
}

TEST(anthropic_build_bad_requests)
{
    struct fx f;

    fx_init(&f, "{'messages':[{'role':'tool','content':'x'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "tool_call_id"));
    fx_free(&f);
    fx_init(&f, "{'messages':[{'role':'assistant','tool_calls':[{'id':'a',"
            "'function':{'name':'f','arguments':'[1,'}}]}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "arguments"));
    fx_free(&f);
    fx_init(&f, "{'messages':[{'role':'function','name':'f','content':'x'}]}",
            0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "function"));
    fx_free(&f);
    fx_init(&f, "{'messages':'hi'}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "messages"));
    fx_free(&f);
    fx_init(&f, "{'tools':[{'type':'web_search'}],"
            "'messages':[{'role':'user','content':'x'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "tools[0]"));
    fx_free(&f);
    fx_init(&f, "{'messages':[{'role':'user','content':'x'}]}", 0);
    secret_free(f.dep.api_key);
    f.dep.api_key = NULL;
    ASSERT(build_fails(&f, LLMUX_EAUTH, "ANTHROPIC_API_KEY"));
    fx_free(&f);
}

/* ------------------------------------------------------------------------
 * Recorded bodies
 */

TEST(anthropic_parse_text)
{
    struct fx f;
    json_t *c;
    int rc;

    fx_init(&f, NULL, 0);
    c = parse_sample(&f, "nonstream_text.json", &rc);
    ASSERT_EQ(rc, 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "id")),
                  "msg_01GJyhkguJrrqMbZNzEybYFL");
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "object")),
                  "chat.completion");
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "model")),
                  "claude-haiku-4-5-20251001");
    ASSERT(strstr(json_string_value(json_object_get(json_object_get(
           json_array_get(json_object_get(c, "choices"), 0), "message"),
           "content")), "I'm getting an error") != NULL);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(
                  json_object_get(c, "choices"), 0), "finish_reason")),
                  "stop");
    ASSERT(same(json_object_get(c, "usage"),
        "{'prompt_tokens':760,'completion_tokens':63,'total_tokens':823,"
        "'prompt_tokens_details':{'cached_tokens':0}}"));
    ASSERT(json_equal(f.pc.usage, json_object_get(c, "usage")));
    json_decref(c);
    fx_free(&f);
}

TEST(anthropic_parse_tool_use)
{
    struct fx f;
    json_t *c, *m;
    int rc;

    fx_init(&f, NULL, 0);
    c = parse_sample(&f, "nonstream_tool_use.json", &rc);
    ASSERT_EQ(rc, 0);
    m = json_object_get(json_array_get(json_object_get(c, "choices"), 0),
                        "message");
    ASSERT(same(m, "{'role':'assistant','content':null,'tool_calls':[{"
        "'id':'toolu_01A9HHF5Ezy3oBrKmSgfASm9','type':'function',"
        "'function':{'name':'get_weather',"
        "'arguments':'{\\'location\\':\\'San Francisco,"
        " CA\\',\\'units\\':\\'f\\'}'}}]}"));
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(
                  json_object_get(c, "choices"), 0), "finish_reason")),
                  "tool_calls");
    ASSERT(same(json_object_get(c, "usage"),
        "{'prompt_tokens':656,'completion_tokens':74,'total_tokens':730,"
        "'prompt_tokens_details':{'cached_tokens':0}}"));
    json_decref(c);
    fx_free(&f);
}

TEST(anthropic_parse_text_and_tool_use)
{
    struct fx f;
    json_t *c, *m, *args;
    int rc;

    fx_init(&f, NULL, 0);
    c = parse_sample(&f, "nonstream_text_and_tool_use.json", &rc);
    ASSERT_EQ(rc, 0);
    m = json_object_get(json_array_get(json_object_get(c, "choices"), 0),
                        "message");
    ASSERT(strncmp(json_string_value(json_object_get(m, "content")),
                   "I'll get the weather for each of those cities.", 46) == 0);
    ASSERT_EQ(json_array_size(json_object_get(m, "tool_calls")), 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(
                  json_object_get(m, "tool_calls"), 0), "id")),
                  "toolu_01LRanfq6DmHn1yDTB4d1SAh");
    args = json_loads(json_string_value(json_object_get(json_object_get(
           json_array_get(json_object_get(m, "tool_calls"), 0), "function"),
           "arguments")), 0, NULL);
    ASSERT(same(args, "{'location':'San Francisco, CA','units':'f'}"));
    json_decref(args);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(
                  json_object_get(c, "choices"), 0), "finish_reason")),
                  "tool_calls");
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(c, "usage"),
              "total_tokens")), 794);
    json_decref(c);
    fx_free(&f);
}

TEST(anthropic_parse_thinking)
{
    struct fx f;
    json_t *c, *m;
    int rc;

    fx_init(&f, NULL, 0);
    c = parse_sample(&f, "nonstream_thinking.json", &rc);
    ASSERT_EQ(rc, 0);
    m = json_object_get(json_array_get(json_object_get(c, "choices"), 0),
                        "message");
    ASSERT_STR_EQ(json_string_value(json_object_get(m, "content")),
                  "925 \xc3\xb7 5 = 185");
    ASSERT_STR_EQ(json_string_value(json_object_get(m, "reasoning_content")),
                  "925 divided by 5 = 185");
    ASSERT_EQ(json_array_size(json_object_get(m, "thinking_blocks")), 1);
    ASSERT(strncmp(json_string_value(json_object_get(json_array_get(
           json_object_get(m, "thinking_blocks"), 0), "signature")),
           "Er4BCkYICxgCKkCoxqLH", 20) == 0);
    ASSERT(json_object_get(m, "tool_calls") == NULL);
    ASSERT(same(json_object_get(c, "usage"),
        "{'prompt_tokens':69,'completion_tokens':33,'total_tokens':102,"
        "'prompt_tokens_details':{'cached_tokens':0}}"));
    json_decref(c);
    fx_free(&f);
}

TEST(anthropic_parse_cache_and_json_mode)
{
    static const char body[] =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"model\":\"claude-x\","
        "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_j\","
        "\"name\":\"json_tool_call\",\"input\":{\"name\":\"Oslo\"}}],"
        "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":10,"
        "\"cache_creation_input_tokens\":100,"
        "\"cache_read_input_tokens\":1000,\"output_tokens\":5}}";
    struct http_resp r = { .status = 200, .body = body,
                           .len = sizeof(body) - 1, .retry_after = -1 };
    struct fx f;
    json_t *c;

    fx_init(&f, "{'response_format':{'type':'json_object'}}", 0);
    ASSERT_EQ(provider_anthropic.parse(&f.pc, &r, &c), 0);
    ASSERT(same(json_object_get(json_array_get(json_object_get(c, "choices"),
                0), "message"),
        "{'role':'assistant','content':'{\\'name\\':\\'Oslo\\'}'}"));
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(
                  json_object_get(c, "choices"), 0), "finish_reason")),
                  "stop");
    /* Every input token counts in prompt_tokens; reads are "cached". */
    ASSERT(same(json_object_get(c, "usage"),
        "{'prompt_tokens':1110,'completion_tokens':5,'total_tokens':1115,"
        "'prompt_tokens_details':{'cached_tokens':1000}}"));
    json_decref(c);
    fx_free(&f);
}

TEST(anthropic_parse_malformed)
{
    static const char *const bodies[] = {
        "", "not json", "[1,2]", "{\"content\":\"text\"}", "{\"content\":",
        "{\"type\":\"message\"}",
    };
    struct fx f;
    json_t *c;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct http_resp r = { .status = 200, .body = bodies[i],
                               .len = strlen(bodies[i]),
                               .retry_after = -1 };

        fx_init(&f, NULL, 0);
        ASSERT_EQ(provider_anthropic.parse(&f.pc, &r, &c), LLMUX_EUNAVAIL);
        ASSERT(c == NULL);
        ASSERT(strstr(f.pc.err.message, "malformed") != NULL);
        fx_free(&f);
    }
}

TEST(anthropic_no_usage_reported)
{
    static const char body[] =
        "{\"id\":\"msg_n\",\"model\":\"claude-x\",\"content\":[{\"type\":"
        "\"text\",\"text\":\"ok\"}],\"stop_reason\":\"end_turn\"}";
    static const char s[] =
        "event: message_start\ndata: {\"type\":\"message_start\","
        "\"message\":{\"id\":\"m\",\"model\":\"claude-x\"}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start"
        "\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":"
        "\"ok\"}}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\""
        ":{\"stop_reason\":\"max_tokens\"}}\n\n";
    struct http_resp r = { .status = 200, .body = body,
                           .len = sizeof(body) - 1, .retry_after = -1 };
    struct fx f;
    json_t *c, *w;

    fx_init(&f, NULL, 0);
    ASSERT_EQ(provider_anthropic.parse(&f.pc, &r, &c), 0);
    ASSERT(json_object_get(c, "usage") == NULL);
    ASSERT(f.pc.usage == NULL);
    json_decref(c);
    fx_free(&f);
    /* No message_stop, but the finish came: a complete answer. */
    w = replay(NULL, s, sizeof(s) - 1, NULL, 0);
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    ASSERT(json_is_null(json_object_get(w, "usage")));
    ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(w,
                  "fold"), "content")), "ok");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(w,
                  "fold"), "finish")), "length");
    json_decref(w);
}

/* ------------------------------------------------------------------------
 * Recorded streams
 */

TEST(anthropic_stream_text)
{
    int ok;
    json_t *w = replay_all(NULL, "stream_text.sse", &ok), *fo;

    ASSERT(ok);
    fo = json_object_get(w, "fold");
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "content")),
                  "The weather in San Francisco, CA is currently:\n"
                  "- **Temperature:** 68\xc2\xb0" "F\n- **Condition:** Sunny"
                  "\n\nIt's a nice sunny day!");
    ASSERT(json_is_null(json_object_get(fo, "reasoning")));
    ASSERT_EQ(json_array_size(json_object_get(fo, "tools")), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "finish")), "stop");
    ASSERT_EQ(json_integer_value(json_object_get(fo, "nfinish")), 1);
    ASSERT_EQ(json_integer_value(json_object_get(fo, "bad")), 0);
    ASSERT(same(json_object_get(w, "usage"),
        "{'prompt_tokens':770,'completion_tokens':38,'total_tokens':808,"
        "'prompt_tokens_details':{'cached_tokens':0}}"));
    json_decref(w);
}

TEST(anthropic_stream_ids)
{
    size_t n;
    char *p = sample("stream_text.sse", &n);
    struct fx f;
    json_t *c;

    ASSERT(p != NULL);
    fx_init(&f, NULL, 1);
    ASSERT_EQ(provider_anthropic.stream_feed(&f.pc, p, n), 0);
    ASSERT_EQ(provider_anthropic.stream_end(&f.pc), 0);
    c = json_array_get(f.chunks, 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "id")),
                  "msg_016HxyUMAncysqX7dn1kWNRx");
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "model")),
                  "claude-haiku-4-5-20251001");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(
                  json_array_get(json_object_get(c, "choices"), 0), "delta"),
                  "role")), "assistant");
    /* The last chunk carries only the finish reason, and no usage. */
    c = json_array_get(f.chunks, json_array_size(f.chunks) - 1);
    ASSERT_EQ(json_object_size(json_object_get(json_array_get(
              json_object_get(c, "choices"), 0), "delta")), 0);
    ASSERT(json_object_get(c, "usage") == NULL);
    free(p);
    fx_free(&f);
}

TEST(anthropic_stream_tool_use)
{
    int ok;
    json_t *w = replay_all(NULL, "stream_tool_use.sse", &ok), *fo, *args;

    ASSERT(ok);
    fo = json_object_get(w, "fold");
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    ASSERT(json_is_null(json_object_get(fo, "content")));
    ASSERT_EQ(json_array_size(json_object_get(fo, "tools")), 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(
                  json_object_get(fo, "tools"), 0), "id")),
                  "toolu_018acGYLtfR52q9yDbWaEdQZ");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(
                  json_object_get(fo, "tools"), 0), "name")), "get_weather");
    args = tool_args(fo, 0);
    ASSERT(same(args, "{'location':'San Francisco, CA','units':'f'}"));
    json_decref(args);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "finish")),
                  "tool_calls");
    ASSERT_EQ(json_integer_value(json_object_get(fo, "bad")), 0);
    ASSERT(same(json_object_get(w, "usage"),
        "{'prompt_tokens':656,'completion_tokens':74,'total_tokens':730,"
        "'prompt_tokens_details':{'cached_tokens':0}}"));
    json_decref(w);
}

TEST(anthropic_stream_basic_fixture)
{
    int ok;
    json_t *w = replay_all(NULL, "stream_basic_sdk_fixture.sse", &ok), *fo;

    ASSERT(ok);
    fo = json_object_get(w, "fold");
    /* No blank line after the last event: dispatched at the end. */
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "content")),
                  "Hello there!");
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "finish")), "stop");
    ASSERT_EQ(json_integer_value(json_object_get(fo, "bad")), 0);
    ASSERT(same(json_object_get(w, "usage"),
        "{'prompt_tokens':11,'completion_tokens':6,'total_tokens':17}"));
    json_decref(w);
}

TEST(anthropic_stream_thinking_refusal_fixture)
{
    int ok;
    json_t *w = replay_all(NULL, "stream_thinking_sdk_fixture.sse", &ok), *fo;

    ASSERT(ok);
    fo = json_object_get(w, "fold");
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "reasoning")),
                  "Simple educational question about what a solar eclipse "
                  "is. This is benign general knowledge \xe2\x80\x94 "
                  "definitions are fine. Also the user called me "
                  "\"claudius\" \xe2\x80\x94 I'm Claude. Minor correction or "
                  "just roll with it politely.");
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "content")), "Hi");
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "finish")),
                  "content_filter");
    ASSERT_EQ(json_integer_value(json_object_get(fo, "nthinking_blocks")), 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "signature")),
                  "c3ludGhldGljLXNpZ25hdHVyZS1maXh0dXJlLWEtbm90LWEtcmVhbC1zaW"
                  "duYXR1cmU=");
    ASSERT_EQ(json_integer_value(json_object_get(fo, "bad")), 0);
    ASSERT(same(json_object_get(w, "usage"),
        "{'prompt_tokens':28,'completion_tokens':106,'total_tokens':134,"
        "'prompt_tokens_details':{'cached_tokens':0},"
        "'completion_tokens_details':{'reasoning_tokens':67}}"));
    json_decref(w);
}

TEST(anthropic_stream_thinking_chunks)
{
    int ok;
    json_t *w = replay_all(NULL, "stream_thinking.chunks.jsonl", &ok), *fo;

    ASSERT(ok);
    fo = json_object_get(w, "fold");
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "reasoning")),
                  "The previous result was 925. Now I need to divide that by "
                  "5.\n\n925 \xc3\xb7 5 = 185");
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "content")),
                  "925 \xc3\xb7 5 = 185");
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "finish")), "stop");
    ASSERT_EQ(json_integer_value(json_object_get(fo, "nthinking_blocks")), 1);
    ASSERT(strncmp(json_string_value(json_object_get(fo, "signature")),
                   "EvQBCkYICxgCKkAxhD4N", 20) == 0);
    ASSERT_EQ(json_integer_value(json_object_get(fo, "bad")), 0);
    ASSERT(same(json_object_get(w, "usage"),
        "{'prompt_tokens':69,'completion_tokens':53,'total_tokens':122,"
        "'prompt_tokens_details':{'cached_tokens':0}}"));
    json_decref(w);
}

TEST(anthropic_stream_error_overloaded)
{
    int ok;
    json_t *w = replay_all(NULL, "stream_error_overloaded_event.sse", &ok);
    size_t n;
    char *p = sample("stream_error_overloaded_event.sse", &n);
    struct fx f;

    ASSERT(ok);
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), -1);
    ASSERT_EQ(json_integer_value(json_object_get(w, "code")), LLMUX_EUNAVAIL);
    json_decref(w);
    fx_init(&f, NULL, 1);
    ASSERT_EQ(provider_anthropic.stream_feed(&f.pc, p, n), LLMUX_EUNAVAIL);
    ASSERT_EQ(f.pc.err.code, LLMUX_EUNAVAIL);
    ASSERT(strstr(f.pc.err.message, "anthropic: Overloaded") != NULL);
    free(p);
    fx_free(&f);
}

/* Two tool_use blocks after a text block: OpenAI indexes 0 and 1, not the
 * Anthropic block indexes 1 and 2; a block start with a whole input. */
TEST(anthropic_stream_parallel_tools)
{
    static const char s[] =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
        "{\"id\":\"msg_p\",\"model\":\"claude-x\",\"usage\":"
        "{\"input_tokens\":5,"
        "\"output_tokens\":1}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\","
        "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":"
        "{\"type\":\"text_delta\",\"text\":\"Both.\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
        "\"index\":0}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\","
        "\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t_a\","
        "\"name\":\"f\",\"input\":{}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"{\\\"x\\\":\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":1,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"1}\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
        "\"index\":1}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\","
        "\"index\":2,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t_b\","
        "\"name\":\"g\",\"input\":{\"y\":2}}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
        "\"index\":2}\n\n"
        "event: some_future_event\ndata: {\"type\":\"some_future_event\"}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
        "{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":30}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    json_t *w = replay(NULL, s, sizeof(s) - 1, NULL, 0), *fo, *a;

    fo = json_object_get(w, "fold");
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "content")), "Both.");
    ASSERT(same(json_object_get(fo, "tools"),
        "[{'id':'t_a','name':'f','arguments':'{\\'x\\':1}'},"
        " {'id':'t_b','name':'g','arguments':'{\\'y\\':2}'}]"));
    a = tool_args(fo, 1);
    ASSERT(same(a, "{'y':2}"));
    json_decref(a);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "finish")),
                  "tool_calls");
    ASSERT_EQ(json_integer_value(json_object_get(fo, "bad")), 0);
    ASSERT(same(json_object_get(w, "usage"),
        "{'prompt_tokens':5,'completion_tokens':30,'total_tokens':35}"));
    json_decref(w);
}

TEST(anthropic_stream_json_mode)
{
    static const char s[] =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
        "{\"id\":\"msg_j\",\"model\":\"claude-x\",\"usage\":"
        "{\"input_tokens\":5,"
        "\"output_tokens\":1}}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\","
        "\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t_j\","
        "\"name\":\"json_tool_call\",\"input\":{}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"{\\\"name\\\": \"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
        "\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"\\\"Oslo\\\"}\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
        "\"index\":0}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":"
        "{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":9}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    json_t *w = replay("{'response_format':{'type':'json_object'}}", s,
                       sizeof(s) - 1, NULL, 0), *fo;

    fo = json_object_get(w, "fold");
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "content")),
                  "{\"name\": \"Oslo\"}");
    ASSERT_EQ(json_array_size(json_object_get(fo, "tools")), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "finish")), "stop");
    json_decref(w);
}

TEST(anthropic_stream_errors)
{
    static const struct {
        const char *s;
        int         code;
        const char *msg;
    } cases[] = {
        /* a data line cut inside its JSON */
        { "event: content_block_delta\ndata: {\"type\":\"content_block_delta"
          "\",\"index\":0,\"delta\":{\"type\":\"text_del\n\n", LLMUX_EUNAVAIL,
          "malformed" },
        { "data: [1,2]\n\n", LLMUX_EUNAVAIL, "malformed" },
        { "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
          "\"rate_limit_error\",\"message\":\"slow down\"}}\n\n",
          LLMUX_ERATELIMIT, "slow down" },
        { "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
          "\"invalid_request_error\",\"message\":\"prompt is too long: "
          "300000 tokens\"}}\n\n", LLMUX_ECONTEXT, "prompt is too long" },
        { "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
          "\"api_error\",\"message\":\"Internal server error\"}}\n\n",
          LLMUX_EUNAVAIL, "Internal server error" },
        /* cut short: no message_delta, no message_stop */
        { "event: message_start\ndata: {\"type\":\"message_start\",\"message\""
          ":{\"id\":\"m\",\"usage\":{\"input_tokens\":1}}}\n\n",
          LLMUX_EUNAVAIL, "truncated" },
        { "", LLMUX_EUNAVAIL, "truncated" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fx f;
        int r;

        fx_init(&f, NULL, 1);
        r = provider_anthropic.stream_feed(&f.pc, cases[i].s,
                                           strlen(cases[i].s));
        if (r == 0)
            r = provider_anthropic.stream_end(&f.pc);
        ASSERT_EQ(r, cases[i].code);
        ASSERT_EQ(f.pc.err.code, cases[i].code);
        ASSERT(strstr(f.pc.err.message, cases[i].msg) != NULL);
        fx_free(&f);
    }
}

/* Every prefix of every recorded stream, then the end, and byte flips:
 * no crash and no invalid read (run under valgrind), an error or a
 * complete answer, never both. */
TEST(anthropic_stream_prefixes_and_noise)
{
    static const char *const names[] = {
        "stream_text.sse", "stream_tool_use.sse",
        "stream_basic_sdk_fixture.sse", "stream_thinking_sdk_fixture.sse",
        "stream_thinking.chunks.jsonl", "stream_error_overloaded_event.sse",
    };
    unsigned seed = 12345;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n;
        char *p = sample(names[i], &n);

        ASSERT(p != NULL);
        for (size_t k = 0; k <= n; k += 7) {
            json_t *w = replay(NULL, p, k, NULL, 0);
            int rc = (int)json_integer_value(json_object_get(w, "rc"));

            ASSERT(rc == 0 || json_integer_value(json_object_get(w,
                   "code")) != 0);
            json_decref(w);
        }
        for (int t = 0; t < 64; t++) {
            char *q = malloc(n + 1);
            json_t *w;

            memcpy(q, p, n);
            for (int flips = 0; flips < 4 && n; flips++) {
                seed = seed * 1103515245u + 12345u;
                q[(seed >> 8) % n] = (char)(seed >> 20);
            }
            w = replay(NULL, q, n, NULL, 0);
            json_decref(w);
            free(q);
        }
        free(p);
    }
}

/* ------------------------------------------------------------------------
 * Errors
 */

TEST(anthropic_error_400_invalid_request)
{
    char *body = test_read_file(conformance_path(
        "providers/anthropic/error_400_invalid_request_error.json"), NULL);
    struct fx f;

    ASSERT(body != NULL);
    fx_init(&f, NULL, 0);
    ASSERT_EQ(map_error(&f, 400, body, -1), LLMUX_EBADREQ);
    ASSERT_EQ(f.pc.err.code, LLMUX_EBADREQ);
    ASSERT_EQ(f.pc.err.status, 400);
    ASSERT(f.pc.err.retry_after < 0);
    ASSERT(strncmp(f.pc.err.message, "anthropic: messages.0.content.1: "
                   "unexpected `tool_use_id`", 56) == 0);
    free(body);
    fx_free(&f);
}

TEST(anthropic_error_429_rate_limit)
{
    char *body = test_read_file(conformance_path(
        "providers/anthropic/error_429_rate_limit_error.json"), NULL);
    char *hdrs = test_read_file(conformance_path(
        "providers/anthropic/error_429_rate_limit_error.headers.json"), NULL);
    json_t *h = hdrs ? json_loads(hdrs, 0, NULL) : NULL;
    struct fx f;

    ASSERT(body != NULL && h != NULL);
    /* The recorded headers hold no retry-after. */
    ASSERT(json_object_get(json_object_get(h, "headers"), "retry-after") ==
           NULL);
    fx_init(&f, NULL, 0);
    ASSERT_EQ(map_error(&f, json_integer_value(json_object_get(h,
              "status_code")), body, -1), LLMUX_ERATELIMIT);
    ASSERT(f.pc.err.retry_after < 0);
    ASSERT(strstr(f.pc.err.message, "rate limit of 20,000,000") != NULL);
    fx_free(&f);
    /* With one (request.c parses it into http_resp.retry_after). */
    fx_init(&f, NULL, 0);
    ASSERT_EQ(map_error(&f, 429, body, 17), LLMUX_ERATELIMIT);
    ASSERT(f.pc.err.retry_after == 17);
    fx_free(&f);
    json_decref(h);
    free(hdrs);
    free(body);
}

TEST(anthropic_error_shapes)
{
    static const struct { long st; const char *body; int code; } cases[] = {
        { 529, "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
               "\"message\":\"Overloaded\"}}", LLMUX_EUNAVAIL },
        { 400, "{\"type\":\"error\",\"error\":{\"type\":"
               "\"invalid_request_error\",\"message\":\"prompt is too long: "
               "208342 tokens > 200000 maximum\"}}", LLMUX_ECONTEXT },
        { 401, "{\"type\":\"error\",\"error\":{\"type\":"
               "\"authentication_error\",\"message\":\"invalid x-api-key\"}}",
          LLMUX_EAUTH },
        { 403, "{\"type\":\"error\",\"error\":{\"type\":\"permission_error\","
               "\"message\":\"no\"}}", LLMUX_EPERMISSION },
        { 404, "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\","
               "\"message\":\"model: claude-9\"}}", LLMUX_ENOTFOUND },
        { 413, "{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\","
               "\"message\":\"Request exceeds the maximum size\"}}",
          LLMUX_EBADREQ },
        { 500, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
               "\"message\":\"Internal server error\"}}", LLMUX_EUNAVAIL },
        { 400, "{\"type\":\"error\",\"error\":{\"type\":"
               "\"invalid_request_error\",\"message\":\"Output blocked by "
               "content filtering policy\"}}", LLMUX_EPOLICY },
        { 502, "<html>Bad Gateway</html>", LLMUX_EUNAVAIL },
        { 401, "", LLMUX_EAUTH },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fx f;

        fx_init(&f, NULL, 0);
        ASSERT_EQ(map_error(&f, cases[i].st, cases[i].body, 3),
                  cases[i].code);
        ASSERT_EQ(f.pc.err.status, cases[i].st);
        ASSERT(f.pc.err.retry_after == 3);
        ASSERT(strncmp(f.pc.err.message, "anthropic", 9) == 0);
        fx_free(&f);
    }
}

TEST(anthropic_error_scrubs_key)
{
    static const char body[] = "{\"type\":\"error\",\"error\":{\"type\":"
        "\"authentication_error\",\"message\":\"invalid x-api-key test-key\"}}";
    struct fx f;

    fx_init(&f, NULL, 0);
    ASSERT_EQ(map_error(&f, 401, body, -1), LLMUX_EAUTH);
    ASSERT(strstr(f.pc.err.message, "test-key") == NULL);
    fx_free(&f);
}
