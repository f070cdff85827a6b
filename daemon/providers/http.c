/* http.c -- the one generic upstream HTTP request builder
 * (provider_build). Owns: turning a dialect's static facts (struct
 * provider: path template, auth header style, key rule, Accept and fixed
 * headers) and its body hook into the URL, header lines and body of one
 * attempt. Adapters keep only the body translation and, for Bedrock, the
 * base URL and the SigV4 signature. */
#include "provider.h"
#include "config.h"
#include "secret.h"
#include "sigv4.h"

#include <string.h>

/* The header line prefix each style puts the key after. SigV4 deployments
 * that have an api_key (a Bedrock API key) send it as a Bearer token. */
static const char *auth_prefix(enum provider_auth a)
{
    switch (a) {
    case PROV_AUTH_BEARER:
    case PROV_AUTH_SIGV4:     return "Authorization: Bearer ";
    case PROV_AUTH_X_API_KEY: return "x-api-key: ";
    case PROV_AUTH_GOOG:      return "x-goog-api-key: ";
    case PROV_AUTH_API_KEY:   return "api-key: ";
    case PROV_AUTH_NONE:      break;
    }
    return NULL;
}

static int key_missing(const struct provider *p, const struct deployment *d)
{
    if (d->api_key != NULL)
        return 0;
    switch (p->key) {
    case PROV_KEY_ALWAYS:  return 1;
    case PROV_KEY_DEFAULT: return provider_key_required(d);
    case PROV_KEY_NEVER:   break;
    }
    return 0;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);

    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* The {version} of a path: the dialect's choice, else the deployment's
 * api_version, else the dialect's default. */
static const char *url_version(const struct pcall *pc)
{
    const struct deployment *d = pc->dep;

    if (pc->prov->url_version)
        return pc->prov->url_version(d);
    if (d->api_version && *d->api_version)
        return d->api_version;
    return pc->prov->version ? pc->prov->version : "";
}

/* The path template to expand after base: the whole template, or, when
 * base already ends with the version segment the template starts with
 * (one of base_versions), what follows that segment. NULL: base already
 * ends with the whole (literal) path, which is then not repeated. */
static const char *path_after(const struct provider *p, const char *base,
                              const char *path)
{
    size_t n = strlen(base);
    const char *seg = base + n;

    if (p->base_versions == NULL)
        return path;
    if (strchr(path, '{') == NULL && ends_with(base, n, path))
        return NULL;
    while (seg > base && seg[-1] != '/')
        seg--;
    for (size_t i = 0; p->base_versions[i]; i++)
        if (seg > base && strcmp(seg, p->base_versions[i]) == 0)
            return path[0] == '/' ? path + 1 + strcspn(path + 1, "/") : path;
    return path;
}

/* base, then the path template expanded: {model} is the upstream model
 * (model_prefix taken off) percent-encoded (RFC 3986 unreserved bytes as
 * they are), {version} as url_version says. */
static int add_url(struct pcall *pc, const char *base, struct buf *url)
{
    const struct provider *p = pc->prov;
    const char *path = pc->stream && p->stream_path ? p->stream_path
                                                    : p->path;
    const char *m = pc->dep->upstream_model, *t;
    size_t pl = p->model_prefix ? strlen(p->model_prefix) : 0;
    int r = buf_adds(url, base);

    if (r < 0 || (t = path_after(p, base, path ? path : "")) == NULL)
        return r;
    if (pl && strncmp(m, p->model_prefix, pl) == 0)
        m += pl;
    while (r == 0 && *t) {
        size_t lit = strcspn(t, "{");

        if (lit) {
            r = buf_add(url, t, lit);
            t += lit;
        } else if (strncmp(t, "{model}", 7) == 0) {
            r = sigv4_uri_encode(url, m, strlen(m), 1);
            t += 7;
        } else if (strncmp(t, "{version}", 9) == 0) {
            r = buf_adds(url, url_version(pc));
            t += 9;
        } else {
            r = buf_add(url, t++, 1);      /* a '{' of no variable */
        }
    }
    return r;
}

/* The base URL: the dialect's (Bedrock makes one from the region), else
 * the deployment's api_base. */
static int add_base(struct pcall *pc, struct buf *base)
{
    const struct deployment *d = pc->dep;

    if (pc->prov->base_url)
        return pc->prov->base_url(pc, base);
    if (d->api_base == NULL || *d->api_base == '\0')
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s needs api_base: set it "
                          "in model_list", pcall_name(pc));
    return buf_adds(base, d->api_base) < 0 ? pcall_oom(pc) : 0;
}

/* Content-Type, the fixed headers, Accept, in that order (the order each
 * adapter always sent). */
static int add_headers(const struct pcall *pc, struct http_req *out)
{
    const struct provider *p = pc->prov;
    const char *accept = pc->stream ? p->stream_accept : p->accept;
    int r = 0;

    if (p->content_type)
        r = http_header_add(out, "Content-Type: %s", p->content_type);
    for (size_t i = 0; r == 0 && p->headers && p->headers[i]; i++)
        r = http_header_add(out, "%s", p->headers[i]);
    if (r == 0 && accept)
        r = http_header_add(out, "Accept: %s", accept);
    return r;
}

static int add_auth(struct pcall *pc, struct http_req *out, const char *base)
{
    const struct provider *p = pc->prov;
    const char *prefix = auth_prefix(p->auth);

    if (pc->dep->api_key && prefix)
        return http_header_secret(out, prefix, pc->dep->api_key) < 0 ?
               pcall_oom(pc) : 0;
    if (p->auth == PROV_AUTH_SIGV4)
        return p->sign(pc, out, base);
    return 0;
}

int provider_build(struct pcall *pc, struct http_req *out)
{
    const struct provider *p = pc->prov;
    struct buf base;
    int r;

    if (p->flags & PROV_LOCAL || p->build_body == NULL)
        return pcall_fail(pc, LLMUX_EINTERNAL, 0, "%s answers without HTTP",
                          p->name);
    if (key_missing(p, pc->dep))
        return provider_no_key(pc, p->key_env ? p->key_env : "API_KEY");
    if ((r = p->build_body(pc, &out->body)) < 0)
        return r;
    buf_init(&base, HTTP_MAX_URL);
    if ((r = add_base(pc, &base)) == 0 &&
        (r = add_url(pc, base.p, &out->url)) < 0)
        r = r == LLMUX_ETOOBIG ?
            pcall_fail(pc, LLMUX_EBADREQ, 0, "%s: the model name or "
                       "api_base is too long for a URL", pcall_name(pc)) :
            pcall_oom(pc);
    if (r == 0 && add_headers(pc, out) < 0)
        r = pcall_oom(pc);
    if (r == 0)
        r = add_auth(pc, out, base.p);
    buf_free(&base);
    return r;
}
