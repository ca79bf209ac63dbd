#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Written once at startup, before threads exist (see log.h). */
static enum log_level threshold = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* sd-daemon(3) prefixes: SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG. */
static const char *const journal_prefixes[] = {"<3>", "<4>", "<6>", "<7>"};

/* JOURNAL_STREAM ("DEV:INODE", systemd.exec(5)) names the stream that
 * systemd connected to journald; read once. */
static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static int journal_known;
static unsigned long long journal_dev, journal_ino;

static void journal_parse(void)
{
    const char *v = getenv("JOURNAL_STREAM");
    journal_known = v && sscanf(v, "%llu:%llu", &journal_dev, &journal_ino) == 2;
}

/* Whether stderr is journald's stream now: it may have been redirected
 * since (dbxfs sends it to its log file when it detaches), so it is
 * checked on each line. journald stamps the time itself and takes the
 * level from the <N> prefix. */
static int to_journal(void)
{
    struct stat st;
    pthread_once(&journal_once, journal_parse);
    return journal_known && fstat(STDERR_FILENO, &st) == 0 &&
           (unsigned long long)st.st_dev == journal_dev &&
           (unsigned long long)st.st_ino == journal_ino;
}

void log_set_level(enum log_level level) { threshold = level; }

int log_enabled(enum log_level level) { return level <= threshold; }

int log_level_parse(const char *name)
{
    for (int i = 0; i <= LOG_DEBUG; i++)
        if (name && strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char line[2048];
    int n;
    if (to_journal()) {
        n = snprintf(line, sizeof line, "%s", journal_prefixes[level]);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level]);
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    /* One call, one line: a control character in a name or a path (a
     * decoded %0A) must not start a line of its own that looks real. */
    for (size_t i = (size_t)n; i < len; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;  /* nowhere left to report a failing stderr */
}
