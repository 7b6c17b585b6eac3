// What every benchmark shares: the embedded stack's connection (127.0.0.1 only), Kafka and
// Schema Registry clients, unique topic names (bench.<run>.…) that are all deleted at the end,
// child processes, logs, and small timing helpers.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync, type WriteStream } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { logLevel, type Kafka, type Admin, type ITopicConfig } from 'kafkajs';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { connectionSchema, type ConnectionConfig } from '../../lib/config.js';
import { kafkaClient } from '../../lib/kafka/client.js';
import { LocalStack } from '../../stack/stack.js';
import type { StackContext } from '../../stack/service.js';
import { etcdDataFile } from '../../stack/kubeapi.js';
import { resourceEventSchema } from '../../lib/raw-event.js';
import { createTopicsPatiently } from '../../lib/topics.js';

export const benchDir = dirname(dirname(fileURLToPath(import.meta.url)));
export const repoRoot = dirname(benchDir);

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface BenchOptions {
  quick: boolean;
  full: boolean;
  /** Raw events per throughput pass. */
  events: number;
  repeats: number;
  /** Watched workflows in the producer benchmark (undefined: by --quick / --full). */
  workflows?: number;
  verbose: boolean;
}

export class BenchContext {
  readonly runId: string;
  readonly connection: ConnectionConfig;
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly registry: SchemaRegistry;
  readonly logDir: string;
  readonly env: Record<string, string>;
  private readonly topics = new Set<string>();
  private readonly children = new Set<ChildProcess>();
  private readonly logStream: WriteStream;
  readonly startedAt = Date.now();
  /** What one benchmark leaves for the next (e.g. the throughput's filled raw topic). */
  readonly shared: { raw?: { topic: string; events: number; valueBytes: number; partitions: number; schemaId: number } } = {};

  private constructor(
    readonly stack: LocalStack,
    readonly stackContext: StackContext,
    readonly options: BenchOptions,
    env: Record<string, string>,
  ) {
    this.runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36).padStart(2, '0')}`;
    this.env = env;
    this.connection = connectionSchema.parse({ kafkaBrokers: env.KAFKA_BROKERS, schemaRegistryUrl: env.SCHEMA_REGISTRY_URL, kafkaClientId: `bench-${this.runId}` });
    for (const broker of this.connection.kafkaBrokers) {
      if (!broker.startsWith('127.0.0.1:')) throw new Error(`benchmarks run against 127.0.0.1 only, not ${broker}`);
    }
    if (!new URL(this.connection.schemaRegistryUrl).hostname.startsWith('127.0.0.1')) throw new Error('the Schema Registry must be on 127.0.0.1');
    this.kafka = kafkaClient({ clientId: `bench-${this.runId}`, brokers: this.connection.kafkaBrokers, logLevel: logLevel.ERROR, retry: { retries: 8 } });
    this.admin = this.kafka.admin();
    this.registry = new SchemaRegistry({ host: this.connection.schemaRegistryUrl });
    this.logDir = join(repoRoot, '.kubetrail', 'bench', this.runId);
    mkdirSync(this.logDir, { recursive: true });
    this.logStream = createWriteStream(join(this.logDir, 'bench.log'));
  }

  /** Starts the embedded stack if needed (idempotent) and connects. */
  static async create(options: BenchOptions): Promise<BenchContext> {
    const stack = new LocalStack();
    const connection = await stack.up();
    const ctx = new BenchContext(stack, await stack.context(), options, { ...connection });
    await ctx.admin.connect();
    return ctx;
  }

  log(line: string): void {
    const text = `[bench ${((Date.now() - this.startedAt) / 1000).toFixed(1).padStart(6)}s] ${line}`;
    process.stderr.write(`${text}\n`);
    this.logStream.write(`${text}\n`);
  }

  /** A unique topic name of this run (deleted by cleanup()). */
  topic(name: string): string {
    const topic = `bench.${this.runId}.${name}`;
    this.topics.add(topic);
    return topic;
  }

  /** Remembers a topic something else creates (a processor's changelog), to delete it at the end. */
  track(topic: string): string {
    this.topics.add(topic);
    return topic;
  }

  async createTopic(name: string, partitions = 1, configEntries: ITopicConfig['configEntries'] = []): Promise<string> {
    const topic = this.topic(name);
    await createTopicsPatiently(this.admin, [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }]);
    return topic;
  }

  /** Registers the raw ResourceEvent schema under `<topic>-value`; returns its id. */
  async registerRaw(topic: string): Promise<number> {
    const { id } = await this.registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(resourceEventSchema) }, { subject: `${topic}-value` });
    return id;
  }

  /** Sum of the end offsets of a topic's partitions. */
  async endOffset(topic: string): Promise<number> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, p) => n + Number(p.high), 0);
  }

  /** Records a group has committed on a topic (sum over partitions; -1 counts as 0). */
  async committed(groupId: string, topic: string): Promise<number> {
    const [entry] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return (entry?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  }

  /** Bytes a topic takes in the broker's log directory (the embedded broker's files). */
  topicDiskBytes(topic: string, partitions: number): number {
    return diskBytesOf(join(this.stack.stackDir, 'kafka', 'data'), topic, partitions);
  }

  /**
   * Bytes the embedded etcd may still grow by. The stack turns automatic compaction off (tests
   * compact when they choose), so every write of a 45 kB object stays in its data file until
   * `stack compact` compacts and defragments it; past the 2 GiB quota etcd refuses all writes —
   * for everyone using the stack. The benchmarks keep what they write well under this.
   */
  etcdHeadroomBytes(): number {
    const db = etcdDataFile(this.stackContext);
    const size = existsSync(db) ? statSync(db).size : 0;
    return 1.8 * 1024 ** 3 - size;
  }

  childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      KAFKA_BROKERS: this.connection.kafkaBrokers.join(','),
      SCHEMA_REGISTRY_URL: this.connection.schemaRegistryUrl,
      KUBECONFIG: this.env.KUBECONFIG,
      LOG_LEVEL: process.env.BENCH_CHILD_LOG_LEVEL ?? 'warn',
      ...extra,
    };
  }

  /**
   * Starts `bench/children/<script>.ts` with tsx; it talks JSON lines on stdout, logs to a file.
   * `nodeArgs` go before the script (e.g. --cpu-prof). `root` runs another tree's child (the
   * baseline commit's, bench/lib/baseline.ts) with that tree's own modules.
   */
  spawnChild(script: string, spec: unknown, options: { nodeArgs?: string[]; label?: string; env?: Record<string, string>; root?: string } = {}): BenchChild {
    const label = options.label ?? script;
    const logFile = join(this.logDir, `${label}.log`);
    const root = options.root ?? repoRoot;
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', join(root, 'bench', 'children', `${script}.ts`)], {
      cwd: root,
      env: this.childEnv({ BENCH_SPEC: JSON.stringify(spec), ...options.env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    const log = createWriteStream(logFile);
    child.stderr!.pipe(log);
    return new BenchChild(child, label, logFile);
  }

  /** Deletes this run's topics whose name starts with bench.<run>.<prefix> (to keep the broker small as the run goes). */
  async deleteTopicsWithPrefix(prefix: string): Promise<void> {
    const full = `bench.${this.runId}.${prefix}`;
    const topics = (await this.admin.listTopics()).filter((t) => t.startsWith(full));
    if (topics.length === 0) return;
    await this.admin.deleteTopics({ topics, timeout: 30_000 }).catch((error: Error) => this.log(`deleting ${topics.join(', ')} failed: ${error.message}`));
  }

  /** The Schema Registry subjects of this run's topics (<topic>-value), soft then hard deleted. */
  private async deleteSubjects(): Promise<void> {
    const base = this.connection.schemaRegistryUrl.replace(/\/$/, '');
    const signal = AbortSignal.timeout(15_000);
    const response = await fetch(`${base}/subjects`, { signal });
    if (!response.ok) return;
    const subjects = ((await response.json()) as string[]).filter((s) => s.startsWith(`bench.${this.runId}.`));
    for (const subject of subjects) {
      const path = `${base}/subjects/${encodeURIComponent(subject)}`;
      await fetch(path, { method: 'DELETE', signal }).catch(() => undefined);
      await fetch(`${path}?permanent=true`, { method: 'DELETE', signal }).catch(() => undefined);
    }
    if (subjects.length > 0) this.log(`deleted ${subjects.length} registry subjects`);
  }

  async cleanup(): Promise<void> {
    for (const child of this.children) {
      if (child.exitCode === null && child.pid) child.kill('SIGKILL');
    }
    const existing = new Set(await this.admin.listTopics());
    const mine = [...this.topics].filter((t) => existing.has(t));
    // Anything else this run created under its prefix (changelogs, dead-letter topics).
    for (const t of existing) if (t.startsWith(`bench.${this.runId}.`) && !mine.includes(t)) mine.push(t);
    if (mine.length > 0) {
      await this.admin.deleteTopics({ topics: mine, timeout: 30_000 }).catch((error: Error) => this.log(`deleting topics failed: ${error.message}`));
      this.log(`deleted ${mine.length} topics`);
    }
    // And the consumer groups of its passes (their committed offsets would stay for a week).
    const groups = (await this.admin.listGroups().catch(() => ({ groups: [] as Array<{ groupId: string }> }))).groups
      .map((g) => g.groupId)
      .filter((g) => g.startsWith(`bench.${this.runId}.`) || g.includes(`bench-${this.runId}-`));
    if (groups.length > 0) {
      await this.admin.deleteGroups(groups).catch((error: Error) => this.log(`deleting consumer groups failed: ${error.message}`));
      this.log(`deleted ${groups.length} consumer groups`);
    }
    await this.deleteSubjects().catch((error: Error) => this.log(`deleting registry subjects failed: ${error.message}`));
    await this.admin.disconnect().catch(() => undefined);
    this.logStream.end();
  }
}

export function diskBytesOf(dataDir: string, topic: string, partitions: number): number {
  let total = 0;
  for (let p = 0; p < partitions; p++) {
    const dir = join(dataDir, `${topic}-${p}`);
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir)) if (file.endsWith('.log')) total += statSync(join(dir, file)).size;
  }
  return total;
}

export type ChildEvent = Record<string, unknown> & { event: string };

/** A child process speaking JSON lines. */
export class BenchChild {
  readonly events: ChildEvent[] = [];
  private readonly listeners: Array<(e: ChildEvent) => void> = [];
  private waiters: Array<{ match: (e: ChildEvent) => boolean; resolve: (e: ChildEvent) => void; fail: (error: Error) => void }> = [];
  readonly exited: Promise<number | null>;

  constructor(
    readonly process: ChildProcess,
    readonly label: string,
    readonly logFile: string,
  ) {
    const lines = createInterface({ input: process.stdout! });
    lines.on('line', (line) => {
      let event: ChildEvent;
      try {
        event = JSON.parse(line) as ChildEvent;
      } catch {
        return;
      }
      for (const listener of this.listeners) listener(event);
      if (this.listeners.length > 0 && event.event === 'record') return;
      this.events.push(event);
      if (event.event === 'failed') {
        for (const w of this.waiters.splice(0)) w.fail(new Error(`${this.label} failed: ${String(event.error)} (log: ${this.logFile})`));
        return;
      }
      for (const w of [...this.waiters]) {
        if (w.match(event)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    });
    this.exited = new Promise((resolve) => process.on('exit', (code) => resolve(code)));
  }

  /** Calls fn with every event from now on; 'record' events then go to the listeners only (not kept). */
  onEvent(fn: (e: ChildEvent) => void): void {
    this.listeners.push(fn);
  }

  /** The first event (seen or to come) of that name, or a rejection after the timeout or on exit. */
  wait(name: string, timeoutMs: number, match: (e: ChildEvent) => boolean = () => true): Promise<ChildEvent> {
    const seen = this.events.find((e) => e.event === name && match(e));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.label}: no '${name}' within ${timeoutMs} ms (log: ${this.logFile})`));
      }, timeoutMs);
      const waiter = {
        match: (e: ChildEvent) => e.event === name && match(e),
        resolve: (e: ChildEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
        fail: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.waiters.push(waiter);
      void this.exited.then((code) => {
        if (!this.waiters.includes(waiter)) return;
        this.waiters = this.waiters.filter((w) => w !== waiter);
        clearTimeout(timer);
        const last = this.events.find((e) => e.event === name && match(e));
        if (last) resolve(last);
        else reject(new Error(`${this.label} exited (code ${code}) before '${name}' (log: ${this.logFile})`));
      });
    });
  }

  /** SIGTERM, then SIGKILL after the grace period. */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Runs fn with a bound on time: rejects after timeoutMs. */
export async function withTimeout<T>(what: string, timeoutMs: number, fn: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls until check() is true, every intervalMs, at most timeoutMs. */
export async function until(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not done after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}
