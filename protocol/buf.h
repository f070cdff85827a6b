/* buf.h -- a growable byte buffer with a hard cap, after curl's dynbuf.
 * Owns: nothing but its own bytes. Every buf is created with a maximum and
 * refuses (LLMUX_ETOOBIG) to grow past it, so no outside input can make
 * llmux allocate without bound. The bytes are always NUL-terminated. */
#ifndef LLMUX_BUF_H
#define LLMUX_BUF_H

#include <stddef.h>

struct buf {
    char  *p;       /* owned; NULL until the first append */
    size_t len;     /* bytes in use, excluding the trailing NUL */
    size_t cap;     /* bytes allocated */
    size_t max;     /* hard limit on len */
};

void buf_init(struct buf *b, size_t max);
/* Appends n bytes. Returns 0, LLMUX_ETOOBIG past the cap, -ENOMEM. */
int  buf_add(struct buf *b, const void *p, size_t n);
int  buf_adds(struct buf *b, const char *s);
int  buf_addf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (a consumed prefix). */
void buf_consume(struct buf *b, size_t n);
void buf_reset(struct buf *b);
/* Frees the bytes; the buf can be reused after buf_init. */
void buf_free(struct buf *b);
/* Like buf_free, but wipes the bytes first (for anything holding a key). */
void buf_free_secret(struct buf *b);
/* Hands the bytes to the caller (who frees them); the buf is left empty. */
char *buf_steal(struct buf *b, size_t *ret_len);

#endif
