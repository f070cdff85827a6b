/* xfer.c -- the upstream stage: curl easy options, header/body callbacks
 * and the answer's status (see xfer.h). */
#include "xfer.h"
#include "container.h"
#include "llmux-errno.h"
#include "provider.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void on_done(struct upstream_xfer *ux, CURLcode res);

void xfer_init(struct xfer *x, struct upstream *up)
{
    memset(x, 0, sizeof(*x));
    x->up = up;
    x->retry_after = -1;
    x->ux.done = on_done;
    buf_init(&x->body, HTTP_MAX_BODY);
    buf_init(&x->ratelimit, 2048);
}

void xfer_reset(struct xfer *x)
{
    buf_reset(&x->body);
    buf_reset(&x->ratelimit);
    x->status = 0;
    x->retry_after = -1;
    x->toobig = 0;
}

int xfer_running(const struct xfer *x)
{
    return x->easy != NULL;
}

static void release(struct xfer *x)
{
    upstream_easy_put(x->up, x->easy);
    x->easy = NULL;
    x->paused = 0;
}

int xfer_start(struct xfer *x, const struct http_req *h, long timeout_ms)
{
    CURL *e = upstream_easy_get(x->up);

    if (e == NULL)
        return LLMUX_EINTERNAL;
    x->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, h->url.p);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, h->body.p);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)h->body.len);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, xfer_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, xfer_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &x->ux);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, LLMUX_USER_AGENT);
    if (upstream_add(x->up, e) < 0) {
        release(x);
        return LLMUX_EINTERNAL;
    }
    return 0;
}

void xfer_stop(struct xfer *x)
{
    if (x->easy == NULL)
        return;
    upstream_remove(x->up, x->easy);
    release(x);
}

void xfer_pause(struct xfer *x)
{
    if (x->paused || x->easy == NULL)
        return;
    /* Allowed from inside the write callback; curl keeps what it already
     * read from the socket and stops reading more. */
    curl_easy_pause(x->easy, CURLPAUSE_RECV);
    x->paused = 1;
}

void xfer_resume(struct xfer *x)
{
    if (!x->paused || x->easy == NULL)
        return;
    x->paused = 0;
    curl_easy_pause(x->easy, CURLPAUSE_CONT);
}

void xfer_free(struct xfer *x)
{
    xfer_stop(x);
    buf_free(&x->body);
    buf_free(&x->ratelimit);
}

/* ---- callbacks ---------------------------------------------------------- */

static double parse_retry_after(const char *v, size_t n, int ms)
{
    char tmp[64], *end;
    double d;

    if (n >= sizeof(tmp))
        return -1;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    d = strtod(tmp, &end);
    if (end == tmp || d < 0 || d != d)
        return -1;  /* HTTP dates are rare for LLM APIs; ignored */
    return ms ? d / 1000.0 : d;
}

/* "HTTP/1.1 429 Too Many Requests", "HTTP/2 503": a new answer begins
 * (after a 1xx or a redirect): what the earlier one said is forgotten. */
static int status_line(struct xfer *x, const char *p, size_t len)
{
    size_t i = 5;
    long st = 0;

    if (len < 12 || memcmp(p, "HTTP/", 5) != 0)
        return 0;
    while (i < len && p[i] != ' ')
        i++;
    if (i + 4 > len)
        return 1;
    for (size_t k = i + 1; k < i + 4; k++) {
        if (p[k] < '0' || p[k] > '9')
            return 1;
        st = st * 10 + (p[k] - '0');
    }
    x->status = st;
    x->retry_after = -1;
    buf_reset(&x->ratelimit);   /* a 100 Continue or a redirect's */
    return 1;
}

/* x-ratelimit-* headers, as the upstream sent them: a front end may pass
 * them on (LiteLLM does). Only plain printable ASCII is kept, so nothing
 * can smuggle a header or a line break through; they hold no secret. */
static void keep_ratelimit(struct xfer *x, const char *p, size_t len)
{
    while (len && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    if (len < 13 || len > 256 || strncasecmp(p, "x-ratelimit-", 12) != 0)
        return;
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] > 0x7e)
            return;
    if (x->ratelimit.len + len + 2 > x->ratelimit.max)
        return;
    buf_add(&x->ratelimit, p, len);
    buf_add(&x->ratelimit, "\r\n", 2);
}

size_t xfer_on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n, vlen;
    const char *v;
    int ms = 0;
    double d;

    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0)
        v = p + 12;
    else if (len > 15 && strncasecmp(p, "retry-after-ms:", 15) == 0) {
        v = p + 15;
        ms = 1;
    } else {
        if (!status_line(x, p, len))
            keep_ratelimit(x, p, len);
        return len;
    }
    while (v < p + len && (*v == ' ' || *v == '\t'))
        v++;
    vlen = (size_t)(p + len - v);
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' ||
                    v[vlen - 1] == ' '))
        vlen--;
    d = parse_retry_after(v, vlen, ms);
    /* retry-after-ms is the more precise of the two when both come. */
    if (d >= 0 && (ms || x->retry_after < 0))
        x->retry_after = d;
    return len;
}

size_t xfer_on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;

    if (x->status == 0 && x->easy)
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->stream && x->status >= 200 && x->status < 300)
        return x->feed(x->ud, p, len) < 0 ? CURL_WRITEFUNC_ERROR : len;
    if (buf_add(&x->body, p, len) < 0) {
        x->toobig = 1;
        return CURL_WRITEFUNC_ERROR;
    }
    return len;
}

void xfer_end(struct xfer *x, CURLcode res)
{
    long st = 0;

    /* The status is curl's at the end, whether or not a body came: a
     * bare 429 or 401 keeps its meaning. */
    if (x->easy && curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE,
                                     &st) == CURLE_OK && st != 0)
        x->status = st;
    if (x->easy)
        release(x);
    x->done(x, res);
}

static void on_done(struct upstream_xfer *ux, CURLcode res)
{
    xfer_end(container_of(ux, struct xfer, ux), res);
}

/* ---- errors ------------------------------------------------------------- */

int xfer_curl_code(CURLcode res, const char *prov, const char *url,
                   const char *group, const char *dep, char *msg,
                   size_t len)
{
    const char *why = curl_easy_strerror(res);

    if (url == NULL)
        url = "?";
    switch (res) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(msg, len, "%s at %s did not answer in time (group %s, "
                 "deployment %s)", prov, url, group, dep);
        return LLMUX_ETIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        snprintf(msg, len, "cannot reach %s at %s (group %s, deployment "
                 "%s): %s", prov, url, group, dep, why);
        return LLMUX_ECONN;
    default:
        snprintf(msg, len, "connection to %s at %s failed (group %s, "
                 "deployment %s): %s", prov, url, group, dep, why);
        return LLMUX_EUNAVAIL;
    }
}
