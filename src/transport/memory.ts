/**
 * In-memory transport: the embedded default when coordinator and clients
 * live in one process (simulations, tests, an application that brings its
 * own network layer).
 *
 * Delivery is asynchronous (a microtask per frame, FIFO per direction), like
 * a real network, so code written against it does not come to rely on
 * re-entrant synchronous delivery. Frames are copied on send: a sender that
 * reuses its buffer cannot change what the receiver already got.
 */
import { CloseCode, type Channel, type CloseInfo, type Connector, type ServerTransport } from './channel.js';
import { InvalidArgument } from '../errors.js';

class MemoryChannel implements Channel {
  readonly remote: string;
  peer: MemoryChannel | undefined;
  private messageListener: ((frame: Uint8Array) => void) | undefined;
  private closeListener: ((info: CloseInfo) => void) | undefined;
  // Frames that arrived before a listener was registered.
  private readonly backlog: Uint8Array[] = [];
  private closeInfo: CloseInfo | undefined;
  private closeDelivered = false;
  closed = false;

  private readonly onClosedHook: (() => void) | undefined;
  private readonly counter: { bytes: number } | undefined;

  constructor(remote: string, onClosedHook?: () => void, counter?: { bytes: number }) {
    this.remote = remote;
    this.onClosedHook = onClosedHook;
    this.counter = counter;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.counter) this.counter.bytes += frame.length;
    const copy = frame.slice();
    const peer = this.peer;
    queueMicrotask(() => peer?.deliver(copy));
  }

  private deliver(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.messageListener) this.messageListener(frame);
    else this.backlog.push(frame);
  }

  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (this.closed) return;
    const info = { code, reason };
    this.markClosed(info);
    // The peer sees the close after the frames already in flight (FIFO).
    const peer = this.peer;
    queueMicrotask(() => peer?.markClosed(info));
  }

  private markClosed(info: CloseInfo): void {
    if (this.closed) return;
    this.closed = true;
    this.closeInfo = info;
    this.onClosedHook?.();
    this.fireClose();
  }

  private fireClose(): void {
    if (this.closeDelivered || !this.closeInfo || !this.closeListener) return;
    this.closeDelivered = true;
    const listener = this.closeListener;
    const info = this.closeInfo;
    queueMicrotask(() => listener(info));
  }

  onMessage(listener: (frame: Uint8Array) => void): void {
    this.messageListener = listener;
    const pending = this.backlog.splice(0);
    for (const frame of pending) queueMicrotask(() => listener(frame));
  }

  onClose(listener: (info: CloseInfo) => void): void {
    this.closeListener = listener;
    this.fireClose();
  }
}

/**
 * A coordinator endpoint plus any number of client endpoints in one process.
 * `listen` registers the coordinator; `connect` (a {@link Connector}) opens a
 * new client channel to it.
 */
export class MemoryTransport implements ServerTransport {
  private onChannel: ((channel: Channel) => void) | undefined;
  private readonly open = new Set<MemoryChannel>();
  private nextId = 1;
  private stopped = false;
  private readonly counter = { bytes: 0 };

  /** Bytes sent so far over every channel, both directions (frames as sent; what a network would carry without its framing). */
  get bytes(): number {
    return this.counter.bytes;
  }

  async listen(onChannel: (channel: Channel) => void): Promise<void> {
    this.onChannel = onChannel;
    this.stopped = false;
  }

  /** Open a client channel to the listening coordinator. */
  readonly connect: Connector = async () => {
    const accept = this.onChannel;
    if (!accept || this.stopped) throw new InvalidArgument('MemoryTransport: no coordinator is listening');
    const id = this.nextId++;
    const client = new MemoryChannel('coordinator', undefined, this.counter);
    const server: MemoryChannel = new MemoryChannel(`memory-client-${id}`, () => this.open.delete(server), this.counter);
    client.peer = server;
    server.peer = client;
    this.open.add(server);
    accept(server);
    return client;
  };

  async close(code: number = CloseCode.GOING_AWAY, reason = 'coordinator stopped'): Promise<void> {
    this.stopped = true;
    this.onChannel = undefined;
    for (const ch of [...this.open]) ch.close(code, reason);
    this.open.clear();
  }
}
