/* routercfg.c -- router_settings, and the router keys litellm_settings
 * shares with it (see routercfg.h): strategy, retries, cooldowns,
 * fallbacks, aliases and the per-error policies, with LiteLLM's names. */
#include "routercfg.h"
#include "cload.h"
#include "cwords.h"
#include "config.h"
#include "llmux-errno.h"
#include "yamltree.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A model-group name or a list of them -> *ret (owned strings). */
static int read_names(struct cload *l, const struct ynode *y,
                      const char *what, char ***ret, size_t *ret_n)
{
    const struct ynode *one[1] = { y };
    const struct ynode *const *items = one;
    size_t n = 1;
    char **v;
    int r;

    if (y->kind == Y_SEQ) {
        items = (const struct ynode *const *)y->kids;
        n = y->n;
    } else if (y->kind != Y_SCALAR) {
        return cload_fail(l, y, "%s must be a model group name or a list "
                          "of them", what);
    }
    if ((v = calloc(n + 1, sizeof(*v))) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < *ret_n; i++)
        free((*ret)[i]);
    free(*ret);
    *ret = v;
    *ret_n = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ynode *it = items[i];

        /* LiteLLM also takes {model: name, …} items (per-request style). */
        if (it->kind == Y_MAP && ymap_get(it, "model"))
            it = ymap_get(it, "model");
        if (it->kind != Y_SCALAR || ynode_is_null(it))
            return cload_fail(l, it, "%s: expected a model group name", what);
        if ((r = cload_str(l, it, what, &v[*ret_n])) < 0)
            return r;
        (*ret_n)++;
    }
    return 0;
}

static void fallback_list_free(struct fallback_list *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->r[i].group);
        for (size_t j = 0; j < f->r[i].nto; j++)
            free(f->r[i].to[j]);
        free(f->r[i].to);
    }
    free(f->r);
    f->r = NULL;
    f->n = 0;
}

/* LiteLLM's shape: [{group: [fallback, …]}, …]; a single map is taken as
 * well. A later setting replaces an earlier one as a whole. */
static int read_fallbacks(struct cload *l, const struct ynode *y,
                          const char *what, struct fallback_list *ret)
{
    const struct ynode *one[1] = { y };
    const struct ynode *const *maps = one;
    size_t nmaps = 1;

    fallback_list_free(ret);
    if (ynode_is_null(y))
        return 0;
    if (y->kind == Y_SEQ) {
        maps = (const struct ynode *const *)y->kids;
        nmaps = y->n;
    }
    for (size_t i = 0; i < nmaps; i++) {
        const struct ynode *m = maps[i];

        if (m->kind != Y_MAP)
            return cload_fail(l, m, "%s: each entry must map a model group to "
                        "its fallbacks, e.g. {gpt-4o: [claude]}", what);
        for (size_t k = 0; k + 1 < m->n; k += 2) {
            struct fallback_rule *rule;
            int r;

            rule = realloc(ret->r, (ret->n + 1) * sizeof(*rule));
            if (rule == NULL)
                return -ENOMEM;
            ret->r = rule;
            rule = &ret->r[ret->n++];
            memset(rule, 0, sizeof(*rule));
            if (m->kids[k]->kind != Y_SCALAR)
                return cload_fail(l, m->kids[k], "%s: expected a model group "
                            "name", what);
            if ((rule->group = strdup(m->kids[k]->s)) == NULL)
                return -ENOMEM;
            if ((r = read_names(l, m->kids[k + 1], what, &rule->to,
                                &rule->nto)) < 0)
                return r;
        }
    }
    return 0;
}

/* model_group_alias: {alias: group} or {alias: {model: group, hidden}}. */
static int read_alias(struct cload *l, const struct ynode *y)
{
    struct router_settings *rs = &l->c->router;

    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return cload_fail(l, y, "model_group_alias must map names to model "
                    "groups");
    for (size_t i = 0; i + 1 < y->n; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];
        char **from, **to;
        int r;

        if (v->kind == Y_MAP && ymap_get(v, "model"))
            v = ymap_get(v, "model");
        if (k->kind != Y_SCALAR || v->kind != Y_SCALAR)
            return cload_fail(l, v, "model_group_alias.%s must name a model "
                              "group", k->kind == Y_SCALAR ? k->s : "?");
        from = realloc(rs->alias_from, (rs->nalias + 1) * sizeof(*from));
        if (from == NULL)
            return -ENOMEM;
        rs->alias_from = from;
        to = realloc(rs->alias_to, (rs->nalias + 1) * sizeof(*to));
        if (to == NULL)
            return -ENOMEM;
        rs->alias_to = to;
        from[rs->nalias] = strdup(k->s);
        to[rs->nalias] = NULL;
        rs->nalias++;
        if (from[rs->nalias - 1] == NULL)
            return -ENOMEM;
        if ((r = cload_str(l, v, "model_group_alias", &to[rs->nalias - 1])) < 0)
            return r;
        if (to[rs->nalias - 1] == NULL)
            return cload_fail(l, v, "model_group_alias.%s is empty", k->s);
    }
    return 0;
}

/* LiteLLM's exception names, as retry_policy and allowed_fails_policy
 * spell them (the latter with "AllowedFails" for "Retries"). */
static const char *const eclass_names[ECLASS_COUNT] = {
    [ECLASS_BAD_REQUEST]    = "BadRequestError",
    [ECLASS_AUTH]           = "AuthenticationError",
    [ECLASS_TIMEOUT]        = "TimeoutError",
    [ECLASS_RATE_LIMIT]     = "RateLimitError",
    [ECLASS_CONTENT_POLICY] = "ContentPolicyViolationError",
    [ECLASS_INTERNAL]       = "InternalServerError",
};

static int read_policy(struct cload *l, const struct ynode *y,
                       const char *section, const char *suffix, int *out)
{
    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return cload_fail(l, y, "%s must be a map like {%s%s: 2}", section,
                    eclass_names[ECLASS_RATE_LIMIT], suffix);
    for (size_t i = 0; i + 1 < y->n; i += 2) {
        const struct ynode *k = y->kids[i];
        size_t c, sl = strlen(suffix);
        int r;

        for (c = 0; c < ECLASS_COUNT; c++) {
            size_t nl = strlen(eclass_names[c]);

            if (k->kind == Y_SCALAR && strncmp(k->s, eclass_names[c], nl) == 0 &&
                strcmp(k->s + nl, suffix) == 0 && strlen(k->s) == nl + sl)
                break;
        }
        if (c == ECLASS_COUNT) {
            cload_warn(l, k, "ignored: %s.%s is not supported by llmux",
                       section, k->kind == Y_SCALAR ? k->s : "?");
            continue;
        }
        if ((r = cload_count(l, y->kids[i + 1], k->s, &out[c])) < 0)
            return r;
    }
    return 0;
}

static int read_strategy(struct cload *l, const struct ynode *y)
{
    static const struct { const char *name; enum route_strategy s; } t[] = {
        { "simple-shuffle", ROUTE_SIMPLE_SHUFFLE },
        { "least-busy", ROUTE_LEAST_BUSY },
        { "latency-based-routing", ROUTE_LATENCY },
        { "usage-based-routing", ROUTE_USAGE },
        { "usage-based-routing-v2", ROUTE_USAGE },
        { "cost-based-routing", ROUTE_COST },
    };
    int r;

    if ((r = cload_scalar(l, y, "routing_strategy")) < 0)
        return r;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(y->s, t[i].name) == 0) {
            l->c->router.strategy = t[i].s;
            return 0;
        }
    cload_warn(l, y, "ignored: routing_strategy \"%s\" is not supported by "
               "llmux (using simple-shuffle)", y->s);
    l->c->router.strategy = ROUTE_SIMPLE_SHUFFLE;
    return 0;
}

static int read_strategy_args(struct cload *l, const struct ynode *y)
{
    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return cload_fail(l, y, "routing_strategy_args must be a map");
    for (size_t i = 0; i + 1 < y->n; i += 2) {
        const struct ynode *k = y->kids[i];
        int r;

        if (k->kind == Y_SCALAR && strcmp(k->s, "lowest_latency_buffer") == 0) {
            if ((r = cload_secs(l, y->kids[i + 1], k->s,
                               &l->c->router.latency_buffer)) < 0)
                return r;
        } else {
            cload_warn(l, k, "ignored: routing_strategy_args.%s is not "
                       "supported by llmux", k->kind == Y_SCALAR ? k->s : "?");
        }
    }
    return 0;
}

int routercfg_read_key(struct cload *l, const struct ynode *k,
                       const struct ynode *v, int *ret)
{
    struct router_settings *rs = &l->c->router;
    const char *n = k->s;

    if (strcmp(n, "num_retries") == 0)
        *ret = cload_count(l, v, n, &rs->num_retries);
    else if (strcmp(n, "retry_after") == 0)
        *ret = cload_secs(l, v, n, &rs->retry_after);
    else if (strcmp(n, "timeout") == 0)
        *ret = cload_secs(l, v, n, &rs->timeout);
    else if (strcmp(n, "stream_timeout") == 0)
        *ret = cload_secs(l, v, n, &rs->stream_timeout);
    else if (strcmp(n, "allowed_fails") == 0)
        *ret = cload_count(l, v, n, &rs->allowed_fails);
    else if (strcmp(n, "cooldown_time") == 0)
        *ret = cload_secs(l, v, n, &rs->cooldown_time);
    else if (strcmp(n, "disable_cooldowns") == 0)
        *ret = cload_bool(l, v, n, &rs->disable_cooldowns);
    else if (strcmp(n, "max_fallbacks") == 0)
        *ret = cload_count(l, v, n, &rs->max_fallbacks);
    else if (strcmp(n, "fallbacks") == 0)
        *ret = read_fallbacks(l, v, n, &rs->fallbacks);
    else if (strcmp(n, "context_window_fallbacks") == 0)
        *ret = read_fallbacks(l, v, n, &rs->context_fallbacks);
    else if (strcmp(n, "content_policy_fallbacks") == 0)
        *ret = read_fallbacks(l, v, n, &rs->policy_fallbacks);
    else if (strcmp(n, "default_fallbacks") == 0)
        *ret = ynode_is_null(v) ? 0 :
               read_names(l, v, n, &rs->default_fallbacks,
                          &rs->ndefault_fallbacks);
    else
        return 0;
    return 1;
}

/* What routercfg_read and routercfg_read_key read, for did-you-mean. */
static const char *const router_keys[] = {
    "routing_strategy", "routing_strategy_args", "model_group_alias",
    "retry_policy", "allowed_fails_policy", "num_retries", "timeout",
    "stream_timeout", "fallbacks", "context_window_fallbacks",
    "content_policy_fallbacks", "default_fallbacks", "allowed_fails",
    "cooldown_time", "retry_after", "max_fallbacks", "disable_cooldowns",
    "enable_pre_call_checks", "enable_tag_filtering",
    "tag_filtering_match_any", NULL,
};

int routercfg_read(struct cload *l, const struct ynode *y)
{
    struct router_settings *rs = &l->c->router;
    int r = 0;

    if (ynode_is_null(y))
        return 0;
    if (y->kind != Y_MAP)
        return cload_fail(l, y, "router_settings must be a map");
    for (size_t i = 0; i + 1 < y->n; i += 2) {
        const struct ynode *k = y->kids[i], *v = y->kids[i + 1];

        if (r < 0 && !cload_recorded(r))   /* else go on: all at once */
            return r;
        r = 0;
        if (routercfg_read_key(l, k, v, &r))
            continue;
        if (strcmp(k->s, "routing_strategy") == 0)
            r = read_strategy(l, v);
        else if (strcmp(k->s, "routing_strategy_args") == 0)
            r = read_strategy_args(l, v);
        else if (strcmp(k->s, "model_group_alias") == 0)
            r = read_alias(l, v);
        else if (strcmp(k->s, "enable_pre_call_checks") == 0 ||
                 strcmp(k->s, "enable_pre_call_check") == 0)
            r = cload_bool(l, v, k->s, &rs->pre_call_checks);
        else if (strcmp(k->s, "enable_tag_filtering") == 0)
            r = cload_bool(l, v, k->s, &rs->tag_filtering);
        else if (strcmp(k->s, "tag_filtering_match_any") == 0)
            r = cload_bool(l, v, k->s, &rs->tag_match_any);
        else if (strcmp(k->s, "retry_policy") == 0)
            r = read_policy(l, v, "retry_policy", "Retries",
                            rs->retry_policy);
        else if (strcmp(k->s, "allowed_fails_policy") == 0)
            r = read_policy(l, v, "allowed_fails_policy", "AllowedFails",
                            rs->allowed_fails_policy);
        else
            cwords_warn(l, k, CSEC_ROUTER, router_keys);
    }
    return r < 0 && cload_recorded(r) ? 0 : r;
}

void routercfg_free(struct router_settings *rs)
{
    fallback_list_free(&rs->fallbacks);
    fallback_list_free(&rs->context_fallbacks);
    fallback_list_free(&rs->policy_fallbacks);
    for (size_t i = 0; i < rs->ndefault_fallbacks; i++)
        free(rs->default_fallbacks[i]);
    free(rs->default_fallbacks);
    for (size_t i = 0; i < rs->nalias; i++) {
        free(rs->alias_from[i]);
        free(rs->alias_to[i]);
    }
    free(rs->alias_from);
    free(rs->alias_to);
}
