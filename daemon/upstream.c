/* upstream.c -- libcurl multi driven by the libuv loop (see upstream.h).
 * One uv_poll_t per curl socket, stored with curl_multi_assign; freed in
 * its close callback. The timer callback never calls back into curl from
 * inside curl: it only arms the uv timer. Finished easy handles go back to
 * a small pool instead of being freed. */
#include "upstream.h"
#include "container.h"
#include "log.h"

#include <stdlib.h>

struct upsock {
    uv_poll_t        poll;
    curl_socket_t    fd;
    struct upstream *up;
};

static void check_done(struct upstream *u)
{
    struct upstream_xfer *x;
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(u->multi, &left)) != NULL) {
        CURL *easy = m->easy_handle;
        CURLcode res = m->data.result;

        if (m->msg != CURLMSG_DONE)
            continue;
        x = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(u->multi, easy);
        u->running--;
        if (x && x->done)
            x->done(x, res);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct upsock *s = container_of(h, struct upsock, poll);
    struct upstream *u = s->up;
    int flags = 0, running;

    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (!status && (events & UV_READABLE))
        flags |= CURL_CSELECT_IN;
    if (!status && (events & UV_WRITABLE))
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(u->multi, s->fd, flags, &running);
    check_done(u);
}

static void on_timer(uv_timer_t *t)
{
    struct upstream *u = container_of(t, struct upstream, timer);
    int running;

    curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(u);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *ud)
{
    struct upstream *u = ud;

    (void)multi;
    if (timeout_ms < 0)
        uv_timer_stop(&u->timer);
    else
        /* 0 means "as soon as possible": the next loop iteration, never a
         * call into curl from inside this callback. */
        uv_timer_start(&u->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static void upsock_closed(uv_handle_t *h)
{
    free(container_of((uv_poll_t *)h, struct upsock, poll));
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *ud,
                     void *sockp)
{
    struct upstream *u = ud;
    struct upsock *s = sockp;
    int events = 0;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, upsock_closed);
            curl_multi_assign(u->multi, fd, NULL);
        }
        return 0;
    }
    if (s == NULL) {
        if ((s = calloc(1, sizeof(*s))) == NULL)
            return -1;
        s->fd = fd;
        s->up = u;
        if (uv_poll_init_socket(u->loop, &s->poll, fd) < 0) {
            free(s);
            return -1;
        }
        curl_multi_assign(u->multi, fd, s);
    }
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

int upstream_init(struct upstream *u, uv_loop_t *loop)
{
    u->loop = loop;
    u->running = 0;
    u->closing = 0;
    u->npool = 0;
    if ((u->multi = curl_multi_init()) == NULL)
        return -1;
    uv_timer_init(loop, &u->timer);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    /* HTTP/2 multiplexing to upstreams that offer it; keep a warm pool of
     * connections per host for HTTP/1.1 ones. */
    curl_multi_setopt(u->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 256L);
    return 0;
}

int upstream_add(struct upstream *u, CURL *easy)
{
    if (curl_multi_add_handle(u->multi, easy) != CURLM_OK)
        return -1;
    u->running++;
    return 0;
}

void upstream_remove(struct upstream *u, CURL *easy)
{
    if (curl_multi_remove_handle(u->multi, easy) == CURLM_OK)
        u->running--;
}

void upstream_close(struct upstream *u)
{
    while (u->npool > 0)
        curl_easy_cleanup(u->pool[--u->npool]);
    u->closing = 1;
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->timer, NULL);
    curl_multi_cleanup(u->multi);
    u->multi = NULL;
}

CURL *upstream_easy_get(struct upstream *u)
{
    if (u->npool > 0)
        return u->pool[--u->npool];
    return curl_easy_init();
}

/* curl_easy_reset drops every option (so no pointer into the finished
 * request survives: header list, body, callbacks, private) but keeps the
 * handle's buffers and caches. The connection itself stays in the multi
 * handle's cache either way. Past the cap the handle is freed. */
void upstream_easy_put(struct upstream *u, CURL *easy)
{
    if (easy == NULL)
        return;
    if (u->closing || u->npool == UPSTREAM_POOL_MAX) {
        curl_easy_cleanup(easy);
        return;
    }
    curl_easy_reset(easy);
    u->pool[u->npool++] = easy;
}
