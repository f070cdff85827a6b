/* secret.c -- locked, undumpable, wiped key storage (see secret.h). */
#include "secret.h"
#include "cenv.h"
#include "llmux-errno.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_MAX_FILE 16384

static void secret_fingerprint(struct secret *s)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!EVP_Digest(s->p, s->len, md, &mdlen, EVP_sha256(), NULL) ||
        mdlen < 4) {
        snprintf(s->fpr, sizeof(s->fpr), "unknown");
        return;
    }
    snprintf(s->fpr, sizeof(s->fpr), "%02x%02x%02x%02x", md[0], md[1],
             md[2], md[3]);
}

struct secret *secret_new(const char *p, size_t n)
{
    long pg = sysconf(_SC_PAGESIZE);
    struct secret *s = calloc(1, sizeof(*s));
    size_t maplen;

    if (s == NULL || pg <= 0)
        return secret_free(s);
    maplen = (n + 1 + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
    s->p = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->p == MAP_FAILED) {
        s->p = NULL;
        return secret_free(s);
    }
    s->maplen = maplen;
    /* Locking can fail under a small RLIMIT_MEMLOCK; the key must still
     * never reach a core file, which MADV_DONTDUMP guarantees. */
    (void)mlock(s->p, maplen);
    (void)madvise(s->p, maplen, MADV_DONTDUMP);
    memcpy(s->p, p, n);
    s->p[n] = '\0';
    s->len = n;
    secret_fingerprint(s);
    return s;
}

struct secret *secret_free(struct secret *s)
{
    if (s == NULL)
        return NULL;
    if (s->p) {
        explicit_bzero(s->p, s->maplen);
        munlock(s->p, s->maplen);
        munmap(s->p, s->maplen);
    }
    free(s);
    return NULL;
}

static int valid_name(const char *name)
{
    if (*name == '\0')
        return 0;
    for (const char *c = name; *c; c++)
        if (*c == '/' || (unsigned char)*c < 0x20)
            return 0;
    return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* Reads $CREDENTIALS_DIRECTORY/name into a secret. */
static int credential_read(const char *name, struct secret **ret, char *err,
                           size_t errlen)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    char path[4096], data[SECRET_MAX_FILE];
    ssize_t n, total = 0;
    int fd;

    if (dir == NULL || *dir == '\0') {
        snprintf(err, errlen, "credential/%s: $CREDENTIALS_DIRECTORY is not "
                 "set (use LoadCredential= in the unit)", name);
        return LLMUX_ENOTFOUND;
    }
    if (!valid_name(name)) {
        snprintf(err, errlen, "credential/%s: not a valid credential name",
                 name);
        return LLMUX_EBADREQ;
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;

        /* A symlink gives ELOOP: a credential is a file systemd wrote. */
        snprintf(err, errlen, "credential/%s: %s", name, e == ELOOP ?
                 "is a symbolic link (refused)" : strerror(e));
        /* Missing, like an unset variable: the deployment answers
         * EAUTH until a reload finds the key. */
        return e == ENOENT ? LLMUX_ENOTFOUND : -e;
    }
    while ((n = read(fd, data + total, sizeof(data) - (size_t)total)) > 0)
        total += n;
    close(fd);
    if (n < 0 || total == (ssize_t)sizeof(data)) {
        explicit_bzero(data, sizeof(data));
        snprintf(err, errlen, "credential/%s: %s", name,
                 n < 0 ? "read error" : "larger than 16 KiB");
        return LLMUX_EBADREQ;
    }
    if (total > 0 && data[total - 1] == '\n')
        total--;
    if (total > 0 && data[total - 1] == '\r')
        total--;
    if (total == 0) {
        snprintf(err, errlen, "credential/%s: the file is empty", name);
        return LLMUX_EBADREQ;
    }
    *ret = secret_new(data, (size_t)total);
    explicit_bzero(data, sizeof(data));
    return *ret ? 0 : -ENOMEM;
}

int secret_resolve(const char *value, struct secret **ret, char *err,
                   size_t errlen)
{
    const char *v;

    *ret = NULL;
    if (strncmp(value, "os.environ/", 11) == 0) {
        v = cenv_get(value + 11);
        if (v == NULL || *v == '\0') {
            snprintf(err, errlen, "environment variable %s is not set",
                     value + 11);
            return LLMUX_ENOTFOUND;
        }
        *ret = secret_new(v, strlen(v));
        return *ret ? 0 : -ENOMEM;
    }
    if (strncmp(value, "credential/", 11) == 0)
        return credential_read(value + 11, ret, err, errlen);
    *ret = secret_new(value, strlen(value));
    return *ret ? 0 : -ENOMEM;
}

int value_resolve(const char *value, char **ret, char *err, size_t errlen)
{
    struct secret *s;
    int r;

    *ret = NULL;
    if (strncmp(value, "os.environ/", 11) != 0 &&
        strncmp(value, "credential/", 11) != 0) {
        *ret = strdup(value);
        return *ret ? 0 : -ENOMEM;
    }
    if ((r = secret_resolve(value, &s, err, errlen)) < 0)
        return r;
    *ret = strdup(s->p);
    secret_free(s);
    return *ret ? 0 : -ENOMEM;
}

void secret_harden_process(void)
{
    struct rlimit rl = { 0, 0 };

    /* Disable ptrace and core dumps: the process holds provider keys that
     * must not leak to other processes of the same uid (ssh-agent does the
     * same). PR_SET_DUMPABLE 0 also makes /proc/<pid>/environ and mem
     * readable only by root. */
    (void)prctl(PR_SET_DUMPABLE, 0);
    (void)setrlimit(RLIMIT_CORE, &rl);
}

/* ---- keys in the environment ---------------------------------------------- */

/* The initial environment block [start, end) from /proc/self/stat
 * (fields 50 and 51, Linux >= 3.5). Strings outside it were put there by
 * setenv and never show in /proc/PID/environ. */
static int env_block(uintptr_t *start, uintptr_t *end)
{
    char buf[2048], *p, *save = NULL;
    unsigned long long v[2] = { 0, 0 };
    ssize_t n;
    int fd, field = 3;

    if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses. */
    if ((p = strrchr(buf, ')')) == NULL)
        return -EIO;
    for (p = strtok_r(p + 1, " ", &save); p; p = strtok_r(NULL, " ", &save),
         field++)
        if (field == 50 || field == 51)
            v[field - 50] = strtoull(p, NULL, 10);
    if (v[0] == 0 || v[1] <= v[0])
        return -EIO;
    *start = (uintptr_t)v[0];
    *end = (uintptr_t)v[1];
    return 0;
}

static int env_wanted(const char *s, const char *eq, const char *const *names,
                      const struct secret *const *keys, size_t nkeys)
{
    size_t nlen = (size_t)(eq - s), vlen = strlen(eq + 1);

    for (size_t i = 0; names && names[i]; i++)
        if (strlen(names[i]) == nlen && memcmp(names[i], s, nlen) == 0)
            return vlen > 0;
    for (size_t i = 0; i < nkeys; i++)
        if (keys[i] && keys[i]->len == vlen && vlen > 0 &&
            memcmp(keys[i]->p, eq + 1, vlen) == 0)
            return 1;
    return 0;
}

/* Moves one environ entry into secret memory and wipes the original. */
static int env_seal_one(struct secret_env *e, char **slot)
{
    char *s = *slot, *eq = strchr(s, '=');
    struct secret *copy;
    void *p;

    if ((p = realloc(e->copies, (e->n + 1) * sizeof(*e->copies))) == NULL)
        return -ENOMEM;
    e->copies = p;
    if ((p = realloc(e->orig, (e->n + 1) * sizeof(*e->orig))) == NULL)
        return -ENOMEM;
    e->orig = p;
    if ((copy = secret_new(s, strlen(s))) == NULL)
        return -ENOMEM;
    e->copies[e->n] = copy;
    e->orig[e->n] = s;
    e->n++;
    *slot = copy->p;
    explicit_bzero(eq + 1, strlen(eq + 1));
    return 0;
}

int secret_env_seal(struct secret_env *e, const char *const *names,
                    const struct secret *const *keys, size_t nkeys)
{
    uintptr_t start, end;
    int r, sealed = 0;

    if ((r = env_block(&start, &end)) < 0)
        return r;
    for (char **ep = environ; ep && *ep; ep++) {
        uintptr_t a = (uintptr_t)*ep;
        char *eq = strchr(*ep, '=');

        if (a < start || a >= end || eq == NULL ||
            !env_wanted(*ep, eq, names, keys, nkeys))
            continue;
        if ((r = env_seal_one(e, ep)) < 0)
            return r;
        sealed++;
    }
    return sealed;
}

void secret_env_free(struct secret_env *e)
{
    for (size_t i = 0; i < e->n; i++) {
        /* setenv may have moved environ since: find the entry by value. */
        for (char **ep = environ; ep && *ep; ep++)
            if (*ep == e->copies[i]->p) {
                *ep = e->orig[i];
                break;
            }
        secret_free(e->copies[i]);
    }
    free(e->copies);
    free(e->orig);
    memset(e, 0, sizeof(*e));
}

/* ---- wiping allocator hooks ----------------------------------------------- */

void secret_wipe_free(void *p)
{
    if (p == NULL)
        return;
    explicit_bzero(p, malloc_usable_size(p));
    free(p);
}

void *secret_wipe_realloc(void *p, size_t n)
{
    size_t have;
    void *q;

    if (p == NULL)
        return malloc(n);
    have = malloc_usable_size(p);
    if (n > 0 && n <= have)
        return p;
    /* Plain realloc would free the old block unwiped when it moves. */
    if ((q = malloc(n ? n : 1)) == NULL)
        return NULL;
    memcpy(q, p, n < have ? n : have);
    secret_wipe_free(p);
    return q;
}

/* ASCII case folding: keys are ASCII, and tolower() would follow the
 * locale. */
static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static int same_fold(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
            return 0;
    return 1;
}

size_t secret_max_len(const struct secret *const *keys, size_t nkeys)
{
    size_t m = 0;

    for (size_t i = 0; i < nkeys; i++)
        if (keys[i] && keys[i]->len > m)
            m = keys[i]->len;
    return m;
}

/* Every whole occurrence of k in s[0..n), in any case. */
static size_t mask_whole(char *s, size_t n, const struct secret *k)
{
    size_t done = 0;

    for (size_t i = 0; k->len <= n && i <= n - k->len; i++)
        if (same_fold(s + i, k->p, k->len)) {
            memset(s + i, '*', k->len);
            done += k->len;
            i += k->len - 1;
        }
    return done;
}

/* The longest tail of s[0..n) that is the start of k (but not all of it:
 * mask_whole took those), at least SECRET_MASK_MIN bytes. */
static size_t mask_tail(char *s, size_t n, const struct secret *k)
{
    size_t l = k->len - 1 < n ? k->len - 1 : n;

    for (; l >= SECRET_MASK_MIN; l--)
        if (same_fold(s + n - l, k->p, l)) {
            memset(s + n - l, '*', l);
            return l;
        }
    return 0;
}

size_t secret_mask(char *s, size_t n, const struct secret *const *keys,
                   size_t nkeys, int cut)
{
    size_t done = 0;

    for (size_t i = 0; i < nkeys; i++)
        if (keys[i] && keys[i]->len >= SECRET_MASK_MIN)
            done += mask_whole(s, n, keys[i]);
    /* Whole keys first, so a tail is only ever a key's real start. */
    for (size_t i = 0; cut && i < nkeys; i++)
        if (keys[i] && keys[i]->len > SECRET_MASK_MIN)
            done += mask_tail(s, n, keys[i]);
    return done;
}
