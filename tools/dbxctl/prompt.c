/* prompt: see prompt.h. */
#include "prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* The signals that would otherwise end the process with echo still off. */
static const int prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
#define NSIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))

/* Does nothing: installed without SA_RESTART, it makes the blocked read()
 * return EINTR, so the terminal is restored on the way out. */
static void on_signal(int sig)
{
    (void)sig;
}

/* Byte by byte, so that nothing after the newline is taken from a stdin
 * that another program may read next. */
static int read_line(int fd, char *out, size_t outlen)
{
    size_t n = 0;
    int rc = 0;
    char ch;

    for (;;) {
        ssize_t r = read(fd, &ch, 1);
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (r == 0 || ch == '\n')
            break;
        if (n + 1 < outlen)
            out[n++] = ch;
        else
            rc = -EOVERFLOW;   /* keep reading: the rest is not for anyone */
    }
    if (n > 0 && out[n - 1] == '\r')
        n--;
    out[n] = '\0';
    if (rc == 0 && n == 0)
        rc = -ENODATA;
    return rc;
}

static int ask_tty(int fd, const char *question, char *out, size_t outlen)
{
    struct sigaction quiet = {.sa_handler = on_signal}, old[NSIGNALS];
    struct termios saved, noecho;
    int rc;

    if (tcgetattr(fd, &saved) != 0)
        return -errno;
    noecho = saved;
    /* ECHONL: the Enter still moves to the next line. */
    noecho.c_lflag = (noecho.c_lflag & ~(tcflag_t)ECHO) | ECHONL;
    sigemptyset(&quiet.sa_mask);
    for (size_t i = 0; i < NSIGNALS; i++)
        sigaction(prompt_signals[i], &quiet, &old[i]);
    if (tcsetattr(fd, TCSAFLUSH, &noecho) != 0) {
        rc = -errno;
        goto out;
    }
    rc = write(fd, question, strlen(question)) < 0 ? -errno : 0;
    if (rc == 0)
        rc = read_line(fd, out, outlen);
    tcsetattr(fd, TCSAFLUSH, &saved);
    if (rc == -EINTR)
        (void)!write(fd, "\n", 1);
out:
    for (size_t i = 0; i < NSIGNALS; i++)
        sigaction(prompt_signals[i], &old[i], NULL);
    return rc;
}

int prompt_password(const char *question, int from_stdin, char *out, size_t outlen)
{
    int fd, rc;

    if (outlen < 2)
        return -EOVERFLOW;
    out[0] = '\0';
    if (from_stdin || !isatty(STDIN_FILENO))
        return read_line(STDIN_FILENO, out, outlen);
    fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)   /* a terminal on stdin, but none to control: use stdin */
        return read_line(STDIN_FILENO, out, outlen);
    rc = ask_tty(fd, question, out, outlen);
    close(fd);
    return rc;
}
