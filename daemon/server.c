/* server.c -- the listening socket and its file descriptor reserve,
 * signals, reload in a worker thread and the SIGTERM drain (see
 * server.h). */
#include "server.h"
#include "container.h"
#include "config.h"
#include "conn.h"
#include "http.h"
#include "http_api.h"
#include "log.h"
#include "ops.h"
#include "session.h"
#include "proto.h"
#include "request.h"
#include "sd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The error frame a client refused for want of fds gets (e is
 * initialised here; empty if packing failed). Retry after a second. */
static void refusal_frame(struct proto_enc *e)
{
    proto_enc_init(e);
    (void)proto_pack_error(e, 0, LLMUX_EUNAVAIL, "llmuxd has as many "
                           "connections as its file descriptors allow; try "
                           "again later", NULL, NULL, 1);
}

/* Out of file descriptors (status < 0 from libuv's accept; libuv 1.44
 * drops the client itself first, which fds_short keeps from happening):
 * free the spare, and with it accept every waiting client, tell each why
 * (an error frame, or an HTTP 503) and close it, then take the spare
 * again (nginx and libuv's "EMFILE trick", but the client learns why).
 * The listener is never closed: it may be systemd's, and closed it would
 * be gone for good. Accepting resumes by itself: the next client finds
 * fds free or is refused the same way, and the listener never stays
 * readable. */
void server_refuse_all(struct server *s, uv_stream_t *l, const void *msg,
                       size_t len, int status)
{
    uint64_t now = uv_now(s->loop), n = 0;
    uv_os_fd_t lfd;
    int fd;

    if (uv_fileno((uv_handle_t *)l, &lfd) < 0)
        return;
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK))
           >= 0) {
        /* A few hundred bytes: a new socket's buffer always takes them. */
        if (len && write(fd, msg, len) < 0)
            log_debug("refused client: %s", strerror(errno));
        close(fd);
        n++;
    }
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    s->fd_refused += n;
    if (n && now - s->fd_logged_ms >= 10000) {
        log_warn("accept: %s: refused %llu clients so far, each told why",
                 uv_strerror(status), (unsigned long long)s->fd_refused);
        s->fd_logged_ms = now;
    }
}

static void refuse_clients(struct server *s, int status)
{
    struct proto_enc e;

    refusal_frame(&e);
    server_refuse_all(s, (uv_stream_t *)&s->listener, e.sb.data, e.sb.size,
                      status);
    proto_enc_free(&e);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

/* Connections may take what the reserve and the requests' share leave,
 * and at least two fds stay free (libuv accepts the next client into
 * one; with none, it would drop that client without a word). */
int server_fds_short(struct server *s)
{
    int fd;

    if (s->stats.connections >= s->conn_max)
        return 1;
    if (s->spare_fd < 0 || (fd = fcntl(s->spare_fd, F_DUPFD_CLOEXEC, 0)) < 0)
        return 1;
    close(fd);
    return 0;
}

/* uv_close frees the fd now; only the callback is later. */
void server_refuse_one(struct server *s, uv_stream_t *l, int is_tcp,
                       const void *msg, size_t len)
{
    union { uv_pipe_t pipe; uv_tcp_t tcp; } *h = malloc(sizeof(*h));
    uv_buf_t b;

    if (h == NULL)
        return;
    if (is_tcp)
        uv_tcp_init(s->loop, &h->tcp);
    else
        uv_pipe_init(s->loop, &h->pipe, 0);
    if (uv_accept(l, (uv_stream_t *)h) == 0) {
        b = uv_buf_init((char *)msg, (unsigned)len);
        if (b.len)
            (void)uv_try_write((uv_stream_t *)h, &b, 1);
        s->fd_refused++;
    }
    uv_close((uv_handle_t *)h, free_handle);
    if (uv_now(s->loop) - s->fd_logged_ms >= 10000 || s->fd_refused == 1) {
        log_warn("refused %llu clients so far: out of file descriptors "
                 "(%llu connections, %llu requests in flight)",
                 (unsigned long long)s->fd_refused,
                 (unsigned long long)s->stats.connections,
                 (unsigned long long)s->stats.inflight);
        s->fd_logged_ms = uv_now(s->loop);
    }
}

/* Takes the waiting client, tells it why in an error frame, and closes
 * it at once. */
static void refuse_one(struct server *s)
{
    struct proto_enc e;

    refusal_frame(&e);
    server_refuse_one(s, (uv_stream_t *)&s->listener, 0, e.sb.data,
                      e.sb.size);
    proto_enc_free(&e);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct server *s = container_of((uv_pipe_t *)l, struct server, listener);
    int r;

    if (status == UV_EMFILE || status == UV_ENFILE) {
        refuse_clients(s, status);  /* libuv versions that report it */
        return;
    }
    if (status < 0) {
        log_warn("accept: %s", uv_strerror(status));
        return;
    }
    if (s->stopping)
        return;
    if (server_fds_short(s)) {
        refuse_one(s);
        return;
    }
    if ((r = conn_accept(s)) < 0)
        log_warn("accept: %s", uv_strerror(r));
}

/* The path systemd bound the inherited socket to, for logs and status;
 * malloc'd. */
static char *inherited_name(struct server *s)
{
    char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    size_t len = sizeof(name) - 1;

    if (uv_pipe_getsockname(&s->listener, name, &len) < 0 || len == 0)
        return strdup("(inherited from systemd)");
    name[len] = '\0';
    return strdup(name);
}

/* A stale socket from a crashed daemon would make bind fail; a live one
 * answers connect. Removes only a dead socket: anything else at the path
 * (a file, a link, a folder) is -EEXIST and stays, and a live socket is
 * -EADDRINUSE. */
static int remove_dead_socket(const char *path)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    struct stat st;
    int fd, live;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    live = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    if (live)
        return -EADDRINUSE;
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* Unlinks the socket at exit only if it is still the one we bound. */
static void unlink_own_socket(const struct server *s)
{
    struct stat st;

    if (!s->inherited && s->socket_path && lstat(s->socket_path, &st) == 0 &&
        S_ISSOCK(st.st_mode) && st.st_dev == s->sock_dev &&
        st.st_ino == s->sock_ino)
        (void)unlink(s->socket_path);
}

int server_listen(struct server *s, const char *path, int inherited_fd)
{
    struct sockaddr_un sun;
    struct stat st;
    mode_t old;
    int r;

    uv_pipe_init(s->loop, &s->listener, 0);
    if (inherited_fd >= 0) {
        /* systemd owns the socket file: never unlink it. */
        if ((r = uv_pipe_open(&s->listener, inherited_fd)) < 0)
            return r;
        s->inherited = 1;
    } else {
        if (strlen(path) >= sizeof(sun.sun_path))
            return -ENAMETOOLONG;
        if ((r = remove_dead_socket(path)) < 0)
            return r;
        old = umask(0117);   /* socket 0660: owner and group */
        r = uv_pipe_bind(&s->listener, path);
        umask(old);
        if (r < 0)
            return r;
        if (lstat(path, &st) == 0) {
            s->sock_dev = st.st_dev;
            s->sock_ino = st.st_ino;
        }
    }
    if ((r = uv_listen((uv_stream_t *)&s->listener, 128, on_connection)) < 0)
        return r;
    s->listening = 1;
    free(s->socket_path);
    s->socket_path = path ? strdup(path) : inherited_name(s);
    return s->socket_path ? 0 : -ENOMEM;
}

/* ---- stop --------------------------------------------------------------- */

/* A reload still blocked in NSS when everything else closed: a worker
 * thread cannot be cancelled, and the loop would wait for it. Stop the
 * loop instead; exit ends the thread. */
static void reload_abandoned(uv_timer_t *t)
{
    struct server *s = container_of(t, struct server, drain_timer);

    log_warn("exiting while a reload still waits for user and group "
             "lookups");
    uv_close((uv_handle_t *)t, NULL);
    uv_stop(s->loop);
}

static void close_handles(struct server *s)
{
    for (struct conn *c = s->conns; c; c = c->next)
        conn_close(c);
    http_close_all(s);
    uv_timer_stop(&s->drain_timer);
    if (s->reload_job)      /* after the connections' linger */
        uv_timer_start(&s->drain_timer, reload_abandoned,
                       CONN_LINGER_MS + 500, 0);
    else
        uv_close((uv_handle_t *)&s->drain_timer, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sighup, NULL);
    db_flush(&s->db);       /* the rest commits in server_free */
    db_stop(&s->db);
    cache_free(&s->cache);      /* the Redis connection's handles */
    sd_close(s);
}

static void finish_stop(struct server *s)
{
    if (s->stopping == 2)
        return;
    s->stopping = 2;
    log_info("stopped");
    close_handles(s);
}

static void drain_expired(uv_timer_t *t)
{
    struct server *s = container_of(t, struct server, drain_timer);

    log_warn("grace period over: cancelling %llu requests in flight",
             (unsigned long long)s->stats.inflight);
    for (struct conn *c = s->conns; c; c = c->next)
        session_cancel_all(&c->sess, LLMUX_EUNAVAIL, "llmuxd is shutting "
                           "down and the grace period is over");
    http_api_cancel_all(s, LLMUX_EUNAVAIL, "llmuxd is shutting down and "
                        "the grace period is over");
    finish_stop(s);
}

void server_stop(struct server *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    sd_stopping(s);
    log_info("stopping: %llu requests in flight",
             (unsigned long long)s->stats.inflight);
    if (s->listening) {
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->listening = 0;
        unlink_own_socket(s);
    }
    http_stop_listening(s);
    if (s->stats.inflight == 0) {
        finish_stop(s);
        return;
    }
    uv_timer_start(&s->drain_timer, drain_expired,
                   (uint64_t)(s->cfg->grace_period * 1000), 0);
}

void server_request_ended(struct server *s)
{
    if (s->stopping == 1 && s->stats.inflight == 0)
        finish_stop(s);
}

void server_conn_gone(struct server *s, struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->stats.connections--;
}

/* ---- reload ------------------------------------------------------------- */

/* One configuration load in a worker thread. config_load touches nothing
 * but its arguments, the file system, NSS and reads of the environment,
 * which it never writes (cenv.h). */
struct reload_job {
    uv_work_t      work;
    struct server *srv;
    char          *path;          /* owned: the thread's copy, which an
                                   * abandoned load may outlive s with */
    uint64_t       run;           /* s->reload_runs when it started */
    struct config *cfg;           /* owned: the result, NULL on error */
    struct prices *prices;        /* a reference on the running config's
                                   * price table, kept by the new one
                                   * when the file did not change */
    int            r;
    char           err[];         /* CONFIG_ERR_MAX bytes, allocated with
                                   * the job: every problem of the file
                                   * reaches `llmux reload` */
};

/* Who asked for a reload and waits for its answer. The session may go
 * before the load ends: session_close calls server_reload_forget, which
 * drops its waiters, so sess is live while the waiter is listed. */
struct reload_waiter {
    struct reload_waiter *next;
    struct session       *sess;    /* borrowed, see above */
    uint64_t              req_id;
    uint64_t              run;     /* the load that answers it */
};

static void reload_start(struct server *s);

static void reload_work(uv_work_t *w)
{
    struct reload_job *j = container_of(w, struct reload_job, work);

    j->r = config_load_prices(j->path, 0, j->prices, &j->cfg, j->err,
                              CONFIG_ERR_MAX);
}

/* On the loop: the new configuration replaces the old, as one step. */
static int reload_apply(struct server *s, struct reload_job *j)
{
    struct config *cfg = j->cfg;

    if (j->r < 0) {
        log_err("reload refused, keeping the old configuration: %s", j->err);
        s->stats.reload_failures++;
        free(s->reload_error);
        s->reload_error = strdup(j->err);
        return j->r;
    }
    for (size_t i = 0; i < cfg->nwarnings; i++)
        log_warn("%s", cfg->warnings[i]);
    /* Here, on the loop thread, with the load's worker done (cenv.h). */
    if (cenv_apply(&cfg->vars) < 0)
        log_warn("reload: environment_variables: cannot set a variable");
    if (cfg->prices && cfg->prices != s->cfg->prices)
        log_info("prices: %zu models from %s", prices_count(cfg->prices),
                 prices_path(cfg->prices));
    /* Requests in flight hold their own reference to the old config. */
    config_unref(s->cfg);
    s->cfg = cfg;
    j->cfg = NULL;
    s->budget.limit = budget_limit_mib(cfg->max_memory);
    router_prune(&s->router, cfg);  /* unchanged deployments keep stats */
    if (cache_configure(&s->cache, s->loop, cfg) < 0)
        log_err("reload: out of memory for the cache's Redis connection");
    s->stats.reloads++;
    free(s->reload_error);
    s->reload_error = NULL;
    log_info("reloaded %s: %zu deployments", cfg->path, cfg->ndeps);
    return 0;
}

/* Answers the waiters of load run; the others stay for the next. */
static void reload_answer(struct server *s, uint64_t run, int r,
                          const char *err)
{
    struct reload_waiter **pw = &s->reload_waiters, *w;

    while ((w = *pw) != NULL) {
        if (w->run != run) {
            pw = &w->next;
            continue;
        }
        *pw = w->next;
        /* Unlinked first: answering may close the session, whose
         * server_reload_forget then walks the list. */
        if (r != UV_ECANCELED)
            ops_reload_answer(w->sess, w->req_id, r, err);
        free(w);
        pw = &s->reload_waiters;    /* the list may have changed */
    }
}

void server_reload_forget(struct server *s, const struct session *sess)
{
    struct reload_waiter **pw = &s->reload_waiters, *w;

    while ((w = *pw) != NULL) {
        if (w->sess == sess) {
            *pw = w->next;
            free(w);
        } else {
            pw = &w->next;
        }
    }
}

static void reload_done(uv_work_t *w, int status)
{
    struct reload_job *j = container_of(w, struct reload_job, work);
    struct server *s = j->srv;
    int r;

    s->reload_job = NULL;
    if (s->stopping) {
        r = UV_ECANCELED;   /* no READY=1 after STOPPING=1 */
        if (s->stopping == 2 && !uv_is_closing((uv_handle_t *)&s->drain_timer))
            uv_close((uv_handle_t *)&s->drain_timer, NULL);
    } else {
        r = status < 0 ? status : reload_apply(s, j);
        sd_reloaded(s);
    }
    reload_answer(s, j->run, r, j->err);
    config_unref(j->cfg);
    prices_unref(j->prices);
    free(j->path);
    free(j);
    if (s->reload_again && !s->stopping)
        reload_start(s);
}

static void reload_start(struct server *s)
{
    struct reload_job *j = calloc(1, sizeof(*j) + CONFIG_ERR_MAX);

    s->reload_again = 0;
    s->reload_runs++;
    if (j == NULL || (j->path = strdup(s->config_path)) == NULL) {
        free(j);
        reload_answer(s, s->reload_runs, -ENOMEM, "out of memory");
        return;
    }
    j->srv = s;
    j->run = s->reload_runs;
    j->prices = s->cfg->prices ? prices_ref(s->cfg->prices) : NULL;
    sd_reloading(s);
    db_flush(&s->db);       /* reload flushes the ledger first */
    if (uv_queue_work(s->loop, &j->work, reload_work, reload_done) < 0) {
        sd_reloaded(s);
        reload_answer(s, j->run, -ENOMEM, "cannot start a worker thread");
        prices_unref(j->prices);
        free(j->path);
        free(j);
        return;
    }
    s->reload_job = j;
}

void server_reload(struct server *s, struct session *sess, uint64_t req_id)
{
    struct reload_waiter *w = NULL;

    if (s->stopping)
        return;
    if (sess && (w = calloc(1, sizeof(*w))) == NULL) {
        ops_reload_answer(sess, req_id, -ENOMEM, "out of memory");
        return;
    }
    if (w) {
        w->sess = sess;
        w->req_id = req_id;
        /* A load already running may have read the file before the
         * change this caller wants: it waits for the next. */
        w->run = s->reload_runs + 1;
        w->next = s->reload_waiters;
        s->reload_waiters = w;
    }
    if (s->reload_job)
        s->reload_again = 1;
    else
        reload_start(s);
}

/* ---- file descriptor limits ---------------------------------------------- */

/* Each request in flight may hold an upstream socket, each connection
 * holds one: half of what is left after a reserve for the loop, curl and
 * logs goes to requests (the limits stage's global count), the rest to
 * connections, and one connection gets a quarter of the requests' share,
 * so one client's slow requests cannot take every fd from the others. */
#define FD_RESERVE 32

static void fd_limits_init(struct server *s)
{
    struct rlimit rl;
    rlim_t n = 1024;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        n = rl.rlim_cur;
    if (n > 1u << 20)
        n = 1u << 20;
    s->inflight_max = n > FD_RESERVE + 2 ? (unsigned)(n - FD_RESERVE) / 2
                                         : 1;
    s->conn_max = n > FD_RESERVE + 2 ? (unsigned)(n - FD_RESERVE) -
                  s->inflight_max : 1;
    s->conn_inflight_max = s->inflight_max / 4 ? s->inflight_max / 4 : 1;
    if (s->conn_inflight_max > LLMUX_MAX_INFLIGHT)
        s->conn_inflight_max = LLMUX_MAX_INFLIGHT;
    if (s->limits.global > s->inflight_max)
        s->limits.global = s->inflight_max;
    s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* ---- signals ------------------------------------------------------------ */

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;

    if (signum != SIGHUP)
        server_stop(s);
    else
        server_reload(s, 0, 0);
}

int server_init(struct server *s, uv_loop_t *loop, struct config *cfg,
                const char *config_path)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    s->uid = getuid();
    s->started_ns = uv_hrtime();
    metrics_init(&s->metrics);
    limits_init(&s->limits);
    keys_init(&s->keys, &s->db);
    if (spend_init(&s->spend) < 0)
        return -ENOMEM;
    router_init(&s->router, uv_hrtime() ^ ((uint64_t)getpid() << 32));
    if ((s->config_path = strdup(config_path)) == NULL ||
        cache_configure(&s->cache, loop, cfg) < 0)
        return -ENOMEM;
    s->budget.limit = budget_limit_mib(cfg->max_memory);
    fd_limits_init(s);
    if (upstream_init(&s->up, loop) < 0)
        return LLMUX_EINTERNAL;
    gauth_pool_init(&s->gauth, loop, &s->up);
    uv_timer_init(loop, &s->drain_timer);
    uv_signal_init(loop, &s->sigterm);
    uv_signal_init(loop, &s->sigint);
    uv_signal_init(loop, &s->sighup);
    s->sigterm.data = s->sigint.data = s->sighup.data = s;
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sighup, on_signal, SIGHUP);
    return 0;
}

/* budgets: 'global' (litellm_settings.max_budget) and 'uid:N'
 * (llmux_settings.callers). */
static void budget_row(void *ud, int n, char **c)
{
    struct limits *l = ud;
    double spend = n >= 3 && c[1] ? strtod(c[1], NULL) : 0;
    int64_t at = n >= 3 && c[2] ? (int64_t)strtoll(c[2], NULL, 10) : 0;

    if (n < 3 || c[0] == NULL)
        return;
    if (strcmp(c[0], "global") == 0) {
        l->spend.spend = spend;
        l->spend.reset_at = at;
    } else if (strncmp(c[0], "uid:", 4) == 0)
        limits_load_caller(l, (uid_t)strtoul(c[0] + 4, NULL, 10), spend, at);
}

/* The database's collect hook: coalesced spend, once per batch. */
static void collect(void *ud)
{
    struct server *s = ud;

    keys_collect(&s->keys);
    limits_collect(s);
    spend_collect(&s->spend, &s->db);
}

int server_open_db(struct server *s, char *err, size_t errlen)
{
    char path[4096];
    int r;

    if (s->cfg->database)
        snprintf(path, sizeof(path), "%s", s->cfg->database);
    else if ((r = db_default_path(path, sizeof(path))) < 0) {
        /* No state folder of ours (a user without a writable home): serve
         * anyway, saying that nothing will persist. A database that was
         * asked for, or that is damaged, still refuses to start. */
        log_warn("no folder for the database (%s): keys and spend are kept "
                 "in memory only, until llmuxd stops; set "
                 "llmux_settings.database to keep them", strerror(-r));
        snprintf(path, sizeof(path), ":memory:");
    }
    if ((r = db_open(&s->db, s->loop, path, err, errlen)) < 0 ||
        (r = keys_load(&s->keys, err, errlen)) < 0 ||
        (r = spend_load(&s->spend, &s->db, err, errlen)) < 0 ||
        (r = db_query(&s->db, "SELECT scope, spend, budget_reset_at FROM "
                      "budgets", budget_row, &s->limits, err,
                      errlen)) < 0)
        return r;
    snprintf(s->limits.spend.dur, sizeof(s->limits.spend.dur), "%s",
             s->cfg->budget_duration);
    s->db.collect = collect;
    s->db.collect_ud = s;
    log_notice("keys and spend in %s (%zu keys)", path, s->keys.nkeys);
    if (s->cfg->database_url_line)
        log_warn("%s:%d: general_settings.database_url is not used: llmux "
                 "keeps keys and spend in its embedded database at %s",
                 s->cfg->path, s->cfg->database_url_line, path);
    return 0;
}

void server_free(struct server *s)
{
    gauth_pool_close(&s->gauth);
    cache_free(&s->cache);      /* if the loop ended another way */
    upstream_close(&s->up);
    /* Let the close callbacks of curl's sockets and our handles run (one
     * pass if a reload was abandoned: its work would keep the loop). */
    uv_run(s->loop, s->reload_job ? UV_RUN_NOWAIT : UV_RUN_DEFAULT);
    /* A batch still on the thread pool uses the handle db_close closes. */
    while (s->db.busy && uv_run(s->loop, UV_RUN_ONCE) != 0)
        ;
    db_close(&s->db);       /* commits what the loop still queued */
    keys_free(&s->keys);
    spend_free(&s->spend);
    config_unref(s->cfg);
    metrics_free(&s->metrics);
    limits_free(&s->limits);
    router_free(&s->router);
    secret_env_free(&s->env_keys);
    free(s->reload_error);
    while (s->reload_waiters) {
        struct reload_waiter *w = s->reload_waiters;

        s->reload_waiters = w->next;
        free(w);
    }
    if (s->spare_fd >= 0)
        close(s->spare_fd);
    free(s->config_path);
    free(s->socket_path);
}
