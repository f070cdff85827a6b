/* xfer.h -- the upstream stage: one HTTP transfer of one attempt.
 * Owns: the curl easy handle while it runs (from upstream.c's pool), its
 * options, the header and body callbacks, the answer's status (from the
 * status line as it arrives, then from curl at the end: answers without a
 * body keep theirs), Retry-After, the buffered body of non-stream and
 * error answers, pausing, and turning curl's failures into LLMUX_E*
 * codes with words that name the URL. Knows nothing of sessions or
 * providers: 2xx stream bytes go to a feed hook, the end to a done hook,
 * so the callbacks can be driven without a socket (tests/unit). */
#ifndef LLMUX_XFER_H
#define LLMUX_XFER_H

#include <curl/curl.h>
#include <stddef.h>

#include "buf.h"
#include "upstream.h"

struct http_req;

struct xfer {
    struct upstream_xfer ux;       /* upstream.c's hook (private) */
    struct upstream     *up;       /* borrowed */
    CURL                *easy;     /* owned while a transfer runs */
    struct buf           body;     /* owned: non-stream or error body */
    long                 status;   /* HTTP status, 0 = none yet */
    double               retry_after; /* seconds, < 0 = none */
    int                  stream;   /* 2xx bytes go to feed, not body */
    int                  paused;
    int                  toobig;   /* body passed HTTP_MAX_BODY */
    struct buf           ratelimit;/* owned: the answer's x-ratelimit-*
                                    * headers as "name: value\r\n" lines
                                    * (printable ASCII only), for front
                                    * ends that pass them on; capped */
    /* 2xx body bytes of a stream; < 0 stops the transfer. */
    int                (*feed)(void *ud, const char *p, size_t n);
    /* The transfer ended (the easy handle is back in the pool): res is
     * curl's verdict; status, retry_after and body are final. */
    void               (*done)(struct xfer *x, CURLcode res);
    void                *ud;
};

void xfer_init(struct xfer *x, struct upstream *up);
/* Forgets the last answer, for the next attempt. */
void xfer_reset(struct xfer *x);
/* Starts the transfer of h (which must outlive it). 0, or < 0 (out of
 * memory) and done is never called. */
int  xfer_start(struct xfer *x, const struct http_req *h, long timeout_ms);
/* Stops a running transfer without calling done; no-op when none. */
void xfer_stop(struct xfer *x);
void xfer_pause(struct xfer *x);
void xfer_resume(struct xfer *x);
void xfer_free(struct xfer *x);
int  xfer_running(const struct xfer *x);

/* The curl callbacks (ud is the struct xfer), exposed for unit tests. */
size_t xfer_on_header(char *p, size_t size, size_t n, void *ud);
size_t xfer_on_body(char *p, size_t size, size_t n, void *ud);
/* Ends a transfer as the multi handle would (tests): takes the status
 * from curl when the easy handle has one, then calls done. */
void xfer_end(struct xfer *x, CURLcode res);

/* The LLMUX_E* code of a failed transfer; msg names who could not be
 * reached, where, and for which group and deployment. */
int  xfer_curl_code(CURLcode res, const char *prov, const char *url,
                    const char *group, const char *dep, char *msg,
                    size_t len);

#endif
