/* ops.h -- the operations that are not chat: models, status, metrics and
 * reload. Owns: answering them on a connection with a response + done (or
 * an error) frame. */
#ifndef LLMUX_OPS_H
#define LLMUX_OPS_H

#include <stddef.h>
#include <stdint.h>

struct conn;

#define LLMUX_DAEMON_VERSION "0.1.0"

void ops_handle(struct conn *c, uint64_t id, const char *op, size_t oplen);
/* Answers reload request id of c: r is 0, or why it was refused (err). */
void ops_reload_answer(struct conn *c, uint64_t id, int r, const char *err);

#endif
