/* clikeys.c -- `llmux key …`, `llmux team …` and `llmux spend`: the admin
 * ops on virtual keys, teams and the spend ledger (PROTOCOL.md, ops), as
 * command-line options turned into LiteLLM's JSON bodies. Only the public
 * libllmux API and the frame codec's JSON reader; cli.c dispatches here.
 * The key generate prints is the only copy there will ever be. */
#include "llmux.h"
#include "proto.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2

int clikeys_main(const char *socket, int argc, char **argv);

/* ---- a JSON object built from options (bounded) ------------------------ */

struct jb {
    char   p[16384];
    size_t n;
    int    over;
};

static void jb_add(struct jb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void jb_add(struct jb *b, const char *fmt, ...)
{
    va_list ap;
    int w;

    if (b->over)
        return;
    va_start(ap, fmt);
    w = vsnprintf(b->p + b->n, sizeof(b->p) - b->n, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= sizeof(b->p) - b->n)
        b->over = 1;
    else
        b->n += (size_t)w;
}

static void jb_key(struct jb *b, const char *k)
{
    jb_add(b, "%s\"%s\":", b->n > 1 ? "," : "", k);
}

static void jb_strval(struct jb *b, const char *s)
{
    jb_add(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            jb_add(b, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            jb_add(b, "\\u%04x", (unsigned char)*s);
        else
            jb_add(b, "%c", *s);
    }
    jb_add(b, "\"");
}

static void jb_str(struct jb *b, const char *k, const char *v)
{
    jb_key(b, k);
    jb_strval(b, v);
}

/* "a,b,c" -> ["a","b","c"] */
static void jb_list(struct jb *b, const char *k, const char *csv)
{
    const char *p = csv;

    jb_key(b, k);
    jb_add(b, "[");
    while (*p) {
        size_t n = strcspn(p, ",");
        char item[512];

        snprintf(item, sizeof(item), "%.*s", (int)(n < 511 ? n : 511), p);
        if (item[0]) {
            if (b->p[b->n - 1] != '[')
                jb_add(b, ",");
            jb_strval(b, item);
        }
        p += n + (p[n] == ',');
    }
    jb_add(b, "]");
}

static int usage(const char *fmt, const char *arg)
{
    fputs("llmux: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'llmux --help'.\n", stderr);
    return EXIT_USAGE;
}

/* A number option: checked here, so a typo is a usage error. */
static int jb_num(struct jb *b, const char *k, const char *v, int whole)
{
    char *end;
    double d = strtod(v, &end);

    if (*v == '\0' || *end != '\0' || d < 0 || (whole && d != (long)d))
        return usage(whole ? "'%s' is not a whole number >= 0" :
                     "'%s' is not a number >= 0", v);
    jb_key(b, k);
    jb_add(b, whole ? "%.0f" : "%.17g", d);
    return 0;
}

/* ---- the call ----------------------------------------------------------- */

static int say_error(int code, const llmux_error_t *err)
{
    if (err && err->code == code && err->message[0])
        fprintf(stderr, "llmux: %s: %s (%s)\n", llmux_err_name(code),
                err->message, err->type);
    else
        fprintf(stderr, "llmux: %s: %s\n", llmux_err_name(code),
                llmux_strerror(code));
    return llmux_err_exit_code(code);
}

/* Runs op with body; 0 with *ret (the answer as JSON; free it) or an exit
 * code after saying why. */
static int call(const char *socket, const char *op, const struct jb *b,
                char **ret)
{
    llmux_client_t *c;
    llmux_error_t err;
    int r;

    *ret = NULL;
    if (b->over)
        return usage("%s: the options are too long", op);
    if ((r = llmux_connect(&c, socket)) < 0) {
        fprintf(stderr, "llmux: %s: cannot connect to %s: %s\n",
                llmux_err_name(r), socket ? socket : llmux_default_socket(),
                r == LLMUX_EAUTH ? "$LLMUX_API_KEY is not a key of this "
                "llmuxd" : llmux_strerror(r));
        return llmux_err_exit_code(r);
    }
    r = llmux_raw(c, op, b->p, b->n, ret, NULL, &err);
    llmux_close(c);
    if (r < 0) {
        free(*ret);
        *ret = NULL;
        return say_error(r, &err);
    }
    return 0;
}

static int print_answer(const char *socket, const char *op,
                        const struct jb *b)
{
    char *json;
    int r = call(socket, op, b, &json);

    if (r == 0) {
        puts(json);
        free(json);
    }
    return r;
}

struct doc {
    msgpack_sbuffer  sb;
    msgpack_unpacked up;
};

static const msgpack_object *doc_parse(struct doc *d, const char *json)
{
    msgpack_packer pk;
    size_t off = 0;

    msgpack_sbuffer_init(&d->sb);
    msgpack_unpacked_init(&d->up);
    msgpack_packer_init(&pk, &d->sb, msgpack_sbuffer_write);
    if (proto_json_pack(&pk, json, strlen(json), NULL, 0) < 0 ||
        msgpack_unpack_next(&d->up, d->sb.data, d->sb.size, &off) !=
        MSGPACK_UNPACK_SUCCESS || d->up.data.type != MSGPACK_OBJECT_MAP)
        return NULL;
    return &d->up.data;
}

static void doc_free(struct doc *d)
{
    msgpack_unpacked_destroy(&d->up);
    msgpack_sbuffer_destroy(&d->sb);
}

/* ---- key and team options ---------------------------------------------- */

enum { O_ALIAS = 300, O_MODELS, O_BUDGET, O_BDUR, O_RPM, O_TPM, O_PAR,
       O_DUR, O_TEAM, O_USER, O_BY, O_SINCE, O_JSON };

static const struct option key_opts[] = {
    { "alias",           required_argument, NULL, O_ALIAS },
    { "models",          required_argument, NULL, O_MODELS },
    { "max-budget",      required_argument, NULL, O_BUDGET },
    { "budget-duration", required_argument, NULL, O_BDUR },
    { "rpm",             required_argument, NULL, O_RPM },
    { "tpm",             required_argument, NULL, O_TPM },
    { "parallel",        required_argument, NULL, O_PAR },
    { "duration",        required_argument, NULL, O_DUR },
    { "team",            required_argument, NULL, O_TEAM },
    { "user",            required_argument, NULL, O_USER },
    { NULL, 0, NULL, 0 },
};

/* Reads the options of key generate/update (team: team new). */
static int policy_opts(struct jb *b, int argc, char **argv, int team)
{
    int ch, r = 0;

    optind = 1;
    while (r == 0 && (ch = getopt_long(argc, argv, "+", key_opts, NULL)) !=
           -1) {
        switch (ch) {
        case O_ALIAS:  jb_str(b, team ? "team_alias" : "key_alias", optarg);
                       break;
        case O_MODELS: jb_list(b, "models", optarg); break;
        case O_BUDGET: r = jb_num(b, "max_budget", optarg, 0); break;
        case O_BDUR:   jb_str(b, "budget_duration", optarg); break;
        case O_RPM:    r = jb_num(b, "rpm_limit", optarg, 1); break;
        case O_TPM:    r = jb_num(b, "tpm_limit", optarg, 1); break;
        case O_PAR:    r = jb_num(b, "max_parallel_requests", optarg, 1);
                       break;
        case O_DUR:    if (team)
                           return usage("%s: not an option of team new",
                                        "--duration");
                       jb_str(b, "duration", optarg); break;
        case O_TEAM:   jb_str(b, "team_id", optarg); break;
        case O_USER:   jb_str(b, "user_id", optarg); break;
        default:       return usage("%s: unknown option or missing argument",
                                    argv[optind - 1]);
        }
    }
    return r;
}

/* llmux key generate: the key alone on stdout (K=$(llmux key generate)). */
static int key_generate(const char *socket, struct jb *b)
{
    const msgpack_object *m;
    const char *key;
    struct doc d;
    size_t len;
    char *json;
    int r = call(socket, "key/generate", b, &json);

    if (r != 0)
        return r;
    if ((m = doc_parse(&d, json)) != NULL &&
        proto_get_str(m, "key", &key, &len) == 0) {
        printf("%.*s\n", (int)len, key);
        fputs("llmux: store this key now: llmuxd keeps only its hash, "
              "it is not shown again\n", stderr);
    } else {
        fputs("llmux: EPROTO: unexpected answer to key/generate\n", stderr);
        r = llmux_err_exit_code(LLMUX_EPROTO);
    }
    doc_free(&d);
    explicit_bzero(json, strlen(json));
    free(json);
    return r;
}

static int key_cmd(const char *socket, int argc, char **argv)
{
    struct jb b = { .p = "{", .n = 1 };
    const char *sub = argc > 1 ? argv[1] : "";
    int r;

    if (strcmp(sub, "generate") == 0) {
        if ((r = policy_opts(&b, argc - 1, argv + 1, 0)) != 0)
            return r;
        if (optind != argc - 1)
            return usage("key generate: unexpected '%s'", argv[optind + 1]);
        jb_add(&b, "}");
        return key_generate(socket, &b);
    }
    if (strcmp(sub, "list") == 0) {
        jb_add(&b, "\"return_full_object\":true}");
        return print_answer(socket, "key/list", &b);
    }
    if (argc < 3)
        return usage("key: usage: llmux key generate|list|info|update|"
                     "block|unblock|delete|regenerate [KEY|ALIAS]%s", "");
    if (strcmp(sub, "delete") == 0) {
        jb_key(&b, "keys");
        jb_add(&b, "[");
        for (int i = 2; i < argc; i++) {
            jb_add(&b, i > 2 ? "," : "");
            jb_strval(&b, argv[i]);
        }
        jb_add(&b, "]}");
        return print_answer(socket, "key/delete", &b);
    }
    jb_str(&b, "key", argv[2]);
    if (strcmp(sub, "update") == 0) {
        if ((r = policy_opts(&b, argc - 2, argv + 2, 0)) != 0)
            return r;
        jb_add(&b, "}");
        return print_answer(socket, "key/update", &b);
    }
    jb_add(&b, "}");
    if (argc != 3)
        return usage("key: unexpected '%s'", argv[3]);
    if (strcmp(sub, "info") == 0)
        return print_answer(socket, "key/info", &b);
    if (strcmp(sub, "block") == 0)
        return print_answer(socket, "key/block", &b);
    if (strcmp(sub, "unblock") == 0)
        return print_answer(socket, "key/unblock", &b);
    if (strcmp(sub, "regenerate") == 0) {
        char *json;
        const msgpack_object *m;
        const char *key;
        size_t len;
        struct doc d;

        if ((r = call(socket, "key/regenerate", &b, &json)) != 0)
            return r;
        if ((m = doc_parse(&d, json)) && proto_get_str(m, "key", &key,
                                                        &len) == 0)
            printf("%.*s\n", (int)len, key);
        doc_free(&d);
        explicit_bzero(json, strlen(json));
        free(json);
        return 0;
    }
    return usage("key: unknown subcommand '%s'", sub);
}

static int team_cmd(const char *socket, int argc, char **argv)
{
    struct jb b = { .p = "{", .n = 1 };
    const char *sub = argc > 1 ? argv[1] : "";
    int r;

    if (strcmp(sub, "new") == 0) {
        if ((r = policy_opts(&b, argc - 1, argv + 1, 1)) != 0)
            return r;
        jb_add(&b, "}");
        return print_answer(socket, "team/new", &b);
    }
    if (strcmp(sub, "list") == 0) {
        jb_add(&b, "}");
        return print_answer(socket, "team/list", &b);
    }
    if (argc != 3)
        return usage("team: usage: llmux team new [OPTIONS] | list | "
                     "info TEAM | delete TEAM%s", "");
    if (strcmp(sub, "info") == 0) {
        jb_str(&b, "team_id", argv[2]);
        jb_add(&b, "}");
        return print_answer(socket, "team/info", &b);
    }
    if (strcmp(sub, "delete") == 0) {
        jb_key(&b, "team_ids");
        jb_add(&b, "[");
        jb_strval(&b, argv[2]);
        jb_add(&b, "]}");
        return print_answer(socket, "team/delete", &b);
    }
    return usage("team: unknown subcommand '%s'", sub);
}

/* llmux spend: a table, one line per group, or the JSON answer. */
static int spend_cmd(const char *socket, int argc, char **argv)
{
    static const struct option opts[] = {
        { "by",    required_argument, NULL, O_BY },
        { "since", required_argument, NULL, O_SINCE },
        { "json",  no_argument,       NULL, O_JSON },
        { NULL, 0, NULL, 0 },
    };
    struct jb b = { .p = "{", .n = 1 };
    const char *by = "key";
    const msgpack_object *m, *data;
    struct doc d;
    char *json;
    int ch, as_json = 0, r;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (ch) {
        case O_BY:    by = optarg; break;
        case O_SINCE: jb_str(&b, "since", optarg); break;
        case O_JSON:  as_json = 1; break;
        default:      return usage("spend: %s: unknown option or missing "
                                   "argument", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return usage("spend: unexpected '%s'", argv[optind]);
    jb_str(&b, "by", by);
    jb_add(&b, "}");
    if ((r = call(socket, "spend/report", &b, &json)) != 0)
        return r;
    if (as_json) {
        puts(json);
        free(json);
        return 0;
    }
    m = doc_parse(&d, json);
    data = m ? proto_get(m, "data") : NULL;
    printf("%-32s %10s %12s %12s\n", by, "requests", "tokens", "spend_usd");
    for (uint32_t i = 0; data && data->type == MSGPACK_OBJECT_ARRAY &&
         i < data->via.array.size; i++) {
        const msgpack_object *g = &data->via.array.ptr[i];
        const char *label = "";
        size_t len = 0;
        uint64_t n = 0, pt = 0, ct = 0;
        double cost = 0;

        proto_get_str(g, by, &label, &len);
        proto_get_uint(g, "requests", &n);
        proto_get_uint(g, "prompt_tokens", &pt);
        proto_get_uint(g, "completion_tokens", &ct);
        proto_get_float(g, "spend", &cost);
        printf("%-32.*s %10llu %12llu %12.6f\n", (int)len, label,
               (unsigned long long)n, (unsigned long long)(pt + ct), cost);
    }
    doc_free(&d);
    free(json);
    return 0;
}

int clikeys_main(const char *socket, int argc, char **argv)
{
    if (strcmp(argv[0], "key") == 0)
        return key_cmd(socket, argc, argv);
    if (strcmp(argv[0], "team") == 0)
        return team_cmd(socket, argc, argv);
    return spend_cmd(socket, argc, argv);
}
