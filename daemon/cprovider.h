/* cprovider.h -- providers added by configuration, LiteLLM's custom
 * provider idea without code: llmux_settings.providers entries
 * {name, dialect, api_base, api_key_env, auth, param_renames, drop}
 * make "name/model" work like a built-in preset.
 * Owns: struct cprovider (a preset of the config's own, its key read at
 * load, how the key travels, the parameter renames and drops), reading
 * the list, finding one by prefix, and applying it to a request's JSON
 * (renames, drops) and headers (auth: header:NAME). */
#ifndef LLMUX_CPROVIDER_H
#define LLMUX_CPROVIDER_H

#include "presets.h"

#include <jansson.h>
#include <stddef.h>

struct cload;
struct config;
struct http_req;
struct secret;
struct ynode;

struct cprovider {
    struct preset  p;            /* name, dialect, api_base, key_env;
                                  * its strings owned here */
    char          *auth_header;  /* owned: "X-Api-Key" for auth:
                                  * header:X-Api-Key; NULL: the dialect's
                                  * own (bearer for openai) */
    struct secret *key;          /* owned: $api_key_env at load, or NULL */
    json_t        *renames;      /* owned: {from: to} */
    json_t        *drop;         /* owned: [name, …] */
};

/* Reads llmux_settings.providers into l->c. */
int cprovider_read(struct cload *l, const struct ynode *y);
void cprovider_free_all(struct config *c);
/* The provider of c named by the len bytes at name, or NULL. */
const struct cprovider *cprovider_find(const struct config *c,
                                       const char *name, size_t len);
/* Applies renames and drops to req (a request of our own, modified in
 * place): 0 or -ENOMEM. */
int cprovider_apply(const struct cprovider *cp, json_t *req);
/* For auth: header:NAME, replaces the dialect's key header in h with
 * "NAME: key" (key: the deployment's, else the provider's). 0, or < 0. */
int cprovider_auth(const struct cprovider *cp, const struct secret *key,
                   struct http_req *h);

#endif
