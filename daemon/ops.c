/* ops.c -- models, status, metrics and reload over the socket (ops.h). */
#include "ops.h"
#include "config.h"
#include "conn.h"
#include "hub.h"
#include "log.h"
#include "presets.h"
#include "server.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Sends body (stolen) as a response, then a bare done. */
static void answer(struct conn *c, uint64_t id, json_t *body)
{
    struct proto_enc e;

    if (body == NULL) {
        conn_send_error(c, id, LLMUX_EINTERNAL, "out of memory");
        return;
    }
    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_RESPONSE, id, 1);
    proto_pack_str(&e.pk, "body");
    hub_pack(&e.pk, body);
    json_decref(body);
    if (proto_enc_end(&e) == 0) {
        proto_enc_begin(&e, PROTO_DONE, id, 0);
        proto_enc_end(&e);
        conn_send(c, &e);
    } else {
        conn_send_error(c, id, LLMUX_EINTERNAL, "answer too large");
    }
    proto_enc_free(&e);
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

static json_t *models(const struct config *cfg)
{
    json_t *data = json_array();

    for (size_t i = 0; data && i < cfg->ndeps; i++) {
        const struct deployment *d = cfg->deps[i];

        if (!listed(data, d->model_name))
            json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}",
                "id", d->model_name, "object", "model", "created", 0,
                "owned_by", d->preset->name));
    }
    if (data && !listed(data, "mock/echo"))
        json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}",
            "id", "mock/echo", "object", "model", "created", 0,
            "owned_by", "mock"));
    return json_pack("{s:s, s:o}", "object", "list", "data", data);
}

static json_t *status(const struct server *s)
{
    const struct config *cfg = s->cfg;
    json_t *deps = json_array();

    for (size_t i = 0; deps && i < cfg->ndeps; i++) {
        const struct deployment *d = cfg->deps[i];

        json_array_append_new(deps, json_pack("{s:s, s:s, s:s, s:s, s:b}",
            "id", d->id, "model_name", d->model_name, "model", d->model,
            "provider", d->preset->name, "has_key", d->api_key != NULL));
    }
    return json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:o}",
        "version", LLMUX_DAEMON_VERSION,
        "uptime_s", (json_int_t)((uv_hrtime() - s->started_ns) / 1000000000),
        "config", cfg->path, "socket", s->socket_path ? s->socket_path : "",
        "inflight", (json_int_t)s->stats.inflight,
        "connections", (json_int_t)s->stats.connections,
        "requests", (json_int_t)s->stats.requests,
        "errors", (json_int_t)s->stats.errors,
        "deployments", deps);
}

static json_t *metrics(const struct server *s)
{
    char text[1024];

    snprintf(text, sizeof(text),
        "# HELP llmux_requests_total Chat requests started.\n"
        "# TYPE llmux_requests_total counter\n"
        "llmux_requests_total %llu\n"
        "# HELP llmux_errors_total Chat requests that ended in an error.\n"
        "# TYPE llmux_errors_total counter\n"
        "llmux_errors_total %llu\n"
        "# HELP llmux_inflight Chat requests in flight.\n"
        "# TYPE llmux_inflight gauge\n"
        "llmux_inflight %llu\n"
        "# HELP llmux_connections Open client connections.\n"
        "# TYPE llmux_connections gauge\n"
        "llmux_connections %llu\n",
        (unsigned long long)s->stats.requests,
        (unsigned long long)s->stats.errors,
        (unsigned long long)s->stats.inflight,
        (unsigned long long)s->stats.connections);
    return json_pack("{s:s}", "text", text);
}

static int is_admin(const struct conn *c)
{
    const struct config *cfg = c->srv->cfg;

    if (c->uid == 0 || c->uid == c->srv->uid)
        return 1;
    if (cfg->admin_gid == (gid_t)-1)
        return 0;
    if (c->gid == cfg->admin_gid)
        return 1;
    for (int i = 0; i < c->ngroups; i++)
        if (c->groups[i] == cfg->admin_gid)
            return 1;
    return 0;
}

static void reload(struct conn *c, uint64_t id)
{
    char err[512];
    int r;

    if (!is_admin(c)) {
        log_warn("refused reload from pid %d uid %u: not an admin",
                 (int)c->pid, (unsigned)c->uid);
        conn_send_error(c, id, LLMUX_EPERMISSION, "reload is for root and "
                        "the admin_group only");
        return;
    }
    if ((r = server_reload(c->srv, err, sizeof(err))) < 0) {
        conn_send_error(c, id, r == -12 ? LLMUX_EINTERNAL : LLMUX_EBADREQ,
                        err);
        return;
    }
    answer(c, id, json_pack("{s:b}", "reloaded", 1));
}

void ops_handle(struct conn *c, uint64_t id, const char *op, size_t oplen)
{
    char msg[128];

    if (oplen == 6 && memcmp(op, "models", 6) == 0)
        answer(c, id, models(c->srv->cfg));
    else if (oplen == 6 && memcmp(op, "status", 6) == 0)
        answer(c, id, status(c->srv));
    else if (oplen == 7 && memcmp(op, "metrics", 7) == 0)
        answer(c, id, metrics(c->srv));
    else if (oplen == 6 && memcmp(op, "reload", 6) == 0)
        reload(c, id);
    else {
        snprintf(msg, sizeof(msg), "unknown op '%.*s' (chat, models, "
                 "status, metrics, reload)", (int)(oplen > 32 ? 32 : oplen),
                 op);
        conn_send_error(c, id, LLMUX_EBADREQ, msg);
    }
}
