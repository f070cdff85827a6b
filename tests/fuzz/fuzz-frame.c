/* fuzz-frame.c -- libFuzzer target: the frame decoder (protocol/proto.c).
 * Reads the input as a byte stream of frames (proto_frame_peek, then
 * proto_frame_decode on each body), and the whole input as one body; every
 * decoded frame is walked with the proto_get_* lookups the daemon uses.
 * Each body is copied into an allocation of its exact size so ASan sees
 * any read past it. */
#include "fuzz.h"
#include "proto.h"

#include <string.h>

/* The lookups conn.c and libllmux make on a frame; results unused. */
static void walk(const struct proto_frame *f)
{
    const char *s;
    size_t n;
    uint64_t u;
    int64_t i;
    double d;

    (void)proto_get_str(f->map, "op", &s, &n);
    (void)proto_get_str(f->map, "type", &s, &n);
    (void)proto_get_uint(f->map, "version", &u);
    (void)proto_get_int(f->map, "code", &i);
    (void)proto_get_float(f->map, "retry_after", &d);
    (void)proto_str_eq(proto_get(f->map, "op"), "chat");
    (void)proto_type_name(f->type);
    if (f->type != PROTO_UNKNOWN && f->type != PROTO_HELLO)
        FUZZ_ASSERT(!f->has_id || f->id <= LLMUX_MAX_ID);
}

static void decode_one(const uint8_t *p, size_t n)
{
    struct proto_frame f;
    char *body = malloc(n ? n : 1);

    if (body == NULL)
        return;
    memcpy(body, p, n);
    if (proto_frame_decode(&f, body, n) == 0) {
        FUZZ_ASSERT(f.map != NULL && f.map->type == MSGPACK_OBJECT_MAP);
        walk(&f);
    }
    proto_frame_free(&f);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0, body = 0;
    int r;

    while (off < size) {
        r = proto_frame_peek(data + off, size - off, LLMUX_MAX_FRAME, &body);
        if (r < 0)
            FUZZ_ASSERT(r == LLMUX_EPROTO || r == LLMUX_ETOOBIG);
        if (r <= 0)
            break;
        FUZZ_ASSERT(body > 0 && body <= size - off - LLMUX_FRAME_HEADER);
        decode_one(data + off + LLMUX_FRAME_HEADER, body);
        off += LLMUX_FRAME_HEADER + body;
    }
    decode_one(data, size);
    return 0;
}
