/* gauth.c -- Google service-account keys, the RS256 JWT-bearer grant and
 * the token cache (see gauth.h). The private key lives in a struct
 * secret; it is parsed into an EVP_PKEY only for the moment of signing,
 * and every buffer that held it, the assertion or a token is wiped. */
#include "gauth.h"
#include "container.h"
#include "llmux-errno.h"
#include "log.h"
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#define KEY_FILE_MAX   (64u * 1024)   /* a service-account JSON is ~2 KiB */
#define EXCHANGE_MS    30000L         /* the token endpoint's time */
#define TOKEN_MAX      8192           /* an access token, in bytes */

/* ---- keys ---------------------------------------------------------------- */

struct gauth_key *gauth_key_free(struct gauth_key *k)
{
    if (k == NULL)
        return NULL;
    free(k->client_email);
    free(k->token_uri);
    free(k->key_id);
    free(k->project_id);
    secret_free(k->pem);
    free(k);
    return NULL;
}

static char *dup_or_null(const char *s, int *oom)
{
    char *p = s ? strdup(s) : NULL;

    if (s && p == NULL)
        *oom = 1;
    return p;
}

struct gauth_key *gauth_key_copy(const struct gauth_key *k)
{
    struct gauth_key *c = calloc(1, sizeof(*c));
    int oom = 0;

    if (c == NULL)
        return NULL;
    c->client_email = dup_or_null(k->client_email, &oom);
    c->token_uri = dup_or_null(k->token_uri, &oom);
    c->key_id = dup_or_null(k->key_id, &oom);
    c->project_id = dup_or_null(k->project_id, &oom);
    c->pem = secret_new(k->pem->p, k->pem->len);
    if (oom || c->pem == NULL)
        return gauth_key_free(c);
    return c;
}

/* The PEM as an EVP_PKEY (freed by the caller with EVP_PKEY_free, which
 * clears the private numbers), or NULL. */
static EVP_PKEY *pkey_of(const struct secret *pem)
{
    BIO *bio = BIO_new_mem_buf(pem->p, (int)pem->len);
    EVP_PKEY *pk = NULL;

    if (bio) {
        pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    if (pk && EVP_PKEY_base_id(pk) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pk);
        pk = NULL;
    }
    return pk;
}

/* A file's bytes into a buffer the caller wipes and frees; the size
 * capped before reading. */
static int read_file(const char *path, char **ret, size_t *ret_len,
                     char *err, size_t errlen)
{
    struct stat st;
    ssize_t n;
    size_t got = 0;
    char *p;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "cannot open the service-account file %s: "
                 "%s", path, strerror(errno));
        return errno == ENOENT ? LLMUX_ENOTFOUND : LLMUX_EAUTH;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        st.st_size > (off_t)KEY_FILE_MAX) {
        close(fd);
        snprintf(err, errlen, "the service-account file %s is not a "
                 "regular file of at most 64 KiB", path);
        return LLMUX_EAUTH;
    }
    if ((p = malloc((size_t)st.st_size + 1)) == NULL) {
        close(fd);
        return -ENOMEM;
    }
    while (got < (size_t)st.st_size &&
           (n = read(fd, p + got, (size_t)st.st_size - got)) > 0)
        got += (size_t)n;
    close(fd);
    p[got] = '\0';
    *ret = p;
    *ret_len = got;
    return 0;
}

/* A string field of the key JSON, or NULL. */
static const char *field(const json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));

    return s && *s ? s : NULL;
}

/* The parsed JSON -> k. what names the source in messages. */
static int key_from_json(json_t *j, const char *what, struct gauth_key *k,
                         char *err, size_t errlen)
{
    const char *type = field(j, "type"), *pem = field(j, "private_key");
    json_t *pk = json_object_get(j, "private_key");
    EVP_PKEY *evp;
    int oom = 0;

    if (type && strcmp(type, "service_account") != 0) {
        snprintf(err, errlen, "%s: credentials of type \"%.40s\" are not "
                 "supported (llmux takes a service-account key, "
                 "\"type\": \"service_account\")", what, type);
        return LLMUX_EAUTH;
    }
    if (pem == NULL || field(j, "client_email") == NULL) {
        snprintf(err, errlen, "%s: not a service-account key (it needs "
                 "\"client_email\" and \"private_key\")", what);
        return LLMUX_EAUTH;
    }
    k->pem = secret_new(pem, strlen(pem));
    /* jansson keeps its own copy of the key in the tree: wipe it. */
    explicit_bzero((char *)json_string_value(pk), json_string_length(pk));
    if (k->pem == NULL)
        return -ENOMEM;
    if ((evp = pkey_of(k->pem)) == NULL) {
        snprintf(err, errlen, "%s: \"private_key\" is not an RSA private "
                 "key in PEM", what);
        return LLMUX_EAUTH;
    }
    EVP_PKEY_free(evp);
    k->client_email = dup_or_null(field(j, "client_email"), &oom);
    k->token_uri = dup_or_null(field(j, "token_uri") ? field(j, "token_uri")
                               : "https://oauth2.googleapis.com/token",
                               &oom);
    k->key_id = dup_or_null(field(j, "private_key_id"), &oom);
    k->project_id = dup_or_null(field(j, "project_id"), &oom);
    return oom ? -ENOMEM : 0;
}

int gauth_key_load(const char *src, size_t len, struct gauth_key **ret,
                   char *err, size_t errlen)
{
    struct gauth_key *k = calloc(1, sizeof(*k));
    char *file = NULL, what[300];
    size_t flen = 0;
    json_t *j;
    int r;

    *ret = NULL;
    if (k == NULL)
        return -ENOMEM;
    if (len > 0 && src[0] == '{') {
        snprintf(what, sizeof(what), "vertex_credentials (inline JSON)");
    } else {
        snprintf(what, sizeof(what), "the service-account file %.256s",
                 src);
        if ((r = read_file(src, &file, &flen, err, errlen)) < 0) {
            gauth_key_free(k);
            return r;
        }
        src = file;
        len = flen;
    }
    j = json_loadb(src, len, 0, NULL);
    if (file) {
        explicit_bzero(file, flen);
        free(file);
    }
    if (!json_is_object(j)) {
        json_decref(j);
        gauth_key_free(k);
        snprintf(err, errlen, "%s is not JSON", what);
        return LLMUX_EAUTH;
    }
    r = key_from_json(j, what, k, err, errlen);
    json_decref(j);
    if (r < 0) {
        gauth_key_free(k);
        return r;
    }
    *ret = k;
    return 0;
}

/* ---- the JWT ------------------------------------------------------------- */

int gauth_b64url(const void *p, size_t n, struct buf *out)
{
    const unsigned char *s = p;
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                              "qrstuvwxyz0123456789-_";
    char q[4];
    int r = 0;

    for (size_t i = 0; r == 0 && i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16;
        size_t k = n - i >= 3 ? 4 : n - i + 1;

        if (i + 1 < n)
            v |= (unsigned)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = tab[(v >> 6) & 63];
        q[3] = tab[v & 63];
        r = buf_add(out, q, k);
    }
    return r;
}

/* b64url of a JSON object (stolen). */
static int add_json_part(json_t *o, struct buf *out)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    int r;

    json_decref(o);
    if (s == NULL)
        return -ENOMEM;
    r = gauth_b64url(s, strlen(s), out);
    free(s);
    return r;
}

/* RS256: RSASSA-PKCS1-v1_5 with SHA-256 over p, b64url into out. */
static int sign(const struct gauth_key *k, const char *p, size_t n,
                struct buf *out)
{
    EVP_PKEY *pk = pkey_of(k->pem);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t slen = sizeof(sig);
    int r = LLMUX_EAUTH;

    if (pk && md && EVP_PKEY_size(pk) <= (int)sizeof(sig) &&
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
        EVP_DigestSign(md, sig, &slen, (const unsigned char *)p, n) == 1)
        r = gauth_b64url(sig, slen, out);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
    return r;
}

int gauth_jwt(const struct gauth_key *k, time_t now, struct buf *out)
{
    json_t *hdr = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
    json_t *cl = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss",
                           k->client_email, "scope", GAUTH_SCOPE, "aud",
                           k->token_uri, "iat", (json_int_t)now, "exp",
                           (json_int_t)now + GAUTH_JWT_LIFETIME);
    size_t start = out->len;
    int r;

    if (hdr && k->key_id)
        json_object_set_new(hdr, "kid", json_string(k->key_id));
    if ((r = add_json_part(hdr, out)) < 0 ||
        (r = buf_add(out, ".", 1)) < 0) {
        json_decref(cl);
        return r;
    }
    if ((r = add_json_part(cl, out)) < 0)
        return r;
    /* The signature covers "header.claims" as they stand in out. */
    if ((r = buf_add(out, ".", 1)) < 0)
        return r;
    return sign(k, out->p + start, out->len - start - 1, out);
}

/* ---- lifetimes ----------------------------------------------------------- */

double gauth_use_secs(double secs)
{
    return secs - (secs / 6 < 60 ? secs / 6 : 60);
}

double gauth_refresh_secs(double secs)
{
    return secs - (secs / 3 < 300 ? secs / 3 : 300);
}

double gauth_backoff_secs(unsigned n)
{
    double secs = 1;

    while (n-- > 1 && secs < GAUTH_BACKOFF_MAX)
        secs *= 2;
    return secs < GAUTH_BACKOFF_MAX ? secs : GAUTH_BACKOFF_MAX;
}

/* ---- the cache ----------------------------------------------------------- */

void gauth_pool_init(struct gauth_pool *p, uv_loop_t *loop,
                     struct upstream *up)
{
    memset(p, 0, sizeof(*p));
    p->loop = loop;
    p->up = up;
}

static int same_key(const struct gauth_key *a, const struct gauth_key *b)
{
    return strcmp(a->client_email, b->client_email) == 0 &&
           strcmp(a->token_uri, b->token_uri) == 0 &&
           a->pem->len == b->pem->len &&
           memcmp(a->pem->p, b->pem->p, a->pem->len) == 0;
}

static void on_refresh(uv_timer_t *t);

static struct gauth_tok *tok_new(struct gauth_pool *p,
                                 const struct gauth_key *k)
{
    struct gauth_tok *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    if ((t->key = gauth_key_copy(k)) == NULL) {
        free(t);
        return NULL;
    }
    t->pool = p;
    http_req_init(&t->hreq);
    xfer_init(&t->xfer, p->up);
    uv_timer_init(p->loop, &t->timer);
    /* A refresh never keeps a draining daemon alive. */
    uv_unref((uv_handle_t *)&t->timer);
    t->timer.data = t;
    t->next = p->toks;
    p->toks = t;
    return t;
}

/* Tells every waiter the same answer. The list is taken first: a
 * callback may end its request, or start another wait. */
static void wake(struct gauth_tok *t, int code, const char *msg)
{
    struct gauth_wait *w = t->waiters;

    t->waiters = NULL;
    if (code == 0)
        t->used = 1;
    while (w) {
        struct gauth_wait *next = w->next;

        w->next = NULL;
        w->cb(w, code, code == 0 ? t->token : NULL, msg);
        w = next;
    }
}

/* Wipes what the exchange held: the assertion and the answer. */
static void exchange_clear(struct gauth_tok *t)
{
    if (t->hreq.body.p)
        explicit_bzero(t->hreq.body.p, t->hreq.body.len);
    http_req_free(&t->hreq);
    http_req_init(&t->hreq);
    if (t->xfer.body.p)
        explicit_bzero(t->xfer.body.p, t->xfer.body.len);
    xfer_reset(&t->xfer);
}

/* The taxonomy's word for a refused exchange: Google answers 400
 * (invalid_grant) or 401 for a key it does not take; a 429 or a 5xx is
 * the endpoint's trouble, not the key's, and so is a 200 without a
 * token. */
static int exchange_code(long status)
{
    if (status == 429)
        return LLMUX_ERATELIMIT;
    if (status >= 500 || status == 200)
        return LLMUX_EUNAVAIL;
    return LLMUX_EAUTH;
}

/* Masks, in msg, the credentials of t an endpoint might echo: the token
 * it holds and the assertion of the exchange (which buys one). */
static void mask_exchange(const struct gauth_tok *t, char *msg)
{
    static const char tag[] = "assertion=";
    const char *b = t->hreq.body.p, *a;
    struct secret assertion = { 0 };
    const struct secret *keys[2] = { t->token, &assertion };

    /* A view of the body for the search only; never freed as a secret. */
    if (b && (a = memmem(b, t->hreq.body.len, tag, sizeof(tag) - 1))) {
        assertion.p = (char *)a + sizeof(tag) - 1;
        assertion.len = t->hreq.body.len - (size_t)(assertion.p - b);
    }
    secret_mask(msg, strlen(msg), keys, 2, 0);
}

/* The token endpoint's answer -> t->token and its times. 0, or < 0 with
 * msg set. */
static int take_token(struct gauth_tok *t, char *msg, size_t len)
{
    const struct xfer *x = &t->xfer;
    json_t *j = json_loadb(x->body.p ? x->body.p : "", x->body.len, 0, NULL);
    json_t *tok = json_object_get(j, "access_token");
    json_t *exp = json_object_get(j, "expires_in");
    const char *err = json_string_value(json_object_get(j, "error"));
    const char *why = json_string_value(json_object_get(j,
                                                        "error_description"));
    double secs = json_is_number(exp) ? json_number_value(exp) : 0;
    uint64_t now = uv_hrtime();
    int r = 0;

    if (x->status != 200 || !json_is_string(tok) || secs <= 0 ||
        json_string_length(tok) == 0 || json_string_length(tok) > TOKEN_MAX) {
        /* error and error_description are Google's words, not secrets. */
        snprintf(msg, len, "the token exchange at %s for %s failed: HTTP "
                 "%ld%s%.100s%s%.200s", t->key->token_uri,
                 t->key->client_email, x->status, err ? ", " : "",
                 err ? err : "", why ? ": " : "", why ? why : "");
        r = exchange_code(x->status);
    } else {
        t->token = secret_free(t->token);
        t->token = secret_new(json_string_value(tok), json_string_length(tok));
        if (t->token == NULL) {
            snprintf(msg, len, "out of memory");
            r = LLMUX_EINTERNAL;
        }
        t->use_until = now + (uint64_t)(gauth_use_secs(secs) * 1e9);
        t->refresh_at = now + (uint64_t)(gauth_refresh_secs(secs) * 1e9);
        t->used = 0;
    }
    if (json_is_string(tok))
        explicit_bzero((char *)json_string_value(tok),
                       json_string_length(tok));
    json_decref(j);
    return r;
}

/* Remembers a failure for the requests of its backoff. */
static void exchange_failed(struct gauth_tok *t, int code, const char *msg,
                            uint64_t now)
{
    double secs = gauth_backoff_secs(++t->fails);

    t->retry_at = now + (uint64_t)(secs * 1e9);
    t->fail_code = code;
    snprintf(t->fail_msg, sizeof(t->fail_msg), "%s", msg);
    log_warn("vertex_ai: %s (failed %u time%s in a row; the next exchange "
             "in %.3g s at the earliest)", msg, t->fails,
             t->fails == 1 ? "" : "s", secs);
}

static void exchange_done(struct xfer *x, CURLcode res)
{
    struct gauth_tok *t = container_of(x, struct gauth_tok, xfer);
    uint64_t now, ms;
    char msg[512];
    int code;

    t->busy = 0;
    if (res != CURLE_OK) {
        code = xfer_curl_code(res, "the Google token endpoint",
                              t->key->token_uri, "-", t->key->client_email,
                              msg, sizeof(msg));
    } else {
        code = take_token(t, msg, sizeof(msg));
    }
    if (code < 0)
        mask_exchange(t, msg);
    exchange_clear(t);
    now = uv_hrtime();
    if (code < 0) {
        exchange_failed(t, code, msg, now);
        wake(t, code, msg);
        return;
    }
    t->fails = 0;
    t->retry_at = 0;
    ms = t->refresh_at > now ? (t->refresh_at - now) / 1000000 + 1 : 1;
    log_info("vertex_ai: new access token for %s (refresh in %.3g s)",
             t->key->client_email, (double)ms / 1e3);
    uv_timer_start(&t->timer, on_refresh, ms, 0);
    wake(t, 0, NULL);
}

/* Starts the POST of a new assertion. 0, or < 0 with msg set. */
static int exchange_start(struct gauth_tok *t, char *msg, size_t len)
{
    struct http_req *h = &t->hreq;
    int r;

    if (t->busy)
        return 0;
    exchange_clear(t);
    r = buf_adds(&h->url, t->key->token_uri);
    if (r == 0)
        r = buf_adds(&h->body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                     "grant-type%3Ajwt-bearer&assertion=");
    if (r == 0)
        r = gauth_jwt(t->key, time(NULL), &h->body);
    if (r == 0)
        r = http_header_add(h, "Content-Type: "
                            "application/x-www-form-urlencoded");
    if (r == 0) {
        t->xfer.done = exchange_done;
        t->xfer.ud = t;
        r = xfer_start(&t->xfer, h, EXCHANGE_MS);
    }
    if (r < 0) {
        exchange_clear(t);
        snprintf(msg, len, r == LLMUX_EAUTH ? "the private key of %s does "
                 "not sign" : "cannot start the token exchange for %s (out "
                 "of memory)", t->key->client_email);
        return r == LLMUX_EAUTH ? r : LLMUX_EINTERNAL;
    }
    t->busy = 1;
    t->pool->exchanges++;
    return 0;
}

/* Ahead of expiry: a token that was used since it came is renewed, so
 * the requests after it find a fresh one; an idle one lapses. */
static void on_refresh(uv_timer_t *tm)
{
    struct gauth_tok *t = tm->data;
    char msg[512];

    if (!t->used || t->busy || uv_hrtime() < t->retry_at)
        return;
    if (exchange_start(t, msg, sizeof(msg)) < 0)
        log_warn("vertex_ai: %s", msg);
}

int gauth_token(struct gauth_pool *p, const struct gauth_key *k,
                struct gauth_wait *w, const struct secret **ret,
                char *msg, size_t len)
{
    struct gauth_tok *t;
    uint64_t now = uv_hrtime();
    int r;

    *ret = NULL;
    for (t = p->toks; t && !same_key(t->key, k); t = t->next)
        ;
    if (t == NULL && (t = tok_new(p, k)) == NULL) {
        snprintf(msg, len, "out of memory");
        return LLMUX_EINTERNAL;
    }
    if (t->token && now < t->use_until) {
        t->used = 1;
        /* Past the refresh point with the timer missed (a busy loop): the
         * refresh starts now, and this request goes on with the token. */
        if (now >= t->refresh_at && !t->busy && now >= t->retry_at &&
            exchange_start(t, msg, len) < 0)
            log_warn("vertex_ai: %s", msg);
        *ret = t->token;
        return 0;
    }
    if (!t->busy && now < t->retry_at) {
        /* Backing off: the last failure, at once, to the requests meanwhile. */
        snprintf(msg, len, "%s (the token exchange failed %u time%s in a "
                 "row; the next is tried in %.1f s)", t->fail_msg, t->fails,
                 t->fails == 1 ? "" : "s", (double)(t->retry_at - now) / 1e9);
        return t->fail_code;
    }
    if ((r = exchange_start(t, msg, len)) < 0)
        return r;
    w->next = t->waiters;
    t->waiters = w;
    return 1;
}

void gauth_cancel(struct gauth_pool *p, struct gauth_wait *w)
{
    for (struct gauth_tok *t = p->toks; t; t = t->next)
        for (struct gauth_wait **pp = &t->waiters; *pp; pp = &(*pp)->next)
            if (*pp == w) {
                *pp = w->next;
                w->next = NULL;
                return;
            }
}

static void on_tok_closed(uv_handle_t *h)
{
    struct gauth_tok *t = h->data;

    gauth_key_free(t->key);
    secret_free(t->token);
    free(t);
}

void gauth_pool_close(struct gauth_pool *p)
{
    struct gauth_tok *t = p->toks, *next;

    p->toks = NULL;
    for (; t; t = next) {
        next = t->next;
        xfer_stop(&t->xfer);
        t->busy = 0;
        wake(t, LLMUX_ECANCELLED, "llmuxd is stopping");
        exchange_clear(t);
        http_req_free(&t->hreq);
        xfer_free(&t->xfer);
        uv_close((uv_handle_t *)&t->timer, on_tok_closed);
    }
}
