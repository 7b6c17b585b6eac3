// Runs the kubetrail CLI as a user would: a real child process, from the sources through tsx, or
// the compiled dist/cli/main.js when KUBETRAIL_TEST_CLI=dist.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** node's arguments that run `kubetrail` (from the checkout's root). */
export const cliArgs = process.env.KUBETRAIL_TEST_CLI === 'dist' ? ['dist/cli/main.js'] : ['--import', 'tsx', 'cli/main.ts'];
export const cliRoot = repoRoot;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its exit, collecting what it prints; rejects when it cannot start, or (after
 * SIGKILL, with the ends of its output) when it has not exited within timeoutMs.
 */
export function runCommand(command: string, args: string[], { cwd, env, timeoutMs }: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish in ${timeoutMs} ms:\n${stdout.slice(-2000)}\n${stderr.slice(-3000)}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `kubetrail <args>`; rejects (after SIGKILL) when it has not exited within timeoutMs. `env` is added to the test's. */
export function runCli(args: string[], timeoutMs = 50_000, env: Record<string, string> = {}): Promise<CliResult> {
  return runCommand(process.execPath, [...cliArgs, ...args], { cwd: repoRoot, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, timeoutMs });
}
