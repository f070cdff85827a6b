/* dprice.h -- the price a deployment pays, resolved once (at config load
 * for model_list entries, when the router derives one for the others):
 * its own price fields (litellm_params, else model_info: LiteLLM's custom
 * pricing) over the price table's row for model_info.base_model (or
 * litellm_params.base_model), else for "provider/model" (the upstream
 * model with its provider's prefix: "anthropic/claude-…", "groq/…"),
 * else for the bare upstream model, else for the model as written.
 * Owns: that choice and the words for a deployment without any price.
 * The result is copied into the deployment (d->price), so a request
 * reads it with no lookup and no lifetime beyond the deployment's. */
#ifndef LLMUX_DPRICE_H
#define LLMUX_DPRICE_H

#include <stddef.h>

struct cload;
struct deployment;
struct prices;

/* At config load (config.c): l->c->prices becomes current when it is the
 * file the config names (llmux_settings.prices_file, else
 * prices_default_path()) unchanged, else that file read anew. A file that
 * cannot be read is a warning, or an error when prices_file names it.
 * Returns 0, or < 0 (LLMUX_EBADREQ recorded, -ENOMEM). */
int dprice_choose_table(struct cload *l, struct prices *current);
/* Binds each model_list entry of l->c to its price; one warning per
 * model without any. */
void dprice_bind_all(struct cload *l);

/* Sets d->price and d->price_row from d->price_set and t (NULL: no table,
 * the deployment's own prices only). */
void dprice_bind(const struct prices *t, struct deployment *d);

/* Whether d serves calls without any price, so each costs 0 and deserves
 * a warning (mock/ models, unusable ones and wildcard templates do not). */
int dprice_unpriced(const struct deployment *d);

/* "no price for model X: its requests cost 0 (…)" into buf. */
void dprice_warning(const struct deployment *d, char *buf, size_t len);

#endif
