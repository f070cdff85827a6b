/* test-xfer.c -- the upstream stage's callbacks (daemon/xfer.c) without a
 * socket: header lines and body bytes fed as curl would, then the end of
 * the transfer; status, Retry-After and the body as the request sees them.
 * And the words of a transfer that could not connect. */
#include "test.h"

#include "llmux-errno.h"
#include "xfer.h"

struct seen {
    int      done;
    CURLcode res;
    long     status;
    double   retry_after;
    size_t   fed;
};

static void on_done(struct xfer *x, CURLcode res)
{
    struct seen *s = x->ud;

    s->done++;
    s->res = res;
    s->status = x->status;
    s->retry_after = x->retry_after;
}

static int on_feed(void *ud, const char *p, size_t n)
{
    (void)p;
    ((struct seen *)ud)->fed += n;
    return 0;
}

static void hdr(struct xfer *x, const char *line)
{
    xfer_on_header((char *)line, 1, strlen(line), x);
}

static void setup(struct xfer *x, struct seen *s, int stream)
{
    memset(s, 0, sizeof(*s));
    xfer_init(x, NULL);
    x->done = on_done;
    x->feed = on_feed;
    x->ud = s;
    x->stream = stream;
}

/* Break 7: a bare answer (Content-Length: 0) never reaches the body
 * callback; its status must still be the one the status line gave. */
TEST(xfer_bodyless_answers_keep_status_and_retry_after)
{
    static const struct { const char *line; long status; } cases[] = {
        { "HTTP/1.1 401 Unauthorized\r\n", 401 },
        { "HTTP/1.1 404 Not Found\r\n", 404 },
        { "HTTP/1.1 429 Too Many Requests\r\n", 429 },
        { "HTTP/2 503 \r\n", 503 },
    };
    struct xfer x;
    struct seen s;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setup(&x, &s, 0);
        hdr(&x, cases[i].line);
        hdr(&x, "Content-Length: 0\r\n");
        if (cases[i].status == 429)
            hdr(&x, "Retry-After: 7\r\n");
        hdr(&x, "\r\n");
        xfer_end(&x, CURLE_OK);
        ASSERT_EQ(s.done, 1);
        ASSERT_EQ(s.res, CURLE_OK);
        ASSERT_EQ(s.status, cases[i].status);
        ASSERT(cases[i].status == 429 ? s.retry_after == 7 :
               s.retry_after < 0);
        ASSERT_EQ(x.body.len, 0);
        xfer_free(&x);
    }
}

TEST(xfer_retry_after_ms_wins_and_a_new_status_line_forgets)
{
    struct xfer x;
    struct seen s;

    setup(&x, &s, 0);
    hdr(&x, "HTTP/1.1 429 Too Many Requests\r\n");
    hdr(&x, "retry-after-ms: 250\r\n");
    hdr(&x, "Retry-After: 1\r\n");
    ASSERT(x.retry_after == 0.25);
    /* An interim answer's headers say nothing of the final one. */
    hdr(&x, "HTTP/1.1 200 OK\r\n");
    ASSERT_EQ(x.status, 200);
    ASSERT(x.retry_after < 0);
    hdr(&x, "Retry-After: nonsense\r\n");
    hdr(&x, "RETRY-AFTER:\t3 \r\n");
    ASSERT(x.retry_after == 3);
    xfer_free(&x);
}

TEST(xfer_body_goes_to_the_buffer_or_the_stream)
{
    struct xfer x;
    struct seen s;
    char a[] = "{\"error\":", b[] = "\"x\"}";

    /* An error answer on a stream request is buffered for map_error. */
    setup(&x, &s, 1);
    hdr(&x, "HTTP/1.1 500 Internal Server Error\r\n");
    ASSERT_EQ(xfer_on_body(a, 1, strlen(a), &x), strlen(a));
    ASSERT_EQ(xfer_on_body(b, 1, strlen(b), &x), strlen(b));
    ASSERT_EQ(s.fed, 0);
    ASSERT_EQ(x.body.len, strlen(a) + strlen(b));
    ASSERT_MEM_EQ(x.body.p, "{\"error\":\"x\"}", x.body.len);
    xfer_end(&x, CURLE_OK);
    ASSERT_EQ(s.status, 500);
    /* A 2xx stream goes to the feed, not the buffer. */
    xfer_reset(&x);
    memset(&s, 0, sizeof(s));
    hdr(&x, "HTTP/1.1 200 OK\r\n");
    ASSERT_EQ(xfer_on_body(a, 1, strlen(a), &x), strlen(a));
    ASSERT_EQ(s.fed, strlen(a));
    ASSERT_EQ(x.body.len, 0);
    xfer_free(&x);
}

TEST(xfer_curl_errors_name_the_url_group_and_deployment)
{
    char msg[512];

    ASSERT_EQ(xfer_curl_code(CURLE_COULDNT_CONNECT, "openai",
                             "https://api.openai.com/v1", "gpt4o", "east-1",
                             msg, sizeof(msg)), LLMUX_ECONN);
    ASSERT(strstr(msg, "cannot reach openai at https://api.openai.com/v1 "
                  "(group gpt4o, deployment east-1)") == msg);
    ASSERT_EQ(xfer_curl_code(CURLE_OPERATION_TIMEDOUT, "groq", "http://h",
                             "g", "d", msg, sizeof(msg)), LLMUX_ETIMEOUT);
    ASSERT(strstr(msg, "did not answer in time") != NULL);
    ASSERT(strstr(msg, "http://h") != NULL);
    ASSERT_EQ(xfer_curl_code(CURLE_RECV_ERROR, "groq", "http://h", "g", "d",
                             msg, sizeof(msg)), LLMUX_EUNAVAIL);
}
