/**
 * A member's HTTP listener, put together: `/health/live`, `/health/ready`, `/metrics`, the status
 * page at `/` with its feed at `/events`, and `/cluster.json` (the page's picture, once).
 */
import type { ClusterConfig, ServerObservation, Transport } from '@kiln/core';
import { ClusterFeed } from './cluster-feed.js';
import { liveness, readiness, type MemberKind } from './health.js';
import { json, startHttpListener, type HttpListener, type HttpRoute } from './http-listener.js';
import { metricsEndpoint } from './metrics.js';
import { STATUS_PAGE_HTML } from './status-page.js';

/** The member the listener reports on. */
export interface Observed {
  name: string;
  kind: MemberKind;
  /** One observation per stripe it serves. */
  observe(): readonly ServerObservation[];
  /** How it dials the other members, for the status page (the cluster's CA and its own certificate under TLS). */
  transports: Transport[];
}

/** Starts the HTTP listener of `member` on `url`. @throws ConfigError naming `field` for an address it may not bind */
export async function serveObservability(config: ClusterConfig, member: Observed, url: string, field: string): Promise<HttpListener> {
  const metrics = metricsEndpoint(member.name, () => member.observe());
  const feed = new ClusterFeed(config, member.name, member.transports);
  const routes = new Map<string, HttpRoute>([
    ['/', () => ({ status: 200, contentType: 'text/html; charset=utf-8', body: STATUS_PAGE_HTML })],
    ['/health/live', () => liveness(member.name)],
    ['/health/ready', () => readiness(member.kind, member.observe())],
    ['/metrics', async () => ({ status: 200, contentType: metrics.registry.contentType, body: await metrics.scrape() })],
    ['/events', (_request, response) => void feed.watch(response)],
    ['/cluster.json', async () => json(200, await feed.now())],
  ]);
  const listener = await startHttpListener(url, field, routes);
  return {
    url: listener.url,
    close: () => {
      feed.close();
      return listener.close();
    },
  };
}
