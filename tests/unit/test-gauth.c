/* test-gauth.c -- daemon/gauth.c: service-account keys as Google issues
 * them (a fresh RSA key each run, never a committed one), the RS256
 * JWT-bearer assertion checked with the public key and its claims read
 * back, token lifetimes, and keys that must be refused with a message
 * that holds no byte of the key. */
#include "test.h"
#include "gauth.h"
#include "buf.h"
#include "llmux-errno.h"
#include "secret.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>

/* A new key pair of the given type ("RSA" or "EC"), its private PEM in
 * *ret_pem (malloc'd). */
static EVP_PKEY *new_key(int rsa, char **ret_pem)
{
    EVP_PKEY *pk = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    char *p;
    long n;

    *ret_pem = NULL;
    if (pk == NULL || bio == NULL ||
        PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1) {
        BIO_free(bio);
        EVP_PKEY_free(pk);
        return NULL;
    }
    n = BIO_get_mem_data(bio, &p);
    *ret_pem = strndup(p, (size_t)n);
    BIO_free(bio);
    return pk;
}

/* The service-account JSON Google's console gives, with pem. */
static char *sa_json(const char *pem, const char *type)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type,
                          "project_id", "proj-1", "private_key_id", "kid-7",
                          "private_key", pem, "client_email",
                          "svc@proj-1.iam.gserviceaccount.com", "token_uri",
                          "http://127.0.0.1:9/token");
    char *s = json_dumps(j, 0);

    json_decref(j);
    return s;
}

static json_t *b64url_json(const char *p, size_t n)
{
    char tmp[2048] = "";
    unsigned char out[2048];
    size_t m = 0;
    int len;

    for (size_t i = 0; i < n && m < sizeof(tmp) - 4; i++)
        tmp[m++] = p[i] == '-' ? '+' : p[i] == '_' ? '/' : p[i];
    while (m % 4)
        tmp[m++] = '=';
    if ((len = EVP_DecodeBlock(out, (unsigned char *)tmp, (int)m)) < 0)
        return NULL;
    while (m > 0 && tmp[m - 1] == '=') {   /* DecodeBlock keeps padding */
        m--;
        len--;
    }
    return json_loadb((char *)out, (size_t)len, 0, NULL);
}

/* sig (b64url) over signed with pk: RS256. */
static int verify(EVP_PKEY *pk, const char *signed_part, size_t n,
                  const char *sig64)
{
    char tmp[1024] = "";
    unsigned char sig[512];
    size_t m = 0, slen = strlen(sig64);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int len, ok;

    for (size_t i = 0; i < slen && m < sizeof(tmp) - 4; i++)
        tmp[m++] = sig64[i] == '-' ? '+' : sig64[i] == '_' ? '/' : sig64[i];
    while (m % 4)
        tmp[m++] = '=';
    len = EVP_DecodeBlock(sig, (unsigned char *)tmp, (int)m);
    while (m > 0 && tmp[m - 1] == '=') {
        m--;
        len--;
    }
    ok = len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
                                         pk) == 1 &&
         EVP_DigestVerify(md, sig, (size_t)len,
                          (const unsigned char *)signed_part, n) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

TEST(gauth_jwt_rs256_verifies_with_the_public_key)
{
    char *pem, *js, err[512];
    EVP_PKEY *pk = new_key(1, &pem);
    struct gauth_key *k;
    struct buf jwt;
    const char *d1, *d2;
    json_t *hdr, *cl;

    ASSERT(pk != NULL);
    js = sa_json(pem, "service_account");
    ASSERT_EQ(gauth_key_load(js, strlen(js), &k, err, sizeof(err)), 0);
    ASSERT_STR_EQ(k->client_email, "svc@proj-1.iam.gserviceaccount.com");
    ASSERT_STR_EQ(k->token_uri, "http://127.0.0.1:9/token");
    ASSERT_STR_EQ(k->project_id, "proj-1");
    buf_init(&jwt, 16384);
    ASSERT_EQ(gauth_jwt(k, 1700000000, &jwt), 0);
    ASSERT(buf_add(&jwt, "", 1) == 0);
    d1 = strchr(jwt.p, '.');
    ASSERT(d1 != NULL);
    d2 = strchr(d1 + 1, '.');
    ASSERT(d2 != NULL && strchr(d2 + 1, '.') == NULL);
    ASSERT(strchr(jwt.p, '=') == NULL && strchr(jwt.p, '+') == NULL &&
           strchr(jwt.p, '/') == NULL);
    hdr = b64url_json(jwt.p, (size_t)(d1 - jwt.p));
    cl = b64url_json(d1 + 1, (size_t)(d2 - d1 - 1));
    ASSERT(hdr && cl);
    ASSERT_STR_EQ(json_string_value(json_object_get(hdr, "alg")), "RS256");
    ASSERT_STR_EQ(json_string_value(json_object_get(hdr, "typ")), "JWT");
    ASSERT_STR_EQ(json_string_value(json_object_get(hdr, "kid")), "kid-7");
    ASSERT_STR_EQ(json_string_value(json_object_get(cl, "iss")),
                  "svc@proj-1.iam.gserviceaccount.com");
    ASSERT_STR_EQ(json_string_value(json_object_get(cl, "aud")),
                  "http://127.0.0.1:9/token");
    ASSERT_STR_EQ(json_string_value(json_object_get(cl, "scope")),
                  GAUTH_SCOPE);
    ASSERT_EQ(json_integer_value(json_object_get(cl, "iat")), 1700000000);
    ASSERT_EQ(json_integer_value(json_object_get(cl, "exp")),
              1700000000 + 3600);
    ASSERT(verify(pk, jwt.p, (size_t)(d2 - jwt.p), d2 + 1));
    /* One changed byte of the claims and the signature no longer holds. */
    jwt.p[d1 - jwt.p + 3] ^= 1;
    ASSERT(!verify(pk, jwt.p, (size_t)(d2 - jwt.p), d2 + 1));
    json_decref(hdr);
    json_decref(cl);
    buf_free(&jwt);
    gauth_key_free(k);
    EVP_PKEY_free(pk);
    free(js);
    free(pem);
}

TEST(gauth_b64url_vectors)
{
    /* RFC 4648 section 10, in the URL alphabet without padding. */
    static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba",
                                      "foobar", "\xfb\xff" };
    static const char *const out[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg",
                                       "Zm9vYmE", "Zm9vYmFy", "-_8" };
    struct buf b;

    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        buf_init(&b, 64);
        ASSERT_EQ(gauth_b64url(in[i], strlen(in[i]), &b), 0);
        ASSERT(buf_add(&b, "", 1) == 0);
        ASSERT_STR_EQ(b.p, out[i]);
        buf_free(&b);
    }
}

TEST(gauth_key_from_a_file_and_refusals)
{
    char *pem, *ecpem, *js, err[512], path[] = "/tmp/llmux-gauth-XXXXXX";
    EVP_PKEY *pk = new_key(1, &pem), *ec = new_key(0, &ecpem);
    struct gauth_key *k = NULL;
    const char *line;
    int fd;

    ASSERT(pk && ec);
    js = sa_json(pem, "service_account");
    ASSERT((fd = mkstemp(path)) >= 0);
    ASSERT(write(fd, js, strlen(js)) == (ssize_t)strlen(js));
    close(fd);
    ASSERT_EQ(gauth_key_load(path, strlen(path), &k, err, sizeof(err)), 0);
    ASSERT(k && k->pem->len == strlen(pem));
    k = gauth_key_free(k);
    free(js);
    /* The second line of the PEM: bytes of the key that no message may
     * hold. */
    line = strchr(pem, '\n') + 1;
    /* Not a service account, an EC key, a file that is not JSON, one that
     * is missing: each refused, naming the problem. */
    js = sa_json(pem, "authorized_user");
    ASSERT_EQ(gauth_key_load(js, strlen(js), &k, err, sizeof(err)),
              LLMUX_EAUTH);
    ASSERT(strstr(err, "authorized_user") && !strstr(err, "MII"));
    free(js);
    js = sa_json(ecpem, "service_account");
    ASSERT_EQ(gauth_key_load(js, strlen(js), &k, err, sizeof(err)),
              LLMUX_EAUTH);
    ASSERT(strstr(err, "not an RSA private key") != NULL);
    ASSERT(strstr(err, "MI") == NULL);
    free(js);
    fd = open(path, O_WRONLY | O_TRUNC);
    ASSERT(write(fd, pem, 40) == 40);
    close(fd);
    ASSERT_EQ(gauth_key_load(path, strlen(path), &k, err, sizeof(err)),
              LLMUX_EAUTH);
    ASSERT(strstr(err, "is not JSON") && strstr(err, path));
    ASSERT(strncmp(err, line, 10) != 0 && strstr(err, "BEGIN") == NULL);
    unlink(path);
    ASSERT_EQ(gauth_key_load(path, strlen(path), &k, err, sizeof(err)),
              LLMUX_ENOTFOUND);
    ASSERT(strstr(err, path) && strstr(err, "No such file"));
    ASSERT(k == NULL);
    EVP_PKEY_free(pk);
    EVP_PKEY_free(ec);
    free(pem);
    free(ecpem);
}

TEST(gauth_token_lifetimes)
{
    /* Google's hour: used until a minute before, refreshed from five
     * minutes before. Short tokens keep the same order. */
    ASSERT_EQ((long)gauth_use_secs(3600), 3540);
    ASSERT_EQ((long)gauth_refresh_secs(3600), 3300);
    ASSERT(gauth_use_secs(3) > gauth_refresh_secs(3));
    ASSERT(gauth_refresh_secs(3) > 1.9 && gauth_use_secs(3) < 3);
}

TEST(gauth_backoff_doubles_to_its_cap)
{
    /* A second after the first failure, doubled after each one more in a
     * row, never past the cap (a broken endpoint is asked once a minute). */
    ASSERT_EQ((long)gauth_backoff_secs(1), 1);
    ASSERT_EQ((long)gauth_backoff_secs(2), 2);
    ASSERT_EQ((long)gauth_backoff_secs(4), 8);
    ASSERT_EQ((long)gauth_backoff_secs(6), 32);
    ASSERT_EQ((long)gauth_backoff_secs(7), GAUTH_BACKOFF_MAX);
    ASSERT_EQ((long)gauth_backoff_secs(4000000000u), GAUTH_BACKOFF_MAX);
}
