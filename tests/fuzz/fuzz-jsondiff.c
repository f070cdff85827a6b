/* fuzz-jsondiff.c -- libFuzzer target: the daemon's one JSON rule. The
 * input is JSON text, read the two ways llmuxd reads upstream JSON: the
 * stream fast path (proto_json_pack, protocol/json_pack.c) and the tree path
 * (jansson's json_loadb with JSON_REJECT_DUPLICATES, nesting up to
 * LLMUX_MAX_DEPTH as providers/common.c checks it, then hub_pack). Both
 * must accept or both refuse, and when both accept they must produce the
 * same msgpack bytes. jansson reads a NUL byte oddly (it takes "[1\0]"),
 * so the tree path refuses any text holding one, as RFC 8259 does and
 * the fast path always did. JSON_DECODE_ANY: the fast path takes any value (a
 * stream event that is not an object fails later, the same way on both
 * paths). */
#include "fuzz.h"
#include "hub.h"
#include "proto.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

static int depth_ok(const json_t *j, int left)
{
    const char *k;
    json_t *v;
    size_t i;

    if (!json_is_object(j) && !json_is_array(j))
        return 1;
    if (left == 0)
        return 0;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v)
            if (!depth_ok(v, left - 1))
                return 0;
        return 1;
    }
    json_object_foreach((json_t *)j, k, v)
        if (!depth_ok(v, left - 1))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    msgpack_sbuffer fast, tree;
    msgpack_packer pk;
    json_error_t je;
    char err[128], *copy;
    json_t *j;
    int rf, ok_tree;

    /* An exact-size copy: ASan then sees any read past the input. */
    if ((copy = malloc(size ? size : 1)) == NULL)
        return 0;
    memcpy(copy, data, size);
    msgpack_sbuffer_init(&fast);
    msgpack_packer_init(&pk, &fast, msgpack_sbuffer_write);
    rf = proto_json_pack(&pk, copy, size, err, sizeof(err));
    j = memchr(copy, '\0', size) ? NULL :
        json_loadb(copy, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                   &je);
    if (j == NULL && memchr(copy, '\0', size))
        snprintf(je.text, sizeof(je.text), "a NUL byte");
    ok_tree = j != NULL && depth_ok(j, LLMUX_MAX_DEPTH);
    if (rf != -ENOMEM) {
        if ((rf == 0) != ok_tree)
            fprintf(stderr, "fast: %s; tree: %s\n", rf == 0 ? "accepts" :
                    err, ok_tree ? "accepts" : j ? "too deep" : je.text);
        FUZZ_ASSERT((rf == 0) == ok_tree);
    }
    if (rf == 0 && ok_tree) {
        msgpack_sbuffer_init(&tree);
        msgpack_packer_init(&pk, &tree, msgpack_sbuffer_write);
        FUZZ_ASSERT(hub_pack(&pk, j) == 0);
        FUZZ_ASSERT(fast.size == tree.size &&
                    memcmp(fast.data, tree.data, fast.size) == 0);
        msgpack_sbuffer_destroy(&tree);
    }
    json_decref(j);
    msgpack_sbuffer_destroy(&fast);
    free(copy);
    return 0;
}
