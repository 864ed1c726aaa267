/**
 * A member's HTTP listener, put together: `/health/live`, `/health/ready`, `/metrics`, the status
 * page at `/` with its feed at `/events`, and `/cluster.json` (the page's picture, once). In a
 * cluster with `auth`, every path but the two health probes asks for credentials ({@link httpGate}),
 * and the probes answer only true or false: they stay open to load balancers.
 */
import type { Authenticator, ClusterConfig, ServerObservation } from '@kiln/core';
import type { Dial } from '../transports.js';
import { ClusterFeed } from './cluster-feed.js';
import { liveness, readiness, type MemberKind } from './health.js';
import { httpGate } from './http-auth.js';
import { json, startHttpListener, type HttpAnswer, type HttpCertificate, type HttpListener, type HttpRoute } from './http-listener.js';
import { metricsEndpoint } from './metrics.js';
import { STATUS_PAGE_HTML } from './status-page.js';

/** The member the listener reports on. */
export interface Observed {
  name: string;
  kind: MemberKind;
  /** One observation per stripe it serves. */
  observe(): readonly ServerObservation[];
  /** How it dials the other members for the status page: the cluster's CA and its own certificate under TLS, credentials under auth. */
  dial: Dial;
}

/** What guards the listener: the member's certificate (for https), and the check of credentials in a cluster with `auth`. */
export interface HttpGuard {
  certificate: HttpCertificate | undefined;
  authenticator: Authenticator | undefined;
}

/** Starts the HTTP listener of `member` on `url`. @throws ConfigError naming `field` for an address it may not bind */
export async function serveObservability(config: ClusterConfig, member: Observed, url: string, field: string, guard: HttpGuard): Promise<HttpListener> {
  const metrics = metricsEndpoint(member.name, () => member.observe());
  const feed = new ClusterFeed(config, member.name, member.dial);
  const { authenticator, certificate } = guard;
  const gate = authenticator && httpGate(authenticator, certificate ? 'https' : 'http');
  const guarded = (route: HttpRoute): HttpRoute => (gate ? async (request, response) => (await gate(request)) ?? route(request, response) : route);
  // Under auth the probes say only yes or no: who is active, and in which term, is for those who signed in.
  const probe = (answer: () => HttpAnswer): HttpRoute => (authenticator ? () => bare(answer()) : answer);
  const routes = new Map<string, HttpRoute>([
    ['/', guarded(() => ({ status: 200, contentType: 'text/html; charset=utf-8', body: STATUS_PAGE_HTML }))],
    ['/health/live', probe(() => liveness(member.name))],
    ['/health/ready', probe(() => readiness(member.kind, member.observe()))],
    ['/metrics', guarded(async () => ({ status: 200, contentType: metrics.registry.contentType, body: await metrics.scrape() }))],
    ['/events', guarded((_request, response) => void feed.watch(response))],
    ['/cluster.json', guarded(async () => json(200, await feed.now()))],
  ]);
  const listener = await startHttpListener(url, field, routes, { certificate, auth: authenticator !== undefined });
  return {
    url: listener.url,
    close: () => {
      feed.close();
      return listener.close();
    },
  };
}

/** A probe's answer without its reasons: the status, and `ok` true or false. */
function bare({ status }: HttpAnswer): HttpAnswer {
  return json(status, { ok: status === 200 });
}
