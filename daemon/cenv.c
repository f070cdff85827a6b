/* cenv.c -- the environment a configuration load sees (see cenv.h). */
#include "cenv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The one piece of per-thread state: which load this thread is running.
 * Readers deep in the loader (secret_resolve, a provider's settings) have
 * no loader context to carry it, and a thread runs one load at a time. */
static _Thread_local const struct cenv *loading;

static struct cenv_var *find(const struct cenv *e, const char *name)
{
    for (size_t i = e->n; i-- > 0;)
        if (strcmp(e->v[i].name, name) == 0)
            return &e->v[i];
    return NULL;
}

int cenv_set(struct cenv *e, const char *name, const char *value)
{
    struct cenv_var *v = find(e, name), *p;
    char *copy = strdup(value);

    if (copy == NULL)
        return -ENOMEM;
    if (v) {
        explicit_bzero(v->value, strlen(v->value));
        free(v->value);
        v->value = copy;
        return 0;
    }
    if ((p = realloc(e->v, (e->n + 1) * sizeof(*p))) == NULL) {
        free(copy);
        return -ENOMEM;
    }
    e->v = p;
    if ((p[e->n].name = strdup(name)) == NULL) {
        free(copy);
        return -ENOMEM;
    }
    p[e->n++].value = copy;
    return 0;
}

const char *cenv_get(const char *name)
{
    const struct cenv_var *v = loading ? find(loading, name) : NULL;

    return v ? v->value : getenv(name);
}

void cenv_enter(const struct cenv *e)
{
    loading = e;
}

void cenv_leave(void)
{
    loading = NULL;
}

int cenv_apply(const struct cenv *e)
{
    int r = 0;

    for (size_t i = 0; i < e->n; i++) {
        const char *cur = getenv(e->v[i].name);

        /* An unchanged reload writes nothing: no setenv, no race. */
        if (cur && strcmp(cur, e->v[i].value) == 0)
            continue;
        if (setenv(e->v[i].name, e->v[i].value, 1) < 0)
            r = -errno;
    }
    return r;
}

void cenv_free(struct cenv *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].name);
        explicit_bzero(e->v[i].value, strlen(e->v[i].value));
        free(e->v[i].value);
    }
    free(e->v);
    e->v = NULL;
    e->n = 0;
}
