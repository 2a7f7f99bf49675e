/**
 * The release description: the human-written input of `suit-sign create` (JSON or YAML).
 * docs/release-description.md documents every field with a complete example.
 *
 * Parsed with zod into a typed value; every error names the field (`components[0].image: ...`) and
 * is thrown as RELEASE_DESCRIPTION_INVALID. File references are resolved later by create.ts.
 */
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { UpdateError, VERSION_CMP } from '../manifest/index.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// RFC 1035 host name with at least one dot; lower/upper case letters, digits, hyphens.
const DOMAIN_RE = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/i;
const HEX_RE = /^[0-9a-f]*$/i;
const VERSION_RE = /^\d+(\.\d+){0,2}(-(rc|beta|alpha)(\.\d+)*)?$/;
const VERSION_MATCH_RE = /^(>=|<=|==|>|<)\s*(.+)$/;

const uuidString = z.string().regex(UUID_RE, 'must be a UUID like 6ba7b810-9dad-11d1-80b4-00c04fd430c8');
const hexDigest = z.string().regex(HEX_RE, 'must be hex').refine((s) => s.length > 0 && s.length % 2 === 0, 'must be an even number of hex digits');
const uint = z.number().int('must be an integer').nonnegative('must not be negative');
const versionString = z.string().regex(VERSION_RE, 'must look like 1.2.3 or 1.2.3-rc.1 (SUIT version: up to three release numbers, optional rc/beta/alpha)');
const versionMatch = z.string().regex(VERSION_MATCH_RE, 'must be a comparison like ">=1.2" or "<2.0.0"').refine(
  (s) => VERSION_RE.test((VERSION_MATCH_RE.exec(s)?.[2] ?? '').trim()),
  'the version after the operator must look like 1.2.3',
);

const vendorSchema = z.union([
  z.strictObject({ domain: z.string().regex(DOMAIN_RE, 'must be a domain name like acme.example'), name: z.string().min(1).optional() }),
  z.strictObject({ uuid: uuidString, name: z.string().min(1).optional(), domain: z.undefined().optional() }),
], { error: 'must be { domain: "acme.example" } or { uuid: "…" } (optionally with name)' });

const classSchema = z.union([
  z.strictObject({ info: z.string().min(1, 'must not be empty'), name: z.string().min(1).optional() }),
  z.strictObject({ uuid: uuidString, name: z.string().min(1).optional() }),
], { error: 'must be { info: "model-and-hw-revision" } or { uuid: "…" } (optionally with name)' });

const digestSchema = z.strictObject({
  alg: z.enum(['sha-256', 'sha-384', 'sha-512']).default('sha-256'),
  hex: hexDigest,
});

const precursorSchema = z
  .strictObject({
    image: z.string().min(1).optional(),
    digest: digestSchema.optional(),
    size: uint.optional(),
    uri: z.string().min(1, 'must not be empty'),
  })
  .refine((p) => (p.image === undefined) !== (p.digest === undefined), 'give exactly one of image (a file to hash) or digest')
  .refine((p) => p.digest === undefined || p.size !== undefined, 'size is required with digest');

const deltaSchema = z.union([
  z.strictObject({
    encoding: z.string().min(1).default('sdlt-1'),
    precursors: z.array(precursorSchema).min(1, 'list at least one precursor (or use anyPrecursor: true)'),
  }),
  z.strictObject({
    encoding: z.string().min(1).default('sdlt-1'),
    anyPrecursor: z.literal(true),
    uri: z.string().min(1).optional(),
  }),
], { error: 'must be { precursors: [...] } or { anyPrecursor: true }' });

const componentIdPart = z.string().refine((s) => !s.startsWith('0x') || (HEX_RE.test(s.slice(2)) && s.length % 2 === 0), 'a 0x… part must be an even number of hex digits');

const componentSchema = z
  .strictObject({
    id: z.array(componentIdPart).min(1, 'must have at least one part, e.g. ["0x00"]'),
    image: z.string().min(1).optional(),
    digest: digestSchema.optional(),
    size: uint.optional(),
    uri: z.string().min(1, 'must not be empty').optional(),
    slot: uint.optional(),
    vendor: vendorSchema.optional(),
    class: classSchema.optional(),
    description: z.string().optional(),
    version: versionString.optional(),
    requiresVersion: z.array(versionMatch).optional(),
    invoke: z.boolean().default(false),
    delta: deltaSchema.optional(),
  })
  .refine((c) => (c.image === undefined) !== (c.digest === undefined), 'give exactly one of image (a file to hash) or digest')
  .refine((c) => c.digest === undefined || c.size !== undefined, 'size is required with digest');

export const releaseDescriptionSchema = z.strictObject({
  vendor: vendorSchema,
  class: classSchema,
  sequenceNumber: z.union([uint, z.string().regex(/^\d+$/, 'must be a non-negative integer')], { error: 'must be a non-negative integer' }),
  referenceUri: z.string().min(1).optional(),
  version: versionString.optional(),
  digestAlgorithm: z.enum(['sha-256', 'sha-384', 'sha-512']).default('sha-256'),
  text: z
    .strictObject({
      language: z.string().regex(/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/, 'must be a language tag like en or en-US').default('en'),
      manifestDescription: z.string().optional(),
      updateDescription: z.string().optional(),
    })
    .optional(),
  sever: z.array(z.enum(['text', 'install'])).default(['text']),
  components: z.array(componentSchema).min(1, 'list at least one component'),
});

export type ReleaseDescription = z.infer<typeof releaseDescriptionSchema>;
export type ReleaseComponent = ReleaseDescription['components'][number];
export type DeltaPolicy = NonNullable<ReleaseComponent['delta']>;

/** `components[0].image` from a zod path. */
export function fieldName(path: readonly PropertyKey[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? String(p) : `.${String(p)}`;
  return s === '' ? '(top level)' : s;
}

/** Validate an already-parsed value. `source` names the file in messages. */
export function parseReleaseDescription(value: unknown, source = 'release description'): ReleaseDescription {
  const r = releaseDescriptionSchema.safeParse(value);
  if (r.success) {
    if (typeof r.data.sequenceNumber === 'string' && BigInt(r.data.sequenceNumber) > 0xffff_ffff_ffff_ffffn) {
      throw invalid(source, [{ field: 'sequenceNumber', message: 'must fit in 64 bits' }]);
    }
    return r.data;
  }
  const problems = r.error.issues.map((i) => ({ field: fieldName(i.path), message: i.message }));
  throw invalid(source, problems);
}

export function invalid(source: string, problems: { field: string; message: string }[]): UpdateError {
  const lines = problems.map((p) => `${p.field}: ${p.message}`);
  return new UpdateError('RELEASE_DESCRIPTION_INVALID', `${source}: ${lines.join('; ')}`, { details: { problems } });
}

/** Parse JSON or YAML text (YAML is a superset; JSON is tried first for exact error positions). */
export function parseReleaseText(text: string, source = 'release description'): ReleaseDescription {
  let value: unknown;
  try {
    value = /^\s*[{[]/.test(text) ? JSON.parse(text) : parseYaml(text, { prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    throw new UpdateError('RELEASE_DESCRIPTION_INVALID', `${source}: not valid JSON/YAML: ${(e as Error).message}`, { cause: e });
  }
  return parseReleaseDescription(value, source);
}

const PRE = { rc: -1, beta: -2, alpha: -3 } as const;

/** "1.2.3-rc.1" → [1, 2, 3, -1, 1] (draft-ietf-suit-update-management §"version"). */
export function parseSuitVersion(v: string): number[] {
  const m = /^(\d+(?:\.\d+){0,2})(?:-(rc|beta|alpha)((?:\.\d+)*))?$/.exec(v);
  if (!m) throw new UpdateError('RELEASE_DESCRIPTION_INVALID', `version "${v}" is not a SUIT version`);
  const out = m[1]!.split('.').map(Number);
  if (m[2]) {
    out.push(PRE[m[2] as keyof typeof PRE]);
    for (const n of (m[3] ?? '').split('.').filter(Boolean)) out.push(Number(n));
  }
  return out;
}

const CMP: Record<string, number> = {
  '>': VERSION_CMP.GREATER,
  '>=': VERSION_CMP.GREATER_EQUAL,
  '==': VERSION_CMP.EQUAL,
  '<=': VERSION_CMP.LESSER_EQUAL,
  '<': VERSION_CMP.LESSER,
};

/** ">=1.2" → { cmp: 2, version: [1, 2] }. */
export function parseVersionMatch(s: string): { cmp: number; version: number[] } {
  const m = VERSION_MATCH_RE.exec(s);
  if (!m) throw new UpdateError('RELEASE_DESCRIPTION_INVALID', `"${s}" is not a version comparison`);
  return { cmp: CMP[m[1]!]!, version: parseSuitVersion(m[2]!.trim()) };
}

/** Component id part: "0x00" → bytes 00, anything else → its UTF-8 bytes. */
export function componentIdPartBytes(s: string): Uint8Array {
  return s.startsWith('0x') ? Uint8Array.from(Buffer.from(s.slice(2), 'hex')) : new TextEncoder().encode(s);
}

export function isUuidString(s: string): boolean {
  return UUID_RE.test(s);
}
