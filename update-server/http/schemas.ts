/**
 * Response and request schemas (zod 4). The OpenAPI document's components are generated from these
 * (`z.toJSONSchema`), and the API tests validate every response body with the same objects.
 */
import { z } from 'zod';

export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string() }).strict(),
}).strict();

/** name → schema; every entry becomes `#/components/schemas/<name>`. Routers add theirs via registerSchemas. */
const registry = new Map<string, z.ZodType>([['Error', ErrorBody]]);

export function registerSchemas(entries: Record<string, z.ZodType>): void {
  for (const [k, v] of Object.entries(entries)) registry.set(k, v);
}

export function getSchema(name: string): z.ZodType | undefined {
  return registry.get(name);
}

export function componentSchemas(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of registry) out[k] = z.toJSONSchema(v, { target: 'draft-2020-12', unrepresentable: 'any', io: 'output' });
  return out;
}

export const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });
