/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The mailer (daemon/mailer.h): one thread, one queue, libcurl's SMTP (loaded
 * when the mailer starts: daemon/curl-library.h).
 *
 * A mail is composed at its first attempt and the same message (same
 * Message-ID) goes out on every retry. The queue holds pointers; the mail
 * being sent is out of it but still counted, so a failed one always finds
 * its slot again. A stop lets the thread send what is due within the grace
 * period (a transfer still running then is aborted) and drops the rest. */

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "core/mail.h"
#include "daemon/curl-library.h"
#include "daemon/mailer.h"
#include "log.h"
#include "macro.h"
#include "trusted-path.h"

#define USEC_PER_SEC_ UINT64_C(1000000)
#define PASSWORD_MAX 1024

struct pending {
        enum stitch_mail_kind kind;
        char *to, *link, *locale;
        char *message; /* composed at the first attempt; holds the link */
        size_t message_len;
        uint64_t first_usec, next_usec, delay_usec; /* CLOCK_MONOTONIC */
        unsigned attempts;
};

struct stitch_mailer {
        const struct stitch_config *config;
        struct stitch_mailer_options options;
        struct stitch_mail_templates *templates;
        char *url;      /* [Smtp] URL= with "/<domain of From>" for EHLO */
        char *password; /* wiped at free */
        bool require_tls;

        pthread_mutex_t lock;
        pthread_cond_t wake; /* on CLOCK_MONOTONIC */
        pthread_t thread;
        bool thread_started;
        struct pending *queue[STITCH_MAILER_QUEUE_MAX];
        size_t n_queue, n_sending; /* n_queue + n_sending <= STITCH_MAILER_QUEUE_MAX */
        bool stopping;
        _Atomic uint64_t stop_deadline_usec; /* 0 until a stop; then transfers past it abort */

        _Atomic uint64_t sent, failed;
        const struct stitch_curl *curl; /* loaded at new() */
};

static uint64_t now_usec(void) {
        return stitch_now_usec(CLOCK_MONOTONIC);
}

static struct pending *pending_free(struct pending *p) {
        if (!p)
                return NULL;
        free(p->to);
        erase_and_free(p->link);
        free(p->locale);
        if (p->message) {
                explicit_bzero(p->message, p->message_len);
                free(p->message);
        }
        free(p);
        return NULL;
}

bool stitch_smtp_host_is_loopback(const char *host) {
        struct in_addr a4;
        struct in6_addr a6;

        if (!host)
                return false;
        if (strcasecmp(host, "localhost") == 0)
                return true;
        if (inet_pton(AF_INET, host, &a4) == 1)
                return (ntohl(a4.s_addr) >> 24) == 127;
        if (inet_pton(AF_INET6, host, &a6) == 1)
                return IN6_IS_ADDR_LOOPBACK(&a6);
        return false;
}

static const char *kind_name(enum stitch_mail_kind kind) {
        return stitch_mail_kind_to_string(kind) ?: "?";
}

/* ---- the configuration ------------------------------------------------------------------------ */

/* Reads [Smtp] PasswordFile=: a trusted regular file, not readable by others; one line. */
static int read_password(const char *path, FILE *errors, char **ret) {
        _cleanup_close_ int fd = -EBADF;
        char buf[PASSWORD_MAX + 2];
        struct stat st;
        size_t len = 0;
        int r;

        if (stitch_check_trusted(path, false, "SMTP password file") < 0) {
                if (errors)
                        fprintf(errors, "%s: not trusted (see the log above)\n", path);
                return -EINVAL;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0) {
                r = -errno;
                if (errors)
                        fprintf(errors, "%s: %s\n", path, strerror(-r));
                return -EINVAL;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                if (errors)
                        fprintf(errors, "%s: not a regular file\n", path);
                return -EINVAL;
        }
        if (st.st_mode & 0007) {
                if (errors)
                        fprintf(errors, "%s: readable by others (mode %04o): make it 0600 or 0640\n", path,
                                (unsigned) (st.st_mode & 07777));
                return -EINVAL;
        }
        for (;;) {
                ssize_t k = read(fd, buf + len, sizeof(buf) - 1 - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        explicit_bzero(buf, sizeof(buf));
                        if (errors)
                                fprintf(errors, "%s: %s\n", path, strerror(-r));
                        return -EINVAL;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len > PASSWORD_MAX)
                        break;
        }
        buf[len] = 0;
        if (len > 0 && buf[len - 1] == '\n')
                buf[--len] = 0;
        if (len > 0 && buf[len - 1] == '\r')
                buf[--len] = 0;
        bool bad = len == 0 || len > PASSWORD_MAX || strlen(buf) != len || strpbrk(buf, "\r\n");
        if (bad) {
                explicit_bzero(buf, sizeof(buf));
                if (errors)
                        fprintf(errors, "%s: expected one line of at most %d bytes\n", path, PASSWORD_MAX);
                return -EINVAL;
        }
        if (ret) {
                *ret = strdup(buf);
                explicit_bzero(buf, sizeof(buf));
                if (!*ret)
                        return -ENOMEM;
        } else
                explicit_bzero(buf, sizeof(buf));
        return 0;
}

static int check_url(const struct stitch_config *c, FILE *errors, bool *ret_require_tls) {
        char host[256];
        bool smtps;

        if (!stitch_smtp_url_split(c->smtp_url, &smtps, host, sizeof(host), NULL)) {
                if (errors)
                        fprintf(errors, "[Smtp] URL=%s: expected smtp://HOST[:PORT] or smtps://HOST[:PORT]\n",
                                c->smtp_url);
                return -EINVAL;
        }
        if (!stitch_mail_address_valid(c->smtp_from)) {
                if (errors)
                        fprintf(errors, "[Smtp] From= is not a mail address\n");
                return -EINVAL;
        }
        /* smtps:// is TLS from the start; smtp:// must upgrade with STARTTLS unless it stays on
         * this machine. */
        if (ret_require_tls)
                *ret_require_tls = !smtps && !stitch_smtp_host_is_loopback(host);
        return 0;
}

int stitch_mailer_check_config(const struct stitch_config *c, FILE *errors) {
        _cleanup_(stitch_mail_templates_freep) struct stitch_mail_templates *t = NULL;
        bool bad = false;
        int r;

        if (isempty(c->smtp_url))
                return 0;
        if (check_url(c, errors, NULL) < 0)
                bad = true;
        if (!isempty(c->smtp_password_file)) {
                r = read_password(c->smtp_password_file, errors, NULL);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        bad = true;
        }
        r = stitch_mail_templates_load(c->smtp_template_directory, errors, &t);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                bad = true;
        return bad ? -EINVAL : 0;
}

/* ---- sending one mail -------------------------------------------------------------------------- */

struct upload {
        const char *data;
        size_t len, pos;
};

static size_t read_message(char *buf, size_t size, size_t n, void *userdata) {
        struct upload *u = userdata;
        size_t k = MIN(size * n, u->len - u->pos);
        memcpy(buf, u->data + u->pos, k);
        u->pos += k;
        return k;
}

/* A stop's grace period is over: abort the transfer. */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        struct stitch_mailer *m = userdata;
        uint64_t deadline = atomic_load(&m->stop_deadline_usec);
        return deadline != 0 && now_usec() >= deadline;
}

enum outcome {
        OUTCOME_SENT,
        OUTCOME_RETRY,
        OUTCOME_GIVE_UP,
};

static enum outcome attempt(struct stitch_mailer *m, struct pending *p) {
        char error[CURL_ERROR_SIZE] = "";
        struct curl_slist *rcpt = NULL;
        char from[300], to[300];
        CURL *curl;
        int r;

        if (!p->message) {
                const struct stitch_mail_request request = {
                        .kind = p->kind, .to = p->to, .link = p->link, .locale = p->locale,
                };
                r = stitch_mail_compose(m->templates, m->config, &request, stitch_now(), &p->message, &p->message_len);
                if (r < 0) {
                        log_error_errno(r, "Mail to %s (%s) cannot be composed: %m", p->to, kind_name(p->kind));
                        return OUTCOME_GIVE_UP;
                }
                /* The link is in the message now: the request's copy can go. */
                p->link = erase_and_free(p->link);
        }

        curl = m->curl->easy_init();
        if (!curl) {
                log_error("Mail to %s (%s) failed: cannot set up libcurl", p->to, kind_name(p->kind));
                return OUTCOME_RETRY;
        }
        snprintf(from, sizeof(from), "<%s>", m->config->smtp_from);
        snprintf(to, sizeof(to), "<%s>", p->to);
        rcpt = m->curl->slist_append(NULL, to);
        struct upload u = { .data = p->message, .len = p->message_len };
        long timeout_ms = (long) (m->options.timeout_usec / 1000);

        bool ok = rcpt && m->curl->easy_setopt(curl, CURLOPT_URL, m->url) == CURLE_OK &&
#if LIBCURL_VERSION_NUM >= 0x075500
                  m->curl->easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps") == CURLE_OK &&
#else
                  m->curl->easy_setopt(curl, CURLOPT_PROTOCOLS, (long) (CURLPROTO_SMTP | CURLPROTO_SMTPS)) == CURLE_OK &&
#endif
                  m->curl->easy_setopt(curl, CURLOPT_USE_SSL, (long) (m->require_tls ? CURLUSESSL_ALL : CURLUSESSL_NONE)) ==
                          CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_MAIL_FROM, from) == CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt) == CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_READFUNCTION, read_message) == CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_READDATA, &u) == CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t) p->message_len) == CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) == CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_NOPROGRESS, 0L) == CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_XFERINFODATA, m) == CURLE_OK &&
                  m->curl->easy_setopt(curl, CURLOPT_ERRORBUFFER, error) == CURLE_OK;
        /* The server's certificate is always verified (libcurl's default): by
         * the system's CAs, or by [Smtp] CAFile= for a private CA. */
        if (ok && m->config->smtp_ca_file)
                ok = m->curl->easy_setopt(curl, CURLOPT_CAINFO, m->config->smtp_ca_file) == CURLE_OK;
        if (ok && m->config->smtp_username)
                ok = m->curl->easy_setopt(curl, CURLOPT_USERNAME, m->config->smtp_username) == CURLE_OK &&
                     m->curl->easy_setopt(curl, CURLOPT_PASSWORD, m->password) == CURLE_OK;
        if (!ok) {
                m->curl->slist_free_all(rcpt);
                m->curl->easy_cleanup(curl);
                log_error("Mail to %s (%s) failed: cannot set up libcurl", p->to, kind_name(p->kind));
                return OUTCOME_RETRY;
        }

        CURLcode res = m->curl->easy_perform(curl);
        long code = 0;
        (void) m->curl->easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        m->curl->slist_free_all(rcpt);
        m->curl->easy_cleanup(curl);

        if (res == CURLE_OK)
                return OUTCOME_SENT;
        /* curl's message names the server's reply, never the message we sent. */
        log_warning("Mail to %s (%s) failed: %s%s%s (SMTP %ld)", p->to, kind_name(p->kind), m->curl->easy_strerror(res),
                    error[0] ? ": " : "", error, code);
        /* 5xx: the server refuses for good (an unknown recipient, bad credentials); 4xx and
         * network trouble may pass. */
        return code >= 500 && code < 600 ? OUTCOME_GIVE_UP : OUTCOME_RETRY;
}

/* ---- the thread ------------------------------------------------------------------------------- */

static void format_delay(uint64_t usec, char *buf, size_t size) {
        uint64_t s = (usec + USEC_PER_SEC_ / 2) / USEC_PER_SEC_;
        if (s >= 60)
                snprintf(buf, size, "%llumin %llus", (unsigned long long) (s / 60), (unsigned long long) (s % 60));
        else
                snprintf(buf, size, "%llus", (unsigned long long) s);
}

static void *sender_thread(void *userdata) {
        struct stitch_mailer *m = userdata;

        pthread_mutex_lock(&m->lock);
        for (;;) {
                uint64_t now = now_usec();
                uint64_t deadline = atomic_load(&m->stop_deadline_usec);
                if (m->stopping && now >= deadline)
                        break;

                size_t best = SIZE_MAX;
                for (size_t i = 0; i < m->n_queue; i++)
                        if (best == SIZE_MAX || m->queue[i]->next_usec < m->queue[best]->next_usec)
                                best = i;

                if (best == SIZE_MAX || m->queue[best]->next_usec > now) {
                        if (m->stopping && (best == SIZE_MAX || m->queue[best]->next_usec >= deadline))
                                break; /* nothing due within the grace period */
                        if (best == SIZE_MAX && !m->stopping)
                                pthread_cond_wait(&m->wake, &m->lock);
                        else {
                                uint64_t until = best == SIZE_MAX ? deadline : m->queue[best]->next_usec;
                                if (m->stopping)
                                        until = MIN(until, deadline);
                                struct timespec ts = {
                                        .tv_sec = (time_t) (until / USEC_PER_SEC_),
                                        .tv_nsec = (long) (until % USEC_PER_SEC_) * 1000,
                                };
                                (void) pthread_cond_timedwait(&m->wake, &m->lock, &ts);
                        }
                        continue;
                }

                struct pending *p = m->queue[best];
                m->queue[best] = m->queue[--m->n_queue];
                m->n_sending++;
                pthread_mutex_unlock(&m->lock);

                p->attempts++;
                enum outcome o = attempt(m, p);
                now = now_usec();
                if (o == OUTCOME_SENT) {
                        atomic_fetch_add(&m->sent, 1);
                        log_info("Mail to %s (%s) sent%s.", p->to, kind_name(p->kind),
                                 p->attempts > 1 ? " after a retry" : "");
                        p = pending_free(p);
                } else if (o == OUTCOME_GIVE_UP || now + p->delay_usec - p->first_usec > m->options.give_up_usec) {
                        atomic_fetch_add(&m->failed, 1);
                        log_error("Mail to %s (%s) given up after %u attempt%s.", p->to, kind_name(p->kind),
                                  p->attempts, p->attempts == 1 ? "" : "s");
                        p = pending_free(p);
                } else {
                        char delay[32];
                        p->next_usec = now + p->delay_usec;
                        format_delay(p->delay_usec, delay, sizeof(delay));
                        log_info("Mail to %s (%s): next attempt in %s.", p->to, kind_name(p->kind), delay);
                        p->delay_usec = MIN(p->delay_usec * 2, m->options.max_retry_usec);
                }

                pthread_mutex_lock(&m->lock);
                m->n_sending--;
                if (p)
                        m->queue[m->n_queue++] = p; /* its slot was kept: n_sending counted it */
        }

        if (m->n_queue > 0)
                log_warning("Dropping %zu pending mail%s at shutdown.", m->n_queue, m->n_queue == 1 ? "" : "s");
        for (size_t i = 0; i < m->n_queue; i++) {
                log_warning("Mail to %s (%s) dropped at shutdown.", m->queue[i]->to, kind_name(m->queue[i]->kind));
                m->queue[i] = pending_free(m->queue[i]);
                atomic_fetch_add(&m->failed, 1);
        }
        m->n_queue = 0;
        pthread_mutex_unlock(&m->lock);
        return NULL;
}

/* ---- the object ----------------------------------------------------------------------------- */

struct stitch_mailer *stitch_mailer_free(struct stitch_mailer *m) {
        if (!m)
                return NULL;
        if (m->thread_started) {
                pthread_mutex_lock(&m->lock);
                m->stopping = true;
                atomic_store(&m->stop_deadline_usec, now_usec() + m->options.grace_usec);
                pthread_cond_broadcast(&m->wake);
                pthread_mutex_unlock(&m->lock);
                pthread_join(m->thread, NULL);
                pthread_mutex_destroy(&m->lock);
                pthread_cond_destroy(&m->wake);
        }
        for (size_t i = 0; i < m->n_queue; i++)
                pending_free(m->queue[i]);
        m->templates = stitch_mail_templates_free(m->templates);
        erase_and_free(m->password);
        free(m->url);
        free(m);
        return NULL;
}

int stitch_mailer_new(const struct stitch_config *c, const struct stitch_mailer_options *options,
                      struct stitch_mailer **ret) {
        _cleanup_free_ char *errors = NULL;
        size_t errors_size = 0;
        struct stitch_mailer *m;
        int r;

        assert(c && ret);
        if (isempty(c->smtp_url))
                return -EINVAL;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->config = c;
        m->options = options ? *options : (struct stitch_mailer_options) {};
        if (m->options.first_retry_usec == 0)
                m->options.first_retry_usec = 5 * USEC_PER_SEC_;
        if (m->options.max_retry_usec == 0)
                m->options.max_retry_usec = 600 * USEC_PER_SEC_;
        if (m->options.give_up_usec == 0)
                m->options.give_up_usec = 3600 * USEC_PER_SEC_;
        if (m->options.timeout_usec == 0)
                m->options.timeout_usec = 30 * USEC_PER_SEC_;
        if (m->options.grace_usec == 0)
                m->options.grace_usec = 5 * USEC_PER_SEC_;

        /* Problems as lines in the log, the templates' with their file:line. */
        FILE *f = open_memstream(&errors, &errors_size);
        if (!f) {
                free(m);
                return -ENOMEM;
        }
        r = check_url(c, f, &m->require_tls);
        if (r >= 0 && !isempty(c->smtp_password_file))
                r = read_password(c->smtp_password_file, f, &m->password);
        if (r >= 0)
                r = stitch_mail_templates_load(c->smtp_template_directory, f, &m->templates);
        fclose(f);
        if (r < 0) {
                for (char *line = errors, *end; line && *line; line = end + 1) {
                        end = strchrnul(line, '\n');
                        log_error("Mail: %.*s", (int) (end - line), line);
                        if (!*end)
                                break;
                }
                stitch_mailer_free(m);
                return r == -ENOMEM ? r : -EINVAL;
        }

        const char *domain = strrchr(c->smtp_from, '@') + 1;
        if (asprintf(&m->url, "%s/%s", c->smtp_url, domain) < 0) { /* the path is curl's EHLO name */
                m->url = NULL;
                stitch_mailer_free(m);
                return -ENOMEM;
        }

        /* libcurl is mapped only by a daemon that sends mail. */
        m->curl = stitch_curl_load();
        if (!m->curl) {
                stitch_mailer_free(m);
                return log_error_errno(EIO, "Mail cannot go out without libcurl.");
        }

        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_mutex_init(&m->lock, NULL);
        pthread_cond_init(&m->wake, &attr);
        pthread_condattr_destroy(&attr);
        r = -pthread_create(&m->thread, NULL, sender_thread, m);
        if (r < 0) {
                pthread_mutex_destroy(&m->lock);
                pthread_cond_destroy(&m->wake);
                stitch_mailer_free(m);
                return log_error_errno(r, "Cannot start the mail thread: %m");
        }
        m->thread_started = true;

        log_info("Mail goes out through %s%s.", c->smtp_url,
                 m->require_tls ? " (STARTTLS required)" : "");
        *ret = m;
        return 0;
}

int stitch_mailer_send(struct stitch_mailer *m, const struct stitch_mail_request *r) {
        struct pending *p;

        assert(m && r);
        if (isempty(r->to) || isempty(r->link) || r->kind < 0 || r->kind >= _STITCH_MAIL_KIND_MAX)
                return -EINVAL;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->kind = r->kind;
        p->to = strdup(r->to);
        p->link = strdup(r->link);
        p->locale = r->locale ? strdup(r->locale) : NULL;
        if (!p->to || !p->link || (r->locale && !p->locale)) {
                pending_free(p);
                return -ENOMEM;
        }
        p->first_usec = p->next_usec = now_usec();
        p->delay_usec = m->options.first_retry_usec;

        pthread_mutex_lock(&m->lock);
        int ret = 0;
        if (m->stopping)
                ret = -ESHUTDOWN;
        else if (m->n_queue + m->n_sending >= STITCH_MAILER_QUEUE_MAX)
                ret = -ENOSPC;
        else {
                m->queue[m->n_queue++] = p;
                p = NULL;
                pthread_cond_signal(&m->wake);
        }
        pthread_mutex_unlock(&m->lock);

        if (p) {
                log_warning("Mail to %s (%s) not queued: %s", r->to, kind_name(r->kind),
                            ret == -ENOSPC ? "the queue is full" : "stopping");
                pending_free(p);
        }
        return ret;
}

int stitch_mailer_outbox_send(void *userdata, const struct stitch_mail_request *r) {
        return stitch_mailer_send(userdata, r);
}

void stitch_mailer_get_counters(struct stitch_mailer *m, struct stitch_mailer_counters *ret) {
        assert(ret);
        *ret = (struct stitch_mailer_counters) {};
        if (!m)
                return;
        ret->sent = atomic_load(&m->sent);
        ret->failed = atomic_load(&m->failed);
        pthread_mutex_lock(&m->lock);
        ret->queued = m->n_queue + m->n_sending;
        pthread_mutex_unlock(&m->lock);
}
