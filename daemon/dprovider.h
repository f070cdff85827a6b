/* dprovider.h -- which provider serves a deployment, as LiteLLM decides:
 * custom_llm_provider, else the model's prefix, else LiteLLM's model
 * table (litellm_provider of the bare name), else its known name
 * prefixes (gpt-, claude-, …).
 * Owns: that decision and the words for a deployment llmux cannot serve
 * (a provider llmux lacks, one LiteLLM does not know either, a model that
 * is not a chat model). Such a deployment is kept, marked unusable, so
 * its group serves the others; it never refuses the file. */
#ifndef LLMUX_DPROVIDER_H
#define LLMUX_DPROVIDER_H

#include <stddef.h>

struct config;
struct deployment;

/* Sets d->preset, d->prov and d->upstream_model from d->model,
 * litellm_params.custom_llm_provider and model_info.mode. Returns 0 when
 * llmux serves it; 1 when it cannot: d->unusable and a named preset of
 * its own are set and msg says why ("… not supported by llmux"); < 0 on
 * failure (ENOMEM). */
int dprovider_bind(const struct config *c, struct deployment *d, char *msg,
                   size_t len);

/* Marks d unusable for why (copied), with a preset of its own named
 * prefix (len bytes) so status and metrics can name it. 0 or -ENOMEM. */
int dprovider_unusable(struct deployment *d, const char *prefix, size_t len,
                       const char *why);

#endif
