/* llmux_error.c -- libllmux's errors: llmux_error_t filled from a local
 * failure or from an error frame, the bounded copies into its fixed-size
 * fields (and llmux_result_t's), and the error table's printers, which
 * protocol/ (proto.c) shares with llmuxd. */
#include "llmux_internal.h"

#include <limits.h>
#include <string.h>

/* Copies n bytes of s into dst[size], truncated at a UTF-8 character
 * boundary, NUL-terminated. */
void client_copy_strn(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

void client_copy_key(char *dst, size_t size, const msgpack_object *map,
                     const char *key)
{
    const char *s;
    size_t n;

    if (map && proto_get_str(map, key, &s, &n) == 0)
        client_copy_strn(dst, size, s, n);
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

void client_err_clear(llmux_error_t *err)
{
    if (err) {
        memset(err, 0, sizeof(*err));
        err->retry_after = -1;
    }
}

/* Fills err for a failure that did not come from an error frame. */
int client_err_local(llmux_error_t *err, int code, const char *message)
{
    if (err && code < 0) {
        client_err_clear(err);
        err->code = code;
        client_copy_strn(err->type, sizeof(err->type), proto_err_type(code),
                         strlen(proto_err_type(code)));
        if (message == NULL)
            message = proto_strerror(code);
        client_copy_strn(err->message, sizeof(err->message), message,
                         strlen(message));
    }
    return code;
}

/* Fills err from the 'error' map of an error frame; returns its code. */
int client_err_from_frame(llmux_error_t *err, const msgpack_object *em)
{
    const char *type = NULL;
    size_t type_len = 0;
    int64_t code = 0;
    uint64_t status;
    double retry;

    client_err_clear(err);
    if (em)
        proto_get_str(em, "type", &type, &type_len);
    /* Trust the number when it is a plausible code, else the type name. */
    if (em == NULL || proto_get_int(em, "code", &code) < 0 || code >= 0 ||
        code < INT_MIN)
        code = type ? proto_err_from_type(type, type_len) : LLMUX_EINTERNAL;
    err->code = (int)code;
    if (type)
        client_copy_strn(err->type, sizeof(err->type), type, type_len);
    else
        client_copy_strn(err->type, sizeof(err->type),
                         proto_err_type(err->code),
                         strlen(proto_err_type(err->code)));
    if (em && proto_get_uint(em, "status", &status) == 0 && status < 1000)
        err->status = (int)status;
    else
        err->status = proto_err_status(err->code);
    client_copy_key(err->message, sizeof(err->message), em, "message");
    if (err->message[0] == '\0')
        client_copy_strn(err->message, sizeof(err->message),
                         proto_strerror(err->code),
                         strlen(proto_strerror(err->code)));
    client_copy_key(err->provider, sizeof(err->provider), em, "provider");
    client_copy_key(err->deployment, sizeof(err->deployment), em,
                    "deployment");
    if (em && get_number(em, "retry_after", &retry) == 0 && retry >= 0)
        err->retry_after = retry;
    return err->code;
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
