/** OpenAPI 3.1 paths of /api/v1 (schemas: management-api/schemas.ts through http/schemas.ts). */
import type { OpenApiFragment } from '../context.js';
import { ref } from '../http/schemas.js';

type Resp = Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
const json = (name: string) => ({ 'application/json': { schema: ref(name) } });
const ok = (status: number, name: string | null, description = 'OK'): Resp =>
  ({ [String(status)]: name === null ? { description } : { description, content: json(name) } });
const errors = (...codes: number[]): Resp => Object.fromEntries(codes.map((c) => [String(c), { description: 'Error', content: json('Error') }]));
const p = (name: string, description = ''): unknown => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
const q = (name: string, type = 'string'): unknown => ({ name, in: 'query', required: false, schema: { type } });
const body = (name: string, type = 'application/json'): unknown => ({ required: true, content: { [type]: { schema: ref(name) } } });
const op = (tag: string, summary: string, responses: Resp, extra: Record<string, unknown> = {}) => ({ tags: [tag], summary, responses: { ...responses, ...errors(401, 429) }, ...extra });
const paging = [q('after'), q('limit', 'integer')];

export const managementOpenApi: OpenApiFragment = {
  tags: [
    { name: 'admin', description: 'Tenants, tokens, trust anchors, audit' },
    { name: 'payloads' }, { name: 'releases' }, { name: 'devices' }, { name: 'groups' }, { name: 'reports' },
  ],
  paths: {
    '/healthz': { get: { tags: ['ops'], summary: 'Liveness', security: [], responses: ok(200, 'Health') } },
    '/readyz': { get: { tags: ['ops'], summary: 'Readiness (state and object stores reachable)', security: [], responses: { ...ok(200, 'Health'), ...errors(503) } } },
    '/metrics': { get: { tags: ['ops'], summary: 'Prometheus metrics', security: [], responses: { 200: { description: 'text/plain exposition' } } } },
    '/api/v1/openapi.json': { get: { tags: ['ops'], summary: 'This document', security: [], responses: { 200: { description: 'OpenAPI 3.1' } } } },
    '/api/v1/tenants': {
      get: op('admin', 'List tenants (a tenant token sees its own)', ok(200, 'TenantList')),
      post: op('admin', 'Create a tenant (admin)', { ...ok(201, 'Tenant'), ...errors(400, 403, 409) }, { requestBody: body('CreateTenantReq') }),
    },
    '/api/v1/tokens': {
      get: op('admin', 'List tokens (admin)', { ...ok(200, 'TokenList'), ...errors(403) }),
      post: op('admin', 'Issue a token; the secret is returned once (admin)', { ...ok(201, 'IssuedToken'), ...errors(400, 403, 404) }, { requestBody: body('CreateTokenReq') }),
    },
    '/api/v1/tokens/{id}': { delete: op('admin', 'Revoke a token', { ...ok(204, null, 'Revoked'), ...errors(403, 404, 409) }, { parameters: [p('id')] }) },
    '/api/v1/anchors': { get: op('admin', 'Trust anchors of every vendor', ok(200, 'AnchorSetList')) },
    '/api/v1/anchors/{vendorId}': { get: op('admin', 'A vendor\'s keys and k-of-n policy', { ...ok(200, 'AnchorSet'), ...errors(404) }, { parameters: [p('vendorId')] }) },
    '/api/v1/anchors/{vendorId}/keys': {
      post: op('admin', 'Add a vendor public key (PEM or COSE_Key hex)', { ...ok(201, 'Anchor'), ...ok(200, 'Anchor', 'Already present'), ...errors(400, 403, 409) }, { parameters: [p('vendorId')], requestBody: body('AddAnchorReq') }),
    },
    '/api/v1/anchors/{vendorId}/keys/{kid}': { delete: op('admin', 'Revoke a vendor key', { ...ok(204, null, 'Revoked'), ...errors(403, 404) }, { parameters: [p('vendorId'), p('kid')] }) },
    '/api/v1/anchors/{vendorId}/policy': { put: op('admin', 'Set the signature threshold k', { ...ok(200, 'AnchorSet'), ...errors(400, 403) }, { parameters: [p('vendorId')], requestBody: body('PolicyReq') }) },
    '/api/v1/audit': { get: op('admin', 'Page through the hash-chained audit log', { ...ok(200, 'AuditPage'), ...errors(400) }, { parameters: paging }) },
    '/api/v1/payloads': { get: op('payloads', 'List payloads', ok(200, 'PayloadPage'), { parameters: paging }) },
    '/api/v1/payloads/{sha256}': {
      get: op('payloads', 'A payload\'s record', { ...ok(200, 'Payload'), ...errors(400, 404) }, { parameters: [p('sha256')] }),
      put: op('payloads', 'Upload a payload (streamed; digest checked before it is visible; idempotent; resumable with Content-Range)', {
        ...ok(201, 'Payload', 'Stored'), ...ok(200, 'Payload', 'Already stored'), ...ok(202, 'UploadStatus', 'Chunk accepted, more expected'),
        ...errors(400, 403, 409, 413, 415, 422),
      }, {
        parameters: [p('sha256'), { name: 'Content-Range', in: 'header', required: false, schema: { type: 'string' } }],
        requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
      }),
    },
    '/api/v1/payloads/{sha256}/upload': {
      get: op('payloads', 'Resumable upload status', { ...ok(200, 'UploadStatus'), ...errors(404) }, { parameters: [p('sha256')] }),
      delete: op('payloads', 'Abort a resumable upload', ok(204, null, 'Aborted'), { parameters: [p('sha256')] }),
    },
    '/api/v1/payloads/{sha256}/content': { get: op('payloads', 'Download (Range supported)', { 200: { description: 'bytes' }, 206: { description: 'partial' }, ...errors(404, 416) }, { parameters: [p('sha256')] }) },
    '/api/v1/releases': {
      get: op('releases', 'List releases visible to the token', { ...ok(200, 'ReleasePage'), ...errors(400) }, { parameters: [q('vendorId'), q('classId'), q('includeDeprecated'), ...paging] }),
      post: op('releases', 'Create a release from a signed SUIT envelope', { ...ok(201, 'Release'), ...ok(200, 'Release', 'Identical envelope already recorded'), ...errors(400, 403, 409, 413, 415, 422) }, {
        requestBody: { required: true, content: { 'application/suit-envelope+cose': { schema: { type: 'string', contentMediaType: 'application/suit-envelope+cose' } }, 'application/cbor': { schema: { type: 'string', contentMediaType: 'application/cbor' } } } },
      }),
    },
    '/api/v1/releases/{id}': { get: op('releases', 'A release', { ...ok(200, 'Release'), ...errors(404) }, { parameters: [p('id')] }) },
    '/api/v1/releases/{id}/inspect': { get: op('releases', 'The suit-sign inspect --json view', { ...ok(200, 'ReleaseInspect'), ...errors(404) }, { parameters: [p('id')] }) },
    '/api/v1/releases/{id}/envelope': { get: op('releases', 'The envelope bytes', { 200: { description: 'application/suit-envelope+cose' }, ...errors(404) }, { parameters: [p('id')] }) },
    '/api/v1/releases/{id}/deprecate': { post: op('releases', 'Deprecate (or undeprecate) a release', { ...ok(200, 'Release'), ...errors(400, 403, 404) }, { parameters: [p('id')], requestBody: { required: false, content: json('DeprecateReq') } }) },
    '/api/v1/devices': {
      get: op('devices', 'List devices of the token\'s tenant', { ...ok(200, 'DevicePage'), ...errors(400) }, { parameters: [q('classId'), q('vendorId'), q('tag'), q('group'), ...paging] }),
      post: op('devices', 'Register a device (vendor)', { ...ok(201, 'RegisteredDevice'), ...errors(400, 403, 404, 409) }, { requestBody: body('RegisterDeviceReq') }),
    },
    '/api/v1/devices/claim': { post: op('devices', 'Claim a device with its claim code', { ...ok(200, 'Device'), ...errors(400, 403, 404, 409) }, { requestBody: body('ClaimReq') }) },
    '/api/v1/devices/{id}': { get: op('devices', 'Per-device state', { ...ok(200, 'Device'), ...errors(404) }, { parameters: [p('id')] }) },
    '/api/v1/devices/{id}/release': { post: op('devices', 'Release ownership (transfer); returns a fresh claim code', { ...ok(200, 'ReleasedDevice'), ...errors(403, 404, 409) }, { parameters: [p('id')] }) },
    '/api/v1/devices/{id}/tags': { put: op('devices', 'Replace tags', { ...ok(200, 'Device'), ...errors(400, 403, 404) }, { parameters: [p('id')], requestBody: body('TagsReq') }) },
    '/api/v1/devices/{id}/reports': { get: op('reports', 'Report history of a device', { ...ok(200, 'ReportPage'), ...errors(404) }, { parameters: [p('id'), ...paging] }) },
    '/api/v1/groups': {
      get: op('groups', 'List groups', ok(200, 'GroupList')),
      post: op('groups', 'Create a group', { ...ok(201, 'Group'), ...errors(400, 403, 404, 409) }, { requestBody: body('CreateGroupReq') }),
    },
    '/api/v1/groups/{id}': {
      get: op('groups', 'A group', { ...ok(200, 'Group'), ...errors(404) }, { parameters: [p('id')] }),
      delete: op('groups', 'Delete a group', { ...ok(204, null, 'Deleted'), ...errors(403, 404) }, { parameters: [p('id')] }),
    },
    '/api/v1/groups/{id}/devices/{deviceId}': {
      put: op('groups', 'Add a device', { ...ok(200, 'Group'), ...errors(403, 404) }, { parameters: [p('id'), p('deviceId')] }),
      delete: op('groups', 'Remove a device', { ...ok(204, null, 'Removed'), ...errors(403, 404) }, { parameters: [p('id'), p('deviceId')] }),
    },
    '/api/v1/reports': { get: op('reports', 'Reports of the token\'s tenant, newest first', ok(200, 'ReportPage'), { parameters: paging }) },
    '/api/v1/compliance': { get: op('reports', 'Fleet compliance per class', ok(200, 'Compliance')) },
  },
};
