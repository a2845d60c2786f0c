#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kill at every write and fsync point of two-phase commits (jnl.c J2, J3): (g) prepare and
# commit in separate calls -- the record is made durable in prepare, the completion mark in
# its own append -- and (h) a prepared transaction aborted (an abort mark, not synced), then
# another change committed with the same txid. Same procedure and checks as
# t_journal_points.sh, which this runs with these scenarios.
JOURNAL_SCENARIOS="g h"
. "$(dirname "$0")/t_journal_points.sh"
