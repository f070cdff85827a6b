/* callparams.c -- default call parameters of a deployment (see
 * callparams.h). */
#include "callparams.h"
#include "cprovider.h"
#include "deployment.h"
#include "presets.h"
#include "provider.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The OpenAI-style parameters LiteLLM passes through from litellm_params
 * to the provider (its completion() inputs), and extra_body. */
static const char *const call_keys[] = {
    "temperature", "max_tokens", "max_completion_tokens", "top_p", "n",
    "stop", "presence_penalty", "frequency_penalty", "logit_bias", "seed",
    "response_format", "tools", "tool_choice", "parallel_tool_calls",
    "user", "logprobs", "top_logprobs", "reasoning_effort", "thinking",
    "modalities", "audio", "prediction", "web_search_options",
    "service_tier", "store", "top_k", "stream_options", "extra_body",
    "extra_headers", "functions", "function_call", "safety_settings",
    "repetition_penalty", "min_p", "verbosity", NULL,
};

int callparams_is(const char *k)
{
    for (size_t i = 0; call_keys[i]; i++)
        if (strcmp(call_keys[i], k) == 0)
            return 1;
    return 0;
}

int callparams_read(struct deployment *d)
{
    const char *k;
    json_t *v;

    if ((d->call_defaults = json_object()) == NULL)
        return -ENOMEM;
    json_object_foreach(d->params, k, v)
        if (callparams_is(k) && strcmp(k, "extra_headers") != 0 &&
            !json_is_null(v) &&
            json_object_set(d->call_defaults, k, v) < 0)
            return -ENOMEM;
    return 0;
}

/* Sets k to v in out unless out has it. */
static int add_missing(json_t *out, const char *k, json_t *v)
{
    json_t *cur = json_object_get(out, k);

    if (cur != NULL && !json_is_null(cur))
        return 0;              /* the request's own value wins; a null
                                * says nothing, as in LiteLLM */
    return json_object_set(out, k, v);
}

json_t *callparams_merge(const struct deployment *d, json_t *body)
{
    const char *k;
    json_t *out, *v, *extra;

    if ((d->call_defaults == NULL ||
         json_object_size(d->call_defaults) == 0) &&
        (d->cprov == NULL || (d->cprov->renames == NULL &&
                              d->cprov->drop == NULL)))
        return json_incref(body);
    if ((out = json_copy(body)) == NULL)    /* shallow: values shared */
        return NULL;
    json_object_foreach(d->call_defaults, k, v) {
        if (strcmp(k, "extra_body") == 0)
            continue;
        if (add_missing(out, k, v) < 0)
            goto fail;
    }
    /* extra_body: merged into the body itself, as LiteLLM sends it. */
    extra = json_object_get(d->call_defaults, "extra_body");
    json_object_foreach(extra, k, v)
        if (!provider_is_control_key(k) && add_missing(out, k, v) < 0)
            goto fail;
    /* A provider by config: its names for the parameters, its drops. */
    if (d->cprov && cprovider_apply(d->cprov, out) < 0)
        goto fail;
    return out;
fail:
    json_decref(out);
    return NULL;
}

int callparams_headers(const struct deployment *d, struct http_req *h)
{
    const json_t *hdrs = json_object_get(d->params, "extra_headers");
    const char *k, *org;
    json_t *v;
    int r;

    /* organization: OpenAI's header, as LiteLLM sends it. */
    org = json_string_value(json_object_get(d->params, "organization"));
    if (org && *org && strcmp(d->preset->dialect, "openai") == 0 &&
        !strpbrk(org, "\r\n") &&
        (r = http_header_add(h, "OpenAI-Organization: %s", org)) < 0)
        return r;

    json_object_foreach((json_t *)hdrs, k, v) {
        const char *s = json_string_value(v);
        char num[64];

        if (s == NULL && json_is_number(v)) {
            snprintf(num, sizeof(num), "%.17g", json_number_value(v));
            s = num;
        }
        /* A name or value with a line break would add headers. */
        if (s == NULL || strpbrk(k, "\r\n:") || strpbrk(s, "\r\n"))
            continue;
        if ((r = http_header_add(h, "%s: %s", k, s)) < 0)
            return r;
    }
    return d->cprov ? cprovider_auth(d->cprov, d->api_key, h) : 0;
}
