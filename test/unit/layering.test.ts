import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, test } from 'vitest';

import { importsOf, LAYERS, layerViolations, type SourceFile } from '../helpers/import-layers.ts';

const root = path.resolve(import.meta.dirname, '../..');

function projectSources(): SourceFile[] {
  return Object.keys(LAYERS).flatMap((layer) =>
    readdirSync(path.join(root, layer), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => {
        const relative = `${layer}/${file.split(path.sep).join('/')}`;
        return { path: relative, text: readFileSync(path.join(root, relative), 'utf8') };
      }),
  );
}

describe('layers', () => {
  test('no import in the project crosses a layer the wrong way', () => {
    const sources = projectSources();
    expect(sources.length).toBeGreaterThan(50);
    expect(layerViolations(sources)).toEqual([]);
  });

  test('the check catches each kind of wrong import', () => {
    const files: SourceFile[] = [
      { path: 'config/config.ts', text: "import { DEMO_POLICY } from '../demo/demo-policy.ts';" },
      { path: 'storage/postgres/pg-pool.ts', text: "import type { Worker } from '../../worker/worker.ts';" },
      { path: 'activities/transfer.ts', text: "const keepAlive = await import('../worker/keep-alive.ts');" },
      {
        path: 'workflows/migrate-partition.ts',
        text: "import {\n  createTransferActivities,\n} from '../activities/transfer.ts';\nimport pg from 'pg';",
      },
      // Allowed: downward imports, type-only activity imports in workflows, imports within a layer.
      { path: 'workflows/report.ts', text: "import type { ReportResult } from '../activities/activity-types.ts';" },
      { path: 'client/cli.ts', text: "import { DEMO_DEFAULTS } from '../demo/demo-config.ts';" },
      { path: 'storage/moves/verify-copy.ts', text: "import { getMove } from '../postgres/pg-move-state.ts';" },
    ];
    expect(layerViolations(files)).toEqual([
      'config/config.ts: config/ may not import demo/demo-policy.ts',
      'storage/postgres/pg-pool.ts: storage/ may not import worker/worker.ts',
      'activities/transfer.ts: activities/ may not import worker/keep-alive.ts',
      'workflows/migrate-partition.ts: workflow code imports activities/transfer.ts as a value; use `import type`',
      "workflows/migrate-partition.ts: workflow code imports the package 'pg'",
    ]);
  });

  test('imports are read from every form: multi-line, type-only, re-exports, side effects, dynamic', () => {
    const text = [
      "import {\n  a,\n  b,\n} from './a.ts';",
      "import type { C } from './c.ts';",
      "export { d } from './d.ts';",
      "import './e.ts';",
      "const f = await import('./f.ts');",
    ].join('\n');
    expect(importsOf(text)).toEqual([
      { specifier: './a.ts', typeOnly: false },
      { specifier: './c.ts', typeOnly: true },
      { specifier: './d.ts', typeOnly: false },
      { specifier: './e.ts', typeOnly: false },
      { specifier: './f.ts', typeOnly: false },
    ]);
  });
});
