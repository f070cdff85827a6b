/* server.h -- struct server: the one place llmuxd keeps mutable state.
 * Owns: the loop, the listening socket (own or inherited from systemd), the
 * live configuration, the upstream glue, the list of connections, signal
 * handling and the SIGTERM drain. Everything else receives a server
 * pointer; nothing keeps global state (Redis's struct redisServer). */
#ifndef LLMUX_SERVER_H
#define LLMUX_SERVER_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "db.h"
#include "keys.h"
#include "limits-state.h"
#include "metrics.h"
#include "router.h"
#include "sd.h"
#include "spend.h"
#include "secret.h"
#include "upstream.h"

struct config;
struct conn;

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
    uv_timer_t          accept_retry; /* re-arms accept after EMFILE */
    uv_signal_t         sigterm, sigint, sighup;
    uv_timer_t          drain_timer;
    struct conn        *conns;        /* doubly linked, owned */
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
    struct secret_env   env_keys;     /* key variables moved out of the
                                       * process environment */
    char               *reload_error; /* owned: why the last reload was
                                       * refused; NULL once one succeeds */
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

/* Re-reads the config file; on failure keeps the old one and err says
 * why (file:line). In-flight requests keep the config they started with. */
int  server_reload(struct server *s, char *err, size_t errlen);

/* Called by conn.c when a connection closed for good. */
void server_conn_gone(struct server *s, struct conn *c);
/* Called by request.c after each request; drives the drain. */
void server_request_ended(struct server *s);

#endif
