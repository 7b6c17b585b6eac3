// The producer's state, kept in Kafka next to what it publishes (a compacted topic with one
// partition, default kubetrail.producer.state), written in the same transactions as the raw
// records, so the state always says exactly what was published:
//
//   <stream>/checkpoint/<namespace | *>  → {"resourceVersion": "...", "selection": "...", ...}
//       where to resume the watch of that namespace (* = all namespaces): the resourceVersion of
//       the last event or bookmark published, or of the list a relist was based on.
//   <stream>/object/<uid>                → {"namespace": ..., "name": ..., "resourceVersion": ...}
//       the index: every object the stream has published and not seen deleted, with its last
//       published version; a tombstone (null value) when it is deleted. A relist compares the
//       list with it; otherwise it is never read.
//   <stream>/leader                      → {"producer": ..., "nonce": ..., "at": ...}
//       written by a leader when it starts reading the state: reading up to its own marker means
//       having read everything committed before (the previous leader is fenced by then).
import { randomUUID } from 'node:crypto';
import type { PartitionReader } from '../lib/kafka/topic-reader.js';
import type { KafkaMessage } from 'kafkajs';
import { sleep } from '../lib/async.js';

export const allNamespaces = '*';

export const stateKeys = {
  checkpoint: (stream: string, scope: string) => `${stream}/checkpoint/${scope}`,
  object: (stream: string, uid: string) => `${stream}/object/${uid}`,
  leader: (stream: string) => `${stream}/leader`,
};

export interface Checkpoint {
  resourceVersion: string;
  /** The selection (resource, selectors, name prefix) the checkpoint was taken under. */
  selection: string;
  producer: string;
  at: number;
}

export interface IndexEntry {
  namespace: string | null;
  name: string;
  resourceVersion: string;
}

export interface LeaderMarker {
  producer: string;
  nonce: string;
  at: number;
}

export function newMarker(producer: string): LeaderMarker {
  return { producer, nonce: randomUUID(), at: Date.now() };
}

/** What a state key is, for a given stream (undefined when the key belongs to another stream). */
export function parseStateKey(stream: string, key: string): { type: 'checkpoint' | 'object'; id: string } | { type: 'leader' } | undefined {
  const prefix = `${stream}/`;
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  if (rest === 'leader') return { type: 'leader' };
  const slash = rest.indexOf('/');
  if (slash < 0) return undefined;
  const type = rest.slice(0, slash);
  const id = rest.slice(slash + 1);
  if ((type === 'checkpoint' || type === 'object') && id) return { type, id };
  return undefined;
}

export interface StateSnapshot {
  checkpoints: Map<string, Checkpoint>;
  /** uid → entry; only when asked for (a relist), filtered by namespace. */
  index: Map<string, IndexEntry> | undefined;
  /** Records read, for the logs. */
  records: number;
}

/** Folds one state record into a snapshot being built. */
export function applyStateRecord(
  stream: string,
  snapshot: StateSnapshot,
  key: string,
  value: Buffer | null,
  wantEntry: (entry: IndexEntry) => boolean,
): LeaderMarker | undefined {
  const parsed = parseStateKey(stream, key);
  if (!parsed) return undefined;
  snapshot.records += 1;
  if (parsed.type === 'leader') return value ? (JSON.parse(value.toString('utf8')) as LeaderMarker) : undefined;
  if (parsed.type === 'checkpoint') {
    if (value) snapshot.checkpoints.set(parsed.id, JSON.parse(value.toString('utf8')) as Checkpoint);
    else snapshot.checkpoints.delete(parsed.id);
  } else if (snapshot.index) {
    if (!value) {
      snapshot.index.delete(parsed.id);
    } else {
      const entry = JSON.parse(value.toString('utf8')) as IndexEntry;
      if (wantEntry(entry)) snapshot.index.set(parsed.id, entry);
      else snapshot.index.delete(parsed.id);
    }
  }
  return undefined;
}

/**
 * Reads the state topic's partition from the beginning up to the marker with `nonce` (which the
 * caller has just committed, so the last stable offset is past it), committed records only, with
 * the caller's partition reader: no consumer group. Checkpoints are always collected; index
 * entries only when `wantEntry` is given. Fails when the marker is not met within `timeoutMs`, or
 * when the read ends without it.
 */
export async function readState(
  reader: PartitionReader,
  options: { topic: string; stream: string; nonce: string; timeoutMs: number },
  wantEntry?: (entry: IndexEntry) => boolean,
): Promise<StateSnapshot> {
  const snapshot: StateSnapshot = { checkpoints: new Map(), index: wantEntry ? new Map() : undefined, records: 0 };
  const want = wantEntry ?? (() => false);
  let found = false;
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new Error(`reading ${options.topic} did not reach the marker within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
  });
  const apply = (message: KafkaMessage) => {
    // Stop at the marker: what was committed before it is what the state is.
    if (found) return;
    const key = message.key?.toString('utf8');
    if (!key) return;
    const marker = applyStateRecord(options.stream, snapshot, key, message.value, want);
    if (marker?.nonce === options.nonce) found = true;
  };
  // The marker's transaction has committed, but its commit marker (and so the last stable offset
  // a read_committed read stops at) may be written a few milliseconds later: read on from where
  // the last read ended until the marker shows.
  const readUntilMarker = async (): Promise<void> => {
    let from: number | undefined;
    for (;;) {
      const result = await reader.readToEnd(options.topic, 0, apply, { cancelled: () => found || timedOut, from });
      if (found) return;
      if (!result.complete) throw new Error(`reading ${options.topic} was cancelled before the marker`);
      from = result.endOffset;
      await sleep(10);
    }
  };
  const read = readUntilMarker();
  read.catch(() => undefined);
  try {
    await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
  }
  return snapshot;
}
