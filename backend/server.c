#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gc.h"
#include "http.h"
#include "log.h"
#include "sdnotify.h"

static int make_dir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    log_error("cannot create %s: %s", path, strerror(errno));
    return -1;
}

static int read_key(const char *path, uint8_t *key, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, key, len);
    int ok = fstat(fd, &st) == 0 && st.st_size == (off_t)len && n == (ssize_t)len;
    close(fd);
    if (!ok)
        log_error("key file %s is damaged (it must hold exactly %zu bytes)", path, len);
    else if (st.st_mode & 077)
        log_warn("key file %s is readable by others; chmod 600 it", path);
    return ok ? 0 : -2;
}

/* Reads a key file, or creates it (0600, fsynced) on first start. */
static int load_key(const char *dir, const char *name, uint8_t *key, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = read_key(path, key, len);
    if (rc != -1)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || RAND_bytes(key, (int)len) != 1 || write(fd, key, len) != (ssize_t)len || fsync(fd) != 0) {
        log_error("cannot create key file %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd), unlink(path);
        return -1;
    }
    close(fd);
    log_info("created key file %s", path);
    return 0;
}

int dbxd_open_stores(struct dbxd *d)
{
    char path[PATH_MAX];
    uint8_t chunk_key[CHUNKSTORE_KEY_LEN];
    const char *dir = d->cfg.data_dir;
    int rc = -1;
    umask(077);
    if (make_dir(dir) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/keys", dir);
    if (make_dir(path) != 0 || load_key(path, "chunk.key", chunk_key, sizeof chunk_key) != 0 ||
        load_key(path, "sign.key", d->sign_key, sizeof d->sign_key) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/meta", dir);
    if (ms_open(path, (size_t)d->cfg.map_size_mb << 20, &d->ms) != 0)
        goto out;
    snprintf(path, sizeof path, "%s/chunks", dir);
    if (chunkstore_open(path, chunk_key, &d->cs) != 0)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(chunk_key, sizeof chunk_key);
    if (rc)
        dbxd_close_stores(d);
    return rc;
}

void dbxd_close_stores(struct dbxd *d)
{
    chunkstore_close(d->cs);
    ms_close(d->ms);
    d->cs = NULL;
    d->ms = NULL;
    OPENSSL_cleanse(d->sign_key, sizeof d->sign_key);
}

int server_run(struct dbxd *d)
{
    sigset_t stop;
    int sig = 0, rc = -1;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    /* Blocked before any thread starts, so every thread inherits the mask
     * and only sigwait below receives them. */
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&d->stop_lock, NULL);
    pthread_cond_init(&d->stop_cond, NULL);
    if (dbxd_open_stores(d) != 0 || !(d->feed = feed_new()) ||
        !(d->logins = throttle_new(d->cfg.login_attempts)))
        goto out;
    if (http_start(d) != 0 || gc_thread_start(d) != 0)
        goto out;
    /* SIGHUP would kill an unprepared daemon; there is nothing to reload
     * (settings are read at start), so it only says so. */
    while (sigwait(&stop, &sig) == 0 && sig == SIGHUP)
        log_info("SIGHUP: nothing to reload (restart dbxd to apply new settings)");
    log_info("dbxd stopping (signal %d)", sig);
    sdnotify("STOPPING=1");
    rc = 0;
out:
    gc_thread_stop(d);
    if (d->feed)
        feed_shutdown(d->feed);  /* wakes long-polls so their threads end */
    http_stop(d);
    feed_free(d->feed);
    throttle_free(d->logins);
    d->feed = NULL;
    d->logins = NULL;
    dbxd_close_stores(d);
    pthread_cond_destroy(&d->stop_cond);
    pthread_mutex_destroy(&d->stop_lock);
    return rc;
}
