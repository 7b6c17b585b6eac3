// kafkajs 2.2.4 schedules its request-queue check with setTimeout(throttledUntil - Date.now()),
// which is a large negative number when the connection was never throttled (throttledUntil is
// -1). Node runs such a timer after 1 ms, and from Node 24 on also prints a TimeoutNegativeWarning
// on stderr once per process (kafkajs #1751, unfixed upstream): every command's stderr then starts
// with a warning. The check is called with the queue's throttle moved to now + 1 ms when it has
// passed and nothing is pending, which gives the same 1 ms delay without the negative number; with
// requests pending kafkajs already uses its own 10 ms interval. Installed by kafkaClient().
import { patchKafkajs } from './kafkajs-patch.js';

interface RequestQueue {
  throttledUntil: number;
  pending: unknown[];
}

export function installNegativeTimeoutFix(): void {
  patchKafkajs('negative-timeout-fix', 'RequestQueue', ['scheduleCheckPendingRequests'], (original) =>
    function scheduleWithoutNegativeDelay(this: RequestQueue): void {
      const throttledUntil = this.throttledUntil;
      const now = Date.now();
      if (this.pending.length === 0 && throttledUntil - now < 1) this.throttledUntil = now + 1;
      try {
        original.call(this);
      } finally {
        this.throttledUntil = throttledUntil;
      }
    },
  );
}
