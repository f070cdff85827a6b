/* conn.h -- one client connection on the Unix socket: the msgpack front
 * end, the first implementation of struct session (session.h).
 * Owns: the pipe handle, the partial-frame input buffer, the caller's
 * credentials (SO_PEERCRED at accept), turning session events into frames
 * (the only place chat frames are built), output backpressure, its
 * deadlines (hello, frame, linger) and what it is charged in the memory
 * budget, and the lifetime rule: a conn is freed only in its close
 * callback, after every request detached from it. */
#ifndef LLMUX_CONN_H
#define LLMUX_CONN_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "buf.h"
#include "proto.h"
#include "session.h"

struct server;
struct wreq;

/* How long a closing connection may wait for its last frames to reach a
 * client that does not read, before it is closed anyway (ms). */
#define CONN_LINGER_MS 2000
/* hello_timeout and frame_timeout above this are this (a timer's ms
 * must not overflow): about 31 years. */
#define CONN_DEADLINE_MAX_S 1e9

/* What the conn's timer is counting down to. */
enum conn_deadline {
    CONN_DL_NONE,
    CONN_DL_HELLO,     /* hello_timeout from accept */
    CONN_DL_FRAME,     /* frame_timeout from a frame's first byte */
    CONN_DL_LINGER,    /* CONN_LINGER_MS from conn_close */
};

/* Output above HIGH pauses the conn's upstream transfers and its reading;
 * below LOW resumes them. */
#define CONN_OUT_HIGH  (1024u * 1024)
#define CONN_OUT_LOW   (256u * 1024)
/* Hard cap on queued output: only a client that ignores backpressure on
 * many huge non-stream answers at once could reach it. */
#define CONN_OUT_MAX   (256u * 1024 * 1024)

struct conn {
    struct session  sess;            /* the base: caller, requests in
                                      * flight, pause count (session.h) */
    uv_pipe_t       pipe;
    struct server  *srv;
    struct conn    *next, *prev;     /* server's list */
    struct buf      in;              /* owned: bytes of an incomplete frame */
    struct buf      out;             /* owned: frames not yet handed to
                                      * libuv; they go in one write once
                                      * the write in flight completes */
    struct wreq    *writing;         /* the one write in flight, or NULL */
    struct proto_enc enc;            /* owned: frames being built; a
                                      * completion waits here for its done,
                                      * so both go out in one write */
    int             greeted;         /* hello received */
    int             closing;
    int             read_paused;     /* stopped reading: output backlog */
    gid_t          *groups;          /* owned: supplementary groups
                                      * (sess.caller.groups borrows them) */
    uint64_t        id;              /* connection number, for logs */
    /* Deadlines: one timer; the conn is freed in its close callback,
     * which runs after the pipe's. */
    uv_timer_t      timer;
    enum conn_deadline deadline;
    /* Bytes charged to the server's memory budget (budget.h). */
    size_t          mem_in;          /* c->in, or the frame it is
                                      * receiving when that is larger */
    size_t          mem_out;         /* c->out and the write in flight */
    size_t          mem_frame;       /* the frame being decoded */
    size_t          mem_tree;        /* of mem_frame: its request tree,
                                      * handed to a chat request */
};

/* Accepts a pending connection on the server's listener. */
int  conn_accept(struct server *s);
/* Sends the frames in e: written at once when the socket takes them,
 * else queued. e is left empty and reusable (its memory is kept). Frames
 * are dropped when the conn is closing. */
int  conn_send(struct conn *c, struct proto_enc *e);
/* Sends one error frame. */
void conn_send_error(struct conn *c, uint64_t id, int code,
                     const char *message);
/* Closes: aborts every request in flight, then frees in close_cb. */
void conn_close(struct conn *c);

#endif
