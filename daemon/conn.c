/* conn.c -- one client connection once accepted: frame reading and
 * dispatch, session events as frames, writes with backpressure, and close
 * (see conn.h). Accepting, peer credentials, deadlines and the memory
 * budget's charges are in conn_accept.c. */
#include "conn.h"
#include "conn_internal.h"
#include "access.h"
#include "cache.h"
#include "budget.h"
#include "container.h"
#include "embed.h"
#include "config.h"
#include "hub.h"
#include "keys.h"
#include "log.h"
#include "ops.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A write in flight; the bytes belong to it until write_cb. */
struct wreq {
    uv_write_t  req;
    uv_buf_t    buf;      /* base owned (stolen from conn->out) */
};

static void start_write(struct conn *c);
static void write_done(uv_write_t *req, int status);

static void conn_freed(uv_handle_t *h)
{
    free(container_of((uv_timer_t *)h, struct conn, timer));
}

void conn_closed(uv_handle_t *h)
{
    struct conn *c = container_of((uv_pipe_t *)h, struct conn, pipe);

    server_conn_gone(c->srv, c);
    buf_free(&c->in);
    buf_free(&c->out);
    proto_enc_free(&c->enc);
    budget_give(&c->srv->budget, c->mem_in + c->mem_out + c->mem_frame);
    free(c->groups);
    keys_unref(c->sess.caller.key);
    c->sess.caller.key = NULL;
    uv_close((uv_handle_t *)&c->timer, conn_freed);
}

static void shutdown_done(uv_shutdown_t *req, int status)
{
    struct conn *c = req->data;

    (void)status;
    free(req);
    /* The linger deadline may have closed the pipe (status ECANCELED). */
    if (!uv_is_closing((uv_handle_t *)&c->pipe))
        uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

void conn_close(struct conn *c)
{
    uv_shutdown_t *req;

    if (c->closing)
        return;
    c->closing = 1;
    uv_read_stop((uv_stream_t *)&c->pipe);
    session_close(&c->sess);
    if (c->writing == NULL && c->out.len)
        start_write(c);
    /* Let queued frames (a final error) reach the client, then close. */
    req = malloc(sizeof(*req));
    if (req) {
        req->data = c;
        if (uv_shutdown(req, (uv_stream_t *)&c->pipe, shutdown_done) == 0) {
            /* A client that never reads must not keep us waiting (nor
             * keep a stopping llmuxd from exiting). */
            conn_deadline_start(c, CONN_DL_LINGER, CONN_LINGER_MS / 1000.0);
            return;
        }
        free(req);
    }
    uv_close((uv_handle_t *)&c->pipe, conn_closed);
}

static size_t backlog(const struct conn *c)
{
    return c->out.len + (c->writing ? c->writing->buf.len : 0);
}

/* Output cannot be refused once a request is answered: it is charged past
 * the limit if need be, so that new input is refused instead. */
static void out_charged(struct conn *c)
{
    size_t want = c->out.cap + (c->writing ? c->writing->buf.len : 0);

    if (want > c->mem_out)
        budget_force(&c->srv->budget, want - c->mem_out);
    else
        budget_give(&c->srv->budget, c->mem_out - want);
    c->mem_out = want;
}

static int backlogged(const struct conn *c)
{
    return backlog(c) > CONN_OUT_HIGH;
}

void conn_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
void conn_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

static void resume_after_drain(struct conn *c)
{
    if (c->closing || backlog(c) > CONN_OUT_LOW)
        return;
    session_drained(&c->sess);
    if (c->read_paused && !c->closing) {
        c->read_paused = 0;
        uv_read_start((uv_stream_t *)&c->pipe, conn_on_alloc, conn_on_read);
    }
}

/* Hands everything in c->out to libuv as one write. */
static void start_write(struct conn *c)
{
    struct wreq *w = malloc(sizeof(*w));
    size_t len;
    char *data;

    if (w == NULL) {
        buf_reset(&c->out);
        return;
    }
    data = buf_steal(&c->out, &len);
    w->buf = uv_buf_init(data, (unsigned)len);
    w->req.data = c;
    c->writing = w;
    if (uv_write(&w->req, (uv_stream_t *)&c->pipe, &w->buf, 1,
                 write_done) < 0) {
        /* Only a handle already closing refuses a write. */
        c->writing = NULL;
        free(data);
        free(w);
    }
}

static void write_done(uv_write_t *req, int status)
{
    struct wreq *w = container_of(req, struct wreq, req);
    struct conn *c = req->data;

    c->writing = NULL;
    free(w->buf.base);
    free(w);
    out_charged(c);
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->out.len)
        start_write(c);
    out_charged(c);
    if (c->read_paused || c->sess.paused)
        resume_after_drain(c);
}

int conn_send(struct conn *c, struct proto_enc *e)
{
    const char *data = e->sb.data;
    size_t len = e->sb.size;
    uv_buf_t b;
    int n;

    e->sb.size = 0;
    if (len == 0)
        return 0;
    if (c->closing)
        return LLMUX_ECLOSED;
    if (c->writing == NULL && c->out.len == 0) {
        /* Nothing queued: write now, and queue only what the socket did
         * not take. No copy, no allocation on the common path. */
        b = uv_buf_init((char *)data, (unsigned)len);
        n = uv_try_write((uv_stream_t *)&c->pipe, &b, 1);
        if (n == (int)len)
            return 0;
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        }
        /* Errors other than EAGAIN surface through the write callback. */
    }
    if (buf_add(&c->out, data, len) < 0)
        return LLMUX_ETOOBIG;
    if (c->writing == NULL)
        start_write(c);
    out_charged(c);
    if (!c->read_paused && backlogged(c)) {
        /* A client that does not read its answers does not get to send
         * more requests either. */
        c->read_paused = 1;
        uv_read_stop((uv_stream_t *)&c->pipe);
    }
    return 0;
}

void conn_send_error(struct conn *c, uint64_t id, int code,
                     const char *message)
{
    struct proto_enc e;

    proto_enc_init(&e);
    if (proto_pack_error(&e, id, code, message, NULL, NULL, -1) == 0)
        conn_send(c, &e);
    proto_enc_free(&e);
}

/* ---- session events as frames ------------------------------------------ */

/* A frame that once needed more than this gives its memory back. */
#define CONN_ENC_KEEP (64u * 1024)

static struct conn *conn_of(struct session *s)
{
    return container_of(s, struct conn, sess);
}

/* Sends what c->enc holds. */
static int flush(struct conn *c)
{
    int r = conn_send(c, &c->enc);

    if (c->enc.sb.alloc > CONN_ENC_KEEP) {
        proto_enc_free(&c->enc);
        proto_enc_init(&c->enc);
    }
    return r;
}

static int ev_chunk(struct session *s, uint64_t id, const json_t *chunk)
{
    struct conn *c = conn_of(s);
    int r;

    proto_enc_begin(&c->enc, PROTO_CHUNK, id, 1);
    proto_pack_str(&c->enc.pk, "body");
    hub_pack(&c->enc.pk, chunk);
    if ((r = proto_enc_end(&c->enc)) < 0)
        return r;
    return flush(c);
}

static int ev_chunk_json(struct session *s, uint64_t id, const char *json,
                         size_t len, char *err, size_t errlen)
{
    struct conn *c = conn_of(s);
    int r;

    proto_enc_begin(&c->enc, PROTO_CHUNK, id, 1);
    proto_pack_str(&c->enc.pk, "body");
    if (proto_json_pack(&c->enc.pk, json, len, err, errlen) < 0) {
        c->enc.sb.size = c->enc.start;
        return LLMUX_EUNAVAIL;
    }
    if ((r = proto_enc_end(&c->enc)) < 0)
        return r;
    return flush(c);
}

/* Held in c->enc until done: the two leave in one write. */
static int ev_completion(struct session *s, uint64_t id, const json_t *body)
{
    struct conn *c = conn_of(s);

    proto_enc_begin(&c->enc, PROTO_RESPONSE, id, 1);
    proto_pack_str(&c->enc.pk, "body");
    hub_pack(&c->enc.pk, body);
    return proto_enc_end(&c->enc);
}

/* The same for an embeddings answer: its vectors as float32 arrays. */
static int ev_embedding(struct session *s, uint64_t id, const json_t *body)
{
    struct conn *c = conn_of(s);

    proto_enc_begin(&c->enc, PROTO_RESPONSE, id, 1);
    proto_pack_str(&c->enc.pk, "body");
    embed_pack(&c->enc.pk, body);
    return proto_enc_end(&c->enc);
}

static void pack_timing(msgpack_packer *pk, const struct session_timing *t)
{
    int first = t->first_chunk_us != 0, waited = t->wait_us != 0;

    msgpack_pack_map(pk, 3 + (uint32_t)first + (uint32_t)waited);
    proto_pack_kv_uint(pk, "total_us", t->total_us);
    proto_pack_kv_uint(pk, "upstream_us", t->upstream_us);
    proto_pack_kv_uint(pk, "overhead_us", t->overhead_us);
    if (first)
        proto_pack_kv_uint(pk, "first_chunk_us", t->first_chunk_us);
    if (waited)
        proto_pack_kv_uint(pk, "wait_us", t->wait_us);
}

static int ev_done(struct session *s, uint64_t id,
                   const struct session_done *d)
{
    struct conn *c = conn_of(s);
    struct proto_enc *e = &c->enc;
    int has_usage = d->usage != NULL;

    if (d->model == NULL) {
        proto_enc_begin(e, PROTO_DONE, id, 0);    /* an op's */
    } else {
        proto_enc_begin(e, PROTO_DONE, id, 8 + (uint32_t)has_usage +
                        (uint32_t)(d->cache_hit != 0));
        if (has_usage) {
            proto_pack_str(&e->pk, "usage");
            hub_pack(&e->pk, d->usage);
        }
        proto_pack_kv_str(&e->pk, "model", d->model);
        proto_pack_kv_str(&e->pk, "provider", d->provider);
        proto_pack_kv_str(&e->pk, "deployment", d->deployment);
        proto_pack_kv_uint(&e->pk, "attempts", d->attempts);
        proto_pack_kv_uint(&e->pk, "fallbacks", d->fallbacks);
        proto_pack_kv_uint(&e->pk, "chunks", d->chunks);
        proto_pack_str(&e->pk, "cost");
        msgpack_pack_double(&e->pk, d->cost);
        proto_pack_str(&e->pk, "timing");
        pack_timing(&e->pk, &d->timing);
        if (d->cache_hit) {     /* its cost is 0: nothing was charged */
            proto_pack_str(&e->pk, "cache_hit");
            msgpack_pack_true(&e->pk);
        }
    }
    if (proto_enc_end(e) < 0) {
        /* Not a done the client could read: the held completion goes
         * too, and the caller sends an error instead. */
        e->sb.size = 0;
        return LLMUX_ETOOBIG;
    }
    flush(c);
    return 0;
}

static void ev_error(struct session *s, uint64_t id,
                     const struct session_error *er)
{
    struct conn *c = conn_of(s);

    c->enc.sb.size = 0;     /* a completion held for this id */
    if (proto_pack_error(&c->enc, id, er->code, er->message, er->provider,
                         er->deployment, er->retry_after) < 0)
        /* Names too long for a frame: the error still arrives. */
        proto_pack_error(&c->enc, id, er->code, er->message, NULL, NULL,
                         er->retry_after);
    flush(c);
}

static int ev_backlogged(const struct session *s)
{
    return backlogged(container_of(s, struct conn, sess));
}

const struct session_ops conn_session_ops = {
    .chunk = ev_chunk,
    .chunk_json = ev_chunk_json,
    .completion = ev_completion,
    .embedding = ev_embedding,
    .done = ev_done,
    .error = ev_error,
    .backlogged = ev_backlogged,
};

/* ---- frames ------------------------------------------------------------- */

static void send_hello(struct conn *c)
{
    struct proto_enc e;

    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_HELLO, 0, 3);
    proto_pack_kv_uint(&e.pk, "version", LLMUX_PROTO_VERSION);
    proto_pack_kv_str(&e.pk, "server", "llmuxd/" LLMUX_DAEMON_VERSION);
    proto_pack_kv_uint(&e.pk, "max_frame", LLMUX_MAX_FRAME);
    if (proto_enc_end(&e) == 0)
        conn_send(c, &e);
    proto_enc_free(&e);
}

void conn_fatal(struct conn *c, int code, const char *message)
{
    log_info("conn %llu (pid %d uid %u): %s; closing",
             (unsigned long long)c->id, (int)c->sess.caller.pid,
             (unsigned)c->sess.caller.uid,
             message);
    conn_send_error(c, 0, code, message);
    conn_close(c);
}

/* The virtual key of the hello, if any: an unknown one closes the
 * connection (authentication), as a wrong Bearer token is a 401. A blocked
 * or expired key is refused per request (access.c), since that can change
 * while the connection lives. */
static int hello_key(struct conn *c, const struct proto_frame *f)
{
    const msgpack_object *o = proto_get(f->map, "api_key");
    struct vkey *v;

    if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_STR ||
        (v = keys_find(&c->srv->keys, o->via.str.ptr, o->via.str.size)) ==
        NULL) {
        log_warn("conn %llu (pid %d uid %u): unknown API key",
                 (unsigned long long)c->id, (int)c->sess.caller.pid,
                 (unsigned)c->sess.caller.uid);
        conn_send_error(c, 0, LLMUX_EAUTH, "invalid API key (not a key "
                        "this llmuxd issued, or a deleted one)");
        conn_close(c);
        return -1;
    }
    c->sess.caller.key = keys_ref(v);
    return 0;
}

static void handle_hello(struct conn *c, const struct proto_frame *f)
{
    char msg[128];
    uint64_t v;

    if (c->greeted) {
        conn_send_error(c, 0, LLMUX_EPROTO, "duplicate hello");
        return;
    }
    if (proto_get_uint(f->map, "version", &v) < 0) {
        conn_fatal(c, LLMUX_EPROTO, "hello without a version");
        return;
    }
    /* Version 1 is version 2 without api_key: old clients keep working
     * under their peer's policy. */
    if (v != LLMUX_PROTO_VERSION && v != 1) {
        snprintf(msg, sizeof(msg), "protocol version %llu is not supported:"
                 " llmuxd speaks versions 1 and %d", (unsigned long long)v,
                 LLMUX_PROTO_VERSION);
        conn_fatal(c, LLMUX_EVERSION, msg);
        return;
    }
    if (hello_key(c, f) < 0)
        return;
    c->greeted = 1;
    conn_deadline_start(c, CONN_DL_NONE, 0);   /* hello_timeout met */
    send_hello(c);
}

static void handle_request(struct conn *c, const struct proto_frame *f)
{
    const msgpack_object *body;
    const char *op;
    size_t oplen;
    char msg[160];
    json_t *j;
    int r;

    if (!f->has_id || f->id == 0 || f->id > LLMUX_MAX_ID) {
        conn_send_error(c, 0, LLMUX_EPROTO, "request without a valid id "
                        "(a uint from 1 to 2^63-1)");
        return;
    }
    if (session_find(&c->sess, f->id)) {
        snprintf(msg, sizeof(msg), "request id %llu is already in flight "
                 "on this connection", (unsigned long long)f->id);
        conn_send_error(c, 0, LLMUX_EBADREQ, msg);
        return;
    }
    if (proto_get_str(f->map, "op", &op, &oplen) < 0) {
        conn_send_error(c, f->id, LLMUX_EBADREQ, "request without an op");
        return;
    }
    if (c->srv->stopping) {
        conn_send_error(c, f->id, LLMUX_EUNAVAIL,
                        "llmuxd is shutting down");
        return;
    }
    if (c->sess.nreqs >= c->srv->conn_inflight_max) {
        /* One connection may not take every fd left for upstreams. */
        snprintf(msg, sizeof(msg), "too many requests in flight on this "
                 "connection (limit %u)", c->srv->conn_inflight_max);
        conn_send_error(c, f->id, LLMUX_ERATELIMIT, msg);
        return;
    }
    body = proto_get(f->map, "body");
    if (body && body->type != MSGPACK_OBJECT_MAP &&
        body->type != MSGPACK_OBJECT_NIL) {
        conn_send_error(c, f->id, LLMUX_EBADREQ, "body must be a map");
        return;
    }
    if ((oplen == 4 && memcmp(op, "chat", 4) == 0) ||
        (oplen == 10 && memcmp(op, "embeddings", 10) == 0)) {
        int embed = oplen == 10;

        if (body == NULL || body->type != MSGPACK_OBJECT_MAP) {
            conn_send_error(c, f->id, LLMUX_EBADREQ, embed ?
                            "embeddings needs a body (an OpenAI embeddings "
                            "request)" : "chat needs a body (an OpenAI chat "
                            "completions request)");
            return;
        }
        if ((r = hub_from_msgpack_checked(body, &j, msg,
                                          sizeof(msg))) < 0) {
            conn_send_error(c, f->id, r, msg);
            return;
        }
        if (embed)
            request_start_embed(&c->sess, f->id, j, conn_tree_handed_over(c));
        else
            request_start_chat(&c->sess, f->id, j, conn_tree_handed_over(c));
        return;
    }
    if (oplen == 5 && memcmp(op, "cache", 5) == 0) {
        j = NULL;
        if (body && body->type == MSGPACK_OBJECT_MAP &&
            (r = hub_from_msgpack_checked(body, &j, msg, sizeof(msg))) < 0) {
            conn_send_error(c, f->id, r, msg);
            return;
        }
        cache_op(&c->sess, f->id, j);
        json_decref(j);
        return;
    }
    if (keyops_is(op, oplen)) {
        j = NULL;
        if (body && body->type == MSGPACK_OBJECT_MAP &&
            (r = hub_from_msgpack_checked(body, &j, msg, sizeof(msg))) < 0) {
            conn_send_error(c, f->id, r, msg);
            return;
        }
        keyops_handle(&c->sess, f->id, op, oplen, j);
        json_decref(j);
        return;
    }
    ops_handle(&c->sess, f->id, op, oplen);
}

static void handle_frame(struct conn *c, const char *body, size_t len)
{
    struct proto_frame f;
    char msg[128];

    if (proto_frame_decode(&f, body, len) < 0) {
        proto_frame_free(&f);
        conn_fatal(c, LLMUX_EPROTO, "malformed frame: the body must be "
                   "one msgpack map with a string 'type'");
        return;
    }
    if (!c->greeted && f.type != PROTO_HELLO) {
        proto_frame_free(&f);
        conn_fatal(c, LLMUX_EPROTO, "the first frame must be hello");
        return;
    }
    switch (f.type) {
    case PROTO_HELLO:
        handle_hello(c, &f);
        break;
    case PROTO_REQUEST:
        handle_request(c, &f);
        break;
    case PROTO_CANCEL: {
        struct request *rq = f.has_id ? session_find(&c->sess, f.id) : NULL;

        /* A cancel for a request that already ended is not an error. */
        if (rq)
            request_cancel(rq, LLMUX_ECANCELLED, "cancelled by the client");
        break;
    }
    default:
        snprintf(msg, sizeof(msg), "unexpected frame type '%s' from a "
                 "client", f.type == PROTO_UNKNOWN ? "unknown" :
                 proto_type_name(f.type));
        conn_send_error(c, f.has_id ? f.id : 0, LLMUX_EPROTO, msg);
        break;
    }
    proto_frame_free(&f);
}

/* Handles every whole frame at p; returns the bytes consumed. */
static size_t handle_frames(struct conn *c, const char *p, size_t n)
{
    size_t off = 0, body;
    int r;

    while (!c->closing && off < n) {
        r = proto_frame_peek(p + off, n - off, LLMUX_MAX_FRAME, &body);
        if (r == 0)
            break;
        if (r < 0) {
            conn_fatal(c, r, r == LLMUX_ETOOBIG ? "frame too large (the "
                       "limit is 16 MiB)" : "malformed frame: zero length");
            return n;
        }
        if (conn_frame_admit(c, p + off + LLMUX_FRAME_HEADER, body) < 0)
            return n;
        handle_frame(c, p + off + LLMUX_FRAME_HEADER, body);
        conn_frame_settled(c);
        off += LLMUX_FRAME_HEADER + body;
    }
    return off;
}

void conn_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *c = container_of((uv_pipe_t *)h, struct conn, pipe);

    (void)hint;
    b->base = c->srv->rbuf;
    b->len = sizeof(c->srv->rbuf);
}

void conn_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = container_of((uv_pipe_t *)st, struct conn, pipe);
    size_t used;

    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0)
        return;
    if (c->in.len == 0) {
        /* The common case: whole frames, decoded straight from rbuf. */
        used = handle_frames(c, b->base, (size_t)n);
        if (!c->closing && used < (size_t)n &&
            buf_add(&c->in, b->base + used, (size_t)n - used) < 0)
            conn_fatal(c, LLMUX_ETOOBIG, "frame too large");
        conn_input_settled(c, 1);
        return;
    }
    if (buf_add(&c->in, b->base, (size_t)n) < 0) {
        conn_fatal(c, LLMUX_ETOOBIG, "frame too large");
        return;
    }
    used = handle_frames(c, c->in.p, c->in.len);
    if (!c->closing)
        buf_consume(&c->in, used);
    conn_input_settled(c, used > 0);
}

