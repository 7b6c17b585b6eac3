// The Dockerfile and .dockerignore, statically: multi-stage, non-root, the entrypoint is the
// package's bin, and what the CLI imports at run time is both built and installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { cliBin, packageJson, processorEntries, readRepoFile, repoPath, repoRoot } from '../support/deploy.js';

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** A Dockerfile as stages of instructions (comments dropped, continuation lines joined). */
function parseDockerfile(text: string): Stage[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    lines.push(pending + line);
    pending = '';
  }
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [image = '', as, name] = args.replace(/--platform=\S+\s+/, '').split(/\s+/);
      stages.push({ from: image, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1)?.instructions.push({ keyword: upper, args });
    } else {
      assert.ok(upper === 'ARG', `only ARG before the first FROM, got ${upper}`);
    }
  }
  return stages;
}

const dockerfile = readRepoFile('Dockerfile');
const stages = parseDockerfile(dockerfile);
const runtime = stages.at(-1) as Stage;
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const last = (stage: Stage, keyword: string) => all(stage, keyword).at(-1);
const jsonArgs = (i: Instruction | undefined) => (i ? (JSON.parse(i.args) as string[]) : undefined);

test('multi-stage: a Node 24 LTS build stage running npm ci + npm run build, a slim/alpine Node 24 runtime', () => {
  assert.ok(stages.length >= 2, 'at least two stages');
  for (const stage of stages) assert.match(stage.from, /^node:24([.\d]*)?-(slim|alpine|bookworm-slim|bullseye-slim|trixie-slim)/, `${stage.from} is Node 24`);
  assert.match(runtime.from, /^node:24([.\d]*)?-(.*slim|alpine)/, 'a small runtime base');
  const build = stages.find((s) => all(s, 'RUN').some((r) => /\bnpm run build\b/.test(r.args)));
  assert.ok(build && build !== runtime, 'a build stage runs `npm run build`');
  assert.ok(all(build, 'RUN').some((r) => /\bnpm ci\b/.test(r.args)), 'the build stage installs with npm ci (the lock file)');
  assert.ok(all(runtime, 'RUN').some((r) => /\bnpm ci\b.*--omit=dev/.test(r.args)), 'the runtime installs production dependencies only');
  const copyDist = all(runtime, 'COPY').find((c) => c.args.includes(`--from=${build.name}`) && /\/dist\b/.test(c.args));
  assert.ok(copyDist, 'the runtime copies dist/ from the build stage');
  assert.ok(!all(runtime, 'COPY').some((c) => !c.args.includes('--from=') && /(^|\s)\.\s/.test(c.args)), 'the runtime copies no source tree');
});

test('runs as a non-root user', () => {
  const user = last(runtime, 'USER');
  assert.ok(user, 'USER in the final stage');
  const [name] = user.args.split(':');
  assert.ok(name && name !== 'root' && name !== '0', `non-root user, got ${user.args}`);
  // Numeric, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
  assert.match(name, /^\d+$/, 'a numeric uid');
  const index = runtime.instructions.indexOf(user);
  assert.ok(!runtime.instructions.slice(index).some((i) => i.keyword === 'USER' && /^(root|0)(:|$)/.test(i.args)), 'not switched back to root');
});

test('the entrypoint is the compiled CLI the package bin runs (exec form)', () => {
  const entrypoint = jsonArgs(last(runtime, 'ENTRYPOINT'));
  assert.ok(entrypoint, 'ENTRYPOINT in exec (JSON) form');
  assert.equal(entrypoint[0], 'node');
  const workdir = last(runtime, 'WORKDIR')?.args ?? '/';
  const script = entrypoint[1] as string;
  const bin = posix.normalize(cliBin);
  assert.equal(posix.isAbsolute(script) ? posix.relative(workdir, script) : posix.normalize(script), bin, `runs ${cliBin}`);
  const copied = all(runtime, 'COPY').find((c) => c.args.includes('--from='))?.args.split(/\s+/).at(-1) ?? '';
  assert.equal(posix.resolve(workdir, copied), posix.resolve(workdir, bin.split('/')[0] as string), 'the bin lies in the copied dist/');
});

test('no secrets baked in', () => {
  for (const stage of stages) {
    for (const i of [...all(stage, 'ENV'), ...all(stage, 'ARG')]) {
      assert.ok(!/(PASSWORD|SECRET|TOKEN|SASL|_KEY)\b/i.test(i.args), `${i.keyword} ${i.args}`);
    }
    for (const c of all(stage, 'COPY').concat(all(stage, 'ADD'))) {
      assert.ok(!/\.env\b|kubeconfig|\.kube\b|\.npmrc/.test(c.args), `${c.keyword} ${c.args}`);
    }
  }
});

// ---- what the running CLI needs ----------------------------------------------------------------

/** Relative and package imports of a module (static `import`/`export … from`, literal `import()`), type-only ones left out. */
function importsOf(file: string): { local: string[]; packages: string[]; dynamicPackages: string[] } {
  const text = readFileSync(file, 'utf8');
  const local: string[] = [];
  const packages: string[] = [];
  const dynamicPackages: string[] = [];
  const add = (specifier: string, dynamic: boolean) => {
    if (specifier.startsWith('.')) local.push(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
    else (dynamic ? dynamicPackages : packages).push(specifier);
  };
  for (const m of text.matchAll(/^\s*(import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) add(m[2] as string, false);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[1] as string, true);
  return { local, packages, dynamicPackages };
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

const entry = repoPath(cliBin.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
/** The sources the running CLI loads: the bin's imports, followed, plus every processor's. */
function closure(): { files: Set<string>; packages: Set<string>; dynamicPackages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const dynamicPackages = new Set<string>();
  // The CLI imports processors by computed path (lib/kit/discovery.ts): they are roots too.
  const queue = [entry, ...processorEntries];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    assert.ok(existsSync(file), `${relative(repoRoot, file)} exists`);
    files.add(file);
    const found = importsOf(file);
    queue.push(...found.local);
    for (const p of found.packages) packages.add(packageName(p));
    for (const p of found.dynamicPackages) dynamicPackages.add(packageName(p));
  }
  return { files, packages, dynamicPackages };
}

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

test('every package the CLI imports at run time is a production dependency (npm ci --omit=dev)', () => {
  const { packages } = closure();
  assert.ok(packages.size > 0);
  for (const p of packages) {
    if (builtins.has(p) || p.startsWith('node:')) continue;
    assert.ok(p in packageJson.dependencies, `${p} is imported by the CLI at run time but is not in dependencies`);
  }
});

test('every source folder the CLI imports is copied into the build context and the build stage', () => {
  const { files } = closure();
  const folders = new Set([...files].map((f) => relative(repoRoot, f).split(/[\\/]/)[0] as string));
  const ignore = readRepoFile('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const allowlist = ignore[0] === '*' || ignore[0] === '**';
  const build = stages.find((s) => all(s, 'RUN').some((r) => /\bnpm run build\b/.test(r.args))) as Stage;
  const copies = all(build, 'COPY').map((c) => c.args.split(/\s+/).filter((a) => !a.startsWith('--')));
  for (const folder of folders) {
    if (allowlist) assert.ok(ignore.some((l) => new RegExp(`^!/?${folder}(/|/\\*\\*)?$`).test(l)), `.dockerignore lets ${folder}/ in`);
    else assert.ok(!ignore.some((l) => new RegExp(`^/?${folder}/?$`).test(l)), `.dockerignore keeps ${folder}/`);
    assert.ok(copies.some((args) => args.slice(0, -1).some((src) => src === '.' || src.replace(/\/$/, '') === folder)), `the build stage copies ${folder}/`);
  }
  for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json']) {
    if (allowlist) assert.ok(ignore.includes(`!${needed}`), `.dockerignore lets ${needed} in`);
  }
});

test('no file the CLI loads reads an .avsc or a JSON file at run time (schemas are compiled in)', () => {
  const { files } = closure();
  for (const file of files) {
    // Code only: comments removed.
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
    assert.ok(!/['"`][^'"`]*\.avsc['"`]/.test(code), `${relative(repoRoot, file)} names an .avsc file`);
    assert.ok(!/from\s+['"][^'"]+\.json['"]/.test(code), `${relative(repoRoot, file)} imports JSON (not emitted by tsc)`);
  }
});

test('.dockerignore keeps local state and credentials out of the context', () => {
  const ignore = readRepoFile('.dockerignore').split('\n').map((l) => l.trim());
  if (ignore.find((l) => l && !l.startsWith('#')) === '*') {
    for (const l of ignore.filter((x) => x.startsWith('!'))) {
      assert.ok(!/node_modules|dist|\.kubetrail|\.git|\.env|kube/.test(l), `${l} must stay out`);
    }
  } else {
    for (const needed of ['node_modules', 'dist', '.kubetrail', '.git']) assert.ok(ignore.some((l) => l.replace(/^\/|\/$/g, '') === needed), `${needed} ignored`);
  }
});
