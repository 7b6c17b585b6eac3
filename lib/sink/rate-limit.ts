// A sink's rate limit: a token bucket, `perSecond` deliveries a second on average with bursts of
// up to `burst`. Attempts (retries included) take a token, so a receiver that is struggling is not
// hit harder by the retries than by the first tries. Waiters are served in arrival order.
import { sleep } from '../async.js';

export class RateLimiter {
  private tokens: number;
  private last = performance.now();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly perSecond: number,
    private readonly burst = Math.max(1, Math.ceil(perSecond)),
  ) {
    this.tokens = this.burst;
  }

  /** Resolves when a token is taken (at once when the limit is off: perSecond ≤ 0 or infinite). */
  take(signal?: AbortSignal): Promise<void> {
    if (!(this.perSecond > 0) || !Number.isFinite(this.perSecond)) return Promise.resolve();
    const turn = this.queue.then(() => this.waitForToken(signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async waitForToken(signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      if (signal?.aborted) return;
      await sleep(Math.ceil(((1 - this.tokens) / this.perSecond) * 1000), signal);
    }
  }
}
