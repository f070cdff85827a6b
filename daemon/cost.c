/* cost.c -- a request's cost from its usage and its deployment's prices
 * (cost.h). No parsing per request beyond the usage object's integers. */
#include "cost.h"
#include "deployment.h"

static int64_t num(const json_t *o, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(o, k));

    return v > 0 ? (int64_t)v : 0;
}

void cost_tokens(const json_t *usage, struct cost_tokens *t)
{
    t->prompt = num(usage, "prompt_tokens");
    t->completion = num(usage, "completion_tokens");
    t->cached = num(json_object_get(usage, "prompt_tokens_details"),
                    "cached_tokens");
    if (t->cached > t->prompt)
        t->cached = t->prompt;
}

double cost_of_tokens(const struct deployment *d,
                      const struct cost_tokens *t)
{
    double in, out;

    if (d == NULL)
        return 0;
    in = d->input_cost > 0 ? d->input_cost : 0;
    out = d->output_cost > 0 ? d->output_cost : 0;
    /* Without a cache-read price, cached tokens are billed as input. */
    return (double)t->prompt * in + (double)t->completion * out;
}

double cost_of(const struct deployment *d, const json_t *usage)
{
    struct cost_tokens t;

    if (d == NULL || usage == NULL)
        return 0;
    cost_tokens(usage, &t);
    return cost_of_tokens(d, &t);
}
