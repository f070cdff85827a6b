/* spend.h -- the spend ledger as llmuxd reads it: the latest rows
 * (/spend/logs) and per-day totals by key, team, user and model (llmux
 * spend), in memory, loaded from the database at start and appended to
 * as requests end; the rows themselves reach the disk through db_exec
 * (ledger.c). Bounded: SPEND_LOG_MAX rows, SPEND_AGG_MAX totals. */
#ifndef LLMUX_SPEND_H
#define LLMUX_SPEND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SPEND_LOG_MAX  10000
#define SPEND_AGG_MAX  200000
#define SPEND_BUCKETS  1024
#define SPEND_NAME_MAX 256      /* bytes of a model name kept */
#define SPEND_ROW_STRINGS 512   /* room of a free-list row's strings */
#define SPEND_FREE_MAX 4096     /* rows kept for reuse */

/* A row as spend_add takes it (borrowed strings), or as the ledger keeps
 * it: one allocation with its strings after it (the pointers point
 * there), shared by the ring and the write queue (refs; both on the loop
 * thread: the database worker only reads it). */
struct spend_row {
    char    *request_id;                      /* NULL: made of id_us and
                                               * id_seq (spend_row_id) */
    uint64_t id_us, id_seq;                   /* the end in µs, a count */
    char    *api_key, *key_alias, *team_id;   /* NULL: none */
    char    *model, *group, *deployment, *status;
    uid_t    uid;
    int64_t  prompt, completion, cached;
    double   cost, start, end;                /* USD; unix seconds */
    unsigned refs;
    int      cap;                             /* 1: SPEND_ROW_STRINGS of
                                               * room (free list), 0:
                                               * made to measure */
    struct spend_row *next_free;              /* on the free list */
};

#define SPEND_ID_MAX 48

/* The row's request id, formatted in buf only when it is asked for (the
 * database batch, /spend/logs), never per request. */
const char *spend_row_id(const struct spend_row *r, char buf[SPEND_ID_MAX]);

struct spend_agg {
    struct spend_agg *next;
    int64_t  day;                              /* unix day */
    char    *key, *alias, *team, *model;       /* owned; "" for none */
    uid_t    uid;
    uint64_t requests, prompt, completion;
    double   cost;
};

struct spend {
    struct spend_row **queue;                  /* owned: rows not yet
                                                * handed to the database */
    size_t            nqueue, qcap;
    struct spend_row **rows;                   /* ring of SPEND_LOG_MAX
                                                * references */
    size_t            nrows, head;             /* head: next slot */
    struct spend_row *free;                    /* owned: rows to reuse */
    size_t            nfree;
    struct spend_agg *bucket[SPEND_BUCKETS];   /* owned */
    size_t            naggs;
};

struct db;

/* 0, or -ENOMEM. */
int  spend_init(struct spend *s);
void spend_free(struct spend *s);
/* Loads the latest rows and the totals (start-up only). */
int  spend_load(struct spend *s, struct db *db, char *err, size_t errlen);
/* A request ended: row (its strings are copied) joins the ring, the
 * totals and the queue for the database. */
void spend_add(struct spend *s, const struct spend_row *row);
/* The database's collect hook: the queued rows become the next batch's
 * job, inserted on the worker through one prepared statement. */
void spend_collect(struct spend *s, struct db *db);
/* Which /spend/logs rows: each NULL / 0 field matches every row. */
struct spend_filter {
    const char *key;            /* api_key: the token (hash) */
    const char *request_id;
    const char *user;           /* the row's "user": the caller's uid */
    double      start, end;     /* unix seconds: rows that ended in
                                 * [start, end); 0: open */
    size_t      limit;          /* the newest limit rows; 0: all kept */
};

/* /spend/logs rows that f matches, newest last. */
json_t *spend_logs(const struct spend *s, const struct spend_filter *f);
/* LiteLLM's summary of /spend/logs between two dates: one entry per unix
 * day in [d0, d1] with spend, oldest first, {"startTime": "YYYY-MM-DD",
 * "spend": total, "users": {uid: spend}, "models": {model: spend}, and
 * each key's hash: its spend}; f's key and user narrow it (the rest of f
 * is not used). */
json_t *spend_daily(const struct spend *s, const struct spend_filter *f,
                    int64_t d0, int64_t d1);
/* Totals grouped by "key", "team", "user", "model" or "day" since the
 * unix day since_day (0: all). NULL for an unknown grouping. */
json_t *spend_report(const struct spend *s, const char *by,
                     int64_t since_day);

#endif
