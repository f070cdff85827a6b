/* presets.c -- the provider prefix table (see presets.h). Base URLs and
 * variable names follow LiteLLM's, so existing configs and environments
 * keep working. */
#include "presets.h"

#include <string.h>

/* QUIRK_EMBEDDINGS where the upstream's own documentation shows POST
 * {base}/embeddings in OpenAI's shape (checked 2026-12): not on groq,
 * deepseek, xai, perplexity, cerebras, ai21, featherless_ai (chat only),
 * huggingface (the router embeds through its feature-extraction task, not
 * /v1/embeddings) nor novita (its embeddings live under /openai/v1, not
 * this row's /v3/openai). */
static const struct preset presets[] = {
    { "openai",       "openai", "https://api.openai.com/v1",
      "OPENAI_API_KEY", "OPENAI_API_BASE", QUIRK_EMBEDDINGS },
    { "mistral",      "openai", "https://api.mistral.ai/v1",
      "MISTRAL_API_KEY", "MISTRAL_API_BASE",
      QUIRK_NO_STREAM_OPTIONS | QUIRK_EMBEDDINGS },
    { "groq",         "openai", "https://api.groq.com/openai/v1",
      "GROQ_API_KEY", "GROQ_API_BASE", QUIRK_USAGE_X_GROQ },
    { "deepseek",     "openai", "https://api.deepseek.com",
      "DEEPSEEK_API_KEY", "DEEPSEEK_API_BASE", 0 },
    { "xai",          "openai", "https://api.x.ai/v1",
      "XAI_API_KEY", "XAI_API_BASE", 0 },
    { "together_ai",  "openai", "https://api.together.xyz/v1",
      "TOGETHERAI_API_KEY", "TOGETHERAI_API_BASE", QUIRK_EMBEDDINGS },
    { "fireworks_ai", "openai", "https://api.fireworks.ai/inference/v1",
      "FIREWORKS_AI_API_KEY", "FIREWORKS_AI_API_BASE", QUIRK_EMBEDDINGS },
    { "openrouter",   "openai", "https://openrouter.ai/api/v1",
      "OPENROUTER_API_KEY", "OPENROUTER_API_BASE", QUIRK_EMBEDDINGS },
    { "perplexity",   "openai", "https://api.perplexity.ai",
      "PERPLEXITYAI_API_KEY", "PERPLEXITY_API_BASE",
      QUIRK_NO_STREAM_OPTIONS },
    { "deepinfra",    "openai", "https://api.deepinfra.com/v1/openai",
      "DEEPINFRA_API_KEY", "DEEPINFRA_API_BASE", QUIRK_EMBEDDINGS },
    { "cerebras",     "openai", "https://api.cerebras.ai/v1",
      "CEREBRAS_API_KEY", "CEREBRAS_API_BASE", 0 },
    { "hosted_vllm",  "openai", NULL,
      "HOSTED_VLLM_API_KEY", "HOSTED_VLLM_API_BASE",
      QUIRK_KEY_OPTIONAL | QUIRK_NEEDS_API_BASE | QUIRK_EMBEDDINGS },
    { "lm_studio",    "openai", "http://localhost:1234/v1",
      "LM_STUDIO_API_KEY", "LM_STUDIO_API_BASE",
      QUIRK_KEY_OPTIONAL | QUIRK_EMBEDDINGS },
    /* Checked against LiteLLM's provider pages (prefix, key variable)
     * and the providers' own docs (base URL), 2026-12. */
    { "dashscope",    "openai",
      "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
      "DASHSCOPE_API_KEY", "DASHSCOPE_API_BASE",         /* Qwen */
      QUIRK_EMBEDDINGS },
    { "ai21",         "openai", "https://api.ai21.com/studio/v1",
      "AI21_API_KEY", "AI21_API_BASE", 0 },
    { "ai21_chat",    "openai", "https://api.ai21.com/studio/v1",
      "AI21_API_KEY", "AI21_API_BASE", 0 },
    { "nvidia_nim",   "openai", "https://integrate.api.nvidia.com/v1",
      "NVIDIA_NIM_API_KEY", "NVIDIA_NIM_API_BASE", QUIRK_EMBEDDINGS },
    { "sambanova",    "openai", "https://api.sambanova.ai/v1",
      "SAMBANOVA_API_KEY", "SAMBANOVA_API_BASE", QUIRK_EMBEDDINGS },
    { "novita",       "openai", "https://api.novita.ai/v3/openai",
      "NOVITA_API_KEY", "NOVITA_API_BASE", 0 },
    { "nebius",       "openai", "https://api.tokenfactory.nebius.com/v1",
      "NEBIUS_API_KEY", "NEBIUS_API_BASE", QUIRK_EMBEDDINGS },
    { "featherless_ai", "openai", "https://api.featherless.ai/v1",
      "FEATHERLESS_AI_API_KEY", "FEATHERLESS_AI_API_BASE", 0 },
    /* Hugging Face's OpenAI-compatible router (Inference Providers). */
    { "huggingface",  "openai", "https://router.huggingface.co/v1",
      "HUGGINGFACE_API_KEY", "HUGGINGFACE_API_BASE", 0 },
    /* Workers AI's OpenAI-compatible endpoint has the account in its
     * path: api_base .../client/v4/accounts/ACCOUNT_ID/ai/v1. */
    { "cloudflare",   "openai", NULL,
      "CLOUDFLARE_API_KEY", "CLOUDFLARE_API_BASE",
      QUIRK_NEEDS_API_BASE | QUIRK_EMBEDDINGS },
    { "github",       "openai", "https://models.github.ai/inference",
      "GITHUB_API_KEY", "GITHUB_API_BASE",               /* GitHub Models */
      QUIRK_EMBEDDINGS },
    /* Local servers with /v1/embeddings too (llamafile with --embedding),
     * which LiteLLM routes for both. */
    { "llamafile",    "openai", "http://127.0.0.1:8080/v1",
      "LLAMAFILE_API_KEY", "LLAMAFILE_API_BASE",
      QUIRK_KEY_OPTIONAL | QUIRK_EMBEDDINGS },
    { "xinference",   "openai", "http://127.0.0.1:9997/v1",
      "XINFERENCE_API_KEY", "XINFERENCE_API_BASE",
      QUIRK_KEY_OPTIONAL | QUIRK_EMBEDDINGS },
    /* Another LiteLLM proxy (or llmux's HTTP front end), which serves
     * /embeddings as well. */
    { "litellm_proxy", "openai", NULL,
      "LITELLM_PROXY_API_KEY", "LITELLM_PROXY_API_BASE",
      QUIRK_NEEDS_API_BASE | QUIRK_EMBEDDINGS },
    /* Native dialects: their own adapters, same table for defaults. */
    { "anthropic",    "anthropic", "https://api.anthropic.com",
      "ANTHROPIC_API_KEY", "ANTHROPIC_API_BASE", 0 },
    { "gemini",       "gemini", "https://generativelanguage.googleapis.com",
      "GEMINI_API_KEY", "GEMINI_API_BASE", 0 },
    /* Vertex AI: no key but a service account (vertex.c); the host
     * follows vertex_location, so there is no fixed base. */
    { "vertex_ai",    "vertex_ai", NULL, NULL, NULL, QUIRK_KEY_OPTIONAL },
    { "cohere",       "cohere", "https://api.cohere.com",
      "COHERE_API_KEY", "COHERE_API_BASE", 0 },
    { "cohere_chat",  "cohere", "https://api.cohere.com",
      "COHERE_API_KEY", "COHERE_API_BASE", 0 },
    { "bedrock",      "bedrock", NULL, NULL, "AWS_BEDROCK_RUNTIME_ENDPOINT",
      QUIRK_KEY_OPTIONAL },
    { "azure",        "azure", NULL, "AZURE_API_KEY", "AZURE_API_BASE",
      QUIRK_NEEDS_API_BASE },
    { "ollama",       "ollama", "http://localhost:11434", NULL,
      "OLLAMA_API_BASE", QUIRK_KEY_OPTIONAL },
    { "ollama_chat",  "ollama", "http://localhost:11434", NULL,
      "OLLAMA_API_BASE", QUIRK_KEY_OPTIONAL },
    { "mock",         "mock", NULL, NULL, NULL, QUIRK_KEY_OPTIONAL },
};

const struct preset *preset_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
        if (strlen(presets[i].name) == len &&
            memcmp(presets[i].name, name, len) == 0)
            return &presets[i];
    return NULL;
}

const struct preset *preset_at(size_t i)
{
    return i < sizeof(presets) / sizeof(presets[0]) ? &presets[i] : NULL;
}
