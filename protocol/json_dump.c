/* json_dump.c -- msgpack -> compact JSON text for frame bodies
 * (proto_json_dump, and proto_base64 for bin; see proto.h). It runs per
 * streamed chunk, needs no scratch memory and never reads outside its
 * input; its output is always valid UTF-8. */
#define _DEFAULT_SOURCE            /* newlocale, uselocale */
#include "json_internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    old = uselocale(json_c_locale());
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

        if (json_plain[c]) {
            i++;
            continue;
        }
        if (c >= 0x80 && (k = json_utf8_len(s + i, n - i)) > 0) {
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
