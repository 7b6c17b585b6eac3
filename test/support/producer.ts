// Test helpers for the producer (integration and fault tests, benchmarks): read a raw topic back
// through the Schema Registry, and run the producer as a child process (so SIGKILL is real).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Consumer, Kafka } from 'kafkajs';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { ResourceEvent } from '../../lib/raw-event.js';
import { initTransactions } from '../../lib/kafka/fencing.js';
import { streamIds } from '../../producer/config.js';
import { streamWriters } from '../../producer/publisher.js';
import { readTopicToEnd } from './read-topic.js';
import { bareWorkflow, type ArgoSimulator } from '../../stack/argo-simulator.js';

export interface RawRecord {
  key: string;
  partition: number;
  offset: string;
  headers: Record<string, string>;
  value: ResourceEvent;
}

/**
 * Everything the stream ever wrote to `topic`, once its writers are stopped (ended or killed): the
 * stream's transactional ids are fenced first (initTransactions on each, as a new leader does), so
 * every transaction of the stream has ended (one committing completes, one open is aborted) and no
 * other can follow; then the topic is read to its end. Nothing more can arrive after it, so exact
 * counts need no wait. A writer still running would be fenced too: stop them first.
 */
export async function settledRecords(kafka: Kafka, registry: SchemaRegistry, stream: string, topic: string): Promise<RawRecord[]> {
  for (const writer of streamWriters(kafka, streamIds({ stream }).transactionalIds, 60_000)) {
    try {
      await initTransactions(writer.producer);
    } finally {
      await writer.producer.disconnect();
    }
  }
  const records = await readTopicToEnd<ResourceEvent>(kafka, registry, topic);
  return records
    .filter((r) => r.value !== null)
    .map((r) => ({ key: r.key ?? '', partition: r.partition, offset: r.offset, headers: r.headers, value: r.value! }));
}

/**
 * A barrier behind a test's changes: one more workflow, `name`, created in `namespace`, and its
 * record awaited. The watch delivers events in order and the producer publishes them in order, so
 * once it is read, every change made before it has been published (or left out) for good: what a
 * test then counts, less the barrier (`withoutBarrier`), is final up to that point. Waiting a while
 * instead would only hope so.
 */
export async function publishBarrier(sim: ArgoSimulator, reader: RawReader, namespace: string, name: string, timeoutMs = 30_000): Promise<string> {
  await sim.create(bareWorkflow(namespace, name));
  await reader.waitFor((records) => records.some((r) => r.value.name === name), timeoutMs, `the barrier ${name}`);
  return name;
}

/** `records` less the barrier's. */
export const withoutBarrier = (records: RawRecord[], barrier: string): RawRecord[] => records.filter((r) => r.value.name !== barrier);

/** Records of one object name, in topic order. */
export const recordsOf = (records: RawRecord[], name: string): RawRecord[] => records.filter((r) => r.value.name === name);

/** Reads a topic from the beginning (committed records only), decoding each value through the registry. */
export class RawReader {
  readonly records: RawRecord[] = [];
  private consumer: Consumer | undefined;
  private listeners = new Set<() => void>();

  constructor(
    private readonly kafka: Kafka,
    private readonly registry: SchemaRegistry,
    readonly topic: string,
  ) {}

  async start(): Promise<this> {
    const consumer = this.kafka.consumer({ groupId: `kubetrail-test-reader-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 100 });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        if (!message.value) return;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = v.toString();
        this.records.push({
          key: message.key?.toString() ?? '',
          partition,
          offset: message.offset,
          headers,
          value: (await this.registry.decode(message.value)) as ResourceEvent,
        });
        for (const listener of this.listeners) listener();
      },
    });
    return this;
  }

  /** Waits until `done(records)` holds, or throws after `timeoutMs` with what was seen. */
  async waitFor(done: (records: RawRecord[]) => boolean, timeoutMs = 20_000, what = 'records'): Promise<RawRecord[]> {
    if (done(this.records)) return this.records;
    await new Promise<void>((resolveWait, reject) => {
      const check = () => {
        if (!done(this.records)) return;
        cleanup();
        resolveWait();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw:\n${describe(this.records)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
    });
    return this.records;
  }

  /** Records of one object name, in topic order. */
  of(name: string): RawRecord[] {
    return recordsOf(this.records, name);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

export function describe(records: RawRecord[]): string {
  return records
    .map((r) => `  ${r.partition}@${r.offset} ${r.value.operation}${r.value.source.inferred ? '(inferred)' : ''} ${r.value.namespace}/${r.value.name} rv=${r.value.resourceVersion} by ${r.value.source.producer}`)
    .join('\n');
}

/** Operations of one object's records, in order: ['ADDED', 'MODIFIED', 'DELETED']. */
export const operationsOf = (records: RawRecord[]) => records.map((r) => r.value.operation + (r.value.source.inferred ? '*' : ''));

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ChildProducer {
  process: ChildProcess;
  /** Lines of output (JSON logs) so far. */
  output: string[];
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once a log line matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs `producer/main.ts` in its own process with the given environment (with `compiled`, the
 * build's dist/producer/main.js instead, without tsx: what a deployment runs). `wrap` is a command
 * that runs it (`node ...` appended to its arguments), e.g. one that sets up a mount namespace.
 */
export function spawnProducer(env: Record<string, string>, options: { compiled?: boolean; wrap?: string[] } = {}): ChildProducer {
  const main = options.compiled ? join(repoRoot, 'dist', 'producer', 'main.js') : join(repoRoot, 'producer', 'main.ts');
  const command = [...(options.wrap ?? []), process.execPath, ...(options.compiled ? [main] : ['--import', 'tsx', main])];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: repoRoot,
    env: { ...process.env, LOG_LEVEL: process.env.PRODUCER_LOG_LEVEL ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const waiters = new Set<(line: string) => void>();
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      output.push(line);
      if (process.env.PRODUCER_TEST_VERBOSE) process.stderr.write(`[${env.KUBETRAIL_INSTANCE_ID ?? 'producer'}] ${line}\n`);
      for (const waiter of waiters) waiter(line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.on('exit', (code, signal) => resolveExit({ code, signal })),
  );
  return {
    process: child,
    output,
    exited,
    waitForLog(pattern, timeoutMs = 30_000) {
      const seen = output.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolveLine, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms; last lines:\n${output.slice(-15).join('\n')}`));
        }, timeoutMs);
        const waiter = (line: string) => {
          if (!pattern.test(line)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolveLine(line);
        };
        waiters.add(waiter);
        void exited.then(() => {
          if (!waiters.has(waiter)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          reject(new Error(`producer exited before logging ${pattern}; last lines:\n${output.slice(-15).join('\n')}`));
        });
      });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Environment for a child producer of one test stream (unique topics, stream and instance). */
export function childProducerEnv(
  connection: { kafkaBrokers: string[]; schemaRegistryUrl: string },
  settings: { stream: string; namespace: string; instance: string; extra?: Record<string, string> },
): Record<string, string> {
  return {
    KAFKA_BROKERS: connection.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: connection.schemaRegistryUrl,
    KUBECONFIG: process.env.KUBECONFIG ?? '',
    KUBETRAIL_NAMESPACES: settings.namespace,
    KUBETRAIL_TOPIC: `${settings.stream}.raw`,
    KUBETRAIL_STATE_TOPIC: `${settings.stream}.state`,
    KUBETRAIL_STREAM: settings.stream,
    KUBETRAIL_INSTANCE_ID: settings.instance,
    KUBETRAIL_CLUSTER: 'test',
    KUBETRAIL_HTTP_PORT: '0',
    ...settings.extra,
  };
}
