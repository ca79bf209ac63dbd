/* httpc_pool: what the clients of one process share (see httpc.h): the
 * base URL, the bearer token, the CA file and the curl share handle. The
 * pool owns all of them; the token only ever leaves it as a header for a
 * URL under the base. */
#include "httpc_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access acc,
                       void *arg)
{
    httpc_pool *p = arg;
    (void)c;
    (void)acc;
    if ((unsigned)data < CURL_LOCK_DATA_LAST)
        pthread_mutex_lock(&p->locks[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *arg)
{
    httpc_pool *p = arg;
    (void)c;
    if ((unsigned)data < CURL_LOCK_DATA_LAST)
        pthread_mutex_unlock(&p->locks[data]);
}

static int base_ok(const char *u)
{
    const char *host;
    if (strncasecmp(u, "http://", 7) == 0)
        host = u + 7;
    else if (strncasecmp(u, "https://", 8) == 0)
        host = u + 8;
    else
        return 0;
    if (*host == '\0' || *host == '/')
        return 0;
    for (; *u; u++)
        if ((unsigned char)*u <= ' ' || (unsigned char)*u >= 0x7f)
            return 0;
    return 1;
}

static int share_setup(httpc_pool *p)
{
    p->share = curl_share_init();
    if (!p->share)
        return -1;
    if (curl_share_setopt(p->share, CURLSHOPT_USERDATA, p) ||
        curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, share_lock) ||
        curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
        curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) ||
        curl_share_setopt(p->share, CURLSHOPT_SHARE,
                          CURL_LOCK_DATA_SSL_SESSION))
        return -1;
    return 0;
}

httpc_pool *httpc_pool_new(const char *base_url, const char *ca_file)
{
    httpc_pool *p = NULL;
    int i;

    if (!base_url || !base_ok(base_url)) {
        errno = EINVAL;
        return NULL;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&p->locks[i], NULL);
    pthread_mutex_init(&p->tok_mu, NULL);
    p->base = strdup(base_url);
    if (!p->base)
        goto fail;
    p->base_len = strlen(p->base);
    while (p->base_len > 0 && p->base[p->base_len - 1] == '/')
        p->base[--p->base_len] = '\0';
    if (ca_file && !(p->ca_file = strdup(ca_file)))
        goto fail;
    if (share_setup(p) < 0)
        goto fail;
    return p;
fail:
    httpc_pool_free(p);
    errno = ENOMEM;
    return NULL;
}

void httpc_pool_free(httpc_pool *p)
{
    int i;
    if (!p)
        return;
    if (p->share)
        curl_share_cleanup(p->share);
    for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&p->locks[i]);
    pthread_mutex_destroy(&p->tok_mu);
    if (p->auth) {
        explicit_bzero(p->auth, strlen(p->auth));
        free(p->auth);
    }
    free(p->ca_file);
    free(p->base);
    free(p);
}

int httpc_pool_set_token(httpc_pool *p, const char *token)
{
    static const char pfx[] = "Authorization: Bearer ";
    char *auth = NULL, *old;
    const char *t;

    if (token) {
        for (t = token; *t; t++)
            if ((unsigned char)*t <= ' ' || (unsigned char)*t >= 0x7f) {
                errno = EINVAL;
                return -1;
            }
        auth = malloc(sizeof pfx + strlen(token));
        if (!auth)
            return -1;
        memcpy(auth, pfx, sizeof pfx - 1);
        strcpy(auth + sizeof pfx - 1, token);
    }
    pthread_mutex_lock(&p->tok_mu);
    old = p->auth;
    p->auth = auth;
    pthread_mutex_unlock(&p->tok_mu);
    if (old) {
        explicit_bzero(old, strlen(old));
        free(old);
    }
    return 0;
}

static int is_absolute(const char *u)
{
    return strncasecmp(u, "http://", 7) == 0 ||
           strncasecmp(u, "https://", 8) == 0;
}

char *httpc_resolve(const httpc_pool *p, const char *url)
{
    char *out;
    size_t n;

    if (!url) {
        errno = EINVAL;
        return NULL;
    }
    if (is_absolute(url))
        return strdup(url);
    if (url[0] != '/' || url[1] == '/') {  /* "//host" is not ours either */
        errno = EINVAL;
        return NULL;
    }
    n = strlen(url);
    out = malloc(p->base_len + n + 1);
    if (!out)
        return NULL;
    memcpy(out, p->base, p->base_len);
    memcpy(out + p->base_len, url, n + 1);
    return out;
}

/* Whether url lies under the base URL, so that it may carry the token. */
static int under_base(const httpc_pool *p, const char *url)
{
    char c;
    if (strncasecmp(url, p->base, p->base_len) != 0)
        return 0;
    c = url[p->base_len];
    return c == '\0' || c == '/' || c == '?';
}

int httpc_pool_add_auth(httpc_pool *p, const char *url,
                        struct curl_slist **l)
{
    struct curl_slist *n;
    int ret = 0;

    if (!under_base(p, url))
        return 0;
    pthread_mutex_lock(&p->tok_mu);
    if (p->auth) {
        if ((n = curl_slist_append(*l, p->auth)))
            *l = n;
        else
            ret = -1;
    }
    pthread_mutex_unlock(&p->tok_mu);
    return ret;
}
