/* session.h -- the seam between front ends and the request pipeline.
 * Owns: struct caller (who sent a request, as the front end learned it),
 * struct session (what a front end implements: semantic events out,
 * backlog in) and the session's list of requests in flight with their
 * pause count. conn.c (msgpack socket) is the first implementation; an
 * HTTP front end would be the second, with no change to request code.
 * Request code emits meanings (chunk, completion, done, error), as Redis
 * command code calls addReply*; the front end chooses the bytes. */
#ifndef LLMUX_SESSION_H
#define LLMUX_SESSION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct request;
struct server;
struct vkey;

/* Who is calling, as the front end knows it (SO_PEERCRED for the socket;
 * later a virtual key). Copied into each request by the access stage. */
struct caller {
    uid_t        uid;
    gid_t        gid;
    pid_t        pid;          /* for logs only, never authority */
    const gid_t *groups;       /* borrowed from the session: supplementary */
    int          ngroups;
    int          admin;        /* set by access.c: root, daemon uid, group */
    const char  *frontend;     /* "socket" or "http"; static string */
    int          master;       /* presented the master key (HTTP) */
    struct vkey *key;          /* the virtual key presented (keys.h), a
                                * reference the session holds; NULL: none
                                * (the peer's own policy) */
};

/* How long a request took, microseconds. first_chunk_us and wait_us are
 * 0 when there was no chunk / no backoff wait. */
struct session_timing {
    uint64_t total_us, upstream_us, overhead_us, first_chunk_us, wait_us;
};

/* The end of a successful request. model == NULL: an op's bare done. */
struct session_done {
    const json_t          *usage;       /* borrowed; NULL: none */
    double                 cost;        /* USD (cost.h); 0 on a cache hit */
    const char            *model, *provider, *deployment; /* borrowed */
    const char            *group;       /* the model group that answered */
    const char            *upstream_headers; /* borrowed: the answer's
                                         * x-ratelimit-* lines ("name:
                                         * value\r\n"), or NULL */
    unsigned               attempts, fallbacks;
    uint64_t               chunks;
    struct session_timing  timing;
    int                    cache_hit;   /* answered from the cache: cost
                                         * 0, no upstream */
    const char            *cache_key;   /* borrowed; NULL: not cached.
                                         * HTTP's x-litellm-cache-key */
};

/* The end of a failed request. */
struct session_error {
    int         code;          /* LLMUX_E*: type and HTTP status follow
                                * from llmux-errno.h's table */
    const char *message;       /* NULL: the code's own words */
    const char *provider, *deployment;  /* NULL when none */
    double      retry_after;   /* seconds, < 0 when none */
};

struct session;

/* What a front end implements. Every request gets exactly one terminal
 * event: done (after an optional completion) or error. */
struct session_ops {
    /* One canonical chat.completion.chunk (borrowed). < 0: the session
     * cannot take it (gone, or too big to encode). */
    int  (*chunk)(struct session *s, uint64_t id, const json_t *chunk);
    /* The same chunk as JSON text in the hub format (the stream fast
     * path). < 0 with err filled when the text is not valid JSON. */
    int  (*chunk_json)(struct session *s, uint64_t id, const char *json,
                       size_t len, char *err, size_t errlen);
    /* A non-stream answer (chat.completion, or an op's body; borrowed).
     * It may be held until done, which must follow. < 0: it cannot be
     * encoded (too big); the caller then ends with error instead. */
    int  (*completion)(struct session *s, uint64_t id, const json_t *body);
    /* An embeddings answer (embed.h; borrowed), held as completion is.
     * NULL: completion takes it (HTTP writes the same JSON). */
    int  (*embedding)(struct session *s, uint64_t id, const json_t *body);
    /* Terminal. < 0: done (or the held completion) could not be encoded;
     * nothing was sent, and the caller must end with error instead. */
    int  (*done)(struct session *s, uint64_t id,
                 const struct session_done *d);
    /* Terminal; drops a completion held for this id. Always delivers
     * (shortening what does not fit) unless the session is gone. */
    void (*error)(struct session *s, uint64_t id,
                  const struct session_error *e);
    /* True while output is backlogged: streams pause their upstream
     * until the session calls session_drained. */
    int  (*backlogged)(const struct session *s);
};

/* The base every front end embeds. Only session.c and request.c edit the
 * list and the pause count. */
struct session {
    const struct session_ops *ops;
    struct server            *srv;
    struct caller             caller;
    struct request           *reqs;    /* in flight, linked by request.c */
    unsigned                  nreqs;
    unsigned                  paused;  /* requests paused for backlog */
    int                       gone;    /* front end closing: no events */
};

void session_init(struct session *s, const struct session_ops *ops,
                  struct server *srv);
/* The request in flight with this id, or NULL. */
struct request *session_find(const struct session *s, uint64_t id);
/* Output drained below the low-water mark: resumes paused requests. */
void session_drained(struct session *s);
/* Ends every request in flight with an error event (shutdown). */
void session_cancel_all(struct session *s, int code, const char *message);
/* The front end is going away: requests abort silently, no events, and
 * a reload it asked for is not answered. */
void session_close(struct session *s);

/* Entry points of the pipeline (request.c), for front ends. */
/* Starts a chat request; takes ownership of body. body_cost is what the
 * front end estimates holding body costs (budget.h); the limits stage
 * charges it to the memory budget while the request is in flight. Errors
 * are answered through the session, so this cannot fail. */
void request_start_chat(struct session *s, uint64_t id, json_t *body,
                        size_t body_cost);
/* The same for an embeddings request (OpenAI's /v1/embeddings body). */
void request_start_embed(struct session *s, uint64_t id, json_t *body,
                         size_t body_cost);
/* A non-stream answer of either kind through the session's op for it. */
static inline int session_answer(struct session *s, uint64_t id,
                                 const json_t *body, int embed)
{
    if (embed && s->ops->embedding)
        return s->ops->embedding(s, id, body);
    return s->ops->completion(s, id, body);
}
/* Answers a non-chat op (status, models, metrics, reload) (ops.c). */
void ops_handle(struct session *s, uint64_t id, const char *op,
                size_t oplen);
/* Answers the ops on keys, teams and spend ("key/generate", "team/new",
 * "spend/logs", … : LiteLLM's endpoint paths without the slash) with
 * LiteLLM's JSON bodies (keyops.c). body is borrowed; NULL is {}. */
void keyops_handle(struct session *s, uint64_t id, const char *op,
                   size_t oplen, const json_t *body);
/* True for the ops keyops_handle answers. */
int  keyops_is(const char *op, size_t oplen);
/* Ends the request with an error event (ECANCELLED for a cancel). */
void request_cancel(struct request *rq, int code, const char *message);

#endif
