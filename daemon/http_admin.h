/* http_admin.h -- LiteLLM's key, team and spend endpoints (/key/generate,
 * /key/info?key=, /key/{key}/regenerate, /team/new, /spend/logs, …) as
 * the admin ops keyops.c answers for both front ends.
 * Owns: the table of those paths with their methods, and the turning of
 * a request (its JSON body, or its query string, or a key in the path)
 * into an op name and the op's JSON body. Pure: no connection, no
 * session, no server; who may call is http_api.c's business. */
#ifndef LLMUX_HTTP_ADMIN_H
#define LLMUX_HTTP_ADMIN_H

#include <jansson.h>
#include <stddef.h>

#define HTTP_ADMIN_MAX_PARAMS 32    /* query parameters read */

/* What a request maps to. */
struct http_admin_call {
    const char *op;       /* static: keyops' op, "key/generate", … */
    json_t     *body;     /* owned by the caller once mapped: the op's
                           * body (secrets in it: http_admin_wipe) */
    int         unwrap;   /* the op answers {"data": [...]}; LiteLLM
                           * answers the bare list */
    int         status;   /* refused: the HTTP status to answer */
};

/* Maps method (http_parser's enum http_method) on path[0..n) (without
 * "/v1" and the query), with query (after '?', NUL-terminated or NULL)
 * and the request body. 0: not one of these endpoints; 1: mapped; -1:
 * refused, with call->status and msg (a sentence for the error JSON). */
int  http_admin_map(int method, const char *path, size_t n,
                    const char *query, const char *body, size_t bodylen,
                    struct http_admin_call *call, char *msg, size_t msglen);
/* Wipes every string in j (a body may carry plaintext keys), then drops
 * the reference. Accepts NULL. */
void http_admin_wipe(json_t *j);

#endif
