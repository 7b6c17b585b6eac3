// Every pinned version of the embedded local stack, in one place.
// The Kubernetes API server is not here: stack/kube-apiserver/go.mod (and go.sum) pin it, since the
// go command reads them: k8s.io/kubernetes v1.37.2 (the real kube-apiserver, a minor version that
// @kubernetes/client-node 2.x supports), each k8s.io/* staging module replaced by its v0.37.2 (the
// kubernetes module requires them at v0.0.0 and replaces them with its own ./staging, which a
// dependent module cannot see), and the embedded etcd at the v3.7.x of that line.
export const versions = {
  /** org.apache.kafka:kafka_2.13, resolved with its runtime dependencies from Maven Central. */
  kafka: '4.3.1',
  scala: '2.13',
  /**
   * org.apache.logging.log4j:log4j-slf4j-impl (+ log4j-core): Kafka's pom brings no logging binding.
   * Kafka 4.3.1 declares slf4j-api 1.7.36, so the binding is the slf4j 1.x one (as in Kafka's own
   * distribution); log4j-slf4j2-impl is invisible to slf4j 1.7 and the broker logged nothing.
   */
  log4j: '2.26.1',
  /**
   * io.apicurio:apicurio-registry-app, classifier `all` (a Quarkus fast-jar, a tar.gz from 3.3 on).
   * 3.3.3 is compiled for Java 21: stack/registry.ts picks a JDK 21+ (e.g. /usr/lib/jvm/temurin-25)
   * even where the default `java` is 17. Without any JDK 21, 3.0.9 (a zip with a legacy runner jar)
   * is the version known to run on Java 17, with the same ccompat behaviour.
   */
  apicurio: '3.3.3',
} as const;
