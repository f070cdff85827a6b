/* llmux_internal.h -- what the files of libllmux share and nothing outside
 * them uses: the handle's layout and the helpers each file offers the
 * others. Applications see llmux.h only. These names are not exported
 * (llmux.map) and carry the client_ prefix, so that libllmux.a puts no
 * generic names into the program it is linked into. The library never
 * prints, never exits and never raises SIGPIPE. */
#ifndef LLMUX_CLIENT_INTERNAL_H
#define LLMUX_CLIENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "llmux.h"
#include "proto.h"

/* Everything a blocking call collects for one answer (a whole stream). */
#define ANSWER_MAX        (4u * LLMUX_MAX_FRAME)

struct llmux_client_s {
    int        fd;
    int        dead;      /* 0, or the code every call returns from now on */
    uint64_t   next_id;   /* the id of the next request; starts at 1 */
    struct buf in;        /* bytes read; the unread ones start at in_off */
    size_t     in_off;
    struct buf json;      /* the last event's JSON (llmux_event_t.json) */
    struct buf text;      /* the last event's text (llmux_event_t.text) */
    struct buf vecs;      /* llmux_embed: the response's vectors, float
                           * after float, while embedding is set */
    int        embedding; /* llmux_embed is waiting: keep the vectors */
    size_t     dims;      /* … and their length (all must be equal) */
};

/* llmux.c: the connection */
/* A deadline for timeout_ms (-1: none). */
int64_t client_deadline_of(int timeout_ms);
/* Marks the connection unusable: every later call returns code. */
int client_fail(llmux_client_t *c, int code);
/* Finishes the frame in e and sends it. */
int client_send_enc(llmux_client_t *c, struct proto_enc *e);
/* Waits for one whole frame: 1 with *ret_body and *ret_len pointing into
 * c->in (valid until the next read), 0 on timeout, or a negative code. */
int client_read_frame(llmux_client_t *c, int64_t deadline,
                      const char **ret_body, size_t *ret_len);

/* llmux_error.c */
/* Copies n bytes of s into dst[size], truncated at a UTF-8 character
 * boundary, NUL-terminated. */
void client_copy_strn(char *dst, size_t size, const char *s, size_t n);
/* The string under key in map (may be NULL) into dst[size], if any. */
void client_copy_key(char *dst, size_t size, const msgpack_object *map,
                     const char *key);
void client_err_clear(llmux_error_t *err);
/* Fills err (may be NULL) for a failure that did not come from an error
 * frame; returns code. */
int  client_err_local(llmux_error_t *err, int code, const char *message);
/* Fills err from the 'error' map of an error frame; returns its code. */
int  client_err_from_frame(llmux_error_t *err, const msgpack_object *em);

/* llmux_event.c */
/* The map under key, or NULL when absent or not a map. */
const msgpack_object *client_get_map(const msgpack_object *map,
                                     const char *key);
/* Reads frames until an event (of request 'only', or a connection error,
 * when only is not 0; of anything otherwise) or the deadline. Returns 1
 * with *ev filled, 0 on timeout, or a negative code. */
int client_event(llmux_client_t *c, llmux_event_t *ev, int64_t deadline,
                 uint64_t only);

/* llmux_request.c */
uint64_t client_take_id(llmux_client_t *c);
/* A live client and a model: 0, or the error (in err). */
int client_submit_check(llmux_client_t *c, const char *model,
                        llmux_error_t *err);
/* Sends the request in e under id and frees e: 0 with *ret_id, or the
 * error (in err), and then id is free again. */
int client_submit_send(llmux_client_t *c, struct proto_enc *e, uint64_t id,
                       uint64_t *ret_id, llmux_error_t *err);
int client_is_terminal(const llmux_event_t *ev);
/* Gives up on request id with code, leaving the handle clean. */
int client_call_abort(llmux_client_t *c, uint64_t id, llmux_event_t *ev,
                      int code, llmux_error_t *err);
/* Ends a blocking call at its terminal event: fills result or err. */
int client_call_end(const llmux_event_t *ev, const char *finish,
                    llmux_result_t *result, llmux_error_t *err);

/* llmux_embed.c */
/* While llmux_embed waits: the response's vectors into c->vecs. */
int client_embed_vectors(llmux_client_t *c, const msgpack_object *body);

#endif
