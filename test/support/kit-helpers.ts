// Helpers of the kit's integration tests: raw events in, topics read back (read_committed, through
// the Schema Registry), a processor in a child process that can be killed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { CompressionTypes, Partitioners, logLevel, type Kafka, type Admin, type IHeaders, type Producer } from 'kafkajs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { ConnectionConfig } from '../../lib/config.js';
import { kafkaClient } from '../../lib/kafka/client.js';
import { resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';
import type { RunProcessorOptions } from '../../lib/kit/runner.js';
import { createLogger, type Logger } from '../../lib/log.js';
import { after, before } from 'node:test';
import { createTopicsPatiently } from '../../lib/topics.js';

/** Where in-process services of the tests log: one file per logger, out of the test reporter's output. */
export const testLogsDir = fileURLToPath(new URL('../../.kubetrail/test-logs/', import.meta.url));
const testLogFiles = new Set<string>();

/**
 * The logger of a service run inside a test: warnings and errors to .kubetrail/test-logs/<name>.log
 * (LOG_LEVEL changes the level). When the test file fails, the tail of each of its logs is printed.
 */
export function quietLogger(name: string): Logger {
  mkdirSync(testLogsDir, { recursive: true });
  const file = join(testLogsDir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.log`);
  if (testLogFiles.size === 0) process.once('exit', (code) => printLogTails(code));
  testLogFiles.add(file);
  return createLogger(name, process.env.LOG_LEVEL ?? 'warn', pino.destination({ dest: file, sync: true, append: true }));
}

function printLogTails(code: number): void {
  if (code === 0 && !process.exitCode) return;
  for (const file of testLogFiles) {
    const lines = existsSync(file) ? readFileSync(file, 'utf8').trimEnd().split('\n') : [];
    if (lines.length === 0 || lines[0] === '') continue;
    process.stderr.write(`--- last ${Math.min(20, lines.length)} of ${lines.length} lines of ${file}\n${lines.slice(-20).join('\n')}\n`);
  }
}

export function testKafka(connection: ConnectionConfig): Kafka {
  return kafkaClient({ brokers: connection.kafkaBrokers, clientId: 'kit-test', logLevel: logLevel.NOTHING, retry: { retries: 8 } });
}

export function testRegistry(connection: ConnectionConfig): SchemaRegistry {
  return new SchemaRegistry({ host: connection.schemaRegistryUrl });
}

/**
 * What a test file against the broker needs: clients, and a cleanup list run last-in first-out
 * after the file's tests (processors stop before their topics go), then the admin disconnects.
 */
export function kafkaTestbed(connection: ConnectionConfig) {
  const kafka = testKafka(connection);
  const admin = kafka.admin();
  const registry = testRegistry(connection);
  const cleanups: Array<() => Promise<unknown>> = [];
  /** Topics the tests made: deleted at the end, those that exist. */
  const created: string[] = [];
  cleanups.push(async () => {
    if (created.length === 0) return;
    const existing = new Set(await admin.listTopics());
    const topics = created.filter((t) => existing.has(t));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  });
  before(() => admin.connect());
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await admin.disconnect();
  });
  return { kafka, admin, registry, cleanups, created };
}

export async function createTopic(admin: Admin, topic: string, partitions: number, config: Record<string, string> = {}): Promise<void> {
  const configEntries = Object.entries(config).map(([name, value]) => ({ name, value }));
  await createTopicsPatiently(admin, [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }]);
}

/** A ResourceEvent for tests: `name` decides the state key of the counter processor. */
export function event(i: number, name: string, generation = 1): ResourceEvent {
  return {
    id: `ev-${String(i).padStart(6, '0')}`,
    operation: 'MODIFIED',
    resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'workflows', kind: 'Workflow' },
    namespace: 'kit',
    name,
    uid: `uid-${name}`,
    resourceVersion: String(i),
    generation,
    labels: { test: 'kit' },
    creationTimestamp: 1_700_000_000_000,
    deletionTimestamp: null,
    object: JSON.stringify({ kind: 'Workflow', metadata: { name, namespace: 'kit' } }),
    trimmed: [],
    source: { cluster: 'kit', producer: 'kit-test', observedAt: 1_700_000_000_000 + i, inferred: false },
  };
}

export class RawWriter {
  private constructor(
    readonly producer: Producer,
    private readonly registry: SchemaRegistry,
    readonly topic: string,
    readonly schemaId: number,
  ) {}

  static async open(kafka: Kafka, registry: SchemaRegistry, topic: string): Promise<RawWriter> {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: Number.MAX_SAFE_INTEGER } });
    await producer.connect();
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(resourceEventSchema) }, { subject: `${topic}-value` });
    return new RawWriter(producer, registry, topic, id);
  }

  /** Events keyed by their object name (so one name stays in one partition). */
  async write(events: ResourceEvent[]): Promise<void> {
    const messages = await Promise.all(events.map(async (e) => ({ key: e.name, value: await this.registry.encode(this.schemaId, e) })));
    await this.producer.send({ topic: this.topic, messages, acks: -1 });
  }

  /** As they are; gzipped when `compression` says so, as the producer sends the raw topic. */
  async writeRaw(messages: Array<{ key: string | null; value: Buffer | null; headers?: IHeaders }>, compression = CompressionTypes.None): Promise<void> {
    await this.producer.send({ topic: this.topic, messages, acks: -1, compression });
  }

  close(): Promise<void> {
    return this.producer.disconnect();
  }
}

export { readTopic, readTopicToEnd, type ReadRecord } from './read-topic.js';

const runProcessorScript = fileURLToPath(new URL('./run-processor.ts', import.meta.url));

export interface ChildSpec {
  processor: string;
  name?: string;
  options?: Omit<RunProcessorOptions, 'connection' | 'logger'>;
}

/** A processor in a child process (test/support/run-processor.ts). */
export class ProcessorChild {
  readonly process: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stats: unknown;
  stderr = '';

  constructor(connection: ConnectionConfig, spec: ChildSpec, env: NodeJS.ProcessEnv = {}) {
    this.process = spawn(process.execPath, ['--import', 'tsx', runProcessorScript], {
      env: {
        ...process.env,
        ...env,
        KAFKA_BROKERS: connection.kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: connection.schemaRegistryUrl,
        KIT_RUN: JSON.stringify(spec),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000);
      if (process.env.KIT_CHILD_LOGS) process.stderr.write(chunk);
    });
    this.exited = new Promise((resolve) => this.process.once('exit', (code, signal) => resolve({ code, signal })));
    this.ready = new Promise((resolve, reject) => {
      const lines = createInterface({ input: this.process.stdout! });
      lines.on('line', (line) => {
        try {
          const message = JSON.parse(line) as { event: string; stats?: unknown; error?: string };
          if (message.event === 'ready') resolve();
          if (message.event === 'stopped') this.stats = message.stats;
          if (message.event === 'failed') reject(new Error(`child failed: ${message.error}`));
        } catch {
          // not one of ours
        }
      });
      void this.exited.then(({ code, signal }) => reject(new Error(`child exited (${code ?? signal}) before ready:\n${this.stderr.slice(-3000)}`)));
    });
    this.ready.catch(() => undefined);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL') {
    this.process.kill(signal);
    return this.exited;
  }
}
