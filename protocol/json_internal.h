/* json_internal.h -- what the files of the JSON conversion share and
 * nothing outside them uses: the byte-level helpers (json_common.c) and the
 * parser's state, which json_pack.c parses with and json_keys.c checks
 * object keys in. Everything else sees proto.h only. */
#ifndef LLMUX_JSON_INTERNAL_H
#define LLMUX_JSON_INTERNAL_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* json_common.c */
/* 1 for the bytes a JSON string holds as they are (printable ASCII except
 * '"' and '\\'), 0 for the rest. */
extern const unsigned char json_plain[256];
/* Length (1-4) of the well-formed UTF-8 sequence at p (n > 0 bytes
 * available), or 0. */
size_t   json_utf8_len(const unsigned char *p, size_t n);
/* Encodes code point cp (not a surrogate, <= 0x10FFFF) at p; returns the
 * byte count. */
size_t   json_utf8_put(char *p, uint32_t cp);
/* The C locale, for uselocale around float conversions; 0 if it cannot be
 * created. */
locale_t json_c_locale(void);

/* The parser (json_pack.c) */

#define JP_LOCAL 64             /* sizes kept on the stack before malloc */
#define JP_LOCAL_KEYS 32        /* object keys likewise */

/* An object key seen in the validating pass: where it starts (its '"'),
 * its raw length between the quotes, whether it holds an escape, and (for
 * large objects only) the hash of its decoded bytes. */
struct jp_key {
    size_t   at, len;
    bool     esc;
    uint64_t hash;
};

struct jp {
    const unsigned char *s;
    size_t len, pos;
    int depth;
    msgpack_packer *pk;         /* NULL in the validating pass */
    /* The element count of each container and the decoded byte length of
     * each string, in document order: 'local', or malloc'd (owned). */
    uint32_t *sizes;
    size_t nsizes, cap;
    size_t next;                /* the packing pass's cursor in sizes */
    uint32_t local[JP_LOCAL];
    /* The keys of the objects being read, innermost last (validating
     * pass only): 'local_keys', or malloc'd (owned). */
    struct jp_key *keys;
    size_t nkeys, keycap;
    struct jp_key local_keys[JP_LOCAL_KEYS];
    char *err;
    size_t errlen;
};

/* Fills the parser's error text with "offset OFF: what"; returns
 * LLMUX_EBADREQ. */
int jp_fail(struct jp *j, size_t off, const char *what);
/* Decodes the escape at s[i] == '\\' into a code point; *ret_n gets the
 * bytes it spans (2, 6, or 12 for a surrogate pair). */
int jp_escape(struct jp *j, size_t i, uint32_t *ret_cp, size_t *ret_n);

/* json_keys.c: validating pass only */
/* Records the key just validated at s[at] (j->pos is past its closing
 * quote). */
int jp_key_push(struct jp *j, size_t at);
/* Whether the keys of one object, keys[base..nkeys), hold one twice; then
 * they are dropped. */
int jp_keys_check(struct jp *j, size_t base);

#endif
