// Retries CONCURRENT_TRANSACTIONS quickly. A transaction that starts right after the previous one
// committed asks the coordinator to add partitions (or offsets) before the previous one's markers
// are written, and the coordinator answers CONCURRENT_TRANSACTIONS until they are: a few
// milliseconds. kafkajs hands that error to its general retrier, whose first wait is the client's
// initialRetryTime (300 ms here, sized to ride out a broker restart), and it does not retry it at
// all for AddOffsetsToTxn (kafkajs #304). That wait was the pipeline's whole latency tail. Java's
// client retries it after 20 ms (KAFKA-5477); this retries sooner still inside Broker#addPartitionsToTxn
// and Broker#addOffsetsToTxn, so kafkajs' retrier never sees it, and counts how often it happened.
//
// Benchmarking switch, not for production: KUBETRAIL_KAFKAJS_STOCK_TXN_RETRY=1 in the environment
// leaves kafkajs' own handling in place (the error is only counted, then rethrown at once), so
// bench/latency.ts can measure the stock behaviour as a reference in the same run. With it, every
// call that meets the error counts as a request (kafkajs' own retries are new calls) and retries
// stay 0.
import { sleep } from '../async.js';
import { patchKafkajs } from './kafkajs-patch.js';

/**
 * Waits before each retry: 2, 4, 8, 16, 32 ms, then 50 ms; about 2 s in all before kafkajs takes
 * over. The markers usually land within a few milliseconds, and each retry is one round trip on
 * the coordinator, so the first waits are short: a collision costs a few ms, not tens.
 */
const DELAYS_MS = [2, 4, 8, 16, 32, ...Array<number>(39).fill(50)];

const counts = { requests: 0, retries: 0 };

/** The benchmarking switch above. */
const stockRetry = process.env.KUBETRAIL_KAFKAJS_STOCK_TXN_RETRY === '1';

/** Transactional requests that met CONCURRENT_TRANSACTIONS at least once, and the retries made. */
export function concurrentTransactionStats(): { requests: number; retries: number } {
  return { ...counts };
}

function isConcurrentTransactions(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { type?: unknown }).type === 'CONCURRENT_TRANSACTIONS';
}

export function installConcurrentTransactionsRetry(): void {
  patchKafkajs('concurrent-transactions', 'Broker', ['addPartitionsToTxn', 'addOffsetsToTxn'], (original) =>
    async function retried(this: unknown, ...args: unknown[]): Promise<unknown> {
      for (let attempt = 0; ; attempt++) {
        try {
          return await original.apply(this, args);
        } catch (error) {
          if (!isConcurrentTransactions(error)) throw error;
          if (attempt === 0) counts.requests++;
          if (stockRetry || attempt >= DELAYS_MS.length) throw error;
          counts.retries++;
          await sleep(DELAYS_MS[attempt]!);
        }
      }
    },
  );
}
