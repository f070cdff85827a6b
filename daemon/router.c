/* router.c -- routing strategies, cooldowns, retry policy, backoff and
 * fallback chains (see router.h). Decisions only: the caller passes the
 * time and acts on the answers. */
#include "router.h"
#include "config.h"
#include "llmux-errno.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MINUTE_MS      60000u
#define LATENCY_ALPHA  0.3      /* weight of a new sample in the average */
#define MAX_HINT_S     60.0     /* longer Retry-After: back off ourselves */
#define MAX_BENCH_S    3600.0   /* cap on a Retry-After-driven cooldown */

/* ---- statistics --------------------------------------------------------- */

void router_init(struct router *r, uint64_t seed)
{
    memset(r, 0, sizeof(*r));
    r->rng = seed;
    rcache_init(&r->cache, RESOLVE_CACHE_MAX);
}

void router_free(struct router *r)
{
    rcache_free(&r->cache);
    for (size_t i = 0; i < r->n; i++) {
        free(r->st[i]->key);
        free(r->st[i]);
    }
    free(r->st);
    memset(r, 0, sizeof(*r));
}

/* Index of key in the sorted array, or where it would go (*found = 0). */
static size_t stat_find(const struct router *r, const char *key, int *found)
{
    size_t lo = 0, hi = r->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->st[mid]->key, key);

        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

const struct rstat *router_find(const struct router *r, const char *key)
{
    int found;
    size_t i = stat_find(r, key, &found);

    return found ? r->st[i] : NULL;
}

struct rstat *router_stat(struct router *r, const char *key)
{
    struct rstat *s;
    int found;
    size_t i = stat_find(r, key, &found);

    if (found)
        return r->st[i];
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        struct rstat **p = realloc(r->st, cap * sizeof(*p));

        if (p == NULL)
            return NULL;
        r->st = p;
        r->cap = cap;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    if ((s->key = strdup(key)) == NULL) {
        free(s);
        return NULL;
    }
    s->latency_ms = -1;
    memmove(&r->st[i + 1], &r->st[i], (r->n - i) * sizeof(*r->st));
    r->st[i] = s;
    r->n++;
    return s;
}

struct rstat *router_stat_new(void)
{
    struct rstat *s = calloc(1, sizeof(*s));

    if (s) {
        s->refs = 1;
        s->latency_ms = -1;
    }
    return s;
}

struct rstat *router_stat_ref(struct rstat *s)
{
    s->refs++;
    return s;
}

void router_stat_unref(struct rstat *s)
{
    if (s && --s->refs == 0) {
        free(s->key);
        free(s);
    }
}

struct rstat *router_dstat(struct router *r, const struct deployment *d)
{
    return d->st ? d->st : router_stat(r, d->key ? d->key : d->id);
}

const struct rstat *router_dfind(const struct router *r,
                                 const struct deployment *d)
{
    return d->st ? d->st : router_find(r, d->key ? d->key : d->id);
}

static int key_in(struct deployment *const *list, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (list[i]->key && strcmp(list[i]->key, key) == 0)
            return 1;
    return 0;
}

void router_prune(struct router *r, const struct config *cfg)
{
    size_t keep = 0;

    for (size_t i = 0; i < r->n; i++) {
        struct rstat *s = r->st[i];

        /* A request of the old config still running keeps its entry;
         * the next reload takes it. Derived (wildcard, implicit)
         * deployments hold their own (resolve_reload below). */
        if (s->inflight > 0 || key_in(cfg->deps, cfg->ndeps, s->key)) {
            r->st[keep++] = s;
            continue;
        }
        free(s->key);
        free(s);
    }
    r->n = keep;
    resolve_reload(r, cfg);
}

/* splitmix64: small, fast, good enough for load balancing, and seeded per
 * server so no two daemons (or tests) share a sequence by accident. */
double router_random(struct router *r)
{
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* Failures are counted per clock minute, as LiteLLM's allowed_fails;
 * requests and tokens are in the sliding window (window.h). */
static void roll_minute(struct rstat *s, uint64_t now_ms)
{
    uint64_t m = now_ms / MINUTE_MS;

    if (s->minute != m) {
        s->minute = m;
        s->fails = 0;
    }
}

void router_begin(struct rstat *s, uint64_t now_ms)
{
    if (s == NULL)
        return;
    s->inflight++;
    window_add(&s->win, now_ms / 1000, 1, 0);
}

static void end(struct rstat *s)
{
    if (s->inflight > 0)
        s->inflight--;
}

static void add_latency(struct rstat *s, double ms)
{
    if (ms < 0)
        return;
    s->latency_ms = s->latency_ms < 0 ? ms :
                    (1 - LATENCY_ALPHA) * s->latency_ms + LATENCY_ALPHA * ms;
}

void router_end_ok(struct rstat *s, uint64_t now_ms, double latency_ms,
                   uint64_t tokens)
{
    if (s == NULL)
        return;
    end(s);
    window_add(&s->win, now_ms / 1000, 0, tokens);
    add_latency(s, latency_ms);
}

void router_end_abort(struct rstat *s)
{
    if (s)
        end(s);
}

int router_err_class(int code)
{
    switch (code) {
    case LLMUX_EBADREQ:
    case LLMUX_ECONTEXT:    return ECLASS_BAD_REQUEST;
    case LLMUX_EAUTH:       return ECLASS_AUTH;
    case LLMUX_ETIMEOUT:    return ECLASS_TIMEOUT;
    case LLMUX_ERATELIMIT:  return ECLASS_RATE_LIMIT;
    case LLMUX_EPOLICY:     return ECLASS_CONTENT_POLICY;
    case LLMUX_EUNAVAIL:
    case LLMUX_ECONN:       return ECLASS_INTERNAL;
    }
    return -1;
}

/* Errors that say something about the deployment, not the request. */
static int counts_against(int code)
{
    switch (code) {
    case LLMUX_ERATELIMIT: case LLMUX_EAUTH: case LLMUX_ENOTFOUND:
    case LLMUX_EPERMISSION: case LLMUX_ETIMEOUT: case LLMUX_EUNAVAIL:
    case LLMUX_ECONN:
        return 1;
    }
    return 0;
}

double router_end_fail(const struct router_settings *rs, struct rstat *s,
                       const struct deployment *d, size_t group_size,
                       int code, double retry_after, uint64_t now_ms)
{
    int cls = router_err_class(code), allowed = rs->allowed_fails;
    int at_once = code == LLMUX_ERATELIMIT || code == LLMUX_EAUTH ||
                  code == LLMUX_ENOTFOUND;
    double secs;

    if (s == NULL)
        return 0;
    end(s);
    roll_minute(s, now_ms);
    if (code == LLMUX_ETIMEOUT)
        add_latency(s, rs->timeout > 0 ? rs->timeout * 1000 : 600000);
    if (!counts_against(code))
        return 0;
    s->fails++;
    /* With one deployment a bench would only turn every request into a
     * rate_limit error; LiteLLM does not cool down a lone deployment. */
    if (rs->disable_cooldowns || group_size <= 1)
        return 0;
    if (cls >= 0 && rs->allowed_fails_policy[cls] >= 0) {
        allowed = rs->allowed_fails_policy[cls];
        at_once = 0;
    }
    if (!at_once && s->fails <= (unsigned)allowed)
        return 0;
    secs = d && d->cooldown_time >= 0 ? d->cooldown_time : rs->cooldown_time;
    if (code == LLMUX_ERATELIMIT && retry_after > secs)
        secs = retry_after < MAX_BENCH_S ? retry_after : MAX_BENCH_S;
    if (secs <= 0)
        return 0;
    s->cool_until = now_ms + (uint64_t)(secs * 1000);
    s->fails = 0;
    return secs;
}

/* ---- retries ------------------------------------------------------------ */

static int retried_by_default(int code)
{
    return code == LLMUX_ERATELIMIT || code == LLMUX_ETIMEOUT ||
           code == LLMUX_EUNAVAIL || code == LLMUX_ECONN;
}

int router_retries(const struct router_settings *rs,
                   const struct deployment *d, int code, int req_retries)
{
    int cls = router_err_class(code);

    if (cls >= 0 && rs->retry_policy[cls] >= 0)
        return rs->retry_policy[cls];
    if (!retried_by_default(code))
        return 0;
    if (req_retries >= 0)
        return req_retries;
    if (d && d->max_retries >= 0)
        return d->max_retries;
    return rs->num_retries;
}

double router_backoff(const struct router_settings *rs, unsigned n,
                      double hint, double u)
{
    double d;

    if (hint >= 0 && hint <= MAX_HINT_S) {
        d = hint;
    } else {
        /* The OpenAI SDK's schedule, which LiteLLM uses too. */
        d = 0.5 * ldexp(1.0, n > 0 ? (int)(n < 16 ? n - 1 : 15) : 0);
        if (d > 8.0)
            d = 8.0;
        d *= 1.0 - 0.25 * u;
    }
    if (d < rs->retry_after)
        d = rs->retry_after;
    return d;
}

/* ---- choosing ----------------------------------------------------------- */

static int benched(const struct rstat *s, uint64_t now_ms)
{
    return s && s->cool_until > now_ms;
}

/* A deployment that used its rpm or tpm in the last 60 s: 0, or the
 * monotonic ms when its window has freed enough for both. */
static uint64_t over_limit(const struct deployment *d, struct rstat *s,
                           uint64_t now_ms)
{
    uint64_t sec = now_ms / 1000, rpm, tpm;
    double wait = 0, t;

    if (s == NULL || (d->rpm <= 0 && d->tpm <= 0))
        return 0;
    rpm = d->rpm > 0 ? (uint64_t)d->rpm : 0;
    tpm = d->tpm > 0 ? (uint64_t)d->tpm : 0;
    if (rpm && window_requests(&s->win, sec) >= rpm)
        wait = window_retry(&s->win, sec, 0, rpm);
    if (tpm && window_tokens(&s->win, sec) >= tpm &&
        (t = window_retry(&s->win, sec, 1, tpm)) > wait)
        wait = t;
    /* The bucket of second sec + wait - WINDOW_SECS leaves at the start
     * of second sec + wait. */
    return wait > 0 ? (sec + (uint64_t)wait) * 1000 : 0;
}

/* Uniform choice among the candidates whose score equals best (within
 * tol), by reservoir sampling, so ties spread the load. */
static int pick_min(struct router *r, const double *score, const size_t *cand,
                    size_t nc, double tol)
{
    double best = INFINITY;
    size_t seen = 0;
    int pick = -1;

    for (size_t i = 0; i < nc; i++)
        if (score[i] < best)
            best = score[i];
    for (size_t i = 0; i < nc; i++) {
        if (!(score[i] <= best + tol) && !(isinf(best) && isinf(score[i])))
            continue;
        if (router_random(r) * (double)++seen < 1.0)
            pick = (int)cand[i];
    }
    return pick;
}

/* simple-shuffle: by weight if any is set, else rpm, else tpm, else
 * uniform. A deployment without the field LiteLLM weighs by counts as 1
 * (weight) or as the mean of the others (rpm/tpm). */
static int pick_shuffle(struct router *r, struct deployment *const *group,
                        const size_t *cand, size_t nc)
{
    double w[ROUTER_MAX_GROUP], total = 0, x;
    int any_w = 0, any_r = 0, any_t = 0, by;

    for (size_t i = 0; i < nc; i++) {
        any_w |= group[cand[i]]->weight > 0;
        any_r |= group[cand[i]]->rpm > 0;
        any_t |= group[cand[i]]->tpm > 0;
    }
    by = any_w ? 1 : any_r ? 2 : any_t ? 3 : 0;  /* 0: uniform */
    for (size_t i = 0; i < nc; i++) {
        const struct deployment *d = group[cand[i]];

        w[i] = by == 1 ? (d->weight > 0 ? d->weight : 1) :
               by == 2 ? d->rpm : by == 3 ? d->tpm : 1;
    }
    if (by >= 2) {
        double sum = 0;
        size_t k = 0;

        for (size_t i = 0; i < nc; i++)
            if (w[i] > 0) {
                sum += w[i];
                k++;
            }
        for (size_t i = 0; i < nc; i++)
            if (w[i] <= 0)
                w[i] = sum / (double)k;
    }
    for (size_t i = 0; i < nc; i++)
        total += w[i];
    x = router_random(r) * total;
    for (size_t i = 0; i < nc; i++) {
        if (x < w[i])
            return (int)cand[i];
        x -= w[i];
    }
    return (int)cand[nc - 1];   /* rounding at the top end */
}

/* LiteLLM's lowest-cost score: input + output per token, from the
 * effective price (the table's row under the deployment's own). */
static double price(const struct deployment *d)
{
    const struct price *p = &d->price;

    if (p->input < 0 && p->output < 0)
        return INFINITY;        /* unknown prices go last */
    return (p->input > 0 ? p->input : 0) + (p->output > 0 ? p->output : 0);
}

static int pick_by(struct router *r, const struct router_settings *rs,
                   struct deployment *const *group, struct rstat **st,
                   const size_t *cand, size_t nc, uint64_t now_ms)
{
    double score[ROUTER_MAX_GROUP], tol = 0;

    for (size_t i = 0; i < nc; i++) {
        struct rstat *s = st[cand[i]];

        switch (rs->strategy) {
        case ROUTE_LEAST_BUSY:
            score[i] = s ? (double)s->inflight : 0;
            break;
        case ROUTE_LATENCY:
            /* No sample yet: try it first, as LiteLLM does. */
            score[i] = s && s->latency_ms >= 0 ? s->latency_ms : 0;
            break;
        case ROUTE_USAGE:
            score[i] = s ? (double)window_tokens(&s->win, now_ms / 1000)
                         : 0;
            break;
        case ROUTE_COST:
            score[i] = price(group[cand[i]]);
            break;
        default:
            return pick_shuffle(r, group, cand, nc);
        }
    }
    if (rs->strategy == ROUTE_LATENCY) {
        double best = INFINITY;

        for (size_t i = 0; i < nc; i++)
            if (score[i] < best)
                best = score[i];
        tol = best * rs->latency_buffer;
    }
    return pick_min(r, score, cand, nc, tol);
}

int router_pick(struct router *r, const struct router_settings *rs,
                struct deployment *const *group, size_t n,
                const unsigned char *tried, uint64_t now_ms,
                double *ret_retry_after)
{
    struct rstat *st[ROUTER_MAX_GROUP];
    size_t cand[ROUTER_MAX_GROUP], nc = 0, fresh = 0;
    uint64_t back = UINT64_MAX, free_at;
    int tier = INT_MAX;

    if (n > ROUTER_MAX_GROUP)
        n = ROUTER_MAX_GROUP;
    for (size_t i = 0; i < n; i++) {
        st[i] = router_dstat(r, group[i]);
        if (benched(st[i], now_ms)) {
            if (st[i]->cool_until < back)
                back = st[i]->cool_until;
            continue;
        }
        if ((free_at = over_limit(group[i], st[i], now_ms)) != 0) {
            if (free_at < back)
                back = free_at;
            continue;
        }
        cand[nc++] = i;
        fresh += !(tried && tried[i]);
    }
    if (nc == 0) {
        *ret_retry_after = back == UINT64_MAX ? 1 :
                           (double)(back - now_ms) / 1000.0;
        return LLMUX_ERATELIMIT;
    }
    /* A retry goes to a deployment this request has not tried, while one
     * is healthy. */
    if (fresh > 0 && fresh < nc) {
        size_t k = 0;

        for (size_t i = 0; i < nc; i++)
            if (!tried[cand[i]])
                cand[k++] = cand[i];
        nc = k;
    }
    /* order: the lowest tier with a healthy deployment; unset = last. */
    for (size_t i = 0; i < nc; i++) {
        int o = group[cand[i]]->order > 0 ? group[cand[i]]->order : INT_MAX;

        if (o < tier)
            tier = o;
    }
    {
        size_t k = 0;

        for (size_t i = 0; i < nc; i++) {
            int o = group[cand[i]]->order > 0 ? group[cand[i]]->order :
                    INT_MAX;

            if (o == tier)
                cand[k++] = cand[i];
        }
        nc = k;
    }
    return pick_by(r, rs, group, st, cand, nc, now_ms);
}

size_t router_untried(struct router *r, struct deployment *const *group,
                      size_t n, const unsigned char *tried, uint64_t now_ms)
{
    size_t k = 0;

    for (size_t i = 0; i < n && i < ROUTER_MAX_GROUP; i++) {
        const struct rstat *s = router_dstat(r, group[i]);

        k += !(tried && tried[i]) && !benched(s, now_ms);
    }
    return k;
}

/* ---- fallbacks ---------------------------------------------------------- */

/* Appends names not yet in out (nor the failed group itself). */
static size_t add_names(const char *const *names, size_t n, const char *group,
                        const char **out, size_t k, size_t max)
{
    for (size_t i = 0; i < n && k < max; i++) {
        size_t j;

        if (strcmp(names[i], group) == 0)
            continue;
        for (j = 0; j < k; j++)
            if (strcmp(out[j], names[i]) == 0)
                break;
        if (j == k)
            out[k++] = names[i];
    }
    return k;
}

/* The rule for group in list, else the "*" rule. */
static const struct fallback_rule *rule_for(const struct fallback_list *l,
                                            const char *group)
{
    const struct fallback_rule *star = NULL;

    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->r[i].group, group) == 0)
            return &l->r[i];
        if (strcmp(l->r[i].group, "*") == 0 && star == NULL)
            star = &l->r[i];
    }
    return star;
}

size_t router_fallbacks(const struct router_settings *rs,
                        const struct fallback_override *ov,
                        const char *group, int code, const char **out,
                        size_t max)
{
    const struct fallback_rule *rule;

    if ((size_t)rs->max_fallbacks < max)
        max = (size_t)rs->max_fallbacks;
    if ((ov && ov->disabled) || max == 0)
        return 0;
    switch (code) {
    case LLMUX_EBADREQ: case LLMUX_ECANCELLED: case LLMUX_EBUDGET:
        return 0;     /* the request itself is at fault */
    /* LiteLLM's router (async_function_with_fallbacks): once its own
     * list is set, the error goes to that list only (nothing when the
     * group has no rule there); unset, "defaulting to fallbacks". */
    case LLMUX_ECONTEXT:
        if (ov && ov->context)
            return add_names(ov->context, ov->ncontext, group, out, 0, max);
        if (rs->context_fallbacks.n == 0)
            break;
        rule = rule_for(&rs->context_fallbacks, group);
        return rule ? add_names((const char *const *)rule->to, rule->nto,
                                group, out, 0, max) : 0;
    case LLMUX_EPOLICY:
        if (rs->policy_fallbacks.n == 0)
            break;
        rule = rule_for(&rs->policy_fallbacks, group);
        return rule ? add_names((const char *const *)rule->to, rule->nto,
                                group, out, 0, max) : 0;
    }
    if (ov && ov->general)
        return add_names(ov->general, ov->ngeneral, group, out, 0, max);
    if ((rule = rule_for(&rs->fallbacks, group)) != NULL)
        return add_names((const char *const *)rule->to, rule->nto, group,
                         out, 0, max);
    return add_names((const char *const *)rs->default_fallbacks,
                     rs->ndefault_fallbacks, group, out, 0, max);
}
