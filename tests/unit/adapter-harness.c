/* adapter-harness.c -- the scaffolding of the provider adapter tests (see
 * adapter-harness.h): fixtures, golden requests, samples, replays and
 * chunk summaries. Knows no provider; each test-<provider>.c names its
 * own target. */
#include "adapter-harness.h"
#include "test.h"

#include "buf.h"
#include "presets.h"
#include "secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int collect(void *ud, json_t *chunk)
{
    return json_array_append_new(ud, chunk);
}

json_t *ah_json(const char *text)
{
    char *s = strdup(text);
    json_error_t e;
    json_t *j;

    if (s && strchr(s, '"') == NULL)
        for (char *p = s; *p; p++)
            if (*p == '\'')
                *p = '"';
    j = s ? json_loads(s, 0, &e) : NULL;
    if (j == NULL)
        fprintf(stderr, "  bad test JSON (%s): %s\n", s ? e.text : "oom",
                text);
    free(s);
    return j;
}

int ah_init(struct ah *f, const struct ah_target *t, const char *req,
            int stream)
{
    memset(f, 0, sizeof(*f));
    f->t = t;
    f->dep.model_name = (char *)"test-model";
    f->dep.preset = t->preset ? preset_find(t->preset, strlen(t->preset)) :
                    NULL;
    f->dep.prov = t->prov;
    f->dep.upstream_model = (char *)t->model;
    f->dep.api_base = (char *)t->api_base;
    f->dep.api_key = t->key ? secret_new(t->key, strlen(t->key)) : NULL;
    f->pc.prov = t->prov;
    f->pc.dep = &f->dep;
    f->pc.req = req ? ah_json(req) : json_object();
    f->pc.stream = stream;
    f->pc.seq = t->seq;
    f->chunks = json_array();
    f->pc.emit = collect;
    f->pc.emit_ud = f->chunks;
    f->pc.err.retry_after = -1;
    http_req_init(&f->h);
    if (t->setup)
        t->setup(f);
    if (t->preset && f->dep.preset == NULL)
        fprintf(stderr, "  no preset \"%s\"\n", t->preset);
    return f->pc.req != NULL && (t->preset == NULL || f->dep.preset);
}

void ah_free(struct ah *f)
{
    if (f->t->teardown)
        f->t->teardown(f);
    if (f->pc.prov->stream_free)
        f->pc.prov->stream_free(&f->pc);
    json_decref((json_t *)f->pc.req);
    json_decref(f->pc.usage);
    json_decref(f->chunks);
    secret_free(f->dep.api_key);
    http_req_free(&f->h);
}

json_t *ah_get(const json_t *o, const char *path)
{
    char key[128];
    const char *end;
    size_t n;

    while (o && *path) {
        end = path + strcspn(path, ".");
        n = (size_t)(end - path);
        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        if (json_is_array(o) && n && strspn(key, "0123456789") == n)
            o = json_array_get(o, strtoul(key, NULL, 10));
        else
            o = json_object_get(o, key);
        path = *end ? end + 1 : end;
    }
    return (json_t *)o;
}

const char *ah_str(const json_t *o, const char *path)
{
    return json_string_value(ah_get(o, path));
}

json_int_t ah_int(const json_t *o, const char *path)
{
    return json_integer_value(ah_get(o, path));
}

/* The value at path, a size for "….#" (new reference), or NULL. */
static json_t *expect_value(const json_t *got, const char *path,
                            const json_t *want)
{
    size_t n = strlen(path);
    char *dir;
    json_t *v;

    if (n >= 2 && strcmp(path + n - 2, ".#") == 0) {
        dir = strndup(path, n - 2);
        v = ah_get(got, dir);
        free(dir);
        return json_is_array(v) ? json_integer(json_array_size(v)) :
               json_is_object(v) ? json_integer(json_object_size(v)) : NULL;
    }
    v = ah_get(got, path);
    if (json_is_string(v) && (json_is_object(want) || json_is_array(want)))
        return json_loads(json_string_value(v), 0, NULL);
    return json_incref(v);
}

int ah_expect(const json_t *got, const char *want)
{
    json_t *w = ah_json(want), *v, *g;
    const char *path;
    int ok = got != NULL && json_is_object(w);

    if (got == NULL)
        fprintf(stderr, "  nothing to check (see above)\n");
    json_object_foreach(got ? w : NULL, path, v) {
        g = expect_value(got, path, v);
        if (g == NULL || !json_equal(g, v)) {
            fprintf(stderr, "  at %s:\n", path);
            ah_same(g, v);
            ok = 0;
        }
        json_decref(g);
    }
    json_decref(w);
    return ok;
}

int ah_same(const json_t *got, const json_t *want)
{
    char *g, *w;

    if ((got == NULL && want == NULL) ||
        (got && want && json_equal(got, want)))
        return 1;
    g = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS |
                         JSON_ENCODE_ANY) : NULL;
    w = want ? json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS |
                          JSON_ENCODE_ANY) : NULL;
    fprintf(stderr, "  got:  %s\n  want: %s\n", g ? g : "(null)",
            w ? w : "(null)");
    free(g);
    free(w);
    return 0;
}

int ah_same_text(const json_t *got, const char *want)
{
    json_t *w = ah_json(want);
    int ok = w && ah_same(got, w);

    json_decref(w);
    return ok;
}

/* ------------------------------------------------------------------------
 * Requests
 */

int ah_build(struct ah *f)
{
    /* A second build in one fixture starts over. */
    http_req_free(&f->h);
    http_req_init(&f->h);
    return provider_build(&f->pc, &f->h);
}

const char *ah_header(const struct http_req *h, const char *name)
{
    size_t n = strlen(name);

    for (const struct curl_slist *s = h->headers; s; s = s->next)
        if (strncasecmp(s->data, name, n) == 0 && s->data[n] == ':')
            return s->data;
    return NULL;
}

int ah_nheaders(const struct http_req *h)
{
    int n = 0;

    for (const struct curl_slist *s = h->headers; s; s = s->next)
        n++;
    return n;
}

int ah_body_is(const struct ah *f, const char *want)
{
    json_t *got = json_loadb(f->h.body.p ? f->h.body.p : "", f->h.body.len,
                             0, NULL);
    int ok = got != NULL;

    if (!ok)
        fprintf(stderr, "  the body is not JSON: %.*s\n", (int)f->h.body.len,
                f->h.body.p ? f->h.body.p : "");
    ok = ok && ah_same_text(got, want);
    json_decref(got);
    return ok;
}

static int has_line(const struct http_req *h, const char *line)
{
    for (const struct curl_slist *s = h->headers; s; s = s->next)
        if (strcmp(s->data, line) == 0)
            return 1;
    fprintf(stderr, "  missing header \"%s\"\n", line);
    return 0;
}

int ah_request_is(struct ah *f, const char *url, const char *body)
{
    const char *const *headers = f->pc.stream && f->t->stream_headers ?
                                 f->t->stream_headers : f->t->headers;
    const char *key = f->t->key;
    int ok, n = 0;

    if (headers == NULL) {
        fprintf(stderr, "  the target lists no headers to check\n");
        return 0;
    }
    if (ah_build(f) != 0) {
        fprintf(stderr, "  build failed: %s\n", f->pc.err.message);
        return 0;
    }
    ok = f->h.url.p && strcmp(f->h.url.p, url) == 0;
    if (!ok)
        fprintf(stderr, "  url  %s\n  want %s\n", f->h.url.p, url);
    for (; headers[n]; n++)
        ok = has_line(&f->h, headers[n]) && ok;
    if (ah_nheaders(&f->h) != n) {
        fprintf(stderr, "  %d headers, want %d:\n", ah_nheaders(&f->h), n);
        for (const struct curl_slist *s = f->h.headers; s; s = s->next)
            fprintf(stderr, "    %s\n", s->data);
        ok = 0;
    }
    /* The key lives in its header only. */
    if (key && (strstr(f->h.url.p, key) ||
                (f->h.body.p && strstr(f->h.body.p, key)))) {
        fprintf(stderr, "  the key is in the URL or the body\n");
        ok = 0;
    }
    return ah_body_is(f, body) && ok;
}

int ah_golden(const struct ah_target *t, const char *req, int stream,
              int drop, const char *url, const char *body)
{
    struct ah f;
    int ok = ah_init(&f, t, req, stream);

    f.pc.drop_params = drop;
    ok = ok && ah_request_is(&f, url, body);
    ah_free(&f);
    return ok;
}

int ah_build_fails(struct ah *f, int code, const char *want)
{
    int r;

    http_req_free(&f->h);
    http_req_init(&f->h);
    r = provider_build(&f->pc, &f->h);
    if (r != code || f->pc.err.code != code ||
        (want && strstr(f->pc.err.message, want) == NULL)) {
        fprintf(stderr, "  build gave %d (want %d): %s\n", r, code,
                f->pc.err.message);
        return 0;
    }
    return 1;
}

int ah_refused(const struct ah_target *t, const char *req, int code,
               const char *want)
{
    struct ah f;
    int ok = ah_init(&f, t, req, 0) && ah_build_fails(&f, code, want);

    ah_free(&f);
    return ok;
}

int ah_unsupported(const struct ah_target *t, const char *req,
                   const char *param)
{
    char quoted[128];
    struct ah f;
    int ok = ah_init(&f, t, req, 0);

    snprintf(quoted, sizeof(quoted), "\"%s\"", param);
    ok = ok && ah_build_fails(&f, LLMUX_EBADREQ, quoted) &&
         strstr(f.pc.err.message, pcall_name(&f.pc)) &&
         strstr(f.pc.err.message, "drop_params");
    if (!ok)
        fprintf(stderr, "  for %s: %s\n", param, f.pc.err.message);
    ah_free(&f);
    return ok;
}

int ah_try_build(const struct ah_target *t, const char *req, int drop,
                 struct perr *ret_err)
{
    struct ah f;
    int r = -1;

    if (ah_init(&f, t, req, 0)) {
        f.pc.drop_params = drop;
        r = provider_build(&f.pc, &f.h);
    }
    *ret_err = f.pc.err;
    ah_free(&f);
    return r;
}

/* ------------------------------------------------------------------------
 * Answers and errors
 */

int ah_parse(struct ah *f, const char *body, size_t n, json_t **ret)
{
    struct http_resp r = { .status = 200, .body = body, .len = n,
                           .retry_after = -1 };

    *ret = NULL;
    return f->pc.prov->parse(&f->pc, &r, ret);
}

int ah_parse_text(struct ah *f, const char *body, json_t **ret)
{
    return ah_parse(f, body, strlen(body), ret);
}

/* name below t's samples, or below the conformance dir with a '/'. */
static const char *sample_path(const struct ah_target *t, const char *name,
                               char *buf, size_t len)
{
    if (strchr(name, '/') || t->samples == NULL)
        return name;
    snprintf(buf, len, "%s/%s", t->samples, name);
    return buf;
}

int ah_parse_sample(struct ah *f, const char *name, json_t **ret)
{
    char rel[512];
    size_t n;
    char *p = ah_sample(sample_path(f->t, name, rel, sizeof(rel)), &n);
    int rc;

    *ret = NULL;
    if (p == NULL)
        return -1;
    rc = ah_parse(f, p, n, ret);
    free(p);
    return rc;
}

int ah_map_error(struct ah *f, long status, const char *body,
                 double retry_after)
{
    struct http_resp r = { .status = status, .body = body,
                           .len = strlen(body), .retry_after = retry_after };

    return f->pc.prov->map_error(&f->pc, &r);
}

int ah_try_map(const struct ah_target *t, long status, const char *body,
               double retry_after, struct perr *ret_err)
{
    struct ah f;
    int code;

    ah_init(&f, t, NULL, 0);
    code = ah_map_error(&f, status, body, retry_after);
    *ret_err = f.pc.err;
    ah_free(&f);
    return code;
}

int ah_parse_cases(const struct ah_target *t, const char *const *bodies,
                   size_t n, int code, const char *want)
{
    for (size_t i = 0; i < n; i++) {
        struct ah f;
        json_t *c = NULL;
        int r, ok;

        ah_init(&f, t, NULL, 0);
        r = ah_parse_text(&f, bodies[i], &c);
        ok = r == code && f.pc.err.code == code && c == NULL &&
             strstr(f.pc.err.message, want) != NULL;
        if (!ok)
            fprintf(stderr, "  body %zu (%s) gave %d: %s\n", i, bodies[i], r,
                    f.pc.err.message);
        json_decref(c);
        ah_free(&f);
        if (!ok)
            return 0;
    }
    return 1;
}

int ah_error_cases(const struct ah_target *t, const struct ah_error_case *c,
                   size_t n, double retry_after)
{
    for (size_t i = 0; i < n; i++) {
        struct ah f;
        const char *name;
        int r, ok;

        ah_init(&f, t, NULL, 0);
        name = pcall_name(&f.pc);
        r = ah_map_error(&f, c[i].status, c[i].body, retry_after);
        ok = r == c[i].code && f.pc.err.code == r &&
             f.pc.err.status == c[i].status &&
             strncmp(f.pc.err.message, name, strlen(name)) == 0 &&
             (retry_after < 0 || f.pc.err.retry_after == retry_after);
        if (!ok)
            fprintf(stderr, "  case %zu (%ld %s) gave %d: %s\n", i,
                    c[i].status, c[i].body, r, f.pc.err.message);
        ah_free(&f);
        if (!ok)
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------
 * Samples
 */

char *ah_sample(const char *rel, size_t *ret_len)
{
    char *p = test_read_file(conformance_path(rel), ret_len);

    if (p == NULL)
        fprintf(stderr, "  cannot read %s\n", conformance_path(rel));
    return p;
}

char *ah_sse_wrap(const char *rel, const char *event_key, const char *eol,
                  size_t *ret_len)
{
    char *raw = ah_sample(rel, NULL), *line, *save = NULL;
    struct buf b;

    if (raw == NULL)
        return NULL;
    buf_init(&b, 1u << 26);
    for (line = strtok_r(raw, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (event_key) {
            json_t *j = json_loads(line, 0, NULL);
            const char *e = json_string_value(json_object_get(j, event_key));

            buf_addf(&b, "event: %s%s", e ? e : "?", eol);
            json_decref(j);
        }
        buf_addf(&b, "data: %s%s%s", line, eol, eol);
    }
    free(raw);
    return buf_steal(&b, ret_len);
}

char *ah_stream_sample(const struct ah_target *t, const char *name,
                       size_t *ret_len)
{
    char rel[512];
    const char *path = sample_path(t, name, rel, sizeof(rel));
    size_t n = strlen(path);

    if (n > 6 && strcmp(path + n - 6, ".jsonl") == 0)
        return ah_sse_wrap(path, t->event_key, t->eol ? t->eol : "\n",
                           ret_len);
    return ah_sample(path, ret_len);
}

/* ------------------------------------------------------------------------
 * Chunk summaries
 */

/* Appends the string v to o[key] (a string, or null before the first). */
static void join(json_t *o, const char *key, const json_t *v)
{
    const char *old = json_string_value(json_object_get(o, key));
    struct buf b;
    char *s;

    buf_init(&b, 1u << 26);
    buf_adds(&b, old ? old : "");
    buf_add(&b, json_string_value(v), json_string_length(v));
    s = buf_steal(&b, NULL);
    json_object_set_new(o, key, json_string(s ? s : ""));
    free(s);
}

/* One tool_calls entry of a delta into tools; the number of rule
 * breaks it shows. */
static int fold_tool(json_t *tools, const json_t *tc)
{
    json_t *ix = json_object_get(tc, "index"), *fn, *t;
    json_int_t idx = json_integer_value(ix);
    size_t n = json_array_size(tools);
    int bad = 0;

    fn = json_object_get(tc, "function");
    if (!json_is_integer(ix) || idx < 0 || (size_t)idx > n)
        return 1;
    if ((size_t)idx == n) {
        /* A start: id, type and name before any fragment. */
        if (!json_is_string(json_object_get(tc, "id")) ||
            strcmp(ah_str(tc, "type") ? ah_str(tc, "type") : "",
                   "function") != 0 ||
            !json_is_string(json_object_get(fn, "name")))
            bad++;
        json_array_append_new(tools, json_pack("{s:O?, s:O?, s:s}", "id",
                              json_object_get(tc, "id"), "name",
                              json_object_get(fn, "name"), "arguments", ""));
    } else if (json_object_get(tc, "id")) {
        bad++;                   /* a second start for the same index */
    }
    t = json_array_get(tools, (size_t)idx);
    if (json_is_string(json_object_get(fn, "arguments")))
        join(t, "arguments", json_object_get(fn, "arguments"));
    return bad;
}

json_t *ah_summary(const json_t *chunks, int choice)
{
    json_t *sum = json_pack("{s:n, s:n, s:[], s:n, s:i, s:n, s:i, s:i, "
                            "s:i, s:n, s:i}", "content", "reasoning",
                            "tools", "finish", "nfinish", 0, "role",
                            "roles", 0, "nchunks",
                            (int)json_array_size(chunks), "nthinking_blocks",
                            0, "signature", "bad", 0);
    json_t *tools = json_object_get(sum, "tools"), *c, *ch, *d, *v;
    const char *id0 = NULL;
    int bad = 0, nfinish = 0, roles = 0, ntb = 0, first = 1;
    size_t i, k;

    json_array_foreach(chunks, i, c) {
        const char *id = ah_str(c, "id");

        if (strcmp(ah_str(c, "object") ? ah_str(c, "object") : "",
                   "chat.completion.chunk") != 0 || id == NULL ||
            json_array_size(json_object_get(c, "choices")) != 1 ||
            (id0 && strcmp(id, id0) != 0))
            bad++;
        if (id0 == NULL)
            id0 = id;
        if (json_object_get(c, "usage"))
            bad++;               /* request.c's job, not the adapter's */
        ch = json_array_get(json_object_get(c, "choices"), 0);
        if (json_integer_value(json_object_get(ch, "index")) != choice)
            continue;
        d = json_object_get(ch, "delta");
        if (!json_is_object(d))
            bad++;
        if (nfinish && json_object_size(d))
            bad++;               /* a delta after the finish */
        if ((v = json_object_get(d, "role")) != NULL) {
            roles++;
            json_object_set(sum, "role", v);
        }
        if ((v != NULL) != first)
            bad++;               /* the role comes on the first delta only */
        first = 0;
        if (json_is_string(v = json_object_get(d, "content")))
            join(sum, "content", v);
        if (json_is_string(v = json_object_get(d, "reasoning_content")))
            join(sum, "reasoning", v);
        json_array_foreach(json_object_get(d, "thinking_blocks"), k, v) {
            ntb++;
            json_object_set(sum, "signature",
                            json_object_get(v, "signature") ?
                            json_object_get(v, "signature") : json_null());
        }
        json_array_foreach(json_object_get(d, "tool_calls"), k, v)
            bad += fold_tool(tools, v);
        v = json_object_get(ch, "finish_reason");
        if (json_is_string(v)) {
            nfinish++;
            json_object_set(sum, "finish", v);
        } else if (!json_is_null(v)) {
            bad++;
        }
    }
    json_object_set_new(sum, "nfinish", json_integer(nfinish));
    json_object_set_new(sum, "roles", json_integer(roles));
    json_object_set_new(sum, "nthinking_blocks", json_integer(ntb));
    json_object_set_new(sum, "bad", json_integer(bad));
    return sum;
}

/* ------------------------------------------------------------------------
 * Replays
 */

json_t *ah_replay(struct ah *f, const char *p, size_t n,
                  const size_t *cuts, size_t ncuts)
{
    size_t at = 0;
    int feed = 0, end = 1;
    json_t *res;

    for (size_t i = 0; i <= ncuts && feed == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : n;

        feed = f->pc.prov->stream_feed(&f->pc, p + at, to - at);
        at = to;
    }
    if (feed == 0)
        end = f->pc.prov->stream_end(&f->pc);
    res = ah_summary(f->chunks, 0);
    json_object_set_new(res, "feed", json_integer(feed));
    json_object_set_new(res, "end", json_integer(end));
    json_object_set_new(res, "rc", json_integer(feed ? feed :
                                                end == 1 ? 0 : end));
    json_object_set_new(res, "code", json_integer(f->pc.err.code));
    json_object_set_new(res, "message", json_string(f->pc.err.message));
    json_object_set(res, "usage", f->pc.usage ? f->pc.usage : json_null());
    json_object_set(res, "chunks", f->chunks);
    return res;
}

json_t *ah_tool_args(const json_t *sum, size_t i)
{
    const char *a = ah_str(json_array_get(json_object_get(sum, "tools"), i),
                           "arguments");

    return a ? json_loads(a, 0, NULL) : NULL;
}

/* A replay of t/req with p cut at cuts (a fresh fixture). */
static json_t *replay_fresh(const struct ah_target *t, const char *req,
                            const char *p, size_t n, const size_t *cuts,
                            size_t ncuts)
{
    struct ah f;
    json_t *r = NULL;

    if (ah_init(&f, t, req, 1))
        r = ah_replay(&f, p, n, cuts, ncuts);
    ah_free(&f);
    return r;
}

/* Drops the "created" of chunks that took it from the clock (at or after
 * t0); one an upstream sent stays, to be compared. */
static void unclock(json_t *res, time_t t0)
{
    json_t *c;
    size_t i;

    json_array_foreach(json_object_get(res, "chunks"), i, c)
        if (json_integer_value(json_object_get(c, "created")) >= t0)
            json_object_del(c, "created");
}

/* a and b agree, but for the clock's "created" (see unclock). */
static int agree(const json_t *a, const json_t *b, time_t t0)
{
    json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
    int ok;

    unclock(x, t0);
    unclock(y, t0);
    ok = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return ok;
}

json_t *ah_replay_all(const struct ah_target *t, const char *req,
                      const char *p, size_t n, size_t stride)
{
    time_t t0 = time(NULL);
    json_t *whole, *r;
    size_t *cuts;
    int ok = 1;

    if (p == NULL || (whole = replay_fresh(t, req, p, n, NULL, 0)) == NULL)
        return NULL;
    /* Cuts at 0 and n feed an empty piece, which must change nothing. */
    for (size_t cut = 0; cut <= n && ok; cut += stride) {
        r = replay_fresh(t, req, p, n, &cut, 1);
        if (!(ok = agree(r, whole, t0))) {
            fprintf(stderr, "  split at %zu differs:\n", cut);
            ah_same(r, whole);
        }
        json_decref(r);
    }
    if (ok && n > 1 && (cuts = malloc(n * sizeof(*cuts))) != NULL) {
        for (size_t i = 0; i < n; i++)
            cuts[i] = i;
        r = replay_fresh(t, req, p, n, cuts + 1, n - 1);
        if (!(ok = agree(r, whole, t0)))
            fprintf(stderr, "  byte by byte differs\n");
        json_decref(r);
        free(cuts);
    }
    if (!ok) {
        json_decref(whole);
        return NULL;
    }
    return whole;
}

json_t *ah_replay_whole(const struct ah_target *t, const char *req,
                        const char *p, size_t n)
{
    return replay_fresh(t, req, p, n, NULL, 0);
}

json_t *ah_replay_sample(const struct ah_target *t, const char *req,
                         const char *name, size_t stride)
{
    size_t n;
    char *p = ah_stream_sample(t, name, &n);
    json_t *w = p ? ah_replay_all(t, req, p, n, stride) : NULL;

    free(p);
    return w;
}

int ah_stream_cases(const struct ah_target *t, const struct ah_stream_case *c,
                    size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *w = ah_replay_whole(t, NULL, c[i].s, strlen(c[i].s));
        int ok = w && ah_int(w, "rc") == c[i].code &&
                 ah_int(w, "code") == c[i].code &&
                 strstr(ah_str(w, "message"), c[i].msg) != NULL;

        if (!ok)
            fprintf(stderr, "  case %zu gave %lld: %s\n", i,
                    (long long)ah_int(w, "rc"), ah_str(w, "message"));
        json_decref(w);
        if (!ok)
            return 0;
    }
    return 1;
}

int ah_stream_noise(const struct ah_target *t, const char *const *names,
                    size_t step, unsigned seed)
{
    for (; *names; names++) {
        size_t n;
        char *p = ah_stream_sample(t, *names, &n);
        int ok = p != NULL;

        for (size_t k = 0; ok && k <= n; k += step) {
            json_t *w = ah_replay_whole(t, NULL, p, k);

            ok = ah_int(w, "rc") == 0 || ah_int(w, "code") != 0;
            if (!ok)
                fprintf(stderr, "  %s cut at %zu: rc %lld, no code\n",
                        *names, k, (long long)ah_int(w, "rc"));
            json_decref(w);
        }
        for (int i = 0; ok && i < 64; i++) {
            char *q = malloc(n + 1);

            memcpy(q, p, n);
            for (int flips = 0; flips < 4 && n; flips++) {
                seed = seed * 1103515245u + 12345u;
                q[(seed >> 8) % n] = (char)(seed >> 20);
            }
            json_decref(ah_replay_whole(t, NULL, q, n));
            free(q);
        }
        free(p);
        if (!ok)
            return 0;
    }
    return 1;
}
