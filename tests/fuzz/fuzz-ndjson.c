/* fuzz-ndjson.c -- libFuzzer target: NDJSON line framing (daemon/ndjson.c).
 * Input: a piece-size byte, a cap byte, then the stream. Parsed whole and
 * in pieces; both must deliver the same lines and the same return code.
 * Every line must be NUL-terminated, free of '\n', and not blank. */
#include "fuzz.h"
#include "llmux-errno.h"
#include "ndjson.h"

#include <string.h>

struct seen {
    uint64_t hash;
    size_t   n;
};

static int on_line(void *ud, const char *line, size_t len)
{
    struct seen *s = ud;
    int blank = 1;

    FUZZ_ASSERT(line[len] == '\0');
    FUZZ_ASSERT(memchr(line, '\n', len) == NULL);
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            blank = 0;
    FUZZ_ASSERT(!blank);
    s->hash = fuzz_hash(s->hash, line, len + 1);
    s->n++;
    return len == 4 && memcmp(line, "stop", 4) == 0 ? 7 : 0;
}

static int run(const char *p, size_t n, size_t piece, size_t cap,
               struct seen *s)
{
    struct ndjson nd;
    size_t off = 0, k;
    int r = 0;

    ndjson_init(&nd, cap);
    while (r == 0 && off < n) {
        k = piece == 0 || piece > n - off ? n - off : piece;
        char *c = malloc(k);
        if (c == NULL)
            abort();
        memcpy(c, p + off, k);
        r = ndjson_feed(&nd, c, k, on_line, s);
        free(c);
        off += k;
    }
    if (r == 0)
        r = ndjson_end(&nd, on_line, s);
    ndjson_free(&nd);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen whole = { 0, 0 }, split = { 0, 0 };
    size_t cap;
    int rw, rs;

    if (size < 2)
        return 0;
    cap = data[1] < 32 ? (size_t)data[1] + 1 : 4u * 1024 * 1024;
    rw = run((const char *)data + 2, size - 2, 0, cap, &whole);
    rs = run((const char *)data + 2, size - 2, fuzz_piece(data[0]), cap,
             &split);
    FUZZ_ASSERT(rw == 0 || rw == 7 || rw == LLMUX_ETOOBIG);
    FUZZ_ASSERT(rw == rs);
    FUZZ_ASSERT(whole.n == split.n && whole.hash == split.hash);
    return 0;
}
