/* cwords.h -- the keys LiteLLM's config.yaml defines that llmux does not
 * implement, and what llmux does instead.
 * Owns: those tables (section by section, from LiteLLM's documented
 * settings reference), the "not supported by llmux" and "unknown … did
 * you mean" warnings, and the edit distance behind the suggestion. The
 * section readers call cwords_warn for every key they did not read. */
#ifndef LLMUX_CWORDS_H
#define LLMUX_CWORDS_H

struct cload;
struct ynode;

/* Sections with a table: the top level, general_settings,
 * litellm_settings, router_settings, a model_list entry, litellm_params,
 * model_info. */
enum csection {
    CSEC_TOP, CSEC_GENERAL, CSEC_LITELLM, CSEC_ROUTER, CSEC_ENTRY,
    CSEC_PARAMS, CSEC_MODEL_INFO, CSEC_LLMUX, CSEC_COUNT,
};

/* Warns about key k of section sec, which its reader did not read:
 * "sec.key: not supported by llmux — what happens instead" for a key
 * LiteLLM defines, else "unknown key … (ignored)" with "did you mean
 * …?" when a key of that section (read_keys, NULL-terminated, plus the
 * table's) is close. */
void cwords_warn(struct cload *l, const struct ynode *k, enum csection sec,
                 const char *const *read_keys);

/* Whether LiteLLM defines key in sec (the tables here). */
int cwords_litellm_defines(enum csection sec, const char *key);

/* Levenshtein distance of a and b, stopping past max (returns max + 1). */
int cwords_distance(const char *a, const char *b, int max);

#endif
