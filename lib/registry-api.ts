// The few Confluent Schema Registry REST calls the tools need that the registry client
// (@kafkajs/confluent-schema-registry) does not answer plainly: is a schema registered under a
// subject, what is a subject's latest version, is a schema compatible with it. Works with
// Confluent's registry and with Apicurio's ccompat API; basic auth when a username is set, and over
// https the same CA and client certificate as the registry client (lib/secure-connection.ts).
import { request as httpRequest, type Agent } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ConnectionConfig } from './config.js';
import { registryAgent, resolveSecurity } from './secure-connection.js';

export class RegistryError extends Error {
  override name = 'RegistryError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export type CompatibilityResult =
  | { status: 'new' }
  | { status: 'compatible'; latestVersion: number }
  | { status: 'incompatible'; latestVersion: number; reasons: string[]; latestSchema: string };

interface LatestVersion {
  id: number;
  version: number;
  schema: string;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

type RegistrySettings = Pick<
  ConnectionConfig,
  'schemaRegistryUrl' | 'schemaRegistryUsername' | 'schemaRegistryPassword' | 'schemaRegistryPasswordFile' | 'schemaRegistryCaFile' | 'schemaRegistryCertFile' | 'schemaRegistryKeyFile'
>;

export class RegistryApi {
  /** The URL without userinfo: the only form that appears in messages. */
  private readonly base: string;
  private readonly authorization: string | undefined;
  private readonly agent: Agent | undefined;

  constructor(
    connection: RegistrySettings,
    private readonly timeoutMs = 15_000,
  ) {
    // Only the registry's settings matter here; Kafka's are given placeholders that check clean.
    const security = resolveSecurity({ kafkaBrokers: ['unused:9092'], kafkaClientId: 'kubetrail', kafkaSaslAllowPlaintext: false, ...connection });
    this.base = security.registry.url.replace(/\/+$/, '');
    const auth = security.registry.auth;
    this.authorization = auth ? `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` : undefined;
    this.agent = registryAgent(security);
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const headers: Record<string, string> = { accept: CONTENT_TYPE };
    if (body !== undefined) headers['content-type'] = CONTENT_TYPE;
    if (this.authorization) headers.authorization = this.authorization;
    let answer: { status: number; text: string };
    try {
      answer = await this.send(method, `${this.base}${path}`, headers, body === undefined ? undefined : JSON.stringify(body));
    } catch (error) {
      throw new RegistryError(`Schema Registry ${this.base} did not answer ${method} ${path}: ${(error as Error).message}`);
    }
    const { status, text } = answer;
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      json = { message: text.slice(0, 500) };
    }
    return { status, json };
  }

  /** One request with node:http(s), so the https agent (CA, client certificate) applies. */
  private send(method: string, url: string, headers: Record<string, string>, body: string | undefined): Promise<{ status: number; text: string }> {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    return new Promise((resolveSend, reject) => {
      const req = request(url, { method, headers, agent: this.agent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolveSend({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  private fail(what: string, status: number, json: Record<string, unknown>): never {
    const message = typeof json.message === 'string' ? json.message : JSON.stringify(json).slice(0, 300);
    const hint = status === 401 || status === 403 ? ' (check SCHEMA_REGISTRY_USERNAME / SCHEMA_REGISTRY_PASSWORD)' : '';
    throw new RegistryError(`${what}: HTTP ${status}: ${message}${hint}`, status);
  }

  /** The latest version of a subject, or undefined when the subject does not exist. */
  async latest(subject: string): Promise<LatestVersion | undefined> {
    const { status, json } = await this.call('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
    if (status === 404) return undefined;
    if (status !== 200) this.fail(`reading the latest version of '${subject}'`, status, json);
    return { id: Number(json.id), version: Number(json.version), schema: String(json.schema) };
  }

  /** The schema ids of every version of a subject (none when it does not exist). */
  async versionIds(subject: string): Promise<number[]> {
    const { status, json } = await this.call('GET', `/subjects/${encodeURIComponent(subject)}/versions`);
    if (status === 404) return [];
    if (status !== 200) this.fail(`listing the versions of '${subject}'`, status, json);
    const versions = Array.isArray(json) ? (json as unknown[]) : [];
    const ids: number[] = [];
    for (const version of versions) {
      const answer = await this.call('GET', `/subjects/${encodeURIComponent(subject)}/versions/${encodeURIComponent(String(version))}`);
      if (answer.status === 200 && Number.isInteger(Number(answer.json.id))) ids.push(Number(answer.json.id));
    }
    return ids;
  }

  /** The id of this exact schema under the subject, or undefined when it is not registered there. */
  async lookup(subject: string, schema: string): Promise<number | undefined> {
    const { status, json } = await this.call('POST', `/subjects/${encodeURIComponent(subject)}`, { schema });
    if (status === 404) return undefined;
    if (status !== 200) this.fail(`looking up the schema of '${subject}'`, status, json);
    return Number(json.id);
  }

  /**
   * Whether the registry would accept this schema as the next version of the subject, under the
   * subject's compatibility rule. A subject that does not exist yet is 'new' (asked first: some
   * registries answer "compatible" for a subject they do not have).
   */
  async compatibility(subject: string, schema: string): Promise<CompatibilityResult> {
    const latest = await this.latest(subject);
    if (!latest) return { status: 'new' };
    const { status, json } = await this.call('POST', `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`, { schema });
    if (status === 404) return { status: 'new' };
    if (status !== 200) this.fail(`checking '${subject}'`, status, json);
    if (json.is_compatible === true) return { status: 'compatible', latestVersion: latest.version };
    const reasons = Array.isArray(json.messages) ? json.messages.map(String) : [];
    return { status: 'incompatible', latestVersion: latest.version, reasons, latestSchema: latest.schema };
  }
}
