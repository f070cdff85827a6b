/* provider.h -- the provider adapter interface, after curl's protocol
 * handler tables. Owns: struct provider (one const instance per wire
 * dialect, in daemon/providers/), struct pcall (one attempt of one request
 * against one deployment, as an adapter sees it), the upstream HTTP
 * request/response shapes, and helpers every adapter shares (headers that
 * hold keys, whether a key is needed, status and body -> error mapping,
 * retry hints, usage bookkeeping).
 * An adapter never touches sockets, the loop or other requests: it turns a
 * canonical request into HTTP inputs and upstream bytes into canonical
 * objects, so it can be unit-tested by feeding recorded bodies. */
#ifndef LLMUX_PROVIDER_H
#define LLMUX_PROVIDER_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>

#include "buf.h"
#include "llmux-errno.h"

struct deployment;   /* config.h */
struct request_opts; /* opts.h */
struct secret;

#define HTTP_MAX_URL     8192
#define HTTP_MAX_BODY    (64u * 1024 * 1024)

/* An upstream request, built by provider_build. */
struct http_req {
    struct buf         url;      /* owned */
    struct curl_slist *headers;  /* owned; wiped node by node when freed,
                                  * since one of them carries the key */
    struct buf         body;     /* owned */
};

void http_req_init(struct http_req *h);
void http_req_free(struct http_req *h);
int  http_header_add(struct http_req *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Adds "prefix<key>" (e.g. "Authorization: Bearer ") without leaving a
 * copy of the key anywhere but the header list. */
int  http_header_secret(struct http_req *h, const char *prefix,
                        const struct secret *key);

/* What the transport saw of an upstream answer. */
struct http_resp {
    long        status;
    const char *body;          /* borrowed */
    size_t      len;
    double      retry_after;   /* seconds (Retry-After, retry-after-ms),
                                * < 0 when the upstream gave none */
};

/* An error as an adapter reports it. */
struct perr {
    int    code;               /* LLMUX_E*, 0 = none */
    long   status;             /* upstream HTTP status, 0 if none */
    double retry_after;        /* < 0 when unknown */
    char   message[512];       /* for people; never holds a secret */
};

/* One attempt of one request against one deployment. */
struct pcall {
    const struct provider   *prov;
    const struct deployment *dep;      /* borrowed */
    const json_t            *req;      /* canonical request, borrowed */
    const struct request_opts *opts;   /* llmux's options, borrowed;
                                        * NULL in adapter unit tests */
    int                      stream;   /* the caller asked for a stream */
    int                      embed;    /* an embeddings call (embed.h):
                                        * the embed_* hooks, never a
                                        * stream */
    int                      drop_params;
    uint64_t                 seq;      /* unique number, for ids */
    const struct secret     *bearer;   /* an access token obtained for
                                        * this attempt (Vertex AI,
                                        * gauth.h), borrowed for the
                                        * attempt (the request owns a
                                        * copy): the build sends it, the
                                        * messages mask it; NULL
                                        * otherwise */
    /* Streams: each canonical chat.completion.chunk goes out through emit,
     * which takes ownership of it and returns < 0 to stop the stream. */
    int                    (*emit)(void *ud, json_t *chunk);
    /* The same for a chunk that is already in the hub format as JSON text
     * (OpenAI-compatible streams): packed straight into the frame without
     * a jansson tree. NULL: use emit. */
    int                    (*emit_json)(void *ud, const char *json,
                                        size_t len);
    void                    *emit_ud;
    /* Embeddings to a dialect that takes at most a few inputs a call
     * (embed_batch): the attempt is a run of transfers, one batch each,
     * in input order (embed.h, embed_collect). */
    size_t                   embed_first;  /* the first input the current
                                            * transfer carries */
    json_t                  *embed_done;   /* owned: the vectors of the
                                            * earlier transfers; NULL */
    long long                embed_tokens; /* their token counts, summed */
    json_t                  *usage;    /* owned; last usage seen */
    void                    *state;    /* adapter's stream state, owned by
                                        * the adapter (freed in stream_free) */
    struct perr              err;
};

#define PROV_LOCAL  0x1        /* answers without HTTP (mock) */

/* Where a dialect's key goes. */
enum provider_auth {
    PROV_AUTH_NONE,          /* nowhere */
    PROV_AUTH_BEARER,        /* Authorization: Bearer <key> */
    PROV_AUTH_X_API_KEY,     /* x-api-key: <key> (Anthropic) */
    PROV_AUTH_GOOG,          /* x-goog-api-key: <key> (Gemini; never in
                              * the URL, where logs would keep it) */
    PROV_AUTH_API_KEY,       /* api-key: <key> (Azure) */
    PROV_AUTH_SIGV4,         /* AWS SigV4 through ->sign; a deployment
                              * with an api_key sends it as Bearer */
    PROV_AUTH_TOKEN,         /* Authorization: Bearer <pc->bearer>, an
                              * access token obtained for the attempt
                              * (Vertex AI, gauth.h); api_key unused */
};

/* Whether a deployment without api_key is refused before any I/O. */
enum provider_key {
    PROV_KEY_NEVER,          /* the key is optional (Ollama, SigV4) */
    PROV_KEY_DEFAULT,        /* unless provider_key_required says no (a
                              * proxy or self-hosted api_base) */
    PROV_KEY_ALWAYS,
};

/* How a 2xx stream is framed (stream_feed parses it). */
enum provider_framing {
    PROV_FRAMING_NONE,       /* no HTTP stream (PROV_LOCAL) */
    PROV_FRAMING_SSE,        /* text/event-stream */
    PROV_FRAMING_NDJSON,     /* one JSON object a line (Ollama) */
    PROV_FRAMING_EVENTSTREAM,/* AWS binary event-stream (Bedrock) */
};

/* One const instance per wire dialect. The static facts of the dialect
 * are data, read by the one generic request builder (provider_build in
 * providers/http.c), as curl's Curl_handler carries defport, protocol and
 * flags; the hooks carry only what differs in code. */
struct provider {
    const char *name;
    unsigned    flags;

    /* ---- the request, as data ---- */
    /* The path after the base URL; {model} is the upstream model
     * (model_prefix taken off), percent-encoded; {version} the API
     * version (url_version). stream_path: for streams, NULL: path. */
    const char *path;
    const char *stream_path;
    const char *model_prefix;           /* LiteLLM's route words, "" */
    const char *model_keep;             /* bytes {model} keeps as they
                                         * are besides RFC 3986's
                                         * unreserved ones ("@": Vertex
                                         * AI's model@version); NULL */
    const char *version;                /* {version} by default */
    /* Version segments an api_base may already end with ("…/v1"); the
     * path's first segment is then not repeated, and an api_base that
     * ends with the whole path is taken as it is. NULL-ended; NULL: the
     * path always follows the base. */
    const char *const *base_versions;
    enum provider_auth auth;
    enum provider_key  key;
    const char        *key_env;         /* named when the key is missing */
    enum provider_framing framing;
    const char *content_type;           /* of the body */
    const char *accept;                 /* Accept of a plain request */
    const char *stream_accept;          /* … of a stream; NULL: none */
    const char *const *headers;         /* fixed lines, NULL-ended */

    /* ---- the request, as code ---- */
    /* The dialect's body translation: the canonical request -> the
     * upstream body, appended to body. 0, or < 0 with pc->err set. Runs
     * after the key check, before the URL is made. */
    int  (*build_body)(struct pcall *pc, struct buf *body);
    /* The base URL when the dialect makes it (Bedrock, from the region;
     * Vertex AI, from its location and project); NULL: the deployment's
     * api_base. 0, or < 0 with pc->err set. */
    int  (*base_url)(struct pcall *pc, struct buf *out);
    /* {version} when the dialect chooses it (Azure); NULL: api_version,
     * else version. */
    const char *(*url_version)(const struct deployment *dep);
    /* PROV_AUTH_SIGV4 without an api_key: signs the request built in out
     * (base: its base URL) and adds the headers carrying the signature. */
    int  (*sign)(struct pcall *pc, struct http_req *out, const char *base);

    /* ---- the answer ---- */
    /* A whole 2xx upstream body -> a canonical chat.completion. */
    int  (*parse)(struct pcall *pc, const struct http_resp *r,
                  json_t **ret_completion);
    /* Streamed 2xx body bytes, in arbitrary pieces; chunks leave through
     * pc->emit. < 0 (with pc->err set) aborts the stream. */
    int  (*stream_feed)(struct pcall *pc, const char *p, size_t n);
    /* The stream ended cleanly at the HTTP level. */
    int  (*stream_end)(struct pcall *pc);
    void (*stream_free)(struct pcall *pc);
    /* A non-2xx answer -> pc->err; returns pc->err.code. NULL: default. */
    int  (*map_error)(struct pcall *pc, const struct http_resp *r);
    /* PROV_LOCAL: answer directly (completion, or chunks through emit). */
    int  (*run_local)(struct pcall *pc, json_t **ret_completion);

    /* ---- embeddings (embed.h); all NULL: the dialect has none, and an
     * embeddings call answers a typed error naming the provider ---- */
    const char *embed_path;             /* as path; NULL: path */
    /* The canonical embeddings request -> the upstream body. */
    int  (*build_embed_body)(struct pcall *pc, struct buf *body);
    /* A whole 2xx body -> the canonical embeddings answer (embed_answer
     * makes it from the vectors). */
    int  (*parse_embed)(struct pcall *pc, const struct http_resp *r,
                        json_t **ret);
    /* The most inputs one upstream call may carry (Titan Text Embeddings:
     * 1; Vertex AI: 250, or 1 for gemini-embedding-*); NULL or 0: all of
     * them in one call. */
    size_t (*embed_batch)(const struct pcall *pc);
    /* PROV_LOCAL: the embeddings answer, directly. */
    int  (*run_local_embed)(struct pcall *pc, json_t **ret);
};

/* Builds the upstream request of one attempt (providers/http.c): the one
 * entry point the upstream stage calls. The key check, the URL from the
 * path template, Content-Type, fixed headers, Accept and the key header
 * come from struct provider's data; the body from build_body. 0, or < 0
 * with pc->err set. */
int provider_build(struct pcall *pc, struct http_req *out);

/* Sets pc->err (its message masked: provider_vformat) and returns
 * code. */
int pcall_fail(struct pcall *pc, int code, long status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* pcall_fail for a failed allocation: LLMUX_EINTERNAL, "out of memory". */
int pcall_oom(struct pcall *pc);
/* The name messages give the upstream: the preset's ("groq"), else the
 * dialect's ("anthropic"). */
const char *pcall_name(const struct pcall *pc);
/* Records usage (steals it); the last report wins. */
void pcall_set_usage(struct pcall *pc, json_t *usage);

/* The error code for an upstream HTTP status and message text (detects
 * context-window and content-policy wording that providers send as 400). */
int provider_code_for(long status, const char *text);
/* Default map_error: picks the message out of OpenAI-style and common
 * error bodies, keeps it (minus secrets) so a person can act on it. */
int provider_map_error_default(struct pcall *pc, const struct http_resp *r);
/* map_error for upstreams whose error bodies are {"error": …} (also
 * inside an array, as some front ends send): on_error turns the error
 * value into pc->err and returns its code, or 0 for a value it does not
 * know, which goes, like any other body, to provider_map_error_default.
 * The answer's Retry-After wins over a wait on_error found in the body. */
typedef int (*provider_error_fn)(struct pcall *pc, const json_t *err,
                                 long status);
int provider_map_error_json(struct pcall *pc, const struct http_resp *r,
                            provider_error_fn on_error);
/* Masking (break 8): any text that may carry an upstream's words goes
 * through these, which mask every secret of the attempt pc
 * (provider_secrets), in any letter case, before the text is cut to its
 * buffer, and the start of a key that runs into the cut (secret_mask);
 * "sk-…" tokens too. pc may be NULL (nothing but "sk-…" to mask). */
#define PROVIDER_MAX_SECRETS 5
/* pc's secrets: its access token (pc->bearer) and its deployment's
 * (api_key, AWS access key id, secret key, session token), into keys
 * (PROVIDER_MAX_SECRETS slots, borrowed); how many. */
size_t provider_secrets(const struct pcall *pc, const struct secret **keys);
/* vsnprintf into out, masked before the cut. The length of the whole
 * text, or -1 (out then says why no text). pcall_fail formats so. */
int provider_vformat(const struct pcall *pc, char *out, size_t outlen,
                     const char *fmt, va_list ap);
int provider_format(const struct pcall *pc, char *out, size_t outlen,
                    const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Masks msg in place (no cut involved). */
void provider_scrub(const struct pcall *pc, char *msg);
/* The most useful message of an error body (error.message, message,
 * Message, error as a string, detail; else the body's first bytes on
 * one line, or "HTTP <status> with an empty body"), masked for pc, into
 * out. */
void provider_error_text(const struct pcall *pc, const struct http_resp *r,
                         char *out, size_t outlen);
/* Seconds from a wait named in an error message ("Please retry after 6
 * seconds", "try again in 26.604s", "retry in 200ms", "… in 1m"); -1 when
 * there is none. For 429s that come without Retry-After. */
double provider_retry_hint(const char *text);

/* Whether dep cannot go without a key: not for presets marked
 * QUIRK_KEY_OPTIONAL, nor when api_base points away from the preset's
 * default (a proxy or a self-hosted server may want none). */
int provider_key_required(const struct deployment *dep);
/* The LLMUX_EAUTH error of a deployment without its key, naming the
 * preset's key variable (dflt_env when the preset has none). */
int provider_no_key(struct pcall *pc, const char *dflt_env);

/* True for request keys that steer llmux and never reach an upstream
 * (num_retries, fallbacks, timeout, api_base, api_key, …). */
int provider_is_control_key(const char *k);

/* Registry of dialects, by name ("openai", "anthropic", …). */
const struct provider *provider_find(const char *name, size_t len);

extern const struct provider provider_openai;
extern const struct provider provider_mock;
extern const struct provider provider_bedrock;
extern const struct provider provider_anthropic;
extern const struct provider provider_gemini;
extern const struct provider provider_cohere;
extern const struct provider provider_ollama;
extern const struct provider provider_azure;
extern const struct provider provider_vertex;

#endif
