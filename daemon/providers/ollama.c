/* ollama.c -- Ollama's native chat dialect (POST /api/chat).
 * Owns: translating canonical requests to Ollama's messages (images as raw
 * base64, tool call arguments as objects, tool results with tool_name),
 * options, format and think; reading bodies and the NDJSON stream (one
 * partial message a line, counts on the done:true line, {"error": …} lines)
 * back into canonical completions and chunks. Ollama gives tool calls no
 * ids, so they are made up here ("call_<n>"). */
#include "common.h"
#include "config.h"
#include "hub.h"
#include "ndjson.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"

#include <stdlib.h>
#include <string.h>

static const char *const known_keys[] = {
    "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
    "seed", "frequency_penalty", "presence_penalty", "tools", "tool_choice",
    "response_format", "reasoning_effort", "parallel_tool_calls", NULL,
};

struct ollama_stream {
    struct ndjson           nj;
    struct common_stream_id sid;
    int                     done;      /* saw done:true */
    int                     ntools;    /* tool calls so far, for indexes */
};

/* ---- request ------------------------------------------------------------ */

/* image_url parts -> m.images, raw base64 (Ollama cannot fetch URLs). */
static int images_into(struct pcall *pc, const json_t *content, json_t *m)
{
    json_t *images = NULL, *part;
    struct common_image img;
    const json_t *t;
    size_t i;
    int r;

    json_array_foreach(content, i, part) {
        if ((r = common_part(pc, part, &t, &img)) < 0) {
            json_decref(images);
            return r;
        }
        if (r != COMMON_PART_IMAGE)
            continue;           /* the text went into content */
        if (img.data == NULL) {
            json_decref(images);
            return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s cannot fetch image "
                              "URLs: send the image inline as a data: URL "
                              "(data:image/png;base64,…)", pcall_name(pc));
        }
        if (images == NULL)
            images = json_array();
        json_array_append_new(images, json_stringn(img.data, img.data_len));
    }
    if (images)
        json_object_set_new(m, "images", images);
    return 0;
}

/* Assistant tool_calls -> Ollama's, whose arguments are an object. */
static int calls_into(struct pcall *pc, const json_t *calls, json_t *m)
{
    json_t *out = json_array(), *tc;
    size_t i;

    json_array_foreach(calls, i, tc) {
        json_t *fn = json_object_get(tc, "function"), *obj;
        const char *name = hub_str(fn, "name");

        if (name == NULL) {
            json_decref(out);
            return pcall_fail(pc, LLMUX_EBADREQ, 0, "tool_calls[%zu] needs "
                              "a function.name", i);
        }
        if ((obj = common_tool_args(pc, fn, i)) == NULL) {
            json_decref(out);
            return pc->err.code;
        }
        json_array_append_new(out, json_pack("{s:{s:s, s:o}}", "function",
                                             "name", name, "arguments",
                                             obj));
    }
    json_object_set_new(m, "tool_calls", out);
    return 0;
}

/* The function name of the call tool_call_id answers, from the assistant
 * messages before message number upto. */
static const char *tool_name_of(const json_t *msgs, size_t upto,
                                const char *id)
{
    for (size_t i = upto; i-- > 0;) {
        json_t *calls = json_object_get(json_array_get(msgs, i),
                                        "tool_calls"), *tc;
        size_t k;

        json_array_foreach(calls, k, tc)
            if (hub_str(tc, "id") && strcmp(hub_str(tc, "id"), id) == 0)
                return hub_str(json_object_get(tc, "function"), "name");
    }
    return NULL;
}

static json_t *message_out(struct pcall *pc, const json_t *msgs, size_t i)
{
    const json_t *m = json_array_get(msgs, i);
    const char *role = hub_str(m, "role");
    json_t *content = json_object_get(m, "content"), *out, *c;
    int r = 0;

    if (role == NULL) {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "messages[%zu] has no role", i);
        return NULL;
    }
    if (strcmp(role, "developer") == 0)
        role = "system";
    if (strcmp(role, "system") && strcmp(role, "user") &&
        strcmp(role, "assistant") && strcmp(role, "tool")) {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "%s does not support messages "
                   "with role \"%s\"", pcall_name(pc), role);
        return NULL;
    }
    out = json_pack("{s:s}", "role", role);
    if ((c = common_text_value(pc, content)) == NULL)
        r = pc->err.code;
    else
        json_object_set_new(out, "content", c);
    if (r == 0 && strcmp(role, "user") == 0 && json_is_array(content))
        r = images_into(pc, content, out);
    if (r == 0 && strcmp(role, "assistant") == 0) {
        json_t *rc = json_object_get(m, "reasoning_content");

        if (json_string_length(rc) > 0)
            json_object_set(out, "thinking", rc);
        if (json_array_size(json_object_get(m, "tool_calls")) > 0)
            r = calls_into(pc, json_object_get(m, "tool_calls"), out);
    }
    if (r == 0 && strcmp(role, "tool") == 0) {
        const char *id = hub_str(m, "tool_call_id");
        const char *name = id ? tool_name_of(msgs, i, id) : NULL;

        if (name)
            json_object_set_new(out, "tool_name", json_string(name));
    }
    if (r < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* tools pass as they are (Ollama takes OpenAI's shape). Ollama has no
 * tool_choice: "none" leaves the tools out, "auto" is what it does, and
 * forcing a call cannot be honoured. */
static int add_tools(struct pcall *pc, json_t *body)
{
    const char *name, *choice = common_tool_choice(pc->req, &name);
    const json_t *tools;
    int r;

    if ((r = common_tools(pc, &tools)) < 0 || tools == NULL)
        return r;
    if (choice && strcmp(choice, "none") == 0)
        return 0;
    if (choice && strcmp(choice, "auto") != 0 &&
        (r = common_unsupported(pc, "tool_choice")) < 0)
        return r;
    if (json_array_size(tools) > 0)
        json_object_set(body, "tools", (json_t *)tools);
    return 0;
}

/* response_format -> format: "json", or the schema itself. */
static int add_format(struct pcall *pc, json_t *body)
{
    const json_t *schema;
    int mode = common_response_format(pc, 0, &schema);

    if (mode == 1)
        json_object_set_new(body, "format", json_string("json"));
    else if (mode == 2)
        json_object_set(body, "format", (json_t *)schema);
    return mode < 0 ? mode : 0;
}

/* reasoning_effort -> think. Levels go as Ollama's level strings (GPT-OSS
 * needs them; boolean-only models read any level as true); "none" is
 * false. */
static int add_think(struct pcall *pc, json_t *body)
{
    const char *e = hub_str(pc->req, "reasoning_effort");
    int budget = common_reasoning_budget(pc);

    if (e == NULL || budget < 0)
        return budget;
    if (budget == 0)
        json_object_set_new(body, "think", json_false());
    else
        json_object_set_new(body, "think", json_string(
            budget <= 1024 ? "low" : budget <= 2048 ? "medium" : "high"));
    return 0;
}

static json_t *build_body(struct pcall *pc)
{
    const json_t *req = pc->req, *msgs;
    json_t *body, *out, *opts, *stop;
    size_t i;

    if (common_check_params(pc, known_keys) < 0)
        return NULL;
    if (json_is_false(json_object_get(req, "parallel_tool_calls")) &&
        common_unsupported(pc, "parallel_tool_calls") < 0)
        return NULL;
    if ((msgs = common_messages(pc)) == NULL)
        return NULL;
    /* Ollama streams unless told not to: always say which. */
    body = json_pack("{s:s, s:[], s:b}", "model", pc->dep->upstream_model,
                     "messages", "stream", pc->stream);
    out = json_object_get(body, "messages");
    for (i = 0; i < json_array_size(msgs); i++) {
        json_t *m = message_out(pc, msgs, i);

        if (m == NULL) {
            json_decref(body);
            return NULL;
        }
        json_array_append_new(out, m);
    }
    opts = json_object();
    common_copy(req, "temperature", opts, "temperature");
    common_copy(req, "top_p", opts, "top_p");
    common_copy(req, "seed", opts, "seed");
    common_copy(req, "frequency_penalty", opts, "frequency_penalty");
    common_copy(req, "presence_penalty", opts, "presence_penalty");
    if (common_max_tokens(req))
        json_object_set(opts, "num_predict", common_max_tokens(req));
    if ((stop = common_stop_list(pc)) == NULL) {
        json_decref(opts);
        json_decref(body);
        return NULL;
    }
    if (json_array_size(stop) > 0)
        json_object_set(opts, "stop", stop);
    json_decref(stop);
    if (json_object_size(opts) > 0)
        json_object_set(body, "options", opts);
    json_decref(opts);
    if (add_tools(pc, body) < 0 || add_format(pc, body) < 0 ||
        add_think(pc, body) < 0) {
        json_decref(body);
        return NULL;
    }
    return body;
}

static int ollama_body(struct pcall *pc, struct buf *out)
{
    return common_put_json(pc, build_body(pc), out);
}

/* ---- answers ------------------------------------------------------------ */

static const char *map_finish(const char *done_reason, int tools)
{
    if (done_reason && strcmp(done_reason, "length") == 0)
        return "length";
    return tools ? "tool_calls" : "stop";  /* stop, load, unload, none */
}

static json_t *usage_of(const json_t *j)
{
    json_t *p = json_object_get(j, "prompt_eval_count");
    json_t *c = json_object_get(j, "eval_count");

    if (!json_is_integer(p) && !json_is_integer(c))
        return NULL;
    return common_usage(json_integer_value(p), json_integer_value(c), -1,
                        -1);
}

/* {"error": "…"} where an answer was expected (a 200 body or a stream
 * line: the status is already sent): infer the kind from the words. */
static int body_error(struct pcall *pc, const json_t *j, long status)
{
    json_t *e = json_object_get(j, "error");
    const char *m = json_is_string(e) ? json_string_value(e) :
                    hub_str(e, "message");
    int code;

    if (m == NULL)
        m = "an error without a message";
    code = provider_code_for(400, m);
    if (code == LLMUX_EBADREQ)
        code = LLMUX_EUNAVAIL;   /* the model failed while running */
    return pcall_fail(pc, code, status, "%s: %s", pcall_name(pc), m);
}

static int ollama_parse(struct pcall *pc, const struct http_resp *r,
                        json_t **ret)
{
    json_t *j, *m, *msg, *calls, *usage, *t;
    struct common_stream_id sid;
    const char *finish;
    int next = 0, ntools;

    *ret = NULL;
    if ((j = common_parse_json(pc, r->body, r->len, "response")) == NULL)
        return pc->err.code;
    if (json_object_get(j, "error")) {
        int code = body_error(pc, j, r->status);

        json_decref(j);
        return code;
    }
    if (!json_is_object(m = json_object_get(j, "message"))) {
        json_decref(j);
        return pcall_fail(pc, LLMUX_EUNAVAIL, r->status, "%s sent a "
                          "malformed response (no message)", pcall_name(pc));
    }
    calls = json_object_get(m, "tool_calls");
    ntools = (int)json_array_size(calls);
    /* OpenAI's content is null next to tool calls when there is no text. */
    t = json_object_get(m, "content");
    if (json_string_length(t) > 0)
        t = json_incref(t);
    else
        t = ntools ? NULL : json_string("");
    calls = common_tool_calls(calls, &next);
    msg = common_message(t, calls, hub_str(m, "thinking"),
                         json_string_length(json_object_get(m, "thinking")));
    json_decref(calls);
    usage = usage_of(j);
    common_stream_id_init(&sid, pc, NULL, hub_str(j, "model"));
    finish = map_finish(hub_str(j, "done_reason"), ntools);
    json_decref(j);
    return common_completion(pc, &sid, msg, finish, usage, ret);
}

/* ---- streams ------------------------------------------------------------ */

static int emit(struct pcall *pc, struct ollama_stream *st, json_t *delta,
                const char *finish)
{
    return common_emit(pc, &st->sid, delta, finish);
}

static int on_line(void *ud, const char *line, size_t len)
{
    struct pcall *pc = ud;
    struct ollama_stream *st = pc->state;
    json_t *j, *m, *t, *calls, *delta, *usage;
    int r = 0;

    if (st->done)
        return 0;
    if ((j = common_parse_json(pc, line, len, "stream line")) == NULL)
        return pc->err.code;
    if (json_object_get(j, "error")) {
        r = body_error(pc, j, 200);
        json_decref(j);
        return r;
    }
    if (!st->sid.ready)
        common_stream_id_init(&st->sid, pc, NULL, hub_str(j, "model"));
    m = json_object_get(j, "message");
    delta = json_object();
    if (json_string_length(t = json_object_get(m, "thinking")) > 0)
        json_object_set(delta, "reasoning_content", t);
    if (json_string_length(t = json_object_get(m, "content")) > 0)
        json_object_set(delta, "content", t);
    calls = json_object_get(m, "tool_calls");
    if (json_array_size(calls) > 0) {
        /* Whole calls arrive in one line: one delta each, complete. */
        json_t *oc = common_tool_calls(calls, &st->ntools), *tc;
        size_t i;
        int first = st->ntools - (int)json_array_size(oc);

        json_array_foreach(oc, i, tc)
            json_object_set_new(tc, "index", json_integer(first + (int)i));
        json_object_set_new(delta, "tool_calls", oc);
    }
    if (json_object_size(delta) > 0)
        r = emit(pc, st, delta, NULL);
    else
        json_decref(delta);
    if (r == 0 && hub_bool(j, "done", 0)) {
        st->done = 1;
        if ((usage = usage_of(j)) != NULL)
            pcall_set_usage(pc, usage);
        r = emit(pc, st, json_object(), map_finish(hub_str(j, "done_reason"),
                                                   st->ntools > 0));
    }
    json_decref(j);
    return r;
}

static int ollama_stream_feed(struct pcall *pc, const char *p, size_t n)
{
    struct ollama_stream *st = pc->state;
    int r;

    if (st == NULL) {
        if ((st = calloc(1, sizeof(*st))) == NULL)
            return pcall_oom(pc);
        ndjson_init(&st->nj, COMMON_MAX_EVENT);
        pc->state = st;
    }
    r = ndjson_feed(&st->nj, p, n, on_line, pc);
    if (r < 0)
        common_feed_failed(pc, r, "stream line");
    return r < 0 ? r : 0;
}

static int ollama_stream_end(struct pcall *pc)
{
    struct ollama_stream *st = pc->state;
    int r;

    if (st && (r = ndjson_end(&st->nj, on_line, pc)) < 0) {
        common_feed_failed(pc, r, "stream line");
        return r;
    }
    if (st == NULL || !st->done)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s's stream ended "
                          "before done:true (truncated)", pcall_name(pc));
    return 0;
}

static void ollama_stream_free(struct pcall *pc)
{
    struct ollama_stream *st = pc->state;

    if (st) {
        ndjson_free(&st->nj);
        free(st);
        pc->state = NULL;
    }
}

/* ---- errors ------------------------------------------------------------- */

/* Ollama answers {"error": "…"} with a fitting status (404 for a model not
 * pulled, 400 for a bad request, 500 when the runner fails). */
static int status_error(struct pcall *pc, const json_t *err, long status)
{
    const char *m = json_is_string(err) ? json_string_value(err) :
                    hub_str(err, "message");

    if (m == NULL)
        return 0;
    return pcall_fail(pc, provider_code_for(status, m), status, "%s: %s",
                      pcall_name(pc), m);
}

static int ollama_map_error(struct pcall *pc, const struct http_resp *r)
{
    return provider_map_error_json(pc, r, status_error);
}

const struct provider provider_ollama = {
    .name          = "ollama",
    .path          = "/api/chat",
    /* No auth by default; a key means Ollama sits behind a proxy. */
    .auth          = PROV_AUTH_BEARER,
    .key           = PROV_KEY_NEVER,
    .framing       = PROV_FRAMING_NDJSON,
    .content_type  = "application/json",
    .build_body  = ollama_body,
    .parse       = ollama_parse,
    .stream_feed = ollama_stream_feed,
    .stream_end  = ollama_stream_end,
    .stream_free = ollama_stream_free,
    .map_error   = ollama_map_error,
};
