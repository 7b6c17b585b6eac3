// What the JVM services (Kafka, Apicurio) share: finding a suitable `java`, running Maven and
// other short commands, and building cache entries safely when several prepares race.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Pinned so a resolve does not depend on whatever plugin version Maven's prefix lookup picks. */
export const mavenDependencyPlugin = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

/** Marker written last into a cache entry: its presence means the entry is complete. */
const completeMarker = '.complete';

export function isComplete(dir: string): boolean {
  return existsSync(path.join(dir, completeMarker));
}

/**
 * Builds a cache entry in a private staging directory and renames it into place when complete.
 * The cache is shared by every checkout and test run, so two prepares may race: neither ever
 * sees, uses or deletes the other's half-built entry. `isWarm` says whether an existing entry is
 * usable (complete and built from the same inputs); `build` fills the staging directory (paths
 * inside must be relative to it) and returns a one-line summary for the marker.
 */
export async function stageCacheEntry(
  entry: string,
  isWarm: (dir: string) => boolean,
  build: (staging: string) => Promise<string>,
): Promise<void> {
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = `${entry}.staging-${suffix}`;
  await mkdir(staging, { recursive: true });
  try {
    const summary = await build(staging);
    await writeFile(path.join(staging, completeMarker), `${summary}\n`);
    if (isWarm(entry)) return; // another prepare finished first
    if (existsSync(entry)) {
      // Stale or half-built by an older version: move it aside (a process still running from it
      // keeps its open files) and delete it.
      const stale = `${entry}.stale-${suffix}`;
      await rename(entry, stale);
      await rm(stale, { recursive: true, force: true });
    }
    try {
      await rename(staging, entry);
    } catch (error) {
      if (!isWarm(entry)) throw error; // lost a race to an equivalent entry: fine
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Runs a command to completion; rejects with its output so a failed mvn/format is diagnosable. */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          const output = `${stdout}\n${stderr}`.trim().split('\n').slice(-40).join('\n');
          reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${output}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

function javaMajorOf(javaHome: string): number | undefined {
  try {
    const release = readFileSync(path.join(javaHome, 'release'), 'utf8');
    const version = /^JAVA_VERSION="([^"]+)"/m.exec(release)?.[1];
    if (!version) return undefined;
    const [first, second] = version.split('.').map(Number);
    // Java 8 and older report "1.8.0"; everything we care about is 9+.
    return first === 1 ? second : first;
  } catch {
    return undefined;
  }
}

function javaHomeOnPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'java');
    if (existsSync(candidate)) return path.dirname(path.dirname(realpathSync(candidate)));
  }
  return undefined;
}

/**
 * Absolute path of a `java` whose major version is at least `minMajor`.
 * Looks at KUBETRAIL_JAVA_HOME, JAVA_HOME, the `java` on PATH, then every JDK under /usr/lib/jvm
 * (newest first) — Apicurio 3.3 needs Java 21 while the default JDK here may be 17.
 */
export function findJava(minMajor: number): string {
  const candidates: string[] = [];
  for (const home of [process.env.KUBETRAIL_JAVA_HOME, process.env.JAVA_HOME, javaHomeOnPath()]) {
    if (home) candidates.push(home);
  }
  const jvmRoot = '/usr/lib/jvm';
  if (existsSync(jvmRoot)) {
    const installed = readdirSync(jvmRoot).map((name) => {
      const home = path.join(jvmRoot, name);
      return { home, major: javaMajorOf(home) ?? 0 };
    });
    candidates.push(...installed.sort((a, b) => b.major - a.major).map((entry) => entry.home));
  }
  for (const home of candidates) {
    const java = path.join(home, 'bin', 'java');
    const major = javaMajorOf(home);
    if (major !== undefined && major >= minMajor && existsSync(java)) return java;
  }
  throw new Error(
    `no Java ${minMajor}+ found (looked at KUBETRAIL_JAVA_HOME, JAVA_HOME, PATH, ${jvmRoot}); ` +
      `install a JDK ${minMajor}+ or point KUBETRAIL_JAVA_HOME at one`,
  );
}
