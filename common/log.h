/* log: leveled log lines to stderr, where journald or a terminal picks them
 * up. One line per call, written with a single write(2) so lines from
 * different threads never interleave; control characters in the message
 * become '?', so no argument can forge a line of its own.
 *
 * On a terminal or in a file a line is "2026-11-24T20:03:15.912Z info MSG".
 * When stderr is journald's stream (JOURNAL_STREAM names it, as systemd sets
 * it for a service), it is "<6>MSG": journald adds the time and takes the
 * level from the sd-daemon(3) prefix (<3> error, <4> warn, <6> info, <7>
 * debug).
 *
 * Never pass secrets (tokens, signatures, passwords) to it: callers log
 * paths without query strings, and never a header or a request body. */
#ifndef DBX_LOG_H
#define DBX_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The threshold is process configuration: set once at startup, before any
 * thread starts, and only read afterwards. */
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);
/* "error", "warn", "info" or "debug" → level; -1 for anything else. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
