// The contract between the stack orchestrator (stack/stack.ts) and each embedded service.
// A service only knows how to get its binaries (prepare), how it is launched and when it is
// ready; the orchestrator owns processes, ports, logs and the state file.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path, { join } from 'node:path';

/** The long-lived download/build cache shared by every checkout: KUBETRAIL_CACHE, or ~/.cache/kubetrail. */
export function cacheDirectory(): string {
  return process.env.KUBETRAIL_CACHE ?? join(homedir(), '.cache', 'kubetrail');
}

/** Marker written last into a cache entry: its presence means the entry is complete. */
const completeMarker = '.complete';

export function isComplete(dir: string): boolean {
  return existsSync(path.join(dir, completeMarker));
}

/**
 * Builds a cache entry (a download, a build, the Node LTS binary, the benchmark's baseline tree) in a
 * private staging directory and renames it into place when complete. The cache is shared by every
 * checkout and test run, so two prepares may race: neither ever
 * sees, uses or deletes the other's half-built entry. `isWarm` says whether an existing entry is
 * usable (complete and built from the same inputs); `build` fills the staging directory (paths
 * inside must be relative to it) and returns a one-line summary for the marker.
 */
export async function stageCacheEntry(
  entry: string,
  isWarm: (dir: string) => boolean,
  build: (staging: string) => Promise<string>,
): Promise<void> {
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = `${entry}.staging-${suffix}`;
  await mkdir(staging, { recursive: true });
  try {
    const summary = await build(staging);
    await writeFile(path.join(staging, completeMarker), `${summary}\n`);
    if (isWarm(entry)) return; // another prepare finished first
    if (existsSync(entry)) {
      // Stale or half-built by an older version: move it aside (a process still running from it
      // keeps its open files) and delete it.
      const stale = `${entry}.stale-${suffix}`;
      await rename(entry, stale);
      await rm(stale, { recursive: true, force: true });
    }
    try {
      await rename(staging, entry);
    } catch (error) {
      if (!isWarm(entry)) throw error; // lost a race to an equivalent entry: fine
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * A one-broker stack runs `kafka`; a cluster of N brokers runs `kafka-1` … `kafka-N` instead
 * (each a KRaft broker+controller that can be killed, paused or restarted alone).
 */
export type KafkaNodeName = 'kafka' | `kafka-${number}`;
export type ServiceName = KafkaNodeName | 'registry' | 'kubeapi';

/** One more Kafka node's listeners (nodes 2…N of a cluster; node 1 uses `kafka`/`kafkaController`). */
export interface KafkaNodePorts {
  client: number;
  controller: number;
}

/** Ports chosen once at the first `up` and kept in the state file, so restarts keep them. */
export interface StackPorts {
  kafka: number; // PLAINTEXT client listener (node 1)
  kafkaController: number; // KRaft controller listener (node 1)
  /** Nodes 2…N of a multi-broker stack, in node-id order; absent on a one-broker stack. */
  kafkaNodes?: KafkaNodePorts[];
  registry: number; // Apicurio HTTP
  kubeapi: number; // Kubernetes API (HTTPS)
  etcdClient: number; // embedded etcd client URL (plain HTTP on loopback, also its JSON gateway)
  etcdPeer: number; // embedded etcd peer URL
}

export interface StackContext {
  /** Repository root. */
  root: string;
  /** Long-lived download/build cache, shared by every checkout: ~/.cache/kubetrail (or KUBETRAIL_CACHE). */
  cacheDir: string;
  /** This stack's runtime data: <root>/.kubetrail/stack (or KUBETRAIL_STACK_DIR). */
  stackDir: string;
  /** The service's own data directory under stackDir (created by the orchestrator). */
  dataDir(service: ServiceName): string;
  ports: StackPorts;
  host: string; // always 127.0.0.1
  /** Progress line for cold starts (downloads, builds); printed to stderr. */
  progress(message: string): void;
}

export interface LaunchSpec {
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

export interface ServiceDefinition {
  name: ServiceName;
  /** Download or build what the service needs into ctx.cacheDir. Idempotent, cheap when warm. */
  prepare(ctx: StackContext): Promise<void>;
  /** Write configs / format storage if needed (first start only), then say how to launch. */
  launch(ctx: StackContext): Promise<LaunchSpec>;
  /** One readiness probe; the orchestrator polls it until true or the start timeout. */
  ready(ctx: StackContext): Promise<boolean>;
  /** How long a start may take before it is declared failed. */
  startTimeoutMs: number;
}
