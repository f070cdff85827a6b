/* conn_accept.c -- a client connection's admission and limits: accept,
 * peer credentials and the allow_users/allow_groups check, its deadlines
 * (hello, frame, linger) and its charges in the memory budget for input
 * and frames being decoded (see conn.h). */
#include "conn.h"
#include "conn_internal.h"
#include "access.h"
#include "budget.h"
#include "container.h"
#include "config.h"
#include "log.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

/* ---- deadlines and the memory budget ------------------------------------ */

static void on_deadline(uv_timer_t *t)
{
    struct conn *c = container_of(t, struct conn, timer);
    double secs;
    char msg[128];

    if (c->closing && c->deadline != CONN_DL_LINGER)
        return;             /* fired between conn_close and its close */
    switch (c->deadline) {
    case CONN_DL_LINGER:
        log_info("conn %llu (pid %d uid %u): closed without waiting "
                 "longer for it to read", (unsigned long long)c->id,
                 (int)c->sess.caller.pid, (unsigned)c->sess.caller.uid);
        if (!uv_is_closing((uv_handle_t *)&c->pipe))
            uv_close((uv_handle_t *)&c->pipe, conn_closed);
        return;
    case CONN_DL_FRAME:
        secs = c->srv->cfg->frame_timeout;
        if (c->read_paused) {
            /* We stopped reading (its answers are backlogged): the rest of
             * its frame cannot arrive, so the clock starts again. */
            conn_deadline_start(c, CONN_DL_FRAME, secs);
            return;
        }
        snprintf(msg, sizeof(msg), "a frame took longer than %g s to "
                 "arrive (frame_timeout)", secs);
        break;
    case CONN_DL_HELLO:
        snprintf(msg, sizeof(msg), "no hello within %g s of connecting "
                 "(hello_timeout)", c->srv->cfg->hello_timeout);
        break;
    default:
        return;
    }
    c->deadline = CONN_DL_NONE;
    conn_fatal(c, LLMUX_ETIMEOUT, msg);
}

/* Arms the timer for d; secs <= 0 means no deadline. */
void conn_deadline_start(struct conn *c, enum conn_deadline d,
                         double secs)
{
    uv_timer_stop(&c->timer);
    c->deadline = CONN_DL_NONE;
    if (secs <= 0)
        return;
    c->deadline = d;
    if (secs > CONN_DEADLINE_MAX_S)
        secs = CONN_DEADLINE_MAX_S;     /* 1e300 s must not wrap to 0 */
    uv_timer_start(&c->timer, on_deadline, (uint64_t)(secs * 1000), 0);
}

/* After a read: charge what c->in holds, or the whole frame it is
 * receiving as soon as its header says how large (so 16 MiB frames that
 * stall half way cannot add up), and time that frame. new_frame: the
 * bytes left in c->in begin a frame that was not there before. */
void conn_input_settled(struct conn *c, int new_frame)
{
    size_t want = c->in.cap, body = 0;

    if (c->closing)
        return;
    if (c->in.len == 0 && c->in.cap > sizeof(c->srv->rbuf)) {
        buf_free(&c->in);   /* do not keep a big frame's memory */
        buf_init(&c->in, LLMUX_MAX_FRAME + LLMUX_FRAME_HEADER);
        want = 0;
    }
    if (proto_frame_peek(c->in.p, c->in.len, LLMUX_MAX_FRAME, &body) == 0 &&
        c->in.len >= LLMUX_FRAME_HEADER &&
        want < LLMUX_FRAME_HEADER + body + 1)
        want = LLMUX_FRAME_HEADER + body + 1;
    if (budget_charge(&c->srv->budget, &c->mem_in, want) < 0) {
        conn_fatal(c, LLMUX_EUNAVAIL, "llmuxd is overloaded: no memory "
                   "left for this frame (max_memory)");
        return;
    }
    if (!c->greeted)
        return;             /* hello_timeout covers the first frame */
    if (c->in.len == 0) {
        if (c->deadline == CONN_DL_FRAME)
            conn_deadline_start(c, CONN_DL_NONE, 0);
    } else if (new_frame || c->deadline != CONN_DL_FRAME) {
        conn_deadline_start(c, CONN_DL_FRAME, c->srv->cfg->frame_timeout);
    }
}

/* Before decoding a whole frame: charges what its trees will cost, from
 * the count of its values, so a frame of millions of tiny values is
 * refused before it is built. Small frames are charged their worst case
 * without counting (at most ~360 KiB: always granted).
 * Returns 0, or LLMUX_EUNAVAIL (conn closing). */
int conn_frame_admit(struct conn *c, const char *body, size_t len)
{
    uint64_t n = len;
    size_t cost;
    char msg[160];

    if (len > 4096 && proto_msgpack_count(body, len, &n) < 0)
        n = 0;              /* malformed: decoding says so, builds nothing */
    cost = budget_frame_cost(len, n);
    c->mem_frame = 0;
    c->mem_tree = budget_tree_cost(len, n);
    if (budget_charge(&c->srv->budget, &c->mem_frame, cost) == 0)
        return 0;
    snprintf(msg, sizeof(msg), "llmuxd is overloaded: this frame would "
             "need %zu MiB to decode (max_memory %g MiB)",
             cost >> 20, c->srv->cfg->max_memory);
    c->mem_frame = c->mem_tree = 0;
    conn_fatal(c, LLMUX_EUNAVAIL, msg);
    return LLMUX_EUNAVAIL;
}

/* A chat request keeps the frame's tree while in flight: that part of
 * the frame's charge is handed to the request, whose limits stage charges
 * it again (limits.c). Returns the bytes handed over. */
size_t conn_tree_handed_over(struct conn *c)
{
    size_t tree = c->mem_tree;

    budget_give(&c->srv->budget, tree);
    c->mem_frame -= tree;
    c->mem_tree = 0;
    return tree;
}

/* After a frame was handled: its decoding memory is freed. */
void conn_frame_settled(struct conn *c)
{
    budget_give(&c->srv->budget, c->mem_frame);
    c->mem_frame = c->mem_tree = 0;
}

/* ---- accept ------------------------------------------------------------- */

static void read_peer(struct conn *c)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    gid_t groups[256];
    uv_os_fd_t fd;

    struct caller *who = &c->sess.caller;

    who->uid = (uid_t)-1;
    who->gid = (gid_t)-1;
    who->frontend = "socket";
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0)
        return;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        who->uid = cred.uid;
        who->gid = cred.gid;
        who->pid = cred.pid;
    }
    len = sizeof(groups);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0 &&
        len > 0 && (c->groups = malloc(len)) != NULL) {
        memcpy(c->groups, groups, len);
        who->groups = c->groups;
        who->ngroups = (int)(len / sizeof(gid_t));
    }
}

static void conn_unaccepted(uv_handle_t *h)
{
    struct conn *c = container_of((uv_pipe_t *)h, struct conn, pipe);

    buf_free(&c->in);
    buf_free(&c->out);
    proto_enc_free(&c->enc);
    free(c);
}

int conn_accept(struct server *s)
{
    struct conn *c = calloc(1, sizeof(*c));
    int r;

    if (c == NULL)
        return -ENOMEM;
    session_init(&c->sess, &conn_session_ops, s);
    c->srv = s;
    proto_enc_init(&c->enc);
    buf_init(&c->in, LLMUX_MAX_FRAME + LLMUX_FRAME_HEADER);
    buf_init(&c->out, CONN_OUT_MAX);
    uv_pipe_init(s->loop, &c->pipe, 0);
    if ((r = uv_accept((uv_stream_t *)&s->listener,
                       (uv_stream_t *)&c->pipe)) < 0) {
        /* Not linked yet: free without telling the server. */
        uv_close((uv_handle_t *)&c->pipe, conn_unaccepted);
        return r;
    }
    uv_timer_init(s->loop, &c->timer);
    conn_deadline_start(c, CONN_DL_HELLO, s->cfg->hello_timeout);
    c->id = ++s->stats.accepted;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->stats.connections++;
    read_peer(c);
    if (!access_peer_allowed(s->cfg, s->uid, &c->sess.caller)) {
        log_warn("refused connection from pid %d uid %u gid %u: not in "
                 "allow_users/allow_groups", (int)c->sess.caller.pid,
                 (unsigned)c->sess.caller.uid, (unsigned)c->sess.caller.gid);
        conn_send_error(c, 0, LLMUX_EPERMISSION, "permission denied: this "
                        "user may not use llmuxd (allow_users, "
                        "allow_groups)");
        conn_close(c);
        return 0;
    }
    uv_read_start((uv_stream_t *)&c->pipe, conn_on_alloc, conn_on_read);
    return 0;
}
