/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading passwords and keys: never from argv, never echoed, wiped after use.
 * Reads go straight into one fixed-size buffer with read(2), so no stdio
 * buffer or realloc leaves a copy behind. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "macro.h"
#include "stitchctl.h"

static volatile sig_atomic_t caught_signal;

static void on_signal(int sig) {
        caught_signal = sig;
}

/* Signals that would leave the terminal without echo if they hit us mid-read. */
static const int tty_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU };

static char *secret_buffer_new(void) {
        /* + 1 for the NUL, + 1 to notice input that is too long */
        return calloc(1, STITCHCTL_SECRET_MAX + 2);
}

static void secret_buffer_free(char *buf) {
        explicit_bzero(buf, STITCHCTL_SECRET_MAX + 2);
        free(buf);
}

/* Reads one line from fd into buf (size STITCHCTL_SECRET_MAX + 2) byte by
 * byte, so nothing after the newline is consumed. Returns the length without
 * the newline, -E2BIG if too long, -ENODATA at EOF before any byte,
 * -EINTR if a signal arrived, -errno. */
static ssize_t read_line(int fd, char *buf) {
        size_t n = 0;

        for (;;) {
                char c;
                ssize_t k = read(fd, &c, 1);
                if (k < 0) {
                        if (errno == EINTR && !caught_signal)
                                continue;
                        return -errno;
                }
                if (k == 0) {
                        if (n == 0)
                                return -ENODATA;
                        break;
                }
                if (c == '\n')
                        break;
                if (n >= STITCHCTL_SECRET_MAX) {
                        explicit_bzero(&c, sizeof(c));
                        return -E2BIG;
                }
                buf[n++] = c;
                explicit_bzero(&c, sizeof(c));
        }
        if (n > 0 && buf[n - 1] == '\r')
                buf[--n] = 0;
        buf[n] = 0;
        return (ssize_t) n;
}

static ssize_t read_tty_without_echo(const char *prompt, char *buf) {
        struct termios old, quiet;
        struct sigaction sa = { .sa_handler = on_signal }, saved[ELEMENTSOF(tty_signals)];
        _cleanup_close_ int tty = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        int out = tty >= 0 ? tty : STDERR_FILENO;
        ssize_t r;

        if (tcgetattr(STDIN_FILENO, &old) < 0)
                return -errno;

        /* no SA_RESTART: a signal must interrupt read() so we can restore the terminal */
        sigemptyset(&sa.sa_mask);
        caught_signal = 0;
        for (size_t i = 0; i < ELEMENTSOF(tty_signals); i++)
                (void) sigaction(tty_signals[i], &sa, &saved[i]);

        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) (ECHO | ECHOE | ECHOK | ECHONL);
        quiet.c_lflag |= ICANON;
        if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0) {
                r = -errno;
                goto restore_signals;
        }

        if (prompt)
                (void) !write(out, prompt, strlen(prompt));
        r = read_line(STDIN_FILENO, buf);
        (void) !write(out, "\n", 1);

        (void) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);

restore_signals:
        for (size_t i = 0; i < ELEMENTSOF(tty_signals); i++)
                (void) sigaction(tty_signals[i], &saved[i], NULL);
        if (caught_signal) {
                explicit_bzero(buf, STITCHCTL_SECRET_MAX + 2);
                (void) raise(caught_signal); /* now with the terminal restored */
                return -EINTR;
        }
        return r;
}

static int secret_error(ssize_t r, const char *what) {
        switch (r) {
        case -E2BIG:
                return stitchctl_fail(EXIT_REFUSED, "%s is too long (at most %d bytes)", what, STITCHCTL_SECRET_MAX);
        case -ENODATA:
                return stitchctl_fail(EXIT_REFUSED, "no %s on standard input", what);
        case -EINTR:
                return stitchctl_fail(EXIT_REFUSED, "interrupted");
        default:
                errno = (int) -r;
                return stitchctl_fail(EXIT_REFUSED, "cannot read the %s: %m", what);
        }
}

static int finish(char *buf, size_t len, const char *what, char **ret) {
        if (memchr(buf, 0, len)) {
                secret_buffer_free(buf);
                return stitchctl_fail(EXIT_REFUSED, "the %s contains a NUL byte", what);
        }
        *ret = buf;
        return EXIT_OK;
}

int stitchctl_read_secret_line(const char *prompt, char **ret) {
        char *buf = secret_buffer_new();
        ssize_t r;

        if (!buf)
                return stitchctl_oom();

        if (isatty(STDIN_FILENO))
                r = read_tty_without_echo(prompt, buf);
        else
                r = read_line(STDIN_FILENO, buf);
        if (r < 0) {
                secret_buffer_free(buf);
                return secret_error(r, "secret");
        }
        return finish(buf, (size_t) r, "secret", ret);
}

int stitchctl_read_answer(const char *prompt, bool echo, char **ret) {
        if (!echo)
                return stitchctl_read_secret_line(prompt, ret);

        char *buf = secret_buffer_new();
        if (!buf)
                return stitchctl_oom();
        if (isatty(STDIN_FILENO)) {
                fputs(prompt, stderr);
                fflush(stderr);
        }
        ssize_t r = read_line(STDIN_FILENO, buf);
        if (r < 0) {
                secret_buffer_free(buf);
                return secret_error(r, "answer");
        }
        return finish(buf, (size_t) r, "answer", ret);
}

int stitchctl_read_password_stdin(const char *prompt, char **ret) {
        char *buf = secret_buffer_new();
        size_t n = 0;

        if (!buf)
                return stitchctl_oom();

        if (isatty(STDIN_FILENO)) {
                ssize_t r = read_tty_without_echo(prompt, buf);
                if (r < 0) {
                        secret_buffer_free(buf);
                        return secret_error(r, "password");
                }
                n = (size_t) r;
        } else {
                /* all of stdin, so a password may come from a file as it is */
                for (;;) {
                        ssize_t k = read(STDIN_FILENO, buf + n, STITCHCTL_SECRET_MAX + 1 - n);
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                int e = errno;
                                secret_buffer_free(buf);
                                return secret_error(-e, "password");
                        }
                        if (k == 0)
                                break;
                        n += (size_t) k;
                        if (n > STITCHCTL_SECRET_MAX) {
                                secret_buffer_free(buf);
                                return secret_error(-E2BIG, "password");
                        }
                }
                /* one trailing newline, as "echo" and editors add it */
                if (n > 0 && buf[n - 1] == '\n') {
                        buf[--n] = 0;
                        if (n > 0 && buf[n - 1] == '\r')
                                buf[--n] = 0;
                }
        }

        if (n == 0) {
                free(buf);
                return stitchctl_fail(EXIT_REFUSED, "empty password on standard input");
        }
        return finish(buf, n, "password", ret);
}

bool stitchctl_secret_equal(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        unsigned char diff = la != lb;

        /* walk the longer one completely so timing does not depend on where they differ */
        for (size_t i = 0; i < MAX(la, lb); i++) {
                unsigned char x = i < la ? (unsigned char) a[i] : 0;
                unsigned char y = i < lb ? (unsigned char) b[i] : 0;
                diff |= x ^ y;
        }
        return diff == 0;
}
