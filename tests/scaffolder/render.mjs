// The templating of Backstage's scaffolder, for the SIMULATED scaffolder (tests/src/scaffolder.rs):
// real nunjucks configured as the scaffolder configures it, its default filters, and its rules
// for step inputs and `fetch:template` files. Facts from backstage/backstage:
// plugins/scaffolder-backend/src/scaffolder/tasks/NunjucksWorkflowRunner.ts (input rendering,
// `if`), lib/templating/SecureTemplater.ts and lib/templating/filters (filters),
// plugins/scaffolder-backend/src/scaffolder/actions/builtin/fetch/template.ts (files).
// Reads one JSON request on stdin, writes one JSON answer on stdout.
import nunjucks from 'nunjucks';
import path from 'node:path';

// `${{ }}` for variables, autoescape off; `{% %}` and `{# #}` stay nunjucks' own.
const options = { autoescape: false, tags: { variableStart: '${{', variableEnd: '}}' } };
const env = new nunjucks.Environment([], options);

// parseRepoUrl for GitHub: `github.com?owner=o&repo=r` → { host, owner, repo }; the repo is
// checked before the owner.
env.addFilter('parseRepoUrl', (url) => {
  const parsed = new URL(`https://${url}`);
  const repo = parsed.searchParams.get('repo');
  const owner = parsed.searchParams.get('owner');
  if (!repo) throw new Error(`Invalid repo URL passed to publisher: ${parsed}, missing repo`);
  if (!owner) throw new Error(`Invalid repo URL passed to publisher: ${parsed}, missing owner`);
  return { host: parsed.host, owner, repo };
});
env.addFilter('projectSlug', (url) => {
  const { owner, repo } = env.getFilter('parseRepoUrl')(url);
  return `${owner}/${repo}`;
});
// `[kind:][namespace/]name`; no default kind, namespace `default`, nothing lower-cased.
env.addFilter('parseEntityRef', (ref, context = {}) => {
  let rest = ref;
  let kind = context.defaultKind;
  let namespace = context.defaultNamespace ?? 'default';
  const colon = rest.indexOf(':');
  if (colon >= 0) { kind = rest.slice(0, colon); rest = rest.slice(colon + 1); }
  const slash = rest.indexOf('/');
  if (slash >= 0) { namespace = rest.slice(0, slash); rest = rest.slice(slash + 1); }
  if (!kind) throw new Error(`Entity reference "${ref}" had missing or empty kind (e.g. did not start with "component:" or similar)`);
  return { kind, namespace, name: rest };
});
env.addFilter('pick', (obj, key) => obj?.[key]);

// One `${{ }}` and nothing else keeps its type (rendered through `dump`, parsed back); an
// empty result is no value at all.
function isSingleTemplateString(input) {
  const parsed = nunjucks.parser.parse(input, {}, options);
  return parsed.children.length === 1 && !(parsed.children[0] instanceof nunjucks.nodes.TemplateData);
}
function render(input, context) {
  return JSON.parse(JSON.stringify(input), (_key, value) => {
    if (typeof value !== 'string') return value;
    try {
      if (isSingleTemplateString(value)) {
        const templated = env.renderString(value.replace(/\${{(.+)}}/g, '${{ ( $1 ) | dump }}'), context);
        return templated === '' ? undefined : JSON.parse(templated);
      }
    } catch {
      // as the runner: fall back to rendering the string as a string
    }
    try {
      const templated = env.renderString(value, context);
      return templated === '' ? undefined : templated;
    } catch {
      return value;
    }
  });
}
// helper.ts isTruthy: false, null, undefined, '', 0, NaN and [] are false.
const isTruthy = (v) => (Array.isArray(v) ? v.length > 0 : Boolean(v));

// fetch:template: every path is rendered with { values } (also for copyWithoutTemplating
// matches), contents unless the path matches one of those globs; a path rendered empty, absolute
// or with `//` is skipped.
function files({ files, values, copyWithoutTemplating = [] }) {
  const out = {};
  for (const [file, b64] of Object.entries(files)) {
    const target = env.renderString(file, { values });
    if (target === '' || target.startsWith('/') || target.includes('//')) continue;
    const copy = copyWithoutTemplating.some((g) => path.matchesGlob(file, g.replace(/^\.\//, '')));
    const data = Buffer.from(b64, 'base64');
    out[target] = copy ? b64 : Buffer.from(env.renderString(data.toString('utf8'), { values })).toString('base64');
  }
  return out;
}

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
let answer;
switch (request.op) {
  case 'input': answer = { value: render(request.value, request.context) ?? null }; break;
  case 'if': answer = { value: isTruthy(render(request.value, request.context)) }; break;
  case 'files': answer = { value: files(request) }; break;
  default: throw new Error(`unknown op ${request.op}`);
}
process.stdout.write(JSON.stringify(answer));
