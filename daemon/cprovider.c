/* cprovider.c -- providers added by configuration (see cprovider.h). */
#include "cprovider.h"
#include "cenv.h"
#include "cload.h"
#include "config.h"
#include "llmux-errno.h"
#include "provider.h"
#include "secret.h"
#include "yamltree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void cprovider_free(struct cprovider *cp)
{
    free((char *)cp->p.name);
    free((char *)cp->p.dialect);
    free((char *)cp->p.api_base);
    free((char *)cp->p.key_env);
    free(cp->auth_header);
    secret_free(cp->key);
    json_decref(cp->renames);
    json_decref(cp->drop);
}

void cprovider_free_all(struct config *c)
{
    for (size_t i = 0; i < c->nproviders; i++)
        cprovider_free(&c->providers[i]);
    free(c->providers);
}

const struct cprovider *cprovider_find(const struct config *c,
                                       const char *name, size_t len)
{
    for (size_t i = 0; c && i < c->nproviders; i++)
        if (strlen(c->providers[i].p.name) == len &&
            memcmp(c->providers[i].p.name, name, len) == 0)
            return &c->providers[i];
    return NULL;
}

static int read_auth(struct cload *l, const struct ynode *v,
                     struct cprovider *cp)
{
    int r;

    if ((r = cload_scalar(l, v, "auth")) < 0)
        return r;
    if (strcmp(v->s, "bearer") == 0)
        return 0;
    if (strncmp(v->s, "header:", 7) == 0 && v->s[7] &&
        !strpbrk(v->s + 7, " :\r\n"))
        return (cp->auth_header = strdup(v->s + 7)) ? 0 : -ENOMEM;
    return cload_fail(l, v, "auth must be bearer or header:NAME, not \"%s\"",
                      v->s);
}

/* {from: to} with names only. */
static int read_renames(struct cload *l, const struct ynode *v,
                        struct cprovider *cp)
{
    if (v->kind != Y_MAP)
        return cload_fail(l, v, "param_renames must map a parameter to its "
                          "name upstream, e.g. {max_tokens: "
                          "max_output_tokens}");
    for (size_t i = 0; i + 1 < v->n; i += 2)
        if (v->kids[i + 1]->kind != Y_SCALAR)
            return cload_fail(l, v->kids[i + 1], "param_renames.%s must be "
                              "a name", v->kids[i]->s);
    cp->renames = cload_json(v);
    return cp->renames ? 0 : -ENOMEM;
}

static int read_drop(struct cload *l, const struct ynode *v,
                     struct cprovider *cp)
{
    if (v->kind != Y_SEQ)
        return cload_fail(l, v, "drop must be a list of parameter names");
    for (size_t i = 0; i < v->n; i++)
        if (v->kids[i]->kind != Y_SCALAR)
            return cload_fail(l, v->kids[i], "drop: expected a name");
    cp->drop = cload_json(v);
    return cp->drop ? 0 : -ENOMEM;
}

static int read_key(struct cload *l, const struct ynode *v,
                    struct cprovider *cp)
{
    char *var = NULL;
    const char *val;
    int r;

    if ((r = cload_str(l, v, "api_key_env", &var)) < 0 || var == NULL)
        return r;
    cp->p.key_env = var;
    if ((val = cenv_get(var)) == NULL || *val == '\0') {
        char ref[300];

        snprintf(ref, sizeof(ref), "os.environ/%s", var);
        return cload_missing(l, v, "api_key_env", ref);
    }
    return (cp->key = secret_new(val, strlen(val))) ? 0 : -ENOMEM;
}

static int read_one(struct cload *l, const struct ynode *e,
                    struct cprovider *cp)
{
    const struct ynode *name = ymap_get(e, "name"),
                       *dialect = ymap_get(e, "dialect");
    int r = 0;

    if (e->kind != Y_MAP)
        return cload_fail(l, e, "each provider must be a map with name and "
                          "dialect");
    if (name == NULL || name->kind != Y_SCALAR || strchr(name->s, '/') ||
        !*name->s)
        return cload_fail(l, e, "a provider needs a name (the model prefix, "
                          "no '/')");
    if (preset_find(name->s, strlen(name->s)) ||
        cprovider_find(l->c, name->s, strlen(name->s)))
        return cload_fail(l, name, "provider \"%s\" is already defined",
                          name->s);
    if (dialect == NULL || dialect->kind != Y_SCALAR ||
        provider_find(dialect->s, strlen(dialect->s)) == NULL)
        return cload_fail(l, dialect ? dialect : e, "provider \"%s\" needs a "
                          "dialect llmux speaks (openai, anthropic, gemini, "
                          "cohere, ollama, azure, bedrock)", name->s);
    if ((cp->p.name = strdup(name->s)) == NULL ||
        (cp->p.dialect = strdup(dialect->s)) == NULL)
        return -ENOMEM;
    cp->p.quirks = QUIRK_NEEDS_API_BASE;
    for (size_t i = 0; i + 1 < e->n && (r == 0 || cload_recorded(r)); i += 2) {
        const struct ynode *k = e->kids[i], *v = e->kids[i + 1];

        if (!strcmp(k->s, "name") || !strcmp(k->s, "dialect"))
            r = 0;
        else if (!strcmp(k->s, "api_base"))
            r = cload_str(l, v, "api_base", (char **)&cp->p.api_base);
        else if (!strcmp(k->s, "api_key_env"))
            r = read_key(l, v, cp);
        else if (!strcmp(k->s, "auth"))
            r = read_auth(l, v, cp);
        else if (!strcmp(k->s, "param_renames"))
            r = read_renames(l, v, cp);
        else if (!strcmp(k->s, "drop"))
            r = read_drop(l, v, cp);
        else
            cload_warn(l, k, "unknown key \"%s\" in a provider (ignored; "
                       "name, dialect, api_base, api_key_env, auth, "
                       "param_renames, drop)", k->s);
    }
    if (r < 0)
        return r;
    if (cp->p.api_base) {
        size_t n = strlen(cp->p.api_base);

        while (n > 0 && cp->p.api_base[n - 1] == '/')
            ((char *)cp->p.api_base)[--n] = '\0';
    }
    /* A local server needs no key; a key in a header of its own is
     * added by cprovider_auth, not by the dialect. */
    if (cp->p.key_env == NULL || cp->auth_header)
        cp->p.quirks |= QUIRK_KEY_OPTIONAL;
    return 0;
}

int cprovider_read(struct cload *l, const struct ynode *y)
{
    struct config *c = l->c;
    int r;

    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_SEQ)
        return cload_fail(l, y, "providers must be a list");
    /* Sized once: deployments point into the array. */
    if ((c->providers = calloc(y->n ? y->n : 1, sizeof(*c->providers))) ==
        NULL)
        return -ENOMEM;
    for (size_t i = 0; i < y->n; i++) {
        struct cprovider *cp = &c->providers[c->nproviders];

        if ((r = read_one(l, y->kids[i], cp)) < 0) {
            cprovider_free(cp);
            memset(cp, 0, sizeof(*cp));
            if (!cload_recorded(r))
                return r;
            continue;
        }
        c->nproviders++;
    }
    return 0;
}

int cprovider_apply(const struct cprovider *cp, json_t *req)
{
    const char *from;
    json_t *to, *v;
    size_t i;

    json_object_foreach(cp->renames, from, to) {
        const char *name = json_string_value(to);

        if (name == NULL || (v = json_object_get(req, from)) == NULL)
            continue;
        if (json_object_get(req, name) == NULL &&
            json_object_set(req, name, v) < 0)
            return -ENOMEM;
        json_object_del(req, from);
    }
    json_array_foreach(cp->drop, i, v)
        if (json_is_string(v))
            json_object_del(req, json_string_value(v));
    return 0;
}

/* Whether header line s is one a dialect puts the key in. */
static int is_key_header(const char *s)
{
    return strncasecmp(s, "Authorization:", 14) == 0 ||
           strncasecmp(s, "x-api-key:", 10) == 0 ||
           strncasecmp(s, "api-key:", 8) == 0;
}

int cprovider_auth(const struct cprovider *cp, const struct secret *key,
                   struct http_req *h)
{
    struct curl_slist *keep = NULL, *s, *next;
    char prefix[300];

    if (cp->auth_header == NULL)
        return 0;
    /* Rebuild the list without the dialect's key header, wiping it. */
    for (s = h->headers; s; s = next) {
        next = s->next;
        if (!is_key_header(s->data)) {
            struct curl_slist *k = curl_slist_append(keep, s->data);

            if (k == NULL) {
                curl_slist_free_all(keep);
                return -ENOMEM;
            }
            keep = k;
        }
        explicit_bzero(s->data, strlen(s->data));
    }
    curl_slist_free_all(h->headers);
    h->headers = keep;
    if (key == NULL)
        key = cp->key;
    if (key == NULL)
        return 0;
    snprintf(prefix, sizeof(prefix), "%s: ", cp->auth_header);
    return http_header_secret(h, prefix, key);
}
