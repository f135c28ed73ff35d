/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Forced into every file of libstitchd-core (core/, providers/, store/) by
 * Makefile.am. The core works on struct stitch_core and lib/ alone: it never
 * sees the event loop, D-Bus, the HTTP server, the daemon's manager, workers
 * or refresher, nor a front end. Poisoning their names makes a core file that
 * includes one of their headers, or names one of their types, fail to
 * compile, so the arrows keep pointing one way (docs/architecture.md). */

#pragma GCC poison sd_event sd_event_source sd_bus sd_bus_message
#pragma GCC poison MHD_Daemon MHD_Connection
#pragma GCC poison stitch_manager stitch_workers stitch_refresher
#pragma GCC poison stitch_server stitch_call stitch_method stitch_http http_request http_connections
