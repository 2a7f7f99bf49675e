/** Worker thread body for DeltaService: encodes one delta and posts the patch back. */
import { parentPort, workerData } from 'node:worker_threads';
import { encodeDelta } from '../../delta/index.js';

const { old, new: nw } = workerData as { old: Uint8Array; new: Uint8Array };
try {
  const patch = encodeDelta(old, nw);
  parentPort!.postMessage({ patch }, [patch.buffer as ArrayBuffer]);
} catch (e) {
  parentPort!.postMessage({ error: (e as Error).message });
}
