/* limits.c -- the limits stage: per caller and global chat requests in
 * flight (limits-state.h), the request body's share of the global memory
 * budget (budget.h) while it is in flight, and for a virtual key and its
 * team the sliding one-minute rpm/tpm windows, max_parallel_requests and
 * budgets, with the daemon's own litellm_settings.max_budget. All before
 * any upstream work; its end hook charges what the request cost, before
 * the next request is admitted (one loop: overspend is bounded by the
 * requests already in flight when a budget was crossed). */
#include "limits-state.h"
#include "budget.h"
#include "config.h"
#include "llmux-errno.h"
#include "log.h"
#include "request.h"
#include "server.h"
#include "stage.h"
#include "container.h"
#include "cost.h"
#include "db.h"
#include "keys.h"

#include <sqlite3.h>
#include <string.h>
#include <time.h>

#include <stdio.h>
#include <stdlib.h>

struct limits_uid {
    struct limits_uid *next;
    uid_t              uid;
    unsigned           n;       /* requests in flight */
};

/* A caller without a key, policed by llmux_settings.callers. */
struct limits_caller {
    struct limits_caller *next;
    uid_t                 uid;
    int                   dirty;
    char                  label[CALLER_LABEL_MAX + 1]; /* the entry it was
                                  * last policed under (metrics) */
    struct policy         pol;
};

void limits_init(struct limits *l)
{
    *l = (struct limits){ .per_caller = LIMITS_PER_CALLER,
                          .global = LIMITS_GLOBAL };
}

void limits_free(struct limits *l)
{
    for (size_t i = 0; i < LIMITS_BUCKETS; i++)
        while (l->callers[i]) {
            struct limits_caller *c = l->callers[i];

            l->callers[i] = c->next;
            free(c);
        }
    for (size_t i = 0; i < LIMITS_BUCKETS; i++)
        while (l->bucket[i]) {
            struct limits_uid *u = l->bucket[i];

            l->bucket[i] = u->next;
            free(u);
        }
}

static struct limits_uid **slot(struct limits *l, uid_t uid)
{
    struct limits_uid **p = &l->bucket[uid % LIMITS_BUCKETS];

    while (*p && (*p)->uid != uid)
        p = &(*p)->next;
    return p;
}

unsigned limits_inflight(const struct limits *l, uid_t uid)
{
    const struct limits_uid *u = l->bucket[uid % LIMITS_BUCKETS];

    while (u && u->uid != uid)
        u = u->next;
    return u ? u->n : 0;
}

/* An entry whose count went to 0 stays for the uid's next request (no
 * allocation per request); past LIMITS_MAX_IDLE entries the idle ones
 * go. */
static void sweep_idle(struct limits *l)
{
    for (size_t i = 0; i < LIMITS_BUCKETS; i++)
        for (struct limits_uid **p = &l->bucket[i]; *p;) {
            struct limits_uid *u = *p;

            if (u->n == 0) {
                *p = u->next;
                free(u);
                l->nuids--;
            } else {
                p = &u->next;
            }
        }
}

int limits_take(struct limits *l, uid_t uid, char *msg, size_t len)
{
    struct limits_uid **p, *u;

    if (l->inflight >= l->global) {
        snprintf(msg, len, "too many requests in flight in llmuxd (limit "
                 "%u); retry when some have ended", l->global);
        return LLMUX_ERATELIMIT;
    }
    if ((u = *(p = slot(l, uid))) == NULL) {
        if (l->nuids >= LIMITS_MAX_IDLE) {
            sweep_idle(l);
            p = slot(l, uid);
        }
        if ((u = calloc(1, sizeof(*u))) == NULL) {
            snprintf(msg, len, "out of memory");
            return LLMUX_EINTERNAL;
        }
        u->uid = uid;
        *p = u;
        l->nuids++;
    }
    if (u->n >= l->per_caller) {
        snprintf(msg, len, "too many requests in flight for this user "
                 "(limit %u); retry when some have ended", l->per_caller);
        return LLMUX_ERATELIMIT;
    }
    u->n++;
    l->inflight++;
    return 0;
}

void limits_put(struct limits *l, uid_t uid)
{
    struct limits_uid *u = *slot(l, uid);

    if (u == NULL || u->n == 0)
        return;
    l->inflight--;
    u->n--;
}

/* The body stays in memory until the request ends: it is charged to the
 * global budget before any upstream work, and refused when the budget is
 * full (a small body always passes: BUDGET_GRANTED). */
static int memory_take(struct request *rq, char *msg, size_t len)
{
    if (budget_charge(&rq->srv->budget, &rq->mem_charged,
                      rq->body_cost) == 0)
        return 0;
    snprintf(msg, len, "llmuxd is overloaded: no memory left for this "
             "request's %zu MiB body (max_memory %g MiB)",
             rq->body_cost >> 20, rq->cfg->max_memory);
    return LLMUX_EUNAVAIL;
}

/* ---- budgets and policies ----------------------------------------------- */

static void fmt_time(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)t;

    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Who a refusal names: "key 'alias'", "team 'ml'", "uid 1000", … —
 * made only when refusing, never per request. */
struct who {
    const char *kind;           /* "key", "team", "uid", or NULL: name */
    const char *name;           /* as is when kind is NULL */
    unsigned    uid;
};

static const char *who_str(const struct who *w, char *buf, size_t len)
{
    if (w->kind == NULL)
        return w->name;
    if (w->name)
        snprintf(buf, len, "%s '%s'", w->kind, w->name);
    else
        snprintf(buf, len, "%s %u", w->kind, w->uid);
    return buf;
}

/* 0, or a refusal in msg: which budget, its limit and when it resets. */
static int over_budget(const struct spend_budget *b, const struct who *wh,
                       char *msg, size_t len)
{
    char at[32], wbuf[160];
    const char *what;

    if (b->max < 0 || b->spend < b->max)
        return 0;
    what = who_str(wh, wbuf, sizeof(wbuf));
    if (b->reset_at)
        fmt_time(b->reset_at, at, sizeof(at));
    snprintf(msg, len, "budget exceeded: %s has spent $%.6f of its "
             "max_budget $%.6f; %s%s", what, b->spend, b->max,
             b->reset_at ? "it resets at " : "it does not reset",
             b->reset_at ? at : "");
    return LLMUX_EBUDGET;
}

static int over_rate(struct policy *p, const struct who *wh,
                     uint64_t now, char *msg, size_t len, double *retry)
{
    char wbuf[160];
    uint64_t n;

    if (p->parallel && p->inflight >= (unsigned long)p->parallel) {
        snprintf(msg, len, "%s has %u requests in flight (its "
                 "max_parallel_requests); retry when one has ended",
                 who_str(wh, wbuf, sizeof(wbuf)),
                 p->inflight);
        *retry = 1;
        return LLMUX_ERATELIMIT;
    }
    if (p->rpm && (n = window_requests(&p->win, now)) >= (uint64_t)p->rpm) {
        *retry = window_retry(&p->win, now, 0, (uint64_t)p->rpm);
        snprintf(msg, len, "%s has made %llu requests in the last minute "
                 "(its rpm_limit is %ld)", who_str(wh, wbuf, sizeof(wbuf)),
                 (unsigned long long)n,
                 p->rpm);
        return LLMUX_ERATELIMIT;
    }
    if (p->tpm && (n = window_tokens(&p->win, now)) >= (uint64_t)p->tpm) {
        *retry = window_retry(&p->win, now, 1, (uint64_t)p->tpm);
        snprintf(msg, len, "%s has used %llu tokens in the last minute "
                 "(its tpm_limit is %ld)", who_str(wh, wbuf, sizeof(wbuf)),
                 (unsigned long long)n,
                 p->tpm);
        return LLMUX_ERATELIMIT;
    }
    return 0;
}

static uint64_t mono_sec(void)
{
    return uv_hrtime() / 1000000000u;
}

/* The daemon's budget follows the live config's max_budget. */
static struct spend_budget *global_budget(struct server *s, const struct config *c,
                                    int64_t now)
{
    struct spend_budget *b = &s->limits.spend;

    b->max = c->max_budget;
    if (strcmp(b->dur, c->budget_duration) != 0) {
        snprintf(b->dur, sizeof(b->dur), "%s", c->budget_duration);
        b->reset_at = 0;
    }
    if (b->dur[0] && b->reset_at == 0) {
        double secs = duration_secs(b->dur);

        b->reset_at = now + (int64_t)(secs > 0 ? secs : 30 * 86400);
    }
    if (budget_roll(b, now))
        limits_save_global(s);
    return b;
}

static void caller_dirty(struct server *s, struct limits_caller *c)
{
    c->dirty = 1;
    s->limits.callers_dirty = 1;
    db_touch(&s->db);
}

void limits_save_global(struct server *s)
{
    s->limits.spend_dirty = 1;
    db_touch(&s->db);
}

void limits_collect(struct server *s)
{
    for (size_t i = 0; s->limits.callers_dirty && i < LIMITS_BUCKETS; i++)
        for (struct limits_caller *c = s->limits.callers[i]; c; c = c->next)
            if (c->dirty) {
                c->dirty = 0;
                db_exec(&s->db, sqlite3_mprintf("INSERT OR REPLACE INTO "
                        "budgets (scope, spend, budget_reset_at) VALUES "
                        "('uid:%u', %.17g, %lld)", (unsigned)c->uid,
                        c->pol.budget.spend,
                        (long long)c->pol.budget.reset_at));
            }
    s->limits.callers_dirty = 0;
    if (!s->limits.spend_dirty)
        return;
    s->limits.spend_dirty = 0;
    db_exec(&s->db, sqlite3_mprintf("INSERT OR REPLACE INTO budgets (scope,"
            " spend, budget_reset_at) VALUES ('global', %.17g, %lld)",
            s->limits.spend.spend, (long long)s->limits.spend.reset_at));
}

static struct limits_caller *caller_state(struct limits *l, uid_t uid)
{
    struct limits_caller **p = &l->callers[uid % LIMITS_BUCKETS];

    while (*p && (*p)->uid != uid)
        p = &(*p)->next;
    if (*p == NULL && (*p = calloc(1, sizeof(**p))) != NULL)
        (*p)->uid = uid;
    return *p;
}

void limits_each_caller(const struct limits *l, limits_caller_fn *fn,
                        void *ud)
{
    for (size_t i = 0; i < LIMITS_BUCKETS; i++)
        for (const struct limits_caller *c = l->callers[i]; c; c = c->next)
            if (c->label[0])
                fn(ud, c->uid, c->label, &c->pol.budget);
}

void limits_load_caller(struct limits *l, uid_t uid, double spend,
                        int64_t reset_at)
{
    struct limits_caller *c = caller_state(l, uid);

    if (c) {
        c->pol.budget.spend = spend;
        c->pol.budget.reset_at = reset_at;
    }
}

/* The callers entry's limits over that uid's own state: the entry says
 * the limits (it may change on reload), the state keeps the counts. */
static int caller_limits(struct request *rq, int64_t now, uint64_t sec,
                         char *msg, size_t len, double *retry)
{
    const struct caller_rule *r = rq->rule;
    struct limits_caller *c = caller_state(&rq->srv->limits, rq->caller.uid);
    struct policy *p;
    const struct who who = { .kind = "uid", .uid = (unsigned)rq->caller.uid };
    int e;

    if (c == NULL) {
        snprintf(msg, len, "out of memory");
        return LLMUX_EINTERNAL;
    }
    if (strcmp(c->label, r->label) != 0)
        memcpy(c->label, r->label, sizeof(c->label));
    p = &c->pol;
    p->rpm = r->rpm;
    p->tpm = r->tpm;
    p->parallel = r->parallel;
    p->budget.max = r->max_budget;
    if (strcmp(p->budget.dur, r->budget_duration) != 0) {
        snprintf(p->budget.dur, sizeof(p->budget.dur), "%s",
                 r->budget_duration);
        p->budget.reset_at = 0;
    }
    if (p->budget.dur[0] && p->budget.reset_at == 0) {
        double secs = duration_secs(p->budget.dur);

        p->budget.reset_at = now + (int64_t)(secs > 0 ? secs : 30 * 86400);
    }
    if (budget_roll(&p->budget, now))
        caller_dirty(rq->srv, c);
    if ((e = over_budget(&p->budget, &who, msg, len)) < 0 ||
        (e = over_rate(p, &who, sec, msg, len, retry)) < 0)
        return e;
    window_add(&p->win, sec, 1, 0);
    p->inflight++;
    rq->upol = p;
    return 0;
}

/* The key's and its team's limits; then both count the request. */
static int key_limits(struct request *rq, struct vkey *v, int64_t now,
                      uint64_t sec, char *msg, size_t len, double *retry)
{
    struct team *t = v->team;
    const struct who kw = { .kind = "key",
                            .name = v->alias ? v->alias : v->hint };
    const struct who tw = { .kind = "team",
                            .name = t ? (t->alias ? t->alias : t->id) : "" };
    int r;

    if (budget_roll(&v->pol.budget, now))
        keys_save_spend(&rq->srv->keys, v);
    if (t && budget_roll(&t->pol.budget, now))
        team_save_spend(&rq->srv->keys, t);
    if ((r = over_budget(&v->pol.budget, &kw, msg, len)) < 0 ||
        (t && (r = over_budget(&t->pol.budget, &tw, msg, len)) < 0) ||
        (r = over_rate(&v->pol, &kw, sec, msg, len, retry)) < 0 ||
        (t && (r = over_rate(&t->pol, &tw, sec, msg, len, retry)) < 0))
        return r;
    window_add(&v->pol.win, sec, 1, 0);
    v->pol.inflight++;
    if (t) {
        window_add(&t->pol.win, sec, 1, 0);
        t->pol.inflight++;
    }
    rq->key_counted = 1;
    return 0;
}

static enum stage_rc limits_run(struct request *rq)
{
    static const struct who daemon = { .name = "llmuxd (litellm_settings)" };
    char msg[320];
    double retry = -1;
    /* One reading of each clock for every check of this request. */
    int64_t now = (int64_t)time(NULL);
    uint64_t sec = mono_sec();
    int r;

    if ((r = over_budget(global_budget(rq->srv, rq->cfg, now), &daemon,
                         msg, sizeof(msg))) < 0 ||
        (rq->key && (r = key_limits(rq, rq->key, now, sec, msg,
                                    sizeof(msg), &retry)) < 0) ||
        (rq->rule && (r = caller_limits(rq, now, sec, msg, sizeof(msg),
                                        &retry)) < 0)) {
        request_fail(rq, r, 0, msg, r == LLMUX_ERATELIMIT ? retry : -1);
        return STAGE_ANSWERED;
    }
    if ((r = limits_take(&rq->srv->limits, rq->caller.uid, msg,
                         sizeof(msg))) < 0) {
        limits_uncount_key(rq);
        request_fail(rq, r, 0, msg, r == LLMUX_ERATELIMIT ? 1 : -1);
        return STAGE_ANSWERED;
    }
    rq->limited = 1;
    if ((r = memory_take(rq, msg, sizeof(msg))) < 0) {
        request_fail(rq, r, 0, msg, -1);
        return STAGE_ANSWERED;
    }
    return STAGE_CONTINUE;
}

static void charge(struct policy *p, double cost,
                   uint64_t tokens, uint64_t sec)
{
    p->inflight--;
    window_add(&p->win, sec, 0, tokens);
    p->budget.spend += cost;
}

void limits_uncount_key(struct request *rq)
{
    struct vkey *v = rq->key;

    if (rq->upol) {
        rq->upol->inflight--;
        rq->upol = NULL;
    }
    if (!rq->key_counted)
        return;
    rq->key_counted = 0;
    v->pol.inflight--;
    if (v->team)
        v->team->pol.inflight--;
}

/* What the request cost goes onto every budget it was admitted under,
 * and its tokens into the minute windows. */
static void limits_end(struct request *rq)
{
    struct server *s = rq->srv;
    struct vkey *v = rq->key;
    const struct cost_tokens *t = request_tokens(rq);
    uint64_t tokens = (uint64_t)(t->prompt + t->completion);
    uint64_t sec;

    if (rq->limited)
        limits_put(&s->limits, rq->caller.uid);
    rq->limited = 0;
    budget_give(&s->budget, rq->mem_charged);
    rq->mem_charged = 0;
    if (rq->cache_hit)
        rq->cost = 0;           /* no upstream call: no tokens, no money
                                 * (its request still counted for rpm) */
    if (rq->cost > 0) {
        s->limits.spend.spend += rq->cost;
        limits_save_global(s);
    }
    if (rq->upol == NULL && !rq->key_counted)
        return;
    sec = mono_sec();
    if (rq->upol) {
        charge(rq->upol, rq->cost, tokens, sec);
        if (rq->cost > 0)
            caller_dirty(s, container_of(rq->upol, struct limits_caller,
                                         pol));
        rq->upol = NULL;
    }
    if (!rq->key_counted)
        return;
    rq->key_counted = 0;
    charge(&v->pol, rq->cost, tokens, sec);
    keys_save_spend(&s->keys, v);
    if (v->team) {
        charge(&v->team->pol, rq->cost, tokens, sec);
        team_save_spend(&s->keys, v->team);
    }
}

const struct stage stage_limits = { .name = "limits", .run = limits_run,
                                    .end = limits_end };
