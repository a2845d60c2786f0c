/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helper of the crash tests (compiled by t_journal_points.sh): one transaction on running
 * through libchorus in separate calls, so that the journal record is written and made durable
 * in prepare and the completion mark in its own write (jnl.c J3, the path chorusctl's
 * chorus_apply() never takes).
 *
 *   twophase PORT FILE commit|abort
 *
 * merges the XML in FILE, prepares, prints "prepared", then commits (prints "committed TXID")
 * or aborts (prints "aborted"). Exit 0 when every call succeeded, 1 otherwise (the error on
 * stderr), 2 on a usage error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/mgmt.h"

static int
fail(struct chorus_conn *c, const char *what, enum chorus_err rc)
{
    const struct chorus_error *e = chorus_last_error(c);

    fprintf(stderr, "twophase: %s: %s\n", what, e && e->message ? e->message : chorus_strerror(rc));
    return 1;
}

int
main(int argc, char **argv)
{
    struct chorus_conn *c = NULL;
    char *data = NULL;
    long len;
    uint32_t th = 0;
    uint64_t txid = 0;
    enum chorus_err rc;
    int status = 1;
    FILE *f;

    if (argc != 4 || (strcmp(argv[3], "commit") && strcmp(argv[3], "abort"))) {
        fputs("usage: twophase PORT FILE commit|abort\n", stderr);
        return 2;
    }
    f = fopen(argv[2], "rb");
    if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
        !(data = malloc((size_t)len + 1)) || fread(data, 1, (size_t)len, f) != (size_t)len) {
        fprintf(stderr, "twophase: cannot read %s\n", argv[2]);
        if (f) {
            fclose(f);
        }
        free(data);
        return 1;
    }
    fclose(f);
    rc = chorus_connect(argv[1], "twophase", &c);
    if (rc) {
        status = fail(NULL, "connect", rc);
        goto out;
    }
    if ((rc = chorus_session_start(c, "twophase", "test", NULL, 0, NULL, NULL))) {
        status = fail(c, "session", rc);
        goto out;
    }
    if ((rc = chorus_trans_start(c, CHORUS_DB_RUNNING, 1, &th))) {
        status = fail(c, "transaction", rc);
        goto out;
    }
    if ((rc = chorus_edit(c, th, CHORUS_EDIT_MERGE, CHORUS_FMT_XML, data, (size_t)len))) {
        status = fail(c, "edit", rc);
        goto out;
    }
    if ((rc = chorus_prepare(c, th))) {
        status = fail(c, "prepare", rc);
        goto out;
    }
    printf("prepared\n");
    fflush(stdout);
    if (!strcmp(argv[3], "commit")) {
        if ((rc = chorus_commit(c, th, &txid))) {
            status = fail(c, "commit", rc);
            goto out;
        }
        printf("committed %llu\n", (unsigned long long)txid);
    } else {
        if ((rc = chorus_abort(c, th))) {
            status = fail(c, "abort", rc);
            goto out;
        }
        printf("aborted\n");
    }
    (void)chorus_trans_finish(c, th);
    (void)chorus_session_end(c);
    status = 0;
out:
    chorus_disconnect(c);
    free(data);
    return status;
}
