/* ops.h -- the operations that are not chat: models, status, metrics and
 * reload. Owns: answering them through a session with a completion +
 * done (or an error) event. */
#ifndef LLMUX_OPS_H
#define LLMUX_OPS_H

#include <stddef.h>
#include <stdint.h>

/* The version is in version.h (included here for those that read it
 * through ops.h); ops_handle is declared in session.h, for front ends. */
#include "version.h"

struct session;

/* Answers reload request id of s (server.c, once its load ended): r is
 * 0, or why it was refused (err). */
void ops_reload_answer(struct session *s, uint64_t id, int r,
                       const char *err);

#endif
