/* window.h -- a sliding one-minute window of requests and tokens, the one
 * implementation behind every rpm/tpm limit: virtual keys, teams, local
 * callers (limits.c) and deployments (router.c).
 * Owns nothing but the fixed-size struct: 60 one-second buckets and their
 * running sums, so a check is O(1) and a window is 740 bytes whatever the
 * traffic. Time is passed in (monotonic seconds): pure, testable. */
#ifndef LLMUX_WINDOW_H
#define LLMUX_WINDOW_H

#include <stdint.h>

#define WINDOW_SECS 60

/* All zero is an empty window. Bucket i holds the second s with
 * s % WINDOW_SECS == i among the last WINDOW_SECS seconds up to 'last'. */
struct window {
    uint64_t last;                 /* newest second the sums are for */
    uint64_t req_sum, tok_sum;     /* over the buckets in the window */
    uint32_t req[WINDOW_SECS];
    uint64_t tok[WINDOW_SECS];
};

/* Requests started / tokens used in the last minute (now included). */
uint64_t window_requests(struct window *w, uint64_t now);
uint64_t window_tokens(struct window *w, uint64_t now);
/* Seconds (1..WINDOW_SECS) until the requests (tok = 0) or tokens
 * (tok = 1) in the window drop below limit; 0 when they already are. */
double   window_retry(struct window *w, uint64_t now, int tok,
                      uint64_t limit);
/* Counts req requests and tok tokens at second now. */
void     window_add(struct window *w, uint64_t now, uint32_t req,
                    uint64_t tok);

#endif
