/* request.c -- one chat request, from its frame to its terminal frame
 * (see request.h). The data flows one way: body -> model group ->
 * deployment (router.c) -> provider build -> libcurl transfer -> provider
 * parse/stream -> frames. The request runs as attempts, one deployment
 * each: an attempt that fails before any chunk reached the caller is
 * retried after a backoff or falls back to another model group, as
 * router.c decides; after the first chunk nothing is retried silently. */
#include "request.h"
#include "config.h"
#include "conn.h"
#include "hub.h"
#include "log.h"
#include "presets.h"
#include "provider.h"
#include "router.h"
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

#define MAX_REQ_RETRIES 100    /* cap on a request's num_retries */

struct request {
    struct request       *next, *prev;  /* conn->reqs */
    struct conn          *conn;         /* NULL once detached */
    struct server        *srv;
    uint64_t              id;
    json_t               *body;         /* owned: the canonical request */
    struct config        *cfg;          /* owned reference */
    struct deployment    *dep;          /* borrowed from cfg: the current
                                         * (else last) attempt's */
    struct pcall          pc;           /* the current attempt */
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
    /* Microseconds (uv_hrtime): t_up_* are the current attempt's. */
    uint64_t              t_start, t_up_start, t_up_end, t_first_chunk;
    uint64_t              deadline;     /* of the whole request */
    uint64_t              up_us;        /* upstream time, all attempts */
    uint64_t              wait_us;      /* backoff waits */
    uint64_t              t_wait;       /* when the current wait began */
    /* Routing: the model group being tried and what is left to try. */
    const char           *group;        /* borrowed from body or cfg */
    struct deployment    *cands[ROUTER_MAX_GROUP]; /* borrowed from cfg */
    unsigned char         tried[ROUTER_MAX_GROUP];
    size_t                ncands;
    struct rstat         *st;           /* dep's, while an attempt runs */
    unsigned              retries;      /* in this group */
    unsigned              attempts;     /* in all */
    unsigned              fallbacks;    /* groups entered after the first */
    const char           *chain[ROUTER_MAX_CHAIN]; /* fallback groups */
    size_t                nchain, next_fallback;
    int                   chain_made;
    int                   req_retries;  /* the body's num_retries, or -1 */
    const char           *ov_general[ROUTER_MAX_CHAIN]; /* borrowed from */
    const char           *ov_context[ROUTER_MAX_CHAIN]; /* the body */
    struct fallback_override ov;
    struct perr           last;         /* what to report if all fail */
    struct deployment    *last_dep;     /* whose answer that was, or NULL */
    double                idle_s;       /* between chunks; 0 = no limit */
    /* Timers live inside the request, so it is freed only once libuv
     * closed both (on_handle_closed). */
    uv_timer_t            next_timer;   /* backoff, then the next attempt */
    uv_timer_t            watch_timer;  /* the first chunk, then idle gaps */
    int                   open_handles;
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

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
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
    conn_request_gone(c, rq->id);
}

/* The transfer is over (or never started): forget the pause it held. */
static void unpause(struct request *rq)
{
    if (rq->paused && rq->conn && rq->conn->upstream_paused)
        rq->conn->upstream_paused--;
    rq->paused = 0;
}

static void stop_transfer(struct request *rq)
{
    if (rq->easy == NULL)
        return;
    upstream_remove(&rq->srv->up, rq->easy);
    upstream_easy_put(&rq->srv->up, rq->easy);
    rq->easy = NULL;
    unpause(rq);
}

/* Drops what one attempt built, so the next starts clean. */
static void reset_attempt(struct request *rq)
{
    if (rq->pc.prov && rq->pc.prov->stream_free)
        rq->pc.prov->stream_free(&rq->pc);
    json_decref(rq->pc.usage);
    memset(&rq->pc, 0, sizeof(rq->pc));
    rq->pc.err.retry_after = -1;
    http_req_free(&rq->hreq);
    http_req_init(&rq->hreq);
    buf_reset(&rq->resp);
    rq->status = 0;
    rq->retry_after = -1;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct request *rq = h->data;

    if (--rq->open_handles == 0)
        free(rq);
}

static void request_free(struct request *rq)
{
    struct server *s = rq->srv;

    request_unlink(rq);
    stop_transfer(rq);
    router_end_abort(rq->st);   /* an attempt cut short by a cancel */
    rq->st = NULL;
    reset_attempt(rq);
    http_req_free(&rq->hreq);
    buf_free(&rq->resp);
    json_decref(rq->body);
    rq->body = NULL;
    config_unref(rq->cfg);
    rq->cfg = NULL;
    uv_close((uv_handle_t *)&rq->next_timer, on_handle_closed);
    uv_close((uv_handle_t *)&rq->watch_timer, on_handle_closed);
    s->stats.inflight--;
    server_request_ended(s);
}

/* ---- frames ------------------------------------------------------------- */

static void log_request(struct request *rq, const char *status)
{
    char f_id[48], f_uid[32], f_pid[32], f_model[160], f_group[160],
         f_dep[160], f_prov[64], f_status[64], f_tokens[64], f_lat[48],
         f_ovh[48];
    const char *fields[12];
    const struct deployment *d = rq->dep;
    json_int_t pt = 0, ct = 0;
    uint64_t total = now_us() - rq->t_start;
    uint64_t up = rq->t_up_end > rq->t_up_start ?
                  rq->t_up_end - rq->t_up_start : 0;
    uint64_t ovh = total > up ? total - up : 0;

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
    snprintf(f_group, sizeof(f_group), "LLMUX_GROUP=%s",
             d ? d->model_name : "");
    snprintf(f_dep, sizeof(f_dep), "LLMUX_DEPLOYMENT=%s", d ? d->id : "");
    snprintf(f_prov, sizeof(f_prov), "LLMUX_PROVIDER=%s",
             d ? d->preset->name : "");
    snprintf(f_status, sizeof(f_status), "LLMUX_STATUS=%s", status);
    snprintf(f_tokens, sizeof(f_tokens), "LLMUX_TOKENS=%lld+%lld",
             (long long)pt, (long long)ct);
    snprintf(f_lat, sizeof(f_lat), "LLMUX_LATENCY_US=%llu",
             (unsigned long long)total);
    snprintf(f_ovh, sizeof(f_ovh), "LLMUX_OVERHEAD_US=%llu",
             (unsigned long long)ovh);
    fields[0] = f_id; fields[1] = f_uid; fields[2] = f_pid;
    fields[3] = f_model; fields[4] = f_group; fields[5] = f_dep;
    fields[6] = f_prov; fields[7] = f_status; fields[8] = f_tokens;
    fields[9] = f_lat; fields[10] = f_ovh; fields[11] = NULL;
    log_fields(LOG_INFO, "request", fields);
    metrics_record(&rq->srv->metrics, &(struct metrics_sample){
        .group = d ? d->model_name : "", .deployment = d ? d->id : "",
        .provider = d ? d->preset->name : "", .outcome = status,
        .prompt_tokens = pt > 0 ? (uint64_t)pt : 0,
        .completion_tokens = ct > 0 ? (uint64_t)ct : 0,
        .latency_us = total, .overhead_us = ovh });
}

/* Ends the request with an error frame, then frees it. The error names
 * rq->dep (the deployment whose answer caused it) when there is one. */
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

static void pack_timing(struct request *rq, msgpack_packer *pk)
{
    uint64_t end = now_us(), total = end - rq->t_start;
    uint64_t spent = rq->up_us + rq->wait_us;
    int first = rq->t_first_chunk != 0, waited = rq->wait_us != 0;

    msgpack_pack_map(pk, 3 + (uint32_t)first + (uint32_t)waited);
    proto_pack_kv_uint(pk, "total_us", total);
    proto_pack_kv_uint(pk, "upstream_us", rq->up_us);
    /* What llmux itself added: neither upstream time nor backoff. */
    proto_pack_kv_uint(pk, "overhead_us", total > spent ? total - spent : 0);
    if (first)
        proto_pack_kv_uint(pk, "first_chunk_us",
                           rq->t_first_chunk - rq->t_start);
    if (waited)
        proto_pack_kv_uint(pk, "wait_us", rq->wait_us);
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
    proto_pack_kv_uint(&e->pk, "attempts", rq->attempts);
    proto_pack_kv_uint(&e->pk, "fallbacks", rq->fallbacks);
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

/* ---- timeouts around a stream ------------------------------------------- */

static void on_watch(uv_timer_t *t);

static void watch_start(struct request *rq, double secs)
{
    if (secs > 0)
        uv_timer_start(&rq->watch_timer, on_watch,
                       (uint64_t)(secs * 1000 + 0.5), 0);
}

/* stream_timeout: the time to the FIRST chunk (the deployment's, else
 * router_settings'). It runs from the start of the attempt, so it fires
 * on time even when the upstream sends nothing at all. */
static double first_chunk_timeout(const struct request *rq)
{
    if (rq->dep->stream_timeout > 0)
        return rq->dep->stream_timeout;
    return rq->cfg->router.stream_timeout;
}

/* pc->emit: one canonical chunk from the adapter, out as a frame now. */
/* Ends the chunk frame in e, sends it and frees e; then the timers and
 * backpressure every chunk updates. */
static int send_chunk(struct request *rq, struct proto_enc *e)
{
    int r;

    if ((r = proto_enc_end(e)) == 0) {
        rq->chunks++;
        r = conn_send(rq->conn, e);
    }
    proto_enc_free(e);
    /* The first chunk stops the stream_timeout; each chunk re-arms the
     * idle timeout (a paused stream waits for the caller, not upstream). */
    uv_timer_stop(&rq->watch_timer);
    if (rq->easy)
        watch_start(rq, rq->idle_s);
    if (r == 0 && rq->conn && conn_backlogged(rq->conn))
        request_pause(rq);
    return r;
}

static int emit_chunk(void *ud, json_t *chunk)
{
    struct request *rq = ud;
    struct proto_enc e;
    const char *s;

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
    return send_chunk(rq, &e);
}

/* pc->emit_json: a chunk as JSON text, packed into the frame directly.
 * The first chunk of a stream takes the tree path, which remembers its
 * id, model and created for the usage chunk request_finish may add. */
static int emit_chunk_json(void *ud, const char *json, size_t len)
{
    struct request *rq = ud;
    struct proto_enc e;
    char err[128];
    json_t *chunk;

    if (rq->conn == NULL)
        return LLMUX_ECLOSED;
    if (rq->chunks == 0) {
        if ((chunk = json_loadb(json, len, 0, NULL)) == NULL)
            return pcall_fail(&rq->pc, LLMUX_EUNAVAIL, 200, "%s sent a "
                              "malformed stream event",
                              pcall_name(&rq->pc));
        return emit_chunk(rq, chunk);
    }
    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_CHUNK, rq->id, 1);
    proto_pack_str(&e.pk, "body");
    if (proto_json_pack(&e.pk, json, len, err, sizeof(err)) < 0) {
        proto_enc_free(&e);
        return pcall_fail(&rq->pc, LLMUX_EUNAVAIL, 200, "%s sent a "
                          "malformed stream event (%s)",
                          pcall_name(&rq->pc), err);
    }
    return send_chunk(rq, &e);
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
    uv_timer_stop(&rq->watch_timer);
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
    watch_start(rq, rq->idle_s);
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

static void attempt_ok(struct request *rq, json_t *completion);
static void attempt_failed(struct request *rq);

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
    unpause(rq);
    if (rq->pc.err.code) {
        /* The adapter stopped the stream (in-stream error) or the body was
         * too big: its words are the best we have. */
        attempt_failed(rq);
        return;
    }
    if (res != CURLE_OK) {
        code = curl_code(res, msg, sizeof(msg), rq->dep->preset->name);
        pcall_fail(&rq->pc, code, 0, "%s", msg);
        attempt_failed(rq);
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
        attempt_failed(rq);
        return;
    }
    if (rq->stream) {
        if (rq->pc.prov->stream_end && rq->pc.prov->stream_end(&rq->pc) < 0)
            attempt_failed(rq);
        else
            attempt_ok(rq, NULL);
        return;
    }
    if (rq->pc.prov->parse(&rq->pc, &r, &completion) < 0) {
        attempt_failed(rq);
        return;
    }
    attempt_ok(rq, completion);
    json_decref(completion);
}

/* The stream_timeout or the idle timeout expired: the attempt failed
 * with a timeout (before the first chunk it may still be retried). */
static void on_watch(uv_timer_t *t)
{
    struct request *rq = t->data;
    double secs = rq->chunks ? rq->idle_s : first_chunk_timeout(rq);

    rq->t_up_end = now_us();
    stop_transfer(rq);
    if (rq->chunks == 0)
        pcall_fail(&rq->pc, LLMUX_ETIMEOUT, 0, "%s sent no first chunk "
                   "within %.3g s (stream_timeout)", rq->dep->preset->name,
                   secs);
    else
        pcall_fail(&rq->pc, LLMUX_ETIMEOUT, 0, "%s sent nothing for "
                   "%.3g s", rq->dep->preset->name, secs);
    attempt_failed(rq);
}

/* Seconds one attempt on d may take: the deployment's timeout, else what
 * is left of the whole request's. */
static long attempt_timeout_ms(const struct request *rq)
{
    uint64_t now = now_us(), left = rq->deadline > now ?
                                    rq->deadline - now : 1000;
    uint64_t t = left;

    if (rq->dep->timeout > 0 && rq->dep->timeout * 1e6 < (double)left)
        t = (uint64_t)(rq->dep->timeout * 1e6);
    return t / 1000 > 0 ? (long)(t / 1000) : 1;
}

static int start_transfer(struct request *rq)
{
    CURL *h = upstream_easy_get(&rq->srv->up);

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
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, attempt_timeout_ms(rq));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "llmuxd/0.1");
    rq->xfer.done = transfer_done;
    if (upstream_add(&rq->srv->up, h) < 0) {
        upstream_easy_put(&rq->srv->up, h);
        rq->easy = NULL;
        return pcall_fail(&rq->pc, LLMUX_EINTERNAL, 0, "cannot start the "
                          "upstream transfer");
    }
    return 0;
}

/* ---- attempts ----------------------------------------------------------- */

static void attempt_next(struct request *rq);

static void on_next(uv_timer_t *t)
{
    struct request *rq = t->data;

    rq->wait_us += now_us() - rq->t_wait;
    attempt_next(rq);
}

/* The next attempt runs from the loop, after secs: never from inside the
 * callback that reported the failure. */
static void wait_then_next(struct request *rq, double secs)
{
    rq->t_wait = now_us();
    uv_timer_start(&rq->next_timer, on_next,
                   secs > 0 ? (uint64_t)(secs * 1000 + 0.5) : 0, 0);
}

/* Makes name the model group to try. 0, or < 0 with msg set. */
static int group_enter(struct request *rq, const char *name, char *msg,
                       size_t len)
{
    int n = config_resolve(rq->cfg, name, rq->cands, ROUTER_MAX_GROUP, msg,
                           len);

    if (n < 0)
        return n;
    rq->group = config_alias(rq->cfg, name);
    rq->ncands = (size_t)n;
    rq->retries = 0;
    memset(rq->tried, 0, sizeof(rq->tried));
    return 0;
}

/* Every attempt failed: the last error goes to the caller, saying how
 * hard llmux tried. */
static void fail_last(struct request *rq)
{
    char msg[sizeof(rq->last.message) + 64];

    rq->dep = rq->last_dep;
    if (rq->attempts > 1 || rq->fallbacks > 0)
        snprintf(msg, sizeof(msg), "%s (after %u attempts, %u fallbacks)",
                 rq->last.message, rq->attempts, rq->fallbacks);
    else
        snprintf(msg, sizeof(msg), "%s", rq->last.message);
    request_fail(rq, rq->last.code, rq->last.status, msg,
                 rq->last.retry_after);
}

/* The current group is done for (retries spent, or nothing healthy):
 * the next fallback group, or the end. The chain is fixed by the first
 * group's failure, as LiteLLM's fallbacks are. */
static void group_failed(struct request *rq, int code)
{
    char msg[512];

    if (!rq->chain_made) {
        rq->nchain = router_fallbacks(&rq->cfg->router, &rq->ov, rq->group,
                                      code, rq->chain, ROUTER_MAX_CHAIN);
        rq->chain_made = 1;
    }
    while (rq->next_fallback < rq->nchain) {
        const char *g = rq->chain[rq->next_fallback++];

        if (group_enter(rq, g, msg, sizeof(msg)) == 0) {
            rq->fallbacks++;
            log_info("request %llu: falling back to \"%s\" after %s",
                     (unsigned long long)rq->id, g, proto_err_type(code));
            wait_then_next(rq, 0);
            return;
        }
        log_warn("request %llu: fallback \"%s\" skipped: %s",
                 (unsigned long long)rq->id, g, msg);
    }
    fail_last(rq);
}

/* Once a chunk reached the caller a retry would repeat or contradict it:
 * the caller learns the stream was cut, and after how much. */
static void fail_cut(struct request *rq)
{
    const struct perr *e = &rq->pc.err;
    char msg[sizeof(e->message) + 96];

    snprintf(msg, sizeof(msg), "the stream was cut after %llu chunk%s: %s",
             (unsigned long long)rq->chunks, rq->chunks == 1 ? "" : "s",
             e->message);
    request_fail(rq, e->code, e->status, msg, -1);
}

static void attempt_failed(struct request *rq)
{
    const struct router_settings *rs = &rq->cfg->router;
    struct perr *e = &rq->pc.err;
    uint64_t now;
    double delay;
    int limit;

    uv_timer_stop(&rq->watch_timer);
    if (e->code == 0)
        pcall_fail(&rq->pc, LLMUX_EINTERNAL, 0, "%s failed without saying "
                   "why", rq->dep->preset->name);
    if (rq->t_up_end > rq->t_up_start)
        rq->up_us += rq->t_up_end - rq->t_up_start;
    now = now_us();
    if (rq->st) {
        double bench = router_end_fail(rs, rq->st, rq->dep, rq->ncands,
                                       e->code, e->retry_after, now / 1000);

        rq->st = NULL;
        if (bench > 0)
            log_warn("deployment %s of \"%s\" cools down for %.3g s after "
                     "%s", rq->dep->id, rq->dep->model_name, bench,
                     proto_err_type(e->code));
    }
    if (rq->chunks > 0) {
        fail_cut(rq);
        return;
    }
    rq->last = *e;
    rq->last_dep = rq->dep;
    if (e->code == LLMUX_ECANCELLED || e->code == LLMUX_ECLOSED) {
        fail_last(rq);
        return;
    }
    limit = router_retries(rs, rq->dep, e->code, rq->req_retries);
    if ((int)rq->retries < limit) {
        /* Another healthy deployment needs no wait; the same one gets
         * its Retry-After or the backoff. */
        if (router_untried(&rq->srv->router, rq->cands, rq->ncands,
                           rq->tried, now / 1000) > 0)
            delay = rs->retry_after;
        else
            delay = router_backoff(rs, rq->retries + 1, e->retry_after,
                                   router_random(&rq->srv->router));
        if ((double)now + delay * 1e6 < (double)rq->deadline) {
            rq->retries++;
            log_debug("request %llu: retry %u of \"%s\" in %.3g s after %s",
                      (unsigned long long)rq->id, rq->retries, rq->group,
                      delay, proto_err_type(e->code));
            wait_then_next(rq, delay);
            return;
        }
    }
    group_failed(rq, e->code);
}

static void attempt_ok(struct request *rq, json_t *completion)
{
    uint64_t up = rq->t_up_end > rq->t_up_start ?
                  rq->t_up_end - rq->t_up_start : 0;
    uint64_t lat = up;
    json_int_t tokens = 0;

    uv_timer_stop(&rq->watch_timer);
    rq->up_us += up;
    /* Streams are judged by the time to their first chunk, as LiteLLM's
     * latency-based routing does. */
    if (rq->stream && rq->t_first_chunk > rq->t_up_start)
        lat = rq->t_first_chunk - rq->t_up_start;
    if (rq->pc.usage)
        tokens = json_integer_value(json_object_get(rq->pc.usage,
                                                    "total_tokens"));
    router_end_ok(rq->st, now_ms(), (double)lat / 1000.0,
                  tokens > 0 ? (uint64_t)tokens : 0);
    rq->st = NULL;
    request_finish(rq, completion);
}

static void attempt_start(struct request *rq, size_t i)
{
    struct deployment *d = rq->cands[i];
    json_t *completion = NULL;
    int r;

    reset_attempt(rq);
    rq->dep = d;
    rq->tried[i] = 1;
    rq->attempts++;
    rq->st = router_stat(&rq->srv->router, d->key ? d->key : d->id);
    router_begin(rq->st, now_ms());
    rq->pc.prov = d->prov;
    rq->pc.dep = d;
    rq->pc.req = rq->body;
    rq->pc.stream = rq->stream;
    rq->pc.drop_params = hub_bool(rq->body, "drop_params",
                                  rq->cfg->drop_params);
    rq->pc.seq = ++rq->srv->seq;
    rq->pc.emit = emit_chunk;
    rq->pc.emit_json = emit_chunk_json;
    rq->pc.emit_ud = rq;
    rq->idle_s = rq->cfg->router.idle_timeout > 0 ?
                 rq->cfg->router.idle_timeout : first_chunk_timeout(rq);
    rq->t_up_start = now_us();
    rq->t_up_end = 0;
    if (d->prov->flags & PROV_LOCAL) {
        /* No transfer: the answer is ready now. */
        r = d->prov->run_local(&rq->pc, &completion);
        rq->t_up_end = now_us();
        if (r < 0)
            attempt_failed(rq);
        else
            attempt_ok(rq, completion);
        json_decref(completion);
        return;
    }
    if (provider_build(&rq->pc, &rq->hreq) < 0 || start_transfer(rq) < 0) {
        rq->t_up_end = now_us();
        attempt_failed(rq);
        return;
    }
    if (rq->stream)
        watch_start(rq, first_chunk_timeout(rq));
}

static void attempt_next(struct request *rq)
{
    uint64_t now = now_us();
    double ra;
    int i;

    if (now >= rq->deadline) {
        if (rq->attempts == 0) {
            rq->last.code = LLMUX_ETIMEOUT;
            rq->last.status = 0;
            rq->last.retry_after = -1;
            snprintf(rq->last.message, sizeof(rq->last.message), "no "
                     "deployment answered within the request timeout");
        }
        fail_last(rq);
        return;
    }
    i = router_pick(&rq->srv->router, &rq->cfg->router, rq->cands,
                    rq->ncands, rq->tried, now / 1000, &ra);
    if (i < 0) {
        rq->last.code = LLMUX_ERATELIMIT;
        rq->last.status = 429;
        rq->last.retry_after = ra;
        snprintf(rq->last.message, sizeof(rq->last.message), "every "
                 "deployment of \"%s\" is cooling down; the first returns "
                 "in %.1f s", rq->group, ra);
        rq->last_dep = NULL;
        group_failed(rq, LLMUX_ERATELIMIT);
        return;
    }
    attempt_start(rq, (size_t)i);
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

/* A list of model groups in the body: names, or {"model": name, …} as
 * LiteLLM's per-request fallbacks allow. Borrowed into out. */
static int read_group_list(const json_t *v, const char *key,
                           const char **out, size_t *ret_n, char *msg,
                           size_t len)
{
    size_t i, n = 0;
    json_t *it;

    if (!json_is_array(v)) {
        snprintf(msg, len, "\"%s\" must be a list of model names", key);
        return LLMUX_EBADREQ;
    }
    json_array_foreach(v, i, it) {
        const char *name = json_is_object(it) ? hub_str(it, "model") :
                           json_string_value(it);

        if (name == NULL) {
            snprintf(msg, len, "%s[%zu] must be a model name", key, i);
            return LLMUX_EBADREQ;
        }
        if (n < ROUTER_MAX_CHAIN)
            out[n++] = name;
    }
    *ret_n = n;
    return 0;
}

/* LiteLLM's per-request router controls: num_retries, timeout, fallbacks,
 * context_window_fallbacks, disable_fallbacks. The adapters never send
 * them upstream. */
static int read_overrides(struct request *rq, char *msg, size_t len)
{
    const struct config *c = rq->cfg;
    json_t *v;
    double total = c->router.timeout > 0 ? c->router.timeout :
                   c->request_timeout > 0 ? c->request_timeout : 600;
    int r;

    rq->req_retries = -1;
    if ((v = json_object_get(rq->body, "num_retries")) != NULL &&
        !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0) {
            snprintf(msg, len, "\"num_retries\" must be a whole number "
                     ">= 0");
            return LLMUX_EBADREQ;
        }
        rq->req_retries = json_integer_value(v) > MAX_REQ_RETRIES ?
                          MAX_REQ_RETRIES : (int)json_integer_value(v);
    }
    v = json_object_get(rq->body, "timeout");
    if (json_is_number(v) && json_number_value(v) > 0)
        total = json_number_value(v);
    rq->deadline = rq->t_start + (uint64_t)(total * 1e6);
    if ((v = json_object_get(rq->body, "fallbacks")) != NULL &&
        !json_is_null(v)) {
        if ((r = read_group_list(v, "fallbacks", rq->ov_general,
                                 &rq->ov.ngeneral, msg, len)) < 0)
            return r;
        rq->ov.general = rq->ov_general;
    }
    if ((v = json_object_get(rq->body, "context_window_fallbacks")) != NULL &&
        !json_is_null(v)) {
        if ((r = read_group_list(v, "context_window_fallbacks",
                                 rq->ov_context, &rq->ov.ncontext, msg,
                                 len)) < 0)
            return r;
        rq->ov.context = rq->ov_context;
    }
    rq->ov.disabled = hub_bool(rq->body, "disable_fallbacks", 0);
    return 0;
}

void request_start_chat(struct conn *c, uint64_t id, json_t *body)
{
    struct server *s = c->srv;
    struct request *rq = calloc(1, sizeof(*rq));
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
    rq->pc.err.retry_after = -1;
    http_req_init(&rq->hreq);
    buf_init(&rq->resp, HTTP_MAX_BODY);
    uv_timer_init(s->loop, &rq->next_timer);
    uv_timer_init(s->loop, &rq->watch_timer);
    rq->next_timer.data = rq->watch_timer.data = rq;
    rq->open_handles = 2;
    rq->conn = c;
    rq->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = rq;
    c->reqs = rq;
    c->nreqs++;
    s->stats.inflight++;
    s->stats.requests++;

    if ((r = validate(rq, msg, sizeof(msg))) < 0 ||
        (r = read_overrides(rq, msg, sizeof(msg))) < 0 ||
        (r = group_enter(rq, hub_str(rq->body, "model"), msg,
                         sizeof(msg))) < 0) {
        request_fail(rq, r, 0, msg, -1);
        return;
    }
    attempt_next(rq);
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
