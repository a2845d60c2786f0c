/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for what the NETCONF server reads from a client after the framing
 * (src/daemon/nc/msg.h and libyang's RPC parser as server.c uses it): arbitrary text goes
 * through the hello reader, the message-id scraper, lyd_parse_op() of an <rpc>, the strict
 * re-parse of <config> (edit-config, copy-config, validate) and the subtree-filter-to-XPath
 * conversion, whose XPath expressions are then evaluated on a small routes tree.
 *
 * The schema is the one chorusd builds from the same files: the NETCONF modules of Debian's
 * libyuma-base and examples/routes (CHORUS_SRC_DIR, set by tests/CMakeLists.txt).
 * Seed corpus: tests/fuzz/corpus/ncrpc/. Run: fuzz_ncrpc -max_total_time=60 corpus/ncrpc
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libyang/libyang.h>

#include "daemon/nc/msg.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ly_ctx *ctx;
static struct lyd_node *routes;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *all[] = {"*", NULL};
    static const char *mods[] = {"ietf-netconf-with-defaults", "ietf-netconf-monitoring",
                                 "notifications", "routes"};

    (void)argc;
    (void)argv;
    ly_log_options(0);
    CHECK(!ly_ctx_new(NULL, LY_CTX_DISABLE_SEARCHDIR_CWD, &ctx));
    ly_ctx_set_searchdir(ctx, "/usr/share/yuma/modules/ietf");
    ly_ctx_set_searchdir(ctx, "/usr/share/yuma/modules/ietf-derived");
    ly_ctx_set_searchdir(ctx, "/usr/share/yuma/modules/netconfcentral");
    ly_ctx_set_searchdir(ctx, CHORUS_SRC_DIR "/examples/routes");
    CHECK(ly_ctx_load_module(ctx, "ietf-netconf", NULL, all));
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
        CHECK(ly_ctx_load_module(ctx, mods[i], NULL, NULL));
    }
    CHECK(!lyd_parse_data_mem(ctx,
                              "<active-cfg xmlns=\"urn:chorus:example:routes\"><routes>"
                              "<route><id>0000001</id><leaf1>1</leaf1><leaf2>2</leaf2>"
                              "<leaf3>3</leaf3><leaf4>4</leaf4></route></routes></active-cfg>",
                              LYD_XML, LYD_PARSE_ONLY, 0, &routes));
    return 0;
}

static void
config_and_filter(struct lyd_node *op)
{
    struct lyd_node *n = NULL;

    if (!lyd_find_path(op, "config", 0, &n) && n) {
        char *xml = NULL;
        struct lyd_node *d = NULL;

        if (!ncm_any_xml(n, &xml) && xml) {
            lyd_parse_data_mem(ctx, xml, LYD_XML,
                               LYD_PARSE_ONLY | LYD_PARSE_STRICT | LYD_PARSE_NO_STATE, 0, &d);
            lyd_free_all(d);
        }
        free(xml);
    }
    n = NULL;
    if (!lyd_find_path(op, "filter", 0, &n) && n) {
        const struct lyd_node_any *a = (const struct lyd_node_any *)n;
        char **paths = NULL;
        size_t np = 0;

        if (a->value_type == LYD_ANYDATA_DATATREE && a->value.tree &&
            !ncm_subtree_paths(ctx, a->value.tree, "", NULL, &paths, &np)) {
            for (size_t i = 0; i < np; i++) {
                struct ly_set *set = NULL;

                CHECK(paths[i] && paths[i][0] == '/');
                lyd_find_xpath(routes, paths[i], &set);
                ly_set_free(set, NULL);
            }
        }
        for (size_t i = 0; i < np; i++) {
            free(paths[i]);
        }
        free(paths);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *msg = malloc(size + 1), *mid;
    bool b10 = false, b11 = false;
    const char *why = NULL;
    struct ly_in *in = NULL;
    struct lyd_node *env = NULL, *op = NULL;
    if (!msg) {
        return 0;
    }
    memcpy(msg, data, size);
    msg[size] = '\0';
    if (ncm_hello(msg, &b10, &b11, &why)) {
        CHECK(why && *why);
    } else {
        CHECK(b10 || b11);
    }
    mid = ncm_message_id(msg);
    CHECK(!mid || (strlen(mid) < 300 && !strchr(mid, '<')));
    free(mid);
    if (!ly_in_new_memory(msg, &in)) {
        if (!lyd_parse_op(ctx, NULL, in, LYD_XML, LYD_TYPE_RPC_NETCONF, &env, &op) && op) {
            config_and_filter(op);
            /* (the parsed request itself is never printed by the server: libyang 2.1.30
             * crashes printing opaque anyxml content whose prefix names no namespace) */
        }
        ly_in_free(in, 0);
    }
    lyd_free_all(env);
    lyd_free_all(op);
    ly_err_clean(ctx, NULL);
    free(msg);
    return 0;
}
