/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* [Provider.local-userpass]'s settings, for the core code that works on
 * email/password accounts (core/accounts.c, the registration, confirmation
 * and reset flows, their mails): read through these, never through the
 * provider's struct, which stays its file's (providers/userpass.c). c is a
 * config from stitch_config_init_defaults() or a copy of one. */

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/password.h"

/* The section itself (providers/userpass-settings.c), for the provider. */
extern const struct stitch_config_section stitch_userpass_section;

bool stitch_userpass_enabled(const struct stitch_config *c);              /* Enabled= (yes) */
unsigned stitch_userpass_min_password_length(const struct stitch_config *c); /* MinPasswordLength= (6) */
struct stitch_argon2_params stitch_userpass_password_hash(const struct stitch_config *c); /* PasswordHash= */
bool stitch_userpass_registration(const struct stitch_config *c);         /* Registration= (no) */
bool stitch_userpass_auto_confirm(const struct stitch_config *c);         /* AutoConfirm= (no) */
const char *stitch_userpass_confirmation_url(const struct stitch_config *c);     /* NULL: PublicURL/confirm */
const char *stitch_userpass_reset_url(const struct stitch_config *c);            /* NULL: PublicURL/reset */
const char *stitch_userpass_confirmation_command(const struct stitch_config *c); /* NULL, or "/abs/path [ARG...]" */
const char *stitch_userpass_reset_command(const struct stitch_config *c);        /* NULL, or likewise */
uint64_t stitch_userpass_token_lifetime_usec(const struct stitch_config *c);     /* TokenLifetime= (30min) */
const char *stitch_userpass_confirm_email_subject(const struct stitch_config *c);
const char *stitch_userpass_reset_password_subject(const struct stitch_config *c);
