/* llmux.c -- libllmux's connection (llmux.h): finding the socket,
 * connecting with the hello handshake, closing, and the blocking socket I/O
 * every call runs on. Owns: one Unix socket per handle and its capped input
 * buffer. Blocking I/O with poll() for timeouts; every write is send(...,
 * MSG_NOSIGNAL), so no SIGPIPE. The rest of the library: llmux_event.c
 * (frames into events), llmux_request.c, llmux_chat.c and llmux_embed.c
 * (requests), llmux_error.c (llmux_error_t); they share llmux_internal.h. */
#include "llmux_internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_NAME       "libllmux/" LLMUX_VERSION
#define READ_CHUNK        (64u * 1024)
/* A frame as JSON: escaping and small numbers can grow msgpack about 6x. */
#define JSON_MAX          (8u * LLMUX_MAX_FRAME)
/* How long llmux_connect waits for the daemon's hello. */
#define HELLO_TIMEOUT_MS  30000

/* ---- the socket ------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A deadline for timeout_ms (-1: none). */
int64_t client_deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Marks the connection unusable: every later call returns code. */
int client_fail(llmux_client_t *c, int code)
{
    if (c->dead == 0)
        c->dead = code;
    return code;
}

/* Writes all n bytes. A signal does not cut a frame in half: EINTR is
 * retried. EPIPE/ECONNRESET mean the daemon went away. */
static int client_send(llmux_client_t *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EPIPE || errno == ECONNRESET)
                return LLMUX_ECLOSED;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Finishes the frame in e and sends it. */
int client_send_enc(llmux_client_t *c, struct proto_enc *e)
{
    int r = proto_enc_end(e);

    if (r == 0)
        r = client_send(c, e->sb.data, e->sb.size);
    return r;
}

/* Reads what the socket has into c->in, waiting until deadline (-1: no
 * limit). Returns 1 when bytes arrived, 0 on timeout, -EINTR when a signal
 * interrupted the wait, LLMUX_ECLOSED at end of file, or -errno. */
static int client_fill(llmux_client_t *c, int64_t deadline)
{
    char tmp[READ_CHUNK];
    struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
    ssize_t n;
    int r, wait;

    /* Drop the consumed frames: the partial one moves to the front. */
    if (c->in_off > 0) {
        buf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
    wait = -1;
    if (deadline >= 0) {
        int64_t left = deadline - now_ms();

        wait = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
    }
    r = poll(&pfd, 1, wait);
    if (r < 0)
        return -errno;
    if (r == 0)
        return 0;
    n = recv(c->fd, tmp, sizeof(tmp), 0);
    if (n < 0) {
        if (errno == EINTR)
            return -EINTR;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 1;   /* nothing after all: the caller loops */
        return client_fail(c, errno == ECONNRESET ? LLMUX_ECLOSED : -errno);
    }
    if (n == 0)
        return client_fail(c, LLMUX_ECLOSED);
    /* Cannot overflow: c->in holds at most one frame and a read's worth
     * beyond it, because frame lengths are checked before we read on. */
    r = buf_add(&c->in, tmp, (size_t)n);
    return r < 0 ? client_fail(c, r) : 1;
}

/* Waits for one whole frame. Returns 1 with *ret_body and *ret_len pointing
 * into c->in (valid until the next read), 0 on timeout, or a negative
 * code. The announced length is checked before its body is buffered. */
int client_read_frame(llmux_client_t *c, int64_t deadline,
                      const char **ret_body, size_t *ret_len)
{
    for (;;) {
        size_t avail = c->in.len - c->in_off, len;
        const char *p = c->in.p ? c->in.p + c->in_off : "";
        int r = proto_frame_peek(p, avail, LLMUX_MAX_FRAME, &len);

        if (r < 0)
            return client_fail(c, r);
        if (r == 1) {
            *ret_body = p + LLMUX_FRAME_HEADER;
            *ret_len = len;
            c->in_off += LLMUX_FRAME_HEADER + len;
            return 1;
        }
        r = client_fill(c, deadline);
        if (r <= 0)
            return r;
    }
}

/* ---- connecting ------------------------------------------------------- */

/* Writes the default socket path into out[size]. Returns 0 or
 * -ENAMETOOLONG. Reads the environment only; no shared state. */
static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* $LLMUX_SOCKET, else the first of llmuxd's own defaults that exists:
 * $XDG_RUNTIME_DIR/llmux.sock, /run/llmux/llmux.sock (the system service),
 * /tmp/llmux-UID/llmux.sock (llmuxd run by hand without XDG_RUNTIME_DIR);
 * when none exists, the first that applies, for the error message. */
static int socket_path(char *out, size_t size)
{
    const char *s = getenv("LLMUX_SOCKET");
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    char tmp[64];
    int n;

    snprintf(tmp, sizeof(tmp), "/tmp/llmux-%u/llmux.sock",
             (unsigned)getuid());
    if (s && s[0])
        n = snprintf(out, size, "%s", s);
    else {
        n = -1;
        if (xdg && xdg[0]) {
            n = snprintf(out, size, "%s/llmux.sock", xdg);
            if (n >= 0 && (size_t)n < size && exists(out))
                return 0;
        }
        if (exists("/run/llmux/llmux.sock"))
            n = snprintf(out, size, "/run/llmux/llmux.sock");
        else if (exists(tmp))
            n = snprintf(out, size, "%s", tmp);
        else if (!(xdg && xdg[0]))
            n = snprintf(out, size, "/run/llmux/llmux.sock");
        else
            n = snprintf(out, size, "%s/llmux.sock", xdg);
    }
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The path as llmux_connect(NULL) would compute it, in a thread-local
 * buffer (llmux.h: valid until this thread calls again). */
const char *llmux_default_socket(void)
{
    /* Thread-local, so that threads do not overwrite each other's. */
    static _Thread_local char path[PATH_MAX];

    socket_path(path, sizeof(path));
    return path;
}

/* Waits for the daemon's hello. An error frame (EVERSION, EACCES, …) gives
 * its code; anything else first is EPROTO. */
static int client_hello_wait(llmux_client_t *c)
{
    int64_t deadline = client_deadline_of(HELLO_TIMEOUT_MS);
    struct proto_frame f;
    llmux_error_t err;
    const char *body;
    uint64_t version;
    size_t len;
    int r;

    r = client_read_frame(c, deadline, &body, &len);
    if (r == 0)
        return -ETIMEDOUT;
    if (r < 0)
        return r;
    r = proto_frame_decode(&f, body, len);
    if (r == 0) {
        if (f.type == PROTO_HELLO)
            r = proto_get_uint(f.map, "version", &version) == 0 &&
                (version == LLMUX_PROTO_VERSION || version == 1) ? 0 :
                LLMUX_EVERSION;
        else if (f.type == PROTO_ERROR)
            r = client_err_from_frame(&err, client_get_map(f.map, "error"));
        else
            r = LLMUX_EPROTO;
    }
    proto_frame_free(&f);
    return r;
}

/* Connects, sends our hello and waits for the daemon's. Requests could be
 * pipelined right behind the hello (PROTOCOL.md: frames are processed in
 * order), but waiting lets a version mismatch come back from here rather
 * than from the first request. Every failure frees what it built. */
int llmux_connect(llmux_client_t **ret, const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    char def[PATH_MAX];
    struct proto_enc e;
    llmux_client_t *c;
    const char *key;
    int r;

    if (ret == NULL)
        return -EINVAL;
    *ret = NULL;
    if (path == NULL) {
        if ((r = socket_path(def, sizeof(def))) < 0)
            return r;
        path = def;
    }
    if (path[0] == '\0')
        return -EINVAL;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, strlen(path) + 1);

    if ((c = calloc(1, sizeof(*c))) == NULL)
        return -ENOMEM;
    c->next_id = 1;
    /* One frame plus one read beyond it: see client_fill. */
    buf_init(&c->in, LLMUX_FRAME_HEADER + LLMUX_MAX_FRAME + READ_CHUNK);
    buf_init(&c->json, JSON_MAX);
    buf_init(&c->text, LLMUX_MAX_FRAME);
    buf_init(&c->vecs, LLMUX_MAX_FRAME);   /* float32: 4 of a value's 5 */
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        r = -errno;
        free(c);
        return r;
    }
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        r = -errno;
        llmux_close(c);
        return r;
    }

    proto_enc_init(&e);
    /* $LLMUX_API_KEY: the virtual key this process presents (PROTOCOL.md,
     * hello); without one the daemon applies the peer's own policy. */
    key = getenv("LLMUX_API_KEY");
    if (key && *key == '\0')
        key = NULL;
    proto_enc_begin(&e, PROTO_HELLO, 0, key ? 3 : 2);
    proto_pack_kv_uint(&e.pk, "version", LLMUX_PROTO_VERSION);
    proto_pack_kv_str(&e.pk, "client", CLIENT_NAME);
    if (key)
        proto_pack_kv_str(&e.pk, "api_key", key);
    r = client_send_enc(c, &e);
    /* The frame held the key: wipe it before the buffer goes. */
    explicit_bzero(e.sb.data, e.sb.size);
    proto_enc_free(&e);
    /* A daemon that refuses us may close before reading the hello: its
     * error frame is still worth reading. */
    if (r == 0 || r == LLMUX_ECLOSED)
        r = client_hello_wait(c);
    if (r < 0) {
        llmux_close(c);
        return r;
    }
    *ret = c;
    return 0;
}

/* Closing the socket cancels every request still in flight (the daemon
 * sees the end of file). Accepts NULL. */
void llmux_close(llmux_client_t *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    buf_free(&c->in);
    buf_free(&c->json);
    buf_free(&c->text);
    buf_free(&c->vecs);
    free(c);
}

/* Readable does not always mean an event: a partial frame may have come.
 * Call llmux_next_event with timeout 0 and expect 0 now and then. */
int llmux_fd(const llmux_client_t *c)
{
    return c ? c->fd : -EINVAL;
}
