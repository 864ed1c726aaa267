/**
 * Credentials on the HTTP listener of a cluster with `auth`: HTTP Basic with a user's password, or
 * `Authorization: Bearer TOKEN`, checked by core's `Authenticator` (the same hashes, the same
 * slow-down of an address's failures, the same bounded log of them), and a grant of `read` on
 * `"*"`, since every guarded path shows the whole cluster. Every failure to authenticate is the
 * same 401 with the one message of `AuthenticationError`; a header too long or not of either form
 * is refused alike, before any hashing.
 */
import type { IncomingMessage } from 'node:http';
import { AUTH_SECRET_LENGTH_MAX, AuthenticationError, HELLO_NAME_LENGTH_MAX, PermissionDeniedError, type Authenticator, type Credentials } from '@kiln/core';
import { json, type HttpAnswer } from './http-listener.js';

/** Checks a request: @returns the refusal to answer with, or undefined to serve it */
export type HttpGate = (request: IncomingMessage) => Promise<HttpAnswer | undefined>;

/** Makes a browser ask for a user and password; scripts may send a token instead. */
const CHALLENGE = 'Basic realm="kiln", charset="UTF-8", Bearer realm="kiln"';

/** Not credentials of either form: refused like wrong ones. */
const MALFORMED = Symbol('malformed');

export function httpGate(authenticator: Authenticator, scheme: 'http' | 'https'): HttpGate {
  return async (request) => {
    const credentials = credentialsOf(request.headers.authorization);
    if (credentials === MALFORMED) return unauthorized();
    const { remoteAddress = 'unknown', remotePort = 0 } = request.socket;
    const address = `${scheme}://${remoteAddress.includes(':') ? `[${remoteAddress}]` : remoteAddress}:${remotePort}`;
    let access;
    try {
      access = await authenticator.authenticate(credentials, address);
    } catch (error) {
      if (error instanceof AuthenticationError) return unauthorized();
      throw error;
    }
    if (!access.allows('*', 'read')) return json(403, { error: new PermissionDeniedError('*', 'read').message });
    return undefined;
  };
}

function unauthorized(): HttpAnswer {
  return { ...json(401, { error: new AuthenticationError().message }), headers: { 'www-authenticate': CHALLENGE } };
}

/** The credentials an `Authorization` header carries; undefined without one. */
function credentialsOf(header: string | undefined): Credentials | undefined | typeof MALFORMED {
  if (header === undefined) return undefined;
  const bearer = /^Bearer +(\S+)$/i.exec(header);
  if (bearer) return bearer[1]!.length <= AUTH_SECRET_LENGTH_MAX ? { token: bearer[1]! } : MALFORMED;
  const basic = /^Basic +([A-Za-z0-9+/]+={0,2})$/i.exec(header);
  if (!basic) return MALFORMED;
  const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return MALFORMED;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (username.length > HELLO_NAME_LENGTH_MAX || password.length === 0 || password.length > AUTH_SECRET_LENGTH_MAX) return MALFORMED;
  return { username, password };
}
