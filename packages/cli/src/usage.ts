/**
 * The usage text of `kiln`: every command with its flags and what it does. `kiln help` prints it,
 * and a command's help is cut from it (help.ts), so the two never disagree.
 */
export const USAGE = `usage:
  kiln start [--memory] [--data DIR] [--listen URL]... [--name NAME] [--config FILE]
             [--tls-cert FILE --tls-key FILE [--tls-ca FILE]] [--http URL] [--ws-origins LIST]
             [--log-format text|json]
      Runs one server in the foreground. Default: restartable mode, LevelDB under ./kiln-data,
      listening on tcp://127.0.0.1:7410 and ws://127.0.0.1:7411. SIGINT or SIGTERM shuts it
      down cleanly. --tls-cert and --tls-key (PEM files) let it listen on tls:// and wss://.
  kiln start --config CLUSTER-FILE --server NAME [--join] [--http URL] [--ws-origins LIST]
             [--log-format text|json]
      Runs server NAME of the cluster file, in its stripe (mirror group). With --join it is a new
      server for a running group: it waits, outside the in-sync set, for kiln admin add-mirror.
  kiln voter --config CLUSTER-FILE --name NAME [--http URL] [--log-format text|json]
      Runs voter NAME: it holds no log, and votes in the elections of every stripe.
  --log-format text|json (start, voter)
      How the member logs to stderr: lines of text (the default), or one JSON object per line,
      { time, level, member, msg, ...fields }, for a log shipper.
  --ws-origins LIST (start)
      Web pages the server's ws:// and wss:// listeners let in besides those they always do
      (below), as origins, comma-separated: https://app.example.com,https://ops.example.com, or *
      for every page. Over KILN_WS_ORIGINS, which is over the server's "wsOrigins" in the file.
  kiln certs --config CLUSTER-FILE --out DIR
      Writes a development CA (DIR/ca.pem, DIR/ca-key.pem) and, for every server and voter, a
      certificate named after it (DIR/NAME.pem, DIR/NAME-key.pem), for trying TLS and mutual
      TLS; see docs/security.md for real certificates. Never overwrites a file.
  --http URL (start, voter)
      Serves health (/health/live, /health/ready), Prometheus metrics (/metrics) and the live
      status page of the whole cluster (/) on URL, e.g. http://127.0.0.1:7412; over the file's
      "http" address. https://HOST:PORT serves with the member's own certificate (its tls). With
      the cluster's auth, all but the health probes ask for credentials (HTTP Basic with a user's
      password, or Bearer with a token) of a role with read on "*". An address beyond loopback
      needs both https and auth.
  kiln admin add-mirror --config CLUSTER-FILE --name NAME [--stripe STRIPE] [--wait]
      Adds server NAME (its addresses from the cluster file) to its running stripe, without
      pausing the active. --wait prints its catch-up progress until it is in sync (at most 1 h).
      With several stripes, --stripe names the server's stripe.
  kiln admin remove-mirror --config CLUSTER-FILE --name NAME [--stripe STRIPE]
      Removes mirror NAME from its running stripe; it then takes no part.
  kiln backup --config CLUSTER-FILE [--stripe STRIPE] --out FILE [--from-lsn N] [--from-mirror [NAME]]
              [--max-rate MIB]
  kiln backup --url URL --out FILE [--from-lsn N] [--from-mirror [NAME]] [--max-rate MIB]
      Copies the stripe's committed log, as stored, from its active (or the lone server at URL)
      into FILE while it keeps serving: every record from LSN 1 (or N, an incremental backup
      after one that ended at N-1) through the commit index when the backup starts. Written to
      FILE.partial, renamed to FILE once whole; never overwrites FILE. Prints a progress line a
      second on stderr. With auth it needs a user or token with admin on "*".
      --from-mirror reads the records from mirror NAME (or any mirror the active names in sync)
      instead of the active, which then only says where the range ends: the same file, but for
      the header's server. The backup fails if that mirror is not in sync, or restarts or
      leaves the in-sync set before it is done. --max-rate copies at most MIB MiB a second
      (0.5 will do; at least 0.03125), so that the server read from keeps time for its clients.
  kiln restore --in FILE [FILE...] --data-dir DIR
      Checks a full backup and the incremental ones after it (headers, every record's CRC,
      trailers, LSNs joining up) and writes their records into DIR, new or empty, for a server
      to start on: alone (kiln start --data DIR) or as a new mirror of the group (its dataDir in
      the cluster file; kiln start --join, then kiln admin add-mirror). See docs/operations.md.
  kiln status [URL] [--config CLUSTER-FILE] [--json]
      Prints a server's state, term, LSN, commit index and connections, and for a group member
      the active, the in-sync set and each mirror's lag (default URL tcp://127.0.0.1:7410).
      With --config and a URL, that server is dialled trusting the cluster file's CA.
  kiln status --config CLUSTER-FILE [--json]
      Asks every server and voter of the cluster and prints one block per stripe (its active and
      term; each member's state, term, last LSN, lag behind the active, and whether the active
      counts it in sync), then each voter, reachable or not, with its term in each stripe (--json:
      voters [{ name, reachable, term, terms }], term the first stripe's, terms by stripe name).
      When no server or voter answers, it exits 5 after the table.
  kiln diverged [URL] [--config CLUSTER-FILE] [--json]
      Prints the transactions a server gave up to follow a newer active after a partition
      (failoverPriority 'availability'), and the decisions operators forced on transactions in
      doubt (kiln txn resolve), oldest first; --json prints one object per line. With --config,
      a tls:// or wss:// URL is trusted by the cluster file's CA.
  kiln stripe-of STREAM --config CLUSTER-FILE [--json]
      Prints the slot of stream STREAM and the stripe that holds it in that cluster, as
      'slot 1234 stripe bravo'; --json prints { stream, slot, stripe }. For a name that starts
      with '-', put the options first and -- before the name.
  kiln txn list --config CLUSTER-FILE [--json]
      Asks every stripe's active for the transactions over several stripes open on it, and
      prints one row per transaction: its coordinator and participants, 'deciding' (its
      coordinator has not decided) or 'prepared' (only participants hold parts), its age, the
      stripes holding a prepared part, and whether it is in doubt (its coordinator unreachable for
      longer than txnTimeoutMs). --json prints an array ([] when none is open). Exits 5 when no
      stripe's active answers.
  kiln txn resolve TXN --abort|--commit --config CLUSTER-FILE
      The way out for transaction TXN in doubt, its coordinator's stripe lost for good: every
      stripe's active holding a prepared part of it asks the coordinator once more, and if it
      still cannot, ends the part with the forced decision and keeps that in its diverged report.
      Prints what each stripe did; fails when no stripe holds a part of TXN.
  kiln verify --config CLUSTER-FILE [--stripe STRIPE] [--from-lsn N] [--json]
      Checks, while the stripes serve, that every server of each stripe (or of STRIPE) holds the
      same records as the others, each passing its CRC: from LSN N (default 1) to the active's
      commit index, in ranges of 100,000 records, narrowing a difference down to its first LSN.
      Where the servers disagree, the copy more than half of the stripe's servers hold is right,
      the active's or not. Prints per server OK, DAMAGED at LSN x, DIFFERS from the active (or the majority) from
      LSN y, DIFFERS with no majority to tell which is right, or UNREACHABLE, with a progress line
      on stderr every 2 s; exits 6 when a server is damaged or differs, 5 when one could not be
      checked. --json prints { stripes: [{ name, active, term, fromLsn, throughLsn, servers:
      [{ name, result, active, checkedThroughLsn, damagedLsn, differsFromLsn, majority, detail }]
      }] }. Needs admin on "*" in a cluster with auth.
  kiln passwd
      Reads a password from standard input (on a terminal, asks for it without echo) and prints
      its scrypt hash, for a user's passwordHash in the cluster file's auth section.
  kiln token [--json]
      Prints a new random token, once, and its hash, for a token's tokenHash in the cluster
      file's auth section; the token itself is kept nowhere.
  kiln bench [--url URL]... | [--config FILE] [--clients C] [--in-flight P] [--event-size B]
             [--streams S] [--duration SECONDS] [--shape single|multi|cross-stripe] [--json]
      Runs a load against a running server or cluster: a progress line every second, then
      appends/s, transactions/s and p50/p99/p99.9 latency. kiln bench --help for every option.

  TLS: status, diverged, admin, txn, backup and verify trust the CA of the cluster file's top-level tls section
  when they dial a tls:// or wss:// address. Each also takes --tls-cert FILE --tls-key FILE, a
  certificate from that CA to present where a port requires one: under mutual TLS, a voter's
  peer address, where kiln status --config asks it, takes only a certificate naming a member.

  Credentials: for a cluster with auth, status, diverged, admin, txn, backup and verify take --user NAME, with
  the password in the environment variable KILN_PASSWORD or, with --password-stdin, on standard
  input; without --user, a token in KILN_TOKEN. Never a password on the command line.

  Web pages: a ws:// or wss:// listener lets in pages served from the host they dial when that
  is an IP address, or this machine's, and refuses others (403). More are let in by kiln start
  --ws-origins LIST, else the environment variable KILN_WS_ORIGINS (the same list), else the
  server's "wsOrigins" in the cluster file: the first of them given wins.

  kiln help [COMMAND], kiln COMMAND --help: this text, or a command's part of it. kiln alone
  prints this text on stderr and exits 2, as an unknown command does (naming the nearest one).
  kiln --version: the version, as 'kiln 1.2.3'.`;
