/* cachekey.h -- the response cache's exact-match key.
 * Owns: the canonical form of a request (its body with keys sorted, the
 * control keys, stream, stream_options and user gone, the model replaced
 * by its model group) and the key: "namespace:" then the SHA-256 of the
 * call type, the caller (when answers are per caller) and that form, in
 * hex. Pure: no state, tested alone. */
#ifndef LLMUX_CACHEKEY_H
#define LLMUX_CACHEKEY_H

#include <jansson.h>
#include <stddef.h>

/* A namespace is at most 128 bytes: ':' and 64 hex digits follow. */
#define CACHEKEY_MAX 200

/* The key of body (the body without its control keys, as opts.c leaves
 * it) into out (CACHEKEY_MAX bytes). call is "chat" or "embedding", so
 * two call types never share an entry; caller is NULL or who the answer
 * is for. 0, or < 0 (LLMUX_EINTERNAL: out of memory). */
int cachekey_make(const json_t *body, const char *group, const char *call,
                  const char *caller, const char *ns, char *out);

/* The canonical text of body (new, NUL-terminated; the caller frees), or
 * NULL when out of memory. For tests and the key. */
char *cachekey_canonical(const json_t *body, const char *group);

#endif
