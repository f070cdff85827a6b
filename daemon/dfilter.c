/* dfilter.c -- a group's deployments a request may use (see dfilter.h). */
#include "dfilter.h"
#include "deployment.h"
#include "llmux-errno.h"
#include "presets.h"
#include "request.h"

#include <stdio.h>

int dfilter_apply(const struct request *rq, const char *group,
                  struct deployment **got, int n, char *msg, size_t len)
{
    const struct deployment *unusable = NULL;
    int kept = 0;

    (void)rq;
    for (int i = 0; i < n; i++) {
        if (got[i]->unusable) {
            if (unusable == NULL)
                unusable = got[i];
            deployment_unref(got[i]);
            continue;
        }
        got[kept++] = got[i];
    }
    if (kept > 0 || n == 0)
        return kept;
    snprintf(msg, len, "no deployment of \"%s\" can be served: %s (%s, "
             "provider \"%s\")", group, unusable->unusable,
             unusable->model, unusable->preset->name);
    return LLMUX_ENOTFOUND;
}
