/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Talking to the person logging in, through the application's conversation
 * function, and the small checks on what they typed. */

#include <stdarg.h>
#include <string.h>

#include <security/pam_ext.h>

#include "base64url.h"
#include "macro.h"
#include "pam_stitch.h"

int pam_stitch_prompt_secret(pam_handle_t *pamh, const char *prompt, char **ret) {
        return pam_stitch_prompt(pamh, false, prompt, ret);
}

int pam_stitch_prompt(pam_handle_t *pamh, bool echo, const char *prompt, char **ret) {
        char *answer = NULL;
        int r;

        r = pam_prompt(pamh, echo ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF, &answer, "%s", prompt);
        if (r != PAM_SUCCESS) {
                erase_and_free(answer);
                return r == PAM_CONV_AGAIN ? PAM_INCOMPLETE : r;
        }
        if (!answer)
                return PAM_CONV_ERR;

        *ret = answer;
        return PAM_SUCCESS;
}

void pam_stitch_error_msg(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *format, ...) {
        va_list ap;

        if (args->silent)
                return;
        va_start(ap, format);
        (void) pam_verror(pamh, format, ap);
        va_end(ap);
}

void pam_stitch_info_msg(pam_handle_t *pamh, const struct pam_stitch_args *args, const char *format, ...) {
        va_list ap;

        if (args->silent)
                return;
        va_start(ap, format);
        (void) pam_vinfo(pamh, format, ap);
        va_end(ap);
}

void pam_stitch_sanitize_text(const char *text, char *buf, size_t size) {
        size_t j = 0;

        if (size == 0)
                return;
        for (size_t i = 0; text && text[i] && j + 1 < size; i++) {
                unsigned char c = (unsigned char) text[i];
                /* No terminal control sequences reach the user or the log. */
                buf[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
        }
        buf[j] = 0;
}

bool pam_stitch_session_id_is_valid(const char *s) {
        size_t n;

        if (isempty(s))
                return false;
        n = strlen(s);
        if (n > PAM_STITCH_SESSION_ID_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!stitch_base64url_is_char(s[i]))
                        return false;
        return true;
}
