// Remembers where the group and transaction coordinators are. kafkajs asks the cluster with a
// FindCoordinator request before every request to a coordinator — before AddPartitionsToTxn,
// AddOffsetsToTxn, TxnOffsetCommit and EndTxn alike — so one exactly-once transaction cost four
// extra round trips (nine instead of five), each waiting its turn on a busy event loop. Java's
// client keeps the coordinator until a request to it fails; this does the same: a lookup is
// reused for up to a minute, and forgotten as soon as any request to a coordinator, or the lookup
// of its broker, fails (NOT_COORDINATOR, a broker gone, anything), so a moved coordinator is
// found again on the retry kafkajs makes anyway.
import { patchKafkajs, type KafkajsMethod } from './kafkajs-patch.js';

const TTL_MS = 60_000;
/** Requests that go to a group or transaction coordinator. */
const COORDINATOR_REQUESTS = ['heartbeat', 'joinGroup', 'syncGroup', 'leaveGroup', 'offsetCommit', 'offsetFetch', 'initProducerId', 'addPartitionsToTxn', 'addOffsetsToTxn', 'txnOffsetCommit', 'endTxn'];

const CACHE = Symbol.for('kubetrail.kafkajs.coordinatorCache.entries');

/** Bumped by every failure: entries of an older generation are not used. */
let generation = 0;
const counts = { lookups: 0, reused: 0, invalidations: 0 };

/** FindCoordinator lookups made and saved, and how often the cache was dropped. */
export function coordinatorCacheStats(): { lookups: number; reused: number; invalidations: number } {
  return { ...counts };
}

type Proto = Record<string | symbol, unknown>;

/** `original`, forgetting every cached lookup when it fails. */
function forgettingOnFailure(original: KafkajsMethod): KafkajsMethod {
  return async function (this: unknown, ...args: unknown[]): Promise<unknown> {
    try {
      return await original.apply(this, args);
    } catch (error) {
      generation++;
      counts.invalidations++;
      throw error;
    }
  };
}

/** Cluster#findGroupCoordinatorMetadata answered from the cache while it is fresh. */
function cachedLookup(lookup: KafkajsMethod): KafkajsMethod {
  return async function (this: Proto, args: { groupId: string; coordinatorType?: number }): Promise<unknown> {
    const cache = (this[CACHE] ??= new Map()) as Map<string, { metadata: unknown; at: number; generation: number }>;
    const key = `${args.coordinatorType ?? 0}/${args.groupId}`;
    const hit = cache.get(key);
    if (hit && hit.generation === generation && Date.now() - hit.at < TTL_MS) {
      counts.reused++;
      return hit.metadata;
    }
    const started = generation;
    counts.lookups++;
    const metadata: unknown = await lookup.call(this, args);
    cache.set(key, { metadata, at: Date.now(), generation: started });
    return metadata;
  };
}

export function installCoordinatorCache(): void {
  // The coordinator's broker may be gone from the metadata: findGroupCoordinator fails, forget.
  patchKafkajs('coordinator-cache', 'Cluster', ['findGroupCoordinatorMetadata', 'findGroupCoordinator'], (original, method) =>
    method === 'findGroupCoordinatorMetadata' ? cachedLookup(original) : forgettingOnFailure(original),
  );
  patchKafkajs('coordinator-cache', 'Broker', COORDINATOR_REQUESTS, forgettingOnFailure);
}
