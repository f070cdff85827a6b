/* routercfg.h -- the router's settings as config.yaml gives them.
 * Owns: struct router_settings (router_settings, plus the litellm_settings
 * keys that overlap; those of router_settings win, as in LiteLLM), the
 * fallback lists and model_group_alias, and reading them (routercfg.c).
 * router.c makes the decisions with them. */
#ifndef LLMUX_ROUTERCFG_H
#define LLMUX_ROUTERCFG_H

#include <stddef.h>

struct cload;
struct ynode;

/* Routing strategies, with LiteLLM's names (router_settings). */
enum route_strategy {
    ROUTE_SIMPLE_SHUFFLE,   /* "simple-shuffle": weighted random */
    ROUTE_LEAST_BUSY,       /* "least-busy": fewest in flight */
    ROUTE_LATENCY,          /* "latency-based-routing" */
    ROUTE_USAGE,            /* "usage-based-routing(-v2)": fewest tokens */
    ROUTE_COST,             /* "cost-based-routing": cheapest price */
};

/* LiteLLM's error classes for retry_policy / allowed_fails_policy. */
enum err_class {
    ECLASS_BAD_REQUEST,     /* BadRequestError (context window included) */
    ECLASS_AUTH,            /* AuthenticationError */
    ECLASS_TIMEOUT,         /* TimeoutError */
    ECLASS_RATE_LIMIT,      /* RateLimitError */
    ECLASS_CONTENT_POLICY,  /* ContentPolicyViolationError */
    ECLASS_INTERNAL,        /* InternalServerError (5xx, connection) */
    ECLASS_COUNT,
};

/* One entry of a fallbacks list: {group: [to, …]}; group "*" = any. */
struct fallback_rule {
    char   *group;          /* owned */
    char  **to;             /* owned, nto names */
    size_t  nto;
};

struct fallback_list {
    struct fallback_rule *r; /* owned */
    size_t                n;
};

/* router_settings (and the litellm_settings keys that overlap; those of
 * router_settings win, as in LiteLLM). */
struct router_settings {
    enum route_strategy strategy;
    int     num_retries;          /* retries per model group, default 0 */
    double  retry_after;          /* minimum backoff, seconds */
    double  timeout;              /* whole request, seconds; 0 = unset */
    double  stream_timeout;       /* to the first chunk; 0 = off */
    double  idle_timeout;         /* between chunks (llmux); 0 = off */
    int     allowed_fails;        /* failures a minute before a bench */
    double  cooldown_time;        /* seconds benched */
    int     disable_cooldowns;
    int     pre_call_checks;      /* enable_pre_call_checks: skip a
                                   * deployment a request does not fit
                                   * (model_info.max_input_tokens) */
    int     tag_filtering;        /* enable_tag_filtering */
    int     tag_match_any;        /* tag_filtering_match_any (default 1) */
    double  latency_buffer;       /* routing_strategy_args.
                                   * lowest_latency_buffer (fraction) */
    int     max_fallbacks;        /* groups tried after the first */
    struct fallback_list fallbacks, context_fallbacks, policy_fallbacks;
    char  **default_fallbacks;    /* owned */
    size_t  ndefault_fallbacks;
    char  **alias_from, **alias_to; /* model_group_alias, owned */
    size_t  nalias;
    int     retry_policy[ECLASS_COUNT];   /* -1 = default */
    int     allowed_fails_policy[ECLASS_COUNT]; /* -1 = default */
};

/* Reads the router_settings section into l->c->router. */
int routercfg_read(struct cload *l, const struct ynode *y);
/* One key that router_settings and litellm_settings share. Returns 1 when
 * the key is a router key (then *ret is the result), 0 when it is not. */
int routercfg_read_key(struct cload *l, const struct ynode *k,
                       const struct ynode *v, int *ret);
void routercfg_free(struct router_settings *rs);

#endif
