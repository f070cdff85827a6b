/* gemini.c -- the Google AI Studio Gemini dialect
 * (POST /v1beta/models/{model}:generateContent, :streamGenerateContent).
 * Owns: hub request -> GenerateContentRequest (systemInstruction, merged
 * user/model contents, functionCall/functionResponse parts, generationConfig
 * with JSON mode and thinking), and GenerateContentResponse bodies, SSE
 * streams and google.rpc error bodies back to the hub format.
 * The key travels in x-goog-api-key, never in the URL. */
#include "common.h"
#include "config.h"
#include "hub.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"
#include "sse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Gemini 3 wants each functionCall it produced handed back with its
 * thoughtSignature; the hub format cannot carry it, so replayed calls get
 * the placeholder Google documents for history it did not sign. */
#define SKIP_SIGNATURE "skip_thought_signature_validator"

static const char *const known_params[] = {
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop",
    "tools", "tool_choice", "parallel_tool_calls", "response_format",
    "reasoning_effort", "thinking", "seed", "presence_penalty",
    "frequency_penalty", NULL,
};

struct gstream {
    struct common_sse_stream h;          /* first: see common.h */
    int                     ntools;     /* function calls emitted */
    int                     finished;   /* finish chunk emitted */
};

/* ------------------------------------------------------------------------
 * Request
 */

/* gemini-3 and later sign their function calls. */
static int signs_calls(const char *model)
{
    const char *p = model ? strstr(model, "gemini-") : NULL;

    return p && isdigit((unsigned char)p[7]) && strtol(p + 7, NULL, 10) >= 3;
}

/* Appends part (stolen) to the last content when it has role, else to a
 * new content: Gemini wants user and model turns to alternate. */
static int push_part(json_t *contents, const char *role, json_t *part)
{
    size_t n = json_array_size(contents);
    json_t *last = n ? json_array_get(contents, n - 1) : NULL;

    if (part == NULL)
        return -ENOMEM;
    if (last && strcmp(hub_str(last, "role"), role) == 0)
        return json_array_append_new(json_object_get(last, "parts"), part) < 0
               ? -ENOMEM : 0;
    return json_array_append_new(contents, json_pack("{s:s, s:[o]}", "role",
                                 role, "parts", part)) < 0 ? -ENOMEM : 0;
}

/* data: URLs become inlineData; http(s) URLs become fileData, which the
 * API fetches itself (public and signed URLs are accepted there). */
static json_t *image_part(const struct common_image *im)
{
    const char *mime;

    if (im->data)
        return json_pack("{s:{s:s%, s:s%}}", "inlineData", "mimeType",
                         im->mime, im->mime_len, "data", im->data,
                         im->data_len);
    mime = common_mime_from_url(im->url);
    return mime ? json_pack("{s:{s:s, s:s}}", "fileData", "mimeType", mime,
                            "fileUri", im->url)
                : json_pack("{s:{s:s}}", "fileData", "fileUri", im->url);
}

/* The content of a hub message as parts of role, pushed onto contents. */
static int content_parts(struct pcall *pc, const json_t *msg,
                         json_t *contents, const char *role)
{
    json_t *c = json_object_get(msg, "content"), *part, *p;
    struct common_image im;
    const json_t *t;
    size_t i;
    int r;

    if (c == NULL || json_is_null(c))
        return 0;
    if (json_is_string(c)) {
        if (json_string_length(c) == 0)
            return 0;
        return push_part(contents, role, json_pack("{s:O}", "text", c)) < 0 ?
               pcall_oom(pc) : 0;
    }
    if (!json_is_array(c))
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "message content must be a "
                          "string or an array of parts");
    json_array_foreach(c, i, part) {
        if ((r = common_part(pc, part, &t, &im)) < 0)
            return r;
        if (r == COMMON_PART_EMPTY)
            continue;
        p = r == COMMON_PART_TEXT ? json_pack("{s:O}", "text", t) :
            image_part(&im);
        if (push_part(contents, role, p) < 0)
            return pcall_oom(pc);
    }
    return 0;
}

/* An assistant turn: its text, then one functionCall part per tool call.
 * names maps each tool_call_id to its function for the results. */
static int model_parts(struct pcall *pc, const json_t *msg, json_t *contents,
                       json_t *names)
{
    json_t *tcs = json_object_get(msg, "tool_calls"), *tc, *part, *args;
    int sign = signs_calls(pc->dep->upstream_model), r;
    size_t i;

    if ((r = content_parts(pc, msg, contents, "model")) < 0)
        return r;
    json_array_foreach(tcs, i, tc) {
        json_t *fn = json_object_get(tc, "function");
        const char *id = hub_str(tc, "id"), *name = hub_str(fn, "name");

        if (name == NULL)
            return pcall_fail(pc, LLMUX_EBADREQ, 0, "tool_calls[%zu] needs a "
                              "function.name", i);
        if ((args = common_tool_args(pc, fn, i)) == NULL)
            return pc->err.code;
        part = json_pack("{s:{s:s, s:o}}", "functionCall", "name", name,
                         "args", args);
        /* Only the first call of a turn carries a signature. */
        if (part && sign && i == 0)
            json_object_set_new(part, "thoughtSignature",
                                json_string(SKIP_SIGNATURE));
        if (push_part(contents, "model", part) < 0)
            return pcall_oom(pc);
        if (id)
            json_object_set_new(names, id, json_string(name));
    }
    return 0;
}

/* A tool result as a functionResponse part; response must be an object,
 * so anything else is wrapped as {"content": …}. */
static int tool_part(struct pcall *pc, const json_t *msg, json_t *contents,
                     const json_t *names)
{
    const char *id = hub_str(msg, "tool_call_id");
    const char *name = id ? hub_str(names, id) : NULL;
    json_t *resp;
    struct buf text;

    if (name == NULL)
        name = hub_str(msg, "name");
    if (name == NULL)
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "a \"tool\" message needs a "
                          "tool_call_id that matches an earlier assistant "
                          "tool call");
    buf_init(&text, HTTP_MAX_BODY);
    if (common_content_text(json_object_get(msg, "content"), &text) < 0) {
        buf_free(&text);
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "a tool result is too large");
    }
    resp = text.len ? json_loadb(text.p, text.len, 0, NULL) : NULL;
    if (!json_is_object(resp)) {
        json_decref(resp);
        resp = json_pack("{s:s%}", "content", text.p ? text.p : "",
                         text.len);
    }
    buf_free(&text);
    if (resp == NULL)
        return pcall_oom(pc);
    return push_part(contents, "user", json_pack("{s:{s:s, s:o}}",
                     "functionResponse", "name", name, "response", resp)) < 0
           ? pcall_oom(pc) : 0;
}

static int map_messages(struct pcall *pc, json_t *body)
{
    const json_t *in;
    json_t *contents, *sys, *names, *m;
    const char *role;
    size_t i;
    int r = 0;

    if ((in = common_messages(pc)) == NULL)
        return pc->err.code;
    contents = json_array();
    sys = json_array();
    names = json_object();
    if (contents == NULL || sys == NULL || names == NULL) {
        r = pcall_oom(pc);
        goto out;
    }
    json_array_foreach(in, i, m) {
        role = hub_str(m, "role");
        if (role == NULL)
            r = pcall_fail(pc, LLMUX_EBADREQ, 0, "messages[%zu] needs a "
                           "\"role\"", i);
        else if (strcmp(role, "system") == 0 ||
                 strcmp(role, "developer") == 0)
            r = content_parts(pc, m, sys, "system");
        else if (strcmp(role, "user") == 0)
            r = content_parts(pc, m, contents, "user");
        else if (strcmp(role, "assistant") == 0)
            r = model_parts(pc, m, contents, names);
        else if (strcmp(role, "tool") == 0)
            r = tool_part(pc, m, contents, names);
        else
            r = pcall_fail(pc, LLMUX_EBADREQ, 0, "%s does not support "
                           "messages with role \"%s\"", pcall_name(pc), role);
        if (r < 0)
            goto out;
    }
    json_object_set(body, "contents", contents);
    /* All system text lands in the one systemInstruction. */
    if (json_array_size(sys))
        json_object_set_new(body, "systemInstruction", json_pack("{s:O}",
                            "parts", json_object_get(json_array_get(sys, 0),
                                                     "parts")));
out:
    json_decref(contents);
    json_decref(sys);
    json_decref(names);
    return r;
}

/* OpenAI tools -> one Tool with functionDeclarations. The schema goes in
 * parametersJsonSchema, which takes JSON Schema as OpenAI callers write it
 * ("parameters" takes an OpenAPI subset that refuses additionalProperties,
 * $schema, …). */
static int map_tools(struct pcall *pc, json_t *body)
{
    const json_t *tools;
    struct common_tool t;
    json_t *decls, *d;
    size_t i;
    int r;

    if ((r = common_tools(pc, &tools)) < 0)
        return r;
    if (json_array_size(tools) == 0)
        return 0;
    if ((decls = json_array()) == NULL)
        return pcall_oom(pc);
    for (i = 0; i < json_array_size(tools); i++) {
        if ((r = common_tool(pc, tools, i, &t)) < 0) {
            json_decref(decls);
            return r;
        }
        d = json_pack("{s:s}", "name", t.name);
        if (d && t.description)
            json_object_set_new(d, "description",
                                json_string(t.description));
        if (d && t.parameters)
            json_object_set(d, "parametersJsonSchema",
                            (json_t *)t.parameters);
        if (d == NULL || json_array_append_new(decls, d) < 0) {
            json_decref(decls);
            return pcall_oom(pc);
        }
    }
    json_object_set_new(body, "tools", json_pack("[{s:o}]",
                        "functionDeclarations", decls));
    return 0;
}

static int map_tool_choice(struct pcall *pc, json_t *body)
{
    json_t *tc = json_object_get(pc->req, "tool_choice"), *cfg;
    const char *name, *c = common_tool_choice(pc->req, &name);

    if (c == NULL) {
        if (tc && !json_is_null(tc))
            return pcall_fail(pc, LLMUX_EBADREQ, 0, "tool_choice must be "
                              "\"auto\", \"none\", \"required\" or a "
                              "function");
        return 0;
    }
    if (strcmp(c, "auto") == 0)
        cfg = json_pack("{s:s}", "mode", "AUTO");
    else if (strcmp(c, "required") == 0)
        cfg = json_pack("{s:s}", "mode", "ANY");
    else if (strcmp(c, "none") == 0)
        cfg = json_pack("{s:s}", "mode", "NONE");
    else if (strcmp(c, "function") == 0)
        cfg = json_pack("{s:s, s:[s]}", "mode", "ANY",
                        "allowedFunctionNames", name);
    else
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "unknown tool_choice \"%s\"",
                          c);
    json_object_set_new(body, "toolConfig", json_pack("{s:o}",
                        "functionCallingConfig", cfg));
    return 0;
}

/* reasoning_effort / thinking -> generationConfig.thinkingConfig. */
static int map_thinking(struct pcall *pc, json_t *gc)
{
    const json_t *th;
    const char *effort = hub_str(pc->req, "reasoning_effort");
    int budget = common_reasoning(pc, &th);
    json_int_t b;

    if (budget < 0)
        return budget;
    if (th) {
        if (strcmp(hub_str(th, "type") ? hub_str(th, "type") : "",
                   "enabled") != 0)
            b = 0;
        else
            b = common_int(th, "budget_tokens", -1);
        json_object_set_new(gc, "thinkingConfig", b == 0 ?
                            json_pack("{s:i}", "thinkingBudget", 0) :
                            json_pack("{s:I, s:b}", "thinkingBudget", b,
                                      "includeThoughts", 1));
        return 0;
    }
    if (budget > 0)
        json_object_set_new(gc, "thinkingConfig", json_pack("{s:i, s:b}",
                            "thinkingBudget", budget, "includeThoughts", 1));
    else if (effort && strcmp(effort, "none") == 0)
        json_object_set_new(gc, "thinkingConfig", json_pack("{s:i}",
                            "thinkingBudget", 0));
    return 0;
}

/* response_format -> responseMimeType (+ responseJsonSchema, which takes
 * the caller's JSON Schema as it is; responseSchema would want Google's
 * OpenAPI subset). */
static int map_json_mode(struct pcall *pc, json_t *gc)
{
    const json_t *schema;
    int mode = common_response_format(pc, 0, &schema);

    if (mode <= 0)
        return mode;
    json_object_set_new(gc, "responseMimeType",
                        json_string("application/json"));
    if (schema)
        json_object_set(gc, "responseJsonSchema", (json_t *)schema);
    return 0;
}

static int map_generation(struct pcall *pc, json_t *body)
{
    static const struct { const char *from, *to; } nums[] = {
        { "temperature", "temperature" }, { "top_p", "topP" },
        { "presence_penalty", "presencePenalty" },
        { "frequency_penalty", "frequencyPenalty" },
    };
    json_t *gc = json_object(), *v, *stop;
    int r;

    if (gc == NULL)
        return pcall_oom(pc);
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (json_is_number(v = json_object_get(pc->req, nums[i].from)))
            json_object_set(gc, nums[i].to, v);
    if (json_is_integer(v = json_object_get(pc->req, "seed")))
        json_object_set(gc, "seed", v);
    if (json_is_integer(v = common_max_tokens(pc->req)))
        json_object_set(gc, "maxOutputTokens", v);
    if ((stop = common_stop_list(pc)) == NULL) {
        json_decref(gc);
        return pc->err.code;
    }
    if (json_array_size(stop))
        json_object_set(gc, "stopSequences", stop);
    json_decref(stop);
    if ((r = map_json_mode(pc, gc)) < 0 || (r = map_thinking(pc, gc)) < 0) {
        json_decref(gc);
        return r;
    }
    if (json_object_size(gc))
        json_object_set(body, "generationConfig", gc);
    json_decref(gc);
    return 0;
}

static int gemini_body(struct pcall *pc, struct buf *out)
{
    json_t *body;
    int r;

    if ((r = common_check_params(pc, known_params)) < 0)
        return r;
    if (json_is_false(json_object_get(pc->req, "parallel_tool_calls")) &&
        (r = common_unsupported(pc, "parallel_tool_calls")) < 0)
        return r;
    if ((body = json_object()) == NULL)
        return pcall_oom(pc);
    if ((r = map_messages(pc, body)) < 0 || (r = map_tools(pc, body)) < 0 ||
        (r = map_tool_choice(pc, body)) < 0 ||
        (r = map_generation(pc, body)) < 0) {
        json_decref(body);
        return r;
    }
    return common_put_json(pc, body, out);
}

/* ------------------------------------------------------------------------
 * Responses and errors
 */

/* "13s" / "34.4s" (a google.protobuf.Duration) -> seconds, < 0 if none. */
static double parse_duration(const char *s)
{
    char *end;
    double v;

    if (s == NULL)
        return -1;
    v = strtod(s, &end);
    if (end == s || strcmp(end, "s") != 0 || v < 0 || v > 86400.0 * 7)
        return -1;
    return v;
}

/* A google.rpc.Status ({code, message, status, details}) -> pc->err and
 * its code; 0 for an error value that is not an object (for
 * provider_map_error_json). */
static int rpc_error(struct pcall *pc, const json_t *e, long http_status)
{
    const char *msg = hub_str(e, "message"), *status = hub_str(e, "status");
    long st = http_status && http_status != 200 ? http_status :
              (long)common_int(e, "code", 500);
    json_t *det;
    const char *reason = NULL;
    double delay = -1;
    size_t i;
    int code;

    if (!json_is_object(e))
        return 0;
    json_array_foreach(json_object_get(e, "details"), i, det) {
        const char *t = hub_str(det, "@type");

        if (t && strstr(t, "google.rpc.ErrorInfo") && hub_str(det, "reason"))
            reason = hub_str(det, "reason");
        if (t && strstr(t, "google.rpc.RetryInfo"))
            delay = parse_duration(hub_str(det, "retryDelay"));
    }
    if (reason && strstr(reason, "API_KEY"))
        code = LLMUX_EAUTH;
    else if (status && strcmp(status, "UNAUTHENTICATED") == 0)
        code = LLMUX_EAUTH;
    else if (status && strcmp(status, "PERMISSION_DENIED") == 0)
        code = LLMUX_EPERMISSION;
    else if (status && strcmp(status, "NOT_FOUND") == 0)
        code = LLMUX_ENOTFOUND;
    else if (status && strcmp(status, "RESOURCE_EXHAUSTED") == 0)
        code = LLMUX_ERATELIMIT;
    else if (status && strcmp(status, "DEADLINE_EXCEEDED") == 0)
        code = LLMUX_ETIMEOUT;
    else if (status && (strcmp(status, "UNAVAILABLE") == 0 ||
                        strcmp(status, "INTERNAL") == 0))
        code = LLMUX_EUNAVAIL;
    else if (status && (strcmp(status, "INVALID_ARGUMENT") == 0 ||
                        strcmp(status, "FAILED_PRECONDITION") == 0 ||
                        strcmp(status, "OUT_OF_RANGE") == 0))
        code = provider_code_for(400, msg);
    else
        code = provider_code_for(st, msg ? msg : "");
    /* Only the message: details may echo the key (DebugInfo does). */
    pcall_fail(pc, code, http_status, "%s: %s%s%s%s", pcall_name(pc),
               msg ? msg : "unknown error", status ? " (" : "",
               status ? status : "", status ? ")" : "");
    pc->err.retry_after = delay;
    return code;
}

static int blocked(struct pcall *pc, const json_t *j, long status)
{
    const char *why = hub_str(json_object_get(j, "promptFeedback"),
                              "blockReason");

    return pcall_fail(pc, LLMUX_EPOLICY, status, "%s blocked the prompt "
                      "(promptFeedback.blockReason %s)", pcall_name(pc),
                      why ? why : "?");
}

static const char *map_finish(const char *r, int tools)
{
    static const char *const filtered[] = {
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
        "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
    };

    if (r == NULL)
        return NULL;
    if (strcmp(r, "MAX_TOKENS") == 0)
        return "length";
    for (size_t i = 0; i < sizeof(filtered) / sizeof(filtered[0]); i++)
        if (strcmp(r, filtered[i]) == 0)
            return "content_filter";
    return tools ? "tool_calls" : "stop";   /* STOP, OTHER, … */
}

/* candidatesTokenCount leaves out thoughtsTokenCount; completion_tokens
 * (as LiteLLM counts) holds both, unless the candidates count already
 * does (prompt + candidates == total). */
static json_t *usage_json(const json_t *um)
{
    json_int_t prompt = common_int(um, "promptTokenCount", 0);
    json_int_t cand = common_int(um, "candidatesTokenCount", 0);
    json_int_t thoughts = common_int(um, "thoughtsTokenCount", -1);
    json_int_t total = common_int(um, "totalTokenCount", -1);
    json_int_t completion = cand;

    if (thoughts > 0 && prompt + cand != total)
        completion += thoughts;
    return common_usage(prompt, completion,
                        common_int(um, "cachedContentTokenCount", -1),
                        thoughts);
}

static void tool_id(const struct pcall *pc, const json_t *call, int index,
                    char *buf, size_t len)
{
    const char *id = hub_str(call, "id");

    if (id && *id)
        snprintf(buf, len, "%s", id);
    else
        snprintf(buf, len, "call_%llx_%d", (unsigned long long)pc->seq,
                 index);
}

static int gemini_parse(struct pcall *pc, const struct http_resp *r,
                        json_t **ret)
{
    json_t *j, *cand, *part, *msg, *u = NULL, *um;
    struct common_answer a;
    struct common_stream_id sid;
    const char *finish;
    size_t i;
    int rc;

    *ret = NULL;
    if ((j = common_parse_answer(pc, r, rpc_error)) == NULL)
        return pc->err.code;
    cand = json_array_get(json_object_get(j, "candidates"), 0);
    if (!json_is_object(cand)) {
        rc = hub_str(json_object_get(j, "promptFeedback"), "blockReason") ?
             blocked(pc, j, r->status) :
             pcall_fail(pc, LLMUX_EUNAVAIL, r->status, "%s returned a "
                        "malformed response (no candidates)", pcall_name(pc));
        json_decref(j);
        return rc;
    }
    common_answer_init(&a);
    json_array_foreach(json_object_get(json_object_get(cand, "content"),
                                       "parts"), i, part) {
        json_t *t = json_object_get(part, "text");
        json_t *fc = json_object_get(part, "functionCall");
        char id[96];

        if (json_is_true(json_object_get(part, "thought"))) {
            common_answer_reasoning(&a, t);
        } else if (json_is_string(t)) {
            common_answer_text(&a, t);
        } else if (json_is_object(fc)) {
            tool_id(pc, fc, (int)json_array_size(a.calls), id, sizeof(id));
            common_answer_call(&a, 0, id, hub_str(fc, "name"),
                               json_object_get(fc, "args"));
        }
        /* inlineData, executableCode, thoughtSignature…: not hub data. */
    }
    msg = common_answer_message(pc, &a, r->status);
    finish = map_finish(hub_str(cand, "finishReason"),
                        json_array_size(a.calls) > 0);
    um = json_object_get(j, "usageMetadata");
    if (msg && json_is_object(um))
        u = usage_json(um);
    common_stream_id_init(&sid, pc, hub_str(j, "responseId"),
                          hub_str(j, "modelVersion"));
    rc = msg ? common_completion(pc, &sid, msg, finish ? finish : "stop", u,
                                 ret) : pc->err.code;
    common_answer_free(&a);
    json_decref(j);
    return rc;
}

static int emit(struct pcall *pc, struct gstream *st, json_t *delta,
                const char *finish)
{
    return common_emit(pc, &st->h.sid, delta, finish);
}

/* Every event is a whole GenerateContentResponse holding the new parts. */
static int on_event(void *ud, const struct sse_event *ev)
{
    struct pcall *pc = ud;
    struct gstream *st = pc->state;
    json_t *j, *cand, *part, *um;
    const char *fr;
    size_t i;
    int r = 0;

    if ((r = common_parse_event(pc, ev, &j)) < 0 || j == NULL)
        return r;
    if (json_is_object(json_object_get(j, "error"))) {
        r = rpc_error(pc, json_object_get(j, "error"), 200);
        json_decref(j);
        return r;
    }
    if (!st->h.sid.ready)
        common_stream_id_init(&st->h.sid, pc, hub_str(j, "responseId"),
                              hub_str(j, "modelVersion"));
    if (json_is_object(um = json_object_get(j, "usageMetadata")))
        pcall_set_usage(pc, usage_json(um));
    cand = json_array_get(json_object_get(j, "candidates"), 0);
    if (!json_is_object(cand)) {
        if (hub_str(json_object_get(j, "promptFeedback"), "blockReason"))
            r = blocked(pc, j, 200);
        json_decref(j);
        return r;
    }
    json_array_foreach(json_object_get(json_object_get(cand, "content"),
                                       "parts"), i, part) {
        json_t *t = json_object_get(part, "text");
        json_t *fc = json_object_get(part, "functionCall");

        if (json_is_string(t) && json_string_length(t) > 0) {
            r = emit(pc, st, json_pack("{s:s%}", json_is_true(
                     json_object_get(part, "thought")) ? "reasoning_content" :
                     "content", json_string_value(t), json_string_length(t)),
                     NULL);
        } else if (json_is_object(fc)) {
            /* A call arrives whole: its start and all of its arguments. */
            json_t *args = json_object_get(fc, "args");
            char id[96], *a;
            int n = st->ntools++;

            tool_id(pc, fc, n, id, sizeof(id));
            r = emit(pc, st, common_tool_delta_start(n, id, hub_str(fc,
                                                     "name")), NULL);
            a = common_json_text(args);
            if (r == 0 && a == NULL)
                r = pcall_oom(pc);
            if (r == 0)
                r = emit(pc, st, common_tool_delta_args(n, a, strlen(a)),
                         NULL);
            free(a);
        }
        if (r < 0)
            break;
    }
    fr = hub_str(cand, "finishReason");
    if (r == 0 && fr && !st->finished) {
        st->finished = 1;
        r = emit(pc, st, json_object(), map_finish(fr, st->ntools > 0));
    }
    json_decref(j);
    return r;
}

static int gemini_stream_feed(struct pcall *pc, const char *p, size_t n)
{
    return common_sse_feed(pc, sizeof(struct gstream), p, n, on_event);
}

static int gemini_stream_end(struct pcall *pc)
{
    struct gstream *st;
    int r;

    if ((r = common_sse_end(pc, sizeof(*st), on_event)) < 0)
        return r;
    st = pc->state;
    /* The last event always carries a finishReason. */
    if (!st->finished)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s stream ended without "
                          "a finishReason (truncated answer)", pcall_name(pc));
    return 0;
}

/* The {"error": Status} of a non-2xx answer (some front ends wrap it in
 * an array). */
static int gemini_map_error(struct pcall *pc, const struct http_resp *r)
{
    return provider_map_error_json(pc, r, rpc_error);
}

/* An api_base that already names the version is taken as it is. */
static const char *const base_versions[] = {
    "v1beta", "v1", "v1alpha", NULL,
};

const struct provider provider_gemini = {
    .name          = "gemini",
    .path          = "/{version}/models/{model}:generateContent",
    .stream_path   = "/{version}/models/{model}:streamGenerateContent"
                     "?alt=sse",
    .model_prefix  = "models/",
    .version       = "v1beta",
    .base_versions = base_versions,
    .auth          = PROV_AUTH_GOOG,
    .key           = PROV_KEY_DEFAULT,
    .key_env       = "GEMINI_API_KEY",
    .framing       = PROV_FRAMING_SSE,
    .content_type  = "application/json",
    .build_body  = gemini_body,
    .parse       = gemini_parse,
    .stream_feed = gemini_stream_feed,
    .stream_end  = gemini_stream_end,
    .stream_free = common_sse_free,
    .map_error   = gemini_map_error,
};
