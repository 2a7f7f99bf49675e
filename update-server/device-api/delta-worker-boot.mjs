// Worker thread entry: registers tsx's loader in this thread, then runs the TypeScript worker body.
// (A worker does not reliably inherit the parent's loader hooks, e.g. under a test runner.)
import { register } from 'tsx/esm/api';

register();
await import('./delta-worker.ts');
