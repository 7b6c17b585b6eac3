// Detached service processes: spawned into their own process group with output appended to a
// log file, so they outlive the command that started them and `down` can stop the whole group.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import type { LaunchSpec } from './service.js';
import { sleep } from '../lib/async.js';

export function spawnDetached(spec: LaunchSpec, logFile: string): number {
  const out = openSync(logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ['ignore', out, out],
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/**
 * True when `pid` is alive and its command line mentions `marker` (the stack directory), so a
 * recycled pid that now belongs to another program is never taken for ours.
 */
export function isOurProcess(pid: number | undefined, marker: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline.length === 0) return false; // a zombie awaiting its parent
    return cmdline.includes(marker);
  } catch {
    return false;
  }
}

/** True when the process is stopped by a signal (SIGSTOP): state `T` in /proc/<pid>/stat. */
export function isStopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
  } catch {
    return false;
  }
}

/** Signals the process group (the service and anything it forked). */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

export async function stopProcess(pid: number, marker: string, graceMs = 20_000): Promise<void> {
  if (!isOurProcess(pid, marker)) return;
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurProcess(pid, marker)) return;
    await sleep(100);
  }
  signalGroup(pid, 'SIGKILL');
  while (isOurProcess(pid, marker)) await sleep(50);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

export function tailOf(file: string, lines = 40): string {
  if (!existsSync(file)) return '(no log written)';
  const size = statSync(file).size;
  const text = readFileSync(file, 'utf8').slice(Math.max(0, size - 64 * 1024));
  return text.split('\n').slice(-lines).join('\n');
}

export { sleep };
