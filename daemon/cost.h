/* cost.h -- what a request cost, in USD, from its usage and the prices of
 * the deployment that answered (litellm_params / model_info
 * input_cost_per_token and output_cost_per_token, LiteLLM's custom
 * pricing). A deployment without prices costs 0. */
#ifndef LLMUX_COST_H
#define LLMUX_COST_H

#include <jansson.h>
#include <stdint.h>

struct deployment;

/* Token counts out of an OpenAI usage object (NULL: all 0). */
struct cost_tokens {
    int64_t prompt, completion, cached;
};

void   cost_tokens(const json_t *usage, struct cost_tokens *ret);
/* uncached prompt x input + cached x input + completion x output. */
double cost_of(const struct deployment *d, const json_t *usage);
/* The same from tokens already read. */
double cost_of_tokens(const struct deployment *d,
                      const struct cost_tokens *t);

#endif
