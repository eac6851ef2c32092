/**
 * The generators whose output is random by nature — keys, certificates, bcrypt hashes, PFX
 * files — checked against Go instead of byte for byte: what this engine generates, Go parses,
 * verifies and describes (oracle-only functions in test/oracles/template/verify.go), and the
 * description must equal the one of what Go's sprig generates from the same template; what Go
 * generates, this engine reads back with the same results Go gets.
 */
import bcryptjs from 'bcryptjs';
import t from 'tap';
import { renderTemplate } from '../../src/template/index.ts';
import { loadOracle } from '../oracles/oracle.ts';

type Result = { output?: string; error?: string };
const oracle = loadOracle('template');
const NOW = new Date().toISOString();

function ours(template: string, data: Record<string, string> = {}): string {
  return renderTemplate(template, data, 'template', { env: { now: () => new Date(NOW) } });
}

function go(cases: { template: string; data?: Record<string, string> }[]): Result[] {
  return oracle.run!(cases.map((c) => ({ template: c.template, data: c.data ?? {}, now: NOW }))) as Result[];
}

function goOk(template: string, data: Record<string, string> = {}): string {
  const [r] = go([{ template, data }]);
  if (r?.output === undefined) throw new Error(`Go failed on ${template}: ${r?.error}`);
  return r.output;
}

// Each generator, and how Go describes its result (a certificate, then its key).
const GENERATORS = [
  '{{ $c := genCA "my-ca" 365 }}',
  '{{ $c := genSelfSignedCert "leaf.example" (list "10.0.0.1" "::1" "::ffff:1.2.3.4") (list "a.example" "b.example") 30 }}',
  '{{ $c := genSelfSignedCert "" nil (list "only-san.example") 1 }}',
  '{{ $ca := genCA "issuer" 10 }}{{ $c := genSignedCert "signed.example" (list "192.168.1.1") (list "s.example") 7 $ca }}',
  '{{ $c := genCAWithKey "ec-ca" 30 (genPrivateKey "ecdsa") }}',
  '{{ $c := genSelfSignedCertWithKey "ed" nil nil 3 (genPrivateKey "ed25519") }}',
  '{{ $ca := genCAWithKey "ec-issuer" 30 (genPrivateKey "ecdsa") }}{{ $c := genSignedCertWithKey "leaf" nil (list "l.example") 5 $ca (genPrivateKey "ed25519") }}',
];

t.test(
  'certificates: Go reads what this engine generates as it reads its own',
  { skip: oracle.skip ?? false },
  async (t) => {
    const describe = '{{ oracleCertInfo .cert }}|{{ oracleKeyInfo .key }}|{{ oracleKeyMatches .key .cert }}';
    for (const gen of GENERATORS) {
      const mine = ours(`${gen}{{ $c.Cert }}\u0000{{ $c.Key }}`).split('\u0000');
      const theirs = goOk(`${gen}{{ $c.Cert }}\u0000{{ $c.Key }}`).split('\u0000');
      const [a, b] = go([
        { template: describe, data: { cert: mine[0] ?? '', key: mine[1] ?? '' } },
        { template: describe, data: { cert: theirs[0] ?? '', key: theirs[1] ?? '' } },
      ]);
      t.ok(a?.output, `${gen}: Go parses ours (${a?.error ?? 'ok'})`);
      t.equal(a?.output, b?.output, `${gen}: described as Go's own`);
    }
    // Issued by a CA: the signature and the authority key ID check against the issuer.
    const chain = ours(
      '{{ $ca := genCA "issuer" 10 }}{{ $c := genSignedCert "signed" nil nil 7 $ca }}{{ $c.Cert }}\u0000{{ $ca.Cert }}',
    ).split('\u0000');
    t.equal(
      goOk('{{ oracleVerify .cert .ca }}', { cert: chain[0] ?? '', ca: chain[1] ?? '' }),
      'ok',
      'signed by its CA',
    );
    t.equal(goOk('{{ oracleVerify .ca .ca }}', { ca: chain[1] ?? '' }), 'ok', 'a CA signs itself');
    // A CA that Go generated signs a certificate here, and Go verifies it.
    const goCa = goOk('{{ $ca := genCA "go-ca" 10 }}{{ $ca.Cert }}\u0000{{ $ca.Key }}').split('\u0000');
    const signed = ours(
      '{{ $c := genSignedCert "by-go" nil nil 7 (buildCustomCert (b64enc .cert) (b64enc .key)) }}{{ $c.Cert }}',
      { cert: goCa[0] ?? '', key: goCa[1] ?? '' },
    );
    t.equal(
      goOk('{{ oracleVerify .cert .ca }}', { cert: signed, ca: goCa[0] ?? '' }),
      'ok',
      "signed with Go's CA",
    );
  },
);

t.test('private keys: the PEM types and keys Go writes', { skip: oracle.skip ?? false }, async (t) => {
  for (const type of ['ecdsa', 'ed25519', 'dsa', 'rsa']) {
    const mine = ours(`{{ genPrivateKey "${type}" }}`);
    const theirs = goOk(`{{ genPrivateKey "${type}" }}`);
    const [a, b] = go([
      { template: '{{ oracleKeyInfo .key }}', data: { key: mine } },
      { template: '{{ oracleKeyInfo .key }}', data: { key: theirs } },
    ]);
    t.equal(a?.output, b?.output, `${type}: ${a?.output ?? a?.error}`);
    // And Go's key is one this engine reads (sprig's parsePrivateKeyPEM), for the certificate kinds.
    if (type !== 'dsa') {
      const cert = ours('{{ (genSelfSignedCertWithKey "k" nil nil 1 .key).Cert }}', { key: theirs });
      t.equal(
        goOk('{{ oracleKeyMatches .key .cert }}', { key: theirs, cert }),
        'true',
        `${type}: Go's key certifies here`,
      );
    }
  }
  t.equal(ours('{{ genPrivateKey "x" }}'), goOk('{{ genPrivateKey "x" }}'), 'an unknown type is text');
});

t.test('bcrypt and htpasswd: each side verifies the other', { skip: oracle.skip ?? false }, async (t) => {
  const pw = 'p@ss wörd';
  const mine = ours('{{ bcrypt .pw }}', { pw });
  t.match(mine, /^\$2a\$10\$[./A-Za-z0-9]{53}$/, "Go's format and cost");
  t.equal(goOk('{{ oracleBcrypt .h .pw }}', { h: mine, pw }), 'true', 'Go verifies ours');
  t.equal(goOk('{{ oracleBcrypt .h "other" }}', { h: mine }), 'false', 'and not another password');
  const theirs = goOk('{{ bcrypt .pw }}', { pw });
  t.ok(bcryptjs.compareSync(pw, theirs), "Go's verifies here");
  const line = ours('{{ htpasswd "user" .pw "bcrypt" }}', { pw });
  t.equal(goOk('{{ oracleBcrypt (trimPrefix "user:" .l) .pw }}', { l: line, pw }), 'true', 'htpasswd bcrypt');
  t.equal(
    ours('{{ htpasswd "u" "p" "sha" }} {{ htpasswd "a:b" "p" "sha" }}'),
    goOk('{{ htpasswd "u" "p" "sha" }} {{ htpasswd "a:b" "p" "sha" }}'),
  );
});

t.test(
  'PKCS#12: Go decodes what this engine encodes, and the reverse',
  { skip: oracle.skip ?? false },
  async (t) => {
    const parts = ours(
      '{{ $ca := genCA "p12-ca" 10 }}{{ $c := genSignedCert "p12-leaf" nil (list "p.example") 5 $ca }}{{ $c.Cert }}\u0000{{ $c.Key }}\u0000{{ $ca.Cert }}',
    ).split('\u0000');
    const [cert, key, ca] = parts as [string, string, string];
    const ecKey = ours('{{ genPrivateKey "ecdsa" }}');
    const ecCert = ours('{{ (genSelfSignedCertWithKey "ec-leaf" nil nil 5 .k).Cert }}', { k: ecKey });
    const encoders: [string, Record<string, string>, string][] = [
      ['{{ pemToPkcs12 .cert .key }}', { cert, key }, ''],
      ['{{ pemToPkcs12Pass .cert .key "s3cret" }}', { cert, key }, 's3cret'],
      ['{{ fullPemToPkcs12 (print .cert .ca) .key }}', { cert, key, ca }, ''],
      ['{{ fullPemToPkcs12Pass (print .cert .ca) .key "pässwört" }}', { cert, key, ca }, 'pässwört'],
      ['{{ pemToPkcs12Pass .cert .key "x" }}', { cert: ecCert, key: ecKey }, 'x'],
    ];
    for (const [tpl, data, pass] of encoders) {
      const mine = ours(tpl, data);
      const theirs = goOk(tpl, data);
      const [a, b] = go([
        { template: '{{ oraclePkcs12 .p .pass }}', data: { p: mine, pass } },
        { template: '{{ oraclePkcs12 .p .pass }}', data: { p: theirs, pass } },
      ]);
      t.ok(a?.output, `${tpl}: Go decodes ours (${a?.error ?? 'ok'})`);
      t.equal(a?.output, b?.output, `${tpl}: the same contents as Go's`);
      // Go's legacy encoding (3DES keys, RC2-40 certificates, SHA-1 MAC) decodes here as in Go.
      const read = `{{ .p | b64dec | pkcs12keyPass .pass }}{{ .p | b64dec | pkcs12certPass .pass }}`;
      t.equal(
        ours(read, { p: theirs, pass }),
        goOk(read, { p: theirs, pass }),
        `${tpl}: Go's PFX decodes here as in Go`,
      );
      t.equal(
        ours(read, { p: mine, pass }),
        goOk(read, { p: mine, pass }),
        `${tpl}: ours decodes the same in both`,
      );
    }
    for (const tpl of [
      '{{ pemTruststoreToPKCS12 (print .ca .cert) }}',
      '{{ pemTruststoreToPKCS12Pass .ca "pw" }}',
    ]) {
      const pass = tpl.includes('"pw"') ? 'pw' : '';
      const mine = ours(tpl, { cert, ca });
      const theirs = goOk(tpl, { cert, ca });
      const [a, b] = go([
        { template: '{{ oraclePkcs12Trust .p .pass }}', data: { p: mine, pass } },
        { template: '{{ oraclePkcs12Trust .p .pass }}', data: { p: theirs, pass } },
      ]);
      t.ok(a?.output, `${tpl}: Go reads our trust store (${a?.error ?? 'ok'})`);
      t.equal(a?.output, b?.output, `${tpl}: the same certificates as Go's`);
    }
    // Wrong password, not a PFX: both fail.
    const p = ours('{{ pemToPkcs12Pass .cert .key "right" }}', { cert, key });
    for (const tpl of [
      '{{ .p | b64dec | pkcs12keyPass "wrong" }}',
      '{{ pkcs12key "not a pfx" }}',
      '{{ pkcs12cert "" }}',
    ]) {
      t.throws(() => ours(tpl, { p }), { code: 'ESW_TEMPLATE' }, `${tpl}: fails here`);
      t.ok(go([{ template: tpl, data: { p } }])[0]?.error, `${tpl}: fails in Go`);
    }
  },
);
