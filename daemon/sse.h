/* sse.h -- incremental Server-Sent Events parser (WHATWG "event stream
 * interpretation"), fed with upstream chunks of any size.
 * Owns: the partial line, the pending event and the last event ID, each in
 * a capped buf. Knows nothing of HTTP, providers or JSON. */
#ifndef LLMUX_SSE_H
#define LLMUX_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* One dispatched event. Every pointer is valid only during the callback;
 * all three strings are NUL-terminated. */
struct sse_event {
    const char *event; size_t event_len;   /* "" (len 0) when no event: line */
    const char *data;  size_t data_len;    /* data lines joined by '\n' */
    const char *id;    size_t id_len;      /* last event ID, "" when none */
};

/* Returns 0 to go on; any non-zero value stops sse_feed, which returns it. */
typedef int (*sse_cb)(void *ud, const struct sse_event *ev);

/* Every buf is owned by the struct and freed by sse_free. */
struct sse {
    struct buf line;    /* a line split across feeds, without its ending */
    struct buf data;    /* data: values of the pending event, '\n'-joined */
    struct buf event;   /* event: value of the pending event */
    struct buf id;      /* last event ID; persists across events */
    long long  retry;   /* last valid retry: value in ms, -1 if none */
    size_t     max;     /* cap on one line and on one event's data */
    bool       cr;      /* last feed ended in CR: a leading LF is its pair */
    bool       pending; /* a data: or event: line was seen since dispatch */
    bool       started; /* past the first line (where a BOM may sit) */
};

/* Prepares 's'; max_event caps one line and one event's joined data. */
void sse_init(struct sse *s, size_t max_event);

/* Parses n bytes, calling cb for every complete event. Any bytes are safe
 * to feed (feed + end is the fuzzing entry point). Returns 0,
 * LLMUX_ETOOBIG for a line or event over the cap, -ENOMEM, or the first
 * non-zero value of cb. After a non-zero return the rest of 'p' is
 * dropped and the stream should be abandoned (sse_free). */
int sse_feed(struct sse *s, const char *p, size_t n, sse_cb cb, void *ud);

/* End of stream: processes an unterminated last line and dispatches an
 * event still missing its blank line (real servers omit it; WHATWG would
 * drop it). Same returns as sse_feed. Clears the partial line and pending
 * event so 's' can take a new stream; the last event ID and retry are kept,
 * as an EventSource keeps them across reconnections. */
int sse_end(struct sse *s, sse_cb cb, void *ud);

/* Frees the buffers (NULL is fine); 's' may be reused after sse_init. */
void sse_free(struct sse *s);

#endif
