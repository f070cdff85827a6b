/* cache.c -- the cache stage: an exact-match hit answers here (a
 * completion, or chunks when the caller streams) and costs nothing; a
 * miss remembers to store the answer, which the end hook writes once the
 * request ended well. The backends are cache_mem.c and cache_redis.c; a
 * Redis lookup waits at most cache_params.lookup_timeout_ms, then the
 * request goes on as a miss. */
#include "cache.h"
#include "cache_redis.h"
#include "config.h"
#include "deployment.h"
#include "hub.h"
#include "llmux-errno.h"
#include "log.h"
#include "request.h"
#include "resolve.h"
#include "server.h"
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A stream's text is kept up to this many bytes; past it, not stored. */
#define STREAM_TEXT_MAX (16u * 1024 * 1024)

/* Redis entries are "<stored, ms since the epoch> <completion JSON>", so
 * s-maxage works across processes; the clock is the wall clock. */
static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the backend -------------------------------------------------------- */

int cache_configure(struct cache *c, uv_loop_t *loop,
                    const struct config *cfg)
{
    const struct cache_settings *cs = &cfg->cache;
    int redis = cachecfg_on(cs) && cs->type == CACHE_REDIS;

    if (c->mem.max_entries == 0 && c->mem.tab == NULL)
        cache_mem_init(&c->mem, (size_t)cs->max_bytes,
                       (size_t)cs->max_entries);
    else
        cache_mem_limits(&c->mem, (size_t)cs->max_bytes,
                         (size_t)cs->max_entries);
    if (c->redis && (!redis || !cache_redis_same(c->redis, cs))) {
        cache_redis_free(c->redis);
        c->redis = NULL;
    }
    if (redis && c->redis == NULL) {
        cache_mem_flush(&c->mem, NULL);   /* no longer read: give it back */
        return cache_redis_new(loop, cs, &c->redis);
    }
    return 0;
}

const char *cache_backend(const struct cache *c)
{
    return c->redis ? "redis" : "local";
}

void cache_free(struct cache *c)
{
    cache_redis_free(c->redis);
    c->redis = NULL;
    cache_mem_free(&c->mem);
}

void cache_counts(const struct cache *c, const struct config *cfg,
                  struct cache_counts *ret)
{
    struct cache_redis_stats rs = { 0 };

    if (c->redis)
        cache_redis_stats(c->redis, &rs);
    *ret = (struct cache_counts){
        .type = !cachecfg_on(&cfg->cache) ? "off" :
                cache_backend(c),
        .hits = c->hits, .misses = c->misses, .stores = c->stores,
        .evictions = c->mem.evictions, .expired = c->mem.expired,
        .entries = c->mem.n, .bytes = c->mem.bytes,
        .max_bytes = c->mem.max_bytes, .max_entries = c->mem.max_entries,
        .lookup_timeouts = c->lookup_timeouts, .backend_errors = rs.errors,
        .outages = rs.outages, .redis_up = rs.up };
}

/* ---- a hit -------------------------------------------------------------- */

/* The stored completion as a stream: one chunk with every choice's
 * message, one with the finish reasons, the usage chunk if asked. */
static int replay_chunks(struct request *rq, const json_t *comp,
                         uint64_t *ret_chunks)
{
    const char *id = hub_str(comp, "id"), *model = hub_str(comp, "model");
    json_int_t created = json_integer_value(json_object_get(comp,
                                                            "created"));
    json_t *choices = json_object_get(comp, "choices"), *ch, *c[3];
    size_t i, n = 0;
    int r = 0;

    for (int k = 0; k < 3; k++)
        c[k] = hub_chunk_new(id ? id : "", model ? model : "", created);
    json_array_foreach(choices, i, ch) {
        json_t *msg = json_deep_copy(json_object_get(ch, "message"));
        json_t *fr = json_object_get(ch, "finish_reason");
        json_t *tc = json_object_get(msg, "tool_calls"), *t;
        json_t *idx = json_integer((json_int_t)i);
        size_t j;

        json_array_foreach(tc, j, t)     /* a delta's calls are indexed */
            json_object_set_new(t, "index", json_integer((json_int_t)j));
        json_array_append_new(json_object_get(c[0], "choices"), json_pack(
            "{s:O,s:o,s:n}", "index", idx, "delta",
            msg ? msg : json_object(), "finish_reason"));
        json_array_append_new(json_object_get(c[1], "choices"), json_pack(
            "{s:O,s:{},s:O}", "index", idx, "delta", "finish_reason",
            fr ? fr : json_null()));
        json_decref(idx);
    }
    if (c[2] && json_object_get(comp, "usage"))
        json_object_set(c[2], "usage", json_object_get(comp, "usage"));
    for (int k = 0; k < 3 && r == 0; k++) {
        if (k == 2 && !(rq->opts.want_usage && json_object_get(comp,
                                                             "usage")))
            break;
        if (c[k] == NULL)
            r = LLMUX_EINTERNAL;
        else if ((r = rq->sess->ops->chunk(rq->sess, rq->id, c[k])) == 0)
            n++;
    }
    for (int k = 0; k < 3; k++)
        json_decref(c[k]);
    *ret_chunks = n;
    return r;
}

/* Answers rq from val; < 0 (nothing sent) when val is not a completion,
 * so the request goes on as a miss. */
/* Metrics count a hit under its group's label, a configured name (the
 * caller's string could be anything): the label of the group's first
 * deployment, which outlives the reference taken here (deployment.h). */
static const char *hit_label(struct request *rq)
{
    struct deployment *d;
    const char *label;
    char err[8];

    if (router_resolve(&rq->srv->router, rq->cfg, rq->group, &d, 1, err,
                       sizeof(err)) < 1)
        return NULL;
    label = d->label_group;
    deployment_unref(d);
    return label;
}

static int answer_hit(struct request *rq, const char *val, size_t len)
{
    struct session *s = rq->sess;
    json_t *comp = json_loadb(val, len, 0, NULL);
    struct session_done dn = { 0 };
    uint64_t now;
    int r;

    /* An entry of the other call type cannot share a key (cachekey.h);
     * the shape is checked all the same. */
    if (!json_is_object(comp) || !json_is_array(json_object_get(comp,
            rq->kind == REQ_EMBED ? "data" : "choices"))) {
        json_decref(comp);
        return -1;
    }
    rq->srv->cache.hits++;
    rq->cache_hit = 1;
    /* The group the key named: the ledger logs it (route never ran). */
    rq->group = config_alias(rq->cfg, hub_str(rq->body, "model"));
    rq->hit_label = hit_label(rq);
    rq->cache_status = "hit";
    rq->cache->store = 0;
    r = rq->opts.stream ? replay_chunks(rq, comp, &dn.chunks) :
        session_answer(s, rq->id, comp, rq->kind == REQ_EMBED);
    if (r < 0) {
        json_decref(comp);
        request_fail(rq, LLMUX_EINTERNAL, 0, "the cached answer cannot be "
                     "sent", -1);
        return 0;
    }
    now = request_now_us();
    dn.usage = json_object_get(comp, "usage");
    dn.model = hub_str(comp, "model") ? hub_str(comp, "model") : "";
    dn.provider = "cache";
    dn.group = rq->group;
    dn.deployment = cache_backend(&rq->srv->cache);
    dn.cache_hit = 1;
    dn.cache_key = rq->cache->key;
    dn.timing.total_us = dn.timing.overhead_us = now - rq->t_start;
    r = s->ops->done(s, rq->id, &dn);
    json_decref(comp);
    if (r < 0) {
        request_fail(rq, LLMUX_EINTERNAL, 0, "the end of the cached answer "
                     "is larger than a frame", -1);
        return 0;
    }
    request_end(rq, "ok");
    return 0;
}

/* ---- the Redis lookup --------------------------------------------------- */

/* A GET in flight for a request. It lives until both its GET callback
 * and its timer's close callback ran; rq is NULL once the request stopped
 * waiting (answer, budget, or the request ended). */
struct cache_wait {
    struct request *rq;
    uv_timer_t      timer;
    int             refs, closing;
};

static void wait_closed(uv_handle_t *h)
{
    struct cache_wait *w = h->data;

    if (--w->refs == 0)
        free(w);
}

/* Detaches w from its request and closes the timer. */
static struct request *wait_end(struct cache_wait *w)
{
    struct request *rq = w->rq;

    w->rq = NULL;
    if (rq)
        rq->cache->wait = NULL;
    if (!w->closing) {
        w->closing = 1;
        uv_close((uv_handle_t *)&w->timer, wait_closed);
    }
    return rq;
}

/* Parses "<stored ms> <json>"; NULL when it is older than min_ms. */
static const char *entry_body(const char *val, size_t len, uint64_t min_ms,
                              size_t *ret_len)
{
    const char *sp = memchr(val, ' ', len < 24 ? len : 24);
    char num[24];

    if (sp == NULL)
        return NULL;
    memcpy(num, val, (size_t)(sp - val));
    num[sp - val] = '\0';
    if (strtoull(num, NULL, 10) < min_ms)
        return NULL;
    *ret_len = len - (size_t)(sp + 1 - val);
    return sp + 1;
}

static uint64_t min_stored_ms(const struct request *rq)
{
    double age = rq->opts.cache.s_maxage;
    uint64_t now = wall_ms();

    if (age < 0)
        return 0;
    return (double)now > age * 1000 ? now - (uint64_t)(age * 1000) : 0;
}

static void miss(struct request *rq)
{
    rq->srv->cache.misses++;
    rq->cache_status = "miss";
}

static void on_redis_get(void *ud, const char *val, size_t len)
{
    struct cache_wait *w = ud;
    struct request *rq = wait_end(w);
    const char *body;
    size_t blen;

    if (--w->refs == 0)
        free(w);
    if (rq == NULL)
        return;
    if (val && (body = entry_body(val, len, min_stored_ms(rq), &blen)) &&
        answer_hit(rq, body, blen) == 0)
        return;
    miss(rq);
    request_continue(rq);
}

static void on_budget(uv_timer_t *t)
{
    struct cache_wait *w = t->data;
    struct request *rq = wait_end(w);

    if (rq == NULL)
        return;
    rq->srv->cache.lookup_timeouts++;
    miss(rq);
    request_continue(rq);
}

/* STAGE_AGAIN while the GET runs; STAGE_CONTINUE (a miss) when Redis is
 * not there to ask. */
static enum stage_rc redis_lookup(struct request *rq)
{
    struct cache_wait *w = calloc(1, sizeof(*w));
    int budget = rq->cfg->cache.lookup_ms;

    if (w == NULL) {
        miss(rq);
        return STAGE_CONTINUE;
    }
    w->rq = rq;
    w->refs = 2;
    uv_timer_init(rq->srv->loop, &w->timer);
    w->timer.data = w;
    if (cache_redis_get(rq->srv->cache.redis, rq->cache->key, on_redis_get,
                        w) < 0) {
        w->refs = 1;
        wait_end(w);
        miss(rq);
        return STAGE_CONTINUE;
    }
    rq->cache->wait = w;
    uv_timer_start(&w->timer, on_budget, budget > 0 ? (uint64_t)budget : 1,
                   0);
    return STAGE_AGAIN;
}

/* ---- the stage ---------------------------------------------------------- */

/* Whether this request uses the cache at all. */
static int wanted(const struct request *rq)
{
    const struct cache_settings *cs = &rq->cfg->cache;
    const struct cache_ctl *cc = &rq->opts.cache;

    if (!cachecfg_on(cs) || !(cs->call_types & (rq->kind == REQ_EMBED ?
                                                CACHE_CALL_EMBEDDING :
                                                CACHE_CALL_CHAT)))
        return 0;
    if (cs->default_off && !cc->use_cache)
        return 0;
    return !(cc->no_cache && cc->no_store);
}

static int make_req(struct request *rq)
{
    const struct cache_settings *cs = &rq->cfg->cache;
    const struct cache_ctl *cc = &rq->opts.cache;
    const char *model = rq->model;
    const char *ns = cc->ns ? cc->ns : cs->ns ? cs->ns : "llmux";
    struct cache_req *cr = calloc(1, sizeof(*cr));
    char caller[32];
    double ttl = cc->ttl >= 0 ? cc->ttl : cachecfg_ttl(cs);

    if (cr == NULL)
        return LLMUX_EINTERNAL;
    /* Who the answer is for: the uid until virtual keys exist. */
    snprintf(caller, sizeof(caller), "uid:%u", (unsigned)rq->caller.uid);
    if (cachekey_make(rq->body, config_alias(rq->cfg, model),
                      rq->kind == REQ_EMBED ? "embedding" : "chat",
                      cs->per_caller ? caller : NULL, ns, cr->key) < 0) {
        free(cr);
        return LLMUX_EINTERNAL;
    }
    buf_init(&cr->text, STREAM_TEXT_MAX);
    cr->ttl_ms = (uint64_t)(ttl * 1000 + 0.5);
    cr->store = !cc->no_store && cr->ttl_ms > 0;
    rq->cache = cr;
    return 0;
}

static enum stage_rc cache_run(struct request *rq)
{
    const char *val;
    size_t len;

    if (!wanted(rq))
        return STAGE_CONTINUE;
    if (make_req(rq) < 0)
        return STAGE_CONTINUE;      /* out of memory: uncached, not failed */
    if (rq->opts.cache.no_cache) {
        rq->cache_status = "skip";
        return STAGE_CONTINUE;
    }
    if (rq->srv->cache.redis)
        return redis_lookup(rq);
    if (cache_mem_get(&rq->srv->cache.mem, rq->cache->key, wall_ms(),
                      min_stored_ms(rq), &val, &len) &&
        answer_hit(rq, val, len) == 0)
        return STAGE_ANSWERED;
    miss(rq);
    return STAGE_CONTINUE;
}

/* ---- storing ------------------------------------------------------------ */

void cache_note_completion(struct request *rq, json_t *completion)
{
    json_decref(rq->cache->completion);
    rq->cache->completion = json_incref(completion);
}

void cache_note_chunk(struct request *rq, const json_t *chunk)
{
    struct cache_req *cr = rq->cache;
    json_t *choices = json_object_get(chunk, "choices"), *ch, *d;
    const char *s;
    size_t i;

    if (!cr->store || cr->unstorable)
        return;
    json_array_foreach(choices, i, ch) {
        d = json_object_get(ch, "delta");
        if (json_integer_value(json_object_get(ch, "index")) != 0 ||
            json_object_get(d, "tool_calls") ||
            json_object_get(d, "function_call")) {
            cr->unstorable = 1;
            return;
        }
        if ((s = hub_str(d, "content")) != NULL &&
            buf_adds(&cr->text, s) < 0)
            cr->unstorable = 1;
        if ((s = hub_str(ch, "finish_reason")) != NULL)
            snprintf(cr->finish, sizeof(cr->finish), "%s", s);
    }
}

void cache_note_chunk_json(struct request *rq, const char *json, size_t len)
{
    json_t *chunk;

    if (!rq->cache->store || rq->cache->unstorable)
        return;
    if ((chunk = json_loadb(json, len, 0, NULL)) == NULL) {
        rq->cache->unstorable = 1;
        return;
    }
    cache_note_chunk(rq, chunk);
    json_decref(chunk);
}

/* The completion a stream that ended well amounts to, or NULL. */
static json_t *assemble(const struct request *rq)
{
    const struct cache_req *cr = rq->cache;
    json_t *c;

    if (cr->unstorable || cr->finish[0] == '\0')
        return NULL;
    c = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:{s:s,s:s%},s:s}]}",
                  "id", rq->chunk_id, "object", "chat.completion",
                  "created", rq->chunk_created, "model", rq->chunk_model,
                  "choices", "index", 0, "message", "role", "assistant",
                  "content", cr->text.p ? cr->text.p : "", cr->text.len,
                  "finish_reason", cr->finish);
    if (c && rq->pc.usage)
        json_object_set(c, "usage", rq->pc.usage);
    return c;
}

static void store(struct request *rq)
{
    struct cache *c = &rq->srv->cache;
    struct cache_req *cr = rq->cache;
    json_t *comp = rq->opts.stream ? assemble(rq) :
                   json_incref(cr->completion);
    char *text, head[24];
    struct buf v;
    int n;

    if (comp == NULL)
        return;
    text = json_dumps(comp, JSON_COMPACT);
    json_decref(comp);
    if (text == NULL)
        return;
    if (c->redis) {
        n = snprintf(head, sizeof(head), "%llu ",
                     (unsigned long long)wall_ms());
        buf_init(&v, strlen(text) + sizeof(head));
        if (buf_add(&v, head, (size_t)n) == 0 && buf_adds(&v, text) == 0) {
            cache_redis_set(c->redis, cr->key, v.p, v.len, cr->ttl_ms);
            c->stores++;
        }
        buf_free(&v);
    } else if (cache_mem_put(&c->mem, cr->key, text, strlen(text),
                             wall_ms(), cr->ttl_ms) == 1)
        c->stores++;
    free(text);
}

static void cache_end(struct request *rq)
{
    struct cache_req *cr = rq->cache;

    if (cr == NULL)
        return;
    if (cr->wait)
        wait_end(cr->wait);
    if (cr->store && rq->ended && rq->outcome &&
        strcmp(rq->outcome, "ok") == 0)
        store(rq);
    json_decref(cr->completion);
    buf_free(&cr->text);
    free(cr);
    rq->cache = NULL;
}

const struct stage stage_cache = { .name = "cache", .run = cache_run,
                                   .end = cache_end };
