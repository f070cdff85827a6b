/* log.c -- journald, "<N>"-prefixed or plain-word stderr logging (log.h).
 * The journal is used only when $JOURNAL_STREAM names the device and inode
 * of our stderr, as systemd documents: that is the one reliable sign that
 * stderr goes to journald and structured fields will be kept. A terminal
 * gets "warning: " words; pipes and files keep the "<N>" prefixes. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

/* Logging configuration is process-wide by nature (stderr is); it is set
 * once at start-up and never changes while serving. */
static struct {
    int level;
    int journal;
    int tty;        /* stderr is a terminal: words, not "<N>" */
    int content;
} logcfg = { LOG_INFO, 0, 0, 0 };

static int stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
        return 0;
    if (fstat(STDERR_FILENO, &st) < 0)
        return 0;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

void log_init(int level, int debug_content)
{
    logcfg.level = level;
    logcfg.journal = stderr_is_journal();
    logcfg.tty = !logcfg.journal && isatty(STDERR_FILENO);
    logcfg.content = debug_content;
}

int log_level(void)
{
    return logcfg.level;
}

int log_content_allowed(void)
{
    return logcfg.content;
}

/* What a person reads before a line on a terminal ("" for info): the
 * words of log_level in llmux.yaml, so the two read alike. */
static const char *prio_word(int prio)
{
    if (prio <= LOG_ERR)
        return "error: ";
    if (prio == LOG_WARNING)
        return "warning: ";
    if (prio == LOG_NOTICE)
        return "notice: ";
    if (prio == LOG_INFO)
        return "";
    return "debug: ";
}

/* One line on stderr in a single write, "<N>" first (what journald and
 * a syslog-reading pipe understand) or, on a terminal, a word. Control
 * characters are escaped: a model name or an upstream message must not
 * be able to start a forged log line of its own. */
static void put_stderr(int prio, const char *line)
{
    char out[4096];
    size_t n = logcfg.tty ?
        (size_t)snprintf(out, sizeof(out), "%s", prio_word(prio)) :
        (size_t)snprintf(out, sizeof(out), "<%d>", prio);

    for (const unsigned char *c = (const unsigned char *)line;
         *c && n + 6 < sizeof(out); c++) {
        if (*c < 0x20 || *c == 0x7f)
            n += (size_t)snprintf(out + n, sizeof(out) - n, "\\x%02x", *c);
        else
            out[n++] = (char)*c;
    }
    out[n++] = '\n';
    (void)fwrite(out, 1, n, stderr);
}

void log_msg(int prio, const char *fmt, ...)
{
    char line[2048];
    va_list ap;

    if (prio > logcfg.level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (logcfg.journal)
        sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", prio,
                        "SYSLOG_IDENTIFIER=llmuxd", NULL);
    else
        put_stderr(prio, line);
}

void log_fields(int prio, const char *message, const char *const *fields)
{
    struct iovec iov[32];
    char pbuf[16], mbuf[2048 + 8], line[2048];
    size_t n = 0, off;

    if (prio > logcfg.level)
        return;
    /* The readable line: the message, then the fields, space-separated.
     * The journal gets it as MESSAGE= (what journalctl shows) and each
     * field on its own (what journalctl FIELD=value matches). */
    off = (size_t)snprintf(line, sizeof(line), "%s", message);
    for (size_t i = 0; fields[i] && off < sizeof(line); i++)
        off += (size_t)snprintf(line + off, sizeof(line) - off, " %s",
                                fields[i]);
    if (logcfg.journal) {
        snprintf(pbuf, sizeof(pbuf), "PRIORITY=%d", prio);
        snprintf(mbuf, sizeof(mbuf), "MESSAGE=%s", line);
        iov[n].iov_base = pbuf;  iov[n++].iov_len = strlen(pbuf);
        iov[n].iov_base = mbuf;  iov[n++].iov_len = strlen(mbuf);
        iov[n].iov_base = (char *)"SYSLOG_IDENTIFIER=llmuxd";
        iov[n].iov_len = strlen(iov[n].iov_base);
        n++;
        for (size_t i = 0; fields[i] && n < 32; i++, n++) {
            iov[n].iov_base = (char *)fields[i];
            iov[n].iov_len = strlen(fields[i]);
        }
        sd_journal_sendv(iov, (int)n);
        return;
    }
    put_stderr(prio, line);
}
