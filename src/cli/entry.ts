/** Run the CLI from source: `node --import tsx src/cli/entry.ts info FILE` (bin/glas3d.js runs dist). */
import { main } from './main.js';

process.exitCode = await main(process.argv);
