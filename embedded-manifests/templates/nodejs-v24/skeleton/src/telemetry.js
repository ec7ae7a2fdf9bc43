'use strict';
// OpenTelemetry, loaded before the service (`node --require ./src/telemetry.js`, as `npm start` and
// the Dockerfile do): every installed library is auto-instrumented (HTTP server and client,
// winston, …), so requests get spans and log records carry trace_id/span_id without code.
// Exporting follows the standard OTEL_* variables. With an OTLP endpoint (deploy/ sets the
// platform's collector) traces and logs go there (winston's records through
// @opentelemetry/winston-transport, and to stdout as well); metrics never do: the collector
// scrapes /metrics (prom-client), so nothing is counted twice. With no endpoint, spans are kept
// for log correlation and nothing is sent anywhere.
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { getNodeAutoInstrumentations } = require('@opentelemetry/auto-instrumentations-node');

const env = process.env;
env.OTEL_SERVICE_NAME ??= '${{ values.name }}';
env.OTEL_METRICS_EXPORTER = 'none';
const exporting = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_TRACES_EXPORTER);
env.OTEL_LOGS_EXPORTER ??= exporting ? 'otlp' : 'none';
// No exporter: a span processor that keeps nothing, so spans (and their ids in the logs) still
// exist and nothing is sent anywhere.
const keepNothing = { onStart() {}, onEnd() {}, forceFlush: async () => {}, shutdown: async () => {} };

new NodeSDK({
  // fs spans are noise for an HTTP service.
  instrumentations: [getNodeAutoInstrumentations({ '@opentelemetry/instrumentation-fs': { enabled: false } })],
  ...(exporting ? {} : { spanProcessors: [keepNothing] }),
}).start();

// The SDK registers its logger provider with @opentelemetry/api (1.10 carries the logs API);
// @opentelemetry/winston-transport still asks the older @opentelemetry/api-logs, whose global is
// separate. Give it the same provider, or winston's records would reach no exporter.
require('@opentelemetry/api-logs').logs.setGlobalLoggerProvider(require('@opentelemetry/api').logs.getLoggerProvider());
