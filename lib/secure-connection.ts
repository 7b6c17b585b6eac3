// Secured connections to Kafka and the Schema Registry, from the connection settings: TLS material
// (CA, client certificate and key), credentials (SASL, basic auth) and the checks that make a
// wrong or missing one a start-up error naming the setting (exit 2) rather than a retry loop.
//
//  - connectionProblems(): what the settings alone say is wrong (missing credentials, SASL without
//    TLS, unreadable or mismatched files). resolveConfig runs it for every service and command.
//  - kafkaTls() / registryEndpoint(): the material the clients use, read from the files.
//  - preflight(): at start-up, one TLS handshake (and for Kafka one ApiVersions round trip, which
//    is where a broker refuses a missing client certificate) to a broker and to the registry, so an
//    untrusted certificate, a wrong server name or a refused client certificate is a ConfigError.
import { readFileSync } from 'node:fs';
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type ConnectionOptions } from 'node:tls';
import { Agent as HttpsAgent } from 'node:https';
import { ConfigError, connectionEnv, type ConnectionConfig } from './config.js';
import { rememberSecret } from './redact.js';

type Key = keyof ConnectionConfig & string;
export interface SettingProblem {
  key: string;
  message: string;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** How a connection setting is given: its flag, environment variable and config-file key. */
export function howToSet(key: string): string {
  const env = (connectionEnv as Record<string, string>)[key];
  return [`--${kebab(key)}`, env, `'${key}' in the config file`].filter(Boolean).join(', ');
}

/** A ConfigError in resolveConfig's format: one line per setting, with how to set it. */
export function settingError(problems: SettingProblem[]): ConfigError {
  const lines = problems.map(({ key, message }) => `  ${key}: ${message} (set with ${howToSet(key)})`);
  return new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

/** TLS to the brokers: kafkaSsl, or, when it is unset, any TLS file or the server name given. */
export function kafkaTlsEnabled(c: ConnectionConfig): boolean {
  return c.kafkaSsl ?? [c.kafkaSslCaFile, c.kafkaSslCertFile, c.kafkaSslKeyFile, c.kafkaSslServername].some((v) => v !== undefined);
}

interface TlsKeys {
  ca: Key;
  cert: Key;
  key: Key;
}
const kafkaTlsKeys: TlsKeys = { ca: 'kafkaSslCaFile', cert: 'kafkaSslCertFile', key: 'kafkaSslKeyFile' };
const registryTlsKeys: TlsKeys = { ca: 'schemaRegistryCaFile', cert: 'schemaRegistryCertFile', key: 'schemaRegistryKeyFile' };

function readSetting(c: ConnectionConfig, key: Key, problems: SettingProblem[]): string | undefined {
  const path = c[key] as string | undefined;
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    problems.push({ key, message: `cannot read ${path}: ${code ?? message}` });
    return undefined;
  }
}

interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

/** Reads and checks a CA / certificate / key triple; problems name the setting at fault. */
function tlsMaterial(c: ConnectionConfig, keys: TlsKeys, problems: SettingProblem[]): TlsMaterial {
  const before = problems.length;
  if (c[keys.cert] !== undefined && c[keys.key] === undefined) problems.push({ key: keys.key, message: `is required with ${keys.cert} (the client certificate's private key)` });
  if (c[keys.key] !== undefined && c[keys.cert] === undefined) problems.push({ key: keys.cert, message: `is required with ${keys.key} (the certificate of that key)` });
  const ca = readSetting(c, keys.ca, problems);
  const cert = readSetting(c, keys.cert, problems);
  const key = readSetting(c, keys.key, problems);
  if (ca !== undefined) {
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) problems.push({ key: keys.ca, message: `${c[keys.ca] as string} holds no PEM certificate` });
    else {
      try {
        createSecureContext({ ca });
      } catch (error) {
        problems.push({ key: keys.ca, message: `${c[keys.ca] as string} is not a usable CA file: ${(error as Error).message}` });
      }
    }
  }
  if (cert !== undefined && key !== undefined && problems.length === before) {
    if (!cert.includes('-----BEGIN CERTIFICATE-----')) problems.push({ key: keys.cert, message: `${c[keys.cert] as string} holds no PEM certificate` });
    else if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) problems.push({ key: keys.key, message: `${c[keys.key] as string} holds no PEM private key` });
    else {
      try {
        createSecureContext({ cert, key });
      } catch (error) {
        const message = (error as Error).message;
        problems.push(
          /mismatch/i.test(message)
            ? { key: keys.key, message: `${c[keys.key] as string} is not the private key of ${keys.cert} (${c[keys.cert] as string})` }
            : { key: keys.cert, message: `${c[keys.cert] as string} with ${keys.key}: ${message}` },
        );
      }
    }
  }
  return { ca, cert, key };
}

/** A secret from its setting or its *File setting (trailing newlines dropped), remembered for redaction. */
function secret(c: ConnectionConfig, valueKey: Key, fileKey: Key, problems: SettingProblem[]): string | undefined {
  const value = c[valueKey] as string | undefined;
  if (value !== undefined && c[fileKey] !== undefined) {
    problems.push({ key: fileKey, message: `and ${valueKey} are both set: give the secret one way` });
    return undefined;
  }
  const read = value ?? readSetting(c, fileKey, problems)?.replace(/[\r\n]+$/, '');
  if (read === '') problems.push({ key: fileKey, message: `${c[fileKey] as string} is empty` });
  rememberSecret(read);
  return read || undefined;
}

/** Username and password embedded in a URL (decoded), and the URL without them. */
export function splitUserinfo(url: string): { url: string; username?: string; password?: string } {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#@]*)@/i.exec(url);
  if (!match) return { url };
  const [user, ...rest] = match[2]!.split(':');
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const password = rest.length > 0 ? decode(rest.join(':')) : undefined;
  rememberSecret(password);
  return { url: match[1]! + url.slice(match[0].length), username: user ? decode(user) : undefined, password };
}

export interface ResolvedSecurity {
  kafka: {
    tls: ConnectionOptions | undefined;
    sasl:
      | { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string }
      | { mechanism: 'oauthbearer'; tokenFile: string }
      | undefined;
  };
  registry: {
    /** The registry URL without userinfo: the only form any client or message gets. */
    url: string;
    auth: { username: string; password: string } | undefined;
    tls: TlsMaterial | undefined;
  };
}

function resolve(c: ConnectionConfig, problems: SettingProblem[]): ResolvedSecurity {
  // Kafka TLS.
  const tlsOn = kafkaTlsEnabled(c);
  const tlsSettings = (['kafkaSslCaFile', 'kafkaSslCertFile', 'kafkaSslKeyFile', 'kafkaSslServername'] as const).filter((k) => c[k] !== undefined);
  if (c.kafkaSsl === false && tlsSettings.length > 0) {
    problems.push({ key: 'kafkaSsl', message: `is false, but ${tlsSettings.join(', ')} ${tlsSettings.length > 1 ? 'are' : 'is'} set: leave kafkaSsl unset or true to connect with TLS` });
  }
  const material = tlsMaterial(c, kafkaTlsKeys, problems);
  const tls: ConnectionOptions | undefined = tlsOn
    ? {
        ...(material.ca !== undefined ? { ca: material.ca } : {}),
        ...(material.cert !== undefined ? { cert: material.cert, key: material.key } : {}),
        ...(c.kafkaSslServername !== undefined ? { servername: c.kafkaSslServername } : {}),
        rejectUnauthorized: true,
      }
    : undefined;

  // Kafka SASL.
  let sasl: ResolvedSecurity['kafka']['sasl'];
  const mechanism = c.kafkaSaslMechanism;
  if (mechanism === undefined) {
    const stray = (['kafkaSaslUsername', 'kafkaSaslPassword', 'kafkaSaslPasswordFile', 'kafkaSaslOauthbearerTokenFile'] as const).filter((k) => c[k] !== undefined);
    if (stray.length > 0) problems.push({ key: 'kafkaSaslMechanism', message: `is required with ${stray.join(', ')} (plain, scram-sha-256, scram-sha-512 or oauthbearer)` });
  } else {
    if (!tlsOn && !c.kafkaSaslAllowPlaintext) {
      problems.push({
        key: 'kafkaSaslMechanism',
        message:
          `${mechanism} over a connection without TLS would send the credentials (and every record) in clear: turn TLS on (kafkaSsl), ` +
          `or, on a trusted network only, set kafkaSaslAllowPlaintext to true (${howToSet('kafkaSaslAllowPlaintext')})`,
      });
    }
    if (mechanism === 'oauthbearer') {
      if (c.kafkaSaslOauthbearerTokenFile === undefined) problems.push({ key: 'kafkaSaslOauthbearerTokenFile', message: 'is required with kafkaSaslMechanism=oauthbearer' });
      else {
        const token = readSetting(c, 'kafkaSaslOauthbearerTokenFile', problems)?.trim();
        if (token === '') problems.push({ key: 'kafkaSaslOauthbearerTokenFile', message: `${c.kafkaSaslOauthbearerTokenFile} is empty` });
        rememberSecret(token);
        sasl = { mechanism, tokenFile: c.kafkaSaslOauthbearerTokenFile };
      }
    } else {
      if (c.kafkaSaslUsername === undefined) problems.push({ key: 'kafkaSaslUsername', message: `is required with kafkaSaslMechanism=${mechanism}` });
      const password = secret(c, 'kafkaSaslPassword', 'kafkaSaslPasswordFile', problems);
      if (password === undefined && c.kafkaSaslPassword === undefined && c.kafkaSaslPasswordFile === undefined) {
        problems.push({ key: 'kafkaSaslPassword', message: `is required with kafkaSaslMechanism=${mechanism} (or kafkaSaslPasswordFile)` });
      }
      if (c.kafkaSaslUsername !== undefined && password !== undefined) sasl = { mechanism, username: c.kafkaSaslUsername, password };
    }
  }

  // Schema Registry.
  const split = splitUserinfo(c.schemaRegistryUrl);
  const https = /^https:\/\//i.test(split.url);
  const registryTlsSettings = (['schemaRegistryCaFile', 'schemaRegistryCertFile', 'schemaRegistryKeyFile'] as const).filter((k) => c[k] !== undefined);
  if (!https && registryTlsSettings.length > 0) {
    problems.push({ key: 'schemaRegistryUrl', message: `is not an https:// URL, but ${registryTlsSettings.join(', ')} ${registryTlsSettings.length > 1 ? 'are' : 'is'} set` });
  }
  const registryMaterial = tlsMaterial(c, registryTlsKeys, problems);
  let password = secret(c, 'schemaRegistryPassword', 'schemaRegistryPasswordFile', problems);
  let username = c.schemaRegistryUsername;
  if (split.username !== undefined || split.password !== undefined) {
    if (username !== undefined || password !== undefined) {
      problems.push({ key: 'schemaRegistryUrl', message: 'carries a user and password, and schemaRegistryUsername/Password are set too: give the credentials one way' });
    }
    username = split.username;
    password = split.password;
  }
  if (username !== undefined && password === undefined && c.schemaRegistryPasswordFile === undefined) {
    problems.push({ key: 'schemaRegistryPassword', message: 'is required with schemaRegistryUsername (or schemaRegistryPasswordFile)' });
  }
  if (username === undefined && password !== undefined) problems.push({ key: 'schemaRegistryUsername', message: 'is required with schemaRegistryPassword' });
  const auth = username !== undefined && password !== undefined ? { username, password } : undefined;
  const registryTls = https && registryTlsSettings.length > 0 ? registryMaterial : undefined;

  return { kafka: { tls, sasl }, registry: { url: split.url, auth, tls: registryTls } };
}

/** What is wrong with the connection settings (empty when nothing is). Reads the files they name. */
export function connectionProblems(c: ConnectionConfig): SettingProblem[] {
  const problems: SettingProblem[] = [];
  resolve(c, problems);
  return problems;
}

/** The TLS material and credentials to connect with; a ConfigError naming the setting when they are wrong. */
export function resolveSecurity(c: ConnectionConfig): ResolvedSecurity {
  const problems: SettingProblem[] = [];
  const resolved = resolve(c, problems);
  if (problems.length > 0) throw settingError(problems);
  return resolved;
}

/**
 * The https agent of the registry clients: the registry's CA and client certificate, and TLS errors
 * that name the setting fixing them. Undefined for an http:// registry.
 */
export function registryAgent(security: ResolvedSecurity): HttpsAgent | undefined {
  if (!/^https:\/\//i.test(security.registry.url)) return undefined;
  const tls = security.registry.tls ?? {};
  const agent = new HttpsAgent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key });
  // Node's Agent#createConnection exists at run time but is not in its type.
  const withCreate = agent as unknown as { createConnection: (options: { host?: string; port?: number }, callback?: unknown) => Socket };
  const create = withCreate.createConnection.bind(agent);
  withCreate.createConnection = (options, callback) => {
    const socket = create(options, callback);
    socket.on('error', (error: NodeJS.ErrnoException) => annotateTlsError(error, 'registry', `${options.host ?? ''}:${options.port ?? 443}`));
    return socket;
  };
  return agent;
}

// ---- TLS failures, explained --------------------------------------------------------------------

/** OpenSSL's verification codes (Node's error.code) that mean "the server's certificate is not trusted". */
const untrustedCodes = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

export type TlsPeer = 'kafka' | 'registry';

/**
 * For a TLS error, the setting that fixes it and a sentence saying so; undefined for errors that
 * are not about certificates (refused, reset, timeouts: a server that is down or starting).
 */
export function explainTlsError(error: NodeJS.ErrnoException, peer: TlsPeer, address: string): SettingProblem | undefined {
  const code = error.code ?? '';
  // OpenSSL's errors carry a short reason ('sslv3 alert bad certificate') beside a long message.
  const message = (error as { reason?: string }).reason ?? error.message.split('\n')[0]!;
  const keys = peer === 'kafka' ? { ...kafkaTlsKeys, name: 'kafkaSslServername' } : { ...registryTlsKeys, name: 'schemaRegistryUrl' };
  const what = peer === 'kafka' ? `the broker ${address}` : `the Schema Registry ${address}`;
  if (untrustedCodes.has(code)) {
    return { key: keys.ca, message: `${what} presented a certificate this client does not trust (${message}): name the CA that signed it` };
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /Hostname\/IP does not match/i.test(message)) {
    return { key: keys.name, message: `${what} presented a certificate for another name (${message})` };
  }
  if (/alert (certificate required|bad certificate|unknown ca|certificate unknown|handshake failure)/i.test(message) || /CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA/.test(code)) {
    return { key: keys.cert, message: `${what} refused this client's certificate (${message}): it needs a client certificate (and key) it trusts` };
  }
  if (/wrong version number|packet length too long|unexpected eof while reading/i.test(message)) {
    return {
      key: peer === 'kafka' ? 'kafkaSsl' : 'schemaRegistryUrl',
      message: `${what} does not speak TLS on that port (${message})`,
    };
  }
  return undefined;
}

/** Adds the setting to a TLS error's message (kafkajs and the registry client log and rethrow it). */
export function annotateTlsError(error: NodeJS.ErrnoException, peer: TlsPeer, address: string): void {
  const problem = explainTlsError(error, peer, address);
  if (problem && !error.message.includes(problem.key)) error.message = `${error.message} [check ${problem.key}: ${howToSet(problem.key)}]`;
}

// ---- start-up check ------------------------------------------------------------------------------

/** A Kafka ApiVersions v0 request: answered before any authentication, so it proves the TLS session is accepted. */
function apiVersionsRequest(): Buffer {
  const clientId = Buffer.from('kubetrail-preflight');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  body.writeInt16BE(18, 0); // ApiVersions
  body.writeInt16BE(0, 2);
  body.writeInt32BE(1, 4);
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

type Probe = { ok: true } | { ok: false; error: NodeJS.ErrnoException };

function probeTls(host: string, port: number, options: ConnectionOptions, kafkaRoundTrip: boolean, timeoutMs: number): Promise<Probe> {
  return new Promise((resolveProbe) => {
    let settled = false;
    const socket = tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...options });
    const finish = (result: Probe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolveProbe(result);
    };
    const timer = setTimeout(() => finish({ ok: false, error: Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }) }), timeoutMs);
    socket.once('error', (error) => finish({ ok: false, error }));
    socket.once('secureConnect', () => {
      if (!kafkaRoundTrip) return finish({ ok: true });
      socket.write(apiVersionsRequest());
      socket.once('data', () => finish({ ok: true }));
      socket.once('end', () => finish({ ok: false, error: Object.assign(new Error('the broker closed the connection after the TLS handshake'), { code: 'ECONNRESET' }) }));
    });
  });
}

/**
 * At start-up: one TLS handshake with the first bootstrap broker that answers (plus an ApiVersions
 * round trip) and with the registry, when they use TLS. A certificate problem is a ConfigError
 * naming the setting; a server that does not answer is left to the clients' own retries.
 */
export async function preflight(c: ConnectionConfig, timeoutMs = 5_000): Promise<void> {
  const security = resolveSecurity(c);
  const problems: SettingProblem[] = [];
  if (security.kafka.tls) {
    for (const broker of c.kafkaBrokers) {
      const at = broker.lastIndexOf(':');
      const probe = await probeTls(broker.slice(0, at), Number(broker.slice(at + 1)), security.kafka.tls, true, timeoutMs);
      if (probe.ok) break;
      const problem = explainTlsError(probe.error, 'kafka', broker);
      if (problem) {
        problems.push(problem);
        break;
      }
    }
  }
  if (security.registry.tls || /^https:\/\//i.test(security.registry.url)) {
    const url = new URL(security.registry.url);
    const tls = security.registry.tls ?? {};
    const probe = await probeTls(url.hostname, Number(url.port || 443), { ...tls, rejectUnauthorized: true }, false, timeoutMs);
    if (!probe.ok) {
      const problem = explainTlsError(probe.error, 'registry', url.host);
      if (problem) problems.push(problem);
    }
  }
  if (problems.length > 0) throw settingError(problems);
}
