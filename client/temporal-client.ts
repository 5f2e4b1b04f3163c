import { Client, Connection } from '@temporalio/client';
import type { Duration } from '@temporalio/common';

import { firstLine } from '../errors/first-line.ts';
import { rootCauseMessage } from '../workflows/failure-message.ts';

/** A Temporal client for the stack's frontend; close() releases the connection. */
export async function connectTemporal(
  temporal: { address: string; namespace: string },
  options: { connectTimeout?: Duration } = {},
): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address: temporal.address, connectTimeout: options.connectTimeout });
  return { client: new Client({ connection, namespace: temporal.namespace }), close: () => connection.close() };
}

/** A command that only looks should not wait long for a Temporal that is not there. */
const LOOK_CONNECT_TIMEOUT = '3 seconds';

/** Connects when there is a Temporal to reach; otherwise says why there is none, in one line. */
export async function connectTemporalIfRunning(temporal: {
  address: string;
  namespace: string;
}): Promise<{ client: Client; close(): Promise<void> } | { unavailable: string }> {
  if (!temporal.address)
    return {
      unavailable: 'Temporal is not running (no `ducktier up` on this data directory, no temporal.address configured)',
    };
  try {
    return await connectTemporal(temporal, { connectTimeout: LOOK_CONNECT_TIMEOUT });
  } catch (error) {
    return {
      unavailable: `Temporal is not reachable at ${temporal.address}: ${firstLine(rootCauseMessage(error))}`,
    };
  }
}
