/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_floor: what libyang and the disk cost on their own, the floor the Chorus figures are
 * compared with (bench/run.sh, docs/benchmarks.md). No Chorus code is involved.
 *
 *   bench_floor tree YANGDIR FILE [LYB]
 *                                    one pass over the XML FILE in a fresh context holding the
 *                                    modules of YANGDIR: parse + validate (LYD_PARSE_STRICT,
 *                                    LYD_VALIDATE_PRESENT) from memory, the RSS the tree adds,
 *                                    LYB print (written to the file LYB if given),
 *                                    lyd_validate_all() alone, then LYB parse + validate with
 *                                    the heap already grown by the XML tree ("warm")
 *   bench_floor lyb YANGDIR LYB      LYB parse + validate as the first thing a fresh process
 *                                    does ("cold": every page of the tree newly faulted in, as
 *                                    in a daemon that starts), and the RSS that tree adds
 *   bench_floor fsync DIR N          N appends of 64 bytes to a new file in DIR, each followed
 *                                    by fdatasync(); the file is removed afterwards
 *
 * Output: one line of KEY=VALUE pairs (times in ms or us as the key says, sizes in bytes or
 * kB). One pass per invocation: bench/run.sh repeats the invocations and pairs each pass with
 * the Chorus measurement taken next to it. Exit status 0, or 1 with a message on stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libyang/libyang.h>

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double
ms_since(uint64_t t0)
{
    return (double)(now_ns() - t0) / 1e6;
}

/* Resident set size of this process in kB (second field of /proc/self/statm). */
static long
rss_kb(void)
{
    long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (!f) {
        return -1;
    }
    if (fscanf(f, "%ld %ld", &size, &res) != 2) {
        res = -1;
    }
    fclose(f);
    return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

static int
read_all(const char *path, char **ret, size_t *ret_len)
{
    struct stat st;
    char *p;
    size_t off = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    p = malloc((size_t)st.st_size + 1);
    if (!p) {
        close(fd);
        return -1;
    }
    while (off < (size_t)st.st_size) {
        ssize_t n = read(fd, p + off, (size_t)st.st_size - off);

        if (n <= 0) {
            free(p);
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    close(fd);
    p[off] = 0;
    *ret = p;
    *ret_len = off;
    return 0;
}

/* A context with every module of @p dir (files named NAME.yang or NAME@REV.yang). */
static struct ly_ctx *
make_ctx(const char *dir)
{
    struct ly_ctx *ctx = NULL;
    DIR *d;
    struct dirent *de;

    if (ly_ctx_new(dir, 0, &ctx)) {
        return NULL;
    }
    d = opendir(dir);
    while (d && (de = readdir(d))) {
        char name[256];
        size_t l = strlen(de->d_name);
        char *at;

        if (l < 6 || l >= sizeof name || strcmp(de->d_name + l - 5, ".yang")) {
            continue;
        }
        memcpy(name, de->d_name, l - 5);
        name[l - 5] = 0;
        if ((at = strchr(name, '@'))) {
            *at = 0;
        }
        if (!ly_ctx_load_module(ctx, name, NULL, NULL)) {
            fprintf(stderr, "bench_floor: cannot load module %s from %s\n", name, dir);
            closedir(d);
            ly_ctx_destroy(ctx);
            return NULL;
        }
    }
    if (d) {
        closedir(d);
    }
    return ctx;
}

static size_t
count_nodes(const struct lyd_node *tree)
{
    const struct lyd_node *root, *n;
    size_t c = 0;

    LY_LIST_FOR(tree, root)
    {
        LYD_TREE_DFS_BEGIN(root, n)
        {
            c++;
            LYD_TREE_DFS_END(root, n);
        }
    }
    return c;
}

static int
write_all(const char *path, const char *p, size_t len)
{
    FILE *f = fopen(path, "w");
    int r = 0;

    if (!f || fwrite(p, 1, len, f) != len) {
        r = -1;
    }
    if (f && fclose(f)) {
        r = -1;
    }
    return r;
}

static int
cmd_tree(const char *dir, const char *file, const char *lyb_file)
{
    struct ly_ctx *ctx;
    struct lyd_node *tree = NULL, *t2 = NULL;
    struct ly_out *out = NULL;
    struct ly_in *in = NULL;
    char *xml = NULL, *lyb = NULL;
    size_t len = 0, lyb_len, nodes;
    long rss0, rss1;
    double t_xml, t_print, t_lyb, t_val;
    uint64_t t0;
    int rc = 1;

    if (!(ctx = make_ctx(dir))) {
        fprintf(stderr, "bench_floor: cannot build the context from %s\n", dir);
        return 1;
    }
    if (read_all(file, &xml, &len)) {
        fprintf(stderr, "bench_floor: cannot read %s: %s\n", file, strerror(errno));
        goto out;
    }

    /* XML parse + validate, and the memory of the tree */
    rss0 = rss_kb();
    t0 = now_ns();
    if (lyd_parse_data_mem(ctx, xml, LYD_XML, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &tree)) {
        fprintf(stderr, "bench_floor: %s does not parse: %s\n", file, ly_errmsg(ctx));
        goto out;
    }
    t_xml = ms_since(t0);
    rss1 = rss_kb();
    nodes = count_nodes(tree);
    free(xml);
    xml = NULL;

    /* LYB print */
    t0 = now_ns();
    if (ly_out_new_memory(&lyb, 0, &out) || lyd_print_all(out, tree, LYD_LYB, 0)) {
        fprintf(stderr, "bench_floor: LYB print failed: %s\n", ly_errmsg(ctx));
        goto out;
    }
    t_print = ms_since(t0);
    lyb_len = ly_out_printed(out);
    if (lyb_file && write_all(lyb_file, lyb, lyb_len)) {
        fprintf(stderr, "bench_floor: cannot write %s: %s\n", lyb_file, strerror(errno));
        goto out;
    }

    /* lyd_validate_all() of the whole tree alone */
    t0 = now_ns();
    if (lyd_validate_all(&tree, NULL, LYD_VALIDATE_PRESENT, NULL)) {
        fprintf(stderr, "bench_floor: validation failed: %s\n", ly_errmsg(ctx));
        goto out;
    }
    t_val = ms_since(t0);
    lyd_free_all(tree);
    tree = NULL;

    /* LYB parse + validate */
    t0 = now_ns();
    if (ly_in_new_memory(lyb, &in) ||
        lyd_parse_data(ctx, NULL, in, LYD_LYB, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &t2)) {
        fprintf(stderr, "bench_floor: LYB parse failed: %s\n", ly_errmsg(ctx));
        goto out;
    }
    t_lyb = ms_since(t0);

    printf("xml_bytes=%zu nodes=%zu xml_parse_ms=%.1f tree_rss_kb=%ld lyb_print_ms=%.1f "
           "lyb_bytes=%zu lyb_warm_parse_ms=%.1f validate_all_ms=%.1f\n",
           len, nodes, t_xml, rss1 - rss0, t_print, lyb_len, t_lyb, t_val);
    rc = 0;
out:
    ly_in_free(in, 0);
    ly_out_free(out, NULL, 1);
    lyd_free_all(tree);
    lyd_free_all(t2);
    free(xml);
    ly_ctx_destroy(ctx);
    return rc;
}

static int
cmd_lyb(const char *dir, const char *file)
{
    struct ly_ctx *ctx;
    struct lyd_node *tree = NULL;
    struct ly_in *in = NULL;
    char *lyb = NULL;
    size_t len = 0;
    long rss0, rss1;
    double t;
    uint64_t t0;
    int rc = 1;

    if (!(ctx = make_ctx(dir))) {
        fprintf(stderr, "bench_floor: cannot build the context from %s\n", dir);
        return 1;
    }
    if (read_all(file, &lyb, &len)) {
        fprintf(stderr, "bench_floor: cannot read %s: %s\n", file, strerror(errno));
        goto out;
    }
    rss0 = rss_kb();
    t0 = now_ns();
    if (ly_in_new_memory(lyb, &in) ||
        lyd_parse_data(ctx, NULL, in, LYD_LYB, LYD_PARSE_STRICT, LYD_VALIDATE_PRESENT, &tree)) {
        fprintf(stderr, "bench_floor: LYB parse failed: %s\n", ly_errmsg(ctx));
        goto out;
    }
    t = ms_since(t0);
    rss1 = rss_kb();
    printf("lyb_parse_ms=%.1f lyb_tree_rss_kb=%ld\n", t, rss1 - rss0);
    rc = 0;
out:
    ly_in_free(in, 0);
    lyd_free_all(tree);
    free(lyb);
    ly_ctx_destroy(ctx);
    return rc;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int
cmd_fsync(const char *dir, long n)
{
    char path[4096], rec[64];
    uint64_t *lat;
    int fd;

    if (n < 1 || n > 1000000) {
        fprintf(stderr, "bench_floor: N out of range\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/fsync-probe.%ld", dir, (long)getpid());
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    lat = calloc((size_t)n, sizeof *lat);
    if (fd < 0 || !lat) {
        fprintf(stderr, "bench_floor: cannot create %s: %s\n", path, strerror(errno));
        free(lat);
        if (fd >= 0) {
            close(fd);
        }
        return 1;
    }
    memset(rec, 'r', sizeof rec);
    /* the first sync also writes the new file's metadata: not counted */
    if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec || fdatasync(fd) < 0) {
        goto fail;
    }
    for (long i = 0; i < n; i++) {
        uint64_t t0 = now_ns();

        if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec || fdatasync(fd) < 0) {
            goto fail;
        }
        lat[i] = now_ns() - t0;
    }
    close(fd);
    unlink(path);
    qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
    printf("fsync_n=%ld fsync_p50_us=%.1f fsync_p99_us=%.1f fsync_min_us=%.1f fsync_max_us=%.1f\n",
           n, lat[n / 2] / 1e3, lat[(size_t)((double)n * 0.99)] / 1e3, lat[0] / 1e3,
           lat[n - 1] / 1e3);
    free(lat);
    return 0;
fail:
    fprintf(stderr, "bench_floor: write/fdatasync on %s failed: %s\n", path, strerror(errno));
    close(fd);
    unlink(path);
    free(lat);
    return 1;
}

int
main(int argc, char **argv)
{
    if ((argc == 4 || argc == 5) && !strcmp(argv[1], "tree")) {
        return cmd_tree(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
    }
    if (argc == 4 && !strcmp(argv[1], "lyb")) {
        return cmd_lyb(argv[2], argv[3]);
    }
    if (argc == 4 && !strcmp(argv[1], "fsync")) {
        return cmd_fsync(argv[2], strtol(argv[3], NULL, 10));
    }
    fprintf(stderr, "usage: bench_floor tree YANGDIR FILE.xml [OUT.lyb]\n"
                    "       bench_floor lyb YANGDIR FILE.lyb\n"
                    "       bench_floor fsync DIR N\n");
    return 2;
}
