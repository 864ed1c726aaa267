/**
 * Invariant checks. A failed assertion is a bug in Kiln, never a user error: it throws an
 * `AssertionFailure`, which nothing catches for control flow, and the server stops.
 */
export class AssertionFailure extends Error {
  override readonly name = 'AssertionFailure';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}
