/* llmux.c -- libllmux: the client side of the llmux protocol (llmux.h).
 * Owns: one Unix socket per handle, its capped input buffer, the request id
 * counter, and the conversion of frames into events (JSON + text).
 * Blocking I/O with poll() for timeouts; never prints, never exits, never
 * raises SIGPIPE (every write is send(..., MSG_NOSIGNAL)). */
#include "llmux.h"
#include "proto.h"

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
/* Everything a blocking call collects for one answer (a whole stream). */
#define ANSWER_MAX        (4u * LLMUX_MAX_FRAME)
/* How long llmux_connect waits for the daemon's hello. */
#define HELLO_TIMEOUT_MS  30000

struct llmux_client_s {
    int        fd;
    int        dead;      /* 0, or the code every call returns from now on */
    uint64_t   next_id;   /* the id of the next request; starts at 1 */
    struct buf in;        /* bytes read; the unread ones start at in_off */
    size_t     in_off;
    struct buf json;      /* the last event's JSON (llmux_event_t.json) */
    struct buf text;      /* the last event's text (llmux_event_t.text) */
    struct buf vecs;      /* llmux_embed: the response's vectors, float
                           * after float, while embedding is set */
    int        embedding; /* llmux_embed is waiting: keep the vectors */
    size_t     dims;      /* … and their length (all must be equal) */
};

/* ---- small helpers ---------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A deadline for timeout_ms (-1: none). */
static int64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Copies n bytes of s into dst[size], truncated at a UTF-8 character
 * boundary, NUL-terminated. */
static void copy_strn(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void copy_key(char *dst, size_t size, const msgpack_object *map,
                     const char *key)
{
    const char *s;
    size_t n;

    if (map && proto_get_str(map, key, &s, &n) == 0)
        copy_strn(dst, size, s, n);
}

/* The map under key, or NULL when absent or not a map. */
static const msgpack_object *get_map(const msgpack_object *map,
                                     const char *key)
{
    const msgpack_object *o = map ? proto_get(map, key) : NULL;

    return o && o->type == MSGPACK_OBJECT_MAP ? o : NULL;
}

/* choices[0] of an OpenAI body, or NULL. */
static const msgpack_object *first_choice(const msgpack_object *body)
{
    const msgpack_object *o = proto_get(body, "choices");

    if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0)
        return NULL;
    o = &o->via.array.ptr[0];
    return o->type == MSGPACK_OBJECT_MAP ? o : NULL;
}

/* Any msgpack number as a double; -1 when o is not a number. */
static int get_number(const msgpack_object *map, const char *key,
                      double *ret)
{
    const msgpack_object *o = proto_get(map, key);

    if (o == NULL)
        return -1;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *ret = (double)o->via.u64; return 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *ret = (double)o->via.i64; return 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:          *ret = o->via.f64; return 0;
    default:                              return -1;
    }
}

static void err_clear(llmux_error_t *err)
{
    if (err) {
        memset(err, 0, sizeof(*err));
        err->retry_after = -1;
    }
}

/* Fills err for a failure that did not come from an error frame. */
static int err_local(llmux_error_t *err, int code, const char *message)
{
    if (err && code < 0) {
        err_clear(err);
        err->code = code;
        copy_strn(err->type, sizeof(err->type), proto_err_type(code),
                  strlen(proto_err_type(code)));
        if (message == NULL)
            message = proto_strerror(code);
        copy_strn(err->message, sizeof(err->message), message,
                  strlen(message));
    }
    return code;
}

/* Fills err from the 'error' map of an error frame; returns its code. */
static int err_from_frame(llmux_error_t *err, const msgpack_object *em)
{
    const char *type = NULL;
    size_t type_len = 0;
    int64_t code = 0;
    uint64_t status;
    double retry;

    err_clear(err);
    if (em)
        proto_get_str(em, "type", &type, &type_len);
    /* Trust the number when it is a plausible code, else the type name. */
    if (em == NULL || proto_get_int(em, "code", &code) < 0 || code >= 0 ||
        code < INT_MIN)
        code = type ? proto_err_from_type(type, type_len) : LLMUX_EINTERNAL;
    err->code = (int)code;
    if (type)
        copy_strn(err->type, sizeof(err->type), type, type_len);
    else
        copy_strn(err->type, sizeof(err->type), proto_err_type(err->code),
                  strlen(proto_err_type(err->code)));
    if (em && proto_get_uint(em, "status", &status) == 0 && status < 1000)
        err->status = (int)status;
    else
        err->status = proto_err_status(err->code);
    copy_key(err->message, sizeof(err->message), em, "message");
    if (err->message[0] == '\0')
        copy_strn(err->message, sizeof(err->message),
                  proto_strerror(err->code), strlen(proto_strerror(err->code)));
    copy_key(err->provider, sizeof(err->provider), em, "provider");
    copy_key(err->deployment, sizeof(err->deployment), em, "deployment");
    if (em && get_number(em, "retry_after", &retry) == 0 && retry >= 0)
        err->retry_after = retry;
    return err->code;
}

/* Fills r from a done frame (finish_reason is left alone). */
static void result_from_done(llmux_result_t *r, const msgpack_object *map)
{
    const msgpack_object *usage = get_map(map, "usage");
    const msgpack_object *timing = get_map(map, "timing");

    if (usage) {
        proto_get_uint(usage, "prompt_tokens", &r->prompt_tokens);
        proto_get_uint(usage, "completion_tokens", &r->completion_tokens);
        proto_get_uint(usage, "total_tokens", &r->total_tokens);
    }
    if (timing) {
        proto_get_uint(timing, "total_us", &r->total_us);
        proto_get_uint(timing, "upstream_us", &r->upstream_us);
        proto_get_uint(timing, "overhead_us", &r->overhead_us);
    }
    proto_get_uint(map, "chunks", &r->chunks);
    copy_key(r->model, sizeof(r->model), map, "model");
    copy_key(r->provider, sizeof(r->provider), map, "provider");
    copy_key(r->deployment, sizeof(r->deployment), map, "deployment");
}

/* ---- the socket ------------------------------------------------------- */

/* Marks the connection unusable: every later call returns code. */
static int client_fail(llmux_client_t *c, int code)
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
static int client_send_enc(llmux_client_t *c, struct proto_enc *e)
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
static int client_read_frame(llmux_client_t *c, int64_t deadline,
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

/* ---- events ----------------------------------------------------------- */

/* Sets ev->text to the string s (copied, so that it outlives the frame). */
static int event_text(llmux_client_t *c, llmux_event_t *ev,
                      const msgpack_object *s)
{
    int r;

    if (s == NULL || s->type != MSGPACK_OBJECT_STR)
        return 0;
    buf_reset(&c->text);
    r = buf_add(&c->text, s->via.str.ptr, s->via.str.size);
    if (r < 0)
        return r;
    ev->text = c->text.p;
    ev->text_len = c->text.len;
    return 0;
}

/* llmux_embed: the vectors of an embeddings response into c->vecs, in
 * input order (data[] is in that order); LLMUX_EPROTO for vectors of
 * different lengths or values that are not numbers. */
static int embed_vectors(llmux_client_t *c, const msgpack_object *body)
{
    const msgpack_object *data = proto_get(body, "data"), *v;
    uint32_t i, j;

    buf_reset(&c->vecs);
    c->dims = 0;
    if (data == NULL || data->type != MSGPACK_OBJECT_ARRAY)
        return LLMUX_EPROTO;
    for (i = 0; i < data->via.array.size; i++) {
        v = data->via.array.ptr[i].type == MSGPACK_OBJECT_MAP ?
            proto_get(&data->via.array.ptr[i], "embedding") : NULL;
        if (v == NULL || v->type != MSGPACK_OBJECT_ARRAY ||
            (i > 0 && v->via.array.size != c->dims))
            return LLMUX_EPROTO;
        c->dims = v->via.array.size;
        for (j = 0; j < v->via.array.size; j++) {
            const msgpack_object *x = &v->via.array.ptr[j];
            float f;

            if (x->type != MSGPACK_OBJECT_FLOAT32 &&
                x->type != MSGPACK_OBJECT_FLOAT64)
                return LLMUX_EPROTO;
            f = (float)x->via.f64;
            if (buf_add(&c->vecs, &f, sizeof(f)) < 0)
                return -ENOMEM;
        }
    }
    return 0;
}

/* Fills ev from a decoded data or terminal frame. Returns 1, 0 for a frame
 * that is not an event (skipped), or a negative code. */
static int event_fill(llmux_client_t *c, const struct proto_frame *f,
                      llmux_event_t *ev)
{
    const msgpack_object *body, *choice, *o;
    int r;

    memset(ev, 0, sizeof(*ev));
    ev->error.retry_after = -1;
    ev->id = f->id;
    buf_reset(&c->json);
    switch (f->type) {
    case PROTO_CHUNK:
    case PROTO_RESPONSE:
        body = get_map(f->map, "body");
        if (!f->has_id || body == NULL)
            return client_fail(c, LLMUX_EPROTO);
        ev->kind = f->type == PROTO_CHUNK ? LLMUX_EV_CHUNK : LLMUX_EV_RESPONSE;
        if ((r = proto_json_dump(body, &c->json)) < 0)
            return r;
        if (c->embedding && f->type == PROTO_RESPONSE &&
            (r = embed_vectors(c, body)) < 0)
            return r == LLMUX_EPROTO ? client_fail(c, r) : r;
        if ((choice = first_choice(body)) != NULL) {
            o = get_map(choice, f->type == PROTO_CHUNK ? "delta" : "message");
            if (o && (r = event_text(c, ev, proto_get(o, "content"))) < 0)
                return r;
            copy_key(ev->result.finish_reason,
                     sizeof(ev->result.finish_reason), choice,
                     "finish_reason");
        }
        break;
    case PROTO_DONE:
        if (!f->has_id)
            return client_fail(c, LLMUX_EPROTO);
        ev->kind = LLMUX_EV_DONE;
        if ((r = proto_json_dump(f->map, &c->json)) < 0)
            return r;
        result_from_done(&ev->result, f->map);
        break;
    case PROTO_ERROR:
        /* An error without id (or id 0) is about the connection. */
        ev->kind = LLMUX_EV_ERROR;
        o = get_map(f->map, "error");
        err_from_frame(&ev->error, o);
        if ((r = buf_adds(&c->json, "{\"error\":")) < 0 ||
            (o && (r = proto_json_dump(o, &c->json)) < 0) ||
            (!o && (r = buf_adds(&c->json, "{}")) < 0) ||
            (r = buf_adds(&c->json, "}")) < 0)
            return r;
        break;
    default:
        return 0;   /* hello again, unknown types: later versions' business */
    }
    ev->json = c->json.p ? c->json.p : "";
    ev->json_len = c->json.len;
    return 1;
}

/* Reads frames until an event (of request 'only', or a connection error,
 * when only is not 0; of anything otherwise) or the deadline. Returns 1
 * with *ev filled, 0 on timeout, or a negative code. */
static int client_event(llmux_client_t *c, llmux_event_t *ev,
                        int64_t deadline, uint64_t only)
{
    struct proto_frame f;
    const char *body;
    size_t len;
    int r;

    for (;;) {
        if (c->dead)
            return c->dead;
        r = client_read_frame(c, deadline, &body, &len);
        if (r <= 0)
            return r;
        r = proto_frame_decode(&f, body, len);
        if (r < 0) {
            proto_frame_free(&f);
            return client_fail(c, r);
        }
        if (only != 0 && f.id != only &&
            !(f.type == PROTO_ERROR && f.id == 0)) {
            proto_frame_free(&f);
            continue;
        }
        r = event_fill(c, &f, ev);
        proto_frame_free(&f);
        if (r != 0)
            return r;
    }
}

/* ---- requests --------------------------------------------------------- */

static uint64_t client_take_id(llmux_client_t *c)
{
    uint64_t id = c->next_id;

    c->next_id = id >= LLMUX_MAX_ID ? 1 : id + 1;
    return id;
}

/* Sends a request frame whose body is the JSON text json (NULL, empty or
 * blank: no body). Invalid JSON, or JSON that is not an object, is
 * LLMUX_EBADREQ and nothing is sent; err (may be NULL) gets why. */
static int client_submit_json(llmux_client_t *c, const char *op,
                              const char *json, size_t len, uint64_t *ret_id,
                              llmux_error_t *err)
{
    struct proto_enc e;
    char why[256] = "";
    size_t i, at;
    uint64_t id;
    int r = 0;

    if (c == NULL || op == NULL || op[0] == '\0')
        return err_local(err, -EINVAL, NULL);
    if (c->dead)
        return err_local(err, c->dead, NULL);
    for (i = 0; json && i < len; i++)
        if (json[i] != ' ' && json[i] != '\t' && json[i] != '\r' &&
            json[i] != '\n')
            break;
    if (json == NULL || i == len)
        len = 0;
    /* A cap on the input bounds what packing it may allocate (packed
     * frames are capped again by proto_enc_end). */
    if (len > 4 * (size_t)LLMUX_MAX_FRAME)
        return err_local(err, LLMUX_ETOOBIG, NULL);
    id = client_take_id(c);
    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_REQUEST, id, len ? 2 : 1);
    proto_pack_kv_str(&e.pk, "op", op);
    if (len) {
        proto_pack_str(&e.pk, "body");
        at = e.sb.size;
        r = proto_json_pack(&e.pk, json, len, why, sizeof(why));
        /* fixmap, map 16 or map 32: the body must be an object. */
        if (r == 0 && !((e.sb.data[at] & 0xf0) == 0x80 ||
                        (unsigned char)e.sb.data[at] == 0xde ||
                        (unsigned char)e.sb.data[at] == 0xdf)) {
            r = LLMUX_EBADREQ;
            snprintf(why, sizeof(why), "the body must be a JSON object");
        }
    }
    if (r == 0)
        r = client_send_enc(c, &e);
    proto_enc_free(&e);
    if (r < 0) {
        c->next_id = id;   /* nothing went out: the id is still free */
        return err_local(err, r, why[0] ? why : NULL);
    }
    *ret_id = id;
    return 0;
}

/* What every request needs before it is packed: a live client and a
 * model. 0, or the error (in err). */
static int submit_check(llmux_client_t *c, const char *model,
                        llmux_error_t *err)
{
    if (c == NULL)
        return err_local(err, -EINVAL, NULL);
    if (c->dead)
        return err_local(err, c->dead, NULL);
    if (model == NULL || model[0] == '\0')
        return err_local(err, LLMUX_EBADREQ, "no model given");
    return 0;
}

/* Sends a chat request built from opts, packed directly (no JSON). */
static int client_submit_chat(llmux_client_t *c,
                              const llmux_chat_opts_t *opts, int stream,
                              uint64_t *ret_id, llmux_error_t *err)
{
    struct proto_enc e;
    uint32_t keys = 3;   /* model, messages, stream */
    uint64_t id;
    size_t i;
    int r;

    if (opts == NULL)
        return err_local(err, -EINVAL, NULL);
    if ((r = submit_check(c, opts->model, err)) < 0)
        return r;
    if (opts->n_messages == 0 || opts->messages == NULL)
        return err_local(err, LLMUX_EBADREQ, "no messages given");
    for (i = 0; i < opts->n_messages; i++)
        if (opts->messages[i].role == NULL)
            return err_local(err, LLMUX_EBADREQ, "a message has no role");
    keys += opts->has_temperature != 0;
    keys += opts->max_tokens > 0;
    keys += opts->json_mode != 0;

    id = client_take_id(c);
    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_REQUEST, id, 2);
    proto_pack_kv_str(&e.pk, "op", "chat");
    proto_pack_str(&e.pk, "body");
    msgpack_pack_map(&e.pk, keys);
    proto_pack_kv_str(&e.pk, "model", opts->model);
    proto_pack_str(&e.pk, "messages");
    msgpack_pack_array(&e.pk, opts->n_messages);
    for (i = 0; i < opts->n_messages; i++) {
        msgpack_pack_map(&e.pk, 2);
        proto_pack_kv_str(&e.pk, "role", opts->messages[i].role);
        proto_pack_str(&e.pk, "content");
        if (opts->messages[i].content)
            proto_pack_str(&e.pk, opts->messages[i].content);
        else
            msgpack_pack_nil(&e.pk);
    }
    if (opts->has_temperature) {
        proto_pack_str(&e.pk, "temperature");
        msgpack_pack_double(&e.pk, opts->temperature);
    }
    if (opts->max_tokens > 0) {
        proto_pack_str(&e.pk, "max_tokens");
        msgpack_pack_int64(&e.pk, opts->max_tokens);
    }
    if (opts->json_mode) {
        proto_pack_str(&e.pk, "response_format");
        msgpack_pack_map(&e.pk, 1);
        proto_pack_kv_str(&e.pk, "type", "json_object");
    }
    proto_pack_str(&e.pk, "stream");
    if (stream)
        msgpack_pack_true(&e.pk);
    else
        msgpack_pack_false(&e.pk);
    r = client_send_enc(c, &e);
    proto_enc_free(&e);
    if (r < 0) {
        c->next_id = id;
        return err_local(err, r, NULL);
    }
    *ret_id = id;
    return 0;
}

static int is_terminal(const llmux_event_t *ev)
{
    return ev->kind == LLMUX_EV_DONE || ev->kind == LLMUX_EV_ERROR;
}

/* Reads request id's frames until its terminal one (or a connection
 * error), ignoring signals: used after a cancel, which the daemon answers
 * at once. Returns 0 or the connection's error. */
static int call_drain(llmux_client_t *c, uint64_t id, llmux_event_t *ev)
{
    for (;;) {
        int r = client_event(c, ev, -1, id);

        if (r == -EINTR)
            continue;
        if (r < 0)
            return r;
        if (is_terminal(ev))
            return 0;
    }
}

/* Gives up on request id with code. Unless ev (the last event read, which
 * may be the one that failed to convert) already ended it, cancels the
 * request and, if the connection still works, waits for its terminal frame
 * so that the handle is clean for the next call. */
static int call_abort(llmux_client_t *c, uint64_t id, llmux_event_t *ev,
                      int code, llmux_error_t *err)
{
    if (c->dead == 0 && !is_terminal(ev) && llmux_cancel(c, id) == 0)
        call_drain(c, id, ev);
    return err_local(err, code, NULL);
}

/* Ends a blocking call at its terminal event: fills result or err. */
static int call_end(const llmux_event_t *ev, const char *finish,
                    llmux_result_t *result, llmux_error_t *err)
{
    if (ev->kind == LLMUX_EV_ERROR) {
        if (err)
            *err = ev->error;
        return ev->error.code;
    }
    if (result) {
        *result = ev->result;
        copy_strn(result->finish_reason, sizeof(result->finish_reason),
                  finish, strlen(finish));
    }
    return 0;
}

/* ---- the public API --------------------------------------------------- */

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
    int64_t deadline = deadline_of(HELLO_TIMEOUT_MS);
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
            r = err_from_frame(&err, get_map(f.map, "error"));
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

/* A non-stream chat: one response frame, then done. The text is gathered
 * in a capped buf and handed over with buf_steal. */
int llmux_chat(llmux_client_t *c, const llmux_chat_opts_t *opts,
               char **ret_text, llmux_result_t *result, llmux_error_t *err)
{
    llmux_event_t ev = { 0 };
    char finish[sizeof(ev.result.finish_reason)] = "";
    struct buf text;
    uint64_t id;
    int r;

    if (ret_text)
        *ret_text = NULL;
    if (result)
        memset(result, 0, sizeof(*result));
    err_clear(err);
    if ((r = client_submit_chat(c, opts, 0, &id, err)) < 0)
        return r;

    buf_init(&text, ANSWER_MAX);
    for (;;) {
        r = client_event(c, &ev, -1, id);
        if (r < 0)
            break;
        if (ev.result.finish_reason[0])
            memcpy(finish, ev.result.finish_reason, sizeof(finish));
        if (is_terminal(&ev))
            break;
        /* A response replaces what came before; chunks (should the daemon
         * stream anyway) add up. */
        if (ev.kind == LLMUX_EV_RESPONSE)
            buf_reset(&text);
        if (ev.text && (r = buf_add(&text, ev.text, ev.text_len)) < 0)
            break;
    }
    if (r < 0) {
        buf_free(&text);
        return call_abort(c, id, &ev, r, err);
    }
    r = call_end(&ev, finish, result, err);
    if (r == 0 && ret_text) {
        /* NULL content (a tool call) is "". */
        *ret_text = text.p ? buf_steal(&text, NULL) : strdup("");
        if (*ret_text == NULL)
            r = err_local(err, -ENOMEM, NULL);
    }
    buf_free(&text);
    return r;
}

/* Sends an embeddings request built from opts, packed directly. */
static int client_submit_embed(llmux_client_t *c,
                               const llmux_embed_opts_t *opts,
                               uint64_t *ret_id, llmux_error_t *err)
{
    struct proto_enc e;
    uint64_t id;
    size_t i;
    int r;

    if (opts == NULL)
        return err_local(err, -EINVAL, NULL);
    if ((r = submit_check(c, opts->model, err)) < 0)
        return r;
    if (opts->n_inputs == 0 || opts->inputs == NULL)
        return err_local(err, LLMUX_EBADREQ, "no inputs given");
    for (i = 0; i < opts->n_inputs; i++)
        if (opts->inputs[i] == NULL)
            return err_local(err, LLMUX_EBADREQ, "an input is NULL");
    id = client_take_id(c);
    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_REQUEST, id, 2);
    proto_pack_kv_str(&e.pk, "op", "embeddings");
    proto_pack_str(&e.pk, "body");
    msgpack_pack_map(&e.pk, 2 + (opts->dimensions > 0));
    proto_pack_kv_str(&e.pk, "model", opts->model);
    proto_pack_str(&e.pk, "input");
    msgpack_pack_array(&e.pk, (uint32_t)opts->n_inputs);
    for (i = 0; i < opts->n_inputs; i++)
        proto_pack_str(&e.pk, opts->inputs[i]);
    if (opts->dimensions > 0) {
        proto_pack_str(&e.pk, "dimensions");
        msgpack_pack_int64(&e.pk, opts->dimensions);
    }
    r = client_send_enc(c, &e);
    proto_enc_free(&e);
    if (r < 0) {
        c->next_id = id;
        return err_local(err, r, NULL);
    }
    *ret_id = id;
    return 0;
}

int llmux_embed(llmux_client_t *c, const llmux_embed_opts_t *opts,
                float **ret_vectors, size_t *ret_dims,
                llmux_result_t *result, llmux_error_t *err)
{
    llmux_event_t ev = { 0 };
    int r, got = 0;
    uint64_t id = 0;

    if (ret_vectors)
        *ret_vectors = NULL;
    if (ret_dims)
        *ret_dims = 0;
    if (result)
        memset(result, 0, sizeof(*result));
    err_clear(err);
    if ((r = client_submit_embed(c, opts, &id, err)) < 0)
        return r;
    c->embedding = 1;
    for (;;) {
        if ((r = client_event(c, &ev, -1, id)) < 0 || is_terminal(&ev))
            break;
        got |= ev.kind == LLMUX_EV_RESPONSE;
    }
    c->embedding = 0;
    if (r < 0) {
        buf_free(&c->vecs);
        return call_abort(c, id, &ev, r, err);
    }
    r = call_end(&ev, "", result, err);
    if (r == 0 && (!got || c->dims == 0 ||
                   c->vecs.len != opts->n_inputs * c->dims * sizeof(float)))
        r = err_local(err, LLMUX_EPROTO, "the answer does not hold one "
                      "vector per input");
    if (r == 0 && ret_vectors)
        *ret_vectors = (float *)buf_steal(&c->vecs, NULL);
    if (r == 0 && ret_dims)
        *ret_dims = c->dims;
    buf_free(&c->vecs);
    return r;
}

/* A stream chat. After the callback asked to stop, frames are still read
 * (and their text dropped) until the terminal one, so that the handle is
 * clean for the next call. */
int llmux_chat_stream(llmux_client_t *c, const llmux_chat_opts_t *opts,
                      llmux_text_cb cb, void *ud,
                      llmux_result_t *result, llmux_error_t *err)
{
    llmux_event_t ev = { 0 };
    char finish[sizeof(ev.result.finish_reason)] = "";
    int r, cancelled = 0;
    uint64_t id;

    if (result)
        memset(result, 0, sizeof(*result));
    err_clear(err);
    if ((r = client_submit_chat(c, opts, 1, &id, err)) < 0)
        return r;

    for (;;) {
        r = client_event(c, &ev, -1, id);
        if (r == -EINTR && !cancelled) {
            /* A signal handler ran: let the callback look at its flags. */
            if (cb && cb(ud, "", 0) != 0) {
                cancelled = 1;
                if ((r = llmux_cancel(c, id)) < 0)
                    return err_local(err, r, NULL);
            }
            continue;
        }
        if (r == -EINTR)
            continue;
        if (r < 0)
            return call_abort(c, id, &ev, r, err);
        if (ev.result.finish_reason[0])
            memcpy(finish, ev.result.finish_reason, sizeof(finish));
        if (is_terminal(&ev))
            break;
        if (cancelled || cb == NULL || ev.text == NULL || ev.text_len == 0)
            continue;
        if (cb(ud, ev.text, ev.text_len) != 0) {
            cancelled = 1;
            if ((r = llmux_cancel(c, id)) < 0)
                return err_local(err, r, NULL);
        }
    }
    r = call_end(&ev, finish, result, err);
    if (cancelled) {
        /* Whatever the terminal frame was, the caller asked to stop. */
        if (err && r != LLMUX_ECANCELLED)
            err_local(err, LLMUX_ECANCELLED, NULL);
        return LLMUX_ECANCELLED;
    }
    return r;
}

/* Connect, llmux_chat, close: a whole session per question. err (may be
 * NULL) gets what the error frame said, or the local failure; a failed
 * connect names the socket, since that is what a person must fix. */
char *llmux_predict_err(const char *model, const char *query,
                        const char *system_prompt, llmux_error_t *err)
{
    llmux_message_t msgs[2];
    llmux_chat_opts_t opts = { 0 };
    llmux_client_t *c;
    char *text = NULL, why[sizeof(err->message)];
    size_t n = 0;
    int r;

    err_clear(err);
    if (model == NULL || query == NULL) {
        err_local(err, -EINVAL, NULL);
        return NULL;
    }
    if (system_prompt)
        msgs[n++] = (llmux_message_t){ "system", system_prompt };
    msgs[n++] = (llmux_message_t){ "user", query };
    opts.model = model;
    opts.messages = msgs;
    opts.n_messages = n;
    if ((r = llmux_connect(&c, NULL)) < 0) {
        snprintf(why, sizeof(why), "cannot connect to %s%s",
                 llmux_default_socket(), r == -ENOENT || r == -ECONNREFUSED ?
                 " (is llmuxd running?)" : "");
        err_local(err, r, why);
        return NULL;
    }
    /* llmux_chat fills err itself, from the frame or the local failure. */
    r = llmux_chat(c, &opts, &text, NULL, err);
    llmux_close(c);
    return r == 0 ? text : NULL;
}

/* The code alone: llmux_predict_err without the message. */
char *llmux_predict(const char *model, const char *query,
                    const char *system_prompt, int *ret_code)
{
    llmux_error_t err;
    char *text = llmux_predict_err(model, query, system_prompt, &err);

    if (ret_code)
        *ret_code = text ? 0 : err.code;
    return text;
}

/* Like llmux_chat, but the answer stays JSON: the events' JSON is
 * gathered as it comes (capped at ANSWER_MAX). */
int llmux_raw(llmux_client_t *c, const char *op, const char *json,
              size_t len, char **ret_json, llmux_result_t *result,
              llmux_error_t *err)
{
    llmux_event_t ev = { 0 };
    char finish[sizeof(ev.result.finish_reason)] = "";
    struct buf out;
    uint64_t id;
    int r;

    if (ret_json)
        *ret_json = NULL;
    if (result)
        memset(result, 0, sizeof(*result));
    err_clear(err);
    if ((r = client_submit_json(c, op, json, len, &id, err)) < 0)
        return r;

    buf_init(&out, ANSWER_MAX);
    for (;;) {
        r = client_event(c, &ev, -1, id);
        if (r < 0)
            break;
        if (ev.result.finish_reason[0])
            memcpy(finish, ev.result.finish_reason, sizeof(finish));
        if (ev.kind == LLMUX_EV_DONE)
            break;
        if (ev.kind == LLMUX_EV_ERROR) {
            /* The answer becomes the {"error":{…}} object alone. */
            buf_reset(&out);
            r = buf_add(&out, ev.json, ev.json_len);
            break;
        }
        /* A response is the whole answer; chunks go one per line. */
        if ((r = buf_add(&out, ev.json, ev.json_len)) < 0 ||
            (ev.kind == LLMUX_EV_CHUNK && (r = buf_add(&out, "\n", 1)) < 0))
            break;
    }
    if (r < 0) {
        buf_free(&out);
        return call_abort(c, id, &ev, r, err);
    }
    r = call_end(&ev, finish, result, err);
    if (ret_json) {
        *ret_json = out.p ? buf_steal(&out, NULL) : strdup("");
        if (*ret_json == NULL)
            r = err_local(err, -ENOMEM, NULL);
    }
    buf_free(&out);
    return r;
}

/* See client_submit_json; the event API has no llmux_error_t to say why
 * the JSON was refused (llmux_raw has). */
int llmux_submit(llmux_client_t *c, const char *op, const char *json,
                 size_t len, uint64_t *ret_id)
{
    if (ret_id == NULL)
        return -EINVAL;
    return client_submit_json(c, op, json, len, ret_id, NULL);
}

/* Fire and forget: the daemon ignores a cancel for a request that has
 * already ended, so there is no race to guard against here. */
int llmux_cancel(llmux_client_t *c, uint64_t id)
{
    struct proto_enc e;
    int r;

    if (c == NULL || id == 0)
        return -EINVAL;
    if (c->dead)
        return c->dead;
    proto_enc_init(&e);
    proto_enc_begin(&e, PROTO_CANCEL, id, 0);
    r = client_send_enc(c, &e);
    proto_enc_free(&e);
    return r;
}

/* Every event of every request, in arrival order; ev's pointers live in
 * the handle's json and text buffers until the next call. */
int llmux_next_event(llmux_client_t *c, llmux_event_t *ev, int timeout_ms)
{
    if (c == NULL || ev == NULL)
        return -EINVAL;
    return client_event(c, ev, deadline_of(timeout_ms), 0);
}

/* Readable does not always mean an event: a partial frame may have come.
 * Call llmux_next_event with timeout 0 and expect 0 now and then. */
int llmux_fd(const llmux_client_t *c)
{
    return c ? c->fd : -EINVAL;
}

/* The error table lives in protocol/ (proto.c), shared with llmuxd. */
const char *llmux_strerror(int code) { return proto_strerror(code); }
const char *llmux_err_name(int code) { return proto_err_name(code); }
const char *llmux_err_type(int code) { return proto_err_type(code); }
/* 0 is success and a -errno code (above the table's range) is 1: "other
 * errors"; proto_err_exit maps anything outside the table to EINTERNAL. */
int llmux_err_exit_code(int code)
{
    return proto_err_exit(code);
}
