/* conn_internal.h -- what conn.c and conn_accept.c share about a
 * connection and nothing outside them uses: the read callbacks, the close
 * callback, the session ops, the fatal error, deadlines and the budget's
 * per-frame charges. Everything else sees conn.h only. */
#ifndef LLMUX_CONN_INTERNAL_H
#define LLMUX_CONN_INTERNAL_H

#include <stddef.h>
#include <uv.h>

#include "conn.h"

/* conn.c */
extern const struct session_ops conn_session_ops;
/* The pipe's close callback: unlinks and releases, then closes the timer
 * (whose callback frees the conn). */
void   conn_closed(uv_handle_t *h);
/* Logs, sends an error frame (id 0) and closes. */
void   conn_fatal(struct conn *c, int code, const char *message);
void   conn_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b);
void   conn_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b);

/* conn_accept.c */
/* Arms the timer for d; secs <= 0 means no deadline. */
void   conn_deadline_start(struct conn *c, enum conn_deadline d,
                           double secs);
/* After a read: charges c->in (or the frame it receives) and times it. */
void   conn_input_settled(struct conn *c, int new_frame);
/* Before decoding a whole frame: 0, or LLMUX_EUNAVAIL (conn closing). */
int    conn_frame_admit(struct conn *c, const char *body, size_t len);
/* A chat request takes the frame's tree: returns the bytes handed over. */
size_t conn_tree_handed_over(struct conn *c);
/* After a frame was handled: its decoding memory is freed. */
void   conn_frame_settled(struct conn *c);

#endif
