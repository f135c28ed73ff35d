/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* session-load: open many sessions over the wire, fast (for the scale test).
 *
 *   session-load AUTH_SOCKET USER KEY COUNT LEADER_PID [THREADS]
 *
 * Logs in COUNT times as USER with API key KEY (read from the argument only
 * because this is a test tool with a throwaway key) and registers each
 * session with OpenSession for LEADER_PID (a process of USER's Unix account). Prints "opened N failed M" and
 * the elapsed seconds. */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "wire.h"

static const char *sock, *user, *key;
static long per_thread, leader;
static long opened, failed;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *run(void *arg) {
        struct stitch_client *c = NULL;
        long ok = 0, bad = 0;
        (void) arg;
        if (stitch_client_connect(sock, 10000, &c) < 0) {
                pthread_mutex_lock(&lock);
                failed += per_thread;
                pthread_mutex_unlock(&lock);
                return NULL;
        }
        for (long i = 0; i < per_thread; i++) {
                cJSON *p = cJSON_CreateObject(), *reply = NULL, *rp = NULL;
                const char *error = NULL;
                cJSON_AddStringToObject(p, "user", user);
                cJSON_AddStringToObject(p, "key", key);
                cJSON_AddStringToObject(p, "service", "load");
                int r = stitch_client_call(c, "io.stitch.Auth.Login", p, 30000, &reply, &error, &rp);
                cJSON_Delete(p);
                if (r < 0 || error) {
                        bad++;
                        cJSON_Delete(reply);
                        continue;
                }
                cJSON *sid = cJSON_GetObjectItemCaseSensitive(rp, "session_id");
                cJSON *binding = cJSON_GetObjectItemCaseSensitive(rp, "binding");
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "session_id", cJSON_GetStringValue(sid));
                cJSON_AddStringToObject(o, "binding", cJSON_GetStringValue(binding));
                cJSON_AddStringToObject(o, "user", user);
                cJSON_AddNumberToObject(o, "pid", (double) leader);
                cJSON_Delete(reply);
                reply = NULL;
                r = stitch_client_call(c, "io.stitch.Auth.OpenSession", o, 30000, &reply, &error, &rp);
                cJSON_Delete(o);
                if (r < 0 || error)
                        bad++;
                else
                        ok++;
                cJSON_Delete(reply);
        }
        stitch_client_free(c);
        pthread_mutex_lock(&lock);
        opened += ok;
        failed += bad;
        pthread_mutex_unlock(&lock);
        return NULL;
}

int main(int argc, char **argv) {
        if (argc < 6) {
                fprintf(stderr, "usage: session-load AUTH_SOCKET USER KEY COUNT LEADER_PID [THREADS]\n");
                return 2;
        }
        sock = argv[1];
        user = argv[2];
        key = argv[3];
        long count = strtol(argv[4], NULL, 10);
        leader = strtol(argv[5], NULL, 10);
        long threads = argc > 6 ? strtol(argv[6], NULL, 10) : 4;
        if (threads < 1 || threads > 256 || count < threads)
                return 2;
        per_thread = count / threads;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        pthread_t *t = calloc((size_t) threads, sizeof(pthread_t));
        for (long i = 0; i < threads; i++)
                pthread_create(&t[i], NULL, run, NULL);
        for (long i = 0; i < threads; i++)
                pthread_join(t[i], NULL);
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("opened %ld failed %ld seconds %.2f\n", opened, failed,
               (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9);
        free(t);
        return failed ? 1 : 0;
}
