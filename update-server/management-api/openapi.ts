import type { OpenApiFragment } from '../context.js';

export const managementOpenApi: OpenApiFragment = { paths: {}, schemas: {}, tags: [] };
