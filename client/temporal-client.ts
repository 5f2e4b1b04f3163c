import { Client, Connection } from '@temporalio/client';

/** A Temporal client for the stack's frontend; close() releases the connection. */
export async function connectTemporal(temporal: { address: string; namespace: string }): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address: temporal.address });
  return { client: new Client({ connection, namespace: temporal.namespace }), close: () => connection.close() };
}
