/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* oauth2-facebook: Stitch's Facebook provider. An app login presents a
 * Facebook user access token ({accessToken}); the daemon asks the Graph
 * API whether it is one of our app's users' (debug_token with the app
 * token APPID|APPSECRET: valid, our app_id, type USER, not expired), then
 * who the user is (/me with the user's token). The identity is Facebook's
 * user id; the metadata (name, first_name, last_name, email, picture) is
 * the identity's and the user's data, refreshed on each login.
 *
 * A first login with an unknown identity creates a user only with
 * CreateUsers=yes; with UnixNameFrom=email-local-part the new user's
 * unix_name is its Facebook email's local part, unless that is a local
 * account (root...) or another user's. A PAM login never maps a Facebook
 * user onto a local account by implication: the account asked for must
 * be the user's unix_name (admin-set, or given at creation as above).
 *
 * Secrets: the app secret (ClientSecretFile=) is read at init and wiped
 * on free; no token, secret or URL that holds one is ever logged (log
 * lines name the Graph host only). Rounds block on HTTPS: a network
 * provider, so a slow Graph API holds up only its own logins. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "core/https.h"
#include "core/ids.h"
#include "core/sha256.h"
#include "core/unix-accounts.h"
#include "log.h"
#include "macro.h"
#include "providers/external-user.h"
#include "providers/secret-file.h"
#include "providers/device-login.h"
#include "providers/facebook-graph.h"
#include "providers/provider.h"
#include "providers/userpass.h"
#include "store/store.h"
#include "trusted-path.h"
#include "validate.h"
#include "wire.h" /* cJSON_Deletep */

#define PROVIDER_TYPE "oauth2-facebook"
#define SECTION "Provider.oauth2-facebook"

/* ---- [Provider.oauth2-facebook] -------------------------------------------- */

enum { UNIX_NAME_FROM_NONE, UNIX_NAME_FROM_EMAIL_LOCAL_PART };

struct facebook_settings {
        bool enabled;
        char *client_id;
        char *client_secret_file;
        char *client_token_file;
        bool create_users;
        int unix_name_from;
        char *graph_url;
};

static const struct stitch_config_enum_name unix_name_from_names[] = {
        {"", UNIX_NAME_FROM_NONE},
        {"email-local-part", UNIX_NAME_FROM_EMAIL_LOCAL_PART},
        {},
};

static int check_client_id(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                           const char *value, const char *word) {
        if (!facebook_id_valid(word))
                return stitch_config_report_value(p, line, k, value, "an app id is 1 to %d digits", FACEBOOK_ID_MAX);
        return 0;
}

static int check_file(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                      const char *value, const char *word) {
        struct stat st;
        if (word[0] != '/')
                return stitch_config_report_value(p, line, k, value, "\"%s\" is not an absolute path", word);
        /* Only what is certain to a reader without access (stitchctl); init checks the rest. */
        if (stat(word, &st) < 0 && errno == ENOENT)
                return stitch_config_report_value(p, line, k, value, "%s: no such file", word);
        return 0;
}

static int check_url(struct stitch_config_parser *p, unsigned line, const struct stitch_config_key *k,
                     const char *value, const char *word) {
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        if (stitch_https_url_check(word, true, NULL, 0, error, sizeof(error)) < 0)
                return stitch_config_report_value(p, line, k, value, "%s", error);
        if (strchr(word, '?') || strchr(word, '#'))
                return stitch_config_report_value(p, line, k, value, "a base URL without query or fragment");
        return 0;
}

#define S struct facebook_settings
static const struct stitch_config_key facebook_keys[] = {
        STITCH_CONFIG_BOOL(S, SECTION, "Enabled", enabled, "no"),
        STITCH_CONFIG_STRING(S, SECTION, "ClientID", client_id, NULL, check_client_id),
        STITCH_CONFIG_STRING(S, SECTION, "ClientSecretFile", client_secret_file, NULL, check_file),
        STITCH_CONFIG_STRING(S, SECTION, "ClientTokenFile", client_token_file, NULL, check_file),
        STITCH_CONFIG_BOOL(S, SECTION, "CreateUsers", create_users, "no"),
        { .section = SECTION, .key = "UnixNameFrom", .type = STITCH_KEY_ENUM,
          .offset = STITCH_CONFIG_FIELD(S, unix_name_from, int), .default_value = "", .names = unix_name_from_names },
        STITCH_CONFIG_STRING(S, SECTION, "GraphURL", graph_url, "https://graph.facebook.com/v19.0", check_url),
};
#undef S

static void facebook_validate(struct stitch_config_parser *p, const struct stitch_config *c, const void *settings) {
        const struct facebook_settings *s = settings;
        char error[STITCH_HTTPS_ERROR_MAX] = "";

        if (!isempty(s->graph_url) &&
            stitch_https_url_check(s->graph_url, c->network_allow_insecure_loopback, NULL, 0, error, sizeof(error)) < 0)
                stitch_config_report(p, 0, "[" SECTION "] GraphURL=: %s", error);
        if (!s->enabled)
                return;
        if (isempty(s->client_id))
                stitch_config_report(p, 0, "[" SECTION "] Enabled=yes requires ClientID=");
        if (isempty(s->client_secret_file))
                stitch_config_report(p, 0, "[" SECTION "] Enabled=yes requires ClientSecretFile=");
}

static const struct stitch_config_section facebook_section = {
        .name = SECTION,
        .size = sizeof(struct facebook_settings),
        .keys = facebook_keys,
        .n_keys = ELEMENTSOF(facebook_keys),
        .validate = facebook_validate,
};

static bool facebook_enabled(const struct stitch_config *c) {
        const struct facebook_settings *s = stitch_config_settings(c, &facebook_section);
        return s && s->enabled;
}

/* ---- the instance ------------------------------------------------------------ */

/* Immutable once built: any number of logins at once. */
struct facebook_instance {
        char app_id[FACEBOOK_ID_MAX + 1];
        char *app_token;    /* APPID|APPSECRET: debug_token's access_token; wiped on free */
        char *client_token; /* APPID|CLIENT_TOKEN for Login for Devices, or NULL; wiped on free */
        char *graph_url;
        char host[STITCH_HTTPS_HOST_MAX]; /* for log lines */
        bool create_users;
        int unix_name_from;
        struct stitch_https_options options;
};

static void facebook_free(void *instance) {
        struct facebook_instance *i = instance;
        if (!i)
                return;
        erase_and_free(i->app_token);
        erase_and_free(i->client_token);
        free(i->graph_url);
        free(i);
}

/* A secret of one line from its file (providers/secret-file.h), as
 * "APPID|SECRET" in *ret: the form the Graph API takes. */
static int read_secret(const char *path, const char *what, const char *app_id, char **ret) {
        _cleanup_erase_ char *secret = NULL;
        int r = stitch_secret_file_read(PROVIDER_TYPE, what, path, &secret);
        if (r < 0)
                return r;
        if (!facebook_token_shape(secret))
                return log_error_errno(EINVAL, PROVIDER_TYPE ": %s %s is not a Facebook secret.", what, path);
        if (asprintf(ret, "%s|%s", app_id, secret) < 0) {
                *ret = NULL; /* asprintf leaves it undefined; the instance's free reads it */
                return -ENOMEM;
        }
        return 0;
}

static int facebook_init(struct stitch_core *core, const void *settings, void **ret_instance) {
        const struct facebook_settings *s = settings;
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        int r;

        if (!facebook_id_valid(s->client_id) || isempty(s->client_secret_file) || isempty(s->graph_url))
                return log_error_errno(EINVAL, PROVIDER_TYPE ": ClientID=, ClientSecretFile= and GraphURL= are "
                                       "required.");
        struct facebook_instance *i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        snprintf(i->app_id, sizeof(i->app_id), "%s", s->client_id);
        i->create_users = s->create_users;
        i->unix_name_from = s->unix_name_from;
        i->options = (struct stitch_https_options) {
                .ca_file = core->config.network_ca_file,
                .timeout_usec = core->config.network_timeout_usec,
                .allow_insecure_loopback = core->config.network_allow_insecure_loopback,
        };
        r = stitch_https_url_check(s->graph_url, i->options.allow_insecure_loopback, i->host, sizeof(i->host), error,
                                   sizeof(error));
        if (r < 0) {
                log_error(PROVIDER_TYPE ": GraphURL=: %s", error);
                goto fail;
        }
        i->graph_url = strdup(s->graph_url);
        if (!i->graph_url) {
                r = -ENOMEM;
                goto fail;
        }
        r = read_secret(s->client_secret_file, "app secret file", i->app_id, &i->app_token);
        if (r < 0)
                goto fail;
        if (!isempty(s->client_token_file)) {
                r = read_secret(s->client_token_file, "client token file", i->app_id, &i->client_token);
                if (r < 0)
                        goto fail;
        }
        *ret_instance = i;
        return 0;
fail:
        facebook_free(i);
        return r;
}

/* ---- the Graph API ------------------------------------------------------------ */

/* Answers may hold tokens: wiped before freed. */
static void secret_freep(char **p) {
        stitch_secret_free(*p);
}

/* A Graph error line for the log: code, subcode, type, and the message
 * unless it quotes a secret of this request. */
static void log_graph_error(const struct facebook_instance *i, const char *path, long status, const char *body,
                            size_t len, const char *const *secrets) {
        struct facebook_graph_error e;

        if (facebook_graph_error_parse(body, len, &e) < 0) {
                log_notice(PROVIDER_TYPE ": the Graph API at %s refused /%s: HTTP status %ld.", i->host, path, status);
                return;
        }
        for (size_t k = 0; secrets && secrets[k]; k++)
                if (!isempty(secrets[k]) && strstr(e.message, secrets[k]))
                        snprintf(e.message, sizeof(e.message), "(withheld)");
        /* The app secret and client token on their own too. */
        const char *own[] = {strchr(i->app_token, '|') + 1,
                             i->client_token ? strchr(i->client_token, '|') + 1 : NULL};
        for (size_t k = 0; k < ELEMENTSOF(own); k++)
                if (!isempty(own[k]) && strstr(e.message, own[k]))
                        snprintf(e.message, sizeof(e.message), "(withheld)");
        log_notice(PROVIDER_TYPE ": the Graph API at %s refused /%s: HTTP status %ld, error %lld/%lld (%s): %s",
                   i->host, path, status, (long long) e.code, (long long) e.subcode, e.type[0] ? e.type : "-",
                   e.message[0] ? e.message : "-");
}

/* GETs BASE/path?pairs (or POSTs them as a form). 0 with the status and
 * the body (the caller's to wipe); -EHOSTDOWN when the Graph API could not
 * be asked (down, slow, TLS: logged). */
static int graph_call(struct stitch_core *core, const struct facebook_instance *i, bool post, const char *path,
                      const char *const *pairs, long *ret_status, char **ret_body, size_t *ret_len) {
        _cleanup_erase_ char *url = NULL, *form = NULL;
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        int r;

        r = facebook_url(i->graph_url, path, post ? NULL : pairs, &url);
        if (r < 0)
                return r == -E2BIG ? -EINVAL : r;
        if (post)
                for (size_t k = 0; pairs[k]; k += 2) {
                        r = stitch_form_append(&form, pairs[k], pairs[k + 1]);
                        if (r < 0)
                                return r;
                }
        if (post ? !core->https_post_form : !core->https_get_status) {
                log_error(PROVIDER_TYPE ": no HTTPS fetcher in this process.");
                return -EHOSTDOWN;
        }
        if (post)
                r = core->https_post_form(&i->options, url, form, ret_status, ret_body, ret_len, error, sizeof(error));
        else
                r = core->https_get_status(&i->options, url, ret_status, ret_body, ret_len, error, sizeof(error));
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_error(PROVIDER_TYPE ": cannot reach the Graph API at %s (/%s): %s.", i->host, path, error);
                return -EHOSTDOWN;
        }
        return 0;
}

/* A GET that must answer 200: -EACCES when the Graph API refused (its
 * error logged), -EHOSTDOWN when it could not be asked or answered
 * neither 200 nor a Graph error (a 5xx: logged). */
static int graph_get(struct stitch_core *core, const struct facebook_instance *i, const char *path,
                     const char *const *pairs, char **ret_body, size_t *ret_len) {
        _cleanup_(secret_freep) char *body = NULL;
        struct facebook_graph_error e;
        long status = 0;
        size_t len = 0;

        int r = graph_call(core, i, false, path, pairs, &status, &body, &len);
        if (r < 0)
                return r;
        if (status == 200) {
                *ret_body = TAKE_PTR(body);
                *ret_len = len;
                return 0;
        }
        const char *secrets[8] = {}; /* the request's values: a message quoting one is withheld */
        for (size_t k = 0, n = 0; pairs[k] && n + 1 < ELEMENTSOF(secrets); k += 2)
                secrets[n++] = pairs[k + 1];
        log_graph_error(i, path, status, body, len, secrets);
        /* A refusal of the token is a refusal; Graph's own trouble (5xx,
         * rate limits, temporary errors) makes the login wait for it. */
        if (status >= 400 && status < 500 && facebook_graph_error_parse(body, len, &e) == 0 &&
            !facebook_graph_error_transient(&e))
                return -EACCES;
        return -EHOSTDOWN;
}

/* The Facebook user the token belongs to: its id and metadata. -EACCES a
 * token we do not take (logged why), -EHOSTDOWN the Graph API could not be
 * asked. */
static int token_user(struct stitch_core *core, const struct facebook_instance *i, const char *who,
                      const char *token, char ret_id[static FACEBOOK_ID_MAX + 1], cJSON **ret_metadata) {
        _cleanup_(secret_freep) char *body = NULL;
        struct facebook_token_info info;
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        size_t len = 0;
        int r;

        const char *const debug[] = {"input_token", token, "access_token", i->app_token, NULL};
        r = graph_get(core, i, "debug_token", debug, &body, &len);
        if (r < 0)
                return r;
        r = facebook_debug_token_parse(body, len, &info, error, sizeof(error));
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_error(PROVIDER_TYPE ": the Graph API at %s gave a malformed answer: %s.", i->host, error);
                return -EHOSTDOWN;
        }
        r = facebook_token_check(&info, i->app_id, stitch_now(), error, sizeof(error));
        if (r < 0) {
                log_notice(PROVIDER_TYPE ": token for %s refused: %s.", who, error);
                return r;
        }

        stitch_secret_free(body);
        body = NULL;
        char proof[FACEBOOK_PROOF_LEN + 1];
        r = facebook_appsecret_proof(strchr(i->app_token, '|') + 1, token, proof);
        if (r < 0)
                return r;
        const char *const me[] = {"fields", "id,name,first_name,last_name,email,picture", "access_token", token,
                                  "appsecret_proof", proof, NULL};
        r = graph_get(core, i, "me", me, &body, &len);
        explicit_bzero(proof, sizeof(proof));
        if (r < 0)
                return r;
        r = facebook_me_parse(body, len, ret_id, ret_metadata, error, sizeof(error));
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_error(PROVIDER_TYPE ": the Graph API at %s gave a malformed answer: %s.", i->host, error);
                return -EHOSTDOWN;
        }
        /* The token debug_token vouched for is the one /me answered for. */
        if (!isempty(info.user_id) && !streq(info.user_id, ret_id)) {
                log_notice(PROVIDER_TYPE ": token for %s refused: /me names another user than debug_token.", who);
                return -EACCES;
        }
        return 0;
}

/* ---- users ------------------------------------------------------------------ */

/* UnixNameFrom=email-local-part: the Unix name a new user gets, or NULL:
 * the email's local part when it is a valid Unix name that is no local
 * account (/etc/passwd, /etc/group: never root or any other by
 * implication) and no stitch user's. */
static int unix_name_for(struct stitch_core *core, const struct facebook_instance *i, const cJSON *metadata,
                         char **ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *other = NULL;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(metadata, "email");

        *ret = NULL;
        if (i->unix_name_from != UNIX_NAME_FROM_EMAIL_LOCAL_PART || !cJSON_IsString(e))
                return 0;
        const char *at = strrchr(e->valuestring, '@');
        if (!at || at == e->valuestring)
                return 0;
        _cleanup_free_ char *name = strndup(e->valuestring, (size_t) (at - e->valuestring));
        if (!name)
                return -ENOMEM;
        if (!stitch_unix_name_valid(name))
                return 0;
        if (stitch_unix_account_collides(core, name, -1)) {
                log_notice(PROVIDER_TYPE ": %s is a local account: no user gets it from a Facebook email.", name);
                return 0;
        }
        int r = core->store_ops->user_find(core->store, STITCH_USER_BY_UNIX_NAME, name, &other);
        if (r == -ENOENT) {
                *ret = TAKE_PTR(name);
                return 0;
        }
        if (r >= 0)
                log_notice(PROVIDER_TYPE ": %s is user %s's: no new user gets it.", name, other->id);
        return r < 0 ? r : 0;
}

/* The user whose identity this is. With CreateUsers=yes (or to link it)
 * an unknown one is made: by an app login, with the email's local part as
 * unix_name under UnixNameFrom=email-local-part; by a PAM login only then,
 * and only when that name is the account asked for. */
static int find_user(struct stitch_core *core, const struct facebook_instance *i, const struct stitch_login *l,
                     const char *id, const char *metadata_json, const cJSON *metadata, struct stitch_user **ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int r;

        for (unsigned attempt = 0;; attempt++) {
                _cleanup_free_ char *unix_name = NULL;

                r = core->store_ops->user_find(core->store, STITCH_USER_BY_IDENTITY, id, &u);
                if (r != -ENOENT)
                        break;
                /* Linking makes a user only to merge it into the one linked to. */
                if (!i->create_users && !l->linking) {
                        log_notice(PROVIDER_TYPE ": login as %s refused: no user has identity %s and CreateUsers=no.",
                                   isempty(l->user) ? "an app user" : l->user, id);
                        return -EACCES;
                }
                if (attempt > 0)
                        return -EACCES;
                r = unix_name_for(core, i, metadata, &unix_name);
                if (r < 0)
                        return r;
                if (!l->app && !streq_ptr(unix_name, l->user)) {
                        /* Never a local account by implication: an admin links it first. */
                        log_notice(PROVIDER_TYPE ": login as %s refused: no user has identity %s, and its email "
                                   "does not name this account (UnixNameFrom=).", l->user, id);
                        return -EACCES;
                }
                r = stitch_external_user_create(core, PROVIDER_TYPE, id, unix_name, metadata_json, metadata, ret);
                if (r != -EEXIST)
                        return r;
                /* A first login of the same identity (or a user taking the name) raced us. */
        }
        if (r < 0)
                return r;
        for (size_t k = 0; k < u->n_identities; k++)
                if (streq(u->identities[k].id, id)) {
                        if (!streq_ptr(u->identities[k].provider_type, PROVIDER_TYPE))
                                return -EACCES;
                        *ret = TAKE_PTR(u);
                        return 0;
                }
        return -EACCES;
}

/* ---- logins ------------------------------------------------------------------ */

extern const struct stitch_provider stitch_provider_oauth2_facebook;

/* The token's user, found (or made) and checked for l: 0 and *ret_user,
 * -EACCES (logged why), -EAGAIN the Graph API could not be asked. */
static int token_login_user(struct stitch_core *core, const struct facebook_instance *i,
                            const struct stitch_login *l, const char *token, struct stitch_user **ret_user) {
        const char *who = isempty(l->user) ? "an app user" : l->user;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        _cleanup_(cJSON_Deletep) cJSON *metadata = NULL;
        _cleanup_free_ char *metadata_json = NULL;
        char fb_id[FACEBOOK_ID_MAX + 1], id[STITCH_ID_LEN + 1];
        int r;

        r = token_user(core, i, who, token, fb_id, &metadata);
        if (r == -EHOSTDOWN)
                return -EAGAIN; /* not the person's fault: 503, and not a failed attempt's answer */
        if (r < 0)
                return r;
        /* The identity's data names the Facebook user too. */
        cJSON_DeleteItemFromObjectCaseSensitive(metadata, "id");
        if (!cJSON_AddStringToObject(metadata, "id", fb_id))
                return -ENOMEM;
        metadata_json = cJSON_PrintUnformatted(metadata);
        if (!metadata_json)
                return -ENOMEM;
        /* Facebook's id is the identity's, not a field of the user's data. */
        cJSON_DeleteItemFromObjectCaseSensitive(metadata, "id");
        r = stitch_external_identity_id(PROVIDER_TYPE, fb_id, id);
        if (r < 0)
                return r;
        r = find_user(core, i, l, id, metadata_json, metadata, &u);
        if (r < 0)
                return r;
        if (u->disabled)
                return -EACCES;
        /* The account is the one the user has (admin-set, or given at creation), nothing else. */
        if (!l->app && !streq_ptr(u->unix_name, l->user)) {
                log_notice(PROVIDER_TYPE ": login as %s refused: user %s is not that account.", l->user, u->id);
                return -EACCES;
        }
        r = stitch_external_user_refresh(core, u, id, metadata_json, metadata, NULL);
        if (r < 0)
                return r;
        *ret_user = TAKE_PTR(u);
        return 0;
}

/* ---- PAM: Facebook Login for Devices ----------------------------------------- */

/* The rounds (URL, code, QR code, Enter / new / cancel, pending, the
 * password instead) are the shared device login's (providers/device-login.h);
 * here is Facebook's protocol: device/login and device/login_status with
 * the client token (research/device-grants.md). */

#define DEVICE_SCOPE "public_profile,email"
_Static_assert(FACEBOOK_DEVICE_CODE_MAX < STITCH_DEVICE_CODE_MAX &&
                       FACEBOOK_USER_CODE_MAX < STITCH_DEVICE_USER_CODE_MAX &&
                       FACEBOOK_URI_MAX < STITCH_DEVICE_URL_MAX,
               "a Facebook device code must fit the shared device login's");

static int device_start(struct stitch_core *core, const struct stitch_login *l, struct stitch_device_code *ret) {
        const struct facebook_instance *i = stitch_provider_instance(core, &stitch_provider_oauth2_facebook);
        _cleanup_(secret_freep) char *body = NULL;
        struct facebook_device_code code;
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        long status = 0;
        size_t len = 0;
        (void) l;

        if (!i || !i->client_token)
                return -EIO; /* begin() checked */
        const char *const pairs[] = {"access_token", i->client_token, "scope", DEVICE_SCOPE, NULL};
        int r = graph_call(core, i, true, "device/login", pairs, &status, &body, &len);
        if (r < 0)
                return r;
        if (status != 200) {
                const char *const secrets[] = {i->client_token, NULL};
                log_graph_error(i, "device/login", status, body, len, secrets);
                return -EHOSTDOWN; /* the app's setup (Login from Devices off?), not the person */
        }
        r = facebook_device_login_parse(body, len, &code, error, sizeof(error));
        if (r < 0) {
                if (r != -ENOMEM)
                        log_error(PROVIDER_TYPE ": the Graph API at %s gave a malformed answer: %s.", i->host, error);
                return r;
        }
        snprintf(ret->device_code, sizeof(ret->device_code), "%s", code.code);
        snprintf(ret->user_code, sizeof(ret->user_code), "%s", code.user_code);
        snprintf(ret->verification_url, sizeof(ret->verification_url), "%s", code.verification_uri);
        ret->interval_usec = code.interval_sec * USEC_PER_SEC;
        ret->expires_in_usec = code.expires_in_sec * USEC_PER_SEC;
        facebook_device_code_erase(&code);
        return 0;
}

static int device_poll(struct stitch_core *core, const struct stitch_login *l, const struct stitch_device_code *code,
                       struct stitch_user **ret_user) {
        const struct facebook_instance *i = stitch_provider_instance(core, &stitch_provider_oauth2_facebook);
        _cleanup_(secret_freep) char *body = NULL, *token = NULL;
        char error[STITCH_HTTPS_ERROR_MAX] = "";
        long status = 0;
        size_t len = 0;

        if (!i || !i->client_token)
                return -EIO;
        const char *const pairs[] = {"access_token", i->client_token, "code", code->device_code, NULL};
        int r = graph_call(core, i, true, "device/login_status", pairs, &status, &body, &len);
        if (r < 0)
                return r;
        r = facebook_login_status_parse(status, body, len, &token, error, sizeof(error));
        switch (r) {
        case FACEBOOK_DEVICE_AUTHORIZED:
                log_info(PROVIDER_TYPE ": Login for Devices approved for a login as %s.", l->user);
                r = token_login_user(core, i, l, token, ret_user);
                return r < 0 ? r : STITCH_DEVICE_SUCCESS;
        case FACEBOOK_DEVICE_PENDING:
                return STITCH_DEVICE_PENDING;
        case FACEBOOK_DEVICE_SLOW_DOWN:
                return STITCH_DEVICE_SLOW_DOWN;
        case FACEBOOK_DEVICE_EXPIRED:
                return STITCH_DEVICE_EXPIRED;
        case FACEBOOK_DEVICE_CANCELLED:
                return STITCH_DEVICE_DENIED;
        case FACEBOOK_DEVICE_REFUSED:
                log_error(PROVIDER_TYPE ": the Graph API at %s refused polling a device code: %s.", i->host, error);
                return -EHOSTDOWN;
        case -ENOMEM:
                return r;
        default:
                log_error(PROVIDER_TYPE ": the Graph API at %s gave a malformed answer: %s.", i->host, error);
                return -EBADMSG;
        }
}

static const struct stitch_device_login facebook_device = {
        .display_name = "Facebook",
        .start = device_start,
        .poll = device_poll,
};

static struct stitch_device_login_options device_options(struct stitch_core *core) {
        return (struct stitch_device_login_options) {
                .qr = true, /* pam_stitch's noqr turns the drawing off */
                .password_choice = stitch_userpass_enabled(&core->config),
        };
}

static int facebook_step(struct stitch_core *core, const struct stitch_login *l, void *state,
                         struct stitch_provider_result *ret) {
        struct stitch_device_login_options o = device_options(core);
        return stitch_device_login_step(core, l, &facebook_device, &o, state, ret);
}

static int facebook_begin(struct stitch_core *core, const struct stitch_login *l, struct stitch_provider_result *ret) {
        const struct facebook_instance *i = stitch_provider_instance(core, &stitch_provider_oauth2_facebook);
        /* accessToken: the app's login body; token: an admin's link (stitchctl user link). */
        const char *token = stitch_credentials_get(l->credentials, "accessToken") ?:
                            stitch_credentials_get(l->credentials, "token");

        if (!i)
                return -EIO;
        if (!l->app && !token) {
                if (!i->client_token) {
                        log_notice(PROVIDER_TYPE ": login as %s refused: PAM logins need Login for Devices "
                                   "(ClientTokenFile=).", l->user);
                        return -EPERM;
                }
                struct stitch_device_login_options o = device_options(core);
                return stitch_device_login_begin(core, l, &facebook_device, &o, ret);
        }
        ret->authtok_is_not_password = true;
        if (!facebook_token_shape(token)) {
                log_notice(PROVIDER_TYPE ": token for %s refused: not an access token.",
                           isempty(l->user) ? "an app user" : l->user);
                return -EACCES;
        }
        int r = token_login_user(core, i, l, token, &ret->user);
        return r < 0 ? r : STITCH_PROVIDER_DONE;
}

const struct stitch_provider stitch_provider_oauth2_facebook = {
        .name = PROVIDER_TYPE,
        .config = &facebook_section,
        .enabled = facebook_enabled,
        .init = facebook_init,
        .free = facebook_free,
        .network = true,
        .linkable = true,
        .begin = facebook_begin,
        .step = facebook_step,
        .state_free = stitch_device_login_state_free,
        /* A Login for Devices code may be entered until it expires (Facebook: 7 minutes). */
        .conversation_lifetime_usec = STITCH_CONVERSATION_LIFETIME_MAX_USEC,
        .app_fields = {{"accessToken", "accessToken", false}},
        .app_failure_code = "AuthError",
        .app_failure_message = "invalid Facebook access token",
};
