/* mock.c -- the built-in mock provider (LiteLLM's mock_response), so llmux
 * can be tried and tested without any key or network.
 * Owns: answering "mock/…" models locally: mock/echo repeats the last user
 * message; other names answer the deployment's or the request's
 * mock_response, or a fixed sentence. A mock_response of the form
 * "error:TYPE" (e.g. error:rate_limit) fails with that error type. Streams
 * come out word by word, as several chunks. Embeddings are vectors made
 * from a hash of each input (FNV-1a), the same every time. */
#include "common.h"
#include "config.h"
#include "embed.h"
#include "hub.h"
#include "opts.h"
#include "proto.h"
#include "provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MOCK_DEFAULT "This is a mock response from llmux."

static void answer_text(const struct pcall *pc, struct buf *out)
{
    const char *model = pc->dep->upstream_model;
    /* The request's mock_response is a control key: opts.c took it out
     * of the body (the body's own is read for unit tests without opts). */
    const char *fixed = pc->opts ? pc->opts->mock_response :
                        hub_str(pc->req, "mock_response");
    json_t *msgs = json_object_get(pc->req, "messages");

    if (fixed == NULL)
        fixed = pc->dep->mock_response;
    if (fixed) {
        buf_adds(out, fixed);
        return;
    }
    if (strcmp(model, "echo") == 0) {
        for (size_t i = json_array_size(msgs); i-- > 0;) {
            json_t *m = json_array_get(msgs, i);

            if (strcmp(hub_str(m, "role") ? hub_str(m, "role") : "",
                       "user") == 0) {
                common_content_text(json_object_get(m, "content"), out);
                return;
            }
        }
    }
    buf_adds(out, MOCK_DEFAULT);
}

static json_int_t count_words(const char *s)
{
    json_int_t n = 0;
    int in = 0;

    for (; *s; s++) {
        int sp = *s == ' ' || *s == '\n' || *s == '\t';

        if (!sp && !in)
            n++;
        in = !sp;
    }
    return n;
}

static json_int_t prompt_words(const struct pcall *pc)
{
    json_t *msgs = json_object_get(pc->req, "messages"), *m;
    json_int_t n = 0;
    struct buf b;
    size_t i;

    buf_init(&b, 1u << 24);
    json_array_foreach(msgs, i, m) {
        buf_reset(&b);
        common_content_text(json_object_get(m, "content"), &b);
        n += count_words(b.p ? b.p : "");
    }
    buf_free(&b);
    return n;
}

/* "error:rate_limit" -> that error, so tests and demos can see failures. */
static int mock_error(struct pcall *pc, const char *text)
{
    const char *type = text + 6;
    int code = proto_err_from_type(type, strlen(type));

    if (code == LLMUX_ERATELIMIT)
        pc->err.retry_after = 1;
    return pcall_fail(pc, code, proto_err_status(code), "mock: %s "
                      "(mock_response asked for it)", type);
}

static int stream_words(struct pcall *pc, const char *id, const char *model,
                        json_int_t created, const char *text)
{
    const char *p = text, *end;
    int first = 1;

    do {
        /* A word with the spaces after it, so the pieces concatenate. */
        end = p;
        while (*end && *end != ' ')
            end++;
        while (*end == ' ')
            end++;
        {
            json_t *delta = json_pack("{s:s%}", "content", p,
                                      (size_t)(end - p));

            if (first)
                json_object_set_new(delta, "role", json_string("assistant"));
            first = 0;
            if (pc->emit(pc->emit_ud, hub_chunk_delta(id, model, created,
                                                      delta, NULL)) < 0)
                return LLMUX_ECLOSED;
        }
        p = end;
    } while (*p);
    return pc->emit(pc->emit_ud, hub_chunk_delta(id, model, created,
                                                 json_object(), "stop"));
}

static int mock_run(struct pcall *pc, json_t **ret)
{
    char id[64], model[160];
    json_int_t created = (json_int_t)time(NULL);
    struct buf text;
    int r = 0;

    *ret = NULL;
    buf_init(&text, 1u << 24);
    answer_text(pc, &text);
    if (text.p == NULL)
        buf_adds(&text, "");
    if (strncmp(text.p, "error:", 6) == 0) {
        r = mock_error(pc, text.p);
        buf_free(&text);
        return r;
    }
    hub_new_id(id, sizeof(id), "chatcmpl-mock-", pc->seq);
    snprintf(model, sizeof(model), "mock/%s", pc->dep->upstream_model);
    pcall_set_usage(pc, hub_usage(prompt_words(pc), count_words(text.p)));
    if (pc->stream) {
        if (stream_words(pc, id, model, created, text.p) < 0)
            r = pcall_fail(pc, LLMUX_ECLOSED, 0, "the client went away");
    } else {
        *ret = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:s, s:s}, s:s}],"
                         " s:O}", "id", id, "object", "chat.completion",
                         "created", created, "model", model, "choices",
                         "index", 0, "message", "role", "assistant",
                         "content", text.p, "finish_reason", "stop",
                         "usage", pc->usage);
    }
    buf_free(&text);
    return r;
}

#define MOCK_DIMS 8

/* Value j of in's vector, in [-1, 1): FNV-1a over the input's JSON text
 * and j, so equal inputs always get equal vectors and float32 holds each
 * value exactly (a multiple of 2^-20). */
static double mock_value(const char *text, size_t j)
{
    uint64_t h = 1469598103934665603ull;

    for (const char *p = text; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (int k = 0; k < 8; k++)
        h = (h ^ ((j >> (8 * k)) & 0xff)) * 1099511628211ull;
    return (double)(h >> 44) / (double)(1u << 19) - 1.0;
}

static int mock_embed(struct pcall *pc, json_t **ret)
{
    json_t *inputs = embed_inputs(pc->req), *vecs = json_array(), *in;
    json_t *d = json_object_get(pc->req, "dimensions");
    size_t dims = json_is_integer(d) ? (size_t)json_integer_value(d)
                                     : MOCK_DIMS, i;
    json_int_t tokens = 0;
    int r;

    *ret = NULL;
    if (inputs == NULL || vecs == NULL) {
        json_decref(inputs);
        json_decref(vecs);
        return pcall_oom(pc);
    }
    json_array_foreach(inputs, i, in) {
        char *text = json_dumps(in, JSON_COMPACT | JSON_ENCODE_ANY);
        json_t *v = json_array();

        for (size_t j = 0; text && v && j < dims; j++)
            json_array_append_new(v, json_real(mock_value(text, j)));
        tokens += json_is_string(in) ? count_words(json_string_value(in))
                                     : (json_int_t)json_array_size(in);
        free(text);
        json_array_append_new(vecs, v);
    }
    r = embed_answer(pc, vecs, tokens, ret);
    json_decref(inputs);
    json_decref(vecs);
    if (r == 0)
        json_object_set_new(*ret, "model", json_sprintf("mock/%s",
                            pc->dep->upstream_model));
    return r;
}

const struct provider provider_mock = {
    .name      = "mock",
    .flags     = PROV_LOCAL,
    .run_local = mock_run,
    .run_local_embed = mock_embed,
};
