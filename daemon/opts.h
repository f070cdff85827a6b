/* opts.h -- a request's llmux options, read once.
 * Owns: struct request_opts, the typed, range-checked form of the control
 * keys a chat body may carry (LiteLLM's num_retries, fallbacks, timeout,
 * mock_response, …) and of stream/stream_options; reading them takes the
 * control keys out of the body, so adapters see only what goes upstream. */
#ifndef LLMUX_OPTS_H
#define LLMUX_OPTS_H

#include <jansson.h>
#include <stddef.h>

#include "router.h"

struct config;

/* A request can ask for at most this many retries per model group. */
#define OPTS_MAX_RETRIES 100

/* The body's "cache" object, as LiteLLM's per-request cache controls. */
struct cache_ctl {
    int          given;           /* the body had a "cache" object */
    int          no_cache;        /* "no-cache": skip the lookup */
    int          no_store;        /* "no-store": do not write */
    int          use_cache;       /* "use-cache": opt in (mode
                                   * default_off) */
    double       ttl;             /* "ttl", seconds; < 0: the config's */
    double       s_maxage;        /* "s-maxage": oldest acceptable entry,
                                   * seconds; < 0: any */
    const char  *ns;              /* "namespace", borrowed from ctl; NULL:
                                   * the config's */
};

struct request_opts {
    int          stream;          /* "stream": true */
    int          want_usage;      /* stream_options.include_usage */
    int          num_retries;     /* -1: the config's policy */
    double       timeout;         /* seconds for the whole request: the
                                   * body's, never above the config's */
    /* Per-request fallbacks (borrowed from ctl): names of model groups. */
    struct fallback_override ov;
    const char  *general[ROUTER_MAX_CHAIN];
    const char  *context[ROUTER_MAX_CHAIN];
    int          drop_params;     /* the body's, else the config's */
    const char  *mock_response;   /* borrowed from ctl; NULL: none */
    struct cache_ctl cache;       /* the "cache" object */
    /* LiteLLM's bookkeeping keys, borrowed from the body (they stay in
     * it: OpenAI accepts "metadata" upstream) for the ledger. */
    const json_t *metadata, *tags;
    json_t      *ctl;             /* owned: the control keys taken out of
                                   * the body; NULL when it had none */
};

/* Validates body (model, messages, stream) and moves its control keys
 * into o. 0, or LLMUX_EBADREQ with msg set (o must still be freed).
 * Limits: num_retries is capped at OPTS_MAX_RETRIES, timeout at the
 * config's (router_settings.timeout, else request_timeout, else 600 s):
 * a request may shorten its time but not lengthen it; fallbacks past
 * ROUTER_MAX_CHAIN are not tried. Clamped, not refused, as before. */
int  opts_read(struct request_opts *o, json_t *body,
               const struct config *cfg, char *msg, size_t len);
void opts_free(struct request_opts *o);
/* The config's whole-request time, seconds. */
double opts_config_timeout(const struct config *cfg);

#endif
