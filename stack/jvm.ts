// What the JVM services (Kafka, Apicurio) share: finding a suitable `java` and running Maven and
// other short commands (their cache entries are built by stageCacheEntry, stack/service.ts).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** Pinned so a resolve does not depend on whatever plugin version Maven's prefix lookup picks. */
export const mavenDependencyPlugin = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

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
