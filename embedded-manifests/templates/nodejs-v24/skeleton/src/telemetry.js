'use strict';
// OpenTelemetry, loaded before the service (`node --require ./src/telemetry.js`, as `npm start` and
// the Dockerfile do): every installed library is auto-instrumented (HTTP server and client,
// winston, …), so requests get spans and log records carry trace_id/span_id without code.
// Exporting follows the standard OTEL_* variables; with no collector configured, spans are kept
// for log correlation but not exported. Metrics are served by prom-client at /metrics.
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { getNodeAutoInstrumentations } = require('@opentelemetry/auto-instrumentations-node');

const env = process.env;
env.OTEL_SERVICE_NAME ??= '${{ values.name }}';
env.OTEL_METRICS_EXPORTER ??= 'none';
env.OTEL_LOGS_EXPORTER ??= 'none';
const exporting = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_TRACES_EXPORTER);
// No exporter: a span processor that keeps nothing, so spans (and their ids in the logs) still
// exist and nothing is sent anywhere.
const keepNothing = { onStart() {}, onEnd() {}, forceFlush: async () => {}, shutdown: async () => {} };

new NodeSDK({
  // fs spans are noise for an HTTP service.
  instrumentations: [getNodeAutoInstrumentations({ '@opentelemetry/instrumentation-fs': { enabled: false } })],
  ...(exporting ? {} : { spanProcessors: [keepNothing] }),
}).start();
