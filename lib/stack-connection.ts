// Where the embedded local stack (stack/: a development tool, not in the image) writes how to reach
// it, so that commands can fall back to it when nothing names the services. Read here without
// loading stack/; stack/stack.ts takes its default directory and file name from here too.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const parent = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The checkout's root: one level above lib/ (compiled code runs from dist/lib: two levels). */
export const checkoutRoot: string = existsSync(join(parent, 'package.json')) ? parent : resolve(parent, '..');

/** The stack's directory: KUBETRAIL_STACK_DIR, else .kubetrail/stack under the checkout. */
export function stackDirectory(root: string = checkoutRoot): string {
  return process.env.KUBETRAIL_STACK_DIR ?? join(root, '.kubetrail', 'stack');
}

/** The file `stack up` writes with the connection settings, as KEY=value lines. */
export const stackConnectionFileName = 'connection.env';

/** The settings of the stack started from this checkout (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, KUBECONFIG); {} when none was. */
export function readStackConnection(stackDir: string = stackDirectory()): Record<string, string> {
  const file = join(stackDir, stackConnectionFileName);
  if (!existsSync(file)) return {};
  const settings: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) settings[line.slice(0, at)] = line.slice(at + 1);
  }
  return settings;
}
