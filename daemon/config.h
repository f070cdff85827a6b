/* config.h -- llmuxd's configuration: LiteLLM's config.yaml schema plus an
 * llmux_settings section.
 * Owns: struct config and struct deployment, loading them from YAML with
 * file:line errors, resolving keys (secret.h), and the implicit deployments
 * made for "provider/model" names that no model_list entry declares.
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
    int                    own_key;        /* api_key freed with us */
    char                  *api_version;
    char                  *mock_response;  /* mock: fixed answer */
    char                  *id;             /* model_info.id or generated */
    json_t                *params;         /* other litellm_params, minus
                                            * secrets (adapters read extras) */
    json_t                *model_info;     /* model_info map or NULL */
    double                 timeout;        /* seconds, 0 = config default */
    double                 stream_timeout; /* seconds to the first chunk */
    char                  *file;           /* where it was declared */
    int                    line;
    int                    implicit;       /* made from a bare prefix */
};

struct config {
    unsigned             refs;
    char                *path;
    struct deployment  **deps;         /* owned, model_list order */
    size_t               ndeps;
    struct deployment  **implicit;     /* owned, made on demand */
    size_t               nimplicit;
    struct secret      **preset_keys;  /* owned, by preset index, from env */
    size_t               npreset_keys;
    /* llmux_settings */
    char                *socket_path;  /* NULL: command line / default */
    int                  log_level;    /* syslog priority */
    double               grace_period; /* seconds for SIGTERM drain */
    int                  log_content;
    uid_t               *allow_uids;   /* owned */
    size_t               nallow_uids;
    gid_t               *allow_gids;   /* owned */
    size_t               nallow_gids;
    gid_t                admin_gid;    /* (gid_t)-1: root only */
    /* litellm_settings */
    int                  drop_params;
    double               request_timeout;
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

/* Finds the deployments for a model name: the model_list entries with that
 * model_name (up to max, in file order, into out), else an implicit
 * deployment for "provider/model". Returns the count (>= 1), or a negative
 * code with err set (ENOTFOUND for unknown names and providers). */
int config_resolve(struct config *c, const char *name,
                   struct deployment **out, size_t max, char *err,
                   size_t errlen);

#endif
