#!/usr/bin/env bash
# Starts every server and voter of a cluster file in the background, prints where each listens,
# and stops them again by the pids it wrote.
#
#   examples/cluster.sh start examples/two-servers-voter.json
#   examples/cluster.sh stop examples/two-servers-voter.json
#
# Logs and the pid file go to $KILN_RUN_DIR (default: examples/run/), one log per member.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kiln="$here/../packages/cli/bin/kiln.mjs"
action="${1:-}"
file="${2:-}"
if [[ "$action" != start && "$action" != stop ]] || [[ -z "$file" ]]; then
  echo "usage: $0 start|stop CLUSTER-FILE" >&2
  exit 2
fi
[[ -f "$file" ]] || { echo "$0: no such file: $file" >&2; exit 3; }
run="${KILN_RUN_DIR:-$here/run}"
pids="$run/$(basename "$file" .json).pids"

if [[ "$action" == stop ]]; then
  [[ -f "$pids" ]] || { echo "$0: nothing started from $file ($pids missing)" >&2; exit 1; }
  while read -r name pid; do
    if kill -TERM "$pid" 2>/dev/null; then
      # Wait for the clean shutdown: at most 10 s, then SIGKILL.
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
      echo "stopped $name (pid $pid)"
    fi
  done <"$pids"
  rm -f "$pids"
  exit 0
fi

[[ ! -f "$pids" ]] || { echo "$0: already started ($pids exists); run: $0 stop $file" >&2; exit 4; }
mkdir -p "$run"
# One line per member: "server NAME" or "voter NAME".
members=$(node -e '
  const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const servers = c.servers ?? c.stripes.flatMap((s) => s.servers);
  for (const s of servers) console.log(`server ${s.name}`);
  for (const v of c.voters ?? []) console.log(`voter ${v.name}`);
' "$file")
: >"$pids"
while read -r kind name; do
  log="$run/$name.log"
  # Emptied here, not by the member's own redirect, which may come after the wait below reads it:
  # an earlier run's "listening on" would be reported for a member not listening yet.
  : >"$log"
  if [[ "$kind" == server ]]; then
    node "$kiln" start --config "$file" --server "$name" >"$log" 2>&1 &
  else
    node "$kiln" voter --config "$file" --name "$name" >"$log" 2>&1 &
  fi
  echo "$name $!" >>"$pids"
done <<<"$members"
# Each member says where it listens once it does; a member that exits shows its log.
while read -r name pid; do
  for _ in $(seq 200); do
    grep -q "listening on" "$run/$name.log" && break
    kill -0 "$pid" 2>/dev/null || { echo "$name (pid $pid) exited:" >&2; cat "$run/$name.log" >&2; "$0" stop "$file" >/dev/null; exit 1; }
    sleep 0.1
  done
  echo "$name (pid $pid): $(grep -m1 -o 'listening on .*' "$run/$name.log")"
done <"$pids"
echo "logs in $run; stop with: $0 stop $file"
