/* test-compat.c -- LiteLLM's config as people write it (issue 13): plain
 * scalars read as PyYAML (YAML 1.1) reads them (the expectations are
 * PyYAML 6's yaml.safe_load results for the same text;
 * tests/integration/test_compat.py sends them through llmuxd to the fake
 * provider and compares with PyYAML itself), provider inference, and
 * deployments llmux cannot serve. */
#include "test.h"
#include "config.h"
#include "dfilter.h"
#include "presets.h"
#include "yaml11.h"

#include <math.h>
#include <string.h>

static int warned(const struct config *c, const char *s)
{
    for (size_t i = 0; i < c->nwarnings; i++)
        if (strstr(c->warnings[i], s))
            return 1;
    return 0;
}

static const struct {
    const char  *text;
    enum y11type type;
    double       v;       /* bool as 0/1; int and float as a double */
} cases[] = {
    { "20_000", Y11_INT, 20000 },   { "yes", Y11_BOOL, 1 },
    { "No", Y11_BOOL, 0 },          { "ON", Y11_BOOL, 1 },
    { "off", Y11_BOOL, 0 },         { "y", Y11_STR, 0 },
    { "0o17", Y11_STR, 0 },         { "017", Y11_INT, 15 },
    { "0x1F", Y11_INT, 31 },        { "0b101", Y11_INT, 5 },
    { "1e3", Y11_STR, 0 },          { "1.5e+3", Y11_FLOAT, 1500 },
    { "1.0e3", Y11_STR, 0 },        { "1_000.5", Y11_FLOAT, 1000.5 },
    { ".5", Y11_FLOAT, 0.5 },       { "1:30", Y11_INT, 90 },
    { "-0x10", Y11_INT, -16 },      { "+12", Y11_INT, 12 },
    { "~", Y11_NULL, 0 },           { "null", Y11_NULL, 0 },
    { "1.", Y11_FLOAT, 1 },         { "0", Y11_INT, 0 },
    { "00", Y11_INT, 0 },           { "08", Y11_STR, 0 },
    { "0.1", Y11_FLOAT, 0.1 },      { "1__0", Y11_INT, 10 },
    { "190:20:30", Y11_INT, 685230 }, { "TRUE", Y11_BOOL, 1 },
    { "tRUE", Y11_STR, 0 },         { "2001-12-14", Y11_STR, 0 },
    { "-1.5", Y11_FLOAT, -1.5 },    { "0x", Y11_STR, 0 },
};

TEST(yaml11_scalars_read_as_pyyaml)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct y11val v;

        yaml11_resolve_text(cases[i].text, &v);
        if (v.type != cases[i].type)
            fprintf(stderr, "  %s: type %d, want %d\n", cases[i].text,
                    (int)v.type, (int)cases[i].type);
        ASSERT_EQ(v.type, cases[i].type);
        if (v.type == Y11_BOOL)
            ASSERT_EQ(v.b, (int)cases[i].v);
        if (v.type == Y11_INT || v.type == Y11_FLOAT)
            ASSERT(v.d == cases[i].v);
    }
}

TEST(yaml11_inf_and_nan)
{
    struct y11val v;

    yaml11_resolve_text(".inf", &v);
    ASSERT(v.type == Y11_FLOAT && isinf(v.d) && v.d > 0);
    yaml11_resolve_text("-.Inf", &v);
    ASSERT(v.type == Y11_FLOAT && isinf(v.d) && v.d < 0);
    yaml11_resolve_text(".NaN", &v);
    ASSERT(v.type == Y11_FLOAT && isnan(v.d));
}

TEST(yaml11_config_numbers_and_booleans)
{
    static const char y[] =
        "model_list:\n"
        "  - model_name: m\n"
        "    litellm_params: {model: mock/echo, tpm: 20_000, rpm: 0x10,\n"
        "                     weight: 1.5e+3, order: 017}\n"
        "litellm_settings: {drop_params: yes}\n";
    struct config *c;
    char err[512];

    ASSERT_EQ(config_load_text("t.yaml", y, sizeof(y) - 1, &c, err,
                               sizeof(err)), 0);
    ASSERT(c->deps[0]->tpm == 20000);
    ASSERT(c->deps[0]->rpm == 16);
    ASSERT(c->deps[0]->weight == 1500);
    ASSERT_EQ(c->deps[0]->order, 15);
    ASSERT_EQ(c->drop_params, 1);
    config_unref(c);
}

/* A deployment llmux cannot serve is a warning, never a refused file. */
TEST(config_unservable_deployments_load)
{
    static const char y[] =
        "model_list:\n"
        "  - model_name: a\n"
        "    litellm_params:\n"
        "      model: warp/x\n"
        "  - model_name: \"w/*\"\n"
        "    litellm_params:\n"
        "      model: warp/*\n"
        "  - model_name: a\n"
        "    litellm_params:\n"
        "      model: sagemaker/jumpstart\n"
        "  - model_name: img\n"
        "    litellm_params:\n"
        "      model: dall-e-3\n"
        "  - model_name: a\n"
        "    litellm_params:\n"
        "      model: gpt-3.5-turbo\n"
        "  - model_name: c\n"
        "    litellm_params:\n"
        "      model: claude-3-5-sonnet-20240620\n"
        "  - model_name: c\n"
        "    litellm_params:\n"
        "      model: command-r\n"
        "  - model_name: x\n"
        "    litellm_params:\n"
        "      model: my-model\n"
        "      custom_llm_provider: groq\n";
    struct config *c;
    char err[512];

    ASSERT_EQ(config_load_text("t.yaml", y, sizeof(y) - 1, &c, err,
                               sizeof(err)), 0);
    ASSERT(warned(c, "t.yaml:4: unknown provider \"warp\" in model "
                  "\"warp/x\": not a provider LiteLLM knows either"));
    ASSERT(warned(c, "t.yaml:7: unknown provider \"warp\""));
    ASSERT(warned(c, "t.yaml:10: model \"sagemaker/jumpstart\": provider "
                  "\"sagemaker\" is not supported by llmux"));
    ASSERT(warned(c, "t.yaml:13: model \"dall-e-3\" is an image generation "
                  "model: not supported by llmux"));
    ASSERT(c->deps[0]->unusable && c->deps[1]->unusable &&
           c->deps[2]->unusable);
    ASSERT(c->deps[3]->unusable == NULL);
    ASSERT_STR_EQ(c->deps[3]->preset->name, "openai");
    ASSERT_STR_EQ(c->deps[3]->upstream_model, "gpt-3.5-turbo");
    ASSERT_STR_EQ(c->deps[4]->preset->name, "anthropic");   /* by prefix */
    ASSERT_STR_EQ(c->deps[5]->preset->name, "cohere_chat"); /* by table */
    ASSERT_STR_EQ(c->deps[6]->preset->name, "groq");
    ASSERT_STR_EQ(c->deps[6]->upstream_model, "my-model");
    ASSERT(c->wild[0]->unusable != NULL);
    config_unref(c);
}

/* The OpenAI-compatible providers of issue 13, with LiteLLM's prefixes
 * and key variables, and 30 presets or more in all. */
TEST(presets_litellm_prefixes_and_keys)
{
    static const struct { const char *name, *key; } want[] = {
        { "dashscope", "DASHSCOPE_API_KEY" }, { "ai21", "AI21_API_KEY" },
        { "nvidia_nim", "NVIDIA_NIM_API_KEY" },
        { "sambanova", "SAMBANOVA_API_KEY" }, { "novita", "NOVITA_API_KEY" },
        { "nebius", "NEBIUS_API_KEY" },
        { "featherless_ai", "FEATHERLESS_AI_API_KEY" },
        { "huggingface", "HUGGINGFACE_API_KEY" },
        { "cloudflare", "CLOUDFLARE_API_KEY" }, { "github", "GITHUB_API_KEY" },
        { "llamafile", "LLAMAFILE_API_KEY" },
        { "xinference", "XINFERENCE_API_KEY" },
        { "litellm_proxy", "LITELLM_PROXY_API_KEY" },
    };
    size_t n = 0;

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct preset *p = preset_find(want[i].name,
                                             strlen(want[i].name));

        ASSERT(p != NULL);
        ASSERT_STR_EQ(p->dialect, "openai");
        ASSERT_STR_EQ(p->key_env, want[i].key);
        ASSERT(p->api_base || (p->quirks & QUIRK_NEEDS_API_BASE));
    }
    while (preset_at(n))
        n++;
    ASSERT(n >= 30);
}

/* The rows checked against LiteLLM's sources and the providers' docs:
 * base URL, the variable that overrides it, and whether the upstream
 * has /embeddings (LiteLLM routes embeddings for all but AI21). */
TEST(presets_checked_against_the_docs)
{
    static const struct {
        const char *name, *base, *base_env;
        unsigned quirks;
    } want[] = {
        { "sambanova", "https://api.sambanova.ai/v1", "SAMBANOVA_API_BASE",
          QUIRK_EMBEDDINGS },
        { "ai21", "https://api.ai21.com/studio/v1", "AI21_API_BASE", 0 },
        { "llamafile", "http://127.0.0.1:8080/v1", "LLAMAFILE_API_BASE",
          QUIRK_KEY_OPTIONAL | QUIRK_EMBEDDINGS },
        { "xinference", "http://127.0.0.1:9997/v1", "XINFERENCE_API_BASE",
          QUIRK_KEY_OPTIONAL | QUIRK_EMBEDDINGS },
        { "litellm_proxy", NULL, "LITELLM_PROXY_API_BASE",
          QUIRK_NEEDS_API_BASE | QUIRK_EMBEDDINGS },
    };

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct preset *p = preset_find(want[i].name,
                                             strlen(want[i].name));

        ASSERT(p != NULL);
        if (want[i].base)
            ASSERT_STR_EQ(p->api_base, want[i].base);
        else
            ASSERT(p->api_base == NULL);
        ASSERT_STR_EQ(p->base_env, want[i].base_env);
        ASSERT_EQ(p->quirks, want[i].quirks);
    }
}

/* The estimate enable_pre_call_checks compares with max_input_tokens. */
TEST(dfilter_token_estimate)
{
    json_t *req = json_pack("{s:[{s:s,s:s},{s:s,s:[{s:s,s:s}]}]}",
                            "messages", "role", "system", "content",
                            "12345678", "role", "user", "content", "type",
                            "text", "text", "abcd");

    /* (12 + 3) / 4 = 3, + 4 * 2 messages, + 3 */
    ASSERT_EQ(dfilter_estimate_tokens(req), 14);
    json_decref(req);
}
