/* test-sigv4.c -- daemon/sigv4.c against every case of the official AWS
 * SigV4 suite (botocore's aws4_testsuite, aws-c-auth's v4 cases), the
 * openai-python Bedrock POST vector, and garbage that must not crash it.
 * Case directories are listed with readdir and counted, so none can be
 * skipped silently. */
#include "test.h"
#include "sigv4.h"
#include "buf.h"
#include "llmux-errno.h"

#include <dirent.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#define AWS4_DIR     "sigv4/aws4_testsuite"
#define AWSC_DIR     "sigv4/aws-c-auth-v4"
#define AWS4_CASES   34
#define AWSC_CASES   16

/* Harness settings of botocore's tests/unit/auth/test_sigv4.py. */
static const struct sigv4_creds suite_creds = {
    .access_key = "AKIDEXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "service",
};
#define SUITE_TIME "2015-08-30T12:36:00Z"

/* get-vanilla-with-session-token signs this token, which its .req does
 * not carry: it comes from the harness (aws-c-auth's suite generator,
 * token_context; it also appears in the case's .sreq). */
#define VANILLA_TOKEN \
    "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"

/* "2015-08-30T12:36:00Z" or "...05.000Z" -> time_t; -1 if unparsable. */
static time_t parse_time(const char *s)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (s == NULL || strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) == NULL)
        return (time_t)-1;
    return timegm(&tm);
}

#define PATHLEN 4096

/* dst = dir/name+ext; NULL (and a message) if it does not fit. */
static const char *path_of(char dst[PATHLEN], const char *dir,
                           const char *name, const char *ext)
{
    int n = snprintf(dst, PATHLEN, "%s/%s%s", dir, name, ext);

    if (n < 0 || n >= PATHLEN) {
        fprintf(stderr, "  path too long: %s/%s%s\n", dir, name, ext);
        return NULL;
    }
    return dst;
}

static char *read_case_file(const char *dir, const char *name,
                            const char *ext)
{
    char path[PATHLEN];

    if (path_of(path, dir, name, ext) == NULL)
        return NULL;
    return test_read_file(path, NULL);
}

/* Prints a mismatch naming the case; returns 1 if equal. */
static int same(const char *cs, const char *what, const char *got,
                const char *want)
{
    if (got != NULL && want != NULL && strcmp(got, want) == 0)
        return 1;
    fprintf(stderr, "  case %s: %s differs\n    got:  \"%s\"\n"
            "    want: \"%s\"\n", cs, what, got ? got : "(null)",
            want ? want : "(missing file)");
    return 0;
}

static const char *added(const struct sigv4_out *o, const char *name)
{
    for (size_t i = 0; i < o->nadd; i++)
        if (strcasecmp(o->add[i].name, name) == 0)
            return o->add[i].value;
    return NULL;
}

struct sign_opts {
    const char *token;
    int normalize, sign_body, omit_token;
    const char *service;
    time_t now;
};

/* Parses and signs a raw request file; returns 0 or prints and fails. */
static int sign_file(const char *cs, const char *path,
                     const struct sign_opts *o, struct sigv4_out *out)
{
    struct sigv4_creds c = suite_creds;
    struct sigv4_raw raw;
    size_t len = 0;
    char *text = test_read_file(path, &len);
    int rc;

    if (text == NULL) {
        fprintf(stderr, "  case %s: cannot read %s\n", cs, path);
        return -1;
    }
    c.session_token = o->token;
    if (o->service)
        c.service = o->service;
    rc = sigv4_parse_raw_request(&raw, text, len);
    if (rc == 0) {
        raw.req.normalize_path = o->normalize;
        raw.req.sign_body_header = o->sign_body;
        raw.req.omit_session_token = o->omit_token;
        rc = sigv4_sign(&c, &raw.req, o->now, out);
        sigv4_raw_free(&raw);
    }
    free(text);
    if (rc < 0)
        fprintf(stderr, "  case %s: signing failed (%d)\n", cs, rc);
    /* The token is always handed back, even when left unsigned. */
    if (rc == 0 && o->token && !same(cs, "X-Amz-Security-Token",
                                     added(out, "X-Amz-Security-Token"),
                                     o->token)) {
        sigv4_out_free(out);
        rc = -1;
    }
    return rc < 0 ? -1 : 0;
}

/* ---- botocore aws4_testsuite ------------------------------------------ */

/* The post-sts-token cases use the token quoted on the last line of
 * post-sts-token/readme.txt. Returns a malloc'd string or NULL. */
static char *readme_token(void)
{
    char *t = test_read_file(conformance_path(AWS4_DIR
                                              "/post-sts-token/readme.txt"),
                             NULL);
    char *e, *s, *ret = NULL;

    if (t == NULL)
        return NULL;
    for (e = t + strlen(t); e > t && (e[-1] == '\n' || e[-1] == '\r' ||
                                      e[-1] == ' '); e--)
        ;
    *e = '\0';
    s = strrchr(t, '\n');
    s = s ? s + 1 : t;
    if (*s)
        ret = strdup(s);
    free(t);
    return ret;
}

/* One case: dir/name.{req,creq,sts,authz}. Returns 1 on pass. */
static int aws4_case(const char *dir, const char *name, const char *sts_tok)
{
    struct sign_opts o = { .normalize = 1, .now = parse_time(SUITE_TIME) };
    struct sigv4_out out;
    char file[PATHLEN], *creq, *sts, *authz;
    int ok;

    if (strcmp(name, "get-vanilla-with-session-token") == 0)
        o.token = VANILLA_TOKEN;
    if (strncmp(name, "post-sts-header-", 16) == 0)
        o.token = sts_tok;
    o.omit_token = strcmp(name, "post-sts-header-after") == 0;
    if (path_of(file, dir, name, ".req") == NULL ||
        sign_file(name, file, &o, &out) < 0)
        return 0;
    creq = read_case_file(dir, name, ".creq");
    sts = read_case_file(dir, name, ".sts");
    authz = read_case_file(dir, name, ".authz");
    ok = same(name, "canonical request", out.canonical_request.p, creq) &
         same(name, "string to sign", out.string_to_sign.p, sts) &
         same(name, "Authorization", out.authorization.p, authz);
    free(creq);
    free(sts);
    free(authz);
    sigv4_out_free(&out);
    return ok;
}

static int is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A directory holding <its own name>.req is a case; any other directory
 * is a group (post-sts-token/, normalize-path/) and is searched. */
static void aws4_walk(const char *dir, int depth, const char *sts_tok,
                      int *ncases, int *npass)
{
    DIR *d = opendir(dir);
    struct dirent *ent;
    char sub[PATHLEN], req[PATHLEN];

    if (d == NULL) {
        fprintf(stderr, "  cannot open %s\n", dir);
        return;
    }
    while ((ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.')
            continue;
        if (path_of(sub, dir, ent->d_name, "") == NULL || !is_dir(sub) ||
            path_of(req, sub, ent->d_name, ".req") == NULL)
            continue;
        if (access(req, R_OK) == 0) {
            (*ncases)++;
            *npass += aws4_case(sub, ent->d_name, sts_tok);
        } else if (depth < 3) {
            aws4_walk(sub, depth + 1, sts_tok, ncases, npass);
        }
    }
    closedir(d);
}

TEST(sigv4_aws4_testsuite)
{
    char dir[PATHLEN];
    char *tok = readme_token();
    int ncases = 0, npass = 0;

    ASSERT(tok != NULL && strncmp(tok, "AQoDYXdz", 8) == 0);
    snprintf(dir, sizeof(dir), "%s", conformance_path(AWS4_DIR));
    aws4_walk(dir, 0, tok, &ncases, &npass);
    free(tok);
    ASSERT_EQ(ncases, AWS4_CASES);
    ASSERT_EQ(npass, AWS4_CASES);
}

/* ---- aws-c-auth v4 ---------------------------------------------------- */

/* The Authorization value out of header-signed-request.txt. */
static char *signed_request_authz(const char *dir)
{
    char *t = read_case_file(dir, "header-signed-request.txt", "");
    char *p, *e, *ret = NULL;

    if (t == NULL)
        return NULL;
    if ((p = strstr(t, "\nAuthorization:")) != NULL) {
        p += strlen("\nAuthorization:");
        e = p + strcspn(p, "\r\n");
        ret = strndup(p, (size_t)(e - p));
    }
    free(t);
    return ret;
}

static int json_eq(json_t *j, const char *key, const char *want)
{
    const char *v = json_string_value(json_object_get(j, key));

    return v != NULL && strcmp(v, want) == 0;
}

static int awsc_opts(const char *cs, const char *dir, struct sign_opts *o,
                     char **ret_token)
{
    char path[PATHLEN];
    json_error_t err;
    json_t *j, *tok;

    if (path_of(path, dir, "context.json", "") == NULL)
        return -1;
    if ((j = json_load_file(path, 0, &err)) == NULL) {
        fprintf(stderr, "  case %s: context.json: %s\n", cs, err.text);
        return -1;
    }
    memset(o, 0, sizeof(*o));
    o->normalize = json_is_true(json_object_get(j, "normalize"));
    o->sign_body = json_is_true(json_object_get(j, "sign_body"));
    o->omit_token = json_is_true(json_object_get(j, "omit_session_token"));
    o->now = parse_time(json_string_value(json_object_get(j, "timestamp")));
    tok = json_object_get(json_object_get(j, "credentials"), "token");
    *ret_token = json_is_string(tok) ? strdup(json_string_value(tok)) : NULL;
    o->token = *ret_token;
    /* Every case uses the suite's fixed scope; make sure. */
    if (!json_eq(j, "region", "us-east-1") ||
        !json_eq(j, "service", "service") || o->now == (time_t)-1) {
        fprintf(stderr, "  case %s: unexpected context.json\n", cs);
        json_decref(j);
        return -1;
    }
    json_decref(j);
    return 0;
}

static int awsc_case(const char *dir, const char *cs)
{
    struct sign_opts o;
    struct sigv4_out out;
    char path[PATHLEN], *token = NULL, *creq, *sts, *sig, *authz;
    int ok;

    if (awsc_opts(cs, dir, &o, &token) < 0)
        return 0;
    if (path_of(path, dir, "request.txt", "") == NULL ||
        sign_file(cs, path, &o, &out) < 0) {
        free(token);
        return 0;
    }
    creq = read_case_file(dir, "header-canonical-request.txt", "");
    sts = read_case_file(dir, "header-string-to-sign.txt", "");
    sig = read_case_file(dir, "header-signature.txt", "");
    authz = signed_request_authz(dir);
    ok = same(cs, "canonical request", out.canonical_request.p, creq) &
         same(cs, "string to sign", out.string_to_sign.p, sts) &
         same(cs, "signature", out.signature, sig) &
         same(cs, "Authorization", out.authorization.p, authz);
    free(creq);
    free(sts);
    free(sig);
    free(authz);
    free(token);
    sigv4_out_free(&out);
    return ok;
}

TEST(sigv4_aws_c_auth_v4)
{
    char dir[PATHLEN], sub[PATHLEN];
    DIR *d;
    struct dirent *ent;
    int ncases = 0, npass = 0;

    snprintf(dir, sizeof(dir), "%s", conformance_path(AWSC_DIR));
    d = opendir(dir);
    ASSERT(d != NULL);
    while ((ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.')
            continue;
        if (path_of(sub, dir, ent->d_name, "") == NULL || !is_dir(sub))
            continue;           /* LICENSE, NOTICE */
        ncases++;
        npass += awsc_case(sub, ent->d_name);
    }
    closedir(d);
    ASSERT_EQ(ncases, AWSC_CASES);
    ASSERT_EQ(npass, AWSC_CASES);
}

/* ---- openai-python Bedrock POST vector -------------------------------- */

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

#define JSTR(obj, key) json_string_value(json_object_get((obj), (key)))

TEST(sigv4_openai_bedrock_vector)
{
    json_error_t err;
    json_t *j = json_load_file(conformance_path(
                    "sigv4/openai-python-bedrock/sigv4.json"), 0, &err);
    json_t *cr, *rq, *ex;
    struct sigv4_creds c;
    struct sigv4_header h[2];
    struct sigv4_req r;
    struct sigv4_out out;
    char host[256], creq_hash[65];
    const char *url, *path, *body;
    int rc;

    ASSERT(j != NULL);
    cr = json_object_get(j, "credentials");
    rq = json_object_get(j, "request");
    ex = json_object_get(j, "expected");
    c = (struct sigv4_creds){ JSTR(cr, "accessKeyId"),
                              JSTR(cr, "secretAccessKey"),
                              JSTR(cr, "sessionToken"), JSTR(j, "region"),
                              JSTR(j, "service") };
    url = JSTR(rq, "url");
    body = JSTR(rq, "body");
    ASSERT(url != NULL && body != NULL && strncmp(url, "https://", 8) == 0);
    path = strchr(url + 8, '/');
    ASSERT(path != NULL && (size_t)(path - url - 8) < sizeof(host));
    snprintf(host, sizeof(host), "%.*s", (int)(path - url - 8), url + 8);
    h[0] = (struct sigv4_header){ "Content-Type", JSTR(rq, "contentType") };
    h[1] = (struct sigv4_header){ "Host", host };
    r = (struct sigv4_req){ .method = JSTR(rq, "method"), .path = path,
                            .headers = h, .nheaders = 2, .body = body,
                            .body_len = strlen(body), .normalize_path = 1,
                            .sign_body_header = 1 };
    rc = sigv4_sign(&c, &r, parse_time(JSTR(j, "signingDate")), &out);
    if (rc != 0)
        json_decref(j);
    ASSERT_EQ(rc, 0);
    sha256_hex(out.canonical_request.p, out.canonical_request.len,
               creq_hash);
    rc = same("openai-bedrock", "date", out.amz_date, JSTR(ex, "date")) &
         same("openai-bedrock", "payload hash", out.payload_hash,
              JSTR(ex, "payloadHash")) &
         same("openai-bedrock", "x-amz-content-sha256",
              added(&out, "x-amz-content-sha256"), JSTR(ex, "payloadHash")) &
         same("openai-bedrock", "canonical request hash", creq_hash,
              JSTR(ex, "canonicalRequestHash")) &
         same("openai-bedrock", "Authorization", out.authorization.p,
              JSTR(ex, "authorization")) &
         same("openai-bedrock", "X-Amz-Security-Token",
              added(&out, "X-Amz-Security-Token"), c.session_token) &
         same("openai-bedrock", "X-Amz-Date", added(&out, "X-Amz-Date"),
              JSTR(ex, "date"));
    sigv4_out_free(&out);
    json_decref(j);
    ASSERT(rc == 1);
}

/* ---- encoding rules the suite does not pin down ----------------------- */

static int sign_simple(const char *path, const char *query,
                       const struct sigv4_header *h, size_t nh,
                       struct sigv4_out *out)
{
    struct sigv4_req r = { .method = "GET", .path = path, .query = query,
                           .headers = h, .nheaders = nh,
                           .normalize_path = 1 };

    return sigv4_sign(&suite_creds, &r, parse_time(SUITE_TIME), out);
}

/* The n-th line of s (0-based) into a static buffer. */
static const char *line_of(const char *s, int n)
{
    static char line[1024];
    const char *e;

    while (n-- > 0 && s && (s = strchr(s, '\n')) != NULL)
        s++;
    if (s == NULL)
        return "";
    e = s + strcspn(s, "\n");
    snprintf(line, sizeof(line), "%.*s", (int)(e - s), s);
    return line;
}

TEST(sigv4_uri_encode)
{
    struct buf b;
    const char *id = "anthropic.claude-3-5-sonnet-20240620-v1:0";

    buf_init(&b, 1024);
    ASSERT_EQ(sigv4_uri_encode(&b, id, strlen(id), 1), 0);
    ASSERT_STR_EQ(b.p, "anthropic.claude-3-5-sonnet-20240620-v1%3A0");
    buf_reset(&b);
    ASSERT_EQ(sigv4_uri_encode(&b, "a b/c~\xe1\x88\xb4%+", 11, 1), 0);
    ASSERT_STR_EQ(b.p, "a%20b%2Fc~%E1%88%B4%25%2B");
    buf_reset(&b);
    ASSERT_EQ(sigv4_uri_encode(&b, "/a b/", 5, 0), 0);
    ASSERT_STR_EQ(b.p, "/a%20b/");
    buf_free(&b);
}

/* What the Bedrock adapter does: encode the model id once for the wire;
 * the canonical request then carries it encoded twice (%253A), which is
 * what AWS's "The Canonical String for this request should have been"
 * messages show for bedrock-runtime. */
TEST(sigv4_bedrock_model_path)
{
    struct sigv4_header h[] = {
        { "Host", "bedrock-runtime.us-east-1.amazonaws.com" },
    };
    const char *id = "anthropic.claude-3-5-sonnet-20240620-v1:0";
    struct sigv4_out out;
    struct buf path;

    buf_init(&path, 1024);
    ASSERT_EQ(buf_adds(&path, "/model/"), 0);
    ASSERT_EQ(sigv4_uri_encode(&path, id, strlen(id), 1), 0);
    ASSERT_EQ(buf_adds(&path, "/invoke"), 0);
    ASSERT_STR_EQ(path.p,
                  "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke");
    ASSERT_EQ(sign_simple(path.p, NULL, h, 1, &out), 0);
    buf_free(&path);
    ASSERT_STR_EQ(line_of(out.canonical_request.p, 1),
                  "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0"
                  "/invoke");
    sigv4_out_free(&out);
}

TEST(sigv4_query_and_header_rules)
{
    struct sigv4_header h[] = {
        { "Host", "example.amazonaws.com" },
        { "X-Tabs", " \t a \t\t b  c\t" },
        { "x-empty", "" },
        { "X-EMPTY", "  v  " },
    };
    struct sigv4_out out;

    ASSERT_EQ(sign_simple("/a/./b/../c//", "b=2&a=1&&c&%e1%88%b4=x+y&"
                          "d=%zz&e=%2&a=0", h, 4, &out), 0);
    ASSERT_STR_EQ(line_of(out.canonical_request.p, 1), "/a/c/");
    ASSERT_STR_EQ(line_of(out.canonical_request.p, 2),
                  "%E1%88%B4=x%2By&a=0&a=1&b=2&c=&d=%25zz&e=%252");
    ASSERT_STR_EQ(line_of(out.canonical_request.p, 5), "x-empty:,v");
    ASSERT_STR_EQ(line_of(out.canonical_request.p, 6), "x-tabs:a b c");
    ASSERT_STR_EQ(line_of(out.canonical_request.p, 8),
                  "host;x-amz-date;x-empty;x-tabs");
    ASSERT_EQ(out.nadd, 1);
    ASSERT_STR_EQ(out.add[0].value, "20150830T123600Z");
    sigv4_out_free(&out);
}

TEST(sigv4_rejects_bad_input)
{
    struct sigv4_header host = { "Host", "h" };
    struct sigv4_header crlf[] = { { "Host", "h" }, { "X-A", "a\r\nB: b" } };
    struct sigv4_header authz[] = { { "Host", "h" }, { "Authorization", "" } };
    struct sigv4_header badname[] = { { "Host", "h" }, { "X A", "x" } };
    struct sigv4_header nohost = { "X-A", "a" };
    struct sigv4_creds c = suite_creds;
    struct sigv4_req r = { .method = "GET", .path = "/", .headers = &host,
                           .nheaders = 1 };
    struct sigv4_out out;

    ASSERT_EQ(sign_simple("/", NULL, crlf, 2, &out), LLMUX_EBADREQ);
    ASSERT_EQ(sign_simple("/", NULL, authz, 2, &out), LLMUX_EBADREQ);
    ASSERT_EQ(sign_simple("/", NULL, badname, 2, &out), LLMUX_EBADREQ);
    ASSERT_EQ(sign_simple("/", NULL, &nohost, 1, &out), LLMUX_EBADREQ);
    ASSERT_EQ(sign_simple("relative", NULL, &host, 1, &out), LLMUX_EBADREQ);
    c.region = "us-east-1/x";
    ASSERT_EQ(sigv4_sign(&c, &r, 0, &out), LLMUX_EBADREQ);
    c = suite_creds;
    c.session_token = "tok\nen";
    ASSERT_EQ(sigv4_sign(&c, &r, 0, &out), LLMUX_EBADREQ);
    c.session_token = "";       /* empty means none */
    ASSERT_EQ(sigv4_sign(&c, &r, 0, &out), 0);
    ASSERT_EQ(out.nadd, 1);
    sigv4_out_free(&out);
    r.method = "GET X";
    ASSERT_EQ(sigv4_sign(&suite_creds, &r, 0, &out), LLMUX_EBADREQ);
    r.method = "GET";
    ASSERT_EQ(sigv4_sign(&suite_creds, &r, (time_t)1 << 60, &out),
              LLMUX_EBADREQ);
    r.body_len = 1;
    ASSERT_EQ(sigv4_sign(&suite_creds, &r, 0, &out), LLMUX_EBADREQ);
    sigv4_out_free(&out);       /* harmless after an error */
}

/* ---- raw parser robustness (what the fuzz harness exercises) ---------- */

static int sign_raw(const char *text, size_t len)
{
    struct sigv4_out out;
    int rc = sigv4_sign_raw(&suite_creds, text, len, 1,
                            parse_time(SUITE_TIME), &out);

    if (rc == 0)
        sigv4_out_free(&out);
    return rc;
}

TEST(sigv4_raw_parser)
{
    struct sigv4_raw raw;
    const char *t = "POST /p?q=1 HTTP/1.1\r\nHost: h\r\nX-M: a\r\n  b\r\n"
                    "\tc\r\n\r\nbody\r\n";
    char many[8192];
    size_t n = 0;

    ASSERT_EQ(sigv4_parse_raw_request(&raw, t, strlen(t)), 0);
    ASSERT_STR_EQ(raw.req.method, "POST");
    ASSERT_STR_EQ(raw.req.path, "/p");
    ASSERT_STR_EQ(raw.req.query, "q=1");
    ASSERT_EQ(raw.req.nheaders, 2);
    ASSERT_STR_EQ(raw.req.headers[1].name, "X-M");
    ASSERT_STR_EQ(raw.req.headers[1].value, " a b c");
    ASSERT_EQ(raw.req.body_len, 6);
    ASSERT_MEM_EQ(raw.req.body, "body\r\n", 6);
    sigv4_raw_free(&raw);

    ASSERT_EQ(sign_raw("", 0), LLMUX_EBADREQ);
    ASSERT_EQ(sign_raw("GET", 3), LLMUX_EBADREQ);
    ASSERT_EQ(sign_raw("GET / HTTP/1.1\n cont\n", 21), LLMUX_EBADREQ);
    ASSERT_EQ(sign_raw("GET / HTTP/1.1\nnocolon\n", 23), LLMUX_EBADREQ);
    ASSERT_EQ(sign_raw("GET / HTTP/1.1\nHost:\0h\n", 23), LLMUX_EBADREQ);
    ASSERT_EQ(sign_raw("GET / HTTP/1.1\nHost:h", 21), 0);
    n = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\n");
    for (int i = 0; i <= SIGV4_MAX_RAW_HEADERS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "H:%d\n", i);
    ASSERT_EQ(sign_raw(many, n), LLMUX_ETOOBIG);
}

/* Every prefix of every suite request, then seeded byte mutations of one:
 * each must sign or fail cleanly (valgrind/ASan watch for the rest). */
TEST(sigv4_raw_garbage_does_not_crash)
{
    static const char *files[] = {
        AWS4_DIR "/get-header-value-multiline/get-header-value-multiline.req",
        AWS4_DIR "/post-x-www-form-urlencoded/post-x-www-form-urlencoded.req",
        AWS4_DIR "/normalize-path/get-space/get-space.req",
        AWS4_DIR "/get-vanilla-query-order-encoded/"
                 "get-vanilla-query-order-encoded.req",
    };
    unsigned seed = 12345;
    int ok = 0;

    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        size_t len = 0;
        char *t = test_read_file(conformance_path(files[f]), &len);

        ASSERT(t != NULL);
        for (size_t n = 0; n <= len; n++)
            ok += sign_raw(t, n) == 0;
        for (int i = 0; i < 2000; i++) {
            char *m = malloc(len);
            memcpy(m, t, len);
            for (int k = 0; k < 3; k++) {
                seed = seed * 1103515245u + 12345u;
                m[(seed >> 8) % len] = (char)(seed >> 20);
            }
            ok += sign_raw(m, len) == 0;
            free(m);
        }
        free(t);
    }
    ASSERT(ok > 0);
}
