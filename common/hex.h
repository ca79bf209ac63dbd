/* hex: lowercase hexadecimal encoding of byte strings (hashes, ids, tokens).
 * Pure functions; the caller owns every buffer. */
#ifndef DBX_HEX_H
#define DBX_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*len lowercase hex digits and a NUL into out (2*len+1 bytes). */
void hex_encode(const void *bin, size_t len, char *out);

/* Decodes exactly 2*len hex digits (lower or upper case) from hex, which must
 * be exactly that long (hexlen == 2*len). Returns 0, or -1 on a bad digit or
 * length; out is undefined after an error. */
int hex_decode(const char *hex, size_t hexlen, void *out, size_t len);

#endif
