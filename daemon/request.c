/* request.c -- one chat request, from its frame to its terminal frame
 * (see request.h). The data flows one way: body -> deployment -> provider
 * build -> libcurl transfer -> provider parse/stream -> frames. */
#include "request.h"
#include "config.h"
#include "conn.h"
#include "hub.h"
#include "log.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"
#include "server.h"
#include "upstream.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_GROUP 64

struct request {
    struct request       *next, *prev;  /* conn->reqs */
    struct conn          *conn;         /* NULL once detached */
    struct server        *srv;
    uint64_t              id;
    json_t               *body;         /* owned: the canonical request */
    struct config        *cfg;          /* owned reference */
    struct deployment    *dep;          /* borrowed from cfg */
    struct pcall          pc;
    struct http_req       hreq;         /* owned until the transfer ends */
    CURL                 *easy;         /* owned; NULL when no transfer */
    struct upstream_xfer  xfer;
    struct buf            resp;         /* non-stream or error body */
    long                  status;       /* upstream HTTP status, 0 = none */
    double                retry_after;  /* from headers, < 0 = none */
    int                   stream;
    int                   want_usage;   /* stream_options.include_usage */
    int                   paused;
    int                   ended;        /* terminal frame sent */
    uint64_t              chunks;
    char                  chunk_id[80]; /* of the last chunk, for the */
    char                  chunk_model[128]; /* usage chunk we synthesise */
    json_int_t            chunk_created;
    uint64_t              t_start, t_up_start, t_up_end, t_first_chunk;
};

struct request *request_next(const struct request *rq)
{
    return rq->next;
}

uint64_t request_id(const struct request *rq)
{
    return rq->id;
}

int request_paused(const struct request *rq)
{
    return rq->paused;
}

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

/* ---- lifetime ----------------------------------------------------------- */

static void request_unlink(struct request *rq)
{
    struct conn *c = rq->conn;

    if (c == NULL)
        return;
    if (rq->prev)
        rq->prev->next = rq->next;
    else
        c->reqs = rq->next;
    if (rq->next)
        rq->next->prev = rq->prev;
    rq->next = rq->prev = NULL;
    c->nreqs--;
    rq->conn = NULL;
    conn_request_gone(c);
}

static void stop_transfer(struct request *rq)
{
    if (rq->easy == NULL)
        return;
    upstream_remove(&rq->srv->up, rq->easy);
    upstream_easy_put(&rq->srv->up, rq->easy);
    rq->easy = NULL;
}

static void request_free(struct request *rq)
{
    struct server *s = rq->srv;

    request_unlink(rq);
    stop_transfer(rq);
    if (rq->pc.prov && rq->pc.prov->stream_free)
        rq->pc.prov->stream_free(&rq->pc);
    json_decref(rq->pc.usage);
    http_req_free(&rq->hreq);
    buf_free(&rq->resp);
    json_decref(rq->body);
    config_unref(rq->cfg);
    free(rq);
    s->stats.inflight--;
    server_request_ended(s);
}

/* ---- frames ------------------------------------------------------------- */

static void log_request(struct request *rq, const char *status)
{
    char f_id[48], f_uid[32], f_pid[32], f_model[160], f_dep[160],
         f_status[64], f_tokens[64], f_lat[48], f_ovh[48];
    const char *fields[10];
    json_int_t pt = 0, ct = 0;
    uint64_t total = now_us() - rq->t_start;
    uint64_t up = rq->t_up_end > rq->t_up_start ?
                  rq->t_up_end - rq->t_up_start : 0;

    if (rq->pc.usage) {
        pt = json_integer_value(json_object_get(rq->pc.usage,
                                                "prompt_tokens"));
        ct = json_integer_value(json_object_get(rq->pc.usage,
                                                "completion_tokens"));
    }
    snprintf(f_id, sizeof(f_id), "LLMUX_REQUEST=%llu",
             (unsigned long long)rq->id);
    snprintf(f_uid, sizeof(f_uid), "LLMUX_UID=%u",
             rq->conn ? (unsigned)rq->conn->uid : 0u);
    snprintf(f_pid, sizeof(f_pid), "LLMUX_PID=%d",
             rq->conn ? (int)rq->conn->pid : 0);
    snprintf(f_model, sizeof(f_model), "LLMUX_MODEL=%s",
             hub_str(rq->body, "model") ? hub_str(rq->body, "model") : "");
    snprintf(f_dep, sizeof(f_dep), "LLMUX_DEPLOYMENT=%s",
             rq->dep ? rq->dep->id : "");
    snprintf(f_status, sizeof(f_status), "LLMUX_STATUS=%s", status);
    snprintf(f_tokens, sizeof(f_tokens), "LLMUX_TOKENS=%lld+%lld",
             (long long)pt, (long long)ct);
    snprintf(f_lat, sizeof(f_lat), "LLMUX_LATENCY_US=%llu",
             (unsigned long long)total);
    snprintf(f_ovh, sizeof(f_ovh), "LLMUX_OVERHEAD_US=%llu",
             (unsigned long long)(total - up));
    fields[0] = f_id; fields[1] = f_uid; fields[2] = f_pid;
    fields[3] = f_model; fields[4] = f_dep; fields[5] = f_status;
    fields[6] = f_tokens; fields[7] = f_lat; fields[8] = f_ovh;
    fields[9] = NULL;
    log_fields(LOG_INFO, "request", fields);
}

/* Ends the request with an error frame, then frees it. */
static void request_fail(struct request *rq, int code, long status,
                         const char *message, double retry_after)
{
    struct proto_enc e;

    if (rq->conn && !rq->ended) {
        proto_enc_init(&e);
        if (proto_pack_error(&e, rq->id, code, message,
                             rq->dep ? rq->dep->preset->name : NULL,
                             rq->dep ? rq->dep->id : NULL,
                             retry_after) == 0)
            conn_send(rq->conn, &e);
        proto_enc_free(&e);
    }
    rq->ended = 1;
    rq->srv->stats.errors++;
    {
        char st[48];

        snprintf(st, sizeof(st), "%s/%ld", proto_err_type(code), status);
        log_request(rq, st);
    }
    request_free(rq);
}

static void fail_with_perr(struct request *rq)
{
    struct perr *e = &rq->pc.err;

    request_fail(rq, e->code ? e->code : LLMUX_EINTERNAL, e->status,
                 e->message[0] ? e->message : proto_strerror(e->code),
                 e->retry_after);
}

static void pack_timing(struct request *rq, msgpack_packer *pk)
{
    uint64_t end = now_us(), total = end - rq->t_start;
    uint64_t up = rq->t_up_end > rq->t_up_start ?
                  rq->t_up_end - rq->t_up_start : 0;
    int first = rq->t_first_chunk != 0;

    msgpack_pack_map(pk, 3 + (uint32_t)first);
    proto_pack_kv_uint(pk, "total_us", total);
    proto_pack_kv_uint(pk, "upstream_us", up);
    proto_pack_kv_uint(pk, "overhead_us", total > up ? total - up : 0);
    if (first)
        proto_pack_kv_uint(pk, "first_chunk_us",
                           rq->t_first_chunk - rq->t_start);
}

static void pack_done(struct request *rq, struct proto_enc *e)
{
    const struct deployment *d = rq->dep;
    int has_usage = rq->pc.usage != NULL;

    proto_enc_begin(e, PROTO_DONE, rq->id, 7 + (uint32_t)has_usage);
    if (has_usage) {
        proto_pack_str(&e->pk, "usage");
        hub_pack(&e->pk, rq->pc.usage);
    }
    proto_pack_kv_str(&e->pk, "model", d->upstream_model);
    proto_pack_kv_str(&e->pk, "provider", d->preset->name);
    proto_pack_kv_str(&e->pk, "deployment", d->id);
    proto_pack_kv_uint(&e->pk, "attempts", 1);
    proto_pack_kv_uint(&e->pk, "fallbacks", 0);
    proto_pack_kv_uint(&e->pk, "chunks", rq->chunks);
    proto_pack_str(&e->pk, "timing");
    pack_timing(rq, &e->pk);
}

/* Ends the request successfully: for streams that asked include_usage, an
 * OpenAI usage chunk first; then done. */
static void request_finish(struct request *rq, json_t *completion)
{
    struct proto_enc e;

    proto_enc_init(&e);
    if (completion) {
        proto_enc_begin(&e, PROTO_RESPONSE, rq->id, 1);
        proto_pack_str(&e.pk, "body");
        hub_pack(&e.pk, completion);
        if (proto_enc_end(&e) < 0) {
            proto_enc_free(&e);
            request_fail(rq, LLMUX_EUNAVAIL, 0, "the upstream answer is "
                         "larger than a frame (16 MiB)", -1);
            return;
        }
    }
    if (rq->stream && rq->want_usage && rq->pc.usage) {
        json_t *u = hub_chunk_new(rq->chunk_id, rq->chunk_model,
                                  rq->chunk_created);

        if (u && json_object_set(u, "usage", rq->pc.usage) == 0) {
            proto_enc_begin(&e, PROTO_CHUNK, rq->id, 1);
            proto_pack_str(&e.pk, "body");
            hub_pack(&e.pk, u);
            proto_enc_end(&e);
            rq->chunks++;
        }
        json_decref(u);
    }
    pack_done(rq, &e);
    proto_enc_end(&e);
    if (rq->conn)
        conn_send(rq->conn, &e);
    proto_enc_free(&e);
    rq->ended = 1;
    log_request(rq, "ok");
    request_free(rq);
}

/* pc->emit: one canonical chunk from the adapter, out as a frame now. */
static int emit_chunk(void *ud, json_t *chunk)
{
    struct request *rq = ud;
    struct proto_enc e;
    const char *s;
    int r;

    if (rq->conn == NULL) {
        json_decref(chunk);
        return LLMUX_ECLOSED;
    }
    if (rq->chunks == 0) {
        rq->t_first_chunk = now_us();
        if ((s = hub_str(chunk, "id")) != NULL)
            snprintf(rq->chunk_id, sizeof(rq->chunk_id), "%s", s);
        if ((s = hub_str(chunk, "model")) != NULL)
            snprintf(rq->chunk_model, sizeof(rq->chunk_model), "%s", s);
        rq->chunk_created = json_integer_value(json_object_get(chunk,
                                                               "created"));
    }
    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_CHUNK, rq->id, 1);
    proto_pack_str(&e.pk, "body");
    hub_pack(&e.pk, chunk);
    json_decref(chunk);
    if ((r = proto_enc_end(&e)) == 0) {
        rq->chunks++;
        r = conn_send(rq->conn, &e);
    }
    proto_enc_free(&e);
    if (r == 0 && rq->conn && conn_backlogged(rq->conn))
        request_pause(rq);
    return r;
}

/* ---- backpressure ------------------------------------------------------- */

void request_pause(struct request *rq)
{
    if (rq->paused || rq->easy == NULL)
        return;
    /* Allowed from inside the write callback; curl keeps what it already
     * read from the socket and stops reading more. */
    curl_easy_pause(rq->easy, CURLPAUSE_RECV);
    rq->paused = 1;
    log_debug("request %llu: paused, client output backlog %zu bytes",
              (unsigned long long)rq->id, rq->conn ? uv_stream_get_write_queue_size(
              (const uv_stream_t *)&rq->conn->pipe) : 0);
    if (rq->conn)
        rq->conn->upstream_paused++;
}

void request_resume(struct request *rq)
{
    if (!rq->paused || rq->easy == NULL)
        return;
    rq->paused = 0;
    if (rq->conn && rq->conn->upstream_paused)
        rq->conn->upstream_paused--;
    log_debug("request %llu: resumed", (unsigned long long)rq->id);
    curl_easy_pause(rq->easy, CURLPAUSE_CONT);
}

/* ---- the transfer ------------------------------------------------------- */

static double parse_retry_after(const char *v, size_t n, int ms)
{
    char tmp[64], *end;
    double d;

    if (n >= sizeof(tmp))
        return -1;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    d = strtod(tmp, &end);
    if (end == tmp || d < 0 || d != d)
        return -1;  /* HTTP dates are rare for LLM APIs; ignored */
    return ms ? d / 1000.0 : d;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct request *rq = ud;
    size_t len = size * n, vlen;
    const char *v;
    int ms = 0;

    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0)
        v = p + 12;
    else if (len > 15 && strncasecmp(p, "retry-after-ms:", 15) == 0) {
        v = p + 15;
        ms = 1;
    } else
        return len;
    while (v < p + len && (*v == ' ' || *v == '\t'))
        v++;
    vlen = (size_t)(p + len - v);
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
                    v[vlen - 1] == ' '))
        vlen--;
    {
        double d = parse_retry_after(v, vlen, ms);

        /* retry-after-ms is the more precise of the two when both come. */
        if (d >= 0 && (ms || rq->retry_after < 0))
            rq->retry_after = d;
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct request *rq = ud;
    size_t len = size * n;

    if (rq->status == 0)
        curl_easy_getinfo(rq->easy, CURLINFO_RESPONSE_CODE, &rq->status);
    if (rq->stream && rq->status >= 200 && rq->status < 300) {
        if (rq->pc.prov->stream_feed(&rq->pc, p, len) < 0)
            return CURL_WRITEFUNC_ERROR;
        return len;
    }
    if (buf_add(&rq->resp, p, len) < 0) {
        pcall_fail(&rq->pc, LLMUX_EUNAVAIL, rq->status, "%s: the upstream "
                   "answer exceeds 64 MiB", rq->pc.prov->name);
        return CURL_WRITEFUNC_ERROR;
    }
    return len;
}

static int curl_code(CURLcode res, char *msg, size_t len, const char *prov)
{
    switch (res) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(msg, len, "%s did not answer in time", prov);
        return LLMUX_ETIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        snprintf(msg, len, "cannot reach %s: %s", prov,
                 curl_easy_strerror(res));
        return LLMUX_ECONN;
    default:
        snprintf(msg, len, "connection to %s failed: %s", prov,
                 curl_easy_strerror(res));
        return LLMUX_EUNAVAIL;
    }
}

static void transfer_done(struct upstream_xfer *x, CURLcode res)
{
    struct request *rq = (struct request *)((char *)x -
                                            offsetof(struct request, xfer));
    struct http_resp r;
    json_t *completion = NULL;
    char msg[256];
    int code;

    rq->t_up_end = now_us();
    upstream_easy_put(&rq->srv->up, rq->easy);
    rq->easy = NULL;
    if (rq->paused && rq->conn && rq->conn->upstream_paused)
        rq->conn->upstream_paused--;
    rq->paused = 0;
    if (rq->pc.err.code) {
        /* The adapter stopped the stream (in-stream error) or the body was
         * too big: its words are the best we have. */
        fail_with_perr(rq);
        return;
    }
    if (res != CURLE_OK) {
        code = curl_code(res, msg, sizeof(msg), rq->dep->preset->name);
        request_fail(rq, code, 0, msg, -1);
        return;
    }
    r.status = rq->status;
    r.body = rq->resp.p ? rq->resp.p : "";
    r.len = rq->resp.len;
    r.retry_after = rq->retry_after;
    if (r.status < 200 || r.status >= 300) {
        if (rq->pc.prov->map_error)
            rq->pc.prov->map_error(&rq->pc, &r);
        else
            provider_map_error_default(&rq->pc, &r);
        fail_with_perr(rq);
        return;
    }
    if (rq->stream) {
        if (rq->pc.prov->stream_end && rq->pc.prov->stream_end(&rq->pc) < 0)
            fail_with_perr(rq);
        else
            request_finish(rq, NULL);
        return;
    }
    if (rq->pc.prov->parse(&rq->pc, &r, &completion) < 0) {
        fail_with_perr(rq);
        return;
    }
    request_finish(rq, completion);
    json_decref(completion);
}

static double request_timeout(const struct request *rq)
{
    json_t *t = json_object_get(rq->body, "timeout");

    if (json_is_number(t) && json_number_value(t) > 0)
        return json_number_value(t);
    if (rq->dep->timeout > 0)
        return rq->dep->timeout;
    return rq->cfg->request_timeout;
}

static int start_transfer(struct request *rq)
{
    CURL *h = upstream_easy_get(&rq->srv->up);
    long ms = (long)(request_timeout(rq) * 1000);

    if (h == NULL)
        return pcall_fail(&rq->pc, LLMUX_EINTERNAL, 0, "out of memory");
    rq->easy = h;
    curl_easy_setopt(h, CURLOPT_URL, rq->hreq.url.p);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, rq->hreq.headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->hreq.body.p);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)rq->hreq.body.len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, rq);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, rq);
    curl_easy_setopt(h, CURLOPT_PRIVATE, &rq->xfer);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 600000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "llmuxd/0.1");
    rq->xfer.done = transfer_done;
    rq->t_up_start = now_us();
    if (upstream_add(&rq->srv->up, h) < 0) {
        upstream_easy_put(&rq->srv->up, h);
        rq->easy = NULL;
        return pcall_fail(&rq->pc, LLMUX_EINTERNAL, 0, "cannot start the "
                          "upstream transfer");
    }
    return 0;
}

/* ---- start -------------------------------------------------------------- */

static int validate(struct request *rq, char *msg, size_t len)
{
    json_t *m = json_object_get(rq->body, "messages");
    json_t *s = json_object_get(rq->body, "stream");
    json_t *so = json_object_get(rq->body, "stream_options");

    if (!json_is_string(json_object_get(rq->body, "model"))) {
        snprintf(msg, len, "the request needs a \"model\" (a string)");
        return LLMUX_EBADREQ;
    }
    if (!json_is_array(m) || json_array_size(m) == 0) {
        snprintf(msg, len, "the request needs \"messages\" (a non-empty "
                 "array)");
        return LLMUX_EBADREQ;
    }
    for (size_t i = 0; i < json_array_size(m); i++)
        if (!json_is_object(json_array_get(m, i)) ||
            !json_is_string(json_object_get(json_array_get(m, i), "role"))) {
            snprintf(msg, len, "messages[%zu] needs a \"role\"", i);
            return LLMUX_EBADREQ;
        }
    if (s && !json_is_boolean(s) && !json_is_null(s)) {
        snprintf(msg, len, "\"stream\" must be true or false");
        return LLMUX_EBADREQ;
    }
    rq->stream = json_is_true(s);
    rq->want_usage = rq->stream && json_is_true(json_object_get(so,
                                                    "include_usage"));
    return 0;
}

/* Picks one deployment of the group (round robin; the router replaces
 * this with strategies, retries and fallbacks). */
static int choose_deployment(struct request *rq, char *msg, size_t len)
{
    struct deployment *group[MAX_GROUP];
    int n;

    n = config_resolve(rq->cfg, hub_str(rq->body, "model"), group,
                       MAX_GROUP, msg, len);
    if (n < 0)
        return n;
    rq->dep = group[rq->srv->rr++ % (uint64_t)n];
    return 0;
}

void request_start_chat(struct conn *c, uint64_t id, json_t *body)
{
    struct server *s = c->srv;
    struct request *rq = calloc(1, sizeof(*rq));
    json_t *completion = NULL;
    char msg[512];
    int r;

    if (rq == NULL) {
        json_decref(body);
        conn_send_error(c, id, LLMUX_EINTERNAL, "out of memory");
        return;
    }
    rq->t_start = now_us();
    rq->srv = s;
    rq->id = id;
    rq->body = body;
    rq->cfg = config_ref(s->cfg);
    rq->retry_after = -1;
    http_req_init(&rq->hreq);
    buf_init(&rq->resp, HTTP_MAX_BODY);
    rq->conn = c;
    rq->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = rq;
    c->reqs = rq;
    c->nreqs++;
    s->stats.inflight++;
    s->stats.requests++;

    if ((r = validate(rq, msg, sizeof(msg))) < 0 ||
        (r = choose_deployment(rq, msg, sizeof(msg))) < 0) {
        request_fail(rq, r, 0, msg, -1);
        return;
    }
    rq->pc.prov = rq->dep->prov;
    rq->pc.dep = rq->dep;
    rq->pc.req = rq->body;
    rq->pc.stream = rq->stream;
    rq->pc.drop_params = hub_bool(rq->body, "drop_params",
                                  rq->cfg->drop_params);
    rq->pc.seq = ++s->seq;
    rq->pc.emit = emit_chunk;
    rq->pc.emit_ud = rq;
    rq->pc.err.retry_after = -1;
    if (rq->pc.prov->flags & PROV_LOCAL) {
        /* No transfer: the answer is ready now. */
        rq->t_up_start = rq->t_up_end = now_us();
        if (rq->pc.prov->run_local(&rq->pc, &completion) < 0)
            fail_with_perr(rq);
        else
            request_finish(rq, completion);
        json_decref(completion);
        return;
    }
    if (rq->pc.prov->build(&rq->pc, &rq->hreq) < 0 ||
        start_transfer(rq) < 0)
        fail_with_perr(rq);
}

void request_cancel(struct request *rq, int code, const char *message)
{
    stop_transfer(rq);
    request_fail(rq, code, 0, message, -1);
}

void request_abort(struct request *rq)
{
    log_request(rq, "cancelled/disconnect");
    request_unlink(rq);
    request_free(rq);
}
