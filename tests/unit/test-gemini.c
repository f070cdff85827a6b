/* test-gemini.c -- unit tests of the Gemini adapter
 * (daemon/providers/gemini.c).
 * Golden requests (hub request in -> exact URL, headers and a body compared
 * semantically with what the generateContent reference describes), every
 * recorded sample of conformance/providers/gemini/ replayed through parse
 * and stream_feed (whole, split at every byte, byte by byte), google.rpc
 * error bodies through map_error, and malformed or truncated input. */
#include "test.h"
#include "config.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"

#include <jansson.h>

extern const struct provider provider_gemini;

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
    f->dep.model_name = (char *)"gemini";
    f->dep.preset = preset_find("gemini", 6);
    f->dep.prov = &provider_gemini;
    f->dep.upstream_model = (char *)"gemini-2.5-flash";
    f->dep.api_base = (char *)"https://generativelanguage.googleapis.com";
    f->dep.api_key = secret_new("test-key", 8);
    f->pc.prov = &provider_gemini;
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
        provider_gemini.stream_free(&f->pc);
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
    if (provider_gemini.build(&f->pc, &h) != 0) {
        fprintf(stderr, "  build failed: %s\n", f->pc.err.message);
        http_req_free(&h);
        return 0;
    }
    ok = strcmp(h.url.p, url) == 0;
    if (!ok)
        fprintf(stderr, "  url %s\n", h.url.p);
    ok = has_header(&h, "Content-Type: application/json") && ok;
    ok = has_header(&h, "x-goog-api-key: test-key") && ok;
    ok = nheaders(&h) == 2 && ok;
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
    r = provider_gemini.build(&f->pc, &h);
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

/* A sample's bytes; *.chunks.jsonl wrapped in the alt=sse envelope
 * Google sends (data: <payload>, CRLF line endings). */
static char *sample(const char *name, size_t *ret_len)
{
    char rel[256], *raw, *line, *save = NULL;
    struct buf b;
    size_t n;

    snprintf(rel, sizeof(rel), "providers/gemini/%s", name);
    raw = test_read_file(conformance_path(rel), &n);
    if (raw == NULL || strstr(name, ".jsonl") == NULL) {
        if (ret_len)
            *ret_len = n;
        return raw;
    }
    buf_init(&b, 1 << 24);
    for (line = strtok_r(raw, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        buf_addf(&b, "data: %s\r\n\r\n", line);
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

        rc = provider_gemini.stream_feed(&f.pc, p + at, to - at);
        at = to;
    }
    if (rc == 0)
        rc = provider_gemini.stream_end(&f.pc);
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

    snprintf(rel, sizeof(rel), "providers/gemini/%s", name);
    if ((body = test_read_file(conformance_path(rel), &n)) == NULL) {
        *ret_rc = -1;
        return NULL;
    }
    r.body = body;
    r.len = n;
    *ret_rc = provider_gemini.parse(&f->pc, &r, &c);
    free(body);
    return c;
}

static int map_error(struct fx *f, long status, const char *body,
                     double retry_after)
{
    struct http_resp r = { .status = status, .body = body,
                           .len = strlen(body),
                           .retry_after = retry_after };

    return provider_gemini.map_error(&f->pc, &r);
}

#define BASE "https://generativelanguage.googleapis.com/v1beta/models/"

/* ------------------------------------------------------------------------
 * Golden requests
 */

TEST(gemini_build_system_roles_merge_config)
{
    struct fx f;

    fx_init(&f, "{'model':'gemini','temperature':0.2,'top_p':0.8,"
            "'max_tokens':100,'max_completion_tokens':256,'stop':['x'],"
            "'seed':7,'presence_penalty':0.1,'frequency_penalty':0.2,"
            "'user':'u1','n':1,'messages':["
            "{'role':'system','content':'Be brief.'},"
            "{'role':'developer','content':[{'type':'text','text':'Use SI.'}]},"
            "{'role':'user','content':'Hi'},"
            "{'role':'user','content':[{'type':'text','text':'there'}]},"
            "{'role':'assistant','content':'Hello.'},"
            "{'role':'assistant','content':'More?'},"
            "{'role':'user','content':'Yes'}]}", 0);
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'systemInstruction':{'parts':[{'text':'Be brief.'},{'text':'Use SI."
        "'}]},"
        "'contents':["
        " {'role':'user','parts':[{'text':'Hi'},{'text':'there'}]},"
        " {'role':'model','parts':[{'text':'Hello.'},{'text':'More?'}]},"
        " {'role':'user','parts':[{'text':'Yes'}]}],"
        "'generationConfig':{'temperature':0.2,'topP':0.8,"
        " 'maxOutputTokens':256,'stopSequences':['x'],'seed':7,"
        " 'presencePenalty':0.1,'frequencyPenalty':0.2}}"));
    fx_free(&f);
}

TEST(gemini_build_stream_url_and_model_names)
{
    struct fx f;

    fx_init(&f, "{'stream':true,'stream_options':{'include_usage':true},"
            "'stop':'END','messages':[{'role':'user','content':'Hi'}]}", 1);
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:streamGenerateContent?alt=sse",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}],"
        "'generationConfig':{'stopSequences':['END']}}"));
    fx_free(&f);
    fx_init(&f, "{'messages':[{'role':'user','content':'Hi'}]}", 0);
    f.dep.upstream_model = (char *)"models/gemini-2.0-flash";
    ASSERT(build_is(&f, BASE "gemini-2.0-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
    fx_free(&f);
    /* Anything outside the unreserved set is percent-encoded. */
    fx_init(&f, "{'messages':[{'role':'user','content':'Hi'}]}", 0);
    f.dep.upstream_model = (char *)"text+delay:5/x y";
    ASSERT(build_is(&f, BASE "text%2Bdelay%3A5%2Fx%20y:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'messages':[{'role':'user','content':'Hi'}]}", 0);
    f.dep.api_version = (char *)"v1alpha";
    f.dep.preset = NULL;
    f.dep.api_base = (char *)"http://127.0.0.1:9";
    ASSERT(build_is(&f, "http://127.0.0.1:9/v1alpha/models/"
                    "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'messages':[{'role':'user','content':'Hi'}]}", 0);
    f.dep.preset = NULL;
    f.dep.api_base = (char *)"http://127.0.0.1:9/v1beta";
    ASSERT(build_is(&f, "http://127.0.0.1:9/v1beta/models/"
                    "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
    fx_free(&f);
}

TEST(gemini_build_images)
{
    struct fx f;

    fx_init(&f, "{'messages':[{'role':'user','content':["
            "{'type':'text','text':'Compare'},"
            "{'type':'image_url','image_url':{'url':"
            "'data:image/png;base64,iVBORw0KGgo='}},"
            "{'type':'image_url','image_url':{'url':"
            "'https://example.com/cat.JPG?s=1'}},"
            "{'type':'image_url','image_url':{'url':'https://example.com/image"
            "'}}]}]}",
            0);
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':["
        " {'text':'Compare'},"
        " {'inlineData':{'mimeType':'image/png','data':'iVBORw0KGgo='}},"
        " {'fileData':{'mimeType':'image/jpeg',"
        "              'fileUri':'https://example.com/cat.JPG?s=1'}},"
        " {'fileData':{'fileUri':'https://example.com/image'}}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'messages':[{'role':'user','content':["
            "{'type':'image_url','image_url':{'url':'file:///etc/passwd'}}]}]}",
            0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "image_url"));
    fx_free(&f);
    fx_init(&f, "{'messages':[{'role':'user','content':["
            "{'type':'image_url','image_url':{'url':'data:image/png,raw'}}]}]}",
            0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "base64"));
    fx_free(&f);
}

TEST(gemini_build_tools_calls_and_results)
{
    struct fx f;

    fx_init(&f, "{'tool_choice':{'type':'function','function':{'name':"
        "'get_weather'}},"
            "'parallel_tool_calls':true,"
            "'tools':[{'type':'function','function':{'name':'get_weather',"
            "  'description':'Weather for a city','strict':true,"
            "  'parameters':{'type':'object','properties':{'city':{'type':"
            "'string'}},"
            "                'required':['city'],'additionalProperties"
            "':false}}},"
            " {'type':'function','function':{'name':'now'}}],"
            "'messages':["
            "{'role':'user','content':'Weather in Paris and Rome?'},"
            "{'role':'assistant','content':'Checking.','tool_calls':["
            "  {'id':'call_1','type':'function','function':{'name':'get_weather"
            "',"
            "   'arguments':'{\\'city\\':\\'Paris\\'}'}},"
            "  {'id':'call_2','type':'function','function':{'name':'get_weather"
            "',"
            "   'arguments':'{\\'city\\':\\'Rome\\'}'}}]},"
            "{'role':'tool','tool_call_id':'call_1','content':'{\\'temp\\':18}"
            "'},"
            "{'role':'tool','tool_call_id':'call_2','content':[{'type':'text',"
            "'text':'21C'}]},"
            "{'role':'user','content':'And now?'}]}", 0);
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'tools':[{'functionDeclarations':["
        "  {'name':'get_weather','description':'Weather for a city',"
        "   'parametersJsonSchema':{'type':'object',"
        "     'properties':{'city':{'type':'string'}},'required':['city'],"
        "     'additionalProperties':false}},"
        "  {'name':'now'}]}],"
        "'toolConfig':{'functionCallingConfig':{'mode':'ANY',"
        "  'allowedFunctionNames':['get_weather']}},"
        "'contents':["
        " {'role':'user','parts':[{'text':'Weather in Paris and Rome?'}]},"
        " {'role':'model','parts':[{'text':'Checking.'},"
        "   {'functionCall':{'name':'get_weather','args':{'city':'Paris'}}},"
        "   {'functionCall':{'name':'get_weather','args':{'city':'Rome'}}}]},"
        " {'role':'user','parts':["
        "   {'functionResponse':{'name':'get_weather','response':{'temp':18}}},"
        "   {'functionResponse':{'name':'get_weather','response':{'content':"
        "'21C'}}},"
        "   {'text':'And now?'}]}]}"));
    fx_free(&f);
}

TEST(gemini_build_tool_choice_forms)
{
    static const char *const in[] = { "auto", "none", "required" };
    static const char *const out[] = { "AUTO", "NONE", "ANY" };
    char req[512], body[512];
    struct fx f;

    for (size_t i = 0; i < 3; i++) {
        snprintf(req, sizeof(req), "{'tool_choice':'%s','tools':[{'type':"
                 "'function','function':{'name':'now'}}],'messages':[{'role'"
                 ":'user','content':'t?'}]}", in[i]);
        snprintf(body, sizeof(body), "{'tools':[{'functionDeclarations':[{"
                 "'name':'now'}]}],'toolConfig':{'functionCallingConfig':{"
                 "'mode':'%s'}},'contents':[{'role':'user','parts':[{'text':"
                 "'t?'}]}]}", out[i]);
        fx_init(&f, req, 0);
        ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent", body));
        fx_free(&f);
    }
    fx_init(&f, "{'tool_choice':{'type':'function'},"
            "'messages':[{'role':'user','content':'t?'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "tool_choice"));
    fx_free(&f);
}

TEST(gemini_build_gemini3_signature_placeholder)
{
    struct fx f;

    fx_init(&f, "{'tools':[{'type':'function','function':{'name':'f'}}],"
            "'messages':["
            "{'role':'user','content':'Go'},"
            "{'role':'assistant','tool_calls':["
            "  {'id':'a','type':'function','function':{'name':'f','arguments':'"
            "{}'}},"
            "  {'id':'b','type':'function','function':{'name':'f','arguments':'"
            "'}}]},"
            "{'role':'tool','tool_call_id':'a','content':'1'},"
            "{'role':'tool','tool_call_id':'b','content':'2'}]}", 0);
    f.dep.upstream_model = (char *)"gemini-3-pro-preview";
    ASSERT(build_is(&f, BASE "gemini-3-pro-preview:generateContent",
        "{'tools':[{'functionDeclarations':[{'name':'f'}]}],"
        "'contents':["
        " {'role':'user','parts':[{'text':'Go'}]},"
        " {'role':'model','parts':["
        "   {'functionCall':{'name':'f','args':{}},"
        "    'thoughtSignature':'skip_thought_signature_validator'},"
        "   {'functionCall':{'name':'f','args':{}}}]},"
        " {'role':'user','parts':["
        "   {'functionResponse':{'name':'f','response':{'content':'1'}}},"
        "   {'functionResponse':{'name':'f','response':{'content':'2'}}}]}]}"));
    fx_free(&f);
}

TEST(gemini_build_json_mode)
{
    struct fx f;

    fx_init(&f, "{'response_format':{'type':'json_object'},"
            "'messages':[{'role':'user','content':'JSON please'}]}", 0);
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'JSON please'}]}],"
        "'generationConfig':{'responseMimeType':'application/json'}}"));
    fx_free(&f);
    fx_init(&f, "{'response_format':{'type':'json_schema','json_schema':{"
            "'name':'city','strict':true,'schema':{'type':'object',"
            "'properties':{'name':{'type':'string'}},'required':['name'],"
            "'additionalProperties':false}}},"
            "'messages':[{'role':'user','content':'A city?'}]}", 0);
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'A city?'}]}],"
        "'generationConfig':{'responseMimeType':'application/json',"
        " 'responseJsonSchema':{'type':'object',"
        "   'properties':{'name':{'type':'string'}},'required':['name'],"
        "   'additionalProperties':false}}}"));
    fx_free(&f);
    fx_init(&f, "{'response_format':{'type':'text'},"
            "'messages':[{'role':'user','content':'x'}]}", 0);
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'x'}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'response_format':{'type':'yaml'},"
            "'messages':[{'role':'user','content':'x'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "yaml"));
    fx_free(&f);
}

TEST(gemini_build_thinking)
{
    struct fx f;

    fx_init(&f, "{'reasoning_effort':'low',"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}],"
        "'generationConfig':{'thinkingConfig':{'thinkingBudget':1024,"
        " 'includeThoughts':true}}}"));
    fx_free(&f);
    fx_init(&f, "{'reasoning_effort':'high','max_tokens':9000,"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}],"
        "'generationConfig':{'maxOutputTokens':9000,"
        " 'thinkingConfig':{'thinkingBudget':4096,'includeThoughts':true}}}"));
    fx_free(&f);
    fx_init(&f, "{'reasoning_effort':'none',"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}],"
        "'generationConfig':{'thinkingConfig':{'thinkingBudget':0}}}"));
    fx_free(&f);
    fx_init(&f, "{'thinking':{'type':'enabled','budget_tokens':3000},"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}],"
        "'generationConfig':{'thinkingConfig':{'thinkingBudget':3000,"
        " 'includeThoughts':true}}}"));
    fx_free(&f);
    fx_init(&f, "{'reasoning_effort':'max',"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "reasoning_effort"));
    fx_free(&f);
}

TEST(gemini_build_unsupported_param)
{
    struct fx f;

    fx_init(&f, "{'logit_bias':{'1':2},"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "\"logit_bias\""));
    ASSERT(strstr(f.pc.err.message, "gemini") != NULL);
    fx_free(&f);
    fx_init(&f, "{'logit_bias':{'1':2},'parallel_tool_calls':false,"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    f.pc.drop_params = 1;
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'text':'Hi'}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'parallel_tool_calls':false,"
            "'messages':[{'role':'user','content':'Hi'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "\"parallel_tool_calls\""));
    fx_free(&f);
}

TEST(gemini_build_bad_requests)
{
    struct fx f;

    fx_init(&f, "{'messages':[{'role':'tool','tool_call_id':'nope',"
            "'content':'x'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "tool_call_id"));
    fx_free(&f);
    /* Without a matching call, the message's own name will do. */
    fx_init(&f, "{'messages':[{'role':'tool','tool_call_id':'nope',"
            "'name':'f','content':'[1,2]'}]}", 0);
    ASSERT(build_is(&f, BASE "gemini-2.5-flash:generateContent",
        "{'contents':[{'role':'user','parts':[{'functionResponse':{"
        "'name':'f','response':{'content':'[1,2]'}}}]}]}"));
    fx_free(&f);
    fx_init(&f, "{'messages':[{'role':'assistant','tool_calls':[{'id':'a',"
            "'function':{'name':'f','arguments':'42'}}]}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "arguments"));
    fx_free(&f);
    fx_init(&f, "{'messages':[{'role':'critic','content':'x'}]}", 0);
    ASSERT(build_fails(&f, LLMUX_EBADREQ, "critic"));
    fx_free(&f);
    fx_init(&f, "{'messages':[{'role':'user','content':'x'}]}", 0);
    secret_free(f.dep.api_key);
    f.dep.api_key = NULL;
    ASSERT(build_fails(&f, LLMUX_EAUTH, "GEMINI_API_KEY"));
    fx_free(&f);
}

/* ------------------------------------------------------------------------
 * Recorded bodies
 */

#define CHOICE(c)  json_array_get(json_object_get((c), "choices"), 0)
#define MESSAGE(c) json_object_get(CHOICE(c), "message")
#define FINISH(c)  json_string_value(json_object_get(CHOICE(c), \
                                                     "finish_reason"))

TEST(gemini_parse_text)
{
    struct fx f;
    json_t *c;
    int rc;

    fx_init(&f, NULL, 0);
    c = parse_sample(&f, "nonstream_text.json", &rc);
    ASSERT_EQ(rc, 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "object")),
                  "chat.completion");
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "model")),
                  "gemini-2.0-flash");
    ASSERT(strncmp(json_string_value(json_object_get(c, "id")), "chatcmpl-",
                   9) == 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(MESSAGE(c), "content")),
                  "Google's headquarters, also known as the Googleplex, is "
                  "located in **Mountain View, California**.\n");
    ASSERT(json_object_get(MESSAGE(c), "tool_calls") == NULL);
    ASSERT_STR_EQ(FINISH(c), "stop");
    ASSERT(same(json_object_get(c, "usage"),
        "{'prompt_tokens':7,'completion_tokens':22,'total_tokens':29}"));
    ASSERT(json_equal(f.pc.usage, json_object_get(c, "usage")));
    json_decref(c);
    fx_free(&f);
}

TEST(gemini_parse_thinking_function_call)
{
    struct fx f;
    json_t *c, *m;
    int rc;

    fx_init(&f, NULL, 0);
    c = parse_sample(&f, "nonstream_thinking_function_call.json", &rc);
    ASSERT_EQ(rc, 0);
    m = MESSAGE(c);
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "id")),
                  "38CHaLjMG6TujrEPtvTiuQk");
    ASSERT(json_is_null(json_object_get(m, "content")));
    ASSERT(strncmp(json_string_value(json_object_get(m, "reasoning_content")),
                   "**Thinking Through the New Year's Eve Calculation**",
                   51) == 0);
    /* The thoughtSignature stays out of the hub message. */
    ASSERT(same(json_object_get(m, "tool_calls"),
        "[{'id':'call_2a_0','type':'function',"
        "  'function':{'name':'now','arguments':'{}'}}]"));
    {
        char *dump = json_dumps(c, 0);

        ASSERT(dump && strstr(dump, "thoughtSignature") == NULL &&
               strstr(dump, "CtQOAVSoXO74") == NULL);
        free(dump);
    }
    ASSERT_STR_EQ(FINISH(c), "tool_calls");
    /* candidatesTokenCount + thoughtsTokenCount = completion_tokens. */
    ASSERT(same(json_object_get(c, "usage"),
        "{'prompt_tokens':38,'completion_tokens':509,'total_tokens':547,"
        "'completion_tokens_details':{'reasoning_tokens':501}}"));
    json_decref(c);
    fx_free(&f);
}

TEST(gemini_parse_parallel_function_calls)
{
    struct fx f;
    json_t *c;
    int rc;

    fx_init(&f, NULL, 0);
    c = parse_sample(&f, "nonstream_parallel_function_calls.vertexai.json",
                     &rc);
    ASSERT_EQ(rc, 0);
    ASSERT(same(MESSAGE(c),
        "{'role':'assistant','content':null,'tool_calls':["
        " {'id':'call_2a_0','type':'function','function':{'name':'sum',"
        "   'arguments':'{\\'y\\':1,\\'x\\':2}'}},"
        " {'id':'call_2a_1','type':'function','function':{'name':'sum',"
        "   'arguments':'{\\'y\\':3,\\'x\\':4}'}},"
        " {'id':'call_2a_2','type':'function','function':{'name':'sum',"
        "   'arguments':'{\\'y\\':5,\\'x\\':6}'}}]}"));
    ASSERT_STR_EQ(FINISH(c), "tool_calls");
    ASSERT(json_object_get(c, "usage") == NULL);
    ASSERT(f.pc.usage == NULL);
    json_decref(c);
    fx_free(&f);
}

TEST(gemini_parse_blocked_and_filtered)
{
    static const char blocked[] =
        "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},\"usageMetadata\":"
        "{\"promptTokenCount\":7,\"totalTokenCount\":7}}";
    static const char filtered[] =
        "{\"candidates\":[{\"finishReason\":\"SAFETY\",\"index\":0}],"
        "\"usageMetadata\":{\"promptTokenCount\":7,\"candidatesTokenCount\":3,"
        "\"totalTokenCount\":10,\"cachedContentTokenCount\":4}}";
    static const char maxed[] =
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Lo\"}]},"
        "\"finishReason\":\"MAX_TOKENS\"}]}";
    struct http_resp r = { .status = 200, .retry_after = -1 };
    struct fx f;
    json_t *c;

    fx_init(&f, NULL, 0);
    r.body = blocked;
    r.len = sizeof(blocked) - 1;
    ASSERT_EQ(provider_gemini.parse(&f.pc, &r, &c), LLMUX_EPOLICY);
    ASSERT(strstr(f.pc.err.message, "SAFETY") != NULL);
    fx_free(&f);
    fx_init(&f, NULL, 0);
    r.body = filtered;
    r.len = sizeof(filtered) - 1;
    ASSERT_EQ(provider_gemini.parse(&f.pc, &r, &c), 0);
    ASSERT(json_is_null(json_object_get(MESSAGE(c), "content")));
    ASSERT_STR_EQ(FINISH(c), "content_filter");
    ASSERT(same(json_object_get(c, "usage"),
        "{'prompt_tokens':7,'completion_tokens':3,'total_tokens':10,"
        "'prompt_tokens_details':{'cached_tokens':4}}"));
    json_decref(c);
    fx_free(&f);
    fx_init(&f, NULL, 0);
    r.body = maxed;
    r.len = sizeof(maxed) - 1;
    ASSERT_EQ(provider_gemini.parse(&f.pc, &r, &c), 0);
    ASSERT_STR_EQ(FINISH(c), "length");
    json_decref(c);
    fx_free(&f);
}

TEST(gemini_parse_malformed)
{
    static const char *const bodies[] = {
        "", "<html>", "[]", "{\"candidates\":", "{\"candidates\":[]}",
        "{\"candidates\":[7]}",
    };
    struct fx f;
    json_t *c;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct http_resp r = { .status = 200, .body = bodies[i],
                               .len = strlen(bodies[i]),
                               .retry_after = -1 };

        fx_init(&f, NULL, 0);
        ASSERT_EQ(provider_gemini.parse(&f.pc, &r, &c), LLMUX_EUNAVAIL);
        ASSERT(c == NULL);
        ASSERT(strstr(f.pc.err.message, "malformed") != NULL);
        fx_free(&f);
    }
}

/* ------------------------------------------------------------------------
 * Recorded streams
 */

TEST(gemini_stream_text)
{
    int ok;
    json_t *w = replay_all(NULL, "stream_text.sse", &ok), *fo;

    ASSERT(ok);
    fo = json_object_get(w, "fold");
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "content")),
                  "The capital of Wyoming is **Cheyenne**.\n");
    ASSERT(json_is_null(json_object_get(fo, "reasoning")));
    ASSERT_EQ(json_array_size(json_object_get(fo, "tools")), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "finish")), "stop");
    ASSERT_EQ(json_integer_value(json_object_get(fo, "nfinish")), 1);
    ASSERT_EQ(json_integer_value(json_object_get(fo, "bad")), 0);
    ASSERT(same(json_object_get(w, "usage"),
        "{'prompt_tokens':7,'completion_tokens':10,'total_tokens':17}"));
    json_decref(w);
}

TEST(gemini_stream_chunk_shape)
{
    size_t n;
    char *p = sample("stream_thinking_function_call.sse", &n);
    struct fx f;
    json_t *c;

    ASSERT(p != NULL);
    fx_init(&f, NULL, 1);
    ASSERT_EQ(provider_gemini.stream_feed(&f.pc, p, n), 0);
    ASSERT_EQ(provider_gemini.stream_end(&f.pc), 0);
    c = json_array_get(f.chunks, 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "id")),
                  "48SHaPHpHKbG-8YPtZCawAk");
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "model")),
                  "gemini-2.5-flash");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(
                  CHOICE(c), "delta"), "role")), "assistant");
    /* The call arrives whole: a start then all its arguments. */
    ASSERT(same(json_object_get(json_array_get(f.chunks, 2), "choices"),
        "[{'index':0,'finish_reason':null,'delta':{'tool_calls':[{'index':0,"
        "'id':'call_2a_0','type':'function',"
        "'function':{'name':'now','arguments':''}}]}}]"));
    ASSERT(same(json_object_get(json_array_get(f.chunks, 3), "choices"),
        "[{'index':0,'finish_reason':null,'delta':{'tool_calls':[{'index':0,"
        "'function':{'arguments':'{}'}}]}}]"));
    ASSERT(same(json_object_get(json_array_get(f.chunks, 4), "choices"),
        "[{'index':0,'finish_reason':'tool_calls','delta':{}}]"));
    ASSERT_EQ(json_array_size(f.chunks), 5);
    free(p);
    fx_free(&f);
}

TEST(gemini_stream_function_call)
{
    int ok;
    json_t *w = replay_all(NULL, "stream_function_call.sse", &ok), *fo, *a;

    ASSERT(ok);
    fo = json_object_get(w, "fold");
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    ASSERT(json_is_null(json_object_get(fo, "content")));
    ASSERT_EQ(json_array_size(json_object_get(fo, "tools")), 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(
                  json_object_get(fo, "tools"), 0), "name")),
                  "getTemperature");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(
                  json_object_get(fo, "tools"), 0), "id")), "call_2a_0");
    a = tool_args(fo, 0);
    ASSERT(same(a, "{'city':'San Jose'}"));
    json_decref(a);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "finish")),
                  "tool_calls");
    ASSERT_EQ(json_integer_value(json_object_get(fo, "bad")), 0);
    ASSERT(json_is_null(json_object_get(w, "usage")));
    json_decref(w);
}

TEST(gemini_stream_thinking_function_call)
{
    int ok;
    json_t *w = replay_all(NULL, "stream_thinking_function_call.sse", &ok);
    json_t *fo, *a;
    const char *r;

    ASSERT(ok);
    fo = json_object_get(w, "fold");
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    r = json_string_value(json_object_get(fo, "reasoning"));
    ASSERT(r != NULL);
    ASSERT(strncmp(r, "**Calculating the Days**\n\nI've determined", 41) ==
           0);
    ASSERT(strstr(r, "time difference.\n\n\n**Determining the Approach**") !=
           NULL);
    ASSERT(strlen(r) > 30 &&
           strcmp(r + strlen(r) - 30, "after getting today's date.\n\n\n")
           == 0);
    ASSERT(json_is_null(json_object_get(fo, "content")));
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(
                  json_object_get(fo, "tools"), 0), "name")), "now");
    a = tool_args(fo, 0);
    ASSERT(same(a, "{}"));
    json_decref(a);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "finish")),
                  "tool_calls");
    ASSERT_EQ(json_integer_value(json_object_get(fo, "bad")), 0);
    ASSERT(same(json_object_get(w, "usage"),
        "{'prompt_tokens':38,'completion_tokens':174,'total_tokens':212,"
        "'completion_tokens_details':{'reasoning_tokens':168}}"));
    json_decref(w);
}

TEST(gemini_stream_function_call_gemini3)
{
    int ok;
    json_t *w = replay_all(NULL, "stream_function_call_gemini3.chunks.jsonl",
                           &ok), *fo, *a;

    ASSERT(ok);
    fo = json_object_get(w, "fold");
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    ASSERT(json_is_null(json_object_get(fo, "content")));
    ASSERT_EQ(json_array_size(json_object_get(fo, "tools")), 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(
                  json_object_get(fo, "tools"), 0), "name")), "weather");
    a = tool_args(fo, 0);
    ASSERT(same(a, "{'location':'San Francisco'}"));
    json_decref(a);
    /* STOP comes in a later event than the call: still tool_calls. */
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "finish")),
                  "tool_calls");
    ASSERT_EQ(json_integer_value(json_object_get(fo, "bad")), 0);
    ASSERT(same(json_object_get(w, "usage"),
        "{'prompt_tokens':29,'completion_tokens':60,'total_tokens':89,"
        "'completion_tokens_details':{'reasoning_tokens':45}}"));
    json_decref(w);
}

TEST(gemini_stream_errors)
{
    static const struct {
        const char *s;
        int         code;
        const char *msg;
    } cases[] = {
        { "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": "
          "\"trunc\r\n\r\n", LLMUX_EUNAVAIL, "malformed" },
        { "data: {\"error\": {\"code\": 500, \"message\": \"An internal error "
          "has occurred.\", \"status\": \"INTERNAL\"}}\r\n\r\n",
          LLMUX_EUNAVAIL, "An internal error has occurred. (INTERNAL)" },
        { "data: {\"error\": {\"code\": 429, \"message\": \"Quota\", "
          "\"status\": \"RESOURCE_EXHAUSTED\"}}\r\n\r\n", LLMUX_ERATELIMIT,
          "Quota" },
        { "data: {\"promptFeedback\": {\"blockReason\": \"PROHIBITED_CONTENT\""
          "}, \"usageMetadata\": {\"promptTokenCount\": 7}}\r\n\r\n",
          LLMUX_EPOLICY, "PROHIBITED_CONTENT" },
        { "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": "
          "\"half\"}]}}]}\r\n\r\n", LLMUX_EUNAVAIL, "truncated" },
        { "", LLMUX_EUNAVAIL, "truncated" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fx f;
        int r;

        fx_init(&f, NULL, 1);
        r = provider_gemini.stream_feed(&f.pc, cases[i].s,
                                        strlen(cases[i].s));
        if (r == 0)
            r = provider_gemini.stream_end(&f.pc);
        ASSERT_EQ(r, cases[i].code);
        ASSERT_EQ(f.pc.err.code, cases[i].code);
        ASSERT(strstr(f.pc.err.message, cases[i].msg) != NULL);
        fx_free(&f);
    }
}

TEST(gemini_stream_safety_finish)
{
    static const char s[] =
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": "
        "\"Well\"}],\"role\": \"model\"}}]}\r\n\r\n"
        "data: {\"candidates\": [{\"finishReason\": \"SAFETY\",\"index\": 0}],"
        "\"usageMetadata\": {\"promptTokenCount\": 7,\"candidatesTokenCount\":"
        " 3,\"totalTokenCount\": 10}}\r\n\r\n";
    json_t *w = replay(NULL, s, sizeof(s) - 1, NULL, 0), *fo;

    fo = json_object_get(w, "fold");
    ASSERT_EQ(json_integer_value(json_object_get(w, "rc")), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "content")), "Well");
    ASSERT_STR_EQ(json_string_value(json_object_get(fo, "finish")),
                  "content_filter");
    ASSERT_EQ(json_integer_value(json_object_get(fo, "bad")), 0);
    json_decref(w);
}

TEST(gemini_stream_prefixes_and_noise)
{
    static const char *const names[] = {
        "stream_text.sse", "stream_function_call.sse",
        "stream_thinking_function_call.sse",
        "stream_function_call_gemini3.chunks.jsonl",
    };
    unsigned seed = 777;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n;
        char *p = sample(names[i], &n);

        ASSERT(p != NULL);
        for (size_t k = 0; k <= n; k += 5) {
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

static char *error_sample(const char *name)
{
    char rel[256];

    snprintf(rel, sizeof(rel), "providers/gemini/%s", name);
    return test_read_file(conformance_path(rel), NULL);
}

TEST(gemini_error_400_api_key_invalid)
{
    char *body = error_sample("error_400_api_key_invalid.json");
    struct fx f;

    ASSERT(body != NULL);
    fx_init(&f, NULL, 0);
    ASSERT_EQ(map_error(&f, 400, body, -1), LLMUX_EAUTH);
    ASSERT_EQ(f.pc.err.status, 400);
    ASSERT(f.pc.err.retry_after < 0);
    ASSERT_STR_EQ(f.pc.err.message, "gemini: API key not valid. Please pass "
                  "a valid API key. (INVALID_ARGUMENT)");
    /* The DebugInfo detail echoes the key; it never reaches the message. */
    ASSERT(strstr(f.pc.err.message, "key1234") == NULL);
    free(body);
    fx_free(&f);
}

TEST(gemini_error_404_model_not_found)
{
    char *body = error_sample("error_404_model_not_found.json");
    struct fx f;

    ASSERT(body != NULL);
    fx_init(&f, NULL, 0);
    ASSERT_EQ(map_error(&f, 404, body, -1), LLMUX_ENOTFOUND);
    ASSERT(strstr(f.pc.err.message, "models/gemini-5.0-flash is not found")
           != NULL);
    ASSERT(strstr(f.pc.err.message, "ORIGINAL ERROR") == NULL);
    free(body);
    fx_free(&f);
}

TEST(gemini_error_429_resource_exhausted)
{
    char *body = error_sample("error_429_resource_exhausted.json");
    static const char b13[] = "{\"error\":{\"code\":429,\"message\":\"Quota "
        "exceeded\",\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":"
        "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":"
        "\"13s\"}]}}";
    struct fx f;

    ASSERT(body != NULL);
    fx_init(&f, NULL, 0);
    ASSERT_EQ(map_error(&f, 429, body, -1), LLMUX_ERATELIMIT);
    ASSERT(f.pc.err.retry_after > 34.39 && f.pc.err.retry_after < 34.41);
    ASSERT(strstr(f.pc.err.message, "You exceeded your current quota") !=
           NULL);
    fx_free(&f);
    /* A Retry-After header wins over the body's hint. */
    fx_init(&f, NULL, 0);
    ASSERT_EQ(map_error(&f, 429, body, 5), LLMUX_ERATELIMIT);
    ASSERT(f.pc.err.retry_after == 5);
    fx_free(&f);
    fx_init(&f, NULL, 0);
    ASSERT_EQ(map_error(&f, 429, b13, -1), LLMUX_ERATELIMIT);
    ASSERT(f.pc.err.retry_after == 13);
    fx_free(&f);
    free(body);
}

TEST(gemini_error_shapes)
{
    static const struct { long st; const char *body; int code; } cases[] = {
        { 400, "{\"error\":{\"code\":400,\"message\":\"The input token count "
               "(1234567) exceeds the maximum number of tokens allowed "
               "(1048576).\",\"status\":\"INVALID_ARGUMENT\"}}",
          LLMUX_ECONTEXT },
        { 400, "{\"error\":{\"code\":400,\"message\":\"Request contains an "
               "invalid argument.\",\"status\":\"INVALID_ARGUMENT\"}}",
          LLMUX_EBADREQ },
        { 403, "{\"error\":{\"code\":403,\"message\":\"The caller does not "
               "have permission\",\"status\":\"PERMISSION_DENIED\"}}",
          LLMUX_EPERMISSION },
        { 401, "{\"error\":{\"code\":401,\"message\":\"no\",\"status\":"
               "\"UNAUTHENTICATED\"}}", LLMUX_EAUTH },
        { 500, "{\"error\":{\"code\":500,\"message\":\"An internal error has "
               "occurred.\",\"status\":\"INTERNAL\"}}", LLMUX_EUNAVAIL },
        { 503, "{\"error\":{\"code\":503,\"message\":\"The model is "
               "overloaded. Please try again later.\",\"status\":"
               "\"UNAVAILABLE\"}}", LLMUX_EUNAVAIL },
        { 504, "{\"error\":{\"code\":504,\"message\":\"Deadline expired\","
               "\"status\":\"DEADLINE_EXCEEDED\"}}", LLMUX_ETIMEOUT },
        { 429, "[{\"error\":{\"code\":429,\"message\":\"q\",\"status\":"
               "\"RESOURCE_EXHAUSTED\"}}]", LLMUX_ERATELIMIT },
        { 502, "<html>Bad Gateway</html>", LLMUX_EUNAVAIL },
        { 404, "", LLMUX_ENOTFOUND },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fx f;

        fx_init(&f, NULL, 0);
        ASSERT_EQ(map_error(&f, cases[i].st, cases[i].body, -1),
                  cases[i].code);
        ASSERT_EQ(f.pc.err.status, cases[i].st);
        ASSERT(strncmp(f.pc.err.message, "gemini", 6) == 0);
        fx_free(&f);
    }
}
