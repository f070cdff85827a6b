/* ndjson.c -- newline-delimited JSON framing (see ndjson.h).
 * Owns: the line-in-progress buffer. A lone CR is not a line ending here
 * (it cannot occur unescaped in JSON text anyway); "\r\n" is accepted. */
#include "ndjson.h"
#include "llmux-errno.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

void ndjson_init(struct ndjson *n, size_t max_line)
{
    /* One spare byte: a trailing CR is buffered before we know it is
     * part of "\r\n", and must not count against the cap. */
    buf_init(&n->line, max_line < SIZE_MAX ? max_line + 1 : max_line);
    n->max = max_line;
}

void ndjson_free(struct ndjson *n)
{
    if (n != NULL)
        buf_free(&n->line);
}

static bool is_blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

/* The buffered line is complete: strip a CR, check the cap, hand it on. */
static int flush_line(struct ndjson *n, ndjson_cb cb, void *ud)
{
    struct buf *b = &n->line;
    size_t len = b->len;
    int r = 0;

    if (len && b->p[len - 1] == '\r')
        b->p[--len] = '\0';
    if (len > n->max)
        r = LLMUX_ETOOBIG;
    else if (!is_blank(b->p, len))
        r = cb(ud, b->p, len);
    buf_reset(b);
    return r;
}

int ndjson_feed(struct ndjson *n, const char *p, size_t len,
                ndjson_cb cb, void *ud)
{
    const char *end = p + len, *nl;
    int r;

    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return buf_add(&n->line, p, (size_t)(end - p));
        if ((r = buf_add(&n->line, p, (size_t)(nl - p))) < 0)
            return r;
        if (n->line.len && (r = flush_line(n, cb, ud)) != 0)
            return r;
        p = nl + 1;
    }
    return 0;
}

int ndjson_end(struct ndjson *n, ndjson_cb cb, void *ud)
{
    if (n->line.len == 0)
        return 0;
    return flush_line(n, cb, ud);
}
