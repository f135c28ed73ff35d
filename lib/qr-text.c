/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A QR code drawn with half blocks (lib/qr-text.h), by libqrencode. The
 * library is loaded the first time a code is drawn, not with the PAM
 * module: sshd, sudo and every other PAM client map it only for a device
 * login (and without it installed, a device login shows its URL and code
 * as text). */

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <qrencode.h>

#include "qr-text.h"

#define UPPER "\xe2\x96\x80" /* ▀ */
#define LOWER "\xe2\x96\x84" /* ▄ */
#define FULL "\xe2\x96\x88"  /* █ */

/* Light: the quiet zone and the code's light modules (bit 0 clear). */
static bool light(const QRcode *q, long x, long y) {
        long w = q->width;
        x -= STITCH_QR_QUIET_ZONE;
        y -= STITCH_QR_QUIET_ZONE;
        if (x < 0 || y < 0 || x >= w || y >= w)
                return true;
        return !(q->data[y * w + x] & 1);
}

struct qrencode {
        QRcode *(*encode)(const char *string, int version, QRecLevel level);
        void (*free)(QRcode *code);
};

/* libqrencode's two functions, loaded once (RTLD_NODELETE: the handle may
 * be dropped; a second load by a racing thread only takes another
 * reference). -ENOENT if the library is not there. */
static int qrencode(struct qrencode *ret) {
        static void *handle;
        void *h = __atomic_load_n(&handle, __ATOMIC_ACQUIRE);
        if (!h) {
                h = dlopen("libqrencode.so.4", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
                if (!h)
                        return -ENOENT;
                __atomic_store_n(&handle, h, __ATOMIC_RELEASE);
        }
        *(void **) &ret->encode = dlsym(h, "QRcode_encodeString8bit");
        *(void **) &ret->free = dlsym(h, "QRcode_free");
        return ret->encode && ret->free ? 0 : -ENOENT;
}

int stitch_qr_text(const char *data, char **ret, size_t *ret_width) {
        struct qrencode lib;
        if (!data || !ret)
                return -EINVAL;
        size_t n = strlen(data);
        if (n == 0 || n > STITCH_QR_DATA_MAX)
                return -EINVAL;
        int r = qrencode(&lib);
        if (r < 0)
                return r;

        QRcode *q = lib.encode(data, 0, QR_ECLEVEL_L);
        if (!q)
                return errno == ENOMEM ? -ENOMEM : -EIO;
        long side = q->width + 2 * STITCH_QR_QUIET_ZONE;
        long lines = (side + 1) / 2;
        /* 3 bytes a module at most, a newline a line, the NUL. */
        char *s = malloc((size_t) (lines * (side * 3 + 1) + 1));
        if (!s) {
                lib.free(q);
                return -ENOMEM;
        }
        char *p = s;
        for (long y = 0; y < side; y += 2) {
                for (long x = 0; x < side; x++) {
                        bool top = light(q, x, y);
                        /* An odd side: the last line's lower half is the quiet zone's margin below, left blank. */
                        bool bottom = y + 1 < side ? light(q, x, y + 1) : false;
                        const char *c = top && bottom ? FULL : top ? UPPER : bottom ? LOWER : " ";
                        size_t l = strlen(c);
                        memcpy(p, c, l);
                        p += l;
                }
                *p++ = '\n';
        }
        *p = 0;
        lib.free(q);
        *ret = s;
        if (ret_width)
                *ret_width = (size_t) side;
        return 0;
}
