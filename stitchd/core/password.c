/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <argon2.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "core/config.h"
#include "log.h"
#include "macro.h"
#include "core/password.h"
#include "core/ids.h"
#include "validate.h"

#define SALT_LEN 16
#define HASH_LEN 32

/* Workers= hashes at a time, whatever the number of threads: each hash takes
 * PasswordHash's m of memory and a CPU for tens of milliseconds. Each slot
 * owns its hash memory and keeps it between hashes: allocating 19 MiB per
 * hash would cost page faults each time, and glibc would keep a copy in the
 * arena of every thread that ever hashed (more threads than slots). libargon2
 * wipes the memory before handing it back.
 *
 * The memory is mapped, not malloc'd: munmap gives it back to the system at
 * once when the slots are released (stitch_password_release_idle). From
 * malloc, a freed 19 MiB block raised glibc's dynamic mmap threshold to
 * 19 MiB and its trim threshold to twice that, so the next blocks came from
 * a thread's arena and stayed resident after free: malloc_trim() does not
 * shrink the top of a thread's arena (measured: 38 MiB kept idle after a
 * load of logins, refreshes and profiles). */
struct slot {
        uint8_t *memory;
        size_t size;
        bool used;
};
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slots_free = PTHREAD_COND_INITIALIZER;
static struct slot *slots;
static unsigned n_slots; /* 0: no limit, libargon2 allocates */
static _Thread_local struct slot *current_slot;

/* Under slots_lock, or by the slot's owner. */
static void slot_unmap(struct slot *sl) {
        if (sl->memory)
                (void) munmap(sl->memory, sl->size); /* libargon2 wiped it after its hash */
        sl->memory = NULL;
        sl->size = 0;
}

int stitch_password_set_concurrency(unsigned n) {
        struct slot *a = n > 0 ? calloc(n, sizeof(struct slot)) : NULL;
        if (n > 0 && !a)
                return -ENOMEM;
        pthread_mutex_lock(&slots_lock);
        /* Only at startup, before any hash: the old slots are unused. */
        for (unsigned i = 0; i < n_slots; i++)
                slot_unmap(&slots[i]);
        free(slots);
        slots = a;
        n_slots = n;
        pthread_cond_broadcast(&slots_free);
        pthread_mutex_unlock(&slots_lock);
        return 0;
}

void stitch_password_done(void) {
        (void) stitch_password_set_concurrency(0);
}

void stitch_password_release_idle(void) {
        pthread_mutex_lock(&slots_lock);
        for (unsigned i = 0; i < n_slots; i++)
                if (!slots[i].used)
                        slot_unmap(&slots[i]);
        pthread_mutex_unlock(&slots_lock);
}

static struct slot *slot_take(void) {
        struct slot *got = NULL;
        pthread_mutex_lock(&slots_lock);
        while (n_slots > 0 && !got) {
                for (unsigned i = 0; i < n_slots && !got; i++)
                        if (!slots[i].used)
                                got = &slots[i];
                if (!got)
                        pthread_cond_wait(&slots_free, &slots_lock);
        }
        if (got)
                got->used = true;
        pthread_mutex_unlock(&slots_lock);
        return got;
}

static void slot_give(struct slot *sl) {
        if (!sl)
                return;
        pthread_mutex_lock(&slots_lock);
        sl->used = false;
        pthread_cond_signal(&slots_free);
        pthread_mutex_unlock(&slots_lock);
}

static int slot_allocate(uint8_t **memory, size_t bytes) {
        struct slot *sl = current_slot;
        if (!sl) {
                *memory = malloc(bytes);
                return *memory ? 0 : -1;
        }
        if (sl->size < bytes) {
                slot_unmap(sl);
                void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        return -1;
                (void) madvise(p, bytes, MADV_DONTDUMP); /* derived from passwords */
                sl->memory = p;
                sl->size = bytes;
        }
        *memory = sl->memory;
        return 0;
}

static void slot_deallocate(uint8_t *memory, size_t bytes) {
        (void) bytes;
        if (!current_slot)
                free(memory); /* the slot's memory stays with the slot */
}

/* ---- PHC strings, as libargon2 writes them ---------------------------------- */

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 without padding, as libargon2's encoder writes it. */
static void b64_encode(char *out, const uint8_t *in, size_t n) {
        size_t i = 0;
        for (; i + 3 <= n; i += 3) {
                uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
                *out++ = b64_alphabet[v >> 18];
                *out++ = b64_alphabet[(v >> 12) & 63];
                *out++ = b64_alphabet[(v >> 6) & 63];
                *out++ = b64_alphabet[v & 63];
        }
        if (n - i == 1) {
                uint32_t v = (uint32_t) in[i] << 16;
                *out++ = b64_alphabet[v >> 18];
                *out++ = b64_alphabet[(v >> 12) & 63];
        } else if (n - i == 2) {
                uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
                *out++ = b64_alphabet[v >> 18];
                *out++ = b64_alphabet[(v >> 12) & 63];
                *out++ = b64_alphabet[(v >> 6) & 63];
        }
        *out = 0;
}

/* Decodes exactly len characters; -1 unless canonical (no padding, zero spare bits). */
static ssize_t b64_decode(uint8_t *out, size_t out_size, const char *in, size_t len) {
        uint32_t acc = 0;
        unsigned bits = 0;
        size_t n = 0;
        if (len % 4 == 1)
                return -1;
        for (size_t i = 0; i < len; i++) {
                const char *p = memchr(b64_alphabet, in[i], 64);
                if (!p || in[i] == 0)
                        return -1;
                acc = (acc << 6) | (uint32_t) (p - b64_alphabet);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (n >= out_size)
                                return -1;
                        out[n++] = (uint8_t) (acc >> bits);
                }
        }
        if (acc & ((1u << bits) - 1))
                return -1;
        return (ssize_t) n;
}

struct phc {
        uint32_t m, t, p;
        uint8_t salt[64], hash[64];
        size_t salt_len, hash_len;
};

/* Parses "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" (what we write); -EINVAL for
 * anything else, which then goes to libargon2's own parser. */
static int phc_parse(const char *phc, struct phc *ret) {
        unsigned m, t, p;
        int consumed = 0;
        if (sscanf(phc, "$argon2id$v=19$m=%u,t=%u,p=%u$%n", &m, &t, &p, &consumed) != 3 || consumed == 0)
                return -EINVAL;
        const char *salt = phc + consumed, *dollar = strchr(salt, '$');
        if (!dollar)
                return -EINVAL;
        ssize_t a = b64_decode(ret->salt, sizeof(ret->salt), salt, (size_t) (dollar - salt));
        ssize_t b = b64_decode(ret->hash, sizeof(ret->hash), dollar + 1, strlen(dollar + 1));
        if (a < ARGON2_MIN_SALT_LENGTH || b < ARGON2_MIN_OUTLEN)
                return -EINVAL;
        ret->m = m;
        ret->t = t;
        ret->p = p;
        ret->salt_len = (size_t) a;
        ret->hash_len = (size_t) b;
        return 0;
}

int stitch_password_hash(const char *password, const struct stitch_argon2_params *params, char **ret) {
        uint8_t salt[SALT_LEN], hash[HASH_LEN];
        int r = stitch_random_bytes(salt, sizeof(salt));
        if (r < 0)
                return r;
        if (strlen(password) > UINT32_MAX)
                return -EINVAL;

        argon2_context ctx = {
                .out = hash,
                .outlen = HASH_LEN,
                .pwd = (uint8_t *) password,
                .pwdlen = (uint32_t) strlen(password),
                .salt = salt,
                .saltlen = SALT_LEN,
                .t_cost = params->t,
                .m_cost = params->m_kib,
                .lanes = params->p,
                .threads = params->p,
                .version = ARGON2_VERSION_13,
                .allocate_cbk = slot_allocate,
                .free_cbk = slot_deallocate,
                .flags = ARGON2_DEFAULT_FLAGS,
        };
        struct slot *sl = slot_take();
        current_slot = sl;
        int a = argon2id_ctx(&ctx);
        current_slot = NULL;
        slot_give(sl);
        if (a != ARGON2_OK) {
                explicit_bzero(hash, sizeof(hash));
                return log_error_errno(a == ARGON2_MEMORY_ALLOCATION_ERROR ? ENOMEM : EINVAL,
                                       "argon2id hashing failed: %s", argon2_error_message(a));
        }

        char salt64[(SALT_LEN * 4 + 2) / 3 + 1], hash64[(HASH_LEN * 4 + 2) / 3 + 1];
        b64_encode(salt64, salt, SALT_LEN);
        b64_encode(hash64, hash, HASH_LEN);
        explicit_bzero(hash, sizeof(hash));
        char *encoded = NULL;
        if (asprintf(&encoded, "$argon2id$v=19$m=%" PRIu32 ",t=%" PRIu32 ",p=%" PRIu32 "$%s$%s", params->m_kib,
                     params->t, params->p, salt64, hash64) < 0)
                return -ENOMEM;
        *ret = encoded;
        return 0;
}

int stitch_password_params(const char *phc, struct stitch_argon2_params *ret) {
        struct phc h;
        if (!phc || phc_parse(phc, &h) < 0)
                return -EINVAL;
        *ret = (struct stitch_argon2_params) {h.m, h.t, h.p};
        explicit_bzero(&h, sizeof(h));
        return 0;
}

uint64_t stitch_password_work(const struct stitch_argon2_params *params) {
        return (uint64_t) params->m_kib * params->t;
}

/* The check itself, in the caller's slot. *ret_work: what it cost
 * (stitch_password_work), UINT64_MAX when unknown (a PHC string only
 * libargon2's own parser reads). */
static int verify_in_slot(struct slot *sl, const char *phc, const char *password, uint64_t *ret_work) {
        struct phc h;
        int a;

        *ret_work = 0;
        if (!phc || strncmp(phc, "$argon2id$", 10) != 0)
                return -EINVAL;
        if (strlen(password) > UINT32_MAX)
                return -EINVAL;
        if (phc_parse(phc, &h) >= 0) {
                uint8_t out[sizeof(h.hash)];
                argon2_context ctx = {
                        .out = out,
                        .outlen = (uint32_t) h.hash_len,
                        .pwd = (uint8_t *) password,
                        .pwdlen = (uint32_t) strlen(password),
                        .salt = h.salt,
                        .saltlen = (uint32_t) h.salt_len,
                        .t_cost = h.t,
                        .m_cost = h.m,
                        .lanes = h.p,
                        .threads = h.p,
                        .version = ARGON2_VERSION_13,
                        .allocate_cbk = slot_allocate,
                        .free_cbk = slot_deallocate,
                        .flags = ARGON2_DEFAULT_FLAGS,
                };
                current_slot = sl;
                a = argon2id_verify_ctx(&ctx, (const char *) h.hash); /* compares in constant time */
                current_slot = NULL;
                explicit_bzero(out, sizeof(out));
                *ret_work = stitch_password_work(&(struct stitch_argon2_params) {h.m, h.t, h.p});
        } else {
                a = argon2id_verify(phc, password, strlen(password));
                *ret_work = UINT64_MAX;
        }
        if (a == ARGON2_OK)
                return 0;
        if (a == ARGON2_VERIFY_MISMATCH)
                return -EACCES;
        if (a == ARGON2_MEMORY_ALLOCATION_ERROR)
                return -ENOMEM;
        return -EINVAL;
}

/* Spends about 'work' (stitch_password_work) of argon2id in the caller's
 * slot, shaped like one hash with 'like': its lanes, at most its memory,
 * as many passes as needed. The result is thrown away. */
static void spend(struct slot *sl, uint64_t work, const struct stitch_argon2_params *like) {
        uint32_t lanes = MAX(like->p, 1u);
        uint64_t m_min = 8 * (uint64_t) lanes; /* libargon2's least memory: 8 KiB per lane */
        uint64_t m_max = MAX((uint64_t) like->m_kib, m_min);
        uint64_t t = MAX((work + m_max - 1) / m_max, (uint64_t) 1);
        uint64_t m = MIN(MAX((work + t - 1) / t, m_min), m_max);
        uint8_t out[HASH_LEN], salt[SALT_LEN] = {0};

        if (work == 0 || t > UINT32_MAX)
                return;
        argon2_context ctx = {
                .out = out,
                .outlen = sizeof(out),
                .pwd = NULL,
                .pwdlen = 0,
                .salt = salt,
                .saltlen = sizeof(salt),
                .t_cost = (uint32_t) t,
                .m_cost = (uint32_t) m,
                .lanes = lanes,
                .threads = lanes,
                .version = ARGON2_VERSION_13,
                .allocate_cbk = slot_allocate,
                .free_cbk = slot_deallocate,
                .flags = ARGON2_DEFAULT_FLAGS,
        };
        current_slot = sl;
        (void) argon2id_ctx(&ctx);
        current_slot = NULL;
        explicit_bzero(out, sizeof(out));
}

int stitch_password_verify(const char *phc, const char *password) {
        return stitch_password_verify_padded(phc, password, false, NULL);
}

int stitch_password_verify_padded(const char *phc, const char *password, bool refused,
                                  const struct stitch_argon2_params *floor) {
        uint64_t work;
        struct slot *sl = slot_take();
        int r = verify_in_slot(sl, phc, password, &work);
        /* In the same slot: waiting for a second one would cost failures
         * more than successes under load. */
        if (floor && (refused || r < 0) && r != -ENOMEM && work < stitch_password_work(floor))
                spend(sl, stitch_password_work(floor) - work, floor);
        slot_give(sl);
        return r;
}

bool stitch_password_needs_rehash(const char *phc, const struct stitch_argon2_params *params) {
        char want[96];
        snprintf(want, sizeof(want), "$argon2id$v=19$m=%" PRIu32 ",t=%" PRIu32 ",p=%" PRIu32 "$", params->m_kib,
                 params->t, params->p);
        return !phc || strncmp(phc, want, strlen(want)) != 0;
}

int stitch_password_check_policy(const char *password, unsigned min_length, const char **ret_reason) {
        /* Stitch counts characters, not bytes: count UTF-8 lead bytes. */
        size_t n = 0;
        for (const unsigned char *c = (const unsigned char *) password; *c; c++)
                if ((*c & 0xC0) != 0x80)
                        n++;
        if (n < min_length || n < STITCH_PASSWORD_MIN_LENGTH) {
                *ret_reason = "password too short";
                return -EINVAL;
        }
        if (n > STITCH_PASSWORD_MAX) {
                *ret_reason = "password too long: at most 128 characters";
                return -EINVAL;
        }
        return 0;
}
