// kafkajs 2.2.4 schedules its request-queue check with setTimeout(throttledUntil - Date.now()),
// which is a large negative number when the connection was never throttled (throttledUntil is
// -1). Node runs such a timer after 1 ms, and from Node 24 on also prints a TimeoutNegativeWarning
// on stderr once per process (kafkajs #1751, unfixed upstream): every command's stderr then starts
// with a warning. The check is called with the queue's throttle moved to now + 1 ms when it has
// passed and nothing is pending, which gives the same 1 ms delay without the negative number; with
// requests pending kafkajs already uses its own 10 ms interval. Installed by kafkaClient().
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const PATCHED = Symbol.for('kubetrail.kafkajs.negativeTimeout');

interface RequestQueue {
  throttledUntil: number;
  pending: unknown[];
}

export function installNegativeTimeoutFix(): void {
  const RequestQueueClass = require('kafkajs/src/network/requestQueue/index.js') as { prototype: Record<string | symbol, unknown> };
  const proto = RequestQueueClass.prototype;
  if (proto[PATCHED]) return;
  const original = proto.scheduleCheckPendingRequests;
  if (typeof original !== 'function') throw new Error('kafkajs internals changed: RequestQueue#scheduleCheckPendingRequests not found (lib/kafka/negative-timeout-fix.ts needs kafkajs 2.2.4)');
  proto.scheduleCheckPendingRequests = function scheduleWithoutNegativeDelay(this: RequestQueue): void {
    const throttledUntil = this.throttledUntil;
    const now = Date.now();
    if (this.pending.length === 0 && throttledUntil - now < 1) this.throttledUntil = now + 1;
    try {
      (original as () => void).call(this);
    } finally {
      this.throttledUntil = throttledUntil;
    }
  };
  proto[PATCHED] = true;
}
