/* server.c -- the listening socket, signals, reload and the SIGTERM drain
 * (see server.h). */
#include "server.h"
#include "container.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "session.h"
#include "sd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void on_connection(uv_stream_t *l, int status);

static void accept_retry(uv_timer_t *t)
{
    struct server *s = container_of(t, struct server, accept_retry);

    if (!s->stopping && s->listening)
        uv_listen((uv_stream_t *)&s->listener, 128, on_connection);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct server *s = container_of((uv_pipe_t *)l, struct server, listener);
    int r;

    if (status < 0 || s->stopping)
        return;
    r = conn_accept(s);
    if (r == UV_EMFILE || r == UV_ENFILE) {
        /* Out of descriptors: stop accepting for a second instead of
         * spinning on a listener that stays readable (tmux does this). */
        log_warn("accept: %s; pausing accepts for 1 s", uv_strerror(r));
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->listening = 0;
        uv_timer_start(&s->accept_retry, accept_retry, 1000, 0);
    }
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

int server_listen(struct server *s, const char *path, int inherited_fd)
{
    struct sockaddr_un sun;
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
        /* A stale socket from a crashed daemon would make bind fail; a
         * live one would answer connect. Remove only a dead one. */
        {
            struct sockaddr_un a = { .sun_family = AF_UNIX };
            int fd;

            snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
            fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
                close(fd);
                return -EADDRINUSE;
            }
            if (fd >= 0)
                close(fd);
            (void)unlink(path);
        }
        old = umask(0117);   /* socket 0660: owner and group */
        r = uv_pipe_bind(&s->listener, path);
        umask(old);
        if (r < 0)
            return r;
    }
    if ((r = uv_listen((uv_stream_t *)&s->listener, 128, on_connection)) < 0)
        return r;
    s->listening = 1;
    free(s->socket_path);
    s->socket_path = path ? strdup(path) : inherited_name(s);
    return s->socket_path ? 0 : -ENOMEM;
}

/* ---- stop --------------------------------------------------------------- */

static void close_handles(struct server *s)
{
    for (struct conn *c = s->conns; c; c = c->next)
        conn_close(c);
    uv_timer_stop(&s->drain_timer);
    uv_close((uv_handle_t *)&s->drain_timer, NULL);
    uv_timer_stop(&s->accept_retry);
    uv_close((uv_handle_t *)&s->accept_retry, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sighup, NULL);
    db_flush(&s->db);       /* the rest commits in server_free */
    db_stop(&s->db);
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
        if (!s->inherited && s->socket_path)
            (void)unlink(s->socket_path);
    }
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

int server_reload(struct server *s, char *err, size_t errlen)
{
    struct config *cfg;
    int r;

    sd_reloading(s);
    db_flush(&s->db);
    if ((r = config_load(s->config_path, &cfg, err, errlen)) < 0) {
        log_err("reload refused, keeping the old configuration: %s", err);
        s->stats.reload_failures++;
        free(s->reload_error);
        s->reload_error = strdup(err);
        sd_reloaded(s);
        return r;
    }
    for (size_t i = 0; i < cfg->nwarnings; i++)
        log_warn("%s", cfg->warnings[i]);
    /* Requests in flight hold their own reference to the old config. */
    config_unref(s->cfg);
    s->cfg = cfg;
    router_prune(&s->router, cfg);  /* unchanged deployments keep stats */
    s->stats.reloads++;
    free(s->reload_error);
    s->reload_error = NULL;
    log_info("reloaded %s: %zu deployments", cfg->path, cfg->ndeps);
    sd_reloaded(s);
    return 0;
}

/* ---- signals ------------------------------------------------------------ */

static void on_signal(uv_signal_t *h, int signum)
{
    struct server *s = h->data;
    char err[512];

    if (signum != SIGHUP)
        server_stop(s);
    else if (!s->stopping)   /* no READY=1 after STOPPING=1 */
        (void)server_reload(s, err, sizeof(err));
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
    if ((s->config_path = strdup(config_path)) == NULL)
        return -ENOMEM;
    if (upstream_init(&s->up, loop) < 0)
        return LLMUX_EINTERNAL;
    uv_timer_init(loop, &s->drain_timer);
    uv_timer_init(loop, &s->accept_retry);
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
    upstream_close(&s->up);
    /* Let the close callbacks of curl's sockets and our handles run. */
    uv_run(s->loop, UV_RUN_DEFAULT);
    db_close(&s->db);       /* commits what the loop still queued */
    keys_free(&s->keys);
    spend_free(&s->spend);
    config_unref(s->cfg);
    metrics_free(&s->metrics);
    limits_free(&s->limits);
    router_free(&s->router);
    secret_env_free(&s->env_keys);
    free(s->reload_error);
    free(s->config_path);
    free(s->socket_path);
}
