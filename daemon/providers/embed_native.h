/* embed_native.h -- the embed_* hooks of the native dialects (Ollama,
 * Cohere v2, Gemini, Bedrock Cohere Embed and Titan: embed_native.c;
 * Vertex AI: vertex_embed.c). */
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
size_t bedrock_embed_batch(const struct pcall *pc);
/* Cohere-style input_type (or task_type) as Gemini's TaskType; NULL:
 * none given. Vertex AI's task_type is the same. */
const char *gemini_task(const struct pcall *pc);
/* Vertex AI :predict of Google's embedding models (vertex_embed.c). */
int vertex_embed_body(struct pcall *pc, struct buf *out);
int vertex_embed_parse(struct pcall *pc, const struct http_resp *r,
                       json_t **ret);
size_t vertex_embed_batch(const struct pcall *pc);

#endif
