/* cachekey.c -- the canonical request and its SHA-256 (cachekey.h). The
 * form is jansson's compact dump with sorted keys, which is the same text
 * for the same JSON whatever order the caller wrote its keys in. */
#include "cachekey.h"
#include "llmux-errno.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys that do not change the answer: how it is delivered and who asked.
 * The control keys are gone already (opts.c took them out). */
static const char *const dropped[] = { "stream", "stream_options", "user" };

char *cachekey_canonical(const json_t *body, const char *group)
{
    json_t *c = json_copy((json_t *)body);  /* shallow: only the top level
                                             * is edited */
    char *text;

    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
        json_object_del(c, dropped[i]);
    if (group && json_object_set_new(c, "model", json_string(group)) < 0) {
        json_decref(c);
        return NULL;
    }
    text = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(c);
    return text;
}

static int digest(const char *call, const char *caller, const char *text,
                  unsigned char *md)
{
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    unsigned n = 0;
    int ok;

    if (x == NULL)
        return LLMUX_EINTERNAL;
    /* NUL separators: no field can run into the next. */
    ok = EVP_DigestInit_ex(x, EVP_sha256(), NULL) &&
         EVP_DigestUpdate(x, call, strlen(call) + 1) &&
         EVP_DigestUpdate(x, caller ? caller : "", caller ?
                          strlen(caller) + 1 : 1) &&
         EVP_DigestUpdate(x, text, strlen(text)) &&
         EVP_DigestFinal_ex(x, md, &n);
    EVP_MD_CTX_free(x);
    return ok && n == 32 ? 0 : LLMUX_EINTERNAL;
}

int cachekey_make(const json_t *body, const char *group, const char *call,
                  const char *caller, const char *ns, char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[32];
    char *text = cachekey_canonical(body, group);
    size_t n;
    int r;

    if (text == NULL)
        return LLMUX_EINTERNAL;
    r = digest(call, caller, text, md);
    free(text);
    if (r < 0)
        return r;
    n = (size_t)snprintf(out, CACHEKEY_MAX, "%.128s:", ns);
    for (size_t i = 0; i < 32; i++) {
        out[n++] = hex[md[i] >> 4];
        out[n++] = hex[md[i] & 15];
    }
    out[n] = '\0';
    return 0;
}
