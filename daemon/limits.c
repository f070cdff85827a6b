/* limits.c -- the limits stage: per caller and global chat requests in
 * flight (limits.h); later rpm/tpm/budget per caller and model. The
 * global memory budget belongs here too: it is checked in limits_run,
 * before any upstream work, with the same typed refusal. */
#include "limits-state.h"
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

static void refuse(struct request *rq, const char *what, unsigned limit)
{
    char msg[160];

    snprintf(msg, sizeof(msg), "too many requests in flight %s (limit "
             "%u); retry when some have ended", what, limit);
    request_fail(rq, LLMUX_ERATELIMIT, 0, msg, 1);
}

static enum stage_rc limits_run(struct request *rq)
{
    struct limits *l = &rq->srv->limits;
    struct limits_uid **p, *u;

    if (l->inflight >= l->global) {
        refuse(rq, "in llmuxd", l->global);
        return STAGE_ANSWERED;
    }
    p = slot(l, rq->caller.uid);
    if ((u = *p) == NULL) {
        if ((u = calloc(1, sizeof(*u))) == NULL) {
            request_fail(rq, LLMUX_EINTERNAL, 0, "out of memory", -1);
            return STAGE_ANSWERED;
        }
        u->uid = rq->caller.uid;
        *p = u;
    }
    if (u->n >= l->per_caller) {
        refuse(rq, "for this user", l->per_caller);
        return STAGE_ANSWERED;
    }
    u->n++;
    l->inflight++;
    rq->limited = 1;
    return STAGE_CONTINUE;
}

static void limits_end(struct request *rq)
{
    struct limits *l = &rq->srv->limits;
    struct limits_uid **p, *u;

    if (!rq->limited)
        return;
    rq->limited = 0;
    l->inflight--;
    p = slot(l, rq->caller.uid);
    if ((u = *p) != NULL && --u->n == 0) {
        *p = u->next;
        free(u);
    }
}

const struct stage stage_limits = { .name = "limits", .run = limits_run,
                                    .end = limits_end };
