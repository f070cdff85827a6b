/* stage.h -- the request pipeline's stages, as nginx's phase handlers.
 * Owns: the stage interface and the list of stages request.c runs, in
 * order. A stage is a file that owns one concern; adding one is adding a
 * file and a line in request.c's list, never editing request_start_chat. */
#ifndef LLMUX_STAGE_H
#define LLMUX_STAGE_H

struct request;

enum stage_rc {
    STAGE_CONTINUE,   /* pass on to the next stage */
    STAGE_ANSWERED,   /* it ended the request (error or answer): rq is
                       * gone, touch nothing */
    STAGE_AGAIN,      /* it will call request_continue (or end rq) later */
};

struct stage {
    const char     *name;
    /* NULL: nothing to do on the way in. */
    enum stage_rc (*run)(struct request *rq);
    /* After the terminal event, for every stage that ran, last first
     * (release what run took, write the ledger). May be NULL. */
    void          (*end)(struct request *rq);
};

/* In request order (request.c holds the list). */
extern const struct stage stage_ledger;   /* ledger.c: log, metrics */
extern const struct stage stage_opts;     /* opts.c: body checks and
                                           * control keys, once */
extern const struct stage stage_access;   /* access.c: who, may they */
extern const struct stage stage_limits;   /* limits.c: in flight */
extern const struct stage stage_cache;    /* cache.c: none yet */
extern const struct stage stage_route;    /* route.c: model -> group */
extern const struct stage stage_attempts; /* request.c: provider and
                                           * upstream, retries, fallbacks */

/* Runs the stages after the one that returned STAGE_AGAIN. */
void request_continue(struct request *rq);

#endif
