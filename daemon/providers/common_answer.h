/* common_answer.h -- building hub answers from native ones: tool calls,
 * assistant messages assembled part by part, completions, usage, and
 * reading upstream JSON bodies under the JSON rule
 * (protocol/json_pack.c).
 * Owns no state (common_answer.c). */
#ifndef LLMUX_PROVIDERS_COMMON_ANSWER_H
#define LLMUX_PROVIDERS_COMMON_ANSWER_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "provider.h"

struct common_stream_id;     /* common_stream.h */

/* A JSON value as compact text (malloc'd; "{}" for NULL), as the hub's
 * function.arguments carry a native tool call's input. NULL when out of
 * memory. */
char *common_json_text(const json_t *v);
/* A hub tool call {id, type:"function", function:{name, arguments}}
 * (new reference); args is a JSON text (a string) or a native input
 * value, NULL meaning {}. */
json_t *common_tool_call(const char *id, const char *name,
                         const json_t *args);

/* Tool calls an upstream gives in OpenAI's shape ({id, function:{name,
 * arguments}}, arguments a JSON text or a JSON value) as hub tool calls
 * (a new array); one without an id gets "call_<n>", n counting up from
 * *next (which a stream keeps across its lines). */
json_t *common_tool_calls(const json_t *calls, int *next);

/* An assistant message {role, content, tool_calls, reasoning_content}
 * (new reference, NULL when out of memory): content is stolen (NULL: a
 * null content), calls borrowed and set when not empty, reasoning set when
 * not empty. */
json_t *common_message(json_t *content, const json_t *calls,
                       const char *reasoning, size_t reasoning_len);
/* A non-streamed answer being read part by part (Messages content
 * blocks, Gemini parts, Converse blocks). init/free pair up. */
struct common_answer {
    struct buf text;        /* text parts joined (capped at HTTP_MAX_BODY) */
    struct buf reasoning;   /* reasoning parts joined */
    json_t    *calls;       /* hub tool calls, owned */
    int        has_text;    /* a text part was seen, even an empty one */
    int        njson;       /* JSON-tool inputs taken as the text */
    int        failed;      /* the first failure (LLMUX_ETOOBIG, -ENOMEM) */
};
void common_answer_init(struct common_answer *a);
void common_answer_free(struct common_answer *a);
/* Adds a text / reasoning part (a JSON string; anything else is
 * ignored). */
void common_answer_text(struct common_answer *a, const json_t *s);
void common_answer_reasoning(struct common_answer *a, const json_t *s);
/* Adds a tool call, or in JSON mode (json_mode set and name
 * COMMON_JSON_TOOL) the call's input as the text. */
void common_answer_call(struct common_answer *a, int json_mode,
                        const char *id, const char *name,
                        const json_t *input);
/* The assistant message (new reference), or NULL with pc->err set when a
 * part could not be added (status: the answer's). content is the text;
 * null when there is none, or only empty text next to tool calls (as
 * OpenAI gives it); "" for empty text parts alone. */
json_t *common_answer_message(struct pcall *pc, const struct common_answer *a,
                              long status);

/* A non-streamed answer: *ret becomes a chat.completion with one choice
 * holding message (stolen; NULL is an allocation failure); usage (stolen,
 * may be NULL) goes in it and into pc's record. 0, or out of memory. */
int common_completion(struct pcall *pc, const struct common_stream_id *s,
                      json_t *message, const char *finish_reason,
                      json_t *usage, json_t **ret);
/* Reading an answer body failed with r (a buf over HTTP_MAX_BODY, or out
 * of memory): pc->err, and its code. */
int common_read_failed(struct pcall *pc, int r, long status);

/* A usage object with the optional details:
 * prompt_tokens_details.cached_tokens and
 * completion_tokens_details.reasoning_tokens (omitted when < 0). */
json_t *common_usage(json_int_t prompt, json_int_t completion,
                     json_int_t cached, json_int_t reasoning);
/* Adds LiteLLM's cache_creation_input_tokens (tokens written to the
 * provider's prompt cache, part of prompt_tokens and priced at
 * cache_creation_input_token_cost: cost.h) to usage u when n > 0.
 * Returns u. */
json_t *common_usage_creation(json_t *u, json_int_t n);

/* Parses a JSON body; NULL with pc->err set (EUNAVAIL, "… malformed"). */
json_t *common_parse_json(struct pcall *pc, const char *p, size_t n,
                          const char *what);
/* A 2xx answer body as a JSON object (new reference), or NULL with pc->err
 * set: malformed, or an {"error": {…}} object in place of the answer,
 * which on_error turns into pc->err. */
json_t *common_parse_answer(struct pcall *pc, const struct http_resp *r,
                            provider_error_fn on_error);

#endif
