/* upstream.h -- glue between the libcurl multi handle and the libuv loop,
 * after curl's docs/examples/multi-uv.c.
 * Owns: the CURLM, one uv_poll_t per curl socket, the single uv_timer_t.
 * Knows nothing of providers or clients: it runs transfers and reports each
 * finished one through the done hook of its struct upstream_xfer. */
#ifndef LLMUX_UPSTREAM_H
#define LLMUX_UPSTREAM_H

#include <curl/curl.h>
#include <uv.h>

struct upstream_xfer {
    /* Called once per transfer, after the easy handle left the multi
     * handle; the callee may free or reuse the easy handle. */
    void (*done)(struct upstream_xfer *x, CURLcode result);
};

/* Idle easy handles kept for reuse. A handle costs about 22 KiB (its
 * receive buffer included), so the pool holds at most this many. */
#define UPSTREAM_POOL_MAX 64

struct upstream {
    uv_loop_t  *loop;
    CURLM      *multi;
    uv_timer_t  timer;
    unsigned    running;    /* easy handles in the multi handle */
    int         closing;
    CURL       *pool[UPSTREAM_POOL_MAX]; /* owned; idle, options reset */
    unsigned    npool;
};

int  upstream_init(struct upstream *u, uv_loop_t *loop);
/* Starts a transfer; CURLOPT_PRIVATE of easy must point to its xfer. */
int  upstream_add(struct upstream *u, CURL *easy);
/* Stops a transfer at once without calling done. Never call it from a
 * libcurl callback of that transfer. */
void upstream_remove(struct upstream *u, CURL *easy);
/* Closes the timer and the multi handle; transfers must be gone. */
void upstream_close(struct upstream *u);

/* An easy handle from the pool (options at their defaults), or a new
 * one; NULL when out of memory. upstream_easy_put returns it, after it
 * left the multi handle: reusing handles skips curl_easy_init/cleanup and
 * their buffer allocations on every request, and keeps each handle's DNS
 * and TLS session caches warm. */
CURL *upstream_easy_get(struct upstream *u);
void  upstream_easy_put(struct upstream *u, CURL *easy);

#endif
