/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The confirmation and reset commands ([Provider.local-userpass]
 * ConfirmationCommand=, ResetCommand=): a program run directly, never
 * through a shell, that reads a JSON request on stdin and answers
 * {"status":"success"|"pending"|"fail"} on stdout. It runs with a clean
 * environment (PATH only), in / , in a process group of its own, with no
 * descriptor of ours but its three pipes; stdout is read up to
 * STITCH_COMMAND_OUTPUT_MAX (more is a failure), stderr is logged (cut),
 * and the whole group is killed when the deadline passes. Blocks: worker
 * threads only. */

#include <stdint.h>

#define STITCH_COMMAND_OUTPUT_MAX (64 * 1024)
#define STITCH_COMMAND_TIMEOUT_USEC (10 * 1000 * 1000ULL)

enum stitch_command_status {
        STITCH_COMMAND_SUCCESS,
        STITCH_COMMAND_PENDING,
        STITCH_COMMAND_FAIL, /* said "fail", or exited non-zero, timed out, wrote too much or no answer */
};

/* Runs command_line ("/abs/path ARG ARG", split on spaces) with input on
 * its stdin, for at most timeout_usec. Returns 0 and *ret_status, or
 * -EINVAL (not an absolute path), -errno (pipes, fork). What went wrong
 * with a command that ran is logged, never its input (it holds secrets). */
int stitch_command_run(const char *command_line, const char *input, uint64_t timeout_usec,
                       enum stitch_command_status *ret_status);
