/** The client's side of server-side filters: the check before sending, and a clear error from a server that cannot filter. */
import { InvalidArgumentError } from '../errors.js';
import { checkFilter, type EventFilter } from '../protocol/messages.js';

/** The filter of a read or subscription's options, checked; undefined when none is given. */
export function filterOf(options: { filter?: EventFilter }): EventFilter | undefined {
  return options.filter === undefined ? undefined : checkFilter(options.filter, 'filter');
}

/**
 * A server that predates filters refuses a filtered request for its length (one item more than it
 * reads): say why, rather than pass on its rule about array lengths. Other errors go unchanged.
 */
export function explainFilterRefusal(error: unknown): unknown {
  if (error instanceof InvalidArgumentError && (error.field === 'readAll' || error.field === 'subscribe') && error.rule === 'must be an array of 3 items') {
    return new InvalidArgumentError('filter', 'this server cannot filter (it predates server-side filters): upgrade it, or read without a filter');
  }
  return error;
}
