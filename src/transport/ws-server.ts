/**
 * WebSocket server transport (Node, the `ws` package): one HTTP(S) server
 * on one port serves the status page / JSON / demo assets and upgrades
 * WebSocket connections, each becoming a {@link Channel} for the coordinator.
 *
 * Limits enforced here, so the coordinator never sees the offending traffic
 * (defaults in `DEFAULT_SERVER_LIMITS`, limits.ts):
 * - maximum message size: `ws` `maxPayload` (close 1009 before buffering);
 * - a total connection cap (`maxConnections`, close SERVER_FULL);
 * - a cap on not-yet-authenticated connections per remote address
 *   (`maxUnauthenticatedPerAddress`, close ADDRESS_LIMIT); a connection
 *   counts until the coordinator marks it authenticated or it closes;
 * - the flood guard (limits.ts): pings per second (PING_FLOOD), frames
 *   before authentication (PRE_AUTH_FLOOD) and, when `messagesPerSecond` is
 *   set, frames per second with control frames included (RATE_LIMITED);
 * - idle timeout: a ping every half period; a peer that neither sends nor
 *   answers pings for `idleTimeoutMs` is closed (IDLE_TIMEOUT).
 * Each violation closes that connection only, after an `error` message with
 * the limit's stable code (the client reports it as `REJECTED_<code>`).
 * TLS: pass `tls: { cert, key }` (PEM) to serve `https:` / `wss:` (Node's
 * `https.createServer`).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { BufferedChannel, CloseCode, type Channel, type ServerTransport } from './channel.js';
import { DEFAULT_SERVER_LIMITS, FloodGuard, type LimitVerdict } from './limits.js';
import { encodeMessage } from './wire.js';

export interface WebSocketServerOptions {
  host?: string;
  /** 0 = let the OS choose (read it back from `address()`). */
  port?: number;
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Largest message accepted, bytes (default 64 MiB). */
  maxPayload?: number;
  /** Flood guard: sustained frames per second per connection, control frames included (default 0 = off; see DEFAULT_SERVER_LIMITS). */
  messagesPerSecond?: number;
  /** Flood guard bucket size: frames accepted in a burst (default 2000). */
  burst?: number;
  /** Flood guard: pings and unsolicited pongs per second per connection (default 10; 0 = off). */
  pingsPerSecond?: number;
  /** Flood guard: pings accepted in a burst (default 50). */
  pingBurst?: number;
  /** Flood guard: frames a connection may send before it authenticates (default 16; 0 = off). */
  maxPreAuthFrames?: number;
  /** Close a peer silent this long (default 60000 ms; 0 = never). */
  idleTimeoutMs?: number;
  /** Open connections in total (default 20000). */
  maxConnections?: number;
  /** Not-yet-authenticated connections per remote address (default 1024). */
  maxUnauthenticatedPerAddress?: number;
  /** Clock of the flood guard's token buckets (tests). */
  now?: () => number;
  /** Plain HTTP requests (status page, demo assets). Return false for 404. */
  onRequest?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;
}

/** Send the limit's `error` message, then close with its code (before any channel exists). */
function refuse(ws: WebSocket, verdict: LimitVerdict): void {
  try {
    ws.send(encodeMessage({ t: 'error', code: verdict.code, message: verdict.message }));
    ws.close(verdict.closeCode, verdict.code);
  } catch {
    ws.terminate();
  }
  setTimeout(() => ws.terminate(), 2000).unref();
}

class WsChannel extends BufferedChannel {
  readonly remote: string;
  private authenticatedHook: (() => void) | undefined;

  constructor(private readonly ws: WebSocket, remote: string, onAuthenticated: () => void) {
    super();
    this.remote = remote;
    this.authenticatedHook = onAuthenticated;
  }

  markAuthenticated(): void {
    const hook = this.authenticatedHook;
    this.authenticatedHook = undefined;
    hook?.();
  }

  /** Close for a violated limit: its `error` message first, then its close code. */
  reject(verdict: LimitVerdict): void {
    if (this.closed) return;
    this.send(encodeMessage({ t: 'error', code: verdict.code, message: verdict.message }));
    this.close(verdict.closeCode, verdict.code);
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
  /** Per remote address: connections not yet authenticated. */
  private readonly unauthenticated = new Map<string, number>();
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
    // ws re-emits the HTTP server's errors (e.g. EADDRINUSE at listen); the
    // listen() promise reports them, so they must not become uncaught here.
    this.wss.on('error', () => undefined);
    this.wss.on('connection', (ws, req) => this.onConnection(ws, req.socket.remoteAddress ?? '?', `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`));
  }

  private onConnection(ws: WebSocket, address: string, remote: string): void {
    if (!this.onChannel) {
      ws.close(1013, 'try again later');
      return;
    }
    const maxConnections = this.opts.maxConnections ?? DEFAULT_SERVER_LIMITS.maxConnections;
    if (this.channels.size >= maxConnections) {
      refuse(ws, { closeCode: CloseCode.SERVER_FULL, code: 'SERVER_FULL', message: `the server has its maximum of ${maxConnections} connections` });
      return;
    }
    const maxUnauth = this.opts.maxUnauthenticatedPerAddress ?? DEFAULT_SERVER_LIMITS.maxUnauthenticatedPerAddress;
    const pending = this.unauthenticated.get(address) ?? 0;
    if (pending >= maxUnauth) {
      refuse(ws, { closeCode: CloseCode.ADDRESS_LIMIT, code: 'ADDRESS_LIMIT', message: `${maxUnauth} connections from this address are still authenticating` });
      return;
    }
    this.unauthenticated.set(address, pending + 1);
    let counted = true;
    const uncount = (): void => {
      if (!counted) return;
      counted = false;
      const left = (this.unauthenticated.get(address) ?? 1) - 1;
      if (left > 0) this.unauthenticated.set(address, left);
      else this.unauthenticated.delete(address);
    };
    const guard = new FloodGuard(
      {
        messagesPerSecond: this.opts.messagesPerSecond ?? DEFAULT_SERVER_LIMITS.messagesPerSecond,
        burst: this.opts.burst ?? DEFAULT_SERVER_LIMITS.burst,
        pingsPerSecond: this.opts.pingsPerSecond ?? DEFAULT_SERVER_LIMITS.pingsPerSecond,
        pingBurst: this.opts.pingBurst ?? DEFAULT_SERVER_LIMITS.pingBurst,
        maxPreAuthFrames: this.opts.maxPreAuthFrames ?? DEFAULT_SERVER_LIMITS.maxPreAuthFrames,
      },
      this.opts.now,
    );
    const channel = new WsChannel(ws, remote, () => {
      uncount();
      guard.markAuthenticated();
    });
    this.channels.add(channel);
    let lastSeen = Date.now();
    const idle = this.opts.idleTimeoutMs ?? 60000;
    let pinger: ReturnType<typeof setInterval> | undefined;
    if (idle > 0) {
      pinger = setInterval(() => {
        if (Date.now() - lastSeen > idle) channel.reject({ closeCode: CloseCode.IDLE_TIMEOUT, code: 'IDLE_TIMEOUT', message: `silent for ${idle} ms` });
        else if (ws.readyState === ws.OPEN) {
          guard.pingSent();
          ws.ping();
        }
      }, Math.max(50, Math.floor(idle / 2)));
      pinger.unref();
    }
    const check = (verdict: LimitVerdict | undefined): boolean => {
      if (!verdict) return true;
      channel.reject(verdict);
      return false;
    };
    // `ws` answers pings by itself; they still count against the flood guard.
    ws.on('ping', () => {
      if (channel.closed) return;
      lastSeen = Date.now();
      check(guard.ping());
    });
    ws.on('pong', () => {
      if (channel.closed) return;
      lastSeen = Date.now();
      check(guard.pong());
    });
    ws.on('message', (data) => {
      if (channel.closed) return;
      lastSeen = Date.now();
      if (check(guard.data())) channel.deliver(toBytes(data));
    });
    // Protocol-level errors (oversized frame, bad opcode, invalid UTF-8): ws
    // closes the socket itself; we only record it.
    ws.on('error', () => undefined);
    ws.on('close', (code, reason) => {
      if (pinger) clearInterval(pinger);
      uncount();
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
