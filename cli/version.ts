// The version of this installation: package.json's, found next to the sources (cli/) or the
// build (dist/cli/), so `kubetrail --version` is right from a checkout and from an installed package.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from, depth = 0; depth < 4; dir = dirname(dir), depth++) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'kubetrail' && pkg.version) return pkg.version;
  }
  return 'unknown';
}
