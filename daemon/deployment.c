/* deployment.c -- model_list entries and the deployments derived from
 * templates and "provider/model" names (see deployment.h): provider,
 * base URL, keys and the settings adapters need, all resolved here, at
 * load or when the router derives one, never by an adapter per request. */
#include "deployment.h"
#include "callparams.h"
#include "dprice.h"
#include "cload.h"
#include "cprovider.h"
#include "cwords.h"
#include "dprovider.h"
#include "modeltab.h"
#include "config.h"
#include "llmux-errno.h"
#include "presets.h"
#include "providers/vertex.h"
#include "provider.h"
#include "router.h"
#include "secret.h"
#include "yamltree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- lifetime ----------------------------------------------------------- */

void deployment_destroy(struct deployment *d)
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
    secret_free(d->vertex_creds);
    if (d->own_vertex)
        vertex_dep_free(d->vertex);
    free(d->api_version);
    free(d->aws_region);
    free(d->mock_response);
    free(d->unusable);
    if (d->own_preset)
        free((char *)d->own_preset->name);
    free(d->own_preset);
    free(d->id);
    free(d->key);
    json_decref(d->params);
    json_decref(d->model_info);
    json_decref(d->call_defaults);
    free(d->file);
    free(d);
}

struct deployment *deployment_ref(struct deployment *d)
{
    if (d->implicit)
        d->refs++;
    else
        config_ref(d->owner);
    return d;
}

struct deployment *deployment_unref(struct deployment *d)
{
    const struct config *owner;

    if (d == NULL)
        return NULL;
    if (!d->implicit) {
        config_unref(d->owner);
        return NULL;
    }
    if (--d->refs > 0)
        return NULL;
    owner = d->owner;
    router_stat_unref(d->st);
    deployment_destroy(d);
    config_unref(owner);   /* last: d borrowed the origin and keys from it */
    return NULL;
}

/* A deployment with every optional setting "unset". */
static struct deployment *deployment_new(void)
{
    struct deployment *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    d->max_retries = -1;
    d->cooldown_time = -1;
    price_unset(&d->price_set);
    price_unset(&d->price);
    return d;
}

static struct secret *secret_copy(const struct secret *s)
{
    return s ? secret_new(s->p, s->len) : NULL;
}

static char *strdup_or_null(const char *s, int *oom)
{
    char *p = s ? strdup(s) : NULL;

    if (s && p == NULL)
        *oom = 1;
    return p;
}

static size_t preset_index(const struct preset *p)
{
    size_t i = 0;

    while (preset_at(i) && preset_at(i) != p)
        i++;
    return i;
}

/* A non-empty string in litellm_params, or NULL. */
static const char *param_str(const json_t *params, const char *k)
{
    const char *s = json_string_value(json_object_get(params, k));

    return s && *s ? s : NULL;
}

/* ---- provider and defaults ---------------------------------------------- */

/* What the config does not say, from the preset and the environment as
 * the config read it at load (config.h): base URL, key, and the
 * adapters' settings (Bedrock's region and keys, Azure's api-version). */
static int bind_defaults(const struct config *c, struct deployment *d,
                         char *err, size_t errlen)
{
    const struct config_env *env = &c->env;
    size_t i = preset_index(d->preset);
    int oom = 0;

    if (d->api_base == NULL && strcmp(d->preset->dialect, "bedrock") == 0)
        d->api_base = strdup_or_null(param_str(d->params,
                                     "aws_bedrock_runtime_endpoint"), &oom);
    if (d->api_base == NULL)
        d->api_base = strdup_or_null(i < env->npresets && env->bases[i] ?
                                     env->bases[i] : d->preset->api_base,
                                     &oom);
    if (d->api_base) {
        size_t n = strlen(d->api_base);

        while (n > 0 && d->api_base[n - 1] == '/')
            d->api_base[--n] = '\0';
    } else if (!oom && (d->preset->quirks & QUIRK_NEEDS_API_BASE)) {
        snprintf(err, errlen, "provider \"%s\" needs api_base (or $%s)",
                 d->preset->name, d->preset->base_env);
        return LLMUX_EBADREQ;
    }
    if (d->api_key == NULL) {
        if (i < env->npresets)
            d->api_key = env->keys[i];
        else if (d->cprov && d->cprov->auth_header == NULL)
            d->api_key = d->cprov->key;   /* borrowed from the config */
        d->own_key = 0;
    }
    if (strcmp(d->preset->dialect, "bedrock") == 0) {
        const char *r = param_str(d->params, "aws_region_name");

        if (r == NULL)
            r = param_str(d->params, "region_name");
        if (r == NULL)
            r = env->aws_region;
        if (d->aws_region == NULL)
            d->aws_region = strdup_or_null(r, &oom);
        if (d->aws_access_key == NULL)
            d->aws_access_key = secret_copy(env->aws_access_key);
        if (d->aws_secret_key == NULL)
            d->aws_secret_key = secret_copy(env->aws_secret_key);
        if (d->aws_session_token == NULL)
            d->aws_session_token = secret_copy(env->aws_session_token);
    }
    if (strcmp(d->preset->dialect, "vertex_ai") == 0) {
        int r = vertex_bind(d, d->origin, err, errlen);

        if (r < 0)
            return r;
    }
    if (strcmp(d->preset->dialect, "azure") == 0 &&
        (d->api_version == NULL || *d->api_version == '\0')) {
        free(d->api_version);
        d->api_version = strdup_or_null(env->azure_api_version, &oom);
    }
    return oom ? -ENOMEM : 0;
}

/* ---- model_list entries ------------------------------------------------- */

static const char *const known_params[] = {
    "model", "api_key", "api_base", "api_version", "mock_response",
    "timeout", "stream_timeout", "rpm", "tpm", "weight", "order",
    "max_retries", "cooldown_time", "region_name", "aws_region_name",
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
    "aws_bedrock_runtime_endpoint", "organization", "extra_headers",
    "drop_params", "input_cost_per_token", "output_cost_per_token",
    "cache_read_input_token_cost", "cache_creation_input_token_cost",
    "output_cost_per_reasoning_token",
    "input_cost_per_token_above_200k_tokens",
    "output_cost_per_token_above_200k_tokens",
    "cache_read_input_token_cost_above_200k_tokens",
    "cache_creation_input_token_cost_above_200k_tokens",
    "num_retries", "vertex_project", "vertex_location", "tags",
    "base_model", "custom_llm_provider", "vertex_credentials", NULL,
};

/* Keys whose values are secrets: never kept in params. */
static int param_is_secret(const char *k)
{
    return strcmp(k, "api_key") == 0 ||
           strcmp(k, "aws_secret_access_key") == 0 ||
           strcmp(k, "aws_session_token") == 0 ||
           strcmp(k, "aws_access_key_id") == 0 ||
           strcmp(k, "vertex_credentials") == 0;
}

static int known_param(const char *k)
{
    if (callparams_is(k))
        return 1;
    for (size_t i = 0; known_params[i]; i++)
        if (strcmp(known_params[i], k) == 0)
            return 1;
    return 0;
}

/* "api_base needs $NAME", the reason a deployment is unusable. */
static char *join_what(const char *key, const char *var)
{
    size_t n = strlen(key) + strlen(var) + 32;
    char *p = malloc(n);

    if (p)
        snprintf(p, n, "%s needs $%s, which was not set at load", key, var);
    return p;
}

/* litellm_params -> d. *ret_key_missing is set when api_key names a
 * variable that is not set (already warned about). */
static int read_params(struct cload *l, struct deployment *d,
                       const struct ynode *p, int *ret_key_missing)
{
    int r;

    if (p->kind != Y_MAP)
        return cload_fail(l, p, "litellm_params must be a map");
    if ((d->params = json_object()) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i + 1 < p->n; i += 2) {
        const struct ynode *k = p->kids[i], *v = p->kids[i + 1];

        if (!known_param(k->s))
            cwords_warn(l, k, CSEC_PARAMS, known_params);
        if (strcmp(k->s, "model") == 0)
            r = cload_str(l, v, "model", &d->model);
        else if (strcmp(k->s, "api_base") == 0)
            r = cload_str(l, v, "api_base", &d->api_base);
        else if (strcmp(k->s, "api_version") == 0)
            r = cload_str(l, v, "api_version", &d->api_version);
        else if (strcmp(k->s, "mock_response") == 0)
            r = cload_str(l, v, "mock_response", &d->mock_response);
        else if (strcmp(k->s, "timeout") == 0)
            r = cload_secs(l, v, "timeout", &d->timeout);
        else if (strcmp(k->s, "stream_timeout") == 0)
            r = cload_secs(l, v, "stream_timeout", &d->stream_timeout);
        else if (strcmp(k->s, "rpm") == 0)
            r = cload_secs(l, v, "rpm", &d->rpm);
        else if (strcmp(k->s, "tpm") == 0)
            r = cload_secs(l, v, "tpm", &d->tpm);
        else if (strcmp(k->s, "weight") == 0)
            r = cload_secs(l, v, "weight", &d->weight);
        else if (strcmp(k->s, "order") == 0)
            r = cload_count(l, v, "order", &d->order);
        else if (strcmp(k->s, "max_retries") == 0 ||
                 strcmp(k->s, "num_retries") == 0)
            r = cload_count(l, v, k->s, &d->max_retries);
        else if (strcmp(k->s, "cooldown_time") == 0)
            r = cload_secs(l, v, "cooldown_time", &d->cooldown_time);
        else if (price_field_index(k->s) >= 0)
            r = cload_secs(l, v, k->s, price_field(&d->price_set,
                           (size_t)price_field_index(k->s)));
        else if (strcmp(k->s, "api_key") == 0) {
            r = cload_secret(l, v, "api_key", &d->api_key,
                             ret_key_missing);
            d->own_key = d->api_key != NULL;
        } else if (strcmp(k->s, "aws_access_key_id") == 0)
            r = cload_secret(l, v, k->s, &d->aws_access_key, NULL);
        else if (strcmp(k->s, "aws_secret_access_key") == 0)
            r = cload_secret(l, v, k->s, &d->aws_secret_key, NULL);
        else if (strcmp(k->s, "aws_session_token") == 0)
            r = cload_secret(l, v, k->s, &d->aws_session_token, NULL);
        else if (strcmp(k->s, "vertex_credentials") == 0) {
            r = cload_secret(l, v, k->s, &d->vertex_creds, NULL);
            d->vertex_creds_set = 1;
        }
        else
            r = 0;
        if (r < 0 && !cload_recorded(r))
            return r;
        if (r < 0)
            continue;    /* recorded; the other keys are read too */
        if ((strcmp(k->s, "model") == 0 || strcmp(k->s, "api_base") == 0) &&
            v->kind == Y_SCALAR && strncmp(v->s, "os.environ/", 11) == 0 &&
            !(strcmp(k->s, "model") == 0 ? d->model : d->api_base)) {
            /* Warned once (cload_missing); no call can use it until a
             * reload brings the variable. */
            if (d->unusable == NULL &&
                (d->unusable = join_what(k->s, v->s + 11)) == NULL)
                return -ENOMEM;
            continue;
        }
        if (param_is_secret(k->s) || strcmp(k->s, "api_base") == 0)
            d->explicit_creds = 1;
        if (!param_is_secret(k->s) && strcmp(k->s, "model") != 0)
            json_object_set_new(d->params, k->s, cload_json(v));
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

        if (o->model_name == NULL || o->model == NULL)
            continue;    /* an entry with errors: the load fails anyway */
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

/* A wildcard template is only checked here; the router derives the real
 * deployments. A provider prefix without '*' must still be known. A key
 * belongs to one provider: a template whose provider is itself a '*'
 * would send its api_key (or api_base) to whichever provider a caller
 * names, so it may not have one. */
static int check_template(struct deployment *d, char *err, size_t errlen)
{
    const char *slash = strchr(d->model, '/');

    if (slash == NULL || memchr(d->model, '*', (size_t)(slash - d->model))) {
        if (!d->explicit_creds)
            return 0;
        snprintf(err, errlen, "model_name \"%s\" with model \"%s\" has an "
                 "api_key or api_base, but its provider is whatever a "
                 "caller asks for (lm_studio/…, ollama/…), so the key would "
                 "go there too; name the provider, e.g. model: openai/* "
                 "(one entry per provider)", d->model_name, d->model);
        return LLMUX_EBADREQ;
    }
    if ((d->preset = preset_find(d->model,
                                 (size_t)(slash - d->model))) == NULL) {
        snprintf(err, errlen, "unknown provider \"%.*s\" in model \"%s\": %s "
                 "(the template is not used)", (int)(slash - d->model),
                 d->model, d->model, modeltab_litellm_provider(d->model,
                 (unsigned)(slash - d->model)) ? "not supported by llmux" :
                 "not a provider LiteLLM knows either");
        return LLMUX_ENOTFOUND;
    }
    return 0;
}

/* Model prices may sit in litellm_params or in model_info (LiteLLM reads
 * both); litellm_params wins, field by field. */
static void read_prices(struct deployment *d)
{
    struct price mi;

    price_unset(&mi);
    price_from_json(&mi, d->model_info);
    price_merge(&mi, &d->price_set);
    d->price_set = mi;
    d->price = mi;      /* until dprice_bind adds the table's row */
}

static const char *const entry_keys[] = {
    "model_name", "litellm_params", "model_info", NULL,
};

static int read_deployment(struct cload *l, const struct ynode *e,
                           size_t index)
{
    struct config *c = l->c;
    struct deployment *d;
    const struct ynode *mn, *lp, *mi, *id;
    char msg[256], gen[32];
    int r, wild, explicit_id = 0, key_missing = 0;

    if (e->kind != Y_MAP)
        return cload_fail(l, e, "each model_list entry must be a map with "
                    "model_name and litellm_params");
    for (size_t i = 0; i + 1 < e->n; i += 2) {
        const char *k = e->kids[i]->s;

        if (k && strcmp(k, "model_name") && strcmp(k, "litellm_params") &&
            strcmp(k, "model_info"))
            cwords_warn(l, e->kids[i], CSEC_ENTRY, entry_keys);
    }
    mn = ymap_get(e, "model_name");
    lp = ymap_get(e, "litellm_params");
    if (mn == NULL)
        return cload_fail(l, e, "model_list entry without model_name");
    if (lp == NULL)
        return cload_fail(l, e, "model_list entry \"%s\" has no litellm_params",
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
    if ((r = cload_str(l, mn, "model_name", &d->model_name)) < 0)
        return r;
    if (d->model_name == NULL)
        return cload_fail(l, mn, "model_name is empty");
    d->owner = c;
    if ((r = read_params(l, d, lp, &key_missing)) < 0)
        return r;
    if ((r = callparams_read(d)) < 0)
        return r;
    if (d->model == NULL && d->unusable == NULL)
        return cload_fail(l, lp, "litellm_params of \"%s\" has no model",
                    d->model_name);
    if (d->model == NULL && (d->model = strdup("")) == NULL)
        return -ENOMEM;
    if ((mi = ymap_get(e, "model_info")) != NULL) {
        d->model_info = cload_json(mi);
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
    d->label_group = d->model_name;
    d->label_id = d->id;
    if (d->unusable && !wild) {
        char *why = d->unusable;     /* a variable unset at load */

        d->unusable = NULL;
        r = dprovider_unusable(d, "unknown", 7, why);
        free(why);
        return r < 0 ? r : make_key(c->deps, c->ndeps, d, explicit_id);
    }
    if (wild) {
        r = check_template(d, msg, sizeof(msg));
        if (r == LLMUX_ENOTFOUND) {
            /* Not fatal: the template matches nothing (resolve.c). */
            cload_warn(l, ymap_get(lp, "model"), "%s", msg);
            if ((r = dprovider_unusable(d, "unknown", 7, msg)) < 0)
                return r;
        } else if (r < 0)
            return cload_fail(l, ymap_get(lp, "model"), "%s", msg);
        if (d->preset && strcmp(d->preset->dialect, "vertex_ai") == 0 &&
            (r = vertex_bind(d, NULL, msg, sizeof(msg))) < 0)
            return cload_fail(l, lp, "%s", msg);
        if (d->vertex && d->vertex->error)
            cload_warn(l, lp, "%s (its requests fail with EAUTH)",
                       d->vertex->error);
        return make_key(c->wild, c->nwild, d, explicit_id);
    }
    if ((r = dprovider_bind(c, d, msg, sizeof(msg))) < 0)
        return r;
    if (r > 0) {
        /* Said once, here; the group serves its other deployments. */
        cload_warn(l, ymap_get(lp, "model"), "%s", msg);
        return make_key(c->deps, c->ndeps, d, explicit_id);
    }
    if ((r = bind_defaults(c, d, msg, sizeof(msg))) < 0)
        return cload_fail(l, ymap_get(lp, "model"), "%s", msg);
    if ((r = make_key(c->deps, c->ndeps, d, explicit_id)) < 0)
        return r;
    if (d->vertex && d->vertex->error)
        cload_warn(l, lp, "%s (its requests fail with EAUTH)",
                   d->vertex->error);
    if (d->api_key == NULL && !key_missing && d->cprov == NULL &&
        !(d->preset->quirks & QUIRK_KEY_OPTIONAL))
        cload_warn(l, lp, "no API key for \"%s\" (%s): set api_key or $%s",
             d->model_name, d->model, d->preset->key_env ?
             d->preset->key_env : "?");
    return 0;
}

int deployment_read_list(struct cload *l, const struct ynode *y)
{
    int r;

    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_SEQ)
        return cload_fail(l, y, "model_list must be a list");
    for (size_t i = 0; i < y->n; i++)
        if ((r = read_deployment(l, y->kids[i], i)) < 0 &&
            !cload_recorded(r))
            return r;     /* recorded problems: on to the next entry */
    return 0;
}

/* ---- derived deployments ------------------------------------------------ */

/* The template's settings, every pointer copied; its explicit keys and
 * base only when d goes to the template's own provider (check_template
 * set tmpl->preset; a '*' provider has none and no keys either). */
static int copy_template(struct deployment *d, const struct deployment *tmpl)
{
    int oom = 0;

    d->timeout = tmpl->timeout;
    d->stream_timeout = tmpl->stream_timeout;
    d->rpm = tmpl->rpm;
    d->tpm = tmpl->tpm;
    d->weight = tmpl->weight;
    d->order = tmpl->order;
    d->max_retries = tmpl->max_retries;
    d->cooldown_time = tmpl->cooldown_time;
    d->price_set = tmpl->price_set;
    d->line = tmpl->line;
    d->model_info = json_incref(tmpl->model_info);
    d->call_defaults = json_incref(tmpl->call_defaults);
    d->mock_response = strdup_or_null(tmpl->mock_response, &oom);
    d->origin = tmpl;
    d->id = strdup_or_null(tmpl->id, &oom);
    d->file = strdup_or_null(tmpl->file, &oom);
    d->label_group = tmpl->model_name;
    d->label_id = tmpl->id;
    if (tmpl->preset == NULL || d->preset != tmpl->preset)
        return oom ? -ENOMEM : 0;
    d->api_key = tmpl->api_key;   /* borrowed: d holds the config */
    d->own_key = 0;
    d->api_base = strdup_or_null(tmpl->api_base, &oom);
    d->api_version = strdup_or_null(tmpl->api_version, &oom);
    d->aws_access_key = secret_copy(tmpl->aws_access_key);
    d->aws_secret_key = secret_copy(tmpl->aws_secret_key);
    d->aws_session_token = secret_copy(tmpl->aws_session_token);
    if ((tmpl->aws_access_key && !d->aws_access_key) ||
        (tmpl->aws_secret_key && !d->aws_secret_key) ||
        (tmpl->aws_session_token && !d->aws_session_token))
        oom = 1;
    return oom ? -ENOMEM : 0;
}

static char *join3(const char *a, const char *sep, const char *b)
{
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *p = malloc(n);

    if (p)
        snprintf(p, n, "%s%s%s", a, sep, b);
    return p;
}

int deployment_derive(const struct config *c, const struct deployment *tmpl,
                      const char *name, const char *model,
                      struct deployment **ret, char *err, size_t errlen)
{
    struct deployment *d;
    int r;

    *ret = NULL;
    if ((d = deployment_new()) == NULL)
        return -ENOMEM;
    d->implicit = 1;
    d->refs = 1;
    d->owner = config_ref(c);
    d->model_name = strdup(name);
    d->model = strdup(model);
    d->key = join3(tmpl ? tmpl->key : "implicit", "|", name);
    if (!d->model_name || !d->model || !d->key) {
        deployment_unref(d);
        return -ENOMEM;
    }
    if (tmpl)
        d->params = json_incref(tmpl->params);   /* custom_llm_provider */
    if ((r = dprovider_bind(c, d, err, errlen)) != 0) {
        /* A name nobody configured: the caller hears why, typed. */
        if (r > 0 && strchr(model, '/') == NULL &&
            strstr(err, "LiteLLM would refuse") != NULL)
            snprintf(err, errlen, "unknown model \"%s\": not in model_list "
                     "and no provider prefix (e.g. openai/%s, mock/echo)",
                     name, model);
        deployment_unref(d);
        return r > 0 ? LLMUX_ENOTFOUND : r;
    }
    if (tmpl) {
        r = copy_template(d, tmpl);
    } else {
        d->id = strdup(name);
        d->file = strdup("(implicit)");
        d->label_group = d->label_id = DEPLOYMENT_IMPLICIT_LABEL;
        r = d->id && d->file ? 0 : -ENOMEM;
    }
    if (r == 0)
        r = bind_defaults(c, d, err, errlen);
    if (r == 0)
        dprice_bind(c->prices, d);    /* a lookup per derivation, cached */
    if (r < 0) {
        if (r == -ENOMEM)
            snprintf(err, errlen, "out of memory");
        deployment_unref(d);
        return r;
    }
    *ret = d;
    return 0;
}

long deployment_wild_match(const char *pat, const char *name,
                           const char **cap, size_t *caplen)
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
