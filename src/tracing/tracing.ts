import { context, propagation, trace, type Context } from '@opentelemetry/api';
import type { Logger } from '../util/log.ts';

/**
 * OpenTelemetry for the controller: spans of each pod's path, exported by OTLP/HTTP when
 * OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Otherwise nothing is
 * loaded and the API's no-op tracer answers every call: tracing off costs nothing.
 *
 * The SDK reads the standard OTEL_* variables itself (endpoint, headers, OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, sampler); this is the one place they are looked at.
 */
export interface Tracing {
  enabled: boolean;
  /** Flushes what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

export function tracingRequested(env: Readonly<Record<string, string | undefined>>): boolean {
  return (
    Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) &&
    env.OTEL_SDK_DISABLED !== 'true'
  );
}

export async function startTracing(o: {
  env: Readonly<Record<string, string | undefined>>;
  version: string;
  log: Logger;
}): Promise<Tracing> {
  if (!tracingRequested(o.env)) return { enabled: false, shutdown: async () => undefined };
  // Loaded only when asked for: the SDK and exporter are a few MiB of code.
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
    ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': o.env.OTEL_SERVICE_NAME || 'eci-virtual-node',
      'service.version': o.version,
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 1000 })],
  });
  // Registers the global tracer, the W3C trace-context propagator and the AsyncLocalStorage context
  // manager, so a span started around a pod's work is the parent of the ECI calls made inside it.
  provider.register();
  o.log.info(
    { endpoint: o.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || o.env.OTEL_EXPORTER_OTLP_ENDPOINT },
    'tracing: exporting spans by OTLP/HTTP',
  );
  return { enabled: true, shutdown: () => provider.shutdown() };
}

/** The active trace and span id, for log records (pino's mixin); empty outside a span. */
export function traceFields(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const c = span.spanContext();
  return trace.isSpanContextValid(c) ? { trace_id: c.traceId, span_id: c.spanId } : {};
}

/** The W3C traceparent of `ctx`, or undefined when it carries no span. */
export function traceparentOf(ctx: Context): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}

/** The context a W3C traceparent (from a pod annotation) names. */
export function contextFromTraceparent(traceparent: string | undefined): Context {
  if (!traceparent) return context.active();
  return propagation.extract(context.active(), { traceparent });
}
