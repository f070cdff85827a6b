/* keyops.c -- the admin ops on keys, teams and spend (key/generate …,
 * team/new …, spend/logs, spend/report), with LiteLLM's request and answer
 * bodies so the HTTP endpoints are thin mappings onto them (a frame's body
 * is a map: LiteLLM's list answers come as {"data": [...]}). Root and the
 * admin group only, except that a key's holder may read its own key/info
 * and spend/logs. Answers through the session, as ops.c does. */
#include "access.h"
#include "keys.h"
#include "llmux-errno.h"
#include "log.h"
#include "server.h"
#include "session.h"
#include "spend.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void fail(struct session *s, uint64_t id, int code, const char *msg)
{
    s->ops->error(s, id, &(struct session_error){ .code = code,
                  .message = msg, .retry_after = -1 });
}

static const int zero = 0;

/* code and msg are read here, after the call that made body set them (as
 * arguments they could be read before it: the order is unspecified). */
static void answer(struct session *s, uint64_t id, json_t *body,
                   const int *code, const char *msg)
{
    json_t *key;

    if (body == NULL) {
        fail(s, id, *code ? *code : LLMUX_EINTERNAL, msg[0] ? msg :
             "out of memory");
        return;
    }
    if (s->ops->completion(s, id, body) < 0 ||
        s->ops->done(s, id, &(struct session_done){ .model = NULL }) < 0)
        fail(s, id, LLMUX_EINTERNAL, "answer too large");
    /* generate's and regenerate's answers hold the plaintext key. */
    if (json_is_string(key = json_object_get(body, "key")))
        explicit_bzero((char *)json_string_value(key),
                       json_string_length(key));
    json_decref(body);
}

static int is(const char *op, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(op, name, len) == 0;
}

/* key/info: {"key": …} (default: the caller's own key) -> LiteLLM's
 * {"key": token, "info": {…}}. */
static void key_info(struct session *s, uint64_t id, const json_t *body,
                     int admin)
{
    const char *name = json_string_value(json_object_get(body, "key"));
    struct vkey *v = name ? keys_lookup(&s->srv->keys, name) :
                     s->caller.key;

    if (!admin && (s->caller.key == NULL || v != s->caller.key)) {
        fail(s, id, LLMUX_EPERMISSION, "key/info is for root and the "
             "admin_group, or for the holder of that key");
        return;
    }
    if (v == NULL || v->deleted) {
        fail(s, id, LLMUX_ENOTFOUND, "no such key");
        return;
    }
    answer(s, id, json_pack("{s:s, s:o}", "key", v->token, "info",
                            keys_info(v)), &zero, "");
}

static void team_info_op(struct session *s, uint64_t id, const json_t *body)
{
    const char *tid = json_string_value(json_object_get(body, "team_id"));
    struct team *t = keys_team(&s->srv->keys, tid);

    if (t == NULL) {
        fail(s, id, LLMUX_ENOTFOUND, tid ? "no such team" : "which team? "
             "(\"team_id\")");
        return;
    }
    answer(s, id, json_pack("{s:s, s:o}", "team_id", t->id, "team_info",
                            team_info(&s->srv->keys, t)), &zero, "");
}

/* "YYYY-MM-DD" -> unix day; -1 when it is not such a date. */
static int64_t parse_day(const char *p)
{
    struct tm tm = { 0 };
    char *end;

    if (p == NULL || (end = strptime(p, "%Y-%m-%d", &tm)) == NULL ||
        *end != '\0')
        return -1;
    return (int64_t)timegm(&tm) / 86400;
}

/* LiteLLM's /spend/logs filters: api_key (a key, its token or alias),
 * user_id (the row's "user"), request_id, start_date and end_date (days,
 * both included), and llmux's limit (the newest rows). */
static void spend_logs_op(struct session *s, uint64_t id, const json_t *body,
                          int admin)
{
    const char *key = json_string_value(json_object_get(body, "api_key"));
    const char *from = json_string_value(json_object_get(body,
                                                         "start_date"));
    const char *to = json_string_value(json_object_get(body, "end_date"));
    json_int_t limit = json_integer_value(json_object_get(body, "limit"));
    struct vkey *v = key ? keys_lookup(&s->srv->keys, key) : NULL;
    int64_t d0 = from ? parse_day(from) : 0, d1 = to ? parse_day(to) : 0;
    struct spend_filter f = {
        .request_id = json_string_value(json_object_get(body,
                                                        "request_id")),
        .user = json_string_value(json_object_get(body, "user_id")),
        .limit = limit > 0 ? (size_t)limit : 0,
    };

    if (!admin) {
        if (s->caller.key == NULL || (key && v != s->caller.key)) {
            fail(s, id, LLMUX_EPERMISSION, "spend/logs is for root and the "
                 "admin_group, or for a key's holder (its own rows)");
            return;
        }
        v = s->caller.key;
    }
    if (d0 < 0 || d1 < 0) {
        fail(s, id, LLMUX_EBADREQ, "start_date and end_date must be dates: "
             "YYYY-MM-DD");
        return;
    }
    f.key = v ? v->token : key;
    f.start = from ? (double)d0 * 86400 : 0;
    f.end = to ? (double)(d1 + 1) * 86400 : 0;
    /* Both dates and no request id: LiteLLM summarises by day unless
     * asked for the rows (summarize: false). */
    if (from && to && f.request_id == NULL &&
        !json_is_false(json_object_get(body, "summarize"))) {
        answer(s, id, json_pack("{s:o}", "data", spend_daily(&s->srv->spend,
               &f, d0, d1)), &zero, "");
        return;
    }
    answer(s, id, json_pack("{s:o}", "data", spend_logs(&s->srv->spend, &f)),
           &zero, "");
}

static void spend_report_op(struct session *s, uint64_t id,
                            const json_t *body)
{
    const char *by = json_string_value(json_object_get(body, "by"));
    const char *since = json_string_value(json_object_get(body, "since"));
    int64_t day = since ? parse_day(since) : 0;
    json_t *r;

    if (day < 0) {
        fail(s, id, LLMUX_EBADREQ, "since must be a date: YYYY-MM-DD");
        return;
    }
    if ((r = spend_report(&s->srv->spend, by ? by : "key", day)) == NULL) {
        fail(s, id, LLMUX_EBADREQ, "by must be key, team, user, model or "
             "day");
        return;
    }
    answer(s, id, json_pack("{s:o}", "data", r), &zero, "");
}

int keyops_is(const char *op, size_t oplen)
{
    return (oplen > 4 && memcmp(op, "key/", 4) == 0) ||
           (oplen > 5 && memcmp(op, "team/", 5) == 0) ||
           (oplen > 6 && memcmp(op, "spend/", 6) == 0);
}

void keyops_handle(struct session *s, uint64_t id, const char *op,
                   size_t oplen, const json_t *body)
{
    struct keys *k = &s->srv->keys;
    int admin = access_admin(s->srv->cfg, s->srv->uid, &s->caller);
    int code = 0;
    char msg[256] = "";
    json_t *empty = NULL;

    if (body == NULL)
        body = empty = json_object();
    if (is(op, oplen, "key/info"))
        key_info(s, id, body, admin);
    else if (is(op, oplen, "spend/logs"))
        spend_logs_op(s, id, body, admin);
    else if (!admin) {
        log_warn("refused %.*s from pid %d uid %u: not an admin",
                 (int)(oplen > 32 ? 32 : oplen), op, (int)s->caller.pid,
                 (unsigned)s->caller.uid);
        fail(s, id, LLMUX_EPERMISSION, "keys, teams and spend reports are "
             "for root and the admin_group only");
    } else if (is(op, oplen, "key/generate"))
        answer(s, id, keys_generate(k, body, &code, msg, sizeof(msg)), &code,
               msg);
    else if (is(op, oplen, "key/update"))
        answer(s, id, keys_update(k, body, &code, msg, sizeof(msg)), &code,
               msg);
    else if (is(op, oplen, "key/regenerate"))
        answer(s, id, keys_regenerate(k, body, &code, msg, sizeof(msg)),
               &code, msg);
    else if (is(op, oplen, "key/block") || is(op, oplen, "key/unblock"))
        answer(s, id, keys_block(k, body, oplen == 9, &code, msg,
                                 sizeof(msg)), &code, msg);
    else if (is(op, oplen, "key/delete"))
        answer(s, id, keys_delete(k, body, &code, msg, sizeof(msg)), &code,
               msg);
    else if (is(op, oplen, "key/list"))
        answer(s, id, keys_list(k, body), &zero, "");
    else if (is(op, oplen, "team/new"))
        answer(s, id, team_new(k, body, &code, msg, sizeof(msg)), &code, msg);
    else if (is(op, oplen, "team/info"))
        team_info_op(s, id, body);
    else if (is(op, oplen, "team/list"))
        answer(s, id, json_pack("{s:o}", "data", team_list(k)), &zero, "");
    else if (is(op, oplen, "team/delete"))
        answer(s, id, team_delete(k, body, &code, msg, sizeof(msg)), &code,
               msg);
    else if (is(op, oplen, "spend/report"))
        spend_report_op(s, id, body);
    else {
        snprintf(msg, sizeof(msg), "unknown op '%.*s'",
                 (int)(oplen > 32 ? 32 : oplen), op);
        fail(s, id, LLMUX_EBADREQ, msg);
    }
    json_decref(empty);
}
