/* cachecfg.c -- litellm_settings.cache and cache_params -> struct
 * cache_settings (cachecfg.h). Types LiteLLM has and llmux does not
 * (redis-semantic, s3, disk, qdrant, …) are warned about and leave the
 * cache off, so a LiteLLM file still loads. */
#include "cachecfg.h"
#include "cload.h"
#include "config.h"
#include "secret.h"
#include "yamltree.h"

#include <stdlib.h>
#include <string.h>

void cachecfg_init(struct cache_settings *cs)
{
    memset(cs, 0, sizeof(*cs));
    cs->call_types = CACHE_CALL_CHAT | CACHE_CALL_EMBEDDING;
    cs->max_bytes = CACHE_DEFAULT_MAX_BYTES;
    cs->max_entries = CACHE_DEFAULT_ENTRIES;
    cs->lookup_ms = CACHE_DEFAULT_LOOKUP_MS;
}

void cachecfg_free(struct cache_settings *cs)
{
    free(cs->host);
    free(cs->ns);
    secret_free(cs->password);
    cs->host = cs->ns = NULL;
    cs->password = NULL;
}

double cachecfg_ttl(const struct cache_settings *cs)
{
    double t = cs->type == CACHE_REDIS ? cs->redis_ttl : cs->mem_ttl;

    if (t > 0)
        return t;
    return cs->ttl > 0 ? cs->ttl : CACHE_DEFAULT_TTL;
}

static int read_type(struct cload *l, const struct ynode *v, int *ret_ok)
{
    struct cache_settings *cs = &l->c->cache;
    int r;

    *ret_ok = 0;
    if ((r = cload_scalar(l, v, "cache_params.type")) < 0)
        return r;
    if (strcmp(v->s, "local") == 0)
        cs->type = CACHE_LOCAL;
    else if (strcmp(v->s, "redis") == 0)
        cs->type = CACHE_REDIS;
    else {
        cload_warn(l, v, "ignored: cache_params.type %s is not supported by "
                   "llmux (local, redis); the cache stays off", v->s);
        return 0;
    }
    *ret_ok = 1;
    return 0;
}

static int read_call_types(struct cload *l, const struct ynode *v)
{
    struct cache_settings *cs = &l->c->cache;

    if (v->kind != Y_SEQ)
        return cload_fail(l, v, "cache_params.supported_call_types must be a "
                          "list (completion, embedding, …)");
    cs->call_types = 0;
    for (size_t i = 0; i < v->n; i++) {
        const struct ynode *t = v->kids[i];

        if (t->kind != Y_SCALAR)
            return cload_fail(l, t, "expected a call type");
        if (strcmp(t->s, "completion") == 0 ||
            strcmp(t->s, "acompletion") == 0)
            cs->call_types |= CACHE_CALL_CHAT;
        else if (strcmp(t->s, "embedding") == 0 ||
                 strcmp(t->s, "aembedding") == 0)
            cs->call_types |= CACHE_CALL_EMBEDDING;
        else
            cload_warn(l, t, "ignored: call type %s is not supported by "
                       "llmux (completion, embedding)", t->s);
    }
    return 0;
}

static int read_mode(struct cload *l, const struct ynode *v)
{
    int r;

    if ((r = cload_scalar(l, v, "cache_params.mode")) < 0)
        return r;
    if (strcmp(v->s, "default_off") == 0)
        l->c->cache.default_off = 1;
    else if (strcmp(v->s, "default_on") == 0)
        l->c->cache.default_off = 0;
    else
        return cload_fail(l, v, "cache_params.mode must be default_on or "
                          "default_off, not \"%s\"", v->s);
    return 0;
}

static int read_param(struct cload *l, const struct ynode *k,
                      const struct ynode *v, int *type_ok)
{
    struct cache_settings *cs = &l->c->cache;
    const char *n = k->s;
    double d;
    int r, missing;

    if (strcmp(n, "type") == 0)
        return read_type(l, v, type_ok);
    if (strcmp(n, "host") == 0)
        return cload_str(l, v, n, &cs->host);
    if (strcmp(n, "port") == 0) {
        if ((r = cload_count(l, v, n, &cs->port)) == 0 && cs->port > 65535)
            return cload_fail(l, v, "cache_params.port must be 1-65535");
        return r;
    }
    if (strcmp(n, "password") == 0)
        return cload_secret(l, v, "cache_params.password", &cs->password,
                            &missing);
    if (strcmp(n, "namespace") == 0)
        return cload_str(l, v, n, &cs->ns);
    if (strcmp(n, "ttl") == 0)
        return cload_secs(l, v, n, &cs->ttl);
    if (strcmp(n, "default_in_memory_ttl") == 0)
        return cload_secs(l, v, n, &cs->mem_ttl);
    if (strcmp(n, "default_in_redis_ttl") == 0)
        return cload_secs(l, v, n, &cs->redis_ttl);
    if (strcmp(n, "supported_call_types") == 0)
        return read_call_types(l, v);
    if (strcmp(n, "mode") == 0)
        return read_mode(l, v);
    if (strcmp(n, "max_bytes") == 0) {
        if ((r = cload_secs(l, v, n, &d)) == 0 && d < 1024)
            return cload_fail(l, v, "cache_params.max_bytes must be at "
                              "least 1024");
        cs->max_bytes = r == 0 ? d : cs->max_bytes;
        return r;
    }
    if (strcmp(n, "max_size_in_memory") == 0)
        return cload_count(l, v, n, &cs->max_entries);
    if (strcmp(n, "lookup_timeout_ms") == 0)
        return cload_count(l, v, n, &cs->lookup_ms);
    cload_warn(l, k, "ignored: cache_params.%s is not supported by llmux", n);
    return 0;
}

static int read_params(struct cload *l, const struct ynode *y, int *type_ok)
{
    int r = 0;

    *type_ok = 1;
    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return cload_fail(l, y, "cache_params must be a map");
    for (size_t i = 0; i + 1 < y->n && r == 0; i += 2) {
        int ok = 1;

        if (y->kids[i]->kind != Y_SCALAR)
            return cload_fail(l, y->kids[i], "cache_params keys must be "
                              "names");
        r = read_param(l, y->kids[i], y->kids[i + 1], &ok);
        if (!ok)
            *type_ok = 0;
    }
    return r;
}

int cachecfg_read_key(struct cload *l, const struct ynode *k,
                      const struct ynode *v, int *ret)
{
    struct cache_settings *cs = &l->c->cache;
    int ok;

    if (strcmp(k->s, "cache") == 0) {
        *ret = cload_bool(l, v, "cache", &cs->enabled);
        return 1;
    }
    if (strcmp(k->s, "cache_params") == 0) {
        *ret = read_params(l, v, &ok);
        /* An unsupported type turns the cache off even with cache: true;
         * the warning says so. */
        if (*ret == 0 && !ok)
            cs->type_unsupported = 1;
        return 1;
    }
    return 0;
}
