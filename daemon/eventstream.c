/* eventstream.c -- AWS event-stream framing (see eventstream.h).
 * Owns: the order of the checks (prelude CRC before trusting any length,
 * message CRC before reading any header), header decoding, the reader's
 * buffering of a split message, and the encoder. */
#include "eventstream.h"
#include "llmux-errno.h"

#include <stdbool.h>
#include <string.h>
#include <zlib.h>

const char *es_strerror(int code)
{
    switch (code) {
#define ES_ERRNO_STR(name, c, msg) case ES_##name: return msg;
    ES_ERRNO_MAP(ES_ERRNO_STR)
#undef ES_ERRNO_STR
    }
    return "Unknown event-stream error";
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void put_be(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = n; i-- > 0; v >>= 8)
        p[i] = (uint8_t)v;
}

/* zlib takes uInt lengths; messages are far below 4 GiB, but be exact. */
static uint32_t crc(uint32_t c, const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(c, p, (uInt)n);
}

/* Checks the 12-byte prelude at p. Nothing in it is trusted until its CRC
 * matches; then the lengths must fit each other and 'max'. */
static int check_prelude(const uint8_t *p, size_t max, uint32_t *ret_total,
                         uint32_t *ret_hlen)
{
    uint32_t total = get_be32(p), hlen = get_be32(p + 4);

    if (crc(0, p, 8) != get_be32(p + 8))
        return ES_EPRELUDECRC;
    if (total < ES_MIN_MESSAGE || total > max)
        return ES_ELENGTH;
    if (hlen > total - ES_MIN_MESSAGE || hlen > ES_MAX_HEADERS_LEN)
        return ES_EHEADERSLEN;
    if (total - ES_MIN_MESSAGE - hlen > ES_MAX_PAYLOAD)
        return ES_ELENGTH;
    *ret_total = total;
    *ret_hlen = hlen;
    return 0;
}

/* Size of a fixed-size value, or -1 for the length-prefixed/unknown. */
static int fixed_size(unsigned type)
{
    switch (type) {
    case ES_BOOL_TRUE: case ES_BOOL_FALSE:  return 0;
    case ES_BYTE:                           return 1;
    case ES_INT16:                          return 2;
    case ES_INT32:                          return 4;
    case ES_INT64: case ES_TIMESTAMP:       return 8;
    case ES_UUID:                           return 16;
    }
    return -1;
}

/* Decodes the value of h (its type already set) from p[0..n); returns the
 * bytes used or ES_EHEADER. */
static long parse_value(struct es_header *h, const uint8_t *p, size_t n)
{
    int size = fixed_size(h->type);
    size_t len;

    h->num = 0;
    h->val = NULL;
    h->val_len = 0;
    if (h->type == ES_BYTES || h->type == ES_STRING) {
        if (n < 2)
            return ES_EHEADER;
        len = (size_t)p[0] << 8 | p[1];
        if (len > n - 2)
            return ES_EHEADER;
        h->val = (const char *)p + 2;
        h->val_len = len;
        return (long)(2 + len);
    }
    if (size < 0 || (size_t)size > n)
        return ES_EHEADER;                  /* unknown type or truncated */
    switch (h->type) {
    case ES_BOOL_TRUE:  h->num = 1; break;
    case ES_BOOL_FALSE: h->num = 0; break;
    case ES_BYTE:       h->num = (int8_t)p[0]; break;
    case ES_INT16:      h->num = (int16_t)((uint16_t)p[0] << 8 | p[1]); break;
    case ES_INT32:      h->num = (int32_t)get_be32(p); break;
    case ES_INT64:
    case ES_TIMESTAMP:  h->num = (int64_t)get_be64(p); break;
    default:            /* ES_UUID */
        h->val = (const char *)p;
        h->val_len = 16;
        break;
    }
    return size;
}

static const struct es_header *find(const struct es_message *m,
                                    const char *name, size_t len)
{
    for (size_t i = 0; i < m->nheaders; i++)
        if (m->headers[i].name_len == len &&
            memcmp(m->headers[i].name, name, len) == 0)
            return &m->headers[i];
    return NULL;
}

const struct es_header *es_header_get(const struct es_message *m,
                                      const char *name)
{
    return find(m, name, strlen(name));
}

/* Headers: name length (u8), name, type (u8), value; back to back. */
static int parse_headers(const uint8_t *p, size_t n, struct es_message *m)
{
    size_t i = 0, nlen;
    struct es_header *h;
    long used;

    m->nheaders = 0;
    while (i < n) {
        if (m->nheaders == ES_MAX_HEADERS)
            return ES_ETOOMANY;
        h = &m->headers[m->nheaders];
        nlen = p[i++];
        /* The type byte must follow the name, hence >= rather than >. */
        if (nlen == 0 || nlen >= n - i)
            return ES_EHEADER;
        h->name = (const char *)p + i;
        h->name_len = nlen;
        i += nlen;
        h->type = (enum es_type)p[i++];
        if ((used = parse_value(h, p + i, n - i)) < 0)
            return (int)used;
        i += (size_t)used;
        if (find(m, h->name, nlen) != NULL)
            return ES_EDUPHEADER;
        m->nheaders++;
    }
    return 0;
}

/* es_decode with the caller's length limit. */
static int decode(const uint8_t *p, size_t n, size_t max,
                  struct es_message *m, size_t *ret_used)
{
    uint32_t total, hlen;
    int r;

    *ret_used = 0;
    if (n < ES_PRELUDE_LEN)
        return 0;
    if ((r = check_prelude(p, max, &total, &hlen)) < 0)
        return r;
    if (n < total)
        return 0;
    m->total_len = total;
    m->headers_len = hlen;
    m->prelude_crc = get_be32(p + 8);
    m->message_crc = get_be32(p + total - 4);
    /* The prelude CRC is the CRC of bytes 0..7, so chaining from it
     * saves reading them again. */
    if (crc(m->prelude_crc, p + 8, total - 12) != m->message_crc)
        return ES_EMESSAGECRC;
    if ((r = parse_headers(p + ES_PRELUDE_LEN, hlen, m)) < 0)
        return r;
    m->payload = (const char *)p + ES_PRELUDE_LEN + hlen;
    m->payload_len = total - ES_MIN_MESSAGE - hlen;
    *ret_used = total;
    return 0;
}

int es_decode(const uint8_t *p, size_t n, struct es_message *m,
              size_t *ret_used)
{
    return decode(p, n, ES_MAX_MESSAGE, m, ret_used);
}

void es_reader_init(struct es_reader *r, size_t max_message)
{
    /* A message never exceeds ES_MAX_MESSAGE, so neither need the buf. */
    r->max = max_message < ES_MAX_MESSAGE ? max_message : ES_MAX_MESSAGE;
    buf_init(&r->buf, r->max);
}

void es_reader_free(struct es_reader *r)
{
    if (r != NULL)
        buf_free(&r->buf);
}

int es_reader_end(struct es_reader *r)
{
    bool partial = r->buf.len > 0;

    buf_reset(&r->buf);
    return partial ? ES_ETRUNCATED : 0;
}

/* Moves bytes from *p into the buffer, never past the end of the message
 * being assembled. Returns 1 once the buffer holds that whole message, 0
 * when *n ran out first, or an error from the prelude or the buf. */
static int fill(struct es_reader *r, const uint8_t **p, size_t *n)
{
    uint32_t want = ES_PRELUDE_LEN, hlen;
    size_t take;
    int rc;

    for (;;) {
        if (r->buf.len >= ES_PRELUDE_LEN &&
            (rc = check_prelude((const uint8_t *)r->buf.p, r->max,
                                &want, &hlen)) < 0)
            return rc;
        if (r->buf.len == want && want > ES_PRELUDE_LEN)
            return 1;
        if (*n == 0)
            return 0;
        take = want - r->buf.len;
        if (take > *n)
            take = *n;
        if ((rc = buf_add(&r->buf, *p, take)) < 0)
            return rc;
        *p += take;
        *n -= take;
    }
}

int es_reader_feed(struct es_reader *r, const void *data, size_t n,
                   es_cb cb, void *ud)
{
    const uint8_t *p = data;
    struct es_message m;
    size_t used;
    int rc;

    while (n > 0) {
        if (r->buf.len == 0) {
            /* Fast path: decode straight from the caller's bytes. */
            if ((rc = decode(p, n, r->max, &m, &used)) < 0)
                return rc;
            if (used == 0)      /* a start, short of the checked length */
                return buf_add(&r->buf, p, n);
            p += used;
            n -= used;
        } else {
            if ((rc = fill(r, &p, &n)) <= 0)
                return rc;
            rc = decode((const uint8_t *)r->buf.p, r->buf.len, r->max,
                        &m, &used);
            if (rc < 0)
                return rc;
        }
        rc = cb(ud, &m);
        buf_reset(&r->buf);     /* after cb: m may point into it */
        if (rc != 0)
            return rc;
    }
    return 0;
}

struct es_header es_header_string(const char *name, const char *value)
{
    struct es_header h = {
        .name = name, .name_len = strlen(name), .type = ES_STRING,
        .val = value, .val_len = strlen(value),
    };
    return h;
}

/* Bytes h takes on the wire, or ES_EHEADER if it cannot be encoded. */
static long header_size(const struct es_header *h)
{
    int size = fixed_size(h->type);

    if (h->name_len == 0 || h->name_len > 255)
        return ES_EHEADER;
    if (h->type == ES_BYTES || h->type == ES_STRING) {
        if (h->val_len > 65535)
            return ES_EHEADER;
        return (long)(2 + h->name_len + 2 + h->val_len);
    }
    if (size < 0 || (h->type == ES_UUID && h->val_len != 16))
        return ES_EHEADER;
    return (long)(2 + h->name_len + (size_t)size);
}

/* Appends h, whose size header_size() accepted. */
static int put_header(struct buf *out, const struct es_header *h)
{
    uint8_t tmp[8];
    int size = fixed_size(h->type), r;

    tmp[0] = (uint8_t)h->name_len;
    if ((r = buf_add(out, tmp, 1)) < 0 ||
        (r = buf_add(out, h->name, h->name_len)) < 0)
        return r;
    tmp[0] = (uint8_t)h->type;
    if ((r = buf_add(out, tmp, 1)) < 0)
        return r;
    if (h->type == ES_BYTES || h->type == ES_STRING) {
        put_be(tmp, h->val_len, 2);
        if ((r = buf_add(out, tmp, 2)) < 0)
            return r;
        return buf_add(out, h->val, h->val_len);
    }
    if (h->type == ES_UUID)
        return buf_add(out, h->val, 16);
    put_be(tmp, (uint64_t)h->num, (size_t)size);
    return buf_add(out, tmp, (size_t)size);
}

static int encode(struct buf *out, size_t start, uint32_t total,
                  uint32_t hlen, const struct es_header *h, size_t nh,
                  const void *payload, size_t payload_len)
{
    uint8_t pre[12];
    int r;

    put_be(pre, total, 4);
    put_be(pre + 4, hlen, 4);
    put_be(pre + 8, crc(0, pre, 8), 4);
    if ((r = buf_add(out, pre, sizeof(pre))) < 0)
        return r;
    for (size_t i = 0; i < nh; i++)
        if ((r = put_header(out, &h[i])) < 0)
            return r;
    if ((r = buf_add(out, payload, payload_len)) < 0)
        return r;
    put_be(pre, crc(0, (const uint8_t *)out->p + start, total - 4), 4);
    return buf_add(out, pre, 4);
}

int es_encode(struct buf *out, const struct es_header *h, size_t nh,
              const void *payload, size_t payload_len)
{
    size_t start = out->len, hlen = 0;
    long size;
    int r;

    for (size_t i = 0; i < nh; i++) {
        if ((size = header_size(&h[i])) < 0)
            return (int)size;
        hlen += (size_t)size;
    }
    if (hlen > ES_MAX_HEADERS_LEN || payload_len > ES_MAX_PAYLOAD)
        return ES_ELENGTH;
    if (ES_MIN_MESSAGE + hlen + payload_len > out->max - out->len)
        return LLMUX_ETOOBIG;               /* fail before writing */
    r = encode(out, start, (uint32_t)(ES_MIN_MESSAGE + hlen + payload_len),
               (uint32_t)hlen, h, nh, payload, payload_len);
    if (r < 0) {                            /* only -ENOMEM can fail here */
        out->len = start;
        if (out->p)
            out->p[start] = '\0';
    }
    return r;
}
