/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes the io.systemd.UserDatabase request parser
 * (stitchd/frontends/varlink/userdb-request.c) behind the wire codec, as the
 * userdb socket sees a message: stitch_wire_parse_call() first, then the
 * request. Any local process may send one (the socket is 0666).
 *
 * Oracles: a request that parses names one of the three methods; its names
 * are non-empty strings of at most 256 bytes found in the message; an id
 * is below 2^32-1; a refused one carries a varlink error name. ASan/UBSan
 * and LeakSanitizer do the rest. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/varlink/userdb-request.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        cJSON *root = NULL, *params = NULL;
        const char *method = NULL;

        if (size == 0 || size > STITCH_WIRE_MAX_MESSAGE)
                return 0;
        char *msg = malloc(size + 1);
        if (!msg)
                return 0;
        memcpy(msg, data, size);
        msg[size] = 0;
        if (stitch_wire_parse_call(msg, size, &root, &method, &params) == 0) {
                struct stitch_userdb_request q;
                const char *error = NULL, *parameter = NULL;
                int r = stitch_userdb_request_parse(method, params, "io.stitch.UserDatabase", &q, &error, &parameter);
                if (r == 0) {
                        assert(q.method <= STITCH_USERDB_GET_MEMBERSHIPS);
                        assert(!q.has_id || q.id < UINT32_MAX);
                        assert(!q.has_id || q.method != STITCH_USERDB_GET_MEMBERSHIPS);
                        const char *names[] = {q.user_name, q.group_name};
                        for (size_t i = 0; i < 2; i++)
                                if (names[i]) {
                                        size_t n = strlen(names[i]);
                                        assert(n > 0 && n <= 256);
                                        assert(memmem(msg, size, names[i], n) || strchr(msg, '\\'));
                                }
                        assert(q.user_name == NULL || q.method != STITCH_USERDB_GET_GROUP_RECORD);
                        assert(q.group_name == NULL || q.method != STITCH_USERDB_GET_USER_RECORD);
                } else if (r == -EINVAL) {
                        assert(error && strncmp(error, "io.systemd.UserDatabase.", 24) == 0
                                       ? true
                                       : error && strcmp(error, "org.varlink.service.InvalidParameter") == 0);
                } else
                        assert(r == -EOPNOTSUPP);
                cJSON_Delete(root);
        }
        free(msg);
        return 0;
}
