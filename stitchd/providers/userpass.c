/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* local-userpass: email/password users, argon2id hashes. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "core/accounts.h"
#include "core/password.h"
#include "providers/provider.h"
#include "providers/userpass.h"
#include "store/store.h"

/* PasswordHash= without a parameter takes OWASP's argon2id minimum (config.c). The longest
 * password: core/password.h STITCH_PASSWORD_MAX. */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

struct userpass_settings {
        bool enabled;
        unsigned min_password_length;
        struct stitch_config_password_hash password_hash;
        bool registration;       /* anyone may register (HTTP register) */
        bool auto_confirm;       /* registered users are confirmed at once */
        char *confirmation_url;  /* NULL: PublicURL/confirm; the link's base */
        char *reset_url;         /* NULL: PublicURL/reset */
        char *confirmation_command; /* "/abs/path [ARG...]", run without a shell */
        char *reset_command;     /* likewise, for reset/call */
        uint64_t token_lifetime_usec; /* confirmation and reset links */
        char *confirm_email_subject;
        char *reset_password_subject;
};

#define SECTION "Provider.local-userpass"
#define S struct userpass_settings
#define SEC(n) ((uint64_t) (n) * USEC_PER_SEC)
static const struct stitch_config_key userpass_keys[] = {
        STITCH_CONFIG_BOOL(S, SECTION, "Enabled", enabled, "yes"),
        STITCH_CONFIG_BOOL(S, SECTION, "Registration", registration, "no"),
        STITCH_CONFIG_BOOL(S, SECTION, "AutoConfirm", auto_confirm, "no"),
        STITCH_CONFIG_STRING(S, SECTION, "EmailConfirmationURL", confirmation_url, NULL, stitch_config_check_link_url),
        STITCH_CONFIG_STRING(S, SECTION, "ResetPasswordURL", reset_url, NULL, stitch_config_check_link_url),
        STITCH_CONFIG_STRING(S, SECTION, "ConfirmationCommand", confirmation_command, NULL, stitch_config_check_command),
        STITCH_CONFIG_STRING(S, SECTION, "ResetCommand", reset_command, NULL, stitch_config_check_command),
        STITCH_CONFIG_DURATION(S, SECTION, "TokenLifetime", token_lifetime_usec, "30min", SEC(60), SEC(7 * 24 * 3600)),
        STITCH_CONFIG_UNSIGNED(S, SECTION, "MinPasswordLength", min_password_length,
                               STRINGIFY(STITCH_PASSWORD_MIN_LENGTH), STITCH_PASSWORD_MIN_LENGTH, STITCH_PASSWORD_MAX),
        STITCH_CONFIG_PASSWORD_HASH(S, SECTION, "PasswordHash", password_hash, STITCH_CONFIG_PASSWORD_HASH_DEFAULT),
        STITCH_CONFIG_STRING(S, SECTION, "ConfirmEmailSubject", confirm_email_subject, "Confirm your email address",
                             stitch_config_check_text_line),
        STITCH_CONFIG_STRING(S, SECTION, "ResetPasswordSubject", reset_password_subject, "Reset your password",
                             stitch_config_check_text_line),
};
#undef S

static const struct stitch_config_section userpass_section = {
        .name = SECTION,
        .size = sizeof(struct userpass_settings),
        .keys = userpass_keys,
        .n_keys = ELEMENTSOF(userpass_keys),
};

static const struct userpass_settings *settings(const struct stitch_config *c) {
        const struct userpass_settings *s = stitch_config_settings(c, &userpass_section);
        assert(s); /* every config comes from stitch_config_init_defaults() */
        return s;
}

bool stitch_userpass_enabled(const struct stitch_config *c) {
        return settings(c)->enabled;
}
unsigned stitch_userpass_min_password_length(const struct stitch_config *c) {
        return settings(c)->min_password_length;
}
struct stitch_argon2_params stitch_userpass_password_hash(const struct stitch_config *c) {
        const struct stitch_config_password_hash *h = &settings(c)->password_hash;
        return (struct stitch_argon2_params) {h->m_kib, h->t, h->p};
}
bool stitch_userpass_registration(const struct stitch_config *c) {
        return settings(c)->registration;
}
bool stitch_userpass_auto_confirm(const struct stitch_config *c) {
        return settings(c)->auto_confirm;
}
const char *stitch_userpass_confirmation_url(const struct stitch_config *c) {
        return settings(c)->confirmation_url;
}
const char *stitch_userpass_reset_url(const struct stitch_config *c) {
        return settings(c)->reset_url;
}
const char *stitch_userpass_confirmation_command(const struct stitch_config *c) {
        return settings(c)->confirmation_command;
}
const char *stitch_userpass_reset_command(const struct stitch_config *c) {
        return settings(c)->reset_command;
}
uint64_t stitch_userpass_token_lifetime_usec(const struct stitch_config *c) {
        return settings(c)->token_lifetime_usec;
}
const char *stitch_userpass_confirm_email_subject(const struct stitch_config *c) {
        return settings(c)->confirm_email_subject;
}
const char *stitch_userpass_reset_password_subject(const struct stitch_config *c) {
        return settings(c)->reset_password_subject;
}

static bool userpass_enabled(const struct stitch_config *c) {
        return settings(c)->enabled;
}

static int userpass_begin(struct stitch_core *core, const struct stitch_login *l, struct stitch_provider_result *ret) {
        const char *password = stitch_credentials_get(l->credentials, "password");
        const char *reason;

        if (!password) {
                int r = stitch_ask_prompt(&ret->ask, "password", "Password: ", false, true);
                return r < 0 ? r : STITCH_PROVIDER_ASK;
        }
        /* Out-of-policy lengths can never match a stored password: refuse
         * them before paying for a hash (this tells an attacker nothing). */
        if (!stitch_account_password_plausible(password, &reason)) {
                log_info("Login for %s via %s refused: %s.", l->user, l->service, reason);
                return -EACCES;
        }
        struct stitch_user *u = NULL;
        int r = stitch_user_find_for_login(core, l, &u);
        if (r < 0 && r != -ENOENT)
                return r;
        r = stitch_account_verify_password(core, u, password, &ret->user);
        return r < 0 ? r : STITCH_PROVIDER_DONE;
}

const struct stitch_provider stitch_provider_userpass = {
        .name = "local-userpass",
        .config = &userpass_section,
        .enabled = userpass_enabled,
        .begin = userpass_begin,
        .linkable = true,
        .identity_is_email = true,
        .app_fields = {{"username", "user", false}, {"password", "password", false}},
        .app_failure_code = "InvalidPassword",
        .app_failure_message = "invalid username/password",
};
