import { Router } from 'express';
import type { Mount, ServerContext } from '../context.js';

export function managementRouter(_ctx: ServerContext): Router {
  const r = Router();
  return r;
}

export const managementMount: Mount = { path: '/api/v1', router: managementRouter };
