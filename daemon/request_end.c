/* request_end.c -- how a request ends (see request.h): exactly one
 * terminal event through its session — the error, or the answer (a
 * completion or embedding list, the usage chunk a stream asked for, then
 * done with usage, cost, timing and names) — and then its release. What
 * cannot be encoded ends with an error instead. */
#include "request.h"
#include "cache.h"
#include "cost.h"
#include "deployment.h"
#include "presets.h"
#include "hub.h"
#include "proto.h"
#include "provider.h"
#include "server.h"

#include <stdio.h>

void request_fail(struct request *rq, int code, long status,
                  const char *message, double retry_after)
{
    struct session *s = rq->sess;

    if (s && !rq->ended)
        s->ops->error(s, rq->id, &(struct session_error){
            .code = code, .message = message, .retry_after = retry_after,
            .provider = rq->dep ? rq->dep->preset->name : NULL,
            .deployment = rq->dep ? rq->dep->id : NULL });
    rq->ended = 1;
    rq->srv->stats.errors++;
    snprintf(rq->outcome_buf, sizeof(rq->outcome_buf), "%s/%ld",
             proto_err_type(code), status);
    rq->outcome = rq->outcome_buf;
    request_free(rq);
}

static void timing(const struct request *rq, struct session_timing *t)
{
    uint64_t spent = rq->up_us + rq->wait_us;

    t->total_us = request_now_us() - rq->t_start;
    t->upstream_us = rq->up_us;
    /* What llmux itself added: neither upstream time nor backoff. */
    t->overhead_us = t->total_us > spent ? t->total_us - spent : 0;
    t->first_chunk_us = rq->t_first_chunk ? rq->t_first_chunk - rq->t_start
                                          : 0;
    t->wait_us = rq->wait_us;
}

/* For streams that asked include_usage, an OpenAI usage chunk. */
static void usage_chunk(struct request *rq)
{
    json_t *u = hub_chunk_new(rq->chunk_id, rq->chunk_model,
                              rq->chunk_created);

    if (u && json_object_set(u, "usage", rq->pc.usage) == 0 &&
        rq->sess->ops->chunk(rq->sess, rq->id, u) == 0)
        rq->chunks++;
    json_decref(u);
}

const struct cost_tokens *request_tokens(struct request *rq)
{
    if (!rq->tokens_read) {
        cost_tokens(rq->cache_hit ? NULL : rq->pc.usage, &rq->tokens);
        rq->tokens_read = 1;
    }
    return &rq->tokens;
}

/* Ends the request successfully: the completion (non-stream), the usage
 * chunk, then done. What cannot be encoded ends with an error instead:
 * every request gets exactly one terminal event. */
void request_finish(struct request *rq, json_t *completion)
{
    struct session *s = rq->sess;
    const struct deployment *d = rq->dep;
    struct session_done dn;

    rq->cost = rq->cache_hit ? 0 :        /* spent even if s is gone */
               cost_of_tokens(d, request_tokens(rq));
    if (rq->cache && completion)
        cache_note_completion(rq, completion);
    if (s) {
        if (completion && session_answer(s, rq->id, completion,
                                         rq->kind == REQ_EMBED) < 0) {
            request_fail(rq, LLMUX_EUNAVAIL, 0, "the upstream answer is "
                         "larger than a frame (16 MiB)", -1);
            return;
        }
        if (rq->opts.stream && rq->opts.want_usage && rq->pc.usage)
            usage_chunk(rq);
        dn = (struct session_done){
            .usage = rq->pc.usage, .cost = rq->cost,
            .model = d->upstream_model,
            .provider = d->preset->name, .deployment = d->id,
            .group = d->model_name,
            .upstream_headers = rq->xfer.ratelimit.len ?
                                rq->xfer.ratelimit.p : NULL,
            .attempts = rq->attempts, .fallbacks = rq->fallbacks,
            .chunks = rq->chunks,
            .cache_key = rq->cache ? rq->cache->key : NULL };
        timing(rq, &dn.timing);
        if (s->ops->done(s, rq->id, &dn) < 0) {
            request_fail(rq, LLMUX_EINTERNAL, 0, "the end of the answer "
                         "(done: usage, model and deployment names) is "
                         "larger than a frame (16 MiB)", -1);
            return;
        }
    }
    request_end(rq, "ok");
}

void request_end(struct request *rq, const char *outcome)
{
    rq->ended = 1;
    rq->outcome = outcome;
    request_free(rq);
}

