/**
 * WebSocket client channel over a WHATWG-style `WebSocket` (isomorphic):
 * the browser's standard `WebSocket`, or the `ws` package's class on Node
 * (same event API). No Node-only import here, so the browser bundle can use
 * it as is; `node-client.ts` supplies `ws` on Node.
 */
import { ProtocolAborted } from '../errors.js';
import { BufferedChannel, type Channel, type Connector } from './channel.js';

/** The subset of the WHATWG WebSocket API used here. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (ev: any) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any -- DOM and ws event types differ; fields are read defensively
}

export type WebSocketFactory = (url: string) => WebSocketLike;

const OPEN = 1;

class WebSocketChannel extends BufferedChannel {
  readonly remote: string;

  constructor(private readonly ws: WebSocketLike, remote: string) {
    super();
    this.remote = remote;
    ws.addEventListener('message', (ev: { data: unknown }) => {
      if (this.closed) return;
      const d = ev.data;
      let frame: Uint8Array;
      if (d instanceof ArrayBuffer) frame = new Uint8Array(d);
      else if (d instanceof Uint8Array) frame = d;
      else if (typeof d === 'string') frame = new TextEncoder().encode(d);
      else return;
      this.deliver(frame);
    });
    ws.addEventListener('close', (ev: { code?: number; reason?: string }) => this.markClosed({ code: ev.code ?? 1006, reason: ev.reason ?? '' }));
  }

  send(frame: Uint8Array): void {
    if (this.closed || this.ws.readyState !== OPEN) return;
    this.ws.send(frame);
  }

  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    try {
      this.ws.close(code, reason);
    } catch {
      // Already closing.
    }
    this.markClosed({ code, reason });
  }
}

/** Open a WebSocket to `url`; resolves once open, rejects (CONNECTION_FAILED) otherwise. */
export function webSocketConnector(url: string, factory: WebSocketFactory): Connector {
  return () =>
    new Promise<Channel>((resolve, reject) => {
      let ws: WebSocketLike;
      try {
        ws = factory(url);
      } catch (err) {
        reject(new ProtocolAborted(`cannot connect to ${url}: ${err instanceof Error ? err.message : String(err)}`, { code: 'CONNECTION_FAILED' }));
        return;
      }
      ws.binaryType = 'arraybuffer';
      let opened = false;
      // Listeners registered before 'open' so no early frame is missed.
      const channel = new WebSocketChannel(ws, url);
      ws.addEventListener('open', () => {
        opened = true;
        resolve(channel);
      });
      ws.addEventListener('error', (ev: { message?: string; error?: { message?: string } }) => {
        if (!opened) reject(new ProtocolAborted(`cannot connect to ${url}: ${ev.error?.message ?? ev.message ?? 'connection error'}`, { code: 'CONNECTION_FAILED' }));
      });
      ws.addEventListener('close', (ev: { code?: number }) => {
        if (!opened) reject(new ProtocolAborted(`cannot connect to ${url} (code ${ev.code ?? 1006})`, { code: 'CONNECTION_FAILED' }));
      });
    });
}
