/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mail-send: drive the daemon's mailer (stitchd/daemon/mailer.c) from a
 * stitchd.conf, the way the core's outbox does, for tests/integration/test-mailer.sh.
 *
 *   mail-send [--first-retry SEC] [--grace SEC] [--wait SEC] [--kind confirm|reset]
 *             [--locale L] [--check] CONFIG TO COUNT
 *
 * Queues COUNT mails to TO, each with the link
 * https://auth.example.com/confirm?token=secret-link-N&tokenId=N, waits until
 * every one is sent or given up (at most --wait seconds, default 60), stops
 * the mailer and prints "sent=S failed=F queued=Q". Exit 0 when all were
 * sent, 1 otherwise, 2 when the mailer does not start. --check runs only
 * stitch_mailer_check_config() and prints its problems. */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "daemon/mailer.h"

#define USEC UINT64_C(1000000)

int main(int argc, char **argv) {
        struct stitch_mailer_options options = { .first_retry_usec = 1 * USEC, .grace_usec = 2 * USEC };
        enum stitch_mail_kind kind = STITCH_MAIL_CONFIRM;
        const char *locale = NULL;
        double wait_sec = 60;
        bool check = false;
        static const struct option longopts[] = {
                { "first-retry", required_argument, NULL, 'r' },
                { "grace", required_argument, NULL, 'g' },
                { "wait", required_argument, NULL, 'w' },
                { "kind", required_argument, NULL, 'k' },
                { "locale", required_argument, NULL, 'l' },
                { "check", no_argument, NULL, 'c' },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0)
                switch (c) {
                case 'r':
                        options.first_retry_usec = (uint64_t) (strtod(optarg, NULL) * USEC);
                        break;
                case 'g':
                        options.grace_usec = (uint64_t) (strtod(optarg, NULL) * USEC);
                        break;
                case 'w':
                        wait_sec = strtod(optarg, NULL);
                        break;
                case 'k':
                        kind = strcmp(optarg, "reset") == 0 ? STITCH_MAIL_RESET : STITCH_MAIL_CONFIRM;
                        break;
                case 'l':
                        locale = optarg;
                        break;
                case 'c':
                        check = true;
                        break;
                default:
                        return 2;
                }
        if (argc - optind != (check ? 1 : 3)) {
                fprintf(stderr, "usage: mail-send [options] CONFIG TO COUNT | --check CONFIG\n");
                return 2;
        }

        struct stitch_config config;
        if (stitch_config_init_defaults(&config) < 0 || stitch_config_load(&config, argv[optind], false, stderr) < 0)
                return 2;
        if (check) {
                int r = stitch_mailer_check_config(&config, stderr);
                stitch_config_done(&config);
                printf("%s\n", r < 0 ? "invalid" : "OK");
                return r < 0 ? 1 : 0;
        }

        const char *to = argv[optind + 1];
        unsigned count = (unsigned) strtoul(argv[optind + 2], NULL, 10);
        struct stitch_mailer *m = NULL;
        if (stitch_mailer_new(&config, &options, &m) < 0) {
                stitch_config_done(&config);
                return 2;
        }

        for (unsigned i = 0; i < count; i++) {
                char link[256];
                snprintf(link, sizeof(link), "https://auth.example.com/confirm?token=secret-link-%u&tokenId=%u", i, i);
                struct stitch_mail_request request = { .kind = kind, .to = to, .link = link, .locale = locale };
                int r = stitch_mailer_send(m, &request);
                if (r < 0)
                        fprintf(stderr, "mail-send: mail %u not queued: %s\n", i, strerror(-r));
        }

        struct stitch_mailer_counters counters;
        for (double waited = 0; waited < wait_sec; waited += 0.05) {
                stitch_mailer_get_counters(m, &counters);
                if (counters.queued == 0)
                        break;
                nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL); /* polling the counters */
        }
        stitch_mailer_get_counters(m, &counters);
        printf("sent=%llu failed=%llu queued=%llu\n", (unsigned long long) counters.sent,
               (unsigned long long) counters.failed, (unsigned long long) counters.queued);
        fflush(stdout);
        m = stitch_mailer_free(m); /* what is still queued is dropped here, logged */
        stitch_config_done(&config);
        return counters.sent == count ? 0 : 1;
}
