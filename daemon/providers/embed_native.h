/* embed_native.h -- the embed_* hooks of the native dialects (Ollama,
 * Cohere v2, Gemini, Bedrock Cohere Embed); see embed_native.c. */
#ifndef LLMUX_PROVIDERS_EMBED_NATIVE_H
#define LLMUX_PROVIDERS_EMBED_NATIVE_H

#include "buf.h"
#include "provider.h"

int ollama_embed_body(struct pcall *pc, struct buf *out);
int ollama_embed_parse(struct pcall *pc, const struct http_resp *r,
                       json_t **ret);
int cohere_embed_body(struct pcall *pc, struct buf *out);
int cohere_embed_parse(struct pcall *pc, const struct http_resp *r,
                       json_t **ret);
int gemini_embed_body(struct pcall *pc, struct buf *out);
int gemini_embed_parse(struct pcall *pc, const struct http_resp *r,
                       json_t **ret);
int bedrock_embed_body(struct pcall *pc, struct buf *out);
int bedrock_embed_parse(struct pcall *pc, const struct http_resp *r,
                        json_t **ret);

#endif
