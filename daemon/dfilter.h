/* dfilter.h -- which of a model group's deployments a request may use,
 * before any upstream call: not one llmux cannot serve (dprovider.h),
 * with router_settings.enable_tag_filtering those the request's tags
 * pick, with enable_pre_call_checks those whose context window it fits.
 * Owns: that filter, the token estimate, and the typed error when
 * nothing is left. route.c calls it on every group it resolves (first
 * and fallback). */
#ifndef LLMUX_DFILTER_H
#define LLMUX_DFILTER_H

#include <jansson.h>
#include <stddef.h>

struct deployment;
struct request;

/* Keeps, in order, the deployments of got[0, n) rq may use, dropping
 * the references of the others. Returns how many are left, or < 0 with
 * msg set when none is (LLMUX_ENOTFOUND naming the provider of an
 * unusable one). */
int dfilter_apply(const struct request *rq, const char *group,
                  struct deployment **got, int n, char *msg, size_t len);
/* The tokens of a chat request, estimated as LiteLLM's counter roughly
 * counts them: (text characters + 3) / 4, plus 4 a message, plus 3, plus
 * the tools' JSON / 4. */
size_t dfilter_estimate_tokens(const json_t *req);

#endif
