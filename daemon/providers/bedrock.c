/* bedrock.c -- the AWS Bedrock Runtime Converse dialect.
 * Owns: hub requests -> POST /model/{modelId}/converse(-stream) bodies,
 * signed with SigV4 (sigv4.c) or sent with a Bedrock API key; Converse
 * bodies and ConverseStream event-stream frames (eventstream.c) back to
 * canonical completions and chunks; Bedrock's error shapes (REST bodies
 * and in-stream exceptions) -> the error taxonomy. */
#include "common.h"
#include "config.h"
#include "eventstream.h"
#include "hub.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"
#include "sigv4.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BEDROCK_MAX_FRAME   (4u * 1024 * 1024)  /* one event-stream message */
#define BEDROCK_MAX_BLOCKS  4096                /* content blocks per stream */
#define BEDROCK_MAX_TEXT    HTTP_MAX_BODY       /* joined text of a reply */
/* Added to a thinking budget when the caller set no max_tokens, as
 * LiteLLM does: Anthropic wants max_tokens > budget_tokens. */
#define THINKING_EXTRA_TOKENS 4096

/* Keys of a hub request this adapter translates. */
static const char *const known_params[] = {
    "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
    "tools", "tool_choice", "parallel_tool_calls", "response_format",
    "reasoning_effort", "thinking", NULL,
};

/* One content block of a stream that carries a toolUse. */
struct bedrock_block {
    int block;              /* contentBlockIndex */
    int tool;               /* OpenAI tool_calls index; -1: JSON tool */
};

struct bedrock_stream {
    struct es_reader         rd;
    struct common_stream_id  sid;
    int                      json_mode;   /* response_format asked */
    int                      stopped;     /* saw messageStop */
    int                      failed;      /* pc->err is set: feed no more */
    int                      ntools;      /* tool calls started */
    int                      njson;       /* JSON-tool blocks started */
    struct bedrock_block    *blocks;      /* owned */
    size_t                   nblocks, cap;
};

/* Tests fix the signing clock with this; 0 means time(NULL). */
static time_t bedrock_fixed_time;

void bedrock_test_set_time(time_t t);

/* Test-only: signs every later request as if at time t (0: the clock). */
void bedrock_test_set_time(time_t t)
{
    bedrock_fixed_time = t;
}

/* ---- request ----------------------------------------------------------- */

/* AWS credentials for pc's deployment, borrowed, into c (access_key,
 * secret_key, session_token; the caller sets region and service). For now
 * they come from the environment; per-deployment secrets will be read
 * here. */
static int bedrock_creds(struct pcall *pc, struct sigv4_creds *c)
{
    const struct deployment *d = pc->dep;

    /* config.c fills these from litellm_params aws_* or, failing that,
     * from the AWS_* variables at load time. */
    c->access_key = d->aws_access_key ? d->aws_access_key->p : NULL;
    c->secret_key = d->aws_secret_key ? d->aws_secret_key->p : NULL;
    c->session_token = d->aws_session_token ? d->aws_session_token->p :
                       NULL;
    if (c->access_key == NULL || c->secret_key == NULL)
        return pcall_fail(pc, LLMUX_EAUTH, 0, "no AWS credentials for "
                          "bedrock: set AWS_ACCESS_KEY_ID/"
                          "AWS_SECRET_ACCESS_KEY or aws_* in model_list");
    return 0;
}

/* The region: the deployment's (aws_region_name, region_name, $AWS_REGION
 * or $AWS_DEFAULT_REGION, taken at load), else us-east-1. Refuses anything
 * that is not a plain region name, since it goes into a host name. */
static const char *bedrock_region(struct pcall *pc)
{
    const char *r = pc->dep->aws_region;

    if (r == NULL || *r == '\0')
        r = "us-east-1";
    if (strlen(r) > 64 || r[strspn(r, "abcdefghijklmnopqrstuvwxyz"
                                      "0123456789-")] != '\0') {
        pcall_fail(pc, LLMUX_EBADREQ, 0, "bedrock: \"%.64s\" is not an AWS "
                   "region name", r);
        return NULL;
    }
    return r;
}

static int is_anthropic(const struct deployment *d)
{
    return strstr(d->upstream_model, "anthropic") != NULL ||
           strstr(d->upstream_model, "claude") != NULL;
}

static int bad(struct pcall *pc, const char *what)
{
    return pcall_fail(pc, LLMUX_EBADREQ, 0, "bedrock: %s", what);
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
        return bad(pc, "Converse does not fetch image URLs: send the image "
                   "inline as a data: URL (data:image/png;base64,…)");
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
        return bad(pc, "message content must be a string or an array of "
                   "parts");
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
        return r == LLMUX_ETOOBIG ? bad(pc, "message too large") :
               pcall_oom(pc);
    json_array_foreach(calls, i, c) {
        json_t *fn = json_object_get(c, "function"), *input;
        const char *id = hub_str(c, "id"), *name = hub_str(fn, "name");

        if (id == NULL || name == NULL)
            return bad(pc, "assistant tool_calls need an id and "
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
        return bad(pc, "tool messages need a tool_call_id");
    buf_init(&text, BEDROCK_MAX_TEXT);
    if ((r = common_content_text(json_object_get(m, "content"), &text)) < 0) {
        buf_free(&text);
        return r == LLMUX_ETOOBIG ? bad(pc, "message too large") :
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
            r = bad(pc, "every message needs a role");
        } else if (strcmp(role, "system") == 0 ||
                   strcmp(role, "developer") == 0) {
            struct buf t;

            buf_init(&t, BEDROCK_MAX_TEXT);
            r = common_content_text(json_object_get(m, "content"), &t);
            if (r == 0 && add_text(sys, t.p ? t.p : "", t.len) < 0)
                r = -ENOMEM;
            buf_free(&t);
            if (r < 0)
                r = r == LLMUX_ETOOBIG ? bad(pc, "message too large")
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
            r = bad(pc, "tool_choice must be auto, none, required or "
                    "{\"type\":\"function\",…}");
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
            return bad(pc, "max_tokens must be a positive integer");
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
        return bad(pc, "temperature must be a number");
    }
    v = json_object_get(pc->req, "top_p");
    if (json_is_number(v)) {
        json_object_set(cfg, "topP", v);
    } else if (v && !json_is_null(v)) {
        json_decref(cfg);
        return bad(pc, "top_p must be a number");
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
static json_t *build_body(struct pcall *pc)
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

/* Splits an http(s) base URL into its authority (host[:port], for the
 * Host header) and its path prefix (may be ""). */
static int split_base(struct pcall *pc, const char *base, const char **host,
                      size_t *host_len, const char **path)
{
    const char *h;

    if (strncmp(base, "https://", 8) == 0)
        h = base + 8;
    else if (strncmp(base, "http://", 7) == 0)
        h = base + 7;
    else
        return bad(pc, "api_base must be an http(s) URL");
    *host = h;
    *host_len = strcspn(h, "/");
    *path = h + *host_len;
    if (*host_len == 0 || memchr(h, '@', *host_len) ||
        strpbrk(base, "?# \t\r\n"))
        return bad(pc, "api_base must be http(s)://host[:port][/path], "
                   "without credentials, query or fragment");
    return 0;
}

/* Signs the request in out with SigV4 and adds the headers that carry the
 * signature. Every header sent (but curl's Content-Length) is signed. */
static int sign(struct pcall *pc, struct http_req *out, const char *region,
                const char *host, const char *path, const char *accept)
{
    struct sigv4_creds c = { .region = region, .service = "bedrock" };
    struct sigv4_header h[3] = {
        { "Host", host },
        { "Content-Type", "application/json" },
        { "Accept", accept },
    };
    struct sigv4_req rq = {
        .method = "POST", .path = path, .headers = h, .nheaders = 3,
        .body = out->body.p, .body_len = out->body.len,
        .normalize_path = 1, .sign_body_header = 1,
    };
    struct sigv4_out so;
    struct secret tmp = { 0 };
    time_t now = bedrock_fixed_time ? bedrock_fixed_time : time(NULL);
    int r;

    if ((r = bedrock_creds(pc, &c)) < 0)
        return r;
    if ((r = sigv4_sign(&c, &rq, now, &so)) < 0) {
        sigv4_out_free(&so);
        return pcall_fail(pc, r == -ENOMEM ? LLMUX_EINTERNAL : LLMUX_EAUTH,
                          0, "bedrock: cannot sign the request (check the "
                          "AWS credentials and region)");
    }
    for (size_t i = 0; r == 0 && i < so.nadd; i++) {
        if (strcasecmp(so.add[i].name, "X-Amz-Security-Token") == 0) {
            /* The token is a secret, and may pass 1 KiB. */
            tmp = (struct secret){ .p = (char *)so.add[i].value,
                                   .len = strlen(so.add[i].value) };
            r = http_header_secret(out, "X-Amz-Security-Token: ", &tmp);
        } else {
            r = http_header_add(out, "%s: %s", so.add[i].name,
                                so.add[i].value);
        }
    }
    if (r == 0) {
        tmp = (struct secret){ .p = so.authorization.p,
                               .len = so.authorization.len };
        r = http_header_secret(out, "Authorization: ", &tmp);
    }
    explicit_bzero(&tmp, sizeof(tmp));
    sigv4_out_free(&so);
    return r < 0 ? pcall_oom(pc) : 0;
}

static int bedrock_build(struct pcall *pc, struct http_req *out)
{
    const struct deployment *d = pc->dep;
    const char *accept = pc->stream ? "application/vnd.amazon.eventstream" :
                         "application/json";
    const char *region, *model = d->upstream_model;
    const char *host = "", *prefix = "";
    size_t host_len = 0;
    struct buf base, path;
    char hostbuf[256];
    int r;

    if ((r = common_check_params(pc, known_params)) < 0)
        return r;
    if ((region = bedrock_region(pc)) == NULL)
        return pc->err.code;
    if ((r = common_put_json(pc, build_body(pc), &out->body)) < 0)
        return r;

    /* LiteLLM's "bedrock/converse/<id>" names the route, not the model. */
    if (strncmp(model, "converse/", 9) == 0)
        model += 9;
    buf_init(&base, HTTP_MAX_URL);
    buf_init(&path, HTTP_MAX_URL);
    if (d->api_base && *d->api_base)
        r = buf_adds(&base, d->api_base);
    else
        r = buf_addf(&base, "https://bedrock-runtime.%s.amazonaws.com",
                     region);
    if (r == 0 && (r = split_base(pc, base.p, &host, &host_len,
                                  &prefix)) == 0) {
        if (host_len >= sizeof(hostbuf))
            r = bad(pc, "api_base host name too long");
        else
            snprintf(hostbuf, sizeof(hostbuf), "%.*s", (int)host_len, host);
    }
    if (r == 0) {
        /* The id goes on the wire encoded once (…-v1%3A0); sigv4_sign
         * encodes the path once more for the signature. */
        if ((r = buf_addf(&path, "%s/model/", prefix)) == 0 &&
            (r = sigv4_uri_encode(&path, model, strlen(model), 1)) == 0 &&
            (r = buf_adds(&path, pc->stream ? "/converse-stream" :
                          "/converse")) == 0)
            r = buf_addf(&out->url, "%.*s%s", (int)(prefix - base.p),
                         base.p, path.p);
        if (r < 0 && pc->err.code == 0)
            r = bad(pc, "the model id or api_base is too long");
    }
    if (r == 0 &&
        ((r = http_header_add(out, "Content-Type: application/json")) < 0 ||
         (r = http_header_add(out, "Accept: %s", accept)) < 0))
        r = pcall_oom(pc);
    if (r == 0 && d->api_key) {
        /* A Bedrock API key replaces SigV4. */
        if (http_header_secret(out, "Authorization: Bearer ",
                               d->api_key) < 0)
            r = pcall_oom(pc);
    } else if (r == 0) {
        if (http_header_add(out, "Host: %s", hostbuf) < 0)
            r = pcall_oom(pc);
        else
            r = sign(pc, out, region, hostbuf, path.p, accept);
    }
    buf_free(&base);
    buf_free(&path);
    return r;
}

/* ---- responses ---------------------------------------------------------- */

/* Converse's stopReason -> OpenAI's finish_reason. */
static const char *finish_of(const char *stop)
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
static json_t *usage_of(const json_t *u)
{
    json_int_t in = common_int(u, "inputTokens", -1);
    json_int_t out = common_int(u, "outputTokens", -1);
    json_int_t cr = common_int(u, "cacheReadInputTokens", -1);
    json_int_t cw = common_int(u, "cacheWriteInputTokens", 0);

    if (in < 0 || out < 0)
        return NULL;
    return common_usage(in + (cr > 0 ? cr : 0) + (cw > 0 ? cw : 0), out, cr,
                        -1);
}

static int bedrock_parse(struct pcall *pc, const struct http_resp *r,
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
    finish = finish_of(hub_str(j, "stopReason"));
    if (a.njson && json_array_size(a.calls) == 0 &&
        strcmp(finish, "tool_calls") == 0)
        finish = "stop";        /* the forced JSON tool is the answer */
    common_answer_free(&a);
    u = msg ? usage_of(json_object_get(j, "usage")) : NULL;
    json_decref(j);
    common_stream_id_init(&sid, pc, NULL, NULL);
    return msg ? common_completion(pc, &sid, msg, finish, u, ret) :
           pc->err.code;
}

/* ---- errors ------------------------------------------------------------- */

static int contains(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

/* Context-window wording that provider_code_for does not know. */
static int context_words(const char *text)
{
    return contains(text, "too many input tokens") ||
           contains(text, "exceed context limit") ||
           contains(text, "model_context_window_exceeded");
}

/* 403 wording that means the credentials, not the permissions, are bad. */
static int auth_words(const char *text)
{
    return contains(text, "security token") ||
           contains(text, "signature") ||
           contains(text, "credential") ||
           contains(text, "authentication token") ||
           contains(text, "api key");
}

/* An error for an AWS exception name (any case, "…Exception" optional;
 * NULL when unknown), an HTTP status (0 in streams) and the message. */
static int code_for(const char *type, long status, const char *text)
{
    static const struct { const char *name; int code; } types[] = {
        { "throttling", LLMUX_ERATELIMIT },
        { "accessdenied", LLMUX_EPERMISSION },
        { "unrecognizedclient", LLMUX_EAUTH },
        { "invalidsignature", LLMUX_EAUTH },
        { "incompletesignature", LLMUX_EAUTH },
        { "signaturedoesnotmatch", LLMUX_EAUTH },
        { "expiredtoken", LLMUX_EAUTH },
        { "invalidclienttokenid", LLMUX_EAUTH },
        { "missingauthenticationtoken", LLMUX_EAUTH },
        { "resourcenotfound", LLMUX_ENOTFOUND },
        { "modelnotready", LLMUX_EUNAVAIL },
        { "serviceunavailable", LLMUX_EUNAVAIL },
        { "internalserver", LLMUX_EUNAVAIL },
        { "internalfailure", LLMUX_EUNAVAIL },
        { "modelerror", LLMUX_EUNAVAIL },
        { "modelstreamerror", LLMUX_EUNAVAIL },
        { "modeltimeout", LLMUX_ETIMEOUT },
        { "validation", LLMUX_EBADREQ },
    };
    int code = 0;

    for (size_t i = 0; type && i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i].name);

        if (strncasecmp(type, types[i].name, n) == 0 &&
            (type[n] == '\0' || strcasecmp(type + n, "Exception") == 0 ||
             strcasecmp(type + n, "Error") == 0)) {
            code = types[i].code;
            break;
        }
    }
    if (code == LLMUX_EBADREQ || (code == 0 && (status == 400 ||
                                                status == 413))) {
        if (context_words(text))
            return LLMUX_ECONTEXT;
        return provider_code_for(400, text);
    }
    if (code)
        return code;
    if (status == 403 && auth_words(text))
        return LLMUX_EAUTH;
    if (status == 429 && contains(text, "not ready"))
        return LLMUX_EUNAVAIL;
    if (status == 424)              /* ModelErrorException */
        return LLMUX_EUNAVAIL;
    return provider_code_for(status ? status : 500, text);
}

/* "com.amazon…#ThrottlingException:http://…" -> "ThrottlingException". */
static void short_type(const char *raw, char *out, size_t outlen)
{
    const char *p = raw ? strrchr(raw, '#') : NULL;
    size_t n;

    p = p ? p + 1 : raw ? raw : "";
    n = strcspn(p, ":");
    snprintf(out, outlen, "%.*s", (int)(n < outlen ? n : outlen - 1), p);
}

static int bedrock_map_error(struct pcall *pc, const struct http_resp *r)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    const char *raw = hub_str(j, "__type");
    char type[96], text[400];
    int code;

    if (raw == NULL)
        raw = hub_str(j, "code");
    if (hub_str(j, "message") == NULL && hub_str(j, "Message") == NULL &&
        json_is_object(json_object_get(j, "error"))) {
        /* A proxy in front, answering in OpenAI's shape. */
        json_decref(j);
        return provider_map_error_default(pc, r);
    }
    short_type(raw, type, sizeof(type));
    /* AWS's {"message"} or {"Message"}, else the body itself. */
    provider_error_text(r, text, sizeof(text));
    code = code_for(*type ? type : NULL, r->status, text);
    pcall_fail(pc, code, r->status, "bedrock: %s%s%s", type,
               *type ? ": " : "", text);
    pc->err.retry_after = r->retry_after;
    json_decref(j);
    return code;
}

/* ---- streams ------------------------------------------------------------ */

/* The value of a string header, or NULL (and *len 0). */
static const char *hdr(const struct es_message *m, const char *name,
                       size_t *len)
{
    const struct es_header *h = es_header_get(m, name);

    *len = 0;
    if (h == NULL || h->type != ES_STRING)
        return NULL;
    *len = h->val_len;
    return h->val;
}

static int hdr_is(const char *v, size_t n, const char *want)
{
    return v && n == strlen(want) && memcmp(v, want, n) == 0;
}

/* Emits delta (stolen), with the role on the first chunk of the stream. */
static int emit(struct pcall *pc, json_t *delta, const char *finish)
{
    struct bedrock_stream *st = pc->state;

    return common_emit(pc, &st->sid, delta, finish);
}

static struct bedrock_block *block_find(struct bedrock_stream *st, int idx)
{
    for (size_t i = st->nblocks; i-- > 0;)
        if (st->blocks[i].block == idx)
            return &st->blocks[i];
    return NULL;
}

static int on_block_start(struct pcall *pc, const json_t *ev)
{
    struct bedrock_stream *st = pc->state;
    json_t *tu = json_object_get(json_object_get(ev, "start"), "toolUse");
    const char *name = hub_str(tu, "name");
    int idx = (int)common_int(ev, "contentBlockIndex", -1);
    struct bedrock_block *b;

    if (!json_is_object(tu))
        return 0;                   /* other kinds of block need no start */
    if (st->nblocks == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;

        if (cap > BEDROCK_MAX_BLOCKS)
            return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "bedrock sent more "
                              "than %d tool blocks", BEDROCK_MAX_BLOCKS);
        if ((b = realloc(st->blocks, cap * sizeof(*b))) == NULL)
            return pcall_oom(pc);
        st->blocks = b;
        st->cap = cap;
    }
    b = &st->blocks[st->nblocks++];
    b->block = idx;
    if (st->json_mode && name && strcmp(name, COMMON_JSON_TOOL) == 0) {
        b->tool = -1;
        st->njson++;
        return 0;
    }
    b->tool = st->ntools++;
    return emit(pc, common_tool_delta_start(b->tool, hub_str(tu, "toolUseId"),
                                            name), NULL);
}

static int on_block_delta(struct pcall *pc, const json_t *ev)
{
    struct bedrock_stream *st = pc->state;
    json_t *d = json_object_get(ev, "delta"), *v;
    struct bedrock_block *b;

    if (json_is_string(v = json_object_get(d, "text"))) {
        if (json_string_length(v) == 0)
            return 0;
        return emit(pc, json_pack("{s:O}", "content", v), NULL);
    }
    if (json_is_object(v = json_object_get(d, "toolUse"))) {
        v = json_object_get(v, "input");
        if (!json_is_string(v) || json_string_length(v) == 0)
            return 0;
        b = block_find(st, (int)common_int(ev, "contentBlockIndex", -1));
        if (b == NULL)
            return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "bedrock sent toolUse "
                              "input for a block it never started");
        if (b->tool < 0)            /* the JSON tool: its input is the text */
            return emit(pc, json_pack("{s:O}", "content", v), NULL);
        return emit(pc, common_tool_delta_args(b->tool, json_string_value(v),
                                               json_string_length(v)), NULL);
    }
    v = json_object_get(json_object_get(d, "reasoningContent"), "text");
    if (json_is_string(v) && json_string_length(v) > 0)
        return emit(pc, json_pack("{s:O}", "reasoning_content", v), NULL);
    return 0;       /* signatures, redacted reasoning, citations… */
}

/* An exception (or error) message in the stream -> pc->err. */
static int stream_exception(struct pcall *pc, const char *type, size_t tlen,
                            const struct es_message *m)
{
    json_t *j = json_loadb(m->payload, m->payload_len, 0, NULL);
    const char *msg = hub_str(j, "message"), *orig;
    json_int_t ost = common_int(j, "originalStatusCode", 0);
    char name[96], text[400];
    int code;

    if (msg == NULL)
        msg = hub_str(j, "Message");
    snprintf(name, sizeof(name), "%.*s", (int)(tlen < 95 ? tlen : 95),
             type ? type : "");
    orig = hub_str(j, "originalMessage");
    snprintf(text, sizeof(text), "%s", msg ? msg : "(no message)");
    code = code_for(*name ? name : NULL, 0, text);
    if (ost == 429)
        code = LLMUX_ERATELIMIT;
    if (orig)
        pcall_fail(pc, code, 200, "bedrock: %s: %s (upstream %lld: %s)",
                   *name ? name : "exception", text, (long long)ost, orig);
    else
        pcall_fail(pc, code, 200, "bedrock: %s: %s", *name ? name :
                   "exception", text);
    json_decref(j);
    return code;
}

static int on_message(void *ud, const struct es_message *m)
{
    struct pcall *pc = ud;
    struct bedrock_stream *st = pc->state;
    size_t mtl, etl;
    const char *mt = hdr(m, ":message-type", &mtl), *et;
    json_t *ev, *u;
    int r = 0;

    if (hdr_is(mt, mtl, "exception")) {
        et = hdr(m, ":exception-type", &etl);
        return stream_exception(pc, et, etl, m);
    }
    if (hdr_is(mt, mtl, "error")) {
        const char *em;
        size_t eml;
        char text[400];

        char name[96];

        et = hdr(m, ":error-code", &etl);
        em = hdr(m, ":error-message", &eml);
        snprintf(name, sizeof(name), "%.*s", (int)(etl < 95 ? etl : 95),
                 et ? et : "");
        snprintf(text, sizeof(text), "%.*s", (int)(eml < 399 ? eml : 399),
                 em ? em : "");
        return pcall_fail(pc, code_for(*name ? name : NULL, 0, text), 200,
                          "bedrock: stream error %s: %s", name, text);
    }
    et = hdr(m, ":event-type", &etl);
    if ((mt && !hdr_is(mt, mtl, "event")) || et == NULL)
        return 0;
    if (!hdr_is(et, etl, "messageStart") &&
        !hdr_is(et, etl, "contentBlockStart") &&
        !hdr_is(et, etl, "contentBlockDelta") &&
        !hdr_is(et, etl, "contentBlockStop") &&
        !hdr_is(et, etl, "messageStop") && !hdr_is(et, etl, "metadata"))
        return 0;                   /* an event type newer than us */
    if ((ev = common_parse_json(pc, m->payload, m->payload_len,
                                "stream event")) == NULL)
        return pc->err.code;
    if (hdr_is(et, etl, "messageStart")) {
        if (!st->sid.role_sent)
            r = emit(pc, json_pack("{s:s}", "content", ""), NULL);
    } else if (hdr_is(et, etl, "contentBlockStart")) {
        r = on_block_start(pc, ev);
    } else if (hdr_is(et, etl, "contentBlockDelta")) {
        r = on_block_delta(pc, ev);
    } else if (hdr_is(et, etl, "messageStop") && !st->stopped) {
        const char *f = finish_of(hub_str(ev, "stopReason"));

        if (st->njson && st->ntools == 0 && strcmp(f, "tool_calls") == 0)
            f = "stop";
        st->stopped = 1;
        r = emit(pc, json_object(), f);
    } else if (hdr_is(et, etl, "metadata")) {
        if ((u = usage_of(json_object_get(ev, "usage"))) != NULL)
            pcall_set_usage(pc, u);
    }
    json_decref(ev);
    return r;
}

static int bedrock_stream_feed(struct pcall *pc, const char *p, size_t n)
{
    struct bedrock_stream *st = pc->state;
    int r;

    if (st == NULL) {
        if ((st = calloc(1, sizeof(*st))) == NULL)
            return pcall_oom(pc);
        es_reader_init(&st->rd, BEDROCK_MAX_FRAME);
        common_stream_id_init(&st->sid, pc, NULL, NULL);
        st->json_mode = common_json_mode(pc->req);
        pc->state = st;
    }
    if (st->failed)
        return pc->err.code ? pc->err.code : LLMUX_EUNAVAIL;
    r = es_reader_feed(&st->rd, p, n, on_message, pc);
    st->failed = r != 0;
    if (r < 0 && pc->err.code == 0) {
        if (r == LLMUX_ECLOSED || r == -ENOMEM)
            common_feed_failed(pc, r, "stream event");
        else
            pcall_fail(pc, LLMUX_EUNAVAIL, 200, "bedrock sent a malformed "
                       "event stream (%s)", es_strerror(r));
    }
    return r < 0 ? pc->err.code : 0;
}

static int bedrock_stream_end(struct pcall *pc)
{
    struct bedrock_stream *st = pc->state;

    if (st && es_reader_end(&st->rd) < 0)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "bedrock's event stream "
                          "ended in the middle of a message");
    if (st == NULL || !st->stopped)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "bedrock's event stream "
                          "ended before messageStop");
    return 0;
}

static void bedrock_stream_free(struct pcall *pc)
{
    struct bedrock_stream *st = pc->state;

    if (st) {
        es_reader_free(&st->rd);
        free(st->blocks);
        free(st);
        pc->state = NULL;
    }
}

const struct provider provider_bedrock = {
    .name        = "bedrock",
    .build       = bedrock_build,
    .parse       = bedrock_parse,
    .stream_feed = bedrock_stream_feed,
    .stream_end  = bedrock_stream_end,
    .stream_free = bedrock_stream_free,
    .map_error   = bedrock_map_error,
};
