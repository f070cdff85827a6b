/* embed.h -- embeddings calls: OpenAI's /v1/embeddings request and answer
 * as the pipeline carries them (struct request with kind REQ_EMBED).
 * Owns: checking an embeddings body, the inputs as a list for dialects,
 * the canonical answer (OpenAI's list of embedding objects, float or
 * base64 as the caller asked), its msgpack form (float32 vectors), and
 * the attempt's provider dispatch for embeddings. */
#ifndef LLMUX_EMBED_H
#define LLMUX_EMBED_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>

struct pcall;
struct http_resp;

/* At most this many inputs in one call (OpenAI's limit is 2048). */
#define EMBED_MAX_INPUTS 2048
/* At most this many values a vector. */
#define EMBED_MAX_DIMS   65536

/* Checks model, input (a string, a list of strings, one token array or a
 * list of token arrays), dimensions and encoding_format. 0, or
 * LLMUX_EBADREQ with msg set. */
int embed_validate(const json_t *body, char *msg, size_t len);

/* The inputs as a new array of one item per input (a string, or an array
 * of token integers); NULL when out of memory. */
json_t *embed_inputs(const json_t *body);
/* Whether every input is a string (dialects that take only text). */
int embed_all_text(const json_t *inputs);

/* The canonical answer from vectors (an array of arrays of numbers, one
 * per input, in input order; borrowed): OpenAI's {"object": "list",
 * "data": […], "model", "usage"}, each vector rounded to float32 and
 * base64 (little-endian float32) when the request asked for it. Records
 * usage (prompt_tokens; total_tokens the same) on pc. 0, or < 0 with
 * pc->err set. */
int embed_answer(struct pcall *pc, const json_t *vectors,
                 long long prompt_tokens, json_t **ret);

/* Dialects that take a few inputs a call (struct provider's
 * embed_batch) answer one request with several transfers, one batch
 * each, in input order; the attempt (retries, fallbacks) covers them
 * all, and one failing transfer fails the attempt. */
#define EMBED_MORE 1

/* The inputs the current transfer carries, as a new array of texts:
 * pc->embed_first onward, at most embed_batch of them (all inputs for a
 * dialect without embed_batch). NULL with pc->err set (out of memory,
 * or LLMUX_EBADREQ for token arrays: these dialects take text). */
json_t *embed_part_texts(struct pcall *pc);
/* For a parse_embed hook: this transfer's vectors (borrowed, one per
 * input it carried) and their token count. After the last transfer, the
 * canonical answer of all of them (embed_answer; 0, *ret set); before
 * it EMBED_MORE (*ret NULL, pc->embed_first moved on). < 0 with pc->err
 * set. */
int embed_collect(struct pcall *pc, const json_t *vectors,
                  long long tokens, json_t **ret);

/* Readers of the dialects' answers. j's member at path (keys, NULL-
 * ended; NULL path or a missing key: NULL), borrowed. */
const json_t *embed_dig(const json_t *j, const char *const *path);
/* The vectors of an answer that lists one object per input: each item's
 * member at vec_path, placed by the item's "index" when it has one (as
 * OpenAI's data[] do), else in list order; null where an item has none
 * (embed_answer then names that input). Adds each item's number at
 * tok_path (NULL: none) to *tokens. A new array; NULL: out of memory. */
json_t *embed_pick(const json_t *items, const char *const *vec_path,
                   const char *const *tok_path, double *tokens);

/* parse_embed for an answer {list_key: [one object per input, …], …}
 * (OpenAI's data, Gemini's embeddings, Vertex AI's predictions): the
 * vectors at vec_path in each item (embed_pick), the token count summed
 * from each item's item_tok plus the body's body_tok (either NULL),
 * handed to embed_collect. */
int embed_parse_list(struct pcall *pc, const struct http_resp *r,
                     const char *list_key, const char *const *vec_path,
                     const char *const *item_tok,
                     const char *const *body_tok, json_t **ret);

/* The attempt, for request.c: whether pc's dialect (and preset) can
 * answer an embeddings call; else LLMUX_EBADREQ, pc->err naming the
 * provider and the deployment. */
int embed_supported(struct pcall *pc);
int embed_run_local(struct pcall *pc, json_t **ret);
int embed_parse(struct pcall *pc, const struct http_resp *r, json_t **ret);

/* Packs an embeddings answer as msgpack, its vectors as float32 arrays
 * (PROTOCOL.md says why). 0, or -1. */
int embed_pack(msgpack_packer *pk, const json_t *answer);

#endif
