/* httpc_int.h: what httpc.c (a handle and its requests) and httpc_pool.c
 * (what handles share) share; nothing else includes it. */
#ifndef DBX_HTTPC_INT_H
#define DBX_HTTPC_INT_H

#include <pthread.h>

#include <curl/curl.h>

#include "httpc.h"

struct httpc_pool {
    char *base;
    size_t base_len;
    char *ca_file;
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t tok_mu;
    char *auth;                   /* "Authorization: Bearer ..." or NULL */
};

/* Appends the Authorization header to *l when url lies under the base URL
 * (so the token never goes to another host) and a token is set. 0, or -1
 * on no memory (*l unchanged). */
int httpc_pool_add_auth(httpc_pool *p, const char *url,
                        struct curl_slist **l);

#endif
