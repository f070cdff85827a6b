/* common_stream.h -- what every adapter's stream shares: the ids and
 * role of its chunks, emitting deltas and tool-call deltas, the SSE parser
 * state at the head of an adapter's stream state, framing failures, and
 * reading one event. Owns no state (common_stream.c). */
#ifndef LLMUX_PROVIDERS_COMMON_STREAM_H
#define LLMUX_PROVIDERS_COMMON_STREAM_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "provider.h"
#include "sse.h"

/* The cap on one upstream stream event (an SSE event, an NDJSON line). */
#define COMMON_MAX_EVENT (4u * 1024 * 1024)

/* Streaming tool calls: the OpenAI delta for the start of call number
 * index (id and name) and for a fragment of its arguments. */
json_t *common_tool_delta_start(int index, const char *id, const char *name);
json_t *common_tool_delta_args(int index, const char *fragment, size_t len);

/* What every chunk of one stream shares. Zeroed (calloc) means not yet
 * initialised and no chunk sent. */
struct common_stream_id {
    char       id[96];
    char       model[160];
    json_int_t created;
    int        ready;       /* id/model/created are set */
    int        role_sent;   /* the first delta (with the role) went out */
};
/* Sets id (the upstream's, else a new chatcmpl- id), model (the
 * upstream's, else the deployment's) and created; marks s ready. */
void common_stream_id_init(struct common_stream_id *s, const struct pcall *pc,
                           const char *upstream_id, const char *model);
/* Emits one chunk whose single choice carries delta (stolen) and
 * finish_reason (NULL for none). LLMUX_ECLOSED when emit refused it. */
int common_emit_delta(struct pcall *pc, const struct common_stream_id *s,
                      json_t *delta, const char *finish_reason);
/* common_emit_delta for adapters: delta NULL is an allocation failure,
 * s is initialised on first use, and the first delta of the stream gets
 * role "assistant". */
int common_emit(struct pcall *pc, struct common_stream_id *s, json_t *delta,
                const char *finish_reason);

/* The head of an SSE adapter's stream state, which must be its first
 * member (as struct sockaddr heads the address structs). */
struct common_sse_stream {
    struct sse              sse;
    struct common_stream_id sid;
};
/* pc->state as a stream state of size bytes beginning with a struct
 * common_sse_stream: made zeroed, its parser ready, on first use. NULL
 * when out of memory (pc->err set). */
void *common_sse_state(struct pcall *pc, size_t size);
/* Frees the state made by common_sse_state (the adapter frees what it
 * added first); NULL is fine. */
void common_sse_free(struct pcall *pc);

/* Sets pc->err for a stream framing failure r that the callbacks did not
 * explain: over the cap (EUNAVAIL "<name> sent a <what> over 4 MiB"), the
 * caller gone (ECLOSED), anything else internal. */
void common_feed_failed(struct pcall *pc, int r, const char *what);
/* sse_feed / sse_end of the state made by common_sse_state(pc, size),
 * with pc as the callback's ud and failures explained through
 * common_feed_failed. 0 or the failure. */
int common_sse_feed(struct pcall *pc, size_t size, const char *p, size_t n,
                    sse_cb cb);
int common_sse_end(struct pcall *pc, size_t size, sse_cb cb);

/* An SSE event's data as a JSON object: 0 with *ret NULL for an event
 * without data (a keep-alive), *ret a new reference, or < 0 with pc->err
 * set for a malformed one. */
int common_parse_event(struct pcall *pc, const struct sse_event *ev,
                       json_t **ret);

#endif
