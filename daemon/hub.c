/* hub.c -- msgpack <-> jansson conversion and canonical builders (hub.h). */
#include "hub.h"
#include "llmux-errno.h"
#include "proto.h"

#include <math.h>

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

/* Why a conversion failed: bad input (bad_request, with words) or a
 * failed allocation (internal) -- never one reported as the other. */
struct conv {
    int    code;            /* 0, LLMUX_EBADREQ or LLMUX_EINTERNAL */
    char  *msg;
    size_t len;
};

static json_t *conv_bad(struct conv *cv, const char *why)
{
    if (cv->code == 0) {
        cv->code = LLMUX_EBADREQ;
        snprintf(cv->msg, cv->len, "body is not valid: %s", why);
    }
    return NULL;
}

static json_t *conv_oom(struct conv *cv)
{
    if (cv->code == 0) {
        cv->code = LLMUX_EINTERNAL;
        snprintf(cv->msg, cv->len, "out of memory");
    }
    return NULL;
}

/* Well-formed UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF), as jansson requires. */
static int utf8_ok(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i], need, cp;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            need = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            need = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            need = 3, cp = c & 0x07;
        else
            return 0;
        if (n - i <= need)
            return 0;
        for (unsigned k = 1; k <= need; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += need + 1;
    }
    return 1;
}

static json_t *str_from(const char *p, size_t n, struct conv *cv)
{
    json_t *j;

    if (!utf8_ok((const unsigned char *)p, n))
        return conv_bad(cv, "strings must be UTF-8");
    /* Checked above: jansson's NULL now only means out of memory. */
    if ((j = json_stringn_nocheck(p, n)) == NULL)
        return conv_oom(cv);
    return j;
}

static json_t *from_msgpack_depth(const msgpack_object *o, int depth,
                                  struct conv *cv);

static json_t *map_from(const msgpack_object *o, int depth, struct conv *cv)
{
    json_t *j = json_object(), *v;

    if (j == NULL)
        return conv_oom(cv);
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        const char *k = kv->key.via.str.ptr;
        size_t klen = kv->key.via.str.size;

        if (kv->key.type != MSGPACK_OBJECT_STR) {
            conv_bad(cv, "map keys must be strings");
            goto fail;
        }
        /* "stream\u0000" must not reach an upstream as "stream" while
         * llmux reads it as another key. */
        if (memchr(k, '\0', klen) != NULL) {
            conv_bad(cv, "a key contains a NUL character");
            goto fail;
        }
        if (!utf8_ok((const unsigned char *)k, klen)) {
            conv_bad(cv, "strings must be UTF-8");
            goto fail;
        }
        if ((v = from_msgpack_depth(&kv->val, depth + 1, cv)) == NULL)
            goto fail;
        if (json_object_setn_new_nocheck(j, k, klen, v) < 0) {
            conv_oom(cv);
            goto fail;
        }
    }
    return j;
fail:
    json_decref(j);
    return NULL;
}

static json_t *from_msgpack_depth(const msgpack_object *o, int depth,
                                  struct conv *cv)
{
    json_t *j, *v;

    if (depth > LLMUX_MAX_DEPTH)
        return conv_bad(cv, "nested too deeply");
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        j = o->via.u64 > (uint64_t)INT64_MAX ?
            json_real((double)o->via.u64) :
            json_integer((json_int_t)o->via.u64);
        return j ? j : conv_oom(cv);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        j = json_integer((json_int_t)o->via.i64);
        return j ? j : conv_oom(cv);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        /* NaN and infinities have no JSON form. */
        if ((j = json_real(o->via.f64)) == NULL && isfinite(o->via.f64))
            return conv_oom(cv);
        return j ? j : conv_bad(cv, "numbers must be finite");
    case MSGPACK_OBJECT_STR:
        return str_from(o->via.str.ptr, o->via.str.size, cv);
    case MSGPACK_OBJECT_BIN:
        if ((j = bin_to_base64(o->via.bin.ptr, o->via.bin.size)) == NULL)
            return conv_oom(cv);
        return j;
    case MSGPACK_OBJECT_ARRAY:
        if ((j = json_array()) == NULL)
            return conv_oom(cv);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            v = from_msgpack_depth(&o->via.array.ptr[i], depth + 1, cv);
            if (v == NULL || json_array_append_new(j, v) < 0) {
                if (v != NULL)
                    conv_oom(cv);
                json_decref(j);
                return NULL;
            }
        }
        return j;
    case MSGPACK_OBJECT_MAP:
        return map_from(o, depth, cv);
    default:
        return conv_bad(cv, "ext types are not allowed");
    }
}

int hub_from_msgpack_checked(const msgpack_object *o, json_t **ret,
                             char *msg, size_t len)
{
    struct conv cv = { .msg = msg, .len = len };

    if ((*ret = from_msgpack_depth(o, 0, &cv)) != NULL)
        return 0;
    if (cv.code == 0)
        conv_oom(&cv);
    return cv.code;
}

json_t *hub_from_msgpack(const msgpack_object *o)
{
    char msg[128];
    json_t *j;

    return hub_from_msgpack_checked(o, &j, msg, sizeof(msg)) == 0 ? j : NULL;
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
