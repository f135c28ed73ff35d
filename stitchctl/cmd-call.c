/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchctl call METHOD [JSON]: a raw wire call, like varlinkctl call */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "output.h"
#include "stitchctl.h"
#include "wire.h"

/* Reads all of stdin (at most the wire's message cap) into a wipeable buffer. */
static int read_stdin_json(const struct stitchctl *ctl, char **ret) {
        size_t cap = STITCH_WIRE_MAX_MESSAGE + 1, n = 0;
        char *buf = calloc(1, cap + 1);

        if (!buf)
                return stitchctl_oom();
        for (;;) {
                ssize_t k = read(STDIN_FILENO, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = errno;
                        explicit_bzero(buf, cap + 1);
                        free(buf);
                        errno = e;
                        return stitchctl_fail(EXIT_REFUSED, "cannot read standard input: %m");
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n >= cap) {
                        explicit_bzero(buf, cap + 1);
                        free(buf);
                        return stitchctl_usage_error(ctl, "parameters on standard input exceed %u bytes",
                                                     STITCH_WIRE_MAX_MESSAGE);
                }
        }
        buf[n] = 0;
        *ret = buf;
        return EXIT_OK;
}

int cmd_call(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *params = NULL;
        _cleanup_(stitch_json_wipe_and_deletep) cJSON *reply = NULL;
        _cleanup_erase_ char *input = NULL;
        const char *method = args[0], *text = n_args > 1 ? args[1] : "{}";
        const char *error = NULL;
        cJSON *rp = NULL;
        int r;

        if (isempty(method))
                return stitchctl_usage_error(ctl, "empty method name");

        if (streq(text, "-")) {
                r = read_stdin_json(ctl, &input);
                if (r != EXIT_OK)
                        return r;
                text = input;
        }

        const char *end = NULL;
        params = cJSON_ParseWithOpts(text, &end, /* require_null_terminated= */ true);
        if (!params)
                return stitchctl_usage_error(ctl, "parameters are not valid JSON");
        if (!cJSON_IsObject(params))
                return stitchctl_usage_error(ctl, "parameters must be a JSON object");

        r = stitchctl_call_raw(ctl, stitchctl_socket_for(ctl, method), method, params, &reply, &error, &rp);
        if (r != EXIT_OK)
                return r;

        r = output_json(reply);
        if (r != EXIT_OK)
                return r;
        if (error) {
                stitchctl_print_reply_error(error, rp);
                return EXIT_REFUSED;
        }
        return EXIT_OK;
}
