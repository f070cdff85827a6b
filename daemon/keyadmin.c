/* keyadmin.c -- the admin operations on virtual keys and teams (keys.h):
 * LiteLLM's /key/generate, /key/update, … and /team/new, … bodies read
 * into keys and teams, and their info written back in LiteLLM's shapes.
 * The plaintext of a key exists only in generate's (and regenerate's)
 * answer: it is made here, hashed, and never kept. */
#include "keys.h"
#include "db.h"
#include "llmux-errno.h"

#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define KEY_RANDOM_BYTES 24     /* 192 bits */

/* ---- JSON in ------------------------------------------------------------ */

static int fail(int *code, char *msg, size_t len, int c, const char *fmt,
                const char *arg)
{
    *code = c;
    snprintf(msg, len, fmt, arg);
    return -1;
}

static int set_str(char **slot, const json_t *v)
{
    char *s = NULL;

    if (!json_is_null(v) && (s = strdup(json_string_value(v))) == NULL)
        return -1;
    free(*slot);
    *slot = s;
    return 0;
}

/* Reads the fields LiteLLM's /key/generate and /key/update take (and,
 * for teams, /team/new's). is_key: the key-only fields too. */
static int read_policy(const json_t *req, struct policy *p, int is_key,
                       struct vkey *v, struct team *t, int *code,
                       char *msg, size_t len)
{
    const char *k;
    json_t *x;
    int64_t now = (int64_t)time(NULL);

    json_object_foreach((json_t *)req, k, x) {
        int num = json_is_number(x) || json_is_null(x);
        double d = json_number_value(x);

        if (strcmp(k, "models") == 0) {
            size_t i;
            json_t *m;

            if (!json_is_array(x))
                return fail(code, msg, len, LLMUX_EBADREQ,
                            "%s must be a list of model names", k);
            json_array_foreach(x, i, m)
                if (!json_is_string(m))
                    return fail(code, msg, len, LLMUX_EBADREQ,
                                "%s must be a list of model names", k);
            json_decref(p->models);
            p->models = json_array_size(x) ? json_deep_copy(x) : NULL;
        } else if (strcmp(k, "max_budget") == 0) {
            if (!num || d < 0)
                return fail(code, msg, len, LLMUX_EBADREQ,
                            "%s must be a number of USD >= 0", k);
            p->budget.max = json_is_null(x) ? -1 : d;
        } else if (strcmp(k, "budget_duration") == 0) {
            const char *s = json_string_value(x);

            if (json_is_null(x)) {
                p->budget.dur[0] = '\0';
                p->budget.reset_at = 0;
            } else if (s == NULL || budget_duration_ok(s) < 0 ||
                       strlen(s) >= sizeof(p->budget.dur)) {
                return fail(code, msg, len, LLMUX_EBADREQ, "%s must be "
                            "like 30s, 30m, 30h, 30d or 1mo", k);
            } else {
                snprintf(p->budget.dur, sizeof(p->budget.dur), "%s", s);
                p->budget.reset_at = budget_next(s, now);
            }
        } else if (strcmp(k, "rpm_limit") == 0 ||
                   strcmp(k, "tpm_limit") == 0 ||
                   strcmp(k, "max_parallel_requests") == 0) {
            long *slot = k[0] == 'r' ? &p->rpm : k[0] == 't' ? &p->tpm :
                         &p->parallel;

            if (!num || d < 0 || d > 1e9 || d != (double)(long)d)
                return fail(code, msg, len, LLMUX_EBADREQ,
                            "%s must be a whole number >= 0", k);
            *slot = (long)d;
        } else if (strcmp(k, "metadata") == 0) {
            json_t **slot = is_key ? &v->metadata : &t->metadata;

            if (!json_is_object(x) && !json_is_null(x))
                return fail(code, msg, len, LLMUX_EBADREQ,
                            "%s must be an object", k);
            json_decref(*slot);
            *slot = json_is_null(x) ? NULL : json_deep_copy(x);
        } else if (strcmp(k, "blocked") == 0) {
            if (!json_is_boolean(x))
                return fail(code, msg, len, LLMUX_EBADREQ,
                            "%s must be true or false", k);
            *(is_key ? &v->blocked : &t->blocked) = json_is_true(x);
        } else if (is_key && strcmp(k, "duration") == 0) {
            const char *s = json_string_value(x);
            double secs = s ? duration_secs(s) : -1;

            if (json_is_null(x))
                v->expires = 0;
            else if (secs < 0)
                return fail(code, msg, len, LLMUX_EBADREQ, "%s must be "
                            "like 30s, 30m, 30h or 30d", k);
            else
                v->expires = now + (int64_t)secs;
        } else if (((is_key && (strcmp(k, "key_alias") == 0 ||
                                strcmp(k, "user_id") == 0 ||
                                strcmp(k, "team_id") == 0)) ||
                    (!is_key && strcmp(k, "team_alias") == 0))) {
            char **slot = !is_key ? &t->alias : k[0] == 'k' ? &v->alias :
                          k[0] == 'u' ? &v->user_id : &v->team_id;

            if (!json_is_string(x) && !json_is_null(x))
                return fail(code, msg, len, LLMUX_EBADREQ,
                            "%s must be a string", k);
            if (set_str(slot, x) < 0)
                return fail(code, msg, len, LLMUX_EINTERNAL,
                            "out of memory%s", "");
        } else if (strcmp(k, "key") != 0 && strcmp(k, "team_id") != 0 &&
                   strcmp(k, "spend") != 0) {
            return fail(code, msg, len, LLMUX_EBADREQ,
                        "unknown field '%s'", k);
        }
    }
    return 0;
}

/* ---- JSON out ----------------------------------------------------------- */

static json_t *iso(int64_t t)
{
    struct tm tm;
    time_t tt = (time_t)t;
    char b[32];

    if (t == 0)
        return json_null();
    gmtime_r(&tt, &tm);
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(b);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *num_or_null(long n)
{
    return n ? json_integer(n) : json_null();
}

static void policy_json(json_t *o, const struct policy *p)
{
    json_object_set_new(o, "models", p->models ? json_deep_copy(p->models) :
                        json_array());
    json_object_set_new(o, "max_budget", p->budget.max >= 0 ?
                        json_real(p->budget.max) : json_null());
    json_object_set_new(o, "budget_duration", p->budget.dur[0] ?
                        json_string(p->budget.dur) : json_null());
    json_object_set_new(o, "budget_reset_at", iso(p->budget.reset_at));
    json_object_set_new(o, "spend", json_real(p->budget.spend));
    json_object_set_new(o, "rpm_limit", num_or_null(p->rpm));
    json_object_set_new(o, "tpm_limit", num_or_null(p->tpm));
}

json_t *keys_info(const struct vkey *v)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "token", json_string(v->token));
    json_object_set_new(o, "key_name", json_string(v->hint));
    json_object_set_new(o, "key_alias", str_or_null(v->alias));
    policy_json(o, &v->pol);
    json_object_set_new(o, "max_parallel_requests",
                        num_or_null(v->pol.parallel));
    json_object_set_new(o, "expires", iso(v->expires));
    json_object_set_new(o, "blocked", json_boolean(v->blocked));
    json_object_set_new(o, "user_id", str_or_null(v->user_id));
    json_object_set_new(o, "team_id", str_or_null(v->team_id));
    json_object_set_new(o, "metadata", v->metadata ?
                        json_deep_copy(v->metadata) : json_object());
    json_object_set_new(o, "created_at", iso(v->created));
    return o;
}

json_t *team_info(struct keys *k, const struct team *t)
{
    json_t *o = json_object(), *keys = json_array();

    if (o == NULL || keys == NULL) {
        json_decref(o);
        json_decref(keys);
        return NULL;
    }
    json_object_set_new(o, "team_id", json_string(t->id));
    json_object_set_new(o, "team_alias", str_or_null(t->alias));
    policy_json(o, &t->pol);
    json_object_set_new(o, "blocked", json_boolean(t->blocked));
    json_object_set_new(o, "metadata", t->metadata ?
                        json_deep_copy(t->metadata) : json_object());
    json_object_set_new(o, "created_at", iso(t->created));
    for (size_t b = 0; b < KEYS_BUCKETS; b++)
        for (const struct vkey *v = k->bucket[b]; v; v = v->next)
            if (v->team == t)
                json_array_append_new(keys, json_string(v->token));
    json_object_set_new(o, "keys", keys);
    return o;
}

/* ---- admin operations --------------------------------------------------- */

static int new_secret(char *ret, size_t len)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
                              "rstuvwxyz0123456789-_";
    unsigned char rnd[KEY_RANDOM_BYTES];
    size_t o = 0;

    if (len < 4 + KEY_RANDOM_BYTES * 4 / 3 ||
        getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        return -1;
    ret[o++] = 's';
    ret[o++] = 'k';
    ret[o++] = '-';
    for (size_t i = 0; i < sizeof(rnd); i += 3) {
        unsigned w = (unsigned)rnd[i] << 16 | (unsigned)rnd[i + 1] << 8 |
                     rnd[i + 2];

        for (int s = 18; s >= 0; s -= 6)
            ret[o++] = b64[(w >> s) & 63];
    }
    ret[o] = '\0';
    explicit_bzero(rnd, sizeof(rnd));
    return 0;
}

/* Gives v a fresh secret: its token and hint change; the answer carries
 * the plaintext once. */
static json_t *issue(struct keys *k, struct vkey *v, int *code, char *msg,
                     size_t len)
{
    char secret[64];
    json_t *o;

    if (new_secret(secret, sizeof(secret)) < 0) {
        fail(code, msg, len, LLMUX_EINTERNAL, "no randomness: %s",
             strerror(errno));
        return NULL;
    }
    keys_hash(secret, strlen(secret), v->token);
    snprintf(v->hint, sizeof(v->hint), "sk-...%s",
             secret + strlen(secret) - 4);
    keys_link(k, v);
    keys_store(k, v);
    if ((o = keys_info(v)) != NULL)
        json_object_set_new(o, "key", json_string(secret));
    explicit_bzero(secret, sizeof(secret));
    return o;
}

static int bind_team(struct keys *k, struct vkey *v, int *code, char *msg,
                     size_t len)
{
    struct team *t = v->team_id ? keys_team(k, v->team_id) : NULL;

    if (v->team_id && t == NULL)
        return fail(code, msg, len, LLMUX_ENOTFOUND, "no team '%s'",
                    v->team_id);
    if (t && strcmp(t->id, v->team_id) != 0) {   /* named by alias */
        free(v->team_id);
        if ((v->team_id = strdup(t->id)) == NULL)
            return fail(code, msg, len, LLMUX_EINTERNAL, "out of memory%s",
                        "");
    }
    if (t)
        t->refs++;
    team_unref(v->team);
    v->team = t;
    return 0;
}

static struct vkey *new_key(void)
{
    struct vkey *v = calloc(1, sizeof(*v));

    if (v) {
        v->pol.budget.max = -1;
        v->created = (int64_t)time(NULL);
    }
    return v;
}

json_t *keys_generate(struct keys *k, const json_t *req, int *code,
                      char *msg, size_t len)
{
    struct vkey *v = new_key();
    const char *alias = json_string_value(json_object_get(req, "key_alias"));

    if (v == NULL) {
        fail(code, msg, len, LLMUX_EINTERNAL, "out of memory%s", "");
        return NULL;
    }
    if (alias && keys_lookup(k, alias)) {
        fail(code, msg, len, LLMUX_EBADREQ, "a key with alias '%s' exists",
             alias);
    } else if (read_policy(req, &v->pol, 1, v, NULL, code, msg, len) == 0 &&
               bind_team(k, v, code, msg, len) == 0) {
        v->refs = 1;
        return issue(k, v, code, msg, len);
    }
    v->refs = 1;
    keys_unref(v);
    return NULL;
}

static struct vkey *named(struct keys *k, const json_t *req, int *code,
                          char *msg, size_t len)
{
    const char *name = json_string_value(json_object_get(req, "key"));
    struct vkey *v;

    if (name == NULL) {
        fail(code, msg, len, LLMUX_EBADREQ, "%s", "which key? (\"key\": "
             "the key, its token or its alias)");
        return NULL;
    }
    if ((v = keys_lookup(k, name)) == NULL)
        fail(code, msg, len, LLMUX_ENOTFOUND, "%s", "no such key");
    return v;
}

json_t *keys_update(struct keys *k, const json_t *req, int *code,
                    char *msg, size_t len)
{
    struct vkey *v = named(k, req, code, msg, len);

    if (v == NULL || read_policy(req, &v->pol, 1, v, NULL, code, msg,
                                 len) < 0 ||
        bind_team(k, v, code, msg, len) < 0)
        return NULL;
    keys_store(k, v);
    return keys_info(v);
}

json_t *keys_block(struct keys *k, const json_t *req, int blocked,
                   int *code, char *msg, size_t len)
{
    struct vkey *v = named(k, req, code, msg, len);

    if (v == NULL)
        return NULL;
    v->blocked = blocked;
    keys_store(k, v);
    return keys_info(v);
}

/* The same settings and spend under a new secret; the old one stops
 * working at once. */
json_t *keys_regenerate(struct keys *k, const json_t *req, int *code,
                        char *msg, size_t len)
{
    struct vkey *v = named(k, req, code, msg, len), *n;

    if (v == NULL)
        return NULL;
    if ((n = new_key()) == NULL) {
        fail(code, msg, len, LLMUX_EINTERNAL, "out of memory%s", "");
        return NULL;
    }
    n->alias = v->alias ? strdup(v->alias) : NULL;
    n->user_id = v->user_id ? strdup(v->user_id) : NULL;
    n->team_id = v->team_id ? strdup(v->team_id) : NULL;
    n->metadata = v->metadata ? json_deep_copy(v->metadata) : NULL;
    n->blocked = v->blocked;
    n->expires = v->expires;
    n->pol = v->pol;
    n->pol.models = v->pol.models ? json_deep_copy(v->pol.models) : NULL;
    memset(&n->pol.win, 0, sizeof(n->pol.win));
    n->pol.inflight = 0;
    if ((n->team = v->team) != NULL)
        n->team->refs++;
    if (k->db)
        db_exec(k->db, sqlite3_mprintf("DELETE FROM keys WHERE token = %Q",
                                       v->token));
    keys_unlink(k, v);
    return issue(k, n, code, msg, len);
}

json_t *keys_delete(struct keys *k, const json_t *req, int *code,
                    char *msg, size_t len)
{
    json_t *names = json_object_get(req, "keys"), *x, *done = json_array();
    size_t i;

    if (!json_is_array(names))
        names = json_object_get(req, "key_aliases");
    if (!json_is_array(names) || done == NULL) {
        json_decref(done);
        fail(code, msg, len, LLMUX_EBADREQ, "%s", "which keys? (\"keys\": "
             "[...] or \"key_aliases\": [...])");
        return NULL;
    }
    json_array_foreach(names, i, x) {
        struct vkey *v = keys_lookup(k, json_string_value(x));

        if (v == NULL) {
            json_decref(done);
            fail(code, msg, len, LLMUX_ENOTFOUND, "no such key: %s",
                 json_string_value(x) ? "(entry not found)" : "(not a "
                 "string)");
            return NULL;
        }
    }
    json_array_foreach(names, i, x) {
        struct vkey *v = keys_lookup(k, json_string_value(x));

        if (v == NULL)
            continue;   /* named twice */
        json_array_append_new(done, json_string(v->token));
        if (k->db)
            db_exec(k->db, sqlite3_mprintf("DELETE FROM keys WHERE token = "
                                           "%Q", v->token));
        keys_unlink(k, v);
    }
    return json_pack("{s:o}", "deleted_keys", done);
}

/* LiteLLM's /key/list: page (from 1) of size keys; without size, every
 * key on one page. Order: the table's, stable while no key is added. */
json_t *keys_list(struct keys *k, const json_t *req)
{
    int full = json_is_true(json_object_get(req, "return_full_object"));
    json_int_t size = json_integer_value(json_object_get(req, "size"));
    json_int_t page = json_integer_value(json_object_get(req, "page"));
    json_int_t total = (json_int_t)k->nkeys, pages, first, i = 0;
    json_t *a = json_array();

    if (size <= 0 || size > total)
        size = total > 0 ? total : 1;
    pages = total > 0 ? (total + size - 1) / size : 1;
    if (page < 1)
        page = 1;
    first = page <= pages ? (page - 1) * size : total;
    for (size_t b = 0; a && b < KEYS_BUCKETS; b++)
        for (const struct vkey *v = k->bucket[b]; v; v = v->next, i++)
            if (i >= first && i < first + size)
                json_array_append_new(a, full ? keys_info(v) :
                                      json_string(v->token));
    return json_pack("{s:o, s:I, s:I, s:I}", "keys", a, "total_count", total,
                     "current_page", page, "total_pages", pages);
}

json_t *team_new(struct keys *k, const json_t *req, int *code, char *msg,
                 size_t len)
{
    const char *id = json_string_value(json_object_get(req, "team_id"));
    unsigned char rnd[16];
    char gen[40];
    struct team *t;

    if (id == NULL) {
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            fail(code, msg, len, LLMUX_EINTERNAL, "no randomness%s", "");
            return NULL;
        }
        for (size_t i = 0; i < sizeof(rnd); i++)
            snprintf(gen + 2 * i, 3, "%02x", rnd[i]);
        id = gen;
    }
    if (keys_team(k, id) || (json_string_value(json_object_get(req,
        "team_alias")) && keys_team(k, json_string_value(
        json_object_get(req, "team_alias"))))) {
        fail(code, msg, len, LLMUX_EBADREQ, "team '%s' exists", id);
        return NULL;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL ||
        (t->id = strdup(id)) == NULL) {
        free(t);
        fail(code, msg, len, LLMUX_EINTERNAL, "out of memory%s", "");
        return NULL;
    }
    t->refs = 1;
    t->pol.budget.max = -1;
    t->created = (int64_t)time(NULL);
    if (read_policy(req, &t->pol, 0, NULL, t, code, msg, len) < 0) {
        team_unref(t);
        return NULL;
    }
    t->next = k->teams;
    k->teams = t;
    team_store(k, t);
    return team_info(k, t);
}

json_t *team_list(struct keys *k)
{
    json_t *a = json_array();

    for (const struct team *t = k->teams; a && t; t = t->next)
        json_array_append_new(a, team_info(k, t));
    return a;
}

json_t *team_delete(struct keys *k, const json_t *req, int *code,
                    char *msg, size_t len)
{
    json_t *ids = json_object_get(req, "team_ids"), *x;
    size_t i;

    if (!json_is_array(ids)) {
        fail(code, msg, len, LLMUX_EBADREQ, "%s", "which teams? "
             "(\"team_ids\": [...])");
        return NULL;
    }
    json_array_foreach(ids, i, x)
        if (keys_team(k, json_string_value(x)) == NULL) {
            fail(code, msg, len, LLMUX_ENOTFOUND, "no team '%s'",
                 json_string_value(x) ? json_string_value(x) : "?");
            return NULL;
        }
    json_array_foreach(ids, i, x) {
        struct team *t = keys_team(k, json_string_value(x)), **p;

        if (t == NULL)
            continue;
        for (p = &k->teams; *p != t; p = &(*p)->next)
            ;
        *p = t->next;
        t->deleted = 1;
        /* Its keys go with it, as in LiteLLM: a key must not outlive the
         * team whose models and budget bound it. */
        for (size_t b = 0; b < KEYS_BUCKETS; b++)
            for (struct vkey *v = k->bucket[b], *next; v; v = next) {
                next = v->next;
                if (v->team != t)
                    continue;
                if (k->db)
                    db_exec(k->db, sqlite3_mprintf("DELETE FROM keys WHERE "
                                                   "token = %Q", v->token));
                keys_unlink(k, v);
            }
        if (k->db)
            db_exec(k->db, sqlite3_mprintf("DELETE FROM teams WHERE "
                                           "team_id = %Q", t->id));
        team_unref(t);
    }
    return json_pack("{s:O}", "deleted_teams", ids);
}
