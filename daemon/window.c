/* window.c -- sliding one-minute windows in one-second buckets (window.h).
 * Moving the window to a new second drops the buckets that left it from
 * the running sums, so reading a sum costs nothing more than the seconds
 * that passed (at most WINDOW_SECS), never a scan per request. */
#include "window.h"

#include <string.h>

/* Drops the buckets of seconds that are no longer within the minute up
 * to now. A clock that went back (it is monotonic; never in practice)
 * leaves the window as it is. */
static void advance(struct window *w, uint64_t now)
{
    if (now <= w->last)
        return;
    if (now - w->last >= WINDOW_SECS) {
        memset(w, 0, sizeof(*w));
    } else {
        for (uint64_t s = w->last + 1; s <= now; s++) {
            unsigned i = (unsigned)(s % WINDOW_SECS);

            w->req_sum -= w->req[i];
            w->tok_sum -= w->tok[i];
            w->req[i] = 0;
            w->tok[i] = 0;
        }
    }
    w->last = now;
}

uint64_t window_requests(struct window *w, uint64_t now)
{
    advance(w, now);
    return w->req_sum;
}

uint64_t window_tokens(struct window *w, uint64_t now)
{
    advance(w, now);
    return w->tok_sum;
}

double window_retry(struct window *w, uint64_t now, int tok, uint64_t limit)
{
    uint64_t sum;

    advance(w, now);
    sum = tok ? w->tok_sum : w->req_sum;
    if (sum < limit)
        return 0;
    /* Oldest second first: the bucket of second s leaves the window at
     * s + WINDOW_SECS; wait for as many to leave as bring sum below. */
    for (unsigned k = WINDOW_SECS - 1; k > 0; k--) {
        uint64_t s = now - k;
        unsigned i = (unsigned)(s % WINDOW_SECS);

        if (now < k)
            continue;               /* before the clock started */
        sum -= tok ? w->tok[i] : w->req[i];
        if (sum < limit)
            return (double)(WINDOW_SECS - k);
    }
    return WINDOW_SECS;             /* this second's own count suffices */
}

void window_add(struct window *w, uint64_t now, uint32_t req, uint64_t tok)
{
    unsigned i = (unsigned)(now % WINDOW_SECS);

    advance(w, now);
    if (now < w->last)
        return;                     /* see advance: no bucket for it */
    w->req[i] += req;
    w->tok[i] += tok;
    w->req_sum += req;
    w->tok_sum += tok;
}
