// A test cluster whose servers and voters each serve HTTP (health, metrics, status page) on a
// free fixed port given in the cluster file, and small helpers to ask those endpoints.
import { readFile, writeFile } from 'node:fs/promises';
import { cluster, freeFixedPort, type Member, type seededRandom } from './cluster.js';
import { parsePrometheusText, type Family } from './prometheus.js';

export interface ObservedMember extends Member {
  /** `http://127.0.0.1:PORT` of its HTTP listener. */
  http: string;
}

/** {@link cluster}, with an `http` address for every server and voter. */
export async function observedCluster(servers: number, voters: number, root: string, random: ReturnType<typeof seededRandom>): Promise<{ file: string; members: ObservedMember[] }> {
  const { file, members } = await cluster(servers, voters, root, random, 'memory');
  const observed: ObservedMember[] = [];
  for (const m of members) observed.push({ ...m, http: `http://127.0.0.1:${await freeFixedPort(() => random.int(20_000, 30_000))}` });
  const config = JSON.parse(await readFile(file, 'utf8')) as { servers: Array<{ name: string; http?: string }>; voters: Array<{ name: string; http?: string }> };
  for (const entry of [...config.servers, ...config.voters]) entry.http = observed.find((m) => m.name === entry.name)!.http;
  await writeFile(file, JSON.stringify(config));
  return { file, members: observed };
}

/** GETs `url`: its status and body, or undefined when nothing answers. */
export async function get(url: string): Promise<{ status: number; body: string; type: string | null } | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
  } catch {
    return undefined;
  }
}

/** Scrapes `/metrics` and parses it strictly. */
export async function scrape(http: string): Promise<Map<string, Family>> {
  const answer = await get(`${http}/metrics`);
  if (answer?.status !== 200) throw new Error(`GET ${http}/metrics answered ${answer?.status ?? 'nothing'}`);
  return parsePrometheusText(answer.body);
}
