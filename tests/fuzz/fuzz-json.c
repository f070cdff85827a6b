/* fuzz-json.c -- libFuzzer target: JSON text <-> msgpack (protocol/json_*.c).
 * The first byte picks the direction:
 *   even: the rest is JSON text. proto_json_pack; when it accepts, the
 *         msgpack is decoded and dumped with proto_json_dump, that text is
 *         packed, decoded and dumped again, and both texts must be equal
 *         (after one trip the text is a fixed point; the first trip may
 *         change it: 1E5 prints as 100000.0).
 *   odd:  the rest is one msgpack value, decoded by the frame decoder (as
 *         the 'v' of a map) and dumped; a dump that succeeds must be JSON
 *         that proto_json_pack accepts, or refuses for what msgpack holds
 *         and the JSON rule does not (json_pack.c): a NUL in a string, an
 *         integer past int64, a key given twice. */
#include "fuzz.h"
#include "proto.h"

#include <string.h>

/* Decodes the msgpack value p[0..n) by wrapping it in {"type":"hello",
 * "v": value}: the frame decoder is the project's only msgpack reader. */
static int decode_value(const char *p, size_t n, struct proto_frame *f,
                        char **ret_body, const msgpack_object **ret)
{
    static const char head[] = "\x82\xa4type\xa5hello\xa1v";
    size_t hl = sizeof(head) - 1;
    char *body = malloc(hl + n);

    memset(f, 0, sizeof(*f));   /* proto_frame_free-able on any path */
    *ret_body = body;
    if (body == NULL)
        return -1;
    memcpy(body, head, hl);
    memcpy(body + hl, p, n);
    if (proto_frame_decode(f, body, hl + n) < 0)
        return -1;
    *ret = proto_get(f->map, "v");
    return *ret ? 0 : -1;
}

/* Packs JSON text, decodes it and dumps it into out. 1 if all went
 * well, 0 if the text is refused or too deep to wrap. */
static int trip(const char *p, size_t n, struct buf *out)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct proto_frame f;
    const msgpack_object *v;
    char err[128], *body = NULL;
    int ok = 0;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (proto_json_pack(&pk, p, n, err, sizeof(err)) == 0) {
        /* Only depth can stop the decoder: the wrapper adds one level. */
        if (decode_value(sb.data, sb.size, &f, &body, &v) == 0) {
            FUZZ_ASSERT(proto_json_dump(v, out) == 0);
            ok = 1;
        }
        proto_frame_free(&f);
    }
    free(body);
    msgpack_sbuffer_destroy(&sb);
    return ok;
}

static void from_json(const char *p, size_t n)
{
    struct buf once, twice;

    buf_init(&once, 64u * 1024 * 1024);
    buf_init(&twice, 64u * 1024 * 1024);
    if (trip(p, n, &once)) {
        FUZZ_ASSERT(trip(once.p, once.len, &twice));
        FUZZ_ASSERT(once.len == twice.len &&
                    memcmp(once.p, twice.p, once.len) == 0);
    }
    buf_free(&once);
    buf_free(&twice);
}

static void from_msgpack(const char *p, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct proto_frame f;
    const msgpack_object *v;
    struct buf out;
    char err[128], *body = NULL;

    buf_init(&out, 64u * 1024 * 1024);
    if (decode_value(p, n, &f, &body, &v) == 0 &&
        proto_json_dump(v, &out) == 0) {
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (proto_json_pack(&pk, out.p ? out.p : "", out.len, err,
                            sizeof(err)) != 0)
            FUZZ_ASSERT(strstr(err, "\\u0000 is not allowed") ||
                        strstr(err, "too big integer") ||
                        strstr(err, "too big negative integer") ||
                        strstr(err, "duplicate object key"));
        msgpack_sbuffer_destroy(&sb);
    }
    proto_frame_free(&f);
    free(body);
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy;

    if (size < 1)
        return 0;
    /* An exact-size copy: ASan then sees any read past the input. */
    if ((copy = malloc(size - 1 ? size - 1 : 1)) == NULL)
        return 0;
    memcpy(copy, data + 1, size - 1);
    if (data[0] % 2 == 0)
        from_json(copy, size - 1);
    else
        from_msgpack(copy, size - 1);
    free(copy);
    return 0;
}
