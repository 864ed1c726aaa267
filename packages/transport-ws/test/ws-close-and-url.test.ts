// Close frames and addresses: reasons fit the 123 bytes a close frame holds without splitting a
// character, codes say what kind of close it was, and ws:// and wss:// URLs parse and format back.
import { describe, expect, it } from 'vitest';
import { ConnectionClosedError, FrameTooLargeError, InvalidArgumentError, ProtocolError } from '@kiln/core';
import { CLOSE_REASON_BYTES_MAX, closeCodeFor, closeReason, remoteCloseOf } from '../src/ws-close.js';
import { formatWsUrl, parseWsUrl } from '../src/ws-url.js';

const bytes = (text: string): number => new TextEncoder().encode(text).byteLength;

describe('close reason', () => {
  it('keeps a short reason as it is', () => {
    expect(closeReason('client is done')).toBe('client is done');
    expect(closeReason('x'.repeat(CLOSE_REASON_BYTES_MAX))).toHaveLength(CLOSE_REASON_BYTES_MAX);
  });

  it('cuts a long reason on a character boundary, within the limit, marked with an ellipsis', () => {
    for (const unit of ['x', 'ü', '€', '𝄞']) {
      for (let count = 1; count < 200; count += 7) {
        const reason = closeReason(unit.repeat(count));
        expect(bytes(reason)).toBeLessThanOrEqual(CLOSE_REASON_BYTES_MAX);
        if (bytes(unit.repeat(count)) > CLOSE_REASON_BYTES_MAX) {
          expect(reason.endsWith('…')).toBe(true);
          expect(reason.slice(0, -1)).toBe(unit.repeat(reason.slice(0, -1).length / unit.length));
        }
      }
    }
  });

  it('picks the code from the error', () => {
    expect(closeCodeFor({ reason: 'bye', local: true })).toBe(1000);
    expect(closeCodeFor({ reason: 'big', local: true, error: new FrameTooLargeError(10, 5) })).toBe(1009);
    expect(closeCodeFor({ reason: 'bad', local: true, error: new ProtocolError('bad') })).toBe(1008);
    expect(closeCodeFor({ reason: 'oops', local: true, error: new Error('oops') })).toBe(1011);
  });

  it('reads the other side close: its reason, or what the code says', () => {
    expect(remoteCloseOf(1000, 'done')).toEqual({ reason: 'done' });
    expect(remoteCloseOf(1005, '')).toEqual({ reason: 'the peer closed the connection' });
    expect(remoteCloseOf(4009, '')).toEqual({ reason: 'the peer closed the connection with code 4009' });
    const lost = remoteCloseOf(1006, '');
    expect(lost.reason).toBe('connection lost');
    expect(lost.error).toBeInstanceOf(ConnectionClosedError);
  });
});

describe('ws urls', () => {
  it('parses and formats ws:// and wss://, with default ports, paths and IPv6 hosts', () => {
    expect(parseWsUrl('ws://127.0.0.1:7411')).toEqual({ secure: false, host: '127.0.0.1', port: 7411, path: '/' });
    expect(parseWsUrl('wss://example.com/kiln')).toEqual({ secure: true, host: 'example.com', port: 443, path: '/kiln' });
    expect(parseWsUrl('ws://example.com')).toMatchObject({ port: 80 });
    expect(parseWsUrl('ws://[::1]:0')).toEqual({ secure: false, host: '::1', port: 0, path: '/' });
    for (const url of ['ws://127.0.0.1:7411', 'wss://example.com:443/kiln', 'ws://[::1]:9']) expect(formatWsUrl(parseWsUrl(url))).toBe(url);
  });

  it('refuses what is not a ws:// or wss:// URL', () => {
    for (const url of ['tcp://127.0.0.1:1', 'http://x:1', 'not a url', '']) expect(() => parseWsUrl(url)).toThrow(InvalidArgumentError);
  });
});
