/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Authentication providers, one file each behind this vtable, registered in
 * providers/registry.c. A provider runs a conversation that turns what the
 * person presents into a stitch user:
 *
 *   begin(credentials) -> done (user) | ask (prompts and messages, state)
 *                       | pending (messages, state, poll interval, expiry)
 *   step(state, answers) -> done | ask | pending ...
 *
 * The daemon keeps the state between rounds (login.c, conversations.c) and
 * front ends render the prompts: the PAM module over the PAM conversation,
 * stitchctl on its terminal. Pending is the device grant's "not yet": the
 * person acts elsewhere (a verification page on a phone), nothing is asked
 * here; the front end shows the messages once, waits the interval and sends
 * an empty round, which the daemon hands to step() with the state, until
 * the expiry. A pending round is not a guess: it never counts as a failed
 * attempt (core/ratelimit.h), so a provider must never answer a wrong
 * credential with pending. The login pipeline around a provider does the
 * service policy, rate limiting, sessions and tokens; no provider knows a
 * front end, and nothing outside providers/ knows a provider by name.
 * Which account a name refers to is the core's (core/accounts.h).
 *
 * The vtable is const and shared; what one daemon needs of a provider
 * lives apart from it:
 *   - its settings: the provider's [Provider.NAME] section, a struct and a
 *     key table of its own file (.config), parsed with the rest of
 *     stitchd.conf (file:line errors) into the config
 *     (stitch_config_settings());
 *   - its instance: built by .init from those settings when the daemon
 *     starts with the provider enabled (a JWKS cache, a CA store, an HTTP
 *     client), freed by .free when it stops; rounds find it with
 *     stitch_provider_instance().
 * Code outside providers/ that needs a provider's setting gets an accessor
 * (providers/userpass.h), never the struct. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/core.h"
#include "macro.h"

/* ---- what the person presented ------------------------------------------ */

#define STITCH_CREDENTIALS_MAX 8
#define STITCH_CREDENTIAL_NAME_MAX 32

/* Named values: the Login call's own credential fields and the answers to
 * the prompts of the round before. Borrowed strings. */
struct stitch_credentials {
        size_t n;
        struct {
                const char *name, *value;
        } items[STITCH_CREDENTIALS_MAX];
};

/* The value named 'name', or NULL. */
const char *stitch_credentials_get(const struct stitch_credentials *c, const char *name);
/* Adds (or replaces) a value: -E2BIG when full. */
int stitch_credentials_put(struct stitch_credentials *c, const char *name, const char *value);

/* Who logs in, where, and with what. */
struct stitch_login {
        /* An app login (the HTTP API): no Unix account is asked for; the
         * credentials alone name the user, and user is the account name
         * the person typed (local-userpass: the email), or "". */
        bool app;
        const char *user;    /* Unix name asked for (PAM_USER); app: see above */
        const char *service; /* PAM service ("" if none) */
        const char *rhost, *tty, *ruser;
        struct ucred cred;   /* the caller, by SO_PEERCRED (app: none, uid -1) */
        const char *device_id; /* app: the client's device id to keep, or NULL */
        bool interactive;    /* the caller can show prompts */
        /* Only identifying the user, to link the identity onto another one
         * (core/link.h): a user the provider creates for it is merged away,
         * so a provider that creates users only on request (CreateUsers=)
         * may create one here. */
        bool linking;
        /* The front end's connection the login came on: what it asks may be
         * answered on that connection only, and ends when it closes (0: the
         * front end has no such thing; any call of the same uid answers). */
        uint64_t owner;
        const struct stitch_credentials *credentials;
};

/* ---- what a provider asks for -------------------------------------------- */

#define STITCH_ASK_PROMPTS_MAX 4
#define STITCH_ASK_MESSAGES_MAX 4
#define STITCH_PROMPT_TEXT_MAX 128
#define STITCH_MESSAGE_TEXT_MAX 512

struct stitch_prompt {
        char id[STITCH_CREDENTIAL_NAME_MAX]; /* the answer's name in the next round */
        char text[STITCH_PROMPT_TEXT_MAX];   /* "Password: " */
        bool echo;                           /* false: a secret, typed unseen */
        bool authtok;                        /* the user's password: may come from and go to PAM_AUTHTOK */
};

struct stitch_message {
        char text[STITCH_MESSAGE_TEXT_MAX];
        bool error;
        /* text is a URL (a device login's verification page) the front end
         * may draw as a QR code (pam_stitch does, unless noqr): never the
         * only place the URL is shown. */
        bool qr;
};

struct stitch_ask {
        size_t n_prompts, n_messages;
        struct stitch_prompt prompts[STITCH_ASK_PROMPTS_MAX];
        struct stitch_message messages[STITCH_ASK_MESSAGES_MAX];
};

/* Adds a prompt or a message (texts are cut to fit). -E2BIG when full. */
int stitch_ask_prompt(struct stitch_ask *a, const char *id, const char *text, bool echo, bool authtok);
int stitch_ask_message(struct stitch_ask *a, bool error, const char *text);
/* Adds a message flagged qr (see struct stitch_message). -E2BIG when full,
 * -EINVAL if url does not fit whole. */
int stitch_ask_qr(struct stitch_ask *a, const char *url);

/* ---- the vtable ------------------------------------------------------------ */

enum {
        STITCH_PROVIDER_DONE = 0,    /* *ret_user is set */
        STITCH_PROVIDER_ASK = 1,     /* ask is filled; *state is kept for step() */
        STITCH_PROVIDER_PENDING = 2, /* pending is filled, ask has messages only; *state is kept for step() */
};

/* A conversation lives this long by default, and at most this long
 * whatever its provider asks for (struct stitch_provider's
 * conversation_lifetime_usec; a device code of Google's lives 30 minutes). */
#define STITCH_CONVERSATION_LIFETIME_DEFAULT_USEC (5 * 60 * USEC_PER_SEC)
#define STITCH_CONVERSATION_LIFETIME_MAX_USEC (30 * 60 * USEC_PER_SEC)
/* A pending round's poll interval is bounded to this range. */
#define STITCH_PENDING_INTERVAL_MIN_USEC (1 * USEC_PER_SEC)
#define STITCH_PENDING_INTERVAL_MAX_USEC (60 * USEC_PER_SEC)

/* STITCH_PROVIDER_PENDING: when to be asked again, and until when. */
struct stitch_pending {
        uint64_t interval_usec; /* poll again after this long (bounded, see above; 0: 5 s) */
        /* CLOCK_MONOTONIC: the login ends then (a device code's expires_in);
         * 0, or later than the conversation's lifetime allows: that lifetime,
         * counted from the login's first round. */
        uint64_t expires_usec;
};

struct stitch_provider_result {
        struct stitch_user *user; /* DONE: not disabled, may log in as l->user */
        /* DONE by an API key: its id (the session records it; deleting or
         * disabling the key ends the session); else "". */
        char apikey_id[STITCH_ID_LEN + 1];
        struct stitch_ask ask;    /* ASK; PENDING: messages only, shown once */
        struct stitch_pending pending; /* PENDING */
        void *state;              /* ASK, PENDING: the provider's, handed to step() then state_free() */
        /* The answer of an authtok prompt was not a password (an API key
         * typed at "Password: "): front ends must not hand it on. */
        bool authtok_is_not_password;
        /* DONE without the store, which cannot be reached (core/offline.h):
         * user holds only the id and the name; no session is made. */
        bool offline;
        /* DONE by another provider's check than this one's (a device
         * login's "use my password instead": local-userpass): the session
         * is recorded as that provider's. NULL: this provider's. */
        const struct stitch_provider *authenticated_by;
};

struct stitch_provider {
        const char *name; /* Stitch's provider_type; "auto" picks one */
        /* Its [Provider.NAME] section: its own settings struct and key table
         * (core/config.h), parsed with every other key; read with
         * stitch_config_settings(c, this). NULL: it has none. */
        const struct stitch_config_section *config;
        bool (*enabled)(const struct stitch_config *c);
        /* Builds the provider's per-daemon instance from its settings when the
         * daemon starts with the provider enabled (caches, clients, a CA
         * store): what begin/step share across logins, found with
         * stitch_provider_instance(). Returns 0, or -errno having logged why
         * (the daemon does not start). NULL: no instance. */
        int (*init)(struct stitch_core *core, const void *settings, void **ret_instance);
        void (*free)(void *instance);
        /* Needs no credential at all (anon-user): every begin is an attempt. */
        bool no_credentials;
        /* Its check costs nothing a guesser could use (api-key: one index
         * look-up of a 256-bit secret's hash), so the account's rate limit
         * is consulted once the check has named the account, not by a
         * look-up of the name before it: a right credential is refused
         * while its account is locked, a wrong one counts against the
         * named account as any failure does. One store read fewer. */
        bool limit_after_check;
        /* Its identities may be linked onto another user (not anonymous
         * ones, not API keys: those belong to the user that has them). */
        bool linkable;
        /* Its identity is the user's email and password (unlinking it
         * clears both). */
        bool identity_is_email;
        /* How long a conversation of this provider may wait for the person
         * (from its first round): 0 is STITCH_CONVERSATION_LIFETIME_DEFAULT_USEC,
         * more than STITCH_CONVERSATION_LIFETIME_MAX_USEC is cut to it. */
        uint64_t conversation_lifetime_usec;
        /* Its begin() and step() do network I/O (HTTPS to an identity
         * provider): over varlink (Login, Admin.UserLink) they run on the
         * daemon's small network pool (daemon/manager.h, started by the
         * first such round), never on the event loop and never on the
         * workers that hash passwords; HTTP app logins run them on the HTTP
         * front end's own threads. */
        bool network;
        /* > 0: a user whose identities are all of this provider is deleted
         * after this many seconds without a login or a used session
         * (anon-user: 90 days, as in Stitch). */
        int64_t idle_user_lifetime_sec;
        /* App logins (the HTTP API): which members of the login body are
         * which credentials ("user" is the account name, struct
         * stitch_login's user), and how a failed one is answered there. */
        struct {
                const char *member, *credential;
                bool optional; /* else a login body without it is refused */
        } app_fields[STITCH_CREDENTIALS_MAX];
        const char *app_failure_code, *app_failure_message;
        /* First round. Returns STITCH_PROVIDER_DONE, _ASK or _PENDING, or: -EACCES bad
         * credentials (unknown user, wrong secret, disabled user, mapping
         * mismatch: indistinguishable), -EPERM not allowed here (service),
         * -EINVAL credentials malformed, other -errno internal failures.
         * Asking must not depend on whether the user exists. */
        int (*begin)(struct stitch_core *core, const struct stitch_login *l, struct stitch_provider_result *ret);
        /* A round after an ask that left a state: with that state (step
         * frees nothing; state_free() follows); same returns. A round after
         * an ask without state is begin() again with the answers. After
         * PENDING, step() is called with no answers once the interval has
         * passed (a round that comes earlier is answered pending again
         * without calling the provider). NULL: the provider never keeps
         * state (and never answers PENDING). */
        int (*step)(struct stitch_core *core, const struct stitch_login *l, void *state,
                    struct stitch_provider_result *ret);
        void (*state_free)(void *state);
        /* Whether a session of this provider for user u is a login as Unix
         * account unix_name. NULL: the user's unix_name, or NAME@EmailDomain. */
        bool (*maps_to)(const struct stitch_config *c, const struct stitch_user *u, const char *unix_name);
        /* Instead of begin and step, a chooser ("auto") picks the provider
         * that runs for these credentials, renaming them for it: returns
         * STITCH_PROVIDER_DONE with *ret_provider, or STITCH_PROVIDER_ASK. */
        int (*choose)(const struct stitch_config *c, const struct stitch_login *l,
                      struct stitch_credentials *credentials, struct stitch_provider_result *ret,
                      const struct stitch_provider **ret_provider);
};

/* The registry's (registry.c lists every provider); auto picks between these. */
extern const struct stitch_provider stitch_provider_auto;
extern const struct stitch_provider stitch_provider_userpass;
extern const struct stitch_provider stitch_provider_apikey;
extern const struct stitch_provider stitch_provider_custom_token;

/* Every registered provider (not "auto"), NULL-terminated. */
const struct stitch_provider *const *stitch_providers(void);
/* By name (the registry); NULL if unknown. */
const struct stitch_provider *stitch_provider_find(const char *name);
/* Whether name is a registered provider_type (not "auto"). */
bool stitch_provider_type_known(const char *name);

/* The instances (core->provider_instances): init of every enabled provider
 * that has one, in registry order; on a failure the ones made are freed
 * and its -errno returned (logged). */
int stitch_providers_init(struct stitch_core *core);
void stitch_providers_free(struct stitch_core *core);
/* p's instance, or NULL (none, not enabled, or not started). Any thread:
 * an instance guards its own state. */
void *stitch_provider_instance(const struct stitch_core *core, const struct stitch_provider *p);

/* ---- helpers shared by providers ----------------------------------------- */

/* True if an API key has our format (prefix + 43 base64url characters). */
bool stitch_apikey_format_valid(const char *key);
/* True if s looks like a compact JWS (custom-token): "eyJ" and three
 * non-empty base64url segments separated by two dots. Only a shape: the
 * provider verifies. */
bool stitch_jwt_shape(const char *s);
