/**
 * The TLS rules across a cluster file's sections: a server that listens on `tls://` or `wss://`
 * has a certificate and key; with the top-level `tls`, peer links are mutual TLS, so every peer
 * address is `tls://` and every server and voter has its certificate; without it, no peer address
 * is `tls://` (nothing would say whom to trust).
 */
import { ConfigError } from '../errors.js';
import type { ParsedServer, ParsedVoter } from './sections.js';
import type { ClusterTlsConfig } from './types.js';

const TLS_SCHEMES = ['tls:', 'wss:'];

function scheme(url: string): string {
  return url.slice(0, url.indexOf(':') + 1);
}

/** @throws ConfigError naming the field that breaks a rule */
export function checkTlsRules(tls: ClusterTlsConfig | undefined, servers: readonly ParsedServer[], voters: readonly ParsedVoter[]): void {
  for (const { server, path } of servers) {
    server.listen.forEach((url, i) => {
      if (TLS_SCHEMES.includes(scheme(url)) && server.tls === undefined) {
        throw new ConfigError(`${path}.tls`, `is required: ${path}.listen[${i}] serves TLS, which needs the server's certFile and keyFile`);
      }
    });
  }
  const members = [
    ...servers.map(({ server, path }) => ({ peer: server.peer, tls: server.tls, path })),
    ...voters.map(({ voter, path }) => ({ peer: voter.peer, tls: voter.tls, path })),
  ];
  for (const { peer, tls: own, path } of members) {
    if (tls === undefined) {
      if (peer !== undefined && scheme(peer) === 'tls:') {
        throw new ConfigError(`${path}.peer`, "is tls:// but the cluster has no top-level 'tls' section (caFile): peer links over TLS are mutual, and need the cluster's CA");
      }
      continue;
    }
    if (peer !== undefined && scheme(peer) !== 'tls:') {
      throw new ConfigError(`${path}.peer`, `must be a tls:// address: the cluster has a 'tls' section, so peer links are mutual TLS (got ${scheme(peer)}//)`);
    }
    if (own === undefined) throw new ConfigError(`${path}.tls`, "is required: the cluster has a 'tls' section, so every server and voter presents its certificate (certFile, keyFile)");
  }
}
