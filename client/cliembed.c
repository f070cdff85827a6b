/* cliembed.c -- `llmux embed`: the inputs (arguments, or stdin one a
 * line), llmux_embed and its vectors printed as one JSON line per input,
 * or --raw: the request sent as JSON by llmux_raw, its answer as it is.
 * Only the public libllmux API and the frame codec; cli.c dispatches here. */
#include "cli.h"
#include "llmux.h"
#include "proto.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The inputs of llmux embed: the arguments, or stdin one input a line
 * ("-", or none and stdin is not a terminal); the lines are cut in b.
 * Returns 0 with *ret (malloc'd) and *ret_n, or an exit code. */
static int embed_inputs(int argc, char **argv, struct buf *b,
                        const char ***ret, size_t *ret_n)
{
    const char **in;
    size_t n = 0, i;
    char *p;
    int r;

    if (argc > 0 && !(argc == 1 && strcmp(argv[0], "-") == 0)) {
        *ret = (const char **)argv;
        *ret_n = (size_t)argc;
        return 0;
    }
    if (argc == 0 && isatty(0))
        return usage_error("embed: no input (give some, or pipe lines "
                           "into stdin)");
    if ((r = read_input("-", b, "the input")) != 0)
        return r;
    if (b->p == NULL || strlen(b->p) != b->len)
        return usage_error("embed: stdin is empty or holds a NUL byte");
    for (i = 0; i < b->len; i++)
        n += b->p[i] == '\n';
    if ((in = calloc(n + 1, sizeof(*in))) == NULL)
        return report(-ENOMEM, NULL);
    n = 0;
    for (p = strtok(b->p, "\n"); p; p = strtok(NULL, "\n"))
        in[n++] = p;
    if (n == 0) {
        free(in);
        return usage_error("embed: stdin holds no line to embed");
    }
    *ret = in;
    *ret_n = n;
    return 0;
}

/* --raw: the request as JSON (packed, then dumped by the same converter
 * the library uses), sent with llmux_raw, its answer printed as it is. */
static int embed_raw(llmux_client_t *c, const llmux_embed_opts_t *eo,
                     const char *format, llmux_error_t *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked up;
    struct buf req;
    char *json = NULL;
    int r;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2 + (eo->dimensions > 0) + (format != NULL));
    proto_pack_kv_str(&pk, "model", eo->model);
    proto_pack_str(&pk, "input");
    msgpack_pack_array(&pk, (uint32_t)eo->n_inputs);
    for (size_t i = 0; i < eo->n_inputs; i++)
        proto_pack_str(&pk, eo->inputs[i]);
    if (eo->dimensions > 0) {
        proto_pack_str(&pk, "dimensions");
        msgpack_pack_int64(&pk, eo->dimensions);
    }
    if (format)
        proto_pack_kv_str(&pk, "encoding_format", format);
    msgpack_unpacked_init(&up);
    buf_init(&req, 4u * LLMUX_MAX_FRAME);
    r = msgpack_unpack_next(&up, sb.data, sb.size, NULL) ==
        MSGPACK_UNPACK_SUCCESS ? proto_json_dump(&up.data, &req) : -ENOMEM;
    if (r == 0)
        r = llmux_raw(c, "embeddings", req.p, req.len, &json, NULL, err);
    if (json) {
        out_puts(json);
        out_write("\n", 1, 0);
    }
    free(json);
    buf_free(&req);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    return r;
}

/* One JSON line per input: {"index": i, "embedding": [...]}, each value
 * with the 9 digits that give its float32 back exactly. */
static void embed_print(const float *v, size_t n, size_t dims)
{
    char num[48];

    for (size_t i = 0; i < n; i++) {
        snprintf(num, sizeof(num), "{\"index\":%zu,\"embedding\":[", i);
        out_puts(num);
        for (size_t j = 0; j < dims; j++) {
            snprintf(num, sizeof(num), "%s%.9g", j ? "," : "",
                     (double)v[i * dims + j]);
            out_puts(num);
        }
        out_write("]}\n", 3, 0);
    }
}

/* llmux embed -m MODEL [--dimensions N] [--raw [--base64]] TEXT... | - */
int cmd_embed(struct cli *cli, int argc, char **argv)
{
    enum { OPT_DIMS = 300, OPT_RAW, OPT_B64 };
    static const struct option opts[] = {
        { "model",      required_argument, NULL, 'm' },
        { "dimensions", required_argument, NULL, OPT_DIMS },
        { "raw",        no_argument,       NULL, OPT_RAW },
        { "base64",     no_argument,       NULL, OPT_B64 },
        { "socket",     required_argument, NULL, 'S' },
        { "help",       no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    llmux_embed_opts_t eo = { 0 };
    llmux_client_t *c;
    llmux_error_t err;
    const char **in = NULL;
    float *vecs = NULL;
    struct buf b;
    size_t dims = 0;
    int ch, r, raw = 0, b64 = 0;
    char *end;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "+m:S:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'm':      eo.model = optarg; break;
        case OPT_DIMS:
            errno = 0;
            eo.dimensions = strtol(optarg, &end, 10);
            if (errno || *end || eo.dimensions < 1)
                return usage_error("embed: bad --dimensions '%s'", optarg);
            break;
        case OPT_RAW:  raw = 1; break;
        case OPT_B64:  b64 = 1; break;
        case 'S':      cli->socket = optarg; break;
        case 'h':      return help();
        default:       return bad_option("embed", argv);
        }
    }
    if (eo.model == NULL || eo.model[0] == '\0')
        return usage_error("embed: -m MODEL is required");
    if (b64 && !raw)
        return usage_error("embed: --base64 goes with --raw");
    buf_init(&b, LLMUX_MAX_FRAME);
    if ((r = embed_inputs(argc - optind, argv + optind, &b, &in,
                          &eo.n_inputs)) != 0) {
        buf_free(&b);
        return r;
    }
    eo.inputs = in;
    if ((r = cli_connect(cli, &c)) == 0) {
        r = raw ? embed_raw(c, &eo, b64 ? "base64" : NULL, &err) :
            llmux_embed(c, &eo, &vecs, &dims, NULL, &err);
        llmux_close(c);
        if (r == 0 && !raw)
            embed_print(vecs, eo.n_inputs, dims);
        r = r < 0 ? report(r, &err) : 0;
    }
    free(vecs);
    if (in != (const char **)argv + optind)
        free(in);
    buf_free(&b);
    return out_finish(r);
}
