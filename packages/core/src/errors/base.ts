/**
 * The base every Kiln error extends, and the loose readers of the fields an error frame carries.
 *
 * @packageDocumentation
 */

/** Fields an error carries over the wire, besides `name` and `message`. */
export type ErrorFields = Record<string, string | number | boolean | null>;

// Wire fields are checked loosely: a field of the wrong type becomes a harmless string or NaN.
/** Reads a wire field as a string. */
export const str = (v: unknown): string => String(v ?? '');
/** Reads a wire field as a number. */
export const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));

/** Base class of every Kiln error. */
export class KilnError extends Error {
  static override readonly name: string = 'KilnError';

  /** True when trying the same operation again, unchanged, may succeed. */
  readonly retryable: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    // Every subclass declares its `name` as a literal, so this survives minifying.
    this.name = new.target.name;
  }

  /** The fields that describe this error, sent over the wire with `name` and `message`. */
  fields(): ErrorFields {
    return {};
  }
}
