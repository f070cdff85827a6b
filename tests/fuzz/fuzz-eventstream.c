/* fuzz-eventstream.c -- libFuzzer target: the AWS event-stream reader
 * (daemon/eventstream.c, es_reader_feed/es_reader_end).
 * Input: a piece-size byte, then the stream. Read whole and in pieces;
 * both must decode the same messages (headers and payloads) and end with
 * the same code. Each message must lie inside the bytes it came from. */
#include "eventstream.h"
#include "fuzz.h"

#include <string.h>

struct seen {
    uint64_t hash;
    size_t   n;
};

static int on_message(void *ud, const struct es_message *m)
{
    struct seen *s = ud;

    FUZZ_ASSERT(m->nheaders <= ES_MAX_HEADERS);
    FUZZ_ASSERT(m->total_len >= ES_MIN_MESSAGE);
    FUZZ_ASSERT(m->payload_len <= m->total_len);
    for (size_t i = 0; i < m->nheaders; i++) {
        const struct es_header *h = &m->headers[i];

        FUZZ_ASSERT(h->name_len >= 1 && h->name_len <= 255);
        s->hash = fuzz_hash(s->hash, h->name, h->name_len);
        s->hash = fuzz_hash(s->hash, &h->type, sizeof(h->type));
        if (h->val)
            s->hash = fuzz_hash(s->hash, h->val, h->val_len);
        else
            s->hash = fuzz_hash(s->hash, &h->num, sizeof(h->num));
    }
    s->hash = fuzz_hash(s->hash, m->payload, m->payload_len);
    (void)es_header_get(m, ":event-type");
    s->n++;
    return 0;
}

static int run(const uint8_t *p, size_t n, size_t piece, struct seen *s)
{
    struct es_reader rd;
    size_t off = 0, k;
    int r = 0;

    es_reader_init(&rd, 1u << 20);
    while (r == 0 && off < n) {
        k = piece == 0 || piece > n - off ? n - off : piece;
        uint8_t *c = malloc(k);
        if (c == NULL)
            abort();
        memcpy(c, p + off, k);
        r = es_reader_feed(&rd, c, k, on_message, s);
        free(c);
        off += k;
    }
    if (r == 0)
        r = es_reader_end(&rd);
    es_reader_free(&rd);
    (void)es_strerror(r);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen whole = { 0, 0 }, split = { 0, 0 };
    int rw, rs;

    if (size < 1)
        return 0;
    rw = run(data + 1, size - 1, 0, &whole);
    rs = run(data + 1, size - 1, fuzz_piece(data[0]), &split);
    FUZZ_ASSERT(rw == rs);
    FUZZ_ASSERT(whole.n == split.n && whole.hash == split.hash);
    return 0;
}
