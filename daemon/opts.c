/* opts.c -- the opts stage: the control keys of a chat body, read once
 * into struct request_opts (opts.h), and the checks every chat body
 * passes before anything else looks at it. */
#include "opts.h"
#include "config.h"
#include "hub.h"
#include "llmux-errno.h"
#include "provider.h"
#include "request.h"
#include "stage.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

double opts_config_timeout(const struct config *cfg)
{
    if (cfg->router.timeout > 0)
        return cfg->router.timeout;
    return cfg->request_timeout > 0 ? cfg->request_timeout : 600;
}

static int validate(struct request_opts *o, const json_t *body, char *msg,
                    size_t len)
{
    json_t *m = json_object_get(body, "messages");
    json_t *s = json_object_get(body, "stream");

    if (!json_is_string(json_object_get(body, "model"))) {
        snprintf(msg, len, "the request needs a \"model\" (a string)");
        return LLMUX_EBADREQ;
    }
    if (!json_is_array(m) || json_array_size(m) == 0) {
        snprintf(msg, len, "the request needs \"messages\" (a non-empty "
                 "array)");
        return LLMUX_EBADREQ;
    }
    for (size_t i = 0; i < json_array_size(m); i++)
        if (!json_is_object(json_array_get(m, i)) ||
            !json_is_string(json_object_get(json_array_get(m, i), "role"))) {
            snprintf(msg, len, "messages[%zu] needs a \"role\"", i);
            return LLMUX_EBADREQ;
        }
    if (s && !json_is_boolean(s) && !json_is_null(s)) {
        snprintf(msg, len, "\"stream\" must be true or false");
        return LLMUX_EBADREQ;
    }
    o->stream = json_is_true(s);
    o->want_usage = o->stream && json_is_true(json_object_get(
        json_object_get(body, "stream_options"), "include_usage"));
    return 0;
}

/* Moves every control key of body into o->ctl: the adapters never see
 * them, and what o borrows lives as long as o. */
static int take_controls(struct request_opts *o, json_t *body)
{
    const char *k;
    json_t *v;
    void *it;

    json_object_foreach_safe(body, it, k, v) {
        if (!provider_is_control_key(k))
            continue;
        if (o->ctl == NULL && (o->ctl = json_object()) == NULL)
            return LLMUX_EINTERNAL;
        if (json_object_set(o->ctl, k, v) < 0)
            return LLMUX_EINTERNAL;
        json_object_del(body, k);
    }
    return 0;
}

/* A list of model groups: names, or {"model": name, …} as LiteLLM's
 * per-request fallbacks allow. Borrowed into out. */
static int group_list(const json_t *v, const char *key, const char **out,
                      size_t *ret_n, char *msg, size_t len)
{
    size_t i, n = 0;
    json_t *it;

    if (!json_is_array(v)) {
        snprintf(msg, len, "\"%s\" must be a list of model names", key);
        return LLMUX_EBADREQ;
    }
    json_array_foreach(v, i, it) {
        const char *name = json_is_object(it) ? hub_str(it, "model") :
                           json_string_value(it);

        if (name == NULL) {
            snprintf(msg, len, "%s[%zu] must be a model name", key, i);
            return LLMUX_EBADREQ;
        }
        if (n < ROUTER_MAX_CHAIN)
            out[n++] = name;
    }
    *ret_n = n;
    return 0;
}

static int read_retries(struct request_opts *o, char *msg, size_t len)
{
    json_t *v = json_object_get(o->ctl, "num_retries");

    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(msg, len, "\"num_retries\" must be a whole number >= 0");
        return LLMUX_EBADREQ;
    }
    o->num_retries = json_integer_value(v) > OPTS_MAX_RETRIES ?
                     OPTS_MAX_RETRIES : (int)json_integer_value(v);
    return 0;
}

/* A positive timeout shortens the config's; a larger one (1e300 too)
 * is the config's. Others are ignored, as they always were. */
static void read_timeout(struct request_opts *o)
{
    json_t *v = json_object_get(o->ctl, "timeout");
    double t = json_number_value(v);

    if (json_is_number(v) && t > 0 && isfinite(t) && t < o->timeout)
        o->timeout = t;
}

static int read_fallbacks(struct request_opts *o, char *msg, size_t len)
{
    json_t *v;
    int r;

    if ((v = json_object_get(o->ctl, "fallbacks")) != NULL &&
        !json_is_null(v)) {
        if ((r = group_list(v, "fallbacks", o->general, &o->ov.ngeneral,
                            msg, len)) < 0)
            return r;
        o->ov.general = o->general;
    }
    if ((v = json_object_get(o->ctl, "context_window_fallbacks")) != NULL &&
        !json_is_null(v)) {
        if ((r = group_list(v, "context_window_fallbacks", o->context,
                            &o->ov.ncontext, msg, len)) < 0)
            return r;
        o->ov.context = o->context;
    }
    o->ov.disabled = hub_bool(o->ctl, "disable_fallbacks", 0);
    return 0;
}

/* A cache control that is a number of seconds: >= 0, finite. */
static int cache_secs(const json_t *c, const char *key, double *ret,
                      char *msg, size_t len)
{
    json_t *v = json_object_get(c, key);

    *ret = -1;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
        json_number_value(v) < 0) {
        snprintf(msg, len, "cache.%s must be a number of seconds >= 0",
                 key);
        return LLMUX_EBADREQ;
    }
    *ret = json_number_value(v);
    return 0;
}

/* "cache": {"no-cache": bool, "no-store": bool, "use-cache": bool,
 * "ttl": s, "s-maxage": s, "namespace": name}, as LiteLLM. */
static int read_cache(struct request_opts *o, char *msg, size_t len)
{
    struct cache_ctl *cc = &o->cache;
    json_t *c = json_object_get(o->ctl, "cache"), *v;
    int r;

    if (c == NULL || json_is_null(c))
        return 0;
    if (!json_is_object(c)) {
        snprintf(msg, len, "\"cache\" must be an object (no-cache, "
                 "no-store, ttl, s-maxage, namespace)");
        return LLMUX_EBADREQ;
    }
    cc->given = 1;
    cc->no_cache = hub_bool(c, "no-cache", 0);
    cc->no_store = hub_bool(c, "no-store", 0);
    cc->use_cache = hub_bool(c, "use-cache", 0);
    if ((r = cache_secs(c, "ttl", &cc->ttl, msg, len)) < 0 ||
        (r = cache_secs(c, "s-maxage", &cc->s_maxage, msg, len)) < 0)
        return r;
    if ((v = json_object_get(c, "namespace")) != NULL && !json_is_null(v)) {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > 128) {
            snprintf(msg, len, "cache.namespace must be a name of 1-128 "
                     "bytes");
            return LLMUX_EBADREQ;
        }
        cc->ns = json_string_value(v);
    }
    return 0;
}

int opts_read(struct request_opts *o, json_t *body,
              const struct config *cfg, char *msg, size_t len)
{
    int r;

    memset(o, 0, sizeof(*o));
    o->num_retries = -1;
    o->cache.ttl = o->cache.s_maxage = -1;
    o->timeout = opts_config_timeout(cfg);
    o->drop_params = cfg->drop_params;
    if ((r = validate(o, body, msg, len)) < 0)
        return r;
    if ((r = take_controls(o, body)) < 0) {
        snprintf(msg, len, "out of memory");
        return r;
    }
    o->metadata = json_object_get(body, "metadata");
    o->tags = json_object_get(body, "tags");
    if (o->ctl == NULL)
        return 0;
    if ((r = read_retries(o, msg, len)) < 0 ||
        (r = read_fallbacks(o, msg, len)) < 0 ||
        (r = read_cache(o, msg, len)) < 0)
        return r;
    read_timeout(o);
    o->drop_params = hub_bool(o->ctl, "drop_params", cfg->drop_params);
    o->mock_response = hub_str(o->ctl, "mock_response");
    return 0;
}

void opts_free(struct request_opts *o)
{
    json_decref(o->ctl);
    o->ctl = NULL;
}

static enum stage_rc opts_run(struct request *rq)
{
    char msg[512];
    int r;

    if ((r = opts_read(&rq->opts, rq->body, rq->cfg, msg,
                       sizeof(msg))) < 0) {
        request_fail(rq, r, 0, msg, -1);
        return STAGE_ANSWERED;
    }
    /* The timeout is at most the config's, so this cannot overflow. */
    rq->deadline = rq->t_start + (uint64_t)(rq->opts.timeout * 1e6);
    return STAGE_CONTINUE;
}

const struct stage stage_opts = { .name = "opts", .run = opts_run };
