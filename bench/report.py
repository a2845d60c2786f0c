#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write docs/benchmarks.md (and docs/bench-*.png) from the files bench/run.sh collected.

usage: report.py BENCH_TMP_DIR OUTPUT.md

Reads BENCH_TMP_DIR/results.tsv (KEY, repetition, value), meta.txt (KEY=VALUE) and profile/
(debug logs, perf and strace summaries, latency samples). Every figure is reported as the
median, min and max over the repetitions; a ratio is computed within each repetition (the
Chorus figure over the floor figure measured next to it) before its median, min and max are
taken.
"""
import collections
import os
import re
import shutil
import statistics
import subprocess
import sys

T, OUT = sys.argv[1], sys.argv[2]
PROF = os.path.join(T, "profile")
DOCDIR = os.path.dirname(os.path.abspath(OUT))

R = collections.defaultdict(dict)  # key -> {rep: value}
with open(os.path.join(T, "results.tsv")) as f:
    for line in f:
        k, rep, v = line.rstrip("\n").split("\t")
        if v != "":
            R[k][int(rep)] = float(v)
META = {}
with open(os.path.join(T, "meta.txt")) as f:
    for line in f:
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            META[k] = v
BL = META["big"]
SIZES = META["sizes"].split()
QUICK = bool(META.get("quick"))


def read(name):
    p = os.path.join(PROF, name)
    return open(p, errors="replace").read() if os.path.exists(p) else ""


def vals(key):
    return [R[key][r] for r in sorted(R.get(key, {}))]


def ratio_vals(num, den):
    a, b = R.get(num, {}), R.get(den, {})
    return [a[r] / b[r] for r in sorted(a) if r in b and b[r]]


def diff_vals(a_key, b_key, div=1.0):
    """(a - b) / div within each repetition."""
    a, b = R.get(a_key, {}), R.get(b_key, {})
    return [(a[r] - b[r]) / div for r in sorted(a) if r in b]


def stat(v):
    return (statistics.median(v), min(v), max(v)) if v else None


def fmt(x, unit=""):
    if x is None:
        return "–"
    a = abs(x)
    s = ("%.0f" % x if a >= 100 else "%.1f" % x if a >= 10 else
         "%.2f" % x if a >= 1 else "%.3f" % x)
    return s + unit


def cell(v, scale=1.0, unit=""):
    s = stat(v)
    if not s:
        return "–"
    m, lo, hi = (x * scale for x in s)
    if len(v) == 1:
        return fmt(m, unit)
    return "%s (%s–%s)" % (fmt(m, unit), fmt(lo), fmt(hi))


def med(v, scale=1.0):
    s = stat(v)
    return s[0] * scale if s else None


# ---- goals ----
GOALS = []  # (number, what, values, goal text, reached?)


def goal(num, what, v, op, limit, unit="×"):
    s = stat(v)
    ok = None if not s else (s[0] <= limit if op == "<=" else s[0] >= limit)
    GOALS.append((num, what, cell(v, unit=unit if unit != "×" else "×"),
                  "%s %s%s" % ("≤" if op == "<=" else "≥", fmt(limit), unit), ok, v))
    return ok


for L in SIZES:
    goal("2", "load %s / libyang XML parse + validate of the same file" % L,
         ratio_vals("load_ms@" + L, "floor_xml_parse_ms@" + L), "<=", 1.5)
goal("3", "peak RSS of chorusd holding %s / RSS of one libyang tree" % BL,
     ratio_vals("hwm_kb@" + BL, "floor_tree_rss_kb@" + BL), "<=", 1.5)
goal("4", "one-leaf commits, 1 client (commits/s)", vals("c1_commits_per_s"), ">=", 3000, "/s")
goal("4", "one-leaf commits, 4 clients (commits/s, all clients)", vals("c4_commits_per_s"),
     ">=", 3000, "/s")
goal("5", "one-leaf commit p50 latency, %s routes / 1k routes" % BL,
     ratio_vals("latbig_p50_us", "lat1k_p50_us"), "<=", 2)
for c, what in (("a", "journal only"), ("b", "snapshot + LYB cache"), ("c", "snapshot JSON, no cache")):
    goal("6" + c, "restart with %s (%s) / libyang LYB parse + validate, cold" % (BL, what),
         ratio_vals("rst_%s_ms" % c, "floor_lyb_parse_ms@" + BL), "<=", 1.5)

# ---- Chorus vs netconfd (bench/run.sh section netconfd) ----
PEERS = META.get("peer_sizes", "").split()
PEER_BIG = META.get("peer_big", "")
NOTES = collections.defaultdict(dict)  # key -> {rep: message}
if os.path.exists(os.path.join(T, "peer-notes.tsv")):
    with open(os.path.join(T, "peer-notes.tsv")) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) == 3:
                NOTES[p[0]][int(p[1])] = p[2]
PEER_RAN = any(vals("pc_edit_wall_ms@" + L) for L in PEERS)
PEER_WORK = [("edit", "edit-config of %s routes"), ("getall", "get-config of all %s routes"),
             ("delete", "delete of all %s routes")]
if PEER_RAN:
    for w_, what in PEER_WORK:
        for L in PEERS:
            v = ratio_vals("pn_%s_wall_ms@%s" % (w_, L), "pc_%s_wall_ms@%s" % (w_, L))
            if v:
                goal("1", "%s over SSH: netconfd wall / Chorus wall" % (what % L), v, ">=", 1)
            elif w_ == "edit" and vals("pc_edit_wall_ms@" + L) and vals("pn_edit_status@" + L):
                GOALS.append(("1", "%s over SSH: netconfd wall / Chorus wall" % (what % L),
                              "netconfd did not do it (section 10); Chorus %s ms" %
                              cell(vals("pc_edit_wall_ms@" + L)), "≥ 1.00×", True, []))
    for k, what in (("seq_empty", "sequential one-route edit-configs, empty: netconfd p50 / Chorus p50"),
                    ("seq_big", "sequential one-route edit-configs, %s routes: netconfd p50 / Chorus p50" % PEER_BIG),
                    ("rtt_big", "get-config of one route, %s routes: netconfd p50 / Chorus p50" % PEER_BIG)):
        v = ratio_vals("pn_%s_p50_us" % k, "pc_%s_p50_us" % k)
        if v:
            goal("1", what, v, ">=", 1)

# ---- profile: stage timings from the debug log ----
RX_EDIT = re.compile(r"edit: parsed (\d+) bytes in ([\d.]+) ms")
RX_PREP = re.compile(r"prepare: apply ([\d.]+) ms \((\d+) log entries\), validate ([\d.]+) ms, "
                     r"record ([\d.]+) ms \((\d+) bytes\)")
RX_JNL = re.compile(r"commit: journal ([\d.]+) ms")


def load_stages():
    log = read("load.log")
    st = {}
    lines = log.splitlines()
    for i, line in enumerate(lines):
        m = RX_EDIT.search(line)
        if m and int(m.group(1)) > 100000:
            st["edit_bytes"] = int(m.group(1))
            st["parse"] = float(m.group(2))
            for l2 in lines[i + 1:]:
                m2 = RX_PREP.search(l2)
                if m2 and "apply" not in st:
                    st["apply"], st["validate"] = float(m2.group(1)), float(m2.group(3))
                    st["record"], st["record_bytes"] = float(m2.group(4)), int(m2.group(5))
                m3 = RX_JNL.search(l2)
                if m3 and "apply" in st:
                    st["journal"] = float(m3.group(1))
                    break
            break
    ms = read("load.ms").strip()
    if ms:
        st["wall"] = float(ms)
    return st


def commit_stages():
    log = read("commits.log")
    big = log.find("commit: journal")  # the load's commit comes first
    acc = collections.defaultdict(list)
    for line in log[big + 1:].splitlines():
        m = RX_PREP.search(line)
        if m and m.group(2) == "1":
            acc["apply"].append(float(m.group(1)))
            acc["validate"].append(float(m.group(3)))
            acc["record"].append(float(m.group(4)))
        m = RX_JNL.search(line)
        if m:
            acc["journal"].append(float(m.group(1)))
    return {k: statistics.median(v) for k, v in acc.items() if v}, len(acc.get("journal", []))


def strace_per_commit(ncommits):
    txt = read("strace.txt")
    rows = []
    for line in txt.splitlines():
        p = line.split()
        if len(p) >= 5 and p[0].replace(".", "").isdigit() and p[-1] != "total":
            calls = int(p[3])
            rows.append((p[-1], calls, float(p[1])))
    rows.sort(key=lambda r: -r[1])
    return [(n, c / ncommits, s) for n, c, s in rows if c >= ncommits // 2]


def perf_dso(name, n=4):
    """[(percent, shared object)] of self time."""
    out = []
    for line in read(name + ".dso").splitlines()[:n]:
        p = line.split()
        if len(p) >= 2 and p[0].endswith("%"):
            out.append((p[0], os.path.basename(p[1])))
    return out


def perf_sym(name, n=12):
    """[(percent including callees, self percent, function)]."""
    out = []
    for line in read(name + ".sym").splitlines():
        m = re.match(r"\s*([\d.]+%)\s+([\d.]+%)\s+\[(.)\]\s+(.*)$", line)
        if m:
            out.append((m.group(1), m.group(2), ("kernel: " if m.group(3) == "k" else "") +
                        m.group(4).replace(" (inlined)", "").strip()))
    return out[:n]


COMMIT_FUNCS = ("txn_prepare", "txn_commit", "jnl_write_txn", "fault_sync", "rb_write", "flush",
                "epoll_wait", "kernel: do_fsync", "kernel: ext4_create", "kernel: recently_deleted",
                "kernel: do_unlinkat", "kernel: do_renameat2", "kernel: do_sys_openat2")


def perf_pick(name, funcs):
    """{function: percent including callees} for the functions named."""
    return {f: c for c, _, f in perf_sym(name, 1000) if f in funcs}


def perf_text(name, n=12):
    if name.startswith("commits"):
        d, pk = perf_dso(name), perf_pick(name, COMMIT_FUNCS)
        if not d and not pk:
            return ""
        return ("self time by object: %s. Time including callees: %s." % (
            ", ".join("%s %s" % (o, p) for p, o in d),
            "; ".join("`%s` %s" % (f, pk[f]) for f in COMMIT_FUNCS if f in pk)))
    d, sy = perf_dso(name), perf_sym(name, n)
    if not d and not sy:
        return ""
    return ("self time by object: %s. Functions, time including callees (self): %s." % (
        ", ".join("%s %s" % (o, p) for p, o in d),
        "; ".join("`%s` %s (%s)" % (f, c, se) for c, se, f in sy)))


# ---- the document ----
o = []
w = o.append
w("# Benchmarks")
w("")
w("*Generated by `make bench` (bench/run.sh, bench/report.py) — do not edit by hand; run "
  "`make bench` again to update it (about 20 minutes on 2 cores, up to 10 of them for netconfd; "
  "`BENCH_QUICK=1 make bench`: 100k routes instead of 1M, about 6 minutes)%s.*" % (
      ". This is a `BENCH_QUICK=1` run" if QUICK else ""))
w("")
w("| machine | |")
w("|---|---|")
w("| date | %s |" % META.get("date", "?"))
w("| cores | %s |" % META.get("cores", "?"))
w("| CPU | %s |" % META.get("cpu", "?"))
w("| memory | %s GB |" % META.get("mem_gb", "?"))
w("| kernel | %s |" % META.get("kernel", "?"))
w("| libyang | %s |" % META.get("libyang", "?"))
w("| Chorus | %s |" % META.get("commit", "?"))
w("| database disk | %s |" % META.get("fs", "?"))
w("| load average at start / end | %s / %s |" % (META.get("load_start", "?"),
                                                  META.get("load_end", "?")))
w("| run | %s, %s repetitions, %s s |" % (
    "quick (`BENCH_QUICK=1`: %s routes instead of 1M)" % BL if QUICK else "full",
    META.get("reps"), META.get("elapsed_s", "?")))
w("")
try:
    busy = [float(META[k].split()[0]) for k in ("load_start", "load_end") if META.get(k)]
    if busy and max(busy) > 0.5 * float(META.get("cores", "1")):
        w("**The machine was busy during this run (1-minute load average %s at the start, %s at "
          "the end, on %s cores): the figures are noisy; compare ratios, not absolute times.**" %
          (META.get("load_start", "?").split()[0], META.get("load_end", "?").split()[0],
           META["cores"]))
        w("")
except (ValueError, IndexError):
    pass
w("Every figure is the median over the repetitions, with (min–max). A ratio is taken within "
  "each repetition — the Chorus figure over the floor figure measured just before it in the "
  "same repetition — and then summarized. *Wall* is the time the client sees; *server CPU* is "
  "user + system time of chorusd from `/proc/PID/stat` (10 ms ticks). chorusd runs with "
  "`examples/routes/chorusd.conf` (rollback files on, incremental validation) unless stated.")
w("")

w("## Goals")
w("")
w("| # | figure | result | goal | reached |")
w("|---|---|---|---|---|")
for num, what, res, gtext, ok, _ in GOALS:
    w("| %s | %s | %s | %s | %s |" % (num, what, res, gtext,
                                       "–" if ok is None else "yes" if ok else "**no**"))
w("")
if vals("floor_thp_xml_parse_ms@" + BL):
    w("The floor is libyang with glibc's default malloc; chorusd runs its heap on transparent huge "
      "pages (docs/architecture.md, *Memory*). Against a floor that runs on huge pages too, the "
      "same ratios are: %s." % "; ".join(
          ["load %s %s" % (L, cell(ratio_vals("load_ms@" + L, "floor_thp_xml_parse_ms@" + L),
                                   unit="×")) for L in SIZES] +
          ["restart (%s) %s" % (c, cell(ratio_vals("rst_%s_ms" % c, "floor_thp_lyb_parse_ms@" + BL),
                                        unit="×")) for c in "abc"]))
    w("")

# 1. floor
w("## 1. Floor: libyang and the disk alone (`bench/floor.c`)")
w("")
w("The XML file is the one `chorusctl load` sends (examples/routes/gen-routes.py), parsed from "
  "memory in a fresh libyang context. Tree RSS = RSS after the parse minus before "
  "(`/proc/self/statm`). LYB is printed from that tree and parsed back: *cold* in a new "
  "process (as a daemon that starts: every page of the tree is faulted in anew — the floor of "
  "the restarts), *warm* in the same process after the XML tree was freed (malloc reuses its "
  "pages; about twice as fast, and not what a restart gets).")
w("")
w("| figure | " + " | ".join(SIZES) + " |")
w("|---|" + "---|" * len(SIZES))
rows = [("XML file size", "floor_xml_bytes", 1 / 2**20, " MiB"),
        ("XML parse + validate (`LYD_PARSE_STRICT`, `LYD_VALIDATE_PRESENT`), s",
         "floor_xml_parse_ms", 1e-3, ""),
        ("RSS of the tree", "floor_tree_rss_kb", 1 / 1024, " MiB"),
        ("LYB print, s", "floor_lyb_print_ms", 1e-3, ""),
        ("LYB size", "floor_lyb_bytes", 1 / 2**20, " MiB"),
        ("LYB parse + validate, cold (first thing of a fresh process), s",
         "floor_lyb_parse_ms", 1e-3, ""),
        ("RSS of the tree parsed from LYB", "floor_lyb_tree_rss_kb", 1 / 1024, " MiB"),
        ("LYB parse + validate, warm (heap grown by the XML tree before), s",
         "floor_lyb_warm_parse_ms", 1e-3, ""),
        ("XML parse + validate, malloc on huge pages (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`), s",
         "floor_thp_xml_parse_ms", 1e-3, ""),
        ("LYB parse + validate, cold, malloc on huge pages, s",
         "floor_thp_lyb_parse_ms", 1e-3, ""),
        ("`lyd_validate_all` of the tree alone, s", "floor_validate_all_ms", 1e-3, "")]
for title, key, sc, unit in rows:
    w("| %s | %s |" % (title, " | ".join(cell(vals(key + "@" + L), sc, unit) for L in SIZES)))
per_route = []
for L in SIZES:
    rss, nodes = med(vals("floor_tree_rss_kb@" + L)), med(vals("floor_nodes@" + L))
    if rss and nodes:
        per_route.append("%.0f B at %s" % (rss * 1024 / ((nodes - 2) / 6), L))
if per_route:
    w("")
    w("Tree memory per route (6 data nodes): %s." % ", ".join(per_route))
w("")
w("fdatasync of a 64-byte append to a file in the benchmark's directory, 1000 times in each "
  "repetition (just before the small commits): p50 %s µs, p99 %s µs, min %s µs, max %s µs." %
  tuple(cell(vals("floor_fsync_%s_us" % k)) for k in ("p50", "p99", "min", "max")))
w("")

# 2. load
w("## 2. Load: `chorusctl load FILE` into an empty database")
w("")
w("| figure | " + " | ".join(SIZES) + " |")
w("|---|" + "---|" * len(SIZES))
w("| wall time (client), s | %s |" % " | ".join(cell(vals("load_ms@" + L), 1e-3) for L in SIZES))
w("| ratio to the floor's XML parse + validate | %s |" % " | ".join(
    cell(ratio_vals("load_ms@" + L, "floor_xml_parse_ms@" + L), unit="×") for L in SIZES))
if vals("floor_thp_xml_parse_ms@" + BL):
    w("| ratio to the floor's XML parse + validate on huge pages (as chorusd runs) | %s |" % " | ".join(
        cell(ratio_vals("load_ms@" + L, "floor_thp_xml_parse_ms@" + L), unit="×") for L in SIZES))
w("| server CPU during the load, s | %s |" % " | ".join(
    cell(vals("load_cpu_ms@" + L), 1e-3) for L in SIZES))
w("| journal size after the load | %s |" % " | ".join(
    cell(vals("load_jnl_bytes@" + L), 1 / 2**20, " MiB") for L in SIZES))
w("| background compaction after the load (snapshot written), s | %s |" % " | ".join(
    cell(vals("compact_ms@" + L), 1e-3) if vals("compact_ms@" + L) else "none (journal below "
    "the 64 MiB threshold)" for L in SIZES))
w("")

# 3. memory
w("## 3. Memory of chorusd holding %s routes" % BL)
w("")
w("| figure | value |")
w("|---|---|")
w("| RSS of the idle daemon before the load | %s |" % cell(vals("idle_rss_kb@" + BL), 1 / 1024, " MiB"))
w("| peak RSS (VmHWM) after the load | %s |" % cell(vals("hwm_kb@" + BL), 1 / 1024, " MiB"))
w("| RSS after the load (and the compaction) | %s |" % cell(vals("rss_kb@" + BL), 1 / 1024, " MiB"))
w("| RSS of one libyang tree of the data (floor) | %s |" % cell(
    vals("floor_tree_rss_kb@" + BL), 1 / 1024, " MiB"))
w("| peak RSS / tree | %s |" % cell(ratio_vals("hwm_kb@" + BL, "floor_tree_rss_kb@" + BL), unit="×"))
if vals("child_hwm_kb@" + BL):
    w("| compaction child: peak RSS (VmHWM, counts pages shared copy-on-write with the parent) "
      "| %s |" % cell(vals("child_hwm_kb@" + BL), 1 / 1024, " MiB"))
    w("| compaction child: private memory (Private_Clean + Private_Dirty, highest sample) | %s |"
      % cell(vals("child_priv_kb@" + BL), 1 / 1024, " MiB"))
else:
    w("| compaction child | none ran |")
for c in "abc":
    if vals("rst_%s_hwm_kb" % c):
        w("| peak RSS after restart (%s) | %s |" % (c, cell(vals("rst_%s_hwm_kb" % c), 1 / 1024, " MiB")))
w("")
w("The compaction child is forked copy-on-write: its RSS counts the pages it shares with the "
  "daemon; only its private memory is extra. It is sampled every 50 ms while it lives.")
w("")

# 4. commits
w("## 4. Small commits through libchorus (`bench/commits.c`)")
w("")
w("Each commit is `chorus_trans_start` + `chorus_set` + `chorus_apply` + `chorus_trans_finish` "
  "on running, on a datastore of 1k routes. *One-leaf change*: leaf1 of one of the routes; "
  "*one-route create*: a new route, four `chorus_set` (leaf1..leaf4) in the one transaction. "
  "Latency is per commit as the client sees it; %s counted commits per run (after 20 warm-up "
  "commits per client)." % META.get("ncommits"))
w("")
w("| scenario | commits/s | p50, µs | p99, µs | max, µs | server CPU per commit, µs |")
w("|---|---|---|---|---|---|")
for key, what in (("c1", "one-leaf change, 1 client"), ("c4", "one-leaf change, 4 clients"),
                  ("cr1", "one-route create, 1 client")):
    w("| %s | %s | %s | %s | %s | %s |" % (what, cell(vals(key + "_commits_per_s")),
                                            cell(vals(key + "_p50_us")),
                                            cell(vals(key + "_p99_us")),
                                            cell(vals(key + "_max_us")),
                                            cell(vals(key + "_cpu_us"))))
w("")

# 5. latency
w("## 5. One-leaf commit latency: 1k routes vs %s routes" % BL)
w("")
w("%s one-leaf changes (1 client) on each datastore, back to back in each repetition." %
  META.get("latn"))
w("")
w("| datastore | p50, µs | p99, µs | server CPU per commit, µs |")
w("|---|---|---|---|")
for key, what in (("lat1k", "1k routes"), ("latbig", "%s routes" % BL)):
    w("| %s | %s | %s | %s |" % (what, cell(vals(key + "_p50_us")), cell(vals(key + "_p99_us")),
                                 cell(vals(key + "_cpu_us"))))
w("| ratio of the p50 | %s | | |" % cell(ratio_vals("latbig_p50_us", "lat1k_p50_us"), unit="×"))
w("")

# 6. restart
w("## 6. Restart with %s routes" % BL)
w("")
w("Exec of chorusd to `chorusctl wait-start 2` succeeding (polled every 10 ms), and the "
  "daemon's own \"database recovered in N ms\" (the time in `jnl_open`: snapshot and journal "
  "replay, before the recovered tree is validated and the IPC port opens). (a) a database that "
  "holds the load only in its journal (%s MiB, compaction off); (b) after compaction "
  "(`compact-threshold` %s bytes) to `snapshot-N.json` (%s MiB) with its `.lyb` cache (%s MiB); "
  "(c) the same with the `.lyb` deleted." % (
      fmt(med(vals("rst_a_jnl_bytes"), 1 / 2**20)), META.get("thr_small"),
      fmt(med(vals("snapshot_json_bytes"), 1 / 2**20)),
      fmt(med(vals("snapshot_lyb_bytes"), 1 / 2**20))))
w("")
w("| case | exec → ready, s | \"recovered in\", s | rest of the start, s | ratio to LYB parse + validate (cold) |")
w("|---|---|---|---|---|")
for c, what in (("a", "(a) journal only"), ("b", "(b) snapshot + LYB cache"), ("c", "(c) snapshot, JSON")):
    rest = [R["rst_%s_ms" % c][r] - R["rst_%s_log_ms" % c][r] for r in R.get("rst_%s_ms" % c, {})
            if r in R.get("rst_%s_log_ms" % c, {})]
    w("| %s | %s | %s | %s | %s |" % (what, cell(vals("rst_%s_ms" % c), 1e-3),
                                      cell(vals("rst_%s_log_ms" % c), 1e-3), cell(rest, 1e-3),
                                      cell(ratio_vals("rst_%s_ms" % c, "floor_lyb_parse_ms@" + BL),
                                           unit="×")))
if vals("floor_thp_lyb_parse_ms@" + BL):
    w("| (b) / the floor on huge pages too (`GLIBC_TUNABLES=glibc.malloc.hugetlb=1`) | %s | | | |" % (
        cell(ratio_vals("rst_b_ms", "floor_thp_lyb_parse_ms@" + BL), unit="×")))
if vals("rst_b4k_ms"):
    w("| (b) with chorusd's heap on 4 KiB pages (`CHORUS_HUGEPAGES=0`) "
      "| %s | %s | | %s |" % (cell(vals("rst_b4k_ms"), 1e-3), cell(vals("rst_b4k_log_ms"), 1e-3),
                             cell(ratio_vals("rst_b4k_ms", "floor_lyb_parse_ms@" + BL), unit="×")))
    w("| (b) / (b) on 4 KiB pages | %s | %s | | |" % (
        cell(ratio_vals("rst_b_ms", "rst_b4k_ms"), unit="×"),
        cell(ratio_vals("rst_b_log_ms", "rst_b4k_log_ms"), unit="×")))
w("| (b) / (a): restart from the LYB cache over restart from the journal | %s | %s | | |" % (
    cell(ratio_vals("rst_b_ms", "rst_a_ms"), unit="×"),
    cell(ratio_vals("rst_b_log_ms", "rst_a_log_ms"), unit="×")))
if vals("rst_b_cache") and min(vals("rst_b_cache")) < 1:
    w("")
    w("**(b) did not always load the LYB cache** (the log line lacks \"from its cache\").")
w("")
w("Floor for comparison (%s): LYB parse + validate %s s cold, %s s warm; "
  "`lyd_validate_all` %s s; XML parse + validate %s s." % (
      BL, fmt(med(vals("floor_lyb_parse_ms@" + BL), 1e-3)),
      fmt(med(vals("floor_lyb_warm_parse_ms@" + BL), 1e-3)),
      fmt(med(vals("floor_validate_all_ms@" + BL), 1e-3)),
      fmt(med(vals("floor_xml_parse_ms@" + BL), 1e-3))))
w("")

# 7. round trip
if vals("rtt_tcp_p50_us") or vals("rtt_unix_p50_us"):
    cpu_tick_us = 10000.0 / float(META.get("rttn") or 1)
    w("## 7. Round trip of a trivial call (`bench/rtt.c`)")
    w("")
    w("`chorus_txid()` on one connection, %s calls one after the other (after 200 warm-up calls), "
      "on the daemon with 1k routes: one request frame and one reply frame each way, and the "
      "daemon only decodes the request and encodes the reply — this is the cost of the wire and "
      "of the IPC layers of libchorus and chorusd, which every call of the API pays on top of "
      "its own work. The *floor* is a bare 32-byte echo between two processes over the same kind "
      "of socket (one blocking `write` and `read` on each side, `TCP_NODELAY` on TCP): what the "
      "kernel's loopback path and two process wake-ups cost without any protocol; it runs just "
      "before the Chorus figure it is compared with. *Server CPU per call*: chorusd's CPU time "
      "over the run divided by the calls (10 ms ticks: ±%s µs per call); for the floor, the "
      "echo process's CPU time per round trip (`wait4`)." % (
          META.get("rttn"), fmt(cpu_tick_us)))
    w("")
    w("| transport | p50, µs | p99, µs | max, µs | floor p50, µs | floor p99, µs | p50 / floor p50 "
      "| server CPU per call, µs | floor: echo CPU per call, µs |")
    w("|---|---|---|---|---|---|---|---|---|")
    for k, what in (("tcp", "TCP, 127.0.0.1"), ("unix", "UNIX socket (`ipc/unix-path`)")):
        w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            what, cell(vals("rtt_%s_p50_us" % k)), cell(vals("rtt_%s_p99_us" % k)),
            cell(vals("rtt_%s_max_us" % k)), cell(vals("rtt_floor_%s_p50_us" % k)),
            cell(vals("rtt_floor_%s_p99_us" % k)),
            cell(ratio_vals("rtt_%s_p50_us" % k, "rtt_floor_%s_p50_us" % k), unit="×"),
            cell(vals("rtt_%s_cpu_us" % k)), cell(vals("rtt_floor_%s_cpu_us" % k))))
    w("| UNIX / TCP | %s | %s | | %s | %s | | %s | %s |" % (
        cell(ratio_vals("rtt_unix_p50_us", "rtt_tcp_p50_us"), unit="×"),
        cell(ratio_vals("rtt_unix_p99_us", "rtt_tcp_p99_us"), unit="×"),
        cell(ratio_vals("rtt_floor_unix_p50_us", "rtt_floor_tcp_p50_us"), unit="×"),
        cell(ratio_vals("rtt_floor_unix_p99_us", "rtt_floor_tcp_p99_us"), unit="×"),
        cell(ratio_vals("rtt_unix_cpu_us", "rtt_tcp_cpu_us"), unit="×"),
        cell(ratio_vals("rtt_floor_unix_cpu_us", "rtt_floor_tcp_cpu_us"), unit="×")))
    w("")
    over = [diff_vals("rtt_%s_p50_us" % k, "rtt_floor_%s_p50_us" % k) for k in ("tcp", "unix")]
    if all(over):
        w("Chorus − floor at the p50, per repetition: %s µs over TCP, %s µs over the UNIX "
          "socket — what the protocol, chorusd's event loop (`epoll_wait`, non-blocking reads) "
          "and libchorus add to a bare echo; near zero or below it, that is lost in the noise of "
          "the process wake-ups." % (cell(over[0]), cell(over[1])))
        w("")

# 8. subscribers
SUBRUNS = (("sub0", 0, "0"), ("sub1", 1, "1"), ("sub5", 5, "5, in parallel (all priority 0)"),
           ("sub5s", 5, "5, one after the other (priorities 0..4)"))
if vals("sub0_commits_per_s"):
    w("## 8. Two-phase subscribers on the commit path (`bench/subs.c`)")
    w("")
    w("One-leaf changes as in section 4 (1 client, %s counted commits after 20 warm-up commits) on "
      "a datastore of 1k routes, with 0, 1 and 5 subscribers registered by "
      "`chorus_subscribe(CHORUS_SUB_CONFIG, \"/routes:active-cfg\", priority, "
      "CHORUS_SUB_TWO_PHASE)`, each on a connection and a thread (a `chorus_dispatch` loop) of "
      "its own, in a process of their own, all registered before the timing starts. They only "
      "acknowledge; every commit sends each of them PREPARE (before the point of no return) and "
      "COMMIT (after the journal write; the client gets its answer once all have acknowledged), "
      "and a run fails unless every subscriber saw both events of every commit. Subscribers of "
      "equal priority get their event in one round, in parallel; with distinct priorities one "
      "round follows the other. The runs follow one another in each repetition, and each ratio "
      "is taken to the run without subscribers of the same repetition. *Added p50 per "
      "subscriber* = (p50 − p50 without subscribers) / subscribers. *Subscriber CPU*: user + "
      "system time of the subscribers' process during the run, per commit." %
      META.get("ncommits"))
    w("")
    w("| subscribers | commits/s | commits/s, ratio to 0 | p50, µs | p50, ratio to 0 | p99, µs "
      "| max, µs | added p50 per subscriber, µs | server CPU per commit, µs "
      "| subscriber CPU per commit, µs |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for key, n, what in SUBRUNS:
        if not vals(key + "_commits_per_s"):
            continue
        first = key == "sub0"
        w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            what, cell(vals(key + "_commits_per_s")),
            "1×" if first else cell(ratio_vals(key + "_commits_per_s", "sub0_commits_per_s"),
                                   unit="×"),
            cell(vals(key + "_p50_us")),
            "1×" if first else cell(ratio_vals(key + "_p50_us", "sub0_p50_us"), unit="×"),
            cell(vals(key + "_p99_us")), cell(vals(key + "_max_us")),
            "" if first else cell(diff_vals(key + "_p50_us", "sub0_p50_us", n)),
            cell(vals(key + "_cpu_us")),
            "" if first else cell(vals(key + "_subcpu_us"))))
    w("")

# 9. NETCONF
NCS = META.get("nc_sizes", "").split()
NCB = META.get("nc_big", "?")
if any(vals("nc_edit_wall_ms@" + L) for L in NCS) or vals("nc_rtt_empty_p50_us"):
    w("## 9. NETCONF (`bench/ncbench.c`)")
    w("")
    w("chorusd's own NETCONF server (docs/netconf.md) driven by `bench_nc`: one session per "
      "workload on 127.0.0.1, over plain TCP (`TCP_NODELAY`) unless the table says SSH, "
      "hello with base:1.1 then chunked framing, each request framed in one buffer and "
      "written with one call, every reply checked (`<ok/>` or `<data>`; an `<rpc-error>` fails "
      "the run). *Wall* is the time the client sees from the "
      "request's write to the last byte of its reply (connect and hello excluded). *Server CPU* "
      "is chorusd's user + system time over the whole `bench_nc` run (hello and close-session "
      "included; 10 ms ticks). *Peak RSS* is chorusd's VmHWM after the workload. Routes are "
      "those of gen-routes.py: the edit-config of K routes carries inside `<config>` exactly the "
      "file the floor parses, and the floor runs just before it in the same repetition.")
    w("")
if any(vals("nc_edit_wall_ms@" + L) for L in NCS):
    w("**Edit-config of K routes in one transaction** (default-operation merge, into running "
      "of an empty database), then **get-config of them all** (subtree filter `<active-cfg/>`) "
      "and **delete of them all** (`nc:operation=\"delete\"` on `/active-cfg/routes`), one "
      "after the other on a chorusd started for this K alone, so that its peak RSS is this K's.")
    w("")
    w("| figure | " + " | ".join(NCS) + " |")
    w("|---|" + "---|" * len(NCS))

    def ncrow(title, cells):
        w("| %s | %s |" % (title, " | ".join(cells)))

    def per(key, sc=1.0, unit=""):
        return [cell(vals(key + "@" + L), sc, unit) for L in NCS]

    ncrow("edit-config request", per("nc_edit_request_bytes", 1 / 2**20, " MiB"))
    ncrow("edit-config: wall time (client), ms", per("nc_edit_wall_ms"))
    ncrow("edit-config: server CPU, ms", per("nc_edit_cpu_ms"))
    ncrow("floor: libyang XML parse + validate of the same routes, ms",
          per("nc_floor_xml_parse_ms"))
    ncrow("**edit-config wall / floor**", [cell(ratio_vals("nc_edit_wall_ms@" + L,
                                                           "nc_floor_xml_parse_ms@" + L), unit="×")
                                           for L in NCS])
    if any(vals("load_ms@" + L) for L in NCS):
        ncrow("`chorusctl load` of the same routes over the IPC API (section 2), ms",
              per("load_ms"))
        ncrow("edit-config wall / `chorusctl load` wall",
              [cell(ratio_vals("nc_edit_wall_ms@" + L, "load_ms@" + L), unit="×") for L in NCS])
    ncrow("RSS of chorusd before the edit (idle, empty), MiB", per("nc_idle_rss_kb", 1 / 1024))
    ncrow("peak RSS of chorusd after the edit, MiB", per("nc_edit_hwm_kb", 1 / 1024))
    ncrow("floor: RSS of one libyang tree of the routes, MiB",
          per("nc_floor_tree_rss_kb", 1 / 1024))
    ncrow("get-config of all routes: wall time (client), ms", per("nc_getall_wall_ms"))
    ncrow("get-config: server CPU, ms", per("nc_getall_cpu_ms"))
    ncrow("get-config: reply size", per("nc_getall_reply_bytes", 1 / 2**20, " MiB"))
    ncrow("peak RSS of chorusd after the get-config, MiB", per("nc_getall_hwm_kb", 1 / 1024))
    ncrow("delete of all routes: wall time (client), ms", per("nc_delete_wall_ms"))
    ncrow("delete: server CPU, ms", per("nc_delete_cpu_ms"))
    ncrow("peak RSS of chorusd after the delete, MiB", per("nc_delete_hwm_kb", 1 / 1024))
    w("")
NCRUNS = (("nc_rtt_empty", "get-config of one route (round trip)", "empty", "TCP"),
          ("nc_rtt_big", "get-config of one route (round trip)", NCB + " routes", "TCP"),
          ("nc_ssh_rtt_big", "get-config of one route (round trip)", NCB + " routes", "SSH"),
          ("nc_seq_empty", "edit-config of one new route, one after the other", "empty", "TCP"),
          ("nc_seq_big", "edit-config of one new route, one after the other", NCB + " routes",
           "TCP"),
          ("nc_ssh_seq_big", "edit-config of one new route, one after the other",
           NCB + " routes", "SSH"))
if vals("nc_rtt_empty_p50_us") or vals("nc_seq_empty_p50_us"):
    w("**Round trips and sequential edits**, one session each: %s get-configs with a subtree "
      "filter selecting route 0000001 (after 200 not counted; on the empty database that route "
      "does not exist and `<data>` comes back empty, on the other it holds the one route), and "
      "%s edit-configs each merging one new route with its four leaves, each its own "
      "transaction and commit to running (after 20 not counted; *rate* = counted edits / their "
      "wall time). The empty database starts empty; the other is loaded with %s routes by "
      "`chorusctl load` first.%s" % (
          META.get("rttn"), META.get("nc_seq"), NCB,
          "" if vals("nc_ssh_rtt_big_p50_us") else
          " chorusd served no NETCONF over SSH in this run: the SSH rows are empty."))
    w("")
    w("| workload | database | transport | p50, µs | p99, µs | mean, µs | rate, /s "
      "| server CPU per request, µs | peak RSS of chorusd after it, MiB |")
    w("|---|---|---|---|---|---|---|---|---|")
    for key, what, db, tr in NCRUNS:
        if not vals(key + "_p50_us"):
            continue
        w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            what, db, tr, cell(vals(key + "_p50_us")), cell(vals(key + "_p99_us")),
            cell(vals(key + "_mean_us")), cell(vals(key + "_commits_per_s")),
            cell(vals(key + "_cpu_us")), cell(vals(key + "_hwm_kb"), 1 / 1024)))
    w("| round trip: %s routes / empty, p50 | | | %s | %s | | | | |" % (
        NCB, cell(ratio_vals("nc_rtt_big_p50_us", "nc_rtt_empty_p50_us"), unit="×"),
        cell(ratio_vals("nc_rtt_big_p99_us", "nc_rtt_empty_p99_us"), unit="×")))
    w("| sequential edits: %s routes / empty | | | %s | %s | | %s | | |" % (
        NCB, cell(ratio_vals("nc_seq_big_p50_us", "nc_seq_empty_p50_us"), unit="×"),
        cell(ratio_vals("nc_seq_big_p99_us", "nc_seq_empty_p99_us"), unit="×"),
        cell(ratio_vals("nc_seq_big_commits_per_s", "nc_seq_empty_commits_per_s"), unit="×")))
    if vals("nc_ssh_rtt_big_p50_us"):
        w("| SSH / TCP, round trip | | | %s | %s | | | %s | |" % (
            cell(ratio_vals("nc_ssh_rtt_big_p50_us", "nc_rtt_big_p50_us"), unit="×"),
            cell(ratio_vals("nc_ssh_rtt_big_p99_us", "nc_rtt_big_p99_us"), unit="×"),
            cell(ratio_vals("nc_ssh_rtt_big_cpu_us", "nc_rtt_big_cpu_us"), unit="×")))
    w("")
    cmp = []
    if vals("cr1_p50_us") and vals("nc_seq_empty_p50_us"):
        cmp.append("a one-route create through libchorus (section 4, 1 client, 1k routes) has p50 "
                   "%s µs and %s commits/s; the NETCONF one-route edit-config on the empty "
                   "database has %s its p50" % (
                       cell(vals("cr1_p50_us")), cell(vals("cr1_commits_per_s")),
                       cell(ratio_vals("nc_seq_empty_p50_us", "cr1_p50_us"), unit="×")))
    if vals("rtt_tcp_p50_us") and vals("nc_rtt_empty_p50_us"):
        cmp.append("the round trip of `chorus_txid()` over TCP (section 7) has p50 %s µs; the "
                   "NETCONF get-config round trip on the empty database is %s that" % (
                       cell(vals("rtt_tcp_p50_us")),
                       cell(ratio_vals("nc_rtt_empty_p50_us", "rtt_tcp_p50_us"), unit="×")))
    if vals("nc_ssh_rtt_big_connect_ms"):
        cmp.append("connect + hello takes %s ms over TCP and %s ms over SSH (key exchange and "
                   "password authentication included)" % (
                       cell(vals("nc_rtt_big_connect_ms")),
                       cell(vals("nc_ssh_rtt_big_connect_ms"))))
    if cmp:
        w("For comparison, within the same repetitions: " + "; ".join(cmp) + ".")
        w("")

# 10. Chorus vs netconfd
STATUS = {1: "refused", 2: "timeout", 3: "failed", 4: "not retried"}


def peer_status(key, rep, x):
    """1 refused, 2 timeout, 3 failed, 4 not retried: a session that netconfd closed in the
    middle of the request (its way of refusing a request too large for it) counts as refused."""
    x = int(x)
    if x == 3 and re.search(r"channel is closed|closed the session", NOTES.get(key, {}).get(rep, "")):
        return 1
    return x


def peer_cell(key, L, sc=1.0, unit=""):
    """netconfd's figure, or what became of the request in each repetition."""
    v = vals("%s@%s" % (key, L)) if L else vals(key)
    st = R.get("pn_edit_status@" + L, {}) if L else {}
    bad = {r: peer_status("pn_edit@" + L, r, x) for r, x in st.items() if int(x)}
    if not bad:
        return cell(v, sc, unit)
    kinds = sorted(set(bad.values()))
    text = ", ".join("%s in %d of %d" % (STATUS[k], sum(1 for x in bad.values() if x == k), len(st))
                     for k in kinds)
    return ("**%s**" % text) if not v else "%s (%s)" % (cell(v, sc, unit), text)


if PEER_RAN:
    TO = META.get("peer_timeout", "?")
    w("## 10. Chorus vs netconfd (Yuma123)")
    w("")
    w("The same workloads against Chorus and against Yuma123's `netconfd` %s (Debian package "
      "`netconfd`), one after the other in each repetition, on 127.0.0.1, both over NETCONF over "
      "SSH and both driven by `bench_nc` (base:1.1 chunked framing, edits on running: netconfd "
      "runs with `--target=running` and advertises `:writable-running`). netconfd loads "
      "`examples/routes/routes.yang`, runs with `--access-control=off --indent=0 --log-level=info`, "
      "a state directory and UNIX socket of its own, and its own OpenSSH sshd %s (a generated "
      "`sshd_config`, `Subsystem netconf /usr/sbin/netconf-subsystem`, public-key login) on a "
      "port of its own; chorusd runs `examples/routes/chorusd.conf` and serves SSH itself "
      "(libssh, in the daemon, password login). A fresh server of each kind for each K and each "
      "run, so that each peak RSS is that workload's. Every netconfd request has a time limit "
      "of %s s; a request netconfd refuses (`<rpc-error>`) or does not answer in time is "
      "reported as such, and a size that timed out is not tried again in later repetitions." % (
          META.get("netconfd", ""), META.get("openssh", ""), TO))
    w("")
    w("What the figures measure: *wall* — the time the client sees from the request's write to "
      "the last byte of its reply (connect, authentication and hello excluded); *server CPU* — "
      "user + system time (10 ms ticks) over the whole `bench_nc` session (SSH key exchange, "
      "hello and close-session included) of chorusd, which does its SSH itself, and of "
      "netconfd, and separately of netconfd's sshd session and netconf-subsystem processes, "
      "which do the SSH and relay for it; *peak RSS* — the server's VmHWM after the workload "
      "(netconfd's own, without its sshd and netconf-subsystem, a few MiB). *netconfd / "
      "Chorus* is taken within each repetition and then summarized: above 1× Chorus is faster "
      "(or smaller).")
    w("")
    w("**One edit-config of K routes** (merge into running of an empty datastore), then "
      "**get-config of them all** and **delete of them all**.")
    w("")
    w("| figure | " + " | ".join(PEERS) + " |")
    w("|---|" + "---|" * len(PEERS))

    def prow(title, cells):
        w("| %s | %s |" % (title, " | ".join(cells)))

    for wk, what in (("edit", "edit-config"), ("getall", "get-config of all"),
                     ("delete", "delete of all")):
        prow("%s: Chorus wall, ms" % what, [cell(vals("pc_%s_wall_ms@%s" % (wk, L))) for L in PEERS])
        prow("%s: netconfd wall, ms" % what, [peer_cell("pn_%s_wall_ms" % wk, L) for L in PEERS])
        prow("**%s: netconfd / Chorus, wall**" % what, [
            cell(ratio_vals("pn_%s_wall_ms@%s" % (wk, L), "pc_%s_wall_ms@%s" % (wk, L)), unit="×")
            for L in PEERS])
        prow("%s: server CPU, chorusd, ms" % what, [cell(vals("pc_%s_cpu_ms@%s" % (wk, L)))
                                                  for L in PEERS])
        prow("%s: server CPU, netconfd, ms" % what, [peer_cell("pn_%s_cpu_ms" % wk, L) for L in PEERS])
        prow("%s: server CPU, netconfd's sshd session + netconf-subsystem, ms" % what,
             [peer_cell("pn_%s_sshcpu_ms" % wk, L) for L in PEERS])
    prow("get-config reply: Chorus / netconfd, MiB", [
        "%s / %s" % (cell(vals("pc_getall_reply_bytes@" + L), 1 / 2**20),
                     peer_cell("pn_getall_reply_bytes", L, 1 / 2**20)) for L in PEERS])
    prow("idle RSS before the edit: chorusd / netconfd, MiB", [
        "%s / %s" % (cell(vals("pc_idle_rss_kb@" + L), 1 / 1024),
                     cell(vals("pn_idle_rss_kb@" + L), 1 / 1024)) for L in PEERS])
    prow("peak RSS after the edit, chorusd, MiB", [cell(vals("pc_edit_hwm_kb@" + L), 1 / 1024)
                                                  for L in PEERS])
    prow("peak RSS after the edit, netconfd, MiB", [peer_cell("pn_edit_hwm_kb", L, 1 / 1024)
                                                   for L in PEERS])
    prow("peak RSS after all three, chorusd, MiB", [cell(vals("pc_delete_hwm_kb@" + L), 1 / 1024)
                                                   for L in PEERS])
    prow("peak RSS after all three, netconfd, MiB", [peer_cell("pn_delete_hwm_kb", L, 1 / 1024)
                                                    for L in PEERS])
    prow("**peak RSS: netconfd / Chorus**", [
        cell(ratio_vals("pn_delete_hwm_kb@" + L, "pc_delete_hwm_kb@" + L), unit="×") for L in PEERS])
    if any(vals("pn_fail_hwm_kb@" + L) for L in PEERS):
        prow("netconfd's peak RSS when its edit-config was refused or cut off, MiB",
             [cell(vals("pn_fail_hwm_kb@" + L), 1 / 1024) for L in PEERS])
    w("")
    notes = ["%s, repetition %d: %s" % (k, r, m) for k in sorted(NOTES) for r, m in sorted(NOTES[k].items())]
    if notes:
        w("netconfd's refusals and timeouts: " + "; ".join("`%s`" % n.replace("`", "'") for n in notes) + ".")
        if any(re.search(r"channel is closed|closed the session", m) for k in NOTES
               for m in NOTES[k].values()):
            w("When netconfd closes the session in the middle of a large request, its log says "
              "`agt_ncxserver: input failed for session N (resource denied)`; it does so with "
              "base:1.0 framing too (`--protocols=netconf1.0`, checked by hand on 2026-12-06), so "
              "this is a limit on the size of a request (the 100k-route edit-config is 11 MiB), "
              "not on the size of a chunk.")
        w("")
    w("**Sequential one-route edit-configs** (%s per run after 20 not counted, each a merge of a "
      "new route with its four leaves, its own transaction on running; a run stops after %s s, "
      "*edits* says how many were counted) on an empty datastore and on one holding %s routes "
      "(the largest K netconfd accepted in repetition 1, at most %s; filled by one edit-config "
      "of them first), and **get-config round trips** of one route (subtree filter on its key, "
      "%s per run after 100 not counted) on the latter." % (
          META.get("nc_seq"), META.get("peer_seq_limit"), PEER_BIG, META.get("nc_big"),
          META.get("peer_rttn")))
    w("")
    w("| workload | server | edits | p50, µs | p99, µs | rate, /s | server CPU per request, µs "
      "| sshd + netconf-subsystem CPU per request, µs | peak RSS, MiB |")
    w("|---|---|---|---|---|---|---|---|---|")
    for k, what in (("seq_empty", "one-route edit-configs, empty datastore"),
                    ("seq_big", "one-route edit-configs, %s routes" % PEER_BIG),
                    ("rtt_big", "get-config of one route, %s routes" % PEER_BIG)):
        for pre, who in (("pc", "Chorus"), ("pn", "netconfd")):
            kk = "%s_%s" % (pre, k)
            if not vals(kk + "_p50_us"):
                w("| %s | %s | %s | | | | | | |" % (what, who, "**%s**" % STATUS.get(
                    int(max(vals(kk + "_status") or [3])), "not run")))
                continue
            w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                what, who, cell(vals(kk + "_n")) if k != "rtt_big" else "",
                cell(vals(kk + "_p50_us")), cell(vals(kk + "_p99_us")),
                cell(vals(kk + "_commits_per_s")) if k != "rtt_big" else "",
                cell(vals(kk + "_cpu_us")), cell(vals(kk + "_sshcpu_us")) if pre == "pn" else "(in chorusd)",
                cell(vals(kk + "_hwm_kb"), 1 / 1024)))
        w("| **netconfd / Chorus** | | | %s | %s | %s | %s | | %s |" % (
            cell(ratio_vals("pn_%s_p50_us" % k, "pc_%s_p50_us" % k), unit="×"),
            cell(ratio_vals("pn_%s_p99_us" % k, "pc_%s_p99_us" % k), unit="×"),
            cell(ratio_vals("pc_%s_commits_per_s" % k, "pn_%s_commits_per_s" % k), unit="×")
            if k != "rtt_big" else "",
            cell(ratio_vals("pn_%s_cpu_us" % k, "pc_%s_cpu_us" % k), unit="×"),
            cell(ratio_vals("pn_%s_hwm_kb" % k, "pc_%s_hwm_kb" % k), unit="×")))
    w("")
    w("The rate column of the ratio row is Chorus's rate over netconfd's. netconfd without "
      "`:startup` (`--with-startup=false`, its default) saves the whole running datastore to its "
      "startup file after every edit of running: each one-route edit costs it time in "
      "proportion to the datastore. chorusd appends the change to its journal (fdatasync) and "
      "writes a rollback file per commit (`examples/routes/chorusd.conf`).")
    w("")
    # where Chorus falls short
    short = []
    for w_, what in PEER_WORK:
        for L in PEERS:
            r_ = med(ratio_vals("pn_%s_wall_ms@%s" % (w_, L), "pc_%s_wall_ms@%s" % (w_, L)))
            if r_ is not None and r_ < 1:
                short.append((w_, L, what % L, r_))
    for k, what in (("seq_empty", "sequential one-route edit-configs, empty datastore"),
                    ("seq_big", "sequential one-route edit-configs, %s routes" % PEER_BIG),
                    ("rtt_big", "get-config round trips, %s routes" % PEER_BIG)):
        r_ = med(ratio_vals("pn_%s_p50_us" % k, "pc_%s_p50_us" % k))
        if r_ is not None and r_ < 1:
            short.append((k, "", what, r_))
    w("**Where Chorus falls short of netconfd here**%s" % (":" if short else ": nowhere in this run."))
    w("")
    for wk, L, what, r_ in short:
        line = "- %s: netconfd takes %s× Chorus's wall time. " % (what, fmt(r_))
        if wk == "getall":
            line += ("chorusd spends %s ms of CPU on the session against netconfd's %s ms (plus %s "
                     "ms in its sshd and netconf-subsystem, SSH session set-up included, on the "
                     "machine's other core): the difference is the reply's production in chorusd, "
                     "which copies the filtered subtree and prints it with libyang's XML printer "
                     "(it formats through `vasprintf`) before encrypting it in the same thread. "
                     "A perf sample of chorusd during 20 get-configs of 10k routes over TCP (made "
                     "while writing this harness, 2026-12-06): 53%% of the samples in libyang, 40%% "
                     "in libc (`vfprintf`, `strlen`, malloc and free), 5%% in chorusd itself; "
                     "netconfd's own XML writer needs a quarter of that CPU." % (
                         fmt(med(vals("pc_getall_cpu_ms@" + L))),
                         fmt(med(vals("pn_getall_cpu_ms@" + L))),
                         fmt(med(vals("pn_getall_sshcpu_ms@" + L)))))
            if vals("nc_getall_wall_ms@" + L):
                line += (" Over plain TCP (section 9) chorusd takes %s ms for the same reply: "
                         "the rest is its SSH channel." % fmt(med(vals("nc_getall_wall_ms@" + L))))
        elif wk == "delete":
            line += ("a delete is a transaction like any other in chorusd: the change is "
                     "validated, recorded in the journal (fdatasync), and the commit's rollback "
                     "file holds every deleted route so that it can be undone (724 KB of JSON for "
                     "10k routes), printed by libyang; then the 60k nodes are freed. netconfd "
                     "removes the subtree from memory and saves what is left (nearly nothing) as "
                     "its startup file; it keeps no rollback. Server CPU: chorusd %s ms, "
                     "netconfd %s ms (10 ms ticks); a perf sample of chorusd during such deletes "
                     "puts 48%% of its samples in libyang and 43%% in libc (free, `vfprintf`)." % (
                         fmt(med(vals("pc_delete_cpu_ms@" + L))),
                         fmt(med(vals("pn_delete_cpu_ms@" + L)))))
        elif wk == "edit":
            line += ("at this size the edit is a small part of the request and the two are within "
                     "the noise of each other; what remains is chorusd's commit path (journal "
                     "fdatasync, rollback file), which netconfd does not have. "
                     "Server CPU: chorusd %s ms, netconfd %s ms." % (
                         fmt(med(vals("pc_edit_cpu_ms@" + L))), fmt(med(vals("pn_edit_cpu_ms@" + L)))))
        else:
            line += ("per request: chorusd %s µs of CPU, netconfd %s µs plus %s µs in sshd and "
                     "netconf-subsystem." % (fmt(med(vals("pc_%s_cpu_us" % wk))),
                                             fmt(med(vals("pn_%s_cpu_us" % wk))),
                                             fmt(med(vals("pn_%s_sshcpu_us" % wk)))))
        w(line)
    if short:
        w("")


# where the time goes
w("## Where the time goes")
w("")
w("From one more run at log level debug (the commit stage timings of `txn.c`)%s, after the "
  "repetitions." % (", sampled with `perf record -e cpu-clock -g`" if META.get("perf") else
                    " (perf does not work on this machine)"))
w("")
ls = load_stages()
if "parse" in ls:
    parts = [("edit parse (XML → tree)", ls.get("parse")), ("apply", ls.get("apply")),
             ("validate", ls.get("validate")), ("record (%s MiB)" % fmt(ls.get("record_bytes", 0) / 2**20),
                                                ls.get("record")),
             ("journal write + fdatasync", ls.get("journal"))]
    known = sum(v for _, v in parts if v)
    w("**Load of %s routes** (%s MiB of XML), server stages:" % (BL, fmt(ls["edit_bytes"] / 2**20)))
    w("")
    w("| stage | ms |")
    w("|---|---|")
    for n, v in parts:
        w("| %s | %s |" % (n, fmt(v)))
    if "wall" in ls:
        w("| rest: chorusctl reads the file, transfer, rollback file, reply | %s |" % fmt(ls["wall"] - known))
        w("| wall time of this load (client) | %s |" % fmt(ls["wall"]))
    w("")
cs, ncs = commit_stages()
if cs:
    w("**One-leaf commit**, server stages (median of %d commits): apply %s ms, validate %s ms, "
      "record %s ms, journal write + fdatasync %s ms." % (
          ncs, fmt(cs.get("apply")), fmt(cs.get("validate")), fmt(cs.get("record")),
          fmt(cs.get("journal"))))
    w("")
sp = strace_per_commit(200)
if sp:
    w("System calls per one-leaf commit (`strace -c -f`, 200 commits): " + ", ".join(
        "%s %s" % (n, fmt(c)) for n, c, _ in sp[:12]) + ".")
    w("")
if META.get("perf"):
    w("perf samples of chorusd (cpu-clock, 250 Hz, DWARF call graphs; libyang's static "
      "functions have no symbols on this machine and are left out; `pvm_irq_enable` is the "
      "hypervisor's interrupt path, where page faults and I/O completions are charged):")
    w("")
    for name, what in (("load", "load of %s, debug level" % BL),
                       ("commits-1k", "1000 one-leaf commits on 1k routes"),
                       ("commits", "1000 one-leaf commits on %s routes, debug level" % BL),
                       ("restart-a", "restart (a), until ready"),
                       ("restart-b", "restart (b), until ready"),
                       ("restart-c", "restart (c), until ready")):
        t = perf_text(name)
        if t:
            w("- **%s**: %s" % (what, t))
    w("")

# misses
misses = [g for g in GOALS if g[4] is False]
w("### Goals not reached")
w("")
if not misses:
    w("All goals were reached in this run.")
fl_xml = med(vals("floor_xml_parse_ms@" + BL))
thp_said = False
for num, what, res, gtext, ok, v in misses:
    line = "- **%s** (%s, goal %s): " % (what, res, gtext)
    if num == "2" and "parse" in ls:
        line += ("in the debug run (" + BL + " routes) the server spent %s s parsing the edit's XML into a tree "
                 "(%s× the floor's complete parse + validate of the file, %s s), %s s validating, "
                 "%s s encoding the %s MiB journal record and %s s writing it; the rest of the "
                 "wall time (%s s) is chorusctl reading the file, the transfer, the rollback "
                 "file and the reply." % (
                     fmt(ls["parse"] / 1e3), fmt(ls["parse"] / fl_xml if fl_xml else None),
                     fmt(fl_xml / 1e3 if fl_xml else None), fmt(ls.get("validate", 0) / 1e3),
                     fmt(ls.get("record", 0) / 1e3), fmt(ls.get("record_bytes", 0) / 2**20),
                     fmt(ls.get("journal", 0) / 1e3),
                     fmt((ls["wall"] - sum(ls.get(k, 0) for k in ("parse", "apply", "validate",
                                                                    "record", "journal"))) / 1e3
                         if "wall" in ls else None)))
    elif num == "1":
        line += "see section 10, *Where Chorus falls short of netconfd here*."
    elif num == "3":
        idle, hwm, tree = (med(vals(k)) for k in ("idle_rss_kb@" + BL, "hwm_kb@" + BL,
                                                   "floor_tree_rss_kb@" + BL))
        xml = med(vals("floor_xml_bytes@" + BL))
        line += ("the peak is %s MiB = idle daemon %s MiB + one tree %s MiB + %s MiB more. "
                 "Buffers alive during a load that could make up the rest: the request frame "
                 "with the XML (%s MiB), the journal record (%s MiB), and heap that malloc "
                 "does not give back after the edit." % (
                     fmt(hwm / 1024), fmt(idle / 1024), fmt(tree / 1024),
                     fmt((hwm - idle - tree) / 1024), fmt(xml / 2**20 if xml else None),
                     fmt(ls.get("record_bytes", 0) / 2**20)))
        if med(vals("rss_kb@" + BL)):
            line += " After the load the RSS is %s MiB." % fmt(med(vals("rss_kb@" + BL)) / 1024)
    elif num == "4" and "4 clients" in what:
        c1, c4 = med(vals("c1_commits_per_s")), med(vals("c4_commits_per_s"))
        line += ("4 clients reach %s× the rate of one client, and each waits %s µs (p50) instead "
                 "of %s µs: commits are serialized, each with its own fdatasync — nothing "
                 "batches the journal writes of concurrent transactions (group commit)." % (
                     fmt(c4 / c1 if c1 and c4 else None), fmt(med(vals("c4_p50_us"))),
                     fmt(med(vals("c1_p50_us")))))
    elif num == "4":
        line += ("a commit's p50 is %s µs; one fdatasync of a small append on this disk is %s "
                 "of that (floor p50 / commit p50, per repetition); the server spends %s µs of "
                 "CPU per commit" % (fmt(med(vals("c1_p50_us"))),
                                     cell(ratio_vals("floor_fsync_p50_us", "c1_p50_us"), unit="×"),
                                     fmt(med(vals("c1_cpu_us")))))
        if cs:
            line += " (stages: validate %s ms, record %s ms, journal %s ms)" % (
                fmt(cs.get("validate")), fmt(cs.get("record")), fmt(cs.get("journal")))
        if sp:
            line += "; per commit it makes " + ", ".join(
                "%s %s" % (fmt(c), n) for n, c, _ in sp[:9]) + " calls"
        pk = perf_pick("commits-1k", COMMIT_FUNCS)
        if pk:
            line += ("; perf (1k routes): journal write + fdatasync (`jnl_write_txn`) %s, the "
                     "rollback file of the commit (`rb_write`: create, write, rename, and "
                     "unlink of the oldest) %s, replies (`flush`) %s of the server's samples" % (
                         pk.get("jnl_write_txn", "?"), pk.get("rb_write", "?"),
                         pk.get("flush", "?")))
            if "kernel: ext4_create" in pk:
                line += ", of which ext4 inode creation %s" % pk["kernel: ext4_create"]
        line += "."
    elif num == "5":
        line += "p50 %s µs on 1k routes, %s µs on %s routes." % (
            fmt(med(vals("lat1k_p50_us"))), fmt(med(vals("latbig_p50_us"))), BL)
    elif num.startswith("6"):
        c = num[1]
        rst, log = med(vals("rst_%s_ms" % c)), med(vals("rst_%s_log_ms" % c))
        line += ("of %s s from exec to ready, the recovery proper (\"recovered in\") takes %s s; "
                 "the rest, %s s, is schema compilation, the validation of the whole recovered "
                 "tree (`lyd_validate_all` alone costs %s s in the floor) and start-up. The floor, a "
                 "cold LYB parse + validate, takes %s s." % (
                     fmt(rst / 1e3), fmt(log / 1e3), fmt((rst - log) / 1e3),
                     fmt(med(vals("floor_validate_all_ms@" + BL), 1e-3)),
                     fmt(med(vals("floor_lyb_parse_ms@" + BL), 1e-3))))
        if vals("rst_b4k_ms") and not thp_said:
            thp_said = True
            line += (" chorusd runs its heap on transparent huge pages: restart (b) takes %s of "
                     "the time it takes on 4 KiB pages, and the floor's cold LYB parse on huge "
                     "pages %s of its time on 4 KiB pages — the page faults of a freshly grown "
                     "heap are a large part of a cold start here." % (
                         cell(ratio_vals("rst_b_ms", "rst_b4k_ms"), unit="×"),
                         cell(ratio_vals("floor_thp_lyb_parse_ms@" + BL, "floor_lyb_parse_ms@" + BL),
                              unit="×")))
        if c == "a":
            line += (" Replaying the journal parses the %s MiB record of the load." %
                     fmt(med(vals("rst_a_jnl_bytes"), 1 / 2**20)))
        if META.get("perf"):
            pl = [x for x in perf_sym("restart-" + c, 40) if x[2] in (
                "jnl_open", "load_snapshot", "read_journal", "val_tree", "lyd_parse_data",
                "lyd_validate_all", "schema_load", "lyd_free_all", "replay", "rec_apply",
                "parse_data", "read_file")]
            if pl:
                line += " perf, time including callees: " + ", ".join(
                    "`%s` %s" % (f, c2) for c2, _, f in pl) + "."
    w(line)
w("")

# ---- plots ----
plots = []
if shutil.which("gnuplot"):
    dat = os.path.join(T, "plot")
    os.makedirs(dat, exist_ok=True)
    with open(os.path.join(dat, "times.dat"), "w") as f:
        for L in SIZES:
            f.write('"load %s" %s %s\n' % (L, (med(vals("floor_xml_parse_ms@" + L)) or 0) / 1e3,
                                           (med(vals("load_ms@" + L)) or 0) / 1e3))
        for c in "abc":
            f.write('"restart (%s)" %s %s\n' % (c, (med(vals("floor_lyb_parse_ms@" + BL)) or 0) / 1e3,
                                                (med(vals("rst_%s_ms" % c)) or 0) / 1e3))
    with open(os.path.join(dat, "mem.dat"), "w") as f:
        for n, k in (("libyang tree", "floor_tree_rss_kb@" + BL), ("chorusd idle", "idle_rss_kb@" + BL),
                     ("chorusd peak", "hwm_kb@" + BL), ("chorusd after", "rss_kb@" + BL),
                     ("compaction child private", "child_priv_kb@" + BL)):
            f.write('"%s" %s\n' % (n, (med(vals(k)) or 0) / 1024))
    series = [(os.path.join(PROF, "lat-%s-1" % k), t) for k, t in (
        ("c1", "1 client, 1k routes"), ("c4", "4 clients, 1k routes"),
        ("1k", "latency run, 1k routes"), ("big", "latency run, %s routes" % BL))]
    series = [(p, t) for p, t in series if os.path.exists(p) and os.path.getsize(p)]
    gp = os.path.join(dat, "plots.gp")
    # without the load and restart figures (BENCH_ONLY), those two plots go to the scratch directory
    base_dir = DOCDIR if vals("load_ms@" + BL) else dat
    with open(gp, "w") as f:
        f.write('set terminal pngcairo size 900,480 font ",10"\nset grid ytics\n'
                'set style data histograms\nset style histogram clustered gap 1\n'
                'set style fill solid 0.8 border -1\nset key top left\n')
        f.write('set output "%s"\nset title "Chorus vs libyang floor (median, %s)"\n'
                'set ylabel "seconds"\nset yrange [0:*]\nset key outside below\n' % (
                    os.path.join(base_dir, "bench-times.png"), META.get("date")))
        f.write('plot "%s" using 2:xtic(1) title "libyang floor: XML parse + validate (load), '
                'cold LYB parse + validate (restart)", "" using 3 title "Chorus: wall time seen '
                'by the client (load), exec to ready (restart)"\n' % os.path.join(dat, "times.dat"))
        f.write('set output "%s"\nset title "Memory with %s routes (median)"\nset ylabel "MiB"\n'
                'unset key\nset yrange [0:*]\nplot "%s" using 2:xtic(1) notitle\n' % (
                    os.path.join(base_dir, "bench-memory.png"), BL, os.path.join(dat, "mem.dat")))
        if series:
            f.write('set output "%s"\nset style data lines\nset title "One-leaf commit latency, '
                    'repetition 1 (CDF)"\nset logscale x\nset xlabel "latency, µs"\n'
                    'set ylabel "fraction of commits"\nset key bottom right\nset yrange [0:1]\n' %
                    os.path.join(DOCDIR, "bench-latency.png"))
            f.write("plot " + ", ".join(
                '"%s" using 1:($0/%d) with lines lw 2 title "%s"' % (
                    p, sum(1 for _ in open(p)), t) for p, t in series) + "\n")
    subseries = [(os.path.join(PROF, "lat-%s-1" % k), "%s subscriber%s" % (
        n, {"sub1": "", "sub5": "s, in parallel", "sub5s": "s, one after the other"}.get(k, "s")))
        for k, n, _ in SUBRUNS]
    subseries = [(p, t) for p, t in subseries if os.path.exists(p) and os.path.getsize(p)]
    if subseries:
        with open(gp, "a") as f:
            f.write('set output "%s"\nset style data lines\nset title "One-leaf commit latency '
                    'with two-phase subscribers, repetition 1 (CDF)"\nset logscale x\n'
                    'set xlabel "latency, µs"\nset ylabel "fraction of commits"\n'
                    'set key inside bottom right\nset yrange [0:1]\n' %
                    os.path.join(DOCDIR, "bench-subs.png"))
            f.write("plot " + ", ".join(
                '"%s" using 1:($0/%d) with lines lw 2 title "%s"' % (
                    p, sum(1 for _ in open(p)), t) for p, t in subseries) + "\n")
    peer_plots = []
    if PEER_RAN:
        num = {"1k": 1000, "10k": 10000, "100k": 100000, "1M": 1000000}

        def pv(key, sc=1.0):
            m = med(vals(key))
            return "%g" % (m * sc) if m is not None else "NaN"

        with open(os.path.join(dat, "peer.dat"), "w") as f:
            f.write("# K chorus_edit netconfd_edit chorus_getall netconfd_getall chorus_delete "
                    "netconfd_delete (ms) chorusd_hwm netconfd_hwm (MiB)\n")
            for L in PEERS:
                f.write("%s %s %s %s %s %s %s %s %s\n" % (
                    num.get(L, L), pv("pc_edit_wall_ms@" + L), pv("pn_edit_wall_ms@" + L),
                    pv("pc_getall_wall_ms@" + L), pv("pn_getall_wall_ms@" + L),
                    pv("pc_delete_wall_ms@" + L), pv("pn_delete_wall_ms@" + L),
                    pv("pc_delete_hwm_kb@" + L, 1 / 1024), pv("pn_delete_hwm_kb@" + L, 1 / 1024)))
        pd = os.path.join(dat, "peer.dat")
        with open(gp, "a") as f:
            f.write('set output "%s"\nset style data linespoints\nunset logscale\n'
                    'set title "Chorus vs netconfd over SSH: wall time seen by the client '
                    '(median; a missing point: netconfd refused or timed out)"\n'
                    'set logscale xy\nset xlabel "routes in the request / datastore"\n'
                    'set ylabel "ms"\nset yrange [*:*]\nset key outside below\n' %
                    os.path.join(DOCDIR, "bench-peer-times.png"))
            f.write('plot "%s" using 1:2 lw 2 pt 7 lc 1 title "Chorus: edit-config", '
                    '"" using 1:3 lw 2 pt 7 dt 2 lc 1 title "netconfd: edit-config", '
                    '"" using 1:4 lw 2 pt 5 lc 2 title "Chorus: get-config of all", '
                    '"" using 1:5 lw 2 pt 5 dt 2 lc 2 title "netconfd: get-config of all", '
                    '"" using 1:6 lw 2 pt 9 lc 3 title "Chorus: delete of all", '
                    '"" using 1:7 lw 2 pt 9 dt 2 lc 3 title "netconfd: delete of all"\n' % pd)
            f.write('set output "%s"\nset title "Chorus vs netconfd: peak RSS of the server '
                    '(VmHWM, median) after edit-config, get-config and delete of K routes"\n'
                    'set logscale x\nunset logscale y\nset ylabel "MiB"\nset yrange [0:*]\n' %
                    os.path.join(DOCDIR, "bench-peer-memory.png"))
            f.write('plot "%s" using 1:8 lw 2 pt 7 lc 1 title "chorusd", '
                    '"" using 1:9 lw 2 pt 7 dt 2 lc 7 title "netconfd (without its sshd)"\n' % pd)
        peer_plots = ["bench-peer-times.png", "bench-peer-memory.png"]
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode == 0:
        base_plots = ["bench-times.png", "bench-memory.png"] if vals("load_ms@" + BL) else []
        plots = (base_plots + (["bench-latency.png"] if series else [])
                 + (["bench-subs.png"] if subseries else []) + peer_plots)
    else:
        sys.stderr.write("report: gnuplot failed: %s\n" % r.stderr)
if plots:
    w("## Plots")
    w("")
    for p in plots:
        w("![%s](%s)" % (p, p))
        w("")

ONLY = META.get("only", "").split()
if ONLY:
    # BENCH_ONLY: leave out the sections that were not run, and goals without figures
    keep_if = (("## 1. ", ("floor",)), ("## 2. ", ("load",)), ("## 3. ", ("load", "latency")),
               ("## 4. ", ("commits",)), ("## 5. ", ("latency",)), ("## 6. ", ("restart",)))
    out, drop = [], False
    for line in o:
        if line.startswith("## "):
            drop = any(line.startswith(h) and not set(secs) & set(ONLY) for h, secs in keep_if)
            if line.startswith("## Where the time goes") and "profile" not in ONLY:
                drop = True
        if line.startswith("### Goals not reached"):
            drop = False
        if line.startswith("| ") and line.endswith("| – |") and not drop:
            continue  # a goal row without a figure
        if line.startswith("The floor is libyang with glibc") and "floor" not in ONLY:
            continue
        if not drop:
            out.append(line)
    o[:] = out
    o.insert(2, "*This run measured only: %s (`BENCH_ONLY`).*" % ", ".join(ONLY))
    o.insert(3, "")

with open(OUT, "w") as f:
    f.write("\n".join(o).rstrip("\n") + "\n")
