/* loadgen.h -- the benchmark's load generator engine.
 * Owns: one epoll loop that sends chat requests and times them, either to
 * llmuxd over its Unix socket (the llmux protocol, frames built with the
 * protocol/ codec) or straight to the bench upstream over HTTP/1.1 with
 * the very JSON body llmuxd would send it, so that the difference between
 * the two is what llmuxd adds. Closed loop (a number of slots, each with
 * one request in flight) or open loop (a fixed rate, latency counted from
 * the scheduled send time so a stall is not hidden). */
#ifndef LLMUX_BENCH_LOADGEN_H
#define LLMUX_BENCH_LOADGEN_H

#include <stdint.h>

enum lg_target { LG_LLMUX, LG_HTTP };

struct lg_spec {
    enum lg_target target;
    const char    *sock_path;    /* LG_LLMUX: llmuxd's socket */
    int            port;         /* LG_HTTP: the upstream on 127.0.0.1 */
    const char    *model;        /* "bench" or "bench-slow" */
    int            stream;
    int            cached;       /* LG_LLMUX: ask for the response cache
                                  * ("cache": {"use-cache": true}) */
    /* Closed loop when rate == 0: 'slots' requests in flight at all
     * times, spread over 'conns' connections (LG_HTTP: one per slot). */
    int            slots;
    int            conns;
    /* Open loop when rate > 0: requests per second, over 'conns'
     * connections (LG_LLMUX) or a pool that grows as needed (LG_HTTP). */
    double         rate;
    double         seconds;      /* stop sending after this long */
    long           max_requests; /* stop after this many (0: no cap) */
    double         drain_seconds;/* wait this long for stragglers */
    /* Called about every 20 ms with the number of requests in flight. */
    void         (*tick)(void *ud, long live);
    void          *tick_ud;
};

struct lg_result {
    long     sent, completed, errors, lost;
    long     chunks;             /* chunk frames / HTTP chunks received */
    long     max_live;
    double   elapsed;            /* first send to last completion, s */
    double   rps;                /* completed / elapsed */
    double   p50, p90, p99, max; /* latency, µs */
    char     first_error[256];   /* the first error frame's message */
};

/* Runs one load; 0, or -1 with a message on stderr when it could not
 * start (cannot connect, out of memory). */
int lg_run(const struct lg_spec *s, struct lg_result *r);

/* The JSON body llmuxd sends upstream for a request of this model. */
const char *lg_upstream_body(const char *model, int stream);

#endif
