// A second, secured Kafka for the security tests (test/integration/secured.test.ts): one KRaft
// node from the same jars as the embedded stack's broker, in a directory of its own, on its own
// ports, never touching the shared stack. Everything is authenticated and authorized:
//
//   CONTROLLER  SSL, client certificate required (the broker's own)        controller quorum
//   SSL         SSL, client certificate required (mTLS)                    clients, inter-broker
//   SASL_SSL    TLS + SASL SCRAM-SHA-256 / SCRAM-SHA-512 / OAUTHBEARER      clients
//
// A private CA, the broker's certificate (SAN 127.0.0.1, localhost) and one client certificate per
// principal are made with openssl at the first start and cached in <dir>/certs. Certificate
// principals are mapped to their CN (CN=producer → User:producer), so a service's ACLs are the same
// whether it connects with its certificate or its SCRAM user. StandardAuthorizer denies what no
// ACL allows; the broker and `admin` are super users. SCRAM users are created through the admin
// API (AlterUserScramCredentials, sent by scramUpsert below: kafkajs has no call for it), ACLs
// through kafkajs' createAcls — both by the caller, as admin over mTLS. OAUTHBEARER uses Kafka's
// unsecured-JWT validator (tokens signed with "alg":"none"): enough to test the client's token
// file, not a model of a real identity provider.
//
// The broker's data are new at every start (formatted again), the certificates are kept.
import { execFile } from 'node:child_process';
import { createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { brokerLog4j2, brokerServes, jvmCommand, kafka as kafkaService, singleNodeSettings } from './kafka.js';
import { cacheDirectory, type StackContext } from './service.js';
import { runCommand } from './jvm.js';
import { freePort, isOurProcess, sleep, spawnDetached, stopProcess, tailOf } from './processes.js';

const run = promisify(execFile);

/** Principals with a client certificate (CN = the name). */
export const certificatePrincipals = ['admin', 'producer', 'completed-filter', 'workflow-summary', 'subscriber', 'limited'] as const;
export type CertificatePrincipal = (typeof certificatePrincipals)[number];

/** Bumped when the certificates must be made again (subjects, extensions). */
const CERTS_VERSION = '1';

export interface SecuredKafkaPorts {
  controller: number;
  ssl: number;
  saslSsl: number;
}

export interface SecuredKafkaInfo {
  dir: string;
  ports: SecuredKafkaPorts;
  /** host:port of the mTLS listener and of the SASL_SSL one. */
  sslBootstrap: string;
  saslSslBootstrap: string;
  certs: {
    /** The private CA (PEM). */
    ca: string;
    /** A CA that signed nothing here: for "wrong CA" tests. */
    otherCa: string;
    /** The broker's certificate and key (SAN 127.0.0.1, localhost): also what a test's TLS server may use. */
    serverCert: string;
    serverKey: string;
    cert(principal: CertificatePrincipal): string;
    key(principal: CertificatePrincipal): string;
  };
  /** TLS options of the admin super user over mTLS. */
  adminTls: ConnectionOptions;
  logFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd, timeout: 60_000 });
}

/** A private CA, the broker's certificate and one client certificate per principal, made once. */
async function ensureCertificates(dir: string): Promise<void> {
  const stamp = join(dir, 'version');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === CERTS_VERSION) return;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const ca = async (name: string, cn: string) =>
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '3650', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  await ca('ca', 'kubetrail test CA');
  await ca('other-ca', 'kubetrail unrelated CA');
  const leaf = async (name: string, extensions: string) => {
    writeFileSync(join(dir, `${name}.ext`), extensions);
    await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '3650', '-extfile', `${name}.ext`], dir);
    rmSync(join(dir, `${name}.csr`));
    rmSync(join(dir, `${name}.ext`));
  };
  // The broker is a server (listeners) and a client (to the controller, inter-broker).
  await leaf('broker', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n');
  for (const principal of certificatePrincipals) await leaf(principal, 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  // Kafka's PEM key store: the private key and the certificate chain in one file.
  writeFileSync(join(dir, 'broker-keystore.pem'), readFileSync(join(dir, 'broker.key'), 'utf8') + readFileSync(join(dir, 'broker.crt'), 'utf8'));
  writeFileSync(stamp, CERTS_VERSION);
}

function serverProperties(dir: string, certs: string, ports: SecuredKafkaPorts): string {
  const host = '127.0.0.1';
  const settings: Array<[string, string | number]> = [
    ['process.roles', 'broker,controller'],
    ['node.id', 1],
    ['controller.quorum.voters', `1@${host}:${ports.controller}`],
    ['listeners', `CONTROLLER://${host}:${ports.controller},SSL://${host}:${ports.ssl},SASL_SSL://${host}:${ports.saslSsl}`],
    ['advertised.listeners', `SSL://${host}:${ports.ssl},SASL_SSL://${host}:${ports.saslSsl}`],
    ['listener.security.protocol.map', 'CONTROLLER:SSL,SSL:SSL,SASL_SSL:SASL_SSL'],
    ['controller.listener.names', 'CONTROLLER'],
    ['inter.broker.listener.name', 'SSL'],
    ['log.dirs', join(dir, 'data')],
    // TLS everywhere, PEM files (Kafka reads them as key and trust stores).
    ['ssl.keystore.type', 'PEM'],
    ['ssl.keystore.location', join(certs, 'broker-keystore.pem')],
    ['ssl.truststore.type', 'PEM'],
    ['ssl.truststore.location', join(certs, 'ca.crt')],
    ['ssl.client.auth', 'required'],
    ['listener.name.sasl_ssl.ssl.client.auth', 'none'],
    ['ssl.endpoint.identification.algorithm', 'https'],
    // CN=producer → User:producer: one ACL set for a service's certificate and its SCRAM user.
    ['ssl.principal.mapping.rules', 'RULE:^CN=(.*)$/$1/,DEFAULT'],
    ['sasl.enabled.mechanisms', 'SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER'],
    ['listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config', 'org.apache.kafka.common.security.scram.ScramLoginModule required;'],
    ['listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config', 'org.apache.kafka.common.security.scram.ScramLoginModule required;'],
    ['listener.name.sasl_ssl.oauthbearer.sasl.jaas.config', 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;'],
    // Authorization: nothing is allowed that no ACL allows.
    ['authorizer.class.name', 'org.apache.kafka.metadata.authorizer.StandardAuthorizer'],
    ['super.users', 'User:broker;User:admin'],
    ['allow.everyone.if.no.acl.found', 'false'],
    // One node: as the embedded stack's broker.
    ...singleNodeSettings,
    ['group.initial.rebalance.delay.ms', 0],
    ['auto.create.topics.enable', 'false'],
  ];
  return ['# Written by kubetrail (stack/secured-kafka.ts) at every start.', ...settings.map(([k, v]) => `${k}=${v}`), ''].join('\n');
}

/** A KRaft cluster id: a base64url UUID not starting with '-'. */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export class SecuredKafka {
  readonly dir: string;
  private pid: number | undefined;
  private info: SecuredKafkaInfo | undefined;

  constructor(
    dir: string,
    private readonly cacheDir = cacheDirectory(),
  ) {
    this.dir = dir;
  }

  private context(ports: SecuredKafkaPorts): StackContext {
    return {
      root: this.dir,
      cacheDir: this.cacheDir,
      stackDir: this.dir,
      dataDir: () => this.dir,
      // Only the cache directory matters to the jar resolution and jvmCommand.
      ports: { kafka: ports.ssl, kafkaController: ports.controller, registry: 0, kubeapi: 0, etcdClient: 0, etcdPeer: 0 },
      host: '127.0.0.1',
      progress: (message) => process.stderr.write(`[secured-kafka] ${message}\n`),
    };
  }

  /** Makes the certificates (once), formats fresh storage, starts the broker and waits until it serves the admin. */
  async start(timeoutMs = 60_000): Promise<SecuredKafkaInfo> {
    const certs = join(this.dir, 'certs');
    // A broker left running by a run that was killed: stopped before its data are deleted.
    const pidFile = join(this.dir, 'pid');
    if (existsSync(pidFile)) await stopProcess(Number(readFileSync(pidFile, 'utf8')), this.dir, 10_000);
    await ensureCertificates(certs);
    const ports: SecuredKafkaPorts = { controller: await freePort(), ssl: await freePort(), saslSsl: await freePort() };
    const ctx = this.context(ports);
    await kafkaService.prepare(ctx);
    rmSync(join(this.dir, 'data'), { recursive: true, force: true });
    const logFile = join(this.dir, 'logs', 'server.log');
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    const properties = join(this.dir, 'server.properties');
    const log4j = join(this.dir, 'log4j2.xml');
    writeFileSync(properties, serverProperties(this.dir, certs, ports));
    writeFileSync(log4j, brokerLog4j2(logFile));
    const log4jOption = `-Dlog4j2.configurationFile=${log4j}`;
    const format = jvmCommand(ctx, ['-Xmx192m', '-XX:TieredStopAtLevel=1', log4jOption], 'kafka.tools.StorageTool', ['format', '--config', properties, '--cluster-id', clusterId()]);
    await runCommand(format.command, format.args, { timeoutMs: 60_000 });
    const spec = jvmCommand(ctx, ['-Xms128m', '-Xmx384m', '-XX:+UseG1GC', '-XX:+ExitOnOutOfMemoryError', '-Djava.awt.headless=true', log4jOption], 'kafka.Kafka', [properties]);
    const console = join(this.dir, 'logs', 'console.log');
    this.pid = spawnDetached(spec, console);
    writeFileSync(pidFile, String(this.pid));
    const file = (name: string) => join(certs, name);
    this.info = {
      dir: this.dir,
      ports,
      sslBootstrap: `127.0.0.1:${ports.ssl}`,
      saslSslBootstrap: `127.0.0.1:${ports.saslSsl}`,
      certs: {
        ca: file('ca.crt'),
        otherCa: file('other-ca.crt'),
        serverCert: file('broker.crt'),
        serverKey: file('broker.key'),
        cert: (p) => file(`${p}.crt`),
        key: (p) => file(`${p}.key`),
      },
      adminTls: { ca: readFileSync(file('ca.crt'), 'utf8'), cert: readFileSync(file('admin.crt'), 'utf8'), key: readFileSync(file('admin.key'), 'utf8') },
      logFile,
    };
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!isOurProcess(this.pid, this.dir)) throw new Error(`the secured Kafka exited during start-up:\n${tailOf(console)}\n${tailOf(logFile)}`);
      if (await this.ready()) return this.info;
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`the secured Kafka was not ready after ${timeoutMs / 1000}s:\n${tailOf(logFile)}`);
      }
      await sleep(250);
    }
  }

  /** A kafkajs client of the admin super user, over mTLS. */
  adminClient(): Kafka {
    const info = this.info!;
    return new Kafka({
      clientId: 'kubetrail-secured-admin',
      brokers: [info.sslBootstrap],
      ssl: info.adminTls,
      connectionTimeout: 2_000,
      requestTimeout: 5_000,
      retry: { retries: 2 },
      logLevel: logLevel.NOTHING,
    });
  }

  private ready(): Promise<boolean> {
    return brokerServes(this.adminClient());
  }

  /** SCRAM credentials created or replaced through the admin API, as admin over mTLS. */
  async scramUpsert(users: Array<{ name: string; password: string; mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512' }>): Promise<void> {
    const info = this.info!;
    // Kafka refuses a request that names a user twice (INVALID_REQUEST): one request per mechanism.
    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
      const batch = users.filter((u) => u.mechanism === mechanism);
      if (batch.length > 0) await scramUpsert('127.0.0.1', info.ports.ssl, info.adminTls, batch);
    }
  }

  async stop(): Promise<void> {
    if (this.pid) await stopProcess(this.pid, this.dir, 10_000);
    this.pid = undefined;
    rmSync(join(this.dir, 'pid'), { force: true });
  }
}

// ---- AlterUserScramCredentials (API key 51), v0: the first flexible version ---------------------

const uvarint = (value: number): Buffer => {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
};
const compactBytes = (value: Buffer) => Buffer.concat([uvarint(value.length + 1), value]);
const compactString = (value: string) => compactBytes(Buffer.from(value, 'utf8'));
const int8 = (v: number) => Buffer.from([v]);
const int16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(v);
  return b;
};
const int32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const noTags = uvarint(0);

/** The SCRAM SaltedPassword (RFC 5802 Hi()) that the broker stores keys from. */
export function saltedPassword(password: string, salt: Buffer, iterations: number, mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512'): Buffer {
  const digest = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
  return pbkdf2Sync(password, salt, iterations, createHash(digest).digest().length, digest);
}

async function scramUpsert(host: string, port: number, tls: ConnectionOptions, users: Array<{ name: string; password: string; mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512' }>): Promise<void> {
  const iterations = 4096;
  const upsertions = users.map((user) => {
    const salt = randomBytes(24);
    return Buffer.concat([
      compactString(user.name),
      int8(user.mechanism === 'SCRAM-SHA-256' ? 1 : 2),
      int32(iterations),
      compactBytes(salt),
      compactBytes(saltedPassword(user.password, salt, iterations, user.mechanism)),
      noTags,
    ]);
  });
  const clientId = Buffer.from('kubetrail-secured-admin');
  const header = Buffer.concat([int16(51), int16(0), int32(1), int16(clientId.length), clientId, noTags]);
  const body = Buffer.concat([uvarint(1) /* no deletions */, uvarint(upsertions.length + 1), ...upsertions, noTags]);
  const request = Buffer.concat([int32(header.length + body.length), header, body]);

  const response = await new Promise<Buffer>((resolve, reject) => {
    const socket = tlsConnect({ host, port, ...tls });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('AlterUserScramCredentials: no answer in 10 s'));
    }, 10_000);
    socket.once('secureConnect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      if (all.length >= 4 && all.length >= 4 + all.readInt32BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(all.subarray(4, 4 + all.readInt32BE(0)));
      }
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });

  // Response header v1: correlation id, tags; body: throttle, results[user, error code, message, tags], tags.
  let at = 4;
  const readUvarint = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = response[at++]!;
      value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7;
    }
  };
  const skipTags = () => {
    const count = readUvarint();
    for (let i = 0; i < count; i++) {
      readUvarint();
      at += readUvarint();
    }
  };
  const readCompactString = () => {
    const length = readUvarint() - 1;
    if (length < 0) return null;
    const value = response.toString('utf8', at, at + length);
    at += length;
    return value;
  };
  skipTags();
  at += 4; // throttle time
  const results = readUvarint() - 1;
  const failures: string[] = [];
  for (let i = 0; i < results; i++) {
    const user = readCompactString();
    const code = response.readInt16BE(at);
    at += 2;
    const message = readCompactString();
    skipTags();
    if (code !== 0) failures.push(`${user}: error ${code}${message ? ` (${message})` : ''}`);
  }
  if (failures.length > 0) throw new Error(`AlterUserScramCredentials failed: ${failures.join('; ')}`);
}
