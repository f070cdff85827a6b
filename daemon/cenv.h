/* cenv.h -- the environment as a configuration being loaded sees it.
 * environment_variables must apply to every os.environ/ of the same file
 * (LiteLLM sets them first), but a reload loads in a worker thread, where
 * setenv would race the loop's getenv (and curl's, which reads the proxy
 * variables on every transfer): glibc's setenv may move environ while
 * another thread walks it. So a load reads through an overlay of its
 * file's own variables, and the loop thread puts them into the process
 * environment (cenv_apply) once the configuration is in place.
 * Owns: the file's variables (struct cenv, a part of struct config) and
 * the overlay of the load running on this thread. */
#ifndef LLMUX_CENV_H
#define LLMUX_CENV_H

#include <stddef.h>

struct cenv_var {
    char *name;             /* owned */
    char *value;            /* owned, wiped on free: may be a key */
};

struct cenv {
    struct cenv_var *v;     /* owned, in file order */
    size_t           n;
};

/* Sets name (a later entry wins) in e; 0 or -ENOMEM. */
int  cenv_set(struct cenv *e, const char *name, const char *value);
/* getenv(name), except that a variable of the load running on this thread
 * (cenv_enter) wins, "" included. */
const char *cenv_get(const char *name);
/* While this thread loads a configuration, cenv_get sees e (borrowed; it
 * may still grow). Loads do not nest. */
void cenv_enter(const struct cenv *e);
void cenv_leave(void);
/* setenv for each variable whose value differs from the environment's;
 * only on the thread that owns the environment (main, then the loop),
 * with no load of ours running in a worker. 0, or -errno of a failed
 * setenv (the others are still set). */
int  cenv_apply(const struct cenv *e);
void cenv_free(struct cenv *e);

#endif
