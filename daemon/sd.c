/* sd.c -- readiness, status, watchdog, reload and stop notifications for
 * systemd (see sd.h). The watchdog pings from the loop, never from a
 * thread, so a loop that hangs stops the pings and systemd restarts us. */
#include "sd.h"
#include "container.h"
#include "config.h"
#include "presets.h"
#include "server.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

/* How long READY=1, STOPPING=1 and RELOADING=1 may wait for the manager
 * to make room; periodic messages never wait. */
#define NOTIFY_WAIT_MS 1000

/* Distinct values of one string field among the deployments; the lists
 * are short and this runs once per load, not per request. */
static size_t count_distinct(const struct config *cfg, int providers)
{
    size_t n = 0;

    for (size_t i = 0; i < cfg->ndeps; i++) {
        const char *v = providers ? cfg->deps[i]->preset->name :
                                    cfg->deps[i]->model_name;
        size_t j = 0;

        while (j < i && strcmp(v, providers ? cfg->deps[j]->preset->name :
                                   cfg->deps[j]->model_name) != 0)
            j++;
        n += j == i;
    }
    return n;
}

static void make_base(struct server *s)
{
    const struct config *cfg = s->cfg;

    snprintf(s->sd.base, sizeof(s->sd.base), "Serving %zu groups (%zu "
             "deployments, %zu providers) on %s", count_distinct(cfg, 0),
             cfg->ndeps, count_distinct(cfg, 1),
             s->socket_path ? s->socket_path : "?");
}

/* The STATUS= text for now: the base line, the counters, and a refused
 * reload until the next one succeeds (so `systemctl status` keeps it). */
static void format_status(const struct server *s, char *out, size_t len)
{
    const struct server_stats *st = &s->stats;
    int n;

    if (s->stopping) {
        snprintf(out, len, "Stopping: %llu requests in flight",
                 (unsigned long long)st->inflight);
        return;
    }
    n = snprintf(out, len, "%s; %llu in flight, %llu requests, %llu errors",
                 s->sd.base, (unsigned long long)st->inflight,
                 (unsigned long long)st->requests,
                 (unsigned long long)st->errors);
    if (s->reload_error && n > 0 && (size_t)n < len)
        snprintf(out + n, len - (size_t)n, "; last reload refused: %s",
                 s->reload_error);
}

/* Sends msg to $NOTIFY_SOCKET, waiting at most wait_ms for room.
 * sd_notify's sendmsg blocks for as long as the manager's queue is full,
 * and these run on the loop: a stalled reader must cost a lost STATUS= or
 * WATCHDOG=1 (wait 0; the next one makes up for it), or a short wait for
 * READY=1 / STOPPING=1 / RELOADING=1, never a frozen daemon. */
static void notify_send(const char *msg, int wait_ms)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct pollfd pfd;
    size_t n;
    int fd;

    if (path == NULL || (path[0] != '/' && path[0] != '@') ||
        (n = strlen(path)) >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, path, n);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';         /* abstract namespace */
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return;
    /* Connected, so that POLLOUT tells whether the receiver has room. */
    if (connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(
            struct sockaddr_un, sun_path) + n)) == 0 &&
        send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
        errno == EAGAIN && wait_ms > 0) {
        pfd.fd = fd;
        pfd.events = POLLOUT;
        if (poll(&pfd, 1, wait_ms) > 0)
            (void)send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    close(fd);
}

/* notify_send with printf formatting. */
static void notifyf(int wait_ms, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void notifyf(int wait_ms, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    notify_send(msg, wait_ms);
}

/* Sends prefix + STATUS= when the text changed (or always with a
 * prefix: READY=1 and friends must go out). */
static void send_status(struct server *s, const char *prefix)
{
    char text[sizeof(s->sd.last)];

    format_status(s, text, sizeof(text));
    if (prefix == NULL && strcmp(text, s->sd.last) == 0)
        return;
    memcpy(s->sd.last, text, sizeof(text));
    notifyf(prefix ? NOTIFY_WAIT_MS : 0, "%sSTATUS=%s", prefix ? prefix : "",
            text);
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    notify_send("WATCHDOG=1", 0);
}

static void on_status(uv_timer_t *t)
{
    send_status(container_of(t, struct server, sd.status), NULL);
}

void sd_ready(struct server *s)
{
    uint64_t usec = 0, ms;

    make_base(s);
    if (!s->sd.started) {
        uv_timer_init(s->loop, &s->sd.watchdog);
        uv_timer_init(s->loop, &s->sd.status);
        s->sd.started = 1;
        uv_update_time(s->loop);  /* the loop time is stale before run */
        /* usec is only valid when the call returns > 0; with a foreign
         * WATCHDOG_PID it returns 0 and the watchdog is not ours. */
        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
            s->sd.watchdog_usec = usec;
            ms = usec / 2000;
            uv_timer_start(&s->sd.watchdog, on_watchdog, 0, ms ? ms : 1);
        }
        /* Nobody reads STATUS= without a manager: do not wake for it. */
        if (getenv("NOTIFY_SOCKET"))
            uv_timer_start(&s->sd.status, on_status, SD_STATUS_MS,
                           SD_STATUS_MS);
    }
    send_status(s, "READY=1\n");
}

void sd_reloading(struct server *s)
{
    (void)s;
    /* CLOCK_MONOTONIC, which is what uv_hrtime reads on Linux. */
    notifyf(NOTIFY_WAIT_MS, "RELOADING=1\nMONOTONIC_USEC=%llu",
            (unsigned long long)(uv_hrtime() / 1000));
}

void sd_reloaded(struct server *s)
{
    make_base(s);
    send_status(s, "READY=1\n");
}

void sd_stopping(struct server *s)
{
    send_status(s, "STOPPING=1\n");
}

void sd_close(struct server *s)
{
    if (!s->sd.started)
        return;
    s->sd.started = 0;
    uv_timer_stop(&s->sd.watchdog);
    uv_timer_stop(&s->sd.status);
    uv_close((uv_handle_t *)&s->sd.watchdog, NULL);
    uv_close((uv_handle_t *)&s->sd.status, NULL);
}

void sd_start_failed(const char *why, int err)
{
    /* ERRNO= wants an errno; LLMUX_E* codes (<= -1001) are not. */
    int e = err < 0 && err > -1000 ? -err : EINVAL;

    notifyf(NOTIFY_WAIT_MS, "STATUS=Failed to start: %s\nERRNO=%d", why, e);
}
