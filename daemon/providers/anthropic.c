/* anthropic.c -- the Anthropic Messages API dialect (POST /v1/messages).
 * Owns: hub request -> Messages request (system prompt on top, strictly
 * alternating user/assistant turns, tool_use/tool_result blocks, thinking
 * budgets, JSON mode through a forced tool), and Messages bodies and error
 * bodies back to the hub format. The stream is anthropic_stream.c's
 * (anthropic.h). */
#include "anthropic.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"
#include "sse.h"
#include "vertex.h"

#include <stdlib.h>
#include <string.h>

#define ANTHROPIC_VERSION  "2023-06-01"
#define DEFAULT_MAX_TOKENS 4096
/* JSON mode: the Messages API has no response_format, so the schema
 * becomes the input of COMMON_JSON_TOOL (see common.h). */

/* The OpenAI parameters this adapter translates (see common_check_params
 * for those every adapter accepts or ignores). "thinking" is Anthropic's
 * own, accepted as LiteLLM accepts it. */
static const char *const known_params[] = {
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop",
    "tools", "tool_choice", "parallel_tool_calls", "response_format",
    "reasoning_effort", "thinking", NULL,
};

/* ------------------------------------------------------------------------
 * Request
 */

static void copy_cache_control(json_t *block, const json_t *from)
{
    json_t *cc = json_object_get(from, "cache_control");

    if (json_is_object(cc))
        json_object_set(block, "cache_control", cc);
}

static json_t *image_block(const struct common_image *im)
{
    if (im->data == NULL)
        return json_pack("{s:s, s:{s:s, s:s}}", "type", "image", "source",
                         "type", "url", "url", im->url);
    /* A PDF sent as a data: URL is a document block, not an image. */
    if (im->mime_len == 15 && memcmp(im->mime, "application/pdf", 15) == 0)
        return json_pack("{s:s, s:{s:s, s:s%, s:s%}}", "type", "document",
                         "source", "type", "base64", "media_type",
                         im->mime, im->mime_len, "data", im->data,
                         im->data_len);
    return json_pack("{s:s, s:{s:s, s:s%, s:s%}}", "type", "image",
                     "source", "type", "base64", "media_type", im->mime,
                     im->mime_len, "data", im->data, im->data_len);
}

/* The content of a hub message as Anthropic blocks, appended to out. */
static int content_blocks(struct pcall *pc, const json_t *msg, json_t *out)
{
    json_t *c = json_object_get(msg, "content"), *part, *b;
    size_t i, before = json_array_size(out);
    struct common_image im;
    const json_t *t;
    int r;

    if (c == NULL || json_is_null(c))
        return 0;
    if (json_is_string(c)) {
        if (json_string_length(c) > 0) {
            b = json_pack("{s:s, s:O}", "type", "text", "text", c);
            if (b == NULL || json_array_append_new(out, b) < 0)
                return pcall_oom(pc);
        }
    } else if (json_is_array(c)) {
        json_array_foreach(c, i, part) {
            if ((r = common_part(pc, part, &t, &im)) < 0)
                return r;
            if (r == COMMON_PART_EMPTY)
                continue;      /* the API refuses empty text blocks */
            b = r == COMMON_PART_TEXT ?
                json_pack("{s:s, s:O}", "type", "text", "text", t) :
                image_block(&im);
            if (b == NULL)
                return pcall_oom(pc);
            copy_cache_control(b, part);
            if (json_array_append_new(out, b) < 0)
                return pcall_oom(pc);
        }
    } else {
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "message content must be a "
                          "string or an array of parts");
    }
    /* cache_control on the message marks its last block (LiteLLM). */
    if (json_array_size(out) > before)
        copy_cache_control(json_array_get(out, json_array_size(out) - 1),
                           msg);
    return 0;
}

static int assistant_blocks(struct pcall *pc, const json_t *msg, json_t *out)
{
    json_t *tb = json_object_get(msg, "thinking_blocks"), *tcs, *tc, *b;
    size_t i;
    int r;

    /* Thinking blocks given back (LiteLLM's field) lead the turn, as the
     * API wants them when thinking and tools are combined. */
    json_array_foreach(tb, i, b) {
        const char *t = hub_str(b, "type");

        if (t && (strcmp(t, "thinking") == 0 ||
                  strcmp(t, "redacted_thinking") == 0))
            json_array_append(out, b);
    }
    if ((r = content_blocks(pc, msg, out)) < 0)
        return r;
    tcs = json_object_get(msg, "tool_calls");
    json_array_foreach(tcs, i, tc) {
        json_t *fn = json_object_get(tc, "function"), *input;
        const char *id = hub_str(tc, "id"), *name = hub_str(fn, "name");

        if (id == NULL || name == NULL)
            return pcall_fail(pc, LLMUX_EBADREQ, 0, "tool_calls[%zu] needs "
                              "an id and a function.name", i);
        if ((input = common_tool_args(pc, fn, i)) == NULL)
            return pc->err.code;
        b = json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_use", "id", id,
                      "name", name, "input", input);
        if (b == NULL || json_array_append_new(out, b) < 0)
            return pcall_oom(pc);
    }
    return 0;
}

static json_t *tool_result_block(struct pcall *pc, const json_t *msg)
{
    const char *id = hub_str(msg, "tool_call_id");
    struct buf text;
    json_t *b;

    if (id == NULL) {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "a \"tool\" message needs a "
                   "tool_call_id");
        return NULL;
    }
    buf_init(&text, HTTP_MAX_BODY);
    if (common_content_text(json_object_get(msg, "content"), &text) < 0) {
        buf_free(&text);
        pcall_fail(pc, LLMUX_EBADREQ, 0, "a tool result is too large");
        return NULL;
    }
    b = json_pack("{s:s, s:s}", "type", "tool_result", "tool_use_id", id);
    /* An empty result is sent without content: empty text is refused. */
    if (b && text.len)
        json_object_set_new(b, "content", json_stringn(text.p, text.len));
    buf_free(&text);
    if (b == NULL)
        pcall_oom(pc);
    else
        copy_cache_control(b, msg);
    return b;
}

/* messages -> top-level system blocks and alternating turns. */
static int map_messages(struct pcall *pc, json_t *body)
{
    const json_t *in;
    json_t *msgs, *sys, *blocks, *m;
    const char *role;
    size_t i;
    int r = 0;

    if ((in = common_messages(pc)) == NULL)
        return pc->err.code;
    msgs = json_array();
    sys = json_array();
    if (msgs == NULL || sys == NULL) {
        r = pcall_oom(pc);
        goto out;
    }
    json_array_foreach(in, i, m) {
        role = hub_str(m, "role");
        if (role == NULL) {
            r = pcall_fail(pc, LLMUX_EBADREQ, 0, "messages[%zu] needs a "
                           "\"role\"", i);
            goto out;
        }
        if (strcmp(role, "system") == 0 || strcmp(role, "developer") == 0) {
            if ((r = content_blocks(pc, m, sys)) < 0)
                goto out;
            continue;
        }
        if ((blocks = json_array()) == NULL) {
            r = pcall_oom(pc);
            goto out;
        }
        if (strcmp(role, "user") == 0) {
            r = content_blocks(pc, m, blocks);
        } else if (strcmp(role, "assistant") == 0) {
            r = assistant_blocks(pc, m, blocks);
        } else if (strcmp(role, "tool") == 0) {
            json_t *b = tool_result_block(pc, m);

            r = b ? json_array_append_new(blocks, b) : pc->err.code;
            role = "user";   /* tool results travel in a user turn */
        } else {
            r = pcall_fail(pc, LLMUX_EBADREQ, 0, "%s does not support "
                           "messages with role \"%s\"", pcall_name(pc), role);
        }
        if (r < 0) {
            json_decref(blocks);
            goto out;
        }
        if (common_push_turn(msgs, role, blocks) < 0) {
            r = pcall_oom(pc);
            goto out;
        }
    }
    json_object_set(body, "messages", msgs);
    if (json_array_size(sys))
        json_object_set(body, "system", sys);
out:
    json_decref(msgs);
    json_decref(sys);
    return r;
}

/* tools -> Anthropic's {name, description, input_schema}; NULL with
 * pc->err set on failure. */
static json_t *map_tools(struct pcall *pc, const json_t *tools)
{
    json_t *out = json_array(), *o;
    struct common_tool t;
    size_t i;

    if (out == NULL) {
        pcall_oom(pc);
        return NULL;
    }
    for (i = 0; i < json_array_size(tools); i++) {
        if (common_tool(pc, tools, i, &t) < 0) {
            json_decref(out);
            return NULL;
        }
        o = t.parameters ?
            json_pack("{s:s, s:O}", "name", t.name, "input_schema",
                      t.parameters) :
            json_pack("{s:s, s:{s:s, s:{}}}", "name", t.name, "input_schema",
                      "type", "object", "properties");
        if (o && t.description)
            json_object_set_new(o, "description",
                                json_string(t.description));
        if (o) {
            copy_cache_control(o, t.fn);
            copy_cache_control(o, json_array_get(tools, i));
        }
        if (o == NULL || json_array_append_new(out, o) < 0) {
            json_decref(out);
            pcall_oom(pc);
            return NULL;
        }
    }
    return out;
}

static int map_tool_choice(struct pcall *pc, json_t *body)
{
    json_t *ptc = json_object_get(pc->req, "parallel_tool_calls"), *tc;
    const char *name, *c = common_tool_choice(pc->req, &name);

    if (c == NULL && json_object_get(pc->req, "tool_choice") &&
        !json_is_null(json_object_get(pc->req, "tool_choice")))
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "tool_choice must be "
                          "\"auto\", \"none\", \"required\" or a function");
    if (c == NULL)
        tc = NULL;
    else if (strcmp(c, "auto") == 0)
        tc = json_pack("{s:s}", "type", "auto");
    else if (strcmp(c, "required") == 0)
        tc = json_pack("{s:s}", "type", "any");
    else if (strcmp(c, "none") == 0)
        tc = json_pack("{s:s}", "type", "none");
    else if (strcmp(c, "function") == 0)
        tc = json_pack("{s:s, s:s}", "type", "tool", "name", name);
    else
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "unknown tool_choice \"%s\"",
                          c);
    /* parallel_tool_calls is the opposite of disable_parallel_tool_use,
     * which lives on tool_choice (and means nothing with "none"). */
    if (json_is_false(ptc) && (c == NULL || strcmp(c, "none") != 0)) {
        if (tc == NULL)
            tc = json_pack("{s:s}", "type", "auto");
        if (tc)
            json_object_set_new(tc, "disable_parallel_tool_use",
                                json_true());
    }
    if (tc)
        json_object_set_new(body, "tool_choice", tc);
    return 0;
}

/* reasoning_effort (or Anthropic's own "thinking") -> body.thinking;
 * returns the budget in tokens (0 = no thinking) or < 0. */
static json_int_t map_thinking(struct pcall *pc, json_t *body)
{
    const json_t *th;
    int budget = common_reasoning(pc, &th);

    if (budget < 0)
        return budget;
    if (th)
        json_object_set(body, "thinking", (json_t *)th);
    else if (budget > 0)
        json_object_set_new(body, "thinking", json_pack("{s:s, s:i}", "type",
                            "enabled", "budget_tokens", budget));
    return budget;
}

/* response_format -> the JSON tool, forced unless thinking is on (the API
 * refuses forced tool use with thinking; the model then picks it). */
static int map_json_mode(struct pcall *pc, json_t *body,
                         const json_t *schema, json_int_t budget)
{
    json_t *tools = json_object_get(body, "tools"), *tool;

    tool = json_pack("{s:s, s:o}", "name", COMMON_JSON_TOOL, "input_schema",
                     common_json_tool_schema(schema));
    if (tool == NULL)
        return pcall_oom(pc);
    if (tools == NULL) {
        tools = json_array();
        json_object_set_new(body, "tools", tools);
    }
    if (json_array_append_new(tools, tool) < 0)
        return pcall_oom(pc);
    if (budget <= 0)
        json_object_set_new(body, "tool_choice", json_pack("{s:s, s:s}",
                            "type", "tool", "name", COMMON_JSON_TOOL));
    return 0;
}

/* The Messages body of pc as a tree (*ret a new reference): this
 * dialect's body, and Vertex AI's (vertex.c) with its own changes. */
int anthropic_body_json(struct pcall *pc, json_t **ret)
{
    const struct deployment *d = pc->dep;
    json_t *body, *v, *tools, *stop;
    const json_t *schema, *tl;
    json_int_t max_tokens = DEFAULT_MAX_TOKENS, budget;
    int r, mode;

    *ret = NULL;
    if ((r = common_check_params(pc, known_params)) < 0)
        return r;
    if ((mode = common_response_format(pc, 0, &schema)) < 0)
        return mode;
    if ((body = json_object()) == NULL)
        return pcall_oom(pc);
    json_object_set_new(body, "model", json_string(d->upstream_model));
    if ((r = map_messages(pc, body)) < 0)
        goto fail;
    if ((budget = map_thinking(pc, body)) < 0) {
        r = (int)budget;
        goto fail;
    }
    /* max_tokens is required; thinking counts against it, so it must
     * exceed the budget. */
    v = common_max_tokens(pc->req);
    if (json_is_integer(v) && json_integer_value(v) > 0)
        max_tokens = json_integer_value(v);
    if (budget > 0 && max_tokens <= budget)
        max_tokens += budget;
    json_object_set_new(body, "max_tokens", json_integer(max_tokens));
    if ((v = json_object_get(pc->req, "temperature")) && json_is_number(v))
        json_object_set(body, "temperature", v);
    if ((v = json_object_get(pc->req, "top_p")) && json_is_number(v))
        json_object_set(body, "top_p", v);
    if ((stop = common_stop_list(pc)) == NULL) {
        r = pc->err.code;
        goto fail;
    }
    if (json_array_size(stop))
        json_object_set(body, "stop_sequences", stop);
    json_decref(stop);
    if ((r = common_tools(pc, &tl)) < 0)
        goto fail;
    if (tl) {
        if ((tools = map_tools(pc, tl)) == NULL) {
            r = pc->err.code;
            goto fail;
        }
        if (json_array_size(tools))
            json_object_set(body, "tools", tools);
        json_decref(tools);
    }
    if ((r = map_tool_choice(pc, body)) < 0)
        goto fail;
    if (mode && (r = map_json_mode(pc, body, schema, budget)) < 0)
        goto fail;
    if (pc->stream)
        json_object_set_new(body, "stream", json_true());
    *ret = body;
    return 0;
fail:
    json_decref(body);
    return r;
}

static int anthropic_body(struct pcall *pc, struct buf *out)
{
    json_t *body;
    int r = anthropic_body_json(pc, &body);

    return r < 0 ? r : common_put_json(pc, body, out);
}

/* ------------------------------------------------------------------------
 * Responses
 */

const char *anthropic_stop(const char *reason, int tools)
{
    if (reason == NULL)
        return "stop";
    if (strcmp(reason, "tool_use") == 0)
        return tools ? "tool_calls" : "stop";
    if (strcmp(reason, "max_tokens") == 0 ||
        strcmp(reason, "model_context_window_exceeded") == 0)
        return "length";
    if (strcmp(reason, "refusal") == 0)
        return "content_filter";
    return "stop";   /* end_turn, stop_sequence, pause_turn, … */
}

/* Takes the counts present in an Anthropic usage object. */
void anthropic_usage_take(struct ausage *u, const json_t *o)
{
    json_t *det;

    if (!json_is_object(o))
        return;
    u->input = common_int(o, "input_tokens", u->input);
    u->output = common_int(o, "output_tokens", u->output);
    u->cache_write = common_int(o, "cache_creation_input_tokens",
                                u->cache_write);
    if (json_is_number(json_object_get(o, "cache_read_input_tokens"))) {
        u->cache_read = common_int(o, "cache_read_input_tokens", 0);
        u->has_cache_read = 1;
    }
    det = json_object_get(o, "output_tokens_details");
    if (json_is_number(json_object_get(det, "thinking_tokens"))) {
        u->thinking = common_int(det, "thinking_tokens", 0);
        u->has_thinking = 1;
    }
}

/* input_tokens excludes both cache counters; the hub's prompt_tokens (as
 * LiteLLM counts it) is every input token, cached ones included. */
json_t *anthropic_usage_json(const struct ausage *u)
{
    return common_usage_creation(
        common_usage(u->input + u->cache_read + u->cache_write, u->output,
                     u->has_cache_read ? u->cache_read : -1,
                     u->has_thinking ? u->thinking : -1), u->cache_write);
}

static int code_for(const char *type, long status, const char *msg)
{
    if (type) {
        if (strcmp(type, "authentication_error") == 0)
            return LLMUX_EAUTH;
        if (strcmp(type, "permission_error") == 0)
            return LLMUX_EPERMISSION;
        if (strcmp(type, "not_found_error") == 0)
            return LLMUX_ENOTFOUND;
        if (strcmp(type, "rate_limit_error") == 0)
            return LLMUX_ERATELIMIT;
        if (strcmp(type, "overloaded_error") == 0 ||
            strcmp(type, "api_error") == 0)
            return LLMUX_EUNAVAIL;
        if (strcmp(type, "timeout_error") == 0)
            return LLMUX_ETIMEOUT;
        if (strcmp(type, "invalid_request_error") == 0 ||
            strcmp(type, "request_too_large") == 0) {
            if (msg && strcasestr(msg, "content filtering"))
                return LLMUX_EPOLICY;
            return provider_code_for(status == 413 ? 413 : 400, msg);
        }
    }
    if (status == 0 || status == 200)
        return LLMUX_EUNAVAIL;
    if (msg && strcasestr(msg, "content filtering"))
        return LLMUX_EPOLICY;
    return provider_code_for(status, msg ? msg : "");
}

/* An Anthropic {"type":"error","error":{type, message}} object -> pc->err
 * and its code; 0 for an error value that is not an object (for
 * provider_map_error_json). */
int anthropic_error_obj(struct pcall *pc, const json_t *err, long status)
{
    const char *type = hub_str(err, "type"), *msg = hub_str(err, "message");

    if (!json_is_object(err))
        return 0;
    return pcall_fail(pc, code_for(type, status, msg), status, "%s: %s (%s)",
                      pcall_name(pc), msg ? msg : "unknown error",
                      type ? type : "error");
}

static int anthropic_parse(struct pcall *pc, const struct http_resp *r,
                           json_t **ret)
{
    json_t *j, *content, *blk, *thinking, *msg, *u = NULL;
    struct common_answer a;
    struct common_stream_id sid;
    struct ausage us = {0};
    int json_mode = common_json_mode(pc->req), rc;
    size_t i;

    *ret = NULL;
    if ((j = common_parse_answer(pc, r, anthropic_error_obj)) == NULL)
        return pc->err.code;
    content = json_object_get(j, "content");
    if (!json_is_array(content)) {
        json_decref(j);
        return pcall_fail(pc, LLMUX_EUNAVAIL, r->status, "%s returned a "
                          "malformed response (no content array)",
                          pcall_name(pc));
    }
    common_answer_init(&a);
    thinking = json_array();
    json_array_foreach(content, i, blk) {
        const char *t = hub_str(blk, "type");

        if (t == NULL)
            continue;
        if (strcmp(t, "text") == 0) {
            common_answer_text(&a, json_object_get(blk, "text"));
        } else if (strcmp(t, "tool_use") == 0) {
            common_answer_call(&a, json_mode, hub_str(blk, "id"),
                               hub_str(blk, "name"),
                               json_object_get(blk, "input"));
        } else if (strcmp(t, "thinking") == 0) {
            json_t *v = json_object_get(blk, "thinking");

            common_answer_reasoning(&a, v);
            json_array_append_new(thinking, json_pack("{s:s, s:O?, s:O?}",
                                  "type", "thinking", "thinking", v,
                                  "signature",
                                  json_object_get(blk, "signature")));
        } else if (strcmp(t, "redacted_thinking") == 0) {
            json_array_append(thinking, blk);
        }
    }
    msg = common_answer_message(pc, &a, r->status);
    if (msg && json_array_size(thinking))
        json_object_set(msg, "thinking_blocks", thinking);
    /* No usage object: none reported (not zeros). */
    if (msg && json_is_object(json_object_get(j, "usage"))) {
        anthropic_usage_take(&us, json_object_get(j, "usage"));
        u = anthropic_usage_json(&us);
    }
    common_stream_id_init(&sid, pc, hub_str(j, "id"), hub_str(j, "model"));
    rc = msg ? common_completion(pc, &sid, msg, anthropic_stop(hub_str(j,
                                 "stop_reason"), json_array_size(a.calls) > 0),
                                 u, ret) : pc->err.code;
    common_answer_free(&a);
    json_decref(thinking);
    json_decref(j);
    return rc;
}

static int anthropic_map_error(struct pcall *pc, const struct http_resp *r)
{
    return provider_map_error_json(pc, r, anthropic_error_obj);
}

static const char *const fixed_headers[] = {
    "anthropic-version: " ANTHROPIC_VERSION, NULL,
};

/* An api_base may name the version (…/v1) or the whole endpoint
 * (…/v1/messages). */
static const char *const base_versions[] = { "v1", NULL };

const struct provider provider_anthropic = {
    .name          = "anthropic",
    .path          = "/v1/messages",
    .base_versions = base_versions,
    .auth          = PROV_AUTH_X_API_KEY,
    /* A proxy in front of Anthropic (api_base changed) may need no key. */
    .key           = PROV_KEY_DEFAULT,
    .key_env       = "ANTHROPIC_API_KEY",
    .framing       = PROV_FRAMING_SSE,
    .content_type  = "application/json",
    .stream_accept = "text/event-stream",
    .headers       = fixed_headers,
    .build_body  = anthropic_body,
    .parse       = anthropic_parse,
    .stream_feed = anthropic_stream_feed,
    .stream_end  = anthropic_stream_end,
    .stream_free = anthropic_stream_free,
    .map_error   = anthropic_map_error,
};
