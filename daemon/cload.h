/* cload.h -- what the readers of config.yaml share while one file loads.
 * Owns: struct cload (the config being built, the file name, the error
 * buffer), the "file:line: what" error and warning helpers, and the
 * scalar readers every section uses (strings, numbers, booleans, keys).
 * config.c, deployment.c and routercfg.c read their sections with it. */
#ifndef LLMUX_CLOAD_H
#define LLMUX_CLOAD_H

#include <jansson.h>
#include <stddef.h>

struct config;
struct secret;
struct ynode;

/* One problem found while loading. */
struct cmsg {
    int   line;
    int   error;            /* 1: the load fails; 0: a warning */
    char *text;             /* owned: "file:line: what" */
};

struct cload {
    struct config *c;       /* being built; owned by the loader */
    const char    *file;    /* for messages */
    char          *err;     /* the caller's buffer, errlen bytes */
    size_t         errlen;
    /* Every problem of the file, errors and warnings, so one run reports
     * them all in line order (config.c sorts and hands them out). */
    struct cmsg   *msgs;    /* owned */
    size_t         nmsgs, nerrors;
    char         **missing; /* owned: variables already reported unset */
    size_t         nmissing;
    int            strict;  /* --check --strict: an unset variable is an
                             * error, not a warning */
};

/* Records the error "file:line: what" (the load fails at its end, after
 * every other problem was found too) and returns LLMUX_EBADREQ. Readers
 * go on with the next key or entry after one. */
int cload_fail(struct cload *l, const struct ynode *y, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records the warning "file:line: what" (never fatal). */
void cload_warn(struct cload *l, const struct ynode *y, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An os.environ/NAME that is not set (or set to ""), said once per NAME
 * whatever the key (api_key, api_base, model, …): a warning, an error
 * under strict. Returns 0, or LLMUX_EBADREQ under strict. */
int cload_missing(struct cload *l, const struct ynode *y, const char *what,
                  const char *value);
/* Whether r is a problem already recorded, after which a reader goes on
 * (LLMUX_EBADREQ); anything else (ENOMEM) stops the load. */
int cload_recorded(int r);
/* Frees what the loader collected (messages, reported names). */
void cload_free(struct cload *l);

/* The readers: 0, or < 0 with err set. what names the key in messages.
 * A string may be written os.environ/NAME; *ret is replaced (NULL for a
 * YAML null). */
int cload_scalar(struct cload *l, const struct ynode *y, const char *what);
int cload_str(struct cload *l, const struct ynode *y, const char *what,
              char **ret);
int cload_num(struct cload *l, const struct ynode *y, const char *what,
              double *ret);
/* A whole number in [0, 1000000]. */
int cload_count(struct cload *l, const struct ynode *y, const char *what,
                int *ret);
/* A number >= 0 (seconds, limits, prices, weights). */
int cload_secs(struct cload *l, const struct ynode *y, const char *what,
               double *ret);
int cload_bool(struct cload *l, const struct ynode *y, const char *what,
               int *ret);
/* A key (os.environ/, credential/ or a literal) into locked memory. A
 * variable that is not set is a warning, not an error: *slot stays NULL
 * and *ret_missing is set, so the caller does not warn a second time. */
int cload_secret(struct cload *l, const struct ynode *v, const char *what,
                 struct secret **slot, int *ret_missing);
/* A YAML value as JSON (numbers stay numbers); new reference. */
json_t *cload_json(const struct ynode *y);

#endif
