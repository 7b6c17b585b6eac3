// `kubetrail schemas check`: asks the Schema Registry whether each local schema (lib/catalog.ts:
// the raw event, every processor's outputs and state) would be accepted as the next version of its
// subject under the subject's compatibility rule. One line per subject; exit 1 when any is
// incompatible, so CI can run it before a deploy. `--schema subject=file.avsc` checks given files.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import avro from 'avsc';
import { ConfigError } from '../lib/config.js';
import { RegistryApi, type CompatibilityResult } from '../lib/registry-api.js';
import { connectionOptions, loadConnection } from './connection.js';
import { catalogOptions, loadCatalog } from './catalog-options.js';

export interface SchemaToCheck {
  subject: string;
  /** The schema as JSON text (what is sent to the registry). */
  schema: string;
  /** Where it comes from, for the report. */
  source: string;
}

/** Parses `subject=file.avsc` and reads the file (which must hold a valid Avro schema). */
export function schemaArgument(value: string): SchemaToCheck {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) throw new ConfigError(`--schema takes <subject>=<file.avsc>, got '${value}'`);
  const subject = value.slice(0, at);
  const file = value.slice(at + 1);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`--schema ${subject}: cannot read ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
    avro.Type.forSchema(parsed as avro.Schema);
  } catch (error) {
    throw new ConfigError(`--schema ${subject}: ${file} is not a valid Avro schema: ${(error as Error).message}`);
  }
  return { subject, schema: JSON.stringify(parsed), source: file };
}

/**
 * A local explanation when the registry gives no reason: under BACKWARD the new schema must read
 * data written with the latest one, which is exactly whether avsc can build a resolver.
 */
export function explainIncompatibility(newSchema: string, latestSchema: string): string | undefined {
  try {
    const reader = avro.Type.forSchema(JSON.parse(newSchema) as avro.Schema);
    const writer = avro.Type.forSchema(JSON.parse(latestSchema) as avro.Schema);
    reader.createResolver(writer);
    return undefined;
  } catch (error) {
    return `the new schema cannot read data of the latest: ${(error as Error).message}`;
  }
}

export function describeResult(result: CompatibilityResult, check: SchemaToCheck): string {
  switch (result.status) {
    case 'new':
      return 'new (no version registered yet)';
    case 'compatible':
      return `compatible with version ${result.latestVersion}`;
    case 'incompatible': {
      const reasons = result.reasons.length > 0 ? result.reasons : [explainIncompatibility(check.schema, result.latestSchema) ?? 'the registry gave no reason'];
      return `INCOMPATIBLE with version ${result.latestVersion}: ${reasons.join('; ')}`;
    }
  }
}

export function registerSchemasCommand(program: Command): void {
  const schemas = program.command('schemas').description('kubetrail\'s Avro schemas in the Schema Registry');
  const check = schemas
    .command('check')
    .description(
      'check every local schema against the latest version of its subject (<topic>-value) under the registry\'s compatibility rule; ' +
        'prints one line per subject (compatible, new, INCOMPATIBLE) and exits 1 when any is incompatible',
    )
    .option('--schema <subject=file.avsc>', 'check this schema file against this subject instead of the local schemas (repeatable)', (value: string, previous: string[] = []) => [...previous, value]);
  catalogOptions(connectionOptions(check), { partitions: false }).action(async (options: Record<string, unknown>, command: Command) => {
    const connection = await loadConnection(command);
    const given = (options.schema as string[] | undefined) ?? [];
    let checks: SchemaToCheck[];
    if (given.length > 0) {
      checks = given.map(schemaArgument);
    } else {
      const catalog = await loadCatalog(command);
      checks = catalog.subjects.map((s) => ({ subject: s.subject, schema: JSON.stringify(s.schema), source: `${s.topic}` }));
    }
    const api = new RegistryApi(connection);
    const width = Math.max(...checks.map((c) => c.subject.length), 0);
    let incompatible = 0;
    for (const item of checks) {
      const result = await api.compatibility(item.subject, item.schema);
      if (result.status === 'incompatible') incompatible++;
      process.stdout.write(`${item.subject.padEnd(width)}  ${describeResult(result, item)}\n`);
    }
    process.stdout.write(
      incompatible === 0
        ? `${checks.length} subject${checks.length === 1 ? '' : 's'} checked: every schema is compatible\n`
        : `${incompatible} of ${checks.length} subject${checks.length === 1 ? '' : 's'} INCOMPATIBLE: the registry would reject ${incompatible === 1 ? 'it' : 'them'}\n`,
    );
    if (incompatible > 0) process.exitCode = 1;
  });
}
