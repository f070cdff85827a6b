/* config.h -- llmuxd's configuration: LiteLLM's config.yaml schema plus an
 * llmux_settings section.
 * Owns: struct config, loading it from YAML with file:line errors (the
 * sections here; model_list entries in deployment.c, router_settings in
 * routercfg.c), the environment read once at load, and model_group_alias.
 * A config is frozen after load: nothing at request time writes it (the
 * router derives wildcard and implicit deployments into its own cache,
 * resolve.h). It is reference-counted so a reload can swap it while
 * requests in flight keep using the deployments they started with; the
 * count lives outside the struct, so a reference works on a const
 * config. */
#ifndef LLMUX_CONFIG_H
#define LLMUX_CONFIG_H

#include "cachecfg.h"
#include "cenv.h"
#include "deployment.h"
#include "routercfg.h"

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

struct prices;
struct secret;

/* What the environment said at load, so neither the deployments derived
 * later nor the adapters read it per request. */
struct config_env {
    struct secret **keys;            /* owned, by preset index: key_env */
    char          **bases;           /* owned, by preset index: base_env */
    size_t          npresets;
    struct secret  *aws_access_key;  /* owned: AWS_ACCESS_KEY_ID, */
    struct secret  *aws_secret_key;  /* AWS_SECRET_ACCESS_KEY, */
    struct secret  *aws_session_token; /* AWS_SESSION_TOKEN */
    char           *aws_region;      /* $AWS_REGION, else $AWS_DEFAULT_REGION */
    char           *azure_api_version; /* $AZURE_API_VERSION */
};

/* llmux_settings.callers: a policy by kernel identity for callers without
 * a virtual key; the first that matches wins. */
#define CALLER_LABEL_MAX 32

struct caller_rule {
    int          kind;          /* CALLER_USER, CALLER_GROUP, CALLER_DEFAULT */
    unsigned     id;            /* uid or gid */
    char         label[CALLER_LABEL_MAX + 1];  /* the user or group as the
                                 * config names it (cut at 32 bytes), or
                                 * "default": the caller metric label */
    json_t      *models;        /* owned array; NULL: every model */
    long         rpm, tpm, parallel;   /* 0: none */
    double       max_budget;    /* USD; < 0: none */
    char         budget_duration[12];
    int          line;          /* where it was declared, for messages */
};

enum { CALLER_USER, CALLER_GROUP, CALLER_DEFAULT };

struct config {
    unsigned            *refs;         /* owned; outside the struct, so
                                        * taking a reference never writes
                                        * the config itself */
    char                *path;
    struct deployment  **deps;         /* owned, model_list order */
    size_t               ndeps;
    struct deployment  **wild;         /* owned: wildcard templates
                                        * (model_name "*" or "openai/" then
                                        * "*"), file order */
    size_t               nwild;
    struct config_env    env;
    struct cenv          vars;         /* environment_variables (cenv.h) */
    /* llmux_settings */
    char                *socket_path;  /* NULL: command line / default */
    /* The HTTP front end (llmux_settings.http; general_settings). */
    char               **http;         /* owned: addresses to serve */
    size_t               nhttp;
    double               http_header_timeout; /* request line + headers */
    double               http_body_timeout;   /* the body, after them */
    double               http_idle_timeout;   /* keep-alive between */
    struct secret       *master_key;   /* owned; NULL: none */
    int                  master_key_configured; /* even if unresolved:
                                        * then TCP callers are refused */
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
    char                *database;     /* NULL: the state directory's */
    char                *prices_file;  /* llmux_settings.prices_file;
                                        * NULL: prices_default_path() */
    int                  prices_file_line;
    struct prices       *prices;       /* a reference on the price table
                                        * its deployments were bound to
                                        * (prices.h); NULL: none */
    struct caller_rule  *callers;      /* owned; NULL: no caller policy */
    size_t               ncallers;
    int                  database_url_line; /* general_settings.database_url
                                        * (not used), 0 when absent */
    struct cprovider    *providers;    /* owned: llmux_settings.providers
                                        * (cprovider.h) */
    size_t               nproviders;
    /* litellm_settings */
    int                  drop_params;
    double               request_timeout;
    double               max_budget;   /* USD for the daemon; < 0: none */
    char                 budget_duration[12]; /* "": never resets */
    struct router_settings router;
    struct cache_settings cache;       /* cache, cache_params */
    /* Collected while loading: "file:line: …" lines, logged by the
     * caller. Owned. */
    char               **warnings;
    size_t               nwarnings;
};

/* Loads path. On failure returns < 0 and err holds every problem of the
 * file, one "file:line: what" a line in line order (warnings marked
 * "warning: "), as much as fits, then "… and N more" for the rest.
 * CONFIG_ERR_MAX is the size callers give: room for about 500 lines. */
#define CONFIG_ERR_MAX (64u * 1024)
int config_load(const char *path, struct config **ret, char *err,
                size_t errlen);
/* An unset os.environ/ variable is an error (llmuxd --check --strict). */
#define CONFIG_STRICT 0x1
int config_load_flags(const char *path, unsigned flags, struct config **ret,
                      char *err, size_t errlen);
/* Loads from memory (tests); name is used in messages. */
int config_load_text(const char *name, const char *text, size_t n,
                     struct config **ret, char *err, size_t errlen);
/* config_load_flags, then binds every deployment to its price in the
 * price table (dprice.h): llmux_settings.prices_file, else
 * prices_default_path(). current is the table the running config holds
 * (or NULL): kept when it is that file, unchanged (a reload costs a
 * stat), else the file is read. A table that cannot be read is a
 * warning naming it, and costs come from the deployments' own prices;
 * an error only when prices_file names it. Deployments without any price
 * are warned about, once per model. */
int config_load_prices(const char *path, unsigned flags,
                       struct prices *current, struct config **ret,
                       char *err, size_t errlen);
/* config_load_text with deployments bound to table t as it is (tests). */
int config_load_text_prices(const char *name, const char *text, size_t n,
                            struct prices *t, struct config **ret,
                            char *err, size_t errlen);
const struct config *config_ref(const struct config *c);
/* Accepts NULL; frees the config with its last reference. */
void config_unref(const struct config *c);

/* The model group name stands for: its model_group_alias target (borrowed
 * from c), else name itself. */
const char *config_alias(const struct config *c, const char *name);

/* The one-line summary `llmuxd --check` prints after "path: ok, ":
 * "3 deployments (1 wildcard), 1 warning", singular and plural right. */
void config_summary(const struct config *c, char *buf, size_t len);

#endif
