// What keeps a replay into topics that already hold a processor's outputs from writing them twice.
//
// Before the replay, each target topic is read to its end (read_committed) and every record goes
// into an index as a 16-byte hash of (topic, key, canonical JSON of the decoded value). During the
// replay, an output whose hash is in the index is not emitted again. This is sound because a
// processor's outputs are a deterministic function of its input records (no wall-clock time, no
// randomness): the replay reproduces, bit for bit after decoding, what the first run wrote.
//
// A compacted target needs another rule. Compaction removes a record only when a later record
// with the same key exists, so the replay also produces older values the topic no longer holds;
// writing them would put a stale value after the current one and roll the key back. And the same
// value may come twice in a key's history, so "the replay reached the key's current value" cannot
// be told before the end. So for a key the compacted target already holds, nothing is written
// while the replay runs: the index keeps the hash of the key's latest value, the replay keeps its
// own last output for the key, and after the replay the keys whose last output differs from what
// the topic holds get that output written (the processor's logic changed, or the target was
// behind). With unchanged logic that is none. Keys the target does not hold are written as the
// replay goes (their whole history, as the processor would).
//
// Decisions do not depend on what the replay emitted, and the last output of a key is the one of
// the highest input offset: a transaction that aborts and is retried decides the same again.
import { createHash } from 'node:crypto';

/** JSON with object keys sorted, bytes as hex, bigints as strings: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Buffer.isBuffer(value)) return JSON.stringify(`0x${value.toString('hex')}`);
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : JSON.stringify(String(value));
  if (typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** 16 bytes of SHA-256 of (topic, key, canonical value), as a one-byte-per-char string (a compact Set key). */
export function outputHash(topic: string, key: string | null, canonicalValue: string | null): string {
  return createHash('sha256')
    .update(topic)
    .update('\0')
    .update(key === null ? '\u0001' : `k${key}`)
    .update('\0')
    .update(canonicalValue === null ? '\u0001' : `v${canonicalValue}`)
    .digest()
    .subarray(0, 16)
    .toString('latin1');
}

/** 16 bytes of SHA-256 of (topic, key): the index's key of a record key, as compact as a hash. */
const keyOf = (topic: string, key: string | null) =>
  createHash('sha256')
    .update(topic)
    .update('\0')
    .update(key === null ? '\u0001' : `k${key}`)
    .digest()
    .subarray(0, 16)
    .toString('latin1');

/** Where an output comes from: its input record. */
export interface InputPosition {
  partition: number;
  offset: number;
}

export type Decision =
  /** Not in the target: write it. */
  | 'emit'
  /** Already in the target. */
  | 'duplicate'
  /** A value of a key the compacted target holds: not written now (the key's final value may be, at the end). */
  | 'superseded';

/** What the target topics hold, built by reading them before the replay. */
export class OutputIndex {
  private readonly present = new Set<string>();
  /** Compacted targets: key → hash of its latest value. */
  private readonly latest = new Map<string, string>();
  private readonly compacted = new Set<string>();
  records = 0;

  markCompacted(topic: string): void {
    this.compacted.add(topic);
  }

  isCompacted(topic: string): boolean {
    return this.compacted.has(topic);
  }

  /** Adds one record of a target topic, in offset order within its partition. */
  add(topic: string, key: string | null, canonicalValue: string | null): void {
    const hash = outputHash(topic, key, canonicalValue);
    this.present.add(hash);
    if (this.compacted.has(topic)) this.latest.set(keyOf(topic, key), hash);
    this.records++;
  }

  has(hash: string): boolean {
    return this.present.has(hash);
  }

  latestOf(topic: string, key: string | null): string | undefined {
    return this.latest.get(keyOf(topic, key));
  }

  get size(): number {
    return this.present.size;
  }

  get keys(): number {
    return this.latest.size;
  }
}

interface Last<T> {
  at: InputPosition;
  topic: string;
  key: string | null;
  hash: string;
  /** Kept only while it differs from the target's latest value. */
  output: T | undefined;
}

/**
 * Decides, output by output, what the replay writes. `T` is whatever the caller needs to write
 * an output at the end (the output record).
 */
export class ReplayDedupe<T = unknown> {
  /** Keys of compacted targets the target holds: the replay's last output for each. */
  private readonly last = new Map<string, Last<T>>();
  readonly counts = new Map<string, { emitted: number; duplicate: number; superseded: number }>();

  constructor(private readonly index: OutputIndex) {}

  private count(topic: string, decision: Decision) {
    let c = this.counts.get(topic);
    if (!c) this.counts.set(topic, (c = { emitted: 0, duplicate: 0, superseded: 0 }));
    if (decision === 'emit') c.emitted++;
    else c[decision]++;
  }

  decide(topic: string, key: string | null, canonicalValue: string | null, at: InputPosition, output: T): Decision {
    const hash = outputHash(topic, key, canonicalValue);
    const decision = this.decideHash(topic, key, hash, at, output);
    this.count(topic, decision);
    return decision;
  }

  private decideHash(topic: string, key: string | null, hash: string, at: InputPosition, output: T): Decision {
    const latest = this.index.isCompacted(topic) ? this.index.latestOf(topic, key) : undefined;
    if (latest === undefined) return this.index.has(hash) ? 'duplicate' : 'emit';
    const k = keyOf(topic, key);
    const previous = this.last.get(k);
    // A retried (older) record does not replace the output of a newer one of the same partition.
    if (!previous || previous.at.partition !== at.partition || previous.at.offset <= at.offset) {
      this.last.set(k, { at, topic, key, hash, output: hash === latest ? undefined : output });
    }
    return this.index.has(hash) ? 'duplicate' : 'superseded';
  }

  /** Keys of compacted targets whose final value the replay changes: its last output for each. */
  finalWrites(): Array<{ topic: string; key: string | null; output: T }> {
    const writes: Array<{ topic: string; key: string | null; output: T }> = [];
    for (const entry of this.last.values()) {
      if (entry.hash === this.index.latestOf(entry.topic, entry.key) || entry.output === undefined) continue;
      writes.push({ topic: entry.topic, key: entry.key, output: entry.output });
    }
    return writes;
  }
}
