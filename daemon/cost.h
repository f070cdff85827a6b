/* cost.h -- what a request cost, in USD, from its usage and the price of
 * the deployment that answered (d->price: LiteLLM's price table under the
 * deployment's own price fields, resolved at load; dprice.h). LiteLLM's
 * generic algorithm; a deployment without prices costs 0. */
#ifndef LLMUX_COST_H
#define LLMUX_COST_H

#include <jansson.h>
#include <stdint.h>

struct deployment;
struct price;

/* Token counts out of an OpenAI usage object (NULL: all 0). prompt counts
 * every input token, cached and cache-creation ones included (as every
 * adapter reports it, LiteLLM's way); completion counts reasoning. */
struct cost_tokens {
    int64_t prompt, completion;
    int64_t cached;          /* prompt_tokens_details.cached_tokens */
    int64_t cache_creation;  /* cache_creation_input_tokens (Anthropic,
                              * Bedrock: tokens written to the cache) */
    int64_t reasoning;       /* completion_tokens_details.reasoning_tokens */
};

void   cost_tokens(const json_t *usage, struct cost_tokens *ret);
/* uncached prompt x input + cached x cache_read + cache_creation x
 * cache_creation + (completion - reasoning) x output + reasoning x
 * reasoning; a missing cache rate is the input rate, a missing reasoning
 * rate the output rate; above PRICE_TIER_TOKENS prompt tokens each
 * *_above_200k_tokens rate that is given replaces its base rate. */
double cost_price(const struct price *p, const struct cost_tokens *t);
double cost_of(const struct deployment *d, const json_t *usage);
/* The same from tokens already read. */
double cost_of_tokens(const struct deployment *d,
                      const struct cost_tokens *t);

#endif
