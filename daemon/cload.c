/* cload.c -- the shared readers of config.yaml (see cload.h): scalars,
 * numbers that may be os.environ/NAME, keys into locked memory, and the
 * "file:line: what" messages. */
#include "cload.h"
#include "config.h"
#include "llmux-errno.h"
#include "secret.h"
#include "yamltree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cload_fail(struct cload *l, const struct ynode *y, const char *fmt, ...)
{
    size_t off;
    va_list ap;

    off = (size_t)snprintf(l->err, l->errlen, "%s:%d: ", l->file,
                           y ? y->line : 1);
    if (off < l->errlen) {
        va_start(ap, fmt);
        vsnprintf(l->err + off, l->errlen - off, fmt, ap);
        va_end(ap);
    }
    return LLMUX_EBADREQ;
}

void cload_warn(struct cload *l, const struct ynode *y, const char *fmt, ...)
{
    struct config *c = l->c;
    char line[512], **w;
    size_t off;
    va_list ap;

    off = (size_t)snprintf(line, sizeof(line), "%s:%d: ", l->file,
                           y ? y->line : 1);
    va_start(ap, fmt);
    vsnprintf(line + off, sizeof(line) - off, fmt, ap);
    va_end(ap);
    w = realloc(c->warnings, (c->nwarnings + 1) * sizeof(*w));
    if (w == NULL)
        return;
    c->warnings = w;
    if ((w[c->nwarnings] = strdup(line)) != NULL)
        c->nwarnings++;
}

/* ---- scalar readers ---------------------------------------------------- */

int cload_scalar(struct cload *l, const struct ynode *y,
                       const char *what)
{
    if (y->kind != Y_SCALAR)
        return cload_fail(l, y, "%s must be a %s", what, "single value");
    return 0;
}

int cload_str(struct cload *l, const struct ynode *y, const char *what,
                    char **ret)
{
    char msg[256];
    int r;

    if ((r = cload_scalar(l, y, what)) < 0)
        return r;
    free(*ret);
    *ret = NULL;
    if (ynode_is_null(y))
        return 0;
    if ((r = value_resolve(y->s, ret, msg, sizeof(msg))) < 0)
        return cload_fail(l, y, "%s: %s", what, msg);
    return 0;
}

/* A number, possibly written as os.environ/NAME (LiteLLM allows that for
 * any value). */
int cload_num(struct cload *l, const struct ynode *y, const char *what,
                    double *ret)
{
    char *end, *txt = NULL, msg[256];
    double v;
    int r;

    if ((r = cload_scalar(l, y, what)) < 0)
        return r;
    if (strncmp(y->s, "os.environ/", 11) == 0) {
        if (value_resolve(y->s, &txt, msg, sizeof(msg)) < 0)
            return cload_fail(l, y, "%s: %s", what, msg);
    }
    errno = 0;
    v = strtod(txt ? txt : y->s, &end);
    r = end == (txt ? txt : y->s) || *end != '\0' || errno || v != v;
    free(txt);
    if (r)
        return cload_fail(l, y, "%s must be a number, not \"%s\"", what, y->s);
    *ret = v;
    return 0;
}

/* A non-negative whole number. */
int cload_count(struct cload *l, const struct ynode *y,
                      const char *what, int *ret)
{
    double v;
    int r;

    if ((r = cload_num(l, y, what, &v)) < 0)
        return r;
    if (v < 0 || v > 1000000 || v != (double)(int)v)
        return cload_fail(l, y, "%s must be a whole number >= 0, not \"%s\"",
                    what, y->s);
    *ret = (int)v;
    return 0;
}

/* A number >= 0 (seconds, limits, prices, weights). */
int cload_secs(struct cload *l, const struct ynode *y,
                     const char *what, double *ret)
{
    int r;

    if ((r = cload_num(l, y, what, ret)) < 0)
        return r;
    if (*ret < 0)
        return cload_fail(l, y, "%s must be a number >= 0, not \"%s\"", what,
                    y->s);
    return 0;
}

int cload_bool(struct cload *l, const struct ynode *y, const char *what,
                     int *ret)
{
    static const char *const t[] = { "true", "True", "TRUE", "yes", "on" };
    static const char *const f[] = { "false", "False", "FALSE", "no", "off" };
    int r;

    if ((r = cload_scalar(l, y, what)) < 0)
        return r;
    for (size_t i = 0; i < 5; i++) {
        if (strcmp(y->s, t[i]) == 0) { *ret = 1; return 0; }
        if (strcmp(y->s, f[i]) == 0) { *ret = 0; return 0; }
    }
    return cload_fail(l, y, "%s must be true or false, not \"%s\"", what, y->s);
}

/* A YAML value as JSON, for params adapters read (numbers stay numbers). */
json_t *cload_json(const struct ynode *y)
{
    json_t *j;
    char *end;

    switch (y->kind) {
    case Y_SCALAR:
        if (y->plain) {
            long long i;
            double d;

            if (ynode_is_null(y))
                return json_null();
            if (!strcmp(y->s, "true") || !strcmp(y->s, "True"))
                return json_true();
            if (!strcmp(y->s, "false") || !strcmp(y->s, "False"))
                return json_false();
            errno = 0;
            i = strtoll(y->s, &end, 10);
            if (*y->s && *end == '\0' && !errno)
                return json_integer(i);
            d = strtod(y->s, &end);
            if (*y->s && *end == '\0' && !errno)
                return json_real(d);
        }
        return json_string(y->s);
    case Y_SEQ:
        j = json_array();
        for (size_t i = 0; j && i < y->n; i++)
            json_array_append_new(j, cload_json(y->kids[i]));
        return j;
    case Y_MAP:
        j = json_object();
        for (size_t i = 0; j && i + 1 < y->n; i += 2)
            if (y->kids[i]->kind == Y_SCALAR)
                json_object_set_new(j, y->kids[i]->s,
                                    cload_json(y->kids[i + 1]));
        return j;
    }
    return NULL;
}

int cload_secret(struct cload *l, const struct ynode *v, const char *what,
                 struct secret **slot, int *ret_missing)
{
    char msg[256];
    int r;

    if ((r = cload_scalar(l, v, what)) < 0)
        return r;
    if (ynode_is_null(v))
        return 0;
    if (slot == NULL)
        return LLMUX_EINTERNAL;
    *slot = secret_free(*slot);
    r = secret_resolve(v->s, slot, msg, sizeof(msg));
    if (r == LLMUX_ENOTFOUND) {
        /* The deployment answers EAUTH until a reload brings the key. */
        cload_warn(l, v, "%s: %s", what, msg);
        if (ret_missing)
            *ret_missing = 1;
        return 0;
    }
    return r < 0 ? cload_fail(l, v, "%s: %s", what, msg) : 0;
}
