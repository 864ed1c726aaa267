/**
 * The handshake every connection opens with, whoever dials: a client, a peer or a voter sends a
 * hello; the server checks it and answers with a welcome, or with a connection error and a close.
 *
 * The version is read before anything else, since the rest of a hello may change with it: a
 * dialler speaking another version is refused with `UnsupportedProtocolVersionError` naming both,
 * never misread later. A client's hello may carry `credentials`, checked here for their shape and
 * size only (their values never appear in an error); the server then authenticates them.
 */
import { AuthenticationError, ConnectionClosedError, errorFromWire, ProtocolError, TlsError, UnsupportedProtocolVersionError } from '../errors.js';
import { AUTH_SECRET_LENGTH_MAX, HELLO_NAME_LENGTH_MAX, LEARNED_URLS_MAX, URL_LENGTH_MAX } from '../limits.js';
import type { Connection } from '../transport/transport.js';
import { decodeServerFrame, encodeHello, encodeWelcome, FrameKind, PROTOCOL_VERSION } from './frames.js';

/** Who is on the other end of a connection. Voters dial their peers as `peer`. */
export type Role = 'client' | 'peer' | 'voter';

/** The first frame a client, peer or voter sends (its version is {@link PROTOCOL_VERSION}). */
export interface Hello {
  role: Role;
  /** The cluster the dialler expects to reach; a server of another refuses it. */
  clusterId?: string;
  /** A name for logs and status. */
  name?: string;
  /** Who the client is, for a server with users and tokens. */
  credentials?: Credentials;
  /** The largest frame the dialler reads: the server answers a request whose answer is larger with `FrameTooLargeError` instead. */
  frameBytesMax?: number;
}

/** A user's name and password, or a token. */
export type Credentials = { username: string; password: string } | { token: string };

/** The server's answer to a good hello. */
export interface Welcome {
  version: number;
  server: string;
  clusterId: string;
  /** The client URLs of every server of the group, so a client follows it as it changes. */
  servers?: string[];
  /**
   * Said to a peer or voter by a member that understands pre-vote messages (`pre-candidacy`,
   * `pre-vote`): the dialler sends them only then. An older member leaves it out, and ignores it.
   */
  preVote?: boolean;
  /**
   * Said to a peer or voter by a member that reads an append's `askedAtMs` and echoes it in its
   * ack: the dialler (an active) sends it only then, and counts the answer for its lease from it.
   */
  leaseEcho?: boolean;
  /**
   * The largest frame the server reads: one larger closes the connection. A dialler sends none
   * larger, and fails such a request at once; one whose own limit is larger would otherwise resend
   * it on every reconnect. An older server leaves it out.
   */
  frameBytesMax?: number;
  /** The server closes a connection that sends nothing this long: a dialler pings within a third of it. An older server leaves it out. */
  idleTimeoutMs?: number;
}

/** What a server accepts in a hello. */
export interface HelloPolicy {
  clusterId: string;
  roles: ReadonlySet<Role>;
}


const isUrl = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= URL_LENGTH_MAX;
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/**
 * The server's check of a hello: the version first, then the fields, the role and the cluster.
 * @throws UnsupportedProtocolVersionError when the dialler speaks another version
 * @throws ProtocolError when the hello is malformed, or its role or cluster is not served here
 */
export function acceptHello(value: unknown, policy: HelloPolicy): Hello {
  if (!isMap(value) || typeof value.version !== 'number') throw new ProtocolError('hello must carry a version');
  if (value.version !== PROTOCOL_VERSION) throw new UnsupportedProtocolVersionError(value.version, PROTOCOL_VERSION);
  const { role, name, clusterId } = value;
  if (role !== 'client' && role !== 'peer' && role !== 'voter') throw new ProtocolError("hello role must be 'client', 'peer' or 'voter'");
  if (name !== undefined && (typeof name !== 'string' || name.length > HELLO_NAME_LENGTH_MAX)) throw new ProtocolError('hello name must be a short string');
  if (clusterId !== undefined && typeof clusterId !== 'string') throw new ProtocolError('hello clusterId must be a string');
  const credentials = value.credentials === undefined ? undefined : credentialsFromWire(value.credentials);
  const frameBytesMax = positiveFromWire(value.frameBytesMax, 'hello frameBytesMax');
  if (!policy.roles.has(role)) throw new ProtocolError(`role '${role}' is not served by this server`);
  if (clusterId !== undefined && clusterId !== policy.clusterId) throw new ProtocolError(`cluster id ${clusterId} does not match this server's ${policy.clusterId}`);
  return { role, ...(name !== undefined ? { name } : {}), ...(clusterId !== undefined ? { clusterId } : {}), ...(credentials !== undefined ? { credentials } : {}), ...(frameBytesMax !== undefined ? { frameBytesMax } : {}) };
}

/** A limit a hello or welcome says (`field` names it): absent from an older side. @throws ProtocolError unless a positive integer */
function positiveFromWire(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new ProtocolError(`${field} must be a positive integer`);
  return value;
}

const CREDENTIALS_RULE = `hello credentials must be { username, password } or { token }: strings of 1 to ${HELLO_NAME_LENGTH_MAX} (username) or ${AUTH_SECRET_LENGTH_MAX} characters`;
const isText = (v: unknown, lengthMax: number): v is string => typeof v === 'string' && v.length > 0 && v.length <= lengthMax;

/** @throws ProtocolError when the credentials have another shape, or a field is empty or too long (never echoing a value) */
function credentialsFromWire(value: unknown): Credentials {
  if (!isMap(value)) throw new ProtocolError(CREDENTIALS_RULE);
  const keys = Object.keys(value);
  if (keys.length === 1 && isText(value.token, AUTH_SECRET_LENGTH_MAX)) return { token: value.token };
  if (keys.length === 2 && isText(value.username, HELLO_NAME_LENGTH_MAX) && isText(value.password, AUTH_SECRET_LENGTH_MAX)) {
    return { username: value.username, password: value.password };
  }
  throw new ProtocolError(CREDENTIALS_RULE);
}

/** The welcome frame a server answers a good hello with. */
export function encodeWelcomeFrame(welcome: Omit<Welcome, 'version'>): Uint8Array {
  return encodeWelcome({ version: PROTOCOL_VERSION, ...welcome });
}

/**
 * A refusal of the hello that dialling again cannot change: credentials one server refused, every
 * server of the cluster refuses (they share its `auth` section). A client gives up on it at once
 * instead of retrying until its reconnect window runs out.
 * @returns the error to fail with, or undefined when another attempt may succeed
 */
export function finalRefusal(error: unknown): AuthenticationError | undefined {
  return error instanceof AuthenticationError ? error : undefined;
}

/**
 * The dialler's side: sends the hello and waits for the welcome.
 * @throws the server's refusal (for example `UnsupportedProtocolVersionError`, or `TlsError` from a
 *   TLS address dialled without TLS), `ConnectionClosedError`
 *   when the connection closes first, or `ProtocolError` when the answer is not a good welcome
 */
export async function openHandshake(connection: Connection, frames: AsyncIterator<Uint8Array>, hello: Hello): Promise<Welcome> {
  connection.send(encodeHello({ version: PROTOCOL_VERSION, ...hello }));
  const next = await frames.next();
  if (next.done) {
    // A TLS listener tells a plain dialler so in its close: that is the answer, not a lost connection.
    const info = await connection.closed;
    throw info.error instanceof TlsError ? info.error : new ConnectionClosedError(info.reason);
  }
  const frame = decodeServerFrame(next.value);
  if (frame.kind === FrameKind.Error) throw errorFromWire(frame.error);
  if (frame.kind !== FrameKind.Welcome) throw new ProtocolError('the server did not answer the hello');
  return welcomeFromWire(frame.welcome);
}

/** @throws UnsupportedProtocolVersionError or ProtocolError when the welcome is not one this side can trust */
export function welcomeFromWire(value: unknown): Welcome {
  if (!isMap(value) || typeof value.version !== 'number') throw new ProtocolError('welcome must carry a version');
  if (value.version !== PROTOCOL_VERSION) throw new UnsupportedProtocolVersionError(value.version, PROTOCOL_VERSION);
  const { server, clusterId, servers, preVote, leaseEcho } = value;
  if (typeof server !== 'string' || typeof clusterId !== 'string') throw new ProtocolError('welcome must name the server and its cluster');
  const frameBytesMax = positiveFromWire(value.frameBytesMax, 'welcome frameBytesMax');
  const idleTimeoutMs = positiveFromWire(value.idleTimeoutMs, 'welcome idleTimeoutMs');
  const limits = { ...(frameBytesMax !== undefined ? { frameBytesMax } : {}), ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}) };
  const features = { ...(preVote === true ? { preVote } : {}), ...(leaseEcho === true ? { leaseEcho } : {}), ...limits };
  if (servers === undefined) return { version: value.version, server, clusterId, ...features };
  if (!Array.isArray(servers) || servers.length > LEARNED_URLS_MAX || !servers.every(isUrl)) throw new ProtocolError(`welcome servers must be at most ${LEARNED_URLS_MAX} URLs`);
  return { version: value.version, server, clusterId, servers, ...features };
}
