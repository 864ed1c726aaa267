/**
 * Which web pages may open a WebSocket to a listener. A browser lets any page dial any address,
 * with the page's `Origin` in the upgrade request: without a check, a page of any site the user
 * opens could read and append to a Kiln server on their machine (`ws://127.0.0.1:7411`).
 * A request without `Origin` is no browser's, and is let in. A page is let in when its origin is
 * listed, when it was served from the very host it dials named by an IP address, or when both
 * are this machine (`localhost`, `127.x.x.x`, `[::1]`). A host name is not trusted for that:
 * a page of another site can rebind its own name to the server's address.
 */
import { isLoopbackHost } from '@kiln/core';

/** Whether an upgrade request carrying `origin` (empty: none) and `host` (its `Host` header) may connect. */
export function originAllowed(origin: string, host: string, allowed: readonly string[]): boolean {
  if (origin === '' || allowed.includes('*') || allowed.includes(origin)) return true;
  const page = hostnameOf(origin);
  const dialled = hostnameOf(`ws://${host}`);
  if (page === undefined || dialled === undefined) return false;
  if (isLoopbackHost(page) && isLoopbackHost(dialled)) return true;
  return page === dialled && isIpAddress(dialled);
}

function hostnameOf(url: string): string | undefined {
  return URL.canParse(url) ? new URL(url).hostname : undefined;
}

function isIpAddress(hostname: string): boolean {
  return hostname.startsWith('[') || /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname);
}
