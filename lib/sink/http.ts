// One HTTP delivery, classified: 2xx is delivered; 408, 429, 5xx, a timeout or a connection error
// is worth another try (with the receiver's Retry-After); any other status is refused for good.
// Every request carries the record's event id as Idempotency-Key. The URL may be a secret (a
// Slack webhook's path is its credential): it appears in no error and no response text here.
import { DeliveryError } from './sink.js';

/** Longest part of a response body kept (with a dead letter, in a log line). */
const MAX_BODY_CHARS = 1_000;

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

export interface HttpDelivery {
  url: string;
  body: string;
  /** content-type and any others (CloudEvents' ce-*). */
  headers: Record<string, string>;
  /** The record's event id: sent as Idempotency-Key. */
  eventId: string;
  /** No response headers within this long is a timeout (retried). */
  timeoutMs: number;
  /** Aborted when the sink stops. */
  signal?: AbortSignal;
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Whether a status is worth another try. */
export function retriableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The connection error's code (ECONNRESET, ECONNREFUSED, UND_ERR_SOCKET...), never its message (it can name the host). */
function errorCode(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; name?: unknown } }).cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.name === 'string') return cause.name;
  return (error as { name?: string }).name ?? 'Error';
}

/** Posts the body; resolves on 2xx, throws a DeliveryError otherwise. */
export async function postDelivery(delivery: HttpDelivery): Promise<void> {
  const timeout = AbortSignal.timeout(delivery.timeoutMs);
  const signal = delivery.signal ? AbortSignal.any([delivery.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(delivery.url, {
      method: 'POST',
      body: delivery.body,
      headers: { ...delivery.headers, [IDEMPOTENCY_KEY_HEADER]: delivery.eventId },
      redirect: 'manual',
      signal,
    });
  } catch (error) {
    const what = timeout.aborted ? `no response within ${delivery.timeoutMs} ms` : delivery.signal?.aborted ? 'stopped' : `no response: ${errorCode(error)}`;
    throw new DeliveryError(what, false, what);
  }
  if (response.status >= 200 && response.status < 300) {
    await response.body?.cancel().catch(() => undefined);
    return;
  }
  const text = await response.text().catch(() => '');
  const summary = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}: ${text.length > MAX_BODY_CHARS ? `${text.slice(0, MAX_BODY_CHARS)}…` : text}`;
  const retriable = retriableStatus(response.status);
  throw new DeliveryError(summary, !retriable, summary, retriable ? parseRetryAfter(response.headers.get('retry-after')) : undefined);
}
