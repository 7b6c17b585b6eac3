// The fault suite's own embedded stack: a three-broker Kafka cluster (replication 3, min ISR 2),
// the registry and the API server. Killing them would break whatever else uses the shared stack
// (.kubetrail/stack) at the same time, so every fault test runs against a stack of its own:
// KUBETRAIL_FAULTS_STACK_DIR, by default .kubetrail/faults-cluster (own ports and data, the same
// download cache). The services named in KAFKA_BROKERS,
// SCHEMA_REGISTRY_URL and KUBECONFIG are ignored here on purpose: they may be someone else's.
//
// `npm run test:faults` (test/run.ts) brings this stack up once for all the files and stops it at
// the end if it started it; a file run on its own does the same for itself.
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectionConfig } from '../../../lib/config.js';
import { connectionSchema } from '../../../lib/config.js';
import { LocalStack } from '../../../stack/stack.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Brokers of the faults stack. */
export const faultsBrokers = 3;

/** Where the fault suite's stack lives: KUBETRAIL_FAULTS_STACK_DIR (relative to the repository) or .kubetrail/faults-cluster. */
export function faultsStackDir(): string {
  const dir = process.env.KUBETRAIL_FAULTS_STACK_DIR ?? join('.kubetrail', 'faults-cluster');
  return isAbsolute(dir) ? dir : resolve(repoRoot, dir);
}

export interface FaultsStack {
  /** A fresh LocalStack object on the faults stack dir (state is re-read from disk each call). */
  stack(): LocalStack;
  connection: ConnectionConfig;
  kubeconfig: string;
  /** Stops the stack if this process started it. */
  release(): Promise<void>;
}

/**
 * The faults stack, started if it is not up. Every service that is down (a previous scenario that
 * failed half-way may have left Kafka dead) is started again.
 */
export async function useFaultsStack(): Promise<FaultsStack> {
  const dir = faultsStackDir();
  const first = new LocalStack({ stackDir: dir, brokers: faultsBrokers });
  const wasUp = await first.isUp();
  if (!wasUp) process.stderr.write(`[faults] starting the fault suite's own stack in ${dir}\n`);
  const settings = await first.up();
  return {
    stack: () => new LocalStack({ stackDir: dir }),
    connection: connectionSchema.parse({
      kafkaBrokers: settings.KAFKA_BROKERS,
      schemaRegistryUrl: settings.SCHEMA_REGISTRY_URL,
      kafkaClientId: 'kubetrail-faults',
    }),
    kubeconfig: settings.KUBECONFIG,
    release: async () => {
      if (!wasUp) await new LocalStack({ stackDir: dir }).down();
    },
  };
}

/** Makes sure every service of the faults stack runs (after a scenario that killed one). */
export async function ensureUp(stack: LocalStack): Promise<void> {
  await stack.up();
}
