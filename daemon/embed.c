/* embed.c -- embeddings calls (see embed.h): the body checks, the
 * canonical answer and its float32 msgpack form, and the attempt's
 * dispatch to a dialect's embed_* hooks. The request itself runs the
 * same stages as a chat (request.c, kind REQ_EMBED). */
#include "embed.h"
#include "config.h"
#include "hub.h"
#include "llmux-errno.h"
#include "presets.h"
#include "proto.h"
#include "provider.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- the request -------------------------------------------------------- */

static int is_tokens(const json_t *a)
{
    size_t i;
    json_t *v;

    if (!json_is_array(a) || json_array_size(a) == 0)
        return 0;
    json_array_foreach(a, i, v)
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return 0;
    return 1;
}

static int check_input(const json_t *in, char *msg, size_t len)
{
    size_t i;
    json_t *v;

    if (json_is_string(in) || is_tokens(in))
        return 0;
    if (!json_is_array(in) || json_array_size(in) == 0) {
        snprintf(msg, len, "the request needs \"input\": a string, a "
                 "non-empty list of strings, or token arrays");
        return LLMUX_EBADREQ;
    }
    if (json_array_size(in) > EMBED_MAX_INPUTS) {
        snprintf(msg, len, "\"input\" has %zu items; at most %d",
                 json_array_size(in), EMBED_MAX_INPUTS);
        return LLMUX_EBADREQ;
    }
    json_array_foreach(in, i, v)
        if (!json_is_string(v) && !is_tokens(v)) {
            snprintf(msg, len, "input[%zu] must be a string or a non-empty "
                     "array of token integers", i);
            return LLMUX_EBADREQ;
        }
    return 0;
}

int embed_validate(const json_t *body, char *msg, size_t len)
{
    const char *fmt = hub_str(body, "encoding_format");
    json_t *d = json_object_get(body, "dimensions");

    if (!json_is_string(json_object_get(body, "model"))) {
        snprintf(msg, len, "the request needs a \"model\" (a string)");
        return LLMUX_EBADREQ;
    }
    if (json_object_get(body, "encoding_format") &&
        (fmt == NULL || (strcmp(fmt, "float") && strcmp(fmt, "base64")))) {
        snprintf(msg, len, "\"encoding_format\" must be \"float\" or "
                 "\"base64\"");
        return LLMUX_EBADREQ;
    }
    if (d && !json_is_null(d) && (!json_is_integer(d) ||
        json_integer_value(d) < 1 || json_integer_value(d) > EMBED_MAX_DIMS)) {
        snprintf(msg, len, "\"dimensions\" must be an integer from 1 to %d",
                 EMBED_MAX_DIMS);
        return LLMUX_EBADREQ;
    }
    return check_input(json_object_get(body, "input"), msg, len);
}

/* How many inputs body has (a validated body). */
static size_t embed_count(const json_t *body)
{
    json_t *in = json_object_get(body, "input");

    return json_is_string(in) || is_tokens(in) ? 1 : json_array_size(in);
}

json_t *embed_inputs(const json_t *body)
{
    json_t *in = json_object_get(body, "input");

    /* One string, or one token array, is one input. */
    if (json_is_string(in) || is_tokens(in))
        return json_pack("[O]", in);
    return json_copy(in);
}

int embed_all_text(const json_t *inputs)
{
    size_t i;
    json_t *v;

    json_array_foreach(inputs, i, v)
        if (!json_is_string(v))
            return 0;
    return 1;
}

/* ---- dialects that take a few inputs a call ---------------------------- */

static int check_vector(struct pcall *pc, const json_t *vec, size_t i)
{
    size_t j;
    json_t *v;

    if (!json_is_array(vec) || json_array_size(vec) == 0 ||
        json_array_size(vec) > EMBED_MAX_DIMS)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s sent no vector for "
                          "input %zu", pcall_name(pc), i);
    json_array_foreach(vec, j, v)
        if (!json_is_number(v) || !isfinite(json_number_value(v)))
            return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s sent a vector "
                              "with a value that is not a number (input "
                              "%zu)", pcall_name(pc), i);
    return 0;
}

static size_t batch_of(const struct pcall *pc)
{
    return pc->prov->embed_batch ? pc->prov->embed_batch(pc) : 0;
}

json_t *embed_part_texts(struct pcall *pc)
{
    json_t *in = embed_inputs(pc->req), *part;
    size_t n, batch = batch_of(pc), i;

    if (in == NULL) {
        pcall_oom(pc);
        return NULL;
    }
    if (!embed_all_text(in)) {
        json_decref(in);
        pcall_fail(pc, LLMUX_EBADREQ, 0, "%s takes embeddings input as "
                   "text, not token arrays", pcall_name(pc));
        return NULL;
    }
    n = json_array_size(in);
    if (batch == 0 || (pc->embed_first == 0 && n <= batch))
        return in;
    if ((part = json_array()) == NULL) {
        json_decref(in);
        pcall_oom(pc);
        return NULL;
    }
    for (i = pc->embed_first; i < n && i < pc->embed_first + batch; i++)
        json_array_append(part, json_array_get(in, i));
    json_decref(in);
    return part;
}

int embed_collect(struct pcall *pc, const json_t *vectors,
                  long long tokens, json_t **ret)
{
    size_t n = embed_count(pc->req), batch = batch_of(pc), want, i;
    json_t *v;
    int rc;

    *ret = NULL;
    if (batch == 0)
        return embed_answer(pc, vectors, tokens, ret);
    want = n - pc->embed_first < batch ? n - pc->embed_first : batch;
    if (json_array_size(vectors) != want)
        return pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s sent %zu vectors "
                          "for %zu inputs (from input %zu)", pcall_name(pc),
                          json_array_size(vectors), want, pc->embed_first);
    /* A bad vector fails the attempt now, not after the other calls. */
    json_array_foreach(vectors, i, v)
        if (check_vector(pc, v, pc->embed_first + i) < 0)
            return pc->err.code;
    if (pc->embed_done == NULL && (pc->embed_done = json_array()) == NULL)
        return pcall_oom(pc);
    json_array_foreach(vectors, i, v)
        if (json_array_append(pc->embed_done, (json_t *)v) < 0)
            return pcall_oom(pc);
    pc->embed_tokens += tokens > 0 ? tokens : 0;
    pc->embed_first += want;
    if (pc->embed_first < n)
        return EMBED_MORE;
    rc = embed_answer(pc, pc->embed_done, pc->embed_tokens, ret);
    json_decref(pc->embed_done);
    pc->embed_done = NULL;
    return rc;
}

/* ---- reading the dialects' answers -------------------------------------- */

const json_t *embed_dig(const json_t *j, const char *const *path)
{
    for (; path && *path && j; path++)
        j = json_object_get(j, *path);
    return path ? j : NULL;
}

json_t *embed_pick(const json_t *items, const char *const *vec_path,
                   const char *const *tok_path, double *tokens)
{
    size_t n = json_array_size(items), i;
    json_t *vecs = json_array(), *it;

    for (i = 0; vecs && i < n; i++)
        if (json_array_append_new(vecs, json_null()) < 0) {
            json_decref(vecs);
            return NULL;
        }
    json_array_foreach(items, i, it) {
        const json_t *ix = json_object_get(it, "index");
        const json_t *v = embed_dig(it, vec_path);
        size_t k = json_is_integer(ix) && json_integer_value(ix) >= 0 ?
                   (size_t)json_integer_value(ix) : i;

        if (vecs && v && k < n)
            json_array_set(vecs, k, (json_t *)v);
        if (tok_path && tokens)
            *tokens += json_number_value(embed_dig(it, tok_path));
    }
    return vecs;
}

int embed_parse_list(struct pcall *pc, const struct http_resp *r,
                     const char *list_key, const char *const *vec_path,
                     const char *const *item_tok,
                     const char *const *body_tok, json_t **ret)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL), *vecs;
    const json_t *list = json_object_get(j, list_key);
    double tokens = 0;
    int rc;

    *ret = NULL;
    if (!json_is_array(list)) {
        json_decref(j);
        return pcall_fail(pc, LLMUX_EUNAVAIL, r->status, "%s returned an "
                          "embeddings answer without %s", pcall_name(pc),
                          list_key);
    }
    if ((vecs = embed_pick(list, vec_path, item_tok, &tokens)) == NULL) {
        json_decref(j);
        return pcall_oom(pc);
    }
    tokens += json_number_value(embed_dig(j, body_tok));
    rc = embed_collect(pc, vecs, tokens > 0 ? (long long)tokens : 0, ret);
    json_decref(vecs);
    json_decref(j);
    return rc;
}

/* ---- the answer --------------------------------------------------------- */

/* vec as float32: a JSON array of the rounded values, or base64 of
 * their little-endian bytes (OpenAI's encoding_format: base64). */
static json_t *one_vector(const json_t *vec, int b64)
{
    size_t i;
    struct buf raw, text;
    json_t *out, *v;

    if (!b64) {
        if ((out = json_array()) == NULL)
            return NULL;
        json_array_foreach(vec, i, v)
            if (json_array_append_new(out, json_real(
                    (double)(float)json_number_value(v))) < 0) {
                json_decref(out);
                return NULL;
            }
        return out;
    }
    buf_init(&raw, (size_t)EMBED_MAX_DIMS * 4);
    buf_init(&text, (size_t)EMBED_MAX_DIMS * 8);
    out = NULL;
    json_array_foreach(vec, i, v) {
        float f = (float)json_number_value(v);
        unsigned char le[4];
        uint32_t u;

        memcpy(&u, &f, 4);
        for (int k = 0; k < 4; k++)
            le[k] = (unsigned char)(u >> (8 * k));
        if (buf_add(&raw, le, 4) < 0)
            goto done;
    }
    if (proto_base64(&text, raw.p ? raw.p : "", raw.len) == 0)
        out = json_stringn(text.p ? text.p : "", text.len);
done:
    buf_free(&raw);
    buf_free(&text);
    return out;
}


int embed_answer(struct pcall *pc, const json_t *vectors,
                 long long prompt_tokens, json_t **ret)
{
    int b64 = hub_str(pc->req, "encoding_format") &&
              strcmp(hub_str(pc->req, "encoding_format"), "base64") == 0;
    json_t *data = json_array(), *inputs = embed_inputs(pc->req), *vec;
    size_t i;

    *ret = NULL;
    if (data == NULL || inputs == NULL) {
        json_decref(data);
        json_decref(inputs);
        return pcall_oom(pc);
    }
    if (json_array_size(vectors) != json_array_size(inputs)) {
        json_decref(data);
        pcall_fail(pc, LLMUX_EUNAVAIL, 200, "%s sent %zu vectors for %zu "
                   "inputs", pcall_name(pc), json_array_size(vectors),
                   json_array_size(inputs));
        json_decref(inputs);
        return pc->err.code;
    }
    json_decref(inputs);
    json_array_foreach(vectors, i, vec) {
        json_t *e;

        if (check_vector(pc, vec, i) < 0 ||
            (e = one_vector(vec, b64)) == NULL) {
            json_decref(data);
            return pc->err.code ? pc->err.code : pcall_oom(pc);
        }
        json_array_append_new(data, json_pack("{s:s,s:I,s:o}", "object",
                              "embedding", "index", (json_int_t)i,
                              "embedding", e));
    }
    if (prompt_tokens < 0)
        prompt_tokens = 0;
    pcall_set_usage(pc, json_pack("{s:I,s:I}", "prompt_tokens",
                                  (json_int_t)prompt_tokens, "total_tokens",
                                  (json_int_t)prompt_tokens));
    *ret = json_pack("{s:s,s:o,s:s,s:O}", "object", "list", "data", data,
                     "model", pc->dep->upstream_model, "usage",
                     pc->usage ? pc->usage : json_object());
    return *ret ? 0 : pcall_oom(pc);
}

/* ---- the attempt -------------------------------------------------------- */

int embed_supported(struct pcall *pc)
{
    const struct provider *p = pc->prov;
    const struct preset *ps = pc->dep->preset;

    /* The OpenAI wire format has embeddings; not every upstream that
     * speaks it does (presets.c marks those that do). */
    if (strcmp(ps->dialect, "openai") == 0 &&
        !(ps->quirks & QUIRK_EMBEDDINGS))
        return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s offers no embeddings "
                          "API (deployment %s)", pcall_name(pc),
                          pc->dep->id);
    if (p->flags & PROV_LOCAL ? p->run_local_embed != NULL
                              : p->build_embed_body && p->parse_embed)
        return 0;
    return pcall_fail(pc, LLMUX_EBADREQ, 0, "%s does not offer embeddings "
                      "through llmux (deployment %s)", pcall_name(pc),
                      pc->dep->id);
}

int embed_run_local(struct pcall *pc, json_t **ret)
{
    return pc->prov->run_local_embed(pc, ret);
}

int embed_parse(struct pcall *pc, const struct http_resp *r, json_t **ret)
{
    return pc->prov->parse_embed(pc, r, ret);
}

/* ---- msgpack ------------------------------------------------------------ */

static int pack_f32(msgpack_packer *pk, const json_t *vec)
{
    size_t i;
    json_t *v;

    msgpack_pack_array(pk, (uint32_t)json_array_size(vec));
    json_array_foreach(vec, i, v)
        if (msgpack_pack_float(pk, (float)json_number_value(v)) < 0)
            return -1;
    return 0;
}

/* One data item: its "embedding" array as float32, the rest as is. */
static int pack_item(msgpack_packer *pk, const json_t *item)
{
    const char *k;
    json_t *v;

    if (!json_is_object(item))
        return hub_pack(pk, item);
    msgpack_pack_map(pk, (uint32_t)json_object_size(item));
    json_object_foreach((json_t *)item, k, v) {
        proto_pack_str(pk, k);
        if ((strcmp(k, "embedding") == 0 && json_is_array(v) ?
             pack_f32(pk, v) : hub_pack(pk, v)) < 0)
            return -1;
    }
    return 0;
}

int embed_pack(msgpack_packer *pk, const json_t *answer)
{
    const char *k;
    json_t *v, *item;
    size_t i;

    msgpack_pack_map(pk, (uint32_t)json_object_size(answer));
    json_object_foreach((json_t *)answer, k, v) {
        proto_pack_str(pk, k);
        if (strcmp(k, "data") != 0 || !json_is_array(v)) {
            if (hub_pack(pk, v) < 0)
                return -1;
            continue;
        }
        msgpack_pack_array(pk, (uint32_t)json_array_size(v));
        json_array_foreach(v, i, item)
            if (pack_item(pk, item) < 0)
                return -1;
    }
    return 0;
}
