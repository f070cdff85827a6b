/* vertex.c -- the Vertex AI dialect: Gemini models on
 * .../publishers/google/models/M:generateContent (:streamGenerateContent
 * ?alt=sse) and Anthropic models on .../publishers/anthropic/models/M
 * :rawPredict (:streamRawPredict), each with its own translation
 * (gemini.c, anthropic.c), an OAuth2 access token (gauth.h) as the
 * Bearer (PROV_AUTH_TOKEN). Owns: the deployment's Vertex settings,
 * typed at load, and the two tables, one per publisher, whose data the
 * generic builder reads; the deployment is bound to one at load. */
#include "vertex.h"
#include "embed_native.h"
#include "common.h"
#include "cenv.h"
#include "config.h"
#include "gauth.h"
#include "secret.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Anthropic on Vertex AI takes its API version in the body. */
#define VERTEX_ANTHROPIC_VERSION "vertex-2023-10-16"
#define DEFAULT_LOCATION         "us-central1"

/* ---- settings, at load --------------------------------------------------- */

struct vertex_dep *vertex_dep_free(struct vertex_dep *v)
{
    if (v == NULL)
        return NULL;
    free(v->project);
    free(v->location);
    gauth_key_free(v->key);
    free(v->error);
    free(v);
    return NULL;
}

/* Project ids and locations go into the URL and the host name as they
 * are: letters, digits, '-', '_' and '.' only. */
static int name_ok(const char *s)
{
    if (s == NULL || *s == '\0' || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
            *s != '.')
            return 0;
    return 1;
}

/* A setting from litellm_params (os.environ/ resolved), else the
 * environment variable env, else dflt; malloc'd into *ret. */
static int setting(const struct deployment *d, const char *k,
                   const char *env, const char *dflt, char **ret,
                   char *err, size_t errlen)
{
    const char *s = json_string_value(json_object_get(d->params, k));
    char msg[256];

    if (s && *s) {
        if (value_resolve(s, ret, msg, sizeof(msg)) < 0) {
            snprintf(err, errlen, "%s: %s", k, msg);
            return LLMUX_EBADREQ;
        }
        return 0;
    }
    if ((s = cenv_get(env)) == NULL || *s == '\0')
        s = dflt;
    if (s && (*ret = strdup(s)) == NULL)
        return -ENOMEM;
    return 0;
}

/* The key from vertex_credentials or $GOOGLE_APPLICATION_CREDENTIALS;
 * what is wrong with it goes to v->error. */
static int load_key(struct deployment *d, struct vertex_dep *v)
{
    const char *src = d->vertex_creds ? d->vertex_creds->p :
                      cenv_get("GOOGLE_APPLICATION_CREDENTIALS");
    size_t len = d->vertex_creds ? d->vertex_creds->len :
                 src ? strlen(src) : 0;
    char msg[512], full[600];
    int r;

    if (d->vertex_creds_set && d->vertex_creds == NULL) {
        /* Its variable or credential is missing (warned already): never
         * another key in its place. */
        snprintf(full, sizeof(full), "vertex_credentials of \"%s\" names "
                 "a variable or credential that is not set", d->model_name);
    } else if (src == NULL || *src == '\0') {
        snprintf(full, sizeof(full), "vertex_ai deployment \"%s\" has no "
                 "credentials: set vertex_credentials (a service-account "
                 "JSON file, os.environ/NAME or credential/NAME) or "
                 "$GOOGLE_APPLICATION_CREDENTIALS", d->model_name);
    } else if ((r = gauth_key_load(src, len, &v->key, msg,
                                   sizeof(msg))) == 0) {
        return 0;
    } else if (r == -ENOMEM) {
        return r;
    } else {
        snprintf(full, sizeof(full), "vertex_credentials of \"%s\": %s",
                 d->model_name, msg);
    }
    return (v->error = strdup(full)) ? 0 : -ENOMEM;
}

/* Which table serves d: the publisher is read off the model's name
 * (claude-* is Anthropic's). A template has no model yet. */
static void bind_publisher(struct deployment *d)
{
    if (d->prov == NULL || d->upstream_model == NULL)
        return;
    d->prov = strncmp(d->upstream_model, "claude", 6) == 0 ?
              &provider_vertex_anthropic : &provider_vertex;
}

int vertex_bind(struct deployment *d, const struct deployment *tmpl,
                char *err, size_t errlen)
{
    struct vertex_dep *v;
    int r;

    bind_publisher(d);
    if (d->vertex)
        return 0;
    if (tmpl && tmpl->vertex) {
        d->vertex = tmpl->vertex;   /* borrowed: d holds the config */
        d->own_vertex = 0;
        return 0;
    }
    if (d->implicit) {
        snprintf(err, errlen, "vertex_ai models need a model_list entry "
                 "(vertex_project, vertex_credentials): \"%s\" has none",
                 d->model_name);
        return LLMUX_ENOTFOUND;
    }
    if ((v = calloc(1, sizeof(*v))) == NULL)
        return -ENOMEM;
    d->vertex = v;
    d->own_vertex = 1;
    if ((r = load_key(d, v)) < 0 ||
        (r = setting(d, "vertex_project", "VERTEXAI_PROJECT",
                     v->key ? v->key->project_id : NULL, &v->project, err,
                     errlen)) < 0 ||
        (r = setting(d, "vertex_location", "VERTEXAI_LOCATION",
                     DEFAULT_LOCATION, &v->location, err, errlen)) < 0)
        return r;
    if (v->project == NULL && v->error == NULL) {
        snprintf(err, errlen, "vertex_ai deployment \"%s\" has no project: "
                 "set vertex_project (or $VERTEXAI_PROJECT)", d->model_name);
        return LLMUX_EBADREQ;
    }
    if ((v->project && !name_ok(v->project)) || !name_ok(v->location)) {
        snprintf(err, errlen, "vertex_project and vertex_location may hold "
                 "letters, digits, '-', '_' and '.' only");
        return LLMUX_EBADREQ;
    }
    return 0;
}

/* ---- requests ------------------------------------------------------------ */

/* The host of the location (the global endpoint has no region in it),
 * or api_base, then the project and location: the publisher's path
 * (the tables below) follows. */
static int vertex_base(struct pcall *pc, struct buf *out)
{
    const struct deployment *d = pc->dep;
    const struct vertex_dep *v = d->vertex;
    int r;

    if (d->api_base)
        r = buf_adds(out, d->api_base);
    else if (strcmp(v->location, "global") == 0)
        r = buf_adds(out, "https://aiplatform.googleapis.com");
    else
        r = buf_addf(out, "https://%s-aiplatform.googleapis.com",
                     v->location);
    if (r == 0)
        r = buf_addf(out, "/v1/projects/%s/locations/%s", v->project,
                     v->location);
    return r < 0 ? pcall_oom(pc) : 0;
}

/* Credentials that cannot give a token fail every call as EAUTH, before
 * anything is built (request.c asks gauth only for a usable key). */
static int creds_usable(struct pcall *pc)
{
    const struct vertex_dep *v = pc->dep->vertex;

    return v->error ? pcall_fail(pc, LLMUX_EAUTH, 0, "%s", v->error) : 0;
}

static int gemini_on_vertex(struct pcall *pc, struct buf *out)
{
    json_t *body;
    int r;

    if ((r = creds_usable(pc)) < 0 || (r = gemini_body_json(pc, &body)) < 0)
        return r;
    return common_put_json(pc, body, out);
}

/* Anthropic's Messages body, as Vertex AI wants it: the model is in the
 * URL and the API version in the body. */
static int claude_on_vertex(struct pcall *pc, struct buf *out)
{
    json_t *body;
    int r;

    if ((r = creds_usable(pc)) < 0 ||
        (r = anthropic_body_json(pc, &body)) < 0)
        return r;
    json_object_del(body, "model");
    if (json_object_set_new(body, "anthropic_version",
                            json_string(VERTEX_ANTHROPIC_VERSION)) < 0) {
        json_decref(body);
        return pcall_oom(pc);
    }
    return common_put_json(pc, body, out);
}

/* The answers are the publisher's own: its dialect reads them. */
static const struct provider *publisher(const struct pcall *pc)
{
    return pc->prov == &provider_vertex_anthropic ? &provider_anthropic :
                                                    &provider_gemini;
}

static int vertex_parse(struct pcall *pc, const struct http_resp *r,
                        json_t **ret)
{
    return publisher(pc)->parse(pc, r, ret);
}

static int vertex_stream_feed(struct pcall *pc, const char *p, size_t n)
{
    return publisher(pc)->stream_feed(pc, p, n);
}

static int vertex_stream_end(struct pcall *pc)
{
    return publisher(pc)->stream_end(pc);
}

static void vertex_stream_free(struct pcall *pc)
{
    publisher(pc)->stream_free(pc);
}

static int vertex_map_error(struct pcall *pc, const struct http_resp *r)
{
    return publisher(pc)->map_error(pc, r);
}

/* What the two tables share: the name LiteLLM gives them, a service
 * account's token, JSON in, SSE out, and the publisher's readers. */
#define VERTEX_COMMON                          \
    .name         = "vertex_ai",               \
    .model_keep   = "@",                       \
    .auth         = PROV_AUTH_TOKEN,           \
    .key          = PROV_KEY_NEVER,            \
    .framing      = PROV_FRAMING_SSE,          \
    .content_type = "application/json",        \
    .base_url     = vertex_base,               \
    .parse        = vertex_parse,              \
    .stream_feed  = vertex_stream_feed,        \
    .stream_end   = vertex_stream_end,         \
    .stream_free  = vertex_stream_free,        \
    .map_error    = vertex_map_error

/* Gemini models (publishers/google): the registry's vertex_ai. */
const struct provider provider_vertex = {
    VERTEX_COMMON,
    .path         = "/publishers/google/models/{model}:generateContent",
    .stream_path  = "/publishers/google/models/{model}"
                    ":streamGenerateContent?alt=sse",
    .build_body   = gemini_on_vertex,
    /* Google's embedding models: vertex_embed.c. */
    .embed_path       = "/publishers/google/models/{model}:predict",
    .build_embed_body = vertex_embed_body,
    .parse_embed      = vertex_embed_parse,
    .embed_batch      = vertex_embed_batch,
};

/* Anthropic models (publishers/anthropic; vertex_bind picks this table
 * for claude-* models). */
const struct provider provider_vertex_anthropic = {
    VERTEX_COMMON,
    .path          = "/publishers/anthropic/models/{model}:rawPredict",
    .stream_path   = "/publishers/anthropic/models/{model}"
                     ":streamRawPredict",
    .stream_accept = "text/event-stream",
    .build_body    = claude_on_vertex,
};
