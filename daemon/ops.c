/* ops.c -- models, status, metrics and reload (ops.h), answered through
 * the session like chat (a completion + a bare done, or an error).
 * Reload is answered once its load (a worker thread, server.c) ended, so
 * `llmux reload` (systemd's ExecReload=) returns once the new config
 * serves, or fails with the file:line that kept the old one. Reload is
 * for admins only; so are status's deployments (other callers' names). */
#include "ops.h"
#include "access.h"
#include "config.h"
#include "hub.h"
#include "llmux-errno.h"
#include "log.h"
#include "metrics.h"
#include "presets.h"
#include "secret.h"
#include "server.h"
#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void fail(struct session *s, uint64_t id, int code, const char *msg)
{
    s->ops->error(s, id, &(struct session_error){ .code = code,
                  .message = msg, .retry_after = -1 });
}

/* Answers body (stolen) as a completion, then a bare done. */
static void answer(struct session *s, uint64_t id, json_t *body)
{
    if (body == NULL) {
        fail(s, id, LLMUX_EINTERNAL, "out of memory");
        return;
    }
    if (s->ops->completion(s, id, body) < 0 ||
        s->ops->done(s, id, &(struct session_done){ .model = NULL }) < 0)
        fail(s, id, LLMUX_EINTERNAL, "answer too large");
    json_decref(body);
}

static int listed(json_t *data, const char *name)
{
    size_t i;
    json_t *m;

    json_array_foreach(data, i, m)
        if (strcmp(hub_str(m, "id"), name) == 0)
            return 1;
    return 0;
}

/* What model_info says a group's first deployment is and can do (mode,
 * max_input_tokens, the supports_* flags) and the per-token prices it is
 * charged at (its effective price, dprice.h), for `llmux models -v`. */
static json_t *model_info_view(const struct deployment *d)
{
    json_t *out = json_object(), *v;
    const char *k;

    json_object_foreach(d->model_info, k, v)
        if ((strncmp(k, "supports_", 9) == 0 && json_is_boolean(v)) ||
            strcmp(k, "mode") == 0 || strcmp(k, "max_input_tokens") == 0 ||
            strcmp(k, "max_output_tokens") == 0 ||
            strcmp(k, "base_model") == 0)
            json_object_set(out, k, v);
    if (out && d->price.input >= 0)
        json_object_set_new(out, "input_cost_per_token",
                            json_real(d->price.input));
    if (out && d->price.output >= 0)
        json_object_set_new(out, "output_cost_per_token",
                            json_real(d->price.output));
    return out;
}

static json_t *models(const struct config *cfg)
{
    json_t *data = json_array();

    for (size_t i = 0; data && i < cfg->ndeps; i++) {
        const struct deployment *d = cfg->deps[i];

        if (!listed(data, d->model_name))
            json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s, s:o}",
                "id", d->model_name, "object", "model", "created", 0,
                "owned_by", d->preset->name, "model_info",
                model_info_view(d)));
    }
    if (data && !listed(data, "mock/echo"))
        json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}",
            "id", "mock/echo", "object", "model", "created", 0,
            "owned_by", "mock"));
    return json_pack("{s:s, s:o}", "object", "list", "data", data);
}

/* The router's view: attempts running, latency, failures this minute and
 * the cooldown left (router.h; same clock as request.c). True while the
 * deployment is benched. */
static int router_view(const struct server *s, const struct deployment *d,
                       json_t *j)
{
    uint64_t now_ms = uv_hrtime() / 1000000;
    const struct rstat *st = router_dfind(&s->router, d);

    if (st == NULL)
        return 0;
    json_object_set_new(j, "inflight", json_integer(st->inflight));
    if (st->latency_ms >= 0)
        json_object_set_new(j, "latency_ms", json_real(st->latency_ms));
    json_object_set_new(j, "fails_this_minute",
                        json_integer(st->minute == now_ms / 60000 ?
                                     st->fails : 0));
    json_object_set_new(j, "cooldown_s", json_real(st->cool_until > now_ms ?
                        (double)(st->cool_until - now_ms) / 1000.0 : 0));
    /* Its rpm/tpm use in the last minute, beside the limit routing holds
     * it to. Reading a window slides it to now, which changes no count
     * inside the minute: the cast is for that. */
    if (d->rpm > 0) {
        json_object_set_new(j, "rpm_used", json_integer((json_int_t)
            window_requests((struct window *)&st->win, now_ms / 1000)));
        json_object_set_new(j, "rpm_limit", json_real(d->rpm));
    }
    if (d->tpm > 0) {
        json_object_set_new(j, "tpm_used", json_integer((json_int_t)
            window_tokens((struct window *)&st->win, now_ms / 1000)));
        json_object_set_new(j, "tpm_limit", json_real(d->tpm));
    }
    return st->cool_until > now_ms;
}

/* Health from the metrics of the deployment's series, and the router's
 * cooldown state. */
static json_t *health(struct server *s, const struct deployment *d)
{
    struct metrics_health h;
    json_t *j;

    metrics_health(&s->metrics, d->label_group, d->label_id, d->preset->name,
                   &h);
    j = json_pack("{s:s, s:I, s:I, s:I}", "state", h.state,
                  "requests", (json_int_t)h.requests,
                  "errors", (json_int_t)h.errors,
                  "consecutive_failures", (json_int_t)h.consecutive_failures);
    if (j && h.last_error) {
        json_object_set_new(j, "last_error", json_string(h.last_error));
        json_object_set_new(j, "last_error_age_s",
                            json_real(h.last_error_age_s));
    }
    if (j && h.last_ok_age_s >= 0)
        json_object_set_new(j, "last_ok_age_s", json_real(h.last_ok_age_s));
    if (j && router_view(s, d, j))
        json_object_set_new(j, "state", json_string("cooldown"));
    return j;
}

/* One deployment: what it calls, whether it has a key (never the key,
 * nor a fingerprint: a short hash would confirm a guessed key), and its
 * health. */
static json_t *deployment(struct server *s, const struct deployment *d)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:o}",
        "id", d->id, "model_name", d->model_name, "model", d->model,
        "provider", d->preset->name, "has_key", d->api_key != NULL,
        "implicit", d->implicit, "health", health(s, d));
}

/* model_name -> its deployment ids, in file order. */
static json_t *groups(const struct config *cfg)
{
    json_t *g = json_object();

    for (size_t i = 0; g && i < cfg->ndeps; i++) {
        const struct deployment *d = cfg->deps[i];
        json_t *ids = json_object_get(g, d->model_name);

        if (ids == NULL) {
            ids = json_array();
            json_object_set_new(g, d->model_name, ids);
        }
        json_array_append_new(ids, json_string(d->id));
    }
    return g;
}

struct derived_ud { struct server *s; json_t *deps; };

/* The router's cached derived deployments (resolve.h), after model_list's. */
static void add_derived(const struct deployment *d, void *ud)
{
    struct derived_ud *u = ud;

    json_array_append_new(u->deps, deployment(u->s, d));
}

/* Everyone sees the daemon's own figures; admins also see groups and
 * deployments, whose names include the models other callers asked for. */
static json_t *status(struct server *s, int admin)
{
    const struct config *cfg = s->cfg;
    json_t *deps, *st;

    if (!admin)
        return json_pack("{s:s, s:I, s:I, s:I, s:b}",
            "version", LLMUX_DAEMON_VERSION,
            "uptime_s", (json_int_t)((uv_hrtime() - s->started_ns) /
                                     1000000000),
            "inflight", (json_int_t)s->stats.inflight,
            "connections", (json_int_t)s->stats.connections,
            "details", 0);
    deps = json_array();
    for (size_t i = 0; deps && i < cfg->ndeps; i++)
        json_array_append_new(deps, deployment(s, cfg->deps[i]));
    if (deps)
        resolve_each(&s->router, add_derived, &(struct derived_ud){ s, deps });
    st = json_pack("{s:s, s:I, s:I, s:s, s:s, s:b, s:I, s:I, s:I, s:I, "
                   "s:I, s:I, s:o, s:o}",
        "version", LLMUX_DAEMON_VERSION,
        "pid", (json_int_t)getpid(),
        "uptime_s", (json_int_t)((uv_hrtime() - s->started_ns) / 1000000000),
        "config", cfg->path, "socket", s->socket_path ? s->socket_path : "",
        "socket_from_systemd", s->inherited,
        "inflight", (json_int_t)s->stats.inflight,
        "connections", (json_int_t)s->stats.connections,
        "requests", (json_int_t)s->stats.requests,
        "errors", (json_int_t)s->stats.errors,
        "reloads", (json_int_t)s->stats.reloads,
        "reload_failures", (json_int_t)s->stats.reload_failures,
        "groups", groups(cfg),
        "deployments", deps);
    if (st)
        json_object_set_new(st, "details", json_true());
    if (st && s->reload_error)
        json_object_set_new(st, "last_reload_error",
                            json_string(s->reload_error));
    return st;
}

/* A cap hit is said as such, not as "out of memory". */
static void metrics(struct session *s, uint64_t id)
{
    char *text;
    json_t *j;
    int r;

    if ((r = metrics_render(s->srv, &text)) < 0) {
        fail(s, id, LLMUX_EINTERNAL, r == LLMUX_ETOOBIG ?
             "the metrics text is over its cap" : "out of memory");
        return;
    }
    j = json_pack("{s:s}", "text", text);
    free(text);
    answer(s, id, j);
}

static int is_admin(const struct session *s)
{
    return access_admin(s->srv->cfg, s->srv->uid, &s->caller);
}

static void reload(struct session *s, uint64_t id)
{
    if (!is_admin(s)) {
        log_warn("refused reload from pid %d uid %u: not an admin",
                 (int)s->caller.pid, (unsigned)s->caller.uid);
        fail(s, id, LLMUX_EPERMISSION, "reload is for root and the "
             "admin_group only");
        return;
    }
    server_reload(s->srv, s, id);   /* answered when it ended */
}

void ops_reload_answer(struct session *s, uint64_t id, int r,
                       const char *err)
{
    if (r < 0) {
        fail(s, id, r == -ENOMEM ? LLMUX_EINTERNAL : LLMUX_EBADREQ, err);
        return;
    }
    answer(s, id, json_pack("{s:b}", "reloaded", 1));
}

void ops_handle(struct session *s, uint64_t id, const char *op,
                size_t oplen)
{
    char msg[128];

    if (oplen == 6 && memcmp(op, "models", 6) == 0)
        answer(s, id, models(s->srv->cfg));
    else if (oplen == 6 && memcmp(op, "status", 6) == 0)
        answer(s, id, status(s->srv, is_admin(s)));
    else if (oplen == 7 && memcmp(op, "metrics", 7) == 0)
        metrics(s, id);
    else if (oplen == 6 && memcmp(op, "reload", 6) == 0)
        reload(s, id);
    else {
        snprintf(msg, sizeof(msg), "unknown op '%.*s' (chat, models, "
                 "status, metrics, reload)", (int)(oplen > 32 ? 32 : oplen),
                 op);
        fail(s, id, LLMUX_EBADREQ, msg);
    }
}
