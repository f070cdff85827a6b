/* openai_embed.c -- embeddings in OpenAI's wire format (POST /embeddings),
 * for OpenAI, Azure and the OpenAI-compatible presets that offer them.
 * Owns: the upstream body (the caller's, with the upstream model, always
 * encoding_format float: llmux makes base64 itself, so every dialect
 * answers both) and reading the list of embedding objects back. */
#include "openai.h"
#include "common.h"
#include "config.h"
#include "embed.h"
#include "hub.h"

#include <stdlib.h>
#include <string.h>

int openai_embed_body(struct pcall *pc, struct buf *out)
{
    json_t *b = json_copy((json_t *)pc->req);
    char *text;
    int r;

    if (b == NULL)
        return pcall_oom(pc);
    json_object_set_new(b, "model", json_string(pc->dep->upstream_model));
    json_object_set_new(b, "encoding_format", json_string("float"));
    text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    if (text == NULL)
        return pcall_oom(pc);
    r = buf_adds(out, text) < 0 ? pcall_oom(pc) : 0;
    free(text);
    return r;
}

/* data[] in index order (OpenAI sends them so; an index is honoured all
 * the same), each embedding an array of numbers. */
int openai_embed_parse(struct pcall *pc, const struct http_resp *r,
                       json_t **ret)
{
    json_t *j = json_loadb(r->body, r->len, 0, NULL), *data, *vecs, *it;
    size_t i, n;
    int rc;

    *ret = NULL;
    data = json_object_get(j, "data");
    if (!json_is_array(data)) {
        json_decref(j);
        return pcall_fail(pc, LLMUX_EUNAVAIL, r->status, "%s returned an "
                          "embeddings answer without data",
                          pcall_name(pc));
    }
    n = json_array_size(data);
    if ((vecs = json_array()) == NULL) {
        json_decref(j);
        return pcall_oom(pc);
    }
    for (i = 0; i < n; i++)
        json_array_append_new(vecs, json_null());
    json_array_foreach(data, i, it) {
        json_t *ix = json_object_get(it, "index");
        size_t k = json_is_integer(ix) ? (size_t)json_integer_value(ix) : i;

        if (k < n)
            json_array_set(vecs, k, json_object_get(it, "embedding"));
    }
    rc = embed_answer(pc, vecs, json_integer_value(json_object_get(
                      json_object_get(j, "usage"), "prompt_tokens")), ret);
    json_decref(vecs);
    json_decref(j);
    return rc;
}
