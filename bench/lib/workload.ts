// The benchmark workload: Argo Workflow objects of real sizes, built from the real objects in
// test/fixtures/argo-workflows (their spec, metadata and status), with status.nodes scaled up by
// cloning their pod nodes under new ids until the object reaches the size wanted, and the raw
// events the producer would publish for them (producer/mapping.ts: same value, key and headers).
//
// A workflow's life is `changesPerWorkflow` changes: Running with its progress moving (0/n, 1/n,
// …), then its final phase. So the summary processor emits on every change (progress and phase
// are in its fingerprint) and the completed filter once per workflow, as with real workflows.
//
// Objects are rendered from a template string with placeholders (name, uid, resourceVersion,
// phase, progress), so building 100,000 events of ~45 KB costs a string join each, not a
// JSON.stringify of a large object.
import avro from 'avsc';
import { gzipSync } from 'node:zlib';
import type { Message } from 'kafkajs';
import { loadAllWorkflows, type WorkflowObject } from '../../test/fixtures/workflows.js';
import { recordHeaders, recordKey, toResourceEvent, type ObjectMeta, type SourceContext } from '../../producer/mapping.js';
import { resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';
import { wireHeader } from '../../lib/kafka/codec.js';

type Json = Record<string, unknown>;

/** The size mix of the objects: most workflows are small, a few carry hundreds of nodes. */
export const sizeMix: ReadonlyArray<{ bytes: number; weight: number }> = [
  { bytes: 4_000, weight: 30 },
  { bytes: 16_000, weight: 30 },
  { bytes: 48_000, weight: 25 },
  { bytes: 128_000, weight: 12 },
  { bytes: 384_000, weight: 3 },
];

export const benchContext: SourceContext = {
  cluster: 'bench',
  group: 'argoproj.io',
  version: 'v1alpha1',
  resource: 'workflows',
  kind: 'Workflow',
  producer: 'bench-workload',
};

const placeholder = /@@(NAME|NS|UID|RV|PHASE|PROGRESS)@@/;
type Slot = 'NAME' | 'NS' | 'UID' | 'RV' | 'PHASE' | 'PROGRESS';

/** An object of one fixture at one size, as a template to render. */
export class ObjectTemplate {
  /** Literal text and slots, alternating (literal, slot, literal, …). */
  private readonly parts: string[];
  readonly finalPhase: string;
  readonly bytes: number;
  readonly labels: Record<string, string>;
  readonly creationTimestamp: number | null;

  constructor(
    readonly fixture: string,
    object: Json,
    finalPhase: string,
    /** The fixture workflow's own name: written by Argo into node ids and names, made the NAME slot. */
    fixtureName?: string,
  ) {
    this.finalPhase = finalPhase;
    let text = JSON.stringify(object);
    if (fixtureName) text = text.split(fixtureName).join('@@NAME@@');
    this.parts = text.split(placeholder);
    this.bytes = Buffer.byteLength(text);
    const metadata = (object.metadata ?? {}) as Json;
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries((metadata.labels as Json) ?? {})) if (typeof v === 'string') labels[k] = v;
    this.labels = labels;
    this.creationTimestamp = typeof metadata.creationTimestamp === 'string' ? Date.parse(metadata.creationTimestamp) : null;
  }

  render(values: Record<Slot, string>): string {
    let out = '';
    for (let i = 0; i < this.parts.length; i++) out += i % 2 === 0 ? this.parts[i] : values[this.parts[i] as Slot];
    return out;
  }

  /** The object itself (parsed). */
  objectFor(values: Record<Slot, string>): Json {
    return JSON.parse(this.render(values)) as Json;
  }

  /**
   * The object to create in the API server: metadata cut to what a client writes (name,
   * namespace, labels, annotations; the server sets uid, resourceVersion, timestamps), spec and
   * status as they are (the CRD keeps status with the object: it is not a subresource).
   */
  createBody(name: string, namespace: string, phase = 'Running', progress = '0/4'): Json {
    const object = this.objectFor({ NAME: name, NS: namespace, UID: '', RV: '', PHASE: phase, PROGRESS: progress });
    const metadata = (object.metadata ?? {}) as Json;
    object.metadata = { name, namespace, labels: metadata.labels ?? {}, annotations: metadata.annotations ?? {} };
    return object;
  }
}

const finals = new Set(['Succeeded', 'Failed', 'Error']);

function isPodNode(node: unknown): node is Json {
  return typeof node === 'object' && node !== null && ((node as Json).type === 'Pod' || (node as Json).type === 'Container');
}

/**
 * The fixture scaled to about `targetBytes`: pod nodes cloned until the JSON reaches the size.
 * Clones look like the nodes of a big real workflow rather than copies (which gzip would squeeze
 * far better than real objects): an id of random digits as Argo's hashes, their own name, times,
 * resource usage, parameter values and artifact keys, phase Succeeded. The workflow's name
 * appears wherever Argo writes it (node ids, names, artifact keys), and becomes the template's
 * NAME slot, so two workflows of one template differ as two real runs do. Smaller targets than
 * the fixture keep the fixture as it is.
 */
export function scaledTemplate(name: string, fixture: WorkflowObject, targetBytes: number, seed = 7): ObjectTemplate {
  const random = rng(seed + targetBytes);
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 10)).join('');
  const word = (n: number) => Array.from({ length: n }, () => 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(random() * 36)]).join('');
  const object = structuredClone(fixture) as Json;
  const metadata = { ...((object.metadata as Json) ?? {}) };
  const fixtureName = typeof metadata.name === 'string' && metadata.name.length >= 5 ? metadata.name : undefined;
  const labels: Json = {};
  for (const [k, v] of Object.entries((metadata.labels as Json) ?? {})) labels[k] = String(v);
  labels['track-me'] = 'true';
  labels['workflows.argoproj.io/phase'] = '@@PHASE@@';
  delete labels['workflows.argoproj.io/completed'];
  delete metadata.ownerReferences;
  object.metadata = { ...metadata, name: '@@NAME@@', namespace: '@@NS@@', uid: '@@UID@@', resourceVersion: '@@RV@@', labels };
  object.apiVersion = 'argoproj.io/v1alpha1';
  object.kind = 'Workflow';
  const status = { ...((object.status as Json) ?? {}) };
  const fixturePhase = typeof status.phase === 'string' ? status.phase : '';
  status.phase = '@@PHASE@@';
  status.progress = '@@PROGRESS@@';
  const nodes = { ...((status.nodes as Json) ?? {}) };
  const pods = Object.values(nodes).filter(isPodNode);
  const base = Date.parse(String(status.startedAt ?? '2024-10-16T04:13:43Z')) || Date.UTC(2024, 9, 16);
  const wfName = fixtureName ?? 'wf';
  const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
  let size = Buffer.byteLength(JSON.stringify(object)) + Buffer.byteLength(JSON.stringify(nodes));
  for (let k = 0; pods.length > 0 && size < targetBytes; k++) {
    const pod = pods[k % pods.length]!;
    const id = `${wfName}-${digits(9 + Math.floor(random() * 2))}`;
    const started = base + Math.floor(random() * 3_600_000);
    const clone: Json = {
      ...pod,
      id,
      name: `${wfName}.${String(pod.displayName ?? 'step')}(${k}:${word(4)})`,
      displayName: `${String(pod.displayName ?? 'step')}(${k}:${word(4)})`,
      phase: 'Succeeded',
      startedAt: time(started),
      finishedAt: time(started + 1000 + Math.floor(random() * 600_000)),
      resourcesDuration: { cpu: Math.floor(random() * 300), memory: Math.floor(random() * 3000) },
      hostNodeName: `node-${word(5)}`,
    };
    delete clone.message;
    const inputs = pod.inputs as { parameters?: Array<Json> } | undefined;
    if (inputs?.parameters) clone.inputs = { ...inputs, parameters: inputs.parameters.map((p) => ({ ...p, value: word(6 + Math.floor(random() * 20)) })) };
    clone.outputs = {
      artifacts: [{ name: 'main-logs', s3: { key: `${wfName}/${id}/main.log` } }],
      exitCode: '0',
      parameters: [{ name: 'result', value: word(8 + Math.floor(random() * 40)) }],
    };
    nodes[id] = clone;
    size += Buffer.byteLength(JSON.stringify(clone)) + id.length + 4;
  }
  status.nodes = nodes;
  object.status = status;
  return new ObjectTemplate(name, object, finals.has(fixturePhase) ? fixturePhase : 'Succeeded', fixtureName);
}

/** Deterministic pseudo-random numbers (mulberry32), so every run has the same workload. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TemplateSet {
  /** One template per (fixture with pod nodes) × size bucket. */
  bySize: Map<number, ObjectTemplate[]>;
  /** Picks a template by the size mix. */
  pick(random: () => number): ObjectTemplate;
  /** Templates of one size only (e.g. ~50 KB for the producer's memory test). */
  ofSize(bytes: number): ObjectTemplate[];
}

let cachedFixtures: Array<{ name: string; object: WorkflowObject }> | undefined;

/** Templates of every fixture that has pod nodes, at the given sizes. */
export function buildTemplates(sizes: number[] = sizeMix.map((s) => s.bytes), fixtureLimit = 12): TemplateSet {
  cachedFixtures ??= loadAllWorkflows();
  const bases = cachedFixtures
    .filter(({ object }) => Object.values((object.status?.nodes as Json) ?? {}).some(isPodNode))
    .slice(0, fixtureLimit);
  const bySize = new Map<number, ObjectTemplate[]>();
  const sample = { NAME: 'bench-run0-wf-1234', NS: 'bench', UID: 'uid-bench-run0-wf-1234', RV: '123456', PHASE: 'Running', PROGRESS: '1/4' };
  const sized = (name: string, object: WorkflowObject, bytes: number) => {
    // The NAME slot makes the rendered object shorter or longer than the fixture: correct once.
    const first = scaledTemplate(name, object, bytes);
    const rendered = Buffer.byteLength(first.render(sample));
    return rendered < bytes * 0.97 && first.bytes > 0 ? scaledTemplate(name, object, Math.round((bytes * bytes) / rendered)) : first;
  };
  for (const bytes of sizes) bySize.set(bytes, bases.map(({ name, object }) => sized(name, object, bytes)));
  const weighted = sizeMix.filter((s) => bySize.has(s.bytes));
  const total = weighted.reduce((n, s) => n + s.weight, 0);
  return {
    bySize,
    ofSize: (bytes) => bySize.get(bytes) ?? [],
    pick(random) {
      let r = random() * total;
      for (const s of weighted) {
        r -= s.weight;
        if (r <= 0) {
          const list = bySize.get(s.bytes)!;
          return list[Math.floor(random() * list.length)]!;
        }
      }
      const list = bySize.get(weighted[weighted.length - 1]!.bytes)!;
      return list[0]!;
    },
  };
}

export const resourceEventType = avro.Type.forSchema(resourceEventSchema as unknown as avro.Schema);

export interface WorkloadOptions {
  /** Raw events in all. */
  events: number;
  changesPerWorkflow?: number;
  namespace?: string;
  seed?: number;
  /** Prefix of the workflow names (unique per run). */
  prefix: string;
}

export interface WorkloadEvent {
  event: ResourceEvent;
  key: string;
  headers: Record<string, string>;
  template: ObjectTemplate;
}

/**
 * The raw events, workflow after workflow; the changes of one workflow are spread out (round
 * robin over `inFlight` workflows running at once) as in a cluster where many run together.
 */
export function* workloadEvents(templates: TemplateSet, options: WorkloadOptions): Generator<WorkloadEvent> {
  const changes = Math.max(2, options.changesPerWorkflow ?? 5);
  const namespace = options.namespace ?? 'bench';
  const random = rng(options.seed ?? 42);
  const workflows = Math.ceil(options.events / changes);
  const inFlight = 16;
  let produced = 0;
  let rv = 1000;
  const observedAt = Date.UTC(2025, 0, 1);
  for (let first = 0; first < workflows && produced < options.events; first += inFlight) {
    const group: Array<{ name: string; uid: string; template: ObjectTemplate }> = [];
    for (let w = first; w < Math.min(workflows, first + inFlight); w++) {
      group.push({ name: `${options.prefix}-${w}`, uid: `uid-${options.prefix}-${w}`, template: templates.pick(random) });
    }
    for (let step = 0; step < changes; step++) {
      for (const wf of group) {
        if (produced >= options.events) return;
        const last = step === changes - 1;
        const phase = last ? wf.template.finalPhase : 'Running';
        rv += 1;
        const values = { NAME: wf.name, NS: namespace, UID: wf.uid, RV: String(rv), PHASE: phase, PROGRESS: `${step}/${changes - 1}` };
        const meta: ObjectMeta = {
          apiVersion: 'argoproj.io/v1alpha1',
          kind: 'Workflow',
          namespace,
          name: wf.name,
          uid: wf.uid,
          resourceVersion: values.RV,
          generation: step + 1,
          labels: { ...wf.template.labels, 'workflows.argoproj.io/phase': phase },
          creationTimestamp: wf.template.creationTimestamp,
          deletionTimestamp: null,
        };
        const event = toResourceEvent(benchContext, {
          operation: step === 0 ? 'ADDED' : 'MODIFIED',
          meta,
          objectJson: wf.template.render(values),
          observedAt: observedAt + produced,
        });
        produced += 1;
        yield { event, key: recordKey(benchContext, namespace, wf.name), headers: recordHeaders(event, 'kubetrail.raw'), template: wf.template };
      }
    }
  }
}

/** Confluent wire format of a ResourceEvent under a registered schema id. */
export function encodeEvent(header: Buffer, event: ResourceEvent): Buffer {
  const body = resourceEventType.toBuffer(event);
  return Buffer.concat([header, body], header.length + body.length);
}

export function messageOf(header: Buffer, item: WorkloadEvent): Message {
  return { key: item.key, value: encodeEvent(header, item.event), headers: item.headers };
}

export { wireHeader, gzipSync };
