/**
 * Per-connection resource limits of the WebSocket server, as pure state
 * (clock injected, no I/O) so each can be driven exactly by a test:
 *
 * - {@link TokenBucket}: `burst` tokens refilled at a sustained rate;
 * - {@link FloodGuard}: the flood guard of one connection. It counts every
 *   inbound frame, control frames included: pings and unsolicited pongs per
 *   second, frames before authentication (a handshake needs one) and,
 *   optionally (off by default), data + control frames per second.
 *
 * Maximum message size is enforced by `ws` itself through `maxPayload`,
 * before a frame is buffered; the idle timeout by ping/pong and the
 * connection caps (total, unauthenticated per address) in ws-server.ts.
 * Protocol-aware limits (envelopes per round, readiness) live in the
 * coordinator, which knows the round structure.
 */
import { CloseCode } from './channel.js';

/** Token bucket: `burst` tokens, refilled at `ratePerSecond`; one token per message. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Take one token; false when the bucket is empty (the sender is over its rate). */
  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Default WebSocket server limits. Each is far above what honest clients
 * produce: a client sends one `auth` before authenticating, then per round
 * one `ready` and one envelope per SecAgg stage (at most five), and never
 * pings more than a few times a minute.
 */
export const DEFAULT_SERVER_LIMITS = Object.freeze({
  /** Open WebSocket connections in total (the default roster cap is 10000). */
  maxConnections: 20000,
  /** Connections not yet authenticated, per remote address (many clients may share a NAT address). */
  maxUnauthenticatedPerAddress: 1024,
  /**
   * Flood guard: frames per second per connection, data and control frames
   * together (0 = off, the default). Off because no fixed rate is safe for
   * honest clients: rounds can follow each other every few milliseconds. The
   * coordinator's per-round frame budget bounds their traffic instead, and
   * pings and pre-authentication frames have guards of their own.
   */
  messagesPerSecond: 0,
  /** Flood guard: frames accepted in a burst (when a rate is set). */
  burst: 2000,
  /** Flood guard: pings and unsolicited pongs per second per connection (0 = off). */
  pingsPerSecond: 10,
  /** Flood guard: pings and unsolicited pongs accepted in a burst. */
  pingBurst: 50,
  /** Flood guard: frames (data, pings, unsolicited pongs) a connection may send before it authenticates (0 = off). */
  maxPreAuthFrames: 16,
});

export interface FloodLimits {
  messagesPerSecond: number;
  burst: number;
  pingsPerSecond: number;
  pingBurst: number;
  maxPreAuthFrames: number;
}

/** Why a connection must be closed: its close code and the stable `error` code / message sent first. */
export interface LimitVerdict {
  readonly closeCode: number;
  readonly code: string;
  readonly message: string;
}

/** The flood guard of one connection (see the module header). */
export class FloodGuard {
  private readonly all: TokenBucket | undefined;
  private readonly control: TokenBucket | undefined;
  private preAuthFrames = 0;
  private authenticated = false;
  /** Pings this side sent that the peer has not answered yet: their pongs are solicited and free. */
  private pongsOwed = 0;

  constructor(private readonly limits: FloodLimits, now: () => number = Date.now) {
    this.all = limits.messagesPerSecond > 0 ? new TokenBucket(limits.messagesPerSecond, Math.max(1, limits.burst), now) : undefined;
    this.control = limits.pingsPerSecond > 0 ? new TokenBucket(limits.pingsPerSecond, Math.max(1, limits.pingBurst), now) : undefined;
  }

  /** The peer authenticated: the pre-authentication allowance no longer applies. */
  markAuthenticated(): void {
    this.authenticated = true;
  }

  /** This side sent a ping (its pong is not the peer's to count). */
  pingSent(): void {
    // Bounded: a peer that never answers is closed by the idle timeout.
    this.pongsOwed = Math.min(this.pongsOwed + 1, 4);
  }

  /** A data frame arrived. */
  data(): LimitVerdict | undefined {
    return this.preAuth() ?? this.bucket();
  }

  /** A ping arrived from the peer. */
  ping(): LimitVerdict | undefined {
    return this.preAuth() ?? this.controlFrame() ?? this.bucket();
  }

  /** A pong arrived: an answer to our ping is free; an unsolicited one counts like a ping. */
  pong(): LimitVerdict | undefined {
    if (this.pongsOwed > 0) {
      this.pongsOwed--;
      return undefined;
    }
    return this.ping();
  }

  private preAuth(): LimitVerdict | undefined {
    if (this.authenticated || this.limits.maxPreAuthFrames <= 0) return undefined;
    if (++this.preAuthFrames <= this.limits.maxPreAuthFrames) return undefined;
    return { closeCode: CloseCode.PRE_AUTH_FLOOD, code: 'PRE_AUTH_FLOOD', message: `more than ${this.limits.maxPreAuthFrames} frames before authentication` };
  }

  private controlFrame(): LimitVerdict | undefined {
    if (!this.control || this.control.take()) return undefined;
    return { closeCode: CloseCode.PING_FLOOD, code: 'PING_FLOOD', message: `more than ${this.limits.pingsPerSecond} pings per second (burst ${this.limits.pingBurst})` };
  }

  private bucket(): LimitVerdict | undefined {
    if (!this.all || this.all.take()) return undefined;
    return { closeCode: CloseCode.RATE_LIMITED, code: 'RATE_LIMITED', message: `more than ${this.limits.messagesPerSecond} messages per second (burst ${this.limits.burst})` };
  }
}
