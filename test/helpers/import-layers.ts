import path from 'node:path';

/**
 * ducktier's layers and what each may import: dependencies point one way, client → worker → workflows → activities →
 * storage → config, with errors/ at the bottom for everyone. stack/ (the embedded servers and provisioning) sits beside
 * activities, below the worker; demo/ beside storage, and only the CLI, benchmarks and tests may use it. Workflows may
 * import activities only as types (`import type`), so no activity code reaches the workflow bundle.
 */
export const LAYERS: Record<string, readonly string[]> = {
  errors: [],
  config: ['errors'],
  storage: ['config', 'errors'],
  activities: ['storage', 'config', 'errors'],
  stack: ['storage', 'config', 'errors'],
  workflows: ['activities', 'errors'],
  worker: ['workflows', 'activities', 'stack', 'storage', 'config', 'errors'],
  demo: ['storage', 'config', 'errors'],
  client: ['demo', 'worker', 'workflows', 'activities', 'stack', 'storage', 'config', 'errors'],
};

/** Packages workflow code may import: Temporal's workflow API and its plain data types. */
const WORKFLOW_PACKAGES = ['@temporalio/workflow', '@temporalio/common'];

export interface SourceFile {
  /** Relative to the project root, with forward slashes (`storage/postgres/pg-pool.ts`). */
  path: string;
  text: string;
}

export interface ImportStatement {
  specifier: string;
  typeOnly: boolean;
}

/** Every static import and re-export of a module, and dynamic imports of literal specifiers. */
export function importsOf(text: string): ImportStatement[] {
  const found: ImportStatement[] = [];
  for (const match of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?[^;'"]*?from\s+'([^']+)'/gm)) {
    found.push({ specifier: match[2]!, typeOnly: match[1] !== undefined });
  }
  for (const match of text.matchAll(/^\s*import\s+'([^']+)'/gm)) found.push({ specifier: match[1]!, typeOnly: false });
  for (const match of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g))
    found.push({ specifier: match[1]!, typeOnly: false });
  return found;
}

/** The layer a project file belongs to (its top-level folder), or undefined outside the layered code. */
export function layerOf(file: string): string | undefined {
  const top = file.split('/')[0]!;
  return top in LAYERS ? top : undefined;
}

/** One line per import that crosses the layers the wrong way. */
export function layerViolations(files: SourceFile[]): string[] {
  const violations: string[] = [];
  for (const file of files) {
    const from = layerOf(file.path);
    if (!from) continue;
    for (const { specifier, typeOnly } of importsOf(file.text)) {
      if (!specifier.startsWith('.')) {
        if (from === 'workflows' && !WORKFLOW_PACKAGES.includes(specifier))
          violations.push(`${file.path}: workflow code imports the package '${specifier}'`);
        continue;
      }
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file.path), specifier));
      const to = layerOf(target);
      if (to === from) continue;
      if (!to || !LAYERS[from]!.includes(to)) {
        violations.push(`${file.path}: ${from}/ may not import ${target}`);
      } else if (from === 'workflows' && to === 'activities' && !typeOnly) {
        violations.push(`${file.path}: workflow code imports ${target} as a value; use \`import type\``);
      }
    }
  }
  return violations;
}
