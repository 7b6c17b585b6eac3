// The async plumbing every service needs, written once: a sleep that an abort ends early, an
// exponential backoff with jitter, a retry loop built on it, and a serial queue.

/** Resolves after ms, or at once when the signal aborts (it never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface BackoffOptions {
  /** First delay (default 250 ms). */
  initialMs?: number;
  /** Largest delay (default 5 s). */
  maxMs?: number;
  /** Each delay is the previous one times this (default 2). */
  factor?: number;
  /** Each delay is moved by up to ± this fraction of itself, so peers do not retry in step (default 0.2). */
  jitter?: number;
}

/** Exponential backoff with jitter: next() gives the delay to wait, reset() starts over. */
export class Backoff {
  private current: number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  /** Delays given since the last reset. */
  attempts = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 250;
    this.maxMs = options.maxMs ?? 5_000;
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 0.2;
    this.current = this.initialMs;
  }

  next(): number {
    const base = this.current;
    this.current = Math.min(this.current * this.factor, this.maxMs);
    this.attempts++;
    return Math.max(0, Math.round(base * (1 + this.jitter * (2 * Math.random() - 1))));
  }

  reset(): void {
    this.current = this.initialMs;
    this.attempts = 0;
  }
}

export interface RetryOptions extends BackoffOptions {
  /** Give up (rethrow the last error) when the next wait would end past this many ms from the start. */
  timeoutMs?: number;
  /** Which errors are worth another try (default: every error). */
  retriable?: (error: unknown) => boolean;
  /** Called before each wait, with the error and the attempt that failed (1-based). */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void | Promise<void>;
  /** Stop retrying: the last error is rethrown. */
  signal?: AbortSignal;
  /** The wait after this error, given the backoff's (a server's Retry-After can ask for longer). */
  delayOf?: (error: unknown, backoffMs: number) => number;
}

/** Calls attempt until it resolves, waiting with backoff between failures. */
export async function retry<T>(attempt: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const backoff = new Backoff(options);
  const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      const delay = options.delayOf ? options.delayOf(error, backoff.next()) : backoff.next();
      if (options.retriable && !options.retriable(error)) throw error;
      if (options.signal?.aborted || Date.now() + delay > deadline) throw error;
      await options.onRetry?.(error, n, delay);
      await sleep(delay, options.signal);
      if (options.signal?.aborted) throw error;
    }
  }
}

/** Runs the functions given to run() one at a time, in the order given; a failure does not stop the queue. */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves when everything queued so far has run. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}

/** At most `permits` holders at once; acquire() waits in arrival order. */
export class Semaphore {
  private readonly waiting: Array<() => void> = [];

  constructor(private permits: number) {}

  async acquire(): Promise<void> {
    if (this.permits > 0) {
      this.permits--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.permits++;
  }
}
