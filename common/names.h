/* names: what a node name may be. Both sides check: the mount before it
 * journals an operation, the server on every request. */
#ifndef DBX_NAMES_H
#define DBX_NAMES_H

#include <stddef.h>

#define NAME_MAX_BYTES 255

enum name_check {
    NAME_OK = 0,
    NAME_EMPTY,
    NAME_TOO_LONG,     /* over 255 bytes: ENAMETOOLONG */
    NAME_BAD_CHAR,     /* '/' or NUL */
    NAME_DOT,          /* "." or ".." */
    NAME_BAD_UTF8,
};

/* The name the mount gives its virtual directory of shares: reserved in
 * every user's root, so no node there can hide behind it. */
#define NAME_RESERVED_AT_ROOT "Shared with me"

/* Checks len bytes of name (which need not be NUL-terminated). */
enum name_check name_check(const char *name, size_t len);
const char *name_check_message(enum name_check result);

/* 1 when s[0..len) is well-formed UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF. */
int utf8_valid(const char *s, size_t len);

#endif
