/* access.c -- the access stage: who is calling (the caller copied from
 * the session) and whether they may (access.h). Connecting is checked
 * once at accept (conn.c calls access_peer_allowed); per request, the
 * admin flag is settled against the request's config, and this is where
 * a per-caller policy (allowed models, virtual keys) plugs in. */
#include "access.h"
#include "config.h"
#include "request.h"
#include "server.h"
#include "session.h"
#include "stage.h"

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

/* Every model is open to every caller the socket let in, for now: a
 * model permission (or a virtual key's allowed models) is refused here
 * with LLMUX_EPERMISSION. */
static enum stage_rc access_run(struct request *rq)
{
    rq->caller.admin = access_admin(rq->cfg, rq->srv->uid, &rq->caller);
    return STAGE_CONTINUE;
}

const struct stage stage_access = { .name = "access", .run = access_run };
