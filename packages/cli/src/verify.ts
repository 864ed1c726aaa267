/**
 * `kiln verify --config CLUSTER-FILE [--stripe S] [--from-lsn N] [--json]`: an online check that
 * the servers of each stripe hold the same log, and an undamaged one. Every server, active or
 * mirror, digests its own stored records (checking each record's CRC) in ranges of
 * `RANGE_DIGEST_RECORDS_MAX` records, from `--from-lsn` up to the active's commit index (the
 * lowest LSN every in-sync server holds); a range whose digest differs from the active's is halved
 * until the first differing LSN is found. LevelDB does not notice a flipped bit in an old table
 * file, and a mirror holding one stays in the in-sync set, ready to become the active with it: this
 * finds it while the stripe serves. When the servers disagree, the copy more than half of them hold
 * is taken as right, not the active's: an active that differs (the survivor of a split brain, one
 * restored from the wrong backup) is the one reported, never the mirrors that outvote it.
 */
import { ConfigError, ConnectionClosedError, ConnectionRefusedError, RANGE_DIGEST_RECORDS_MAX, TimeoutError, stripesOf, type ClusterConfig, type ServerConfig, type StripeConfig } from '@kiln/core';
import { connect, type KilnClient, type RangeDigest, type ServerStatus } from '@kiln/core/client';
import { EXIT, UsageError } from './exit-codes.js';
import { digestOf, firstDifference } from './verify-compare.js';
import { groupByDigest, majorityOf } from './verify-majority.js';
import type { Dial } from './transports.js';

export interface VerifyOptions {
  config: ClusterConfig;
  dial: Dial;
  /** One stripe, by name; all when undefined. */
  stripe: string | undefined;
  /** The first LSN to check. @default 1 */
  fromLsn: number;
  json: boolean;
}

/** What `kiln verify` found of one server (one entry of `--json`'s `servers`). */
export interface ServerVerdict {
  name: string;
  /**
   * `ok`: its records match the active's (or, when the active differs, the majority's) and pass
   * their CRCs; `damaged`: a record fails its CRC (at `damagedLsn`); `differs`: its records differ
   * from the majority's from `differsFromLsn` (the active being one of it, or not), or, when there
   * is no majority, it is one of the servers that differ from `differsFromLsn`, the first LSN any
   * two of them do; `unreachable`: it did not answer, or the stripe had no active to compare it
   * with (`detail`).
   */
  result: 'ok' | 'damaged' | 'differs' | 'unreachable';
  active: boolean;
  /** The last LSN checked on it; null when nothing was. */
  checkedThroughLsn: number | null;
  damagedLsn: number | null;
  differsFromLsn: number | null;
  /**
   * Set once the servers checked over a range did not all hold the same records: the names of those
   * holding the copy that more than half of the stripe's servers hold (each holding the range whole
   * and undamaged), this server among them or differing from them; `[]` when no copy has such a majority.
   * null while every server agrees with the active.
   */
  majority: string[] | null;
  detail: string | null;
}

/** One stripe (an entry of `--json`'s `stripes`). */
export interface StripeVerdict {
  name: string;
  active: string | null;
  term: number | null;
  /** The range checked: `fromLsn..throughLsn` (the active's commit index when the check began). */
  fromLsn: number;
  throughLsn: number | null;
  servers: ServerVerdict[];
}

/** How often a long check prints its progress, ms. */
const PROGRESS_EVERY_MS = 2000;
/** How long one server may take to answer one request (a range of records is read from its disk). */
const ANSWER_WITHIN_MS = 120_000;

/** The first LSN to check, from `--from-lsn`. @throws UsageError when it is not a positive integer */
export function fromLsnFlag(text: string | undefined): number {
  if (text === undefined) return 1;
  const lsn = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(lsn) || lsn < 1) throw new UsageError(`--from-lsn needs a positive integer, not '${text}'`);
  return lsn;
}

/**
 * Checks every stripe (or one), prints a verdict per server (text or JSON on `print`, progress on
 * `progress`), and returns the exit code: 0 when all agree, `EXIT.mismatch` when a server is
 * damaged or differs, `EXIT.unreachable` when, short of that, a server could not be checked.
 */
export async function runVerify(options: VerifyOptions, print: (line: string) => void, progress: (line: string) => void): Promise<number> {
  const stripes = stripesOf(options.config).filter((s) => options.stripe === undefined || s.name === options.stripe);
  if (stripes.length === 0) throw new ConfigError('--stripe', `the cluster has no stripe '${options.stripe}' (it has ${stripesOf(options.config).map((s) => s.name).join(', ')})`);
  const verdicts: StripeVerdict[] = [];
  for (const stripe of stripes) verdicts.push(await verifyStripe(stripe, options, progress));
  if (options.json) print(JSON.stringify({ stripes: verdicts }, null, 2));
  else for (const verdict of verdicts) printStripe(verdict, print);
  const results = verdicts.flatMap((s) => s.servers.map((v) => v.result));
  if (results.some((r) => r === 'damaged' || r === 'differs')) return EXIT.mismatch;
  return results.some((r) => r === 'unreachable') ? EXIT.unreachable : EXIT.ok;
}

/** A server being checked: its client while it answers, and what was found so far. */
interface Checked {
  config: ServerConfig;
  client: KilnClient | undefined;
  status: ServerStatus | undefined;
  verdict: ServerVerdict;
  /** Its log ends before the range does (a mirror still catching up): nothing more to compare. */
  ended: boolean;
}

async function verifyStripe(stripe: StripeConfig, options: VerifyOptions, progress: (line: string) => void): Promise<StripeVerdict> {
  const servers = await Promise.all(stripe.servers.map((config) => reach(config, options.dial)));
  try {
    let active: Checked | undefined;
    for (const s of servers) if (s.status?.state === 'ACTIVE-COORDINATOR' && (!active || s.status.term > active.status!.term)) active = s;
    const verdict: StripeVerdict = { name: stripe.name, active: active?.config.name ?? null, term: active?.status?.term ?? null, fromLsn: options.fromLsn, throughLsn: null, servers: servers.map((s) => s.verdict) };
    if (!active) {
      for (const s of servers) if (s.client) unreachable(s, 'the stripe has no active to compare it with');
      return verdict;
    }
    active.verdict.active = true;
    const end = active.status!.commitIndex;
    verdict.throughLsn = end;
    await compareRanges(active, servers, options.fromLsn, end, (through) => progress(`kiln verify: stripe ${stripe.name}: checked through LSN ${through} of ${end}`));
    return verdict;
  } finally {
    await Promise.all(servers.map((s) => s.client?.close()));
  }
}

/** Connects to a server and asks its status; a server that does not answer is marked unreachable. */
async function reach(config: ServerConfig, dial: Dial): Promise<Checked> {
  const checked: Checked = { config, client: undefined, status: undefined, verdict: { name: config.name, result: 'ok', active: false, checkedThroughLsn: null, damagedLsn: null, differsFromLsn: null, majority: null, detail: null }, ended: false };
  try {
    checked.client = await connect(config.listen, { ...dial, reconnectWindowMs: 0, requestTimeoutMs: ANSWER_WITHIN_MS });
    checked.status = await checked.client.serverStatus();
    if (checked.status.name !== config.name) unreachable(checked, `another server, ${checked.status.name}, answers at its address`);
  } catch (error) {
    if (!isUnanswered(error)) throw error;
    unreachable(checked, (error as Error).message);
  }
  return checked;
}

/** Refused, silent or gone: the server is not there to check. Anything else (a permission refused) ends the command. */
function isUnanswered(error: unknown): boolean {
  return error instanceof ConnectionRefusedError || error instanceof TimeoutError || error instanceof ConnectionClosedError;
}

function unreachable(s: Checked, detail: string): void {
  s.verdict.result = 'unreachable';
  s.verdict.detail = detail;
  void s.client?.close();
  s.client = undefined;
}

/** What the servers are compared with: the active, until the servers find by a majority that it differs; then a server of that majority. */
interface Reference {
  server: Checked;
  /** The names of the majority found when the servers last disagreed; `[]` when there was none, null while none disagreed. */
  majority: string[] | null;
}

/** Compares every answering server with the reference over `fromLsn..end`, a range of records at a time, until each has a verdict or the end. */
async function compareRanges(active: Checked, servers: Checked[], fromLsn: number, end: number, progress: (through: number) => void): Promise<void> {
  let lastProgress = Date.now();
  const reference: Reference = { server: active, majority: null };
  for (let low = fromLsn; low <= end; low += RANGE_DIGEST_RECORDS_MAX) {
    const high = Math.min(low + RANGE_DIGEST_RECORDS_MAX - 1, end);
    const checking = servers.filter((s) => s.client && s.verdict.result === 'ok' && !s.ended);
    if (!reference.server.client || reference.server.verdict.result !== 'ok' || checking.length === 0) return;
    const answers = await Promise.all(checking.map((s) => askDigest(s, low, high)));
    const digests = new Map<Checked, RangeDigest>();
    checking.forEach((s, i) => {
      if (answers[i]) digests.set(s, answers[i]);
    });
    if (!digests.has(reference.server)) return;
    // Only servers holding the whole range undamaged can outvote one another.
    const whole = checking.filter((s) => digests.get(s)?.damagedLsn === null && digests.get(s)!.throughLsn === high);
    const groups = groupByDigest(whole.map((s) => ({ server: s, digest: digests.get(s)! })));
    if (groups.length > 1 && whole.includes(reference.server)) await judgeByMajority(reference, groups, servers.length, digests, low, high);
    const ours = digests.get(reference.server)!;
    await Promise.all(checking.map((s) => (s === reference.server || s.verdict.result !== 'ok' ? undefined : compareOne(reference, ours, s, digests.get(s), low))));
    if (ours.damagedLsn !== null) {
      reference.server.verdict.result = 'damaged';
      reference.server.verdict.damagedLsn = ours.damagedLsn;
      reference.server.verdict.detail = 'the others were compared with it up to the record before';
    }
    for (const s of checking) if (s.verdict.result === 'ok' || (s === reference.server && ours.damagedLsn !== null)) s.verdict.checkedThroughLsn = Math.min(ours.throughLsn, digests.get(s)?.throughLsn ?? ours.throughLsn);
    if (Date.now() - lastProgress >= PROGRESS_EVERY_MS && high < end) {
      progress(high);
      lastProgress = Date.now();
    }
  }
}

/**
 * The servers holding `low..high` whole and undamaged hold different records (`groups`, by their
 * digests): the group holding more than half of the stripe's `serverCount` servers is right,
 * whether the reference is in it or not, and each server outside it differs from where it leaves
 * it; the reference moves into the majority. Without a majority every one of them differs, from the first LSN any two do, and the
 * reference stays (no copy is better than another to compare the rest with).
 */
async function judgeByMajority(reference: Reference, groups: Checked[][], serverCount: number, digests: Map<Checked, RangeDigest>, low: number, high: number): Promise<void> {
  const majority = majorityOf(groups, serverCount);
  if (majority && !majority.includes(reference.server)) reference.server = majority[0]!;
  reference.majority = majority?.map((s) => s.config.name) ?? [];
  const agreeing = majority ?? groups.find((g) => g.includes(reference.server))!;
  const outside = groups.flat().filter((s) => !agreeing.includes(s));
  const ours = digests.get(reference.server)!;
  const departures = await Promise.all(outside.map((s) => departure(reference.server, ours, s, digests.get(s)!, low, high)));
  for (const s of majority ?? []) s.verdict.majority = reference.majority;
  if (majority) {
    outside.forEach((s, i) => {
      if (departures[i] !== null) differ(s, departures[i]!, reference.majority);
    });
    return;
  }
  // Each holds the reference's records up to where it leaves them: the first LSN any two differ is the least of those.
  const first = Math.min(...departures.filter((lsn) => lsn !== null));
  if (first === Infinity) return;
  for (const s of groups.flat()) if (s.client) differ(s, first, reference.majority);
}

/** The first LSN of `low..high` at which `s`'s records, known to differ, leave `reference`'s; null (and `s` unreachable) when one stops answering. */
async function departure(reference: Checked, ours: RangeDigest, s: Checked, theirs: RangeDigest, low: number, high: number): Promise<number | null> {
  try {
    return await firstDifference(reference.client!, s.client!, low, high, [ours, theirs]);
  } catch (error) {
    if (!isUnanswered(error)) throw error;
    unreachable(s, (error as Error).message);
    return null;
  }
}

/** A server's digest of `low..high`, or undefined (and the server marked unreachable) when it stops answering. */
async function askDigest(s: Checked, low: number, high: number): Promise<RangeDigest | undefined> {
  try {
    return await digestOf(s.client!, low, high);
  } catch (error) {
    if (!isUnanswered(error)) throw error;
    unreachable(s, `stopped answering while LSNs ${low}..${high} were checked: ${(error as Error).message}`);
    return undefined;
  }
}

/** The verdict on one server for a range starting at `low`, from its digest and the reference's. */
async function compareOne(reference: Reference, ours: RangeDigest, s: Checked, theirs: RangeDigest | undefined, low: number): Promise<void> {
  if (theirs === undefined) return;
  const common = Math.min(ours.throughLsn, theirs.throughLsn);
  try {
    if (common >= low) {
      const known: [RangeDigest, RangeDigest] | undefined = ours.throughLsn === common && theirs.throughLsn === common ? [ours, theirs] : undefined;
      const differs = await firstDifference(reference.server.client!, s.client!, low, common, known);
      if (differs !== null) return differ(s, differs, reference.majority);
    }
  } catch (error) {
    if (!isUnanswered(error)) throw error;
    return unreachable(s, (error as Error).message);
  }
  if (theirs.damagedLsn !== null) {
    s.verdict.result = 'damaged';
    s.verdict.damagedLsn = theirs.damagedLsn;
  } else if (theirs.throughLsn < ours.throughLsn && ours.damagedLsn === null) {
    // Only a mirror out of the in-sync set can end before the active's commit index: what it holds is checked.
    s.ended = true;
    s.verdict.detail = `its log ends at LSN ${theirs.throughLsn}: not in sync, it holds no more to check`;
  }
}

function differ(s: Checked, lsn: number, majority: string[] | null): void {
  s.verdict.result = 'differs';
  s.verdict.differsFromLsn = lsn;
  s.verdict.majority = majority;
}

function printStripe(stripe: StripeVerdict, print: (line: string) => void): void {
  const range = stripe.throughLsn === null ? '' : stripe.throughLsn < stripe.fromLsn ? `; no records from LSN ${stripe.fromLsn} to check` : `; LSNs ${stripe.fromLsn}..${stripe.throughLsn}`;
  print(`stripe ${stripe.name}: ${stripe.active === null ? 'NO ACTIVE' : `active ${stripe.active}, term ${stripe.term}`}${range}`);
  const width = Math.max(...stripe.servers.map((s) => s.name.length));
  const undecided = stripe.servers.filter((s) => s.result === 'differs' && s.majority?.length === 0);
  for (const s of stripe.servers) print(`  ${s.name.padEnd(width)}  ${describeVerdict(s, stripe.active, undecided)}`);
  for (const line of adviceOn(stripe, undecided)) print(`  ${line}`);
}

function describeVerdict(s: ServerVerdict, active: string | null, undecided: ServerVerdict[]): string {
  const through = s.checkedThroughLsn === null ? '' : ` (checked through LSN ${s.checkedThroughLsn})`;
  switch (s.result) {
    case 'ok':
      return `OK${s.active ? ', the active' : ''}${through}${s.detail ? `; ${s.detail}` : ''}`;
    case 'damaged':
      return `DAMAGED at LSN ${s.damagedLsn}: the record fails its CRC${s.detail ? `; ${s.detail}` : ''}`;
    case 'differs':
      if (s.majority === null || (active !== null && s.majority.includes(active))) return `DIFFERS from the active from LSN ${s.differsFromLsn}`;
      if (s.majority.length > 0) return `DIFFERS from the majority (${s.majority.join(', ')}) from LSN ${s.differsFromLsn}`;
      return `DIFFERS: ${listed(undecided.map((u) => u.name))} differ from LSN ${s.differsFromLsn}, no majority to tell which is right`;
    case 'unreachable':
      return `UNREACHABLE, not checked: ${s.detail}`;
  }
}

/** What to do when the active is the one that differs, or when nothing tells which copy is right: the playbook for a differing mirror would rebuild the good copies from the bad one. */
function adviceOn(stripe: StripeVerdict, undecided: ServerVerdict[]): string[] {
  const advice: string[] = [];
  const active = stripe.servers.find((s) => s.active);
  if (active?.result === 'differs' && active.majority !== null && active.majority.length > 0) {
    advice.push(`the active ${active.name} itself differs from the majority: fail over away from it (stop it; a server of the majority takes over), then rebuild it from its group; never rebuild the majority from it`);
  }
  if (undecided.length > 0) {
    const from = Math.min(...undecided.map((u) => u.differsFromLsn!));
    advice.push(`no majority: compare the records of ${listed(undecided.map((u) => u.name))} from LSN ${from} with a backup before rebuilding any of them`);
  }
  return advice;
}

/** `a`, `a and b`, `a, b and c`. */
function listed(names: string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}
