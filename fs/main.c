/* dbxfs: mounts a dbxd account as a local-first filesystem.
 *
 * Start-up order matters: everything that can fail with a message the
 * user must see (options, the cache lock, the server and credentials, the
 * mount itself) happens before the process detaches; threads start after
 * it (fork keeps only the calling thread). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "conn.h"
#include "dbxfs.h"
#include "log.h"
#include "ofile.h"
#include "ops.h"
#include "sdnotify.h"
#include "shared.h"
#include "staging.h"
#include "sync.h"
#include "tree.h"

#define ERRLEN 10240   /* room for two paths and a message */

static int mkdirs(const char *path)
{
    char buf[4096];

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0700) && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    return mkdir(buf, 0700) && errno != EEXIST ? -errno : 0;
}

/* One mount per cache: the lock is held for the process's life; the file
 * then holds its pid (tests and dbxctl find the mount's process there). */
static int lock_cache(const char *dir, char *err, size_t errlen)
{
    char path[4096], pid[32] = "";
    int fd;

    snprintf(path, sizeof(path), "%s/dbxfs.pid", dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, errlen, "cache %s is in use by another dbxfs (pid %s)", dir,
                 pid[0] ? pid : "?");
        close(fd);
        return -1;
    }
    return fd;
}

static void write_pid(int fd)
{
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

    if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) != n)
        log_warn("cannot write the pid file");
}

/* A mountpoint that is already a mount point (of anything) is busy. */
static int mounted_on(const char *mountpoint)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char line[8192], mnt[4096];
    int found = 0;

    while (f && !found && fgets(line, sizeof(line), f))
        found = sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 &&
                strcmp(mnt, mountpoint) == 0;
    if (f)
        fclose(f);
    return found;
}

/* The three parts of the cache; *what names the one that failed. */
static int open_cache(struct dbxfs *fs, const char **what)
{
    const struct dbxfs_opts *o = fs->opts;
    int rc;

    *what = "metadata store meta.lmdb";
    if ((rc = metadb_open(o->cache_dir, &fs->db)))
        return rc;
    *what = "block cache blocks.lmdb";
    if ((rc = blockcache_open(o->cache_dir, o->cache_size, &fs->bc)))
        return rc;
    *what = "staging directory";
    return staging_init(o->cache_dir);
}

static int open_state(struct dbxfs *fs, char *err, size_t errlen)
{
    const struct dbxfs_opts *o = fs->opts;
    int rc;

    const char *what;

    if ((rc = open_cache(fs, &what))) {
        snprintf(err, errlen, "cannot open the %s in %s: %s", what, o->cache_dir,
                 strerror(-rc));
        return rc;
    }
    fs->pool = httpc_pool_new(o->server, o->ca_file[0] ? o->ca_file : NULL);
    if (!fs->pool) {
        snprintf(err, errlen, "bad server URL %s", o->server);
        return -EINVAL;
    }
    if ((rc = conn_pool_new(fs)) || (rc = ofile_table_new(&fs->files))) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    rc = account_connect(fs, err, errlen);
    if (rc)
        return rc;
    if (tree_recover(fs))
        log_warn("cannot recover the state a crash left");
    if ((rc = shared_init(fs)))
        snprintf(err, errlen, "cannot set up %s: %s", SHARED_NAME, strerror(-rc));
    return rc;
}

static void close_state(struct dbxfs *fs)
{
    ofile_table_free(fs->files);
    conn_pool_free(fs);
    if (fs->pool)
        httpc_pool_free(fs->pool);
    int rc = fs->bc ? blockcache_close(fs->bc) : 0;

    if (rc)
        log_warn("block cache: saving its state at unmount: %s", strerror(-rc));
    metadb_close(fs->db);
}

/* In the background, log lines go to CACHE_DIR/dbxfs.log. */
static void redirect_log(const char *dir)
{
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/dbxfs.log", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
}

static int serve(struct dbxfs *fs, int lock_fd)
{
    struct fuse_loop_config cfg = { .clone_fd = 0, .max_idle_threads = 16 };
    int rc;

    if (fuse_daemonize(fs->opts->foreground))
        return -1;
    if (!fs->opts->foreground)
        redirect_log(fs->opts->cache_dir);
    write_pid(lock_fd);
    log_info("mounted %s@%s on %s", fs->opts->user, fs->opts->server,
             fs->opts->mountpoint);
    if (sync_start(fs))
        log_error("cannot start the background threads");
    /* A Type=notify unit (dbxfs -f under systemd) is up once mounted. */
    sdnotify("READY=1");
    rc = fs->opts->singlethread ? fuse_session_loop(fs->se)
                                : fuse_session_loop_mt(fs->se, &cfg);
    /* SIGTERM (systemctl stop), SIGINT, SIGHUP: the loop returns the
     * signal's number, and that is a clean stop. */
    if (rc > 0) {
        log_info("stopping on signal %d", rc);
        rc = 0;
    }
    sdnotify("STOPPING=1");
    sync_stop(fs);
    metadb_sync(fs->db);
    log_info("unmounted %s", fs->opts->mountpoint);
    return rc;
}

/* The source column of /proc/mounts, df and findmnt: USER@URL, as an fstab
 * line names it. Placed first, so a -o fsname= of the user's wins. */
static void add_fsname(struct dbxfs_opts *o)
{
    char arg[2 * CLIENTCONF_VALUE_MAX + 16];

    snprintf(arg, sizeof(arg), "-ofsname=%s@%s", o->user, o->server);
    /* a comma would split the option; \ needs escaping too */
    if (strpbrk(arg, ",\\"))
        snprintf(arg, sizeof(arg), "-ofsname=dbxfs");
    fuse_opt_insert_arg(&o->fuse_args, 1, arg);
}

static int mount_and_serve(struct dbxfs *fs, int lock_fd, char *err, size_t errlen)
{
    struct fuse_lowlevel_ops ops;
    int rc = -1;

    ops_fill(&ops);
    fuse_opt_add_arg(&fs->opts->fuse_args, "-odefault_permissions");
    add_fsname(fs->opts);
    fuse_opt_add_arg(&fs->opts->fuse_args, "-osubtype=dbxfs");
    fs->se = fuse_session_new(&fs->opts->fuse_args, &ops, sizeof(ops), fs);
    if (!fs->se) {
        snprintf(err, errlen, "cannot start a FUSE session (bad mount options?)");
        return -1;
    }
    if (fuse_set_signal_handlers(fs->se) == 0) {
        if (fuse_session_mount(fs->se, fs->opts->mountpoint))
            snprintf(err, errlen, "cannot mount on %s (is /dev/fuse usable?)",
                     fs->opts->mountpoint);
        else {
            rc = serve(fs, lock_fd);
            fuse_session_unmount(fs->se);
        }
        fuse_remove_signal_handlers(fs->se);
    }
    fuse_session_destroy(fs->se);
    fs->se = NULL;
    return rc;
}

static int run(struct dbxfs_opts *o, char *err, size_t errlen)
{
    /* copies_bytes: unknown until the first eviction pass counts them */
    struct dbxfs fs = { .opts = o, .cache_dir = o->cache_dir,
                        .copies_bytes = UINT64_MAX / 4 };
    int lock_fd, rc;

    if (mounted_on(o->mountpoint)) {
        snprintf(err, errlen, "%s is already mounted (busy)", o->mountpoint);
        return 1;
    }
    if ((rc = mkdirs(o->cache_dir))) {
        snprintf(err, errlen, "cannot create cache dir %s: %s", o->cache_dir,
                 strerror(-rc));
        return 1;
    }
    if ((lock_fd = lock_cache(o->cache_dir, err, errlen)) < 0)
        return 1;
    pthread_mutex_init(&fs.lock, NULL);
    atomic_store(&fs.online, 1);
    rc = open_state(&fs, err, errlen);
    if (rc)
        goto out;
    rc = mount_and_serve(&fs, lock_fd, err, errlen);
out:
    close_state(&fs);
    pthread_mutex_destroy(&fs.lock);
    close(lock_fd);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct dbxfs_opts o;
    char err[ERRLEN] = "";
    int rc;

    if (options_parse(argc, argv, &o, err, sizeof(err))) {
        fprintf(stderr, "dbxfs: %s\n", err);
        return 1;
    }
    if (o.show_help || o.show_version) {
        if (o.show_help)
            options_usage(argv[0]);
        else
            printf("dbxfs %s (libfuse %s)\n", DBX_VERSION, fuse_pkgversion());
        options_free(&o);
        return 0;
    }
    log_set_level((enum log_level)o.log_level);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = run(&o, err, sizeof(err));
    if (rc && err[0])
        fprintf(stderr, "dbxfs: %s\n", err);
    curl_global_cleanup();
    options_free(&o);
    return rc;
}
