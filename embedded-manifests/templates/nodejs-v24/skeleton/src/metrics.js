'use strict';
// Prometheus metrics, scraped by the platform's collector (the pod's prometheus.io annotations):
// Node's default process metrics plus request duration and count. Labels use the route template,
// never the raw path, so their cardinality stays low. Every series carries the service's
// resource attributes (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) as labels, and the request
// metrics the request's trace id as an OpenMetrics exemplar: a graph links to its traces.
const client = require('prom-client');

const register = new client.Registry();
register.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);

/** `service.namespace=payments,…` → `{ service_namespace: 'payments', … }` (Prometheus names). */
function resourceLabels(env = process.env) {
  const labels = {};
  for (const pair of (env.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) labels[pair.slice(0, at).trim().replace(/[^a-zA-Z0-9_]/g, '_')] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  labels.service_name = env.OTEL_SERVICE_NAME || '${{ values.name }}';
  return labels;
}
register.setDefaultLabels(resourceLabels());
client.collectDefaultMetrics({ register });

const labelNames = ['method', 'route', 'status_code'];
const duration = new client.Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request duration in seconds',
  labelNames,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  enableExemplars: true,
  registers: [register],
});
const requests = new client.Counter({
  name: 'http_requests_total',
  help: 'HTTP requests served',
  labelNames,
  enableExemplars: true,
  registers: [register],
});

/** Count and time one finished request; `trace` is its span context, when it has one. */
function record(labels, seconds, trace) {
  const exemplarLabels = trace ? { trace_id: trace.traceId, span_id: trace.spanId } : undefined;
  duration.observe({ labels, value: seconds, exemplarLabels });
  requests.inc({ labels, value: 1, exemplarLabels });
}

module.exports = { register, record, resourceLabels };
