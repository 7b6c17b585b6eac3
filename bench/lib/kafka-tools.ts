// Kafka's own ProducerPerformance and ConsumerPerformance (org.apache.kafka.tools, from the same
// jars as the embedded broker, stack/kafka.ts kafkaToolCommand): the machine's ceiling for
// writing and reading the same records on the same broker.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kafkaToolCommand } from '../../stack/kafka.js';
import type { BenchContext } from './context.js';
import { runCommand } from '../../test/support/cli.js';

const MiB = 1024 * 1024;

function runTool(ctx: BenchContext, mainClass: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const spec = kafkaToolCommand(ctx.stackContext, mainClass, args);
  return runCommand(spec.command, spec.args, { env: { ...process.env, ...spec.env }, timeoutMs });
}

export interface ToolResult {
  records: number;
  recordsPerSec: number;
  /** Decimal megabytes (1e6 bytes) per second, as every figure of the report. */
  mbPerSec: number;
  detail: Record<string, number>;
}

/**
 * ProducerPerformance: `records` records picked at random from `payloads` (the workload's
 * objects, one per line), acks=all, the given compression, large batches (as the producer's
 * batches of up to ~1 MB), optionally transactional.
 */
export async function producerPerformance(
  ctx: BenchContext,
  topic: string,
  payloads: string[],
  records: number,
  options: { compression: 'gzip' | 'none'; transactional?: boolean; timeoutMs?: number },
): Promise<ToolResult> {
  const file = join(ctx.logDir, `payloads-${topic}.txt`);
  writeFileSync(file, payloads.join('\n'));
  const meanBytes = payloads.reduce((n, p) => n + Buffer.byteLength(p), 0) / payloads.length;
  const args = [
    '--bootstrap-server',
    ctx.connection.kafkaBrokers.join(','),
    '--topic',
    topic,
    '--num-records',
    String(records),
    '--throughput',
    '-1',
    '--payload-file',
    file,
    '--producer-props',
    'acks=all',
    `compression.type=${options.compression === 'gzip' ? 'gzip' : 'none'}`,
    'batch.size=1000000',
    'linger.ms=5',
    'max.request.size=1048576',
    'buffer.memory=134217728',
  ];
  if (options.transactional) args.push('--transactional-id', `${topic}-pp`, '--transaction-duration-ms', '200');
  const { stdout, stderr, code } = await runTool(ctx, 'org.apache.kafka.tools.ProducerPerformance', args, options.timeoutMs ?? 300_000);
  // "N records sent, X records/sec (Y MB/sec), A ms avg latency, B ms max latency, p50 …"
  const line = stdout.split('\n').reverse().find((l) => / records sent, /.test(l) && /ms avg latency/.test(l));
  const match = line?.match(/([\d.]+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency/);
  if (!match) throw new Error(`ProducerPerformance (exit ${code}) printed no summary:\n${stdout.slice(-1000)}\n${stderr.slice(-2000)}`);
  const recordsPerSec = Number(match[2]);
  return {
    records: Number(match[1]),
    recordsPerSec,
    mbPerSec: (recordsPerSec * meanBytes) / 1e6,
    detail: { toolMiBPerSec: Number(match[3]), avgLatencyMs: Number(match[4]), maxLatencyMs: Number(match[5]), meanPayloadBytes: meanBytes },
  };
}

/** ConsumerPerformance over `records` records of a topic (a fresh group, from the beginning). */
export async function consumerPerformance(ctx: BenchContext, topic: string, records: number, options: { timeoutMs?: number } = {}): Promise<ToolResult> {
  const args = [
    '--bootstrap-server',
    ctx.connection.kafkaBrokers.join(','),
    '--topic',
    topic,
    '--num-records',
    String(records),
    '--group',
    `${topic}-cp-${Date.now().toString(36)}`,
    '--timeout',
    '30000',
    '--command-property',
    'isolation.level=read_committed',
  ];
  const { stdout, stderr, code } = await runTool(ctx, 'org.apache.kafka.tools.ConsumerPerformance', args, options.timeoutMs ?? 300_000);
  // header: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const lines = stdout.trim().split('\n');
  const headerAt = lines.findIndex((l) => l.includes('data.consumed.in.MB'));
  const header = lines[headerAt]?.split(',').map((s) => s.trim());
  const values = lines[headerAt + 1]?.split(',').map((s) => s.trim());
  if (!header || !values) throw new Error(`ConsumerPerformance (exit ${code}) printed no result:\n${stdout.slice(-1000)}\n${stderr.slice(-2000)}`);
  const field = (name: string) => Number(values[header.indexOf(name)]);
  const consumed = field('data.consumed.in.nMsg');
  const fetchMs = field('fetch.time.ms');
  const mib = field('data.consumed.in.MB');
  // The fetch phase (after the group's join): the same span the processors are timed over.
  return {
    records: consumed,
    recordsPerSec: fetchMs > 0 ? consumed / (fetchMs / 1000) : field('nMsg.sec'),
    mbPerSec: fetchMs > 0 ? (mib * MiB) / 1e6 / (fetchMs / 1000) : (field('MB.sec') * MiB) / 1e6,
    detail: { totalMsgPerSec: field('nMsg.sec'), rebalanceMs: field('rebalance.time.ms'), fetchMs },
  };
}
