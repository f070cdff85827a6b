/* presets.h -- what a provider prefix means, held as data.
 * Owns: the table mapping a LiteLLM provider prefix ("groq", "anthropic")
 * to its wire dialect, default base URL, key variable and quirks. The
 * OpenAI-compatible providers are rows here, not code. */
#ifndef LLMUX_PRESETS_H
#define LLMUX_PRESETS_H

#include <stddef.h>

/* Quirks of OpenAI-compatible upstreams. */
#define QUIRK_NO_STREAM_OPTIONS 0x01  /* rejects stream_options */
#define QUIRK_USAGE_X_GROQ      0x02  /* stream usage under x_groq.usage */
#define QUIRK_KEY_OPTIONAL      0x04  /* local servers: no key needed */
#define QUIRK_NEEDS_API_BASE    0x08  /* no default base URL */
#define QUIRK_EMBEDDINGS        0x10  /* offers POST /embeddings (an
                                       * OpenAI-compatible row without it
                                       * answers embeddings with an error) */

struct preset {
    const char *name;      /* the model prefix: "groq" */
    const char *dialect;   /* provider adapter name: "openai" */
    const char *api_base;  /* default base URL (no trailing slash) */
    const char *key_env;   /* variable holding the key, NULL if none */
    const char *base_env;  /* variable overriding api_base, NULL if none */
    unsigned    quirks;
};

const struct preset *preset_find(const char *name, size_t len);
/* Iteration for `llmux models` and docs: NULL past the end. */
const struct preset *preset_at(size_t i);

#endif
