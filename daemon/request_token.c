/* request_token.c -- an attempt's wait for its access token (Vertex AI,
 * gauth.h): the cached one at once, else the exchange every waiting
 * request shares, but never past the request's own deadline. The token
 * the attempt sends is the request's own copy (rq->token), so messages
 * mask it even after a refresh replaced the pool's. */
#include "request.h"
#include "container.h"
#include "deployment.h"
#include "llmux-errno.h"
#include "providers/vertex.h"
#include "secret.h"
#include "server.h"

#include <stdio.h>

/* gauth.c has the access token the attempt needs, or says why not. */
static void on_token(struct gauth_wait *w, int code,
                     const struct secret *token, const char *msg)
{
    struct request *rq = container_of(w, struct request, gwait);

    if (rq->waiting_token)
        uv_timer_stop(&rq->next_timer);    /* on_token_deadline's */
    rq->waiting_token = 0;
    /* The next call of a multi-call attempt (embed.h) asks again. */
    rq->token = secret_free(rq->token);
    if (code == 0 && (rq->token = secret_new(token->p, token->len)) == NULL) {
        code = LLMUX_EINTERNAL;
        msg = "out of memory";
    }
    rq->pc.bearer = rq->token;
    request_attempt_send(rq, code, msg);
}

/* The request's own deadline came before its token: it fails with a
 * timeout (fallbacks find the deadline past too), while the exchange goes
 * on for the requests still waiting. The loop's clock may lag: an early
 * call is re-armed for what is left. */
static void on_token_deadline(uv_timer_t *t)
{
    struct request *rq = t->data;
    uint64_t now = request_now_us();
    char msg[160];

    if (!rq->waiting_token)
        return;
    if (now < rq->deadline) {
        uv_timer_start(&rq->next_timer, on_token_deadline,
                       (rq->deadline - now + 999) / 1000, 0);
        return;
    }
    gauth_cancel(&rq->srv->gauth, &rq->gwait);
    snprintf(msg, sizeof(msg), "no access token from the Google token "
             "endpoint within the request's timeout (%.3g s)",
             (double)(rq->deadline - rq->t_start) / 1e6);
    on_token(&rq->gwait, LLMUX_ETIMEOUT, NULL, msg);
}

static void token_then_send(struct request *rq, const struct deployment *d)
{
    const struct secret *tok;
    uint64_t now = request_now_us();
    char msg[512];
    int r;

    /* A service account's access token first: at once when the cached one
     * is fresh, else after the one exchange every waiting request shares
     * (the loop runs on meanwhile), but no later than the deadline. */
    rq->gwait.cb = on_token;
    r = gauth_token(&rq->srv->gauth, d->vertex->key, &rq->gwait, &tok, msg,
                    sizeof(msg));
    rq->waiting_token = r == 1;
    if (!rq->waiting_token) {
        on_token(&rq->gwait, r, tok, msg);
        return;
    }
    uv_timer_start(&rq->next_timer, on_token_deadline,
                   rq->deadline > now ? (rq->deadline - now + 999) / 1000 :
                   0, 0);
}

void request_authorize(struct request *rq)
{
    const struct deployment *d = rq->pc.dep;

    if (d->vertex && d->vertex->key) {
        token_then_send(rq, d);
        return;
    }
    request_attempt_send(rq, 0, NULL);
}
