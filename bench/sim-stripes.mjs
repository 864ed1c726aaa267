// Scale figures of a cluster of stripes, in the deterministic simulation (virtual time, simulated
// network, no sockets): N stripes of 3 servers, no voters, for N in 1, 10, 100 (or STRIPES=...).
// For each N it prints
//   (a) peer frames per stripe per second at idle, over IDLE_S virtual seconds once every stripe
//       has an active and every mirror is caught up, split into frames within a stripe and
//       frames between stripes (the actives' announcements);
//   (b) virtual time from a cold start until every stripe has an active;
//   (c) virtual time from killing every stripe's active at once until every stripe has a new one,
//       and the frames between stripes that failover cost per stripe (the new actives announcing
//       themselves to every other stripe's servers, once: they grow with the number of stripes).
// Goal: (a), (b) and (c) flat per stripe from 1 to 100 stripes.
//
//   npm run build && node bench/sim-stripes.mjs
//   STRIPES=1,10 IDLE_S=20 SEED=7 node bench/sim-stripes.mjs
//
// Timing is the simulation's group timing (election 1000 ms, mirror timeout 700 ms, lease 600 ms),
// network delays 1-5 ms one way, fsyncs up to 5 ms.
import { memoryStore } from '@kiln/store-memory';
import { Scheduler, SimCluster, SimNetwork, startGroupMember } from '@kiln/core/testing/simulation';

const stripeCounts = (process.env.STRIPES ?? '1,10,100').split(',').map(Number);
const idleSeconds = Number(process.env.IDLE_S ?? 10);
const seed = Number(process.env.SEED ?? 1);
const LIMIT_MS = 120_000;

/** One measurement of `stripes` stripes of 3 servers. */
async function measure(stripes) {
  const started = performance.now();
  const scheduler = new Scheduler({ seed });
  const network = new SimNetwork(scheduler, { delayMinMs: 1, delayMaxMs: 5 });
  const names = Array.from({ length: stripes }, (_, i) => `st${i}`);
  const members = names.flatMap((stripe) => [1, 2, 3].map((n) => ({ name: `${stripe}s${n}`, role: 'server', stripe })));
  const stripeOfServer = new Map(members.map((m) => [m.name, m.stripe]));
  const cluster = new SimCluster({ scheduler, network, createStore: () => memoryStore(), members, startMember: startGroupMember(), disk: { syncDelayMaxMs: 5 } });

  // Frames by kind, from the network's trace notes (`frame <from>-><to> <n>B`).
  const frames = { within: 0, across: 0 };
  const note = scheduler.note.bind(scheduler);
  scheduler.note = (line) => {
    const match = /^frame (\S+)->(\S+) /.exec(line);
    if (match) frames[stripeOfServer.get(match[1]) === stripeOfServer.get(match[2]) ? 'within' : 'across']++;
    note(line);
  };
  const waitFor = async (until, what) => {
    const from = scheduler.now;
    if ((await scheduler.run({ until, untilMs: from + LIMIT_MS })) !== 'done') throw new Error(`${stripes} stripes: ${what} not within ${LIMIT_MS} ms`);
    return scheduler.now - from;
  };
  /**
   * Waits until every stripe has an active other than `old[i]`, looking once per virtual ms (a
   * look after every task costs more than the run at 100 stripes); returns the median and the
   * last stripe's time from `from`.
   */
  const electionTimes = async (from, old, what) => {
    const at = cluster.stripes.map(() => undefined);
    while (at.some((t) => t === undefined)) {
      if (scheduler.now - from > LIMIT_MS) throw new Error(`${stripes} stripes: ${what} not within ${LIMIT_MS} ms`);
      await scheduler.run({ untilMs: scheduler.now + 1 });
      cluster.stripes.forEach((_, i) => {
        const active = at[i] === undefined ? cluster.activeName(i) : undefined;
        if (active !== undefined && active !== old[i]) at[i] = scheduler.now - from;
      });
    }
    const sorted = [...at].sort((a, b) => a - b);
    return { median: sorted[Math.floor(sorted.length / 2)], last: sorted[sorted.length - 1] };
  };

  // (b) Cold start.
  const t0 = scheduler.now;
  await scheduler.settle(cluster.start(), LIMIT_MS, 'start');
  const coldStart = await electionTimes(t0, [], 'an active in every stripe');
  await waitFor(() => cluster.converged(), 'convergence');

  // (a) Idle traffic, after a quiet second for the announcements' links to come up.
  await scheduler.run({ untilMs: scheduler.now + 1000 });
  const before = { ...frames };
  await scheduler.run({ untilMs: scheduler.now + idleSeconds * 1000 });
  const perStripeSecond = (kind) => (frames[kind] - before[kind]) / stripes / idleSeconds;
  const idle = { within: perStripeSecond('within'), across: perStripeSecond('across') };

  // (c) Every stripe's active killed at once.
  const killed = cluster.stripes.map((_, i) => cluster.activeName(i));
  for (const name of killed) await cluster.crash(name);
  const beforeFailover = frames.across;
  const failover = await electionTimes(scheduler.now, killed, 'a new active in every stripe');
  await scheduler.run({ untilMs: scheduler.now + 2000 });
  const announcedPerStripe = (frames.across - beforeFailover) / stripes;

  await scheduler.settle(cluster.closeAll(), LIMIT_MS, 'shutdown');
  await cluster.dispose();
  return { stripes, ...idle, coldStart, failover, announcedPerStripe, realMs: performance.now() - started };
}

const rows = [];
for (const stripes of stripeCounts) rows.push(await measure(stripes));
const fixed = (n, digits = 1) => n.toFixed(digits).padStart(9);
console.log(`stripes of 3 servers, no voters; seed ${seed}; idle window ${idleSeconds} s (virtual)`);
console.log(' stripes | idle frames/stripe/s: within | across | cold start, ms: median stripe | last stripe | failover of every active, ms: median | last | frames across/stripe per failover | real s');
for (const r of rows) {
  console.log(`${String(r.stripes).padStart(8)} | ${fixed(r.within)} | ${fixed(r.across)} | ${fixed(r.coldStart.median, 0)} | ${fixed(r.coldStart.last, 0)} | ${fixed(r.failover.median, 0)} | ${fixed(r.failover.last, 0)} | ${fixed(r.announcedPerStripe, 0)} | ${fixed(r.realMs / 1000)}`);
}
