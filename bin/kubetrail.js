#!/usr/bin/env node
// The `kubetrail` command. In a checkout (the sources and tsx present: right after `npm ci`) it
// runs the TypeScript sources through tsx, so it is never a stale build; in an installed package
// (no sources: `npm pack` ships the build) it runs the compiled dist/cli/main.js.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('../', import.meta.url);
const sources = new URL('cli/main.ts', root);
const compiled = new URL('dist/cli/main.js', root);

function tsxAvailable() {
  try {
    createRequire(import.meta.url).resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

if (existsSync(sources) && tsxAvailable()) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  process.stderr.write('kubetrail: neither the sources with tsx (run `npm ci`) nor a build (run `npm run build`) were found\n');
  process.exit(1);
}
