/**
 * The secrets of the simulated corp. Every other role asks here which app a name or a secret belongs to, so the
 * rules (unique names and secrets, secrets long enough to scan tokens for) are checked once, at construction.
 */
import type { SimulatedApp, SimulatedAppKind } from './types.js';

/** An app with its kind filled in. */
export type NormalisedApp = Readonly<SimulatedApp & { kind: SimulatedAppKind }>;

/** The app a simulator has when its options name none. */
export const DEFAULT_APP: SimulatedApp = Object.freeze({
  name: 'default',
  secret: 'sim-secret-default-0123456789',
  agentId: 1000002,
  kind: 'app',
});

/** The apps of one simulator, by name and by secret. */
export class AppDirectory {
  private readonly byName: ReadonlyMap<string, NormalisedApp>;

  constructor(apps: readonly SimulatedApp[]) {
    this.byName = normaliseApps(apps);
  }

  /** An app by name; throws for an unknown name, listing the known ones. */
  get(name: string): NormalisedApp {
    const app = this.byName.get(name);
    if (!app) {
      throw new Error(`WeComSimulator has no app '${name}'; its apps are: ${[...this.byName.keys()].join(', ')}`);
    }
    return app;
  }

  /** The app whose secret this is, if any. */
  bySecret(secret: string | undefined): NormalisedApp | undefined {
    if (!secret) return undefined;
    for (const app of this.byName.values()) if (app.secret === secret) return app;
    return undefined;
  }

  /** Every app, in the order of the options. */
  all(): NormalisedApp[] {
    return [...this.byName.values()];
  }
}

function normaliseApps(apps: readonly SimulatedApp[]): Map<string, NormalisedApp> {
  if (apps.length === 0) throw new Error('WeComSimulator needs at least one app');
  const byName = new Map<string, NormalisedApp>();
  const secrets = new Set<string>();
  for (const app of apps) {
    if (!app.name) throw new Error('every simulated app needs a name');
    if (byName.has(app.name)) throw new Error(`two simulated apps are named '${app.name}'`);
    // Tokens are checked not to contain any secret; a very short secret would make that impossible.
    if (typeof app.secret !== 'string' || app.secret.length < 4) {
      throw new Error(`simulated app '${app.name}' needs a secret of at least 4 characters`);
    }
    if (secrets.has(app.secret)) throw new Error(`simulated app '${app.name}' shares its secret with another app`);
    secrets.add(app.secret);
    const kind = app.kind ?? 'app';
    if (kind !== 'app' && kind !== 'contacts' && kind !== 'customer-contact') {
      throw new Error(`simulated app '${app.name}' has an unknown kind '${String(kind)}'`);
    }
    byName.set(
      app.name,
      Object.freeze({
        name: app.name,
        secret: app.secret,
        kind,
        ...(app.agentId === undefined ? {} : { agentId: app.agentId }),
      }),
    );
  }
  return byName;
}
