/* test_staging: the mount's staging files (cache/staging.h) in a real
 * temporary cache directory. */
#include "staging.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static char *staging_test_dir(void)
{
    char tmpl[] = "/tmp/test_staging.XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static int staging_test_rm_file(const char *dir, const char *name)
{
    char path[STAGING_PATH_MAX];
    snprintf(path, sizeof(path), "%s/staging/%s", dir, name);
    return unlink(path);
}

/* Names in the staging directory that are not a node's staging file. */
static const char *const staging_test_odd[] = {
    "0123", "zzzzzzzzzzzzzzzz", "000000000000000g", "0000000000000001.part", "README",
};
#define STAGING_TEST_NODD (sizeof(staging_test_odd) / sizeof(staging_test_odd[0]))

/* Removes exactly what the tests make (the ids they use and the odd
 * names), then the directories: a file a test leaked behind, such as a
 * temporary, makes the rmdir fail and so the test. */
static void staging_test_cleanup(char *dir)
{
    static const uint64_t ids[] = { 1, 2, 3, 4, 5, 6, 7, 0xabcdef, 0xfedcba9876543210ull };
    char path[STAGING_PATH_MAX];

    if (!dir)
        return;
    for (size_t i = 0; i < STAGING_TEST_NODD; i++)
        staging_test_rm_file(dir, staging_test_odd[i]);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        staging_remove(dir, ids[i]);
    snprintf(path, sizeof(path), "%s/staging", dir);
    CHECK(rmdir(path) == 0 || errno == ENOENT);
    CHECK_EQ(rmdir(dir), 0);
    free(dir);
}

static int staging_test_write(const char *dir, uint64_t id, const char *text)
{
    int fd = staging_open(dir, id, O_WRONLY | O_CREAT | O_TRUNC);
    ssize_t len = (ssize_t)strlen(text);
    int ok;

    if (fd < 0)
        return fd;
    ok = write(fd, text, (size_t)len) == len;
    close(fd);
    return ok ? 0 : -EIO;
}

/* The whole staging file of id as a string in buf, or a negative errno. */
static int staging_test_read(const char *dir, uint64_t id, char *buf, size_t size)
{
    int fd = staging_open(dir, id, O_RDONLY);
    ssize_t n;

    if (fd < 0)
        return fd;
    n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -EIO;
    buf[n] = '\0';
    return 0;
}

/* ---- tests ---- */

static void test_init_and_path(void)
{
    char *dir = staging_test_dir();
    char path[STAGING_PATH_MAX], want[STAGING_PATH_MAX];
    struct stat st;

    if (!CHECK(dir))
        return;
    CHECK_EQ(staging_init(dir), 0);
    CHECK_EQ(staging_init(dir), 0);      /* a second mount of the same cache */
    snprintf(want, sizeof(want), "%s/staging", dir);
    if (CHECK_EQ(stat(want, &st), 0)) {
        CHECK(S_ISDIR(st.st_mode));
        CHECK_EQ(st.st_mode & 0777, 0700);   /* file contents: owner only */
    }
    /* zero-padded lowercase hex: one name per id, sorted like the ids */
    staging_path(dir, 0xabcdef, path);
    snprintf(want, sizeof(want), "%s/staging/0000000000abcdef", dir);
    CHECK_STR(path, want);
    staging_path(dir, 0xfedcba9876543210ull, path);
    snprintf(want, sizeof(want), "%s/staging/fedcba9876543210", dir);
    CHECK_STR(path, want);
    staging_test_cleanup(dir);
}

static void test_init_fails_without_parent(void)
{
    char *dir = staging_test_dir();
    char missing[STAGING_PATH_MAX + 16];

    if (!CHECK(dir))
        return;
    snprintf(missing, sizeof(missing), "%s/not-there", dir);
    CHECK_EQ(staging_init(missing), -ENOENT);
    staging_test_cleanup(dir);
}

static void test_open_remove(void)
{
    char *dir = staging_test_dir();
    char buf[64], path[STAGING_PATH_MAX];
    struct stat st;
    mode_t old = umask(022);
    int fd;

    if (!CHECK(dir) || !CHECK_EQ(staging_init(dir), 0))
        goto out;
    CHECK_EQ(staging_open(dir, 1, O_RDONLY), -ENOENT);   /* no copy (evicted) */
    CHECK_EQ(staging_test_write(dir, 1, "hello"), 0);
    staging_path(dir, 1, path);
    if (CHECK_EQ(stat(path, &st), 0))
        CHECK_EQ(st.st_mode & 0777, 0600);
    CHECK_EQ(staging_test_read(dir, 1, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "hello");
    /* O_EXCL is passed through: an existing copy is not replaced */
    fd = staging_open(dir, 1, O_WRONLY | O_CREAT | O_EXCL);
    CHECK_EQ(fd, -EEXIST);
    if (fd >= 0)
        close(fd);
    /* the fd is close-on-exec: a helper the mount runs gets no copy */
    fd = staging_open(dir, 1, O_RDONLY);
    if (CHECK(fd >= 0)) {
        CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
    }
    CHECK_EQ(staging_remove(dir, 1), 0);
    CHECK_EQ(staging_open(dir, 1, O_RDONLY), -ENOENT);
    CHECK_EQ(staging_remove(dir, 1), 0);                 /* absent: fine */
    CHECK_EQ(staging_remove(dir, 2), 0);
out:
    umask(old);
    staging_test_cleanup(dir);
}

static void test_drop(void)
{
    char *dir = staging_test_dir();
    struct staging_ref drop;
    int fd;

    if (!CHECK(dir) || !CHECK_EQ(staging_init(dir), 0))
        goto out;
    CHECK_EQ(staging_test_write(dir, 3, "three"), 0);
    CHECK_EQ(staging_test_write(dir, 4, "four"), 0);
    drop = (struct staging_ref){ dir, 3 };
    staging_drop(&drop);
    CHECK_EQ(staging_open(dir, 3, O_RDONLY), -ENOENT);
    staging_drop(&drop);                                 /* twice: harmless */
    fd = staging_open(dir, 4, O_RDONLY);                 /* only the one named */
    if (CHECK(fd >= 0))
        close(fd);
out:
    staging_test_cleanup(dir);
}

static int staging_test_count(void *arg, uint64_t id, const struct stat *st)
{
    (*(int *)arg)++;
    return 0;
}

static void test_tmp_commit(void)
{
    char *dir = staging_test_dir();
    char tmp[STAGING_PATH_MAX], prefix[STAGING_PATH_MAX], buf[64];
    int fd, n = 0;

    if (!CHECK(dir) || !CHECK_EQ(staging_init(dir), 0))
        goto out;
    CHECK_EQ(staging_test_write(dir, 5, "old"), 0);
    fd = staging_tmp(dir, 5, tmp);
    if (!CHECK(fd >= 0))
        goto out;
    /* in the staging directory, so the rename cannot cross file systems */
    snprintf(prefix, sizeof(prefix), "%s/staging/0000000000000005.", dir);
    CHECK(strncmp(tmp, prefix, strlen(prefix)) == 0);
    CHECK_EQ(write(fd, "new content", 11), 11);
    close(fd);
    /* until it is committed the copy is the old one, and the temporary is
     * not a node's staging file */
    CHECK_EQ(staging_test_read(dir, 5, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "old");
    CHECK_EQ(staging_each(dir, staging_test_count, &n), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(staging_commit(dir, 5, tmp), 0);
    CHECK_EQ(staging_test_read(dir, 5, buf, sizeof(buf)), 0);
    CHECK_STR(buf, "new content");
    CHECK_EQ(access(tmp, F_OK), -1);                     /* renamed, not copied */
    CHECK_EQ(staging_commit(dir, 5, tmp), -ENOENT);      /* nothing to commit */
    /* two temporaries of one node do not collide */
    char tmp2[STAGING_PATH_MAX];
    int a = staging_tmp(dir, 6, tmp), b = staging_tmp(dir, 6, tmp2);
    CHECK(a >= 0 && b >= 0);
    CHECK(strcmp(tmp, tmp2) != 0);
    if (a >= 0) {
        close(a);
        unlink(tmp);
    }
    if (b >= 0) {
        close(b);
        unlink(tmp2);
    }
out:
    staging_test_cleanup(dir);
}

static void test_tmp_without_init(void)
{
    char *dir = staging_test_dir();
    char tmp[STAGING_PATH_MAX];

    if (!CHECK(dir))
        return;
    CHECK_EQ(staging_tmp(dir, 1, tmp), -ENOENT);
    staging_test_cleanup(dir);
}

struct staging_test_seen {
    uint64_t ids[8];
    off_t sizes[8];
    int n;
    int stop_after;   /* 0: never */
};

static int staging_test_record(void *arg, uint64_t id, const struct stat *st)
{
    struct staging_test_seen *s = arg;

    if (s->n < 8) {
        s->ids[s->n] = id;
        s->sizes[s->n] = st->st_size;
    }
    s->n++;
    return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

/* The size each id was written with in test_each_filters. */
static off_t staging_test_size_of(uint64_t id)
{
    return id == 0xfedcba9876543210ull ? 3 : (off_t)id;
}

static void test_each_filters(void)
{
    char *dir = staging_test_dir();
    struct staging_test_seen seen = { .n = 0 };
    char path[STAGING_PATH_MAX], tmp[STAGING_PATH_MAX];
    int found_big = 0, found_one = 0, found_two = 0, fd;

    if (!CHECK(dir))
        return;
    CHECK_EQ(staging_each(dir, staging_test_record, &seen), -ENOENT);   /* no staging dir */
    if (!CHECK_EQ(staging_init(dir), 0))
        goto out;
    CHECK_EQ(staging_test_write(dir, 1, "x"), 0);
    CHECK_EQ(staging_test_write(dir, 2, "xy"), 0);
    CHECK_EQ(staging_test_write(dir, 0xfedcba9876543210ull, "xyz"), 0);
    for (size_t i = 0; i < STAGING_TEST_NODD; i++) {
        snprintf(path, sizeof(path), "%s/staging/%s", dir, staging_test_odd[i]);
        fd = open(path, O_WRONLY | O_CREAT, 0600);
        if (CHECK(fd >= 0))
            close(fd);
    }
    fd = staging_tmp(dir, 7, tmp);               /* a copy being built */
    CHECK(fd >= 0);
    CHECK_EQ(staging_each(dir, staging_test_record, &seen), 0);
    CHECK_EQ(seen.n, 3);
    for (int i = 0; i < seen.n && i < 8; i++) {
        found_one += seen.ids[i] == 1;
        found_two += seen.ids[i] == 2;
        found_big += seen.ids[i] == 0xfedcba9876543210ull;
        CHECK_EQ(seen.sizes[i], staging_test_size_of(seen.ids[i]));
    }
    CHECK(found_one == 1 && found_two == 1 && found_big == 1);
    /* the walk stops at the first non-zero return and returns it */
    seen = (struct staging_test_seen){ .stop_after = 2 };
    CHECK_EQ(staging_each(dir, staging_test_record, &seen), 42);
    CHECK_EQ(seen.n, 2);
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
out:
    staging_test_cleanup(dir);
}

int main(void)
{
    test_init_and_path();
    test_init_fails_without_parent();
    test_open_remove();
    test_drop();
    test_tmp_commit();
    test_tmp_without_init();
    test_each_filters();
    return unit_done();
}
