/* cache.h -- the response cache: its state in struct server and the
 * request's part of it.
 * Owns: struct cache (the backend, memory or Redis, and the counters
 * behind llmux_cache_*_total), struct cache_req (one request's key, what
 * to store, the Redis lookup in flight, the stream being assembled), the
 * cache op (stats, flush). The stage itself is stage_cache (stage.h). */
#ifndef LLMUX_CACHE_H
#define LLMUX_CACHE_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "cache_mem.h"
#include "cachekey.h"

struct cache_redis;
struct config;
struct request;
struct session;

struct cache {
    struct cache_mem    mem;      /* used when redis is NULL */
    struct cache_redis *redis;    /* owned; type redis */
    uint64_t            hits, misses, stores, lookup_timeouts;
};

/* What stats and metrics show. */
struct cache_counts {
    const char *type;             /* "off", "local" or "redis" */
    uint64_t    hits, misses, stores, evictions, expired;
    uint64_t    entries, bytes, max_bytes, max_entries;
    uint64_t    lookup_timeouts, backend_errors, outages;
    int         redis_up;
};

struct cache_wait;

/* One request's cache state; only cache.c writes it, request.c reads
 * key for done. */
struct cache_req {
    char               key[CACHEKEY_MAX];
    int                store;     /* write the answer at the end */
    uint64_t           ttl_ms;
    struct cache_wait *wait;      /* a Redis GET in flight, or NULL */
    json_t            *completion;/* the non-stream answer (a reference) */
    struct buf         text;      /* the stream's content so far */
    char               finish[32];/* its finish_reason */
    int                unstorable;/* the stream had what one completion
                                   * cannot say (tool calls, n > 1) */
};

/* At start and on every reload: the backend cfg asks for (a Redis
 * connection is kept when its address is the same). 0 or -ENOMEM. */
int  cache_configure(struct cache *c, uv_loop_t *loop,
                     const struct config *cfg);
void cache_free(struct cache *c);
/* "redis" or "local": the backend, as status, done frames and metrics
 * name it. */
const char *cache_backend(const struct cache *c);
void cache_counts(const struct cache *c, const struct config *cfg,
                  struct cache_counts *ret);

/* The answer going out, for the end hook to store (request.c calls them
 * when rq->cache is set). */
void cache_note_completion(struct request *rq, json_t *completion);
void cache_note_chunk(struct request *rq, const json_t *chunk);
void cache_note_chunk_json(struct request *rq, const char *json,
                           size_t len);

/* The "cache" op: body {"action": "stats"} or {"action": "flush",
 * "namespace": N} (flush is for admins). */
void cache_op(struct session *s, uint64_t id, const json_t *body);

#endif
