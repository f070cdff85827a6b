/* vertex.h -- the Vertex AI dialect's deployment settings, and the body
 * builders it borrows from the Gemini and Anthropic dialects (exported by
 * gemini.c and anthropic.c, so the translation exists once). */
#ifndef LLMUX_PROVIDERS_VERTEX_H
#define LLMUX_PROVIDERS_VERTEX_H

#include <jansson.h>
#include <stddef.h>

#include "provider.h"

struct deployment;
struct gauth_key;

/* Typed at load into struct deployment (vertex): never written after. */
struct vertex_dep {
    char             *project;   /* owned: vertex_project, else the key's
                                  * project_id, else $VERTEXAI_PROJECT */
    char             *location;  /* owned: vertex_location, else
                                  * $VERTEXAI_LOCATION, else us-central1 */
    struct gauth_key *key;       /* owned; NULL when error is set */
    char             *error;     /* owned: why the credentials are not
                                  * usable (warned at load; every request
                                  * gets it as EAUTH), or NULL */
};

/* Binds d (dialect vertex_ai) at load: project, location and the
 * service-account key from vertex_credentials (d->vertex_creds) or
 * $GOOGLE_APPLICATION_CREDENTIALS. A derived deployment shares its
 * template's settings (tmpl, may be NULL). 0, or < 0 with err set (no
 * project, a malformed project or location); unusable credentials are
 * d->vertex->error, not a failure. */
int vertex_bind(struct deployment *d, const struct deployment *tmpl,
                char *err, size_t errlen);
/* Accepts NULL; returns NULL. */
struct vertex_dep *vertex_dep_free(struct vertex_dep *v);

/* provider_vertex (provider.h) serves Gemini models; this table the
 * Anthropic ones. vertex_bind binds a deployment to the one its model
 * needs. */
extern const struct provider provider_vertex_anthropic;

/* The request bodies of the two translations Vertex AI serves, as trees
 * (*ret a new reference; 0, or < 0 with pc->err set). */
int gemini_body_json(struct pcall *pc, json_t **ret);
int anthropic_body_json(struct pcall *pc, json_t **ret);

#endif
