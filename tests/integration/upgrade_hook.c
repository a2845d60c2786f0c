/* SPDX-License-Identifier: Apache-2.0 */
/*
 * upgrade_hook: the application of t_schema_upgrade.sh's case (d). Model v2d of
 * tests/integration/models/upgrade adds a mandatory leaf /chorus-upg:sys/item/weight; this
 * application migrates the stored items in the init transaction's HOOK event, filling weight
 * from size (weight = 2 * size, 1 without a size), through the public API only.
 *
 *   upgrade_hook PORT [fail]
 *
 * It registers in start phase 0 (chorusd --start-phase0): a transaction hook and a two-phase
 * subscriber on /chorus-upg:sys. It prints one line per event ("HOOK flags=0x14", "PREPARE
 * ...", "COMMIT ...", "ABORT ...") and "ready" once registered, and exits 0 after the init
 * transaction's COMMIT (or ABORT: then it exits 3), 1 on an error, 2 on a timeout (60 s).
 * With "fail" the hook migrates nothing (the upgrade must be refused) and it exits 0 after
 * answering the HOOK event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chorus/mgmt.h"
#include "chorus/sub.h"

#define ITEM "/chorus-upg:sys/item"

static int done = -1;
static int migrate = 1;

static enum chorus_err
hook_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    char *text = NULL;
    struct lyd_node *tree = NULL;
    struct ly_set *set = NULL;
    enum chorus_err rc = CHORUS_OK;

    (void)arg;
    printf("HOOK flags=0x%x\n", ev->flags);
    fflush(stdout);
    if (!migrate) {
        done = 0; /* answered: the refusal follows without further events */
        return CHORUS_OK;
    }
    if (!(ev->flags & CHORUS_EVF_UPGRADE)) {
        return CHORUS_OK;
    }
    /* the transaction's view: the stored data converted to the new models */
    rc = chorus_get(conn, ev->th, "/chorus-upg:sys", CHORUS_FMT_JSON, 0, &text);
    if (rc == CHORUS_ERR_NOTFOUND) {
        return CHORUS_OK;
    }
    if (rc) {
        return rc;
    }
    if (lyd_parse_data_mem(chorus_ctx(conn), text, LYD_JSON, LYD_PARSE_ONLY, 0, &tree) ||
        lyd_find_xpath(tree, ITEM, &set)) {
        free(text);
        lyd_free_all(tree);
        return chorus_event_error(conn, ev, CHORUS_ERR_INTERNAL, NULL, NULL,
                                  "upgrade_hook cannot read the items");
    }
    for (uint32_t i = 0; i < set->count && !rc; i++) {
        const struct lyd_node *it = set->dnodes[i], *size = NULL, *weight = NULL;
        char path[256], v[32];

        for (const struct lyd_node *c = lyd_child(it); c; c = c->next) {
            if (!strcmp(c->schema->name, "size")) {
                size = c;
            } else if (!strcmp(c->schema->name, "weight")) {
                weight = c;
            }
        }
        if (weight) {
            continue;
        }
        const char *id = lyd_get_value(lyd_child(it));

        snprintf(path, sizeof path, ITEM "[id='%s']/weight", id ? id : "");
        snprintf(v, sizeof v, "%lu", size ? 2 * strtoul(lyd_get_value(size), NULL, 10) : 1ul);
        rc = chorus_set(conn, ev->th, path, v);
    }
    ly_set_free(set, NULL);
    lyd_free_all(tree);
    free(text);
    return rc;
}

static enum chorus_err
sub_cb(struct chorus_conn *conn, const struct chorus_event *ev, void *arg)
{
    (void)conn;
    (void)arg;
    printf("%s flags=0x%x txid=%llu\n",
           ev->type == CHORUS_EV_PREPARE  ? "PREPARE"
           : ev->type == CHORUS_EV_COMMIT ? "COMMIT"
                                          : "ABORT",
           ev->flags, (unsigned long long)ev->txid);
    fflush(stdout);
    if ((ev->flags & CHORUS_EVF_INIT) && ev->type != CHORUS_EV_PREPARE) {
        done = ev->type == CHORUS_EV_COMMIT ? 0 : 3;
    }
    return CHORUS_OK;
}

int
main(int argc, char **argv)
{
    struct chorus_conn *c;
    int waited = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: upgrade_hook PORT [fail]\n");
        return 1;
    }
    migrate = !(argc > 2 && !strcmp(argv[2], "fail"));
    if (chorus_connect(argv[1], "upgrade_hook", &c)) {
        fprintf(stderr, "upgrade_hook: connect: %s\n", chorus_last_error(NULL)->message);
        return 1;
    }
    if (chorus_subscribe(c, CHORUS_SUB_HOOK, "/chorus-upg:sys", 0, 0, hook_cb, NULL, NULL) ||
        chorus_subscribe(c, CHORUS_SUB_CONFIG, "/chorus-upg:sys", 0, CHORUS_SUB_TWO_PHASE, sub_cb,
                         NULL, NULL)) {
        fprintf(stderr, "upgrade_hook: subscribe: %s\n", chorus_last_error(c)->message);
        chorus_disconnect(c);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (done < 0 && waited < 600) {
        enum chorus_err rc = chorus_dispatch(c, 100);

        if (rc == CHORUS_ERR_TIMEOUT) {
            waited++;
        } else if (rc) {
            fprintf(stderr, "upgrade_hook: dispatch: %s\n", chorus_strerror(rc));
            chorus_disconnect(c);
            return 1;
        }
    }
    chorus_disconnect(c);
    return done < 0 ? 2 : done;
}
