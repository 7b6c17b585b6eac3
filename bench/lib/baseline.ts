// "Today's rate" as a reference measured in the same run: the engine issue (#9) asks for the
// uncompressed raw topic at ≥ 1.4× the rate the runner had when the issue was filed. That runner
// is not a setting of today's code (the engine, the Kafka layer and its kafkajs patches all
// changed since), so the benchmark runs the code itself: the tree of the last commit before the
// engine work, extracted from this clone's history with its own locked dependencies, and its own
// bench child (bench/children/processor.ts of that commit speaks the same JSON lines).
// Cached under the kubetrail cache: one `npm ci` the first time (9 s here with a warm npm cache).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDirectory, isComplete, stageCacheEntry } from '../../stack/service.js';
import { repoRoot } from './context.js';

/** The last commit before the engine issue's work (2026-11-24 16:55, "demo and stack: plain static fs imports"). */
export const ISSUE_BASELINE_COMMIT = '61a1ef9face9c61b2360032b679c87575506c032';

/**
 * The baseline tree with its node_modules, ready for `node --import tsx bench/children/…`.
 * `log` gets progress on the first (cold) call.
 */
export async function baselineTree(log: (line: string) => void, commit = ISSUE_BASELINE_COMMIT): Promise<string> {
  const dir = join(cacheDirectory(), 'bench-baseline', commit);
  if (isComplete(dir)) return dir;
  const hasCommit = spawnSync('git', ['-C', repoRoot, 'cat-file', '-e', `${commit}^{commit}`], { stdio: 'ignore' }).status === 0;
  if (!hasCommit) throw new Error(`the baseline commit ${commit.slice(0, 7)} is not in this clone's history (a shallow clone? git fetch --unshallow)`);
  await stageCacheEntry(dir, isComplete, async (staging) => {
    log(`baseline: extracting ${commit.slice(0, 7)} into ${dir}`);
    const tarball = join(staging, 'tree.tar');
    execFileSync('git', ['-C', repoRoot, 'archive', '--format=tar', '-o', tarball, commit], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('tar', ['-xf', tarball, '-C', staging], { stdio: ['ignore', 'ignore', 'inherit'] });
    rmSync(tarball);
    log('baseline: npm ci of its own package-lock.json (once; cached)');
    // --include=dev: its bench child runs under tsx, a devDependency (NODE_ENV=production would drop it).
    execFileSync('npm', ['ci', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: staging, stdio: ['ignore', 'ignore', 'inherit'] });
    if (!existsSync(join(staging, 'node_modules', 'tsx', 'package.json'))) throw new Error(`baseline ${commit.slice(0, 7)}: npm ci installed no tsx`);
    return `baseline ${commit}`;
  });
  log('baseline: ready');
  return dir;
}
