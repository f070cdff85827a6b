/* bedrock.h -- what the three files of the Bedrock dialect share:
 * bedrock.c (the dialect: request facts, region, SigV4, error bodies),
 * bedrock_converse.c (the Converse translation, both ways) and
 * bedrock_stream.c (ConverseStream). Not for other adapters. */
#ifndef LLMUX_PROVIDERS_BEDROCK_H
#define LLMUX_PROVIDERS_BEDROCK_H

#include <jansson.h>
#include <stddef.h>

#include "provider.h"

/* Keys of a hub request the Converse translation takes (NULL-ended). */
extern const char *const bedrock_known_params[];

/* A bad_request "bedrock: <what>"; its code. */
int bedrock_bad(struct pcall *pc, const char *what);

/* The Converse body of pc's request (new reference), or NULL with pc->err
 * set. */
json_t *bedrock_converse_body(struct pcall *pc);
/* A Converse answer -> a hub completion (provider hook). */
int bedrock_parse(struct pcall *pc, const struct http_resp *r,
                  json_t **ret_completion);
/* Converse's stopReason -> OpenAI's finish_reason. */
const char *bedrock_finish(const char *stop);
/* Converse usage -> OpenAI usage (new reference), or NULL. */
json_t *bedrock_usage(const json_t *u);

/* The error code for an exception type (NULL when unknown), an HTTP
 * status (0 in streams) and the message. */
int bedrock_code_for(const char *type, long status, const char *text);

/* ConverseStream (provider hooks). */
int  bedrock_stream_feed(struct pcall *pc, const char *p, size_t n);
int  bedrock_stream_end(struct pcall *pc);
void bedrock_stream_free(struct pcall *pc);

#endif
