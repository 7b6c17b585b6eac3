// One record through a sink: the rate limit, deliver(), and on failure another try after an
// exponential backoff with jitter (longer when the receiver's Retry-After asks), until it is
// delivered, refused for good (a DeliveryError that is permanent: dead letter at once), out of
// time (retries past retryTimeoutMs: dead letter), or the sink stops (left for the next owner).
import { retry } from '../async.js';
import type { Logger } from '../log.js';
import type { DeadLetterReason } from '../kit/dead-letter.js';
import type { SinkMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import { DeliveryError, type SinkDefinition, type SinkRecord } from './sink.js';

export interface RetryPolicy {
  /** First wait after a failure (default 200 ms); doubles each time up to maxDelayMs, ±20% jitter. */
  initialDelayMs: number;
  maxDelayMs: number;
  /** A record still failing this long after its first attempt is dead-lettered (default 5 min). */
  retryTimeoutMs: number;
}

export type Outcome =
  | { kind: 'delivered' }
  | { kind: 'dead'; reason: DeadLetterReason; error: string; errorName: string; response: string }
  | { kind: 'stopped' };

export interface AttemptContext {
  definition: SinkDefinition<unknown>;
  limiter: RateLimiter;
  metrics: SinkMetrics;
  logger: Logger;
  policy: RetryPolicy;
  /** Aborts when a stop begins: no new attempt, no more waiting. */
  stopping: AbortSignal;
  /** Aborts when the drain time is over: attempts in flight are cut. */
  cut: AbortSignal;
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function deliverRecord(record: SinkRecord<unknown>, context: AttemptContext): Promise<Outcome> {
  const { definition, limiter, metrics, policy, stopping } = context;
  const attempt = async () => {
    await limiter.take(stopping);
    if (stopping.aborted) throw new DeliveryError('stopped', false, 'stopped');
    const began = performance.now();
    try {
      await definition.deliver(record, context.cut);
    } finally {
      metrics.attemptSeconds.observe((performance.now() - began) / 1000);
    }
  };
  try {
    await retry(attempt, {
      initialMs: policy.initialDelayMs,
      maxMs: policy.maxDelayMs,
      timeoutMs: policy.retryTimeoutMs,
      signal: stopping,
      retriable: (error) => !(error instanceof DeliveryError && error.permanent),
      delayOf: (error, backoffMs) => Math.max(backoffMs, error instanceof DeliveryError ? (error.retryAfterMs ?? 0) : 0),
      onRetry: (error, n, delayMs) => {
        metrics.retried();
        if (n === 1 || n % 10 === 0) context.logger.warn({ offset: record.offset, partition: record.partition, eventId: record.eventId, attempt: n, delayMs, err: describe(error) }, 'delivery failed; retrying');
      },
    });
    metrics.delivered(Date.now() - record.timestamp);
    return { kind: 'delivered' };
  } catch (error) {
    const permanent = error instanceof DeliveryError && error.permanent;
    if (!permanent && stopping.aborted) return { kind: 'stopped' };
    const response = error instanceof DeliveryError ? error.response : describe(error);
    const reason: DeadLetterReason = permanent ? 'delivery-rejected' : 'delivery-exhausted';
    return { kind: 'dead', reason, error: describe(error), errorName: error instanceof Error ? error.name : typeof error, response };
  }
}
