// The producer service: checks the configuration against the API server, makes sure the topics
// and the schema exist, joins the leader election, and while leading runs sessions
// (producer/session.ts), starting a new one after any failure. startProducer is what the CLI
// (`kubetrail produce`), producer/main.ts, the tests and the demo call.
import type { Server } from 'node:http';
import type { Kafka } from 'kafkajs';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { createKafka, createRegistry } from '../lib/kafka/client.js';
import { startServiceHttp } from '../lib/http.js';
import type { Logger } from '../lib/log.js';
import { resourceEventSchema } from '../lib/raw-event.js';
import { ConfigError, redactConfig } from '../lib/config.js';
import { sleep, Backoff } from '../lib/async.js';
import { ensureTopics, producerTopicSpecs, TopicError, weakTopics } from '../lib/topics.js';
import { streamIds, type ProducerConfig } from './config.js';
import { checkAccess, discoverResource, KubeSource, loadKubeConfig, type ResourceInfo } from './kube.js';
import { LeaderElector } from './leader.js';
import type { SourceContext } from './mapping.js';
import { createProducerMetrics, type ProducerMetrics } from './metrics.js';
import { isFencedError, Session } from './session.js';

export interface ProducerStatus {
  leader: boolean;
  /** Every scope has an established watch. */
  watching: boolean;
  /** Scope → resourceVersion of the last committed checkpoint, in this session. */
  checkpoints: Record<string, string>;
  sessions: number;
}

export interface ProducerHandle {
  readonly config: ProducerConfig;
  readonly resource: ResourceInfo;
  readonly metrics: ProducerMetrics;
  /** The port /healthz, /readyz and /metrics listen on (undefined when disabled). */
  readonly httpPort: number | undefined;
  status(): ProducerStatus;
  /** Resolves once this replica leads and watches every scope. */
  whenWatching(timeoutMs?: number): Promise<void>;
  /** Clean shutdown: the transaction in flight finishes or is aborted, the group is left, connections close. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** A prom-client registry to use instead of a new one. */
  metrics?: ProducerMetrics;
}

/**
 * Creates the raw topic (retention from rawRetentionMs, as `topics init` does) and the state topic
 * when missing; a state topic without exactly one partition is a configuration error (exit 2).
 */
async function ensureProducerTopics(kafka: Kafka, config: ProducerConfig, logger: Logger): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const specs = producerTopicSpecs(config);
    const created = await ensureTopics(admin, specs);
    if (created.length > 0) logger.info({ topics: created }, 'created topics');
    for (const finding of await weakTopics(admin, specs.map((s) => s.topic))) logger.warn({ finding }, 'topic weaker than the cluster allows');
  } catch (error) {
    if (error instanceof TopicError) throw new ConfigError(`invalid configuration:\n  stateTopic: ${error.message}`);
    throw error;
  } finally {
    await admin.disconnect();
  }
}

export async function startProducer(config: ProducerConfig, logger: Logger, options: StartOptions = {}): Promise<ProducerHandle> {
  const log = logger.child({ stream: config.stream, instance: config.instanceId });
  log.info({ config: redactConfig(config as unknown as Record<string, unknown>) }, 'starting the producer');
  const kc = loadKubeConfig(config.kubeconfig);
  const resource = await discoverResource(kc, config.group, config.version, config.resource);
  await checkAccess(kc, resource, config.namespaces);
  const kube = new KubeSource(kc, resource, { labelSelector: config.labelSelector, fieldSelector: config.fieldSelector });
  const kafka = createKafka(config, log, `kubetrail-producer-${config.instanceId}`);
  const registry = createRegistry(config);
  await ensureProducerTopics(kafka, config, log);
  const { id: schemaId } = await registry.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(resourceEventSchema) },
    { subject: `${config.topic}-value` },
  );
  log.info({ subject: `${config.topic}-value`, schemaId }, 'schema registered');
  const metrics = options.metrics ?? createProducerMetrics();
  const ctx: SourceContext = {
    cluster: config.cluster,
    group: resource.group,
    version: resource.version,
    resource: resource.resource,
    kind: resource.kind,
    producer: config.instanceId,
  };

  let stopping = false;
  let session: Session | undefined;
  let sessionDone: Promise<void> | undefined;
  let sessions = 0;
  let lastCheckpoints = new Map<string, string>();

  const elector = new LeaderElector(kafka, {
    groupId: streamIds(config).leaderGroup,
    topic: config.stateTopic,
    instance: config.instanceId,
    sessionTimeoutMs: config.sessionTimeoutMs,
    logger: log,
  });

  /** While leading: run sessions back to back, with a growing pause after failures. */
  const lead = async () => {
    // 0.5 s doubling to 10 s between failed sessions; back to 0.5 s after a session that ran a minute.
    const backoff = new Backoff({ initialMs: 500, maxMs: 10_000 });
    while (elector.leading && !stopping) {
      const current = new Session({ config, kafka, registry, schemaId, kube, ctx, metrics, logger: log });
      session = current;
      sessions += 1;
      const began = Date.now();
      try {
        await current.run();
        metrics.sessions.inc({ outcome: 'ended' });
        backoff.reset();
      } catch (error) {
        metrics.sessions.inc({ outcome: 'failed' });
        if (isFencedError(error)) {
          log.warn({ err: error }, 'fenced by another producer of this stream: stepping down');
          elector.stepDown('fenced');
        } else {
          log.error({ err: error }, 'session failed: resuming from the committed checkpoints');
        }
        if (Date.now() - began > 60_000) backoff.reset();
        await sleep(backoff.next());
      } finally {
        lastCheckpoints = new Map(current.committed);
        if (session === current) session = undefined;
      }
    }
  };

  const ensureLeading = () => {
    if (sessionDone || stopping || !elector.leading) return;
    sessionDone = lead().finally(() => {
      sessionDone = undefined;
      ensureLeading();
    });
  };

  elector.on('change', (leading: boolean) => {
    metrics.leader.set(leading ? 1 : 0);
    if (leading) ensureLeading();
    else session?.stop();
  });

  const status = (): ProducerStatus => ({
    leader: elector.leading,
    watching: elector.leading && (session?.watching ?? false),
    checkpoints: Object.fromEntries(session ? session.committed : lastCheckpoints),
    sessions,
  });

  let server: Server | undefined;
  if (config.httpPort >= 0) {
    server = await startServiceHttp(
      config.httpPort,
      {
        live: () => true,
        ready: () => {
          if (stopping) return { ready: false, reason: 'stopping' };
          if (elector.leading) return session?.watching ? { ready: true, reason: 'leader: watching' } : { ready: false, reason: 'leader: starting' };
          return elector.joined ? { ready: true, reason: 'standby' } : { ready: false, reason: 'joining the leader election' };
        },
      },
      metrics.registry,
    );
  }
  const address = server?.address();
  const httpPort = typeof address === 'object' && address ? address.port : undefined;

  await elector.start();

  return {
    config,
    resource,
    metrics,
    httpPort,
    status,
    async whenWatching(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!status().watching) {
        if (Date.now() > deadline) throw new Error(`producer ${config.instanceId} not watching after ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      log.info('stopping');
      session?.stop();
      const pending = sessionDone;
      if (pending) {
        // The transaction in flight gets a grace period; past it, it is left open (kafkajs sends no
        // EndTxn when it disconnects) until the next leader's initTransactions aborts it, or
        // the broker does at the transaction timeout.
        await Promise.race([pending, sleep(15_000)]);
      }
      await elector.stop();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      log.info('stopped');
    },
  };
}
