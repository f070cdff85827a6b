/* gauth.h -- Google service-account credentials and their access tokens.
 * Owns: struct gauth_key (a service-account JSON key, typed at load; the
 * private key in locked memory), the RS256-signed JWT of the OAuth2
 * JWT-bearer grant, and struct gauth_pool: one cached token per key in
 * struct server, obtained by a POST to the key's token_uri on the loop's
 * curl multi, shared by every request that waits for it and refreshed
 * ahead of its expiry while it is in use. Knows nothing of requests. */
#ifndef LLMUX_GAUTH_H
#define LLMUX_GAUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "buf.h"
#include "provider.h"
#include "xfer.h"

struct secret;
struct upstream;

/* The OAuth2 scope Vertex AI wants. */
#define GAUTH_SCOPE "https://www.googleapis.com/auth/cloud-platform"
/* Lifetime asked for in the JWT (Google's maximum). */
#define GAUTH_JWT_LIFETIME 3600

struct gauth_key {
    char          *client_email;   /* owned: the JWT's iss */
    char          *token_uri;      /* owned: the JWT's aud, and where the
                                    * exchange goes */
    char          *key_id;         /* owned: private_key_id (JWT kid), or
                                    * NULL */
    char          *project_id;     /* owned, or NULL */
    struct secret *pem;            /* owned: the PEM private key */
};

/* Reads a service-account key from src: JSON text when it starts with
 * '{', else the path of a JSON file. The key is checked (an RSA private
 * key that signs). 0, or < 0 with err saying what is wrong, naming the
 * file and field but never a byte of the key. */
int  gauth_key_load(const char *src, size_t len, struct gauth_key **ret,
                    char *err, size_t errlen);
/* A copy (for the token cache, which outlives configs); NULL on OOM. */
struct gauth_key *gauth_key_copy(const struct gauth_key *k);
/* Accepts NULL; returns NULL. */
struct gauth_key *gauth_key_free(struct gauth_key *k);

/* The signed JWT "header.claims.signature" for now (Unix seconds),
 * appended to out (which should be wiped after use: it buys a token).
 * 0, or < 0 (LLMUX_EAUTH when the key does not sign). */
int  gauth_jwt(const struct gauth_key *k, time_t now, struct buf *out);
/* base64url without padding, appended to out. */
int  gauth_b64url(const void *p, size_t n, struct buf *out);

/* A request waiting for a token. cb runs once, from the loop: code 0 and
 * the token (borrowed, valid for the callback only), or code < 0 and a
 * message that never holds a secret. */
struct gauth_wait {
    struct gauth_wait *next;
    void             (*cb)(struct gauth_wait *w, int code,
                           const struct secret *token, const char *msg);
};

struct gauth_pool;

/* One key's token, and the exchange that refreshes it. */
struct gauth_tok {
    struct gauth_tok  *next;
    struct gauth_pool *pool;
    struct gauth_key  *key;         /* owned copy */
    struct secret     *token;       /* owned; NULL until one came */
    uint64_t           use_until;   /* uv_hrtime ns: usable before this */
    uint64_t           refresh_at;  /* ... and refreshed from this on */
    int                used;        /* a request took this token */
    int                busy;        /* an exchange runs */
    /* After a failed exchange: no other before retry_at (uv_hrtime ns),
     * so a broken token endpoint is not hammered; requests meanwhile get
     * the failure's code and words (never a secret). */
    unsigned           fails;       /* exchanges failed in a row */
    uint64_t           retry_at;
    int                fail_code;
    char               fail_msg[400];
    struct http_req    hreq;        /* the exchange's request */
    struct xfer        xfer;
    uv_timer_t         timer;       /* the refresh ahead of expiry */
    struct gauth_wait *waiters;
};

struct gauth_pool {
    uv_loop_t        *loop;
    struct upstream  *up;
    struct gauth_tok *toks;         /* owned, one per distinct key */
    unsigned          exchanges;    /* started, for logs and tests */
};

void gauth_pool_init(struct gauth_pool *p, uv_loop_t *loop,
                     struct upstream *up);
/* Stops exchanges (waiters are told) and frees the tokens. */
void gauth_pool_close(struct gauth_pool *p);

/* The token for k: 0 with *ret a token usable now (borrowed until the
 * next loop iteration), 1 when w will be called once a token came (or
 * the exchange failed), < 0 with msg set when no exchange can start or
 * the last one failed less than its backoff ago (gauth_backoff_secs). */
int  gauth_token(struct gauth_pool *p, const struct gauth_key *k,
                 struct gauth_wait *w, const struct secret **ret,
                 char *msg, size_t len);
/* Forgets a waiter (its request ended); no-op when it is not waiting. */
void gauth_cancel(struct gauth_pool *p, struct gauth_wait *w);

/* The wait after the n-th failed exchange in a row (n >= 1): a second,
 * doubled each time, at most GAUTH_BACKOFF_MAX seconds. */
#define GAUTH_BACKOFF_MAX 60
double gauth_backoff_secs(unsigned n);

/* When a token of lifetime secs (from expires_in) stops being used and
 * when its refresh starts, in seconds after it came: a minute (or a
 * sixth of short lifetimes) before expiry, and five minutes (or a third)
 * before. */
double gauth_use_secs(double secs);
double gauth_refresh_secs(double secs);

#endif
