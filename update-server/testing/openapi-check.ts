/**
 * Validates a supertest response against the served OpenAPI document: the status must be documented
 * for that path and method, and a JSON body must satisfy the referenced component schema (checked with
 * the zod schema the component was generated from: one source of truth).
 */
import { expect } from 'vitest';
import { getSchema } from '../http/schemas.js';

interface Res { status: number; body: unknown; headers: Record<string, string> }

export function makeChecker(doc: Record<string, any>) {
  return function check(res: Res, method: string, path: string): void {
    const op = doc['paths']?.[path]?.[method.toLowerCase()];
    expect(op, `${method} ${path} is documented`).toBeTruthy();
    const r = op.responses?.[String(res.status)];
    expect(r, `${method} ${path} documents status ${res.status} (body ${JSON.stringify(res.body)})`).toBeTruthy();
    const refName: string | undefined = r.content?.['application/json']?.schema?.$ref?.split('/').pop();
    if (!refName) return;
    expect(String(res.headers['content-type'] ?? '')).toMatch(/application\/json/);
    expect(doc['components']?.schemas?.[refName], `component ${refName} exists`).toBeTruthy();
    const schema = getSchema(refName);
    expect(schema, `zod schema ${refName}`).toBeTruthy();
    const parsed = schema!.safeParse(res.body);
    if (!parsed.success) throw new Error(`${method} ${path} ${res.status}: body does not match ${refName}: ${parsed.error.message}\n${JSON.stringify(res.body)}`);
  };
}

/** Validates a JSON request body against the operation's documented requestBody schema. */
export function makeRequestChecker(doc: Record<string, any>) {
  return function checkRequest(method: string, path: string, body: unknown): void {
    const op = doc['paths']?.[path]?.[method.toLowerCase()];
    expect(op, `${method} ${path} is documented`).toBeTruthy();
    const refName: string | undefined = op.requestBody?.content?.['application/json']?.schema?.$ref?.split('/').pop();
    expect(refName, `${method} ${path} documents a JSON request body`).toBeTruthy();
    const parsed = getSchema(refName!)!.safeParse(body);
    if (!parsed.success) throw new Error(`${method} ${path}: request does not match ${refName}: ${parsed.error.message}`);
  };
}
