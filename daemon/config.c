/* config.c -- LiteLLM-style config.yaml -> struct config (see config.h):
 * the top level, llmux_settings, litellm_settings, environment_variables
 * and the environment read at load; model_list entries are read by
 * deployment.c and router_settings by routercfg.c.
 * Problems in the file are reported as "file:line: what"; keys llmux does
 * not know are reported as warnings, never silently dropped, and never
 * fatal, so a valid LiteLLM file always loads. */
#include "config.h"
#include "cenv.h"
#include "cload.h"
#include "keys.h"
#include "cprovider.h"
#include "cwords.h"
#include "dprice.h"
#include "llmux-errno.h"
#include "presets.h"
#include "secret.h"
#include "yamltree.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* A key from the environment into locked memory; absent is fine. */
static int env_secret(const char *var, struct secret **ret)
{
    const char *v = cenv_get(var);

    *ret = NULL;
    if (v == NULL || *v == '\0')
        return 0;
    return (*ret = secret_new(v, strlen(v))) ? 0 : -ENOMEM;
}

static int read_id_list(struct cload *l, const struct ynode *y, int groups,
                        unsigned **ret, size_t *ret_n)
{
    unsigned *ids;

    if (y->kind != Y_SEQ)
        return cload_fail(l, y, "%s must be a list of names or numbers",
                    groups ? "allow_groups" : "allow_users");
    ids = calloc(y->n ? y->n : 1, sizeof(*ids));
    if (ids == NULL)
        return -ENOMEM;
    free(*ret);
    *ret = ids;
    *ret_n = 0;
    for (size_t i = 0; i < y->n; i++) {
        const struct ynode *v = y->kids[i];
        char *end;
        unsigned long n;

        if (v->kind != Y_SCALAR)
            return cload_fail(l, v, "expected a user or group name");
        n = strtoul(v->s, &end, 10);
        if (*v->s == '\0' || *end != '\0') {
            if (groups) {
                struct group *g = getgrnam(v->s);

                if (g == NULL)
                    return cload_fail(l, v, "unknown group \"%s\"", v->s);
                n = g->gr_gid;
            } else {
                struct passwd *p = getpwnam(v->s);

                if (p == NULL)
                    return cload_fail(l, v, "unknown user \"%s\"", v->s);
                n = p->pw_uid;
            }
        }
        ids[(*ret_n)++] = (unsigned)n;
    }
    return 0;
}

static int read_level(struct cload *l, const struct ynode *y)
{
    static const struct { const char *n; int v; } levels[] = {
        { "error", LOG_ERR }, { "warning", LOG_WARNING },
        { "notice", LOG_NOTICE }, { "info", LOG_INFO },
        { "debug", LOG_DEBUG },
    };
    int r;

    if ((r = cload_scalar(l, y, "log_level")) < 0)
        return r;
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (strcmp(y->s, levels[i].n) == 0) {
            l->c->log_level = levels[i].v;
            return 0;
        }
    return cload_fail(l, y, "log_level must be error, warning, notice, info or "
                "debug, not \"%s\"", y->s);
}

static int read_limit(struct cload *l, const struct ynode *v,
                      const char *what, long *ret)
{
    int n, r = cload_count(l, v, what, &n);

    *ret = n;
    return r;
}

/* One entry of llmux_settings.callers. */
static int read_caller(struct cload *l, const struct ynode *y,
                       struct caller_rule *c)
{
    int r = 0, who = 0;

    *c = (struct caller_rule){ .max_budget = -1, .line = y->line };
    if (y->kind != Y_MAP)
        return cload_fail(l, y, "a callers entry must be a map (user: or "
                          "group: or default: true, then its limits)");
    for (size_t i = 0; i + 1 < y->n && r == 0; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];
        unsigned *ids = NULL;
        size_t n = 0;

        if (strcmp(k->s, "user") == 0 || strcmp(k->s, "group") == 0) {
            struct ynode seq = { .kind = Y_SEQ, .line = v->line,
                                 .kids = (struct ynode **)&v, .n = 1 };

            c->kind = k->s[0] == 'u' ? CALLER_USER : CALLER_GROUP;
            if ((r = cload_scalar(l, v, k->s)) == 0 &&
                (r = read_id_list(l, &seq, k->s[0] == 'g', &ids, &n)) == 0) {
                c->id = ids[0];
                snprintf(c->label, sizeof(c->label), "%s", v->s);
            }
            free(ids);
            who++;
        } else if (strcmp(k->s, "default") == 0) {
            int d = 0;

            r = cload_bool(l, v, "default", &d);
            c->kind = CALLER_DEFAULT;
            snprintf(c->label, sizeof(c->label), "default");
            who += d;
        } else if (strcmp(k->s, "models") == 0) {
            if (v->kind != Y_SEQ)
                return cload_fail(l, v, "models must be a list of names");
            json_decref(c->models);
            c->models = cload_json(v);
        } else if (strcmp(k->s, "rpm_limit") == 0)
            r = read_limit(l, v, k->s, &c->rpm);
        else if (strcmp(k->s, "tpm_limit") == 0)
            r = read_limit(l, v, k->s, &c->tpm);
        else if (strcmp(k->s, "max_parallel_requests") == 0)
            r = read_limit(l, v, k->s, &c->parallel);
        else if (strcmp(k->s, "max_budget") == 0)
            r = cload_secs(l, v, k->s, &c->max_budget);
        else if (strcmp(k->s, "budget_duration") == 0) {
            if ((r = cload_scalar(l, v, k->s)) == 0 &&
                (budget_duration_ok(v->s) < 0 ||
                 strlen(v->s) >= sizeof(c->budget_duration)))
                r = cload_fail(l, v, "budget_duration must be like 30s, "
                               "30m, 30h, 30d or 1mo");
            if (r == 0)
                snprintf(c->budget_duration, sizeof(c->budget_duration),
                         "%s", v->s);
        } else
            cload_warn(l, k, "unknown key \"%s\" in a callers entry "
                       "(ignored)", k->s);
    }
    if (r == 0 && who != 1)
        return cload_fail(l, y, "a callers entry needs exactly one of "
                          "user:, group: or default: true");
    return r;
}

static int read_callers(struct cload *l, const struct ynode *y)
{
    struct config *c = l->c;
    int r;

    if (y->kind != Y_SEQ)
        return cload_fail(l, y, "callers must be a list");
    if ((c->callers = calloc(y->n ? y->n : 1, sizeof(*c->callers))) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < y->n; i++) {
        if ((r = read_caller(l, y->kids[i], &c->callers[i])) < 0) {
            json_decref(c->callers[i].models);
            return r;
        }
        c->ncallers++;
    }
    return 0;
}

/* llmux_settings.http: one address or a list ("127.0.0.1:4000",
 * "/run/llmux/http.sock"); http.c checks each when it binds. */
static int read_http(struct cload *l, const struct ynode *y)
{
    struct config *c = l->c;
    const struct ynode *one[1] = { y };
    const struct ynode *const *items = one;
    size_t n = 1;

    if (ynode_is_null(y))
        return 0;
    if (y->kind == Y_SEQ) {
        items = (const struct ynode *const *)y->kids;
        n = y->n;
    }
    if (n > 8)
        return cload_fail(l, y, "http: at most 8 addresses");
    for (size_t i = 0; i < n; i++) {
        char *addr = NULL, **grown;
        int r;

        if ((r = cload_str(l, items[i], "http", &addr)) < 0)
            return r;
        if (addr == NULL || *addr == '\0') {
            free(addr);
            return cload_fail(l, items[i], "http: an address is HOST:PORT "
                              "or a socket path");
        }
        if ((grown = realloc(c->http, (c->nhttp + 1) * sizeof(*grown))) ==
            NULL) {
            free(addr);
            return -ENOMEM;
        }
        c->http = grown;
        c->http[c->nhttp++] = addr;
    }
    return 0;
}

/* general_settings: LiteLLM's proxy settings. llmux reads master_key
 * (the HTTP front end's admin key); the others are reported. */
static int read_general_settings(struct cload *l, const struct ynode *y)
{
    struct config *c = l->c;
    int missing = 0, r;

    if (y->kind != Y_MAP)
        return 0;
    for (size_t i = 0; i + 1 < y->n; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];

        if (strcmp(k->s, "master_key") == 0 && !ynode_is_null(v)) {
            c->master_key_configured = 1;
            if ((r = cload_secret(l, v, "master_key", &c->master_key,
                                  &missing)) < 0)
                return r;
            continue;
        }
        /* Said here, and again at start with the embedded database's
         * path once it is known (server_open_db). */
        if (strcmp(k->s, "database_url") == 0)
            c->database_url_line = k->line;
        cwords_warn(l, k, CSEC_GENERAL, NULL);
    }
    return 0;
}
static const char *const llmux_keys[] = {
    "socket", "log_level", "log_content", "grace_period",
    "stream_idle_timeout", "allow_users", "allow_groups", "admin_group",
    "providers", "http", "http_header_timeout", "http_body_timeout",
    "http_idle_timeout", "cache_per_caller", "hello_timeout",
    "frame_timeout", "max_memory", "database", "callers", "prices_file",
    NULL,
};

static int read_llmux_settings(struct cload *l, const struct ynode *y)
{
    struct config *c = l->c;
    int r = 0;

    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return cload_fail(l, y, "llmux_settings must be a map");
    for (size_t i = 0; i + 1 < y->n; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];

        if (r < 0 && !cload_recorded(r))
            return r;
        r = 0;
        if (strcmp(k->s, "providers") == 0)
            r = 0;      /* read before model_list (load_tree) */
        else if (strcmp(k->s, "socket") == 0)
            r = cload_str(l, v, "socket", &c->socket_path);
        else if (strcmp(k->s, "database") == 0)
            r = cload_str(l, v, "database", &c->database);
        else if (strcmp(k->s, "prices_file") == 0) {
            r = cload_str(l, v, "prices_file", &c->prices_file);
            c->prices_file_line = v->line;
        }
        else if (strcmp(k->s, "callers") == 0 && c->callers == NULL)
            r = read_callers(l, v);
        else if (strcmp(k->s, "http") == 0)
            r = read_http(l, v);
        else if (strcmp(k->s, "http_header_timeout") == 0)
            r = cload_secs(l, v, "http_header_timeout",
                           &c->http_header_timeout);
        else if (strcmp(k->s, "http_body_timeout") == 0)
            r = cload_secs(l, v, "http_body_timeout", &c->http_body_timeout);
        else if (strcmp(k->s, "http_idle_timeout") == 0)
            r = cload_secs(l, v, "http_idle_timeout", &c->http_idle_timeout);
        else if (strcmp(k->s, "log_level") == 0)
            r = read_level(l, v);
        else if (strcmp(k->s, "log_content") == 0)
            r = cload_bool(l, v, "log_content", &c->log_content);
        else if (strcmp(k->s, "grace_period") == 0)
            r = cload_num(l, v, "grace_period", &c->grace_period);
        else if (strcmp(k->s, "hello_timeout") == 0)
            r = cload_secs(l, v, "hello_timeout", &c->hello_timeout);
        else if (strcmp(k->s, "frame_timeout") == 0)
            r = cload_secs(l, v, "frame_timeout", &c->frame_timeout);
        else if (strcmp(k->s, "max_memory") == 0)
            r = cload_secs(l, v, "max_memory", &c->max_memory);
        else if (strcmp(k->s, "stream_idle_timeout") == 0)
            r = cload_secs(l, v, "stream_idle_timeout",
                          &c->router.idle_timeout);
        else if (strcmp(k->s, "allow_users") == 0)
            r = read_id_list(l, v, 0, (unsigned **)&c->allow_uids,
                             &c->nallow_uids);
        else if (strcmp(k->s, "allow_groups") == 0)
            r = read_id_list(l, v, 1, (unsigned **)&c->allow_gids,
                             &c->nallow_gids);
        else if (strcmp(k->s, "cache_per_caller") == 0)
            r = cload_bool(l, v, "cache_per_caller", &c->cache.per_caller);
        else if (strcmp(k->s, "admin_group") == 0) {
            unsigned *g = NULL;
            size_t n = 0;
            struct ynode seq = { .kind = Y_SEQ, .line = v->line,
                                 .kids = (struct ynode **)&v, .n = 1 };

            if ((r = cload_scalar(l, v, "admin_group")) == 0 &&
                (r = read_id_list(l, &seq, 1, &g, &n)) == 0)
                c->admin_gid = g[0];
            free(g);
        } else
            cwords_warn(l, k, CSEC_LLMUX, llmux_keys);
    }
    return r;
}


static int read_budget_duration(struct cload *l, const struct ynode *v)
{
    int r = cload_scalar(l, v, "budget_duration");

    if (r < 0)
        return r;
    if (budget_duration_ok(v->s) < 0 ||
        strlen(v->s) >= sizeof(l->c->budget_duration))
        return cload_fail(l, v, "budget_duration must be like 30s, 30m, "
                          "30h, 30d or 1mo");
    snprintf(l->c->budget_duration, sizeof(l->c->budget_duration), "%s",
             v->s);
    return 0;
}
/* Read here or by routercfg_read_key: for did-you-mean. */
static const char *const litellm_keys[] = {
    "drop_params", "request_timeout", "num_retries", "fallbacks",
    "context_window_fallbacks", "content_policy_fallbacks",
    "default_fallbacks", "allowed_fails", "cooldown_time", "retry_after",
    "max_fallbacks", "disable_cooldowns", "max_budget", "budget_duration",
    NULL,
};

static int read_litellm_settings(struct cload *l, const struct ynode *y)
{
    struct config *c = l->c;
    int r = 0;

    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return cload_fail(l, y, "litellm_settings must be a map");
    for (size_t i = 0; i + 1 < y->n; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];

        if (r < 0 && !cload_recorded(r))
            return r;
        r = 0;
        if (strcmp(k->s, "drop_params") == 0)
            r = cload_bool(l, v, "drop_params", &c->drop_params);
        else if (strcmp(k->s, "request_timeout") == 0)
            r = cload_secs(l, v, "request_timeout", &c->request_timeout);
        else if (strcmp(k->s, "max_budget") == 0)
            r = cload_secs(l, v, "max_budget", &c->max_budget);
        else if (strcmp(k->s, "budget_duration") == 0)
            r = read_budget_duration(l, v);
        else if (strcmp(k->s, "timeout") != 0 &&
                 routercfg_read_key(l, k, v, &r))
            continue;
        else if (cachecfg_read_key(l, k, v, &r))
            continue;
        else
            cwords_warn(l, k, CSEC_LITELLM, litellm_keys);
    }
    return r < 0 && cload_recorded(r) ? 0 : r;
}

/* environment_variables: seen by every os.environ/ lookup of the file, as
 * LiteLLM sets them first; put into the process environment by the loop
 * thread once the configuration is in place (cenv.h says why). */
static int read_environment(struct cload *l, const struct ynode *y)
{
    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return cload_fail(l, y, "environment_variables must be a map");
    for (size_t i = 0; i + 1 < y->n; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];

        if (v->kind != Y_SCALAR)
            cload_fail(l, v, "environment_variables.%s must be a value",
                       k->s);
        else if (*k->s == '\0' || strchr(k->s, '=') != NULL)
            cload_fail(l, k, "environment_variables: \"%s\" is not a "
                       "variable name", k->s);
        else if (cenv_set(&l->c->vars, k->s,
                          ynode_is_null(v) ? "" : v->s) < 0)
            return -ENOMEM;
        /* A variable set to "" is said "set but empty" where a key uses
         * it (cload_missing), once. */
    }
    return 0;
}

static const char *const top_keys[] = {
    "model_list", "llmux_settings", "environment_variables",
    "litellm_settings", "router_settings", "general_settings", NULL,
};

/* The environment the config depends on, read once: preset keys and
 * base URLs, and the AWS and Azure variables (config.h). */
static int load_env(struct config *c)
{
    struct config_env *env = &c->env;
    const struct preset *p;
    const char *v;
    size_t n = 0;

    while (preset_at(n))
        n++;
    env->keys = calloc(n, sizeof(*env->keys));
    env->bases = calloc(n, sizeof(*env->bases));
    if (env->keys == NULL || env->bases == NULL)
        return -ENOMEM;
    env->npresets = n;
    for (size_t i = 0; i < n; i++) {
        p = preset_at(i);
        if (p->key_env && (v = cenv_get(p->key_env)) != NULL && *v &&
            (env->keys[i] = secret_new(v, strlen(v))) == NULL)
            return -ENOMEM;
        if (p->base_env && (v = cenv_get(p->base_env)) != NULL && *v &&
            (env->bases[i] = strdup(v)) == NULL)
            return -ENOMEM;
    }
    if ((env_secret("AWS_ACCESS_KEY_ID", &env->aws_access_key)) < 0 ||
        (env_secret("AWS_SECRET_ACCESS_KEY", &env->aws_secret_key)) < 0 ||
        (env_secret("AWS_SESSION_TOKEN", &env->aws_session_token)) < 0)
        return -ENOMEM;
    if ((v = cenv_get("AWS_REGION")) == NULL || *v == '\0')
        v = cenv_get("AWS_DEFAULT_REGION");
    if (v && *v && (env->aws_region = strdup(v)) == NULL)
        return -ENOMEM;
    if ((v = cenv_get("AZURE_API_VERSION")) != NULL && *v &&
        (env->azure_api_version = strdup(v)) == NULL)
        return -ENOMEM;
    return 0;
}

static void env_free(struct config_env *env)
{
    for (size_t i = 0; i < env->npresets; i++) {
        secret_free(env->keys[i]);
        free(env->bases[i]);
    }
    free(env->keys);
    free(env->bases);
    secret_free(env->aws_access_key);
    secret_free(env->aws_secret_key);
    secret_free(env->aws_session_token);
    free(env->aws_region);
    free(env->azure_api_version);
}

static int load_tree(struct cload *l, const struct ynode *root)
{
    const struct ynode *y;
    int r;

    if (root->kind != Y_MAP)
        return cload_fail(l, root, "the configuration must be a map "
                          "(model_list:, litellm_settings:, …)");
    /* Order matters: variables first, then keys, then what uses them. */
    if ((y = ymap_get(root, "environment_variables")))
        read_environment(l, y);
    if ((r = load_env(l->c)) < 0)
        return r;
    /* Providers by config, before the deployments that name them. */
    if ((y = ymap_get(root, "llmux_settings")) &&
        (y = ymap_get(y, "providers")) &&
        (r = cprovider_read(l, y)) < 0 && !cload_recorded(r))
        return r;
    for (size_t i = 0; i + 1 < root->n; i += 2) {
        const struct ynode *k = root->kids[i], *v = root->kids[i + 1];

        if (strcmp(k->s, "model_list") == 0)
            r = deployment_read_list(l, v);
        else if (strcmp(k->s, "llmux_settings") == 0)
            r = read_llmux_settings(l, v);
        else if (strcmp(k->s, "environment_variables") == 0 ||
                 strcmp(k->s, "litellm_settings") == 0 ||
                 strcmp(k->s, "router_settings") == 0)
            r = 0;   /* read before or after this loop */
        else if (strcmp(k->s, "general_settings") == 0) {
            r = read_general_settings(l, v);
        } else {
            cwords_warn(l, k, CSEC_TOP, top_keys);
            r = 0;
        }
        if (r < 0 && !cload_recorded(r))
            return r;
    }
    /* Where both sections set a key, router_settings wins (LiteLLM). */
    if ((y = ymap_get(root, "litellm_settings")) &&
        (r = read_litellm_settings(l, y)) < 0 && !cload_recorded(r))
        return r;
    if ((y = ymap_get(root, "router_settings")) &&
        (r = routercfg_read(l, y)) < 0 && !cload_recorded(r))
        return r;
    return 0;
}

static struct config *config_new(const char *path)
{
    struct config *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    if ((c->refs = malloc(sizeof(*c->refs))) == NULL) {
        free(c);
        return NULL;
    }
    *c->refs = 1;
    c->log_level = LOG_INFO;
    c->grace_period = 30;
    c->hello_timeout = 10;
    c->frame_timeout = 30;
    c->max_memory = 256;
    c->http_header_timeout = 10;
    c->http_body_timeout = 60;
    c->http_idle_timeout = 120;
    c->request_timeout = 600;
    c->max_budget = -1;
    c->router.strategy = ROUTE_SIMPLE_SHUFFLE;
    c->router.allowed_fails = 3;          /* LiteLLM's defaults */
    c->router.cooldown_time = 5;
    c->router.max_fallbacks = 5;
    c->router.tag_match_any = 1;          /* LiteLLM's default */
    for (size_t i = 0; i < ECLASS_COUNT; i++)
        c->router.retry_policy[i] = c->router.allowed_fails_policy[i] = -1;
    c->admin_gid = (gid_t)-1;
    cachecfg_init(&c->cache);
    c->path = strdup(path);
    if (c->path == NULL) {
        free(c->refs);
        free(c);
        return NULL;
    }
    return c;
}

static int by_line(const void *a, const void *b)
{
    const struct cmsg *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x < y ? -1 : x > y;   /* stable: the order found */
}

/* Every problem, in line order, one a line, into err (errors as they
 * are, warnings marked); what does not fit is counted at the end. */
static void report_all(struct cload *l)
{
    size_t off = 0, shown = 0;

    for (size_t i = 0; i < l->nmsgs; i++) {
        const struct cmsg *m = &l->msgs[i];
        const char *colon = strstr(m->text, ": ");
        int n, at = colon ? (int)(colon - m->text) + 2 : 0;

        /* Room for the count line after this one. */
        n = snprintf(NULL, 0, "%s%.*s%s%s", off ? "\n" : "", at, m->text,
                     m->error ? "" : "warning: ", m->text + at);
        if (off + (size_t)n + 64 >= l->errlen)
            break;
        off += (size_t)snprintf(l->err + off, l->errlen - off, "%s%.*s%s%s",
                                off ? "\n" : "", at, m->text,
                                m->error ? "" : "warning: ", m->text + at);
        shown++;
    }
    if (shown < l->nmsgs && off < l->errlen)
        snprintf(l->err + off, l->errlen - off, "%s… and %zu more",
                 off ? "\n" : "", l->nmsgs - shown);
}

/* The warnings, in line order, to the config. */
static int keep_warnings(struct cload *l)
{
    struct config *c = l->c;

    if ((c->warnings = calloc(l->nmsgs + 1, sizeof(*c->warnings))) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < l->nmsgs; i++) {
        c->warnings[c->nwarnings++] = l->msgs[i].text;
        l->msgs[i].text = NULL;
    }
    return 0;
}

/* Internal flag: choose the price table by its path (config_load_prices). */
#define CONFIG_PRICES_FILE 0x100

static int config_load_any(const char *path, const char *text, size_t n,
                           unsigned flags, struct prices *prices,
                           struct config **ret, char *err, size_t errlen)
{
    struct cload l = { .file = path, .err = err, .errlen = errlen,
                       .strict = !!(flags & CONFIG_STRICT) };
    struct ynode *root;
    int r;

    *ret = NULL;
    if ((r = ynode_load(path, text, n, &root, err, errlen)) < 0)
        return r;
    if ((l.c = config_new(path)) == NULL) {
        ynode_free(root);
        return -ENOMEM;
    }
    cenv_enter(&l.c->vars);
    r = load_tree(&l, root);
    cenv_leave();
    ynode_free(root);
    if (r == 0 && l.nerrors == 0 && (flags & CONFIG_PRICES_FILE))
        r = dprice_choose_table(&l, prices);
    else if (r == 0 && l.nerrors == 0 && prices)
        l.c->prices = prices_ref(prices);
    if (r == 0 && l.nerrors == 0 && l.c->prices)
        dprice_bind_all(&l);
    if (l.nmsgs > 1)     /* qsort's array may not be NULL */
        qsort(l.msgs, l.nmsgs, sizeof(*l.msgs), by_line);
    if (r == 0 && l.nerrors > 0)
        r = LLMUX_EBADREQ;
    if (r == LLMUX_EBADREQ)
        report_all(&l);
    if (r == 0)
        r = keep_warnings(&l);
    cload_free(&l);
    if (r < 0) {
        if (r == -ENOMEM)
            snprintf(err, errlen, "%s: out of memory", path);
        config_unref(l.c);
        return r;
    }
    *ret = l.c;
    return 0;
}

int config_load(const char *path, struct config **ret, char *err,
                size_t errlen)
{
    return config_load_any(path, NULL, 0, 0, NULL, ret, err, errlen);
}

int config_load_flags(const char *path, unsigned flags, struct config **ret,
                      char *err, size_t errlen)
{
    return config_load_any(path, NULL, 0, flags & CONFIG_STRICT, NULL, ret,
                           err, errlen);
}

int config_load_text(const char *name, const char *text, size_t n,
                     struct config **ret, char *err, size_t errlen)
{
    return config_load_any(name, text, n, 0, NULL, ret, err, errlen);
}

int config_load_prices(const char *path, unsigned flags,
                       struct prices *current, struct config **ret,
                       char *err, size_t errlen)
{
    return config_load_any(path, NULL, 0, (flags & CONFIG_STRICT) |
                           CONFIG_PRICES_FILE, current, ret, err, errlen);
}

int config_load_text_prices(const char *name, const char *text, size_t n,
                            struct prices *t, struct config **ret,
                            char *err, size_t errlen)
{
    return config_load_any(name, text, n, 0, t, ret, err, errlen);
}

const struct config *config_ref(const struct config *c)
{
    (*c->refs)++;
    return c;
}

void config_unref(const struct config *cc)
{
    struct config *c = (struct config *)cc;   /* the last reference: ours */

    if (c == NULL || --*c->refs > 0)
        return;
    free(c->refs);
    for (size_t i = 0; i < c->ndeps; i++)
        deployment_destroy(c->deps[i]);
    free(c->deps);
    for (size_t i = 0; i < c->nwild; i++)
        deployment_destroy(c->wild[i]);
    free(c->wild);
    routercfg_free(&c->router);
    cachecfg_free(&c->cache);
    cprovider_free_all(c);
    env_free(&c->env);
    cenv_free(&c->vars);
    for (size_t i = 0; i < c->nwarnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    free(c->allow_uids);
    free(c->allow_gids);
    free(c->socket_path);
    free(c->database);
    free(c->prices_file);
    prices_unref(c->prices);   /* after the deployments that borrow rows */
    for (size_t i = 0; i < c->ncallers; i++)
        json_decref(c->callers[i].models);
    free(c->callers);
    for (size_t i = 0; i < c->nhttp; i++)
        free(c->http[i]);
    free(c->http);
    secret_free(c->master_key);
    free(c->path);
    free(c);
}

const char *config_alias(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->router.nalias; i++)
        if (strcmp(c->router.alias_from[i], name) == 0)
            return c->router.alias_to[i];
    return name;
}

void config_summary(const struct config *c, char *buf, size_t len)
{
    size_t n = c->ndeps + c->nwild;

    snprintf(buf, len, "%zu deployment%s (%zu wildcard), %zu warning%s", n,
             n == 1 ? "" : "s", c->nwild, c->nwarnings,
             c->nwarnings == 1 ? "" : "s");
}
