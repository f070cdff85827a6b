/* sd.h -- what llmuxd tells systemd through sd_notify(3).
 * Owns: the watchdog timer (WATCHDOG=1 from the loop, at half of
 * $WATCHDOG_USEC), the STATUS= line with in-flight counts (refreshed every
 * second when it changed) and the READY/RELOADING/STOPPING/ERRNO messages.
 * Without $NOTIFY_SOCKET (a daemon started by hand) every call is a no-op.
 * The sd_ prefix names this file; none of these clash with libsystemd. */
#ifndef LLMUX_SD_H
#define LLMUX_SD_H

#include <stdint.h>
#include <uv.h>

struct server;

#define SD_STATUS_MS 1000   /* STATUS= refresh period */

struct sd {
    uv_timer_t watchdog;        /* repeats every watchdog_usec / 2 */
    uv_timer_t status;          /* repeats every SD_STATUS_MS */
    uint64_t   watchdog_usec;   /* 0: systemd asked for no watchdog */
    int        started;         /* timers initialised */
    char       base[256];       /* "Serving 3 groups (…) on PATH" */
    char       last[768];       /* the STATUS= text sent last */
};

/* Arms the timers and sends READY=1 with the first STATUS= (groups,
 * deployments, providers, socket). Call once the server listens. */
void sd_ready(struct server *s);
/* RELOADING=1 + MONOTONIC_USEC= (systemd >= 253 waits for the READY=1
 * that sd_reloaded sends; 252 ignores both). */
void sd_reloading(struct server *s);
/* READY=1 + STATUS=: the new configuration, or, when s->reload_error is
 * set, why it was refused while the old one keeps serving. */
void sd_reloaded(struct server *s);
/* STOPPING=1 + STATUS= with the requests still in flight. */
void sd_stopping(struct server *s);
/* Stops and closes the timers (the drain is over). */
void sd_close(struct server *s);
/* Before exit(1) on a failed start: STATUS=Failed to start: why, and
 * ERRNO= (err is a negative errno or LLMUX_E* code). */
void sd_start_failed(const char *why, int err);

#endif
