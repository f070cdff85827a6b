/* cache_redis.h -- the response cache's Redis backend.
 * Owns: one hiredis async connection on the libuv loop (hiredis's own
 * libuv adapter), kept and re-established with backoff; GET, SET PX and
 * the SCAN/UNLINK walk of a flush. A Redis that is down answers nothing:
 * its lookups are misses and its stores are dropped, and the outage is
 * logged once, when it starts, and once when it ends. */
#ifndef LLMUX_CACHE_REDIS_H
#define LLMUX_CACHE_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct cache_settings;
struct cache_redis;

struct cache_redis_stats {
    int      up;              /* connected now */
    uint64_t errors;          /* commands that failed (down, error reply) */
    uint64_t outages;         /* times the connection was lost or refused */
};

/* Starts connecting to cs's host and port (AUTH with its password). 0 or
 * -ENOMEM. */
int  cache_redis_new(uv_loop_t *loop, const struct cache_settings *cs,
                     struct cache_redis **ret);
/* Disconnects; pending GETs get their callback with no value first.
 * Accepts NULL. */
void cache_redis_free(struct cache_redis *r);
/* Same host, port and password as cs: the connection can be kept. */
int  cache_redis_same(const struct cache_redis *r,
                      const struct cache_settings *cs);

/* A GET's answer: val NULL when there is none (a miss, or Redis failed).
 * val is borrowed for the call. */
typedef void (*cache_redis_cb)(void *ud, const char *val, size_t len);
/* Sends GET key; cb is called exactly once, later. < 0 when Redis is not
 * connected: then cb is never called. */
int  cache_redis_get(struct cache_redis *r, const char *key,
                     cache_redis_cb cb, void *ud);
/* SET key val PX ttl_ms, not waited for. */
void cache_redis_set(struct cache_redis *r, const char *key,
                     const char *val, size_t len, uint64_t ttl_ms);
/* Deletes the keys that start with prefix, in the background. */
void cache_redis_flush(struct cache_redis *r, const char *prefix);
void cache_redis_stats(const struct cache_redis *r,
                       struct cache_redis_stats *ret);

#endif
