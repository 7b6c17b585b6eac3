// Waiting for something to happen in an integration or fault test: one helper, polled.
import { sleep } from '../../lib/async.js';

export interface WaitOptions {
  /** How long to wait before failing (60 s unless said). */
  timeoutMs?: number;
  /** Added to the error: what helps to see why (a child's last log lines). */
  detail?: () => string;
  /** How often to ask (50 ms unless said; longer when asking costs a process or a request). */
  pollMs?: number;
}

/**
 * Polls `condition` until it holds; after the time-out, throws `<what>: not within <ms> ms`. It
 * proves that something happened, never that nothing more will.
 */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const { timeoutMs = 60_000, detail, pollMs = 50 } = options;
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${detail ? `\n${detail()}` : ''}`);
    await sleep(pollMs);
  }
}
