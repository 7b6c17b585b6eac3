// Embedded schema registry: Apicurio Registry 3.x, spoken to through its Confluent-compatible
// API (/apis/ccompat/v7), with H2 storage in its data directory.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { isComplete, stageCacheEntry, type ServiceDefinition, type StackContext } from './service.js';
import { versions } from './versions.js';
import { findJava, mavenDependencyPlugin, runCommand } from './jvm.js';

/** Apicurio 3.3 is compiled for Java 21 (class file 65); Java 17 fails with UnsupportedClassVersionError. */
const registryMinJava = 21;

/** The jar that starts the application: a Quarkus fast-jar, or the legacy runner jar of 3.0.x. */
function isLauncherJar(name: string): boolean {
  return name === 'quarkus-run.jar' || name.endsWith('-runner.jar');
}

/** <cacheDir>/apicurio-<version>: the unpacked distribution (the archive is deleted). */
export function registryHome(ctx: StackContext): string {
  return path.join(ctx.cacheDir, `apicurio-${versions.apicurio}`);
}

/** Base URL of the Confluent-compatible API, for @kafkajs/confluent-schema-registry. */
export function registryUrl(ctx: StackContext): string {
  return `http://${ctx.host}:${ctx.ports.registry}/apis/ccompat/v7`;
}

/** Finds the launcher jar at the top of the distribution or one directory down. */
async function findLauncherJar(home: string): Promise<string> {
  const top = await readdir(home, { withFileTypes: true });
  for (const entry of top) if (entry.isFile() && isLauncherJar(entry.name)) return path.join(home, entry.name);
  for (const dir of top.filter((entry) => entry.isDirectory())) {
    for (const name of await readdir(path.join(home, dir.name))) {
      if (isLauncherJar(name)) return path.join(home, dir.name, name);
    }
  }
  throw new Error(`no quarkus-run.jar in ${home}`);
}

/** Apicurio publishes a tar.gz from 3.3 on and a zip before; take whichever this version has. */
async function download(dir: string): Promise<string> {
  for (const packaging of ['tar.gz', 'zip']) {
    const artifact = `io.apicurio:apicurio-registry-app:${versions.apicurio}:${packaging}:all`;
    try {
      await runCommand('mvn', [
        '-q',
        '-B',
        `${mavenDependencyPlugin}:copy`,
        `-Dartifact=${artifact}`,
        `-DoutputDirectory=${dir}`,
      ]);
      return path.join(dir, `apicurio-registry-app-${versions.apicurio}-all.${packaging}`);
    } catch (error) {
      if (packaging === 'zip') throw error;
    }
  }
  throw new Error('unreachable');
}

export const registry: ServiceDefinition = {
  name: 'registry',
  startTimeoutMs: 90_000,

  async prepare(ctx) {
    const home = registryHome(ctx);
    if (isComplete(home)) return;

    const started = Date.now();
    ctx.progress(`downloading Apicurio Registry ${versions.apicurio} from Maven Central…`);
    await stageCacheEntry(home, isComplete, async (staging) => {
      const archive = await download(staging);
      if (archive.endsWith('.zip')) {
        // `unzip` is not always installed; every JDK has `jar`.
        await runCommand(path.join(path.dirname(findJava(17)), 'jar'), ['xf', archive], { cwd: staging });
      } else {
        await runCommand('tar', ['xzf', archive, '-C', staging]);
      }
      await rm(archive);
      return path.relative(staging, await findLauncherJar(staging));
    });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    ctx.progress(`Apicurio Registry ${versions.apicurio} downloaded and unpacked in ${seconds}s`);
  },

  async launch(ctx) {
    const launcher = await findLauncherJar(registryHome(ctx));
    const dataDir = ctx.dataDir('registry');
    const settings: Record<string, string | number> = {
      'quarkus.http.host': ctx.host,
      'quarkus.http.port': ctx.ports.registry,
      // Health and metrics live on a separate management interface (build-time enabled, default
      // port 9000). A free port chosen by the OS keeps two stacks, or anything on 9000, apart;
      // readiness is probed on the API itself.
      'quarkus.management.host': ctx.host,
      'quarkus.management.port': 0,
      // SQL storage on an H2 database in a file of the data directory (the default is in
      // memory): a registry restart or kill -9 is an outage, not a loss of every schema id the
      // topics refer to — as with any registry deployed for real (Confluent's keeps its schemas
      // in Kafka).
      'apicurio.storage.kind': 'sql',
      'apicurio.storage.sql.kind': 'h2',
      'apicurio.datasource.url': `jdbc:h2:file:${path.join(dataDir, 'h2', 'registry')}`,
      // Without a rule, Apicurio answers GET /config/{subject} with 200 NONE where Confluent
      // answers 404 (fall back to global); @kafkajs/confluent-schema-registry's register() then
      // throws a compatibility mismatch. A global BACKWARD rule makes both agree, and is the
      // evolution policy kubetrail wants anyway.
      'apicurio.rules.global.compatibility': 'BACKWARD',
      // Nothing reaches out (checked: the process only listens on loopback, no outbound
      // sockets); the OpenTelemetry SDK is off by default, made explicit here. The access log
      // would log every readiness probe.
      'quarkus.otel.sdk.disabled': 'true',
      'quarkus.http.access-log.enabled': 'false',
      'quarkus.banner.enabled': 'false',
      'quarkus.log.console.format': '%d{yyyy-MM-dd HH:mm:ss,SSS} %p [%c{2.}] (%t) %m%n',
    };
    return {
      command: findJava(registryMinJava),
      args: [
        '-Xms64m',
        '-Xmx512m',
        // Startup is what matters for a registry serving a handful of requests: C1 only, and
        // an application class-data archive that the JVM (19+) writes on the first clean exit
        // and maps on later starts (it is recreated by itself when the JDK changes).
        '-XX:TieredStopAtLevel=1',
        `-XX:SharedArchiveFile=${path.join(dataDir, 'registry-cds.jsa')}`,
        '-XX:+AutoCreateSharedArchive',
        '-Xlog:cds=off', // the dump lists every class it skips, as warnings
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        ...Object.entries(settings).map(([key, value]) => `-D${key}=${value}`),
        '-jar',
        launcher,
      ],
      // Anything the registry writes relative to its working directory stays in its data dir.
      cwd: dataDir,
    };
  },

  async ready(ctx) {
    try {
      const response = await fetch(`${registryUrl(ctx)}/subjects`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      return response.status === 200;
    } catch {
      return false;
    }
  },
};

