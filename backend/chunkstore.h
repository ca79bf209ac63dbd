/* chunkstore: the bytes of chunks, one file each under a directory,
 * encrypted at rest with AES-256-GCM under the daemon's key. A chunk is
 * named by the SHA-256 of its plaintext; it is stored in the form it arrived
 * in (raw, or one zstd frame). Both directions stream in bounded buffers, so
 * memory never grows with chunk size.
 *
 * File format: header (magic "DBXCHK01", encoding byte, 3 zero bytes,
 * 12-byte random nonce), ciphertext, 16-byte GCM tag. The header and the
 * chunk's hash are authenticated data, so a file swapped for another
 * chunk's, or altered anywhere, fails its tag.
 *
 * A write lands in tmp/ and becomes visible only by chunkstore_publish
 * (rename), after its hash was verified and the file fsynced: a crash
 * never leaves a partial chunk under its name. Another process may remove
 * files (garbage collection); see gc.c for how that is serialised. */
#ifndef DBX_CHUNKSTORE_H
#define DBX_CHUNKSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hash.h"

#define CHUNK_MAX_RAW (64u << 20)
/* What a chunk may take as sent: raw, or a zstd frame of at most 64 MiB,
 * which is never much larger (compressBound). */
#define CHUNK_MAX_STORED (CHUNK_MAX_RAW + (CHUNK_MAX_RAW >> 7) + 4096)
#define CHUNKSTORE_KEY_LEN 32

typedef struct chunkstore chunkstore;
typedef struct chunk_writer chunk_writer;
typedef struct chunk_reader chunk_reader;

enum chunk_encoding { CHUNK_RAW = 0, CHUNK_ZSTD = 1 };

enum {
    CS_IO = -1,
    CS_NOSPACE = -2,
    CS_MISMATCH = -3,   /* the bytes do not hash to the chunk's name */
    CS_BAD_INPUT = -4,  /* not a valid zstd frame */
    CS_TOO_LARGE = -5,  /* over CHUNK_MAX_RAW */
    CS_NOTFOUND = -6,
    CS_CORRUPT = -7,    /* a stored file fails authentication */
};

int chunkstore_open(const char *dir, const uint8_t key[CHUNKSTORE_KEY_LEN], chunkstore **out);
void chunkstore_close(chunkstore *cs);

/* size_hint: the body's length when known (0 if not); it sizes the write
 * buffer, so a small chunk does not cost a large allocation. */
int chunkstore_writer_new(chunkstore *cs, const uint8_t hash[HASH_LEN],
                          enum chunk_encoding enc, uint64_t size_hint, chunk_writer **out);
/* Bytes as sent: raw, or pieces of the zstd frame. */
int chunkstore_writer_write(chunk_writer *w, const void *buf, size_t len);
/* Checks that the input was complete and hashes to the name, seals and
 * fsyncs the temporary file. *raw_size is the plaintext size, *stored_size
 * that of the form kept (what a client taking zstd receives). */
int chunkstore_writer_finish(chunk_writer *w, uint32_t *raw_size, uint64_t *stored_size);
/* Renames the finished file into place. */
int chunkstore_writer_publish(chunk_writer *w);
/* Frees w; a writer not published leaves nothing behind. */
void chunkstore_writer_free(chunk_writer *w);

/* Makes published renames durable (fsync of the chunk's directory). */
int chunkstore_sync(chunkstore *cs, const uint8_t hash[HASH_LEN]);
int chunkstore_exists(chunkstore *cs, const uint8_t hash[HASH_LEN]);
int chunkstore_remove(chunkstore *cs, const uint8_t hash[HASH_LEN]);
/* Moves a damaged chunk aside into quarantine/ for inspection. */
int chunkstore_quarantine(chunkstore *cs, const uint8_t hash[HASH_LEN]);

int chunkstore_reader_open(chunkstore *cs, const uint8_t hash[HASH_LEN], chunk_reader **out);
enum chunk_encoding chunkstore_reader_encoding(const chunk_reader *r);
/* Reads the next decrypted stored bytes: a count, 0 at the end once the tag
 * has been verified, or CS_CORRUPT / CS_IO. */
ssize_t chunkstore_reader_read(chunk_reader *r, void *buf, size_t cap);
void chunkstore_reader_free(chunk_reader *r);

#endif
