/* callparams.h -- a deployment's default call parameters: what
 * litellm_params says of temperature, max_tokens, stop, seed,
 * response_format, extra_body, extra_headers and the other parameters
 * LiteLLM passes to the provider, applied to every call on that
 * deployment with the request's own values winning.
 * Owns: which litellm_params keys are call parameters, the defaults
 * object made at load, merging it into one attempt's request (so a
 * parameter a provider cannot take meets drop_params exactly as a
 * request's own does), and the extra headers. timeout, stream_timeout
 * and max_retries are the deployment's own fields (deployment.h). */
#ifndef LLMUX_CALLPARAMS_H
#define LLMUX_CALLPARAMS_H

#include <jansson.h>

struct deployment;
struct http_req;

/* Whether litellm_params key k is a call parameter passed upstream. */
int callparams_is(const char *k);
/* d->call_defaults from d->params (at load): 0 or -ENOMEM. */
int callparams_read(struct deployment *d);
/* The request of one attempt on d: body plus d's defaults where body has
 * none (extra_body's keys likewise). A new reference: body itself when d
 * adds nothing. NULL when memory runs out. */
json_t *callparams_merge(const struct deployment *d, json_t *body);
/* Adds d's extra_headers to h: 0, or < 0 (a header too long, ENOMEM). */
int callparams_headers(const struct deployment *d, struct http_req *h);

#endif
