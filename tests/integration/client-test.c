/* client-test.c -- drives the real libllmux for the integration tests.
 * Owns nothing the product uses: each mode exercises one part of the
 * public API against a running llmuxd and prints what it saw, for
 * test_client.py to check.
 *   predict MODEL PROMPT         llmux_predict, prints the answer
 *   predict-err MODEL PROMPT     llmux_predict_err: the answer, or the
 *                                error's name, code and message
 *   stream MODEL PROMPT          llmux_chat_stream, prints pieces and usage
 *   concurrent N MODEL           N streams in flight on one connection
 *   cancel MODEL                 cancels a stream from its callback */
#include "llmux.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int print_piece(void *ud, const char *text, size_t len)
{
    (void)ud;
    fwrite(text, 1, len, stdout);
    return 0;
}

static int cancel_after_first(void *ud, const char *text, size_t len)
{
    int *pieces = ud;

    (void)text;
    return len > 0 && ++*pieces >= 1;
}

static llmux_chat_opts_t opts_for(const char *model, const char *prompt,
                                  llmux_message_t *msg)
{
    llmux_chat_opts_t o;

    memset(&o, 0, sizeof(o));
    msg->role = "user";
    msg->content = prompt;
    o.model = model;
    o.messages = msg;
    o.n_messages = 1;
    return o;
}

static int fail(const char *what, int code, const llmux_error_t *e)
{
    fprintf(stderr, "%s: %s (%s) %s\n", what, llmux_err_name(code),
            llmux_strerror(code), e ? e->message : "");
    return 1;
}

static int concurrent(llmux_client_t *c, int n, const char *model)
{
    char body[512];
    uint64_t *ids = calloc((size_t)n, sizeof(*ids));
    size_t *bytes = calloc((size_t)n, sizeof(*bytes));
    int ended = 0, done = 0, r;
    llmux_event_t ev;

    snprintf(body, sizeof(body), "{\"model\":\"%s\",\"stream\":true,"
             "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
             model);
    for (int i = 0; i < n; i++)
        if ((r = llmux_submit(c, "chat", body, strlen(body), &ids[i])) < 0)
            return fail("submit", r, NULL);
    while (ended < n) {
        if ((r = llmux_next_event(c, &ev, 30000)) <= 0)
            return fail("next_event", r ? r : -110, NULL);
        for (int i = 0; i < n; i++) {
            if (ids[i] != ev.id)
                continue;
            if (ev.kind == LLMUX_EV_CHUNK)
                bytes[i] += ev.text_len;
            else if (ev.kind == LLMUX_EV_DONE || ev.kind == LLMUX_EV_ERROR) {
                ended++;
                done += ev.kind == LLMUX_EV_DONE;
            }
        }
    }
    for (int i = 1; i < n; i++)
        if (bytes[i] != bytes[0]) {
            fprintf(stderr, "stream %d got %zu bytes, stream 0 %zu\n", i,
                    bytes[i], bytes[0]);
            return 1;
        }
    printf("done=%d bytes=%zu\n", done, bytes[0]);
    free(ids);
    free(bytes);
    return done == n ? 0 : 1;
}

int main(int argc, char **argv)
{
    llmux_client_t *c = NULL;
    llmux_message_t msg;
    llmux_chat_opts_t o;
    llmux_result_t res;
    llmux_error_t err;
    int r, pieces = 0;

    if (argc < 3)
        return 2;
    if (strcmp(argv[1], "predict") == 0 && argc == 4) {
        char *s = llmux_predict(argv[2], argv[3], "be brief", &r);

        if (s == NULL)
            return fail("predict", r, NULL);
        printf("%s\n", s);
        free(s);
        return 0;
    }
    if (strcmp(argv[1], "predict-err") == 0 && argc == 4) {
        char *s = llmux_predict_err(argv[2], argv[3], NULL, &err);

        if (s == NULL)
            return fail("predict-err", err.code, &err);
        printf("%s\n", s);
        free(s);
        return 0;
    }
    if ((r = llmux_connect(&c, NULL)) < 0)
        return fail("connect", r, NULL);
    if (strcmp(argv[1], "stream") == 0 && argc == 4) {
        o = opts_for(argv[2], argv[3], &msg);
        r = llmux_chat_stream(c, &o, print_piece, NULL, &res, &err);
        if (r < 0)
            r = fail("stream", r, &err);
        else
            printf("\nusage=%llu+%llu finish=%s provider=%s\n",
                   (unsigned long long)res.prompt_tokens,
                   (unsigned long long)res.completion_tokens,
                   res.finish_reason, res.provider);
    } else if (strcmp(argv[1], "concurrent") == 0 && argc == 4) {
        r = concurrent(c, (int)strtol(argv[2], NULL, 10), argv[3]);
    } else if (strcmp(argv[1], "cancel") == 0) {
        o = opts_for(argv[2], "cancel me", &msg);
        r = llmux_chat_stream(c, &o, cancel_after_first, &pieces, &res, &err);
        printf("%s after %d pieces\n", llmux_err_name(r), pieces);
        /* The handle must still work after a cancel. */
        o = opts_for("mock/echo", "still alive", &msg);
        {
            char *text = NULL;

            if (llmux_chat(c, &o, &text, NULL, &err) == 0)
                printf("%s\n", text);
            free(text);
        }
        r = 0;
    } else {
        r = 2;
    }
    llmux_close(c);
    return r;
}
