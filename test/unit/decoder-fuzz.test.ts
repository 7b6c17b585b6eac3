// Fuzzing the decoders (fast-check, fixed seed and budget in `npm test`; longer on demand with
// KUBETRAIL_FUZZ_RUNS and KUBETRAIL_FUZZ_SEED): real raw events and real summaries, encoded in the
// wire format, then mutated — bytes overwritten, varints of huge counts and lengths spliced in,
// cut short, stretched. Every input must be decoded or refused with a reason, by the processors'
// decoder (WireDecoder) and by subscribe's (WriterSchemaDecoder), never throw anything else and
// never stall (a stall would be seconds; the bound asserted is 1 s per input).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import avro from 'avsc';
import { DecodeError, WireDecoder, WireEncoder, WriterSchemaDecoder } from '../../lib/kafka/codec.js';
import { MemoryRegistry, ProcessorTestDriver } from '../../lib/kit/test-driver.js';
import { resourceEventSchema, type ResourceEvent } from '../../lib/raw-event.js';
import { workflowSummarySchema } from '../../schemas/generated/workflow-summary.js';
import { createWorkflowSummary } from '../../processors/workflow-summary/index.js';
import { loadAllWorkflows, rawEventFor } from '../fixtures/workflows.js';

const RUNS = Number(process.env.KUBETRAIL_FUZZ_RUNS ?? 5000);
const SEED = Number(process.env.KUBETRAIL_FUZZ_SEED ?? 20261130);
const STALL_MS = 1_000;

const registry = new MemoryRegistry();
const rawType = avro.Type.forSchema(resourceEventSchema as unknown as avro.Schema);
const summaryType = avro.Type.forSchema(workflowSummarySchema as unknown as avro.Schema);
const rawId = registry.register(resourceEventSchema as unknown as Record<string, unknown>);
const summaryId = registry.register(workflowSummarySchema as unknown as Record<string, unknown>);

/** Real records: every fixture as a raw event, and the summaries the real processor makes of them. */
function corpus(): Array<{ bytes: Buffer; schemaId: number; positions: number[] }> {
  const events: ResourceEvent[] = loadAllWorkflows().map(({ object }) => rawEventFor(object, 'MODIFIED'));
  const driver = new ProcessorTestDriver(createWorkflowSummary());
  for (const e of events) driver.pipe(e, { key: `${e.namespace}/${e.name}` });
  const summaries = driver.readAll('summaries').filter((s) => s.value !== null);
  const rawEncoder = new WireEncoder(rawType, rawId);
  const summaryEncoder = new WireEncoder(summaryType, summaryId);
  const of = (bytes: Buffer, schemaId: number, type: avro.Type) => ({ bytes, schemaId, positions: countPositions(type, bytes.subarray(5)) });
  return [...events.map((e) => of(rawEncoder.encode(e), rawId, rawType)), ...summaries.map((s) => of(summaryEncoder.encode(s.value), summaryId, summaryType))];
}

/** Zig-zag varint bytes of n. */
function varint(n: number): number[] {
  const bytes: number[] = [];
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  while (v >= 128) {
    bytes.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return bytes;
}

/**
 * Where the counts and lengths are in a body (string, bytes and map-key lengths, array and map
 * block counts, union branches): structure-aware mutations hit them on purpose. Written apart from
 * lib/kafka/avro-bounds.ts, from avsc's type tree, so the fuzzer does not share the guard's view.
 */
function countPositions(type: avro.Type, body: Buffer): number[] {
  const positions: number[] = [];
  const tap = { buf: body, pos: 0 };
  const readVarint = (): number => {
    positions.push(tap.pos);
    let result = 0;
    let shift = 1;
    for (;;) {
      const byte = tap.buf[tap.pos++]!;
      result += (byte & 0x7f) * shift;
      if ((byte & 0x80) === 0) return result % 2 === 0 ? result / 2 : -(result + 1) / 2;
      shift *= 128;
    }
  };
  const skipLength = () => {
    const length = readVarint();
    tap.pos += length;
  };
  const skipVarint = () => {
    while ((tap.buf[tap.pos++]! & 0x80) !== 0);
  };
  const walk = (t: avro.Type): void => {
    const name = t.typeName;
    if (name === 'null') return;
    if (name === 'boolean') tap.pos += 1;
    else if (name === 'int' || name === 'long' || name === 'enum') skipVarint();
    else if (name === 'float') tap.pos += 4;
    else if (name === 'double') tap.pos += 8;
    else if (name === 'string' || name === 'bytes') skipLength();
    else if (name === 'fixed') tap.pos += (t as unknown as { size: number }).size;
    else if (name === 'record') for (const f of (t as avro.types.RecordType).fields) walk(f.type);
    else if (name === 'array' || name === 'map') {
      for (let n = readVarint(); n !== 0; n = readVarint()) {
        if (n < 0) {
          n = -n;
          skipVarint();
        }
        for (let i = 0; i < n; i++) {
          if (name === 'map') skipLength();
          walk(name === 'map' ? (t as unknown as { valuesType: avro.Type }).valuesType : (t as unknown as { itemsType: avro.Type }).itemsType);
        }
      }
    } else walk((t as unknown as { types: avro.Type[] }).types[readVarint()]!);
  };
  walk(type);
  return positions;
}

type Mutation =
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'count'; at: number; count: number }
  | { kind: 'structural'; which: number; count: number }
  | { kind: 'cut'; at: number }
  | { kind: 'repeat'; at: number; length: number };

const hugeCount = fc.oneof(fc.constantFrom(1e12, 2e8, 2 ** 31 - 1, -1, -(2 ** 40), 2 ** 53), fc.integer());

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('count' as const), at: fc.nat(), count: hugeCount }),
  fc.record({ kind: fc.constant('structural' as const), which: fc.nat(), count: hugeCount }),
  fc.record({ kind: fc.constant('structural' as const), which: fc.nat(), count: hugeCount }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
);

/** Replaces the varint at `at` with the varint of `count`. */
function spliceVarint(buf: Buffer, at: number, count: number): Buffer {
  let end = at;
  while (end < buf.length && (buf[end]! & 0x80) !== 0) end++;
  return Buffer.concat([buf.subarray(0, at), Buffer.from(varint(count)), buf.subarray(end + 1)]);
}

function mutate(bytes: Buffer, positions: number[], mutations: Mutation[]): Buffer {
  let out: Buffer = Buffer.from(bytes);
  // Structural mutations first, while the positions still describe the bytes.
  for (const m of mutations) if (m.kind === 'structural' && positions.length > 0) out = spliceVarint(out, 5 + positions[m.which % positions.length]!, m.count);
  for (const m of mutations) {
    if (m.kind === 'structural') continue;
    // Keep the 5-byte header (magic byte and schema id): the bodies are what the decoder must survive.
    const at = 5 + (out.length > 5 ? m.at % (out.length - 5) : 0);
    if (m.kind === 'byte') {
      if (at < out.length) out[at] = m.value;
    } else if (m.kind === 'count') out = Buffer.concat([out.subarray(0, at), Buffer.from(varint(m.count)), out.subarray(at + 1)]);
    else if (m.kind === 'cut') out = out.subarray(0, at);
    else out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + m.length), out.subarray(at)]);
  }
  return out;
}

describe('decoder fuzzing', () => {
  it(`mutated raw events and summaries are decoded or refused with a reason, never stall or throw (${RUNS} inputs, seed ${SEED})`, async (t) => {
    const records = corpus();
    assert.ok(records.length > 100, `${records.length} real records`);
    const rawDecoder = new WireDecoder<unknown>(registry, rawType, rawId);
    const summaryDecoder = new WireDecoder<unknown>(registry, summaryType, summaryId);
    const generic = new WriterSchemaDecoder(registry);
    const reasons = new Map<string, number>();
    let slowest = 0;
    let total = 0;
    let decoded = 0;
    const began = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.nat(records.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), async (index, mutations) => {
        const { bytes, schemaId, positions } = records[index]!;
        const input = mutate(bytes, positions, mutations);
        const decoder = schemaId === rawId ? rawDecoder : summaryDecoder;
        const start = process.hrtime.bigint();
        const result = decoder.decode(input);
        try {
          await generic.decode(input);
        } catch (error) {
          if (!(error instanceof DecodeError)) throw error;
        }
        const ms = Number(process.hrtime.bigint() - start) / 1e6;
        slowest = Math.max(slowest, ms);
        total++;
        if (result.ok) decoded++;
        else {
          assert.ok(['malformed-avro', 'invalid-wire-format'].includes(result.reason), result.reason);
          reasons.set(result.reason, (reasons.get(result.reason) ?? 0) + 1);
        }
        assert.ok(ms < STALL_MS, `decoding took ${ms} ms`);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    t.diagnostic(`fuzz: ${total} inputs in ${Date.now() - began} ms (slowest ${slowest.toFixed(2)} ms); ${decoded} decoded, refused: ${JSON.stringify(Object.fromEntries(reasons))}`);
    assert.ok(reasons.get('malformed-avro')! > RUNS / 10, 'most mutations break the record');
  });
});
