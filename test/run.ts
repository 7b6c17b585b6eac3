// `npm test`: unit tests, then integration tests against real services. The services are, in
// order of preference: those named by KAFKA_BROKERS + SCHEMA_REGISTRY_URL + KUBECONFIG; Docker
// containers when KUBETRAIL_STACK=docker (testcontainers, for machines with a Docker engine);
// otherwise the embedded local stack, reused if it is up, else started here and stopped after.
// The unit tests run twice: on the Node running this, and on Node 24 LTS (test/support/node-lts.ts,
// cached); the integration suite's new-user session runs the demo on Node 24 as well. Last, the
// cluster scenarios of the fault suite (test/faults/cluster.test.ts) run on the fault suite's own
// three-broker stack, after the shared stack is stopped; `--faults` runs every fault file.
import { spawn } from 'node:child_process';
import { readdirSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LocalStack } from '../stack/stack.js';
import { ensureNodeLts, NODE_LTS_VERSION } from './support/node-lts.js';

const args = new Set(process.argv.slice(2));
const suites = args.has('--unit') ? ['unit'] : args.has('--faults') ? ['faults'] : ['unit', 'unit-node-lts', 'integration', 'cluster'];

function testFiles(suite: string): string[] {
  if (suite === 'cluster') return [join('test', 'faults', 'cluster.test.ts')];
  const dir = join('test', suite === 'unit-node-lts' ? 'unit' : suite);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => join(dir, f));
}

function runNodeTests(files: string[], env: NodeJS.ProcessEnv, concurrency: number, node = process.execPath): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(
      node,
      ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
      { stdio: 'inherit', env },
    );
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

type Services = { env: Record<string, string>; stop: () => Promise<void> };

async function realServices(): Promise<Services> {
  const { KAFKA_BROKERS, SCHEMA_REGISTRY_URL, KUBECONFIG } = process.env;
  if (KAFKA_BROKERS && SCHEMA_REGISTRY_URL && KUBECONFIG) {
    console.error(`[test] using the services named in the environment (${KAFKA_BROKERS}, ${SCHEMA_REGISTRY_URL})`);
    return { env: { KAFKA_BROKERS, SCHEMA_REGISTRY_URL, KUBECONFIG }, stop: async () => {} };
  }
  if (process.env.KUBETRAIL_STACK === 'docker') {
    const { startDockerStack } = await import('./support/docker-stack.js');
    return startDockerStack();
  }
  const stack = new LocalStack();
  const wasUp = await stack.isUp();
  console.error(wasUp ? '[test] reusing the running local stack' : '[test] starting the local stack (npm run stack -- up keeps one running between runs)');
  const began = Date.now();
  const connection = await stack.up();
  if (!wasUp) console.error(`[test] local stack up in ${((Date.now() - began) / 1000).toFixed(1)}s`);
  return {
    env: { ...connection, KUBETRAIL_STACK_DIR: stack.stackDir },
    stop: async () => {
      if (!wasUp) await stack.down();
    },
  };
}

/**
 * The fault suite kills Kafka, the registry and the API server: it always gets a stack of its own
 * (KUBETRAIL_FAULTS_STACK_DIR, default .kubetrail/faults-cluster: three brokers), never the shared one nor the
 * services named in the environment, which others may be using. Started here if it is not up,
 * stopped at the end if it was started here. Each scenario appends its counts to a results file;
 * the total is printed after the files ran.
 */
async function faultsServices(): Promise<Services & { results: string }> {
  const { faultsBrokers, faultsStackDir } = await import('./faults/support/stack.js');
  const stackDir = faultsStackDir();
  const stack = new LocalStack({ stackDir, brokers: faultsBrokers });
  const wasUp = await stack.isUp();
  console.error(wasUp ? `[test] reusing the fault suite's stack in ${stackDir}` : `[test] starting the fault suite's own stack in ${stackDir}`);
  const connection = await stack.up();
  const results = join(stackDir, `results-${process.pid}.jsonl`);
  rmSync(results, { force: true });
  return {
    results,
    env: { ...connection, KUBETRAIL_STACK_DIR: stackDir, KUBETRAIL_FAULTS_STACK_DIR: stackDir, KUBETRAIL_FAULTS_RESULTS: results },
    // A fresh LocalStack: the tests restarted services, so the pids this one loaded are stale.
    stop: async () => {
      if (!wasUp) await new LocalStack({ stackDir }).down();
    },
  };
}

async function printFaultTotals(results: string): Promise<void> {
  if (!existsSync(results)) return;
  const { totalLine } = await import('./faults/support/verify.js');
  const lines = readFileSync(results, 'utf8').split('\n').filter(Boolean);
  console.log(totalLine(lines.map((line) => JSON.parse(line))));
  rmSync(results, { force: true });
}

let failed = false;
let services: Services | undefined;
const stopServices = async () => {
  const s = services;
  services = undefined;
  await s?.stop();
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void stopServices().finally(() => process.exit(130)));
}

try {
  for (const suite of suites) {
    const files = testFiles(suite);
    if (files.length === 0) continue;
    let env: NodeJS.ProcessEnv = { ...process.env };
    if (suite === 'faults' || suite === 'cluster') {
      // Two stacks at once are too much for two cores: the shared one goes first.
      await stopServices();
      const faults = await faultsServices();
      services = faults;
      env = { ...env, ...faults.env };
      console.error(`[test] ${suite}: ${files.length} files`);
      const began = Date.now();
      if ((await runNodeTests(files, env, 1)) !== 0) failed = true;
      await printFaultTotals(faults.results);
      console.error(`[test] ${suite}: ${((Date.now() - began) / 1000).toFixed(0)} s`);
      continue;
    }
    if (suite === 'integration') {
      services ??= await realServices();
      env = { ...env, ...services.env };
    }
    const node = suite === 'unit-node-lts' ? await ensureNodeLts() : process.execPath;
    console.error(`[test] ${suite}: ${files.length} files${suite === 'unit-node-lts' ? ` on Node ${NODE_LTS_VERSION}` : ''}`);
    const began = Date.now();
    // Unit tests run in parallel; tests against the shared broker one file at a time.
    const code = await runNodeTests(files, env, suite === 'integration' ? 1 : 2, node);
    console.error(`[test] ${suite}: ${((Date.now() - began) / 1000).toFixed(0)} s`);
    if (code !== 0) failed = true;
  }
} catch (error) {
  console.error(`[test] ${(error as Error).message}`);
  failed = true;
} finally {
  await stopServices();
}
process.exit(failed ? 1 : 0);
