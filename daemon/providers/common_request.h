/* common_request.h -- reading a canonical (OpenAI-shaped) request for a
 * native dialect: message content, images, parameters the dialect cannot
 * honour, stop lists, tools and tool_choice, JSON mode, reasoning budgets;
 * and writing the upstream body. Owns no state (common_request.c). */
#ifndef LLMUX_PROVIDERS_COMMON_REQUEST_H
#define LLMUX_PROVIDERS_COMMON_REQUEST_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "provider.h"

/* JSON mode where the API has no response_format (Anthropic, Bedrock
 * Converse): the schema becomes the input of a tool of this name that the
 * model is made to call, and that input comes back as the message text,
 * as LiteLLM does it. */
#define COMMON_JSON_TOOL "json_tool_call"

/* o[k] as an integer (a real is truncated), dflt when absent or not a
 * number. */
json_int_t common_int(const json_t *o, const char *k, json_int_t dflt);

/* The first of max_completion_tokens and max_tokens that is present and
 * not null (borrowed), or NULL. */
json_t *common_max_tokens(const json_t *req);

/* Copies req[from] to to[key] when present and not null. */
void common_copy(const json_t *req, const char *from, json_t *to,
                 const char *key);

/* The "messages" array of the request (borrowed), or NULL with a
 * bad_request in pc->err when it is not an array. */
const json_t *common_messages(struct pcall *pc);

/* Appends blocks (stolen) as a message {role, content: blocks} to msgs,
 * merged into the last message when it has the same role: the Messages
 * and Converse APIs want user and assistant turns to alternate. Empty
 * blocks are dropped. 0, or -ENOMEM. */
int common_push_turn(json_t *msgs, const char *role, json_t *blocks);

/* The text of an OpenAI content value (a string, or an array of parts whose
 * "text" parts are joined with no separator), appended to out. */
int common_content_text(const json_t *content, struct buf *out);

/* The same text as a new JSON string; NULL with a bad_request in pc->err
 * for content that is neither null, a string nor an array, or too large. */
json_t *common_text_value(struct pcall *pc, const json_t *content);

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

/* One part of a content array, checked: COMMON_PART_TEXT (*ret_text its
 * text, not empty), COMMON_PART_IMAGE (*ret_image parsed) or
 * COMMON_PART_EMPTY (a text part with empty text, which native APIs
 * refuse); < 0 with a bad_request for a text part without a text, a bad
 * image, or any other type of part. */
enum { COMMON_PART_EMPTY, COMMON_PART_TEXT, COMMON_PART_IMAGE };
int common_part(struct pcall *pc, const json_t *part, const json_t **ret_text,
                struct common_image *ret_image);

/* The short format name of an image MIME type ("png", "jpeg", "gif",
 * "webp"; image/jpg is taken for image/jpeg), NULL for any other type. */
const char *common_image_format(const char *mime, size_t len);
/* The MIME type an image (or PDF) URL's extension names, or NULL. */
const char *common_mime_from_url(const char *url);

/* OpenAI reasoning_effort -> a thinking budget in tokens, as LiteLLM maps
 * it: low 1024, medium 2048, high 4096 (minimal: 1024). 0 when absent or
 * "none"; < 0 with a bad_request for an unknown value. */
int common_reasoning_budget(struct pcall *pc);
/* The same budget, checked, or the budget_tokens of Anthropic's own
 * "thinking" object ({"type":"enabled", …}; 0 for any other type), which
 * LiteLLM accepts too and which wins (borrowed into *ret_thinking, NULL
 * when absent). < 0 with a bad_request for an unknown reasoning_effort or
 * a "thinking" that is not an object. */
int common_reasoning(struct pcall *pc, const json_t **ret_thinking);

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

/* The "tools" array (borrowed into *ret_tools; NULL when absent or null).
 * 0, or a bad_request when it is not an array. */
int common_tools(struct pcall *pc, const json_t **ret_tools);
/* tools[i] checked as a function tool with a name: 0 with the parts
 * (borrowed) in ret, or a bad_request naming tools[i]. */
struct common_tool {
    const json_t *fn;            /* tools[i].function */
    const char   *name;
    const char   *description;   /* NULL when none */
    const json_t *parameters;    /* NULL unless an object */
};
int common_tool(struct pcall *pc, const json_t *tools, size_t i,
                struct common_tool *ret);

/* tool_choice normalised: "auto", "none", "required", or a function name
 * (*ret_name set, returns "function"). NULL when absent. */
const char *common_tool_choice(const json_t *req, const char **ret_name);

/* response_format: 0 when absent or "text", 1 for json_object, 2 for
 * json_schema with *ret_schema its json_schema.schema (borrowed; NULL when
 * there is none and schema_optional), < 0 with a bad_request in pc->err
 * for a missing or unknown type or a missing schema. */
int common_response_format(struct pcall *pc, int schema_optional,
                           const json_t **ret_schema);
/* Whether response_format asks for JSON (json_object or json_schema); for
 * reading answers, the request being checked already. */
int common_json_mode(const json_t *req);
/* The input schema of the JSON-mode tool (new reference): schema with
 * "type":"object" added when it has no type, or for json_object (schema
 * NULL) any object. */
json_t *common_json_tool_schema(const json_t *schema);

/* tool_calls[i].function.arguments (a JSON text; an object is taken as
 * it is) as the object native APIs want (new reference); empty or absent
 * arguments are {}. NULL with a bad_request naming tool_calls[i] when they
 * are not a JSON object. */
json_t *common_tool_args(struct pcall *pc, const json_t *fn, size_t i);

/* body (stolen) as compact JSON, appended to out (a request body). Over
 * the body cap: a bad_request saying so; otherwise failing is out of
 * memory. body NULL means building it failed: pc->err says why. 0, or the
 * error with pc->err set. */
int common_put_json(struct pcall *pc, json_t *body, struct buf *out);

#endif
