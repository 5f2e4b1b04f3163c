/**
 * A seeded generator of demo events: the same (seed, rows, days, anchor) always yields the same rows, so tests and
 * benchmarks can recompute the truth without asking any database.
 */
export interface DemoEvent {
  id: number;
  eventType: string;
  userId: number;
  timestamp: Date;
  data: Record<string, string | number | boolean>;
}

export interface GeneratorOptions {
  rows: number;
  /** Events fall uniformly in [anchor - days, anchor). */
  days: number;
  anchor: Date;
  seed?: number;
  /** First id; ids run consecutively from here. */
  firstId?: number;
  /** Distinct users drawn from. Default: one per 20 rows (at least 10). */
  users?: number;
  /**
   * `demo` (default): the demo's compact payload, about 90-120 bytes of JSON. `rich`: the same fields plus client
   * details (browser, OS, locale, page load time), 160-200 bytes, like a real clickstream event; the benchmarks use it.
   * The extra fields are drawn after the demo's, so the other columns are the same for the same seed either way.
   */
  payload?: 'demo' | 'rich';
}

const EVENT_TYPES = [
  { type: 'view_product', weight: 40 },
  { type: 'search', weight: 20 },
  { type: 'login', weight: 12 },
  { type: 'add_to_cart', weight: 12 },
  { type: 'logout', weight: 10 },
  { type: 'purchase', weight: 6 },
] as const;
const TOTAL_WEIGHT = EVENT_TYPES.reduce((sum, e) => sum + e.weight, 0);
const DEVICES = ['mobile', 'desktop', 'tablet'];
const COUNTRIES = ['DE', 'US', 'FR', 'JP', 'BR', 'IN', 'GB', 'NL'];
const BROWSERS = ['Chrome 131', 'Safari 18', 'Firefox 133', 'Edge 131', 'Samsung 26'];
const SYSTEMS = ['Android 15', 'iOS 18', 'Windows 11', 'macOS 15', 'Linux'];
const LOCALES = ['de-DE', 'en-US', 'fr-FR', 'ja-JP', 'pt-BR', 'hi-IN', 'en-GB', 'nl-NL'];
const DAY_MS = 86_400_000;

/** mulberry32: small, fast, and good enough to spread demo data. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function* generateEvents(options: GeneratorOptions): Generator<DemoEvent> {
  const random = prng(options.seed ?? 42);
  const span = options.days * DAY_MS;
  const start = options.anchor.getTime() - span;
  const users = options.users ?? Math.max(10, Math.round(options.rows / 20));
  const firstId = options.firstId ?? 1;
  for (let i = 0; i < options.rows; i++) {
    let pick = random() * TOTAL_WEIGHT;
    const eventType = EVENT_TYPES.find((e) => (pick -= e.weight) < 0)?.type ?? 'view_product';
    const userId = 1 + Math.floor(random() * users);
    const timestamp = new Date(start + Math.floor(random() * span));
    const data: DemoEvent['data'] = {
      session: Math.floor(random() * 0xffffffff)
        .toString(16)
        .padStart(8, '0'),
      device: DEVICES[Math.floor(random() * DEVICES.length)]!,
      country: COUNTRIES[Math.floor(random() * COUNTRIES.length)]!,
      path: `/product/${Math.floor(random() * 5000)}`,
      referrer: random() < 0.5 ? 'search' : 'direct',
    };
    if (eventType === 'purchase' || eventType === 'add_to_cart') data.amount = Math.round(random() * 50000) / 100;
    if (eventType === 'search') data.query = `term-${Math.floor(random() * 300)}`;
    if (options.payload === 'rich') Object.assign(data, clientDetails(random));
    yield { id: firstId + i, eventType, userId, timestamp, data };
  }
}

/** What a real clickstream event carries about the client; only the `rich` payload has it. */
function clientDetails(random: () => number): DemoEvent['data'] {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  return {
    browser: pick(BROWSERS),
    os: pick(SYSTEMS),
    locale: pick(LOCALES),
    load_ms: Math.round(50 + random() * random() * 3000),
  };
}

/** One CSV line for COPY ... FROM STDIN (FORMAT csv), in the demo table's column order. */
export function eventToCsv(event: DemoEvent): string {
  const json = JSON.stringify(event.data).replaceAll('"', '""');
  return `${event.id},${event.eventType},${event.userId},${toPgTimestamp(event.timestamp)},"${json}"\n`;
}

/** `timestamp without time zone` text in UTC, millisecond precision. */
export function toPgTimestamp(time: Date): string {
  return time.toISOString().replace('T', ' ').replace('Z', '');
}
