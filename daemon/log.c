/* log.c -- journald, "<N>"-prefixed or plain-word stderr logging (log.h).
 * The journal is used only when $JOURNAL_STREAM names the device and inode
 * of our stderr, as systemd documents: that is the one reliable sign that
 * stderr goes to journald and structured fields will be kept. A terminal
 * gets "warning: " words; pipes and files keep the "<N>" prefixes. */
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <systemd/sd-journal.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/* A control character (< 0x20, or 0x7f) among the eight bytes of w?
 * (The classic "has a byte less than n" and "has a zero byte" tests: a
 * byte of 0x80 and above never matches, so UTF-8 passes.) */
static int has_control(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = ones * 0x80;
    uint64_t del = w ^ (ones * 0x7f);

    return ((((w - ones * 0x20) & ~w) | ((del - ones) & ~del)) & highs) != 0;
}

/* How many bytes of line come before its first control character (len
 * if none): sixteen at a time with SSE2, else eight, as a log line is
 * mostly plain and this runs for every request. */
static size_t plain_len(const char *line, size_t len)
{
    size_t i = 0;

#ifdef __SSE2__
    const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);

    for (; i + 16 <= len; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(line + i));
        /* x >= 0x20 unsigned where max(x, 0x20) == x; and x != 0x7f */
        __m128i ok = _mm_andnot_si128(_mm_cmpeq_epi8(x, del),
                                      _mm_cmpeq_epi8(_mm_max_epu8(x, space),
                                                     x));

        if (_mm_movemask_epi8(ok) != 0xffff)
            break;
    }
#endif
    for (; i + 8 <= len; i += 8) {
        uint64_t w;

        memcpy(&w, line + i, 8);
        if (has_control(w))
            break;
    }
    while (i < len && (unsigned char)line[i] >= 0x20 && line[i] != 0x7f)
        i++;
    return i;
}

/* One line on stderr in a single write, "<N>" first (what journald and
 * a syslog-reading pipe understand) or, on a terminal, a word. Control
 * characters are escaped: a model name or an upstream message must not
 * be able to start a forged log line of its own. len: strlen(line). */
static void put_stderr(int prio, const char *line, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char out[4096], pre[4] = { '<', (char)('0' + (prio & 7)), '>', 0 };
    const char *word = logcfg.tty ? prio_word(prio) : pre;
    size_t n = strlen(word), i = plain_len(line, len);

    /* Plain (the usual case): the line goes out as it is, between its
     * prefix and newline, in one writev(2) (atomic on a pipe under
     * PIPE_BUF). */
    if (i == len && len < PIPE_BUF - 16) {
        struct iovec iov[3] = { { (char *)word, n }, { (char *)line, len },
                                { (char *)"\n", 1 } };

        while (writev(STDERR_FILENO, iov, 3) < 0 && errno == EINTR)
            ;
        return;
    }
    memcpy(out, word, n);
    if (i > sizeof(out) - 8 - n)
        i = sizeof(out) - 8 - n;
    memcpy(out + n, line, i);
    n += i;
    for (; i < len && n + 6 < sizeof(out); i++) {
        unsigned char c = (unsigned char)line[i];

        if (c < 0x20 || c == 0x7f) {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '\n';
    while (write(STDERR_FILENO, out, n) < 0 && errno == EINTR)
        ;
}

void log_msg(int prio, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    int n;

    if (prio > logcfg.level)
        return;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (logcfg.journal)
        sd_journal_send("MESSAGE=%s", line, "PRIORITY=%d", prio,
                        "SYSLOG_IDENTIFIER=llmuxd", NULL);
    else
        put_stderr(prio, line, n < 0 ? 0 : (size_t)n < sizeof(line) ?
                   (size_t)n : sizeof(line) - 1);
}

void log_line(int prio, const char *line, size_t len,
              const struct iovec *fields, size_t n)
{
    struct iovec iov[32];
    char pbuf[16], mbuf[4096 + 8];
    size_t k = 0;

    if (prio > logcfg.level)
        return;
    if (!logcfg.journal) {
        put_stderr(prio, line, len);
        return;
    }
    /* MESSAGE= is what journalctl shows, each field on its own what
     * journalctl FIELD=value matches. */
    if (len > sizeof(mbuf) - 8)
        len = sizeof(mbuf) - 8;
    memcpy(mbuf, "MESSAGE=", 8);
    memcpy(mbuf + 8, line, len);
    snprintf(pbuf, sizeof(pbuf), "PRIORITY=%d", prio);
    iov[k].iov_base = pbuf;  iov[k++].iov_len = strlen(pbuf);
    iov[k].iov_base = mbuf;  iov[k++].iov_len = 8 + len;
    iov[k].iov_base = (char *)"SYSLOG_IDENTIFIER=llmuxd";
    iov[k].iov_len = strlen(iov[k].iov_base);
    k++;
    for (size_t i = 0; i < n && k < 32; i++)
        iov[k++] = fields[i];
    sd_journal_sendv(iov, (int)k);
}
