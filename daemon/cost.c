/* cost.c -- a request's cost from its usage and its deployment's price
 * (cost.h). No parsing per request beyond the usage object's integers,
 * no lookup: the price was resolved when the deployment was made. */
#include "cost.h"
#include "deployment.h"
#include "prices.h"

#include <string.h>

static int64_t num(const json_t *o, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(o, k));

    return v > 0 ? (int64_t)v : 0;
}

static int64_t count(const json_t *v)
{
    json_int_t n = json_integer_value(v);

    return n > 0 ? (int64_t)n : 0;
}

void cost_tokens(const json_t *usage, struct cost_tokens *t)
{
    const char *k;
    json_t *v;

    *t = (struct cost_tokens){ 0 };
    /* One walk over the few keys of the object instead of a hashed
     * lookup per count: this runs for every request, twice. */
    json_object_foreach((json_t *)usage, k, v) {
        if (strcmp(k, "prompt_tokens") == 0)
            t->prompt = count(v);
        else if (strcmp(k, "completion_tokens") == 0)
            t->completion = count(v);
        else if (strcmp(k, "cache_creation_input_tokens") == 0)
            t->cache_creation = count(v);
        else if (strcmp(k, "prompt_tokens_details") == 0)
            t->cached = num(v, "cached_tokens");
        else if (strcmp(k, "completion_tokens_details") == 0)
            t->reasoning = num(v, "reasoning_tokens");
    }
    /* Parts never exceed their whole: a provider that says otherwise is
     * billed for the whole, never more. */
    if (t->cached > t->prompt)
        t->cached = t->prompt;
    if (t->cache_creation > t->prompt - t->cached)
        t->cache_creation = t->prompt - t->cached;
    if (t->reasoning > t->completion)
        t->reasoning = t->completion;
}

/* The tier's rate when the prompt is over the threshold and it is given,
 * else the base rate, else fallback. */
static double rate(double base, double tier, int over, double fallback)
{
    if (over && tier >= 0)
        return tier;
    return base >= 0 ? base : fallback;
}

double cost_price(const struct price *p, const struct cost_tokens *t)
{
    int over = t->prompt > PRICE_TIER_TOKENS;
    double in = rate(p->input, p->input_200k, over, 0);
    double out = rate(p->output, p->output_200k, over, 0);
    double cr = rate(p->cache_read, p->cache_read_200k, over, in);
    double cw = rate(p->cache_creation, p->cache_creation_200k, over, in);
    double rs = p->reasoning >= 0 ? p->reasoning : out;
    int64_t uncached = t->prompt - t->cached - t->cache_creation;

    return (double)uncached * in + (double)t->cached * cr +
           (double)t->cache_creation * cw +
           (double)(t->completion - t->reasoning) * out +
           (double)t->reasoning * rs;
}

double cost_of_tokens(const struct deployment *d,
                      const struct cost_tokens *t)
{
    return d ? cost_price(&d->price, t) : 0;
}

double cost_of(const struct deployment *d, const json_t *usage)
{
    struct cost_tokens t;

    if (d == NULL || usage == NULL)
        return 0;
    cost_tokens(usage, &t);
    return cost_of_tokens(d, &t);
}
