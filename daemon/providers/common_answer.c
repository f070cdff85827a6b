/* common_answer.c -- the answer side of the translation pieces the
 * adapters share (see common_answer.h): native tool calls and answer parts
 * into hub messages and completions, usage, and reading upstream JSON
 * under the daemon's JSON rule. */
#include "common.h"
#include "config.h"
#include "hub.h"
#include "presets.h"
#include "proto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

char *common_json_text(const json_t *v)
{
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("{}");
}

json_t *common_tool_call(const char *id, const char *name,
                         const json_t *args)
{
    char *text = json_is_string(args) ? NULL : common_json_text(args);
    json_t *tc;

    if (text == NULL && !json_is_string(args))
        return NULL;
    tc = json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id ? id : "", "type",
                   "function", "function", "name", name ? name : "",
                   "arguments", text ? text : json_string_value(args));
    free(text);
    return tc;
}

json_t *common_tool_calls(const json_t *calls, int *next)
{
    json_t *out = json_array(), *tc;
    size_t i;

    json_array_foreach(calls, i, tc) {
        json_t *fn = json_object_get(tc, "function");
        const char *id = hub_str(tc, "id");
        char idbuf[32];

        if (id == NULL || *id == '\0') {
            snprintf(idbuf, sizeof(idbuf), "call_%d", *next);
            id = idbuf;
        }
        (*next)++;
        json_array_append_new(out, common_tool_call(id, hub_str(fn, "name"),
                              json_object_get(fn, "arguments")));
    }
    return out;
}
json_t *common_message(json_t *content, const json_t *calls,
                       const char *reasoning, size_t reasoning_len)
{
    json_t *m = json_pack("{s:s, s:o}", "role", "assistant", "content",
                          content ? content : json_null());

    if (m && json_array_size(calls))
        json_object_set(m, "tool_calls", (json_t *)calls);
    if (m && reasoning_len)
        json_object_set_new(m, "reasoning_content",
                            json_stringn(reasoning, reasoning_len));
    return m;
}

void common_answer_init(struct common_answer *a)
{
    memset(a, 0, sizeof(*a));
    buf_init(&a->text, HTTP_MAX_BODY);
    buf_init(&a->reasoning, HTTP_MAX_BODY);
    if ((a->calls = json_array()) == NULL)
        a->failed = -ENOMEM;
}

void common_answer_free(struct common_answer *a)
{
    buf_free(&a->text);
    buf_free(&a->reasoning);
    json_decref(a->calls);
    a->calls = NULL;
}

/* Appends a JSON string to b, remembering the first failure. */
static void answer_add(struct common_answer *a, struct buf *b,
                       const json_t *s)
{
    int r;

    if (json_is_string(s) && a->failed == 0 &&
        (r = buf_add(b, json_string_value(s), json_string_length(s))) < 0)
        a->failed = r;
}

void common_answer_text(struct common_answer *a, const json_t *s)
{
    if (json_is_string(s))
        a->has_text = 1;
    answer_add(a, &a->text, s);
}

void common_answer_reasoning(struct common_answer *a, const json_t *s)
{
    answer_add(a, &a->reasoning, s);
}

void common_answer_call(struct common_answer *a, int json_mode,
                        const char *id, const char *name,
                        const json_t *input)
{
    char *text;

    if (a->failed)
        return;
    if (json_mode && name && strcmp(name, COMMON_JSON_TOOL) == 0) {
        /* The input is the answer: its JSON text is the content. */
        a->njson++;
        a->has_text = 1;
        text = common_json_text(input ? input : json_null());
        if (text == NULL)
            a->failed = -ENOMEM;
        else if (buf_adds(&a->text, text) < 0)
            a->failed = LLMUX_ETOOBIG;
        free(text);
        return;
    }
    if (json_array_append_new(a->calls, common_tool_call(id, name,
                                                         input)) < 0)
        a->failed = -ENOMEM;
}

json_t *common_answer_message(struct pcall *pc, const struct common_answer *a,
                              long status)
{
    json_t *content = NULL;

    if (a->failed) {
        common_read_failed(pc, a->failed, status);
        return NULL;
    }
    if (a->text.len || (a->has_text && json_array_size(a->calls) == 0))
        content = json_stringn(a->text.p ? a->text.p : "", a->text.len);
    return common_message(content, a->calls, a->reasoning.p,
                          a->reasoning.len);
}

int common_completion(struct pcall *pc, const struct common_stream_id *s,
                      json_t *message, const char *finish_reason,
                      json_t *usage, json_t **ret)
{
    *ret = NULL;
    if (message)
        *ret = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:o, s:s?}]}",
                         "id", s->id, "object", "chat.completion",
                         "created", s->created, "model", s->model,
                         "choices", "index", 0, "message", message,
                         "finish_reason", finish_reason);
    if (*ret == NULL) {
        json_decref(usage);
        return pcall_oom(pc);
    }
    if (usage) {
        json_object_set(*ret, "usage", usage);
        pcall_set_usage(pc, usage);
    }
    return 0;
}

int common_read_failed(struct pcall *pc, int r, long status)
{
    if (r == LLMUX_ETOOBIG)
        return pcall_fail(pc, LLMUX_EUNAVAIL, status, "%s returned a "
                          "response over %u MiB", pcall_name(pc),
                          HTTP_MAX_BODY >> 20);
    return pcall_oom(pc);
}

json_t *common_usage(json_int_t prompt, json_int_t completion,
                     json_int_t cached, json_int_t reasoning)
{
    json_t *u = hub_usage(prompt, completion);

    if (u && cached >= 0)
        json_object_set_new(u, "prompt_tokens_details",
                            json_pack("{s:I}", "cached_tokens", cached));
    if (u && reasoning >= 0)
        json_object_set_new(u, "completion_tokens_details",
                            json_pack("{s:I}", "reasoning_tokens",
                                      reasoning));
    return u;
}

json_t *common_usage_creation(json_t *u, json_int_t n)
{
    if (u && n > 0)
        json_object_set_new(u, "cache_creation_input_tokens",
                            json_integer(n));
    return u;
}

/* Whether the JSON text p[0..n) nests no deeper than max containers
 * (LLMUX_MAX_DEPTH, the stream fast path's limit: see the JSON rule in
 * protocol/json_pack.c), read off the text before jansson builds the tree. A
 * text too short to nest that deep is not scanned. */
static int depth_ok(const char *p, size_t n, int max)
{
    int depth = 0, in_str = 0;

    if (n <= 2 * (size_t)max)
        return 1;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];

        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return 0;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 1;
}

json_t *common_parse_json(struct pcall *pc, const char *p, size_t n,
                          const char *what)
{
    /* The JSON rule (protocol/json_pack.c): what the fast path accepts.
     * jansson reads a NUL byte oddly (it takes "[1\0]"): a text holding one is
     * malformed, as RFC 8259 has it. */
    json_t *j = memchr(p, '\0', n) ? NULL :
                json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);

    if (j && !depth_ok(p, n, LLMUX_MAX_DEPTH)) {
        json_decref(j);
        pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s sent a malformed %s (nested "
                   "deeper than %d)", pcall_name(pc), what, LLMUX_MAX_DEPTH);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s sent a malformed %s (not a "
                   "JSON object)", pcall_name(pc), what);
        return NULL;
    }
    return j;
}

json_t *common_parse_answer(struct pcall *pc, const struct http_resp *r,
                            provider_error_fn on_error)
{
    json_t *j = common_parse_json(pc, r->body, r->len, "response");

    if (j && json_is_object(json_object_get(j, "error"))) {
        if (on_error(pc, json_object_get(j, "error"), r->status) == 0)
            pcall_fail(pc, LLMUX_EUNAVAIL, r->status, "%s answered with an "
                       "error", pcall_name(pc));
        json_decref(j);
        return NULL;
    }
    return j;
}
