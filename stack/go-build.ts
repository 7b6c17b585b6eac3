// Go programs the project builds from source — the stack's kube-apiserver (stack/kube-apiserver),
// the chart tests' helm and chart-check (test/chart-tools) — built once per source hash into the
// shared cache (<cacheDir>/<cacheName>/<hash>/), with progress printed every 30 s. Their go.mod is
// the one place each pins its versions. Builds run under `nice -n 10`: the 2 cores are shared.
//
// Only node built-ins here: the stack must be able to start before anything else is built.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

export interface GoProgram {
  /** What progress lines and errors call it. */
  label: string;
  /** The folder holding go.mod, go.sum and the .go files of its `.` package. */
  sourceDir: string;
  /** Binaries to build: file name → package (`.`, or an import path go.mod requires, such as a `tool`). */
  binaries: Record<string, string>;
  /** `-ldflags` of the builds (e.g. `-X` version variables), part of the cache key. */
  ldflags?: string;
  /** The binaries go to <cacheDir>/<cacheName>/<source hash>/. */
  cacheName: string;
  /** Packages a build compiles from nothing (`go list -deps`, standard library included), for the progress line. */
  packages: number;
  /** The line printed when a build starts (what, and how long a cold one takes). */
  announce: string;
}

/** sha256 over go.mod, go.sum and every .go file of the folder (names and contents), the platform and the ldflags. */
async function goSourceHash(sourceDir: string, ldflags = ''): Promise<string> {
  const names = (await readdir(sourceDir))
    .filter((n) => n === 'go.mod' || n === 'go.sum' || n.endsWith('.go'))
    .filter((n) => !n.endsWith('_test.go'))
    .sort();
  const hash = createHash('sha256');
  hash.update(`${process.platform}/${process.arch}\n`);
  for (const name of names) {
    hash.update(`${name}\n`);
    hash.update(await readFile(path.join(sourceDir, name)));
    hash.update('\n');
  }
  if (ldflags) hash.update(`ldflags ${ldflags}\n`);
  return hash.digest('hex').slice(0, 16);
}

/** <cacheDir>/<cacheName>/<source hash>: where the program's binaries are (once built). */
export async function goProgramDir(cacheDir: string, program: GoProgram): Promise<string> {
  return path.join(cacheDir, program.cacheName, await goSourceHash(program.sourceDir, program.ldflags));
}

function runGoBuild(program: GoProgram, pkg: string, out: string, modfile: string, progress: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const ldflags = program.ldflags ? [`-ldflags=${program.ldflags}`] : [];
    const child = spawn('nice', ['-n', '10', 'go', 'build', '-trimpath', '-v', ...ldflags, `-modfile=${modfile}`, '-o', out, pkg], {
      cwd: program.sourceDir,
      env: { ...process.env, GOFLAGS: '-mod=mod' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    let packages = 0;
    let downloads = 0;
    let lastReport = Date.now();
    const started = Date.now();
    let pending = '';
    const name = path.basename(out);
    const onData = (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 40) tail.shift();
        if (line.startsWith('go: downloading')) downloads++;
        else if (!line.startsWith('#') && !line.includes(' ')) packages++;
        if (Date.now() - lastReport > 30_000) {
          lastReport = Date.now();
          const secs = Math.round((Date.now() - started) / 1000);
          progress(
            `  ${name} build: ${secs}s, ${packages} of ≤${program.packages} packages compiled (fewer when the Go build cache has some)` +
              (downloads ? `, ${downloads} modules downloaded` : '') +
              ` (last: ${line.trim()})`,
          );
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new Error(`${program.label}: \`nice\` or the Go toolchain (\`go\`) is not on PATH; Go is needed to build it`) : err);
    });
    child.on('close', (code, signal) => {
      if (pending.trim()) tail.push(pending);
      if (code === 0) resolve();
      else reject(new Error(`${program.label}: go build ${pkg} failed (${signal ?? `exit ${code}`}) in ${program.sourceDir}:\n${tail.join('\n')}`));
    });
  });
}

/** Builds the program's binaries unless the cache has them; returns the folder that holds them. */
export async function buildGoProgram(cacheDir: string, program: GoProgram, progress: (line: string) => void): Promise<string> {
  const dir = await goProgramDir(cacheDir, program);
  const names = Object.keys(program.binaries);
  if (names.every((name) => existsSync(path.join(dir, name)))) return dir;
  const parent = path.dirname(dir);
  await mkdir(parent, { recursive: true });
  // Build into a private temp dir, then rename: concurrent builds never see half a binary.
  const tmp = await mkdtemp(path.join(parent, '.build-'));
  const started = Date.now();
  progress(program.announce);
  try {
    // -mod=mod may rewrite go.mod/go.sum; build against copies so the checkout (and with it the
    // source hash) never changes under our feet.
    const modDir = path.join(tmp, 'mod');
    await mkdir(modDir);
    await copyFile(path.join(program.sourceDir, 'go.mod'), path.join(modDir, 'go.mod'));
    await copyFile(path.join(program.sourceDir, 'go.sum'), path.join(modDir, 'go.sum'));
    for (const [name, pkg] of Object.entries(program.binaries)) {
      await runGoBuild(program, pkg, path.join(tmp, name), path.join(modDir, 'go.mod'), progress);
    }
    await rm(modDir, { recursive: true, force: true });
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another build finished first: its binaries are as good as ours.
      if (!names.every((name) => existsSync(path.join(dir, name)))) throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  progress(`built ${program.label} in ${Math.round((Date.now() - started) / 1000)}s: ${dir}`);
  return dir;
}
