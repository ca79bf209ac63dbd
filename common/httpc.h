/* httpc: the client side of the dbxd HTTP API, on libcurl.
 *
 * A program calls curl_global_init(CURL_GLOBAL_DEFAULT) once in main(),
 * before any other thread exists and before httpc_pool_new(), and
 * curl_global_cleanup() at exit. httpc keeps no global state of its own.
 *
 * httpc_pool (httpc_pool.c): what one client process shares: the base
 *   URL, the bearer token (settable at any time, from any thread), the CA
 *   file, and a curl share handle for the DNS cache and TLS sessions (so a
 *   new connection resumes a TLS session instead of a full handshake),
 *   locked with pthread mutexes. The connection cache is deliberately NOT
 *   shared: libcurl 7.88 documents that sharing connections between
 *   concurrent threads is not supported (CURLSHOPT_SHARE,
 *   CURL_LOCK_DATA_CONNECT). Instead each httpc keeps its own keep-alive
 *   connection, which gives the same reuse for the one-handle-per-thread
 *   model. The caller owns the pool and frees it after its handles.
 * httpc (httpc.c): one per thread (one curl easy handle reused across
 *   requests, keep-alive, TCP_NODELAY, large buffers). Never used by two
 *   threads at once. The token is never logged or put in an error message.
 *
 * Requests to the API (httpc_json) carry "Authorization: Bearer TOKEN" only
 * when the URL is under the base URL. Chunk requests (httpc_put_buf,
 * httpc_get_stream) never carry it: signed URLs are their authorisation, and
 * the same code must later talk to S3 presigned URLs, which refuse it.
 *
 * Return convention: 0 means the exchange completed (whatever the HTTP
 * status, given in *status); -1 means a transport failure (connection
 * refused or reset, timeout, TLS failure, malformed reply, a receiver that
 * stopped the transfer) and httpc_error() tells what. */
#ifndef DBX_HTTPC_H
#define DBX_HTTPC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

typedef struct httpc_pool httpc_pool;
typedef struct httpc httpc;

/* base_url: "http://host:port" or "https://host:port", optionally with a
 * path prefix; a trailing '/' is ignored. ca_file: PEM bundle to trust, or
 * NULL for the system CAs. NULL on a bad URL (errno EINVAL) or no memory. */
httpc_pool *httpc_pool_new(const char *base_url, const char *ca_file);
/* Every httpc of the pool must have been freed first. */
void httpc_pool_free(httpc_pool *p);
/* Sets (or with NULL clears) the bearer token used by later requests of
 * every httpc of the pool. 0 or -1 (no memory, or a token with characters
 * outside printable ASCII). */
int httpc_pool_set_token(httpc_pool *p, const char *token);

/* Resolves a server-handed URL: absolute ("http://", "https://") as is,
 * relative ("/v1/...") against the base URL. Returns a malloc'd string, or
 * NULL when url is neither (errno EINVAL) or on no memory. */
char *httpc_resolve(const httpc_pool *p, const char *url);

httpc *httpc_new(httpc_pool *p);
void httpc_free(httpc *h);

/* Message of the last failure of h (transport, or what the caller of a
 * failing call should know); "" if none. Valid until the next request. */
const char *httpc_error(const httpc *h);

/* Whole-request timeout for the next requests of h in milliseconds, 0 for
 * none (the default; a stalled connection is still dropped after 60 s
 * without a byte). A long-poll sets it above its wait. */
void httpc_set_timeout(httpc *h, long ms);

/* While *flag is non-zero, requests of h stop within about a second and
 * fail (-1): how a thread blocked in a long-poll is told to finish. */
void httpc_set_cancel(httpc *h, const atomic_int *flag);

/* A JSON API call. path is relative to the base ("/v1/nodes/..."), or an
 * absolute URL. body may be NULL (no body). On 0, *status is the HTTP status
 * and *reply (if reply is not NULL) the parsed JSON answer, or NULL when the
 * answer had no body or (for a non-2xx status only) was not JSON. A 2xx
 * answer whose body is not JSON is a failure (-1). The caller frees *reply
 * with cJSON_Delete. Error answers are {"error": code, "message": text}:
 * see httpc_errcode(). */
int httpc_json(httpc *h, const char *method, const char *path,
               const cJSON *body, long *status, cJSON **reply);

/* The "error" code of an error answer, or NULL. */
const char *httpc_errcode(const cJSON *reply);

/* PUT len bytes from buf to url (a signed chunk URL, relative or absolute)
 * without copying them first. content_encoding is NULL or e.g. "zstd".
 * reply as for httpc_json (the server answers JSON either way). */
int httpc_put_buf(httpc *h, const char *url, const void *buf, size_t len,
                  const char *content_encoding, long *status, cJSON **reply);

/* Receives decoded body bytes in pieces; a non-zero return stops the
 * transfer, and the call then fails (-1, httpc_error "stopped by receiver"). */
typedef int (*httpc_sink)(void *arg, const void *buf, size_t len);

/* GET url (a signed chunk URL), streaming a 2xx body into sink as it
 * arrives. With accept_zstd the request says Accept-Encoding: zstd, and an
 * answer with Content-Encoding: zstd is decoded here (curl never decodes),
 * streaming, and checked to be exactly one complete frame: sink always sees
 * the plain bytes. A non-2xx answer is not given to sink: it is parsed into
 * *reply as for httpc_json. *wire_bytes (if not NULL) gets the number of
 * body bytes received on the wire. */
int httpc_get_stream(httpc *h, const char *url, int accept_zstd,
                     httpc_sink sink, void *arg, long *status, cJSON **reply,
                     uint64_t *wire_bytes);

#endif
