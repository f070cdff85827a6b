/* session.c -- what every front end shares (session.h): its list of
 * requests in flight, resuming them after a backlog, ending them all. */
#include "session.h"
#include "request.h"
#include "server.h"

#include <string.h>

void session_init(struct session *s, const struct session_ops *ops,
                  struct server *srv)
{
    memset(s, 0, sizeof(*s));
    s->ops = ops;
    s->srv = srv;
}

struct request *session_find(const struct session *s, uint64_t id)
{
    for (struct request *rq = s->reqs; rq; rq = rq->next)
        if (rq->id == id)
            return rq;
    return NULL;
}

void session_drained(struct session *s)
{
    if (s->paused == 0 || s->gone)
        return;
    /* request_resume may emit (and even end the request), so walk with
     * the next pointer taken first. */
    for (struct request *rq = s->reqs, *next; rq; rq = next) {
        next = rq->next;
        if (rq->paused)
            request_resume(rq);
    }
}

void session_cancel_all(struct session *s, int code, const char *message)
{
    while (s->reqs)
        request_cancel(s->reqs, code, message);
}

void session_close(struct session *s)
{
    s->gone = 1;
    server_reload_forget(s->srv, s);    /* a reload it waits for */
    while (s->reqs)
        request_abort(s->reqs);
}
