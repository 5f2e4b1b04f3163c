import { firstLine } from '../../errors/first-line.ts';
import { findRunningStack } from '../../stack/stack.ts';
import { rootCauseMessage } from '../../workflows/failure-message.ts';
import type { CommandContext } from '../cli.ts';
import { parseCommandArgs } from '../cli-args.ts';
import { connectTemporalIfRunning } from '../temporal-client.ts';
import { queuesNotPolled } from '../worker-health.ts';

/**
 * `ducktier health`: exit 0 when the process owning the data directory (a `ducktier worker` polling the cold queue, or
 * `ducktier up`) is alive and Temporal sees it polling both task queues; otherwise one line saying what is wrong and
 * exit 1. The worker image's health check.
 */
export async function healthCommand(context: CommandContext): Promise<number> {
  const { values } = parseCommandArgs('health', context.args, {});
  const config = context.config(values);
  const problem = await findProblem();
  if (values.json) context.print(JSON.stringify({ healthy: problem === undefined, problem: problem ?? null }));
  else context.print(problem === undefined ? 'healthy' : `unhealthy: ${problem}`);
  return problem === undefined ? 0 : 1;

  async function findProblem(): Promise<string | undefined> {
    const running = findRunningStack(config);
    if (!running) return `no ducktier worker or up is running on ${config.dataDir}`;
    const connection = await connectTemporalIfRunning(running.temporal);
    if ('unavailable' in connection) return connection.unavailable;
    try {
      const missing = await queuesNotPolled(connection.client, config, running.ownerPid);
      if (missing.length > 0)
        return `Temporal at ${running.temporal.address} sees no recent poll by pid ${running.ownerPid} on ${missing.join(', ')}`;
      return undefined;
    } catch (error) {
      return `cannot ask Temporal at ${running.temporal.address} about the task queues: ${firstLine(rootCauseMessage(error))}`;
    } finally {
      await connection.close();
    }
  }
}
