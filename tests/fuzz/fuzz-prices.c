/* fuzz-prices.c -- libFuzzer target: the price table reader
 * (daemon/prices.c, prices_parse; the file llmux_settings.prices_file
 * names is outside bytes). A table that parses finds every row it counts
 * by name, and each price it holds is a number >= 0 or unset; one that
 * fails must say why in err. */
#include "fuzz.h"
#include "prices.h"

#include <jansson.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct prices *t = NULL;
    char err[512];
    json_t *root;
    const char *k;
    json_t *v;
    size_t n = 0;

    err[0] = '\0';
    if (prices_parse("fuzz.json", (const char *)data, size, &t, err,
                     sizeof(err)) < 0) {
        FUZZ_ASSERT(t == NULL && err[0] != '\0');
        return 0;
    }
    FUZZ_ASSERT(t != NULL);
    root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_ASSERT(root != NULL);
    json_object_foreach(root, k, v) {
        const struct price_row *r;

        if (k[0] == '_' || !json_is_object(v))
            continue;
        n++;
        r = prices_find(t, k, strlen(k));
        FUZZ_ASSERT(r != NULL && strcmp(r->name, k) == 0);
        for (size_t i = 0; i < PRICE_NFIELDS; i++) {
            double p = *price_field((struct price *)&r->p, i);

            FUZZ_ASSERT(p == -1 || (p >= 0 && p - p == 0));
        }
    }
    FUZZ_ASSERT(n == prices_count(t));
    json_decref(root);
    prices_unref(t);
    return 0;
}
