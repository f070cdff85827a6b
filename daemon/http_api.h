/* http_api.h -- what the OpenAI-compatible HTTP requests mean.
 * Owns: the endpoint table (/v1/chat/completions, /v1/models, health,
 * metrics; each with and without /v1; LiteLLM's key, team and spend
 * endpoints through http_admin.h, for the master key), who the caller is
 * (peer credentials on a Unix socket, the master key on TCP), OpenAI's error
 * JSON, and struct session for HTTP: request events become a
 * chat.completion JSON body, or SSE "data:" lines, or an error object.
 * http.c calls these; nothing else does. */
#ifndef LLMUX_HTTP_API_H
#define LLMUX_HTTP_API_H

struct http_conn;
struct server;

/* A whole request was read (hc->msg): answer it, now or later. */
void http_api_dispatch(struct http_conn *hc);
/* Answers the request in progress with OpenAI's error JSON. type is
 * OpenAI's error type ("invalid_request_error", …). */
void http_api_error(struct http_conn *hc, int status, const char *type,
                    const char *message);
/* Output drained below the low mark: paused upstream transfers resume. */
void http_api_drained(struct http_conn *hc);
/* The connection closes while a response is open: abort its request. */
void http_api_abort(struct http_conn *hc);
/* The connection is gone: frees the api's state. */
void http_api_free(struct http_conn *hc);
/* Ends every HTTP request in flight with an error (the drain's end). */
void http_api_cancel_all(struct server *s, int code, const char *message);

#endif
