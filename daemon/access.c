/* access.c -- the access stage: who is calling (the caller copied from
 * the session) and whether they may (access.h). Connecting is checked
 * once at accept (conn.c calls access_peer_allowed); per request, the
 * admin flag is settled against the request's config, and this is where
 * a virtual key (keys.h) becomes the request's policy: a dead key is
 * authentication, a model it may not use permission_denied. */
#include "access.h"
#include "config.h"
#include "request.h"
#include "server.h"
#include "session.h"
#include "stage.h"
#include "keys.h"
#include "llmux-errno.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int caller_in_group(const struct caller *c, gid_t gid)
{
    if (c->gid == gid)
        return 1;
    for (int g = 0; g < c->ngroups; g++)
        if (c->groups[g] == gid)
            return 1;
    return 0;
}

int access_admin(const struct config *cfg, uid_t self,
                 const struct caller *c)
{
    if (c->master || c->uid == 0 || c->uid == self)
        return 1;
    return cfg->admin_gid != (gid_t)-1 && caller_in_group(c, cfg->admin_gid);
}

/* tmux's server_acl_join: root and our own uid always, then uid entries,
 * then gid entries (primary and supplementary), then the admin group. No
 * list: everyone the socket's permissions let in. */
int access_peer_allowed(const struct config *cfg, uid_t self,
                        const struct caller *c)
{
    if (cfg->nallow_uids == 0 && cfg->nallow_gids == 0)
        return 1;
    if (c->uid == 0 || c->uid == self)
        return 1;
    for (size_t i = 0; i < cfg->nallow_uids; i++)
        if (cfg->allow_uids[i] == c->uid)
            return 1;
    for (size_t i = 0; i < cfg->nallow_gids; i++)
        if (caller_in_group(c, cfg->allow_gids[i]))
            return 1;
    /* Whoever may administer llmuxd may also use it. */
    return cfg->admin_gid != (gid_t)-1 && caller_in_group(c, cfg->admin_gid);
}

/* LiteLLM's model lists: names, prefixes ("openai/" then "*"), and "*"
 * or "all-proxy-models" for everything. NULL or empty: everything. */
int access_model_allowed(const json_t *models, const char *model)
{
    size_t i, n;
    json_t *m;

    if (models == NULL || json_array_size(models) == 0)
        return 1;
    json_array_foreach(models, i, m) {
        const char *s = json_string_value(m);

        if (s == NULL)
            continue;
        n = strlen(s);
        if (strcmp(s, "*") == 0 || strcmp(s, "all-proxy-models") == 0 ||
            strcmp(s, model) == 0 ||
            (n > 1 && s[n - 1] == '*' && strncmp(s, model, n - 1) == 0))
            return 1;
    }
    return 0;
}

static enum stage_rc refuse(struct request *rq, int code, const char *msg)
{
    request_fail(rq, code, 0, msg, -1);
    return STAGE_ANSWERED;
}

static int allowed(const struct request *rq, const json_t *models,
                   const char *model)
{
    return access_model_allowed(models, model) ||
           access_model_allowed(models, config_alias(rq->cfg, model));
}

/* A virtual key: it must be live, and its models and its team's must
 * both allow the model asked for. */
static enum stage_rc key_access(struct request *rq, struct vkey *v)
{
    const char *model = rq->model;
    const char *who = v->alias ? v->alias : v->hint;
    char msg[320];

    rq->key = keys_ref(v);
    if (v->deleted)
        return refuse(rq, LLMUX_EAUTH, "this API key was deleted");
    if (v->blocked)
        return refuse(rq, LLMUX_EAUTH, "this API key is blocked");
    if (v->expires && (int64_t)time(NULL) >= v->expires)
        return refuse(rq, LLMUX_EAUTH, "this API key has expired");
    if (v->team && (v->team->deleted || v->team->blocked))
        return refuse(rq, LLMUX_EAUTH, v->team->deleted ? "this API key's "
                      "team was deleted" : "this API key's team is blocked");
    if (model == NULL)
        model = "";
    if (!allowed(rq, v->pol.models, model)) {
        snprintf(msg, sizeof(msg), "key '%s' may not use model '%.200s'",
                 who, model);
        return refuse(rq, LLMUX_EPERMISSION, msg);
    }
    if (v->team && !allowed(rq, v->team->pol.models, model)) {
        snprintf(msg, sizeof(msg), "team '%s' may not use model '%.200s'",
                 v->team->alias ? v->team->alias : v->team->id, model);
        return refuse(rq, LLMUX_EPERMISSION, msg);
    }
    return STAGE_CONTINUE;
}

/* llmux_settings.callers: the first entry that matches the kernel's word
 * for the caller, else the default entry, else refused. */
static enum stage_rc caller_access(struct request *rq)
{
    const struct config *cfg = rq->cfg;
    const struct caller_rule *rule = NULL, *def = NULL;
    const char *model = rq->model;
    char msg[320];

    for (size_t i = 0; i < cfg->ncallers && rule == NULL; i++) {
        const struct caller_rule *c = &cfg->callers[i];

        if (c->kind == CALLER_DEFAULT && def == NULL)
            def = c;
        else if ((c->kind == CALLER_USER && c->id == rq->caller.uid) ||
                 (c->kind == CALLER_GROUP &&
                  caller_in_group(&rq->caller, (gid_t)c->id)))
            rule = c;
    }
    if (rule == NULL && (rule = def) == NULL) {
        snprintf(msg, sizeof(msg), "uid %u matches no llmux_settings.callers "
                 "entry (and there is no default entry)",
                 (unsigned)rq->caller.uid);
        return refuse(rq, LLMUX_EPERMISSION, msg);
    }
    if (!allowed(rq, rule->models, model ? model : "")) {
        snprintf(msg, sizeof(msg), "uid %u may not use model '%.200s' "
                 "(llmux_settings.callers, %s:%d)", (unsigned)rq->caller.uid,
                 model ? model : "", cfg->path, rule->line);
        return refuse(rq, LLMUX_EPERMISSION, msg);
    }
    rq->rule = rule;
    return STAGE_CONTINUE;
}

static enum stage_rc access_run(struct request *rq)
{
    rq->caller.admin = access_admin(rq->cfg, rq->srv->uid, &rq->caller);
    if (rq->caller.key)
        return key_access(rq, rq->caller.key);
    if (rq->cfg->ncallers)
        return caller_access(rq);
    return STAGE_CONTINUE;
}

const struct stage stage_access = { .name = "access", .run = access_run };
