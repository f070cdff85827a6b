/* modeltab.c -- lookups in LiteLLM's model table (see modeltab.h). */
#include "modeltab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct modelrow rows[] = {
#include "modeltab.inc"
};

static int by_name(const void *key, const void *row)
{
    return strcmp(key, ((const struct modelrow *)row)->name);
}

const struct modelrow *modeltab_find(const char *name)
{
    return bsearch(name, rows, sizeof(rows) / sizeof(rows[0]),
                   sizeof(rows[0]), by_name);
}

const char *modeltab_prefix(const char *provider, char *buf, unsigned len)
{
    const char *dash = NULL;

    if (strncmp(provider, "vertex_ai-", 10) == 0)
        dash = provider + 9;
    else if (strcmp(provider, "bedrock_converse") == 0)
        dash = provider + 7;
    else if (strncmp(provider, "fireworks_ai-", 13) == 0)
        dash = provider + 12;
    snprintf(buf, len, "%.*s", dash ? (int)(dash - provider) :
             (int)strlen(provider), provider);
    return buf;
}

/* LiteLLM's provider names (its provider list and the table's
 * litellm_provider values): a prefix outside these LiteLLM refuses too. */
static const char *const litellm_providers[] = {
    "openai", "custom_openai", "text-completion-openai", "cohere",
    "cohere_chat", "clarifai", "anthropic", "anthropic_text", "replicate",
    "huggingface", "together_ai", "openrouter", "vertex_ai",
    "vertex_ai_beta", "gemini", "ai21", "ai21_chat", "baseten", "azure",
    "azure_text", "azure_ai", "sagemaker", "sagemaker_chat", "bedrock",
    "vllm", "hosted_vllm", "nlp_cloud", "petals", "oobabooga", "ollama",
    "ollama_chat", "deepinfra", "perplexity", "mistral", "groq",
    "nvidia_nim", "cerebras", "volcengine", "codestral",
    "text-completion-codestral", "deepseek", "sambanova", "maritalk",
    "voyage", "cloudflare", "xinference", "fireworks_ai", "friendliai",
    "watsonx", "watsonx_text", "triton", "predibase", "databricks",
    "empower", "github", "github_copilot", "custom", "litellm_proxy",
    "lm_studio", "galadriel", "infinity", "deepgram", "aiohttp_openai",
    "assemblyai", "snowflake", "llamafile", "lambda_ai", "nebius",
    "novita", "featherless_ai", "dashscope", "moonshot", "jina_ai", "xai",
    "nscale", "hyperbolic", "topaz", "elevenlabs", "openai_like",
    "meta_llama", "oci", "vercel_ai_gateway", "gradient_ai", "stability",
    "scaleway", "ovhcloud", "heroku", "wandb", "zai", "minimax", "v0",
    "morph", "lemonade", "fal_ai", "recraft", "datarobot", "aiml",
    "nlp_cloud", "palm", "anyscale", "gmi", "llamagate", "bedrock_mantle",
    "tensormesh", "publicai", "black_forest_labs", "crusoe", "gigachat",
    "runwayml", "pinstripes", "amazon_nova", "aws_polly", "tencent",
    "soniox", "inception", "sarvam", "chatgpt", "libertai", "darkbloom",
    "perplexity", "cometapi", "compactifai", "dotprompt", "bytez",
    NULL,
};

int modeltab_litellm_provider(const char *name, unsigned len)
{
    for (size_t i = 0; litellm_providers[i]; i++)
        if (strlen(litellm_providers[i]) == len &&
            memcmp(litellm_providers[i], name, len) == 0)
            return 1;
    return 0;
}

const char *modeltab_mode_name(enum mtype m)
{
    static const char *const names[] = {
        [MT_CHAT] = "chat", [MT_COMPLETION] = "text completion",
        [MT_EMBEDDING] = "embedding", [MT_IMAGE] = "image generation",
        [MT_AUDIO] = "audio", [MT_RERANK] = "rerank", [MT_OTHER] = "non-chat",
    };

    return names[m];
}

enum mtype modeltab_mode(const char *s)
{
    static const struct { const char *n; enum mtype m; } modes[] = {
        { "chat", MT_CHAT }, { "responses", MT_CHAT },
        { "completion", MT_COMPLETION }, { "embedding", MT_EMBEDDING },
        { "image_generation", MT_IMAGE }, { "image_edit", MT_IMAGE },
        { "audio_transcription", MT_AUDIO }, { "audio_speech", MT_AUDIO },
        { "realtime", MT_AUDIO }, { "rerank", MT_RERANK },
    };

    if (s == NULL)
        return MT_CHAT;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (strcmp(s, modes[i].n) == 0)
            return modes[i].m;
    return MT_OTHER;
}
