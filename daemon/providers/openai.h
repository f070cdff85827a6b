/* openai.h -- the pieces of the OpenAI adapter that other dialects speaking
 * the same wire format reuse (azure.c): the body builder and the readers of
 * bodies, streams and errors. See openai.c. */
#ifndef LLMUX_PROVIDERS_OPENAI_H
#define LLMUX_PROVIDERS_OPENAI_H

#include "buf.h"
#include "provider.h"

/* openai_build_body flags */
#define OPENAI_BODY_NO_STREAM_OPTIONS 0x1  /* never add stream_options */

/* The request body: the provider-bound request (llmux's control keys are
 * stripped before adapters see it), with the upstream model name and, for
 * streams, stream_options.include_usage. Appends to out. 0, or < 0 with
 * pc->err set. */
int  openai_build_body(struct pcall *pc, unsigned flags, struct buf *out);

/* The provider hooks of provider_openai, for adapters that only change
 * where the request goes and how it authenticates. */
int  openai_parse(struct pcall *pc, const struct http_resp *r,
                  json_t **ret_completion);
int  openai_stream_feed(struct pcall *pc, const char *p, size_t n);
int  openai_stream_end(struct pcall *pc);
void openai_stream_free(struct pcall *pc);
int  openai_map_error(struct pcall *pc, const struct http_resp *r);

#endif
