// Open-loop load for bench/stripes.mjs (part rate): each stripe gets the same fixed rate of appends
// per second on streams of its own, whatever the servers do, so that 1, 2 and 4 stripes run each
// server at the same load (weak scaling). Appends are scheduled at fixed times and sent when the
// timer reaches them; latency runs from the scheduled time, so a server that falls behind shows in
// p99 instead of slowing the load down (no coordinated omission).
//
// Figures come from /proc: the server processes' CPU time over the measured window, and the whole
// machine's busy share over it (other engineers' processes included), to tell a run below
// saturation from one that is not.
import { readFileSync } from 'node:fs';
import { slotOf, SlotTable } from '@kiln/core';

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86_64
const TICK_MS = 1;

/** `count` stream names for each of `stripes` stripes: `r-<i>`, each on the stripe its slot takes in a table of that many stripes. */
export function streamsPerStripe(stripes, count) {
  const table = SlotTable.initial(stripes);
  const lists = Array.from({ length: stripes }, () => []);
  for (let i = 0; lists.some((l) => l.length < count); i++) {
    const name = `r-${i}`;
    const list = lists[table.stripeOfSlot(slotOf(name))];
    if (list.length < count) list.push(name);
  }
  return lists;
}

/** CPU seconds (user + system) used so far by the given processes. */
function cpuSecondsOf(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
  }
  return ticks / CLK_TCK;
}

/** The machine's busy and total CPU time so far, from /proc/stat. */
function machineTicks() {
  const [, ...fields] = readFileSync('/proc/stat', 'latin1').split('\n')[0].trim().split(/\s+/).map(Number);
  const idle = fields[3] + fields[4]; // idle, iowait
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

const percentile = (sorted, p) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);

/**
 * Runs the load: `appendOn(stripe, stream)` sends one append and returns its promise; each stripe
 * gets `ratePerStripe` appends/s round its `streams[stripe]`. The first `warmupSeconds` are not
 * measured; the window is the next `measureSeconds`, and every append scheduled in it counts once
 * acknowledged (the run waits for them, at most `drainMs`).
 *
 * @returns {{ appendsPerSec, acked, failed, p50, p99, cpuSeconds, usPerAppend, machineBusy, load1 }}
 *   machineBusy: the share of all the machine's cores busy over the window (0..1)
 */
export async function runFixedRate({ appendOn, streams, ratePerStripe, warmupSeconds, measureSeconds, pids, drainMs = 30_000 }) {
  const stripes = streams.length;
  const intervalMs = 1000 / ratePerStripe;
  const start = performance.now();
  const windowStart = start + warmupSeconds * 1000;
  const windowEnd = windowStart + measureSeconds * 1000;
  const latencies = [];
  let failed = 0;
  let firstError;
  let pending = 0;
  let sent = 0;
  let before;
  let after;

  const send = (stripe, stream, scheduledAt) => {
    const measured = scheduledAt >= windowStart && scheduledAt < windowEnd;
    if (measured) pending++;
    appendOn(stripe, stream).then(
      () => {
        if (measured) latencies.push(performance.now() - scheduledAt);
      },
      (error) => {
        failed++;
        firstError ??= error;
      },
    ).finally(() => {
      if (measured) pending--;
    });
  };

  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (before === undefined && now >= windowStart) before = { cpu: cpuSecondsOf(pids), machine: machineTicks(), at: now };
      const due = Math.floor((Math.min(now, windowEnd) - start) / intervalMs);
      // The same schedule on every stripe: append i of each is due at start + i × interval.
      for (; sent < due; sent++) {
        const scheduledAt = start + sent * intervalMs;
        for (let s = 0; s < stripes; s++) send(s, streams[s][sent % streams[s].length], scheduledAt);
      }
      if (now >= windowEnd) {
        after = { cpu: cpuSecondsOf(pids), machine: machineTicks(), at: now };
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  const drainDeadline = performance.now() + drainMs;
  while (pending > 0 && performance.now() < drainDeadline) await new Promise((r) => setTimeout(r, 20));
  if (failed > 0) throw new Error(`fixed-rate load: ${failed} appends failed; the first: ${firstError?.stack ?? firstError}`);
  if (pending > 0) throw new Error(`fixed-rate load: ${pending} appends of the window not acknowledged within ${drainMs / 1000} s`);

  latencies.sort((a, b) => a - b);
  const cpuSeconds = after.cpu - before.cpu;
  const machine = { busy: after.machine.busy - before.machine.busy, total: after.machine.total - before.machine.total };
  return {
    appendsPerSec: latencies.length / ((after.at - before.at) / 1000),
    acked: latencies.length,
    failed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuSeconds,
    usPerAppend: (cpuSeconds * 1e6) / latencies.length,
    machineBusy: machine.total === 0 ? 0 : machine.busy / machine.total,
    load1: Number(readFileSync('/proc/loadavg', 'latin1').split(' ')[0]),
  };
}
