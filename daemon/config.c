/* config.c -- LiteLLM-style config.yaml -> struct config (see config.h):
 * model_list, router_settings, litellm_settings, environment_variables,
 * llmux_settings, and model-name resolution (aliases, wildcard groups,
 * implicit "provider/model" deployments).
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
#include <stddef.h>
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

/* A number, possibly written as os.environ/NAME (LiteLLM allows that for
 * any value). */
static int read_num(struct cload *l, const struct ynode *y, const char *what,
                    double *ret)
{
    char *end, *txt = NULL, msg[256];
    double v;
    int r;

    if ((r = want_scalar(l, y, what)) < 0)
        return r;
    if (strncmp(y->s, "os.environ/", 11) == 0) {
        if (value_resolve(y->s, &txt, msg, sizeof(msg)) < 0)
            return fail(l, y, "%s: %s", what, msg);
    }
    errno = 0;
    v = strtod(txt ? txt : y->s, &end);
    r = end == (txt ? txt : y->s) || *end != '\0' || errno || v != v;
    free(txt);
    if (r)
        return fail(l, y, "%s must be a number, not \"%s\"", what, y->s);
    *ret = v;
    return 0;
}

/* A non-negative whole number. */
static int read_count(struct cload *l, const struct ynode *y,
                      const char *what, int *ret)
{
    double v;
    int r;

    if ((r = read_num(l, y, what, &v)) < 0)
        return r;
    if (v < 0 || v > 1000000 || v != (double)(int)v)
        return fail(l, y, "%s must be a whole number >= 0, not \"%s\"",
                    what, y->s);
    *ret = (int)v;
    return 0;
}

/* A number >= 0 (seconds, limits, prices, weights). */
static int read_secs(struct cload *l, const struct ynode *y,
                     const char *what, double *ret)
{
    int r;

    if ((r = read_num(l, y, what, ret)) < 0)
        return r;
    if (*ret < 0)
        return fail(l, y, "%s must be a number >= 0, not \"%s\"", what,
                    y->s);
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
    secret_free(d->aws_access_key);
    secret_free(d->aws_secret_key);
    secret_free(d->aws_session_token);
    free(d->api_version);
    free(d->mock_response);
    free(d->id);
    free(d->key);
    json_decref(d->params);
    json_decref(d->model_info);
    free(d->file);
    free(d);
}

/* A deployment with every optional setting "unset". */
static struct deployment *deployment_new(void)
{
    struct deployment *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    d->max_retries = -1;
    d->cooldown_time = -1;
    d->input_cost = d->output_cost = -1;
    return d;
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
/* Bedrock deployments without aws_* in the config take the standard AWS
 * variables, read once here into locked memory like every other key. */
static void aws_from_env(struct deployment *d)
{
    static const struct { const char *var; size_t off; } vars[] = {
        { "AWS_ACCESS_KEY_ID", offsetof(struct deployment, aws_access_key) },
        { "AWS_SECRET_ACCESS_KEY",
          offsetof(struct deployment, aws_secret_key) },
        { "AWS_SESSION_TOKEN",
          offsetof(struct deployment, aws_session_token) },
    };

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        struct secret **slot = (struct secret **)((char *)d + vars[i].off);
        const char *v = getenv(vars[i].var);

        if (*slot == NULL && v && *v)
            *slot = secret_new(v, strlen(v));
    }
}

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
    if (strcmp(d->preset->dialect, "bedrock") == 0)
        aws_from_env(d);
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

static struct secret *secret_copy(const struct secret *s)
{
    return s ? secret_new(s->p, s->len) : NULL;
}

/* A key of a deployment (api_key, aws_*): os.environ/, credential/ or a
 * literal, into locked memory. A missing variable is not fatal at load:
 * the deployment answers EAUTH until a reload brings the key. */
static int read_secret(struct cload *l, const struct ynode *v,
                       const char *what, struct secret **slot)
{
    char msg[256];
    int r;

    if ((r = want_scalar(l, v, what)) < 0)
        return r;
    if (ynode_is_null(v))
        return 0;
    if (slot == NULL)
        return LLMUX_EINTERNAL;
    *slot = secret_free(*slot);
    r = secret_resolve(v->s, slot, msg, sizeof(msg));
    if (r == LLMUX_ENOTFOUND) {
        warn(l, v, "%s: %s", what, msg);
        return 0;
    }
    return r < 0 ? fail(l, v, "%s: %s", what, msg) : 0;
}

static int read_params(struct cload *l, struct deployment *d,
                       const struct ynode *p)
{
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
            r = read_secs(l, v, "timeout", &d->timeout);
        else if (strcmp(k->s, "stream_timeout") == 0)
            r = read_secs(l, v, "stream_timeout", &d->stream_timeout);
        else if (strcmp(k->s, "rpm") == 0)
            r = read_secs(l, v, "rpm", &d->rpm);
        else if (strcmp(k->s, "tpm") == 0)
            r = read_secs(l, v, "tpm", &d->tpm);
        else if (strcmp(k->s, "weight") == 0)
            r = read_secs(l, v, "weight", &d->weight);
        else if (strcmp(k->s, "order") == 0)
            r = read_count(l, v, "order", &d->order);
        else if (strcmp(k->s, "max_retries") == 0 ||
                 strcmp(k->s, "num_retries") == 0)
            r = read_count(l, v, k->s, &d->max_retries);
        else if (strcmp(k->s, "cooldown_time") == 0)
            r = read_secs(l, v, "cooldown_time", &d->cooldown_time);
        else if (strcmp(k->s, "input_cost_per_token") == 0)
            r = read_secs(l, v, k->s, &d->input_cost);
        else if (strcmp(k->s, "output_cost_per_token") == 0)
            r = read_secs(l, v, k->s, &d->output_cost);
        else if (strcmp(k->s, "api_key") == 0) {
            r = read_secret(l, v, "api_key", &d->api_key);
            d->own_key = d->api_key != NULL;
        } else if (strcmp(k->s, "aws_access_key_id") == 0)
            r = read_secret(l, v, k->s, &d->aws_access_key);
        else if (strcmp(k->s, "aws_secret_access_key") == 0)
            r = read_secret(l, v, k->s, &d->aws_secret_key);
        else if (strcmp(k->s, "aws_session_token") == 0)
            r = read_secret(l, v, k->s, &d->aws_session_token);
        else
            r = 0;
        if (r < 0)
            return r;
        if (!param_is_secret(k->s) && strcmp(k->s, "model") != 0)
            json_object_set_new(d->params, k->s, ynode_json(v));
    }
    return 0;
}

/* Appends d to *list (grown by one). */
static int list_add(struct deployment ***list, size_t *n,
                    struct deployment *d)
{
    struct deployment **p = realloc(*list, (*n + 1) * sizeof(*p));

    if (p == NULL)
        return -ENOMEM;
    *list = p;
    p[(*n)++] = d;
    return 0;
}

/* The router's statistics key (router.h): model_info.id when given, else
 * what the deployment is — group, model, base — plus its rank among
 * identical ones, so an unchanged deployment keeps its key (and with it
 * its cooldown and latency) across a reload. */
static int make_key(struct deployment *const *list, size_t nlist,
                    struct deployment *d, int explicit_id)
{
    const char *base = d->api_base ? d->api_base : "";
    size_t same = 0, n;

    if (explicit_id) {
        n = strlen(d->id) + 4;
        if ((d->key = malloc(n)) == NULL)
            return -ENOMEM;
        snprintf(d->key, n, "id:%s", d->id);
        return 0;
    }
    for (size_t i = 0; i < nlist && list[i] != d; i++) {
        const struct deployment *o = list[i];

        if (strcmp(o->model_name, d->model_name) == 0 &&
            strcmp(o->model, d->model) == 0 &&
            strcmp(o->api_base ? o->api_base : "", base) == 0)
            same++;
    }
    n = strlen(d->model_name) + strlen(d->model) + strlen(base) + 32;
    if ((d->key = malloc(n)) == NULL)
        return -ENOMEM;
    snprintf(d->key, n, "%s|%s|%s|%zu", d->model_name, d->model, base, same);
    return 0;
}

/* A wildcard template is only checked here; resolve_wild makes the real
 * deployments. A provider prefix without '*' must still be known. */
static int check_template(struct deployment *d, char *err, size_t errlen)
{
    const char *slash = strchr(d->model, '/');

    if (slash == NULL || memchr(d->model, '*', (size_t)(slash - d->model)))
        return 0;
    if (preset_find(d->model, (size_t)(slash - d->model)) == NULL) {
        snprintf(err, errlen, "unknown provider \"%.*s\" in model \"%s\"",
                 (int)(slash - d->model), d->model, d->model);
        return LLMUX_ENOTFOUND;
    }
    return 0;
}

/* Model prices may sit in litellm_params or in model_info (LiteLLM reads
 * both); litellm_params wins. */
static void read_prices(struct deployment *d)
{
    json_t *v;

    if (d->input_cost < 0 &&
        json_is_number(v = json_object_get(d->model_info,
                                           "input_cost_per_token")))
        d->input_cost = json_number_value(v);
    if (d->output_cost < 0 &&
        json_is_number(v = json_object_get(d->model_info,
                                           "output_cost_per_token")))
        d->output_cost = json_number_value(v);
}

static int read_deployment(struct cload *l, const struct ynode *e,
                           size_t index)
{
    struct config *c = l->c;
    struct deployment *d;
    const struct ynode *mn, *lp, *mi, *id;
    char msg[256], gen[32];
    int r, wild, explicit_id = 0;

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
    wild = mn->kind == Y_SCALAR && strchr(mn->s, '*') != NULL;
    if ((d = deployment_new()) == NULL)
        return -ENOMEM;
    /* Owned by the list from here on, so every failure below frees it
     * with the config. */
    if ((r = wild ? list_add(&c->wild, &c->nwild, d) :
                    list_add(&c->deps, &c->ndeps, d)) < 0) {
        free(d);
        return r;
    }
    d->wildcard = wild;
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
        if ((id = ymap_get(mi, "id")) && id->kind == Y_SCALAR &&
            !ynode_is_null(id)) {
            d->id = strdup(id->s);
            explicit_id = 1;
        }
    }
    read_prices(d);
    if (d->id == NULL) {
        snprintf(gen, sizeof(gen), "%s#%zu", "deployment", index + 1);
        d->id = strdup(gen);
    }
    if (d->id == NULL)
        return -ENOMEM;
    if (wild) {
        if ((r = check_template(d, msg, sizeof(msg))) < 0)
            return fail(l, ymap_get(lp, "model"), "%s", msg);
        return make_key(c->wild, c->nwild, d, explicit_id);
    }
    if ((r = deployment_bind(c, d, msg, sizeof(msg))) < 0)
        return fail(l, ymap_get(lp, "model"), "%s", msg);
    if ((r = make_key(c->deps, c->ndeps, d, explicit_id)) < 0)
        return r;
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
        else if (strcmp(k->s, "hello_timeout") == 0)
            r = read_secs(l, v, "hello_timeout", &c->hello_timeout);
        else if (strcmp(k->s, "frame_timeout") == 0)
            r = read_secs(l, v, "frame_timeout", &c->frame_timeout);
        else if (strcmp(k->s, "max_memory") == 0)
            r = read_secs(l, v, "max_memory", &c->max_memory);
        else if (strcmp(k->s, "stream_idle_timeout") == 0)
            r = read_secs(l, v, "stream_idle_timeout",
                          &c->router.idle_timeout);
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

/* ---- router_settings ---------------------------------------------------- */

/* A model-group name or a list of them -> *ret (owned strings). */
static int read_names(struct cload *l, const struct ynode *y,
                      const char *what, char ***ret, size_t *ret_n)
{
    const struct ynode *one[1] = { y };
    const struct ynode *const *items = one;
    size_t n = 1;
    char **v;
    int r;

    if (y->kind == Y_SEQ) {
        items = (const struct ynode *const *)y->kids;
        n = y->n;
    } else if (y->kind != Y_SCALAR) {
        return fail(l, y, "%s must be a model group name or a list of them",
                    what);
    }
    if ((v = calloc(n + 1, sizeof(*v))) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < *ret_n; i++)
        free((*ret)[i]);
    free(*ret);
    *ret = v;
    *ret_n = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ynode *it = items[i];

        /* LiteLLM also takes {model: name, …} items (per-request style). */
        if (it->kind == Y_MAP && ymap_get(it, "model"))
            it = ymap_get(it, "model");
        if (it->kind != Y_SCALAR || ynode_is_null(it))
            return fail(l, it, "%s: expected a model group name", what);
        if ((r = read_str(l, it, what, &v[*ret_n])) < 0)
            return r;
        (*ret_n)++;
    }
    return 0;
}

static void fallback_list_free(struct fallback_list *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->r[i].group);
        for (size_t j = 0; j < f->r[i].nto; j++)
            free(f->r[i].to[j]);
        free(f->r[i].to);
    }
    free(f->r);
    f->r = NULL;
    f->n = 0;
}

/* LiteLLM's shape: [{group: [fallback, …]}, …]; a single map is taken as
 * well. A later setting replaces an earlier one as a whole. */
static int read_fallbacks(struct cload *l, const struct ynode *y,
                          const char *what, struct fallback_list *ret)
{
    const struct ynode *one[1] = { y };
    const struct ynode *const *maps = one;
    size_t nmaps = 1;

    fallback_list_free(ret);
    if (ynode_is_null(y))
        return 0;
    if (y->kind == Y_SEQ) {
        maps = (const struct ynode *const *)y->kids;
        nmaps = y->n;
    }
    for (size_t i = 0; i < nmaps; i++) {
        const struct ynode *m = maps[i];

        if (m->kind != Y_MAP)
            return fail(l, m, "%s: each entry must map a model group to "
                        "its fallbacks, e.g. {gpt-4o: [claude]}", what);
        for (size_t k = 0; k + 1 < m->n; k += 2) {
            struct fallback_rule *rule;
            int r;

            rule = realloc(ret->r, (ret->n + 1) * sizeof(*rule));
            if (rule == NULL)
                return -ENOMEM;
            ret->r = rule;
            rule = &ret->r[ret->n++];
            memset(rule, 0, sizeof(*rule));
            if (m->kids[k]->kind != Y_SCALAR)
                return fail(l, m->kids[k], "%s: expected a model group "
                            "name", what);
            if ((rule->group = strdup(m->kids[k]->s)) == NULL)
                return -ENOMEM;
            if ((r = read_names(l, m->kids[k + 1], what, &rule->to,
                                &rule->nto)) < 0)
                return r;
        }
    }
    return 0;
}

/* model_group_alias: {alias: group} or {alias: {model: group, hidden}}. */
static int read_alias(struct cload *l, const struct ynode *y)
{
    struct router_settings *rs = &l->c->router;

    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return fail(l, y, "model_group_alias must map names to model "
                    "groups");
    for (size_t i = 0; i + 1 < y->n; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];
        char **from, **to;
        int r;

        if (v->kind == Y_MAP && ymap_get(v, "model"))
            v = ymap_get(v, "model");
        if (k->kind != Y_SCALAR || v->kind != Y_SCALAR)
            return fail(l, v, "model_group_alias.%s must name a model group",
                        k->kind == Y_SCALAR ? k->s : "?");
        from = realloc(rs->alias_from, (rs->nalias + 1) * sizeof(*from));
        if (from == NULL)
            return -ENOMEM;
        rs->alias_from = from;
        to = realloc(rs->alias_to, (rs->nalias + 1) * sizeof(*to));
        if (to == NULL)
            return -ENOMEM;
        rs->alias_to = to;
        from[rs->nalias] = strdup(k->s);
        to[rs->nalias] = NULL;
        rs->nalias++;
        if (from[rs->nalias - 1] == NULL)
            return -ENOMEM;
        if ((r = read_str(l, v, "model_group_alias", &to[rs->nalias - 1])) < 0)
            return r;
        if (to[rs->nalias - 1] == NULL)
            return fail(l, v, "model_group_alias.%s is empty", k->s);
    }
    return 0;
}

/* LiteLLM's exception names, as retry_policy and allowed_fails_policy
 * spell them (the latter with "AllowedFails" for "Retries"). */
static const char *const eclass_names[ECLASS_COUNT] = {
    [ECLASS_BAD_REQUEST]    = "BadRequestError",
    [ECLASS_AUTH]           = "AuthenticationError",
    [ECLASS_TIMEOUT]        = "TimeoutError",
    [ECLASS_RATE_LIMIT]     = "RateLimitError",
    [ECLASS_CONTENT_POLICY] = "ContentPolicyViolationError",
    [ECLASS_INTERNAL]       = "InternalServerError",
};

static int read_policy(struct cload *l, const struct ynode *y,
                       const char *section, const char *suffix, int *out)
{
    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return fail(l, y, "%s must be a map like {%s%s: 2}", section,
                    eclass_names[ECLASS_RATE_LIMIT], suffix);
    for (size_t i = 0; i + 1 < y->n; i += 2) {
        const struct ynode *k = y->kids[i];
        size_t c, sl = strlen(suffix);
        int r;

        for (c = 0; c < ECLASS_COUNT; c++) {
            size_t nl = strlen(eclass_names[c]);

            if (k->kind == Y_SCALAR && strncmp(k->s, eclass_names[c], nl) == 0 &&
                strcmp(k->s + nl, suffix) == 0 && strlen(k->s) == nl + sl)
                break;
        }
        if (c == ECLASS_COUNT) {
            warn(l, k, "ignored: %s.%s is not supported by llmux", section,
                 k->kind == Y_SCALAR ? k->s : "?");
            continue;
        }
        if ((r = read_count(l, y->kids[i + 1], k->s, &out[c])) < 0)
            return r;
    }
    return 0;
}

static int read_strategy(struct cload *l, const struct ynode *y)
{
    static const struct { const char *name; enum route_strategy s; } t[] = {
        { "simple-shuffle", ROUTE_SIMPLE_SHUFFLE },
        { "least-busy", ROUTE_LEAST_BUSY },
        { "latency-based-routing", ROUTE_LATENCY },
        { "usage-based-routing", ROUTE_USAGE },
        { "usage-based-routing-v2", ROUTE_USAGE },
        { "cost-based-routing", ROUTE_COST },
    };
    int r;

    if ((r = want_scalar(l, y, "routing_strategy")) < 0)
        return r;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(y->s, t[i].name) == 0) {
            l->c->router.strategy = t[i].s;
            return 0;
        }
    warn(l, y, "ignored: routing_strategy \"%s\" is not supported by llmux "
         "(using simple-shuffle)", y->s);
    l->c->router.strategy = ROUTE_SIMPLE_SHUFFLE;
    return 0;
}

static int read_strategy_args(struct cload *l, const struct ynode *y)
{
    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return fail(l, y, "routing_strategy_args must be a map");
    for (size_t i = 0; i + 1 < y->n; i += 2) {
        const struct ynode *k = y->kids[i];
        int r;

        if (k->kind == Y_SCALAR && strcmp(k->s, "lowest_latency_buffer") == 0) {
            if ((r = read_secs(l, y->kids[i + 1], k->s,
                               &l->c->router.latency_buffer)) < 0)
                return r;
        } else {
            warn(l, k, "ignored: routing_strategy_args.%s is not supported "
                 "by llmux", k->kind == Y_SCALAR ? k->s : "?");
        }
    }
    return 0;
}

/* One key that router_settings and litellm_settings share. Returns 1 when
 * the key is a router key (then *ret is the result), 0 when it is not. */
static int read_router_key(struct cload *l, const struct ynode *k,
                           const struct ynode *v, int *ret)
{
    struct router_settings *rs = &l->c->router;
    const char *n = k->s;

    if (strcmp(n, "num_retries") == 0)
        *ret = read_count(l, v, n, &rs->num_retries);
    else if (strcmp(n, "retry_after") == 0)
        *ret = read_secs(l, v, n, &rs->retry_after);
    else if (strcmp(n, "timeout") == 0)
        *ret = read_secs(l, v, n, &rs->timeout);
    else if (strcmp(n, "stream_timeout") == 0)
        *ret = read_secs(l, v, n, &rs->stream_timeout);
    else if (strcmp(n, "allowed_fails") == 0)
        *ret = read_count(l, v, n, &rs->allowed_fails);
    else if (strcmp(n, "cooldown_time") == 0)
        *ret = read_secs(l, v, n, &rs->cooldown_time);
    else if (strcmp(n, "disable_cooldowns") == 0)
        *ret = read_bool(l, v, n, &rs->disable_cooldowns);
    else if (strcmp(n, "max_fallbacks") == 0)
        *ret = read_count(l, v, n, &rs->max_fallbacks);
    else if (strcmp(n, "fallbacks") == 0)
        *ret = read_fallbacks(l, v, n, &rs->fallbacks);
    else if (strcmp(n, "context_window_fallbacks") == 0)
        *ret = read_fallbacks(l, v, n, &rs->context_fallbacks);
    else if (strcmp(n, "content_policy_fallbacks") == 0)
        *ret = read_fallbacks(l, v, n, &rs->policy_fallbacks);
    else if (strcmp(n, "default_fallbacks") == 0)
        *ret = ynode_is_null(v) ? 0 :
               read_names(l, v, n, &rs->default_fallbacks,
                          &rs->ndefault_fallbacks);
    else
        return 0;
    return 1;
}

static int read_router_settings(struct cload *l, const struct ynode *y)
{
    struct router_settings *rs = &l->c->router;
    int r = 0;

    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return fail(l, y, "router_settings must be a map");
    for (size_t i = 0; i + 1 < y->n && r == 0; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];

        if (k->kind != Y_SCALAR)
            return fail(l, k, "router_settings keys must be names");
        if (read_router_key(l, k, v, &r))
            continue;
        if (strcmp(k->s, "routing_strategy") == 0)
            r = read_strategy(l, v);
        else if (strcmp(k->s, "routing_strategy_args") == 0)
            r = read_strategy_args(l, v);
        else if (strcmp(k->s, "model_group_alias") == 0)
            r = read_alias(l, v);
        else if (strcmp(k->s, "retry_policy") == 0)
            r = read_policy(l, v, "retry_policy", "Retries",
                            rs->retry_policy);
        else if (strcmp(k->s, "allowed_fails_policy") == 0)
            r = read_policy(l, v, "allowed_fails_policy", "AllowedFails",
                            rs->allowed_fails_policy);
        else
            warn(l, k, "ignored: router_settings.%s is not supported by "
                 "llmux", k->s);
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

        if (k->kind != Y_SCALAR)
            return fail(l, k, "litellm_settings keys must be names");
        if (strcmp(k->s, "drop_params") == 0)
            r = read_bool(l, v, "drop_params", &c->drop_params);
        else if (strcmp(k->s, "request_timeout") == 0)
            r = read_secs(l, v, "request_timeout", &c->request_timeout);
        else if (strcmp(k->s, "timeout") != 0 &&
                 read_router_key(l, k, v, &r))
            continue;
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

static void router_settings_free(struct router_settings *rs)
{
    fallback_list_free(&rs->fallbacks);
    fallback_list_free(&rs->context_fallbacks);
    fallback_list_free(&rs->policy_fallbacks);
    for (size_t i = 0; i < rs->ndefault_fallbacks; i++)
        free(rs->default_fallbacks[i]);
    free(rs->default_fallbacks);
    for (size_t i = 0; i < rs->nalias; i++) {
        free(rs->alias_from[i]);
        free(rs->alias_to[i]);
    }
    free(rs->alias_from);
    free(rs->alias_to);
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
        else if (strcmp(k->s, "environment_variables") == 0 ||
                 strcmp(k->s, "litellm_settings") == 0 ||
                 strcmp(k->s, "router_settings") == 0)
            r = 0;   /* read before or after this loop */
        else if (strcmp(k->s, "general_settings") == 0) {
            ignore_section(l, v, k->s);
            r = 0;
        } else {
            warn(l, k, "unknown top-level key \"%s\" (ignored)", k->s);
            r = 0;
        }
        if (r < 0)
            return r;
    }
    /* Where both sections set a key, router_settings wins (LiteLLM). */
    if ((y = ymap_get(root, "litellm_settings")) &&
        (r = read_litellm_settings(l, y)) < 0)
        return r;
    if ((y = ymap_get(root, "router_settings")) &&
        (r = read_router_settings(l, y)) < 0)
        return r;
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
    c->hello_timeout = 10;
    c->frame_timeout = 30;
    c->max_memory = 256;
    c->request_timeout = 600;
    c->router.strategy = ROUTE_SIMPLE_SHUFFLE;
    c->router.allowed_fails = 3;          /* LiteLLM's defaults */
    c->router.cooldown_time = 5;
    c->router.max_fallbacks = 5;
    for (size_t i = 0; i < ECLASS_COUNT; i++)
        c->router.retry_policy[i] = c->router.allowed_fails_policy[i] = -1;
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
    for (size_t i = 0; i < c->nwild; i++)
        deployment_free(c->wild[i]);
    free(c->wild);
    router_settings_free(&c->router);
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

/* A deployment made at resolve time for name, with model as its
 * litellm_params.model: a copy of the wildcard template tmpl (sharing its
 * key), or a bare one when tmpl is NULL. Kept in c->implicit. */
static int derive(struct config *c, const struct deployment *tmpl,
                  const char *name, const char *model,
                  struct deployment **ret, char *err, size_t errlen)
{
    struct deployment *d;
    const char *prefix = NULL;
    size_t n;
    int r;

    if (strchr(model, '/') == NULL && (prefix = infer_prefix(model)) == NULL) {
        snprintf(err, errlen, "unknown model \"%s\": not in model_list and "
                 "no provider prefix (e.g. openai/%s, mock/echo)", name,
                 model);
        return LLMUX_ENOTFOUND;
    }
    if (c->nimplicit >= MAX_IMPLICIT) {
        snprintf(err, errlen, "too many distinct model names in use; "
                 "declare \"%s\" in model_list", name);
        return LLMUX_ENOTFOUND;
    }
    if ((d = deployment_new()) == NULL)
        return -ENOMEM;
    if (tmpl) {
        *d = *tmpl;      /* numbers; every pointer is replaced below */
        d->own_key = 0;  /* the template owns the key */
        d->aws_access_key = secret_copy(tmpl->aws_access_key);
        d->aws_secret_key = secret_copy(tmpl->aws_secret_key);
        d->aws_session_token = secret_copy(tmpl->aws_session_token);
        d->api_base = tmpl->api_base ? strdup(tmpl->api_base) : NULL;
        d->api_version = tmpl->api_version ? strdup(tmpl->api_version) :
                         NULL;
        d->mock_response = tmpl->mock_response ?
                           strdup(tmpl->mock_response) : NULL;
        d->params = json_incref(tmpl->params);
        d->model_info = json_incref(tmpl->model_info);
        d->wildcard = 0;
        d->origin = tmpl;
        d->id = strdup(tmpl->id);
        d->file = strdup(tmpl->file);
    } else {
        d->id = strdup(name);
        d->file = strdup("(implicit)");
    }
    d->implicit = 1;
    d->upstream_model = NULL;
    d->preset = NULL;
    d->prov = NULL;
    d->model_name = strdup(name);
    n = strlen(prefix ? prefix : "") + strlen(model) + 2;
    if ((d->model = malloc(n)) != NULL)
        snprintf(d->model, n, "%s%s%s", prefix ? prefix : "",
                 prefix ? "/" : "", model);
    n = strlen(name) + (tmpl ? strlen(tmpl->key) : 0) + 16;
    if ((d->key = malloc(n)) != NULL)
        snprintf(d->key, n, "%s|%s", tmpl ? tmpl->key : "implicit", name);
    if (!d->model_name || !d->model || !d->id || !d->file || !d->key ||
        (tmpl && ((tmpl->api_base && !d->api_base) ||
                  (tmpl->api_version && !d->api_version) ||
                  (tmpl->mock_response && !d->mock_response)))) {
        deployment_free(d);
        return -ENOMEM;
    }
    if ((r = deployment_bind(c, d, err, errlen)) < 0 ||
        (r = list_add(&c->implicit, &c->nimplicit, d)) < 0) {
        deployment_free(d);
        return r;
    }
    *ret = d;
    return 0;
}

static struct deployment *find_derived(const struct config *c,
                                       const struct deployment *tmpl,
                                       const char *name)
{
    for (size_t i = 0; i < c->nimplicit; i++)
        if (c->implicit[i]->origin == tmpl &&
            strcmp(c->implicit[i]->model_name, name) == 0)
            return c->implicit[i];
    return NULL;
}

/* Matches name against a pattern with one '*' (a prefix and/or a suffix
 * around it, or "*" alone): returns how many literal characters matched
 * (the specificity), or -1; *cap and *caplen get the part the '*' stood for. */
static long wild_match(const char *pat, const char *name, const char **cap,
                       size_t *caplen)
{
    const char *star = strchr(pat, '*');
    size_t pre, suf, n = strlen(name);

    if (star == NULL)
        return -1;
    pre = (size_t)(star - pat);
    suf = strlen(star + 1);
    if (strchr(star + 1, '*') != NULL)
        return -1;   /* one '*' only, as LiteLLM's examples */
    if (n < pre + suf || strncmp(name, pat, pre) != 0 ||
        strcmp(name + n - suf, star + 1) != 0)
        return -1;
    *cap = name + pre;
    *caplen = n - pre - suf;
    return (long)(pre + suf);
}

/* The deployments of the most specific wildcard group matching name, made
 * concrete: each template's model with its '*' replaced by what the
 * group's '*' matched (group "openai/" + '*' asked for "openai/gpt-4o"
 * calls model "openai/gpt-4o"). 0 when no wildcard group matches. */
static int resolve_wild(struct config *c, const char *name,
                        struct deployment **out, size_t max, char *err,
                        size_t errlen)
{
    const struct deployment *best = NULL;
    const char *cap = NULL;
    size_t caplen = 0, n = 0;
    long bestlen = -1;

    for (size_t i = 0; i < c->nwild; i++) {
        const char *cp;
        size_t cl;
        long m = wild_match(c->wild[i]->model_name, name, &cp, &cl);

        if (m > bestlen) {
            best = c->wild[i];
            bestlen = m;
            cap = cp;
            caplen = cl;
        }
    }
    if (best == NULL)
        return 0;
    for (size_t i = 0; i < c->nwild && n < max; i++) {
        const struct deployment *t = c->wild[i];
        const char *star = strchr(t->model, '*');
        char model[1024];
        int r;

        if (strcmp(t->model_name, best->model_name) != 0)
            continue;
        if ((out[n] = find_derived(c, t, name)) != NULL) {
            n++;
            continue;
        }
        if (star)
            snprintf(model, sizeof(model), "%.*s%.*s%s",
                     (int)(star - t->model), t->model, (int)caplen, cap,
                     star + 1);
        else
            snprintf(model, sizeof(model), "%s", t->model);
        if ((r = derive(c, t, name, model, &out[n], err, errlen)) < 0)
            return r;
        n++;
    }
    return (int)n;
}

const char *config_alias(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->router.nalias; i++)
        if (strcmp(c->router.alias_from[i], name) == 0)
            return c->router.alias_to[i];
    return name;
}

int config_resolve(struct config *c, const char *name,
                   struct deployment **out, size_t max, char *err,
                   size_t errlen)
{
    struct deployment *d;
    size_t n = 0;
    int r;

    if (max == 0)
        return LLMUX_EINTERNAL;
    name = config_alias(c, name);
    for (size_t i = 0; i < c->ndeps && n < max; i++)
        if (strcmp(c->deps[i]->model_name, name) == 0)
            out[n++] = c->deps[i];
    if (n > 0)
        return (int)n;
    if ((r = resolve_wild(c, name, out, max, err, errlen)) != 0)
        return r;
    if ((d = find_derived(c, NULL, name)) == NULL &&
        (r = derive(c, NULL, name, name, &d, err, errlen)) < 0)
        return r;
    out[0] = d;
    return 1;
}
