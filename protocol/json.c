/* json.c -- JSON text <-> msgpack for frame bodies (see proto.h).
 * Owns: a strict RFC 8259 parser that packs straight into a msgpack_packer
 * (no tree), and the msgpack -> compact JSON printer. Both run per streamed
 * chunk, need no scratch memory for small documents and never read outside
 * their input. The parser keeps the daemon's one JSON rule (see "The JSON
 * rule" below): it accepts exactly what jansson accepts. */
#define _DEFAULT_SOURCE            /* newlocale, uselocale */
#include "proto.h"

#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Shared helpers: UTF-8 and the C locale
 */

/* 1 for the bytes a JSON string holds as they are, on both sides: printable
 * ASCII except '"' and '\\'. The hot loops test this one table instead of
 * five comparisons per byte. */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x20 '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,     /* 0x50 '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,     /* 0x70 */
    /* 0x80..0xff: 0, UTF-8 is checked separately */
};

/* Length (1-4) of the well-formed UTF-8 sequence at p (n > 0 bytes
 * available), or 0. Rejects overlong forms, surrogates (ED A0..BF) and
 * code points above U+10FFFF, as RFC 3629 does. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0], lo = 0x80, hi = 0xbf;

    if (c < 0x80)
        return 1;
    if (c < 0xc2)
        return 0;
    if (c < 0xe0)
        return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c < 0xf0) {
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
        return n >= 3 && p[1] >= lo && p[1] <= hi &&
               (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c < 0xf5) {
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
        return n >= 4 && p[1] >= lo && p[1] <= hi &&
               (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* Encodes code point cp (not a surrogate, <= 0x10FFFF) at p; returns the
 * byte count. */
static size_t utf8_put(char *p, uint32_t cp)
{
    if (cp < 0x80) {
        p[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (char)(0xc0 | cp >> 6);
        p[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (char)(0xe0 | cp >> 12);
        p[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        p[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    p[0] = (char)(0xf0 | cp >> 18);
    p[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    p[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    p[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* strtod and printf follow LC_NUMERIC. llmuxd never calls setlocale, but
 * libllmux runs inside applications that may, and a decimal comma would
 * turn 1.5 into 1 (parsing) or "1,5" (printing). Float conversions therefore
 * switch the calling thread to this C locale and back (uselocale is
 * per-thread and cheap). Created once; 0 if that fails, which leaves the
 * thread's own locale in place. */
static locale_t c_locale(void)
{
    static _Atomic(locale_t) cached;
    locale_t l = atomic_load(&cached), expected = (locale_t)0;

    if (l != (locale_t)0)
        return l;
    l = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (l == (locale_t)0)
        return l;
    if (!atomic_compare_exchange_strong(&cached, &expected, l)) {
        freelocale(l);          /* another thread won the race */
        l = expected;
    }
    return l;
}

/* ------------------------------------------------------------------------
 * JSON -> msgpack
 *
 * msgpack puts a container's element count (and a string's byte length)
 * before its contents, which a one-pass JSON reader learns only at the end.
 * So the same recursive-descent parser runs twice: the first pass (pk ==
 * NULL) validates everything and records every container's count and every
 * string's decoded length in document order; the second packs, taking the
 * recorded sizes in the same order. That is O(n) whatever the nesting (a
 * pre-scan per container would be O(n * depth)), and on invalid input
 * nothing at all reaches the packer.
 */

/* The JSON rule. llmuxd reads upstream JSON two ways: jansson
 * (json_loadb with JSON_REJECT_DUPLICATES, then hub_pack) and this parser
 * (the stream fast path). So that a stream's fate never depends on which
 * way one of its chunks went, both accept exactly the same texts, and
 * this parser refuses, with jansson's words, what jansson refuses on top
 * of RFC 8259: "\u0000" in a string, integers outside int64, numbers
 * beyond the range of a double, and an object key given twice. Nesting
 * deeper than LLMUX_MAX_DEPTH is refused here, and by the daemon's tree
 * path too. tests/fuzz/fuzz-jsondiff.c holds the two equal. */

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

static int jp_value(struct jp *j);

static int jp_fail(struct jp *j, size_t off, const char *what)
{
    if (j->err != NULL && j->errlen > 0)
        snprintf(j->err, j->errlen, "offset %zu: %s", off, what);
    return LLMUX_EBADREQ;
}

static void jp_ws(struct jp *j)
{
    while (j->pos < j->len) {
        unsigned char c = j->s[j->pos];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        j->pos++;
    }
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* The index of the size entry of the container or string starting here:
 * a new entry in the first pass, the next recorded one in the second. */
static int jp_slot(struct jp *j, size_t *ret)
{
    if (j->pk != NULL) {
        if (j->next >= j->nsizes)
            return LLMUX_EINTERNAL;     /* the passes disagree: a bug */
        *ret = j->next++;
        return 0;
    }
    if (j->nsizes == j->cap) {
        size_t cap = j->cap * 2;
        uint32_t *p;

        if (j->sizes == j->local) {
            p = malloc(cap * sizeof(*p));
            if (p != NULL)
                memcpy(p, j->local, sizeof(j->local));
        } else {
            p = realloc(j->sizes, cap * sizeof(*p));
        }
        if (p == NULL)
            return -ENOMEM;
        j->sizes = p;
        j->cap = cap;
    }
    j->sizes[j->nsizes] = 0;
    *ret = j->nsizes++;
    return 0;
}

/* Reads 4 hex digits at s[at..]; returns false if not there. */
static bool hex4(const unsigned char *s, size_t len, size_t at, uint32_t *ret)
{
    uint32_t v = 0;

    if (at > len || len - at < 4)
        return false;
    for (size_t i = at; i < at + 4; i++) {
        unsigned c = s[i];

        if (c >= '0' && c <= '9')
            c -= '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            c = (c | 0x20) - 'a' + 10;
        else
            return false;
        v = v << 4 | c;
    }
    *ret = v;
    return true;
}

/* Decodes the escape at s[i] == '\\' into a code point; *ret_n gets the
 * bytes it spans (2, 6, or 12 for a surrogate pair). */
static int jp_escape(struct jp *j, size_t i, uint32_t *ret_cp, size_t *ret_n)
{
    const unsigned char *s = j->s;
    uint32_t cp, lo;

    if (j->len - i < 2)
        return jp_fail(j, j->pos, "unterminated string");
    *ret_n = 2;
    switch (s[i + 1]) {
    case '"':  *ret_cp = '"';  return 0;
    case '\\': *ret_cp = '\\'; return 0;
    case '/':  *ret_cp = '/';  return 0;
    case 'b':  *ret_cp = '\b'; return 0;
    case 'f':  *ret_cp = '\f'; return 0;
    case 'n':  *ret_cp = '\n'; return 0;
    case 'r':  *ret_cp = '\r'; return 0;
    case 't':  *ret_cp = '\t'; return 0;
    case 'u':  break;
    default:   return jp_fail(j, i, "invalid escape");
    }
    if (!hex4(s, j->len, i + 2, &cp))
        return jp_fail(j, i, "invalid \\u escape");
    *ret_n = 6;
    if (cp == 0)
        return jp_fail(j, i, "\\u0000 is not allowed without "
                       "JSON_ALLOW_NUL");
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return jp_fail(j, i, "lone surrogate in \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (j->len - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' ||
            !hex4(s, j->len, i + 8, &lo) || lo < 0xdc00 || lo > 0xdfff)
            return jp_fail(j, i, "lone surrogate in \\u escape");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        *ret_n = 12;
    }
    *ret_cp = cp;
    return 0;
}

/* First pass over the string at pos (on its '"'): validates it and records
 * its decoded length. */
static int jp_string_scan(struct jp *j, size_t slot)
{
    const unsigned char *s = j->s;
    size_t i = j->pos + 1, out = 0, n;
    uint32_t cp;
    int r;

    for (;;) {
        size_t run = i;

        /* The common case: printable ASCII. */
        while (i < j->len && plain[s[i]])
            i++;
        out += i - run;
        if (i >= j->len)
            return jp_fail(j, j->pos, "unterminated string");
        if (s[i] == '"')
            break;
        if (s[i] == '\\') {
            if ((r = jp_escape(j, i, &cp, &n)) < 0)
                return r;
            out += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            i += n;
        } else if (s[i] < 0x20) {
            return jp_fail(j, i, "control character in string");
        } else {
            if ((n = utf8_len(s + i, j->len - i)) == 0)
                return jp_fail(j, i, "invalid UTF-8 in string");
            out += n;
            i += n;
        }
    }
    if (out > UINT32_MAX)
        return jp_fail(j, j->pos, "string too long");
    j->sizes[slot] = (uint32_t)out;
    j->pos = i + 1;
    return 0;
}

/* Second pass: packs the (validated) string at pos, copying the runs
 * between escapes straight from the input. */
static int jp_string_pack(struct jp *j, uint32_t size)
{
    const unsigned char *s = j->s;
    size_t i = j->pos + 1, run = i, n;
    uint32_t cp;
    char u[4];
    int r = msgpack_pack_str(j->pk, size);

    while (r == 0 && i < j->len && s[i] != '"') {
        if (s[i] != '\\') {       /* validated: only '"' and '\\' matter */
            i++;
            continue;
        }
        if (i > run && msgpack_pack_str_body(j->pk, s + run, i - run) != 0)
            return -ENOMEM;
        if ((r = jp_escape(j, i, &cp, &n)) < 0)
            return r;
        r = msgpack_pack_str_body(j->pk, u, utf8_put(u, cp));
        i += n;
        run = i;
    }
    if (r == 0 && i > run)
        r = msgpack_pack_str_body(j->pk, s + run, i - run);
    j->pos = i + 1;
    return r ? -ENOMEM : 0;
}

static int jp_string(struct jp *j)
{
    size_t slot;
    int r = jp_slot(j, &slot);

    if (r < 0)
        return r;
    return j->pk ? jp_string_pack(j, j->sizes[slot])
                 : jp_string_scan(j, slot);
}

/* ---- duplicate keys ---------------------------------------------------- */

/* The decoded bytes of the validated string at s[at] == '"', one at a
 * time: a byte, or -1 at its end. Keys compare by these, so "a" and
 * "\u0061" are the same key, as they are to jansson. */
struct jp_iter {
    struct jp *j;
    size_t i;
    char u[4];
    size_t un, uk;
};

static void jp_iter_init(struct jp_iter *it, struct jp *j, size_t at)
{
    it->j = j;
    it->i = at + 1;
    it->un = it->uk = 0;
}

static int jp_iter_next(struct jp_iter *it)
{
    const unsigned char *s = it->j->s;
    uint32_t cp;
    size_t n;

    if (it->uk < it->un)
        return (unsigned char)it->u[it->uk++];
    if (s[it->i] == '"')
        return -1;
    if (s[it->i] != '\\')
        return s[it->i++];
    jp_escape(it->j, it->i, &cp, &n);      /* validated: cannot fail */
    it->i += n;
    it->un = utf8_put(it->u, cp);
    it->uk = 1;
    return (unsigned char)it->u[0];
}

static uint64_t jp_key_hash(struct jp *j, size_t at)
{
    struct jp_iter it;
    uint64_t h = 14695981039346656037ull;   /* FNV-1a */
    int c;

    jp_iter_init(&it, j, at);
    while ((c = jp_iter_next(&it)) >= 0)
        h = (h ^ (unsigned)c) * 1099511628211ull;
    return h;
}

static bool jp_key_equal(struct jp *j, size_t a, size_t b)
{
    struct jp_iter x, y;
    int c, d;

    jp_iter_init(&x, j, a);
    jp_iter_init(&y, j, b);
    do {
        c = jp_iter_next(&x);
        d = jp_iter_next(&y);
    } while (c == d && c >= 0);
    return c == d;
}

/* Records the key just validated at s[at] (j->pos is past its closing
 * quote). */
static int jp_key_push(struct jp *j, size_t at)
{
    struct jp_key *k;

    if (j->nkeys == j->keycap) {
        size_t cap = j->keycap * 2;
        struct jp_key *p;

        if (j->keys == j->local_keys) {
            p = malloc(cap * sizeof(*p));
            if (p != NULL)
                memcpy(p, j->local_keys, sizeof(j->local_keys));
        } else {
            p = realloc(j->keys, cap * sizeof(*p));
        }
        if (p == NULL)
            return -ENOMEM;
        j->keys = p;
        j->keycap = cap;
    }
    k = &j->keys[j->nkeys++];
    k->at = at;
    k->len = j->pos - at - 2;
    /* Every escape decodes shorter than it is written, so a key holds
     * one exactly when its decoded length (its slot, the last recorded)
     * is not its raw length. */
    k->esc = j->sizes[j->nsizes - 1] != k->len;
    return 0;
}

static int jp_key_cmp(const void *a, const void *b)
{
    const struct jp_key *x = a, *y = b;

    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Whether a and b are the same key: escape-free keys (nearly all) by
 * their raw bytes, others decoded. */
static bool jp_same_key(struct jp *j, const struct jp_key *a,
                        const struct jp_key *b)
{
    if (!a->esc && !b->esc)
        return a->len == b->len &&
               memcmp(j->s + a->at + 1, j->s + b->at + 1, a->len) == 0;
    return jp_key_equal(j, a->at, b->at);
}

static int jp_dup(struct jp *j, const struct jp_key *a,
                  const struct jp_key *b)
{
    if (!jp_same_key(j, a, b))
        return 0;
    return jp_fail(j, a->at > b->at ? a->at : b->at, "duplicate object key");
}

/* Whether the keys of one object, keys[base..nkeys), hold one twice; then
 * they are dropped. Few keys (a chunk's objects have up to ten) compare
 * pairwise; more are sorted by hash first, so a huge object costs
 * n log n, not n * n. */
static int jp_keys_check(struct jp *j, size_t base)
{
    struct jp_key *k = j->keys + base;
    size_t n = j->nkeys - base;
    int r = 0;

    if (n <= 12) {
        for (size_t a = 1; r == 0 && a < n; a++)
            for (size_t b = 0; r == 0 && b < a; b++)
                r = jp_dup(j, &k[a], &k[b]);
    } else {
        for (size_t a = 0; a < n; a++)
            k[a].hash = jp_key_hash(j, k[a].at);
        qsort(k, n, sizeof(*k), jp_key_cmp);
        for (size_t a = 1; r == 0 && a < n; a++)
            if (k[a].hash == k[a - 1].hash)
                r = jp_dup(j, &k[a], &k[a - 1]);
    }
    j->nkeys = base;
    return r;
}

/* strtod on a NUL-terminated copy of the n bytes at p (strtod needs the
 * NUL; the input has none), in the C locale. */
static int jp_strtod(const unsigned char *p, size_t n, double *ret)
{
    char local[64], *t = local;
    locale_t old;

    if (n >= sizeof(local) && (t = malloc(n + 1)) == NULL)
        return -ENOMEM;
    memcpy(t, p, n);
    t[n] = '\0';
    old = uselocale(c_locale());
    *ret = strtod(t, NULL);
    uselocale(old);
    if (t != local)
        free(t);
    return 0;
}

/* The JSON rule for the number s[start..end) (valid grammar): an integer
 * must fit int64 and any other number a double, as jansson has it (its
 * words). int_digits: how many digits come before a '.' or exponent. */
static int jp_number_range(struct jp *j, size_t start, size_t end,
                           bool is_float, size_t int_digits, bool has_exp)
{
    const unsigned char *s = j->s;
    bool neg = s[start] == '-';
    uint64_t mag = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;
    double d;
    int r;

    if (!is_float) {
        for (size_t i = start + neg; i < end; i++) {
            unsigned dig = s[i] - '0';

            if (mag > (lim - dig) / 10)
                return jp_fail(j, start, neg ? "too big negative integer"
                                             : "too big integer");
            mag = mag * 10 + dig;
        }
        return 0;
    }
    /* Fewer than 309 digits and no exponent stay below DBL_MAX: strtod
     * only for the rest. Underflow is fine (jansson takes 1e-400 as 0). */
    if (!has_exp && int_digits <= 308)
        return 0;
    if ((r = jp_strtod(s + start, end - start, &d)) < 0)
        return r;
    if (isinf(d))
        return jp_fail(j, start, "real number overflow");
    return 0;
}

/* Packs the validated number s[start..end): an integer (within int64, by
 * the JSON rule) as an int, anything else as float64. */
static int jp_number_pack(struct jp *j, size_t start, size_t end,
                          bool is_float)
{
    const unsigned char *s = j->s;
    bool neg = s[start] == '-';
    uint64_t mag = 0;
    double d;
    int r;

    if (!is_float) {
        for (size_t i = start + neg; i < end; i++)
            mag = mag * 10 + (unsigned)(s[i] - '0');
        if (!neg)
            r = msgpack_pack_int64(j->pk, (int64_t)mag);
        else if (mag == (uint64_t)INT64_MAX + 1)
            r = msgpack_pack_int64(j->pk, INT64_MIN);
        else
            r = msgpack_pack_int64(j->pk, -(int64_t)mag);
        return r ? -ENOMEM : 0;
    }
    if ((r = jp_strtod(s + start, end - start, &d)) < 0)
        return r;
    return msgpack_pack_double(j->pk, d) ? -ENOMEM : 0;
}

/* RFC 8259's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 * Both passes validate; the second also packs. */
static int jp_number(struct jp *j)
{
    const unsigned char *s = j->s;
    size_t i = j->pos, n = j->len;
    bool is_float = false, has_exp = false;
    size_t int_start, int_digits;
    int r = 0;

    if (s[i] == '-')
        i++;
    if (i >= n || !is_digit(s[i]))
        return jp_fail(j, i, "invalid number");
    int_start = i;
    if (s[i] == '0') {
        if (++i < n && is_digit(s[i]))
            return jp_fail(j, i - 1, "leading zero in number");
    } else {
        while (i < n && is_digit(s[i]))
            i++;
    }
    int_digits = i - int_start;
    if (i < n && s[i] == '.') {
        is_float = true;
        if (++i >= n || !is_digit(s[i]))
            return jp_fail(j, i, "expected a digit after '.'");
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        is_float = has_exp = true;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !is_digit(s[i]))
            return jp_fail(j, i, "expected a digit in the exponent");
        while (i < n && is_digit(s[i]))
            i++;
    }
    if (j->pk != NULL)
        r = jp_number_pack(j, j->pos, i, is_float);
    else
        r = jp_number_range(j, j->pos, i, is_float, int_digits, has_exp);
    j->pos = i;
    return r;
}

static int jp_literal(struct jp *j, const char *word, size_t n)
{
    int r = 0;

    if (j->len - j->pos < n || memcmp(j->s + j->pos, word, n) != 0)
        return jp_fail(j, j->pos, "invalid literal");
    j->pos += n;
    if (j->pk == NULL)
        return 0;
    if (word[0] == 't')
        r = msgpack_pack_true(j->pk);
    else if (word[0] == 'f')
        r = msgpack_pack_false(j->pk);
    else
        r = msgpack_pack_nil(j->pk);
    return r ? -ENOMEM : 0;
}

/* An object or an array, at pos (on its '{' or '['). */
static int jp_container(struct jp *j, bool is_map)
{
    unsigned char close = is_map ? '}' : ']';
    size_t slot, n = 0, base = j->nkeys, at;
    int r;

    if (++j->depth > LLMUX_MAX_DEPTH)
        return jp_fail(j, j->pos, "nesting deeper than 64");
    if ((r = jp_slot(j, &slot)) < 0)
        return r;
    if (j->pk != NULL) {
        r = is_map ? msgpack_pack_map(j->pk, j->sizes[slot])
                   : msgpack_pack_array(j->pk, j->sizes[slot]);
        if (r != 0)
            return -ENOMEM;
    }
    j->pos++;
    jp_ws(j);
    if (j->pos < j->len && j->s[j->pos] == close) {
        j->pos++;
        goto done;
    }
    for (;;) {
        if (is_map) {
            jp_ws(j);
            if (j->pos >= j->len || j->s[j->pos] != '"')
                return jp_fail(j, j->pos, "expected a string key");
            at = j->pos;
            if ((r = jp_string(j)) < 0)
                return r;
            if (j->pk == NULL && (r = jp_key_push(j, at)) < 0)
                return r;
            jp_ws(j);
            if (j->pos >= j->len || j->s[j->pos] != ':')
                return jp_fail(j, j->pos, "expected ':'");
            j->pos++;
        }
        if ((r = jp_value(j)) < 0)
            return r;
        if (++n > UINT32_MAX)
            return jp_fail(j, j->pos, "too many elements");
        jp_ws(j);
        if (j->pos >= j->len)
            return jp_fail(j, j->pos, is_map ? "unterminated object"
                                             : "unterminated array");
        if (j->s[j->pos] == close) {
            j->pos++;
            break;
        }
        if (j->s[j->pos] != ',')
            return jp_fail(j, j->pos, is_map ? "expected ',' or '}'"
                                             : "expected ',' or ']'");
        j->pos++;
        jp_ws(j);
        if (j->pos < j->len && j->s[j->pos] == close)
            return jp_fail(j, j->pos, "trailing comma");
    }
done:
    if (j->pk == NULL && is_map && (r = jp_keys_check(j, base)) < 0)
        return r;
    if (j->pk == NULL)
        j->sizes[slot] = (uint32_t)n;
    j->depth--;
    return 0;
}

static int jp_value(struct jp *j)
{
    jp_ws(j);
    if (j->pos >= j->len)
        return jp_fail(j, j->pos, "unexpected end of input");
    switch (j->s[j->pos]) {
    case '{': return jp_container(j, true);
    case '[': return jp_container(j, false);
    case '"': return jp_string(j);
    case 't': return jp_literal(j, "true", 4);
    case 'f': return jp_literal(j, "false", 5);
    case 'n': return jp_literal(j, "null", 4);
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        return jp_number(j);
    default:
        return jp_fail(j, j->pos, "unexpected character");
    }
}

/* One pass over the whole text: a value, then only whitespace. */
static int jp_document(struct jp *j)
{
    int r;

    j->pos = 0;
    j->depth = 0;
    j->next = 0;
    if ((r = jp_value(j)) < 0)
        return r;
    jp_ws(j);
    if (j->pos != j->len)
        return jp_fail(j, j->pos, "unexpected data after the value");
    return 0;
}

/* Besides proto.h: -ENOMEM when memory runs out (then, in the packing pass
 * only, pk may hold a partial value). On LLMUX_EBADREQ nothing has been
 * packed. err may be NULL. */
int proto_json_pack(msgpack_packer *pk, const char *json, size_t len,
                    char *err, size_t errlen)
{
    struct jp j;
    int r;

    /* Field by field: the local arrays need no zeroing, and clearing
     * them would cost more than a small chunk's whole parse. */
    j.s = (const unsigned char *)json;
    j.len = len;
    j.pos = 0;
    j.depth = 0;
    j.pk = NULL;
    j.sizes = j.local;
    j.nsizes = 0;
    j.cap = JP_LOCAL;
    j.next = 0;
    j.keys = j.local_keys;
    j.nkeys = 0;
    j.keycap = JP_LOCAL_KEYS;
    j.err = err;
    j.errlen = errlen;
    if (err != NULL && errlen > 0)
        err[0] = '\0';

    r = jp_document(&j);
    if (r == 0) {
        j.pk = pk;
        r = jp_document(&j);
    }
    if (r == -ENOMEM && err != NULL && errlen > 0)
        snprintf(err, errlen, "offset %zu: out of memory", j.pos);
    if (j.sizes != j.local)
        free(j.sizes);
    if (j.keys != j.local_keys)
        free(j.keys);
    return r;
}

/* ------------------------------------------------------------------------
 * msgpack -> JSON
 */

static int jd_value(const msgpack_object *o, struct buf *out, int depth);

/* Decimal digits of a 64-bit magnitude, without printf's overhead. */
static int jd_int(struct buf *out, uint64_t mag, bool neg)
{
    char t[21];
    size_t i = sizeof(t);

    do {
        t[--i] = (char)('0' + mag % 10);
        mag /= 10;
    } while (mag != 0);
    if (neg)
        t[--i] = '-';
    return buf_add(out, t + i, sizeof(t) - i);
}

/* Rewrites printf's exponent "e+05" as "e5" and "e-05" as "e-5". */
static void jd_trim_exponent(char *t)
{
    char *e = strchr(t, 'e'), *d, *w;

    if (e == NULL)
        return;
    w = e + 1;
    d = e + 1;
    if (*d == '+')
        d++;
    else if (*d == '-')
        *w++ = *d++;
    while (*d == '0' && d[1] != '\0')
        d++;
    memmove(w, d, strlen(d) + 1);
}

/* The shortest of %.15g, %.16g, %.17g (%.6g..%.9g for a float32) that reads
 * back as the same value. A ≤15-digit decimal always survives %.15g, so
 * "0.1" stays "0.1"; subnormals carry fewer digits and start from %.1g (so
 * 5e-324 stays 5e-324). The result always has a '.' or an exponent, so a
 * reader sees a float: 1.0, never 1. NaN and Inf have no JSON form: null. */
static int jd_float(struct buf *out, double d, bool f32)
{
    char t[40];
    int p = f32 ? 6 : 15, hi = f32 ? 9 : 17;
    locale_t old;

    if (!isfinite(d))
        return buf_add(out, "null", 4);
    if (d != 0 && fabs(d) < (f32 ? FLT_MIN : DBL_MIN))
        p = 1;
    old = uselocale(c_locale());
    for (; p <= hi; p++) {
        snprintf(t, sizeof(t), "%.*g", p, d);
        if (f32 ? strtof(t, NULL) == (float)d : strtod(t, NULL) == d)
            break;
    }
    uselocale(old);
    jd_trim_exponent(t);
    if (strpbrk(t, ".e") == NULL)
        memcpy(t + strlen(t), ".0", 3);     /* t holds <= 24 chars here */
    return buf_adds(out, t);
}

/* A JSON string. Valid UTF-8 passes through; each byte that is not part of
 * a well-formed sequence becomes U+FFFD, so the output is always valid. */
static int jd_str(struct buf *out, const char *str, uint32_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0, k;
    int r = buf_add(out, "\"", 1);

    while (r == 0 && i < n) {
        unsigned char c = s[i];
        char esc[6] = { '\\', 0, '0', '0', 0, 0 };
        size_t elen = 2;

        if (plain[c]) {
            i++;
            continue;
        }
        if (c >= 0x80 && (k = utf8_len(s + i, n - i)) > 0) {
            i += k;
            continue;
        }
        if (i > run && (r = buf_add(out, s + run, i - run)) < 0)
            break;
        switch (c) {
        case '"':  esc[1] = '"';  break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b';  break;
        case '\f': esc[1] = 'f';  break;
        case '\n': esc[1] = 'n';  break;
        case '\r': esc[1] = 'r';  break;
        case '\t': esc[1] = 't';  break;
        default:
            if (c < 0x20) {
                esc[1] = 'u';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 0xf];
                elen = 6;
            } else {
                memcpy(esc, "\xef\xbf\xbd", 3);     /* U+FFFD */
                elen = 3;
            }
        }
        r = buf_add(out, esc, elen);
        run = ++i;
    }
    if (r == 0 && i > run)
        r = buf_add(out, s + run, i - run);
    if (r == 0)
        r = buf_add(out, "\"", 1);
    return r;
}

int proto_base64(struct buf *out, const void *data, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char t[256];
    size_t k = 0, i;
    int r = 0;

    for (i = 0; r == 0 && n - i >= 3; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        t[k++] = tab[v >> 18];
        t[k++] = tab[v >> 12 & 63];
        t[k++] = tab[v >> 6 & 63];
        t[k++] = tab[v & 63];
        if (k > sizeof(t) - 4) {
            r = buf_add(out, t, k);
            k = 0;
        }
    }
    if (r == 0 && n - i > 0) {
        uint32_t v = (uint32_t)p[i] << 16 |
                     (n - i > 1 ? (uint32_t)p[i + 1] << 8 : 0);

        t[k++] = tab[v >> 18];
        t[k++] = tab[v >> 12 & 63];
        t[k++] = n - i > 1 ? tab[v >> 6 & 63] : '=';
        t[k++] = '=';
    }
    return r == 0 ? buf_add(out, t, k) : r;
}

/* bin as a standard base64 string. */
static int jd_base64(struct buf *out, const unsigned char *p, uint32_t n)
{
    int r = buf_add(out, "\"", 1);

    if (r == 0)
        r = proto_base64(out, p, n);
    return r == 0 ? buf_add(out, "\"", 1) : r;
}

/* An array or a map; depth counts the containers around it. */
static int jd_container(const msgpack_object *o, struct buf *out, int depth)
{
    bool is_map = o->type == MSGPACK_OBJECT_MAP;
    uint32_t n = is_map ? o->via.map.size : o->via.array.size;
    int r;

    if (depth >= LLMUX_MAX_DEPTH)
        return LLMUX_EPROTO;
    if ((r = buf_add(out, is_map ? "{" : "[", 1)) < 0)
        return r;
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0 && (r = buf_add(out, ",", 1)) < 0)
            return r;
        if (is_map) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];

            if (kv->key.type != MSGPACK_OBJECT_STR)
                return LLMUX_EPROTO;
            if ((r = jd_str(out, kv->key.via.str.ptr, kv->key.via.str.size)) < 0 ||
                (r = buf_add(out, ":", 1)) < 0 ||
                (r = jd_value(&kv->val, out, depth + 1)) < 0)
                return r;
        } else if ((r = jd_value(&o->via.array.ptr[i], out, depth + 1)) < 0) {
            return r;
        }
    }
    return buf_add(out, is_map ? "}" : "]", 1);
}

static int jd_value(const msgpack_object *o, struct buf *out, int depth)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return buf_add(out, "null", 4);
    case MSGPACK_OBJECT_BOOLEAN:
        return o->via.boolean ? buf_add(out, "true", 4)
                              : buf_add(out, "false", 5);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return jd_int(out, o->via.u64, false);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        /* -(i64 + 1) + 1 is the magnitude without overflowing INT64_MIN. */
        if (o->via.i64 >= 0)
            return jd_int(out, (uint64_t)o->via.i64, false);
        return jd_int(out, (uint64_t)-(o->via.i64 + 1) + 1, true);
    case MSGPACK_OBJECT_FLOAT32:
        return jd_float(out, o->via.f64, true);
    case MSGPACK_OBJECT_FLOAT64:
        return jd_float(out, o->via.f64, false);
    case MSGPACK_OBJECT_STR:
        return jd_str(out, o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return jd_base64(out, (const unsigned char *)o->via.bin.ptr,
                         o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY:
    case MSGPACK_OBJECT_MAP:
        return jd_container(o, out, depth);
    default:
        return LLMUX_EPROTO;    /* ext, or not a msgpack type at all */
    }
}

/* Besides proto.h: on error out is left as it was (its length restored),
 * so a caller can dump into a buffer that already holds other output. */
int proto_json_dump(const msgpack_object *o, struct buf *out)
{
    size_t mark = out->len;
    int r = jd_value(o, out, 0);

    if (r < 0) {
        out->len = mark;
        if (out->p != NULL)
            out->p[mark] = '\0';
    }
    return r;
}
