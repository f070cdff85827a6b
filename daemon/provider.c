/* provider.c -- what every adapter shares: the dialect registry, upstream
 * header lists that may hold a key, whether a deployment needs one, and
 * upstream status/body -> error mapping with retry hints (see provider.h). */
#include "provider.h"
#include "config.h"
#include "presets.h"
#include "secret.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Every dialect compiled in. Adapters of later providers add a line. */
static const struct provider *const dialects[] = {
    &provider_openai,
    &provider_mock,
    &provider_bedrock,
    &provider_anthropic,
    &provider_gemini,
    &provider_cohere,
    &provider_ollama,
    &provider_azure,
    &provider_vertex,
};

const struct provider *provider_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(dialects) / sizeof(dialects[0]); i++)
        if (strlen(dialects[i]->name) == len &&
            memcmp(dialects[i]->name, name, len) == 0)
            return dialects[i];
    return NULL;
}

/* Keys of a request that steer llmux (LiteLLM's router and client-side
 * parameters), never an upstream: api_base and api_key in particular
 * would let a caller send the daemon's key elsewhere. */
static const char *const control_keys[] = {
    "num_retries", "fallbacks", "context_window_fallbacks", "timeout",
    "disable_fallbacks", "drop_params", "mock_response", "api_base",
    "base_url", "api_key", "api_version", "caching", "cache",
    "max_retries", "metadata_llmux", NULL,
};

int provider_is_control_key(const char *k)
{
    for (size_t i = 0; control_keys[i]; i++)
        if (strcmp(k, control_keys[i]) == 0)
            return 1;
    return 0;
}

void http_req_init(struct http_req *h)
{
    buf_init(&h->url, HTTP_MAX_URL);
    h->headers = NULL;
    buf_init(&h->body, HTTP_MAX_BODY);
}

void http_req_free(struct http_req *h)
{
    /* libcurl does not copy CURLOPT_HTTPHEADER: the key lives in these
     * nodes only, so wipe each before freeing. */
    for (struct curl_slist *s = h->headers; s; s = s->next)
        explicit_bzero(s->data, strlen(s->data));
    curl_slist_free_all(h->headers);
    h->headers = NULL;
    buf_free(&h->url);
    buf_free(&h->body);
}

int http_header_add(struct http_req *h, const char *fmt, ...)
{
    char line[1024];
    struct curl_slist *s;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        return LLMUX_EBADREQ;
    if ((s = curl_slist_append(h->headers, line)) == NULL)
        return -ENOMEM;
    h->headers = s;
    return 0;
}

int http_header_secret(struct http_req *h, const char *prefix,
                       const struct secret *key)
{
    size_t plen = strlen(prefix), n = plen + key->len + 1;
    struct curl_slist *s;
    char *line = malloc(n);

    if (line == NULL)
        return -ENOMEM;
    memcpy(line, prefix, plen);
    memcpy(line + plen, key->p, key->len + 1);
    s = curl_slist_append(h->headers, line);
    explicit_bzero(line, n);
    free(line);
    if (s == NULL)
        return -ENOMEM;
    h->headers = s;
    return 0;
}

size_t provider_secrets(const struct pcall *pc, const struct secret **keys)
{
    const struct deployment *dep = pc ? pc->dep : NULL;
    size_t n = 0;

    /* The attempt's access token (Vertex AI) is as secret as a key: an
     * upstream or a proxy in front may echo it back. */
    if (pc && pc->bearer)
        keys[n++] = pc->bearer;
    if (dep == NULL)
        return n;
    /* Every secret a deployment holds (config.h): the key and the three
     * AWS credentials. An access key id is not secret to AWS, but it
     * names the account and a key a caller should not see. */
    if (dep->api_key)
        keys[n++] = dep->api_key;
    if (dep->aws_access_key)
        keys[n++] = dep->aws_access_key;
    if (dep->aws_secret_key)
        keys[n++] = dep->aws_secret_key;
    if (dep->aws_session_token)
        keys[n++] = dep->aws_session_token;
    return n;
}

/* "sk-…"-style tokens that upstreams echo back in 401 messages, whoever's
 * they are. */
static void scrub_sk(char *msg)
{
    for (char *p = msg; (p = strstr(p, "sk-")) != NULL;) {
        p += 3;
        while (*p && (isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
            *p++ = '*';
    }
}

/* src[0..n), the head of a text of total bytes, into out (outlen bytes,
 * NUL-terminated), masked before it is cut: n must reach past the cut by
 * the longest key, so a key that starts before the cut is whole in src;
 * and a key's start that runs into the cut is masked as well. */
static void mask_copy(const struct secret *const *keys, size_t nk,
                      char *out, size_t outlen, char *src, size_t n,
                      size_t total)
{
    size_t m = n < outlen - 1 ? n : outlen - 1;

    /* A key that starts before the cut at m is whole in src (n reaches
     * past m by the longest key) or runs off its end (masked as a cut
     * when src is not the whole text). */
    secret_mask(src, n, keys, nk, n < total);
    memcpy(out, src, m);
    out[m] = '\0';
    scrub_sk(out);
}

int provider_vformat(const struct pcall *pc, char *out, size_t outlen,
                     const char *fmt, va_list ap)
{
    const struct secret *keys[PROVIDER_MAX_SECRETS];
    size_t nk = provider_secrets(pc, keys);
    va_list aq;
    char *full;
    int n;

    va_copy(aq, ap);
    n = vsnprintf(out, outlen, fmt, aq);
    va_end(aq);
    if (n < 0) {
        snprintf(out, outlen, "(message not shown: bad format)");
        return -1;
    }
    if ((size_t)n < outlen) {
        secret_mask(out, (size_t)n, keys, nk, 0);
        scrub_sk(out);
        return n;
    }
    /* Cut: the whole text is masked first, so no key is split by the cut
     * before a search can find it. */
    explicit_bzero(out, outlen);
    if ((full = malloc((size_t)n + 1)) == NULL) {
        snprintf(out, outlen, "(message not shown: out of memory)");
        return -1;
    }
    vsnprintf(full, (size_t)n + 1, fmt, ap);
    mask_copy(keys, nk, out, outlen, full, (size_t)n, (size_t)n);
    explicit_bzero(full, (size_t)n + 1);
    free(full);
    return n;
}

int provider_format(const struct pcall *pc, char *out, size_t outlen,
                    const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = provider_vformat(pc, out, outlen, fmt, ap);
    va_end(ap);
    return n;
}

void provider_scrub(const struct pcall *pc, char *msg)
{
    const struct secret *keys[PROVIDER_MAX_SECRETS];
    size_t nk = provider_secrets(pc, keys);

    secret_mask(msg, strlen(msg), keys, nk, 0);
    scrub_sk(msg);
}

int pcall_fail(struct pcall *pc, int code, long status, const char *fmt, ...)
{
    va_list ap;

    pc->err.code = code;
    pc->err.status = status;
    if (pc->err.retry_after == 0)
        pc->err.retry_after = -1;
    va_start(ap, fmt);
    provider_vformat(pc, pc->err.message, sizeof(pc->err.message), fmt,
                     ap);
    va_end(ap);
    return code;
}

int pcall_oom(struct pcall *pc)
{
    return pcall_fail(pc, LLMUX_EINTERNAL, 0, "out of memory");
}

const char *pcall_name(const struct pcall *pc)
{
    if (pc->dep && pc->dep->preset)
        return pc->dep->preset->name;
    return pc->prov ? pc->prov->name : "upstream";
}

void pcall_set_usage(struct pcall *pc, json_t *usage)
{
    json_decref(pc->usage);
    pc->usage = usage;
}

static int contains(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

int provider_code_for(long status, const char *text)
{
    static const char *const context[] = {
        "context_length_exceeded", "maximum context length",
        "context window", "prompt is too long", "input is too long",
        "too many tokens", "exceeds the maximum number of tokens",
        "input token count", "reduce the length of the messages",
    };
    static const char *const policy[] = {
        "content_policy", "content_filter", "content management policy",
        "safety system", "responsibleaipolicyviolation",
        "content filtering",
    };

    if (status == 400 || status == 413 || status == 422) {
        for (size_t i = 0; i < sizeof(context) / sizeof(context[0]); i++)
            if (contains(text, context[i]))
                return LLMUX_ECONTEXT;
        for (size_t i = 0; i < sizeof(policy) / sizeof(policy[0]); i++)
            if (contains(text, policy[i]))
                return LLMUX_EPOLICY;
    }
    switch (status) {
    case 400: case 413: case 422: return LLMUX_EBADREQ;
    case 401: return LLMUX_EAUTH;
    case 403: return LLMUX_EPERMISSION;
    case 404: return LLMUX_ENOTFOUND;
    case 408: return LLMUX_ETIMEOUT;
    case 429: return LLMUX_ERATELIMIT;
    }
    if (status >= 500)
        return LLMUX_EUNAVAIL;
    return status >= 400 ? LLMUX_EBADREQ : LLMUX_EUNAVAIL;
}

/* The body as one line of at most outlen - 1 bytes (NULs and line breaks
 * become spaces), masked, for bodies that are not JSON. Only the head that
 * can show matters: a key that starts in it ends within the window. */
static void excerpt(const struct pcall *pc, const struct http_resp *r,
                    char *out, size_t outlen)
{
    const struct secret *keys[PROVIDER_MAX_SECRETS];
    size_t nk = provider_secrets(pc, keys);
    size_t w = outlen - 1 + secret_max_len(keys, nk);
    char *line;

    if (r->len == 0) {
        snprintf(out, outlen, "HTTP %ld with an empty body", r->status);
        return;
    }
    w = r->len < w ? r->len : w;
    if ((line = malloc(w)) == NULL) {
        snprintf(out, outlen, "HTTP %ld (body not shown: out of memory)",
                 r->status);
        return;
    }
    for (size_t i = 0; i < w; i++)
        line[i] = (r->body[i] == '\n' || r->body[i] == '\r' ||
                   r->body[i] == '\0') ? ' ' : r->body[i];
    mask_copy(keys, nk, out, outlen, line, w, r->len);
    explicit_bzero(line, w);
    free(line);
}

void provider_error_text(const struct pcall *pc, const struct http_resp *r,
                         char *out, size_t outlen)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL), *e;
    const char *m = NULL;

    /* Some front ends wrap the body in an array. */
    if (json_is_array(j))
        e = json_object_get(json_array_get(j, 0), "error");
    else
        e = json_object_get(j, "error");
    /* error.message first (OpenAI and most proxies); a top-level message
     * before an error string, which is then only a title ("Bad Request"
     * next to the real message, as web frameworks answer). */
    if (json_is_object(e))
        m = json_string_value(json_object_get(e, "message"));
    if (m == NULL)
        m = json_string_value(json_object_get(j, "message"));
    if (m == NULL)
        m = json_string_value(json_object_get(j, "Message"));   /* AWS */
    if (m == NULL)
        m = json_string_value(e);
    if (m == NULL)
        m = json_string_value(json_object_get(j, "detail"));
    if (m)
        provider_format(pc, out, outlen, "%s", m);
    else
        excerpt(pc, r, out, outlen);
    json_decref(j);
}

int provider_map_error_default(struct pcall *pc, const struct http_resp *r)
{
    char text[400];
    int code;

    provider_error_text(pc, r, text, sizeof(text));
    code = provider_code_for(r->status, text);
    pcall_fail(pc, code, r->status, "%s: %s", pc->prov->name, text);
    pc->err.retry_after = r->retry_after;
    return code;
}

int provider_map_error_json(struct pcall *pc, const struct http_resp *r,
                            provider_error_fn on_error)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL), *e;
    int code = 0;

    if (json_is_array(j))
        e = json_object_get(json_array_get(j, 0), "error");
    else
        e = json_object_get(j, "error");
    pc->err.retry_after = -1;
    if (e && !json_is_null(e))
        code = on_error(pc, e, r->status);
    if (code == 0)
        code = provider_map_error_default(pc, r);
    if (r->retry_after >= 0)
        pc->err.retry_after = r->retry_after;
    json_decref(j);
    return code;
}

double provider_retry_hint(const char *text)
{
    static const char *const lead[] = { "retry after ", "try again in ",
                                        "retry in " };
    const char *p = NULL, *q;
    size_t skip = 0;
    char *end;
    double d;

    /* The first hint in the text, whichever words it uses. */
    for (size_t i = 0; i < sizeof(lead) / sizeof(lead[0]); i++)
        if ((q = strcasestr(text, lead[i])) != NULL && (p == NULL || q < p)) {
            p = q;
            skip = strlen(lead[i]);
        }
    if (p == NULL || !isdigit((unsigned char)p[skip]))
        return -1;
    d = strtod(p + skip, &end);
    while (*end == ' ')
        end++;
    if (strncasecmp(end, "ms", 2) == 0 ||
        strncasecmp(end, "millisecond", 11) == 0)
        return d / 1000.0;
    if (strncasecmp(end, "min", 3) == 0 ||
        (end[0] == 'm' && !isalpha((unsigned char)end[1])))
        return d * 60.0;
    return d;
}

int provider_key_required(const struct deployment *dep)
{
    if (dep->preset == NULL)
        return 1;
    if (dep->preset->quirks & QUIRK_KEY_OPTIONAL)
        return 0;
    return dep->preset->api_base == NULL || dep->api_base == NULL ||
           strcmp(dep->api_base, dep->preset->api_base) == 0;
}

int provider_no_key(struct pcall *pc, const char *dflt_env)
{
    const struct preset *p = pc->dep->preset;

    return pcall_fail(pc, LLMUX_EAUTH, 0, "no API key for %s: set $%s or "
                      "api_key in model_list", pcall_name(pc),
                      p && p->key_env ? p->key_env : dflt_env);
}
