/* hexdigit.h -- the value of one hex digit: what every %XX decoder needs
 * (sigv4.c's canonical query, http_admin.c's query string). */
#ifndef LLMUX_HEXDIGIT_H
#define LLMUX_HEXDIGIT_H

/* 0..15, or -1 for a byte that is not a hex digit. */
static inline int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
