/* sse.c -- incremental Server-Sent Events parser (see sse.h).
 * Owns: line splitting (LF, CRLF, lone CR, and a CR|LF pair split across
 * feeds) and the WHATWG field rules. A line wholly inside one feed is
 * parsed in place; only a line split across feeds is copied. */
#include "sse.h"
#include "llmux-errno.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

void sse_init(struct sse *s, size_t max_event)
{
    buf_init(&s->line, max_event);
    /* Each data line is stored with a '\n' after it and the last one is
     * dropped at dispatch, so one spare byte keeps the cap exact. */
    buf_init(&s->data, max_event < SIZE_MAX ? max_event + 1 : max_event);
    buf_init(&s->event, max_event);
    buf_init(&s->id, max_event);
    s->retry = -1;
    s->max = max_event;
    s->cr = s->pending = s->started = false;
}

void sse_free(struct sse *s)
{
    if (s == NULL)
        return;
    buf_free(&s->line);
    buf_free(&s->data);
    buf_free(&s->event);
    buf_free(&s->id);
}

/* Hands the pending event to cb, then clears it (the ID stays: it is the
 * stream's "last event ID", not a per-event field). */
static int dispatch(struct sse *s, sse_cb cb, void *ud)
{
    struct sse_event ev;
    int r;

    if (!s->pending)
        return 0;
    ev.event = s->event.len ? s->event.p : "";
    ev.event_len = s->event.len;
    ev.data = "";
    ev.data_len = 0;
    if (s->data.len) {
        ev.data_len = s->data.len - 1;
        s->data.p[ev.data_len] = '\0';      /* the trailing '\n' */
        ev.data = s->data.p;
    }
    ev.id = s->id.len ? s->id.p : "";
    ev.id_len = s->id.len;
    r = cb(ud, &ev);
    buf_reset(&s->data);
    buf_reset(&s->event);
    s->pending = false;
    return r;
}

/* retry: is honoured only when it is all ASCII digits (WHATWG). */
static void set_retry(struct sse *s, const char *v, size_t n)
{
    long long ms = 0;

    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return;
        if (ms > (LLONG_MAX - 9) / 10)
            return;                         /* absurd; ignore like garbage */
        ms = ms * 10 + (v[i] - '0');
    }
    s->retry = ms;
}

static bool field_is(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(name, want, n) == 0;
}

static int process_field(struct sse *s, const char *name, size_t nlen,
                         const char *v, size_t vlen)
{
    int r;

    if (field_is(name, nlen, "data")) {
        s->pending = true;
        if ((r = buf_add(&s->data, v, vlen)) < 0)
            return r;
        return buf_add(&s->data, "\n", 1);
    }
    if (field_is(name, nlen, "event")) {
        s->pending = true;
        buf_reset(&s->event);
        return buf_add(&s->event, v, vlen);
    }
    if (field_is(name, nlen, "id")) {
        if (memchr(v, '\0', vlen) != NULL)
            return 0;                       /* WHATWG: ignore such an id */
        buf_reset(&s->id);
        return buf_add(&s->id, v, vlen);
    }
    if (field_is(name, nlen, "retry"))
        set_retry(s, v, vlen);
    return 0;                               /* unknown fields are ignored */
}

/* One complete line, without its ending. */
static int process_line(struct sse *s, const char *p, size_t n,
                        sse_cb cb, void *ud)
{
    const char *colon, *v;
    size_t nlen, vlen;

    if (!s->started) {
        s->started = true;
        if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
            p += 3;                         /* one leading BOM is ignored */
            n -= 3;
        }
    }
    if (n == 0)
        return dispatch(s, cb, ud);
    if (p[0] == ':')
        return 0;                           /* comment / keep-alive */
    colon = memchr(p, ':', n);
    if (colon == NULL) {                    /* "data" alone: empty value */
        nlen = n;
        v = p + n;
        vlen = 0;
    } else {
        nlen = (size_t)(colon - p);
        v = colon + 1;
        vlen = n - nlen - 1;
        if (vlen && *v == ' ') {
            v++;
            vlen--;
        }
    }
    return process_field(s, p, nlen, v, vlen);
}

/* A line that ended inside this feed: parse it in place unless its start
 * is already buffered from earlier feeds. */
static int take_line(struct sse *s, const char *p, size_t n,
                     sse_cb cb, void *ud)
{
    int r;

    if (s->line.len == 0) {
        if (n > s->max)
            return LLMUX_ETOOBIG;
        return process_line(s, p, n, cb, ud);
    }
    if ((r = buf_add(&s->line, p, n)) < 0)
        return r;
    r = process_line(s, s->line.p, s->line.len, cb, ud);
    buf_reset(&s->line);
    return r;
}

int sse_feed(struct sse *s, const char *p, size_t n, sse_cb cb, void *ud)
{
    const char *end = p + n, *eol, *cr;
    int r;

    while (p < end) {
        if (s->cr) {
            s->cr = false;
            if (*p == '\n') {               /* second half of a CR LF */
                p++;
                continue;
            }
        }
        /* Two memchr passes beat one byte loop; the CR scan stops at the
         * LF, so LF-only streams read each line twice at most. */
        eol = memchr(p, '\n', (size_t)(end - p));
        cr = memchr(p, '\r', (size_t)((eol ? eol : end) - p));
        if (cr != NULL)
            eol = cr;
        if (eol == NULL)
            return buf_add(&s->line, p, (size_t)(end - p));
        if ((r = take_line(s, p, (size_t)(eol - p), cb, ud)) != 0)
            return r;
        p = eol + 1;
        if (*eol == '\r') {
            if (p == end)
                s->cr = true;               /* its LF may open the next feed */
            else if (*p == '\n')
                p++;
        }
    }
    return 0;
}

int sse_end(struct sse *s, sse_cb cb, void *ud)
{
    int r = 0;

    if (s->line.len)
        r = process_line(s, s->line.p, s->line.len, cb, ud);
    if (r == 0)
        r = dispatch(s, cb, ud);
    buf_reset(&s->line);
    buf_reset(&s->data);
    buf_reset(&s->event);
    s->pending = s->cr = s->started = false;
    return r;
}
