/* vertex_embed.c -- embeddings on Vertex AI: Google's embedding models
 * (text-embedding-004/005, text-multilingual-embedding-002,
 * gemini-embedding-001) through POST …/publishers/google/models/M:predict,
 * as the Text Embeddings API reference gives it. Owns: the :predict body
 * ({"instances": [{"content", "task_type"?, "title"?}], "parameters":
 * {"outputDimensionality"?, "autoTruncate"?}}), the batch size (250
 * texts a call, one for gemini-embedding-*) and reading
 * {"predictions": [{"embeddings": {"values", "statistics":
 * {"token_count"}}}]} back. The URL, the token and the errors are
 * vertex.c's. */
#include "embed_native.h"
#include "common.h"
#include "config.h"
#include "embed.h"
#include "hub.h"
#include "vertex.h"

#include <string.h>

/* The Text Embeddings API takes at most this many instances a call. */
#define VERTEX_EMBED_MAX 250

size_t vertex_embed_batch(const struct pcall *pc)
{
    /* "gemini-embedding-001 supports one instance per request." */
    return strncmp(pc->dep->upstream_model, "gemini-embedding", 16) == 0 ?
           1 : VERTEX_EMBED_MAX;
}

/* One instance: the text, the task and the title the caller gave. */
static json_t *instance(struct pcall *pc, json_t *text)
{
    const char *task = gemini_task(pc), *title = hub_str(pc->req, "title");
    json_t *o = json_pack("{s:O}", "content", text);

    if (o && task)
        json_object_set_new(o, "task_type", json_string(task));
    if (o && title)
        json_object_set_new(o, "title", json_string(title));
    return o;
}

/* outputDimensionality from dimensions; autoTruncate from auto_truncate
 * (or the API's own spelling). NULL when the caller set neither. */
static json_t *parameters(const struct pcall *pc)
{
    json_t *p = json_object(), *d = json_object_get(pc->req, "dimensions");
    json_t *t = json_object_get(pc->req, "auto_truncate");

    if (t == NULL)
        t = json_object_get(pc->req, "autoTruncate");
    if (p && json_is_integer(d))
        json_object_set(p, "outputDimensionality", d);
    if (p && json_is_boolean(t))
        json_object_set(p, "autoTruncate", t);
    if (p && json_object_size(p) == 0) {
        json_decref(p);
        return NULL;
    }
    return p;
}

int vertex_embed_body(struct pcall *pc, struct buf *out)
{
    const struct vertex_dep *v = pc->dep->vertex;
    json_t *in, *insts, *t, *b, *p;
    size_t i;

    if (v && v->error)
        return pcall_fail(pc, LLMUX_EAUTH, 0, "%s", v->error);
    if ((in = embed_part_texts(pc)) == NULL)
        return pc->err.code;
    if ((insts = json_array()) == NULL) {
        json_decref(in);
        return pcall_oom(pc);
    }
    json_array_foreach(in, i, t)
        json_array_append_new(insts, instance(pc, t));
    json_decref(in);
    b = json_pack("{s:o}", "instances", insts);
    if (b && (p = parameters(pc)) != NULL)
        json_object_set_new(b, "parameters", p);
    return common_put_json(pc, b, out);
}

int vertex_embed_parse(struct pcall *pc, const struct http_resp *r,
                       json_t **ret)
{
    static const char *const vec[] = { "embeddings", "values", NULL };
    /* A protobuf Value: a JSON number, maybe written 7.0. */
    static const char *const tok[] = { "embeddings", "statistics",
                                       "token_count", NULL };

    return embed_parse_list(pc, r, "predictions", vec, tok, NULL, ret);
}
