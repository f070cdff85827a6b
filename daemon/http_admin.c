/* http_admin.c -- LiteLLM's key, team and spend endpoints mapped onto the
 * admin ops of keyops.c (see http_admin.h). POST endpoints take their
 * JSON body as the op's body; GET endpoints take their query string,
 * decoded into a JSON object (a few parameters typed as LiteLLM types
 * them); /key/{key}/regenerate takes the key from the path. */
#include "http_admin.h"
#include "hexdigit.h"

#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct route {
    const char *path;     /* LiteLLM's path */
    int         post;     /* POST with a JSON body; else GET with a query */
    const char *op;       /* keyops' op */
    int         unwrap;   /* LiteLLM answers a bare list */
};

static const struct route routes[] = {
    { "/key/generate",   1, "key/generate",   0 },
    { "/key/update",     1, "key/update",     0 },
    { "/key/delete",     1, "key/delete",     0 },
    { "/key/block",      1, "key/block",      0 },
    { "/key/unblock",    1, "key/unblock",    0 },
    { "/key/regenerate", 1, "key/regenerate", 0 },
    { "/key/info",       0, "key/info",       0 },
    { "/key/list",       0, "key/list",       0 },
    { "/team/new",       1, "team/new",       0 },
    { "/team/delete",    1, "team/delete",    0 },
    { "/team/info",      0, "team/info",      0 },
    { "/team/list",      0, "team/list",      1 },
    { "/spend/logs",     0, "spend/logs",     1 },
};

/* Query parameters LiteLLM reads as numbers or booleans; the rest are
 * strings. */
static const char *const int_params[] = { "page", "size", "limit", NULL };
static const char *const bool_params[] = { "return_full_object", "summarize",
                                           NULL };

static int refuse(struct http_admin_call *call, int status, char *msg,
                  size_t msglen, const char *text)
{
    call->status = status;
    snprintf(msg, msglen, "%s", text);
    return -1;
}

static int listed(const char *const *names, const char *name)
{
    for (; *names; names++)
        if (strcmp(*names, name) == 0)
            return 1;
    return 0;
}

/* Percent-decodes p[0..n) into ret (n + 1 bytes; never longer than its
 * source); plus is a space when plus_space. -1 on a bad escape or a NUL. */
static int pct_decode(const char *p, size_t n, int plus_space, char *ret)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int hi, lo;

        if (p[i] == '%') {
            if (i + 2 >= n ||
                (hi = hex_digit((unsigned char)p[i + 1])) < 0 ||
                (lo = hex_digit((unsigned char)p[i + 2])) < 0 ||
                (hi == 0 && lo == 0))
                return -1;
            ret[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else
            ret[o++] = plus_space && p[i] == '+' ? ' ' : p[i];
    }
    ret[o] = '\0';
    return 0;
}

/* One "name=value" pair into obj, typed. 0, or -1 with msg. */
static int add_param(json_t *obj, const char *name, const char *value,
                     char *msg, size_t msglen)
{
    json_t *v;

    if (listed(int_params, name)) {
        char *end;
        long n = strtol(value, &end, 10);

        if (value[0] < '0' || value[0] > '9' || *end != '\0' ||
            n > 1000000000L) {
            snprintf(msg, msglen, "query parameter '%.40s' must be a "
                     "whole number", name);
            return -1;
        }
        v = json_integer(n);
    } else if (listed(bool_params, name)) {
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            snprintf(msg, msglen, "query parameter '%.40s' must be true "
                     "or false", name);
            return -1;
        }
        v = json_boolean(value[0] == 't');
    } else if ((v = json_string(value)) == NULL) {
        snprintf(msg, msglen, "query parameter '%.40s' is not UTF-8 text",
                 name);
        return -1;
    }
    if (json_object_set_new(obj, name, v) < 0) {
        snprintf(msg, msglen, "query parameter names must be UTF-8 text");
        return -1;
    }
    return 0;
}

/* "a=1&b=x%20y" -> {"a": 1, "b": "x y"}; NULL with msg when malformed.
 * A parameter without '=' has the empty value; empty pieces are skipped. */
static json_t *query_object(const char *q, char *msg, size_t msglen)
{
    json_t *obj = json_object();
    size_t len = q ? strcspn(q, "#") : 0, nparams = 0;
    char *name = malloc(len + 1), *value = malloc(len + 1);
    const char *p = q, *end = q ? q + len : NULL;

    if (obj == NULL || name == NULL || value == NULL) {
        snprintf(msg, msglen, "out of memory");
        goto bad;
    }
    while (p && p < end) {
        size_t n = strcspn(p, "&#"), k;

        if (n > (size_t)(end - p))
            n = (size_t)(end - p);
        if (n == 0) {
            p++;
            continue;
        }
        if (++nparams > HTTP_ADMIN_MAX_PARAMS) {
            snprintf(msg, msglen, "more than %d query parameters",
                     HTTP_ADMIN_MAX_PARAMS);
            goto bad;
        }
        k = strcspn(p, "=&#");
        if (k > n)
            k = n;
        if (pct_decode(p, k, 1, name) < 0 ||
            pct_decode(p + k + (k < n), n - k - (k < n), 1, value) < 0) {
            snprintf(msg, msglen, "the query string has a bad %%-escape");
            goto bad;
        }
        if (add_param(obj, name, value, msg, msglen) < 0)
            goto bad;
        p += n + (p + n < end);
    }
    free(name);
    free(value);
    return obj;
bad:
    free(name);
    free(value);
    http_admin_wipe(obj);
    return NULL;
}

/* The body of a POST: a JSON object, or {} for an empty body. */
static json_t *body_object(const char *body, size_t len, char *msg,
                           size_t msglen)
{
    json_error_t jerr;
    json_t *j;

    if (len == 0)
        return json_object();
    j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        snprintf(msg, msglen, "the body is not valid JSON: %s (line %d, "
                 "column %d)", jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        snprintf(msg, msglen, "the body must be a JSON object");
        http_admin_wipe(j);
        return NULL;
    }
    return j;
}

/* "/key/{key}/regenerate": the key, decoded, into body's "key". 1 when
 * the path has that form. */
static int path_key(const char *path, size_t n, char **ret_key)
{
    static const char pre[] = "/key/", post[] = "/regenerate";
    size_t kl;

    *ret_key = NULL;
    if (n <= sizeof(pre) - 1 + sizeof(post) - 1 ||
        memcmp(path, pre, sizeof(pre) - 1) != 0 ||
        memcmp(path + n - (sizeof(post) - 1), post, sizeof(post) - 1) != 0)
        return 0;
    kl = n - (sizeof(pre) - 1) - (sizeof(post) - 1);
    if (memchr(path + sizeof(pre) - 1, '/', kl))
        return 0;
    if ((*ret_key = malloc(kl + 1)) != NULL &&
        pct_decode(path + sizeof(pre) - 1, kl, 0, *ret_key) < 0) {
        explicit_bzero(*ret_key, kl + 1);
        free(*ret_key);
        *ret_key = NULL;
    }
    return 1;
}

static const struct route *find_route(const char *path, size_t n)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strlen(routes[i].path) == n &&
            memcmp(routes[i].path, path, n) == 0)
            return &routes[i];
    return NULL;
}

static const struct route regenerate_route = {
    "/key/regenerate", 1, "key/regenerate", 0
};

int http_admin_map(int method, const char *path, size_t n,
                   const char *query, const char *body, size_t bodylen,
                   struct http_admin_call *call, char *msg, size_t msglen)
{
    const struct route *r = find_route(path, n);
    char *key = NULL;
    int keyed = 0;

    memset(call, 0, sizeof(*call));
    if (r == NULL) {
        if (!(keyed = path_key(path, n, &key)))
            return 0;
        if (key == NULL)
            return refuse(call, 400, msg, msglen, "the key in the path "
                          "has a bad %-escape");
        r = &regenerate_route;
    }
    call->op = r->op;
    call->unwrap = r->unwrap;
    if (r->post ? method != HTTP_POST :
        method != HTTP_GET && method != HTTP_HEAD) {
        free(key);
        return refuse(call, 405, msg, msglen, r->post ? "method not "
                      "allowed: use POST" : "method not allowed: use GET");
    }
    call->body = r->post ? body_object(body, bodylen, msg, msglen) :
                 query_object(query, msg, msglen);
    if (call->body == NULL) {
        free(key);
        call->status = 400;
        return -1;
    }
    if (keyed) {
        json_t *k = json_string(key);

        explicit_bzero(key, strlen(key));
        free(key);
        if (k == NULL || json_object_set_new(call->body, "key", k) < 0) {
            http_admin_wipe(call->body);
            call->body = NULL;
            return refuse(call, 400, msg, msglen, "the key in the path "
                          "is not UTF-8 text");
        }
    }
    return 1;
}

/* Depth-first; jansson's parser bounds the depth (2048). */
static void wipe_strings(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_string(j))
        explicit_bzero((char *)json_string_value(j), json_string_length(j));
    else if (json_is_object(j)) {
        json_object_foreach(j, k, v)
            wipe_strings(v);
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
            wipe_strings(v);
    }
}

void http_admin_wipe(json_t *j)
{
    if (j == NULL)
        return;
    if (j->refcount == 1)
        wipe_strings(j);
    json_decref(j);
}
