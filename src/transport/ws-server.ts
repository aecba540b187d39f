/**
 * WebSocket server transport (Node, the `ws` package): one HTTP(S) server
 * on one port serves the status page / JSON / demo assets and upgrades
 * WebSocket connections, each becoming a {@link Channel} for the coordinator.
 *
 * Per-connection limits, enforced here so the coordinator never sees the
 * offending traffic:
 * - maximum message size: `ws` `maxPayload` (close 1009 before buffering);
 * - messages per second: a token bucket (close 4029 when exceeded);
 * - idle timeout: a ping every half period; a peer that neither sends nor
 *   answers pings for `idleTimeoutMs` is closed (4008);
 * - a connection cap (`maxConnections`, 1013 beyond it).
 * Each violation closes that connection only. TLS: pass `tls: { cert, key }`
 * (PEM) to serve `https:` / `wss:` (Node's `https.createServer`).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { BufferedChannel, CloseCode, type Channel, type ServerTransport } from './channel.js';
import { TokenBucket } from './limits.js';

export interface WebSocketServerOptions {
  host?: string;
  /** 0 = let the OS choose (read it back from `address()`). */
  port?: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Largest message accepted, bytes (default 64 MiB). */
  maxPayload?: number;
  /** Sustained messages per second per connection (default 50). */
  messagesPerSecond?: number;
  /** Bucket size: messages accepted in a burst (default 100). */
  burst?: number;
  /** Close a peer silent this long (default 60000 ms; 0 = never). */
  idleTimeoutMs?: number;
  maxConnections?: number;
  /** Plain HTTP requests (status page, demo assets). Return false for 404. */
  onRequest?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;
}

class WsChannel extends BufferedChannel {
  readonly remote: string;

  constructor(private readonly ws: WebSocket, remote: string) {
    super();
    this.remote = remote;
  }

  send(frame: Uint8Array): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(frame, { binary: true });
  }

  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.closed) return;
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      this.ws.terminate();
    }
    // A peer that never completes the close handshake is cut off.
    setTimeout(() => this.ws.terminate(), 2000).unref();
    this.markClosed({ code, reason });
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class WebSocketServerTransport implements ServerTransport {
  readonly server: http.Server | https.Server;
  private readonly wss: WebSocketServer;
  private readonly opts: WebSocketServerOptions;
  private readonly channels = new Set<WsChannel>();
  private onChannel: ((channel: Channel) => void) | undefined;

  constructor(opts: WebSocketServerOptions = {}) {
    this.opts = opts;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      void (async () => {
        try {
          const handled = opts.onRequest ? await opts.onRequest(req, res) : false;
          if (!handled && !res.headersSent) {
            res.writeHead(404, { 'content-type': 'text/plain' });
            res.end('not found\n');
          }
        } catch {
          if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
          res.end('internal error\n');
        }
      })();
    };
    this.server = opts.tls ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : http.createServer(handler);
    this.wss = new WebSocketServer({ server: this.server, maxPayload: opts.maxPayload ?? 64 * 1024 * 1024, perMessageDeflate: false });
    this.wss.on('connection', (ws, req) => this.onConnection(ws, `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`));
  }

  private onConnection(ws: WebSocket, remote: string): void {
    if (!this.onChannel || (this.opts.maxConnections !== undefined && this.channels.size >= this.opts.maxConnections)) {
      ws.close(1013, 'try again later');
      return;
    }
    const channel = new WsChannel(ws, remote);
    this.channels.add(channel);
    const bucket = new TokenBucket(this.opts.messagesPerSecond ?? 50, this.opts.burst ?? 100);
    let lastSeen = Date.now();
    const idle = this.opts.idleTimeoutMs ?? 60000;
    let pinger: ReturnType<typeof setInterval> | undefined;
    if (idle > 0) {
      pinger = setInterval(() => {
        if (Date.now() - lastSeen > idle) channel.close(CloseCode.IDLE_TIMEOUT, 'idle timeout');
        else if (ws.readyState === ws.OPEN) ws.ping();
      }, Math.max(50, Math.floor(idle / 2)));
      pinger.unref();
    }
    ws.on('pong', () => {
      lastSeen = Date.now();
    });
    ws.on('message', (data) => {
      if (channel.closed) return;
      lastSeen = Date.now();
      if (!bucket.take()) {
        channel.close(CloseCode.RATE_LIMITED, 'rate limit exceeded');
        return;
      }
      channel.deliver(toBytes(data));
    });
    // Protocol-level errors (oversized frame, bad opcode, invalid UTF-8): ws
    // closes the socket itself; we only record it.
    ws.on('error', () => undefined);
    ws.on('close', (code, reason) => {
      if (pinger) clearInterval(pinger);
      this.channels.delete(channel);
      channel.markClosed({ code, reason: reason.toString() });
    });
    this.onChannel(channel);
  }

  async listen(onChannel: (channel: Channel) => void): Promise<void> {
    this.onChannel = onChannel;
    if (this.server.listening) return;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Bound address (after `listen`). */
  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** `ws://host:port/` or `wss://...` for clients. */
  url(): string {
    const a = this.address();
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `${this.opts.tls ? 'wss' : 'ws'}://${host}:${a.port}/`;
  }

  async close(code: number = CloseCode.GOING_AWAY, reason = 'coordinator stopped'): Promise<void> {
    this.onChannel = undefined;
    for (const ch of [...this.channels]) ch.close(code, reason);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections?.();
    });
  }
}
