/* ledger.c -- the stage after the terminal event: the request's log line
 * (journal fields), its metrics sample and its spend row (queued for the
 * database, db.h: committed within a second). It runs first so that its
 * end hook sees every request, refused ones too, and last on the way
 * out, so it drops the key reference access.c took. */
#include "config.h"
#include "cost.h"
#include "db.h"
#include "keys.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "presets.h"
#include "request.h"
#include "server.h"
#include "stage.h"

#include <stdio.h>
#include <sys/time.h>

static void tokens(const struct request *rq, json_int_t *pt, json_int_t *ct)
{
    *pt = *ct = 0;
    if (rq->pc.usage == NULL)
        return;
    *pt = json_integer_value(json_object_get(rq->pc.usage,
                                             "prompt_tokens"));
    *ct = json_integer_value(json_object_get(rq->pc.usage,
                                             "completion_tokens"));
}

static double wall_now(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* One row per request that reached the pipeline, refused ones too (their
 * cost is 0): who, what, how much, when, and how it ended. */
static void spend_row(struct request *rq, const char *status, uint64_t us)
{
    const struct deployment *d = rq->dep;
    const struct vkey *v = rq->key;
    struct cost_tokens t;
    double end = wall_now();
    struct spend_row row;
    const char *m = hub_str(rq->body, "model");
    char model[SPEND_NAME_MAX + 1];

    /* A refused name may be megabytes: the ledger keeps its start. */
    snprintf(model, sizeof(model), "%s", m ? m : "");
    cost_tokens(rq->pc.usage, &t);
    row = (struct spend_row){
        .api_key = v ? (char *)v->token : NULL,
        .key_alias = v ? v->alias : NULL, .team_id = v ? v->team_id : NULL,
        .model = m ? model : NULL,
        .group = d ? d->model_name : NULL, .deployment = d ? d->id : NULL,
        .status = (char *)status, .uid = rq->caller.uid,
        .prompt = t.prompt, .completion = t.completion, .cached = t.cached,
        .cost = rq->cost, .start = end - (double)us / 1e6, .end = end };
    /* Unique across restarts: the end in microseconds, then a count. */
    snprintf(row.request_id, sizeof(row.request_id), "%llu-%llu",
             (unsigned long long)(end * 1e6),
             (unsigned long long)++rq->srv->seq);
    spend_add(&rq->srv->spend, &row);
    db_touch(&rq->srv->db);     /* on disk within DB_FLUSH_MS + a commit */
}

static void ledger_end(struct request *rq)
{
    char f_id[48], f_uid[32], f_pid[32], f_fe[48], f_model[160],
         f_group[160], f_dep[160], f_prov[64], f_status[64], f_tokens[64],
         f_lat[48], f_ovh[48], f_cost[48], f_key[160], f_cache[32];
    const char *fields[16];
    const struct deployment *d = rq->dep;
    const char *status = rq->outcome ? rq->outcome : "?";
    const char *fe = rq->caller.frontend ? rq->caller.frontend : "";
    json_int_t pt, ct;
    uint64_t total = request_now_us() - rq->t_start;
    uint64_t up = rq->t_up_end > rq->t_up_start ?
                  rq->t_up_end - rq->t_up_start : 0;
    uint64_t ovh = total > up ? total - up : 0;

    tokens(rq, &pt, &ct);
    snprintf(f_id, sizeof(f_id), "LLMUX_REQUEST=%llu",
             (unsigned long long)rq->id);
    snprintf(f_uid, sizeof(f_uid), "LLMUX_UID=%u", (unsigned)rq->caller.uid);
    snprintf(f_pid, sizeof(f_pid), "LLMUX_PID=%d", (int)rq->caller.pid);
    snprintf(f_fe, sizeof(f_fe), "LLMUX_FRONTEND=%s", fe);
    snprintf(f_model, sizeof(f_model), "LLMUX_MODEL=%s",
             hub_str(rq->body, "model") ? hub_str(rq->body, "model") : "");
    snprintf(f_group, sizeof(f_group), "LLMUX_GROUP=%s",
             d ? d->model_name : "");
    snprintf(f_dep, sizeof(f_dep), "LLMUX_DEPLOYMENT=%s", d ? d->id : "");
    snprintf(f_prov, sizeof(f_prov), "LLMUX_PROVIDER=%s",
             d ? d->preset->name : "");
    snprintf(f_status, sizeof(f_status), "LLMUX_STATUS=%s", status);
    snprintf(f_tokens, sizeof(f_tokens), "LLMUX_TOKENS=%lld+%lld",
             (long long)pt, (long long)ct);
    snprintf(f_lat, sizeof(f_lat), "LLMUX_LATENCY_US=%llu",
             (unsigned long long)total);
    snprintf(f_ovh, sizeof(f_ovh), "LLMUX_OVERHEAD_US=%llu",
             (unsigned long long)ovh);
    fields[0] = f_id; fields[1] = f_uid; fields[2] = f_pid;
    fields[3] = f_fe; fields[4] = f_model; fields[5] = f_group;
    fields[6] = f_dep; fields[7] = f_prov; fields[8] = f_status;
    fields[9] = f_tokens; fields[10] = f_lat; fields[11] = f_ovh;
    snprintf(f_cost, sizeof(f_cost), "LLMUX_COST_USD=%.8f", rq->cost);
    /* A key is named by its alias, else the last four characters. */
    snprintf(f_key, sizeof(f_key), "LLMUX_KEY=%s", rq->key ?
             (rq->key->alias ? rq->key->alias : rq->key->hint) : "");
    fields[12] = f_cost;
    fields[13] = f_key;
    fields[14] = NULL;
    if (rq->cache_status) {     /* LLMUX_CACHE=hit: no upstream, no cost */
        snprintf(f_cache, sizeof(f_cache), "LLMUX_CACHE=%s",
                 rq->cache_status);
        fields[14] = f_cache;
        fields[15] = NULL;
    }
    log_fields(LOG_INFO, "request", fields);
    metrics_record(&rq->srv->metrics, &(struct metrics_sample){
        .group = d ? d->label_group : "", .deployment = d ? d->label_id : "",
        .provider = d ? d->preset->name : "", .outcome = status,
        .frontend = fe,
        .key_alias = rq->key ? (rq->key->alias ? rq->key->alias :
                                rq->key->hint) : NULL,
        .caller = rq->key ? NULL : rq->rule ? rq->rule->label : "default",
        .prompt_tokens = pt > 0 ? (uint64_t)pt : 0,
        .completion_tokens = ct > 0 ? (uint64_t)ct : 0, .cost = rq->cost,
        .latency_us = total, .overhead_us = ovh });
    spend_row(rq, status, total);
    keys_unref(rq->key);
    rq->key = NULL;
}

const struct stage stage_ledger = { .name = "ledger", .end = ledger_end };
