/* metrics.c -- counters, histograms and deployment health, rendered in
 * the Prometheus text exposition format 0.0.4 (see metrics.h). */
#include "metrics.h"
#include "buf.h"
#include "llmux-errno.h"
#include "ops.h"
#include "server.h"
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Error types, from the one error table so they cannot drift. Several
 * codes share a type (bad_request…); a type counts at its first index. */
static const char *const types[] = {
#define XX(name, code, type, status, exit, msg) type,
    LLMUX_ERRNO_MAP(XX)
#undef XX
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

/* Bucket bounds: whole requests take milliseconds to minutes; llmuxd's
 * own share should take microseconds. */
struct bound { uint64_t us; const char *le; };
static const struct bound latency_bounds[] = {
    { 5000, "0.005" }, { 10000, "0.01" }, { 25000, "0.025" },
    { 50000, "0.05" }, { 100000, "0.1" }, { 250000, "0.25" },
    { 500000, "0.5" }, { 1000000, "1" }, { 2500000, "2.5" },
    { 5000000, "5" }, { 10000000, "10" }, { 30000000, "30" },
    { 60000000, "60" }, { 120000000, "120" }, { 300000000, "300" },
};
static const struct bound overhead_bounds[] = {
    { 10, "0.00001" }, { 25, "0.000025" }, { 50, "0.00005" },
    { 100, "0.0001" }, { 250, "0.00025" }, { 500, "0.0005" },
    { 1000, "0.001" }, { 2500, "0.0025" }, { 5000, "0.005" },
    { 10000, "0.01" }, { 25000, "0.025" }, { 50000, "0.05" },
    { 100000, "0.1" },
};
#define NLAT (sizeof(latency_bounds) / sizeof(latency_bounds[0]))
#define NOVH (sizeof(overhead_bounds) / sizeof(overhead_bounds[0]))

struct hist {
    uint64_t count, sum_us;
    uint64_t bucket[NLAT > NOVH ? NLAT : NOVH];  /* not cumulative */
};

struct metrics_series {
    char    *group, *deployment, *provider;   /* owned label values */
    uint64_t requests;
    uint64_t errors[NTYPES];
    uint64_t prompt_tokens, completion_tokens;
    double   spend;                           /* USD */
    struct hist latency, overhead;
    /* health */
    uint64_t consecutive_failures;
    int      last_error;                      /* index in types, -1 */
    uint64_t last_ok_ns, last_error_ns;       /* uv_hrtime, 0 = never */
};

/* Spend and tokens of one payer (metrics.h, METRICS_MAX_WHO). */
struct metrics_who {
    int      caller;                          /* 0: key_alias, 1: caller */
    char    *name;                            /* owned label value */
    uint32_t hash;
    double   spend;
    uint64_t prompt_tokens, completion_tokens;
};

void metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
}

void metrics_free(struct metrics *m)
{
    for (size_t i = 0; i < m->nwho; i++) {
        free(m->who[i]->name);
        free(m->who[i]);
    }
    free(m->who);
    for (size_t i = 0; i < m->n; i++) {
        free(m->series[i]->group);
        free(m->series[i]->deployment);
        free(m->series[i]->provider);
        free(m->series[i]);
    }
    free(m->series);
    memset(m, 0, sizeof(*m));
}

static int type_index(const char *t, size_t n)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (strlen(types[i]) == n && memcmp(types[i], t, n) == 0)
            return (int)i;
    return -1;
}

/* Failures that say something about the deployment, not the caller. */
static int is_upstream_failure(const char *type)
{
    static const char *const bad[] = { "authentication", "rate_limit",
        "timeout", "upstream_unavailable", "api_connection" };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (strcmp(type, bad[i]) == 0)
            return 1;
    return 0;
}

static struct metrics_series *find(const struct metrics *m, const char *g,
                                   const char *d, const char *p)
{
    for (size_t i = 0; i < m->n; i++) {
        struct metrics_series *x = m->series[i];

        if (strcmp(x->deployment, d) == 0 && strcmp(x->group, g) == 0 &&
            strcmp(x->provider, p) == 0)
            return x;
    }
    return NULL;
}

static struct metrics_series *add(struct metrics *m, const char *g,
                                  const char *d, const char *p)
{
    struct metrics_series *x, **grown;

    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;

        if ((grown = realloc(m->series, cap * sizeof(*grown))) == NULL)
            return NULL;
        m->series = grown;
        m->cap = cap;
    }
    if ((x = calloc(1, sizeof(*x))) == NULL)
        return NULL;
    x->group = strdup(g);
    x->deployment = strdup(d);
    x->provider = strdup(p);
    x->last_error = -1;
    if (!x->group || !x->deployment || !x->provider) {
        free(x->group);
        free(x->deployment);
        free(x->provider);
        free(x);
        return NULL;
    }
    m->series[m->n++] = x;
    return x;
}

static struct metrics_series *series_for(struct metrics *m, const char *g,
                                         const char *d, const char *p)
{
    struct metrics_series *x = find(m, g, d, p);

    if (x)
        return x;
    if (m->n >= METRICS_MAX_SERIES - 1) {
        /* The last slot is the shared overflow series. */
        g = d = p = "_other";
        if ((x = find(m, g, d, p)) != NULL)
            return x;
    }
    return add(m, g, d, p);
}

static void observe(struct hist *h, const struct bound *b, size_t nb,
                    uint64_t us)
{
    size_t i = 0;

    while (i < nb && us > b[i].us)
        i++;
    if (i < nb)
        h->bucket[i]++;
    h->count++;
    h->sum_us += us;
}

static const char *const frontends[] = METRICS_FRONTENDS;

static void count_frontend(struct metrics *m, const char *fe)
{
    for (size_t i = 0; fe && i < METRICS_NFRONTENDS; i++)
        if (strcmp(fe, frontends[i]) == 0)
            m->by_frontend[i]++;
}

/* FNV-1a over the kind and the name. */
static uint32_t who_hash(int caller, const char *name)
{
    uint32_t h = 2166136261u ^ (uint32_t)caller;

    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static struct metrics_who *who_add(struct metrics *m, int caller,
                                   const char *name, uint32_t h, size_t slot)
{
    struct metrics_who *w;

    if (m->who == NULL &&
        (m->who = calloc(METRICS_MAX_WHO, sizeof(*m->who))) == NULL)
        return NULL;
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return NULL;
    if ((w->name = strdup(name)) == NULL) {
        free(w);
        return NULL;
    }
    w->caller = caller;
    w->hash = h;
    m->who[m->nwho++] = w;
    m->who_slot[slot] = w;
    return w;
}

/* The payer's entry, made on first use; the last one free is "_other". */
static struct metrics_who *who_for(struct metrics *m, int caller,
                                   const char *name)
{
    uint32_t h = who_hash(caller, name);
    size_t i = h & (METRICS_WHO_SLOTS - 1);
    struct metrics_who *w;

    /* At most METRICS_MAX_WHO of the slots are used: a free one ends
     * every probe. */
    while ((w = m->who_slot[i]) != NULL) {
        if (w->hash == h && w->caller == caller && strcmp(w->name, name) == 0)
            return w;
        i = (i + 1) & (METRICS_WHO_SLOTS - 1);
    }
    if (m->nwho < METRICS_MAX_WHO - 2)  /* two left: each kind's _other */
        return who_add(m, caller, name, h, i);
    if (strcmp(name, "_other") == 0)
        return m->nwho < METRICS_MAX_WHO ? who_add(m, caller, name, h, i)
                                         : NULL;
    return who_for(m, caller, "_other");
}

static void count_who(struct metrics *m, const struct metrics_sample *smp)
{
    struct metrics_who *w;

    if (smp->key_alias)
        w = who_for(m, 0, smp->key_alias);
    else if (smp->caller)
        w = who_for(m, 1, smp->caller);
    else
        return;
    if (w == NULL)
        return;
    w->spend += smp->cost;
    w->prompt_tokens += smp->prompt_tokens;
    w->completion_tokens += smp->completion_tokens;
}

void metrics_record(struct metrics *m, const struct metrics_sample *smp)
{
    struct metrics_series *x;
    size_t n = strcspn(smp->outcome, "/");
    int t;

    count_frontend(m, smp->frontend);
    count_who(m, smp);
    x = series_for(m, smp->group, smp->deployment, smp->provider);
    if (x == NULL)
        return;  /* out of memory: a lost sample, not a lost request */
    x->requests++;
    x->prompt_tokens += smp->prompt_tokens;
    x->completion_tokens += smp->completion_tokens;
    x->spend += smp->cost;
    observe(&x->latency, latency_bounds, NLAT, smp->latency_us);
    observe(&x->overhead, overhead_bounds, NOVH, smp->overhead_us);
    if (n == 2 && memcmp(smp->outcome, "ok", 2) == 0) {
        x->consecutive_failures = 0;
        x->last_ok_ns = uv_hrtime();
        return;
    }
    if ((t = type_index(smp->outcome, n)) < 0)
        t = type_index("internal", 8);
    x->errors[t]++;
    if (is_upstream_failure(types[t])) {
        x->consecutive_failures++;
        x->last_error = t;
        x->last_error_ns = uv_hrtime();
    }
}

void metrics_health(const struct metrics *m, const char *group,
                    const char *deployment, const char *provider,
                    struct metrics_health *ret)
{
    const struct metrics_series *x = find(m, group, deployment, provider);
    uint64_t now = uv_hrtime();

    memset(ret, 0, sizeof(*ret));
    ret->state = "unknown";
    ret->last_error_age_s = ret->last_ok_age_s = -1;
    if (x == NULL)
        return;
    ret->requests = x->requests;
    for (size_t i = 0; i < NTYPES; i++)
        ret->errors += x->errors[i];
    ret->consecutive_failures = x->consecutive_failures;
    if (x->last_error >= 0) {
        ret->last_error = types[x->last_error];
        ret->last_error_age_s = (double)(now - x->last_error_ns) / 1e9;
    }
    if (x->last_ok_ns)
        ret->last_ok_age_s = (double)(now - x->last_ok_ns) / 1e9;
    if (x->consecutive_failures)
        ret->state = "failing";
    else if (x->last_ok_ns)
        ret->state = "ok";
}

/* ---- exposition ----------------------------------------------------------- */

/* The text being built; err remembers the first failed append so that a
 * torn text is never served. */
struct out {
    struct buf b;
    int        err;
};

/* Once an append failed (the cap, or memory) nothing more is added: the
 * text is thrown away, so the rest of the work would be wasted. */
static void outn(struct out *o, const char *p, size_t n)
{
    int r;

    if (o->err)
        return;
    if ((r = buf_add(&o->b, p, n)) < 0)
        o->err = r;
}

static void outs(struct out *o, const char *s)
{
    outn(o, s, strlen(s));
}

static void outf(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void outf(struct out *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    if (o->err)
        return;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        o->err = LLMUX_EINTERNAL;
        return;
    }
    outn(o, tmp, (size_t)n);
}

/* A label value: backslash, double quote and newline escaped. Runs of
 * plain bytes go in one append, so a label costs its length, not a call
 * per byte. */
static void add_label(struct out *b, const char *name, const char *v)
{
    outs(b, name);
    outs(b, "=\"");
    while (*v && !b->err) {
        size_t run = strcspn(v, "\\\"\n");

        outn(b, v, run);
        v += run;
        if (*v == '\n')
            outs(b, "\\n");
        else if (*v)
            outn(b, (const char[]){ '\\', *v }, 2);
        if (*v)
            v++;
    }
    outs(b, "\"");
}

static void add_labels(struct out *b, const struct metrics_series *x)
{
    add_label(b, "group", x->group);
    outs(b, ",");
    add_label(b, "deployment", x->deployment);
    outs(b, ",");
    add_label(b, "provider", x->provider);
}

static void header(struct out *b, const char *name, const char *type,
                   const char *help)
{
    outf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(struct out *b, const char *name, const char *type,
                  const char *help, uint64_t v)
{
    header(b, name, type, help);
    outf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void render_hist(struct out *b, const struct metrics *m,
                        const char *name, const char *help, int overhead)
{
    const struct bound *bd = overhead ? overhead_bounds : latency_bounds;
    size_t nb = overhead ? NOVH : NLAT;

    header(b, name, "histogram", help);
    for (size_t i = 0; i < m->n; i++) {
        const struct metrics_series *x = m->series[i];
        const struct hist *h = overhead ? &x->overhead : &x->latency;
        uint64_t cum = 0;

        for (size_t j = 0; j <= nb; j++) {
            cum += j < nb ? h->bucket[j] : 0;
            outf(b, "%s_bucket{", name);
            add_labels(b, x);
            outf(b, ",le=\"%s\"} %llu\n", j < nb ? bd[j].le : "+Inf",
                     (unsigned long long)(j < nb ? cum : h->count));
        }
        outf(b, "%s_sum{", name);
        add_labels(b, x);
        outf(b, "} %llu.%06llu\n%s_count{", (unsigned long long)
                 (h->sum_us / 1000000), (unsigned long long)
                 (h->sum_us % 1000000), name);
        add_labels(b, x);
        outf(b, "} %llu\n", (unsigned long long)h->count);
    }
}

/* The payers' lines of llmux_tokens_total (tokens) or
 * llmux_spend_usd_total. */
static void render_who(struct out *b, const struct metrics *m, int tokens)
{
    static const char *const kind[] = { "prompt", "completion" };

    for (size_t i = 0; i < m->nwho; i++) {
        const struct metrics_who *w = m->who[i];
        const char *label = w->caller ? "caller" : "key_alias";

        if (!tokens) {
            outs(b, "llmux_spend_usd_total{");
            add_label(b, label, w->name);
            outf(b, "} %.9f\n", w->spend);
            continue;
        }
        for (int k = 0; k < 2; k++) {
            outs(b, "llmux_tokens_total{");
            add_label(b, label, w->name);
            outf(b, ",kind=\"%s\"} %llu\n", kind[k], (unsigned long long)
                 (k ? w->completion_tokens : w->prompt_tokens));
        }
    }
}

static void render_series(struct out *b, const struct metrics *m)
{
    header(b, "llmux_requests_total", "counter", "Chat requests ended, by "
           "group, deployment and provider.");
    for (size_t i = 0; i < m->n; i++) {
        outs(b, "llmux_requests_total{");
        add_labels(b, m->series[i]);
        outf(b, "} %llu\n", (unsigned long long)m->series[i]->requests);
    }
    header(b, "llmux_errors_total", "counter", "Chat requests that ended "
           "in an error, by error type.");
    for (size_t i = 0; i < m->n; i++)
        for (size_t t = 0; t < NTYPES; t++) {
            if (m->series[i]->errors[t] == 0)
                continue;
            outs(b, "llmux_errors_total{");
            add_labels(b, m->series[i]);
            outf(b, ",type=\"%s\"} %llu\n", types[t],
                     (unsigned long long)m->series[i]->errors[t]);
        }
    header(b, "llmux_tokens_total", "counter", "Tokens the providers "
           "counted, by kind (prompt, completion): by group, deployment "
           "and provider; again by key_alias or caller (sum one of the "
           "three label sets, not all).");
    for (size_t i = 0; i < m->n; i++) {
        static const char *const kind[] = { "prompt", "completion" };

        for (int k = 0; k < 2; k++) {
            outs(b, "llmux_tokens_total{");
            add_labels(b, m->series[i]);
            outf(b, ",kind=\"%s\"} %llu\n", kind[k], (unsigned long long)
                     (k ? m->series[i]->completion_tokens :
                          m->series[i]->prompt_tokens));
        }
    }
    render_who(b, m, 1);
    header(b, "llmux_spend_usd_total", "counter", "USD spent, at the "
           "deployments' prices: by group, deployment and provider; again "
           "by key_alias or caller (sum one of the three label sets, not "
           "all).");
    for (size_t i = 0; i < m->n; i++) {
        outs(b, "llmux_spend_usd_total{");
        add_labels(b, m->series[i]);
        outf(b, "} %.9f\n", m->series[i]->spend);
    }
    render_who(b, m, 0);
    render_hist(b, m, "llmux_request_duration_seconds", "Time from the "
                "request frame to its terminal frame.", 0);
    render_hist(b, m, "llmux_overhead_seconds", "Time llmuxd itself added: "
                "the request duration minus the upstream transfer.", 1);
}

struct caller_out {
    struct out *b;
    int         remaining;  /* 0: spend lines, 1: remaining-budget lines */
};

static void caller_line(void *ud, uid_t uid, const char *label,
                        const struct spend_budget *bd)
{
    struct caller_out *co = ud;

    if (co->remaining && bd->max < 0)
        return;
    outs(co->b, co->remaining ? "llmux_caller_budget_remaining_usd{" :
         "llmux_caller_spend_usd{");
    add_label(co->b, "caller", label);
    outf(co->b, ",uid=\"%u\"} %.9f\n", (unsigned)uid,
         co->remaining ? bd->max - bd->spend : bd->spend);
}

/* Local callers without a key: each uid has its own budget under its
 * callers entry (label: the entry's user or group name, or "default";
 * uid: the kernel's, one per account that called). */
static void render_callers(struct out *b, const struct server *s)
{
    struct caller_out co = { .b = b };

    header(b, "llmux_caller_spend_usd", "gauge", "USD a local caller (by "
           "its llmux_settings.callers entry and uid) spent in its budget "
           "window.");
    limits_each_caller(&s->limits, caller_line, &co);
    header(b, "llmux_caller_budget_remaining_usd", "gauge", "USD left of a "
           "local caller's max_budget (its llmux_settings.callers entry).");
    co.remaining = 1;
    limits_each_caller(&s->limits, caller_line, &co);
}

/* The spend of each key and team in its budget window, and what is left
 * of each budget. Labels: the alias an admin gave (else the key's
 * "sk-...abcd" hint, else the team id), never the key. */
static void render_budgets(struct out *b, const struct server *s)
{
    const struct keys *k = &s->keys;

    header(b, "llmux_key_spend_usd", "gauge", "USD a virtual key spent in "
           "its budget window.");
    for (size_t i = 0; i < KEYS_BUCKETS; i++)
        for (const struct vkey *v = k->bucket[i]; v; v = v->next) {
            outs(b, "llmux_key_spend_usd{");
            add_label(b, "key_alias", v->alias ? v->alias : v->hint);
            outf(b, "} %.9f\n", v->pol.budget.spend);
        }
    header(b, "llmux_key_budget_remaining_usd", "gauge", "USD left of a "
           "virtual key's max_budget.");
    for (size_t i = 0; i < KEYS_BUCKETS; i++)
        for (const struct vkey *v = k->bucket[i]; v; v = v->next)
            if (v->pol.budget.max >= 0) {
                outs(b, "llmux_key_budget_remaining_usd{");
                add_label(b, "key_alias", v->alias ? v->alias : v->hint);
                outf(b, "} %.9f\n", v->pol.budget.max - v->pol.budget.spend);
            }
    header(b, "llmux_team_spend_usd", "gauge", "USD a team spent in its "
           "budget window.");
    for (const struct team *t = k->teams; t; t = t->next) {
        outs(b, "llmux_team_spend_usd{");
        add_label(b, "team", t->alias ? t->alias : t->id);
        outf(b, "} %.9f\n", t->pol.budget.spend);
    }
    header(b, "llmux_team_budget_remaining_usd", "gauge", "USD left of a "
           "team's max_budget.");
    for (const struct team *t = k->teams; t; t = t->next)
        if (t->pol.budget.max >= 0) {
            outs(b, "llmux_team_budget_remaining_usd{");
            add_label(b, "team", t->alias ? t->alias : t->id);
            outf(b, "} %.9f\n", t->pol.budget.max - t->pol.budget.spend);
        }
    render_callers(b, s);
    if (s->cfg->max_budget >= 0) {
        header(b, "llmux_budget_remaining_usd", "gauge", "USD left of "
               "litellm_settings.max_budget.");
        outf(b, "llmux_budget_remaining_usd %.9f\n",
             s->cfg->max_budget - s->limits.spend.spend);
    }
}

/* The response cache's counters (cache.h). */
static void render_cache(struct out *b, const struct server *s)
{
    struct cache_counts cc;

    cache_counts(&s->cache, s->cfg, &cc);
    gauge(b, "llmux_cache_hits_total", "counter", "Chat requests answered "
          "from the response cache.", cc.hits);
    gauge(b, "llmux_cache_misses_total", "counter", "Cache lookups that "
          "found nothing (a Redis that is down or slow counts here).",
          cc.misses);
    gauge(b, "llmux_cache_stores_total", "counter", "Answers written to "
          "the cache.", cc.stores);
    gauge(b, "llmux_cache_evictions_total", "counter", "Memory cache "
          "entries evicted to stay under max_bytes or max_size_in_memory.",
          cc.evictions);
    gauge(b, "llmux_cache_entries", "gauge", "Entries in the memory "
          "cache.", cc.entries);
    gauge(b, "llmux_cache_bytes", "gauge", "Bytes the memory cache's "
          "entries take.", cc.bytes);
    gauge(b, "llmux_cache_lookup_timeouts_total", "counter", "Redis "
          "lookups that ran past lookup_timeout_ms (answered as misses).",
          cc.lookup_timeouts);
    gauge(b, "llmux_cache_backend_errors_total", "counter", "Redis "
          "commands that failed (down, refused, error reply).",
          cc.backend_errors);
    gauge(b, "llmux_cache_backend_up", "gauge", "1 while the cache's "
          "Redis connection is up.", (uint64_t)cc.redis_up);
}

int metrics_render(const struct server *s, char **ret)
{
    const struct server_stats *st = &s->stats;
    struct out b = { .err = 0 };
    size_t len;

    *ret = NULL;
    buf_init(&b.b, METRICS_MAX_TEXT);
    header(&b, "llmux_build_info", "gauge", "The running llmuxd version.");
    outs(&b, "llmux_build_info{version=\"" LLMUX_DAEMON_VERSION "\"} 1\n");
    gauge(&b, "llmux_uptime_seconds", "gauge", "Seconds since llmuxd "
          "started.", (uv_hrtime() - s->started_ns) / 1000000000);
    gauge(&b, "llmux_inflight_requests", "gauge", "Chat requests in "
          "flight.", st->inflight);
    gauge(&b, "llmux_connections", "gauge", "Open client connections.",
          st->connections);
    gauge(&b, "llmux_connections_accepted_total", "counter", "Client "
          "connections accepted since start.", st->accepted);
    header(&b, "llmux_reloads_total", "counter", "Configuration reloads, "
           "by result.");
    outf(&b, "llmux_reloads_total{result=\"ok\"} %llu\n"
             "llmux_reloads_total{result=\"refused\"} %llu\n",
             (unsigned long long)st->reloads,
             (unsigned long long)st->reload_failures);
    header(&b, "llmux_frontend_requests_total", "counter", "Chat requests "
           "ended, by the front end they came through.");
    for (size_t i = 0; i < METRICS_NFRONTENDS; i++)
        outf(&b, "llmux_frontend_requests_total{frontend=\"%s\"} %llu\n",
             frontends[i], (unsigned long long)s->metrics.by_frontend[i]);
    render_series(&b, &s->metrics);
    render_budgets(&b, s);
    render_cache(&b, s);
    if (b.err) {
        buf_free(&b.b);
        return b.err;
    }
    *ret = buf_steal(&b.b, &len);
    return *ret ? 0 : -ENOMEM;
}
