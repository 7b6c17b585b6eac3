// The embedded local stack: Kafka (KRaft), Apicurio Registry and a Kubernetes API server, run
// on 127.0.0.1 without Docker. This module owns the processes, ports, logs and the files that
// tell any client how to connect; each service only says how to get, launch and probe itself.
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { cacheDirectory, type KafkaNodePorts, type ServiceDefinition, type ServiceName, type StackContext, type StackPorts } from './service.js';
import { kafkaBootstrap, kafkaNode } from './kafka.js';
import { registry } from './registry.js';
import { kubeapi, kubeconfigPath } from './kubeapi.js';
import { checkoutRoot, stackConnectionFileName, stackDirectory } from '../lib/stack-connection.js';
import { freePort, isOurProcess, isStopped, sleep, spawnDetached, stopProcess, tailOf, signalGroup } from './processes.js';

/** The services of a stack with `brokers` Kafka nodes: `kafka` alone, or `kafka-1` … `kafka-N`. */
export function stackServices(brokers: number): Map<ServiceName, ServiceDefinition> {
  const nodes = Array.from({ length: brokers }, (_, i) => kafkaNode(i + 1, brokers));
  return new Map([...nodes, registry, kubeapi].map((service) => [service.name, service]));
}

/** Brokers of a new stack: the `brokers` option, else KUBETRAIL_STACK_BROKERS, else 1. */
function requestedBrokers(option: number | undefined): number | undefined {
  const value = option ?? (process.env.KUBETRAIL_STACK_BROKERS ? Number(process.env.KUBETRAIL_STACK_BROKERS) : undefined);
  if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > 9)) {
    throw new Error(`brokers must be a whole number from 1 to 9 (got ${value})`);
  }
  return value;
}

interface StackState {
  ports: StackPorts;
  pids: Partial<Record<ServiceName, number>>;
}

const brokersOf = (state: StackState) => 1 + (state.ports.kafkaNodes?.length ?? 0);

/** How any client reaches the stack; also written as connection.env and connection.json. */
export interface StackConnection {
  KAFKA_BROKERS: string;
  SCHEMA_REGISTRY_URL: string;
  KUBECONFIG: string;
}

export interface ServiceStatus {
  name: ServiceName;
  pid: number | null;
  running: boolean;
  /** Stopped with SIGSTOP (`stack pause`). */
  paused: boolean;
  ready: boolean;
  log: string;
}

export class LocalStack {
  readonly root: string;
  readonly stackDir: string;
  readonly cacheDir: string;
  private state: StackState | undefined;
  private readonly brokers: number | undefined;

  /** `brokers` (or KUBETRAIL_STACK_BROKERS) sizes a new stack; an existing one keeps its size. */
  constructor(options: { root?: string; stackDir?: string; cacheDir?: string; brokers?: number } = {}) {
    this.brokers = requestedBrokers(options.brokers);
    // The checkout (compiled code runs from dist/: one level further up there) and the directory
    // the CLI reads the connection file from without loading this module (lib/stack-connection.ts).
    this.root = options.root ?? checkoutRoot;
    this.stackDir = options.stackDir ?? stackDirectory(this.root);
    this.cacheDir = options.cacheDir ?? cacheDirectory();
  }

  private get stateFile() {
    return join(this.stackDir, 'state.json');
  }

  logFile(name: ServiceName) {
    return join(this.stackDir, 'logs', `${name}.log`);
  }

  /**
   * The state file is the truth, re-read on every call: other processes (tests, a second
   * `stack` command) restart services and record their new pids there. Ports are chosen once,
   * when the file is first written, and kept, so a restarted service keeps its address.
   */
  private async loadState(): Promise<StackState> {
    if (existsSync(this.stateFile)) {
      this.state = JSON.parse(readFileSync(this.stateFile, 'utf8')) as StackState;
      if (this.brokers !== undefined && brokersOf(this.state) !== this.brokers) {
        throw new Error(
          `the stack in ${this.stackDir} has ${brokersOf(this.state)} broker(s), not ${this.brokers}: ` +
            '`kubetrail stack reset` first, or give the other one its own KUBETRAIL_STACK_DIR',
        );
      }
      return this.state;
    }
    if (!this.state) {
      const fixed = (name: string) => {
        const value = process.env[`KUBETRAIL_STACK_${name}_PORT`];
        return value ? Number(value) : undefined;
      };
      const state: StackState = {
        ports: {
          kafka: fixed('KAFKA') ?? (await freePort()),
          kafkaController: await freePort(),
          registry: fixed('REGISTRY') ?? (await freePort()),
          kubeapi: fixed('KUBEAPI') ?? (await freePort()),
          etcdClient: await freePort(),
          etcdPeer: await freePort(),
          ...(await this.extraKafkaNodePorts()),
        },
        pids: {},
      };
      if (!this.state) {
        this.state = state;
        this.saveState();
      }
    }
    return this.state!;
  }

  /** Listeners of nodes 2…N when the new stack is a cluster. */
  private async extraKafkaNodePorts(): Promise<{ kafkaNodes?: KafkaNodePorts[] }> {
    const brokers = this.brokers ?? 1;
    if (brokers === 1) return {};
    const kafkaNodes: KafkaNodePorts[] = [];
    for (let i = 1; i < brokers; i++) kafkaNodes.push({ client: await freePort(), controller: await freePort() });
    return { kafkaNodes };
  }

  /** This stack's services, by name (its size is in the state file). */
  async services(): Promise<Map<ServiceName, ServiceDefinition>> {
    return stackServices(brokersOf(await this.loadState()));
  }

  async serviceNames(): Promise<ServiceName[]> {
    return [...(await this.services()).keys()];
  }

  private async service(name: ServiceName): Promise<ServiceDefinition> {
    const services = await this.services();
    const service = services.get(name);
    if (!service) throw new Error(`this stack has no service '${name}' (it has ${[...services.keys()].join(', ')})`);
    return service;
  }

  /**
   * Records a service's pid (or its absence) with a synchronous read-modify-write of the state
   * file, so services started in parallel, or by another process, never overwrite each other.
   */
  private setPid(name: ServiceName, pid: number | undefined) {
    const state = existsSync(this.stateFile) ? (JSON.parse(readFileSync(this.stateFile, 'utf8')) as StackState) : this.state!;
    if (pid === undefined) delete state.pids[name];
    else state.pids[name] = pid;
    this.state = state;
    this.saveState();
  }

  private saveState() {
    mkdirSync(this.stackDir, { recursive: true });
    writeFileSync(this.stateFile, JSON.stringify(this.state, null, 2));
  }

  async context(): Promise<StackContext> {
    const state = await this.loadState();
    return {
      root: this.root,
      cacheDir: this.cacheDir,
      stackDir: this.stackDir,
      dataDir: (name) => {
        const dir = join(this.stackDir, name);
        mkdirSync(dir, { recursive: true });
        return dir;
      },
      ports: state.ports,
      host: '127.0.0.1',
      progress: (message) => process.stderr.write(`[stack] ${message}\n`),
    };
  }

  async connection(): Promise<StackConnection> {
    const ctx = await this.context();
    return {
      KAFKA_BROKERS: kafkaBootstrap(ctx),
      SCHEMA_REGISTRY_URL: `http://127.0.0.1:${ctx.ports.registry}/apis/ccompat/v7`,
      KUBECONFIG: kubeconfigPath(ctx),
    };
  }

  /** Starts every service that is not running (all in parallel) and writes the connection files. */
  async up(): Promise<StackConnection> {
    mkdirSync(join(this.stackDir, 'logs'), { recursive: true });
    const ctx = await this.context();
    await Promise.all((await this.serviceNames()).map((name) => this.start(name, ctx)));
    const connection = await this.connection();
    writeFileSync(
      this.connectionFile,
      Object.entries(connection).map(([k, v]) => `${k}=${v}`).join('\n') + '\n',
    );
    writeFileSync(join(this.stackDir, 'connection.json'), JSON.stringify(connection, null, 2) + '\n');
    return connection;
  }

  /** Path of the file that `up` writes with the connection settings (KEY=value lines). */
  get connectionFile() {
    return join(this.stackDir, stackConnectionFileName);
  }

  async start(name: ServiceName, ctx?: StackContext): Promise<void> {
    ctx ??= await this.context();
    const service = await this.service(name);
    const state = await this.loadState();
    if (isOurProcess(state.pids[name], this.stackDir)) return;
    const began = Date.now();
    await service.prepare(ctx);
    const spec = await service.launch(ctx);
    const log = this.logFile(name);
    mkdirSync(dirname(log), { recursive: true });
    const pid = spawnDetached(spec, log);
    this.setPid(name, pid);
    const deadline = Date.now() + service.startTimeoutMs;
    for (;;) {
      if (!isOurProcess(pid, this.stackDir)) {
        this.setPid(name, undefined);
        throw new Error(`${name} exited during start-up. Last lines of ${log}:\n${tailOf(log)}`);
      }
      if (await service.ready(ctx).catch(() => false)) break;
      if (Date.now() > deadline) {
        await stopProcess(pid, this.stackDir, 5_000);
        this.setPid(name, undefined);
        throw new Error(`${name} was not ready after ${service.startTimeoutMs / 1000}s. Last lines of ${log}:\n${tailOf(log)}`);
      }
      await sleep(250);
    }
    ctx.progress(`${name} ready on 127.0.0.1 in ${((Date.now() - began) / 1000).toFixed(1)}s (pid ${pid})`);
  }

  /** Graceful stop (SIGTERM, then SIGKILL after a grace period); data is kept. */
  async stop(name: ServiceName): Promise<void> {
    const state = await this.loadState();
    const pid = state.pids[name];
    if (pid) await stopProcess(pid, this.stackDir);
    this.setPid(name, undefined);
  }

  /** kill -9 of a service, for fault tests; its data is kept for the next start. */
  async kill(name: ServiceName): Promise<void> {
    const state = await this.loadState();
    const pid = state.pids[name];
    if (pid && isOurProcess(pid, this.stackDir)) {
      signalGroup(pid, 'SIGKILL');
      while (isOurProcess(pid, this.stackDir)) await sleep(20);
    }
    this.setPid(name, undefined);
  }

  /** SIGSTOP (`pause`) or SIGCONT (`resume`): a stalled process that holds its sockets, as in a long GC pause or a frozen VM. */
  async pause(name: ServiceName): Promise<void> {
    await this.signal(name, 'SIGSTOP');
  }

  async resume(name: ServiceName): Promise<void> {
    await this.signal(name, 'SIGCONT');
  }

  private async signal(name: ServiceName, signal: NodeJS.Signals): Promise<void> {
    await this.service(name);
    const pid = (await this.loadState()).pids[name];
    if (!pid || !isOurProcess(pid, this.stackDir)) throw new Error(`${name} is not running`);
    signalGroup(pid, signal);
  }

  async restart(name: ServiceName, { hard = false } = {}): Promise<void> {
    if (hard) await this.kill(name);
    else await this.stop(name);
    await this.start(name);
  }

  async down(): Promise<void> {
    if (!existsSync(this.stateFile)) return;
    await Promise.all((await this.serviceNames()).map((name) => this.stop(name)));
  }

  async status(): Promise<ServiceStatus[]> {
    if (!existsSync(this.stateFile)) {
      return [...stackServices(this.brokers ?? 1).keys()].map((name) => ({ name, pid: null, running: false, paused: false, ready: false, log: this.logFile(name) }));
    }
    const ctx = await this.context();
    const state = await this.loadState();
    const services = await this.services();
    return Promise.all(
      [...services].map(async ([name, service]) => {
        const pid = state.pids[name] ?? null;
        const running = isOurProcess(pid ?? undefined, this.stackDir);
        const paused = running && isStopped(pid!);
        const ready = running && !paused && (await service.ready(ctx).catch(() => false));
        return { name, pid, running, paused, ready, log: this.logFile(name) };
      }),
    );
  }

  /** True when every service answers. */
  async isUp(): Promise<boolean> {
    return (await this.status()).every((s) => s.ready);
  }

  /** Deletes the stack's data (topics, schemas, etcd); the download cache stays. */
  async reset(): Promise<void> {
    await this.down();
    rmSync(this.stackDir, { recursive: true, force: true });
    this.state = undefined;
  }
}
