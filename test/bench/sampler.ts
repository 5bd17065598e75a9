/**
 * A poor man's profiler for `--profile`: polls pg_stat_activity every
 * `intervalMs` for the sessions of the databases under test and adds up, per
 * tool phase, how many backend-seconds each statement (normalised: tenant
 * numbers and literals folded) was seen active or waiting, which sessions sat
 * "idle in transaction" (the server waiting for the client), and how much of
 * the phase had no active backend at all (time spent in Node or on round trips).
 */
import pg from 'pg';

export interface ProfileEntry {
  what: string;
  seconds: number;
}

export interface PhaseProfile {
  seconds: number;
  /** Wall seconds in which no session of these databases was active. */
  noActiveBackendSeconds: number;
  top: ProfileEntry[];
}

export type Profile = Record<string, PhaseProfile>;

export function normalizeQuery(q: string): string {
  return q
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/"[^"]*?\d{3,}[^"]*"/g, '"<schema>"')
    .replace(/'(?:[^']|'')*'/g, "'…'")
    .replace(/\b\d+\b/g, 'N')
    .replace(/(\$N(, )?){4,}/g, '$N, …')
    .trim()
    .slice(0, 220);
}

export class ActivitySampler {
  phase = 'start';
  private client?: pg.Client;
  private timer?: NodeJS.Timeout;
  private running = false;
  private last = 0;
  private readonly data = new Map<string, { seconds: number; idle: number; items: Map<string, number> }>();

  constructor(
    private readonly adminUrl: string,
    private readonly databases: string[],
    private readonly intervalMs = 100,
  ) {}

  async start(): Promise<void> {
    this.client = new pg.Client({ connectionString: this.adminUrl, application_name: 'oasys-bench-sampler' });
    this.client.on('error', () => undefined);
    await this.client.connect();
    this.running = true;
    this.last = performance.now();
    const tick = async () => {
      if (!this.running) return;
      try {
        await this.sample();
      } catch {
        /* the database may be going away */
      }
      if (this.running) this.timer = setTimeout(tick, this.intervalMs);
    };
    this.timer = setTimeout(tick, this.intervalMs);
  }

  private async sample(): Promise<void> {
    const r = await this.client!.query<{ state: string; wait: string | null; query: string; backend_type: string }>(
      `SELECT state, CASE WHEN wait_event IS NULL THEN NULL ELSE wait_event_type || ':' || wait_event END AS wait, query, backend_type
         FROM pg_stat_activity
        WHERE datname = ANY ($1) AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')`,
      [this.databases],
    );
    const now = performance.now();
    const dt = (now - this.last) / 1000;
    this.last = now;
    let p = this.data.get(this.phase);
    if (!p) this.data.set(this.phase, (p = { seconds: 0, idle: 0, items: new Map() }));
    p.seconds += dt;
    let active = 0;
    for (const row of r.rows) {
      if (row.backend_type !== 'client backend') continue;
      let key: string;
      if (row.state === 'active') {
        active++;
        key = `${row.wait ? `[wait ${row.wait}] ` : ''}${normalizeQuery(row.query)}`;
      } else {
        key = `[idle in transaction, last: ${normalizeQuery(row.query).slice(0, 120)}]`;
      }
      p.items.set(key, (p.items.get(key) ?? 0) + dt);
    }
    if (active === 0) p.idle += dt;
  }

  async stop(topN = 8): Promise<Profile> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
    const out: Profile = {};
    for (const [phase, p] of this.data) {
      out[phase] = {
        seconds: round(p.seconds),
        noActiveBackendSeconds: round(p.idle),
        top: [...p.items.entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, topN)
          .map(([what, seconds]) => ({ what, seconds: round(seconds) })),
      };
    }
    return out;
  }
}

const round = (x: number) => Math.round(x * 100) / 100;
