/* secret.h -- provider keys in memory that is locked, kept out of core
 * dumps and wiped when freed (ssh-agent's rules).
 * Owns: struct secret and where keys come from: the environment
 * ("os.environ/NAME"), systemd credentials ("credential/NAME" under
 * $CREDENTIALS_DIRECTORY) or a literal in the config. Nothing outside the
 * adapters' header builders ever reads secret->p. */
#ifndef LLMUX_SECRET_H
#define LLMUX_SECRET_H

#include <stddef.h>

struct secret {
    char  *p;         /* NUL-terminated, in its own mlock'd MADV_DONTDUMP
                       * mapping; owned, wiped and unmapped by secret_free */
    size_t len;
    size_t maplen;
    char   fpr[12];   /* short fingerprint for logs: "sha256:1a2b3c4d" */
};

/* Copies n bytes into a new secret. NULL on failure. */
struct secret *secret_new(const char *p, size_t n);
/* Wipes and frees; accepts NULL; returns NULL. */
struct secret *secret_free(struct secret *s);

/* Resolves a config value that may name a secret:
 *   "os.environ/NAME"  -> the variable NAME (LLMUX_ENOTFOUND if unset/empty)
 *   "credential/NAME"  -> $CREDENTIALS_DIRECTORY/NAME, read with O_NOFOLLOW
 *                         (a symlink is refused), one trailing newline
 *                         stripped, empty refused; LLMUX_ENOTFOUND when
 *                         the directory is unset or the file missing
 *   anything else      -> the literal value
 * On failure err (errlen bytes) says why, naming NAME but never a value. */
int secret_resolve(const char *value, struct secret **ret, char *err,
                   size_t errlen);

/* Like secret_resolve but for non-secret strings (api_base, region…):
 * returns a malloc'd copy the caller frees. */
int value_resolve(const char *value, char **ret, char *err, size_t errlen);

/* Process hardening for a daemon that holds keys: no core dumps, not
 * ptrace-able or /proc-readable by same-uid processes. */
void secret_harden_process(void);

/* Keys that came from the environment. /proc/PID/environ shows the
 * strings the process started with, to root and for as long as it runs,
 * whatever getenv copied since. Sealing wipes those original bytes and
 * points environ at a copy in secret memory instead, so getenv (and a
 * reload, which resolves os.environ/ again) still sees the value while
 * /proc/PID/environ shows "NAME=" and zeros. */
struct secret_env {
    struct secret **copies;   /* owned: "NAME=value", what environ uses */
    char          **orig;     /* the wiped originals; not owned */
    size_t          n;
};

/* Seals each variable of the initial environment whose name is in names
 * (NULL-terminated, may be NULL) or whose value equals one of
 * keys[0..nkeys) (NULL entries skipped). Returns how many were sealed, or
 * a negative code (no /proc: nothing sealed). */
int  secret_env_seal(struct secret_env *e, const char *const *names,
                     const struct secret *const *keys, size_t nkeys);
/* Points environ back at the (wiped) originals and wipes the copies. */
void secret_env_free(struct secret_env *e);

/* Masking: secrets out of text meant for people (error messages).
 * A key shorter than SECRET_MASK_MIN is never searched for (it would mask
 * ordinary words), and a cut leaves at most SECRET_MASK_MIN - 1 leading
 * bytes of a key unmasked at the end of a text: no run of
 * SECRET_MASK_MIN bytes of a key survives either rule. */
#define SECRET_MASK_MIN 4

/* Replaces with '*' every occurrence, in any letter case, of each of
 * keys[0..nkeys) (NULL entries skipped) in s[0..n). When cut is set, s is
 * the head of a longer text: its last bytes, when they are the first
 * SECRET_MASK_MIN or more bytes of a key, are masked too. Returns how many
 * bytes it masked. */
size_t secret_mask(char *s, size_t n, const struct secret *const *keys,
                   size_t nkeys, int cut);

/* The longest of keys[0..nkeys) (NULL entries skipped), 0 for none. */
size_t secret_max_len(const struct secret *const *keys, size_t nkeys);

/* free() and realloc() that wipe the whole block they give back
 * (malloc_usable_size), for libraries that copy keys into heap buffers
 * and free them unwiped: libcurl builds each request, Authorization header
 * included, in its own buffers (curl_global_init_mem). */
void  secret_wipe_free(void *p);
void *secret_wipe_realloc(void *p, size_t n);

#endif
