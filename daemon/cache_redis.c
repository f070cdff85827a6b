/* cache_redis.c -- the Redis backend (cache_redis.h) on hiredis's async
 * API. hiredis calls every pending callback (with a NULL reply) when a
 * connection goes, so a GET's callback always runs exactly once. */
#include "cache_redis.h"
#include "cachecfg.h"
#include "log.h"
#include "secret.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct cache_redis {
    uv_loop_t          *loop;
    redisAsyncContext  *ac;         /* NULL while disconnected; hiredis
                                     * owns and frees it */
    char               *host;       /* owned */
    int                 port;
    struct secret      *password;   /* owned copy; NULL: no AUTH */
    uv_timer_t          retry;      /* the next connect */
    unsigned            backoff_ms;
    int                 up, down_logged, closing;
    uint64_t            errors, outages;
};

/* One GET in flight. */
struct pending_get {
    struct cache_redis *r;
    cache_redis_cb      cb;
    void               *ud;
};

static void connect_now(struct cache_redis *r);

static void outage(struct cache_redis *r, const char *why)
{
    r->up = 0;
    r->outages++;
    if (!r->down_logged)
        log_warn("cache: Redis at %s:%d is unavailable (%s); lookups are "
                 "misses until it is back", r->host, r->port, why);
    r->down_logged = 1;
}

static void on_retry(uv_timer_t *t)
{
    connect_now(t->data);
}

static void schedule(struct cache_redis *r)
{
    if (r->closing)
        return;
    uv_timer_start(&r->retry, on_retry, r->backoff_ms, 0);
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
                    r->backoff_ms * 2;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct cache_redis *r = ac->data;

    if (status != REDIS_OK) {
        r->ac = NULL;          /* hiredis frees it after this returns */
        outage(r, ac->errstr[0] ? ac->errstr : "cannot connect");
        schedule(r);
        return;
    }
    r->up = 1;
    r->backoff_ms = BACKOFF_MIN_MS;
    if (r->down_logged)
        log_info("cache: Redis at %s:%d is back", r->host, r->port);
    r->down_logged = 0;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct cache_redis *r = ac->data;

    (void)status;
    r->ac = NULL;
    if (r->closing)
        return;
    outage(r, ac->errstr[0] ? ac->errstr : "connection closed");
    schedule(r);
}

static void on_auth(redisAsyncContext *ac, void *reply, void *ud)
{
    redisReply *rep = reply;

    (void)ac;
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        ((struct cache_redis *)ud)->errors++;
        log_warn("cache: Redis refused the password (AUTH)");
    }
}

/* AUTH, formatted here rather than by redisAsyncCommand, whose format
 * buffer is freed unwiped: ours is wiped once hiredis copied it. What
 * stays is hiredis's own write buffer (obuf), which hiredis 0.14 frees
 * unwiped once the command is on the socket: it has no allocator hooks
 * to give it a wiping free, as libcurl has (secret.h). */
static void send_auth(struct cache_redis *r, redisAsyncContext *ac)
{
    const struct secret *pw = r->password;
    char head[48];
    int hn = snprintf(head, sizeof(head), "*2\r\n$4\r\nAUTH\r\n$%zu\r\n",
                      pw->len);
    size_t n = (size_t)hn + pw->len + 2;
    char *cmd = malloc(n);

    if (cmd == NULL) {
        r->errors++;
        log_warn("cache: out of memory for the Redis AUTH");
        return;
    }
    memcpy(cmd, head, (size_t)hn);
    memcpy(cmd + hn, pw->p, pw->len);
    memcpy(cmd + hn + pw->len, "\r\n", 2);
    if (redisAsyncFormattedCommand(ac, on_auth, r, cmd, n) != REDIS_OK)
        r->errors++;
    explicit_bzero(cmd, n);
    free(cmd);
}

static void connect_now(struct cache_redis *r)
{
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);

    if (ac == NULL || ac->err) {
        outage(r, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule(r);
        return;
    }
    ac->data = r;
    if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
        outage(r, "cannot watch the socket");
        redisAsyncFree(ac);
        schedule(r);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ac = ac;
    /* Queued until the connection is up; the secret goes only to Redis. */
    if (r->password)
        send_auth(r, ac);
}

int cache_redis_new(uv_loop_t *loop, const struct cache_settings *cs,
                    struct cache_redis **ret)
{
    struct cache_redis *r = calloc(1, sizeof(*r));

    *ret = NULL;
    if (r == NULL)
        return -ENOMEM;
    r->loop = loop;
    r->port = cs->port ? cs->port : 6379;
    r->host = strdup(cs->host ? cs->host : "127.0.0.1");
    if (r->host == NULL || (cs->password && (r->password = secret_new(
            cs->password->p, cs->password->len)) == NULL)) {
        free(r->host);
        free(r);
        return -ENOMEM;
    }
    r->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(loop, &r->retry);
    r->retry.data = r;
    connect_now(r);
    *ret = r;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct cache_redis *r = h->data;

    secret_free(r->password);
    free(r->host);
    free(r);
}

void cache_redis_free(struct cache_redis *r)
{
    if (r == NULL)
        return;
    r->closing = 1;
    if (r->ac)
        redisAsyncFree(r->ac);   /* pending callbacks run, with NULL */
    r->ac = NULL;
    uv_timer_stop(&r->retry);
    uv_close((uv_handle_t *)&r->retry, on_closed);
}

int cache_redis_same(const struct cache_redis *r,
                     const struct cache_settings *cs)
{
    const char *h = cs->host ? cs->host : "127.0.0.1";
    int port = cs->port ? cs->port : 6379;

    if (strcmp(r->host, h) != 0 || r->port != port ||
        (r->password == NULL) != (cs->password == NULL))
        return 0;
    return r->password == NULL ||
           (r->password->len == cs->password->len &&
            memcmp(r->password->p, cs->password->p, r->password->len) == 0);
}

static void on_get(redisAsyncContext *ac, void *reply, void *ud)
{
    struct pending_get *g = ud;
    redisReply *rep = reply;

    (void)ac;
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
        g->r->errors++;
    if (rep && rep->type == REDIS_REPLY_STRING)
        g->cb(g->ud, rep->str, rep->len);
    else
        g->cb(g->ud, NULL, 0);
    free(g);
}

int cache_redis_get(struct cache_redis *r, const char *key,
                    cache_redis_cb cb, void *ud)
{
    struct pending_get *g;

    if (!r->up || r->ac == NULL)
        return -ENOTCONN;
    if ((g = malloc(sizeof(*g))) == NULL)
        return -ENOMEM;
    *g = (struct pending_get){ .r = r, .cb = cb, .ud = ud };
    if (redisAsyncCommand(r->ac, on_get, g, "GET %s", key) != REDIS_OK) {
        free(g);
        r->errors++;
        return -EIO;
    }
    return 0;
}

static void on_set(redisAsyncContext *ac, void *reply, void *ud)
{
    redisReply *rep = reply;

    (void)ac;
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
        ((struct cache_redis *)ud)->errors++;
}

void cache_redis_set(struct cache_redis *r, const char *key,
                     const char *val, size_t len, uint64_t ttl_ms)
{
    char px[24];

    if (!r->up || r->ac == NULL) {
        r->errors++;
        return;
    }
    snprintf(px, sizeof(px), "%llu", (unsigned long long)
             (ttl_ms ? ttl_ms : 1));
    if (redisAsyncCommand(r->ac, on_set, r, "SET %s %b PX %s", key, val,
                          len, px) != REDIS_OK)
        r->errors++;
}

/* A flush walks SCAN's cursor, deleting each batch, until it is 0. */
struct flush_walk {
    struct cache_redis *r;
    char                match[160];
};

static void on_scan(redisAsyncContext *ac, void *reply, void *ud)
{
    struct flush_walk *w = ud;
    redisReply *rep = reply, *keys;

    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_ARRAY || w->r->closing) {
        free(w);
        return;
    }
    keys = rep->element[1];
    for (size_t i = 0; i < keys->elements; i++)
        if (keys->element[i]->type == REDIS_REPLY_STRING)
            redisAsyncCommand(ac, on_set, w->r, "UNLINK %b",
                              keys->element[i]->str, keys->element[i]->len);
    if (strcmp(rep->element[0]->str, "0") == 0 ||
        redisAsyncCommand(ac, on_scan, w, "SCAN %s MATCH %s COUNT 500",
                          rep->element[0]->str, w->match) != REDIS_OK)
        free(w);
}

void cache_redis_flush(struct cache_redis *r, const char *prefix)
{
    struct flush_walk *w;

    if (!r->up || r->ac == NULL || (w = malloc(sizeof(*w))) == NULL)
        return;
    w->r = r;
    /* The prefix is a namespace and ':'; glob characters in it are
     * escaped so they match themselves. */
    size_t n = 0;
    for (const char *p = prefix; *p && n + 3 < sizeof(w->match); p++) {
        if (strchr("*?[]\\", *p))
            w->match[n++] = '\\';
        w->match[n++] = *p;
    }
    w->match[n++] = '*';
    w->match[n] = '\0';
    if (redisAsyncCommand(r->ac, on_scan, w, "SCAN 0 MATCH %s COUNT 500",
                          w->match) != REDIS_OK)
        free(w);
}

void cache_redis_stats(const struct cache_redis *r,
                       struct cache_redis_stats *ret)
{
    ret->up = r->up;
    ret->errors = r->errors;
    ret->outages = r->outages;
}
