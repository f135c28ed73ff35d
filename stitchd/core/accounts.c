/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Account rules: creating users, setting, changing and resetting passwords,
 * and which account a name refers to. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "providers/userpass.h"
#include "core/accounts.h"
#include "core/offline.h"
#include "core/unix-accounts.h"
#include "core/address.h"
#include "core/generation-cache.h"
#include "core/ids.h"
#include "core/password.h"
#include "core/ratelimit.h"
#include "core/sessions.h"
#include "log.h"
#include "macro.h"
#include "providers/provider.h"
#include "validate.h"

/* ---- results ----------------------------------------------------------------- */

static void result_init(struct stitch_account_result *ret) {
        *ret = (struct stitch_account_result) {};
}

/* Records a problem with its field and words; returns error. */
_printf_(4, 5) static int problem(struct stitch_account_result *ret, enum stitch_account_problem p,
                                  enum stitch_account_field field, const char *format, ...) {
        va_list ap;
        static const int errors[_STITCH_ACCOUNT_PROBLEM_MAX] = {
                [STITCH_ACCOUNT_NO_NAME] = -EINVAL,
                [STITCH_ACCOUNT_EMAIL_INVALID] = -EINVAL,
                [STITCH_ACCOUNT_UNIX_NAME_INVALID] = -EINVAL,
                [STITCH_ACCOUNT_PASSWORD_MISSING] = -EINVAL,
                [STITCH_ACCOUNT_EMAIL_MISSING] = -EINVAL,
                [STITCH_ACCOUNT_PASSWORD_POLICY] = -EINVAL,
                [STITCH_ACCOUNT_TAKEN] = -EEXIST,
                [STITCH_ACCOUNT_NO_PASSWORD_IDENTITY] = -EINVAL,
                [STITCH_ACCOUNT_PASSWORDS_DISABLED] = -EPERM,
                [STITCH_ACCOUNT_NOT_FOUND] = -ENOENT,
                [STITCH_ACCOUNT_WRONG_PASSWORD] = -EACCES,
                [STITCH_ACCOUNT_TOO_MANY_ATTEMPTS] = -EBUSY,
        };

        assert(p > STITCH_ACCOUNT_OK && p < _STITCH_ACCOUNT_PROBLEM_MAX);
        ret->problem = p;
        ret->field = field;
        va_start(ap, format);
        (void) vsnprintf(ret->message, sizeof(ret->message), format, ap);
        va_end(ap);
        return errors[p];
}

/* A failure that is not the request's: what failed goes into message. */
static int failed(struct stitch_account_result *ret, int error, const char *step) {
        assert(error < 0);
        snprintf(ret->message, sizeof(ret->message), "%s", step);
        return error;
}

/* ---- the password policy ------------------------------------------------------ */

unsigned stitch_account_password_min_length(const struct stitch_core *core) {
        return stitch_userpass_min_password_length(&core->config);
}

int stitch_account_password_check(const struct stitch_core *core, const char *password, const char **ret_reason) {
        return stitch_password_check_policy(password, stitch_account_password_min_length(core), ret_reason);
}

bool stitch_account_password_plausible(const char *password, const char **ret_reason) {
        const char *reason = "no password";
        /* No minimum of ours: the policy's floor is what any MinPasswordLength= allowed. */
        bool ok = password && stitch_password_check_policy(password, 0, &reason) >= 0;
        if (!ok && ret_reason)
                *ret_reason = reason;
        return ok;
}

int stitch_account_password_hash(const struct stitch_core *core, const char *password, char **ret_hash) {
        struct stitch_argon2_params a = stitch_userpass_password_hash(&core->config);
        return stitch_password_hash(password, &a, ret_hash);
}

/* A new password for the user: the policy, or PASSWORD_POLICY. */
static int check_new_password(struct stitch_core *core, const char *password, struct stitch_account_result *ret) {
        const char *reason;
        if (stitch_account_password_check(core, password, &reason) < 0)
                return problem(ret, STITCH_ACCOUNT_PASSWORD_POLICY, STITCH_ACCOUNT_FIELD_PASSWORD,
                               "password must be between %u and %u characters long",
                               stitch_account_password_min_length(core), (unsigned) STITCH_PASSWORD_MAX);
        return 0;
}

/* ---- creating users ------------------------------------------------------------ */

static int check_new_user(struct stitch_core *core, const struct stitch_account_new *a,
                          struct stitch_account_result *ret) {
        if (!a->email && !a->unix_name)
                return problem(ret, STITCH_ACCOUNT_NO_NAME, STITCH_ACCOUNT_FIELD_EMAIL,
                               "a user needs an email or a unix_name");
        if (a->email && !stitch_email_valid(a->email))
                return problem(ret, STITCH_ACCOUNT_EMAIL_INVALID, STITCH_ACCOUNT_FIELD_EMAIL, "invalid email address");
        if (a->unix_name && !stitch_unix_name_valid(a->unix_name))
                return problem(ret, STITCH_ACCOUNT_UNIX_NAME_INVALID, STITCH_ACCOUNT_FIELD_UNIX_NAME,
                               "invalid Unix name (lowercase letters, digits, '_', '-', '.'; at most 32)");
        if (a->email && !a->password)
                return problem(ret, STITCH_ACCOUNT_PASSWORD_MISSING, STITCH_ACCOUNT_FIELD_PASSWORD,
                               "an email user needs a password");
        if (a->password && !a->email)
                return problem(ret, STITCH_ACCOUNT_EMAIL_MISSING, STITCH_ACCOUNT_FIELD_PASSWORD,
                               "a password needs an email (%s identity)", stitch_provider_userpass.name);
        return a->password ? check_new_password(core, a->password, ret) : 0;
}

/* {"email": ..., "name": ...} without the members that are NULL; malloc'd. */
static char *data_json(const char *email, const char *name) {
        cJSON *d = cJSON_CreateObject();
        if (!d)
                return NULL;
        if ((email && !cJSON_AddStringToObject(d, "email", email)) || (name && !cJSON_AddStringToObject(d, "name", name))) {
                cJSON_Delete(d);
                return NULL;
        }
        char *s = cJSON_PrintUnformatted(d);
        cJSON_Delete(d);
        return s;
}

/* Stores u with its one identity of provider_type (data: identity_json),
 * and the password hash if any. */
static int create_user(struct stitch_core *core, struct stitch_user *u, const char *provider_type,
                       char *identity_json, const char *hash) {
        struct stitch_identity ident = {
                .provider_type = (char *) provider_type,
                .provider_id = (char *) provider_type,
                .data_json = identity_json,
        };
        int r = stitch_objectid_new(u->id);
        if (r >= 0)
                r = stitch_objectid_new(ident.id);
        if (r < 0)
                return r;
        u->creation_date = stitch_now();
        if (provider_type) {
                u->identities = &ident;
                u->n_identities = 1;
        }
        r = core->store_ops->user_create(core->store, u, hash);
        u->identities = NULL;
        u->n_identities = 0;
        if (r >= 0)
                stitch_events_users_changed(&core->events);
        return r;
}

int stitch_account_create(struct stitch_core *core, const struct stitch_account_new *a, struct stitch_user **ret_user,
                          struct stitch_account_result *ret) {
        _cleanup_free_ char *hash = NULL, *user_json = NULL, *ident_json = NULL;
        int r;

        assert(core && a && ret_user && ret);
        result_init(ret);
        r = check_new_user(core, a, ret);
        if (r < 0)
                return r;
        if (a->password) {
                r = stitch_account_password_hash(core, a->password, &hash);
                if (r < 0)
                        return failed(ret, r, "hashing the password");
        }
        user_json = data_json(a->email, a->name);
        ident_json = a->email ? data_json(a->email, NULL) : NULL;
        if (!user_json || (a->email && !ident_json))
                return failed(ret, -ENOMEM, "user");

        struct stitch_user u = {
                .type = (char *) STITCH_USER_TYPE_NORMAL,
                .email = (char *) a->email,
                .name = (char *) a->name,
                .unix_name = (char *) a->unix_name,
                .data_json = user_json,
                .pending = a->pending,
                .self_registered = a->self_registered,
        };
        /* An email comes with a password: that pair is the local-userpass identity. */
        r = create_user(core, &u, a->email ? stitch_provider_userpass.name : NULL, ident_json, hash);
        if (r == -EEXIST)
                return problem(ret, STITCH_ACCOUNT_TAKEN, a->email ? STITCH_ACCOUNT_FIELD_EMAIL : STITCH_ACCOUNT_FIELD_UNIX_NAME,
                               "a user with this email or unix_name already exists");
        if (r < 0)
                return failed(ret, r, "creating the user");
        memcpy(ret->user_id, u.id, sizeof(ret->user_id));
        /* A Unix account resolves at once, not at the next upkeep. A full
         * range or a store error leaves it without one for now (logged);
         * the upkeep tries again. */
        if (a->unix_name && core->config.accounts_userdb)
                (void) stitch_unix_account_assign(core, u.id, &(int64_t) {0});

        r = core->store_ops->user_find(core->store, STITCH_USER_BY_ID, u.id, ret_user);
        if (r < 0)
                return failed(ret, r, "reading the new user");
        return 0;
}

int stitch_account_create_server(struct stitch_core *core, const char *name, const char *unix_name,
                                 char ret_id[static STITCH_ID_LEN + 1]) {
        assert(core && name);
        if (unix_name && !stitch_unix_name_valid(unix_name))
                return -EINVAL;
        _cleanup_free_ char *d = data_json(NULL, name);
        if (!d)
                return -ENOMEM;
        struct stitch_user u = {
                .type = (char *) STITCH_USER_TYPE_SERVER,
                .name = (char *) name,
                .unix_name = (char *) unix_name,
                .data_json = d,
        };
        int r = create_user(core, &u, stitch_provider_apikey.name, d, NULL);
        if (r < 0)
                return r;
        memcpy(ret_id, u.id, STITCH_ID_LEN + 1);
        return 0;
}

/* ---- passwords ----------------------------------------------------------------- */

/* What a failed login must cost: one hash with PasswordHash=, or with the
 * parameters of the costliest stored hash met since the start. After
 * PasswordHash= was lowered, older hashes cost more until their users log
 * in again (and get rehashed); from the first failure against one of them
 * on, unknown users and every other failure cost as much. */
static struct stitch_argon2_params failure_floor(struct stitch_core *core, const char *hash) {
        struct stitch_argon2_params stored, floor;
        bool raised = false;

        pthread_mutex_lock(&core->password_floor_lock);
        if (hash && stitch_password_params(hash, &stored) >= 0 &&
            stitch_password_work(&stored) > stitch_password_work(&core->password_floor)) {
                core->password_floor = stored;
                raised = true;
        }
        floor = core->password_floor;
        pthread_mutex_unlock(&core->password_floor_lock);
        if (raised)
                log_notice("A stored password hash costs more than PasswordHash=: failed logins now cost as much as "
                           "argon2id:m=%u,t=%u,p=%u, until the daemon restarts.",
                           (unsigned) floor.m_kib, (unsigned) floor.t, (unsigned) floor.p);
        return floor;
}

int stitch_account_verify_password(struct stitch_core *core, struct stitch_user *found, const char *password,
                                   struct stitch_user **ret_user) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = found;
        _cleanup_free_ char *hash = NULL;
        int r;

        if (u && u->login_read)
                /* Read with the user (stitch_user_find_for_login). */
                hash = TAKE_PTR(u->login_password_hash);
        else if (u) {
                r = core->store_ops->password_get(core->store, u->id, &hash);
                if (r < 0 && r != -ENOENT)
                        return r;
        }

        /* Always pay for one verification, against a dummy hash when there is
         * no user or no password, and make every failure cost one hash at
         * the floor whatever parameters the stored hash has, so timing does
         * not tell them apart. */
        struct stitch_argon2_params floor = failure_floor(core, hash);
        r = stitch_password_verify_padded(hash ? hash : core->dummy_hash, password, !u || !hash || u->disabled, &floor);
        __atomic_fetch_add(&core->password_verifications, 1, __ATOMIC_RELAXED);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !u || !hash || u->disabled)
                return -EACCES;

        struct stitch_argon2_params want = stitch_userpass_password_hash(&core->config);
        if (stitch_password_needs_rehash(hash, &want)) {
                _cleanup_free_ char *fresh = NULL;
                if (stitch_account_password_hash(core, password, &fresh) >= 0) {
                        r = core->store_ops->password_set(core->store, u->id, fresh);
                        if (r < 0)
                                log_warning_errno(r, "Could not upgrade the password hash of user %s: %m", u->id);
                        else
                                log_info("Upgraded the password hash of user %s to the configured parameters.", u->id);
                }
        }

        *ret_user = TAKE_PTR(u);
        return 0;
}


/* The one rule for what a new password ends: with EndOnPasswordChange=yes
 * (or when asked) every session of the user but keep_session_id (the one
 * the change came from; NULL: none stays), so that a stolen refresh token
 * does not outlive the password it came with. */
static int end_sessions_for_new_password(struct stitch_core *core, const char *user_id, const char *keep_session_id,
                                         bool asked, size_t *ret_n) {
        *ret_n = 0;
        if (!asked && !core->config.end_on_password_change)
                return 0;
        return stitch_sessions_end_user(core, user_id, keep_session_id, STITCH_END_PASSWORD, ret_n);
}

/* Hashes, stores and ends the sessions. The password is in policy. */
static int store_password(struct stitch_core *core, const char *user_id, const char *password,
                          const char *keep_session_id, bool end_sessions, struct stitch_account_result *ret) {
        _cleanup_free_ char *hash = NULL;

        int r = stitch_account_password_hash(core, password, &hash);
        if (r < 0)
                return failed(ret, r, "hashing the password");
        r = core->store_ops->password_set(core->store, user_id, hash);
        if (r < 0)
                return failed(ret, r, "storing the password");
        stitch_events_users_changed(&core->events);
        r = end_sessions_for_new_password(core, user_id, keep_session_id, end_sessions, &ret->ended_sessions);
        if (r < 0)
                return failed(ret, r, "ending the user's sessions");
        return 0;
}

/* Someone other than the user chose the password (an admin, a reset link):
 * nothing of the user's is kept. */
static int replace_password(struct stitch_core *core, const char *user_id, const char *password,
                            struct stitch_account_result *ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;

        assert(core && user_id && password && ret);
        result_init(ret);
        int r = core->store_ops->user_find(core->store, STITCH_USER_BY_ID, user_id, &u);
        if (r == -ENOENT)
                return problem(ret, STITCH_ACCOUNT_NOT_FOUND, STITCH_ACCOUNT_FIELD_USER, "no such user: %s", user_id);
        if (r < 0)
                return failed(ret, r, "user lookup");
        memcpy(ret->user_id, u->id, sizeof(ret->user_id));
        if (!u->email)
                return problem(ret, STITCH_ACCOUNT_NO_PASSWORD_IDENTITY, STITCH_ACCOUNT_FIELD_USER,
                               "user has no %s identity (no email)", stitch_provider_userpass.name);
        r = check_new_password(core, password, ret);
        if (r < 0)
                return r;
        return store_password(core, u->id, password, NULL, false, ret);
}

int stitch_account_set_password(struct stitch_core *core, const char *user_id, const char *password,
                                struct stitch_account_result *ret) {
        return replace_password(core, user_id, password, ret);
}

int stitch_account_reset_password(struct stitch_core *core, const char *user_id, const char *password,
                                  struct stitch_account_result *ret) {
        int r = replace_password(core, user_id, password, ret);
        if (r >= 0)
                log_info("Password of user %s reset by its owner.", user_id);
        return r;
}

/* The user a login name refers to, if password is theirs. */
static int verify_login_name(struct stitch_core *core, const char *name, const char *password,
                             struct stitch_user **ret_user) {
        struct stitch_user *u = NULL;
        int r = stitch_user_find_by_login_name(core, name, &u);
        if (r < 0 && r != -ENOENT)
                return r;
        return stitch_account_verify_password(core, u, password, ret_user);
}

int stitch_account_change_password(struct stitch_core *core, const struct stitch_password_change *req,
                                   struct stitch_account_result *ret) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        char limit_key[STITCH_LIMIT_KEY_MAX];
        int r;

        assert(core && req && req->name && ret);
        result_init(ret);
        if (!stitch_userpass_enabled(&core->config))
                return problem(ret, STITCH_ACCOUNT_PASSWORDS_DISABLED, STITCH_ACCOUNT_FIELD_NONE,
                               "provider %s is disabled", stitch_provider_userpass.name);
        if (!req->check_only) {
                if (!req->new_password)
                        return problem(ret, STITCH_ACCOUNT_PASSWORD_MISSING, STITCH_ACCOUNT_FIELD_PASSWORD,
                                       "a new password is required");
                r = check_new_password(core, req->new_password, ret);
                if (r < 0)
                        return r;
        }

        /* The current password is checked as a login checks it: the same
         * failed-login budget, whichever name of the account is used. */
        r = stitch_limit_key_for_login(core, &(struct stitch_login) {.user = req->name}, limit_key);
        if (r < 0)
                return failed(ret, r, "user lookup");
        if (stitch_ratelimit_begin(core->ratelimit, limit_key, stitch_now_usec(CLOCK_MONOTONIC), &ret->retry_after_usec) ==
            -EBUSY)
                return problem(ret, STITCH_ACCOUNT_TOO_MANY_ATTEMPTS, STITCH_ACCOUNT_FIELD_NONE,
                               "too many failed attempts");

        /* Only root or the account itself gets here, so saying "not a stitch
         * user" reveals nothing to a stranger; it lets `passwd` fall through
         * to pam_unix for local accounts. */
        r = stitch_user_find_by_login_name(core, req->name, &u);
        if (r == -ENOENT)
                return problem(ret, STITCH_ACCOUNT_NOT_FOUND, STITCH_ACCOUNT_FIELD_USER, "%s is not a stitch user",
                               req->name);
        if (r < 0)
                return failed(ret, r, "user lookup");
        u = stitch_user_free(u);

        /* Costs one padded verification, as a failed login does. */
        r = stitch_account_password_plausible(req->old_password, NULL)
                    ? verify_login_name(core, req->name, req->old_password, &u)
                    : -EACCES;
        if (r == -EACCES || r == -EINVAL) {
                log_notice("Password change for %s refused: wrong current password.", req->name);
                return problem(ret, STITCH_ACCOUNT_WRONG_PASSWORD, STITCH_ACCOUNT_FIELD_NONE,
                               "invalid username or password");
        }
        if (r < 0)
                return failed(ret, r, "password check");
        memcpy(ret->user_id, u->id, sizeof(ret->user_id));
        stitch_ratelimit_success(core->ratelimit, limit_key);
        if (req->check_only)
                return 0;

        r = store_password(core, u->id, req->new_password, req->keep_session_id, req->end_other_sessions, ret);
        if (r >= 0)
                log_info("Password of %s (user %s) changed by its owner.", req->name, u->id);
        return r;
}

void stitch_account_unlock(struct stitch_core *core, const char *user_id) {
        char limit_key[STITCH_LIMIT_KEY_MAX];
        stitch_limit_key_for_user(user_id, limit_key);
        (void) stitch_ratelimit_unlock(core->ratelimit, limit_key);
}

/* ---- which account a name refers to ---------------------------------------------- */

int stitch_user_find_by_reference(struct stitch_core *core, const char *reference, struct stitch_user **ret) {
        enum stitch_user_key by = stitch_objectid_valid(reference) ? STITCH_USER_BY_ID
                                  : strchr(reference, '@')         ? STITCH_USER_BY_EMAIL
                                                                   : STITCH_USER_BY_UNIX_NAME;
        return core->store_ops->user_find(core->store, by, reference, ret);
}

/* user_find(), or for a login user_find_for_login(): with it, in the same
 * read, what the login will need next (the password hash, the count of
 * live sessions), so that it reads the store once. */
static int find_user(struct stitch_core *core, bool for_login, enum stitch_user_key by, const char *value,
                     struct stitch_user **ret) {
        if (for_login)
                return core->store_ops->user_find_for_login(core->store, by, value, stitch_now(), ret);
        return core->store_ops->user_find(core->store, by, value, ret);
}

static int find_by_login_name(struct stitch_core *core, const char *name, bool for_login, struct stitch_user **ret) {
        int r = find_user(core, for_login, STITCH_USER_BY_UNIX_NAME, name, ret);
        if (r != -ENOENT || isempty(core->config.email_domain))
                return r;
        char email[512];
        if ((size_t) snprintf(email, sizeof(email), "%s@%s", name, core->config.email_domain) >= sizeof(email))
                return -ENOENT;
        struct stitch_user *u = NULL;
        r = find_user(core, for_login, STITCH_USER_BY_EMAIL, email, &u);
        if (r < 0)
                return r;
        /* Nobody vouched for a registered address: it names no Unix account. */
        if (u->self_registered) {
                stitch_user_free(u);
                return -ENOENT;
        }
        *ret = u;
        return 0;
}

int stitch_user_find_by_login_name(struct stitch_core *core, const char *name, struct stitch_user **ret) {
        return find_by_login_name(core, name, false, ret);
}

int stitch_user_find_for_login(struct stitch_core *core, const struct stitch_login *l, struct stitch_user **ret) {
        if (l->app)
                return isempty(l->user) ? -ENOENT : find_user(core, true, STITCH_USER_BY_EMAIL, l->user, ret);
        return find_by_login_name(core, l->user, true, ret);
}

int stitch_user_find_by_any_name(struct stitch_core *core, const char *name, struct stitch_user **ret) {
        /* Unix names never hold an '@' (stitch_unix_name_valid) and emails
         * always do, so the two kinds of names cannot be confused. */
        if (strchr(name, '@'))
                return core->store_ops->user_find(core->store, STITCH_USER_BY_EMAIL, name, ret);
        return stitch_user_find_by_login_name(core, name, ret);
}

void stitch_limit_key_for_user(const char *user_id, char ret[static STITCH_LIMIT_KEY_MAX]) {
        snprintf(ret, STITCH_LIMIT_KEY_MAX, "user:%s", user_id);
}

void stitch_limit_key_for_address(const struct stitch_config *c, const char *address,
                                  char ret[static STITCH_LIMIT_KEY_MAX]) {
        char prefix[STITCH_ADDRESS_PREFIX_MAX];
        stitch_address_limit_name(c, address, prefix);
        snprintf(ret, STITCH_LIMIT_KEY_MAX, "addr:%s", prefix);
}

/* Login names and the ids of the users they named. A user's id never
 * changes; which user a name names changes only with a change to a stored
 * user (a rename, a deletion, a new user), which moves
 * core->user_names_generation; a login's time does not. So a password
 * login resolves its name for the limiter from memory and reads its user
 * once, in the provider. Names that named nobody are not kept. */
static void *limit_key_copy(const void *v) {
        return strdup(v);
}

static const struct stitch_cache_type limit_keys_type = {
        .slots = 1024,
        .shared = true, /* the workers' logins */
        .value_free = free,
        .value_copy = limit_key_copy,
};

int stitch_limit_key_cache_new(struct stitch_cache **ret) {
        return stitch_cache_new(&limit_keys_type, ret);
}

int stitch_limit_key_for_login(struct stitch_core *core, const struct stitch_login *l,
                               char ret[static STITCH_LIMIT_KEY_MAX]) {
        _cleanup_(stitch_user_freep) struct stitch_user *u = NULL;
        const char *name = l->user ? l->user : "";
        if (l->app && isempty(name)) {
                ret[0] = 0;
                return 0;
        }
        /* Taken before the read: a change that commits meanwhile leaves the
         * entry stale, never a stale entry current. */
        struct stitch_generation g = {
                .users = __atomic_load_n(&core->user_names_generation, __ATOMIC_ACQUIRE),
        };
        size_t len = strlen(name);
        _cleanup_free_ char *known = stitch_cache_get(core->limit_keys, name, len, &g);
        if (known) {
                stitch_limit_key_for_user(known, ret);
                return 0;
        }
        /* Every name of the account, whichever path it comes by: a name the
         * provider would not resolve here (the full email through PAM) can
         * never log in, but while the account is locked it must be refused
         * like the others, before any hash. */
        int r = stitch_user_find_by_any_name(core, name, &u);
        if (r >= 0) {
                stitch_limit_key_for_user(u->id, ret);
                char *keep = strdup(u->id);
                if (keep) /* else only not kept */
                        stitch_cache_put(core->limit_keys, name, len, &g, keep);
                return 0;
        }
        if (r != -ENOENT && core->offline && !l->app && stitch_offline_store_unreachable(r)) {
                /* Offline logins (core/offline.h) count where online ones do. */
                char id[STITCH_ID_LEN + 1];
                bool disabled;
                if (stitch_offline_lookup(core, name, stitch_now(), id, &disabled) >= 0)
                        stitch_limit_key_for_user(id, ret);
                else
                        snprintf(ret, STITCH_LIMIT_KEY_MAX, "name:%s", name);
                return 0;
        }
        if (r != -ENOENT)
                return r;
        /* Longer names never reach a provider (the wire caps them at 256). */
        snprintf(ret, STITCH_LIMIT_KEY_MAX, "name:%s", name);
        return 0;
}
