/* hub.h -- the hub format in the daemon: OpenAI chat-completions objects as
 * jansson trees, and their conversion from/to the msgpack of frames.
 * Owns: msgpack <-> json_t conversion and small builders for canonical
 * objects (chunks, usage) that every provider adapter shares. */
#ifndef LLMUX_HUB_H
#define LLMUX_HUB_H

#include <jansson.h>
#include <msgpack.h>
#include <stdint.h>

/* New reference, or NULL (bin becomes a base64 string; ext is refused). */
json_t *hub_from_msgpack(const msgpack_object *o);
/* The same, saying why not: LLMUX_EBADREQ for input that has no JSON form
 * (not UTF-8, a NUL in a key, a non-string key, ext, too deep), with msg
 * set for the caller; LLMUX_EINTERNAL when memory ran out. 0 and *ret
 * (a new reference) otherwise. */
int hub_from_msgpack_checked(const msgpack_object *o, json_t **ret,
                             char *msg, size_t len);
/* Packs j as msgpack (reals stay float64, integers stay integers). */
int hub_pack(msgpack_packer *pk, const json_t *j);

/* Convenience getters on a json object: NULL/default when absent. */
const char *hub_str(const json_t *obj, const char *key);
int hub_bool(const json_t *obj, const char *key, int dflt);

/* A chat.completion.chunk skeleton {id, object, created, model, choices:[]}
 * (new reference); the caller appends choices. */
json_t *hub_chunk_new(const char *id, const char *model, json_int_t created);
/* A one-choice delta chunk; delta is stolen. */
json_t *hub_chunk_delta(const char *id, const char *model,
                        json_int_t created, json_t *delta,
                        const char *finish_reason);
/* A usage map {prompt_tokens, completion_tokens, total_tokens}. */
json_t *hub_usage(json_int_t prompt, json_int_t completion);

/* Fills buf with prefix + 24 hex digits derived from n (a per-server
 * unique number), e.g. "chatcmpl-00000000018b1e2f00000001". */
void hub_new_id(char *buf, size_t len, const char *prefix, uint64_t n);

#endif
