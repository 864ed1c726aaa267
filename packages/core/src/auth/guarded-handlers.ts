/**
 * The permission check of every operation, wrapped around a session's handlers once its client
 * has authenticated; a session of a server without `auth` keeps its handlers bare, so it pays
 * nothing. A check runs before its handler starts, so a refused request changed nothing: a
 * transaction is checked on every stream before it is committed or, over several stripes, before
 * any prepare is sent.
 *
 * @packageDocumentation
 */
import { PermissionDeniedError, type Permission } from '../errors.js';
import type { EventFilter } from '../protocol/messages.js';
import type { OperationHandlers } from '../protocol/operations.js';
import type { Access } from './access.js';

/** The streams argument of an operation over all of them. */
const EVERY_STREAM = '*';

/** `handlers`, each refusing what `access` does not grant with `PermissionDeniedError`. */
export function guardedHandlers(handlers: OperationHandlers, access: Access): OperationHandlers {
  const overAll = <A, R>(permission: Permission, handler: (args: A) => Promise<R>) => (args: A): Promise<R> => {
    access.check(EVERY_STREAM, permission);
    return handler(args);
  };
  return {
    transact: (transaction) => {
      for (const append of transaction.appends) access.check(append.stream, 'write');
      return handlers.transact(transaction);
    },
    read: (request) => {
      access.check(request.stream, 'read');
      return handlers.read(request);
    },
    readAll: (request) => {
      checkReadOverAll(access, request.filter);
      return handlers.readAll(request);
    },
    subscribe: (request) => {
      if (typeof request.stream === 'string') access.check(request.stream, 'read');
      else checkReadOverAll(access, request.filter);
      return handlers.subscribe(request);
    },
    // Any client that got in may end its own subscriptions, ping, and ask where streams live.
    unsubscribe: handlers.unsubscribe,
    status: handlers.status,
    ping: handlers.ping,
    topology: handlers.topology,
    logDigest: overAll('read', handlers.logDigest),
    // Another stripe's coordinator sends these for a transaction it already checked; a client needs the same right to.
    prepare: overAll('admin', handlers.prepare),
    decide: overAll('admin', handlers.decide),
    txnStatus: overAll('admin', handlers.txnStatus),
    txnList: overAll('admin', handlers.txnList),
    txnResolve: overAll('admin', handlers.txnResolve),
    addMirror: overAll('admin', handlers.addMirror),
    removeMirror: overAll('admin', handlers.removeMirror),
    diverged: overAll('admin', handlers.diverged),
    // A backup holds every stream, and restores to a server of its own: an operator's right.
    backupPage: overAll('admin', handlers.backupPage),
    // An operator's check of the stored log: it reads every stream, and every byte of it.
    rangeDigest: overAll('admin', handlers.rangeDigest),
  };
}

/**
 * A read of the whole log reaches every stream, unless its filter names stream prefixes: then
 * it reaches only streams under those, and `read` on each prefix will do.
 * @throws PermissionDeniedError naming the first prefix not granted (as `prefix*`), or `'*'`
 */
function checkReadOverAll(access: Access, filter: EventFilter | undefined): void {
  const prefixes = filter?.streamPrefixes;
  if (prefixes === undefined || prefixes.length === 0) return access.check(EVERY_STREAM, 'read');
  for (const prefix of prefixes) if (!access.allowsPrefix(prefix, 'read')) throw new PermissionDeniedError(`${prefix}*`, 'read');
}
