// Keyed state of one input partition, kept in Kafka: every write goes to partition p of a
// compacted changelog topic in the same transaction as the outputs and the input offset, and the
// store is rebuilt by reading changelog partition p to its end when input partition p is assigned.
//
// Values are Avro of the declared state schema in the Confluent wire format, the schema
// registered under `<changelog>-value` like any topic's: the changelog is readable by any tool, and
// a new build with an evolved state schema (a field added with a default) reads the old state
// through a resolver. In memory the store keeps the Avro bytes, not objects: get() decodes a fresh
// copy and put() encodes (and so validates) the value, so a processor that changes an object it
// got without putting it back cannot make memory and changelog disagree (the test driver's
// structuredClone gives the same copy semantics).
//
// Writes are layered: a record's writes are kept apart until process() returns (a record that
// throws leaves no trace), then join the open transaction's writes, which reach the committed
// store only when the transaction commits (an aborted transaction leaves no trace either).
import type avro from 'avsc';
import type { KafkaMessage, Message } from 'kafkajs';
import type { KeyValueStore } from './processor.js';
import { HEADER_SIZE, type WireDecoder, type WireEncoder } from '../kafka/codec.js';
import { RECORD_OVERHEAD } from '../kafka/batching.js';

/** A state value the state schema rejects, or state used without a declaration. */
export class StateError extends Error {
  override name = 'StateError';
  constructor(
    message: string,
    /** State used by a processor that declares none (a bug in the definition, not in a value). */
    readonly undeclared = false,
  ) {
    super(message);
  }
}

export class PartitionStore<S> implements KeyValueStore<S> {
  /** Committed state: key → Avro body (no wire header) in the current state schema. */
  private readonly committed = new Map<string, Buffer>();
  /** Writes of the open transaction (null = delete), in the order of their last write. */
  private readonly pending = new Map<string, Buffer | null>();
  /** Writes of the record being processed. */
  private readonly current = new Map<string, Buffer | null>();
  /** The first StateError of the record being processed (kept even if process() swallows it). */
  recordError: StateError | undefined;

  constructor(
    private readonly type: avro.Type,
    private readonly encoder: WireEncoder,
    /** Largest changelog record the changelog topic accepts. */
    private readonly maxRecordBytes = Number.MAX_SAFE_INTEGER,
    /** Also refuse values with fields the schema does not declare (the encoder would drop them): the test driver's strict mode. */
    private readonly strict = false,
  ) {}

  get size(): number {
    return this.committed.size;
  }

  private lookup(key: string): Buffer | null | undefined {
    const current = this.current.get(key);
    if (current !== undefined) return current;
    const pending = this.pending.get(key);
    if (pending !== undefined) return pending;
    return this.committed.get(key);
  }

  get(key: string): S | undefined {
    const body = this.lookup(key);
    return body === undefined || body === null ? undefined : (this.type.fromBuffer(body) as S);
  }

  put(key: string, value: S): void {
    let body: Buffer;
    try {
      body = this.type.toBuffer(value);
    } catch (error) {
      const problem = new StateError(`state value put under '${key}' does not conform to the state schema: ${(error as Error).message}`);
      this.recordError ??= problem;
      throw problem;
    }
    if (this.strict && !this.type.isValid(value, { noUndeclaredFields: true })) {
      const problem = new StateError(`state value put under '${key}' has fields the state schema does not declare`);
      this.recordError ??= problem;
      throw problem;
    }
    const bytes = body.length + Buffer.byteLength(key) + HEADER_SIZE + RECORD_OVERHEAD;
    if (bytes > this.maxRecordBytes) {
      const problem = new StateError(`state value put under '${key}' is ${bytes} bytes as a changelog record, more than the changelog topic accepts (${this.maxRecordBytes})`);
      this.recordError ??= problem;
      throw problem;
    }
    this.current.set(key, body);
  }

  delete(key: string): void {
    this.current.set(key, null);
  }

  /** Starts a record: nothing of a previous record may remain. */
  beginRecord(): void {
    this.current.clear();
    this.recordError = undefined;
  }

  /** The record was processed: its writes join the open transaction. */
  acceptRecord(): void {
    for (const [key, body] of this.current) {
      // Delete first so the key moves to the end: the changelog keeps the order of last writes.
      this.pending.delete(key);
      this.pending.set(key, body);
    }
    this.current.clear();
  }

  /** The record failed: its writes are dropped. */
  rejectRecord(): void {
    this.current.clear();
    this.recordError = undefined;
  }

  get hasPendingWrites(): boolean {
    return this.pending.size > 0;
  }

  /** The open transaction's writes as changelog records for partition p (one per key, last write wins). */
  changelogMessages(partition: number, timestamp: string): Message[] {
    const messages: Message[] = [];
    for (const [key, body] of this.pending) {
      messages.push({ key, value: body === null ? null : this.encoder.encodeBody(body), partition, timestamp });
    }
    return messages;
  }

  /** The transaction committed: its writes become the committed state. */
  commit(): void {
    for (const [key, body] of this.pending) {
      if (body === null) this.committed.delete(key);
      else this.committed.set(key, body);
    }
    this.pending.clear();
  }

  /** The transaction was aborted: its writes are dropped. */
  abort(): void {
    this.pending.clear();
    this.current.clear();
  }

  /**
   * Restores from changelog records (latest value per key, in offset order). Values written with
   * another schema id are resolved to the current state schema; the decoder must be prepared for
   * their ids. Returns the keys that could not be read (dropped, with the reason).
   */
  restore(latest: Map<string, Buffer | null>, decoder: WireDecoder<S>): Array<{ key: string; error: string }> {
    const unreadable: Array<{ key: string; error: string }> = [];
    for (const [key, value] of latest) {
      if (value === null) {
        this.committed.delete(key);
        continue;
      }
      if (value.length >= HEADER_SIZE && value[0] === 0 && value.readInt32BE(1) === this.encoder.schemaId) {
        // Written with the current schema: keep the body as is.
        this.committed.set(key, value.subarray(HEADER_SIZE));
        continue;
      }
      const decoded = decoder.decode(value);
      if (!decoded.ok) {
        unreadable.push({ key, error: `${decoded.reason}: ${decoded.error}` });
        this.committed.delete(key);
        continue;
      }
      this.committed.set(key, this.type.toBuffer(decoded.value));
    }
    return unreadable;
  }
}

/** Folds changelog records into the latest value per key (what compaction would keep). */
export function foldChangelog(latest: Map<string, Buffer | null>, message: KafkaMessage): void {
  if (message.key === null || message.key === undefined) return;
  const key = message.key.toString('utf8');
  latest.delete(key);
  // A copy: a view would keep the whole fetch response in memory.
  latest.set(key, message.value ? Buffer.from(message.value) : null);
}

/** The store handed to a processor that declares no state: any use is a bug in the processor. */
export class UndeclaredStore implements KeyValueStore<never> {
  recordError: StateError | undefined;

  constructor(private readonly processor: string) {}

  beginRecord(): void {
    this.recordError = undefined;
  }

  acceptRecord(): void {}

  rejectRecord(): void {
    this.recordError = undefined;
  }

  private fail(): never {
    const problem = new StateError(`processor '${this.processor}' uses state but declares none (add \`state: { store, schema }\` to its definition)`, true);
    this.recordError ??= problem;
    throw problem;
  }

  get(): never {
    return this.fail();
  }

  put(): never {
    return this.fail();
  }

  delete(): never {
    return this.fail();
  }
}
