/* ndjson.h -- newline-delimited JSON framing (Ollama's streaming bodies).
 * Owns: splitting a byte stream into lines ("\n" or "\r\n"), with a capped
 * buffer for the line in progress. It does not parse the JSON. */
#ifndef LLMUX_NDJSON_H
#define LLMUX_NDJSON_H

#include <stddef.h>

#include "buf.h"

/* One line, without its "\n" or "\r\n", NUL-terminated; valid only during
 * the call. Returns 0 to go on; non-zero stops ndjson_feed, which returns
 * it. Blank (whitespace-only) lines are never passed. */
typedef int (*ndjson_cb)(void *ud, const char *line, size_t len);

struct ndjson {
    struct buf line;    /* owned; the line in progress (each is copied once,
                         * so that the callback sees a NUL-terminated one) */
    size_t     max;     /* cap on one line, without its ending */
};

/* Prepares 'n'; a line longer than max_line bytes is an error. */
void ndjson_init(struct ndjson *n, size_t max_line);

/* Parses len bytes, calling cb for every complete non-blank line. Any
 * bytes are safe to feed (feed + end is the fuzzing entry point). Returns
 * 0, LLMUX_ETOOBIG, -ENOMEM, or the first non-zero value of cb. After a
 * non-zero return the rest of 'p' is dropped; abandon the stream. */
int ndjson_feed(struct ndjson *n, const char *p, size_t len,
                ndjson_cb cb, void *ud);

/* End of stream: passes an unterminated last line to cb. Same returns as
 * ndjson_feed. Leaves 'n' ready for a new stream. */
int ndjson_end(struct ndjson *n, ndjson_cb cb, void *ud);

/* Frees the line buffer (NULL is fine); reuse needs ndjson_init. */
void ndjson_free(struct ndjson *n);

#endif
