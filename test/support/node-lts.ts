// Node 24 LTS for the tests that run on it as well as on the Node that runs `npm test`: the
// binary the npm registry's `node` package installs (its install step fetches node-<os>-<arch> of
// the same version; that package is installed here directly, with npm, so no install script runs),
// cached in ~/.cache/kubetrail/node-<version> (KUBETRAIL_CACHE) and reused by every later run.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDirectory } from '../../stack/service.js';

/** The Node 24 LTS release CI tests on (npm's `node@24.21.0`). */
export const NODE_LTS_VERSION = '24.21.0';

const platformPackage = () => `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;

/** The path of the cached Node binary, installed on first use (progress on stderr). */
export function ensureNodeLts(version = NODE_LTS_VERSION): string {
  const cache = cacheDirectory();
  const dir = join(cache, `node-${version}`);
  const binary = join(dir, 'node_modules', platformPackage(), 'bin', 'node');
  if (existsSync(binary)) return binary;
  process.stderr.write(`[node ${version}] installing ${platformPackage()}@${version} from the npm registry into ${dir} (once)\n`);
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  execFileSync('npm', ['install', '--prefix', staging, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', `${platformPackage()}@${version}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  // Moved into place whole, so an interrupted install is never taken for a finished one.
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  const reported = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  if (reported !== `v${version}`) throw new Error(`${binary} reports ${reported}, expected v${version}`);
  return binary;
}
