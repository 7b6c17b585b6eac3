// Producer settings: what to watch, where to publish, how to behave. Resolved like every kubetrail
// setting (flags, then environment, then a YAML/JSON file, then defaults) with lib/config.ts and
// validated once at start-up. Resource existence is checked later, against the API server
// (discoverResource in producer/kube.ts), because only the server knows which resources it has.
// The topic settings (topic, topicPartitions, stateTopic, rawRetentionMs) are the topic contract's
// (lib/topics.ts), shared with `topics init`, replay and the catalog.
import { hostname } from 'node:os';
import { z } from 'zod';
import { connectionEnv, connectionSchema, resolveConfig, ConfigError } from '../lib/config.js';
import { topicSettingsEnv, topicSettingsSchema } from '../lib/topics.js';
import { connectionProblems } from '../lib/secure-connection.js';

export const operations = ['ADDED', 'MODIFIED', 'DELETED', 'READ'] as const;
export type OperationName = (typeof operations)[number];

const commaList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean));

const positiveInt = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

// A DNS-1123 label (namespace names) and subdomain (group, resource names).
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Broker default message.max.bytes is 1048588: leave room for the record and batch framing. */
export const defaultMaxRecordBytes = 1_000_000;

export const producerSchema = connectionSchema.extend({
  /** API group of the watched resource; '' (or 'core') for the core group (v1 Secrets, ConfigMaps…). */
  group: z
    .string()
    .default('argoproj.io')
    .transform((g) => (g === 'core' ? '' : g))
    .refine((g) => g === '' || dnsSubdomain.test(g), 'an API group such as argoproj.io (or core)'),
  version: z.string().regex(/^v\d+((alpha|beta)\d+)?$/, 'an API version such as v1 or v1alpha1').default('v1alpha1'),
  resource: z.string().regex(dnsSubdomain, 'a plural resource name as in the URL, such as workflows').default('workflows'),
  /** '' or '*' or 'all': every namespace (one cluster-wide watch); else one namespace or a comma list. */
  namespaces: commaList
    .default([])
    .transform((list) => (list.length === 0 || list.some((n) => n === '*' || n === 'all') ? [] : [...new Set(list)].sort()))
    .refine((list) => list.every((n) => dnsLabel.test(n)), 'namespace names (DNS labels), comma-separated, or * for all'),
  /** Server-side label selector (the API server filters; '' selects everything). */
  labelSelector: z.string().default('track-me=true'),
  /** Server-side field selector (the API server filters; custom resources support metadata.name and metadata.namespace). */
  fieldSelector: z.string().default(''),
  /** Client-side: only objects whose metadata.name starts with this exact text (anchored, literal, case-sensitive). */
  namePrefix: z.string().default(''),
  /** Which operations reach the topic; the others are still tracked (checkpoint, index), just not published. */
  operations: commaList
    .default([...operations])
    .transform((list) => list.map((o) => o.toUpperCase()))
    .pipe(z.array(z.enum(operations)).min(1, 'at least one of ADDED, MODIFIED, DELETED, READ')),
  cluster: z.string().min(1).regex(/^[^\n/]+$/, 'no newline or slash').default('default'),
  /** topic, topicPartitions, stateTopic, rawRetentionMs: the raw and state topics (lib/topics.ts). */
  ...topicSettingsSchema.shape,
  /** Name of the stream in the state topic (its checkpoints and index); replicas of one producer share it. */
  stream: z.string().regex(/^[^\n/]+$/, 'no newline or slash').optional(),
  instanceId: z.string().min(1).default(`${hostname()}-${process.pid}`),
  maxRecordBytes: positiveInt(65_536, 100 * 1024 * 1024).default(defaultMaxRecordBytes),
  compression: z.enum(['gzip', 'none']).default('gzip'),
  /** 0 picks a free port (tests); -1 disables the HTTP server. */
  httpPort: z.coerce.number().int().min(-1).max(65_535).default(8080),
  kubeconfig: z.string().optional(),
  /** Page size of list requests (limit + continue): bounds the memory a relist needs. */
  listPageSize: positiveInt(1, 10_000).default(100),
  /** The in-memory queue between the watch and the publisher never holds more than this. */
  queueMaxEvents: positiveInt(1).default(1_000),
  queueMaxBytes: positiveInt(1_048_576).default(16 * 1024 * 1024),
  /** At most this many events, and about this many bytes of objects, per Kafka transaction. */
  batchMaxEvents: positiveInt(1).default(500),
  batchMaxBytes: positiveInt(65_536).default(4 * 1024 * 1024),
  /** Leader election: a replica that stops heartbeating loses leadership after this long. */
  sessionTimeoutMs: positiveInt(6_000, 300_000).default(6_000),
  /** Server-side watch timeout; the watch is renewed from the last resourceVersion after it. */
  watchTimeoutSeconds: positiveInt(10, 3_600).default(300),
  transactionTimeoutMs: positiveInt(1_000, 900_000).default(30_000),
});

export type ProducerConfigInput = z.input<typeof producerSchema>;
export type ProducerConfig = z.output<typeof producerSchema> & { stream: string };

export const producerEnv: Record<keyof z.input<typeof producerSchema>, string> = {
  ...connectionEnv,
  group: 'KUBETRAIL_GROUP',
  version: 'KUBETRAIL_VERSION',
  resource: 'KUBETRAIL_RESOURCE',
  namespaces: 'KUBETRAIL_NAMESPACES',
  labelSelector: 'KUBETRAIL_LABEL_SELECTOR',
  fieldSelector: 'KUBETRAIL_FIELD_SELECTOR',
  namePrefix: 'KUBETRAIL_NAME_PREFIX',
  operations: 'KUBETRAIL_OPERATIONS',
  cluster: 'KUBETRAIL_CLUSTER',
  ...topicSettingsEnv,
  stream: 'KUBETRAIL_STREAM',
  instanceId: 'KUBETRAIL_INSTANCE_ID',
  maxRecordBytes: 'KUBETRAIL_MAX_RECORD_BYTES',
  compression: 'KUBETRAIL_COMPRESSION',
  httpPort: 'KUBETRAIL_HTTP_PORT',
  kubeconfig: 'KUBECONFIG',
  listPageSize: 'KUBETRAIL_LIST_PAGE_SIZE',
  queueMaxEvents: 'KUBETRAIL_QUEUE_MAX_EVENTS',
  queueMaxBytes: 'KUBETRAIL_QUEUE_MAX_BYTES',
  batchMaxEvents: 'KUBETRAIL_BATCH_MAX_EVENTS',
  batchMaxBytes: 'KUBETRAIL_BATCH_MAX_BYTES',
  sessionTimeoutMs: 'KUBETRAIL_SESSION_TIMEOUT_MS',
  watchTimeoutSeconds: 'KUBETRAIL_WATCH_TIMEOUT_SECONDS',
  transactionTimeoutMs: 'KUBETRAIL_TRANSACTION_TIMEOUT_MS',
};

/** `<resource>.<group>` as kubectl writes it (`workflows.argoproj.io`; `secrets` for the core group). */
export function resourceName(config: Pick<ProducerConfig, 'group' | 'resource'>): string {
  return config.group ? `${config.resource}.${config.group}` : config.resource;
}

/** The default stream: one per cluster and resource. */
export function defaultStream(config: Pick<ProducerConfig, 'cluster' | 'group' | 'resource'>): string {
  return `${config.cluster}.${resourceName(config)}`;
}

/** Checks what zod cannot see alone, and fills the derived defaults. */
export function finishConfig(parsed: z.output<typeof producerSchema>): ProducerConfig {
  if (parsed.topic === parsed.stateTopic) {
    throw new ConfigError('invalid configuration:\n  stateTopic: must differ from topic (set with --state-topic, KUBETRAIL_STATE_TOPIC)');
  }
  for (const selector of [parsed.labelSelector, parsed.fieldSelector]) {
    if (/[\n\r]/.test(selector)) throw new ConfigError('invalid configuration:\n  selectors must be one line');
  }
  return { ...parsed, stream: parsed.stream ?? defaultStream(parsed) };
}

/** The producer's configuration from flags, environment (default process.env) and file. */
export function loadProducerConfig(sources: { flags?: Record<string, unknown>; env?: NodeJS.ProcessEnv; file?: Record<string, unknown> } = {}): ProducerConfig {
  return finishConfig(resolveConfig(producerSchema, producerEnv, sources, connectionProblems));
}

/** A fingerprint of what is selected: a checkpoint taken under another selection is not resumed. */
export function selectionOf(config: ProducerConfig): string {
  return JSON.stringify({
    group: config.group,
    version: config.version,
    resource: config.resource,
    labelSelector: config.labelSelector,
    fieldSelector: config.fieldSelector,
    namePrefix: config.namePrefix,
  });
}

/**
 * The Kafka transactional ids and leader-election group of a stream: fixed, shared by its
 * replicas. The leader writes through two transactional ids in turn (producer/publisher.ts); the
 * second ends in `/1`, which no stream name contains, so it never names another stream's first.
 */
export function streamIds(config: Pick<ProducerConfig, 'stream'>) {
  const transactionalId = `kubetrail-producer.${config.stream}`;
  return {
    transactionalIds: [transactionalId, `${transactionalId}/1`] as const,
    leaderGroup: `kubetrail-producer.${config.stream}.leader`,
  };
}
