// Kiln from a web page: connect over WebSocket, append an event per click, and show a live
// subscription of the stream. `npm run example:browser` builds it and serves it with a Kiln server
// (serve.mjs); the page dials ws://127.0.0.1:7411 unless given ?port=N (or ?url=wss://host:port),
// and optionally &stream=name. See docs/transports.md.
import { connect, ConnectionRefusedError, TimeoutError, type KilnClient, type RecordedEvent } from '@kiln/core/client';
import { wsTransport } from '@kiln/transport-ws';

/** What the page shows for one event. */
interface ShownEvent {
  version: number;
  type: string;
  text: string;
}

/** Small hooks for tests and for poking at the page from the console. */
interface KilnPage {
  /** Resolves once the client is connected and subscribed. */
  ready: Promise<void>;
  /** True once connected. */
  connected: boolean;
  /** Appends one `MessagePosted` event; resolves with its version. */
  append(text: string): Promise<number>;
  /** Events the subscription delivered so far, in order. */
  events(): ShownEvent[];
  /** Errors seen, as text. */
  errors: string[];
}

declare global {
  interface Window {
    kiln: KilnPage;
  }
}

const params = new URLSearchParams(location.search);
const url = params.get('url') ?? `ws://127.0.0.1:${params.get('port') ?? '7411'}`;
const stream = params.get('stream') ?? 'browser-demo';

const element = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const statusElement = element<HTMLSpanElement>('status');
const list = element<HTMLOListElement>('events');
const form = element<HTMLFormElement>('append-form');
const input = element<HTMLInputElement>('message');
const button = element<HTMLButtonElement>('append');
element('stream').textContent = stream;
element('url').textContent = url;

const shown: ShownEvent[] = [];
let client: KilnClient | undefined;

function setStatus(state: 'connecting' | 'connected' | 'failed', text: string): void {
  statusElement.dataset.state = state;
  statusElement.textContent = text;
}

function show(event: RecordedEvent): void {
  const data = event.data as { text?: unknown } | null;
  const item: ShownEvent = { version: event.version, type: event.type, text: typeof data?.text === 'string' ? data.text : JSON.stringify(data) };
  shown.push(item);
  const li = document.createElement('li');
  li.value = item.version + 1;
  li.dataset.version = String(item.version);
  li.textContent = `${item.type}: ${item.text} `;
  const code = document.createElement('code');
  code.textContent = `(version ${item.version}, lsn ${event.lsn})`;
  li.append(code);
  list.append(li);
}

async function append(text: string): Promise<number> {
  if (client === undefined) throw new Error('not connected yet');
  const result = await client.append(stream, [{ type: 'MessagePosted', data: { text, from: 'browser' } }]);
  return result.firstVersion;
}

/** What the page says when the server does not answer: a browser does not tell why a WebSocket failed. */
function unreachable(reason: string): string {
  return `cannot reach ${url} (${reason}): is \`npm run example:browser\` running?`;
}

async function start(): Promise<void> {
  // connect() fails rather than wait forever: refused at once, or a TimeoutError when the handshake gets no answer.
  client = await connect(url, { transports: [wsTransport()] });
  client.subscribe(stream).subscribe({
    next: show,
    error: (error: unknown) => {
      page.errors.push(String(error));
      setStatus('failed', `subscription failed: ${String(error)}`);
    },
  });
  page.connected = true;
  button.disabled = false;
  setStatus('connected', 'connected');
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = input.value.trim();
  if (text === '') return;
  input.value = '';
  append(text).catch((error: unknown) => page.errors.push(String(error)));
});

const page: KilnPage = {
  ready: Promise.resolve(),
  connected: false,
  append,
  events: () => shown.slice(),
  errors: [],
};
page.ready = start().catch((error: unknown) => {
  page.errors.push(String(error));
  const reason = error instanceof ConnectionRefusedError ? 'refused' : error instanceof TimeoutError ? 'no answer' : undefined;
  setStatus('failed', reason === undefined ? `could not connect: ${String(error)}` : unreachable(reason));
  throw error;
});
window.kiln = page;
