/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzzes what pam_stitch.so does with the daemon's answers. The module's
 * sources (the .c files of pam_stitch/) and the client (lib/client.c, lib/wire.c) are
 * compiled into this program and its hooks are called directly, on a handle
 * of the harness's own small libpam (below: items, data, environment and
 * the conversation, with Linux-PAM's semantics).
 *
 * The "daemon" is the fuzz input. The link wraps connect() (-Wl,--wrap=connect):
 * a connection to FUZZ_SOCKET becomes one end of a socketpair whose other end
 * already holds the next reply chunk followed by end-of-file, so one input
 * runs a whole PAM transaction deterministically, without threads or
 * timeouts. The peer is this process, so the module's peer check passes
 * (root, or daemon_user= naming our own account).
 *
 * Input: byte 0 picks the scenario, byte 1 holds flags, the rest is the
 * chunks, separated by the four bytes "\n@@\n". A chunk is sent as is: it
 * holds one NUL-terminated reply, or garbage, several replies, or a
 * truncated one. A hook that finds no chunk left gets an immediate EOF.
 *
 * Scenarios (byte 0 % 5):
 *   0  password login: authenticate, acct_mgmt, setcred(ESTABLISH),
 *      setcred(REFRESH), open_session, close_session, setcred(DELETE)
 *   1  the same with provider=api-key (the conversation returns a key)
 *   2  anonymous: authenticate provider=anon-user, acct_mgmt, open_session
 *   3  a session from another process: STITCH_SESSION and
 *      STITCH_SESSION_BINDING in the PAM environment; acct_mgmt,
 *      open_session, close_session
 *   4  password change: chauthtok(PRELIM_CHECK), chauthtok(UPDATE_AUTHTOK)
 *
 * Flags (byte 1): 1 PAM_SILENT, 2 "debug", 4 try_first_pass (PAM_AUTHTOK
 * cannot be preset from outside a module, so the module still prompts),
 * 8 the reply end is closed before the module sends (EPIPE path).
 *
 * Oracles: the module fails closed. A hook returns PAM_SUCCESS only if the
 * chunk it consumed starts with a JSON object that has no "error" member and
 * carries what that hook needs (Login: a valid session_id, a refresh_token
 * and a user_id, and STITCH_SESSION is exported; Authorize: "allowed": true;
 * Refresh: an access_token). Every return value is a PAM code. ASan/UBSan
 * and LeakSanitizer (pam_end frees the module data) do the rest. */

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <security/pam_appl.h>
#include <security/pam_modutil.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "macro.h"
#include "pam_stitch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int __real_connect(int fd, const struct sockaddr *addr, socklen_t len);
int __wrap_connect(int fd, const struct sockaddr *addr, socklen_t len);

#define CHECK(x)                                                                          \
        do {                                                                              \
                if (!(x)) {                                                               \
                        fprintf(stderr, "fuzz-pam-reply: check failed: %s (line %d)\n", #x, \
                                __LINE__);                                                \
                        abort();                                                          \
                }                                                                         \
        } while (false)

#define FUZZ_SOCKET "/nonexistent/fuzz-pam-reply/io.stitch.Auth"
#define FUZZ_SERVICE "fuzz-pam-reply"
#define FUZZ_USER "ada"
#define FUZZ_PASSWORD "fuzz-password"
#define FUZZ_API_KEY "stk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define SEPARATOR "\n@@\n"
#define MAX_CHUNKS 16

enum {
        FLAG_SILENT = 1,
        FLAG_DEBUG = 2,
        FLAG_FIRST_PASS = 4,
        FLAG_CLOSE_EARLY = 8,
};

static struct {
        const uint8_t *chunk[MAX_CHUNKS];
        size_t len[MAX_CHUNKS];
        size_t n;           /* chunks in this input */
        size_t next;        /* the next connection gets chunk[next] */
        int peer;           /* our end of the current connection */
        bool close_early;
} script = { .peer = -1 };

static char daemon_user_arg[512];
static bool initialized;

/* ---- the fake daemon ----------------------------------------------------- */

static void close_peer(void) {
        if (script.peer >= 0)
                (void) close(script.peer);
        script.peer = -1;
}

int __wrap_connect(int fd, const struct sockaddr *addr, socklen_t len) {
        const struct sockaddr_un *sa = (const struct sockaddr_un *) addr;
        const uint8_t *chunk = NULL;
        size_t n = 0, off = 0;
        int sv[2], flags;

        if (!addr || addr->sa_family != AF_UNIX || len <= offsetof(struct sockaddr_un, sun_path) ||
            strncmp(sa->sun_path, FUZZ_SOCKET, sizeof(sa->sun_path)) != 0)
                return __real_connect(fd, addr, len);

        close_peer();
        if (script.next < script.n) {
                chunk = script.chunk[script.next];
                n = script.len[script.next];
        }
        script.next++;

        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        /* The module's socket is non-blocking; keep it so on the new end. */
        flags = fcntl(fd, F_GETFL);
        CHECK(flags >= 0);
        CHECK(fcntl(sv[0], F_SETFL, flags) == 0);
        /* Inputs are at most -max_len (70000) bytes: they fit the socket buffer. */
        while (off < n) {
                ssize_t k = write(sv[1], chunk + off, n - off);
                CHECK(k > 0);
                off += (size_t) k;
        }
        CHECK(shutdown(sv[1], SHUT_WR) == 0);
        CHECK(dup3(sv[0], fd, O_CLOEXEC) == fd);
        (void) close(sv[0]);
        if (script.close_early)
                (void) close(sv[1]);
        else
                script.peer = sv[1];
        return 0;
}

/* ---- the oracle ---------------------------------------------------------- */

/* The first message of a chunk, parsed leniently (cJSON accepts a superset
 * of what the wire codec does). NULL if it is not a JSON object. */
static cJSON *parse_chunk(size_t index) {
        const char *p;
        size_t n;
        cJSON *j;

        if (index >= script.n)
                return NULL;
        p = (const char *) script.chunk[index];
        n = strnlen(p, script.len[index]);
        j = cJSON_ParseWithLength(p, n);
        if (j && !cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

static const cJSON *reply_parameters(const cJSON *root) {
        return cJSON_GetObjectItemCaseSensitive(root, "parameters");
}

static const char *reply_string(const cJSON *root, const char *name) {
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(reply_parameters(root), name);
        return cJSON_IsString(i) ? i->valuestring : NULL;
}

static bool id_is_valid(const char *s) {
        size_t n;

        if (!s || !*s)
                return false;
        n = strlen(s);
        if (n > PAM_STITCH_SESSION_ID_MAX)
                return false;
        return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

enum expect {
        EXPECT_PLAIN,     /* no error */
        EXPECT_LOGIN,     /* no error, session_id, refresh_token, user_id */
        EXPECT_AUTHORIZE, /* no error, allowed: true */
        EXPECT_REFRESH,   /* no error, access_token */
        EXPECT_CLOSE,     /* no error, or SessionInvalid (already ended) */
};

/* Runs after a hook: 'before' is script.next before the hook. */
static void check_outcome(pam_handle_t *pamh, const char *hook, int r, size_t before, enum expect what) {
        cJSON *root;
        const cJSON *error;

        if (!(r >= PAM_SUCCESS && r <= PAM_INCOMPLETE)) {
                fprintf(stderr, "fuzz-pam-reply: %s returned %d, not a PAM code\n", hook, r);
                abort();
        }
        CHECK(script.next <= before + 1); /* at most one call per hook */
        if (r != PAM_SUCCESS)
                return;
        if (script.next == before)
                return; /* success without asking the daemon (e.g. setcred) */

        root = parse_chunk(before);
        if (!root) {
                fprintf(stderr, "fuzz-pam-reply: %s succeeded on a reply that is not a JSON object\n", hook);
                abort();
        }
        error = cJSON_GetObjectItemCaseSensitive(root, "error");
        if (what == EXPECT_CLOSE && cJSON_IsString(error) &&
            streq(error->valuestring, "io.stitch.Error.SessionInvalid")) {
                cJSON_Delete(root);
                return;
        }
        if (error) {
                fprintf(stderr, "fuzz-pam-reply: %s succeeded on an error reply\n", hook);
                abort();
        }
        switch (what) {
        case EXPECT_LOGIN: {
                const char *sid = reply_string(root, "session_id"), *env;

                CHECK(id_is_valid(sid));
                CHECK(id_is_valid(reply_string(root, "binding")));
                CHECK(reply_string(root, "refresh_token") && *reply_string(root, "refresh_token"));
                CHECK(reply_string(root, "user_id") && *reply_string(root, "user_id"));
                env = pam_getenv(pamh, PAM_STITCH_ENV_SESSION);
                CHECK(env && streq(env, sid));
                break;
        }
        case EXPECT_AUTHORIZE:
                CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply_parameters(root), "allowed")));
                break;
        case EXPECT_REFRESH:
                CHECK(reply_string(root, "access_token") && *reply_string(root, "access_token"));
                break;
        default:
                break;
        }
        cJSON_Delete(root);
}

/* ---- a small libpam -------------------------------------------------------- */

/* libpam only lets modules set PAM_AUTHTOK, and only while it dispatches to
 * them, which needs a loaded .so; so the harness implements the dozen libpam
 * calls the module makes (with Linux-PAM's semantics) and links no libpam. */

#define ITEM_MAX (PAM_AUTHTOK_TYPE + 1)
#define ENV_MAX 32

struct pam_data_entry {
        char *name;
        void *data;
        void (*cleanup)(pam_handle_t *pamh, void *data, int error_status);
        struct pam_data_entry *next;
};

struct pam_handle {
        char *item[ITEM_MAX];
        struct pam_conv conv;
        struct pam_data_entry *data;
        char *env[ENV_MAX];
};

static bool item_is_string(int type) {
        return type > 0 && type < ITEM_MAX && type != PAM_CONV && type != PAM_FAIL_DELAY;
}

static void wipe_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

int pam_set_item(pam_handle_t *pamh, int type, const void *item) {
        char *copy = NULL;

        if (type == PAM_CONV) {
                if (!item)
                        return PAM_PERM_DENIED;
                pamh->conv = *(const struct pam_conv *) item;
                return PAM_SUCCESS;
        }
        if (!item_is_string(type))
                return PAM_BAD_ITEM;
        if (item) {
                copy = strdup(item);
                if (!copy)
                        return PAM_BUF_ERR;
        }
        wipe_free(pamh->item[type]);
        pamh->item[type] = copy;
        return PAM_SUCCESS;
}

int pam_get_item(const pam_handle_t *pamh, int type, const void **item) {
        if (type == PAM_CONV) {
                *item = &pamh->conv;
                return PAM_SUCCESS;
        }
        if (!item_is_string(type))
                return PAM_BAD_ITEM;
        *item = pamh->item[type];
        return PAM_SUCCESS;
}

int pam_get_user(pam_handle_t *pamh, const char **user, const char *prompt) {
        if (!pamh->item[PAM_USER])
                return PAM_CONV_ERR; /* the harness always sets one */
        *user = pamh->item[PAM_USER];
        return PAM_SUCCESS;
}

int pam_set_data(pam_handle_t *pamh, const char *name, void *data,
                 void (*cleanup)(pam_handle_t *pamh, void *data, int error_status)) {
        struct pam_data_entry *e;

        for (e = pamh->data; e; e = e->next)
                if (streq(e->name, name)) {
                        if (e->cleanup)
                                e->cleanup(pamh, e->data, PAM_DATA_REPLACE);
                        e->data = data;
                        e->cleanup = cleanup;
                        return PAM_SUCCESS;
                }
        e = calloc(1, sizeof(*e));
        if (!e)
                return PAM_BUF_ERR;
        e->name = strdup(name);
        if (!e->name) {
                free(e);
                return PAM_BUF_ERR;
        }
        e->data = data;
        e->cleanup = cleanup;
        e->next = pamh->data;
        pamh->data = e;
        return PAM_SUCCESS;
}

int pam_get_data(const pam_handle_t *pamh, const char *name, const void **data) {
        for (const struct pam_data_entry *e = pamh->data; e; e = e->next)
                if (streq(e->name, name)) {
                        *data = e->data;
                        return PAM_SUCCESS;
                }
        return PAM_NO_MODULE_DATA;
}

static int env_find(const pam_handle_t *pamh, const char *name, size_t n) {
        for (int i = 0; i < ENV_MAX; i++)
                if (pamh->env[i] && strncmp(pamh->env[i], name, n) == 0 && pamh->env[i][n] == '=')
                        return i;
        return -1;
}

int pam_putenv(pam_handle_t *pamh, const char *name_value) {
        const char *eq = strchr(name_value, '=');
        size_t n = eq ? (size_t) (eq - name_value) : strlen(name_value);
        int i;

        if (n == 0)
                return PAM_BAD_ITEM;
        i = env_find(pamh, name_value, n);
        if (!eq) { /* "NAME": delete */
                if (i < 0)
                        return PAM_BAD_ITEM;
                free(pamh->env[i]);
                pamh->env[i] = NULL;
                return PAM_SUCCESS;
        }
        if (i < 0)
                for (i = 0; i < ENV_MAX && pamh->env[i]; i++)
                        ;
        if (i >= ENV_MAX)
                return PAM_BUF_ERR;
        free(pamh->env[i]);
        pamh->env[i] = strdup(name_value);
        return pamh->env[i] ? PAM_SUCCESS : PAM_BUF_ERR;
}

const char *pam_getenv(pam_handle_t *pamh, const char *name) {
        int i = env_find(pamh, name, strlen(name));
        return i < 0 ? NULL : pamh->env[i] + strlen(name) + 1;
}

_printf_(4, 0) static int converse(pam_handle_t *pamh, int style, char **response, const char *fmt, va_list ap) {
        struct pam_message m = { .msg_style = style };
        const struct pam_message *mp = &m;
        struct pam_response *resp = NULL;
        char text[PAM_MAX_MSG_SIZE];
        int r;

        (void) vsnprintf(text, sizeof(text), fmt, ap);
        m.msg = text;
        if (!pamh->conv.conv)
                return PAM_CONV_ERR;
        r = pamh->conv.conv(1, &mp, &resp, pamh->conv.appdata_ptr);
        if (r == PAM_SUCCESS && resp) {
                if (response)
                        *response = resp[0].resp;
                else
                        wipe_free(resp[0].resp);
                free(resp);
        } else if (resp) {
                wipe_free(resp[0].resp);
                free(resp);
        }
        return r;
}

int pam_vprompt(pam_handle_t *pamh, int style, char **response, const char *fmt, va_list args) {
        return converse(pamh, style, response, fmt, args);
}

int pam_prompt(pam_handle_t *pamh, int style, char **response, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = converse(pamh, style, response, fmt, ap);
        va_end(ap);
        return r;
}

/* pam_verror() and pam_vinfo() are macros around pam_vprompt(). */

/* Formats into a buffer, so a bad format still shows, and drops it. */
void pam_vsyslog(const pam_handle_t *pamh, int priority, const char *fmt, va_list args) {
        char buf[1024];

        (void) vsnprintf(buf, sizeof(buf), fmt, args);
}

void pam_syslog(const pam_handle_t *pamh, int priority, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        pam_vsyslog(pamh, priority, fmt, ap);
        va_end(ap);
}

struct passwd *pam_modutil_getpwnam(pam_handle_t *pamh, const char *user) {
        return getpwnam(user);
}

static pam_handle_t *fake_pam_start(const char *service, const char *user, const struct pam_conv *conv) {
        pam_handle_t *pamh = calloc(1, sizeof(*pamh));

        CHECK(pamh);
        CHECK(pam_set_item(pamh, PAM_SERVICE, service) == PAM_SUCCESS);
        CHECK(pam_set_item(pamh, PAM_USER, user) == PAM_SUCCESS);
        CHECK(pam_set_item(pamh, PAM_CONV, conv) == PAM_SUCCESS);
        return pamh;
}

static void fake_pam_end(pam_handle_t *pamh, int status) {
        while (pamh->data) {
                struct pam_data_entry *e = pamh->data;

                pamh->data = e->next;
                if (e->cleanup)
                        e->cleanup(pamh, e->data, status);
                free(e->name);
                free(e);
        }
        for (int i = 0; i < ITEM_MAX; i++)
                wipe_free(pamh->item[i]);
        for (int i = 0; i < ENV_MAX; i++)
                free(pamh->env[i]);
        free(pamh);
}

/* ---- the application side ------------------------------------------------ */

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *userdata) {
        const char *secret = userdata;
        struct pam_response *r;

        if (n <= 0 || n > PAM_MAX_NUM_MSG)
                return PAM_CONV_ERR;
        r = calloc((size_t) n, sizeof(*r));
        if (!r)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++) {
                /* Messages from the daemon reach the user: they must be clean. */
                if (msg[i]->msg)
                        for (const char *p = msg[i]->msg; *p; p++)
                                CHECK((unsigned char) *p >= 0x20 && *p != 0x7f);
                if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
                        r[i].resp = strdup(secret);
                        if (!r[i].resp) {
                                for (int j = 0; j < i; j++)
                                        free(r[j].resp);
                                free(r);
                                return PAM_BUF_ERR;
                        }
                }
        }
        *resp = r;
        return PAM_SUCCESS;
}

static void null_sink(int priority, int error, const char *file, int line, const char *func, const char *message) {
}

static void setup(void) {
        stitch_log_set_sink(null_sink);

        /* Not root: the peer (this process) must be the daemon user. */
        if (geteuid() != 0) {
                const struct passwd *pw = getpwuid(geteuid());
                CHECK(pw && pw->pw_name);
                CHECK(snprintf(daemon_user_arg, sizeof(daemon_user_arg), "daemon_user=%s", pw->pw_name) <
                      (int) sizeof(daemon_user_arg));
        }
        initialized = true;
}

static void split(const uint8_t *data, size_t size) {
        static const char sep[] = SEPARATOR;
        const size_t sep_len = sizeof(sep) - 1;
        size_t start = 0;

        script.n = 0;
        script.next = 0;
        for (size_t i = 0; script.n < MAX_CHUNKS - 1 && i + sep_len <= size;) {
                if (memcmp(data + i, sep, sep_len) == 0) {
                        script.chunk[script.n] = data + start;
                        script.len[script.n] = i - start;
                        script.n++;
                        i += sep_len;
                        start = i;
                } else
                        i++;
        }
        script.chunk[script.n] = data + start;
        script.len[script.n] = size - start;
        script.n++;
}

#define HOOK(name, call, expect)                                           \
        ({                                                                 \
                size_t _before = script.next;                              \
                int _r = (call);                                           \
                check_outcome(pamh, name, _r, _before, expect);            \
                _r;                                                        \
        })

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *argv[8];
        struct pam_conv conv = { conversation, NULL };
        pam_handle_t *pamh = NULL;
        unsigned scenario, flags;
        int argc = 0, pam_flags, r;

        if (!initialized)
                setup();
        if (size < 2)
                return 0;
        scenario = data[0] % 5;
        flags = data[1];
        split(data + 2, size - 2);
        script.close_early = flags & FLAG_CLOSE_EARLY;

        argv[argc++] = "socket=" FUZZ_SOCKET;
        argv[argc++] = "timeout=5";
        if (flags & FLAG_DEBUG)
                argv[argc++] = "debug";
        if (flags & FLAG_FIRST_PASS)
                argv[argc++] = "try_first_pass";
        if (scenario == 1)
                argv[argc++] = "provider=api-key";
        else if (scenario == 2)
                argv[argc++] = "provider=anon-user";
        if (daemon_user_arg[0])
                argv[argc++] = daemon_user_arg;
        pam_flags = (flags & FLAG_SILENT) ? PAM_SILENT : 0;

        conv.appdata_ptr = (void *) (scenario == 1 ? FUZZ_API_KEY : FUZZ_PASSWORD);
        pamh = fake_pam_start(FUZZ_SERVICE, FUZZ_USER, &conv);
        CHECK(pam_set_item(pamh, PAM_RHOST, "192.0.2.1") == PAM_SUCCESS);
        CHECK(pam_set_item(pamh, PAM_TTY, "pts/0") == PAM_SUCCESS);

        switch (scenario) {
        case 0:
        case 1:
        case 2:
                r = HOOK("authenticate", pam_sm_authenticate(pamh, pam_flags, argc, argv), EXPECT_LOGIN);
                if (r != PAM_SUCCESS)
                        break;
                (void) HOOK("acct_mgmt", pam_sm_acct_mgmt(pamh, pam_flags, argc, argv), EXPECT_AUTHORIZE);
                if (scenario != 2) {
                        (void) HOOK("setcred", pam_sm_setcred(pamh, pam_flags | PAM_ESTABLISH_CRED, argc, argv),
                                    EXPECT_PLAIN);
                        (void) HOOK("setcred-refresh",
                                    pam_sm_setcred(pamh, pam_flags | PAM_REFRESH_CRED, argc, argv), EXPECT_REFRESH);
                }
                (void) HOOK("open_session", pam_sm_open_session(pamh, pam_flags, argc, argv), EXPECT_PLAIN);
                if (scenario != 2) {
                        (void) HOOK("close_session", pam_sm_close_session(pamh, pam_flags, argc, argv),
                                    EXPECT_CLOSE);
                        (void) HOOK("setcred-delete",
                                    pam_sm_setcred(pamh, pam_flags | PAM_DELETE_CRED, argc, argv), EXPECT_PLAIN);
                }
                break;
        case 3:
                CHECK(pam_putenv(pamh, PAM_STITCH_ENV_SESSION "=fuzzsession0123") == PAM_SUCCESS);
                CHECK(pam_putenv(pamh, PAM_STITCH_ENV_BINDING "=stb_fuzzbinding0123") == PAM_SUCCESS);
                (void) HOOK("acct_mgmt", pam_sm_acct_mgmt(pamh, pam_flags, argc, argv), EXPECT_AUTHORIZE);
                (void) HOOK("open_session", pam_sm_open_session(pamh, pam_flags, argc, argv), EXPECT_PLAIN);
                (void) HOOK("close_session", pam_sm_close_session(pamh, pam_flags, argc, argv), EXPECT_CLOSE);
                break;
        case 4:
                r = HOOK("chauthtok-prelim", pam_sm_chauthtok(pamh, pam_flags | PAM_PRELIM_CHECK, argc, argv),
                         EXPECT_PLAIN);
                if (r == PAM_SUCCESS)
                        (void) HOOK("chauthtok-update",
                                    pam_sm_chauthtok(pamh, pam_flags | PAM_UPDATE_AUTHTOK, argc, argv), EXPECT_PLAIN);
                break;
        }

        fake_pam_end(pamh, PAM_SUCCESS);
        close_peer();
        return 0;
}
