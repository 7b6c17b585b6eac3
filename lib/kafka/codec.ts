// Avro in the Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro binary),
// with the schemas kept in the Schema Registry. Everything that can be prepared is prepared once:
// output schemas are registered at start and their 5-byte headers kept; the writer schema of each
// input schema id is fetched once (the registry client caches by id) and its resolver to the
// declared reader schema built once. Decoding a record is then a Map lookup and an avsc read.
//
// Decoding sorts failures in two kinds. A bad record (not the wire format, an id the registry does
// not know, a writer schema that cannot be read as the declared one, bytes that are not Avro of
// their schema) is a property of the record: it goes to the dead-letter topic. A registry that
// does not answer (network error, 5xx, timeout) says nothing about the record: TransientError,
// which the runner retries without dead-lettering anything.
import avro from 'avsc';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import type { AvroSchema } from '../kit/processor.js';
import type { DeadLetterReason } from '../kit/dead-letter.js';
import { compileBoundsCheck } from './avro-bounds.js';

type BoundsCheck = (body: Buffer) => void;

export const MAGIC_BYTE = 0;
export const HEADER_SIZE = 5;

/** The registry could not be asked; retry later. */
export class TransientError extends Error {
  override name = 'TransientError';
}

/** The registry answered 404 for an id within its grace: ask again later. */
class NotFoundYet extends TransientError {}

/** Parses a declared schema into an avsc Type, naming what it is on failure. */
export function parseSchema(schema: AvroSchema, what: string): avro.Type {
  try {
    return avro.Type.forSchema(schema as avro.Schema);
  } catch (error) {
    throw new Error(`${what}: invalid Avro schema: ${(error as Error).message}`);
  }
}

export function wireHeader(schemaId: number): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeInt32BE(schemaId, 1);
  return header;
}

/** Schema id of a wire-format payload, or -1 when the bytes are not in the wire format. */
export function wireSchemaId(value: Buffer | null): number {
  if (value === null || value.length < HEADER_SIZE || value[0] !== MAGIC_BYTE) return -1;
  return value.readInt32BE(1);
}

/** Registers a schema under a subject (idempotent: the registry returns the existing id). */
export async function registerSchema(registry: SchemaRegistry, subject: string, schema: AvroSchema): Promise<number> {
  try {
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
    return id;
  } catch (error) {
    throw new Error(`cannot register the schema of subject '${subject}' in the Schema Registry: ${(error as Error).message}`);
  }
}

/** A Schema Registry answer that means "no such schema": the record, not the registry, is wrong. */
function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { status?: unknown }).status === 404;
}

export type DecodeResult<T> = { ok: true; value: T } | { ok: false; reason: DeadLetterReason; error: string };

/** How values of one writer schema id are read; `check` bounds them first (avro-bounds.ts). */
type WriterEntry =
  | { kind: 'same'; check: BoundsCheck }
  | { kind: 'resolver'; resolver: avro.Resolver; check: BoundsCheck }
  | { kind: 'bad'; reason: DeadLetterReason; error: string };

/**
 * Where writer schemas come from: the Schema Registry client (getSchema answers an avsc Type, or
 * throws an error with status 404 for an unknown id), or the test driver's in-memory stand-in.
 */
export interface SchemaSource {
  getSchema(id: number): Promise<unknown>;
}

/**
 * Decodes wire-format values to a declared reader schema. `prepare()` (async, may throw
 * TransientError) fetches what a set of values needs; `decode()` is then synchronous.
 */
/**
 * How long an id the registry answers 404 for is asked again before it counts as unknown: a
 * registry that is still loading its schemas (after a restart) answers 404 for ids it has.
 */
export const DEFAULT_UNKNOWN_AFTER_MS = 5_000;

export class WireDecoder<T = unknown> {
  private readonly writers = new Map<number, WriterEntry>();
  private readerCheck: BoundsCheck | undefined;
  /** When the registry first answered 404 for an id not yet taken as unknown. */
  private readonly notFoundSince = new Map<number, number>();

  constructor(
    private readonly registry: SchemaSource | SchemaRegistry,
    readonly readerType: avro.Type,
    /** Registry id of the reader schema itself, when known: decoded without a resolver. */
    readerId?: number,
    private readonly unknownAfterMs = DEFAULT_UNKNOWN_AFTER_MS,
  ) {
    if (readerId !== undefined) this.writers.set(readerId, { kind: 'same', check: this.checkOfReader() });
  }

  /** True when decode() of this value needs nothing from the registry. */
  isPrepared(value: Buffer | null): boolean {
    const id = wireSchemaId(value);
    return id === -1 || this.writers.has(id);
  }

  /** Fetches the writer schema of every id not seen yet. Throws TransientError when the registry does not answer. */
  async prepare(values: Iterable<Buffer | null>): Promise<void> {
    // Every id gets asked (so the 404 graces of several ids run side by side, not one after the
    // other); a registry that does not answer at all stops the round at once.
    let pending: TransientError | undefined;
    for (const id of this.missingIds(values)) {
      try {
        await this.load(id);
      } catch (error) {
        if (!(error instanceof NotFoundYet)) throw error;
        pending ??= error;
      }
    }
    if (pending) throw pending;
  }

  private checkOfReader(): BoundsCheck {
    this.readerCheck ??= compileBoundsCheck(this.readerType);
    return this.readerCheck;
  }

  /** Ids of these values that prepare() would have to fetch. */
  missingIds(values: Iterable<Buffer | null>): number[] {
    const missing = new Set<number>();
    for (const value of values) {
      const id = wireSchemaId(value);
      if (id !== -1 && !this.writers.has(id)) missing.add(id);
    }
    return [...missing];
  }

  private async load(id: number): Promise<void> {
    let writer: unknown;
    try {
      writer = await this.registry.getSchema(id);
    } catch (error) {
      if (isNotFound(error)) {
        const since = this.notFoundSince.get(id) ?? Date.now();
        this.notFoundSince.set(id, since);
        if (Date.now() - since < this.unknownAfterMs) {
          throw new NotFoundYet(`Schema Registry answered 404 for schema id ${id}; asked again until it has been unknown for ${this.unknownAfterMs} ms`);
        }
        this.notFoundSince.delete(id);
        this.learn(id, undefined);
        return;
      }
      throw new TransientError(`Schema Registry did not answer for schema id ${id}: ${(error as Error).message}`);
    }
    this.learn(id, writer);
  }

  /** Takes the writer schema of an id as known (undefined: the registry has no such id). */
  learn(id: number, schema: unknown): void {
    if (schema === undefined) {
      this.writers.set(id, { kind: 'bad', reason: 'unknown-schema', error: `schema id ${id} is not in the Schema Registry` });
      return;
    }
    if (!avro.Type.isType(schema)) {
      this.writers.set(id, { kind: 'bad', reason: 'incompatible-schema', error: `schema id ${id} is not an Avro schema` });
      return;
    }
    const writer = schema as avro.Type;
    if (writer.equals(this.readerType)) {
      this.writers.set(id, { kind: 'same', check: this.checkOfReader() });
      return;
    }
    try {
      this.writers.set(id, { kind: 'resolver', resolver: this.readerType.createResolver(writer), check: compileBoundsCheck(writer) });
    } catch (error) {
      const name = (writer as { name?: string }).name ?? writer.typeName;
      this.writers.set(id, {
        kind: 'bad',
        reason: 'incompatible-schema',
        error: `writer schema id ${id} (${name}) cannot be read as ${(this.readerType as { name?: string }).name ?? 'the declared schema'}: ${(error as Error).message}`,
      });
    }
  }

  /** Decodes a prepared value. Never throws. */
  decode(value: Buffer | null): DecodeResult<T> {
    if (value === null) return { ok: false, reason: 'invalid-wire-format', error: 'record has no value (tombstone)' };
    if (value.length < HEADER_SIZE) return { ok: false, reason: 'invalid-wire-format', error: `value of ${value.length} bytes is shorter than the 5-byte wire-format header` };
    if (value[0] !== MAGIC_BYTE) return { ok: false, reason: 'invalid-wire-format', error: `first byte is ${value[0]}, not the wire-format magic byte 0` };
    const id = value.readInt32BE(1);
    const entry = this.writers.get(id);
    if (entry === undefined) return { ok: false, reason: 'unknown-schema', error: `schema id ${id} was not prepared` };
    if (entry.kind === 'bad') return { ok: false, reason: entry.reason, error: entry.error };
    try {
      const body = value.subarray(HEADER_SIZE);
      // Counts and lengths checked against the bytes first: no record can make avsc loop or
      // allocate more than its size allows.
      entry.check(body);
      const decoded = this.readerType.fromBuffer(body, entry.kind === 'resolver' ? entry.resolver : undefined) as T;
      return { ok: true, value: decoded };
    } catch (error) {
      return { ok: false, reason: 'malformed-avro', error: `bytes are not Avro of schema id ${id}: ${(error as Error).message}` };
    }
  }
}

/**
 * Decodes wire-format values with their own writer schema (what a generic reader such as
 * `kubetrail subscribe` does), bounds-checked like WireDecoder. Throws DecodeError for a value
 * that is not the wire format or not Avro of its schema.
 */
export class WriterSchemaDecoder {
  private readonly checks = new Map<number, { type: avro.Type; check: BoundsCheck }>();

  constructor(private readonly registry: SchemaSource | SchemaRegistry) {}

  async decode(value: Buffer): Promise<unknown> {
    const id = wireSchemaId(value);
    if (id === -1) throw new DecodeError(`not the Confluent wire format (${value.length} bytes, first byte ${value[0]})`);
    let entry = this.checks.get(id);
    if (!entry) {
      let type: avro.Type;
      try {
        type = (await this.registry.getSchema(id)) as avro.Type;
      } catch (error) {
        if (isNotFound(error)) throw new DecodeError(`schema id ${id} is not in the Schema Registry`);
        throw error;
      }
      if (!avro.Type.isType(type)) throw new DecodeError(`schema id ${id} is not an Avro schema`);
      entry = { type, check: compileBoundsCheck(type) };
      this.checks.set(id, entry);
    }
    const body = value.subarray(HEADER_SIZE);
    try {
      entry.check(body);
      return entry.type.fromBuffer(body);
    } catch (error) {
      throw new DecodeError(`bytes are not Avro of schema id ${id}: ${(error as Error).message}`);
    }
  }
}

export class DecodeError extends Error {
  override name = 'DecodeError';
}

/** Encodes values of one registered schema: a precomputed header plus avsc's (validating) encoding. */
export class WireEncoder {
  private readonly header: Buffer;

  constructor(
    readonly type: avro.Type,
    readonly schemaId: number,
  ) {
    this.header = wireHeader(schemaId);
  }

  /** Throws when the value does not conform to the schema. */
  encode(value: unknown): Buffer {
    const body = this.type.toBuffer(value);
    return Buffer.concat([this.header, body], HEADER_SIZE + body.length);
  }

  /** Wire format of an Avro body already encoded with this schema. */
  encodeBody(body: Buffer): Buffer {
    return Buffer.concat([this.header, body], HEADER_SIZE + body.length);
  }
}

/** A readable explanation of why a value does not conform to a type (for dead-letter reasons). */
export function explainInvalid(type: avro.Type, value: unknown, noUndeclaredFields = false): string {
  const problems: string[] = [];
  type.isValid(value, {
    noUndeclaredFields,
    errorHook: (path, bad, badType) => {
      if (problems.length < 5) problems.push(`${path.join('.') || '(value)'}: ${JSON.stringify(bad) ?? String(bad)} is not ${badType.typeName}`);
    },
  });
  return problems.join('; ') || 'invalid';
}
