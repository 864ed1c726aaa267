/**
 * The group's recorded view: who its voting members are, and which servers are in sync. Every
 * change (a mirror leaving or re-entering the in-sync set, a mirror added or removed) makes a new
 * view one version higher, which counts only once a majority of the old members and a majority of
 * the new ones recorded it. Changes go one at a time, so any two majorities that matter overlap.
 *
 * A view also carries the term of the active that proposed it, and views are ordered by term, then
 * version: a new active re-proposes its view in its own term, which outranks any proposal of an
 * earlier term that reached some members but was never recorded.
 */
import { addressesClash, addressOf, machineOf } from '../config/fields.js';
import { InvalidArgumentError } from '../errors.js';

/** A voting member of the group, as every member knows it. */
export interface GroupMemberConfig {
  name: string;
  kind: 'server' | 'voter';
  /** Peer URL. */
  peer: string;
  /** Client URLs (servers only), for pointing clients at the active. */
  clientUrls: readonly string[];
  weight: number;
}

export interface GroupView {
  /** The term of the active that proposed it; 0 for the configuration's view. */
  term: number;
  version: number;
  members: readonly GroupMemberConfig[];
  /** Servers holding every committed record: the only ones that may become the active. */
  inSync: readonly string[];
}

/** A view as it travels between members and sits in the store's metadata. */
export type WireView = [version: number, members: Array<[string, 'server' | 'voter', string, string[], number]>, inSync: string[], term: number];

export function viewToWire(view: GroupView): WireView {
  return [view.version, view.members.map((m) => [m.name, m.kind, m.peer, [...m.clientUrls], m.weight]), [...view.inSync], view.term];
}

/** True when `a` supersedes `b`: a later term, or the same term and a higher version. */
export function isNewerView(a: GroupView, b: GroupView): boolean {
  return a.term > b.term || (a.term === b.term && a.version > b.version);
}

const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 64;
const isUrl = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 512;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** A view from the wire or the store; undefined when it is not one. */
export function viewFromWire(value: unknown): GroupView | undefined {
  // Views recorded before views carried a term have three fields: term 0.
  if (!Array.isArray(value) || (value.length !== 3 && value.length !== 4)) return undefined;
  const [version, members, inSync, term = 0] = value as unknown[];
  if (!isCount(version) || !isCount(term) || !Array.isArray(members) || members.length > 64 || !Array.isArray(inSync) || !inSync.every(isName)) return undefined;
  const decoded: GroupMemberConfig[] = [];
  for (const m of members) {
    if (!Array.isArray(m) || m.length !== 5) return undefined;
    const [name, kind, peer, clientUrls, weight] = m as unknown[];
    if (!isName(name) || (kind !== 'server' && kind !== 'voter') || !isUrl(peer) || !Array.isArray(clientUrls) || !clientUrls.every(isUrl) || !isCount(weight)) return undefined;
    decoded.push({ name, kind, peer, clientUrls: clientUrls as string[], weight });
  }
  return { term, version, members: decoded, inSync: inSync as string[] };
}

/** The view with a new in-sync set. */
export function withInSync(view: GroupView, inSync: readonly string[]): GroupView {
  return { term: view.term, version: view.version + 1, members: view.members, inSync: [...inSync].sort() };
}

/**
 * The view with a new mirror: a member, not yet in sync (it joins the in-sync set once caught up).
 *
 * @throws InvalidArgumentError when the name, peer URL or a client URL is taken, the spec is
 *   malformed, or the group would be two servers without a voter in consistency mode
 */
export function withMirrorAdded(view: GroupView, mirror: GroupMemberConfig, availability: boolean): GroupView {
  if (mirror.kind !== 'server') throw new InvalidArgumentError('kind', "a mirror is a 'server'");
  if (!isName(mirror.name)) throw new InvalidArgumentError('name', 'must be a string of 1 to 64 characters');
  if (!isUrl(mirror.peer)) throw new InvalidArgumentError('peer', 'must be a URL');
  if (mirror.clientUrls.length === 0 || !mirror.clientUrls.every(isUrl)) throw new InvalidArgumentError('clientUrls', 'must name at least one URL');
  if (!isCount(mirror.weight)) throw new InvalidArgumentError('weight', 'must be a non-negative integer');
  if (view.members.length >= 64) throw new InvalidArgumentError('name', 'a group has at most 64 members');
  for (const m of view.members) {
    if (m.name === mirror.name) throw new InvalidArgumentError('name', `'${mirror.name}' is already a member of the group`);
    checkAddressesFree(m, mirror);
  }
  const members = [...view.members, { ...mirror, clientUrls: [...mirror.clientUrls] }];
  checkFailoverSafety(members, availability);
  return { term: view.term, version: view.version + 1, members, inSync: view.inSync };
}

/**
 * Refuses a new mirror an address of member `m` already takes, however it is spelled
 * (`localhost` or `127.0.0.1`), or that a wildcard address (`0.0.0.0`) takes on their machine.
 * @throws InvalidArgumentError on `peer` or `clientUrls`, naming both addresses and `m`
 */
function checkAddressesFree(m: GroupMemberConfig, mirror: GroupMemberConfig): void {
  const theirs = [{ url: m.peer, what: 'peer address' }, ...m.clientUrls.map((url) => ({ url, what: 'client address' }))];
  const sameMachine = machineOf(addressOf(m.peer)) === machineOf(addressOf(mirror.peer));
  const ours = [{ url: mirror.peer, field: 'peer' }, ...mirror.clientUrls.map((url) => ({ url, field: 'clientUrls' }))];
  for (const { url, field } of ours) {
    const taken = theirs.find((t) => sameAddress(t.url, url, sameMachine));
    if (taken) throw new InvalidArgumentError(field, `${url} is already the ${taken.what} of '${m.name}'${taken.url === url ? '' : ` (${taken.url})`}`);
  }
}

function sameAddress(a: string, b: string, sameMachine: boolean): boolean {
  const [x, y] = [addressOf(a), addressOf(b)];
  return x && y ? addressesClash(x, y, sameMachine) : a === b;
}

/**
 * The view without mirror `name`.
 *
 * @throws InvalidArgumentError when `name` is no server of the group or is the active, or when the
 *   group left would be two servers without a voter in consistency mode
 */
export function withMirrorRemoved(view: GroupView, name: string, active: string, availability: boolean): GroupView {
  const member = view.members.find((m) => m.name === name);
  if (!member || member.kind !== 'server') throw new InvalidArgumentError('name', `'${name}' is no mirror of the group; its servers are ${serversOf(view).join(', ')}`);
  if (name === active) throw new InvalidArgumentError('name', `'${name}' is the active; stop it and let the group fail over, then remove it`);
  const members = view.members.filter((m) => m.name !== name);
  checkFailoverSafety(members, availability);
  return { term: view.term, version: view.version + 1, members, inSync: view.inSync.filter((n) => n !== name) };
}

/** A two-server group in consistency mode cannot fail over without a voter: refuse to make one. */
function checkFailoverSafety(members: readonly GroupMemberConfig[], availability: boolean): void {
  const servers = members.filter((m) => m.kind === 'server').length;
  if (!availability && servers === 2 && members.length === 2) {
    throw new InvalidArgumentError('name', 'a two-server group in consistency mode needs a voter to fail over; run one first');
  }
}

/** The view's server names, in order. */
export function serversOf(view: GroupView): string[] {
  return view.members.filter((m) => m.kind === 'server').map((m) => m.name);
}
