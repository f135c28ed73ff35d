/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* oauth2-google: Stitch's Google provider (docs/providers-google.md).
 *
 * App logins (HTTP) bring {id_token} (verified against Google's JWK Set:
 * signature, iss accounts.google.com or https://accounts.google.com, aud
 * one of ClientID= / DeviceClientID=, exp) or {authCode} (exchanged at
 * TokenURL= with ClientSecretFile=, then the id_token of the answer is
 * verified the same way). Every login then checks email_verified and, with
 * RestrictedDomains=, the hd claim and the email's domain.
 *
 * PAM logins are a device grant (providers/device-login.h) with the "TVs
 * and Limited Input devices" client (DeviceClientID=): the person approves
 * on a phone, the daemon polls TokenURL= and verifies the id_token.
 *
 * Users: the identity id is Google's "sub". An unknown identity gets a new
 * user only with CreateUsers=yes (or when it is being linked onto another
 * user). A PAM login needs a Unix name: the admin-set unix_name, or with
 * UnixNameFrom=email-local-part the verified email's local part, given to a
 * user that has none only when no local account (/etc/passwd, /etc/group)
 * and no other user has it: a Google account never becomes root or any
 * other existing account by implication.
 *
 * Rounds do HTTPS (the daemon's fetcher, core/https.h): a network provider.
 * Secrets (client secrets, codes, tokens) are wiped and never logged. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "core/https.h"
#include "core/jwks-cache.h"
#include "providers/external-user.h"
#include "providers/google-replies.h"
#include "providers/secret-file.h"
#include "core/ids.h"
#include "core/jwt-verifier.h"
#include "core/unix-accounts.h"
#include "log.h"
#include "macro.h"
#include "providers/device-login.h"
#include "providers/provider.h"
#include "providers/userpass.h"
#include "store/store.h"
#include "strv.h"
#include "validate.h"
#include "wire.h" /* cJSON_Deletep */

#define PROVIDER_TYPE "oauth2-google"
#define SECTION "Provider.oauth2-google"
#define CODE_MAX 2048 /* an authCode */
#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"
#define DEVICE_SCOPE "openid email profile"

/* ---- [Provider.oauth2-google] ------------------------------------------- */

struct google_settings {
        bool enabled;
        char **client_ids;
        char *client_secret_file;
        char *device_client_id;
        char *device_client_secret_file;
        char *redirect_uri;
        char **restricted_domains;
        bool create_users;
        char *unix_name_from;
        char *device_authorization_url;
        char *token_url;
        char *jwks_url;
        bool device_qr_code;
};

static int check_printable(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                           const char *value, const char *word) {
        for (const char *c = word; *c; c++)
                if ((unsigned char) *c <= 0x20 || (unsigned char) *c >= 0x7f)
                        return stitch_config_report_value(p, line, k, value, "space or control character");
        return 0;
}

static int check_path(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                      const char *value, const char *word) {
        struct stat st;
        if (word[0] != '/')
                return stitch_config_report_value(p, line, k, value, "\"%s\" is not an absolute path", word);
        if (stat(word, &st) < 0 && errno == ENOENT)
                return stitch_config_report_value(p, line, k, value, "%s: no such file", word);
        return 0;
}

static int check_unix_name_from(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                                const char *value, const char *word) {
        if (!streq(word, "email-local-part"))
                return stitch_config_report_value(p, line, k, value, "expected email-local-part or nothing");
        return 0;
}

static int check_url(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                     const char *value, const char *word) {
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        if (stitch_https_url_check(word, true, NULL, 0, error, sizeof(error)) < 0)
                return stitch_config_report_value(p, line, k, value, "%s", error);
        return 0;
}

#define S struct google_settings
static const struct stitch_config_key google_keys[] = {
        STITCH_CONFIG_BOOL(S, SECTION, "Enabled", enabled, "no"),
        STITCH_CONFIG_STRING_LIST(S, SECTION, "ClientID", client_ids, NULL, check_printable, STITCH_LIST_UNIQUE),
        STITCH_CONFIG_STRING(S, SECTION, "ClientSecretFile", client_secret_file, NULL, check_path),
        STITCH_CONFIG_STRING(S, SECTION, "DeviceClientID", device_client_id, NULL, check_printable),
        STITCH_CONFIG_STRING(S, SECTION, "DeviceClientSecretFile", device_client_secret_file, NULL, check_path),
        STITCH_CONFIG_STRING(S, SECTION, "RedirectURI", redirect_uri, NULL, check_printable),
        STITCH_CONFIG_STRING_LIST(S, SECTION, "RestrictedDomains", restricted_domains, NULL, check_printable,
                                  STITCH_LIST_UNIQUE),
        STITCH_CONFIG_BOOL(S, SECTION, "CreateUsers", create_users, "no"),
        STITCH_CONFIG_STRING(S, SECTION, "UnixNameFrom", unix_name_from, NULL, check_unix_name_from),
        STITCH_CONFIG_STRING(S, SECTION, "DeviceAuthorizationURL", device_authorization_url,
                             "https://oauth2.googleapis.com/device/code", check_url),
        STITCH_CONFIG_STRING(S, SECTION, "TokenURL", token_url, "https://oauth2.googleapis.com/token", check_url),
        STITCH_CONFIG_STRING(S, SECTION, "JWKSURL", jwks_url, "https://www.googleapis.com/oauth2/v3/certs", check_url),
        STITCH_CONFIG_BOOL(S, SECTION, "DeviceQRCode", device_qr_code, "yes"),
};
#undef S

static void google_validate(struct stitch_config_parser *p, const struct stitch_config *c, const void *settings) {
        const struct google_settings *s = settings;
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        const char *urls[] = {s->device_authorization_url, s->token_url, s->jwks_url};
        const char *names[] = {"DeviceAuthorizationURL", "TokenURL", "JWKSURL"};

        for (size_t i = 0; i < ELEMENTSOF(urls); i++)
                if (!isempty(urls[i]) && stitch_https_url_check(urls[i], c->network_allow_insecure_loopback, NULL, 0,
                                                                error, sizeof(error)) < 0)
                        stitch_config_report(p, 0, "[" SECTION "] %s=: %s", names[i], error);
        if (!s->enabled)
                return;
        if (stitch_strv_length(s->client_ids) == 0 && isempty(s->device_client_id))
                stitch_config_report(p, 0, "[" SECTION "] Enabled=yes requires ClientID= or DeviceClientID=");
        if (!isempty(s->device_client_id) && isempty(s->device_client_secret_file))
                stitch_config_report(p, 0, "[" SECTION "] DeviceClientID= requires DeviceClientSecretFile=");
}

static const struct stitch_config_section google_section = {
        .name = SECTION,
        .size = sizeof(struct google_settings),
        .keys = google_keys,
        .n_keys = ELEMENTSOF(google_keys),
        .validate = google_validate,
};

static bool google_enabled(const struct stitch_config *c) {
        const struct google_settings *s = stitch_config_settings(c, &google_section);
        return s && s->enabled;
}

struct google_instance {
        struct stitch_jwt_verifier *verifier;
        struct stitch_jwks_cache *jwks;
        struct stitch_https_options options; /* the token and device endpoints */
        char *client_id, *client_secret;                /* the first ClientID=, ClientSecretFile= (or NULL) */
        char *device_client_id, *device_client_secret;  /* or NULL */
        char *redirect_uri;                             /* "" unless RedirectURI= */
        char **restricted_domains;
        bool create_users, unix_name_from_email, qr;
        char *device_url, *token_url;
        char token_host[STITCH_HTTPS_HOST_MAX], device_host[STITCH_HTTPS_HOST_MAX];
};

static void secret_free(char *s) {
        stitch_secret_free(s);
}

static void google_free(void *instance) {
        struct google_instance *i = instance;
        if (!i)
                return;
        stitch_jwt_verifier_free(i->verifier);
        stitch_jwks_cache_free(i->jwks);
        free(i->client_id);
        secret_free(i->client_secret);
        free(i->device_client_id);
        secret_free(i->device_client_secret);
        free(i->redirect_uri);
        stitch_strv_free(i->restricted_domains);
        free(i->device_url);
        free(i->token_url);
        free(i);
}

static int google_init(struct stitch_core *core, const void *settings, void **ret_instance) {
        const struct google_settings *s = settings;
        const struct stitch_config *c = &core->config;
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        int r;

        if (!s)
                return -EINVAL;
        if (stitch_strv_length(s->client_ids) == 0 && isempty(s->device_client_id))
                return log_error_errno(EINVAL, PROVIDER_TYPE ": Enabled=yes requires ClientID= or DeviceClientID=");

        struct google_instance *i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        i->options = (struct stitch_https_options) {
                .ca_file = c->network_ca_file,
                .timeout_usec = c->network_timeout_usec,
                .allow_insecure_loopback = c->network_allow_insecure_loopback,
        };
        i->create_users = s->create_users;
        i->unix_name_from_email = streq_ptr(s->unix_name_from, "email-local-part");
        i->qr = s->device_qr_code;

        /* Every client's id is an audience: the web ones for id_tokens and
         * authCodes, the device one for PAM. */
        _cleanup_(stitch_strv_builder_done) struct stitch_strv_builder audiences = {};
        r = 0;
        for (char **id = s->client_ids; id && *id && r >= 0; id++)
                r = stitch_strv_builder_add(&audiences, *id);
        if (r >= 0 && !isempty(s->device_client_id))
                r = stitch_strv_builder_add(&audiences, s->device_client_id);
        if (r < 0)
                goto fail;
        r = stitch_jwt_verifier_new(STITCH_JOSE_RS256, &i->verifier);
        if (r >= 0)
                r = stitch_jwt_verifier_use_jwks(i->verifier);
        if (r >= 0)
                r = stitch_jwt_verifier_set_audience(i->verifier, audiences.l, true, NULL);
        if (r >= 0)
                r = stitch_jwt_verifier_set_issuers(i->verifier, stitch_google_issuers);
        if (r < 0) {
                log_error_errno(r, PROVIDER_TYPE ": cannot set up the ID token verifier: %m");
                goto fail;
        }

        r = stitch_jwks_cache_new(&core->config, PROVIDER_TYPE, s->jwks_url, STITCH_JOSE_RS256, &i->jwks);
        if (r < 0)
                goto fail;
        i->token_url = strdup(s->token_url);
        i->device_url = strdup(s->device_authorization_url);
        i->redirect_uri = strdup(s->redirect_uri ?: "");
        i->restricted_domains = stitch_strv_copy(s->restricted_domains);
        if (!i->token_url || !i->device_url || !i->redirect_uri || !i->restricted_domains) {
                r = -ENOMEM;
                goto fail;
        }
        if (stitch_https_url_check(i->token_url, i->options.allow_insecure_loopback, i->token_host,
                                   sizeof(i->token_host), error, sizeof(error)) < 0 ||
            stitch_https_url_check(i->device_url, i->options.allow_insecure_loopback, i->device_host,
                                   sizeof(i->device_host), error, sizeof(error)) < 0) {
                r = log_error_errno(EINVAL, PROVIDER_TYPE ": a URL is not usable: %s", error);
                goto fail;
        }
        if (stitch_strv_length(s->client_ids) > 0) {
                i->client_id = strdup(s->client_ids[0]);
                if (!i->client_id) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        if (!isempty(s->client_secret_file)) {
                r = stitch_secret_file_read(PROVIDER_TYPE, "ClientSecretFile=", s->client_secret_file, &i->client_secret);
                if (r < 0)
                        goto fail;
        }
        if (!isempty(s->device_client_id)) {
                i->device_client_id = strdup(s->device_client_id);
                if (!i->device_client_id) {
                        r = -ENOMEM;
                        goto fail;
                }
                if (isempty(s->device_client_secret_file)) {
                        r = log_error_errno(EINVAL, PROVIDER_TYPE ": DeviceClientID= requires DeviceClientSecretFile=");
                        goto fail;
                }
                r = stitch_secret_file_read(PROVIDER_TYPE, "DeviceClientSecretFile=", s->device_client_secret_file,
                                            &i->device_client_secret);
                if (r < 0)
                        goto fail;
        }
        *ret_instance = i;
        return 0;
fail:
        google_free(i);
        return r;
}

extern const struct stitch_provider stitch_provider_oauth2_google;

/* ---- the ID token ------------------------------------------------------------ */

/* What a verified ID token says of the person. */
struct google_identity {
        char id[STITCH_ID_LEN + 1]; /* "sub" */
        char *email;                /* verified; NULL if the token has none */
        cJSON *metadata;            /* Stitch's Google fields: name, first_name, last_name, picture, email */
        char *metadata_json;
};

static void google_identity_done(struct google_identity *g) {
        free(g->email);
        cJSON_Delete(g->metadata);
        free(g->metadata_json);
        *g = (struct google_identity) {};
}

static bool domain_listed(char *const *domains, const char *d) {
        for (char *const *x = domains; x && *x; x++)
                if (strcasecmp(*x, d) == 0)
                        return true;
        return false;
}

static bool claim_true(const cJSON *claims, const char *name) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, name);
        /* Google sends a boolean; some of its endpoints the string "true". */
        return cJSON_IsTrue(v) || (cJSON_IsString(v) && streq(v->valuestring, "true"));
}

static int copy_string_claim(const cJSON *claims, const char *claim, cJSON *metadata, const char *field) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims, claim);
        if (!cJSON_IsString(v) || strlen(v->valuestring) > 4096)
                return 0;
        return cJSON_AddStringToObject(metadata, field, v->valuestring) ? 0 : -ENOMEM;
}

/* Verifies an ID token and reads the identity: -EACCES (logged why) when
 * it is not one this daemon accepts, -EHOSTDOWN no keys could be had. */
static int identify(struct stitch_core *core, struct google_instance *i, const struct stitch_login *l,
                    const char *token, struct google_identity *ret) {
        const char *who = isempty(l->user) ? "an app user" : l->user;
        struct stitch_jwt_verified v = {0};
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        int r;

        if (!stitch_jwt_shape(token)) {
                log_notice(PROVIDER_TYPE ": ID token for %s refused: not a JWT.", who);
                return -EACCES;
        }
        struct stitch_jwks *set = stitch_jwks_cache_get(core, i->jwks, false, NULL, error, sizeof(error));
        if (!set) {
                log_notice(PROVIDER_TYPE ": ID token for %s refused: no keys from %s (%s).", who,
                           stitch_jwks_cache_host(i->jwks), error);
                return -EHOSTDOWN;
        }
        r = stitch_jwt_verifier_verify(i->verifier, set, token, strlen(token), stitch_now(), &v);
        if (r == STITCH_JWT_UNKNOWN_KEY_ID) {
                struct stitch_jwks *newer = stitch_jwks_cache_get(core, i->jwks, true, set, error, sizeof(error));
                if (newer && newer != set)
                        r = stitch_jwt_verifier_verify(i->verifier, newer, token, strlen(token), stitch_now(), &v);
                stitch_jwks_unref(newer);
        }
        stitch_jwks_unref(set);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_notice(PROVIDER_TYPE ": ID token for %s refused: %s.", who, stitch_jwt_error_to_string(r));
                return -EACCES;
        }

        /* The id: Google's sub, digits (21 of them today). */
        size_t n = strlen(v.subject);
        if (n == 0 || n > STITCH_ID_LEN || strspn(v.subject, "0123456789") != n) {
                log_notice(PROVIDER_TYPE ": ID token for %s refused: a sub that is not Google's.", who);
                r = -EACCES;
                goto done;
        }
        *ret = (struct google_identity) {};
        memcpy(ret->id, v.subject, n + 1);

        const cJSON *email = cJSON_GetObjectItemCaseSensitive(v.claims, "email");
        if (cJSON_IsString(email)) {
                if (!claim_true(v.claims, "email_verified") || !stitch_email_valid(email->valuestring)) {
                        log_notice(PROVIDER_TYPE ": ID token for %s refused: the email address is not verified.", who);
                        r = -EACCES;
                        goto done;
                }
                ret->email = strdup(email->valuestring);
                if (!ret->email) {
                        r = -ENOMEM;
                        goto done;
                }
        }
        if (stitch_strv_length(i->restricted_domains) > 0) {
                /* The Workspace domain (hd), and the address's own. */
                const cJSON *hd = cJSON_GetObjectItemCaseSensitive(v.claims, "hd");
                const char *at = ret->email ? strrchr(ret->email, '@') : NULL;
                if (!cJSON_IsString(hd) || !domain_listed(i->restricted_domains, hd->valuestring) || !at ||
                    !domain_listed(i->restricted_domains, at + 1)) {
                        log_notice(PROVIDER_TYPE ": ID token for %s refused: the account is not of a domain in "
                                                 "RestrictedDomains=.", who);
                        r = -EACCES;
                        goto done;
                }
        }

        ret->metadata = cJSON_CreateObject();
        if (!ret->metadata) {
                r = -ENOMEM;
                goto done;
        }
        r = copy_string_claim(v.claims, "name", ret->metadata, "name");
        if (r >= 0)
                r = copy_string_claim(v.claims, "given_name", ret->metadata, "first_name");
        if (r >= 0)
                r = copy_string_claim(v.claims, "family_name", ret->metadata, "last_name");
        if (r >= 0)
                r = copy_string_claim(v.claims, "picture", ret->metadata, "picture");
        if (r >= 0 && ret->email)
                r = cJSON_AddStringToObject(ret->metadata, "email", ret->email) ? 0 : -ENOMEM;
        if (r >= 0) {
                ret->metadata_json = cJSON_PrintUnformatted(ret->metadata);
                r = ret->metadata_json ? 0 : -ENOMEM;
        }
done:
        if (r < 0)
                google_identity_done(ret);
        stitch_jwt_verified_done(&v);
        return r;
}

/* ---- users --------------------------------------------------------------------- */

/* The Unix name the email gives for this login, or NULL: UnixNameFrom=
 * email-local-part, the local part is the account asked for, a valid name,
 * and no local account has it (never root, never an existing account). */
static const char *unix_name_from_email(struct stitch_core *core, const struct google_instance *i,
                                        const struct stitch_login *l, const struct google_identity *g) {
        if (l->app || !i->unix_name_from_email || !g->email || !stitch_unix_name_valid(l->user))
                return NULL;
        const char *at = strrchr(g->email, '@');
        size_t n = strlen(l->user);
        if (!at || (size_t) (at - g->email) != n || strncmp(g->email, l->user, n) != 0)
                return NULL;
        if (stitch_unix_account_collides(core, l->user, -1)) {
                log_notice(PROVIDER_TYPE ": login as %s refused: a local account or group has that name; a Google "
                                         "account never becomes one by its email.", l->user);
                return NULL;
        }
        return l->user;
}

/* The user of this identity, for this login: found, or created when
 * allowed; for PAM, one whose Unix name is the account asked for. */
static int user_for(struct stitch_core *core, const struct google_instance *i, const struct stitch_login *l,
                    const struct google_identity *g, struct stitch_user **ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        const char *who = isempty(l->user) ? "an app user" : l->user;
        int r;

        for (unsigned attempt = 0;; attempt++) {
                r = core->store_ops->user_find(core->store, STITCH_USER_BY_IDENTITY, g->id, &u);
                if (r != -ENOENT)
                        break;
                if (!i->create_users && !l->linking) {
                        log_notice(PROVIDER_TYPE ": login of %s refused: no user has Google identity %s and "
                                                 "CreateUsers=no.", who, g->id);
                        return -EACCES;
                }
                const char *unix_name = NULL;
                if (!l->app && !l->linking) {
                        unix_name = unix_name_from_email(core, i, l, g);
                        if (!unix_name) {
                                log_notice(PROVIDER_TYPE ": login as %s refused: no user has Google identity %s "
                                                         "and its email gives no Unix name for this account.",
                                           l->user, g->id);
                                return -EACCES;
                        }
                }
                if (attempt > 0)
                        return -EACCES;
                r = stitch_external_user_create(core, PROVIDER_TYPE, g->id, unix_name, g->metadata_json, g->metadata,
                                                &u);
                if (r == -EEXIST && unix_name) {
                        log_notice(PROVIDER_TYPE ": login as %s refused: another user has that Unix name.", l->user);
                        return -EACCES;
                }
                if (r != -EEXIST) {
                        if (r < 0)
                                return r;
                        *ret = TAKE_PTR(u);
                        return 0;
                }
                /* A first login of the same identity raced us: find its user. */
        }
        if (r < 0)
                return r;
        bool ours = false;
        for (size_t k = 0; k < u->n_identities; k++)
                if (streq(u->identities[k].id, g->id))
                        ours = streq_ptr(u->identities[k].provider_type, PROVIDER_TYPE);
        if (!ours || u->disabled)
                return -EACCES;

        const char *new_unix_name = NULL;
        if (!l->app && !l->linking && !streq_ptr(u->unix_name, l->user)) {
                if (u->unix_name || !(new_unix_name = unix_name_from_email(core, i, l, g))) {
                        log_notice(PROVIDER_TYPE ": login as %s refused: user %s is not that account.", l->user,
                                   u->id);
                        return -EACCES;
                }
        }
        r = stitch_external_user_refresh(core, u, g->id, g->metadata_json, g->metadata, new_unix_name);
        if (r == -EEXIST) {
                log_notice(PROVIDER_TYPE ": login as %s refused: another user has that Unix name.", l->user);
                return -EACCES;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(u);
        return 0;
}

/* ---- the token endpoint ------------------------------------------------------ */

/* The "error" of an OAuth error body, or "" (never a secret: a code name). */
/* POSTs form to url: the parsed JSON body and the status; -EHOSTDOWN when
 * the endpoint cannot be reached (logged, with the host only). */
static int post(struct stitch_core *core, const struct google_instance *i, const char *url, const char *host,
                const char *form, long *ret_status, cJSON **ret_body) {
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        char *body = NULL;
        size_t len = 0;
        int r;

        if (!core->https_post_form)
                return log_error_errno(ENOTCONN, PROVIDER_TYPE ": no HTTPS client in this process.");
        r = core->https_post_form(&i->options, url, form, ret_status, &body, &len, error, sizeof(error));
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_error(PROVIDER_TYPE ": cannot reach Google at %s: %s.", host, error);
                return -EHOSTDOWN;
        }
        *ret_body = cJSON_ParseWithLength(body, len);
        stitch_secret_free(body);
        if (!cJSON_IsObject(*ret_body)) {
                cJSON_Delete(*ret_body);
                *ret_body = NULL;
                log_error(PROVIDER_TYPE ": %s answered HTTP %ld without a JSON object.", host, *ret_status);
                return -EBADMSG;
        }
        return 0;
}

/* Wipes a parsed body's strings (tokens) before freeing it. */
static void json_wipe_delete(cJSON *j) {
        if (!j)
                return;
        stitch_json_wipe_and_delete(j);
}

/* ---- app logins ---------------------------------------------------------------- */

static int login_with_id_token(struct stitch_core *core, struct google_instance *i, const struct stitch_login *l,
                               const char *token, struct stitch_provider_result *ret) {
        struct google_identity g = {};
        struct stitch_user *u = NULL;
        int r = identify(core, i, l, token, &g);
        if (r == -EHOSTDOWN)
                return -EAGAIN; /* no keys (logged why): Google's fault, not the token's */
        if (r < 0)
                return r;
        r = user_for(core, i, l, &g, &u);
        google_identity_done(&g);
        if (r < 0)
                return r;
        ret->user = u;
        return STITCH_PROVIDER_DONE;
}

static int login_with_auth_code(struct stitch_core *core, struct google_instance *i, const struct stitch_login *l,
                                const char *code, struct stitch_provider_result *ret) {
        char *form = NULL, *token = NULL, err[80];
        cJSON *body = NULL;
        long status = 0;
        int r;

        if (!i->client_id || !i->client_secret) {
                log_notice(PROVIDER_TYPE ": authCode login refused: no ClientID= with ClientSecretFile=.");
                return -EACCES;
        }
        if (strlen(code) > CODE_MAX)
                return -EACCES;
        r = stitch_form_append(&form, "code", code);
        if (r >= 0)
                r = stitch_form_append(&form, "client_id", i->client_id);
        if (r >= 0)
                r = stitch_form_append(&form, "client_secret", i->client_secret);
        if (r >= 0)
                r = stitch_form_append(&form, "redirect_uri", i->redirect_uri);
        if (r >= 0)
                r = stitch_form_append(&form, "grant_type", "authorization_code");
        if (r >= 0)
                r = post(core, i, i->token_url, i->token_host, form, &status, &body);
        stitch_secret_free(form);
        if (r < 0)
                return r;
        if (status != 200) {
                google_oauth_error(body, err, sizeof(err));
                log_notice(PROVIDER_TYPE ": authCode for %s refused by Google: HTTP %ld %s.",
                           isempty(l->user) ? "an app user" : l->user, status, err);
                json_wipe_delete(body);
                return -EACCES;
        }
        token = google_answer_id_token(body);
        json_wipe_delete(body);
        if (!token) {
                log_notice(PROVIDER_TYPE ": Google's answer to an authCode has no id_token (is \"openid\" among "
                                         "the scopes?).");
                return -EACCES;
        }
        r = login_with_id_token(core, i, l, token, ret);
        stitch_secret_free(token);
        return r;
}

/* ---- PAM: the device grant ----------------------------------------------------- */

static int device_start(struct stitch_core *core, const struct stitch_login *l, struct stitch_device_code *ret) {
        struct google_instance *i = stitch_provider_instance(core, &stitch_provider_oauth2_google);
        char *form = NULL, err[80];
        cJSON *body = NULL;
        long status = 0;
        (void) l;

        if (!i)
                return -EIO;
        if (!i->device_client_id) {
                log_notice(PROVIDER_TYPE ": a PAM login needs DeviceClientID= (a \"TVs and Limited Input devices\" "
                                         "client).");
                return -EACCES;
        }
        int r = stitch_form_append(&form, "client_id", i->device_client_id);
        if (r >= 0)
                r = stitch_form_append(&form, "scope", DEVICE_SCOPE);
        if (r >= 0)
                r = post(core, i, i->device_url, i->device_host, form, &status, &body);
        stitch_secret_free(form);
        if (r < 0)
                return r;
        r = google_device_code_parse(status, body, ret, err, sizeof(err));
        json_wipe_delete(body);
        if (r < 0) {
                log_error(PROVIDER_TYPE ": %s refused a device code: HTTP %ld %s.", i->device_host, status,
                          err[0] ? err : "(unusable answer)");
                return -EHOSTDOWN;
        }
        return 0;
}

static int device_poll(struct stitch_core *core, const struct stitch_login *l, const struct stitch_device_code *code,
                       struct stitch_user **ret_user) {
        struct google_instance *i = stitch_provider_instance(core, &stitch_provider_oauth2_google);
        char *form = NULL, *token = NULL, err[80];
        cJSON *body = NULL;
        long status = 0;

        if (!i || !i->device_client_id)
                return -EIO;
        int r = stitch_form_append(&form, "client_id", i->device_client_id);
        if (r >= 0)
                r = stitch_form_append(&form, "client_secret", i->device_client_secret);
        if (r >= 0)
                r = stitch_form_append(&form, "device_code", code->device_code);
        if (r >= 0)
                r = stitch_form_append(&form, "grant_type", DEVICE_GRANT);
        if (r >= 0)
                r = post(core, i, i->token_url, i->token_host, form, &status, &body);
        stitch_secret_free(form);
        if (r < 0)
                return r;
        r = google_device_poll_parse(status, body, &token, err, sizeof(err));
        json_wipe_delete(body);
        if (r == -EPROTO) {
                log_error(PROVIDER_TYPE ": %s refused polling the device code: HTTP %ld %s.", i->token_host, status,
                          err[0] ? err : "(no error given)");
                return -EHOSTDOWN;
        }
        if (r == -EBADMSG) {
                log_error(PROVIDER_TYPE ": Google's token answer has no id_token.");
                return -EBADMSG;
        }
        if (r != STITCH_DEVICE_SUCCESS)
                return r;
        struct google_identity g = {};
        r = identify(core, i, l, token, &g);
        stitch_secret_free(token);
        if (r < 0)
                return r;
        r = user_for(core, i, l, &g, ret_user);
        google_identity_done(&g);
        return r < 0 ? r : STITCH_DEVICE_SUCCESS;
}

static const struct stitch_device_login google_device = {
        .display_name = "Google",
        .start = device_start,
        .poll = device_poll,
};

static struct stitch_device_login_options device_options(struct stitch_core *core, const struct google_instance *i) {
        return (struct stitch_device_login_options) {
                .qr = i->qr,
                .password_choice = stitch_userpass_enabled(&core->config),
        };
}

static int google_begin(struct stitch_core *core, const struct stitch_login *l, struct stitch_provider_result *ret) {
        struct google_instance *i = stitch_provider_instance(core, &stitch_provider_oauth2_google);
        if (!i)
                return -EIO;

        const char *id_token = stitch_credentials_get(l->credentials, "id_token");
        const char *auth_code = stitch_credentials_get(l->credentials, "authCode");
        if (id_token || auth_code) {
                ret->authtok_is_not_password = true;
                return id_token ? login_with_id_token(core, i, l, id_token, ret)
                                : login_with_auth_code(core, i, l, auth_code, ret);
        }
        if (l->app || !l->interactive) {
                /* A caller that cannot poll learns what is missing ("id_token is required"). */
                int r = stitch_ask_prompt(&ret->ask, "id_token", "ID token: ", false, false);
                return r < 0 ? r : STITCH_PROVIDER_ASK;
        }
        struct stitch_device_login_options o = device_options(core, i);
        return stitch_device_login_begin(core, l, &google_device, &o, ret);
}

static int google_step(struct stitch_core *core, const struct stitch_login *l, void *state,
                       struct stitch_provider_result *ret) {
        struct google_instance *i = stitch_provider_instance(core, &stitch_provider_oauth2_google);
        if (!i)
                return -EIO;
        struct stitch_device_login_options o = device_options(core, i);
        return stitch_device_login_step(core, l, &google_device, &o, state, ret);
}

const struct stitch_provider stitch_provider_oauth2_google = {
        .name = PROVIDER_TYPE,
        .config = &google_section,
        .enabled = google_enabled,
        .init = google_init,
        .free = google_free,
        .network = true,
        .linkable = true,
        /* Google's device codes live 30 minutes. */
        .conversation_lifetime_usec = STITCH_CONVERSATION_LIFETIME_MAX_USEC,
        .begin = google_begin,
        .step = google_step,
        .state_free = stitch_device_login_state_free,
        .app_fields = {{"id_token", "id_token", true}, {"authCode", "authCode", true}},
        .app_failure_code = "AuthError",
        .app_failure_message = "invalid Google credentials",
};
