/* upstream.c -- bench-upstream: the fast fake OpenAI upstream of the
 * benchmark. Owns: one epoll loop on 127.0.0.1 answering every POST with a
 * canned ~600-byte chat.completion, or, when the body asks for a stream, a
 * canned 20-chunk SSE stream (then a usage chunk and data: [DONE]), over
 * HTTP/1.1 keep-alive. The same bytes every time, so every measurement
 * sees the same upstream. A request whose model is "bench-slow" gets the
 * stream one chunk every 100 ms, paced by one FIFO of deadlines (every
 * slow stream has the same period), so 10 000 of them cost no threads.
 *
 * usage: bench-upstream [--port N] [--port-file PATH] [--max-seconds S]
 * Prints "PORT\n" on stdout (and to the port file) once it listens. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NCHUNKS      20
#define SLOW_MS      100
#define MAX_REQUEST  (1u << 20)
#define MAX_EVENTS   256

/* The canned answers, rendered once at start-up. */
struct canned {
    char  *plain;            /* owned: status line, headers, the body */
    size_t plain_len;
    char  *stream;           /* owned: status, headers, every chunk, end */
    size_t stream_len;
    char  *head;             /* owned: a stream's status line + headers */
    size_t head_len;
    char  *ev[NCHUNKS + 2];  /* owned: each HTTP chunk (20, usage, DONE) */
    size_t ev_len[NCHUNKS + 2];
};

struct conn {
    int          fd;
    char        *in;         /* owned; bytes of the request being read */
    size_t       in_len, in_cap;
    const char  *out;        /* borrowed (canned) or owned (out_own) */
    size_t       out_len, out_off;
    char        *out_own;    /* owned copy when a write was partial */
    int          slow_next;  /* next event of a slow stream, -1: none */
    uint64_t     deadline;   /* ms, when slow_next is due */
    struct conn *qnext;      /* the slow FIFO */
    int          queued;
    int          closing;
};

/* Everything the loop needs; one instance on main's stack. */
struct server {
    int            ep, lfd;
    struct canned  c;
    struct conn   *qhead, *qtail;  /* slow streams, by deadline */
    unsigned long  served, live;
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *xsprintf(size_t *ret_len, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *xsprintf(size_t *ret_len, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        perror("bench-upstream: vasprintf");
        exit(1);
    }
    *ret_len = (size_t)n;
    return s;
}

/* ---- the canned answers --------------------------------------------------- */

static const char *const words[NCHUNKS] = {
    "The", " sky", " looks", " blue", " because", " air", " molecules",
    " scatter", " short", " blue", " wavelengths", " of", " sunlight",
    " much", " more", " than", " long", " red", " ones", ".",
};

static void canned_init(struct canned *c)
{
    char text[512], *body;
    size_t n = 0, bl, total = 0;

    for (int i = 0; i < NCHUNKS; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", words[i]);
    body = xsprintf(&bl,
        "{\"id\":\"chatcmpl-BENCH0000000000000000000001\",\"object\":"
        "\"chat.completion\",\"created\":1730000000,\"model\":\"bench\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":\"%s\",\"refusal\":null,\"annotations\":[]},"
        "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{"
        "\"prompt_tokens\":14,\"completion_tokens\":20,\"total_tokens\":34,"
        "\"completion_tokens_details\":{\"reasoning_tokens\":0,"
        "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}"
        "},\"service_tier\":\"default\","
        "\"system_fingerprint\":\"fp_bench000\"}", text);
    c->plain = xsprintf(&c->plain_len, "HTTP/1.1 200 OK\r\nContent-Type: "
                        "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                        bl, body);
    free(body);
    c->head = xsprintf(&c->head_len, "HTTP/1.1 200 OK\r\nContent-Type: "
                       "text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                       "Cache-Control: no-cache\r\n\r\n");
    for (int i = 0; i < NCHUNKS + 2; i++) {
        char *ev;
        size_t el;

        if (i < NCHUNKS)
            ev = xsprintf(&el,
                "data: {\"id\":\"chatcmpl-BENCH0000000000000000000002\","
                "\"object\":\"chat.completion.chunk\",\"created\":1730000000,"
                "\"model\":\"bench\",\"system_fingerprint\":\"fp_bench000\","
                "\"choices\":[{\"index\":0,\"delta\":{%s\"content\":\"%s\"},"
                "\"logprobs\":null,\"finish_reason\":%s}],\"usage\":null}\n\n",
                i == 0 ? "\"role\":\"assistant\"," : "", words[i],
                i == NCHUNKS - 1 ? "\"stop\"" : "null");
        else if (i == NCHUNKS)
            ev = xsprintf(&el,
                "data: {\"id\":\"chatcmpl-BENCH0000000000000000000002\","
                "\"object\":\"chat.completion.chunk\",\"created\":1730000000,"
                "\"model\":\"bench\",\"system_fingerprint\":\"fp_bench000\","
                "\"choices\":[],\"usage\":{\"prompt_tokens\":14,"
                "\"completion_tokens\":20,\"total_tokens\":34}}\n\n");
        else
            ev = xsprintf(&el, "data: [DONE]\n\n");
        /* One HTTP chunk per event, as real providers write them; the
         * last event also carries the terminating zero-size chunk. */
        c->ev[i] = xsprintf(&c->ev_len[i], "%zx\r\n%s\r\n%s", el, ev,
                            i == NCHUNKS + 1 ? "0\r\n\r\n" : "");
        free(ev);
        total += c->ev_len[i];
    }
    c->stream_len = c->head_len + total;
    if ((c->stream = malloc(c->stream_len)) == NULL)
        exit(1);
    memcpy(c->stream, c->head, c->head_len);
    n = c->head_len;
    for (int i = 0; i < NCHUNKS + 2; i++) {
        memcpy(c->stream + n, c->ev[i], c->ev_len[i]);
        n += c->ev_len[i];
    }
}

/* ---- connections ------------------------------------------------------------ */

static void conn_close(struct server *s, struct conn *c)
{
    /* A queued slow stream is unlinked lazily: the timer skips it. */
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    s->live--;
    if (!c->queued) {
        free(c->in);
        free(c->out_own);
        free(c);
    } else {
        c->closing = 1;
    }
}

static void want_out(struct server *s, struct conn *c, int on)
{
    struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
                              .data.ptr = c };

    epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is pending; 0, or -1 when the connection died. */
static int flush(struct server *s, struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            if (c->out_own == NULL) {
                /* Keep our own copy: the canned pointer stays valid, but
                 * a slow stream's next event must not overwrite it. */
                size_t left = c->out_len - c->out_off;

                if ((c->out_own = malloc(left)) == NULL)
                    return -1;
                memcpy(c->out_own, c->out + c->out_off, left);
                c->out = c->out_own;
                c->out_len = left;
                c->out_off = 0;
            }
            want_out(s, c, 1);
            return 0;
        }
        if (n <= 0)
            return -1;
        c->out_off += (size_t)n;
    }
    if (c->out_own) {
        free(c->out_own);
        c->out_own = NULL;
        want_out(s, c, 0);
    }
    c->out = NULL;
    c->out_len = c->out_off = 0;
    return 0;
}

/* Queues bytes after whatever is still pending (rare: only when a client
 * reads slower than 100 ms per event). */
static int send_bytes(struct server *s, struct conn *c, const char *p,
                      size_t n)
{
    if (c->out_len > c->out_off) {
        size_t left = c->out_len - c->out_off;
        char *b = malloc(left + n);

        if (b == NULL)
            return -1;
        memcpy(b, c->out + c->out_off, left);
        memcpy(b + left, p, n);
        free(c->out_own);
        c->out = c->out_own = b;
        c->out_len = left + n;
        c->out_off = 0;
        return 0;
    }
    c->out = p;
    c->out_len = n;
    c->out_off = 0;
    return flush(s, c);
}

static void enqueue_slow(struct server *s, struct conn *c)
{
    c->deadline = now_ms() + SLOW_MS;
    c->qnext = NULL;
    c->queued = 1;
    if (s->qtail)
        s->qtail->qnext = c;
    else
        s->qhead = c;
    s->qtail = c;
}

/* Sends every slow event that is due. */
static void run_timers(struct server *s)
{
    uint64_t t = now_ms();

    while (s->qhead && s->qhead->deadline <= t) {
        struct conn *c = s->qhead;

        s->qhead = c->qnext;
        if (s->qhead == NULL)
            s->qtail = NULL;
        c->queued = 0;
        if (c->closing) {
            free(c->in);
            free(c->out_own);
            free(c);
            continue;
        }
        if (send_bytes(s, c, s->c.ev[c->slow_next],
                       s->c.ev_len[c->slow_next]) < 0) {
            conn_close(s, c);
            continue;
        }
        if (++c->slow_next < NCHUNKS + 2)
            enqueue_slow(s, c);
        else
            c->slow_next = -1;
    }
}

/* Finds one whole request in c->in; returns its length, 0 if incomplete,
 * -1 if malformed. Only Content-Length bodies (what libcurl sends). */
static long request_len(const struct conn *c)
{
    const char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4), *cl;
    size_t hl, body = 0;

    if (end == NULL)
        return c->in_len > 65536 ? -1 : 0;
    hl = (size_t)(end - c->in) + 4;
    for (cl = c->in; (cl = memmem(cl, hl - (size_t)(cl - c->in),
                                   "\r\n", 2)) != NULL; cl += 2)
        if (strncasecmp(cl + 2, "content-length:", 15) == 0) {
            body = strtoul(cl + 17, NULL, 10);
            break;
        }
    if (body > MAX_REQUEST)
        return -1;
    return c->in_len >= hl + body ? (long)(hl + body) : 0;
}

static int answer(struct server *s, struct conn *c, const char *req,
                  size_t n)
{
    int stream = memmem(req, n, "\"stream\":true", 13) != NULL;
    int slow = memmem(req, n, "\"model\":\"bench-slow\"", 20) != NULL;

    s->served++;
    if (!stream)
        return send_bytes(s, c, s->c.plain, s->c.plain_len);
    if (!slow)
        return send_bytes(s, c, s->c.stream, s->c.stream_len);
    c->slow_next = 1;
    enqueue_slow(s, c);
    if (send_bytes(s, c, s->c.head, s->c.head_len) < 0)
        return -1;
    return send_bytes(s, c, s->c.ev[0], s->c.ev_len[0]);
}

static void on_readable(struct server *s, struct conn *c)
{
    for (;;) {
        ssize_t n;
        long len;

        if (c->in_cap - c->in_len < 16384) {
            size_t cap = c->in_cap ? c->in_cap * 2 : 32768;
            char *p = cap > 2 * MAX_REQUEST ? NULL : realloc(c->in, cap);

            if (p == NULL) {
                conn_close(s, c);
                return;
            }
            c->in = p;
            c->in_cap = cap;
        }
        n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            conn_close(s, c);
            return;
        }
        c->in_len += (size_t)n;
        while ((len = request_len(c)) > 0) {
            if (answer(s, c, c->in, (size_t)len) < 0) {
                conn_close(s, c);
                return;
            }
            memmove(c->in, c->in + len, c->in_len - (size_t)len);
            c->in_len -= (size_t)len;
        }
        if (len < 0) {
            conn_close(s, c);
            return;
        }
    }
}

static void on_accept(struct server *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        int one = 1;
        struct conn *c;
        struct epoll_event ev;

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                fprintf(stderr, "bench-upstream: accept: %s\n",
                        strerror(errno));
            return;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if ((c = calloc(1, sizeof(*c))) == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->slow_next = -1;
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
        s->live++;
    }
}

/* ---- main ----------------------------------------------------------------- */

static int listen_on(int port, int *ret_port)
{
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port) };
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(fd, 4096) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        close(fd);
        return -1;
    }
    *ret_port = ntohs(a.sin_port);
    return fd;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    struct server s = { 0 };
    struct epoll_event evs[MAX_EVENTS], lev;
    struct rlimit rl;
    const char *port_file = NULL;
    int port = 0;
    long max_seconds = 3600;
    uint64_t end;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = (int)strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--port-file") == 0)
            port_file = argv[i + 1];
        else if (strcmp(argv[i], "--max-seconds") == 0)
            max_seconds = strtol(argv[i + 1], NULL, 10);
    }
    /* 10 000 slow streams need 10 000 sockets. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    canned_init(&s.c);
    if ((s.lfd = listen_on(port, &port)) < 0 ||
        (s.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        perror("bench-upstream: listen");
        return 1;
    }
    lev.events = EPOLLIN;
    lev.data.ptr = NULL;
    epoll_ctl(s.ep, EPOLL_CTL_ADD, s.lfd, &lev);
    if (port_file) {
        char tmp[4096];
        FILE *f;

        snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
        if ((f = fopen(tmp, "w")) == NULL || fprintf(f, "%d\n", port) < 0 ||
            fclose(f) != 0 || rename(tmp, port_file) < 0) {
            perror("bench-upstream: port file");
            return 1;
        }
    }
    printf("%d\n", port);
    fflush(stdout);
    end = now_ms() + (uint64_t)max_seconds * 1000;
    while (!stop && now_ms() < end) {
        int timeout = 1000, n;

        if (s.qhead) {
            uint64_t t = now_ms();

            timeout = s.qhead->deadline > t ? (int)(s.qhead->deadline - t) : 0;
        }
        n = epoll_wait(s.ep, evs, MAX_EVENTS, timeout);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;

            if (c == NULL) {
                on_accept(&s);
                continue;
            }
            if (c->fd < 0)
                continue;
            if ((evs[i].events & EPOLLOUT) && flush(&s, c) < 0) {
                conn_close(&s, c);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(&s, c);
        }
        run_timers(&s);
    }
    fprintf(stderr, "bench-upstream: served %lu requests\n", s.served);
    return 0;
}
