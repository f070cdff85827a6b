/* fuzz-request.c -- libFuzzer target: msgpack -> request validation, the
 * path conn.c takes for a "request" frame: proto_frame_decode, the op and
 * body checks, hub_from_msgpack (daemon/hub.c). A body that converts is
 * packed back with hub_pack, decoded again and must convert to an equal
 * JSON tree (the daemon relays what it accepted without changing it). */
#include "fuzz.h"
#include "hub.h"
#include "proto.h"

#include <string.h>

/* json_equal with keys compared by length: jansson 2.14's json_equal
 * looks keys up with strlen, so "a\0x" and "a" would be confused. */
static int same(const json_t *a, const json_t *b)
{
    const char *k;
    size_t klen, i;
    json_t *v;

    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b))
            return 0;
        json_object_keylen_foreach((json_t *)a, k, klen, v)
            if (!json_object_getn(b, k, klen) ||
                !same(v, json_object_getn(b, k, klen)))
                return 0;
        return 1;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return 0;
        json_array_foreach(a, i, v)
            if (!same(v, json_array_get(b, i)))
                return 0;
        return 1;
    default:
        return json_equal(a, b);
    }
}

/* hub_pack(j) wrapped as the 'body' of a frame, decoded, converted back. */
static void round_trip(const json_t *j)
{
    struct proto_enc e;
    struct proto_frame f;
    json_t *back;
    int r;

    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_REQUEST, 1, 1);
    proto_pack_str(&e.pk, "body");
    FUZZ_ASSERT(hub_pack(&e.pk, j) == 0);
    r = proto_enc_end(&e);
    /* A tree of LLMUX_MAX_DEPTH levels is one level too deep for a frame,
     * and a huge one too big: both are refused, never sent malformed. */
    FUZZ_ASSERT(r == 0 || r == LLMUX_EPROTO || r == LLMUX_ETOOBIG);
    if (r == 0) {
        FUZZ_ASSERT(proto_frame_decode(&f, e.sb.data + LLMUX_FRAME_HEADER,
                                       e.sb.size - LLMUX_FRAME_HEADER) == 0);
        back = hub_from_msgpack(proto_get(f.map, "body"));
        FUZZ_ASSERT(back != NULL);
        FUZZ_ASSERT(same(back, j));
        json_decref(back);
        proto_frame_free(&f);
    }
    proto_enc_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_frame f;
    const msgpack_object *body;
    char *copy = malloc(size ? size : 1);
    json_t *j;

    if (copy == NULL)
        return 0;
    memcpy(copy, data, size);
    if (proto_frame_decode(&f, copy, size) == 0) {
        body = proto_get(f.map, "body");
        if (body != NULL && body->type == MSGPACK_OBJECT_MAP) {
            j = hub_from_msgpack(body);
            if (j != NULL) {
                FUZZ_ASSERT(json_is_object(j));
                (void)hub_str(j, "model");
                (void)hub_bool(j, "stream", 0);
                round_trip(j);
                json_decref(j);
            }
        }
    }
    proto_frame_free(&f);
    free(copy);
    return 0;
}
