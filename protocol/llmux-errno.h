/* llmux-errno.h -- the one error table of llmux (public, installed).
 * Owns: every LLMUX_E* code, its OpenAI/LiteLLM-style type name, the
 * HTTP-like status, the exit code of the llmux shell helper and a short
 * message. Functions return 0 or a negative code: an LLMUX_E* value, or a
 * system error passed through as -errno (as libuv and systemd do).
 * The numbers travel in error frames: bump LLMUX_PROTO_VERSION if any of
 * these change. */
#ifndef LLMUX_ERRNO_H
#define LLMUX_ERRNO_H

/*  XX(name,        code,  type,                      status, exit, message) */
#define LLMUX_ERRNO_MAP(XX)                                                   \
    XX(EBADREQ,     -1001, "bad_request",               400,  3, "bad request") \
    XX(EAUTH,       -1002, "authentication",            401,  4, "authentication with the provider failed") \
    XX(EPERMISSION, -1003, "permission_denied",         403,  5, "permission denied") \
    XX(ENOTFOUND,   -1004, "not_found",                 404,  6, "model or resource not found") \
    XX(ECONTEXT,    -1005, "context_window_exceeded",   400,  7, "context window exceeded") \
    XX(EPOLICY,     -1006, "content_policy",            400,  8, "blocked by content policy") \
    XX(ERATELIMIT,  -1007, "rate_limit",                429,  9, "rate limited") \
    XX(ETIMEOUT,    -1008, "timeout",                   408, 10, "timed out") \
    XX(EUNAVAIL,    -1009, "upstream_unavailable",      503, 11, "upstream unavailable") \
    XX(ECONN,       -1010, "api_connection",            502, 12, "cannot reach the upstream") \
    XX(EBUDGET,     -1011, "budget_exceeded",           400, 13, "budget exceeded") \
    XX(ECANCELLED,  -1012, "cancelled",                 499, 14, "cancelled") \
    XX(EINTERNAL,   -1013, "internal",                  500, 15, "internal error") \
    XX(EPROTO,      -1014, "bad_request",               400,  3, "malformed frame") \
    XX(EVERSION,    -1015, "bad_request",               400,  3, "protocol version mismatch") \
    XX(ETOOBIG,     -1016, "bad_request",               413,  3, "frame too large") \
    XX(ECLOSED,     -1017, "api_connection",            502, 12, "connection to llmuxd closed") \

enum llmux_errno {
#define LLMUX_ERRNO_ENUM(name, code, type, status, exit, msg) LLMUX_##name = code,
    LLMUX_ERRNO_MAP(LLMUX_ERRNO_ENUM)
#undef LLMUX_ERRNO_ENUM
};

#endif
