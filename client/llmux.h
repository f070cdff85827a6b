/* llmux.h -- libllmux, the client library of llmux (the whole public API).
 * It talks to llmuxd over its Unix socket (protocol/PROTOCOL.md). It needs
 * msgpack-c and nothing else, never prints and never exits. Every function
 * returns 0 (or a count) on success and a negative code on failure: an
 * LLMUX_E* value from llmux-errno.h or -errno; llmux_strerror() names it.
 * A client handle is not thread-safe: use one per thread. */
#ifndef LLMUX_H
#define LLMUX_H

#include <stddef.h>
#include <stdint.h>

/* Installed next to this header; in the source tree it is in protocol/,
 * which llmux-uninstalled.pc (pkg-config) puts on the include path. */
#include "llmux-errno.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LLMUX_VERSION "0.1.0"

typedef struct llmux_client_s llmux_client_t;

/* What an error frame said. Filled by calls that take one; code is 0 when
 * there was no error. Strings are NUL-terminated and truncated to fit. */
typedef struct llmux_error {
    int    code;             /* LLMUX_E* or -errno */
    int    status;           /* HTTP-like status, 0 if local */
    char   type[32];         /* "rate_limit", … */
    char   message[512];
    char   provider[64];
    char   deployment[128];
    double retry_after;      /* seconds, < 0 when not given */
} llmux_error_t;

typedef struct llmux_message {
    const char *role;        /* "system", "user", "assistant" */
    const char *content;
} llmux_message_t;

/* Options of a chat call. Zero-initialise, then set what you need. */
typedef struct llmux_chat_opts {
    const char            *model;          /* required */
    const llmux_message_t *messages;       /* required */
    size_t                 n_messages;
    double                 temperature;    /* used when has_temperature */
    int                    has_temperature;
    long                   max_tokens;     /* used when > 0 */
    int                    json_mode;      /* response_format json_object */
} llmux_chat_opts_t;

/* What the done frame said. */
typedef struct llmux_result {
    uint64_t prompt_tokens;
    uint64_t completion_tokens;
    uint64_t total_tokens;
    uint64_t chunks;
    uint64_t total_us;       /* request read -> done written, in llmuxd */
    uint64_t upstream_us;
    uint64_t overhead_us;
    char     model[128];
    char     provider[64];
    char     deployment[128];
    char     finish_reason[32];
} llmux_result_t;

/* Connects to llmuxd. path NULL means $LLMUX_SOCKET, else the first of
 * these that exists: $XDG_RUNTIME_DIR/llmux.sock, /run/llmux/llmux.sock
 * (the system service), /tmp/llmux-UID/llmux.sock (llmuxd started by
 * hand without $XDG_RUNTIME_DIR). Performs the
 * hello handshake, waiting up to 30 s for the daemon's hello (else
 * -ETIMEDOUT; -EINTR if a signal handler interrupted the wait); a
 * refusal returns the daemon's code (LLMUX_EVERSION, …).
 * On success *ret owns the connection (llmux_close). */
int  llmux_connect(llmux_client_t **ret, const char *path);
void llmux_close(llmux_client_t *c);
/* The socket path llmux_connect(NULL) would use. Thread-local storage:
 * valid until the calling thread calls this again. */
const char *llmux_default_socket(void);

/* The blocking calls (llmux_chat, llmux_chat_stream, llmux_raw) wait for
 * their own request only: use them one at a time on a handle. Frames of
 * other requests still in flight (from llmux_submit) are skipped, i.e.
 * lost. A signal handler that runs during the wait (poll() is not
 * restarted) makes llmux_chat and llmux_raw cancel the request, wait for
 * its end and return -EINTR; llmux_chat_stream asks its callback instead.
 * result.finish_reason comes from the last chunk or response. */

/* Blocking chat call. On success *ret_text is the assistant's text
 * (malloc'd, the caller frees it; "" when the content is null, e.g. for a
 * tool call). result and err may be NULL. */
int llmux_chat(llmux_client_t *c, const llmux_chat_opts_t *opts,
               char **ret_text, llmux_result_t *result, llmux_error_t *err);

/* Streaming chat call: cb gets each piece of text as it arrives (text is
 * not NUL-terminated). A non-zero return from cb cancels the request: the
 * call then returns LLMUX_ECANCELLED once the daemon confirmed it. cb is
 * also called with len 0 when a signal handler interrupted the wait, so
 * that it can check a flag the handler set (Ctrl-C) and cancel. */
typedef int (*llmux_text_cb)(void *ud, const char *text, size_t len);
int llmux_chat_stream(llmux_client_t *c, const llmux_chat_opts_t *opts,
                      llmux_text_cb cb, void *ud,
                      llmux_result_t *result, llmux_error_t *err);

/* Options of an embeddings call. Zero-initialise, then set what you
 * need. */
typedef struct llmux_embed_opts {
    const char        *model;          /* required */
    const char *const *inputs;         /* required: the texts */
    size_t             n_inputs;
    long               dimensions;     /* used when > 0 */
} llmux_embed_opts_t;

/* Blocking embeddings call (the "embeddings" op). On success
 * *ret_vectors (malloc'd, the caller frees it) holds n_inputs vectors of
 * *ret_dims floats each, one after the other, in input order; the
 * daemon sends them as float32, so they are exactly what the provider
 * returned. result (usage: prompt_tokens) and err may be NULL. */
int llmux_embed(llmux_client_t *c, const llmux_embed_opts_t *opts,
                float **ret_vectors, size_t *ret_dims,
                llmux_result_t *result, llmux_error_t *err);

/* One-liner: connects to the default socket, asks, returns the answer as a
 * malloc'd string (the caller frees it). system_prompt may be NULL.
 * Returns NULL on failure with *err (if not NULL) filled: err->code, and
 * err->message with the daemon's words ("no API key for openai: set
 * $OPENAI_API_KEY …") or, when it could not connect, the socket's path. */
char *llmux_predict_err(const char *model, const char *query,
                        const char *system_prompt, llmux_error_t *err);
/* The same with the code alone: NULL on failure with *ret_code (if not
 * NULL) set. */
char *llmux_predict(const char *model, const char *query,
                    const char *system_prompt, int *ret_code);

/* Raw call: json is an OpenAI request (for op "chat") or "" / NULL for ops
 * without a body. *ret_json (malloc'd) receives the answer as JSON: for a
 * plain request the response body; for a stream ("stream": true) one JSON
 * chunk per line, in order. On an upstream error *ret_json holds
 * {"error":{…}} and the error code is returned. Invalid JSON, or JSON that
 * is not an object, is LLMUX_EBADREQ (err->message says where) and
 * nothing is sent; after such local failures *ret_json is NULL. */
int llmux_raw(llmux_client_t *c, const char *op, const char *json,
              size_t len, char **ret_json, llmux_result_t *result,
              llmux_error_t *err);

/* The event API, for many requests in flight on one connection. */
enum llmux_event_kind {
    LLMUX_EV_CHUNK = 1,
    LLMUX_EV_RESPONSE,
    LLMUX_EV_DONE,           /* terminal */
    LLMUX_EV_ERROR,          /* terminal */
};

typedef struct llmux_event {
    enum llmux_event_kind kind;
    uint64_t       id;
    const char    *json;     /* the frame's body (chunk/response), the
                              * done frame, or {"error":{…}}, as JSON;
                              * NUL-terminated; valid until the next
                              * llmux_next_event or llmux_close */
    size_t         json_len;
    const char    *text;     /* chunk: choices[0].delta.content; response:
                              * choices[0].message.content; else NULL.
                              * Not NUL-terminated; same lifetime. */
    size_t         text_len;
    llmux_result_t result;   /* LLMUX_EV_DONE; chunk/response: only
                              * finish_reason, when the frame has one */
    llmux_error_t  error;    /* LLMUX_EV_ERROR */
} llmux_event_t;

/* Sends a request (json as in llmux_raw) without waiting. *ret_id gets the
 * id its events will carry (ids count up from 1 per handle). */
int llmux_submit(llmux_client_t *c, const char *op, const char *json,
                 size_t len, uint64_t *ret_id);
/* Sends a cancel for id; its terminal event still arrives. */
int llmux_cancel(llmux_client_t *c, uint64_t id);
/* Waits up to timeout_ms (-1: forever) for the next event of any request.
 * Returns 1 with *ev filled, 0 on timeout, or a negative code
 * (LLMUX_ECLOSED when the daemon went away; -EINTR when a signal handler
 * interrupted the wait: the requests are still in flight). An error event
 * with id 0 is about the connection, which the daemon then closes. */
int llmux_next_event(llmux_client_t *c, llmux_event_t *ev, int timeout_ms);
/* The socket, for poll()-style integration (readable = call next_event). */
int llmux_fd(const llmux_client_t *c);

/* The error table (llmux-errno.h). */
const char *llmux_strerror(int code);    /* "rate limited" */
const char *llmux_err_name(int code);    /* "ERATELIMIT" */
const char *llmux_err_type(int code);    /* "rate_limit" */
int         llmux_err_exit_code(int code);

#ifdef __cplusplus
}
#endif

#endif
