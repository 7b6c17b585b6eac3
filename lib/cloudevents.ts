// CloudEvents 1.0 for everything kubetrail writes, in one place: the attributes of a raw change
// event and of a processor's output, and their two bindings — Kafka headers in binary mode
// (ce_<attribute>, content-type) on every record the producer and the processors write, and HTTP
// headers in binary mode (ce-<attribute>, content-type) for sinks. A consumer that speaks
// CloudEvents (Knative's KafkaSource, Argo Events, the CloudEvents SDKs) reads kubetrail's
// records as events without decoding the value. See docs/sinks.md.
import type { ResourceEvent } from './raw-event.js';

export const CLOUDEVENTS_SPEC_VERSION = '1.0';

export interface CloudEventAttributes {
  /** The change's event id (ResourceEvent.id): the same in every topic the change reaches. */
  id: string;
  /** /kubetrail/<cluster>/<resource>[.<group>]. */
  source: string;
  /** io.kubetrail.resource.<operation> for raw events; the output's declared type otherwise. */
  type: string;
  /** RFC 3339: when the producer saw the change. */
  time: string;
  /** <namespace>/<name>, or <name> for a cluster-scoped object. */
  subject: string;
  /** The value's media type: Avro in the Confluent wire format, naming its registry subject. */
  datacontenttype: string;
}

/** The header a record's datacontenttype travels in (the binding's name, not ce_datacontenttype). */
export const CONTENT_TYPE_HEADER = 'content-type';

/** The Kafka binding's header names, attribute → header. */
const kafkaHeaderNames = {
  id: 'ce_id',
  source: 'ce_source',
  type: 'ce_type',
  time: 'ce_time',
  subject: 'ce_subject',
  datacontenttype: CONTENT_TYPE_HEADER,
} as const satisfies Record<keyof CloudEventAttributes, string>;

/** Every header the Kafka binding sets (ce_specversion included). */
export const CLOUDEVENT_KAFKA_HEADERS: ReadonlySet<string> = new Set(['ce_specversion', ...Object.values(kafkaHeaderNames)]);

/** Avro values in the Confluent wire format of a registry subject (`<topic>-value`). */
export function avroContentType(topic: string): string {
  return `application/avro; subject=${topic}-value`;
}

export function cloudEventSource(cluster: string, group: string, resource: string): string {
  return `/kubetrail/${encodeURIComponent(cluster)}/${group ? `${resource}.${group}` : resource}`;
}

/** The attributes of a raw change event written to `topic`. */
export function resourceEventAttributes(event: ResourceEvent, topic: string): CloudEventAttributes {
  return {
    id: event.id,
    source: cloudEventSource(event.source.cluster, event.resource.group, event.resource.resource),
    type: `io.kubetrail.resource.${event.operation.toLowerCase()}`,
    time: new Date(event.source.observedAt).toISOString(),
    subject: event.namespace ? `${event.namespace}/${event.name}` : event.name,
    datacontenttype: avroContentType(topic),
  };
}

/** The Kafka binary-mode headers of an event. */
export function cloudEventKafkaHeaders(attributes: CloudEventAttributes): Record<string, string> {
  const headers: Record<string, string> = { ce_specversion: CLOUDEVENTS_SPEC_VERSION };
  for (const [attribute, header] of Object.entries(kafkaHeaderNames)) {
    const value = attributes[attribute as keyof CloudEventAttributes];
    // Optional attributes, when present, must not be empty (a cluster-scoped object has a subject; a keyless record may not).
    if (value !== '') headers[header] = value;
  }
  return headers;
}

/** The HTTP binary-mode headers of an event (the body is the data). */
export function cloudEventHttpHeaders(attributes: CloudEventAttributes, datacontenttype = attributes.datacontenttype): Record<string, string> {
  return {
    'ce-specversion': CLOUDEVENTS_SPEC_VERSION,
    'ce-id': attributes.id,
    'ce-source': attributes.source,
    'ce-type': attributes.type,
    'ce-time': attributes.time,
    'ce-subject': attributes.subject,
    'content-type': datacontenttype,
  };
}

/** The attributes a record's headers carry (text headers), or undefined when it carries no ce_id. */
export function readCloudEventKafkaHeaders(headers: Record<string, string>): (Partial<CloudEventAttributes> & { specversion?: string }) | undefined {
  if (headers.ce_id === undefined) return undefined;
  const attributes: Partial<CloudEventAttributes> & { specversion?: string } = { specversion: headers.ce_specversion };
  for (const [attribute, header] of Object.entries(kafkaHeaderNames)) {
    const value = headers[header];
    if (value !== undefined) attributes[attribute as keyof CloudEventAttributes] = value;
  }
  return attributes;
}

/** How a processor's output records are typed: compiled once per output at start-up. */
export interface OutputEventType {
  type: string;
  datacontenttype: string;
}

export function outputEventType(processor: string, output: string, topic: string, declaredType?: string): OutputEventType {
  return { type: declaredType ?? `io.kubetrail.${processor}.${output}`, datacontenttype: avroContentType(topic) };
}

/**
 * The headers of a processor's output: the change it came from (the input's id, source, time and
 * subject, so the event id follows the change through every topic) under the output's own type
 * and content type. An input without CloudEvents headers (written before they existed) falls
 * back to its kubetrail-id header, its position, its timestamp and its key.
 */
export function outputKafkaHeaders(
  output: OutputEventType,
  input: { headers: Record<string, string>; topic: string; partition: number; offset: string; timestamp: number; key: string | null },
  processor: string,
): Record<string, string> {
  const h = input.headers;
  return cloudEventKafkaHeaders({
    id: h.ce_id ?? h['kubetrail-id'] ?? `${input.topic}/${input.partition}/${input.offset}`,
    source: h.ce_source ?? `/kubetrail/processor/${processor}`,
    type: output.type,
    time: h.ce_time ?? new Date(input.timestamp).toISOString(),
    subject: h.ce_subject ?? input.key ?? '',
    datacontenttype: output.datacontenttype,
  });
}
