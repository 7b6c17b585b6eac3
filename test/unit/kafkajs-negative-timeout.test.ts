// kafkajs' request queue, patched (lib/kafka/negative-timeout-fix.ts), never schedules its check
// with a negative delay: Node 24 prints a TimeoutNegativeWarning for one (kafkajs #1751).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { installNegativeTimeoutFix } from '../../lib/kafka/negative-timeout-fix.js';

const require = createRequire(import.meta.url);
type Queue = { scheduleCheckPendingRequests(): void; throttledUntil: number; pending: unknown[]; throttleCheckTimeoutId: NodeJS.Timeout | null };
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as new (options: Record<string, unknown>) => Queue;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** The delays the queue asks setTimeout for when it schedules its check in these states. */
function scheduledDelays(): number[] {
  const delays: number[] = [];
  const real = globalThis.setTimeout;
  globalThis.setTimeout = ((fn: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    return real(() => undefined, 0);
  }) as typeof setTimeout;
  try {
    for (const [throttledUntil, pending] of [[-1, 0], [-1, 1], [Date.now() + 5_000, 0]] as const) {
      const queue = new RequestQueue({ maxInFlightRequests: 1, requestTimeout: 1000, enforceRequestTimeout: false, clientId: 't', broker: 'b', logger: silent, isConnected: () => true });
      queue.throttledUntil = throttledUntil;
      queue.pending = Array.from({ length: pending }, () => ({}));
      queue.scheduleCheckPendingRequests();
      assert.equal(queue.throttledUntil, throttledUntil, 'the throttle is left as it was');
    }
  } finally {
    globalThis.setTimeout = real;
  }
  return delays;
}

test('the queue check is scheduled after 1 ms when not throttled, never with a negative delay', () => {
  installNegativeTimeoutFix();
  const [idle, pending, throttled] = scheduledDelays();
  assert.ok(idle !== undefined && idle >= 0 && idle <= 1, `idle: ${idle}`);
  assert.equal(pending, 10, 'requests pending: kafkajs\' own 10 ms interval');
  assert.ok(throttled !== undefined && throttled > 4_000 && throttled <= 5_000, `throttled: ${throttled}`);
});
