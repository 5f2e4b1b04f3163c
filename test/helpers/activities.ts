import type { PartitionLocks } from '../../storage/postgres/pg-partition-locks.ts';
import { createActivities } from '../../worker/worker.ts';
import type { TestDeploymentWithWorkers } from './deployment.ts';

/** The deployment's real activities, to run one step at a time with MockActivityEnvironment, holding `locks`. */
export function activitiesOf(env: TestDeploymentWithWorkers, locks: PartitionLocks) {
  const { mainActivities, coldActivities } = createActivities({
    config: env.config,
    pgPool: env.pgPool,
    cold: { coldStore: env.workers.coldStore, locks, holderQueue: 'test-holder' },
  });
  return { mainActivities, coldActivities: coldActivities! };
}
