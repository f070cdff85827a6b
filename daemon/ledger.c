/* ledger.c -- the stage after the terminal event: the request's log line
 * (journal fields), its metrics sample and its spend row (queued for the
 * database, db.h: committed within a second). It runs first so that its
 * end hook sees every request, refused ones too, and last on the way
 * out, so it drops the key reference access.c took. It runs for every
 * request, so nothing here formats with printf or allocates but the
 * spend row (spend.h keeps a free list of those). */
#include "config.h"
#include "cost.h"
#include "db.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "presets.h"
#include "request.h"
#include "server.h"
#include "stage.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/uio.h>

static double wall_now(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* One row per request that reached the pipeline, refused ones too (their
 * cost is 0): who, what, how much, when, and how it ended. Nothing is
 * formatted here: the request id is made when the batch is written. */
static void spend_row(struct request *rq, const char *model,
                      const char *status, const struct cost_tokens *t,
                      uint64_t us)
{
    const struct deployment *d = rq->dep;
    const struct vkey *v = rq->key;
    double end = wall_now();
    char cut[SPEND_NAME_MAX + 1];
    size_t n = model ? strnlen(model, SPEND_NAME_MAX + 1) : 0;

    /* A refused name may be megabytes: the ledger keeps its start. */
    if (n > SPEND_NAME_MAX) {
        memcpy(cut, model, SPEND_NAME_MAX);
        cut[SPEND_NAME_MAX] = '\0';
        model = cut;
    }
    spend_add(&rq->srv->spend, &(struct spend_row){
        .id_us = (uint64_t)(end * 1e6), .id_seq = ++rq->srv->seq,
        .api_key = v ? (char *)v->token : NULL,
        .key_alias = v ? v->alias : NULL, .team_id = v ? v->team_id : NULL,
        .model = (char *)model,
        .group = d ? d->model_name : (char *)rq->group,
        .deployment = d ? d->id : NULL,
        .status = (char *)status, .uid = rq->caller.uid,
        .prompt = t->prompt, .completion = t->completion,
        .cached = t->cached,
        .cost = rq->cost, .start = end - (double)us / 1e6, .end = end });
    db_touch(&rq->srv->db);     /* on disk within DB_FLUSH_MS + a commit */
}

/* ---- the log line ------------------------------------------------------- */

/* The request's log line, "request NAME=value NAME=value …", and each
 * field's slice of it for the journal: appended by hand, since snprintf
 * per field was most of what a request cost here. */
struct fields {
    char         line[1536];
    size_t       len;
    struct iovec f[17];
    size_t       n;
};

/* " NAME=value" (name given with its '='), cut so that NAME=value stays
 * under cap bytes, as the char[cap] fields it replaces did. */
/* Inlined so that each name's copy is a few moves of a known size. */
static inline __attribute__((always_inline)) void
field(struct fields *fs, const char *name, size_t nl, const char *v,
      size_t cap)
{
    char *p = fs->line + fs->len, *q;
    size_t room = sizeof(fs->line) - fs->len - 1 - nl, vl;

    if (fs->len + 1 + nl > sizeof(fs->line) ||
        fs->n == sizeof(fs->f) / sizeof(fs->f[0]))
        return;
    if (room > cap - 1 - nl)
        room = cap - 1 - nl;
    *p++ = ' ';
    memcpy(p, name, nl);
    q = p + nl;
    vl = strnlen(v, room);
    memcpy(q, v, vl);
    fs->f[fs->n].iov_base = p;
    fs->f[fs->n++].iov_len = nl + vl;
    fs->len += 1 + nl + vl;
}

#define FIELD(fs, name, v, cap) field(fs, name "=", sizeof(name), v, cap)

/* Writes the decimal digits of v just before p; returns where they
 * start. */
static char *digits_before(char *p, uint64_t v)
{
    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return p;
}

static inline __attribute__((always_inline)) void
field_int(struct fields *fs, const char *name, size_t nl, int64_t v)
{
    char d[24], *p = d + sizeof(d);

    *--p = '\0';
    p = digits_before(p, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
    if (v < 0)
        *--p = '-';
    field(fs, name, nl, p, 64);
}

#define FIELD_INT(fs, name, v) field_int(fs, name "=", sizeof(name), v)

/* "%.8f" of a cost without printf: fixed point below 1e10 USD. */
static void field_usd(struct fields *fs, const char *name, size_t nl,
                      double usd)
{
    char d[48], *p = d + sizeof(d);
    uint64_t u;

    if (!(usd >= 0 && usd < 1e10)) {
        snprintf(d, sizeof(d), "%.8f", usd);
        field(fs, name, nl, d, 64);
        return;
    }
    u = (uint64_t)(usd * 1e8 + 0.5);
    *--p = '\0';
    for (int i = 0; i < 8; i++, u /= 10)
        *--p = (char)('0' + u % 10);
    *--p = '.';
    field(fs, name, nl, digits_before(p, u), 64);
}

static void log_request(struct request *rq, const char *model,
                        const char *status, const char *fe,
                        const struct cost_tokens *t, uint64_t total,
                        uint64_t ovh)
{
    const struct deployment *d = rq->dep;
    struct fields fs;
    char tok[48], *p;

    memcpy(fs.line, "request", 7);
    fs.len = 7;
    fs.n = 0;
    FIELD_INT(&fs, "LLMUX_REQUEST", (int64_t)rq->id);
    FIELD_INT(&fs, "LLMUX_UID", (int64_t)rq->caller.uid);
    FIELD_INT(&fs, "LLMUX_PID", (int64_t)rq->caller.pid);
    FIELD(&fs, "LLMUX_FRONTEND", fe, 48);
    FIELD(&fs, "LLMUX_MODEL", model ? model : "", 160);
    /* A cache hit never routed: its group is the one its key named. */
    FIELD(&fs, "LLMUX_GROUP", d ? d->model_name : rq->group ? rq->group :
          "", 160);
    FIELD(&fs, "LLMUX_DEPLOYMENT", d ? d->id : "", 160);
    FIELD(&fs, "LLMUX_PROVIDER", d ? d->preset->name : "", 64);
    FIELD(&fs, "LLMUX_STATUS", status, 64);
    p = tok + sizeof(tok);      /* "prompt+completion" */
    *--p = '\0';
    p = digits_before(p, (uint64_t)t->completion);
    *--p = '+';
    FIELD(&fs, "LLMUX_TOKENS", digits_before(p, (uint64_t)t->prompt), 64);
    FIELD_INT(&fs, "LLMUX_LATENCY_US", (int64_t)total);
    FIELD_INT(&fs, "LLMUX_OVERHEAD_US", (int64_t)ovh);
    field_usd(&fs, "LLMUX_COST_USD=", sizeof("LLMUX_COST_USD"), rq->cost);
    /* A key is named by its alias, else the last four characters. */
    FIELD(&fs, "LLMUX_KEY", rq->key ? (rq->key->alias ? rq->key->alias :
                                       rq->key->hint) : "", 160);
    /* LiteLLM's call type words (supported_call_types). */
    FIELD(&fs, "LLMUX_CALL", rq->kind == REQ_EMBED ? "embedding" :
          "completion", 32);
    if (rq->cache_status)       /* LLMUX_CACHE=hit: no upstream, no cost */
        FIELD(&fs, "LLMUX_CACHE", rq->cache_status, 32);
    log_line(LOG_INFO, fs.line, fs.len, fs.f, fs.n);
}

static void ledger_end(struct request *rq)
{
    const struct deployment *d = rq->dep;
    const char *status = rq->outcome ? rq->outcome : "?";
    const char *fe = rq->caller.frontend ? rq->caller.frontend : "";
    const char *model = rq->model;
    const struct cost_tokens *t = request_tokens(rq);
    uint64_t total = request_now_us() - rq->t_start;
    uint64_t up = rq->t_up_end > rq->t_up_start ?
                  rq->t_up_end - rq->t_up_start : 0;
    uint64_t ovh = total > up ? total - up : 0;

    if (log_level() >= LOG_INFO)
        log_request(rq, model, status, fe, t, total, ovh);
    metrics_record(&rq->srv->metrics, &(struct metrics_sample){
        .group = d ? d->label_group : rq->hit_label ? rq->hit_label : "",
        .deployment = d ? d->label_id : rq->cache_hit ?
                      cache_backend(&rq->srv->cache) : "",
        .provider = d ? d->preset->name : rq->cache_hit ? "cache" : "",
        .outcome = status,
        .frontend = fe,
        .key_alias = rq->key ? (rq->key->alias ? rq->key->alias :
                                rq->key->hint) : NULL,
        .caller = rq->key ? NULL : rq->rule ? rq->rule->label : "default",
        .prompt_tokens = (uint64_t)t->prompt,
        .completion_tokens = (uint64_t)t->completion, .cost = rq->cost,
        .latency_us = total, .overhead_us = ovh });
    spend_row(rq, model, status, t, total);
    keys_unref(rq->key);
    rq->key = NULL;
}

const struct stage stage_ledger = { .name = "ledger", .end = ledger_end };
