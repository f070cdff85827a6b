/* cohere.c -- the Cohere v2 chat dialect (POST /v2/chat).
 * Owns: translating canonical requests to Cohere's messages, tools,
 * response_format and thinking; reading bodies (content blocks, tool_plan,
 * billed/real token counts) and the event-typed SSE stream (message-start …
 * message-end) back into canonical completions and chunks; Cohere's error
 * bodies ({"message": …}) and statuses (498 blocked, 499 cancelled). */
#include "embed_native.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"
#include "sse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOOL_CALLS 512       /* per answer; more is not a real answer */

/* OpenAI keys this adapter translates (common_check_params refuses the
 * rest unless drop_params). */
static const char *const known_keys[] = {
    "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
    "seed", "frequency_penalty", "presence_penalty", "tools", "tool_choice",
    "response_format", "reasoning_effort", "parallel_tool_calls", NULL,
};

struct cohere_stream {
    struct common_sse_stream h;          /* first: see common.h */
    int                     finished;  /* message-end seen */
    int                     ntools;    /* tool calls started so far */
    int                     up_index[MAX_TOOL_CALLS]; /* Cohere's index of
                                        * each of our tool calls */
};

/* ---- request ------------------------------------------------------------ */

/* A user message's content: a string when it is text only, else Cohere's
 * content blocks (text, image_url). Cohere takes data: and http(s) image
 * URLs alike. */
static json_t *user_content(struct pcall *pc, const json_t *content)
{
    struct common_image img;
    const json_t *t;
    json_t *parts, *part;
    size_t i;
    int r, images = 0;

    if (!json_is_array(content))
        return common_text_value(pc, content);
    json_array_foreach(content, i, part) {
        if ((r = common_part(pc, part, &t, &img)) < 0)
            return NULL;
        images |= r == COMMON_PART_IMAGE;
    }
    if (!images)
        return common_text_value(pc, content);
    parts = json_array();
    json_array_foreach(content, i, part) {
        json_t *iu, *detail;

        /* Checked above: no failure now. */
        if (common_part(pc, part, &t, &img) != COMMON_PART_IMAGE) {
            json_array_append_new(parts, json_pack("{s:s, s:O}", "type",
                                  "text", "text", t));
            continue;
        }
        iu = json_pack("{s:s}", "url", img.url);
        detail = json_object_get(json_object_get(part, "image_url"),
                                 "detail");
        if (json_is_string(detail))
            json_object_set(iu, "detail", detail);
        json_array_append_new(parts, json_pack("{s:s, s:o}", "type",
                              "image_url", "image_url", iu));
    }
    return parts;
}

/* OpenAI tool_calls of an assistant message -> Cohere's (same shape, with
 * arguments always a string). */
static json_t *tool_calls_out(struct pcall *pc, const json_t *calls)
{
    json_t *out = json_array(), *tc;
    size_t i;

    json_array_foreach(calls, i, tc) {
        json_t *fn = json_object_get(tc, "function");
        json_t *args = json_object_get(fn, "arguments");
        const char *id = hub_str(tc, "id"), *name = hub_str(fn, "name");

        if (id == NULL || name == NULL) {
            json_decref(out);
            pcall_fail(pc, LLMUX_EBADREQ, 0, "tool_calls[%zu] needs an id "
                       "and function.name", i);
            return NULL;
        }
        json_array_append_new(out, common_tool_call(id, name,
                              json_is_null(args) ? NULL : args));
    }
    return out;
}

static json_t *message_out(struct pcall *pc, const json_t *m, size_t i)
{
    const char *role = hub_str(m, "role");
    json_t *content = json_object_get(m, "content"), *c, *calls, *out;

    if (role == NULL) {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "messages[%zu] has no role", i);
        return NULL;
    }
    if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
        if ((c = common_text_value(pc, content)) == NULL)
            return NULL;
        return json_pack("{s:s, s:o}", "role", "system", "content", c);
    }
    if (strcmp(role, "user") == 0) {
        if ((c = user_content(pc, content)) == NULL)
            return NULL;
        return json_pack("{s:s, s:o}", "role", "user", "content", c);
    }
    if (strcmp(role, "assistant") == 0) {
        if ((c = common_text_value(pc, content)) == NULL)
            return NULL;
        calls = json_object_get(m, "tool_calls");
        if (json_array_size(calls) == 0)
            return json_pack("{s:s, s:o}", "role", "assistant", "content", c);
        /* Text next to tool calls is what Cohere calls the tool plan (and
         * what parse() hands back as content). */
        out = json_pack("{s:s}", "role", "assistant");
        if (json_string_length(c) > 0)
            json_object_set(out, "tool_plan", c);
        json_decref(c);
        if ((calls = tool_calls_out(pc, calls)) == NULL) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, "tool_calls", calls);
        return out;
    }
    if (strcmp(role, "tool") == 0) {
        const char *id = hub_str(m, "tool_call_id");

        if (id == NULL) {
            pcall_fail(pc, LLMUX_EBADREQ, 0, "messages[%zu] (tool) needs a "
                       "tool_call_id", i);
            return NULL;
        }
        if ((c = common_text_value(pc, content)) == NULL)
            return NULL;
        return json_pack("{s:s, s:s, s:o}", "role", "tool", "tool_call_id",
                         id, "content", c);
    }
    pcall_fail(pc, LLMUX_EBADREQ, 0, "%s does not support messages with "
               "role \"%s\"", pcall_name(pc), role);
    return NULL;
}

/* tools -> Cohere's; only (when set) keeps just that function, for a
 * tool_choice naming one. */
static json_t *tools_out(struct pcall *pc, const json_t *tools,
                         const char *only, int *ret_strict)
{
    struct common_tool t;
    json_t *out, *o;
    size_t i;

    out = json_array();
    for (i = 0; i < json_array_size(tools); i++) {
        if (common_tool(pc, tools, i, &t) < 0) {
            json_decref(out);
            return NULL;
        }
        if (only && strcmp(only, t.name) != 0)
            continue;
        o = json_pack("{s:s}", "name", t.name);
        if (t.description)
            json_object_set_new(o, "description",
                                json_string(t.description));
        if (t.parameters)
            json_object_set(o, "parameters", (json_t *)t.parameters);
        if (hub_bool(t.fn, "strict", 0))
            *ret_strict = 1;
        json_array_append_new(out, json_pack("{s:s, s:o}", "type",
                                             "function", "function", o));
    }
    if (only && json_array_size(out) == 0) {
        json_decref(out);
        pcall_fail(pc, LLMUX_EBADREQ, 0, "tool_choice names \"%s\", which "
                   "is not in tools", only);
        return NULL;
    }
    return out;
}

/* tools and tool_choice. Cohere has REQUIRED and NONE; "auto" is its
 * default, and a named function becomes REQUIRED over that tool alone. */
static int add_tools(struct pcall *pc, json_t *body)
{
    const char *name, *choice = common_tool_choice(pc->req, &name);
    const json_t *list;
    json_t *tools;
    int r, strict = 0;

    if ((r = common_tools(pc, &list)) < 0 || json_array_size(list) == 0)
        return r;
    if (choice && strcmp(choice, "auto") != 0 && strcmp(choice, "none") &&
        strcmp(choice, "required") && strcmp(choice, "function"))
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "unknown tool_choice \"%s\"",
                          choice);
    if ((tools = tools_out(pc, list, name, &strict)) == NULL)
        return pc->err.code;
    json_object_set_new(body, "tools", tools);
    if (strict)
        json_object_set_new(body, "strict_tools", json_true());
    if (choice && strcmp(choice, "none") == 0)
        json_object_set_new(body, "tool_choice", json_string("NONE"));
    else if (choice && (strcmp(choice, "required") == 0 ||
                        strcmp(choice, "function") == 0))
        json_object_set_new(body, "tool_choice", json_string("REQUIRED"));
    return 0;
}

/* response_format: Cohere's json_object, with the schema when given. */
static int add_response_format(struct pcall *pc, json_t *body)
{
    const json_t *schema;
    int mode = common_response_format(pc, 0, &schema);
    json_t *rf;

    if (mode <= 0)
        return mode;
    rf = json_pack("{s:s}", "type", "json_object");
    if (rf && schema)
        json_object_set(rf, "schema", (json_t *)schema);
    json_object_set_new(body, "response_format", rf);
    return 0;
}

/* reasoning_effort -> thinking.token_budget; "none" turns thinking off
 * (Cohere's reasoning models think by default). */
static int add_thinking(struct pcall *pc, json_t *body)
{
    const char *e = hub_str(pc->req, "reasoning_effort");
    int budget = common_reasoning_budget(pc);

    if (budget < 0)
        return budget;
    if (budget > 0)
        json_object_set_new(body, "thinking", json_pack("{s:s, s:i}", "type",
                            "enabled", "token_budget", budget));
    else if (e && strcmp(e, "none") == 0)
        json_object_set_new(body, "thinking",
                            json_pack("{s:s}", "type", "disabled"));
    return 0;
}

static json_t *build_body(struct pcall *pc)
{
    const json_t *req = pc->req;
    json_t *msgs = json_object_get(req, "messages"), *body, *out, *m, *stop;
    json_t *ptc = json_object_get(req, "parallel_tool_calls");
    size_t i;

    if (common_check_params(pc, known_keys) < 0)
        return NULL;
    /* Cohere decides alone how many tools to call at once. */
    if (json_is_false(ptc) &&
        common_unsupported(pc, "parallel_tool_calls") < 0)
        return NULL;
    if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "messages must be a non-empty "
                   "array");
        return NULL;
    }
    body = json_pack("{s:s, s:[], s:b}", "model", pc->dep->upstream_model,
                     "messages", "stream", pc->stream);
    out = json_object_get(body, "messages");
    json_array_foreach(msgs, i, m) {
        json_t *cm = message_out(pc, m, i);

        if (cm == NULL) {
            json_decref(body);
            return NULL;
        }
        json_array_append_new(out, cm);
    }
    if (common_max_tokens(req))
        json_object_set(body, "max_tokens", common_max_tokens(req));
    common_copy(req, "temperature", body, "temperature");
    common_copy(req, "top_p", body, "p");
    common_copy(req, "seed", body, "seed");
    common_copy(req, "frequency_penalty", body, "frequency_penalty");
    common_copy(req, "presence_penalty", body, "presence_penalty");
    if ((stop = common_stop_list(pc)) == NULL) {
        json_decref(body);
        return NULL;
    }
    if (json_array_size(stop) > 0)
        json_object_set(body, "stop_sequences", stop);
    json_decref(stop);
    if (add_tools(pc, body) < 0 || add_response_format(pc, body) < 0 ||
        add_thinking(pc, body) < 0) {
        json_decref(body);
        return NULL;
    }
    return body;
}

static int cohere_body(struct pcall *pc, struct buf *out)
{
    return common_put_json(pc, build_body(pc), out);
}

/* ---- answers ------------------------------------------------------------ */

/* Cohere's finish_reason -> OpenAI's. NULL for the two that mean the
 * answer failed (ERROR, TIMEOUT); *ret_code then says how. Older API
 * versions spelled them in lower case. */
static const char *map_finish(const char *f, int *ret_code)
{
    *ret_code = 0;
    if (f == NULL)
        return "stop";
    if (!strcasecmp(f, "MAX_TOKENS") || !strcasecmp(f, "ERROR_LIMIT"))
        return "length";
    if (!strcasecmp(f, "TOOL_CALL"))
        return "tool_calls";
    if (!strcasecmp(f, "ERROR_TOXIC") || !strcasecmp(f, "CONTENT_BLOCKED"))
        return "content_filter";
    if (!strcasecmp(f, "ERROR")) {
        *ret_code = LLMUX_EUNAVAIL;
        return NULL;
    }
    if (!strcasecmp(f, "TIMEOUT")) {
        *ret_code = LLMUX_ETIMEOUT;
        return NULL;
    }
    return "stop";     /* COMPLETE, STOP_SEQUENCE, USER_CANCEL, new ones */
}

/* usage -> OpenAI's. usage.tokens (what the model really read and wrote,
 * prompt template included) is preferred; billed_units (what Cohere bills)
 * only stands in when tokens is missing. */
static json_t *usage_of(const json_t *u)
{
    json_t *t = json_object_get(u, "tokens");

    if (!json_is_object(t))
        t = json_object_get(u, "billed_units");
    if (!json_is_object(t))
        return NULL;
    return common_usage(common_int(t, "input_tokens", 0),
                        common_int(t, "output_tokens", 0),
                        common_int(u, "cached_tokens", -1), -1);
}

static int finish_failed(struct pcall *pc, int code, const char *f,
                         const char *detail)
{
    return pcall_fail(pc, code, 200, "%s: the generation ended with "
                      "finish_reason %s%s%s", pcall_name(pc), f,
                      detail ? ": " : "", detail ? detail : "");
}

static int cohere_parse(struct pcall *pc, const struct http_resp *r,
                        json_t **ret)
{
    json_t *j, *m, *blocks, *b, *calls, *msg, *usage, *c;
    struct buf text, think;
    struct common_stream_id sid;
    const char *finish, *plan;
    size_t i;
    int code, rc = 0, next = 0;

    *ret = NULL;
    if ((j = common_parse_json(pc, r->body, r->len, "response")) == NULL)
        return pc->err.code;
    m = json_object_get(j, "message");
    if (!json_is_object(m)) {
        const char *e = hub_str(j, "message");

        if (e)
            rc = pcall_fail(pc, provider_code_for(500, e), r->status,
                            "%s: %s", pcall_name(pc), e);
        else
            rc = pcall_fail(pc, LLMUX_EUNAVAIL, r->status, "%s sent a "
                            "malformed response (no message)", pcall_name(pc));
        json_decref(j);
        return rc;
    }
    finish = map_finish(hub_str(j, "finish_reason"), &code);
    if (finish == NULL) {
        rc = finish_failed(pc, code, hub_str(j, "finish_reason"), NULL);
        json_decref(j);
        return rc;
    }
    buf_init(&text, HTTP_MAX_BODY);
    buf_init(&think, HTTP_MAX_BODY);
    blocks = json_object_get(m, "content");
    if (json_is_string(blocks))
        buf_add(&text, json_string_value(blocks), json_string_length(blocks));
    json_array_foreach(blocks, i, b) {
        const char *type = hub_str(b, "type");

        if (type && strcmp(type, "thinking") == 0 && hub_str(b, "thinking"))
            buf_adds(&think, hub_str(b, "thinking"));
        else if (type && strcmp(type, "text") == 0 && hub_str(b, "text"))
            buf_adds(&text, hub_str(b, "text"));
    }
    calls = common_tool_calls(json_object_get(m, "tool_calls"), &next);
    plan = hub_str(m, "tool_plan");
    if (text.len)
        c = json_stringn(text.p, text.len);
    else if (json_array_size(calls) && plan && *plan)
        c = json_string(plan);
    else
        c = json_array_size(calls) ? NULL : json_string("");
    msg = common_message(c, calls, think.p, think.len);
    json_decref(calls);
    buf_free(&text);
    buf_free(&think);
    usage = usage_of(json_object_get(j, "usage"));
    common_stream_id_init(&sid, pc, hub_str(j, "id"), NULL);
    json_decref(j);
    return common_completion(pc, &sid, msg, finish, usage, ret);
}

/* ---- streams ------------------------------------------------------------ */

/* Sends delta (stolen); the first chunk of a stream carries the role. */
static int emit(struct pcall *pc, struct cohere_stream *st, json_t *delta,
                const char *finish)
{
    return common_emit(pc, &st->h.sid, delta, finish);
}

/* delta.message of an event. */
static json_t *dmsg(const json_t *ev)
{
    return json_object_get(json_object_get(ev, "delta"), "message");
}

/* Our index for the tool call Cohere numbers up (the call being streamed
 * when the event gives no index); -1 if it never started. */
static int our_index(const struct cohere_stream *st, const json_t *ev)
{
    json_t *ix = json_object_get(ev, "index");

    if (!json_is_integer(ix))
        return st->ntools - 1;
    for (int i = st->ntools - 1; i >= 0; i--)
        if (st->up_index[i] == (int)json_integer_value(ix))
            return i;
    return -1;
}

static int on_tool_start(struct pcall *pc, struct cohere_stream *st,
                         const json_t *ev)
{
    json_t *tc = json_object_get(dmsg(ev), "tool_calls");
    json_t *fn = json_object_get(tc, "function"), *delta, *ix;
    const char *args = hub_str(fn, "arguments");
    int i;

    if (st->ntools >= MAX_TOOL_CALLS)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s sent more than %d "
                          "tool calls", pcall_name(pc), MAX_TOOL_CALLS);
    ix = json_object_get(ev, "index");
    i = st->ntools++;
    st->up_index[i] = json_is_integer(ix) ? (int)json_integer_value(ix) : i;
    delta = common_tool_delta_start(i, hub_str(tc, "id"),
                                    hub_str(fn, "name"));
    if (delta && args && *args)
        json_object_set_new(json_object_get(json_array_get(
            json_object_get(delta, "tool_calls"), 0), "function"),
            "arguments", json_string(args));
    return emit(pc, st, delta, NULL);
}

static int on_tool_delta(struct pcall *pc, struct cohere_stream *st,
                         const json_t *ev)
{
    json_t *fn = json_object_get(json_object_get(dmsg(ev), "tool_calls"),
                                 "function");
    json_t *args = json_object_get(fn, "arguments");
    int i = our_index(st, ev);

    if (i < 0)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s sent tool-call-delta "
                          "for a call that never started", pcall_name(pc));
    if (!json_is_string(args) || json_string_length(args) == 0)
        return 0;
    return emit(pc, st, common_tool_delta_args(i, json_string_value(args),
                                               json_string_length(args)),
                NULL);
}

/* content-start / content-delta: text or thinking. */
static int on_content(struct pcall *pc, struct cohere_stream *st,
                      const json_t *ev)
{
    json_t *c = json_object_get(dmsg(ev), "content"), *t;

    if (json_string_length(t = json_object_get(c, "text")) > 0)
        return emit(pc, st, json_pack("{s:O}", "content", t), NULL);
    if (json_string_length(t = json_object_get(c, "thinking")) > 0)
        return emit(pc, st, json_pack("{s:O}", "reasoning_content", t),
                    NULL);
    return 0;
}

static int on_message_end(struct pcall *pc, struct cohere_stream *st,
                          const json_t *ev)
{
    json_t *d = json_object_get(ev, "delta"), *u;
    const char *f = hub_str(d, "finish_reason"), *err = hub_str(d, "error");
    const char *finish;
    int code;

    st->finished = 1;
    if ((u = usage_of(json_object_get(d, "usage"))) != NULL)
        pcall_set_usage(pc, u);
    finish = map_finish(f, &code);
    if (finish == NULL)
        return finish_failed(pc, code, f, err);
    if (err && *err)
        return finish_failed(pc, LLMUX_EUNAVAIL, f ? f : "?", err);
    return emit(pc, st, json_object(), finish);
}

/* An error event in the stream (not documented for v2; seen as a "type":
 * "error" payload or an SSE event named error): infer the kind from its
 * words. */
static int on_error_event(struct pcall *pc, const json_t *ev)
{
    const char *m = hub_str(ev, "message");
    json_t *e = json_object_get(ev, "error");
    long st = 500;

    if (m == NULL)
        m = json_is_string(e) ? json_string_value(e) : hub_str(e, "message");
    if (m == NULL)
        m = "an error event without a message";
    if (strcasestr(m, "rate limit") || strcasestr(m, "too many requests"))
        st = 429;
    else if (provider_code_for(400, m) != LLMUX_EBADREQ)
        st = 400;     /* context window or content policy wording */
    return pcall_fail(pc, provider_code_for(st, m), 200, "%s: %s",
                      pcall_name(pc), m);
}

static int on_event(void *ud, const struct sse_event *ev)
{
    struct pcall *pc = ud;
    struct cohere_stream *st = pc->state;
    const char *type;
    json_t *j;
    int r = 0;

    if (st->finished ||
        (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0))
        return 0;
    if ((r = common_parse_event(pc, ev, &j)) < 0 || j == NULL)
        return r;
    if ((type = hub_str(j, "type")) == NULL)
        type = ev->event;      /* the SSE event name says the same */
    if (strcmp(type, "message-start") == 0) {
        if (!st->h.sid.ready)
            common_stream_id_init(&st->h.sid, pc, hub_str(j, "id"), NULL);
        if (!st->h.sid.role_sent)
            r = emit(pc, st, json_pack("{s:s}", "content", ""), NULL);
    } else if (strcmp(type, "content-start") == 0 ||
               strcmp(type, "content-delta") == 0) {
        r = on_content(pc, st, j);
    } else if (strcmp(type, "tool-plan-delta") == 0) {
        json_t *t = json_object_get(dmsg(j), "tool_plan");

        if (json_string_length(t) > 0)
            r = emit(pc, st, json_pack("{s:O}", "content", t), NULL);
    } else if (strcmp(type, "tool-call-start") == 0) {
        r = on_tool_start(pc, st, j);
    } else if (strcmp(type, "tool-call-delta") == 0) {
        r = on_tool_delta(pc, st, j);
    } else if (strcmp(type, "message-end") == 0) {
        r = on_message_end(pc, st, j);
    } else if (strcmp(type, "error") == 0) {
        r = on_error_event(pc, j);
    }
    /* content-end, tool-call-end, citation-*, debug and anything new:
     * nothing to say in OpenAI's terms. */
    json_decref(j);
    return r;
}

static int cohere_stream_feed(struct pcall *pc, const char *p, size_t n)
{
    return common_sse_feed(pc, sizeof(struct cohere_stream), p, n,
                           on_event);
}

static int cohere_stream_end(struct pcall *pc)
{
    struct cohere_stream *st;
    int r;

    if ((r = common_sse_end(pc, sizeof(*st), on_event)) < 0)
        return r;
    st = pc->state;
    if (!st->finished)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s's stream ended "
                          "before message-end (truncated)", pcall_name(pc));
    return 0;
}

/* ---- errors ------------------------------------------------------------- */

/* Cohere's error bodies are {"id": …, "message": …}; proxies in front of
 * it may answer OpenAI-style {"error": …} or plain text, which
 * provider_error_text reads too. */
static int cohere_map_error(struct pcall *pc, const struct http_resp *r)
{
    char text[400];
    int code;

    provider_error_text(pc, r, text, sizeof(text));
    switch (r->status) {
    case 402: code = LLMUX_EPERMISSION; break;  /* billing limit reached */
    case 498: code = LLMUX_EPOLICY;     break;  /* blocked: usage policy */
    case 499: code = LLMUX_ECANCELLED;  break;
    case 504: code = LLMUX_ETIMEOUT;    break;
    default:  code = provider_code_for(r->status, text);
    }
    pcall_fail(pc, code, r->status, "%s: %s", pcall_name(pc), text);
    pc->err.retry_after = r->retry_after;
    if (pc->err.retry_after < 0 && code == LLMUX_ERATELIMIT)
        pc->err.retry_after = provider_retry_hint(text);
    return code;
}

const struct provider provider_cohere = {
    .name          = "cohere",
    .path          = "/v2/chat",
    .auth          = PROV_AUTH_BEARER,
    .key           = PROV_KEY_ALWAYS,
    .key_env       = "COHERE_API_KEY",
    .framing       = PROV_FRAMING_SSE,
    .content_type  = "application/json",
    .accept        = "application/json",
    .stream_accept = "text/event-stream",
    .build_body  = cohere_body,
    .parse       = cohere_parse,
    .stream_feed = cohere_stream_feed,
    .stream_end  = cohere_stream_end,
    .stream_free = common_sse_free,
    .map_error   = cohere_map_error,

    .embed_path       = "/v2/embed",
    .build_embed_body = cohere_embed_body,
    .parse_embed      = cohere_embed_parse,
};
