/* test-json.c -- unit tests of JSON <-> msgpack (protocol/json_*.c).
 * Covers: type-preserving round trips, the msgpack encodings chosen, RFC
 * 8259 strictness with error offsets, the printer's special cases (bin,
 * float32, NaN, bad UTF-8, ext), depth limits, mutated input, every
 * provider fixture of the shared conformance corpus, and the JSON rule
 * (the same inputs accepted as by jansson, the same bytes packed). */
#include "test.h"
#include "hub.h"
#include "proto.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <locale.h>
#include <math.h>

/* ------------------------------------------------------------------------
 * Helpers
 */

/* JSON text -> msgpack bytes in sb (initialised here; caller destroys). */
static int pack(msgpack_sbuffer *sb, const char *json, size_t len,
                char *err, size_t errlen)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    return proto_json_pack(&pk, json, len, err, errlen);
}

/* msgpack bytes -> JSON text in out (initialised here; caller frees). */
static int dump(const char *mp, size_t n, struct buf *out)
{
    msgpack_unpacked up;
    size_t off = 0;
    int r;

    buf_init(out, 1 << 24);
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, mp, n, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != n) {
        msgpack_unpacked_destroy(&up);
        return -1;
    }
    r = proto_json_dump(&up.data, out);
    msgpack_unpacked_destroy(&up);
    return r;
}

/* JSON -> msgpack -> JSON; returns the result (malloc'd) or NULL. */
static char *roundtrip(const char *json, size_t len)
{
    msgpack_sbuffer sb;
    struct buf out;
    char err[128];
    char *s = NULL;

    buf_init(&out, 1);
    if (pack(&sb, json, len, err, sizeof(err)) == 0 &&
        dump(sb.data, sb.size, &out) == 0) {
        s = buf_steal(&out, NULL);
        if (s == NULL)
            s = strdup("");
    } else {
        fprintf(stderr, "  roundtrip of %.60s failed: %s\n", json, err);
        buf_free(&out);
    }
    msgpack_sbuffer_destroy(&sb);
    return s;
}

/* ------------------------------------------------------------------------
 * Round trips
 */

TEST(json_roundtrip_canonical)
{
    static const char *const docs[] = {
        "0", "1", "-1", "127", "128", "-32", "-33", "1700000000",
        "9223372036854775807", "-9223372036854775808",
        "1.0", "-0.0", "0.0", "0.1", "1.5", "-2.5e-10", "1e300", "1e-7",
        "5e-324", "2.2250738585072014e-308", "1.7976931348623157e308",
        "0.30000000000000004", "1.8446744073709552e19", "123456.789",
        "100000000000000.0", "1e15", "1e21", "3.141592653589793",
        "true", "false", "null", "[]", "{}", "\"\"", "[[]]", "[{}]",
        "{\"a\":{}}", "[1,[2,[3,[4]]]]", "[null,true,false,0,-1,1.0,\"x\"]",
        "{\"a\":{\"b\":[1,2.5,\"x\",null,true]},\"c\":[]}",
        "{\"\":\"\",\"k\":\"v\"}",
        "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\"",
        "\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf\x7f\"",
        "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
        "\"created\":1700000000,\"model\":\"mock/echo\",\"choices\":[{"
        "\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null,"
        "\"logprobs\":{\"content\":[{\"token\":\"hi\",\"logprob\":"
        "-0.0012345678}]}}]}",
    };

    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char *s = roundtrip(docs[i], strlen(docs[i]));
        int same;

        ASSERT(s != NULL);
        same = strcmp(s, docs[i]) == 0;
        if (!same)
            fprintf(stderr, "  %s -> %s\n", docs[i], s);
        free(s);
        ASSERT(same);
    }
}

/* Non-canonical input comes back in canonical form. */
TEST(json_roundtrip_normalises)
{
    static const char *const pairs[][2] = {
        { " [ 1 , 2 ] ", "[1,2]" },
        { "\t{\n\"a\"\r: 1 }\n", "{\"a\":1}" },
        { "1E5", "100000.0" },
        { "1e+5", "100000.0" },
        { "2.50", "2.5" },
        { "1e-05", "1e-5" },
        { "-0", "0" },
        { "0.1e1", "1.0" },
        { "4.9406564584124654e-324", "5e-324" },
        { "18446744073709551616.0", "1.8446744073709552e19" },  /* 2^64 */
        { "-9223372036854775809e0", "-9.223372036854776e18" },
        { "1e-400", "0.0" },
        { "123456789012345678901234567890.0", "1.2345678901234568e29" },
        { "\"\\u00e9\\ud83d\\ude00\\/\"", "\"\xc3\xa9\xf0\x9f\x98\x80/\"" },
        { "\"\\u007f\\u0080\\u07ff\\u0800\\uffff\\udbff\\udfff\"",
          "\"\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\"" },
        { "\"\\u001F\\u000a\\u000D\\u0008\\u000c\\u0009\\u0022\\u005C\"",
          "\"\\u001f\\n\\r\\b\\f\\t\\\"\\\\\"" },
        { "0.000000000000000000000000000000000000000000000000000000001",
          "1e-57" },
    };

    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        char *s = roundtrip(pairs[i][0], strlen(pairs[i][0]));
        int same;

        ASSERT(s != NULL);
        same = strcmp(s, pairs[i][1]) == 0;
        if (!same)
            fprintf(stderr, "  %s -> %s (want %s)\n", pairs[i][0], s,
                    pairs[i][1]);
        free(s);
        ASSERT(same);
    }
}

/* The msgpack side: ints stay ints in their smallest encoding, floats are
 * float64, big integers go uint64 then float64. */
TEST(json_encodings)
{
    static const struct { const char *json; const char *mp; size_t n; } t[] = {
#define E(j, m) { j, m, sizeof(m) - 1 }
        E("0", "\x00"),
        E("1", "\x01"),
        E("-1", "\xff"),
        E("300", "\xcd\x01\x2c"),
        E("-300", "\xd1\xfe\xd4"),
        E("9223372036854775807", "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"),
        E("-9223372036854775808", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00"),
        E("18446744073709551616.0", "\xcb\x43\xf0\x00\x00\x00\x00\x00\x00"),
        E("1.0", "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"),
        E("-0.0", "\xcb\x80\x00\x00\x00\x00\x00\x00\x00"),
        E("1e0", "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"),
        E("true", "\xc3"),
        E("false", "\xc2"),
        E("null", "\xc0"),
        E("\"\"", "\xa0"),
        E("[]", "\x90"),
        E("{}", "\x80"),
        E("{\"a\":[1,{}]}", "\x81\xa1\x61\x92\x01\x80"),
#undef E
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        msgpack_sbuffer sb;

        ASSERT_EQ(pack(&sb, t[i].json, strlen(t[i].json), NULL, 0), 0);
        if (sb.size != t[i].n || memcmp(sb.data, t[i].mp, t[i].n) != 0)
            fprintf(stderr, "  %s packed differently\n", t[i].json);
        ASSERT_EQ(sb.size, t[i].n);
        ASSERT_MEM_EQ(sb.data, t[i].mp, t[i].n);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* Sizes that need the 16- and 32-bit msgpack headers, and long strings
 * with escapes spread through them. */
TEST(json_large)
{
    size_t n = 100000, k = 0;
    char *json = malloc(n * 2 + 64), *s;
    msgpack_sbuffer sb;

    json[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (i % 1000 == 999) {
            memcpy(json + k, "\\n", 2);
            k += 2;
        } else {
            json[k++] = (char)('a' + i % 26);
        }
    }
    json[k++] = '"';
    s = roundtrip(json, k);
    ASSERT(s != NULL);
    ASSERT_EQ(strlen(s), k);
    ASSERT_MEM_EQ(s, json, k);
    free(s);
    ASSERT_EQ(pack(&sb, json, k, NULL, 0), 0);
    ASSERT_EQ((unsigned char)sb.data[0], 0xdb);       /* str32 */
    ASSERT_EQ(sb.size, 5 + n);
    msgpack_sbuffer_destroy(&sb);

    /* An array of 70000 elements: array32, and 1000s of size slots. */
    k = 0;
    json[k++] = '[';
    for (size_t i = 0; i < 70000; i++) {
        json[k++] = i % 2 ? '1' : '[';
        if (i % 2 == 0)
            json[k++] = ']';
        json[k++] = ',';
    }
    json[k - 1] = ']';
    s = roundtrip(json, k);
    ASSERT(s != NULL);
    ASSERT_EQ(strlen(s), k);
    ASSERT_MEM_EQ(s, json, k);
    free(s);
    free(json);
}

/* ------------------------------------------------------------------------
 * Invalid input
 */

TEST(json_invalid)
{
    static const struct { const char *json; size_t n; const char *err; }
    bad[] = {
#define I(j, e) { j, sizeof(j) - 1, e }
        I("", "offset 0: unexpected end of input"),
        I("   ", "offset 3: unexpected end of input"),
        I("[1,]", "offset 3: trailing comma"),
        I("{\"a\":1,}", "offset 7: trailing comma"),
        I("[,1]", "offset 1: unexpected character"),
        I("[1 2]", "offset 3: expected ',' or ']'"),
        I("{\"a\":1 \"b\":2}", "offset 7: expected ',' or '}'"),
        I("{1:2}", "offset 1: expected a string key"),
        I("{\"a\" 1}", "offset 5: expected ':'"),
        I("[1", "offset 2: unterminated array"),
        I("{\"a\":1", "offset 6: unterminated object"),
        I("01", "offset 0: leading zero in number"),
        I("-012", "offset 1: leading zero in number"),
        I("-", "offset 1: invalid number"),
        I("+1", "offset 0: unexpected character"),
        I(".5", "offset 0: unexpected character"),
        I("1.", "offset 2: expected a digit after '.'"),
        I("1.e5", "offset 2: expected a digit after '.'"),
        I("1e", "offset 2: expected a digit in the exponent"),
        I("1e+", "offset 3: expected a digit in the exponent"),
        I("NaN", "offset 0: unexpected character"),
        I("Infinity", "offset 0: unexpected character"),
        I("-Infinity", "offset 1: invalid number"),
        I("nul", "offset 0: invalid literal"),
        I("tru", "offset 0: invalid literal"),
        I("True", "offset 0: unexpected character"),
        I("'a'", "offset 0: unexpected character"),
        I("/* c */ 1", "offset 0: unexpected character"),
        I("1 // c", "offset 2: unexpected data after the value"),
        I("1 2", "offset 2: unexpected data after the value"),
        I("{}{}", "offset 2: unexpected data after the value"),
        I("1,", "offset 1: unexpected data after the value"),
        I("\xef\xbb\xbf" "1", "offset 0: unexpected character"),  /* BOM */
        I("\"abc", "offset 0: unterminated string"),
        I("[\"abc\\", "offset 1: unterminated string"),
        I("\"\\x\"", "offset 1: invalid escape"),
        I("\"\\U0041\"", "offset 1: invalid escape"),
        I("\"\\u00g1\"", "offset 1: invalid \\u escape"),
        I("\"\\u00\"", "offset 1: invalid \\u escape"),
        I("\"\\ud800\"", "offset 1: lone surrogate in \\u escape"),
        I("\"\\udc00\\ud800\"", "offset 1: lone surrogate in \\u escape"),
        I("\"\\ud800\\u0041\"", "offset 1: lone surrogate in \\u escape"),
        I("\"\\ud800\\ud800\"", "offset 1: lone surrogate in \\u escape"),
        I("\"ab\\ud83d\"", "offset 3: lone surrogate in \\u escape"),
        I("\"a\x01\"", "offset 2: control character in string"),
        I("\"a\nb\"", "offset 2: control character in string"),
        I("\"\x00\"", "offset 1: control character in string"),
        I("\"a\xff\"", "offset 2: invalid UTF-8 in string"),
        I("\"\xc3\"", "offset 1: invalid UTF-8 in string"),
        I("\"\xc0\xaf\"", "offset 1: invalid UTF-8 in string"),   /* overlong */
        I("\"\xe0\x80\xaf\"", "offset 1: invalid UTF-8 in string"),
        I("\"\xed\xa0\x80\"", "offset 1: invalid UTF-8 in string"), /* D800 */
        I("\"\xf4\x90\x80\x80\"", "offset 1: invalid UTF-8 in string"),
        I("\"\xf0\x9f\x98\"", "offset 1: invalid UTF-8 in string"),
        I("\"\x80\"", "offset 1: invalid UTF-8 in string"),
        I("x", "offset 0: unexpected character"),
        I("[1]\x00", "offset 3: unexpected data after the value"),
#undef I
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        msgpack_sbuffer sb;
        char err[128] = "unset";
        int r = pack(&sb, bad[i].json, bad[i].n, err, sizeof(err));

        if (r != LLMUX_EBADREQ || strcmp(err, bad[i].err) != 0)
            fprintf(stderr, "  #%zu %.*s: %d \"%s\"\n", i, (int)bad[i].n,
                    bad[i].json, r, err);
        ASSERT_EQ(r, LLMUX_EBADREQ);
        ASSERT_STR_EQ(err, bad[i].err);
        ASSERT_EQ(sb.size, 0);          /* nothing reached the packer */
        msgpack_sbuffer_destroy(&sb);
    }

    /* err is optional, and a short err is truncated, not overrun. */
    {
        msgpack_sbuffer sb;
        char err[8];

        ASSERT_EQ(pack(&sb, "[1,]", 4, NULL, 0), LLMUX_EBADREQ);
        ASSERT_EQ(pack(&sb, "[1,]", 4, err, sizeof(err)), LLMUX_EBADREQ);
        ASSERT_STR_EQ(err, "offset ");
        ASSERT_EQ(pack(&sb, NULL, 0, err, sizeof(err)), LLMUX_EBADREQ);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* Input is never read past len: the byte after it is a valid continuation
 * that must be ignored. */
TEST(json_bounded)
{
    static const char *const docs[] = {
        "123", "1.5", "\"abc\"", "[1,2]", "true", "1e5",
    };
    static const char *const cut[] = {
        "12", "1.", "\"abc", "[1,2", "tru", "1e",
    };

    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        msgpack_sbuffer sb;
        size_t n = strlen(docs[i]) - 1;
        char *p = malloc(n);       /* exactly n bytes, for valgrind */
        int r;

        memcpy(p, docs[i], n);
        ASSERT_EQ(memcmp(p, cut[i], n), 0);
        r = pack(&sb, p, n, NULL, 0);
        free(p);
        msgpack_sbuffer_destroy(&sb);
        /* "12" is valid on its own; the others are truncated. */
        ASSERT_EQ(r, i == 0 ? 0 : LLMUX_EBADREQ);
    }
}

TEST(json_depth)
{
    char json[2 * (LLMUX_MAX_DEPTH + 1) + 8];
    msgpack_sbuffer sb;
    char err[128];
    size_t k;

    /* 64 levels are fine, 65 are not; maps count like arrays. */
    for (int d = LLMUX_MAX_DEPTH; d <= LLMUX_MAX_DEPTH + 1; d++) {
        k = 0;
        for (int i = 0; i < d; i++)
            json[k++] = '[';
        for (int i = 0; i < d; i++)
            json[k++] = ']';
        ASSERT_EQ(pack(&sb, json, k, err, sizeof(err)),
                  d <= LLMUX_MAX_DEPTH ? 0 : LLMUX_EBADREQ);
        msgpack_sbuffer_destroy(&sb);
    }
    ASSERT_STR_EQ(err, "offset 64: nesting deeper than 64");

    {
        size_t n = 6 * (LLMUX_MAX_DEPTH + 1) + 4;
        char *m = malloc(n);

        k = 0;
        for (int i = 0; i < LLMUX_MAX_DEPTH + 1; i++) {
            memcpy(m + k, "{\"a\":", 5);
            k += 5;
        }
        m[k++] = '1';
        for (int i = 0; i < LLMUX_MAX_DEPTH + 1; i++)
            m[k++] = '}';
        ASSERT_EQ(pack(&sb, m, k, err, sizeof(err)), LLMUX_EBADREQ);
        ASSERT_STR_EQ(err, "offset 320: nesting deeper than 64");
        msgpack_sbuffer_destroy(&sb);
        free(m);
    }

    /* A million brackets: refused at 65 without recursing further. */
    {
        size_t n = 1000000;
        char *m = malloc(n);

        memset(m, '[', n);
        ASSERT_EQ(pack(&sb, m, n, err, sizeof(err)), LLMUX_EBADREQ);
        msgpack_sbuffer_destroy(&sb);
        free(m);
    }
}

/* ------------------------------------------------------------------------
 * msgpack -> JSON special cases
 */

/* Packs with f, dumps, compares. */
#define DUMP_CHECK(want, ...) do {                                          \
    msgpack_sbuffer sb_;                                                    \
    msgpack_packer pk;                                                      \
    struct buf out_;                                                        \
    int r_;                                                                 \
    msgpack_sbuffer_init(&sb_);                                             \
    msgpack_packer_init(&pk, &sb_, msgpack_sbuffer_write);                  \
    __VA_ARGS__;                                                            \
    r_ = dump(sb_.data, sb_.size, &out_);                                   \
    msgpack_sbuffer_destroy(&sb_);                                          \
    if (r_ != 0)                                                            \
        buf_free(&out_);                                                    \
    ASSERT_EQ(r_, 0);                                                       \
    if (strcmp(out_.p ? out_.p : "", want) != 0)                            \
        fprintf(stderr, "  got %s\n", out_.p);                              \
    r_ = strcmp(out_.p ? out_.p : "", want);                                \
    buf_free(&out_);                                                        \
    ASSERT_EQ(r_, 0);                                                       \
} while (0)

TEST(json_dump_bin)
{
    static const char *const b64[] = {
        "\"\"", "\"Zg==\"", "\"Zm8=\"", "\"Zm9v\"", "\"Zm9vYg==\"",
        "\"Zm9vYmE=\"", "\"Zm9vYmFy\"",
    };
    unsigned char all[256];
    char *big;

    /* RFC 4648's test vectors. */
    for (size_t n = 0; n <= 6; n++)
        DUMP_CHECK(b64[n], msgpack_pack_bin(&pk, n);
                   msgpack_pack_bin_body(&pk, "foobar", n));
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    DUMP_CHECK("\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss"
               "LS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZ"
               "WltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWG"
               "h4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKz"
               "tLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g"
               "4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==\"",
               msgpack_pack_bin(&pk, 256);
               msgpack_pack_bin_body(&pk, all, 256));
    /* Longer than the printer's internal chunk: 3000 zero bytes are
     * 4000 'A's. */
    big = malloc(4003);
    big[0] = '"';
    memset(big + 1, 'A', 4000);
    memcpy(big + 4001, "\"", 2);
    {
        char zero[3000] = { 0 };

        DUMP_CHECK(big, msgpack_pack_bin(&pk, 3000);
                   msgpack_pack_bin_body(&pk, zero, 3000));
    }
    free(big);
}

TEST(json_dump_floats)
{
    DUMP_CHECK("0.1", msgpack_pack_float(&pk, 0.1f));
    DUMP_CHECK("1.0", msgpack_pack_float(&pk, 1.0f));
    DUMP_CHECK("-2.5", msgpack_pack_float(&pk, -2.5f));
    DUMP_CHECK("3.4028235e38", msgpack_pack_float(&pk, 3.4028235e38f));
    DUMP_CHECK("1e-45", msgpack_pack_float(&pk, 1e-45f));      /* subnormal */
    DUMP_CHECK("16777216.0", msgpack_pack_float(&pk, 16777216.0f));
    DUMP_CHECK("0.1", msgpack_pack_double(&pk, 0.1));
    DUMP_CHECK("0.10000000149011612", msgpack_pack_double(&pk, (double)0.1f));
    DUMP_CHECK("null", msgpack_pack_double(&pk, NAN));
    DUMP_CHECK("null", msgpack_pack_double(&pk, INFINITY));
    DUMP_CHECK("null", msgpack_pack_double(&pk, -INFINITY));
    DUMP_CHECK("null", msgpack_pack_float(&pk, NAN));
    DUMP_CHECK("[1.0,-0.0,1e100]", msgpack_pack_array(&pk, 3);
               msgpack_pack_double(&pk, 1.0);
               msgpack_pack_double(&pk, -0.0);
               msgpack_pack_double(&pk, 1e100));
}

TEST(json_dump_strings)
{
    /* Escapes: quote, backslash, all control characters; DEL and '/' pass. */
    DUMP_CHECK("\"\\\"\\\\/\x7f\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f\"",
               msgpack_pack_str(&pk, 13);
               msgpack_pack_str_body(&pk, "\"\\/\x7f\x00\x01\b\t\n\v\f\r\x1f",
                                     13));
    /* Each bad byte becomes U+FFFD; good sequences around them survive. */
    DUMP_CHECK("\"a\xef\xbf\xbd" "b\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\"",
               msgpack_pack_str(&pk, 7);
               msgpack_pack_str_body(&pk, "a\xff" "b\xc3\xa9\xe2\x82", 7));
    DUMP_CHECK("\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
               msgpack_pack_str(&pk, 3);
               msgpack_pack_str_body(&pk, "\xed\xa0\x80", 3));   /* D800 */
    DUMP_CHECK("{\"k\\n\xef\xbf\xbd\":1}",
               msgpack_pack_map(&pk, 1);
               msgpack_pack_str(&pk, 3);
               msgpack_pack_str_body(&pk, "k\n\xc0", 3);
               msgpack_pack_int(&pk, 1));
    DUMP_CHECK("[9223372036854775807,-9223372036854775808,"
               "18446744073709551615,-1,0]",
               msgpack_pack_array(&pk, 5);
               msgpack_pack_int64(&pk, INT64_MAX);
               msgpack_pack_int64(&pk, INT64_MIN);
               msgpack_pack_uint64(&pk, UINT64_MAX);
               msgpack_pack_int64(&pk, -1);
               msgpack_pack_int64(&pk, 0));
}

TEST(json_dump_errors)
{
    msgpack_object o, kv_arr[1];
    msgpack_object_kv kv;
    struct buf out;

    buf_init(&out, 1 << 20);
    ASSERT_EQ(buf_adds(&out, "keep"), 0);

    /* ext is not representable. */
    memset(&o, 0, sizeof(o));
    o.type = MSGPACK_OBJECT_EXT;
    ASSERT_EQ(proto_json_dump(&o, &out), LLMUX_EPROTO);

    /* Non-string keys; output is rolled back. */
    memset(&kv, 0, sizeof(kv));
    kv.key.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    kv.val.type = MSGPACK_OBJECT_NIL;
    o.type = MSGPACK_OBJECT_MAP;
    o.via.map.size = 1;
    o.via.map.ptr = &kv;
    ASSERT_EQ(proto_json_dump(&o, &out), LLMUX_EPROTO);
    ASSERT_EQ(out.len, 4);
    ASSERT_STR_EQ(out.p, "keep");

    /* An ext deep inside: rolled back too. */
    kv.key.type = MSGPACK_OBJECT_STR;
    kv.key.via.str.ptr = "k";
    kv.key.via.str.size = 1;
    kv.val.type = MSGPACK_OBJECT_ARRAY;
    kv.val.via.array.size = 1;
    kv.val.via.array.ptr = kv_arr;
    memset(kv_arr, 0, sizeof(kv_arr));
    kv_arr[0].type = MSGPACK_OBJECT_EXT;
    ASSERT_EQ(proto_json_dump(&o, &out), LLMUX_EPROTO);
    ASSERT_STR_EQ(out.p, "keep");
    kv_arr[0].type = MSGPACK_OBJECT_BOOLEAN;
    ASSERT_EQ(proto_json_dump(&o, &out), 0);
    ASSERT_STR_EQ(out.p, "keep{\"k\":[false]}");
    buf_free(&out);

    /* The buffer's cap: ETOOBIG, rolled back. */
    buf_init(&out, 8);
    ASSERT_EQ(buf_adds(&out, "ab"), 0);
    ASSERT_EQ(proto_json_dump(&o, &out), LLMUX_ETOOBIG);
    ASSERT_STR_EQ(out.p, "ab");
    buf_free(&out);
}

TEST(json_dump_depth)
{
    msgpack_object a[LLMUX_MAX_DEPTH + 1];
    struct buf out;

    /* a[0] holds a[1] holds ... a[d-1], which is empty. */
    for (int d = LLMUX_MAX_DEPTH; d <= LLMUX_MAX_DEPTH + 1; d++) {
        for (int i = 0; i < d; i++) {
            a[i].type = MSGPACK_OBJECT_ARRAY;
            a[i].via.array.size = i + 1 < d;
            a[i].via.array.ptr = i + 1 < d ? &a[i + 1] : NULL;
        }
        buf_init(&out, 1 << 20);
        ASSERT_EQ(proto_json_dump(&a[0], &out),
                  d <= LLMUX_MAX_DEPTH ? 0 : LLMUX_EPROTO);
        if (d <= LLMUX_MAX_DEPTH)
            ASSERT_EQ(out.len, 2 * (size_t)d);
        buf_free(&out);
    }
}

/* libllmux runs in applications that may call setlocale: a decimal comma
 * must change neither parsing nor printing. Skipped (counted so) when no such
 * locale is installed; LOCPATH can point at one made with localedef. */
TEST(json_locale_independent)
{
    static const char *const names[] = {
        "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8",
    };
    const char *got = NULL;
    char *s;

    for (size_t i = 0; i < 4 && got == NULL; i++)
        got = setlocale(LC_NUMERIC, names[i]);
    if (got == NULL)
        SKIP("no de_DE or fr_FR locale (LOCPATH can name one)");
    s = roundtrip("[1.5,-2.25e-3,0.1,1e300]", 24);
    setlocale(LC_NUMERIC, "C");
    ASSERT(s != NULL);
    ASSERT_EQ(strcmp(s, "[1.5,-0.00225,0.1,1e300]"), 0);   /* leaks on fail */
    free(s);
}

/* ------------------------------------------------------------------------
 * Mutations and the conformance corpus
 */

/* Random byte edits of a valid document: whatever parses must dump to JSON
 * that parses and dumps to the same text again (not always the same bytes:
 * an edit can make 1e999, which is inf, which prints as null). Run under
 * valgrind. */
TEST(json_mutations)
{
    static const char base[] =
        "{\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{"
        "\"content\":\"h\\u00e9\\ud83d\\ude00 \\\"x\\\"\",\"n\":-12.5e-3},"
        "\"finish_reason\":null}],\"u\":[true,false,9223372036854775807]}";
    static const char edits[] =
        "{}[],:\"\\0123456789.eE+-tfnu \x01\xc3\xa9\xff";
    unsigned long long x = 88172645463325252ull;
    char doc[sizeof(base)];
    int ok = 0;

    for (int it = 0; it < 20000; it++) {
        msgpack_sbuffer a, b;
        struct buf out, out2;
        size_t n = sizeof(base) - 1;

        memcpy(doc, base, n);
        for (int k = 0; k < 1 + it % 3; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            doc[x % n] = edits[(x >> 20) % (sizeof(edits) - 1)];
        }
        if (it % 5 == 0)
            n = (size_t)(x >> 40) % n;
        if (pack(&a, doc, n, NULL, 0) == 0) {
            ok++;
            ASSERT_EQ(dump(a.data, a.size, &out), 0);
            ASSERT_EQ(pack(&b, out.p, out.len, NULL, 0), 0);
            ASSERT_EQ(dump(b.data, b.size, &out2), 0);
            ASSERT_STR_EQ(out.p, out2.p);
            msgpack_sbuffer_destroy(&b);
            buf_free(&out);
            buf_free(&out2);
        }
        msgpack_sbuffer_destroy(&a);
    }
    ASSERT(ok > 100);
}

/* One file: JSON -> msgpack -> JSON -> msgpack, both msgpack equal. */
static int conformance_file(const char *path)
{
    msgpack_sbuffer a, b;
    struct buf out;
    size_t n;
    char err[128];
    char *json = test_read_file(path, &n);
    int r = -1;

    if (json == NULL)
        return -1;
    if (pack(&a, json, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "  %s: %s\n", path, err);
    } else if (dump(a.data, a.size, &out) != 0) {
        fprintf(stderr, "  %s: dump failed\n", path);
        buf_free(&out);
    } else {
        if (pack(&b, out.p, out.len, err, sizeof(err)) != 0)
            fprintf(stderr, "  %s: re-pack: %s\n", path, err);
        else if (a.size != b.size || memcmp(a.data, b.data, a.size) != 0)
            fprintf(stderr, "  %s: re-pack differs\n", path);
        else
            r = 0;
        msgpack_sbuffer_destroy(&b);
        buf_free(&out);
    }
    msgpack_sbuffer_destroy(&a);
    free(json);
    return r;
}

TEST(json_conformance_providers)
{
    char root[4096];
    DIR *d;
    struct dirent *de;
    int files = 0, failed = 0;

    snprintf(root, sizeof(root), "%s", conformance_path("providers"));
    d = opendir(root);
    ASSERT(d != NULL);
    while ((de = readdir(d)) != NULL) {
        char dir[4096 + 256];
        DIR *sub;
        struct dirent *fe;

        if (de->d_name[0] == '.')
            continue;
        snprintf(dir, sizeof(dir), "%s/%s", root, de->d_name);
        if ((sub = opendir(dir)) == NULL)
            continue;
        while ((fe = readdir(sub)) != NULL) {
            size_t l = strlen(fe->d_name);
            char path[4096 + 512];

            if (l < 5 || strcmp(fe->d_name + l - 5, ".json") != 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", dir, fe->d_name);
            files++;
            if (conformance_file(path) < 0)
                failed++;
        }
        closedir(sub);
    }
    closedir(d);
    ASSERT(files >= 40);
    ASSERT_EQ(failed, 0);
}

/* ------------------------------------------------------------------------
 * The JSON rule (json_pack.c): the fast path accepts exactly what the tree
 * path (jansson with JSON_REJECT_DUPLICATES, then hub_pack) accepts, refusing
 * with jansson's words, and packs the same bytes. The two differences
 * found first were "\u0000" and integers past int64.
 */

/* Both ways: accepted by both with the same msgpack (want NULL), or
 * refused by both, with want in the fast path's message and want_tree in
 * jansson's. */
static int same_rule2(const char *json, const char *want,
                      const char *want_tree)
{
    msgpack_sbuffer fast, tree;
    msgpack_packer pk;
    json_error_t je;
    char err[128];
    json_t *j = json_loadb(json, strlen(json),
                           JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    int rf = pack(&fast, json, strlen(json), err, sizeof(err)), ok;

    if (want == NULL) {
        msgpack_sbuffer_init(&tree);
        msgpack_packer_init(&pk, &tree, msgpack_sbuffer_write);
        ok = rf == 0 && j != NULL && hub_pack(&pk, j) == 0 &&
             tree.size == fast.size &&
             memcmp(tree.data, fast.data, fast.size) == 0;
        msgpack_sbuffer_destroy(&tree);
    } else {
        ok = rf == LLMUX_EBADREQ && j == NULL && strstr(err, want) &&
             strstr(je.text, want_tree);
    }
    if (!ok)
        fprintf(stderr, "  %s: fast %d (%s), tree %s\n", json, rf,
                rf ? err : "ok", j ? "ok" : je.text);
    json_decref(j);
    msgpack_sbuffer_destroy(&fast);
    return ok;
}

static int same_rule(const char *json, const char *want)
{
    return same_rule2(json, want, want);
}

TEST(json_rule_nul_escape_refused)
{
    ASSERT(same_rule("\"\\u0000\"", "\\u0000 is not allowed"));
    ASSERT(same_rule("{\"content\":\"a\\u0000b\"}", "\\u0000 is not allowed"));
    /* jansson words it otherwise in a key. */
    ASSERT(same_rule2("{\"a\\u0000\":1}", "\\u0000 is not allowed",
                      "NUL byte in object key"));
    ASSERT(same_rule("\"\\u0001\\u0100\"", NULL));
}

TEST(json_rule_integers_within_int64)
{
    ASSERT(same_rule("9223372036854775808", "too big integer"));
    ASSERT(same_rule("18446744073709551615", "too big integer"));
    ASSERT(same_rule("123456789012345678901234567890", "too big integer"));
    ASSERT(same_rule("-9223372036854775809", "too big negative integer"));
    ASSERT(same_rule("[9223372036854775807,-9223372036854775808,-0]", NULL));
    /* With a fraction or an exponent a number is a double, in range. */
    ASSERT(same_rule("[9223372036854775808.0,1e19,1e-400]", NULL));
    ASSERT(same_rule("1e400", "real number overflow"));
    ASSERT(same_rule("-1.5e309", "real number overflow"));
}

TEST(json_rule_duplicate_keys_refused)
{
    ASSERT(same_rule("{\"a\":1,\"b\":2,\"a\":3}", "duplicate object key"));
    ASSERT(same_rule("{\"a\":1,\"\\u0061\":2}", "duplicate object key"));
    ASSERT(same_rule("{\"x\":{\"a\":1},\"a\":{\"a\":2}}", NULL));
    ASSERT(same_rule("[{\"a\":1},{\"a\":1}]", NULL));
}

/* Many keys take the sorted check: a duplicate far apart is found, and
 * 2000 distinct keys pass. */
TEST(json_rule_duplicate_keys_in_a_large_object)
{
    struct buf b;

    buf_init(&b, 1u << 20);
    ASSERT_EQ(buf_adds(&b, "{"), 0);
    for (int i = 0; i < 2000; i++)
        ASSERT_EQ(buf_addf(&b, "%s\"k%d\":%d", i ? "," : "", i, i), 0);
    ASSERT_EQ(buf_adds(&b, "}"), 0);
    ASSERT(same_rule(b.p, NULL));
    b.p[b.len - 1] = '\0';
    b.len--;
    ASSERT_EQ(buf_adds(&b, ",\"k7\":0}"), 0);
    ASSERT(same_rule(b.p, "duplicate object key"));
    buf_free(&b);
}
