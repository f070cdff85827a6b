/* json_common.c -- what both directions of the JSON conversion share, at
 * the level of bytes: the table of bytes a JSON string holds as they are,
 * UTF-8 checking and encoding (RFC 3629), and the C locale that float
 * conversions switch to. Knows nothing of JSON's grammar or of msgpack. */
#define _DEFAULT_SOURCE            /* newlocale, uselocale */
#include "json_internal.h"

#include <stdatomic.h>

/* 1 for the bytes a JSON string holds as they are, on both sides: printable
 * ASCII except '"' and '\\'. The hot loops test this one table instead of
 * five comparisons per byte. */
const unsigned char json_plain[256] = {
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
size_t json_utf8_len(const unsigned char *p, size_t n)
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
size_t json_utf8_put(char *p, uint32_t cp)
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
locale_t json_c_locale(void)
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
