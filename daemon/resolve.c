/* resolve.c -- model name -> model group -> deployments, and the bounded
 * cache of the deployments the router derives (see resolve.h). A chained
 * hash on the name finds an entry; a doubly linked list orders entries by
 * use, so eviction takes the least recently used one in O(1). */
#include "resolve.h"
#include "config.h"
#include "dprice.h"
#include "llmux-errno.h"
#include "log.h"
#include "router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESOLVE_BUCKETS 512     /* a power of two, > RESOLVE_CACHE_MAX */

struct rcache_entry {
    struct rcache_entry *hnext;            /* bucket chain */
    struct rcache_entry *prev, *next;      /* use order, head first */
    uint64_t             hash;
    char                *name;             /* owned: the group's name */
    size_t               n;
    struct deployment   *deps[ROUTER_MAX_GROUP]; /* one reference each */
};

/* FNV-1a: names are short and chosen by callers; a chain is at most
 * RESOLVE_CACHE_MAX long whatever they choose. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 0x100000001b3ull;
    return h;
}

void rcache_init(struct rcache *c, size_t max)
{
    memset(c, 0, sizeof(*c));
    c->max = max;
}

static void entry_free(struct rcache_entry *e)
{
    for (size_t i = 0; i < e->n; i++)
        deployment_unref(e->deps[i]);
    free(e->name);
    free(e);
}

/* Takes e out of the hash and the use list (it stays allocated). */
static void unlink_entry(struct rcache *c, struct rcache_entry *e)
{
    struct rcache_entry **p = &c->buckets[e->hash & (RESOLVE_BUCKETS - 1)];

    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    c->n--;
}

static void link_front(struct rcache *c, struct rcache_entry *e)
{
    struct rcache_entry **b = &c->buckets[e->hash & (RESOLVE_BUCKETS - 1)];

    e->hnext = *b;
    *b = e;
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
    c->n++;
}

void rcache_free(struct rcache *c)
{
    struct rcache_entry *e = c->head, *next;

    for (; e; e = next) {
        next = e->next;
        entry_free(e);
    }
    free(c->buckets);
    memset(c, 0, sizeof(*c));
}

static struct rcache_entry *lookup(const struct rcache *c, const char *name,
                                   uint64_t h)
{
    struct rcache_entry *e;

    if (c->buckets == NULL)
        return NULL;
    for (e = c->buckets[h & (RESOLVE_BUCKETS - 1)]; e; e = e->hnext)
        if (e->hash == h && strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

/* ---- deriving ----------------------------------------------------------- */

/* The deployments of the most specific wildcard group matching name, made
 * concrete: each template's model with its '*' replaced by what the
 * group's '*' matched (group "openai/" + '*' asked for "openai/gpt-4o"
 * calls model "openai/gpt-4o"). 0 when no wildcard group matches. Each
 * out[i] is a new deployment with one reference. */
static int derive_wild(const struct config *cfg, const char *name,
                       struct deployment **out, size_t max, char *err,
                       size_t errlen)
{
    const struct deployment *best = NULL;
    const char *cap = NULL;
    size_t caplen = 0, n = 0;
    long bestlen = -1;

    for (size_t i = 0; i < cfg->nwild; i++) {
        const char *cp;
        size_t cl;
        long m = deployment_wild_match(cfg->wild[i]->model_name, name, &cp,
                                       &cl);

        if (cfg->wild[i]->unusable)
            continue;    /* said at load; matches nothing */
        if (m > bestlen) {
            best = cfg->wild[i];
            bestlen = m;
            cap = cp;
            caplen = cl;
        }
    }
    if (best == NULL)
        return 0;
    for (size_t i = 0; i < cfg->nwild && n < max; i++) {
        const struct deployment *t = cfg->wild[i];
        const char *star = strchr(t->model, '*');
        char model[DEPLOYMENT_MAX_NAME * 2 + 64];
        int r;

        if (strcmp(t->model_name, best->model_name) != 0 || t->unusable)
            continue;
        if (star)
            snprintf(model, sizeof(model), "%.*s%.*s%s",
                     (int)(star - t->model), t->model, (int)caplen, cap,
                     star + 1);
        else
            snprintf(model, sizeof(model), "%s", t->model);
        if ((r = deployment_derive(cfg, t, name, model, &out[n], err,
                                   errlen)) < 0) {
            while (n > 0)
                deployment_unref(out[--n]);
            return r;
        }
        n++;
    }
    return (int)n;
}

/* Gives each of the n derived deployments its statistics: the one of the
 * same key in old (an entry of the previous config), else new ones. */
static int attach_stats(struct deployment **d, size_t n,
                        const struct rcache_entry *old)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; old && j < old->n && d[i]->st == NULL; j++)
            if (strcmp(old->deps[j]->key, d[i]->key) == 0)
                d[i]->st = router_stat_ref(old->deps[j]->st);
        if (d[i]->st == NULL && (d[i]->st = router_stat_new()) == NULL)
            return -ENOMEM;
    }
    return 0;
}

/* The derived group for name (not in model_list): wildcard, else
 * implicit. Returns the count or < 0 with err set. */
static int derive_group(const struct config *cfg, const char *name,
                        struct deployment **out, char *err, size_t errlen,
                        const struct rcache_entry *old)
{
    int n = derive_wild(cfg, name, out, ROUTER_MAX_GROUP, err, errlen);

    if (n == 0 && (n = deployment_derive(cfg, NULL, name, name, &out[0],
                                         err, errlen)) == 0)
        n = 1;
    if (n < 0)
        return n;
    if (attach_stats(out, (size_t)n, old) < 0) {
        for (int i = 0; i < n; i++)
            deployment_unref(out[i]);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    return n;
}

/* A new entry for name holding the n references of d, in front; the
 * least recently used entry goes when the cache is full. */
static int insert(struct rcache *c, const char *name, uint64_t h,
                  struct deployment **d, size_t n)
{
    struct rcache_entry *e;

    if (c->buckets == NULL &&
        (c->buckets = calloc(RESOLVE_BUCKETS, sizeof(*c->buckets))) == NULL)
        return -ENOMEM;
    if ((e = calloc(1, sizeof(*e))) == NULL ||
        (e->name = strdup(name)) == NULL) {
        free(e);
        return -ENOMEM;
    }
    e->hash = h;
    e->n = n;
    memcpy(e->deps, d, n * sizeof(*d));
    while (c->n >= c->max && c->tail) {
        struct rcache_entry *victim = c->tail;

        unlink_entry(c, victim);
        entry_free(victim);   /* requests keep their own references */
    }
    link_front(c, e);
    return 0;
}

/* ---- the request's entry point ------------------------------------------ */

static size_t give(struct deployment *const *d, size_t n,
                   struct deployment **out, size_t max)
{
    size_t k = 0;

    for (; k < n && k < max; k++)
        out[k] = deployment_ref(d[k]);
    return k;
}

/* A derived deployment without any price: said once per model. */
static void warn_unpriced(struct router *r, const struct deployment *d)
{
    char msg[DEPLOYMENT_MAX_NAME * 2 + 256];
    uint64_t h;

    if (!dprice_unpriced(d) || r->nunpriced >= RESOLVE_UNPRICED_MAX)
        return;
    h = name_hash(d->model);
    for (size_t i = 0; i < r->nunpriced; i++)
        if (r->unpriced[i] == h)
            return;
    r->unpriced[r->nunpriced++] = h;
    dprice_warning(d, msg, sizeof(msg));
    log_warn("%s%s", msg, r->nunpriced == RESOLVE_UNPRICED_MAX ?
             " (the last such model said; others are not)" : "");
}

int router_resolve(struct router *r, const struct config *cfg,
                   const char *name, struct deployment **out, size_t max,
                   char *err, size_t errlen)
{
    struct rcache *c = &r->cache;
    struct deployment *d[ROUTER_MAX_GROUP];
    struct rcache_entry *e;
    size_t n = 0;
    uint64_t h;
    int k;

    if (max == 0)
        return LLMUX_EINTERNAL;
    if (strnlen(name, DEPLOYMENT_MAX_NAME + 1) > DEPLOYMENT_MAX_NAME) {
        snprintf(err, errlen, "the model name is longer than %d bytes",
                 DEPLOYMENT_MAX_NAME);
        return LLMUX_EBADREQ;
    }
    name = config_alias(cfg, name);
    for (size_t i = 0; i < cfg->ndeps && n < max; i++)
        if (strcmp(cfg->deps[i]->model_name, name) == 0)
            out[n++] = deployment_ref(cfg->deps[i]);
    if (n > 0)
        return (int)n;
    if (c->cfg == NULL)
        c->cfg = cfg;   /* the first config; reloads set it after */
    h = name_hash(name);
    if (c->cfg == cfg && (e = lookup(c, name, h)) != NULL) {
        unlink_entry(c, e);
        link_front(c, e);
        return (int)give(e->deps, e->n, out, max);
    }
    if ((k = derive_group(cfg, name, d, err, errlen, NULL)) < 0)
        return k;
    for (int i = 0; i < k; i++)
        warn_unpriced(r, d[i]);
    n = give(d, (size_t)k, out, max);
    /* A request of an older config gets its deployments uncached. */
    if (c->cfg != cfg || insert(c, name, h, d, (size_t)k) < 0)
        while (k > 0)
            deployment_unref(d[--k]);
    return (int)n;
}

/* ---- reload ------------------------------------------------------------- */

void resolve_reload(struct router *r, const struct config *cfg)
{
    struct rcache *c = &r->cache;
    struct rcache_entry *old = c->tail, *prev;
    char err[256];

    /* Detach every entry, then put them back derived from cfg, oldest
     * first, each in front: the use order survives. */
    c->cfg = cfg;
    c->head = c->tail = NULL;
    c->n = 0;
    if (c->buckets)
        memset(c->buckets, 0, RESOLVE_BUCKETS * sizeof(*c->buckets));
    for (; old; old = prev) {
        struct deployment *d[ROUTER_MAX_GROUP];
        int k = -1, configured = 0;

        prev = old->prev;
        for (size_t i = 0; i < cfg->ndeps && !configured; i++)
            configured = strcmp(cfg->deps[i]->model_name, old->name) == 0;
        if (!configured)
            k = derive_group(cfg, old->name, d, err, sizeof(err), old);
        if (k > 0 && insert(c, old->name, old->hash, d, (size_t)k) < 0)
            while (k > 0)
                deployment_unref(d[--k]);
        entry_free(old);
    }
}

void resolve_each(const struct router *r,
                  void (*fn)(const struct deployment *d, void *ud),
                  void *ud)
{
    for (const struct rcache_entry *e = r->cache.head; e; e = e->next)
        for (size_t i = 0; i < e->n; i++)
            fn(e->deps[i], ud);
}
