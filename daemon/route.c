/* route.c -- the route stage: the model name a request asks for -> its
 * model group -> the deployments to try (router.c then picks one per
 * attempt). The one place a model name is resolved, for the first group
 * and for every fallback group. */
#include "config.h"
#include "dfilter.h"
#include "llmux-errno.h"
#include "request.h"
#include "resolve.h"
#include "server.h"
#include "stage.h"

#include <stdio.h>
#include <string.h>

int route_group(struct request *rq, const char *name, char *msg,
                size_t len)
{
    struct deployment *got[ROUTER_MAX_GROUP];
    int n = router_resolve(&rq->srv->router, rq->cfg, name, got,
                           ROUTER_MAX_GROUP, msg, len);

    if (n < 0 || (n = dfilter_apply(rq, name, got, n, msg, len)) < 0)
        return n;
    request_drop_cands(rq);
    memcpy(rq->cands, got, (size_t)n * sizeof(*got));
    rq->group = config_alias(rq->cfg, name);
    rq->ncands = (size_t)n;
    rq->retries = 0;
    memset(rq->tried, 0, sizeof(rq->tried));
    return 0;
}

static enum stage_rc route_run(struct request *rq)
{
    char msg[sizeof(rq->last.message)];
    int r;

    if ((r = route_group(rq, rq->model, msg, sizeof(msg))) == LLMUX_ECONTEXT) {
        /* The pre-call check found no deployment large enough: as in
         * LiteLLM, that ContextWindowExceededError takes the group's
         * fallbacks, like one from upstream; the attempts stage starts
         * from rq->last (request.c, attempts_run). */
        rq->group = config_alias(rq->cfg, rq->model);
        rq->last.code = r;
        rq->last.status = 0;
        rq->last.retry_after = -1;
        snprintf(rq->last.message, sizeof(rq->last.message), "%s", msg);
        return STAGE_CONTINUE;
    }
    if (r < 0) {
        request_fail(rq, r, 0, msg, -1);
        return STAGE_ANSWERED;
    }
    return STAGE_CONTINUE;
}

const struct stage stage_route = { .name = "route", .run = route_run };
