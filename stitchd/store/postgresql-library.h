/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libpq, loaded the first time a PostgreSQL store is parsed or opened
 * (dlopen): a daemon on SQLite maps none of libpq and none of what it links
 * (libssl, Kerberos, GSSAPI, LDAP, SASL: ~1.2 MiB of resident pages). The
 * store calls libpq through these pointers, sym_PQ... for PQ...; they are
 * set, all of them, by a successful pg_library_load() and never change
 * after. Nothing outside store/postgresql*.c includes this. */

#include <libpq-fe.h>

#define PG_LIBRARY_FUNCTIONS(X)                                                                           \
        X(PQclear) X(PQcmdTuples) X(PQconnectdbParams) X(PQconninfoFree) X(PQconninfoParse)               \
        X(PQconsumeInput) X(PQerrorMessage) X(PQexec) X(PQexecPrepared) X(PQfinish) X(PQflush)            \
        X(PQfreemem) X(PQgetResult) X(PQgetisnull) X(PQgetlength) X(PQgetvalue) X(PQisBusy)               \
        X(PQnotifies) X(PQntuples) X(PQprepare) X(PQresultErrorField) X(PQresultStatus) X(PQsendQuery)    \
        X(PQsetNoticeProcessor) X(PQsetnonblocking) X(PQsocket) X(PQstatus) X(PQtransactionStatus)

#define PG_LIBRARY_DECLARE(f) extern __typeof__(f) *sym_##f;
PG_LIBRARY_FUNCTIONS(PG_LIBRARY_DECLARE)
#undef PG_LIBRARY_DECLARE

/* Loads libpq (once; later calls give the first call's answer) and resolves
 * every function above, or none: a library missing one is refused whole.
 * Thread-safe. Returns 0, or -ELIBACC with the reason logged (libpq not
 * installed, a function missing). The library stays loaded until the
 * process ends. */
int pg_library_load(void);
