// Remembers where the group and transaction coordinators are. kafkajs asks the cluster with a
// FindCoordinator request before every request to a coordinator — before AddPartitionsToTxn,
// AddOffsetsToTxn, TxnOffsetCommit and EndTxn alike — so one exactly-once transaction cost four
// extra round trips (nine instead of five), each waiting its turn on a busy event loop. Java's
// client keeps the coordinator until a request to it fails; this does the same: a lookup is
// reused for up to a minute, and forgotten as soon as any request to a coordinator, or the lookup
// of its broker, fails (NOT_COORDINATOR, a broker gone, anything), so a moved coordinator is
// found again on the retry kafkajs makes anyway.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const TTL_MS = 60_000;
/** Requests that go to a group or transaction coordinator. */
const COORDINATOR_REQUESTS = ['heartbeat', 'joinGroup', 'syncGroup', 'leaveGroup', 'offsetCommit', 'offsetFetch', 'initProducerId', 'addPartitionsToTxn', 'addOffsetsToTxn', 'txnOffsetCommit', 'endTxn'];

const PATCHED = Symbol.for('kubetrail.kafkajs.coordinatorCache');
const CACHE = Symbol.for('kubetrail.kafkajs.coordinatorCache.entries');

/** Bumped by every failure: entries of an older generation are not used. */
let generation = 0;
const counts = { lookups: 0, reused: 0, invalidations: 0 };

/** FindCoordinator lookups made and saved, and how often the cache was dropped. */
export function coordinatorCacheStats(): { lookups: number; reused: number; invalidations: number } {
  return { ...counts };
}

type Method = (...args: unknown[]) => Promise<unknown>;
type Proto = Record<string | symbol, unknown>;

function forgetOnFailure(proto: Proto, method: string): void {
  const original = proto[method];
  if (typeof original !== 'function') throw new Error(`kafkajs internals changed: ${method} not found (lib/kafka/coordinator-cache.ts needs kafkajs 2.2.4)`);
  proto[method] = async function (this: unknown, ...args: unknown[]): Promise<unknown> {
    try {
      return await (original as Method).apply(this, args);
    } catch (error) {
      generation++;
      counts.invalidations++;
      throw error;
    }
  };
}

export function installCoordinatorCache(): void {
  const Cluster = require('kafkajs/src/cluster/index.js') as { prototype: Proto };
  const Broker = require('kafkajs/src/broker/index.js') as { prototype: Proto };
  if (Cluster.prototype[PATCHED]) return;
  const lookup = Cluster.prototype.findGroupCoordinatorMetadata;
  if (typeof lookup !== 'function') throw new Error('kafkajs internals changed: Cluster#findGroupCoordinatorMetadata not found (lib/kafka/coordinator-cache.ts needs kafkajs 2.2.4)');
  Cluster.prototype.findGroupCoordinatorMetadata = async function (this: Proto, args: { groupId: string; coordinatorType?: number }): Promise<unknown> {
    const cache = (this[CACHE] ??= new Map()) as Map<string, { metadata: unknown; at: number; generation: number }>;
    const key = `${args.coordinatorType ?? 0}/${args.groupId}`;
    const hit = cache.get(key);
    if (hit && hit.generation === generation && Date.now() - hit.at < TTL_MS) {
      counts.reused++;
      return hit.metadata;
    }
    const started = generation;
    counts.lookups++;
    const metadata = await (lookup as Method).call(this, args);
    cache.set(key, { metadata, at: Date.now(), generation: started });
    return metadata;
  };
  // The coordinator's broker may be gone from the metadata: findGroupCoordinator fails, forget.
  forgetOnFailure(Cluster.prototype, 'findGroupCoordinator');
  for (const method of COORDINATOR_REQUESTS) forgetOnFailure(Broker.prototype, method);
  Cluster.prototype[PATCHED] = true;
}
