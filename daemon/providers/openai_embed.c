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


int openai_embed_body(struct pcall *pc, struct buf *out)
{
    json_t *b = json_copy((json_t *)pc->req);

    if (b == NULL)
        return pcall_oom(pc);
    json_object_set_new(b, "model", json_string(pc->dep->upstream_model));
    json_object_set_new(b, "encoding_format", json_string("float"));
    return common_put_json(pc, b, out);
}

/* data[] in index order (OpenAI sends them so; an index is honoured all
 * the same), each embedding an array of numbers. */
int openai_embed_parse(struct pcall *pc, const struct http_resp *r,
                       json_t **ret)
{
    static const char *const vec[] = { "embedding", NULL };
    static const char *const tok[] = { "usage", "prompt_tokens", NULL };

    return embed_parse_list(pc, r, "data", vec, NULL, tok, ret);
}
