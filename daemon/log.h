/* log.h -- llmuxd's one logging path.
 * Owns: the log level, the choice between journald (structured fields,
 * when stderr is the journal), "<N>"-prefixed stderr lines (pipes, files)
 * and "warning: "-worded ones (stderr is a terminal). Only the
 * daemon logs; nothing here ever receives a secret (callers pass names and
 * fingerprints, not keys). */
#ifndef LLMUX_LOG_H
#define LLMUX_LOG_H

#include <stddef.h>
#include <syslog.h>

void log_init(int level, int debug_content);
int  log_level(void);
/* True when message content may be logged (debug option, off by default). */
int  log_content_allowed(void);

void log_msg(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One structured line, joined by the caller: line (len bytes, no NUL
 * needed) is a message and then "KEY=value" fields, space-separated, and
 * fields[0..n) are those fields' slices of it (names [A-Z0-9_], never a
 * key as value). The journal gets the line as MESSAGE= plus each field on
 * its own; stderr gets the line with a "<N>" prefix (a word on a
 * terminal). */
struct iovec;
void log_line(int prio, const char *line, size_t len,
              const struct iovec *fields, size_t n);

#define log_err(...)    log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)  do { if (log_level() >= LOG_DEBUG) \
                             log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
