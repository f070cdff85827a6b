/* bedrock_converse.c -- the Converse translation of the Bedrock dialect
 * (see bedrock.h): hub requests -> Converse bodies (messages as content
 * blocks, tools and toolChoice, JSON mode through a forced tool, thinking
 * and inferenceConfig), and Converse answers -> hub completions. */
#include "bedrock.h"
#include "common.h"
#include "config.h"
#include "hub.h"
#include "presets.h"
#include "provider.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BEDROCK_MAX_TEXT    HTTP_MAX_BODY       /* joined text of a reply */
/* Added to a thinking budget when the caller set no max_tokens, as
 * LiteLLM does: Anthropic wants max_tokens > budget_tokens. */
#define THINKING_EXTRA_TOKENS 4096

/* Keys of a hub request this adapter translates. */
const char *const bedrock_known_params[] = {
    "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
    "tools", "tool_choice", "parallel_tool_calls", "response_format",
    "reasoning_effort", "thinking", NULL,
};

static int is_anthropic(const struct deployment *d)
{
    return strstr(d->upstream_model, "anthropic") != NULL ||
           strstr(d->upstream_model, "claude") != NULL;
}

static int add_text(json_t *blocks, const char *s, size_t n)
{
    if (n == 0)             /* Converse refuses blank text blocks */
        return 0;
    return json_array_append_new(blocks, json_pack("{s:s%}", "text", s, n));
}

/* An image_url part -> {"image":{format, source:{bytes}}}. Converse takes
 * inline bytes only (an S3 location aside), so http(s) URLs are refused. */
static int add_image(struct pcall *pc, json_t *blocks,
                     const struct common_image *im)
{
    const char *fmt;

    if (im->data == NULL)
        return bedrock_bad(pc, "Converse does not fetch image URLs: send "
                           "the image inline as a data: URL "
                           "(data:image/png;base64,…)");
    if ((fmt = common_image_format(im->mime, im->mime_len)) == NULL)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "bedrock: image type "
                          "\"%.*s\" is not supported (png, jpeg, gif, webp)",
                          (int)(im->mime_len > 64 ? 64 : im->mime_len),
                          im->mime);
    if (json_array_append_new(blocks, json_pack("{s:{s:s, s:{s:s%}}}",
                              "image", "format", fmt, "source", "bytes",
                              im->data, im->data_len)) < 0)
        return pcall_oom(pc);
    return 0;
}

/* A user message's content (string or parts) -> blocks. */
static int user_blocks(struct pcall *pc, const json_t *content, json_t *out)
{
    struct common_image im;
    const json_t *t;
    json_t *part;
    size_t i;
    int r;

    if (json_is_string(content))
        return add_text(out, json_string_value(content),
                        json_string_length(content)) < 0 ? pcall_oom(pc) : 0;
    if (content == NULL || json_is_null(content))
        return 0;
    if (!json_is_array(content))
        return bedrock_bad(pc, "message content must be a string or an "
                           "array of parts");
    json_array_foreach(content, i, part) {
        if ((r = common_part(pc, part, &t, &im)) < 0)
            return r;
        if (r == COMMON_PART_IMAGE)
            r = add_image(pc, out, &im);
        else if (r == COMMON_PART_TEXT &&
                 add_text(out, json_string_value(t), json_string_length(t)))
            r = pcall_oom(pc);
        if (r < 0)
            return r;
    }
    return 0;
}

/* An assistant message's text and tool_calls -> blocks. */
static int assistant_blocks(struct pcall *pc, const json_t *m, json_t *out)
{
    json_t *calls = json_object_get(m, "tool_calls"), *c;
    struct buf text;
    size_t i;
    int r;

    buf_init(&text, BEDROCK_MAX_TEXT);
    r = common_content_text(json_object_get(m, "content"), &text);
    if (r == 0 && add_text(out, text.p ? text.p : "", text.len) < 0)
        r = -ENOMEM;
    buf_free(&text);
    if (r < 0)
        return r == LLMUX_ETOOBIG ? bedrock_bad(pc, "message too large") :
               pcall_oom(pc);
    json_array_foreach(calls, i, c) {
        json_t *fn = json_object_get(c, "function"), *input;
        const char *id = hub_str(c, "id"), *name = hub_str(fn, "name");

        if (id == NULL || name == NULL)
            return bedrock_bad(pc, "assistant tool_calls need an id and "
                               "function.name");
        if ((input = common_tool_args(pc, fn, i)) == NULL)
            return pc->err.code;
        if (json_array_append_new(out, json_pack("{s:{s:s, s:s, s:o}}",
                                  "toolUse", "toolUseId", id, "name", name,
                                  "input", input)) < 0)
            return pcall_oom(pc);
    }
    return 0;
}

/* A role "tool" message -> one toolResult block. */
static int tool_block(struct pcall *pc, const json_t *m, json_t *out)
{
    const char *id = hub_str(m, "tool_call_id");
    struct buf text;
    json_t *b;
    int r;

    if (id == NULL)
        return bedrock_bad(pc, "tool messages need a tool_call_id");
    buf_init(&text, BEDROCK_MAX_TEXT);
    if ((r = common_content_text(json_object_get(m, "content"), &text)) < 0) {
        buf_free(&text);
        return r == LLMUX_ETOOBIG ? bedrock_bad(pc, "message too large") :
               pcall_oom(pc);
    }
    b = json_pack("{s:{s:s, s:[{s:s%}]}}", "toolResult", "toolUseId", id,
                  "content", "text", text.p ? text.p : "", text.len);
    buf_free(&text);
    if (json_array_append_new(out, b) < 0)
        return pcall_oom(pc);
    return 0;
}

/* messages -> body.messages and body.system. */
static int build_messages(struct pcall *pc, json_t *body)
{
    const json_t *in = common_messages(pc);
    json_t *msgs, *sys, *m;
    size_t i;
    int r = 0;

    if (in == NULL)
        return pc->err.code;
    msgs = json_array();
    sys = json_array();
    json_array_foreach(in, i, m) {
        const char *role = hub_str(m, "role");
        json_t *blocks = json_array();

        if (role == NULL) {
            r = bedrock_bad(pc, "every message needs a role");
        } else if (strcmp(role, "system") == 0 ||
                   strcmp(role, "developer") == 0) {
            struct buf t;

            buf_init(&t, BEDROCK_MAX_TEXT);
            r = common_content_text(json_object_get(m, "content"), &t);
            if (r == 0 && add_text(sys, t.p ? t.p : "", t.len) < 0)
                r = -ENOMEM;
            buf_free(&t);
            if (r < 0)
                r = r == LLMUX_ETOOBIG ? bedrock_bad(pc, "message too large")
                                       : pcall_oom(pc);
        } else if (strcmp(role, "user") == 0) {
            if ((r = user_blocks(pc, json_object_get(m, "content"),
                                 blocks)) == 0)
                r = common_push_turn(msgs, "user", json_incref(blocks));
        } else if (strcmp(role, "assistant") == 0) {
            if ((r = assistant_blocks(pc, m, blocks)) == 0)
                r = common_push_turn(msgs, "assistant", json_incref(blocks));
        } else if (strcmp(role, "tool") == 0) {
            /* Tool results travel in a user turn, merged with their
             * neighbours. */
            if ((r = tool_block(pc, m, blocks)) == 0)
                r = common_push_turn(msgs, "user", json_incref(blocks));
        } else {
            r = pcall_fail(pc, LLMUX_EBADREQ, 0, "bedrock: role \"%.32s\" "
                           "is not supported", role);
        }
        json_decref(blocks);
        if (r == -ENOMEM)
            r = pcall_oom(pc);
        if (r < 0)
            break;
    }
    if (r == 0) {
        json_object_set(body, "messages", msgs);
        if (json_array_size(sys) > 0)
            json_object_set(body, "system", sys);
    }
    json_decref(msgs);
    json_decref(sys);
    return r;
}

/* response_format -> 1 with *ret_tool set to the forced JSON tool, 0 when
 * absent or "text", < 0 on error. A json_schema without its schema asks
 * for any object, as json_object does. */
static int json_format(struct pcall *pc, json_t **ret_tool)
{
    const json_t *schema;
    int mode = common_response_format(pc, 1, &schema);

    *ret_tool = NULL;
    if (mode <= 0)
        return mode;
    *ret_tool = json_pack("{s:{s:s, s:s*, s:{s:o}}}", "toolSpec", "name",
                          COMMON_JSON_TOOL, "description", hub_str(
                          json_object_get(json_object_get(pc->req,
                          "response_format"), "json_schema"), "description"),
                          "inputSchema", "json",
                          common_json_tool_schema(schema));
    return *ret_tool ? 1 : pcall_oom(pc);
}

/* Whether body.messages holds toolUse or toolResult blocks. */
static int has_tool_blocks(const json_t *body)
{
    json_t *m, *b;
    size_t i, k;

    json_array_foreach(json_object_get(body, "messages"), i, m)
        json_array_foreach(json_object_get(m, "content"), k, b)
            if (json_object_get(b, "toolUse") ||
                json_object_get(b, "toolResult"))
                return 1;
    return 0;
}

/* tools, tool_choice and response_format -> body.toolConfig. */
static int build_tools(struct pcall *pc, json_t *body, int thinking)
{
    const json_t *tools;
    json_t *specs, *jt, *params, *choice = NULL;
    struct common_tool t;
    const char *tc, *name;
    size_t i;
    int r;

    if ((r = common_tools(pc, &tools)) < 0 || (r = json_format(pc, &jt)) < 0)
        return r;
    r = 0;
    specs = json_array();
    for (i = 0; i < json_array_size(tools); i++) {
        if ((r = common_tool(pc, tools, i, &t)) < 0) {
            json_decref(specs);
            json_decref(jt);
            return r;
        }
        params = t.parameters ? json_incref((json_t *)t.parameters) :
                 json_pack("{s:s, s:{}}", "type", "object", "properties");
        json_array_append_new(specs, json_pack("{s:{s:s, s:s*, s:{s:o}}}",
                              "toolSpec", "name", t.name, "description",
                              t.description, "inputSchema", "json",
                              params));
    }
    if (jt) {
        json_array_append_new(specs, jt);
        /* Forced tool use and extended thinking do not go together on
         * Anthropic models; with thinking the model picks the tool. */
        if (!thinking)
            choice = json_pack("{s:{s:s}}", "tool", "name", COMMON_JSON_TOOL);
    } else if (json_array_size(specs) > 0 &&
               (tc = common_tool_choice(pc->req, &name)) != NULL) {
        if (strcmp(tc, "auto") == 0)
            choice = json_pack("{s:{}}", "auto");
        else if (strcmp(tc, "required") == 0)
            choice = json_pack("{s:{}}", "any");
        else if (strcmp(tc, "function") == 0)
            choice = json_pack("{s:{s:s}}", "tool", "name", name);
        else if (strcmp(tc, "none") == 0 && !has_tool_blocks(body))
            /* Converse's ToolChoice is auto | any | tool, no "none": with
             * no tools declared the model cannot call one. */
            json_array_clear(specs);
        else if (strcmp(tc, "none") == 0)
            /* ... but tool blocks in the history need the toolConfig. */
            r = common_unsupported(pc, "tool_choice");
        else
            r = bedrock_bad(pc, "tool_choice must be auto, none, required "
                            "or {\"type\":\"function\",…}");
    }
    if (r == 0 && json_array_size(specs) > 0) {
        json_t *cfg = json_pack("{s:O}", "tools", specs);

        if (choice)
            json_object_set(cfg, "toolChoice", choice);
        json_object_set_new(body, "toolConfig", cfg);
    }
    json_decref(choice);
    json_decref(specs);
    return r;
}

/* reasoning_effort / thinking -> additionalModelRequestFields.thinking
 * (Anthropic models only). Returns the budget (0: none) or < 0. */
static int build_thinking(struct pcall *pc, json_t *extra)
{
    const json_t *th;
    int budget = common_reasoning(pc, &th), r;

    if (budget < 0)
        return budget;
    if ((budget > 0 || th) && !is_anthropic(pc->dep)) {
        if ((r = common_unsupported(pc, th ? "thinking" :
                                    "reasoning_effort")) < 0)
            return r;
        return 0;
    }
    if (th)
        json_object_set(extra, "thinking", (json_t *)th);
    else if (budget > 0)
        json_object_set_new(extra, "thinking", json_pack("{s:s, s:i}",
                            "type", "enabled", "budget_tokens", budget));
    return budget;
}

/* max_tokens, temperature, top_p, stop -> body.inferenceConfig. */
static int build_inference(struct pcall *pc, json_t *body, int budget)
{
    json_t *cfg = json_object(), *v, *stop, *seqs;
    size_t i;

    v = json_object_get(pc->req, "max_completion_tokens");
    if (v == NULL || json_is_null(v))
        v = json_object_get(pc->req, "max_tokens");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 1) {
            json_decref(cfg);
            return bedrock_bad(pc, "max_tokens must be a positive integer");
        }
        json_object_set(cfg, "maxTokens", v);
    } else if (budget > 0) {
        json_object_set_new(cfg, "maxTokens",
                            json_integer(budget + THINKING_EXTRA_TOKENS));
    }
    v = json_object_get(pc->req, "temperature");
    if (json_is_number(v)) {
        json_object_set(cfg, "temperature", v);
    } else if (v && !json_is_null(v)) {
        json_decref(cfg);
        return bedrock_bad(pc, "temperature must be a number");
    }
    v = json_object_get(pc->req, "top_p");
    if (json_is_number(v)) {
        json_object_set(cfg, "topP", v);
    } else if (v && !json_is_null(v)) {
        json_decref(cfg);
        return bedrock_bad(pc, "top_p must be a number");
    }
    if ((stop = common_stop_list(pc)) == NULL) {
        json_decref(cfg);
        return pc->err.code;
    }
    seqs = json_array();
    json_array_foreach(stop, i, v)
        if (json_string_length(v) > 0)   /* Converse refuses "" */
            json_array_append(seqs, v);
    json_decref(stop);
    if (json_array_size(seqs) > 0)
        json_object_set(cfg, "stopSequences", seqs);
    json_decref(seqs);
    if (json_object_size(cfg) > 0)
        json_object_set(body, "inferenceConfig", cfg);
    json_decref(cfg);
    return 0;
}

/* The Converse body for pc->req, as a new object, or NULL (pc->err set). */
json_t *bedrock_converse_body(struct pcall *pc)
{
    json_t *body = json_object(), *extra = json_object(), *ptc;
    int budget = 0, r;

    if (body == NULL || extra == NULL) {
        json_decref(body);
        json_decref(extra);
        pcall_oom(pc);
        return NULL;
    }
    r = build_messages(pc, body);
    if (r == 0 && (budget = build_thinking(pc, extra)) < 0)
        r = budget;
    if (r == 0)
        r = build_inference(pc, body, budget);
    if (r == 0)
        r = build_tools(pc, body, budget > 0);
    /* Converse has no switch for parallel tool calls. */
    ptc = json_object_get(pc->req, "parallel_tool_calls");
    if (r == 0 && json_is_false(ptc))
        r = common_unsupported(pc, "parallel_tool_calls");
    if (r == 0 && json_object_size(extra) > 0)
        json_object_set(body, "additionalModelRequestFields", extra);
    json_decref(extra);
    if (r < 0) {
        json_decref(body);
        return NULL;
    }
    return body;
}

/* Converse's stopReason -> OpenAI's finish_reason. */
const char *bedrock_finish(const char *stop)
{
    static const char *const map[][2] = {
        { "end_turn", "stop" }, { "stop_sequence", "stop" },
        { "max_tokens", "length" },
        { "model_context_window_exceeded", "length" },
        { "tool_use", "tool_calls" },
        { "guardrail_intervened", "content_filter" },
        { "content_filtered", "content_filter" },
    };

    for (size_t i = 0; stop && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(stop, map[i][0]) == 0)
            return map[i][1];
    return "stop";
}

/* Converse usage -> OpenAI usage (new reference), or NULL. inputTokens
 * leaves out cache reads and writes; prompt_tokens counts them, as
 * LiteLLM does. */
json_t *bedrock_usage(const json_t *u)
{
    json_int_t in = common_int(u, "inputTokens", -1);
    json_int_t out = common_int(u, "outputTokens", -1);
    json_int_t cr = common_int(u, "cacheReadInputTokens", -1);
    json_int_t cw = common_int(u, "cacheWriteInputTokens", 0);

    if (in < 0 || out < 0)
        return NULL;
    return common_usage_creation(
        common_usage(in + (cr > 0 ? cr : 0) + (cw > 0 ? cw : 0), out, cr, -1),
        cw);
}

int bedrock_parse(struct pcall *pc, const struct http_resp *r,
                         json_t **ret)
{
    json_t *j = common_parse_json(pc, r->body, r->len, "response");
    json_t *content, *b, *msg, *u;
    struct common_stream_id sid;
    struct common_answer a;
    const char *finish;
    size_t i;

    *ret = NULL;
    if (j == NULL)
        return pc->err.code;
    content = json_object_get(json_object_get(json_object_get(j, "output"),
                                              "message"), "content");
    if (!json_is_array(content)) {
        json_decref(j);
        return pcall_fail(pc, LLMUX_EUNAVAIL, r->status, "bedrock returned "
                          "a malformed response (no output.message."
                          "content)");
    }
    common_answer_init(&a);
    json_array_foreach(content, i, b) {
        json_t *tu = json_object_get(b, "toolUse");

        common_answer_text(&a, json_object_get(b, "text"));
        common_answer_reasoning(&a, json_object_get(json_object_get(
            json_object_get(b, "reasoningContent"), "reasoningText"),
            "text"));
        if (json_is_object(tu))
            common_answer_call(&a, common_json_mode(pc->req),
                               hub_str(tu, "toolUseId"), hub_str(tu, "name"),
                               json_object_get(tu, "input"));
    }
    msg = common_answer_message(pc, &a, r->status);
    finish = bedrock_finish(hub_str(j, "stopReason"));
    if (a.njson && json_array_size(a.calls) == 0 &&
        strcmp(finish, "tool_calls") == 0)
        finish = "stop";        /* the forced JSON tool is the answer */
    common_answer_free(&a);
    u = msg ? bedrock_usage(json_object_get(j, "usage")) : NULL;
    json_decref(j);
    common_stream_id_init(&sid, pc, NULL, NULL);
    return msg ? common_completion(pc, &sid, msg, finish, u, ret) :
           pc->err.code;
}
