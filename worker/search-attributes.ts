import type { OperatorService } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import proto from '@temporalio/proto';

import { firstLine } from '../errors/first-line.ts';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes.ts';

// A CommonJS module: its generated namespaces are reachable through the default export only.
const { IndexedValueType } = proto.temporal.api.enums.v1;
type IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;

const INDEXED_TYPES: Partial<Record<SearchAttributeType, IndexedValueType>> = {
  [SearchAttributeType.KEYWORD]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
};

/**
 * Makes sure the namespace has ducktier's search attributes (workflows/search-attributes.ts): a workflow that sets an
 * unknown one fails its workflow task, over and over. Registers the missing ones, one call each (idempotent, as
 * `temporal operator search-attribute create` is); says in one line what to run where the server refuses (Temporal
 * Cloud, or no operator permission). Returns the names it registered.
 */
export async function ensureSearchAttributes(operator: OperatorService, namespace: string): Promise<string[]> {
  const existing = await registered(operator, namespace);
  const added: string[] = [];
  for (const key of Object.values(SEARCH_ATTRIBUTES)) {
    const wanted = INDEXED_TYPES[key.type]!;
    const found = existing.get(key.name);
    if (found === wanted) continue;
    if (found !== undefined)
      throw new Error(
        `search attribute ${key.name} exists in namespace ${namespace} with type ${IndexedValueType[found]}; ducktier needs ${IndexedValueType[wanted]}`,
      );
    try {
      await operator.addSearchAttributes({ namespace, searchAttributes: { [key.name]: wanted } });
    } catch (error) {
      throw new Error(
        `cannot register search attribute ${key.name} in namespace ${namespace} (${firstLine(error)}); ` +
          `register it once: temporal operator search-attribute create --namespace ${namespace} --name ${key.name} --type Keyword`,
      );
    }
    added.push(key.name);
  }
  if (added.length > 0) {
    const after = await registered(operator, namespace);
    const missing = added.filter((name) => !after.has(name));
    if (missing.length > 0)
      throw new Error(`search attributes ${missing.join(', ')} were accepted but are not listed in ${namespace}`);
  }
  return added;
}

async function registered(operator: OperatorService, namespace: string): Promise<Map<string, IndexedValueType>> {
  const { customAttributes } = await operator.listSearchAttributes({ namespace });
  return new Map(Object.entries(customAttributes ?? {}));
}
