/* dprice.c -- a deployment's effective price (see dprice.h). */
#include "dprice.h"
#include "cload.h"
#include "config.h"
#include "deployment.h"
#include "presets.h"
#include "prices.h"
#include "yamltree.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The row of "prefix/model", or NULL. */
static const struct price_row *find_prefixed(const struct prices *t,
                                             const char *prefix,
                                             const char *model)
{
    char full[DEPLOYMENT_MAX_NAME * 2 + 64];
    int n;

    if (prefix == NULL || *prefix == '\0' || model == NULL)
        return NULL;
    n = snprintf(full, sizeof(full), "%s/%s", prefix, model);
    if (n < 0 || (size_t)n >= sizeof(full))
        return NULL;
    return prices_find(t, full, (size_t)n);
}

static const struct price_row *find(const struct prices *t, const char *name)
{
    return name && *name ? prices_find(t, name, strlen(name)) : NULL;
}

static const char *base_model(const struct deployment *d)
{
    const char *b = json_string_value(json_object_get(d->model_info,
                                                      "base_model"));

    if (b == NULL || *b == '\0')
        b = json_string_value(json_object_get(d->params, "base_model"));
    return b && *b ? b : NULL;
}

static const struct price_row *row_of(const struct prices *t,
                                      const struct deployment *d)
{
    const char *prefix = d->preset ? d->preset->name : NULL;
    const char *base = base_model(d);
    const struct price_row *r;

    if (t == NULL)
        return NULL;
    /* base_model as written ("azure/gpt-4o"), else under the prefix. */
    if (base)
        return (r = find(t, base)) ? r : find_prefixed(t, prefix, base);
    if ((r = find_prefixed(t, prefix, d->upstream_model)) ||
        (r = find(t, d->upstream_model)))
        return r;
    return find(t, d->model);
}

void dprice_bind(const struct prices *t, struct deployment *d)
{
    d->price_row = row_of(t, d);
    if (d->price_row)
        d->price = d->price_row->p;
    else
        price_unset(&d->price);
    price_merge(&d->price, &d->price_set);
}

int dprice_unpriced(const struct deployment *d)
{
    if (d->unusable || d->wildcard || d->preset == NULL ||
        d->mock_response || strcmp(d->preset->dialect, "mock") == 0)
        return 0;
    return !price_known(&d->price);
}

void dprice_warning(const struct deployment *d, char *buf, size_t len)
{
    const char *base = base_model(d);

    snprintf(buf, len, "no price for model \"%s\"%s%s%s: its requests cost "
             "0 (set input_cost_per_token/output_cost_per_token in its "
             "litellm_params or model_info)", d->model,
             base ? " (base_model \"" : "", base ? base : "",
             base ? "\" is not in the price table)" : "");
}

/* ---- at config load ----------------------------------------------------- */

/* The price table l->c's deployments are bound to: current when it is
 * the file the config names (or the default one) as it is now, else that
 * file read anew. */
int dprice_choose_table(struct cload *l, struct prices *current)
{
    struct config *c = l->c;
    const char *path = c->prices_file ? c->prices_file :
                       prices_default_path();
    struct ynode at = { .kind = Y_SCALAR,
                        .line = c->prices_file_line ? c->prices_file_line :
                                1 };
    char why[512];
    int r;

    if (current && prices_same_file(current, path)) {
        c->prices = prices_ref(current);
        return 0;
    }
    if ((r = prices_load(path, &c->prices, why, sizeof(why))) == -ENOMEM)
        return r;
    if (r < 0 && c->prices_file)
        return cload_fail(l, &at, "prices_file: cannot use the price table "
                          "%s", why);
    if (r < 0)
        cload_warn(l, &at, "price table %s: costs come from the "
                   "deployments' own prices only (input_cost_per_token, "
                   "output_cost_per_token, …)", why);
    return 0;
}

/* Each model_list entry's price, once (dprice.h); a model without any is
 * said once, however many entries use it. */
void dprice_bind_all(struct cload *l)
{
    struct config *c = l->c;
    char msg[DEPLOYMENT_MAX_NAME * 2 + 256];

    for (size_t i = 0; i < c->ndeps; i++) {
        struct deployment *d = c->deps[i];
        struct ynode at = { .kind = Y_SCALAR, .line = d->line };
        size_t j = 0;

        dprice_bind(c->prices, d);
        if (!dprice_unpriced(d))
            continue;
        while (j < i && !(dprice_unpriced(c->deps[j]) &&
                          strcmp(c->deps[j]->model, d->model) == 0))
            j++;
        if (j < i)
            continue;       /* said for an earlier entry */
        dprice_warning(d, msg, sizeof(msg));
        cload_warn(l, &at, "%s", msg);
    }
}
