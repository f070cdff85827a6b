/* azure.c -- Azure OpenAI: OpenAI's wire format behind Azure's URL scheme
 * and key header.
 * Owns: the facts of its requests (the deployment URL {api_base}/openai/
 * deployments/{deployment}/chat/completions?api-version=…, the api-key
 * header: data for provider_build), the API version choice, and Azure's
 * error details (content filter 400s, rate limit hints
 * in the message). Bodies (with the o-series rules), streams and answers
 * are openai.c's. */
#include "config.h"
#include "openai.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* The latest GA data-plane inference version that takes a deployment in
 * the path; it has stream_options.include_usage and structured outputs. */
#define AZURE_DEFAULT_API_VERSION "2024-10-21"

/* Deployment names and API versions go into the URL unescaped: refuse
 * anything that could change its meaning. */
static int url_safe(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
            *s != '.')
            return 0;
    return 1;
}

/* The api-version: the deployment's (config.c took $AZURE_API_VERSION at
 * load), else the default above. */
static const char *api_version(const struct deployment *d)
{
    const char *v = d->api_version;

    if (v == NULL || *v == '\0')
        v = AZURE_DEFAULT_API_VERSION;
    return v;
}

/* stream_options arrived in 2024-09-01-preview and the 2024-10-21 GA;
 * older versions refuse the parameter. Dates compare as strings. */
static int has_stream_options(const char *version)
{
    return strlen(version) < 10 || strncmp(version, "2024-09-01", 10) >= 0;
}

/* Azure's checks (the deployment name and version go into the URL
 * unescaped), then openai.c's body, without stream_options for versions
 * that refuse them. */
static int azure_body(struct pcall *pc, struct buf *body)
{
    const struct deployment *d = pc->dep;
    const char *ver = api_version(d);

    if (d->api_base == NULL || *d->api_base == '\0')
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s needs api_base (https://"
                          "<resource>.openai.azure.com): set $%s or api_base "
                          "in model_list", d->preset->name,
                          d->preset->base_env ? d->preset->base_env : "?");
    if (!url_safe(d->upstream_model))
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s: the deployment name "
                          "\"%s\" has characters a URL path cannot carry",
                          d->preset->name, d->upstream_model);
    if (!url_safe(ver))
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s: bad api_version \"%s\"",
                          d->preset->name, ver);
    return openai_build_body(pc, has_stream_options(ver) ? 0 :
                             OPENAI_BODY_NO_STREAM_OPTIONS, body);
}

/* openai.c reads the {"error": …} body (its code "content_filter" and the
 * innererror ResponsibleAIPolicyViolation make a 400 a content_policy
 * error); Azure puts the wait of a 429 in the words when the header is
 * missing. */
static int azure_map_error(struct pcall *pc, const struct http_resp *r)
{
    int code = openai_map_error(pc, r);

    if (code == LLMUX_ERATELIMIT && pc->err.retry_after < 0)
        pc->err.retry_after = provider_retry_hint(pc->err.message);
    return code;
}

const struct provider provider_azure = {
    .name          = "azure",
    .path          = "/openai/deployments/{model}/chat/completions"
                     "?api-version={version}",
    .auth          = PROV_AUTH_API_KEY,
    .key           = PROV_KEY_ALWAYS,
    .key_env       = "AZURE_API_KEY",
    .framing       = PROV_FRAMING_SSE,
    .content_type  = "application/json",
    .stream_accept = "text/event-stream",
    .build_body  = azure_body,
    .url_version = api_version,
    .parse       = openai_parse,
    .stream_feed = openai_stream_feed,
    .stream_end  = openai_stream_end,
    .stream_free = openai_stream_free,
    .map_error   = azure_map_error,
};
