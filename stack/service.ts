// The contract between the stack orchestrator (stack/stack.ts) and each embedded service.
// A service only knows how to get its binaries (prepare), how it is launched and when it is
// ready; the orchestrator owns processes, ports, logs and the state file.
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The long-lived download/build cache shared by every checkout: KUBETRAIL_CACHE, or ~/.cache/kubetrail. */
export function cacheDirectory(): string {
  return process.env.KUBETRAIL_CACHE ?? join(homedir(), '.cache', 'kubetrail');
}

/**
 * `dir`, built once by `build` into a staging directory of this process's own and moved into place
 * whole: an interrupted build is never taken for a finished one, and two processes building at
 * once (two checkouts share the cache) do not build into one directory. `ready` tells a complete
 * `dir`; when another process finished first, its result is kept and ours dropped.
 */
export function buildCached(dir: string, ready: (dir: string) => boolean, build: (staging: string) => void): string {
  if (ready(dir)) return dir;
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    build(staging);
    if (!ready(dir)) {
      rmSync(dir, { recursive: true, force: true });
      renameSync(staging, dir);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return dir;
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
