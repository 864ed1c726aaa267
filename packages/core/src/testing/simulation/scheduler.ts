/**
 * Virtual time for the simulation: one priority queue of tasks keyed by (virtual time, sequence
 * number), a clock that moves only when the scheduler takes the next task, and the `Clock` and
 * `Timers` seams core's server and client take. Nothing runs on a real timer, so one seed gives
 * one interleaving, bit for bit.
 *
 * Tasks belong to a {@link SimNode}: one incarnation of one named process. A crashed incarnation's
 * tasks are dropped; a paused node's tasks are held until it resumes.
 */
import type { Clock, TimerHandle, Timers } from '../../time.js';
import { Prng } from './prng.js';
import { Trace } from './trace.js';

/** One incarnation of a named process (a server, a client, the harness itself). */
export interface SimNode {
  /** The process's name: `s1`, `client-3`. Stable across restarts. */
  readonly name: string;
  /** Counts restarts of `name` from 0. */
  readonly incarnation: number;
  /** False once the incarnation crashed: its tasks no longer run. */
  readonly alive: boolean;
}

interface NodeState extends SimNode {
  alive: boolean;
  /** Virtual time the incarnation started; its monotonic clock counts from here. */
  readonly startedMs: number;
  /** A seeded origin for its monotonic clock, as `performance.now()` differs per process. */
  readonly monotonicOriginMs: number;
}

interface Task {
  atMs: number;
  seq: number;
  node: NodeState;
  label: string;
  run: () => void;
  cancelled: boolean;
}

/** Options of {@link Scheduler}. */
export interface SchedulerOptions {
  /** The seed of everything random in the run. */
  seed: number;
  /** Trace lines kept for a failure report; see {@link Trace}. @default 0 */
  traceLinesKept?: number;
  /**
   * Microtask turns with no simulation activity after which the microtask queue counts as
   * settled and the next task runs. Larger is slower and lets longer promise chains finish
   * first; any value is deterministic.
   * @default 24
   */
  settleTurns?: number;
  /** Upper bound on microtask turns between two tasks. @default 100000 */
  settleTurnsMax?: number;
  /**
   * An exact alternative to counting microtask turns: resolves after the whole microtask queue
   * has run, e.g. `() => new Promise((resolve) => setImmediate(resolve))` in Node. It crosses a
   * real event-loop turn, so it is as faithful to JavaScript's ordering as a run can be (no task
   * ever cuts into a promise chain); it stays deterministic because nothing outside the
   * simulation touches its state. Without it the scheduler counts quiet turns (see
   * {@link settleTurns}), which needs no real event loop at all.
   */
  drainMicrotasks?: () => Promise<void>;
  /** The wall clock's reading at virtual time 0, in ms since the epoch. @default 1.7e12 */
  wallEpochMs?: number;
}

/** Why {@link Scheduler.run} returned. */
export type RunOutcome = 'done' | 'time' | 'idle' | 'tasks';

/** Options of {@link Scheduler.run}. */
export interface RunOptions {
  /** Stop once this returns true (checked after the microtasks of each task settle). */
  until?: () => boolean;
  /** Stop before the first task due after this virtual time. @default no limit */
  untilMs?: number;
  /** Stop after running this many tasks. @default 10 000 000 */
  tasksMax?: number;
}

/** Thrown by {@link Scheduler.settle} when virtual time runs out first. */
export class SimulationTimeoutError extends Error {
  override readonly name = 'SimulationTimeoutError';
}

/** The harness's own process: never paused, never crashed. */
export const HARNESS_NODE = 'sim';

/**
 * The simulation's scheduler. Everything that happens in a run happens in a task it runs, or in
 * the microtasks that follow one, so the order of events depends only on the seed.
 */
export class Scheduler {
  /** The seed the run was built from (a uint32). */
  readonly seed: number;
  /** The root generator; fork it for each component so their draws do not shift each other. */
  readonly random: Prng;
  /** The run's event trace and its hash. */
  readonly trace: Trace;
  /** Exceptions thrown by tasks (each a bug in the code under test or the harness). */
  readonly errors: string[] = [];
  private nowMs = 0;
  private seq = 0;
  private activity = 0;
  private tasksRun = 0;
  private readonly heap: Task[] = [];
  private readonly nodes = new Map<string, NodeState>();
  private readonly paused = new Set<string>();
  private readonly held = new Map<string, Task[]>();
  private readonly clocks = new Map<string, MachineClock>();
  private readonly clockRandom: Prng;
  private readonly settleTurns: number;
  private readonly settleTurnsMax: number;
  private readonly drainMicrotasks: (() => Promise<void>) | undefined;
  private readonly wallEpochMs: number;

  constructor(options: SchedulerOptions) {
    this.random = new Prng(options.seed);
    this.seed = options.seed >>> 0;
    this.clockRandom = this.random.fork();
    this.trace = new Trace({ linesKept: options.traceLinesKept ?? 0 });
    this.settleTurns = options.settleTurns ?? 24;
    this.settleTurnsMax = options.settleTurnsMax ?? 100_000;
    this.drainMicrotasks = options.drainMicrotasks;
    this.wallEpochMs = options.wallEpochMs ?? 1.7e12;
    this.spawn(HARNESS_NODE);
  }

  /** Virtual milliseconds since the run began. */
  get now(): number {
    return this.nowMs;
  }

  /** Tasks run so far. */
  get taskCount(): number {
    return this.tasksRun;
  }

  /** Tasks waiting (held ones of paused nodes included). */
  get pendingCount(): number {
    let held = 0;
    for (const tasks of this.held.values()) held += tasks.length;
    return this.heap.length + held;
  }

  // ---- nodes -----------------------------------------------------------------------------------

  /**
   * Starts a new incarnation of `name` (the first, or a restart after {@link kill}). The previous
   * incarnation, if still alive, is killed.
   */
  spawn(name: string): SimNode {
    const previous = this.nodes.get(name);
    if (previous) previous.alive = false;
    const node: NodeState = {
      name,
      incarnation: previous ? previous.incarnation + 1 : 0,
      alive: true,
      startedMs: this.nowMs,
      monotonicOriginMs: this.clockRandom.int(0, 1_000_000),
    };
    this.nodes.set(name, node);
    this.note(`spawn ${name}#${node.incarnation}`);
    return node;
  }

  /** The current incarnation of `name`. */
  node(name: string): SimNode {
    const node = this.nodes.get(name);
    if (!node) throw new RangeError(`no simulated process named ${name}`);
    return node;
  }

  /** Crashes the current incarnation of `name`: none of its pending or future tasks run. */
  kill(name: string): void {
    const node = this.nodes.get(name);
    if (!node || !node.alive) return;
    node.alive = false;
    this.note(`kill ${name}#${node.incarnation}`);
  }

  /** True when `name`'s current incarnation is alive. */
  isAlive(name: string): boolean {
    return this.nodes.get(name)?.alive ?? false;
  }

  /** Pauses `name` (SIGSTOP): its tasks, timers and incoming frames alike, wait until {@link resume}. */
  pause(name: string): void {
    if (name === HARNESS_NODE || this.paused.has(name)) return;
    this.paused.add(name);
    this.note(`pause ${name}`);
  }

  /** Resumes a paused node: what it missed runs now, in the order it was due. */
  resume(name: string): void {
    if (!this.paused.delete(name)) return;
    this.note(`resume ${name}`);
    const held = this.held.get(name) ?? [];
    this.held.delete(name);
    for (const task of held) {
      if (task.cancelled || !task.node.alive) continue;
      task.atMs = this.nowMs;
      task.seq = this.seq++;
      this.push(task);
    }
  }

  /** True while `name` is paused. */
  isPaused(name: string): boolean {
    return this.paused.has(name);
  }

  // ---- seams -----------------------------------------------------------------------------------

  /** Timers whose callbacks run as tasks of `node` (of that incarnation only), timed by its machine's clock. */
  timers(node: SimNode): SimTimers {
    return new SimTimers(this, node, this.machineClock(node.name));
  }

  /**
   * The clock `node` reads: its monotonic clock counts from the incarnation's start (plus a
   * seeded origin), as `performance.now()` does per process, at its machine's rate; its wall clock
   * is the machine's, shared by every incarnation of `node.name` and moved by
   * {@link MachineClock.jumpWallMs}.
   */
  clock(node: SimNode): SimClock {
    const state = node as NodeState;
    const machine = this.machineClock(node.name);
    return new SimClock(machine, machine.localMsAt(state.startedMs) - state.monotonicOriginMs);
  }

  /** The clock of the machine `name` runs on, to jump its wall clock or set its rate. */
  machineClock(name: string): MachineClock {
    let clock = this.clocks.get(name);
    if (!clock) {
      clock = new MachineClock(this, this.wallEpochMs);
      this.clocks.set(name, clock);
    }
    return clock;
  }

  // ---- tasks -----------------------------------------------------------------------------------

  /** Runs `run` as a task of `node` after `delayMs` of virtual time. */
  schedule(node: SimNode, delayMs: number, run: () => void, label = 'task'): { cancel(): void } {
    const task = this.scheduleFor(node as NodeState, delayMs, run, label);
    return { cancel: () => void (task.cancelled = true) };
  }

  /** Resolves after `delayMs` of virtual time, as a task of the harness. */
  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.schedule(this.node(HARNESS_NODE), delayMs, resolve, 'sleep'));
  }

  /** Adds a line to the trace (and counts as activity, see {@link SchedulerOptions.settleTurns}). */
  note(line: string): void {
    this.activity++;
    this.trace.add(this.nowMs, line);
  }

  /** Mixes bytes into the trace hash. */
  noteBytes(bytes: Uint8Array): void {
    this.activity++;
    this.trace.addBytes(bytes);
  }

  /**
   * Runs tasks in (time, sequence) order, letting the microtasks each one starts settle before
   * the next, until `until` holds, virtual time passes `untilMs`, or no task is left (time then
   * still moves on to `untilMs`). Tasks of a paused node are held, not counted as left.
   */
  async run(options: RunOptions = {}): Promise<RunOutcome> {
    const untilMs = options.untilMs ?? Number.POSITIVE_INFINITY;
    const tasksMax = options.tasksMax ?? 10_000_000;
    let ran = 0;
    for (;;) {
      await this.settleMicrotasks();
      if (options.until?.()) return 'done';
      if (ran >= tasksMax) return 'tasks';
      // With nothing scheduled, only a long promise chain can still make something happen: give
      // it every turn it needs before calling the run idle.
      if (this.heap.length === 0 && (await this.settleMicrotasks(this.settleTurnsMax, options.until))) return 'done';
      const task = this.pop();
      if (!task) {
        // Nothing left to happen: time still passes up to the limit.
        if (Number.isFinite(untilMs)) this.nowMs = Math.max(this.nowMs, untilMs);
        return 'idle';
      }
      if (task.atMs > untilMs) {
        this.push(task);
        this.nowMs = Math.max(this.nowMs, untilMs);
        return 'time';
      }
      if (task.cancelled || !task.node.alive) continue;
      this.nowMs = Math.max(this.nowMs, task.atMs);
      if (this.paused.has(task.node.name)) {
        let held = this.held.get(task.node.name);
        if (!held) this.held.set(task.node.name, (held = []));
        held.push(task);
        continue;
      }
      ran++;
      this.tasksRun++;
      this.activity++;
      try {
        task.run();
      } catch (error) {
        const message = `task ${task.label} of ${task.node.name}#${task.node.incarnation} threw: ${describe(error)}`;
        this.errors.push(message);
        this.note(message);
      }
    }
  }

  /**
   * Runs the scheduler until `promise` settles, and returns its outcome.
   * @throws SimulationTimeoutError when `timeoutMs` of virtual time pass (or no task is left) first
   */
  async settle<T>(promise: Promise<T>, timeoutMs: number, what = 'operation'): Promise<T> {
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    const outcome = await this.run({ until: () => settled, untilMs: this.nowMs + timeoutMs });
    if (!settled) throw new SimulationTimeoutError(`${what} did not finish within ${timeoutMs} ms of virtual time (${outcome})`);
    return promise;
  }

  /**
   * Lets the microtask queue run until `quietTurns` turns pass with no simulation activity (or,
   * with nothing scheduled, until a task appears or `until` holds). Returns `until`'s verdict.
   */
  private async settleMicrotasks(quietTurns = this.settleTurns, until?: () => boolean): Promise<boolean> {
    if (this.drainMicrotasks) {
      await this.drainMicrotasks();
      return until?.() ?? false;
    }
    let seen = this.activity;
    let quiet = 0;
    const waitingForWork = quietTurns >= this.settleTurnsMax;
    for (let turn = 0; turn < this.settleTurnsMax && quiet < quietTurns; turn++) {
      await undefined;
      if (waitingForWork && (this.heap.length > 0 || until?.())) break;
      if (this.activity === seen) quiet++;
      else {
        seen = this.activity;
        quiet = 0;
      }
    }
    return until?.() ?? false;
  }

  /** @internal */
  scheduleFor(node: NodeState, delayMs: number, run: () => void, label: string): Task {
    const delay = Number.isFinite(delayMs) && delayMs > 0 ? delayMs : 0;
    const task: Task = { atMs: this.nowMs + delay, seq: this.seq++, node, label, run, cancelled: false };
    this.activity++;
    this.push(task);
    return task;
  }

  // A binary min-heap on (atMs, seq).
  private push(task: Task): void {
    const heap = this.heap;
    heap.push(task);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(task, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = task;
  }

  private pop(): Task | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left;
        if (!before(heap[child]!, last)) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before(a: Task, b: Task): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Timers whose callbacks run as tasks of one node incarnation; nothing runs on a real timer. A
 * delay is measured on the machine's clock, as an operating system's timers are: on a clock that
 * runs fast a timer fires early in true time.
 */
export class SimTimers implements Timers {
  /** @internal */
  constructor(
    private readonly scheduler: Scheduler,
    /** The incarnation the callbacks belong to. */
    readonly node: SimNode,
    private readonly machine: MachineClock,
  ) {}

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const task = this.scheduler.scheduleFor(this.node as NodeState, this.machine.trueMsOf(delayMs), callback, 'timer');
    return { cancel: () => void (task.cancelled = true) };
  }

  defer(callback: () => void): void {
    this.scheduler.scheduleFor(this.node as NodeState, 0, callback, 'defer');
  }
}

/**
 * A machine's clock. Its oscillator counts {@link rate} ms per true (virtual) ms, the same for
 * every process on it: a real crystal drifts, so no two machines' monotonic clocks agree on how
 * long anything took. Its wall clock counts on the same oscillator from an offset that a fault can
 * jump either way (an NTP step, an operator's `date -s`); Kiln may only ever record it, never order
 * or time out by it.
 */
export class MachineClock {
  private offsetMs = 0;
  private rateValue = 1;
  /** The true time and the oscillator's count when the rate was last set: the count is linear from there. */
  private anchorTrueMs = 0;
  private anchorLocalMs = 0;

  /** @internal */
  constructor(
    private readonly scheduler: Scheduler,
    private readonly epochMs: number,
  ) {}

  /** Oscillator ms per true ms: 1 runs true, 1.01 runs 1 % fast. @default 1 */
  get rate(): number {
    return this.rateValue;
  }

  /** Sets the rate from now on; the clock does not jump. */
  setRate(rate: number): void {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`a clock rate must be a positive number, got ${rate}`);
    this.anchorLocalMs = this.localMsAt(this.scheduler.now);
    this.anchorTrueMs = this.scheduler.now;
    this.rateValue = rate;
  }

  /** The oscillator's count at true time `trueMs` (not before the rate was last set), in ms. */
  localMsAt(trueMs: number): number {
    return this.anchorLocalMs + (trueMs - this.anchorTrueMs) * this.rateValue;
  }

  /** The oscillator's count now, in ms. */
  localMs(): number {
    return this.localMsAt(this.scheduler.now);
  }

  /** True ms that pass while this machine counts `localMs`. */
  trueMsOf(localMs: number): number {
    return localMs / this.rateValue;
  }

  /** Milliseconds since the epoch, as this machine believes. */
  wallMs(): number {
    return this.epochMs + this.localMs() + this.offsetMs;
  }

  /** Jumps the wall clock by `deltaMs` (negative: backwards). */
  jumpWallMs(deltaMs: number): void {
    this.offsetMs += deltaMs;
    this.scheduler.note(`wall clock jumps ${deltaMs} ms`);
  }
}

/**
 * The `Clock` of one node incarnation: `monotonicMs()` advances only with the scheduler, at its
 * machine's rate, from an origin of its own; `wallMs()` is its machine's (jumpable) wall clock.
 */
export class SimClock implements Clock {
  /** @internal */
  constructor(
    /** The machine's clock. */
    readonly machine: MachineClock,
    /** The machine's count at this clock's zero. */
    private readonly zeroLocalMs: number,
  ) {}

  monotonicMs(): number {
    return this.machine.localMs() - this.zeroLocalMs;
  }

  wallMs(): number {
    return this.machine.wallMs();
  }
}
