// Node 24 LTS for the tests that run on it as well as on the Node that runs `npm test`: the
// binary the npm registry's `node` package installs (its install step fetches node-<os>-<arch> of
// the same version; that package is installed here directly, with npm, so no install script runs),
// cached in ~/.cache/kubetrail/node-<version> (KUBETRAIL_CACHE) and reused by every later run.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDirectory, stageCacheEntry } from '../../stack/service.js';

/** The Node 24 LTS release CI tests on (npm's `node@24.21.0`). */
export const NODE_LTS_VERSION = '24.21.0';

const platformPackage = () => `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;

/** The path of the cached Node binary, installed on first use (progress on stderr). */
export async function ensureNodeLts(version = NODE_LTS_VERSION): Promise<string> {
  const dir = join(cacheDirectory(), `node-${version}`);
  const binaryIn = (root: string) => join(root, 'node_modules', platformPackage(), 'bin', 'node');
  const binary = binaryIn(dir);
  if (existsSync(binary)) return binary;
  process.stderr.write(`[node ${version}] installing ${platformPackage()}@${version} from the npm registry into ${dir} (once)\n`);
  await stageCacheEntry(dir, (root) => existsSync(binaryIn(root)), async (staging) => {
    execFileSync('npm', ['install', '--prefix', staging, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', `${platformPackage()}@${version}`], { stdio: ['ignore', 'ignore', 'inherit'] });
    return `${platformPackage()}@${version}`;
  });
  const reported = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  if (reported !== `v${version}`) throw new Error(`${binary} reports ${reported}, expected v${version}`);
  return binary;
}
