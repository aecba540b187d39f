/**
 * A raw WebSocket peer for attack tests: speaks the real wire format
 * (wire.ts) frame by frame, with nothing of the participant's logic, and
 * records everything the coordinator sends and how the connection closed.
 * Every wait resolves on an event (a message, a pong, the close), never on
 * elapsed time; jest's test timeout is the only deadline.
 */
import WebSocket from 'ws';
import { signAuth, signEnvelope, channelBinding, type Identity } from '../../src/transport/session.js';
import { decodeServerMessage, encodeMessage, type ClientMessage, type ServerMessage } from '../../src/transport/wire.js';

export interface Closed {
  readonly code: number;
  readonly reason: string;
  /** Codes of the `error` messages received before the close. */
  readonly errors: string[];
}

export class RawClient {
  readonly ws: WebSocket;
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<Closed>;
  /** Every frame this client sent, as bytes (for replays). */
  readonly sent: Uint8Array[] = [];
  private pongs = 0;
  private readonly waiters: Array<() => void> = [];
  private nonce: Uint8Array | undefined;
  private session: Uint8Array | undefined;
  private seq = 0;

  constructor(url: string, opts: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, ...opts });
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data: Buffer) => {
      this.messages.push(decodeServerMessage(new Uint8Array(data)));
      this.wake();
    });
    this.ws.on('pong', () => {
      this.pongs++;
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString(), errors: this.messages.flatMap((m) => (m.t === 'error' ? [m.code] : [])) });
        this.wake();
      });
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolve once `pred` holds (checked after every event); rejects if the connection closes first. */
  private until<T>(pred: () => T | undefined, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const v = pred();
        if (v !== undefined) resolve(v);
        else if (this.ws.readyState === WebSocket.CLOSED) reject(new Error(`connection closed while waiting for ${what}; got ${JSON.stringify(this.messages.map((m) => m.t))}`));
        else this.waiters.push(check);
      };
      check();
    });
  }

  /** The first message of type `t` (waits for it). */
  next<T extends ServerMessage['t']>(t: T): Promise<Extract<ServerMessage, { t: T }>> {
    return this.until(() => this.messages.find((m): m is Extract<ServerMessage, { t: T }> => m.t === t), `a ${t} message`);
  }

  /** Wait until `n` pongs arrived in total. */
  waitPongs(n: number): Promise<number> {
    return this.until(() => (this.pongs >= n ? this.pongs : undefined), `${n} pongs`);
  }

  /** Send raw bytes (recorded). */
  sendBytes(frame: Uint8Array): void {
    this.sent.push(frame);
    this.ws.send(frame);
  }

  send(msg: ClientMessage): Uint8Array {
    const frame = encodeMessage(msg);
    this.sendBytes(frame);
    return frame;
  }

  /** Answer the challenge as `identity` (with the token, if any); resolves with `welcome` or rejects if refused. */
  async auth(identity: Identity, token = ''): Promise<void> {
    const hello = await this.next('hello');
    this.nonce = hello.nonce;
    this.session = hello.session;
    this.send({ t: 'auth', v: 1, pk: identity.publicKey, sig: signAuth(identity, hello.nonce, hello.session), token, agent: 'raw' });
  }

  /** A correctly signed envelope for this connection, with the next sequence number; returns its bytes. */
  envelope(identity: Identity, round: number, payload: Uint8Array): Uint8Array {
    if (!this.nonce || !this.session) throw new Error('envelope before auth');
    this.seq++;
    const binding = channelBinding(this.nonce, this.session, identity.publicKey);
    return this.send({ t: 'env', seq: this.seq, round, payload, sig: signEnvelope(identity, binding, this.seq, round, payload) });
  }

  close(): void {
    this.ws.close();
  }
}
