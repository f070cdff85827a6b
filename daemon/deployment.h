/* deployment.h -- one way to serve a model group: a model_list entry, a
 * wildcard template, or a deployment the router derived for a name.
 * Owns: struct deployment, reading model_list entries (provider, key,
 * base URL, the settings adapters need, typed at load), the router's
 * statistics key, and deriving a concrete deployment from a template or
 * from a bare "provider/model" name.
 *
 * Lifetimes. A configured deployment (model_list entry or template)
 * belongs to its config and is never written after load. A derived one
 * belongs to whoever holds a reference: the router's cache (resolve.h)
 * and every request that resolved it. deployment_ref/deployment_unref
 * work on both kinds: for a configured one they hold its config. */
#ifndef LLMUX_DEPLOYMENT_H
#define LLMUX_DEPLOYMENT_H

#include "prices.h"

#include <jansson.h>
#include <stddef.h>

struct cload;
struct config;
struct cprovider;
struct preset;
struct provider;
struct rstat;
struct secret;
struct ynode;

/* Longest model name a caller may ask for: names travel into URLs, log
 * lines and the router's cache, so they are refused beyond this before
 * anything is copied. */
#define DEPLOYMENT_MAX_NAME 256

/* The metrics label of every deployment made for a bare "provider/model"
 * name (metrics.h): callers choose those names, so they never become
 * labels themselves. */
#define DEPLOYMENT_IMPLICIT_LABEL "_implicit"

struct deployment {
    char                  *model_name;     /* group name callers use */
    char                  *model;          /* "groq/llama3-8b" as written */
    const struct preset   *preset;         /* from the prefix; for a
                                            * template, NULL when its
                                            * provider is a '*' */
    const struct provider *prov;           /* the wire dialect; NULL
                                            * when unusable */
    const struct cprovider *cprov;         /* the provider by config it
                                            * goes to (borrowed from the
                                            * config), or NULL */
    struct preset         *own_preset;     /* owned: the preset of a
                                            * provider llmux lacks (only
                                            * its name), preset points
                                            * here */
    char                  *upstream_model; /* "llama3-8b" */
    char                  *api_base;       /* resolved, no trailing '/' */
    struct secret         *api_key;        /* NULL when none */
    struct secret         *aws_access_key; /* owned; Bedrock's SigV4 keys */
    struct secret         *aws_secret_key; /* from litellm_params aws_*, */
    struct secret         *aws_session_token; /* else the env at load */
    int                    own_key;        /* api_key freed with us */
    struct secret         *vertex_creds;   /* owned: vertex_credentials as
                                            * written (a path or JSON) */
    int                    vertex_creds_set; /* vertex_credentials given,
                                            * even if its variable is not */
    struct vertex_dep     *vertex;         /* vertex_ai (providers/vertex.h):
                                            * typed at load; a derived one
                                            * borrows its template's */
    int                    own_vertex;
    char                  *api_version;    /* azure: else $AZURE_API_VERSION
                                            * at load; NULL = default */
    char                  *aws_region;     /* bedrock: aws_region_name,
                                            * region_name, $AWS_REGION,
                                            * $AWS_DEFAULT_REGION at load;
                                            * NULL = the adapter's default */
    char                  *mock_response;  /* mock: fixed answer */
    char                  *unusable;       /* owned: why no call can use
                                            * it (provider llmux lacks, a
                                            * variable unset at load), or
                                            * NULL; its group serves the
                                            * others (dfilter.c) */
    char                  *id;             /* model_info.id or generated */
    json_t                *params;         /* other litellm_params, minus
                                            * secrets */
    json_t                *model_info;     /* model_info map or NULL */
    json_t                *call_defaults;  /* owned: litellm_params that are
                                            * call parameters (temperature,
                                            * stop, extra_body, …), merged
                                            * into each call (callparams.h) */
    double                 timeout;        /* seconds, 0 = config default */
    double                 stream_timeout; /* seconds to the first chunk */
    /* Router inputs (litellm_params; prices also from model_info). */
    double                 rpm, tpm;       /* per-minute limits, 0 = none */
    double                 weight;         /* simple-shuffle weight, 0 = unset */
    int                    order;          /* tier, 1 first; 0 = unset (last) */
    int                    max_retries;    /* -1 = router's num_retries */
    double                 cooldown_time;  /* seconds, < 0 = router's */
    /* Prices (USD per token, fields < 0 unset; see prices.h). */
    struct price           price_set;      /* its own: litellm_params, else
                                            * model_info (LiteLLM's custom
                                            * pricing); a derived one has
                                            * its template's */
    struct price           price;          /* effective, a copy made once
                                            * (dprice.h): price_set over the
                                            * table row; cost_of and
                                            * cost-based routing read it */
    const struct price_row *price_row;     /* that row, or NULL; borrowed
                                            * from the config's table,
                                            * which the config holds */
    char                  *key;            /* router statistics key: the same
                                            * deployment keeps it across
                                            * reloads (router.h) */
    char                  *file;           /* where it was declared */
    int                    line;
    int                    implicit;       /* derived: made by the router */
    int                    wildcard;       /* model_name holds '*': a template
                                            * that is never called itself */
    int                    explicit_creds; /* api_key, api_base or aws_* set
                                            * in litellm_params */
    const struct deployment *origin;       /* the wildcard template this one
                                            * was made from, or NULL */
    /* Metrics labels (metrics.h): configured names only. A derived
     * deployment counts under its template's model_name and id, or under
     * DEPLOYMENT_IMPLICIT_LABEL. Borrowed from the config or static. */
    const char            *label_group, *label_id;
    /* Lifetime (see the top of this file). */
    const struct config   *owner;          /* configured: the config that
                                            * owns it (borrowed); derived:
                                            * a reference on the config it
                                            * was made from (keys, origin) */
    unsigned               refs;           /* derived only */
    struct rstat          *st;             /* derived only: its statistics,
                                            * a reference (router.h) */
};

/* Reads the model_list section into l->c (deps and wild). */
int deployment_read_list(struct cload *l, const struct ynode *y);

/* A deployment for name made at resolve time, with model as its
 * litellm_params.model: from the wildcard template tmpl, or bare when
 * tmpl is NULL. Explicit keys and api_base of the template are used only
 * when the derived deployment goes to the template's own provider. The
 * result holds a reference on c and has refs = 1; st is NULL. Returns 0,
 * or < 0 with err set (ENOTFOUND for unknown names and providers). */
int deployment_derive(const struct config *c, const struct deployment *tmpl,
                      const char *name, const char *model,
                      struct deployment **ret, char *err, size_t errlen);

/* Matches name against a pattern with one '*': how many literal bytes
 * matched (the specificity), or -1; cap and caplen get what '*' stood for. */
long deployment_wild_match(const char *pat, const char *name,
                           const char **cap, size_t *caplen);

/* Another reference to d (returns d); the request keeps the deployments
 * it resolved alive with these, whatever the cache or a reload does. */
struct deployment *deployment_ref(struct deployment *d);
/* Drops one; accepts NULL, returns NULL. */
struct deployment *deployment_unref(struct deployment *d);
/* Frees a configured deployment (config_unref only). */
void deployment_destroy(struct deployment *d);

#endif
