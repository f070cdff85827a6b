/* cli.c -- llmux, the shell helper: main, the global options, the command
 * table, --help and the commands chat, models, raw, status, metrics and
 * reload on top of libllmux; the signals (SIGINT cancels the request;
 * SIGPIPE is ignored and EPIPE on stdout cancels it too). Shared helpers
 * are in cliio.c, embed in cliembed.c, cache in clicache.c, key/team/spend
 * in clikeys.c. It talks to llmuxd only through llmux.h; proto.h serves
 * to read JSON answers. */
#include "cli.h"
#include "llmux.h"
#include "proto.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

/* Set by the SIGINT handler; everything else only reads it. */
volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static const char *const usage_text =
"usage: llmux [-S PATH] COMMAND [ARGS]\n"
"\n"
"llmux talks to llmuxd, the local LLM gateway, over its Unix socket.\n"
"\n"
"commands:\n"
"  chat -m MODEL [-s SYSTEM] [-t TEMP] [--max-tokens N] [--json]\n"
"       [--no-stream] [--usage] [PROMPT... | -]\n"
"        Asks MODEL and streams the answer to stdout as it arrives, with a\n"
"        newline at the end. The prompt is the arguments joined by spaces,\n"
"        then, when stdin is not a terminal, a blank line and what stdin\n"
"        holds (give </dev/null to send the arguments alone); or stdin\n"
"        alone when the prompt is \"-\" or absent.\n"
"          -m, --model MODEL      the model or model group (required)\n"
"          -s, --system TEXT      a system prompt\n"
"          -t, --temperature T    the sampling temperature\n"
"              --max-tokens N     the most tokens the answer may have\n"
"              --json             ask for a JSON object (response_format)\n"
"              --no-stream        wait for the whole answer, then print it\n"
"              --usage            print tokens, timing and provider to stderr\n"
"  embed -m MODEL [--dimensions N] [--raw [--base64]] [TEXT... | -]\n"
"        Embeds each TEXT (or each line of stdin, for \"-\" or none) and\n"
"        prints one JSON line per input: {\"index\":I,\"embedding\":[...]}.\n"
"              --dimensions N     ask for N values a vector\n"
"              --raw              print the whole OpenAI embeddings answer\n"
"              --base64           with --raw: vectors as base64 float32\n"
"  models [-v]\n"
"        Prints the ids of the models llmuxd serves, one per line; with -v\n"
"        also model_info's mode, max_input_tokens, the prices per token\n"
"        and the supports_* flags.\n"
"  raw OP [FILE | -]\n"
"        Sends FILE, or stdin (\"-\", or absent and not a terminal), as the\n"
"        JSON body of a request of op OP (empty: no body) and prints the\n"
"        JSON answer; a stream (\"stream\": true) prints one chunk per\n"
"        line as it arrives. An error prints {\"error\":{...}} too.\n"
"  status\n"
"        Prints the daemon's status as indented JSON.\n"
"  metrics\n"
"        Prints the daemon's metrics in Prometheus text format.\n"
"  reload\n"
"        Asks llmuxd to reload its configuration and waits for the answer.\n"
"  key generate|update KEY [--alias A] [--models M1,M2] [--max-budget USD]\n"
"       [--budget-duration 30d] [--rpm N] [--tpm N] [--parallel N]\n"
"       [--duration 30d] [--team T] [--user U]\n"
"  key list | info KEY | block KEY | unblock KEY | delete KEY... |\n"
"       regenerate KEY\n"
"        Virtual keys (admins): generate prints the new key once; KEY is\n"
"        the key, its token (hash) or its alias.\n"
"  team new [--alias A] [--models M1,M2] [--max-budget USD]\n"
"       [--budget-duration 30d] [--rpm N] [--tpm N] | list | info T |\n"
"       delete T\n"
"  spend [--by key|team|user|model|day] [--since YYYY-MM-DD] [--json]\n"
"        What was spent, in USD, from llmuxd's ledger (admins).\n"
"  cache stats | cache flush [--namespace N]\n"
"        Prints the response cache's counters, or drops a namespace's\n"
"        entries (the configured one by default; admins only).\n"
"\n"
"options:\n"
"  -S, --socket PATH   the socket of llmuxd (default: see LLMUX_SOCKET)\n"
"  -h, --help          print this help\n"
"  -V, --version       print the version\n"
"\n"
"environment:\n"
"  LLMUX_API_KEY       a virtual key (sk-...) to present to llmuxd\n"
"  LLMUX_SOCKET        the socket when -S is not given; when it is unset,\n"
"                      the first that exists of $XDG_RUNTIME_DIR/llmux.sock,\n"
"                      /run/llmux/llmux.sock (the system service) and\n"
"                      /tmp/llmux-UID/llmux.sock (llmuxd run by hand)\n";

/* The exit-status table, generated from LLMUX_ERRNO_MAP so that it cannot
 * drift from llmux-errno.h: one line per exit code, with every error
 * name that leads to it. */
static void print_exit_codes(FILE *f)
{
    static const struct { const char *name, *type; int exit; } tab[] = {
#define XX(name, code, type, status, exit, msg) { #name, type, exit },
        LLMUX_ERRNO_MAP(XX)
#undef XX
    };
    const size_t n = sizeof(tab) / sizeof(tab[0]);
    size_t i, j;
    int e;

    fputs("\nexit status:\n"
          "    0  success\n"
          "    1  other errors: cannot connect to llmuxd, system errors\n"
          "    2  usage error\n", f);
    for (e = 3; e < 128; e++) {
        for (i = 0; i < n && tab[i].exit != e; i++)
            ;
        if (i == n)
            continue;
        fprintf(f, "  %3d  %s (", e, tab[i].type);
        for (j = i; j < n; j++)
            if (tab[j].exit == e)
                fprintf(f, "%s%s", j == i ? "" : ", ", tab[j].name);
        fputs(")\n", f);
    }
    fprintf(f, "  %3d  interrupted (SIGINT): the request was cancelled\n"
            "  %3d  stdout was closed (EPIPE): the request was cancelled\n",
            EXIT_SIGINT, EXIT_SIGPIPE);
}

/* --help: the text above, the socket in use now, and the exit codes. */
int help(void)
{
    fputs(usage_text, stdout);
    printf("                      (now: %s)\n", llmux_default_socket());
    print_exit_codes(stdout);
    return out_finish(0);
}

/* ---- commands --------------------------------------------------------- */

enum {
    OPT_MAX_TOKENS = 256,
    OPT_JSON,
    OPT_NO_STREAM,
    OPT_USAGE,
};

/* Parses the options every command takes (-S, -h) and none other. Returns
 * -1 to go on, else an exit code. */
static int simple_opts(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 'S' },
        { "help",   no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int ch;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "+S:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'S': cli->socket = optarg; break;
        case 'h': return help();
        default:  return bad_option(argv[0], argv);
        }
    }
    return -1;
}

/* The stream callback: prints a piece; returns non-zero (cancel) on Ctrl-C
 * or when stdout fails. A zero-length call (libllmux's poll() was
 * interrupted) only asks about the former. A Ctrl-C that lands between
 * this check and the next poll() is only seen at the next piece; the
 * handler is one-shot (SA_RESETHAND), so a second Ctrl-C still ends us. */
static int on_text(void *ud, const char *text, size_t len)
{
    (void)ud;
    if (interrupted)
        return 1;
    return out_write(text, len, 1) < 0;
}

/* --usage: "tokens: prompt=N completion=N total=N, upstream=Xms
 * overhead=Yus, provider/deployment" on stderr. */
static void print_usage_line(const llmux_result_t *res)
{
    fprintf(stderr, "tokens: prompt=%" PRIu64 " completion=%" PRIu64
            " total=%" PRIu64 ", upstream=%" PRIu64 "ms overhead=%" PRIu64
            "us, %s%s%s\n", res->prompt_tokens, res->completion_tokens,
            res->total_tokens, (res->upstream_us + 500) / 1000,
            res->overhead_us, res->provider[0] ? res->provider : "-",
            res->deployment[0] ? "/" : "", res->deployment);
}

/* Appends what stdin holds to the prompt in b, after a blank line: that
 * is `llmux chat -m M "Summarise this:" < notes.txt`. An empty stdin
 * (</dev/null) adds nothing. Returns 0 or an exit code. */
static int chat_add_stdin(struct buf *b)
{
    struct buf in;
    int r;

    buf_init(&in, LLMUX_MAX_FRAME);
    r = read_input("-", &in, "the prompt");
    if (r == 0 && in.len > 0 &&
        (buf_add(b, "\n\n", 2) < 0 || buf_add(b, in.p, in.len) < 0)) {
        fprintf(stderr, "llmux: %s: the prompt and stdin are larger than "
                "%u bytes\n", llmux_err_name(LLMUX_ETOOBIG), LLMUX_MAX_FRAME);
        r = llmux_err_exit_code(LLMUX_ETOOBIG);
    }
    buf_free(&in);
    return r;
}

/* The prompt: the arguments joined by spaces, then stdin when it is not a
 * terminal; or stdin alone ("-" or no arguments). */
static int chat_prompt(int argc, char **argv, struct buf *b)
{
    int i, r;

    if (argc == 0 || (argc == 1 && strcmp(argv[0], "-") == 0)) {
        if (argc == 0 && isatty(0))
            return usage_error("chat: no prompt (give one, or pipe it "
                               "into stdin)");
        if ((r = read_input("-", b, "the prompt")) != 0)
            return r;
    } else {
        for (i = 0; i < argc; i++)
            if ((i && buf_add(b, " ", 1) < 0) || buf_adds(b, argv[i]) < 0)
                return report(LLMUX_ETOOBIG, NULL);
        if (!isatty(0) && (r = chat_add_stdin(b)) != 0)
            return r;
    }
    if (b->p == NULL && buf_add(b, "", 0) < 0)
        return report(-ENOMEM, NULL);
    if (strlen(b->p) != b->len) {
        fprintf(stderr, "llmux: %s: the prompt contains a NUL byte\n",
                llmux_err_name(LLMUX_EBADREQ));
        return llmux_err_exit_code(LLMUX_EBADREQ);
    }
    return 0;
}

/* llmux chat: llmux_chat_stream (or llmux_chat with --no-stream) with one
 * user message and an optional system message. */
static int cmd_chat(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "model",       required_argument, NULL, 'm' },
        { "system",      required_argument, NULL, 's' },
        { "temperature", required_argument, NULL, 't' },
        { "max-tokens",  required_argument, NULL, OPT_MAX_TOKENS },
        { "json",        no_argument,       NULL, OPT_JSON },
        { "no-stream",   no_argument,       NULL, OPT_NO_STREAM },
        { "usage",       no_argument,       NULL, OPT_USAGE },
        { "socket",      required_argument, NULL, 'S' },
        { "help",        no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    llmux_chat_opts_t co = { 0 };
    llmux_message_t msgs[2];
    const char *system = NULL;
    int ch, r, stream = 1, show_usage = 0;
    llmux_result_t res;
    llmux_error_t err;
    llmux_client_t *c;
    struct buf prompt;
    char *end, *text;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "m:s:t:S:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'm': co.model = optarg; break;
        case 's': system = optarg; break;
        case 't':
            errno = 0;
            co.temperature = strtod(optarg, &end);
            if (errno || end == optarg || *end || !isfinite(co.temperature) ||
                co.temperature < 0)
                return usage_error("chat: bad temperature '%s'", optarg);
            co.has_temperature = 1;
            break;
        case OPT_MAX_TOKENS:
            errno = 0;
            co.max_tokens = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || co.max_tokens <= 0)
                return usage_error("chat: bad --max-tokens '%s'", optarg);
            break;
        case OPT_JSON:      co.json_mode = 1; break;
        case OPT_NO_STREAM: stream = 0; break;
        case OPT_USAGE:     show_usage = 1; break;
        case 'S':           cli->socket = optarg; break;
        case 'h':           return help();
        default:            return bad_option("chat", argv);
        }
    }
    if (co.model == NULL || co.model[0] == '\0')
        return usage_error("chat: -m MODEL is required");

    buf_init(&prompt, LLMUX_MAX_FRAME);
    if ((r = chat_prompt(argc - optind, argv + optind, &prompt)) != 0) {
        buf_free(&prompt);
        return r;
    }
    co.messages = msgs;
    if (system)
        msgs[co.n_messages++] = (llmux_message_t){ "system", system };
    msgs[co.n_messages++] = (llmux_message_t){ "user", prompt.p };

    if ((r = cli_connect(cli, &c)) != 0) {
        buf_free(&prompt);
        return r;
    }
    if (stream) {
        r = llmux_chat_stream(c, &co, on_text, NULL, &res, &err);
    } else {
        r = llmux_chat(c, &co, &text, &res, &err);
        if (r == 0) {
            out_puts(text);
            free(text);
        }
    }
    llmux_close(c);
    buf_free(&prompt);

    /* Ctrl-C first, then a broken stdout: both end quietly. */
    if (interrupted && (r == LLMUX_ECANCELLED || r == -EINTR)) {
        out_end_line();
        return out_finish(EXIT_SIGINT);
    }
    if (r == LLMUX_ECANCELLED && out.err)
        return out_finish(0);
    out_end_line();
    if (r < 0) {
        fflush(stdout);
        return out_finish(report(r, &err));
    }
    if (!out.wrote)
        out_write("\n", 1, 0);
    if (show_usage)
        print_usage_line(&res);
    return out_finish(0);
}

/* Runs op (no body) to its answer; prints errors. Returns 0 with *ret_json
 * (the caller frees it) or an exit code. */
static int simple_call(struct cli *cli, const char *op, char **ret_json)
{
    llmux_client_t *c;
    llmux_error_t err;
    int r;

    if ((r = cli_connect(cli, &c)) != 0)
        return r;
    r = llmux_raw(c, op, NULL, 0, ret_json, NULL, &err);
    llmux_close(c);
    if (r < 0) {
        r = report_answer(r, &err, *ret_json);
        free(*ret_json);
        *ret_json = NULL;
        return r;
    }
    return 0;
}

static int bad_answer(const char *op)
{
    fprintf(stderr, "llmux: %s: unexpected answer to %s\n",
            llmux_err_name(LLMUX_EPROTO), op);
    return llmux_err_exit_code(LLMUX_EPROTO);
}

/* -v: "\tmode=chat max_input_tokens=128000 supports_vision,…" from an
 * entry's model_info. */
static void print_model_info(const msgpack_object *o)
{
    const msgpack_object *mi = proto_get(o, "model_info");
    const char *s;
    size_t len;
    int64_t n;
    double f;
    char num[48];
    int any = 0;

    if (mi == NULL || mi->type != MSGPACK_OBJECT_MAP)
        return;
    if (proto_get_str(mi, "mode", &s, &len) == 0) {
        out_write("\tmode=", 6, 0);
        out_write(s, len, 0);
    }
    if (proto_get_int(mi, "max_input_tokens", &n) == 0) {
        snprintf(num, sizeof(num), " max_input_tokens=%lld", (long long)n);
        out_write(num, strlen(num), 0);
    }
    if (proto_get_float(mi, "input_cost_per_token", &f) == 0) {
        snprintf(num, sizeof(num), " input_cost_per_token=%g", f);
        out_write(num, strlen(num), 0);
    }
    if (proto_get_float(mi, "output_cost_per_token", &f) == 0) {
        snprintf(num, sizeof(num), " output_cost_per_token=%g", f);
        out_write(num, strlen(num), 0);
    }
    for (uint32_t i = 0; i < mi->via.map.size; i++) {
        const msgpack_object_kv *kv = &mi->via.map.ptr[i];

        if (kv->key.type != MSGPACK_OBJECT_STR ||
            kv->val.type != MSGPACK_OBJECT_BOOLEAN || !kv->val.via.boolean ||
            kv->key.via.str.size < 9 ||
            memcmp(kv->key.via.str.ptr, "supports_", 9) != 0)
            continue;
        out_write(any++ ? "," : " ", 1, 0);
        out_write(kv->key.via.str.ptr, kv->key.via.str.size, 0);
    }
}

/* llmux models: data[].id of the "models" answer, one per line. */
static int cmd_models(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket",  required_argument, NULL, 'S' },
        { "verbose", no_argument,       NULL, 'v' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const msgpack_object *data, *o;
    struct jdoc d;
    char *json, why[128];
    const char *id;
    size_t len;
    uint32_t i;
    int r, ch, verbose = 0;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "+S:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'S': cli->socket = optarg; break;
        case 'v': verbose = 1; break;
        case 'h': return help();
        default:  return bad_option(argv[0], argv);
        }
    }
    if (optind != argc)
        return usage_error("models takes no arguments but -v");
    if ((r = simple_call(cli, "models", &json)) != 0)
        return r;
    r = jdoc_parse(&d, json, strlen(json), why, sizeof(why));
    data = r == 0 && d.up.data.type == MSGPACK_OBJECT_MAP ?
           proto_get(&d.up.data, "data") : NULL;
    if (data && data->type == MSGPACK_OBJECT_ARRAY) {
        for (i = 0; i < data->via.array.size; i++) {
            o = &data->via.array.ptr[i];
            if (o->type == MSGPACK_OBJECT_MAP &&
                proto_get_str(o, "id", &id, &len) == 0) {
                out_write(id, len, 0);
                if (verbose)
                    print_model_info(o);
                out_write("\n", 1, 0);
            }
        }
        r = 0;
    } else {
        r = bad_answer("models");
    }
    jdoc_free(&d);
    free(json);
    return out_finish(r);
}

/* llmux status: the status map, indented for people (raw is for jq). */
static int cmd_status(struct cli *cli, int argc, char **argv)
{
    char *json;
    int r;

    if ((r = simple_opts(cli, argc, argv)) >= 0)
        return r;
    if (optind != argc)
        return usage_error("status takes no arguments");
    if ((r = simple_call(cli, "status", &json)) != 0)
        return r;
    print_pretty(json, strlen(json));
    free(json);
    return out_finish(0);
}

/* llmux metrics: body.text as is; it ends with a newline already. */
static int cmd_metrics(struct cli *cli, int argc, char **argv)
{
    struct jdoc d;
    char *json, why[128];
    const char *text;
    size_t len;
    int r;

    if ((r = simple_opts(cli, argc, argv)) >= 0)
        return r;
    if (optind != argc)
        return usage_error("metrics takes no arguments");
    if ((r = simple_call(cli, "metrics", &json)) != 0)
        return r;
    r = jdoc_parse(&d, json, strlen(json), why, sizeof(why));
    if (r == 0 && d.up.data.type == MSGPACK_OBJECT_MAP &&
        proto_get_str(&d.up.data, "text", &text, &len) == 0)
        out_write(text, len, 0);
    else
        r = bad_answer("metrics");
    jdoc_free(&d);
    free(json);
    return out_finish(r);
}

/* llmux reload: the daemon answers once the new configuration serves, or
 * with an error saying why it kept the old one. */
static int cmd_reload(struct cli *cli, int argc, char **argv)
{
    char *json;
    int r;

    if ((r = simple_opts(cli, argc, argv)) >= 0)
        return r;
    if (optind != argc)
        return usage_error("reload takes no arguments");
    if ((r = simple_call(cli, "reload", &json)) != 0)
        return r;
    free(json);
    out_puts("reloaded\n");
    return out_finish(0);
}

/* llmux raw: goes through the event API so that a stream prints as it
 * arrives, one chunk per line (jq reads such a stream fine). A Ctrl-C or
 * a closed stdout sends a cancel, then the loop waits for the terminal
 * event so that the daemon knows the request is over before we exit. */
static int cmd_raw(struct cli *cli, int argc, char **argv)
{
    const char *op, *path = NULL;
    int r, cancelled = 0, code = 0;
    llmux_client_t *c;
    llmux_event_t ev;
    struct buf body;
    struct jdoc d;
    char why[256] = "";
    uint64_t id;

    if ((r = simple_opts(cli, argc, argv)) >= 0)
        return r;
    argc -= optind;
    argv += optind;
    if (argc < 1 || argc > 2)
        return usage_error("raw: usage: llmux raw OP [FILE | -]");
    op = argv[0];
    if (argc == 2)
        path = argv[1];
    else if (!isatty(0))
        path = "-";

    buf_init(&body, LLMUX_MAX_FRAME);
    if (path && (r = read_input(path, &body, "the body")) != 0) {
        buf_free(&body);
        return r;
    }
    /* Check here to say why: libllmux only answers EBADREQ. */
    for (size_t i = 0; i < body.len; i++) {
        if (body.p[i] == ' ' || body.p[i] == '\t' || body.p[i] == '\r' ||
            body.p[i] == '\n')
            continue;
        r = jdoc_parse(&d, body.p, body.len, why, sizeof(why));
        if (r == 0 && d.up.data.type != MSGPACK_OBJECT_MAP) {
            r = LLMUX_EBADREQ;
            snprintf(why, sizeof(why), "the body must be a JSON object");
        }
        jdoc_free(&d);
        if (r < 0) {
            buf_free(&body);
            fprintf(stderr, "llmux: %s: invalid JSON body: %s\n",
                    llmux_err_name(r), why[0] ? why : llmux_strerror(r));
            return llmux_err_exit_code(r);
        }
        break;
    }

    if ((r = cli_connect(cli, &c)) != 0) {
        buf_free(&body);
        return r;
    }
    r = llmux_submit(c, op, body.p, body.len, &id);
    buf_free(&body);
    while (r == 0) {
        if ((interrupted || out.err) && !cancelled) {
            if ((r = llmux_cancel(c, id)) < 0)
                break;
            cancelled = 1;
        }
        r = llmux_next_event(c, &ev, -1);
        if (r == -EINTR) {
            r = 0;
            continue;
        }
        if (r < 0)
            break;
        r = 0;
        if (ev.id != id && !(ev.kind == LLMUX_EV_ERROR && ev.id == 0))
            continue;
        if (ev.kind == LLMUX_EV_DONE || (cancelled && ev.kind == LLMUX_EV_ERROR))
            break;
        if (cancelled)
            continue;
        if (ev.kind == LLMUX_EV_ERROR) {
            /* For jq on stdout; for people on stderr. */
            out_write(ev.json, ev.json_len, 0);
            out_write("\n", 1, 1);
            code = report(ev.error.code, &ev.error);
            break;
        }
        out_write(ev.json, ev.json_len, 0);
        out_write("\n", 1, 1);
    }
    llmux_close(c);
    if (cancelled && interrupted)
        return out_finish(EXIT_SIGINT);
    if (cancelled && out.err)
        return out_finish(0);
    if (r < 0)
        code = report(r, NULL);
    return out_finish(code);
}

int clikeys_main(const char *socket, int argc, char **argv);

/* llmux key …, team …, spend: clikeys.c. */
static int cmd_keys(struct cli *cli, int argc, char **argv)
{
    return out_finish(clikeys_main(cli->socket, argc, argv));
}

static const struct command {
    const char *name;
    int (*run)(struct cli *cli, int argc, char **argv);
} commands[] = {
    { "chat",    cmd_chat },
    { "embed",   cmd_embed },
    { "models",  cmd_models },
    { "raw",     cmd_raw },
    { "status",  cmd_status },
    { "metrics", cmd_metrics },
    { "reload",  cmd_reload },
    { "key",     cmd_keys },
    { "team",    cmd_keys },
    { "spend",   cmd_keys },
    { "cache",   cmd_cache },
};

/* Global options come before the command (getopt's "+" stops at it);
 * each command parses its own, -S and -h included. */
int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "socket",  required_argument, NULL, 'S' },
        { "help",    no_argument,       NULL, 'h' },
        { "version", no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct sigaction sa = { .sa_handler = on_sigint }, old;
    struct cli cli = { 0 };
    size_t i;
    int ch;

    /* No SA_RESTART: a Ctrl-C must interrupt poll() and read() so that the
     * request is cancelled; SA_RESETHAND: a second one kills at once. An
     * ignored SIGINT (a background job of a script) stays ignored. */
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction(SIGINT, &sa, NULL);
    /* A closed stdout is EPIPE, handled as "stop"; libllmux never needs
     * this (it sends with MSG_NOSIGNAL). */
    signal(SIGPIPE, SIG_IGN);
    opterr = 0;

    while ((ch = getopt_long(argc, argv, "+S:hV", opts, NULL)) != -1) {
        switch (ch) {
        case 'S': cli.socket = optarg; break;
        case 'h': return help();
        case 'V':
            printf("llmux %s (protocol %d)\n", LLMUX_VERSION,
                   LLMUX_PROTO_VERSION);
            return out_finish(0);
        default:  return bad_option("", argv);
        }
    }
    if (optind >= argc)
        return usage_error("no command given");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[optind], commands[i].name) == 0)
            return commands[i].run(&cli, argc - optind, argv + optind);
    return usage_error("unknown command '%s'", argv[optind]);
}
