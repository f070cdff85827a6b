/* http.c -- HTTP/1.1 connections of the OpenAI-compatible front end (see
 * http.h): http_parser on the libuv loop, capped request reading,
 * timeouts, ordered responses with backpressure. The listeners are
 * http_listen.c's. */
#include "http.h"
#include "http_api.h"
#include "budget.h"
#include "config.h"
#include "container.h"
#include "llmux-errno.h"
#include "log.h"
#include "proto.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

static const http_parser_settings parser_settings;

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);
static void parse_input(struct http_conn *hc);
static void start_write(struct http_conn *hc);

/* ---- timers --------------------------------------------------------------- */

static void on_timeout(uv_timer_t *t)
{
    struct http_conn *hc = container_of(t, struct http_conn, timer);

    if (hc->busy)
        return;   /* a response is open: the request's own timers rule */
    if (hc->hdr_bytes == 0 && hc->msg.url.len == 0) {
        log_debug("http %llu: idle, closing", (unsigned long long)hc->id);
        http_close(hc);
        return;
    }
    /* A client that trickles its request (slowloris) gets 408 and the
     * connection is closed: it holds a descriptor and a buffer. */
    log_info("http %llu: request not received in time; closing",
             (unsigned long long)hc->id);
    hc->msg.keep_alive = 0;
    hc->busy = 1;
    http_api_error(hc, 408, "timeout_error", "the request was not "
                   "received in time");
}

static void arm(struct http_conn *hc, double secs)
{
    uv_timer_start(&hc->timer, on_timeout, (uint64_t)(secs * 1000), 0);
}

/* ---- the memory budget ------------------------------------------------------ */

/* The input of a connection is charged as the socket charges a frame:
 * what its buffers hold, and a whole declared body as soon as the
 * headers say how large, so bodies that stall half way cannot add up. A
 * request's tree is charged apart, by the limits stage. */
static int charge_input(struct http_conn *hc)
{
    size_t body = hc->msg.body.cap > hc->declared ? hc->msg.body.cap :
                  hc->declared;

    return budget_charge(&hc->srv->budget, &hc->mem_in, hc->in.cap + body);
}

/* Over the budget with the request not yet answered: 503, and close. */
static void refuse_overloaded(struct http_conn *hc)
{
    if (HTTP_PARSER_ERRNO(&hc->parser) == HPE_OK)
        http_parser_pause(&hc->parser, 1);
    hc->busy = 1;
    hc->msg.keep_alive = 0;
    http_api_error(hc, 503, "api_error", "llmuxd is overloaded: no memory "
                   "left for this request (max_memory)");
}

/* Between requests: a big body's buffer is not kept for the next one. */
static void shrink_input(struct http_conn *hc)
{
    if (hc->msg.body.cap > HTTP_KEEP_BUF) {
        buf_free(&hc->msg.body);
        buf_init(&hc->msg.body, LLMUX_MAX_FRAME);
    }
    if (hc->in.len == 0 && hc->in.cap > HTTP_KEEP_BUF) {
        buf_free(&hc->in);
        buf_init(&hc->in, LLMUX_MAX_FRAME + HTTP_MAX_HEAD);
    }
    hc->declared = 0;
    (void)charge_input(hc);     /* smaller: always granted */
}

/* ---- the request being read ------------------------------------------------ */

static void msg_reset(struct http_msg *m)
{
    if (m->hdrs.p)
        explicit_bzero(m->hdrs.p, m->hdrs.len);
    buf_reset(&m->hdrs);
    buf_reset(&m->url);
    buf_reset(&m->body);
    m->keep_alive = 0;
}

const char *http_header(const struct http_conn *hc, const char *name)
{
    const char *p = hc->msg.hdrs.p, *end = p + hc->msg.hdrs.len;

    while (p && p < end) {
        const char *v = p + strlen(p) + 1;

        if (strcmp(p, name) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

static struct http_conn *conn_of(http_parser *p)
{
    return container_of(p, struct http_conn, parser);
}

/* Request line and headers share one byte budget. */
static int count_header_bytes(struct http_conn *hc, size_t n)
{
    hc->hdr_bytes += n;
    return hc->hdr_bytes > HTTP_MAX_HEAD ? -1 : 0;
}

static int on_message_begin(http_parser *p)
{
    struct http_conn *hc = conn_of(p);

    msg_reset(&hc->msg);
    hc->in_value = 0;
    hc->hname_len = 0;
    hc->hname_skip = 0;
    arm(hc, hc->srv->cfg->http_header_timeout);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct http_conn *hc = conn_of(p);

    if (count_header_bytes(hc, n) < 0 || buf_add(&hc->msg.url, at, n) < 0)
        return -1;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct http_conn *hc = conn_of(p);

    if (count_header_bytes(hc, n) < 0)
        return -1;
    if (hc->in_value) {
        hc->in_value = 0;
        hc->hname_len = 0;
        hc->hname_skip = 0;
    }
    /* Names longer than any we read are skipped, not refused. */
    if (hc->hname_len + n >= sizeof(hc->hname)) {
        hc->hname_skip = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        hc->hname[hc->hname_len++] = (char)((at[i] >= 'A' && at[i] <= 'Z') ?
                                            at[i] + 32 : at[i]);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct http_conn *hc = conn_of(p);
    struct buf *h = &hc->msg.hdrs;
    int first = !hc->in_value;

    if (count_header_bytes(hc, n) < 0)
        return -1;
    hc->in_value = 1;
    if (hc->hname_skip)
        return 0;
    if (first) {
        /* A value may arrive in pieces: the name goes in once. */
        if ((h->len && buf_add(h, "", 1) < 0) ||
            buf_add(h, hc->hname, hc->hname_len) < 0 || buf_add(h, "", 1) < 0)
            return -1;
    }
    return buf_add(h, at, n) < 0 ? -1 : 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http_conn *hc = conn_of(p);
    const char *expect;

    if (hc->msg.hdrs.len && buf_add(&hc->msg.hdrs, "", 1) < 0)
        return -1;
    hc->msg.method = (enum http_method)p->method;
    if (p->content_length != ULLONG_MAX && p->content_length >
        hc->msg.body.max) {
        http_parser_pause(p, 1);
        hc->busy = 1;
        hc->msg.keep_alive = 0;
        http_api_error(hc, 413, "invalid_request_error", "the request body "
                       "is larger than the limit (16 MiB)");
        return 0;
    }
    hc->declared = p->content_length != ULLONG_MAX ?
                   (size_t)p->content_length : 0;
    if (charge_input(hc) < 0) {
        refuse_overloaded(hc);
        return 0;
    }
    expect = http_header(hc, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 &&
        p->http_major == 1 && p->http_minor >= 1) {
        /* Sent now: the client waits for it before sending the body. */
        buf_adds(&hc->out, "HTTP/1.1 100 Continue\r\n\r\n");
        start_write(hc);
    }
    arm(hc, hc->srv->cfg->http_body_timeout);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http_conn *hc = conn_of(p);

    if (hc->busy)
        return 0;   /* refused (503) as the headers ended */
    if (buf_add(&hc->msg.body, at, n) < 0) {
        http_parser_pause(p, 1);
        hc->busy = 1;
        hc->msg.keep_alive = 0;
        http_api_error(hc, 413, "invalid_request_error", "the request body "
                       "is larger than the limit (16 MiB)");
    } else if (charge_input(hc) < 0)
        refuse_overloaded(hc);   /* a chunked body grew past the budget */
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *hc = conn_of(p);

    if (hc->busy)
        return 0;   /* already answered (413) */
    uv_timer_stop(&hc->timer);
    hc->msg.keep_alive = http_should_keep_alive(p);
    hc->busy = 1;
    /* Pipelined requests wait: one response at a time, in order. */
    http_parser_pause(p, 1);
    http_api_dispatch(hc);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin    = on_message_begin,
    .on_url              = on_url,
    .on_header_field     = on_header_field,
    .on_header_value     = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body             = on_body,
    .on_message_complete = on_message_complete,
};

/* Feeds hc->in to the parser until it pauses (a request is being
 * answered) or the bytes run out. */
static void parse_input(struct http_conn *hc)
{
    size_t used;

    while (!hc->closing && !hc->busy && hc->in.len) {
        used = http_parser_execute(&hc->parser, &parser_settings, hc->in.p,
                                   hc->in.len);
        if (HTTP_PARSER_ERRNO(&hc->parser) == HPE_PAUSED) {
            /* The byte that completed the message was consumed. */
            http_parser_pause(&hc->parser, 0);
            buf_consume(&hc->in, used);
            if (!hc->busy)
                continue;
            return;
        }
        buf_consume(&hc->in, used);
        if (HTTP_PARSER_ERRNO(&hc->parser) != HPE_OK) {
            enum http_errno e = HTTP_PARSER_ERRNO(&hc->parser);
            int big = e == HPE_CB_url || e == HPE_CB_header_field ||
                      e == HPE_CB_header_value || e == HPE_HEADER_OVERFLOW;

            if (hc->closing || hc->busy)
                return;
            hc->busy = 1;
            hc->msg.keep_alive = 0;
            buf_reset(&hc->in);
            if (e == HPE_CB_url && hc->hdr_bytes <= HTTP_MAX_HEAD)
                http_api_error(hc, 414, "invalid_request_error", "the URL "
                               "is longer than the limit (8 KiB)");
            else if (big)
                http_api_error(hc, 431, "invalid_request_error", "the "
                               "request line or headers are too large "
                               "(limit 64 KiB)");
            else
                http_api_error(hc, 400, "invalid_request_error",
                               http_errno_description(e));
            return;
        }
    }
}

/* ---- responses -------------------------------------------------------------- */

static size_t backlog(const struct http_conn *hc)
{
    return hc->out.len + (hc->writing ? hc->wbuf.len : 0);
}

int http_backlogged(const struct http_conn *hc)
{
    return backlog(hc) > HTTP_OUT_HIGH;
}

static void write_done(uv_write_t *req, int status)
{
    struct http_conn *hc = container_of(req, struct http_conn, wreq);

    hc->writing = 0;
    free(hc->wbuf.base);
    hc->wbuf.base = NULL;
    if (status < 0) {
        http_close(hc);
        return;
    }
    if (hc->out.len)
        start_write(hc);
    if (!hc->closing && hc->busy && backlog(hc) <= HTTP_OUT_LOW)
        http_api_drained(hc);
}

/* Writes what the socket takes now; the rest goes in one write. */
static void start_write(struct http_conn *hc)
{
    char *data;
    size_t len;
    uv_buf_t b;
    int n;

    if (hc->writing || hc->out.len == 0 || uv_is_closing(&hc->h.handle))
        return;
    b = uv_buf_init(hc->out.p, (unsigned)hc->out.len);
    n = uv_try_write(&hc->h.stream, &b, 1);
    if (n > 0)
        buf_consume(&hc->out, (size_t)n);
    if (hc->out.len == 0)
        return;
    data = buf_steal(&hc->out, &len);
    hc->wbuf = uv_buf_init(data, (unsigned)len);
    if (uv_write(&hc->wreq, &hc->h.stream, &hc->wbuf, 1, write_done) < 0) {
        free(hc->wbuf.base);
        hc->wbuf.base = NULL;
        return;
    }
    hc->writing = 1;
}

static void add_head(struct http_conn *hc, int status, const char *ctype,
                     const char *extra, int chunked, size_t len)
{
    buf_addf(&hc->out, "HTTP/1.1 %d %s\r\n", status,
             http_status_str((enum http_status)status));
    if (ctype)
        buf_addf(&hc->out, "Content-Type: %s\r\n", ctype);
    if (chunked)
        buf_adds(&hc->out, "Transfer-Encoding: chunked\r\n"
                           "Cache-Control: no-cache\r\n");
    else
        buf_addf(&hc->out, "Content-Length: %zu\r\n", len);
    if (!hc->msg.keep_alive)
        buf_adds(&hc->out, "Connection: close\r\n");
    if (extra)
        buf_adds(&hc->out, extra);
    buf_adds(&hc->out, "\r\n");
}

static void on_next_request(uv_timer_t *t)
{
    struct http_conn *hc = container_of(t, struct http_conn, timer);

    parse_input(hc);
    if (!hc->closing && !hc->busy && !uv_is_active((uv_handle_t *)t))
        arm(hc, hc->srv->cfg->http_idle_timeout);
}

/* The response is over: the next pipelined request may be read — from
 * the loop, not from inside the event that ended this one. */
static void response_done(struct http_conn *hc)
{
    hc->busy = 0;
    hc->streaming = 0;
    hc->hdr_bytes = 0;
    start_write(hc);
    if (!hc->msg.keep_alive || hc->srv->stopping) {
        http_close(hc);
        return;
    }
    msg_reset(&hc->msg);
    shrink_input(hc);
    if (hc->read_stopped) {
        hc->read_stopped = 0;
        uv_read_start(&hc->h.stream, on_alloc, on_read);
    }
    if (hc->in.len)
        uv_timer_start(&hc->timer, on_next_request, 0, 0);
    else
        arm(hc, hc->srv->cfg->http_idle_timeout);
}

void http_reply(struct http_conn *hc, int status, const char *ctype,
                const char *extra, const char *body, size_t len)
{
    if (hc->closing)
        return;
    add_head(hc, status, ctype, extra, 0, len);
    if (hc->msg.method != HTTP_HEAD && len)
        buf_add(&hc->out, body, len);
    response_done(hc);
}

void http_stream_start(struct http_conn *hc, int status, const char *ctype,
                       const char *extra)
{
    if (hc->closing)
        return;
    add_head(hc, status, ctype, extra, 1, 0);
    hc->streaming = 1;
    start_write(hc);
}

int http_stream_send(struct http_conn *hc, const char *p, size_t n)
{
    if (hc->closing)
        return LLMUX_ECLOSED;
    if (n == 0)
        return 0;
    if (buf_addf(&hc->out, "%zx\r\n", n) < 0 || buf_add(&hc->out, p, n) < 0 ||
        buf_add(&hc->out, "\r\n", 2) < 0)
        return LLMUX_ETOOBIG;
    start_write(hc);
    return 0;
}

void http_stream_end(struct http_conn *hc, const char *trailers)
{
    if (hc->closing)
        return;
    buf_adds(&hc->out, "0\r\n");
    if (trailers)
        buf_adds(&hc->out, trailers);
    buf_adds(&hc->out, "\r\n");
    response_done(hc);
}

/* ---- reading and closing --------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct http_conn *hc = container_of((uv_stream_t *)h, struct http_conn,
                                        h.stream);

    (void)hint;
    b->base = hc->srv->rbuf;
    b->len = sizeof(hc->srv->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct http_conn *hc = container_of(st, struct http_conn, h.stream);

    if (n < 0) {
        http_close(hc);
        return;
    }
    if (n == 0)
        return;
    /* Bytes past a whole request wait in hc->in while it is answered;
     * the cap (a request's worth) stops a client that pipelines without
     * reading. */
    if (buf_add(&hc->in, b->base, (size_t)n) < 0) {
        uv_read_stop(st);
        hc->read_stopped = 1;
        if (!hc->busy) {
            hc->busy = 1;
            hc->msg.keep_alive = 0;
            http_api_error(hc, 413, "invalid_request_error", "the request "
                           "is larger than the limit (16 MiB)");
        }
        return;
    }
    if (charge_input(hc) < 0) {
        uv_read_stop(st);
        hc->read_stopped = 1;
        if (!hc->busy) {
            refuse_overloaded(hc);
            return;
        }
        /* Bytes of a pipelined request, while one is answered: charged
         * anyway, and nothing more is read until its turn. */
        budget_force(&hc->srv->budget, hc->in.cap + hc->msg.body.cap -
                     hc->mem_in);
        hc->mem_in = hc->in.cap + hc->msg.body.cap;
    }
    if (hc->busy && hc->in.len > HTTP_MAX_HEAD) {
        /* A pipelined request waits: stop reading until it is its turn. */
        uv_read_stop(st);
        hc->read_stopped = 1;
    }
    parse_input(hc);
}

static void on_closed(uv_handle_t *h)
{
    struct http_conn *hc = h->data;
    struct server *s = hc->srv;

    if (--hc->open_handles > 0)
        return;
    http_api_free(hc);
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        s->hconns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    s->stats.connections--;
    budget_give(&s->budget, hc->mem_in);
    msg_reset(&hc->msg);
    buf_free(&hc->msg.url);
    buf_free(&hc->msg.hdrs);
    buf_free(&hc->msg.body);
    buf_free(&hc->in);
    buf_free(&hc->out);
    free(hc->wbuf.base);
    free(hc->groups);
    free(hc);
}

static void shutdown_done(uv_shutdown_t *req, int status)
{
    struct http_conn *hc = req->data;

    (void)status;
    free(req);
    uv_close(&hc->h.handle, on_closed);
}

void http_close(struct http_conn *hc)
{
    uv_shutdown_t *req;

    if (hc->closing)
        return;
    hc->closing = 1;
    uv_timer_stop(&hc->timer);
    uv_close((uv_handle_t *)&hc->timer, on_closed);
    uv_read_stop(&hc->h.stream);
    if (hc->busy)
        http_api_abort(hc);   /* the client left: cut the upstream now */
    start_write(hc);
    req = malloc(sizeof(*req));
    if (req && hc->writing) {
        /* Let the last answer (a 4xx) go out first. A client that never
         * reads is cut off by the drain's end (http_close_all). */
        req->data = hc;
        if (uv_shutdown(req, &hc->h.stream, shutdown_done) == 0)
            return;
    }
    free(req);
    uv_close(&hc->h.handle, on_closed);
}

void http_close_all(struct server *s)
{
    for (struct http_conn *hc = s->hconns; hc; hc = hc->next) {
        if (!hc->closing)
            http_close(hc);
        else if (!uv_is_closing(&hc->h.handle))
            uv_close(&hc->h.handle, on_closed);  /* stuck in shutdown */
    }
}

/* ---- accepting ------------------------------------------------------------- */

static void read_peer(struct http_conn *hc)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    gid_t groups[256];
    uv_os_fd_t fd;

    hc->uid = (uid_t)-1;
    hc->gid = (gid_t)-1;
    hc->pid = 0;
    if (!hc->lst->is_unix || uv_fileno(&hc->h.handle, &fd) < 0)
        return;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        hc->uid = cred.uid;
        hc->gid = cred.gid;
        hc->pid = cred.pid;
    }
    len = sizeof(groups);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0 &&
        len > 0 && (hc->groups = malloc(len)) != NULL) {
        memcpy(hc->groups, groups, len);
        hc->ngroups = (int)(len / sizeof(gid_t));
    }
}

/* What a client refused for want of fds reads: a whole answer, a few
 * hundred bytes that a new socket's buffer always takes. */
#define REFUSAL_BODY                                                        \
    "{\"error\":{\"message\":\"llmuxd has as many connections as its "     \
    "file descriptors allow; try again later\",\"type\":\"api_error\","    \
    "\"param\":null,\"code\":\"upstream_unavailable\"}}"
_Static_assert(sizeof(REFUSAL_BODY) - 1 == 163, "Content-Length below");
static const char refusal[] =
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 163\r\n"
    "Retry-After: 1\r\n"
    "Connection: close\r\n\r\n" REFUSAL_BODY;

void http_on_connection(uv_stream_t *l, int status)
{
    struct http_listener *hl = container_of(l, struct http_listener,
                                            h.stream);
    struct server *s = hl->srv;
    struct http_conn *hc;

    if (status == UV_EMFILE || status == UV_ENFILE) {
        server_refuse_all(s, l, refusal, strlen(refusal), status);
        return;
    }
    if (status < 0) {
        log_warn("http accept on %s: %s", hl->name, uv_strerror(status));
        return;
    }
    /* The socket's fd reserve holds for HTTP clients too: refused with a
     * 503 they can read, not dropped or left waiting in the backlog. */
    if (server_fds_short(s)) {
        server_refuse_one(s, l, !hl->is_unix, refusal, strlen(refusal));
        return;
    }
    if ((hc = calloc(1, sizeof(*hc))) == NULL)
        return;
    hc->srv = s;
    hc->lst = hl;
    if (hl->is_unix)
        uv_pipe_init(s->loop, &hc->h.pipe, 0);
    else
        uv_tcp_init(s->loop, &hc->h.tcp);
    hc->h.handle.data = hc;
    hc->open_handles = 1;
    if (uv_accept(l, &hc->h.stream) < 0) {
        hc->closing = 1;
        s->stats.connections++;   /* on_closed takes it back */
        hc->next = s->hconns;
        if (s->hconns)
            s->hconns->prev = hc;
        s->hconns = hc;
        uv_close(&hc->h.handle, on_closed);
        return;
    }
    uv_timer_init(s->loop, &hc->timer);
    hc->timer.data = hc;
    hc->open_handles = 2;
    if (!hl->is_unix)
        uv_tcp_nodelay(&hc->h.tcp, 1);
    http_parser_init(&hc->parser, HTTP_REQUEST);
    buf_init(&hc->msg.url, HTTP_MAX_URL_LEN);
    buf_init(&hc->msg.hdrs, HTTP_MAX_HEAD);
    buf_init(&hc->msg.body, LLMUX_MAX_FRAME);
    buf_init(&hc->in, LLMUX_MAX_FRAME + HTTP_MAX_HEAD);
    buf_init(&hc->out, HTTP_OUT_MAX);
    hc->id = ++s->stats.accepted;
    hc->next = s->hconns;
    if (s->hconns)
        s->hconns->prev = hc;
    s->hconns = hc;
    s->stats.connections++;
    read_peer(hc);
    arm(hc, s->cfg->http_header_timeout);
    uv_read_start(&hc->h.stream, on_alloc, on_read);
}
