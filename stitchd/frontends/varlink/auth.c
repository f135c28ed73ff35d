/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.stitch.Auth: Login, Authorize, OpenSession, CloseSession, ChangePassword. */
#include <stddef.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/accounts.h"
#include "core/offline.h"
#include "core/revocations.h"
#include "frontends/varlink/call.h"
#include "log.h"
#include "core/login.h"
#include "providers/provider.h"
#include "daemon/refresher.h"
#include "daemon/end-soon.h"
#include "core/sessions.h"
#include "clock.h"
#include "core/sha256.h"
#include "core/unix-users.h"
#include "validate.h"
#include "wire.h"

#define NAME_MAX_LEN 256

/* Whether session s (of user u) is a login as Unix account unix_name: the
 * session's provider says (anonymous sessions map only to [Provider.anon-user]
 * UnixUser), or else the user's unix_name, or NAME@EmailDomain. */
static bool session_maps_to(const struct stitch_manager *m, const struct stitch_session *s,
                            const struct stitch_user *u, const char *unix_name) {
        const struct stitch_provider *p = stitch_provider_find(s->provider_type);
        if (p && p->maps_to)
                return p->maps_to(&m->core->config, u, unix_name);
        if (streq_ptr(u->unix_name, unix_name))
                return true;
        /* A registered address names no Unix account (core/accounts.h). */
        if (!u->email || u->self_registered || isempty(m->core->config.email_domain))
                return false;
        size_t n = strlen(unix_name);
        return strncmp(u->email, unix_name, n) == 0 && u->email[n] == '@' &&
               streq(u->email + n + 1, m->core->config.email_domain);
}

static bool caller_may_act_for(const struct stitch_call *c, const char *unix_name) {
        return stitch_caller_may_act_for(c->cred.uid, unix_name);
}

struct login_params {
        const char *user, *service, *provider, *password, *key, *rhost, *tty, *ruser, *conversation;
        const cJSON *answers;
        bool interactive;
};

/* An answer: a password or a custom-token JWT (core/jwt-verifier.h
 * STITCH_JWT_VERIFIER_MAX_TOKEN). The password parameter: 4 bytes per
 * character of STITCH_PASSWORD_MAX. */
#define ANSWER_MAX 16384
#define PASSWORD_MAX (4 * 128)

static bool answer_name_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n >= STITCH_CREDENTIAL_NAME_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
                        return false;
        return true;
}

/* answers: {"NAME": "VALUE", ...}, the person's answers to the prompts. */
static int decode_answers(struct stitch_call *c, const cJSON *answers, struct stitch_credentials *bag) {
        const cJSON *a;
        cJSON_ArrayForEach(a, answers) {
                if (!a->string || !answer_name_valid(a->string) || stitch_credentials_get(bag, a->string)) {
                        stitch_call_invalid_parameter(c, "answers", "answer names are 1-31 of [a-z0-9_-], once each");
                        return -EINVAL;
                }
                if (!cJSON_IsString(a) || strlen(a->valuestring) > ANSWER_MAX) {
                        stitch_call_invalid_parameter(c, "answers", "answers are strings of at most %u bytes",
                                                      (unsigned) ANSWER_MAX);
                        return -EINVAL;
                }
                if (stitch_credentials_put(bag, a->string, a->valuestring) < 0) {
                        stitch_call_invalid_parameter(c, "answers", "too many answers");
                        return -EINVAL;
                }
        }
        return 0;
}

static cJSON *ask_to_json(const struct stitch_login_result *res) {
        cJSON *p = cJSON_CreateObject(), *prompts = cJSON_CreateArray(), *messages = cJSON_CreateArray();
        if (!p || !prompts || !messages) {
                cJSON_Delete(p);
                cJSON_Delete(prompts);
                cJSON_Delete(messages);
                return NULL;
        }
        cJSON_AddItemToObject(p, "prompts", prompts);
        cJSON_AddItemToObject(p, "messages", messages);
        cJSON_AddStringToObject(p, "conversation", res->conversation);
        if (res->outcome == STITCH_LOGIN_PENDING) {
                /* Nothing to ask: poll again (an empty round) after interval_ms,
                 * until expires_in_ms from now (docs/wire.md). */
                cJSON *pending = cJSON_AddObjectToObject(p, "pending");
                if (!pending || !cJSON_AddNumberToObject(pending, "interval_ms", (double) (res->poll_interval_usec / 1000)) ||
                    !cJSON_AddNumberToObject(pending, "expires_in_ms", (double) (res->expires_in_usec / 1000))) {
                        cJSON_Delete(p);
                        return NULL;
                }
        }
        for (size_t i = 0; i < res->ask.n_prompts; i++) {
                const struct stitch_prompt *q = &res->ask.prompts[i];
                cJSON *o = cJSON_CreateObject();
                if (!o)
                        break;
                cJSON_AddStringToObject(o, "id", q->id);
                cJSON_AddStringToObject(o, "text", q->text);
                cJSON_AddBoolToObject(o, "echo", q->echo);
                cJSON_AddBoolToObject(o, "authtok", q->authtok);
                cJSON_AddItemToArray(prompts, o);
        }
        for (size_t i = 0; i < res->ask.n_messages; i++) {
                cJSON *o = cJSON_CreateObject();
                if (!o)
                        break;
                cJSON_AddStringToObject(o, "text", res->ask.messages[i].text);
                cJSON_AddBoolToObject(o, "error", res->ask.messages[i].error);
                if (res->ask.messages[i].qr)
                        cJSON_AddBoolToObject(o, "qr", true);
                cJSON_AddItemToArray(messages, o);
        }
        return p;
}

static cJSON *tokens_to_json(const struct stitch_login_tokens *t) {
        cJSON *p = cJSON_CreateObject();
        if (!p)
                return NULL;
        cJSON_AddStringToObject(p, "user_id", t->user_id);
        cJSON_AddStringToObject(p, "session_id", t->session_id);
        cJSON_AddStringToObject(p, "access_token", t->access_token);
        cJSON_AddStringToObject(p, "refresh_token", t->refresh_token);
        cJSON_AddStringToObject(p, "device_id", t->device_id);
        cJSON_AddStringToObject(p, "binding", t->binding);
        cJSON_AddStringToObject(p, "provider_type", t->provider_type);
        cJSON_AddNumberToObject(p, "expires", (double) t->expires);
        return p;
}

static int login_reply(struct stitch_call *c, const struct stitch_login_result *res) {
        switch (res->outcome) {
        case STITCH_LOGIN_IDENTIFIED: /* never asked for here */
                return stitch_call_errno(c, -EINVAL, "login");
        case STITCH_LOGIN_OFFLINE: {
                /* Authenticated without the store: no session to keep. */
                cJSON *p = cJSON_CreateObject();
                if (!p || !cJSON_AddBoolToObject(p, "offline", true) ||
                    !cJSON_AddStringToObject(p, "user_id", res->user->id) ||
                    !cJSON_AddStringToObject(p, "provider_type", res->provider ? res->provider->name : "") ||
                    !cJSON_AddStringToObject(p, "message",
                                             "The user store cannot be reached: logged in offline, without a "
                                             "stitch session.")) {
                        cJSON_Delete(p);
                        return stitch_call_errno(c, -ENOMEM, "login reply");
                }
                stitch_call_reply(c, p);
                break;
        }
        case STITCH_LOGIN_SESSION:
        case STITCH_LOGIN_ASK:
        case STITCH_LOGIN_PENDING: {
                /* Out of memory here must be an error, never an empty success. */
                cJSON *p = res->outcome == STITCH_LOGIN_SESSION ? tokens_to_json(&res->tokens) : ask_to_json(res);
                if (!p)
                        return stitch_call_errno(c, -ENOMEM, "login reply");
                stitch_call_reply(c, p);
                break;
        }
        case STITCH_LOGIN_FAILED:
                switch (res->failure) {
                case STITCH_LOGIN_INVALID_CREDENTIALS:
                        stitch_call_error(c, STITCH_ERROR_INVALID_CREDENTIALS, "%s", res->message);
                        break;
                case STITCH_LOGIN_PERMISSION_DENIED:
                        stitch_call_error(c, STITCH_ERROR_PERMISSION_DENIED, "%s", res->message);
                        break;
                case STITCH_LOGIN_INVALID_PARAMETER:
                        stitch_call_invalid_parameter(c, res->parameter, "%s", res->message);
                        break;
                case STITCH_LOGIN_CONVERSATION_GONE:
                        stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "%s", res->message);
                        break;
                case STITCH_LOGIN_TOO_MANY_ATTEMPTS:
                        stitch_call_too_many_attempts(c, res->retry_after_usec);
                        break;
                case STITCH_LOGIN_BUSY:
                        stitch_call_error(c, STITCH_ERROR_BUSY, "%s", res->message);
                        break;
                case STITCH_LOGIN_CONFIRMATION_REQUIRED:
                        stitch_call_error(c, STITCH_ERROR_CONFIRMATION_REQUIRED, "%s", res->message);
                        break;
                case STITCH_LOGIN_INTERNAL:
                default:
                        stitch_call_errno(c, res->error, res->message);
                        break;
                }
                break;
        }
        /* Front ends that hand a typed password on (the PAM module's
         * PAM_AUTHTOK) must not hand on an API key typed at "Password: ". */
        if (res->authtok_is_not_password && c->reply) {
                cJSON *p = cJSON_GetObjectItemCaseSensitive(c->reply, "parameters");
                if (cJSON_IsObject(p))
                        cJSON_AddBoolToObject(p, "authtok", false);
        }
        return 0;
}

int stitch_method_login(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct login_params, user), false, NAME_MAX_LEN},
                {"service", STITCH_PARAM_STRING, offsetof(struct login_params, service), false, NAME_MAX_LEN},
                {"provider", STITCH_PARAM_STRING, offsetof(struct login_params, provider), false, 64},
                {"password", STITCH_PARAM_STRING, offsetof(struct login_params, password), false, PASSWORD_MAX},
                {"key", STITCH_PARAM_STRING, offsetof(struct login_params, key), false, 256},
                {"rhost", STITCH_PARAM_STRING, offsetof(struct login_params, rhost), false, NAME_MAX_LEN},
                {"tty", STITCH_PARAM_STRING, offsetof(struct login_params, tty), false, NAME_MAX_LEN},
                {"ruser", STITCH_PARAM_STRING, offsetof(struct login_params, ruser), false, NAME_MAX_LEN},
                {"interactive", STITCH_PARAM_BOOL, offsetof(struct login_params, interactive), false, 0},
                {"conversation", STITCH_PARAM_STRING, offsetof(struct login_params, conversation), false, 64},
                {"answers", STITCH_PARAM_OBJECT, offsetof(struct login_params, answers), false, 0},
        };
        struct login_params p = {0};
        struct stitch_credentials bag = {0};

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (!p.conversation && !p.user)
                return stitch_call_invalid_parameter(c, "user", "user is required");
        if (p.conversation && (p.password || p.key || p.provider))
                return stitch_call_invalid_parameter(c, p.provider ? "provider" : p.password ? "password" : "key",
                                                     "a continued login takes only answers");
        if (p.answers && !p.conversation)
                return stitch_call_invalid_parameter(c, "answers", "answers continue a conversation");
        if (p.password)
                (void) stitch_credentials_put(&bag, "password", p.password);
        if (p.key)
                (void) stitch_credentials_put(&bag, "key", p.key);
        if (p.answers && decode_answers(c, p.answers, &bag) < 0)
                return 0;

        struct stitch_login_request req = {
                .provider = p.provider,
                .conversation = p.conversation,
                .login = {
                        .user = p.user,
                        .service = p.conversation ? p.service : (p.service ? p.service : ""),
                        .rhost = p.rhost,
                        .tty = p.tty,
                        .ruser = p.ruser,
                        .cred = c->cred,
                        .owner = c->conversation_owner,
                        .interactive = p.interactive,
                        .credentials = &bag,
                },
        };
        struct stitch_login_result res;
        int r = stitch_login_run(c->manager->core, &req, &res);
        if (r < 0) {
                stitch_login_result_done(&res);
                return stitch_call_errno(c, r, "login");
        }
        login_reply(c, &res);
        if (res.outcome == STITCH_LOGIN_ASK || res.outcome == STITCH_LOGIN_PENDING) {
                c->asked = true;
                c->asked_share = res.share;
                c->asked_lifetime_usec = res.expires_in_usec;
        }
        stitch_login_result_done(&res);
        return 0;
}

bool stitch_method_login_runs_inline(const struct stitch_call *c) {
        static const char *const secrets[] = {"password", "key", "answers", "conversation"};

        if (!cJSON_IsObject(c->params))
                return false;
        for (size_t i = 0; i < ELEMENTSOF(secrets); i++)
                if (cJSON_GetObjectItemCaseSensitive(c->params, secrets[i]))
                        return false;
        /* auto (the default) asks when nothing is presented; a provider
         * that needs no credential (anon-user) makes a user instead. */
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c->params, "provider");
        if (!name)
                return true;
        const struct stitch_provider *p = cJSON_IsString(name) ? stitch_provider_find(name->valuestring) : NULL;
        return p && !p->no_credentials && !p->network;
}

bool stitch_method_login_on_network(const struct stitch_call *c) {
        if (!cJSON_IsObject(c->params))
                return false;
        const cJSON *conversation = cJSON_GetObjectItemCaseSensitive(c->params, "conversation");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c->params, "provider");
        const struct stitch_provider *p = NULL;
        if (cJSON_IsString(conversation))
                p = stitch_conversations_provider(c->manager->core->conversations, conversation->valuestring);
        else if (cJSON_IsString(name))
                p = stitch_provider_find(name->valuestring);
        return p && p->network;
}

struct authorize_params {
        const char *user, *service, *session_id, *binding;
};

/* Whether binding is the one issued for s at login (constant time). */
static bool binding_matches(const struct stitch_session *s, const char *binding) {
        uint8_t hash[STITCH_HASH_LEN];

        if (!binding || !s->has_binding || stitch_sha256(binding, strlen(binding), hash) < 0)
                return false;
        return CRYPTO_memcmp(hash, s->binding_hash, sizeof(hash)) == 0;
}

/* The store cannot be asked: with [Offline] Enabled=yes the account check
 * goes by what this host last heard of the user (core/offline.h). */
static int authorize_offline(struct stitch_call *c, const char *user, const char *service, int error,
                             const char *what) {
        struct stitch_core *core = c->manager->core;
        char id[STITCH_ID_LEN + 1];
        bool disabled = false;

        if (!core->offline || !stitch_offline_store_unreachable(error) ||
            stitch_offline_lookup(core, user, stitch_now(), id, &disabled) < 0)
                return stitch_call_errno(c, error, what);
        if (disabled) {
                log_notice("Account check for %s (user %s) via %s, offline: disabled when last heard of.", user, id,
                           service ? service : "-");
                return stitch_call_error(c, STITCH_ERROR_USER_DISABLED, "account disabled");
        }
        log_info("Account check for %s (user %s) via %s answered offline: the store is unreachable.", user, id,
                 service ? service : "-");
        cJSON *reply = cJSON_CreateObject();
        if (!reply || !cJSON_AddStringToObject(reply, "user_id", id) || !cJSON_AddBoolToObject(reply, "allowed", true) ||
            !cJSON_AddBoolToObject(reply, "offline", true)) {
                cJSON_Delete(reply);
                return stitch_call_errno(c, -ENOMEM, "authorize reply");
        }
        return stitch_call_reply(c, reply);
}

int stitch_method_authorize(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct authorize_params, user), true, NAME_MAX_LEN},
                {"service", STITCH_PARAM_STRING, offsetof(struct authorize_params, service), false, NAME_MAX_LEN},
                {"session_id", STITCH_PARAM_STRING, offsetof(struct authorize_params, session_id), false, 64},
                {"binding", STITCH_PARAM_STRING, offsetof(struct authorize_params, binding), false, 128},
        };
        struct stitch_manager *m = c->manager;
        struct authorize_params p = {0};
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        int r;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (!caller_may_act_for(c, p.user))
                return stitch_call_error(c, STITCH_ERROR_PERMISSION_DENIED, "uid %u may only ask about itself",
                                         (unsigned) c->cred.uid);
        if (!stitch_service_allowed(m->core->config.services, p.service ? p.service : ""))
                return stitch_call_error(c, STITCH_ERROR_PERMISSION_DENIED, "service '%s' may not use stitch",
                                         p.service ? p.service : "");

        if (p.session_id) {
                /* The session and its user in one read. */
                r = stitch_session_id_valid(p.session_id)
                            ? m->core->store_ops->session_find_with_user(m->core->store, p.session_id, NULL, &s, &u)
                            : -ENOENT;
                if (r < 0 && r != -ENOENT)
                        return authorize_offline(c, p.user, p.service, r, "session lookup");
                if (r == -ENOENT || !binding_matches(s, p.binding))
                        return stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "unknown session");
                if (s->revoked || s->refresh_expires <= stitch_now() ||
                    stitch_revocations_contains(m->core->revocations, s->id))
                        return stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "session has ended");
                if (!u)
                        return stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "session's user no longer exists");
                if (!session_maps_to(m, s, u, p.user))
                        return stitch_call_error(c, STITCH_ERROR_PERMISSION_DENIED, "session does not belong to %s",
                                                 p.user);
        } else {
                r = stitch_user_find_by_login_name(m->core, p.user, &u);
                if (r == -ENOENT)
                        return stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "%s is not a stitch user", p.user);
                if (r < 0)
                        return authorize_offline(c, p.user, p.service, r, "user lookup");
        }

        if (u->disabled) {
                log_notice("Account check for %s (user %s) via %s: disabled.", p.user, u->id,
                           p.service ? p.service : "-");
                return stitch_call_error(c, STITCH_ERROR_USER_DISABLED, "account disabled");
        }
        /* Pending users log in nowhere: not with an SSH key either, where
         * the account check is all stitch is asked. */
        if (u->pending) {
                log_notice("Account check for %s (user %s) via %s: email address not confirmed.", p.user, u->id,
                           p.service ? p.service : "-");
                return stitch_call_error(c, STITCH_ERROR_CONFIRMATION_REQUIRED, "confirmation required");
        }

        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "user_id", u->id);
        cJSON_AddBoolToObject(reply, "allowed", true);
        return stitch_call_reply(c, reply);
}

struct open_after {
        struct stitch_session *session;
        int64_t pid;
        char *token;
        int64_t expires;
};

static void open_session_after(struct stitch_call *c, void *userdata) {
        struct open_after *a = userdata;

        /* MaxPerUser was applied when Login created the session (core/sessions.c:
         * the oldest live sessions end first); the refresher heard of those ends. */
        int r = stitch_refresher_add(c->manager->refresher, a->session, a->pid, a->token, a->expires);
        if (r < 0)
                log_warning_errno(r, "Cannot keep session %s fresh (leader %lld): %m", a->session->id,
                                  (long long) a->pid);
        stitch_session_free(a->session);
        if (a->token)
                erase_and_free(a->token);
        free(a);
}

/* The session OpenSession or CloseSession acts on: the caller names it by
 * id and proves it got it from Login by presenting its binding (never a
 * bare id: ids reach the PAM environment, which users can write), and, when
 * it acts as root for someone, names the Unix account the session must
 * belong to. Every way of not matching answers the same "unknown session",
 * so a caller learns nothing about other people's sessions. */
static int find_bound_session(struct stitch_call *c, const char *session_id, const char *binding, const char *user,
                              struct stitch_session **ret_session, struct stitch_user **ret_user) {
        struct stitch_manager *m = c->manager;
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int r;

        if (c->cred.uid == 0 && !user) {
                stitch_call_invalid_parameter(c, "user", "user is required when root acts on a session");
                return -EINVAL;
        }
        /* One read for both; maps_to and the token OpenSession issues need
         * the user's columns, not its identities. */
        r = stitch_call_find_session_with_user(c, session_id, &s, &u);
        if (r < 0)
                return r;
        if (!binding_matches(s, binding)) {
                log_notice("Session call for %s by uid %u refused: wrong binding.", s->id, (unsigned) c->cred.uid);
                stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "unknown session");
                return -ENOENT;
        }
        if (user) {
                uid_t uid;
                int k = stitch_lookup_uid(user, &uid);
                bool uid_matches = k >= 0 ? s->uid >= 0 && (uid_t) s->uid == uid : s->uid < 0;
                if (!u || !session_maps_to(m, s, u, user) || !uid_matches) {
                        log_notice("Session call for %s by uid %u refused: the session does not belong to %s.", s->id,
                                   (unsigned) c->cred.uid, user);
                        stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "unknown session");
                        return -ENOENT;
                }
        }
        *ret_session = TAKE_PTR(s);
        *ret_user = TAKE_PTR(u); /* NULL if the user is gone */
        return 0;
}

/* The login process to watch (and to signal on revocation with
 * OnRevoke=terminate): the caller itself unless root names another one,
 * which must then run as the session's Unix account. */
static int session_leader(struct stitch_call *c, const struct stitch_session *s, int64_t pid, int64_t *ret) {
        uid_t uid;

        if (pid < 0 || pid > INT32_MAX) {
                stitch_call_invalid_parameter(c, "pid", "pid out of range");
                return -EINVAL;
        }
        if (pid == 0 || pid == (int64_t) c->cred.pid) {
                *ret = (int64_t) c->cred.pid;
                return 0;
        }
        if (c->cred.uid != 0) {
                stitch_call_error(c, STITCH_ERROR_PERMISSION_DENIED, "a caller may only name itself as the login process");
                return -EPERM;
        }
        int r = stitch_process_uid((pid_t) pid, &uid);
        if (r == -ESRCH) {
                stitch_call_invalid_parameter(c, "pid", "process %lld does not exist", (long long) pid);
                return r;
        }
        if (r < 0 || s->uid < 0 || (uid_t) s->uid != uid) {
                log_notice("OpenSession for %s refused: process %lld does not run as the session's uid %lld.", s->id,
                           (long long) pid, (long long) s->uid);
                stitch_call_error(c, STITCH_ERROR_PERMISSION_DENIED,
                                  "process %lld does not run as the session's Unix account", (long long) pid);
                return -EPERM;
        }
        *ret = pid;
        return 0;
}

struct open_params {
        const char *session_id, *binding, *user, *tty, *service;
        int64_t pid;
};

int stitch_method_open_session(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"session_id", STITCH_PARAM_STRING, offsetof(struct open_params, session_id), true, 64},
                {"binding", STITCH_PARAM_STRING, offsetof(struct open_params, binding), true, 128},
                {"user", STITCH_PARAM_STRING, offsetof(struct open_params, user), false, NAME_MAX_LEN},
                {"pid", STITCH_PARAM_INT, offsetof(struct open_params, pid), false, 0},
                {"tty", STITCH_PARAM_STRING, offsetof(struct open_params, tty), false, NAME_MAX_LEN},
                {"service", STITCH_PARAM_STRING, offsetof(struct open_params, service), false, NAME_MAX_LEN},
        };
        struct stitch_manager *m = c->manager;
        struct open_params p = {0};
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int64_t pid;
        int r;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (find_bound_session(c, p.session_id, p.binding, p.user, &s, &u) < 0)
                return 0;
        if (s->revoked || s->refresh_expires <= stitch_now())
                return stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "session has ended");
        if (!u || u->disabled)
                return stitch_call_error(c, STITCH_ERROR_SESSION_INVALID, "session's user is disabled or deleted");
        if (session_leader(c, s, p.pid, &pid) < 0)
                return 0;

        r = stitch_session_mark_open(m->core, s, pid);
        if (r < 0)
                return stitch_call_errno(c, r, "opening the session");
        log_info("Session %s opened (pid %lld, tty %s).", s->id, (long long) pid, p.tty ? p.tty : "-");

        /* A fresh token for the refresher's cache; it takes over on the event loop. */
        struct open_after *a = calloc(1, sizeof(*a));
        if (a) {
                a->session = TAKE_PTR(s);
                a->pid = pid;
                if (stitch_access_token_issue(m->core, u, a->session->id, a->session->device_id, stitch_now(), &a->token,
                                              &a->expires) < 0)
                        a->token = NULL;
                c->after = open_session_after;
                c->after_data = a;
                cJSON *reply = cJSON_CreateObject();
                cJSON_AddStringToObject(reply, "session_id", a->session->id);
                return stitch_call_reply(c, reply);
        }

        cJSON *reply = cJSON_CreateObject();
        cJSON_AddStringToObject(reply, "session_id", s->id);
        return stitch_call_reply(c, reply);
}

struct close_params {
        const char *session_id, *binding, *user;
};

int stitch_method_close_session(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"session_id", STITCH_PARAM_STRING, offsetof(struct close_params, session_id), true, 64},
                {"binding", STITCH_PARAM_STRING, offsetof(struct close_params, binding), true, 128},
                {"user", STITCH_PARAM_STRING, offsetof(struct close_params, user), false, NAME_MAX_LEN},
        };
        struct stitch_manager *m = c->manager;
        struct close_params p = {0};
        _cleanup_(stitch_session_freep) struct stitch_session *s = NULL;
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        int r;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (find_bound_session(c, p.session_id, p.binding, p.user, &s, &u) < 0)
                return 0;
        r = stitch_session_end(m->core, s, STITCH_END_LOGOUT); /* also marks it closed: one fsync */
        if (r < 0)
                return stitch_call_errno(c, r, "closing the session");
        return stitch_call_reply(c, NULL);
}

struct change_params {
        const char *user, *old_password, *new_password, *service, *session_id;
        bool end_other_sessions, check_only;
};

int stitch_method_change_password(struct stitch_call *c) {
        static const struct stitch_param table[] = {
                {"user", STITCH_PARAM_STRING, offsetof(struct change_params, user), true, NAME_MAX_LEN},
                {"old_password", STITCH_PARAM_STRING, offsetof(struct change_params, old_password), true, 4 * 128},
                {"new_password", STITCH_PARAM_STRING, offsetof(struct change_params, new_password), false, 4 * 128},
                {"service", STITCH_PARAM_STRING, offsetof(struct change_params, service), false, NAME_MAX_LEN},
                {"session_id", STITCH_PARAM_STRING, offsetof(struct change_params, session_id), false, 64},
                {"end_other_sessions", STITCH_PARAM_BOOL, offsetof(struct change_params, end_other_sessions), false, 0},
                {"check_only", STITCH_PARAM_BOOL, offsetof(struct change_params, check_only), false, 0},
        };
        struct change_params p = {0};
        struct stitch_account_result res;

        if (stitch_call_decode(c, table, ELEMENTSOF(table), &p) < 0)
                return 0;
        if (!caller_may_act_for(c, p.user))
                return stitch_call_error(c, STITCH_ERROR_PERMISSION_DENIED, "uid %u may only change its own password",
                                         (unsigned) c->cred.uid);
        struct stitch_password_change req = {
                .name = p.user,
                .old_password = p.old_password,
                .new_password = p.new_password,
                .keep_session_id = p.session_id,
                .end_other_sessions = p.end_other_sessions,
                .check_only = p.check_only,
        };
        int r = stitch_account_change_password(c->manager->core, &req, &res);
        switch (res.problem) {
        case STITCH_ACCOUNT_OK:
                break;
        case STITCH_ACCOUNT_PASSWORDS_DISABLED:
                return stitch_call_error(c, STITCH_ERROR_PERMISSION_DENIED, "%s", res.message);
        case STITCH_ACCOUNT_PASSWORD_MISSING:
                return stitch_call_invalid_parameter(c, "new_password", "new_password is required");
        case STITCH_ACCOUNT_PASSWORD_POLICY:
                return stitch_call_invalid_parameter(c, "new_password",
                                                     "The new password must be between %u and %u characters long.",
                                                     stitch_account_password_min_length(c->manager->core),
                                                     (unsigned) STITCH_PASSWORD_MAX);
        case STITCH_ACCOUNT_TOO_MANY_ATTEMPTS:
                return stitch_call_too_many_attempts(c, res.retry_after_usec);
        case STITCH_ACCOUNT_NOT_FOUND:
                return stitch_call_error(c, STITCH_ERROR_NOT_FOUND, "%s", res.message);
        case STITCH_ACCOUNT_WRONG_PASSWORD:
        default:
                return stitch_call_error(c, STITCH_ERROR_INVALID_CREDENTIALS, "%s", res.message);
        }
        if (r < 0)
                return stitch_call_errno(c, r, res.message);
        if (p.check_only)
                return stitch_call_reply(c, NULL);
        cJSON *reply = cJSON_CreateObject();
        cJSON_AddNumberToObject(reply, "ended_sessions", (double) res.ended_sessions);
        return stitch_call_reply(c, reply);
}
