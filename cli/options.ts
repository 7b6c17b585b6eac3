// Command-line flags generated from a settings table (key → environment variable), so every
// setting has a flag, an environment variable and a config-file key, named alike and never out of step.
import type { Command } from 'commander';

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export function addSettingFlags(command: Command, env: Record<string, string>, skip: ReadonlySet<string> = new Set()): Command {
  for (const [key, envName] of Object.entries(env)) {
    if (skip.has(key)) continue;
    command.option(`--${kebab(key)} <value>`, `(env ${envName})`);
  }
  return command;
}

/** commander's parsed options, without its own keys, as the `flags` source of resolveConfig. */
export function settingFlags(options: Record<string, unknown>, env: Record<string, string>): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  for (const key of Object.keys(env)) if (options[key] !== undefined) flags[key] = options[key];
  return flags;
}
