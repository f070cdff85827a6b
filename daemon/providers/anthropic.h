/* anthropic.h -- what the two files of the Anthropic dialect share:
 * anthropic.c (requests, whole answers, errors) and anthropic_stream.c
 * (the SSE stream): usage counts, stop reasons and error objects. Not for
 * other adapters. */
#ifndef LLMUX_PROVIDERS_ANTHROPIC_H
#define LLMUX_PROVIDERS_ANTHROPIC_H

#include <jansson.h>
#include <stddef.h>

#include "provider.h"

/* Token counts as the API reports them. */
struct ausage {
    json_int_t input, cache_read, cache_write, output, thinking;
    int        has_cache_read, has_thinking;
};

/* Takes the counts present in an Anthropic usage object. */
void    anthropic_usage_take(struct ausage *u, const json_t *o);
/* The hub's usage for u (new reference). */
json_t *anthropic_usage_json(const struct ausage *u);
/* stop_reason -> OpenAI's finish_reason (tools: tool calls were made). */
const char *anthropic_stop(const char *reason, int tools);
/* An {"type":"error","error":{type, message}} error value -> pc->err and
 * its code; 0 for a value that is not an object. */
int anthropic_error_obj(struct pcall *pc, const json_t *err, long status);

/* The stream (provider hooks). */
int  anthropic_stream_feed(struct pcall *pc, const char *p, size_t n);
int  anthropic_stream_end(struct pcall *pc);
void anthropic_stream_free(struct pcall *pc);

#endif
