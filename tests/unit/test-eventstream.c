/* test-eventstream.c -- unit tests of the AWS event-stream codec
 * (daemon/eventstream.c): every aws-sdk-go and botocore vector, the
 * vercel Bedrock exception fixture, the incremental reader under every
 * chunking, the limits, and encoder round trips down to the byte. */
#include "test.h"
#include "eventstream.h"
#include "llmux-errno.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <zlib.h>

#define MAX_NAMES 64

/* --- helpers ----------------------------------------------------------- */

/* Decodes base64 (whitespace skipped) into a malloc'd buffer. */
static uint8_t *b64_decode(const char *in, size_t n, size_t *ret_len)
{
    static const char tbl[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t *out = malloc(n / 4 * 3 + 3);
    uint32_t acc = 0;
    size_t len = 0;
    int bits = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *c;

        if (in[i] == '=' || in[i] == '\n' || in[i] == '\r' || in[i] == ' ')
            continue;
        if (in[i] == '\0' || (c = strchr(tbl, in[i])) == NULL) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)(c - tbl);
        if ((bits += 6) >= 8) {
            bits -= 8;
            out[len++] = (uint8_t)(acc >> bits);
        }
    }
    *ret_len = len;
    return out;
}

/* Is 'b64' the base64 of p[0..n)? */
static bool b64_is(const char *b64, const char *p, size_t n)
{
    size_t len;
    uint8_t *raw = b64_decode(b64, strlen(b64), &len);
    bool same = raw && len == n && memcmp(raw, p, n) == 0;

    free(raw);
    return same;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Sorted names in conformance dir 'rel' that end in 'suffix' (which is
 * cut off). Returns the count. */
static int list_dir(const char *rel, const char *suffix,
                    char names[][MAX_NAMES], int max)
{
    DIR *d = opendir(conformance_path(rel));
    size_t sl = strlen(suffix);
    struct dirent *e;
    int n = 0;

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL && n < max) {
        size_t l = strlen(e->d_name);

        if (e->d_name[0] == '.' || l < sl || l - sl >= MAX_NAMES ||
            strcmp(e->d_name + l - sl, suffix) != 0)
            continue;
        memcpy(names[n], e->d_name, l - sl);
        names[n++][l - sl] = '\0';
    }
    closedir(d);
    qsort(names, (size_t)n, MAX_NAMES, by_name);
    return n;
}

static char *read_vector(const char *dir, const char *name,
                         const char *suffix, size_t *ret_len)
{
    char rel[512];

    if (snprintf(rel, sizeof(rel), "eventstream/%s/%s%s", dir, name,
                 suffix) >= (int)sizeof(rel))
        return NULL;
    return test_read_file(conformance_path(rel), ret_len);
}

/* Compares a CRC with its JSON form: aws-sdk-go writes them as signed
 * int32, botocore's derived JSON as unsigned. */
static bool crc_is(json_t *j, uint32_t crc, bool is_signed)
{
    json_int_t v = json_integer_value(j);

    if (!json_is_integer(j))
        return false;
    if (is_signed ? v < INT32_MIN || v > INT32_MAX : v < 0 || v > UINT32_MAX)
        return false;
    return (uint32_t)v == crc;
}

/* Checks m against the expected JSON. aws-sdk-go style: signed CRCs,
 * "payload", strings in base64; botocore: unsigned, "payload_base64",
 * strings as text. Returns NULL or what differs. */
static const char *match(const struct es_message *m, json_t *exp, bool go)
{
    json_t *hs = json_object_get(exp, "headers");
    const char *payload;

    if (json_integer_value(json_object_get(exp, "total_length")) !=
        m->total_len)
        return "total_length";
    if (json_integer_value(json_object_get(exp, "headers_length")) !=
        m->headers_len)
        return "headers_length";
    if (!crc_is(json_object_get(exp, "prelude_crc"), m->prelude_crc, go))
        return "prelude_crc";
    if (!crc_is(json_object_get(exp, "message_crc"), m->message_crc, go))
        return "message_crc";
    if (!json_is_array(hs) || json_array_size(hs) != m->nheaders)
        return "header count";
    for (size_t i = 0; i < m->nheaders; i++) {
        const struct es_header *h = &m->headers[i];
        json_t *e = json_array_get(hs, i), *v = json_object_get(e, "value");
        const char *name = json_string_value(json_object_get(e, "name"));

        if (name == NULL || strlen(name) != h->name_len ||
            memcmp(name, h->name, h->name_len) != 0)
            return "header name";
        if (json_integer_value(json_object_get(e, "type")) != h->type)
            return "header type";
        if (es_header_get(m, name) != h)
            return "es_header_get";
        switch (h->type) {
        case ES_BOOL_TRUE:
        case ES_BOOL_FALSE:
            if (!json_is_boolean(v) || json_is_true(v) != (h->num == 1))
                return "bool value";
            break;
        case ES_BYTES:
        case ES_UUID:
            if (!json_is_string(v) ||
                !b64_is(json_string_value(v), h->val, h->val_len))
                return "bytes value";
            break;
        case ES_STRING:
            if (!json_is_string(v))
                return "string value";
            if (go ? !b64_is(json_string_value(v), h->val, h->val_len)
                   : json_string_length(v) != h->val_len ||
                     memcmp(json_string_value(v), h->val, h->val_len) != 0)
                return "string value";
            break;
        default:
            if (!json_is_integer(v) || json_integer_value(v) != h->num)
                return "integer value";
        }
    }
    payload = json_string_value(json_object_get(exp,
                                go ? "payload" : "payload_base64"));
    if (payload == NULL || !b64_is(payload, m->payload, m->payload_len))
        return "payload";
    return NULL;
}

/* What the reader delivered, as text: one line per message. */
struct msgs {
    struct buf sig;
    int        count;
    int        stop_at;     /* return 5 from this message on */
};

static void msgs_init(struct msgs *s)
{
    memset(s, 0, sizeof(*s));
    buf_init(&s->sig, 1u << 20);
}

static int collect(void *ud, const struct es_message *m)
{
    struct msgs *s = ud;
    int r = buf_addf(&s->sig, "%u %u %08x:", m->total_len, m->headers_len,
                     m->message_crc);

    for (size_t i = 0; i < m->nheaders && r == 0; i++)
        r = buf_addf(&s->sig, " %.*s/%d/%lld/%.*s",
                     (int)m->headers[i].name_len, m->headers[i].name,
                     m->headers[i].type, (long long)m->headers[i].num,
                     (int)m->headers[i].val_len,
                     m->headers[i].val ? m->headers[i].val : "");
    if (r == 0)
        r = buf_addf(&s->sig, " [%.*s]\n", (int)m->payload_len, m->payload);
    s->count++;
    if (r < 0)
        return r;
    return s->stop_at && s->count >= s->stop_at ? 5 : 0;
}

static const char *sig(struct msgs *s)
{
    return s->sig.len ? s->sig.p : "";
}

/* Feeds p split at 'split' then in chunks of 'chunk' (0 = one piece);
 * returns the first error, or es_reader_end's result. */
static int read_all(const void *data, size_t n, size_t split, size_t chunk,
                    size_t max, struct msgs *s)
{
    const uint8_t *p = data;
    struct es_reader r;
    int rc = 0;

    es_reader_init(&r, max);
    if (chunk) {
        for (size_t i = 0; i < n && rc == 0; i += chunk)
            rc = es_reader_feed(&r, p + i, n - i < chunk ? n - i : chunk,
                                collect, s);
    } else {
        rc = es_reader_feed(&r, p, split, collect, s);
        if (rc == 0)
            rc = es_reader_feed(&r, p + split, n - split, collect, s);
    }
    if (rc == 0)
        rc = es_reader_end(&r);
    es_reader_free(&r);
    return rc;
}

/* Re-encodes a decoded message; it must give back the same bytes. */
static bool reencodes(const struct es_message *m, const void *p, size_t n)
{
    struct buf out;
    bool same;

    buf_init(&out, 1u << 20);
    same = es_encode(&out, m->headers, m->nheaders, m->payload,
                     m->payload_len) == 0 &&
           out.len == n && memcmp(out.p, p, n) == 0;
    buf_free(&out);
    return same;
}

/* --- the AWS vectors --------------------------------------------------- */

TEST(es_sdkgo_positive)
{
    char names[MAX_NAMES][MAX_NAMES];
    int n = list_dir("eventstream/aws-sdk-go-testdata/encoded/positive", "",
                     names, MAX_NAMES);

    ASSERT_EQ(n, 5);
    for (int i = 0; i < n; i++) {
        size_t len, jlen, used;
        char *raw = read_vector("aws-sdk-go-testdata/encoded/positive",
                                names[i], "", &len);
        char *js = read_vector("aws-sdk-go-testdata/decoded/positive",
                               names[i], "", &jlen);
        json_t *exp = js ? json_loadb(js, jlen, 0, NULL) : NULL;
        struct es_message m;
        const char *diff;

        ASSERT(raw != NULL && exp != NULL);
        ASSERT_EQ(es_decode((const uint8_t *)raw, len, &m, &used), 0);
        ASSERT_EQ(used, len);
        if ((diff = match(&m, exp, true)) != NULL)
            fprintf(stderr, "  %s: %s differs\n", names[i], diff);
        ASSERT(diff == NULL);
        ASSERT(reencodes(&m, raw, len));
        json_decref(exp);
        free(js);
        free(raw);
    }
}

TEST(es_sdkgo_negative)
{
    char names[MAX_NAMES][MAX_NAMES];
    int n = list_dir("eventstream/aws-sdk-go-testdata/encoded/negative", "",
                     names, MAX_NAMES);

    ASSERT_EQ(n, 4);
    for (int i = 0; i < n; i++) {
        size_t len, tlen, used;
        char *raw = read_vector("aws-sdk-go-testdata/encoded/negative",
                                names[i], "", &len);
        char *want = read_vector("aws-sdk-go-testdata/decoded/negative",
                                 names[i], "", &tlen);
        struct es_message m;
        struct msgs s;
        int rc;

        ASSERT(raw != NULL && want != NULL);
        while (tlen && (want[tlen - 1] == '\n' || want[tlen - 1] == '\r'))
            want[--tlen] = '\0';
        rc = es_decode((const uint8_t *)raw, len, &m, &used);
        ASSERT(rc < 0);
        ASSERT_STR_EQ(es_strerror(rc), want);
        /* The reader agrees, however the bytes come. */
        msgs_init(&s);
        ASSERT_EQ(read_all(raw, len, len, 0, ES_MAX_MESSAGE, &s), rc);
        ASSERT_EQ(read_all(raw, len, 0, 1, ES_MAX_MESSAGE, &s), rc);
        ASSERT_EQ(s.count, 0);
        buf_free(&s.sig);
        free(want);
        free(raw);
    }
}

TEST(es_botocore_positive)
{
    char names[MAX_NAMES][MAX_NAMES];
    int n = list_dir("eventstream/botocore-vectors/positive", ".bin",
                     names, MAX_NAMES);

    ASSERT_EQ(n, 9);
    for (int i = 0; i < n; i++) {
        size_t len, jlen, used;
        char *raw = read_vector("botocore-vectors/positive", names[i],
                                ".bin", &len);
        char *js = read_vector("botocore-vectors/positive", names[i],
                               ".json", &jlen);
        json_t *exp = js ? json_loadb(js, jlen, 0, NULL) : NULL;
        struct es_message m;
        const char *diff;

        ASSERT(raw != NULL && exp != NULL);
        ASSERT_EQ(es_decode((const uint8_t *)raw, len, &m, &used), 0);
        ASSERT_EQ(used, len);
        if ((diff = match(&m, exp, false)) != NULL)
            fprintf(stderr, "  %s: %s differs\n", names[i], diff);
        ASSERT(diff == NULL);
        ASSERT(reencodes(&m, raw, len));
        json_decref(exp);
        free(js);
        free(raw);
    }
}

/* botocore's error classes, and the codes that mean the same. */
static bool same_error(const char *cls, int rc)
{
    if (strcmp(cls, "ChecksumMismatch") == 0)
        return rc == ES_EPRELUDECRC || rc == ES_EMESSAGECRC;
    if (strcmp(cls, "DuplicateHeader") == 0)
        return rc == ES_EDUPHEADER;
    if (strcmp(cls, "InvalidHeadersLength") == 0)
        return rc == ES_EHEADERSLEN;
    if (strcmp(cls, "InvalidPayloadLength") == 0)
        return rc == ES_ELENGTH;
    return false;
}

TEST(es_botocore_negative)
{
    char names[MAX_NAMES][MAX_NAMES];
    int n = list_dir("eventstream/botocore-vectors/negative", ".bin",
                     names, MAX_NAMES);

    ASSERT_EQ(n, 6);
    for (int i = 0; i < n; i++) {
        size_t len, jlen, used;
        char *raw = read_vector("botocore-vectors/negative", names[i],
                                ".bin", &len);
        char *js = read_vector("botocore-vectors/negative", names[i],
                               ".json", &jlen);
        json_t *exp = js ? json_loadb(js, jlen, 0, NULL) : NULL;
        const char *cls = json_string_value(json_object_get(exp,
                                                            "expected_error"));
        struct es_message m;
        struct msgs s;
        int rc;

        ASSERT(raw != NULL && cls != NULL);
        rc = es_decode((const uint8_t *)raw, len, &m, &used);
        if (!same_error(cls, rc))
            fprintf(stderr, "  %s: want %s, got %d (%s)\n", names[i], cls,
                    rc, es_strerror(rc));
        ASSERT(same_error(cls, rc));
        msgs_init(&s);
        ASSERT_EQ(read_all(raw, len, len, 0, ES_MAX_MESSAGE, &s), rc);
        ASSERT_EQ(read_all(raw, len, 0, 1, ES_MAX_MESSAGE, &s), rc);
        ASSERT_EQ(s.count, 0);
        buf_free(&s.sig);
        json_decref(exp);
        free(js);
        free(raw);
    }
}

/* botocore's INVALID_PAYLOAD_LENGTH, left out of the vectors for its
 * 24 MiB: its prelude alone must be refused, before any buffering. */
TEST(es_invalid_payload_length)
{
    uint8_t pre[12] = { 0x01, 0x80, 0x00, 0x21, 0, 0, 0, 0 };
    uint32_t c = (uint32_t)crc32(0, pre, 8);
    struct es_message m;
    struct es_reader r;
    struct msgs s;
    size_t used;

    pre[8] = (uint8_t)(c >> 24);
    pre[9] = (uint8_t)(c >> 16);
    pre[10] = (uint8_t)(c >> 8);
    pre[11] = (uint8_t)c;
    ASSERT_EQ(es_decode(pre, 12, &m, &used), ES_ELENGTH);
    msgs_init(&s);
    es_reader_init(&r, SIZE_MAX);
    ASSERT_EQ(es_reader_feed(&r, pre, 12, collect, &s), ES_ELENGTH);
    ASSERT(r.buf.p == NULL);                /* nothing was allocated */
    es_reader_free(&r);
    es_reader_init(&r, SIZE_MAX);           /* nor when split */
    ASSERT_EQ(es_reader_feed(&r, pre, 5, collect, &s), 0);
    ASSERT_EQ(es_reader_feed(&r, pre + 5, 7, collect, &s), ES_ELENGTH);
    ASSERT(r.buf.len <= ES_PRELUDE_LEN);   /* the prelude, no more */
    es_reader_free(&r);
    buf_free(&s.sig);
}

/* vercel/ai's Bedrock fixture: a modeled exception in the stream. */
TEST(es_vercel_model_stream_error)
{
    size_t tlen, len;
    char *txt = test_read_file(conformance_path(
        "eventstream/vercel-ai-synthetic/"
        "model-stream-error-exception.eventstream.base64.txt"), &tlen);
    uint8_t *raw = txt ? b64_decode(txt, tlen, &len) : NULL;
    struct msgs whole, s;
    struct es_message m;
    const struct es_header *h;
    json_t *j;
    size_t used;

    ASSERT(raw != NULL);
    ASSERT_EQ(es_decode(raw, len, &m, &used), 0);
    ASSERT_EQ(used, len);                   /* one message, no more */
    ASSERT_EQ(m.nheaders, 3);
    ASSERT((h = es_header_get(&m, ":message-type")) != NULL);
    ASSERT(h->type == ES_STRING && h->val_len == 9);
    ASSERT_MEM_EQ(h->val, "exception", 9);
    ASSERT((h = es_header_get(&m, ":exception-type")) != NULL);
    ASSERT(h->val_len == 25);
    ASSERT_MEM_EQ(h->val, "modelStreamErrorException", 25);
    ASSERT((h = es_header_get(&m, ":content-type")) != NULL);
    ASSERT_MEM_EQ(h->val, "application/json", 16);
    ASSERT(es_header_get(&m, ":event-type") == NULL);
    ASSERT((j = json_loadb(m.payload, m.payload_len, 0, NULL)) != NULL);
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "message")),
                  "Model Stream Error");
    ASSERT_EQ(json_integer_value(json_object_get(j, "originalStatusCode")),
              500);
    json_decref(j);

    msgs_init(&whole);
    ASSERT_EQ(read_all(raw, len, len, 0, 4096, &whole), 0);
    ASSERT_EQ(whole.count, 1);
    ASSERT(strstr(sig(&whole), ":exception-type/7/0/"
                  "modelStreamErrorException") != NULL);
    for (size_t k = 0; k <= len + 1; k++) {
        msgs_init(&s);
        if (k <= len)
            ASSERT_EQ(read_all(raw, len, k, 0, 4096, &s), 0);
        else
            ASSERT_EQ(read_all(raw, len, 0, 1, 4096, &s), 0);
        ASSERT_STR_EQ(sig(&s), sig(&whole));
        buf_free(&s.sig);
    }
    buf_free(&whole.sig);
    free(raw);
    free(txt);
}

/* All positive vectors, plus Bedrock-shaped events ending in the vercel
 * exception, back to back in one stream: every chunking agrees. */
static uint8_t *positive_stream(size_t *ret_len, int *ret_count)
{
    static const char *const dirs[][2] = {
        { "aws-sdk-go-testdata/encoded/positive", "" },
        { "botocore-vectors/positive", ".bin" },
    };
    struct es_header h[3] = {
        es_header_string(":message-type", "event"),
        es_header_string(":event-type", "contentBlockDelta"),
        es_header_string(":content-type", "application/json"),
    };
    const char *delta = "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"},"
                        "\"p\":\"abcd\"}";
    struct buf all;
    size_t tlen, len;
    char *txt;
    uint8_t *raw;

    buf_init(&all, 1u << 20);
    *ret_count = 0;
    for (size_t d = 0; d < 2; d++) {
        char rel[256], names[MAX_NAMES][MAX_NAMES];
        int n;

        snprintf(rel, sizeof(rel), "eventstream/%s", dirs[d][0]);
        n = list_dir(rel, dirs[d][1], names, MAX_NAMES);
        for (int i = 0; i < n; i++) {
            char *p = read_vector(dirs[d][0], names[i], dirs[d][1], &len);

            if (p == NULL || buf_add(&all, p, len) < 0)
                abort();
            free(p);
            ++*ret_count;
        }
    }
    for (int i = 0; i < 3; i++, ++*ret_count)
        if (es_encode(&all, h, 3, delta, strlen(delta)) < 0)
            abort();
    txt = test_read_file(conformance_path(
        "eventstream/vercel-ai-synthetic/"
        "model-stream-error-exception.eventstream.base64.txt"), &tlen);
    raw = txt ? b64_decode(txt, tlen, &len) : NULL;
    if (raw == NULL || buf_add(&all, raw, len) < 0)
        abort();
    ++*ret_count;
    free(raw);
    free(txt);
    return (uint8_t *)buf_steal(&all, ret_len);
}

TEST(es_reader_every_chunking)
{
    int count;
    size_t n;
    uint8_t *all = positive_stream(&n, &count);
    struct msgs whole, s;

    ASSERT_EQ(count, 18);
    msgs_init(&whole);
    ASSERT_EQ(read_all(all, n, n, 0, ES_MAX_MESSAGE, &whole), 0);
    ASSERT_EQ(whole.count, count);
    for (size_t chunk = 1; chunk < 40; chunk++) {
        msgs_init(&s);
        ASSERT_EQ(read_all(all, n, 0, chunk, ES_MAX_MESSAGE, &s), 0);
        ASSERT_STR_EQ(sig(&s), sig(&whole));
        buf_free(&s.sig);
    }
    for (size_t k = 0; k <= n; k++) {
        msgs_init(&s);
        ASSERT_EQ(read_all(all, n, k, 0, ES_MAX_MESSAGE, &s), 0);
        ASSERT_STR_EQ(sig(&s), sig(&whole));
        buf_free(&s.sig);
    }
    buf_free(&whole.sig);
    free(all);
}

TEST(es_reader_truncated_and_stop)
{
    int count;
    size_t n;
    uint8_t *all = positive_stream(&n, &count);
    struct msgs s;

    for (size_t cut = 1; cut < 40; cut++) {
        msgs_init(&s);
        ASSERT_EQ(read_all(all, n - cut, n - cut, 0, ES_MAX_MESSAGE, &s),
                  ES_ETRUNCATED);
        ASSERT_EQ(s.count, count - 1);
        buf_free(&s.sig);
    }
    for (size_t chunk = 0; chunk < 3; chunk++) {
        msgs_init(&s);
        s.stop_at = 4;
        ASSERT_EQ(read_all(all, n, n, chunk, ES_MAX_MESSAGE, &s), 5);
        ASSERT_EQ(s.count, 4);
        buf_free(&s.sig);
    }
    free(all);
}

TEST(es_reader_cap)
{
    struct es_header h = es_header_string("k", "v");
    char payload[200] = { 0 };
    struct es_reader r;
    struct buf out;
    struct msgs s;

    buf_init(&out, 4096);
    ASSERT_EQ(es_encode(&out, &h, 1, payload, 100), 0);     /* 122 bytes */
    ASSERT_EQ(out.len, 122);
    msgs_init(&s);
    ASSERT_EQ(read_all(out.p, out.len, out.len, 0, 122, &s), 0);
    ASSERT_EQ(read_all(out.p, out.len, 0, 1, 122, &s), 0);
    ASSERT_EQ(s.count, 2);
    ASSERT_EQ(read_all(out.p, out.len, out.len, 0, 121, &s), ES_ELENGTH);
    ASSERT_EQ(read_all(out.p, out.len, 0, 1, 121, &s), ES_ELENGTH);
    /* The length is refused from the prelude: nothing past it is kept. */
    es_reader_init(&r, 121);
    ASSERT_EQ(es_reader_feed(&r, out.p, 11, collect, &s), 0);
    ASSERT_EQ(es_reader_feed(&r, out.p + 11, 50, collect, &s), ES_ELENGTH);
    ASSERT(r.buf.len <= 12);
    es_reader_free(&r);
    ASSERT_EQ(s.count, 2);
    buf_free(&s.sig);
    buf_free(&out);
}

/* --- limits and malformed messages ------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Frames raw header bytes and a payload with correct lengths and CRCs. */
static size_t frame(uint8_t *out, const void *hdrs, size_t hlen,
                    const void *payload, size_t plen)
{
    size_t total = 16 + hlen + plen;

    put32(out, (uint32_t)total);
    put32(out + 4, (uint32_t)hlen);
    put32(out + 8, (uint32_t)crc32(0, out, 8));
    memcpy(out + 12, hdrs, hlen);
    memcpy(out + 12 + hlen, payload, plen);
    put32(out + total - 4, (uint32_t)crc32(0, out, (uInt)(total - 4)));
    return total;
}

static int decode_raw(const void *hdrs, size_t hlen)
{
    uint8_t msg[512];
    struct es_message m;
    size_t used, n = frame(msg, hdrs, hlen, "x", 1);
    int rc = es_decode(msg, n, &m, &used);

    return rc == 0 && used != n ? -1 : rc;
}

TEST(es_bad_headers)
{
    /* Each is framed with good CRCs, so only the header is at fault. */
    ASSERT_EQ(decode_raw("\x01" "a\x07\x00\x01" "b", 6), 0);
    ASSERT_EQ(decode_raw("\x00\x07\x00\x01" "b", 5), ES_EHEADER);
    ASSERT_EQ(decode_raw("\x05" "ab", 3), ES_EHEADER);       /* name past end */
    ASSERT_EQ(decode_raw("\x01" "a", 2), ES_EHEADER);        /* no type */
    ASSERT_EQ(decode_raw("\x01" "a\x0a", 3), ES_EHEADER);    /* type 10 */
    ASSERT_EQ(decode_raw("\x01" "a\xff", 3), ES_EHEADER);
    ASSERT_EQ(decode_raw("\x01" "a\x04\x00\x00\x00", 6), ES_EHEADER);
    ASSERT_EQ(decode_raw("\x01" "a\x07\x00", 4), ES_EHEADER);
    ASSERT_EQ(decode_raw("\x01" "a\x07\x00\x05" "bcd", 8), ES_EHEADER);
    ASSERT_EQ(decode_raw("\x01" "a\x06\x00\x02" "b", 6), ES_EHEADER);
    ASSERT_EQ(decode_raw("\x01" "a\x09" "0123456789abcde", 18), ES_EHEADER);
    ASSERT_EQ(decode_raw("\x01" "a\x05\x00\x00\x00\x00\x00\x00\x00", 10),
              ES_EHEADER);
    ASSERT_EQ(decode_raw("\x01" "a\x00\x01" "a\x01", 6), ES_EDUPHEADER);
    ASSERT_EQ(decode_raw("\x01" "a\x00\x01" "A\x01", 6), 0);  /* exact */
}

TEST(es_bad_lengths)
{
    uint8_t msg[64];
    struct es_message m;
    size_t used;

    /* total < 16 with a valid prelude CRC */
    for (uint32_t total = 0; total < 16; total++) {
        memset(msg, 0, sizeof(msg));
        put32(msg, total);
        put32(msg + 8, (uint32_t)crc32(0, msg, 8));
        ASSERT_EQ(es_decode(msg, sizeof(msg), &m, &used), ES_ELENGTH);
    }
    /* headers longer than the message allows */
    put32(msg, 20);
    put32(msg + 4, 5);
    put32(msg + 8, (uint32_t)crc32(0, msg, 8));
    ASSERT_EQ(es_decode(msg, 12, &m, &used), ES_EHEADERSLEN);
    put32(msg + 4, 4);
    put32(msg + 8, (uint32_t)crc32(0, msg, 8));
    ASSERT_EQ(es_decode(msg, 12, &m, &used), 0);    /* valid, incomplete */
    ASSERT_EQ(used, 0);
    /* headers over the SDKs' 128 KiB, in an otherwise possible message */
    put32(msg, 16 + ES_MAX_HEADERS_LEN + 1);
    put32(msg + 4, ES_MAX_HEADERS_LEN + 1);
    put32(msg + 8, (uint32_t)crc32(0, msg, 8));
    ASSERT_EQ(es_decode(msg, 12, &m, &used), ES_EHEADERSLEN);
    /* less than a prelude: wait, whatever the bytes */
    ASSERT_EQ(es_decode((const uint8_t *)"\xff\xff\xff\xff", 4, &m, &used), 0);
    ASSERT_EQ(used, 0);
    ASSERT_EQ(es_decode(msg, 0, &m, &used), 0);
    ASSERT_EQ(used, 0);
}

TEST(es_incomplete_message)
{
    struct es_header h = es_header_string("content-type", "text/plain");
    struct es_message m;
    struct buf out;
    size_t used;

    buf_init(&out, 4096);
    ASSERT_EQ(es_encode(&out, &h, 1, "hello", 5), 0);
    for (size_t n = 0; n < out.len; n++) {
        ASSERT_EQ(es_decode((const uint8_t *)out.p, n, &m, &used), 0);
        ASSERT_EQ(used, 0);
    }
    /* Trailing bytes of a next message are left for the next call. */
    ASSERT_EQ(buf_add(&out, "\0\0", 2), 0);
    ASSERT_EQ(es_decode((const uint8_t *)out.p, out.len, &m, &used), 0);
    ASSERT_EQ(used, out.len - 2);
    buf_free(&out);
}

TEST(es_header_limit)
{
    struct es_header h[ES_MAX_HEADERS + 1];
    char names[ES_MAX_HEADERS + 1][4];
    struct es_message m;
    struct buf out;
    size_t used;

    for (int i = 0; i <= ES_MAX_HEADERS; i++) {
        snprintf(names[i], sizeof(names[i]), "h%d", i);
        h[i] = (struct es_header){ .name = names[i],
                                   .name_len = strlen(names[i]),
                                   .type = ES_BOOL_TRUE, .num = 1 };
    }
    buf_init(&out, 1u << 16);
    ASSERT_EQ(es_encode(&out, h, ES_MAX_HEADERS, NULL, 0), 0);
    ASSERT_EQ(es_decode((const uint8_t *)out.p, out.len, &m, &used), 0);
    ASSERT_EQ(m.nheaders, ES_MAX_HEADERS);
    ASSERT(es_header_get(&m, "h63") == &m.headers[63]);
    buf_reset(&out);
    ASSERT_EQ(es_encode(&out, h, ES_MAX_HEADERS + 1, NULL, 0), 0);
    ASSERT_EQ(es_decode((const uint8_t *)out.p, out.len, &m, &used),
              ES_ETOOMANY);
    buf_free(&out);
}

/* --- encoder ----------------------------------------------------------- */

TEST(es_encode_round_trip)
{
    static const char uuid[16] = "0123456789abcdef";
    static const char bin[] = { 0, 1, 2, (char)0xff };
    struct es_header h[] = {
        { .name = "t", .name_len = 1, .type = ES_BOOL_TRUE, .num = 1 },
        { .name = "f", .name_len = 1, .type = ES_BOOL_FALSE },
        { .name = "i8", .name_len = 2, .type = ES_BYTE, .num = -128 },
        { .name = "i16", .name_len = 3, .type = ES_INT16, .num = -32768 },
        { .name = "i32", .name_len = 3, .type = ES_INT32, .num = INT32_MIN },
        { .name = "i64", .name_len = 3, .type = ES_INT64, .num = INT64_MIN },
        { .name = "bin", .name_len = 3, .type = ES_BYTES, .val = bin,
          .val_len = 4 },
        { .name = "empty", .name_len = 5, .type = ES_STRING, .val = "",
          .val_len = 0 },
        { .name = "ts", .name_len = 2, .type = ES_TIMESTAMP,
          .num = 1700000000123 },
        { .name = "id", .name_len = 2, .type = ES_UUID, .val = uuid,
          .val_len = 16 },
        es_header_string(":event-type", "chunk"),
    };
    size_t nh = sizeof(h) / sizeof(h[0]), used;
    const char payload[] = "{\"bytes\":\"\0binary\"}";
    struct es_message m;
    struct buf out;

    buf_init(&out, 4096);
    ASSERT_EQ(buf_adds(&out, "prefix"), 0);     /* appends, never resets */
    ASSERT_EQ(es_encode(&out, h, nh, payload, sizeof(payload)), 0);
    ASSERT_MEM_EQ(out.p, "prefix", 6);
    ASSERT_EQ(es_decode((const uint8_t *)out.p + 6, out.len - 6, &m, &used),
              0);
    ASSERT_EQ(used, out.len - 6);
    ASSERT_EQ(m.nheaders, nh);
    for (size_t i = 0; i < nh; i++) {
        ASSERT_EQ(m.headers[i].name_len, h[i].name_len);
        ASSERT_MEM_EQ(m.headers[i].name, h[i].name, h[i].name_len);
        ASSERT_EQ(m.headers[i].type, h[i].type);
        ASSERT_EQ(m.headers[i].num, h[i].num);
        ASSERT_EQ(m.headers[i].val_len, h[i].val_len);
        if (h[i].val_len)
            ASSERT_MEM_EQ(m.headers[i].val, h[i].val, h[i].val_len);
    }
    ASSERT_EQ(m.payload_len, sizeof(payload));
    ASSERT_MEM_EQ(m.payload, payload, sizeof(payload));
    ASSERT(es_header_get(&m, ":event-type") == &m.headers[nh - 1]);
    ASSERT(es_header_get(&m, ":event") == NULL);
    ASSERT(es_header_get(&m, "") == NULL);
    buf_free(&out);
}

/* Bytes the encoder must produce exactly: botocore's own frames. */
TEST(es_encode_matches_botocore_bytes)
{
    struct es_header all[10];
    struct buf out;
    size_t len;
    char *want = read_vector("botocore-vectors/positive", "all_headers_types",
                             ".bin", &len);
    static const char *names[] = { "0", "1", "2", "3", "4", "5", "6", "7",
                                   "8", "9" };

    ASSERT(want != NULL);
    for (int i = 0; i < 10; i++)
        all[i] = (struct es_header){ .name = names[i], .name_len = 1,
                                     .type = (enum es_type)i, .num = i };
    all[0].num = 1;
    all[1].num = 0;
    all[6].val = "bytes";
    all[6].val_len = 5;
    all[7].val = "utf8";
    all[7].val_len = 4;
    all[9].val = "0123456789abcdef";
    all[9].val_len = 16;
    buf_init(&out, 4096);
    ASSERT_EQ(es_encode(&out, all, 10, NULL, 0), 0);
    ASSERT_EQ(out.len, len);
    ASSERT_MEM_EQ(out.p, want, len);
    free(want);

    want = read_vector("botocore-vectors/positive", "error_event_message",
                       ".bin", &len);
    ASSERT(want != NULL);
    all[0] = es_header_string(":message-type", "error");
    all[1] = es_header_string(":error-code", "code");
    all[2] = es_header_string(":error-message", "message");
    buf_reset(&out);
    ASSERT_EQ(es_encode(&out, all, 3, "", 0), 0);
    ASSERT_EQ(out.len, len);
    ASSERT_MEM_EQ(out.p, want, len);
    free(want);
    buf_free(&out);
}

TEST(es_encode_errors)
{
    static char big[65536];
    char name[257];
    struct es_header h = es_header_string("k", "v");
    struct buf out;

    memset(name, 'n', sizeof(name));
    buf_init(&out, 64);
    ASSERT_EQ(buf_adds(&out, "keep"), 0);
    h.name_len = 0;
    ASSERT_EQ(es_encode(&out, &h, 1, NULL, 0), ES_EHEADER);
    h.name = name;
    h.name_len = 256;
    ASSERT_EQ(es_encode(&out, &h, 1, NULL, 0), ES_EHEADER);
    h = es_header_string("k", "v");
    h.val = big;
    h.val_len = sizeof(big);
    ASSERT_EQ(es_encode(&out, &h, 1, NULL, 0), ES_EHEADER);
    h = (struct es_header){ .name = "u", .name_len = 1, .type = ES_UUID,
                            .val = big, .val_len = 15 };
    ASSERT_EQ(es_encode(&out, &h, 1, NULL, 0), ES_EHEADER);
    h.type = (enum es_type)10;
    ASSERT_EQ(es_encode(&out, &h, 1, NULL, 0), ES_EHEADER);
    /* Over the buf's cap: refused before anything is written. */
    h = es_header_string("k", "v");
    ASSERT_EQ(es_encode(&out, &h, 1, big, 60), LLMUX_ETOOBIG);
    ASSERT_EQ(out.len, 4);
    ASSERT_STR_EQ(out.p, "keep");
    ASSERT_EQ(es_encode(&out, &h, 1, big, 64 - 4 - 16 - 6), 0);
    ASSERT_EQ(out.len, 64);
    buf_free(&out);
}

TEST(es_strerror_texts)
{
    ASSERT_STR_EQ(es_strerror(ES_EPRELUDECRC), "Prelude checksum mismatch");
    ASSERT_STR_EQ(es_strerror(ES_EMESSAGECRC), "Message checksum mismatch");
    ASSERT_STR_EQ(es_strerror(ES_EDUPHEADER), "Duplicate header");
    ASSERT_STR_EQ(es_strerror(0), "Unknown event-stream error");
    ASSERT_STR_EQ(es_strerror(LLMUX_ETOOBIG), "Unknown event-stream error");
}

/* Corrupt streams in any chunking give the same messages and result. */
TEST(es_garbage_chunking_invariant)
{
    int count;
    size_t n;
    uint8_t *all = positive_stream(&n, &count);
    uint8_t *bad = malloc(n);
    unsigned seed = 4242;

    ASSERT(bad != NULL);
    for (int round = 0; round < 400; round++) {
        struct msgs a, b, c;
        int ra, rb, rc;

        memcpy(bad, all, n);
        for (int k = 0; k <= round % 3; k++) {
            seed = seed * 1103515245u + 12345u;
            bad[(seed >> 8) % n] ^= (uint8_t)(1u << ((seed >> 4) % 8));
        }
        msgs_init(&a);
        msgs_init(&b);
        msgs_init(&c);
        ra = read_all(bad, n, n, 0, 1024, &a);
        rb = read_all(bad, n, 0, 1, 1024, &b);
        rc = read_all(bad, n, 0, (size_t)round % 29 + 2, 1024, &c);
        ASSERT_EQ(ra, rb);
        ASSERT_EQ(ra, rc);
        ASSERT(ra != 0 || a.count == count);
        ASSERT_STR_EQ(sig(&a), sig(&b));
        ASSERT_STR_EQ(sig(&a), sig(&c));
        buf_free(&a.sig);
        buf_free(&b.sig);
        buf_free(&c.sig);
    }
    free(bad);
    free(all);
}
