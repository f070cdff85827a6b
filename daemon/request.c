/* request.c -- one chat request's lifetime and its attempt loop (see
 * request.h). It runs the stages of stage.h in order; the last one,
 * attempts, runs the request as attempts, one deployment each: an attempt
 * that fails before any chunk reached the caller is retried after a
 * backoff or falls back to another model group, as router.c decides;
 * after the first chunk nothing is retried silently. What comes out goes
 * to the session as events (session.h); this file never builds a frame.
 * How a request ends (its terminal event) is request_end.c's. */
#include "request.h"
#include "cost.h"
#include "cache.h"
#include "callparams.h"
#include "resolve.h"
#include "config.h"
#include "container.h"
#include "embed.h"
#include "hub.h"
#include "log.h"
#include "presets.h"
#include "providers/vertex.h"
#include "proto.h"
#include "provider.h"
#include "router.h"
#include "secret.h"
#include "server.h"
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The pipeline. A new stage is a file and a line here. */
static const struct stage *const stages[] = {
    &stage_ledger,      /* first in, so its end sees every request */
    &stage_opts,
    &stage_access,
    &stage_limits,
    &stage_cache,
    &stage_route,
    &stage_attempts,
};
#define NSTAGES (sizeof(stages) / sizeof(stages[0]))

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* ---- lifetime ----------------------------------------------------------- */

static void request_link(struct request *rq, struct session *s)
{
    rq->sess = s;
    rq->next = s->reqs;
    if (s->reqs)
        s->reqs->prev = rq;
    s->reqs = rq;
    s->nreqs++;
}

static void request_unlink(struct request *rq)
{
    struct session *s = rq->sess;

    if (s == NULL)
        return;
    if (rq->prev)
        rq->prev->next = rq->next;
    else
        s->reqs = rq->next;
    if (rq->next)
        rq->next->prev = rq->prev;
    rq->next = rq->prev = NULL;
    s->nreqs--;
    if (rq->paused && s->paused)
        s->paused--;
    rq->sess = NULL;
}

/* The transfer is over (or never started): forget the pause it held. */
static void unpause(struct request *rq)
{
    if (rq->paused && rq->sess && rq->sess->paused)
        rq->sess->paused--;
    rq->paused = 0;
}

static void stop_transfer(struct request *rq)
{
    if (!xfer_running(&rq->xfer))
        return;
    xfer_stop(&rq->xfer);
    unpause(rq);
}

/* Drops what one attempt built, so the next starts clean. */
static void reset_attempt(struct request *rq)
{
    if (rq->pc.prov && rq->pc.prov->stream_free)
        rq->pc.prov->stream_free(&rq->pc);
    json_decref(rq->pc.usage);
    rq->token = secret_free(rq->token);
    json_decref(rq->pc.embed_done);
    memset(&rq->pc, 0, sizeof(rq->pc));
    rq->pc.err.retry_after = -1;
    http_req_free(&rq->hreq);
    http_req_init(&rq->hreq);
    xfer_reset(&rq->xfer);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct request *rq = h->data;

    if (--rq->open_handles == 0)
        free(rq);
}

/* After the terminal event: the end hooks of the stages that ran, last
 * first, then the memory. */
/* The deployment references a request holds (resolve.h). */
static void hold(struct deployment **slot, struct deployment *d)
{
    if (d)
        deployment_ref(d);
    deployment_unref(*slot);
    *slot = d;
}

void request_drop_cands(struct request *rq)
{
    for (; rq->ncands > 0; rq->ncands--)
        deployment_unref(rq->cands[rq->ncands - 1]);
}

void request_free(struct request *rq)
{
    struct server *s = rq->srv;

    stop_transfer(rq);
    if (rq->waiting_token)
        gauth_cancel(&rq->srv->gauth, &rq->gwait);
    router_end_abort(rq->st);   /* an attempt cut short by a cancel */
    rq->st = NULL;
    for (unsigned i = rq->stage; i-- > 0;)
        if (stages[i]->end)
            stages[i]->end(rq);
    request_unlink(rq);
    reset_attempt(rq);
    http_req_free(&rq->hreq);
    xfer_free(&rq->xfer);
    opts_free(&rq->opts);
    json_decref(rq->body);
    json_decref(rq->body_dep);
    rq->body = NULL;
    request_drop_cands(rq);
    rq->dep = deployment_unref(rq->dep);
    rq->last_dep = deployment_unref(rq->last_dep);
    config_unref(rq->cfg);
    rq->cfg = NULL;
    uv_close((uv_handle_t *)&rq->next_timer, on_handle_closed);
    uv_close((uv_handle_t *)&rq->watch_timer, on_handle_closed);
    s->stats.inflight--;
    server_request_ended(s);
}

/* ---- chunks ------------------------------------------------------------- */

static void on_watch(uv_timer_t *t);

static void watch_start(struct request *rq, double secs)
{
    if (secs > 0)
        uv_timer_start(&rq->watch_timer, on_watch,
                       (uint64_t)(secs * 1000 + 0.5), 0);
}

/* stream_timeout: the time to the FIRST chunk (the deployment's, else
 * router_settings'). It runs from the start of the attempt, so it fires
 * on time even when the upstream sends nothing at all. */
static double first_chunk_timeout(const struct request *rq)
{
    if (rq->dep->stream_timeout > 0)
        return rq->dep->stream_timeout;
    return rq->cfg->router.stream_timeout;
}

/* After each chunk event: the timers and backpressure. */
static int chunk_sent(struct request *rq, int r)
{
    if (r == 0)
        rq->chunks++;
    /* The first chunk stops the stream_timeout; each chunk re-arms the
     * idle timeout (a paused stream waits for the caller, not upstream). */
    uv_timer_stop(&rq->watch_timer);
    if (xfer_running(&rq->xfer))
        watch_start(rq, rq->idle_s);
    if (r == 0 && rq->sess && rq->sess->ops->backlogged(rq->sess))
        request_pause(rq);
    return r;
}

/* pc->emit: one canonical chunk from the adapter, to the session now. */
static int emit_chunk(void *ud, json_t *chunk)
{
    struct request *rq = ud;
    const char *s;
    int r;

    if (rq->sess == NULL) {
        json_decref(chunk);
        return LLMUX_ECLOSED;
    }
    if (rq->chunks == 0) {
        rq->t_first_chunk = request_now_us();
        if ((s = hub_str(chunk, "id")) != NULL)
            snprintf(rq->chunk_id, sizeof(rq->chunk_id), "%s", s);
        if ((s = hub_str(chunk, "model")) != NULL)
            snprintf(rq->chunk_model, sizeof(rq->chunk_model), "%s", s);
        rq->chunk_created = json_integer_value(json_object_get(chunk,
                                                               "created"));
    }
    if (rq->cache)
        cache_note_chunk(rq, chunk);
    r = rq->sess->ops->chunk(rq->sess, rq->id, chunk);
    json_decref(chunk);
    return chunk_sent(rq, r);
}

/* pc->emit_json: a chunk as JSON text, for the session to encode without
 * a tree. The first chunk of a stream takes the tree path, which
 * remembers its id, model and created for the usage chunk. */
static int emit_chunk_json(void *ud, const char *json, size_t len)
{
    struct request *rq = ud;
    char err[128];
    json_t *chunk;
    int r;

    if (rq->sess == NULL)
        return LLMUX_ECLOSED;
    if (rq->chunks == 0) {
        if ((chunk = json_loadb(json, len, 0, NULL)) == NULL)
            return pcall_fail(&rq->pc, LLMUX_EUNAVAIL, 200, "%s sent a "
                              "malformed stream event",
                              pcall_name(&rq->pc));
        return emit_chunk(rq, chunk);
    }
    if (rq->cache)
        cache_note_chunk_json(rq, json, len);
    err[0] = '\0';
    r = rq->sess->ops->chunk_json(rq->sess, rq->id, json, len, err,
                                  sizeof(err));
    if (r < 0 && err[0])
        return pcall_fail(&rq->pc, LLMUX_EUNAVAIL, 200, "%s sent a "
                          "malformed stream event (%s)",
                          pcall_name(&rq->pc), err);
    return chunk_sent(rq, r);
}

/* ---- backpressure ------------------------------------------------------- */

void request_pause(struct request *rq)
{
    if (rq->paused || !xfer_running(&rq->xfer))
        return;
    xfer_pause(&rq->xfer);
    rq->paused = 1;
    uv_timer_stop(&rq->watch_timer);
    log_debug("request %llu: paused, client output backlogged",
              (unsigned long long)rq->id);
    if (rq->sess)
        rq->sess->paused++;
}

void request_resume(struct request *rq)
{
    if (!rq->paused || !xfer_running(&rq->xfer))
        return;
    rq->paused = 0;
    if (rq->sess && rq->sess->paused)
        rq->sess->paused--;
    log_debug("request %llu: resumed", (unsigned long long)rq->id);
    watch_start(rq, rq->idle_s);
    xfer_resume(&rq->xfer);
}

/* ---- the transfer ------------------------------------------------------- */

static void attempt_ok(struct request *rq, json_t *completion);
static void attempt_failed(struct request *rq);

static int feed(void *ud, const char *p, size_t n)
{
    struct request *rq = ud;

    return rq->pc.prov->stream_feed(&rq->pc, p, n);
}

static const char *dep_url(const struct deployment *d)
{
    return d->api_base ? d->api_base : d->preset->api_base;
}

static void transfer_done(struct xfer *x, CURLcode res)
{
    struct request *rq = x->ud;
    struct http_resp r;
    json_t *completion = NULL;
    char msg[512];
    int code;

    rq->t_up_end = request_now_us();
    unpause(rq);
    if (rq->pc.err.code) {
        /* The adapter stopped the stream (in-stream error): its words
         * are the best we have. */
        attempt_failed(rq);
        return;
    }
    if (x->toobig) {
        pcall_fail(&rq->pc, LLMUX_EUNAVAIL, x->status, "%s: the upstream "
                   "answer exceeds 64 MiB", rq->pc.prov->name);
        attempt_failed(rq);
        return;
    }
    if (res != CURLE_OK) {
        code = xfer_curl_code(res, rq->dep->preset->name, dep_url(rq->dep),
                              rq->dep->model_name, rq->dep->id, msg,
                              sizeof(msg));
        pcall_fail(&rq->pc, code, 0, "%s", msg);
        attempt_failed(rq);
        return;
    }
    r.status = x->status;
    r.body = x->body.p ? x->body.p : "";
    r.len = x->body.len;
    r.retry_after = x->retry_after;
    if (r.status < 200 || r.status >= 300) {
        if (rq->pc.prov->map_error)
            rq->pc.prov->map_error(&rq->pc, &r);
        else
            provider_map_error_default(&rq->pc, &r);
        attempt_failed(rq);
        return;
    }
    if (rq->opts.stream) {
        if (rq->pc.prov->stream_end && rq->pc.prov->stream_end(&rq->pc) < 0)
            attempt_failed(rq);
        else
            attempt_ok(rq, NULL);
        return;
    }
    code = rq->pc.embed ? embed_parse(&rq->pc, &r, &completion) :
           rq->pc.prov->parse(&rq->pc, &r, &completion);
    if (code < 0) {
        attempt_failed(rq);
        return;
    }
    if (code == EMBED_MORE) {
        /* The same attempt, its next batch of inputs (embed.h). */
        http_req_free(&rq->hreq);
        http_req_init(&rq->hreq);
        xfer_reset(&rq->xfer);
        request_authorize(rq);
        return;
    }
    attempt_ok(rq, completion);
    json_decref(completion);
}

/* The stream_timeout or the idle timeout expired: the attempt failed
 * with a timeout (before the first chunk it may still be retried). */
static void on_watch(uv_timer_t *t)
{
    struct request *rq = t->data;
    double secs = rq->chunks ? rq->idle_s : first_chunk_timeout(rq);

    rq->t_up_end = request_now_us();
    stop_transfer(rq);
    if (rq->chunks == 0)
        pcall_fail(&rq->pc, LLMUX_ETIMEOUT, 0, "%s sent no first chunk "
                   "within %.3g s (stream_timeout)", rq->dep->preset->name,
                   secs);
    else
        pcall_fail(&rq->pc, LLMUX_ETIMEOUT, 0, "%s sent nothing for "
                   "%.3g s", rq->dep->preset->name, secs);
    attempt_failed(rq);
}

/* Milliseconds one attempt on d may take: the deployment's timeout, else
 * what is left of the whole request's. */
static long attempt_timeout_ms(const struct request *rq)
{
    uint64_t now = request_now_us(), left = rq->deadline > now ?
                                    rq->deadline - now : 1000;
    uint64_t t = left;

    if (rq->dep->timeout > 0 && rq->dep->timeout * 1e6 < (double)left)
        t = (uint64_t)(rq->dep->timeout * 1e6);
    return t / 1000 > 0 ? (long)(t / 1000) : 1;
}

static int start_transfer(struct request *rq)
{
    rq->xfer.stream = rq->opts.stream;
    rq->xfer.feed = feed;
    rq->xfer.done = transfer_done;
    rq->xfer.ud = rq;
    if (xfer_start(&rq->xfer, &rq->hreq, attempt_timeout_ms(rq)) < 0)
        return pcall_fail(&rq->pc, LLMUX_EINTERNAL, 0, "cannot start the "
                          "upstream transfer (out of memory)");
    return 0;
}

/* ---- attempts ----------------------------------------------------------- */

static void attempt_next(struct request *rq);

/* The loop's clock may lag (libuv caches it per iteration): a retry
 * never starts before the time the provider asked for, so an early timer
 * is re-armed for what is left. */
static void on_next(uv_timer_t *t)
{
    struct request *rq = t->data;
    uint64_t now = uv_hrtime();

    if (now < rq->wait_until_ns) {
        uv_timer_start(&rq->next_timer, on_next,
                       (rq->wait_until_ns - now + 999999) / 1000000, 0);
        return;
    }
    rq->wait_us += now / 1000 - rq->t_wait;
    attempt_next(rq);
}

/* The next attempt runs from the loop, after secs: never from inside the
 * callback that reported the failure. */
static void wait_then_next(struct request *rq, double secs)
{
    uint64_t us = secs > 0 ? (uint64_t)(secs * 1e6 + 0.5) : 0;

    uv_update_time(rq->srv->loop);
    rq->t_wait = request_now_us();
    rq->wait_until_ns = rq->t_wait * 1000 + us * 1000;
    uv_timer_start(&rq->next_timer, on_next, (us + 999) / 1000, 0);
}

/* Every attempt failed: the last error goes to the caller, saying how
 * hard llmux tried. */
static void fail_last(struct request *rq)
{
    char msg[sizeof(rq->last.message) + 64];

    hold(&rq->dep, rq->last_dep);
    if (rq->attempts > 1 || rq->fallbacks > 0)
        snprintf(msg, sizeof(msg), "%s (after %u attempts, %u fallbacks)",
                 rq->last.message, rq->attempts, rq->fallbacks);
    else
        snprintf(msg, sizeof(msg), "%s", rq->last.message);
    request_fail(rq, rq->last.code, rq->last.status, msg,
                 rq->last.retry_after);
}

/* The current group is done for (retries spent, or nothing healthy):
 * the next fallback group, or the end. The chain is fixed by the first
 * group's failure, as LiteLLM's fallbacks are. */
static void group_failed(struct request *rq, int code)
{
    char msg[512];

    if (!rq->chain_made) {
        rq->nchain = router_fallbacks(&rq->cfg->router, &rq->opts.ov,
                                      rq->group, code, rq->chain,
                                      ROUTER_MAX_CHAIN);
        rq->chain_made = 1;
    }
    while (rq->next_fallback < rq->nchain) {
        const char *g = rq->chain[rq->next_fallback++];

        if (route_group(rq, g, msg, sizeof(msg)) == 0) {
            rq->fallbacks++;
            log_info("request %llu: falling back to \"%s\" after %s",
                     (unsigned long long)rq->id, g, proto_err_type(code));
            wait_then_next(rq, 0);
            return;
        }
        log_warn("request %llu: fallback \"%s\" skipped: %s",
                 (unsigned long long)rq->id, g, msg);
    }
    fail_last(rq);
}

/* Once a chunk reached the caller a retry would repeat or contradict it:
 * the caller learns the stream was cut, and after how much. */
static void fail_cut(struct request *rq)
{
    const struct perr *e = &rq->pc.err;
    char msg[sizeof(e->message) + 96];

    snprintf(msg, sizeof(msg), "the stream was cut after %llu chunk%s: %s",
             (unsigned long long)rq->chunks, rq->chunks == 1 ? "" : "s",
             e->message);
    request_fail(rq, e->code, e->status, msg, -1);
}

/* The wait before retrying the same group, or < 0 for no retry. */
static double retry_delay(struct request *rq, uint64_t now)
{
    const struct router_settings *rs = &rq->cfg->router;
    const struct perr *e = &rq->pc.err;
    double delay;

    if ((int)rq->retries >= router_retries(rs, rq->dep, e->code,
                                           rq->opts.num_retries))
        return -1;
    /* Another healthy deployment needs no wait; the same one gets its
     * Retry-After or the backoff. */
    if (router_untried(&rq->srv->router, rq->cands, rq->ncands, rq->tried,
                       now / 1000) > 0)
        delay = rs->retry_after;
    else
        delay = router_backoff(rs, rq->retries + 1, e->retry_after,
                               router_random(&rq->srv->router));
    return (double)now + delay * 1e6 < (double)rq->deadline ? delay : -1;
}

static void attempt_failed(struct request *rq)
{
    struct perr *e = &rq->pc.err;
    uint64_t now;
    double delay;

    uv_timer_stop(&rq->watch_timer);
    if (e->code == 0)
        pcall_fail(&rq->pc, LLMUX_EINTERNAL, 0, "%s failed without saying "
                   "why", rq->dep->preset->name);
    if (rq->t_up_end > rq->t_up_start)
        rq->up_us += rq->t_up_end - rq->t_up_start;
    now = request_now_us();
    if (rq->st) {
        double bench = router_end_fail(&rq->cfg->router, rq->st, rq->dep,
                                       rq->ncands, e->code, e->retry_after,
                                       now / 1000);

        rq->st = NULL;
        if (bench > 0)
            log_warn("deployment %s of \"%s\" cools down for %.3g s after "
                     "%s", rq->dep->id, rq->dep->model_name, bench,
                     proto_err_type(e->code));
    }
    if (rq->chunks > 0) {
        fail_cut(rq);
        return;
    }
    rq->last = *e;
    hold(&rq->last_dep, rq->dep);
    if (e->code == LLMUX_ECANCELLED || e->code == LLMUX_ECLOSED) {
        fail_last(rq);
        return;
    }
    if ((delay = retry_delay(rq, now)) >= 0) {
        rq->retries++;
        log_debug("request %llu: retry %u of \"%s\" in %.3g s after %s",
                  (unsigned long long)rq->id, rq->retries, rq->group,
                  delay, proto_err_type(e->code));
        wait_then_next(rq, delay);
        return;
    }
    group_failed(rq, e->code);
}

static void attempt_ok(struct request *rq, json_t *completion)
{
    uint64_t up = rq->t_up_end > rq->t_up_start ?
                  rq->t_up_end - rq->t_up_start : 0;
    uint64_t lat = up;
    json_int_t tokens = 0;

    uv_timer_stop(&rq->watch_timer);
    rq->up_us += up;
    /* Streams are judged by the time to their first chunk, as LiteLLM's
     * latency-based routing does. */
    if (rq->opts.stream && rq->t_first_chunk > rq->t_up_start)
        lat = rq->t_first_chunk - rq->t_up_start;
    if (rq->pc.usage)
        tokens = json_integer_value(json_object_get(rq->pc.usage,
                                                    "total_tokens"));
    router_end_ok(rq->st, now_ms(), (double)lat / 1000.0,
                  tokens > 0 ? (uint64_t)tokens : 0);
    rq->st = NULL;
    request_finish(rq, completion);
}

void request_attempt_send(struct request *rq, int code, const char *msg)
{
    const struct deployment *d = rq->pc.dep;
    int r = code < 0 ? pcall_fail(&rq->pc, code, 0, "%s", msg) :
                       provider_build(&rq->pc, &rq->hreq);

    if (r == 0 && callparams_headers(d, &rq->hreq) < 0)
        r = pcall_fail(&rq->pc, LLMUX_EBADREQ, 0, "extra_headers of %s do "
                       "not fit a header", d->id);
    if (r < 0 || start_transfer(rq) < 0) {
        rq->t_up_end = request_now_us();
        attempt_failed(rq);
        return;
    }
    if (rq->opts.stream)
        watch_start(rq, first_chunk_timeout(rq));
}

static void attempt_start(struct request *rq, size_t i)
{
    struct deployment *d = rq->cands[i];
    json_t *completion = NULL;
    int r;

    reset_attempt(rq);
    hold(&rq->dep, d);
    rq->tried[i] = 1;
    rq->attempts++;
    rq->st = router_dstat(&rq->srv->router, d);
    router_begin(rq->st, now_ms());
    rq->pc.prov = d->prov;
    rq->pc.dep = d;
    /* The deployment's default call parameters, the request's winning. */
    json_decref(rq->body_dep);
    rq->body_dep = callparams_merge(d, rq->body);
    rq->pc.req = rq->body_dep ? rq->body_dep : rq->body;
    rq->pc.opts = &rq->opts;
    rq->pc.stream = rq->opts.stream;
    rq->pc.embed = rq->kind == REQ_EMBED;
    rq->pc.drop_params = rq->opts.drop_params ||
                         json_is_true(json_object_get(d->params,
                                                      "drop_params"));
    rq->pc.seq = ++rq->srv->seq;
    rq->pc.emit = emit_chunk;
    rq->pc.emit_json = emit_chunk_json;
    rq->pc.emit_ud = rq;
    rq->idle_s = rq->cfg->router.idle_timeout > 0 ?
                 rq->cfg->router.idle_timeout : first_chunk_timeout(rq);
    rq->t_up_start = request_now_us();
    rq->t_up_end = 0;
    if (rq->body_dep == NULL) {    /* never without the defaults */
        pcall_oom(&rq->pc);
        rq->t_up_end = request_now_us();
        attempt_failed(rq);
        return;
    }
    if (rq->pc.embed && embed_supported(&rq->pc) < 0) {
        rq->t_up_end = request_now_us();
        attempt_failed(rq);
        return;
    }
    if (d->prov->flags & PROV_LOCAL) {
        /* No transfer: the answer is ready now. */
        r = rq->pc.embed ? embed_run_local(&rq->pc, &completion) :
            d->prov->run_local(&rq->pc, &completion);
        rq->t_up_end = request_now_us();
        if (r < 0)
            attempt_failed(rq);
        else
            attempt_ok(rq, completion);
        json_decref(completion);
        return;
    }
    request_authorize(rq);
}

static void attempt_next(struct request *rq)
{
    uint64_t now = request_now_us();
    double ra;
    int i;

    if (now >= rq->deadline) {
        if (rq->attempts == 0) {
            rq->last.code = LLMUX_ETIMEOUT;
            rq->last.status = 0;
            rq->last.retry_after = -1;
            snprintf(rq->last.message, sizeof(rq->last.message), "no "
                     "deployment answered within the request timeout");
        }
        fail_last(rq);
        return;
    }
    i = router_pick(&rq->srv->router, &rq->cfg->router, rq->cands,
                    rq->ncands, rq->tried, now / 1000, &ra);
    if (i < 0) {
        rq->last.code = LLMUX_ERATELIMIT;
        rq->last.status = 429;
        rq->last.retry_after = ra;
        snprintf(rq->last.message, sizeof(rq->last.message), "every "
                 "deployment of \"%s\" is cooling down or has used its "
                 "rpm/tpm of the last minute; the first can serve again in "
                 "%.1f s", rq->group, ra);
        hold(&rq->last_dep, NULL);
        group_failed(rq, LLMUX_ERATELIMIT);
        return;
    }
    attempt_start(rq, (size_t)i);
}

/* The last stage: provider + upstream, attempt after attempt. It always
 * ends the request, now (mock) or later (transfers, timers). */
static enum stage_rc attempts_run(struct request *rq)
{
    if (rq->ncands == 0 && rq->last.code < 0) {
        /* route.c's pre-call check failed the first group: its
         * fallbacks, else that error (attempts stay 0). */
        group_failed(rq, rq->last.code);
        return STAGE_AGAIN;
    }
    attempt_next(rq);
    return STAGE_AGAIN;
}

const struct stage stage_attempts = { .name = "attempts",
                                      .run = attempts_run };

/* ---- start -------------------------------------------------------------- */

void request_continue(struct request *rq)
{
    while (rq->stage < NSTAGES) {
        const struct stage *st = stages[rq->stage++];

        if (st->run && st->run(rq) != STAGE_CONTINUE)
            return;
    }
}

static void request_start(struct session *sess, uint64_t id, json_t *body,
                          size_t body_cost, enum request_kind kind)
{
    struct server *s = sess->srv;
    struct request *rq = calloc(1, sizeof(*rq));

    if (rq == NULL) {
        json_decref(body);
        sess->ops->error(sess, id, &(struct session_error){
            .code = LLMUX_EINTERNAL, .message = "out of memory",
            .retry_after = -1 });
        return;
    }
    rq->t_start = request_now_us();
    rq->kind = kind;
    rq->srv = s;
    rq->id = id;
    rq->body = body;
    rq->model = hub_str(body, "model");
    rq->body_cost = body_cost;
    rq->cfg = config_ref(s->cfg);
    rq->pc.err.retry_after = -1;
    rq->opts.num_retries = -1;
    http_req_init(&rq->hreq);
    xfer_init(&rq->xfer, &s->up);
    uv_timer_init(s->loop, &rq->next_timer);
    uv_timer_init(s->loop, &rq->watch_timer);
    rq->next_timer.data = rq->watch_timer.data = rq;
    rq->open_handles = 2;
    rq->caller = sess->caller;    /* access.c refines it */
    request_link(rq, sess);
    s->stats.inflight++;
    s->stats.requests++;
    request_continue(rq);
}

void request_start_chat(struct session *sess, uint64_t id, json_t *body,
                        size_t body_cost)
{
    request_start(sess, id, body, body_cost, REQ_CHAT);
}

void request_start_embed(struct session *sess, uint64_t id, json_t *body,
                         size_t body_cost)
{
    request_start(sess, id, body, body_cost, REQ_EMBED);
}

void request_cancel(struct request *rq, int code, const char *message)
{
    stop_transfer(rq);
    request_fail(rq, code, 0, message, -1);
}

void request_abort(struct request *rq)
{
    rq->outcome = "cancelled/disconnect";
    request_unlink(rq);
    request_free(rq);
}
