/* prices.h -- LiteLLM's price table (etc/prices.json, made by
 * etc/gen-prices.py): a model name -> its per-token prices, context
 * window, provider and mode.
 * Owns: struct price (the fields of a price row and their names, which
 * deployments' overrides use too), parsing the file once into an
 * open-addressing hash table that is immutable afterwards, the lookup,
 * and where the file is found (llmux_settings.prices_file, else the
 * installed share path, else the build tree's etc/prices.json).
 *
 * Lifetime. A table is shared by every config loaded with it (a reload
 * with the same file reuses it) and freed with its last reference. The
 * count is atomic: a reload loads its config in a worker thread while
 * the loop drops old configs. Nothing else in a table is ever written
 * after prices_parse returns, so both threads read it without locks. */
#ifndef LLMUX_PRICES_H
#define LLMUX_PRICES_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* USD per token; < 0: not given. The *_200k rates replace their base
 * rate when a request's prompt has more than PRICE_TIER_TOKENS tokens. */
struct price {
    double input, output;
    double cache_read, cache_creation;   /* < 0: the input rate */
    double reasoning;                    /* < 0: the output rate */
    double input_200k, output_200k, cache_read_200k, cache_creation_200k;
};

#define PRICE_TIER_TOKENS 200000

/* How many fields struct price has (all doubles), and the LiteLLM name
 * of field i ("input_cost_per_token", …), for the file and overrides. */
#define PRICE_NFIELDS 9
const char *price_field_name(size_t i);
double *price_field(struct price *p, size_t i);
/* The index of LiteLLM field name k, or -1. */
int price_field_index(const char *k);

/* Every field unset. */
void price_unset(struct price *p);
/* The fields over sets replace those of p. */
void price_merge(struct price *p, const struct price *over);
/* Whether p gives any rate at all (else a request costs 0). */
int price_known(const struct price *p);
/* The price fields a JSON object holds as numbers >= 0 (model_info, a
 * table row) into p; the others are left as they were. */
void price_from_json(struct price *p, const json_t *o);

struct price_row {
    const char  *name;        /* "gpt-4o", "anthropic/claude-…"; in the
                               * table's arena */
    const char  *provider;    /* litellm_provider, or "" */
    const char  *mode;        /* "chat", "embedding", …, or "" */
    unsigned     max_input, max_output;   /* tokens, 0: not given */
    struct price p;
};

struct prices;

/* The largest file llmuxd reads as a price table (the shipped one is
 * about 600 KB). */
#define PRICES_MAX_BYTES (64u << 20)

/* Reads and parses path. 0, or < 0 with err saying why (path named). */
int prices_load(const char *path, struct prices **ret, char *err,
                size_t errlen);
/* Parses text[0..n) (a JSON object of name -> row; keys starting with
 * '_' are skipped); name is used in messages and kept as the path. */
int prices_parse(const char *name, const char *text, size_t n,
                 struct prices **ret, char *err, size_t errlen);
struct prices *prices_ref(struct prices *t);
/* Accepts NULL. */
void prices_unref(struct prices *t);

/* The row of name (len bytes), or NULL; t may be NULL. */
const struct price_row *prices_find(const struct prices *t, const char *name,
                                    size_t len);
size_t      prices_count(const struct prices *t);
const char *prices_path(const struct prices *t);
/* Whether t was read from path as it is now (same size and mtime), so a
 * reload can keep it. */
int prices_same_file(const struct prices *t, const char *path);

/* The file llmuxd reads when llmux_settings.prices_file is not set: the
 * installed one (LLMUX_PRICES_SHARE, $(PREFIX)/share/llmux/prices.json)
 * when it exists, else the build tree's (LLMUX_PRICES_TREE), for make
 * run and the tests. Both paths are set by the Makefile. */
const char *prices_default_path(void);

#endif
