/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stitchctl session ...: io.stitch.Admin.Session* */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "output.h"
#include "stitchctl.h"
#include "wire.h"

static const char *session_state(const cJSON *s, char *buf, size_t size) {
        int64_t pid;

        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "revoked"))) {
                const char *reason = json_string(s, "revoked_reason");
                if (isempty(reason))
                        return "revoked";
                (void) snprintf(buf, size, "revoked (%s)", reason);
                return buf;
        }
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "open"))) {
                if (json_int(s, "leader_pid", &pid) && pid > 0) {
                        (void) snprintf(buf, size, "open (pid %" PRId64 ")", pid);
                        return buf;
                }
                return "open";
        }
        return "active";
}

int stitchctl_print_sessions(const cJSON *sessions, bool with_user, size_t indent) {
        _cleanup_(table_freep) struct table *t =
                with_user ? table_new(8, "SESSION ID", "USER ID", "PROVIDER", "SERVICE", "FROM", "CREATED",
                                      "LAST USED", "STATE")
                          : table_new(7, "SESSION ID", "PROVIDER", "SERVICE", "FROM", "CREATED", "LAST USED",
                                      "STATE");
        const cJSON *s;

        if (!t)
                return stitchctl_oom();

        cJSON_ArrayForEach(s, sessions) {
                char created[FORMAT_TIMESTAMP_MAX], used[FORMAT_TIMESTAMP_MAX], state[160];
                const char *from = json_string(s, "rhost");
                if (isempty(from))
                        from = json_string(s, "tty");
                if (isempty(from))
                        from = NULL;

                const char *id = json_string(s, "session_id"), *provider = json_string(s, "provider_type"),
                           *service = json_string(s, "service");
                const char *when = format_json_timestamp(created, cJSON_GetObjectItemCaseSensitive(s, "creation_date"));
                const char *last = format_json_timestamp(used, cJSON_GetObjectItemCaseSensitive(s, "last_used"));
                const char *st = session_state(s, state, sizeof(state));
                int r = with_user ? table_add_row(t, id, json_string(s, "user_id"), provider, service, from, when,
                                                  last, st)
                                  : table_add_row(t, id, provider, service, from, when, last, st);
                if (r < 0)
                        return stitchctl_oom();
        }
        table_print_indent(t, stdout, indent);
        return EXIT_OK;
}

int cmd_session_list(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(cJSON_Deletep) cJSON *params = cJSON_CreateObject();
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;
        int r;

        if (!params || (ctl->user && !cJSON_AddStringToObject(params, "user", ctl->user)) ||
            (ctl->all && !cJSON_AddTrueToObject(params, "include_revoked")))
                return stitchctl_oom();

        r = stitchctl_call(ctl, "io.stitch.Admin.SessionList", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        const cJSON *sessions = cJSON_GetObjectItemCaseSensitive(rp, "sessions");
        if (cJSON_GetArraySize(sessions) == 0) {
                printf("No sessions.\n");
                return EXIT_OK;
        }
        return stitchctl_print_sessions(sessions, true, 0);
}

int cmd_session_revoke(struct stitchctl *ctl, char **args, size_t n_args) {
        _cleanup_(cJSON_Deletep) cJSON *params = cJSON_CreateObject();
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        cJSON *rp = NULL;
        int r;

        if (!params || !cJSON_AddStringToObject(params, "session_id", args[0]))
                return stitchctl_oom();
        r = stitchctl_call(ctl, "io.stitch.Admin.SessionRevoke", params, &reply, &rp);
        if (r != EXIT_OK)
                return r;
        if (ctl->json)
                return output_json(rp);

        const char *id = json_string(rp, "session_id");
        _cleanup_free_ char *safe = output_sanitize(id ? id : args[0]);
        if (!safe)
                return stitchctl_oom();
        printf("Revoked session %s.\n", safe);
        return EXIT_OK;
}
