/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "frontends/varlink/objects-json.h"

static void add_string_or_null(cJSON *o, const char *name, const char *value) {
        if (value)
                cJSON_AddStringToObject(o, name, value);
        else
                cJSON_AddNullToObject(o, name);
}

static cJSON *parse_object_or_empty(const char *json) {
        cJSON *d = json ? cJSON_Parse(json) : NULL;
        if (d && !cJSON_IsObject(d)) {
                cJSON_Delete(d);
                d = NULL;
        }
        return d ? d : cJSON_CreateObject();
}

cJSON *stitch_user_to_json(const struct stitch_user *u) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "id", u->id);
        cJSON_AddStringToObject(o, "type", u->type ? u->type : "normal");
        cJSON *data = parse_object_or_empty(u->data_json);
        if (u->email && !cJSON_GetObjectItemCaseSensitive(data, "email"))
                cJSON_AddStringToObject(data, "email", u->email);
        if (u->name && !cJSON_GetObjectItemCaseSensitive(data, "name"))
                cJSON_AddStringToObject(data, "name", u->name);
        cJSON_AddItemToObject(o, "data", data);
        cJSON *ids = cJSON_AddArrayToObject(o, "identities");
        for (size_t i = 0; i < u->n_identities; i++) {
                const struct stitch_identity *id = &u->identities[i];
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "id", id->id);
                cJSON_AddStringToObject(e, "provider_type", id->provider_type ? id->provider_type : "");
                cJSON_AddStringToObject(e, "provider_id", id->provider_id ? id->provider_id : "");
                if (id->data_json)
                        cJSON_AddItemToObject(e, "data", parse_object_or_empty(id->data_json));
                cJSON_AddItemToArray(ids, e);
        }
        cJSON_AddBoolToObject(o, "disabled", u->disabled);
        cJSON_AddBoolToObject(o, "pending", u->pending);
        cJSON_AddBoolToObject(o, "self_registered", u->self_registered);
        cJSON_AddNumberToObject(o, "creation_date", (double) u->creation_date);
        cJSON_AddNumberToObject(o, "last_authentication_date", (double) u->last_authentication_date);
        add_string_or_null(o, "unix_name", u->unix_name);
        return o;
}

cJSON *stitch_session_to_json(const struct stitch_session *s) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "session_id", s->id);
        cJSON_AddStringToObject(o, "user_id", s->user_id);
        cJSON_AddStringToObject(o, "device_id", s->device_id);
        add_string_or_null(o, "provider_type", s->provider_type);
        add_string_or_null(o, "service", s->service);
        add_string_or_null(o, "rhost", s->rhost);
        add_string_or_null(o, "tty", s->tty);
        cJSON_AddNumberToObject(o, "creation_date", (double) s->creation_date);
        cJSON_AddNumberToObject(o, "last_used", (double) s->last_used);
        cJSON_AddNumberToObject(o, "refresh_expires", (double) s->refresh_expires);
        cJSON_AddNumberToObject(o, "access_expires", (double) s->access_expires);
        cJSON_AddBoolToObject(o, "revoked", s->revoked);
        cJSON_AddNumberToObject(o, "revoked_at", (double) s->revoked_at);
        add_string_or_null(o, "revoked_reason", s->revoked_reason);
        cJSON_AddBoolToObject(o, "open", s->open);
        cJSON_AddNumberToObject(o, "leader_pid", (double) s->leader_pid);
        return o;
}

cJSON *stitch_apikey_to_json(const struct stitch_apikey *k) {
        cJSON *o = cJSON_CreateObject();
        if (!o)
                return NULL;
        cJSON_AddStringToObject(o, "_id", k->id);
        cJSON_AddStringToObject(o, "name", k->name ? k->name : "");
        cJSON_AddStringToObject(o, "user_id", k->user_id);
        cJSON_AddBoolToObject(o, "disabled", k->disabled);
        cJSON_AddNumberToObject(o, "creation_date", (double) k->creation_date);
        return o;
}
