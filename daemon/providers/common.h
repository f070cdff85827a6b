/* common.h -- pieces of the hub <-> provider translation that several
 * adapters share: message content, images, tools, finish reasons,
 * reasoning budgets, unsupported parameters, and the streaming tool-call
 * bookkeeping. Owns no state of its own. */
#ifndef LLMUX_PROVIDERS_COMMON_H
#define LLMUX_PROVIDERS_COMMON_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "provider.h"

/* The text of an OpenAI content value (a string, or an array of parts whose
 * "text" parts are joined with no separator), appended to out. */
int common_content_text(const json_t *content, struct buf *out);

/* An image_url part, parsed. For data: URLs, mime and data point into the
 * URL (data is the base64 text); for http(s) URLs, url is set and data is
 * NULL. Returns 0, or LLMUX_EBADREQ with pc->err set for anything else. */
struct common_image {
    const char *url;                /* the whole URL */
    const char *mime;  size_t mime_len;
    const char *data;  size_t data_len;
};
int common_image(struct pcall *pc, const json_t *part,
                 struct common_image *ret);

/* OpenAI reasoning_effort -> a thinking budget in tokens, as LiteLLM maps
 * it: low 1024, medium 2048, high 4096 (minimal: 1024). 0 when absent or
 * "none"; -1 for an unknown value. */
int common_reasoning_budget(const json_t *req);

/* A request parameter the provider cannot honour: with drop_params it is
 * ignored (returns 0); otherwise a bad_request naming the parameter and the
 * provider (returns LLMUX_EBADREQ with pc->err set). */
int common_unsupported(struct pcall *pc, const char *param);

/* Keys of an OpenAI request every native adapter understands or ignores
 * on purpose; anything else goes through common_unsupported. known is a
 * NULL-terminated list of the keys this adapter translates. */
int common_check_params(struct pcall *pc, const char *const *known);

/* The "stop" parameter as an array of strings (new reference; an empty
 * array when absent), or NULL with pc->err set when malformed. */
json_t *common_stop_list(struct pcall *pc);

/* tool_choice normalised: "auto", "none", "required", or a function name
 * (*ret_name set, returns "function"). NULL when absent. */
const char *common_tool_choice(const json_t *req, const char **ret_name);

/* Streaming tool calls: the OpenAI delta for the start of call number
 * index (id and name) and for a fragment of its arguments. */
json_t *common_tool_delta_start(int index, const char *id, const char *name);
json_t *common_tool_delta_args(int index, const char *fragment, size_t len);

/* Emits one chunk whose single choice carries delta (stolen) and
 * finish_reason (NULL for none). id/model/created describe the stream. */
struct common_stream_id {
    char       id[96];
    char       model[160];
    json_int_t created;
};
void common_stream_id_init(struct common_stream_id *s, const struct pcall *pc,
                           const char *upstream_id, const char *model);
int common_emit_delta(struct pcall *pc, const struct common_stream_id *s,
                      json_t *delta, const char *finish_reason);

/* A non-streaming chat.completion with one choice; message stolen; usage
 * (new reference) may be NULL. */
json_t *common_completion(const struct common_stream_id *s, json_t *message,
                          const char *finish_reason, json_t *usage);

/* A usage object with the optional details:
 * prompt_tokens_details.cached_tokens and
 * completion_tokens_details.reasoning_tokens (omitted when < 0). */
json_t *common_usage(json_int_t prompt, json_int_t completion,
                     json_int_t cached, json_int_t reasoning);

/* Parses a JSON body; NULL with pc->err set (EUNAVAIL, "… malformed …"). */
json_t *common_parse_json(struct pcall *pc, const char *p, size_t n,
                          const char *what);

#endif
