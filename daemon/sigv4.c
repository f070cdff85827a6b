/* sigv4.c -- AWS Signature Version 4 request signing (see sigv4.h).
 * Owns: canonical request/string-to-sign construction, the HMAC key chain
 * (every copy of the secret and of derived keys is wiped before return)
 * and the raw-request parser used by the conformance tests and fuzzer. */
#include "sigv4.h"
#include "hexdigit.h"
#include "llmux-errno.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SHA256_LEN      32
#define SIGV4_MAX_SECRET 1024       /* real secrets are 40 bytes */
#define ALGORITHM       "AWS4-HMAC-SHA256"

/* ---- encoding helpers -------------------------------------------------- */

static int is_unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
           ch == '.' || ch == '~';
}

/* Appends s[0..n) percent-encoded; runs of kept bytes go in one buf_add. */
int sigv4_uri_encode(struct buf *out, const char *s, size_t n,
                     int encode_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0, run;
    int rc;

    while (i < n) {
        for (run = i; run < n; run++) {
            unsigned char ch = (unsigned char)s[run];
            if (!is_unreserved(ch) && (ch != '/' || encode_slash))
                break;
        }
        if (run > i && (rc = buf_add(out, s + i, run - i)) < 0)
            return rc;
        if (run < n) {
            unsigned char ch = (unsigned char)s[run];
            char esc[3] = { '%', hex[ch >> 4], hex[ch & 15] };
            if ((rc = buf_add(out, esc, 3)) < 0)
                return rc;
            run++;
        }
        i = run;
    }
    return 0;
}

/* Appends a query key or value in canonical form: valid %XX are decoded
 * first, so "%e1" and a raw 0xE1 byte both come out as "%E1". A '%' not
 * followed by two hex digits is a literal '%'. '+' is a literal '+'. */
static int encode_query_part(struct buf *out, const char *s, size_t n)
{
    int rc;

    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%' && i + 2 < n &&
            hex_digit((unsigned char)s[i + 1]) >= 0 &&
            hex_digit((unsigned char)s[i + 2]) >= 0) {
            ch = (char)(hex_digit((unsigned char)s[i + 1]) * 16 +
                        hex_digit((unsigned char)s[i + 2]));
            i += 2;
        }
        if ((rc = sigv4_uri_encode(out, &ch, 1, 1)) < 0)
            return rc;
    }
    return 0;
}

static void hex_encode(const unsigned char *md, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- crypto ------------------------------------------------------------ */

static int sha256_hex(const void *p, size_t n, char out[SIGV4_HEX_LEN + 1])
{
    unsigned char md[SHA256_LEN];
    unsigned int mdlen = 0;

    if (EVP_Digest(n ? p : "", n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != SHA256_LEN)
        return LLMUX_EINTERNAL;
    hex_encode(md, SHA256_LEN, out);
    return 0;
}

static int hmac(const void *key, size_t klen, const void *d, size_t n,
                unsigned char out[SHA256_LEN])
{
    unsigned int mdlen = 0;

    if (HMAC(EVP_sha256(), key, (int)klen, d, n, out, &mdlen) == NULL ||
        mdlen != SHA256_LEN)
        return LLMUX_EINTERNAL;
    return 0;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service),
 * "aws4_request"). The secret copy and the intermediate keys live in
 * fixed stack arrays so that each is wiped whole, with no realloc'd
 * leftovers. The caller wipes ksign. */
static int derive_key(const struct sigv4_creds *c, const char *date8,
                      unsigned char ksign[SHA256_LEN])
{
    char ksecret[4 + SIGV4_MAX_SECRET];
    unsigned char k1[SHA256_LEN], k2[SHA256_LEN];
    size_t slen = strlen(c->secret_key);
    int rc;

    memcpy(ksecret, "AWS4", 4);
    memcpy(ksecret + 4, c->secret_key, slen);   /* slen checked by caller */
    rc = hmac(ksecret, 4 + slen, date8, 8, k1);
    if (rc == 0)
        rc = hmac(k1, SHA256_LEN, c->region, strlen(c->region), k2);
    if (rc == 0)
        rc = hmac(k2, SHA256_LEN, c->service, strlen(c->service), k1);
    if (rc == 0)
        rc = hmac(k1, SHA256_LEN, "aws4_request", 12, ksign);
    explicit_bzero(ksecret, sizeof(ksecret));
    explicit_bzero(k1, sizeof(k1));
    explicit_bzero(k2, sizeof(k2));
    return rc;
}

/* ---- input checks ------------------------------------------------------ */

/* A credential-scope field ends up inside "Credential=a/b/c/d, ...", so
 * it must be a non-empty run of visible ASCII without '/' or ','. */
static int check_scope_field(const char *s)
{
    if (s == NULL || *s == '\0')
        return LLMUX_EBADREQ;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
            *s == '/' || *s == ',')
            return LLMUX_EBADREQ;
    return 0;
}

/* No control characters: these strings go into header lines. */
static int check_line_safe(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            return LLMUX_EBADREQ;
    return 0;
}

/* An empty token (AWS_SESSION_TOKEN="") means "no token", as in the
 * AWS SDKs; anything else is sent and, by default, signed. */
static const char *token_of(const struct sigv4_creds *c)
{
    return c->session_token && *c->session_token ? c->session_token : NULL;
}

static int check_creds(const struct sigv4_creds *c)
{
    if (check_scope_field(c->access_key) < 0 ||
        check_scope_field(c->region) < 0 ||
        check_scope_field(c->service) < 0 || c->secret_key == NULL ||
        strlen(c->secret_key) > SIGV4_MAX_SECRET)
        return LLMUX_EBADREQ;
    if (token_of(c) && check_line_safe(token_of(c)) < 0)
        return LLMUX_EBADREQ;
    return 0;
}

static int check_req(const struct sigv4_req *r)
{
    if (check_scope_field(r->method) < 0)     /* a token: visible ASCII */
        return LLMUX_EBADREQ;
    if (r->path && r->path[0] != '\0' && r->path[0] != '/')
        return LLMUX_EBADREQ;
    if ((r->body == NULL && r->body_len) ||
        (r->headers == NULL && r->nheaders))
        return LLMUX_EBADREQ;
    return 0;
}

/* A header name is an HTTP token: visible ASCII, no ':'. */
static int check_header(const struct sigv4_header *h)
{
    const char *s = h->name;

    if (s == NULL || *s == '\0' || h->value == NULL)
        return LLMUX_EBADREQ;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
            *s == ':')
            return LLMUX_EBADREQ;
    return check_line_safe(h->value);
}

/* "yyyymmddThhmmssZ"; refuses years that would not fit in four digits. */
static int format_date(time_t now, char out[SIGV4_DATE_LEN + 1])
{
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL || tm.tm_year < -1900 ||
        tm.tm_year > 9999 - 1900)
        return LLMUX_EBADREQ;
    if (strftime(out, SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) !=
        SIGV4_DATE_LEN)
        return LLMUX_EBADREQ;
    return 0;
}

/* ---- canonical path ---------------------------------------------------- */

struct span { const char *p; size_t n; };

/* Normalises like botocore's remove_dot_segments (RFC 3986 5.2.4, plus
 * AWS's removal of empty segments), then encodes each segment. */
static int canon_path_normalized(struct buf *b, const char *path, size_t n)
{
    struct span *seg;
    size_t nseg = 0, maxseg = 1, i, start;
    int rc = 0;

    for (i = 0; i < n; i++)
        maxseg += path[i] == '/';
    if ((seg = calloc(maxseg, sizeof(*seg))) == NULL)
        return -ENOMEM;
    for (start = 0; start <= n; start = i + 1) {
        for (i = start; i < n && path[i] != '/'; i++)
            ;
        struct span s = { path + start, i - start };
        if (s.n == 0 || (s.n == 1 && s.p[0] == '.'))
            continue;
        if (s.n == 2 && s.p[0] == '.' && s.p[1] == '.') {
            nseg -= nseg > 0;
            continue;
        }
        seg[nseg++] = s;
    }
    rc = buf_add(b, "/", 1);            /* the path starts with '/' */
    for (i = 0; rc == 0 && i < nseg; i++) {
        if (i > 0)
            rc = buf_add(b, "/", 1);
        if (rc == 0)
            rc = sigv4_uri_encode(b, seg[i].p, seg[i].n, 1);
    }
    /* A trailing '/' survives only if something is left before it. */
    if (rc == 0 && nseg > 0 && path[n - 1] == '/')
        rc = buf_add(b, "/", 1);
    free(seg);
    return rc;
}

/* The path is encoded once more here: '%' of an already-encoded path
 * becomes "%25", which is the "encode twice" rule for non-S3 services. */
static int canon_path(struct buf *b, const char *path, int normalize)
{
    size_t n = path ? strlen(path) : 0;

    if (n == 0)
        return buf_add(b, "/", 1);
    if (normalize)
        return canon_path_normalized(b, path, n);
    return sigv4_uri_encode(b, path, n, 0);
}

/* ---- canonical query --------------------------------------------------- */

struct qpair { size_t koff, klen, voff, vlen; const char *base; };

static int span_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);

    if (c != 0)
        return c;
    return an < bn ? -1 : an > bn;
}

/* Sort by encoded key, then by encoded value (repeated keys). */
static int qpair_cmp(const void *x, const void *y)
{
    const struct qpair *a = x, *b = y;
    int c = span_cmp(a->base + a->koff, a->klen, b->base + b->koff, b->klen);

    if (c != 0)
        return c;
    return span_cmp(a->base + a->voff, a->vlen, b->base + b->voff, b->vlen);
}

/* Encodes every "k=v" (or bare "k", taken as "k=") of q into t and
 * records it in pv; empty components ("a&&b") are dropped. */
static int split_query(const char *q, struct buf *t, struct qpair *pv,
                       size_t *ret_n)
{
    size_t n = 0;
    int rc;

    for (const char *s = q, *e; *s; s = *e ? e + 1 : e) {
        const char *eq;

        e = s + strcspn(s, "&");
        if (e == s)
            continue;
        eq = memchr(s, '=', (size_t)(e - s));
        pv[n].koff = t->len;
        if ((rc = encode_query_part(t, s, (size_t)((eq ? eq : e) - s))) < 0)
            return rc;
        pv[n].klen = t->len - pv[n].koff;
        pv[n].voff = t->len;
        if (eq && (rc = encode_query_part(t, eq + 1,
                                          (size_t)(e - eq - 1))) < 0)
            return rc;
        pv[n].vlen = t->len - pv[n].voff;
        n++;
    }
    *ret_n = n;
    return 0;
}

static int canon_query(struct buf *b, const char *q)
{
    struct qpair *pv;
    struct buf t;
    size_t n = 0, max = 1;
    int rc;

    if (q == NULL || *q == '\0')
        return 0;
    for (const char *s = q; *s; s++)
        max += *s == '&';
    if ((pv = calloc(max, sizeof(*pv))) == NULL)
        return -ENOMEM;
    buf_init(&t, SIGV4_MAX_TEXT);
    rc = split_query(q, &t, pv, &n);
    /* t.p moves while growing, so bases are set only once it is done. */
    for (size_t i = 0; i < n; i++)
        pv[i].base = t.p ? t.p : "";
    if (rc == 0)
        qsort(pv, n, sizeof(*pv), qpair_cmp);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0)
            rc = buf_add(b, "&", 1);
        if (rc == 0)
            rc = buf_add(b, pv[i].base + pv[i].koff, pv[i].klen);
        if (rc == 0)
            rc = buf_add(b, "=", 1);
        if (rc == 0)
            rc = buf_add(b, pv[i].base + pv[i].voff, pv[i].vlen);
    }
    buf_free(&t);
    free(pv);
    return rc;
}

/* ---- canonical headers ------------------------------------------------- */

struct hent {
    const char *name;       /* any case; compared and printed lower-cased */
    const char *value;      /* untrimmed */
    size_t idx;             /* input order, to keep the sort stable */
};

static int lc(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static int name_cmp(const char *a, const char *b)
{
    while (*a && lc((unsigned char)*a) == lc((unsigned char)*b))
        a++, b++;
    return lc((unsigned char)*a) - lc((unsigned char)*b);
}

/* Lower-cased name, then input order: duplicates keep their order. */
static int hent_cmp(const void *x, const void *y)
{
    const struct hent *a = x, *b = y;
    int c = name_cmp(a->name, b->name);

    if (c != 0)
        return c;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Collects the caller's headers plus the ones sigv4 produces. Copies of
 * those given by the caller are dropped so a header is never signed with
 * a value other than the one we emit. */
static int collect_headers(const struct sigv4_creds *c,
                           const struct sigv4_req *r, struct sigv4_out *out,
                           struct hent *hv, size_t *ret_n)
{
    size_t n = 0;
    int have_host = 0;

    for (size_t i = 0; i < r->nheaders; i++) {
        const struct sigv4_header *h = &r->headers[i];
        if (check_header(h) < 0 || name_cmp(h->name, "authorization") == 0)
            return LLMUX_EBADREQ;
        have_host |= name_cmp(h->name, "host") == 0;
        if (name_cmp(h->name, "x-amz-date") == 0 ||
            (token_of(c) &&
             name_cmp(h->name, "x-amz-security-token") == 0) ||
            (r->sign_body_header &&
             name_cmp(h->name, "x-amz-content-sha256") == 0))
            continue;
        hv[n] = (struct hent){ h->name, h->value, n };
        n++;
    }
    if (!have_host)
        return LLMUX_EBADREQ;   /* SigV4 requires host to be signed */
    hv[n] = (struct hent){ "x-amz-date", out->amz_date, n };
    n++;
    if (token_of(c) && !r->omit_session_token) {
        hv[n] = (struct hent){ "x-amz-security-token",
                               out->session_token.p, n };
        n++;
    }
    if (r->sign_body_header) {
        hv[n] = (struct hent){ "x-amz-content-sha256", out->payload_hash, n };
        n++;
    }
    *ret_n = n;
    return 0;
}

static int add_lower(struct buf *b, const char *s)
{
    int rc = 0;

    for (; rc == 0 && *s; s++) {
        char ch = (char)lc((unsigned char)*s);
        rc = buf_add(b, &ch, 1);
    }
    return rc;
}

/* Trims SP/HT at both ends and squeezes inner runs into one space. */
static int add_trimmed(struct buf *b, const char *v)
{
    int rc = 0, ws = 0;

    while (*v == ' ' || *v == '\t')
        v++;
    for (; rc == 0 && *v; v++) {
        if (*v == ' ' || *v == '\t') {
            ws = 1;
            continue;
        }
        if (ws)
            rc = buf_add(b, " ", 1);
        ws = 0;
        if (rc == 0)
            rc = buf_add(b, v, 1);
    }
    return rc;
}

/* Writes "name:v1,v2\n" per distinct name into b and "a;b;c" into sh. */
static int canon_headers(struct buf *b, struct buf *sh, struct hent *hv,
                         size_t n)
{
    int rc = 0;

    qsort(hv, n, sizeof(*hv), hent_cmp);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int first = i == 0 || name_cmp(hv[i - 1].name, hv[i].name) != 0;
        if (first && i > 0)
            rc = buf_add(b, "\n", 1);
        if (rc == 0 && first && i > 0)
            rc = buf_add(sh, ";", 1);
        if (rc == 0 && first)
            rc = add_lower(b, hv[i].name);
        if (rc == 0 && first)
            rc = add_lower(sh, hv[i].name);
        if (rc == 0)
            rc = buf_add(b, first ? ":" : ",", 1);
        if (rc == 0)
            rc = add_trimmed(b, hv[i].value);
    }
    if (rc == 0 && n > 0)
        rc = buf_add(b, "\n", 1);
    return rc;
}

/* ---- assembling -------------------------------------------------------- */

static int build_canonical_request(const struct sigv4_creds *c,
                                   const struct sigv4_req *r,
                                   struct sigv4_out *out, struct buf *sh)
{
    struct buf *b = &out->canonical_request;
    struct hent *hv;
    size_t n = 0;
    int rc;

    if ((hv = calloc(r->nheaders + SIGV4_MAX_ADD, sizeof(*hv))) == NULL)
        return -ENOMEM;
    rc = collect_headers(c, r, out, hv, &n);
    if (rc == 0 && (rc = buf_adds(b, r->method)) == 0 &&
        (rc = buf_add(b, "\n", 1)) == 0 &&
        (rc = canon_path(b, r->path, r->normalize_path)) == 0 &&
        (rc = buf_add(b, "\n", 1)) == 0 &&
        (rc = canon_query(b, r->query)) == 0 &&
        (rc = buf_add(b, "\n", 1)) == 0 &&
        (rc = canon_headers(b, sh, hv, n)) == 0)
        rc = buf_addf(b, "\n%s\n%s", sh->p ? sh->p : "", out->payload_hash);
    free(hv);
    return rc;
}

static int build_string_to_sign(const struct sigv4_creds *c,
                                 struct sigv4_out *out)
{
    char creq_hash[SIGV4_HEX_LEN + 1];
    int rc;

    rc = sha256_hex(out->canonical_request.p, out->canonical_request.len,
                    creq_hash);
    if (rc < 0)
        return rc;
    return buf_addf(&out->string_to_sign, ALGORITHM "\n%s\n%.8s/%s/%s/"
                    "aws4_request\n%s", out->amz_date, out->amz_date,
                    c->region, c->service, creq_hash);
}

static int compute_signature(const struct sigv4_creds *c,
                             struct sigv4_out *out)
{
    unsigned char ksign[SHA256_LEN], sig[SHA256_LEN];
    int rc;

    rc = derive_key(c, out->amz_date, ksign);
    if (rc == 0)
        rc = hmac(ksign, SHA256_LEN, out->string_to_sign.p,
                  out->string_to_sign.len, sig);
    explicit_bzero(ksign, sizeof(ksign));
    if (rc == 0)
        hex_encode(sig, SHA256_LEN, out->signature);
    return rc;
}

static void fill_add(const struct sigv4_creds *c, const struct sigv4_req *r,
                     struct sigv4_out *out)
{
    out->nadd = 0;
    out->add[out->nadd++] = (struct sigv4_header){ "X-Amz-Date",
                                                   out->amz_date };
    if (token_of(c))
        out->add[out->nadd++] = (struct sigv4_header){
            "X-Amz-Security-Token", out->session_token.p };
    if (r->sign_body_header)
        out->add[out->nadd++] = (struct sigv4_header){
            "X-Amz-Content-Sha256", out->payload_hash };
}

static void out_init(struct sigv4_out *out)
{
    memset(out, 0, sizeof(*out));
    buf_init(&out->canonical_request, SIGV4_MAX_TEXT);
    buf_init(&out->string_to_sign, SIGV4_MAX_TEXT);
    buf_init(&out->authorization, SIGV4_MAX_TEXT);
    buf_init(&out->session_token, SIGV4_MAX_TEXT);
}

/* The bufs grow by realloc, so an earlier, smaller block holding the
 * session token may be freed unwiped; the token is useless without the
 * secret, whose copies never leave derive_key's wiped stack arrays. */
void sigv4_out_free(struct sigv4_out *out)
{
    if (out == NULL)
        return;
    buf_free_secret(&out->canonical_request);
    buf_free_secret(&out->string_to_sign);
    buf_free_secret(&out->authorization);
    buf_free_secret(&out->session_token);
    explicit_bzero(out->signature, sizeof(out->signature));
    out->nadd = 0;
}

int sigv4_sign(const struct sigv4_creds *c, const struct sigv4_req *r,
               time_t now, struct sigv4_out *out)
{
    struct buf sh;                      /* the SignedHeaders list */
    int rc;

    if (out == NULL)
        return LLMUX_EBADREQ;
    out_init(out);
    buf_init(&sh, SIGV4_MAX_TEXT);
    if (c == NULL || r == NULL)
        return LLMUX_EBADREQ;
    if ((rc = check_creds(c)) < 0 || (rc = check_req(r)) < 0 ||
        (rc = format_date(now, out->amz_date)) < 0 ||
        (rc = sha256_hex(r->body, r->body_len, out->payload_hash)) < 0)
        goto fail;
    if (token_of(c) &&
        (rc = buf_adds(&out->session_token, token_of(c))) < 0)
        goto fail;
    if ((rc = build_canonical_request(c, r, out, &sh)) < 0 ||
        (rc = build_string_to_sign(c, out)) < 0 ||
        (rc = compute_signature(c, out)) < 0)
        goto fail;
    rc = buf_addf(&out->authorization, ALGORITHM " Credential=%s/%.8s/%s/%s/"
                  "aws4_request, SignedHeaders=%s, Signature=%s",
                  c->access_key, out->amz_date, c->region, c->service,
                  sh.p, out->signature);
    if (rc < 0)
        goto fail;
    fill_add(c, r, out);
    buf_free(&sh);
    return 0;
fail:
    buf_free(&sh);
    sigv4_out_free(out);
    return rc;
}

/* ---- raw request parser (tests and fuzzing only) ---------------------- */

/* "METHOD TARGET HTTP/x.y": TARGET runs to the last space, because the
 * suite's get-space case has a raw space in its path. */
static int parse_request_line(char *s, size_t len, size_t *pos,
                              struct sigv4_req *req)
{
    char *nl = memchr(s, '\n', len), *sp1, *sp2, *q;
    size_t le = nl ? (size_t)(nl - s) : len;

    *pos = nl ? le + 1 : len;
    if (le > 0 && s[le - 1] == '\r')
        le--;
    if (memchr(s, '\0', le) != NULL || (sp1 = memchr(s, ' ', le)) == NULL)
        return LLMUX_EBADREQ;
    for (sp2 = s + le - 1; *sp2 != ' '; sp2--)
        ;
    if (sp2 == sp1 || (size_t)(s + le - (sp2 + 1)) < 5 ||
        memcmp(sp2 + 1, "HTTP/", 5) != 0)
        return LLMUX_EBADREQ;
    *sp1 = '\0';
    *sp2 = '\0';
    req->method = s;
    req->path = sp1 + 1;
    if ((q = strchr(sp1 + 1, '?')) != NULL) {
        *q = '\0';
        req->query = q + 1;
    }
    return 0;
}

/* Header lines are compacted in place: w (write) never passes r (read),
 * since "Name:value\n" becomes "Name\0value\0" and a continuation line
 * "\n<ws>more" becomes " more". A header's closing NUL is written when
 * the next header or the end of the section is reached. */
static int parse_headers(char *s, size_t len, size_t *pos,
                         struct sigv4_raw *raw)
{
    size_t r = *pos, w = *pos, n = 0;
    int open = 0;

    while (r < len) {
        char *nl = memchr(s + r, '\n', len - r), *colon;
        size_t e = nl ? (size_t)(nl - s) : len, le = e;
        size_t next = nl ? e + 1 : len;

        if (le > r && s[le - 1] == '\r')
            le--;
        if (memchr(s + r, '\0', le - r) != NULL)
            return LLMUX_EBADREQ;
        if (le == r) {                  /* the empty line: body follows */
            r = next;
            break;
        }
        if (s[r] == ' ' || s[r] == '\t') {      /* obs-fold */
            if (!open)
                return LLMUX_EBADREQ;
            while (r < le && (s[r] == ' ' || s[r] == '\t'))
                r++;
            s[w++] = ' ';
            memmove(s + w, s + r, le - r);
            w += le - r;
        } else {
            if (open)
                s[w++] = '\0';
            if (n == SIGV4_MAX_RAW_HEADERS)
                return LLMUX_ETOOBIG;
            if ((colon = memchr(s + r, ':', le - r)) == NULL)
                return LLMUX_EBADREQ;
            size_t nlen = (size_t)(colon - (s + r)), vlen = le - nlen - r - 1;
            memmove(s + w, s + r, nlen);
            raw->headers[n].name = s + w;
            w += nlen;
            s[w++] = '\0';
            memmove(s + w, colon + 1, vlen);
            raw->headers[n++].value = s + w;
            w += vlen;
            open = 1;
        }
        r = next;
    }
    if (open)
        s[w] = '\0';                    /* w <= len: s has len + 1 bytes */
    raw->req.nheaders = n;
    *pos = r;
    return 0;
}

int sigv4_parse_raw_request(struct sigv4_raw *ret, const void *text,
                            size_t len)
{
    size_t pos = 0;
    int rc;

    memset(ret, 0, sizeof(*ret));
    if ((text == NULL && len) || len == 0)
        return LLMUX_EBADREQ;
    if (len > SIGV4_MAX_TEXT)
        return LLMUX_ETOOBIG;
    ret->storage = malloc(len + 1);
    ret->headers = calloc(SIGV4_MAX_RAW_HEADERS, sizeof(*ret->headers));
    if (ret->storage == NULL || ret->headers == NULL) {
        sigv4_raw_free(ret);
        return -ENOMEM;
    }
    memcpy(ret->storage, text, len);
    ret->storage[len] = '\0';
    if ((rc = parse_request_line(ret->storage, len, &pos, &ret->req)) < 0 ||
        (rc = parse_headers(ret->storage, len, &pos, ret)) < 0) {
        sigv4_raw_free(ret);
        return rc;
    }
    ret->req.headers = ret->headers;
    ret->req.body = ret->storage + pos;
    ret->req.body_len = len - pos;
    return 0;
}

void sigv4_raw_free(struct sigv4_raw *r)
{
    if (r == NULL)
        return;
    free(r->storage);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

int sigv4_sign_raw(const struct sigv4_creds *c, const void *text,
                   size_t len, int normalize_path, time_t now,
                   struct sigv4_out *out)
{
    struct sigv4_raw raw;
    int rc;

    if (out == NULL)
        return LLMUX_EBADREQ;
    if ((rc = sigv4_parse_raw_request(&raw, text, len)) < 0) {
        out_init(out);
        return rc;
    }
    raw.req.normalize_path = normalize_path;
    rc = sigv4_sign(c, &raw.req, now, out);
    sigv4_raw_free(&raw);
    return rc;
}
