/* fuzz-httpadmin.c -- libFuzzer target: the mapping of LiteLLM's key,
 * team and spend endpoints (daemon/http_admin.c) from path, query string
 * and body to an op and its JSON body.
 * Input: one byte for the method (even: POST, else GET), then the path up
 * to the first '\n', the query up to the next, and the body. The answer
 * must be one of three: not ours (0), mapped (1: a known op and a JSON
 * object) or refused (-1: 400 or 405 with a message). */
#include "fuzz.h"
#include "http_admin.h"

#include <http_parser.h>
#include <string.h>

static char *dup_n(const char *p, size_t n)
{
    char *c = malloc(n + 1);

    if (c == NULL)
        abort();
    memcpy(c, p, n);
    c[n] = '\0';
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_admin_call call;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    const char *nl, *q = NULL, *body;
    char *path, *query = NULL, *b, msg[300];
    size_t n;
    int r;

    if (size < 1)
        return 0;
    nl = memchr(p, '\n', (size_t)(end - p));
    n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    path = dup_n(p, n);     /* exact size, so ASan sees reads past it */
    body = nl ? nl + 1 : end;
    if (nl && (nl = memchr(body, '\n', (size_t)(end - body))) != NULL) {
        q = body;
        query = dup_n(q, (size_t)(nl - q));
        body = nl + 1;
    }
    b = dup_n(body, (size_t)(end - body));
    msg[0] = '\0';
    r = http_admin_map(data[0] % 2 ? HTTP_GET : HTTP_POST, path, n, query, b,
                       (size_t)(end - body), &call, msg, sizeof(msg));
    FUZZ_ASSERT(r == 0 || r == 1 || r == -1);
    if (r == 1) {
        FUZZ_ASSERT(call.op != NULL && json_is_object(call.body));
        FUZZ_ASSERT(strchr(call.op, '/') != NULL);
    } else {
        FUZZ_ASSERT(call.body == NULL);
        if (r < 0)
            FUZZ_ASSERT((call.status == 400 || call.status == 405) && msg[0]);
    }
    http_admin_wipe(call.body);
    free(path);
    free(query);
    free(b);
    return 0;
}
