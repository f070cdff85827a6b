/* modeltab.h -- LiteLLM's model table, as data: the name of a model ->
 * its litellm_provider, mode and context window.
 * Owns: the generated rows (modeltab.inc, from LiteLLM's
 * model_prices_and_context_window.json by etc/gen-modeltab.py), the
 * lookup, and LiteLLM's list of provider names. Provider inference
 * (dprovider.c) and the pre-call check (dfilter.c) read it. */
#ifndef LLMUX_MODELTAB_H
#define LLMUX_MODELTAB_H

enum mtype {
    MT_CHAT, MT_COMPLETION, MT_EMBEDDING, MT_IMAGE, MT_AUDIO, MT_RERANK,
    MT_OTHER,
};

struct modelrow {
    const char *name;        /* "gpt-4o", "groq/llama3-8b-8192" */
    const char *provider;    /* litellm_provider: "openai", "cohere_chat" */
    enum mtype  mode;
    unsigned    max_input;   /* tokens, 0 = not given */
};

/* The row for name (exact), or NULL. */
const struct modelrow *modeltab_find(const char *name);
/* The prefix LiteLLM uses for a litellm_provider value: the value itself,
 * except "vertex_ai-…" -> "vertex_ai", "bedrock_converse" -> "bedrock",
 * "fireworks_ai-embedding-models" -> "fireworks_ai". Into buf. */
const char *modeltab_prefix(const char *provider, char *buf, unsigned len);
/* Whether LiteLLM knows name (len bytes) as a provider prefix. */
int modeltab_litellm_provider(const char *name, unsigned len);
/* "chat", "embedding", "image generation", … */
const char *modeltab_mode_name(enum mtype m);
/* Parses model_info.mode ("chat", "embedding", …); MT_CHAT for NULL. */
enum mtype modeltab_mode(const char *s);

#endif
