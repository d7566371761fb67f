// --to TARGET: which destination a target names. Everything about a target that can be wrong is refused here,
// before any key is made.
import { UsageError } from '../errors.js';
import { dotenvDestination } from './dotenv.js';
import { githubDestination } from './github.js';
import { gitlabDestination } from './gitlab.js';
import { k8sDestination } from './k8s.js';
import type { Destination, DestinationDeps } from './types.js';
import { say, displayText } from '../ui/display-text.js';

export type { Destination, DestinationDeps } from './types.js';
export { DestinationError } from './errors.js';

export const TARGET_FORMS = ['dotenv:FILE#VAR', 'github:OWNER/REPO#NAME', 'github:OWNER/REPO@ENVIRONMENT#NAME', 'github-org:ORG#NAME', 'gitlab:PROJECT#VAR', 'k8s:NAMESPACE/SECRET#KEY'] as const;

/** The destination `target` names. UsageError for a target of no known kind or a malformed one. */
export function parseTarget(target: string, deps: DestinationDeps): Destination {
  const colon = target.indexOf(':');
  const kind = colon > 0 ? target.slice(0, colon) : '';
  const rest = target.slice(colon + 1);
  const hash = rest.lastIndexOf('#');
  const where = hash >= 0 ? rest.slice(0, hash) : rest;
  const name = hash >= 0 ? rest.slice(hash + 1) : '';
  const malformed = (form: string) => new UsageError(say`--to ${displayText(target)}: expected ${displayText(form)}.`);
  switch (kind) {
    case 'dotenv':
      if (hash < 0 || !name) throw malformed('dotenv:FILE#VAR');
      return dotenvDestination(target, where, name, deps.signal);
    case 'github': {
      const m = /^([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+)(?:@([^#]+))?$/.exec(where);
      if (hash < 0 || !name || !m) throw malformed('github:OWNER/REPO#NAME or github:OWNER/REPO@ENVIRONMENT#NAME');
      const [, owner, repo, environment] = m as unknown as [string, string, string, string | undefined];
      return githubDestination(target, environment ? { kind: 'environment', owner, repo, environment } : { kind: 'repo', owner, repo }, name, deps);
    }
    case 'github-org':
      if (hash < 0 || !name || !/^[A-Za-z0-9-]+$/.test(where)) throw malformed('github-org:ORG#NAME');
      return githubDestination(target, { kind: 'org', org: where }, name, deps);
    case 'gitlab':
      if (hash < 0 || !name || !where) throw malformed('gitlab:PROJECT#VAR (PROJECT: an id or group/sub/project)');
      return gitlabDestination(target, where, name, deps);
    case 'k8s': {
      const slash = where.indexOf('/');
      if (hash < 0 || !name || slash <= 0 || slash === where.length - 1) throw malformed('k8s:NAMESPACE/SECRET#KEY');
      return k8sDestination(target, where.slice(0, slash), where.slice(slash + 1), name, deps);
    }
    default:
      throw new UsageError(say`--to ${displayText(target)}: unknown destination${kind ? say` "${displayText(kind)}"` : say``}.`, {
        hint: say`Destinations: ${displayText(TARGET_FORMS.join(', '), 2000)}.`,
      });
  }
}

/** --to as commander hands it over: one target, several, or none. */
export function targetList(to: string | readonly string[] | undefined): string[] {
  return to === undefined ? [] : typeof to === 'string' ? [to] : [...to];
}

/** Parses every --to (a repeated target once), so a typo in the last one is refused before anything happens. */
export function parseTargets(targets: readonly string[] | undefined, deps: DestinationDeps): Destination[] {
  return [...new Set(targets ?? [])].map((t) => parseTarget(t, deps));
}
