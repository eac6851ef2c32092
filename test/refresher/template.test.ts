import t from 'tap';
import { renderTemplate } from '../../src/refresher/template.ts';

const data = { username: 'db_user', password: 'p@ss', 'with-dash': 'd', json: '{"a":{"b":[1,2]}}' };

t.test('Go template subset as ExternalSecret templates use it', async (t) => {
  const cases: [string, string][] = [
    ['{{ .username }}', 'db_user'],
    ['postgres://{{ .username }}:{{ .password }}@db:5432/app', 'postgres://db_user:p@ss@db:5432/app'],
    ['{{ .password | b64enc }}', Buffer.from('p@ss').toString('base64')],
    ['{{ .password | b64enc | b64dec }}', 'p@ss'],
    ['{{ index . "with-dash" }}', 'd'],
    ['{{ .username | upper | quote }}', '"DB_USER"'],
    ['{{ index (.json | fromJson) "a" "b" }}', '[1,2]'],
    ['{{ .missing | default "fallback" }}', 'fallback'],
    ['{{ printf "%s=%s" "user" .username }}', 'user=db_user'],
    ['{{ if .username }}yes{{ else }}no{{ end }}', 'yes'],
    ['{{ if .missing }}yes{{ else }}no{{ end }}', 'no'],
    ['{{ if eq .username "db_user" }}match{{ end }}', 'match'],
    ['a  {{- .username -}}  b', 'adb_userb'],
    ['{{/* a comment */}}x', 'x'],
    ['{{ replace "_" "-" .username }}', 'db-user'],
    ['{{ .username | trimPrefix "db_" }}', 'user'],
    ['{{ "k: v" | fromYaml | toJson }}', '{"k":"v"}'],
    ['{{ .username | nindent 2 }}', '\n  db_user'],
  ];
  for (const [tpl, want] of cases) t.equal(renderTemplate(tpl, data), want, tpl);
});

t.test('hostile templates cannot reach code, the environment or prototypes', async (t) => {
  process.env.ESW_TEMPLATE_CANARY = 'CANARY-env';
  const safe = [
    '{{ .constructor }}',
    '{{ .__proto__ }}',
    '{{ .toString }}',
    '{{ .username.constructor.constructor }}',
    '{{ index . "__proto__" }}',
    '{{ index . "constructor" }}',
  ];
  for (const tpl of safe) {
    const out = renderTemplate(tpl, data);
    t.equal(out, '<no value>', `${tpl} resolves to nothing`);
  }
  const refused: [string, RegExp][] = [
    ['{{ env "HOME" }}', /function "env" is not supported/],
    ['{{ readFile "/etc/passwd" }}', /not supported/],
    ['{{ process.env }}', /unexpected|not supported/],
    [
      '{{ .constructor.constructor("return process")() }}',
      /unexpected|not supported|arguments|empty command/,
    ],
    ['{{ block "x" . }}{{ end }}', /"block" is not supported/],
    ['{{ define "x" }}{{ end }}', /not supported/],
    ['{{ .username', /unclosed action/],
    ['{{ if .x }}no end', /missing/],
    ['{{ "unterminated }}', /unterminated string/],
  ];
  for (const [tpl, message] of refused) {
    t.throws(() => renderTemplate(tpl, data), { code: 'ESW_TEMPLATE', message }, tpl);
  }
  const rendered = ['{{ .ESW_TEMPLATE_CANARY }}', '{{ index . "ESW_TEMPLATE_CANARY" }}'].map((x) =>
    renderTemplate(x, data),
  );
  t.notOk(
    rendered.some((r) => r.includes('CANARY-env')),
    'the environment is not the data',
  );
});

t.test('output and work are bounded', async (t) => {
  const big = { v: 'x'.repeat(600 * 1024) };
  t.throws(() => renderTemplate('{{ .v }}{{ .v }}', big), /larger than/);
  const many = '{{ .a }}'.repeat(200_001);
  t.throws(() => renderTemplate(many, {}), /too complex/);
});

t.test('errors never carry values', async (t) => {
  const secret = { password: 'CANARY-tpl-secret' };
  try {
    renderTemplate('{{ .password | fromJson }}', secret, 'spec.target.template.data.x');
    t.fail('should throw');
  } catch (err: unknown) {
    t.match((err as Error).message, /spec\.target\.template\.data\.x: fromJson/);
    t.notMatch((err as Error).message, /CANARY/);
  }
});
