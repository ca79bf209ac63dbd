/* prompt: reading a password for `dbxctl login`. On a terminal it asks on
 * /dev/tty with echo off (so a password never shows, nor lands in a
 * scrollback); otherwise, or when the caller insists, it takes the first
 * line of stdin, which is how scripts and tests log in. The caller owns
 * the buffer and wipes it after use. */
#ifndef DBXCTL_PROMPT_H
#define DBXCTL_PROMPT_H

#include <stddef.h>

/* Fills out (NUL-terminated, without the newline). 0, -EINTR when the
 * user pressed Ctrl-C (the terminal is restored), -ENODATA for no
 * password, -EOVERFLOW for a line longer than out, other -errno. */
int prompt_password(const char *question, int from_stdin, char *out, size_t outlen);

#endif
