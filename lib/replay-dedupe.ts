// What keeps a replay into topics that already hold a processor's outputs from writing them twice.
//
// Before the replay, each target topic is read to its end (read_committed) and every record goes
// into an index as a 16-byte hash of (topic, key, canonical JSON of the decoded value). During the
// replay, an output whose hash is in the index is not emitted again. This is sound because a
// processor's outputs are a deterministic function of its input records (no wall-clock time, no
// randomness): the replay reproduces, bit for bit after decoding, what the first run wrote.
//
// A compacted target needs one more rule. Compaction removes a record only when a later record
// with the same key exists, so the replay also produces older values the topic no longer holds.
// Writing them would put a stale value after the current one and roll the key back. So for each
// key of a compacted target the index also keeps the hash of its latest value; until the replay
// has reproduced that latest value, an output for the key that is not in the index is held back
// (it is history that was compacted away). If the replay ends without reproducing it (the
// processor's logic changed, or --from skipped the part that produced it), the replay's last
// output for the key is written at the end, so the topic ends with what the processor says now.
//
// The index is not changed by what the replay emits: a transaction that aborts and is retried
// processes its records again and must make the same decisions.
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

const keyOf = (topic: string, key: string | null) => `${topic}\0${key === null ? '\u0001' : key}`;

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
  /** A compacted key's older value, superseded by what the target holds: not written. */
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

interface Held<T> {
  at: InputPosition;
  output: T;
}

/**
 * Decides, output by output, what the replay writes. `T` is whatever the caller needs to write
 * a held-back output at the end (the output record).
 */
export class ReplayDedupe<T = unknown> {
  /** Compacted keys whose latest target value the replay reproduced, and where. */
  private readonly caughtUp = new Map<string, InputPosition>();
  /** Compacted keys not caught up: the replay's last output for them. */
  private readonly last = new Map<string, Held<T> & { topic: string; key: string | null; hash: string }>();
  readonly counts = new Map<string, { emitted: number; duplicate: number; superseded: number }>();

  constructor(private readonly index: OutputIndex) {}

  private count(topic: string, decision: Decision) {
    let c = this.counts.get(topic);
    if (!c) this.counts.set(topic, (c = { emitted: 0, duplicate: 0, superseded: 0 }));
    if (decision === 'emit') c.emitted++;
    else c[decision]++;
  }

  /** Whether the key caught up with its latest target value at a record before `at` (or in another partition). */
  private isCaughtUp(k: string, at: InputPosition): boolean {
    const c = this.caughtUp.get(k);
    return c !== undefined && (c.partition !== at.partition || c.offset < at.offset);
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
    if (hash === latest) {
      const previous = this.caughtUp.get(k);
      if (!previous || (previous.partition === at.partition && at.offset < previous.offset)) this.caughtUp.set(k, at);
      const held = this.last.get(k);
      if (held && (held.at.partition !== at.partition || held.at.offset <= at.offset)) this.last.delete(k);
      return 'duplicate';
    }
    if (this.isCaughtUp(k, at)) return this.index.has(hash) ? 'duplicate' : 'emit';
    // Behind the target's latest value for this key: remember the replay's newest output for it.
    const held = this.last.get(k);
    if (!held || held.at.partition !== at.partition || held.at.offset <= at.offset) this.last.set(k, { at, output, topic, key, hash });
    return this.index.has(hash) ? 'duplicate' : 'superseded';
  }

  /**
   * Outputs to write after the replay: for each compacted key the replay never brought up to the
   * target's latest value, the replay's last output for it.
   */
  finalWrites(): Array<{ topic: string; key: string | null; output: T }> {
    const writes: Array<{ topic: string; key: string | null; output: T }> = [];
    for (const [k, held] of this.last) {
      if (this.caughtUp.has(k)) continue;
      writes.push({ topic: held.topic, key: held.key, output: held.output });
    }
    return writes;
  }
}
