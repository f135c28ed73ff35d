/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for stitchd/core/conversations.c (the table of logins waiting
 * for answers: ids, owner uid, one use, expiry, bounds, the provider's state
 * freed) and for provider=auto's choice (providers/auto.c). Time is passed
 * in, so every test is deterministic. */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "core/conversations.h"

#define T0 (UINT64_C(1000) * USEC_PER_SEC)

static unsigned states_freed;
static void count_free(void *state) {
        states_freed++;
        free(state);
}
static const struct stitch_provider counting = {.name = "counting", .state_free = count_free};

static struct stitch_conversation *conv(uid_t uid, uint64_t expires, bool with_state) {
        struct stitch_conversation *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        c->uid = uid;
        c->share = uid; /* one share per uid, as for non-root callers */
        c->owner = 77;
        c->expires_usec = expires;
        c->provider = &counting;
        c->state = with_state ? strdup("state") : NULL;
        c->user = strdup("ada");
        return c;
}

static void test_owner_and_once(void **unused) {
        (void) unused;
        struct stitch_conversations *t = NULL;
        struct stitch_conversation *c = conv(1000, T0 + 60 * USEC_PER_SEC, false), *got = NULL;
        char id[STITCH_CONVERSATION_ID_LEN + 1];

        assert_int_equal(stitch_conversations_new(&t), 0);
        assert_int_equal(stitch_conversations_put(t, c, T0), 0);
        assert_int_equal(strlen(c->id), STITCH_CONVERSATION_ID_LEN);
        memcpy(id, c->id, sizeof(id));
        /* another uid, or the same uid on another connection: refused, and the owner's entry stays */
        assert_int_equal(stitch_conversations_take(t, id, 1001, 77, T0, &got), -ENOENT);
        assert_int_equal(stitch_conversations_take(t, id, 1000, 78, T0, &got), -ENOENT);
        assert_int_equal(stitch_conversations_take(t, id, 1000, 0, T0, &got), -ENOENT);
        assert_int_equal(stitch_conversations_count(t), 1);
        /* wrong lengths and near misses */
        assert_int_equal(stitch_conversations_take(t, "short", 1000, 77, T0, &got), -ENOENT);
        char other[sizeof(id)];
        memcpy(other, id, sizeof(id));
        other[0] = other[0] == 'A' ? 'B' : 'A';
        assert_int_equal(stitch_conversations_take(t, other, 1000, 77, T0, &got), -ENOENT);
        assert_int_equal(stitch_conversations_take(t, NULL, 1000, 77, T0, &got), -ENOENT);
        /* the owner, once */
        assert_int_equal(stitch_conversations_take(t, id, 1000, 77, T0, &got), 0);
        assert_ptr_equal(got, c);
        assert_int_equal(stitch_conversations_take(t, id, 1000, 77, T0, &got), -ENOENT);
        stitch_conversation_free(c);
        stitch_conversations_free(t);
}

static void test_expiry_frees_state(void **unused) {
        (void) unused;
        struct stitch_conversations *t = NULL;
        struct stitch_conversation *c = conv(1000, T0 + 10, true), *got = NULL;

        states_freed = 0;
        assert_int_equal(stitch_conversations_new(&t), 0);
        assert_int_equal(stitch_conversations_put(t, c, T0), 0);
        char id[STITCH_CONVERSATION_ID_LEN + 1];
        memcpy(id, c->id, sizeof(id));
        assert_int_equal(stitch_conversations_take(t, id, 1000, 77, T0 + 10, &got), -ENOENT);
        assert_int_equal(states_freed, 1);
        assert_int_equal(stitch_conversations_count(t), 0);
        /* freeing the table frees what waits in it */
        assert_int_equal(stitch_conversations_put(t, conv(1000, T0 + 100, true), T0), 0);
        stitch_conversations_free(t);
        assert_int_equal(states_freed, 2);
}

/* Whether id still waits (taking it out: an id works once). */
static bool has(struct stitch_conversations *t, const char *id, uid_t uid) {
        struct stitch_conversation *got = NULL;
        if (stitch_conversations_take(t, id, uid, 77, T0, &got) < 0)
                return false;
        stitch_conversation_free(got);
        return true;
}

/* A full share never refuses a new login: its oldest waiting one goes. */
static void test_full_share_evicts_oldest(void **unused) {
        (void) unused;
        struct stitch_conversations *t = NULL;
        char first[STITCH_CONVERSATION_ID_LEN + 1], second[STITCH_CONVERSATION_ID_LEN + 1];

        states_freed = 0;
        assert_int_equal(stitch_conversations_new(&t), 0);
        for (unsigned i = 0; i < STITCH_CONVERSATIONS_PER_SHARE; i++) {
                struct stitch_conversation *c = conv(1000, T0 + 100, true);
                assert_int_equal(stitch_conversations_put(t, c, T0 + i), 0);
                if (i == 0)
                        memcpy(first, c->id, sizeof(first));
                if (i == 1)
                        memcpy(second, c->id, sizeof(second));
        }
        struct stitch_conversation *c = conv(1000, T0 + 100, false);
        assert_int_equal(stitch_conversations_put(t, c, T0 + 50), 1);
        assert_int_equal(stitch_conversations_count(t), STITCH_CONVERSATIONS_PER_SHARE);
        assert_int_equal(states_freed, 1);
        assert_false(has(t, first, 1000));
        assert_true(has(t, second, 1000));
        /* another share is not touched by this one being full */
        c = conv(2000, T0 + 100, false);
        assert_int_equal(stitch_conversations_put(t, c, T0 + 51), 0);
        stitch_conversations_free(t);
}

/* A full table makes room in its largest share, whoever asks. */
static void test_full_table_evicts_largest_share(void **unused) {
        (void) unused;
        struct stitch_conversations *t = NULL;
        char small[STITCH_CONVERSATION_ID_LEN + 1];

        assert_int_equal(stitch_conversations_new(&t), 0);
        /* one small, old share, then many full ones and one a little fuller */
        struct stitch_conversation *c = conv(5, T0 + 100, false);
        assert_int_equal(stitch_conversations_put(t, c, T0), 0);
        memcpy(small, c->id, sizeof(small));
        for (uid_t u = 2000; stitch_conversations_count(t) < STITCH_CONVERSATIONS_MAX; u++)
                for (unsigned i = 0; i < STITCH_CONVERSATIONS_PER_SHARE - 1 &&
                                     stitch_conversations_count(t) < STITCH_CONVERSATIONS_MAX; i++)
                        assert_int_equal(stitch_conversations_put(t, conv(u, T0 + 100, false), T0 + 1), 0);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(stitch_conversations_put(t, conv(9, T0 + 100, false), T0 + 2), 1);
                assert_int_equal(stitch_conversations_count(t), STITCH_CONVERSATIONS_MAX);
        }
        /* the old conversation of the smallest share survived every eviction */
        assert_true(has(t, small, 5));
        /* once they expire there is room again, with nothing evicted */
        assert_int_equal(stitch_conversations_put(t, conv(9, T0 + 200, false), T0 + 100), 0);
        assert_int_equal(stitch_conversations_count(t), 1);
        stitch_conversations_free(t);
}

/* A closed connection ends what was asked on it, and only that. */
static void test_drop_owner(void **unused) {
        (void) unused;
        struct stitch_conversations *t = NULL;

        states_freed = 0;
        assert_int_equal(stitch_conversations_new(&t), 0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(stitch_conversations_put(t, conv(1000, T0 + 100, true), T0), 0);
        struct stitch_conversation *other = conv(1000, T0 + 100, true);
        other->owner = 78;
        assert_int_equal(stitch_conversations_put(t, other, T0), 0);
        assert_int_equal(stitch_conversations_drop_owner(t, 0), 0);
        assert_int_equal(stitch_conversations_drop_owner(t, 77), 3);
        assert_int_equal(states_freed, 3);
        assert_int_equal(stitch_conversations_count(t), 1);
        assert_int_equal(stitch_conversations_drop_owner(t, 77), 0);
        stitch_conversations_free(t);
}

/* Root's callers are told apart by service, remote user and host; others by uid alone. */
static void test_shares(void **unused) {
        (void) unused;
        struct stitch_conversations *t = NULL, *t2 = NULL;

        assert_int_equal(stitch_conversations_new(&t), 0);
        assert_int_equal(stitch_conversations_new(&t2), 0);
        uint64_t sshd1 = stitch_conversations_share(t, 0, "sshd", NULL, "192.0.2.1");
        assert_true(sshd1 == stitch_conversations_share(t, 0, "sshd", "", "192.0.2.1"));
        assert_true(sshd1 != stitch_conversations_share(t, 0, "sshd", NULL, "192.0.2.2"));
        assert_true(sshd1 != stitch_conversations_share(t, 0, "su", NULL, "192.0.2.1"));
        assert_true(stitch_conversations_share(t, 0, "su", "eve", NULL) !=
                    stitch_conversations_share(t, 0, "su", "ada", NULL));
        /* items cannot run into each other */
        assert_true(stitch_conversations_share(t, 0, "ab", "c", NULL) != stitch_conversations_share(t, 0, "a", "bc", NULL));
        /* non-root: the uid is the share, whatever it claims */
        assert_true(stitch_conversations_share(t, 1000, "sshd", NULL, "192.0.2.1") ==
                    stitch_conversations_share(t, 1000, "su", "x", "y"));
        assert_true(stitch_conversations_share(t, 1000, NULL, NULL, NULL) !=
                    stitch_conversations_share(t, 1001, NULL, NULL, NULL));
        /* keyed: another table (another start of the daemon) hashes differently */
        assert_true(sshd1 != stitch_conversations_share(t2, 0, "sshd", NULL, "192.0.2.1"));
        stitch_conversations_free(t);
        stitch_conversations_free(t2);
}

static void test_ids_differ(void **unused) {
        (void) unused;
        struct stitch_conversations *t = NULL;
        struct stitch_conversation *a = conv(1, T0 + 100, false), *b = conv(1, T0 + 100, false);

        assert_int_equal(stitch_conversations_new(&t), 0);
        assert_int_equal(stitch_conversations_put(t, a, T0), 0);
        assert_int_equal(stitch_conversations_put(t, b, T0), 0);
        assert_string_not_equal(a->id, b->id);
        for (const char *p = a->id; *p; p++)
                assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
        stitch_conversations_free(t);
}

/* provider=auto: which provider runs, under which credential name. */
static struct stitch_config choose_config;

static const struct stitch_provider *choose(const char *name, const char *value, bool interactive,
                                            struct stitch_credentials *bag, struct stitch_provider_result *res,
                                            int *ret) {
        const struct stitch_provider *p = NULL;
        *bag = (struct stitch_credentials) {0};
        *res = (struct stitch_provider_result) {0};
        if (name)
                assert_int_equal(stitch_credentials_put(bag, name, value), 0);
        struct stitch_login l = {.user = "ada", .service = "login", .interactive = interactive, .credentials = bag};
        *ret = stitch_provider_auto.choose(&choose_config, &l, bag, res, &p);
        return p;
}

static void test_auto(void **unused) {
        (void) unused;
        static const char key[] = "stk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        struct stitch_credentials bag;
        struct stitch_provider_result res;
        int r;

        assert_int_equal(stitch_config_init_defaults(&choose_config), 0);
        assert_ptr_equal(choose("key", key, false, &bag, &res, &r), &stitch_provider_apikey);
        assert_ptr_equal(choose("password", key, false, &bag, &res, &r), &stitch_provider_userpass);
        assert_false(res.authtok_is_not_password); /* a caller that names it: a password */
        assert_ptr_equal(choose("secret", key, true, &bag, &res, &r), &stitch_provider_apikey);
        assert_int_equal(r, STITCH_PROVIDER_DONE);
        assert_string_equal(stitch_credentials_get(&bag, "key"), key);
        assert_true(res.authtok_is_not_password);
        static const char *const near[] = {"stk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                           "stk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                           "stk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
                                           "STK_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "hunter22"};
        for (size_t i = 0; i < ELEMENTSOF(near); i++) {
                assert_ptr_equal(choose("secret", near[i], true, &bag, &res, &r), &stitch_provider_userpass);
                assert_string_equal(stitch_credentials_get(&bag, "password"), near[i]);
                assert_false(res.authtok_is_not_password);
        }
        /* nothing presented: an interactive caller is asked, one that cannot answer gets the default */
        assert_null(choose(NULL, NULL, true, &bag, &res, &r));
        assert_int_equal(r, STITCH_PROVIDER_ASK);
        assert_int_equal(res.ask.n_prompts, 1);
        assert_string_equal(res.ask.prompts[0].id, "secret");
        assert_string_equal(res.ask.prompts[0].text, "Password: ");
        assert_false(res.ask.prompts[0].echo);
        assert_true(res.ask.prompts[0].authtok);
        assert_ptr_equal(choose(NULL, NULL, false, &bag, &res, &r), &stitch_provider_userpass);

        /* A JWT is a password while [Provider.custom-token] is disabled... */
        static const char jwt[] = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
        assert_ptr_equal(choose("secret", jwt, true, &bag, &res, &r), &stitch_provider_userpass);
        assert_false(res.authtok_is_not_password);
        /* ...and a token once it is enabled; near misses stay passwords. */
        assert_int_equal(stitch_config_set(&choose_config, "Provider.custom-token", "Enabled", "yes", true), 0);
        assert_ptr_equal(choose("secret", jwt, true, &bag, &res, &r), &stitch_provider_custom_token);
        assert_int_equal(r, STITCH_PROVIDER_DONE);
        assert_string_equal(stitch_credentials_get(&bag, "token"), jwt);
        assert_true(res.authtok_is_not_password);
        assert_ptr_equal(choose("token", jwt, false, &bag, &res, &r), &stitch_provider_custom_token);
        static const char *const not_jwt[] = {"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.",
                                              "eyJhbGciOiJIUzI1NiJ9..c2ln",
                                              "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln.Zm9v",
                                              "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln+",
                                              "xyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", "eyJ.a.b c"};
        for (size_t i = 0; i < ELEMENTSOF(not_jwt); i++) {
                assert_ptr_equal(choose("secret", not_jwt[i], true, &bag, &res, &r), &stitch_provider_userpass);
                assert_false(res.authtok_is_not_password);
        }
        stitch_config_done(&choose_config);
}

static void test_bag_and_ask(void **unused) {
        (void) unused;
        struct stitch_credentials bag = {0};
        struct stitch_ask ask = {0};
        char name[STITCH_CREDENTIALS_MAX][8];

        for (size_t i = 0; i < STITCH_CREDENTIALS_MAX; i++) {
                snprintf(name[i], sizeof(name[i]), "n%zu", i);
                assert_int_equal(stitch_credentials_put(&bag, name[i], "v"), 0);
        }
        assert_int_equal(stitch_credentials_put(&bag, "one-more", "v"), -E2BIG);
        assert_int_equal(stitch_credentials_put(&bag, "n3", "w"), 0); /* replacing needs no room */
        assert_string_equal(stitch_credentials_get(&bag, "n3"), "w");
        assert_null(stitch_credentials_get(&bag, "absent"));
        for (size_t i = 0; i < STITCH_ASK_PROMPTS_MAX; i++)
                assert_int_equal(stitch_ask_prompt(&ask, "p", "Prompt: ", false, false), 0);
        assert_int_equal(stitch_ask_prompt(&ask, "p", "Prompt: ", false, false), -E2BIG);
        char long_id[STITCH_CREDENTIAL_NAME_MAX + 1];
        memset(long_id, 'x', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = 0;
        ask.n_prompts = 0;
        assert_int_equal(stitch_ask_prompt(&ask, long_id, "?", false, false), -E2BIG);
        char long_text[STITCH_MESSAGE_TEXT_MAX * 2];
        memset(long_text, 'y', sizeof(long_text) - 1);
        long_text[sizeof(long_text) - 1] = 0;
        assert_int_equal(stitch_ask_message(&ask, true, long_text), 0);
        assert_int_equal(strlen(ask.messages[0].text), STITCH_MESSAGE_TEXT_MAX - 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_owner_and_once), cmocka_unit_test(test_expiry_frees_state),
                cmocka_unit_test(test_full_share_evicts_oldest),
                cmocka_unit_test(test_full_table_evicts_largest_share),
                cmocka_unit_test(test_drop_owner),     cmocka_unit_test(test_shares),
                cmocka_unit_test(test_ids_differ),
                cmocka_unit_test(test_auto),           cmocka_unit_test(test_bag_and_ask),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
