/**
 * The OpenAPI 3.1 document served at /api/v1/openapi.json. Schemas come from the zod schemas in
 * http/schemas.ts through `z.toJSONSchema` (one source of truth: the tests validate responses with the
 * same zod schemas). Each mounted router contributes its paths through `Mount.openapi`.
 */
import type { Mount } from './context.js';
import { managementOpenApi } from './management-api/openapi.js';
import { componentSchemas } from './http/schemas.js';

export function buildOpenApi(mounts: readonly Mount[]): Record<string, unknown> {
  const paths: Record<string, unknown> = { ...managementOpenApi.paths };
  const schemas: Record<string, unknown> = { ...componentSchemas(), ...managementOpenApi.schemas };
  const tags = [...(managementOpenApi.tags ?? [])];
  for (const m of mounts) {
    if (!m.openapi) continue;
    Object.assign(paths, m.openapi.paths ?? {});
    Object.assign(schemas, m.openapi.schemas ?? {});
    tags.push(...(m.openapi.tags ?? []));
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'suit-server',
      version: '1.0.0',
      description: 'Fleet update server for SUIT-signed firmware. The server never holds a signing key.',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas,
    },
    security: [{ bearer: [] }],
    tags,
    paths,
  };
}
