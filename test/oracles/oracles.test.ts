import t from 'tap';
import { loadOracle } from './oracle.ts';

// The oracles answer as Go documents: these are examples from the Go and gjson documentation.
const regexp = loadOracle('regexp');
t.test('regexp oracle runs Go regexp', { skip: regexp.skip ?? false }, async (t) => {
  const [ok, bad] = regexp.run!([
    { pattern: 'a(x*)b', inputs: ['-ab-axxb-'], replace: '${1}W' },
    { pattern: 'a(b', inputs: ['x'] },
  ]) as [
    { inputs: { match: boolean; submatches: (string | null)[][]; replaced: string }[] },
    { error: string },
  ];
  t.same(ok.inputs[0], {
    match: true,
    submatches: [
      ['ab', ''],
      ['axxb', 'xx'],
    ],
    replaced: '-W-xxW-',
  });
  t.equal(bad.error, 'error parsing regexp: missing closing ): `a(b`');
});

const gjson = loadOracle('gjson');
t.test('gjson oracle runs tidwall/gjson', { skip: gjson.skip ?? false }, async (t) => {
  const doc = '{"name":{"first":"Tom","last":"Anderson"},"children":["Sara","Alex","Jack"]}';
  const [res] = gjson.run!([
    { json: doc, paths: ['name.last', 'child*.2', 'c?ildren.0', 'children.#', 'nope'] },
  ]) as {
    exists: boolean;
    string: string;
  }[][];
  t.same(
    res!.map(({ exists, string }) => ({ exists, string })),
    [
      { exists: true, string: 'Anderson' },
      { exists: true, string: 'Jack' },
      { exists: true, string: 'Sara' },
      { exists: true, string: '3' },
      { exists: false, string: '' },
    ],
  );
  // ESO's lookup tries the property with its dots escaped first: a top-level "a.b" wins.
  const [eso] = gjson.run!([{ json: '{"a.b":"top","a":{"b":"nested"}}', paths: ['a.b'] }]) as {
    string: string;
    eso: { string: string };
  }[][];
  t.same([eso![0]!.string, eso![0]!.eso.string], ['nested', 'top']);
});
