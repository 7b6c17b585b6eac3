// How kubetrail patches kafkajs (pinned to exactly 2.2.4 in package.json): each patch replaces
// methods of one of kafkajs' internal classes, once per process, and fails at start-up, naming
// itself, if that kafkajs has no such method. kafkaClient() (client.ts) installs them all.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** kafkajs' internal classes that are patched, by their module. */
const modules = {
  Broker: 'kafkajs/src/broker/index.js',
  Cluster: 'kafkajs/src/cluster/index.js',
  RequestQueue: 'kafkajs/src/network/requestQueue/index.js',
} as const;

export type KafkajsClass = keyof typeof modules;

// kafkajs' internals are untyped: a patch says what it uses of `this` and of the arguments.
export type KafkajsMethod = (this: any, ...args: any[]) => any;

/**
 * Replaces each of `methods` of kafkajs' `cls` with `wrap(original, method)`. `patch` is the
 * patching module's file name under lib/kafka/: it names the patch in the error when a method is
 * missing, and marks the class, so a second call does nothing.
 */
export function patchKafkajs(patch: string, cls: KafkajsClass, methods: readonly string[], wrap: (original: KafkajsMethod, method: string) => KafkajsMethod): void {
  const proto = (require(modules[cls]) as { prototype: Record<string | symbol, unknown> }).prototype;
  const marker = Symbol.for(`kubetrail.kafkajs.${patch}`);
  if (proto[marker]) return;
  const originals = methods.map((method) => {
    const original = proto[method];
    if (typeof original !== 'function') throw new Error(`kafkajs internals changed: ${cls}#${method} not found (lib/kafka/${patch}.ts needs kafkajs 2.2.4)`);
    return original as KafkajsMethod;
  });
  methods.forEach((method, i) => {
    proto[method] = wrap(originals[i]!, method);
  });
  proto[marker] = true;
}
