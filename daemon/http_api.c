/* http_api.c -- the OpenAI-compatible endpoints on top of http.c, and the
 * HTTP implementation of struct session (see http_api.h).
 * A chat request becomes the same hub body the msgpack socket carries and
 * runs through the same pipeline (request_start_chat); its events become
 * either one chat.completion JSON answer, or SSE "data:" lines flushed as
 * each chunk arrives, or OpenAI's error JSON with the taxonomy's status.
 * POST /v1/embeddings takes the same way (request_start_embed) and
 * answers OpenAI's embeddings JSON. Ops (models, metrics) answer through
 * the same session, and so do LiteLLM's key, team and spend endpoints
 * (http_admin.c maps them onto keyops.c's ops, the socket's own). */
#include "http_api.h"
#include "access.h"
#include "config.h"
#include "deployment.h"
#include "container.h"
#include "http.h"
#include "http_admin.h"
#include "keys.h"
#include "log.h"
#include "proto.h"
#include "secret.h"
#include "server.h"
#include "session.h"
#include "version.h"

#include <math.h>
#include <msgpack.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum api_kind { API_NONE, API_CHAT, API_MODELS, API_METRICS, API_ADMIN };

/* One per connection, made at its first request: requests on a connection
 * run one at a time, so the request in progress is a few fields here. */
struct http_sess {
    struct session     s;
    struct http_conn  *hc;         /* NULL once the connection went */
    uint64_t           next_id;
    /* The request in progress. */
    uint64_t           id;
    enum api_kind      kind;
    int                stream;     /* answers as SSE */
    int                started;    /* the SSE head went out */
    int                unwrap;     /* API_ADMIN: answer the op's "data" */
    char              *held;       /* owned: completion JSON until done;
                                    * wiped for API_ADMIN (a new key) */
    size_t             held_len;
    uint64_t           t_start;    /* uv_hrtime at dispatch */
    char               call_id[48];
    char               group[DEPLOYMENT_MAX_NAME + 1];
    msgpack_sbuffer    scratch;    /* owned: checks chunk JSON text */
};

static const struct session_ops http_session_ops;

/* ---- answers ---------------------------------------------------------------- */

/* OpenAI's error type for an HTTP status; the taxonomy's own name goes in
 * "code" so a program can tell budget_exceeded from bad_request. */
static const char *openai_type(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 408: return "timeout_error";
    case 429: return "rate_limit_error";
    default:  return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

/* {"error": {"message", "type", "param", "code"}} as compact JSON;
 * malloc'd, NULL when out of memory. */
static char *error_json(const char *message, const char *type,
                        const char *code)
{
    json_t *j = json_pack("{s:{s:s, s:s, s:n, s:s?}}", "error",
                          "message", message, "type", type, "param",
                          "code", code);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

    json_decref(j);
    return text;
}

static void reply_json(struct http_conn *hc, int status, const char *extra,
                       const char *json)
{
    http_reply(hc, status, "application/json", extra, json,
               json ? strlen(json) : 0);
}

void http_api_error(struct http_conn *hc, int status, const char *type,
                    const char *message)
{
    char *body = error_json(message, type, NULL);

    reply_json(hc, status, NULL, body ? body : "{}");
    free(body);
}

/* ---- the session --------------------------------------------------------------- */

static struct http_sess *sess_of(struct session *s)
{
    return container_of(s, struct http_sess, s);
}

static int header_safe(const char *v);

/* x-litellm-* headers every answer of a chat request carries. */
static void litellm_headers(struct http_sess *hs, struct buf *h,
                            const struct session_done *d)
{
    uint64_t ms = (uv_hrtime() - hs->t_start) / 1000000;

    buf_addf(h, "x-litellm-call-id: %s\r\n", hs->call_id);
    /* The group that answered (a fallback's, after one); before the end,
     * the one the client asked for. */
    if (d && d->group && header_safe(d->group))
        buf_addf(h, "x-litellm-model-group: %s\r\n", d->group);
    else if (hs->group[0])
        buf_addf(h, "x-litellm-model-group: %s\r\n", hs->group);
    if (d == NULL)
        return;
    buf_addf(h, "x-litellm-response-duration-ms: %llu\r\n"
             "x-litellm-overhead-duration-ms: %.3f\r\n"
             "x-litellm-attempted-retries: %u\r\n"
             "x-litellm-attempted-fallbacks: %u\r\n",
             (unsigned long long)ms,
             (double)d->timing.overhead_us / 1000.0,
             d->attempts > d->fallbacks + 1 ?
             d->attempts - d->fallbacks - 1 : 0, d->fallbacks);
    if (d->upstream_headers)
        buf_adds(h, d->upstream_headers);
}

/* What the request cost and the key's spend with it: headers of a whole
 * answer, trailers of a stream. The limits stage charges the key only
 * when the request ends, after this done. */
static void cost_fields(struct http_sess *hs, struct buf *h,
                        const struct session_done *d)
{
    if (d && d->cost > 0)
        buf_addf(h, "x-litellm-response-cost: %.10g\r\n", d->cost);
    if (d && d->model && hs->s.caller.key)
        buf_addf(h, "x-litellm-key-spend: %.10g\r\n",
                 hs->s.caller.key->pol.budget.spend + d->cost);
}

/* The SSE head goes out with the first event: until then an error can
 * still be answered with its own status. */
static void sse_start(struct http_sess *hs)
{
    struct buf h;

    if (hs->started || hs->hc == NULL)
        return;
    buf_init(&h, 4096);
    litellm_headers(hs, &h, NULL);
    /* What a stream cost is known only at its end: it follows the last
     * chunk as trailer fields (RFC 9112 7.1.2), which a client that does
     * not read them skips. */
    if (hs->kind == API_CHAT)
        buf_adds(&h, "Trailer: x-litellm-response-cost, "
                 "x-litellm-key-spend\r\n");
    http_stream_start(hs->hc, 200, "text/event-stream", h.p);
    buf_free(&h);
    hs->started = 1;
}

static int sse_event(struct http_sess *hs, const char *json, size_t len)
{
    struct http_conn *hc = hs->hc;
    char *line;
    int r;

    if (hc == NULL)
        return LLMUX_ECLOSED;
    sse_start(hs);
    if ((line = malloc(len + 8)) == NULL)
        return LLMUX_EINTERNAL;
    memcpy(line, "data: ", 6);
    memcpy(line + 6, json, len);
    memcpy(line + 6 + len, "\n\n", 2);
    r = http_stream_send(hc, line, len + 8);
    free(line);
    return r;
}

static int ev_chunk(struct session *s, uint64_t id, const json_t *chunk)
{
    struct http_sess *hs = sess_of(s);
    char *text;
    int r;

    (void)id;
    if ((text = json_dumps(chunk, JSON_COMPACT)) == NULL)
        return LLMUX_EINTERNAL;
    r = sse_event(hs, text, strlen(text));
    free(text);
    return r;
}

/* JSON text from an upstream goes out as it came, once it is known to be
 * one valid JSON value (the rule the socket's packer applies). A raw CR
 * or LF can only be whitespace between tokens there, and would end the
 * SSE line early: those become spaces. */
static int ev_chunk_json(struct session *s, uint64_t id, const char *json,
                         size_t len, char *err, size_t errlen)
{
    struct http_sess *hs = sess_of(s);
    msgpack_packer pk;
    char *clean = NULL;
    int r;

    (void)id;
    hs->scratch.size = 0;
    msgpack_packer_init(&pk, &hs->scratch, msgpack_sbuffer_write);
    if ((r = proto_json_pack(&pk, json, len, err, errlen)) < 0)
        return r;
    if (memchr(json, '\n', len) || memchr(json, '\r', len)) {
        if ((clean = malloc(len)) == NULL)
            return LLMUX_EINTERNAL;
        for (size_t i = 0; i < len; i++)
            clean[i] = json[i] == '\n' || json[i] == '\r' ? ' ' : json[i];
        json = clean;
    }
    r = sse_event(hs, json, len);
    free(clean);
    return r;
}

/* An admin answer may hold a key's plaintext (/key/generate). */
static void held_free(char *held, size_t len, enum api_kind kind)
{
    if (held && kind == API_ADMIN)
        explicit_bzero(held, len);
    free(held);
}

static int ev_completion(struct session *s, uint64_t id,
                         const json_t *body)
{
    struct http_sess *hs = sess_of(s);

    (void)id;
    held_free(hs->held, hs->held_len, hs->kind);
    hs->held = NULL;
    if (hs->kind == API_METRICS) {
        const char *t = json_string_value(json_object_get(body, "text"));

        hs->held = strdup(t ? t : "");
    } else if (hs->unwrap)
        hs->held = json_dumps(json_object_get(body, "data"), JSON_COMPACT);
    else
        hs->held = json_dumps(body, JSON_COMPACT);
    if (hs->held == NULL)
        return LLMUX_EINTERNAL;
    hs->held_len = strlen(hs->held);
    return 0;
}

static void request_over(struct http_sess *hs)
{
    held_free(hs->held, hs->held_len, hs->kind);
    hs->held = NULL;
    hs->held_len = 0;
    hs->kind = API_NONE;
    hs->stream = hs->started = hs->unwrap = 0;
}

static int ev_done(struct session *s, uint64_t id,
                   const struct session_done *d)
{
    struct http_sess *hs = sess_of(s);
    struct http_conn *hc = hs->hc;
    struct buf h;
    char *held;
    size_t held_len;
    int metrics;
    enum api_kind kind = hs->kind;

    (void)id;
    if (hc == NULL) {
        request_over(hs);
        return 0;
    }
    if (hs->stream) {
        sse_start(hs);
        http_stream_send(hc, "data: [DONE]\n\n", 14);
        buf_init(&h, 256);
        cost_fields(hs, &h, d);
        request_over(hs);
        http_stream_end(hc, h.len ? h.p : NULL);
        buf_free(&h);
        return 0;
    }
    buf_init(&h, 8192);
    if (hs->kind == API_CHAT)
        litellm_headers(hs, &h, d);
    cost_fields(hs, &h, d);
    if (d && d->cache_key && header_safe(d->cache_key))
        buf_addf(&h, "x-litellm-cache-key: %s\r\n", d->cache_key);
    metrics = hs->kind == API_METRICS;
    held = hs->held;
    held_len = hs->held_len;
    hs->held = NULL;
    request_over(hs);
    http_reply(hc, 200, metrics ? "text/plain; version=0.0.4; charset=utf-8"
               : "application/json", h.p, held ? held : "",
               held ? held_len : 0);
    held_free(held, held_len, kind);
    buf_free(&h);
    return 0;
}

static void ev_error(struct session *s, uint64_t id,
                     const struct session_error *e)
{
    struct http_sess *hs = sess_of(s);
    struct http_conn *hc = hs->hc;
    int status = proto_err_status(e->code);
    const char *msg = e->message ? e->message : proto_strerror(e->code);
    char *body;
    struct buf h;

    (void)id;
    if (hc == NULL) {
        request_over(hs);
        return;
    }
    if (status < 400 || status > 599)
        status = 500;
    if (status == 499)
        status = 400;   /* a cancel has no HTTP status of its own */
    body = error_json(msg, openai_type(status), proto_err_type(e->code));
    if (hs->started) {
        /* After the first chunk the status is sent: OpenAI ends such a
         * stream with an error event. */
        if (body)
            sse_event(hs, body, strlen(body));
        request_over(hs);
        http_stream_end(hc, NULL);
    } else {
        buf_init(&h, 4096);
        if (hs->kind == API_CHAT)
            litellm_headers(hs, &h, NULL);
        if (status == 429 && e->retry_after >= 0)
            buf_addf(&h, "Retry-After: %.0f\r\n", ceil(e->retry_after));
        request_over(hs);
        reply_json(hc, status, h.p, body ? body : "{}");
        buf_free(&h);
    }
    free(body);
}

static int ev_backlogged(const struct session *s)
{
    const struct http_sess *hs = container_of(s, struct http_sess, s);

    return hs->hc ? http_backlogged(hs->hc) : 0;
}

static const struct session_ops http_session_ops = {
    .chunk      = ev_chunk,
    .chunk_json = ev_chunk_json,
    .completion = ev_completion,
    .done       = ev_done,
    .error      = ev_error,
    .backlogged = ev_backlogged,
};

void http_api_drained(struct http_conn *hc)
{
    if (hc->api)
        session_drained(&((struct http_sess *)hc->api)->s);
}

void http_api_abort(struct http_conn *hc)
{
    struct http_sess *hs = hc->api;

    if (hs == NULL)
        return;
    hs->hc = NULL;
    session_close(&hs->s);   /* aborts the upstream transfer now */
    request_over(hs);
}

void http_api_free(struct http_conn *hc)
{
    struct http_sess *hs = hc->api;

    if (hs == NULL)
        return;
    http_api_abort(hc);
    keys_unref(hs->s.caller.key);
    msgpack_sbuffer_destroy(&hs->scratch);
    free(hs);
    hc->api = NULL;
}

void http_api_cancel_all(struct server *s, int code, const char *message)
{
    for (struct http_conn *hc = s->hconns; hc; hc = hc->next)
        if (hc->api)
            session_cancel_all(&((struct http_sess *)hc->api)->s, code,
                               message);
}

/* ---- who is calling --------------------------------------------------------- */

/* Constant time on the digests: neither a key's bytes nor its length
 * show in how long a refusal takes. */
static int key_matches(const char *given, size_t n, const struct secret *k)
{
    unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
    int eq;

    SHA256((const unsigned char *)given, n, a);
    SHA256((const unsigned char *)k->p, k->len, b);
    eq = CRYPTO_memcmp(a, b, sizeof(a)) == 0;
    explicit_bzero(a, sizeof(a));
    explicit_bzero(b, sizeof(b));
    return eq;
}

/* The bearer token of the request (Authorization, or LiteLLM's
 * x-litellm-api-key / api-key headers), or NULL. */
static const char *bearer(const struct http_conn *hc)
{
    const char *v = http_header(hc, "authorization");

    if (v) {
        while (*v == ' ')
            v++;
        if (strncasecmp(v, "bearer ", 7) == 0) {
            v += 7;
            while (*v == ' ')
                v++;
        }
        return v;
    }
    if ((v = http_header(hc, "x-litellm-api-key")) != NULL)
        return v;
    return http_header(hc, "api-key");
}

/* The caller as the connection knows it (the peer on a Unix socket).
 * The previous request's key reference is dropped: each request holds
 * its own (access.c). */
static void caller_init(struct http_conn *hc, struct http_sess *hs)
{
    struct caller *c = &hs->s.caller;

    keys_unref(c->key);
    memset(c, 0, sizeof(*c));
    c->frontend = "http";
    c->uid = hc->uid;
    c->gid = hc->gid;
    c->pid = hc->pid;
    c->groups = hc->groups;
    c->ngroups = hc->ngroups;
}

/* A virtual key (keys.h) presented as the bearer token: the caller
 * takes a reference, and its policy applies as for a key in the
 * socket's hello. 0 when key is not one this llmuxd issued. */
static int bearer_vkey(struct http_conn *hc, struct caller *c,
                       const char *key)
{
    struct vkey *v;

    if (key == NULL || strncmp(key, "sk-", 3) != 0 ||
        (v = keys_find(&hc->srv->keys, key, strlen(key))) == NULL)
        return 0;
    c->key = keys_ref(v);
    return 1;
}

/* Fills hs->s.caller. 0, or answers 401/403 and returns < 0. */
static int authenticate(struct http_conn *hc, struct http_sess *hs)
{
    const struct config *cfg = hc->srv->cfg;
    struct caller *c = &hs->s.caller;
    const char *key;

    caller_init(hc, hs);
    key = bearer(hc);
    if (hc->lst->is_unix) {
        if (!access_peer_allowed(cfg, hc->srv->uid, c)) {
            log_warn("refused http request from pid %d uid %u: not in "
                     "allow_users/allow_groups", (int)c->pid,
                     (unsigned)c->uid);
            http_api_error(hc, 403, "permission_error", "permission "
                           "denied: this user may not use llmuxd "
                           "(allow_users, allow_groups)");
            return -1;
        }
        bearer_vkey(hc, c, key);
        return 0;
    }
    if (cfg->master_key == NULL && !cfg->master_key_configured) {
        /* A loopback listener open to local processes: a virtual key
         * narrows what its holder may do, any other token is ignored. */
        bearer_vkey(hc, c, key);
        return 0;
    }
    if (cfg->master_key == NULL) {
        /* Configured, but its variable or credential was not there at
         * load: no key can match, and the listener must not fall open. */
        http_api_error(hc, 401, "authentication_error", "the master key "
                       "is configured but its value could not be read; "
                       "every request is refused until a reload finds it");
        return -1;
    }
    if (key && key_matches(key, strlen(key), cfg->master_key)) {
        c->master = 1;
        return 0;
    }
    if (!bearer_vkey(hc, c, key)) {
        http_api_error(hc, 401, "authentication_error", key ?
                       "invalid API key" : "missing API key: send "
                       "\"Authorization: Bearer <key>\"");
        return -1;
    }
    return 0;
}

/* ---- endpoints --------------------------------------------------------------- */

static struct http_sess *sess_get(struct http_conn *hc)
{
    struct http_sess *hs = hc->api;

    if (hs)
        return hs;
    if ((hs = calloc(1, sizeof(*hs))) == NULL)
        return NULL;
    session_init(&hs->s, &http_session_ops, hc->srv);
    msgpack_sbuffer_init(&hs->scratch);
    hs->hc = hc;
    hc->api = hs;
    return hs;
}

static int json_content_type(const struct http_conn *hc)
{
    const char *ct = http_header(hc, "content-type");

    if (ct == NULL)
        return 1;   /* curl -d without -H: accepted, as OpenAI does */
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, "application/json", 16) == 0 &&
           (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

/* The client's model name goes back in x-litellm-model-group: only when
 * it is printable ASCII of a sane length, or a CR LF in it would write
 * the client's own headers into the answer. */
static int header_safe(const char *v)
{
    size_t n = v ? strlen(v) : 0;

    if (n == 0 || n > DEPLOYMENT_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
            return 0;
    return 1;
}

/* POST /chat/completions, or /embeddings when embed is set: the same
 * pipeline, the same x-litellm-* headers; an embeddings answer is
 * OpenAI's JSON as it is (never a stream). */
static void chat(struct http_conn *hc, struct http_sess *hs, int embed)
{
    json_error_t jerr;
    const char *model;
    json_t *body;
    char msg[300];

    if (!json_content_type(hc)) {
        http_api_error(hc, 415, "invalid_request_error", "Content-Type "
                       "must be application/json");
        return;
    }
    body = json_loadb(hc->msg.body.p ? hc->msg.body.p : "",
                      hc->msg.body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL || !json_is_object(body)) {
        snprintf(msg, sizeof(msg), "the body is not a JSON object: %s",
                 body ? "another JSON value" : jerr.text);
        json_decref(body);
        http_api_error(hc, 400, "invalid_request_error", msg);
        return;
    }
    hs->kind = API_CHAT;
    hs->stream = !embed && json_is_true(json_object_get(body, "stream"));
    model = json_string_value(json_object_get(body, "model"));
    snprintf(hs->group, sizeof(hs->group), "%s",
             header_safe(model) ? model : "");
    /* The body's text length: a low estimate of its tree (budget.h),
     * which the limits stage charges while the request is in flight. */
    if (embed)
        request_start_embed(&hs->s, hs->id, body, hc->msg.body.len);
    else
        request_start_chat(&hs->s, hs->id, body, hc->msg.body.len);
}

static void op(struct http_conn *hc, struct http_sess *hs,
               enum api_kind kind, const char *name)
{
    (void)hc;
    hs->kind = kind;
    ops_handle(&hs->s, hs->id, name, strlen(name));
}

/* The request's bytes may hold a key (/key/info?key=, a body's "key"):
 * wiped once they were mapped, before an answer ends the request (which
 * resets the buffers without wiping them). */
static void wipe_request(struct http_conn *hc)
{
    if (hc->msg.body.p)
        explicit_bzero(hc->msg.body.p, hc->msg.body.len);
    if (hc->msg.url.p)
        explicit_bzero(hc->msg.url.p, hc->msg.url.len);
}

/* LiteLLM's key, team and spend endpoints, answered by keyops.c as the
 * socket's admin ops are. The master key may call them all (on a Unix
 * listener, root and the admin group too, as on the socket); a virtual
 * key's holder may read its own /key/info, which keyops checks. */
static void admin(struct http_conn *hc, struct http_sess *hs,
                  struct http_admin_call *call, int mapped, const char *msg)
{
    struct caller *c = &hs->s.caller;

    wipe_request(hc);
    if (mapped < 0) {
        http_api_error(hc, call->status, call->status == 405 ?
                       "invalid_request_error" : openai_type(call->status),
                       msg);
    } else if (hc->msg.method == HTTP_POST && !json_content_type(hc)) {
        http_api_error(hc, 415, "invalid_request_error", "Content-Type "
                       "must be application/json");
    } else if (strcmp(call->op, "key/info") != 0 &&
               !access_admin(hc->srv->cfg, hc->srv->uid, c)) {
        log_warn("refused http %s on %s (%s): not the master key",
                 call->op, hc->lst->name, c->key ? "a virtual key" :
                 "no key");
        http_api_error(hc, 403, "permission_error", c->key ?
                       "a virtual key may only read its own /key/info; "
                       "keys, teams and spend are for the master key" :
                       hc->srv->cfg->master_key ? "keys, teams and spend "
                       "are for the master key" : "keys, teams and spend "
                       "are for the master key, and none is configured "
                       "(general_settings.master_key)");
    } else {
        hs->kind = API_ADMIN;
        hs->unwrap = call->unwrap;
        keyops_handle(&hs->s, hs->id, call->op, strlen(call->op),
                      call->body);
    }
    http_admin_wipe(call->body);
    call->body = NULL;
}

static void readiness(struct http_conn *hc)
{
    json_t *j = json_pack("{s:s, s:s, s:n, s:s}", "status",
                          hc->srv->stopping ? "unhealthy" : "healthy",
                          "db", "Not connected", "cache", "llmux_version",
                          LLMUX_DAEMON_VERSION);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

    reply_json(hc, hc->srv->stopping ? 503 : 200, NULL, text ? text : "{}");
    free(text);
    json_decref(j);
}

/* The path without its query, and without a leading "/v1" (OpenAI's and
 * LiteLLM's paths are served both ways). */
static size_t route_path(const struct http_conn *hc, const char **ret)
{
    const char *p = hc->msg.url.p ? hc->msg.url.p : "";
    size_t n = strcspn(p, "?#");

    if (n >= 3 && memcmp(p, "/v1", 3) == 0 && (n == 3 || p[3] == '/')) {
        p += 3;
        n -= 3;
    }
    *ret = p;
    return n;
}

static int path_is(const char *p, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(p, want, n) == 0;
}

static int method_ok(struct http_conn *hc, enum http_method want)
{
    enum http_method m = hc->msg.method;

    if (m == want || (want == HTTP_GET && m == HTTP_HEAD))
        return 1;
    http_api_error(hc, 405, "invalid_request_error", want == HTTP_POST ?
                   "method not allowed: use POST" :
                   "method not allowed: use GET");
    return 0;
}

void http_api_dispatch(struct http_conn *hc)
{
    struct http_sess *hs;
    struct http_admin_call call;
    char amsg[300];
    const char *p;
    size_t n = route_path(hc, &p);
    int mapped;

    if (path_is(p, n, "/health/liveliness") ||
        path_is(p, n, "/health/liveness")) {
        if (method_ok(hc, HTTP_GET))
            reply_json(hc, 200, NULL, "\"I'm alive!\"");
        return;
    }
    if (path_is(p, n, "/health/readiness")) {
        if (method_ok(hc, HTTP_GET))
            readiness(hc);
        return;
    }
    if ((hs = sess_get(hc)) == NULL) {
        http_api_error(hc, 500, "api_error", "out of memory");
        return;
    }
    hs->id = ++hs->next_id;
    hs->t_start = uv_hrtime();
    hs->group[0] = '\0';
    snprintf(hs->call_id, sizeof(hs->call_id), "llmux-%llu-%llu-%llu",
             (unsigned long long)hc->srv->started_ns % 1000000007ULL,
             (unsigned long long)hc->id, (unsigned long long)hs->id);
    if (hc->srv->stopping) {
        http_api_error(hc, 503, "api_error", "llmuxd is shutting down");
        return;
    }
    if (path_is(p, n, "/metrics")) {
        /* Open on TCP, as LiteLLM's is. On a Unix listener the peer
         * rules cover all but the health probes, as on the msgpack
         * socket, where a refused peer reads no metrics either. */
        caller_init(hc, hs);
        if (hc->lst->is_unix && authenticate(hc, hs) < 0)
            return;
        if (method_ok(hc, HTTP_GET))
            op(hc, hs, API_METRICS, "metrics");
        return;
    }
    if (authenticate(hc, hs) < 0)
        return;
    if (path_is(p, n, "/chat/completions")) {
        if (method_ok(hc, HTTP_POST))
            chat(hc, hs, 0);
    } else if (path_is(p, n, "/embeddings")) {
        if (method_ok(hc, HTTP_POST))
            chat(hc, hs, 1);
    } else if (path_is(p, n, "/models")) {
        if (method_ok(hc, HTTP_GET))
            op(hc, hs, API_MODELS, "models");
    } else if ((mapped = http_admin_map(hc->msg.method, p, n, p[n] == '?' ?
                                        p + n + 1 : NULL, hc->msg.body.p,
                                        hc->msg.body.len, &call, amsg,
                                        sizeof(amsg))) != 0) {
        admin(hc, hs, &call, mapped, amsg);
    } else {
        char msg[160];

        snprintf(msg, sizeof(msg), "no such endpoint: %.*s",
                 (int)(n > 100 ? 100 : n), p);
        http_api_error(hc, 404, "not_found_error", msg);
    }
}
