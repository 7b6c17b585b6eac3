// One fault scenario's pipeline on the faults stack: producers and both workflow processors in
// child processes (so SIGKILL is real), on topics, groups and a namespace of their own.
import { createServer } from 'node:net';
import { logLevel, type Kafka } from 'kafkajs';
import { kafkaClient } from '../../../lib/kafka/client.js';
import { ArgoSimulator } from '../../../stack/argo-simulator.js';
import { KubeConfig } from '@kubernetes/client-node';
import { childProducerEnv, spawnProducer, type ChildProducer } from '../../support/producer.js';
import { ProcessorChild, testLogsDir, type ChildSpec } from '../../support/kit-helpers.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { uniqueName } from '../../support/services.js';
import type { FaultsStack } from './stack.js';

export type ProcessorKind = 'completed-filter' | 'workflow-summary';
export const processorKinds: ProcessorKind[] = ['completed-filter', 'workflow-summary'];

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A free TCP port on 127.0.0.1 (for a producer's /readyz). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface ProducerChild extends ChildProducer {
  instance: string;
  httpPort: number;
  /** GET /readyz: { status, body } or undefined when it does not answer. */
  readyz(): Promise<{ status: number; body: string } | undefined>;
}

export class Pipeline {
  readonly base: string;
  readonly namespace: string;
  readonly topics: { raw: string; state: string; completed: string; summary: string };
  readonly groups: Record<ProcessorKind, string>;
  readonly kafka: Kafka;
  readonly sim: ArgoSimulator;
  /** Every producer started in this scenario, in order (their logs tell the relists). */
  readonly producers: ProducerChild[] = [];
  /** Live instances of each processor, oldest first (one consumer group per processor). */
  readonly processors = new Map<ProcessorKind, ProcessorChild[]>(processorKinds.map((kind) => [kind, []]));
  /** Every processor process started, for the logs of a failed run. */
  readonly processorHistory: Array<{ kind: ProcessorKind; child: ProcessorChild }> = [];
  /** Faults injected, by kind ("kafka kill -9", "producer SIGKILL"...). */
  readonly faults: string[] = [];
  /** When the last fault was injected (ms since the epoch), for the time to recover. */
  lastFaultAt = 0;
  /** etcd revisions the scenario compacted at: the only loss window the verifier accepts. */
  readonly compactions: bigint[] = [];
  private producerCount = 0;

  constructor(
    readonly env: FaultsStack,
    readonly scenario: string,
    readonly options: { maxBatchRecords?: number; producerExtra?: Record<string, string> } = {},
  ) {
    this.base = uniqueName(`f-${scenario}`);
    this.namespace = this.base;
    this.topics = { raw: `${this.base}.raw`, state: `${this.base}.state`, completed: `${this.base}.completed`, summary: `${this.base}.summary` };
    this.groups = { 'completed-filter': `${this.base}-cf`, 'workflow-summary': `${this.base}-ws` };
    this.kafka = kafkaClient({ brokers: env.connection.kafkaBrokers, clientId: `faults-${scenario}`, logLevel: logLevel.NOTHING, retry: { retries: 12, maxRetryTime: 5_000 } });
    const kc = new KubeConfig();
    kc.loadFromFile(env.kubeconfig);
    this.sim = new ArgoSimulator(kc);
  }

  fault(kind: string) {
    this.faults.push(kind);
    this.lastFaultAt = Date.now();
  }

  dlqTopic(kind: ProcessorKind) {
    return `${this.groups[kind]}.dlq`;
  }

  /** Starts a producer of the scenario's stream; resolves once it answers /readyz (leader watching, or standby). */
  async startProducer(options: { waitReady?: boolean; instance?: string; env?: Record<string, string> } = {}): Promise<ProducerChild> {
    this.producerCount += 1;
    const instance = options.instance ?? `p${this.producerCount}`;
    const httpPort = await freePort();
    const child = spawnProducer(
      childProducerEnv(
        { kafkaBrokers: this.env.connection.kafkaBrokers, schemaRegistryUrl: this.env.connection.schemaRegistryUrl },
        {
          stream: this.base,
          namespace: this.namespace,
          instance,
          extra: { KUBECONFIG: this.env.kubeconfig, KUBETRAIL_HTTP_PORT: String(httpPort), ...this.options.producerExtra, ...options.env },
        },
      ),
    );
    const producer: ProducerChild = Object.assign(child, {
      instance,
      httpPort,
      async readyz() {
        try {
          const response = await fetch(`http://127.0.0.1:${httpPort}/readyz`, { signal: AbortSignal.timeout(1_000) });
          return { status: response.status, body: await response.text() };
        } catch {
          return undefined;
        }
      },
    });
    this.producers.push(producer);
    if (options.waitReady ?? true) await this.waitProducerReady(producer);
    return producer;
  }

  async waitProducerReady(producer: ProducerChild, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const answer = await producer.readyz();
      if (answer?.status === 200) return answer.body;
      if (producer.process.exitCode !== null || producer.process.signalCode !== null) {
        throw new Error(`producer ${producer.instance} exited before it was ready:\n${producer.output.slice(-20).join('\n')}`);
      }
      if (Date.now() > deadline) throw new Error(`producer ${producer.instance} not ready after ${timeoutMs} ms:\n${producer.output.slice(-20).join('\n')}`);
      await sleep(200);
    }
  }

  /** The live producers that say they lead (readyz "leader: …"); `watching`: only those whose session watches (its transactional producer connected, so any older leader is fenced). */
  async leaders({ watching = false } = {}): Promise<ProducerChild[]> {
    const live = this.producers.filter((p) => p.process.exitCode === null && p.process.signalCode === null);
    const answers = await Promise.all(live.map(async (p) => ({ p, answer: await p.readyz() })));
    return answers.filter(({ answer }) => answer?.body.includes(watching ? 'leader: watching' : 'leader')).map(({ p }) => p);
  }

  processorSpec(kind: ProcessorKind): ChildSpec {
    const outputs: Record<string, string> = kind === 'completed-filter' ? { completed: this.topics.completed } : { summaries: this.topics.summary };
    return {
      processor: kind,
      options: {
        groupId: this.groups[kind],
        topics: { input: this.topics.raw, outputs },
        sessionTimeoutMs: 6_000,
        // Small transactions: many commit points for a kill to fall between.
        maxBatchRecords: this.options.maxBatchRecords ?? 20,
        concurrency: 3,
      },
    };
  }

  /** Starts one more instance of a processor (the raw topic must exist); `waitReady` false returns at once; `env` adds settings (a fault point). */
  async startProcessor(kind: ProcessorKind, { waitReady = true, env = {} }: { waitReady?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<ProcessorChild> {
    const child = new ProcessorChild(this.env.connection, this.processorSpec(kind), env);
    this.processors.get(kind)!.push(child);
    this.processorHistory.push({ kind, child });
    if (waitReady) await child.ready;
    return child;
  }

  /** The live instances of a processor. */
  instances(kind: ProcessorKind): ProcessorChild[] {
    return this.processors.get(kind)!.filter((c) => c.process.exitCode === null && c.process.signalCode === null);
  }

  /** Kills one instance of a processor (`which`, else the oldest). */
  async killProcessor(kind: ProcessorKind, signal: NodeJS.Signals = 'SIGKILL', which?: ProcessorChild): Promise<void> {
    const list = this.processors.get(kind)!;
    const child = which ?? list[0];
    if (!child) return;
    await child.kill(signal);
    list.splice(list.indexOf(child), 1);
  }

  /** Two producers (a leader and a standby) and two live instances of each processor, ready. */
  async start({ producers = 2, instances = 2 } = {}): Promise<void> {
    await this.startProducer();
    for (let i = 1; i < producers; i++) await this.startProducer();
    await Promise.all(processorKinds.flatMap((kind) => Array.from({ length: instances }, () => this.startProcessor(kind))));
  }

  /** After the faults: at least one live producer and one live instance of each processor. */
  async ensureRunning(): Promise<void> {
    if (!this.producers.some((p) => p.process.exitCode === null && p.process.signalCode === null)) await this.startProducer();
    for (const kind of processorKinds) if (this.instances(kind).length === 0) await this.startProcessor(kind);
  }

  /** Kills whatever still runs (the scenario is over, or failed); resumes what a scenario left stopped first. */
  async shutdown(): Promise<void> {
    const running = (c: { process: { exitCode: number | null; signalCode: NodeJS.Signals | null } }) => c.process.exitCode === null && c.process.signalCode === null;
    await Promise.all([
      ...this.producers.filter(running).map((p) => p.kill('SIGKILL')),
      ...this.processorHistory.filter(({ child }) => running(child)).map(({ child }) => child.kill('SIGKILL')),
    ]);
    await this.deleteTopics();
  }

  /** Deletes the scenario's topics (raw, state, outputs, changelogs, dead letters): the faults stack does not grow run after run. Best effort, bounded. */
  private async deleteTopics(): Promise<void> {
    const admin = this.kafka.admin();
    const work = (async () => {
      await admin.connect();
      const mine = (await admin.listTopics()).filter((topic) => topic.startsWith(this.base));
      if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 10_000 });
    })();
    await Promise.race([work, sleep(20_000)]).catch((error: Error) => process.stderr.write(`[faults] could not delete the topics of ${this.base}: ${error.message}\n`));
    await admin.disconnect().catch(() => undefined);
  }

  /** Every process's whole log, in .kubetrail/test-logs/faults-<scenario>.log (the failure message shows the tails); returns the path. */
  saveLogs(): string {
    const file = join(testLogsDir, `faults-${this.base}.log`);
    mkdirSync(testLogsDir, { recursive: true });
    const parts: string[] = [];
    for (const p of this.producers) parts.push(`--- producer ${p.instance}\n${p.output.join('\n')}`);
    for (const { kind, child } of this.processorHistory) parts.push(`--- ${kind} pid ${child.process.pid}\n${child.stderr}`);
    writeFileSync(file, parts.join('\n'));
    return file;
  }

  /** Recent logs of every process, for a failure message. */
  logs(lines = 15): string {
    const parts: string[] = [];
    for (const p of this.producers) parts.push(`--- producer ${p.instance}\n${p.output.slice(-lines).join('\n')}`);
    for (const { kind, child } of this.processorHistory.slice(-6)) parts.push(`--- ${kind} pid ${child.process.pid}\n${child.stderr.split('\n').slice(-lines).join('\n')}`);
    return parts.join('\n');
  }
}
