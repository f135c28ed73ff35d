/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The requests of io.systemd.UserDatabase, decoded (userdb.c answers them;
 * tests/fuzz/fuzz-userdb.c fuzzes this). Everything a caller controls goes
 * through here: the method, the id, the names, the service, "more". */

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define STITCH_USERDB_INTERFACE "io.systemd.UserDatabase"
#define STITCH_USERDB_ERROR_NO_RECORD STITCH_USERDB_INTERFACE ".NoRecordFound"
#define STITCH_USERDB_ERROR_BAD_SERVICE STITCH_USERDB_INTERFACE ".BadService"
#define STITCH_USERDB_ERROR_NOT_AVAILABLE STITCH_USERDB_INTERFACE ".ServiceNotAvailable"
#define STITCH_USERDB_ERROR_CONFLICT STITCH_USERDB_INTERFACE ".ConflictingRecordFound"
#define STITCH_USERDB_ERROR_NO_ENUMERATION STITCH_USERDB_INTERFACE ".EnumerationNotSupported"
#define STITCH_VARLINK_ERROR_INVALID_PARAMETER "org.varlink.service.InvalidParameter"

enum stitch_userdb_method {
        STITCH_USERDB_GET_USER_RECORD,
        STITCH_USERDB_GET_GROUP_RECORD,
        STITCH_USERDB_GET_MEMBERSHIPS,
};

struct stitch_userdb_request {
        enum stitch_userdb_method method;
        bool has_id;
        uint32_t id;            /* uid or gid (records only) */
        const char *user_name;  /* userName (GetUserRecord, GetMemberships), points into params */
        const char *group_name; /* groupName (GetGroupRecord, GetMemberships), points into params */
};

/* Decodes a call. 0 and *ret filled; -EINVAL with *ret_error (a varlink
 * error name) and *ret_parameter (the parameter at fault, or NULL) set;
 * -EOPNOTSUPP for a method this interface does not have. The service must
 * be 'service'. Unknown parameters are ignored (later systemd versions add
 * fuzzyNames, dispositionMask and id ranges), as systemd's services do. */
int stitch_userdb_request_parse(const char *method, const cJSON *params, const char *service,
                                struct stitch_userdb_request *ret, const char **ret_error,
                                const char **ret_parameter);
