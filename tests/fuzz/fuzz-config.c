/* fuzz-config.c -- libFuzzer target: the configuration loader
 * (daemon/config.c over daemon/yamltree.c, config_load_text). A config
 * that loads is resolved for a few names, as requests would (router_resolve,
 * twice: derived, then cached); one that fails must say why in err. */
#include "config.h"
#include "fuzz.h"
#include "resolve.h"
#include "router.h"

#include <string.h>

#define NNAMES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[NNAMES] = {
        "gpt", "gpt4o", "openai/gpt-4o", "mock/echo", "anthropic/claude",
        "nope", "", "a/b/c",
    };
    struct deployment *out[16];
    struct config *cfg = NULL;
    struct router rt;
    char err[512], *text;
    int r;

    if ((text = malloc(size ? size : 1)) == NULL)
        return 0;
    memcpy(text, data, size);
    err[0] = '\0';
    r = config_load_text("fuzz.yaml", text, size, &cfg, err, sizeof(err));
    if (r < 0) {
        FUZZ_ASSERT(err[0] != '\0');
    } else {
        FUZZ_ASSERT(cfg != NULL);
        router_init(&rt, 1);
        for (size_t i = 0; i < 2 * NNAMES; i++) {
            int n = router_resolve(&rt, cfg, names[i % NNAMES], out, 16, err,
                                   sizeof(err));

            FUZZ_ASSERT(n < 0 || (n >= 1 && n <= 16));
            for (int k = 0; k < n; k++) {
                /* A dialect, or the reason it has none (a deployment
                 * llmux cannot serve, skipped by the route stage). */
                FUZZ_ASSERT(out[k] != NULL &&
                            (out[k]->prov != NULL) != (out[k]->unusable != NULL));
                deployment_unref(out[k]);
            }
        }
        router_free(&rt);
        config_unref(cfg);
    }
    free(text);
    return 0;
}
