/* limits.c -- the limits stage: per caller and global chat requests in
 * flight (limits.h), and the request body's share of the global memory
 * budget (budget.h) while it is in flight; later rpm/tpm/budget per
 * caller and model. */
#include "limits-state.h"
#include "budget.h"
#include "config.h"
#include "llmux-errno.h"
#include "log.h"
#include "request.h"
#include "server.h"
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>

struct limits_uid {
    struct limits_uid *next;
    uid_t              uid;
    unsigned           n;       /* requests in flight */
};

void limits_init(struct limits *l)
{
    *l = (struct limits){ .per_caller = LIMITS_PER_CALLER,
                          .global = LIMITS_GLOBAL };
}

void limits_free(struct limits *l)
{
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

int limits_take(struct limits *l, uid_t uid, char *msg, size_t len)
{
    struct limits_uid **p, *u;

    if (l->inflight >= l->global) {
        snprintf(msg, len, "too many requests in flight in llmuxd (limit "
                 "%u); retry when some have ended", l->global);
        return LLMUX_ERATELIMIT;
    }
    if ((u = *(p = slot(l, uid))) == NULL) {
        if ((u = calloc(1, sizeof(*u))) == NULL) {
            snprintf(msg, len, "out of memory");
            return LLMUX_EINTERNAL;
        }
        u->uid = uid;
        *p = u;
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
    struct limits_uid **p = slot(l, uid), *u = *p;

    if (u == NULL)
        return;
    l->inflight--;
    if (--u->n == 0) {
        *p = u->next;
        free(u);
    }
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

static enum stage_rc limits_run(struct request *rq)
{
    char msg[160];
    int r;

    if ((r = limits_take(&rq->srv->limits, rq->caller.uid, msg,
                         sizeof(msg))) < 0) {
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

static void limits_end(struct request *rq)
{
    if (rq->limited)
        limits_put(&rq->srv->limits, rq->caller.uid);
    rq->limited = 0;
    budget_give(&rq->srv->budget, rq->mem_charged);
    rq->mem_charged = 0;
}

const struct stage stage_limits = { .name = "limits", .run = limits_run,
                                    .end = limits_end };
