/** Prometheus metrics, one registry per server instance (tests start many). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServerMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  /** Device polls by outcome (`none`, `update`, `not_modified`). Incremented by device-api. */
  polls: Counter<'outcome'>;
  /** Payload/envelope downloads served (full or range). */
  downloads: Counter<'kind'>;
  downloadBytes: Counter<never>;
  /** Device reports by result. */
  reports: Counter<'result'>;
  /** Rollouts by state; set by rollouts/. */
  rolloutStates: Gauge<'state'>;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequests: new Counter({ name: 'suit_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    httpDuration: new Histogram({ name: 'suit_http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['method', 'route'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5], registers: [registry] }),
    polls: new Counter({ name: 'suit_polls_total', help: 'Device polls by outcome', labelNames: ['outcome'], registers: [registry] }),
    downloads: new Counter({ name: 'suit_downloads_total', help: 'Downloads served', labelNames: ['kind'], registers: [registry] }),
    downloadBytes: new Counter({ name: 'suit_download_bytes_total', help: 'Bytes served to devices', registers: [registry] }),
    reports: new Counter({ name: 'suit_reports_total', help: 'Device reports by result', labelNames: ['result'], registers: [registry] }),
    rolloutStates: new Gauge({ name: 'suit_rollouts', help: 'Rollouts by state', labelNames: ['state'], registers: [registry] }),
  };
}
