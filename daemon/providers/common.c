/* common.c -- translation pieces shared by the adapters (see common.h):
 * request side first (content, images, parameters, tools, JSON mode,
 * bodies), then the answers and streams. */
#include "common.h"
#include "proto.h"
#include "config.h"
#include "hub.h"
#include "presets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

json_int_t common_int(const json_t *o, const char *k, json_int_t dflt)
{
    json_t *v = json_object_get(o, k);

    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (json_int_t)json_real_value(v);
    return dflt;
}

json_t *common_max_tokens(const json_t *req)
{
    json_t *v = json_object_get(req, "max_completion_tokens");

    if (v == NULL || json_is_null(v))
        v = json_object_get(req, "max_tokens");
    return json_is_null(v) ? NULL : v;
}

void common_copy(const json_t *req, const char *from, json_t *to,
                 const char *key)
{
    json_t *v = json_object_get(req, from);

    if (v && !json_is_null(v))
        json_object_set(to, key, v);
}

int common_content_text(const json_t *content, struct buf *out)
{
    json_t *part;
    size_t i;
    int r = 0;

    if (json_is_string(content))
        return buf_add(out, json_string_value(content),
                       json_string_length(content));
    json_array_foreach(content, i, part) {
        json_t *t = json_object_get(part, "text");

        if (json_is_string(t) &&
            (r = buf_add(out, json_string_value(t),
                         json_string_length(t))) < 0)
            return r;
    }
    return r;
}

const json_t *common_messages(struct pcall *pc)
{
    json_t *m = json_object_get(pc->req, "messages");

    if (!json_is_array(m)) {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "\"messages\" must be an array");
        return NULL;
    }
    return m;
}

int common_push_turn(json_t *msgs, const char *role, json_t *blocks)
{
    size_t n = json_array_size(msgs);
    json_t *last = n ? json_array_get(msgs, n - 1) : NULL;
    int r;

    if (blocks == NULL)
        return -ENOMEM;
    if (json_array_size(blocks) == 0) {
        json_decref(blocks);
        return 0;
    }
    if (last && strcmp(hub_str(last, "role"), role) == 0) {
        r = json_array_extend(json_object_get(last, "content"), blocks);
        json_decref(blocks);
        return r < 0 ? -ENOMEM : 0;
    }
    return json_array_append_new(msgs, json_pack("{s:s, s:o}", "role", role,
                                                 "content", blocks)) < 0 ?
           -ENOMEM : 0;
}

json_t *common_text_value(struct pcall *pc, const json_t *content)
{
    struct buf b;
    json_t *s;

    if (content && !json_is_null(content) && !json_is_string(content) &&
        !json_is_array(content)) {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "message content must be a string "
                   "or an array of parts");
        return NULL;
    }
    buf_init(&b, HTTP_MAX_BODY);
    if (common_content_text(content, &b) < 0) {
        buf_free(&b);
        pcall_fail(pc, LLMUX_EBADREQ, 0, "message content is too large");
        return NULL;
    }
    s = json_stringn(b.p ? b.p : "", b.len);
    buf_free(&b);
    if (s == NULL)
        pcall_fail(pc, LLMUX_EBADREQ, 0, "message content is not UTF-8");
    return s;
}

int common_image(struct pcall *pc, const json_t *part,
                 struct common_image *ret)
{
    json_t *iu = json_object_get(part, "image_url");
    const char *url = json_is_object(iu) ? hub_str(iu, "url") :
                      json_string_value(iu);
    const char *comma, *semi;

    memset(ret, 0, sizeof(*ret));
    if (url == NULL)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "an image_url part needs "
                          "image_url.url");
    ret->url = url;
    if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
        return 0;
    if (strncmp(url, "data:", 5) != 0 || (comma = strchr(url, ',')) == NULL)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "image_url must be an "
                          "http(s) URL or a data: URL");
    semi = memchr(url + 5, ';', (size_t)(comma - url - 5));
    if (semi == NULL || strncmp(semi, ";base64,", 8) != 0)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "data: image URLs must be "
                          "base64 (data:image/png;base64,…)");
    ret->mime = url + 5;
    ret->mime_len = (size_t)(semi - ret->mime);
    ret->data = comma + 1;
    ret->data_len = strlen(ret->data);
    return 0;
}

int common_part(struct pcall *pc, const json_t *part, const json_t **ret_text,
                struct common_image *ret_image)
{
    const char *type = hub_str(part, "type");
    json_t *t = json_object_get(part, "text");
    int r;

    *ret_text = NULL;
    if (type == NULL || strcmp(type, "text") == 0) {
        if (!json_is_string(t))
            return pcall_fail(pc, LLMUX_EBADREQ, 0, "a text content part "
                              "needs a \"text\" string");
        *ret_text = t;
        return json_string_length(t) ? COMMON_PART_TEXT : COMMON_PART_EMPTY;
    }
    if (strcmp(type, "image_url") == 0)
        return (r = common_image(pc, part, ret_image)) < 0 ? r :
               COMMON_PART_IMAGE;
    return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s does not support content "
                      "parts of type \"%.40s\"", pcall_name(pc), type);
}

/* Image (and document) types by URL extension and MIME type; format is
 * the short name APIs such as Converse want, NULL where none takes it. */
static const struct {
    const char *ext, *mime, *format;
} media[] = {
    { ".png",  "image/png",       "png"  },
    { ".jpg",  "image/jpeg",      "jpeg" },
    { ".jpeg", "image/jpeg",      "jpeg" },
    { NULL,    "image/jpg",       "jpeg" },
    { ".gif",  "image/gif",       "gif"  },
    { ".webp", "image/webp",      "webp" },
    { ".heic", "image/heic",      NULL   },
    { ".heif", "image/heif",      NULL   },
    { ".pdf",  "application/pdf", NULL   },
};

const char *common_image_format(const char *mime, size_t len)
{
    for (size_t i = 0; i < sizeof(media) / sizeof(media[0]); i++)
        if (media[i].format && strlen(media[i].mime) == len &&
            strncasecmp(mime, media[i].mime, len) == 0)
            return media[i].format;
    return NULL;
}

const char *common_mime_from_url(const char *url)
{
    size_t n = strcspn(url, "?#");

    for (size_t i = 0; i < sizeof(media) / sizeof(media[0]); i++) {
        size_t e = media[i].ext ? strlen(media[i].ext) : 0;

        if (e && n > e && strncasecmp(url + n - e, media[i].ext, e) == 0)
            return media[i].mime;
    }
    return NULL;
}

int common_reasoning_budget(struct pcall *pc)
{
    const char *e = hub_str(pc->req, "reasoning_effort");

    if (e == NULL || strcmp(e, "none") == 0)
        return 0;
    if (strcmp(e, "minimal") == 0 || strcmp(e, "low") == 0)
        return 1024;
    if (strcmp(e, "medium") == 0)
        return 2048;
    if (strcmp(e, "high") == 0)
        return 4096;
    return pcall_fail(pc, LLMUX_EBADREQ, 0, "unknown reasoning_effort "
                      "\"%.32s\" (none, minimal, low, medium, high)", e);
}

int common_reasoning(struct pcall *pc, const json_t **ret_thinking)
{
    json_t *th = json_object_get(pc->req, "thinking");
    int budget;

    *ret_thinking = json_is_object(th) ? th : NULL;
    if (th && !json_is_null(th) && !json_is_object(th))
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "\"thinking\" must be an "
                          "object");
    if ((budget = common_reasoning_budget(pc)) < 0)
        return budget;
    if (*ret_thinking)          /* Anthropic's own shape wins */
        return strcmp(hub_str(th, "type") ? hub_str(th, "type") : "",
                      "enabled") == 0 ?
               (int)common_int(th, "budget_tokens", 0) : 0;
    return budget;
}

int common_unsupported(struct pcall *pc, const char *param)
{
    if (pc->drop_params)
        return 0;
    return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s does not support the "
                      "parameter \"%s\" (set drop_params: true to drop it)",
                      pcall_name(pc), param);
}

/* Keys that never reach an upstream as such: llmux's own controls, and
 * OpenAI keys with no meaning for a translated request. */
static const char *const always_ok[] = {
    "model", "messages", "stream", "stream_options", "user", "metadata",
    "store", "n", NULL,
};

static int in_list(const char *k, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(list[i], k) == 0)
            return 1;
    return 0;
}

int common_check_params(struct pcall *pc, const char *const *known)
{
    const char *k;
    json_t *v;
    int r;

    json_object_foreach((json_t *)pc->req, k, v) {
        if (in_list(k, always_ok) || provider_is_control_key(k) ||
            in_list(k, known) || json_is_null(v))
            continue;
        /* n=1 is the default everywhere; only n>1 is a real request. */
        if ((r = common_unsupported(pc, k)) < 0)
            return r;
    }
    v = json_object_get(pc->req, "n");
    if (json_is_integer(v) && json_integer_value(v) > 1 &&
        (r = common_unsupported(pc, "n")) < 0)
        return r;
    return 0;
}

json_t *common_stop_list(struct pcall *pc)
{
    json_t *stop = json_object_get(pc->req, "stop"), *v, *out;
    size_t i;

    if (stop == NULL || json_is_null(stop))
        return json_array();
    if (json_is_string(stop))
        return json_pack("[O]", stop);
    if (!json_is_array(stop)) {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "stop must be a string or an array "
                   "of strings");
        return NULL;
    }
    out = json_array();
    json_array_foreach(stop, i, v) {
        if (!json_is_string(v)) {
            json_decref(out);
            pcall_fail(pc, LLMUX_EBADREQ, 0, "stop[%zu] must be a string", i);
            return NULL;
        }
        json_array_append(out, v);
    }
    return out;
}

int common_tools(struct pcall *pc, const json_t **ret_tools)
{
    json_t *t = json_object_get(pc->req, "tools");

    *ret_tools = NULL;
    if (t == NULL || json_is_null(t))
        return 0;
    if (!json_is_array(t))
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "\"tools\" must be an "
                          "array");
    *ret_tools = t;
    return 0;
}

int common_tool(struct pcall *pc, const json_t *tools, size_t i,
                struct common_tool *ret)
{
    json_t *t = json_array_get(tools, i), *params;
    const char *type = hub_str(t, "type");

    ret->fn = json_object_get(t, "function");
    ret->name = hub_str(ret->fn, "name");
    ret->description = hub_str(ret->fn, "description");
    params = json_object_get(ret->fn, "parameters");
    ret->parameters = json_is_object(params) ? params : NULL;
    if ((type && strcmp(type, "function") != 0) || ret->name == NULL)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "tools[%zu]: %s takes "
                          "{\"type\":\"function\", \"function\":{\"name\":"
                          "…}}", i, pcall_name(pc));
    return 0;
}

const char *common_tool_choice(const json_t *req, const char **ret_name)
{
    json_t *tc = json_object_get(req, "tool_choice");

    *ret_name = NULL;
    if (json_is_string(tc))
        return json_string_value(tc);
    if (json_is_object(tc)) {
        *ret_name = hub_str(json_object_get(tc, "function"), "name");
        return *ret_name ? "function" : NULL;
    }
    return NULL;
}

int common_response_format(struct pcall *pc, int schema_optional,
                           const json_t **ret_schema)
{
    json_t *rf = json_object_get(pc->req, "response_format"), *schema;
    const char *t;

    *ret_schema = NULL;
    if (rf == NULL || json_is_null(rf))
        return 0;
    if ((t = hub_str(rf, "type")) == NULL)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "response_format needs a "
                          "\"type\"");
    if (strcmp(t, "text") == 0)
        return 0;
    if (strcmp(t, "json_object") == 0)
        return 1;
    if (strcmp(t, "json_schema") != 0)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s: unknown response_format "
                          "type \"%s\" (text, json_object, json_schema)",
                          pcall_name(pc), t);
    schema = json_object_get(json_object_get(rf, "json_schema"), "schema");
    if (!json_is_object(schema) && !schema_optional)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "response_format json_schema "
                          "needs json_schema.schema");
    *ret_schema = json_is_object(schema) ? schema : NULL;
    return 2;
}

int common_json_mode(const json_t *req)
{
    const char *t = hub_str(json_object_get(req, "response_format"), "type");

    return t && (strcmp(t, "json_object") == 0 ||
                 strcmp(t, "json_schema") == 0);
}

json_t *common_json_tool_schema(const json_t *schema)
{
    json_t *s;

    if (schema == NULL)
        return json_pack("{s:s, s:b, s:{}}", "type", "object",
                         "additionalProperties", 1, "properties");
    s = json_deep_copy(schema);
    if (s && json_object_get(s, "type") == NULL)
        json_object_set_new(s, "type", json_string("object"));
    return s;
}

json_t *common_tool_args(struct pcall *pc, const json_t *fn, size_t i)
{
    json_t *a = json_object_get(fn, "arguments"), *j;
    const char *s = json_string_value(a);

    if (a == NULL || json_is_null(a) ||
        (s && s[strspn(s, " \t\r\n")] == '\0'))
        return json_object();
    j = s ? json_loadb(s, json_string_length(a), JSON_DECODE_ANY, NULL) :
        json_incref(a);
    if (!json_is_object(j)) {
        json_decref(j);
        pcall_fail(pc, LLMUX_EBADREQ, 0, "tool_calls[%zu].function.arguments "
                   "must be a JSON object", i);
        return NULL;
    }
    return j;
}

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

json_t *common_tool_delta_start(int index, const char *id, const char *name)
{
    return json_pack("{s:[{s:i, s:s, s:s, s:{s:s, s:s}}]}", "tool_calls",
                     "index", index, "id", id ? id : "", "type", "function",
                     "function", "name", name ? name : "", "arguments", "");
}

json_t *common_tool_delta_args(int index, const char *fragment, size_t len)
{
    return json_pack("{s:[{s:i, s:{s:s%}}]}", "tool_calls", "index", index,
                     "function", "arguments", fragment, len);
}

void common_stream_id_init(struct common_stream_id *s, const struct pcall *pc,
                           const char *upstream_id, const char *model)
{
    if (upstream_id && *upstream_id)
        snprintf(s->id, sizeof(s->id), "%s", upstream_id);
    else
        hub_new_id(s->id, sizeof(s->id), "chatcmpl-", pc->seq);
    snprintf(s->model, sizeof(s->model), "%s",
             model && *model ? model : pc->dep->upstream_model);
    s->created = (json_int_t)time(NULL);
    s->ready = 1;
}

int common_emit_delta(struct pcall *pc, const struct common_stream_id *s,
                      json_t *delta, const char *finish_reason)
{
    json_t *chunk = hub_chunk_delta(s->id, s->model, s->created, delta,
                                    finish_reason);

    if (chunk == NULL)
        return pcall_fail(pc, LLMUX_EINTERNAL, 0, "out of memory");
    return pc->emit(pc->emit_ud, chunk) < 0 ? LLMUX_ECLOSED : 0;
}

int common_emit(struct pcall *pc, struct common_stream_id *s, json_t *delta,
                const char *finish_reason)
{
    if (delta == NULL)
        return pcall_oom(pc);
    if (!s->ready)
        common_stream_id_init(s, pc, NULL, NULL);
    if (!s->role_sent) {
        json_object_set_new(delta, "role", json_string("assistant"));
        s->role_sent = 1;
    }
    return common_emit_delta(pc, s, delta, finish_reason);
}

void common_feed_failed(struct pcall *pc, int r, const char *what)
{
    if (pc->err.code)
        return;
    if (r == LLMUX_ETOOBIG)
        pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s sent a %s over %u MiB",
                   pcall_name(pc), what, COMMON_MAX_EVENT >> 20);
    else if (r == LLMUX_ECLOSED)
        pcall_fail(pc, LLMUX_ECLOSED, 0, "the caller went away");
    else
        pcall_oom(pc);
}

void *common_sse_state(struct pcall *pc, size_t size)
{
    struct common_sse_stream *st = pc->state;

    if (st == NULL) {
        if ((st = calloc(1, size)) == NULL) {
            pcall_oom(pc);
            return NULL;
        }
        sse_init(&st->sse, COMMON_MAX_EVENT);
        pc->state = st;
    }
    return st;
}

void common_sse_free(struct pcall *pc)
{
    struct common_sse_stream *st = pc->state;

    if (st) {
        sse_free(&st->sse);
        free(st);
        pc->state = NULL;
    }
}

int common_sse_feed(struct pcall *pc, size_t size, const char *p, size_t n,
                    sse_cb cb)
{
    struct common_sse_stream *st = common_sse_state(pc, size);
    int r;

    if (st == NULL)
        return pc->err.code;
    if ((r = sse_feed(&st->sse, p, n, cb, pc)) < 0)
        common_feed_failed(pc, r, "stream event");
    return r < 0 ? r : 0;
}

int common_sse_end(struct pcall *pc, size_t size, sse_cb cb)
{
    struct common_sse_stream *st = common_sse_state(pc, size);
    int r;

    if (st == NULL)
        return pc->err.code;
    if ((r = sse_end(&st->sse, cb, pc)) < 0)
        common_feed_failed(pc, r, "stream event");
    return r < 0 ? r : 0;
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

/* Whether j nests no deeper than left levels (LLMUX_MAX_DEPTH, the stream
 * fast path's limit: see the JSON rule in protocol/json.c). */
static int depth_ok(const json_t *j, int left)
{
    const char *k;
    json_t *v;
    size_t i;

    if (!json_is_object(j) && !json_is_array(j))
        return 1;
    if (left == 0)
        return 0;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v)
            if (!depth_ok(v, left - 1))
                return 0;
        return 1;
    }
    json_object_foreach((json_t *)j, k, v)
        if (!depth_ok(v, left - 1))
            return 0;
    return 1;
}

json_t *common_parse_json(struct pcall *pc, const char *p, size_t n,
                          const char *what)
{
    /* The JSON rule (protocol/json.c): what the fast path accepts. jansson
     * reads a NUL byte oddly (it takes "[1\0]"): a text holding one is
     * malformed, as RFC 8259 has it. */
    json_t *j = memchr(p, '\0', n) ? NULL :
                json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);

    if (j && !depth_ok(j, LLMUX_MAX_DEPTH)) {
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

int common_parse_event(struct pcall *pc, const struct sse_event *ev,
                       json_t **ret)
{
    *ret = NULL;
    if (ev->data_len == 0)
        return 0;
    *ret = common_parse_json(pc, ev->data, ev->data_len, "stream event");
    return *ret ? 0 : pc->err.code;
}

int common_put_json(struct pcall *pc, json_t *body, struct buf *out)
{
    char *text;
    int r;

    if (body == NULL)
        return pc->err.code ? pc->err.code : pcall_oom(pc);
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    r = text ? buf_adds(out, text) : -ENOMEM;
    free(text);
    if (r == LLMUX_ETOOBIG)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "the %s request is over "
                          "%u MiB", pcall_name(pc), HTTP_MAX_BODY >> 20);
    return r < 0 ? pcall_oom(pc) : 0;
}
