/* test-keys.c -- virtual keys (keys.c), budget windows, model lists
 * (access.c), the minute windows (limits.c) and the database's migrations
 * (db.c), without a daemon. */
#include "test.h"

#include "access.h"
#include "db.h"
#include "keys.h"
#include "limits-state.h"
#include "llmux-errno.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TEST(keys_hash_is_litellms_sha256_hex)
{
    char t[KEY_TOKEN_LEN + 1];

    keys_hash("sk-abc", 6, t);
    ASSERT_STR_EQ(t, "1460db1b6902f8b1fc2a40d9381a24d0fd22c3bc1b2c6f999c521da7"
                     "3776fbe0");
}

TEST(keys_durations)
{
    ASSERT_EQ(budget_duration_ok("30s"), 0);
    ASSERT_EQ(budget_duration_ok("30m"), 0);
    ASSERT_EQ(budget_duration_ok("30h"), 0);
    ASSERT_EQ(budget_duration_ok("30d"), 0);
    ASSERT_EQ(budget_duration_ok("1mo"), 0);
    ASSERT_EQ(budget_duration_ok("0d"), -1);
    ASSERT_EQ(budget_duration_ok("5w"), -1);
    ASSERT_EQ(budget_duration_ok("d"), -1);
    ASSERT_EQ(budget_duration_ok(""), -1);
    ASSERT_EQ((long)duration_secs("2h"), 7200);
    ASSERT(duration_secs("1mo") < 0);
}

/* The window after a missed one starts when that one ended, not when
 * someone next asked: resets stay on the grid. */
TEST(keys_budget_resets_exactly)
{
    struct spend_budget b = { .max = 1, .spend = 0.5, .dur = "30s",
                        .reset_at = 1000 };

    ASSERT_EQ(budget_roll(&b, 999), 0);
    ASSERT(b.spend == 0.5);
    ASSERT_EQ(budget_roll(&b, 1075), 1);
    ASSERT(b.spend == 0);
    ASSERT_EQ(b.reset_at, 1090);
    b.spend = 0.25;
    ASSERT_EQ(budget_roll(&b, 1089), 0);
    ASSERT(b.spend == 0.25);
    ASSERT_EQ(budget_roll(&b, 1090), 1);
    ASSERT_EQ(b.reset_at, 1120);
    /* Months by the calendar: 2026-01-15 -> 2026-02-15 -> 2026-03-15. */
    b = (struct spend_budget){ .max = 1, .spend = 1, .dur = "1mo",
                         .reset_at = 1768435200 };
    ASSERT_EQ(budget_roll(&b, 1768435200 + 1), 1);
    ASSERT_EQ(b.reset_at, 1771113600);
    ASSERT_EQ(budget_roll(&b, 1771113600), 1);
    ASSERT_EQ(b.reset_at, 1773532800);
    /* No duration: never resets. */
    b = (struct spend_budget){ .max = 1, .spend = 1 };
    ASSERT_EQ(budget_roll(&b, 1 << 30), 0);
    ASSERT(b.spend == 1);
}

TEST(keys_generate_shows_once_and_stores_the_hash)
{
    struct keys k;
    json_t *req = json_pack("{s:s, s:[s], s:f, s:i}", "key_alias", "app",
                            "models", "openai/*", "max_budget", 2.5,
                            "rpm_limit", 7);
    json_t *a, *inf;
    char msg[256], token[KEY_TOKEN_LEN + 1];
    const char *key;
    struct vkey *v;
    int code = 0;

    keys_init(&k, NULL);
    a = keys_generate(&k, req, &code, msg, sizeof(msg));
    ASSERT(a != NULL);
    key = json_string_value(json_object_get(a, "key"));
    ASSERT(key != NULL && strncmp(key, "sk-", 3) == 0);
    ASSERT(strlen(key) >= 3 + 32);          /* 192 bits, base64url */
    keys_hash(key, strlen(key), token);
    ASSERT_STR_EQ(json_string_value(json_object_get(a, "token")), token);
    v = keys_find(&k, key, strlen(key));
    ASSERT(v != NULL);
    ASSERT(keys_lookup(&k, "app") == v);
    ASSERT(keys_lookup(&k, token) == v);
    ASSERT(keys_find(&k, "sk-nope", 7) == NULL);
    ASSERT_EQ(v->pol.rpm, 7);
    /* info never holds the key itself, nor any of its characters beyond
     * the last four of the hint. */
    inf = keys_info(v);
    ASSERT(json_object_get(inf, "key") == NULL);
    ASSERT(strstr(json_string_value(json_object_get(inf, "key_name")),
                  key + 7) == NULL);
    json_decref(inf);
    /* A second key under the same alias is refused. */
    ASSERT(keys_generate(&k, req, &code, msg, sizeof(msg)) == NULL);
    ASSERT_EQ(code, LLMUX_EBADREQ);
    ASSERT(strstr(msg, "alias 'app'") != NULL);
    json_decref(a);
    json_decref(req);
    req = json_pack("{s:[s]}", "keys", "app");
    json_decref(keys_delete(&k, req, &code, msg, sizeof(msg)));
    ASSERT(keys_lookup(&k, "app") == NULL);
    ASSERT_EQ(k.nkeys, 0);
    json_decref(req);
    keys_free(&k);
}

TEST(keys_bad_fields_are_refused)
{
    struct keys k;
    char msg[256];
    int code = 0;
    json_t *req = json_pack("{s:s}", "budget_duration", "3 days");

    keys_init(&k, NULL);
    ASSERT(keys_generate(&k, req, &code, msg, sizeof(msg)) == NULL);
    ASSERT_EQ(code, LLMUX_EBADREQ);
    ASSERT(strstr(msg, "budget_duration") != NULL);
    json_decref(req);
    req = json_pack("{s:i}", "no_such_field", 1);
    ASSERT(keys_generate(&k, req, &code, msg, sizeof(msg)) == NULL);
    ASSERT(strstr(msg, "no_such_field") != NULL);
    json_decref(req);
    req = json_pack("{s:s}", "team_id", "nope");
    ASSERT(keys_generate(&k, req, &code, msg, sizeof(msg)) == NULL);
    ASSERT_EQ(code, LLMUX_ENOTFOUND);
    json_decref(req);
    ASSERT_EQ(k.nkeys, 0);
    keys_free(&k);
}

TEST(access_model_lists_and_wildcards)
{
    json_t *m = json_pack("[s, s]", "openai/*", "cheap");

    ASSERT(access_model_allowed(m, "openai/gpt-4o"));
    ASSERT(access_model_allowed(m, "cheap"));
    ASSERT(!access_model_allowed(m, "cheaper"));
    ASSERT(!access_model_allowed(m, "anthropic/claude"));
    ASSERT(access_model_allowed(NULL, "anything"));
    json_decref(m);
    m = json_pack("[s]", "*");
    ASSERT(access_model_allowed(m, "anything"));
    json_decref(m);
}

TEST(limits_minute_window_slides)
{
    struct window w;

    memset(&w, 0, sizeof(w));
    window_add(&w, 1000, 1, 10);
    window_add(&w, 1030, 2, 5);
    ASSERT_EQ(window_requests(&w, 1030), 3);
    /* rpm 3: the first leaves at 1060 */
    ASSERT(window_retry(&w, 1030, 0, 3) == 30);
    ASSERT_EQ(window_tokens(&w, 1059), 15);
    ASSERT_EQ(window_requests(&w, 1060), 2);
    ASSERT(window_retry(&w, 1060, 0, 2) == 30);
    /* A bucket reused a minute later starts from zero. */
    window_add(&w, 1090, 1, 1);
    ASSERT_EQ(window_requests(&w, 1090), 1);
    ASSERT_EQ(window_tokens(&w, 1090), 1);
    ASSERT(window_retry(&w, 1090, 0, 2) == 0);
}

static void count_tables(void *ud, int n, char **c)
{
    (void)n;
    (void)c;
    (*(int *)ud)++;
}

TEST(db_migrates_an_empty_file_and_refuses_a_newer_one)
{
    char dir[] = "/tmp/llmux-unit-db-XXXXXX", path[128], err[512];
    struct db db;
    uv_loop_t loop;
    int n = 0;

    ASSERT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/x.db", dir);
    uv_loop_init(&loop);
    ASSERT_EQ(db_open(&db, &loop, path, err, sizeof(err)), 0);
    ASSERT_EQ(db_query(&db, "SELECT name FROM sqlite_master WHERE type = "
                       "'table'", count_tables, &n, err, sizeof(err)), 0);
    ASSERT_EQ(n, 4);
    /* Writes queued and closed commit; the next open is a no-op. */
    db_exec(&db, sqlite3_mprintf("INSERT INTO budgets (scope, spend) VALUES "
                                 "('global', 1.5)"));
    db_stop(&db);
    uv_run(&loop, UV_RUN_DEFAULT);
    db_close(&db);
    ASSERT_EQ(db_open(&db, &loop, path, err, sizeof(err)), 0);
    n = 0;
    ASSERT_EQ(db_query(&db, "SELECT * FROM budgets", count_tables, &n, err,
                       sizeof(err)), 0);
    ASSERT_EQ(n, 1);
    db_exec(&db, sqlite3_mprintf("PRAGMA user_version = 7"));
    db_stop(&db);
    uv_run(&loop, UV_RUN_DEFAULT);
    db_close(&db);
    ASSERT(db_open(&db, &loop, path, err, sizeof(err)) < 0);
    ASSERT(strstr(err, "schema version 7") != NULL);
    db_stop(&db);
    uv_run(&loop, UV_RUN_DEFAULT);
    db_close(&db);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    unlink(path);
}
