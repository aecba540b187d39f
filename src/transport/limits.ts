/**
 * Per-connection resource limits shared by the WebSocket server: a token
 * bucket for messages per second. (Maximum message size is enforced by `ws`
 * itself through `maxPayload`, before a frame is buffered; the idle timeout
 * by ping/pong in ws-server.ts.)
 */

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
