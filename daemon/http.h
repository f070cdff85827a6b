/* http.h -- the HTTP/1.1 transport of the OpenAI-compatible front end.
 * Owns: the HTTP listeners (loopback TCP, Unix sockets, systemd's "http"
 * fds), one struct http_conn per client with its stream handle, Node's
 * http_parser driven from the loop, the request being read (under hard
 * caps on URL, headers and body), the header / body / idle timers, and the
 * response writer: status line and headers, a whole body or a chunked
 * stream, one write in flight with the rest queued, and backpressure.
 * Requests on a connection are answered one at a time, in order: while a
 * response is open the parser is paused, so pipelined requests wait in the
 * input buffer. What a request means is http_api.c's business. */
#ifndef LLMUX_HTTP_H
#define LLMUX_HTTP_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>
#include <http_parser.h>

#include "buf.h"

struct server;
struct http_conn;

#define HTTP_MAX_LISTENERS   8
#define HTTP_MAX_URL_LEN     8192
#define HTTP_MAX_HEAD (64u * 1024)   /* request line + headers */
#define HTTP_OUT_HIGH        (1024u * 1024) /* pause the upstream above */
#define HTTP_OUT_LOW         (256u * 1024)  /* resume it below */
#define HTTP_OUT_MAX         (256u * 1024 * 1024)
#define HTTP_KEEP_BUF        (64u * 1024)   /* kept between requests */

/* One listening socket. */
struct http_listener {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t    tcp;
        uv_pipe_t   pipe;
    } h;
    struct server *srv;
    int            is_unix;     /* peers have SO_PEERCRED */
    int            loopback;    /* TCP bound to 127.0.0.0/8 or ::1 */
    int            inherited;   /* from systemd: never unlinked */
    char          *name;        /* owned: "127.0.0.1:4000" or the path */
};

/* The request as read: valid from the api's dispatch until the response
 * ends. Header values point into hdrs (owned, capped). */
struct http_msg {
    enum http_method method;
    struct buf       url;       /* owned: path and query as sent */
    struct buf       hdrs;      /* owned: "name\0value\0" pairs, names
                                 * lower-cased; wiped when reset since
                                 * Authorization is among them */
    struct buf       body;      /* owned: capped at the frame limit */
    int              keep_alive;
};

struct http_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t    tcp;
        uv_pipe_t   pipe;
    } h;
    struct server        *srv;
    struct http_listener *lst;       /* borrowed; outlives its conns */
    struct http_conn     *next, *prev; /* the server's list */
    http_parser           parser;
    struct http_msg       msg;
    struct buf            in;        /* owned: bytes read, not yet parsed
                                      * (pipelined requests wait here) */
    struct buf            out;       /* owned: queued response bytes */
    uv_write_t            wreq;
    uv_buf_t              wbuf;      /* base owned while writing */
    int                   writing;
    uv_timer_t            timer;     /* header, body, or idle timeout */
    size_t                hdr_bytes; /* request line + headers so far */
    size_t                declared;  /* the request's Content-Length, 0
                                      * when none (chunked) */
    size_t                mem_in;    /* charged to the memory budget for
                                      * in and msg.body (budget.h) */
    char                  hname[64]; /* current header name, lower case */
    size_t                hname_len;
    int                   hname_skip;/* name too long: header ignored */
    int                   in_value;  /* last callback was a value */
    int                   busy;      /* a response is open (parser
                                      * paused) */
    int                   streaming; /* chunked response in progress */
    int                   closing;
    int                   read_stopped;
    int                   open_handles;
    /* Peer, for access: SO_PEERCRED on Unix sockets, else -1. */
    uid_t                 uid;
    gid_t                 gid;
    pid_t                 pid;
    gid_t                *groups;    /* owned */
    int                   ngroups;
    uint64_t              id;        /* for logs */
    /* The api's state for the request in progress (http_api.c). */
    void                 *api;
};

/* Listens on addr: "HOST:PORT" (loopback literal, or any IPv4/IPv6 literal
 * when allowed), "[::1]:PORT", or an absolute Unix socket path. With
 * inherited_fd >= 0 the socket comes from systemd and addr is ignored. */
int  http_listen(struct server *s, const char *addr, int inherited_fd,
                 char *err, size_t errlen);
/* Stops every listener (SIGTERM): open connections finish. */
void http_stop_listening(struct server *s);
/* Closes every connection (end of the drain). */
void http_close_all(struct server *s);

/* Accepts a connection on a listener (http_listen.c arms it). */
void http_on_connection(uv_stream_t *l, int status);

/* The value of header name (lower case) of the request, or NULL. */
const char *http_header(const struct http_conn *hc, const char *name);

/* Answers the request in progress with a whole body. extra is a block of
 * "Name: value\r\n" lines or NULL. Ends the response: the next pipelined
 * request is read. */
void http_reply(struct http_conn *hc, int status, const char *ctype,
                const char *extra, const char *body, size_t len);
/* Starts a chunked response (text/event-stream for SSE). */
void http_stream_start(struct http_conn *hc, int status, const char *ctype,
                       const char *extra);
/* One piece of the stream, sent as one HTTP chunk. < 0 once closing. */
int  http_stream_send(struct http_conn *hc, const char *p, size_t n);
/* The last chunk; ends the response. trailers: "Name: value\r\n" lines
 * sent after it (announced by a Trailer header at the start), or NULL. */
void http_stream_end(struct http_conn *hc, const char *trailers);
/* True when queued output is over HTTP_OUT_HIGH. */
int  http_backlogged(const struct http_conn *hc);
/* Closes the connection (after what is queued has been written). */
void http_close(struct http_conn *hc);

#endif
