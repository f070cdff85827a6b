/* db.h -- the embedded SQLite database: keys, teams, budgets, spend rows.
 * Owns: the connection, the schema and its forward migrations, and the
 * write queue. The loop never waits on the disk: reads happen once, at
 * start (db_query, before serving); writes are SQL statements queued on
 * the loop and committed in batches on libuv's thread pool
 * (uv_queue_work), one batch at a time, at most DB_FLUSH_MS after they
 * were queued. Only the worker touches the connection while a batch runs.
 */
#ifndef LLMUX_DB_H
#define LLMUX_DB_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* A queued statement reaches the disk within this (plus the commit). */
#define DB_FLUSH_MS        200
/* Beyond this many queued statements, the oldest are dropped with a log
 * line (a disk that stopped answering must not grow memory forever). */
#define DB_MAX_PENDING     1000000
#define DB_SCHEMA_VERSION  1

struct sqlite3;

/* Work a batch runs on the worker inside its transaction, after its
 * statements: rows bound to a prepared statement, so the loop neither
 * formats nor parses SQL per row. run returns an SQLite code; drop frees
 * data (on the loop, after the commit). n: rows it writes (counts). */
struct db_job {
    int   (*run)(struct sqlite3 *h, void *data);
    void  (*drop)(void *data);
    void   *data;
    size_t  n;
};

struct db {
    struct sqlite3 *h;         /* owned */
    char           *path;      /* owned */
    uv_loop_t      *loop;
    uv_timer_t      timer;     /* the next batch */
    uv_work_t       work;
    int             timer_open;
    int             busy;      /* a batch is on the thread pool */
    char          **pending;   /* owned: sqlite3_mprintf'd statements */
    size_t          npending, cap;
    struct db_job   job;       /* the next batch's, if any */
    struct db_job   batch_job; /* owned by the worker while busy */
    char          **batch;     /* owned by the worker while busy */
    size_t          nbatch;
    int             batch_rc;  /* the worker's result (SQLite code) */
    char            batch_err[160];
    /* Called just before a batch is taken: the owner of coalesced state
     * (a key's running spend) queues its latest values then, once per
     * batch rather than once per request. */
    void          (*collect)(void *ud);
    void           *collect_ud;
    uint64_t        committed; /* statements committed since start */
    uint64_t        failed;    /* statements lost to a failed commit */
};

/* Where the database lives when llmux_settings.database does not say:
 * $STATE_DIRECTORY/llmux.db (systemd's StateDirectory=llmux), else
 * $XDG_STATE_HOME/llmux/llmux.db, else ~/.local/state/llmux/llmux.db;
 * the folder is created. 0, or < 0 (-errno). */
int  db_default_path(char *buf, size_t len);
/* Opens (creating) path: WAL, integrity check, migrations to
 * DB_SCHEMA_VERSION. < 0 with err saying why (llmuxd then refuses to
 * start). The timer is not started until a write is queued. */
int  db_open(struct db *db, uv_loop_t *loop, const char *path, char *err,
             size_t errlen);
/* Synchronous read, for start-up only (and tests): cb gets each row as
 * text columns (NULL for SQL NULL). 0, or < 0 with err set. */
int  db_query(struct db *db, const char *sql,
              void (*cb)(void *ud, int ncol, char **cols), void *ud,
              char *err, size_t errlen);
/* Queues one statement; takes ownership of sql (from sqlite3_mprintf,
 * freed with sqlite3_free; NULL is out of memory, counted as failed). */
void db_exec(struct db *db, char *sql);
/* Sets the next batch's job (from the collect hook: one per batch). */
void db_job(struct db *db, const struct db_job *job);
/* Something will be collected: makes sure a batch follows (the timer). */
void db_touch(struct db *db);
/* Starts a batch now, not at the timer (SIGTERM, reload). */
void db_flush(struct db *db);
/* Closes the timer handle (server shutdown). */
void db_stop(struct db *db);
/* After the loop ended: commits what is still queued, synchronously, and
 * closes the connection. Accepts a db that never opened. */
void db_close(struct db *db);

#endif
