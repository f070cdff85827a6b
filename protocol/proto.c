/* proto.c -- the llmux frame codec (see proto.h; PROTOCOL.md is normative).
 * Owns: frame type names, the error-table lookups, framing (peek, a bounded
 * msgpack decoder, the encoder with its length patching) and the map lookup
 * and pack helpers. JSON conversion lives in json_*.c. */
#include "proto.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Frame types
 */

static const char *const type_names[] = {
    [PROTO_UNKNOWN]  = "unknown",
    [PROTO_HELLO]    = "hello",
    [PROTO_REQUEST]  = "request",
    [PROTO_CANCEL]   = "cancel",
    [PROTO_CHUNK]    = "chunk",
    [PROTO_RESPONSE] = "response",
    [PROTO_DONE]     = "done",
    [PROTO_ERROR]    = "error",
};
#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

const char *proto_type_name(enum proto_type t)
{
    if ((unsigned)t >= NTYPES)
        return type_names[PROTO_UNKNOWN];
    return type_names[t];
}

/* The type named by the n bytes at s; PROTO_UNKNOWN if none. */
static enum proto_type type_from_name(const char *s, size_t n)
{
    for (unsigned t = PROTO_UNKNOWN + 1; t < NTYPES; t++)
        if (strlen(type_names[t]) == n && memcmp(type_names[t], s, n) == 0)
            return (enum proto_type)t;
    return PROTO_UNKNOWN;
}

/* ------------------------------------------------------------------------
 * The error table (llmux-errno.h)
 */

struct err_entry {
    int         code;
    const char *name;
    const char *type;
    int         status;
    int         exit;
    const char *msg;
};

static const struct err_entry err_table[] = {
#define ERR_ENTRY(name, code, type, status, exit, msg) \
    { code, #name, type, status, exit, msg },
    LLMUX_ERRNO_MAP(ERR_ENTRY)
#undef ERR_ENTRY
};
#define NERRS (sizeof(err_table) / sizeof(err_table[0]))

/* Codes outside the table (and -errno codes) are reported as EINTERNAL. */
static const struct err_entry *err_find(int code)
{
    for (size_t i = 0; i < NERRS; i++)
        if (err_table[i].code == code)
            return &err_table[i];
    return NULL;
}

static const struct err_entry *err_find_or_internal(int code)
{
    const struct err_entry *e = err_find(code);

    return e ? e : err_find(LLMUX_EINTERNAL);
}

/* A -errno code: small negative numbers that are not LLMUX_E* values. The
 * table lives at -1001 and below, well clear of any errno. */
static bool is_errno_code(int code)
{
    return code < 0 && code > -1000 && err_find(code) == NULL;
}

#define ERRNO_NAME(e) { e, #e }
static const struct { int no; const char *name; } errno_names[] = {
    ERRNO_NAME(EPERM), ERRNO_NAME(ENOENT), ERRNO_NAME(ESRCH),
    ERRNO_NAME(EINTR), ERRNO_NAME(EIO), ERRNO_NAME(ENXIO),
    ERRNO_NAME(E2BIG), ERRNO_NAME(EBADF), ERRNO_NAME(ECHILD),
    ERRNO_NAME(EAGAIN), ERRNO_NAME(ENOMEM), ERRNO_NAME(EACCES),
    ERRNO_NAME(EFAULT), ERRNO_NAME(EBUSY), ERRNO_NAME(EEXIST),
    ERRNO_NAME(ENODEV), ERRNO_NAME(ENOTDIR), ERRNO_NAME(EISDIR),
    ERRNO_NAME(EINVAL), ERRNO_NAME(ENFILE), ERRNO_NAME(EMFILE),
    ERRNO_NAME(ENOTTY), ERRNO_NAME(EFBIG), ERRNO_NAME(ENOSPC),
    ERRNO_NAME(ESPIPE), ERRNO_NAME(EROFS), ERRNO_NAME(EPIPE),
    ERRNO_NAME(ERANGE), ERRNO_NAME(ENAMETOOLONG), ERRNO_NAME(ENOSYS),
    ERRNO_NAME(EOVERFLOW), ERRNO_NAME(EILSEQ), ERRNO_NAME(ENOTSOCK),
    ERRNO_NAME(EMSGSIZE), ERRNO_NAME(EOPNOTSUPP), ERRNO_NAME(EADDRINUSE),
    ERRNO_NAME(EADDRNOTAVAIL), ERRNO_NAME(ENETDOWN),
    ERRNO_NAME(ENETUNREACH), ERRNO_NAME(ECONNABORTED),
    ERRNO_NAME(ECONNRESET), ERRNO_NAME(ENOBUFS), ERRNO_NAME(EISCONN),
    ERRNO_NAME(ENOTCONN), ERRNO_NAME(ETIMEDOUT), ERRNO_NAME(ECONNREFUSED),
    ERRNO_NAME(EHOSTUNREACH), ERRNO_NAME(EALREADY),
    ERRNO_NAME(EINPROGRESS), ERRNO_NAME(ECANCELED),
};
#undef ERRNO_NAME

/* 0 is "success"; a -errno code gives strerror's text; anything else not
 * in the table gives EINTERNAL's message. */
const char *proto_strerror(int code)
{
    if (code == 0)
        return "success";
    if (is_errno_code(code))
        return strerror(-code);
    return err_find_or_internal(code)->msg;
}

/* "ERATELIMIT" for table codes, "ENOENT" for common -errno codes, "ESYSTEM"
 * for other -errno codes, "OK" for 0, "EINTERNAL" for the rest. */
const char *proto_err_name(int code)
{
    if (code == 0)
        return "OK";
    if (is_errno_code(code)) {
        for (size_t i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]);
             i++)
            if (errno_names[i].no == -code)
                return errno_names[i].name;
        return "ESYSTEM";
    }
    return err_find_or_internal(code)->name;
}

const char *proto_err_type(int code)
{
    return err_find_or_internal(code)->type;
}

int proto_err_status(int code)
{
    return err_find_or_internal(code)->status;
}

/* 0 for success, 1 for system errors (-errno: cannot connect…), then
 * the table's exit code. */
int proto_err_exit(int code)
{
    if (code == 0)
        return 0;
    if (code > -1000)
        return 1;
    return err_find_or_internal(code)->exit;
}

/* Several codes share a type ("bad_request"); the first in the table, the
 * most general one, wins. */
int proto_err_from_type(const char *type, size_t len)
{
    for (size_t i = 0; i < NERRS; i++)
        if (strlen(err_table[i].type) == len &&
            memcmp(err_table[i].type, type, len) == 0)
            return err_table[i].code;
    return LLMUX_EINTERNAL;
}

/* ------------------------------------------------------------------------
 * A bounded msgpack reader
 *
 * msgpack-c's own unpacker is not used for frames: it refuses nesting deeper
 * than 32 (MSGPACK_EMBED_STACK_SIZE, compiled into libmsgpackc, reported as
 * a NOMEM error) where the protocol allows 64, and it allocates whatever a
 * container header announces before checking that the bytes exist (a 5-byte
 * body "df 00 ff ff ff" costs a 768 MB malloc). This reader builds the same
 * msgpack_object tree in a msgpack_zone, but refuses a container whose
 * element count exceeds the bytes left, so it never allocates more than
 * about 24 bytes per input byte, and it counts depth as it goes.
 */

static uint64_t load_be(const unsigned char *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Sizes of the length/count field of the variable-size formats c4..df,
 * indexed by (byte - 0xc4); 0 for the fixed-size ones. */
static const unsigned char var_len_size[] = {
    1, 2, 4,          /* c4..c6 bin 8/16/32 */
    1, 2, 4,          /* c7..c9 ext 8/16/32 */
    0, 0,             /* ca cb float */
    0, 0, 0, 0,       /* cc..cf uint */
    0, 0, 0, 0,       /* d0..d3 int */
    0, 0, 0, 0, 0,    /* d4..d8 fixext */
    1, 2, 4,          /* d9..db str 8/16/32 */
    2, 4,             /* dc dd array 16/32 */
    2, 4,             /* de df map 16/32 */
};

/* The fixed-size scalars ca..d3 (float32/64, uint8..64, int8..64). */
static int mp_read_scalar(unsigned b, const unsigned char *p, size_t n,
                          msgpack_object *o, size_t *hl)
{
    static const unsigned char width[] = { 4, 8, 1, 2, 4, 8, 1, 2, 4, 8 };
    unsigned k = width[b - 0xca];
    uint64_t v;

    if (n < 1 + (size_t)k)
        return LLMUX_EPROTO;
    v = load_be(p + 1, k);
    *hl = 1 + k;
    if (b == 0xca) {
        uint32_t u = (uint32_t)v;
        float f;

        memcpy(&f, &u, sizeof(f));
        o->type = MSGPACK_OBJECT_FLOAT32;
        o->via.f64 = f;
    } else if (b == 0xcb) {
        o->type = MSGPACK_OBJECT_FLOAT64;
        memcpy(&o->via.f64, &v, sizeof(v));
    } else if (b <= 0xcf) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = v;
    } else {
        /* Sign-extend from k bytes; like msgpack-c, a non-negative signed
         * value is a POSITIVE_INTEGER. */
        int64_t sv = k == 8 ? (int64_t)v
            : (int64_t)(v ^ (1ull << (8 * k - 1))) -
              (int64_t)(1ull << (8 * k - 1));

        o->type = sv < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER
                         : MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.i64 = sv;
    }
    return 0;
}

/* The formats with a length or count: c4..c9 (bin, ext), d4..d8 (fixext),
 * d9..df (str, array, map). Sets *sz to the payload size of str/bin/ext. */
static int mp_read_sized(unsigned b, const unsigned char *p, size_t n,
                         msgpack_object *o, size_t *hl, uint64_t *sz)
{
    unsigned k;
    uint64_t v;

    if (b >= 0xd4 && b <= 0xd8) {
        if (n < 2)
            return LLMUX_EPROTO;
        o->type = MSGPACK_OBJECT_EXT;
        o->via.ext.type = (int8_t)p[1];
        *sz = 1u << (b - 0xd4);
        *hl = 2;
        return 0;
    }
    k = var_len_size[b - 0xc4];
    if (n < 1 + (size_t)k)
        return LLMUX_EPROTO;
    v = load_be(p + 1, k);
    *hl = 1 + k;
    if (b <= 0xc6) {
        o->type = MSGPACK_OBJECT_BIN;
        *sz = v;
    } else if (b <= 0xc9) {
        if (n < *hl + 1)
            return LLMUX_EPROTO;
        o->type = MSGPACK_OBJECT_EXT;
        o->via.ext.type = (int8_t)p[(*hl)++];
        *sz = v;
    } else if (b <= 0xdb) {
        o->type = MSGPACK_OBJECT_STR;
        *sz = v;
    } else if (b <= 0xdd) {
        o->type = MSGPACK_OBJECT_ARRAY;
        o->via.array.size = (uint32_t)v;
    } else {
        o->type = MSGPACK_OBJECT_MAP;
        o->via.map.size = (uint32_t)v;
    }
    return 0;
}

/* Reads one value's header at p (n bytes available) into *o: scalars in
 * full, str/bin/ext with their payload (which must be present), arrays and
 * maps with their count only. Sets *ret_len to the bytes consumed. Returns
 * 0 or LLMUX_EPROTO (truncated input, or the never-used byte c1). */
static int mp_read(const unsigned char *p, size_t n, msgpack_object *o,
                   size_t *ret_len)
{
    unsigned b;
    size_t hl = 1;
    uint64_t sz = 0;
    int r = 0;

    if (n < 1)
        return LLMUX_EPROTO;
    b = p[0];
    memset(o, 0, sizeof(*o));
    if (b <= 0x7f) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = b;
    } else if (b <= 0x8f) {
        o->type = MSGPACK_OBJECT_MAP;
        o->via.map.size = b & 0x0f;
    } else if (b <= 0x9f) {
        o->type = MSGPACK_OBJECT_ARRAY;
        o->via.array.size = b & 0x0f;
    } else if (b <= 0xbf) {
        o->type = MSGPACK_OBJECT_STR;
        sz = b & 0x1f;
    } else if (b >= 0xe0) {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = (int8_t)b;
    } else if (b == 0xc0) {
        o->type = MSGPACK_OBJECT_NIL;
    } else if (b == 0xc2 || b == 0xc3) {
        o->type = MSGPACK_OBJECT_BOOLEAN;
        o->via.boolean = b == 0xc3;
    } else if (b == 0xc1) {
        return LLMUX_EPROTO;
    } else if (b >= 0xca && b <= 0xd3) {
        r = mp_read_scalar(b, p, n, o, &hl);
    } else {
        r = mp_read_sized(b, p, n, o, &hl, &sz);
    }
    if (r < 0)
        return r;

    if (o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN ||
        o->type == MSGPACK_OBJECT_EXT) {
        if (sz > n - hl)
            return LLMUX_EPROTO;
        if (o->type == MSGPACK_OBJECT_EXT) {
            o->via.ext.size = (uint32_t)sz;
            o->via.ext.ptr = (const char *)p + hl;
        } else if (o->type == MSGPACK_OBJECT_BIN) {
            o->via.bin.size = (uint32_t)sz;
            o->via.bin.ptr = (const char *)p + hl;
        } else {
            o->via.str.size = (uint32_t)sz;
            o->via.str.ptr = (const char *)p + hl;
        }
        hl += sz;
    }
    *ret_len = hl;
    return 0;
}

/* One open container while parsing: where its elements go. */
struct mp_level {
    msgpack_object *arr;      /* array elements, or NULL */
    msgpack_object_kv *kv;    /* map pairs, or NULL */
    uint64_t next, total;     /* slots filled / to fill (2 per map pair) */
};

/* The slot for the next element of l; scratch when not building a tree. */
static msgpack_object *mp_slot(struct mp_level *l, msgpack_object *scratch)
{
    uint64_t i = l->next++;

    if (l->arr)
        return &l->arr[i];
    if (l->kv)
        return i % 2 ? &l->kv[i / 2].val : &l->kv[i / 2].key;
    return scratch;
}

/* Parses the first msgpack value of the len bytes at p, nesting at most
 * LLMUX_MAX_DEPTH containers deep. With a zone, builds the tree into *root
 * (strings point into p); without, only validates (*root is scratch).
 * *ret_used gets the bytes the value took. Returns 0, LLMUX_EPROTO, or
 * -ENOMEM. Iterative, so hostile input cannot exhaust the C stack. */
static int mp_parse(const char *p, size_t len, msgpack_zone *z,
                    msgpack_object *root, size_t *ret_used,
                    uint64_t *ret_count)
{
    uint64_t count = 0;
    const unsigned char *u = (const unsigned char *)p;
    struct mp_level st[LLMUX_MAX_DEPTH];
    msgpack_object scratch, *o = root;
    size_t off = 0, hl;
    int depth = 0, r;

    for (;;) {
        if ((r = mp_read(u + off, len - off, o, &hl)) < 0)
            return r;
        off += hl;
        count++;
        if (o->type == MSGPACK_OBJECT_ARRAY || o->type == MSGPACK_OBJECT_MAP) {
            bool is_map = o->type == MSGPACK_OBJECT_MAP;
            uint64_t n = is_map ? o->via.map.size : o->via.array.size;
            struct mp_level *l;

            if (depth == LLMUX_MAX_DEPTH)
                return LLMUX_EPROTO;
            l = &st[depth];
            /* Every element takes at least one byte: refuse a count the
             * remaining bytes cannot hold before allocating for it. */
            if ((is_map ? 2 * n : n) > len - off)
                return LLMUX_EPROTO;
            l->arr = NULL;
            l->kv = NULL;
            l->next = 0;
            l->total = is_map ? 2 * n : n;
            if (z != NULL && n > 0) {
                size_t sz = is_map ? sizeof(msgpack_object_kv)
                                   : sizeof(msgpack_object);
                void *mem = msgpack_zone_malloc(z, (size_t)n * sz);

                if (mem == NULL)
                    return -ENOMEM;
                if (is_map)
                    o->via.map.ptr = l->kv = mem;
                else
                    o->via.array.ptr = l->arr = mem;
            }
            depth++;
        }
        /* Close every container that is now complete. */
        while (depth > 0 && st[depth - 1].next == st[depth - 1].total)
            depth--;
        if (depth == 0)
            break;
        o = mp_slot(&st[depth - 1], z ? NULL : &scratch);
    }
    *ret_used = off;
    if (ret_count)
        *ret_count = count;
    return 0;
}

int proto_msgpack_count(const char *p, size_t len, uint64_t *ret_count)
{
    msgpack_object scratch;
    size_t used;

    return mp_parse(p, len, NULL, &scratch, &used, ret_count);
}

/* ------------------------------------------------------------------------
 * Framing: peek and decode
 */

int proto_frame_peek(const void *p, size_t n, size_t max,
                     size_t *ret_body_len)
{
    uint64_t len;

    if (n < LLMUX_FRAME_HEADER)
        return 0;
    len = load_be(p, LLMUX_FRAME_HEADER);
    if (len == 0)
        return LLMUX_EPROTO;
    if (len > max)
        return LLMUX_ETOOBIG;
    /* Set even when incomplete, so a caller can size its read. */
    *ret_body_len = (size_t)len;
    return n - LLMUX_FRAME_HEADER >= len ? 1 : 0;
}

/* The zone's first chunk, from the body length. msgpack's default 8 KiB
 * is past what malloc serves from its per-thread cache, so every frame
 * paid for the slow path twice (malloc and free); a typical request or
 * cancel frame needs a few hundred bytes of objects (about 4 bytes per
 * body byte). A zone grows by itself, so this only has to be a good
 * guess, never a bound. */
static size_t zone_chunk_size(size_t len)
{
    size_t want = len * 4;

    if (want < 512)
        return 512;
    return want > MSGPACK_ZONE_CHUNK_SIZE ? MSGPACK_ZONE_CHUNK_SIZE : want;
}

/* Besides the checks in proto.h: an id that is present must be a uint no
 * larger than LLMUX_MAX_ID (2^63-1), else LLMUX_EPROTO. -ENOMEM if the
 * tree cannot be allocated. */
int proto_frame_decode(struct proto_frame *f, const char *body, size_t len)
{
    const msgpack_object *t, *id;
    size_t used;
    unsigned b;
    int r;

    memset(f, 0, sizeof(*f));
    msgpack_unpacked_init(&f->up);
    if (len == 0)
        return LLMUX_EPROTO;
    b = (unsigned char)body[0];
    if (!(b >= 0x80 && b <= 0x8f) && b != 0xde && b != 0xdf)
        return LLMUX_EPROTO;    /* not a map: no need to allocate */
    f->up.zone = msgpack_zone_new(zone_chunk_size(len));
    if (f->up.zone == NULL)
        return -ENOMEM;
    r = mp_parse(body, len, f->up.zone, &f->up.data, &used, NULL);
    if (r < 0)
        return r;
    if (used != len || f->up.data.type != MSGPACK_OBJECT_MAP)
        return LLMUX_EPROTO;
    f->map = &f->up.data;

    t = proto_get(f->map, "type");
    if (t == NULL || t->type != MSGPACK_OBJECT_STR)
        return LLMUX_EPROTO;
    f->type = type_from_name(t->via.str.ptr, t->via.str.size);

    id = proto_get(f->map, "id");
    if (id != NULL) {
        if (id->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            id->via.u64 > LLMUX_MAX_ID)
            return LLMUX_EPROTO;
        f->id = id->via.u64;
        f->has_id = 1;
    }
    return 0;
}

void proto_frame_free(struct proto_frame *f)
{
    if (f == NULL)
        return;
    msgpack_unpacked_destroy(&f->up);
    f->map = NULL;
}

/* ------------------------------------------------------------------------
 * Map lookups
 */

/* Linear scan: frame maps hold a handful of keys, and a hash would cost
 * more to build than it saves. Keys that are not strings are skipped. The
 * first match wins when a key is duplicated. */
const msgpack_object *proto_get(const msgpack_object *map, const char *key)
{
    size_t n;

    if (map == NULL || map->type != MSGPACK_OBJECT_MAP || key == NULL)
        return NULL;
    n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;

        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* The proto_get_* helpers return 0, -ENOENT when the key is absent, or
 * LLMUX_EPROTO when its value has the wrong type or is out of range. The
 * string is not NUL-terminated: use *ret_len. */
int proto_get_str(const msgpack_object *map, const char *key,
                  const char **ret, size_t *ret_len)
{
    const msgpack_object *o = proto_get(map, key);

    if (o == NULL)
        return -ENOENT;
    if (o->type != MSGPACK_OBJECT_STR)
        return LLMUX_EPROTO;
    *ret = o->via.str.ptr;
    *ret_len = o->via.str.size;
    return 0;
}

int proto_get_uint(const msgpack_object *map, const char *key, uint64_t *ret)
{
    const msgpack_object *o = proto_get(map, key);

    if (o == NULL)
        return -ENOENT;
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return LLMUX_EPROTO;
    *ret = o->via.u64;
    return 0;
}

int proto_get_int(const msgpack_object *map, const char *key, int64_t *ret)
{
    const msgpack_object *o = proto_get(map, key);

    if (o == NULL)
        return -ENOENT;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *ret = o->via.i64;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > INT64_MAX)
        return LLMUX_EPROTO;
    *ret = (int64_t)o->via.u64;
    return 0;
}

/* Integers are accepted too: a JSON-born "temperature": 1 is an integer. */
int proto_get_float(const msgpack_object *map, const char *key, double *ret)
{
    const msgpack_object *o = proto_get(map, key);

    if (o == NULL)
        return -ENOENT;
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *ret = o->via.f64;
        return 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *ret = (double)o->via.u64;
        return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *ret = (double)o->via.i64;
        return 0;
    default:
        return LLMUX_EPROTO;
    }
}

/* 1 if o is the string s, else 0 (also for a NULL o). */
int proto_str_eq(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);

    return o != NULL && o->type == MSGPACK_OBJECT_STR &&
           o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

/* ------------------------------------------------------------------------
 * The encoder
 */

/* Most frames are small (a stream chunk is about 300 bytes), so the buffer
 * starts at 1 KiB, which malloc serves from its per-thread cache, rather
 * than at msgpack's 8 KiB, which took malloc's slow path for every frame;
 * msgpack_sbuffer_write doubles it when needed. If this malloc fails the
 * sbuffer simply starts empty, as msgpack's own would. */
#define ENC_INIT_SIZE 1024

/* The write callback of every proto_enc: msgpack's sbuffer writer under a
 * name of our own (msgpack's is static inline, a copy per file), so that
 * proto_pack_strn can recognise a packer that fills one of our buffers. */
static int enc_write(void *data, const char *buf, size_t len)
{
    return msgpack_sbuffer_write(data, buf, len);
}

/* e->pk points at e->sb: a proto_enc must not be copied or moved after
 * proto_enc_init. */
void proto_enc_init(struct proto_enc *e)
{
    msgpack_sbuffer_init(&e->sb);
    if ((e->sb.data = malloc(ENC_INIT_SIZE)) != NULL)
        e->sb.alloc = ENC_INIT_SIZE;
    msgpack_packer_init(&e->pk, &e->sb, enc_write);
    e->start = 0;
}

/* Writes the length placeholder, the map header and the type (and id)
 * pairs. Allocation failures are not reported here: they leave the frame
 * malformed, which proto_enc_end detects. */
void proto_enc_begin(struct proto_enc *e, enum proto_type t, uint64_t id,
                     uint32_t extra)
{
    static const char placeholder[LLMUX_FRAME_HEADER];
    bool has_id = t != PROTO_HELLO;

    e->start = e->sb.size;
    msgpack_sbuffer_write(&e->sb, placeholder, sizeof(placeholder));
    msgpack_pack_map(&e->pk, 1 + has_id + extra);
    proto_pack_kv_str(&e->pk, "type", proto_type_name(t));
    if (has_id)
        proto_pack_kv_uint(&e->pk, "id", id);
}

/* Besides ETOOBIG: LLMUX_EPROTO (and the frame is dropped) when what was
 * packed is not exactly one map nested at most LLMUX_MAX_DEPTH deep -- a
 * wrong 'extra', a failed allocation, or a too-deep body. The check walks
 * the frame without allocating; it keeps a sender from emitting a frame
 * the peer would answer by closing the connection. */
int proto_enc_end(struct proto_enc *e)
{
    unsigned char *hdr;
    msgpack_object root;
    size_t len, used;

    if (e->sb.size < e->start + LLMUX_FRAME_HEADER)
        return LLMUX_EPROTO;    /* even the placeholder failed: no frame */
    len = e->sb.size - e->start - LLMUX_FRAME_HEADER;
    if (len > LLMUX_MAX_FRAME) {
        e->sb.size = e->start;
        return LLMUX_ETOOBIG;
    }
    hdr = (unsigned char *)e->sb.data + e->start;
    if (mp_parse((const char *)hdr + LLMUX_FRAME_HEADER, len, NULL, &root,
                 &used, NULL) < 0 ||
        used != len || root.type != MSGPACK_OBJECT_MAP) {
        e->sb.size = e->start;
        return LLMUX_EPROTO;
    }
    hdr[0] = (unsigned char)(len >> 24);
    hdr[1] = (unsigned char)(len >> 16);
    hdr[2] = (unsigned char)(len >> 8);
    hdr[3] = (unsigned char)len;
    e->start = e->sb.size;
    return 0;
}

/* Accepts NULL; the encoder can be reused after proto_enc_init. */
void proto_enc_free(struct proto_enc *e)
{
    if (e == NULL)
        return;
    msgpack_sbuffer_destroy(&e->sb);
    memset(&e->sb, 0, sizeof(e->sb));
    e->start = 0;
}

/* A NULL s packs nil. */
void proto_pack_str(msgpack_packer *pk, const char *s)
{
    if (s == NULL) {
        msgpack_pack_nil(pk);
        return;
    }
    proto_pack_strn(pk, s, strlen(s));
}

/* Strings are most of what llmux packs (every key, most values). Into a
 * proto_enc buffer with room, header and bytes go in one step instead of
 * two trips through the write callback; otherwise msgpack does it (and
 * grows the buffer). The bytes are the same either way. */
void proto_pack_strn(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_sbuffer *sb = pk->data;
    unsigned char *d;
    size_t h = n < 32 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 5;

    if (pk->callback != enc_write || n > UINT32_MAX ||
        sb->alloc - sb->size < h + n) {
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, s, n);
        return;
    }
    d = (unsigned char *)sb->data + sb->size;
    switch (h) {
    case 1:
        d[0] = (unsigned char)(0xa0 | n);
        break;
    case 2:
        d[0] = 0xd9;
        d[1] = (unsigned char)n;
        break;
    case 3:
        d[0] = 0xda;
        d[1] = (unsigned char)(n >> 8);
        d[2] = (unsigned char)n;
        break;
    default:
        d[0] = 0xdb;
        d[1] = (unsigned char)(n >> 24);
        d[2] = (unsigned char)(n >> 16);
        d[3] = (unsigned char)(n >> 8);
        d[4] = (unsigned char)n;
        break;
    }
    if (n > 0)
        memcpy(d + h, s, n);
    sb->size += h + n;
}

void proto_pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    proto_pack_str(pk, k);
    proto_pack_str(pk, v);
}

void proto_pack_kv_uint(msgpack_packer *pk, const char *k, uint64_t v)
{
    proto_pack_str(pk, k);
    msgpack_pack_uint64(pk, v);
}

/* A NULL message uses the table's message for code. type and status come
 * from the table (a -errno code is "internal"/500). A NaN retry_after is
 * omitted like a negative one. Returns proto_enc_end's result. */
int proto_pack_error(struct proto_enc *e, uint64_t id, int code,
                     const char *message, const char *provider,
                     const char *deployment, double retry_after)
{
    bool has_retry = retry_after >= 0;   /* false for NaN too */
    uint32_t n = 4 + (provider != NULL) + (deployment != NULL) + has_retry;

    if (message == NULL)
        message = proto_strerror(code);
    proto_enc_begin(e, PROTO_ERROR, id, 1);
    proto_pack_str(&e->pk, "error");
    msgpack_pack_map(&e->pk, n);
    proto_pack_kv_str(&e->pk, "type", proto_err_type(code));
    proto_pack_str(&e->pk, "code");
    msgpack_pack_int64(&e->pk, code);
    proto_pack_kv_uint(&e->pk, "status", (uint64_t)proto_err_status(code));
    proto_pack_kv_str(&e->pk, "message", message);
    if (provider != NULL)
        proto_pack_kv_str(&e->pk, "provider", provider);
    if (deployment != NULL)
        proto_pack_kv_str(&e->pk, "deployment", deployment);
    if (has_retry) {
        proto_pack_str(&e->pk, "retry_after");
        msgpack_pack_double(&e->pk, retry_after);
    }
    return proto_enc_end(e);
}
