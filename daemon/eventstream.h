/* eventstream.h -- AWS event-stream binary framing
 * (application/vnd.amazon.eventstream), as Bedrock's streaming APIs send it.
 * Owns: decoding one message (prelude, headers, payload, both CRC32s), an
 * incremental reader with capped buffering, and an encoder. Knows nothing
 * of Bedrock's event types or of JSON. */
#ifndef LLMUX_EVENTSTREAM_H
#define LLMUX_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Wire layout: total length (u32 BE), headers length (u32 BE), CRC32 of
 * those 8 bytes, headers, payload, CRC32 of everything before it. */
#define ES_PRELUDE_LEN      12
#define ES_MIN_MESSAGE      16                      /* no headers/payload */
#define ES_MAX_HEADERS      64                      /* per message; ours */
#define ES_MAX_HEADERS_LEN  (128u * 1024)           /* the AWS SDKs' limit */
#define ES_MAX_PAYLOAD      (16u * 1024 * 1024)     /* the AWS SDKs' limit */
#define ES_MAX_MESSAGE \
    (ES_MIN_MESSAGE + ES_MAX_HEADERS_LEN + ES_MAX_PAYLOAD)

/* Header value types, numbered as on the wire. */
enum es_type {
    ES_BOOL_TRUE  = 0,
    ES_BOOL_FALSE = 1,
    ES_BYTE       = 2,
    ES_INT16      = 3,
    ES_INT32      = 4,
    ES_INT64      = 5,
    ES_BYTES      = 6,
    ES_STRING     = 7,
    ES_TIMESTAMP  = 8,      /* int64 milliseconds since the epoch */
    ES_UUID       = 9,      /* 16 raw bytes */
};

/* Errors: negative, apart from LLMUX_E* and -errno. The first two texts
 * are the AWS SDKs' own messages. */
#define ES_ERRNO_MAP(XX)                                                    \
    XX(EPRELUDECRC,  -1101, "Prelude checksum mismatch")                    \
    XX(EMESSAGECRC,  -1102, "Message checksum mismatch")                    \
    XX(ELENGTH,      -1103, "Invalid message length")                       \
    XX(EHEADERSLEN,  -1104, "Invalid headers length")                       \
    XX(EHEADER,      -1105, "Invalid header")                               \
    XX(EDUPHEADER,   -1106, "Duplicate header")                             \
    XX(ETOOMANY,     -1107, "Too many headers")                             \
    XX(ETRUNCATED,   -1108, "Truncated message")                            \

enum es_errno {
#define ES_ERRNO_ENUM(name, code, msg) ES_##name = code,
    ES_ERRNO_MAP(ES_ERRNO_ENUM)
#undef ES_ERRNO_ENUM
};

/* The text of an ES_E* code; "Unknown event-stream error" for others. */
const char *es_strerror(int code);

/* One header. Pointers point into the decoded bytes (nothing is copied)
 * and are not NUL-terminated. */
struct es_header {
    const char  *name;
    size_t       name_len;              /* 1..255 */
    enum es_type type;
    int64_t      num;       /* BOOL_* (1/0), BYTE, INT16/32/64, TIMESTAMP */
    const char  *val;       /* BYTES, STRING, UUID (val_len 16); else NULL */
    size_t       val_len;
};

struct es_message {
    uint32_t         total_len;
    uint32_t         headers_len;
    uint32_t         prelude_crc;
    uint32_t         message_crc;
    size_t           nheaders;
    struct es_header headers[ES_MAX_HEADERS];
    const char      *payload;           /* into the decoded bytes */
    size_t           payload_len;
};

/* Decodes the message that starts at p[0..n), with ES_MAX_MESSAGE as the
 * length limit. Returns 0 and sets *ret_used to its length; or returns 0
 * with *ret_used = 0 when p holds only part of it (the prelude is checked
 * as soon as its 12 bytes are there, so a corrupt length is reported, not
 * waited for); or a negative ES_E* code. m points into p. The checks, in
 * order: prelude CRC (EPRELUDECRC); total 16..limit and payload at most
 * 16 MiB (ELENGTH); headers length within the total and 128 KiB
 * (EHEADERSLEN); message CRC (EMESSAGECRC); then each header (EHEADER,
 * ETOOMANY, and EDUPHEADER for a repeated name, as botocore does). */
int es_decode(const uint8_t *p, size_t n, struct es_message *m,
              size_t *ret_used);

/* The first header called 'name', or NULL. */
const struct es_header *es_header_get(const struct es_message *m,
                                      const char *name);

/* Called once per message; m is valid only during the call. Returns 0 to
 * go on; non-zero stops es_reader_feed, which returns it. */
typedef int (*es_cb)(void *ud, const struct es_message *m);

struct es_reader {
    struct buf buf;     /* owned; a message split across feeds: its bytes,
                         * and only once its prelude allowed its length */
    size_t     max;     /* cap on one message's total length */
};

/* Prepares 'r'; a message longer than max_message (which is clamped to
 * ES_MAX_MESSAGE) is ES_ELENGTH, reported from its prelude before any
 * more of it is buffered. */
void es_reader_init(struct es_reader *r, size_t max_message);

/* Decodes every complete message in the bytes fed so far, calling cb for
 * each. Whole messages inside 'p' are decoded in place. Returns 0, an
 * ES_E* code, -ENOMEM, or the first non-zero value of cb. Any bytes of
 * any content are safe to feed (this is the fuzzing entry point); after a
 * non-zero return the stream is broken and must be abandoned. */
int es_reader_feed(struct es_reader *r, const void *p, size_t n,
                   es_cb cb, void *ud);

/* End of stream: 0, or ES_ETRUNCATED if part of a message is left (which
 * is then dropped, leaving 'r' ready for a new stream). */
int es_reader_end(struct es_reader *r);

/* Frees the buffer (NULL is fine); reuse needs es_reader_init. */
void es_reader_free(struct es_reader *r);

/* A STRING header for es_encode; 'name' and 'value' must outlive it. */
struct es_header es_header_string(const char *name, const char *value);

/* Appends one message to 'out'. Headers may be of any type (num or val
 * per type, as decoded); duplicate names are not checked, so tests can
 * build bad messages. Returns 0, ES_EHEADER (empty or >255-byte name,
 * value over 65535 bytes, UUID not 16 bytes, unknown type), ES_ELENGTH
 * (over ES_MAX_MESSAGE), LLMUX_ETOOBIG (out's cap) or -ENOMEM; on error
 * 'out' is left as it was. */
int es_encode(struct buf *out, const struct es_header *h, size_t nh,
              const void *payload, size_t payload_len);

#endif
