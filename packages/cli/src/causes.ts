/** The chain of an error's causes, as kiln's failure lines read it. */

/** How deep a chain of causes is followed: a loop of causes must not hang the last line. */
const CAUSE_DEPTH_MAX = 8;

/** `error` and its causes, outermost first. */
export function causesOf(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && chain.length < CAUSE_DEPTH_MAX; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}
