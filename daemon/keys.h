/* keys.h -- virtual keys and teams, LiteLLM's model, held in memory.
 * Owns: struct vkey and struct team (loaded from the database at start,
 * written back through db_exec), constant-time lookup by the SHA-256 hex
 * LiteLLM stores, budgets with their exact reset (keys.c; the minute
 * windows are window.h's); key generation (sk- + 192 random bits) and the
 * JSON shapes of LiteLLM's key and team endpoints (keyadmin.c). */
#ifndef LLMUX_KEYS_H
#define LLMUX_KEYS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "window.h"

struct db;

#define KEYS_BUCKETS   256
#define KEY_TOKEN_LEN  64       /* SHA-256 in hex */

/* A spend limit that may reset: max < 0 is none; dur "" never resets. */
struct spend_budget {
    double  max, spend;
    char    dur[12];            /* "30s", "30m", "30h", "30d", "1mo" */
    int64_t reset_at;           /* unix seconds; 0: no reset */
};

/* The limits a key, a team or a local caller carries; 0 is none. */
struct policy {
    json_t             *models;  /* owned array of names; NULL: all */
    long                rpm, tpm, parallel;
    struct spend_budget budget;
    struct window       win;
    unsigned            inflight;
};

struct team {
    struct team  *next;
    char         *id, *alias;   /* owned */
    json_t       *metadata;     /* owned object */
    int           blocked, deleted;
    unsigned      refs;         /* keys and requests pointing here */
    int           dirty;        /* spend changed since last collected */
    int64_t       created;
    struct policy pol;
};

struct vkey {
    struct vkey  *next;         /* bucket chain */
    unsigned      refs;         /* the table's, sessions', requests' */
    int           deleted;      /* gone from the table; refused */
    char          token[KEY_TOKEN_LEN + 1];
    char         *alias, *user_id, *team_id;   /* owned; NULL: none */
    char          hint[12];     /* "sk-...abcd": the last 4, for lists */
    json_t       *metadata;     /* owned object */
    int           blocked;
    int64_t       expires, created;            /* unix seconds; 0: none */
    struct team  *team;         /* a reference, or NULL */
    int           dirty;        /* spend changed since last collected */
    struct policy pol;
};

struct keys {
    struct vkey *bucket[KEYS_BUCKETS];   /* owned references */
    struct team *teams;                  /* owned */
    struct vkey **dirty;                 /* references: spend to write */
    size_t       ndirty, dirty_cap;
    int          teams_dirty;
    size_t       nkeys;
    struct db   *db;                     /* borrowed; NULL: in memory */
};

void keys_init(struct keys *k, struct db *db);
void keys_free(struct keys *k);
/* Loads keys and teams from the database (start-up only). */
int  keys_load(struct keys *k, char *err, size_t errlen);

/* SHA-256 hex of a presented key (ret: KEY_TOKEN_LEN + 1 bytes). */
void keys_hash(const char *key, size_t len, char *ret);
/* The key whose hash matches, compared in constant time, or NULL. Not a
 * new reference. */
struct vkey *keys_find_token(struct keys *k, const char *token);
struct vkey *keys_find(struct keys *k, const char *key, size_t len);
/* A plaintext key, a token (hash) or an alias, as admins name keys. */
struct vkey *keys_lookup(struct keys *k, const char *name);
struct vkey *keys_ref(struct vkey *v);
void         keys_unref(struct vkey *v);   /* accepts NULL */
struct team *keys_team(struct keys *k, const char *id);
void         team_unref(struct team *t);

/* "30s" "30m" "30h" "30d" "1mo": 0, or -1 when it is none of these. */
int     budget_duration_ok(const char *s);
/* Seconds for "30s".."30d" (duration → expires); < 0 for "Nmo"/bad. */
double  duration_secs(const char *s);
/* Zeroes the spend when its window passed and moves reset_at on (to the
 * first reset after now). 1 when it reset. */
int     budget_roll(struct spend_budget *b, int64_t now);

/* For keyadmin.c: the table and the database rows of a key or team. */
int     keys_is_token(const char *s);        /* 64 lower-case hex digits */
void    keys_link(struct keys *k, struct vkey *v);  /* takes the ref */
void    keys_unlink(struct keys *k, struct vkey *v); /* marks it deleted */
void    keys_store(struct keys *k, const struct vkey *v);
void    team_store(struct keys *k, const struct team *t);
/* from + one window of dur ("30s" … "1mo", months by the calendar, UTC);
 * 0 for a bad dur. */
int64_t budget_next(const char *dur, int64_t from);

/* Admin operations on LiteLLM's JSON bodies (keyadmin.c). Each returns the answer (new
 * reference) or NULL with code and msg set. generate's answer holds the
 * plaintext key: it is shown once and never stored. */
json_t *keys_generate(struct keys *k, const json_t *req, int *code,
                      char *msg, size_t len);
json_t *keys_update(struct keys *k, const json_t *req, int *code,
                    char *msg, size_t len);
json_t *keys_regenerate(struct keys *k, const json_t *req, int *code,
                        char *msg, size_t len);
json_t *keys_block(struct keys *k, const json_t *req, int blocked,
                   int *code, char *msg, size_t len);
json_t *keys_delete(struct keys *k, const json_t *req, int *code,
                    char *msg, size_t len);
json_t *keys_info(const struct vkey *v);        /* LiteLLM's "info" */
json_t *keys_list(struct keys *k, const json_t *req);
json_t *team_new(struct keys *k, const json_t *req, int *code, char *msg,
                 size_t len);
json_t *team_info(struct keys *k, const struct team *t);
json_t *team_list(struct keys *k);
json_t *team_delete(struct keys *k, const json_t *req, int *code,
                    char *msg, size_t len);

/* The spend and reset time of a key / team changed (after a request or
 * a reset): written back with the next batch, once however many requests
 * changed it (keys_collect, the database's collect hook). */
void keys_save_spend(struct keys *k, struct vkey *v);
void team_save_spend(struct keys *k, struct team *t);
void keys_collect(struct keys *k);

#endif
