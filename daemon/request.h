/* request.h -- one chat request from the frame that started it to its
 * terminal frame.
 * Owns: the canonical request body, its attempts (one deployment each, as
 * router.h chooses: retries with backoff, fallbacks to other groups), the
 * provider call (struct pcall) and its libcurl transfer, the upstream body
 * buffer, the backoff / first-chunk / idle timers, timing, and turning
 * provider output into chunk/response/done/error frames on the
 * connection. A request outlives its connection only as long as it takes
 * to abort its transfer; its memory goes once libuv closed its timers. */
#ifndef LLMUX_REQUEST_H
#define LLMUX_REQUEST_H

#include <jansson.h>
#include <stdint.h>

struct conn;
struct request;

/* Starts a chat request; takes ownership of body. Errors are answered on
 * the connection (an error frame), so this cannot fail. */
void request_start_chat(struct conn *c, uint64_t id, json_t *body);

/* Ends the request with an error frame of code (ECANCELLED for a cancel
 * frame), aborting its upstream transfer. */
void request_cancel(struct request *rq, int code, const char *message);
/* The connection is going away: abort silently, no frames. */
void request_abort(struct request *rq);

/* Backpressure from the connection. */
void request_pause(struct request *rq);
void request_resume(struct request *rq);
int  request_paused(const struct request *rq);

/* The linkage conn.c keeps (kept here so struct request stays private). */
struct request *request_next(const struct request *rq);
uint64_t request_id(const struct request *rq);

#endif
