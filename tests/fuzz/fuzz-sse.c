/* fuzz-sse.c -- libFuzzer target: the SSE parser (daemon/sse.c).
 * Input: one byte that sets the piece size, one that picks the cap, then
 * the stream. The stream is parsed twice, whole and in pieces, then ended;
 * both runs must dispatch the same events and return the same code (the
 * parser's output may not depend on how TCP cut the bytes). Every event's
 * strings must be NUL-terminated at their stated lengths. */
#include "fuzz.h"
#include "llmux-errno.h"
#include "sse.h"

#include <string.h>

struct seen {
    uint64_t hash;
    size_t   n;
};

static int on_event(void *ud, const struct sse_event *ev)
{
    struct seen *s = ud;

    FUZZ_ASSERT(ev->event[ev->event_len] == '\0');
    FUZZ_ASSERT(ev->data[ev->data_len] == '\0');
    FUZZ_ASSERT(ev->id[ev->id_len] == '\0');
    s->hash = fuzz_hash(s->hash, ev->event, ev->event_len + 1);
    s->hash = fuzz_hash(s->hash, ev->data, ev->data_len + 1);
    s->hash = fuzz_hash(s->hash, ev->id, ev->id_len + 1);
    s->n++;
    /* Stop at an event named "stop", as an adapter stops at an error. */
    return ev->event_len == 4 && memcmp(ev->event, "stop", 4) == 0 ? 7 : 0;
}

/* Feeds p[0..n) in pieces of 'piece' bytes (all at once for 0). */
static int run(const char *p, size_t n, size_t piece, size_t cap,
               struct seen *s, long long *ret_retry)
{
    struct sse sse;
    size_t off = 0, k;
    int r = 0;

    sse_init(&sse, cap);
    while (r == 0 && off < n) {
        k = piece == 0 || piece > n - off ? n - off : piece;
        /* An exact-size copy, so ASan sees reads past the piece. */
        char *c = malloc(k);
        if (c == NULL)
            abort();
        memcpy(c, p + off, k);
        r = sse_feed(&sse, c, k, on_event, s);
        free(c);
        off += k;
    }
    if (r == 0)
        r = sse_end(&sse, on_event, s);
    *ret_retry = sse.retry;
    sse_free(&sse);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen whole = { 0, 0 }, split = { 0, 0 };
    long long retry_w, retry_s;
    size_t cap;
    int rw, rs;

    if (size < 2)
        return 0;
    cap = data[1] < 32 ? (size_t)data[1] + 1 : 4u * 1024 * 1024;
    rw = run((const char *)data + 2, size - 2, 0, cap, &whole, &retry_w);
    rs = run((const char *)data + 2, size - 2, fuzz_piece(data[0]), cap,
             &split, &retry_s);
    FUZZ_ASSERT(rw == 0 || rw == 7 || rw == LLMUX_ETOOBIG);
    FUZZ_ASSERT(rw == rs);
    FUZZ_ASSERT(whole.n == split.n && whole.hash == split.hash);
    if (rw == 0)
        FUZZ_ASSERT(retry_w == retry_s);
    return 0;
}
