/* request.h -- one chat or embeddings request from the frame that started it to its
 * terminal event, as the stages see it (stage.h).
 * Owns: struct request: the canonical body, the options read from it
 * (opts.h), the caller, the attempts (one deployment each, as router.h
 * chooses: retries with backoff, fallbacks to other groups), the provider
 * call (struct pcall) and its transfer (xfer.h), the backoff and
 * first-chunk/idle timers, timing, and its place in the session's list.
 * A request outlives its session only as long as it takes to abort its
 * transfer; its memory goes once libuv closed its timers. Front ends use
 * session.h only; this header is for the stages. */
#ifndef LLMUX_REQUEST_H
#define LLMUX_REQUEST_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "gauth.h"
#include "opts.h"
#include "provider.h"
#include "router.h"
#include "session.h"
#include "xfer.h"
#include "keys.h"
#include "cost.h"

struct caller_rule;
struct cache_req;
struct config;
struct deployment;
struct secret;

/* What a request asks for: the stages are the same, the provider hooks
 * and the answer's shape differ (embed.h). */
enum request_kind { REQ_CHAT, REQ_EMBED };

struct request {
    struct request       *next, *prev;  /* sess->reqs */
    enum request_kind     kind;
    struct session       *sess;         /* NULL once detached */
    struct server        *srv;
    uint64_t              id;
    json_t               *body;         /* owned: the canonical request,
                                         * minus its control keys */
    const char           *model;        /* borrowed from body: its "model"
                                         * (NULL: none), read once at start
                                         * (body's "model" never changes) */
    json_t               *body_dep;     /* owned: body with the current
                                         * deployment's call defaults */
    const struct config  *cfg;          /* owned reference; frozen */
    struct caller         caller;       /* access.c: once per request */
    struct request_opts   opts;         /* owned (opts.h) */
    unsigned              stage;        /* stages [0, stage) have run */
    const char           *outcome;      /* for the ledger: "ok", … */
    char                  outcome_buf[48];
    int                   ended;        /* terminal event sent */
    int                   limited;      /* limits.c counts it */
    int                   key_counted;  /* limits.c counts it for its key
                                         * and team */
    struct vkey          *key;          /* a reference access.c took, the
                                         * ledger's end drops; NULL: none */
    double                cost;         /* USD (cost.h), once it ended */
    struct cost_tokens    tokens;       /* of pc.usage, read once by
                                         * request_tokens (0 for a cache
                                         * hit: no upstream call) */
    int                   tokens_read;
    const struct caller_rule *rule;     /* access.c: the callers entry of
                                         * a caller without a key (in cfg),
                                         * or NULL */
    struct policy        *upol;         /* limits.c: that caller's counted
                                         * state, or NULL */
    struct cache_req     *cache;        /* owned by cache.c; NULL: the
                                         * request is not cached */
    /* Answered from the cache: limits and spend must charge it no tokens
     * and no money (rpm still counts it); pc.usage stays NULL. */
    int                   cache_hit;
    const char           *hit_label;    /* a hit's metrics group: its
                                         * group's configured label
                                         * (deployment.h), borrowed from
                                         * cfg or static; NULL: none */
    const char           *cache_status; /* for the log: "hit", "miss",
                                         * "skip"; NULL: not cached */
    size_t                body_cost;    /* the session's estimate of what
                                         * body holds (budget.h) */
    size_t                mem_charged;  /* of it, charged to srv->budget
                                         * by limits.c until the end */
    struct deployment    *dep;          /* a reference (resolve.h): the
                                         * current (else last) attempt's */
    struct pcall          pc;           /* the current attempt */
    struct http_req       hreq;         /* owned until the transfer ends */
    struct xfer           xfer;         /* the upstream stage */
    struct gauth_wait     gwait;        /* the attempt waits for an access
                                         * token (Vertex AI) */
    int                   waiting_token;
    struct secret        *token;        /* owned: a copy of the access
                                         * token the current attempt
                                         * sends (pc.bearer), so its
                                         * messages can mask it after a
                                         * refresh replaced the pool's;
                                         * freed (wiped) with the attempt */
    int                   paused;
    uint64_t              chunks;
    char                  chunk_id[80]; /* of the first chunk, for the */
    char                  chunk_model[128]; /* usage chunk we synthesise */
    json_int_t            chunk_created;
    /* Microseconds (uv_hrtime): t_up_* are the current attempt's. */
    uint64_t              t_start, t_up_start, t_up_end, t_first_chunk;
    uint64_t              deadline;     /* of the whole request */
    uint64_t              up_us;        /* upstream time, all attempts */
    uint64_t              wait_us;      /* backoff waits */
    uint64_t              t_wait;       /* when the current wait began */
    uint64_t              wait_until_ns;/* uv_hrtime the wait must reach */
    /* Routing: the model group being tried and what is left to try. */
    const char           *group;        /* borrowed from body or cfg */
    struct deployment    *cands[ROUTER_MAX_GROUP]; /* references, from
                                         * router_resolve */
    unsigned char         tried[ROUTER_MAX_GROUP];
    size_t                ncands;
    struct rstat         *st;           /* dep's, while an attempt runs */
    unsigned              retries;      /* in this group */
    unsigned              attempts;     /* in all */
    unsigned              fallbacks;    /* groups entered after the first */
    const char           *chain[ROUTER_MAX_CHAIN]; /* fallback groups */
    size_t                nchain, next_fallback;
    int                   chain_made;
    struct perr           last;         /* what to report if all fail */
    struct deployment    *last_dep;     /* whose answer that was, or NULL;
                                         * a reference */
    double                idle_s;       /* between chunks; 0 = no limit */
    /* Timers live inside the request, so it is freed only once libuv
     * closed both (on_handle_closed). */
    uv_timer_t            next_timer;   /* backoff, then the next attempt */
    uv_timer_t            watch_timer;  /* the first chunk, then idle gaps */
    int                   open_handles;
};

/* Ends the request with an error event, then frees it. The error names
 * rq->dep (the deployment whose answer caused it) when there is one. */
void request_fail(struct request *rq, int code, long status,
                  const char *message, double retry_after);
/* A stage answered rq through the session itself (completion or chunks,
 * then done): ends it with outcome (static) and frees it. */
void request_end(struct request *rq, const char *outcome);
/* Ends the request successfully (request_end.c): the completion when not
 * a stream (borrowed), the usage chunk a stream asked for, then done. */
void request_finish(struct request *rq, json_t *completion);
/* Releases everything the request holds and unlinks it; its memory goes
 * once libuv closed its timers. Only request.c and request_end.c call it. */
void request_free(struct request *rq);
/* The session is going away: abort silently, no events. */
void request_abort(struct request *rq);
/* Backpressure from the session. */
void request_pause(struct request *rq);
void request_resume(struct request *rq);

/* Builds the attempt's upstream request and starts its transfer
 * (request.c); code < 0 is a failed token exchange, msg its words. */
void request_attempt_send(struct request *rq, int code, const char *msg);
/* Sends the attempt (request_attempt_send), after the access token its
 * deployment needs, if any, is there or has failed (request_token.c):
 * also each further call of a multi-call attempt (embed.h). */
void request_authorize(struct request *rq);

/* route.c: makes name the model group to try (the one place a model name
 * is resolved). 0, or < 0 with msg set. */
/* Releases the references rq->cands holds (route.c refills them). */
void request_drop_cands(struct request *rq);
int  route_group(struct request *rq, const char *name, char *msg,
                 size_t len);

/* The tokens of the request's usage, read from it the first time only
 * (cost, limits and ledger all need them). Only once it ended. */
const struct cost_tokens *request_tokens(struct request *rq);

static inline uint64_t request_now_us(void)
{
    return uv_hrtime() / 1000;
}

#endif
