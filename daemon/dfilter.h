/* dfilter.h -- which of a model group's deployments a request may use,
 * before any upstream call: not one llmux cannot serve (dprovider.h).
 * Owns: that filter and the typed error when nothing is left. route.c
 * calls it on every group it resolves (first and fallback). */
#ifndef LLMUX_DFILTER_H
#define LLMUX_DFILTER_H

#include <stddef.h>

struct deployment;
struct request;

/* Keeps, in order, the deployments of got[0, n) rq may use, dropping
 * the references of the others. Returns how many are left, or < 0 with
 * msg set when none is (LLMUX_ENOTFOUND naming the provider of an
 * unusable one). */
int dfilter_apply(const struct request *rq, const char *group,
                  struct deployment **got, int n, char *msg, size_t len);

#endif
