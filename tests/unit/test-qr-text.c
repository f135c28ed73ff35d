/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/qr-text.c: the half-block drawing read back module by module equals
 * libqrencode's matrix, with the quiet zone light all round. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <qrencode.h>

#include "qr-text.h"

#define UPPER "\xe2\x96\x80"
#define LOWER "\xe2\x96\x84"
#define FULL "\xe2\x96\x88"

/* Reads the drawing back: light[y * side + x]. */
static bool *read_back(const char *text, size_t side, size_t *ret_rows) {
        size_t lines = (side + 1) / 2;
        bool *light = calloc(2 * lines * side, sizeof(bool));
        assert_non_null(light);
        const char *p = text;
        for (size_t line = 0; line < lines; line++) {
                for (size_t x = 0; x < side; x++) {
                        bool top = false, bottom = false;
                        if (strncmp(p, FULL, 3) == 0)
                                top = bottom = true, p += 3;
                        else if (strncmp(p, UPPER, 3) == 0)
                                top = true, bottom = false, p += 3;
                        else if (strncmp(p, LOWER, 3) == 0)
                                top = false, bottom = true, p += 3;
                        else if (*p == ' ')
                                top = bottom = false, p++;
                        else
                                fail_msg("unexpected character at line %zu column %zu", line, x);
                        light[2 * line * side + x] = top;
                        light[(2 * line + 1) * side + x] = bottom;
                }
                assert_int_equal(*p, '\n');
                p++;
        }
        assert_int_equal(*p, 0);
        *ret_rows = 2 * lines;
        return light;
}

static void check(const char *data) {
        char *text = NULL;
        size_t side = 0, rows = 0;

        assert_int_equal(stitch_qr_text(data, &text, &side), 0);
        QRcode *q = QRcode_encodeString8bit(data, 0, QR_ECLEVEL_L);
        assert_non_null(q);
        assert_int_equal(side, (size_t) q->width + 2 * STITCH_QR_QUIET_ZONE);
        bool *light = read_back(text, side, &rows);
        for (size_t y = 0; y < side; y++)
                for (size_t x = 0; x < side; x++) {
                        long cx = (long) x - STITCH_QR_QUIET_ZONE, cy = (long) y - STITCH_QR_QUIET_ZONE;
                        bool expect = cx < 0 || cy < 0 || cx >= q->width || cy >= q->width ||
                                      !(q->data[cy * q->width + cx] & 1);
                        if (light[y * side + x] != expect)
                                fail_msg("%s: module %zu,%zu differs", data, x, y);
                }
        /* An odd side leaves the last half line blank (no margin drawn below). */
        if (rows > side)
                for (size_t x = 0; x < side; x++)
                        assert_false(light[side * side + x]);
        free(light);
        QRcode_free(q);
        free(text);
}

static void test_round_trip(void **state) {
        (void) state;
        check("https://www.google.com/device");
        check("https://www.facebook.com/device");
        check("https://127.0.0.1:44321/device?x=1");
        check("x");
}

static void test_sizes(void **state) {
        char *text = NULL, big[STITCH_QR_DATA_MAX + 2];
        size_t side = 0;
        (void) state;

        /* Google's URL: version 2 (25 modules), 29 columns with the quiet zone: fits any terminal. */
        assert_int_equal(stitch_qr_text("https://www.google.com/device", &text, &side), 0);
        assert_int_equal(side, 29);
        assert_non_null(strchr(text, '\n'));
        free(text);

        assert_int_equal(stitch_qr_text("", &text, NULL), -EINVAL);
        assert_int_equal(stitch_qr_text(NULL, &text, NULL), -EINVAL);
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        assert_int_equal(stitch_qr_text(big, &text, NULL), -EINVAL);
        big[STITCH_QR_DATA_MAX] = 0;
        assert_int_equal(stitch_qr_text(big, &text, NULL), 0);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_sizes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
