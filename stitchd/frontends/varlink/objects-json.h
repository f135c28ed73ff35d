/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Store objects as wire JSON, with Stitch's field names. */

#include <cjson/cJSON.h>

#include "store/store.h"

cJSON *stitch_user_to_json(const struct stitch_user *u);
cJSON *stitch_session_to_json(const struct stitch_session *s);
cJSON *stitch_apikey_to_json(const struct stitch_apikey *k);
