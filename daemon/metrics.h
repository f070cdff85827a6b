/* metrics.h -- the numbers behind `llmux metrics` (Prometheus text format)
 * and the health part of `llmux status`.
 * Owns: one series per (group, deployment, provider) that ended a request:
 * requests, errors by type, tokens, latency and overhead histograms, and
 * the deployment's recent health. The state hangs off struct server and
 * outlives reloads, so counters never go back. Labels are names from the
 * configuration only, never a key, message content or a name a caller
 * chose: a deployment derived from a wildcard template counts under the
 * template's model_name and id (group "*", or "openai/" then "*"), one
 * made for a bare "provider/model" name under group and deployment
 * "_implicit" (DEPLOYMENT_IMPLICIT_LABEL, deployment.h) with its
 * provider. */
#ifndef LLMUX_METRICS_H
#define LLMUX_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct server;
struct metrics_series;

/* Past this many series, new label sets share one "_other" series, so
 * the output stays bounded even for a very large model_list. */
#define METRICS_MAX_SERIES 512

/* Front ends a request can come through (session.h's caller.frontend). */
#define METRICS_FRONTENDS { "socket", "http" }
#define METRICS_NFRONTENDS 2

/* The output stays well under a frame (16 MiB) even at the series cap. */
#define METRICS_MAX_TEXT (8u * 1024 * 1024)

/* Spend and tokens are counted a second time by who paid: a virtual
 * key's alias (else its "sk-...abcd" hint) or, without a key, the
 * caller's llmux_settings.callers entry (its user or group name, or
 * "default"). Names an admin chose, so bounded by the keys table and the
 * config; past this many, new ones share "_other". */
#define METRICS_MAX_WHO   1024
#define METRICS_WHO_SLOTS 2048          /* open addressing, power of two */

struct metrics_who;

struct metrics {
    struct metrics_series **series;   /* owned, in order of appearance */
    size_t                  n, cap;
    uint64_t                by_frontend[METRICS_NFRONTENDS];
    struct metrics_who    **who;      /* owned, in order of appearance */
    size_t                  nwho;
    struct metrics_who     *who_slot[METRICS_WHO_SLOTS]; /* index into who
                                       * (borrowed), by hash of the name */
};

/* One ended request, as the request log line describes it. */
struct metrics_sample {
    const char *group;         /* model_name of the deployment, "" if none */
    const char *deployment;    /* deployment id, "" if none was chosen */
    const char *provider;      /* preset name, "" if none */
    const char *frontend;      /* "socket", …; NULL: not counted */
    const char *outcome;       /* "ok", or an error type, optionally
                                * followed by "/detail" ("rate_limit/429") */
    const char *key_alias;     /* who paid: a key's alias or hint, or */
    const char *caller;        /* a keyless caller's label; NULL: neither */
    uint64_t    prompt_tokens, completion_tokens;
    double      cost;          /* USD (cost.h) */
    uint64_t    latency_us;    /* request frame to terminal frame */
    uint64_t    overhead_us;   /* latency minus the upstream transfer */
};

/* What status shows for a deployment. */
struct metrics_health {
    const char *state;               /* "ok", "failing" or "unknown" */
    uint64_t    requests, errors;
    uint64_t    consecutive_failures;/* upstream failures since the last
                                      * success */
    const char *last_error;          /* error type or NULL */
    double      last_error_age_s;    /* < 0 when none */
    double      last_ok_age_s;       /* < 0 when none */
};

void metrics_init(struct metrics *m);
void metrics_free(struct metrics *m);

/* Counts one ended request. Cheap enough for every request: a short scan
 * of the series and a few additions. */
void metrics_record(struct metrics *m, const struct metrics_sample *smp);

/* The whole exposition text, NUL-terminated; the caller frees *ret.
 * Returns 0, LLMUX_ETOOBIG when the text would pass its cap
 * (METRICS_MAX_TEXT; nothing past it is built), or -ENOMEM. */
int  metrics_render(const struct server *s, char **ret);

/* Health of one deployment; state "unknown" when it served nothing yet. */
void metrics_health(const struct metrics *m, const char *group,
                    const char *deployment, const char *provider,
                    struct metrics_health *ret);

#endif
