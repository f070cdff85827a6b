/* version.h -- the version of llmuxd, in one place: hello frames, status,
 * metrics' build_info, the upstream User-Agent, `llmuxd -V` and the
 * Makefile (which reads it from here for llmux.pc). */
#ifndef LLMUX_VERSION_H
#define LLMUX_VERSION_H

#define LLMUX_DAEMON_VERSION "0.1.0"
#define LLMUX_USER_AGENT     "llmuxd/" LLMUX_DAEMON_VERSION

#endif
