// Finds sinks by folder, as processors are found: sinks/<name>/index.ts (index.js once compiled)
// default-exports a SinkDefinition. Adding a sink is adding a folder.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importModuleFolder, listModuleFolders } from '../kit/discovery.js';
import type { SinkDefinition } from './sink.js';

const here = dirname(fileURLToPath(import.meta.url));

/** sinks/ next to lib/ (works from the sources and from dist/). */
export function sinksDir(): string {
  return resolve(here, '..', '..', 'sinks');
}

export function listSinks(root = sinksDir()): string[] {
  return listModuleFolders(root);
}

/** Checks the shape of what a sink module exports, naming what is wrong. */
export function assertSinkDefinition(value: unknown, where: string): asserts value is SinkDefinition<unknown> {
  if (typeof value !== 'object' || value === null) throw new TypeError(`${where} must default-export a sink definition (defineSink({...})), got ${value === null ? 'null' : typeof value}`);
  const d = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof d.name !== 'string' || d.name.length === 0) problems.push('name must be a non-empty string');
  if (typeof d.deliver !== 'function') problems.push('deliver must be a function');
  if (d.select !== undefined && typeof d.select !== 'function') problems.push('select must be a function');
  const input = d.input as Record<string, unknown> | undefined;
  if (!input || typeof input.topic !== 'string' || typeof input.schema !== 'object') problems.push('input must be { topic, schema }');
  if (problems.length > 0) throw new TypeError(`${where} does not export a valid sink definition: ${problems.join('; ')}`);
}

/** Imports sinks/<name>/index and returns its default export, checked (ProcessorNotFoundError when there is none). */
export async function loadSink(name: string, root = sinksDir()): Promise<SinkDefinition<unknown>> {
  const { value, where } = await importModuleFolder(root, name, 'sink');
  assertSinkDefinition(value, where);
  return value;
}
