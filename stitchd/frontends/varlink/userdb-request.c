/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "frontends/varlink/userdb-request.h"
#include "macro.h"

static const struct {
        const char *name;
        enum stitch_userdb_method method;
        const char *id_key; /* NULL: no id */
        bool user_name, group_name;
} methods[] = {
        {STITCH_USERDB_INTERFACE ".GetUserRecord", STITCH_USERDB_GET_USER_RECORD, "uid", true, false},
        {STITCH_USERDB_INTERFACE ".GetGroupRecord", STITCH_USERDB_GET_GROUP_RECORD, "gid", false, true},
        {STITCH_USERDB_INTERFACE ".GetMemberships", STITCH_USERDB_GET_MEMBERSHIPS, NULL, true, true},
};

static int invalid(const char *error, const char *parameter, const char **ret_error, const char **ret_parameter) {
        *ret_error = error;
        *ret_parameter = parameter;
        return -EINVAL;
}

int stitch_userdb_request_parse(const char *method, const cJSON *params, const char *service,
                                struct stitch_userdb_request *ret, const char **ret_error,
                                const char **ret_parameter) {
        struct stitch_userdb_request r = {0};
        const cJSON *i;
        size_t m = 0;
        bool have_service = false;

        while (m < ELEMENTSOF(methods) && !streq_ptr(method, methods[m].name))
                m++;
        if (m == ELEMENTSOF(methods))
                return -EOPNOTSUPP;
        r.method = methods[m].method;
        if (!cJSON_IsObject(params))
                return invalid(STITCH_VARLINK_ERROR_INVALID_PARAMETER, "parameters", ret_error, ret_parameter);

        cJSON_ArrayForEach(i, params) {
                const char *key = i->string;
                if (!key)
                        return invalid(STITCH_VARLINK_ERROR_INVALID_PARAMETER, "parameters", ret_error,
                                       ret_parameter);
                if (streq(key, "service")) {
                        if (have_service || !cJSON_IsString(i) || !streq_ptr(i->valuestring, service))
                                return invalid(STITCH_USERDB_ERROR_BAD_SERVICE, NULL, ret_error, ret_parameter);
                        have_service = true;
                } else if (methods[m].id_key && streq(key, methods[m].id_key)) {
                        /* An id is 0..2^32-2: (uid_t) -1 is never one. */
                        double d = cJSON_IsNumber(i) ? i->valuedouble : -1;
                        if (r.has_id || !isfinite(d) || d < 0 || d > 4294967294.0 || d != floor(d))
                                return invalid(STITCH_VARLINK_ERROR_INVALID_PARAMETER, methods[m].id_key, ret_error,
                                               ret_parameter);
                        r.has_id = true;
                        r.id = (uint32_t) d;
                } else if ((methods[m].user_name && streq(key, "userName")) ||
                           (methods[m].group_name && streq(key, "groupName"))) {
                        const char **slot = streq(key, "userName") ? &r.user_name : &r.group_name;
                        if (*slot || !cJSON_IsString(i) || !i->valuestring || i->valuestring[0] == 0 ||
                            strlen(i->valuestring) > 256)
                                return invalid(STITCH_VARLINK_ERROR_INVALID_PARAMETER,
                                               streq(key, "userName") ? "userName" : "groupName", ret_error,
                                               ret_parameter);
                        *slot = i->valuestring;
                }
        }
        if (!have_service)
                return invalid(STITCH_USERDB_ERROR_BAD_SERVICE, NULL, ret_error, ret_parameter);
        *ret = r;
        return 0;
}
