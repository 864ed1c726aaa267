/**
 * The status page's feed: while a page watches, it asks the whole cluster for its state once a
 * second (the same `clusterStatus` as `kiln status --config`), keeps the commit rate over the last
 * minutes and a list of recent events found by comparing each answer with the one before, and
 * pushes every new picture to the pages as a server-sent event. With no page open it asks nothing.
 */
import type { ServerResponse } from 'node:http';
import type { ClusterConfig } from '@kiln/core';
import { clusterStatus, type ClusterStatus } from '../group-status.js';
import type { Dial } from '../transports.js';

/** One point of the rate chart. */
export interface RatePoint {
  /** Wall-clock milliseconds. */
  at: number;
  /** Records committed per second, every stripe together, since the point before. */
  perSecond: number;
}

/** Something that happened to the cluster, as the page lists it. */
export interface ClusterEvent {
  at: number;
  text: string;
}

/** What each server-sent event carries. */
export interface FeedPicture {
  at: number;
  /** The member serving the page. */
  servedBy: string;
  cluster: ClusterStatus;
  rate: RatePoint[];
  events: ClusterEvent[];
}

const POLL_MS = 1000;
/** Ten minutes of the chart at one point a poll. */
const RATE_POINTS_MAX = 600;
const EVENTS_MAX = 50;
/** A mirror catching up is reported at most this often. */
const CATCH_UP_REPORT_MS = 5000;

export class ClusterFeed {
  private readonly pages = new Set<ServerResponse>();
  private polling = false;
  private timer: NodeJS.Timeout | undefined;
  /** The last poll: `at` on the wall clock for the page, `monoMs` on the monotonic clock for the rate (a wall step would skew it). */
  private last: { at: number; monoMs: number; cluster: ClusterStatus } | undefined;
  private readonly rate: RatePoint[] = [];
  private readonly events: ClusterEvent[] = [];
  private readonly catchUpReported = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly config: ClusterConfig,
    private readonly servedBy: string,
    private readonly dial: Dial,
  ) {}

  /** Takes over a response as an event stream until the page goes. */
  watch(response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    response.write(': kiln cluster feed\n\n');
    this.pages.add(response);
    response.on('close', () => this.pages.delete(response));
    if (this.last) this.send(response, this.picture(this.last.at, this.last.cluster));
    if (!this.polling) void this.poll();
  }

  /** The cluster now, asked at once (for `/cluster.json`). */
  async now(): Promise<FeedPicture> {
    const cluster = await clusterStatus(this.config, this.dial);
    return this.picture(Date.now(), cluster);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const page of this.pages) page.end();
    this.pages.clear();
  }

  private async poll(): Promise<void> {
    this.polling = true;
    while (this.pages.size > 0 && !this.closed) {
      const started = performance.now();
      const cluster = await clusterStatus(this.config, this.dial);
      const at = Date.now();
      this.record(at, performance.now(), cluster);
      const picture = this.picture(at, cluster);
      for (const page of this.pages) this.send(page, picture);
      await new Promise<void>((resolve) => (this.timer = setTimeout(resolve, Math.max(0, POLL_MS - (performance.now() - started)))));
    }
    this.polling = false;
  }

  private picture(at: number, cluster: ClusterStatus): FeedPicture {
    return { at, servedBy: this.servedBy, cluster, rate: this.rate, events: this.events };
  }

  private send(page: ServerResponse, picture: FeedPicture): void {
    page.write(`data: ${JSON.stringify(picture)}\n\n`);
  }

  /** Adds the rate point and the events since the last answer. */
  private record(at: number, monoMs: number, cluster: ClusterStatus): void {
    const last = this.last;
    this.last = { at, monoMs, cluster };
    if (!last) return;
    let committed = 0;
    for (const stripe of cluster.stripes) {
      const before = lastLsnOf(last.cluster, stripe.name);
      const now = lastLsnOf(cluster, stripe.name);
      if (before !== undefined && now !== undefined) committed += Math.max(0, now - before);
    }
    this.rate.push({ at, perSecond: Math.round((committed * 1000) / Math.max(1, monoMs - last.monoMs)) });
    if (this.rate.length > RATE_POINTS_MAX) this.rate.shift();
    for (const text of this.changes(last.cluster, cluster, at)) this.events.unshift({ at, text });
    this.events.splice(EVENTS_MAX);
  }

  private changes(before: ClusterStatus, now: ClusterStatus, at: number): string[] {
    const out: string[] = [];
    for (const stripe of now.stripes) {
      const old = before.stripes.find((s) => s.name === stripe.name);
      if (!old) continue;
      if (stripe.active !== old.active || (stripe.term !== old.term && stripe.active !== null)) {
        out.push(stripe.active === null ? `stripe ${stripe.name}: no active (was ${old.active})` : `stripe ${stripe.name}: ${stripe.active} is the active in term ${stripe.term}${old.active ? ` (was ${old.active})` : ''}`);
      }
      for (const member of stripe.members) {
        const was = old.members.find((m) => m.name === member.name);
        if (!was) continue;
        if (was.reachable !== member.reachable) out.push(`${member.name} ${member.reachable ? `answers again (${member.state})` : 'does not answer'}`);
        if (was.inSync === true && member.inSync === false) out.push(`${member.name} left the in-sync set of stripe ${stripe.name}`);
        if (was.inSync === false && member.inSync === true) out.push(`${member.name} joined the in-sync set of stripe ${stripe.name}`);
        if (member.inSync === false && member.reachable && (member.lag ?? 0) > 0 && at - (this.catchUpReported.get(member.name) ?? 0) >= CATCH_UP_REPORT_MS) {
          this.catchUpReported.set(member.name, at);
          out.push(`${member.name} catching up: ${member.lag} records to go`);
        }
      }
    }
    for (const voter of now.voters) {
      const was = before.voters.find((v) => v.name === voter.name);
      if (was && was.reachable !== voter.reachable) out.push(`voter ${voter.name} ${voter.reachable ? 'answers again' : 'does not answer'}`);
    }
    return out;
  }
}

/** The stripe's log end: its active's, or the furthest member's while it has none. */
function lastLsnOf(cluster: ClusterStatus, stripe: string): number | undefined {
  const block = cluster.stripes.find((s) => s.name === stripe);
  const lsns = block?.members.map((m) => m.lastLsn).filter((lsn): lsn is number => lsn !== null) ?? [];
  return lsns.length > 0 ? Math.max(...lsns) : undefined;
}
