// The bad-input corpus: every fixture as a good record, crafted bad records (one or more for each
// dead-letter reason a decoder or a workflow processor can give), odd but valid records, and
// seeded fuzz, interleaved. Built once here for the bad-input suite and for the test that runs the
// runner and the test driver over the same records.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SchemaType, type SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { ResourceEvent } from '../../lib/raw-event.js';
import { loadAllWorkflows, loadWorkflow, rawEventFor, type WorkflowObject } from '../fixtures/workflows.js';

/** A tiny seeded PRNG: the fuzzed records are the same on every run (KUBETRAIL_BAD_INPUT_SEED changes them). */
export function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * What a record is expected to do: dead-letter with a reason (in both processors), be processed,
 * or either (fuzzed objects: dead-lettered with one of these reasons, or processed).
 */
export type Expect = { dead: string | string[] } | { good: true; finalPhase: string } | { either: string[] };

export interface Case {
  label: string;
  key: string | null;
  value: Buffer | null;
  expect: Expect;
  /** The event, for good records. */
  event?: ResourceEvent;
  /** Sent in a batch of its own (a near-max record). */
  alone?: boolean;
}

export const decodeFailures = ['invalid-wire-format', 'unknown-schema', 'incompatible-schema', 'malformed-avro'];

/** A ResourceEvent as the producer makes it, for a workflow object, with a name and uid of its own. */
export function eventOf(object: WorkflowObject | Record<string, unknown>, name: string, overrides: Partial<ResourceEvent> = {}): ResourceEvent {
  return rawEventFor(object, 'MODIFIED', { namespace: 'bad-input', name, uid: `uid-${name}`, resourceVersion: '7', ...overrides });
}

/** An event whose object is `text` verbatim (not necessarily JSON). */
export const withObject = (name: string, text: string): ResourceEvent => ({ ...eventOf({ kind: 'Workflow', metadata: { name } }, name), object: text });

export const phaseOf = (object: WorkflowObject) => {
  const phase = object.status?.phase;
  return typeof phase === 'string' ? phase : '';
};


export interface Corpus {
  /** Good records first, a good record before every bad or odd one, the rest of the good ones at the end. */
  cases: Case[];
  /** The other schema registered for the 'valid Avro of another schema' case. */
  otherSchema: Record<string, unknown>;
  otherId: number;
  odd: ResourceEvent;
  oddName: string;
  oddLabels: Record<string, string>;
  huge1: ResourceEvent;
  misspelt: { name: string; object: WorkflowObject };
}

/**
 * Builds the corpus with the registry: `schemaId` is the raw schema's id; another schema is
 * registered under `<base>-other-value`. The fuzz is seeded (KUBETRAIL_BAD_INPUT_SEED changes it).
 */
export async function badInputCorpus(registry: SchemaRegistry, schemaId: number, base: string): Promise<Corpus> {
  const encode = (event: ResourceEvent) => registry.encode(schemaId, event);
  const random = prng(Number(process.env.KUBETRAIL_BAD_INPUT_SEED ?? 20240601));

  // Good records: every fixture, as a raw event of its own workflow.
  const fixtures = loadAllWorkflows();
  const goods: Case[] = await Promise.all(
    fixtures.map(async ({ name, object }, i) => {
      const event = eventOf(object, `good-${i}-${name.slice(0, 30)}`);
      return { label: `good ${name}`, key: event.name, value: await encode(event), event, expect: { good: true, finalPhase: phaseOf(object) } } satisfies Case;
    }),
  );

  // Another schema, registered for real: valid Avro, not a ResourceEvent.
  const otherSchema = { type: 'record', name: 'NotAResourceEvent', namespace: 'io.kubetrail.test', fields: [{ name: 'n', type: 'int' }, { name: 's', type: 'string' }] };
  const { id: otherId } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(otherSchema) }, { subject: `${base}-other-value` });
  const valid = await encode(eventOf(loadWorkflow(fixtures[0]!.name), 'template'));
  const wrongMagic = Buffer.from(valid);
  wrongMagic[0] = 1;
  const header = valid.subarray(0, 5);
  const succeeded = fixtures.find(({ object }) => phaseOf(object) === 'Succeeded')!.object;
  const withoutStatus = { ...loadWorkflow(fixtures[0]!.name) };
  delete withoutStatus.status;
  const misspelt = fixtures.find(({ object }) => phaseOf(object) === 'Runningg');
  assert.ok(misspelt, 'the fixtures have a workflow in phase "Runningg"');

  // Near the maximum record size (the producer's limit is 1,000,000 bytes for key, headers and
  // value): two big workflows finishing one after the other.
  const bulky = (name: string, bytes: number): ResourceEvent => {
    const object = JSON.parse(JSON.stringify(succeeded)) as WorkflowObject;
    const metadata = { ...(object.metadata ?? {}), annotations: { 'example.com/bulk': '' } };
    object.metadata = metadata;
    const event = eventOf(object, name);
    const padding = bytes - Buffer.byteLength(event.object);
    metadata.annotations['example.com/bulk'] = 'x'.repeat(Math.max(0, padding));
    return { ...event, object: JSON.stringify(object) };
  };
  const huge1 = bulky('huge-workflow', 985_000);
  const huge2 = bulky('huge-workflow-2', 985_000);
  const hugeNotWorkflow = withObject('huge-not-a-workflow', JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'big' }, data: { blob: 'y'.repeat(985_000) } }));

  // Odd Unicode in names and labels (valid UTF-8: the API server only sends valid JSON text).
  const oddName = 'odd-\u00e9\u0301-\u202e\u05d0\u05d1-\u200d\ufeff-\u{1f600}-\u4e2d\u6587-\u0000-end';
  const oddLabels = { 'team/\u{1f680}': '\u0645\u0631\u062d\u0628\u0627', 'zw\u200bj': '\ufffd\u{10ffff}', plain: 'a\u0000b' };
  const oddObject = JSON.parse(JSON.stringify(succeeded)) as WorkflowObject;
  oddObject.metadata = { ...(oddObject.metadata ?? {}), name: oddName, labels: oddLabels };
  const odd = { ...eventOf(oddObject, oddName), labels: oddLabels };

  const special: Case[] = [
    { label: 'random bytes', key: 'random', value: Buffer.concat([Buffer.from([0x7b]), randomBytes(64)]), expect: { dead: 'invalid-wire-format' } },
    { label: 'two bytes', key: 'short', value: Buffer.from([0, 1]), expect: { dead: 'invalid-wire-format' } },
    { label: 'tombstone', key: 'tombstone', value: null, expect: { dead: 'invalid-wire-format' } },
    { label: 'wrong magic byte', key: 'magic', value: wrongMagic, expect: { dead: 'invalid-wire-format' } },
    { label: 'unknown schema id', key: 'unknown-id', value: Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0x01]), valid.subarray(5)]), expect: { dead: 'unknown-schema' } },
    { label: 'valid Avro of another schema', key: 'other-schema', value: await registry.encode(otherId, { n: 42, s: 'not a workflow' }), expect: { dead: 'incompatible-schema' } },
    { label: 'garbage after a valid header', key: 'garbage', value: Buffer.concat([header, Buffer.alloc(40, 0xff)]), expect: { dead: 'malformed-avro' } },
    { label: 'truncated Avro', key: 'truncated', value: valid.subarray(0, valid.length - 7), expect: { dead: 'malformed-avro' } },
    { label: 'object JSON that is not a workflow', key: 'configmap', value: await encode(withObject('configmap', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { a: 'b' } }))), expect: { dead: 'process-error' } },
    { label: 'object that is not JSON', key: 'not-json', value: await encode(withObject('not-json', '{"kind": "Workflow", "metadata": {')), expect: { dead: 'process-error' } },
    { label: 'object that is a JSON array', key: 'array', value: await encode(withObject('array', '[{"kind":"Workflow"}]')), expect: { dead: 'process-error' } },
    { label: 'workflow without metadata.name', key: 'nameless', value: await encode(withObject('nameless', JSON.stringify({ kind: 'Workflow', metadata: { uid: 'x' }, status: { phase: 'Failed' } }))), expect: { dead: 'process-error' } },
    { label: 'huge object that is not a workflow', key: 'huge-not-a-workflow', value: await encode(hugeNotWorkflow), expect: { dead: 'process-error' }, alone: true },
    { label: 'workflow without status', key: 'no-status', value: await encode(eventOf(withoutStatus, 'no-status')), event: eventOf(withoutStatus, 'no-status'), expect: { good: true, finalPhase: '' } },
    { label: 'unknown phase "Runningg"', key: 'runningg', value: await encode(eventOf(misspelt.object, 'runningg')), event: eventOf(misspelt.object, 'runningg'), expect: { good: true, finalPhase: 'Runningg' } },
    { label: 'huge workflow', key: huge1.name, value: await encode(huge1), event: huge1, expect: { good: true, finalPhase: 'Succeeded' }, alone: true },
    { label: 'another huge workflow right after it', key: huge2.name, value: await encode(huge2), event: huge2, expect: { good: true, finalPhase: 'Succeeded' }, alone: true },
    { label: 'odd Unicode in name and labels', key: oddName, value: await encode(odd), event: odd, expect: { good: true, finalPhase: 'Succeeded' } },
  ];

  // Fuzz: random bytes (any first byte, any length), and valid events whose object is random
  // JSON-ish text. Each either dead-letters (decode failure, or process() refusing it) or passes.
  const fuzz: Case[] = [];
  for (let i = 0; i < 25; i++) {
    const length = Math.floor(random() * 200);
    const bytes = Buffer.alloc(length);
    for (let b = 0; b < length; b++) bytes[b] = Math.floor(random() * 256);
    if (i % 5 === 0 && length > 5) bytes[0] = 0; // wire-format magic byte, random schema id
    fuzz.push({ label: `fuzz bytes ${i}`, key: `fuzz-bytes-${i}`, value: bytes, expect: { dead: decodeFailures } });
  }
  const oddValues: unknown[] = [null, 0, -1, 1e308, '', 'Running', [], {}, [null], { phase: 42 }, 'Succeeded', true];
  const pick = () => oddValues[Math.floor(random() * oddValues.length)];
  for (let i = 0; i < 20; i++) {
    const name = `fuzz-object-${i}`;
    const shapes = [
      () => JSON.stringify(pick()),
      () => JSON.stringify({ kind: 'Workflow', metadata: { name }, status: pick() }),
      () => JSON.stringify({ kind: 'Workflow', metadata: { name }, status: { phase: pick(), nodes: pick(), progress: pick(), startedAt: pick(), finishedAt: pick() } }),
      () => JSON.stringify({ kind: 'Workflow', metadata: { name }, status: { phase: 'Failed', nodes: { a: { phase: 'Failed', type: pick(), outputs: { exitCode: pick() }, children: pick(), boundaryID: pick() } } } }),
      () => JSON.stringify({ kind: pick(), metadata: pick() }),
    ];
    const text = shapes[Math.floor(random() * shapes.length)]!();
    fuzz.push({ label: `fuzz object ${i}: ${text.slice(0, 80)}`, key: name, value: await encode(withObject(name, text)), expect: { either: ['process-error'] } });
  }

  // Interleave: a good record before every bad or odd one, the rest of the good ones at the end.
  const cases: Case[] = [];
  const pool = [...goods];
  for (const c of [...special, ...fuzz]) {
    const good = pool.shift();
    if (good) cases.push(good);
    cases.push(c);
  }
  cases.push(...pool);

  return { cases, otherSchema, otherId, odd, oddName, oddLabels, huge1, misspelt };
}

/** Zig-zag varint bytes of a non-negative count (how Avro writes counts and lengths). */
export function countVarint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n * 2;
  while (v >= 128) {
    bytes.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** The encoded event with the one-byte varint at `skip` bytes into `marker` replaced by `count`. */
function spliceCount(encoded: Buffer, marker: Buffer, count: number, skip = 0): Buffer {
  const found = encoded.indexOf(marker, 5);
  assert.ok(found > 0, 'marker found in the encoded event');
  assert.equal(encoded.indexOf(marker, found + 1), -1, 'the marker is unique');
  const at = found + skip;
  return Buffer.concat([encoded.subarray(0, at), countVarint(count), encoded.subarray(at + 1)]);
}

/**
 * Poison records: real wire-format raw events (the real schema id) whose bytes declare counts and
 * lengths they do not hold, at several depths — what stalled a processor before its decoder
 * checked them. Each must be dead-lettered as malformed-avro at once.
 */
export async function poisonRecords(registry: SchemaRegistry, schemaId: number, base: string): Promise<Case[]> {
  const workflow = loadAllWorkflows()[0]!.object;
  const event = (name: string, overrides: Partial<ResourceEvent>) => ({ ...eventOf(workflow, name), ...overrides });
  const encode = (e: ResourceEvent) => registry.encode(schemaId, e);
  // The 40 bytes: header, empty identity fields, then a labels map declaring 10^12 entries.
  const tiny = Buffer.concat([Buffer.from([0, (schemaId >>> 24) & 0xff, (schemaId >>> 16) & 0xff, (schemaId >>> 8) & 0xff, schemaId & 0xff]), Buffer.alloc(11), countVarint(1e12)]);
  const forty = Buffer.concat([tiny, Buffer.alloc(40 - tiny.length)]);
  const labelMarker = Buffer.from([0x02, 0x04, 0x7a, 0x7a, 0x02, 0x71, 0x00]); // {'zz': 'q'}
  const poisons: Array<[string, Buffer]> = [
    ['40-byte record, labels map count 10^12', forty],
    ['labels map count 10^12', spliceCount(await encode(event(`${base}-p1`, { labels: { zz: 'q' } })), labelMarker, 1e12)],
    ['labels map count 2^31−1', spliceCount(await encode(event(`${base}-p2`, { labels: { zz: 'q' } })), labelMarker, 2 ** 31 - 1)],
    ['label value length 2^31−1', spliceCount(await encode(event(`${base}-p3`, { labels: { zz: 'q' } })), labelMarker, 2 ** 31 - 1, 4)],
    ['trimmed array count 2×10^8', spliceCount(await encode(event(`${base}-p4`, { trimmed: ['status.nodes'] })), Buffer.concat([Buffer.from([0x02, 0x18]), Buffer.from('status.nodes')]), 2e8)],
    ['resource.kind length 2^31−1', spliceCount(await encode(event(`${base}-p5`, { resource: { group: 'argoproj.io', version: 'v1alpha1', resource: 'workflows', kind: 'KINDMARK' } })), Buffer.concat([Buffer.from([0x10]), Buffer.from('KINDMARK')]), 2 ** 31 - 1)],
  ];
  return poisons.map(([label, value], i) => ({ label: `poison: ${label}`, key: `poison-${i}`, value, expect: { dead: 'malformed-avro' } }));
}
