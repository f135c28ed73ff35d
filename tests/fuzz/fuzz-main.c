/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A standalone driver for libFuzzer harnesses, for builds without
 * -fsanitize=fuzzer: runs LLVMFuzzerTestOneInput once on every file named on
 * the command line, or on every regular file in a named directory. */

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT_SIZE (4U * 1024U * 1024U)

static int run_file(const char *path) {
        _cleanup_free_ uint8_t *buf = NULL;
        FILE *f;
        size_t n;

        f = fopen(path, "re");
        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        buf = malloc(MAX_INPUT_SIZE);
        if (!buf) {
                fclose(f);
                return -ENOMEM;
        }
        n = fread(buf, 1, MAX_INPUT_SIZE, f);
        if (ferror(f)) {
                fprintf(stderr, "%s: read error\n", path);
                fclose(f);
                return -EIO;
        }
        fclose(f);

        /* An exactly-sized copy, as libFuzzer passes it, so over-reads show. */
        {
                _cleanup_free_ uint8_t *exact = malloc(n > 0 ? n : 1);
                if (!exact)
                        return -ENOMEM;
                memcpy(exact, buf, n);
                (void) LLVMFuzzerTestOneInput(exact, n);
        }
        return 0;
}

static int by_name(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int run_dir(const char *path, unsigned *count) {
        char **names = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        DIR *d;
        int r = 0;

        d = opendir(path);
        if (!d) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -errno;
        }
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (n == allocated) {
                        char **t;
                        allocated = allocated ? allocated * 2 : 32;
                        t = realloc(names, allocated * sizeof(char *));
                        if (!t) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        names = t;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        goto finish;
                }
                n++;
        }
        qsort(names, n, sizeof(char *), by_name);

        for (size_t i = 0; i < n; i++) {
                char p[4096];
                struct stat st;

                if (snprintf(p, sizeof(p), "%s/%s", path, names[i]) >= (int) sizeof(p)) {
                        r = -ENAMETOOLONG;
                        goto finish;
                }
                if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                r = run_file(p);
                if (r < 0)
                        goto finish;
                (*count)++;
        }

finish:
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        closedir(d);
        return r;
}

int main(int argc, char *argv[]) {
        unsigned count = 0;

        if (argc < 2) {
                fprintf(stderr, "Usage: %s FILE|DIR...\n", argv[0]);
                return 2;
        }

        for (int i = 1; i < argc; i++) {
                struct stat st;
                int r;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        return 1;
                }
                if (S_ISDIR(st.st_mode))
                        r = run_dir(argv[i], &count);
                else {
                        r = run_file(argv[i]);
                        if (r >= 0)
                                count++;
                }
                if (r < 0)
                        return 1;
        }

        printf("%s: %u inputs OK\n", argv[0], count);
        return count > 0 ? 0 : 1;
}
