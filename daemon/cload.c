/* cload.c -- the shared readers of config.yaml (see cload.h): scalars,
 * numbers that may be os.environ/NAME, keys into locked memory, and the
 * "file:line: what" messages. */
#include "cload.h"
#include "cenv.h"
#include "config.h"
#include "llmux-errno.h"
#include "secret.h"
#include "yaml11.h"
#include "yamltree.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void record(struct cload *l, const struct ynode *y, int error,
                   const char *fmt, va_list ap)
{
    char line[1024];
    struct cmsg *m;
    size_t off;

    off = (size_t)snprintf(line, sizeof(line), "%s:%d: ", l->file,
                           y ? y->line : 1);
    if (off < sizeof(line))
        vsnprintf(line + off, sizeof(line) - off, fmt, ap);
    if (error && l->nerrors == 0)
        snprintf(l->err, l->errlen, "%s", line);   /* if memory runs out */
    l->nerrors += error;
    m = realloc(l->msgs, (l->nmsgs + 1) * sizeof(*m));
    if (m == NULL)
        return;
    l->msgs = m;
    m[l->nmsgs].line = y ? y->line : 1;
    m[l->nmsgs].error = error;
    if ((m[l->nmsgs].text = strdup(line)) != NULL)
        l->nmsgs++;
}

int cload_fail(struct cload *l, const struct ynode *y, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    record(l, y, 1, fmt, ap);
    va_end(ap);
    return LLMUX_EBADREQ;
}

void cload_warn(struct cload *l, const struct ynode *y, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    record(l, y, 0, fmt, ap);
    va_end(ap);
}

int cload_recorded(int r)
{
    return r == LLMUX_EBADREQ;
}

int cload_missing(struct cload *l, const struct ynode *y, const char *what,
                  const char *value)
{
    const char *name = value + 11, *v = cenv_get(name);
    char **m;

    for (size_t i = 0; i < l->nmissing; i++)
        if (strcmp(l->missing[i], name) == 0)
            return l->strict ? LLMUX_EBADREQ : 0;
    if ((m = realloc(l->missing, (l->nmissing + 1) * sizeof(*m))) != NULL) {
        l->missing = m;
        if ((m[l->nmissing] = strdup(name)) != NULL)
            l->nmissing++;
    }
    if (l->strict)
        return cload_fail(l, y, "%s: environment variable %s is %s", what,
                          name, v ? "set but empty" : "not set");
    cload_warn(l, y, "%s: environment variable %s is %s (first use; the "
               "deployments that need it fail until a reload brings it)",
               what, name, v ? "set but empty" : "not set");
    return 0;
}

void cload_free(struct cload *l)
{
    for (size_t i = 0; i < l->nmsgs; i++)
        free(l->msgs[i].text);
    free(l->msgs);
    for (size_t i = 0; i < l->nmissing; i++)
        free(l->missing[i]);
    free(l->missing);
    l->msgs = NULL;
    l->missing = NULL;
    l->nmsgs = l->nmissing = l->nerrors = 0;
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
    r = value_resolve(y->s, ret, msg, sizeof(msg));
    if (r == LLMUX_ENOTFOUND && strncmp(y->s, "os.environ/", 11) == 0)
        return cload_missing(l, y, what, y->s);   /* *ret stays NULL */
    if (r < 0)
        return r == -ENOMEM ? r : cload_fail(l, y, "%s: %s", what, msg);
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
        r = value_resolve(y->s, &txt, msg, sizeof(msg));
        if (r == LLMUX_ENOTFOUND)
            return cload_missing(l, y, what, y->s);  /* *ret unchanged */
        if (r < 0)
            return r == -ENOMEM ? r : cload_fail(l, y, "%s: %s", what, msg);
    }
    if (txt == NULL) {
        struct y11val yv;

        /* As PyYAML reads it: 20_000, 0x1f, 1.5e+3 (YAML 1.1). */
        yaml11_resolve(y, &yv);
        if (yv.type == Y11_INT || yv.type == Y11_FLOAT) {
            if (yv.d != yv.d || yv.d - yv.d != 0)
                return cload_fail(l, y, "%s must be a finite number, not "
                                  "\"%s\"", what, y->s);
            *ret = yv.d;
            return 0;
        }
        if (yv.type == Y11_BOOL)
            return cload_fail(l, y, "%s must be a number, not \"%s\" (a "
                              "boolean in YAML 1.1)", what, y->s);
    }
    /* A string: LiteLLM converts "100" and "1e3" (a string to PyYAML)
     * with Python's float(). */
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
    struct y11val v;
    int r;

    if ((r = cload_scalar(l, y, what)) < 0)
        return r;
    /* The YAML 1.1 booleans (yes/No/ON/off…); a quoted "true" too, as
     * LiteLLM's settings take strings for booleans. */
    yaml11_resolve_text(y->s, &v);
    if (v.type == Y11_BOOL) {
        *ret = v.b;
        return 0;
    }
    return cload_fail(l, y, "%s must be true or false, not \"%s\"", what, y->s);
}

/* A YAML value as JSON, for params adapters read (numbers stay numbers). */
json_t *cload_json(const struct ynode *y)
{
    struct y11val v;
    json_t *j;

    switch (y->kind) {
    case Y_SCALAR:
        yaml11_resolve(y, &v);
        switch (v.type) {
        case Y11_NULL:
            return json_null();
        case Y11_BOOL:
            return json_boolean(v.b);
        case Y11_INT:
            return json_integer(v.i);
        case Y11_FLOAT:
            /* JSON has no inf or nan: those travel as written. */
            if (v.d == v.d && v.d - v.d == 0)
                return json_real(v.d);
            break;
        case Y11_STR:
            break;
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
    if (r == LLMUX_ENOTFOUND && strncmp(v->s, "os.environ/", 11) == 0) {
        /* The deployment answers EAUTH until a reload brings the key. */
        if (ret_missing)
            *ret_missing = 1;
        return cload_missing(l, v, what, v->s);
    }
    if (r == LLMUX_ENOTFOUND) {   /* credential/NAME not there */
        cload_warn(l, v, "%s: %s", what, msg);
        if (ret_missing)
            *ret_missing = 1;
        return 0;
    }
    return r < 0 ? cload_fail(l, v, "%s: %s", what, msg) : 0;
}
