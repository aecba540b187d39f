/**
 * The transport abstraction: an ordered, reliable, message-oriented channel
 * of opaque frames (`Uint8Array`) between the coordinator and one client.
 *
 * The protocol core (src/secagg) is a pure state machine; transports only
 * move its msgpackr frames, unchanged, inside the authenticated envelopes of
 * `session.ts`. Two implementations exist: {@link MemoryTransport} (the
 * embedded default, in one process) and WebSocket (`ws` on Node, the
 * standard `WebSocket` in browsers). Assumption shared by all of them:
 * frames arrive in order and are never duplicated by the transport itself
 * (an attacker may still replay them - the envelope's sequence number and
 * channel binding stop that, see session.ts).
 */

/** Why a channel closed: a WebSocket-style numeric code and a short reason. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/**
 * Close codes fedveil uses (WebSocket 1000-1015 plus private 4000-4999).
 * Every limit has its own code; where the protocol allows, the closing side
 * first sends an `error` message whose stable `code` is the key's name
 * (e.g. `FRAME_BUDGET`), see docs/network.md "Limits".
 */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  /** Transport-level loss with no close frame (WebSocket 1006). */
  ABNORMAL: 1006,
  INVALID_DATA: 1007,
  POLICY: 1008,
  TOO_BIG: 1009,
  AUTH_FAILED: 4001,
  NOT_ENROLLED: 4003,
  /** No `auth` within the coordinator's auth timeout. */
  AUTH_TIMEOUT: 4007,
  IDLE_TIMEOUT: 4008,
  ALREADY_CONNECTED: 4009,
  BAD_SIGNATURE: 4010,
  /** An envelope whose sequence number is not above the last one accepted on this connection. */
  REPLAY: 4011,
  /** More envelopes (or `ready` messages) than an honest client sends in one round. */
  FRAME_BUDGET: 4012,
  /** The server's total connection cap is reached. */
  SERVER_FULL: 4013,
  /** Too many not-yet-authenticated connections from this remote address. */
  ADDRESS_LIMIT: 4014,
  /** The enrolment token has registered as many identities as it may. */
  ENROLMENT_LIMIT: 4015,
  /** No `ready` within the readiness deadline after `welcome` or `result`. */
  NOT_READY: 4016,
  /** Flood guard: more messages per second (data and control frames) than the token bucket allows. */
  RATE_LIMITED: 4029,
  /** Flood guard: more pings / unsolicited pongs per second than allowed. */
  PING_FLOOD: 4030,
  /** Flood guard: more frames before authentication than a handshake needs. */
  PRE_AUTH_FLOOD: 4031,
} as const);

/** One end of a bidirectional frame channel. */
export interface Channel {
  /** Human-readable peer description (address), for logs only. */
  readonly remote: string;
  /** Queue a frame for delivery. Silently dropped once the channel closed. */
  send(frame: Uint8Array): void;
  /** Close the channel (both ends see `onClose`). Idempotent. */
  close(code?: number, reason?: string): void;
  /** Register the frame listener (one per channel). */
  onMessage(listener: (frame: Uint8Array) => void): void;
  /** Register the close listener (one per channel); called exactly once. */
  onClose(listener: (info: CloseInfo) => void): void;
  readonly closed: boolean;
  /**
   * Optional: the coordinator calls this once the peer has authenticated,
   * so a transport can stop applying its pre-authentication limits.
   */
  markAuthenticated?(): void;
}

/** The coordinator side of a transport: accepts channels from clients. */
export interface ServerTransport {
  /** Start accepting; `onChannel` is called for every new client channel. */
  listen(onChannel: (channel: Channel) => void): Promise<void>;
  /** Stop accepting and close every open channel with `code`. */
  close(code?: number, reason?: string): Promise<void>;
}

/** The client side: opens one channel to the coordinator. */
export type Connector = () => Promise<Channel>;

/**
 * The listener plumbing shared by the WebSocket channels: frames that arrive
 * before `onMessage` is registered are kept in order and handed over on
 * registration, and the close listener hears the close exactly once, even
 * when it registers after the close.
 */
export abstract class BufferedChannel implements Channel {
  abstract readonly remote: string;
  abstract send(frame: Uint8Array): void;
  abstract close(code?: number, reason?: string): void;
  closed = false;
  private messageListener: ((frame: Uint8Array) => void) | undefined;
  private closeListener: ((info: CloseInfo) => void) | undefined;
  private closeInfo: CloseInfo | undefined;
  private readonly backlog: Uint8Array[] = [];

  /** Hand a received frame to the listener (or the backlog); dropped once closed. */
  deliver(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.messageListener) this.messageListener(frame);
    else this.backlog.push(frame);
  }

  /** Record the close and tell the listener; idempotent. */
  markClosed(info: CloseInfo): void {
    if (this.closed) return;
    this.closed = true;
    this.closeInfo = info;
    this.closeListener?.(info);
  }

  onMessage(listener: (frame: Uint8Array) => void): void {
    this.messageListener = listener;
    for (const f of this.backlog.splice(0)) listener(f);
  }

  onClose(listener: (info: CloseInfo) => void): void {
    this.closeListener = listener;
    if (this.closeInfo) listener(this.closeInfo);
  }
}
