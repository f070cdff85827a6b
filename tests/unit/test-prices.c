/* test-prices.c -- the price table (daemon/prices.c), a deployment's
 * effective price (dprice.c: its own fields over the row of base_model,
 * provider/model or model) and LiteLLM's generic cost algorithm
 * (cost.c): cached and cache-creation tokens, reasoning, the 200k tier,
 * overrides, and unknown models that cost 0 with one warning. */
#include "test.h"

#include "config.h"
#include "cost.h"
#include "deployment.h"
#include "prices.h"
#include "resolve.h"
#include "router.h"

#include <math.h>

/* A small table in etc/prices.json's form (prices in round numbers so
 * the expected costs are exact sums a reader can check). */
static const char TABLE[] =
    "{\"_source\":{\"what\":\"test\"},\n"
    "\"gpt-x\":{\"input_cost_per_token\":1e-06,\"output_cost_per_token\":"
    "4e-06,\"cache_read_input_token_cost\":5e-07,\"litellm_provider\":"
    "\"openai\",\"mode\":\"chat\",\"max_input_tokens\":128000},\n"
    "\"azure/gpt-x-mini\":{\"input_cost_per_token\":2e-07,"
    "\"output_cost_per_token\":8e-07,\"litellm_provider\":\"azure\"},\n"
    "\"groq/llama-x\":{\"input_cost_per_token\":3e-07,"
    "\"output_cost_per_token\":6e-07,\"litellm_provider\":\"groq\"},\n"
    "\"llama-x\":{\"input_cost_per_token\":9e-06,"
    "\"output_cost_per_token\":9e-06},\n"
    "\"claude-x\":{\"input_cost_per_token\":3e-06,\"output_cost_per_token\":"
    "1.5e-05,\"cache_read_input_token_cost\":3e-07,"
    "\"cache_creation_input_token_cost\":3.75e-06,"
    "\"input_cost_per_token_above_200k_tokens\":6e-06,"
    "\"output_cost_per_token_above_200k_tokens\":2.25e-05,"
    "\"cache_read_input_token_cost_above_200k_tokens\":6e-07,"
    "\"litellm_provider\":\"anthropic\"},\n"
    "\"o-x\":{\"input_cost_per_token\":1e-06,\"output_cost_per_token\":"
    "2e-06,\"output_cost_per_reasoning_token\":1e-05}\n}\n";

static struct prices *table(void)
{
    struct prices *t = NULL;
    char err[256];

    if (prices_parse("t.json", TABLE, sizeof(TABLE) - 1, &t, err,
                     sizeof(err)) < 0)
        fprintf(stderr, "  %s\n", err);
    return t;
}

static int near(double a, double b)
{
    return fabs(a - b) <= 1e-15 + 1e-12 * fabs(b);
}

static double cost(const struct price *p, int64_t prompt, int64_t cached,
                   int64_t creation, int64_t completion, int64_t reasoning)
{
    struct cost_tokens t = { .prompt = prompt, .completion = completion,
                             .cached = cached, .cache_creation = creation,
                             .reasoning = reasoning };

    return cost_price(p, &t);
}

TEST(prices_table_finds_rows_and_skips_the_source)
{
    struct prices *t = table();
    const struct price_row *r;

    ASSERT(t != NULL);
    ASSERT_EQ(prices_count(t), 6);
    ASSERT(prices_find(t, "_source", 7) == NULL);
    ASSERT((r = prices_find(t, "gpt-x", 5)) != NULL);
    ASSERT_STR_EQ(r->provider, "openai");
    ASSERT_STR_EQ(r->mode, "chat");
    ASSERT_EQ(r->max_input, 128000);
    ASSERT(r->p.input == 1e-06 && r->p.output == 4e-06);
    ASSERT(r->p.cache_read == 5e-07 && r->p.cache_creation < 0);
    /* A length, not a terminator: a prefix of a name is not the name. */
    ASSERT(prices_find(t, "gpt-xyz", 5) == r);
    ASSERT(prices_find(t, "gpt-", 4) == NULL);
    ASSERT(prices_find(t, "gpt-x2", 6) == NULL);
    ASSERT(prices_find(NULL, "gpt-x", 5) == NULL);
    prices_unref(t);
}

TEST(prices_table_holds_thousands_of_rows)
{
    size_t cap = 4000 * 80 + 16, off = 0;
    char *text = malloc(cap), name[32], err[256];
    struct prices *t = NULL;

    ASSERT(text != NULL);
    off += (size_t)snprintf(text + off, cap - off, "{");
    for (int i = 0; i < 4000; i++)
        off += (size_t)snprintf(text + off, cap - off, "%s\"m/%d\":{"
                                "\"input_cost_per_token\":%d}", i ? "," : "",
                                i, i);
    snprintf(text + off, cap - off, "}");
    ASSERT_EQ(prices_parse("big", text, strlen(text), &t, err, sizeof(err)),
              0);
    free(text);
    ASSERT_EQ(prices_count(t), 4000);
    for (int i = 0; i < 4000; i++) {
        const struct price_row *r;

        snprintf(name, sizeof(name), "m/%d", i);
        r = prices_find(t, name, strlen(name));
        ASSERT(r != NULL && r->p.input == i);
    }
    ASSERT(prices_find(t, "m/4000", 6) == NULL);
    prices_unref(t);
}

TEST(prices_bad_files_are_refused_with_their_name)
{
    static const char *const bad[] = {
        "", "[]", "{\"a\":", "{\"a\":{},\"a\":{}}", "nul",
    };
    static const char odd[] = "{\"a\":1,\"b\":{\"input_cost_per_token\":"
        "\"0.1\",\"output_cost_per_token\":-1}}";
    struct prices *t;
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = (struct prices *)1;
        ASSERT(prices_parse("x.json", bad[i], strlen(bad[i]), &t, err,
                            sizeof(err)) < 0);
        ASSERT(t == NULL);
        ASSERT(strstr(err, "x.json") != NULL);
    }
    ASSERT(prices_load("/nonexistent/p.json", &t, err, sizeof(err)) < 0);
    ASSERT(strstr(err, "/nonexistent/p.json") != NULL);
    /* Rows that are not objects and prices that are not numbers >= 0 are
     * left out, not fatal. */
    ASSERT_EQ(prices_parse("x.json", odd, strlen(odd), &t, err,
                           sizeof(err)), 0);
    ASSERT_EQ(prices_count(t), 1);
    ASSERT(!price_known(&prices_find(t, "b", 1)->p));
    prices_unref(t);
}

TEST(cost_plain_prompt_and_completion)
{
    struct prices *t = table();
    const struct price *p = &prices_find(t, "gpt-x", 5)->p;

    ASSERT(near(cost(p, 1000, 0, 0, 500, 0), 1000 * 1e-06 + 500 * 4e-06));
    ASSERT(cost(p, 0, 0, 0, 0, 0) == 0);
    prices_unref(t);
}

TEST(cost_cached_tokens_at_the_cache_read_rate_else_input)
{
    struct prices *t = table();
    const struct price *p = &prices_find(t, "gpt-x", 5)->p;
    const struct price *q = &prices_find(t, "llama-x", 7)->p;

    /* 1000 prompt tokens, 600 of them cached. */
    ASSERT(near(cost(p, 1000, 600, 0, 10, 0),
                400 * 1e-06 + 600 * 5e-07 + 10 * 4e-06));
    /* Without a cache-read price, cached tokens are input tokens. */
    ASSERT(near(cost(q, 1000, 600, 0, 10, 0), 1000 * 9e-06 + 10 * 9e-06));
    prices_unref(t);
}

TEST(cost_cache_creation_at_its_rate_else_input)
{
    struct prices *t = table();
    const struct price *p = &prices_find(t, "claude-x", 8)->p;
    const struct price *g = &prices_find(t, "gpt-x", 5)->p;

    /* Anthropic's counts as the adapter reports them: input 10, cache
     * read 1000, cache write 100 -> prompt_tokens 1110. */
    ASSERT(near(cost(p, 1110, 1000, 100, 5, 0),
                10 * 3e-06 + 1000 * 3e-07 + 100 * 3.75e-06 + 5 * 1.5e-05));
    ASSERT(near(cost(g, 1110, 1000, 100, 5, 0),
                10 * 1e-06 + 1000 * 5e-07 + 100 * 1e-06 + 5 * 4e-06));
    prices_unref(t);
}

TEST(cost_reasoning_tokens_are_part_of_the_completion)
{
    struct prices *t = table();
    const struct price *o = &prices_find(t, "o-x", 3)->p;
    const struct price *g = &prices_find(t, "gpt-x", 5)->p;

    /* 100 completion tokens, 80 of them reasoning: never counted twice. */
    ASSERT(near(cost(o, 10, 0, 0, 100, 80),
                10 * 1e-06 + 20 * 2e-06 + 80 * 1e-05));
    /* Unpriced reasoning is output. */
    ASSERT(near(cost(g, 10, 0, 0, 100, 80), 10 * 1e-06 + 100 * 4e-06));
    prices_unref(t);
}

TEST(cost_tier_above_200k_prompt_tokens)
{
    struct prices *t = table();
    const struct price *p = &prices_find(t, "claude-x", 8)->p;
    const struct price *g = &prices_find(t, "gpt-x", 5)->p;

    /* At the threshold: the base rates. */
    ASSERT(near(cost(p, 200000, 0, 0, 10, 0), 200000 * 3e-06 + 10 * 1.5e-05));
    /* Over it: every tier given replaces its rate; cache creation has no
     * tier here, so its base rate stays. */
    ASSERT(near(cost(p, 200001, 1000, 100, 10, 0),
                198901 * 6e-06 + 1000 * 6e-07 + 100 * 3.75e-06 +
                10 * 2.25e-05));
    /* No tiers at all: the base rates whatever the size. */
    ASSERT(near(cost(g, 300000, 0, 0, 1, 0), 300000 * 1e-06 + 4e-06));
    prices_unref(t);
}

TEST(cost_tokens_reads_every_count_and_clamps_parts)
{
    json_t *u = json_loads("{\"prompt_tokens\":1110,\"completion_tokens\":50,"
        "\"prompt_tokens_details\":{\"cached_tokens\":1000},"
        "\"cache_creation_input_tokens\":100,"
        "\"completion_tokens_details\":{\"reasoning_tokens\":30}}", 0, NULL);
    struct cost_tokens t;

    ASSERT(u != NULL);
    cost_tokens(u, &t);
    ASSERT(t.prompt == 1110 && t.cached == 1000 && t.cache_creation == 100);
    ASSERT(t.completion == 50 && t.reasoning == 30);
    json_decref(u);
    /* Parts larger than their whole are cut to it: never a negative
     * uncached count. */
    u = json_loads("{\"prompt_tokens\":10,\"completion_tokens\":5,"
        "\"prompt_tokens_details\":{\"cached_tokens\":8},"
        "\"cache_creation_input_tokens\":7,"
        "\"completion_tokens_details\":{\"reasoning_tokens\":9}}", 0, NULL);
    cost_tokens(u, &t);
    ASSERT(t.cached == 8 && t.cache_creation == 2 && t.reasoning == 5);
    json_decref(u);
    cost_tokens(NULL, &t);
    ASSERT(t.prompt == 0 && t.completion == 0 && t.cached == 0);
}

/* ---- deployments -------------------------------------------------------- */

static const char CONFIG[] =
    "model_list:\n"
    "  - model_name: plain\n"                        /* deps[0] */
    "    litellm_params: {model: openai/gpt-x, api_key: k}\n"
    "  - model_name: az\n"                           /* deps[1] */
    "    litellm_params: {model: azure/my-dep, api_key: k,\n"
    "                     api_base: 'http://127.0.0.1:1'}\n"
    "    model_info: {base_model: azure/gpt-x-mini}\n"
    "  - model_name: groq\n"                         /* deps[2] */
    "    litellm_params: {model: groq/llama-x, api_key: k}\n"
    "  - model_name: own\n"                          /* deps[3] */
    "    litellm_params: {model: openai/gpt-x, api_key: k,\n"
    "                     output_cost_per_token: 0.002}\n"
    "    model_info: {input_cost_per_token: 0.001,\n"
    "                 output_cost_per_token: 0.5,\n"
    "                 cache_read_input_token_cost: 0.0001}\n"
    "  - model_name: odd\n"                          /* deps[4] */
    "    litellm_params: {model: openai/no-such, api_key: k}\n"
    "  - model_name: odd2\n"                         /* deps[5] */
    "    litellm_params: {model: openai/no-such, api_key: k}\n"
    "  - model_name: m\n"                            /* deps[6] */
    "    litellm_params: {model: mock/echo}\n"
    "  - model_name: custom\n"                       /* deps[7] */
    "    litellm_params: {model: openai/no-such-2, api_key: k,\n"
    "                     input_cost_per_token: 0.01}\n"
    "  - model_name: \"openai/*\"\n"
    "    litellm_params: {model: \"openai/*\", api_key: k}\n";

static size_t warnings_with(const struct config *c, const char *s)
{
    size_t n = 0;

    for (size_t i = 0; i < c->nwarnings; i++)
        n += strstr(c->warnings[i], s) != NULL;
    return n;
}

static struct config *load(struct prices *t)
{
    struct config *c = NULL;
    char err[2048];

    if (config_load_text_prices("t.yaml", CONFIG, sizeof(CONFIG) - 1, t, &c,
                                err, sizeof(err)) < 0)
        fprintf(stderr, "  %s\n", err);
    return c;
}

TEST(dprice_rows_by_base_model_prefix_and_name)
{
    struct prices *t = table();
    struct config *c = load(t);
    const struct deployment *d;

    ASSERT(c != NULL);
    /* openai/gpt-x: the table has the bare name. */
    d = c->deps[0];
    ASSERT(d->price_row == prices_find(t, "gpt-x", 5));
    ASSERT(d->price.input == 1e-06 && d->price.cache_read == 5e-07);
    /* An Azure deployment name: base_model says which row. */
    d = c->deps[1];
    ASSERT(d->price_row == prices_find(t, "azure/gpt-x-mini", 16));
    ASSERT(d->price.input == 2e-07 && d->price.output == 8e-07);
    /* The prefixed row wins over the bare one of the same model. */
    d = c->deps[2];
    ASSERT(d->price_row == prices_find(t, "groq/llama-x", 12));
    ASSERT(d->price.input == 3e-07);
    config_unref(c);
    prices_unref(t);
}

TEST(dprice_own_fields_override_the_row_one_by_one)
{
    struct prices *t = table();
    struct config *c = load(t);
    const struct deployment *d;

    ASSERT(c != NULL);
    d = c->deps[3];
    ASSERT(d->price.input == 0.001);         /* model_info */
    ASSERT(d->price.output == 0.002);        /* litellm_params wins */
    ASSERT(d->price.cache_read == 0.0001);
    ASSERT(d->price.cache_creation < 0);     /* neither: the table's */
    /* A model the table lacks, priced by the config alone. */
    d = c->deps[7];
    ASSERT(d->price_row == NULL && d->price.input == 0.01);
    ASSERT(d->price.output < 0);
    config_unref(c);
    prices_unref(t);
}

TEST(dprice_unknown_models_cost_zero_and_are_said_once)
{
    struct prices *t = table();
    struct config *c = load(t);
    json_t *u = json_loads("{\"prompt_tokens\":10,\"completion_tokens\":5}",
                           0, NULL);

    ASSERT(c != NULL && u != NULL);
    ASSERT(cost_of(c->deps[4], u) == 0);
    ASSERT(cost_of(c->deps[6], u) == 0);
    /* Two entries, one model: one warning; none for mock/ or the
     * wildcard template, none for a model priced by its config. */
    ASSERT_EQ(warnings_with(c, "no price for model \"openai/no-such\""), 1);
    ASSERT_EQ(warnings_with(c, "no price for model"), 1);
    ASSERT(near(cost_of(c->deps[0], u), 10 * 1e-06 + 5 * 4e-06));
    json_decref(u);
    config_unref(c);
    prices_unref(t);
}

TEST(dprice_derived_deployments_are_priced_from_the_table)
{
    struct prices *t = table();
    struct config *c = load(t);
    struct deployment *d;
    struct router r;
    char err[256];

    ASSERT(c != NULL);
    router_init(&r, 1);
    ASSERT_EQ(router_resolve(&r, c, "openai/o-x", &d, 1, err, sizeof(err)),
              1);
    ASSERT(d->price_row == prices_find(t, "o-x", 3));
    ASSERT(d->price.reasoning == 1e-05);
    deployment_unref(d);
    /* Unknown: said once however often it is derived again. */
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(router_resolve(&r, c, "openai/none", &d, 1, err,
                                 sizeof(err)), 1);
        ASSERT(!price_known(&d->price));
        deployment_unref(d);
        resolve_reload(&r, c);
    }
    ASSERT_EQ(r.nunpriced, 1);
    router_free(&r);
    /* The table outlives the caller's reference while a config holds it. */
    prices_unref(t);
    ASSERT(c->deps[0]->price_row != NULL &&
           strcmp(c->deps[0]->price_row->name, "gpt-x") == 0);
    config_unref(c);
}

TEST(dprice_without_a_table_only_the_config_prices)
{
    struct config *c = load(NULL);

    ASSERT(c != NULL);
    ASSERT(c->prices == NULL);
    ASSERT(!price_known(&c->deps[0]->price));
    ASSERT(c->deps[3]->price.input == 0.001);
    /* No table was consulted: no model is said to lack a price. */
    ASSERT_EQ(warnings_with(c, "no price for model"), 0);
    config_unref(c);
}
