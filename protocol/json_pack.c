/* json_pack.c -- JSON text -> msgpack for frame bodies (proto_json_pack,
 * see proto.h). Owns: a strict RFC 8259 parser that packs straight into a
 * msgpack_packer (no tree), in two passes over the text. It runs per
 * streamed chunk, needs no scratch memory for small documents and never
 * reads outside its input. It keeps the daemon's one JSON rule (see "The
 * JSON rule" below): it accepts exactly what jansson accepts; the rule's
 * duplicate-key half lives in json_keys.c. */
#define _DEFAULT_SOURCE            /* newlocale, uselocale */
#include "json_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int jp_value(struct jp *j);

int jp_fail(struct jp *j, size_t off, const char *what)
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
int jp_escape(struct jp *j, size_t i, uint32_t *ret_cp, size_t *ret_n)
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
        while (i < j->len && json_plain[s[i]])
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
            if ((n = json_utf8_len(s + i, j->len - i)) == 0)
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
        r = msgpack_pack_str_body(j->pk, u, json_utf8_put(u, cp));
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
    old = uselocale(json_c_locale());
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
