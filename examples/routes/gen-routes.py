#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Generate routes for the routes example.

usage: gen-routes.py N [--start K] [--seed S] [--format xml|json] [--edit-config]

N routes with ids K..K+N-1 (7 digits); leaf values derived from the id and SEED, so that two
nodes seeded differently hold visibly different data. --edit-config wraps the XML in a
NETCONF <config> element.
"""
import argparse
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("n", type=int)
    p.add_argument("--start", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--format", choices=("xml", "json"), default="xml")
    p.add_argument("--edit-config", action="store_true")
    a = p.parse_args()
    if a.n < 0 or a.start < 0 or a.start + a.n > 10_000_000:
        sys.exit("gen-routes: ids must stay within 7 digits")
    out = sys.stdout
    w = out.write
    if a.format == "json":
        w('{"routes:active-cfg":{"routes":{"route":[')
        for i in range(a.start, a.start + a.n):
            v = (i * 7 + a.seed) % 1000000
            w('%s{"id":"%07d","leaf1":%d,"leaf2":%d,"leaf3":%d,"leaf4":%d}'
              % ("," if i != a.start else "", i, v, v + 1, v + 2, v + 3))
        w("]}}}\n")
        return
    if a.edit_config:
        w('<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">')
    w('<active-cfg xmlns="urn:chorus:example:routes"><routes>\n')
    chunk = []
    for i in range(a.start, a.start + a.n):
        v = (i * 7 + a.seed) % 1000000
        chunk.append("<route><id>%07d</id><leaf1>%d</leaf1><leaf2>%d</leaf2><leaf3>%d</leaf3>"
                     "<leaf4>%d</leaf4></route>\n" % (i, v, v + 1, v + 2, v + 3))
        if len(chunk) == 10000:
            w("".join(chunk))
            chunk = []
    w("".join(chunk))
    w("</routes></active-cfg>")
    if a.edit_config:
        w("</config>")
    w("\n")


if __name__ == "__main__":
    main()
