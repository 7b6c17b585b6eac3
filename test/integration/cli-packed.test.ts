// The CLI installed as a user installs a package: `npm pack`, then a global install of the tarball
// into a temporary prefix. It runs the build it ships (no sources, no tsx), reads a topic of the
// stack, and exits 2 on bad usage. The tarball is packed from the build `npm test` makes first
// (npm pack --ignore-scripts; a plain `npm pack` builds through the prepack script).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Partitioners } from 'kafkajs';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { cliRoot } from '../support/cli.js';
import { testConnection, uniqueName } from '../support/services.js';
import { createTopic, event, kafkaTestbed } from '../support/kit-helpers.js';
import { resourceEventSchema } from '../../schemas/generated/resource-event.js';

const connection = testConnection();
const { kafka, admin, registry, cleanups } = kafkaTestbed(connection);

test('npm pack, a global install of the tarball, and the installed kubetrail reads the stack', { timeout: 300_000 }, async () => {
  assert.ok(existsSync(join(cliRoot, 'dist', 'cli', 'main.js')), 'the build (npm test runs npm run build first)');
  const home = mkdtempSync(join(tmpdir(), 'kubetrail-packed-'));
  const topic = `${uniqueName('packed')}.raw`;
  cleanups.push(async () => {
    rmSync(home, { recursive: true, force: true });
    await admin.deleteTopics({ topics: [topic] });
  });
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', home], { cwd: cliRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  const tarball = readdirSync(home).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'a tarball');
  const listing = execFileSync('tar', ['tzf', join(home, tarball)], { encoding: 'utf8' }).split('\n');
  assert.ok(listing.includes('package/bin/kubetrail.js') && listing.includes('package/dist/cli/main.js'), 'the launcher and the build');
  assert.ok(!listing.some((f) => f.endsWith('.ts') || f.startsWith('package/dist/test/') || f.startsWith('package/dist/stack/')), 'no sources, tests or dev stack');
  const prefix = join(home, 'prefix');
  const install = spawnSync('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(home, tarball)], { encoding: 'utf8' });
  assert.equal(install.status, 0, install.stderr);
  assert.doesNotMatch(install.stdout + install.stderr, /EBADENGINE/);
  const kubetrail = join(prefix, 'bin', 'kubetrail');
  const run = (...args: string[]) => spawnSync(kubetrail, args, { encoding: 'utf8', cwd: home, env: { ...process.env, LOG_LEVEL: '' } });

  assert.equal(run('--version').stdout.trim(), (await import('../../package.json', { with: { type: 'json' } })).default.version);
  assert.equal(run('subscribe').status, 2);

  await createTopic(admin, topic, 1);
  const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(resourceEventSchema) }, { subject: `${topic}-value` });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ key: 'w1', value: await registry.encode(id, event(1, 'w1')) }] });
  await producer.disconnect();
  const read = run('subscribe', topic, '--until', 'end', '-o', 'raw', '--kafka-brokers', connection.kafkaBrokers.join(','), '--schema-registry-url', connection.schemaRegistryUrl);
  assert.equal(read.status, 0, read.stderr);
  assert.equal((JSON.parse(read.stdout) as { name: string }).name, 'w1');
  const stack = run('stack', 'status');
  assert.equal(stack.status, 1);
  assert.match(stack.stderr, /the embedded local stack is not part of this installation/);
});
