/* proto.h -- the llmux frame codec, shared by llmuxd and libllmux.
 * Owns: framing (4-byte big-endian length + one msgpack map), frame types,
 * the limits, and msgpack<->JSON text conversion (json_*.c). PROTOCOL.md is
 * the normative description of everything declared here.
 * Never prints, never exits, knows nothing of sockets or the daemon. */
#ifndef LLMUX_PROTO_H
#define LLMUX_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "buf.h"
#include "llmux-errno.h"

/* Bump LLMUX_PROTO_VERSION if any of these change: the framing, a frame
 * type or its required keys, the meaning of a key, an error code (see
 * llmux-errno.h) or the limits below. */
#define LLMUX_PROTO_VERSION   2
#define LLMUX_MAX_FRAME       (16u * 1024 * 1024)
#define LLMUX_FRAME_HEADER    4
#define LLMUX_MAX_INFLIGHT    1024
#define LLMUX_MAX_DEPTH       64
#define LLMUX_MAX_ID          ((uint64_t)INT64_MAX)

enum proto_type {
    PROTO_UNKNOWN = 0,
    PROTO_HELLO,
    PROTO_REQUEST,
    PROTO_CANCEL,
    PROTO_CHUNK,
    PROTO_RESPONSE,
    PROTO_DONE,
    PROTO_ERROR,
};

const char *proto_type_name(enum proto_type t);

/* Error table lookups (llmux-errno.h); unknown codes give "internal". A
 * -errno code gives strerror's text and type "internal". */
const char *proto_strerror(int code);
const char *proto_err_name(int code);   /* "ERATELIMIT", or "ENOENT"… */
const char *proto_err_type(int code);   /* "rate_limit" */
int         proto_err_status(int code); /* 429 */
int         proto_err_exit(int code);   /* exit code of the llmux helper */
/* The code for a type name such as "rate_limit", or LLMUX_EINTERNAL. */
int         proto_err_from_type(const char *type, size_t len);

/* Looks at the n bytes at p. Returns 1 when a whole frame is there, with
 * *ret_body_len set; 0 when more bytes are needed; LLMUX_ETOOBIG when the
 * announced length exceeds max (checked before any body byte is needed);
 * LLMUX_EPROTO for a zero length. */
int proto_frame_peek(const void *p, size_t n, size_t max,
                     size_t *ret_body_len);

/* A decoded frame. 'map' and every string in it point into 'up' (and, for
 * strings, into the body bytes, which must outlive the frame). */
struct proto_frame {
    msgpack_unpacked      up;     /* owned; freed by proto_frame_free */
    const msgpack_object *map;
    enum proto_type       type;
    uint64_t              id;     /* 0 when absent */
    int                   has_id;
};

/* Decodes one frame body. Returns 0; LLMUX_EPROTO if the body is not exactly
 * one msgpack map, or has no string 'type'. An unknown type decodes with
 * type PROTO_UNKNOWN (the caller answers it). Nesting deeper than
 * LLMUX_MAX_DEPTH is EPROTO. Always call proto_frame_free. */
int  proto_frame_decode(struct proto_frame *f, const char *body, size_t len);
void proto_frame_free(struct proto_frame *f);
/* Counts the msgpack values (containers, keys and elements) of the first
 * value in the len bytes at p without building anything, so a caller can
 * size what decoding will cost first. 0, or LLMUX_EPROTO as decode. */
int  proto_msgpack_count(const char *p, size_t len, uint64_t *ret_count);

/* Map lookups: NULL/negative when absent or of the wrong type. */
const msgpack_object *proto_get(const msgpack_object *map, const char *key);
int proto_get_str(const msgpack_object *map, const char *key,
                  const char **ret, size_t *ret_len);
int proto_get_uint(const msgpack_object *map, const char *key,
                   uint64_t *ret);
int proto_get_int(const msgpack_object *map, const char *key, int64_t *ret);
int proto_get_float(const msgpack_object *map, const char *key, double *ret);
int proto_str_eq(const msgpack_object *o, const char *s);

/* Frame encoder. Frames are packed back to back into one sbuffer (so a
 * batch goes out in one write). Usage:
 *     proto_enc_begin(&e, PROTO_CHUNK, id, 1);   -- type, id + 1 more key
 *     proto_pack_str(&e.pk, "body"); ...pack the value...
 *     proto_enc_end(&e);
 * 'extra' is the number of key/value pairs the caller packs after type and
 * id (id is packed when the type needs one: all but hello). */
struct proto_enc {
    msgpack_sbuffer sb;   /* owned; release with msgpack_sbuffer_release */
    msgpack_packer  pk;
    size_t          start;
};

void proto_enc_init(struct proto_enc *e);
void proto_enc_begin(struct proto_enc *e, enum proto_type t, uint64_t id,
                     uint32_t extra);
/* Patches the length of the frame begun last. LLMUX_ETOOBIG (and the frame
 * is dropped from the buffer) if it exceeds LLMUX_MAX_FRAME. */
int  proto_enc_end(struct proto_enc *e);
void proto_enc_free(struct proto_enc *e);

void proto_pack_str(msgpack_packer *pk, const char *s);
void proto_pack_strn(msgpack_packer *pk, const char *s, size_t n);
void proto_pack_kv_str(msgpack_packer *pk, const char *k, const char *v);
void proto_pack_kv_uint(msgpack_packer *pk, const char *k, uint64_t v);

/* Packs a whole error frame: id (0 for the connection), code, a message,
 * optional provider/deployment (NULL to omit) and retry_after (<0 to omit). */
int proto_pack_error(struct proto_enc *e, uint64_t id, int code,
                     const char *message, const char *provider,
                     const char *deployment, double retry_after);

/* JSON text <-> msgpack (json_pack.c, json_dump.c). proto_json_pack packs
 * exactly one JSON value (RFC 8259, nesting up to LLMUX_MAX_DEPTH):
 * integers stay integers (int64; one outside int64 is refused, as
 * jansson refuses it), numbers with a fraction or exponent become
 * float64, strings are UTF-8 checked.
 * Returns 0, or LLMUX_EBADREQ with a message naming the byte offset in
 * err. */
int proto_json_pack(msgpack_packer *pk, const char *json, size_t len,
                    char *err, size_t errlen);
/* Appends one msgpack value as compact JSON to out. floats always carry a
 * '.' or an exponent (1.0, not 1) so their type survives a round trip;
 * NaN/Inf become null; bin becomes a base64 string; ext is EPROTO; map
 * keys that are not strings are EPROTO. Returns 0 or a negative code. */
int proto_json_dump(const msgpack_object *o, struct buf *out);
/* Appends n bytes as standard base64 (RFC 4648, padded). 0 or a code. */
int proto_base64(struct buf *out, const void *data, size_t n);

#endif
