/**
 * A small HTTP listener on `node:http` (or `node:https` with the member's certificate): GET routes
 * by exact path, each answering with a status, a content type and a body, or taking the response
 * over (server-sent events). Anything else is 404 or 405. It binds where {@link checkHttpBind}
 * allows, and holds at most {@link HttpLimits.connectionsMax} connections, each given a few
 * seconds to send its request: idle or slow clients cannot take it over.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { HTTP_CONNECTIONS_MAX, HTTP_HEADERS_TIMEOUT_MS, HTTP_KEEP_ALIVE_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS, isLoopbackHost } from '@kiln/core';
import { checkHttpBind } from './bind-policy.js';

/** A plain answer. */
export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
  /** More headers (`www-authenticate` on a 401). */
  headers?: Record<string, string>;
}

/** A route: a plain answer, or the response taken over (a stream). */
export type HttpRoute = (request: IncomingMessage, response: ServerResponse) => Promise<HttpAnswer | undefined> | HttpAnswer | undefined;

/** A running HTTP listener. */
export interface HttpListener {
  /** `http://host:port` or `https://host:port`, with the real port. */
  readonly url: string;
  /** Stops accepting, ends open responses (streams included), and resolves once the port is free. */
  close(): Promise<void>;
}

export function json(status: number, value: unknown): HttpAnswer {
  return { status, contentType: 'application/json; charset=utf-8', body: `${JSON.stringify(value)}\n` };
}

/** The member's certificate and key, PEM. */
export interface HttpCertificate {
  cert: string;
  key: string;
}

/** What guards the listener: the certificate https serves with, and whether every route but the probes asks for credentials. */
export interface HttpSecurity {
  certificate: HttpCertificate | undefined;
  auth: boolean;
}

/** What bounds the listener's connections (see `limits.ts` for each). */
export interface HttpLimits {
  /** Connections held at once; a further one is closed as soon as it is accepted. @default HTTP_CONNECTIONS_MAX */
  connectionsMax: number;
  /** ms a connection has to send a request's headers. @default HTTP_HEADERS_TIMEOUT_MS */
  headersTimeoutMs: number;
  /** ms a connection has to send a whole request. @default HTTP_REQUEST_TIMEOUT_MS */
  requestTimeoutMs: number;
  /** ms a connection may stay open with no request after an answer. @default HTTP_KEEP_ALIVE_TIMEOUT_MS */
  keepAliveTimeoutMs: number;
}

export const defaultHttpLimits: Readonly<HttpLimits> = Object.freeze({
  connectionsMax: HTTP_CONNECTIONS_MAX,
  headersTimeoutMs: HTTP_HEADERS_TIMEOUT_MS,
  requestTimeoutMs: HTTP_REQUEST_TIMEOUT_MS,
  keepAliveTimeoutMs: HTTP_KEEP_ALIVE_TIMEOUT_MS,
});

/**
 * Listens on `url` (`http://` or `https://host:port`; port 0 picks one), where `security` lets it.
 * @throws ConfigError naming `field`
 */
export async function startHttpListener(url: string, field: string, routes: ReadonlyMap<string, HttpRoute>, security: HttpSecurity, limits: HttpLimits = defaultHttpLimits): Promise<HttpListener> {
  const { host, port, https, loopback } = checkHttpBind(url, field, { certificate: security.certificate !== undefined, auth: security.auth });
  const serve = (request: IncomingMessage, response: ServerResponse): void => {
    // A page of another site can rebind its own name to 127.0.0.1 and read what this listener shows; it sends that name.
    if (loopback && !isLoopbackHost(hostnameOf(request.headers.host ?? ''))) return answer(response, json(403, { error: 'this listener answers only requests for a loopback name (127.0.0.1, [::1], localhost)' }));
    const path = pathOf(request.url ?? '/');
    // A request line may name anything (`GET http://[`); new URL would throw out of the listener and end the process.
    if (path === undefined) return answer(response, json(400, { error: 'the request target is not a path' }));
    const route = routes.get(path);
    if (!route) return answer(response, json(404, { error: `no such path: ${path}`, paths: [...routes.keys()] }));
    if (request.method !== 'GET' && request.method !== 'HEAD') return answer(response, { ...json(405, { error: `${request.method} is not served; use GET` }), headers: { allow: 'GET, HEAD' } });
    Promise.resolve(route(request, response)).then(
      (result) => result && answer(response, result),
      (error: unknown) => answer(response, json(500, { error: error instanceof Error ? error.message : String(error) })),
    );
  };
  const timeouts = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node looks for connections past those timeouts this often (30 s by default, which let a slow client hold on that long).
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  };
  const server = https ? createHttpsServer({ ...security.certificate, ...timeouts }, serve) : createHttpServer(timeouts, serve);
  server.maxConnections = limits.connectionsMax;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  let closing: Promise<void> | undefined;
  return {
    url: `${https ? 'https' : 'http'}://${shownHost}:${bound.port}`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

/** The host name a `Host` header names ('' when it does not parse). */
function hostnameOf(host: string): string {
  return URL.canParse(`http://${host}`) ? new URL(`http://${host}`).hostname : '';
}

/** The path of a request's target, or undefined when it does not parse as a URL. */
function pathOf(target: string): string | undefined {
  return URL.canParse(target, PATH_BASE) ? new URL(target, PATH_BASE).pathname : undefined;
}

const PATH_BASE = 'http://local';

function answer(response: ServerResponse, { status, contentType, body, headers }: HttpAnswer): void {
  if (response.headersSent) return;
  response.writeHead(status, { ...headers, 'content-type': contentType, 'cache-control': 'no-store' });
  response.end(body);
}
