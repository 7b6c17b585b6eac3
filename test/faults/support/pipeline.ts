// One fault scenario's pipeline on the faults stack: producers and both workflow processors in
// child processes (so SIGKILL is real), on topics, groups and a namespace of their own.
import { createServer } from 'node:net';
import { logLevel, type Kafka } from 'kafkajs';
import { kafkaClient } from '../../../lib/kafka/client.js';
import { ArgoSimulator } from '../../../stack/argo-simulator.js';
import { KubeConfig } from '@kubernetes/client-node';
import { childProducerEnv, spawnProducer, type ChildProducer } from '../../support/producer.js';
import { ProcessorChild, type ChildSpec } from '../../support/kit-helpers.js';
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
  readonly processors = new Map<ProcessorKind, ProcessorChild>();
  /** Every processor process started, for the logs of a failed run. */
  readonly processorHistory: Array<{ kind: ProcessorKind; child: ProcessorChild }> = [];
  /** Faults injected, by kind ("kafka kill -9", "producer SIGKILL"...). */
  readonly faults: string[] = [];
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
  }

  dlqTopic(kind: ProcessorKind) {
    return `${this.groups[kind]}.dlq`;
  }

  /** Starts a producer of the scenario's stream; resolves once it answers /readyz (leader watching, or standby). */
  async startProducer(options: { waitReady?: boolean; instance?: string } = {}): Promise<ProducerChild> {
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
          extra: { KUBECONFIG: this.env.kubeconfig, KUBETRAIL_HTTP_PORT: String(httpPort), ...this.options.producerExtra },
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

  /** The live producers that say they lead (readyz "leader: …"). */
  async leaders(): Promise<ProducerChild[]> {
    const live = this.producers.filter((p) => p.process.exitCode === null && p.process.signalCode === null);
    const answers = await Promise.all(live.map(async (p) => ({ p, answer: await p.readyz() })));
    return answers.filter(({ answer }) => answer?.body.includes('leader')).map(({ p }) => p);
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

  /** Starts a processor (the raw topic must exist); `waitReady` false returns at once. */
  async startProcessor(kind: ProcessorKind, { waitReady = true } = {}): Promise<ProcessorChild> {
    const child = new ProcessorChild(this.env.connection, this.processorSpec(kind));
    this.processors.set(kind, child);
    this.processorHistory.push({ kind, child });
    if (waitReady) await child.ready;
    return child;
  }

  async killProcessor(kind: ProcessorKind, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.processors.get(kind);
    if (!child) return;
    await child.kill(signal);
    this.processors.delete(kind);
  }

  /** Producer, then both processors, ready. */
  async start(): Promise<void> {
    await this.startProducer();
    await Promise.all(processorKinds.map((kind) => this.startProcessor(kind)));
  }

  /** Kills whatever still runs (the scenario is over, or failed). */
  async shutdown(): Promise<void> {
    await Promise.all([
      ...this.producers.map((p) => p.kill('SIGKILL')),
      ...this.processorHistory.map(({ child }) => (child.process.exitCode === null && child.process.signalCode === null ? child.kill('SIGKILL') : undefined)),
    ]);
  }

  /** Recent logs of every process, for a failure message. */
  logs(lines = 15): string {
    const parts: string[] = [];
    for (const p of this.producers) parts.push(`--- producer ${p.instance}\n${p.output.slice(-lines).join('\n')}`);
    for (const { kind, child } of this.processorHistory.slice(-4)) parts.push(`--- ${kind} pid ${child.process.pid}\n${child.stderr.split('\n').slice(-lines).join('\n')}`);
    return parts.join('\n');
  }
}
