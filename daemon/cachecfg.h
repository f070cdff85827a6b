/* cachecfg.h -- the response cache's settings as config.yaml gives them.
 * Owns: struct cache_settings (litellm_settings.cache and cache_params as
 * LiteLLM writes them, llmux's max_bytes, lookup_timeout_ms and
 * llmux_settings.cache_per_caller) and reading them (cachecfg.c). The
 * cache itself (cache.h) reads them at start and on reload. */
#ifndef LLMUX_CACHECFG_H
#define LLMUX_CACHECFG_H

#include <stddef.h>

struct cload;
struct secret;
struct ynode;

enum cache_type {
    CACHE_LOCAL,            /* "local": in llmuxd's memory */
    CACHE_REDIS,            /* "redis": shared through a Redis server */
};

/* Call types a cache entry can be for (supported_call_types). */
#define CACHE_CALL_CHAT      0x1u   /* completion / acompletion */
#define CACHE_CALL_EMBEDDING 0x2u   /* embedding / aembedding */

struct cache_settings {
    int             enabled;        /* cache: true (cachecfg_on says
                                     * whether it is on) */
    int             type_unsupported; /* a type llmux lacks: off */
    enum cache_type type;
    char           *host;           /* owned; redis; NULL: 127.0.0.1 */
    int             port;           /* redis; 0: 6379 */
    struct secret  *password;       /* owned; redis AUTH; NULL: none */
    char           *ns;             /* owned: namespace; NULL: none */
    double          ttl;            /* seconds; 0: the type's default */
    double          mem_ttl;        /* default_in_memory_ttl */
    double          redis_ttl;      /* default_in_redis_ttl */
    unsigned        call_types;     /* CACHE_CALL_*; all when not given */
    int             default_off;    /* mode: default_off: only requests
                                     * with cache: {use-cache: true} */
    double          max_bytes;      /* memory cache bound, bytes */
    int             max_entries;    /* max_size_in_memory */
    int             lookup_ms;      /* redis lookup budget */
    int             per_caller;     /* llmux_settings.cache_per_caller */
};

/* Defaults of what the file leaves out. */
#define CACHE_DEFAULT_TTL        600.0          /* LiteLLM's in-memory */
#define CACHE_DEFAULT_MAX_BYTES  (64.0 * 1024 * 1024)
#define CACHE_DEFAULT_ENTRIES    10000
#define CACHE_DEFAULT_LOOKUP_MS  5

void cachecfg_init(struct cache_settings *cs);
void cachecfg_free(struct cache_settings *cs);
/* litellm_settings.cache / cache_params: 1 when k was one of them (*ret
 * then holds the reader's result), 0 when k is not the cache's. */
int  cachecfg_read_key(struct cload *l, const struct ynode *k,
                       const struct ynode *v, int *ret);
/* cache: true with a type llmux has. */
static inline int cachecfg_on(const struct cache_settings *cs)
{
    return cs->enabled && !cs->type_unsupported;
}
/* The TTL an entry gets, seconds, when the request does not say. */
double cachecfg_ttl(const struct cache_settings *cs);

#endif
