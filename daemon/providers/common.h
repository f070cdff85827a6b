/* common.h -- pieces of the hub <-> provider translation that several
 * adapters share: message content, images, tools and tool calls, JSON
 * mode, reasoning budgets, unsupported parameters, request bodies, and on
 * the way back the stream bookkeeping (ids, the role on the first chunk,
 * tool-call deltas, framing failures). Owns no state of its own. */
#ifndef LLMUX_PROVIDERS_COMMON_H
#define LLMUX_PROVIDERS_COMMON_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "provider.h"
#include "sse.h"

/* The cap on one upstream stream event (an SSE event, an NDJSON line). */
#define COMMON_MAX_EVENT (4u * 1024 * 1024)

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

/* Streaming tool calls: the OpenAI delta for the start of call number
 * index (id and name) and for a fragment of its arguments. */
json_t *common_tool_delta_start(int index, const char *id, const char *name);
json_t *common_tool_delta_args(int index, const char *fragment, size_t len);

/* What every chunk of one stream shares. Zeroed (calloc) means not yet
 * initialised and no chunk sent. */
struct common_stream_id {
    char       id[96];
    char       model[160];
    json_int_t created;
    int        ready;       /* id/model/created are set */
    int        role_sent;   /* the first delta (with the role) went out */
};
/* Sets id (the upstream's, else a new chatcmpl- id), model (the
 * upstream's, else the deployment's) and created; marks s ready. */
void common_stream_id_init(struct common_stream_id *s, const struct pcall *pc,
                           const char *upstream_id, const char *model);
/* Emits one chunk whose single choice carries delta (stolen) and
 * finish_reason (NULL for none). LLMUX_ECLOSED when emit refused it. */
int common_emit_delta(struct pcall *pc, const struct common_stream_id *s,
                      json_t *delta, const char *finish_reason);
/* common_emit_delta for adapters: delta NULL is an allocation failure,
 * s is initialised on first use, and the first delta of the stream gets
 * role "assistant". */
int common_emit(struct pcall *pc, struct common_stream_id *s, json_t *delta,
                const char *finish_reason);

/* The head of an SSE adapter's stream state, which must be its first
 * member (as struct sockaddr heads the address structs). */
struct common_sse_stream {
    struct sse              sse;
    struct common_stream_id sid;
};
/* pc->state as a stream state of size bytes beginning with a struct
 * common_sse_stream: made zeroed, its parser ready, on first use. NULL
 * when out of memory (pc->err set). */
void *common_sse_state(struct pcall *pc, size_t size);
/* Frees the state made by common_sse_state (the adapter frees what it
 * added first); NULL is fine. */
void common_sse_free(struct pcall *pc);

/* Sets pc->err for a stream framing failure r that the callbacks did not
 * explain: over the cap (EUNAVAIL "<name> sent a <what> over 4 MiB"), the
 * caller gone (ECLOSED), anything else internal. */
void common_feed_failed(struct pcall *pc, int r, const char *what);
/* sse_feed / sse_end of the state made by common_sse_state(pc, size),
 * with pc as the callback's ud and failures explained through
 * common_feed_failed. 0 or the failure. */
int common_sse_feed(struct pcall *pc, size_t size, const char *p, size_t n,
                    sse_cb cb);
int common_sse_end(struct pcall *pc, size_t size, sse_cb cb);

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

/* Parses a JSON body; NULL with pc->err set (EUNAVAIL, "… malformed"). */
json_t *common_parse_json(struct pcall *pc, const char *p, size_t n,
                          const char *what);
/* A 2xx answer body as a JSON object (new reference), or NULL with pc->err
 * set: malformed, or an {"error": {…}} object in place of the answer,
 * which on_error turns into pc->err. */
json_t *common_parse_answer(struct pcall *pc, const struct http_resp *r,
                            provider_error_fn on_error);
/* An SSE event's data as a JSON object: 0 with *ret NULL for an event
 * without data (a keep-alive), *ret a new reference, or < 0 with pc->err
 * set for a malformed one. */
int common_parse_event(struct pcall *pc, const struct sse_event *ev,
                       json_t **ret);

/* body (stolen) as compact JSON, appended to out (a request body). Over
 * the body cap: a bad_request saying so; otherwise failing is out of
 * memory. body NULL means building it failed: pc->err says why. 0, or the
 * error with pc->err set. */
int common_put_json(struct pcall *pc, json_t *body, struct buf *out);

#endif
