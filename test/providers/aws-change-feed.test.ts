/**
 * The AWS change feed's reading of events and queue URLs (src/providers/aws/change-feed.ts):
 * which Secrets Manager events count, every spelling of the secret they name, the store prefix,
 * SNS-wrapped events, and queue URLs limited to real SQS hosts.
 */
import t from 'tap';
import { eventKeys, queueRegion } from '../../src/providers/aws/change-feed.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbC123';
const ev = (eventName: string, detail: Record<string, unknown>, source = 'aws.secretsmanager') =>
  JSON.stringify({ source, 'detail-type': 'AWS API Call via CloudTrail', detail: { eventName, ...detail } });

t.test('a change names the secret by every spelling a dependent may use', async (t) => {
  t.same(eventKeys(ev('PutSecretValue', { requestParameters: { secretId: ARN } }), '').keys.sort(), [
    ARN,
    'prod/db',
    'prod/db-AbC123',
  ]);
  t.same(eventKeys(ev('UpdateSecret', { requestParameters: { secretId: 'prod/db' } }), '').keys, ['prod/db']);
  t.same(eventKeys(ev('RotationSucceeded', { additionalEventData: { SecretId: ARN } }), '').keys.sort(), [
    ARN,
    'prod/db',
    'prod/db-AbC123',
  ]);
  t.same(eventKeys(ev('CreateSecret', { requestParameters: { name: 'new/key' } }), '').keys, ['new/key']);
});

t.test("the store's prefix is taken off names, not ARNs", async (t) => {
  t.same(eventKeys(ev('PutSecretValue', { requestParameters: { secretId: 'prod/db' } }), 'prod/').keys, [
    'db',
  ]);
  t.same(eventKeys(ev('PutSecretValue', { requestParameters: { secretId: 'other/db' } }), 'prod/').keys, []);
  t.same(eventKeys(ev('PutSecretValue', { requestParameters: { secretId: ARN } }), 'prod/').keys.sort(), [
    ARN,
    'db',
    'db-AbC123',
  ]);
});

t.test('reads and other services are ignored; garbage is unreadable', async (t) => {
  // A rule routing reads too must not have each refresh trigger the next.
  t.same(eventKeys(ev('GetSecretValue', { requestParameters: { secretId: 'prod/db' } }), ''), {
    keys: [],
    unreadable: false,
  });
  t.same(eventKeys(ev('PutObject', { requestParameters: { secretId: 'x' } }, 'aws.s3'), ''), {
    keys: [],
    unreadable: false,
  });
  t.same(eventKeys('not json', ''), { keys: [], unreadable: true });
  t.same(eventKeys('[1]', ''), { keys: [], unreadable: true });
  t.same(eventKeys(ev('PutSecretValue', { requestParameters: { secretId: 'x'.repeat(5000) } }), '').keys, []);
});

t.test('through SNS: the notification carries the event', async (t) => {
  const body = JSON.stringify({
    Type: 'Notification',
    Message: ev('PutSecretValue', { requestParameters: { secretId: 'prod/db' } }),
  });
  t.same(eventKeys(body, '').keys, ['prod/db']);
});

t.test('queue URLs: real SQS hosts only', async (t) => {
  t.equal(queueRegion('https://sqs.eu-west-1.amazonaws.com/123456789012/esw-changes'), 'eu-west-1');
  t.equal(queueRegion('https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo'), 'cn-north-1');
  for (const bad of [
    'http://sqs.eu-west-1.amazonaws.com/123456789012/q',
    'https://127.0.0.1/123456789012/q',
    'https://sqs.eu-west-1.amazonaws.com.evil.example/123456789012/q',
    'https://sqs.eu-west-1.amazonaws.com/123456789012/q/../x',
    'https://user@sqs.eu-west-1.amazonaws.com/123456789012/q',
  ]) {
    t.throws(() => queueRegion(bad), /esw\.io\/change-feed.*not an SQS queue URL/, bad);
  }
});
