import t from 'tap';
import { formatDuration, parseDuration } from '../../src/api/duration.ts';

t.test('parseDuration accepts what Go time.ParseDuration accepts', async (t) => {
  const ok: [string, number][] = [
    ['0', 0],
    ['-0', 0],
    ['+0', 0],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['2h45m30s', 9_930_000],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['1.s', 1000],
    ['500ms', 500],
    ['10s', 10_000],
    ['1us', 0.001],
    ['1µs', 0.001],
    ['1000000ns', 1],
    ['-1m', -60_000],
    ['+5s', 5000],
    ['0s', 0],
  ];
  for (const [input, ms] of ok) t.equal(parseDuration(input), ms, input);
});

t.test('parseDuration rejects what Go rejects', async (t) => {
  for (const input of [
    '',
    '1',
    '1d',
    '1w',
    'h',
    '1 h',
    ' 1h',
    '1h ',
    '1hh',
    '00',
    '1.5',
    '--1s',
    '1H',
    'one hour',
    '.s',
  ]) {
    t.equal(parseDuration(input), undefined, JSON.stringify(input));
  }
});

t.test('formatDuration prints like Go', async (t) => {
  t.equal(formatDuration(0), '0s');
  t.equal(formatDuration(3_600_000), '1h0m0s');
  t.equal(formatDuration(5_400_000), '1h30m0s');
  t.equal(formatDuration(1500), '1.5s');
  t.equal(formatDuration(-60_000), '-1m0s');
});
