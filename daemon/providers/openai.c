/* openai.c -- the OpenAI chat-completions dialect, and through presets.c
 * every OpenAI-compatible provider (Mistral, Groq, DeepSeek, xAI, …).
 * Owns: building /chat/completions requests (the hub format is OpenAI's, so
 * the body passes through with the upstream model name and the key), and
 * reading bodies and SSE streams back, normalising where compatible
 * providers drift (usage placement, x_groq). The body builder and the
 * readers are shared with azure.c through openai.h. */
#include "common.h"
#include "config.h"
#include "hub.h"
#include "openai.h"
#include "presets.h"
#include "provider.h"
#include "secret.h"
#include "sse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Keys of the request that steer llmux (LiteLLM's router and client-side
 * parameters). They never reach the upstream; api_base and api_key in
 * particular would let a caller send the daemon's key elsewhere. */
static const char *const control_keys[] = {
    "num_retries", "fallbacks", "context_window_fallbacks", "timeout",
    "disable_fallbacks", "drop_params", "mock_response", "api_base",
    "base_url", "api_key", "api_version", "caching", "cache",
    "max_retries", "metadata_llmux", NULL,
};

struct openai_stream {
    struct common_sse_stream h;      /* first: see common.h */
    int                      done;   /* saw data: [DONE] */
};

static int is_control_key(const char *k)
{
    for (size_t i = 0; control_keys[i]; i++)
        if (strcmp(k, control_keys[i]) == 0)
            return 1;
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
    int r;

    /* A shallow copy: only top-level keys change. */
    if ((body = json_object()) == NULL)
        return pcall_oom(pc);
    json_object_foreach_safe((json_t *)pc->req, tmp, k, v)
        if (!is_control_key(k))
            json_object_set(body, k, v);
    json_object_set_new(body, "model", json_string(d->upstream_model));
    if (pc->stream && !(flags & OPENAI_BODY_NO_STREAM_OPTIONS) &&
        !(d->preset->quirks & QUIRK_NO_STREAM_OPTIONS)) {
        /* Always ask for usage: the done frame and the ledger need it.
         * Whether the caller sees the usage chunk is request.c's call. */
        json_t *so = json_object_get(body, "stream_options");

        so = json_is_object(so) ? json_copy(so) : json_object();
        json_object_set_new(so, "include_usage", json_true());
        json_object_set_new(body, "stream_options", so);
    }
    r = common_put_json(pc, body, out);
    json_decref(body);
    return r;
}

static int openai_build(struct pcall *pc, struct http_req *out)
{
    const struct deployment *d = pc->dep;
    int r;

    /* openai/ pointed at another server (vLLM, llama.cpp…) may need no
     * key. */
    if (d->api_key == NULL && provider_key_required(d))
        return provider_no_key(pc, "OPENAI_API_KEY");
    if ((r = openai_build_body(pc, 0, &out->body)) < 0)
        return r;
    r = buf_addf(&out->url, "%s/chat/completions", d->api_base);
    if (r == 0)
        r = http_header_add(out, "Content-Type: application/json");
    if (r == 0 && pc->stream)
        r = http_header_add(out, "Accept: text/event-stream");
    if (r == 0 && d->api_key)
        r = http_header_secret(out, "Authorization: Bearer ", d->api_key);
    if (r < 0)
        return pcall_oom(pc);
    return 0;
}

/* An {"error": …} object where a completion or chunk was expected. */
static int body_error(struct pcall *pc, json_t *err, long status)
{
    const char *m = json_is_object(err) ?
                    hub_str(err, "message") : json_string_value(err);
    const char *code = json_is_object(err) ? hub_str(err, "code") : NULL;
    const char *type = json_is_object(err) ? hub_str(err, "type") : NULL;
    char text[400];
    long st = status;

    snprintf(text, sizeof(text), "%s%s%s%s%s", m ? m : "unknown error",
             code ? " (" : "", code ? code : "", code ? ")" : "",
             "");
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

static int on_event(void *ud, const struct sse_event *ev)
{
    struct pcall *pc = ud;
    struct openai_stream *st = pc->state;
    json_t *chunk, *choices;

    if (st->done || ev->data_len == 0)
        return 0;
    if (ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0) {
        st->done = 1;
        return 0;
    }
    if ((chunk = common_parse_json(pc, ev->data, ev->data_len,
                                   "stream event")) == NULL)
        return pc->err.code;
    if (json_object_get(chunk, "error")) {
        int code = body_error(pc, json_object_get(chunk, "error"), 0);

        json_decref(chunk);
        return code;
    }
    take_usage(pc, chunk);
    choices = json_object_get(chunk, "choices");
    if (json_is_array(choices) && json_array_size(choices) == 0) {
        json_decref(chunk);       /* a usage-only chunk */
        return 0;
    }
    return pc->emit(pc->emit_ud, chunk) < 0 ? LLMUX_ECLOSED : 0;
}

/* SSE bytes -> chunks, passed on as they come (usage taken out). Shared
 * with azure.c, like the two hooks below. */
int openai_stream_feed(struct pcall *pc, const char *p, size_t n)
{
    return common_sse_feed(pc, sizeof(struct openai_stream), p, n,
                           on_event);
}

/* An empty 200 stream has nothing to say: no error. */
int openai_stream_end(struct pcall *pc)
{
    return common_sse_end(pc, sizeof(struct openai_stream), on_event);
}

void openai_stream_free(struct pcall *pc)
{
    common_sse_free(pc);
}

/* An {"error": …} body -> pc->err; azure.c adds its retry hints. */
int openai_map_error(struct pcall *pc, const struct http_resp *r)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL);
    int code;

    if (json_is_object(j) && json_object_get(j, "error")) {
        code = body_error(pc, json_object_get(j, "error"), r->status);
        /* The status decides over the words, except for the two kinds of
         * 400 that callers route on. */
        if (code != LLMUX_ECONTEXT && code != LLMUX_EPOLICY)
            pc->err.code = code = provider_code_for(r->status, "");
    } else {
        code = provider_map_error_default(pc, r);
    }
    pc->err.retry_after = r->retry_after;
    json_decref(j);
    return code;
}

const struct provider provider_openai = {
    .name        = "openai",
    .build       = openai_build,
    .parse       = openai_parse,
    .stream_feed = openai_stream_feed,
    .stream_end  = openai_stream_end,
    .stream_free = openai_stream_free,
    .map_error   = openai_map_error,
};
