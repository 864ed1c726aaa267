/**
 * The server URLs a link dials: those it was given (until narrowed to one stripe's), then those
 * the group named in its last welcome, so reconnects follow membership changes.
 */
import type { Transport } from '../transport/transport.js';

export class UrlRotation {
  /** The group's servers as the last server greeted with them, those this client has a transport for. */
  private learned: readonly string[] = [];

  constructor(
    /** The URLs reconnects start from. */
    private given: readonly string[],
    private readonly transports: readonly Transport[],
  ) {}

  /** The first URL given. */
  get first(): string | undefined {
    return this.given[0];
  }

  /** Reconnects start from these URLs from now on (with those the group names): a stripe's servers. */
  narrowTo(urls: readonly string[]): void {
    if (urls.length > 0) this.given = urls;
  }

  /** Keeps the group's client URLs a server named (the welcome's check bounds them). */
  learn(servers: readonly string[] | undefined): void {
    if (!servers) return;
    this.learned = servers.filter((url) => this.transports.some((t) => t.schemes.includes(url.slice(0, Math.max(url.indexOf(':'), 0)))));
  }

  /** The URLs reconnects go round: those given, then those the group named. */
  get all(): readonly string[] {
    const extra = this.learned.filter((url) => !this.given.includes(url));
    return extra.length === 0 ? this.given : [...this.given, ...extra];
  }
}
