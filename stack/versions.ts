// Every pinned version of the embedded local stack, in one place.
// Go modules of the Kubernetes API server are pinned by stack/kube-apiserver/go.mod (and go.sum).
export const versions = {
  /** org.apache.kafka:kafka_2.13, resolved with its runtime dependencies from Maven Central. */
  kafka: '4.3.1',
  scala: '2.13',
  /** org.apache.logging.log4j:log4j-slf4j2-impl: Kafka's pom brings no logging binding. */
  log4j: '2.26.1',
  /** io.apicurio:apicurio-registry-app, classifier `all` (a Quarkus fast-jar). */
  apicurio: '3.3.3',
} as const;
