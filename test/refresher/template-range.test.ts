/** `range`, `with` and variables in the template engine, bounded like everything else. */
import t from 'tap';
import { renderTemplate } from '../../src/refresher/template.ts';

const data = { username: 'db_user', password: 'p@ss', json: '{"hosts":["a","b"],"ports":{"x":1,"y":2}}' };

t.test('range, with and variables as Go templates use them', async (t) => {
  const cases: [string, string][] = [
    // The common ESO pattern: every key of the secret data, keys sorted as Go sorts map keys.
    [
      '{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}',
      'json={"hosts":["a","b"],"ports":{"x":1,"y":2}};password=p@ss;username=db_user;',
    ],
    ['{{ $j := .json | fromJson }}{{ range $j.hosts }}[{{ . }}]{{ end }}', '[a][b]'],
    ['{{ range $i, $h := index (.json | fromJson) "hosts" }}{{ $i }}:{{ $h }} {{ end }}', '0:a 1:b '],
    ['{{ range $p := index (.json | fromJson) "ports" }}{{ $p }}{{ end }}', '12'],
    ['{{ range .missing }}x{{ else }}empty{{ end }}', 'empty'],
    ['{{ $u := .username | upper }}{{ $u }}-{{ $u }}', 'DB_USER-DB_USER'],
    ['{{ $n := "a" }}{{ range $k, $v := . }}{{ $n = $k }}{{ end }}{{ $n }}', 'username'],
    ['{{ range $k, $v := . }}{{ if eq $k "password" }}{{ $.username }}{{ end }}{{ end }}', 'db_user'],
    ['{{ with .username }}{{ . }}!{{ else }}none{{ end }}', 'db_user!'],
    ['{{ with .missing }}{{ . }}{{ else }}none{{ end }}', 'none'],
    ['{{ $j := .json | fromJson }}{{ $j.ports.y }}', '2'],
    [
      '{{- range $k, $v := . }}\n{{ $k }}: {{ $v | b64enc }}\n{{- end }}',
      `\njson: ${Buffer.from(data.json).toString('base64')}\npassword: ${Buffer.from('p@ss').toString('base64')}\nusername: ${Buffer.from('db_user').toString('base64')}`,
    ],
  ];
  for (const [tpl, want] of cases) t.equal(renderTemplate(tpl, data), want, tpl);
});

t.test('variables and range stay inside the data', async (t) => {
  const refused: [string, RegExp][] = [
    ['{{ $nope }}', /undefined variable "\$nope"/],
    ['{{ range $k, $v := . }}{{ end }}{{ $k }}', /undefined variable "\$k"/],
    ['{{ $x = 1 }}', /undefined variable/],
    ['{{ range .username }}{{ end }}', /range can't iterate over a string/],
    ['{{ range . }}', /missing "\{\{ end \}\}"/],
    ['{{ range . }}{{ break }}{{ end }}', /"break" is not supported/],
  ];
  for (const [tpl, message] of refused) {
    t.throws(() => renderTemplate(tpl, data), { code: 'ESW_TEMPLATE', message }, tpl);
  }
  for (const tpl of [
    '{{ $.constructor }}',
    '{{ $.__proto__ }}',
    '{{ range $k, $v := $.constructor }}x{{ end }}',
  ]) {
    t.ok(['<no value>', ''].includes(renderTemplate(tpl, data)), `${tpl}: nothing from prototypes`);
  }
});

t.test('range is bounded in steps and output', async (t) => {
  const list = JSON.stringify(Array.from({ length: 50_000 }, (_, i) => i));
  t.throws(
    () =>
      renderTemplate('{{ range ($.l | fromJson) }}{{ range ($.l | fromJson) }}x{{ end }}{{ end }}', {
        l: list,
      }),
    { code: 'ESW_TEMPLATE', message: /too complex/ },
    'nested ranges over big lists stop',
  );
  const big = { v: 'x'.repeat(300 * 1024), l: '[1,2,3,4]' };
  t.throws(() => renderTemplate('{{ range (.l | fromJson) }}{{ $.v }}{{ end }}', big), /larger than/);
  t.equal(
    renderTemplate('{{ range (.l | fromJson) }}{{ $.v }}{{ end }}', { ...big, l: '[1,2,3]' }).length,
    3 * 300 * 1024,
    'within the limit, a range renders in full',
  );
});
