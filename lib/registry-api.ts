// The few Confluent Schema Registry REST calls the tools need that the registry client
// (@kafkajs/confluent-schema-registry) does not answer plainly: is a schema registered under a
// subject, what is a subject's latest version, is a schema compatible with it. Works with
// Confluent's registry and with Apicurio's ccompat API; basic auth when a username is set.
import type { ConnectionConfig } from './config.js';

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

export class RegistryApi {
  private readonly base: string;
  private readonly authorization: string | undefined;

  constructor(
    connection: Pick<ConnectionConfig, 'schemaRegistryUrl' | 'schemaRegistryUsername' | 'schemaRegistryPassword'>,
    private readonly timeoutMs = 15_000,
  ) {
    this.base = connection.schemaRegistryUrl.replace(/\/+$/, '');
    this.authorization =
      connection.schemaRegistryUsername !== undefined
        ? `Basic ${Buffer.from(`${connection.schemaRegistryUsername}:${connection.schemaRegistryPassword ?? ''}`).toString('base64')}`
        : undefined;
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const headers: Record<string, string> = { accept: CONTENT_TYPE };
    if (body !== undefined) headers['content-type'] = CONTENT_TYPE;
    if (this.authorization) headers.authorization = this.authorization;
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new RegistryError(`Schema Registry ${this.base} did not answer ${method} ${path}: ${(error as Error).message}`);
    }
    const text = await response.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      json = { message: text.slice(0, 500) };
    }
    return { status: response.status, json };
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
