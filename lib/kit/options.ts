// Processor options. Each processor exports a factory taking typed options (what tests call) and
// a default definition built from the environment (what the runner loads): the option `failedOnly`
// of processor `completed-filter` is read from KUBETRAIL_COMPLETED_FILTER_FAILED_ONLY. The zod
// schema gives defaults and types, and a bad value fails at start-up naming the variable.
import type { z } from 'zod';
import { resolveConfig } from '../config.js';

const screamingSnake = (text: string) =>
  text
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase();

/** KUBETRAIL_<PROCESSOR>_<OPTION>, e.g. ('completed-filter', 'failedOnly') → KUBETRAIL_COMPLETED_FILTER_FAILED_ONLY. */
export function optionEnvName(processorName: string, option: string): string {
  return `KUBETRAIL_${screamingSnake(processorName)}_${screamingSnake(option)}`;
}

export function optionsFromEnv<S extends z.ZodObject>(processorName: string, schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const envNames: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) envNames[key] = optionEnvName(processorName, key);
  return resolveConfig(schema, envNames as Parameters<typeof resolveConfig<S>>[1], { env });
}
