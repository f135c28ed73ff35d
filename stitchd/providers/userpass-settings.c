/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* [Provider.local-userpass]: its keys and the accessors the core reads them
 * through (providers/userpass.h). Apart from the provider (userpass.c), so
 * that the core code the provider calls (core/accounts.c) and the code that
 * reads these settings do not call each other in a circle. */
#include <assert.h>

#include "core/password.h"
#include "macro.h"
#include "providers/userpass.h"

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

const struct stitch_config_section stitch_userpass_section = {
        .name = SECTION,
        .size = sizeof(struct userpass_settings),
        .keys = userpass_keys,
        .n_keys = ELEMENTSOF(userpass_keys),
};

static const struct userpass_settings *settings(const struct stitch_config *c) {
        const struct userpass_settings *s = stitch_config_settings(c, &stitch_userpass_section);
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

