// gitlab:PROJECT#VAR: a GitLab CI/CD project variable, written masked, through GitLab's project-level variables API
// (https://docs.gitlab.com/api/project_level_variables/): "Update a variable" (PUT /projects/:id/variables/:key,
// 200 with the variable) and, when GitLab answers 404 for it, "Create a variable" (POST /projects/:id/variables,
// 201). :id is the numeric id or the URL-encoded path (https://docs.gitlab.com/api/rest/#namespaced-paths).
// GitLab publishes no machine-readable description of these operations (see test/fixtures/gitlab-api.SOURCE):
// the test server is held to that reference page instead.
import { UsageError } from '../errors.js';
import { DestinationError } from './errors.js';
import { answerText, apiUrl, callJson, refused, under, type JsonAnswer } from './http.js';
import type { Destination, DestinationDeps } from './types.js';
import { say, displayText } from '../ui/display-text.js';

/**
 * What GitLab can mask (https://docs.gitlab.com/ci/variables/#mask-a-cicd-variable): a single line of at least 8
 * characters from the Base64 alphabet of RFC 4648 (both variants) and @ : . ~. GitLab refuses to save a masked
 * variable whose value breaks these rules (400 "value is invalid"), so keyrot checks before it sends anything.
 */
export const MASKABLE = /^[A-Za-z0-9+/=_\-@:.~]{8,}$/;

/** Variable keys GitLab accepts (same page, "key": letters, digits and _, at most 255). */
const KEY = /^[A-Za-z0-9_]{1,255}$/;

export function gitlabDestination(target: string, written: string, key: string, deps: DestinationDeps): Destination {
  // The path may be given as GitLab's docs write it in URLs (group%2Fsub%2Fproject) or plainly.
  let project = written;
  try {
    project = decodeURIComponent(written);
  } catch {
    // Not percent-encoding: refused below.
  }
  if (!KEY.test(key)) throw new UsageError(say`--to ${displayText(target)}: "${displayText(key)}" is not a GitLab variable key (letters, digits and _, at most 255).`);
  if (!/^(\d+|[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+)$/.test(project)) {
    throw new UsageError(say`--to ${displayText(target)}: "${displayText(project)}" is neither a project id nor a project path (group/sub/project).`);
  }
  const api = apiUrl(target, deps.env.CI_API_V4_URL ? 'CI_API_V4_URL' : 'GITLAB_API_URL', deps.env.CI_API_V4_URL || deps.env.GITLAB_API_URL || 'https://gitlab.com/api/v4');
  const token = deps.env.GITLAB_TOKEN;
  if (!token) {
    throw new UsageError(say`--to ${displayText(target)}: no GitLab token: set GITLAB_TOKEN.`, {
      hint: deps.env.CI_JOB_TOKEN
        ? say`A job's CI_JOB_TOKEN cannot write CI/CD variables; use a project or personal access token with the api scope, from a Maintainer, in a masked variable.`
        : say`A project or personal access token with the api scope, held by a Maintainer of the project.`,
    });
  }
  const base = `/projects/${encodeURIComponent(project)}/variables`;
  const call = (method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<JsonAnswer> =>
    callJson(target, { method, url: under(target, api, path), headers: { 'private-token': token }, body }, deps.dispatcher, deps.signal);

  return {
    target,
    async preflight() {
      // "Get a single variable": 200 when it exists, 404 when it does not (then created) or the project is unseen.
      const answer = await call('GET', `${base}/${encodeURIComponent(key)}`);
      if (answer.status === 200 || (answer.status === 404 && !/project/i.test(answerText(answer, [token])))) return;
      fail(target, answer, [token], 'reading the variable');
    },
    async deliver(secret) {
      if (!MASKABLE.test(secret)) {
        throw new DestinationError(
          target,
          'GitLab cannot mask this key (a masked value is one line of at least 8 characters: letters, digits and + / = _ - @ : . ~), so keyrot did not write it',
          say`Use a dotenv: or --on-new-key destination for this key, or a provider whose keys GitLab can mask.`,
        );
      }
      // protected is not sent: an update leaves it as it was, a new variable gets GitLab's default (false).
      const updated = await call('PUT', `${base}/${encodeURIComponent(key)}`, { value: secret, masked: true });
      if (updated.status === 200) return;
      if (updated.status !== 404 || /project/i.test(answerText(updated, [token, secret]))) fail(target, updated, [token, secret], 'updating the variable');
      const created = await call('POST', base, { key, value: secret, masked: true });
      if (created.status !== 201) fail(target, created, [token, secret], 'creating the variable');
    },
  };
}

/** `secrets`: what no error text may quote (the token; while delivering, the key too). */
function fail(target: string, answer: JsonAnswer, secrets: readonly string[], doing: string): never {
  // A validation failure (400) carries its reasons as an object, {"message": {"value": ["is invalid"]}}.
  const message = (answer.body as { message?: unknown } | null)?.message;
  const said = message && typeof message === 'object' ? { status: answer.status, body: { message: JSON.stringify(message) } } : answer;
  refused(
    target,
    'GitLab',
    doing,
    said,
    {
      401: say`GitLab rejected the token in GITLAB_TOKEN: it is wrong, expired or revoked.`,
      403: say`The token may not change CI/CD variables here: it needs the api scope and the Maintainer role on the project.`,
      404: say`GitLab answers 404 for a project that does not exist and for one the token may not see.`,
    },
    secrets,
  );
}
