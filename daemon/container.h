/* container.h -- container_of, the one definition every daemon file uses:
 * from a member (a libuv handle inside its owner) back to the owner. */
#ifndef LLMUX_CONTAINER_H
#define LLMUX_CONTAINER_H

#include <stddef.h>

#define container_of(p, type, member) \
    ((type *)((char *)(p) - offsetof(type, member)))

#endif
