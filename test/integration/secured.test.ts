// Secured connections end to end, against a real secured broker and an https registry with basic
// auth: the producer, both processors and `kubetrail subscribe`, each a real child process with its
// settings in the environment, first over mTLS, then over SASL_SSL (SCRAM-SHA-256 and -512, a
// password file, an OAUTHBEARER token file), every principal held to the ACLs of
// test/support/secured-acls.ts by StandardAuthorizer. Then what must be refused: a wrong CA, no
// client certificate, missing credentials and SASL without TLS at start-up (exit 2, the setting
// named), a wrong SCRAM password, and a processor missing one ACL (a clear authorization error
// within seconds, not a hang). Every log line the suite captures — the services', the commands',
// this test's own clients', the broker's — and every /metrics page is searched for the run's
// secrets (passwords, token, private keys) and for URL userinfo.
//
// The broker is stack/secured-kafka.ts: its own KRaft node in .kubetrail/secured-kafka (or
// KUBETRAIL_SECURED_KAFKA_DIR), started here and stopped at the end; the shared stack's broker is
// not touched. The registry is the shared stack's Apicurio behind test/support/registry-proxy.ts
// (https, client certificate, basic auth; why a proxy: see there). Workflows are created in the
// shared stack's API server, in namespaces of their own. Service logs go to files in
// <dir>/test-logs, their tails printed when something fails.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { ArgoSimulator, scriptFromWorkflow, type WorkflowScript } from '../../stack/argo-simulator.js';
import { SecuredKafka, type CertificatePrincipal, type SecuredKafkaInfo } from '../../stack/secured-kafka.js';
import { freePort, tailOf } from '../../stack/processes.js';
import { connectionSchema } from '../../lib/config.js';
import { createKafka, createRegistry } from '../../lib/kafka/client.js';
import { createLogger } from '../../lib/log.js';
import { loadWorkflow } from '../fixtures/workflows.js';
import { cliArgs, cliRoot, runCli, type CliResult } from '../support/cli.js';
import { readTopicToEnd } from '../support/kit-helpers.js';
import { startRegistryProxy, type RegistryProxy } from '../support/registry-proxy.js';
import { aclEntries, processorGrants, serviceGrants } from '../support/secured-acls.js';
import { uniqueName } from '../support/services.js';

/** openssl makes the test CA and certificates; without it the suite cannot run (and says so, rather than pass by skipping). */
function requireOpenssl(): void {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error('openssl is not installed: the secured-connection test needs it to make its CA and certificates (apt-get install openssl)');
  }
}

const dir = process.env.KUBETRAIL_SECURED_KAFKA_DIR ?? join(cliRoot, '.kubetrail', 'secured-kafka');
const logsDir = join(dir, 'test-logs');
const broker = new SecuredKafka(dir);
let info: SecuredKafkaInfo;
let proxy: RegistryProxy;
const began = Date.now();

// ---- the run's secrets: searched for in everything captured at the end -------------------------
const secrets: string[] = [];
const secret = (label: string) => {
  const value = `${label}-${randomBytes(12).toString('hex')}`;
  secrets.push(value);
  return value;
};
const passwords = {
  producer: secret('producer-pw'),
  'completed-filter': secret('completed-filter-pw'),
  'workflow-summary': secret('workflow-summary-pw'),
  subscriber: secret('subscriber-pw'),
  limited: secret('limited-pw'),
};
const registryUser = 'kubetrail';
const registryPassword = secret('registry-pw');
/** An unsigned JWT ("alg":"none") for Kafka's unsecured OAUTHBEARER validator: subject `subscriber`. */
const token = (() => {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const jwt = `${part({ alg: 'none' })}.${part({ sub: 'subscriber', iat: now, exp: now + 3600, jti: randomBytes(8).toString('hex') })}.`;
  secrets.push(jwt);
  return jwt;
})();
const files = { registryPassword: join(logsDir, '..', 'registry-password'), workflowSummaryPassword: join(logsDir, '..', 'workflow-summary-password'), token: join(logsDir, '..', 'token') };
/** Text captured from the commands run (their output is not in a file). */
const captured: string[] = [];
const metricsPages: string[] = [];

// ---- settings -----------------------------------------------------------------------------------
function registryEnv(principal: CertificatePrincipal, credentials: 'settings' | 'url' = 'settings'): Record<string, string> {
  const tls = { SCHEMA_REGISTRY_CA_FILE: info.certs.ca, SCHEMA_REGISTRY_CERT_FILE: info.certs.cert(principal), SCHEMA_REGISTRY_KEY_FILE: info.certs.key(principal) };
  if (credentials === 'url') return { ...tls, SCHEMA_REGISTRY_URL: proxy.url.replace('https://', `https://${registryUser}:${registryPassword}@`) };
  return { ...tls, SCHEMA_REGISTRY_URL: proxy.url, SCHEMA_REGISTRY_USERNAME: registryUser, SCHEMA_REGISTRY_PASSWORD_FILE: files.registryPassword };
}

/** The registry credentials in its URL instead of their settings (which are unset). */
function credentialsInUrl(principal: CertificatePrincipal): Record<string, string> {
  return { SCHEMA_REGISTRY_USERNAME: '', SCHEMA_REGISTRY_PASSWORD_FILE: '', ...registryEnv(principal, 'url') };
}

function mtlsEnv(principal: CertificatePrincipal): Record<string, string> {
  return { KAFKA_BROKERS: info.sslBootstrap, KAFKA_SSL_CA_FILE: info.certs.ca, KAFKA_SSL_CERT_FILE: info.certs.cert(principal), KAFKA_SSL_KEY_FILE: info.certs.key(principal), ...registryEnv(principal) };
}

function scramEnv(principal: keyof typeof passwords & CertificatePrincipal, mechanism: 'scram-sha-256' | 'SCRAM-SHA-512', password: 'env' | 'file' = 'env'): Record<string, string> {
  return {
    KAFKA_BROKERS: info.saslSslBootstrap,
    KAFKA_SSL_CA_FILE: info.certs.ca,
    KAFKA_SASL_MECHANISM: mechanism,
    KAFKA_SASL_USERNAME: principal,
    ...(password === 'env' ? { KAFKA_SASL_PASSWORD: passwords[principal] } : { KAFKA_SASL_PASSWORD_FILE: files.workflowSummaryPassword }),
    ...registryEnv(principal),
  };
}

/** The test's environment without any connection setting of the shared stack (they would mix in). */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(KAFKA_|SCHEMA_REGISTRY_|KUBETRAIL_)/.test(key)) env[key] = value;
  }
  // No connection file fallback: every command gets exactly the settings given here.
  return { ...env, KUBETRAIL_STACK_DIR: join(dir, 'no-stack'), LOG_LEVEL: 'info', KUBETRAIL_CLUSTER: 'secured-test' };
}

async function cli(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<CliResult> {
  const result = await runCli(args, timeoutMs, { ...cleanEnv(), ...env });
  captured.push(`$ kubetrail ${args.join(' ')}\n${result.stdout}\n${result.stderr}`);
  return result;
}

// ---- services as child processes, output to files -----------------------------------------------
class Service {
  readonly logFile: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    args: string[],
    env: Record<string, string>,
    readonly httpPort: number,
  ) {
    this.logFile = join(logsDir, `${name}.log`);
    const out = openSync(this.logFile, 'a');
    this.child = spawn(process.execPath, [...cliArgs, ...args], {
      cwd: cliRoot,
      env: { ...cleanEnv(), ...env, KUBETRAIL_HTTP_PORT: String(httpPort), KUBECONFIG: process.env.KUBECONFIG ?? '' },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve((this.exitCode = code))));
  }

  get output(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  private async get(path: string): Promise<{ status: number; body: string }> {
    const response = await fetch(`http://127.0.0.1:${this.httpPort}${path}`, { signal: AbortSignal.timeout(2_000) });
    return { status: response.status, body: await response.text() };
  }

  /** Until /readyz answers 200; fails at once if the process ends first. */
  async ready(timeoutMs = 40_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exitCode !== undefined) throw new Error(`${this.name} exited (${this.exitCode}) before it was ready:\n${tailOf(this.logFile, 15)}`);
      const answer = await this.get('/readyz').catch(() => undefined);
      if (answer?.status === 200) return answer.body.trim();
      if (Date.now() > deadline) throw new Error(`${this.name} not ready after ${timeoutMs} ms (${answer?.body.trim() ?? 'no answer'}):\n${tailOf(this.logFile, 15)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async metrics(): Promise<string> {
    const page = (await this.get('/metrics')).body;
    metricsPages.push(`${this.name}:\n${page}`);
    return page;
  }

  async stop(): Promise<number | null> {
    if (this.exitCode !== undefined) return this.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}
const services: Service[] = [];

// ---- workflows, and reading the outputs back as the admin ---------------------------------------
const kc = new KubeConfig();
let sim: ArgoSimulator;
const testLogger = () => createLogger('secured-test', 'info', pino.destination({ dest: join(logsDir, 'test-clients.log'), sync: true }));

function scripts(namespace: string): WorkflowScript[] {
  return [
    scriptFromWorkflow(loadWorkflow('dag-diamond-82q7s-1e994e4481'), { namespace, name: uniqueName('diamond'), labels: { 'track-me': 'true' }, maxNodeSteps: 3 }),
    scriptFromWorkflow(loadWorkflow('exit-handlers-n7s4n-f47e234887'), { namespace, name: uniqueName('exit-handlers'), labels: { 'track-me': 'true' }, maxNodeSteps: 3 }),
  ];
}

interface Summary {
  namespace: string;
  name: string;
  phase: string;
}

let adminClients: { kafka: ReturnType<typeof createKafka>; registry: ReturnType<typeof createRegistry> } | undefined;

/** Every record of an output topic, read as the admin (mTLS, super user), decoded through the https registry. */
async function readOutput(topic: string): Promise<Summary[]> {
  if (!adminClients) {
    const connection = connectionSchema.parse({
      kafkaBrokers: info.sslBootstrap,
      kafkaClientId: 'secured-test-admin',
      kafkaSslCaFile: info.certs.ca,
      kafkaSslCertFile: info.certs.cert('admin'),
      kafkaSslKeyFile: info.certs.key('admin'),
      schemaRegistryUrl: proxy.url,
      schemaRegistryCaFile: info.certs.ca,
      schemaRegistryCertFile: info.certs.cert('admin'),
      schemaRegistryKeyFile: info.certs.key('admin'),
      schemaRegistryUsername: registryUser,
      schemaRegistryPassword: registryPassword,
    });
    adminClients = { kafka: createKafka(connection, testLogger()), registry: createRegistry(connection) };
  }
  return (await readTopicToEnd<Summary>(adminClients.kafka, adminClients.registry, topic)).flatMap((r) => (r.value ? [r.value] : []));
}

/** Reads the topic again and again until `until` holds (40 s at most). */
async function waitForOutput(topic: string, until: (records: Summary[]) => boolean, what: string): Promise<Summary[]> {
  const deadline = Date.now() + 40_000;
  for (;;) {
    const records = await readOutput(topic);
    if (until(records)) return records;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; ${topic} holds ${records.length} records`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const finalPhases = new Set(['Succeeded', 'Failed', 'Error']);

/**
 * The pipeline over one transport: the producer, then both processors; two workflows played to
 * their end; the final summary and the completed record of each awaited; the services stopped.
 * Returns the summary topic's records of the namespace, in the order of each workflow's partition.
 */
async function runPipeline(label: string, env: { producer: Record<string, string>; completedFilter: Record<string, string>; workflowSummary: Record<string, string> }) {
  const namespace = uniqueName(`secured-${label}`);
  const producer = new Service(`${label}-producer`, ['produce'], { ...env.producer, KUBETRAIL_NAMESPACES: namespace }, await freePort());
  services.push(producer);
  assert.equal(await producer.ready(), 'leader: watching');
  const completedFilter = new Service(`${label}-completed-filter`, ['process', 'completed-filter'], env.completedFilter, await freePort());
  const workflowSummary = new Service(`${label}-workflow-summary`, ['process', 'workflow-summary'], env.workflowSummary, await freePort());
  services.push(completedFilter, workflowSummary);
  assert.match(await completedFilter.ready(), /^processing kubetrail\.raw/);
  assert.match(await workflowSummary.ready(), /^processing kubetrail\.raw/);
  const played = scripts(namespace);
  await Promise.all(played.map((script) => sim.play(script)));
  const expected = new Map(played.map((s) => [s.name, s.finalPhase]));
  const ours = (records: Summary[]) => records.filter((r) => r.namespace === namespace);
  const lastPhases = (records: Summary[]) => new Map(ours(records).map((r) => [r.name, r.phase]));
  await waitForOutput('kubetrail.workflows.summary', (all) => [...lastPhases(all).values()].filter((p) => finalPhases.has(p)).length === expected.size, `the final summaries of ${namespace}`);
  const completed = await waitForOutput('kubetrail.workflows.completed', (all) => ours(all).length >= expected.size, `the completed workflows of ${namespace}`);
  assert.deepEqual(new Set(ours(completed).map((r) => r.name)), new Set(expected.keys()));
  for (const service of [completedFilter, workflowSummary]) {
    assert.doesNotMatch(await service.metrics(), /kubetrail_processor_dead_letters_total\{[^}]*\} [1-9]/, `${service.name} dead-lettered records`);
  }
  await producer.metrics();
  for (const service of [producer, completedFilter, workflowSummary]) {
    assert.equal(await service.stop(), 0, `${service.name} exit code:\n${tailOf(service.logFile, 10)}`);
  }
  // Every writer stopped: this is all the summary topic will hold for the namespace.
  const summaries = ours(await readOutput('kubetrail.workflows.summary'));
  assert.deepEqual(lastPhases(summaries), expected);
  return { namespace, expected, summaries };
}

/** `kubetrail subscribe` of the summary topic, one namespace: the latest phase of each workflow. */
async function subscribeLatest(namespace: string, count: number, env: Record<string, string>): Promise<Map<string, string>> {
  const result = await cli(['subscribe', 'kubetrail.workflows.summary', '-n', namespace, '--max', String(count)], env);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { value: Summary });
  assert.equal(lines.length, count);
  return new Map(lines.map((line) => [line.value.name, line.value.phase]));
}

describe('secured connections (TLS, SASL, ACLs, https registry)', () => {
  before(async () => {
    requireOpenssl();
    rmSync(logsDir, { recursive: true, force: true });
    mkdirSync(logsDir, { recursive: true });
    if (!process.env.KUBECONFIG || !process.env.SCHEMA_REGISTRY_URL) throw new Error('run with `npm test` (KUBECONFIG and SCHEMA_REGISTRY_URL of the stack)');
    kc.loadFromFile(process.env.KUBECONFIG);
    sim = new ArgoSimulator(kc);
    info = await broker.start();
    writeFileSync(files.registryPassword, `${registryPassword}\n`);
    writeFileSync(files.workflowSummaryPassword, `${passwords['workflow-summary']}\n`);
    writeFileSync(files.token, token);
    // The private keys are secrets too: none may ever be printed.
    for (const principal of ['producer', 'completed-filter', 'workflow-summary', 'subscriber', 'admin'] as const) {
      secrets.push(readFileSync(info.certs.key(principal), 'utf8').split('\n')[1]!);
    }
    await broker.scramUpsert(
      Object.entries(passwords).flatMap(([name, password]) => [
        { name, password, mechanism: 'SCRAM-SHA-256' as const },
        { name, password, mechanism: 'SCRAM-SHA-512' as const },
      ]),
    );
    const admin = broker.adminClient().admin();
    await admin.connect();
    // `limited`: workflow-summary's grants under its own group, without WRITE on the output topic.
    const limited = processorGrants('limited-summary', 'kubetrail.workflows.summary').map((grant) =>
      grant.name === 'kubetrail.workflows.summary' ? { ...grant, operations: grant.operations.filter((op) => op !== 'WRITE') } : grant,
    );
    await admin.createAcls({ acl: [...Object.entries(serviceGrants).flatMap(([principal, grants]) => aclEntries(principal, grants)), ...aclEntries('limited', limited)] });
    await admin.disconnect();
    proxy = await startRegistryProxy({
      upstream: process.env.SCHEMA_REGISTRY_URL,
      certFile: info.certs.serverCert,
      keyFile: info.certs.serverKey,
      clientCaFile: info.certs.ca,
      username: registryUser,
      password: registryPassword,
    });
  });

  after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await proxy?.close();
    await broker.stop();
    process.stderr.write(`[secured] ${((Date.now() - began) / 1000).toFixed(0)} s including the secured broker's start\n`);
  });

  it('over mTLS: the producer, both processors and subscribe, each with its own certificate, end to end', async () => {
    const run = await runPipeline('mtls', {
      producer: mtlsEnv('producer'),
      completedFilter: mtlsEnv('completed-filter'),
      workflowSummary: mtlsEnv('workflow-summary'),
    });
    assert.deepEqual(await subscribeLatest(run.namespace, run.summaries.length, mtlsEnv('subscriber')), run.expected);
    assert.ok(proxy.stats.forwarded > 0);
  });

  it('over SASL_SSL: SCRAM-SHA-512 and -256, a password file, registry credentials in the URL; subscribe with SCRAM and OAUTHBEARER', async () => {
    const run = await runPipeline('scram', {
      producer: { ...scramEnv('producer', 'SCRAM-SHA-512'), ...credentialsInUrl('producer') },
      completedFilter: scramEnv('completed-filter', 'scram-sha-256'),
      workflowSummary: scramEnv('workflow-summary', 'SCRAM-SHA-512', 'file'),
    });
    assert.deepEqual(await subscribeLatest(run.namespace, run.summaries.length, scramEnv('subscriber', 'scram-sha-256')), run.expected);
    const oauth = { KAFKA_BROKERS: info.saslSslBootstrap, KAFKA_SSL_CA_FILE: info.certs.ca, KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: files.token, ...registryEnv('subscriber') };
    assert.deepEqual(await subscribeLatest(run.namespace, run.summaries.length, oauth), run.expected);
    // The producer logged its configuration: the registry URL without its password.
    const producerLog = readFileSync(join(logsDir, 'scram-producer.log'), 'utf8');
    assert.match(producerLog, /"schemaRegistryUrl":"https:\/\/\*\*\*@127\.0\.0\.1:/);
  });

  it('refuses at start-up, naming the setting (exit 2): a wrong CA, no client certificate, missing credentials, SASL without TLS', async () => {
    const summary = ['subscribe', 'kubetrail.workflows.summary', '--max', '1'];
    const [wrongCa, wrongRegistryCa, noClientCert, noPassword, plaintext, producerWrongCa] = await Promise.all([
      cli(summary, { ...mtlsEnv('subscriber'), KAFKA_SSL_CA_FILE: info.certs.otherCa }),
      cli(summary, { ...mtlsEnv('subscriber'), ...credentialsInUrl('subscriber'), SCHEMA_REGISTRY_CA_FILE: info.certs.otherCa }),
      cli(summary, { ...mtlsEnv('subscriber'), KAFKA_SSL_CERT_FILE: '', KAFKA_SSL_KEY_FILE: '' }),
      cli(summary, { ...scramEnv('subscriber', 'scram-sha-256'), KAFKA_SASL_PASSWORD: '' }),
      cli(summary, { ...scramEnv('subscriber', 'scram-sha-256'), KAFKA_SSL_CA_FILE: '', KAFKA_SSL: 'false' }),
      cli(['produce'], { ...mtlsEnv('producer'), KAFKA_SSL_CA_FILE: info.certs.otherCa, KUBECONFIG: process.env.KUBECONFIG ?? '' }),
    ]);
    const refused = (result: CliResult, pattern: RegExp) => {
      assert.equal(result.code, 2, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stderr, pattern);
    };
    refused(wrongCa, /kafkaSslCaFile: the broker 127\.0\.0\.1:\d+ presented a certificate this client does not trust .*KAFKA_SSL_CA_FILE/);
    refused(producerWrongCa, /kafkaSslCaFile: .*does not trust .*KAFKA_SSL_CA_FILE/);
    refused(wrongRegistryCa, /schemaRegistryCaFile: the Schema Registry 127\.0\.0\.1:\d+ presented a certificate this client does not trust .*SCHEMA_REGISTRY_CA_FILE/);
    refused(noClientCert, /kafkaSslCertFile: the broker .* refused this client's certificate .*KAFKA_SSL_CERT_FILE/);
    refused(noPassword, /kafkaSaslPassword: is required with kafkaSaslMechanism=scram-sha-256 .*KAFKA_SASL_PASSWORD/);
    refused(plaintext, /kafkaSaslMechanism: scram-sha-256 over a connection without TLS .*KAFKA_SASL_ALLOW_PLAINTEXT/);
  });

  it('a wrong SCRAM password fails the first connection with Kafka\'s authentication error', async () => {
    const result = await cli(['subscribe', 'kubetrail.workflows.summary', '--max', '1'], { ...scramEnv('subscriber', 'scram-sha-256'), KAFKA_SASL_PASSWORD: secret('wrong-pw') });
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /SASL SCRAM SHA256 authentication failed/i);
  });

  it('a processor missing one ACL (WRITE on its output) stops with Kafka\'s authorization error within seconds', async () => {
    const started = Date.now();
    const limited = new Service(
      'limited-workflow-summary',
      ['process', 'workflow-summary'],
      { ...scramEnv('limited', 'SCRAM-SHA-512'), KUBETRAIL_GROUP_ID: 'limited-summary' },
      await freePort(),
    );
    services.push(limited);
    const timer = setTimeout(() => limited.child.kill('SIGKILL'), 30_000);
    const code = await limited.exited;
    clearTimeout(timer);
    const seconds = (Date.now() - started) / 1000;
    assert.equal(code, 1, `exit ${code} after ${seconds} s:\n${tailOf(limited.logFile, 10)}`);
    assert.match(limited.output, /Not authorized to access topics: \[Topic authorization failed\]/);
    assert.ok(seconds < 30, `${seconds} s`);
  });

  it('no secret, private key or URL userinfo in any captured log line, command output or /metrics page', () => {
    const texts: Array<{ where: string; text: string }> = [
      ...readdirSync(logsDir).map((name) => ({ where: join(logsDir, name), text: readFileSync(join(logsDir, name), 'utf8') })),
      { where: 'command output', text: captured.join('\n') },
      { where: '/metrics', text: metricsPages.join('\n') },
      { where: info.logFile, text: readFileSync(info.logFile, 'utf8') },
    ];
    assert.ok(texts[0]!.text.length > 0 && captured.length >= 9 && metricsPages.length >= 6, 'something was captured');
    const leaks: string[] = [];
    for (const { where, text } of texts) {
      for (const value of secrets) if (text.includes(value)) leaks.push(`${where}: ${value.slice(0, 24)}…`);
      for (const match of text.matchAll(/[a-z]+:\/\/[^\s/@"]+:[^\s/@"]+@/gi)) leaks.push(`${where}: URL userinfo ${match[0]}`);
    }
    assert.deepEqual(leaks, []);
  });
});
