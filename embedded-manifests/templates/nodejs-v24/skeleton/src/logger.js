'use strict';
// JSON logs on stdout. OpenTelemetry's winston instrumentation adds trace_id, span_id and
// trace_flags to every record written while a span is active (inside a request).
const { createLogger, format, transports } = require('winston');

const logger = createLogger({
  level: process.env.LOG_LEVEL || 'info',
  format: format.combine(format.timestamp(), format.json()),
  defaultMeta: { service: process.env.OTEL_SERVICE_NAME || '${{ values.name }}' },
  transports: [new transports.Console()],
});

module.exports = { logger };
