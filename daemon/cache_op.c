/* cache_op.c -- the "cache" op (cache.h): `llmux cache stats` (anyone)
 * and `llmux cache flush [--namespace N]` (root and the admin_group),
 * answered through the session like the other ops. */
#include "access.h"
#include "cache.h"
#include "cache_redis.h"
#include "config.h"
#include "hub.h"
#include "llmux-errno.h"
#include "log.h"
#include "server.h"
#include "session.h"

#include <stdio.h>
#include <string.h>

static void op_fail(struct session *s, uint64_t id, int code,
                    const char *msg)
{
    s->ops->error(s, id, &(struct session_error){ .code = code,
                  .message = msg, .retry_after = -1 });
}

static void op_answer(struct session *s, uint64_t id, json_t *body)
{
    if (body == NULL) {
        op_fail(s, id, LLMUX_EINTERNAL, "out of memory");
        return;
    }
    if (s->ops->completion(s, id, body) < 0 ||
        s->ops->done(s, id, &(struct session_done){ .model = NULL }) < 0)
        op_fail(s, id, LLMUX_EINTERNAL, "answer too large");
    json_decref(body);
}

static json_t *stats(const struct server *srv)
{
    struct cache_counts c;

    cache_counts(&srv->cache, srv->cfg, &c);
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
                     "s:I,s:b}",
                     "type", c.type, "hits", (json_int_t)c.hits,
                     "misses", (json_int_t)c.misses,
                     "stores", (json_int_t)c.stores,
                     "evictions", (json_int_t)c.evictions,
                     "expired", (json_int_t)c.expired,
                     "entries", (json_int_t)c.entries,
                     "bytes", (json_int_t)c.bytes,
                     "max_bytes", (json_int_t)c.max_bytes,
                     "max_entries", (json_int_t)c.max_entries,
                     "lookup_timeouts", (json_int_t)c.lookup_timeouts,
                     "backend_errors", (json_int_t)c.backend_errors,
                     "outages", (json_int_t)c.outages,
                     "redis_up", c.redis_up);
}

/* Drops the namespace's entries (the configured one when none is given):
 * the memory cache at once, Redis's keys in the background. */
static void flush(struct session *s, uint64_t id, const json_t *body)
{
    struct server *srv = s->srv;
    const char *ns = hub_str(body, "namespace");
    char prefix[160];
    size_t n;

    if (!access_admin(srv->cfg, srv->uid, &s->caller)) {
        log_warn("refused cache flush from pid %d uid %u: not an admin",
                 (int)s->caller.pid, (unsigned)s->caller.uid);
        op_fail(s, id, LLMUX_EPERMISSION, "cache flush is for root and the "
                "admin_group only");
        return;
    }
    if (ns == NULL)
        ns = srv->cfg->cache.ns ? srv->cfg->cache.ns : "llmux";
    if (*ns == '\0' || strlen(ns) > 128) {
        op_fail(s, id, LLMUX_EBADREQ, "a namespace is 1-128 bytes");
        return;
    }
    snprintf(prefix, sizeof(prefix), "%s:", ns);
    n = cache_mem_flush(&srv->cache.mem, prefix);
    if (srv->cache.redis)
        cache_redis_flush(srv->cache.redis, prefix);
    log_info("cache: flushed namespace %s (%zu memory entries%s)", ns, n,
             srv->cache.redis ? ", Redis keys in the background" : "");
    op_answer(s, id, json_pack("{s:s,s:I,s:b}", "namespace", ns,
                               "flushed", (json_int_t)n, "redis",
                               srv->cache.redis != NULL));
}

void cache_op(struct session *s, uint64_t id, const json_t *body)
{
    const char *action = hub_str(body, "action");

    if (action == NULL || strcmp(action, "stats") == 0)
        op_answer(s, id, stats(s->srv));
    else if (strcmp(action, "flush") == 0)
        flush(s, id, body);
    else
        op_fail(s, id, LLMUX_EBADREQ, "cache: the action is stats or "
                "flush");
}
