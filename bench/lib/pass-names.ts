// The throughput passes' names, shared by the benchmark (bench/throughput.ts) and the report
// (bench/lib/report.ts), which finds the references of its ratio lines by them.
import { ISSUE_BASELINE_COMMIT } from './baseline.js';

export const PASS_NAMES = {
  consumeOnly: 'bare kafkajs consume only',
  consumeOnly1MiB: 'bare kafkajs consume only, fetch 1 MiB/partition (kafkajs default)',
  consumeOnlyCodec: "bare kafkajs consume only, with kubetrail's gzip codec",
  summaryEos: 'workflow-summary (exactly-once)',
  summaryEosStockGzip: "workflow-summary (exactly-once), kafkajs' own gzip codec (the runner before)",
  uncompressed: 'workflow-summary (exactly-once), uncompressed topic',
  uncompressed1MiB: 'workflow-summary (exactly-once), uncompressed topic, fetch 1 MiB/partition (kafkajs default)',
  uncompressed24MiBFetch: 'workflow-summary (exactly-once), uncompressed topic, fetch 24 MiB in all (3 partitions × 8 MiB)',
  uncompressedBaseline: `workflow-summary (exactly-once), uncompressed topic, the runner when the engine issue was filed (${ISSUE_BASELINE_COMMIT.slice(0, 7)}, kafkajs' 1 MiB/partition)`,
} as const;
