/* loadgen.c -- the load generator engine (see loadgen.h).
 * Owns: the connections of one run (Unix sockets speaking frames, or TCP
 * speaking HTTP/1.1), the request table with each request's start time,
 * and the latency samples. Single-threaded on epoll, so the generator's
 * own cost is small and the same for both targets. */
#include "loadgen.h"
#include "proto.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PROMPT "Why is the sky blue? Answer in one sentence."
#define MAX_HTTP_CONNS 4096
#define TICK_US 20000

struct lg;

/* One connection. For LG_HTTP at most one request is in flight on it. */
struct lconn {
    struct lg  *lg;
    int         fd;
    char       *in;                /* owned: bytes not yet parsed */
    size_t      in_len, in_cap;
    char       *out;               /* owned: bytes not yet written */
    size_t      out_len, out_cap;
    int         ready;             /* LG_LLMUX: hello answered */
    long        inflight;
    int         slots;             /* closed loop: slots on this conn */
    /* LG_HTTP: the request on this connection and its response state. */
    long        req;               /* request index, -1 when idle */
    int         hdr_done, chunked;
    size_t      body_left, pos;
};

struct lreq {
    uint64_t     t0;               /* ns: sent (or scheduled, open loop) */
    struct lconn *conn;
    int          done;
};

struct lg {
    const struct lg_spec *s;
    struct lg_result     *r;
    int                   ep;
    struct lconn        **conns;   /* owned */
    int                   nconns, conns_cap;
    struct lreq          *reqs;    /* owned; index = request id - 1 */
    long                  nreqs, reqs_cap;
    double               *lat;     /* owned; µs of each completed request */
    long                  nlat, lat_cap;
    long                  live;
    int                   sending;
    uint64_t              t_start, t_stop_send, t_last_done;
    char                 *body_mp; /* owned: the msgpack of the body */
    size_t                body_mp_len;
    char                 *http_req;/* owned: the whole HTTP request */
    size_t                http_req_len;
    unsigned              rr;      /* open loop: next connection */
};

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int grow(char **p, size_t *cap, size_t need)
{
    size_t c = *cap ? *cap : 4096;
    char *n;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    if ((n = realloc(*p, c)) == NULL)
        return -1;
    *p = n;
    *cap = c;
    return 0;
}

/* ---- payloads --------------------------------------------------------------- */

const char *lg_upstream_body(const char *model, int stream)
{
    static char b[512];

    /* What openai.c's openai_build_body makes of the request below: the
     * keys in the caller's order, then stream_options for a stream. */
    snprintf(b, sizeof(b), "{\"model\":\"%s\",\"messages\":[{\"role\":"
             "\"user\",\"content\":\"" PROMPT "\"}]%s}", model,
             stream ? ",\"stream\":true,\"stream_options\":"
                      "{\"include_usage\":true}" : "");
    return b;
}

static int build_payloads(struct lg *g)
{
    const struct lg_spec *s = g->s;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    const char *body;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2 + (s->stream != 0) + (s->cached != 0));
    proto_pack_kv_str(&pk, "model", s->model);
    proto_pack_str(&pk, "messages");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 2);
    proto_pack_kv_str(&pk, "role", "user");
    proto_pack_kv_str(&pk, "content", PROMPT);
    if (s->stream) {
        proto_pack_str(&pk, "stream");
        msgpack_pack_true(&pk);
    }
    if (s->cached) {
        proto_pack_str(&pk, "cache");
        msgpack_pack_map(&pk, 1);
        proto_pack_str(&pk, "use-cache");
        msgpack_pack_true(&pk);
    }
    g->body_mp = sb.data;          /* taken over from the sbuffer */
    g->body_mp_len = sb.size;

    body = lg_upstream_body(s->model, s->stream);
    if (asprintf(&g->http_req, "POST /v1/chat/completions HTTP/1.1\r\n"
                 "Host: 127.0.0.1:%d\r\nUser-Agent: llmux-bench\r\n"
                 "Accept: %s\r\nContent-Type: application/json\r\n"
                 "Authorization: Bearer sk-bench\r\nContent-Length: %zu\r\n"
                 "\r\n%s", s->port,
                 s->stream ? "text/event-stream" : "*/*", strlen(body),
                 body) < 0)
        return -1;
    g->http_req_len = strlen(g->http_req);
    return 0;
}

/* ---- connections ------------------------------------------------------------ */

static void conn_events(struct lconn *c)
{
    struct epoll_event ev = { .events = EPOLLIN | (c->out_len ? EPOLLOUT : 0),
                              .data.ptr = c };

    epoll_ctl(c->lg->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static int conn_write(struct lconn *c, const char *p, size_t n)
{
    ssize_t w = 0;

    if (c->out_len == 0) {
        w = write(c->fd, p, n);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (w < 0)
            w = 0;
        if ((size_t)w == n)
            return 0;
    }
    if (grow(&c->out, &c->out_cap, c->out_len + n - (size_t)w) < 0)
        return -1;
    memcpy(c->out + c->out_len, p + w, n - (size_t)w);
    c->out_len += n - (size_t)w;
    conn_events(c);
    return 0;
}

static int conn_flush(struct lconn *c)
{
    ssize_t w = write(c->fd, c->out, c->out_len);

    if (w < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    memmove(c->out, c->out + w, c->out_len - (size_t)w);
    c->out_len -= (size_t)w;
    if (c->out_len == 0)
        conn_events(c);
    return 0;
}

static int send_frame_hello(struct lconn *c)
{
    struct proto_enc e;
    int r;

    /* $LLMUX_API_KEY, as libllmux: the benchmark of keys and limits. */
    const char *key = getenv("LLMUX_API_KEY");

    if (key && *key == '\0')
        key = NULL;
    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_HELLO, 0, key ? 3 : 2);
    proto_pack_kv_uint(&e.pk, "version", LLMUX_PROTO_VERSION);
    proto_pack_kv_str(&e.pk, "client", "llmux-bench");
    if (key)
        proto_pack_kv_str(&e.pk, "api_key", key);
    r = proto_enc_end(&e) == 0 ? conn_write(c, e.sb.data, e.sb.size) : -1;
    proto_enc_free(&e);
    return r;
}

static struct lconn *conn_open(struct lg *g)
{
    const struct lg_spec *s = g->s;
    struct lconn *c;
    struct epoll_event ev;
    int fd, one = 1;

    if (s->target == LG_LLMUX) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };

        snprintf(a.sun_path, sizeof(a.sun_path), "%s", s->sock_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
            goto fail;
    } else {
        struct sockaddr_in a = { .sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)s->port) };

        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
            goto fail;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        close(fd);
        return NULL;
    }
    c->lg = g;
    c->fd = fd;
    c->req = -1;
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev);
    if (g->nconns == g->conns_cap) {
        int cap = g->conns_cap ? 2 * g->conns_cap : 64;
        struct lconn **n = realloc(g->conns, (size_t)cap * sizeof(*n));

        if (n == NULL)
            return NULL;
        g->conns = n;
        g->conns_cap = cap;
    }
    g->conns[g->nconns++] = c;
    if (s->target == LG_LLMUX && send_frame_hello(c) < 0)
        return NULL;
    if (s->target == LG_HTTP)
        c->ready = 1;
    return c;
fail:
    fprintf(stderr, "llmux-bench: cannot connect to %s: %s\n",
            s->target == LG_LLMUX ? s->sock_path : "the upstream",
            strerror(errno));
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* ---- requests ---------------------------------------------------------------- */

static long new_req(struct lg *g, struct lconn *c, uint64_t t0)
{
    if (g->nreqs == g->reqs_cap) {
        long cap = g->reqs_cap ? 2 * g->reqs_cap : 65536;
        struct lreq *n = realloc(g->reqs, (size_t)cap * sizeof(*n));

        if (n == NULL)
            return -1;
        g->reqs = n;
        g->reqs_cap = cap;
    }
    g->reqs[g->nreqs].t0 = t0;
    g->reqs[g->nreqs].conn = c;
    g->reqs[g->nreqs].done = 0;
    return g->nreqs++;
}

static int may_send(const struct lg *g)
{
    return g->sending &&
           (g->s->max_requests == 0 || g->nreqs < g->s->max_requests);
}

/* Sends one request on c, timed from t0. */
static int send_request(struct lg *g, struct lconn *c, uint64_t t0)
{
    long i = new_req(g, c, t0);
    char frame[1024];
    size_t n;

    if (i < 0)
        return -1;
    g->r->sent++;
    g->live++;
    if (g->live > g->r->max_live)
        g->r->max_live = g->live;
    c->inflight++;
    if (g->s->target == LG_HTTP) {
        c->req = i;
        c->hdr_done = c->chunked = 0;
        c->body_left = 0;
        c->pos = 0;
        return conn_write(c, g->http_req, g->http_req_len);
    }
    {
        msgpack_sbuffer sb;
        msgpack_packer pk;

        /* {type, id, op, body}: the header part, then the packed body. */
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 4);
        proto_pack_kv_str(&pk, "type", "request");
        proto_pack_kv_uint(&pk, "id", (uint64_t)i + 1);
        proto_pack_kv_str(&pk, "op", "chat");
        proto_pack_str(&pk, "body");
        n = sb.size + g->body_mp_len;
        if (4 + n > sizeof(frame)) {
            msgpack_sbuffer_destroy(&sb);
            return -1;
        }
        frame[0] = (char)(n >> 24);
        frame[1] = (char)(n >> 16);
        frame[2] = (char)(n >> 8);
        frame[3] = (char)n;
        memcpy(frame + 4, sb.data, sb.size);
        memcpy(frame + 4 + sb.size, g->body_mp, g->body_mp_len);
        msgpack_sbuffer_destroy(&sb);
    }
    return conn_write(c, frame, 4 + n);
}

static void complete(struct lg *g, long i, int error, const char *msg,
                     size_t msg_len)
{
    struct lreq *q = &g->reqs[i];
    uint64_t t = now_ns();

    if (q->done)
        return;
    q->done = 1;
    q->conn->inflight--;
    g->live--;
    g->t_last_done = t;
    if (error) {
        if (g->r->errors++ == 0)
            snprintf(g->r->first_error, sizeof(g->r->first_error), "%.*s",
                     (int)msg_len, msg);
        return;
    }
    g->r->completed++;
    if (g->nlat < g->lat_cap)
        g->lat[g->nlat++] = (double)(t - q->t0) / 1000.0;
}

/* ---- reading: frames ----------------------------------------------------- */

static void on_frame(struct lg *g, struct lconn *c, const char *body,
                     size_t n)
{
    struct proto_frame f;
    const msgpack_object *e;
    const char *m = "";
    size_t ml = 0;

    if (proto_frame_decode(&f, body, n) < 0) {
        proto_frame_free(&f);
        return;
    }
    if (f.type == PROTO_HELLO) {
        c->ready = 1;
    } else if (f.has_id && f.id >= 1 && (long)f.id <= g->nreqs) {
        switch (f.type) {
        case PROTO_CHUNK:
            g->r->chunks++;
            break;
        case PROTO_DONE:
            complete(g, (long)f.id - 1, 0, NULL, 0);
            break;
        case PROTO_ERROR:
            e = proto_get(f.map, "error");
            (void)proto_get_str(e, "message", &m, &ml);
            complete(g, (long)f.id - 1, 1, m, ml);
            break;
        default:
            break;
        }
    } else if (f.type == PROTO_ERROR) {
        e = proto_get(f.map, "error");
        (void)proto_get_str(e, "message", &m, &ml);
        fprintf(stderr, "llmux-bench: connection error: %.*s\n", (int)ml, m);
    }
    proto_frame_free(&f);
}

static size_t parse_frames(struct lg *g, struct lconn *c)
{
    size_t off = 0, body;

    while (proto_frame_peek(c->in + off, c->in_len - off, LLMUX_MAX_FRAME,
                            &body) == 1) {
        on_frame(g, c, c->in + off + LLMUX_FRAME_HEADER, body);
        off += LLMUX_FRAME_HEADER + body;
    }
    return off;
}

/* ---- reading: HTTP ------------------------------------------------------- */

/* Parses as much of the response as is there; returns the bytes used and
 * sets *ret_done when the response is complete. -1: malformed. */
static long parse_http(struct lg *g, struct lconn *c, int *ret_done)
{
    size_t p = 0;

    *ret_done = 0;
    if (!c->hdr_done) {
        const char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        const char *h;

        if (end == NULL)
            return 0;
        if (c->in_len < 12 || memcmp(c->in + 9, "200", 3) != 0)
            return -1;
        for (h = c->in; h < end; h++) {
            if (*h != '\n')
                continue;
            if (strncasecmp(h + 1, "content-length:", 15) == 0)
                c->body_left = strtoul(h + 16, NULL, 10);
            else if (strncasecmp(h + 1, "transfer-encoding: chunked", 26)
                     == 0)
                c->chunked = 1;
        }
        c->hdr_done = 1;
        p = (size_t)(end - c->in) + 4;
    }
    if (!c->chunked) {
        size_t take = c->in_len - p < c->body_left ? c->in_len - p
                                                   : c->body_left;

        c->body_left -= take;
        p += take;
        *ret_done = c->body_left == 0;
        return (long)p;
    }
    for (;;) {
        if (c->body_left > 0) {
            /* Inside a chunk's data (plus its CRLF). */
            size_t take = c->in_len - p < c->body_left ? c->in_len - p
                                                       : c->body_left;

            c->body_left -= take;
            p += take;
            if (c->body_left > 0)
                return (long)p;
            continue;
        }
        const char *nl = memmem(c->in + p, c->in_len - p, "\r\n", 2);
        size_t size, after;

        if (nl == NULL)
            return (long)p;
        size = strtoul(c->in + p, NULL, 16);
        after = (size_t)(nl - c->in) + 2;
        if (size == 0) {
            /* The last chunk and its CRLF (no trailers from ours). */
            if (c->in_len - after < 2)
                return (long)p;
            *ret_done = 1;
            return (long)(after + 2);
        }
        p = after;
        g->r->chunks++;
        c->body_left = size + 2;
    }
}

/* ---- the loop ------------------------------------------------------------ */

static void on_readable(struct lg *g, struct lconn *c)
{
    for (;;) {
        size_t avail;
        ssize_t n;

        if (grow(&c->in, &c->in_cap, c->in_len + 65536) < 0)
            return;
        avail = c->in_cap - c->in_len;
        n = read(c->fd, c->in + c->in_len, avail);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n <= 0) {
            epoll_ctl(g->ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
            return;
        }
        c->in_len += (size_t)n;
        if ((size_t)n < avail)
            break;      /* a short read: the socket is drained */
    }
    if (g->s->target == LG_LLMUX) {
        size_t used = parse_frames(g, c);

        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        return;
    }
    while (c->req >= 0 && c->in_len > 0) {
        int done;
        long used = parse_http(g, c, &done);

        if (used < 0) {
            complete(g, c->req, 1, "malformed HTTP response", 23);
            c->req = -1;
            c->in_len = 0;
            return;
        }
        memmove(c->in, c->in + used, c->in_len - (size_t)used);
        c->in_len -= (size_t)used;
        if (!done)
            return;
        complete(g, c->req, 0, NULL, 0);
        c->req = -1;
    }
}

/* Closed loop: refill every slot that is free. */
static void refill(struct lg *g, uint64_t t)
{
    for (int i = 0; i < g->nconns && may_send(g); i++) {
        struct lconn *c = g->conns[i];

        while (c->fd >= 0 && c->ready && c->inflight < c->slots &&
               may_send(g))
            if (send_request(g, c, t) < 0)
                return;
    }
}

/* Open loop: the connection for the next request. */
static struct lconn *pick(struct lg *g)
{
    if (g->s->target == LG_LLMUX) {
        for (int k = 0; k < g->nconns; k++) {
            struct lconn *c = g->conns[g->rr++ % (unsigned)g->nconns];

            if (c->fd >= 0 && c->ready)
                return c;
        }
        return NULL;
    }
    for (int k = 0; k < g->nconns; k++)
        if (g->conns[k]->fd >= 0 && g->conns[k]->req < 0)
            return g->conns[k];
    return g->nconns < MAX_HTTP_CONNS ? conn_open(g) : NULL;
}

static int setup(struct lg *g)
{
    const struct lg_spec *s = g->s;
    int n = s->target == LG_HTTP && s->rate == 0 ? s->slots : s->conns;
    uint64_t deadline;

    if (n < 1)
        n = 1;
    for (int i = 0; i < n; i++) {
        struct lconn *c = conn_open(g);

        if (c == NULL)
            return -1;
        /* Slots spread evenly: the first (slots % n) conns get one more. */
        c->slots = s->slots / n + (i < s->slots % n);
    }
    /* Wait for every hello before the clock starts. */
    deadline = now_ns() + 10000000000ull;
    for (;;) {
        struct epoll_event evs[64];
        int ready = 0, k;

        for (int i = 0; i < g->nconns; i++)
            ready += g->conns[i]->ready;
        if (ready == g->nconns)
            return 0;
        if (now_ns() > deadline) {
            fprintf(stderr, "llmux-bench: no hello from llmuxd\n");
            return -1;
        }
        k = epoll_wait(g->ep, evs, 64, 100);
        for (int i = 0; i < k; i++) {
            struct lconn *c = evs[i].data.ptr;

            if (evs[i].events & EPOLLOUT)
                conn_flush(c);
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(g, c);
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double pct(const double *v, long n, double p)
{
    long i;

    if (n == 0)
        return 0;
    i = (long)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static void finish(struct lg *g)
{
    struct lg_result *r = g->r;
    uint64_t end = g->t_last_done > g->t_start ? g->t_last_done : now_ns();

    r->lost = r->sent - r->completed - r->errors;
    r->elapsed = (double)(end - g->t_start) / 1e9;
    r->rps = r->elapsed > 0 ? (double)r->completed / r->elapsed : 0;
    qsort(g->lat, (size_t)g->nlat, sizeof(double), cmp_double);
    r->p50 = pct(g->lat, g->nlat, 0.50);
    r->p90 = pct(g->lat, g->nlat, 0.90);
    r->p99 = pct(g->lat, g->nlat, 0.99);
    r->max = g->nlat ? g->lat[g->nlat - 1] : 0;
}

static void cleanup(struct lg *g)
{
    for (int i = 0; i < g->nconns; i++) {
        if (g->conns[i]->fd >= 0)
            close(g->conns[i]->fd);
        free(g->conns[i]->in);
        free(g->conns[i]->out);
        free(g->conns[i]);
    }
    free(g->conns);
    free(g->reqs);
    free(g->lat);
    free(g->body_mp);
    free(g->http_req);
    if (g->ep >= 0)
        close(g->ep);
}

int lg_run(const struct lg_spec *s, struct lg_result *r)
{
    struct lg g = { .s = s, .r = r, .ep = -1 };
    uint64_t next_send, next_tick, interval = 0, drain_end = 0;
    long lat_cap;
    int rc = -1;

    memset(r, 0, sizeof(*r));
    /* Enough latency slots for the longest plausible run. */
    lat_cap = s->max_requests ? s->max_requests :
              (long)((s->rate > 0 ? s->rate : 200000.0) * (s->seconds + 1)) +
              s->slots + 1024;
    g.lat_cap = lat_cap;
    if ((g.lat = malloc((size_t)lat_cap * sizeof(double))) == NULL ||
        (g.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || build_payloads(&g) < 0 ||
        setup(&g) < 0)
        goto out;
    g.sending = 1;
    g.t_start = now_ns();
    g.t_stop_send = g.t_start + (uint64_t)(s->seconds * 1e9);
    if (s->rate > 0)
        interval = (uint64_t)(1e9 / s->rate);
    next_send = g.t_start;
    next_tick = g.t_start + TICK_US * 1000ull;
    if (s->rate == 0)
        refill(&g, g.t_start);
    for (;;) {
        struct epoll_event evs[256];
        uint64_t t = now_ns(), wake;
        int k, timeout;

        if (g.sending && (t >= g.t_stop_send || !may_send(&g))) {
            g.sending = 0;
            drain_end = t + (uint64_t)(s->drain_seconds * 1e9);
        }
        if (!g.sending && (g.live == 0 || t >= drain_end))
            break;
        /* Open loop: every request whose time has come, on schedule. */
        while (s->rate > 0 && g.sending && next_send <= t && may_send(&g)) {
            struct lconn *c = pick(&g);

            if (c == NULL || send_request(&g, c, next_send) < 0)
                break;
            next_send += interval;
        }
        if (t >= next_tick) {
            if (s->tick)
                s->tick(s->tick_ud, g.live);
            next_tick = t + TICK_US * 1000ull;
        }
        wake = next_tick;
        if (s->rate > 0 && g.sending && next_send < wake)
            wake = next_send;
        timeout = wake > t ? (int)((wake - t) / 1000000) : 0;
        k = epoll_wait(g.ep, evs, 256, timeout);
        for (int i = 0; i < k; i++) {
            struct lconn *c = evs[i].data.ptr;

            if (c->fd < 0)
                continue;
            if ((evs[i].events & EPOLLOUT) && conn_flush(c) < 0)
                continue;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(&g, c);
        }
        if (s->rate == 0 && g.sending)
            refill(&g, now_ns());
    }
    finish(&g);
    rc = 0;
out:
    cleanup(&g);
    return rc;
}
