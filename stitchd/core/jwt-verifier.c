/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The order of the checks is deliberate: everything about the form and
 * the header is settled before a key is touched, the payload is parsed
 * only once the signature holds (so the JSON parser sees attacker-chosen
 * payloads only from holders of a key), and the claims come last. */

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "base64url.h"
#include "core/jwt-verifier.h"
#include "log.h"
#include "macro.h"
#include "strv.h"
#include "trusted-path.h"
#include "wire.h"

#define HS256_BYTES 32
/* Largest decoded header or payload. */
#define PART_MAX_DECODED ((STITCH_JWT_VERIFIER_MAX_TOKEN / 4) * 3 + 3)
/* Largest signature: an 8192-bit RSA one. */
#define SIGNATURE_MAX_BYTES (STITCH_JOSE_RSA_MAX_BITS / 8)

struct verifier_key {
        EVP_PKEY *pkey;  /* RS256, ES256 */
        uint8_t *secret; /* HS256 */
        size_t secret_len;
};

struct stitch_jwt_verifier {
        enum stitch_jose_alg alg;
        bool use_jwks;
        size_t n_keys;
        struct verifier_key keys[STITCH_JWT_VERIFIER_MAX_KEYS];

        bool audience_set;
        char **audiences;
        bool require_any_audience;
        char *app_id;
        char **issuers; /* NULL: not checked */
        int64_t leeway;
};

const char *const stitch_google_issuers[] = { "accounts.google.com", "https://accounts.google.com", NULL };

const char *stitch_jwt_error_to_string(int r) {
        switch (r) {
        case 0:
                return "token valid";
        case STITCH_JWT_MALFORMED:
                return "token malformed";
        case STITCH_JWT_TOO_LARGE:
                return "token too large";
        case STITCH_JWT_ALGORITHM_NOT_ALLOWED:
                return "algorithm not allowed";
        case STITCH_JWT_KEY_ID_MISSING:
                return "key id missing";
        case STITCH_JWT_UNKNOWN_KEY_ID:
                return "unknown key id";
        case STITCH_JWT_SIGNATURE_INVALID:
                return "signature invalid";
        case STITCH_JWT_CLAIM_INVALID:
                return "required claim missing or invalid";
        case STITCH_JWT_EXPIRED:
                return "token expired";
        case STITCH_JWT_NOT_YET_VALID:
                return "token not yet valid";
        case STITCH_JWT_ISSUED_IN_FUTURE:
                return "token issued in the future";
        case STITCH_JWT_AUDIENCE_MISMATCH:
                return "audience mismatch";
        case STITCH_JWT_ISSUER_MISMATCH:
                return "issuer mismatch";
        case -ENOMEM:
                return "out of memory";
        default:
                return "token verification failed";
        }
}

/* ---- set-up ---------------------------------------------------------------- */

int stitch_jwt_verifier_new(enum stitch_jose_alg alg, struct stitch_jwt_verifier **ret) {
        if (!ret || !stitch_jose_alg_to_string(alg))
                return -EINVAL;
        struct stitch_jwt_verifier *v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        v->alg = alg;
        v->leeway = STITCH_JWT_VERIFIER_LEEWAY_DEFAULT;
        *ret = v;
        return 0;
}

struct stitch_jwt_verifier *stitch_jwt_verifier_free(struct stitch_jwt_verifier *v) {
        if (!v)
                return NULL;
        for (size_t i = 0; i < v->n_keys; i++) {
                EVP_PKEY_free(v->keys[i].pkey);
                if (v->keys[i].secret)
                        OPENSSL_cleanse(v->keys[i].secret, v->keys[i].secret_len);
                free(v->keys[i].secret);
        }
        stitch_strv_free(v->audiences);
        stitch_strv_free(v->issuers);
        free(v->app_id);
        free(v);
        return NULL;
}

static bool looks_like_pem(const uint8_t *d, size_t n) {
        static const char begin[] = "-----BEGIN";
        /* Anywhere: a PEM block after a comment line is still a public key. */
        for (size_t i = 0; i + sizeof(begin) - 1 <= n; i++)
                if (memcmp(d + i, begin, sizeof(begin) - 1) == 0)
                        return true;
        return false;
}

static int no_passphrase(char *buf, int size, int rwflag, void *userdata) {
        return -1;
}

int stitch_jwt_verifier_add_key(struct stitch_jwt_verifier *v, const void *data, size_t len) {
        struct verifier_key k = {};
        int r;

        if (!v || (!data && len > 0) || v->use_jwks)
                return -EINVAL;
        if (v->n_keys >= STITCH_JWT_VERIFIER_MAX_KEYS)
                return -E2BIG;

        if (v->alg == STITCH_JOSE_HS256) {
                if (len < STITCH_JWT_HS256_SECRET_MIN || len > STITCH_JWT_HS256_SECRET_MAX ||
                    looks_like_pem(data, len))
                        return -EKEYREJECTED;
                k.secret = malloc(len);
                if (!k.secret)
                        return -ENOMEM;
                memcpy(k.secret, data, len);
                k.secret_len = len;
        } else {
                if (len == 0 || len > STITCH_JWT_KEY_FILE_MAX || len > INT_MAX)
                        return -EKEYREJECTED;
                BIO *bio = BIO_new_mem_buf(data, (int) len);
                if (!bio)
                        return -ENOMEM;
                k.pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
                BIO_free(bio);
                ERR_clear_error();
                if (!k.pkey)
                        return -EKEYREJECTED;
                r = stitch_jose_public_key_check(k.pkey, v->alg);
                if (r < 0) {
                        EVP_PKEY_free(k.pkey);
                        return r;
                }
        }
        v->keys[v->n_keys++] = k;
        return 0;
}

int stitch_jwt_verifier_add_key_file(struct stitch_jwt_verifier *v, const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        uint8_t *buf = NULL;
        size_t n = 0;
        int r;

        if (!v || !path)
                return -EINVAL;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        /* Checked on the file we read, not on whatever the name leads to later. */
        if (fstat(fd, &st) < 0)
                return -errno;
        r = stitch_check_trusted(path, false, "signing key file"); /* logs why */
        if (r < 0)
                return r;
        if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 0022))
                return log_error_errno(EPERM, "Refusing signing key file %s: it changed while being checked.",
                                       path);
        if (v->alg == STITCH_JOSE_HS256 && (st.st_mode & 0004))
                return log_error_errno(EPERM, "Refusing HS256 secret file %s: readable by others (mode %04o).",
                                       path, (unsigned) (st.st_mode & 07777));
        if (st.st_size > STITCH_JWT_KEY_FILE_MAX)
                return log_error_errno(EFBIG, "Refusing signing key file %s: larger than %d bytes.", path,
                                       STITCH_JWT_KEY_FILE_MAX);

        buf = malloc(STITCH_JWT_KEY_FILE_MAX + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, STITCH_JWT_KEY_FILE_MAX + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto finish;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > STITCH_JWT_KEY_FILE_MAX) {
                        r = -EFBIG;
                        goto finish;
                }
        }

        if (v->alg == STITCH_JOSE_HS256) {
                if (n > 0 && buf[n - 1] == '\n')
                        n--;
                if (n > 0 && buf[n - 1] == '\r')
                        n--;
        }
        r = stitch_jwt_verifier_add_key(v, buf, n);

finish:
        OPENSSL_cleanse(buf, STITCH_JWT_KEY_FILE_MAX + 1);
        free(buf);
        return r;
}

int stitch_jwt_verifier_use_jwks(struct stitch_jwt_verifier *v) {
        if (!v || v->n_keys > 0 || v->alg == STITCH_JOSE_HS256)
                return -EINVAL;
        v->use_jwks = true;
        return 0;
}

int stitch_jwt_verifier_set_audience(struct stitch_jwt_verifier *v, char *const *audiences, bool require_any,
                                     const char *app_id) {
        if (!v)
                return -EINVAL;
        if (stitch_strv_length(audiences) == 0 && isempty(app_id))
                return -EINVAL; /* a rule that nothing satisfies, or everything */
        for (char *const *a = audiences; a && *a; a++)
                if (isempty(*a))
                        return -EINVAL;

        char **copy = stitch_strv_copy(audiences);
        char *app = app_id ? strdup(app_id) : NULL;
        if (!copy || (app_id && !app)) {
                stitch_strv_free(copy);
                free(app);
                return -ENOMEM;
        }
        stitch_strv_free(v->audiences);
        free(v->app_id);
        v->audiences = copy;
        v->app_id = app;
        v->require_any_audience = require_any;
        v->audience_set = true;
        return 0;
}

int stitch_jwt_verifier_set_issuers(struct stitch_jwt_verifier *v, const char *const *issuers) {
        char **copy = NULL;

        if (!v)
                return -EINVAL;
        if (issuers && issuers[0]) {
                copy = stitch_strv_copy((char *const *) issuers);
                if (!copy)
                        return -ENOMEM;
        }
        stitch_strv_free(v->issuers);
        v->issuers = copy;
        return 0;
}

int stitch_jwt_verifier_set_leeway(struct stitch_jwt_verifier *v, int64_t seconds) {
        if (!v || seconds < 0 || seconds > STITCH_JWT_VERIFIER_LEEWAY_MAX)
                return -EINVAL;
        v->leeway = seconds;
        return 0;
}

void stitch_jwt_verified_done(struct stitch_jwt_verified *t) {
        if (!t)
                return;
        cJSON_Delete(t->claims);
        *t = (struct stitch_jwt_verified) {};
}

/* ---- signatures -------------------------------------------------------------- */

static int hs256_check(const struct verifier_key *k, const char *input, size_t input_len, const uint8_t *sig,
                       size_t sig_len) {
        uint8_t mac[HS256_BYTES];
        size_t mac_len = 0;

        if (sig_len != HS256_BYTES)
                return STITCH_JWT_SIGNATURE_INVALID;
        if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->secret, k->secret_len, (const uint8_t *) input,
                       input_len, mac, sizeof(mac), &mac_len) ||
            mac_len != HS256_BYTES) {
                ERR_clear_error();
                return -EIO;
        }
        int r = CRYPTO_memcmp(mac, sig, HS256_BYTES) == 0 ? 0 : STITCH_JWT_SIGNATURE_INVALID;
        OPENSSL_cleanse(mac, sizeof(mac));
        return r;
}

static int pkey_check(EVP_PKEY *pkey, enum stitch_jose_alg alg, const char *input, size_t input_len,
                      const uint8_t *sig, size_t sig_len) {
        uint8_t der[STITCH_JOSE_ES256_DER_MAX];
        EVP_PKEY_CTX *pctx = NULL; /* owned by md */
        int r;

        if (alg == STITCH_JOSE_ES256) {
                size_t der_len = 0;
                if (sig_len != STITCH_JOSE_ES256_RAW_BYTES)
                        return STITCH_JWT_SIGNATURE_INVALID;
                r = stitch_jose_es256_raw_to_der(sig, der, &der_len);
                if (r < 0)
                        return r;
                sig = der;
                sig_len = der_len;
        } else if (sig_len != (size_t) EVP_PKEY_get_size(pkey))
                return STITCH_JWT_SIGNATURE_INVALID; /* RFC 8017 §8.2.2: exactly the modulus size */

        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md)
                return -ENOMEM;
        if (EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, pkey, NULL) != 1 ||
            (alg == STITCH_JOSE_RS256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1))
                r = -EIO;
        else
                r = EVP_DigestVerify(md, sig, sig_len, (const uint8_t *) input, input_len) == 1
                            ? 0
                            : STITCH_JWT_SIGNATURE_INVALID;
        EVP_MD_CTX_free(md);
        ERR_clear_error();
        return r;
}

/* ---- header and claims ------------------------------------------------------- */

static int header_check(const struct stitch_jwt_verifier *v, const cJSON *h, char kid[static STITCH_JWKS_KID_MAX + 1]) {
        const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(h, "kid");
        const cJSON *typ = cJSON_GetObjectItemCaseSensitive(h, "typ");

        if (!cJSON_IsString(alg))
                return STITCH_JWT_MALFORMED;
        /* The configured algorithm, exactly; "none" and everything else are refused. */
        if (!streq(alg->valuestring, stitch_jose_alg_to_string(v->alg)))
                return STITCH_JWT_ALGORITHM_NOT_ALLOWED;
        /* Extensions we would have to understand (RFC 7515 §4.1.11), and
         * compression, which JWS does not have. "jku", "jwk", "x5u" and
         * "x5c" are never used: keys come only from the configuration. */
        if (cJSON_GetObjectItemCaseSensitive(h, "crit") || cJSON_GetObjectItemCaseSensitive(h, "zip") ||
            cJSON_GetObjectItemCaseSensitive(h, "enc"))
                return STITCH_JWT_MALFORMED;
        if (typ && !cJSON_IsString(typ))
                return STITCH_JWT_MALFORMED;

        kid[0] = 0;
        if (k) {
                if (!cJSON_IsString(k) || !stitch_jose_kid_valid(k->valuestring))
                        return STITCH_JWT_MALFORMED;
                memcpy(kid, k->valuestring, strlen(k->valuestring) + 1);
        }
        return 0;
}

static int optional_time(const cJSON *claims, const char *name, int64_t *ret) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(claims, name);
        *ret = 0;
        if (!t)
                return 0;
        return stitch_jose_json_time(t, ret) ? 0 : STITCH_JWT_CLAIM_INVALID;
}

static bool aud_contains(const cJSON *aud, const char *s) {
        const cJSON *a;
        if (cJSON_IsString(aud))
                return streq(aud->valuestring, s);
        cJSON_ArrayForEach(a, aud)
                if (streq(a->valuestring, s))
                        return true;
        return false;
}

static int audience_check(const struct stitch_jwt_verifier *v, const cJSON *claims) {
        const cJSON *aud = cJSON_GetObjectItemCaseSensitive(claims, "aud"), *a;

        if (cJSON_IsArray(aud)) {
                if (!aud->child)
                        return STITCH_JWT_CLAIM_INVALID;
                cJSON_ArrayForEach(a, aud)
                        if (!cJSON_IsString(a))
                                return STITCH_JWT_CLAIM_INVALID;
        } else if (!cJSON_IsString(aud))
                return STITCH_JWT_CLAIM_INVALID;

        if (stitch_strv_length(v->audiences) == 0)
                return aud_contains(aud, v->app_id) ? 0 : STITCH_JWT_AUDIENCE_MISMATCH;

        for (char **want = v->audiences; *want; want++) {
                bool found = aud_contains(aud, *want);
                if (found && v->require_any_audience)
                        return 0;
                if (!found && !v->require_any_audience)
                        return STITCH_JWT_AUDIENCE_MISMATCH;
        }
        return v->require_any_audience ? STITCH_JWT_AUDIENCE_MISMATCH : 0;
}

static int claims_check(const struct stitch_jwt_verifier *v, const cJSON *claims, int64_t now,
                        struct stitch_jwt_verified *t) {
        int r;

        if (!stitch_jose_json_time(cJSON_GetObjectItemCaseSensitive(claims, "exp"), &t->exp))
                return STITCH_JWT_CLAIM_INVALID;
        r = optional_time(claims, "nbf", &t->nbf);
        if (r < 0)
                return r;
        r = optional_time(claims, "iat", &t->iat);
        if (r < 0)
                return r;
        /* now is a real clock reading: the sums cannot overflow (times are < 2^53). */
        if (t->exp + v->leeway <= now)
                return STITCH_JWT_EXPIRED;
        if (t->nbf - v->leeway > now)
                return STITCH_JWT_NOT_YET_VALID;
        if (t->iat - v->leeway > now)
                return STITCH_JWT_ISSUED_IN_FUTURE;

        if (v->issuers) {
                const cJSON *iss = cJSON_GetObjectItemCaseSensitive(claims, "iss");
                if (!cJSON_IsString(iss) || !stitch_strv_contains(v->issuers, iss->valuestring))
                        return STITCH_JWT_ISSUER_MISMATCH;
        }

        r = audience_check(v, claims);
        if (r < 0)
                return r;

        const cJSON *sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
        if (!cJSON_IsString(sub))
                return STITCH_JWT_CLAIM_INVALID;
        size_t n = strnlen(sub->valuestring, STITCH_JWT_SUBJECT_MAX + 1);
        if (n == 0 || n > STITCH_JWT_SUBJECT_MAX)
                return STITCH_JWT_CLAIM_INVALID;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) sub->valuestring[i] < 0x20 || sub->valuestring[i] == 0x7f)
                        return STITCH_JWT_CLAIM_INVALID;
        t->subject = sub->valuestring;
        return 0;
}

/* ---- verify ------------------------------------------------------------------ */

int stitch_jwt_verifier_verify(const struct stitch_jwt_verifier *v, const struct stitch_jwks *jwks,
                               const char *token, size_t len, int64_t now, struct stitch_jwt_verified *ret) {
        _cleanup_(cJSON_Deletep) cJSON *header = NULL;
        _cleanup_(cJSON_Deletep) cJSON *claims = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        struct stitch_jwt_verified t = {};
        uint8_t sig[SIGNATURE_MAX_BYTES + 3];
        size_t dots[2], n_dots = 0;
        int r;

        if (!v || !ret || (!token && len > 0) || !v->audience_set)
                return -EINVAL;
        if (!v->use_jwks && v->n_keys == 0)
                return -EINVAL;
        if (v->use_jwks && jwks && stitch_jwks_alg(jwks) != v->alg)
                return -EINVAL;

        if (len > STITCH_JWT_VERIFIER_MAX_TOKEN)
                return STITCH_JWT_TOO_LARGE;

        /* Exactly three parts of base64url characters; this also refuses
         * NUL bytes, padding, white space and a JWE's five parts. */
        for (size_t i = 0; i < len; i++) {
                if (token[i] == '.') {
                        if (n_dots == 2)
                                return STITCH_JWT_MALFORMED;
                        dots[n_dots++] = i;
                } else if (!stitch_base64url_is_char(token[i]))
                        return STITCH_JWT_MALFORMED;
        }
        if (n_dots != 2 || dots[0] == 0 || dots[1] == dots[0] + 1)
                return STITCH_JWT_MALFORMED;

        buf = malloc(PART_MAX_DECODED + 1);
        if (!buf)
                return -ENOMEM;

        r = stitch_jose_decode_json_part(token, dots[0], buf, PART_MAX_DECODED + 1, &header);
        if (r < 0)
                return STITCH_JWT_MALFORMED;
        r = header_check(v, header, t.key_id);
        if (r < 0)
                return r;

        /* The key, or keys. */
        EVP_PKEY *jwks_key = NULL;
        if (v->use_jwks) {
                if (!t.key_id[0])
                        return STITCH_JWT_KEY_ID_MISSING;
                jwks_key = stitch_jwks_find(jwks, t.key_id);
                if (!jwks_key)
                        return STITCH_JWT_UNKNOWN_KEY_ID;
        }

        /* The signature: canonical base64url of the right length, checked last. */
        const char *sig_part = token + dots[1] + 1;
        size_t sig_part_len = len - dots[1] - 1;
        if (sig_part_len == 0)
                return STITCH_JWT_SIGNATURE_INVALID; /* an unsecured JWS in disguise */
        if (stitch_base64url_decoded_len(sig_part_len) > sizeof(sig))
                return STITCH_JWT_SIGNATURE_INVALID;
        ssize_t sig_len = stitch_base64url_decode(sig_part, sig_part_len, sig, sizeof(sig));
        if (sig_len <= 0)
                return STITCH_JWT_MALFORMED;

        const char *input = token;
        size_t input_len = dots[1];
        if (jwks_key)
                r = pkey_check(jwks_key, v->alg, input, input_len, sig, (size_t) sig_len);
        else {
                r = STITCH_JWT_SIGNATURE_INVALID;
                /* Every key is tried, whatever the outcome, so the time taken
                 * does not say which key of a rotation matched. */
                for (size_t i = 0; i < v->n_keys; i++) {
                        int k = v->alg == STITCH_JOSE_HS256
                                        ? hs256_check(&v->keys[i], input, input_len, sig, (size_t) sig_len)
                                        : pkey_check(v->keys[i].pkey, v->alg, input, input_len, sig,
                                                     (size_t) sig_len);
                        if (k == 0)
                                r = 0;
                        else if (k != STITCH_JWT_SIGNATURE_INVALID && r != 0)
                                r = k;
                }
        }
        if (r < 0)
                return r;

        /* Authentic from here on. */
        r = stitch_jose_decode_json_part(token + dots[0] + 1, dots[1] - dots[0] - 1, buf, PART_MAX_DECODED + 1,
                                         &claims);
        if (r < 0)
                return STITCH_JWT_MALFORMED;
        r = claims_check(v, claims, now, &t);
        if (r < 0)
                return r;

        t.claims = TAKE_PTR(claims);
        *ret = t;
        return 0;
}
