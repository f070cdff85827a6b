/* sigv4.h -- AWS Signature Version 4, header-based (no presigned URLs).
 * Owns: the canonical request, the string to sign, the signing-key
 * derivation and the Authorization value for one request; the path/query
 * URI encoding rules; a parser for raw ".req" request text (tests, fuzzer).
 * Knows nothing about curl or providers: the Bedrock adapter feeds it. */
#ifndef LLMUX_SIGV4_H
#define LLMUX_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "buf.h"

#define SIGV4_HEX_LEN    64         /* a SHA-256 / HMAC-SHA256 in hex */
#define SIGV4_DATE_LEN   16         /* "20150830T123600Z" */
#define SIGV4_MAX_TEXT   (1 << 20)  /* cap on canonical request & co. */
#define SIGV4_MAX_RAW_HEADERS 256   /* cap for sigv4_parse_raw_request */

/* Borrowed strings, NUL-terminated; none is kept past the call (the
 * session token is copied into sigv4_out). */
struct sigv4_creds {
    const char *access_key;
    const char *secret_key;         /* wiped copies only; never logged */
    const char *session_token;      /* NULL or "": long-term credentials */
    const char *region;             /* "us-east-1" */
    const char *service;            /* "bedrock", "service" ... */
};

/* One header exactly as the caller will send it (any case, untrimmed). */
struct sigv4_header {
    const char *name;
    const char *value;
};

struct sigv4_req {
    const char *method;             /* "POST" */
    /* The path as it goes on the request line: already URI-encoded by
     * the caller (see sigv4_uri_encode), so it may hold %XX. Signing
     * encodes it once more ('%' -> "%25"), which is AWS's "encode twice"
     * rule for every service but S3. NULL or "" means "/"; anything
     * else must start with '/'. */
    const char *path;
    const char *query;              /* raw, without '?'; may be NULL */
    /* Every header given is signed, so pass exactly what will be sent
     * (Host is required). X-Amz-Date, and X-Amz-Security-Token /
     * x-amz-content-sha256 when they apply, are produced by sigv4_sign:
     * copies of them here are ignored. Authorization is refused. */
    const struct sigv4_header *headers;
    size_t nheaders;
    const void *body;               /* may be NULL when body_len is 0 */
    size_t body_len;
    /* 1 for every service but S3: remove "." and ".." segments and empty
     * segments ("//") before encoding. 0 keeps the path as given (the
     * suite's "-unnormalized" cases). S3 would also want the path encoded
     * only once, which llmux does not implement. */
    int normalize_path;
    int sign_body_header;           /* 1: add and sign x-amz-content-sha256 */
    /* 1: send X-Amz-Security-Token but leave it out of the signature
     * (services that want it "added after signing"; the suite's
     * post-sts-header-after). 0 signs it, which is what Bedrock wants. */
    int omit_session_token;
};

/* Headers sigv4_sign asks the caller to add, at most this many. */
#define SIGV4_MAX_ADD 3

struct sigv4_out {
    struct buf canonical_request;   /* owned, wiped (holds the token) */
    struct buf string_to_sign;      /* owned, wiped */
    struct buf authorization;       /* owned, wiped; Authorization value */
    struct buf session_token;       /* owned, wiped; copy for add[] */
    char signature[SIGV4_HEX_LEN + 1];
    char payload_hash[SIGV4_HEX_LEN + 1];  /* hex SHA-256 of the body */
    char amz_date[SIGV4_DATE_LEN + 1];     /* X-Amz-Date value */
    /* X-Amz-Date, then X-Amz-Security-Token (if a token was given, signed
     * or not), then X-Amz-Content-Sha256 (if asked). Names are static;
     * values point into *out itself: valid until sigv4_out_free(), and
     * only in this very struct (do not copy a sigv4_out by value). */
    struct sigv4_header add[SIGV4_MAX_ADD];
    size_t nadd;
};

/* Signs r with c at time now (passed in so tests can fix the clock).
 * Fills *out; on success the caller must call sigv4_out_free(out). On
 * error *out holds nothing (freeing it anyway is harmless). Returns 0,
 * LLMUX_EBADREQ for unusable input (CR/LF in a header, no Host header,
 * an Authorization header, bad credential fields, ...), LLMUX_ETOOBIG
 * past SIGV4_MAX_TEXT, LLMUX_EINTERNAL if libcrypto fails, -ENOMEM. */
int sigv4_sign(const struct sigv4_creds *c, const struct sigv4_req *r,
               time_t now, struct sigv4_out *out);

/* Wipes and frees what sigv4_sign put in *out. Accepts NULL. */
void sigv4_out_free(struct sigv4_out *out);

/* Appends s[0..n) to out, URI-encoded the SigV4 way: A-Z a-z 0-9 - _ . ~
 * are kept, every other byte becomes %XX (upper-case hex), '/' too when
 * encode_slash. Use it with encode_slash=1 on a path segment such as a
 * Bedrock model id ("...-v1:0" -> "...-v1%3A0"), then pass the resulting
 * path to sigv4_sign, which signs ".../v1%253A0" as AWS expects.
 * Returns 0, LLMUX_ETOOBIG or -ENOMEM (from buf_add). */
int sigv4_uri_encode(struct buf *out, const char *s, size_t n,
                     int encode_slash);

/* A raw HTTP/1.1 request (the suite's .req / request.txt format) parsed
 * into a sigv4_req. Everything req points to lives in 'storage'. */
struct sigv4_raw {
    struct sigv4_req req;           /* flags left 0 for the caller to set */
    struct sigv4_header *headers;   /* owned */
    char *storage;                  /* owned: edited copy of the text */
};

/* Parses text[0..len): "METHOD TARGET HTTP/x.y" (TARGET may hold spaces:
 * the last space starts the version), header lines ("Name:value"; a line
 * starting with SP/HT continues the previous value and is joined with
 * one space), an empty line, the body. LF or CRLF. Never reads past len.
 * The daemon does not use it; it serves the conformance tests and the
 * fuzz harness. Returns 0 (free with sigv4_raw_free), LLMUX_EBADREQ,
 * LLMUX_ETOOBIG (over SIGV4_MAX_TEXT bytes or SIGV4_MAX_RAW_HEADERS
 * headers) or -ENOMEM. */
int sigv4_parse_raw_request(struct sigv4_raw *ret, const void *text,
                            size_t len);

/* Frees what sigv4_parse_raw_request allocated. Accepts NULL. */
void sigv4_raw_free(struct sigv4_raw *r);

/* Fuzz entry point: parses arbitrary bytes as a raw request and signs it
 * with c. Must never crash or leak, whatever the input. Returns like
 * sigv4_sign; on success the caller frees *out with sigv4_out_free. */
int sigv4_sign_raw(const struct sigv4_creds *c, const void *text,
                   size_t len, int normalize_path, time_t now,
                   struct sigv4_out *out);

#endif
