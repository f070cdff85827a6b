/* conn.c -- one client connection: accept and peer credentials, frame
 * reading, dispatch, writes with backpressure, and close (see conn.h). */
#include "conn.h"
#include "budget.h"
#include "config.h"
#include "hub.h"
#include "log.h"
#include "ops.h"
#include "request.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

#define container_of(p, type, member) \
    ((type *)((char *)(p) - offsetof(type, member)))

/* A write in flight; the bytes belong to it until write_cb. */
struct wreq {
    uv_write_t  req;
    uv_buf_t    buf;      /* base owned (stolen from conn->out) */
};

/* The budget charge of one request's tree, while it is in flight. */
struct body_charge {
    uint64_t id;
    size_t   bytes;
};

static void start_write(struct conn *c);
static void write_done(uv_write_t *req, int status);
static void deadline_start(struct conn *c, enum conn_deadline d,
                           double secs);

static void conn_freed(uv_handle_t *h)
{
    free(container_of((uv_timer_t *)h, struct conn, timer));
}

static void conn_closed(uv_handle_t *h)
{
    struct conn *c = container_of((uv_pipe_t *)h, struct conn, pipe);
    struct budget *b = &c->srv->budget;

    server_conn_gone(c->srv, c);
    buf_free(&c->in);
    buf_free(&c->out);
    budget_give(b, c->mem_in + c->mem_out + c->mem_frame);
    for (size_t i = 0; i < c->ncharges; i++)
        budget_give(b, c->charges[i].bytes);
    free(c->charges);
    free(c->groups);
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
    while (c->reqs)
        request_abort(c->reqs);
    if (c->writing == NULL && c->out.len)
        start_write(c);
    /* Let queued frames (a final error) reach the client, then close. */
    req = malloc(sizeof(*req));
    if (req) {
        req->data = c;
        if (uv_shutdown(req, (uv_stream_t *)&c->pipe, shutdown_done) == 0) {
            /* A client that never reads must not keep us waiting (nor
             * keep a stopping llmuxd from exiting). */
            deadline_start(c, CONN_DL_LINGER, CONN_LINGER_MS / 1000.0);
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

int conn_backlogged(const struct conn *c)
{
    return backlog(c) > CONN_OUT_HIGH;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

static void resume_after_drain(struct conn *c)
{
    if (c->closing || backlog(c) > CONN_OUT_LOW)
        return;
    if (c->upstream_paused) {
        /* request_resume may emit (and even end the request), so walk
         * with the next pointer taken first. */
        for (struct request *rq = c->reqs, *next; rq; rq = next) {
            next = request_next(rq);
            if (request_paused(rq))
                request_resume(rq);
        }
    }
    if (c->read_paused && !c->closing) {
        c->read_paused = 0;
        uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
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
    if (c->read_paused || c->upstream_paused)
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
    if (!c->read_paused && conn_backlogged(c)) {
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

struct request *conn_find_request(struct conn *c, uint64_t id)
{
    for (struct request *rq = c->reqs; rq; rq = request_next(rq))
        if (request_id(rq) == id)
            return rq;
    return NULL;
}

/* Returns the budget charge of request id's tree, if it has one. */
static void tree_released(struct conn *c, uint64_t id)
{
    for (size_t i = 0; i < c->ncharges; i++)
        if (c->charges[i].id == id) {
            budget_give(&c->srv->budget, c->charges[i].bytes);
            c->charges[i] = c->charges[--c->ncharges];
            return;
        }
}

/* The tree of the frame being decoded stays charged while request id is
 * in flight. On failure (no memory for the list) it is returned with the
 * frame, which only makes the estimate low for a while. */
static void tree_kept(struct conn *c, uint64_t id)
{
    struct body_charge *n;
    size_t cap;

    if (c->ncharges == c->charges_cap) {
        cap = c->charges_cap ? 2 * c->charges_cap : 8;
        if ((n = realloc(c->charges, cap * sizeof(*n))) == NULL)
            return;
        c->charges = n;
        c->charges_cap = cap;
    }
    c->charges[c->ncharges].id = id;
    c->charges[c->ncharges++].bytes = c->mem_tree;
    c->mem_frame -= c->mem_tree;
    c->mem_tree = 0;
}

void conn_request_gone(struct conn *c, uint64_t id)
{
    tree_released(c, id);
    if (c->upstream_paused == 0)
        return;
    c->upstream_paused = 0;
    for (struct request *rq = c->reqs; rq; rq = request_next(rq))
        if (request_paused(rq))
            c->upstream_paused++;
}

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

static void fatal(struct conn *c, int code, const char *message)
{
    log_info("conn %llu (pid %d uid %u): %s; closing",
             (unsigned long long)c->id, (int)c->pid, (unsigned)c->uid,
             message);
    conn_send_error(c, 0, code, message);
    conn_close(c);
}

/* ---- deadlines and the memory budget ------------------------------------ */

static void on_deadline(uv_timer_t *t)
{
    struct conn *c = container_of(t, struct conn, timer);
    double secs;
    char msg[128];

    if (c->closing && c->deadline != CONN_DL_LINGER)
        return;             /* fired between conn_close and its close */
    switch (c->deadline) {
    case CONN_DL_LINGER:
        log_info("conn %llu (pid %d uid %u): closed without waiting "
                 "longer for it to read", (unsigned long long)c->id,
                 (int)c->pid, (unsigned)c->uid);
        if (!uv_is_closing((uv_handle_t *)&c->pipe))
            uv_close((uv_handle_t *)&c->pipe, conn_closed);
        return;
    case CONN_DL_FRAME:
        secs = c->srv->cfg->frame_timeout;
        if (c->read_paused) {
            /* We stopped reading (its answers are backlogged): the rest of
             * its frame cannot arrive, so the clock starts again. */
            deadline_start(c, CONN_DL_FRAME, secs);
            return;
        }
        snprintf(msg, sizeof(msg), "a frame took longer than %g s to "
                 "arrive (frame_timeout)", secs);
        break;
    case CONN_DL_HELLO:
        snprintf(msg, sizeof(msg), "no hello within %g s of connecting "
                 "(hello_timeout)", c->srv->cfg->hello_timeout);
        break;
    default:
        return;
    }
    c->deadline = CONN_DL_NONE;
    fatal(c, LLMUX_ETIMEOUT, msg);
}

/* Arms the timer for d; secs <= 0 means no deadline. */
static void deadline_start(struct conn *c, enum conn_deadline d,
                           double secs)
{
    uv_timer_stop(&c->timer);
    c->deadline = CONN_DL_NONE;
    if (secs <= 0)
        return;
    c->deadline = d;
    uv_timer_start(&c->timer, on_deadline, (uint64_t)(secs * 1000), 0);
}

/* Charges up to this are always granted: what one read brings, or what a
 * frame of 4 KiB may cost decoded. So a full budget refuses big frames,
 * not a client's small ones (a cancel, a short request). */
#define CHARGE_GRANTED (512u * 1024)

/* Charges *have -> want (see CHARGE_GRANTED). */
static int charge(struct conn *c, size_t *have, size_t want)
{
    if (want > *have && want <= CHARGE_GRANTED) {
        budget_force(&c->srv->budget, want - *have);
        *have = want;
        return 0;
    }
    return budget_adjust(&c->srv->budget, have, want);
}

/* After a read: charge what c->in holds, or the whole frame it is
 * receiving as soon as its header says how large (so 16 MiB frames that
 * stall half way cannot add up), and time that frame. new_frame: the
 * bytes left in c->in begin a frame that was not there before. */
static void input_settled(struct conn *c, int new_frame)
{
    size_t want = c->in.cap, body = 0;

    if (c->closing)
        return;
    if (c->in.len == 0 && c->in.cap > sizeof(c->srv->rbuf)) {
        buf_free(&c->in);   /* do not keep a big frame's memory */
        buf_init(&c->in, LLMUX_MAX_FRAME + LLMUX_FRAME_HEADER);
        want = 0;
    }
    if (proto_frame_peek(c->in.p, c->in.len, LLMUX_MAX_FRAME, &body) == 0 &&
        c->in.len >= LLMUX_FRAME_HEADER &&
        want < LLMUX_FRAME_HEADER + body + 1)
        want = LLMUX_FRAME_HEADER + body + 1;
    if (charge(c, &c->mem_in, want) < 0) {
        fatal(c, LLMUX_EUNAVAIL, "llmuxd is overloaded: no memory left "
              "for this frame (max_memory)");
        return;
    }
    if (!c->greeted)
        return;             /* hello_timeout covers the first frame */
    if (c->in.len == 0) {
        if (c->deadline == CONN_DL_FRAME)
            deadline_start(c, CONN_DL_NONE, 0);
    } else if (new_frame || c->deadline != CONN_DL_FRAME) {
        deadline_start(c, CONN_DL_FRAME, c->srv->cfg->frame_timeout);
    }
}

/* Before decoding a whole frame: charges what its trees will cost, from
 * the count of its values, so a frame of millions of tiny values is
 * refused before it is built. Small frames are charged their worst case
 * without counting (at most ~360 KiB: always granted).
 * Returns 0, or LLMUX_EUNAVAIL (conn closing). */
static int frame_admit(struct conn *c, const char *body, size_t len)
{
    uint64_t n = len;
    size_t cost;
    char msg[160];

    if (len > 4096 && proto_msgpack_count(body, len, &n) < 0)
        n = 0;              /* malformed: decoding says so, builds nothing */
    cost = budget_frame_cost(len, n);
    c->mem_frame = 0;
    c->mem_tree = budget_tree_cost(len, n);
    if (charge(c, &c->mem_frame, cost) == 0)
        return 0;
    snprintf(msg, sizeof(msg), "llmuxd is overloaded: this frame would "
             "need %zu MiB to decode (max_memory %g MiB)",
             c->mem_frame >> 20, c->srv->cfg->max_memory);
    c->mem_frame = c->mem_tree = 0;
    fatal(c, LLMUX_EUNAVAIL, msg);
    return LLMUX_EUNAVAIL;
}

/* After a frame was handled: its decoding memory is freed. */
static void frame_settled(struct conn *c)
{
    budget_give(&c->srv->budget, c->mem_frame);
    c->mem_frame = c->mem_tree = 0;
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
        fatal(c, LLMUX_EPROTO, "hello without a version");
        return;
    }
    if (v != LLMUX_PROTO_VERSION) {
        snprintf(msg, sizeof(msg), "protocol version %llu is not supported:"
                 " llmuxd speaks version %d", (unsigned long long)v,
                 LLMUX_PROTO_VERSION);
        fatal(c, LLMUX_EVERSION, msg);
        return;
    }
    c->greeted = 1;
    deadline_start(c, CONN_DL_NONE, 0);   /* hello_timeout met */
    send_hello(c);
}

static void handle_request(struct conn *c, const struct proto_frame *f)
{
    const msgpack_object *body;
    const char *op;
    size_t oplen;
    char msg[160];
    json_t *j;

    if (!f->has_id || f->id == 0 || f->id > LLMUX_MAX_ID) {
        conn_send_error(c, 0, LLMUX_EPROTO, "request without a valid id "
                        "(a uint from 1 to 2^63-1)");
        return;
    }
    if (conn_find_request(c, f->id)) {
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
    if (server_inflight_refused(c->srv, c, msg, sizeof(msg))) {
        conn_send_error(c, f->id, LLMUX_ERATELIMIT, msg);
        return;
    }
    body = proto_get(f->map, "body");
    if (body && body->type != MSGPACK_OBJECT_MAP &&
        body->type != MSGPACK_OBJECT_NIL) {
        conn_send_error(c, f->id, LLMUX_EBADREQ, "body must be a map");
        return;
    }
    if (oplen == 4 && memcmp(op, "chat", 4) == 0) {
        if (body == NULL || body->type != MSGPACK_OBJECT_MAP) {
            conn_send_error(c, f->id, LLMUX_EBADREQ, "chat needs a body "
                            "(an OpenAI chat completions request)");
            return;
        }
        if ((j = hub_from_msgpack(body)) == NULL) {
            conn_send_error(c, f->id, LLMUX_EBADREQ, "body is not valid: "
                            "strings must be UTF-8, keys strings, no ext "
                            "types");
            return;
        }
        tree_kept(c, f->id);
        request_start_chat(c, f->id, j);
        if (conn_find_request(c, f->id) == NULL)
            tree_released(c, f->id);  /* refused before it was linked */
        return;
    }
    ops_handle(c, f->id, op, oplen);
}

static void handle_frame(struct conn *c, const char *body, size_t len)
{
    struct proto_frame f;
    char msg[128];

    if (proto_frame_decode(&f, body, len) < 0) {
        proto_frame_free(&f);
        fatal(c, LLMUX_EPROTO, "malformed frame: the body must be one "
              "msgpack map with a string 'type'");
        return;
    }
    if (!c->greeted && f.type != PROTO_HELLO) {
        proto_frame_free(&f);
        fatal(c, LLMUX_EPROTO, "the first frame must be hello");
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
        struct request *rq = f.has_id ? conn_find_request(c, f.id) : NULL;

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
            fatal(c, r, r == LLMUX_ETOOBIG ? "frame too large (the limit "
                  "is 16 MiB)" : "malformed frame: zero length");
            return n;
        }
        if (frame_admit(c, p + off + LLMUX_FRAME_HEADER, body) < 0)
            return n;
        handle_frame(c, p + off + LLMUX_FRAME_HEADER, body);
        frame_settled(c);
        off += LLMUX_FRAME_HEADER + body;
    }
    return off;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *c = container_of((uv_pipe_t *)h, struct conn, pipe);

    (void)hint;
    b->base = c->srv->rbuf;
    b->len = sizeof(c->srv->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
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
            fatal(c, LLMUX_ETOOBIG, "frame too large");
        input_settled(c, 1);
        return;
    }
    if (buf_add(&c->in, b->base, (size_t)n) < 0) {
        fatal(c, LLMUX_ETOOBIG, "frame too large");
        return;
    }
    used = handle_frames(c, c->in.p, c->in.len);
    if (!c->closing)
        buf_consume(&c->in, used);
    input_settled(c, used > 0);
}

/* ---- accept ------------------------------------------------------------- */

static void read_peer(struct conn *c)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    gid_t groups[256];
    uv_os_fd_t fd;

    c->uid = (uid_t)-1;
    c->gid = (gid_t)-1;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0)
        return;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        c->uid = cred.uid;
        c->gid = cred.gid;
        c->pid = cred.pid;
    }
    len = sizeof(groups);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0 &&
        len > 0 && (c->groups = malloc(len)) != NULL) {
        memcpy(c->groups, groups, len);
        c->ngroups = (int)(len / sizeof(gid_t));
    }
}

int peer_in_group(const struct conn *c, gid_t gid)
{
    if (c->gid == gid)
        return 1;
    for (int g = 0; g < c->ngroups; g++)
        if (c->groups[g] == gid)
            return 1;
    return 0;
}

/* tmux's server_acl_join: root and our own uid always, then uid entries,
 * then gid entries (primary and supplementary), then the admin group. No
 * list: everyone the socket's permissions let in. */
static int peer_allowed(const struct conn *c, const struct config *cfg)
{
    if (cfg->nallow_uids == 0 && cfg->nallow_gids == 0)
        return 1;
    if (c->uid == 0 || c->uid == c->srv->uid)
        return 1;
    for (size_t i = 0; i < cfg->nallow_uids; i++)
        if (cfg->allow_uids[i] == c->uid)
            return 1;
    for (size_t i = 0; i < cfg->nallow_gids; i++)
        if (peer_in_group(c, cfg->allow_gids[i]))
            return 1;
    /* Whoever may administer llmuxd may also use it. */
    return cfg->admin_gid != (gid_t)-1 && peer_in_group(c, cfg->admin_gid);
}

static void conn_unaccepted(uv_handle_t *h)
{
    struct conn *c = container_of((uv_pipe_t *)h, struct conn, pipe);

    buf_free(&c->in);
    buf_free(&c->out);
    free(c);
}

int conn_accept(struct server *s)
{
    struct conn *c = calloc(1, sizeof(*c));
    int r;

    if (c == NULL)
        return -ENOMEM;
    c->srv = s;
    buf_init(&c->in, LLMUX_MAX_FRAME + LLMUX_FRAME_HEADER);
    buf_init(&c->out, CONN_OUT_MAX);
    uv_pipe_init(s->loop, &c->pipe, 0);
    if ((r = uv_accept((uv_stream_t *)&s->listener,
                       (uv_stream_t *)&c->pipe)) < 0) {
        /* Not linked yet: free without telling the server. */
        uv_close((uv_handle_t *)&c->pipe, conn_unaccepted);
        return r;
    }
    uv_timer_init(s->loop, &c->timer);
    deadline_start(c, CONN_DL_HELLO, s->cfg->hello_timeout);
    c->id = ++s->stats.accepted;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->stats.connections++;
    read_peer(c);
    if (!peer_allowed(c, s->cfg)) {
        log_warn("refused connection from pid %d uid %u gid %u: not in "
                 "allow_users/allow_groups", (int)c->pid, (unsigned)c->uid,
                 (unsigned)c->gid);
        conn_send_error(c, 0, LLMUX_EPERMISSION, "permission denied: this "
                        "user may not use llmuxd (allow_users, "
                        "allow_groups)");
        conn_close(c);
        return 0;
    }
    uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    return 0;
}
