/* spend.c -- the spend ledger in memory (spend.h): the ring of latest rows
 * and the per-day totals, loaded at start so that reports never wait on
 * the disk. */
#include "spend.h"
#include "db.h"
#include "log.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int spend_init(struct spend *s)
{
    memset(s, 0, sizeof(*s));
    s->rows = calloc(SPEND_LOG_MAX, sizeof(*s->rows));
    return s->rows ? 0 : -ENOMEM;
}

/* A row of the usual size goes back to the free list for the next
 * request (no malloc/free per request in the steady state); the list
 * keeps at most SPEND_FREE_MAX. */
static void row_unref(struct spend *s, struct spend_row *r)
{
    if (r == NULL || --r->refs > 0)
        return;
    if (r->cap && s->nfree < SPEND_FREE_MAX) {
        r->next_free = s->free;
        s->free = r;
        s->nfree++;
        return;
    }
    free(r);
}

const char *spend_row_id(const struct spend_row *r, char buf[SPEND_ID_MAX])
{
    if (r->request_id)
        return r->request_id;
    /* Unique across restarts: the end in microseconds, then a count. */
    snprintf(buf, SPEND_ID_MAX, "%llu-%llu", (unsigned long long)r->id_us,
             (unsigned long long)r->id_seq);
    return buf;
}

void spend_free(struct spend *s)
{
    for (size_t i = 0; i < s->nqueue; i++)
        row_unref(s, s->queue[i]);
    free(s->queue);
    s->queue = NULL;
    s->nqueue = 0;
    for (size_t i = 0; s->rows && i < SPEND_LOG_MAX; i++)
        row_unref(s, s->rows[i]);
    free(s->rows);
    s->rows = NULL;
    while (s->free) {
        struct spend_row *r = s->free;

        s->free = r->next_free;
        free(r);
    }
    s->nfree = 0;
    for (size_t b = 0; b < SPEND_BUCKETS; b++)
        while (s->bucket[b]) {
            struct spend_agg *a = s->bucket[b];

            s->bucket[b] = a->next;
            free(a->key);
            free(a->alias);
            free(a->team);
            free(a->model);
            free(a);
        }
}

static const char *nz(const char *p)
{
    return p ? p : "";
}

static unsigned hash_of(int64_t day, const char *key, uid_t uid,
                        const char *model)
{
    unsigned h = (unsigned)day * 31u + (unsigned)uid;

    /* A key is its SHA-256 in hex: its first 16 digits are as good a
     * hash as all 64, for a quarter of the work per request. */
    for (const char *p = key; *p && p < key + 16; p++)
        h = h * 33u + (unsigned char)*p;
    for (const char *p = model; *p; p++)
        h = h * 33u + (unsigned char)*p;
    return h % SPEND_BUCKETS;
}

static void agg_add(struct spend *s, int64_t day, const char *key,
                    const char *alias, const char *team, uid_t uid,
                    const char *model, uint64_t n, uint64_t pt, uint64_t ct,
                    double cost)
{
    unsigned h = hash_of(day, nz(key), uid, nz(model));
    struct spend_agg *a;

    for (a = s->bucket[h]; a; a = a->next)
        if (a->day == day && a->uid == uid && strcmp(a->key, nz(key)) == 0 &&
            strcmp(a->model, nz(model)) == 0)
            break;
    if (a == NULL) {
        if (s->naggs >= SPEND_AGG_MAX || (a = calloc(1, sizeof(*a))) == NULL)
            return;   /* the rows on disk still have it */
        a->day = day;
        a->uid = uid;
        a->key = strdup(nz(key));
        a->alias = strdup(nz(alias));
        a->team = strdup(nz(team));
        a->model = strdup(nz(model));
        a->next = s->bucket[h];
        s->bucket[h] = a;
        s->naggs++;
    }
    a->requests += n;
    a->prompt += pt;
    a->completion += ct;
    a->cost += cost;
}

/* The ring keeps a reference to the newest SPEND_LOG_MAX rows. */
static void ring_add(struct spend *s, struct spend_row *r)
{
    if (s->rows == NULL)
        return;
    row_unref(s, s->rows[s->head]);
    s->rows[s->head] = r;
    r->refs++;
    s->head = (s->head + 1) % SPEND_LOG_MAX;
    if (s->nrows < SPEND_LOG_MAX)
        s->nrows++;
}

/* One allocation: the row and its strings after it (refs 0): from the
 * free list when the strings fit SPEND_ROW_STRINGS bytes, else made to
 * measure. */
static struct spend_row *row_pack(struct spend *s, const struct spend_row *in)
{
    const char *src[8] = { in->request_id, in->api_key, in->key_alias,
                           in->team_id, in->model, in->group,
                           in->deployment, in->status };
    size_t len[8], total = sizeof(*in);
    struct spend_row *r;
    char *p, **dst[8];

    for (int i = 0; i < 8; i++)
        total += (len[i] = src[i] ? strlen(src[i]) + 1 : 0);
    if (total - sizeof(*in) <= SPEND_ROW_STRINGS && s->free) {
        r = s->free;
        s->free = r->next_free;
        s->nfree--;
    } else if (total - sizeof(*in) <= SPEND_ROW_STRINGS) {
        if ((r = malloc(sizeof(*in) + SPEND_ROW_STRINGS)) == NULL)
            return NULL;
    } else if ((r = malloc(total)) == NULL) {
        return NULL;
    }
    *r = *in;
    r->refs = 0;
    r->cap = total - sizeof(*in) <= SPEND_ROW_STRINGS;
    dst[0] = &r->request_id; dst[1] = &r->api_key; dst[2] = &r->key_alias;
    dst[3] = &r->team_id; dst[4] = &r->model; dst[5] = &r->group;
    dst[6] = &r->deployment; dst[7] = &r->status;
    p = (char *)(r + 1);
    for (int i = 0; i < 8; i++) {
        *dst[i] = src[i] ? memcpy(p, src[i], len[i]) : NULL;
        p += len[i];
    }
    return r;
}

static void queue_add(struct spend *s, struct spend_row *r)
{
    struct spend_row **q;

    if (s->nqueue == s->qcap) {
        size_t cap = s->qcap ? 2 * s->qcap : 256;

        if (s->nqueue >= DB_MAX_PENDING ||
            (q = realloc(s->queue, cap * sizeof(*q))) == NULL) {
            log_err("spend ledger: write queue full; a row is lost");
            return;
        }
        s->queue = q;
        s->qcap = cap;
    }
    s->queue[s->nqueue++] = r;
    r->refs++;
}

struct spend_job {
    struct spend      *s;      /* borrowed: the rows' free list */
    struct spend_row **rows;   /* owned */
    size_t             n;
};

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* On the worker, inside the batch's transaction. */
static int job_run(sqlite3 *h, void *data)
{
    struct spend_job *j = data;
    sqlite3_stmt *st;
    int r;

    r = sqlite3_prepare_v2(h, "INSERT INTO spend (request_id, api_key,"
        " key_alias, team_id, uid, model, model_group, deployment,"
        " prompt_tokens, completion_tokens, cached_tokens, spend,"
        " start_time, end_time, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?, ?, ?, ?)", -1, &st, NULL);
    for (size_t i = 0; r == SQLITE_OK && i < j->n; i++) {
        const struct spend_row *w = j->rows[i];
        char id[SPEND_ID_MAX];

        sqlite3_bind_text(st, 1, spend_row_id(w, id), -1, SQLITE_TRANSIENT);
        bind_text(st, 2, w->api_key);
        bind_text(st, 3, w->key_alias);
        bind_text(st, 4, w->team_id);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)w->uid);
        bind_text(st, 6, w->model);
        bind_text(st, 7, w->group);
        bind_text(st, 8, w->deployment);
        sqlite3_bind_int64(st, 9, w->prompt);
        sqlite3_bind_int64(st, 10, w->completion);
        sqlite3_bind_int64(st, 11, w->cached);
        sqlite3_bind_double(st, 12, w->cost);
        sqlite3_bind_double(st, 13, w->start);
        sqlite3_bind_double(st, 14, w->end);
        bind_text(st, 15, w->status);
        r = sqlite3_step(st);
        r = r == SQLITE_DONE ? SQLITE_OK : r;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return r;
}

static void job_drop(void *data)
{
    struct spend_job *j = data;

    /* On the loop thread (db.h: drop runs in the work's after-callback),
     * like every other reference count of a row. */
    for (size_t i = 0; i < j->n; i++)
        row_unref(j->s, j->rows[i]);
    free(j->rows);
    free(j);
}

void spend_collect(struct spend *s, struct db *db)
{
    struct spend_job *j;

    if (s->nqueue == 0 || (j = malloc(sizeof(*j))) == NULL)
        return;
    j->s = s;
    j->rows = s->queue;
    j->n = s->nqueue;
    s->queue = NULL;
    s->nqueue = s->qcap = 0;
    db_job(db, &(struct db_job){ .run = job_run, .drop = job_drop,
                                 .data = j, .n = j->n });
}

void spend_add(struct spend *s, const struct spend_row *row)
{
    struct spend_row *r = row_pack(s, row);

    if (r == NULL) {
        log_err("spend ledger: out of memory; a row is lost");
        return;
    }
    queue_add(s, r);
    ring_add(s, r);
    if (r->refs == 0) {
        r->refs = 1;
        row_unref(s, r);
    }
    agg_add(s, (int64_t)(row->end / 86400), row->api_key, row->key_alias,
            row->team_id, row->uid, row->model, 1,
            (uint64_t)row->prompt, (uint64_t)row->completion, row->cost);
}

static double num(const char *c)
{
    return c ? strtod(c, NULL) : 0;
}

static void load_row(void *ud, int n, char **c)
{
    struct spend_row r = { 0 }, *p;

    if (n < 15)
        return;
    r.request_id = c[0] ? c[0] : "";
    r.api_key = c[1];
    r.key_alias = c[2];
    r.team_id = c[3];
    r.uid = (uid_t)num(c[4]);
    r.model = c[5];
    r.group = c[6];
    r.deployment = c[7];
    r.prompt = (int64_t)num(c[8]);
    r.completion = (int64_t)num(c[9]);
    r.cached = (int64_t)num(c[10]);
    r.cost = num(c[11]);
    r.start = num(c[12]);
    r.end = num(c[13]);
    r.status = c[14];
    if ((p = row_pack(ud, &r)) != NULL)
        ring_add(ud, p);
}

static void load_agg(void *ud, int n, char **c)
{
    if (n < 10)
        return;
    agg_add(ud, (int64_t)num(c[0]), c[1], c[2], c[3], (uid_t)num(c[4]),
            c[5], (uint64_t)num(c[6]), (uint64_t)num(c[7]),
            (uint64_t)num(c[8]), num(c[9]));
}

int spend_load(struct spend *s, struct db *db, char *err, size_t errlen)
{
    char sql[512];
    int r;

    snprintf(sql, sizeof(sql), "SELECT * FROM (SELECT request_id, api_key,"
             " key_alias, team_id, uid, model, model_group, deployment,"
             " prompt_tokens, completion_tokens, cached_tokens, spend,"
             " start_time, end_time, status FROM spend ORDER BY id DESC"
             " LIMIT %d) ORDER BY end_time", SPEND_LOG_MAX);
    if ((r = db_query(db, sql, load_row, s, err, errlen)) < 0)
        return r;
    return db_query(db, "SELECT CAST(end_time / 86400 AS INTEGER) AS day,"
                    " api_key, MAX(key_alias), MAX(team_id), uid, model,"
                    " COUNT(*), SUM(prompt_tokens), SUM(completion_tokens),"
                    " SUM(spend) FROM spend GROUP BY day, api_key, uid,"
                    " model", load_agg, s, err, errlen);
}

static json_t *jstr(const char *p)
{
    return p ? json_string(p) : json_null();
}

/* LiteLLM's form of a time in its spend logs: ISO 8601 in UTC, with
 * microseconds ("2026-12-06T21:04:27.123456Z"). */
static json_t *iso_time(double t)
{
    time_t secs = (time_t)t;
    struct tm tm;
    char buf[80];           /* room for any int the compiler can imagine */
    long us = (long)((t - (double)secs) * 1e6);

    if (t <= 0 || gmtime_r(&secs, &tm) == NULL)
        return json_null();
    if (us < 0 || us > 999999)
        us = 0;
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, us);
    return json_string(buf);
}

/* A row in LiteLLM's SpendLogs shape: status "success" or "failure", the
 * outcome itself (ok, or the error type) in llmux_status; user is the
 * caller's uid as a string, null for a TCP caller (no uid). */
static json_t *row_json(const struct spend_row *r)
{
    json_t *o = json_object();
    char uid[16], id[SPEND_ID_MAX];
    int ok = r->status && strcmp(r->status, "ok") == 0;

    snprintf(uid, sizeof(uid), "%u", (unsigned)r->uid);

    json_object_set_new(o, "request_id", json_string(spend_row_id(r, id)));
    json_object_set_new(o, "api_key", jstr(r->api_key));
    json_object_set_new(o, "key_alias", jstr(r->key_alias));
    json_object_set_new(o, "team_id", jstr(r->team_id));
    json_object_set_new(o, "user", r->uid == (uid_t)-1 ? json_null() :
                        json_string(uid));
    json_object_set_new(o, "model", jstr(r->model));
    json_object_set_new(o, "model_group", jstr(r->group));
    json_object_set_new(o, "model_id", jstr(r->deployment));
    json_object_set_new(o, "prompt_tokens", json_integer(r->prompt));
    json_object_set_new(o, "completion_tokens", json_integer(r->completion));
    json_object_set_new(o, "cached_tokens", json_integer(r->cached));
    json_object_set_new(o, "total_tokens",
                        json_integer(r->prompt + r->completion));
    json_object_set_new(o, "spend", json_real(r->cost));
    json_object_set_new(o, "startTime", iso_time(r->start));
    json_object_set_new(o, "endTime", iso_time(r->end));
    json_object_set_new(o, "status", json_string(ok ? "success" : "failure"));
    json_object_set_new(o, "llmux_status", jstr(r->status));
    return o;
}

static int row_matches(const struct spend_row *r,
                       const struct spend_filter *f)
{
    char uid[16], id[SPEND_ID_MAX];

    if (f->key && !(r->api_key && strcmp(r->api_key, f->key) == 0))
        return 0;
    if (f->request_id && strcmp(spend_row_id(r, id), f->request_id) != 0)
        return 0;
    if (f->user) {
        snprintf(uid, sizeof(uid), "%u", (unsigned)r->uid);
        if (strcmp(uid, f->user) != 0)
            return 0;
    }
    return (f->start <= 0 || r->end >= f->start) &&
           (f->end <= 0 || r->end < f->end);
}

json_t *spend_logs(const struct spend *s, const struct spend_filter *f)
{
    json_t *a = json_array();
    size_t first = (s->head + SPEND_LOG_MAX - s->nrows) % SPEND_LOG_MAX;
    size_t skip = 0, n = 0;

    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < s->nrows; i++)
        n += row_matches(s->rows[(first + i) % SPEND_LOG_MAX], f);
    if (f->limit && n > f->limit)
        skip = n - f->limit;
    for (size_t i = 0; i < s->nrows; i++) {
        const struct spend_row *r = s->rows[(first + i) % SPEND_LOG_MAX];

        if (!row_matches(r, f))
            continue;
        if (skip) {
            skip--;
            continue;
        }
        json_array_append_new(a, row_json(r));
    }
    return a;
}

static void day_name(int64_t day, char *buf, size_t len)
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d", &tm);
}

/* Adds v to the number at o[k] (0 when absent). */
static void add_to(json_t *o, const char *k, double v)
{
    json_object_set_new(o, k, json_real(json_number_value(
        json_object_get(o, k)) + v));
}

static void add_int(json_t *o, const char *k, uint64_t v)
{
    json_object_set_new(o, k, json_integer(json_integer_value(
        json_object_get(o, k)) + (json_int_t)v));
}

json_t *spend_report(const struct spend *s, const char *by,
                     int64_t since_day)
{
    json_t *groups = json_object(), *out, *g, *v;
    const char *k;
    char name[64];

    if (strcmp(by, "key") && strcmp(by, "team") && strcmp(by, "user") &&
        strcmp(by, "model") && strcmp(by, "day")) {
        json_decref(groups);
        return NULL;
    }
    for (size_t b = 0; groups && b < SPEND_BUCKETS; b++)
        for (const struct spend_agg *a = s->bucket[b]; a; a = a->next) {
            const char *label;

            if (a->day < since_day)
                continue;
            if (by[0] == 'k')
                label = a->alias[0] ? a->alias : a->key;
            else if (by[0] == 't')
                label = a->team;
            else if (by[0] == 'm')
                label = a->model;
            else if (by[0] == 'u') {
                snprintf(name, sizeof(name), "%u", (unsigned)a->uid);
                label = name;
            } else {
                day_name(a->day, name, sizeof(name));
                label = name;
            }
            if ((g = json_object_get(groups, label)) == NULL) {
                g = json_pack("{s:s, s:I, s:I, s:I, s:f}", by, label,
                              "requests", (json_int_t)0, "prompt_tokens",
                              (json_int_t)0, "completion_tokens",
                              (json_int_t)0, "spend", 0.0);
                json_object_set_new(groups, label, g);
            }
            add_int(g, "requests", a->requests);
            add_int(g, "prompt_tokens", a->prompt);
            add_int(g, "completion_tokens", a->completion);
            add_to(g, "spend", a->cost);
        }
    if ((out = json_array()) == NULL) {
        json_decref(groups);
        return NULL;
    }
    json_object_foreach(groups, k, v)
        json_array_append(out, v);
    json_decref(groups);
    return out;
}

static int by_num(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

json_t *spend_daily(const struct spend *s, const struct spend_filter *f,
                    int64_t d0, int64_t d1)
{
    json_t *days = json_object(), *out = json_array(), *day;
    int64_t *order = NULL;
    size_t n = 0;
    char name[64], uid[16];

    for (size_t b = 0; days && out && b < SPEND_BUCKETS; b++)
        for (const struct spend_agg *a = s->bucket[b]; a; a = a->next) {
            snprintf(uid, sizeof(uid), "%u", (unsigned)a->uid);
            if (a->day < d0 || a->day > d1 ||
                (f->key && strcmp(a->key, f->key) != 0) ||
                (f->user && strcmp(uid, f->user) != 0))
                continue;
            day_name(a->day, name, sizeof(name));
            if ((day = json_object_get(days, name)) == NULL) {
                int64_t *p = realloc(order, (n + 1) * sizeof(*order));

                if (p == NULL)
                    continue;
                order = p;
                day = json_pack("{s:s, s:f, s:{}, s:{}}", "startTime", name,
                                "spend", 0.0, "users", "models");
                if (day == NULL || json_object_set_new(days, name, day) < 0)
                    continue;
                order[n++] = a->day;
            }
            add_to(day, "spend", a->cost);
            if (a->key[0])          /* LiteLLM: each key's spend by its hash */
                add_to(day, a->key, a->cost);
            add_to(json_object_get(day, "users"), uid, a->cost);
            add_to(json_object_get(day, "models"), a->model, a->cost);
        }
    if (n > 1)
        qsort(order, n, sizeof(*order), by_num);
    for (size_t i = 0; out && i < n; i++) {
        day_name(order[i], name, sizeof(name));
        json_array_append(out, json_object_get(days, name));
    }
    free(order);
    json_decref(days);
    return out;
}
