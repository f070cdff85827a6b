/* dprovider.c -- a deployment's provider, inferred as LiteLLM infers it
 * (see dprovider.h). */
#include "dprovider.h"
#include "config.h"
#include "cprovider.h"
#include "deployment.h"
#include "modeltab.h"
#include "presets.h"
#include "provider.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LiteLLM's name prefixes for models its table does not list (older or
 * newer names of the big providers). */
static const char *rule_prefix(const char *name)
{
    static const struct { const char *start, *prefix; } rules[] = {
        { "gpt-", "openai" }, { "chatgpt-", "openai" }, { "o1", "openai" },
        { "o3", "openai" }, { "o4", "openai" }, { "text-embedding-", "openai" },
        { "dall-e", "openai" }, { "claude-", "anthropic" },
        { "gemini-", "gemini" }, { "command", "cohere_chat" },
    };

    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        if (strncmp(name, rules[i].start, strlen(rules[i].start)) == 0)
            return rules[i].prefix;
    return NULL;
}

int dprovider_unusable(struct deployment *d, const char *prefix, size_t len,
                       const char *why)
{
    free(d->unusable);
    if ((d->unusable = strdup(why)) == NULL)
        return -ENOMEM;
    if (d->own_preset == NULL &&
        (d->own_preset = calloc(1, sizeof(*d->own_preset))) == NULL)
        return -ENOMEM;
    free((char *)d->own_preset->name);
    if ((d->own_preset->name = strndup(prefix, len)) == NULL)
        return -ENOMEM;
    d->own_preset->dialect = "none";
    d->own_preset->quirks = QUIRK_KEY_OPTIONAL;
    d->preset = d->own_preset;
    d->prov = NULL;
    return 0;
}

/* Marks d unusable with the message in msg; returns 1 (or -ENOMEM). */
static int cannot(struct deployment *d, const char *prefix, size_t plen,
                  char *msg)
{
    int r = dprovider_unusable(d, prefix, plen, msg);

    return r < 0 ? r : 1;
}

/* The mode the deployment says (model_info.mode), else the table's for
 * model under prefix, else for the bare model; chat when unknown. */
static enum mtype deployment_mode(const struct deployment *d,
                                  const char *prefix, size_t plen,
                                  const char *model)
{
    const char *m = json_string_value(json_object_get(d->model_info, "mode"));
    const struct modelrow *row;
    char full[DEPLOYMENT_MAX_NAME * 2];

    if (m)
        return modeltab_mode(m);
    snprintf(full, sizeof(full), "%.*s/%s", (int)plen, prefix, model);
    if ((row = modeltab_find(full)) || (row = modeltab_find(model)))
        return row->mode;
    return MT_CHAT;
}

int dprovider_bind(const struct config *c, struct deployment *d, char *msg,
                   size_t len)
{
    const char *custom = json_string_value(json_object_get(d->params,
                                           "custom_llm_provider"));
    const char *slash = strchr(d->model, '/'), *prefix, *model;
    const struct modelrow *row;
    char pbuf[64];
    size_t plen;
    enum mtype mode;

    if (custom && *custom) {
        /* LiteLLM keeps the model as written, less a repeated prefix. */
        prefix = custom;
        plen = strlen(custom);
        model = d->model;
        if (slash && (size_t)(slash - d->model) == plen &&
            memcmp(d->model, custom, plen) == 0)
            model = slash + 1;
    } else if (slash && (preset_find(d->model, (size_t)(slash - d->model)) ||
                         cprovider_find(c, d->model,
                                        (size_t)(slash - d->model)) ||
                         modeltab_litellm_provider(d->model,
                             (unsigned)(slash - d->model)))) {
        prefix = d->model;
        plen = (size_t)(slash - d->model);
        model = slash + 1;
    } else if ((row = modeltab_find(d->model)) != NULL) {
        prefix = modeltab_prefix(row->provider, pbuf, sizeof(pbuf));
        plen = strlen(prefix);
        model = d->model;
    } else if ((prefix = rule_prefix(d->model)) != NULL) {
        plen = strlen(prefix);
        model = d->model;
    } else if (slash) {
        snprintf(msg, len, "unknown provider \"%.*s\" in model \"%s\": not a "
                 "provider LiteLLM knows either (not served)",
                 (int)(slash - d->model), d->model, d->model);
        return cannot(d, d->model, (size_t)(slash - d->model), msg);
    } else {
        snprintf(msg, len, "model \"%s\" has no provider prefix and LiteLLM's "
                 "model table does not name it, so LiteLLM would refuse it "
                 "too (not served; write it as provider/model, e.g. "
                 "openai/%s)", d->model, d->model);
        return cannot(d, "unknown", 7, msg);
    }
    if ((d->cprov = cprovider_find(c, prefix, plen)) != NULL)
        d->preset = &d->cprov->p;     /* a provider by config */
    else
        d->preset = preset_find(prefix, plen);
    if (d->preset == NULL) {
        if (modeltab_litellm_provider(prefix, (unsigned)plen))
            snprintf(msg, len, "model \"%s\": provider \"%.*s\" is not "
                     "supported by llmux (not served; the group serves its "
                     "other deployments)", d->model, (int)plen, prefix);
        else
            snprintf(msg, len, "model \"%s\": provider \"%.*s\" is not a "
                     "provider LiteLLM knows either (not served)", d->model,
                     (int)plen, prefix);
        return cannot(d, prefix, plen, msg);
    }
    if ((mode = deployment_mode(d, prefix, plen, model)) != MT_CHAT) {
        const char *what = modeltab_mode_name(mode);

        snprintf(msg, len, "model \"%s\" is a%s %s model: not supported by "
                 "llmux, which serves chat completions (not served)",
                 d->model, strchr("aeiou", what[0]) ? "n" : "", what);
        return cannot(d, prefix, plen, msg);
    }
    d->prov = provider_find(d->preset->dialect, strlen(d->preset->dialect));
    if (d->prov == NULL) {
        snprintf(msg, len, "provider \"%s\" (dialect %s) is not available in "
                 "this llmuxd (not served)", d->preset->name,
                 d->preset->dialect);
        return cannot(d, prefix, plen, msg);
    }
    if (d->upstream_model == NULL && (d->upstream_model = strdup(model)) == NULL)
        return -ENOMEM;
    return 0;
}
