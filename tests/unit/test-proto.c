/* test-proto.c -- unit tests of the frame codec (protocol/proto.c).
 * Covers: type names, the error table, peek, decode (garbage, depth, hostile
 * counts, random bytes, agreement with msgpack-c), the encoder and the
 * byte-exact examples in protocol/PROTOCOL.md, which are parsed from the
 * document itself so that doc and code cannot drift. */
#include "test.h"
#include "proto.h"

#include <errno.h>
#include <stdint.h>

/* ------------------------------------------------------------------------
 * Helpers
 */

/* Encodes one frame of type t with one extra pair "k": "v". */
static int enc_simple(struct proto_enc *e, enum proto_type t, uint64_t id)
{
    proto_enc_begin(e, t, id, 1);
    proto_pack_kv_str(&e->pk, "k", "v");
    return proto_enc_end(e);
}

/* Decodes raw body bytes; returns proto_frame_decode's result. */
static int decode_bytes(const void *p, size_t n)
{
    struct proto_frame f;
    int r = proto_frame_decode(&f, p, n);

    proto_frame_free(&f);
    return r;
}

/* A frame body {"type":"chunk","x": <depth-1 nested arrays around 1>}:
 * the frame map is level 1, so the body nests 'depth' (>= 2) containers.
 * With empty != 0 the innermost array is empty instead of holding 1. */
static char *deep_body(int depth, int empty, size_t *ret_len)
{
    static const char head[] = "\x82\xa4type\xa5" "chunk\xa1x";
    size_t n = sizeof(head) - 1 + (size_t)depth + 1;
    char *p = malloc(n), *w = p;

    memcpy(w, head, sizeof(head) - 1);
    w += sizeof(head) - 1;
    for (int i = 1; i < depth - (empty != 0); i++)
        *w++ = (char)0x91;
    if (empty)
        *w++ = (char)0x90;      /* itself the deepest container */
    else
        *w++ = 0x01;
    *ret_len = (size_t)(w - p);
    return p;
}

/* ------------------------------------------------------------------------
 * Names and the error table
 */

TEST(proto_type_names)
{
    ASSERT_STR_EQ(proto_type_name(PROTO_HELLO), "hello");
    ASSERT_STR_EQ(proto_type_name(PROTO_REQUEST), "request");
    ASSERT_STR_EQ(proto_type_name(PROTO_CANCEL), "cancel");
    ASSERT_STR_EQ(proto_type_name(PROTO_CHUNK), "chunk");
    ASSERT_STR_EQ(proto_type_name(PROTO_RESPONSE), "response");
    ASSERT_STR_EQ(proto_type_name(PROTO_DONE), "done");
    ASSERT_STR_EQ(proto_type_name(PROTO_ERROR), "error");
    ASSERT_STR_EQ(proto_type_name(PROTO_UNKNOWN), "unknown");
    ASSERT_STR_EQ(proto_type_name((enum proto_type)99), "unknown");
}

TEST(proto_err_table)
{
#define CHECK_ERR(name, code, type, status, exit, msg)                      \
    ASSERT_EQ(LLMUX_##name, code);                                          \
    ASSERT_STR_EQ(proto_err_name(code), #name);                             \
    ASSERT_STR_EQ(proto_strerror(code), msg);                               \
    ASSERT_STR_EQ(proto_err_type(code), type);                              \
    ASSERT_EQ(proto_err_status(code), status);                              \
    ASSERT_EQ(proto_err_exit(code), exit);
    LLMUX_ERRNO_MAP(CHECK_ERR)
#undef CHECK_ERR

    /* Shared types map back to the first (most general) code. */
    ASSERT_EQ(proto_err_from_type("bad_request", 11), LLMUX_EBADREQ);
    ASSERT_EQ(proto_err_from_type("rate_limit", 10), LLMUX_ERATELIMIT);
    ASSERT_EQ(proto_err_from_type("api_connection", 14), LLMUX_ECONN);
    ASSERT_EQ(proto_err_from_type("rate_limit_x", 10), LLMUX_ERATELIMIT);
    ASSERT_EQ(proto_err_from_type("rate", 4), LLMUX_EINTERNAL);
    ASSERT_EQ(proto_err_from_type("", 0), LLMUX_EINTERNAL);

    /* -errno codes. */
    ASSERT_STR_EQ(proto_err_name(-ENOENT), "ENOENT");
    ASSERT_STR_EQ(proto_err_name(-ECONNREFUSED), "ECONNREFUSED");
    ASSERT_STR_EQ(proto_err_name(-EACCES), "EACCES");
    ASSERT_STR_EQ(proto_err_name(-EDQUOT), "ESYSTEM");
    ASSERT_STR_EQ(proto_strerror(-ENOENT), strerror(ENOENT));
    ASSERT_STR_EQ(proto_err_type(-ENOENT), "internal");
    ASSERT_EQ(proto_err_status(-ENOENT), 500);
    /* System errors (cannot connect…) exit 1, success 0. */
    ASSERT_EQ(proto_err_exit(-ENOENT), 1);
    ASSERT_EQ(proto_err_exit(0), 0);

    /* Unknown codes are internal; 0 is success. */
    ASSERT_STR_EQ(proto_err_name(-5000), "EINTERNAL");
    ASSERT_STR_EQ(proto_err_name(42), "EINTERNAL");
    ASSERT_STR_EQ(proto_strerror(-5000), "internal error");
    ASSERT_STR_EQ(proto_err_type(-5000), "internal");
    ASSERT_EQ(proto_err_status(-5000), 500);
    ASSERT_STR_EQ(proto_strerror(0), "success");
    ASSERT_STR_EQ(proto_err_name(0), "OK");
}

/* ------------------------------------------------------------------------
 * Peek
 */

TEST(proto_peek)
{
    unsigned char h[8] = { 0, 0, 0, 3, 0x81, 0xa1, 'a' };
    size_t len = 0;

    /* Incomplete at every length, complete at the end. */
    for (size_t n = 0; n < 7; n++)
        ASSERT_EQ(proto_frame_peek(h, n, LLMUX_MAX_FRAME, &len), 0);
    ASSERT_EQ(proto_frame_peek(h, 7, LLMUX_MAX_FRAME, &len), 1);
    ASSERT_EQ(len, 3);
    ASSERT_EQ(proto_frame_peek(h, 8, LLMUX_MAX_FRAME, &len), 1);

    /* Length checks need only the 4 header bytes. */
    ASSERT_EQ(proto_frame_peek(h, 4, 2, &len), LLMUX_ETOOBIG);
    ASSERT_EQ(proto_frame_peek(h, 4, 3, &len), 0);
    memcpy(h, "\x01\x00\x00\x01", 4);           /* 16 MiB + 1 */
    ASSERT_EQ(proto_frame_peek(h, 4, LLMUX_MAX_FRAME, &len), LLMUX_ETOOBIG);
    memcpy(h, "\x01\x00\x00\x00", 4);           /* exactly 16 MiB */
    ASSERT_EQ(proto_frame_peek(h, 4, LLMUX_MAX_FRAME, &len), 0);
    ASSERT_EQ(len, LLMUX_MAX_FRAME);
    memcpy(h, "\xff\xff\xff\xff", 4);
    ASSERT_EQ(proto_frame_peek(h, 4, LLMUX_MAX_FRAME, &len), LLMUX_ETOOBIG);
    memcpy(h, "\x00\x00\x00\x00", 4);
    ASSERT_EQ(proto_frame_peek(h, 4, LLMUX_MAX_FRAME, &len), LLMUX_EPROTO);
    ASSERT_EQ(proto_frame_peek(NULL, 0, LLMUX_MAX_FRAME, &len), 0);
}

/* ------------------------------------------------------------------------
 * Encode + decode
 */

TEST(proto_roundtrip_types)
{
    static const enum proto_type types[] = {
        PROTO_HELLO, PROTO_REQUEST, PROTO_CANCEL, PROTO_CHUNK,
        PROTO_RESPONSE, PROTO_DONE, PROTO_ERROR,
    };
    struct proto_enc e;
    size_t off = 0, len;
    int i;

    /* All frames back to back in one buffer, as a batch is written. */
    proto_enc_init(&e);
    for (i = 0; i < 7; i++)
        ASSERT_EQ(enc_simple(&e, types[i], 1000 + (uint64_t)i), 0);
    ASSERT_EQ(enc_simple(&e, PROTO_CHUNK, LLMUX_MAX_ID), 0);

    for (i = 0; i < 8; i++) {
        struct proto_frame f;
        const char *s;
        size_t sl;
        enum proto_type want = i < 7 ? types[i] : PROTO_CHUNK;
        int r;

        ASSERT_EQ(proto_frame_peek(e.sb.data + off, e.sb.size - off,
                                   LLMUX_MAX_FRAME, &len), 1);
        r = proto_frame_decode(&f, e.sb.data + off + 4, len);
        ASSERT_EQ(r, 0);
        ASSERT_EQ(f.type, want);
        if (want == PROTO_HELLO) {
            ASSERT_EQ(f.has_id, 0);
            ASSERT_EQ(f.id, 0);
            ASSERT_EQ(f.map->via.map.size, 2);
        } else {
            ASSERT_EQ(f.has_id, 1);
            ASSERT_EQ(f.id, i < 7 ? 1000 + (uint64_t)i : LLMUX_MAX_ID);
            ASSERT_EQ(f.map->via.map.size, 3);
        }
        ASSERT(proto_str_eq(proto_get(f.map, "type"), proto_type_name(want)));
        ASSERT_EQ(proto_get_str(f.map, "k", &s, &sl), 0);
        ASSERT_EQ(sl, 1);
        ASSERT_EQ(s[0], 'v');
        proto_frame_free(&f);
        proto_frame_free(&f);     /* idempotent */
        off += 4 + len;
    }
    ASSERT_EQ(off, e.sb.size);
    proto_enc_free(&e);
    proto_enc_free(&e);
}

TEST(proto_truncated)
{
    struct proto_enc e;
    size_t len;

    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_REQUEST, 7, 2);
    proto_pack_kv_str(&e.pk, "op", "chat");
    proto_pack_str(&e.pk, "body");
    {
        static const char js[] = "{\"a\":[1,2.5,\"xyz\",{}]}";

        ASSERT_EQ(proto_json_pack(&e.pk, js, strlen(js), NULL, 0), 0);
    }
    ASSERT_EQ(proto_enc_end(&e), 0);

    /* peek says "not yet" at every prefix; every truncated body fails. */
    for (size_t n = 0; n < e.sb.size; n++) {
        ASSERT_EQ(proto_frame_peek(e.sb.data, n, LLMUX_MAX_FRAME, &len), 0);
        if (n > 4)
            ASSERT_EQ(decode_bytes(e.sb.data + 4, n - 4), LLMUX_EPROTO);
    }
    ASSERT_EQ(proto_frame_peek(e.sb.data, e.sb.size, LLMUX_MAX_FRAME, &len),
              1);
    ASSERT_EQ(decode_bytes(e.sb.data + 4, len), 0);
    proto_enc_free(&e);
}

TEST(proto_garbage)
{
    static const struct { const char *p; size_t n; } bad[] = {
#define B(s) { s, sizeof(s) - 1 }
        B(""),
        B("\x01"),                                  /* an int */
        B("\x90"),                                  /* an array */
        B("\xa4type"),                              /* a string */
        B("\xc1"),                                  /* never used */
        B("\x80"),                                  /* map without type */
        B("\x81\xa4type\xa5" "chun"),               /* truncated */
        B("\x81\xa4type\xa5" "chunk\x00"),          /* trailing byte */
        B("\x81\xa4type\xa5" "chunk\x81"),          /* trailing map */
        B("\x81\xa4type\x01"),                      /* type not a str */
        B("\x81\xa4type\xc4\x05" "chunk"),          /* type is bin */
        B("\x81\xa2id\x01"),                        /* no type */
        B("\x82\xa4type\xa5" "chunk\xa2id\xff"),    /* id -1 */
        B("\x82\xa4type\xa5" "chunk\xa2id\xd3\xff\xff\xff\xff\xff\xff\xff"
          "\xff"),                                  /* id -1 as int64 */
        B("\x82\xa4type\xa5" "chunk\xa2id\xcb\x3f\xf0\x00\x00\x00\x00\x00"
          "\x00"),                                  /* id 1.0 */
        B("\x82\xa4type\xa5" "chunk\xa2id\xa1" "1"), /* id "1" */
        B("\x82\xa4type\xa5" "chunk\xa2id\xcf\x80\x00\x00\x00\x00\x00\x00"
          "\x00"),                                  /* id 2^63 */
        B("\x82\xa4type\xa5" "chunk\xa2id\xc0"),    /* id nil */
        B("\x82\xa4type\xa5" "chunk\xa1x\xc1"),     /* c1 in a value */
        B("\x82\xa4type\xa5" "chunk\xa1x\xd9\x05" "ab"), /* short str8 */
        B("\x82\xa4type\xa5" "chunk\xa1x\xc7\x03"), /* ext8 no type */
        B("\x82\xa4type\xa5" "chunk\xa1x\xd8\x01"), /* fixext16 short */
        B("\x82\xa4type\xa5" "chunk\xa1x\xcf\x01"), /* short uint64 */
        B("\xde\x00"),                              /* short map16 */
        B("\xdf\x00\x00\x00"),                      /* short map32 */
#undef B
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = decode_bytes(bad[i].p, bad[i].n);

        if (r != LLMUX_EPROTO)
            fprintf(stderr, "  garbage #%zu decoded to %d\n", i, r);
        ASSERT_EQ(r, LLMUX_EPROTO);
    }
    /* map16/map32 headers are accepted as frame maps. */
    ASSERT_EQ(decode_bytes("\xde\x00\x01\xa4type\xa4" "done", 13), 0);
    ASSERT_EQ(decode_bytes("\xdf\x00\x00\x00\x01\xa4type\xa4" "done", 15), 0);
}

TEST(proto_unknown_type)
{
    struct proto_frame f;
    static const char body[] = "\x82\xa4type\xa5" "bogus\xa2id\x03";

    ASSERT_EQ(proto_frame_decode(&f, body, sizeof(body) - 1), 0);
    ASSERT_EQ(f.type, PROTO_UNKNOWN);
    ASSERT_EQ(f.has_id, 1);
    ASSERT_EQ(f.id, 3);
    proto_frame_free(&f);

    /* A type that is a prefix of a real one is unknown too. */
    ASSERT_EQ(proto_frame_decode(&f, "\x81\xa4type\xa4" "chun", 11), 0);
    ASSERT_EQ(f.type, PROTO_UNKNOWN);
    proto_frame_free(&f);
}

TEST(proto_depth)
{
    size_t n;
    char *p;

    /* 64 is allowed -- beyond msgpack-c's own unpacker limit of 32. */
    for (int d = 1; d <= LLMUX_MAX_DEPTH; d++) {
        p = deep_body(d < 2 ? 2 : d, 0, &n);
        ASSERT_EQ(decode_bytes(p, n), 0);
        free(p);
        p = deep_body(d < 2 ? 2 : d, 1, &n);
        ASSERT_EQ(decode_bytes(p, n), 0);
        free(p);
    }
    p = deep_body(LLMUX_MAX_DEPTH + 1, 0, &n);
    ASSERT_EQ(decode_bytes(p, n), LLMUX_EPROTO);
    free(p);
    p = deep_body(LLMUX_MAX_DEPTH + 1, 1, &n);     /* even if empty */
    ASSERT_EQ(decode_bytes(p, n), LLMUX_EPROTO);
    free(p);
    p = deep_body(1000000, 0, &n);
    ASSERT_EQ(decode_bytes(p, n), LLMUX_EPROTO);
    free(p);

    /* Maps count as much as arrays. */
    {
        char b[400];
        size_t k = 0;

        for (int i = 0; i < LLMUX_MAX_DEPTH + 1; i++) {
            b[k++] = (char)0x81;
            b[k++] = (char)0xa1;
            b[k++] = 'x';
        }
        b[k++] = 0x01;
        ASSERT_EQ(decode_bytes(b, k), LLMUX_EPROTO);
    }

    /* The encoder refuses to send what the peer would refuse. */
    {
        struct proto_enc e;

        size_t ok_size;

        proto_enc_init(&e);
        for (int extra = 0; extra < 2; extra++) {
            proto_enc_begin(&e, PROTO_CHUNK, 1, 1);
            proto_pack_str(&e.pk, "x");
            for (int i = 0; i < LLMUX_MAX_DEPTH - 1 + extra; i++)
                msgpack_pack_array(&e.pk, 1);
            msgpack_pack_nil(&e.pk);
            ASSERT_EQ(proto_enc_end(&e), extra ? LLMUX_EPROTO : 0);
        }
        ok_size = 4 + 1 + 5 + 6 + 3 + 1 + 2 + LLMUX_MAX_DEPTH - 1 + 1;
        ASSERT_EQ(e.sb.size, ok_size);
        proto_enc_free(&e);
    }
}

/* Container headers that promise more elements than there are bytes are
 * refused before anything is allocated for them. */
TEST(proto_hostile_counts)
{
#define DECODE(s) decode_bytes(s, sizeof(s) - 1)
    ASSERT_EQ(DECODE("\xdf\xff\xff\xff\xff"), LLMUX_EPROTO);
    ASSERT_EQ(DECODE("\xdf\x00\xff\xff\xff"), LLMUX_EPROTO);
    ASSERT_EQ(DECODE("\x81\xa4type\xdd\xff\xff\xff\xff"), LLMUX_EPROTO);
    ASSERT_EQ(DECODE("\x82\xa4type\xa1x\xa1y\xdc\x00\x02\x01"),
              LLMUX_EPROTO);
    ASSERT_EQ(DECODE("\x82\xa4type\xa1x\xa1y\xdc\x00\x02\x01\x02"), 0);
    ASSERT_EQ(DECODE("\x82\xa4type\xa1x\xa1y\xde\x00\x02\x01\x02\x03"),
              LLMUX_EPROTO);
    ASSERT_EQ(DECODE("\x82\xa4type\xa1x\xa1y\xc6\xff\xff\xff\xff"),
              LLMUX_EPROTO);
#undef DECODE
}

/* Builds a body using every msgpack format, decodes it with our reader and
 * with msgpack-c's, and requires identical trees. */
TEST(proto_decode_matches_msgpack_c)
{
    static const char raw[] =
        "\xcc\x05" "\xcd\x00\x05" "\xce\x00\x00\x00\x05"
        "\xcf\x00\x00\x00\x00\x00\x00\x00\x05"
        "\xd0\x05" "\xd0\xfb" "\xd1\xff\xfb" "\xd2\xff\xff\xff\xfb"
        "\xd3\xff\xff\xff\xff\xff\xff\xff\xfb" "\xd3\x80\x00\x00\x00\x00\x00"
        "\x00\x00" "\xcf\xff\xff\xff\xff\xff\xff\xff\xff" "\xe0" "\x7f"
        "\xca\x3d\xcc\xcc\xcd" "\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a"
        "\xc0\xc2\xc3" "\xd9\x02hi" "\xda\x00\x02hi" "\xdb\x00\x00\x00\x02hi"
        "\xc4\x01\x00" "\xc5\x00\x01\x00" "\xc6\x00\x00\x00\x01\x00"
        "\xd4\x01\x01" "\xd5\x02\x01\x02" "\xd6\x03\x01\x02\x03\x04"
        "\xd7\x04\x01\x02\x03\x04\x05\x06\x07\x08"
        "\xd8\x05\x01\x02\x03\x04\x05\x06\x07\x08\x01\x02\x03\x04\x05\x06"
        "\x07\x08" "\xc7\x01\x06\xaa" "\xc8\x00\x01\x07\xaa"
        "\xc9\x00\x00\x00\x01\x08\xaa" "\xc7\x00\x09"
        "\xdc\x00\x01\x01" "\xdd\x00\x00\x00\x01\x01"
        "\xde\x00\x01\x01\x02" "\xdf\x00\x00\x00\x01\x01\x02" "\x90" "\x80"
        "\xa0";
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked up;
    struct proto_frame f;
    size_t off = 0;
    char *big = calloc(1, 70000);

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    proto_pack_kv_str(&pk, "type", "response");
    proto_pack_str(&pk, "raw");
    msgpack_pack_array(&pk, 40);
    msgpack_sbuffer_write(&sb, raw, sizeof(raw) - 1);
    proto_pack_str(&pk, "str16");
    proto_pack_strn(&pk, big, 300);
    proto_pack_str(&pk, "str32");
    proto_pack_strn(&pk, big, 70000);
    proto_pack_str(&pk, "arr16");
    msgpack_pack_array(&pk, 20);
    for (int i = 0; i < 20; i++)
        msgpack_pack_int(&pk, -i);

    msgpack_unpacked_init(&up);
    ASSERT_EQ(msgpack_unpack_next(&up, sb.data, sb.size, &off),
              MSGPACK_UNPACK_SUCCESS);
    ASSERT_EQ(off, sb.size);
    ASSERT_EQ(proto_frame_decode(&f, sb.data, sb.size), 0);
    ASSERT_EQ(f.type, PROTO_RESPONSE);
    ASSERT(msgpack_object_equal(up.data, *f.map));
    ASSERT_EQ(proto_get(f.map, "raw")->via.array.size, 40);
    ASSERT_EQ(proto_get(f.map, "raw")->via.array.ptr[0].type,
              MSGPACK_OBJECT_POSITIVE_INTEGER);
    ASSERT_EQ(proto_get(f.map, "raw")->via.array.ptr[4].type,
              MSGPACK_OBJECT_POSITIVE_INTEGER);     /* int8 5 */
    ASSERT_EQ(proto_get(f.map, "raw")->via.array.ptr[9].via.i64, INT64_MIN);
    ASSERT_EQ(proto_get(f.map, "raw")->via.array.ptr[13].type,
              MSGPACK_OBJECT_FLOAT32);
    proto_frame_free(&f);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    free(big);
}

/* xorshift64: a fixed sequence, so failures reproduce. */
static unsigned long long rnd(unsigned long long *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Random buffers, and random mutations of a valid frame, through peek and
 * decode (run under valgrind). Whatever decodes must also agree with
 * msgpack-c and survive proto_json_dump. */
TEST(proto_random_bytes)
{
    struct proto_enc e;
    unsigned long long x = 0x9e3779b97f4a7c15ull;
    unsigned char buf[256], valid[256];
    size_t vlen, len;
    int ok = 0;

    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_CHUNK, 42, 1);
    proto_pack_str(&e.pk, "body");
    {
        static const char js[] = "{\"a\":[1,-2,3.5,\"h\xc3\xa9\",null,true,"
                                 "{\"b\":[]}],\"c\":\"d\"}";

        ASSERT_EQ(proto_json_pack(&e.pk, js, strlen(js), NULL, 0), 0);
    }
    ASSERT_EQ(proto_enc_end(&e), 0);
    vlen = e.sb.size - 4;
    ASSERT(vlen <= sizeof(valid));
    memcpy(valid, e.sb.data + 4, vlen);
    proto_enc_free(&e);

    for (int it = 0; it < 20000; it++) {
        struct proto_frame f;
        size_t n;

        if (it % 2 == 0) {
            n = rnd(&x) % 64;
            for (size_t i = 0; i < n; i++)
                buf[i] = (unsigned char)rnd(&x);
            if (n > 0 && it % 4 == 0)
                buf[0] = (unsigned char)(0x80 | (rnd(&x) & 0x0f));
        } else {
            n = vlen;
            memcpy(buf, valid, vlen);
            for (int k = 1 + (int)(rnd(&x) % 3); k > 0; k--) {
                size_t at = rnd(&x) % vlen;

                buf[at] = (unsigned char)rnd(&x);
            }
            if (rnd(&x) % 4 == 0)
                n = rnd(&x) % (vlen + 1);
        }
        (void)proto_frame_peek(buf, n, LLMUX_MAX_FRAME, &len);
        if (proto_frame_decode(&f, (const char *)buf, n) == 0) {
            msgpack_unpacked up;
            size_t off = 0;
            struct buf out;

            ok++;
            msgpack_unpacked_init(&up);
            ASSERT_EQ(msgpack_unpack_next(&up, (const char *)buf, n, &off),
                      MSGPACK_UNPACK_SUCCESS);
            ASSERT_EQ(off, n);
            ASSERT(msgpack_object_equal(up.data, *f.map));
            msgpack_unpacked_destroy(&up);
            buf_init(&out, 1 << 16);
            (void)proto_json_dump(f.map, &out);
            buf_free(&out);
        }
        proto_frame_free(&f);
    }
    ASSERT(ok > 100);       /* the mutations do reach the success path */
}

TEST(proto_getters)
{
    struct proto_frame f;
    struct proto_enc e;
    const char *s;
    size_t sl;
    uint64_t u;
    int64_t i;
    double d;

    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_RESPONSE, 5, 6);
    proto_pack_kv_str(&e.pk, "s", "str");
    proto_pack_kv_uint(&e.pk, "u", UINT64_MAX);
    proto_pack_str(&e.pk, "n");
    msgpack_pack_int64(&e.pk, -7);
    proto_pack_str(&e.pk, "f");
    msgpack_pack_double(&e.pk, 2.5);
    msgpack_pack_int(&e.pk, 1);             /* a non-string key */
    msgpack_pack_int(&e.pk, 1);
    proto_pack_str(&e.pk, "nil");
    proto_pack_str(&e.pk, NULL);            /* packs nil */
    ASSERT_EQ(proto_enc_end(&e), 0);
    ASSERT_EQ(proto_frame_decode(&f, e.sb.data + 4, e.sb.size - 4), 0);

    ASSERT_EQ(proto_get_str(f.map, "s", &s, &sl), 0);
    ASSERT_EQ(sl, 3);
    ASSERT_MEM_EQ(s, "str", 3);
    ASSERT_EQ(proto_get_str(f.map, "u", &s, &sl), LLMUX_EPROTO);
    ASSERT_EQ(proto_get_str(f.map, "zz", &s, &sl), -ENOENT);
    ASSERT_EQ(proto_get_uint(f.map, "u", &u), 0);
    ASSERT_EQ(u == UINT64_MAX, 1);
    ASSERT_EQ(proto_get_uint(f.map, "n", &u), LLMUX_EPROTO);
    ASSERT_EQ(proto_get_uint(f.map, "id", &u), 0);
    ASSERT_EQ(u, 5);
    ASSERT_EQ(proto_get_int(f.map, "n", &i), 0);
    ASSERT_EQ(i, -7);
    ASSERT_EQ(proto_get_int(f.map, "id", &i), 0);
    ASSERT_EQ(i, 5);
    ASSERT_EQ(proto_get_int(f.map, "u", &i), LLMUX_EPROTO);  /* > INT64_MAX */
    ASSERT_EQ(proto_get_float(f.map, "f", &d), 0);
    ASSERT(d == 2.5);
    ASSERT_EQ(proto_get_float(f.map, "n", &d), 0);
    ASSERT(d == -7.0);
    ASSERT_EQ(proto_get_float(f.map, "s", &d), LLMUX_EPROTO);
    ASSERT_EQ(proto_get(f.map, "nil")->type, MSGPACK_OBJECT_NIL);
    ASSERT(proto_get(f.map, "ni") == NULL);     /* a prefix of a key */
    ASSERT(proto_get(f.map, "") == NULL);
    ASSERT(proto_get(NULL, "s") == NULL);
    ASSERT(proto_get(proto_get(f.map, "s"), "s") == NULL);   /* not a map */
    ASSERT(proto_str_eq(proto_get(f.map, "s"), "str"));
    ASSERT(!proto_str_eq(proto_get(f.map, "s"), "st"));
    ASSERT(!proto_str_eq(proto_get(f.map, "s"), "strs"));
    ASSERT(!proto_str_eq(proto_get(f.map, "u"), "str"));
    ASSERT(!proto_str_eq(NULL, "str"));
    proto_frame_free(&f);
    proto_enc_free(&e);
}

TEST(proto_enc_limits)
{
    struct proto_enc e;
    size_t first;
    char *big = malloc(LLMUX_MAX_FRAME);

    ASSERT(big != NULL);
    memset(big, 'a', LLMUX_MAX_FRAME);
    proto_enc_init(&e);
    ASSERT_EQ(enc_simple(&e, PROTO_DONE, 1), 0);
    first = e.sb.size;

    /* One byte over the limit: dropped, the frame before it intact. */
    proto_enc_begin(&e, PROTO_CHUNK, 2, 1);
    proto_pack_str(&e.pk, "body");
    proto_pack_strn(&e.pk, big, LLMUX_MAX_FRAME - 25);
    ASSERT_EQ(proto_enc_end(&e), LLMUX_ETOOBIG);
    ASSERT_EQ(e.sb.size, first);

    /* Exactly at the limit: accepted. Map header, "type", "chunk", "id",
     * 2, "body" and the str32 header take 1+5+6+3+1+5+5 = 26 bytes. */
    proto_enc_begin(&e, PROTO_CHUNK, 2, 1);
    proto_pack_str(&e.pk, "body");
    proto_pack_strn(&e.pk, big, LLMUX_MAX_FRAME - 26);
    ASSERT_EQ(proto_enc_end(&e), 0);
    ASSERT_EQ(e.sb.size, first + 4 + LLMUX_MAX_FRAME);

    /* A wrong 'extra' is caught, and the frame dropped. */
    proto_enc_begin(&e, PROTO_CHUNK, 3, 2);
    proto_pack_kv_str(&e.pk, "body", "x");
    ASSERT_EQ(proto_enc_end(&e), LLMUX_EPROTO);
    ASSERT_EQ(e.sb.size, first + 4 + LLMUX_MAX_FRAME);
    proto_enc_begin(&e, PROTO_CHUNK, 3, 0);
    proto_pack_kv_str(&e.pk, "body", "x");
    ASSERT_EQ(proto_enc_end(&e), LLMUX_EPROTO);
    ASSERT_EQ(e.sb.size, first + 4 + LLMUX_MAX_FRAME);
    proto_enc_free(&e);
    free(big);
}

TEST(proto_pack_error)
{
    struct proto_enc e;
    struct proto_frame f;
    const msgpack_object *err;
    const char *s;
    size_t sl;
    int64_t code;
    uint64_t status;
    double ra;

    proto_enc_init(&e);
    ASSERT_EQ(proto_pack_error(&e, 9, LLMUX_ETIMEOUT, "slow", "anthropic",
                               "claude-eu", 1.5), 0);
    ASSERT_EQ(proto_frame_decode(&f, e.sb.data + 4, e.sb.size - 4), 0);
    ASSERT_EQ(f.type, PROTO_ERROR);
    ASSERT_EQ(f.id, 9);
    ASSERT((err = proto_get(f.map, "error")) != NULL);
    ASSERT_EQ(err->via.map.size, 7);
    ASSERT(proto_str_eq(proto_get(err, "type"), "timeout"));
    ASSERT_EQ(proto_get_int(err, "code", &code), 0);
    ASSERT_EQ(code, LLMUX_ETIMEOUT);
    ASSERT_EQ(proto_get_uint(err, "status", &status), 0);
    ASSERT_EQ(status, 408);
    ASSERT(proto_str_eq(proto_get(err, "message"), "slow"));
    ASSERT(proto_str_eq(proto_get(err, "provider"), "anthropic"));
    ASSERT(proto_str_eq(proto_get(err, "deployment"), "claude-eu"));
    ASSERT_EQ(proto_get(err, "retry_after")->type, MSGPACK_OBJECT_FLOAT64);
    ASSERT_EQ(proto_get_float(err, "retry_after", &ra), 0);
    ASSERT(ra == 1.5);
    proto_frame_free(&f);
    proto_enc_free(&e);

    /* Minimal: connection-level, a -errno code, the default message. */
    proto_enc_init(&e);
    ASSERT_EQ(proto_pack_error(&e, 0, -EACCES, NULL, NULL, NULL, -1), 0);
    ASSERT_EQ(proto_frame_decode(&f, e.sb.data + 4, e.sb.size - 4), 0);
    ASSERT_EQ(f.id, 0);
    ASSERT_EQ(f.has_id, 1);
    err = proto_get(f.map, "error");
    ASSERT_EQ(err->via.map.size, 4);
    ASSERT(proto_str_eq(proto_get(err, "type"), "internal"));
    ASSERT_EQ(proto_get_int(err, "code", &code), 0);
    ASSERT_EQ(code, -EACCES);
    ASSERT_EQ(proto_get_uint(err, "status", &status), 0);
    ASSERT_EQ(status, 500);
    ASSERT_EQ(proto_get_str(err, "message", &s, &sl), 0);
    ASSERT_EQ(sl, strlen(strerror(EACCES)));
    ASSERT(proto_get(err, "retry_after") == NULL);
    proto_frame_free(&f);
    proto_enc_free(&e);
}

/* ------------------------------------------------------------------------
 * The examples of PROTOCOL.md
 */

#define NEXAMPLES 7

static const char *const ex_request =
    "{\"model\":\"mock/echo\",\"messages\":[{\"role\":\"user\","
    "\"content\":\"hi\"}],\"stream\":true}";
static const char *const ex_chunk =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
    "\"created\":1700000000,\"model\":\"mock/echo\",\"choices\":[{\"index\":0,"
    "\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}";
static const char *const ex_usage =
    "{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}";

/* Encodes example i (in PROTOCOL.md's order) into e. */
static int build_example(int i, struct proto_enc *e)
{
    switch (i) {
    case 0:
        proto_enc_begin(e, PROTO_HELLO, 0, 2);
        proto_pack_kv_uint(&e->pk, "version", LLMUX_PROTO_VERSION);
        proto_pack_kv_str(&e->pk, "client", "libllmux/0.1.0");
        return proto_enc_end(e);
    case 1:
        proto_enc_begin(e, PROTO_HELLO, 0, 3);
        proto_pack_kv_uint(&e->pk, "version", LLMUX_PROTO_VERSION);
        proto_pack_kv_str(&e->pk, "server", "llmuxd/0.1.0");
        proto_pack_kv_uint(&e->pk, "max_frame", LLMUX_MAX_FRAME);
        return proto_enc_end(e);
    case 2:
        proto_enc_begin(e, PROTO_REQUEST, 1, 2);
        proto_pack_kv_str(&e->pk, "op", "chat");
        proto_pack_str(&e->pk, "body");
        proto_json_pack(&e->pk, ex_request, strlen(ex_request), NULL, 0);
        return proto_enc_end(e);
    case 3:
        proto_enc_begin(e, PROTO_CHUNK, 1, 1);
        proto_pack_str(&e->pk, "body");
        proto_json_pack(&e->pk, ex_chunk, strlen(ex_chunk), NULL, 0);
        return proto_enc_end(e);
    case 4:
        proto_enc_begin(e, PROTO_DONE, 1, 1);
        proto_pack_str(&e->pk, "usage");
        proto_json_pack(&e->pk, ex_usage, strlen(ex_usage), NULL, 0);
        return proto_enc_end(e);
    case 5:
        return proto_pack_error(e, 1, LLMUX_ERATELIMIT,
                                "rate limited by openai: retry in 2 s",
                                "openai", NULL, 2.0);
    case 6:
        proto_enc_begin(e, PROTO_CANCEL, 1, 0);
        return proto_enc_end(e);
    }
    return -1;
}

struct doc_example {
    const char *json;       /* points into the document */
    size_t json_len;
    unsigned char hex[512];
    size_t hex_len;
};

/* Parses a block of space-separated two-digit hex bytes, 16 a line (the
 * last line may be shorter). */
static int parse_hex(const char *p, size_t n, unsigned char *out, size_t max,
                     size_t *ret_len)
{
    size_t k = 0, line = 0;

    for (size_t i = 0; i < n;) {
        unsigned v;

        if (p[i] == '\n') {
            if (line != 16 && i + 1 < n)
                return -1;
            line = 0;
            i++;
            continue;
        }
        if (p[i] == ' ') {
            i++;
            continue;
        }
        line++;
        if (n - i < 2 || k == max || sscanf(p + i, "%2x", &v) != 1 ||
            !strchr("0123456789abcdef", p[i]) ||
            !strchr("0123456789abcdef", p[i + 1]))
            return -1;
        out[k++] = (unsigned char)v;
        i += 2;
    }
    *ret_len = k;
    return 0;
}

/* Collects the ```json and ```hex blocks of the "## Examples" section, in
 * pairs. Returns the number of examples, or -1. */
static int doc_examples(const char *doc, struct doc_example *ex, int max)
{
    const char *p = strstr(doc, "\n## Examples\n"), *end;
    int n = 0, have_json = 0;

    if (p == NULL)
        return -1;
    p++;
    end = strstr(p + 1, "\n## ");
    if (end == NULL)
        end = p + strlen(p);
    while ((p = strstr(p, "\n```")) != NULL && p < end) {
        const char *body, *close;
        int is_json = strncmp(p, "\n```json\n", 9) == 0;
        int is_hex = strncmp(p, "\n```hex\n", 8) == 0;

        if (!is_json && !is_hex)
            return -1;
        body = strchr(p + 1, '\n') + 1;
        close = strstr(body, "```\n");
        if (close == NULL || close > end || close[-1] != '\n')
            return -1;
        if (is_json) {
            if (have_json || n == max)
                return -1;
            ex[n].json = body;
            ex[n].json_len = (size_t)(close - body);
            have_json = 1;
        } else {
            if (!have_json || parse_hex(body, (size_t)(close - body),
                                        ex[n].hex, sizeof(ex[n].hex),
                                        &ex[n].hex_len) < 0)
                return -1;
            have_json = 0;
            n++;
        }
        p = close + 3;
    }
    return have_json ? -1 : n;
}

/* Prints bytes as PROTOCOL.md shows them, to fix the document by hand. */
static void print_hex(const unsigned char *p, size_t n)
{
    fprintf(stderr, "```hex\n");
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%02x%s", p[i], i % 16 == 15 || i + 1 == n ? "\n" : " ");
    fprintf(stderr, "```\n");
}

TEST(proto_examples)
{
    static struct doc_example ex[NEXAMPLES + 1];
    char *doc = test_read_file("protocol/PROTOCOL.md", NULL);
    int n;

    ASSERT(doc != NULL);
    n = doc_examples(doc, ex, NEXAMPLES + 1);
    if (n != NEXAMPLES)
        free(doc);
    ASSERT_EQ(n, NEXAMPLES);

    for (int i = 0; i < NEXAMPLES; i++) {
        struct proto_enc e, j;
        struct proto_frame f;
        int ok;

        proto_enc_init(&e);
        ASSERT_EQ(build_example(i, &e), 0);
        ok = e.sb.size == ex[i].hex_len &&
             memcmp(e.sb.data, ex[i].hex, e.sb.size) == 0;
        if (!ok) {
            fprintf(stderr, "  example %d differs from PROTOCOL.md; the "
                    "encoder gives:\n", i + 1);
            print_hex((const unsigned char *)e.sb.data, e.sb.size);
        }
        /* The JSON above the hex describes the same body. */
        msgpack_sbuffer_init(&j.sb);
        msgpack_packer_init(&j.pk, &j.sb, msgpack_sbuffer_write);
        ok = ok && proto_json_pack(&j.pk, ex[i].json, ex[i].json_len,
                                   NULL, 0) == 0 &&
             j.sb.size == e.sb.size - 4 &&
             memcmp(j.sb.data, e.sb.data + 4, j.sb.size) == 0;
        ok = ok && proto_frame_decode(&f, e.sb.data + 4, e.sb.size - 4) == 0;
        proto_frame_free(&f);
        msgpack_sbuffer_destroy(&j.sb);
        proto_enc_free(&e);
        if (!ok) {
            fprintf(stderr, "  example %d: JSON or hex mismatch\n", i + 1);
            free(doc);
        }
        ASSERT(ok);
    }
    free(doc);
}
