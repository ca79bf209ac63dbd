/* names: what a node name may be. Both sides check: the mount before it
 * journals an operation, the server on every request. */
#ifndef DBX_NAMES_H
#define DBX_NAMES_H

#include <stddef.h>
#include <time.h>

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

/* The name a losing version is kept under, beside the winner:
 *   "STEM (conflicted copy YYYY-MM-DD HHMMSS[ DEVICE][ N]).EXT"
 * (time in UTC). dbxd names the copies it makes without a device; a mount
 * names its own with the device it runs on. attempt > 1 adds " N": callers
 * count up until the name is free, so two copies made in one second never
 * share a name. The result fits 255 bytes: the stem is cut on a UTF-8
 * character boundary; an "extension" of over 64 bytes stays in the stem.
 * A device name is cut to 32 bytes and loses '/', ')' and control bytes. */
void name_conflicted(const char *name, const char *device, time_t when,
                     unsigned attempt, char out[NAME_MAX_BYTES + 1]);

/* 1 when s[0..len) is well-formed UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF. */
int utf8_valid(const char *s, size_t len);

#endif
