#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Errors at the C API (api_client errors): the error codes of bad values, bad paths, existing
# and missing nodes, read-only transactions and failed validation, with the path in the error
# details; a transaction whose validation failed stays open, is fixed and commits.
. "$(dirname "$0")/../lib.sh"

node_start n0
api n0 errors >/dev/null || die "errors: $(tail -n 5 "$T/api-errors.out")"
node_stop n0
clean_exit "$T/n0.out"
pass
