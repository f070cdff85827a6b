/* config.c -- LiteLLM-style config.yaml -> struct config (see config.h).
 * Problems in the file are reported as "file:line: what"; keys llmux does
 * not know are reported as warnings, never silently dropped, and never
 * fatal, so a valid LiteLLM file always loads. */
#include "config.h"
#include "llmux-errno.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"
#include "yamltree.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#define MAX_IMPLICIT 1024

struct cload {
    struct config *c;
    const char    *file;
    char          *err;
    size_t         errlen;
};

static int fail(struct cload *l, const struct ynode *y, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct cload *l, const struct ynode *y, const char *fmt, ...)
{
    size_t off;
    va_list ap;

    off = (size_t)snprintf(l->err, l->errlen, "%s:%d: ", l->file,
                           y ? y->line : 1);
    if (off < l->errlen) {
        va_start(ap, fmt);
        vsnprintf(l->err + off, l->errlen - off, fmt, ap);
        va_end(ap);
    }
    return LLMUX_EBADREQ;
}

static void warn(struct cload *l, const struct ynode *y, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warn(struct cload *l, const struct ynode *y, const char *fmt, ...)
{
    struct config *c = l->c;
    char line[512], **w;
    size_t off;
    va_list ap;

    off = (size_t)snprintf(line, sizeof(line), "%s:%d: ", l->file,
                           y ? y->line : 1);
    va_start(ap, fmt);
    vsnprintf(line + off, sizeof(line) - off, fmt, ap);
    va_end(ap);
    w = realloc(c->warnings, (c->nwarnings + 1) * sizeof(*w));
    if (w == NULL)
        return;
    c->warnings = w;
    if ((w[c->nwarnings] = strdup(line)) != NULL)
        c->nwarnings++;
}

/* ---- scalar readers ---------------------------------------------------- */

static int want_scalar(struct cload *l, const struct ynode *y,
                       const char *what)
{
    if (y->kind != Y_SCALAR)
        return fail(l, y, "%s must be a %s", what, "single value");
    return 0;
}

static int read_str(struct cload *l, const struct ynode *y, const char *what,
                    char **ret)
{
    char msg[256];
    int r;

    if ((r = want_scalar(l, y, what)) < 0)
        return r;
    free(*ret);
    *ret = NULL;
    if (ynode_is_null(y))
        return 0;
    if ((r = value_resolve(y->s, ret, msg, sizeof(msg))) < 0)
        return fail(l, y, "%s: %s", what, msg);
    return 0;
}

static int read_num(struct cload *l, const struct ynode *y, const char *what,
                    double *ret)
{
    char *end;
    double v;
    int r;

    if ((r = want_scalar(l, y, what)) < 0)
        return r;
    errno = 0;
    v = strtod(y->s, &end);
    if (end == y->s || *end != '\0' || errno || v != v)
        return fail(l, y, "%s must be a number, not \"%s\"", what, y->s);
    *ret = v;
    return 0;
}

static int read_bool(struct cload *l, const struct ynode *y, const char *what,
                     int *ret)
{
    static const char *const t[] = { "true", "True", "TRUE", "yes", "on" };
    static const char *const f[] = { "false", "False", "FALSE", "no", "off" };
    int r;

    if ((r = want_scalar(l, y, what)) < 0)
        return r;
    for (size_t i = 0; i < 5; i++) {
        if (strcmp(y->s, t[i]) == 0) { *ret = 1; return 0; }
        if (strcmp(y->s, f[i]) == 0) { *ret = 0; return 0; }
    }
    return fail(l, y, "%s must be true or false, not \"%s\"", what, y->s);
}

/* A YAML value as JSON, for params adapters read (numbers stay numbers). */
static json_t *ynode_json(const struct ynode *y)
{
    json_t *j;
    char *end;

    switch (y->kind) {
    case Y_SCALAR:
        if (y->plain) {
            long long i;
            double d;

            if (ynode_is_null(y))
                return json_null();
            if (!strcmp(y->s, "true") || !strcmp(y->s, "True"))
                return json_true();
            if (!strcmp(y->s, "false") || !strcmp(y->s, "False"))
                return json_false();
            errno = 0;
            i = strtoll(y->s, &end, 10);
            if (*y->s && *end == '\0' && !errno)
                return json_integer(i);
            d = strtod(y->s, &end);
            if (*y->s && *end == '\0' && !errno)
                return json_real(d);
        }
        return json_string(y->s);
    case Y_SEQ:
        j = json_array();
        for (size_t i = 0; j && i < y->n; i++)
            json_array_append_new(j, ynode_json(y->kids[i]));
        return j;
    case Y_MAP:
        j = json_object();
        for (size_t i = 0; j && i + 1 < y->n; i += 2)
            if (y->kids[i]->kind == Y_SCALAR)
                json_object_set_new(j, y->kids[i]->s,
                                    ynode_json(y->kids[i + 1]));
        return j;
    }
    return NULL;
}

/* ---- deployments -------------------------------------------------------- */

static void deployment_free(struct deployment *d)
{
    if (d == NULL)
        return;
    free(d->model_name);
    free(d->model);
    free(d->upstream_model);
    free(d->api_base);
    if (d->own_key)
        secret_free(d->api_key);
    free(d->api_version);
    free(d->mock_response);
    free(d->id);
    json_decref(d->params);
    json_decref(d->model_info);
    free(d->file);
    free(d);
}

static size_t preset_index(const struct preset *p)
{
    size_t i = 0;

    while (preset_at(i) && preset_at(i) != p)
        i++;
    return i;
}

/* Fills the provider-derived fields of d from d->model ("prefix/model").
 * Returns 0 or an error with err set (no file:line: callers add it). */
static int deployment_bind(struct config *c, struct deployment *d, char *err,
                           size_t errlen)
{
    const char *slash = strchr(d->model, '/');
    const char *base_env;
    size_t i;

    if (slash == NULL) {
        snprintf(err, errlen, "model \"%s\" has no provider prefix (write "
                 "it as provider/model, e.g. openai/%s)", d->model, d->model);
        return LLMUX_ENOTFOUND;
    }
    d->preset = preset_find(d->model, (size_t)(slash - d->model));
    if (d->preset == NULL) {
        snprintf(err, errlen, "unknown provider \"%.*s\" in model \"%s\"",
                 (int)(slash - d->model), d->model, d->model);
        return LLMUX_ENOTFOUND;
    }
    d->prov = provider_find(d->preset->dialect, strlen(d->preset->dialect));
    if (d->prov == NULL) {
        snprintf(err, errlen, "provider \"%s\" (dialect %s) is not "
                 "available in this llmuxd", d->preset->name,
                 d->preset->dialect);
        return LLMUX_ENOTFOUND;
    }
    if (d->upstream_model == NULL &&
        (d->upstream_model = strdup(slash + 1)) == NULL)
        return -ENOMEM;
    if (d->api_base == NULL) {
        base_env = d->preset->base_env ? getenv(d->preset->base_env) : NULL;
        if (base_env && *base_env)
            d->api_base = strdup(base_env);
        else if (d->preset->api_base)
            d->api_base = strdup(d->preset->api_base);
    }
    if (d->api_base) {
        size_t n = strlen(d->api_base);

        while (n > 0 && d->api_base[n - 1] == '/')
            d->api_base[--n] = '\0';
    } else if (d->preset->quirks & QUIRK_NEEDS_API_BASE) {
        snprintf(err, errlen, "provider \"%s\" needs api_base (or $%s)",
                 d->preset->name, d->preset->base_env);
        return LLMUX_EBADREQ;
    }
    if (d->api_key == NULL) {
        i = preset_index(d->preset);
        if (i < c->npreset_keys)
            d->api_key = c->preset_keys[i];
        d->own_key = 0;
    }
    return 0;
}

static const char *const known_params[] = {
    "model", "api_key", "api_base", "api_version", "mock_response",
    "timeout", "stream_timeout", "rpm", "tpm", "weight", "order",
    "max_retries", "cooldown_time", "region_name", "aws_region_name",
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
    "aws_bedrock_runtime_endpoint", "organization", "extra_headers",
    "max_tokens", "temperature", "top_p", "drop_params", "input_cost_per_token",
    "output_cost_per_token", "num_retries", "merge_reasoning_content_in_choices",
    "reasoning_effort", "vertex_project", "vertex_location", "tags",
    "use_in_pass_through", "seed", "stop", "base_model", NULL,
};

/* Keys whose values are secrets: never kept in params. */
static int param_is_secret(const char *k)
{
    return strcmp(k, "api_key") == 0 ||
           strcmp(k, "aws_secret_access_key") == 0 ||
           strcmp(k, "aws_session_token") == 0 ||
           strcmp(k, "aws_access_key_id") == 0;
}

static int known_param(const char *k)
{
    for (size_t i = 0; known_params[i]; i++)
        if (strcmp(known_params[i], k) == 0)
            return 1;
    return 0;
}

static int read_params(struct cload *l, struct deployment *d,
                       const struct ynode *p)
{
    char msg[256];
    int r;

    if (p->kind != Y_MAP)
        return fail(l, p, "litellm_params must be a map");
    if ((d->params = json_object()) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i + 1 < p->n; i += 2) {
        const struct ynode *k = p->kids[i], *v = p->kids[i + 1];

        if (k->kind != Y_SCALAR)
            return fail(l, k, "litellm_params keys must be names");
        if (!known_param(k->s))
            warn(l, k, "unknown key \"%s\" in litellm_params (ignored)",
                 k->s);
        if (strcmp(k->s, "model") == 0)
            r = read_str(l, v, "model", &d->model);
        else if (strcmp(k->s, "api_base") == 0)
            r = read_str(l, v, "api_base", &d->api_base);
        else if (strcmp(k->s, "api_version") == 0)
            r = read_str(l, v, "api_version", &d->api_version);
        else if (strcmp(k->s, "mock_response") == 0)
            r = read_str(l, v, "mock_response", &d->mock_response);
        else if (strcmp(k->s, "timeout") == 0)
            r = read_num(l, v, "timeout", &d->timeout);
        else if (strcmp(k->s, "stream_timeout") == 0)
            r = read_num(l, v, "stream_timeout", &d->stream_timeout);
        else if (strcmp(k->s, "api_key") == 0) {
            if ((r = want_scalar(l, v, "api_key")) < 0)
                return r;
            if (ynode_is_null(v))
                continue;
            secret_free(d->own_key ? d->api_key : NULL);
            r = secret_resolve(v->s, &d->api_key, msg, sizeof(msg));
            d->own_key = d->api_key != NULL;
            if (r == LLMUX_ENOTFOUND) {
                /* A missing variable is not fatal at load: the deployment
                 * answers EAUTH until a reload brings the key. */
                warn(l, v, "api_key: %s", msg);
                r = 0;
            } else if (r < 0) {
                return fail(l, v, "api_key: %s", msg);
            }
        } else
            r = 0;
        if (r < 0)
            return r;
        if (!param_is_secret(k->s) && strcmp(k->s, "model") != 0)
            json_object_set_new(d->params, k->s, ynode_json(v));
    }
    return 0;
}

static int read_deployment(struct cload *l, const struct ynode *e,
                           size_t index)
{
    struct config *c = l->c;
    struct deployment *d, **deps;
    const struct ynode *mn, *lp, *mi, *id;
    char msg[256], gen[32];
    int r;

    if (e->kind != Y_MAP)
        return fail(l, e, "each model_list entry must be a map with "
                    "model_name and litellm_params");
    for (size_t i = 0; i + 1 < e->n; i += 2) {
        const char *k = e->kids[i]->s;

        if (k && strcmp(k, "model_name") && strcmp(k, "litellm_params") &&
            strcmp(k, "model_info"))
            warn(l, e->kids[i], "unknown key \"%s\" in model_list entry "
                 "(ignored)", k);
    }
    mn = ymap_get(e, "model_name");
    lp = ymap_get(e, "litellm_params");
    if (mn == NULL)
        return fail(l, e, "model_list entry without model_name");
    if (lp == NULL)
        return fail(l, e, "model_list entry \"%s\" has no litellm_params",
                    mn->kind == Y_SCALAR ? mn->s : "?");
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return -ENOMEM;
    deps = realloc(c->deps, (c->ndeps + 1) * sizeof(*deps));
    if (deps == NULL) {
        free(d);
        return -ENOMEM;
    }
    c->deps = deps;
    c->deps[c->ndeps++] = d;
    d->line = e->line;
    if ((d->file = strdup(l->file)) == NULL)
        return -ENOMEM;
    if ((r = read_str(l, mn, "model_name", &d->model_name)) < 0)
        return r;
    if (d->model_name == NULL)
        return fail(l, mn, "model_name is empty");
    if ((r = read_params(l, d, lp)) < 0)
        return r;
    if (d->model == NULL)
        return fail(l, lp, "litellm_params of \"%s\" has no model",
                    d->model_name);
    if ((mi = ymap_get(e, "model_info")) != NULL) {
        d->model_info = ynode_json(mi);
        if ((id = ymap_get(mi, "id")) && id->kind == Y_SCALAR)
            d->id = strdup(id->s);
    }
    if (d->id == NULL) {
        snprintf(gen, sizeof(gen), "%s#%zu", "deployment", index + 1);
        d->id = strdup(gen);
    }
    if ((r = deployment_bind(c, d, msg, sizeof(msg))) < 0)
        return fail(l, ymap_get(lp, "model"), "%s", msg);
    if (d->api_key == NULL && !(d->preset->quirks & QUIRK_KEY_OPTIONAL))
        warn(l, lp, "no API key for \"%s\" (%s): set api_key or $%s",
             d->model_name, d->model, d->preset->key_env ?
             d->preset->key_env : "?");
    return 0;
}

/* ---- sections ----------------------------------------------------------- */

static int read_model_list(struct cload *l, const struct ynode *y)
{
    int r;

    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_SEQ)
        return fail(l, y, "model_list must be a list");
    for (size_t i = 0; i < y->n; i++)
        if ((r = read_deployment(l, y->kids[i], i)) < 0)
            return r;
    return 0;
}

static int read_id_list(struct cload *l, const struct ynode *y, int groups,
                        unsigned **ret, size_t *ret_n)
{
    unsigned *ids;

    if (y->kind != Y_SEQ)
        return fail(l, y, "%s must be a list of names or numbers",
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
            return fail(l, v, "expected a user or group name");
        n = strtoul(v->s, &end, 10);
        if (*v->s == '\0' || *end != '\0') {
            if (groups) {
                struct group *g = getgrnam(v->s);

                if (g == NULL)
                    return fail(l, v, "unknown group \"%s\"", v->s);
                n = g->gr_gid;
            } else {
                struct passwd *p = getpwnam(v->s);

                if (p == NULL)
                    return fail(l, v, "unknown user \"%s\"", v->s);
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

    if ((r = want_scalar(l, y, "log_level")) < 0)
        return r;
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (strcmp(y->s, levels[i].n) == 0) {
            l->c->log_level = levels[i].v;
            return 0;
        }
    return fail(l, y, "log_level must be error, warning, notice, info or "
                "debug, not \"%s\"", y->s);
}

static int read_llmux_settings(struct cload *l, const struct ynode *y)
{
    struct config *c = l->c;
    int r = 0;

    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return fail(l, y, "llmux_settings must be a map");
    for (size_t i = 0; i + 1 < y->n && r == 0; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];

        if (strcmp(k->s, "socket") == 0)
            r = read_str(l, v, "socket", &c->socket_path);
        else if (strcmp(k->s, "log_level") == 0)
            r = read_level(l, v);
        else if (strcmp(k->s, "log_content") == 0)
            r = read_bool(l, v, "log_content", &c->log_content);
        else if (strcmp(k->s, "grace_period") == 0)
            r = read_num(l, v, "grace_period", &c->grace_period);
        else if (strcmp(k->s, "allow_users") == 0)
            r = read_id_list(l, v, 0, (unsigned **)&c->allow_uids,
                             &c->nallow_uids);
        else if (strcmp(k->s, "allow_groups") == 0)
            r = read_id_list(l, v, 1, (unsigned **)&c->allow_gids,
                             &c->nallow_gids);
        else if (strcmp(k->s, "admin_group") == 0) {
            unsigned *g = NULL;
            size_t n = 0;
            struct ynode seq = { .kind = Y_SEQ, .line = v->line,
                                 .kids = (struct ynode **)&v, .n = 1 };

            if ((r = want_scalar(l, v, "admin_group")) == 0 &&
                (r = read_id_list(l, &seq, 1, &g, &n)) == 0)
                c->admin_gid = g[0];
            free(g);
        } else
            warn(l, k, "unknown key \"%s\" in llmux_settings (ignored)",
                 k->s);
    }
    return r;
}

static int read_litellm_settings(struct cload *l, const struct ynode *y)
{
    struct config *c = l->c;
    int r = 0;

    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return fail(l, y, "litellm_settings must be a map");
    for (size_t i = 0; i + 1 < y->n && r == 0; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];

        if (strcmp(k->s, "drop_params") == 0)
            r = read_bool(l, v, "drop_params", &c->drop_params);
        else if (strcmp(k->s, "request_timeout") == 0)
            r = read_num(l, v, "request_timeout", &c->request_timeout);
        else
            warn(l, k, "ignored: litellm_settings.%s is not supported by "
                 "llmux", k->s);
    }
    return r;
}

/* environment_variables: set before any os.environ/ lookup, as LiteLLM. */
static int read_environment(struct cload *l, const struct ynode *y)
{
    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return fail(l, y, "environment_variables must be a map");
    for (size_t i = 0; i + 1 < y->n; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];

        if (v->kind != Y_SCALAR)
            return fail(l, v, "environment_variables.%s must be a value",
                        k->s);
        if (setenv(k->s, v->s, 1) < 0)
            return fail(l, k, "cannot set %s: %s", k->s, strerror(errno));
    }
    return 0;
}

static void ignore_section(struct cload *l, const struct ynode *y,
                           const char *name)
{
    if (y->kind != Y_MAP)
        return;
    for (size_t i = 0; i + 1 < y->n; i += 2)
        warn(l, y->kids[i], "ignored: %s.%s is not supported by llmux",
             name, y->kids[i]->s);
}

static int load_preset_keys(struct config *c)
{
    const struct preset *p;
    size_t n = 0;

    while (preset_at(n))
        n++;
    c->preset_keys = calloc(n, sizeof(*c->preset_keys));
    if (c->preset_keys == NULL)
        return -ENOMEM;
    c->npreset_keys = n;
    for (size_t i = 0; i < n; i++) {
        const char *v;

        p = preset_at(i);
        if (p->key_env && (v = getenv(p->key_env)) != NULL && *v)
            c->preset_keys[i] = secret_new(v, strlen(v));
    }
    return 0;
}

static int load_tree(struct cload *l, const struct ynode *root)
{
    const struct ynode *y;
    int r;

    if (root->kind != Y_MAP)
        return fail(l, root, "the configuration must be a map (model_list:, "
                    "litellm_settings:, …)");
    /* Order matters: variables first, then keys, then what uses them. */
    if ((y = ymap_get(root, "environment_variables")) &&
        (r = read_environment(l, y)) < 0)
        return r;
    if ((r = load_preset_keys(l->c)) < 0)
        return r;
    for (size_t i = 0; i + 1 < root->n; i += 2) {
        const struct ynode *k = root->kids[i], *v = root->kids[i + 1];

        if (k->kind != Y_SCALAR)
            return fail(l, k, "top-level keys must be names");
        if (strcmp(k->s, "model_list") == 0)
            r = read_model_list(l, v);
        else if (strcmp(k->s, "llmux_settings") == 0)
            r = read_llmux_settings(l, v);
        else if (strcmp(k->s, "litellm_settings") == 0)
            r = read_litellm_settings(l, v);
        else if (strcmp(k->s, "environment_variables") == 0)
            r = 0;
        else if (strcmp(k->s, "router_settings") == 0 ||
                 strcmp(k->s, "general_settings") == 0) {
            ignore_section(l, v, k->s);
            r = 0;
        } else {
            warn(l, k, "unknown top-level key \"%s\" (ignored)", k->s);
            r = 0;
        }
        if (r < 0)
            return r;
    }
    return 0;
}

static struct config *config_new(const char *path)
{
    struct config *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->refs = 1;
    c->log_level = LOG_INFO;
    c->grace_period = 30;
    c->request_timeout = 600;
    c->admin_gid = (gid_t)-1;
    c->path = strdup(path);
    if (c->path == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

static int config_load_any(const char *path, const char *text, size_t n,
                           struct config **ret, char *err, size_t errlen)
{
    struct cload l = { .file = path, .err = err, .errlen = errlen };
    struct ynode *root;
    int r;

    *ret = NULL;
    if ((r = ynode_load(path, text, n, &root, err, errlen)) < 0)
        return r;
    if ((l.c = config_new(path)) == NULL) {
        ynode_free(root);
        return -ENOMEM;
    }
    r = load_tree(&l, root);
    ynode_free(root);
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
    return config_load_any(path, NULL, 0, ret, err, errlen);
}

int config_load_text(const char *name, const char *text, size_t n,
                     struct config **ret, char *err, size_t errlen)
{
    return config_load_any(name, text, n, ret, err, errlen);
}

struct config *config_ref(struct config *c)
{
    c->refs++;
    return c;
}

void config_unref(struct config *c)
{
    if (c == NULL || --c->refs > 0)
        return;
    for (size_t i = 0; i < c->ndeps; i++)
        deployment_free(c->deps[i]);
    free(c->deps);
    for (size_t i = 0; i < c->nimplicit; i++)
        deployment_free(c->implicit[i]);
    free(c->implicit);
    for (size_t i = 0; i < c->npreset_keys; i++)
        secret_free(c->preset_keys[i]);
    free(c->preset_keys);
    for (size_t i = 0; i < c->nwarnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    free(c->allow_uids);
    free(c->allow_gids);
    free(c->socket_path);
    free(c->path);
    free(c);
}

/* LiteLLM accepts some bare model names and infers the provider. */
static const char *infer_prefix(const char *name)
{
    static const struct { const char *start, *prefix; } rules[] = {
        { "gpt-", "openai" }, { "chatgpt-", "openai" }, { "o1", "openai" },
        { "o3", "openai" }, { "o4", "openai" }, { "claude-", "anthropic" },
        { "gemini-", "gemini" }, { "command", "cohere" },
    };

    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (strncmp(name, rules[i].start, strlen(rules[i].start)) == 0)
            return rules[i].prefix;
    return NULL;
}

static int implicit_deployment(struct config *c, const char *name,
                               struct deployment **ret, char *err,
                               size_t errlen)
{
    struct deployment *d, **list;
    const char *prefix = NULL;
    int r;

    for (size_t i = 0; i < c->nimplicit; i++)
        if (strcmp(c->implicit[i]->model_name, name) == 0) {
            *ret = c->implicit[i];
            return 0;
        }
    if (strchr(name, '/') == NULL && (prefix = infer_prefix(name)) == NULL) {
        snprintf(err, errlen, "unknown model \"%s\": not in model_list and "
                 "no provider prefix (e.g. openai/%s, mock/echo)", name,
                 name);
        return LLMUX_ENOTFOUND;
    }
    if (c->nimplicit >= MAX_IMPLICIT) {
        snprintf(err, errlen, "too many distinct model names in use; "
                 "declare \"%s\" in model_list", name);
        return LLMUX_ENOTFOUND;
    }
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return -ENOMEM;
    d->implicit = 1;
    d->model_name = strdup(name);
    if (prefix) {
        size_t n = strlen(prefix) + strlen(name) + 2;

        if ((d->model = malloc(n)) != NULL)
            snprintf(d->model, n, "%s/%s", prefix, name);
    } else {
        d->model = strdup(name);
    }
    d->id = strdup(name);
    d->file = strdup("(implicit)");
    if (!d->model_name || !d->model || !d->id || !d->file) {
        deployment_free(d);
        return -ENOMEM;
    }
    if ((r = deployment_bind(c, d, err, errlen)) < 0) {
        deployment_free(d);
        return r;
    }
    list = realloc(c->implicit, (c->nimplicit + 1) * sizeof(*list));
    if (list == NULL) {
        deployment_free(d);
        return -ENOMEM;
    }
    c->implicit = list;
    c->implicit[c->nimplicit++] = d;
    *ret = d;
    return 0;
}

int config_resolve(struct config *c, const char *name,
                   struct deployment **out, size_t max, char *err,
                   size_t errlen)
{
    size_t n = 0;
    int r;

    for (size_t i = 0; i < c->ndeps && n < max; i++)
        if (strcmp(c->deps[i]->model_name, name) == 0)
            out[n++] = c->deps[i];
    if (n > 0)
        return (int)n;
    if (max == 0)
        return LLMUX_EINTERNAL;
    if ((r = implicit_deployment(c, name, &out[0], err, errlen)) < 0)
        return r;
    return 1;
}
