// Finds processors by folder: processors/<name>/index.ts (index.js once compiled) default-exports
// a ProcessorDefinition. Adding a processor is adding a folder; nothing else lists them. Folders
// whose name starts with '_' (the template) or '.' are not processors.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ProcessorDefinition } from './processor.js';

const here = dirname(fileURLToPath(import.meta.url));

/** processors/ next to lib/ (works from the sources and from dist/). */
export function processorsDir(): string {
  return resolve(here, '..', '..', 'processors');
}

export class ProcessorNotFoundError extends Error {
  override name = 'ProcessorNotFoundError';
}

function entryOf(dir: string): string | undefined {
  for (const file of ['index.ts', 'index.js', 'index.mjs']) {
    const path = join(dir, file);
    if (existsSync(path)) return path;
  }
  return undefined;
}

const isProcessorFolderName = (name: string) => !name.startsWith('_') && !name.startsWith('.') && name !== 'node_modules';

/** Names of the processors (folders with an index), sorted. */
export function listProcessors(root = processorsDir()): string[] {
  return listModuleFolders(root);
}

/** Names of the folders of root that hold an index (processors, sinks), sorted. */
export function listModuleFolders(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => isProcessorFolderName(name))
    .filter((name) => {
      const dir = join(root, name);
      return statSync(dir).isDirectory() && entryOf(dir) !== undefined;
    })
    .sort();
}

/** Checks the shape of what a processor module exports, naming what is wrong. */
export function assertDefinition(value: unknown, where: string): asserts value is ProcessorDefinition<unknown, Record<string, unknown>, unknown> {
  const problems: string[] = [];
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${where} must default-export a processor definition (defineProcessor({...})), got ${value === null ? 'null' : typeof value}`);
  }
  const d = value as Record<string, unknown>;
  if (typeof d.name !== 'string' || d.name.length === 0) problems.push('name must be a non-empty string');
  if (typeof d.process !== 'function') problems.push('process must be a function');
  const input = d.input as Record<string, unknown> | undefined;
  if (!input || typeof input.topic !== 'string' || typeof input.schema !== 'object') problems.push('input must be { topic, schema }');
  const outputs = d.outputs as Record<string, Record<string, unknown>> | undefined;
  if (!outputs || typeof outputs !== 'object') problems.push('outputs must be an object of { topic, schema }');
  else {
    for (const [name, declaration] of Object.entries(outputs)) {
      if (!declaration || typeof declaration.topic !== 'string' || typeof declaration.schema !== 'object') problems.push(`outputs.${name} must be { topic, schema }`);
    }
  }
  const state = d.state as Record<string, unknown> | undefined;
  if (state !== undefined && (typeof state.store !== 'string' || typeof state.schema !== 'object')) problems.push('state must be { store, schema }');
  if (problems.length > 0) throw new TypeError(`${where} does not export a valid processor definition: ${problems.join('; ')}`);
}

/** Imports processors/<name>/index and returns its default export, checked. */
export async function loadProcessor(name: string, root = processorsDir()): Promise<ProcessorDefinition<unknown, Record<string, unknown>, unknown>> {
  const { value, where } = await importModuleFolder(root, name, 'processor');
  assertDefinition(value, where);
  return value;
}

/**
 * Imports <root>/<name>/index and returns its default export and its path for messages; an unknown
 * name is a ProcessorNotFoundError naming the `kind` (processor, sink) and the ones there are.
 */
export async function importModuleFolder(root: string, name: string, kind: string): Promise<{ value: unknown; where: string }> {
  const known = listModuleFolders(root);
  if (!isProcessorFolderName(name) || name.includes('/') || name.includes('\\') || !known.includes(name)) {
    throw new ProcessorNotFoundError(`no ${kind} '${name}' in ${root} (available: ${known.join(', ') || 'none'})`);
  }
  const entry = entryOf(join(root, name))!;
  const module = (await import(pathToFileURL(entry).href)) as { default?: unknown };
  return { value: module.default, where: `${kind}s/${name}/${entry.slice(entry.lastIndexOf('/') + 1)}` };
}
