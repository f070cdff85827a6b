/* test-sse.c -- unit tests of the SSE parser (daemon/sse.c).
 * Line endings, field rules, caps and stop values on small inputs, then
 * every recorded provider stream fed whole, byte by byte and split at
 * every point, which must all give the same events. */
#include "test.h"
#include "sse.h"
#include "llmux-errno.h"

#include <jansson.h>

#define BIG (1u << 20)

/* Every event, as "event|data|id\n", so one string compare checks all. */
struct coll {
    struct buf out;
    int        count;
    int        stop_at;     /* return 7 from this event on; 0 = never */
    int        bad;         /* an event string was not NUL-terminated */
};

static void coll_init(struct coll *c)
{
    buf_init(&c->out, 16u << 20);
    c->count = c->stop_at = c->bad = 0;
}

static int collect(void *ud, const struct sse_event *ev)
{
    struct coll *c = ud;

    if (ev->event[ev->event_len] || ev->data[ev->data_len] ||
        ev->id[ev->id_len])
        c->bad = 1;
    c->count++;
    if (buf_add(&c->out, ev->event, ev->event_len) < 0 ||
        buf_add(&c->out, "|", 1) < 0 ||
        buf_add(&c->out, ev->data, ev->data_len) < 0 ||
        buf_add(&c->out, "|", 1) < 0 ||
        buf_add(&c->out, ev->id, ev->id_len) < 0 ||
        buf_add(&c->out, "\n", 1) < 0)
        return -1;
    return c->stop_at && c->count >= c->stop_at ? 7 : 0;
}

static const char *got(struct coll *c)
{
    return c->out.len ? c->out.p : "";
}

/* Feeds p in chunks of 'chunk' bytes (0 = whole), then ends the stream. */
static int run_chunks(const char *p, size_t n, size_t chunk, size_t max,
                      struct coll *c)
{
    struct sse s;
    int r = 0;

    sse_init(&s, max);
    if (chunk == 0)
        chunk = n ? n : 1;
    for (size_t i = 0; i < n && r == 0; i += chunk)
        r = sse_feed(&s, p + i, n - i < chunk ? n - i : chunk, collect, c);
    if (r == 0)
        r = sse_end(&s, collect, c);
    sse_free(&s);
    return r;
}

/* Feeds the pieces given (NULL-terminated), then ends the stream. */
static int run_pieces(const char *const *pieces, size_t max, struct coll *c)
{
    struct sse s;
    int r = 0;

    sse_init(&s, max);
    for (; *pieces && r == 0; pieces++)
        r = sse_feed(&s, *pieces, strlen(*pieces), collect, c);
    if (r == 0)
        r = sse_end(&s, collect, c);
    sse_free(&s);
    return r;
}

/* Parses 'in' whole, byte by byte and split at every point; all must give
 * 'want' and return 0. */
static int check(const char *in, const char *want)
{
    size_t n = strlen(in);
    struct coll c;
    int ok;

    coll_init(&c);
    ok = run_chunks(in, n, 0, BIG, &c) == 0 && strcmp(got(&c), want) == 0;
    buf_free(&c.out);
    if (!ok)
        return 0;
    coll_init(&c);
    ok = run_chunks(in, n, 1, BIG, &c) == 0 && strcmp(got(&c), want) == 0;
    buf_free(&c.out);
    for (size_t k = 0; ok && k <= n; k++) {
        const char *a = strndup(in, k), *pieces[] = { a, in + k, NULL };

        coll_init(&c);
        ok = run_pieces(pieces, BIG, &c) == 0 && strcmp(got(&c), want) == 0
             && !c.bad;
        if (!ok)
            fprintf(stderr, "  split at %zu: got \"%s\"\n", k, got(&c));
        buf_free(&c.out);
        free((void *)a);
    }
    return ok;
}

TEST(sse_lf)
{
    ASSERT(check("data: a\n\ndata: b\n\n", "|a|\n|b|\n"));
}

TEST(sse_crlf)
{
    ASSERT(check("event: x\r\ndata: a\r\n\r\ndata: b\r\n\r\n",
                 "x|a|\n|b|\n"));
}

TEST(sse_lone_cr)
{
    ASSERT(check("data: a\rdata: b\r\rdata: c\r\r", "|a\nb|\n|c|\n"));
}

TEST(sse_mixed_endings)
{
    ASSERT(check("data: a\r\ndata: b\rdata: c\n\r\n", "|a\nb\nc|\n"));
    /* LF CR is two endings, so a blank line between the two lines. */
    ASSERT(check("data: a\n\rdata: b\n\n", "|a|\n|b|\n"));
}

TEST(sse_cr_then_lf_next_feed)
{
    /* If the LF were a second ending, "a" would be dispatched alone. */
    const char *p1[] = { "data: a\r", "\ndata: b\r\n\r\n", NULL };
    const char *p2[] = { "data: a\r", "\n", "\n", NULL };
    const char *p3[] = { "data: a\r", "\r", NULL };
    const char *p4[] = { "data: a\r", "", "\n", "\r", "\n", NULL };
    struct coll c;

    coll_init(&c);
    ASSERT_EQ(run_pieces(p1, BIG, &c), 0);
    ASSERT_STR_EQ(got(&c), "|a\nb|\n");
    buf_free(&c.out);
    coll_init(&c);
    ASSERT_EQ(run_pieces(p2, BIG, &c), 0);
    ASSERT_STR_EQ(got(&c), "|a|\n");
    ASSERT_EQ(c.count, 1);
    buf_free(&c.out);
    coll_init(&c);
    ASSERT_EQ(run_pieces(p3, BIG, &c), 0);
    ASSERT_STR_EQ(got(&c), "|a|\n");
    buf_free(&c.out);
    coll_init(&c);          /* an empty feed must not forget the CR */
    ASSERT_EQ(run_pieces(p4, BIG, &c), 0);
    ASSERT_STR_EQ(got(&c), "|a|\n");
    ASSERT_EQ(c.count, 1);
    buf_free(&c.out);
}

TEST(sse_comments)
{
    ASSERT(check(": keep-alive\n\ndata: x\n: in the middle\ndata: y\n\n:\n\n",
                 "|x\ny|\n"));
    ASSERT(check(": OPENROUTER PROCESSING\r\n\r\n", ""));
}

TEST(sse_multiline_data)
{
    /* Only one space is stripped; "data" alone is an empty line of data. */
    ASSERT(check("data: a\ndata:\ndata:  b\ndata\ndata:c\n\n",
                 "|a\n\n b\n\nc|\n"));
    ASSERT(check("data\n\n", "||\n"));
    ASSERT(check("data:\n\ndata: \n\n", "||\n||\n"));
    ASSERT(check("data: a:b: c\n\n", "|a:b: c|\n"));
}

TEST(sse_event_types)
{
    ASSERT(check("event: message_start\ndata: {}\n\n"
                 "data: plain\n\n"
                 "event: a\nevent: b\ndata: 1\n\n",
                 "message_start|{}|\n|plain|\nb|1|\n"));
    /* An event: line alone is enough to dispatch (llmux's rule). */
    ASSERT(check("event: ping\n\n", "ping||\n"));
    ASSERT(check("event:\n\n", "||\n"));
    /* Blank lines with nothing pending dispatch nothing. */
    ASSERT(check("\n\n\r\n\r\r", ""));
    ASSERT(check("id: 1\n\nretry: 10\n\n", ""));
}

TEST(sse_done)
{
    ASSERT(check("data: {\"x\":1}\n\ndata: [DONE]\n\n",
                 "|{\"x\":1}|\n|[DONE]|\n"));
}

TEST(sse_unknown_fields)
{
    /* Field names are case-sensitive; unknown ones are ignored. */
    ASSERT(check("foo: bar\nData: x\nDATA: y\ndata : z\ndata: w\n\n",
                 "|w|\n"));
}

TEST(sse_id_and_retry)
{
    static const char nul_id[] = "id: a\0b\ndata: x\n\n";
    struct coll c;
    struct sse s;

    /* The last event ID persists across events (WHATWG). */
    ASSERT(check("id: 42\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
                 "|a|42\n|b|42\n|c|\n"));
    coll_init(&c);
    sse_init(&s, BIG);
    ASSERT_EQ(sse_feed(&s, "retry: 3000\n", 12, collect, &c), 0);
    ASSERT_EQ(s.retry, 3000);
    ASSERT_EQ(sse_feed(&s, "retry: 3x\nretry:\nretry: -1\n", 27, collect,
                       &c), 0);
    ASSERT_EQ(s.retry, 3000);
    ASSERT_EQ(sse_feed(&s, "retry:99999999999999999999999\n", 30, collect,
                       &c), 0);
    ASSERT_EQ(s.retry, 3000);
    /* An id containing NUL is ignored. */
    ASSERT_EQ(sse_feed(&s, "id: 7\n", 6, collect, &c), 0);
    ASSERT_EQ(sse_feed(&s, nul_id, sizeof(nul_id) - 1, collect, &c), 0);
    ASSERT_EQ(sse_end(&s, collect, &c), 0);
    ASSERT_STR_EQ(got(&c), "|x|7\n");
    sse_free(&s);
    buf_free(&c.out);
}

TEST(sse_bom)
{
    ASSERT(check("\xEF\xBB\xBF" "data: x\n\n", "|x|\n"));
    /* Only the first BOM of the stream is special. */
    ASSERT(check("\xEF\xBB\xBF\xEF\xBB\xBF" "data: x\n\ndata: y\n\n",
                 "|y|\n"));
    ASSERT(check("data: \xEF\xBB\xBFx\n\n", "|\xEF\xBB\xBFx|\n"));
}

TEST(sse_end_without_blank_line)
{
    ASSERT(check("data: a", "|a|\n"));
    ASSERT(check("data: a\n", "|a|\n"));
    ASSERT(check("data: a\r", "|a|\n"));
    ASSERT(check("data: a\r\n", "|a|\n"));
    ASSERT(check("event: e\ndata: a\ndata: b", "e|a\nb|\n"));
    ASSERT(check(": only a comment", ""));
    ASSERT(check("", ""));
}

TEST(sse_reuse_after_end)
{
    struct coll c;
    struct sse s;

    coll_init(&c);
    sse_init(&s, BIG);
    ASSERT_EQ(sse_feed(&s, "data: a\r", 8, collect, &c), 0);
    ASSERT_EQ(sse_end(&s, collect, &c), 0);
    /* A new stream: the pending CR is forgotten, so this LF is a (blank)
     * first line and the BOM after it is not stripped: no event. Had the
     * CR been kept, the LF would vanish and "b" would come out. */
    ASSERT_EQ(sse_feed(&s, "\n\xEF\xBB\xBF" "data: b\n\n", 13, collect, &c),
              0);
    ASSERT_EQ(sse_end(&s, collect, &c), 0);
    ASSERT_EQ(sse_end(&s, collect, &c), 0);
    /* And a third stream may start with its own BOM. */
    ASSERT_EQ(sse_feed(&s, "\xEF\xBB\xBF" "data: c\n\n", 12, collect, &c),
              0);
    ASSERT_EQ(sse_end(&s, collect, &c), 0);
    ASSERT_STR_EQ(got(&c), "|a|\n|c|\n");
    sse_free(&s);
    sse_free(&s);           /* freeing twice is harmless */
    buf_free(&c.out);
}

TEST(sse_line_cap)
{
    const char *exact = "data: 0123456789\n\n";         /* 16-byte line */
    const char *over = "data: 0123456789X\n\n";         /* 17 bytes */
    const char *split[] = { "data: 01234", "56789X\n\n", NULL };
    const char *partial[] = { "data: 01234", "56789XY", NULL };
    struct coll c;

    coll_init(&c);
    ASSERT_EQ(run_chunks(exact, strlen(exact), 0, 16, &c), 0);
    ASSERT_STR_EQ(got(&c), "|0123456789|\n");
    buf_free(&c.out);
    for (size_t chunk = 0; chunk < 20; chunk++) {
        coll_init(&c);
        ASSERT_EQ(run_chunks(exact, strlen(exact), chunk, 16, &c), 0);
        ASSERT_EQ(c.count, 1);
        buf_free(&c.out);
        coll_init(&c);
        ASSERT_EQ(run_chunks(over, strlen(over), chunk, 16, &c),
                  LLMUX_ETOOBIG);
        ASSERT_EQ(c.count, 0);
        buf_free(&c.out);
    }
    coll_init(&c);
    ASSERT_EQ(run_pieces(split, 16, &c), LLMUX_ETOOBIG);
    ASSERT_EQ(run_pieces(partial, 16, &c), LLMUX_ETOOBIG);
    /* A comment line is a line too. */
    ASSERT_EQ(run_chunks(": 0123456789ABCDEF\n", 19, 0, 16, &c),
              LLMUX_ETOOBIG);
    ASSERT_EQ(c.count, 0);
    buf_free(&c.out);
}

TEST(sse_data_cap)
{
    /* Lines within the cap whose joined data is over it. */
    const char *ok = "data: 01234567\ndata: 01234567\n\n";   /* 17 joined */
    const char *bad = "data: 0123456789\ndata: 0123456789\n\n";
    struct coll c;

    coll_init(&c);
    ASSERT_EQ(run_chunks(ok, strlen(ok), 0, 17, &c), 0);
    ASSERT_STR_EQ(got(&c), "|01234567\n01234567|\n");
    ASSERT_EQ(run_chunks(ok, strlen(ok), 0, 16, &c), LLMUX_ETOOBIG);
    ASSERT_EQ(run_chunks(bad, strlen(bad), 1, 16, &c), LLMUX_ETOOBIG);
    ASSERT_EQ(c.count, 1);
    buf_free(&c.out);
}

TEST(sse_stop_value)
{
    const char *in = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    const char *tail = "data: 1\n\ndata: 2";
    struct coll c;

    for (size_t chunk = 0; chunk < 4; chunk++) {
        coll_init(&c);
        c.stop_at = 2;
        ASSERT_EQ(run_chunks(in, strlen(in), chunk, BIG, &c), 7);
        ASSERT_EQ(c.count, 2);
        buf_free(&c.out);
    }
    coll_init(&c);          /* the value also comes back from sse_end */
    c.stop_at = 2;
    ASSERT_EQ(run_chunks(tail, strlen(tail), 0, BIG, &c), 7);
    ASSERT_STR_EQ(got(&c), "|1|\n|2|\n");
    buf_free(&c.out);
}

/* The recorded provider streams, with what an independent reference
 * parser found in them: event count, first and last event names. */
static const struct {
    const char *file;
    int         count;
    const char *first, *last;
} streams[] = {
    { "providers/openai/stream_text.sse",                  34, "", "" },
    { "providers/openai/stream_tool_call.sse",             11, "", "" },
    { "providers/openai/stream_parallel_tool_calls.sse",   26, "", "" },
    { "providers/openai/stream_n3_multiple_choices.sse",   50, "", "" },
    { "providers/anthropic/stream_text.sse",               15,
      "message_start", "message_stop" },
    { "providers/anthropic/stream_tool_use.sse",           16,
      "message_start", "message_stop" },
    { "providers/anthropic/stream_basic_sdk_fixture.sse",   9,
      "message_start", "message_stop" },
    { "providers/anthropic/stream_thinking_sdk_fixture.sse", 14,
      "message_start", "message_stop" },
    { "providers/anthropic/stream_error_overloaded_event.sse", 1,
      "error", "error" },
    { "providers/gemini/stream_text.sse",                   3, "", "" },
    { "providers/gemini/stream_function_call.sse",          1, "", "" },
    { "providers/gemini/stream_thinking_function_call.sse", 3, "", "" },
};

/* Event names and data of one stream, each data checked to be JSON. */
struct rec {
    struct coll c;
    int         json_bad;
    int         done;        /* events whose data is [DONE] */
    int         json;        /* check each data is JSON (slow) */
    char        first[32], last[32];
};

static int record(void *ud, const struct sse_event *ev)
{
    struct rec *r = ud;
    json_error_t err;
    json_t *j;

    if (strcmp(ev->data, "[DONE]") == 0) {
        r->done++;
    } else if (!r->json) {
        ;
    } else if ((j = json_loadb(ev->data, ev->data_len, 0, &err)) == NULL) {
        r->json_bad++;
    } else {
        json_decref(j);
    }
    if (r->c.count == 0)
        snprintf(r->first, sizeof(r->first), "%s", ev->event);
    snprintf(r->last, sizeof(r->last), "%s", ev->event);
    return collect(&r->c, ev);
}

static char *parse_file(const char *p, size_t n, size_t split,
                        size_t chunk, struct rec *r)
{
    struct sse s;
    int rc = 0;

    memset(r, 0, sizeof(*r));
    r->json = split == n && chunk == 0;
    coll_init(&r->c);
    sse_init(&s, BIG);
    if (chunk) {
        for (size_t i = 0; i < n && rc == 0; i += chunk)
            rc = sse_feed(&s, p + i, n - i < chunk ? n - i : chunk,
                          record, r);
    } else {
        rc = sse_feed(&s, p, split, record, r);
        if (rc == 0)
            rc = sse_feed(&s, p + split, n - split, record, r);
    }
    if (rc == 0)
        rc = sse_end(&s, record, r);
    sse_free(&s);
    if (rc != 0 || r->c.bad) {
        buf_free(&r->c.out);
        return NULL;
    }
    return buf_steal(&r->c.out, NULL);
}

TEST(sse_conformance_streams)
{
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        size_t n;
        char *in = test_read_file(conformance_path(streams[i].file), &n);
        char *whole, *other;
        struct rec r;

        if (in == NULL)
            fprintf(stderr, "  cannot read %s\n", streams[i].file);
        ASSERT(in != NULL);
        whole = parse_file(in, n, n, 0, &r);
        ASSERT(whole != NULL);
        if (r.c.count != streams[i].count)
            fprintf(stderr, "  %s\n", streams[i].file);
        ASSERT_EQ(r.c.count, streams[i].count);
        ASSERT_EQ(r.json_bad, 0);
        ASSERT_STR_EQ(r.first, streams[i].first);
        ASSERT_STR_EQ(r.last, streams[i].last);
        /* OpenAI streams end with data: [DONE], the others never. */
        ASSERT_EQ(r.done, strstr(streams[i].file, "openai") ? 1 : 0);

        other = parse_file(in, n, 0, 1, &r);
        ASSERT(other != NULL);
        ASSERT_STR_EQ(other, whole);
        free(other);
        for (size_t k = 0; k <= n; k++) {
            other = parse_file(in, n, k, 0, &r);
            ASSERT(other != NULL);
            if (strcmp(other, whole) != 0)
                fprintf(stderr, "  %s split at %zu\n", streams[i].file, k);
            ASSERT_STR_EQ(other, whole);
            free(other);
        }
        free(whole);
        free(in);
    }
}

/* Gemini's real alt=sse framing is CRLF: split exactly inside "\r\n". */
TEST(sse_crlf_file_split_inside_crlf)
{
    const char *file = "providers/gemini/stream_text.sse";
    size_t n, splits = 0;
    char *in = test_read_file(conformance_path(file), &n);
    char *whole, *other;
    struct rec r;

    ASSERT(in != NULL);
    whole = parse_file(in, n, n, 0, &r);
    ASSERT(whole != NULL);
    ASSERT_EQ(r.c.count, 3);
    for (size_t k = 1; k < n; k++) {
        if (in[k - 1] != '\r' || in[k] != '\n')
            continue;
        splits++;
        other = parse_file(in, n, k, 0, &r);
        ASSERT(other != NULL);
        ASSERT_STR_EQ(other, whole);
        ASSERT_EQ(r.c.count, 3);
        free(other);
    }
    ASSERT_EQ(splits, 6);
    free(whole);
    free(in);
}

/* The same stream with LF, CRLF or lone-CR endings gives the same events. */
TEST(sse_conformance_line_endings)
{
    const char *file = "providers/anthropic/stream_tool_use.sse";
    static const char *const endings[] = { "\r\n", "\r" };
    size_t n;
    char *in = test_read_file(conformance_path(file), &n);
    char *whole, *other;
    struct buf conv;
    struct rec r;

    ASSERT(in != NULL);
    whole = parse_file(in, n, n, 0, &r);
    ASSERT(whole != NULL);
    for (size_t e = 0; e < 2; e++) {
        buf_init(&conv, BIG);
        for (size_t i = 0; i < n; i++) {
            if (in[i] == '\n')
                ASSERT_EQ(buf_adds(&conv, endings[e]), 0);
            else
                ASSERT_EQ(buf_add(&conv, &in[i], 1), 0);
        }
        other = parse_file(conv.p, conv.len, 0, 1, &r);
        ASSERT(other != NULL);
        ASSERT_STR_EQ(other, whole);
        free(other);
        for (size_t k = 0; k <= conv.len; k += 7) {
            other = parse_file(conv.p, conv.len, k, 0, &r);
            ASSERT(other != NULL);
            ASSERT_STR_EQ(other, whole);
            free(other);
        }
        buf_free(&conv);
    }
    free(whole);
    free(in);
}

/* Garbage in any chunking gives the same events and the same result. */
TEST(sse_garbage_chunking_invariant)
{
    static const char alphabet[] =
        "data:event:id:retry: \r\n\n\r:x\xEF\xBB\xBF";
    unsigned seed = 12345;
    char in[512];

    for (int round = 0; round < 300; round++) {
        struct coll a, b, c;
        size_t n = (size_t)(round % 200) + 1;
        int ra, rb, rc;

        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            in[i] = round % 3 == 0 ? (char)(seed >> 16)
                                   : alphabet[(seed >> 16) %
                                              (sizeof(alphabet) - 1)];
        }
        coll_init(&a);
        coll_init(&b);
        coll_init(&c);
        ra = run_chunks(in, n, 0, 24, &a);
        rb = run_chunks(in, n, 1, 24, &b);
        rc = run_chunks(in, n, (size_t)(round % 13) + 2, 24, &c);
        ASSERT_EQ(ra, rb);
        ASSERT_EQ(ra, rc);
        ASSERT(ra == 0 || ra == LLMUX_ETOOBIG);
        ASSERT_STR_EQ(got(&a), got(&b));
        ASSERT_STR_EQ(got(&a), got(&c));
        ASSERT(!a.bad && !b.bad && !c.bad);
        buf_free(&a.out);
        buf_free(&b.out);
        buf_free(&c.out);
    }
}
