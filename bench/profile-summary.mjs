#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof ...`): the functions with the most
// self time, and self time by file.
//
//   node bench/profile-summary.mjs FILE.cpuprofile [--top 20] [--from US --to US]
//
// --from/--to keep only the samples taken in that window, in µs of the profile's clock (the
// monotonic clock: `process.hrtime.bigint() / 1000n` in any process of the machine), so a
// measured phase can be told from start-up; bench/mirrored-appends.mjs prints its window.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function shortUrl(url) {
  if (!url) return '';
  let p = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (p.startsWith(repoRoot + path.sep)) p = path.relative(repoRoot, p);
  return p;
}

/** @returns {{ totalMs, busyMs, functions: {name, where, selfMs}[], files: {file, selfMs}[] }} */
export function summarise(profile, window = { fromUs: -Infinity, toUs: Infinity }) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const { samples = [], timeDeltas = [] } = profile;
  let atUs = profile.startTime ?? 0;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time since the previous sample; charge it to the sample's node.
    const d = Math.max(0, timeDeltas[i] ?? 0);
    atUs += d;
    if (atUs < window.fromUs || atUs > window.toUs) continue;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + d);
  }
  const fns = new Map();
  const files = new Map();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const name = cf.functionName || '(anonymous)';
    const where = cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    totalUs += us;
    if (name === '(idle)') idleUs += us;
    const k = `${name}\u0000${where}`;
    const f = fns.get(k) ?? { name, where, selfMs: 0 };
    f.selfMs += us / 1000;
    fns.set(k, f);
    const file = cf.url ? shortUrl(cf.url) : name;
    files.set(file, (files.get(file) ?? 0) + us / 1000);
  }
  return {
    totalMs: totalUs / 1000,
    busyMs: (totalUs - idleUs) / 1000,
    functions: [...fns.values()].sort((a, b) => b.selfMs - a.selfMs),
    files: [...files].map(([file, selfMs]) => ({ file, selfMs })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

/** Markdown lines: top functions and files by self time, as a share of the non-idle time. */
export function formatSummary(s, top = 20) {
  const pct = (ms) => `${((100 * ms) / (s.busyMs || 1)).toFixed(1)}%`;
  const out = [
    `sampled ${(s.totalMs / 1000).toFixed(2)} s, of which not idle ${(s.busyMs / 1000).toFixed(2)} s (shares below are of the non-idle time)`,
    '',
    '| self ms | share | function | where |',
    '| ---: | ---: | --- | --- |',
  ];
  for (const f of s.functions.filter((f) => f.name !== '(idle)').slice(0, top)) {
    out.push(`| ${f.selfMs.toFixed(1)} | ${pct(f.selfMs)} | \`${f.name}\` | ${f.where} |`);
  }
  out.push('', '| self ms | share | file |', '| ---: | ---: | --- |');
  for (const f of s.files.filter((f) => f.file !== '(idle)').slice(0, Math.min(top, 12))) {
    out.push(`| ${f.selfMs.toFixed(1)} | ${pct(f.selfMs)} | ${f.file} |`);
  }
  return out.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--top');
  const top = ti >= 0 ? Number(args.splice(ti, 2)[1]) : 20;
  const fi = args.indexOf('--from');
  const fromUs = fi >= 0 ? Number(args.splice(fi, 2)[1]) : -Infinity;
  const toi = args.indexOf('--to');
  const toUs = toi >= 0 ? Number(args.splice(toi, 2)[1]) : Infinity;
  if (args.length !== 1) {
    console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N] [--from US --to US]');
    process.exit(1);
  }
  console.log(formatSummary(summarise(JSON.parse(readFileSync(args[0], 'utf8')), { fromUs, toUs }), top));
}
