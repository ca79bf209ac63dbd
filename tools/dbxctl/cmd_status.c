/* cmd_status: `dbxctl status`: the sync state of a dbxfs mount, read from
 * the mount itself (the user.dbxfs.status xattr of its root, written by
 * fs/sync/status.c), so it works offline and needs no login. Shown as a summary
 * (online or not, what waits to be sent, each upload with a progress bar,
 * the last exchange with dbxd, conflicts), or as the raw JSON (--json);
 * --watch redraws it every second. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "mountpath.h"
#include "transfer.h"
#include "units.h"
#include "wire.h"

#define BAR_WIDTH 24

enum { OPT_WATCH = CTL_OPT_OWN, OPT_JSON, OPT_COUNT };

struct status_args {
    const char *path;      /* NULL: the current directory's mount */
    int watch, json;
    unsigned long count;   /* refreshes before stopping; 0: until Ctrl-C */
};

/* Digits only: strtoul would also take "-1" and " 5". */
static int parse_count(const char *s, unsigned long *out)
{
    size_t digits = strspn(s, "0123456789");

    if (digits == 0 || digits > 9 || s[digits] != '\0')
        return -1;
    *out = strtoul(s, NULL, 10);
    return *out > 0 ? 0 : -1;
}

static int status_parse(struct ctl *c, int argc, char **argv, struct status_args *a)
{
    static const struct option opts[] = {
        {"watch", no_argument, NULL, OPT_WATCH},
        {"json", no_argument, NULL, OPT_JSON},
        {"count", required_argument, NULL, OPT_COUNT},
        CTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    int key, rc;

    while ((rc = ctl_option(c, argc, argv, opts, &key)) == CTL_OK && key) {
        switch (key) {
        case OPT_WATCH:
            a->watch = 1;
            break;
        case OPT_JSON:
            a->json = 1;
            break;
        case OPT_COUNT:
            if (parse_count(optarg, &a->count) != 0)
                return ctl_usage_error(c, "bad --count '%s' (a number above 0)", optarg);
            a->watch = 1;
            break;
        }
    }
    if (rc || (rc = ctl_want_args(c, argc - optind, 0, 1)))
        return rc;
    a->path = optind < argc ? argv[optind] : NULL;
    return CTL_OK;
}

/* ---- the summary ---- */

/* A field the mount did not give (older or newer dbxfs) reads as 0. */
static uint64_t num(const cJSON *obj, const char *key)
{
    uint64_t v = 0;

    return wire_get_uint(obj, key, UINT64_MAX, &v) == WIRE_OK ? v : 0;
}

static const char *phase_name(uint64_t phase)
{
    switch (phase) {
    case TRANSFER_SCAN: return "scanning";
    case TRANSFER_SEND: return "sending";
    case TRANSFER_COMMIT: return "committing";
    case TRANSFER_DONE: return "done";
    default: return "starting";
    }
}

/* "12 of 89 chunks"; while scanning, the total is not known yet. */
static void print_chunks(uint64_t done, uint64_t total)
{
    if (total)
        printf("%llu of %llu chunks", (unsigned long long)done, (unsigned long long)total);
    else
        printf("%llu chunks", (unsigned long long)done);
}

/* Two lines: bar, percentage, phase, name; then amounts, rate, time left.
 * The rate is over the whole upload so far (the mount gives its start). */
static void render_upload(const cJSON *u, time_t now)
{
    uint64_t done = num(u, "bytes_done"), total = num(u, "bytes_total");
    uint64_t started = num(u, "started");
    uint64_t secs = started && (uint64_t)now > started ? (uint64_t)now - started : 0;
    char bar[BAR_WIDTH + 3], d[32], t[32], rate[32], left[32];
    const char *name = "?";

    wire_get_string(u, "name", &name);
    units_bar(done, total, BAR_WIDTH, bar, sizeof(bar));
    units_bytes(done, d, sizeof(d));
    units_bytes(total, t, sizeof(t));
    printf("  %s %3d%%  %-10s %s\n", bar, total ? (int)(done * 100 / total) : 0,
           phase_name(num(u, "phase")), name);
    printf("  %s of %s, ", d, t);
    print_chunks(num(u, "chunks_done"), num(u, "chunks_total"));
    if (secs > 0 && done > 0) {
        units_bytes(done / secs, rate, sizeof(rate));
        units_duration((total > done ? total - done : 0) * secs / done, left, sizeof(left));
        printf(", %s/s, %s left", rate, left);
    }
    printf("\n");
}

static const char *headline(const cJSON *s)
{
    int online = 0, unauthorized = 0;

    wire_get_bool(s, "online", &online);
    wire_get_bool(s, "unauthorized", &unauthorized);
    if (unauthorized)
        return "dbxd refuses the mount's token: run `dbxctl login`, then mount again";
    if (!online)
        return "offline: changes are kept here and sent when dbxd is reachable";
    if (num(s, "parked"))
        return "online; dbxd refused some changes (kept here, tried again later)";
    if (num(s, "queued") || num(s, "dirty") || num(s, "uploading") || num(s, "waiting"))
        return "online, syncing";
    return "online, up to date";
}

static void render_last_sync(uint64_t last, time_t now)
{
    char ago[32], when[32];

    if (!last) {
        printf("  last sync   never\n");
        return;
    }
    units_duration((uint64_t)now > last ? (uint64_t)now - last : 0, ago, sizeof(ago));
    units_time((int64_t)last, when, sizeof(when));
    printf("  last sync   %s ago (%s)\n", ago, when);
}

/* A name from the mount, with control characters shown as '?': names come
 * from every device of the account. */
static void print_safe(const char *s)
{
    for (; s && *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* What dbxd would not take: one line each, with dbxd's reason. */
static void render_problems(const cJSON *s)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(s, "problems"), *p;
    uint64_t parked = num(s, "parked"), behind = num(s, "held_back");

    if (!parked)
        return;
    printf("  refused     %llu change%s set aside", (unsigned long long)parked,
           parked == 1 ? "" : "s");
    if (behind)
        printf(", %llu waiting behind them", (unsigned long long)behind);
    printf("\n");
    cJSON_ArrayForEach(p, list) {
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(p, "op");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(p, "why");
        printf("    %s \"", cJSON_IsString(op) ? op->valuestring : "?");
        print_safe(cJSON_IsString(name) ? name->valuestring : "");
        printf("\": ");
        print_safe(cJSON_IsString(why) ? why->valuestring : "");
        printf(" (again in %llus)\n", (unsigned long long)num(p, "retry_in"));
    }
}

static void render(const char *root, const cJSON *s, time_t now)
{
    const cJSON *uploads = cJSON_GetObjectItemCaseSensitive(s, "uploads"), *u;
    uint64_t queued = num(s, "queued"), dirty = num(s, "dirty");
    char used[32], cap[32];

    printf("%s: %s\n", root, headline(s));
    printf("  queued      %llu operation%s\n", (unsigned long long)queued,
           queued == 1 ? "" : "s");
    printf("  to upload   %llu file%s, %llu uploading now\n", (unsigned long long)dirty,
           dirty == 1 ? "" : "s", (unsigned long long)num(s, "uploading"));
    render_last_sync(num(s, "last_sync"), now);
    if (num(s, "waiting"))
        printf("  waiting     %llu node%s for changes of this device to settle\n",
               (unsigned long long)num(s, "waiting"), num(s, "waiting") == 1 ? "" : "s");
    printf("  conflicts   %llu since the mount\n", (unsigned long long)num(s, "conflicts"));
    render_problems(s);
    units_bytes(num(s, "cache_bytes"), used, sizeof(used));
    units_bytes(num(s, "cache_cap"), cap, sizeof(cap));
    printf("  cache       %s of %s\n", used, cap);
    cJSON_ArrayForEach(u, uploads)
        render_upload(u, now);
}

/* ---- the loop ---- */

static int show_once(struct ctl *c, const struct mountpath *mp, const struct status_args *a,
                     int first)
{
    char err[PATH_MAX + 256], *raw = NULL;
    cJSON *s = NULL;
    int rc = CTL_OK;

    if (mountpath_status(mp, &raw, err, sizeof(err)) != 0)
        return ctl_error(c, "%s", err);
    if (a->json) {
        printf("%s\n", raw);
        goto out;
    }
    if (!(s = cJSON_Parse(raw))) {
        rc = ctl_error(c, "%s: the mount's status is not JSON", mp->root);
        goto out;
    }
    /* A terminal is redrawn in place; a pipe or file gets one block per refresh. */
    if (a->watch && isatty(STDOUT_FILENO))
        printf("\033[H\033[J");
    else if (!first)
        printf("\n");
    render(mp->root, s, time(NULL));
out:
    fflush(stdout);
    cJSON_Delete(s);
    free(raw);
    return rc;
}

static int status_run(struct ctl *c, int argc, char **argv)
{
    struct status_args a = {0};
    struct mountpath mp;
    char err[PATH_MAX + 256];
    int rc;

    if ((rc = status_parse(c, argc, argv, &a)))
        return rc;
    rc = a.path ? mountpath_find(a.path, &mp, err, sizeof(err))
                : mountpath_find_default(&mp, err, sizeof(err));
    if (rc)
        return ctl_error(c, "%s", err);
    for (unsigned long i = 0;; i++) {
        if ((rc = show_once(c, &mp, &a, i == 0)))
            return rc;
        if (!a.watch || (a.count && i + 1 >= a.count))
            return CTL_OK;
        sleep(1);
    }
}

const struct ctl_cmd ctl_cmd_status = {
    "status", "[PATH] [--watch [--count N]] [--json]",
    "show the sync state of the dbxfs mount PATH lies in",
    "Without PATH: the mount of the current directory, or the only one.\n"
    "Read from the mount itself: works offline and needs no login.\n\n"
    "  --watch      redraw every second until Ctrl-C\n"
    "  --count N    with --watch: stop after N refreshes\n"
    "  --json       the raw state, one JSON object per line\n",
    status_run,
};
