/* access.h -- who may use llmuxd, and who administers it.
 * Owns: the allow_users/allow_groups rule checked at accept (tmux's
 * server_acl_join), the admin rule (root, the daemon's uid, admin_group),
 * and the access stage's per-request policy (stage.h). */
#ifndef LLMUX_ACCESS_H
#define LLMUX_ACCESS_H

#include <jansson.h>
#include <sys/types.h>

struct caller;
struct config;

/* True when the caller's primary or a supplementary group is gid. */
int caller_in_group(const struct caller *c, gid_t gid);
/* Root, the daemon's own uid (self), or a member of admin_group. */
int access_admin(const struct config *cfg, uid_t self,
                 const struct caller *c);
/* allow_users / allow_groups: may this caller connect at all? */
int access_peer_allowed(const struct config *cfg, uid_t self,
                        const struct caller *c);

/* A model list in LiteLLM's form (names, "openai/" prefixes and "*") allows model;
 * NULL or empty allows every model. */
int access_model_allowed(const json_t *models, const char *model);

#endif
