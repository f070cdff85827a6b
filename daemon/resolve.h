/* resolve.h -- a model name -> the deployments of its model group.
 * Owns: router_resolve (the one resolution the request path calls) and
 * the router's bounded LRU cache of derived deployments: those made from
 * wildcard templates and for "provider/model" names not in model_list.
 * The config stays frozen; derived deployments live here, and a cache
 * full of other callers' names evicts the least recently used entry
 * instead of failing. After a reload every entry is derived again from the
 * new config, and keeps its statistics when its deployment key did not
 * change (router_prune calls resolve_reload). */
#ifndef LLMUX_RESOLVE_H
#define LLMUX_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct deployment;
struct router;

/* Names whose derived deployments are kept: enough for every model a
 * team uses at once, and small enough that names callers invent cost a
 * bounded amount (each entry: a name of at most DEPLOYMENT_MAX_NAME
 * bytes and its deployments). */
#define RESOLVE_CACHE_MAX 256
/* Derived models without a price that are warned about, each once. */
#define RESOLVE_UNPRICED_MAX 64

struct rcache_entry;

struct rcache {
    struct rcache_entry **buckets;  /* owned, RESOLVE_BUCKETS chains */
    struct rcache_entry  *head;     /* most recently used */
    struct rcache_entry  *tail;     /* evicted first */
    size_t                n, max;
    const struct config  *cfg;      /* the entries were derived from it;
                                     * borrowed (the server holds it) */
};

void rcache_init(struct rcache *c, size_t max);
void rcache_free(struct rcache *c);

/* Finds the deployments of the model group name asks for, after
 * model_group_alias: the model_list entries with that model_name (in file
 * order); else those of the most specific wildcard group (model_name "*",
 * or a prefix then '*') that matches, made concrete for this name; else
 * an implicit deployment for "provider/model". Up to max go into out.
 *
 * Returns the count (>= 1), or a negative code with err set: EBADREQ for
 * a name longer than DEPLOYMENT_MAX_NAME (checked before anything is
 * copied), ENOTFOUND for unknown names and providers. It never fails
 * because other callers used many names.
 *
 * Ownership: each out[i] carries one reference for the caller, released
 * with deployment_unref() when the request ends. It keeps the deployment
 * (and what it borrows: its config, its template, its statistics) alive
 * whatever the cache evicts or a reload swaps. cfg is the request's own
 * config; a request that outlived a reload resolves against its old
 * config, uncached. */
int router_resolve(struct router *r, const struct config *cfg,
                   const char *name, struct deployment **out, size_t max,
                   char *err, size_t errlen);

/* After a reload to cfg (router_prune): derives every entry again. */
void resolve_reload(struct router *r, const struct config *cfg);

/* Calls fn for each cached derived deployment, most recent first
 * (status). */
void resolve_each(const struct router *r,
                  void (*fn)(const struct deployment *d, void *ud),
                  void *ud);

#endif
