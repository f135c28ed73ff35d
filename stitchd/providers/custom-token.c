/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* custom-token: Stitch's "Custom JWT". A token another issuer signed names
 * the user by its "sub"; the configured claims become the user's metadata
 * (docs/tokens-external.md has the verification rules).
 *
 * App logins (HTTP) create the user on its first login, as Stitch does.
 * PAM logins never create one and never map a token onto a local account
 * implicitly: only a user who already has the identity, and whose
 * admin-set unix_name is the account asked for, logs in.
 *
 * Keys come from SigningKeyFile= or from a JWK Set at JWKSURL=, fetched
 * by the daemon's HTTPS fetcher (core/https.h) when a login needs it,
 * never at start (the daemon starts while the issuer is down), and cached
 * here per Cache-Control; rules in docs/tokens-external.md. Rounds may
 * fetch, so the provider is a network one. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "core/jwks-cache.h"
#include "providers/external-user.h"
#include "core/claim-path.h"
#include "core/https.h"
#include "core/ids.h"
#include "core/jwt-verifier.h"
#include "core/sha256.h"
#include "log.h"
#include "macro.h"
#include "providers/provider.h"
#include "store/store.h"
#include "strv.h"
#include "validate.h"
#include "wire.h" /* cJSON_Deletep */

#define PROVIDER_TYPE "custom-token"
#define SECTION "Provider.custom-token"
#define WHITESPACE " \t\r\n\v\f" /* as the config parser splits lists */

/* ---- [Provider.custom-token] --------------------------------------------- */

struct custom_token_settings {
        bool enabled;
        char **audience;        /* empty: the [Http] AppId must be in "aud" */
        bool require_any_audience;
        int algorithm;          /* enum stitch_jose_alg */
        char **key_files;       /* up to STITCH_JWT_VERIFIER_MAX_KEYS */
        char *jwks_url;         /* instead of key_files (RS256/ES256) */
        char *metadata_fields;  /* checked with stitch_metadata_fields_parse() */
        char *unix_name_claim;  /* a claim path, or NULL */
};

static const struct stitch_config_enum_name algorithm_names[] = {
        {"HS256", STITCH_JOSE_HS256},
        {"RS256", STITCH_JOSE_RS256},
        {"ES256", STITCH_JOSE_ES256},
        {},
};
_Static_assert(sizeof(enum stitch_jose_alg) == sizeof(int), "STITCH_KEY_ENUM writes an int");

static size_t count_words(const char *value, const char **ret_last, size_t *ret_last_len) {
        size_t n = 0;
        for (const char *s = value;;) {
                s += strspn(s, WHITESPACE);
                if (!*s)
                        return n;
                size_t l = strcspn(s, WHITESPACE);
                *ret_last = s;
                *ret_last_len = l;
                n++;
                s += l;
        }
}

static int check_key_file(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                          const char *value, const char *word) {
        const char *last = NULL;
        size_t last_len = 0;
        struct stat st;

        if (word[0] != '/')
                return stitch_config_report_value(p, line, k, value, "\"%s\" is not an absolute path", word);
        /* Reported once, at the last path. */
        if (count_words(value, &last, &last_len) > STITCH_JWT_VERIFIER_MAX_KEYS && strlen(word) == last_len &&
            strncmp(word, last, last_len) == 0)
                return stitch_config_report_value(p, line, k, value, "at most %d paths",
                                                  STITCH_JWT_VERIFIER_MAX_KEYS);
        /* Only what is certain: a reader without access to the directory
         * (stitchctl reads this file too) learns nothing here; init reads
         * and checks the file itself. */
        if (stat(word, &st) < 0 && errno == ENOENT)
                return stitch_config_report_value(p, line, k, value, "%s: no such file", word);
        return 0;
}

static int check_metadata_fields(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                 const char *value, const char *word) {
        _cleanup_(stitch_metadata_fields_freep) struct stitch_metadata_fields *f = NULL;
        char error[256] = "";

        int r = stitch_metadata_fields_parse(word, &f, error, sizeof(error));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return stitch_config_report_value(p, line, k, value, "%s", error[0] ? error : "malformed");
        return 0;
}

/* One claim path, nothing else: parsed as a MetadataFields= value of one
 * spec without "=FIELD" or "!". */
static int unix_name_claim_parse(const char *value, struct stitch_metadata_fields **ret, char *error,
                                 size_t error_size) {
        _cleanup_(stitch_metadata_fields_freep) struct stitch_metadata_fields *f = NULL;

        int r = stitch_metadata_fields_parse(value, &f, error, error_size);
        if (r < 0)
                return r;
        if (f->n != 1 || f->fields[0].required || strchr(value, ' ') ||
            !streq(f->fields[0].name, f->fields[0].path[stitch_strv_length(f->fields[0].path) - 1])) {
                snprintf(error, error_size, "expected one claim path");
                return -EINVAL;
        }
        *ret = TAKE_PTR(f);
        return 0;
}

static int check_unix_name_claim(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                 const char *value, const char *word) {
        _cleanup_(stitch_metadata_fields_freep) struct stitch_metadata_fields *f = NULL;
        char error[256] = "";

        int r = unix_name_claim_parse(word, &f, error, sizeof(error));
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return stitch_config_report_value(p, line, k, value, "%s", error);
        return 0;
}

/* http:// to loopback passes here when AllowInsecureLoopback= may allow
 * it; custom_token_validate() checks again once [Network] is known. */
static int check_url(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                     const char *value, const char *word) {
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        if (stitch_https_url_check(word, true, NULL, 0, error, sizeof(error)) < 0)
                return stitch_config_report_value(p, line, k, value, "%s", error);
        return 0;
}

static int check_audience(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                          const char *value, const char *word) {
        for (const char *c = word; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        return stitch_config_report_value(p, line, k, value, "control character in an audience");
        return 0;
}

#define S struct custom_token_settings
static const struct stitch_config_key custom_token_keys[] = {
        STITCH_CONFIG_BOOL(S, SECTION, "Enabled", enabled, "no"),
        STITCH_CONFIG_STRING_LIST(S, SECTION, "Audience", audience, NULL, check_audience, STITCH_LIST_UNIQUE),
        STITCH_CONFIG_BOOL(S, SECTION, "RequireAnyAudience", require_any_audience, "no"),
        { .section = SECTION, .key = "SigningAlgorithm", .type = STITCH_KEY_ENUM,
          .offset = STITCH_CONFIG_FIELD(S, algorithm, int), .default_value = "HS256", .names = algorithm_names },
        STITCH_CONFIG_STRING_LIST(S, SECTION, "SigningKeyFile", key_files, NULL, check_key_file, 0),
        STITCH_CONFIG_STRING(S, SECTION, "JWKSURL", jwks_url, NULL, check_url),
        STITCH_CONFIG_STRING(S, SECTION, "MetadataFields", metadata_fields, NULL, check_metadata_fields),
        STITCH_CONFIG_STRING(S, SECTION, "UnixNameClaim", unix_name_claim, NULL, check_unix_name_claim),
};
#undef S

static void custom_token_validate(struct stitch_config_parser *p, const struct stitch_config *c, const void *settings) {
        const struct custom_token_settings *s = settings;
        char error[STITCH_HTTPS_ERROR_MAX] = "";

        if (!isempty(s->jwks_url)) {
                if (stitch_https_url_check(s->jwks_url, c->network_allow_insecure_loopback, NULL, 0, error,
                                           sizeof(error)) < 0)
                        stitch_config_report(p, 0, "[" SECTION "] JWKSURL=: %s", error);
                if (s->algorithm == STITCH_JOSE_HS256)
                        stitch_config_report(p, 0, "[" SECTION "] JWKSURL= requires SigningAlgorithm=RS256 or ES256");
        }
        if (!s->enabled)
                return;
        if (stitch_strv_length(s->key_files) == 0 && isempty(s->jwks_url))
                stitch_config_report(p, 0, "[" SECTION "] Enabled=yes requires SigningKeyFile= or JWKSURL=");
}

static const struct stitch_config_section custom_token_section = {
        .name = SECTION,
        .size = sizeof(struct custom_token_settings),
        .keys = custom_token_keys,
        .n_keys = ELEMENTSOF(custom_token_keys),
        .validate = custom_token_validate,
};

static bool custom_token_enabled(const struct stitch_config *c) {
        const struct custom_token_settings *s = stitch_config_settings(c, &custom_token_section);
        return s && s->enabled;
}

/* ---- the instance ----------------------------------------------------------- */

/* Immutable once built, but for the JWKS cache, which guards itself: any
 * number of logins verify at once. */
struct custom_token_instance {
        struct stitch_jwt_verifier *verifier;
        struct stitch_metadata_fields *fields;          /* never NULL */
        struct stitch_metadata_fields *unix_name_claim; /* NULL: none */
        struct stitch_jwks_cache *jwks;                 /* NULL: key files */
};

static void custom_token_free(void *instance) {
        struct custom_token_instance *i = instance;
        if (!i)
                return;
        stitch_jwks_cache_free(i->jwks);
        stitch_jwt_verifier_free(i->verifier);
        stitch_metadata_fields_free(i->fields);
        stitch_metadata_fields_free(i->unix_name_claim);
        free(i);
}

static int custom_token_init(struct stitch_core *core, const void *settings, void **ret_instance) {
        const struct custom_token_settings *s = settings;
        char error[256] = "";
        int r;

        if (!s)
                return -EINVAL;
        bool jwks = !isempty(s->jwks_url);
        if (jwks && (s->algorithm == STITCH_JOSE_HS256 || stitch_strv_length(s->key_files) > 0))
                return log_error_errno(EINVAL, PROVIDER_TYPE ": JWKSURL= requires SigningAlgorithm=RS256 or ES256 "
                                               "and no SigningKeyFile=");
        if (!jwks && stitch_strv_length(s->key_files) == 0)
                return log_error_errno(EINVAL, PROVIDER_TYPE ": Enabled=yes requires SigningKeyFile= or JWKSURL=");
        if (stitch_strv_length(s->key_files) > STITCH_JWT_VERIFIER_MAX_KEYS)
                return log_error_errno(E2BIG, PROVIDER_TYPE ": SigningKeyFile= takes at most %d paths",
                                       STITCH_JWT_VERIFIER_MAX_KEYS);

        struct custom_token_instance *i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        r = stitch_jwt_verifier_new((enum stitch_jose_alg) s->algorithm, &i->verifier);
        if (r < 0)
                goto fail;
        if (jwks) {
                /* Nothing is fetched here: the first login that needs the set does. */
                r = stitch_jwt_verifier_use_jwks(i->verifier);
                if (r >= 0)
                        r = stitch_jwks_cache_new(&core->config, PROVIDER_TYPE, s->jwks_url,
                                                  (enum stitch_jose_alg) s->algorithm, &i->jwks);
                if (r < 0)
                        goto fail;
        }
        for (char **path = s->key_files; *path; path++) {
                r = stitch_jwt_verifier_add_key_file(i->verifier, *path);
                if (r < 0) {
                        log_error_errno(r, PROVIDER_TYPE ": cannot use SigningKeyFile=%s (%s): %m", *path,
                                        stitch_jose_alg_to_string((enum stitch_jose_alg) s->algorithm));
                        goto fail;
                }
        }
        r = stitch_jwt_verifier_set_audience(i->verifier, s->audience, s->require_any_audience,
                                             core->config.http_app_id);
        if (r < 0) {
                log_error_errno(r, PROVIDER_TYPE ": no audience to check (Audience= and [Http] AppId= are empty): %m");
                goto fail;
        }
        r = stitch_metadata_fields_parse(s->metadata_fields, &i->fields, error, sizeof(error));
        if (r < 0) {
                log_error_errno(r, PROVIDER_TYPE ": MetadataFields=: %s", error);
                goto fail;
        }
        if (!isempty(s->unix_name_claim)) {
                r = unix_name_claim_parse(s->unix_name_claim, &i->unix_name_claim, error, sizeof(error));
                if (r < 0) {
                        log_error_errno(r, PROVIDER_TYPE ": UnixNameClaim=: %s", error);
                        goto fail;
                }
        }
        *ret_instance = i;
        return 0;
fail:
        custom_token_free(i);
        return r;
}

/* ---- logins ------------------------------------------------------------------ */

bool stitch_jwt_shape(const char *s) {
        size_t dots = 0, segment = 0;

        if (!s || strncmp(s, "eyJ", 3) != 0 || strlen(s) > STITCH_JWT_VERIFIER_MAX_TOKEN)
                return false;
        for (const char *c = s; *c; c++) {
                if (*c == '.') {
                        if (segment == 0 || ++dots > 2)
                                return false;
                        segment = 0;
                        continue;
                }
                if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' ||
                      *c == '_'))
                        return false;
                segment++;
        }
        return dots == 2 && segment > 0;
}

/* The user whose identity this is; an app login creates it. */
static int find_user(struct stitch_core *core, const struct stitch_login *l, const char *id,
                     const char *metadata_json, const cJSON *metadata, struct stitch_user **ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int r;

        for (unsigned attempt = 0;; attempt++) {
                r = core->store_ops->user_find(core->store, STITCH_USER_BY_IDENTITY, id, &u);
                if (r != -ENOENT)
                        break;
                if (!l->app) {
                        /* Never a local account by implication: an admin links it first. */
                        log_notice(PROVIDER_TYPE ": login as %s refused: no user has identity %s.", l->user, id);
                        return -EACCES;
                }
                if (attempt > 0)
                        return -EACCES;
                r = stitch_external_user_create(core, PROVIDER_TYPE, id, NULL, metadata_json, metadata, ret);
                if (r != -EEXIST)
                        return r;
                /* A first login of the same identity raced us: find its user. */
        }
        if (r < 0)
                return r;
        /* The id is a digest that names the provider; check anyway. */
        for (size_t i = 0; i < u->n_identities; i++)
                if (streq(u->identities[i].id, id)) {
                        if (!streq_ptr(u->identities[i].provider_type, PROVIDER_TYPE))
                                return -EACCES;
                        *ret = TAKE_PTR(u);
                        return 0;
                }
        return -EACCES;
}

/* Verifies with the key files, or with the cached JWK Set: fetched when
 * missing or expired, and once more (rate-limited) for an unknown kid.
 * -EHOSTDOWN: no set could be had (logged by the fetch). */
static int verify(struct stitch_core *core, const struct custom_token_instance *instance,
                  const struct stitch_login *l, const char *token, struct stitch_jwt_verified *v) {
        char error[STITCH_HTTPS_ERROR_MAX] = "";

        if (!instance->jwks)
                return stitch_jwt_verifier_verify(instance->verifier, NULL, token, strlen(token), stitch_now(), v);

        _cleanup_(stitch_jwks_unrefp) struct stitch_jwks *set =
                stitch_jwks_cache_get(core, instance->jwks, false, NULL, error, sizeof(error));
        if (!set) {
                log_notice(PROVIDER_TYPE ": token for %s refused: no keys from %s (%s).",
                           isempty(l->user) ? "an app user" : l->user, stitch_jwks_cache_host(instance->jwks), error);
                return -EHOSTDOWN;
        }
        int r = stitch_jwt_verifier_verify(instance->verifier, set, token, strlen(token), stitch_now(), v);
        if (r != STITCH_JWT_UNKNOWN_KEY_ID)
                return r;
        struct stitch_jwks *newer = stitch_jwks_cache_get(core, instance->jwks, true, set, error, sizeof(error));
        if (!newer || newer == set) {
                stitch_jwks_unref(newer);
                return r;
        }
        stitch_jwks_unref(set);
        set = newer;
        return stitch_jwt_verifier_verify(instance->verifier, set, token, strlen(token), stitch_now(), v);
}

extern const struct stitch_provider stitch_provider_custom_token;

static int custom_token_begin(struct stitch_core *core, const struct stitch_login *l,
                              struct stitch_provider_result *ret) {
        const struct custom_token_instance *instance = stitch_provider_instance(core, &stitch_provider_custom_token);
        const char *token = stitch_credentials_get(l->credentials, "token");
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        struct stitch_jwt_verified v = {0};
        _cleanup_(cJSON_Deletep) cJSON *metadata = NULL;
        _cleanup_free_ char *metadata_json = NULL;
        char id[STITCH_ID_LEN + 1], error[256] = "";
        int r;

        if (!instance)
                return -EIO; /* enabled, so the daemon built it */
        if (!token) {
                r = stitch_ask_prompt(&ret->ask, "token", "Token: ", false, true);
                return r < 0 ? r : STITCH_PROVIDER_ASK;
        }
        ret->authtok_is_not_password = true; /* never hand a token to the next module */

        r = verify(core, instance, l, token, &v);
        if (r == -ENOMEM)
                return r;
        if (r == -EHOSTDOWN) /* no keys to be had (logged why): the issuer's fault, not the token's */
                return -EAGAIN;
        if (r < 0) {
                log_notice(PROVIDER_TYPE ": token for %s refused: %s.", isempty(l->user) ? "an app user" : l->user,
                           stitch_jwt_error_to_string(r));
                return -EACCES;
        }
        r = stitch_metadata_fields_apply(instance->fields, v.claims, &metadata, error, sizeof(error));
        if (r == -ENOMEM)
                goto done;
        if (r < 0) {
                log_notice(PROVIDER_TYPE ": token for %s refused: %s.", isempty(l->user) ? "an app user" : l->user,
                           error);
                r = -EACCES;
                goto done;
        }
        metadata_json = cJSON_PrintUnformatted(metadata);
        if (!metadata_json) {
                r = -ENOMEM;
                goto done;
        }
        r = stitch_external_identity_id(PROVIDER_TYPE, v.subject, id);
        if (r < 0)
                goto done;

        /* A Unix login: when the token names the account, it must be this one. */
        if (!l->app && instance->unix_name_claim) {
                const cJSON *name = stitch_claim_path_lookup(v.claims, instance->unix_name_claim->fields[0].path);
                if (!cJSON_IsString(name) || !streq_ptr(name->valuestring, l->user)) {
                        log_notice(PROVIDER_TYPE ": login as %s refused: the token's %s claim names another account.",
                                   l->user, instance->unix_name_claim->fields[0].spec);
                        r = -EACCES;
                        goto done;
                }
        }

        r = find_user(core, l, id, metadata_json, metadata, &u);
        if (r < 0)
                goto done;
        if (u->disabled) {
                r = -EACCES;
                goto done;
        }
        /* The account is the one an admin gave the user, nothing else. */
        if (!l->app && !streq_ptr(u->unix_name, l->user)) {
                log_notice(PROVIDER_TYPE ": login as %s refused: user %s is not that account.", l->user, u->id);
                r = -EACCES;
                goto done;
        }
        r = stitch_external_user_refresh(core, u, id, metadata_json, metadata, NULL);
        if (r < 0)
                goto done;

        ret->user = TAKE_PTR(u);
        r = STITCH_PROVIDER_DONE;
done:
        stitch_jwt_verified_done(&v);
        return r;
}

const struct stitch_provider stitch_provider_custom_token = {
        .name = PROVIDER_TYPE,
        .config = &custom_token_section,
        .enabled = custom_token_enabled,
        .init = custom_token_init,
        .free = custom_token_free,
        /* A JWKSURL= login may fetch; key-file logins go to the same
         * small pool (the flag is the vtable's, not the instance's). */
        .network = true,
        .linkable = true,
        .begin = custom_token_begin,
        .app_fields = {{"token", "token", false}},
        /* Stitch's code for a refused custom token is not documented
         * (research/stitch-http-api.md); as the other providers answer. */
        .app_failure_code = "AuthError",
        .app_failure_message = "invalid custom auth token",
};
