import type { PoolConfig } from 'pg';

/** How to reach the PostgreSQL server holding the hot tier, for node-postgres and for DuckDB's libpq. */
export interface PgTarget {
  /** A libpq connection string (key=value or URI) for DuckDB's ATTACH; empty means libpq's PG* variables. */
  libpq: string;
  /** node-postgres settings; unset fields fall back to the PG* variables, as in libpq. */
  pool: PoolConfig;
  /** For logs and status; never contains the password. */
  description: string;
}

/** A server the user runs: DUCKTIER_PG_URL, or the usual PG* variables. */
export function externalPgTarget(url: string | undefined, env: NodeJS.ProcessEnv = process.env): PgTarget {
  if (url) {
    const parsed = new URL(url);
    return {
      libpq: url,
      pool: { connectionString: url },
      description: `PostgreSQL at ${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`,
    };
  }
  return {
    libpq: '',
    pool: {},
    description: `PostgreSQL from PG* variables (${env.PGHOST ?? 'localhost'}:${env.PGPORT ?? '5432'}/${env.PGDATABASE ?? env.PGUSER ?? ''})`,
  };
}

/**
 * A libpq connection string (URI or key=value) that also sets application_name, unless it sets one already. libpq
 * decodes URIs by percent-escapes only, and takes quoted values with backslash escapes in key=value strings.
 */
export function withApplicationName(libpq: string, applicationName: string): string {
  if (/(^|[\s?&])application_name=/.test(libpq)) return libpq;
  if (/^postgres(ql)?:\/\//.test(libpq))
    return `${libpq}${libpq.includes('?') ? '&' : '?'}application_name=${encodeURIComponent(applicationName)}`;
  const quoted = applicationName.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  return `${libpq} application_name='${quoted}'`.trim();
}
