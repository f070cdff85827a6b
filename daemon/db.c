/* db.c -- the embedded SQLite database (db.h): opening with WAL, the
 * integrity check, forward migrations by PRAGMA user_version, start-up
 * reads, and batched writes on libuv's thread pool. It knows tables only
 * as SQL text; keys.c and spend.c own what the rows mean. */
#include "db.h"
#include "container.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Migration i brings user_version from i to i + 1; append, never edit. */
static const char *const migrations[] = {
    "CREATE TABLE keys ("
    " token TEXT PRIMARY KEY,"          /* SHA-256 hex of the key */
    " key_alias TEXT, key_name TEXT, models TEXT, max_budget REAL,"
    " budget_duration TEXT, budget_reset_at INTEGER, rpm_limit INTEGER,"
    " tpm_limit INTEGER, max_parallel_requests INTEGER, expires INTEGER,"
    " blocked INTEGER NOT NULL DEFAULT 0, metadata TEXT, user_id TEXT,"
    " team_id TEXT, spend REAL NOT NULL DEFAULT 0, created_at INTEGER);"
    "CREATE TABLE teams ("
    " team_id TEXT PRIMARY KEY, team_alias TEXT, models TEXT,"
    " max_budget REAL, budget_duration TEXT, budget_reset_at INTEGER,"
    " rpm_limit INTEGER, tpm_limit INTEGER, blocked INTEGER NOT NULL"
    " DEFAULT 0, metadata TEXT, spend REAL NOT NULL DEFAULT 0,"
    " created_at INTEGER);"
    "CREATE TABLE budgets ("           /* uid:N and global */
    " scope TEXT PRIMARY KEY, spend REAL NOT NULL DEFAULT 0,"
    " budget_reset_at INTEGER);"
    "CREATE TABLE spend ("
    " id INTEGER PRIMARY KEY, request_id TEXT, api_key TEXT, key_alias TEXT,"
    " team_id TEXT, uid INTEGER, model TEXT, model_group TEXT,"
    " deployment TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,"
    " cached_tokens INTEGER, spend REAL, start_time REAL, end_time REAL,"
    " status TEXT);"
    "CREATE INDEX spend_end ON spend(end_time);",
};

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            *p = '/';
            return -errno;
        }
        *p = '/';
    }
    return 0;
}

int db_default_path(char *buf, size_t len)
{
    const char *sd = getenv("STATE_DIRECTORY"), *x = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    size_t n;
    int w;

    if (sd && *sd) {
        /* Several directories are ':'-separated; ours is the first. */
        n = strcspn(sd, ":");
        w = snprintf(buf, len, "%.*s/llmux.db", (int)n, sd);
    } else if (x && *x)
        w = snprintf(buf, len, "%s/llmux/llmux.db", x);
    else if (home && *home)
        w = snprintf(buf, len, "%s/.local/state/llmux/llmux.db", home);
    else
        return -ENOENT;
    if (w < 0 || (size_t)w >= len)
        return -ENAMETOOLONG;
    return mkdirs(buf);
}

static int fail(struct db *db, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "database %s: %s: %s", db->path, what,
             db->h ? sqlite3_errmsg(db->h) : "out of memory");
    return -EIO;
}

struct one { char *s; };

static void first_col(void *ud, int ncol, char **cols)
{
    struct one *o = ud;

    if (o->s == NULL && ncol > 0 && cols[0])
        o->s = strdup(cols[0]);
}

int db_query(struct db *db, const char *sql,
             void (*cb)(void *ud, int ncol, char **cols), void *ud,
             char *err, size_t errlen)
{
    sqlite3_stmt *st;
    char *cols[32];
    int r, n;

    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
        return fail(db, err, errlen, "cannot read");
    n = sqlite3_column_count(st);
    if (n > 32)
        n = 32;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < n; i++)
            cols[i] = (char *)sqlite3_column_text(st, i);
        cb(ud, n, cols);
    }
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : fail(db, err, errlen, "cannot read");
}

static int integrity(struct db *db, char *err, size_t errlen)
{
    struct one o = { NULL };
    int r;

    if ((r = db_query(db, "PRAGMA integrity_check", first_col, &o, err,
                      errlen)) < 0)
        return r;
    if (o.s && strcmp(o.s, "ok") == 0) {
        free(o.s);
        return 0;
    }
    snprintf(err, errlen, "database %s failed its integrity check: %s "
             "(restore it from a backup, or move it away to start empty)",
             db->path, o.s ? o.s : "no answer");
    free(o.s);
    return -EIO;
}

static int migrate(struct db *db, char *err, size_t errlen)
{
    struct one o = { NULL };
    long v;
    char sql[64];
    int r;

    if ((r = db_query(db, "PRAGMA user_version", first_col, &o, err,
                      errlen)) < 0)
        return r;
    v = o.s ? strtol(o.s, NULL, 10) : 0;
    free(o.s);
    if (v > DB_SCHEMA_VERSION) {
        snprintf(err, errlen, "database %s has schema version %ld, newer "
                 "than this llmuxd's %d: run the newer llmuxd", db->path, v,
                 DB_SCHEMA_VERSION);
        return -EIO;
    }
    for (; v < DB_SCHEMA_VERSION; v++) {
        snprintf(sql, sizeof(sql), "PRAGMA user_version=%ld", v + 1);
        if (sqlite3_exec(db->h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db->h, migrations[v], NULL, NULL, NULL) !=
            SQLITE_OK ||
            sqlite3_exec(db->h, sql, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            r = fail(db, err, errlen, "migration failed");
            sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
            return r;
        }
        log_info("database %s: schema migrated to version %ld", db->path,
                 v + 1);
    }
    return 0;
}

int db_open(struct db *db, uv_loop_t *loop, const char *path, char *err,
            size_t errlen)
{
    int r;

    memset(db, 0, sizeof(*db));
    db->loop = loop;
    if ((db->path = strdup(path)) == NULL)
        return -ENOMEM;
    if (sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE |
                        SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
        SQLITE_OK)
        return fail(db, err, errlen, "cannot open");
    if (strcmp(path, ":memory:") != 0)
        (void)chmod(path, 0600); /* key hashes and spend: not for others */
    /* synchronous=NORMAL in WAL: a crash of llmuxd loses nothing that
     * was committed; only a power cut may lose the last commits. */
    if (sqlite3_exec(db->h, "PRAGMA journal_mode=WAL; PRAGMA "
                     "synchronous=NORMAL; PRAGMA busy_timeout=5000", NULL,
                     NULL, NULL) != SQLITE_OK)
        return fail(db, err, errlen, "cannot set WAL mode");
    if ((r = integrity(db, err, errlen)) < 0 ||
        (r = migrate(db, err, errlen)) < 0)
        return r;
    uv_timer_init(loop, &db->timer);
    db->timer_open = 1;
    return 0;
}

/* One transaction for the whole batch; on the thread pool. */
static int commit(sqlite3 *h, char **sql, size_t n, const struct db_job *job,
                  char *err, size_t len)
{
    int r = sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    for (size_t i = 0; r == SQLITE_OK && i < n; i++)
        r = sqlite3_exec(h, sql[i], NULL, NULL, NULL);
    if (r == SQLITE_OK && job->run)
        r = job->run(h, job->data);
    if (r == SQLITE_OK)
        r = sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    if (r != SQLITE_OK) {
        snprintf(err, len, "%s", sqlite3_errmsg(h));
        sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
    }
    return r;
}

static void work_run(uv_work_t *w)
{
    struct db *db = container_of(w, struct db, work);

    db->batch_rc = commit(db->h, db->batch, db->nbatch, &db->batch_job,
                          db->batch_err, sizeof(db->batch_err));
}

static void free_batch(struct db *db)
{
    for (size_t i = 0; i < db->nbatch; i++)
        sqlite3_free(db->batch[i]);
    free(db->batch);
    db->batch = NULL;
    db->nbatch = 0;
    if (db->batch_job.run)
        db->batch_job.drop(db->batch_job.data);
    db->batch_job = (struct db_job){ .run = NULL };
}

static void start_batch(struct db *db);
static int  push(struct db *db, char *sql);

void db_job(struct db *db, const struct db_job *job)
{
    if (db->job.run) {          /* one per batch: the older one is lost */
        db->failed += db->job.n;
        db->job.drop(db->job.data);
    }
    db->job = *job;
}

static void work_done(uv_work_t *w, int status)
{
    struct db *db = container_of(w, struct db, work);

    db->busy = 0;
    if (status < 0 || db->batch_rc != SQLITE_OK) {
        log_err("database %s: %zu writes lost: %s", db->path,
                db->nbatch + db->batch_job.n,
                status < 0 ? uv_strerror(status) : db->batch_err);
        db->failed += db->nbatch + db->batch_job.n;
    } else
        db->committed += db->nbatch + db->batch_job.n;
    free_batch(db);
    /* What came while this batch ran waits for the timer: one commit per
     * DB_FLUSH_MS at most, however many requests end meanwhile. */
    if (db->npending || db->job.run)
        db_touch(db);
}

static void start_batch(struct db *db)
{
    if (db->busy || db->h == NULL)
        return;
    if (db->collect)
        db->collect(db->collect_ud);
    if (db->npending == 0 && db->job.run == NULL)
        return;
    db->batch = db->pending;
    db->nbatch = db->npending;
    db->batch_job = db->job;
    db->job = (struct db_job){ .run = NULL };
    db->pending = NULL;
    db->npending = db->cap = 0;
    db->busy = 1;
    if (uv_queue_work(db->loop, &db->work, work_run, work_done) < 0) {
        db->busy = 0;
        db->failed += db->nbatch + db->batch_job.n;
        free_batch(db);
    }
}

static void on_timer(uv_timer_t *t)
{
    struct db *db = container_of(t, struct db, timer);

    start_batch(db);
    /* Busy: work_done re-arms the timer for what is left. */
}

void db_exec(struct db *db, char *sql)
{
    if (sql == NULL || db->h == NULL) {
        db->failed++;
        sqlite3_free(sql);
        return;
    }
    if (push(db, sql) == 0)
        db_touch(db);
}

/* Appends sql to the pending list; on failure it is freed and counted. */
static int push(struct db *db, char *sql)
{
    char **p;

    if (db->npending == db->cap) {
        size_t cap = db->cap ? db->cap * 2 : 64;

        if (db->npending >= DB_MAX_PENDING ||
            (p = realloc(db->pending, cap * sizeof(*p))) == NULL) {
            log_err("database %s: write queue full; a write is lost",
                    db->path);
            db->failed++;
            sqlite3_free(sql);
            return -1;
        }
        db->pending = p;
        db->cap = cap;
    }
    db->pending[db->npending++] = sql;
    return 0;
}

void db_touch(struct db *db)
{
    if (db->timer_open && !uv_is_active((uv_handle_t *)&db->timer))
        uv_timer_start(&db->timer, on_timer, DB_FLUSH_MS, 0);
}

void db_flush(struct db *db)
{
    start_batch(db);
}

void db_stop(struct db *db)
{
    if (!db->timer_open)
        return;
    db->timer_open = 0;
    uv_timer_stop(&db->timer);
    uv_close((uv_handle_t *)&db->timer, NULL);
}

void db_close(struct db *db)
{
    char err[160];

    if (db->collect && db->h)
        db->collect(db->collect_ud);
    if ((db->npending || db->job.run) && db->h &&
        commit(db->h, db->pending, db->npending, &db->job, err,
               sizeof(err)) != SQLITE_OK)
        log_err("database %s: %zu writes lost at exit: %s", db->path,
                db->npending + db->job.n, err);
    if (db->job.run)
        db->job.drop(db->job.data);
    db->job = (struct db_job){ .run = NULL };
    for (size_t i = 0; i < db->npending; i++)
        sqlite3_free(db->pending[i]);
    free(db->pending);
    db->pending = NULL;
    db->npending = 0;
    if (db->h)
        sqlite3_close(db->h);
    db->h = NULL;
    free(db->path);
    db->path = NULL;
}
