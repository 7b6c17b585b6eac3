// What the deployment files (Dockerfile, docker-compose.yml, charts/kubetrail) must agree with, taken
// from the code wherever the code exports it: the one place the deployment tests read names from.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { connectionEnv } from '../../lib/config.js';
import { listProcessors } from '../../lib/kit/discovery.js';
import { optionEnvName } from '../../lib/kit/options.js';
import { producerEnv, producerSchema } from '../../producer/config.js';
import { processorServiceEnv, processorServiceSchema } from '../../cli/process.js';
import { producerTopicEnv } from '../../lib/catalog.js';
import { topicsInitEnv } from '../../cli/topics.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const repoPath = (...parts: string[]) => join(repoRoot, ...parts);
export const readRepoFile = (...parts: string[]) => readFileSync(repoPath(...parts), 'utf8');

/** YAML as compose and kubectl read it (merge keys `<<` included). */
export function parseYamlFile(...parts: string[]): unknown {
  return parseYaml(readRepoFile(...parts), { merge: true });
}

/** The `kubetrail` bin of package.json (what the image's ENTRYPOINT must run). */
export const packageJson = JSON.parse(readRepoFile('package.json')) as {
  version: string;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
/**
 * The compiled CLI: what the image runs, and what package.json's bin (bin/kubetrail.js) runs in an
 * installed package, where there are no sources.
 */
export const cliBin = 'dist/cli/main.js';
/** package.json's bin: a launcher that runs the sources in a checkout, else cliBin. */
export const packageBin = packageJson.bin.kubetrail as string;

/** Processor names: what `kubetrail process <name>` accepts (lib/kit/discovery.ts: folders under processors/). */
export const processorNames: string[] = listProcessors();
/** The processor modules, loaded by computed path at run time (not reachable by following imports). */
export const processorEntries: string[] = processorNames.map((name) => repoPath('processors', name, 'index.ts'));

/** Read by every service: lib/log.ts (LOG_LEVEL) and the config file (lib/config.ts, cli/connection.ts). */
export const commonEnv = ['LOG_LEVEL', 'KUBETRAIL_CONFIG'] as const;

// ---- producer (producer/config.ts) ---------------------------------------------------------------
export const producerEnvNames = new Set<string>([...Object.values(producerEnv), ...commonEnv]);
/** The producer's default HTTP port (/healthz, /readyz, /metrics) and the variable that changes it. */
export const producerHttp = { port: producerSchema.shape.httpPort.parse(undefined) as number, env: producerEnv.httpPort };

// ---- processors (cli/process.ts: the runner's settings; lib/kit/options.ts: each processor's options) ----
/** Settings of `kubetrail process <name>` (connection included) and the processor's HTTP port. */
export const processorRunnerEnv: Record<string, string> = processorServiceEnv;
export const processorHttp = { port: processorServiceSchema.shape.httpPort.parse(undefined) as number, env: processorServiceEnv.httpPort };

/** KUBETRAIL_<NAME>_<OPTION> for every option of the `...OptionsSchema` that `file` exports. */
async function optionEnvOf(file: string, name: string): Promise<string[]> {
  const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const names: string[] = [];
  for (const [exportName, value] of Object.entries(module)) {
    if (!/OptionsSchema$/.test(exportName) || !(value instanceof z.ZodObject)) continue;
    for (const key of Object.keys(value.shape)) names.push(optionEnvName(name, key));
  }
  if (names.length === 0) throw new Error(`${file} exports no ...OptionsSchema`);
  return names;
}

/** KUBETRAIL_<PROCESSOR>_<OPTION> for every option of the processor's exported `...OptionsSchema`. */
export const processorOptionEnv = (name: string): Promise<string[]> => optionEnvOf(repoPath('processors', name, 'index.ts'), name);

/** KUBETRAIL_<SINK>_<OPTION> of a sink's options, exported by sinks/<name>/<name>.ts (its index.ts starts the sink when imported). */
export const sinkOptionEnv = (name: string): Promise<string[]> => optionEnvOf(repoPath('sinks', name, `${name}.ts`), name);

export async function processorEnvNames(name: string): Promise<Set<string>> {
  return new Set<string>([...Object.values(connectionEnv), ...Object.values(processorRunnerEnv), ...commonEnv, ...(await processorOptionEnv(name))]);
}

// ---- topics init (cli/topics.ts, lib/catalog.ts) ------------------------------------------------
/** Read by cli/topics.ts besides the connection and the producer's topic settings. */
export const topicsInitOwnEnv = Object.values(topicsInitEnv);

/**
 * `kubetrail topics init`: the connection, the producer's topic settings (lib/catalog.ts) and every
 * processor's options (the catalog loads each processor, whose options may name its topics).
 */
export async function topicsInitEnvNames(): Promise<Set<string>> {
  const names = new Set<string>([...Object.values(connectionEnv), ...Object.values(producerTopicEnv), ...topicsInitOwnEnv, ...commonEnv]);
  for (const processor of processorNames) for (const name of await processorOptionEnv(processor)) names.add(name);
  return names;
}

/** Settings that name topics: `topics init` must see the same values as the services. */
export async function topicNamingEnv(): Promise<Set<string>> {
  const names = new Set<string>(Object.values(producerTopicEnv));
  for (const processor of processorNames) for (const name of await processorOptionEnv(processor)) names.add(name);
  return names;
}

/** The env names a service command reads. */
export async function envNamesOf(args: readonly string[]): Promise<Set<string>> {
  if (args[0] === 'produce') return producerEnvNames;
  if (args[0] === 'process') return processorEnvNames(args[1] as string);
  if (args[0] === 'topics' && args[1] === 'init') return topicsInitEnvNames();
  throw new Error(`not a service command: ${args.join(' ')}`);
}

// ---- the CLI -------------------------------------------------------------------------------------
/** The service commands the deployment runs, as argument lists after the bin. */
export function isServiceCommand(args: readonly string[]): boolean {
  if (args.length === 1 && args[0] === 'produce') return true;
  if (args.length === 2 && args[0] === 'process') return processorNames.includes(args[1] as string);
  return args.length === 2 && args[0] === 'topics' && args[1] === 'init';
}

/** Sub-command names registered with commander anywhere under cli/ (`.command('produce')`, `.command('init')`…). */
export function cliCommandNames(): Set<string> {
  const names = new Set<string>();
  for (const file of readdirSync(repoPath('cli')).filter((f) => f.endsWith('.ts'))) {
    for (const match of readRepoFile('cli', file).matchAll(/\.command\(\s*['"`]([a-z][a-z0-9-]*)/g)) names.add(match[1] as string);
  }
  return names;
}

export const clusterRoleVerbs = ['get', 'list', 'watch'] as const;
export const watchedResource = {
  group: producerSchema.shape.group.parse(undefined) as string,
  resource: producerSchema.shape.resource.parse(undefined) as string,
};
