/* limits-state.h -- (not limits.h: that name would hide <limits.h>
 * behind -Idaemon) the limits stage's state: chat requests in flight, per
 * caller (uid) and for the whole daemon. It hangs off struct server. */
#ifndef LLMUX_LIMITS_H
#define LLMUX_LIMITS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "keys.h"

/* Defaults until the config carries them: a caller may have this many
 * chat requests in flight over all its connections, the daemon this many
 * in all. Beyond, a typed rate_limit error, never a dropped request. */
#define LIMITS_PER_CALLER  1024
#define LIMITS_GLOBAL      16384
#define LIMITS_BUCKETS     64
#define LIMITS_MAX_IDLE    1024  /* per uid entries kept while idle */

struct limits_uid;
struct limits_caller;

struct limits {
    struct limits_uid *bucket[LIMITS_BUCKETS]; /* owned; entries stay
                                                * while idle, up to
                                                * LIMITS_MAX_IDLE of them */
    size_t             nuids;
    uint64_t           inflight;
    unsigned           per_caller, global;
    struct spend_budget spend;   /* litellm_settings.max_budget: the
                                  * daemon's own (max from the config) */
    int                spend_dirty;  /* to write with the next batch */
    int                callers_dirty;
    struct limits_caller *callers[LIMITS_BUCKETS]; /* owned: per uid state
                                  * of llmux_settings.callers, kept while
                                  * llmuxd runs (spend, windows) */
};

void limits_init(struct limits *l);
void limits_free(struct limits *l);
/* Counts one more request of uid: 0, or LLMUX_ERATELIMIT (a limit is
 * reached) / LLMUX_EINTERNAL with msg set. */
int  limits_take(struct limits *l, uid_t uid, char *msg, size_t len);
/* The request counted by limits_take ended. */
void limits_put(struct limits *l, uid_t uid);
struct server;
struct request;
/* The daemon's own spend changed: written with the next batch
 * (limits_collect, from the database's collect hook). */
void limits_save_global(struct server *s);
void limits_collect(struct server *s);
/* A uid's spend and reset time from the database (start-up). */
void limits_load_caller(struct limits *l, uid_t uid, double spend,
                        int64_t reset_at);
/* Calls fn for each uid policed by a callers entry since start: that
 * entry's label and the uid's budget (metrics). */
typedef void limits_caller_fn(void *ud, uid_t uid, const char *label,
                              const struct spend_budget *b);
void limits_each_caller(const struct limits *l, limits_caller_fn *fn,
                        void *ud);
/* Takes back the key's and team's count of a request refused later. */
void limits_uncount_key(struct request *rq);
/* Requests in flight of uid now (status, tests). */
unsigned limits_inflight(const struct limits *l, uid_t uid);

#endif
