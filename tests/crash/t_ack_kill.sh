#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Acknowledged commits survive kill -9 (DESIGN.md: the reply is sent only after the commit is
# durable; jnl.c J3). A client commits in a loop through chorusctl -- loads that create two
# routes and change a third in one transaction, sets, deletes -- and records every commit it
# starts and every one acknowledged (exit 0). The daemon is killed with SIGKILL at a random
# moment; after the restart every acknowledged change must be there, the one in flight wholly
# present or wholly absent, and the txid must count exactly the commits present. Some rounds
# run with the smallest compaction threshold, so that kills also land during compaction.
# Finally the daemon is killed right after a commit returned, once for each kind of commit.
# CHORUS_SEED=N repeats a run's kill moments.
. "$(dirname "$0")/crashlib.sh"

SEED=${CHORUS_SEED:-$$}
RANDOM=$SEED
ROUNDS_PLAIN=5
ROUNDS_COMPACT=5
small_conf "$T/small.conf"

# The model: running as {id: [leaf1..leaf4]}, updated round by round from what the client
# logged; the actual data must be the model with the acknowledged commits applied, and with or
# without the one in flight.
cat >"$T/model.py" <<'EOF'
import json, sys, xml.etree.ElementTree as ET

model_file, log_file, save_file, txid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
st = json.load(open(model_file))
routes = {k: v for k, v in st["routes"].items()}

def apply(r, i):
    r = dict(r)
    if i % 3 == 1:  # load: two new routes, leaf3 of a base route
        for rid in (1000000 + 2 * i, 1000001 + 2 * i):
            v = (rid * 7) % 1000000
            r["%07d" % rid] = [v, v + 1, v + 2, v + 3]
        k = "%07d" % (i % 20 + 1)
        r[k] = r[k][:2] + [i] + r[k][3:]
    elif i % 3 == 2:  # set leaf2 of a base route
        k = "%07d" % ((i * 7) % 20 + 1)
        r[k] = r[k][:1] + [500000 + i] + r[k][2:]
    else:  # delete the first route of the load two commits earlier
        del r["%07d" % (1000000 + 2 * (i - 2))]
    return r

begun, acked, errors = [], [], []
for line in open(log_file):
    w = line.split()
    if w[0] == "begin":
        begun.append(int(w[1]))
    elif w[0] == "ack":
        acked.append(int(w[1]))
    elif w[0] == "error":
        errors.append(line.strip())
if errors:
    sys.exit("a commit failed while the daemon was alive: " + "; ".join(errors))
inflight = [i for i in begun if i not in acked]
if len(inflight) > 1 or (inflight and inflight[0] != begun[-1]):
    sys.exit("client log out of order: begun %s acked %s" % (begun, acked))
for i in acked:
    routes = apply(routes, i)
e0 = routes
e1 = apply(routes, inflight[0]) if inflight else None

ns = "{urn:chorus:example:routes}"
actual = {}
text = open(save_file).read()
if text.strip():
    root = ET.fromstring(text)
    for r in root.iter(ns + "route"):
        actual[r.find(ns + "id").text] = [int(r.find(ns + "leaf%d" % n).text) for n in (1, 2, 3, 4)]
t0 = st["txid"] + len(acked)
if actual == e0 and txid == t0:
    outcome = "absent" if inflight else "none in flight"
    new = e0
elif e1 is not None and actual == e1 and txid == t0 + 1:
    outcome, new = "present", e1
else:
    def diff(e):
        ks = sorted(set(e) | set(actual))
        return [(k, e.get(k), actual.get(k)) for k in ks if e.get(k) != actual.get(k)][:5]
    sys.exit("recovered data is not the acknowledged commits%s: txid %d (expected %d%s); "
             "differences from acknowledged-only: %s%s" % (
                 " plus or minus the one in flight (%d)" % inflight[0] if inflight else "",
                 txid, t0, " or %d" % (t0 + 1) if inflight else "", diff(e0),
                 "; from with-in-flight: %s" % diff(e1) if e1 is not None else ""))
json.dump({"routes": new, "txid": txid}, open(model_file, "w"))
print("%d acknowledged, in flight: %s" % (len(acked), "%d %s" % (inflight[0], outcome)
                                           if inflight else outcome))
EOF

op_run() {
    local i=$1 k
    case $((i % 3)) in
    1)
        k=$((i % 20 + 1))
        {
            printf '<active-cfg xmlns="urn:chorus:example:routes"><routes>'
            printf '<route><id>%07d</id><leaf3>%d</leaf3></route>' "$k" "$i"
            route_xml $((1000000 + 2 * i)) | sed 's/.*<routes>//; s/<\/routes>.*//'
            route_xml $((1000001 + 2 * i)) | sed 's/.*<routes>//; s/<\/routes>.*//'
            printf '</routes></active-cfg>\n'
        } >"$T/op.xml"
        ctl n0 load "$T/op.xml"
        ;;
    2) ctl n0 set "${RT}[id='$(printf %07d $((i * 7 % 20 + 1)))']/leaf2" $((500000 + i)) ;;
    0) ctl n0 delete "${RT}[id='$(printf %07d $((1000000 + 2 * (i - 2))))']" ;;
    esac
}

# The client: commits from I on until one fails; a failure before $T/killed exists is an error.
client() {
    local i=$1 rc
    while :; do
        echo "begin $i" >>"$T/client.log"
        op_run "$i" >"$T/client.out" 2>&1
        rc=$?
        if [ "$rc" = 0 ]; then
            echo "ack $i" >>"$T/client.log"
        elif [ -e "$T/killed" ]; then
            echo "fail $i $rc" >>"$T/client.log"
            return
        else
            echo "error $i $rc $(tr '\n' ' ' <"$T/client.out")" >>"$T/client.log"
            return
        fi
        i=$((i + 1))
    done
}

verify() {
    state n0 "$T/cur"
    /usr/bin/python3 -S "$T/model.py" "$T/model.json" "$T/client.log" "$T/cur" "$(cat "$T/cur.txid")" ||
        die "$1: acknowledged commits and the recovered database differ (seed $SEED)"
}

# base: 20 routes
node_up n0
routes_gen 20 >"$T/r20.xml"
ok ctl n0 load "$T/r20.xml"
/usr/bin/python3 -S -c '
import json
print(json.dumps({"routes": {"%07d" % i: [i * 7, i * 7 + 1, i * 7 + 2, i * 7 + 3] for i in range(1, 21)}, "txid": 1}))' >"$T/model.json"

next=1
summary=()
for ((round = 1; round <= ROUNDS_PLAIN + ROUNDS_COMPACT; round++)); do
    if [ "$round" -gt "$ROUNDS_PLAIN" ]; then
        export NODE_CONF=$T/small.conf
    fi
    rm -f "$T/killed" "$T/client.log"
    : >"$T/client.log"
    client "$next" &
    cpid=$!
    PIDS+=("$cpid")
    # the kill comes at a random moment after the first acknowledged commit of the round
    for ((i = 0; i < 3000; i++)); do
        grep -q '^ack' "$T/client.log" && break
        kill -0 "$cpid" 2>/dev/null || break
        sleep 0.01
    done
    delay=$(printf '0.%03d' $((RANDOM % 1000)))
    sleep "$delay"
    touch "$T/killed"
    node_crash n0
    orphan=$(lock_holders "$T/n0/LOCK")
    wait "$cpid"
    grep -q '^ack' "$T/client.log" || die "round $round: no commit acknowledged: $(cat "$T/client.log" "$T/client.out")"
    wait_unlocked "$T/n0"
    node_up n0
    line=$(verify "round $round") || exit 1
    summary+=("round $round (kill ${delay}s after the first reply$([ "$round" -gt "$ROUNDS_PLAIN" ] && echo ", threshold 4096")$([ -n "$orphan" ] && echo ", snapshot writer alive")): $line")
    last=$(awk '$1 == "begin" { i = $2 } END { print i }' "$T/client.log")
    next=$((last + 1))
    while [ $((next % 3)) != 1 ]; do
        next=$((next + 1))
    done
done
[ "$(status_of n0 snapshot_txid)" -gt 0 ] || die "the compaction rounds did not compact"

# kill -9 right after a commit returned: a load, a set, a delete
for ((i = next; i < next + 3; i++)); do
    : >"$T/client.log"
    echo "begin $i" >>"$T/client.log"
    op_run "$i" >"$T/last.out" 2>&1 || die "commit $i: $(cat "$T/last.out")"
    echo "ack $i" >>"$T/client.log"
    node_crash n0
    wait_unlocked "$T/n0"
    node_up n0
    line=$(verify "kill right after commit $i") || exit 1
    summary+=("kill right after commit $i returned: $line")
done
node_down n0
printf 'ack-kill: %s\n' "${summary[@]}"
echo "ack-kill: $ROUNDS_PLAIN + $ROUNDS_COMPACT rounds and 3 kills after a reply, all acknowledged commits present (seed $SEED)"
pass
