/* keys.c -- virtual keys and teams in memory (keys.h): hashing,
 * constant-time lookup, reference counts, budget windows, and loading from
 * and writing to the database. The admin operations and their JSON shapes
 * are keyadmin.c's. */
#include "keys.h"
#include "db.h"
#include "llmux-errno.h"
#include "log.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashing and lookup ------------------------------------------------- */

void keys_hash(const char *key, size_t len, char *ret)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned n = 0;

    EVP_Digest(key, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++) {
        ret[2 * i] = hex[md[i] >> 4];
        ret[2 * i + 1] = hex[md[i] & 15];
    }
    ret[KEY_TOKEN_LEN] = '\0';
}

/* The bucket comes from the hash's first byte: the hash of a secret, so
 * choosing by it tells nothing about the key. */
static unsigned bucket_of(const char *token)
{
    unsigned v = 0;

    for (int i = 0; i < 2; i++) {
        char c = token[i];

        v = v * 16 + (unsigned)(c >= 'a' ? c - 'a' + 10 : c - '0');
    }
    return v % KEYS_BUCKETS;
}

int keys_is_token(const char *s)
{
    size_t i;

    for (i = 0; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == KEY_TOKEN_LEN;
}

struct vkey *keys_find_token(struct keys *k, const char *token)
{
    struct vkey *found = NULL;

    if (!keys_is_token(token))
        return NULL;
    /* Every entry of the chain is compared in full, in constant time. */
    for (struct vkey *v = k->bucket[bucket_of(token)]; v; v = v->next)
        if (CRYPTO_memcmp(v->token, token, KEY_TOKEN_LEN) == 0)
            found = v;
    return found;
}

struct vkey *keys_find(struct keys *k, const char *key, size_t len)
{
    char token[KEY_TOKEN_LEN + 1];

    keys_hash(key, len, token);
    return keys_find_token(k, token);
}

struct vkey *keys_lookup(struct keys *k, const char *name)
{
    struct vkey *v;

    if (name == NULL)
        return NULL;
    if (strncmp(name, "sk-", 3) == 0)
        return keys_find(k, name, strlen(name));
    if ((v = keys_find_token(k, name)) != NULL)
        return v;
    for (size_t b = 0; b < KEYS_BUCKETS; b++)
        for (v = k->bucket[b]; v; v = v->next)
            if (v->alias && strcmp(v->alias, name) == 0)
                return v;
    return NULL;
}

struct vkey *keys_ref(struct vkey *v)
{
    if (v)
        v->refs++;
    return v;
}

void team_unref(struct team *t)
{
    if (t == NULL || --t->refs > 0)
        return;
    free(t->id);
    free(t->alias);
    json_decref(t->metadata);
    json_decref(t->pol.models);
    free(t);
}

void keys_unref(struct vkey *v)
{
    if (v == NULL || --v->refs > 0)
        return;
    free(v->alias);
    free(v->user_id);
    free(v->team_id);
    json_decref(v->metadata);
    json_decref(v->pol.models);
    team_unref(v->team);
    explicit_bzero(v->token, sizeof(v->token));
    free(v);
}

struct team *keys_team(struct keys *k, const char *id)
{
    for (struct team *t = k->teams; t && id; t = t->next)
        if (strcmp(t->id, id) == 0 ||
            (t->alias && strcmp(t->alias, id) == 0))
            return t;
    return NULL;
}

void keys_init(struct keys *k, struct db *db)
{
    memset(k, 0, sizeof(*k));
    k->db = db;
}

void keys_free(struct keys *k)
{
    for (size_t i = 0; i < k->ndirty; i++)
        keys_unref(k->dirty[i]);
    free(k->dirty);
    k->dirty = NULL;
    k->ndirty = 0;
    for (size_t b = 0; b < KEYS_BUCKETS; b++)
        while (k->bucket[b]) {
            struct vkey *v = k->bucket[b];

            k->bucket[b] = v->next;
            v->deleted = 1;
            keys_unref(v);
        }
    while (k->teams) {
        struct team *t = k->teams;

        k->teams = t->next;
        t->deleted = 1;
        team_unref(t);
    }
}

/* ---- durations and budgets ---------------------------------------------- */

static int parse_dur(const char *s, long *n, char *unit)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    *n = strtol(s, &end, 10);
    if (*n <= 0 || *n > 100000)
        return -1;
    if (strcmp(end, "mo") == 0)
        *unit = 'M';
    else if (end[0] && !end[1] && strchr("smhd", end[0]))
        *unit = end[0];
    else
        return -1;
    return 0;
}

int budget_duration_ok(const char *s)
{
    long n;
    char u;

    return parse_dur(s, &n, &u);
}

double duration_secs(const char *s)
{
    long n;
    char u;

    if (parse_dur(s, &n, &u) < 0 || u == 'M')
        return -1;
    return (double)n * (u == 's' ? 1 : u == 'm' ? 60 : u == 'h' ? 3600 :
                        86400);
}

/* from + one window: months by the calendar (UTC), the rest in seconds. */
int64_t budget_next(const char *dur, int64_t from)
{
    struct tm tm;
    time_t t = (time_t)from;
    long n;
    char u;

    if (parse_dur(dur, &n, &u) < 0)
        return 0;
    if (u != 'M')
        return from + (int64_t)duration_secs(dur);
    gmtime_r(&t, &tm);
    tm.tm_mon += (int)n;
    return (int64_t)timegm(&tm);
}

int budget_roll(struct spend_budget *b, int64_t now)
{
    int64_t at = b->reset_at;

    if (at == 0 || now < at)
        return 0;
    /* Windows follow each other exactly: the next starts when the last
     * ended, not when someone next asked. */
    while (at <= now) {
        int64_t next = budget_next(b->dur, at);

        if (next <= at)
            break;
        at = next;
    }
    b->reset_at = at;
    b->spend = 0;
    return 1;
}

/* ---- persistence -------------------------------------------------------- */

static char *models_text(const json_t *m)
{
    return m ? json_dumps(m, JSON_COMPACT) : NULL;
}

void keys_store(struct keys *k, const struct vkey *v)
{
    char *models = models_text(v->pol.models);
    char *meta = v->metadata ? json_dumps(v->metadata, JSON_COMPACT) : NULL;

    if (k->db)
        db_exec(k->db, sqlite3_mprintf(
            "INSERT OR REPLACE INTO keys (token, key_alias, key_name, models,"
            " max_budget, budget_duration, budget_reset_at, rpm_limit,"
            " tpm_limit, max_parallel_requests, expires, blocked, metadata,"
            " user_id, team_id, spend, created_at) VALUES (%Q, %Q, %Q, %Q,"
            " %.17g, %Q, %lld, %ld, %ld, %ld, %lld, %d, %Q, %Q, %Q, %.17g,"
            " %lld)", v->token, v->alias, v->hint, models, v->pol.budget.max,
            v->pol.budget.dur[0] ? v->pol.budget.dur : NULL,
            (long long)v->pol.budget.reset_at, v->pol.rpm, v->pol.tpm,
            v->pol.parallel, (long long)v->expires, v->blocked, meta,
            v->user_id, v->team_id, v->pol.budget.spend,
            (long long)v->created));
    free(models);
    free(meta);
}

void team_store(struct keys *k, const struct team *t)
{
    char *models = models_text(t->pol.models);
    char *meta = t->metadata ? json_dumps(t->metadata, JSON_COMPACT) : NULL;

    if (k->db)
        db_exec(k->db, sqlite3_mprintf(
            "INSERT OR REPLACE INTO teams (team_id, team_alias, models,"
            " max_budget, budget_duration, budget_reset_at, rpm_limit,"
            " tpm_limit, blocked, metadata, spend, created_at) VALUES (%Q,"
            " %Q, %Q, %.17g, %Q, %lld, %ld, %ld, %d, %Q, %.17g, %lld)",
            t->id, t->alias, models, t->pol.budget.max,
            t->pol.budget.dur[0] ? t->pol.budget.dur : NULL,
            (long long)t->pol.budget.reset_at, t->pol.rpm, t->pol.tpm,
            t->blocked, meta, t->pol.budget.spend, (long long)t->created));
    free(models);
    free(meta);
}

void keys_save_spend(struct keys *k, struct vkey *v)
{
    struct vkey **p;

    if (k->db == NULL || v->dirty)
        return;
    if (k->ndirty == k->dirty_cap) {
        size_t cap = k->dirty_cap ? 2 * k->dirty_cap : 16;

        if ((p = realloc(k->dirty, cap * sizeof(*p))) == NULL) {
            log_err("out of memory: the spend of a key is not saved");
            return;
        }
        k->dirty = p;
        k->dirty_cap = cap;
    }
    v->dirty = 1;
    k->dirty[k->ndirty++] = keys_ref(v);
    db_touch(k->db);
}

void team_save_spend(struct keys *k, struct team *t)
{
    if (k->db == NULL)
        return;
    t->dirty = 1;
    k->teams_dirty = 1;
    db_touch(k->db);
}

void keys_collect(struct keys *k)
{
    for (size_t i = 0; i < k->ndirty; i++) {
        struct vkey *v = k->dirty[i];

        v->dirty = 0;
        if (!v->deleted)
            db_exec(k->db, sqlite3_mprintf("UPDATE keys SET spend = %.17g, "
                    "budget_reset_at = %lld WHERE token = %Q",
                    v->pol.budget.spend, (long long)v->pol.budget.reset_at,
                    v->token));
        keys_unref(v);
    }
    k->ndirty = 0;
    for (struct team *t = k->teams; k->teams_dirty && t; t = t->next)
        if (t->dirty) {
            t->dirty = 0;
            db_exec(k->db, sqlite3_mprintf("UPDATE teams SET spend = %.17g, "
                    "budget_reset_at = %lld WHERE team_id = %Q",
                    t->pol.budget.spend, (long long)t->pol.budget.reset_at,
                    t->id));
        }
    k->teams_dirty = 0;
}

void keys_link(struct keys *k, struct vkey *v)
{
    unsigned b = bucket_of(v->token);

    v->refs = 1;
    v->next = k->bucket[b];
    k->bucket[b] = v;
    k->nkeys++;
}

void keys_unlink(struct keys *k, struct vkey *v)
{
    struct vkey **p = &k->bucket[bucket_of(v->token)];

    while (*p && *p != v)
        p = &(*p)->next;
    if (*p == NULL)
        return;
    *p = v->next;
    k->nkeys--;
    v->deleted = 1;
    keys_unref(v);
}

static double col_num(char *s, double none)
{
    return s ? strtod(s, NULL) : none;
}

static char *col_dup(char *s)
{
    return s ? strdup(s) : NULL;
}

static void load_policy(struct policy *p, char **c)
{
    /* c: models, max_budget, budget_duration, budget_reset_at, rpm, tpm */
    p->models = c[0] ? json_loads(c[0], 0, NULL) : NULL;
    p->budget.max = col_num(c[1], -1);
    snprintf(p->budget.dur, sizeof(p->budget.dur), "%s", c[2] ? c[2] : "");
    p->budget.reset_at = (int64_t)col_num(c[3], 0);
    p->rpm = (long)col_num(c[4], 0);
    p->tpm = (long)col_num(c[5], 0);
}

static void key_row(void *ud, int n, char **c)
{
    struct keys *k = ud;
    struct vkey *v;

    if (n < 17 || c[0] == NULL || !keys_is_token(c[0]) ||
        (v = calloc(1, sizeof(*v))) == NULL)
        return;
    memcpy(v->token, c[0], KEY_TOKEN_LEN + 1);
    v->alias = col_dup(c[1]);
    snprintf(v->hint, sizeof(v->hint), "%s", c[2] ? c[2] : "");
    load_policy(&v->pol, c + 3);
    v->pol.parallel = (long)col_num(c[9], 0);
    v->expires = (int64_t)col_num(c[10], 0);
    v->blocked = (int)col_num(c[11], 0);
    v->metadata = c[12] ? json_loads(c[12], 0, NULL) : NULL;
    v->user_id = col_dup(c[13]);
    v->team_id = col_dup(c[14]);
    v->pol.budget.spend = col_num(c[15], 0);
    v->created = (int64_t)col_num(c[16], 0);
    keys_link(k, v);
}

static void team_row(void *ud, int n, char **c)
{
    struct keys *k = ud;
    struct team *t;

    if (n < 12 || c[0] == NULL || (t = calloc(1, sizeof(*t))) == NULL)
        return;
    t->refs = 1;
    t->id = col_dup(c[0]);
    t->alias = col_dup(c[1]);
    load_policy(&t->pol, c + 2);
    t->blocked = (int)col_num(c[8], 0);
    t->metadata = c[9] ? json_loads(c[9], 0, NULL) : NULL;
    t->pol.budget.spend = col_num(c[10], 0);
    t->created = (int64_t)col_num(c[11], 0);
    t->next = k->teams;
    k->teams = t;
}

int keys_load(struct keys *k, char *err, size_t errlen)
{
    int r;

    if (k->db == NULL)
        return 0;
    if ((r = db_query(k->db, "SELECT team_id, team_alias, models, "
                      "max_budget, budget_duration, budget_reset_at, "
                      "rpm_limit, tpm_limit, blocked, metadata, spend, "
                      "created_at FROM teams", team_row, k, err,
                      errlen)) < 0 ||
        (r = db_query(k->db, "SELECT token, key_alias, key_name, models, "
                      "max_budget, budget_duration, budget_reset_at, "
                      "rpm_limit, tpm_limit, max_parallel_requests, "
                      "expires, blocked, metadata, user_id, team_id, spend, "
                      "created_at FROM keys", key_row, k, err, errlen)) < 0)
        return r;
    for (size_t b = 0; b < KEYS_BUCKETS; b++)
        for (struct vkey *v = k->bucket[b]; v; v = v->next)
            if (v->team_id && (v->team = keys_team(k, v->team_id)) != NULL)
                v->team->refs++;
    return 0;
}

