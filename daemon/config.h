/* config.h -- llmuxd's configuration: LiteLLM's config.yaml schema plus an
 * llmux_settings section.
 * Owns: struct config, struct deployment and struct router_settings,
 * loading them from YAML with file:line errors, resolving keys (secret.h),
 * and turning a model name into its model group: aliases, wildcard groups
 * and the implicit deployments made for "provider/model" names.
 * A config is reference-counted so a reload can swap it while requests
 * in flight keep using the deployments they started with. */
#ifndef LLMUX_CONFIG_H
#define LLMUX_CONFIG_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

struct provider;
struct preset;
struct secret;

struct deployment {
    char                  *model_name;     /* group name callers use */
    char                  *model;          /* "groq/llama3-8b" as written */
    const struct preset   *preset;         /* from the prefix */
    const struct provider *prov;           /* the wire dialect */
    char                  *upstream_model; /* "llama3-8b" */
    char                  *api_base;       /* resolved, no trailing '/' */
    struct secret         *api_key;        /* NULL when none */
    struct secret         *aws_access_key; /* owned; Bedrock's SigV4 keys */
    struct secret         *aws_secret_key; /* from litellm_params aws_*, */
    struct secret         *aws_session_token; /* NULL: use the env */
    int                    own_key;        /* api_key freed with us */
    char                  *api_version;
    char                  *mock_response;  /* mock: fixed answer */
    char                  *id;             /* model_info.id or generated */
    json_t                *params;         /* other litellm_params, minus
                                            * secrets (adapters read extras) */
    json_t                *model_info;     /* model_info map or NULL */
    double                 timeout;        /* seconds, 0 = config default */
    double                 stream_timeout; /* seconds to the first chunk */
    /* Router inputs (litellm_params; prices also from model_info). */
    double                 rpm, tpm;       /* per-minute limits, 0 = none */
    double                 weight;         /* simple-shuffle weight, 0 = unset */
    int                    order;          /* tier, 1 first; 0 = unset (last) */
    int                    max_retries;    /* -1 = router's num_retries */
    double                 cooldown_time;  /* seconds, < 0 = router's */
    double                 input_cost;     /* per token, < 0 = unknown */
    double                 output_cost;
    char                  *key;            /* router statistics key: the same
                                            * deployment keeps it across
                                            * reloads (router.h) */
    char                  *file;           /* where it was declared */
    int                    line;
    int                    implicit;       /* made on demand at resolve */
    int                    wildcard;       /* model_name holds '*': a template
                                            * that is never called itself */
    const struct deployment *origin;       /* the wildcard template this one
                                            * was made from, or NULL */
};

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

struct config {
    unsigned             refs;
    char                *path;
    struct deployment  **deps;         /* owned, model_list order */
    size_t               ndeps;
    struct deployment  **wild;         /* owned: wildcard templates
                                        * (model_name "*" or "openai/" then
                                        * "*"), file order */
    size_t               nwild;
    struct deployment  **implicit;     /* owned, made on demand */
    size_t               nimplicit;
    struct secret      **preset_keys;  /* owned, by preset index, from env */
    size_t               npreset_keys;
    /* llmux_settings */
    char                *socket_path;  /* NULL: command line / default */
    int                  log_level;    /* syslog priority */
    double               grace_period; /* seconds for SIGTERM drain */
    double               hello_timeout; /* seconds from accept to hello,
                                         * 0 = no limit */
    double               frame_timeout; /* seconds from a frame's first
                                         * byte to its last, 0 = none */
    double               max_memory;   /* MiB all callers' frames, trees
                                        * and output may hold, 0 = none */
    int                  log_content;
    uid_t               *allow_uids;   /* owned */
    size_t               nallow_uids;
    gid_t               *allow_gids;   /* owned */
    size_t               nallow_gids;
    gid_t                admin_gid;    /* (gid_t)-1: root only */
    /* litellm_settings */
    int                  drop_params;
    double               request_timeout;
    struct router_settings router;
    /* Collected while loading: "file:line: …" lines, logged by the
     * caller. Owned, NUL-separated. */
    char               **warnings;
    size_t               nwarnings;
};

/* Loads path. On failure returns < 0 and err holds "file:line: what". */
int config_load(const char *path, struct config **ret, char *err,
                size_t errlen);
/* Loads from memory (tests); name is used in messages. */
int config_load_text(const char *name, const char *text, size_t n,
                     struct config **ret, char *err, size_t errlen);
struct config *config_ref(struct config *c);
void config_unref(struct config *c);

/* The model group name stands for: its model_group_alias target (borrowed
 * from c), else name itself. */
const char *config_alias(const struct config *c, const char *name);

/* Finds the deployments of the model group a name asks for, after
 * model_group_alias: the model_list entries with that model_name (up to
 * max, in file order, into out); else those of the most specific wildcard
 * group (model_name "*", or a prefix then '*') that matches, made
 * concrete for this name; else an implicit deployment for "provider/model". Returns the count (>= 1),
 * or a negative code with err set (ENOTFOUND for unknown names and
 * providers). Deployments made here live as long as the config. */
int config_resolve(struct config *c, const char *name,
                   struct deployment **out, size_t max, char *err,
                   size_t errlen);

#endif
