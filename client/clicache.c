/* clicache.c -- `llmux cache stats | flush [--namespace N]`: the "cache"
 * op, its options turned into the JSON body and its answer printed
 * indented. Only the public libllmux API and cli.h; cli.c dispatches here. */
#include "cli.h"
#include "llmux.h"
#include "proto.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* llmux cache stats | flush [--namespace N]: the "cache" op. */
int cmd_cache(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        { "namespace", required_argument, NULL, 'n' },
        { "socket",    required_argument, NULL, 'S' },
        { "help",      no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *ns = NULL, *action;
    llmux_client_t *c;
    llmux_error_t err;
    struct buf body;
    char *json = NULL;
    int ch, r;

    optind = 0;
    while ((ch = getopt_long(argc, argv, "n:S:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': ns = optarg; break;
        case 'S': cli->socket = optarg; break;
        case 'h': return help();
        default:  return bad_option(argv[0], argv);
        }
    }
    if (optind + 1 != argc || (strcmp(argv[optind], "stats") != 0 &&
                               strcmp(argv[optind], "flush") != 0))
        return usage_error("cache takes stats or flush [--namespace N]");
    action = argv[optind];
    if (ns && strcmp(action, "flush") != 0)
        return usage_error("--namespace goes with flush");
    buf_init(&body, 1024);
    buf_addf(&body, "{\"action\":\"%s\"", action);
    if (ns) {
        buf_adds(&body, ",\"namespace\":\"");
        for (const char *p = ns; *p; p++) {
            if ((unsigned char)*p < 0x20) {
                buf_free(&body);
                return usage_error("a namespace has no control characters");
            }
            if (*p == '"' || *p == '\\')
                buf_add(&body, "\\", 1);
            buf_add(&body, p, 1);
        }
        buf_adds(&body, "\"");
    }
    if (buf_adds(&body, "}") < 0) {
        buf_free(&body);
        return usage_error("the namespace is too long");
    }
    if ((r = cli_connect(cli, &c)) != 0) {
        buf_free(&body);
        return r;
    }
    r = llmux_raw(c, "cache", body.p, body.len, &json, NULL, &err);
    llmux_close(c);
    buf_free(&body);
    if (r < 0) {
        r = report_answer(r, &err, json);
        free(json);
        return r;
    }
    print_pretty(json, strlen(json));
    free(json);
    return out_finish(0);
}
