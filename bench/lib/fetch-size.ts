// A stand-in, for the benchmarks only, of a change proposed for lib/kit/runner.ts (see
// BENCHMARKS.md): the runner's consumer keeps kafkajs' default fetch sizes (maxBytesPerPartition
// 1 MiB, maxBytes 10 MiB), and one fetched batch bounds one transaction. Those limits count
// bytes as stored, so a gzip raw topic (~8× smaller) gives ~150-record transactions and an
// uncompressed one ~20-record transactions of these ~45 kB events. This raises the limits of
// every kafkajs consumer created from now on, in this process.
import { Kafka } from 'kafkajs';

let installed = false;

export function installFetchSize(maxBytesPerPartition: number, maxBytes = Math.max(maxBytesPerPartition * 4, 10 * 1024 * 1024)): void {
  if (installed) return;
  installed = true;
  const original = Kafka.prototype.consumer;
  Kafka.prototype.consumer = function (this: Kafka, config: Parameters<Kafka['consumer']>[0]) {
    return original.call(this, { ...config, maxBytesPerPartition, maxBytes });
  };
}
