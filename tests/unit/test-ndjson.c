/* test-ndjson.c -- unit tests of the NDJSON framing (daemon/ndjson.c).
 * Blank lines, CRLF, caps and stop values, then Ollama's recorded
 * streams fed whole, byte by byte and split at every point. */
#include "test.h"
#include "ndjson.h"
#include "llmux-errno.h"

#include <jansson.h>

#define BIG (1u << 20)

/* Every line, followed by '\n', so one string compare checks all. */
struct lines {
    struct buf out;
    int        count;
    int        stop_at;     /* return 9 from this line on; 0 = never */
    int        bad;         /* not NUL-terminated, or holds a '\n' */
    int        json_bad;
};

static void lines_init(struct lines *l)
{
    memset(l, 0, sizeof(*l));
    buf_init(&l->out, 16u << 20);
}

static int collect(void *ud, const char *line, size_t len)
{
    struct lines *l = ud;
    json_error_t err;
    json_t *j;

    if (line[len] != '\0' || memchr(line, '\n', len) != NULL || len == 0)
        l->bad = 1;
    if ((j = json_loadb(line, len, 0, &err)) == NULL)
        l->json_bad++;
    json_decref(j);
    l->count++;
    if (buf_add(&l->out, line, len) < 0 || buf_add(&l->out, "\n", 1) < 0)
        return -1;
    return l->stop_at && l->count >= l->stop_at ? 9 : 0;
}

static const char *got(struct lines *l)
{
    return l->out.len ? l->out.p : "";
}

/* Feeds p split at 'split', then in chunks of 'chunk' (0 = one piece). */
static int run(const char *p, size_t n, size_t split, size_t chunk,
               size_t max, struct lines *l)
{
    struct ndjson nj;
    int r = 0;

    ndjson_init(&nj, max);
    if (chunk) {
        for (size_t i = 0; i < n && r == 0; i += chunk)
            r = ndjson_feed(&nj, p + i, n - i < chunk ? n - i : chunk,
                            collect, l);
    } else {
        r = ndjson_feed(&nj, p, split, collect, l);
        if (r == 0)
            r = ndjson_feed(&nj, p + split, n - split, collect, l);
    }
    if (r == 0)
        r = ndjson_end(&nj, collect, l);
    ndjson_free(&nj);
    return r;
}

/* 'in' whole, byte by byte and at every split gives 'want' and 0. */
static int check(const char *in, const char *want)
{
    size_t n = strlen(in);
    int ok = 1;

    for (size_t k = 0; ok && k <= n + 1; k++) {
        struct lines l;

        lines_init(&l);
        ok = (k <= n ? run(in, n, k, 0, BIG, &l)
                     : run(in, n, 0, 1, BIG, &l)) == 0 &&
             strcmp(got(&l), want) == 0 && !l.bad;
        if (!ok)
            fprintf(stderr, "  split %zu: got \"%s\"\n", k, got(&l));
        buf_free(&l.out);
    }
    return ok;
}

TEST(ndjson_lines)
{
    ASSERT(check("{\"a\":1}\n{\"b\":2}\n", "{\"a\":1}\n{\"b\":2}\n"));
    ASSERT(check("{\"a\":1}", "{\"a\":1}\n"));      /* no final newline */
    ASSERT(check("", ""));
}

TEST(ndjson_blank_lines)
{
    ASSERT(check("\n\n{\"a\":1}\n  \n\r\n\t\r\n{\"b\":2}\n\n",
                 "{\"a\":1}\n{\"b\":2}\n"));
    ASSERT(check("\n \r\n", ""));
}

TEST(ndjson_crlf)
{
    const char *in = "{\"a\":1}\r\n{\"b\":\"x\\r\"}\r\n{\"c\":3}\r";
    const char *pieces[][2] = {
        { "{\"a\":1}\r", "\n{\"b\":2}\r\n" },
        { "{\"a\":1}", "\r\n{\"b\":2}\r\n" },
    };

    ASSERT(check(in, "{\"a\":1}\n{\"b\":\"x\\r\"}\n{\"c\":3}\n"));
    for (size_t i = 0; i < 2; i++) {
        struct ndjson nj;
        struct lines l;

        lines_init(&l);
        ndjson_init(&nj, BIG);
        ASSERT_EQ(ndjson_feed(&nj, pieces[i][0], strlen(pieces[i][0]),
                              collect, &l), 0);
        ASSERT_EQ(ndjson_feed(&nj, pieces[i][1], strlen(pieces[i][1]),
                              collect, &l), 0);
        ASSERT_EQ(ndjson_end(&nj, collect, &l), 0);
        ASSERT_STR_EQ(got(&l), "{\"a\":1}\n{\"b\":2}\n");
        ndjson_free(&nj);
        buf_free(&l.out);
    }
}

TEST(ndjson_line_cap)
{
    /* The cap counts the line without "\n" or "\r\n". */
    static const char *ok[] = { "[1234567]\n", "[1234567]\r\n", "[1234567]" };
    static const char *bad[] = { "[12345678]\n", "[12345678]\r\n",
                                 "[12345678]", "[123456789]" };
    struct lines l;

    for (size_t chunk = 0; chunk < 12; chunk++) {
        for (size_t i = 0; i < 3; i++) {
            lines_init(&l);
            ASSERT_EQ(run(ok[i], strlen(ok[i]), strlen(ok[i]), chunk, 9, &l),
                      0);
            ASSERT_STR_EQ(got(&l), "[1234567]\n");
            buf_free(&l.out);
        }
        for (size_t i = 0; i < 4; i++) {
            lines_init(&l);
            ASSERT_EQ(run(bad[i], strlen(bad[i]), strlen(bad[i]), chunk, 9,
                          &l), LLMUX_ETOOBIG);
            ASSERT_EQ(l.count, 0);
            buf_free(&l.out);
        }
    }
}

TEST(ndjson_stop_value)
{
    const char *in = "1\n2\n3\n";
    struct lines l;

    for (size_t chunk = 0; chunk < 3; chunk++) {
        lines_init(&l);
        l.stop_at = 2;
        ASSERT_EQ(run(in, strlen(in), strlen(in), chunk, BIG, &l), 9);
        ASSERT_EQ(l.count, 2);
        buf_free(&l.out);
    }
    lines_init(&l);         /* the value also comes back from ndjson_end */
    l.stop_at = 1;
    ASSERT_EQ(run("7", 1, 1, 0, BIG, &l), 9);
    ASSERT_EQ(l.count, 1);
    buf_free(&l.out);
}

TEST(ndjson_ollama_streams)
{
    static const struct { const char *file; int count; } files[] = {
        { "providers/ollama/generate_stream.docs.ndjson", 7 },
        { "providers/ollama/generate_stream_midstream_error.docs.ndjson", 5 },
        { "providers/ollama/chat_stream_tools.derived.ndjson", 2 },
    };

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        size_t n;
        char *in = test_read_file(conformance_path(files[i].file), &n);
        struct lines whole, l;

        ASSERT(in != NULL);
        lines_init(&whole);
        ASSERT_EQ(run(in, n, n, 0, BIG, &whole), 0);
        ASSERT_EQ(whole.count, files[i].count);
        ASSERT_EQ(whole.json_bad, 0);
        ASSERT(!whole.bad);
        for (size_t k = 0; k <= n + 1; k++) {
            lines_init(&l);
            if (k <= n)
                ASSERT_EQ(run(in, n, k, 0, BIG, &l), 0);
            else
                ASSERT_EQ(run(in, n, 0, 1, BIG, &l), 0);   /* bytewise */
            ASSERT_STR_EQ(got(&l), got(&whole));
            buf_free(&l.out);
        }
        /* The mid-stream error arrives as an ordinary last line. */
        if (strstr(files[i].file, "midstream"))
            ASSERT(strstr(got(&whole), "\n{\"error\":") != NULL);
        buf_free(&whole.out);
        free(in);
    }
}

/* Garbage in any chunking gives the same lines and the same result. */
TEST(ndjson_garbage_chunking_invariant)
{
    static const char alphabet[] = "{}\"a:1 \r\n\n\t";
    unsigned seed = 777;
    char in[256];

    for (int round = 0; round < 300; round++) {
        struct lines a, b;
        size_t n = (size_t)(round % 200) + 1;
        int ra, rb;

        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = round % 2 ? (char)(seed >> 16)
                              : alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        lines_init(&a);
        lines_init(&b);
        ra = run(in, n, n, 0, 16, &a);
        rb = run(in, n, 0, 1, 16, &b);
        ASSERT_EQ(ra, rb);
        ASSERT(ra == 0 || ra == LLMUX_ETOOBIG);
        ASSERT_EQ(a.count, b.count);
        ASSERT_EQ(a.out.len, b.out.len);
        ASSERT_MEM_EQ(got(&a), got(&b), a.out.len);
        ASSERT(!a.bad && !b.bad);
        buf_free(&a.out);
        buf_free(&b.out);
    }
}
