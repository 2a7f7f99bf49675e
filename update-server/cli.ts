/** Entry point of the `suit-server` bin (bin/suit-server.mjs imports this file). */
import { main } from './cli-program.js';

process.exitCode = await main(process.argv.slice(2));
