/* router.h -- which deployment serves a request, and what to do when one
 * fails: LiteLLM's Router as pure decisions.
 * Owns: struct router (per-deployment statistics keyed by deployment key,
 * the PRNG), the strategies, order tiers, cooldown bookkeeping, the retry
 * policy and backoff schedule, and the fallback chain. Every function takes
 * the time as an argument (monotonic milliseconds), so tests inject a
 * clock; nothing here touches the loop, timers or the network (request.c
 * runs the attempts). Model-name resolution and the cache of derived
 * deployments are in resolve.h. */
#ifndef LLMUX_ROUTER_H
#define LLMUX_ROUTER_H

#include "resolve.h"
#include "window.h"

#include <stddef.h>
#include <stdint.h>

struct config;
struct deployment;
struct router_settings;

#define ROUTER_MAX_GROUP 64     /* deployments considered per model group */
#define ROUTER_MAX_CHAIN 16     /* fallback groups kept per request */

/* What the router remembers about one deployment. For a configured
 * deployment it lives in struct router under the deployment's key
 * (deployment.h), not in the deployment, so a reload keeps it for every
 * deployment that did not change. A derived deployment holds its own,
 * reference-counted (deployment.h's st), which the router's cache hands
 * on to the deployment derived again after a reload. */
struct rstat {
    char     *key;          /* owned; NULL for a derived deployment's */
    unsigned  refs;         /* derived deployments' only */
    unsigned  inflight;     /* attempts running now */
    double    latency_ms;   /* moving average, < 0 = no sample yet */
    struct window win;      /* attempts started and tokens used in the
                             * last 60 s: rpm, tpm, usage-based routing */
    uint64_t  minute;       /* now_ms / 60000 'fails' is for */
    unsigned  fails;        /* failures counted this clock minute
                             * (allowed_fails, as LiteLLM) */
    uint64_t  cool_until;   /* ms; benched while now < cool_until */
};

struct router {
    struct rstat **st;      /* owned, sorted by key: configured ones */
    size_t         n, cap;
    uint64_t       rng;     /* splitmix64 state, seeded per server */
    struct rcache  cache;   /* derived deployments (resolve.h) */
    /* Names of derived deployments already said to have no price
     * (resolve.c), as hashes, so each is said once however often it is
     * derived again (eviction, reloads); when full, no more are said. */
    uint64_t       unpriced[RESOLVE_UNPRICED_MAX];
    size_t         nunpriced;
};

void router_init(struct router *r, uint64_t seed);
void router_free(struct router *r);
/* The statistics of key, created on first use; NULL when out of memory. */
struct rstat *router_stat(struct router *r, const char *key);
/* The statistics of key if it has any, never creating them (status). */
const struct rstat *router_find(const struct router *r, const char *key);
/* The statistics of a deployment, configured or derived: its own st, else
 * router_stat / router_find of its key. */
struct rstat *router_dstat(struct router *r, const struct deployment *d);
const struct rstat *router_dfind(const struct router *r,
                                 const struct deployment *d);
/* A derived deployment's statistics: new (refs = 1), another reference,
 * or one dropped (accepts NULL). */
struct rstat *router_stat_new(void);
struct rstat *router_stat_ref(struct rstat *s);
void router_stat_unref(struct rstat *s);
/* After a reload to cfg: forgets configured deployments that are gone
 * from cfg and idle, and derives the cache's entries again from cfg
 * (resolve_reload), keeping the statistics of unchanged ones. */
void router_prune(struct router *r, const struct config *cfg);
/* Uniform in [0, 1). */
double router_random(struct router *r);

/* Picks one of the n deployments of a model group (tried[i] != 0 for
 * those this request already tried: others are preferred while any is
 * healthy). Benched deployments are skipped, and so are deployments
 * whose rpm or tpm is used up in the last 60 s (whatever the strategy).
 * Lower order tiers first. Returns the index, or LLMUX_ERATELIMIT with
 * *ret_retry_after = seconds until the first deployment can serve again
 * (its cooldown ends or its window frees). */
int router_pick(struct router *r, const struct router_settings *rs,
                struct deployment *const *group, size_t n,
                const unsigned char *tried, uint64_t now_ms,
                double *ret_retry_after);

/* How many deployments of the group are neither benched nor tried: a
 * retry that can go to one of them need not wait (LiteLLM does the same). */
size_t router_untried(struct router *r, struct deployment *const *group,
                      size_t n, const unsigned char *tried, uint64_t now_ms);

/* An attempt on s starts / ends. Every begin is paired with exactly one
 * of the three ends. */
void router_begin(struct rstat *s, uint64_t now_ms);
void router_end_ok(struct rstat *s, uint64_t now_ms, double latency_ms,
                   uint64_t tokens);
/* A failed attempt: counts it, and benches the deployment (cooldown) on
 * 429/401/404 at once, else after allowed_fails failures in a minute — not
 * when it is the only deployment of its group (group_size), as LiteLLM.
 * Returns the seconds benched, 0 when not benched. */
double router_end_fail(const struct router_settings *rs, struct rstat *s,
                       const struct deployment *d, size_t group_size,
                       int code, double retry_after, uint64_t now_ms);
/* Cancelled by the caller: no statistics. */
void router_end_abort(struct rstat *s);

/* LiteLLM's error class (enum err_class) of an error code, or -1. */
int router_err_class(int code);
/* How many retries one model group gets for an error code: retry_policy
 * for its class when set; else, for rate_limit, timeout,
 * upstream_unavailable and api_connection, req_retries (>= 0: the
 * request's num_retries), else the deployment's max_retries, else
 * num_retries; 0 for every other error. */
int router_retries(const struct router_settings *rs,
                   const struct deployment *d, int code, int req_retries);
/* Seconds to wait before retry number n (1-based): the upstream's hint
 * (Retry-After) when it is given and at most 60 s, else exponential
 * backoff 0.5 s * 2^(n-1), capped at 8 s, less up to 25 % jitter (u is
 * uniform in [0,1)); never below router_settings.retry_after. */
double router_backoff(const struct router_settings *rs, unsigned n,
                      double hint, double u);

/* Per-request fallback settings from the body (borrowed strings). */
struct fallback_override {
    const char *const *general;   /* "fallbacks", NULL = config's */
    size_t             ngeneral;
    const char *const *context;   /* "context_window_fallbacks" */
    size_t             ncontext;
    int                disabled;  /* "disable_fallbacks": true */
};

/* The model groups to try, in order, after group failed with code:
 * context_window_fallbacks only for context_window_exceeded and
 * content_policy_fallbacks only for content_policy (where such a list is
 * set at all; else those errors take the general ones, as in LiteLLM),
 * else fallbacks (the group's rule, then a "*" rule), else
 * default_fallbacks. None for
 * bad_request and cancelled. At most max_fallbacks (and max) names,
 * group itself and duplicates left out; borrowed from rs or ov. */
size_t router_fallbacks(const struct router_settings *rs,
                        const struct fallback_override *ov,
                        const char *group, int code, const char **out,
                        size_t max);

#endif
