/* test-cache.c -- the response cache's pure parts: the key's canonical
 * form (daemon/cachekey.c), the memory backend's LRU, bounds and TTL
 * (daemon/cache_mem.c), the cache settings (daemon/cachecfg.c) and the
 * "cache" control (daemon/opts.c). */
#include "test.h"

#include "cache_mem.h"
#include "cachekey.h"
#include "config.h"
#include "opts.h"

static json_t *j(const char *text)
{
    return json_loads(text, 0, NULL);
}

static void key_of(const char *body, const char *group, const char *caller,
                   char *out)
{
    json_t *b = j(body);

    if (cachekey_make(b, group, "chat", caller, "ns", out) < 0)
        out[0] = '\0';
    json_decref(b);
}

TEST(cachekey_canonical_sorts_and_drops)
{
    json_t *b = j("{\"stream\": true, \"model\": \"alias\", \"user\": \"u\","
                  " \"stream_options\": {\"include_usage\": true},"
                  " \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}],"
                  " \"temperature\": 0}");
    char *c = cachekey_canonical(b, "group");

    ASSERT_STR_EQ(c, "{\"messages\":[{\"content\":\"hi\",\"role\":\"user\"}],"
                  "\"model\":\"group\",\"temperature\":0}");
    /* the body itself is not changed */
    ASSERT(json_object_get(b, "stream") != NULL);
    ASSERT_STR_EQ(json_string_value(json_object_get(b, "model")), "alias");
    free(c);
    json_decref(b);
}

TEST(cachekey_same_request_same_key)
{
    char a[CACHEKEY_MAX], b[CACHEKEY_MAX], c[CACHEKEY_MAX], d[CACHEKEY_MAX];

    key_of("{\"model\": \"x\", \"messages\": [{\"role\": \"user\", "
           "\"content\": \"hi\"}], \"temperature\": 1}", "g", NULL, a);
    key_of("{\"temperature\": 1, \"messages\": [{\"content\": \"hi\", "
           "\"role\": \"user\"}], \"model\": \"y\", \"stream\": true}", "g",
           NULL, b);
    ASSERT(a[0] != '\0');
    ASSERT_STR_EQ(a, b);
    ASSERT(strncmp(a, "ns:", 3) == 0);
    ASSERT_EQ(strlen(a), 3 + 64);
    /* another value, another caller: other keys */
    key_of("{\"model\": \"x\", \"messages\": [{\"role\": \"user\", "
           "\"content\": \"hi\"}], \"temperature\": 2}", "g", NULL, c);
    ASSERT(strcmp(a, c) != 0);
    key_of("{\"model\": \"x\", \"messages\": [{\"role\": \"user\", "
           "\"content\": \"hi\"}], \"temperature\": 1}", "g", "uid:1", d);
    ASSERT(strcmp(a, d) != 0);
}

TEST(cachekey_call_types_do_not_share)
{
    json_t *b = j("{\"model\": \"x\", \"input\": \"hi\"}");
    char a[CACHEKEY_MAX], e[CACHEKEY_MAX];

    ASSERT_EQ(cachekey_make(b, "g", "chat", NULL, "ns", a), 0);
    ASSERT_EQ(cachekey_make(b, "g", "embedding", NULL, "ns", e), 0);
    ASSERT(strcmp(a, e) != 0);
    json_decref(b);
}

TEST(cache_mem_lru_evicts_least_recent)
{
    struct cache_mem m;
    size_t one = cache_mem_cost(2, 10), len;
    const char *v;

    /* room for three entries of this size */
    cache_mem_init(&m, 3 * one + one / 2, 100);
    ASSERT_EQ(cache_mem_put(&m, "k1", "aaaaaaaaaa", 10, 1000, 60000), 1);
    ASSERT_EQ(cache_mem_put(&m, "k2", "bbbbbbbbbb", 10, 1000, 60000), 1);
    ASSERT_EQ(cache_mem_put(&m, "k3", "cccccccccc", 10, 1000, 60000), 1);
    ASSERT_EQ(cache_mem_get(&m, "k1", 1001, 0, &v, &len), 1); /* k1 fresh */
    ASSERT_EQ(cache_mem_put(&m, "k4", "dddddddddd", 10, 1000, 60000), 1);
    ASSERT_EQ(m.evictions, 1);
    ASSERT_EQ(cache_mem_get(&m, "k2", 1001, 0, &v, &len), 0); /* the LRU */
    ASSERT_EQ(cache_mem_get(&m, "k1", 1001, 0, &v, &len), 1);
    ASSERT_EQ(len, 10);
    ASSERT_MEM_EQ(v, "aaaaaaaaaa", 10);
    ASSERT_EQ(cache_mem_get(&m, "k3", 1001, 0, &v, &len), 1);
    ASSERT_EQ(cache_mem_get(&m, "k4", 1001, 0, &v, &len), 1);
    ASSERT(m.bytes <= m.max_bytes);
    ASSERT_EQ(m.n, 3);
    /* an entry bigger than the whole cache is not stored, evicts nothing */
    ASSERT_EQ(cache_mem_put(&m, "big", "x", 3 * one, 1000, 60000), 0);
    ASSERT_EQ(m.n, 3);
    cache_mem_free(&m);
}

TEST(cache_mem_entry_bound_and_replace)
{
    struct cache_mem m;
    const char *v;
    size_t len;
    char k[16];

    cache_mem_init(&m, 1 << 20, 50);
    for (int i = 0; i < 500; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        ASSERT_EQ(cache_mem_put(&m, k, "v", 1, 0, 1000), 1);
    }
    ASSERT_EQ(m.n, 50);
    ASSERT_EQ(m.evictions, 450);
    ASSERT_EQ(cache_mem_get(&m, "k449", 1, 0, &v, &len), 0);
    ASSERT_EQ(cache_mem_get(&m, "k450", 1, 0, &v, &len), 1);
    /* the same key again replaces, without an eviction */
    ASSERT_EQ(cache_mem_put(&m, "k450", "new", 3, 1, 1000), 1);
    ASSERT_EQ(m.n, 50);
    ASSERT_EQ(m.evictions, 450);
    ASSERT_EQ(cache_mem_get(&m, "k450", 2, 0, &v, &len), 1);
    ASSERT_STR_EQ(v, "new");
    /* smaller bounds (a reload) evict at once */
    cache_mem_limits(&m, 1 << 20, 10);
    ASSERT_EQ(m.n, 10);
    ASSERT_EQ(cache_mem_flush(&m, "k45"), 1);    /* only k450 is left */
    ASSERT_EQ(cache_mem_flush(&m, NULL), 9);
    ASSERT_EQ(m.bytes, 0);
    cache_mem_free(&m);
}

TEST(cache_mem_ttl_and_max_age)
{
    struct cache_mem m;
    const char *v;
    size_t len;

    cache_mem_init(&m, 1 << 20, 10);
    ASSERT_EQ(cache_mem_put(&m, "k", "v", 1, 1000, 500), 1);
    ASSERT_EQ(cache_mem_get(&m, "k", 1499, 0, &v, &len), 1);
    /* s-maxage: stored at 1000, so "no older than 1200" misses, but the
     * entry stays for callers that accept it */
    ASSERT_EQ(cache_mem_get(&m, "k", 1400, 1200, &v, &len), 0);
    ASSERT_EQ(cache_mem_get(&m, "k", 1400, 900, &v, &len), 1);
    ASSERT_EQ(cache_mem_get(&m, "k", 1500, 0, &v, &len), 0);  /* expired */
    ASSERT_EQ(m.expired, 1);
    ASSERT_EQ(m.n, 0);
    ASSERT_EQ(cache_mem_put(&m, "z", "v", 1, 1000, 0), 0);    /* ttl 0 */
    cache_mem_free(&m);
}

static struct config *cfg_of(const char *text, char *err, size_t len)
{
    struct config *c = NULL;

    if (config_load_text("t.yaml", text, strlen(text), &c, err, len) < 0)
        return NULL;
    return c;
}

TEST(cachecfg_reads_litellm_params)
{
    char err[512];
    struct config *c = cfg_of(
        "litellm_settings:\n  cache: true\n  cache_params:\n"
        "    type: redis\n    host: 127.0.0.2\n    port: 6380\n"
        "    namespace: team\n    ttl: 30\n    default_in_redis_ttl: 90\n"
        "    supported_call_types: [acompletion]\n    mode: default_off\n"
        "    max_bytes: 2048\n    similarity_threshold: 0.8\n"
        "llmux_settings:\n  cache_per_caller: true\n", err, sizeof(err));

    ASSERT(c != NULL);
    ASSERT(cachecfg_on(&c->cache));
    ASSERT_EQ(c->cache.type, CACHE_REDIS);
    ASSERT_STR_EQ(c->cache.host, "127.0.0.2");
    ASSERT_EQ(c->cache.port, 6380);
    ASSERT_STR_EQ(c->cache.ns, "team");
    ASSERT_EQ((long long)cachecfg_ttl(&c->cache), 90);
    ASSERT_EQ(c->cache.call_types, CACHE_CALL_CHAT);
    ASSERT_EQ(c->cache.default_off, 1);
    ASSERT_EQ((long long)c->cache.max_bytes, 2048);
    ASSERT_EQ(c->cache.per_caller, 1);
    ASSERT_EQ(c->nwarnings, 1);       /* similarity_threshold */
    ASSERT(strstr(c->warnings[0], "not supported by llmux") != NULL);
    config_unref(c);
    c = cfg_of("litellm_settings:\n  cache: true\n  cache_params:\n"
               "    type: s3\n", err, sizeof(err));
    ASSERT(c != NULL);
    ASSERT(!cachecfg_on(&c->cache));
    ASSERT(strstr(c->warnings[0], "s3 is not supported by llmux") != NULL);
    config_unref(c);
    ASSERT(cfg_of("litellm_settings:\n  cache_params:\n    mode: sometimes\n",
                  err, sizeof(err)) == NULL);
    ASSERT(strstr(err, "t.yaml:3:") != NULL);
}

TEST(opts_cache_control_is_typed)
{
    char err[512], msg[256];
    struct config *c = cfg_of("", err, sizeof(err));
    json_t *b = j("{\"model\": \"g\", \"messages\": [{\"role\": \"user\", "
                  "\"content\": \"hi\"}], \"cache\": {\"no-cache\": true, "
                  "\"ttl\": 5, \"s-maxage\": 1.5, \"namespace\": \"n\"}}");
    struct request_opts o;

    ASSERT(c != NULL);
    ASSERT_EQ(opts_read(&o, b, c, msg, sizeof(msg)), 0);
    ASSERT(json_object_get(b, "cache") == NULL);   /* not sent upstream */
    ASSERT_EQ(o.cache.given, 1);
    ASSERT_EQ(o.cache.no_cache, 1);
    ASSERT_EQ(o.cache.no_store, 0);
    ASSERT_EQ((long long)o.cache.ttl, 5);
    ASSERT_EQ((long long)(o.cache.s_maxage * 10), 15);
    ASSERT_STR_EQ(o.cache.ns, "n");
    opts_free(&o);
    json_decref(b);
    b = j("{\"model\": \"g\", \"messages\": [{\"role\": \"user\"}], "
          "\"cache\": {\"ttl\": \"long\"}}");
    ASSERT(opts_read(&o, b, c, msg, sizeof(msg)) < 0);
    ASSERT(strstr(msg, "cache.ttl") != NULL);
    opts_free(&o);
    json_decref(b);
    b = j("{\"model\": \"g\", \"messages\": [{\"role\": \"user\"}]}");
    ASSERT_EQ(opts_read(&o, b, c, msg, sizeof(msg)), 0);
    ASSERT_EQ(o.cache.given, 0);
    ASSERT(o.cache.ttl < 0 && o.cache.s_maxage < 0);
    opts_free(&o);
    json_decref(b);
    config_unref(c);
}
