/* openai.c -- the OpenAI chat-completions dialect, and through presets.c
 * every OpenAI-compatible provider (Mistral, Groq, DeepSeek, xAI, …).
 * Owns: the body of /chat/completions requests (the hub format is
 * OpenAI's, so it passes through with the upstream model name, plus the
 * rules of OpenAI's reasoning models; path, key and headers are data in
 * provider_openai, for provider_build), and reading bodies and SSE
 * streams back, normalising where compatible providers drift (usage
 * placement, x_groq). The body builder and the readers are shared with
 * azure.c through openai.h. */
#include "common.h"
#include "config.h"
#include "hub.h"
#include "openai.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"
#include "sse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* When an OpenAI-dialect stream is complete. OpenAI ends every stream
 * with "data: [DONE]"; some compatible servers (proxies, older llama.cpp
 * builds, vLLM behind some front ends) end with each choice's chunk that
 * carries a finish_reason (and maybe a usage chunk) and then close the
 * body. So the terminator is either [DONE], or, before the end of the
 * body, a finish_reason for every choice asked for (n > 1: counted by
 * index), or with one choice (n = 1) a finish_reason in the last chunk
 * that had choices (usage-only chunks may follow). A body that ends with
 * neither was cut (a 200 HTML page on stream: true included): an error,
 * never a success. */
#define OPENAI_LAST_CHUNK 4096
struct openai_stream {
    struct common_sse_stream h;      /* first: see common.h */
    int                      done;   /* saw data: [DONE] */
    unsigned long            events; /* events seen, [DONE] included */
    int                      first;  /* a chunk went out the tree way */
    json_int_t               want;   /* choices asked for (n); 0: unread */
    uint64_t                 finished;  /* choices 0..63 that finished */
    size_t                   nfinished; /* how many distinct ones */
    /* n = 1: whether the last chunk with choices had a finish_reason.
     * For a chunk that went the fast way its text is kept instead and
     * looked at only if the body ends without [DONE]: a copy costs far
     * less than a search of every chunk. */
    int                      last_fin;
    size_t                   last_len;  /* > 0: last holds that chunk */
    char                     last[OPENAI_LAST_CHUNK];
};

/* What OpenAI's reasoning models refuse or want otherwise (see
 * reasoning_rules). */
#define R_MAX_COMPLETION 0x1   /* max_tokens -> max_completion_tokens */
#define R_DEVELOPER      0x2   /* system messages -> developer */
#define R_USER           0x4   /* system and developer -> user */
#define R_SAMPLING       0x8   /* temperature 1 only; no top_p, … */

/* Sampling parameters the o-series refuses ("Unsupported parameter");
 * the list LiteLLM's OpenAIOSeriesConfig keeps out. */
static const char *const o_series_refused[] = {
    "top_p", "presence_penalty", "frequency_penalty", "logprobs",
    "top_logprobs", NULL,
};

static int name_is(const char *model, const char *family)
{
    size_t n = strlen(family);

    return strncmp(model, family, n) == 0 &&
           (model[n] == '\0' || model[n] == '-');
}

/* The R_* rules for an upstream model of the openai or azure preset:
 * o1, o3 and o4 take developer messages, max_completion_tokens and the
 * default sampling only; o1-mini and o1-preview (the September 2024
 * snapshots) take neither system nor developer messages, so those become
 * user messages as LiteLLM sends them. gpt-5 (not gpt-5-chat, a chat
 * model) refuses max_tokens too, but gpt-5.1 and later take temperature
 * and top_p with reasoning_effort "none", so its sampling is left to the
 * upstream to judge. An Azure deployment is known by its name. */
static unsigned reasoning_rules(const struct deployment *d)
{
    const char *m = d->upstream_model, *slash = strrchr(m, '/');

    if (strcmp(d->preset->name, "openai") != 0 &&
        strcmp(d->preset->name, "azure") != 0)
        return 0;
    m = slash ? slash + 1 : m;
    if (name_is(m, "o1-mini") || name_is(m, "o1-preview"))
        return R_MAX_COMPLETION | R_USER | R_SAMPLING;
    if (name_is(m, "o1") || name_is(m, "o3") || name_is(m, "o4"))
        return R_MAX_COMPLETION | R_DEVELOPER | R_SAMPLING;
    if (strncmp(m, "gpt-5", 5) == 0 && strncmp(m, "gpt-5-chat", 10) != 0)
        return R_MAX_COMPLETION;
    return 0;
}

/* A parameter the model refuses: dropped with drop_params, else a
 * bad_request naming it. */
static int refuse(struct pcall *pc, json_t *body, const char *param,
                  const char *why)
{
    if (pc->drop_params) {
        json_object_del(body, param);
        return 0;
    }
    return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s: the reasoning model %s %s "
                      "(set drop_params: true to drop it)", pcall_name(pc),
                      pc->dep->upstream_model, why);
}

/* messages with the roles the model takes: system (and for R_USER
 * developer) rewritten, the rest shared. */
static int map_roles(struct pcall *pc, json_t *body, unsigned rules)
{
    json_t *in = json_object_get(body, "messages"), *out, *m, *c;
    const char *to = rules & R_USER ? "user" : "developer";
    size_t i;

    if (!json_is_array(in) || (out = json_array()) == NULL)
        return json_is_array(in) ? pcall_oom(pc) : 0;
    json_array_foreach(in, i, m) {
        const char *role = hub_str(m, "role");

        if (role && (strcmp(role, "system") == 0 ||
                     ((rules & R_USER) && strcmp(role, "developer") == 0))) {
            c = json_copy(m);
            if (c)
                json_object_set_new(c, "role", json_string(to));
        } else {
            c = json_incref(m);
        }
        if (c == NULL || json_array_append_new(out, c) < 0) {
            json_decref(out);
            return pcall_oom(pc);
        }
    }
    json_object_set_new(body, "messages", out);
    return 0;
}

/* Applies the reasoning-model rules to body (a shallow copy of the
 * request). reasoning_effort passes as the caller wrote it. */
static int reasoning_quirks(struct pcall *pc, json_t *body)
{
    unsigned rules = reasoning_rules(pc->dep);
    json_t *mt = json_object_get(body, "max_tokens"), *t;
    json_t *mct = json_object_get(body, "max_completion_tokens");
    char why[96];
    int r;

    /* An explicit max_completion_tokens wins. */
    if (rules & R_MAX_COMPLETION && mt) {
        if (!json_is_null(mt) && (mct == NULL || json_is_null(mct)))
            json_object_set(body, "max_completion_tokens", mt);
        json_object_del(body, "max_tokens");
    }
    if (rules & (R_DEVELOPER | R_USER) && (r = map_roles(pc, body, rules)) < 0)
        return r;
    if (!(rules & R_SAMPLING))
        return 0;
    /* 1, the default, is the only temperature they take. */
    t = json_object_get(body, "temperature");
    if (t && !json_is_null(t) &&
        !(json_is_number(t) && json_number_value(t) == 1.0) &&
        (r = refuse(pc, body, "temperature",
                    "takes \"temperature\" 1 only")) < 0)
        return r;
    for (size_t i = 0; o_series_refused[i]; i++) {
        t = json_object_get(body, o_series_refused[i]);
        snprintf(why, sizeof(why), "does not support \"%s\"",
                 o_series_refused[i]);
        if (t && !json_is_null(t) &&
            (r = refuse(pc, body, o_series_refused[i], why)) < 0)
            return r;
    }
    return 0;
}

/* The body of a chat/completions request (see openai.h); azure.c shares
 * it. */
int openai_build_body(struct pcall *pc, unsigned flags, struct buf *out)
{
    const struct deployment *d = pc->dep;
    json_t *body, *v;
    const char *k;
    void *tmp;

    /* A shallow copy: only top-level keys change. llmux's control keys
     * were stripped once, before any adapter (request_opts). */
    if ((body = json_object()) == NULL)
        return pcall_oom(pc);
    json_object_foreach_safe((json_t *)pc->req, tmp, k, v)
        json_object_set(body, k, v);
    json_object_set_new(body, "model", json_string(d->upstream_model));
    if (reasoning_quirks(pc, body) < 0) {
        json_decref(body);
        return pc->err.code;
    }
    if (pc->stream && !(flags & OPENAI_BODY_NO_STREAM_OPTIONS) &&
        !(d->preset->quirks & QUIRK_NO_STREAM_OPTIONS)) {
        /* Always ask for usage: the done frame and the ledger need it.
         * Whether the caller sees the usage chunk is request.c's call. */
        json_t *so = json_object_get(body, "stream_options");

        so = json_is_object(so) ? json_copy(so) : json_object();
        json_object_set_new(so, "include_usage", json_true());
        json_object_set_new(body, "stream_options", so);
    }
    return common_put_json(pc, body, out);
}

/* provider_openai's body: no flags. (openai/ pointed at another server,
 * vLLM or llama.cpp, may need no key: PROV_KEY_DEFAULT.) */
static int openai_body(struct pcall *pc, struct buf *body)
{
    return openai_build_body(pc, 0, body);
}

/* An {"error": …} object where a completion or chunk was expected. */
static int body_error(struct pcall *pc, const json_t *err, long status)
{
    const char *m = json_is_object(err) ?
                    hub_str(err, "message") : json_string_value(err);
    const char *code = json_is_object(err) ? hub_str(err, "code") : NULL;
    const char *type = json_is_object(err) ? hub_str(err, "type") : NULL;
    char text[400];
    long st = status;

    provider_format(pc, text, sizeof(text), "%s%s%s%s",
                    m ? m : "unknown error", code ? " (" : "",
                    code ? code : "", code ? ")" : "");
    if (st == 0 || st == 200) {
        /* An error in a 200 body or a stream: infer from its words. */
        if (type && strstr(type, "rate_limit"))
            st = 429;
        else if ((code && strstr(code, "context_length")) ||
                 (type && strstr(type, "invalid_request")))
            st = 400;
        else if (type && (strstr(type, "server") || strstr(type, "overload")))
            st = 503;
        else
            st = 500;
    }
    return pcall_fail(pc, provider_code_for(st, text), status, "%s: %s",
                      pc->dep->preset->name, text);
}

/* A whole body: OpenAI's answer is already the hub's, so it passes, with
 * its usage recorded. Shared with azure.c. */
int openai_parse(struct pcall *pc, const struct http_resp *r, json_t **ret)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL), *u;

    *ret = NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return pcall_fail(pc, LLMUX_EUNAVAIL, r->status, "%s returned a "
                          "malformed response (not a JSON object)",
                          pc->dep->preset->name);
    }
    if (json_object_get(j, "error") && !json_object_get(j, "choices")) {
        int code = body_error(pc, json_object_get(j, "error"), r->status);

        json_decref(j);
        return code;
    }
    if (!json_is_array(json_object_get(j, "choices"))) {
        json_decref(j);
        return pcall_fail(pc, LLMUX_EUNAVAIL, r->status, "%s returned a "
                          "response without choices", pc->dep->preset->name);
    }
    u = json_object_get(j, "usage");
    if (json_is_object(u))
        pcall_set_usage(pc, json_incref(u));
    *ret = j;
    return 0;
}

/* Takes the usage out of a chunk (OpenAI sends it in a final chunk of its
 * own, Mistral and DeepSeek in the last content chunk, Groq also under
 * x_groq); request.c hands it to the caller in OpenAI's shape. */
static void take_usage(struct pcall *pc, json_t *chunk)
{
    json_t *u = json_object_get(chunk, "usage");

    if (!json_is_object(u) && (pc->dep->preset->quirks & QUIRK_USAGE_X_GROQ))
        u = json_object_get(json_object_get(chunk, "x_groq"), "usage");
    if (json_is_object(u))
        pcall_set_usage(pc, json_incref(u));
    json_object_del(chunk, "usage");
}

/* Whether a chunk's text has a finish_reason that is not null. Inside a
 * JSON string a quote is escaped, so "finish_reason" followed by a quote
 * is a key. With n > 1 such chunks take the tree way, which counts the
 * choices. */
static int has_finish(const char *p, size_t n)
{
    const char *end = p + n, *k;

    while ((k = memmem(p, (size_t)(end - p), "\"finish_reason\"", 15))) {
        p = k + 15;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' ||
                           *p == '\r' || *p == ':'))
            p++;
        if (p < end && *p != 'n')
            return 1;
    }
    return 0;
}

/* Records the choices of a chunk (tree way) that carry a finish_reason. */
static void note_finish(struct openai_stream *st, const json_t *choices)
{
    const json_t *c;
    size_t i;

    if (json_array_size(choices) > 0) {
        st->last_len = 0;
        st->last_fin = 0;
    }
    json_array_foreach(choices, i, c) {
        json_int_t idx = common_int(c, "index", 0);

        if (!json_is_string(json_object_get(c, "finish_reason")))
            continue;
        st->last_fin = 1;
        if (idx < 0 || idx >= 64)
            st->nfinished++;
        else if (!(st->finished & (UINT64_C(1) << idx))) {
            st->finished |= UINT64_C(1) << idx;
            st->nfinished++;
        }
    }
}

/* Whether an event can go to the caller as it came: an object with no
 * error, no empty choices and no usage but a null one (OpenAI sends
 * "usage":null in every chunk once include_usage is on, which llmux always
 * asks for). Any of those words anywhere, even as a value, sends the
 * event the tree way, which is always right. */
static int passes_as_is(const char *p, size_t n)
{
    const char *u;

    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    if (n == 0 || *p != '{' ||
        memmem(p, n, "\"error\"", 7) || memmem(p, n, "\"choices\":[]", 12) ||
        memmem(p, n, "x_groq", 6))
        return 0;
    if ((u = memmem(p, n, "\"usage\"", 7)) == NULL)
        return 1;
    return (size_t)(p + n - u) >= 12 && memcmp(u, "\"usage\":null", 12) == 0 &&
           memmem(u + 7, (size_t)(p + n - u - 7), "\"usage\"", 7) == NULL;
}

/* Hands an event that passes_as_is to the caller, without its
 * "usage":null (the tree path deletes the key too, so both paths give
 * the caller the same chunk). */
static int emit_as_is(struct pcall *pc, const char *p, size_t n)
{
    char copy[8192];
    const char *u = memmem(p, n, ",\"usage\":null", 13);
    size_t cut = 13;

    if (u == NULL && (u = memmem(p, n, "\"usage\":null,", 13)) == NULL) {
        if (memmem(p, n, "\"usage\"", 7) != NULL)
            return 1;            /* {"usage":null} alone: the tree way */
        return pc->emit_json(pc->emit_ud, p, n);
    }
    if (n - cut > sizeof(copy))
        return 1;
    memcpy(copy, p, (size_t)(u - p));
    memcpy(copy + (u - p), u + cut, n - (size_t)(u - p) - cut);
    return pc->emit_json(pc->emit_ud, copy, n - cut);
}

/* n = 1: a chunk with choices went the fast way (see struct
 * openai_stream). One too large to keep is looked at now. */
static void keep_last(struct openai_stream *st, const char *p, size_t n)
{
    if (n <= sizeof(st->last)) {
        memcpy(st->last, p, n);
        st->last_len = n;
    } else {
        st->last_len = 0;
        st->last_fin = has_finish(p, n);
    }
}

static int on_event(void *ud, const struct sse_event *ev)
{
    struct pcall *pc = ud;
    struct openai_stream *st = pc->state;
    json_t *chunk, *choices;
    int r;

    if (st->done)
        return 0;
    if (st->want == 0) {
        st->want = common_int(pc->req, "n", 1);
        st->want = st->want > 1 ? st->want : 1;
    }
    st->events++;
    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        st->done = 1;
        return 0;
    }
    /* The first chunk always goes the tree way (the caller keeps its id
     * and model), here rather than in the caller, so every chunk that is
     * parsed as a tree is parsed under the JSON rule of common.c. */
    if (pc->emit_json && st->first && passes_as_is(ev->data, ev->data_len) &&
        (st->want == 1 || !has_finish(ev->data, ev->data_len)) &&
        (r = emit_as_is(pc, ev->data, ev->data_len)) <= 0) {
        if (r == 0)
            keep_last(st, ev->data, ev->data_len);
        /* A malformed event set pc->err; anything else: caller gone. */
        return r < 0 ? (pc->err.code ? r : LLMUX_ECLOSED) : 0;
    }
    if ((r = common_parse_event(pc, ev, &chunk)) < 0 || chunk == NULL)
        return r;
    if (json_object_get(chunk, "error")) {
        int code = body_error(pc, json_object_get(chunk, "error"), 0);

        json_decref(chunk);
        return code;
    }
    take_usage(pc, chunk);
    choices = json_object_get(chunk, "choices");
    note_finish(st, choices);
    if (json_is_array(choices) && json_array_size(choices) == 0) {
        json_decref(chunk);       /* a usage-only chunk */
        return 0;
    }
    st->first = 1;
    return pc->emit(pc->emit_ud, chunk) < 0 ? LLMUX_ECLOSED : 0;
}

/* SSE bytes -> chunks, passed on as they come (usage taken out). Shared
 * with azure.c, like the two hooks below. */
int openai_stream_feed(struct pcall *pc, const char *p, size_t n)
{
    return common_sse_feed(pc, sizeof(struct openai_stream), p, n,
                           on_event);
}

/* The end of the body: complete only with its terminator (see struct
 * openai_stream). */
int openai_stream_end(struct pcall *pc)
{
    struct openai_stream *st;
    json_int_t want = common_int(pc->req, "n", 1);
    int r;

    if ((r = common_sse_end(pc, sizeof(struct openai_stream), on_event)) < 0)
        return r;
    st = pc->state;
    if (st->last_len > 0)
        st->last_fin = has_finish(st->last, st->last_len);
    if (st->done || (want > 1 ? (json_int_t)st->nfinished >= want
                              : st->last_fin))
        return 0;
    if (st->events == 0)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s: the stream was cut: "
                          "a 200 answer without a single stream event (not "
                          "an event stream?)", pcall_name(pc));
    return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s: the stream was cut: it "
                      "ended without [DONE] or a finish_reason (truncated "
                      "answer)", pcall_name(pc));
}

void openai_stream_free(struct pcall *pc)
{
    common_sse_free(pc);
}

/* The {"error": …} of a non-2xx answer: the status decides over the
 * words, except for the two kinds of 400 that callers route on. */
static int status_error(struct pcall *pc, const json_t *err, long status)
{
    int code = body_error(pc, err, status);

    if (code != LLMUX_ECONTEXT && code != LLMUX_EPOLICY)
        pc->err.code = code = provider_code_for(status, "");
    return code;
}

/* An {"error": …} body -> pc->err; azure.c adds its retry hints. */
int openai_map_error(struct pcall *pc, const struct http_resp *r)
{
    return provider_map_error_json(pc, r, status_error);
}

const struct provider provider_openai = {
    .name          = "openai",
    .path          = "/chat/completions",
    .auth          = PROV_AUTH_BEARER,
    .key           = PROV_KEY_DEFAULT,
    .key_env       = "OPENAI_API_KEY",
    .framing       = PROV_FRAMING_SSE,
    .content_type  = "application/json",
    .stream_accept = "text/event-stream",
    .build_body  = openai_body,
    .parse       = openai_parse,
    .stream_feed = openai_stream_feed,
    .stream_end  = openai_stream_end,
    .stream_free = openai_stream_free,
    .map_error   = openai_map_error,
    .embed_path       = "/embeddings",
    .build_embed_body = openai_embed_body,
    .parse_embed      = openai_embed_parse,
};
