#!/usr/bin/env bash
# The operator's contract of the devstate binary (DESIGN.md §8), black-box.
# usage: cli_test.sh DEVSTATE_BINARY SOURCE_DIR
set -uo pipefail
bin=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }

out=$("$bin" --version); check "--version prints the version" '[[ "$out" =~ ^devstate\ [0-9]+\.[0-9]+\.[0-9]+$ ]]'
out=$("$bin" --help); rc=$?
check "--help exits 0" '[ $rc = 0 ]'
check "--help lists store.dir with its default" 'grep -q -- "--store.dir.*./data" <<<"$out"'

out=$("$bin" --config-reference)
check "docs/CONFIG.md is generated from the config table" 'diff <(echo "$out") "$src/docs/CONFIG.md" >/dev/null'

printf '[store]\nnope = 1\n' >"$work/bad.toml"
err=$("$bin" --config "$work/bad.toml" 2>&1); rc=$?
check "unknown key: non-zero exit" '[ $rc != 0 ]'
check "unknown key: one line naming it" '[ "$(wc -l <<<"$err")" = 1 ] && grep -q "unknown key .store.nope." <<<"$err"'
err=$("$bin" --store.max_group_mutations=0 2>&1); rc=$?
check "out-of-bounds value: non-zero exit, one line" '[ $rc != 0 ] && [ "$(wc -l <<<"$err")" = 1 ]'
echo x >"$work/file"
err=$("$bin" --store.dir="$work/file/db" --mqtt.broker= 2>&1); rc=$?
# Exit status 2, not a signal's 128+n: a failed open once crashed on its way out.
check "unusable store: exit 2, one line naming the directory" \
  '[ $rc = 2 ] && [ "$(wc -l <<<"$err")" = 1 ] && grep -q "$work/file/db.*Not a directory" <<<"$err"'
/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' \
  >"$work/taken" &
holder=$!
for _ in $(seq 200); do [ -s "$work/taken" ] && break; sleep 0.05; done
taken=$(cat "$work/taken")
err=$("$bin" --store.dir="$work/db-busy" --resp.port="$taken" --http.port=0 --mqtt.broker= 2>&1); rc=$?
check "RESP port in use: exit 2, saying so" \
  '[ $rc = 2 ] && grep -q "cannot listen for RESP on 127.0.0.1:$taken: Address already in use" <<<"$err"'
err=$("$bin" --store.dir="$work/db-busy" --http.port="$taken" --resp.port=0 --mqtt.broker= 2>&1); rc=$?
check "HTTP port in use: exit 2, saying so" \
  '[ $rc = 2 ] && grep -q "cannot listen for HTTP on 127.0.0.1:$taken: Address already in use" <<<"$err"'
kill "$holder"

# Clean stop on SIGTERM and on SIGINT, with the file and an override both applied.
printf '[store]\ndir = "%s/from-file"\n' "$work" >"$work/ok.toml"
for sig in TERM INT; do
  "$bin" --config "$work/ok.toml" --store.dir="$work/new/db-$sig" >"$work/log-$sig" 2>&1 &
  pid=$!
  for _ in $(seq 200); do grep -q ready "$work/log-$sig" && break; sleep 0.05; done
  check "SIGTERM/INT: ready ($sig)" 'grep -q ready "$work/log-$sig"'
  names=$(cat /proc/"$pid"/task/*/comm 2>/dev/null | sort -u | tr '\n' ' ')
  check "threads are named ($sig): $names" \
    '(for t in ds-committer ds-resp ds-http ds-expiry; do grep -qw "$t" <<<"$names" || exit 1; done)'
  kill -"$sig" "$pid"
  wait "$pid"; rc=$?
  check "SIG$sig: exit 0" '[ $rc = 0 ]'
  check "SIG$sig: command line overrides the file, its missing parent made" '[ -d "$work/new/db-$sig" ] && [ ! -d "$work/from-file" ]'
done

[ "$fails" = 0 ]
