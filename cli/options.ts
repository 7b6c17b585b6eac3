// Command-line flags generated from a settings table (key → environment variable), so every
// setting has a flag, an environment variable and a config-file key, named alike and never out of step.
// Help shows each flag's variable, default and choices through commander's own Option features;
// the values commander fills in from the environment or a default are not taken as flags (see
// cliValues), so lib/config.ts keeps its precedence: flag, environment, config file, default.
import { Option, type Command } from 'commander';
import type { z } from 'zod';

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

interface ZodLike {
  safeParse(value: unknown): { success: boolean; data?: unknown };
  _zod?: { def: { type: string; innerType?: ZodLike; entries?: Record<string, string> } };
}

/** The default and the allowed values a zod field declares (found by unwrapping default/optional/pipe). */
export function fieldFacts(field: ZodLike | undefined): { defaultValue?: unknown; choices?: string[] } {
  if (!field) return {};
  const facts: { defaultValue?: unknown; choices?: string[] } = {};
  const parsed = field.safeParse(undefined);
  if (parsed.success && parsed.data !== undefined) facts.defaultValue = parsed.data;
  let inner: ZodLike | undefined = field;
  for (let depth = 0; inner?._zod && depth < 8; depth++) {
    const def: NonNullable<ZodLike['_zod']>['def'] = inner._zod.def;
    // A transform before the enum accepts more spellings than it lists (PLAIN for plain): no choices then.
    if (def.type === 'pipe') break;
    if (def.type === 'enum' && def.entries) {
      facts.choices = Object.values(def.entries);
      break;
    }
    inner = def.innerType;
  }
  return facts;
}

const shown = (value: unknown) => (Array.isArray(value) ? value.join(',') : typeof value === 'object' ? JSON.stringify(value) : String(value));

/**
 * A `--kebab-key <value>` Option per setting, with its environment variable, and the default and
 * choices its schema declares (help only: the default is applied by resolveConfig, after the file).
 */
export function addSettingFlags(
  command: Command,
  env: Record<string, string>,
  schema?: z.ZodObject,
  skip: ReadonlySet<string> = new Set(),
  descriptions: Record<string, string> = {},
): Command {
  const shape = (schema?.shape ?? {}) as Record<string, ZodLike>;
  for (const [key, envName] of Object.entries(env)) {
    if (skip.has(key)) continue;
    const option = new Option(`--${kebab(key)} <value>`, descriptions[key] ?? '').env(envName);
    const { defaultValue, choices } = fieldFacts(shape[key]);
    if (choices) option.choices(choices);
    if (defaultValue !== undefined && !['', '{}'].includes(shown(defaultValue))) option.default(defaultValue, shown(defaultValue));
    command.addOption(option);
  }
  return command;
}

/**
 * The options given on the command line (not those commander took from the environment or a
 * default): the `flags` source of resolveConfig.
 */
export function cliValues(command: Command): Record<string, unknown> {
  const options = command.opts();
  const flags: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (command.getOptionValueSource(key) === 'cli') flags[key] = value;
  return flags;
}

/** The settings of a table given on the command line, as the `flags` source of resolveConfig. */
export function settingFlags(command: Command, env: Record<string, string>): Record<string, unknown> {
  const given = cliValues(command);
  const flags: Record<string, unknown> = {};
  for (const key of Object.keys(env)) if (given[key] !== undefined) flags[key] = given[key];
  return flags;
}

/** An option parser for a repeatable option: each value parsed, collected in order. */
export const collect =
  <T>(parse: (value: string) => T) =>
  (value: string, previous: T[] = []): T[] => [...previous, parse(value)];
