/* hub.c -- msgpack <-> jansson conversion and canonical builders (hub.h). */
#include "hub.h"
#include "proto.h"

#include <stdio.h>
#include <string.h>

static json_t *bin_to_base64(const char *p, size_t n)
{
    struct buf b;
    json_t *j = NULL;

    buf_init(&b, (n + 2) / 3 * 4 + 1);
    if (proto_base64(&b, p, n) == 0)
        j = json_stringn(b.p ? b.p : "", b.len);
    buf_free(&b);
    return j;
}

static json_t *from_msgpack_depth(const msgpack_object *o, int depth)
{
    json_t *j, *v;

    if (depth > LLMUX_MAX_DEPTH)
        return NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return json_real((double)o->via.u64);
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR:
        return json_stringn(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return bin_to_base64(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY:
        j = json_array();
        for (uint32_t i = 0; j && i < o->via.array.size; i++) {
            v = from_msgpack_depth(&o->via.array.ptr[i], depth + 1);
            if (v == NULL || json_array_append_new(j, v) < 0) {
                json_decref(j);
                return NULL;
            }
        }
        return j;
    case MSGPACK_OBJECT_MAP:
        j = json_object();
        for (uint32_t i = 0; j && i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];

            if (kv->key.type != MSGPACK_OBJECT_STR)
                goto bad_map;
            v = from_msgpack_depth(&kv->val, depth + 1);
            if (v == NULL)
                goto bad_map;
            if (json_object_setn_new(j, kv->key.via.str.ptr,
                                     kv->key.via.str.size, v) < 0)
                goto bad_map;
        }
        return j;
    bad_map:
        json_decref(j);
        return NULL;
    default:
        return NULL;
    }
}

json_t *hub_from_msgpack(const msgpack_object *o)
{
    return from_msgpack_depth(o, 0);
}

int hub_pack(msgpack_packer *pk, const json_t *j)
{
    const char *key;
    json_t *v;
    size_t i, klen;

    switch (json_typeof(j)) {
    case JSON_NULL:
        return msgpack_pack_nil(pk);
    case JSON_TRUE:
        return msgpack_pack_true(pk);
    case JSON_FALSE:
        return msgpack_pack_false(pk);
    case JSON_INTEGER:
        return msgpack_pack_int64(pk, json_integer_value(j));
    case JSON_REAL:
        return msgpack_pack_double(pk, json_real_value(j));
    case JSON_STRING:
        proto_pack_strn(pk, json_string_value(j), json_string_length(j));
        return 0;
    case JSON_ARRAY:
        msgpack_pack_array(pk, (uint32_t)json_array_size(j));
        json_array_foreach(j, i, v)
            if (hub_pack(pk, v) < 0)
                return -1;
        return 0;
    case JSON_OBJECT:
        msgpack_pack_map(pk, (uint32_t)json_object_size(j));
        /* Keys by length: one may hold a NUL ("a\u0000b" in JSON, or
         * from msgpack), and strlen would cut it short and could even
         * make two keys equal. */
        json_object_keylen_foreach((json_t *)j, key, klen, v) {
            proto_pack_strn(pk, key, klen);
            if (hub_pack(pk, v) < 0)
                return -1;
        }
        return 0;
    }
    return -1;
}

const char *hub_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

int hub_bool(const json_t *obj, const char *key, int dflt)
{
    json_t *v = json_object_get(obj, key);

    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

json_t *hub_chunk_new(const char *id, const char *model, json_int_t created)
{
    return json_pack("{s:s, s:s, s:I, s:s, s:[]}", "id", id ? id : "",
                     "object", "chat.completion.chunk", "created", created,
                     "model", model ? model : "", "choices");
}

json_t *hub_chunk_delta(const char *id, const char *model,
                        json_int_t created, json_t *delta,
                        const char *finish_reason)
{
    json_t *c = hub_chunk_new(id, model, created), *choice;

    if (c == NULL) {
        json_decref(delta);
        return NULL;
    }
    choice = json_pack("{s:i, s:o, s:o}", "index", 0, "delta", delta,
                       "finish_reason", finish_reason ?
                       json_string(finish_reason) : json_null());
    if (choice == NULL ||
        json_array_append_new(json_object_get(c, "choices"), choice) < 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

json_t *hub_usage(json_int_t prompt, json_int_t completion)
{
    return json_pack("{s:I, s:I, s:I}", "prompt_tokens", prompt,
                     "completion_tokens", completion, "total_tokens",
                     prompt + completion);
}

void hub_new_id(char *buf, size_t len, const char *prefix, uint64_t n)
{
    snprintf(buf, len, "%s%024llx", prefix, (unsigned long long)n);
}
