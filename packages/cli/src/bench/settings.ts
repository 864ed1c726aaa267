/**
 * `kiln bench`'s flags: parsed, checked, and turned into the settings of one run. A bad flag is
 * a {@link BenchUsageError} naming it, printed as one line.
 */
import { parseArgs } from 'node:util';
import { APPEND_FRAME_HEADROOM_BYTES, ConfigError, defaultConnectionLimits } from '@kiln/core';
import { checkUrl, DEFAULT_CONFIG } from '../config.js';

/** How the streams of one transaction are chosen. */
export type BenchShape = 'single' | 'multi' | 'cross-stripe';
const SHAPES: readonly BenchShape[] = ['single', 'multi', 'cross-stripe'];

export interface BenchSettings {
  /** Client URLs given with `--url` (or the default server's); empty when `config` names the cluster. */
  urls: string[];
  /** A cluster (or single-server) file whose servers' URLs the clients dial. */
  config: string | undefined;
  clients: number;
  /** Transactions each client keeps outstanding. */
  inFlight: number;
  /** Bytes of each event's data. */
  eventSize: number;
  /** Streams the run writes to. */
  streams: number;
  /** Streams one transaction writes, one event each: 1 for `single`. */
  txStreams: number;
  shape: BenchShape;
  durationMs: number;
  json: boolean;
}

/** The largest frame a server takes: a transaction's request, all its events in it, must fit. */
const FRAME_BYTES_MAX = defaultConnectionLimits.frameBytesMax;
/**
 * What one stream's append adds to a request besides its event's data, with room to spare: the
 * stream name (the run's prefix and a number), the event's id and type, and MessagePack headers
 * come to under 200 bytes; the request's own head (id, client id, seq) is under 100.
 */
const APPEND_ENVELOPE_BYTES = 1024;

/**
 * The largest `--event-size` whose transactions (one event on each of `txStreams` streams) fit a
 * frame, their log record leaving room for the message that ships it to the mirrors.
 */
export function largestEventSize(txStreams: number): number {
  return Math.floor((FRAME_BYTES_MAX - APPEND_FRAME_HEADROOM_BYTES) / txStreams) - APPEND_ENVELOPE_BYTES;
}

/** A flag `kiln bench` cannot run with. */
export class BenchUsageError extends Error {}

export const BENCH_USAGE = `usage: kiln bench [--url URL]... | [--config FILE] [options]
  Runs a load against a running Kiln server or cluster and reports appends/s, transactions/s and
  latency percentiles. Each event goes to a stream of this run's own (named bench-<run id>-...),
  with expectedVersion 'any'.

  --url URL           a server to dial (repeat for a group's servers); default ${DEFAULT_CONFIG.listen[0]}
  --config FILE       dial the servers of this cluster (or single-server) file instead
  --clients C         client connections                                   (default 8)
  --in-flight P       transactions each client keeps outstanding, 1..1024   (default 32)
  --event-size B      bytes of data per event                               (default 100)
                      a transaction's events fit one ${FRAME_BYTES_MAX}-byte frame: at most
                      ${largestEventSize(1)} with one stream per transaction, less with --tx-streams
  --streams S         streams written to                                    (default 1000)
  --duration SECONDS  length of the run                                     (default 10)
  --shape SHAPE       single:       one stream per transaction              (default single)
                      multi:        --tx-streams streams of one stripe per transaction (a hash tag)
                      cross-stripe: --tx-streams streams on as many different stripes per transaction
  --tx-streams N      streams per transaction for multi and cross-stripe    (default 2)
  --json              print the result as one JSON object instead of a table
  -h, --help          print this
  A progress line goes to stderr every second. Exit status: 0 when every transaction was
  acknowledged, 1 when any failed, 2 for a bad flag, 3 for a bad config file, 5 when no server
  answered (as every kiln command: kiln help).`;

/** The most transactions a client keeps outstanding: the client's own cap on requests in flight. */
const IN_FLIGHT_MAX = 1024;

const OPTIONS = {
  url: { type: 'string', multiple: true },
  config: { type: 'string' },
  clients: { type: 'string' },
  'in-flight': { type: 'string' },
  'event-size': { type: 'string' },
  streams: { type: 'string' },
  duration: { type: 'string' },
  shape: { type: 'string' },
  'tx-streams': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * `--clients -1` as `--clients=-1`: parseArgs refuses a value that starts with '-' as ambiguous; a
 * negative number after a flag that takes a value is that value, which its range check then names.
 */
function valuesAttached(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!;
    const next = args[i + 1];
    const takesValue = flag.startsWith('--') && OPTIONS[flag.slice(2) as keyof typeof OPTIONS]?.type === 'string';
    if (takesValue && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${flag}=${next}`);
      i++;
    } else {
      out.push(flag);
    }
  }
  return out;
}

/** The settings of `args`, or 'help'. @throws BenchUsageError naming the flag */
export function parseBenchArgs(args: readonly string[]): BenchSettings | 'help' {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: valuesAttached(args), options: OPTIONS }));
  } catch (error) {
    // parseArgs' own message names the flag ("Unknown option '--x'", "Option '--clients <value>' argument missing").
    throw new BenchUsageError((error as Error).message.split('\n')[0]!);
  }
  if (values.help) return 'help';
  const urls = (values.url as string[] | undefined) ?? [];
  const config = values.config as string | undefined;
  if (urls.length > 0 && config !== undefined) throw new BenchUsageError('--url and --config do not go together');
  const shape = (values.shape as string | undefined) ?? 'single';
  if (!SHAPES.includes(shape as BenchShape)) throw new BenchUsageError(`--shape must be one of ${SHAPES.join(', ')}, not '${shape}'`);
  const txStreams = shape === 'single' ? 1 : integer(values, 'tx-streams', 2, 2, 1000);
  const settings: BenchSettings = {
    urls: config !== undefined ? [] : urls.length > 0 ? urls.map((url, i) => checkedUrl(url, i)) : [DEFAULT_CONFIG.listen[0]!],
    config,
    clients: integer(values, 'clients', 8, 1, 10_000),
    inFlight: integer(values, 'in-flight', 32, 1, IN_FLIGHT_MAX),
    // Refused here, not by the server on every append of the run.
    eventSize: integer(values, 'event-size', 100, 0, largestEventSize(txStreams), `a transaction's ${txStreams === 1 ? 'event' : `${txStreams} events`} must fit the server's frame limit of ${FRAME_BYTES_MAX} bytes`),
    streams: integer(values, 'streams', 1000, 1, 100_000_000),
    txStreams,
    shape: shape as BenchShape,
    durationMs: seconds(values, 'duration', 10) * 1000,
    json: values.json === true,
  };
  if (shape === 'single' && values['tx-streams'] !== undefined) throw new BenchUsageError('--tx-streams goes with --shape multi or cross-stripe');
  if (settings.streams < settings.txStreams) throw new BenchUsageError(`--streams must be at least --tx-streams (${settings.txStreams})`);
  return settings;
}

function checkedUrl(url: string, index: number): string {
  try {
    return checkUrl(url, `--url[${index}]`);
  } catch (error) {
    if (error instanceof ConfigError) throw new BenchUsageError(error.message);
    throw error;
  }
}

/** The integer `--flag` gives, `fallback` without it; `why` says what sets `max`. */
function integer(values: Record<string, unknown>, flag: string, fallback: number, min: number, max: number, why?: string): number {
  const text = values[flag];
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(String(text)) || n < min || n > max) throw new BenchUsageError(`--${flag} must be an integer from ${min} to ${max}, not '${String(text)}'${why ? `: ${why}` : ''}`);
  return n;
}

function seconds(values: Record<string, unknown>, flag: string, fallback: number): number {
  const text = values[flag];
  if (text === undefined) return fallback;
  const n = Number(text);
  if (String(text).trim() === '' || !Number.isFinite(n) || n <= 0 || n > 86_400) throw new BenchUsageError(`--${flag} must be a number of seconds above 0, at most 86400, not '${String(text)}'`);
  return n;
}
