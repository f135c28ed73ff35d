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
        /* another uid: refused, and the owner's entry stays */
        assert_int_equal(stitch_conversations_take(t, id, 1001, T0, &got), -ENOENT);
        assert_int_equal(stitch_conversations_count(t), 1);
        /* wrong lengths and near misses */
        assert_int_equal(stitch_conversations_take(t, "short", 1000, T0, &got), -ENOENT);
        char other[sizeof(id)];
        memcpy(other, id, sizeof(id));
        other[0] = other[0] == 'A' ? 'B' : 'A';
        assert_int_equal(stitch_conversations_take(t, other, 1000, T0, &got), -ENOENT);
        assert_int_equal(stitch_conversations_take(t, NULL, 1000, T0, &got), -ENOENT);
        /* the owner, once */
        assert_int_equal(stitch_conversations_take(t, id, 1000, T0, &got), 0);
        assert_ptr_equal(got, c);
        assert_int_equal(stitch_conversations_take(t, id, 1000, T0, &got), -ENOENT);
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
        assert_int_equal(stitch_conversations_take(t, id, 1000, T0 + 10, &got), -ENOENT);
        assert_int_equal(states_freed, 1);
        assert_int_equal(stitch_conversations_count(t), 0);
        /* freeing the table frees what waits in it */
        assert_int_equal(stitch_conversations_put(t, conv(1000, T0 + 100, true), T0), 0);
        stitch_conversations_free(t);
        assert_int_equal(states_freed, 2);
}

static void test_bounds(void **unused) {
        (void) unused;
        struct stitch_conversations *t = NULL;

        assert_int_equal(stitch_conversations_new(&t), 0);
        for (unsigned i = 0; i < STITCH_CONVERSATIONS_PER_UID; i++)
                assert_int_equal(stitch_conversations_put(t, conv(1000, T0 + 100, false), T0), 0);
        struct stitch_conversation *c = conv(1000, T0 + 100, false);
        assert_int_equal(stitch_conversations_put(t, c, T0), -EBUSY);
        stitch_conversation_free(c);
        /* other uids are not held up by one uid's share */
        for (uid_t u = 2000; stitch_conversations_count(t) < STITCH_CONVERSATIONS_MAX; u++)
                for (unsigned i = 0; i < STITCH_CONVERSATIONS_PER_UID && stitch_conversations_count(t) < STITCH_CONVERSATIONS_MAX; i++)
                        assert_int_equal(stitch_conversations_put(t, conv(u, T0 + 100, false), T0), 0);
        c = conv(9, T0 + 100, false);
        assert_int_equal(stitch_conversations_put(t, c, T0), -EBUSY);
        /* once they expire there is room again */
        assert_int_equal(stitch_conversations_put(t, c, T0 + 100), 0);
        assert_int_equal(stitch_conversations_count(t), 1);
        stitch_conversations_free(t);
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
static const struct stitch_provider *choose(const char *name, const char *value, bool interactive,
                                            struct stitch_credentials *bag, struct stitch_provider_result *res,
                                            int *ret) {
        const struct stitch_provider *p = NULL;
        *bag = (struct stitch_credentials) {0};
        *res = (struct stitch_provider_result) {0};
        if (name)
                assert_int_equal(stitch_credentials_put(bag, name, value), 0);
        struct stitch_login l = {.user = "ada", .service = "login", .interactive = interactive, .credentials = bag};
        *ret = stitch_provider_auto.choose(&l, bag, res, &p);
        return p;
}

static void test_auto(void **unused) {
        (void) unused;
        static const char key[] = "stk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        struct stitch_credentials bag;
        struct stitch_provider_result res;
        int r;

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
                cmocka_unit_test(test_bounds),         cmocka_unit_test(test_ids_differ),
                cmocka_unit_test(test_auto),           cmocka_unit_test(test_bag_and_ask),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
