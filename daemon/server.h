/* server.h -- struct server: the one place llmuxd keeps mutable state.
 * Owns: the loop, the listening socket (own or inherited from systemd) and
 * its file descriptor reserve, the live configuration and its reload in a
 * worker thread, the upstream glue, the list of connections, the memory
 * budget and the in-flight limits, signal handling and the SIGTERM drain.
 * Everything else receives a server pointer; nothing keeps global state
 * (Redis's struct redisServer). */
#ifndef LLMUX_SERVER_H
#define LLMUX_SERVER_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "db.h"
#include "keys.h"
#include "cache.h"
#include "budget.h"
#include "limits-state.h"
#include "gauth.h"
#include "metrics.h"
#include "router.h"
#include "sd.h"
#include "spend.h"
#include "secret.h"
#include "upstream.h"

struct config;
struct conn;
struct reload_job;
struct reload_waiter;
struct session;
struct http_conn;
struct http_listener;

struct server_stats {
    uint64_t requests;          /* chat requests started */
    uint64_t errors;            /* ended with an error frame */
    uint64_t inflight;          /* chat requests not yet ended */
    uint64_t connections;       /* live connections */
    uint64_t accepted;          /* connections accepted in all */
    uint64_t reloads;           /* configurations reloaded */
    uint64_t reload_failures;   /* reloads refused (bad configuration) */
};

struct server {
    uv_loop_t          *loop;
    struct config      *cfg;          /* owned reference; swapped on reload */
    char               *config_path;  /* owned */
    struct upstream     up;
    uv_pipe_t           listener;
    int                 listening;
    int                 inherited;    /* listener came from systemd */
    char               *socket_path;  /* owned; unlinked at exit if ours */
    dev_t               sock_dev;     /* the socket file we bound: only */
    ino_t               sock_ino;     /* that one is unlinked at exit */
    int                 spare_fd;     /* /dev/null held in reserve: freed
                                       * on EMFILE to refuse a client
                                       * with an error frame */
    uint64_t            fd_refused;   /* clients refused for want of fds */
    uint64_t            fd_logged_ms; /* when that was last logged */
    unsigned            inflight_max; /* requests in flight, all conns:
                                       * each may hold an upstream fd
                                       * (caps limits.global) */
    unsigned            conn_inflight_max; /* per connection */
    unsigned            conn_max;     /* connections: the fds left */
    struct budget       budget;       /* memory all callers may hold */
    uv_signal_t         sigterm, sigint, sighup;
    uv_timer_t          drain_timer;
    struct conn        *conns;        /* doubly linked, owned */
    struct http_listener *http[8];    /* owned: the HTTP front end's */
    size_t              nhttp;
    struct http_conn   *hconns;       /* doubly linked, owned (http.c) */
    int                 stopping;
    uint64_t            started_ns;
    uint64_t            seq;          /* unique numbers for ids */
    uid_t               uid;          /* the daemon's own uid */
    struct server_stats stats;
    struct metrics      metrics;      /* per group/deployment series */
    struct router       router;       /* per-deployment load, latency,
                                       * cooldowns; kept across reloads */
    struct limits       limits;       /* chat requests in flight, per
                                       * caller and in all (limits.c) */
    struct db           db;           /* keys and spend on disk (db.h) */
    struct keys         keys;         /* virtual keys and teams (keys.h) */
    struct spend        spend;        /* the ledger as read (spend.h) */
    struct sd           sd;           /* systemd notifications, watchdog */
    struct gauth_pool   gauth;        /* Google access tokens, one per
                                       * service account (Vertex AI) */
    struct cache        cache;        /* the response cache; kept across
                                       * reloads (cache.h) */
    struct secret_env   env_keys;     /* key variables moved out of the
                                       * process environment */
    char               *reload_error; /* owned: why the last reload was
                                       * refused; NULL once one succeeds */
    struct reload_job  *reload_job;   /* owned: the load running in a
                                       * worker thread, or NULL */
    struct reload_waiter *reload_waiters; /* owned: who wants an answer */
    uint64_t            reload_runs;  /* loads started */
    int                 reload_again; /* asked for during a run */
    /* One read buffer for every connection: libuv calls alloc, read and
     * the read callback back to back, and frames are decoded at once. */
    char                rbuf[64 * 1024];
};

/* Sets up the loop side: signals, upstream. cfg is taken over. */
int  server_init(struct server *s, uv_loop_t *loop, struct config *cfg,
                 const char *config_path);
/* Opens the database (llmux_settings.database, else db_default_path)
 * and loads keys, teams and budgets. < 0 with err saying why: llmuxd
 * refuses to start. */
int  server_open_db(struct server *s, char *err, size_t errlen);
/* Listens on an inherited fd (>= 0) or binds path. */
int  server_listen(struct server *s, const char *path, int inherited_fd);
/* Stops accepting; exits the loop when the last request ended or the
 * grace period passed. */
void server_stop(struct server *s);
void server_free(struct server *s);

/* Re-reads the config file in a worker thread (user and group names are
 * looked up through NSS, which may block) and swaps it in on the loop; on
 * failure keeps the old one. In-flight requests keep the config they
 * started with. When sess is not NULL, its request req_id is answered
 * (ops_reload_answer) once a load that read the file after this call
 * ended, unless the session went first (server_reload_forget). */
void server_reload(struct server *s, struct session *sess, uint64_t req_id);
/* sess is going away: nothing is answered to it any more (session.c). */
void server_reload_forget(struct server *s, const struct session *sess);

/* Called by conn.c when a connection closed for good. */
void server_conn_gone(struct server *s, struct conn *c);
/* The file descriptor reserve, for the listeners of both front ends.
 * True when a new connection would leave too few fds (or conn_max is
 * reached). */
int  server_fds_short(struct server *s);
/* Takes the client waiting on l (a uv_tcp_t listener when is_tcp, else a
 * pipe), writes msg (the front end's refusal) and closes it. */
void server_refuse_one(struct server *s, uv_stream_t *l, int is_tcp,
                       const void *msg, size_t len);
/* Out of fds (status: UV_EMFILE or UV_ENFILE): refuses every client
 * waiting on l with msg, using the spare fd. */
void server_refuse_all(struct server *s, uv_stream_t *l, const void *msg,
                       size_t len, int status);
/* Called by request.c after each request; drives the drain. */
void server_request_ended(struct server *s);

#endif
